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
    /// Batch circuit statistics (not available yet).
    #[command(subcommand)]
    Circuit(CircuitCommand),
    /// Run the sequencer node: HTTP API, RocksDB store, batcher (Ctrl-C or SIGTERM stops it).
    Node(merit_sequencer::cli::NodeArgs),
    /// Run a prover worker against a sequencer (not available yet).
    Prover(Unavailable),
    /// Prove one batch offline (not available yet).
    Prove(Unavailable),
    /// Verify a batch proof natively (not available yet).
    Verify(Unavailable),
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
    /// Import an ONNX model with quantization (not available yet).
    Import(Unavailable),
}

#[derive(Debug, Subcommand)]
enum CircuitCommand {
    /// Advice cells, lookups, columns, rows and k of a configuration (not available yet).
    Stats(Unavailable),
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
        Command::Model(ModelCommand::Import(_)) => unavailable("model import", "ONNX import"),
        Command::Circuit(CircuitCommand::Stats(_)) => {
            unavailable("circuit stats", "the batch circuit")
        }
        Command::Node(args) => {
            merit_sequencer::cli::init_tracing();
            let config = args.load_config()?;
            let runtime = tokio::runtime::Runtime::new().wrap_err("cannot start the runtime")?;
            runtime.block_on(merit_sequencer::run(config, merit_sequencer::shutdown_signal()))?;
            Ok(())
        }
        Command::Prover(_) => unavailable("prover", "the prover worker"),
        Command::Prove(_) => unavailable("prove", "the batch circuit and prover"),
        Command::Verify(_) => unavailable("verify", "the batch circuit and prover"),
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
