//! Node configuration: defaults < TOML file < `MERIT_*` environment variables < CLI flags.
//!
//! ```toml
//! [api]
//! listen = "127.0.0.1:8645"
//! body_limit = 65536              # bytes; larger submissions get 413
//! max_batch_contributions = 256   # per POST /v1/contributions/batch (body ≤ body_limit × this)
//!
//! [storage]
//! data_dir = "merit-data"         # RocksDB lives in <data_dir>/db
//!
//! [domain]                        # EIP-712 domain; omitted = development domain
//! chain_id = 31337
//! rollup = "0x4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d"
//!
//! [protocol]                      # omitted files = merit-core's development samples
//! model = "model.json"
//! policy = "policy.json"
//! tree_depth = 24
//!
//! [batcher]
//! max_batch_size = 256
//! max_batch_accounts = 64         # distinct contributors per batch; omitted = no limit
//! max_batch_new_accounts = 16     # contributors without a leaf yet per batch; omitted = no limit
//! max_batch_age_ms = 2000
//! group_commit_window_us = 1000
//! queue_capacity = 8192
//!
//! [prover]                        # the prover job queue; no circuit = no queue (503)
//! circuit = "circuits/configs/n16.json"
//! keys = "keys"                   # omitted = <data_dir>/keys
//! srs = "kzg_bn254_18.srs"        # or dev_srs = true (insecure: tests and demos)
//! lease_ms = 600000
//!
//! [l1]                            # the L1 submitter; no rpc_url = no settlement
//! rpc_url = "http://127.0.0.1:8545"
//! key_file = "submitter.key"      # hex private key; or MERIT_L1_PRIVATE_KEY in the env
//! confirmations = 1               # blocks on top of the receipt before a batch counts
//! poll_ms = 1000
//! ```
//!
//! With a circuit, the batcher seals batches the circuit can prove: `max_batch_size` must be at
//! most its `max_contributions`, `max_batch_accounts` at most its `max_accounts` (and defaults
//! to it), `max_batch_new_accounts` at most its `max_new_accounts` where it has one (and
//! defaults to it), and the model and tree depth must be the circuit's; the node checks this at start.
//!
//! Environment variables: `MERIT_CONFIG` (the file), `MERIT_LISTEN`, `MERIT_BODY_LIMIT`,
//! `MERIT_MAX_BATCH_CONTRIBUTIONS`,
//! `MERIT_DATA_DIR`, `MERIT_CHAIN_ID`, `MERIT_ROLLUP`, `MERIT_MODEL`, `MERIT_POLICY`,
//! `MERIT_TREE_DEPTH`, `MERIT_MAX_BATCH_SIZE`, `MERIT_MAX_BATCH_ACCOUNTS`,
//! `MERIT_MAX_BATCH_NEW_ACCOUNTS`, `MERIT_MAX_BATCH_AGE_MS`, `MERIT_GROUP_COMMIT_WINDOW_US`,
//! `MERIT_QUEUE_CAPACITY`, `MERIT_CIRCUIT`, `MERIT_KEYS`, `MERIT_SRS`, `MERIT_DEV_SRS`,
//! `MERIT_LEASE_MS`, `MERIT_L1_RPC_URL`, `MERIT_L1_KEY_FILE`, `MERIT_L1_CONFIRMATIONS`,
//! `MERIT_L1_POLL_MS`.
//!
//! The submitter's private key is never part of the configuration (so it is never printed
//! with it): it is read from `l1.key_file` or, failing that, from `MERIT_L1_PRIVATE_KEY`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use alloy_primitives::{Address, B256};
use merit_core::{field::fr_to_b256, samples, MeritDomain, Policy, QuantizedModel, State};
use serde::{Deserialize, Serialize};
use tracing::warn;

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP API.
    pub api: ApiConfig,
    /// Where data lives.
    pub storage: StorageConfig,
    /// The EIP-712 domain.
    pub domain: DomainConfig,
    /// Model, policy and tree.
    pub protocol: ProtocolConfig,
    /// Batching and group commit.
    pub batcher: BatcherConfig,
    /// The prover job queue.
    pub prover: ProverConfig,
    /// The L1 submitter.
    pub l1: L1Config,
}

