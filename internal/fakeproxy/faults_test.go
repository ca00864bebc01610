package fakeproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

const zipPath = "/example.com/hello/@v/v1.0.0.zip"

// fetch GETs url with a fresh connection and reads the whole body.
func fetch(ctx context.Context, url string) (code int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func TestFaultsBreakResponsesAsDocumented(t *testing.T) {
	up := fakeproxy.New(t)
	zip := up.Module("example.com/hello", "v1.0.0").Zip
	tests := []struct {
		name  string
		fault fakeproxy.Fault
		check func(t *testing.T, code int, body []byte, err error)
	}{
		{"Status", fakeproxy.Status(503, "down for maintenance"), func(t *testing.T, code int, body []byte, err error) {
			if err != nil || code != 503 || !strings.Contains(string(body), "down for maintenance") {
				t.Errorf("got %d %q %v", code, body, err)
			}
		}},
		{"Reset mid-body", fakeproxy.Reset(100), func(t *testing.T, code int, body []byte, err error) {
			if err == nil || len(body) >= len(zip) {
				t.Errorf("got %d bytes, err %v; want an error before the end", len(body), err)
			}
		}},
		{"Reset before the status line", fakeproxy.Reset(-1), func(t *testing.T, code int, body []byte, err error) {
			if err == nil {
				t.Errorf("got %d, %d bytes, want a connection error", code, len(body))
			}
		}},
		{"Truncate", fakeproxy.Truncate(-1), func(t *testing.T, code int, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != len(zip)-1 {
				t.Errorf("got %d bytes, err %v; want %d bytes and unexpected EOF", len(body), err, len(zip)-1)
			}
		}},
		{"TruncateUnframed", fakeproxy.TruncateUnframed(100), func(t *testing.T, code int, body []byte, err error) {
			if err != nil || code != 200 || !bytes.Equal(body, zip[:100]) {
				t.Errorf("got %d, %d bytes, %v; want a clean 200 of the first 100 bytes", code, len(body), err)
			}
		}},
		{"WrongLength announcing more", fakeproxy.WrongLength(10), func(t *testing.T, code int, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(body, zip) {
				t.Errorf("got %d bytes, err %v; want all bytes then unexpected EOF", len(body), err)
			}
		}},
		{"WrongLength announcing fewer", fakeproxy.WrongLength(-10), func(t *testing.T, code int, body []byte, err error) {
			if err != nil || !bytes.Equal(body, zip[:len(zip)-10]) {
				t.Errorf("got %d bytes, err %v; want the announced prefix without error", len(body), err)
			}
		}},
		{"Flip", fakeproxy.Flip(-5), func(t *testing.T, code int, body []byte, err error) {
			if err != nil || len(body) != len(zip) || bytes.Equal(body, zip) {
				t.Errorf("got %d bytes, err %v; want as many bytes, one changed", len(body), err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.Inject(fakeproxy.Suffix(".zip"), tt.fault)
			defer up.Heal()
			before := up.Injected(zipPath)
			code, body, err := fetch(context.Background(), up.URL+zipPath)
			tt.check(t, code, body, err)
			if up.Injected(zipPath) != before+1 {
				t.Errorf("Injected = %d, want %d", up.Injected(zipPath), before+1)
			}
			// Other requests are not affected.
			if code, body, err := fetch(context.Background(), up.URL+"/example.com/hello/@v/v1.0.0.mod"); err != nil || code != 200 || len(body) == 0 {
				t.Errorf("unmatched request: %d %q %v", code, body, err)
			}
		})
	}
}

func TestHangAndStallEndWithTheClientOrWhenHealed(t *testing.T) {
	up := fakeproxy.New(t)
	zip := up.Module("example.com/hello", "v1.0.0").Zip
	for _, tt := range []struct {
		name  string
		fault fakeproxy.Fault
	}{
		{"Hang", fakeproxy.Hang()},
		{"Stall", fakeproxy.Stall(10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up.Inject(fakeproxy.Suffix(".zip"), tt.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, _, err := fetch(ctx, up.URL+zipPath); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("client with a deadline: %v, want deadline exceeded", err)
			}
			type result struct {
				body []byte
				err  error
			}
			done := make(chan result, 1)
			go func() {
				_, body, err := fetch(context.Background(), up.URL+zipPath)
				done <- result{body, err}
			}()
			// Heal once the request is held by the fault.
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer wcancel()
			if err := up.WaitInjected(wctx, zipPath, 2); err != nil {
				t.Fatal(err)
			}
			up.Heal()
			r := <-done
			if r.err != nil || !bytes.Equal(r.body, zip) {
				t.Errorf("held request after Heal: %d bytes, %v; want the whole zip", len(r.body), r.err)
			}
			up.SetHook(nil)
			up.Heal() // healing twice is harmless
		})
	}
}

func TestInjectFirstFaultsEachPathOnce(t *testing.T) {
	up := fakeproxy.New(t)
	up.InjectFirst(fakeproxy.Suffix(".zip", ".mod"), fakeproxy.Status(500, "first try fails"))
	for _, p := range []string{zipPath, "/example.com/hello/@v/v1.0.0.mod"} {
		if code, _, _ := fetch(context.Background(), up.URL+p); code != 500 {
			t.Errorf("first GET %s: %d, want 500", p, code)
		}
		if code, _, _ := fetch(context.Background(), up.URL+p); code != 200 {
			t.Errorf("second GET %s: %d, want 200", p, code)
		}
		if n := up.Injected(p); n != 1 {
			t.Errorf("Injected(%s) = %d, want 1", p, n)
		}
	}
	if n := up.InjectedTotal(); n != 2 {
		t.Errorf("InjectedTotal = %d, want 2", n)
	}
}

func TestUntamper(t *testing.T) {
	up := fakeproxy.New(t)
	m := up.Module("example.com/hello", "v1.0.0")
	up.Tamper(t, "example.com/hello", "v1.0.0", true, true)
	_, body, _ := fetch(context.Background(), up.URL+"/example.com/hello/@v/v1.0.0.mod")
	if bytes.Equal(body, m.Mod) {
		t.Fatal("Tamper did not change the served go.mod")
	}
	up.Untamper("example.com/hello", "v1.0.0")
	for p, want := range map[string][]byte{"/example.com/hello/@v/v1.0.0.mod": m.Mod, zipPath: m.Zip} {
		if _, body, err := fetch(context.Background(), up.URL+p); err != nil || !bytes.Equal(body, want) {
			t.Errorf("after Untamper, %s: %d bytes, %v; want the recorded bytes", p, len(body), err)
		}
	}
}
