//! The wide layout of the Poseidon gate: the same permutation as [`crate::poseidon`]'s gate
//! (`merit_core::poseidon`, width 3, R_F 8, R_P 57, degree-4 constraints) on column sets of
//! twelve advice columns, for the throughput configurations (`"poseidon_layout": "wide"`).
//!
//! # Why
//! The narrow gate spends 39 rows × 6 columns = 234 cells per permutation, of which two rows
//! (input, output) are mostly empty and every row stores the three state words. Twelve columns
//! carry two full rounds or five partial rounds per row, and one row serves as the output of a
//! permutation and the input of the next: 17 rows × 12 = **204 cells** per permutation (−13%),
//! with 4 equality-enabled columns per 12 instead of 8 (fewer permutation-argument products):
//! a sponge's later permutations continue the one before inside the gate (the link row adds
//! the absorbed words to the previous output), so only the digest, the two input words and the
//! swap bit are copied in or out, and the capacity word is a constant of the gate.
//! Its keys differ from the narrow gate's, so the configurations whose keys and proofs are
//! committed (tiny, n16) keep the narrow one.
//!
//! # Layout
//! Columns `w0..w11`, fixed constants `k0..k6` and four selectors, shared by every column set.
//! A stored state is the S-box input of its round (after that round's constants). Slot `s`
//! (one permutation) starts after the link row `17·s` and takes rows `17·s + 1 ..= 17·s + 16`;
//! row `17·(s + 1)` is its output and the next slot's input:
//! - **link** (`q_link`): `w0..w2` the previous slot's output (zero above the first slot),
//!   `w4, w5` this slot's input words, `w6` its swap bit (boolean), `k4` whether the slot
//!   continues the previous one (a sponge's later permutation); the next row's state is
//!   `k4·(w0, w1, w2) + (0, w4, w5)`, `w4` and `w5` exchanged when the bit is one, plus the
//!   first round's constants `k0..k2`, where `k0` also holds a fresh permutation's capacity
//!   word. The swap orders a Merkle node and its sibling; other hashes pin it to 0. Only `w1`
//!   (the digest), `w4`, `w5` and `w6` are equality-enabled. A sponge's permutations are laid
//!   out in consecutive slots of one column set ([`place`]).
//! - **two full rounds** (`q_full`, rows 1–2 and 15–16): `s = w0..w2`, `w3..w5 = s²`,
//!   `t = w6..w8 = M·s⁵ + k0..k2`, `w9..w11 = t²`, next state `= M·t⁵ + k3..k5`.
//! - **five partial rounds** (`q_five`, rows 3–13) and **two** (`q_two`, row 14): `s = w0..w2`,
//!   `w3 = s0²`, then for each later round of the row its S-box input `x_k` and `x_k²` in the
//!   next pair of columns. Every state word of a partial round is an affine function of `s1`,
//!   `s2` and the S-box outputs `y_j = x_j⁵` of the row's earlier rounds, with coefficients set
//!   by the MDS matrix alone (the same in every row, fixed in the gate) and a constant that
//!   folds the rounds' constants (per row, in `k0..k6`): each `x_k` and the next row's state
//!   are constrained to those functions (degree 3 in the advice cells, 4 with the selector).
//!
//! 4 + 55 + 2 + 4 = 65 rounds. The rows of a column set: the first link row, 17 per slot; empty
//! slots hold the permutation of zero so every enabled row is satisfied. The last link row
//! holds only the last slot's output and has no selector.

use halo2_base::{
    halo2_proofs::{
        circuit::{Cell, Layouter, Region, Value},
        halo2curves::bn256::Fr,
        plonk::{Advice, Column, ConstraintSystem, Expression, Fixed},
        poly::Rotation,
    },
    utils::halo2::{raw_assign_advice, raw_assign_fixed},
    virtual_region::copy_constraints::SharedCopyConstraintManager,
};
use merit_core::poseidon::{self as native, R_F, R_P, T};
use rayon::prelude::*;

use crate::poseidon::{mds_apply, pow5, rc, PermutationCells, TamperCell};

