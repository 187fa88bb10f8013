#!/usr/bin/env bash
# bench/ab.sh OLD NEW: two builds of switchyard at the webhook level, in the
# same minutes, so that a change is judged against the noise of the machine
# it runs on. Both serve at once, each with its own data dir; every round
# measures both with wrk (rounds alternate which goes first), and waits
# until both have executed every run they accepted before the next
# measurement. Prints one table row per measurement (bench/lib.sh measure:
# rps, latency, server CPU per 2xx) and the medians.
#
#   go build -o /tmp/sy-old ./cmd/switchyard   # at the old commit
#   go build -o /tmp/sy-new ./cmd/switchyard   # at the new one
#   bash bench/ab.sh /tmp/sy-old /tmp/sy-new
#
# Env knobs: AB_ROUNDS (default 5), BENCH_DURATION (default 10s),
# BENCH_CONNS (default 64), BENCH_DRAIN (default 60 s), AB_WORKLOAD (W0,
# the default: the bench flow; W1: the flow of bench/peers.sh answered after
# its HTTP call, against a barehook target), AB_DRAINED (1: server CPU per
# event from wrk's start until the server drained, so that deferred work
# such as the search indexer's counts; see bench/lib.sh measure_drained).
set -euo pipefail

cd "$(dirname "$0")/.."
(($# == 2)) || { echo "usage: bash bench/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
OLD_BIN=$(realpath "$1")
NEW_BIN=$(realpath "$2")
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
ROUNDS=${AB_ROUNDS:-5}
DRAIN=${BENCH_DRAIN:-60}
source bench/lib.sh
need_tools

OLD_PORT=$(free_port)
NEW_PORT=$(free_port)
while [[ $NEW_PORT == "$OLD_PORT" ]]; do NEW_PORT=$(free_port); done
WORKLOAD=${AB_WORKLOAD:-W0}
HOOK=bench
EXTRA_ENV=()
if [[ $WORKLOAD == W1 ]]; then
	mkdir -p bin && go build -o bin/barehook ./cmd/barehook
	start_w1_target
	HOOK=w1
	EXTRA_ENV=(SWITCHYARD_EGRESS_ALLOW="$HOST:$TARGET_PORT")
fi
start_switchyard "$OLD_BIN" "$TMP/old" "$OLD_PORT" "$TMP/old.log" "${EXTRA_ENV[@]}"
OLD_PID=$SY_PID
OLD_TOKEN=$SY_TOKEN
start_switchyard "$NEW_BIN" "$TMP/new" "$NEW_PORT" "$TMP/new.log" "${EXTRA_ENV[@]}"
NEW_PID=$SY_PID
NEW_TOKEN=$SY_TOKEN
if [[ $WORKLOAD == W1 ]]; then
	create_w1_flow "$OLD_PORT" "$OLD_TOKEN"
	create_w1_flow "$NEW_PORT" "$NEW_TOKEN"
fi

log "bench: A/B of $WORKLOAD at c=$CONNS, $ROUNDS rounds of $DURATION each (after a 2 s warm-up)"
echo "## A/B of $WORKLOAD at the webhook level ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "old: $OLD_BIN, new: $NEW_BIN; nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; wrk -t2 -c$CONNS, $DURATION per measurement."
echo
# AB_DRAINED=1 counts each build's CPU until it has drained
# (measure_drained): the figure for work deferred past the measurement.
if [[ ${AB_DRAINED:-0} == 1 ]]; then
	measure_drained_header build | tee "$TMP/rows.md"
	cpu_col=6 cpu_what="per event, drained"
else
	measure_header build | tee "$TMP/rows.md"
	cpu_col=8 cpu_what="per 2xx"
fi
for r in $(seq 1 "$ROUNDS"); do
	order=(old new)
	((r % 2 == 0)) && order=(new old)
	for which in "${order[@]}"; do
		# Neither build's backlog of runs may share the CPU with the next.
		wait_drained "$DRAIN" "$OLD_PORT" "$OLD_TOKEN" "$NEW_PORT" "$NEW_TOKEN" >/dev/null
		pid=$OLD_PID port=$OLD_PORT token=$OLD_TOKEN
		[[ $which == new ]] && pid=$NEW_PID port=$NEW_PORT token=$NEW_TOKEN
		if [[ ${AB_DRAINED:-0} == 1 ]]; then
			measure_drained "$which" "$pid" "$port" "$token" "$CONNS"
		else
			measure "$which" "$pid" "http://$HOST:$port/hooks/$HOOK" "$CONNS"
		fi | tee -a "$TMP/rows.md"
	done
done
echo
# The medians of rps and of server CPU per 2xx (drained: per event), per
# build.
awk -F'|' -v cpu_col="$cpu_col" -v cpu_what="$cpu_what" '
	NR > 2 && ($2 ~ /old/ || $2 ~ /new/) {
		b = ($2 ~ /old/) ? "old" : "new"
		n[b]++; rps[b, n[b]] = $3 + 0; cpu[b, n[b]] = $cpu_col + 0
	}
	function median(a, b, k,   i, j, t, v) {
		for (i = 1; i <= k; i++) v[i] = a[b, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	END {
		ro = median(rps, "old", n["old"]); rn = median(rps, "new", n["new"])
		co = median(cpu, "old", n["old"]); cn = median(cpu, "new", n["new"])
		printf "- median rps: old %.0f, new %.0f (%+.1f %%)\n", ro, rn, 100 * (rn - ro) / ro
		printf "- median server CPU %s: old %.1f µs, new %.1f µs (%+.1f %%)\n", cpu_what, co, cn, 100 * (cn - co) / co
	}' "$TMP/rows.md"
