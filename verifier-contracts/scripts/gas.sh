#!/usr/bin/env bash
# Prints the measured gas of RewardRollup's hot paths (test/Gas.t.sol): claim (first, with the
# recipient holding no tokens yet / already holding some; a later claim; a repeat that reverts)
# and submitBatch with 4, 64 and 256 touched accounts.
# Execution gas of the call, every account and slot cold as at the start of a transaction;
# EVM version Prague (foundry.toml). submitBatch uses a mock verifier: the generated halo2
# verifier's own cost (~265k gas at k=10, more for bigger circuits) is NOT included, nor is the
# 21,000 base + calldata cost (printed separately as "tx gas").
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
bash "$dir/install.sh"
out="$(bash "$dir/forge.sh" test --match-path test/Gas.t.sol -vv)" || { echo "$out"; exit 1; }
echo "RewardRollup gas (evm_version prague; mock verifier, verifier cost not included)"
grep -E '^\s+(submitBatch|claim|fund|\+ intrinsic)' <<<"$out" | sed -E -e 's/^\s+\+/    +/' -e 's/^\s+([a-z])/  \1/'
