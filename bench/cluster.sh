#!/usr/bin/env bash
# make bench-cluster: durable webhook ingest into PostgreSQL (serve
# --database) with one node and with two, against one bbolt node, in the
# same run with the same load generator and the bench flow (one data.set
# step). Each configuration gets a fresh database (or data dir); wrk runs
# DURATION at CONNS connections (split evenly over the nodes: one wrk per
# node, run at once), then the script waits until every accepted run
# finished. CPU per event counts every run to its end: the switchyard
# processes' and PostgreSQL's (all its processes on this machine) from the
# start of the measurement to the end of the drain, over the events
# acknowledged.
#
# Env knobs:
#   BENCH_DURATION      measured time per configuration (default 10s)
#   BENCH_CONNS         connections in all (default 64)
#   BENCH_DATABASE_URL  a PostgreSQL server to create databases on
#                       (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   BENCH_DRAIN         seconds to wait for the runs to finish (default 120)
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
DRAIN=${BENCH_DRAIN:-120}
BASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
source bench/lib.sh
need_tools
command -v psql >/dev/null 2>&1 || die "psql not found (Debian: apt-get install postgresql-client)"
log "bench: building bin/switchyard"
mkdir -p bin
go build -o bin/switchyard ./cmd/switchyard
export SWITCHYARD_SECRET_KEY
SWITCHYARD_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
HZ=$(getconf CLK_TCK)

# pg_ticks prints the CPU ticks of every PostgreSQL process on the machine.
pg_ticks() {
	local t=0 pid
	for pid in $(pgrep -x postgres || true); do
		t=$((t + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# db_url NAME prints BASE_URL with its database replaced by NAME.
db_url() {
	local noq=${BASE_URL%%\?*} q=""
	[[ $BASE_URL == *\?* ]] && q="?${BASE_URL#*\?}"
	echo "${noq%/*}/$1$q"
}

# new_db NAME creates an empty database (dropping an older one).
new_db() {
	psql -q "$BASE_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

# start_node NAME STORE_FLAGS...: starts one node, sets NODE_PID and NODE_PORT.
start_node() {
	local name=$1
	shift
	NODE_PORT=$(free_port)
	"${SRV[@]}" bin/switchyard serve --addr "$HOST:$NODE_PORT" --log-level warn "$@" >"$TMP/$name.log" 2>&1 &
	NODE_PID=$!
	PIDS+=("$NODE_PID")
	wait_ready "http://$HOST:$NODE_PORT/readyz" "$NODE_PID" "$name" "$TMP/$name.log" 600 || exit 1
}

# pending URL TOKEN prints the cluster's unfinished runs.
pending() {
	curl -fsS -H "Authorization: Bearer $2" "$1/metrics" | awk '$1 == "switchyard_runs_pending" { print $2; f = 1 } END { if (!f) print 0 }'
}

# run_config NAME NODES STORE_FLAGS...: starts NODES nodes on one store,
# creates the flow, measures; prints a table row.
run_config() {
	local name=$1 nodes=$2 token pids=() urls=() i
	shift 2
	case "$1" in
	--data) token=$(bin/switchyard token create --name bench --data "$2") ;;
	--database) token=$(bin/switchyard token create --name bench --database "$2") ;;
	esac
	for i in $(seq 1 "$nodes"); do
		start_node "$name-$i" "$@"
		pids+=("$NODE_PID")
		urls+=("http://$HOST:$NODE_PORT")
	done
	curl -fsS -o /dev/null -X POST "${urls[0]}/api/flows" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' --data "$BENCH_FLOW"
	sleep 1 # the other nodes hear of the flow through NOTIFY
	for u in "${urls[@]}"; do probe "$u/hooks/bench"; done
	local per=$((CONNS / nodes)) s0=0 p0 s1=0 p1 start waited
	local wpids=()
	for u in "${urls[@]}"; do
		"${LOAD[@]}" wrk -t1 -c"$per" -d2s -s "$LUA" "$u/hooks/bench" >/dev/null &
		wpids+=($!)
	done
	wait "${wpids[@]}"
	while (($(pending "${urls[0]}" "$token") > 0)); do sleep 0.2; done
	for p in "${pids[@]}"; do s0=$((s0 + $(cpu_ticks "$p"))); done
	p0=$(pg_ticks)
	i=0
	for u in "${urls[@]}"; do
		"${LOAD[@]}" wrk -t1 -c"$per" -d"$DURATION" --latency -s "$LUA" "$u/hooks/bench" >"$TMP/$name-$i.txt" &
		wpids+=($!)
		i=$((i + 1))
	done
	wait "${wpids[@]:${#urls[@]}}"
	start=$SECONDS
	while (($(pending "${urls[0]}" "$token") > 0)) && ((SECONDS - start < DRAIN)); do sleep 0.2; done
	waited=$((SECONDS - start))
	for p in "${pids[@]}"; do s1=$((s1 + $(cpu_ticks "$p"))); done
	p1=$(pg_ticks)
	local ok=0 rps=0 p99="" f
	for f in "$TMP/$name"-*.txt; do
		read -r o r _ q _ _ < <(parse_wrk "$f")
		ok=$(awk -v a="$ok" -v b="$o" 'BEGIN { print a + b }')
		p99="$p99${p99:+ / }$q"
	done
	local events
	events=$(awk -v r="$ok" -v d="${DURATION%s}" 'BEGIN { printf "%d", r * d }')
	awk -v name="$name" -v nodes="$nodes" -v ok="$ok" -v p99="$p99" -v s=$((s1 - s0)) -v pg=$((p1 - p0)) -v hz="$HZ" -v ev="$events" -v waited="$waited" '
		BEGIN {
			us = (ev > 0) ? 1e6 / hz / ev : 0
			printf "| %s | %d | %.0f | %s | %.0f | %.0f | %.0f | %d s |\n", name, nodes, ok, p99, s * us, pg * us, (s + pg) * us, waited
		}'
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}

ROWS=()
ROWS+=("$(run_config bbolt 1 --data "$TMP/data")")
new_db sybench1
ROWS+=("$(run_config postgres 1 --database "$(db_url sybench1)")")
new_db sybench2
ROWS+=("$(run_config postgres 2 --database "$(db_url sybench2)")")
psql -q "$BASE_URL" -c "DROP DATABASE IF EXISTS sybench1 WITH (FORCE)" -c "DROP DATABASE IF EXISTS sybench2 WITH (FORCE)" >/dev/null

echo
echo "## Cluster ingest: bbolt vs PostgreSQL with 1 and 2 nodes ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "nproc $(nproc), $(go version | awk '{ print $3 }'), $(psql -tA "$BASE_URL" -c 'SHOW server_version' | awk '{ print "PostgreSQL " $1 }') on the same machine; wrk ${DURATION}, ${CONNS} connections in all (split over the nodes), bench flow (one data.set step); $(pin_mode)."
echo
echo "CPU µs per event: from the start of the measurement until every accepted run finished, over the events acknowledged."
echo
echo "| store | nodes | rps (2xx) | p99 (per node) | switchyard CPU µs/event | PostgreSQL CPU µs/event | total CPU µs/event | drain after |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
