#!/usr/bin/env bash
# bench/bulk.sh (make bench): webhook ingest latency while a bulk retry of
# 10,000 failed runs is carried out, against the same instance without it,
# in the same run. A CRM flow fails 10,000 leads (its service is down),
# the flow is pointed at a service that answers (cmd/barehook), then the
# bench flow's ingest is measured with wrk for BENCH_DURATION, once alone
# and once right after POST /api/runs/bulk retried every failed lead.
#
# Env knobs: BENCH_DURATION (default 10s), BENCH_BULK_CONNS (default 16),
# BENCH_BULK_RUNS (default 10000, a multiple of 2).
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_BULK_CONNS:-16}
RUNS=${BENCH_BULK_RUNS:-10000}
WARMUP=2s
source bench/lib.sh
need_tools
build_bins

DATA=$TMP/data
BARE_PORT=$(free_port)
SY_PORT=$(free_port)
while [[ $SY_PORT == "$BARE_PORT" ]]; do SY_PORT=$(free_port); done
DOWN_PORT=$(free_port) # nothing listens there: the CRM is down
SY=http://$HOST:$SY_PORT
start_barehook bin/barehook "$BARE_PORT" "$TMP/barehook.log"
start_switchyard bin/switchyard "$DATA" "$SY_PORT" "$TMP/switchyard.log" SWITCHYARD_EGRESS_ALLOW=127.0.0.1/32

api() { # api METHOD PATH [BODY]
	curl -fsS -X "$1" "$SY$2" -H "Authorization: Bearer $SY_TOKEN" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
metric() {
	curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/metrics" | awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}
crm_flow() { # crm_flow URL
	printf '{"id":"crm","name":"Leads to the CRM","enabled":true,"trigger":{"type":"webhook","path":"crm"},"steps":[{"id":"send","use":"http.request","retry":{"attempts":1},"with":{"method":"POST","url":"%s","body":{"email":"{{ trigger.body.email }}"}}}]}' "$1"
}
idle() { # waits until no run is unfinished
	while (($(metric switchyard_runs_pending) > 0)); do sleep 0.2; done
}
parse() { # FILE -> p50 p99 rps
	awk '$1 == "50%" && !a { a = $2 } $1 == "99%" && !b { b = $2 } /^Requests\/sec:/ { r = $2 } END { print a, b, r }' "$1"
}

api POST /api/flows "$(crm_flow "http://$HOST:$DOWN_PORT/contacts")" >/dev/null
log "bench: $RUNS leads fail while the CRM is down"
# wrk waits out its duration even when its threads stopped: stop it once
# every lead was accepted.
BULK_PER_THREAD=$((RUNS / 2)) "${LOAD[@]}" wrk -t2 -c2 -d600s -s bench/bulk.lua "$SY/hooks/crm" >/dev/null &
WRK=$!
prev=-1 now=0
while ((now < RUNS && (now == 0 || now != prev))); do
	prev=$now
	sleep 1
	now=$(metric switchyard_events_accepted_total)
done
kill "$WRK" 2>/dev/null || true
wait "$WRK" 2>/dev/null || true
idle
api PUT /api/flows/crm "$(crm_flow "http://$HOST:$BARE_PORT/hooks/crm")" >/dev/null
plan=$(api POST /api/runs/bulk '{"action":"retry","filter":{"flow":"crm"},"dry_run":true}')
count=$(sed -E 's/.*"count":([0-9]+).*/\1/' <<<"$plan")
log "bench: $count failed runs to retry"

log "bench: ingest alone, c=$CONNS"
"${LOAD[@]}" wrk -t2 -c"$CONNS" -d"$WARMUP" -s bench/post.lua "$SY/hooks/bench" >/dev/null
"${LOAD[@]}" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua "$SY/hooks/bench" >"$TMP/alone.txt"
idle
read -r A50 A99 ARPS < <(parse "$TMP/alone.txt")

log "bench: ingest during the bulk retry, c=$CONNS"
done0=$(metric switchyard_runs_succeeded_total)
t0=$(date +%s.%N)
api POST /api/runs/bulk '{"action":"retry","filter":{"flow":"crm"}}' >"$TMP/bulk.json"
"${LOAD[@]}" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua "$SY/hooks/bench" >"$TMP/during.txt"
read -r D50 D99 DRPS < <(parse "$TMP/during.txt")
# Runs that finished during the window: the bench flow's and the retries.
while [[ $(api GET '/api/runs?flow=crm&status=failed&resolved=false&limit=1') == *'"id"'* ]]; do sleep 0.5; done
t1=$(date +%s.%N)
idle

echo
echo "## Ingest during a bulk retry of $count runs ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "nproc $(nproc), $(go version | awk '{ print $3 }'); wrk ${DURATION}, c=$CONNS, 2 threads, on the bench flow; the retried runs each POST to barehook; $(pin_mode)."
echo
echo "| ingest | rps | p50 | p99 |"
echo "| --- | ---: | ---: | ---: |"
echo "| alone | $ARPS | $A50 | $A99 |"
echo "| during the bulk retry | $DRPS | $D50 | $D99 |"
echo
awk -v a="$t0" -v b="$t1" -v n="$count" 'BEGIN { printf "The bulk retry of %d runs took %.1f s (%.0f runs/s; paced at 200/s at most).\n", n, b - a, n / (b - a) }'
