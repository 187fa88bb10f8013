-- wrk script for `make bench`: every request is a small JSON webhook
-- delivery, the shape the bench flow reads (trigger.body.id, .total).
wrk.method = "POST"
wrk.body = '{"id":"o-123","total":42}'
wrk.headers["Content-Type"] = "application/json"
