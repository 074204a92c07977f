#!/usr/bin/env bash
# The EZKL side of the benchmark comparison: proves the same quality model (16→32→1 MLP, ReLU then
# sigmoid) with EZKL at several batch sizes and writes a JSON report (see
# bench/peers/ezkl/README.md and the schema at the top of bench/peers/ezkl/run_ezkl.py).
#
#   bench/scripts/ezkl.sh [--batch-sizes 16,64,256] [--out FILE] [--timeout-per-size S]
#                         [--calibrate-target resources|accuracy|none] [--keep-artifacts]
#
# Installs EZKL (PyPI, pinned in bench/peers/ezkl/requirements.txt) into
# ${MERIT_CACHE_DIR:-$HOME/.cache/merit}/ezkl-venv; works in .../ezkl-work (keys, proofs, logs).
# The SRS is generated locally (insecure, timing only): EZKL's get_srs download is not used.
set -euo pipefail
cd "$(dirname "$0")/../.."

batch_sizes=16,64,256
out=bench/results/latest/ezkl.json
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --batch-sizes) batch_sizes="${2:?--batch-sizes needs a value, e.g. 16,64,256}"; shift 2 ;;
    --batch-sizes=*) batch_sizes="${1#*=}"; shift ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --timeout-per-size|--calibrate-target|--max-rss-gib)
      extra+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --keep-artifacts) extra+=("$1"); shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ezkl.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

cache="${MERIT_CACHE_DIR:-$HOME/.cache/merit}"
venv="$cache/ezkl-venv"
workdir="$cache/ezkl-work"
req=bench/peers/ezkl/requirements.txt
model=fixtures/onnx/mlp_16_32_1.onnx
calibration=fixtures/onnx/mlp_16_32_1.calibration.json

command -v python3 >/dev/null || { echo "ezkl.sh: python3 is required" >&2; exit 1; }
mkdir -p "$cache"

if [ ! -x "$venv/bin/python" ]; then
  echo "ezkl.sh: creating the virtual environment $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "ezkl.sh: python3 -m venv failed; installing python3-venv with apt-get"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      python3 -m venv "$venv"
    else
      echo "ezkl.sh: python3 -m venv failed; install python3-venv (e.g. apt-get install python3-venv) and rerun" >&2
      exit 1
    fi
  fi
fi

# Install (or re-check) the pinned packages; a stamp skips pip when requirements.txt is unchanged.
stamp="$venv/.merit-requirements"
if ! cmp -s "$req" "$stamp"; then
  echo "ezkl.sh: installing $req into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi

mkdir -p "$(dirname "$out")" "$workdir"
echo "ezkl.sh: batch sizes $batch_sizes; workdir $workdir; report $out"
"$venv/bin/python" bench/peers/ezkl/run_ezkl.py \
  --onnx "$model" --calibration "$calibration" \
  --batch-sizes "$batch_sizes" --workdir "$workdir" --out "$out" "${extra[@]+"${extra[@]}"}"
echo "ezkl.sh: report written to $out"
