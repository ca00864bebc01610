package deploy

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// promqlRefs is what a PromQL expression refers to: the metrics it selects
// (by name, with the label names its selectors match on) and the label
// names of its by, without, on, ignoring, group_left and group_right
// clauses.
type promqlRefs struct {
	Metrics     map[string][]string
	GroupLabels []string
}

// promqlAggregations are PromQL's aggregation operators, which may be
// followed by a by or without clause before their parenthesis.
var promqlAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

// promqlKeywords are PromQL's binary operator keywords, modifiers and
// number literals spelt as words.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
}

// promqlGrouping are the keywords followed by a list of label names.
var promqlGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// parsePromQL finds what expr refers to. It is a tokenizer, not a parser:
// enough to tell metric names from functions, keywords, label names,
// strings, numbers, durations and ranges, and Grafana's $variables (which
// it skips). It fails on what it cannot tokenize.
func parsePromQL(expr string) (promqlRefs, error) {
	refs := promqlRefs{Metrics: map[string][]string{}}
	i := 0
	skipSpace := func() {
		for i < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[i])) {
			i++
		}
	}
	ident := func() string {
		j := i
		for i < len(expr) && isIdentByte(expr[i], i > j) {
			i++
		}
		return expr[j:i]
	}
	skipString := func() error {
		q := expr[i]
		for i++; i < len(expr); i++ {
			switch {
			case expr[i] == '\\' && q != '`':
				i++
			case expr[i] == q:
				i++
				return nil
			}
		}
		return fmt.Errorf("unterminated string in %q", expr)
	}
	// labelList reads "(a, b, ...)" after a grouping keyword.
	labelList := func() ([]string, error) {
		skipSpace()
		if i >= len(expr) || expr[i] != '(' {
			return nil, nil // group_left without labels
		}
		i++
		var names []string
		for {
			skipSpace()
			if i < len(expr) && expr[i] == ')' {
				i++
				return names, nil
			}
			n := ident()
			if n == "" {
				return nil, fmt.Errorf("label list at %d of %q", i, expr)
			}
			names = append(names, n)
			skipSpace()
			if i < len(expr) && expr[i] == ',' {
				i++
			}
		}
	}
	// matchers reads "{a="x", b=~"y", ...}" and returns the label names.
	matchers := func() ([]string, error) {
		i++ // {
		var names []string
		for {
			skipSpace()
			if i >= len(expr) {
				return nil, fmt.Errorf("unterminated selector in %q", expr)
			}
			if expr[i] == '}' {
				i++
				return names, nil
			}
			n := ident()
			if n == "" {
				return nil, fmt.Errorf("label matcher at %d of %q", i, expr)
			}
			names = append(names, n)
			skipSpace()
			for i < len(expr) && strings.ContainsRune("=!~", rune(expr[i])) {
				i++
			}
			skipSpace()
			if i >= len(expr) || !strings.ContainsRune("\"'`", rune(expr[i])) {
				return nil, fmt.Errorf("label matcher %s without a string in %q", n, expr)
			}
			if err := skipString(); err != nil {
				return nil, err
			}
			skipSpace()
			if i < len(expr) && expr[i] == ',' {
				i++
			}
		}
	}
	for {
		skipSpace()
		if i >= len(expr) {
			break
		}
		c := expr[i]
		switch {
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			if err := skipString(); err != nil {
				return refs, err
			}
		case c == '[': // a range or subquery: durations, Grafana's $__rate_interval
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return refs, fmt.Errorf("unterminated range in %q", expr)
			}
			i += j + 1
		case c == '$': // a Grafana variable: $name, ${name}, ${name:format}
			i++
			if i < len(expr) && expr[i] == '{' {
				j := strings.IndexByte(expr[i:], '}')
				if j < 0 {
					return refs, fmt.Errorf("unterminated variable in %q", expr)
				}
				i += j + 1
			} else {
				ident()
			}
		case c >= '0' && c <= '9' || c == '.': // numbers, durations
			for i < len(expr) && (isIdentByte(expr[i], true) || expr[i] == '.' ||
				(expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E')) {
				i++
			}
		case c == '{': // a selector without a metric name
			names, err := matchers()
			if err != nil {
				return refs, err
			}
			if !slices.Contains(names, "__name__") {
				return refs, fmt.Errorf("a selector without a metric name in %q", expr)
			}
			refs.Metrics["{"+strings.Join(names, ",")+"}"] = names
		case isIdentByte(c, false):
			n := ident()
			skipSpace()
			next := byte(0)
			if i < len(expr) {
				next = expr[i]
			}
			switch {
			case promqlGrouping[n]:
				names, err := labelList()
				if err != nil {
					return refs, err
				}
				refs.GroupLabels = append(refs.GroupLabels, names...)
			case promqlKeywords[n], promqlAggregations[n], next == '(':
				// functions, aggregations, operators
			default:
				var names []string
				if next == '{' {
					var err error
					if names, err = matchers(); err != nil {
						return refs, err
					}
				}
				refs.Metrics[n] = append(refs.Metrics[n], names...)
			}
		default: // operators, parentheses, commas
			i++
		}
	}
	return refs, nil
}

