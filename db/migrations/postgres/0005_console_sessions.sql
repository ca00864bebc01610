-- Version 5: the web console's sign-in sessions. A session is known by the
-- SHA-256 hash of its ID (the cookie's value, which is never stored), and
-- names the token it was opened with, its role then, and a fingerprint of
-- the token's entry in the tokens file (a hash of its hash): the session
-- ends when that token is removed, replaced or loses its role. The token
-- itself is never stored.
CREATE TABLE console_sessions (
	id_hash TEXT PRIMARY KEY,
	token_name TEXT NOT NULL,
	role TEXT NOT NULL,
	token_fp TEXT NOT NULL,
	created_ns BIGINT NOT NULL,
	expires_ns BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_ns);
