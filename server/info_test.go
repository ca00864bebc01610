package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestUpstreamInfoIsValidated has the upstream answer .info, queries and
// @latest with oversized, malformed and mismatched JSON: each is refused
// with 502 and a message saying what was wrong, nothing is stored, and no
// prefetch starts. A valid answer with extra fields is stored and served
// re-encoded, without them.
func TestUpstreamInfoIsValidated(t *testing.T) {
	const good = `"Time":"2024-01-02T03:04:05Z"`
	big := `{"Version":"v1.0.0",` + good + `,"Junk":"` + strings.Repeat("x", 15<<20) + `"}`
	for _, tc := range []struct {
		name, body, want string
		canonicalOnly    bool // a mismatch only for the canonical query
	}{
		{"15 MiB of junk fields", big, "more than the 65536 allowed", false},
		{"70 KiB chunked", `{"Version":"v1.0.0",` + good + `,"Junk":"` + strings.Repeat("x", 70<<10) + `"}`, "larger than the 65536 bytes allowed", false},
		{"not JSON", `Version: v1.0.0`, "not a JSON object", false},
		{"a JSON array", `[{"Version":"v1.0.0",` + good + `}]`, "not a JSON object", false},
		{"JSON null", `null`, "not a JSON object", false},
		{"truncated JSON", `{"Version":"v1.0.0",` + good, "malformed info", false},
		{"another version", `{"Version":"v1.1.0",` + good + `}`, `version "v1.1.0", not "v1.0.0"`, true},
		{"no version", `{` + good + `}`, `version ""`, false},
		{"a version of another major", `{"Version":"v2.0.0",` + good + `}`, `version "v2.0.0"`, false},
		{"no time", `{"Version":"v1.0.0"}`, "no Time", false},
		{"null time", `{"Version":"v1.0.0","Time":null}`, "no Time", false},
		{"time not RFC 3339", `{"Version":"v1.0.0","Time":"2024-01-02"}`, "parsing time", false},
		{"Origin not an object", `{"Version":"v1.0.0",` + good + `,"Origin":"x"}`, "malformed info", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := fakeproxy.New(t)
			up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				switch r.URL.Path {
				case "/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/main.info", "/example.com/hello/@latest":
					if strings.HasPrefix(tc.name, "70 KiB") {
						w.(http.Flusher).Flush() // chunked: no Content-Length
					} else {
						w.Header().Set("Content-Length", strconv.Itoa(len(tc.body)))
					}
					io.WriteString(w, tc.body)
					return true
				}
				return false
			})
			s := start(t, up, nil)
			paths := []string{"/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/main.info", "/example.com/hello/@latest"}
			if tc.canonicalOnly {
				paths = paths[:1]
			}
			for _, p := range paths {
				r := get(t, s.URL+p)
				if r.code != http.StatusBadGateway || !strings.Contains(r.body, tc.want) {
					t.Errorf("%s: %d %q; want 502 saying %q", p, r.code, r.body, tc.want)
				}
			}
			if err := s.WaitFills(context.Background()); err != nil {
				t.Fatal(err)
			}
			keys := []string{"example.com/hello/@v/v1.0.0.info", "example.com/hello/@latest"}
			if tc.canonicalOnly {
				keys = keys[:1]
			}
			for _, key := range keys {
				if _, err := s.stored(key); err == nil {
					t.Errorf("%s stored from an invalid answer", key)
				}
			}
			for _, p := range []string{"/example.com/hello/@v/v1.0.0.mod", "/example.com/hello/@v/v1.0.0.zip"} {
				if n := up.Hits(p); n != 0 {
					t.Errorf("%s fetched %d times after an invalid .info", p, n)
				}
			}
		})
	}

	t.Run("extra fields are dropped", func(t *testing.T) {
		up := fakeproxy.New(t)
		const origin = `"Origin":{"VCS":"git","URL":"https://example.com/hello","Hash":"0123456789abcdef0123456789abcdef01234567","Junk":"inner"}`
		up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			switch r.URL.Path {
			case "/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/main.info", "/example.com/hello/@latest":
				io.WriteString(w, `{"Junk":"`+strings.Repeat("j", 1000)+`","Version":"v1.0.0",`+good+`,`+origin+`,"Short":"x"}`)
				return true
			}
			return false
		})
		s := start(t, up, nil)
		const want = `{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z","Origin":{"VCS":"git","URL":"https://example.com/hello","Hash":"0123456789abcdef0123456789abcdef01234567"}}`
		for _, p := range []string{"/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/main.info", "/example.com/hello/@latest"} {
			if r := get(t, s.URL+p); r.code != 200 || r.body != want {
				t.Errorf("%s: %d %s\nwant %s", p, r.code, r.body, want)
			}
		}
		if err := s.WaitFills(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"example.com/hello/@v/v1.0.0.info", "example.com/hello/@latest"} {
			b, err := os.ReadFile(filepath.Join(s.Dir, key))
			if err != nil || string(b) != want || !json.Valid(b) {
				t.Errorf("stored %s: %q, %v; want %s", key, b, err, want)
			}
		}
	})
}
