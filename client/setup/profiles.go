package setup

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/atomicfile"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// ProfilesFileName is the name of the file, next to the state file, that
// holds the named profiles.
const ProfilesFileName = "gomirror-profiles.json"

// ProfilesPath is the profiles file for the GOENV file goenv.
func ProfilesPath(goenv string) string {
	return filepath.Join(filepath.Dir(goenv), ProfilesFileName)
}

// Profiles are named sets of settings and the one last switched to.
type Profiles struct {
	// Active is the profile last switched to; "" after a change that is
	// not a profile's (setup URL, --fastest, --undo).
	Active   string               `json:"active,omitempty"`
	Profiles map[string][]Setting `json:"profiles"`
}

// Names returns the profiles' names, sorted.
func (p *Profiles) Names() []string {
	names := make([]string, 0, len(p.Profiles))
	for n := range p.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckProfileName refuses a name that is not letters, digits, '.', '_'
// and '-' (64 at most, starting with a letter or digit).
func CheckProfileName(name string) error {
	if !profileNameRE.MatchString(name) {
		return i18n.Errorf("profile name %q: want letters, digits, '.', '_' and '-' (at most 64)", name)
	}
	return nil
}

// ReadProfiles reads the profiles file at path; a missing file holds no
// profiles.
func ReadProfiles(path string) (*Profiles, error) {
	p := &Profiles{Profiles: map[string][]Setting{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, i18n.Errorf("profiles file %s: %v", path, err)
	}
	if p.Profiles == nil {
		p.Profiles = map[string][]Setting{}
	}
	for name, settings := range p.Profiles {
		if err := CheckProfileName(name); err != nil {
			return nil, i18n.Errorf("profiles file %s: %v", path, err)
		}
		for _, s := range settings {
			if err := checkName(s.Key); err != nil {
				return nil, i18n.Errorf("profiles file %s: profile %s: %v", path, name, err)
			}
		}
	}
	return p, nil
}

// WriteProfiles writes p to path atomically (a temporary file renamed
// over it), readable by the user only (0600): a profile may name private
// module patterns.
func WriteProfiles(path string, p *Profiles) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

// Switch makes settings the whole of what gomirror has changed: it applies
// them as Apply does (saving the originals first), then puts back the
// original value of every variable an earlier Apply changed that settings
// does not set (`go env -w` if the GOENV file set it, `go env -u` if not).
// So switching from a profile with GOPRIVATE to one without leaves
// GOPRIVATE as it was before gomirror, and Undo still restores everything.
func Switch(ctx context.Context, r gocmd.Runner, settings []Setting) (*Result, error) {
	res, err := Apply(ctx, r, settings)
	if err != nil {
		return nil, err
	}
	state, err := ReadState(res.StateFile)
	if err != nil {
		return nil, err
	}
	var set, unset, keys []string
	for _, k := range sortedKeys(state.Vars) {
		if slices.ContainsFunc(settings, func(s Setting) bool { return s.Key == k }) {
			continue
		}
		keys = append(keys, k)
		if v := state.Vars[k]; v.InFile {
			set = append(set, k+"="+v.Value)
		} else {
			unset = append(unset, k)
		}
	}
	if len(set) > 0 {
		if _, err := r.Run(ctx, append([]string{"env", "-w"}, set...)...); err != nil {
			return nil, err
		}
	}
	if len(unset) > 0 {
		if _, err := r.Run(ctx, append([]string{"env", "-u"}, unset...)...); err != nil {
			return nil, err
		}
	}
	res.Reset = keys
	if len(keys) > 0 {
		eff, err := gocmd.Env(ctx, r, keys...)
		if err != nil {
			return nil, err
		}
		for k, v := range eff {
			res.Effective[k] = v
		}
	}
	return res, nil
}

// EnvFile returns the file GOENV names (the go command's settings file),
// refusing GOENV=off.
func EnvFile(ctx context.Context, r gocmd.Runner) (string, error) { return envFile(ctx, r) }
