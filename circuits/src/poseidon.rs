//! Poseidon in the circuit: a dedicated single-phase gate for `merit_core::poseidon`'s
//! permutation, placed beside halo2-base's gates, and the chip that hashes with it.
//!
//! # Why a gate of our own
//! halo2-base's hasher runs Poseidon on the flex gate at about 4,500 advice cells per
//! permutation, which made a depth-24 account update cost hundreds of thousands of cells. This
//! gate lays one permutation out in [`ROWS_PER_PERMUTATION`] rows of six advice columns
//! (234 cells) and keeps the circuit's degree at 4 (the lookup arguments' degree), so the
//! quotient's extended domain does not grow.
//!
//! # Layout of one permutation
//! Columns `s0, s1, s2` (the state) and `a0, a1, a2` (auxiliary), one set of fixed columns
//! `c0..c3` (constants) and four fixed selectors shared by every column set. A stored state is
//! the S-box input of its round, i.e. the state *after* adding that round's constants.
//! - row 0, `q_in`: the input `(s0, s1, s2)` and a swap bit `a0`; row 1 holds
//!   `(s0, s1, s2)` or `(s0, s2, s1)` when `a0 = 1`, plus the first round constants. The swap
//!   orders a Merkle node and its sibling inside the gate; other hashes pin `a0` to zero.
//! - rows 1–4 and 34–37, `q_full`: `a_i = s_i²`, next `= M · (a_i² · s_i) + c`;
//! - row 5, `q_single`: one partial round, `a0 = s0²`, next `= M · (a0² s0, s1, s2) + c`;
//! - rows 6–33, `q_pair`: two partial rounds per row: `a0 = s0²`, `a1` = the second round's
//!   S-box input (`M₀ · (a0² s0, s1, s2) + c3`), `a2 = a1²`, next from `a2² · a1` and the two
//!   linear words, with the constants of both rounds folded into `c0..c3`;
//! - row 38: the output state.
//!
//! Every gate has degree 4. Inputs (`s0, s1, s2, a0` of row 0) and outputs (`s0, s1, s2` of row
//! 38) are tied to halo2-base's virtual cells through the copy-constraint manager, as
//! halo2-base's own dynamic lookups do. Permutations fill `floor(usable rows / 39)` slots per
//! column set; the fixed columns repeat with period 39, so one set of them serves every column
//! set, and unused slots hold the permutation of zero so every enabled row is satisfied.

use std::collections::BTreeMap;

use halo2_base::{
    gates::GateInstructions,
    halo2_proofs::{
        circuit::{Cell, Layouter, Region, Value},
        halo2curves::bn256::Fr,
        plonk::{Advice, Column, ConstraintSystem, Expression, Fixed},
        poly::Rotation,
    },
    utils::halo2::{constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed},
    virtual_region::copy_constraints::{CopyConstraintManager, SharedCopyConstraintManager},
    AssignedValue, Context,
};
use merit_core::poseidon::{self as native, R_F, R_P, T};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows one permutation takes in a column set.
pub const ROWS_PER_PERMUTATION: usize = 39;
/// Advice columns of one column set.
pub const COLUMNS_PER_SET: usize = 6;
/// Advice cells one permutation occupies.
pub const CELLS_PER_PERMUTATION: usize = ROWS_PER_PERMUTATION * COLUMNS_PER_SET;

const FIRST_SINGLE_ROW: usize = 1 + R_F / 2;
const FIRST_PAIR_ROW: usize = FIRST_SINGLE_ROW + 1;
const PAIR_ROWS: usize = (R_P - 1) / 2;
const FIRST_LATE_FULL_ROW: usize = FIRST_PAIR_ROW + PAIR_ROWS;
const OUTPUT_ROW: usize = FIRST_LATE_FULL_ROW + R_F / 2;
const _: () = assert!(R_P % 2 == 1 && OUTPUT_ROW + 1 == ROWS_PER_PERMUTATION);

/// What a row of a permutation slot constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Input,
    Full,
    Single,
    Pair,
    Output,
}

