#!/usr/bin/env bash
# Runs on a GPU host with the binaries of scripts/build-cuda-prover.sh in dist/: checks that the
# CUDA prover's proof verifies with the CPU prover's verifier, then benchmarks both backends on
# the given configurations (same host, same development SRS, same keys). Results (bench JSON,
# proofs, GPU memory samples, the log) go to $RESULTS (default: bench-results/), tarred into
# $RESULTS.tgz. The binaries may come as dist/merit-provers.tar.xz alone (unpacked here).
#   scripts/gpu-bench.sh [--smoke] [--cpu-repeat N] CONFIG...
set -uo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-bench-results}"
mkdir -p "$results"
cpu_repeat=2
smoke=0
configs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --cpu-repeat) cpu_repeat="$2"; shift ;;
    *) configs+=("$1") ;;
  esac
  shift
done
if [ ! -x dist/merit-prover-cuda ] && [ -f dist/merit-provers.tar.xz ]; then
  tar -C dist -xJf dist/merit-provers.tar.xz
fi
for binary in merit-prover-cuda merit-prover-cpu merit-prover-cuda-tests; do
  [ -x "dist/$binary" ] || { echo "dist/$binary missing: run scripts/build-cuda-prover.sh" >&2; exit 1; }
done
log="$results/log.txt"
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
ldd dist/merit-prover-cuda | grep -i -E "cuda|not found"
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader -lms 250 \
  > "$results/gpu-samples.csv" 2>/dev/null &
sampler=$!
status=0
if [ "$smoke" = 1 ]; then
  echo "== CUDA equivalence test (prover/tests/cuda.rs)"
  MERIT_REPO_ROOT="$PWD" MERIT_CUDA_PROOF_OUT="$results/tiny.cuda-test.proof.json" \
    dist/merit-prover-cuda-tests --nocapture || status=1
  echo "== smoke: tiny on the GPU, verified by the CPU build"
  dist/merit-prover-cuda bench --config circuits/configs/tiny.json --dev-srs --repeat 2 --out "$results" \
    && dist/merit-prover-cpu verify --config circuits/configs/tiny.json --dev-srs \
         --proof "$results/tiny.cuda.proof.json" || status=1
fi
for config in "${configs[@]}"; do
  [ "$status" = 0 ] || break
  name="$(basename "$config" .json)"
  echo "== $name: CUDA"
  dist/merit-prover-cuda bench --config "$config" --dev-srs --repeat 3 --out "$results" || { status=1; break; }
  echo "== $name: CPU"
  dist/merit-prover-cpu bench --config "$config" --dev-srs --repeat "$cpu_repeat" --out "$results" \
    --verify "$results/$name.cuda.proof.json" || { status=1; break; }
done
kill "$sampler" 2>/dev/null
tar czf "$results.tgz" -C "$results" .
exit "$status"
