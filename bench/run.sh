#!/usr/bin/env bash
# make bench: durable async webhook ingest (every 202 means the event is
# fsync'd in the write-ahead log) against a bare Fiber handler that stores nothing
# (cmd/barehook), on the same machine, interleaved per concurrency level.
#
# Env knobs:
#   BENCH_DURATION  measured time per run (default 10s; a 2s warm-up precedes it)
#   BENCH_CONNS     concurrency levels, space separated (default "1 16 64")
#   BENCH_DRAIN     how long to wait for the engine to finish the runs it
#                   accepted before the next level (default 60, seconds)
#
# Exits 0 whether or not the targets are met: it is a benchmark, not a test.
# It exits non-zero only when something fails to build, start or run.
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-"1 16 64"}
DRAIN=${BENCH_DRAIN:-60}
WARMUP=2s
source bench/lib.sh
need_tools
build_bins

# --- servers -----------------------------------------------------------------
DATA=$TMP/data
BARE_PORT=$(free_port)
SY_PORT=$(free_port)
while [[ $SY_PORT == "$BARE_PORT" ]]; do SY_PORT=$(free_port); done
BARE=http://$HOST:$BARE_PORT
SY=http://$HOST:$SY_PORT

start_barehook bin/barehook "$BARE_PORT" "$TMP/barehook.log"
start_switchyard bin/switchyard "$DATA" "$SY_PORT" "$TMP/switchyard.log"
probe "$BARE/hooks/bench"
probe "$SY/hooks/bench"

# --- measuring ---------------------------------------------------------------
# metric NAME prints the value of one switchyard metric (0 when absent).
metric() { sy_metric "$SY_PORT" "$SY_TOKEN" "$1"; }

# to_ms converts a wrk duration (123.45us, 1.2ms, 1.00s, 2.00m) to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

# warm URL CONNS and run_wrk URL CONNS FILE: the warm-up, then the
# measurement into FILE.
threads_for() { if (($1 < 2)); then echo "$1"; else echo 2; fi; }
warm() {
	"${LOAD[@]}" wrk -t"$(threads_for "$2")" -c"$2" -d"$WARMUP" -s "$LUA" "$1" >/dev/null
}
run_wrk() {
	"${LOAD[@]}" wrk -t"$(threads_for "$2")" -c"$2" -d"$DURATION" --latency -s "$LUA" "$1" >"$3"
}

declare -A RAW_B RAW_S RPS_B RPS_S P50_B P99_B P50_S P99_S BAD_B BAD_S SAT_S SOCK DRAINED
log "bench: ${DURATION} per run after a ${WARMUP} warm-up; concurrency levels: $CONNS"
for c in $CONNS; do
	log "bench: c=$c barehook"
	warm "$BARE/hooks/bench" "$c"
	run_wrk "$BARE/hooks/bench" "$c" "$TMP/bare-$c.txt"
	read -r RPS_B[$c] RAW_B[$c] P50_B[$c] P99_B[$c] BAD_B[$c] sb < <(parse_wrk "$TMP/bare-$c.txt")

	log "bench: c=$c switchyard"
	warm "$SY/hooks/bench" "$c"
	sat0=$(metric switchyard_events_refused_saturated_total)
	run_wrk "$SY/hooks/bench" "$c" "$TMP/sy-$c.txt"
	read -r RPS_S[$c] RAW_S[$c] P50_S[$c] P99_S[$c] BAD_S[$c] ss < <(parse_wrk "$TMP/sy-$c.txt")
	SAT_S[$c]=$(($(metric switchyard_events_refused_saturated_total) - sat0))
	SOCK[$c]=$((sb + ss))
	[[ -n ${RAW_B[$c]} && -n ${RAW_S[$c]} ]] || { cat "$TMP/bare-$c.txt" "$TMP/sy-$c.txt" >&2; die "could not parse wrk output"; }
	DRAINED[$c]=$(wait_drained "$DRAIN" "$SY_PORT" "$SY_TOKEN")
	log "bench: c=$c done (engine drained its queue in ${DRAINED[$c]}s)"