fn row_kind(row: usize) -> RowKind {
    match row {
        0 => RowKind::Input,
        r if r < FIRST_SINGLE_ROW => RowKind::Full,
        FIRST_SINGLE_ROW => RowKind::Single,
        r if r < FIRST_LATE_FULL_ROW => RowKind::Pair,
        r if r < OUTPUT_ROW => RowKind::Full,
        _ => RowKind::Output,
    }
}

/// The round whose S-box input row `row` stores (rows 1 and up).
fn round_of_row(row: usize) -> usize {
    match row {
        r if r <= FIRST_SINGLE_ROW => r - 1,
        r if r < FIRST_LATE_FULL_ROW => FIRST_SINGLE_ROW + 2 * (r - FIRST_PAIR_ROW),
        r => R_F / 2 + R_P + (r - FIRST_LATE_FULL_ROW),
    }
}

/// The round constants of `round`, zero past the last round.
pub(crate) fn rc(round: usize) -> [Fr; T] {
    native::round_constants().get(round).copied().unwrap_or([Fr::zero(); T])
}

/// The fixed constants `c0..c3` of a row (see the module docs).
fn row_constants(row: usize) -> [Fr; 4] {
    let m = native::mds();
    match row_kind(row) {
        RowKind::Input => {
            let c = rc(0);
            [c[0], c[1], c[2], Fr::zero()]
        }
        RowKind::Full | RowKind::Single => {
            let c = rc(round_of_row(row) + 1);
            [c[0], c[1], c[2], Fr::zero()]
        }
        RowKind::Pair => {
            let r = round_of_row(row);
            let (mid, next) = (rc(r + 1), rc(r + 2));
            let folded = |i: usize| m[i][1] * mid[1] + m[i][2] * mid[2] + next[i];
            [folded(0), folded(1), folded(2), mid[0]]
        }
        RowKind::Output => [Fr::zero(); 4],
    }
}

