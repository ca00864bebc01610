package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Session is a sign-in session of the web console. The database knows it
// by IDHash, the hash of its secret ID, never by the ID itself.
type Session struct {
	IDHash    string
	TokenName string
	Role      string
	// TokenFP is a fingerprint of the token's entry in the tokens file
	// when the session was opened (auth), not the token.
	TokenFP string
	Created time.Time
	Expires time.Time
}

// PutSession stores s.
func (d *DB) PutSession(ctx context.Context, s Session) error {
	_, err := d.w.ExecContext(ctx, d.d.rebind(`INSERT INTO console_sessions (id_hash, token_name, role, token_fp, created_ns, expires_ns)
		VALUES (?, ?, ?, ?, ?, ?)`), s.IDHash, s.TokenName, s.Role, s.TokenFP, s.Created.UnixNano(), s.Expires.UnixNano())
	if err != nil {
		return fmt.Errorf("db: storing a session: %w", err)
	}
	return nil
}

// Session returns the session whose ID hashes to idHash, if it has not
// expired at now; an error wrapping fs.ErrNotExist otherwise.
func (d *DB) Session(ctx context.Context, idHash string, now time.Time) (Session, error) {
	s := Session{IDHash: idHash}
	var created, expires int64
	err := d.r.QueryRowContext(ctx, d.d.rebind(`SELECT token_name, role, token_fp, created_ns, expires_ns
		FROM console_sessions WHERE id_hash = ? AND expires_ns > ?`), idHash, now.UnixNano()).
		Scan(&s.TokenName, &s.Role, &s.TokenFP, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("db: no such session: %w", fs.ErrNotExist)
	}
	if err != nil {
		return s, fmt.Errorf("db: reading a session: %w", err)
	}
	s.Created, s.Expires = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	return s, nil
}

// DeleteSession ends the session whose ID hashes to idHash (nothing if
// there is none).
func (d *DB) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := d.w.ExecContext(ctx, d.d.rebind(`DELETE FROM console_sessions WHERE id_hash = ?`), idHash); err != nil {
		return fmt.Errorf("db: deleting a session: %w", err)
	}
	return nil
}

// TrimSessions deletes the sessions of the token named tokenName but
// the keep newest (by Created, then IDHash), expired or not, and returns
// how many it deleted: the bound on one token's sessions.
func (d *DB) TrimSessions(ctx context.Context, tokenName string, keep int) (int64, error) {
	res, err := d.w.ExecContext(ctx, d.d.rebind(`DELETE FROM console_sessions WHERE token_name = ? AND id_hash NOT IN
		(SELECT id_hash FROM console_sessions WHERE token_name = ? ORDER BY created_ns DESC, id_hash DESC LIMIT ?)`),
		tokenName, tokenName, max(keep, 0))
	if err != nil {
		return 0, fmt.Errorf("db: trimming sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteExpiredSessions forgets the sessions expired at now and returns
// how many.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, d.d.rebind(`DELETE FROM console_sessions WHERE expires_ns <= ?`), now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("db: deleting expired sessions: %w", err)
	}
	return res.RowsAffected()
}