done

# --- report ------------------------------------------------------------------
fmt_lat() { printf '%s / %s' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "## Switchyard durable ingest vs bare Fiber ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "nproc $(nproc), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(go version | awk '{ print $3 }'), kernel $(uname -r); wrk ${DURATION} per run, 2 threads (1 at c=1), ${WARMUP} warm-up; $(pin_mode)."
echo
echo "rps counts 2xx answers only; latencies are wrk's percentiles over all answers."
echo
echo "| concurrency | bare rps | switchyard rps | ratio | bare p50 / p99 | switchyard p50 / p99 | non-2xx (bare / switchyard) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in $CONNS; do
	printf '| %s | %.0f | %.0f | %s | %s | %s | %s / %s |\n' "$c" "${RPS_B[$c]}" "${RPS_S[$c]}" \
		"$(ratio "${RPS_S[$c]}" "${RPS_B[$c]}")" "$(fmt_lat "${P50_B[$c]}" "${P99_B[$c]}")" \
		"$(fmt_lat "${P50_S[$c]}" "${P99_S[$c]}")" "${BAD_B[$c]}" "${BAD_S[$c]}"
done
echo

for c in $CONNS; do
	if ((SAT_S[$c] > 0)); then
		printf -- '- c=%s: %s deliveries got 429: the engine queue saturated (queue limit reached); wrk counted %.0f req/s with them, the table only the 2xx.\n' "$c" "${SAT_S[$c]}" "${RAW_S[$c]}"
	fi
	if ((BAD_B[$c] > 0)); then
		echo "- c=$c: ${BAD_B[$c]} non-2xx answers from barehook (should be none)."
	fi
	if ((BAD_S[$c] > SAT_S[$c])); then
		echo "- c=$c: $((BAD_S[$c] - SAT_S[$c])) non-2xx answers from switchyard that were not 429 (see the server log)."
	fi
	if ((SOCK[$c] > 0)); then
		echo "- c=$c: ${SOCK[$c]} socket errors reported by wrk."
	fi
done

echo
echo "Targets:"
if [[ -n ${RPS_S[64]:-} ]]; then
	r=$(ratio "${RPS_S[64]}" "${RPS_B[64]}")
	v=$(awk -v r="$r" 'BEGIN { print (r + 0 >= 0.5) ? "PASS" : "FAIL" }')
	echo "- throughput ratio >= 0.5 at c=64: $r -> $v"
else
	echo "- throughput ratio >= 0.5 at c=64: not measured (BENCH_CONNS has no 64)"
fi
if [[ -n ${P99_S[16]:-} ]]; then
	ms=$(to_ms "${P99_S[16]}")
	v=$(awk -v m="$ms" 'BEGIN { print (m + 0 < 10) ? "PASS" : "FAIL" }')
	echo "- switchyard p99 < 10 ms at c=16: ${ms} ms -> $v"
else
	echo "- switchyard p99 < 10 ms at c=16: not measured (BENCH_CONNS has no 16)"
fi

echo
accepted=$(metric switchyard_events_accepted_total)
succeeded=$(metric switchyard_runs_succeeded_total)
failed=$(metric switchyard_runs_failed_total)
pending=$(metric switchyard_runs_pending)
echo "Engine after the run: accepted $accepted events, runs succeeded $succeeded, failed $failed, pending $pending."
echo "Queue drain after each level (seconds, limit ${DRAIN}): $(for c in $CONNS; do printf 'c=%s %ss  ' "$c" "${DRAINED[$c]}"; done)"
echo "Data dir: $(du -sh "$DATA" | awk '{ print $1 }') ($(du -h "$DATA/switchyard.db" | awk '{ print $1 }') switchyard.db)"
