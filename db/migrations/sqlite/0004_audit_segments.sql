-- Version 4: the audit log is stored as segments, one row per written
-- batch (of one writer) holding its records encoded compactly (see
-- db/segment.go), instead of one row per record with three indexes: a
-- batch of 256 records is then one row and a few small index rows, not
-- 256 rows and about 700 index entries, which made the writer cost as
-- much CPU per request as the request itself.
--
-- writer, lo and hi serve WriteAudit's duplicate check: for records with
-- the Recorder's IDs, writer is their prefix and lo..hi the range of
-- their sequence numbers; for other IDs, writer is '' and lo..hi the
-- segment's time range. first_ns..last_ns is the time range of the
-- segment's records; QueryAudit reads segments by last_ns, newest first.
--
-- audit_segment_keys lists, per segment, the distinct module keys
-- (kind 1, lower(module)), token names (kind 2) and status classes
-- (kind 3, status / 100 as text) of its records: a query for a module,
-- a client or a status class reads only the segments that can hold a
-- match. first_ns is the segment's at the time it was written (a prune
-- that cuts a segment leaves it lower, which only costs a look at it).
--
-- The records of the audit table are moved into segments by the Go code
-- of this migration (db/migrate.go), in the same transaction, and the
-- table is dropped.

CREATE TABLE audit_segments (
	id       INTEGER PRIMARY KEY,
	writer   TEXT NOT NULL,
	lo       BIGINT NOT NULL,
	hi       BIGINT NOT NULL,
	first_ns BIGINT NOT NULL,
	last_ns  BIGINT NOT NULL,
	records  INTEGER NOT NULL,
	data     BLOB NOT NULL
);
CREATE INDEX audit_segments_time ON audit_segments (last_ns, id);
CREATE INDEX audit_segments_writer ON audit_segments (writer, hi);

CREATE TABLE audit_segment_keys (
	kind     INTEGER NOT NULL,
	key      TEXT NOT NULL,
	last_ns  BIGINT NOT NULL,
	segment  BIGINT NOT NULL,
	first_ns BIGINT NOT NULL,
	PRIMARY KEY (kind, key, last_ns, segment)
) WITHOUT ROWID;

-- The whole mirror per minute (minutes since the epoch), for the
-- console's rates over the last hours: written with the daily roll-ups
-- by WriteAudit, pruned with the records (PruneAudit).
CREATE TABLE minute_totals (
	minute   BIGINT PRIMARY KEY,
	requests BIGINT NOT NULL DEFAULT 0,
	hits     BIGINT NOT NULL DEFAULT 0,
	misses   BIGINT NOT NULL DEFAULT 0,
	bytes    BIGINT NOT NULL DEFAULT 0,
	errors   BIGINT NOT NULL DEFAULT 0 -- status 500 to 599
);
INSERT INTO minute_totals (minute, requests, hits, misses, bytes, errors)
	SELECT (time_ns - CASE WHEN time_ns < 0 THEN 59999999999 ELSE 0 END) / 60000000000,
		COUNT(*),
		SUM(CASE WHEN cache IN ('hit', 'stale') THEN 1 ELSE 0 END),
		SUM(CASE WHEN cache IN ('miss', 'fresh') THEN 1 ELSE 0 END),
		SUM(bytes),
		SUM(CASE WHEN status >= 500 AND status <= 599 THEN 1 ELSE 0 END)
	FROM audit GROUP BY 1;
