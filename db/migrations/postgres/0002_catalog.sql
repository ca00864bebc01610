-- Version 2: the catalog of stored artifacts, the alert history, and the
-- distinct module paths of the audit log (so that a module pattern query
-- finds the paths it matches without scanning the log).

CREATE TABLE audit_modules (
	module_key TEXT COLLATE "C" PRIMARY KEY
);
INSERT INTO audit_modules (module_key)
	SELECT DISTINCT module_key FROM audit WHERE module_key <> '';

CREATE TABLE catalog (
	module             TEXT COLLATE "C" NOT NULL,
	version            TEXT COLLATE "C" NOT NULL,
	file               TEXT NOT NULL,
	size               BIGINT NOT NULL,
	stored_ns          BIGINT NOT NULL,
	last_downloaded_ns BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (module, version, file)
);

-- One row per catalogued module, kept in step with catalog.
CREATE TABLE catalog_modules (
	module             TEXT COLLATE "C" PRIMARY KEY,
	module_key         TEXT COLLATE "C" NOT NULL, -- lower(module), for substring search
	versions           BIGINT NOT NULL,
	objects            BIGINT NOT NULL,
	bytes              BIGINT NOT NULL,
	last_stored_ns     BIGINT NOT NULL,
	last_downloaded_ns BIGINT NOT NULL
);

CREATE TABLE alert_events (
	id      BIGSERIAL PRIMARY KEY,
	time_ns BIGINT NOT NULL,
	rule    TEXT NOT NULL,
	state   TEXT NOT NULL,
	akey    TEXT NOT NULL DEFAULT '',
	value   DOUBLE PRECISION NOT NULL DEFAULT 0,
	text    TEXT NOT NULL DEFAULT '',
	labels  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_time ON alert_events (time_ns, id);
