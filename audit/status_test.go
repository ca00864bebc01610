package audit_test

import (
	"testing"

	"github.com/gomirror/gomirror/audit"
)

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		in       string
		min, max int
		ok       bool
	}{
		{"4xx", 400, 499, true},
		{"5XX", 500, 599, true},
		{"2xx", 200, 299, true},
		{"1xx", 100, 199, true},
		{"404", 404, 404, true},
		{" 200 ", 200, 200, true},
		{"500-599", 500, 599, true},
		{"400-404", 400, 404, true},
		{"404-404", 404, 404, true},
		{"", 0, 0, false},
		{"6xx", 0, 0, false},
		{"0xx", 0, 0, false},
		{"x4x", 0, 0, false},
		{"4x", 0, 0, false},
		{"99", 0, 0, false},
		{"600", 0, 0, false},
		{"099", 0, 0, false},
		{"+40", 0, 0, false},
		{"-404", 0, 0, false},
		{"404-", 0, 0, false},
		{"599-500", 0, 0, false},
		{"500-600", 0, 0, false},
		{"4xx-5xx", 0, 0, false},
		{"abc", 0, 0, false},
	} {
		min, max, err := audit.ParseStatus(tt.in)
		if (err == nil) != tt.ok || min != tt.min || max != tt.max {
			t.Errorf("ParseStatus(%q) = %d, %d, %v; want %d, %d, ok %v", tt.in, min, max, err, tt.min, tt.max, tt.ok)
		}
	}
}
