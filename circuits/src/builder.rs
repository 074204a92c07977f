//! The circuit builder of Merit circuits: halo2-base's `BaseCircuitBuilder` (flex gate, range
//! lookups, public instances) plus one dynamic lookup argument (halo2-base's
//! `BasicDynLookupConfig`) for `(key, value)` tables such as the sigmoid and tanh activations,
//! plus the dedicated Poseidon gate ([`crate::poseidon`]).
//!
//! Everything stays in the first phase (no challenges), as the CUDA prover requires.
//!
//! Table rows are loaded as constants in the base region and copied into the table columns, so
//! the prover cannot change a table; looked-up pairs are copied from the cells that use them.
//! Keys carry a table tag in bits 32 and up ([`table_key`]), so one argument serves every table.

use std::collections::BTreeSet;

use halo2_base::{
    gates::{
        circuit::{
            builder::BaseCircuitBuilder, BaseCircuitParams, BaseConfig, CircuitBuilderStage,
            MaybeRangeConfig,
        },
        flex_gate::MultiPhaseThreadBreakPoints,
        RangeChip,
    },
    halo2_proofs::dev::VerifyFailure,
    halo2_proofs::{
        circuit::{Layouter, SimpleFloorPlanner},
        halo2curves::bn256::Fr,
        plonk::{Circuit, ConstraintSystem, Error, FirstPhase},
    },
    virtual_region::{lookups::basic::BasicDynLookupConfig, manager::VirtualRegionManager},
    AssignedValue, Context,
};
use serde::{Deserialize, Serialize};

use crate::poseidon::{PoseidonChip, PoseidonGate, PoseidonLayout};

/// Rows reserved at the bottom of every column for blinding factors.
pub const UNUSABLE_ROWS: usize = 20;

/// The lookup key of row `index` of table `tag`: `tag · 2^32 + index`.
pub fn table_key(tag: u64, index: u64) -> Fr {
    Fr::from(tag) * Fr::from(1u64 << 32) + Fr::from(index)
}

/// Shape of a [`MeritCircuitBuilder`] circuit, fixed at keygen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MeritCircuitParams {
    /// The base circuit's shape.
    pub base: BaseCircuitParams,
    /// Column pairs of cells to look up in the tables.
    pub num_table_lookup_columns: usize,
    /// Column sets of the Poseidon gate (zero when the circuit hashes nothing).
    #[serde(default)]
    pub num_poseidon_sets: usize,
    /// The constraint system's minimum degree (`crate::config::CircuitConfig::min_degree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_degree: Option<usize>,
    /// The Poseidon gate's layout (`crate::config::CircuitConfig::poseidon_layout`).
    #[serde(default, skip_serializing_if = "PoseidonLayout::is_narrow")]
    pub poseidon_layout: PoseidonLayout,
}

/// `(key, value)` tables and the pairs looked up in them.
#[derive(Debug, Clone, Default)]
pub struct TableLookups {
    loaded: BTreeSet<u64>,
    rows: Vec<[AssignedValue<Fr>; 2]>,
    lookups: Vec<[AssignedValue<Fr>; 2]>,
}

impl TableLookups {
    /// Loads table `tag` (its `values` indexed from 0) as constants, once per circuit.
    pub fn load_table(
        &mut self,
        ctx: &mut Context<Fr>,
        tag: u64,
        values: impl IntoIterator<Item = Fr>,
    ) {
        if !self.loaded.insert(tag) {
            return;
        }
        for (index, value) in values.into_iter().enumerate() {
            let key = ctx.load_constant(table_key(tag, index as u64));
            let value = ctx.load_constant(value);
            self.rows.push([key, value]);
        }
    }

    /// Adds a witness row to the table (rows computed by the circuit, such as per-contributor
    /// groups); the caller constrains what the row may hold.
    pub fn add_row(&mut self, key: AssignedValue<Fr>, value: AssignedValue<Fr>) {
        self.rows.push([key, value]);
    }

    /// Constrains `(key, value)` to be a row of a loaded table.
    pub fn lookup(&mut self, key: AssignedValue<Fr>, value: AssignedValue<Fr>) {
        self.lookups.push([key, value]);
    }

