//! The account-tree chip: one touched account's update in the indexed Poseidon tree
//! (`merit_core::account_tree`), constrained from merit-core's trace.
//!
//! Every account slot of the batch circuit has the same shape, two leaf writes:
//! 1. the **low write**: for a new account, its predecessor leaf `p` (proven in the tree) with
//!    `p.address < address` and (`p.next = 0` or `address < p.next`) moves `p.next` to
//!    `address` — this proves the address had no leaf; for an existing account it rewrites the
//!    account's own leaf unchanged (a no-op that keeps the layout uniform);
//! 2. the **leaf write**: an existing account's leaf goes from
//!    `(address, c, n, next)` to `(address, c + reward_sum, new_nonce, next)`; a new account's
//!    empty leaf at exactly `next_index` becomes `(address, reward_sum, new_nonce, p.next)`.
//!
//! Cost with halo2-base's stock Poseidon: about `2 · (2 · depth + 2)` hashes per account; the
//! dedicated Poseidon gate and batched path updates are the planned levers (see DESIGN.md).

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    AssignedValue, Context,
};
use merit_core::{
    account_tree::{zero_hashes, AccountLeaf},
    batch::{AccountUpdate, LeafUpdate},
    field::{fr_from_address, fr_from_u128},
    State, MAX_CUMULATIVE,
};

use crate::{poseidon::PoseidonChip, sorted_writes::LeafWrites};

/// Bits of an address.
pub const ADDRESS_BITS: usize = 160;
/// Bits of a cumulative reward (`MAX_CUMULATIVE = 2^96 - 1`).
pub const CUMULATIVE_BITS: usize = 96;
const _: () = assert!(MAX_CUMULATIVE == (1u128 << CUMULATIVE_BITS) - 1);

/// A leaf preimage as witnesses.
#[derive(Debug, Clone, Copy)]
pub struct AssignedLeaf {
    /// Address.
    pub address: AssignedValue<Fr>,
    /// Cumulative reward.
    pub cumulative: AssignedValue<Fr>,
    /// Last nonce.
    pub last_nonce: AssignedValue<Fr>,
    /// Next larger address, or zero.
    pub next: AssignedValue<Fr>,
}

/// Loads a leaf preimage (all zeros for `None`).
pub fn load_leaf(ctx: &mut Context<Fr>, leaf: Option<&AccountLeaf>) -> AssignedLeaf {
    let [address, cumulative, last_nonce, next] = leaf.map_or([Fr::zero(); 4], |l| {
        [
            fr_from_address(l.address),
            fr_from_u128(l.cumulative),
            Fr::from(l.last_nonce),
            fr_from_address(l.next),
        ]
    });
    let [address, cumulative, last_nonce, next] = ctx
        .assign_witnesses([address, cumulative, last_nonce, next])
        .try_into()
        .expect("four values");
    AssignedLeaf { address, cumulative, last_nonce, next }
}

/// `Poseidon(address, cumulative, last_nonce, next)`.
pub fn leaf_hash(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    leaf: &AssignedLeaf,
) -> AssignedValue<Fr> {
    poseidon.hash(ctx, &range.gate, &[leaf.address, leaf.cumulative, leaf.last_nonce, leaf.next])
}

/// The root reached from `leaf` along `siblings`, turning by the little-endian `index_bits`
/// (bit = 1: the node is a right child; the Poseidon gate orders the pair).
pub fn merkle_root(
    ctx: &mut Context<Fr>,
    poseidon: &mut PoseidonChip,
    leaf: AssignedValue<Fr>,
    index_bits: &[AssignedValue<Fr>],
    siblings: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    index_bits
        .iter()
        .zip(siblings)
        .fold(leaf, |node, (bit, sibling)| poseidon.merkle_parent(ctx, node, *sibling, *bit))
}

/// Constrains one leaf write: `old_leaf` at `index` is in the tree of root `root`, and returns
/// the root with `new_leaf` there instead (same path).
pub fn write_leaf(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    root: AssignedValue<Fr>,
    index: AssignedValue<Fr>,
    (old_leaf, new_leaf): (AssignedValue<Fr>, AssignedValue<Fr>),
    siblings: &[Fr],
) -> AssignedValue<Fr> {
    let bits = range.gate.num_to_bits(ctx, index, siblings.len());
    let siblings = ctx.assign_witnesses(siblings.iter().copied());
    let old_root = merkle_root(ctx, poseidon, old_leaf, &bits, &siblings);
    ctx.constrain_equal(&old_root, &root);
    merkle_root(ctx, poseidon, new_leaf, &bits, &siblings)
}

