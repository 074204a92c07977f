//! `apply_batch`: table tests of every rejection, and properties of every accepted batch.

use merit_core::{
    account_tree::compute_root,
    apply_batch,
    batch::{batch_commitment, touched_challenge, touched_evaluation, LeafUpdate},
    claim_tree::{claim_leaf, verify_claim_proof},
    samples::{dev_domain, sample_contributions, sample_model, sample_policy, SplitMix64},
    Address, BatchApplied, BatchError, Contribution, Fr, Policy, QuantizedModel, State,
    MAX_CUMULATIVE,
};
use proptest::prelude::*;

fn contributions(seed: u64, entries: &[(u64, u64, usize)]) -> Vec<Contribution> {
    sample_contributions(&mut SplitMix64::new(seed), &dev_domain(), 16, entries)
        .into_iter()
        .map(|s| s.contribution)
        .collect()
}

fn apply(state: &State, batch: &[Contribution]) -> Result<BatchApplied, BatchError> {
    apply_batch(state, &sample_model(1), &sample_policy(), batch)
}

/// The state after one batch from contributors 1..=3.
fn seeded_state() -> State {
    let first = contributions(10, &[(1, 1, 2), (2, 1, 1), (3, 1, 3)]);
    apply(&State::new(8).unwrap(), &first).unwrap().state
}