    /// Number of table rows.
    pub fn table_rows(&self) -> usize {
        self.rows.len()
    }

    /// Number of looked-up pairs.
    pub fn lookup_count(&self) -> usize {
        self.lookups.len()
    }
}

/// A base circuit plus table lookups.
#[derive(Debug, Clone)]
pub struct MeritCircuitBuilder {
    /// The base builder (contexts, range chip, instances).
    pub base: BaseCircuitBuilder<Fr>,
    /// Tables and lookups.
    pub tables: TableLookups,
    /// Table lookup columns.
    pub num_table_lookup_columns: usize,
    /// Permutations for the Poseidon gate.
    pub poseidon: PoseidonChip,
    /// Poseidon gate column sets.
    pub num_poseidon_sets: usize,
    /// The constraint system's minimum degree, if raised.
    pub min_degree: Option<usize>,
    /// The Poseidon gate's layout.
    pub poseidon_layout: PoseidonLayout,
}

/// What a circuit uses, for `merit circuit stats` and the cost reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitStats {
    /// `log2` of the number of rows.
    pub k: usize,
    /// Advice cells on halo2-base's flex gate.
    pub gate_cells: usize,
    /// Advice cells of the Poseidon gate (`39 × 6` per permutation, `17 × 12` in the wide
    /// layout).
    pub poseidon_cells: usize,
    /// Permutations through the Poseidon gate.
    pub permutations: usize,
    /// Cells copied into halo2-base's range-lookup columns.
    pub range_lookup_cells: usize,
    /// `(key, value)` pairs looked up in the tables (two cells each).
    pub table_lookups: usize,
    /// Rows of the `(key, value)` tables.
    pub table_rows: usize,
    /// Advice columns of the configured circuit.
    pub advice_columns: usize,
    /// Fixed columns (selectors included) of the configured circuit.
    pub fixed_columns: usize,
    /// The constraint system's degree.
    pub degree: usize,
}

impl CircuitStats {
    /// Every advice cell the witness fills: flex gate, Poseidon gate, and the cells copied into
    /// lookup and table columns.
    pub fn total_advice_cells(&self) -> usize {
        self.gate_cells
            + self.poseidon_cells
            + self.range_lookup_cells
            + 2 * self.table_lookups
            + 2 * self.table_rows
    }
}

impl MeritCircuitBuilder {
    /// A builder for `stage` with `2^k` rows and range lookups of `lookup_bits`.
    pub fn new(stage: CircuitBuilderStage, k: usize, lookup_bits: usize) -> Self {
        let base = BaseCircuitBuilder::from_stage(stage).use_k(k).use_lookup_bits(lookup_bits);
        Self {
            base,
            tables: TableLookups::default(),
            num_table_lookup_columns: 0,
            poseidon: PoseidonChip::default(),
            num_poseidon_sets: 0,
            min_degree: None,
            poseidon_layout: PoseidonLayout::Narrow,
        }
    }

    /// A builder for `stage` with the rows, lookup width and degree of `config`.
    pub fn for_config(stage: CircuitBuilderStage, config: &crate::config::LoadedConfig) -> Self {
        let mut builder = Self::new(stage, config.config.k, config.config.lookup_bits);
        builder.min_degree = config.config.min_degree;
        builder.poseidon_layout = config.config.poseidon_layout;
        builder.poseidon = PoseidonChip::new(config.config.poseidon_layout);
        builder
    }

    /// A builder for the real prover, with the shape and break points fixed at keygen.
    pub fn prover(params: MeritCircuitParams, break_points: MultiPhaseThreadBreakPoints) -> Self {
        let base = BaseCircuitBuilder::prover(params.base, break_points);
        Self {
            base,
            tables: TableLookups::default(),
            num_table_lookup_columns: params.num_table_lookup_columns,
            poseidon: PoseidonChip::new(params.poseidon_layout),
            num_poseidon_sets: params.num_poseidon_sets,
            min_degree: params.min_degree,
            poseidon_layout: params.poseidon_layout,
        }
    }

    /// The range chip over this builder's lookup managers.
    pub fn range_chip(&self) -> RangeChip<Fr> {
        self.base.range_chip()
    }

