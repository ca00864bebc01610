package testutil

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestDoAndHeaderLog(t *testing.T) {
	log := &HeaderLog{Name: "Authorization"}
	srv := httptest.NewServer(log.Handler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	for _, auth := range []string{"", "Bearer t"} {
		req, err := http.NewRequest("GET", srv.URL+"/p", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		code, hdr, body := Do(t, nil, req)
		if code != http.StatusTeapot || hdr.Get("X-Path") != "/p" || body != "body" {
			t.Errorf("Do = %d, %v, %q", code, hdr, body)
		}
	}
	if got := log.Values(); !slices.Equal(got, []string{"", "Bearer t"}) {
		t.Errorf("Values = %q", got)
	}
}
