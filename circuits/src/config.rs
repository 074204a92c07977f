//! Batch circuit configurations: the shape a set of keys is made for, as a JSON file, and what a
//! circuit of that shape costs ([`circuit_stats`]).
//!
//! ```json
//! { "name": "n256", "k": 20, "lookup_bits": 19,
//!   "max_contributions": 256, "max_accounts": 64, "max_new_accounts": 16, "depth": 24,
//!   "model": "model-16-32-1.json" }
//! ```
//! `max_new_accounts` is optional: with it, at most that many of a batch's touched accounts may
//! be new and the circuit uses the split account layout (one leaf write per account slot plus
//! one link write per new account, `crate::split_layout`); without it every account slot may
//! append a new account (the uniform layout, two leaf writes per slot).
//! `min_degree` is optional (4 or 5): the constraint system's degree, at least the gates' own
//! (4). At 5 the quotient's extended domain is still 4n, but halo2's permutation argument packs
//! three equality columns per grand product instead of two, so a circuit of ~100 such columns
//! commits ~17 fewer polynomials (measured 6–8% faster proofs at n256 and n1024 on the 2-core
//! EPYC). A circuit whose own degree is 5 already (tiny and n16 are) does not change.
//! `poseidon_layout` is optional: `narrow` (default; six advice columns, 234 cells per
//! permutation) or `wide` (twelve columns, 204 cells, `crate::poseidon_wide`). It changes the
//! keys, so tiny and n16, whose EVM verifier and CUDA proof fixtures are committed, keep the
//! default.
//! `active_depth` is optional (below `depth`): each leaf write hashes only that many levels,
//! and the levels above, where every right subtree is empty, are hashed twice per batch
//! instead of twice per write. The circuit then proves batches on trees of at most
//! `2^active_depth - 1` accounts (the sentinel takes index 0); a batch beyond is refused with
//! `BatchCircuitError::Capacity`. The tree, its roots and the claim proofs stay `depth` deep.
//! `top_levels` is optional (split layout only, below the written levels): the leaf writes are
//! proven in leaf-index order, each hashing the `active_depth − top_levels` levels of its
//! subtree, and the `2^top_levels` subtree roots are hashed into the prefix root once before
//! and once after the batch (`crate::sorted_writes`); the same trees, fewer permutations.
//! `lean_range_checks` is optional (default `false`): without the range checks that soundness
//! does not need — the task id and payload-hash limbs, which only enter the contribution hash
//! that the public batch commitment pins (`crate::contribution`), and one of the two checks of
//! each dense-layer quotient's digits (`y + n` once, `crate::model::ModelShape`). It changes
//! the keys, so tiny and n16 keep the default.
//! `model` is a `merit-model/1` file, relative to the configuration file; the circuit fixes its
//! shape (dimensions, scale, activations, range-check widths), not its weights.

use std::path::{Path, PathBuf};

use halo2_base::gates::circuit::CircuitBuilderStage;
use merit_core::{
    model::QuantizedModel,
    samples::{dev_domain, sample_contributions, sample_policy, SplitMix64},
    vectors::BatchVector,
    Batch, State,
};
use serde::{Deserialize, Serialize};

use crate::{
    batch::{build_batch_circuit, BatchCircuitError, BatchShape},
    builder::{CircuitStats, MeritCircuitBuilder},
    model::{ModelCircuitError, ModelShape},
    poseidon::PoseidonLayout,
};

