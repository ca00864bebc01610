package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/proxy"
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

// TestEdgeContext checks the edge's one context node: each value the edge
// adds is found by its package's reader, from the node and from contexts
// derived or detached from it; the parent's values and cancellation come
// through; the client address boxed for the connection is the one given.
func TestEdgeContext(t *testing.T) {
	type parentKey struct{}
	const path = "/example.com/m/@v/v1.0.0.info"
	s := &Server{parser: proxy.NewParser()}
	for _, fromConn := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), parentKey{}, "p"))
		if fromConn {
			info := &connInfo{remote: "192.0.2.1:5000", addr: "192.0.2.1"}
			info.addrKey, info.addrValue = clientaddr.ContextValue(info.addr)
			parent = context.WithValue(parent, connKey{}, info)
		}
		r := httptest.NewRequest("GET", path, nil).WithContext(parent)
		rec := &obs.Request{}
		ctx := s.edgeContext(r, "192.0.2.1", rec)
		for name, c := range map[string]context.Context{"node": ctx, "derived": context.WithValue(ctx, parentKey{}, "q"), "detached": context.WithoutCancel(ctx)} {
			if addr, ok := clientaddr.FromContext(c); !ok || addr != "192.0.2.1" {
				t.Errorf("conn %v, %s: client address %q, %v", fromConn, name, addr, ok)
			}
			if obs.RequestFrom(c) != rec {
				t.Errorf("conn %v, %s: another access-log record", fromConn, name)
			}
			got, err := proxy.RequestOf(r.WithContext(c))
			want, _ := proxy.ParsePath(path)
			if err != nil || *got != *want {
				t.Errorf("conn %v, %s: parse %+v, %v", fromConn, name, got, err)
			}
			if name != "derived" && c.Value(parentKey{}) != "p" {
				t.Errorf("conn %v, %s: the parent's value is %v", fromConn, name, c.Value(parentKey{}))
			}
		}
		if requesterOf(ctx) != "address 192.0.2.1" {
			t.Errorf("conn %v: requester %q", fromConn, requesterOf(ctx))
		}
		cancel()
		select {
		case <-ctx.Done():
		default:
			t.Errorf("conn %v: not cancelled with its parent", fromConn)
		}
	}
}