/// The largest `api.max_batch_contributions` (the batch route's body limit is a multiple of
/// `api.body_limit`, so this bounds it too).
pub const MAX_BATCH_CONTRIBUTIONS: usize = 4_096;

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest request body in bytes; larger ones get `413 body_too_large`.
    pub body_limit: usize,
    /// Most contributions in one `POST /v1/contributions/batch`; that route's body limit is
    /// `body_limit` times this.
    pub max_batch_contributions: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8645)),
            body_limit: 64 * 1024,
            max_batch_contributions: 256,
        }
    }
}

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The data directory; the RocksDB database is `<data_dir>/db`.
    pub data_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("merit-data") }
    }
}

impl StorageConfig {
    /// The RocksDB directory.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("db")
    }
}

/// The EIP-712 domain; each field defaults to `merit_core::samples::dev_domain()`'s.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainConfig {
    /// Chain id of the settlement chain.
    pub chain_id: Option<u64>,
    /// The `RewardRollup` address.
    pub rollup: Option<Address>,
}

/// Model, policy and account tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// The quality model (merit-model JSON); `samples::sample_model(1)` if omitted.
    pub model: Option<PathBuf>,
    /// The reward policy (JSON); `samples::sample_policy()` if omitted.
    pub policy: Option<PathBuf>,
    /// Account-tree depth, 1–32.
    pub tree_depth: usize,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self { model: None, policy: None, tree_depth: 24 }
    }
}

/// Batching and group commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatcherConfig {
    /// Seal when this many contributions are pending (the circuit's N).
    pub max_batch_size: usize,
    /// Most distinct contributors in one batch (the circuit's M); `None` = no limit.
    pub max_batch_accounts: Option<usize>,
    /// Most contributors without an account leaf yet in one batch (the circuit's
    /// `max_new_accounts`, its link slots); `None` = no limit.
    pub max_batch_new_accounts: Option<usize>,
    /// Seal when the oldest pending contribution is this old, in milliseconds.
    pub max_batch_age_ms: u64,
    /// How long the writer waits for more submissions before one synced write, in
    /// microseconds, when fewer than 16 are queued (a larger group, such as a relay's request,
    /// is written at once). Submissions that arrive during a write go into the next one
    /// anyway, so 0 still groups under load; the window trades up to a millisecond of latency
    /// (the writer's timer ticks a millisecond apart) for fewer fsyncs when submissions come
    /// one at a time.
    pub group_commit_window_us: u64,
    /// Submissions waiting for the writer; beyond this the API answers `503 overloaded`.
    pub queue_capacity: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 256,
            max_batch_accounts: None,
            max_batch_new_accounts: None,
            max_batch_age_ms: 2_000,
            group_commit_window_us: 1_000,
            queue_capacity: 8_192,
        }
    }
}

impl BatcherConfig {
    /// `max_batch_age_ms` as a duration.
    pub fn max_batch_age(&self) -> Duration {
        Duration::from_millis(self.max_batch_age_ms)
    }

    /// `group_commit_window_us` as a duration.
    pub fn group_commit_window(&self) -> Duration {
        Duration::from_micros(self.group_commit_window_us)
    }
}

/// The prover job queue: the circuit proofs are verified with, and the leases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProverConfig {
    /// Circuit configuration file (`circuits/configs/*.json`); `None` = no job queue (the job
    /// routes answer `503 job_queue_disabled`).
    pub circuit: Option<PathBuf>,
    /// Key directory; `<data_dir>/keys` if omitted. Keys are generated there on first start.
    pub keys: Option<PathBuf>,
    /// KZG SRS file (halo2 raw params from a public ceremony).
    pub srs: Option<PathBuf>,
    /// Use the deterministic development SRS instead (insecure: tests and demos only).
    pub dev_srs: bool,
    /// How long a lease lasts, in milliseconds.
    pub lease_ms: u64,
}