/// Advice columns of one column set.
pub const COLUMNS_PER_SET: usize = 12;
/// The equality-enabled columns of a set: the digest `w1`, the inputs `w4, w5`, the swap `w6`.
pub const EQUALITY_COLUMNS: [usize; 4] = [1, 4, 5, 6];
/// Rows one permutation takes (its body and one link row).
pub const ROWS_PER_PERMUTATION: usize = 17;
/// Advice cells one permutation occupies.
pub const CELLS_PER_PERMUTATION: usize = ROWS_PER_PERMUTATION * COLUMNS_PER_SET;
/// Fixed constant columns.
const CONSTANTS: usize = 7;
/// Partial rounds per row of the long kind, and of the one short row.
const LONG: usize = 5;
const SHORT: usize = 2;
const LONG_ROWS: usize = (R_P - SHORT) / LONG;
const _: () = assert!(LONG_ROWS * LONG + SHORT == R_P && R_F == 8 && T == 3);
const _: () = assert!(2 + LONG_ROWS + 1 + 2 == ROWS_PER_PERMUTATION - 1);

/// What a row of a slot (`1..=16`, after its link row `0`) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Link,
    Full,
    Partial(usize),
}

fn row_kind(row: usize) -> RowKind {
    match row {
        0 => RowKind::Link,
        1 | 2 => RowKind::Full,
        r if r < 3 + LONG_ROWS => RowKind::Partial(LONG),
        r if r == 3 + LONG_ROWS => RowKind::Partial(SHORT),
        _ => RowKind::Full,
    }
}

/// The first round whose S-box input row `row` (`1..=16`) stores.
fn first_round(row: usize) -> usize {
    match row {
        1 | 2 => 2 * (row - 1),
        r if r <= 3 + LONG_ROWS => R_F / 2 + LONG * (r - 3),
        r => R_F / 2 + R_P + 2 * (r - 4 - LONG_ROWS),
    }
}

/// An affine function of a partial row's `[s1, s2, y0, .., y(K-1)]`.
#[derive(Debug, Clone)]
struct Affine {
    coefficients: Vec<Fr>,
    constant: Fr,
}

impl Affine {
    fn basis(index: usize, len: usize) -> Self {
        let mut coefficients = vec![Fr::zero(); len];
        coefficients[index] = Fr::one();
        Self { coefficients, constant: Fr::zero() }
    }

    fn mix(row: &[Fr; T], words: &[Affine; T], constant: Fr) -> Self {
        let len = words[0].coefficients.len();
        let coefficients = (0..len)
            .map(|i| (0..T).map(|j| row[j] * words[j].coefficients[i]).sum::<Fr>())
            .collect();
        let constant = (0..T).map(|j| row[j] * words[j].constant).sum::<Fr>() + constant;
        Self { coefficients, constant }
    }
}

/// `k` partial rounds from round `round`: the affine functions of `x_1 .. x_(k-1)` and of the
/// next row's three state words, over `[s1, s2, y0, .., y(k-1)]` (`round = None`: the
/// coefficients only, constants zero).
fn partial_functions(k: usize, round: Option<usize>) -> Vec<Affine> {
    let len = 2 + k;
    let m = native::mds();
    let mut words = [Affine::basis(2, len), Affine::basis(0, len), Affine::basis(1, len)];
    let mut out = Vec::with_capacity(k + 2);
    for step in 0..k {
        let constants = round.map_or([Fr::zero(); T], |r| rc(r + step + 1));
        let mixed: Vec<Affine> = (0..T).map(|i| Affine::mix(&m[i], &words, constants[i])).collect();
        if step + 1 < k {
            out.push(mixed[0].clone());
            words = [Affine::basis(3 + step, len), mixed[1].clone(), mixed[2].clone()];
        } else {
            out.extend(mixed);
        }
    }
    out
}

/// The fixed constants `k0..k6` of a row of a slot.
fn row_constants(row: usize) -> [Fr; CONSTANTS] {
    let mut out = [Fr::zero(); CONSTANTS];
    match row_kind(row) {
        RowKind::Link => out[..T].copy_from_slice(&rc(0)),
        RowKind::Full => {
            let r = first_round(row);
            out[..T].copy_from_slice(&rc(r + 1));
            out[T..2 * T].copy_from_slice(&rc(r + 2));
        }
        RowKind::Partial(k) => {
            for (slot, function) in out.iter_mut().zip(partial_functions(k, Some(first_round(row))))
            {
                *slot = function.constant;
            }
        }
    }
    out
}

