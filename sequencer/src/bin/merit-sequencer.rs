//! `merit-sequencer`: a Merit sequencer node (the same as `merit node`).

use std::process::ExitCode;

use clap::Parser;
use merit_sequencer::cli::{init_tracing, NodeArgs};

/// mimalloc instead of the system allocator: the submit path makes many small, short-lived
/// allocations per request (HTTP, JSON, records), where glibc's malloc took ~4% of the node's
/// CPU at 10,000 submissions/s.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run a Merit sequencer node.
#[derive(Debug, Parser)]
#[command(name = "merit-sequencer", version, about)]
struct Cli {
    #[command(flatten)]
    node: NodeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = merit_prover::check_cpu() {
        eprintln!("Error: {err}");
        return ExitCode::FAILURE;
    }
    init_tracing();
    let result =
        cli.node.load_config().map_err(merit_sequencer::NodeError::from).and_then(|config| {
            let runtime =
                tokio::runtime::Runtime::new().map_err(merit_sequencer::NodeError::Runtime)?;
            runtime.block_on(merit_sequencer::run(config, merit_sequencer::shutdown_signal()))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
