#!/usr/bin/env bash
# Builds the prover binary `merit-prover` twice on a CPU machine, so both can be carried to a GPU
# host that has no network (or no Rust toolchain):
#   dist/merit-prover-cuda  the CUDA backend (halo2-axiom-gpu), kernels for CUDA_ARCH (default
#                           90: H100/H200), the CUDA runtime linked statically, so the only CUDA
#                           library it needs on the host is the driver's libcuda.so.1;
#   dist/merit-prover-cpu   the CPU backend, to compare the two on the same host;
#   dist/merit-prover-cuda-tests  the CUDA equivalence test (prover/tests/cuda.rs), run from
#                           the repository root on the GPU host;
#   dist/merit-provers.tar.xz  the three, compressed (~21 MB), to carry them in one file.
# A CUDA build aborts at start on a machine without a GPU, so it is never part of the workspace
# build, the tests or CI.
#
# Needs nvcc. On Debian bookworm it is the `nvidia-cuda-toolkit` package (CUDA 11.8, component
# `non-free`; ~1.6 GB), which this script installs when nvcc is missing and it runs as root.
# nvcc 11.8 refuses gcc 12, so the host compiler is g++-11.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="${MERIT_CUDA_TARGET_DIR:-$HOME/.cache/merit/target-cuda}"
export CUDA_ARCH="${CUDA_ARCH:-90}"

if ! command -v nvcc >/dev/null || ! command -v g++-11 >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "nvcc or g++-11 missing: install nvidia-cuda-toolkit and g++-11" >&2; exit 1; }
  echo "== installing Debian's CUDA toolkit (non-free) and g++-11"
  if ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/merit-non-free.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: non-free contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    nvidia-cuda-toolkit nvidia-cuda-dev g++-11
fi

# Link the CUDA runtime statically: a linker script named libcudart.so, found before the
# shared library, pulls in libcudart_static.a.
cudart_static="$( (find /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64 -name libcudart_static.a 2>/dev/null || true) | head -n1)"
[ -n "$cudart_static" ] || { echo "libcudart_static.a not found" >&2; exit 1; }
link_dir="$CARGO_TARGET_DIR/cudart-static"
mkdir -p "$link_dir"
echo "INPUT ( $cudart_static -ldl -lpthread -lrt )" > "$link_dir/libcudart.so"

mkdir -p dist
echo "== building the CUDA prover (CUDA_ARCH=$CUDA_ARCH, $(nvcc --version | tail -n1))"
CXX=g++-11 CC=gcc-11 RUSTFLAGS="-L native=$link_dir" \
  cargo build --locked --release -p merit-prover --bin merit-prover --features cuda
cp "$CARGO_TARGET_DIR/release/merit-prover" dist/merit-prover-cuda
echo "== building the CUDA equivalence test (prover/tests/cuda.rs)"
test_bin="$(CXX=g++-11 CC=gcc-11 RUSTFLAGS="-L native=$link_dir" \
  cargo test --locked --release -p merit-prover --features cuda --test cuda --no-run \
    --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)"
[ -n "$test_bin" ] || { echo "the CUDA test did not build" >&2; exit 1; }
cp "$test_bin" dist/merit-prover-cuda-tests
echo "== building the CPU prover"
cargo build --locked --release -p merit-prover --bin merit-prover
cp "$CARGO_TARGET_DIR/release/merit-prover" dist/merit-prover-cpu
strip dist/merit-prover-cuda dist/merit-prover-cpu dist/merit-prover-cuda-tests
# The three binaries in one archive (~21 MB instead of ~125 MB) for a transfer with a size
# limit; scripts/gpu-bench.sh unpacks it when the binaries are missing.
tar -C dist -cf - merit-prover-cuda merit-prover-cpu merit-prover-cuda-tests \
  | xz -T0 -6 > dist/merit-provers.tar.xz

echo "== dynamic dependencies of dist/merit-prover-cuda"
ldd dist/merit-prover-cuda
if ldd dist/merit-prover-cuda | grep -q libcudart; then
  echo "libcudart is linked dynamically: the static link did not take" >&2
  exit 1
fi
ls -la dist/
