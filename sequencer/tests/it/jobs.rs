//! The prover job queue through the router: leases, real proofs of the tiny circuit, lapsed
//! leases on a fake clock, tampered proofs, parallel leases, the batch shape the circuit fixes,
//! and durability on RocksDB.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    http::{Method, StatusCode},
    Router,
};
use merit_core::vectors::BatchVector;
use merit_prover::{job::Job, BatchProof};
use merit_sequencer::{
    jobs::JobSetupError, BatcherMode, Circuit, Clock, JobQueue, ManualClock, MemoryStore, Node,
    NodeError, RocksStore, SealOutcome, Settings, Store,
};
use serde_json::{json, Value};

use crate::{
    call, get, manual_settings, router, signed_tiny, submit, tiny_circuit, tiny_prefix_circuit,
    tiny_protocol, tiny_split_circuit,
};

const LEASE: Duration = Duration::from_secs(600);
const T0: u64 = 1_700_000_000_000;

fn job_settings() -> Settings {
    Settings { max_batch_size: 4, ..manual_settings() }
}

fn queue(clock: &Arc<ManualClock>) -> JobQueue {
    JobQueue::new(tiny_circuit(), LEASE, clock.clone() as Arc<dyn Clock>)
}

fn start(store: Arc<dyn Store>, clock: &Arc<ManualClock>) -> Node {
    Node::start_with_jobs(
        tiny_protocol(),
        job_settings(),
        store,
        BatcherMode::Manual,
        Some(queue(clock)),
    )
    .expect("the node starts with the job queue")
}