    /// Fixes the shape from what was assigned: advice columns, range lookup columns, table
    /// lookup columns and Poseidon column sets for `2^k` rows.
    pub fn calculate_params(&mut self) -> MeritCircuitParams {
        let base = self.base.calculate_params(Some(UNUSABLE_ROWS));
        let usable = (1usize << base.k) - UNUSABLE_ROWS;
        assert!(self.tables.table_rows() < usable, "tables do not fit 2^k rows: raise k");
        self.num_table_lookup_columns = self.tables.lookup_count().div_ceil(usable).max(1);
        self.num_poseidon_sets =
            self.poseidon_layout.sets_needed(self.poseidon.permutations(), usable);
        self.params()
    }

    /// The shape (after [`MeritCircuitBuilder::calculate_params`]).
    pub fn params(&self) -> MeritCircuitParams {
        MeritCircuitParams {
            base: self.base.config_params.clone(),
            num_table_lookup_columns: self.num_table_lookup_columns,
            num_poseidon_sets: self.num_poseidon_sets,
            min_degree: self.min_degree,
            poseidon_layout: self.poseidon_layout,
        }
    }

    /// What the circuit uses (after [`MeritCircuitBuilder::calculate_params`]).
    pub fn stats(&self) -> CircuitStats {
        let params = self.params();
        let statistics = self.base.statistics();
        let gate_cells = statistics.gate.total_advice_per_phase.iter().sum();
        let range_lookup_cells = statistics.total_lookup_advice_per_phase.iter().sum();
        let permutations = self.poseidon.permutation_count();
        let mut cs = ConstraintSystem::<Fr>::default();
        let k = params.base.k;
        <Self as Circuit<Fr>>::configure_with_params(&mut cs, params);
        CircuitStats {
            k,
            gate_cells,
            poseidon_cells: permutations * self.poseidon_layout.cells_per_permutation(),
            permutations,
            range_lookup_cells,
            table_lookups: self.tables.lookup_count(),
            table_rows: self.tables.table_rows(),
            advice_columns: cs.num_advice_columns(),
            fixed_columns: cs.num_fixed_columns() + cs.num_selectors(),
            degree: cs.degree(),
        }
    }
}

/// Builds a circuit in the mock stage with `build`, fixes its shape and runs `MockProver`.
/// Returns what `build` returned and the verification result.
pub fn mock_prove<R>(
    k: usize,
    lookup_bits: usize,
    build: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>, &mut TableLookups) -> R,
) -> (R, Result<(), Vec<VerifyFailure>>) {
    mock_prove_with_poseidon(k, lookup_bits, |ctx, range, tables, _| build(ctx, range, tables))
}

/// [`mock_prove`] with the Poseidon gate available to `build`.
pub fn mock_prove_with_poseidon<R>(
    k: usize,
    lookup_bits: usize,
    build: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>, &mut TableLookups, &mut PoseidonChip) -> R,
) -> (R, Result<(), Vec<VerifyFailure>>) {
    let (out, _, result) = mock_prove_inspect(k, lookup_bits, build, |_| ());
    (out, result)
}

/// [`mock_prove_with_poseidon`] that also returns the circuit's [`CircuitStats`], and lets
/// `tamper` change the recorded permutations or tables before proving (tests only).
pub fn mock_prove_inspect<R>(
    k: usize,
    lookup_bits: usize,
    build: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>, &mut TableLookups, &mut PoseidonChip) -> R,
    tamper: impl FnOnce(&mut MeritCircuitBuilder),
) -> (R, CircuitStats, Result<(), Vec<VerifyFailure>>) {
    mock_prove_layout(PoseidonLayout::Narrow, k, lookup_bits, build, tamper)
}

