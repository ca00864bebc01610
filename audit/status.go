package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseStatus parses a status filter for Query.StatusMin and StatusMax:
// a class ("4xx": 400..499), one status ("404": 404..404) or an
// inclusive range ("500-599"). Statuses are from 100 to 599; "" is an
// error (a zero Query field already means any status).
func ParseStatus(s string) (min, max int, err error) {
	s = strings.TrimSpace(s)
	bad := func() (int, int, error) {
		return 0, 0, fmt.Errorf("bad status filter %q: want a class (4xx), a status (404) or a range (500-599)", s)
	}
	if len(s) == 3 && strings.EqualFold(s[1:], "xx") {
		c := s[0]
		if c < '1' || c > '5' {
			return bad()
		}
		base := int(c-'0') * 100
		return base, base + 99, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, ok := parseCode(lo)
	if !ok {
		return bad()
	}
	if !isRange {
		return a, a, nil
	}
	b, ok := parseCode(hi)
	if !ok || b < a {
		return bad()
	}
	return a, b, nil
}

// parseCode parses an HTTP status code of three digits, 100 to 599.
func parseCode(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}
