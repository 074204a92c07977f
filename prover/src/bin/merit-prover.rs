//! `merit-prover`: the prover as a binary of its own, so a CUDA build (`--features cuda`)
//! carries only the prover's dependencies to a GPU host. The same commands exist in a CPU
//! build, which is how the two backends are compared on one host.
//!
//! ```text
//! merit-prover bench --config circuits/configs/n16.json --dev-srs --repeat 3 --out bench-out/
//! merit-prover verify --config circuits/configs/n16.json --dev-srs --proof bench-out/n16.cuda.proof.json
//! merit-prover worker --sequencer http://127.0.0.1:8645 --config circuits/configs/n16.json \
//!                     --keys keys/ --srs kzg_bn254_20.srs [--once] [--metrics-addr 0.0.0.0:9645]
//! ```

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use merit_circuits::config::{CircuitConfig, LoadedConfig};
use merit_prover::{bench, keys::keygen, verify, Backend, BatchProof, KeyStore, Srs};

#[derive(Debug, Parser)]
#[command(name = "merit-prover", version, about = "Merit's batch prover (CPU or CUDA build)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time SRS, keygen, witness, proof and verification for configurations' sample batches.
    Bench(BenchArgs),
    /// Verify a proof natively with this build's verifier.
    Verify(VerifyArgs),
    /// Lease sealed batches from a sequencer, prove them, upload the proofs, repeat.
    Worker(merit_prover::worker::WorkerArgs),
}

#[derive(Debug, Args)]
struct SrsArgs {
    /// KZG SRS file (halo2 raw params from a public ceremony).
    #[arg(long, env = "MERIT_SRS", conflicts_with = "dev_srs")]
    srs: Option<PathBuf>,
    /// Use the deterministic development SRS (insecure: tests and benchmarks only).
    #[arg(long)]
    dev_srs: bool,
}

impl SrsArgs {
    fn make(&self, k: u32) -> Result<Srs, merit_prover::ProverError> {
        match &self.srs {
            Some(path) => Srs::load(path, k),
            None => Ok(Srs::development(k)),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.srs.is_none() && !self.dev_srs {
            return Err("give an SRS with --srs FILE, or --dev-srs for benchmarks".into());
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Circuit configuration files (see `circuits/configs/`); each is benchmarked in turn.
    #[arg(long, required = true)]
    config: Vec<PathBuf>,
    #[command(flatten)]
    srs: SrsArgs,
    /// Proofs per configuration (the first pays one-off setup costs).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Directory for `NAME.BACKEND.bench.json` and `NAME.BACKEND.proof.json`.
    #[arg(long)]
    out: PathBuf,
    /// Also verify these proofs (of the benchmarked configurations, e.g. made by the other
    /// backend) with the keys the benchmark generated.
    #[arg(long)]
    verify: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The proof's circuit configuration.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    srs: SrsArgs,
    /// Cached keys (generated in memory when not given).
    #[arg(long)]
    keys: Option<PathBuf>,
    /// The proof (`BatchProof` JSON).
    #[arg(long)]
    proof: PathBuf,
}

fn load_config(path: &Path) -> Result<LoadedConfig, String> {
    CircuitConfig::load(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Cpu => "cpu",
        Backend::Cuda => "cuda",
    }
}

fn run_bench(args: &BenchArgs) -> Result<(), String> {
    args.srs.check()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let backend = backend_name(Backend::CURRENT);
    for path in &args.config {
        let config = load_config(path)?;
        let name = config.config.name.clone();
        let outcome = bench::run(&config, |k| args.srs.make(k), args.repeat)
            .map_err(|e| format!("{name}: {e}"))?;
        let (report, proof) = (&outcome.report, &outcome.proof);
        write_json(&args.out.join(format!("{name}.{backend}.bench.json")), report)?;
        write_json(&args.out.join(format!("{name}.{backend}.proof.json")), proof)?;
        let best =
            report.proofs.iter().map(|t| t.witness_s + t.prove_s).fold(f64::INFINITY, f64::min);
        println!(
            "{name:>8} {backend:>4} k={:<2} N={:<5} keygen {:>8.2}s  prove (best) {:>8.3}s  \
             verify {:>6.3}s  proof {:>6} B  {:>9.1} contributions/s  peak {:>6.1} GiB",
            report.k,
            report.contributions,
            report.keygen_s,
            best,
            report.proofs.last().map_or(0.0, |t| t.verify_s),
            report.proof_bytes,
            report.contributions_per_second,
            report.peak_rss_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64,
        );
        for path in &args.verify {
            let other = read_proof(path)?;
            if other.config != name {
                continue;
            }
            verify(outcome.srs.params(), outcome.keys.vk(), &other)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!(
                "{name:>8}: proof of the {} backend verified by the {backend} verifier",
                backend_name(other.backend)
            );
        }
    }
    Ok(())
}

fn read_proof(path: &Path) -> Result<BatchProof, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a proof: {e}", path.display()))
}

fn run_verify(args: &VerifyArgs) -> Result<(), String> {
    args.srs.check()?;
    let config = load_config(&args.config)?;
    let proof = read_proof(&args.proof)?;
    if proof.config != config.config.name {
        return Err(format!(
            "the proof is for configuration {}, not {}",
            proof.config, config.config.name
        ));
    }
    let srs = args.srs.make(config.config.k as u32).map_err(|e| e.to_string())?;
    let keys = match &args.keys {
        Some(dir) => KeyStore::new(dir).load_or_generate(&config, &srs),
        None => keygen(&config, &srs),
    }
    .map_err(|e| e.to_string())?;
    verify(srs.params(), keys.vk(), &proof).map_err(|e| e.to_string())?;
    println!(
        "proof of batch {} ({} backend) verified by the {} verifier",
        proof.batch_id,
        backend_name(proof.backend),
        backend_name(Backend::CURRENT)
    );
    Ok(())
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(value).expect("reports serialize");
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MERIT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Err(err) = merit_prover::check_cpu() {
        eprintln!("Error: {err}");
        std::process::exit(1);
    }
    let result = match &cli.command {
        Command::Bench(args) => run_bench(args),
        Command::Verify(args) => run_verify(args),
        Command::Worker(args) => args.run().map(drop).map_err(|e| e.to_string()),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