/// A batch circuit configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitConfig {
    /// A short name (used in key file names and reports).
    pub name: String,
    /// `log2` of the number of rows.
    pub k: usize,
    /// Width of halo2-base's range lookup (at most `k - 1`).
    pub lookup_bits: usize,
    /// Contribution slots `N`.
    pub max_contributions: usize,
    /// Account slots `M`.
    pub max_accounts: usize,
    /// How many of the batch's touched accounts may be new (`K`): the split account layout
    /// (`crate::split_layout`), `M` one-write slots and `K` link slots. Absent: every account
    /// slot may append (the uniform layout, two writes per slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_accounts: Option<usize>,
    /// Account-tree depth.
    pub depth: usize,
    /// The constraint system's degree, 4 or 5 (absent: the gates' own, 4); see the module docs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_degree: Option<usize>,
    /// The tree levels each leaf write hashes, below `depth` (absent: all of them): the
    /// circuit then proves batches on trees of at most `2^active_depth - 1` accounts (see
    /// `BatchShape::active_depth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_depth: Option<usize>,
    /// Top levels of the written levels proven once per batch, the split layout's writes sorted
    /// by leaf index below them (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_levels: Option<usize>,
    /// Drop the range checks the circuit does not need for soundness (see the module docs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lean_range_checks: bool,
    /// The Poseidon gate's layout, `narrow` (default) or `wide` (see `crate::poseidon_wide`).
    #[serde(default, skip_serializing_if = "PoseidonLayout::is_narrow")]
    pub poseidon_layout: PoseidonLayout,
    /// The model file, relative to the configuration file.
    pub model: PathBuf,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not valid JSON of the expected form.
    #[error("{path} is not a valid {what}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it should be.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// The numbers do not make a circuit.
    #[error("configuration {name}: {reason}")]
    Invalid {
        /// The configuration's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The model does not fit.
    #[error(transparent)]
    Model(#[from] ModelCircuitError),
    /// The sample batch does not fit the shape.
    #[error(transparent)]
    Batch(#[from] BatchCircuitError),
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })
}

/// The accepted `min_degree`s: the gates' own degree, and one more (same extended domain).
pub const MIN_DEGREES: std::ops::RangeInclusive<usize> = 4..=5;

/// A configuration with its model, loaded and checked.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: CircuitConfig,
    /// Its model.
    pub model: QuantizedModel,
    /// The circuit shape.
    pub shape: BatchShape,
}

impl CircuitConfig {
    /// Reads a configuration file and its model.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let config: Self = serde_json::from_str(&read(path)?).map_err(|source| {
            ConfigError::Parse { path: path.to_owned(), what: "circuit configuration", source }
        })?;
        let model_path = path.parent().unwrap_or(Path::new(".")).join(&config.model);
        let model = QuantizedModel::from_json(&read(&model_path)?).map_err(|source| {
            ConfigError::Parse { path: model_path, what: "merit-model/1 model", source }
        })?;
        config.with_model(model)
    }

    /// Checks the numbers and derives the shape for `model`.
    pub fn with_model(self, model: QuantizedModel) -> Result<LoadedConfig, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { name: self.name.clone(), reason };
        if !(8..=26).contains(&self.k) {
            return Err(invalid(format!("k = {} is outside 8..=26", self.k)));
        }
        if self.lookup_bits == 0 || self.lookup_bits >= self.k {
            return Err(invalid(format!("lookup_bits = {} must be in 1..k", self.lookup_bits)));
        }
        if self.max_contributions == 0 || self.max_accounts == 0 {
            return Err(invalid(
                "a circuit needs at least one contribution and account slot".into(),
            ));
        }
        if self.max_accounts > self.max_contributions {
            return Err(invalid("more account slots than contribution slots".into()));
        }
        if let Some(k) = self.max_new_accounts {
            if k == 0 || k > self.max_accounts {
                return Err(invalid(format!(
                    "max_new_accounts = {k} must be in 1..=max_accounts ({})",
                    self.max_accounts
                )));
            }
        }
        if let Some(degree) = self.min_degree {
            if !(MIN_DEGREES).contains(&degree) {
                return Err(invalid(format!(
                    "min_degree = {degree} must be in {}..={} (6 and up double the quotient's \
                     extended domain)",
                    MIN_DEGREES.start(),
                    MIN_DEGREES.end()
                )));
            }
        }
        if !(1..=64).contains(&self.depth) {
            return Err(invalid(format!("depth {} is outside 1..=64", self.depth)));
        }
        if let Some(levels) = self.active_depth {
            if levels == 0 || levels >= self.depth {
                return Err(invalid(format!(
                    "active_depth = {levels} must be in 1..depth ({}); leave it out to write \
                     every level",
                    self.depth
                )));
            }
        }
        if let Some(top) = self.top_levels {
            let levels = self.active_depth.unwrap_or(self.depth);
            if self.max_new_accounts.is_none() {
                return Err(invalid("top_levels needs the split layout (max_new_accounts)".into()));
            }
            if top == 0 || top >= levels {
                return Err(invalid(format!(
                    "top_levels = {top} must be in 1..{levels} (the written levels)"
                )));
            }
        }
        let shape = BatchShape {
            max_contributions: self.max_contributions,
            max_accounts: self.max_accounts,
            max_new_accounts: self.max_new_accounts,
            depth: self.depth,
            active_depth: self.active_depth,
            top_levels: self.top_levels,
            lean_range_checks: self.lean_range_checks,
            model: ModelShape {
                joint_digit_checks: self.lean_range_checks,
                ..ModelShape::of(&model)?
            },
        };
        Ok(LoadedConfig { config: self, model, shape })
    }
}

