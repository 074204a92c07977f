//! The batch circuit: `merit_core::apply_batch` for up to `N` contributions and `M` touched
//! accounts, single-phase.
//!
//! Layout (all sizes fixed by [`BatchShape`]):
//! 1. the model's parameters and the policy's are loaded once and hashed into
//!    `model_commitment` and `policy_commitment`;
//! 2. each of the `N` contribution slots (real slots first, then padding) is range-checked,
//!    hashed into the commitment chain, scored and rewarded; consecutive real slots are sorted
//!    by `(contributor, nonce)` with strictly increasing nonces; running sums per contributor
//!    close a **group** at its last contribution, which writes the row
//!    `(g·2^224 + address·2^64 + last_nonce, reward_sum·2^64 + first_nonce)` to the dynamic
//!    lookup (other slots write zeros);
//! 3. each of the `M` account slots (active slots first, exactly one per group) looks up its
//!    group's row, checks `first_nonce > old last_nonce` and updates the account in the indexed
//!    tree (see [`crate::account_tree`]); padding slots rewrite the sentinel unchanged;
//! 4. the sentinel's account count is written once at the end; the total reward is checked
//!    against the budget.
//!
//! Public instances, in order: `prev_root, new_root, batch_commitment, model_commitment,
//! policy_commitment, total_reward, touched_challenge, touched_evaluation` — exactly
//! `merit_core::BatchOutput::public_instances`. The last two bind the touched list: the contract
//! derives the challenge `r` by keccak from the other instances and its calldata list, and the
//! circuit evaluates the list it proves at `r`
//! (`merit_core::batch::touched_evaluation` explains why that binds it).

use std::borrow::Cow;

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    AssignedValue, Context,
    QuantumCell::Constant,
};
use merit_core::{
    account_tree::AccountLeaf,
    batch::{batch_commitment_seed, AccountUpdate, BatchTrace, LeafUpdate},
    field::{fr_from_address, fr_from_i64, fr_from_u128},
    model::TABLE_DOMAIN_BITS,
    vectors::BatchVector,
    Address, Contribution, DomainTag,
};
use serde::{Deserialize, Serialize};

use crate::{
    account_tree::{
        lift_prefix_root, load_account_count, prefix_root, update_account, write_sentinel,
    },
    builder::{MeritCircuitBuilder, TableLookups},
    contribution::{chain, contribution_hash, load_contribution},
    fixed_point::pow2,
    model::{infer, load_model, ModelShape},
    policy::{load_policy, reward},
    poseidon::PoseidonChip,
    sorted_writes::{settle, LeafWrites, SortedWrites, SortedWritesError},
    split_layout::{
        link_new_accounts, write_account_slot, NewAccountCount, SplitError, SplitWrites,
    },
};

/// Number of public instances.
pub const CIRCUIT_INSTANCES: usize = merit_core::batch::PUBLIC_INSTANCE_COUNT;

/// The fixed shape of a batch circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchShape {
    /// Contribution slots `N`.
    pub max_contributions: usize,
    /// Account slots `M`.
    pub max_accounts: usize,
    /// Link slots `K` of the split account layout (at most `K` new accounts per batch); `None`:
    /// the uniform layout, where every account slot may append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_accounts: Option<usize>,
    /// Account-tree depth.
    pub depth: usize,
    /// The tree levels each leaf write hashes (`< depth`; `None`: all of them). Every written
    /// leaf then lies among the first `2^active_depth` (the circuit's account capacity, the
    /// sentinel included), so above that level every right subtree is empty and the path is the
    /// same for every write: it is hashed twice per batch (prefix roots to `prev_root` and
    /// `new_root`, [`crate::account_tree::lift_prefix_root`]) instead of twice per write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_depth: Option<usize>,
    /// Top levels of the written levels proven once per batch as a complete tree, the split
    /// layout's writes sorted by leaf index below them ([`crate::sorted_writes`]); `None`: each
    /// write hashes its whole path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_levels: Option<usize>,
    /// Whether the contribution fields that only enter the contribution hash (task id, payload
    /// limbs) go without range checks ([`crate::contribution`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lean_range_checks: bool,
    /// The model's shape.
    pub model: ModelShape,
}

