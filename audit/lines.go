package audit

import (
	"fmt"
	"io"
	"os"
)

// OpenLines opens the JSON-lines copy of the audit log that a setting
// names, for Options.Lines: "" none (nil, nil); "-" stdout (its Close
// leaves stdout open); anything else the path of a file, created with
// mode 0600 if missing and appended to (O_APPEND: a batch's lines go
// whole at the end even with another process appending, and a log
// rotator may rename it; gomirror keeps writing to the renamed file
// until it restarts).
func OpenLines(setting string, stdout io.Writer) (io.WriteCloser, error) {
	switch setting {
	case "":
		return nil, nil
	case "-":
		return nopCloser{stdout}, nil
	}
	f, err := os.OpenFile(setting, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening the JSON-lines file: %w", err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
