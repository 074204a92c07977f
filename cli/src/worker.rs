//! `merit prover`: the prover worker (`merit_prover::worker`) — leases sealed batches from a
//! sequencer, proves them, uploads the proofs, and repeats (`--once`: one job).

use eyre::{eyre, Result};
use merit_prover::worker::WorkerArgs;

/// Runs the worker with a log on stderr (`RUST_LOG`, default `info`).
pub(crate) fn run(args: &WorkerArgs) -> Result<()> {
    merit_sequencer::cli::init_tracing();
    let summary = args.run().map_err(|e| eyre!(e))?;
    if args.once {
        let proven = summary.proven();
        println!("proved batch {}", proven.first().copied().unwrap_or_default());
    }
    Ok(())
}
