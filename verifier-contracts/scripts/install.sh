#!/usr/bin/env bash
# Installs the pinned Ethereum toolchain (forge, anvil, cast, solcjs, forge-std, OpenZeppelin)
# from package-lock.json into verifier-contracts/node_modules. Idempotent: when node_modules
# already matches the lock file it returns at once; otherwise it runs `npm ci`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stamp=node_modules/.merit-install-stamp
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
    && [[ -x "$(bash scripts/forge.sh --print-path 2>/dev/null)" ]] \
    && [[ -f node_modules/solc/soljson.js ]]; then
    exit 0
fi

command -v npm >/dev/null || { echo "install.sh: npm (Node.js >= 18) is required" >&2; exit 1; }
echo "install.sh: npm ci (verifier-contracts/node_modules)" >&2
# --ignore-scripts: the platform binaries come as optional dependencies; the wrappers'
# postinstall would only try to download them again.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
chmod +x tools/solc
bash scripts/forge.sh --version >/dev/null
echo "$want" > "$stamp"