/// The body rows `1..=16` of one permutation of `input` (swapped by `swap`) and its output.
fn permutation_rows(input: [Fr; T], swap: bool) -> (Vec<[Fr; COLUMNS_PER_SET]>, [Fr; T]) {
    let ordered = if swap { [input[0], input[2], input[1]] } else { input };
    let c = rc(0);
    let mut state = [0, 1, 2].map(|i| ordered[i] + c[i]);
    let mut rows = Vec::with_capacity(ROWS_PER_PERMUTATION - 1);
    for row in 1..ROWS_PER_PERMUTATION {
        let mut cells = [Fr::zero(); COLUMNS_PER_SET];
        let round = first_round(row);
        match row_kind(row) {
            RowKind::Full => {
                let s = state;
                let t = add(mds_apply(s.map(pow5)), rc(round + 1));
                let next = add(mds_apply(t.map(pow5)), rc(round + 2));
                for i in 0..T {
                    cells[i] = s[i];
                    cells[3 + i] = s[i].square();
                    cells[6 + i] = t[i];
                    cells[9 + i] = t[i].square();
                }
                state = next;
            }
            RowKind::Partial(k) => {
                cells[..T].copy_from_slice(&state);
                cells[3] = state[0].square();
                for step in 0..k {
                    if step > 0 {
                        cells[2 + 2 * step] = state[0];
                        cells[3 + 2 * step] = state[0].square();
                    }
                    let sboxed = [pow5(state[0]), state[1], state[2]];
                    state = add(mds_apply(sboxed), rc(round + step + 1));
                }
            }
            RowKind::Link => unreachable!("row 0 is the link row"),
        }
        rows.push(cells);
    }
    (rows, state)
}

fn add(a: [Fr; T], b: [Fr; T]) -> [Fr; T] {
    [0, 1, 2].map(|i| a[i] + b[i])
}

/// The columns and gate of the wide layout (see the module docs).
#[derive(Debug, Clone)]
pub struct WidePoseidonGateConfig {
    /// Column sets `w0..w11`.
    pub sets: Vec<[Column<Advice>; COLUMNS_PER_SET]>,
    /// Constants `k0..k6`, shared by every set.
    pub constants: [Column<Fixed>; CONSTANTS],
    /// Selectors `q_link, q_full, q_five, q_two`, shared by every set.
    pub selectors: [Column<Fixed>; 4],
    /// Per set, at its link rows: the capacity word of a fresh permutation and the flag of
    /// one that continues the slot before.
    pub starts: Vec<[Column<Fixed>; 2]>,
}

