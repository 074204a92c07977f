#!/usr/bin/env bash
# The sequencer ingestion benchmark: builds merit-sequencer and merit-loadgen in release, runs
# the sustained-ingestion run against a spawned node (temporary RocksDB directory) twice (one
# contribution per request; then as a relay, RELAY_PER_REQUEST per POST /v1/contributions/batch
# over RELAY_CONNECTIONS connections) and the SIGKILL recovery run, and writes
# bench/results/latest/{ingest,ingest-relay,crash}.json.
#
#   bench/scripts/ingest.sh                      # 10,000/s for 30 s, 1,000 keys, then the crash run
#   RATE=5000 DURATION=10 bench/scripts/ingest.sh
#   bench/scripts/ingest.sh --node-arg=--max-batch-size=1024   # extra merit-loadgen flags
#
# Environment: RATE (10000), DURATION (30 s), WARMUP (2 s), KEYS (1000), CONNECTIONS (256),
# KILL_AFTER (10 s), CRASH_RATE (= RATE), OUT_DIR (bench/results/latest), SKIP_CRASH=1,
# RELAY_PER_REQUEST (32), RELAY_CONNECTIONS (16), SKIP_RELAY=1.
# The load generator runs on the same machine and shares its cores with the node; contributions
# are signed before the measured window. Benchmarks, not tests: the exit status is 0 whether or
# not the targets (≥ 10,000/s acknowledged, p99 ≤ 20 ms, recovery < 5 s, nothing lost) are met.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

RATE="${RATE:-10000}"
DURATION="${DURATION:-30}"
WARMUP="${WARMUP:-2}"
KEYS="${KEYS:-1000}"
CONNECTIONS="${CONNECTIONS:-256}"
KILL_AFTER="${KILL_AFTER:-10}"
CRASH_RATE="${CRASH_RATE:-$RATE}"
OUT_DIR="${OUT_DIR:-bench/results/latest}"
RELAY_PER_REQUEST="${RELAY_PER_REQUEST:-32}"
RELAY_CONNECTIONS="${RELAY_CONNECTIONS:-16}"

echo "== cargo build --release (merit-sequencer, merit-loadgen)"
cargo build --release --locked -p merit-sequencer -p merit-bench
BIN="$CARGO_TARGET_DIR/release"
mkdir -p "$OUT_DIR"
# Write back the build's dirty pages (hundreds of MB) before measuring: behind them, the node's
# WAL fsyncs stalled for up to 0.6 s in runs started right after a build.
quiet_disk() { sync; sleep 2; }

echo "== ingestion: ${RATE}/s for ${DURATION} s from ${KEYS} keys"
quiet_disk
"$BIN/merit-loadgen" --spawn --sequencer-bin "$BIN/merit-sequencer" \
  --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --keys "$KEYS" \
  --connections "$CONNECTIONS" --out "$OUT_DIR/ingest.json" "$@"

if [ "${SKIP_RELAY:-0}" != 1 ]; then
  echo "== ingestion as a relay: ${RATE}/s, ${RELAY_PER_REQUEST} per request over ${RELAY_CONNECTIONS} connections"
  quiet_disk
  "$BIN/merit-loadgen" --spawn --sequencer-bin "$BIN/merit-sequencer" \
    --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --keys "$KEYS" \
    --connections "$RELAY_CONNECTIONS" --per-request "$RELAY_PER_REQUEST" \
    --out "$OUT_DIR/ingest-relay.json" "$@"
fi

if [ "${SKIP_CRASH:-0}" != 1 ]; then
  echo "== recovery: ${CRASH_RATE}/s, SIGKILL after ${KILL_AFTER} s, restart, look up every 202"
  quiet_disk
  "$BIN/merit-loadgen" --crash --sequencer-bin "$BIN/merit-sequencer" \
    --rate "$CRASH_RATE" --kill-after "$KILL_AFTER" --keys "$KEYS" \
    --connections "$CONNECTIONS" --out "$OUT_DIR/crash.json" "$@"
fi
