package api

import (
	"fmt"
	"net/http"

	"github.com/gomirror/gomirror/uphistory"
)

// Upstreams returns every upstream's state and history, as
// GET /api/v1/upstreams shows it: each chain element and group mirror of
// this replica, by group and name (none without Options.UpstreamHistory).
func (s *Service) UpstreamHistory() []uphistory.Upstream {
	if s.opts.UpstreamHistory == nil {
		return []uphistory.Upstream{}
	}
	return s.opts.UpstreamHistory(s.opts.Now())
}

// upstreams answers GET /api/v1/upstreams: {"scope": "replica",
// "upstreams": [...]}. The history is kept in memory by each replica,
// of its own fetches: another replica shows its own. Without
// Options.UpstreamHistory it is 503, as a route without its data is.
func (h *Handler) upstreams(w http.ResponseWriter, r *http.Request) {
	if h.svc.opts.UpstreamHistory == nil {
		writeError(w, fmt.Errorf("%w: no upstream history given to the API", ErrUnavailable))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Scope     string               `json:"scope"`
		Upstreams []uphistory.Upstream `json:"upstreams"`
	}{"replica", h.svc.UpstreamHistory()})
}
