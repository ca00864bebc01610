package server

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/obs"
)

// lineHandler is the slog.Handler of NewLogger's loggers: slog's text or
// JSON handler on w (options: the level only), which also encodes
// access-log lines itself (writeRequest), byte for byte as that handler
// would, without slog's general machinery: a line of the access log
// costs an append per field instead of slog's formatting of a Record
// (about 7% of the CPU time of a cached .info). Loggers derived from it
// (With, WithGroup) get slog's handler alone: their lines have more to
// them.
type lineHandler struct {
	slog.Handler
	w     io.Writer // what the handler writes to, shared with it (safe for concurrent use)
	json  bool
	bufs  *sync.Pool // *[]byte
	clock clock
}

// newLineHandler returns the handler NewLogger uses: text, or with json
// JSON, on w at level.
func newLineHandler(w io.Writer, json bool, level slog.Leveler) *lineHandler {
	var lw io.Writer = &lockedWriter{w: w}
	if l, ok := w.(*obs.LogWriter); ok {
		lw = l // safe for concurrent use, and keeps each Write whole
	}
	opts := &slog.HandlerOptions{Level: level}
	h := &lineHandler{w: lw, json: json, bufs: &sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
	if json {
		h.Handler = slog.NewJSONHandler(lw, opts)
	} else {
		h.Handler = slog.NewTextHandler(lw, opts)
	}
	return h
}

// lockedWriter serializes Writes to a writer that may not be safe for
// concurrent use: slog's handlers serialize their own, but lineHandler
// writes beside them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeRequest writes rec's access-log line at time t and level (which the
// caller found enabled), as logRequest's record would come out of slog's
// handler, and reports true; or, when a value would need slog's quoting or
// escaping (or a time outside slog's range for JSON), writes nothing and
// reports false: the caller hands slog the record.
func (h *lineHandler) writeRequest(t time.Time, level slog.Level, rec *obs.Request, peer string) bool {
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	b, ok := appendRequestLine((*bp)[:0], h.json, &h.clock, t, level, rec, peer)
	if !ok {
		return false
	}
	*bp = b[:0]
	_, _ = h.w.Write(b) // as slog.Logger does: a log that fails is not the request's failure
	return true
}

// appendRequestLine appends the access-log line of rec (see logRequest for
// its fields) in slog's text or JSON format, and reports whether every value
// is one it writes as slog does: the time within years 0–9999 (JSON), and
// every string either empty or made only of plainByte bytes, which neither
// format quotes or escapes.
//
// c, if not nil, keeps the formatted second of the last time.
func appendRequestLine(b []byte, json bool, c *clock, t time.Time, level slog.Level, rec *obs.Request, peer string) ([]byte, bool) {
	str := func(key, v string) bool {
		if !plain(v) {
			return false
		}
		if json {
			b = append(b, ',', '"')
			b = append(b, key...)
			b = append(b, '"', ':', '"')
			b = append(b, v...)
			b = append(b, '"')
		} else {
			b = append(b, ' ')
			b = append(b, key...)
			b = append(b, '=')
			if v == "" {
				b = append(b, '"', '"')
			} else {
				b = append(b, v...)
			}
		}
		return true
	}
	num := func(key string, v int64) {
		if json {
			b = append(b, ',', '"')
			b = append(b, key...)
			b = append(b, '"', ':')
		} else {
			b = append(b, ' ')
			b = append(b, key...)
			b = append(b, '=')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	if json {
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `{"time":"`...)
		b = c.appendTime(b, t, true)
		b = append(b, '"')
	} else {
		b = append(b, "time="...)
		b = c.appendTime(b, t, false)
	}
	ok := str("level", level.String()) && str("msg", "request") &&
		str("method", rec.Method) && str("path", rec.Path)
	if !ok {
		return b, false
	}
	num("status", int64(rec.Status))
	num("bytes", rec.Bytes)
	if json {
		num("duration", int64(rec.Duration)) // nanoseconds, as json.Marshal writes a Duration
	} else {
		// Digits, '.', '-', unit letters and 'µ', which slog does not
		// quote either.
		b = append(b, " duration="...)
		b = append(b, rec.Duration.String()...)
	}
	ok = str("cache", rec.Cache()) && str("upstream", rec.Upstream) &&
		str("remote", rec.Remote) && str("client", rec.Client) &&
		(peer == rec.Remote || str("via", peer)) &&
		rec.Aborted == "" // a reason is prose: slog quotes it
	if !ok {
		return b, false
	}
	if json {
		b = append(b, '}')
	}
	return append(b, '\n'), true
}

// plain reports whether s is empty or made only of plainByte bytes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

// plainByte reports whether c is a byte that slog writes as it is, in a
// string of the text format (not quoted: printable ASCII but space, '"'
// and '=') and of the JSON format (not escaped: printable ASCII but '"' and
// '\\'). TestAppendRequestLineAsSlog checks every ASCII byte.
func plainByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '='
}

// appendRFC3339Millis is slog's text format of a time (log/slog's function
// of that name): RFC 3339 with exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// clock formats the times of access-log lines as slog does, keeping the
// formatted date, time of day to the second and zone of the last second
// it formatted: lines come many a second, and only their fractions
// differ. The zero clock is ready; a nil clock keeps nothing.
type clock struct {
	last atomic.Pointer[second]
}

// second is one second of a clock, formatted.
type second struct {
	unix int64
	loc  *time.Location
	text []byte // "2006-01-02T15:04:05"
	zone []byte // "Z07:00"
}

// appendTime appends t as slog's JSON handler (RFC 3339 with nanoseconds,
// trailing zeros cut) or, without json, its text handler
// (appendRFC3339Millis) writes it.
func (c *clock) appendTime(b []byte, t time.Time, json bool) []byte {
	var s *second
	if c != nil {
		s = c.last.Load()
	}
	if s == nil || s.unix != t.Unix() || s.loc != t.Location() || t.Year() < 1 || t.Year() > 9999 {
		if c == nil || t.Year() < 1 || t.Year() > 9999 {
			if json {
				return t.AppendFormat(b, time.RFC3339Nano)
			}
			return appendRFC3339Millis(b, t)
		}
		s = &second{unix: t.Unix(), loc: t.Location(),
			text: t.AppendFormat(nil, "2006-01-02T15:04:05"), zone: t.AppendFormat(nil, "Z07:00")}
		c.last.Store(s)
	}
	b = append(b, s.text...)
	ns := t.Nanosecond()
	if json {
		if ns != 0 {
			var frac [10]byte
			frac[0] = '.'
			for i, v := 9, ns; i > 0; i, v = i-1, v/10 {
				frac[i] = byte('0' + v%10)
			}
			n := 10
			for frac[n-1] == '0' {
				n--
			}
			b = append(b, frac[:n]...)
		}
	} else {
		ms := ns / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(b, s.zone...)
}