impl BatchShape {
    /// The levels each leaf write hashes: `active_depth`, or the whole depth.
    pub fn write_levels(&self) -> usize {
        self.active_depth.unwrap_or(self.depth)
    }

    /// Leaves the circuit can write (`2^write_levels`, the sentinel at index 0 among them).
    pub fn leaf_capacity(&self) -> u64 {
        1u64.checked_shl(self.write_levels() as u32).unwrap_or(u64::MAX)
    }
}

/// Why a batch does not fit a circuit shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchCircuitError {
    /// Too many contributions or accounts, or another tree depth.
    #[error("batch of {contributions} contributions, {accounts} accounts, depth {depth} does not fit {shape:?}")]
    Size {
        /// Contributions.
        contributions: usize,
        /// Touched accounts.
        accounts: usize,
        /// Tree depth.
        depth: usize,
        /// The shape.
        shape: Box<BatchShape>,
    },
    /// The model does not fit the circuit's model shape.
    #[error(transparent)]
    Model(#[from] crate::model::ModelCircuitError),
    /// More new accounts than the split layout's link slots.
    #[error(
        "batch with {new} new accounts does not fit the circuit's {max_new_accounts} link slots"
    )]
    NewAccounts {
        /// New accounts in the batch.
        new: usize,
        /// The shape's `max_new_accounts`.
        max_new_accounts: usize,
    },
    /// The split layout's writes could not be derived from the trace.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// The sorted writes could not be planned.
    #[error(transparent)]
    SortedWrites(#[from] SortedWritesError),
    /// The accounts after the batch do not fit the circuit's `active_depth`.
    #[error(
        "the tree would hold {leaves} leaves (the sentinel and {} accounts) after the batch; the \
         circuit writes only the first {capacity} (active_depth {active_depth}): prove it with a \
         configuration of a larger active_depth",
        leaves - 1
    )]
    Capacity {
        /// Leaves after the batch, the sentinel included.
        leaves: u64,
        /// The shape's [`BatchShape::leaf_capacity`].
        capacity: u64,
        /// The shape's `active_depth`.
        active_depth: usize,
    },
}

fn check_fits(shape: &BatchShape, vector: &BatchVector) -> Result<(), BatchCircuitError> {
    shape.model.check(&vector.model)?;
    let (n, m, d) =
        (vector.batch.contributions.len(), vector.output.touched.len(), vector.prev_state.depth());
    if n > shape.max_contributions || m > shape.max_accounts || d != shape.depth {
        return Err(BatchCircuitError::Size {
            contributions: n,
            accounts: m,
            depth: d,
            shape: Box::new(shape.clone()),
        });
    }
    let new = vector.trace.accounts.iter().filter(|u| u.is_new).count();
    if let Some(max_new_accounts) = shape.max_new_accounts {
        if new > max_new_accounts {
            return Err(BatchCircuitError::NewAccounts { new, max_new_accounts });
        }
    }
    if let Some(active_depth) = shape.active_depth {
        let leaves = vector.prev_state.next_index() + new as u64;
        if leaves > shape.leaf_capacity() {
            return Err(BatchCircuitError::Capacity {
                leaves,
                capacity: shape.leaf_capacity(),
                active_depth,
            });
        }
    }
    Ok(())
}

/// `update`'s path cut to the circuit's write levels (the levels above are the shared spine).
fn cut_path(update: &mut LeafUpdate, levels: usize) {
    update.siblings.truncate(levels);
}

/// The trace with every path cut to the shape's write levels (borrowed when nothing is cut).
fn trace_for<'v>(shape: &BatchShape, vector: &'v BatchVector) -> Cow<'v, BatchTrace> {
    let levels = shape.write_levels();
    if levels == vector.prev_state.depth() {
        return Cow::Borrowed(&vector.trace);
    }
    let mut trace = vector.trace.clone();
    for update in &mut trace.accounts {
        cut_path(&mut update.leaf, levels);
        if let Some(low) = &mut update.low {
            cut_path(low, levels);
        }
    }
    cut_path(&mut trace.sentinel, levels);
    Cow::Owned(trace)
}

