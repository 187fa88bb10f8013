#!/usr/bin/env bash
# make bench-soak: memory and disk as history grows. One Switchyard (default
# retention) takes BENCH_SOAK_EVENTS W0 deliveries (default 1,000,000) from
# wrk in short bursts; after each burst that crosses a multiple of
# BENCH_SOAK_STEP (default 50,000) accepted events it samples the server's
# RSS and the data dir's size. Then it lets the engine finish every run,
# waits BENCH_SOAK_IDLE seconds (default 30) and samples the idle RSS. The
# RSS of a fresh, idle server is measured first.
#
# Output: a Markdown table on stdout, the samples as TSV in
# BENCH_SOAK_TSV (default docs/soak.tsv) and a chart of both curves in
# BENCH_SOAK_SVG (default docs/soak.svg), drawn by cmd/soakplot.
# BENCH_PIN=1 pins the server and wrk to separate CPUs (bench/lib.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
EVENTS=${BENCH_SOAK_EVENTS:-1000000}
STEP=${BENCH_SOAK_STEP:-50000}
IDLE=${BENCH_SOAK_IDLE:-30}
CONNS=${BENCH_CONNS:-64}
TSV=${BENCH_SOAK_TSV:-docs/soak.tsv}
SVG=${BENCH_SOAK_SVG:-docs/soak.svg}
source bench/lib.sh
need_tools
build_bins
go build -o bin/soakplot ./cmd/soakplot

PORT=$(free_port)
SY=http://$HOST:$PORT
DATA=$TMP/data
start_switchyard bin/switchyard "$DATA" "$PORT" "$TMP/switchyard.log"
probe "$SY/hooks/bench"

metric() { sy_metric "$PORT" "$SY_TOKEN" "$1"; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SY_PID/status"; }
disk_mib() { du -sk "$DATA" | awk '{ printf "%.1f", $1 / 1024 }'; }
accepted() { metric switchyard_events_accepted_total | awk '{ printf "%d", $1 }'; }

sleep 5
FRESH=$(rss_mib)
log "soak: fresh idle RSS ${FRESH} MiB; sending $EVENTS events at c=$CONNS"
printf 'events\trss_mib\tdisk_mib\n' >"$TSV"
printf '%d\t%s\t%s\n' 0 "$FRESH" "$(disk_mib)" >>"$TSV"
next=$STEP
start=$SECONDS
PEAK=0
while :; do
	"${LOAD[@]}" wrk -t2 -c"$CONNS" -d2s -s "$LUA" "$SY/hooks/bench" >/dev/null
	n=$(accepted)
	r=$(rss_mib)
	PEAK=$(awk -v a="$PEAK" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
	if ((n >= next)); then
		printf '%d\t%s\t%s\n' "$n" "$r" "$(disk_mib)" >>"$TSV"
		log "soak: $n events, RSS $r MiB (Go heap in use $(metric go_memstats_heap_inuse_bytes | awk '{ printf "%.1f", $1 / 1048576 }') MiB), runs pending $(metric switchyard_runs_pending), data dir $(disk_mib) MiB ($((SECONDS - start)) s)"
		while ((next <= n)); do next=$((next + STEP)); done
	fi
	((n >= EVENTS)) && break
done
LOADED=$(rss_mib)
log "soak: waiting for the engine to finish its runs"
while (($(metric switchyard_runs_pending | awk '{ printf "%d", $1 }') > 0)); do sleep 1; done
# The search indexer works through what the load left behind after the
# runs finished: idle is when the server used under 2 % of a CPU for 5 s.
log "soak: waiting for background work (the search index) to finish"
while :; do
	c0=$(cpu_ticks "$SY_PID")
	sleep 5
	(($(cpu_ticks "$SY_PID") - c0 < $(getconf CLK_TCK) / 10)) && break
done
sleep "$IDLE"
IDLE_RSS=$(rss_mib)
# What the idle RSS holds: the Go heap and stacks (anonymous) and pages of
# the database map (file-backed, dropped every 5 s while nothing touches
# them).
IDLE_ANON=$(awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$SY_PID/status")
IDLE_FILE=$(awk '/^RssFile:/ { printf "%.1f", $2 / 1024 }' "/proc/$SY_PID/status")
IDLE_HEAP=$(metric go_memstats_heap_inuse_bytes | awk '{ printf "%.1f", $1 / 1048576 }')
DISK=$(disk_mib)
# Where the disk goes: the write-ahead log, the database file, and how
# much of the file is free pages bbolt will reuse (GET /api/history).
WAL_MIB=$(du -sk "$DATA/wal" | awk '{ printf "%.1f", $1 / 1024 }')
SPACE=$(curl -fsS -H "Authorization: Bearer $SY_TOKEN" "$SY/api/history")
FILE_MIB=$(grep -o '"file_bytes":[0-9]*' <<<"$SPACE" | awk -F: '{ printf "%.1f", $2 / 1048576 }')
FREE_MIB=$(grep -o '"free_bytes":[0-9]*' <<<"$SPACE" | awk -F: '{ printf "%.1f", $2 / 1048576 }')
N=$(accepted)
bin/soakplot -title "Switchyard soak: $N W0 events, $(pin_mode)" <"$TSV" >"$SVG"

echo
echo "## Soak: $N W0 events at c=$CONNS ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc); $(pin_mode))"
echo
echo "| measure | value | target (issue 16) |"
echo "| --- | ---: | ---: |"
echo "| RSS idle, fresh start | $FRESH MiB | ≤ 30 MiB |"
echo "| RSS under load, peak of the samples | $PEAK MiB | ≤ 128 MiB |"
echo "| RSS at the end of the load | $LOADED MiB | |"
echo "| RSS idle afterwards (${IDLE} s after the runs and the search index finished) | $IDLE_RSS MiB | ≤ 48 MiB |"
echo "| of which anonymous (Go heap in use: $IDLE_HEAP MiB) / file-backed | $IDLE_ANON / $IDLE_FILE MiB | |"
echo "| data dir | $DISK MiB | |"
echo "| of which the write-ahead log | $WAL_MIB MiB | |"
echo "| of which the database file (free pages in it) | $FILE_MIB MiB ($FREE_MIB MiB) | |"
awk -v d="$DISK" -v n="$N" 'BEGIN { printf "| bytes on disk per event, history included | %.0f | ≤ 500 |\n", d * 1048576 / n }'
echo
echo "Samples: $TSV; chart: $SVG."
