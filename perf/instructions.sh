#!/usr/bin/env bash
# Deterministic cost: user-space instructions per request, counted by
# callgrind over a fixed number of requests on one keep-alive connection.
# Stable to ~1 % between runs where throughput moves ±10 %. See perf/README.md.
#
#   perf/instructions.sh                  # every row, 2000 requests each
#   REQUESTS=5000 ROWS="passthrough nginx" perf/instructions.sh
#   ROWS="passthrough governed governed-redis" perf/instructions.sh
set -euo pipefail

REQUESTS=${REQUESTS:-2000}    # measured requests per row
WARMUP=${WARMUP:-200}         # unmeasured requests first (pools, lazy init)
SETTLE=${SETTLE:-0.35}        # seconds for background threads to catch up (the ledger writes every 250 ms)
ROWS=${ROWS:-"passthrough passthrough-key passthrough-fit-off anthropic routed messages-native messages-to-openai governed governed-redis plain guarded plain-turn guarded-turn mcp-call nginx"}
MOCK_PORT=${MOCK_PORT:-19190}
GW_PORT=${GW_PORT:-18180}     # the rows' gateways listen on GW_PORT, +2, +4, +6, +8, +10, +12
NGINX_PORT=${NGINX_PORT:-18181}
REDIS_PORT=${REDIS_PORT:-16391}  # the governed-redis row's redis-server
KEEP_DUMPS=${KEEP_DUMPS:-}     # a directory: keep the callgrind dumps there (callgrind_annotate)
CALLGRIND_OPTS=${CALLGRIND_OPTS:-}  # more callgrind options, e.g. --separate-threads=yes
HOST=127.0.0.1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/tollgate

log() { printf '[instr] %s\n' "$*" >&2; }
die() {
    printf '[instr] error: %s\n' "$*" >&2
    exit 1
}

command -v valgrind >/dev/null || {
    log "installing valgrind"
    apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null
}
command -v python3 >/dev/null || die "python3 is needed for the client"
case " $ROWS " in
*" governed-redis "*)
    command -v redis-server >/dev/null || {
        log "installing redis-server"
        apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null
    }
    ;;
esac
if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" -newer "$BIN" -print -quit)" ]; then
    log "building release"
    (cd "$ROOT" && cargo build --release --quiet)
fi

