#!/usr/bin/env bash
# The fuzz run: an optimized build, then every target (or $TARGET) with
# $INPUTS inputs (default 10^6). Prints the per-target report; failing inputs
# are saved under fuzz/corpus/<target>/ and replayed by `cargo test --test fuzz`.
# Extra arguments go to tollgate-fuzz (e.g. --no-secret-oracle, --seed 7).
set -euo pipefail
cd "$(dirname "$0")/.."
INPUTS="${INPUTS:-1000000}"
TARGET="${TARGET:-all}"
cargo build --profile fuzz --bin tollgate-fuzz
exec ./target/fuzz/tollgate-fuzz --target "$TARGET" --inputs "$INPUTS" "$@"
