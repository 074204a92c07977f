#!/usr/bin/env bash
# The test command of the README: formatting, lints and every test of the workspace.
# Installs what it needs (Rust crates from crates.io) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked --workspace
echo "== forge test (verifier-contracts)"
bash verifier-contracts/scripts/test.sh