/// [`mock_prove_inspect`] with the Poseidon gate in `layout`.
pub fn mock_prove_layout<R>(
    layout: PoseidonLayout,
    k: usize,
    lookup_bits: usize,
    build: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>, &mut TableLookups, &mut PoseidonChip) -> R,
    tamper: impl FnOnce(&mut MeritCircuitBuilder),
) -> (R, CircuitStats, Result<(), Vec<VerifyFailure>>) {
    let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, k, lookup_bits);
    builder.poseidon_layout = layout;
    builder.poseidon = PoseidonChip::new(layout);
    let range = builder.range_chip();
    let MeritCircuitBuilder { base, tables, poseidon, .. } = &mut builder;
    let out = build(base.main(0), &range, tables, poseidon);
    builder.calculate_params();
    tamper(&mut builder);
    let stats = builder.stats();
    let instances: Vec<Vec<Fr>> = builder
        .base
        .assigned_instances
        .iter()
        .map(|column| column.iter().map(|v| *v.value()).collect())
        .collect();
    let prover = halo2_base::halo2_proofs::dev::MockProver::run(k as u32, &builder, instances)
        .expect("the circuit synthesizes");
    (out, stats, prover.verify())
}

/// The configuration: base gates and range lookups, plus the table lookup argument.
#[derive(Debug, Clone)]
pub struct MeritCircuitConfig {
    /// Base configuration.
    pub base: BaseConfig<Fr>,
    /// Table lookup argument.
    pub tables: BasicDynLookupConfig<2>,
    /// The Poseidon gate, when the circuit hashes.
    pub poseidon: Option<PoseidonGate>,
}

impl Circuit<Fr> for MeritCircuitBuilder {
    type Config = MeritCircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = MeritCircuitParams;

    fn params(&self) -> Self::Params {
        MeritCircuitBuilder::params(self)
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("build the circuit through MeritCircuitBuilder")
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: Self::Params,
    ) -> Self::Config {
        if let Some(degree) = params.min_degree {
            meta.set_minimum_degree(degree);
        }
        let base = BaseConfig::configure(meta, params.base);
        let tables =
            BasicDynLookupConfig::new(meta, || FirstPhase, params.num_table_lookup_columns);
        let poseidon = (params.num_poseidon_sets > 0).then(|| {
            PoseidonGate::configure(meta, params.poseidon_layout, params.num_poseidon_sets)
        });
        MeritCircuitConfig { base, tables, poseidon }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("use configure_with_params")
    }

    fn synthesize(
        &self,
        config: Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let base = &self.base;
        if let MaybeRangeConfig::WithRange(range) = &config.base.base {
            range.load_lookup_table(&mut layouter)?;
        }
        // 1. The base region, without copy constraints yet.
        layouter.assign_region(
            || "merit base",
            |mut region| {
                let gate = config.base.gate();
                base.core().phase_manager[0]
                    .assign_raw(&(gate.basic_gates[0].clone(), gate.max_rows), &mut region);
                if let MaybeRangeConfig::WithRange(range) = &config.base.base {
                    base.assign_lookups_in_phase(range, &mut region, 0);
                }
                Ok(())
            },
        )?;
        // 2. Tables and looked-up pairs, linked to base cells through the copy manager.
        let witness_gen_only = base.core().witness_gen_only();
        let copy_manager = (!witness_gen_only).then_some(&base.core().copy_manager);
        config.tables.assign_virtual_table_to_raw(
            layouter.namespace(|| "tables"),
            self.tables.rows.iter().copied(),
            copy_manager,
        );
        config.tables.assign_virtual_to_lookup_to_raw(
            layouter.namespace(|| "table lookups"),
            self.tables.lookups.iter().copied(),
            copy_manager,
        );
        // 3. Poseidon permutations, linked the same way.
        if let Some(poseidon) = &config.poseidon {
            let usable = (1usize << base.config_params.k) - UNUSABLE_ROWS;
            poseidon.assign(
                layouter.namespace(|| "poseidon"),
                self.poseidon.permutations(),
                usable,
                copy_manager,
                self.poseidon.tampered_cell(),
            );
        } else {
            assert_eq!(self.poseidon.permutation_count(), 0, "Poseidon gate not configured");
        }
        // 4. Copy constraints, last, then the public instances.
        layouter.assign_region(
            || "copy constraints",
            |mut region| {
                if !witness_gen_only {
                    base.core().copy_manager.assign_raw(config.base.constants(), &mut region);
                }
                Ok(())
            },
        )?;
        base.assign_instances(&config.base.instance, layouter.namespace(|| "expose"));
        Ok(())
    }
}
