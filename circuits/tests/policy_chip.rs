//! The policy chip against `merit_core::Policy::reward`: every branch of the formula, and
//! tampered witnesses fail.

use halo2_base::{utils::testing::base_test, AssignedValue};
use merit_circuits::policy::{load_policy, reward};
use merit_core::{field::fr_from_u128, samples::sample_policy, Fr, Policy};

fn run(policy: &Policy, scores: &[i64], claimed: &[u128], satisfied: bool) {
    base_test().k(14).lookup_bits(13).expect_satisfied(satisfied).run(|ctx, range| {
        let assigned = load_policy(ctx, range, policy);
        for (score, claimed) in scores.iter().zip(claimed) {
            let s: AssignedValue<Fr> = ctx.load_witness(merit_core::field::fr_from_i64(*score));
            let r = reward(ctx, range, &assigned, policy, s, *score);
            let expected = ctx.load_witness(fr_from_u128(*claimed));
            ctx.constrain_equal(&r, &expected);
        }
    })
}

const SCORES: [i64; 9] = [-(1 << 47), -5, 2047, 2048, 2049, 2148, 3948, 4096, 1 << 47];

#[test]
fn rewards_match_the_native_policy_on_every_branch() {
    for policy in [
        sample_policy(),
        Policy {
            threshold: -100,
            base_reward: 0,
            reward_per_point: u64::MAX,
            cap: u64::MAX,
            batch_budget: 1,
        },
        Policy { threshold: 1 << 48, base_reward: 7, reward_per_point: 1, cap: 3, batch_budget: 1 },
    ] {
        let rewards: Vec<u128> = SCORES.iter().map(|s| policy.reward(*s)).collect();
        run(&policy, &SCORES, &rewards, true);
    }
    // The table covers zero, linear and capped rewards.
    let p = sample_policy();
    let r: Vec<u128> = SCORES.iter().map(|s| p.reward(*s)).collect();
    assert!(
        r.contains(&0)
            && r.contains(&u128::from(p.cap))
            && r.iter().any(|x| *x > 0 && *x < u128::from(p.cap))
    );
}

#[test]
fn a_wrong_reward_fails() {
    let policy = sample_policy();
    for score in [2047, 2048, 2100, 4096] {
        let honest = policy.reward(score);
        run(&policy, &[score], &[honest + 1], false);
        if honest > 0 {
            run(&policy, &[score], &[honest - 1], false);
        }
    }
}

#[test]
fn a_reward_above_the_cap_fails() {
    // A prover claiming the uncapped linear reward.
    let policy = sample_policy();
    let score = 4096;
    let linear = u128::from(policy.base_reward) + u128::from(policy.reward_per_point) * 2048;
    assert!(linear > u128::from(policy.cap));
    run(&policy, &[score], &[linear], false);
}
