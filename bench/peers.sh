#!/usr/bin/env bash
# make bench-peers: Switchyard next to its peers under the same load: the
# bench flow (a webhook whose body is reshaped by one step, answered 2xx)
# built in Node-RED and in n8n, each the only server running while it is
# measured, plus cmd/barehook as the floor of the machine.
#
# The peers are installed with npm into a cache outside the repository
# (BENCH_PEERS_CACHE, default ~/.cache/switchyard-bench-peers) at pinned
# versions; a peer that does not install or start here is reported and
# skipped. What each acknowledges differs, and the table says so:
#   switchyard  202 once the event is fsync'd (write-ahead log); the run
#               executes afterwards and its history is kept
#   node-red    202 after the flow ran in memory; nothing is stored
#   n8n         202 on receipt ("respond immediately"); the execution is
#               saved in its SQLite database afterwards (default single
#               process, SQLite with the pool n8n recommends: WAL mode)
#
# Two workloads, as issue 16 names them:
#   W0  the bench flow above, answered 202 (Switchyard: once durable)
#   W1  webhook -> condition -> template -> HTTP out to a target -> reply,
#       answered after the outgoing call (Switchyard: a sync webhook; the
#       target is cmd/barehook, run beside wrk). n8n is measured on W0 only.
#
# BENCH_STORES="bolt pg" measures Switchyard on PostgreSQL too (one node,
# a fresh database on BENCH_DATABASE_URL; the table's CPU is the node's
# alone, PostgreSQL's own is not in it: bench/cluster.sh counts both).
#
# Env knobs: BENCH_DURATION (default 10s), BENCH_CONNS (default "16 64"),
# BENCH_PEERS (default "node-red n8n"), BENCH_PIN=1 (servers on one CPU,
# wrk and the W1 target on the other; see bench/lib.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${BENCH_DURATION:-10s}
CONN_LEVELS=${BENCH_CONNS:-"16 64"}
PEERS=${BENCH_PEERS:-"node-red n8n"}
STORES=${BENCH_STORES:-bolt}
PG_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
if [[ " $STORES " == *" pg "* ]]; then
	export SWITCHYARD_SECRET_KEY
	SWITCHYARD_SECRET_KEY=${SWITCHYARD_SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}
fi
CACHE=${BENCH_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard-bench-peers}
# Node-RED 4.1 is the newest line that runs on Node.js 20 (5.x needs 22.9).
NODE_RED_VERSION=4.1.15
# n8n 1.x runs on Node.js 20. Two dependencies are overridden: xlsx, which
# n8n names by an address outside the registry, with the registry's xlsx;
# isolated-vm, whose version there does not compile against Node.js 20's
# V8, with 4.7.2, which does. The first install takes a few minutes.
N8N_VERSION=1.123.81
source bench/lib.sh
need_tools
build_bins
if ! command -v npm >/dev/null 2>&1; then
	log "bench: npm not found: the peers are installed with it; skipping the comparison"
	exit 0
fi

# install_peer NAME PACKAGE VERSION [OVERRIDES_JSON]: npm install into
# $CACHE/NAME unless that version is there; prints the folder, or nothing
# when the install failed.
install_peer() {
	local name=$1 pkg=$2 version=$3 overrides=${4:-"{}"} dir=$CACHE/$1
	if [[ -f $dir/node_modules/$pkg/package.json ]] &&
		[[ $(node -p "require('$dir/node_modules/$pkg/package.json').version") == "$version" ]]; then
		echo "$dir"
		return
	fi
	log "bench: installing $pkg@$version with npm (once; cached in $dir)"
	rm -rf "$dir"
	mkdir -p "$dir"
	printf '{"name":"bench-%s","private":true,"dependencies":{"%s":"%s"},"overrides":%s}\n' \
		"$name" "$pkg" "$version" "$overrides" >"$dir/package.json"
	if (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >"$dir/install.log" 2>&1); then
		echo "$dir"
	else
		log "bench: $pkg@$version did not install here (see $dir/install.log); skipping it"
	fi
}

# start_node_red DIR PORT sets PEER_PID.
start_node_red() {
	local user=$TMP/node-red
	mkdir -p "$user"
	cp bench/peers/node-red-flows.json "$user/flows.json"
	"${SRV[@]}" "$1/node_modules/.bin/node-red" -u "$user" -s bench/peers/node-red-settings.js -p "$2" >"$TMP/node-red.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	wait_ready "http://$HOST:$2/hooks/bench" "$PEER_PID" node-red "$TMP/node-red.log" 300 "${POST_ARGS[@]}"
}