TMP=$(mktemp -d /tmp/tollgate-instr.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    if [ -n "$KEEP_DUMPS" ]; then
        mkdir -p "$KEEP_DUMPS" && cp "$TMP"/*.out.* "$KEEP_DUMPS"/ 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 300); do
        (echo >"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# The same ~1 KB request as perf/run.sh.
BODY='{"model":"MODEL","messages":[{"role":"system","content":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and call a tool when live data is needed."},{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by?"},{"role":"user","content":"Train, and I must be in Milan by 2pm. Two adults, one bike."}],"tools":[{"type":"function","function":{"name":"search_trains","description":"Search scheduled trains between two stations on a date.","parameters":{"type":"object","properties":{"from":{"type":"string","description":"Departure station"},"to":{"type":"string","description":"Arrival station"},"date":{"type":"string","description":"ISO 8601 date"},"arrive_by":{"type":"string","description":"Latest arrival, HH:MM"},"passengers":{"type":"integer","minimum":1},"bikes":{"type":"integer","minimum":0}},"required":["from","to","date"]}}}],"tool_choice":"auto","temperature":0.2,"max_tokens":512,"stream":false}'

# The same conversation as an Anthropic Messages request.
MESSAGES_BODY='{"model":"MODEL","max_tokens":512,"system":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and call a tool when live data is needed.","messages":[{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by?"},{"role":"user","content":"Train, and I must be in Milan by 2pm. Two adults, one bike."}],"tools":[{"name":"search_trains","description":"Search scheduled trains between two stations on a date.","input_schema":{"type":"object","properties":{"from":{"type":"string","description":"Departure station"},"to":{"type":"string","description":"Arrival station"},"date":{"type":"string","description":"ISO 8601 date"},"arrive_by":{"type":"string","description":"Latest arrival, HH:MM"},"passengers":{"type":"integer","minimum":1},"bikes":{"type":"integer","minimum":0}},"required":["from","to","date"]}}],"tool_choice":{"type":"auto"},"temperature":0.2}'

# The guards rows' ~1 KB request: a conversation without tools (the
# guards issue's baseline), the same for guards off (`plain`, the
# passthrough gateway) and on (`guarded`).
PLAIN_BODY='{"model":"MODEL","messages":[{"role":"system","content":"You are a concise assistant for a travel agency. Answer in plain English, cite the booking reference when you have one, and never invent prices or timetables you have not been given."},{"role":"user","content":"Hi, I need to get from Lyon to Milan next Tuesday morning. We are two adults travelling with one bike, and we would like a direct connection if there is one."},{"role":"assistant","content":"Sure. Do you prefer the train or a flight, and is there a time you must arrive by? Trains between Lyon Part-Dieu and Milano Porta Garibaldi usually take about five hours."},{"role":"user","content":"Train, please, and I must be in Milan by 2pm because of a meeting near the station. Which departures would work, and do we need to reserve a space for the bike in advance on that route? Thanks a lot for your help."}],"temperature":0.2,"max_tokens":512,"stream":false}'

# The same with a new last user message each request (a conversation's
# next turn: the history is what the guards have seen, the turn is not).
# The new word (NONCE) starts with `k`, which no injection anchor does: a
# word drawn from all letters sometimes opened one ("dan…", "act…") and
# sent a request to the full scan, whose regexes were still cold in that
# process — one request in 2000 that way cost 1.3k instructions on every
# request's average, so the row moved by that much between runs.
TURN_BODY=${PLAIN_BODY/Thanks a lot for your help./Thanks a lot for your help, order NONCE.}

# The mcp-call row's request: a modern-era tools/call of the mock's `echo`
# (federated as `m-echo`) through the gateway's /mcp.
MCP_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"m-echo","arguments":{"from":"Lyon","to":"Milan","date":"2025-06-03","passengers":2},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}'

# client.py PORT MODEL N BODY [PATH [KEY]]: N requests on one keep-alive
# connection, with `authorization: Bearer KEY` when KEY is given; exits 1
# on any non-200 answer.
cat >"$TMP/client.py" <<'EOF'
import http.client, sys
port, model, n, body = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
path = sys.argv[5] if len(sys.argv) > 5 else "/v1/chat/completions"
key = sys.argv[6] if len(sys.argv) > 6 else ""
payload = body.replace("MODEL", model)
import random
headers = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
if key:
    headers["authorization"] = "Bearer " + key
if path == "/mcp":
    headers.update({"accept": "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "m-echo"})
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(n):
    c.request("POST", path, payload.replace("NONCE", "k" + "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=7))).encode(), headers)
    r = c.getresponse()
    data = r.read()
    if r.status != 200 or (path == "/mcp" and b'"isError":false' not in data):
        sys.exit(f"request {i}: HTTP {r.status}: {data[:200]!r}")
EOF

# counter.py PORT NAME: a counter from the gateway's /metrics; prints
# nothing when the gateway does not export it.
cat >"$TMP/counter.py" <<'EOF'
import sys, urllib.request
port, name = sys.argv[1], sys.argv[2]
try:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
except OSError:
    sys.exit(0)
for line in text.splitlines():
    if line.split(" ")[0] == name:
        print(line.split(" ")[1])
EOF

cat >"$TMP/tollgate.toml" <<EOF
[server]
listen = "$HOST:$GW_PORT"
workers = 1
driver = "epoll"

[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[providers]]
name = "mock-anthropic"
kind = "anthropic"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[models]]
name = "bench-model"
provider = "mock"

[[models]]
name = "bench-anthropic"
provider = "mock-anthropic"

# Context fitting on (the default), with the catalog's figures: every row
# pays the per-attempt bound check a real model would.
[catalog."bench-model"]
like = "gpt-4o-mini"

[catalog."bench-anthropic"]
like = "claude-sonnet-4-5"

EOF
# The fit-off row: the same gateway with fitting turned off.
sed "s/$GW_PORT/$((GW_PORT + 4))/" "$TMP/tollgate.toml" >"$TMP/fitoff.toml"
printf '\n[context]\nenabled = false\n' >>"$TMP/fitoff.toml"
# The routed row runs on a second gateway whose config adds perf/run.sh's
# routing: two weighted deployments, a fallback, twenty rules that do not
# match (one needs the complexity score).
sed "s/$GW_PORT/$((GW_PORT + 2))/" "$TMP/tollgate.toml" >"$TMP/routed.toml"
cat >>"$TMP/routed.toml" <<EOF

[[models]]
name = "bench-routed"
fallbacks = ["bench-model"]
deployments = [
  { provider = "mock", upstream_model = "bench-model", weight = 3, region = "eu" },
  { provider = "mock", upstream_model = "bench-model-b", weight = 1, region = "eu" },
]
EOF
for r in $(seq 1 19); do
    printf '[[rules]]\nname = "tag-%s"\nmatch = { tags = ["batch-%s"] }\nroute_to = "bench-model"\n' "$r" "$r" >>"$TMP/routed.toml"
done
printf '[[rules]]\nname = "very-hard"\nmatch = { min_complexity = 0.99 }\nroute_to = "bench-model"\n' >>"$TMP/routed.toml"

# The governed rows: the passthrough gateway plus governance on the same
# model. One key, which the client sends; rate limits and a budget far
# above what the run uses (nothing is refused, every bucket is taken and
# settled); an explicit price (the catalog's own), so every request is
# costed; the store's ledger writing every request. governed-redis adds the
# Redis tier, against the redis-server this script starts.
KEY=tg-perf-bench-key
KEY_HASH=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
# governed_config PORT STORE [GOVERNANCE_LINES]
governed_config() {
    sed -e "s/$GW_PORT/$1/" -e 's/^like = "gpt-4o-mini"$/&\nprice = { input = 0.15, output = 0.6 }/' "$TMP/tollgate.toml"
    cat <<EOF
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
governed_config $((GW_PORT + 6)) "$TMP/gov.db" >"$TMP/governed.toml"
governed_config $((GW_PORT + 8)) "$TMP/gov-redis.db" \
    "$(printf '[governance.redis]\nurl = "redis://%s:%s"' "$HOST" "$REDIS_PORT")" >"$TMP/governed-redis.toml"

# The guarded row: the passthrough gateway plus request-side guards —
# injection scoring (block), PII (mask) and a default tool policy — on
# every request.
sed "s/$GW_PORT/$((GW_PORT + 10))/" "$TMP/tollgate.toml" >"$TMP/guarded.toml"
cat >>"$TMP/guarded.toml" <<EOF
[guards]
default_tool_policy = "travel"

[guards.injection]
action = "block"

[guards.pii]
action = "mask"
answers = false

[guards.tool_policies.travel]
undeclared = "refuse"

[[guards.tool_policies.travel.tools]]
name = "search_trains"
EOF

# The mcp-call row: the passthrough gateway plus the key and one MCP server,
# the mock's own /mcp (both eras; the gateway picks).
{
    sed "s/$GW_PORT/$((GW_PORT + 12))/" "$TMP/tollgate.toml"
    printf '[governance]\nstore = "%s"\n\n[[keys]]\nid = "bench"\nhash = "sha256:%s"\n\n' "$TMP/mcp.db" "$KEY_HASH"
    printf '[mcp]\n[[mcp.servers]]\nname = "m"\nurl = "http://%s:%s/mcp"\n' "$HOST" "$MOCK_PORT"
} >"$TMP/mcp.toml"

"$BIN" mock-upstream --listen "$HOST:$MOCK_PORT" --workers 1 --driver epoll >"$TMP/mock.log" 2>&1 &
PIDS+=($!)
wait_port "$MOCK_PORT"

# measure NAME PORT MODEL PID OUT [BODY PATH KEY]: zero the counters after
# the warm-up, dump after N. A gateway with the Redis tier also reports the
# round trips it made to Redis over the same requests (from /metrics, read
# outside the counted window).
measure() {
    local name=$1 port=$2 model=$3 pid=$4 out=$5 body=${6:-$BODY} path=${7:-/v1/chat/completions} key=${8:-}
    local trips=tollgate_governance_redis_round_trips_total trips0 trips1
    python3 "$TMP/client.py" "$port" "$model" "$WARMUP" "$body" "$path" "$key" || die "$name: warm-up failed"
    # The background threads settle too: the warm-up's ledger batch (and
    # the store's first statements) is committed before the count starts,
    # and the counted requests' last batch before it ends. The idle
    # aggregator passes in that last wait are counted: an overcount.
    sleep "$SETTLE"
    trips0=$(python3 "$TMP/counter.py" "$port" "$trips")
    callgrind_control -z "$pid" >/dev/null 2>&1
    python3 "$TMP/client.py" "$port" "$model" "$REQUESTS" "$body" "$path" "$key" || die "$name: run failed"
    sleep "$SETTLE"
    callgrind_control -d "$pid" >/dev/null 2>&1
    trips1=$(python3 "$TMP/counter.py" "$port" "$trips")
    sleep 0.5
    local ir
    local latest dump
    latest=$(ls -t "$out".* 2>/dev/null | head -1)
    dump=$latest
    # With --separate-threads=yes a dump is one file per thread: sum them.
    [[ $latest =~ -[0-9]+$ ]] && dump="${latest%-*}-*"
    # shellcheck disable=SC2086 # $dump may be a glob on purpose
    ir=$(cat $dump 2>/dev/null | grep -h '^summary:' | awk '{s += $2} END { if (NR) print s }')
    [ -n "$ir" ] || die "$name: no callgrind dump"
    awk -v ir="$ir" -v n="$REQUESTS" -v name="$name" 'BEGIN { printf "%-20s %10.0f instructions/request\n", name, ir / n }'
    if [ -n "$trips0" ] && [ -n "$trips1" ]; then
        awk -v a="$trips0" -v b="$trips1" -v n="$REQUESTS" -v name="$name" \
            'BEGIN { printf "%-20s %10.4f Redis round trips/request (%d over %d requests)\n", name, (b - a) / n, b - a, n }'
    fi
}

# start_redis: a redis-server for the governed-redis row, no persistence,
# its files in the temp dir; killed on exit with the rest.
REDIS_PID=""
start_redis() {
    [ -n "$REDIS_PID" ] && return 0
    (echo >"/dev/tcp/$HOST/$REDIS_PORT") 2>/dev/null && die "port $REDIS_PORT is in use (set REDIS_PORT)"
    mkdir -p "$TMP/redis"
    redis-server --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no --daemonize no \
        --protected-mode no --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$REDIS_PORT"
}

declare -A GW_PID=()
# start_gateway NAME PORT: the gateway with config NAME.toml under callgrind, once.
start_gateway() {
    local name=$1 port=$2
    [ -n "${GW_PID[$name]:-}" ] && return 0
    # shellcheck disable=SC2086 # CALLGRIND_OPTS is a list of options
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" $CALLGRIND_OPTS \
        "$BIN" --config "$TMP/$name.toml" >"$TMP/$name.log" 2>&1 &
    GW_PID[$name]=$!
    PIDS+=("$!")
    wait_port "$port"
}
RESULTS=()
for row in $ROWS; do
    case $row in
    passthrough | anthropic)
        start_gateway tollgate "$GW_PORT"
        model=bench-model
        [ "$row" = anthropic ] && model=bench-anthropic
        RESULTS+=("$(measure "$row" "$GW_PORT" "$model" "${GW_PID[tollgate]}" "$TMP/tollgate.out")")
        ;;
    messages-native | messages-to-openai)
        start_gateway tollgate "$GW_PORT"
        model=bench-anthropic
        [ "$row" = messages-to-openai ] && model=bench-model
        RESULTS+=("$(measure "$row" "$GW_PORT" "$model" "${GW_PID[tollgate]}" "$TMP/tollgate.out" "$MESSAGES_BODY" /v1/messages)")
        ;;
    passthrough-key)
        # The governed rows' own request, key header included, through the
        # passthrough gateway (which has no keys and ignores it): governance
        # is measured against the same bytes, not against a request one
        # header shorter.
        start_gateway tollgate "$GW_PORT"
        RESULTS+=("$(measure passthrough-key "$GW_PORT" bench-model "${GW_PID[tollgate]}" "$TMP/tollgate.out" \
            "$BODY" /v1/chat/completions "$KEY")")
        ;;
    passthrough-fit-off)
        start_gateway fitoff $((GW_PORT + 4))
        RESULTS+=("$(measure "$row" $((GW_PORT + 4)) bench-model "${GW_PID[fitoff]}" "$TMP/fitoff.out")")
        ;;
    routed)
        start_gateway routed $((GW_PORT + 2))
        RESULTS+=("$(measure routed $((GW_PORT + 2)) bench-routed "${GW_PID[routed]}" "$TMP/routed.out")")
        ;;
    governed)
        start_gateway governed $((GW_PORT + 6))
        RESULTS+=("$(measure governed $((GW_PORT + 6)) bench-model "${GW_PID[governed]}" "$TMP/governed.out" \
            "$BODY" /v1/chat/completions "$KEY")")
        ;;
    governed-redis)
        start_redis
        start_gateway governed-redis $((GW_PORT + 8))
        RESULTS+=("$(measure governed-redis $((GW_PORT + 8)) bench-model "${GW_PID[governed-redis]}" \
            "$TMP/governed-redis.out" "$BODY" /v1/chat/completions "$KEY")")
        ;;
    plain)
        start_gateway tollgate "$GW_PORT"
        RESULTS+=("$(measure plain "$GW_PORT" bench-model "${GW_PID[tollgate]}" "$TMP/tollgate.out" "$PLAIN_BODY")")
        ;;
    plain-turn)
        start_gateway tollgate "$GW_PORT"
        RESULTS+=("$(measure plain-turn "$GW_PORT" bench-model "${GW_PID[tollgate]}" "$TMP/tollgate.out" "$TURN_BODY")")
        ;;
    guarded-turn)
        start_gateway guarded $((GW_PORT + 10))
        RESULTS+=("$(measure guarded-turn $((GW_PORT + 10)) bench-model "${GW_PID[guarded]}" "$TMP/guarded.out" "$TURN_BODY")")
        ;;
    guarded)
        start_gateway guarded $((GW_PORT + 10))
        RESULTS+=("$(measure guarded $((GW_PORT + 10)) bench-model "${GW_PID[guarded]}" "$TMP/guarded.out" "$PLAIN_BODY")")
        ;;
    mcp-call)
        start_gateway mcp $((GW_PORT + 12))
        # The gateway lists the server's tools on its first probe: wait for m-echo.
        ready=""
        for _ in $(seq 1 100); do
            python3 "$TMP/client.py" $((GW_PORT + 12)) - 1 "$MCP_BODY" /mcp "$KEY" 2>/dev/null && ready=1 && break
            sleep 0.2
        done
        [ -n "$ready" ] || { log "mcp-call: no m-echo at the gateway's /mcp: row skipped"; continue; }
        RESULTS+=("$(measure mcp-call $((GW_PORT + 12)) - "${GW_PID[mcp]}" "$TMP/mcp.out" "$MCP_BODY" /mcp "$KEY")")
        ;;
    nginx)
        NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        if [ ! -x "$NGINX" ]; then
            log "nginx not installed: row skipped (perf/run.sh installs it)"
            continue
        fi
        mkdir -p "$TMP/nginx"
        cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    client_body_buffer_size 128k;
    keepalive_requests 1000000;
    upstream mock { server $HOST:$MOCK_PORT; keepalive 64; keepalive_requests 1000000; }
    server {
        listen $HOST:$NGINX_PORT;
        location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
        valgrind --tool=callgrind --callgrind-out-file="$TMP/nginx.out" \
            "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >/dev/null 2>&1 &
        NGINX_PID=$!
        PIDS+=("$NGINX_PID")
        wait_port "$NGINX_PORT"
        RESULTS+=("$(measure nginx "$NGINX_PORT" bench-model "$NGINX_PID" "$TMP/nginx.out")")
        ;;
    *) die "unknown row $row" ;;
    esac
done

SHA=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || SHA="$SHA-dirty"
mkdir -p "$ROOT/perf/results"
{
    echo "# Instructions per request"
    echo
    echo "callgrind, epoll, 1 worker, $REQUESTS requests after $WARMUP warm-up on one keep-alive connection;"
    echo "commit \`$SHA\`, $(date -u +%Y-%m-%dT%H:%M:%SZ); \`REQUESTS=$REQUESTS ROWS=\"$ROWS\" perf/instructions.sh\`"
    echo
    echo '```'
    printf '%s\n' "${RESULTS[@]}"
    echo '```'
} | tee "$ROOT/perf/results/instructions.md"
