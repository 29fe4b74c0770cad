#!/usr/bin/env bash
# The fault suite of issue 10: builds the release gateway and tollgate-faults,
# runs the scenarios against real processes on 127.0.0.1 only, and writes
# perf/results/faults.md. Arguments go to tollgate-faults, e.g.
#   perf/faults.sh --quick
#   perf/faults.sh --scenario soak --soak-secs 1800
# See perf/README.md. Exits non-zero if a scenario fails.
set -euo pipefail

TIMEOUT=${TIMEOUT:-3600}   # the whole run, seconds (each scenario is bounded too)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/perf/results/faults.md
cd "$ROOT"

echo "[faults] building release binaries" >&2
cargo build --release --bin tollgate --bin tollgate-faults >&2

LINES=$(mktemp)
trap 'rm -f "$LINES"' EXIT
status=0
timeout "$TIMEOUT" target/release/tollgate-faults "$@" | tee "$LINES" || status=$?

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src Cargo.toml || commit="$commit (with uncommitted changes)"
{
    echo "# Fault suite results"
    echo
    echo "Commit $commit, $(date -u '+%Y-%m-%d %H:%M') UTC, \`perf/faults.sh ${*:-}\`, $(nproc) cores."
    grep '^#' "$LINES" | sed 's/^# /- /'
    echo
    echo "| scenario | verdict | expectation | figures |"
    echo "|---|---|---|---|"
    grep -v '^#' "$LINES" |
        sed -E 's/^([^ ]+) +(PASS|FAIL) \[([^]]*)\] (.*)$/| \1 | \2 | \3 | \4 |/'
    echo
    echo "Figures: \`rss_mib\` and \`fds\` are the gateway's start/peak/end (VmRSS and"
    echo "/proc/<pid>/fd, sampled every 50 ms); \`client_fds\` is fds less the upstream"
    echo "connections the mocks see open, at start/end. See perf/README.md."
} >"$OUT"
echo "[faults] wrote $OUT" >&2
exit "$status"