impl Default for ProverConfig {
    fn default() -> Self {
        Self { circuit: None, keys: None, srs: None, dev_srs: false, lease_ms: 600_000 }
    }
}

impl ProverConfig {
    /// `lease_ms` as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// The key directory: `keys`, or `<data_dir>/keys`.
    pub fn key_dir(&self, storage: &StorageConfig) -> PathBuf {
        self.keys.clone().unwrap_or_else(|| storage.data_dir.join("keys"))
    }
}

/// The L1 submitter: settles proven batches on the rollup contract (`domain.rollup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L1Config {
    /// JSON-RPC endpoint of the settlement chain; `None` = no submitter.
    pub rpc_url: Option<String>,
    /// File holding the submitter's private key (hex); if omitted, `MERIT_L1_PRIVATE_KEY`.
    pub key_file: Option<PathBuf>,
    /// Blocks a receipt must have on top (itself included) before its batch counts as settled.
    pub confirmations: u64,
    /// How often the submitter looks for work and reads the chain, in milliseconds.
    pub poll_ms: u64,
}

impl Default for L1Config {
    fn default() -> Self {
        Self { rpc_url: None, key_file: None, confirmations: 1, poll_ms: 1_000 }
    }
}

impl L1Config {
    /// `poll_ms` as a duration.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
}

/// Values from the command line; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigOverrides {
    /// `api.listen`.
    pub listen: Option<SocketAddr>,
    /// `api.body_limit`.
    pub body_limit: Option<usize>,
    /// `api.max_batch_contributions`.
    pub max_batch_contributions: Option<usize>,
    /// `storage.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `domain.chain_id`.
    pub chain_id: Option<u64>,
    /// `domain.rollup`.
    pub rollup: Option<Address>,
    /// `protocol.model`.
    pub model: Option<PathBuf>,
    /// `protocol.policy`.
    pub policy: Option<PathBuf>,
    /// `protocol.tree_depth`.
    pub tree_depth: Option<usize>,
    /// `batcher.max_batch_size`.
    pub max_batch_size: Option<usize>,
    /// `batcher.max_batch_accounts`.
    pub max_batch_accounts: Option<usize>,
    /// `batcher.max_batch_new_accounts`.
    pub max_batch_new_accounts: Option<usize>,
    /// `batcher.max_batch_age_ms`.
    pub max_batch_age_ms: Option<u64>,
    /// `batcher.group_commit_window_us`.
    pub group_commit_window_us: Option<u64>,
    /// `batcher.queue_capacity`.
    pub queue_capacity: Option<usize>,
    /// `prover.circuit`.
    pub circuit: Option<PathBuf>,
    /// `prover.keys`.
    pub keys: Option<PathBuf>,
    /// `prover.srs`.
    pub srs: Option<PathBuf>,
    /// `prover.dev_srs`.
    pub dev_srs: Option<bool>,
    /// `prover.lease_ms`.
    pub lease_ms: Option<u64>,
    /// `l1.rpc_url`.
    pub l1_rpc_url: Option<String>,
    /// `l1.key_file`.
    pub l1_key_file: Option<PathBuf>,
    /// `l1.confirmations`.
    pub l1_confirmations: Option<u64>,
    /// `l1.poll_ms`.
    pub l1_poll_ms: Option<u64>,
}

/// Why the configuration or a file it names is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read the {what} file {path}: {source}")]
    Read {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML file does not parse or has unknown keys.
    #[error("{path} is not a valid config file: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        #[source]
        source: toml::de::Error,
    },
    /// An environment variable has an invalid value.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The model file is not a valid model.
    #[error("{path} is not a valid model: {source}")]
    Model {
        /// The file.
        path: PathBuf,
        /// The parse or validation error.
        #[source]
        source: serde_json::Error,
    },
    /// The policy file is not a valid policy.
    #[error("{path} is not a valid policy: {reason}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Result of configuration loading.
