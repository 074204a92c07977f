//! Sorted leaf writes (`"top_levels"` of a configuration): the split layout's leaf writes
//! proven together, in leaf-index order, against a top tree hashed once per batch, instead of
//! each write hashing its whole path twice.
//!
//! # Why
//! A write on the `L` written levels (`active_depth`) hashes `2·L` permutations: its old path to
//! check the old leaf, its new path to reach the next root. Consecutive writes in slot order
//! land anywhere in the tree, so every path is hashed to the top. Sorted by leaf index, the
//! writes that fall in one subtree of height `h = L − T` come one after another: each write
//! hashes only its `h` lower levels, twice, and the `2^T` subtree roots are hashed into the
//! prefix root once before the batch and once after it. At `n1024` (321 writes, `L = 19`,
//! `T = 8`) that is `321 · 22 + 2 · 255 = 7,572` permutations instead of `321 · 38 = 12,198`.
//!
//! # What is constrained
//! The account, link and sentinel slots record each write `(index, old leaf, new leaf)` in slot
//! order (position `p`) as two table rows of the dynamic lookup, keyed
//! `OLD·2^240 + index·2^16 + p` and `NEW·2^240 + index·2^16 + p`. [`settle`] then:
//! 1. loads the `2^T` subtree roots before the batch as table rows (`TOP·2^240 + j`) and
//!    hashes them into the prefix root the batch starts from;
//! 2. walks the writes in sorted order: each takes a position `p` (16 bits) and an index
//!    (`L` bits, its path's turns), looks up its old and new leaf under its key, and the keys
//!    strictly increase — so the sorted writes are exactly the recorded ones, each once, and
//!    two writes of one leaf keep their slot order. A write's old leaf, hashed up its `h`
//!    levels, must reach its subtree's current root: the previous write's new subtree root when
//!    the previous write is in the same subtree, else the root before the batch (looked up
//!    under `TOP·2^240 + j`). Its new leaf, up the same siblings, is the subtree's new root;
//! 3. the last write of each subtree run writes the row `END·2^240 + j → root` (other writes a
//!    row under their own `SPARE` key, never looked up); each subtree `j` of the top tree is
//!    either untouched (its root before is kept) or looks up its run's final root, and the
//!    number of touched subtrees equals the number of runs. Runs have distinct `j` (the indices
//!    increase), so the touched subtrees are exactly the written ones;
//! 4. hashes the roots after into the prefix root the batch ends at.
//!
//! Only the order of the writes changes, not their effect: writes to different leaves commute,
//! and writes to one leaf keep their slot order, so every write sees the same old leaf as in
//! slot order and the tree ends the same. The circuit is single-phase: the dynamic lookup is
//! halo2's own lookup argument on fixed-shape columns.

use std::collections::HashMap;

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    utils::ScalarField,
    AssignedValue, Context,
    QuantumCell::Constant,
};
use merit_core::{account_tree::AccountTree, poseidon};

use crate::{
    account_tree::{merkle_root, write_leaf},
    builder::TableLookups,
    fixed_point::pow2,
    poseidon::PoseidonChip,
};

/// Bits of a write's position in slot order (the table keys' lowest part).
pub const POSITION_BITS: usize = 16;

/// Table tags, in bits 240 and up of a key (other tables' keys stay below `2^236`).
const OLD: u64 = 1;
const NEW: u64 = 2;
const TOP: u64 = 3;
const END: u64 = 4;
const SPARE: u64 = 5;
const NONE: u64 = 6;

fn tagged(tag: u64, low: u64) -> Fr {
    Fr::from(tag) * pow2(240) + Fr::from(low)
}

/// A leaf write recorded by a slot, proven later by [`settle`].
#[derive(Debug, Clone, Copy)]
pub struct PendingWrite {
    /// The leaf index (decomposed into the written levels by [`settle`]).
    pub index: AssignedValue<Fr>,
    /// The leaf's hash before the write (zero for an empty leaf).
    pub old: AssignedValue<Fr>,
    /// The leaf's hash after the write.
    pub new: AssignedValue<Fr>,
}

/// The leaf writes of the account slots: chained (each write proves its path from the running
/// root, [`write_leaf`]) or deferred to [`settle`].
#[derive(Debug, Clone)]
pub enum LeafWrites {
    /// The root after the writes so far.
    Chained(AssignedValue<Fr>),
    /// The writes so far, in slot order.
    Deferred(Vec<PendingWrite>),
}

impl LeafWrites {
    /// Writes starting from `root`, deferred when `deferred`.
    pub fn start(root: AssignedValue<Fr>, deferred: bool) -> Self {
        if deferred {
            Self::Deferred(Vec::new())
        } else {
            Self::Chained(root)
        }
    }