/// Submits `(seed, nonce)` contributions and seals them into one batch.
async fn seal(node: &Node, app: &Router, contributions: &[(u64, u64)]) -> u64 {
    for &(seed, nonce) in contributions {
        let (status, body) = submit(app, &signed_tiny(seed, nonce)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    match node.sequencer().seal_now().unwrap() {
        SealOutcome::Sealed { batch_id, .. } => batch_id,
        other => panic!("not sealed: {other:?}"),
    }
}

/// The first batch every proving test seals: contributors 1 and 2, nonce 1, on an empty tree.
const FIRST: &[(u64, u64)] = &[(1, 1), (2, 1)];

/// The proof of [`FIRST`] (deterministic, so one proof serves every test that seals it).
fn first_proof(vector: &BatchVector) -> BatchProof {
    static PROOF: OnceLock<BatchProof> = OnceLock::new();
    let proof = PROOF
        .get_or_init(|| {
            let circuit = tiny_circuit();
            merit_prover::prove(circuit.srs(), circuit.keys(), vector)
                .expect("the tiny batch proves")
        })
        .clone();
    assert_eq!(proof.batch_id, vector.batch.batch_id, "tests must seal FIRST as batch 1");
    proof
}

pub(crate) async fn lease(app: &Router, prover: &str) -> (StatusCode, Option<Job>) {
    let body = serde_json::to_vec(&json!({ "prover": prover })).unwrap();
    let (status, value) =
        call(app, Method::POST, "/v1/jobs/lease", Some(("application/json", body))).await;
    let job = (status == StatusCode::OK).then(|| serde_json::from_value(value).unwrap());
    (status, job)
}

async fn upload(
    app: &Router,
    batch_id: u64,
    lease_id: impl serde::Serialize,
    proof: &BatchProof,
) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&json!({ "lease_id": lease_id, "proof": proof })).unwrap();
    let uri = format!("/v1/jobs/{batch_id}/proof");
    call(app, Method::POST, &uri, Some(("application/json", body))).await
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Leases `batch_ids` in turn, proves each with `circuit` (the job names its configuration)
/// and uploads the proof, which the queue must accept.
async fn prove_in_order(app: &Router, circuit: &Circuit, batch_ids: &[u64]) {
    let config = &circuit.config().config.name;
    for &batch_id in batch_ids {
        let (status, job) = lease(app, "alice").await;
        assert_eq!(status, StatusCode::OK);
        let job = job.unwrap();
        assert_eq!((job.batch_id, &job.config), (batch_id, config));
        let proof = merit_prover::prove(circuit.srs(), circuit.keys(), &job.vector)
            .unwrap_or_else(|e| panic!("batch {batch_id} does not prove with {config}: {e}"));
        let (status, receipt) = upload(app, batch_id, job.lease_id, &proof).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
}

async fn metrics(app: &Router) -> String {
    get(app, "/metrics").await.1.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_is_verified_stored_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    let node = start(Arc::new(RocksStore::open(&path).unwrap()), &clock);
    let app = router(&node);
    assert_eq!(seal(&node, &app, FIRST).await, 1);

    let (status, queue) = get(&app, "/v1/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["config"], "tiny");
    assert_eq!(
        queue["open"],
        json!([{ "batch_id": 1, "status": "sealed", "prover": null,
        "leased_at": null, "expires_at": null, "proven_at": null }])
    );

    let (status, job) = lease(&app, "alice").await;
    assert_eq!(status, StatusCode::OK);
    let job = job.unwrap();
    assert_eq!((job.batch_id, job.config.as_str()), (1, "tiny"));
    assert_eq!(job.expires_at, T0 + LEASE.as_millis() as u64);
    assert_eq!(job.vector.batch.contributions.len(), 2);
    assert_eq!(job.vector.prev_state.account_count(), 0);
    let (_, batch) = get(&app, "/v1/batches/1").await;
    assert_eq!(serde_json::to_value(&job.vector.output).unwrap(), batch["output"]);
    // Every unproven batch is leased: nothing for a second worker.
    assert_eq!(lease(&app, "bob").await.0, StatusCode::NO_CONTENT);
    let (_, view) = get(&app, "/v1/jobs/1").await;
    assert_eq!((view["status"].as_str(), view["prover"].as_str()), (Some("leased"), Some("alice")));
    assert_eq!(view["expires_at"], job.expires_at);

    let proof = first_proof(&job.vector);
    let (status, receipt) = upload(&app, 1, job.lease_id, &proof).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt, json!({ "batch_id": 1, "prover": "alice", "accepted_at": T0 }));
    let (status, again) = upload(&app, 1, job.lease_id, &proof).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::CONFLICT, Some("already_proven")));
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "merit_sequencer_proofs_accepted_total"), 1.0);
    assert_eq!(metric(&text, "merit_sequencer_jobs_leased_total"), 1.0);
    assert_eq!(metric(&text, "merit_sequencer_open_jobs"), 0.0);
    drop(app);
    node.shutdown().await;

    // Reopen the database: the proof and the proven status are still there.
    let node = start(Arc::new(RocksStore::open(&path).unwrap()), &clock);
    let app = router(&node);
    let (status, view) = get(&app, "/v1/jobs/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "proven");
    assert_eq!(view["proven_at"], T0);
    let (status, stored) = get(&app, "/v1/batches/1/proof").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["prover"], "alice");
    let stored: BatchProof = serde_json::from_value(stored["proof"].clone()).unwrap();
    assert_eq!(stored, proof);
    let circuit = tiny_circuit();
    merit_prover::verify(circuit.srs().params(), circuit.keys().vk(), &stored).unwrap();
    assert_eq!(lease(&app, "carol").await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(&app, "/v1/jobs").await.1["open"], json!([]));
    drop(app);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_is_refused_and_the_batch_leased_again() {
    let clock = Arc::new(ManualClock::new(T0));
    let node = start(Arc::new(MemoryStore::new()), &clock);
    let app = router(&node);
    assert_eq!(seal(&node, &app, FIRST).await, 1);
    let (_, alice) = lease(&app, "alice").await;
    let alice = alice.unwrap();
    let proof = first_proof(&alice.vector);

    // The lease lapses (fake clock, no sleeping): alice's upload is refused, nothing stored.
    clock.advance(LEASE);
    let (status, body) = upload(&app, 1, alice.lease_id, &proof).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("lease_lost")),
        "{body}"
    );
    let (_, view) = get(&app, "/v1/jobs/1").await;
    assert_eq!((view["status"].as_str(), view["prover"].as_str()), (Some("sealed"), Some("alice")));

    // The next worker gets the batch with a new lease; alice's is still refused.
    let (status, bob) = lease(&app, "bob").await;
    assert_eq!(status, StatusCode::OK);
    let bob = bob.unwrap();
    assert_eq!(bob.batch_id, 1);
    assert_ne!(bob.lease_id, alice.lease_id);
    assert_eq!(bob.expires_at, T0 + 2 * LEASE.as_millis() as u64);
    let (status, body) = upload(&app, 1, alice.lease_id, &proof).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("lease_lost")));
    assert_eq!(get(&app, "/v1/batches/1/proof").await.1["code"], "proof_not_found");

    let (status, receipt) = upload(&app, 1, bob.lease_id, &proof).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["prover"], "bob");
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "merit_sequencer_leases_expired_total"), 1.0);
    assert_eq!(metric(&text, "merit_sequencer_jobs_leased_total"), 2.0);
    assert_eq!(metric(&text, "merit_sequencer_proofs_rejected_total{code=\"lease_lost\"}"), 2.0);
    drop(app);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_proofs_are_refused_and_nothing_is_stored() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryStore::new());
    let node = start(store.clone(), &clock);
    let app = router(&node);
    assert_eq!(seal(&node, &app, FIRST).await, 1);
    let (_, job) = lease(&app, "mallory").await;
    let job = job.unwrap();
    let proof = first_proof(&job.vector);
    let proofs_before = store.len("proofs");

    let mut changed_instance = proof.clone();
    changed_instance.instances[5] = alloy_primitives::B256::with_last_byte(1); // total reward
    let mut flipped_byte = proof.clone();
    let mut bytes = flipped_byte.proof.to_vec();
    bytes[100] ^= 1;
    flipped_byte.proof = bytes.into();
    let mut other_config = proof.clone();
    other_config.config = "n16".into();
    let mut other_batch = proof.clone();
    other_batch.batch_id = 2;
    for (tampered, code) in [
        (&changed_instance, "instance_mismatch"),
        (&flipped_byte, "invalid_proof"),
        (&other_config, "wrong_config"),
        (&other_batch, "wrong_batch"),
    ] {
        let (status, body) = upload(&app, 1, job.lease_id, tampered).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}"
        );
    }
    let (status, body) = upload(&app, 7, job.lease_id, &proof).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("batch_not_sealed")));
    let (status, body) = upload(&app, 1, alloy_primitives::B256::repeat_byte(7), &proof).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("lease_lost")));

    assert_eq!(store.len("proofs"), proofs_before);
    assert_eq!(get(&app, "/v1/batches/1/proof").await.1["code"], "proof_not_found");
    assert_eq!(get(&app, "/v1/jobs/1").await.1["status"], "leased");
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "merit_sequencer_proofs_rejected_total{code=\"invalid_proof\"}"), 1.0);
    assert_eq!(metric(&text, "merit_sequencer_proofs_accepted_total"), 0.0);

    // The genuine proof under the lease still goes through.
    assert_eq!(upload(&app, 1, job.lease_id, &proof).await.0, StatusCode::OK);
    drop(app);
    node.shutdown().await;
}

