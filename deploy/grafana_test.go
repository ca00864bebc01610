package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dashboardFile is the Grafana dashboard.
var dashboardFile = filepath.Join("grafana", "gomirror.json")

// dashboardPanel is what the tests read of a Grafana panel.
type dashboardPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string
		RefID      string `json:"refId"`
		Datasource *struct{ Type, UID string }
	}
	Panels []dashboardPanel // a collapsed row's
}

// dashboard is what the tests read of a Grafana dashboard.
type dashboard struct {
	SchemaVersion int
	Title, UID    string
	Panels        []dashboardPanel
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any // a string (datasource) or {query: ...}
			Datasource *struct{ Type, UID string }
		}
	}
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d
}

// panels returns every panel of d, those in collapsed rows too.
func (d *dashboard) panels() []dashboardPanel {
	var out []dashboardPanel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// dashboardDatasource is the datasource every query of the dashboard
// uses: its templated datasource variable, so that it works imported
// through the UI and provisioned from a file alike.
const dashboardDatasource = "${datasource}"

// labelValuesRE matches a Grafana template query label_values(selector, label).
var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// TestGrafanaDashboard checks the dashboard's structure as Grafana needs
// it: a schema version, a uid, a Prometheus datasource variable that every
// panel and query uses, unique panel ids and query refIds, panels inside
// the 24-column grid and not overlapping.
func TestGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 30 || d.Title == "" || d.UID == "" {
		t.Errorf("schemaVersion %d, title %q, uid %q: want a current schema version, a title and a uid", d.SchemaVersion, d.Title, d.UID)
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == strings.Trim(dashboardDatasource, "${}") && v.Query == "prometheus" {
			dsVar = true
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dashboardDatasource) {
			t.Errorf("variable %s: datasource %v, want %s", v.Name, v.Datasource, dashboardDatasource)
		}
	}
	if !dsVar {
		t.Errorf("no datasource variable %s of type prometheus", dashboardDatasource)
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	queries := 0
	for _, p := range d.panels() {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" || p.Type == "" {
			t.Errorf("%s: no title or type", where)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %s", where, other)
		}
		ids[p.ID] = where
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("%s: gridPos %+v outside the grid", where, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("%s overlaps %s at %d,%d", where, other, x, y)
					break
				}
				taken[cell{x, y}] = where
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != dashboardDatasource {
			t.Errorf("%s: datasource %v, want prometheus %s", where, p.Datasource, dashboardDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		refIDs := map[string]bool{}
		for _, q := range p.Targets {
			queries++
			if q.Expr == "" || q.RefID == "" || refIDs[q.RefID] {
				t.Errorf("%s: a query with expr %q refId %q (empty or repeated)", where, q.Expr, q.RefID)
			}
			refIDs[q.RefID] = true
			if q.Datasource == nil || q.Datasource.UID != dashboardDatasource {
				t.Errorf("%s: query %s: datasource %v, want %s", where, q.RefID, q.Datasource, dashboardDatasource)
			}
		}
	}
	if queries == 0 {
		t.Fatal("no queries found: is the dashboard's structure read wrongly?")
	}
}

// dashboardOmits are the gomirror metrics the dashboard deliberately does
// not show, with why.
var dashboardOmits = map[string]string{
	"gomirror_upstream_mirror_preferred":      "the mirror scores panel shows the order",
	"gomirror_upstream_mirror_requests_total": "upstream fetches by upstream show the traffic",
	"gomirror_upstream_mirror_failures_total": "the mirror error rate panel shows failures",
}

// TestDashboardNamesExportedMetrics: every metric that a query of the
// dashboard (panels and template variables) names is one that a real
// gomirror's /metrics exports, with the labels the query uses; and every
// gomirror metric is on the dashboard, unless dashboardOmits says why not.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	d := loadDashboard(t)
	e := scrapeGomirror(t)
	c := newMetricChecker(t, e, loadPromRules(t))
	for _, p := range d.panels() {
		for _, q := range p.Targets {
			for _, err := range c.check(fmt.Sprintf("panel %q query %s", p.Title, q.RefID), q.Expr) {
				t.Error(err)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		m := labelValuesRE.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Query)
			continue
		}
		where := "variable " + v.Name
		for _, err := range c.check(where, m[1]) {
			t.Error(err)
		}
		refs, _ := parsePromQL(m[1])
		for name := range refs.Metrics {
			if have, _ := c.labels(name); !have[m[2]] && !slices.Contains(targetLabels, m[2]) {
				t.Errorf("%s: %s has no label %s", where, name, m[2])
			}
		}
	}
	shown := map[string]bool{}
	for name := range c.used {
		shown[histogramFamily(name)] = true
	}
	for name := range e {
		f := histogramFamily(name)
		if strings.HasPrefix(f, "gomirror_") && !shown[f] && dashboardOmits[f] == "" {
			t.Errorf("gomirror exports %s, but no dashboard query shows it (or say why in dashboardOmits)", f)
		}
	}
	for f := range dashboardOmits {
		if shown[f] {
			t.Errorf("dashboardOmits lists %s, which the dashboard shows", f)
		}
	}
	t.Logf("metrics on the dashboard: %v", slices.Sorted(maps.Keys(c.used)))
}

// histogramFamily returns the family name of a histogram's or summary's
// sample name (_bucket, _sum, _count), or name.
func histogramFamily(name string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if f, ok := strings.CutSuffix(name, s); ok {
			return f
		}
	}
	return name
}

// grafanaVars stand in for Grafana's variables when the dashboard's
// queries are given to promtool.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h",
	"${job}", ".*", "$job", ".*", "${instance}", ".*", "$instance", ".*",
)

// TestDashboardQueriesParse: every query of the dashboard is valid PromQL,
// as promtool check rules finds it in a rule file of recording rules made
// from the queries (Grafana's variables replaced by values).
func TestDashboardQueriesParse(t *testing.T) {
	d := loadDashboard(t)
	var rules []map[string]string
	for _, p := range d.panels() {
		for _, q := range p.Targets {
			expr := grafanaVars.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q query %s: a Grafana variable that the test does not replace: %s", p.Title, q.RefID, q.Expr)
			}
			rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:panel%d:%s", p.ID, q.RefID), "expr": expr})
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := writeTemp(t, "dashboard-queries.yml", b)
	cmd := exec.Command(promtool(t), "check", "rules", f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(rules))) {
		t.Errorf("promtool did not check the %d queries:\n%s", len(rules), out)
	}
}
