#!/usr/bin/env bash
# End-to-end load comparison on 127.0.0.1: the mock upstream direct, through
# Tollgate, and through an nginx keep-alive proxy_pass, in one run. See perf/README.md.
set -euo pipefail

DURATION=${DURATION:-10s}        # every measured load run
ROUNDS=${ROUNDS:-5}              # interleaved rounds; the table shows medians
WARMUP=${WARMUP:-2s}             # unmeasured run before each measured one (fills pools)
CONNS=${CONNS:-64}               # connections for the throughput runs
THREADS=${THREADS:-1}            # load generator threads for the throughput runs
WORKERS=${WORKERS:-1}            # Tollgate workers == nginx worker_processes
MOCK_WORKERS=${MOCK_WORKERS:-1}  # mock upstream workers
PIN=${PIN:-1}                    # 1: pin with taskset (load on LOAD_CPUS, servers on SERVER_CPUS)
LOAD_CPUS=${LOAD_CPUS:-1}
SERVER_CPUS=${SERVER_CPUS:-0}
DRIVER=${DRIVER:-auto}           # Tollgate driver: auto | io_uring | epoll
STREAM=${STREAM:-1}              # 1: also measure "stream":true through Tollgate
MOCK_PORT=${MOCK_PORT:-19090}
GW_PORT=${GW_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
GOV_PORT=${GOV_PORT:-18082}      # Tollgate with governance (keys, limits, budget, ledger)
GOVR_PORT=${GOVR_PORT:-18083}    # the same with the Redis tier
REDIS_PORT=${REDIS_PORT:-16379}  # the redis-server this script starts for it
KEEP_TMP=${KEEP_TMP:-0}          # 1: keep logs and configs in the temp dir
HOST=127.0.0.1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/tollgate
RESULTS_DIR=$ROOT/perf/results

log() { printf '[perf] %s\n' "$*" >&2; }
die() {
    printf '[perf] error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- helpers

# wrk prints times as e.g. 812.00us, 1.23ms, 2.01s, 1.50m; answer microseconds.
to_us() {
    awk -v t="$1" 'BEGIN {
        if (match(t, /^[0-9]+(\.[0-9]+)?/) == 0) { print "NaN"; exit }
        n = substr(t, 1, RLENGTH) + 0; u = substr(t, RLENGTH + 1)
        if (u == "us") f = 1; else if (u == "ms") f = 1e3; else if (u == "s") f = 1e6;
        else if (u == "m") f = 6e7; else if (u == "h") f = 3.6e9; else { print "NaN"; exit }
        printf "%.1f", n * f }'
}

# Seconds in a wrk-style duration (10s, 2m, 1h, or a bare number of seconds).
duration_secs() {
    case $1 in
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *h) echo $((${1%h} * 3600)) ;;
    *) echo "$1" ;;
    esac
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo -n "$@"
    else
        die "need root to run: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available"
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Command prefixes, so a background `$!` is the server itself (taskset execs it).
ON_LOAD=() ON_SERVER=()
if [ "$PIN" = 1 ]; then
    ON_LOAD=(taskset -c "$LOAD_CPUS")
    ON_SERVER=(taskset -c "$SERVER_CPUS")
fi

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# Waits (bounded) until a log file contains a line.
wait_for_log() {
    local file=$1 pattern=$2 pid=$3
    for _ in $(seq 1 200); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "process $pid exited; log: $(cat "$file")"
        sleep 0.05
    done
    die "timed out waiting for '$pattern' in $file"
}

