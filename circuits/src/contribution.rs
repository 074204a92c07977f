//! The contribution chip: a contribution's fields as range-checked witnesses, its hash and the
//! batch-commitment chain (`merit_core::batch::{contribution_hash, batch_commitment}`).
//!
//! Fields and ranges: contributor < 2^160, task id and nonce < 2^64, the payload hash as two
//! 128-bit limbs, features as `i16` (checked as `f + 2^15 < 2^16`). The task id and the payload
//! limbs enter nothing but the contribution hash, which the public batch commitment pins, so
//! collision resistance fixes them to the signed contribution's values: their range checks
//! are optional (`check_hash_only_fields`; the configuration's `lean_range_checks` drops them).
//! The contributor, nonce and features are always checked: comparisons, the tree and the model
//! depend on their ranges. Features are packed 15 per
//! field element, little-endian in 16-bit slots of `f + 2^15`, exactly as
//! `merit_core::Contribution::field_elements` does; the hash is
//! `Poseidon([tag, contributor, task_id, nonce, payload_hi, payload_lo, words…])`.

use crate::{fixed_point::pow2, poseidon::PoseidonChip};
use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    AssignedValue, Context,
    QuantumCell::{Constant, Witness},
};
use merit_core::{
    contribution::FEATURES_PER_WORD,
    field::{fr_from_address, fr_from_i64, fr_limbs_from_b256},
    Contribution, DomainTag,
};

/// A contribution's fields as witnesses.
#[derive(Debug, Clone)]
pub struct AssignedContribution {
    /// Contributor address.
    pub contributor: AssignedValue<Fr>,
    /// Task id.
    pub task_id: AssignedValue<Fr>,
    /// Nonce.
    pub nonce: AssignedValue<Fr>,
    /// Payload hash, high and low 128 bits.
    pub payload: [AssignedValue<Fr>; 2],
    /// Features (signed).
    pub features: Vec<AssignedValue<Fr>>,
}

/// Loads and range-checks a contribution's fields (the task id and payload limbs only when
/// `check_hash_only_fields`; see the module docs).
pub fn load_contribution(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    contribution: &Contribution,
    check_hash_only_fields: bool,
) -> AssignedContribution {
    let (hi, lo) = fr_limbs_from_b256(contribution.payload_hash);
    let [contributor, task_id, nonce, payload_hi, payload_lo]: [AssignedValue<Fr>; 5] = ctx
        .assign_witnesses([
            fr_from_address(contribution.contributor),
            Fr::from(contribution.task_id),
            Fr::from(contribution.nonce),
            hi,
            lo,
        ])
        .try_into()
        .expect("five values");
    // In this order: the default circuits' keys (and the committed verifier) depend on it.
    range.range_check(ctx, contributor, 160);
    if check_hash_only_fields {
        range.range_check(ctx, task_id, 64);
    }
    range.range_check(ctx, nonce, 64);
    if check_hash_only_fields {
        range.range_check(ctx, payload_hi, 128);
        range.range_check(ctx, payload_lo, 128);
    }
    let features = if !check_hash_only_fields && range.lookup_bits() == FEATURE_BITS - 1 {
        contribution.features.iter().map(|f| load_feature(ctx, range, i64::from(*f))).collect()
    } else {
        let features =
            ctx.assign_witnesses(contribution.features.iter().map(|f| fr_from_i64(i64::from(*f))));
        for f in &features {
            let offset = range.gate.add(ctx, *f, Constant(Fr::from(1 << 15)));
            range.range_check(ctx, offset, FEATURE_BITS);
        }
        features
    };
    AssignedContribution {
        contributor,
        task_id,
        nonce,
        payload: [payload_hi, payload_lo],
        features,
    }
}

/// Bits of a feature's offset form `f + 2^15`.
const FEATURE_BITS: usize = 16;

/// A feature `f` at lookup width 15, one lookup instead of halo2-base's two (its 16-bit
/// check looks up the one-bit top limb and asserts it is a bit as well): `f` is assigned as
/// `low + 2^15 · top - 2^15` with `low` looked up (`< 2^15`) and `top` a bit, so
/// `f + 2^15 ∈ [0, 2^16)`, i.e. `f` is an `i16`; the sum is the feature's cell, with no separate
/// offset. A wider `f` gives a witness the constraints refuse.
pub fn load_feature(ctx: &mut Context<Fr>, range: &RangeChip<Fr>, f: i64) -> AssignedValue<Fr> {
    let offset = f + (1 << 15);
    let (low, top) = (offset.rem_euclid(1 << 15), offset.div_euclid(1 << 15));
    let (feature, parts) = range.gate.inner_product_left(
        ctx,
        [Witness(fr_from_i64(low)), Witness(fr_from_i64(top)), Constant(Fr::one())],
        [Fr::one(), Fr::from(1 << 15), -Fr::from(1 << 15)].map(Constant),
    );
    range.range_check(ctx, parts[0], FEATURE_BITS - 1);
    range.gate.assert_bit(ctx, parts[1]);
    feature
}

/// `Poseidon([tag, fields…, packed feature words…])`.
pub fn contribution_hash(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    poseidon: &mut PoseidonChip,
    c: &AssignedContribution,
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    let tag = ctx.load_constant(DomainTag::Contribution.fr());
    let mut elements = vec![tag, c.contributor, c.task_id, c.nonce, c.payload[0], c.payload[1]];
    for chunk in c.features.chunks(FEATURES_PER_WORD) {
        // Σ (f_i + 2^15) 2^(16 i) = Σ f_i 2^(16 i) + 2^15 Σ 2^(16 i)
        let powers: Vec<Fr> = (0..chunk.len() as u32).map(|i| pow2(16 * i)).collect();
        let offset: Fr = powers.iter().fold(Fr::zero(), |acc, p| acc + p) * Fr::from(1 << 15);
        let dot = gate.inner_product(ctx, chunk.iter().copied(), powers.into_iter().map(Constant));
        elements.push(gate.add(ctx, dot, Constant(offset)));
    }
    poseidon.hash(ctx, gate, &elements)
}

/// One link of the commitment chain: `Poseidon(previous, contribution_hash)`.
pub fn chain(
    ctx: &mut Context<Fr>,
    poseidon: &mut PoseidonChip,
    previous: AssignedValue<Fr>,
    hash: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    poseidon.hash2(ctx, previous, hash)
}