impl WidePoseidonGateConfig {
    /// Configures `num_sets` column sets (at least one).
    pub fn configure(meta: &mut ConstraintSystem<Fr>, num_sets: usize) -> Self {
        assert!(num_sets > 0, "a Poseidon gate needs at least one column set");
        let constants = [(); CONSTANTS].map(|_| meta.fixed_column());
        let selectors = [(); 4].map(|_| meta.fixed_column());
        let starts: Vec<[Column<Fixed>; 2]> =
            (0..num_sets).map(|_| [meta.fixed_column(), meta.fixed_column()]).collect();
        let sets: Vec<_> = (0..num_sets)
            .map(|_| {
                let columns = [(); COLUMNS_PER_SET].map(|_| meta.advice_column());
                // The digest in w1, the input words and the swap bit in w4..w6.
                for column in EQUALITY_COLUMNS.map(|i| columns[i]) {
                    meta.enable_equality(column);
                }
                columns
            })
            .collect();
        let m = *native::mds();
        let five = partial_functions(LONG, None);
        let two = partial_functions(SHORT, None);
        for (columns, start) in sets.iter().zip(&starts) {
            meta.create_gate("poseidon (wide)", |meta| {
                let [capacity, chain] = start.map(|col| meta.query_fixed(col, Rotation::cur()));
                let w = columns.map(|col| meta.query_advice(col, Rotation::cur()));
                let next = [0, 1, 2].map(|i| meta.query_advice(columns[i], Rotation::next()));
                let k = constants.map(|col| meta.query_fixed(col, Rotation::cur()));
                let [q_link, q_full, q_five, q_two] =
                    selectors.map(|col| meta.query_fixed(col, Rotation::cur()));
                let c = |x: Fr| Expression::Constant(x);
                let mut constraints: Vec<Expression<Fr>> = Vec::new();

                // Link row: swap bit, ordering, first round constants.
                let bit = w[6].clone();
                constraints.push(q_link.clone() * bit.clone() * (c(Fr::one()) - bit.clone()));
                let carried = chain.clone() * w[0].clone() + capacity;
                constraints.push(q_link.clone() * (next[0].clone() - carried - k[0].clone()));
                let first = w[4].clone() + bit.clone() * (w[5].clone() - w[4].clone());
                let carried = chain.clone() * w[1].clone();
                constraints
                    .push(q_link.clone() * (next[1].clone() - carried - first - k[1].clone()));
                let second = w[5].clone() + bit * (w[4].clone() - w[5].clone());
                let carried = chain * w[2].clone();
                constraints.push(q_link * (next[2].clone() - carried - second - k[2].clone()));

                // Two full rounds.
                let sbox =
                    |x: &Expression<Fr>, x2: &Expression<Fr>| x2.clone() * x2.clone() * x.clone();
                for i in 0..T {
                    constraints
                        .push(q_full.clone() * (w[3 + i].clone() - w[i].clone() * w[i].clone()));
                    constraints.push(
                        q_full.clone() * (w[9 + i].clone() - w[6 + i].clone() * w[6 + i].clone()),
                    );
                }
                let mixed = |i: usize, from: usize| {
                    (0..T)
                        .map(|j| c(m[i][j]) * sbox(&w[from + j], &w[from + 3 + j]))
                        .reduce(|a, b| a + b)
                        .expect("T > 0")
                };
                for i in 0..T {
                    constraints
                        .push(q_full.clone() * (w[6 + i].clone() - mixed(i, 0) - k[i].clone()));
                    constraints
                        .push(q_full.clone() * (next[i].clone() - mixed(i, 6) - k[T + i].clone()));
                }

                // Partial rounds: the S-box inputs and their squares, then the affine functions.
                for (q, rounds, functions) in [(&q_five, LONG, &five), (&q_two, SHORT, &two)] {
                    // x_0 = s0 in w0, its square in w3; x_j in w(2+2j), its square in w(3+2j).
                    let x = |j: usize| if j == 0 { w[0].clone() } else { w[2 + 2 * j].clone() };
                    let x2 = |j: usize| w[3 + 2 * j].clone();
                    let basis: Vec<Expression<Fr>> = [w[1].clone(), w[2].clone()]
                        .into_iter()
                        .chain((0..rounds).map(|j| sbox(&x(j), &x2(j))))
                        .collect();
                    let value = |f: &Affine, constant: Expression<Fr>| {
                        f.coefficients
                            .iter()
                            .zip(&basis)
                            .filter(|(a, _)| **a != Fr::zero())
                            .map(|(a, b)| c(*a) * b.clone())
                            .fold(constant, |acc, term| acc + term)
                    };
                    for j in 0..rounds {
                        constraints.push(q.clone() * (x2(j) - x(j) * x(j)));
                    }
                    for j in 1..rounds {
                        let f = &functions[j - 1];
                        constraints.push(q.clone() * (x(j) - value(f, k[j - 1].clone())));
                    }
                    for i in 0..T {
                        let f = &functions[rounds - 1 + i];
                        let constant = k[rounds - 1 + i].clone();
                        constraints.push(q.clone() * (next[i].clone() - value(f, constant)));
                    }
                }
                constraints
            });
        }
        Self { sets, constants, selectors, starts }
    }

    /// Slots (permutations) per column set with `usable_rows` rows.
    pub fn slots_per_set(usable_rows: usize) -> usize {
        usable_rows.saturating_sub(1) / ROWS_PER_PERMUTATION
    }

