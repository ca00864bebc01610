package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/obs"
)

// TestRequesterOf checks the requester the direct fetch pools count a
// request against, named from the context the edge gives it (edgeContext)
// and from what auth found: the token's name for an authenticated client,
// else the client address's key (an IPv6 client's /64); also from a
// context detached from the request's, as a fill's is.
func TestRequesterOf(t *testing.T) {
	path, client, _ := tokensFile(t)
	authn, err := auth.New(auth.Options{Mode: auth.ModePrivate, Private: "corp.example", TokensFile: path})
	if err != nil {
		t.Fatal(err)
	}
	var got, gotDetached string
	h := authn.Wrap(recordClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = requesterOf(r.Context())
		gotDetached = requesterOf(context.WithoutCancel(r.Context()))
	})), func(r *http.Request) (string, bool) { return "example.com/m", true })
	for _, tc := range []struct {
		addr, token, want string
	}{
		{"192.0.2.1", "", "address 192.0.2.1"},
		{"2001:db8::1", "", "address 2001:db8::/64"},
		{"192.0.2.1", client, "token ci"},
	} {
		r := httptest.NewRequest("GET", "/example.com/m/@v/list", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		r = r.WithContext((&Server{}).edgeContext(r, tc.addr, &obs.Request{}))
		got, gotDetached = "", ""
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want || gotDetached != tc.want {
			t.Errorf("%s, token %q: requester %q (detached %q), want %q", tc.addr, tc.token, got, gotDetached, tc.want)
		}
	}
}
