-- Version 1: the audit log and its daily roll-ups.
-- Times are BIGINT nanoseconds since the Unix epoch (UTC); days are whole
-- days since the epoch, weeks whole weeks (day / 7).
--
-- A record is identified by its ID; the table's key is (time_ns, id),
-- which identifies the same records (a record's ID never comes with
-- another time: a batch written again is the same records) and keeps
-- inserts at the end of the table instead of at a random place of an
-- index of random IDs. SQLite: the tables are clustered on their keys
-- (WITHOUT ROWID), so a key is stored once.

CREATE TABLE audit (
	time_ns     BIGINT NOT NULL,
	id          TEXT NOT NULL,
	client      TEXT NOT NULL DEFAULT '',
	remote      TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT '',
	module      TEXT NOT NULL DEFAULT '',
	module_key  TEXT NOT NULL DEFAULT '', -- lower(module): what module queries narrow on
	version     TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL DEFAULT '',
	status      INTEGER NOT NULL DEFAULT 0,
	bytes       BIGINT NOT NULL DEFAULT 0,
	duration_ns BIGINT NOT NULL DEFAULT 0,
	cache       TEXT NOT NULL DEFAULT '',
	upstream    TEXT NOT NULL DEFAULT '',
	agent       TEXT NOT NULL DEFAULT '',
	replica     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (time_ns, id)
) WITHOUT ROWID;
CREATE INDEX audit_module ON audit (module_key, time_ns, id);
CREATE INDEX audit_client ON audit (client, time_ns, id);
CREATE INDEX audit_status ON audit (status, time_ns, id);

-- The roll-ups are keyed by day first, so that a batch of records of
-- today changes pages of today only (a few), not one page per module;
-- one module's rows are found by a look-up per day of the period.

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
) WITHOUT ROWID;

-- Per day and module, and per week and module (the sums of
-- daily_versions), for top modules: a period reads whole weeks from
-- weekly_modules and only the days at its ends from daily_modules.
CREATE TABLE daily_modules (
	day       INTEGER NOT NULL,
	module    TEXT NOT NULL,
	requests  BIGINT NOT NULL DEFAULT 0,
	downloads BIGINT NOT NULL DEFAULT 0,
	bytes     BIGINT NOT NULL DEFAULT 0,
	hits      BIGINT NOT NULL DEFAULT 0,
	misses    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, module)
) WITHOUT ROWID;
CREATE TABLE weekly_modules (
	week      INTEGER NOT NULL,
	module    TEXT NOT NULL,
	requests  BIGINT NOT NULL DEFAULT 0,
	downloads BIGINT NOT NULL DEFAULT 0,
	bytes     BIGINT NOT NULL DEFAULT 0,
	hits      BIGINT NOT NULL DEFAULT 0,
	misses    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (week, module)
) WITHOUT ROWID;

-- Distinct clients (token name, else address) per day and module.
CREATE TABLE daily_module_clients (
	day    INTEGER NOT NULL,
	module TEXT NOT NULL,
	client TEXT NOT NULL,
	PRIMARY KEY (day, module, client)
) WITHOUT ROWID;

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
) WITHOUT ROWID;
