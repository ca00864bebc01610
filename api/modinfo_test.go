package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/uphistory"
)

// graphStorage stores the go.mod files of modgraph's fixture graph.
func graphStorage(t *testing.T) storage.Storage {
	t.Helper()
	st := mem.New()
	testutil.StoreGoMods(t, st, "../modgraph/testdata/graph.txtar")
	return st
}

func getCode(t *testing.T, h http.Handler, path string) (int, []byte) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w.Code, w.Body.Bytes()
}

func TestVersionEndpoints(t *testing.T) {
	st := graphStorage(t)
	// No database: the version endpoints read storage only.
	svc := api.NewService(api.Options{Store: func() (api.Store, error) { return nil, api.ErrUnavailable }, Storage: st})
	h := api.NewHandler(svc)

	code, body := getCode(t, h, "/api/v1/modules/example.com/g/root/@v/v1.0.0/graph")
	if code != http.StatusOK {
		t.Fatalf("graph: %d %s", code, body)
	}
	var g modgraph.Graph
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 7 || !g.Pruned || !g.Complete || g.Main.Version != "v1.0.0" {
		t.Errorf("graph: %d nodes, pruned %v, complete %v, main %v", len(g.Nodes), g.Pruned, g.Complete, g.Main)
	}
	typed, err := svc.Graph(context.Background(), module.Version{Path: "example.com/g/root", Version: "v1.0.0"})
	if err != nil || len(typed.Nodes) != len(g.Nodes) {
		t.Errorf("Graph: %v, %v", typed, err)
	}

	code, body = getCode(t, h, "/api/v1/modules/example.com/g/b/@v/v1.0.0")
	var d modinfo.Details
	if code != http.StatusOK || json.Unmarshal(body, &d) != nil {
		t.Fatalf("details: %d %s", code, body)
	}
	if d.Latest != "v1.1.0" || !strings.Contains(d.GoMod, "require example.com/g/f v1.0.0") {
		t.Errorf("details: latest %q, go.mod %q", d.Latest, d.GoMod)
	}

	code, body = getCode(t, h, "/api/v1/modules/example.com/g/b/@latest")
	var mk modinfo.Marks
	if code != http.StatusOK || json.Unmarshal(body, &mk) != nil || mk.Latest != "v1.1.0" {
		t.Errorf("@latest: %d %s", code, body)
	}

	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/v1/modules/example.com/g/root/@v/v1.9.0", http.StatusNotFound},
		{"/api/v1/modules/example.com/g/root/@v/v1.9.0/graph", http.StatusNotFound},
		{"/api/v1/modules/example.com/g/nothing/@latest", http.StatusNotFound},
		{"/api/v1/modules/example.com/g/root/@v/v1.0", http.StatusBadRequest},
		{"/api/v1/modules/example.com/g/root/@v/latest/graph", http.StatusBadRequest},
		{"/api/v1/modules/-bad/@v/v1.0.0", http.StatusBadRequest},
		{"/api/v1/modules/example.com/g/root", http.StatusServiceUnavailable}, // the catalog needs the database
	} {
		if code, body := getCode(t, h, tc.path); code != tc.code {
			t.Errorf("GET %s: %d %s, want %d", tc.path, code, body, tc.code)
		}
	}

	noStorage := api.New(api.Options{Store: func() (api.Store, error) { return nil, api.ErrUnavailable }})
	if code, body := getCode(t, noStorage, "/api/v1/modules/example.com/g/root/@v/v1.0.0"); code != http.StatusServiceUnavailable {
		t.Errorf("without storage: %d %s, want 503", code, body)
	}
}

func TestUpstreamsEndpoint(t *testing.T) {
	hist := uphistory.New(uphistory.Options{})
	hist.Observe("https://u:secret@proxy.example/", time.Second, errors.New(`Get "https://u:secret@proxy.example/m/@v/list": refused`), now)
	h := api.New(api.Options{Store: func() (api.Store, error) { return nil, api.ErrUnavailable }, UpstreamHistory: hist.Upstreams,
		Now: func() time.Time { return now.Add(time.Minute) }})
	code, body := getCode(t, h, "/api/v1/upstreams")
	var got struct {
		Scope     string               `json:"scope"`
		Upstreams []uphistory.Upstream `json:"upstreams"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("%d %s", code, body)
	}
	if got.Scope != "replica" || len(got.Upstreams) != 1 || got.Upstreams[0].Failures != 1 || len(got.Upstreams[0].Points) != 1 ||
		strings.Contains(string(body), "secret") || !strings.Contains(got.Upstreams[0].LastError, "refused") {
		t.Errorf("%s", body)
	}
	none := api.New(api.Options{Store: func() (api.Store, error) { return nil, api.ErrUnavailable }})
	if code, body := getCode(t, none, "/api/v1/upstreams"); code != http.StatusServiceUnavailable {
		t.Errorf("without history: %d %s, want 503", code, body)
	}
}
