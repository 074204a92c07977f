#!/usr/bin/env bash
# The benchmark report: one command that measures everything and writes report.md, report.json
# and PNG plots (see bench/report/make_report.py).
#
#   bench/scripts/report.sh [--sizes 16,64,256] [--ezkl-sizes LIST] [--repeat 2] [--skip-ezkl] [--skip-ingest]
#                           [--skip-gas] [--skip-demo] [--ezkl-timeout S] [--reference DIR]...
#                           [--tag TAG] [--out DIR]
#
# Stages, in order, each logged to DIR/logs/<stage>.log: the release build of merit-prover and
# merit; `merit circuit stats --json` per size; Merit's score error against the float model
# (`merit model import --json` of fixtures/onnx/mlp_16_32_1.onnx); `merit-prover bench
# --dev-srs` per size (circuits/configs/n<size>.json, one process each); EZKL on the same model
# (bench/scripts/ezkl.sh) at --ezkl-sizes (default: the sizes up to 256 — EZKL needs ~9 GB at
# 256 and is not run above it unless asked); L1 gas (verifier-contracts/scripts/gas.sh); `merit demo
# --summary-json` (submitBatch and claim gas on anvil); sequencer ingestion
# (bench/scripts/ingest.sh). A failed measurement is recorded and the run goes on; the report
# says "not measured". --skip-ezkl / --skip-ingest reuse bench/results/latest/{ezkl,ingest,crash}.json
# when present (and say so in the report). --reference DIR adds earlier bench reports (e.g.
# bench/results/2026-11-22-h100, the CUDA backend on an H100) as reference rows, never compared.
#
# DIR defaults to bench/results/<UTC date>-<tag> (tag: <hostname>-<cores>c); the raw JSON stays
# there, the report is written beside it and the directory is copied to bench/results/latest/.
# Python: a venv at ${MERIT_CACHE_DIR:-$HOME/.cache/merit}/bench-venv with
# bench/report/requirements.txt (matplotlib); EZKL uses its own, .../ezkl-venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
root="$PWD"

sizes=16,64,256
ezkl_sizes=""
repeat=2
skip_ezkl=0 skip_ingest=0 skip_gas=0 skip_demo=0
ezkl_timeout=""
tag=""
out=""
refs=()
command_line="bash bench/scripts/report.sh${*:+ $*}"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="${2:?--sizes needs a value, e.g. 16,64,256}"; shift 2 ;;
    --sizes=*) sizes="${1#*=}"; shift ;;
    --ezkl-sizes) ezkl_sizes="${2:?--ezkl-sizes needs a value, e.g. 16,64,256}"; shift 2 ;;
    --ezkl-sizes=*) ezkl_sizes="${1#*=}"; shift ;;
    --repeat) repeat="${2:?--repeat needs a number}"; shift 2 ;;
    --skip-ezkl) skip_ezkl=1; shift ;;
    --skip-ingest) skip_ingest=1; shift ;;
    --skip-gas) skip_gas=1; shift ;;
    --skip-demo) skip_demo=1; shift ;;
    --ezkl-timeout) ezkl_timeout="${2:?--ezkl-timeout needs seconds}"; shift 2 ;;
    --reference) refs+=("${2:?--reference needs a directory}"); shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "report.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# --- what the sizes need ----------------------------------------------------------------------
IFS=, read -r -a size_list <<<"$sizes"
configs=()
for n in "${size_list[@]}"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "report.sh: batch size '$n' is not a number" >&2; exit 2; }
  config="circuits/configs/n$n.json"
  [ -f "$config" ] || { echo "report.sh: no circuit configuration $config for batch size $n" >&2; exit 2; }
  configs+=("$config")
done
if [ -z "$ezkl_sizes" ]; then
  for n in "${size_list[@]}"; do
    [ "$n" -le 256 ] && ezkl_sizes="${ezkl_sizes:+$ezkl_sizes,}$n"
  done
fi
[ -z "$ezkl_sizes" ] || [[ "$ezkl_sizes" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "report.sh: --ezkl-sizes '$ezkl_sizes' is not a list of numbers" >&2; exit 2; }
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "report.sh: --repeat must be a positive number" >&2; exit 2; }
for ref in "${refs[@]+"${refs[@]}"}"; do
  [ -d "$ref" ] || { echo "report.sh: --reference $ref is not a directory" >&2; exit 2; }
done