    /// The leaf at `index` goes from `old` to `new`; `siblings` (the path in slot order) are
    /// only used when chained.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        ctx: &mut Context<Fr>,
        range: &RangeChip<Fr>,
        poseidon: &mut PoseidonChip,
        index: AssignedValue<Fr>,
        (old, new): (AssignedValue<Fr>, AssignedValue<Fr>),
        siblings: &[Fr],
    ) {
        match self {
            Self::Chained(root) => {
                *root = write_leaf(ctx, range, poseidon, *root, index, (old, new), siblings);
            }
            Self::Deferred(writes) => writes.push(PendingWrite { index, old, new }),
        }
    }

    /// The running root of chained writes.
    pub fn chained_root(&self) -> Option<AssignedValue<Fr>> {
        match self {
            Self::Chained(root) => Some(*root),
            Self::Deferred(_) => None,
        }
    }
}

/// The witness of [`settle`]: the writes' sorted order and the paths in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedWrites {
    /// Slot-order positions of the writes, sorted by `(index, position)`.
    pub order: Vec<usize>,
    /// Each sorted write's `h` lower siblings in the tree as the sorted writes before it left it.
    pub siblings: Vec<Vec<Fr>>,
    /// The `2^T` subtree roots before the batch.
    pub roots_before: Vec<Fr>,
    /// The `2^T` subtree roots after the batch.
    pub roots_after: Vec<Fr>,
    /// Whether a write falls in subtree `j`.
    pub touched: Vec<bool>,
}

/// Why the sorted writes cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SortedWritesError {
    /// The levels do not split into a top tree and subtrees of the tree.
    #[error("{top} top levels do not split {levels} written levels of a depth-{depth} tree")]
    Levels {
        /// Top levels `T`.
        top: usize,
        /// Written levels `L`.
        levels: usize,
        /// The tree's depth.
        depth: usize,
    },
    /// More writes than positions.
    #[error("{0} leaf writes exceed the {POSITION_BITS}-bit positions")]
    Positions(usize),
    /// A write outside the written levels or the tree.
    #[error("leaf write at index {index}: {reason}")]
    Index {
        /// The index.
        index: u64,
        /// Why.
        reason: String,
    },
}

impl SortedWrites {
    /// Replays `writes` (`(index, new leaf hash)` in slot order) on `tree` (the tree before the
    /// batch) in sorted order, with `levels` written levels of which the top `top` form the
    /// top tree.
    pub fn plan(
        tree: &AccountTree,
        (levels, top): (usize, usize),
        writes: &[(u64, Fr)],
    ) -> Result<Self, SortedWritesError> {
        if top == 0 || top >= levels || levels > tree.depth() {
            return Err(SortedWritesError::Levels { top, levels, depth: tree.depth() });
        }
        if writes.len() >= 1 << POSITION_BITS {
            return Err(SortedWritesError::Positions(writes.len()));
        }
        let height = levels - top;
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by_key(|&p| (writes[p].0, p));
        // The nodes changed so far, up to the subtrees' roots, over the tree before the batch:
        // each write hashes `height` levels, and the tree is neither cloned nor rehashed above.
        let mut changed: HashMap<(usize, u64), Fr> = HashMap::new();
        let node = |changed: &HashMap<(usize, u64), Fr>, height: usize, index: u64| {
            changed.get(&(height, index)).copied().unwrap_or_else(|| tree.node(height, index))
        };
        let roots_before: Vec<Fr> = (0..1u64 << top).map(|j| tree.node(height, j)).collect();
        let mut siblings = Vec::with_capacity(order.len());
        let mut touched = vec![false; 1 << top];
        for &p in &order {
            let (index, leaf) = writes[p];
            if index >> levels != 0 {
                return Err(SortedWritesError::Index {
                    index,
                    reason: format!("beyond the {levels} written levels"),
                });
            }
            let path: Vec<Fr> = (0..height).map(|h| node(&changed, h, (index >> h) ^ 1)).collect();
            let mut value = leaf;
            changed.insert((0, index), value);
            for (h, sibling) in path.iter().enumerate() {
                value = match (index >> h) & 1 {
                    0 => poseidon::hash2(value, *sibling),
                    _ => poseidon::hash2(*sibling, value),
                };
                changed.insert((h + 1, index >> (h + 1)), value);
            }
            siblings.push(path);
            touched[(index >> height) as usize] = true;
        }
        let roots_after = (0..1u64 << top).map(|j| node(&changed, height, j)).collect();
        Ok(Self { order, siblings, roots_before, roots_after, touched })
    }
}

/// The root of the complete binary tree over `leaves` (a power of two of them).
fn top_root(
    ctx: &mut Context<Fr>,
    poseidon: &mut PoseidonChip,
    leaves: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|pair| poseidon.hash2(ctx, pair[0], pair[1])).collect();
    }
    level[0]
}

