#!/usr/bin/env bash
# Throughput with guards on vs off, paired per round: the same gateway
# config twice, one with request-side guards (injection scoring, PII, a
# default tool policy), each behind its own port, one worker each, loaded
# in turn with wrk on the same ~1 KB chat body without tools (the guards
# issue's baseline). Prints each round's rps and the median of the paired
# ratios. Instructions per request are perf/instructions.sh's rows `plain`
# and `guarded`; this is the throughput side.
#
#   perf/guards.sh                  # 5 rounds of 10 s at 64 connections
#   ROUNDS=3 DURATION=5s perf/guards.sh
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
MOCK_PORT=${MOCK_PORT:-19290}
OFF_PORT=${OFF_PORT:-18280}
ON_PORT=${ON_PORT:-18282}
HOST=127.0.0.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/tollgate

log() { printf '[guards] %s\n' "$*" >&2; }
command -v wrk >/dev/null || { log "installing wrk"; apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" -newer "$BIN" -print -quit)" ]; then
    log "building release"
    (cd "$ROOT" && cargo build --release --quiet)
fi

TMP=$(mktemp -d /tmp/tollgate-guards.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
wait_port() {
    for _ in $(seq 1 100); do
        (echo >"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    log "nothing listens on $1"
    exit 1
}

# The body of perf/instructions.sh's `plain` and `guarded` rows.
BODY=$(sed -n "s/^PLAIN_BODY='\(.*\)'$/\1/p" "$ROOT/perf/instructions.sh" | sed 's/MODEL/bench-model/')
[ -n "$BODY" ] || { log "no PLAIN_BODY in perf/instructions.sh"; exit 1; }
printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["content-type"] = "application/json"\n' "$BODY" >"$TMP/body.lua"

gateway_config() {
    cat <<EOF
[server]
listen = "$HOST:$1"
workers = 1

[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[models]]
name = "bench-model"
provider = "mock"
EOF
}
gateway_config "$OFF_PORT" >"$TMP/off.toml"
gateway_config "$ON_PORT" >"$TMP/on.toml"
cat >>"$TMP/on.toml" <<EOF

[guards]
default_tool_policy = "travel"

[guards.injection]
action = "block"

[guards.pii]
action = "mask"
answers = false

[guards.tool_policies.travel]
[[guards.tool_policies.travel.tools]]
name = "search_trains"
EOF

"$BIN" mock-upstream --listen "$HOST:$MOCK_PORT" --workers 1 >"$TMP/mock.log" 2>&1 &
PIDS+=($!)
"$BIN" --config "$TMP/off.toml" >"$TMP/off.log" 2>&1 &
PIDS+=($!)
"$BIN" --config "$TMP/on.toml" >"$TMP/on.log" 2>&1 &
PIDS+=($!)
for p in "$MOCK_PORT" "$OFF_PORT" "$ON_PORT"; do wait_port "$p"; done

rps() {
    timeout 120 wrk -t1 -c"$CONNS" -d2s -s "$TMP/body.lua" "http://$HOST:$1/v1/chat/completions" >/dev/null
    timeout 120 wrk -t1 -c"$CONNS" -d"$DURATION" -s "$TMP/body.lua" "http://$HOST:$1/v1/chat/completions" |
        awk '/^Requests\/sec:/ {printf "%.0f", $2}'
}
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
    off=$(rps "$OFF_PORT")
    on=$(rps "$ON_PORT")
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}')
    RATIOS+=("$ratio")
    log "round $r: guards off $off rps, on $on rps, ratio $ratio"
done
median=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "guards on / off, paired median of $ROUNDS rounds at $CONNS connections: $median (target >= 0.95; rounds: ${RATIOS[*]})"