# start_n8n DIR PORT sets PEER_PID.
start_n8n() {
	local dir=$1 port=$2
	export N8N_USER_FOLDER=$TMP/n8n N8N_PORT=$port N8N_LISTEN_ADDRESS=$HOST \
		N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false \
		N8N_PERSONALIZATION_ENABLED=false N8N_TEMPLATES_ENABLED=false N8N_HIRING_BANNER_ENABLED=false \
		N8N_LOG_LEVEL=warn N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false \
		EXECUTIONS_DATA_SAVE_ON_SUCCESS=all N8N_RUNNERS_ENABLED=false DB_SQLITE_POOL_SIZE=4
	mkdir -p "$N8N_USER_FOLDER"
	# Imported workflows arrive inactive: activate it before the start.
	{ "$dir/node_modules/.bin/n8n" import:workflow --input=bench/peers/n8n-workflow.json &&
		"$dir/node_modules/.bin/n8n" update:workflow --id=benchflow000001 --active=true; } >"$TMP/n8n-import.log" 2>&1 ||
		{ cat "$TMP/n8n-import.log" >&2; return 1; }
	"${SRV[@]}" "$dir/node_modules/.bin/n8n" start >"$TMP/n8n.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	wait_ready "http://$HOST:$port/webhook/bench" "$PEER_PID" n8n "$TMP/n8n.log" 600 "${POST_ARGS[@]}"
}

# POST_ARGS make wait_ready deliver a webhook: peers have no readiness
# endpoint in common.
POST_ARGS=(-X POST -H 'Content-Type: application/json' --data '{"id":"o-1","total":1}')

stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

NR_DIR= N8N_DIR=
[[ " $PEERS " == *" node-red "* ]] && NR_DIR=$(install_peer node-red node-red "$NODE_RED_VERSION")
[[ " $PEERS " == *" n8n "* ]] && N8N_DIR=$(install_peer n8n n8n "$N8N_VERSION" '{"xlsx":"0.18.5","isolated-vm":"4.7.2"}')

echo
start_w1_target

echo "## Peers: the bench flows under wrk, ${DURATION} per server ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), node $(node --version); $(pin_mode))"
for CONNS in $CONN_LEVELS; do
	echo
	echo "c=$CONNS"
	echo
	measure_header server
	PORT=$(free_port)
	start_barehook bin/barehook "$PORT" "$TMP/bare.log"
	measure barehook "$BARE_PID" "http://$HOST:$PORT/hooks/bench"
	stop "$BARE_PID"

	for store in $STORES; do
		PORT=$(free_port)
		rm -rf "$TMP/data"
		DATA=$TMP/data
		if [[ $store == pg ]]; then
			psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS sybenchpeers WITH (FORCE)" -c "CREATE DATABASE sybenchpeers" >/dev/null
			DATA=${PG_URL%%\?*}
			DATA="${DATA%/*}/sybenchpeers$([[ $PG_URL == *\?* ]] && echo "?${PG_URL#*\?}")"
		fi
		start_switchyard bin/switchyard "$DATA" "$PORT" "$TMP/switchyard.log" SWITCHYARD_EGRESS_ALLOW="$HOST:$TARGET_PORT"
		create_w1_flow "$PORT" "$SY_TOKEN"
		SY_NAME="switchyard $(bin/switchyard version | awk '{ print $2 }')"
		[[ $store == pg ]] && SY_NAME="$SY_NAME on PostgreSQL"
		measure "$SY_NAME W0" "$SY_PID" "http://$HOST:$PORT/hooks/bench"
		# W0's runs still queued would run during W1's measurement.
		wait_drained 60 "$PORT" "$SY_TOKEN" >/dev/null
		measure "$SY_NAME W1" "$SY_PID" "http://$HOST:$PORT/hooks/w1"
		stop "$SY_PID"
	done

	if [[ -n $NR_DIR ]]; then
		PORT=$(free_port)
		if start_node_red "$NR_DIR" "$PORT"; then
			measure "node-red $NODE_RED_VERSION W0" "$PEER_PID" "http://$HOST:$PORT/hooks/bench"
			measure "node-red $NODE_RED_VERSION W1" "$PEER_PID" "http://$HOST:$PORT/hooks/w1"
		fi
		stop "$PEER_PID"
	fi
	if [[ -n $N8N_DIR ]]; then
		PORT=$(free_port)
		rm -rf "$TMP/n8n"
		if start_n8n "$N8N_DIR" "$PORT"; then
			measure "n8n $N8N_VERSION" "$PEER_PID" "http://$HOST:$PORT/webhook/bench"
		fi
		stop "$PEER_PID"
	fi
done

echo
echo "Ratios (same run; 2xx per second):"
for CONNS in $CONN_LEVELS; do
	for w in W0 W1; do
		sy=$(measured_rps "switchyard $(bin/switchyard version | awk '{ print $2 }') $w" "$CONNS")
		nr=$(measured_rps "node-red $NODE_RED_VERSION $w" "$CONNS")
		pg=$(measured_rps "switchyard $(bin/switchyard version | awk '{ print $2 }') on PostgreSQL $w" "$CONNS")
		if [[ -n $pg && -n $nr ]]; then
			awk -v c="$CONNS" -v w="$w" -v a="$pg" -v b="$nr" 'BEGIN { printf "- c=%s %s: switchyard on PostgreSQL / node-red = %.2f\n", c, w, (b > 0 ? a / b : 0) }'
		fi
		if [[ -n $sy && -n $nr ]]; then
			awk -v c="$CONNS" -v w="$w" -v a="$sy" -v b="$nr" 'BEGIN { printf "- c=%s %s: switchyard / node-red = %.2f\n", c, w, (b > 0 ? a / b : 0) }'
		fi
	done
done
