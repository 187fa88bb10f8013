-- Switchyard's own tables. Times the engine compares exactly (creation,
-- due, dedupe expiry, ticks) are Unix nanoseconds in bigint columns: a
-- timestamptz keeps microseconds only, and a due time read back must equal
-- the one written. Records are kept as the JSON encoding/json writes.

CREATE SEQUENCE sy_ids;

CREATE TABLE sy_meta (
	key   text PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE sy_flows (
	id         text PRIMARY KEY,
	version    bigint NOT NULL,
	flow       bytea NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- Every version of every flow, deleted flows' included, so old runs can
-- still be read and a flow saved again continues its numbers.
CREATE TABLE sy_flow_versions (
	flow_id text NOT NULL,
	version bigint NOT NULL,
	flow    bytea NOT NULL,
	meta    bytea,
	PRIMARY KEY (flow_id, version)
);

CREATE TABLE sy_flow_states (
	id      bigserial PRIMARY KEY,
	flow_id text NOT NULL,
	at_ns   bigint NOT NULL,
	change  bytea NOT NULL
);
CREATE INDEX sy_flow_states_flow ON sy_flow_states (flow_id, at_ns);

CREATE TABLE sy_connections (
	name       text PRIMARY KEY,
	type       text NOT NULL,
	sealed     bytea NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- An event shares its sequence number with the run it started.
CREATE TABLE sy_events (
	seq     bigint PRIMARY KEY,
	flow_id text NOT NULL,
	data    bytea NOT NULL
);

CREATE TABLE sy_runs (
	seq         bigint PRIMARY KEY,
	flow_id     text NOT NULL,
	event_seq   bigint NOT NULL,
	status      text NOT NULL,
	final       boolean NOT NULL,
	created_ns  bigint NOT NULL,
	due_ns      bigint NOT NULL DEFAULT 0,
	retry_of    bigint,
	replay_of   bigint,
	-- resolved_by names the run that resolved this failed one.
	resolved_by bigint,
	summary     bytea NOT NULL,
	data        bytea NOT NULL
);
CREATE INDEX sy_runs_flow ON sy_runs (flow_id, seq);
CREATE INDEX sy_runs_status ON sy_runs (status, seq);
CREATE INDEX sy_runs_event ON sy_runs (event_seq);
CREATE INDEX sy_runs_open ON sy_runs (seq) WHERE NOT final;
CREATE INDEX sy_runs_final_created ON sy_runs (created_ns) WHERE final;
CREATE INDEX sy_runs_unresolved ON sy_runs (seq) WHERE status = 'failed' AND resolved_by IS NULL;
CREATE INDEX sy_runs_retry_of ON sy_runs (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX sy_runs_replay_of ON sy_runs (replay_of) WHERE replay_of IS NOT NULL;

-- Two nodes receiving the same delivery at once: the primary key lets one
-- of them in.
CREATE TABLE sy_dedupe (
	flow_id    text NOT NULL,
	key        text NOT NULL,
	run_seq    bigint NOT NULL,
	expires_ns bigint NOT NULL,
	PRIMARY KEY (flow_id, key)
);
CREATE INDEX sy_dedupe_expires ON sy_dedupe (expires_ns);

-- One row per fired tick: however many nodes fire it, one run.
CREATE TABLE sy_ticks (
	flow_id text NOT NULL,
	tick_ns bigint NOT NULL,
	run_id  text NOT NULL,
	PRIMARY KEY (flow_id, tick_ns)
);

CREATE TABLE sy_poll_state (
	flow_id text PRIMARY KEY,
	state   bytea NOT NULL
);

-- A polled item's key is seen once per flow: it can never start two runs.
CREATE TABLE sy_seen (
	flow_id text NOT NULL,
	key     text NOT NULL,
	seq     bigserial,
	PRIMARY KEY (flow_id, key)
);
CREATE INDEX sy_seen_order ON sy_seen (flow_id, seq);

-- Which node polls a flow, until when.
CREATE TABLE sy_poll_leases (
	flow_id    text PRIMARY KEY,
	node       text NOT NULL,
	expires_at timestamptz NOT NULL
);

-- Refusals and the audit trail are logs numbered as they were stored;
-- flow_id is empty for a refusal of a path no flow listens on.
CREATE TABLE sy_refusals (
	id      bigserial PRIMARY KEY,
	flow_id text NOT NULL,
	at_ns   bigint NOT NULL,
	data    bytea NOT NULL
);
CREATE INDEX sy_refusals_flow ON sy_refusals (flow_id, id);

CREATE TABLE sy_audit (
	id     bigserial PRIMARY KEY,
	action text NOT NULL,
	target text NOT NULL,
	data   bytea NOT NULL
);

CREATE TABLE sy_users (
	name text PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE sy_tokens (
	hash text PRIMARY KEY,
	id   text NOT NULL UNIQUE,
	data bytea NOT NULL
);

CREATE TABLE sy_sessions (
	hash       text PRIMARY KEY,
	expires_at timestamptz NOT NULL,
	data       bytea NOT NULL
);