/// The root of the tree's first `2^levels` leaves (the subtree at height `levels` on the left
/// edge): the account slots' starting root when the circuit writes `levels` levels only.
pub fn prefix_root(state: &State, levels: usize) -> Fr {
    let proof = state.tree().proof(0).expect("index 0 is in every tree");
    merit_core::account_tree::compute_root(0, proof.leaf, &proof.siblings[..levels])
}

/// The root of the whole tree of `depth` levels whose first `2^levels` leaves have the root
/// `prefix` and whose other leaves are empty: `prefix` hashed up the left edge with the
/// empty-subtree hashes (constants) as right siblings, `depth - levels` permutations.
/// Collision resistance makes it injective, so constraining it to a root also proves that
/// every leaf at `2^levels` or beyond is empty.
pub fn lift_prefix_root(
    ctx: &mut Context<Fr>,
    poseidon: &mut PoseidonChip,
    prefix: AssignedValue<Fr>,
    (levels, depth): (usize, usize),
) -> AssignedValue<Fr> {
    let empty = zero_hashes(depth);
    (levels..depth).fold(prefix, |node, height| {
        let sibling = ctx.load_constant(empty[height]);
        poseidon.hash2(ctx, node, sibling)
    })
}

/// The sentinel leaf at index 0 records the account count `n`: loads `n` from the trace's final
/// sentinel write and returns `(n, n + 1)`, the first free index. [`write_sentinel`] proves `n`
/// against the tree at the end of the batch.
pub fn load_account_count(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    sentinel: &LeafUpdate,
) -> (AssignedValue<Fr>, AssignedValue<Fr>) {
    let count = sentinel.old.map_or(0, |l| l.cumulative);
    let count = ctx.load_witness(fr_from_u128(count));
    let next_index = range.gate.add(ctx, count, halo2_base::QuantumCell::Constant(Fr::one()));
    (count, next_index)
}

/// The batch's final sentinel write: the sentinel `(0, count, 0, next)` is in the tree `tree`
/// is at and becomes `(0, next_index - 1, 0, next)`.
pub fn write_sentinel(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    tree: &mut LeafWrites,
    (count, next_index): (AssignedValue<Fr>, AssignedValue<Fr>),
    sentinel: &LeafUpdate,
) {
    let gate = &range.gate;
    let zero = ctx.load_zero();
    let next = ctx.load_witness(sentinel.old.map_or(Fr::zero(), |l| fr_from_address(l.next)));
    let before = AssignedLeaf { address: zero, cumulative: count, last_nonce: zero, next };
    let new_count = gate.sub(ctx, next_index, halo2_base::QuantumCell::Constant(Fr::one()));
    let after = AssignedLeaf { cumulative: new_count, ..before };
    let old_hash = leaf_hash(ctx, range, poseidon, &before);
    let new_hash = leaf_hash(ctx, range, poseidon, &after);
    tree.write(ctx, range, poseidon, zero, (old_hash, new_hash), &sentinel.siblings);
}

/// Whether `address` falls in the gap after leaf `p` of the address list: `p.address <
/// address` and (`p.next = 0` or `address < p.next`), i.e. it has no leaf when `p` is in the
/// tree. Range-checks `p`'s addresses; the caller range-checks `address`.
pub(crate) fn absent_after(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    p: &AssignedLeaf,
    address: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    range.range_check(ctx, p.address, ADDRESS_BITS);
    range.range_check(ctx, p.next, ADDRESS_BITS);
    let below = range.is_less_than(ctx, p.address, address, ADDRESS_BITS);
    let above = range.is_less_than(ctx, address, p.next, ADDRESS_BITS);
    let open_end = gate.is_zero(ctx, p.next);
    let gap = gate.or(ctx, above, open_end);
    gate.and(ctx, below, gap)
}

