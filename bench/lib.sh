# Shared by bench/run.sh and bench/ladder.sh: tools, ports, servers, the
# bench flow. Source it after `set -euo pipefail`; it sets HOST, TMP (removed
# on exit, with every server started through start_server killed) and LUA.

HOST=127.0.0.1
LUA=bench/post.lua
# BENCH_FLOW is the flow every level measures: a webhook and one data.set
# step that reads trigger.body.id and trigger.body.total.
BENCH_FLOW='{"id":"bench","name":"Bench","enabled":true,"trigger":{"type":"webhook","path":"bench"},"steps":[{"id":"shape","use":"data.set","with":{"order":"{{ trigger.body.id }}","total":"{{ trigger.body.total }}"}}]}'

# BENCH_PIN=1 runs every server on one CPU (BENCH_SERVER_CPU, default 0) and
# the load generator on another (BENCH_LOAD_CPU, default 1) with taskset, so
# that the server's numbers are not shared with wrk's and one-core behaviour
# (how the server waits under concurrency) shows. SRV and LOAD are the
# command prefixes; they are empty when nothing is pinned.
SRV=() LOAD=()
if [[ ${BENCH_PIN:-0} == 1 ]]; then
	command -v taskset >/dev/null 2>&1 || { printf 'bench: BENCH_PIN=1 needs taskset (util-linux)\n' >&2; exit 1; }
	SRV=(taskset -c "${BENCH_SERVER_CPU:-0}")
	LOAD=(taskset -c "${BENCH_LOAD_CPU:-1}")
fi