pub type ConfigResult<T> = Result<T, ConfigError>;

impl Config {
    /// Loads the configuration: defaults, then the TOML `file` (if any), then `MERIT_*`
    /// variables from `env`, then `overrides`; then validates it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &ConfigOverrides,
    ) -> ConfigResult<Self> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        let env: HashMap<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with("MERIT_")).collect();
        config.apply_env(&env)?;
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file (missing keys take their defaults; unknown keys are errors).
    pub fn from_file(path: &Path) -> ConfigResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            what: "config",
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text)
            .map_err(|source| ConfigError::Toml { path: path.to_path_buf(), source })
    }

    fn apply_env(&mut self, env: &HashMap<String, String>) -> ConfigResult<()> {
        fn var<T: FromStr>(
            env: &HashMap<String, String>,
            var: &'static str,
        ) -> ConfigResult<Option<T>>
        where
            T::Err: std::fmt::Display,
        {
            env.get(var)
                .map(|value| {
                    value.parse().map_err(|e: T::Err| ConfigError::Env {
                        var,
                        value: value.clone(),
                        reason: e.to_string(),
                    })
                })
                .transpose()
        }
        let layer = ConfigOverrides {
            listen: var(env, "MERIT_LISTEN")?,
            body_limit: var(env, "MERIT_BODY_LIMIT")?,
            max_batch_contributions: var(env, "MERIT_MAX_BATCH_CONTRIBUTIONS")?,
            data_dir: var(env, "MERIT_DATA_DIR")?,
            chain_id: var(env, "MERIT_CHAIN_ID")?,
            rollup: var(env, "MERIT_ROLLUP")?,
            model: var(env, "MERIT_MODEL")?,
            policy: var(env, "MERIT_POLICY")?,
            tree_depth: var(env, "MERIT_TREE_DEPTH")?,
            max_batch_size: var(env, "MERIT_MAX_BATCH_SIZE")?,
            max_batch_accounts: var(env, "MERIT_MAX_BATCH_ACCOUNTS")?,
            max_batch_new_accounts: var(env, "MERIT_MAX_BATCH_NEW_ACCOUNTS")?,
            max_batch_age_ms: var(env, "MERIT_MAX_BATCH_AGE_MS")?,
            group_commit_window_us: var(env, "MERIT_GROUP_COMMIT_WINDOW_US")?,
            queue_capacity: var(env, "MERIT_QUEUE_CAPACITY")?,
            circuit: var(env, "MERIT_CIRCUIT")?,
            keys: var(env, "MERIT_KEYS")?,
            srs: var(env, "MERIT_SRS")?,
            dev_srs: var(env, "MERIT_DEV_SRS")?,
            lease_ms: var(env, "MERIT_LEASE_MS")?,
            l1_rpc_url: var(env, "MERIT_L1_RPC_URL")?,
            l1_key_file: var(env, "MERIT_L1_KEY_FILE")?,
            l1_confirmations: var(env, "MERIT_L1_CONFIRMATIONS")?,
            l1_poll_ms: var(env, "MERIT_L1_POLL_MS")?,
        };
        self.apply(&layer);
        Ok(())
    }

    /// Applies the values that are set in `overrides`.
    pub fn apply(&mut self, overrides: &ConfigOverrides) {
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(value) = value {
                *target = value.clone();
            }
        }
        let o = overrides;
        set(&mut self.api.listen, &o.listen);
        set(&mut self.api.body_limit, &o.body_limit);
        set(&mut self.api.max_batch_contributions, &o.max_batch_contributions);
        set(&mut self.storage.data_dir, &o.data_dir);
        if o.chain_id.is_some() {
            self.domain.chain_id = o.chain_id;
        }
        if o.rollup.is_some() {
            self.domain.rollup = o.rollup;
        }
        if o.model.is_some() {
            self.protocol.model.clone_from(&o.model);
        }
        if o.policy.is_some() {
            self.protocol.policy.clone_from(&o.policy);
        }
        set(&mut self.protocol.tree_depth, &o.tree_depth);
        set(&mut self.batcher.max_batch_size, &o.max_batch_size);
        set(&mut self.batcher.max_batch_age_ms, &o.max_batch_age_ms);
        set(&mut self.batcher.group_commit_window_us, &o.group_commit_window_us);
        set(&mut self.batcher.queue_capacity, &o.queue_capacity);
        if o.max_batch_accounts.is_some() {
            self.batcher.max_batch_accounts = o.max_batch_accounts;
        }
        if o.max_batch_new_accounts.is_some() {
            self.batcher.max_batch_new_accounts = o.max_batch_new_accounts;
        }
        if o.circuit.is_some() {
            self.prover.circuit.clone_from(&o.circuit);
        }
        if o.keys.is_some() {
            self.prover.keys.clone_from(&o.keys);
        }
        if o.srs.is_some() {
            self.prover.srs.clone_from(&o.srs);
        }
        set(&mut self.prover.dev_srs, &o.dev_srs);
        set(&mut self.prover.lease_ms, &o.lease_ms);
        if o.l1_rpc_url.is_some() {
            self.l1.rpc_url.clone_from(&o.l1_rpc_url);
        }
        if o.l1_key_file.is_some() {
            self.l1.key_file.clone_from(&o.l1_key_file);
        }
        set(&mut self.l1.confirmations, &o.l1_confirmations);
        set(&mut self.l1.poll_ms, &o.l1_poll_ms);
    }

    /// Checks value ranges.
    pub fn validate(&self) -> ConfigResult<()> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.api.body_limit < 1024 {
            return invalid("api.body_limit must be at least 1024 bytes");
        }
        if !(1..=MAX_BATCH_CONTRIBUTIONS).contains(&self.api.max_batch_contributions) {
            return invalid(&format!(
                "api.max_batch_contributions must be between 1 and {MAX_BATCH_CONTRIBUTIONS}"
            ));
        }
        if self.api.max_batch_contributions > self.batcher.queue_capacity {
            return invalid(
                "api.max_batch_contributions must be at most batcher.queue_capacity (a batch \
                 enters the writer's queue whole)",
            );
        }
        if self.batcher.max_batch_size == 0 {
            return invalid("batcher.max_batch_size must be at least 1");
        }
        if self.batcher.max_batch_age_ms == 0 {
            return invalid("batcher.max_batch_age_ms must be at least 1");
        }
        if self.batcher.queue_capacity == 0 {
            return invalid("batcher.queue_capacity must be at least 1");
        }
        if self.batcher.max_batch_accounts == Some(0) {
            return invalid("batcher.max_batch_accounts must be at least 1");
        }
        if self.batcher.max_batch_new_accounts == Some(0) {
            return invalid("batcher.max_batch_new_accounts must be at least 1");
        }
        if self.prover.lease_ms == 0 {
            return invalid("prover.lease_ms must be at least 1");
        }
        if self.prover.circuit.is_some() {
            match (&self.prover.srs, self.prover.dev_srs) {
                (None, false) => {
                    return invalid(
                        "prover.circuit is set but no SRS: give prover.srs (--srs FILE, \
                         MERIT_SRS) or prover.dev_srs = true (--dev-srs; insecure)",
                    )
                }
                (Some(_), true) => return invalid("give prover.srs or prover.dev_srs, not both"),
                _ => {}
            }
        }
        if self.l1.rpc_url.is_some() {
            if self.prover.circuit.is_none() {
                return invalid(
                    "l1.rpc_url is set but prover.circuit is not: the submitter settles proven \
                     batches, and only a node with a job queue has proofs",
                );
            }
            if self.domain.chain_id.is_none() || self.domain.rollup.is_none() {
                return invalid(
                    "l1.rpc_url is set: give domain.chain_id and domain.rollup (the deployed \
                     RewardRollup) explicitly",
                );
            }
        }
        if self.l1.confirmations == 0 {
            return invalid("l1.confirmations must be at least 1");
        }
        if self.l1.poll_ms == 0 {
            return invalid("l1.poll_ms must be at least 1");
        }
        if let Err(e) = State::new(self.protocol.tree_depth) {
            return Err(ConfigError::Invalid(format!("protocol.tree_depth: {e}")));
        }
        Ok(())
    }
}

