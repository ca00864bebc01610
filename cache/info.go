package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/upstream"
)

// Info is the JSON of a .info file (and of @latest), with the fields the
// go command writes: the canonical version, its time, and where it came
// from.
type Info struct {
	Version string
	Time    time.Time
	Origin  *Origin `json:",omitempty"`
}

// Origin says where a version came from (the go command's
// codehost.Origin), which lets the go command reuse earlier answers
// (-reuse).
type Origin struct {
	VCS       string `json:",omitempty"`
	URL       string `json:",omitempty"`
	Subdir    string `json:",omitempty"`
	Hash      string `json:",omitempty"`
	TagPrefix string `json:",omitempty"`
	TagSum    string `json:",omitempty"`
	Ref       string `json:",omitempty"`
	RepoSum   string `json:",omitempty"`
}

// checkInfo validates an upstream's .info or @latest answer for module
// path: at most upstream.MaxInfo bytes (any Fetcher's), a JSON object whose Version is want (the
// canonical version asked for) or, if want is "" (@latest, queries), any
// canonical version of path, and whose Time is present and in RFC 3339.
// It returns the answer re-encoded as an Info, so that whatever else the
// upstream put in it is neither stored nor served.
func checkInfo(b []byte, path, want string) ([]byte, error) {
	if len(b) > upstream.MaxInfo {
		return nil, fmt.Errorf("malformed info: %d bytes, more than the %d allowed", len(b), upstream.MaxInfo)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("malformed info: not a JSON object")
	}
	var info struct {
		Version string
		Time    *time.Time // RFC 3339, as time.Time's UnmarshalJSON requires
		Origin  *Origin
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("malformed info: %w", err)
	}
	switch {
	case want != "" && info.Version != want:
		return nil, fmt.Errorf("malformed info: upstream answered version %q, not %q", info.Version, want)
	case !layout.IsCanonical(module.Version{Path: path, Version: info.Version}):
		return nil, fmt.Errorf("malformed info: version %q is not a canonical version of %s", info.Version, path)
	case info.Time == nil:
		return nil, errors.New("malformed info: no Time")
	}
	return json.Marshal(Info{Version: info.Version, Time: *info.Time, Origin: info.Origin})
}

func upstreamErr(op, path, version string, err error) error {
	return &upstream.Error{Upstream: "upstream", Op: op, Module: path, Version: version, Err: err}
}
