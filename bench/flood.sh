#!/usr/bin/env bash
# make bench: webhook acknowledgement latency with and without a concurrent
# flood of malformed deliveries, in the same run against the same server.
# Three modes a round, so that drift of the machine hits all alike:
#   quiet      the measured client alone;
#   unrecorded the same flood to /hooks-test/flooded, which answers 404 and
#              records nothing: what serving a flood costs at all;
#   recorded   the flood to /hooks/flooded: 400 (malformed JSON), each a
#              refusal, recorded up to 512/s and counted beyond.
# recorded against unrecorded is the price of the refusal log.
#
# Env knobs:
#   BENCH_DURATION  measured time per round (default 10s, after a 2s warm-up)
#   FLOOD_CONNS     connections of the measured client (default 8)
#   FLOOD_FLOOD     connections of the flooding client (default 16)
#   FLOOD_ROUNDS    quiet+flooded pairs (default 2)
#
# Exits 0 whether or not the latency holds: it is a benchmark, not a test.
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
C=${FLOOD_CONNS:-8}
F=${FLOOD_FLOOD:-16}
ROUNDS=${FLOOD_ROUNDS:-2}
WARMUP=2s
source bench/lib.sh
need_tools
log "bench: building bin/switchyard"
mkdir -p bin
go build -o bin/switchyard ./cmd/switchyard

PORT=$(free_port)
SY=http://$HOST:$PORT
start_switchyard bin/switchyard "$TMP/data" "$PORT" "$TMP/switchyard.log"
FLOODED='{"id":"flooded","name":"Flooded","enabled":true,"trigger":{"type":"webhook","path":"flooded"},"steps":[{"id":"s","use":"data.set","with":{"x":1}}]}'
curl -fsS -o /dev/null -X POST "$SY/api/flows" -H "Authorization: Bearer $SY_TOKEN" -H 'Content-Type: application/json' --data "$FLOODED"
probe "$SY/hooks/bench"

metric() {
	curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/metrics" | awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}
drain() {
	local start=$SECONDS
	while (($(metric switchyard_runs_pending) > 0)) && ((SECONDS - start < 60)); do sleep 0.2; done
}
# parse FILE prints: rps p50 p99 non2xx.
parse() {
	awk '
		/^Requests\/sec:/ { rps = $2 }
		$1 == "50%" && !p50 { p50 = $2 }
		$1 == "99%" && !p99 { p99 = $2 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		END { printf "%s %s %s %d\n", rps, p50, p99, bad }
	' "$1"
}

ROWS=()
for r in $(seq 1 "$ROUNDS"); do
	for mode in quiet unrecorded recorded; do
		log "bench: round $r $mode"
		wrk -t2 -c"$C" -d"$WARMUP" -s bench/post.lua "$SY/hooks/bench" >/dev/null
		fpid=
		if [[ $mode != quiet ]]; then
			target=$SY/hooks/flooded
			[[ $mode == unrecorded ]] && target=$SY/hooks-test/flooded
			wrk -t1 -c"$F" -d"$((${DURATION%s} + 4))s" -s bench/malformed.lua "$target" >"$TMP/flood-$r.txt" &
			fpid=$!
			sleep 1
		fi
		wrk -t2 -c"$C" -d"$DURATION" --latency -s bench/post.lua "$SY/hooks/bench" >"$TMP/$mode-$r.txt"
		if [[ -n $fpid ]]; then
			wait "$fpid"
			read -r frps _ _ fbad < <(parse "$TMP/flood-$r.txt")
		else
			frps=0 fbad=0
		fi
		read -r rps p50 p99 bad < <(parse "$TMP/$mode-$r.txt")
		ROWS+=("| $r | $mode | $rps | $p50 / $p99 | $bad | $frps |")
		drain
	done
done

refused=$(curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/api/flows/flooded/refusals?limit=500" | grep -o '"id":' | wc -l)
total=$(curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/api/refusals?limit=500" | grep -o '"id":' | wc -l)
leaked=$(curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/api/refusals?limit=500" | grep -c 'flood-credential' || true)

echo
echo "## Webhook ack latency under a flood of malformed deliveries ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "nproc $(nproc), $(go version | awk '{ print $3 }'); measured client: wrk -t2 -c$C, ${DURATION} a round after a ${WARMUP} warm-up, valid deliveries to a webhook flow; flood: wrk -t1 -c$F of malformed JSON, started 1 s before and ending after the measured client, to /hooks-test/flooded (unrecorded: 404, nothing recorded) or to the flow /hooks/flooded (recorded: 400, each a refusal). wrk, the flood and the server share the 2 CPUs, so a flood slows ingest by taking CPU whatever it is; the price of recording is recorded against unrecorded."
echo
echo "| round | mode | ack rps (2xx) | p50 / p99 | non-2xx | flood rps |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "Refusals recorded: switchyard_webhooks_refused_total $(metric switchyard_webhooks_refused_total), switchyard_refusals_unrecorded_total $(metric switchyard_refusals_unrecorded_total); kept: $refused for the flooded flow (bound 200), $total listed in all (first page of 500); the flood's Authorization header shown $leaked times."