    /// Assigns `permutations` (placed by [`place`]) and the fixed columns, and ties inputs and
    /// outputs to their virtual cells. `copy_manager` is `None` only for witness generation
    /// without constraints. `tamper` changes one cell (tests only; its row counts from the
    /// slot's link row, 0, to its output row, 17).
    pub fn assign(
        &self,
        mut layouter: impl Layouter<Fr>,
        permutations: &[PermutationCells],
        usable_rows: usize,
        copy_manager: Option<&SharedCopyConstraintManager<Fr>>,
        tamper: Option<TamperCell>,
    ) {
        let slots = Self::slots_per_set(usable_rows);
        let placed = place(permutations, slots);
        let sets = placed.last().map_or(0, |(set, _)| set + 1);
        assert!(
            sets <= self.sets.len(),
            "{} permutations need {sets} column sets of {slots} slots, not {}",
            permutations.len(),
            self.sets.len()
        );
        // Per set and slot: the permutation laid out there.
        let mut occupant = vec![vec![None; slots]; self.sets.len()];
        for (index, (set, slot)) in placed.iter().enumerate() {
            occupant[*set][*slot] = Some(index);
        }
        layouter
            .assign_region(
                || "poseidon permutations (wide)",
                |mut region| {
                    let starts: Vec<Vec<Option<Fr>>> = occupant
                        .iter()
                        .map(|set| {
                            set.iter()
                                .map(|p| p.map_or(Some(Fr::zero()), |i| permutations[i].capacity))
                                .collect()
                        })
                        .collect();
                    debug_assert_eq!(starts.len(), self.starts.len());
                    self.assign_fixed(&mut region, &starts);
                    let mut copy_manager = copy_manager.map(|c| c.lock().unwrap());
                    let dummy = permutation_rows([Fr::zero(); T], false);
                    for (set, columns) in self.sets.iter().enumerate() {
                        // The rounds of the set's permutations, computed in parallel (most of
                        // the region's time); laid out in order below.
                        let computed: Vec<_> = occupant[set]
                            .par_iter()
                            .map(|index| {
                                index.map(|i| {
                                    let p = &permutations[i];
                                    permutation_rows(p.state, *p.swap.value() == Fr::one())
                                })
                            })
                            .collect();
                        let mut rows =
                            vec![[Fr::zero(); COLUMNS_PER_SET]; 1 + slots * ROWS_PER_PERMUTATION];
                        for (slot, (index, laid_out)) in
                            occupant[set].iter().zip(&computed).enumerate()
                        {
                            let base = slot * ROWS_PER_PERMUTATION;
                            if let Some(i) = index {
                                let p = &permutations[*i];
                                if p.capacity.is_none() {
                                    let previous = [0, 1, 2].map(|j| rows[base][j]);
                                    let absorbed =
                                        [Fr::zero(), *p.input[1].value(), *p.input[2].value()];
                                    assert_eq!(
                                        p.state,
                                        [0, 1, 2].map(|j| previous[j] + absorbed[j]),
                                        "a continuing permutation follows its sponge's previous one"
                                    );
                                }
                                rows[base][4] = *p.input[1].value();
                                rows[base][5] = *p.input[2].value();
                                rows[base][6] = *p.swap.value();
                            }
                            let (body, output) = laid_out.as_ref().unwrap_or(&dummy);
                            rows[base + 1..base + ROWS_PER_PERMUTATION].copy_from_slice(body);
                            rows[base + ROWS_PER_PERMUTATION][..T].copy_from_slice(output);
                        }
                        if let Some(t) = tamper {
                            if let Some(&(tset, tslot)) = placed.get(t.slot) {
                                if tset == set {
                                    rows[tslot * ROWS_PER_PERMUTATION + t.row][t.column] +=
                                        Fr::one();
                                }
                            }
                        }
                        let cells: Vec<[Cell; COLUMNS_PER_SET]> = rows
                            .iter()
                            .enumerate()
                            .map(|(offset, values)| {
                                assign_row(&mut region, columns, offset, values)
                            })
                            .collect();
                        let Some(copy_manager) = copy_manager.as_mut() else { continue };
                        for (slot, index) in occupant[set].iter().enumerate() {
                            let Some(i) = index else { continue };
                            let permutation = &permutations[*i];
                            assert!(
                                permutation.output[0].is_none() && permutation.output[2].is_none(),
                                "the wide layout copies out only the digest word"
                            );
                            let base = slot * ROWS_PER_PERMUTATION;
                            let link = &cells[base];
                            let output = &cells[base + ROWS_PER_PERMUTATION];
                            let inputs = [None, Some(link[4]), Some(link[5]), Some(link[6])];
                            permutation.tie(&mut region, inputs, &output[..T], copy_manager);
                        }
                    }
                    Ok(())
                },
            )
            .expect("the Poseidon region assigns");
    }

