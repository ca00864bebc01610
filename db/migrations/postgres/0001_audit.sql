-- Version 1: the audit log and its daily roll-ups.
-- PostgreSQL: the path and key columns compare bytewise (COLLATE "C"), as
-- SQLite's do, so that prefix ranges and path order are the same on both.
-- Times are BIGINT nanoseconds since the Unix epoch (UTC); days are whole
-- days since the epoch.

CREATE TABLE audit (
	id          TEXT COLLATE "C" PRIMARY KEY,
	time_ns     BIGINT NOT NULL,
	client      TEXT NOT NULL DEFAULT '',
	remote      TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT '',
	module      TEXT NOT NULL DEFAULT '',
	module_key  TEXT COLLATE "C" NOT NULL DEFAULT '', -- lower(module): what module queries narrow on
	version     TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL DEFAULT '',
	status      INTEGER NOT NULL DEFAULT 0,
	bytes       BIGINT NOT NULL DEFAULT 0,
	duration_ns BIGINT NOT NULL DEFAULT 0,
	cache       TEXT NOT NULL DEFAULT '',
	upstream    TEXT NOT NULL DEFAULT '',
	agent       TEXT NOT NULL DEFAULT '',
	replica     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_time ON audit (time_ns, id);
CREATE INDEX audit_module ON audit (module_key, time_ns, id);
CREATE INDEX audit_client ON audit (client, time_ns, id);
CREATE INDEX audit_remote ON audit (remote, time_ns, id);
CREATE INDEX audit_status ON audit (status, time_ns, id);

-- Per day, module and version.
CREATE TABLE daily_versions (
	day       INTEGER NOT NULL,
	module    TEXT NOT NULL,
	version   TEXT NOT NULL,
	requests  BIGINT NOT NULL DEFAULT 0,
	downloads BIGINT NOT NULL DEFAULT 0,
	bytes     BIGINT NOT NULL DEFAULT 0,
	hits      BIGINT NOT NULL DEFAULT 0,
	misses    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, module, version)
);
CREATE INDEX daily_versions_module ON daily_versions (module, day);

-- Per day and module (the sums of daily_versions), for top modules.
CREATE TABLE daily_modules (
	day       INTEGER NOT NULL,
	module    TEXT NOT NULL,
	requests  BIGINT NOT NULL DEFAULT 0,
	downloads BIGINT NOT NULL DEFAULT 0,
	bytes     BIGINT NOT NULL DEFAULT 0,
	hits      BIGINT NOT NULL DEFAULT 0,
	misses    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, module)
);

-- Distinct clients (token name, else address) per day and module.
CREATE TABLE daily_module_clients (
	day    INTEGER NOT NULL,
	module TEXT NOT NULL,
	client TEXT NOT NULL,
	PRIMARY KEY (day, module, client)
);
CREATE INDEX daily_module_clients_module ON daily_module_clients (module, day);

-- The whole mirror per day.
CREATE TABLE daily_totals (
	day       INTEGER PRIMARY KEY,
	requests  BIGINT NOT NULL DEFAULT 0,
	downloads BIGINT NOT NULL DEFAULT 0,
	bytes     BIGINT NOT NULL DEFAULT 0,
	hits      BIGINT NOT NULL DEFAULT 0,
	misses    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE daily_clients (
	day    INTEGER NOT NULL,
	client TEXT NOT NULL,
	PRIMARY KEY (day, client)
);