/// The account slots' witness in the shape's layout.
#[derive(Debug, Clone)]
pub enum AccountWitness {
    /// Every slot may append: merit-core's trace, in its order.
    Uniform,
    /// The split layout's writes ([`crate::split_layout`]).
    Split(SplitWrites),
}

impl AccountWitness {
    /// The witness of `vector`'s account slots for `shape` (the split layout's is planned only
    /// for a batch that fits).
    pub fn of(shape: &BatchShape, vector: &BatchVector) -> Result<Self, BatchCircuitError> {
        Ok(match shape.max_new_accounts {
            None => Self::Uniform,
            Some(links) => {
                check_fits(shape, vector)?;
                let mut writes = SplitWrites::plan(
                    &vector.prev_state,
                    &vector.trace,
                    links,
                    shape.max_accounts,
                )?;
                let levels = shape.write_levels();
                for write in writes.links.iter_mut().map(|l| &mut l.write) {
                    cut_path(write, levels);
                }
                for write in writes.slots.iter_mut().map(|s| &mut s.write) {
                    cut_path(write, levels);
                }
                if let Some(top) = shape.top_levels {
                    let recorded: Vec<(u64, Fr)> = writes
                        .links
                        .iter()
                        .map(|l| &l.write)
                        .chain(writes.slots.iter().map(|s| &s.write))
                        .chain([&vector.trace.sentinel])
                        .map(|w| (w.index, w.new_leaf))
                        .collect();
                    writes.sorted = Some(SortedWrites::plan(
                        vector.prev_state.tree(),
                        (levels, top),
                        &recorded,
                    )?);
                }
                Self::Split(writes)
            }
        })
    }
}

/// A padding contribution: address zero, zero features.
fn padding_contribution(dim: usize) -> Contribution {
    Contribution {
        contributor: Address::ZERO,
        task_id: 0,
        nonce: 0,
        features: vec![0; dim],
        payload_hash: Default::default(),
    }
}

/// A padding account slot: the sentinel rewritten unchanged, at the end of the batch.
fn padding_update(sentinel: &LeafUpdate) -> AccountUpdate {
    let old: AccountLeaf = sentinel.old.expect("the sentinel always exists");
    AccountUpdate {
        address: Address::ZERO,
        is_new: false,
        first_contribution: 0,
        contribution_count: 0,
        reward_sum: 0,
        old_cumulative: old.cumulative,
        old_last_nonce: 0,
        low: None,
        leaf: LeafUpdate {
            new: old,
            new_leaf: sentinel.old_leaf,
            root_after: sentinel.root_before,
            ..sentinel.clone()
        },
    }
}

/// Constrains the whole batch and returns the public instances
/// (`prev_root, new_root, batch_commitment, model_commitment, policy_commitment, total_reward`).
pub fn batch_circuit(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    poseidon: &mut PoseidonChip,
    shape: &BatchShape,
    vector: &BatchVector,
) -> Result<[AssignedValue<Fr>; CIRCUIT_INSTANCES], BatchCircuitError> {
    let accounts = AccountWitness::of(shape, vector)?;
    batch_circuit_with(ctx, range, tables, poseidon, shape, vector, &accounts)
}

/// [`batch_circuit`] with the account slots' witness given (tests tamper with it).
#[allow(clippy::too_many_arguments)]
pub fn batch_circuit_with(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    poseidon: &mut PoseidonChip,
    shape: &BatchShape,
    vector: &BatchVector,
    accounts: &AccountWitness,
) -> Result<[AssignedValue<Fr>; CIRCUIT_INSTANCES], BatchCircuitError> {
    check_fits(shape, vector)?;
    let slots = constrain_contributions(ctx, range, tables, poseidon, shape, vector);
    constrain_accounts(ctx, range, tables, poseidon, shape, vector, accounts, slots)
}

/// What the contribution slots leave to the account slots and the public instances.
#[derive(Debug, Clone, Copy)]
struct ContributionSlots {
    zero: AssignedValue<Fr>,
    groups: AssignedValue<Fr>,
    commitment: AssignedValue<Fr>,
    model_commitment: AssignedValue<Fr>,
    policy_commitment: AssignedValue<Fr>,
    total: AssignedValue<Fr>,
}

