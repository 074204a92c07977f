//! `merit circuit stats`, `merit prove`, `merit verify` and `merit verifier generate`: the
//! batch circuit and the prover from the command line.

use std::path::{Path, PathBuf};

use clap::Args;
use eyre::{eyre, Context, Result};
use merit_circuits::config::{circuit_stats, sample_batch, CircuitConfig, LoadedConfig};
use merit_core::{vectors::BatchVector, Batch, Policy, QuantizedModel, State};
use merit_prover::{evm::verifier_solidity, BatchProof, KeyStore, Srs};

use crate::io::{read_json, write_json};

/// Which circuit configuration and where its keys live.
#[derive(Debug, Args)]
pub(crate) struct CircuitArgs {
    /// Circuit configuration file (see `circuits/configs/`).
    #[arg(long)]
    config: PathBuf,
}

/// The SRS and the key directory.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// Directory of cached proving keys (generated on first use).
    #[arg(long, env = "MERIT_KEYS", default_value = "keys")]
    keys: PathBuf,
    /// KZG SRS file (halo2 raw params from a public ceremony).
    #[arg(long, env = "MERIT_SRS", conflicts_with = "dev_srs")]
    srs: Option<PathBuf>,
    /// Use the deterministic development SRS (insecure: tests and demos only).
    #[arg(long)]
    dev_srs: bool,
}

