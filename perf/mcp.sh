#!/usr/bin/env bash
# MCP tools/call through Tollgate vs directly: the mock's `echo` called at
# the mock's own /mcp, and as `m-echo` at a gateway federating that mock
# (`[[mcp.servers]] name = "m"`), one worker each, in paired rounds with
# wrk on the same modern-era (2026-07-28) request. Each round measures
# latency at 1 connection (p50/p99) and calls/s at CONNS connections, direct
# then through the gateway; prints each round, then the medians of the
# added microseconds and of the throughput ratios. Instructions per call are
# perf/instructions.sh's row `mcp-call`; this is the wall-clock side.
#
#   perf/mcp.sh                         # 3 rounds of 5 s at 1 and 32 connections
#   ROUNDS=5 DURATION=10s perf/mcp.sh
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
MOCK_PORT=${MOCK_PORT:-19390}
GW_PORT=${GW_PORT:-18380}
HOST=127.0.0.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/tollgate

log() { printf '[mcp] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
command -v wrk >/dev/null || { log "installing wrk"; apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || die "curl is needed for the sanity calls"
if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" -newer "$BIN" -print -quit)" ]; then
    log "building release"
    (cd "$ROOT" && cargo build --release --quiet)
fi

TMP=$(mktemp -d /tmp/tollgate-mcp.XXXXXX)
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
    die "nothing listens on $1"
}

# The body of perf/instructions.sh's `mcp-call` row.
BODY=$(sed -n "s/^MCP_BODY='\(.*\)'$/\1/p" "$ROOT/perf/instructions.sh")
[ -n "$BODY" ] || die "no MCP_BODY in perf/instructions.sh"
KEY=tg-perf-mcp-key
KEY_HASH=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)

# wrk_script NAME TOOL [KEY]: a Lua script POSTing the call of TOOL with the
# headers a modern client sends.
wrk_script() {
    local body=${BODY//m-echo/$2}
    {
        printf 'wrk.method = "POST"\nwrk.body = [[%s]]\n' "$body"
        printf 'wrk.headers["content-type"] = "application/json"\n'
        printf 'wrk.headers["accept"] = "application/json, text/event-stream"\n'
        printf 'wrk.headers["mcp-protocol-version"] = "2026-07-28"\n'
        printf 'wrk.headers["mcp-method"] = "tools/call"\n'
        printf 'wrk.headers["mcp-name"] = "%s"\n' "$2"
        [ -n "${3:-}" ] && printf 'wrk.headers["authorization"] = "Bearer %s"\n' "$3"
        true
    } >"$TMP/$1.lua"
}
wrk_script direct echo
wrk_script gateway m-echo "$KEY"

cat >"$TMP/gateway.toml" <<EOF
[server]
listen = "$HOST:$GW_PORT"
workers = 1

[governance]
store = "$TMP/gov.db"

[[keys]]
id = "bench"
hash = "sha256:$KEY_HASH"

# A chat model is still required.
[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://$HOST:$MOCK_PORT/v1"

[[models]]
name = "bench-model"
provider = "mock"

[mcp]
[[mcp.servers]]
name = "m"
url = "http://$HOST:$MOCK_PORT/mcp"
EOF

"$BIN" mock-upstream --listen "$HOST:$MOCK_PORT" --workers 1 >"$TMP/mock.log" 2>&1 &
PIDS+=($!)
"$BIN" --config "$TMP/gateway.toml" >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)
for p in "$MOCK_PORT" "$GW_PORT"; do wait_port "$p"; done

# call NAME TOOL URL: one call of TOOL with NAME's headers; prints the answer.
call() {
    local -a headers=()
    while IFS= read -r line; do
        headers+=(-H "$line")
    done < <(sed -n 's/^wrk.headers\["\(.*\)"\] = "\(.*\)"$/\1: \2/p' "$TMP/$1.lua")
    curl -s -m 5 "${headers[@]}" --data-binary "${BODY//m-echo/$2}" "$3" || true
}
# Both sides must answer a real echo before any load; the gateway lists the
# mock's tools on its first probe, so m-echo may take a moment to appear.
ok=""
for _ in $(seq 1 100); do
    case $(call gateway m-echo "http://$HOST:$GW_PORT/mcp") in *'"isError":false'*) ok=1 && break ;; esac
    sleep 0.2
done
[ -n "$ok" ] || die "the gateway does not answer tools/call m-echo (log: $(tail -3 "$TMP/gateway.log"))"
case $(call direct echo "http://$HOST:$MOCK_PORT/mcp") in
*'"isError":false'*) ;;
*) die "the mock does not answer tools/call echo" ;;
esac

# to_us VALUE: wrk's latency (us, ms, s) in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
        printf "%.1f", n }'
}
# run NAME PORT CONNS: wrk's output; a run with errors or non-2xx answers fails.
run() {
    local out
    out=$(timeout 120 wrk -t1 -c"$3" -d"$DURATION" --latency -s "$TMP/$1.lua" "http://$HOST:$2/mcp")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        die "$1 at $3 connections: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
    fi
    printf '%s\n' "$out"
}
# measure NAME PORT: "p50_us p99_us rps".
measure() {
    timeout 120 wrk -t1 -c"$CONNS" -d2s -s "$TMP/$1.lua" "http://$HOST:$2/mcp" >/dev/null
    local lat thr
    lat=$(run "$1" "$2" 1)
    thr=$(run "$1" "$2" "$CONNS")
    printf '%s %s %s\n' \
        "$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$lat")")" \
        "$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$lat")")" \
        "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$thr")"
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ADDED50=() ADDED99=() RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
    read -r d50 d99 drps <<<"$(measure direct "$MOCK_PORT")"
    read -r g50 g99 grps <<<"$(measure gateway "$GW_PORT")"
    a50=$(awk -v g="$g50" -v d="$d50" 'BEGIN {printf "%.1f", g - d}')
    a99=$(awk -v g="$g99" -v d="$d99" 'BEGIN {printf "%.1f", g - d}')
    ratio=$(awk -v g="$grps" -v d="$drps" 'BEGIN {printf "%.3f", g / d}')
    ADDED50+=("$a50") ADDED99+=("$a99") RATIOS+=("$ratio")
    log "round $r: direct p50 ${d50}us p99 ${d99}us ${drps} calls/s | gateway p50 ${g50}us p99 ${g99}us ${grps} calls/s | added p50 ${a50}us p99 ${a99}us, throughput ratio $ratio"
done
echo "tools/call through Tollgate vs directly, paired medians of $ROUNDS rounds:" \
    "added latency p50 $(printf '%s\n' "${ADDED50[@]}" | median) us, p99 $(printf '%s\n' "${ADDED99[@]}" | median) us (1 connection);" \
    "calls/s ratio gateway / direct $(printf '%s\n' "${RATIOS[@]}" | median) at $CONNS connections (rounds: ${RATIOS[*]})"
