-- Version 6: when each module version was last downloaded (any of its
-- .info, .mod or .zip served), as the servers' access trackers flush it in
-- batches (every 30 seconds and at shutdown), for the garbage collector's
-- retention and least-recently-downloaded order. A row is only ever moved
-- forward in time.
CREATE TABLE access_times (
	module  TEXT NOT NULL,
	version TEXT NOT NULL,
	last_ns BIGINT NOT NULL,
	PRIMARY KEY (module, version)
);
