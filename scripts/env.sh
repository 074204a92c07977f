# Sourced by the scripts: one cargo target directory shared by every clone and CI run on this
# machine, so a fresh clone does not rebuild halo2, alloy and RocksDB from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/merit/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
