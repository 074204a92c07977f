//! The subcommand tree and the commands that work on files.

use std::path::PathBuf;

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Parser, Subcommand};
use eyre::{bail, eyre, Context, Result};
use merit_core::{
    apply_batch, samples, BatchOutput, Contribution, MeritDomain, Policy, QuantizedModel, State,
};

use crate::{
    demo,
    io::{read_json, write_json},
};

/// Merit: a zero-knowledge verified reward rollup for AI data work.
#[derive(Debug, Parser)]
#[command(name = "merit", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole loop on embedded defaults (today: the native loop, without proofs or chain).
    Demo(demo::DemoArgs),
    /// Batches: apply one to a state.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// The `claim()` arguments of an account from a batch output.
    ClaimProof(ClaimProofArgs),
    /// Account-tree state files.
    #[command(subcommand)]
    State(StateCommand),
    /// Contributions: sign one.
    #[command(subcommand)]
    Contribution(ContributionCommand),
    /// Quality models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// The batch circuit: statistics of a configuration.
    #[command(subcommand)]
    Circuit(CircuitCommand),
    /// Run the sequencer node: HTTP API, RocksDB store, batcher (Ctrl-C or SIGTERM stops it).
    Node(Box<merit_sequencer::cli::NodeArgs>),
    /// Run a prover worker: lease sealed batches from a sequencer, prove them, upload the proofs.
    Prover(merit_prover::worker::WorkerArgs),
    /// Prove one batch offline (keys generated on first use), verified before it is written.
    Prove(crate::prove::ProveArgs),
    /// Verify a batch proof natively.
    Verify(crate::prove::VerifyArgs),
    /// The Solidity verifier of a configuration's keys.
    #[command(subcommand)]
    Verifier(VerifierCommand),
    /// Deploy the contracts (not available yet).
    Deploy(Unavailable),
    /// Submit a proven batch to the rollup contract (not available yet).
    Submit(Unavailable),
    /// Claim rewards on-chain (not available yet).
    Claim(Unavailable),
}