/// Layout steps 1 and 2 (model, policy, contribution slots, budget) of a batch that fits.
fn constrain_contributions(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    poseidon: &mut PoseidonChip,
    shape: &BatchShape,
    vector: &BatchVector,
) -> ContributionSlots {
    let gate = &range.gate;
    let zero = ctx.load_zero();

    // 1. Model and policy, and their commitments.
    let model = load_model(ctx, range, &shape.model, &vector.model);
    let model_commitment = model_commitment(ctx, range, poseidon, shape, &model);
    let policy = load_policy(ctx, range, &vector.policy);
    let tag = ctx.load_constant(DomainTag::Policy.fr());
    let policy_commitment = poseidon.hash(
        ctx,
        gate,
        &[
            tag,
            policy.threshold,
            policy.base_reward,
            policy.reward_per_point,
            policy.cap,
            policy.batch_budget,
        ],
    );

    // 2. Contribution slots.
    let real = vector.batch.contributions.len();
    let padding = padding_contribution(shape.model.input_dim);
    let padding_trace =
        vector.model.infer(&padding.features).expect("padding has the model's width");
    let mut commitment = ctx.load_constant(batch_commitment_seed());
    let mut total = zero;
    let (mut prev_address, mut prev_nonce, mut prev_real) = (zero, zero, zero);
    let (mut group_sum, mut group_first, mut group) = (zero, zero, zero);
    let mut open: Option<(AssignedValue<Fr>, [AssignedValue<Fr>; 2])> = None;
    for i in 0..shape.max_contributions {
        let (contribution, inference) = match vector.batch.contributions.get(i) {
            Some(signed) => (&signed.contribution, &vector.trace.contributions[i].inference),
            None => (&padding, &padding_trace),
        };
        let is_real = ctx.load_witness(Fr::from(u64::from(i < real)));
        gate.assert_bit(ctx, is_real);
        // Real slots come first.
        let late = gate.mul_not(ctx, prev_real, is_real);
        if i > 0 {
            gate.assert_is_const(ctx, &late, &Fr::zero());
        }
        let c = load_contribution(ctx, range, contribution, !shape.lean_range_checks);
        // A real contributor is never the sentinel's zero address.
        let zero_address = gate.is_zero(ctx, c.contributor);
        let bad = gate.mul(ctx, zero_address, is_real);
        gate.assert_is_const(ctx, &bad, &Fr::zero());

        // Commitment chain over real slots.
        let hash = contribution_hash(ctx, range, poseidon, &c);
        let next = chain(ctx, poseidon, commitment, hash);
        commitment = gate.select(ctx, next, commitment, is_real);

        // Score and reward.
        let score = infer(ctx, range, tables, &shape.model, &model, &c.features, inference);
        let r = reward(ctx, range, &policy, &vector.policy, score, inference.score);
        let r = gate.mul(ctx, r, is_real);
        total = gate.add(ctx, total, r);

        // Sorting and grouping: `same` = same contributor as the previous real slot.
        let equal = gate.is_equal(ctx, c.contributor, prev_address);
        let same = gate.mul(ctx, equal, prev_real);
        let same = gate.mul(ctx, same, is_real);
        let nonce_up = range.is_less_than(ctx, prev_nonce, c.nonce, 64);
        let address_up = range.is_less_than(ctx, prev_address, c.contributor, 160);
        let ordered = gate.select(ctx, nonce_up, address_up, same);
        let unordered = gate.mul_not(ctx, ordered, is_real);
        gate.assert_is_const(ctx, &unordered, &Fr::zero());
        let start = gate.sub(ctx, is_real, same);
        group = gate.add(ctx, group, start);
        let carried = gate.mul(ctx, group_sum, same);
        group_sum = gate.add(ctx, carried, r);
        group_first = gate.select(ctx, group_first, c.nonce, same);

        // Close the previous slot's group if this slot does not continue it.
        if let Some((closes, row)) = open.take() {
            let ends = gate.sub(ctx, closes, same); // previous real and this one not the same
            emit_group_row(ctx, gate, tables, ends, row);
        }
        let key = pack(ctx, gate, [(group, 224), (c.contributor, 64), (c.nonce, 0)]);
        let value = pack(ctx, gate, [(group_sum, 64), (group_first, 0)]);
        open = Some((is_real, [key, value]));
        (prev_address, prev_nonce, prev_real) = (c.contributor, c.nonce, is_real);
    }
    if let Some((closes, row)) = open.take() {
        emit_group_row(ctx, gate, tables, closes, row);
    }
    let groups = group;
    // A zero row, so inactive account slots always find theirs.
    tables.add_row(zero, zero);
    // Budget.
    let headroom = gate.sub(ctx, policy.batch_budget, total);
    range.range_check(ctx, headroom, 96);
    ContributionSlots { zero, groups, commitment, model_commitment, policy_commitment, total }
}