/// Checks the invariants every accepted batch must satisfy.
fn check_applied(
    prev: &State,
    model: &QuantizedModel,
    policy: &Policy,
    batch: &[Contribution],
    applied: &BatchApplied,
) {
    let BatchApplied { state, output, trace } = applied;
    // Roots and commitments.
    assert_eq!(output.prev_root, prev.root());
    assert_eq!(output.new_root, state.root());
    assert_eq!(output.model_commitment, model.commitment());
    assert_eq!(output.policy_commitment, policy.commitment());
    assert_eq!(output.batch_commitment, batch_commitment(batch));
    assert_eq!(trace.contributions.last().unwrap().commitment_after, output.batch_commitment);

    // Scores and rewards are the model's and the policy's.
    for (c, t) in batch.iter().zip(&trace.contributions) {
        assert_eq!(t.inference.score, model.score(&c.features).unwrap());
        assert_eq!(t.reward, policy.reward(t.inference.score));
        assert!(t.reward <= u128::from(policy.cap));
    }
    // Total reward = sum of rewards = sum of cumulative increases.
    let sum: u128 = trace.contributions.iter().map(|t| t.reward).sum();
    assert_eq!(output.total_reward, sum);
    let increase: u128 = output
        .touched
        .iter()
        .map(|t| t.cumulative - prev.account(&t.address).map_or(0, |a| a.cumulative))
        .sum();
    assert_eq!(increase, sum);
    assert!(sum <= policy.batch_budget);

    // One update per contributor, sorted, chained root to root along the given siblings.
    let mut contributors: Vec<Address> = batch.iter().map(|c| c.contributor).collect();
    contributors.dedup();
    assert_eq!(output.touched.iter().map(|t| t.address).collect::<Vec<_>>(), contributors);
    assert_eq!(trace.accounts.len(), contributors.len());
    let mut root = prev.root();
    let mut next_index = prev.next_index();
    for update in &trace.accounts {
        let writes: Vec<&LeafUpdate> = update.low.iter().chain([&update.leaf]).collect();
        for write in writes {
            assert_eq!(write.root_before, root);
            assert_eq!(compute_root(write.index, write.old_leaf, &write.siblings), root);
            assert_eq!(write.old_leaf, write.old.map_or(Fr::zero(), |l| l.hash()));
            assert_eq!(write.new_leaf, write.new.hash());
            root = compute_root(write.index, write.new_leaf, &write.siblings);
            assert_eq!(write.root_after, root);
        }
        let leaf = &update.leaf;
        assert_eq!(leaf.new.address, update.address);
        assert_eq!(leaf.new.cumulative, update.old_cumulative + update.reward_sum);
        match &update.low {
            // A new account: the predecessor proves the address was absent, then points to it.
            Some(low) => {
                assert!(update.is_new && leaf.old.is_none());
                assert_eq!(leaf.index, next_index);
                next_index += 1;
                let before = low.old.unwrap();
                assert!(before.address < update.address);
                assert!(before.next == Address::ZERO || update.address < before.next);
                assert_eq!(low.new, merit_core::AccountLeaf { next: update.address, ..before });
                assert_eq!(leaf.new.next, before.next);
                assert_eq!((update.old_cumulative, update.old_last_nonce), (0, 0));
            }
            None => {
                let before = leaf.old.unwrap();
                assert!(!update.is_new);
                assert_eq!(
                    (before.cumulative, before.last_nonce),
                    (update.old_cumulative, update.old_last_nonce)
                );
                assert_eq!(before.next, leaf.new.next);
            }
        }
    }
    // The sentinel's final write moves the account count; it is read from the tree, so the
    // first free index is bound to the root.
    let sentinel = &trace.sentinel;
    assert_eq!((sentinel.index, sentinel.root_before), (0, root));
    assert_eq!(compute_root(0, sentinel.old_leaf, &sentinel.siblings), root);
    let before = sentinel.old.unwrap();
    assert_eq!(before.cumulative, prev.account_count() as u128);
    assert_eq!(u64::try_from(before.cumulative).unwrap() + 1, prev.next_index());
    assert_eq!(
        sentinel.new,
        merit_core::AccountLeaf { cumulative: state.account_count() as u128, ..before }
    );
    assert_eq!(sentinel.new_leaf, sentinel.new.hash());
    root = compute_root(0, sentinel.new_leaf, &sentinel.siblings);
    assert_eq!(sentinel.root_after, root);
    assert_eq!(root, output.new_root);

    // The tree after the update equals a rebuild from scratch.
    let rebuilt =
        State::from_accounts(state.depth(), state.accounts().map(|(a, acc)| (*a, *acc))).unwrap();
    assert_eq!(rebuilt.root(), state.root());

    // The touched list is hashed and every claim proof verifies; a changed amount does not.
    // The touched list is bound by its challenge and evaluation; any changed entry, order or
    // length changes the evaluation at the same challenge, and the challenge itself.
    let header = [
        output.prev_root,
        output.new_root,
        output.batch_commitment,
        output.model_commitment,
        output.policy_commitment,
    ];
    let r = touched_challenge(&header, output.total_reward, &output.touched);
    assert_eq!(output.touched_challenge, r);
    assert_eq!(output.touched_evaluation, touched_evaluation(r, &output.touched));
    let mut changed = output.touched.clone();
    changed[0].cumulative += 1;
    assert_ne!(touched_evaluation(r, &changed), output.touched_evaluation);
    assert_ne!(touched_challenge(&header, output.total_reward, &changed), r);
    if output.touched.len() > 1 {
        let mut swapped = output.touched.clone();
        swapped.swap(0, 1);
        assert_ne!(touched_evaluation(r, &swapped), output.touched_evaluation);
    }
    assert_ne!(touched_evaluation(r, &output.touched[1..]), output.touched_evaluation);
    for t in &output.touched {
        let proof = output.claim_proof(9, t.address).unwrap();
        assert!(proof.verify());
        assert_eq!(proof.claim_root, output.claim_root);
        assert!(!verify_claim_proof(
            output.claim_root,
            claim_leaf(t.address, t.cumulative + 1),
            &proof.proof
        ));
    }
}

#[test]
fn a_first_batch_appends_accounts_in_address_order() {
    let state = State::new(8).unwrap();
    let batch = contributions(10, &[(1, 1, 2), (2, 1, 1), (3, 1, 3)]);
    let applied = apply(&state, &batch).unwrap();
    check_applied(&state, &sample_model(1), &sample_policy(), &batch, &applied);
    for (i, update) in applied.trace.accounts.iter().enumerate() {
        assert!(update.is_new);
        assert_eq!(update.leaf.index, i as u64 + 1);
        assert_eq!(update.leaf.old_leaf, Fr::zero());
        // In address order, each new account's predecessor is the one appended just before it.
        let low = update.low.as_ref().unwrap();
        assert_eq!(low.index, i as u64);
    }
    assert_eq!(applied.state.account_count(), 3);
}

