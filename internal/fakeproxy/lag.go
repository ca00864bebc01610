package fakeproxy

import (
	"io"
	"net/http"
	"strings"

	"golang.org/x/mod/module"
)

// Mutable matches the requests whose answers change as a module gains
// versions: $module/@v/list and $module/@latest.
var Mutable = Suffix("/@v/list", "/@latest")

// Lag is a Fault for Mutable requests that makes a mirror lag behind its
// peers, as a mirror that has not synced yet does: its list and @latest
// answers leave out every version hide reports (a list left empty is "not
// found"). Install it with Inject(Mutable, Lag(...)); the mirror still
// serves the .info, .mod and .zip of hidden versions, as a mirror that
// fetches on demand does.
func Lag(hide func(path, version string) bool) Fault {
	return func(c *Call) {
		p := strings.TrimPrefix(c.R.URL.Path, "/")
		escPath, latest := strings.CutSuffix(p, "/@latest")
		if !latest {
			escPath = strings.TrimSuffix(p, "/@v/list")
		}
		modPath, err := module.UnescapePath(escPath)
		if err != nil {
			http.Error(c.W, "bad request", http.StatusBadRequest)
			return
		}
		var vs []string
		for _, v := range c.s.versions(modPath) {
			if !hide(modPath, v) {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			http.Error(c.W, "not found: unknown module "+modPath, http.StatusNotFound)
			return
		}
		if latest {
			c.W.Write(c.s.Module(modPath, vs[len(vs)-1]).info())
			return
		}
		io.WriteString(c.W, strings.Join(vs, "\n")+"\n")
	}
}
