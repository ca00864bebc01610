package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/vulndb"
)

// admin answers a page that only operators may see: 403 for others.
func (c *Console) admin(w http.ResponseWriter, r *http.Request) (*viewer, bool) {
	v, ok := c.viewer(w, r)
	if !ok {
		return nil, false
	}
	if !v.Admin {
		c.render(w, r, http.StatusForbidden, v, "error", "Error", http.StatusForbidden, "This page is for operators (an admin token).")
		return nil, false
	}
	return v, true
}

// root answers GET /ui/: the overview for operators, the activity for
// others; anything else under /ui/ is not a page.
func (c *Console) root(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ui/" {
		v, _ := c.viewer(w, r)
		if v != nil {
			c.render(w, r, http.StatusNotFound, v, "error", "Error", http.StatusNotFound, "There is no such page.")
		}
		return
	}
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	if !v.Admin {
		http.Redirect(w, r, "/ui/activity", http.StatusSeeOther)
		return
	}
	o, err := c.opts.API.Overview(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	_, p := c.language(r)
	c.render(w, r, http.StatusOK, v, "overview", "Overview",
		newOverviewData(o, c.opts.API.LastDays(api.OverviewDays).From, p), o.DatabaseError)
}

// modulesData is the module search page's.
type modulesData struct {
	Q      string
	Result api.Modules
}

// modules answers GET /ui/modules?q=&cursor=: stored modules whose path
// contains q (a prefix is a substring too), a page at a time; a client
// token sees only the modules it may download, and nothing of the others
// (modulesPage: no count, no path in the cursor).
func (c *Console) modules(w http.ResponseWriter, r *http.Request) {
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	res, err := c.modulesPage(r.Context(), v, q.Get("q"), q.Get("cursor"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, v, "modules", "Modules", modulesData{Q: q.Get("q"), Result: res}, "")
}

// moduleData is a module page's.
type moduleData struct {
	api.Module
	Downloads map[string]int64 // per version over StatsDays; nil for client tokens
	StatsDays int
	// Retracted are the versions the latest stored go.mod retracts, with
	// their rationale; Deprecated is its deprecation (api.ModuleMarks).
	Retracted  map[string]*modinfo.Retraction
	Deprecated string
	MarksError string // the marks could not be read
	// Advisories are the vulnerability database's advisories naming the
	// module (Fixed: the version that fixes all of each), Vulnerable the
	// stored versions each affects, and VulnsError why they are not shown.
	Advisories []vulndb.Advisory
	Vulnerable map[string][]string // version -> IDs
	VulnsError string
}

// moduleStatsDays is the period of a module page's download counts.
const moduleStatsDays = 90

// module answers GET /ui/modules/{module}: the module's stored versions,
// their files, retracted and deprecated marks, and `go get` lines; and
// the pages of a version below it (details.go).
func (c *Console) module(w http.ResponseWriter, r *http.Request) {
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	mv, graph, isVersion, err := versionOf(r.PathValue("module"))
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	m := mv.Path
	if !isVersion {
		if m, err = api.CheckModule(r.PathValue("module")); err != nil {
			c.fail(w, r, v, err)
			return
		}
	}
	if !v.Admin && !c.opts.Auth.MayRead(v.Name, m) {
		c.render(w, r, http.StatusForbidden, v, "error", "Error", http.StatusForbidden, "Your token may not download this module.")
		return
	}
	switch {
	case isVersion && graph:
		c.graphPage(w, r, v, mv)
		return
	case isVersion:
		c.versionPage(w, r, v, mv)
		return
	}
	mod, err := c.opts.API.Module(r.Context(), m)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := moduleData{Module: mod, StatsDays: moduleStatsDays}
	if v.Admin { // counts of every client's downloads
		st, err := c.opts.API.ModuleStats(r.Context(), m, c.opts.API.LastDays(moduleStatsDays))
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Downloads = map[string]int64{}
		for _, day := range st.Days {
			d.Downloads[day.Version] += day.Downloads
		}
	}
	switch mk, err := c.opts.API.ModuleMarks(r.Context(), m); {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, api.ErrUnavailable): // no go.mod, no storage: no marks
	case err != nil:
		d.MarksError = err.Error()
	default:
		d.Deprecated, d.MarksError = mk.Deprecated, mk.Error
		d.Retracted = map[string]*modinfo.Retraction{}
		for _, ver := range mod.Versions {
			if rt, ok := mk.Retracted(ver.Version); ok {
				d.Retracted[ver.Version] = &rt
			}
		}
	}
	if c.opts.Vulns != nil {
		d.Advisories, d.Vulnerable, d.VulnsError = c.moduleVulns(r.Context(), m, mod.Versions)
	}
	c.render(w, r, http.StatusOK, v, "module", "Module", d, "")
}