func isIdentByte(c byte, notFirst bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || notFirst && c >= '0' && c <= '9'
}

// TestParsePromQL checks parsePromQL on the forms the rules and the
// dashboard use.
func TestParsePromQL(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		metrics map[string][]string
		group   []string
	}{
		{`up{job=~".*gomirror.*"} == 0`, map[string][]string{"up": {"job"}}, nil},
		{`absent(up{job=~".*gomirror.*"})`, map[string][]string{"up": {"job"}}, nil},
		{`sum by (job, instance, kind) (rate(gomirror_http_requests_total[5m]))`,
			map[string][]string{"gomirror_http_requests_total": nil}, []string{"job", "instance", "kind"}},
		{`histogram_quantile(0.99, sum without(instance) (rate(a_bucket{kind!="zip", code =~ '5..'}[$__rate_interval])))`,
			map[string][]string{"a_bucket": {"kind", "code"}}, []string{"instance"}},
		{"x > 1.25 * (x offset 1d) and x > 1e9 or y:rec:rate5m{kind=`a,b}`} unless on (job) group_left z",
			map[string][]string{"x": nil, "y:rec:rate5m": {"kind"}, "z": nil}, []string{"job"}},
		{`a{instance=~"$instance", job="${job}"} / ignoring(le) group_right(mirror) b # comment c`,
			map[string][]string{"a": {"instance", "job"}, "b": nil}, []string{"le", "mirror"}},
		{`deriv(q[10m]) > 0 and topk(5, sum by (upstream) (increase(f[1h:5m])))`,
			map[string][]string{"q": nil, "f": nil}, []string{"upstream"}},
		{`1 - sum(rate(a{result="hit"}[5m])) / sum(rate(a[5m])) > bool 0.5e-3`,
			map[string][]string{"a": {"result"}}, nil},
	} {
		got, err := parsePromQL(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if !reflect.DeepEqual(got.Metrics, tc.metrics) && !(len(got.Metrics) == 0 && len(tc.metrics) == 0) {
			t.Errorf("%s: metrics %v, want %v", tc.expr, got.Metrics, tc.metrics)
		}
		if !slices.Equal(got.GroupLabels, tc.group) {
			t.Errorf("%s: grouping labels %v, want %v", tc.expr, got.GroupLabels, tc.group)
		}
	}
	for _, bad := range []string{`a{b="c"`, `a{b}`, `rate(a[5m)`, `"open`, `{job="x"}`} {
		if got, err := parsePromQL(bad); err == nil {
			t.Errorf("%s: no error (%v)", bad, slices.Sorted(maps.Keys(got.Metrics)))
		}
	}
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// metricChecker checks that PromQL expressions name only metrics that a
// real gomirror exports (or Prometheus' up, or a recording rule of
// deploy/prometheus), with label names those metrics have.
type metricChecker struct {
	exported exported
	// recorded has the recording rules' names, with the label names of
	// their expressions' grouping clauses.
	recorded map[string]map[string]bool
	// used counts the uses of each metric name.
	used map[string]int
}

func newMetricChecker(t *testing.T, e exported, rules []promRule) *metricChecker {
	t.Helper()
	c := &metricChecker{exported: e, recorded: map[string]map[string]bool{}, used: map[string]int{}}
	for _, r := range rules {
		if r.Record == "" {
			continue
		}
		refs, err := parsePromQL(r.Expr)
		if err != nil {
			t.Fatalf("recording rule %s: %v", r.Record, err)
		}
		c.recorded[r.Record] = map[string]bool{}
		for _, l := range refs.GroupLabels {
			c.recorded[r.Record][l] = true
		}
	}
	return c
}

// labels returns the label names that series of metric name have, and
// whether it is a metric at all.
func (c *metricChecker) labels(name string) (map[string]bool, bool) {
	if l, ok := c.exported[name]; ok {
		return l, true
	}
	if l, ok := c.recorded[name]; ok {
		return l, true
	}
	if name == "up" {
		return map[string]bool{}, true
	}
	return nil, false
}

// check returns what is wrong with expr, found at where.
func (c *metricChecker) check(where, expr string) []string {
	refs, err := parsePromQL(expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	if len(refs.Metrics) == 0 {
		return []string{fmt.Sprintf("%s: %q names no metric", where, expr)}
	}
	var errs []string
	all := map[string]bool{}
	for _, l := range targetLabels {
		all[l] = true
	}
	for _, name := range slices.Sorted(maps.Keys(refs.Metrics)) {
		c.used[name]++
		have, ok := c.labels(name)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %s is not a metric that gomirror's /metrics exports, nor a recording rule of deploy/prometheus", where, name))
			continue
		}
		for l := range have {
			all[l] = true
		}
		for _, l := range refs.Metrics[name] {
			if !have[l] && !slices.Contains(targetLabels, l) {
				errs = append(errs, fmt.Sprintf("%s: %s has no label %s (it has %v)", where, name, l, slices.Sorted(maps.Keys(have))))
			}
		}
	}
	for _, l := range refs.GroupLabels {
		if !all[l] {
			errs = append(errs, fmt.Sprintf("%s: no metric of %q has the label %s it groups or matches by", where, expr, l))
		}
	}
	return errs
}

// TestMetricChecker checks that metricChecker finds wrong names and
// labels.
func TestMetricChecker(t *testing.T) {
	e := exported{
		"gomirror_http_requests_total": {"kind": true, "code": true},
		"gomirror_x_bucket":            {"kind": true, "le": true},
	}
	c := newMetricChecker(t, e, []promRule{{Record: "instance_kind:r:rate5m", Expr: `sum by (job, instance, kind) (rate(gomirror_http_requests_total[5m]))`}})
	for _, tc := range []struct {
		expr string
		bad  bool
	}{
		{`sum by (kind, code) (rate(gomirror_http_requests_total{code=~"5..",job="j"}[5m]))`, false},
		{`histogram_quantile(0.5, sum by (le) (rate(gomirror_x_bucket[5m])))`, false},
		{`instance_kind:r:rate5m{kind="zip"} > 1 and on (instance) up == 1`, false},
		{`rate(gomirror_requests_total[5m])`, true},                    // no such metric
		{`rate(gomirror_http_requests_total{status="500"}[5m])`, true}, // no such label
		{`sum by (status) (rate(gomirror_http_requests_total[5m]))`, true},
		{`instance_kind:r:rate5m{code="200"}`, true}, // the recording rule keeps no code
		{`histogram_quantile(0.5, rate(gomirror_x[5m]))`, true},
		{`vector(1)`, true},
	} {
		errs := c.check("test", tc.expr)
		if bad := len(errs) > 0; bad != tc.bad {
			t.Errorf("%s: errors %v, want some: %v", tc.expr, errs, tc.bad)
		}
	}
}

// TestRulesNameExportedMetrics: every metric that an alerting or recording
// rule of deploy/prometheus names is one that a real gomirror exports,
// with the labels the rule uses.
func TestRulesNameExportedMetrics(t *testing.T) {
	rules := loadPromRules(t)
	c := newMetricChecker(t, scrapeGomirror(t), rules)
	for _, r := range rules {
		for _, err := range c.check("rule "+r.Record+r.Alert, r.Expr) {
			t.Error(err)
		}
	}
	t.Logf("metrics named: %v", c.used)
}