#[test]
fn a_second_batch_updates_existing_and_appends_new_accounts() {
    let state = seeded_state();
    let batch = contributions(11, &[(2, 2, 2), (4, 1, 1), (1, 3, 1)]);
    let applied = apply(&state, &batch).unwrap();
    check_applied(&state, &sample_model(1), &sample_policy(), &batch, &applied);
    let new: Vec<bool> = applied.trace.accounts.iter().map(|u| u.is_new).collect();
    assert_eq!(new.iter().filter(|n| **n).count(), 1);
    let appended = applied.trace.accounts.iter().find(|u| u.is_new).unwrap();
    assert_eq!(appended.leaf.index, 4);
    for update in applied.trace.accounts.iter().filter(|u| !u.is_new) {
        let before = state.account(&update.address).unwrap();
        assert_eq!(update.old_cumulative, before.cumulative);
        assert_eq!(update.leaf.old_leaf, state.tree().leaf(before.index));
    }
}

#[test]
fn the_batch_commitment_binds_order_and_every_field() {
    let batch = contributions(12, &[(1, 1, 2), (2, 1, 2)]);
    let base = batch_commitment(&batch);
    let mut swapped = batch.clone();
    swapped.swap(0, 3);
    assert_ne!(batch_commitment(&swapped), base);
    assert_ne!(batch_commitment(&batch[..3]), base);
    let edits: [fn(&mut Contribution); 5] = [
        |c| c.contributor = Address::repeat_byte(9),
        |c| c.task_id += 1,
        |c| c.nonce += 1,
        |c| c.features[0] = c.features[0].wrapping_add(1),
        |c| c.payload_hash.0[31] ^= 1,
    ];
    for edit in edits {
        let mut changed = batch.clone();
        edit(&mut changed[1]);
        assert_ne!(batch_commitment(&changed), base);
    }
}

/// Runs `apply` on a tampered batch and checks it is refused with `expected` and that the
/// state did not change.
fn refused(state: &State, batch: &[Contribution], policy: &Policy) -> BatchError {
    let before = state.clone();
    let err = apply_batch(state, &sample_model(1), policy, batch).unwrap_err();
    assert_eq!(*state, before);
    err
}

#[test]
fn rejections_name_the_offending_contribution() {
    let state = seeded_state();
    let policy = sample_policy();
    let good = contributions(13, &[(1, 3, 2), (2, 2, 2), (3, 4, 1)]);
    apply(&state, &good).unwrap();
    let address = |i: usize| good[i].contributor;

    assert_eq!(refused(&state, &[], &policy), BatchError::Empty);

    // Unsorted contributors.
    let mut unsorted = good.clone();
    unsorted.swap(1, 2);
    match refused(&state, &unsorted, &policy) {
        BatchError::Unsorted { at, .. } | BatchError::Nonce { at, .. } => assert!(at.index <= 2),
        other => panic!("{other:?}"),
    }
    let mut unsorted = good.clone();
    unsorted.swap(0, 4);
    assert!(
        matches!(refused(&state, &unsorted, &policy), BatchError::Unsorted { at, .. } if at.index == 1 || at.index == 4)
    );

    // A replayed nonce (not above the account's last nonce).
    let mut replay = good.clone();
    replay[0].nonce = state.account(&address(0)).unwrap().last_nonce;
    replay[1].nonce = replay[0].nonce + 1;
    assert!(
        matches!(refused(&state, &replay, &policy), BatchError::Nonce { at, .. } if at.index == 0)
    );

    // A duplicated contribution / non-increasing nonce inside the batch.
    let mut duplicate = good.clone();
    duplicate[1] = duplicate[0].clone();
    let err = refused(&state, &duplicate, &policy);
    assert!(
        matches!(err, BatchError::Nonce { at, last_nonce } if at.index == 1 && last_nonce == duplicate[0].nonce)
    );
    assert!(err.to_string().contains("contribution #1"), "{err}");

    // Nonce 0 for a new account.
    let mut zero = contributions(14, &[(9, 1, 1)]);
    zero[0].nonce = 0;
    assert!(matches!(refused(&state, &zero, &policy), BatchError::Nonce { last_nonce: 0, .. }));

    // Wrong feature width.
    let mut wide = good.clone();
    wide[3].features.push(1);
    assert!(
        matches!(refused(&state, &wide, &policy), BatchError::Dimension { at, source } if at.index == 3 && source.actual == 17)
    );

    // Budget: every contribution earns at least something, and the budget allows less.
    let generous = Policy {
        threshold: -(1 << 40),
        base_reward: 10,
        reward_per_point: 0,
        cap: 10,
        batch_budget: 25,
    };
    match refused(&state, &good, &generous) {
        BatchError::Budget { at, total, budget } => {
            assert_eq!((at.index, total, budget), (2, 30, 25))
        }
        other => panic!("{other:?}"),
    }

    // Invalid policy.
    let invalid = Policy { batch_budget: MAX_CUMULATIVE + 1, ..policy };
    assert!(matches!(refused(&state, &good, &invalid), BatchError::Policy(_)));
}