#[tokio::test]
async fn two_workers_lease_two_batches_at_once() {
    let clock = Arc::new(ManualClock::new(T0));
    let node = start(Arc::new(MemoryStore::new()), &clock);
    let app = router(&node);
    assert_eq!(seal(&node, &app, &[(1, 1), (2, 1)]).await, 1);
    assert_eq!(seal(&node, &app, &[(3, 1)]).await, 2);
    let (_, first) = lease(&app, "gpu-1").await;
    let (_, second) = lease(&app, "gpu-2").await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!((first.batch_id, second.batch_id), (1, 2));
    assert_eq!(second.vector.prev_state.account_count(), 2, "batch 2 starts after batch 1");
    assert_eq!(lease(&app, "gpu-3").await.0, StatusCode::NO_CONTENT);
    let (_, queue) = get(&app, "/v1/jobs").await;
    let holders: Vec<(u64, &str, &str)> = queue["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["batch_id"].as_u64().unwrap(),
                j["status"].as_str().unwrap(),
                j["prover"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(holders, vec![(1, "leased", "gpu-1"), (2, "leased", "gpu-2")]);
    // A bad worker id is refused.
    let body = serde_json::to_vec(&json!({ "prover": "" })).unwrap();
    let (status, body) =
        call(&app, Method::POST, "/v1/jobs/lease", Some(("application/json", body))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_prover"))
    );
    drop(app);
    node.shutdown().await;
}

#[tokio::test]
async fn job_routes_answer_503_without_a_circuit() {
    let (node, _store) = crate::dev_node();
    let app = router(&node);
    let body = serde_json::to_vec(&json!({ "prover": "p" })).unwrap();
    for (method, uri, body) in [
        (Method::POST, "/v1/jobs/lease", Some(("application/json", body.clone()))),
        (Method::POST, "/v1/jobs/1/proof", Some(("application/json", body))),
        (Method::GET, "/v1/jobs", None),
        (Method::GET, "/v1/jobs/1", None),
    ] {
        let (status, answer) = call(&app, method, uri, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("job_queue_disabled")),
            "{uri}"
        );
    }
    assert_eq!(get(&app, "/v1/batches/1/proof").await.1["code"], "batch_not_found");
    drop(app);
    node.shutdown().await;
}

#[tokio::test]
async fn the_circuit_fixes_the_batch_shape() {
    let clock = Arc::new(ManualClock::new(T0));
    let refuse = |protocol, settings| {
        let store = Arc::new(MemoryStore::new());
        match Node::start_with_jobs(
            protocol,
            settings,
            store,
            BatcherMode::Manual,
            Some(queue(&clock)),
        ) {
            Err(NodeError::Jobs(error)) => error,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("the node started"),
        }
    };
    let big = Settings { max_batch_size: 5, ..job_settings() };
    assert!(matches!(refuse(tiny_protocol(), big), JobSetupError::BatchSize { .. }));
    let wide = Settings { max_batch_accounts: Some(3), ..job_settings() };
    assert!(matches!(refuse(tiny_protocol(), wide), JobSetupError::BatchAccounts { .. }));
    let error = refuse(merit_sequencer::Protocol::development(crate::DEPTH), job_settings());
    assert!(matches!(error, JobSetupError::ModelMismatch { .. }), "{error}");
    assert!(error.to_string().contains("protocol.model"), "{error}");
    let deep = merit_sequencer::Protocol { tree_depth: 10, ..tiny_protocol() };
    assert!(matches!(refuse(deep, job_settings()), JobSetupError::DepthMismatch { .. }));

    // Three contributors pending, two account slots: the batch stops before the third.
    let node = start(Arc::new(MemoryStore::new()), &clock);
    assert_eq!(node.sequencer().settings().max_batch_accounts, Some(2));
    let app = router(&node);
    for signed in [signed_tiny(1, 1), signed_tiny(2, 1), signed_tiny(1, 2), signed_tiny(3, 1)] {
        assert_eq!(submit(&app, &signed).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(
        node.sequencer().seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 1, contributions: 3 }
    );
    assert_eq!(
        node.sequencer().seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 2, contributions: 1 }
    );
    drop(app);
    node.shutdown().await;
}

#[tokio::test]
async fn batches_sealed_before_the_queue_was_enabled_get_jobs() {
    let store = Arc::new(MemoryStore::new());
    let node =
        Node::start(tiny_protocol(), job_settings(), store.clone(), BatcherMode::Manual).unwrap();
    let app = router(&node);
    assert_eq!(seal(&node, &app, &[(1, 1), (2, 1)]).await, 1);
    assert_eq!(seal(&node, &app, &[(1, 2)]).await, 2);
    let (_, batch2) = get(&app, "/v1/batches/2").await;
    drop(app);
    node.shutdown().await;
    assert_eq!(store.len("job_vectors"), 0);

    let clock = Arc::new(ManualClock::new(T0));
    let node = start(store.clone(), &clock);
    let app = router(&node);
    let (_, queue) = get(&app, "/v1/jobs").await;
    assert_eq!(queue["open"].as_array().unwrap().len(), 2);
    let _ = lease(&app, "a").await;
    let (_, job) = lease(&app, "b").await;
    let job = job.unwrap();
    assert_eq!(job.batch_id, 2);
    assert_eq!(serde_json::to_value(&job.vector.output).unwrap(), batch2["output"]);
    assert_eq!(job.vector.prev_state.account_count(), 2);
    drop(app);
    node.shutdown().await;
}

/// A circuit with link slots (`max_new_accounts`) bounds the batcher's new accounts per batch:
/// the node refuses a larger limit, takes the circuit's by default, seals accordingly, and the
/// batches prove with it.
#[tokio::test]
async fn a_split_circuit_bounds_the_new_accounts_of_a_batch() {
    let clock = Arc::new(ManualClock::new(T0));
    let start_with = |settings| {
        let jobs = JobQueue::new(tiny_split_circuit(), LEASE, clock.clone() as Arc<dyn Clock>);
        Node::start_with_jobs(
            tiny_protocol(),
            settings,
            Arc::new(MemoryStore::new()),
            BatcherMode::Manual,
            Some(jobs),
        )
    };
    let wide = Settings { max_batch_new_accounts: Some(2), ..job_settings() };
    match start_with(wide) {
        Err(NodeError::Jobs(error @ JobSetupError::BatchNewAccounts { .. })) => {
            assert!(error.to_string().contains("max_new_accounts = 1"), "{error}");
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the node started"),
    }
    let node = start_with(job_settings()).expect("the node starts");
    assert_eq!(node.sequencer().settings().max_batch_new_accounts, Some(1));
    let app = router(&node);
    // Two new contributors: one batch each; then both existing in one batch.
    for (seed, nonce) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
        assert_eq!(submit(&app, &signed_tiny(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    let sealed: Vec<SealOutcome> = (0..2).map(|_| node.sequencer().seal_now().unwrap()).collect();
    assert_eq!(
        sealed,
        [
            SealOutcome::Sealed { batch_id: 1, contributions: 1 },
            SealOutcome::Sealed { batch_id: 2, contributions: 3 },
        ]
    );
    // Both batches prove with the split circuit (batch 2: contributor 1 exists, 2 is new) and
    // the queue accepts the proofs.
    prove_in_order(&app, &tiny_split_circuit(), &[1, 2]).await;
    drop(app);
    node.shutdown().await;
}

/// A circuit with an `active_depth` caps the tree's accounts: the node takes its capacity
/// (2^2 leaves: the sentinel and 3 accounts), seals up to it, rejects the first contribution of
/// a fourth contributor (`account_capacity`) instead of sealing a batch no prover could prove,
/// and the sealed batches prove with that circuit.
#[tokio::test]
async fn a_circuit_with_an_active_depth_caps_the_accounts() {
    let clock = Arc::new(ManualClock::new(T0));
    let circuit = tiny_prefix_circuit();
    let jobs = JobQueue::new(circuit.clone(), LEASE, clock.clone() as Arc<dyn Clock>);
    let node = Node::start_with_jobs(
        tiny_protocol(),
        job_settings(),
        Arc::new(MemoryStore::new()),
        BatcherMode::Manual,
        Some(jobs),
    )
    .expect("the node starts");
    assert_eq!(node.sequencer().settings().max_accounts, Some(3));
    let app = router(&node);
    assert_eq!(seal(&node, &app, FIRST).await, 1);
    for (seed, nonce) in [(3, 1), (4, 1)] {
        assert_eq!(submit(&app, &signed_tiny(seed, nonce)).await.0, StatusCode::ACCEPTED);
    }
    // 3 is the third account; 4 would be the fourth.
    assert_eq!(
        node.sequencer().seal_now().unwrap(),
        SealOutcome::Sealed { batch_id: 2, contributions: 1 }
    );
    match node.sequencer().seal_now().unwrap() {
        SealOutcome::Rejected { code, .. } => assert_eq!(code, "account_capacity"),
        other => panic!("not rejected: {other:?}"),
    }
    assert_eq!(node.sequencer().head().state.account_count(), 3);
    prove_in_order(&app, &circuit, &[1, 2]).await;
    drop(app);
    node.shutdown().await;
}

/// `fit` takes the circuit's account capacity (2^active_depth leaves, less the sentinel) unless
/// a lower one is set already; a circuit without an active depth leaves it alone.
#[test]
fn the_account_capacity_is_the_lower_of_the_setting_and_the_circuit() {
    let clock = Arc::new(ManualClock::new(T0));
    let fitted = |circuit: Arc<Circuit>, max_accounts| {
        let jobs = JobQueue::new(circuit, LEASE, clock.clone() as Arc<dyn Clock>);
        let mut settings = Settings { max_accounts, ..job_settings() };
        jobs.fit(&tiny_protocol(), &mut settings).expect("the settings fit");
        settings.max_accounts
    };
    assert_eq!(fitted(tiny_prefix_circuit(), None), Some(3));
    assert_eq!(fitted(tiny_prefix_circuit(), Some(2)), Some(2));
    assert_eq!(fitted(tiny_prefix_circuit(), Some(100)), Some(3));
    assert_eq!(fitted(tiny_circuit(), None), None);
    assert_eq!(fitted(tiny_circuit(), Some(7)), Some(7));
}

/// A batch sealed before the job queue was enabled that took the tree beyond the circuit's
/// account capacity cannot be proven with it: the node refuses to start with that circuit,
/// naming the batch, and the store keeps no job for it.
#[tokio::test]
async fn a_batch_beyond_the_capacity_sealed_before_the_queue_stops_the_node() {
    let store = Arc::new(MemoryStore::new());
    let node =
        Node::start(tiny_protocol(), job_settings(), store.clone(), BatcherMode::Manual).unwrap();
    let app = router(&node);
    assert_eq!(seal(&node, &app, &[(1, 1), (2, 1)]).await, 1);
    // Accounts 3 and 4: five leaves with the sentinel, one more than active depth 2 holds.
    assert_eq!(seal(&node, &app, &[(3, 1), (4, 1)]).await, 2);
    drop(app);
    node.shutdown().await;

    let clock = Arc::new(ManualClock::new(T0));
    let jobs = JobQueue::new(tiny_prefix_circuit(), LEASE, clock.clone() as Arc<dyn Clock>);
    match Node::start_with_jobs(
        tiny_protocol(),
        job_settings(),
        store.clone(),
        BatcherMode::Manual,
        Some(jobs),
    ) {
        Err(NodeError::Jobs(JobSetupError::Unprovable { batch_id, accounts, .. })) => {
            assert_eq!((batch_id, accounts), (2, 2));
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the node started"),
    }
    // Batch 1's job input (derived from the stored batches alone) was written before batch 2
    // was found too large; nothing else.
    assert_eq!(store.len("job_vectors"), 1);

    // The same store starts with a circuit that holds the whole tree.
    let node = start(store.clone(), &clock);
    let (_, queue) = get(&router(&node), "/v1/jobs").await;
    assert_eq!(queue["open"].as_array().unwrap().len(), 2);
    node.shutdown().await;
}