/// A full batch for `loaded`'s shape: `N` contributions from `M` contributors (every slot
/// real), with the sample policy. Deterministic. In the uniform layout every contributor is new
/// (an empty tree); in the split layout `K` are new and the other `M − K` got a leaf from an
/// earlier batch of one contribution each.
pub fn sample_batch(loaded: &LoadedConfig) -> Result<BatchVector, ConfigError> {
    let LoadedConfig { config, model, .. } = loaded;
    let (n, m) = (config.max_contributions, config.max_accounts);
    let new = config.max_new_accounts.unwrap_or(m);
    let invalid = |reason: String| ConfigError::Invalid { name: config.name.clone(), reason };
    let mut rng = SplitMix64::new(config.k as u64);
    let domain = dev_domain();
    let mut state = State::new(config.depth).map_err(|e| invalid(format!("depth: {e}")))?;
    // The accounts that exist already: seeds `1000 + new ..`, one contribution at nonce 1.
    let earlier: Vec<(u64, u64, usize)> = (new..m).map(|i| (1000 + i as u64, 1, 1)).collect();
    if !earlier.is_empty() {
        let contributions = sample_contributions(&mut rng, &domain, model.input_dim(), &earlier);
        let unsigned: Vec<_> = contributions.into_iter().map(|s| s.contribution).collect();
        state = merit_core::apply_batch(&state, model, &sample_policy(), &unsigned)
            .map_err(|e| invalid(format!("earlier sample batch: {e}")))?
            .state;
    }
    let entries: Vec<(u64, u64, usize)> = (0..m)
        .map(|i| (1000 + i as u64, 1 + u64::from(i >= new), n / m + usize::from(i < n % m)))
        .collect();
    let contributions = sample_contributions(&mut rng, &domain, model.input_dim(), &entries);
    BatchVector::build(
        &format!("sample batch for {}", config.name),
        domain,
        model.clone(),
        sample_policy(),
        state,
        Batch { batch_id: 1 + u64::from(!earlier.is_empty()), contributions },
    )
    .map_err(|e| invalid(format!("sample batch: {e}")))
}

/// Builds the circuit of `loaded` in the keygen stage on `vector` and returns what it uses.
pub fn circuit_stats(
    loaded: &LoadedConfig,
    vector: &BatchVector,
) -> Result<CircuitStats, ConfigError> {
    let mut builder = MeritCircuitBuilder::for_config(CircuitBuilderStage::Keygen, loaded);
    build_batch_circuit(&mut builder, &loaded.shape, vector)?;
    let usable = (1usize << loaded.config.k) - crate::builder::UNUSABLE_ROWS;
    if builder.tables.table_rows() >= usable {
        return Err(ConfigError::Invalid {
            name: loaded.config.name.clone(),
            reason: format!("{} table rows do not fit 2^k rows", builder.tables.table_rows()),
        });
    }
    builder.calculate_params();
    Ok(builder.stats())
}