    /// The fixed columns; `starts[set][slot]` is the slot's capacity word, `None` when it
    /// continues the slot before (unlisted slots: empty, capacity zero).
    fn assign_fixed(&self, region: &mut Region<'_, Fr>, starts: &[Vec<Option<Fr>>]) {
        let constants: Vec<[Fr; CONSTANTS]> =
            (0..ROWS_PER_PERMUTATION).map(row_constants).collect();
        let slots = starts.iter().map(Vec::len).max().unwrap_or(0);
        for slot in 0..slots {
            for (row, row_constants) in constants.iter().enumerate() {
                let offset = slot * ROWS_PER_PERMUTATION + row;
                for (column, value) in self.constants.iter().zip(row_constants) {
                    raw_assign_fixed(region, *column, offset, *value);
                }
                let selector = match row_kind(row) {
                    RowKind::Link => 0,
                    RowKind::Full => 1,
                    RowKind::Partial(LONG) => 2,
                    RowKind::Partial(_) => 3,
                };
                for (i, column) in self.selectors.iter().enumerate() {
                    let on = if selector == i { Fr::one() } else { Fr::zero() };
                    raw_assign_fixed(region, *column, offset, on);
                }
            }
            for (columns, set_starts) in self.starts.iter().zip(starts) {
                let start = set_starts.get(slot).copied().unwrap_or(Some(Fr::zero()));
                let (capacity, chain) = match start {
                    Some(capacity) => (capacity, Fr::zero()),
                    None => (Fr::zero(), Fr::one()),
                };
                raw_assign_fixed(region, columns[0], slot * ROWS_PER_PERMUTATION, capacity);
                raw_assign_fixed(region, columns[1], slot * ROWS_PER_PERMUTATION, chain);
            }
        }
    }
}

/// Where each permutation goes, `(set, slot)`: in order, slot after slot, except that a sponge
/// (a fresh permutation and the ones that continue it) never straddles two sets — one that
/// would is moved whole to the next set's first slot.
pub fn place(permutations: &[PermutationCells], slots: usize) -> Vec<(usize, usize)> {
    assert!(slots > 0, "a column set holds at least one permutation");
    let mut placed = Vec::with_capacity(permutations.len());
    let (mut set, mut slot) = (0, 0);
    let mut i = 0;
    while i < permutations.len() {
        let run = 1 + permutations[i + 1..].iter().take_while(|p| p.capacity.is_none()).count();
        assert!(run <= slots, "a sponge of {run} permutations exceeds a column set");
        if slot + run > slots {
            (set, slot) = (set + 1, 0);
        }
        for _ in 0..run {
            placed.push((set, slot));
            slot += 1;
        }
        i += run;
    }
    placed
}

/// Column sets [`place`] fills with `permutations` at `usable_rows` rows.
pub fn sets_needed(permutations: &[PermutationCells], usable_rows: usize) -> usize {
    let slots = WidePoseidonGateConfig::slots_per_set(usable_rows);
    place(permutations, slots).last().map_or(0, |(set, _)| set + 1)
}

fn assign_row(
    region: &mut Region<'_, Fr>,
    columns: &[Column<Advice>; COLUMNS_PER_SET],
    offset: usize,
    values: &[Fr; COLUMNS_PER_SET],
) -> [Cell; COLUMNS_PER_SET] {
    std::array::from_fn(|i| {
        raw_assign_advice(region, columns[i], offset, Value::known(values[i])).cell()
    })
}

