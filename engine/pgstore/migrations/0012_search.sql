-- Search of runs by payload (issue 12): the terms of each run
-- (engine.SearchTerms of its event and step outputs), written with the run
-- and with its final checkpoint, found through a GIN index; they go with
-- the row under retention. Runs stored before this migration have none.
ALTER TABLE sy_runs ADD COLUMN terms text[] NOT NULL DEFAULT '{}';
CREATE INDEX sy_runs_terms ON sy_runs USING gin (terms);