/// Proves the deferred `writes` (slot order) from the prefix root `before` and returns the
/// prefix root after them (see the module docs); `levels` written levels, `top` of them in the
/// top tree.
#[allow(clippy::too_many_arguments)]
pub fn settle(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    poseidon: &mut PoseidonChip,
    before: AssignedValue<Fr>,
    writes: &[PendingWrite],
    sorted: &SortedWrites,
    (levels, top): (usize, usize),
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    let height = levels - top;
    assert_eq!(sorted.order.len(), writes.len(), "one sorted write per recorded write");
    assert!(writes.len() < 1 << POSITION_BITS, "positions fit {POSITION_BITS} bits");
    let shift = Constant(pow2(POSITION_BITS as u32));

    // Each recorded write as two rows keyed by its index and position.
    for (p, write) in writes.iter().enumerate() {
        for (tag, value) in [(OLD, write.old), (NEW, write.new)] {
            let key = gate.mul_add(ctx, write.index, shift, Constant(tagged(tag, p as u64)));
            tables.add_row(key, value);
        }
    }

    // The subtree roots before, as rows, hashed into `before`.
    let roots_before = ctx.assign_witnesses(sorted.roots_before.iter().copied());
    for (j, root) in roots_before.iter().enumerate() {
        let key = ctx.load_constant(tagged(TOP, j as u64));
        tables.add_row(key, *root);
    }
    let root = top_root(ctx, poseidon, &roots_before);
    ctx.constrain_equal(&root, &before);

    // The writes in sorted order.
    let subtree_weights: Vec<_> = (0..top).map(|i| Constant(pow2(i as u32))).collect();
    let mut runs: Vec<(AssignedValue<Fr>, AssignedValue<Fr>)> = Vec::with_capacity(writes.len());
    let mut continues: Vec<AssignedValue<Fr>> = Vec::with_capacity(writes.len());
    let mut previous_key: Option<AssignedValue<Fr>> = None;
    for (w, &p) in sorted.order.iter().enumerate() {
        let recorded = &writes[p];
        let [index, position, old, new]: [AssignedValue<Fr>; 4] = ctx
            .assign_witnesses([
                *recorded.index.value(),
                Fr::from(p as u64),
                *recorded.old.value(),
                *recorded.new.value(),
            ])
            .try_into()
            .expect("four values");
        range.range_check(ctx, position, POSITION_BITS);
        let bits = gate.num_to_bits(ctx, index, levels);
        let key = gate.mul_add(ctx, index, shift, position);
        for (tag, value) in [(OLD, old), (NEW, new)] {
            let tagged_key = gate.add(ctx, key, Constant(tagged(tag, 0)));
            tables.lookup(tagged_key, value);
        }
        // Strictly increasing keys: the sorted writes are the recorded ones, each once.
        if let Some(previous) = previous_key {
            let gap = gate.sub(ctx, key, previous);
            let gap = gate.sub(ctx, gap, Constant(Fr::one()));
            range.range_check(ctx, gap, levels + POSITION_BITS);
        }
        previous_key = Some(key);

        let siblings = ctx.assign_witnesses(sorted.siblings[w].iter().copied());
        let old_root = merkle_root(ctx, poseidon, old, &bits[..height], &siblings);
        let new_root = merkle_root(ctx, poseidon, new, &bits[..height], &siblings);
        let subtree =
            gate.inner_product(ctx, bits[height..].iter().copied(), subtree_weights.clone());
        let j = subtree.value().get_lower_64() as usize;
        let start = ctx.load_witness(sorted.roots_before.get(j).copied().unwrap_or_default());
        let top_key = gate.add(ctx, subtree, Constant(tagged(TOP, 0)));
        tables.lookup(top_key, start);
        let current = match runs.last() {
            None => start,
            Some(&(previous_subtree, previous_root)) => {
                let same = gate.is_equal(ctx, subtree, previous_subtree);
                continues.push(same);
                gate.select(ctx, previous_root, start, same)
            }
        };
        ctx.constrain_equal(&old_root, &current);
        runs.push((subtree, new_root));
    }

    // The last write of each run publishes its subtree's final root.
    let none_key = ctx.load_constant(tagged(NONE, 0));
    let zero = ctx.load_zero();
    tables.add_row(none_key, zero);
    let mut run_count = ctx.load_zero();
    for (w, &(subtree, root)) in runs.iter().enumerate() {
        let last = match continues.get(w) {
            Some(same) => gate.not(ctx, *same),
            None => ctx.load_constant(Fr::one()),
        };
        run_count = gate.add(ctx, run_count, last);
        let end_key = gate.add(ctx, subtree, Constant(tagged(END, 0)));
        let key = gate.select(ctx, end_key, Constant(tagged(SPARE, w as u64)), last);
        tables.add_row(key, root);
    }

    // Each subtree of the top tree: untouched, or its run's final root.
    let mut touched_count = ctx.load_zero();
    let mut roots_after = Vec::with_capacity(roots_before.len());
    for (j, before) in roots_before.iter().enumerate() {
        let touched = ctx.load_witness(Fr::from(u64::from(sorted.touched[j])));
        gate.assert_bit(ctx, touched);
        touched_count = gate.add(ctx, touched_count, touched);
        let after = ctx.load_witness(sorted.roots_after[j]);
        let key =
            gate.select(ctx, Constant(tagged(END, j as u64)), Constant(tagged(NONE, 0)), touched);
        let value = gate.mul(ctx, after, touched);
        tables.lookup(key, value);
        roots_after.push(gate.select(ctx, after, *before, touched));
    }
    ctx.constrain_equal(&touched_count, &run_count);
    top_root(ctx, poseidon, &roots_after)
}
