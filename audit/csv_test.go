package audit

import (
	"slices"
	"testing"
	"time"
)

func TestCSVRow(t *testing.T) {
	r := Record{ID: "id1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Client: "ci", Module: "example.com/m", Version: "v1.0.0",
		Kind: "zip", Status: 403, Agent: "=cmd()", Policy: `refused by rule "no-1" (p.yaml:3): denied`}
	row := CSVRow(r)
	if len(row) != len(CSVColumns) {
		t.Fatalf("%d cells for %d columns", len(row), len(CSVColumns))
	}
	cell := func(col string) string { return row[slices.Index(CSVColumns, col)] }
	if cell("policy") != r.Policy || cell("id") != "id1" || row[len(row)-1] != "id1" {
		t.Errorf("row %q: policy or id misplaced", row)
	}
	if cell("user_agent") != "'=cmd()" {
		t.Errorf("a formula-like cell is not quoted: %q", cell("user_agent"))
	}
}
