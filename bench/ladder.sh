#!/usr/bin/env bash
# make bench-ladder: where the distance to a bare Fiber handler goes. The
# same load (wrk, BENCH_CONNS connections, default 64) against:
#
#   bare  cmd/barehook: Fiber answering 202, nothing else
#   1     switchyard whose webhook handler answers 202 at once: Fiber with
#         Switchyard's middleware and routes
#   2     ... answers 202 after everything it does before storing: flow
#         lookup, body limit, media type and JSON checks, headers and query
#         copied, the event built
#   3     ... stores the event and its queued run durably (write-ahead log,
#         fdatasync before the 202, bbolt behind it) but never runs it
#   4     switchyard as shipped: stored, run, run history written
#
# Levels 1-3 come from bench/ladder.patch applied to a copy of the working
# tree (the shipped code has no such switches); each level gets a fresh
# data dir. Besides rps it reports the CPU seconds the server and wrk
# used, and how busy the whole machine was: the kernel's share of loopback
# networking and of disk syncs shows up only there.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
source bench/lib.sh
need_tools
build_bins
SRC=$TMP/src
mkdir -p "$SRC"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$SRC"
ROOT=$(pwd)
(cd "$SRC" && git apply "$ROOT/bench/ladder.patch") ||
	die "bench/ladder.patch does not apply any more: make the same changes by hand and save git diff as the patch"
(cd "$SRC" && go build -o "$TMP/ladder" ./cmd/switchyard)

# machine_ticks prints "busy total" clock ticks of all CPUs from /proc/stat.
machine_ticks() { awk '/^cpu / { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print t - idle, t }' /proc/stat; }

# measure NAME PID URL: warm-up, then wrk; prints a table row.
measure() {
	local name=$1 pid=$2 url=$3 out=$TMP/wrk-$1.txt s0 s1 b0 t0 b1 t1 w
	probe "$url"
	wrk -t2 -c"$CONNS" -d2s -s "$LUA" "$url" >/dev/null
	s0=$(cpu_ticks "$pid")
	read -r b0 t0 < <(machine_ticks)
	w=$( { /usr/bin/time -f '%U %S' wrk -t2 -c"$CONNS" -d"$DURATION" -s "$LUA" "$url" >"$out"; } 2>&1 | tail -1)
	read -r b1 t1 < <(machine_ticks)
	s1=$(cpu_ticks "$pid")
	awk -v name="$name" -v s=$((s1 - s0)) -v w="$w" -v busy=$((b1 - b0)) -v total=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		END {
			split(w, wu, " ")
			ok = (n > 0) ? n - bad : 0
			printf "| %s | %.0f | %d | %.1f | %.1f | %.1f | %.0f %% |\n", name, rps * ok / (n > 0 ? n : 1), bad, \
				s / hz, wu[1] + wu[2], (ok > 0 ? s / hz / ok * 1e6 : 0), 100 * busy / total
		}' "$out"
}

PORT=$(free_port)
echo
echo "## Ladder: c=$CONNS, wrk ${DURATION} per level ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc))"
echo
echo "| level | rps (2xx) | non-2xx | server CPU s | wrk CPU s | server CPU µs per 2xx | machine busy |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
start_barehook bin/barehook "$PORT" "$TMP/bare.log"
measure bare "$BARE_PID" "http://$HOST:$PORT/hooks/bench"
kill "$BARE_PID"
wait "$BARE_PID" 2>/dev/null || true
for level in 1 2 3 4; do
	PORT=$(free_port)
	bin=$TMP/ladder
	[[ $level == 4 ]] && bin=bin/switchyard
	start_switchyard "$bin" "$TMP/data-$level" "$PORT" "$TMP/sy-$level.log" SWITCHYARD_LADDER=$level
	measure "$level" "$SY_PID" "http://$HOST:$PORT/hooks/bench"
	kill "$SY_PID"
	wait "$SY_PID" 2>/dev/null || true
done