/// The assigned results of one account update.
#[derive(Debug, Clone, Copy)]
pub struct AssignedAccountUpdate {
    /// Whether the account was appended.
    pub is_new: AssignedValue<Fr>,
    /// Last nonce before the batch (0 for a new account): the batch's first nonce of this
    /// account must exceed it.
    pub old_last_nonce: AssignedValue<Fr>,
    /// The account's new cumulative reward (range-checked to 96 bits).
    pub new_cumulative: AssignedValue<Fr>,
    /// Root after both writes (`None` when the writes are deferred,
    /// [`crate::sorted_writes::LeafWrites`]).
    pub root_after: Option<AssignedValue<Fr>>,
    /// The next free index after this update.
    pub next_index_after: AssignedValue<Fr>,
}

/// The no-op low write of an existing account: its own leaf, unchanged.
fn low_write_of(update: &AccountUpdate) -> LeafUpdate {
    match &update.low {
        Some(low) => low.clone(),
        None => LeafUpdate {
            old: update.leaf.old,
            new: update.leaf.old.expect("an existing account has an old leaf"),
            new_leaf: update.leaf.old_leaf,
            root_after: update.leaf.root_before,
            ..update.leaf.clone()
        },
    }
}

/// Constrains one touched account's update (see the module docs). `address`, `reward_sum` and
/// `new_last_nonce` come from the batch's contributions (the caller range-checks the address
/// to 160 bits and the nonce to 64 bits); `root` and `next_index` from the previous update.
#[allow(clippy::too_many_arguments)]
pub fn update_account(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    root: AssignedValue<Fr>,
    next_index: AssignedValue<Fr>,
    (address, reward_sum, new_last_nonce): (
        AssignedValue<Fr>,
        AssignedValue<Fr>,
        AssignedValue<Fr>,
    ),
    update: &AccountUpdate,
) -> AssignedAccountUpdate {
    let gate = &range.gate;
    let is_new = ctx.load_witness(Fr::from(u64::from(update.is_new)));
    gate.assert_bit(ctx, is_new);

    // 1. The low write.
    let low = low_write_of(update);
    let p = load_leaf(ctx, low.old.as_ref());
    let absent = absent_after(ctx, range, &p, address);
    // is_new → absent
    let violation = gate.mul_not(ctx, absent, is_new);
    gate.assert_is_const(ctx, &violation, &Fr::zero());
    // An existing account's low write is its own leaf.
    let own = gate.is_equal(ctx, p.address, address);
    let own_or_new = gate.or(ctx, own, is_new);
    gate.assert_is_const(ctx, &own_or_new, &Fr::one());
    let low_index = ctx.load_witness(Fr::from(low.index));
    let p_next_after = gate.select(ctx, address, p.next, is_new);
    let p_after = AssignedLeaf { next: p_next_after, ..p };
    let old_hash = leaf_hash(ctx, range, poseidon, &p);
    let new_hash = leaf_hash(ctx, range, poseidon, &p_after);
    let root =
        write_leaf(ctx, range, poseidon, root, low_index, (old_hash, new_hash), &low.siblings);

    // 2. The leaf write. For an existing account the old preimage is `p` itself.
    let zero = ctx.load_zero();
    let old_cumulative = gate.select(ctx, zero, p.cumulative, is_new);
    let old_last_nonce = gate.select(ctx, zero, p.last_nonce, is_new);
    let next = p.next; // unchanged for an existing account; inherited from `p` for a new one
    let new_cumulative = gate.add(ctx, old_cumulative, reward_sum);
    range.range_check(ctx, new_cumulative, CUMULATIVE_BITS);
    let new_leaf =
        AssignedLeaf { address, cumulative: new_cumulative, last_nonce: new_last_nonce, next };
    let new_hash = leaf_hash(ctx, range, poseidon, &new_leaf);
    let old_value = gate.select(ctx, zero, old_hash, is_new);
    let index = gate.select(ctx, next_index, low_index, is_new);
    let root_after =
        write_leaf(ctx, range, poseidon, root, index, (old_value, new_hash), &update.leaf.siblings);
    // `write_leaf` decomposes `index` into `depth` bits, so an appended index stays in the tree.
    let next_index_after = gate.add(ctx, next_index, is_new);

    AssignedAccountUpdate {
        is_new,
        old_last_nonce,
        new_cumulative,
        root_after: Some(root_after),
        next_index_after,
    }
}
