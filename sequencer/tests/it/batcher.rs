//! The batcher: sealing on size and age, equality with `apply_batch` run by hand, budget
//! handling, rejection without poisoning the queue, restart.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use axum::http::StatusCode;
use merit_core::{apply_batch, field::fr_to_b256, ClaimProof, Contribution, Policy, State};
use merit_sequencer::{
    api::{BatchView, ContributionView, StatusView},
    MemoryStore, NodeError, Protocol, SealOutcome, Settings,
};

use crate::{get, id_of, manual_settings, node_on, router, signed, submit, DEPTH};

#[tokio::test]
async fn seals_on_size() {
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { max_batch_size: 4, ..manual_settings() };
    let node = node_on(store, Protocol::development(DEPTH), settings);
    let app = router(&node);
    let sequencer = node.sequencer();
    assert_eq!(sequencer.seal_if_due(SystemTime::now()).unwrap(), SealOutcome::Idle);
    for nonce in 1..=3 {
        assert_eq!(submit(&app, &signed(1, nonce)).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(sequencer.seal_if_due(SystemTime::now()).unwrap(), SealOutcome::NotDue);
    for nonce in 4..=6 {
        assert_eq!(submit(&app, &signed(1, nonce)).await.0, StatusCode::ACCEPTED);
    }
    // Six pending: one full batch of four, then two left that are not due.
    assert_eq!(
        sequencer.seal_if_due(SystemTime::now()).unwrap(),
        SealOutcome::Sealed { batch_id: 1, contributions: 4 }
    );
    assert_eq!(sequencer.pending_count(), 2);
    assert_eq!(sequencer.seal_if_due(SystemTime::now()).unwrap(), SealOutcome::NotDue);
    node.shutdown().await;
}

/// With a new-account limit (the circuit's link slots), a batch stops before the first
/// contribution of one contributor without an account too many; contributors that have an
/// account do not count against it.
/// With an account capacity (a circuit with an `active_depth`), a batch stops before the first
/// contribution of a contributor the tree has no room for, and once the tree is full such a
/// contribution is rejected (`account_capacity`) instead of blocking the queue; contributors
/// with an account go on.
#[tokio::test]
async fn rejects_new_contributors_beyond_the_account_capacity() {
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { max_accounts: Some(2), ..manual_settings() };
    let node = node_on(store, Protocol::development(DEPTH), settings);
    let app = router(&node);
    let sequencer = node.sequencer();
    for (seed, nonce) in [(1, 1), (2, 1), (3, 1), (1, 2)] {
        assert_eq!(submit(&app, &signed(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(
        sequencer.seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 1, contributions: 2 }
    );
    let rejected = id_of(&signed(3, 1));
    match sequencer.seal_now().unwrap() {
        SealOutcome::Rejected { id, code } => {
            assert_eq!((id, code), (rejected, "account_capacity"));
        }
        other => panic!("not rejected: {other:?}"),
    }
    let (status, body) = get(&app, &format!("/v1/contributions/{rejected}")).await;
    assert_eq!(status, StatusCode::OK);
    let view: ContributionView = serde_json::from_value(body).unwrap();
    let rejection = view.rejection.expect("a rejection");
    assert_eq!(rejection.code, "account_capacity");
    assert!(rejection.message.contains("holds 2 accounts"), "{}", rejection.message);
    assert_eq!(
        sequencer.seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 2, contributions: 1 }
    );
    assert_eq!(sequencer.head().state.account_count(), 2);
    assert_eq!(sequencer.pending_count(), 0);
    node.shutdown().await;
}

#[tokio::test]
async fn seals_at_the_new_account_limit() {
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { max_batch_new_accounts: Some(1), ..manual_settings() };
    let node = node_on(store, Protocol::development(DEPTH), settings);
    let app = router(&node);
    let sequencer = node.sequencer();
    for (seed, nonce) in [(1, 1), (2, 1), (1, 2)] {
        assert_eq!(submit(&app, &signed(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    // 1 is new, 2 would be the second new account: the batch is 1's first contribution.
    assert_eq!(
        sequencer.seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 1, contributions: 1 }
    );
    // Now 1 has an account: 2 (new) and 1's second contribution fit, 3 would be a second new
    // account.
    for (seed, nonce) in [(3, 1), (1, 3)] {
        assert_eq!(submit(&app, &signed(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(
        sequencer.seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 2, contributions: 2 }
    );
    // Left: 3 (new) and 1's third contribution.
    assert_eq!(
        sequencer.seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 3, contributions: 2 }
    );
    assert_eq!(sequencer.pending_count(), 0);
    node.shutdown().await;
}

#[tokio::test]
async fn seals_on_age() {
    let store = Arc::new(MemoryStore::new());
    let settings = Settings { max_batch_age: Duration::from_secs(10), ..manual_settings() };
    let node = node_on(store, Protocol::development(DEPTH), settings);
    let app = router(&node);
    for seed in [1, 2] {
        assert_eq!(submit(&app, &signed(seed, 1)).await.0, StatusCode::ACCEPTED);
    }
    let sequencer = node.sequencer();
    let now = SystemTime::now();
    assert_eq!(sequencer.seal_if_due(now).unwrap(), SealOutcome::NotDue);
    assert_eq!(
        sequencer.seal_if_due(now + Duration::from_secs(11)).unwrap(),
        SealOutcome::Sealed { batch_id: 1, contributions: 2 }
    );
    assert_eq!(sequencer.seal_if_due(now + Duration::from_secs(11)).unwrap(), SealOutcome::Idle);
    node.shutdown().await;
}

#[tokio::test]
async fn sealed_state_equals_apply_batch_by_hand() {
    let store = Arc::new(MemoryStore::new());
    let protocol = Protocol::development(DEPTH);
    let node = node_on(store, protocol.clone(), manual_settings());
    let app = router(&node);
    let mut state = State::new(DEPTH).unwrap();
    let mut nonce_base = 0;
    for batch_id in 1..=2u64 {
        // Interleaved keys: arrival order is not batch order.
        let mut submitted = Vec::new();
        for nonce in 1..=3 {
            for seed in [3, 1, 2] {
                let s = signed(seed, nonce_base + nonce);
                assert_eq!(submit(&app, &s).await.0, StatusCode::ACCEPTED);
                submitted.push(s);
            }
        }
        assert_eq!(
            node.sequencer().seal_now().unwrap(),
            SealOutcome::Sealed { batch_id, contributions: 9 }
        );
        let mut expected: Vec<Contribution> =
            submitted.iter().map(|s| s.contribution.clone()).collect();
        expected.sort_by_key(|c| (c.contributor, c.nonce));
        let by_hand = apply_batch(&state, &protocol.model, &protocol.policy, &expected).unwrap();

        let (_, body) = get(&app, &format!("/v1/batches/{batch_id}")).await;
        let view: BatchView = serde_json::from_value(body).unwrap();
        assert_eq!(view.batch.unsigned(), expected, "sorted by (contributor, nonce)");
        assert_eq!(view.output, by_hand.output);
        let head = node.sequencer().head();
        assert_eq!(head.state, by_hand.state);
        assert_eq!(head.last_batch, Some(batch_id));

        for touched in &by_hand.output.touched {
            let (status, body) =
                get(&app, &format!("/v1/accounts/{}/claim-proof", touched.address)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let proof: ClaimProof = serde_json::from_value(body).unwrap();
            assert!(proof.verify());
            assert_eq!(proof, by_hand.output.claim_proof(batch_id, touched.address).unwrap());
        }
        state = by_hand.state;
        nonce_base += 3;
    }
    node.shutdown().await;
}

/// A policy paying `reward` for every score (threshold at the bottom of the range).
fn flat_policy(reward: u64, budget: u128) -> Policy {
    Policy {
        threshold: -(1 << 40),
        base_reward: reward,
        reward_per_point: 0,
        cap: reward,
        batch_budget: budget,
    }
}

#[tokio::test]
async fn the_batch_budget_splits_batches_without_losing_any() {
    let store = Arc::new(MemoryStore::new());
    let protocol = Protocol { policy: flat_policy(100, 350), ..Protocol::development(DEPTH) };
    let node = node_on(store, protocol, manual_settings());
    let app = router(&node);
    for (seed, nonce) in [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2), (1, 3), (3, 2)] {
        assert_eq!(submit(&app, &signed(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    let sequencer = node.sequencer();
    for (batch_id, size) in [(1, 3), (2, 3), (3, 1)] {
        assert_eq!(
            sequencer.seal_now().unwrap(),
            SealOutcome::Sealed { batch_id, contributions: size }
        );
    }
    assert_eq!(sequencer.seal_now().unwrap(), SealOutcome::Idle);
    let address = signed(1, 1).contribution.contributor;
    let (_, body) = get(&app, &format!("/v1/accounts/{address}")).await;
    assert_eq!(body["cumulative"], "300");
    node.shutdown().await;
}

#[tokio::test]
async fn a_contribution_refused_alone_is_rejected_and_the_queue_moves_on() {
    // Scores of the sample model vary; pay nothing below the median score and more than the
    // whole budget at or above it, so the high scorers can never be batched.
    let base = Protocol::development(DEPTH);
    let submissions: Vec<_> =
        (1..=8).map(|nonce| signed(if nonce % 2 == 0 { 1 } else { 2 }, nonce)).collect();
    let mut scores: Vec<i64> =
        submissions.iter().map(|s| base.model.score(&s.contribution.features).unwrap()).collect();
    scores.sort_unstable();
    let threshold = scores[4];
    assert!(scores[3] < threshold, "need distinct scores around the median: {scores:?}");
    let policy = Policy {
        threshold,
        base_reward: 1_000,
        reward_per_point: 0,
        cap: 1_000,
        batch_budget: 500,
    };
    let store = Arc::new(MemoryStore::new());
    let node = node_on(store, Protocol { policy, ..base.clone() }, manual_settings());
    let app = router(&node);
    for s in &submissions {
        assert_eq!(submit(&app, s).await.0, StatusCode::ACCEPTED);
    }
    let sequencer = node.sequencer();
    let mut rejected = 0;
    for _ in 0..submissions.len() {
        match sequencer.seal_now().unwrap() {
            SealOutcome::Idle => break,
            SealOutcome::Rejected { code, .. } => {
                assert_eq!(code, "over_batch_budget");
                rejected += 1;
            }
            SealOutcome::Sealed { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rejected, 4);
    assert_eq!(sequencer.pending_count(), 0);
    for s in &submissions {
        let (_, body) = get(&app, &format!("/v1/contributions/{}", id_of(s))).await;
        let view: ContributionView = serde_json::from_value(body).unwrap();
        let high = base.model.score(&s.contribution.features).unwrap() >= threshold;
        let expected = if high { "rejected" } else { "batched" };
        assert_eq!(serde_json::to_value(view.status).unwrap(), expected);
        if high {
            assert_eq!(view.rejection.unwrap().code, "over_batch_budget");
        }
    }
    // The rejected nonces stay used; the next ones are accepted.
    assert_eq!(submit(&app, &signed(1, 8)).await.1["code"], "nonce_replayed");
    assert_eq!(submit(&app, &signed(1, 9)).await.0, StatusCode::ACCEPTED);
    node.shutdown().await;
}

#[tokio::test]
async fn restart_resumes_exactly_where_it_stopped() {
    let store = Arc::new(MemoryStore::new());
    let protocol = Protocol::development(DEPTH);
    let node = node_on(store.clone(), protocol.clone(), manual_settings());
    let app = router(&node);
    for seed in 1..=3 {
        assert_eq!(submit(&app, &signed(seed, 1)).await.0, StatusCode::ACCEPTED);
    }
    node.sequencer().seal_now().unwrap();
    for seed in 1..=2 {
        assert_eq!(submit(&app, &signed(seed, 2)).await.0, StatusCode::ACCEPTED);
    }
    let (_, before) = get(&app, "/v1/status").await;
    node.shutdown().await;

    let node = node_on(store.clone(), protocol.clone(), manual_settings());
    let app = router(&node);
    let (_, after) = get(&app, "/v1/status").await;
    assert_eq!(after, before);
    let status: StatusView = serde_json::from_value(after).unwrap();
    assert_eq!((status.pending, status.last_batch), (2, Some(1)));
    assert_eq!(submit(&app, &signed(1, 2)).await.1["code"], "nonce_replayed");
    let (status_code, receipt) = submit(&app, &signed(1, 3)).await;
    assert_eq!(status_code, StatusCode::ACCEPTED);
    assert_eq!(receipt["seq"], 6, "sequence numbers continue");
    assert_eq!(
        node.sequencer().seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 2, contributions: 3 }
    );
    let root = fr_to_b256(&node.sequencer().head().state.root());
    node.shutdown().await;

    // Another configuration is refused on this chain.
    let other = Protocol { tree_depth: DEPTH + 1, ..protocol.clone() };
    let err =
        merit_sequencer::Sequencer::open(other, manual_settings(), store.clone()).unwrap_err();
    assert!(matches!(err, NodeError::GenesisMismatch { field: "tree depth", .. }), "{err}");
    let other = Protocol { policy: flat_policy(1, 1), ..protocol.clone() };
    let err =
        merit_sequencer::Sequencer::open(other, manual_settings(), store.clone()).unwrap_err();
    assert!(err.to_string().contains("policy commitment"), "{err}");

    let node = node_on(store, protocol, manual_settings());
    assert_eq!(fr_to_b256(&node.sequencer().head().state.root()), root);
    node.shutdown().await;
}
