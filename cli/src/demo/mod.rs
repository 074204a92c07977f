//! `merit demo`: the whole loop on embedded defaults.
//!
//! By default ([`full`]): a local anvil chain, the contracts (the reward token, the circuit's
//! generated halo2 verifier, `RewardRollup`), the sequencer on RocksDB with its prover job queue
//! and L1 submitter, a prover worker, and simulated contributors with their own keys. Every
//! batch is proven and settled; every contributor claims on chain with the proof the API
//! serves, and the balances are checked.
//!
//! `--native` ([`native`]) runs the protocol alone, in-process, without chain or proofs.

mod full;
mod native;

use std::path::PathBuf;

use clap::Args;
use eyre::Result;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Number of simulated contributors.
    #[arg(long, default_value_t = 8)]
    contributors: usize,
    /// Number of batches.
    #[arg(long, default_value_t = 4)]
    batches: usize,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Circuit configuration: a name in circuits/configs (`n16`: 16 contributions and 4
    /// accounts per batch, depth 24; `tiny`: 4 and 2, depth 8) or a file. Settlement needs its
    /// generated verifier (committed for tiny and n16).
    #[arg(long, default_value = "n16")]
    circuit: String,
    /// The anvil binary (default: MERIT_ANVIL, then verifier-contracts/node_modules, then PATH).
    #[arg(long, value_name = "FILE")]
    anvil: Option<PathBuf>,
    /// Data directory of the sequencer (default: a temporary directory, removed at the end).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the circuit's proving keys are cached (default: ~/.cache/merit/demo-keys).
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// Write the summary (proof times, gas of every transaction, balances) as JSON here.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Run the protocol alone, in-process: no chain, no proofs, no HTTP.
    #[arg(long)]
    native: bool,
    /// (--native) Contributions each contributor submits per batch.
    #[arg(long, default_value_t = 4)]
    per_contributor: usize,
    /// (--native) Account-tree depth.
    #[arg(long, default_value_t = 24)]
    depth: usize,
    /// (--native) Write batches, outputs and claim proofs here.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

pub(crate) fn run(args: DemoArgs) -> Result<()> {
    if args.native {
        return native::run(&args);
    }
    full::run(&args)
}
