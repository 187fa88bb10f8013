-- A connection's rate limit ({"requests": n, "per": "1s"}), shared by every
-- step that uses it; NULL: none.
ALTER TABLE sy_connections ADD COLUMN rate jsonb;