impl KeyArgs {
    fn srs(&self, k: u32) -> Result<Srs> {
        match (&self.srs, self.dev_srs) {
            (Some(path), _) => Ok(Srs::load(path, k)?),
            (None, true) => Ok(Srs::development(k)),
            (None, false) => Err(eyre!("give an SRS with --srs FILE, or --dev-srs for tests")),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// A batch vector (a golden vector's format: state, model, policy, batch, trace, output).
    #[arg(long, conflicts_with_all = ["state", "policy", "batch"])]
    vector: Option<PathBuf>,
    /// State before the batch (with --policy and --batch, instead of --vector).
    #[arg(long, requires_all = ["policy", "batch"])]
    state: Option<PathBuf>,
    /// Reward policy JSON.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The batch: `{ "batch_id": N, "contributions": [signed contributions…] }`.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// The registered model (default: the configuration's model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write the proof here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// A proof written by `merit prove`.
    #[arg(long)]
    proof: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifierArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Where to write the Solidity verifier (default:
    /// `verifier-contracts/src/generated/<Config>BatchVerifier.sol`).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn load_config(args: &CircuitArgs) -> Result<LoadedConfig> {
    CircuitConfig::load(&args.config)
        .wrap_err_with(|| format!("circuit configuration {}", args.config.display()))
}

/// `merit circuit stats`.
pub(crate) fn stats(args: StatsArgs) -> Result<()> {
    let config = load_config(&args.circuit)?;
    let vector = sample_batch(&config)?;
    let stats = circuit_stats(&config, &vector)?;
    let n = config.config.max_contributions;
    if args.json {
        let report = serde_json::json!({
            "config": config.config,
            "stats": stats,
            "total_advice_cells": stats.total_advice_cells(),
            "advice_cells_per_contribution": stats.total_advice_cells() / n,
        });
        return write_json(None, &report);
    }
    let c = &config.config;
    let layout = match c.max_new_accounts {
        Some(links) => format!("split layout, at most {links} new"),
        None => "uniform layout, every slot may be new".to_owned(),
    };
    println!(
        "configuration {}: N = {}, M = {} ({layout}), depth {}, k = {}, lookup bits {}",
        c.name, c.max_contributions, c.max_accounts, c.depth, c.k, c.lookup_bits
    );
    let rows = [
        ("flex-gate advice cells", stats.gate_cells),
        ("Poseidon-gate advice cells", stats.poseidon_cells),
        ("  permutations", stats.permutations),
        ("range-lookup cells", stats.range_lookup_cells),
        ("table lookups (2 cells each)", stats.table_lookups),
        ("table rows (2 cells each)", stats.table_rows),
        ("advice cells in all", stats.total_advice_cells()),
        ("  per contribution", stats.total_advice_cells() / n),
        ("advice columns", stats.advice_columns),
        ("fixed columns", stats.fixed_columns),
        ("rows (2^k)", 1 << stats.k),
        ("degree", stats.degree),
    ];
    for (what, value) in rows {
        println!("  {what:<30} {value:>12}");
    }
    Ok(())
}

fn batch_vector(args: &ProveArgs, config: &LoadedConfig) -> Result<BatchVector> {
    if let Some(path) = &args.vector {
        return read_json(path, "batch vector");
    }
    let (Some(state), Some(policy), Some(batch)) = (&args.state, &args.policy, &args.batch) else {
        return Err(eyre!("give the batch with --vector, or with --state, --policy and --batch"));
    };
    let state: State = read_json(state, "state")?;
    let policy: Policy = read_json(policy, "policy")?;
    let batch: Batch = read_json(batch, "batch")?;
    let model: QuantizedModel = match &args.model {
        Some(path) => read_json(path, "model")?,
        None => config.model.clone(),
    };
    // The domain only labels the vector: signatures are checked by the sequencer, not proven.
    let domain = merit_core::samples::dev_domain();
    BatchVector::build("merit prove", domain, model, policy, state, batch)
        .wrap_err("the batch does not apply to the state")
}

/// `merit prove`.
pub(crate) fn prove(args: ProveArgs) -> Result<()> {
    let config = load_config(&args.circuit)?;
    let vector = batch_vector(&args, &config)?;
    let srs = args.keys.srs(config.config.k as u32)?;
    let keys = KeyStore::new(&args.keys.keys).load_or_generate(&config, &srs)?;
    if keys.generated {
        eprintln!("generated keys for {} in {}", config.config.name, args.keys.keys.display());
    }
    let started = std::time::Instant::now();
    let proof = merit_prover::prove(&srs, &keys, &vector)?;
    eprintln!(
        "proved batch {} ({} contributions) in {:.1} s on {:?}; {} bytes, verified",
        vector.batch.batch_id,
        vector.batch.contributions.len(),
        started.elapsed().as_secs_f64(),
        proof.backend,
        proof.proof.len()
    );
    write_json(args.out.as_deref(), &proof)
}

/// `merit verify`.
pub(crate) fn verify(args: VerifyArgs) -> Result<()> {
    let config = load_config(&args.circuit)?;
    let proof: BatchProof = read_json(&args.proof, "proof")?;
    if proof.config != config.config.name {
        return Err(eyre!(
            "the proof is for configuration {}, not {}",
            proof.config,
            config.config.name
        ));
    }
    let srs = args.keys.srs(config.config.k as u32)?;
    let keys = KeyStore::new(&args.keys.keys).load(&config, &srs)?;
    merit_prover::verify(srs.params(), keys.vk(), &proof)
        .wrap_err_with(|| format!("proof {} of batch {}", args.proof.display(), proof.batch_id))?;
    println!("proof of batch {} verifies", proof.batch_id);
    Ok(())
}

/// `merit verifier generate`.
pub(crate) fn generate_verifier(args: VerifierArgs) -> Result<()> {
    let config = load_config(&args.circuit)?;
    let srs = args.keys.srs(config.config.k as u32)?;
    let keys = KeyStore::new(&args.keys.keys).load_or_generate(&config, &srs)?;
    let instances = merit_circuits::batch::CIRCUIT_INSTANCES;
    let name = &config.config.name;
    let solidity = verifier_solidity(srs.params(), keys.vk(), instances, name);
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("verifier-contracts").join(merit_prover::evm::verifier_source_path(name))
    });
    write_file(&out, &solidity)?;
    println!(
        "wrote {} (contract {}, {} public instances)",
        out.display(),
        merit_prover::evm::verifier_contract_name(name),
        instances
    );
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).wrap_err_with(|| format!("cannot write {}", path.display()))
}