wait_for_port() {
    for _ in $(seq 1 200); do
        port_free "$1" || return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

# The CPUs a process's threads (and, for nginx, its children's) may run on.
cpus_of() {
    local pid=$1 out="" t
    for t in /proc/"$pid"/task/*/status $(ps -o pid= --ppid "$pid" | sed 's|.*|/proc/&/status|; s| ||g'); do
        [ -r "$t" ] && out+="$(awk '/^Cpus_allowed_list/ {print $2}' "$t") "
    done
    echo "$out" | tr ' ' '\n' | sed '/^$/d' | sort -u | paste -sd' ' -
}

# ---------------------------------------------------------------- set-up

LOADGEN=""
if command -v wrk >/dev/null; then
    LOADGEN=wrk
elif command -v oha >/dev/null; then
    LOADGEN=oha
    command -v jq >/dev/null || apt_install jq
else
    apt_install wrk
    LOADGEN=wrk
fi
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
    apt_install nginx-light 2>/dev/null || apt_install nginx
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
[ -x "$NGINX" ] || die "nginx not found after install"
command -v redis-server >/dev/null || apt_install redis-server
[ "$PIN" = 1 ] && ! command -v taskset >/dev/null && die "taskset missing (util-linux); set PIN=0"

if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$BIN" -print -quit)" ]; then
    log "building release (fat LTO, 1-2 min)"
    (cd "$ROOT" && cargo build --release --quiet)
fi

for p in "$MOCK_PORT" "$GW_PORT" "$NGINX_PORT" "$GOV_PORT" "$GOVR_PORT" "$REDIS_PORT"; do
    port_free "$p" || die "port $p is already in use on this machine"
done

TMP=$(mktemp -d /tmp/tollgate-perf.XXXXXX)
chmod 755 "$TMP" # nginx workers drop to `nobody`
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A realistic ~1 KB non-stream chat request (system prompt, turns, one tool).
make_body() {
    local stream=$1
    cat <<EOF
{"model":"bench-model","messages":[{"role":"system","content":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and call a tool when live data is needed."},{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by?"},{"role":"user","content":"Train, and I must be in Milan by 2pm. Two adults, one bike."}],"tools":[{"type":"function","function":{"name":"search_trains","description":"Search scheduled trains between two stations on a date.","parameters":{"type":"object","properties":{"from":{"type":"string","description":"Departure station"},"to":{"type":"string","description":"Arrival station"},"date":{"type":"string","description":"ISO 8601 date"},"arrive_by":{"type":"string","description":"Latest arrival, HH:MM"},"passengers":{"type":"integer","minimum":1},"bikes":{"type":"integer","minimum":0}},"required":["from","to","date"]}}}],"tool_choice":"auto","temperature":0.2,"max_tokens":512,"stream":$stream}
EOF
}
# The same conversation as an Anthropic Messages request (POST /v1/messages).
make_messages_body() {
    cat <<EOF
{"model":"$1","max_tokens":512,"system":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and call a tool when live data is needed.","messages":[{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by?"},{"role":"user","content":"Train, and I must be in Milan by 2pm. Two adults, one bike."}],"tools":[{"name":"search_trains","description":"Search scheduled trains between two stations on a date.","input_schema":{"type":"object","properties":{"from":{"type":"string","description":"Departure station"},"to":{"type":"string","description":"Arrival station"},"date":{"type":"string","description":"ISO 8601 date"},"arrive_by":{"type":"string","description":"Latest arrival, HH:MM"},"passengers":{"type":"integer","minimum":1},"bikes":{"type":"integer","minimum":0}},"required":["from","to","date"]}}],"tool_choice":{"type":"auto"},"temperature":0.2}
EOF
}
make_messages_body bench-anthropic | tr -d '\n' >"$TMP/msgs-native.json"
make_messages_body bench-model | tr -d '\n' >"$TMP/msgs-openai.json"
make_body false | tr -d '\n' >"$TMP/body.json"
make_body true | tr -d '\n' >"$TMP/body-stream.json"
sed 's/"bench-model"/"bench-anthropic"/' "$TMP/body.json" >"$TMP/body-anthropic.json"
sed 's/"bench-model"/"bench-routed"/' "$TMP/body.json" >"$TMP/body-routed.json"
sed 's/"bench-model"/"bench-fitted"/' "$TMP/body.json" >"$TMP/body-fitted.json"
for kind in body body-stream body-anthropic body-routed body-fitted msgs-native msgs-openai; do
    cat >"$TMP/$kind.lua" <<EOF
local f = assert(io.open("$TMP/$kind.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
EOF
done
BODY_BYTES=$(wc -c <"$TMP/body.json")

cat >"$TMP/tollgate.toml" <<EOF
[server]
listen = "$HOST:$GW_PORT"
workers = $WORKERS

[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[models]]
name = "bench-model"
provider = "mock"

# The same mock answering in Anthropic's format: the translation path.
[[providers]]
name = "mock-anthropic"
kind = "anthropic"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[models]]
name = "bench-anthropic"
provider = "mock-anthropic"

# The passthrough with context fitting on: the catalog knows this model
# (gpt-4o-mini's figures), so every attempt runs the fitting check.
[[models]]
name = "bench-fitted"
provider = "mock"

[catalog."bench-fitted"]
like = "gpt-4o-mini"

# Routing and resilience configured but not triggered: two weighted
# deployments, a fallback chain, breakers and retries on, twenty rules that
# are evaluated (one needs the complexity score) and do not match.
[[models]]
name = "bench-routed"
fallbacks = ["bench-model"]
deployments = [
  { provider = "mock", upstream_model = "bench-model", weight = 3, region = "eu" },
  { provider = "mock", upstream_model = "bench-model-b", weight = 1, region = "eu" },
]
EOF
for r in $(seq 1 19); do
    printf '[[rules]]\nname = "tag-%s"\nmatch = { tags = ["batch-%s"] }\nroute_to = "bench-model"\n' "$r" "$r" >>"$TMP/tollgate.toml"
done
printf '[[rules]]\nname = "very-hard"\nmatch = { min_complexity = 0.99 }\nroute_to = "bench-model"\n' >>"$TMP/tollgate.toml"

# The governed gateways: the same config plus governance on bench-model. One
# key, which the load sends; rate limits and a budget far above what a run
# uses (nothing is refused, every bucket is taken and settled); a price (the
# catalog's gpt-4o-mini figures, fitting kept off as in the passthrough), so
# every request is costed; the store's ledger writing every request. The
# second adds the Redis tier.
KEY=tg-perf-bench-key
KEY_HASH=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
# governed_config PORT STORE [GOVERNANCE_LINES]
governed_config() {
    sed "s/^listen = .*/listen = \"$HOST:$1\"/" "$TMP/tollgate.toml"
    cat <<EOF

[catalog."bench-model"]
like = "gpt-4o-mini"
price = { input = 0.15, output = 0.6 }

[context]
enabled = false

[governance]
store = "$2"
${3:-}

[[keys]]
id = "bench"
hash = "sha256:$KEY_HASH"
limits = { rpm = 100000000, tpm = 10000000000 }
budgets = { total_usd = 1000000.0 }
EOF
}
governed_config "$GOV_PORT" "$TMP/gov.db" >"$TMP/governed.toml"
governed_config "$GOVR_PORT" "$TMP/gov-redis.db" \
    "$(printf '[governance.redis]\nurl = "redis://%s:%s"' "$HOST" "$REDIS_PORT")" >"$TMP/governed-redis.toml"

mkdir -p "$TMP/nginx"
chmod 755 "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $WORKERS;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    client_body_buffer_size 128k;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream mock {
        server $HOST:$MOCK_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen $HOST:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

# ---------------------------------------------------------------- start

log "starting mock upstream on $HOST:$MOCK_PORT ($MOCK_WORKERS workers)"
"${ON_SERVER[@]}" "$BIN" mock-upstream --listen "$HOST:$MOCK_PORT" --workers "$MOCK_WORKERS" >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
wait_for_log "$TMP/mock.log" "listening on" "$MOCK_PID"

log "starting Tollgate on $HOST:$GW_PORT ($WORKERS workers, driver $DRIVER)"
"${ON_SERVER[@]}" "$BIN" --config "$TMP/tollgate.toml" --driver "$DRIVER" >"$TMP/tollgate.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_for_log "$TMP/tollgate.log" "listening on" "$GW_PID"
GW_BANNER=$(grep -m1 "listening on" "$TMP/tollgate.log")

log "starting redis-server on $HOST:$REDIS_PORT (no persistence) and the governed gateways on $GOV_PORT, $GOVR_PORT"
mkdir -p "$TMP/redis"
"${ON_SERVER[@]}" redis-server --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no --daemonize no \
    --protected-mode no --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_for_port "$REDIS_PORT"
declare -A GOV_PID=()
for g in governed governed-redis; do
    "${ON_SERVER[@]}" "$BIN" --config "$TMP/$g.toml" --driver "$DRIVER" >"$TMP/$g.log" 2>&1 &
    GOV_PID[$g]=$!
    PIDS+=("$!")
    wait_for_log "$TMP/$g.log" "listening on" "${GOV_PID[$g]}"
done

log "starting nginx on $HOST:$NGINX_PORT ($WORKERS workers)"
NGINX_ARGS=(-p "$TMP/nginx" -c "$TMP/nginx/nginx.conf")
"$NGINX" -h 2>&1 | grep -q -- '-e filename' && NGINX_ARGS+=(-e "$TMP/nginx/error.log")
"$NGINX" -t "${NGINX_ARGS[@]}" >"$TMP/nginx/test.log" 2>&1 || die "nginx config: $(cat "$TMP/nginx/test.log")"
"${ON_SERVER[@]}" "$NGINX" "${NGINX_ARGS[@]}" >/dev/null 2>>"$TMP/nginx/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for_port "$NGINX_PORT"

TARGETS=(direct tollgate nginx)
declare -A URL=(
    [direct]="http://$HOST:$MOCK_PORT/v1/chat/completions"
    [tollgate]="http://$HOST:$GW_PORT/v1/chat/completions"
    [nginx]="http://$HOST:$NGINX_PORT/v1/chat/completions"
    [messages]="http://$HOST:$GW_PORT/v1/messages"
    [governed]="http://$HOST:$GOV_PORT/v1/chat/completions"
    [governed-redis]="http://$HOST:$GOVR_PORT/v1/chat/completions"
)
for t in "${TARGETS[@]}"; do
    code=$(curl -sS -o "$TMP/check-$t.json" -w '%{http_code}' --max-time 5 \
        -H 'content-type: application/json' --data-binary @"$TMP/body.json" "${URL[$t]}")
    [ "$code" = 200 ] && grep -q 'chat.completion' "$TMP/check-$t.json" ||
        die "$t: sanity request got HTTP $code: $(head -c 300 "$TMP/check-$t.json")"
done
for g in governed governed-redis; do
    code=$(curl -sS -o "$TMP/check-$g.json" -w '%{http_code}' --max-time 5 -H "authorization: Bearer $KEY" \
        -H 'content-type: application/json' --data-binary @"$TMP/body.json" "${URL[$g]}")
    [ "$code" = 200 ] && grep -q 'chat.completion' "$TMP/check-$g.json" ||
        die "$g: sanity request got HTTP $code: $(head -c 300 "$TMP/check-$g.json")"
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
        -H 'content-type: application/json' --data-binary @"$TMP/body.json" "${URL[$g]}")
    [ "$code" = 401 ] || die "$g: a request without the key got HTTP $code, not 401"
