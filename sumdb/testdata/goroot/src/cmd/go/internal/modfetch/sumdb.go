// A made-up Go installation's alias of a checksum database, in the form
// of the go command's cmd/go/internal/modfetch/sumdb.go.

package modfetch

func dbDial() (dbName string, db *sumdb.Client, err error) {
	// Special case: sum.alias.example
	// is an alias, reachable elsewhere,
	// for sum.example.test.
	gosumdb := cfg.GOSUMDB
	if gosumdb == "sum.alias.example" {
		gosumdb = "sum.example.test https://sum-alias.example/db"
	}

	if gosumdb == "off" {
		return "", nil, fmt.Errorf("checksum database disabled by GOSUMDB=off")
	}
	return "", nil, nil
}