/// Whether cell `(row, column)` of a slot (rows from its link row, 0, to its output row, 17)
/// holds a value the permutation uses; the others are unused and unconstrained.
pub fn cell_is_used(row: usize, column: usize) -> bool {
    match row {
        0 => (4..7).contains(&column),
        ROWS_PER_PERMUTATION => column < T,
        r => match row_kind(r) {
            RowKind::Partial(k) => column < 2 + 2 * k,
            _ => column < COLUMNS_PER_SET,
        },
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
            let (rows, output) = permutation_rows(input, swap);
            assert_eq!(rows.len(), ROWS_PER_PERMUTATION - 1);
            let mut expected = if swap { [input[0], input[2], input[1]] } else { input };
            native::permute(&mut expected);
            assert_eq!(output, expected);
        }
    }

    #[test]
    fn rows_cover_every_round_once() {
        let mut rounds = Vec::new();
        for row in 1..ROWS_PER_PERMUTATION {
            let r = first_round(row);
            let count = match row_kind(row) {
                RowKind::Full => 2,
                RowKind::Partial(k) => k,
                RowKind::Link => unreachable!(),
            };
            for round in r..r + count {
                assert_eq!(
                    native::is_full_round(round),
                    row_kind(row) == RowKind::Full,
                    "row {row}"
                );
                rounds.push(round);
            }
        }
        assert_eq!(rounds, (0..R_F + R_P).collect::<Vec<_>>());
    }

    /// The rows of one slot (link, body, output link) derived cell by cell from the gate's own
    /// relations, each cell from the cells before it, with one added to cell `inject` right
    /// after it is derived: every later cell follows the changed one, so exactly the relation
    /// that defines `inject` is broken.
    fn derive_rows(
        input: [Fr; T],
        swap: Fr,
        inject: Option<(usize, usize)>,
    ) -> Vec<[Fr; COLUMNS_PER_SET]> {
        let m = native::mds();
        let mut rows = vec![[Fr::zero(); COLUMNS_PER_SET]; ROWS_PER_PERMUTATION + 1];
        let set = |rows: &mut Vec<[Fr; COLUMNS_PER_SET]>, r: usize, c: usize, v: Fr| {
            rows[r][c] = if inject == Some((r, c)) { v + Fr::one() } else { v };
        };
        // A fresh permutation: its capacity word input[0] is the gate's constant.
        set(&mut rows, 0, 4, input[1]);
        set(&mut rows, 0, 5, input[2]);
        set(&mut rows, 0, 6, swap);
        let sbox = |x: Fr, x2: Fr| x2 * x2 * x;
        for r in 1..=ROWS_PER_PERMUTATION {
            let p = rows[r - 1];
            let k = row_constants(r - 1);
            // This row's state: the previous row's `next`.
            let next: [Fr; T] = match row_kind(r - 1) {
                RowKind::Link => {
                    let b = p[6];
                    [
                        input[0] + k[0],
                        p[4] + b * (p[5] - p[4]) + k[1],
                        p[5] + b * (p[4] - p[5]) + k[2],
                    ]
                }
                RowKind::Full => [0, 1, 2].map(|i| {
                    (0..T).map(|j| m[i][j] * sbox(p[6 + j], p[9 + j])).sum::<Fr>() + k[T + i]
                }),
                RowKind::Partial(n) => {
                    let functions = partial_functions(n, None);
                    let basis: Vec<Fr> = [p[1], p[2], sbox(p[0], p[3])]
                        .into_iter()
                        .chain((1..n).map(|j| sbox(p[2 + 2 * j], p[3 + 2 * j])))
                        .collect();
                    [0, 1, 2].map(|i| {
                        let f = &functions[n - 1 + i];
                        f.coefficients.iter().zip(&basis).map(|(a, b)| *a * b).sum::<Fr>()
                            + k[n - 1 + i]
                    })
                }
            };
            for (i, value) in next.iter().enumerate() {
                set(&mut rows, r, i, *value);
            }
            if r == ROWS_PER_PERMUTATION {
                break;
            }
            let k = row_constants(r);
            match row_kind(r) {
                RowKind::Full => {
                    for i in 0..T {
                        let v = rows[r][i].square();
                        set(&mut rows, r, 3 + i, v);
                    }
                    for i in 0..T {
                        let c = &rows[r];
                        let v = (0..T).map(|j| m[i][j] * sbox(c[j], c[3 + j])).sum::<Fr>() + k[i];
                        set(&mut rows, r, 6 + i, v);
                    }
                    for i in 0..T {
                        let v = rows[r][6 + i].square();
                        set(&mut rows, r, 9 + i, v);
                    }
                }
                RowKind::Partial(n) => {
                    let v = rows[r][0].square();
                    set(&mut rows, r, 3, v);
                    let functions = partial_functions(n, None);
                    for j in 1..n {
                        let c = rows[r];
                        let basis: Vec<Fr> = [c[1], c[2], sbox(c[0], c[3])]
                            .into_iter()
                            .chain((1..j).map(|l| sbox(c[2 + 2 * l], c[3 + 2 * l])))
                            .collect();
                        let f = &functions[j - 1];
                        let v = f.coefficients.iter().zip(&basis).map(|(a, b)| *a * b).sum::<Fr>()
                            + k[j - 1];
                        set(&mut rows, r, 2 + 2 * j, v);
                        let v = rows[r][2 + 2 * j].square();
                        set(&mut rows, r, 3 + 2 * j, v);
                    }
                }
                RowKind::Link => unreachable!("rows 1..=16 are the body"),
            }
        }
        rows
    }

    /// One column set with one slot of a fresh permutation of the given capacity word, laid out
    /// from given rows, no copy constraints: only the gate can object.
    struct GateOnly(Vec<[Fr; COLUMNS_PER_SET]>, Fr);

    impl halo2_base::halo2_proofs::plonk::Circuit<Fr> for GateOnly {
        type Config = WidePoseidonGateConfig;
        type FloorPlanner = halo2_base::halo2_proofs::circuit::SimpleFloorPlanner;
        type Params = ();

        fn without_witnesses(&self) -> Self {
            Self(vec![], self.1)
        }

        fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
            WidePoseidonGateConfig::configure(meta, 1)
        }

        fn synthesize(
            &self,
            config: Self::Config,
            mut layouter: impl Layouter<Fr>,
        ) -> Result<(), halo2_base::halo2_proofs::plonk::Error> {
            layouter.assign_region(
                || "one slot",
                |mut region| {
                    config.assign_fixed(&mut region, &[vec![Some(self.1)]]);
                    for (offset, values) in self.0.iter().enumerate() {
                        assign_row(&mut region, &config.sets[0], offset, values);
                    }
                    Ok(())
                },
            )
        }
    }

    fn gate_accepts(rows: Vec<[Fr; COLUMNS_PER_SET]>, capacity: Fr) -> bool {
        halo2_base::halo2_proofs::dev::MockProver::run(7, &GateOnly(rows, capacity), vec![])
            .expect("the circuit synthesizes")
            .verify()
            .is_ok()
    }

    /// Every relation of the gate is there: a witness that breaks exactly one (one cell changed,
    /// every later cell derived from it) is refused, for every cell the gate defines (all but
    /// the inputs, which copy constraints pin); the honest one is accepted, and its output is
    /// the native permutation's.
    #[test]
    fn every_relation_of_the_gate_is_enforced() {
        let input = [Fr::from(3), Fr::from(1), Fr::from(4)];
        let honest = derive_rows(input, Fr::one(), None);
        let mut expected = [input[0], input[2], input[1]];
        native::permute(&mut expected);
        assert_eq!(honest[ROWS_PER_PERMUTATION][..T], expected);
        assert!(gate_accepts(honest, input[0]));
        let mut checked = 0;
        for row in 0..=ROWS_PER_PERMUTATION {
            for column in 0..COLUMNS_PER_SET {
                let input_cell = row == 0 && (4..6).contains(&column);
                if input_cell || !cell_is_used(row, column) {
                    continue;
                }
                let rows = derive_rows(input, Fr::one(), Some((row, column)));
                assert!(
                    !gate_accepts(rows, input[0]),
                    "a changed cell ({row}, {column}) was accepted"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 1 + 2 * 12 + LONG_ROWS * 12 + 6 + 2 * 12 + 3);
    }

    /// A sponge never straddles two column sets: one that would is moved whole to the next.
    #[test]
    fn sponges_stay_in_one_column_set() {
        let cell = halo2_base::AssignedValue {
            value: halo2_base::halo2_proofs::plonk::Assigned::Trivial(Fr::zero()),
            cell: None,
        };
        let p = |capacity: Option<Fr>| PermutationCells {
            input: [cell; T],
            swap: cell,
            output: [None; T],
            state: [Fr::zero(); T],
            capacity,
        };
        let (fresh, more) = (p(Some(Fr::one())), p(None));
        // Slots of 4: a single, a sponge of three, a sponge of two (moved), singles.
        let permutations = [fresh, fresh, more, more, fresh, more, fresh, fresh];
        assert_eq!(
            place(&permutations, 4),
            [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)]
        );
        let permutations = [fresh, fresh, fresh, fresh, more, fresh];
        assert_eq!(place(&permutations, 4), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }

    /// The affine functions the gate fixes reproduce the rows the witness computes.
    #[test]
    fn partial_functions_reproduce_the_rows() {
        let (rows, _) = permutation_rows([Fr::from(3), Fr::from(1), Fr::from(4)], false);
        for (i, cells) in rows.iter().enumerate() {
            let row = i + 1;
            let RowKind::Partial(k) = row_kind(row) else { continue };
            let y = |j: usize| pow5(if j == 0 { cells[0] } else { cells[2 + 2 * j] });
            let basis: Vec<Fr> = [cells[1], cells[2]].into_iter().chain((0..k).map(y)).collect();
            let eval = |f: &Affine| {
                f.coefficients.iter().zip(&basis).map(|(a, b)| *a * b).sum::<Fr>() + f.constant
            };
            let functions = partial_functions(k, Some(first_round(row)));
            for j in 1..k {
                assert_eq!(eval(&functions[j - 1]), cells[2 + 2 * j], "row {row}, x{j}");
            }
            let next = rows[i + 1];
            for t in 0..T {
                assert_eq!(eval(&functions[k - 1 + t]), next[t], "row {row}, next {t}");
            }
            let constants = row_constants(row);
            for (f, c) in functions.iter().zip(constants) {
                assert_eq!(f.constant, c);
            }
        }
    }
}
