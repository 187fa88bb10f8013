-- The data store (kv.go): values by namespace and key, in byte order
-- (COLLATE "C", as the embedded store lists them); what each namespace
-- holds, for its limits; and the names of the steps' writes, so a step
-- run again after a crash does not write twice.

CREATE TABLE sy_kv (
	namespace text COLLATE "C" NOT NULL,
	key       text COLLATE "C" NOT NULL,
	value     bytea NOT NULL,
	updated   bigint NOT NULL,
	expires   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (namespace, key)
);
CREATE INDEX sy_kv_expires ON sy_kv (expires) WHERE expires <> 0;

CREATE TABLE sy_kv_usage (
	namespace text COLLATE "C" PRIMARY KEY,
	keys      int NOT NULL,
	bytes     bigint NOT NULL
);

CREATE TABLE sy_kv_once (
	name   text PRIMARY KEY,
	at     bigint NOT NULL,
	result bytea NOT NULL
);
CREATE INDEX sy_kv_once_at ON sy_kv_once (at);