pub(crate) fn pow5(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

pub(crate) fn mds_apply(v: [Fr; T]) -> [Fr; T] {
    let m = native::mds();
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

/// The 39 rows × `[s0, s1, s2, a0, a1, a2]` of one permutation of `input` (swapped by `swap`).
fn permutation_rows(input: [Fr; T], swap: bool) -> Vec<[Fr; COLUMNS_PER_SET]> {
    let mut rows = Vec::with_capacity(ROWS_PER_PERMUTATION);
    let swap_fr = if swap { Fr::one() } else { Fr::zero() };
    rows.push([input[0], input[1], input[2], swap_fr, Fr::zero(), Fr::zero()]);
    let ordered = if swap { [input[0], input[2], input[1]] } else { input };
    let c = rc(0);
    let mut state = [0, 1, 2].map(|i| ordered[i] + c[i]);
    for row in 1..ROWS_PER_PERMUTATION {
        let c = row_constants(row);
        let s = state;
        match row_kind(row) {
            RowKind::Full => {
                let a = s.map(|x| x.square());
                rows.push([s[0], s[1], s[2], a[0], a[1], a[2]]);
                let next = mds_apply(s.map(pow5));
                state = [0, 1, 2].map(|i| next[i] + c[i]);
            }
            RowKind::Single => {
                let a0 = s[0].square();
                rows.push([s[0], s[1], s[2], a0, Fr::zero(), Fr::zero()]);
                let next = mds_apply([pow5(s[0]), s[1], s[2]]);
                state = [0, 1, 2].map(|i| next[i] + c[i]);
            }
            RowKind::Pair => {
                let r = round_of_row(row);
                let mid_c = rc(r + 1);
                let a0 = s[0].square();
                let mid = mds_apply([pow5(s[0]), s[1], s[2]]);
                let mid = [0, 1, 2].map(|i| mid[i] + mid_c[i]);
                let a1 = mid[0];
                let a2 = a1.square();
                rows.push([s[0], s[1], s[2], a0, a1, a2]);
                let next = mds_apply([pow5(mid[0]), mid[1], mid[2]]);
                let after = rc(r + 2);
                state = [0, 1, 2].map(|i| next[i] + after[i]);
            }
            RowKind::Output => rows.push([s[0], s[1], s[2], Fr::zero(), Fr::zero(), Fr::zero()]),
            RowKind::Input => unreachable!("row 0 is the input"),
        }
    }
    rows
}

/// Which layout of the gate a circuit uses (a configuration's `poseidon_layout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoseidonLayout {
    /// Six columns, 39 rows per permutation (this module).
    #[default]
    Narrow,
    /// Twelve columns, 17 rows per permutation ([`crate::poseidon_wide`]).
    Wide,
}

impl PoseidonLayout {
    /// Whether this is the default (narrow) layout.
    pub fn is_narrow(&self) -> bool {
        *self == Self::Narrow
    }

    /// Advice cells one permutation occupies.
    pub fn cells_per_permutation(&self) -> usize {
        match self {
            Self::Narrow => CELLS_PER_PERMUTATION,
            Self::Wide => crate::poseidon_wide::CELLS_PER_PERMUTATION,
        }
    }

    /// Slots (permutations) per column set with `usable_rows` rows.
    pub fn slots_per_set(&self, usable_rows: usize) -> usize {
        match self {
            Self::Narrow => PoseidonGateConfig::slots_per_set(usable_rows),
            Self::Wide => crate::poseidon_wide::WidePoseidonGateConfig::slots_per_set(usable_rows),
        }
    }

    /// Column sets `permutations` need with `usable_rows` rows.
    pub fn sets_needed(&self, permutations: &[PermutationCells], usable_rows: usize) -> usize {
        match self {
            Self::Narrow => permutations.len().div_ceil(self.slots_per_set(usable_rows)),
            Self::Wide => crate::poseidon_wide::sets_needed(permutations, usable_rows),
        }
    }

    /// Rows of a slot a [`TamperCell`] can name, and whether cell `(row, column)` holds a value
    /// the permutation uses (every such cell is constrained; tests change each in turn).
    pub fn slot_cells(&self) -> (usize, usize, fn(usize, usize) -> bool) {
        match self {
            Self::Narrow => (ROWS_PER_PERMUTATION, COLUMNS_PER_SET, cell_is_used),
            Self::Wide => (
                crate::poseidon_wide::ROWS_PER_PERMUTATION + 1,
                crate::poseidon_wide::COLUMNS_PER_SET,
                crate::poseidon_wide::cell_is_used,
            ),
        }
    }
}

/// One cell of a permutation slot to add one to after the honest witness is laid out (tests
/// of the gate's constraints only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TamperCell {
    /// The permutation's index.
    pub slot: usize,
    /// The row, counted from the slot's first.
    pub row: usize,
    /// The column of the set.
    pub column: usize,
}

/// Whether cell `(row, column)` of a narrow slot holds a value the permutation uses.
fn cell_is_used(row: usize, column: usize) -> bool {
    match row_kind(row) {
        RowKind::Input => column < 4,
        RowKind::Full | RowKind::Pair => true,
        RowKind::Single => column < 4,
        RowKind::Output => column < T,
    }
}

/// The configured gate, in one layout or the other.
#[derive(Debug, Clone)]
pub enum PoseidonGate {
    /// The narrow layout.
    Narrow(PoseidonGateConfig),
    /// The wide layout.
    Wide(crate::poseidon_wide::WidePoseidonGateConfig),
}

