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

PORT=$(free_port)
echo
echo "## Ladder: c=$CONNS, wrk ${DURATION} per level ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc))"
echo
measure_header level
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
