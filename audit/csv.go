package audit

import (
	"strconv"
	"strings"
	"time"
)

// CSVColumns are the header of audit records as CSV (CSVRow).
var CSVColumns = []string{"time", "client", "remote", "method", "kind", "module", "version", "status", "bytes", "duration", "cache", "upstream", "user_agent", "replica", "policy", "id"}

// CSVRow returns r as a CSV row of CSVColumns. Every cell that a
// spreadsheet would take for a formula (it starts with =, +, -, @, a tab
// or a carriage return: a client's User-Agent may) is prefixed with a
// quote, which shows it as text.
func CSVRow(r Record) []string {
	row := []string{r.Time.UTC().Format(time.RFC3339Nano), r.Client, r.Remote, r.Method, r.Kind, r.Module, r.Version,
		strconv.Itoa(r.Status), strconv.FormatInt(r.Bytes, 10), r.Duration.String(), r.Cache, r.Upstream, r.Agent, r.Replica, r.Policy, r.ID}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}