/// Layout steps 3 and 4 (account slots, sentinel, roots) after
/// [`constrain_contributions`]; returns the public instances.
#[allow(clippy::too_many_arguments)]
fn constrain_accounts(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    poseidon: &mut PoseidonChip,
    shape: &BatchShape,
    vector: &BatchVector,
    accounts: &AccountWitness,
    slots: ContributionSlots,
) -> Result<[AssignedValue<Fr>; CIRCUIT_INSTANCES], BatchCircuitError> {
    let gate = &range.gate;
    let ContributionSlots { zero, groups, commitment, model_commitment, policy_commitment, total } =
        slots;

    // 3. Account slots, on the prefix subtree of `active_depth` levels when the shape has one.
    let trace = trace_for(shape, vector);
    let sentinel = &trace.sentinel;
    let (count, mut next_index) = load_account_count(ctx, range, sentinel);
    let prev_root = ctx.load_witness(vector.output.prev_root);
    let root_before = match shape.active_depth {
        None => prev_root,
        Some(levels) => {
            let prefix = ctx.load_witness(prefix_root(&vector.prev_state, levels));
            let lifted = lift_prefix_root(ctx, poseidon, prefix, (levels, shape.depth));
            ctx.constrain_equal(&lifted, &prev_root);
            prefix
        }
    };
    // The split layout with `top_levels` defers its writes to one sorted pass at the end.
    let sorted = match (accounts, shape.top_levels) {
        (AccountWitness::Split(writes), Some(top)) => match &writes.sorted {
            Some(sorted) => Some((sorted, top)),
            None => return Err(SplitError::Trace("no sorted writes for top_levels".into()).into()),
        },
        _ => None,
    };
    let mut tree = LeafWrites::start(root_before, sorted.is_some());
    // The split layout links the new accounts first.
    let mut new_accounts = match accounts {
        AccountWitness::Uniform => None,
        AccountWitness::Split(writes) => {
            let links = link_new_accounts(ctx, range, tables, poseidon, &mut tree, &writes.links);
            Some(NewAccountCount { links, seen: zero })
        }
    };
    let mut active_count = zero;
    let mut prev_active = ctx.load_constant(Fr::one());
    let padding_slot = padding_update(sentinel);
    // The touched list's evaluation at the challenge r (merit_core::batch::touched_evaluation):
    // h = Σ_j (address_j + cumulative_j · r) · r^(2j) over the active slots, which come first.
    let challenge = ctx.load_witness(vector.output.touched_challenge);
    let challenge_squared = gate.mul(ctx, challenge, challenge);
    let mut power = ctx.load_constant(Fr::one());
    let mut evaluation = zero;
    for j in 0..shape.max_accounts {
        let update = trace.accounts.get(j).unwrap_or(&padding_slot);
        let active = ctx.load_witness(Fr::from(u64::from(j < trace.accounts.len())));
        gate.assert_bit(ctx, active);
        let late = gate.mul_not(ctx, prev_active, active);
        gate.assert_is_const(ctx, &late, &Fr::zero());
        active_count = gate.add(ctx, active_count, active);
        prev_active = active;

        let contributions = &vector.batch.contributions;
        let (last_nonce, first_nonce) = match update.contribution_count {
            0 => (0, 0),
            n => (
                contributions[update.first_contribution + n - 1].contribution.nonce,
                contributions[update.first_contribution].contribution.nonce,
            ),
        };
        let [address, sum, last, first]: [AssignedValue<Fr>; 4] = ctx
            .assign_witnesses([
                fr_from_address(update.address),
                fr_from_u128(update.reward_sum),
                Fr::from(last_nonce),
                Fr::from(first_nonce),
            ])
            .try_into()
            .expect("four values");
        range.range_check(ctx, address, 160);
        range.range_check(ctx, sum, 96);
        range.range_check(ctx, last, 64);
        range.range_check(ctx, first, 64);
        for x in [address, sum, last, first] {
            let leaked = gate.mul_not(ctx, active, x);
            gate.assert_is_const(ctx, &leaked, &Fr::zero());
        }
        // The row of group j + 1.
        let g = ctx.load_constant(Fr::from(j as u64 + 1));
        let key = pack(ctx, gate, [(g, 224), (address, 64), (last, 0)]);
        let key = gate.mul(ctx, key, active);
        let value = pack(ctx, gate, [(sum, 64), (first, 0)]);
        tables.lookup(key, value);

        let out = match (accounts, new_accounts.as_mut()) {
            (AccountWitness::Split(writes), Some(count)) => write_account_slot(
                ctx,
                range,
                tables,
                poseidon,
                (&mut tree, next_index),
                (address, sum, last, active),
                count,
                &writes.slots[j],
            ),
            _ => {
                let root = tree.chained_root().expect("the uniform layout chains its writes");
                let out = update_account(
                    ctx,
                    range,
                    poseidon,
                    root,
                    next_index,
                    (address, sum, last),
                    update,
                );
                tree = LeafWrites::Chained(out.root_after.expect("a chained write"));
                out
            }
        };
        // The first nonce is above the account's last nonce (inactive slots: 0 < 1 trivially).
        let first_or_one = gate.select(ctx, first, Constant(Fr::one()), active);
        let fresh = range.is_less_than(ctx, out.old_last_nonce, first_or_one, 64);
        gate.assert_is_const(ctx, &fresh, &Fr::one());
        next_index = out.next_index_after;
        // This slot's term of the touched-list evaluation (zero for a padding slot).
        let entry = gate.mul_add(ctx, out.new_cumulative, challenge, address);
        let entry = gate.mul(ctx, entry, active);
        evaluation = gate.mul_add(ctx, entry, power, evaluation);
        power = gate.mul(ctx, power, challenge_squared);
    }
    // One active account slot per group: none is skipped.
    ctx.constrain_equal(&active_count, &groups);
    // One link per new account.
    if let Some(count) = new_accounts {
        ctx.constrain_equal(&count.links, &count.seen);
    }

    // 4. The sentinel's count, once.
    write_sentinel(ctx, range, poseidon, &mut tree, (count, next_index), sentinel);
    let root = match (tree, sorted) {
        (LeafWrites::Chained(root), _) => root,
        (LeafWrites::Deferred(writes), Some((sorted, top))) => {
            let levels = shape.write_levels();
            settle(ctx, range, tables, poseidon, root_before, &writes, sorted, (levels, top))
        }
        (LeafWrites::Deferred(_), None) => unreachable!("writes are deferred only when sorted"),
    };
    let new_root = match shape.active_depth {
        None => root,
        Some(levels) => lift_prefix_root(ctx, poseidon, root, (levels, shape.depth)),
    };
    Ok([
        prev_root,
        new_root,
        commitment,
        model_commitment,
        policy_commitment,
        total,
        challenge,
        evaluation,
    ])
}