# pin_mode prints how servers and load share the CPUs, for the reports.
pin_mode() {
	if ((${#SRV[@]})); then
		echo "pinned: servers on CPU ${BENCH_SERVER_CPU:-0}, wrk on CPU ${BENCH_LOAD_CPU:-1}"
	else
		echo "unpinned: wrk and the servers share the CPUs"
	fi
}

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# need_tools installs wrk and curl with apt-get when they are missing.
need_tools() {
	local need=()
	command -v wrk >/dev/null 2>&1 || need+=(wrk)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	if ((${#need[@]})); then
		log "bench: installing ${need[*]} with apt-get"
		command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${need[*]} by hand"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
}

# build_bins builds bin/switchyard and bin/barehook.
build_bins() {
	log "bench: building bin/switchyard and bin/barehook"
	mkdir -p bin
	go build -o bin/switchyard ./cmd/switchyard
	go build -o bin/barehook ./cmd/barehook
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_ready URL PID NAME LOGFILE [TENTHS [CURL_ARGS...]]: waits (default
# 10 s) until URL answers 2xx to curl with CURL_ARGS (a GET without them).
# It fails, after showing the log's tail, if PID exits or time runs out.
wait_ready() {
	local url=$1 pid=$2 name=$3 logf=$4 tries=${5:-100}
	shift $(($# < 5 ? $# : 5))
	for _ in $(seq 1 "$tries"); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -20 "$logf" >&2 || true
			log "bench: $name exited before it was ready"
			return 1
		fi
		if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$logf" >&2 || true
	log "bench: $name not ready at $url"
	return 1
}

# start_switchyard BIN DATA PORT LOG [ENV=VALUE...]: DATA is a data dir or
# a PostgreSQL URL. Creates an API token in DATA (before the server holds the data dir's lock), starts BIN serve on
# PORT, waits for /readyz and creates the bench flow. It sets SY_PID and
# SY_TOKEN.
start_switchyard() {
	local bin=$1 data=$2 port=$3 logf=$4
	shift 4
	local token code store=(--data "$data")
	# A postgres:// URL instead of a dir runs the node on PostgreSQL
	# (SWITCHYARD_SECRET_KEY must be set, as for any cluster node).
	[[ $data == postgres://* ]] && store=(--database "$data")
	token=$("$bin" token create --name bench "${store[@]}")
	[[ -n $token ]] || die "token create printed nothing"
	# /metrics needs the token on the main listener.
	SY_TOKEN=$token
	"${SRV[@]}" env "$@" "$bin" serve --addr "$HOST:$port" "${store[@]}" --log-level warn >"$logf" 2>&1 &
	SY_PID=$!
	PIDS+=("$SY_PID")
	wait_ready "http://$HOST:$port/readyz" "$SY_PID" switchyard "$logf" || exit 1
	code=$(curl -sS -o "$TMP/flow.json" -w '%{http_code}' -X POST "http://$HOST:$port/api/flows" \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data "$BENCH_FLOW")
	[[ $code == 2* ]] || { cat "$TMP/flow.json" >&2; die "create flow: HTTP $code"; }
}

# start_w1_target starts the target of W1's HTTP call (webhook -> condition
# -> template -> HTTP out -> reply): a barehook beside wrk, so that its CPU
# is the load's, not the server's, when BENCH_PIN=1. It sets TARGET_PORT
# and exports BENCH_TARGET_URL (the peers' W1 flows read it too).
start_w1_target() {
	TARGET_PORT=$(free_port)
	"${LOAD[@]}" bin/barehook --addr "$HOST:$TARGET_PORT" >"$TMP/target.log" 2>&1 &
	TARGET_PID=$!
	PIDS+=("$TARGET_PID")
	wait_ready "http://$HOST:$TARGET_PORT/hooks/ping" "$TARGET_PID" target "$TMP/target.log" || exit 1
	export BENCH_TARGET_URL=http://$HOST:$TARGET_PORT/hooks/target
}

# create_w1_flow PORT TOKEN creates the W1 flow (path w1, answered after the
# call) on the Switchyard at PORT, which must allow egress to the target
# (SWITCHYARD_EGRESS_ALLOW="$HOST:$TARGET_PORT").
create_w1_flow() {
	local flow code
	flow='{"id":"w1","name":"W1","enabled":true,"trigger":{"type":"webhook","path":"w1","respond":"sync"},"steps":[
{"id":"shape","if":"trigger.body.total > 0","use":"data.set","with":{"order":"{{ trigger.body.id }}","total":"{{ trigger.body.total }}"}},
{"id":"send","use":"http.request","retry":{"attempts":1},"with":{"method":"POST","url":"'$BENCH_TARGET_URL'","body":{"order":"{{ steps.shape.output.order }}","total":"{{ steps.shape.output.total }}"}}},
{"id":"reply","use":"webhook.respond","with":{"status":200,"body":{"ok":true,"target_status":"{{ steps.send.output.status }}"}}}]}'
	code=$(curl -sS -o "$TMP/w1.json" -w '%{http_code}' -X POST "http://$HOST:$1/api/flows" \
		-H "Authorization: Bearer $2" -H 'Content-Type: application/json' --data "$flow")
	[[ $code == 2* ]] || { cat "$TMP/w1.json" >&2; die "create W1 flow: HTTP $code"; }
}

# start_barehook BIN PORT LOG sets BARE_PID.
start_barehook() {
	"${SRV[@]}" "$1" --addr "$HOST:$2" >"$3" 2>&1 &
	BARE_PID=$!
	PIDS+=("$BARE_PID")
	wait_ready "http://$HOST:$2/hooks/ping" "$BARE_PID" barehook "$3" || exit 1
}

# probe URL: one delivery by hand, so that a wrong route fails loudly before
# wrk reports a table of errors. Any 2xx will do: peers answer 200 or 202.
probe() {
	local code
	code=$(curl -sS -o "$TMP/probe.json" -w '%{http_code}' -X POST "$1" \
		-H 'Content-Type: application/json' --data '{"id":"o-123","total":42}')
	[[ $code == 2* ]] || { cat "$TMP/probe.json" >&2; die "probe $1: HTTP $code, want 2xx"; }
}

# sy_metric PORT TOKEN NAME prints the value of one metric of the
# Switchyard on PORT (0 when absent); /metrics takes the server's token on
# the main listener.
sy_metric() {
	curl -fsS -H "Authorization: Bearer $2" "http://$HOST:$1/metrics" | awk -v n="$3" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}

# wait_drained LIMIT PORT TOKEN [PORT TOKEN ...] waits until none of the
# Switchyard servers has unfinished runs or runs waiting for its search
# index, at most LIMIT seconds, so that the next measurement does not share
# the CPU with the work of events accepted in the last one (the indexer
# takes at most a quarter of the time, so it catches up with a W0 run
# for several seconds after it). It prints the seconds it waited.
wait_drained() {
	local limit=$1 start=$SECONDS left i m
	shift
	local servers=("$@")
	while ((SECONDS - start < limit)); do
		left=0
		for ((i = 0; i < ${#servers[@]}; i += 2)); do
			for m in switchyard_runs_pending switchyard_search_backlog_runs; do
				# (as an integer: the exposition format writes 1.2e+06)
				left=$((left + $(sy_metric "${servers[i]}" "${servers[i + 1]}" "$m" | awk '{ printf "%d", $1 }')))
			done
		done
		((left > 0)) || break
		sleep 0.2
	done
	echo $((SECONDS - start))
}

# cpu_ticks PID prints the user+system CPU time of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# machine_ticks prints "busy total" clock ticks of all CPUs from /proc/stat.
machine_ticks() { awk '/^cpu / { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print t - idle, t }' /proc/stat; }

# measure_header FIRST prints the header of measure's table.
measure_header() {
	echo "| $1 | rps (2xx) | non-2xx | p50 / p99 | server CPU s | wrk CPU s | server CPU µs per 2xx | server peak RSS | machine busy |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
}

# measure NAME PID URL [CONNS]: a probe, a 2 s warm-up, then DURATION of wrk
# with CONNS connections (default $CONNS); prints a row of measure_header's
# table. CPU comes from /proc: the server's own (PID and its children's
# threads), wrk's, and the whole machine's, which also holds the kernel's
# work for loopback TCP and disk syncs that is charged to no process.
measure() {
	local name=$1 pid=$2 url=$3 conns=${4:-$CONNS} out=$TMP/wrk-${1// /_}-${4:-$CONNS}.txt s0 s1 b0 t0 b1 t1 w rss
	probe "$url"
	"${LOAD[@]}" wrk -t2 -c"$conns" -d2s -s "$LUA" "$url" >/dev/null
	s0=$(cpu_ticks "$pid")
	read -r b0 t0 < <(machine_ticks)
	w=$( { /usr/bin/time -f '%U %S' "${LOAD[@]}" wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$LUA" "$url" >"$out"; } 2>&1 | tail -1)
	read -r b1 t1 < <(machine_ticks)
	s1=$(cpu_ticks "$pid")
	rss=$(awk '/^VmHWM:/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")
	awk -v name="$name" -v s=$((s1 - s0)) -v w="$w" -v busy=$((b1 - b0)) -v total=$((t1 - t0)) \
		-v hz="$(getconf CLK_TCK)" -v rss="$rss" -v rpsfile="$TMP/rps-${name// /_}-$conns" '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		$1 == "50%" && !p50 { p50 = $2 }
		$1 == "99%" && !p99 { p99 = $2 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		END {
			split(w, wu, " ")
			ok = (n > 0) ? n - bad : 0
			printf "| %s | %.0f | %d | %s / %s | %.1f | %.1f | %.1f | %s | %.0f %% |\n", name, rps * ok / (n > 0 ? n : 1), bad, \
				p50, p99, s / hz, wu[1] + wu[2], (ok > 0 ? s / hz / ok * 1e6 : 0), rss, 100 * busy / total
			printf "%.0f\n", rps * ok / (n > 0 ? n : 1) > rpsfile
		}' "$out"
}

# measure_drained NAME PID PORT TOKEN [CONNS]: DURATION of wrk (no
# warm-up), then a wait until the server has executed and indexed every
# run it accepted; prints a row of measure_drained_header's table. The
# CPU counted runs from wrk's start to the end of the drain, so the work a
# server defers past the measurement (the search indexer: at most a
# quarter of the time, so it catches up for seconds after W0) is counted
# too, which measure's window alone misses.
measure_drained_header() {
	echo "| $1 | rps (2xx) | events | server CPU s, drain included | server CPU µs per event, drained | drain s |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
}
measure_drained() {
	local name=$1 pid=$2 port=$3 token=$4 conns=${5:-$CONNS} out=$TMP/wrk-drained-${1// /_}.txt s0 s1 w
	probe "http://$HOST:$port/hooks/${HOOK:-bench}"
	wait_drained "${DRAIN:-60}" "$port" "$token" >/dev/null
	s0=$(cpu_ticks "$pid")
	"${LOAD[@]}" wrk -t2 -c"$conns" -d"$DURATION" -s "$LUA" "http://$HOST:$port/hooks/${HOOK:-bench}" >"$out"
	w=$(wait_drained 300 "$port" "$token")
	s1=$(cpu_ticks "$pid")
	awk -v name="$name" -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v w="$w" '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		END {
			ok = n - bad
			printf "| %s | %.0f | %d | %.1f | %.1f | %d |\n", name, rps * ok / (n > 0 ? n : 1), n, s / hz, (n > 0 ? s / hz / n * 1e6 : 0), w
		}' "$out"
}

# measured_rps NAME CONNS prints the 2xx rate measure recorded for NAME at
# CONNS connections (empty when it was not measured).
measured_rps() {
	local f="$TMP/rps-${1// /_}-$2"
	[[ -f $f ]] && cat "$f"
	return 0
}

# parse_wrk FILE prints: ok_rps raw_rps p50 p99 non2xx socket_errors.
# ok_rps counts only 2xx answers: a 429 from a saturated engine is cheap to
# send and must not count as ingest throughput.
parse_wrk() {
	awk '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { total = $1 }
		$1 == "50%" && !p50 { p50 = $2 }
		$1 == "99%" && !p99 { p99 = $2 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		/Socket errors:/ { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
		END {
			ok = (total > 0) ? rps * (total - bad) / total : 0
			printf "%.2f %s %s %s %d %d\n", ok, rps, p50, p99, bad, sock
		}
	' "$1"
}