if [ -z "$tag" ]; then
  host="$(hostname -s 2>/dev/null || hostname 2>/dev/null || echo host)"
  tag="$(printf '%s' "$host" | tr -c 'A-Za-z0-9-' '-' | cut -c1-24)-$(nproc)c"
fi
if [ -z "$out" ]; then
  out="bench/results/$(date -u +%F)-$tag"
  [ -e "$out" ] && out="$out-$(date -u +%H%M%S)"
elif [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "report.sh: $out exists and is not empty; give a new --out directory" >&2
  exit 2
fi
mkdir -p "$out/logs"
out="$(cd "$out" && pwd)"
latest="$root/bench/results/latest"
[ "$out" != "$latest" ] || { echo "report.sh: --out must not be bench/results/latest (it is a copy of the run)" >&2; exit 2; }
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_start="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo)"
stages="$out/stages.tsv"
: >"$stages"
say "benchmark report: sizes $sizes, $repeat proofs per size, results in ${out#"$root"/}"

# record NAME STATUS SECONDS LOG [NOTE]
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$stages"; }

# stage NAME COMMAND...: runs COMMAND with its output in logs/NAME.log (and on the terminal);
# a failure is recorded and the run goes on. (COMMAND runs where `set -e` does not apply: the
# functions below chain their steps with &&.)
stage() {
  local name="$1"; shift
  local log="$out/logs/$name.log" t0=$SECONDS rc=0
  say "$name: $*"
  "$@" 2>&1 | tee "$log" || rc=$?  # pipefail: the command's status
  if [ "$rc" -eq 0 ]; then
    record "$name" ok $((SECONDS - t0)) "logs/$name.log"
    say "$name: done in $((SECONDS - t0)) s"
  else
    record "$name" failed $((SECONDS - t0)) "logs/$name.log" "exit $rc"
    say "$name: FAILED (exit $rc, $((SECONDS - t0)) s) — see ${log#"$root"/}; going on"
  fi
  return 0
}

skipped() { record "$1" "$2" "" "" "$3"; say "$1: $2 ($3)"; }

# --- prerequisites ----------------------------------------------------------------------------
say "prerequisites: python3 with venv, libclang (RocksDB's bindgen)"
apt_install() {
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}
command -v python3 >/dev/null || apt_install python3
cache="${MERIT_CACHE_DIR:-$HOME/.cache/merit}"
venv="$cache/bench-venv"
req=bench/report/requirements.txt
mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    say "python3 -m venv failed: installing python3-venv with apt-get"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
fi
if ! cmp -s "$req" "$venv/.merit-requirements"; then
  say "installing $req into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.merit-requirements"
fi
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 && ! ldconfig -p | grep -q libclang; then
  say "installing libclang-dev (bindgen for RocksDB)"
  apt_install libclang-dev
fi

# --- build ------------------------------------------------------------------------------------
say "build: cargo build --release --locked -p merit-prover -p merit-cli"
t0=$SECONDS
cargo build --release --locked -p merit-prover -p merit-cli 2>&1 | tee "$out/logs/build.log"
record build ok $((SECONDS - t0)) logs/build.log
bin="$CARGO_TARGET_DIR/release"
merit="$bin/merit"
prover="$bin/merit-prover"

# --- circuit statistics ------------------------------------------------------------------------
mkdir -p "$out/stats" "$out/score" "$out/prover"
stats() { "$merit" circuit stats --config "$1" --json >"$2.tmp" && mv "$2.tmp" "$2" && cat "$2"; }
for i in "${!size_list[@]}"; do
  stage "stats-n${size_list[$i]}" stats "${configs[$i]}" "$out/stats/n${size_list[$i]}.stats.json"
done

# --- Merit's score error against the float model ----------------------------------------------
score() {
  "$merit" model import fixtures/onnx/mlp_16_32_1.onnx \
    --calibration fixtures/onnx/mlp_16_32_1.calibration.json \
    --out "$out/score/mlp_16_32_1.merit-model.json" --json >"$out/score/merit.import.json.tmp" \
    && mv "$out/score/merit.import.json.tmp" "$out/score/merit.import.json" \
    && python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["calibration"]; print("max abs error", c["max_abs_error"], "mean", c["mean_abs_error"], "over", c["samples"], "samples")' \
    "$out/score/merit.import.json"
}
stage score score

# --- Merit's prover ---------------------------------------------------------------------------
for i in "${!size_list[@]}"; do
  stage "prover-n${size_list[$i]}" "$prover" bench --config "${configs[$i]}" --dev-srs \
    --repeat "$repeat" --out "$out/prover"
done
for ref in "${refs[@]+"${refs[@]}"}"; do
  name="$(basename "$(cd "$ref" && pwd)")"
  mkdir -p "$out/reference/$name"
  cp "$ref"/*.bench.json "$out/reference/$name/" 2>/dev/null || true
  say "reference: $(ls "$out/reference/$name" | wc -l) bench reports from $ref"
done

# --- EZKL -------------------------------------------------------------------------------------
ezkl_source="this run"
if [ "$skip_ezkl" = 1 ]; then
  if [ -f "$latest/ezkl.json" ]; then
    cp "$latest/ezkl.json" "$out/ezkl.json"
    ezkl_source="reused from bench/results/latest/ezkl.json (written outside this run)"
    skipped ezkl reused "$ezkl_source"
  else
    ezkl_source="skipped (--skip-ezkl)"
    skipped ezkl skipped "--skip-ezkl, no bench/results/latest/ezkl.json"
  fi
elif [ -z "$ezkl_sizes" ]; then
  ezkl_source="not run (no batch size up to 256; pass --ezkl-sizes)"
  skipped ezkl skipped "no batch size up to 256 (--ezkl-sizes)"
else
  ezkl_args=(--batch-sizes "$ezkl_sizes" --out "$out/ezkl.json")
  [ -n "$ezkl_timeout" ] && ezkl_args+=(--timeout-per-size "$ezkl_timeout")
  stage ezkl bash bench/scripts/ezkl.sh "${ezkl_args[@]}"
fi

# --- L1 gas -----------------------------------------------------------------------------------
gas() { bash verifier-contracts/scripts/gas.sh >"$out/gas.txt.tmp" && mv "$out/gas.txt.tmp" "$out/gas.txt" && cat "$out/gas.txt"; }
if [ "$skip_gas" = 1 ]; then skipped gas skipped --skip-gas; else stage gas gas; fi

if [ "$skip_demo" = 1 ]; then
  skipped demo skipped --skip-demo
elif ! "$merit" demo --help 2>/dev/null | grep -q -- --summary-json; then
  skipped demo skipped "this merit has no demo --summary-json"
else
  demo() {
    bash verifier-contracts/scripts/install.sh \
      && "$merit" demo --circuit n16 --summary-json "$out/demo.json"
  }
  stage demo demo
fi

# --- sequencer ingestion ----------------------------------------------------------------------
ingest_source="this run"
if [ "$skip_ingest" = 1 ]; then
  if [ -f "$latest/ingest.json" ]; then
    cp "$latest/ingest.json" "$out/ingest.json"
    [ -f "$latest/crash.json" ] && cp "$latest/crash.json" "$out/crash.json"
    [ -f "$latest/ingest-relay.json" ] && cp "$latest/ingest-relay.json" "$out/ingest-relay.json"
    ingest_source="reused from bench/results/latest/ingest.json (written outside this run)"
    skipped ingest reused "$ingest_source"
  else
    ingest_source="skipped (--skip-ingest)"
    skipped ingest skipped "--skip-ingest, no bench/results/latest/ingest.json"
  fi
else
  stage ingest env OUT_DIR="$out" bash bench/scripts/ingest.sh
fi

# --- the report -------------------------------------------------------------------------------
# The logs are committed with the report: write this checkout's and the home directory's
# absolute paths as repository-relative and ~ paths.
for log in "$out"/logs/*.log; do
  sed -i -e "s#$root/##g" -e "s#$HOME/#~/#g" "$log"
done
say "report: bench/report/make_report.py"
python3 bench/report/collect_meta.py --out "$out/meta.json" --stages "$stages" \
  --command "$command_line" --sizes "$sizes" --repeat "$repeat" --started "$started" \
  ${load_start:+--loadavg-start "$load_start"} \
  --ezkl-source "$ezkl_source" --ingest-source "$ingest_source"
"$venv/bin/python" bench/report/make_report.py --in "$out" --out "$out"

rm -rf "$latest.tmp"
cp -r "$out" "$latest.tmp"
rm -rf "$latest"
mv "$latest.tmp" "$latest"
say "report: ${out#"$root"/}/report.md (copied to bench/results/latest/)"
failed="$(awk -F'\t' '$2 == "failed" { printf "%s ", $1 }' "$stages")"
[ -z "$failed" ] || say "stages that failed (not measured in the report): $failed"