impl PoseidonGate {
    /// Configures `num_sets` column sets of `layout`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        layout: PoseidonLayout,
        num_sets: usize,
    ) -> Self {
        match layout {
            PoseidonLayout::Narrow => Self::Narrow(PoseidonGateConfig::configure(meta, num_sets)),
            PoseidonLayout::Wide => {
                Self::Wide(crate::poseidon_wide::WidePoseidonGateConfig::configure(meta, num_sets))
            }
        }
    }

    /// Lays out `permutations` (see the layouts' `assign`).
    pub fn assign(
        &self,
        layouter: impl Layouter<Fr>,
        permutations: &[PermutationCells],
        usable_rows: usize,
        copy_manager: Option<&SharedCopyConstraintManager<Fr>>,
        tamper: Option<TamperCell>,
    ) {
        match self {
            Self::Narrow(gate) => {
                gate.assign(layouter, permutations, usable_rows, copy_manager, tamper)
            }
            Self::Wide(gate) => {
                gate.assign(layouter, permutations, usable_rows, copy_manager, tamper)
            }
        }
    }
}

/// The columns and gates of the Poseidon permutation (see the module docs).
#[derive(Debug, Clone)]
pub struct PoseidonGateConfig {
    /// Column sets `[s0, s1, s2, a0, a1, a2]`.
    pub sets: Vec<[Column<Advice>; COLUMNS_PER_SET]>,
    /// Constants `c0..c3`, shared by every set.
    pub constants: [Column<Fixed>; 4],
    /// Selectors `q_in, q_full, q_single, q_pair`, shared by every set.
    pub selectors: [Column<Fixed>; 4],
}

impl PoseidonGateConfig {
    /// Configures `num_sets` column sets (at least one).
    pub fn configure(meta: &mut ConstraintSystem<Fr>, num_sets: usize) -> Self {
        assert!(num_sets > 0, "a Poseidon gate needs at least one column set");
        let constants = [(); 4].map(|_| meta.fixed_column());
        let selectors = [(); 4].map(|_| meta.fixed_column());
        let sets: Vec<_> = (0..num_sets)
            .map(|_| {
                let columns = [(); COLUMNS_PER_SET].map(|_| meta.advice_column());
                for column in &columns[..4] {
                    meta.enable_equality(*column);
                }
                columns
            })
            .collect();
        let m = *native::mds();
        let mc = |x: Fr| Expression::Constant(x);
        for columns in &sets {
            meta.create_gate("poseidon", |meta| {
                let s = [0, 1, 2].map(|i| meta.query_advice(columns[i], Rotation::cur()));
                let a = [3, 4, 5].map(|i| meta.query_advice(columns[i], Rotation::cur()));
                let next = [0, 1, 2].map(|i| meta.query_advice(columns[i], Rotation::next()));
                let c = constants.map(|col| meta.query_fixed(col, Rotation::cur()));
                let [q_in, q_full, q_single, q_pair] =
                    selectors.map(|col| meta.query_fixed(col, Rotation::cur()));
                let one = mc(Fr::one());
                let mut constraints: Vec<Expression<Fr>> = Vec::new();

                // Input row: swap bit, ordering, first round constants.
                let bit = a[0].clone();
                constraints.push(q_in.clone() * bit.clone() * (one - bit.clone()));
                constraints.push(q_in.clone() * (next[0].clone() - s[0].clone() - c[0].clone()));
                let first =
                    s[1].clone() + bit.clone() * (s[2].clone() - s[1].clone()) + c[1].clone();
                constraints.push(q_in.clone() * (next[1].clone() - first));
                let second = s[2].clone() + bit * (s[1].clone() - s[2].clone()) + c[2].clone();
                constraints.push(q_in * (next[2].clone() - second));

                // Full round.
                for i in 0..T {
                    constraints.push(q_full.clone() * (a[i].clone() - s[i].clone() * s[i].clone()));
                }
                let sbox = |i: usize| a[i].clone() * a[i].clone() * s[i].clone();
                for i in 0..T {
                    let mixed =
                        (0..T).map(|j| mc(m[i][j]) * sbox(j)).reduce(|x, y| x + y).expect("T > 0");
                    constraints.push(q_full.clone() * (next[i].clone() - mixed - c[i].clone()));
                }

                // One partial round.
                let square0 = a[0].clone() - s[0].clone() * s[0].clone();
                constraints.push(q_single.clone() * square0.clone());
                let y = sbox(0);
                let linear = |i: usize, head: Expression<Fr>| {
                    mc(m[i][0]) * head + mc(m[i][1]) * s[1].clone() + mc(m[i][2]) * s[2].clone()
                };
                for i in 0..T {
                    constraints.push(
                        q_single.clone() * (next[i].clone() - linear(i, y.clone()) - c[i].clone()),
                    );
                }

                // Two partial rounds.
                constraints.push(q_pair.clone() * square0);
                constraints
                    .push(q_pair.clone() * (a[1].clone() - linear(0, y.clone()) - c[3].clone()));
                constraints.push(q_pair.clone() * (a[2].clone() - a[1].clone() * a[1].clone()));
                let z = a[2].clone() * a[2].clone() * a[1].clone();
                let w = [linear(1, y.clone()), linear(2, y)];
                for i in 0..T {
                    let mixed = mc(m[i][0]) * z.clone()
                        + mc(m[i][1]) * w[0].clone()
                        + mc(m[i][2]) * w[1].clone();
                    constraints.push(q_pair.clone() * (next[i].clone() - mixed - c[i].clone()));
                }
                constraints
            });
        }
        Self { sets, constants, selectors }
    }

