package auth_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/internal/testutil"
)

const operatorData = "OPERATOR-DATA"

// adminEnv is an Authenticator with a client token "ci" and an admin token
// "prom", and an operator handler guarded by WrapAdmin.
func adminEnv(t *testing.T, mode auth.Mode) (a *auth.Authenticator, op http.Handler, ci, prom string, log *testutil.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.json")
	store := auth.NewTokens(path)
	ci, err := store.Add("ci")
	if err != nil {
		t.Fatal(err)
	}
	if prom, err = store.AddRole("prom", auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	log = &testutil.Buffer{}
	a, err = auth.New(auth.Options{Mode: mode, Private: "corp.example", TokensFile: path, Admin: true,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	op = a.WrapAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Identity", auth.Identity(r.Context()))
		io.WriteString(w, operatorData)
	}))
	return a, op, ci, prom, log
}

func serveOne(h http.Handler, remote, authz string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://mirror.test/metrics", nil)
	r.RemoteAddr = remote
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWrapAdmin(t *testing.T) {
	for _, mode := range []auth.Mode{auth.ModeOff, auth.ModePrivate, auth.ModeAll} {
		t.Run(string(mode), func(t *testing.T) {
			_, op, ci, prom, log := adminEnv(t, mode)
			for _, tt := range []struct {
				name, authz string
				want        int
			}{
				{"anonymous", "", http.StatusUnauthorized},
				{"wrong secret", "Bearer gm_wrong", http.StatusUnauthorized},
				{"client token", "Bearer " + ci, http.StatusForbidden},
				{"client token as basic", basicHeader("ci", ci), http.StatusForbidden},
				{"admin token", "Bearer " + prom, http.StatusOK},
				{"admin token as basic", basicHeader("prom", prom), http.StatusOK},
				{"admin secret under the client's name", basicHeader("ci", prom), http.StatusUnauthorized},
			} {
				w := serveOne(op, "192.0.2.1:1000", tt.authz)
				if w.Code != tt.want {
					t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
				}
				if got := strings.Contains(w.Body.String(), operatorData); got != (tt.want == http.StatusOK) {
					t.Errorf("%s: operator data served: %v", tt.name, got)
				}
				if tt.want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
				}
				if tt.want == http.StatusOK && w.Header().Get("X-Identity") != "prom" {
					t.Errorf("%s: Identity %q, want prom", tt.name, w.Header().Get("X-Identity"))
				}
			}
			if strings.Contains(log.String(), ci) || strings.Contains(log.String(), prom) {
				t.Error("a secret is in the log")
			}
		})
	}
	var nilAuth *auth.Authenticator
	if w := serveOne(nilAuth.WrapAdmin(http.NotFoundHandler()), "192.0.2.1:1000", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("nil Authenticator: %d, want 401", w.Code)
	}
}

func basicHeader(name, secret string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(name, secret)
	return r.Header.Get("Authorization")
}

func TestAdminTokenReadsNoModules(t *testing.T) {
	a, _, ci, prom, _ := adminEnv(t, auth.ModeAll)
	h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, moduleData) }), moduleOf)
	for _, tt := range []struct {
		secret string
		want   int
	}{{ci, http.StatusOK}, {prom, http.StatusForbidden}} {
		r := httptest.NewRequest(http.MethodGet, "http://mirror.test"+privateMod, nil)
		r.Header.Set("Authorization", "Bearer "+tt.secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want || strings.Contains(w.Body.String(), moduleData) != (tt.want == 200) {
			t.Errorf("module with a %v token: %d %q, want %d", tt.secret == prom, w.Code, w.Body.String(), tt.want)
		}
	}
}

// TestFailureLimitUsesTheClientAddress: the limiter counts per client
// address as clientaddr stored it, not per socket peer, and operator
// endpoints and modules share it.
func TestFailureLimitUsesTheClientAddress(t *testing.T) {
	_, op, _, _, _ := adminEnv(t, auth.ModeOff)
	send := func(client string) int {
		r := httptest.NewRequest(http.MethodGet, "http://mirror.test/metrics", nil)
		r.RemoteAddr = "10.0.0.1:4000" // the same proxy for everyone
		r.Header.Set("Authorization", "Bearer gm_wrong")
		r = r.WithContext(clientaddr.With(r.Context(), client))
		w := httptest.NewRecorder()
		op.ServeHTTP(w, r)
		return w.Code
	}
	for i := range auth.DefaultFailureBurst {
		if c := send("203.0.113.1"); c != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, c)
		}
	}
	if c := send("203.0.113.1"); c != http.StatusTooManyRequests {
		t.Errorf("after %d failures: %d, want 429", auth.DefaultFailureBurst, c)
	}
	if c := send("203.0.113.2"); c != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401 (not limited)", c)
	}
}

func TestTokenRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	store := auth.NewTokens(path)
	if _, err := store.Add("ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddRole("prom", auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddRole("x", "root"); err == nil {
		t.Error("AddRole with an unknown role succeeded")
	}
	list, err := store.List()
	if err != nil || len(list) != 2 || list[0].Role != auth.RoleClient || list[1].Role != auth.RoleAdmin {
		t.Fatalf("List = %+v, %v", list, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), `"role"`) != 1 {
		t.Errorf("client tokens should be stored as before, without a role:\n%s", data)
	}
	// An unknown role makes the file invalid: no token gets a power by
	// mistake (an older or newer gomirror's file, a typo).
	os.WriteFile(path, []byte(strings.Replace(string(data), `"admin"`, `"superuser"`, 1)), 0o600)
	if _, err := auth.New(auth.Options{Mode: auth.ModeAll, TokensFile: path}); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Errorf("New with an unknown role in the file: %v", err)
	}
}