/// Builds the batch circuit for `vector` on `builder` (one instance column, exposed) and returns
/// the public instances' values.
pub fn build_batch_circuit(
    builder: &mut MeritCircuitBuilder,
    shape: &BatchShape,
    vector: &BatchVector,
) -> Result<Vec<Fr>, BatchCircuitError> {
    check_fits(shape, vector)?;
    builder.base.set_instance_columns(1);
    let range = builder.range_chip();
    let MeritCircuitBuilder { base, tables, poseidon, .. } = &mut *builder;
    let ctx = base.main(0);
    // The account slots' witness (the split layout's replays of the tree writes, a third of
    // the native work) is planned on another thread while the contribution slots are
    // assigned: the cells and their order are those of `build_batch_circuit_with`.
    let outputs = std::thread::scope(|scope| {
        let planned = scope.spawn(|| AccountWitness::of(shape, vector));
        let slots = constrain_contributions(ctx, &range, tables, poseidon, shape, vector);
        let accounts = planned.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        constrain_accounts(ctx, &range, tables, poseidon, shape, vector, &accounts, slots)
    })?;
    Ok(expose(builder, outputs))
}

/// [`build_batch_circuit`] with the account slots' witness given.
pub fn build_batch_circuit_with(
    builder: &mut MeritCircuitBuilder,
    shape: &BatchShape,
    vector: &BatchVector,
    accounts: &AccountWitness,
) -> Result<Vec<Fr>, BatchCircuitError> {
    builder.base.set_instance_columns(1);
    let range = builder.range_chip();
    let outputs = batch_circuit_with(
        builder.base.main(0),
        &range,
        &mut builder.tables,
        &mut builder.poseidon,
        shape,
        vector,
        accounts,
    )?;
    Ok(expose(builder, outputs))
}