    /// Slots (permutations) per column set with `usable_rows` rows.
    pub fn slots_per_set(usable_rows: usize) -> usize {
        usable_rows / ROWS_PER_PERMUTATION
    }

    /// Assigns `permutations` (slot after slot, set after set) and the fixed columns, and ties
    /// inputs and outputs to their virtual cells. `copy_manager` is `None` only for witness
    /// generation without constraints. `tamper` changes one cell (tests only).
    pub fn assign(
        &self,
        mut layouter: impl Layouter<Fr>,
        permutations: &[PermutationCells],
        usable_rows: usize,
        copy_manager: Option<&SharedCopyConstraintManager<Fr>>,
        tamper: Option<TamperCell>,
    ) {
        let slots = Self::slots_per_set(usable_rows);
        assert_fits(permutations.len(), self.sets.len(), slots);
        // The rounds of every permutation, computed in parallel (most of the region's time).
        let computed: Vec<_> = permutations
            .par_iter()
            .map(|p| {
                permutation_rows(p.input.map(|cell| *cell.value()), *p.swap.value() == Fr::one())
            })
            .collect();
        layouter
            .assign_region(
                || "poseidon permutations",
                |mut region| {
                    self.assign_fixed(&mut region, slots);
                    let mut copy_manager = copy_manager.map(|c| c.lock().unwrap());
                    let dummy = permutation_rows([Fr::zero(); T], false);
                    for (index, columns) in
                        (0..slots * self.sets.len()).map(|i| (i, &self.sets[i / slots]))
                    {
                        let base = (index % slots) * ROWS_PER_PERMUTATION;
                        let Some(permutation) = permutations.get(index) else {
                            assign_rows(&mut region, columns, base, &dummy);
                            continue;
                        };
                        let tampered = tamper.filter(|t| t.slot == index).map(|t| {
                            let mut rows = computed[index].clone();
                            rows[t.row][t.column] += Fr::one();
                            rows
                        });
                        let rows = tampered.as_ref().unwrap_or(&computed[index]);
                        let cells = assign_rows(&mut region, columns, base, rows);
                        if let Some(copy_manager) = copy_manager.as_mut() {
                            let inputs = cells.first.map(Some);
                            permutation.tie(&mut region, inputs, &cells.last, copy_manager);
                        }
                    }
                    Ok(())
                },
            )
            .expect("the Poseidon region assigns");
    }

