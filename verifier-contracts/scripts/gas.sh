#!/usr/bin/env bash
# Prints the measured gas of RewardRollup's hot paths (test/Gas.t.sol): claim (first, with the
# recipient holding no tokens yet / already holding some; a later claim; a repeat that reverts)
# and submitBatch with 4, 64 and 256 touched accounts; then the generated halo2 verifiers on the
# CUDA proofs of fixtures/proofs/ (test/GeneratedVerifier.t.sol) and a submitBatch that
# verifies a real proof.
# Execution gas of the call, every account and slot cold as at the start of a transaction;
# EVM version Prague (foundry.toml). The Gas.t.sol rows use a mock verifier: add the
# verification row for the real cost. The 21,000 base + calldata cost is printed separately.
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
bash "$dir/install.sh"
out="$(bash "$dir/forge.sh" test --match-path test/Gas.t.sol -vv)" || { echo "$out"; exit 1; }
echo "RewardRollup gas (evm_version prague; mock verifier, verifier cost not included)"
grep -E '^\s+(submitBatch|claim|fund|\+ intrinsic)' <<<"$out" | sed -E -e 's/^\s+\+/    +/' -e 's/^\s+([a-z])/  \1/'
out="$(bash "$dir/forge.sh" test --match-path test/GeneratedVerifier.t.sol -vv)" || { echo "$out"; exit 1; }
echo "Generated halo2 verifiers (real proofs; gas of the call, split verifier included)"
grep -E '^\s+(tiny|n16):' <<<"$out" | sed -E 's/^\s+/  /'
