//! Command-line arguments of a node, shared by `merit node` and the `merit-sequencer` binary.

use std::{net::SocketAddr, path::PathBuf};

use alloy_primitives::Address;
use clap::Args;

use crate::config::{Config, ConfigOverrides, ConfigResult};

/// `merit node` / `merit-sequencer` arguments. Precedence: defaults < `--config` file <
/// `MERIT_*` environment variables < these flags.
#[derive(Debug, Clone, Default, Args)]
pub struct NodeArgs {
    /// TOML config file (or set MERIT_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory; RocksDB lives in DIR/db.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address, e.g. 127.0.0.1:8645 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// EIP-712 chain id.
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// EIP-712 verifying contract (the RewardRollup address).
    #[arg(long)]
    pub rollup: Option<Address>,
    /// Quality model JSON.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Reward policy JSON.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Account-tree depth (1-32).
    #[arg(long)]
    pub tree_depth: Option<usize>,
    /// Seal a batch at this many pending contributions.
    #[arg(long)]
    pub max_batch_size: Option<usize>,
    /// Most distinct contributors in one batch (default: the circuit's max_accounts, if any).
    #[arg(long)]
    pub max_batch_accounts: Option<usize>,
    /// Most contributors without an account yet in one batch (default: the circuit's
    /// max_new_accounts, if any).
    #[arg(long)]
    pub max_batch_new_accounts: Option<usize>,
    /// Seal a batch when the oldest pending contribution is this old (ms).
    #[arg(long, value_name = "MS")]
    pub max_batch_age_ms: Option<u64>,
    /// Group-commit window of the writer (µs).
    #[arg(long, value_name = "US")]
    pub group_commit_window_us: Option<u64>,
    /// Largest request body (bytes).
    #[arg(long, value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Most contributions in one `POST /v1/contributions/batch`.
    #[arg(long, value_name = "N")]
    pub max_batch_contributions: Option<usize>,
    /// Circuit configuration of the prover job queue (e.g. circuits/configs/tiny.json); without
    /// one the node has no job queue.
    #[arg(long, value_name = "FILE")]
    pub circuit: Option<PathBuf>,
    /// Key directory of the circuit (default DATA_DIR/keys; generated on first start).
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// KZG SRS file for the circuit (halo2 raw params from a public ceremony).
    #[arg(long, value_name = "FILE", conflicts_with = "dev_srs")]
    pub srs: Option<PathBuf>,
    /// Use the deterministic development SRS (insecure: tests and demos only).
    #[arg(long)]
    pub dev_srs: bool,
    /// How long a prover's lease on a batch lasts (ms; default 600000).
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// JSON-RPC endpoint of the settlement chain: settle proven batches on the rollup
    /// (needs --circuit, --chain-id and --rollup).
    #[arg(long, value_name = "URL")]
    pub l1_rpc_url: Option<String>,
    /// File with the submitter's hex private key (or set MERIT_L1_PRIVATE_KEY).
    #[arg(long, value_name = "FILE")]
    pub l1_key_file: Option<PathBuf>,
    /// Blocks a settlement receipt needs (itself included; default 1).
    #[arg(long)]
    pub l1_confirmations: Option<u64>,
}

impl NodeArgs {
    /// The configuration: defaults < file < `MERIT_*` variables of this process < flags.
    pub fn load_config(&self) -> ConfigResult<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = self.config.clone().or_else(|| {
            env.iter().find(|(k, _)| k == "MERIT_CONFIG").map(|(_, v)| PathBuf::from(v))
        });
        Config::load(file.as_deref(), env, &self.overrides())
    }

    /// The flags as overrides.
    pub fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            listen: self.listen,
            body_limit: self.body_limit,
            max_batch_contributions: self.max_batch_contributions,
            data_dir: self.data_dir.clone(),
            chain_id: self.chain_id,
            rollup: self.rollup,
            model: self.model.clone(),
            policy: self.policy.clone(),
            tree_depth: self.tree_depth,
            max_batch_size: self.max_batch_size,
            max_batch_accounts: self.max_batch_accounts,
            max_batch_new_accounts: self.max_batch_new_accounts,
            max_batch_age_ms: self.max_batch_age_ms,
            group_commit_window_us: self.group_commit_window_us,
            queue_capacity: None,
            circuit: self.circuit.clone(),
            keys: self.keys.clone(),
            srs: self.srs.clone(),
            dev_srs: self.dev_srs.then_some(true),
            lease_ms: self.lease_ms,
            l1_rpc_url: self.l1_rpc_url.clone(),
            l1_key_file: self.l1_key_file.clone(),
            l1_confirmations: self.l1_confirmations,
            l1_poll_ms: None,
        }
    }
}

/// Installs the log subscriber of a node binary: human-readable lines on stderr, filtered by
/// `RUST_LOG` (default `info`). For binaries only; call once, before [`crate::run`].
pub fn init_tracing() {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