    fn assign_fixed(&self, region: &mut Region<'_, Fr>, slots: usize) {
        let constants: Vec<[Fr; 4]> = (0..ROWS_PER_PERMUTATION).map(row_constants).collect();
        for slot in 0..slots {
            for (row, row_constants) in constants.iter().enumerate() {
                let offset = slot * ROWS_PER_PERMUTATION + row;
                for (column, value) in self.constants.iter().zip(row_constants) {
                    raw_assign_fixed(region, *column, offset, *value);
                }
                let selector = match row_kind(row) {
                    RowKind::Input => Some(0),
                    RowKind::Full => Some(1),
                    RowKind::Single => Some(2),
                    RowKind::Pair => Some(3),
                    RowKind::Output => None,
                };
                for (i, column) in self.selectors.iter().enumerate() {
                    let on = if selector == Some(i) { Fr::one() } else { Fr::zero() };
                    raw_assign_fixed(region, *column, offset, on);
                }
            }
        }
    }
}

/// The cells of a slot that copy constraints reach: row 0's `s0, s1, s2, a0` and the output.
struct SlotCells {
    first: [Cell; 4],
    last: [Cell; 3],
}

fn assign_rows(
    region: &mut Region<'_, Fr>,
    columns: &[Column<Advice>; COLUMNS_PER_SET],
    base: usize,
    rows: &[[Fr; COLUMNS_PER_SET]],
) -> SlotCells {
    let mut first = Vec::with_capacity(4);
    let mut last = Vec::with_capacity(3);
    for (row, values) in rows.iter().enumerate() {
        for (i, (column, value)) in columns.iter().zip(values).enumerate() {
            let cell = raw_assign_advice(region, *column, base + row, Value::known(*value)).cell();
            if row == 0 && i < 4 {
                first.push(cell);
            }
            if row == OUTPUT_ROW && i < 3 {
                last.push(cell);
            }
        }
    }
    SlotCells {
        first: first.try_into().expect("four input cells"),
        last: last.try_into().expect("three output cells"),
    }
}

/// One permutation requested by the circuit: its input cells, swap bit and wanted outputs.
#[derive(Debug, Clone, Copy)]
pub struct PermutationCells {
    /// The narrow layout: `(s0, s1, s2)` before the swap. The wide layout ties only `input[1]`
    /// and `input[2]`: the state's words of a fresh permutation, the words absorbed into the
    /// previous permutation's output by a continuing one.
    pub input: [AssignedValue<Fr>; T],
    /// Swaps `s1` and `s2` when one (a boolean, constrained by the gate).
    pub swap: AssignedValue<Fr>,
    /// Output words the circuit uses.
    pub output: [Option<AssignedValue<Fr>>; T],
    /// The state the permutation starts from, before the swap.
    pub state: [Fr; T],
    /// The wide layout's start: `Some(capacity)` for a fresh permutation, whose `s0` is that
    /// constant (fixed in the gate); `None` for one that continues the previous permutation of
    /// its sponge (laid out in the slot before it).
    pub capacity: Option<Fr>,
}

impl PermutationCells {
    /// Ties the virtual cells to the gate's: `inputs` are the laid-out `(s0, s1, s2, swap)`
    /// (`None`: not copied, as the wide layout's `s0`, which the gate fixes), `outputs` the
    /// output state (only the wanted words are tied).
    pub(crate) fn tie(
        &self,
        region: &mut Region<'_, Fr>,
        inputs: [Option<Cell>; 4],
        outputs: &[Cell],
        copy_manager: &mut CopyConstraintManager<Fr>,
    ) {
        let virtual_inputs = self.input.iter().chain([&self.swap]);
        for (virtual_cell, cell) in virtual_inputs.zip(inputs) {
            if let Some(cell) = cell {
                constrain_virtual_equals_external(region, *virtual_cell, cell, copy_manager);
            }
        }
        for (output, cell) in self.output.iter().zip(outputs) {
            if let Some(virtual_cell) = output {
                constrain_virtual_equals_external(region, *virtual_cell, *cell, copy_manager);
            }
        }
    }
}

/// Panics unless `permutations` fit `sets` column sets of `slots` slots.
pub(crate) fn assert_fits(permutations: usize, sets: usize, slots: usize) {
    assert!(
        permutations <= slots * sets,
        "{permutations} permutations do not fit {sets} column sets of {slots} slots"
    );
}