/// The protocol parameters a node runs with, loaded from the configuration.
#[derive(Debug, Clone)]
pub struct Protocol {
    /// The EIP-712 domain.
    pub domain: MeritDomain,
    /// The quality model.
    pub model: QuantizedModel,
    /// The reward policy.
    pub policy: Policy,
    /// Account-tree depth.
    pub tree_depth: usize,
}

impl Protocol {
    /// Loads the model and policy files and the domain. Every part left unconfigured takes
    /// merit-core's development sample, with a warning in the log.
    pub fn load(config: &Config) -> ConfigResult<Self> {
        let dev = samples::dev_domain();
        let mut dev_parts = Vec::new();
        let chain_id = config.domain.chain_id.unwrap_or_else(|| {
            dev_parts.push("chain id 31337");
            dev.chain_id
        });
        let verifying_contract = config.domain.rollup.unwrap_or_else(|| {
            dev_parts.push("rollup address 0x4d4d…4d");
            dev.verifying_contract
        });
        let model = match &config.protocol.model {
            Some(path) => {
                let text = read(path, "model")?;
                QuantizedModel::from_json(&text)
                    .map_err(|source| ConfigError::Model { path: path.clone(), source })?
            }
            None => {
                dev_parts.push("sample model 16-32-1");
                samples::sample_model(1)
            }
        };
        let policy = match &config.protocol.policy {
            Some(path) => {
                let text = read(path, "policy")?;
                let policy: Policy = serde_json::from_str(&text).map_err(|e| {
                    ConfigError::Policy { path: path.clone(), reason: e.to_string() }
                })?;
                policy.validate().map_err(|e| ConfigError::Policy {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                policy
            }
            None => {
                dev_parts.push("sample policy");
                samples::sample_policy()
            }
        };
        if !dev_parts.is_empty() {
            warn!(
                target: "merit::sequencer",
                "DEVELOPMENT DEFAULTS IN USE ({}): not for production; set [domain] and \
                 [protocol] in the config file",
                dev_parts.join(", ")
            );
        }
        Ok(Self {
            domain: MeritDomain { chain_id, verifying_contract },
            model,
            policy,
            tree_depth: config.protocol.tree_depth,
        })
    }

    /// The development protocol: `dev_domain()`, `sample_model(1)`, `sample_policy()`.
    pub fn development(tree_depth: usize) -> Self {
        Self {
            domain: samples::dev_domain(),
            model: samples::sample_model(1),
            policy: samples::sample_policy(),
            tree_depth,
        }
    }

    /// The model commitment as `bytes32`.
    pub fn model_commitment(&self) -> B256 {
        fr_to_b256(&self.model.commitment())
    }

    /// The policy commitment as `bytes32`.
    pub fn policy_commitment(&self) -> B256 {
        fr_to_b256(&self.policy.commitment())
    }
}

fn read(path: &Path, what: &'static str) -> ConfigResult<String> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_then_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("merit.toml");
        std::fs::write(
            &file,
            "[api]\nlisten = \"127.0.0.1:1000\"\nbody_limit = 2048\n\
             [batcher]\nmax_batch_size = 7\nmax_batch_age_ms = 50\n\
             [storage]\ndata_dir = \"from-file\"\n",
        )
        .unwrap();
        let defaults = Config::load(None, [], &ConfigOverrides::default()).unwrap();
        assert_eq!(defaults, Config::default());

        let from_file = Config::load(Some(&file), [], &ConfigOverrides::default()).unwrap();
        assert_eq!(from_file.api.listen.port(), 1000);
        assert_eq!(from_file.api.body_limit, 2048);
        assert_eq!(from_file.batcher.max_batch_size, 7);
        // Keys absent from the file keep their defaults.
        assert_eq!(from_file.protocol.tree_depth, 24);

        let vars = env(&[
            ("MERIT_LISTEN", "127.0.0.1:2000"),
            ("MERIT_MAX_BATCH_SIZE", "9"),
            ("MERIT_CHAIN_ID", "5"),
            ("UNRELATED", "x"),
        ]);
        let with_env =
            Config::load(Some(&file), vars.clone(), &ConfigOverrides::default()).unwrap();
        assert_eq!(with_env.api.listen.port(), 2000);
        assert_eq!(with_env.batcher.max_batch_size, 9);
        assert_eq!(with_env.batcher.max_batch_age_ms, 50);
        assert_eq!(with_env.domain.chain_id, Some(5));

        let flags = ConfigOverrides {
            listen: Some("127.0.0.1:3000".parse().unwrap()),
            data_dir: Some("from-flag".into()),
            ..ConfigOverrides::default()
        };
        let with_flags = Config::load(Some(&file), vars, &flags).unwrap();
        assert_eq!(with_flags.api.listen.port(), 3000);
        assert_eq!(with_flags.storage.data_dir, PathBuf::from("from-flag"));
        assert_eq!(with_flags.batcher.max_batch_size, 9);
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load(None, env(&[("MERIT_MAX_BATCH_SIZE", "many")]), &Default::default())
            .unwrap_err();
        assert!(err.to_string().contains("MERIT_MAX_BATCH_SIZE"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("merit.toml");
        std::fs::write(&file, "[api]\nlisten_on = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), [], &Default::default()).unwrap_err();
        assert!(err.to_string().contains("merit.toml"), "{err}");
        assert!(err.to_string().contains("listen_on"), "{err}");

        let zero = ConfigOverrides { max_batch_size: Some(0), ..Default::default() };
        assert!(matches!(Config::load(None, [], &zero), Err(ConfigError::Invalid(_))));
        let deep = ConfigOverrides { tree_depth: Some(40), ..Default::default() };
        assert!(matches!(Config::load(None, [], &deep), Err(ConfigError::Invalid(_))));
        for bad in ["0", "4097"] {
            let vars = env(&[("MERIT_MAX_BATCH_CONTRIBUTIONS", bad)]);
            let err = Config::load(None, vars, &Default::default()).unwrap_err();
            assert!(err.to_string().contains("api.max_batch_contributions"), "{bad}: {err}");
        }
        let file_limit = dir.path().join("batch.toml");
        std::fs::write(&file_limit, "[api]\nmax_batch_contributions = 32\n").unwrap();
        let from_file = Config::load(Some(&file_limit), [], &Default::default()).unwrap();
        assert_eq!(from_file.api.max_batch_contributions, 32);
        let from_env = Config::load(
            Some(&file_limit),
            env(&[("MERIT_MAX_BATCH_CONTRIBUTIONS", "64")]),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(from_env.api.max_batch_contributions, 64);
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing), [], &Default::default()),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn prover_settings_need_an_srs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("merit.toml");
        std::fs::write(
            &file,
            "[prover]\ncircuit = \"tiny.json\"\ndev_srs = true\nlease_ms = 5000\n\
             [batcher]\nmax_batch_accounts = 2\nmax_batch_new_accounts = 1\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), [], &Default::default()).unwrap();
        assert_eq!(config.prover.circuit, Some(PathBuf::from("tiny.json")));
        assert_eq!(config.prover.lease(), Duration::from_secs(5));
        assert_eq!(config.batcher.max_batch_accounts, Some(2));
        assert_eq!(config.batcher.max_batch_new_accounts, Some(1));
        let more = env(&[("MERIT_MAX_BATCH_NEW_ACCOUNTS", "3")]);
        let config = Config::load(Some(&file), more, &Default::default()).unwrap();
        assert_eq!(config.batcher.max_batch_new_accounts, Some(3));
        let none = env(&[("MERIT_MAX_BATCH_NEW_ACCOUNTS", "0")]);
        let err = Config::load(Some(&file), none, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("max_batch_new_accounts must be at least 1"), "{err}");
        assert_eq!(config.prover.key_dir(&config.storage), PathBuf::from("merit-data/keys"));
        assert_eq!(Config::default().prover.lease_ms, 600_000);

        let vars = env(&[("MERIT_CIRCUIT", "n16.json"), ("MERIT_LEASE_MS", "7")]);
        let err = Config::load(None, vars.clone(), &Default::default()).unwrap_err();
        assert!(err.to_string().contains("no SRS"), "{err}");
        let flags = ConfigOverrides { dev_srs: Some(true), ..Default::default() };
        let config = Config::load(None, vars.clone(), &flags).unwrap();
        assert_eq!((config.prover.lease_ms, config.prover.dev_srs), (7, true));
        let both = ConfigOverrides { srs: Some("k.srs".into()), ..flags };
        assert!(matches!(Config::load(None, vars, &both), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn l1_settings_need_a_circuit_and_an_explicit_domain() {
        let vars =
            env(&[("MERIT_L1_RPC_URL", "http://127.0.0.1:8545"), ("MERIT_L1_CONFIRMATIONS", "3")]);
        let err = Config::load(None, vars.clone(), &Default::default()).unwrap_err();
        assert!(err.to_string().contains("prover.circuit"), "{err}");
        let with_circuit = ConfigOverrides {
            circuit: Some("tiny.json".into()),
            dev_srs: Some(true),
            ..Default::default()
        };
        let err = Config::load(None, vars.clone(), &with_circuit).unwrap_err();
        assert!(err.to_string().contains("domain.rollup"), "{err}");
        let full = ConfigOverrides {
            chain_id: Some(31337),
            rollup: Some(Address::repeat_byte(7)),
            l1_key_file: Some("k.hex".into()),
            ..with_circuit
        };
        let config = Config::load(None, vars, &full).unwrap();
        assert_eq!(config.l1.rpc_url.as_deref(), Some("http://127.0.0.1:8545"));
        assert_eq!(config.l1.confirmations, 3);
        assert_eq!(config.l1.key_file, Some(PathBuf::from("k.hex")));
        let zero = ConfigOverrides { l1_confirmations: Some(0), ..Default::default() };
        assert!(matches!(Config::load(None, [], &zero), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn protocol_files_are_loaded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.json");
        let policy = dir.path().join("policy.json");
        std::fs::write(&model, serde_json::to_string(&samples::sample_tanh_model(3)).unwrap())
            .unwrap();
        std::fs::write(&policy, serde_json::to_string(&samples::sample_policy()).unwrap()).unwrap();
        let mut config = Config::default();
        config.protocol.model = Some(model.clone());
        config.protocol.policy = Some(policy.clone());
        let protocol = Protocol::load(&config).unwrap();
        assert_eq!(protocol.model.input_dim(), 4);
        assert_eq!(protocol.domain, samples::dev_domain());

        std::fs::write(&policy, "{\"threshold\": 1}").unwrap();
        let err = Protocol::load(&config).unwrap_err();
        assert!(matches!(err, ConfigError::Policy { .. }), "{err}");
        std::fs::write(&model, "[]").unwrap();
        let err = Protocol::load(&config).unwrap_err();
        assert!(matches!(err, ConfigError::Model { .. }), "{err}");
    }
}
