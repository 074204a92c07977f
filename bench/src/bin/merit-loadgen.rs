//! `merit-loadgen`: the sequencer ingestion and recovery benchmark (see the `merit_bench`
//! crate docs).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use alloy_primitives::Address;
use clap::{ArgGroup, Parser};
use merit_bench::{
    crash::{run_crash, CrashOptions},
    ingest::{parse_url, run_ingest, Endpoint, IngestOptions},
    node::find_sequencer_bin,
    report::write_json,
};

/// Drive a Merit sequencer with pre-signed contributions from many keys at a fixed rate and
/// report acknowledgement throughput and latency; or SIGKILL it mid-stream and measure
/// recovery.
#[derive(Debug, Parser)]
#[command(name = "merit-loadgen", version, about)]
#[command(group(ArgGroup::new("mode").required(true).args(["url", "spawn", "crash"])))]
struct Cli {
    /// Benchmark a running node at this base URL (e.g. http://127.0.0.1:8645).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Start merit-sequencer on a temporary data directory, benchmark it, stop it.
    #[arg(long)]
    spawn: bool,
    /// Recovery benchmark: start merit-sequencer, stream, SIGKILL it after --kill-after,
    /// restart it, time /health and look up every acknowledged contribution.
    #[arg(long)]
    crash: bool,

    /// The merit-sequencer binary (default: $MERIT_SEQUENCER_BIN, else beside this binary).
    #[arg(long, value_name = "PATH")]
    sequencer_bin: Option<PathBuf>,
    /// Data directory of a spawned node (default: a temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Extra argument of a spawned node, repeatable (e.g. --node-arg=--max-batch-size=1024).
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    node_args: Vec<String>,
    /// Process id of the --url node, to report its CPU time.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,

    /// Number of keys (contributors).
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Offered submissions per second.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Warm-up seconds before the measured window, at the same rate (not measured).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Concurrent connections (keys are spread over them; at most one per key).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Contributions per request: 1 sends each to `POST /v1/contributions`; more plays a relay
    /// that sends this many at a time to `POST /v1/contributions/batch` (latency from each
    /// request's due time; each connection's first request is shorter by its phase, so the
    /// connections' requests come due spread out, not in one burst). Ingestion runs only.
    #[arg(long, default_value_t = 1)]
    per_request: usize,
    /// Worker threads of the load generator's runtime (1 = a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Signing threads (default: every core; signing happens before the window).
    #[arg(long)]
    sign_threads: Option<usize>,
    /// Seed of the keys and contents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds to keep sending after the schedule ends, if behind.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30.0)]
    request_timeout: f64,
    /// Sign for this chain id instead of the node's (testing refusals).
    #[arg(long)]
    chain_id: Option<u64>,
    /// Sign for this rollup address instead of the node's.
    #[arg(long)]
    rollup: Option<Address>,
    /// Send this many features instead of the node's model width.
    #[arg(long)]
    feature_dim: Option<usize>,

    /// Crash mode: SIGKILL the node after this many seconds of streaming.
    #[arg(long, default_value_t = 10.0)]
    kill_after: f64,
    /// Crash mode: give up waiting for the restarted node after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    recovery_timeout: f64,

    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit with status 2 when a target is not met.
    #[arg(long)]
    check: bool,
}

fn seconds(value: f64, what: &str) -> eyre::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| eyre::eyre!("--{what} must be ≥ 0 seconds"))
}

fn run(cli: Cli) -> eyre::Result<bool> {
    let threads = cli.client_threads.max(1);
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?
    };
    let sign_threads = cli
        .sign_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let request_timeout = seconds(cli.request_timeout, "request-timeout")?;
    if cli.crash {
        let options = CrashOptions {
            bin: find_sequencer_bin(cli.sequencer_bin.as_deref())?,
            data_dir: cli.data_dir,
            args: cli.node_args,
            keys: cli.keys,
            seed: cli.seed,
            rate: cli.rate,
            kill_after: seconds(cli.kill_after, "kill-after")?,
            connections: cli.connections,
            sign_threads,
            request_timeout,
            recovery_timeout: seconds(cli.recovery_timeout, "recovery-timeout")?,
        };
        let report = runtime.block_on(run_crash(&options))?;
        print!("{}", report.summary());
        if let Some(out) = &cli.out {
            write_json(out, &report)?;
            println!("  report      {}", out.display());
        }
        return Ok(report.met);
    }
    let endpoint = match &cli.url {
        Some(url) => Endpoint::Url { addr: parse_url(url)?, pid: cli.server_pid },
        None => Endpoint::Spawn {
            bin: find_sequencer_bin(cli.sequencer_bin.as_deref())?,
            data_dir: cli.data_dir.clone(),
            args: cli.node_args.clone(),
        },
    };
    let options = IngestOptions {
        endpoint,
        keys: cli.keys,
        seed: cli.seed,
        rate: cli.rate,
        duration: seconds(cli.duration, "duration")?,
        warmup: seconds(cli.warmup, "warmup")?,
        connections: cli.connections,
        per_request: cli.per_request.max(1),
        client_threads: threads,
        sign_threads,
        drain: seconds(cli.drain, "drain")?,
        request_timeout,
        chain_id: cli.chain_id,
        rollup: cli.rollup,
        feature_dim: cli.feature_dim,
    };
    let report = runtime.block_on(run_ingest(&options))?;
    print!("{}", report.summary());
    if let Some(out) = &cli.out {
        write_json(out, &report)?;
        println!("  report      {}", out.display());
    }
    Ok(report.targets.rate_met && report.targets.p99_met)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let check = cli.check;
    match run(cli) {
        Ok(met) if check && !met => ExitCode::from(2),
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