/// Hashing with the Poseidon gate: records permutations on halo2-base virtual cells; the
/// builder lays them out in the gate's columns at synthesis.
#[derive(Debug, Clone, Default)]
pub struct PoseidonChip {
    layout: PoseidonLayout,
    permutations: Vec<PermutationCells>,
    tamper: Option<TamperCell>,
    zero: Option<AssignedValue<Fr>>,
    capacities: BTreeMap<usize, AssignedValue<Fr>>,
}

impl PoseidonChip {
    /// A chip recording permutations for the gate in `layout`.
    pub fn new(layout: PoseidonLayout) -> Self {
        Self { layout, ..Self::default() }
    }

    /// The layout the permutations are recorded for.
    pub fn layout(&self) -> PoseidonLayout {
        self.layout
    }

    /// The recorded permutations.
    pub fn permutations(&self) -> &[PermutationCells] {
        &self.permutations
    }

    fn zero(&mut self, ctx: &mut Context<Fr>) -> AssignedValue<Fr> {
        *self.zero.get_or_insert_with(|| ctx.load_zero())
    }

    fn capacity(&mut self, ctx: &mut Context<Fr>, len: usize) -> AssignedValue<Fr> {
        *self.capacities.entry(len).or_insert_with(|| ctx.load_constant(native::capacity(len)))
    }

    /// Permutes `input` (with `s1, s2` swapped when `swap` is one) and returns the wanted
    /// output words as new witnesses tied to the gate. `input[0]` is the constant `capacity`.
    fn permute(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
        swap: AssignedValue<Fr>,
        wanted: [bool; T],
        capacity: Fr,
    ) -> [Option<AssignedValue<Fr>>; T] {
        let state = input.map(|cell| *cell.value());
        self.record(ctx, (input, state), swap, wanted, Some(capacity)).0
    }

    /// Records one permutation of `state` (tied as `cells`, see [`PermutationCells`]) and
    /// returns the wanted output words and the whole output state.
    fn record(
        &mut self,
        ctx: &mut Context<Fr>,
        (input, state): ([AssignedValue<Fr>; T], [Fr; T]),
        swap: AssignedValue<Fr>,
        wanted: [bool; T],
        capacity: Option<Fr>,
    ) -> ([Option<AssignedValue<Fr>>; T], [Fr; T]) {
        let mut permuted = state;
        if *swap.value() == Fr::one() {
            permuted.swap(1, 2);
        }
        native::permute(&mut permuted);
        let output = [0, 1, 2].map(|i| wanted[i].then(|| ctx.load_witness(permuted[i])));
        self.permutations.push(PermutationCells { input, swap, output, state, capacity });
        (output, permuted)
    }

    /// `merit_core::poseidon::hash(inputs)`: the fixed-length sponge, `⌈len / 2⌉`
    /// permutations (one for no input).
    pub fn hash(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr> {
        if !self.layout.is_narrow() {
            return self.hash_absorbing(ctx, inputs);
        }
        let capacity = native::capacity(inputs.len());
        let zero = self.zero(ctx);
        let mut state = [self.capacity(ctx, inputs.len()), zero, zero];
        let chunks: Vec<&[AssignedValue<Fr>]> =
            if inputs.is_empty() { vec![&[]] } else { inputs.chunks(2).collect() };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            for (word, input) in state[1..].iter_mut().zip(chunk) {
                *word = if i == 0 { *input } else { gate.add(ctx, *word, *input) };
            }
            let wanted = if i == last { [false, true, false] } else { [true; T] };
            let values = state.map(|cell| *cell.value());
            let start = (i == 0).then_some(capacity);
            let (output, _) = self.record(ctx, (state, values), zero, wanted, start);
            state = output.map(|word| word.unwrap_or(zero));
        }
        state[1]
    }

