#!/usr/bin/env bash
# The demo command of the README: the whole loop on embedded defaults. Flags go to `merit demo`
# (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --locked --quiet -p merit-cli --bin merit
exec "$CARGO_TARGET_DIR/debug/merit" demo "$@"