done
log "sanity requests OK (HTTP 200 with a chat.completion from all; 401 without the key on the governed gateways)"

CPU_NOTE="load generator on CPUs [$LOAD_CPUS]; observed thread affinity: mock [$(cpus_of "$MOCK_PID")], Tollgate [$(cpus_of "$GW_PID")], nginx [$(cpus_of "$NGINX_PID")], governed Tollgates [$(cpus_of "${GOV_PID[governed]}")] [$(cpus_of "${GOV_PID[governed-redis]}")], redis-server [$(cpus_of "$REDIS_PID")]"
[ "$PIN" = 1 ] || CPU_NOTE="no taskset pinning; $CPU_NOTE"
log "$CPU_NOTE"

# ---------------------------------------------------------------- load

TIMEOUT=$(($(duration_secs "$DURATION") + 30))
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
CLK_TCK=$(getconf CLK_TCK)
declare -A RPS P50 P99 ERRS REQS PROXY_CPU MOCK_CPU RPS_RANGE
declare -A PROXY_PID=([direct]=- [tollgate]=$GW_PID [nginx]=$NGINX_PID [tollgate-stream]=$GW_PID)
# The governed-redis gateway's Redis round trips, its requests, and
# redis-server's CPU ticks over its runs (Redis's own work per request is not
# in the proxy CPU column).
TRIPS=0 TRIP_REQS=0 REDIS_TICKS=0

