package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gomirror/gomirror/obs"
)

// TestLogRequestSameLine checks that logRequest writes the line slog's
// Logger.LogAttrs wrote before it, byte for byte, in both formats, with and
// without a trusted proxy. The time is left out of both lines (the two
// calls do not run at the same instant).
func TestLogRequestSameLine(t *testing.T) {
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	formats := map[string]func(io.Writer) slog.Handler{
		"json": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
		"text": func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
	}
	rec := &obs.Request{Method: "GET", Path: `/example.com/"q"/@v/v1.0.0.info`, Remote: "192.0.2.1",
		Status: 200, Bytes: 51, Duration: 1234567 * time.Nanosecond, Upstream: "http://127.0.0.1:1/", Client: "alice bob"}
	rec.SetCache("hit")
	for name, newHandler := range formats {
		for _, peer := range []string{rec.Remote, "198.51.100.7"} {
			var want, got bytes.Buffer
			attrs := []slog.Attr{
				slog.String("method", rec.Method),
				slog.String("path", rec.Path),
				slog.Int("status", rec.Status),
				slog.Int64("bytes", rec.Bytes),
				slog.Duration("duration", rec.Duration),
				slog.String("cache", rec.Cache()),
				slog.String("upstream", rec.Upstream),
				slog.String("remote", rec.Remote),
				slog.String("client", rec.Client),
			}
			if peer != rec.Remote {
				attrs = append(attrs, slog.String("via", peer))
			}
			slog.New(newHandler(&want)).LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
			logRequest(context.Background(), slog.New(newHandler(&got)), slog.LevelInfo, rec, peer)
			if got.String() != want.String() {
				t.Errorf("%s, peer %s:\n got %s\nwant %s", name, peer, got.String(), want.String())
			}
			// Below the handler's level, nothing.
			got.Reset()
			logRequest(context.Background(), slog.New(newHandler(&got)), slog.LevelDebug, rec, peer)
			if got.Len() != 0 {
				t.Errorf("%s: a debug line at level info: %s", name, got.String())
			}
		}
	}
}
