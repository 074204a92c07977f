//! `merit`: the command-line entry point to Merit.
//!
//! Working today: `demo` (the native loop), `batch apply`, `claim-proof`, `state init`,
//! `contribution sign`, `model score` and `model import` (ONNX), `node`, `prover` (the worker),
//! `prove`, `verify`, `circuit stats` and `verifier generate`. The other subcommands are in
//! place and say plainly that they are not available yet.

mod commands;
mod demo;
mod io;
mod prove;
mod worker;

use clap::Parser;

fn main() {
    let cli = commands::Cli::parse();
    if let Err(err) = merit_prover::check_cpu() {
        eprintln!("Error: {err}");
        std::process::exit(1);
    }
    if let Err(err) = commands::run(cli) {
        eprintln!("Error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}