# metric_sum PORT NAME: the sum of a metric's series on a gateway's /metrics.
metric_sum() {
    curl -sS --max-time 5 "http://$HOST:$1/metrics" |
        awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%.0f", s}'
}

# CPU time (clock ticks, user + system) of a process and its children
# (nginx workers are children of the master).
cpu_ticks() {
    local p s=0 t
    for p in "$1" $(ps -o pid= --ppid "$1"); do
        t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        s=$((s + t))
    done
    echo "$s"
}

# µs of CPU per request from a tick delta.
per_request() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0}'; }

# run_load KEY URL CONNS THREADS LUA PROXY_PID [API_KEY]: one bounded run,
# parsed into the tables; with API_KEY every request carries it as a Bearer token.
run_load() {
    local key=$1 url=$2 conns=$3 threads=$4 lua=$5 ppid=$6 out="$TMP/load-${1//[\/#]/-}.txt"
    local p0=0 p1=0 m0 m1 auth=()
    [ -n "${7:-}" ] && auth=(-H "authorization: Bearer $7")
    if [ "$LOADGEN" = wrk ]; then
        "${ON_LOAD[@]}" timeout "$TIMEOUT" wrk -t"$threads" -c"$conns" -d"$WARMUP" "${auth[@]}" -s "$lua" "$url" >/dev/null
        [ "$ppid" = - ] || p0=$(cpu_ticks "$ppid")
        m0=$(cpu_ticks "$MOCK_PID")
        "${ON_LOAD[@]}" timeout "$TIMEOUT" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "${auth[@]}" -s "$lua" "$url" >"$out"
        RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
        P50[$key]=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
        P99[$key]=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
        REQS[$key]=$(awk '/requests in/ {print $1}' "$out")
        ERRS[$key]=$(awk '/Socket errors:/ {gsub(",", ""); s += $4 + $6 + $8 + $10}
                          /Non-2xx or 3xx responses:/ {s += $NF} END {print s + 0}' "$out")
    else
        local body=${lua%.lua}.json
        "${ON_LOAD[@]}" timeout "$TIMEOUT" oha --no-tui -z "$WARMUP" -c "$conns" -m POST \
            -H 'content-type: application/json' "${auth[@]}" -D "$body" "$url" >/dev/null
        [ "$ppid" = - ] || p0=$(cpu_ticks "$ppid")
        m0=$(cpu_ticks "$MOCK_PID")
        "${ON_LOAD[@]}" timeout "$TIMEOUT" oha --no-tui --output-format json -z "$DURATION" -c "$conns" -m POST \
            -H 'content-type: application/json' "${auth[@]}" -D "$body" "$url" >"$out"
        RPS[$key]=$(jq -r '.summary.requestsPerSec | floor' "$out")
        P50[$key]=$(jq -r '.latencyPercentiles.p50 * 1e6 * 10 | round / 10' "$out")
        P99[$key]=$(jq -r '.latencyPercentiles.p99 * 1e6 * 10 | round / 10' "$out")
        REQS[$key]=$(jq -r '[.statusCodeDistribution[]] | add // 0' "$out")
        ERRS[$key]=$(jq -r '([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0)
                            + ([.errorDistribution[]?] | add // 0)' "$out")
    fi
    [ "$ppid" = - ] || p1=$(cpu_ticks "$ppid")
    m1=$(cpu_ticks "$MOCK_PID")
    for v in "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${REQS[$key]}"; do
        [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$key: could not parse the load output ($out): $(cat "$out")"
    done
    PROXY_CPU[$key]=-
    [ "$ppid" = - ] || PROXY_CPU[$key]=$(per_request $((p1 - p0)) "${REQS[$key]}")
    MOCK_CPU[$key]=$(per_request $((m1 - m0)) "${REQS[$key]}")
    log "$(printf '%-24s %7s rps  p50 %8s us  p99 %8s us  proxy cpu %5s us/req  errors %s' \
        "$key" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${PROXY_CPU[$key]}" "${ERRS[$key]}")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Folds the rounds KEY#1..KEY#ROUNDS into KEY: medians, summed counts, rps range.
fold_rounds() {
    local key=$1 r metric
    local -a vals
    for metric in RPS P50 P99 PROXY_CPU MOCK_CPU; do
        local -n table=$metric
        vals=()
        for r in $(seq 1 "$ROUNDS"); do vals+=("${table[$key#$r]}"); done
        if [ "${vals[0]}" = - ]; then table[$key]=-; else table[$key]=$(median "${vals[@]}"); fi
        unset -n table
    done
    REQS[$key]=0 ERRS[$key]=0 vals=()
    for r in $(seq 1 "$ROUNDS"); do
        REQS[$key]=$((${REQS[$key]} + ${REQS[$key#$r]}))
        ERRS[$key]=$((${ERRS[$key]} + ${ERRS[$key#$r]}))
        vals+=("${RPS[$key#$r]}")
    done
    RPS_RANGE[$key]="$(printf '%s\n' "${vals[@]}" | sort -n | sed -n '1p;$p' | paste -sd'-' -)"
}

log "load: $LOADGEN, $ROUNDS round(s) of $DURATION per run (+$WARMUP warm-up), body $BODY_BYTES bytes"
for r in $(seq 1 "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
        run_load "$t/$CONNS#$r" "${URL[$t]}" "$CONNS" "$THREADS" "$TMP/body.lua" "${PROXY_PID[$t]}"
    done
    for t in "${TARGETS[@]}"; do
        run_load "$t/1#$r" "${URL[$t]}" 1 1 "$TMP/body.lua" "${PROXY_PID[$t]}"
    done
    # Through Tollgate only: the Anthropic translation and the routing-configured
    # model, each next to a fresh passthrough run, interleaved like the rest.
    run_load "tollgate-anthropic/$CONNS#$r" "${URL[tollgate]}" "$CONNS" "$THREADS" "$TMP/body-anthropic.lua" "$GW_PID"
    run_load "tollgate-routed/$CONNS#$r" "${URL[tollgate]}" "$CONNS" "$THREADS" "$TMP/body-routed.lua" "$GW_PID"
    run_load "tollgate-fitted/$CONNS#$r" "${URL[tollgate]}" "$CONNS" "$THREADS" "$TMP/body-fitted.lua" "$GW_PID"
    # Anthropic Messages inbound: to an Anthropic upstream (the same-dialect
    # splice) and to the OpenAI-compatible one (translated).
    run_load "tollgate-msgs-native/$CONNS#$r" "${URL[messages]}" "$CONNS" "$THREADS" "$TMP/msgs-native.lua" "$GW_PID"
    run_load "tollgate-msgs-openai/$CONNS#$r" "${URL[messages]}" "$CONNS" "$THREADS" "$TMP/msgs-openai.lua" "$GW_PID"
    # Governance on (its own gateways, the key on every request), then with
    # the Redis tier: its round trips are read around its runs.
    run_load "tollgate-governed/$CONNS#$r" "${URL[governed]}" "$CONNS" "$THREADS" "$TMP/body.lua" "${GOV_PID[governed]}" "$KEY"
    t0=$(metric_sum "$GOVR_PORT" tollgate_governance_redis_round_trips_total)
    q0=$(metric_sum "$GOVR_PORT" tollgate_requests_total)
    c0=$(cpu_ticks "$REDIS_PID")
    run_load "tollgate-governed-redis/$CONNS#$r" "${URL[governed-redis]}" "$CONNS" "$THREADS" "$TMP/body.lua" \
        "${GOV_PID[governed-redis]}" "$KEY"
    TRIPS=$((TRIPS + $(metric_sum "$GOVR_PORT" tollgate_governance_redis_round_trips_total) - t0))
    TRIP_REQS=$((TRIP_REQS + $(metric_sum "$GOVR_PORT" tollgate_requests_total) - q0))
    REDIS_TICKS=$((REDIS_TICKS + $(cpu_ticks "$REDIS_PID") - c0))
    run_load "tollgate-again/$CONNS#$r" "${URL[tollgate]}" "$CONNS" "$THREADS" "$TMP/body.lua" "$GW_PID"
done
for t in "${TARGETS[@]}"; do
    fold_rounds "$t/$CONNS"
    fold_rounds "$t/1"
done
for t in tollgate-anthropic tollgate-routed tollgate-fitted tollgate-msgs-native tollgate-msgs-openai tollgate-governed tollgate-governed-redis tollgate-again; do
    fold_rounds "$t/$CONNS"
done
if [ "$STREAM" = 1 ]; then
    for c in "$CONNS" 1; do
        [ "$c" = 1 ] && th=1 || th=$THREADS
        run_load "tollgate-stream/$c#1" "${URL[tollgate]}" "$c" "$th" "$TMP/body-stream.lua" "$GW_PID"
        ROUNDS=1 fold_rounds "tollgate-stream/$c"
    done
fi
kill -0 "$GW_PID" 2>/dev/null || die "Tollgate exited during the run: $(tail -5 "$TMP/tollgate.log")"
for g in governed governed-redis; do
    kill -0 "${GOV_PID[$g]}" 2>/dev/null || die "$g exited during the run: $(tail -5 "$TMP/$g.log")"
done

# ---------------------------------------------------------------- report

MOCK_STATS=$(curl -sS --max-time 5 "http://$HOST:$MOCK_PORT/mock/stats" || echo "unavailable")
ratio=$(awk -v a="${RPS[tollgate/$CONNS]}" -v b="${RPS[nginx/$CONNS]}" 'BEGIN {printf "%.3f", a / b}')
added=$(awk -v a="${P50[tollgate/1]}" -v b="${P50[direct/1]}" 'BEGIN {printf "%.1f", a - b}')
added_nginx=$(awk -v a="${P50[nginx/1]}" -v b="${P50[direct/1]}" 'BEGIN {printf "%.1f", a - b}')
ratio_ok=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.9) ? "MET" : "MISSED"}')
pass_rps=$(awk -v a="${RPS[tollgate/$CONNS]}" -v b="${RPS[tollgate-again/$CONNS]}" 'BEGIN {printf "%.0f", (a + b) / 2}')
# Paired per round: each round's run against the mean of the same round's two
# passthrough runs, so a slow stretch of the machine (other tenants) weighs on
# both sides of a ratio; the median of the rounds' ratios is the figure.
paired_ratio() {
    local t=$1 r
    local -a ratios=()
    for r in $(seq 1 "$ROUNDS"); do
        ratios+=("$(awk -v a="${RPS[$t/$CONNS#$r]}" -v p="${RPS[tollgate/$CONNS#$r]}" -v q="${RPS[tollgate-again/$CONNS#$r]}" \
            'BEGIN {printf "%.3f", 2 * a / (p + q)}')")
    done
    printf '%s\n' "${ratios[*]}"
}
anth_rounds=$(paired_ratio tollgate-anthropic)
routed_rounds=$(paired_ratio tollgate-routed)
anth_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $anth_rounds)")
routed_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $routed_rounds)")
anth_of_medians=$(awk -v a="${RPS[tollgate-anthropic/$CONNS]}" -v b="$pass_rps" 'BEGIN {printf "%.3f", a / b}')
routed_of_medians=$(awk -v a="${RPS[tollgate-routed/$CONNS]}" -v b="$pass_rps" 'BEGIN {printf "%.3f", a / b}')
fitted_rounds=$(paired_ratio tollgate-fitted)
fitted_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $fitted_rounds)")
fitted_ok=$(awk -v r="$fitted_ratio" 'BEGIN {print (r >= 0.97) ? "MET" : "MISSED"}')
native_rounds=$(paired_ratio tollgate-msgs-native)
msgs_openai_rounds=$(paired_ratio tollgate-msgs-openai)
native_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $native_rounds)")
msgs_openai_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $msgs_openai_rounds)")
native_ok=$(awk -v r="$native_ratio" 'BEGIN {print (r >= 0.95) ? "MET" : "MISSED"}')
msgs_openai_ok=$(awk -v r="$msgs_openai_ratio" 'BEGIN {print (r >= 0.85) ? "MET" : "MISSED"}')
governed_rounds=$(paired_ratio tollgate-governed)
governed_redis_rounds=$(paired_ratio tollgate-governed-redis)
governed_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $governed_rounds)")
governed_redis_ratio=$(awk '{printf "%.3f", $0}' <<<"$(median $governed_redis_rounds)")
governed_ok=$(awk -v r="$governed_ratio" 'BEGIN {print (r >= 0.95) ? "MET" : "MISSED"}')
governed_redis_ok=$(awk -v r="$governed_redis_ratio" 'BEGIN {print (r >= 0.95) ? "MET" : "MISSED"}')
trips_per_request=$(awk -v t="$TRIPS" -v n="$TRIP_REQS" 'BEGIN {printf "%.5f", (n > 0) ? t / n : 0}')
anth_ok=$(awk -v r="$anth_ratio" 'BEGIN {print (r >= 0.9) ? "MET" : "MISSED"}')
routed_ok=$(awk -v r="$routed_ratio" 'BEGIN {print (r >= 0.95) ? "MET" : "MISSED"}')
added_ok=$(awk -v a="$added" 'BEGIN {print (a < 50) ? "MET" : "MISSED"}')

SHA=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || SHA="$SHA-dirty"
STAMP=$(date -u +%Y-%m-%d)
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/load.md # the latest run; earlier ones are in git history

table() {
    echo "| target | conns | requests/s | rps range | p50 (µs) | p99 (µs) | proxy CPU (µs/req) | mock CPU (µs/req) | requests | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local key t c
    for key in "$@"; do
        [ -n "${RPS[$key]:-}" ] || continue
        t=${key%/*} c=${key#*/}
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$c" "${RPS[$key]}" "${RPS_RANGE[$key]}" \
            "${P50[$key]}" "${P99[$key]}" "${PROXY_CPU[$key]}" "${MOCK_CPU[$key]}" "${REQS[$key]}" "${ERRS[$key]}"
    done
}

{
    echo "# Load run: direct vs Tollgate vs nginx, translation, routing and governance"
    echo
    echo "- when: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit \`$SHA\`"
    echo "- command: \`DURATION=$DURATION ROUNDS=$ROUNDS CONNS=$CONNS THREADS=$THREADS WORKERS=$WORKERS MOCK_WORKERS=$MOCK_WORKERS PIN=$PIN DRIVER=$DRIVER perf/run.sh\`"
    echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
    echo "- load: $LOADGEN ($($LOADGEN --version 2>&1 | head -1 | awk '{print $1, $2}')), $DURATION per run after a $WARMUP warm-up, $THREADS thread(s) at $CONNS conns, 1 thread at 1 conn"
    echo "- body: $BODY_BYTES-byte non-stream chat request (system + 3 turns + 1 tool), model not rewritten"
    echo "- Tollgate: \`${GW_BANNER#tollgate: }\`"
    echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/nginx version: //'), $WORKERS worker(s), upstream keepalive 64, proxy_http_version 1.1, keepalive_requests 1000000"
    echo "- CPUs: $CPU_NOTE"
    echo "- load average (1/5/15 min) before the load runs: $LOADAVG_START, after: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine show up here)"
    echo
    table "direct/$CONNS" "tollgate/$CONNS" "nginx/$CONNS" "direct/1" "tollgate/1" "nginx/1"
    echo
    echo "- Tollgate rps / nginx rps at $CONNS conns: **$ratio** (target ≥ 0.9: $ratio_ok)"
    echo "- added p50 at 1 conn, Tollgate − direct: **$added µs** (target < 50 µs: $added_ok); nginx − direct: $added_nginx µs"
    echo
    echo "Through Tollgate only, same body: translated to Anthropic's format (the mock answers"
    echo "as Anthropic), and with routing configured but not triggered (two weighted deployments,"
    echo "a fallback chain, breakers, retries, 20 rules incl. a complexity rule), through gateways"
    echo "with governance on (and with the Redis tier), then the plain passthrough again:"
    echo
    table "tollgate-anthropic/$CONNS" "tollgate-routed/$CONNS" "tollgate-fitted/$CONNS" "tollgate-msgs-native/$CONNS" "tollgate-msgs-openai/$CONNS" \
        "tollgate-governed/$CONNS" "tollgate-governed-redis/$CONNS" "tollgate-again/$CONNS"
    echo
    echo "- Anthropic translation rps / passthrough rps, median of the rounds' paired ratios (each round against the mean of its two passthrough runs): **$anth_ratio** (target ≥ 0.9: $anth_ok); rounds: $anth_rounds; ratio of the medians above: $anth_of_medians (passthrough $pass_rps)"
    echo "- routing configured rps / passthrough rps, the same way: **$routed_ratio** (target ≥ 0.95: $routed_ok); rounds: $routed_rounds; ratio of the medians: $routed_of_medians"
    echo "- context fitting on (a catalog model, 1 KB requests) / passthrough (fitting off: the catalog does not know it), paired: **$fitted_ratio** (target ≥ 0.97: $fitted_ok); rounds: $fitted_rounds"
    echo "- Anthropic Messages inbound → Anthropic upstream (same dialect) / OpenAI passthrough, paired: **$native_ratio** (target ≥ 0.95: $native_ok); rounds: $native_rounds"
    echo "- Anthropic Messages inbound → OpenAI-compatible upstream (translated) / OpenAI passthrough, paired: **$msgs_openai_ratio** (target ≥ 0.85: $msgs_openai_ok); rounds: $msgs_openai_rounds"
    echo "- governance on (key, rpm/tpm limits, budget, cost, ledger; its own gateway) / passthrough, paired: **$governed_ratio** (target ≥ 0.95: $governed_ok); rounds: $governed_rounds"
    echo "- governance with the Redis tier / passthrough, paired: **$governed_redis_ratio** (target ≥ 0.95: $governed_redis_ok); rounds: $governed_redis_rounds"
    echo "- Redis round trips per request (governed-redis, warm-ups included): **$trips_per_request** ($TRIPS round trips over $TRIP_REQS requests); redis-server CPU $(per_request "$REDIS_TICKS" "$TRIP_REQS") µs per request (on the servers' CPU, not in the proxy CPU column)"
    echo "- Tollgate CPU per request (µs, medians): passthrough ${PROXY_CPU[tollgate-again/$CONNS]}, Anthropic translation ${PROXY_CPU[tollgate-anthropic/$CONNS]}, routing configured ${PROXY_CPU[tollgate-routed/$CONNS]}, governed ${PROXY_CPU[tollgate-governed/$CONNS]}, governed with Redis ${PROXY_CPU[tollgate-governed-redis/$CONNS]} (every thread of the process: the ledger writer and the Redis tier's included); the mock's own CPU per request differs by format (${MOCK_CPU[tollgate-again/$CONNS]} / ${MOCK_CPU[tollgate-anthropic/$CONNS]} / ${MOCK_CPU[tollgate-routed/$CONNS]}) and shares the proxy's CPU"
    if [ "$STREAM" = 1 ]; then
        echo
        echo "Streaming (\`\"stream\":true\`, SSE from the mock) through Tollgate only:"
        echo
        table "tollgate-stream/$CONNS" "tollgate-stream/1"
    fi
    echo
    echo "Mock counters after the run: \`$MOCK_STATS\`"
    echo
    echo "Two CPUs are shared by the load generator, the mock and the proxy: the numbers are"
    echo "relative. Compare rows within one run, not across machines or runs."
} >"$REPORT"

echo
cat "$REPORT"
echo
log "wrote ${REPORT#"$ROOT"/}"