// moduleVulns returns the advisories naming module m and, for each of
// versions that one affects, their IDs; or why they are unknown.
func (c *Console) moduleVulns(ctx context.Context, m string, versions []api.Version) ([]vulndb.Advisory, map[string][]string, string) {
	advs, err := c.opts.Vulns.Module(ctx, m)
	if err != nil {
		return nil, nil, vulnsError(err)
	}
	if len(advs) == 0 {
		return nil, nil, ""
	}
	vulnerable := map[string][]string{}
	for _, ver := range versions {
		va, err := c.opts.Vulns.Vulns(ctx, module.Version{Path: m, Version: ver.Version})
		if err != nil {
			return nil, nil, vulnsError(err)
		}
		for _, a := range va {
			vulnerable[ver.Version] = append(vulnerable[ver.Version], a.ID)
		}
	}
	return advs, vulnerable, ""
}

// activityData is the activity page's.
type activityData struct {
	Filter url.Values
	Page   audit.Page
	Query  template.URL // the filters as a query string (url.Values.Encode), for the CSV link and the next page
}

// activityFilters are the parameters the activity page passes to the
// audit query.
var activityFilters = []string{"client", "module", "status", "cache", "kind", "since"}

// activityQuery reads the activity page's filters into an audit query; a
// client token's query is of its own records, whatever it asks.
func (c *Console) activityQuery(r *http.Request, v *viewer) (audit.Query, url.Values, error) {
	in := r.URL.Query()
	f := url.Values{}
	for _, k := range activityFilters {
		if s := strings.TrimSpace(in.Get(k)); s != "" {
			f.Set(k, s)
		}
	}
	if !v.Admin {
		f.Set("client", v.Name)
	}
	q := url.Values{}
	for k, vs := range f {
		q[k] = vs
	}
	q.Set("cursor", in.Get("cursor"))
	q.Set("limit", "100")
	aq, err := c.opts.API.AuditQuery(q)
	if !v.Admin {
		aq.Client = v.Name
	}
	return aq, f, err
}

// activity answers GET /ui/activity: the audit stream, newest first, with
// filters; a client token sees its own requests only.
func (c *Console) activity(w http.ResponseWriter, r *http.Request) {
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	q, f, err := c.activityQuery(r, v)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	page, err := c.opts.API.Audit(r.Context(), q)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if !v.Admin {
		f.Del("client")
	}
	c.render(w, r, http.StatusOK, v, "activity", "Activity", activityData{Filter: f, Page: page, Query: template.URL(f.Encode())}, "")
}

// maxCSVPages bounds a CSV export: 100 pages of 1000 records.
const maxCSVPages = 100

// activityCSV answers GET /ui/activity.csv: the records of the activity
// page's filters as CSV (audit.CSVRow), at most 100,000.
func (c *Console) activityCSV(w http.ResponseWriter, r *http.Request) {
	v, ok := c.viewer(w, r)
	if !ok {
		return
	}
	q, _, err := c.activityQuery(r, v)
	if err != nil {
		http.Error(w, api.Message(err), api.StatusOf(err))
		return
	}
	q.Limit, q.Cursor = 1000, ""
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="gomirror-activity-%s.csv"`, c.opts.Now().UTC().Format("20060102-150405")))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	wrote := false
	for range maxCSVPages {
		page, err := c.opts.API.Audit(r.Context(), q)
		if err != nil {
			if !wrote {
				h.Del("Content-Disposition")
				http.Error(w, api.Message(err), api.StatusOf(err))
			}
			return // cut short: the file ends without its last rows
		}
		if !wrote {
			cw.Write(audit.CSVColumns)
			wrote = true
		}
		for _, rec := range page.Records {
			cw.Write(audit.CSVRow(rec))
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	cw.Flush()
}

// alerts answers GET /ui/alerts: the rules, the alerts' state and their
// history (the last 7 days).
func (c *Console) alerts(w http.ResponseWriter, r *http.Request) {
	v, ok := c.admin(w, r)
	if !ok {
		return
	}
	a, err := c.opts.API.Alerts(r.Context(), c.opts.API.Now().Add(-7*24*time.Hour), 100)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, v, "alerts", "Alerts", a, a.HistoryError)
}

// formatBytes shows a size: 1.2 MiB.
func formatBytes(n int64) string {
	if n < 0 {
		n = 0
	}
	return humanize.IBytes(uint64(n))
}

// formatTime shows a time in UTC to the second, or "–" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// vulnsError is why a page shows no advisories: "not loaded" before the
// database's first copy is loaded (the template says so in the page's
// language), else the error.
func vulnsError(err error) string {
	if errors.Is(err, vulndb.ErrNotLoaded) {
		return "not loaded"
	}
	return err.Error()
}