#[test]
fn cumulative_overflow_is_refused() {
    let address = contributions(15, &[(1, 1, 1)])[0].contributor;
    let near_max = State::from_accounts(
        8,
        [(
            address,
            merit_core::Account { index: 1, cumulative: MAX_CUMULATIVE - 5, last_nonce: 1 },
        )],
    )
    .unwrap();
    let batch = contributions(15, &[(1, 2, 1)]);
    let policy = Policy {
        threshold: -(1 << 40),
        base_reward: 6,
        reward_per_point: 0,
        cap: 6,
        batch_budget: 100,
    };
    match refused(&near_max, &batch, &policy) {
        BatchError::CumulativeOverflow { cumulative, .. } => {
            assert_eq!(cumulative, MAX_CUMULATIVE + 1)
        }
        other => panic!("{other:?}"),
    }
    // Exactly at the maximum is fine.
    let policy = Policy { base_reward: 5, cap: 5, ..policy };
    let applied = apply_batch(&near_max, &sample_model(1), &policy, &batch).unwrap();
    assert_eq!(applied.output.touched[0].cumulative, MAX_CUMULATIVE);
}

#[test]
fn a_full_tree_refuses_new_accounts() {
    // Depth 2: the sentinel and three accounts.
    let first = contributions(16, &[(1, 1, 1), (2, 1, 1), (4, 1, 1)]);
    let state = apply(&State::new(2).unwrap(), &first).unwrap().state;
    assert_eq!(state.account_count(), 3);
    let batch = contributions(16, &[(3, 1, 1)]);
    assert!(matches!(
        refused(&state, &batch, &sample_policy()),
        BatchError::TreeFull { depth: 2, .. }
    ));
    // Existing accounts can still earn.
    let batch = contributions(16, &[(1, 2, 1)]);
    apply(&state, &batch).unwrap();
}

fn arb_entries() -> impl Strategy<Value = Vec<(u64, u64, usize)>> {
    proptest::collection::btree_map(1u64..12, 1usize..4, 1..6)
        .prop_map(|m| m.into_iter().map(|(seed, count)| (seed, 1, count)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Two random batches in a row satisfy every invariant, and splitting the second one's
    /// application does not change the final balances.
    #[test]
    fn random_batches_satisfy_the_invariants(seed in any::<u64>(), first in arb_entries(), second in arb_entries()) {
        let model = sample_model(seed % 3);
        let policy = sample_policy();
        let state = State::new(6).unwrap();
        let batch = contributions(seed, &first);
        let applied = apply_batch(&state, &model, &policy, &batch).unwrap();
        check_applied(&state, &model, &policy, &batch, &applied);

        // Second batch: nonces continue above each account's last nonce.
        let second: Vec<(u64, u64, usize)> = second
            .iter()
            .map(|&(s, _, count)| {
                let address = merit_core::samples::dev_signer(s).address();
                let next = applied.state.account(&address).map_or(1, |a| a.last_nonce + 1);
                (s, next, count)
            })
            .collect();
        let batch2 = contributions(seed.wrapping_add(1), &second);
        let applied2 = apply_batch(&applied.state, &model, &policy, &batch2).unwrap();
        check_applied(&applied.state, &model, &policy, &batch2, &applied2);

        // Replaying the second batch is refused and changes nothing.
        let err = apply_batch(&applied2.state, &model, &policy, &batch2).unwrap_err();
        let refused_first = matches!(err, BatchError::Nonce { at, .. } if at.index == 0);
        prop_assert!(refused_first, "{:?}", err);
    }
}