/// Exposes `outputs` as the public instances and returns their values.
fn expose(
    builder: &mut MeritCircuitBuilder,
    outputs: [AssignedValue<Fr>; CIRCUIT_INSTANCES],
) -> Vec<Fr> {
    let values = outputs.iter().map(|v| *v.value()).collect();
    builder.base.assigned_instances[0].extend(outputs);
    values
}

/// Writes a closed group's row, or a zero row when the slot does not close a group.
fn emit_group_row(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    tables: &mut TableLookups,
    ends: AssignedValue<Fr>,
    [key, value]: [AssignedValue<Fr>; 2],
) {
    let key = gate.mul(ctx, key, ends);
    let value = gate.mul(ctx, value, ends);
    tables.add_row(key, value);
}

/// `Σ x_i · 2^{shift_i}` (the caller range-checks the parts so the packing is injective).
fn pack<const K: usize>(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    parts: [(AssignedValue<Fr>, u32); K],
) -> AssignedValue<Fr> {
    gate.inner_product(
        ctx,
        parts.iter().map(|(x, _)| *x),
        parts.iter().map(|(_, s)| Constant(pow2(*s))),
    )
}

/// `model_commitment` over the loaded parameters, in `QuantizedModel::commitment_elements`
/// order (shape values as constants).
fn model_commitment(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    shape: &BatchShape,
    model: &crate::model::AssignedModel,
) -> AssignedValue<Fr> {
    let m = &shape.model;
    let mut constants = vec![
        DomainTag::Model.fr(),
        Fr::from(u64::from(m.scale_bits)),
        Fr::from(m.input_dim as u64),
        Fr::from(u64::from(TABLE_DOMAIN_BITS)),
        Fr::from(u64::from(merit_core::model::TABLE_RESOLUTION_BITS)),
        Fr::from(m.layers.len() as u64),
    ];
    let mut elements: Vec<AssignedValue<Fr>> = Vec::new();
    let flush =
        |ctx: &mut Context<Fr>, constants: &mut Vec<Fr>, elements: &mut Vec<AssignedValue<Fr>>| {
            elements.extend(ctx.load_constants(constants));
            constants.clear();
        };
    for (l, layer) in m.layers.iter().enumerate() {
        constants.extend([
            Fr::from(layer.inputs as u64),
            Fr::from(layer.outputs as u64),
            Fr::from(layer.activation.code()),
        ]);
        flush(ctx, &mut constants, &mut elements);
        elements.extend(model.weights[l].iter().flatten().copied());
        elements.extend(model.biases[l].iter().copied());
    }
    constants.extend([fr_from_i64(m.score_range.min), fr_from_i64(m.score_range.max)]);
    flush(ctx, &mut constants, &mut elements);
    poseidon.hash(ctx, &range.gate, &elements)
}
