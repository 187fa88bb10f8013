-- wrk script for bench/flood.sh: a malformed JSON delivery (cut short),
-- which the webhook refuses with 400 and records as a refusal.
wrk.method = "POST"
wrk.body = '{"id":"o-123","email":"ada@example.com","total":'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer flood-credential"