    /// [`PoseidonChip::hash`] for the wide layout: each later permutation of the sponge
    /// continues the one before inside the gate, absorbing its two words there, so no flex-gate
    /// additions and no intermediate outputs are assigned.
    fn hash_absorbing(
        &mut self,
        ctx: &mut Context<Fr>,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr> {
        let zero = self.zero(ctx);
        let capacity = native::capacity(inputs.len());
        let chunks: Vec<&[AssignedValue<Fr>]> =
            if inputs.is_empty() { vec![&[]] } else { inputs.chunks(2).collect() };
        let last = chunks.len() - 1;
        let mut state = [capacity, Fr::zero(), Fr::zero()];
        let mut digest = None;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let words = [0, 1].map(|j| chunk.get(j).copied().unwrap_or(zero));
            state[1] += words[0].value();
            state[2] += words[1].value();
            let wanted = [false, i == last, false];
            let start = (i == 0).then_some(capacity);
            let (output, permuted) =
                self.record(ctx, ([zero, words[0], words[1]], state), zero, wanted, start);
            state = permuted;
            digest = output[1];
        }
        digest.expect("the last permutation's output is wanted")
    }

    /// `merit_core::poseidon::hash2(left, right)`: one permutation.
    pub fn hash2(
        &mut self,
        ctx: &mut Context<Fr>,
        left: AssignedValue<Fr>,
        right: AssignedValue<Fr>,
    ) -> AssignedValue<Fr> {
        let zero = self.zero(ctx);
        let capacity = self.capacity(ctx, 2);
        self.permute(ctx, [capacity, left, right], zero, [false, true, false], native::capacity(2))
            [1]
        .expect("output 1 wanted")
    }

    /// The Merkle parent of `node` and `sibling`: `hash2(node, sibling)`, or
    /// `hash2(sibling, node)` when `is_right` (a bit, constrained by the gate) is one.
    pub fn merkle_parent(
        &mut self,
        ctx: &mut Context<Fr>,
        node: AssignedValue<Fr>,
        sibling: AssignedValue<Fr>,
        is_right: AssignedValue<Fr>,
    ) -> AssignedValue<Fr> {
        let capacity = self.capacity(ctx, 2);
        let constant = native::capacity(2);
        self.permute(ctx, [capacity, node, sibling], is_right, [false, true, false], constant)[1]
            .expect("output 1 wanted")
    }

    /// Number of recorded permutations.
    pub fn permutation_count(&self) -> usize {
        self.permutations.len()
    }

    /// Tampering hook for tests: replaces the swap bit of permutation `index`.
    #[doc(hidden)]
    pub fn set_swap_for_test(&mut self, index: usize, swap: AssignedValue<Fr>) {
        self.permutations[index].swap = swap;
    }

    /// Tampering hook for tests: one cell of the laid-out permutations to change.
    #[doc(hidden)]
    pub fn tamper_cell_for_test(&mut self, cell: TamperCell) {
        self.tamper = Some(cell);
    }

    /// The cell [`PoseidonChip::tamper_cell_for_test`] set, if any.
    pub fn tampered_cell(&self) -> Option<TamperCell> {
        self.tamper
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_reproduce_the_native_permutation() {
        for (input, swap) in [
            ([Fr::zero(); T], false),
            ([Fr::from(5), Fr::from(7), Fr::from(11)], false),
            ([Fr::from(5), Fr::from(7), Fr::from(11)], true),
        ] {
            let rows = permutation_rows(input, swap);
            assert_eq!(rows.len(), ROWS_PER_PERMUTATION);
            let mut expected = if swap { [input[0], input[2], input[1]] } else { input };
            native::permute(&mut expected);
            assert_eq!(rows[OUTPUT_ROW][..3], expected);
        }
    }

    #[test]
    fn layout_covers_every_round_once() {
        let mut rounds = Vec::new();
        for row in 1..OUTPUT_ROW {
            let r = round_of_row(row);
            rounds.push(r);
            if row_kind(row) == RowKind::Pair {
                rounds.push(r + 1);
            }
            assert_eq!(native::is_full_round(r), row_kind(row) == RowKind::Full, "row {row}");
        }
        assert_eq!(rounds, (0..R_F + R_P).collect::<Vec<_>>());
    }
}
