//! The policy chip: `reward(score)` of `merit_core::policy` in the circuit.
//!
//! `d = score - threshold`, `b = [d ≥ 0]` (a constrained sign bit),
//! `linear = base_reward + reward_per_point · b·d`, `reward = b · (linear - relu(linear - cap))`.
//! Parameters are witnesses (bound to the public `policy_commitment` by the batch circuit) and
//! range-checked here: `|threshold| ≤ 2^48`, the others below `2^64`, so with `|score| ≤ 2^48`
//! every intermediate stays below `2^115` and nothing wraps around the field.

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    AssignedValue, Context,
};
use merit_core::{
    field::{fr_from_i64, fr_from_u128},
    policy::THRESHOLD_BITS,
    Policy,
};

use crate::fixed_point::{check_signed, is_non_negative, relu};

/// `|score - threshold| < 2^DIFF_BITS`.
const DIFF_BITS: u32 = THRESHOLD_BITS + 2;
/// `|linear - cap| < 2^EXCESS_BITS`.
const EXCESS_BITS: u32 = 64 + DIFF_BITS + 1;

/// The policy parameters as witnesses.
#[derive(Debug, Clone, Copy)]
pub struct AssignedPolicy {
    /// Threshold.
    pub threshold: AssignedValue<Fr>,
    /// Base reward.
    pub base_reward: AssignedValue<Fr>,
    /// Reward per point above the threshold.
    pub reward_per_point: AssignedValue<Fr>,
    /// Per-contribution cap.
    pub cap: AssignedValue<Fr>,
    /// Per-batch budget.
    pub batch_budget: AssignedValue<Fr>,
}

/// Loads and range-checks the parameters (once per batch).
pub fn load_policy(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    policy: &Policy,
) -> AssignedPolicy {
    let [threshold, base_reward, reward_per_point, cap, batch_budget]: [AssignedValue<Fr>; 5] = ctx
        .assign_witnesses([
            fr_from_i64(policy.threshold),
            Fr::from(policy.base_reward),
            Fr::from(policy.reward_per_point),
            Fr::from(policy.cap),
            fr_from_u128(policy.batch_budget),
        ])
        .try_into()
        .expect("five values");
    check_signed(ctx, range, threshold, THRESHOLD_BITS + 1);
    for x in [base_reward, reward_per_point, cap] {
        range.range_check(ctx, x, 64);
    }
    range.range_check(ctx, batch_budget, 96);
    AssignedPolicy { threshold, base_reward, reward_per_point, cap, batch_budget }
}

/// The reward of one contribution whose score is `score` (`|score| ≤ 2^48`, enforced by the
/// scoring chip's clamp), with witness values computed from `score_value`.
pub fn reward(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    policy: &AssignedPolicy,
    native: &Policy,
    score: AssignedValue<Fr>,
    score_value: i64,
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    let d_value = i128::from(score_value) - i128::from(native.threshold);
    let d = gate.sub(ctx, score, policy.threshold);
    let bit = is_non_negative(ctx, range, d, d_value as i64, DIFF_BITS);
    let above = gate.mul(ctx, bit, d);
    let linear = gate.mul_add(ctx, policy.reward_per_point, above, policy.base_reward);
    let linear_value =
        i128::from(native.base_reward) + i128::from(native.reward_per_point) * d_value.max(0);
    let over = gate.sub(ctx, linear, policy.cap);
    let excess = relu(ctx, range, over, linear_value - i128::from(native.cap), EXCESS_BITS);
    let capped = gate.sub(ctx, linear, excess);
    gate.mul(ctx, bit, capped)
}