/// Arguments of a subcommand that is not available yet: everything is accepted and ignored.
#[derive(Debug, Args)]
struct Unavailable {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum BatchCommand {
    /// Run `apply_batch` on JSON files and print the batch output.
    Apply(BatchApplyArgs),
}

#[derive(Debug, Args)]
struct DomainArgs {
    /// Chain id of the EIP-712 domain the contributions were signed under.
    #[arg(long, default_value_t = samples::dev_domain().chain_id)]
    chain_id: u64,
    /// RewardRollup address of the EIP-712 domain.
    #[arg(long, default_value_t = samples::dev_domain().verifying_contract)]
    rollup: Address,
}

impl DomainArgs {
    fn domain(&self) -> MeritDomain {
        MeritDomain { chain_id: self.chain_id, verifying_contract: self.rollup }
    }
}

#[derive(Debug, Args)]
struct BatchApplyArgs {
    /// State before the batch (see `merit state init`).
    #[arg(long)]
    state: PathBuf,
    /// Quality model (merit-model/1 JSON).
    #[arg(long)]
    model: PathBuf,
    /// Reward policy JSON.
    #[arg(long)]
    policy: PathBuf,
    /// The batch: `{ "batch_id": N, "contributions": [signed contributions…] }`.
    #[arg(long)]
    batch: PathBuf,
    #[command(flatten)]
    domain: DomainArgs,
    /// Skip the signature check (the batch was checked elsewhere).
    #[arg(long)]
    skip_signatures: bool,
    /// Write the batch output here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the new state here.
    #[arg(long)]
    state_out: Option<PathBuf>,
    /// Write the full trace of intermediate values here.
    #[arg(long)]
    trace_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ClaimProofArgs {
    /// A batch output written by `merit batch apply`.
    #[arg(long)]
    output: PathBuf,
    /// The id of that batch on the rollup contract.
    #[arg(long)]
    batch_id: u64,
    /// The account to claim for.
    #[arg(long)]
    account: Address,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Write an empty state.
    Init {
        /// Account-tree depth (1–32).
        #[arg(long, default_value_t = 24)]
        depth: usize,
        /// Output file (stdout if omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ContributionCommand {
    /// Sign a contribution with EIP-712.
    Sign {
        /// The contribution JSON.
        #[arg(long)]
        contribution: PathBuf,
        /// File holding the contributor's hex private key (or set MERIT_PRIVATE_KEY).
        #[arg(long, env = "MERIT_PRIVATE_KEY_FILE")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        domain: DomainArgs,
        /// Output file (stdout if omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// The quantized scores of feature vectors, bit-exact with merit-core.
    Score {
        /// Model JSON.
        model: PathBuf,
        /// A JSON list of feature vectors (lists of i16).
        features: PathBuf,
    },
    /// Import an ONNX MLP: quantize it to a merit-model/1 JSON and report the error it costs.
    Import(ModelImportArgs),
}

#[derive(Debug, Args)]
struct ModelImportArgs {
    /// The ONNX file (Gemm/MatMul/Add/Relu/Sigmoid/Tanh MLP).
    model: PathBuf,
    /// Calibration samples: `{ "samples": [[float, …], …] }`, float inputs of the ONNX model.
    #[arg(long)]
    calibration: PathBuf,
    /// Where to write the quantized model (merit-model/1 JSON).
    #[arg(long)]
    out: PathBuf,
    /// Fixed-point scale bits S (default: the largest that fits the weights and the samples).
    #[arg(long)]
    scale: Option<u32>,
    /// Reward threshold in score units (float · 2^S): report decision flips at it.
    #[arg(long, conflicts_with = "policy")]
    threshold: Option<i64>,
    /// Reward policy JSON: report decision flips at its threshold.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Expected number of input features (e.g. the deployment's feature width).
    #[arg(long)]
    input_dim: Option<usize>,
    /// Lowest score, float units (default: 0 for a sigmoid output, -1 for tanh).
    #[arg(long, requires = "score_max", allow_hyphen_values = true)]
    score_min: Option<f64>,
    /// Highest score, float units (default: 1 for sigmoid or tanh outputs).
    #[arg(long, requires = "score_min", allow_hyphen_values = true)]
    score_max: Option<f64>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum CircuitCommand {
    /// Advice cells, lookups, columns, rows and k of a configuration.
    Stats(crate::prove::StatsArgs),
}

#[derive(Debug, Subcommand)]
enum VerifierCommand {
    /// Generate the Solidity verifier (snark-verifier) into verifier-contracts/src/generated/.
    Generate(crate::prove::VerifierArgs),
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Batch(BatchCommand::Apply(args)) => batch_apply(args),
        Command::ClaimProof(args) => claim_proof(args),
        Command::State(StateCommand::Init { depth, out }) => {
            let state = State::new(depth).wrap_err("cannot create the state")?;
            write_json(out.as_deref(), &state)
        }
        Command::Contribution(ContributionCommand::Sign {
            contribution,
            key_file,
            domain,
            out,
        }) => {
            let contribution: Contribution = read_json(&contribution, "contribution")?;
            let signer = load_signer(key_file)?;
            if signer.address() != contribution.contributor {
                bail!(
                    "the key belongs to {}, but the contribution's contributor is {}",
                    signer.address(),
                    contribution.contributor
                );
            }
            let signed = samples::sign(&signer, &domain.domain(), contribution);
            write_json(out.as_deref(), &signed)
        }
        Command::Model(ModelCommand::Score { model, features }) => {
            let model: QuantizedModel = read_json(&model, "model")?;
            let features: Vec<Vec<i16>> = read_json(&features, "features")?;
            let scores = features
                .iter()
                .enumerate()
                .map(|(i, f)| model.score(f).wrap_err_with(|| format!("feature vector #{i}")))
                .collect::<Result<Vec<i64>>>()?;
            write_json(None, &scores)
        }
        Command::Model(ModelCommand::Import(args)) => model_import(args),
        Command::Circuit(CircuitCommand::Stats(args)) => crate::prove::stats(args),
        Command::Node(args) => {
            merit_sequencer::cli::init_tracing();
            let config = args.load_config()?;
            let runtime = tokio::runtime::Runtime::new().wrap_err("cannot start the runtime")?;
            runtime.block_on(merit_sequencer::run(config, merit_sequencer::shutdown_signal()))?;
            Ok(())
        }
        Command::Prover(args) => crate::worker::run(&args),
        Command::Prove(args) => crate::prove::prove(args),
        Command::Verify(args) => crate::prove::verify(args),
        Command::Verifier(VerifierCommand::Generate(args)) => crate::prove::generate_verifier(args),
        Command::Deploy(_) => unavailable("deploy", "the contracts and their bindings"),
        Command::Submit(_) => unavailable("submit", "the contracts and their bindings"),
        Command::Claim(_) => unavailable("claim", "the contracts and their bindings"),
    }
}

fn unavailable(command: &str, missing: &str) -> Result<()> {
    Err(eyre!(
        "`merit {command}` is not available yet: {missing} is not implemented in this version"
    ))
}

fn load_signer(key_file: Option<PathBuf>) -> Result<PrivateKeySigner> {
    let text = match (key_file, std::env::var("MERIT_PRIVATE_KEY")) {
        (Some(path), _) => std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("cannot read the key file {}", path.display()))?,
        (None, Ok(key)) => key,
        (None, Err(_)) => bail!("no signing key: pass --key-file or set MERIT_PRIVATE_KEY"),
    };
    let bytes: B256 =
        text.trim().parse().map_err(|_| eyre!("the signing key is not 32 hex bytes"))?;
    PrivateKeySigner::from_bytes(&bytes)
        .map_err(|_| eyre!("the signing key is not a valid secp256k1 key"))
}

fn batch_apply(args: BatchApplyArgs) -> Result<()> {
    let state: State = read_json(&args.state, "state")?;
    let model: QuantizedModel = read_json(&args.model, "model")?;
    let policy: Policy = read_json(&args.policy, "policy")?;
    let batch: merit_core::Batch = read_json(&args.batch, "batch")?;
    if !args.skip_signatures {
        let domain = args.domain.domain();
        for (index, signed) in batch.contributions.iter().enumerate() {
            signed.verify(&domain).wrap_err_with(|| {
                format!(
                    "contribution #{index} ({} nonce {}) has a bad signature for chain {} and rollup {}",
                    signed.contribution.contributor,
                    signed.contribution.nonce,
                    domain.chain_id,
                    domain.verifying_contract
                )
            })?;
        }
    }
    let applied = apply_batch(&state, &model, &policy, &batch.unsigned())
        .wrap_err_with(|| format!("batch {} rejected", batch.batch_id))?;
    if let Some(path) = &args.state_out {
        write_json(Some(path), &applied.state)?;
    }
    if let Some(path) = &args.trace_out {
        write_json(Some(path), &applied.trace)?;
    }
    write_json(args.out.as_deref(), &applied.output)
}

fn claim_proof(args: ClaimProofArgs) -> Result<()> {
    let output: BatchOutput = read_json(&args.output, "batch output")?;
    let proof = output.claim_proof(args.batch_id, args.account).ok_or_else(|| {
        eyre!(
            "{} was not touched by this batch; use the latest batch that touched it",
            args.account
        )
    })?;
    write_json(None, &proof)
}

fn model_import(args: ModelImportArgs) -> Result<()> {
    use merit_core::onnx::{import_onnx, Calibration, ImportOptions};

    let calibration = Calibration::from_path(&args.calibration)?;
    let mut options = ImportOptions::default();
    if let Some(scale) = args.scale {
        options = options.with_scale(scale);
    }
    let threshold = match (&args.policy, args.threshold) {
        (Some(path), _) => {
            let policy: Policy = read_json(path, "policy")?;
            policy
                .validate()
                .wrap_err_with(|| format!("{} is not a valid policy", path.display()))?;
            Some(policy.threshold)
        }
        (None, threshold) => threshold,
    };
    if let Some(threshold) = threshold {
        options = options.with_threshold(threshold);
    }
    if let Some(input_dim) = args.input_dim {
        options = options.with_input_dim(input_dim);
    }
    if let (Some(min), Some(max)) = (args.score_min, args.score_max) {
        options = options.with_score_range(min, max);
    }
    let imported = import_onnx(&args.model, &calibration, &options)
        .wrap_err_with(|| format!("cannot import {}", args.model.display()))?;
    write_json(Some(&args.out), &imported.model)?;
    if args.json {
        write_json(None, &imported.report)
    } else {
        print!("{}", import_table(&args, &imported.report));
        Ok(())
    }
}

/// The import report as a human-readable table.
fn import_table(args: &ModelImportArgs, report: &merit_core::onnx::ImportReport) -> String {
    use std::fmt::Write;

    let s = report.scale_bits;
    let choice = match report.scale_choice {
        merit_core::onnx::ScaleChoice::Auto => "chosen: the largest that fits",
        merit_core::onnx::ScaleChoice::Given => "given",
    };
    let (lo, hi) = report.score_range_float;
    let mut t = String::new();
    let _ = writeln!(t, "Imported {} -> {}", args.model.display(), args.out.display());
    let _ = writeln!(t, "  input features    {} (feature = round(x * 2^{s}))", report.input_dim);
    let _ = writeln!(t, "  scale             2^{s} ({choice})");
    let _ = writeln!(
        t,
        "  score range       [{}, {}] = [{lo}, {hi}] in float units",
        report.score_range.min, report.score_range.max
    );
    let _ = writeln!(
        t,
        "  model_commitment  {}",
        merit_core::field::fr_to_b256(&report.model_commitment)
    );
    let _ = writeln!(t);
    let nodes = report.layers.iter().map(|l| l.nodes.join(", ").len()).max().unwrap_or(0).max(5);
    let _ = writeln!(
        t,
        "  {:<5} {:<nodes$} {:>9} {:<10} {:>24} {:>24} {:>24} {:>32}",
        "layer",
        "nodes",
        "in->out",
        "activation",
        "weights (float)",
        "weights (quantized)",
        "biases (float)",
        "biases (quantized)"
    );
    for (i, layer) in report.layers.iter().enumerate() {
        let (w, b) = (&layer.weights, &layer.biases);
        let activation = serde_json::to_value(layer.activation)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let columns = [
            layer.nodes.join(", "),
            format!("{}->{}", layer.input_dim, layer.output_dim),
            format!("[{:.4}, {:.4}]", w.float_min, w.float_max),
            format!("[{}, {}]", w.quantized_min, w.quantized_max),
            format!("[{:.4}, {:.4}]", b.float_min, b.float_max),
            format!("[{}, {}]", b.quantized_min, b.quantized_max),
        ];
        let [names, shape, wf, wq, bf, bq] = &columns;
        let _ = writeln!(
            t,
            "  {i:<5} {names:<nodes$} {shape:>9} {activation:<10} \
             {wf:>24} {wq:>24} {bf:>24} {bq:>32}"
        );
    }
    let c = &report.calibration;
    let _ = writeln!(t);
    let _ =
        writeln!(t, "  calibration: {} samples, inputs within +-{}", c.samples, c.input_abs_max);
    let _ = writeln!(
        t,
        "    max abs error   {:.6} ({:.4}% of the score range, sample #{})",
        c.max_abs_error, c.max_abs_error_pct, c.worst_sample
    );
    let _ = writeln!(
        t,
        "    mean abs error  {:.6} ({:.4}% of the score range)",
        c.mean_abs_error, c.mean_abs_error_pct
    );
    let _ =
        writeln!(t, "    float MLP vs tract's run of the graph: {:.2e}", c.reference_max_abs_diff);
    match &c.decision {
        Some(d) => {
            let _ = writeln!(
                t,
                "    decision at threshold {} ({} in float units): {} rewarded by the float model, \
                 {} by the quantized one, {} flips ({:.2}%)",
                d.threshold,
                d.threshold_float,
                d.rewarded_float,
                d.rewarded_quantized,
                d.flips,
                100.0 * d.flip_share
            );
            if !d.flipped_samples.is_empty() {
                let _ = writeln!(t, "    flipped samples: {:?}", d.flipped_samples);
            }
        }
        None => {
            let _ = writeln!(t, "    decision flips: pass --threshold or --policy to measure them");
        }
    }
    t
}
