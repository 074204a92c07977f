#!/usr/bin/env bash
# Installs the toolchain if needed, then runs the forge test suite. Extra arguments go to
# `forge test` (e.g. `--match-contract GoldenTest -vvv`). Exits non-zero when a test fails.
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
bash "$dir/install.sh"
bash "$dir/export-artifacts.sh" --check
exec bash "$dir/forge.sh" test "$@"
