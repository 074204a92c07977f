#!/usr/bin/env bash
# Copies the ABI and bytecode of the deployable contracts from forge's out/ into
# bindings/artifacts/, which the Rust bindings (crate merit-contracts) compile against, so a
# cargo build needs no forge. `--check` fails when the committed artifacts differ from a fresh
# `forge build` (run by scripts/test.sh).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check=0
[ "${1:-}" = "--check" ] && check=1
bash "$dir/scripts/forge.sh" build >/dev/null
out="$dir/bindings/artifacts"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# file:contract pairs
contracts=(
  RewardRollup.sol:RewardRollup
  DemoRewardToken.sol:DemoRewardToken
  TinyBatchVerifier.sol:TinyBatchVerifier
  TinyBatchVerifier.sol:TinyBatchVerifierPart2
  N16BatchVerifier.sol:N16BatchVerifier
  N16BatchVerifier.sol:N16BatchVerifierPart2
)
for pair in "${contracts[@]}"; do
  file="${pair%%:*}"
  name="${pair##*:}"
  node -e '
    const fs = require("fs");
    const [src, dst] = process.argv.slice(1);
    const a = JSON.parse(fs.readFileSync(src, "utf8"));
    const trimmed = {
      abi: a.abi,
      bytecode: { object: a.bytecode.object },
      deployedBytecode: { object: a.deployedBytecode.object },
    };
    fs.writeFileSync(dst, JSON.stringify(trimmed, null, 1) + "\n");
  ' "$dir/out/$file/$name.json" "$tmp/$name.json"
done
if [ "$check" = 1 ]; then
  if ! diff -r "$tmp" "$out" >/dev/null; then
    echo "bindings/artifacts/ is stale: run verifier-contracts/scripts/export-artifacts.sh" >&2
    diff -rq "$tmp" "$out" >&2 || true
    exit 1
  fi
  echo "bindings/artifacts/ matches the compiled contracts"
else
  rm -rf "$out"
  mkdir -p "$out"
  cp "$tmp"/*.json "$out/"
  echo "wrote $(ls "$out" | wc -l) artifacts to $out"
fi
