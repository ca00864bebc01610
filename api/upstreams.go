package api

import (
	"fmt"
	"net/http"

	"github.com/gomirror/gomirror/uphistory"
)

// Upstreams returns every upstream's state and history, as
// GET /api/v1/upstreams shows it: each chain element and group mirror of
// this replica, by group and name (none without Options.Upstreams).
func (h *Handler) Upstreams() []uphistory.Upstream {
	if h.opts.Upstreams == nil {
		return []uphistory.Upstream{}
	}
	return h.opts.Upstreams(h.opts.Now())
}

// upstreams answers GET /api/v1/upstreams: {"scope": "replica",
// "upstreams": [...]}. The history is kept in memory by each replica,
// of its own fetches: another replica shows its own. Without
// Options.Upstreams it is 503, as a route without its data is.
func (h *Handler) upstreams(w http.ResponseWriter, r *http.Request) {
	if h.opts.Upstreams == nil {
		writeError(w, fmt.Errorf("%w: no upstream history given to the API", ErrUnavailable))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Scope     string               `json:"scope"`
		Upstreams []uphistory.Upstream `json:"upstreams"`
	}{"replica", h.Upstreams()})
}
