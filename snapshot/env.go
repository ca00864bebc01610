package snapshot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// Environments.
//
// An environment is the history of its records under
// layout.EnvPrefix(name), one storage object per promotion or rollback,
// each written once (never replaced). A record's ID starts with a
// fixed-width time in nanoseconds, later than its parent's (the record in
// force when it was written), so lexical order is the order of the
// history, and the last record is the one in force: a promotion is one
// atomic write that every replica sees on its next read (Current). Two
// promotions of one environment at the same moment both stay in the
// history; the later in lexical order is in force, and the other's writer
// gets a *ConflictError saying so (see there for the case no writer can
// detect).

// Actions of a record.
const (
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// MaxPrevious bounds the snapshots a record keeps to roll back to.
const MaxPrevious = 100

// maxRecordBytes bounds a record's JSON.
const maxRecordBytes = 64 << 10

// Record is one promotion or rollback of an environment.
type Record struct {
	ID       string    `json:"-"` // from its key: <20-digit nanoseconds>-<16 hex digits>
	Env      string    `json:"env"`
	Snapshot string    `json:"snapshot"` // the snapshot in force from this record on
	Action   string    `json:"action"`   // ActionPromote or ActionRollback
	Time     time.Time `json:"time"`
	By       string    `json:"by,omitempty"`
	// Parent is the ID of the record in force when this one was written
	// ("" for the first).
	Parent string `json:"parent,omitempty"`
	// Previous are the snapshots a rollback returns to, the most recent
	// first (at most MaxPrevious).
	Previous []string `json:"previous,omitempty"`
}

// ConflictError is a promotion or rollback that is not in force right
// after it was written, because another one of the same environment was
// written at the same moment with a later ID: both are in the history,
// and Other is the one in force.
//
// Undetectable: a promotion that read the record in force before this
// one was written but writes its own record after this one checked
// (Current) replaces it without either writer being told: this one
// succeeded (it was in force when it returned), the other too (its
// record names as parent the record this one replaced, which the history
// shows).
type ConflictError struct {
	Env           string
	Written       *Record // this call's record
	Other         string  // the ID of the record in force
	OtherSnapshot string  // its snapshot
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("environment %s changed while %s %s was written (record %s): record %s, %s, is in force; see its history",
		e.Env, e.Written.Action, e.Written.Snapshot, e.Written.ID, e.Other, e.OtherSnapshot)
}

// EnvNotFoundError is an environment with no record (a "not found").
type EnvNotFoundError struct{ Name string }

func (e *EnvNotFoundError) Error() string { return "not found: no environment " + e.Name }

// Unwrap makes an EnvNotFoundError a "not found".
func (e *EnvNotFoundError) Unwrap() error { return fs.ErrNotExist }

// recordIDs returns the IDs of env's records, in order; others under its
// prefix are ignored.
func recordIDs(ctx context.Context, s storage.Storage, env string) ([]string, error) {
	prefix := layout.EnvPrefix(env)
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return idsOf(prefix, keys), nil
}

// idsOf returns the record IDs among keys (under prefix), in their order.
func idsOf(prefix string, keys []string) []string {
	ids := keys[:0]
	for _, k := range keys {
		id, ok := strings.CutSuffix(strings.TrimPrefix(k, prefix), ".json")
		if ok && strings.HasPrefix(k, prefix) && validID(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// validID reports whether id is a record ID: 20 digits, '-', 16 lower-case
// hex digits.
func validID(id string) bool {
	if len(id) != 37 || id[20] != '-' {
		return false
	}
	for i, c := range []byte(id) {
		switch {
		case i == 20:
		case i < 20 && '0' <= c && c <= '9':
		case i > 20 && ('0' <= c && c <= '9' || 'a' <= c && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

func idTime(id string) int64 {
	n, _ := strconv.ParseInt(id[:20], 10, 64)
	return n
}

func readRecord(ctx context.Context, s storage.Storage, env, id string) (*Record, error) {
	obj, err := s.Get(ctx, layout.EnvRecordKey(env, id))
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(storage.ContextReader(ctx, obj.Body), maxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecordBytes {
		return nil, fmt.Errorf("environment %s record %s: larger than %d bytes", env, id, maxRecordBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	r := &Record{}
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("environment %s record %s: %w", env, id, err)
	}
	r.ID = id
	if err := r.checkRecord(env); err != nil {
		return nil, fmt.Errorf("environment %s record %s: %w", env, id, err)
	}
	return r, nil
}

// checkRecord checks what a record of env read from storage says.
func (r *Record) checkRecord(env string) error {
	switch {
	case r.Env != env:
		return fmt.Errorf("invalid: it names environment %q", r.Env)
	case ValidName(r.Snapshot) != nil:
		return fmt.Errorf("invalid snapshot name %q", r.Snapshot)
	case len(r.Previous) > MaxPrevious:
		return errors.New("invalid: too many previous snapshots")
	case r.Action != ActionPromote && r.Action != ActionRollback:
		return fmt.Errorf("invalid action %q", r.Action)
	case r.Parent != "" && !validID(r.Parent):
		return fmt.Errorf("invalid parent %q", r.Parent)
	case len(r.By) > MaxTextLen || !printable(r.By):
		return errors.New("invalid: by too long or not printable")
	}
	for _, p := range r.Previous {
		if ValidName(p) != nil {
			return fmt.Errorf("invalid previous snapshot %q", p)
		}
	}
	return nil
}

// Current returns the record in force of env: the last of its history.
// An environment with none is an *EnvNotFoundError.
//
// It costs a few keys whatever the history's length: it reads env's head
// (a copy of the record its writer found in force, written after the
// record) and lists the keys from the head's record on
// (storage.ListAfter): the head's record there and nothing after it means
// the head is in force; a later record (a writer that stopped before
// moving the head, or a head moved back by a slower writer) is read; a
// missing or unreadable head, or one whose record is not listed, means a
// listing of the whole history.
func Current(ctx context.Context, s storage.Storage, env string) (*Record, error) {
	if ValidName(env) != nil {
		return nil, &EnvNotFoundError{env}
	}
	prefix := layout.EnvPrefix(env)
	head, err := readHead(ctx, s, env)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if head != nil {
		// From just before the head's record key, so that it is listed.
		keys, err := storage.ListAfter(ctx, s, prefix, prefix+head.ID)
		if err != nil {
			return nil, err
		}
		ids := idsOf(prefix, keys)
		switch {
		case len(ids) > 0 && ids[len(ids)-1] == head.ID:
			return head, nil
		case len(ids) > 0 && ids[0] == head.ID:
			return readRecord(ctx, s, env, ids[len(ids)-1])
		}
		// The head's record is not there: do without the head.
	}
	ids, err := recordIDs(ctx, s, env)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, &EnvNotFoundError{env}
	}
	return readRecord(ctx, s, env, ids[len(ids)-1])
}

// head is the JSON form of an environment's head: a record with its ID.
type head struct {
	ID string `json:"id"`
	*Record
}

// readHead returns env's head, a "not found" if it has none or it is not
// a valid record of env.
func readHead(ctx context.Context, s storage.Storage, env string) (*Record, error) {
	obj, err := s.Get(ctx, layout.EnvHeadKey(env))
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(storage.ContextReader(ctx, obj.Body), maxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	h := head{Record: &Record{}}
	if len(data) > maxRecordBytes || json.Unmarshal(data, &h) != nil || !validID(h.ID) || h.checkRecord(env) != nil {
		return nil, fs.ErrNotExist // rewritten by the next promotion
	}
	h.Record.ID = h.ID
	return h.Record, nil
}

// writeHead makes r env's head.
func writeHead(ctx context.Context, s storage.Storage, r *Record) error {
	data, err := json.Marshal(head{ID: r.ID, Record: r})
	if err != nil {
		return err
	}
	return storage.PutBytes(ctx, s, layout.EnvHeadKey(r.Env), append(data, '\n'))
}

// History returns env's records, oldest first, at most the last max of
// them (all if max <= 0).
func History(ctx context.Context, s storage.Storage, env string, max int) ([]*Record, error) {
	if ValidName(env) != nil {
		return nil, &EnvNotFoundError{env}
	}
	ids, err := recordIDs(ctx, s, env)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, &EnvNotFoundError{env}
	}
	if max > 0 && len(ids) > max {
		ids = ids[len(ids)-max:]
	}
	out := make([]*Record, 0, len(ids))
	for _, id := range ids {
		r, err := readRecord(ctx, s, env, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Envs returns the names of the environments that have a record, sorted.
func Envs(ctx context.Context, s storage.Storage) ([]string, error) {
	keys, err := s.List(ctx, layout.EnvDir+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, k := range keys {
		name, _, ok := strings.Cut(strings.TrimPrefix(k, layout.EnvDir+"/"), "/")
		if ok && ValidName(name) == nil && (len(names) == 0 || names[len(names)-1] != name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// Promote makes snap (which must exist) the snapshot in force of env,
// creating env if it has no record, with one new record; by names who did
// it. See ConflictError for promotions at the same moment.
func Promote(ctx context.Context, s storage.Storage, env, snap, by string) (*Record, error) {
	if err := ValidName(env); err != nil {
		return nil, err
	}
	if _, err := Get(ctx, s, snap); err != nil {
		return nil, err
	}
	cur, err := Current(ctx, s, env)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	r := &Record{Env: env, Snapshot: snap, Action: ActionPromote, By: by}
	if cur != nil {
		r.Parent = cur.ID
		r.Previous = append([]string{cur.Snapshot}, cur.Previous...)
		if len(r.Previous) > MaxPrevious {
			r.Previous = r.Previous[:MaxPrevious]
		}
	}
	return r, write(ctx, s, r)
}

// Rollback puts back in force in env the snapshot that was before the
// current one (the current record's Previous[0]), with one new record.
// It fails if there is none or it has been deleted.
func Rollback(ctx context.Context, s storage.Storage, env, by string) (*Record, error) {
	cur, err := Current(ctx, s, env)
	if err != nil {
		return nil, err
	}
	if len(cur.Previous) == 0 {
		return nil, fmt.Errorf("environment %s has no earlier snapshot to roll back to", env)
	}
	snap := cur.Previous[0]
	if _, err := Get(ctx, s, snap); err != nil {
		return nil, fmt.Errorf("rolling environment %s back to %s: %w", env, snap, err)
	}
	r := &Record{Env: env, Snapshot: snap, Action: ActionRollback, By: by, Parent: cur.ID,
		Previous: append([]string(nil), cur.Previous[1:]...)}
	return r, write(ctx, s, r)
}

// write stores r as a new record after its parent, then checks that it
// is the one in force (see ConflictError).
func write(ctx context.Context, s storage.Storage, r *Record) error {
	if err := r.checkRecord(r.Env); err != nil {
		return fmt.Errorf("environment %s: %w", r.Env, err)
	}
	now := time.Now()
	t := now.UnixNano()
	if r.Parent != "" && t <= idTime(r.Parent) {
		t = idTime(r.Parent) + 1 // a clock behind the parent's writer's
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	r.ID = fmt.Sprintf("%020d-%s", t, hex.EncodeToString(rnd[:]))
	r.Time = now.UTC()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := storage.PutBytes(ctx, s, layout.EnvRecordKey(r.Env, r.ID), append(data, '\n')); err != nil {
		return err
	}
	cur, err := Current(ctx, s, r.Env)
	if err != nil {
		return fmt.Errorf("environment %s: reading the record in force after writing %s: %w", r.Env, r.ID, err)
	}
	if cur.ID != r.ID {
		return &ConflictError{Env: r.Env, Written: r, Other: cur.ID, OtherSnapshot: cur.Snapshot}
	}
	// Done: the head only saves readers a listing (Current).
	if err := writeHead(ctx, s, r); err != nil {
		return fmt.Errorf("environment %s: %s is in force, but moving its head: %w", r.Env, r.ID, err)
	}
	return nil
}
