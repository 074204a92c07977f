#!/usr/bin/env bash
# Runs the pinned native forge binary from verifier-contracts/, passing all arguments through.
# Never use node_modules/.bin/forge: that Node wrapper exits 0 even when forge fails.
# `forge.sh --print-path` prints the binary's path instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-amd64 ;;
    Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
    Darwin-arm64) platform=darwin-arm64 ;;
    Darwin-x86_64) platform=darwin-amd64 ;;
    *) echo "forge.sh: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
forge="$PWD/node_modules/@foundry-rs/forge-$platform/bin/forge"

if [[ "${1:-}" == "--print-path" ]]; then
    echo "$forge"
    exit 0
fi
if [[ ! -x "$forge" ]]; then
    echo "forge.sh: $forge is missing; run verifier-contracts/scripts/install.sh" >&2
    exit 1
fi
exec "$forge" "$@"
