package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/iotest"

	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/upstream"
)

// zipFault is how one answer of a zip goes wrong, given the good zip.
type zipFault func(good []byte) (body io.ReadCloser, size int64, err error)

var (
	// truncated: the body ends before the announced size.
	truncated zipFault = func(good []byte) (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(good[:len(good)/2])), int64(len(good)), nil
	}
	// reset: the body breaks off with an error.
	reset zipFault = func(good []byte) (io.ReadCloser, int64, error) {
		r := io.MultiReader(bytes.NewReader(good[:len(good)/2]), iotest.ErrReader(errors.New("connection reset by peer")))
		return io.NopCloser(r), int64(len(good)), nil
	}
	// tooLarge: the announced size is over the limit of a module zip.
	tooLarge zipFault = func(good []byte) (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(good)), modzip.MaxZipFile + 1, nil
	}
	// notAZip: the whole body arrives, but it is no module zip.
	notAZip zipFault = func([]byte) (io.ReadCloser, int64, error) {
		b := []byte("not a zip")
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}
	// refused: the upstream fails before any body.
	refused zipFault = func([]byte) (io.ReadCloser, int64, error) {
		return nil, 0, errors.New("502 bad gateway")
	}
)

// flakyZips is a fakeUpstream whose zip answers go wrong: the n-th
// request for a zip gets faults[n], and the good zip after them.
type flakyZips struct {
	*fakeUpstream
	faults []zipFault

	mu sync.Mutex
	n  int
}

func (f *flakyZips) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, upstream.Answer, error) {
	body, size, a, err := f.fakeUpstream.Zip(ctx, path, version)
	if err != nil {
		return body, size, a, err
	}
	f.mu.Lock()
	n := f.n
	f.n++
	f.mu.Unlock()
	if n >= len(f.faults) {
		return body, size, a, nil
	}
	good, err := io.ReadAll(body)
	if err != nil {
		return nil, 0, a, err
	}
	body, size, err = f.faults[n](good)
	return body, size, a, err
}

// zipVerifier is a Verifier that finds every go.mod good and answers
// every zip's check with zipErr.
type zipVerifier struct{ zipErr error }

var _ Verifier = zipVerifier{}

func (zipVerifier) Exempt(string) bool { return false }
func (zipVerifier) Lookup(context.Context, string, string) ([]string, error) {
	return nil, nil
}
func (zipVerifier) CheckGoMod(context.Context, string, string, string) error { return nil }
func (v zipVerifier) CheckZip(context.Context, string, string, string) error { return v.zipErr }

// TestZipFillRetries: a zip whose transfer breaks off (truncated, reset)
// is asked for again, at most zipTransferRetries more times; a zip that
// arrives whole but is refused (too large, not a module zip, its hash not
// the checksum database's) and an upstream error are not asked for again,
// and nothing of them is stored.
func TestZipFillRetries(t *testing.T) {
	mismatch := errors.New("checksum mismatch")
	tests := []struct {
		name      string
		faults    []zipFault
		verifier  Verifier
		wantCalls int
		fails     bool  // else the zip is served and stored
		wantErrIs error // if set, what the error wraps
	}{
		{name: "truncated once", faults: []zipFault{truncated}, wantCalls: 2},
		{name: "reset then truncated", faults: []zipFault{reset, truncated}, wantCalls: 3},
		{name: "breaks every time", faults: []zipFault{truncated, reset, truncated}, wantCalls: 1 + zipTransferRetries, fails: true},
		{name: "too large", faults: []zipFault{tooLarge}, wantCalls: 1, fails: true},
		{name: "not a module zip", faults: []zipFault{notAZip}, wantCalls: 1, fails: true},
		{name: "upstream error", faults: []zipFault{refused}, wantCalls: 1, fails: true},
		{name: "checksum mismatch", verifier: zipVerifier{mismatch}, wantCalls: 1, fails: true, wantErrIs: mismatch},
		{name: "verified", verifier: zipVerifier{}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flakyZips{fakeUpstream: newFakeUpstream(fakeVersion(t, "v1.0.0")), faults: tt.faults}
			opts := Options{}
			if tt.verifier != nil {
				opts.Verifier = tt.verifier
			}
			m, store := newFakeMirror(t, f, opts)
			ctx := t.Context()
			good := f.answers["zip "+fakePath+"@v1.0.0"].b
			b, _, err := get(ctx, m, "zip", "v1.0.0")
			if n := f.Calls("zip " + fakePath + "@v1.0.0"); n != tt.wantCalls {
				t.Errorf("upstream asked %d times, want %d", n, tt.wantCalls)
			}
			key := fakePath + "/@v/v1.0.0.zip"
			if !tt.fails {
				if err != nil || !bytes.Equal(b, good) {
					t.Fatalf("Zip = %d bytes, %v; want the zip", len(b), err)
				}
				if _, err := store.Stat(ctx, key); err != nil {
					t.Errorf("zip not stored: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Zip = %d bytes, want an error", len(b))
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Errorf("Zip error %v, want %v", err, tt.wantErrIs)
			}
			for _, k := range []string{key, fakePath + "/@v/v1.0.0.ziphash"} {
				if _, err := store.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s after a failed fill: %v, want not stored", k, err)
				}
			}
		})
	}
}
