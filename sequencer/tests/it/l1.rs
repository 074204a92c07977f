//! The L1 submitter against a real node (anvil from `verifier-contracts/node_modules`, installed
//! by `verifier-contracts/scripts/install.sh`), with real proofs of the tiny circuit made by the
//! prover worker: batches settle in order; a revert (the rollup paused) is reported and retried
//! until the operator fixes it; claim proofs from the API are accepted by `claim()` and pay
//! once; after a restart of the node on its RocksDB directory the submitter sends nothing twice
//! and settles the next batch. Deadlines are generous and only bound polling.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use axum::http::StatusCode;
use merit_contracts::{claim, deploy, fund, transact, DemoRewardToken, RewardRollup, RollupParams};
use merit_core::{field::fr_to_u256, samples, ClaimProof, MeritDomain, Policy, State};
use merit_prover::worker::{LocalProver, Worker, WorkerOptions};
use merit_sequencer::{
    config::L1Config,
    submitter::{load_signer, Submitter},
    BatcherMode, JobQueue, Node, Protocol, RocksStore, SealOutcome, Settings, SystemClock,
};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{contribution, get, manual_settings, router, submit, tiny_circuit, tiny_protocol};

const DEADLINE: Duration = Duration::from_secs(600);

fn anvil_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(path.exists(), "{path:?} is missing: run verifier-contracts/scripts/install.sh");
    path
}

/// A policy under which most contributions of the tiny model earn.
fn policy() -> Policy {
    Policy {
        threshold: -100,
        base_reward: 1_000_000,
        reward_per_point: 10_000,
        cap: 5_000_000,
        batch_budget: 100_000_000,
    }
}

/// The tiny protocol with [`policy`] under `domain`.
fn protocol(domain: MeritDomain) -> Protocol {
    Protocol { domain, policy: policy(), ..tiny_protocol() }
}

struct Chain {
    anvil: AnvilInstance,
    domain: MeritDomain,
    token: Address,
    owner: PrivateKeySigner,
}

/// Starts anvil and deploys the token, the tiny verifier and the rollup (funded).
async fn chain() -> Chain {
    let anvil = Anvil::at(anvil_path()).args(["--hardfork", "prague"]).spawn();
    let owner: PrivateKeySigner = anvil.keys()[0].clone().into();
    let provider = ProviderBuilder::new().wallet(owner.clone()).connect_http(anvil.endpoint_url());
    let protocol = protocol(samples::dev_domain());
    let params = RollupParams {
        circuit: "tiny".into(),
        model_commitment: fr_to_u256(&protocol.model.commitment()),
        policy_commitment: fr_to_u256(&protocol.policy.commitment()),
        genesis_root: fr_to_u256(&State::new(protocol.tree_depth).unwrap().root()),
        timelock_delay: U256::from(86_400),
        owner: owner.address(),
        guardian: Address::ZERO,
        token_supply: U256::from(10u64).pow(U256::from(24)),
    };
    let deployment = deploy(&provider, &params).await.unwrap();
    fund(&provider, &deployment, U256::from(10u64).pow(U256::from(20))).await.unwrap();
    let domain = MeritDomain { chain_id: anvil.chain_id(), verifying_contract: deployment.rollup };
    Chain { anvil, domain, token: deployment.token, owner }
}

/// A node with the job queue on RocksDB in `dir` (batches sealed by the test), served on a free
/// port, with an L1 submitter sending from anvil's account 1.
async fn start(chain: &Chain, dir: &Path) -> (Node, SocketAddr, tokio::task::JoinHandle<()>) {
    let settings = Settings { max_batch_size: 4, ..manual_settings() };
    let jobs = JobQueue::new(tiny_circuit(), Duration::from_secs(600), Arc::new(SystemClock));
    let store = RocksStore::open(dir).unwrap();
    let mut node = Node::start_with_jobs(
        protocol(chain.domain),
        settings,
        Arc::new(store),
        BatcherMode::Manual,
        Some(jobs),
    )
    .unwrap();
    let config = L1Config {
        rpc_url: Some(chain.anvil.endpoint()),
        key_file: None,
        confirmations: 1,
        poll_ms: 50,
    };
    let key = alloy::hex::encode(chain.anvil.keys()[1].to_bytes());
    let signer = load_signer(&config, Some(&key)).unwrap();
    let submitter = Submitter::connect(&config, signer, node.sequencer().clone()).await.unwrap();
    node.start_submitter(submitter);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(&node);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (node, addr, server)
}

/// A prover worker on its own thread, proving every job it can lease until stopped.
fn worker(addr: SocketAddr) -> Arc<std::sync::atomic::AtomicBool> {
    let circuit = tiny_circuit();
    let options = WorkerOptions {
        sequencer: format!("http://{addr}"),
        prover_id: "l1-test-worker".into(),
        once: false,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        progress: false,
    };
    let worker =
        Worker::new(options, LocalProver::new(circuit.srs().clone()), circuit.keys().clone())
            .unwrap();
    let stop = worker.stop_handle();
    std::thread::spawn(move || worker.run().expect("the worker runs"));
    stop
}

/// A contribution of dev key `seed` with `nonce`, signed under `domain`.
fn signed(seed: u64, nonce: u64, domain: &MeritDomain) -> merit_core::SignedContribution {
    samples::sign(&samples::dev_signer(seed), domain, contribution(seed, nonce, 4))
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn l1_status(node: &Node) -> Value {
    let (status, body) = get(&router(node), "/v1/status").await;
    assert_eq!(status, StatusCode::OK);
    body["l1"].clone()
}

async fn wait_settled(node: &Node, batch_id: u64) {
    wait_for(&format!("batch {batch_id} to settle"), async || {
        l1_status(node).await["settled_batch"].as_u64() >= Some(batch_id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proven_batches_settle_in_order_and_api_claim_proofs_pay_once() {
    let chain = chain().await;
    let provider =
        ProviderBuilder::new().wallet(chain.owner.clone()).connect_http(chain.anvil.endpoint_url());
    let rollup = RewardRollup::new(chain.domain.verifying_contract, &provider);
    let token = DemoRewardToken::new(chain.token, &provider);
    let submitter = chain.anvil.addresses()[1];
    let dir = tempfile::tempdir().unwrap();
    let domain = chain.domain;

    // The rollup is paused: settling batch 1 reverts, and the node says why.
    transact(rollup.pause(), "RewardRollup", "pause").await.unwrap();
    let (node, addr, server) = start(&chain, dir.path()).await;
    let reported =
        l1_status(&node).await["submitter"].as_str().and_then(|a| a.parse::<Address>().ok());
    assert_eq!(reported, Some(submitter));
    let app = router(&node);
    for s in [signed(1, 1, &domain), signed(1, 2, &domain), signed(2, 1, &domain)] {
        assert_eq!(submit(&app, &s).await.0, StatusCode::ACCEPTED);
    }
    seal(&node, 1);
    let stop_worker = worker(addr);
    wait_for("the paused rollup's revert to be reported", async || {
        l1_status(&node).await["last_error"].as_str().is_some_and(|e| e.contains("ContractPaused"))
    })
    .await;
    let metrics = node.sequencer().metrics();
    assert!(metrics.l1_submissions.with_label_values(&["reverted"]).get() >= 1);
    assert_eq!(rollup.lastBatchId().call().await.unwrap(), 0);
    // Before settlement there is nothing to claim against.
    let (status, body) = get(&app, &format!("/v1/accounts/{}/claim-proof", dev(1))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_settled")));

    // The operator unpauses: batch 1 settles, then batch 2 (accounts 2 and 3).
    transact(rollup.unpause(), "RewardRollup", "unpause").await.unwrap();
    wait_settled(&node, 1).await;
    assert!(l1_status(&node).await["last_error"].is_null());
    for s in [signed(2, 2, &domain), signed(3, 1, &domain)] {
        assert_eq!(submit(&app, &s).await.0, StatusCode::ACCEPTED);
    }
    seal(&node, 2);
    wait_settled(&node, 2).await;
    assert_eq!(rollup.lastBatchId().call().await.unwrap(), 2);
    let sent = provider.get_transaction_count(submitter).await.unwrap();
    assert_eq!(sent, 2, "one submitBatch per batch, none repeated");
    assert_eq!(metrics.l1_submissions.with_label_values(&["settled"]).get(), 2);
    assert!(metrics.l1_gas_used.get() > 0);

    // Every account claims with the API's proof; a second claim reverts.
    let mut paid = U256::ZERO;
    for seed in [1, 2, 3] {
        let account = dev(seed);
        let (status, body) = get(&app, &format!("/v1/accounts/{account}/claim-proof")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proof: ClaimProof = serde_json::from_value(body).unwrap();
        assert!(proof.cumulative > 0, "account {seed} earned nothing: {proof:?}");
        let (_, view) = get(&app, &format!("/v1/accounts/{account}")).await;
        assert_eq!(view["claimable"].as_str(), Some(&*proof.cumulative.to_string()), "{view}");
        claim(&provider, chain.domain.verifying_contract, &proof).await.unwrap();
        assert_eq!(token.balanceOf(account).call().await.unwrap(), U256::from(proof.cumulative));
        paid += U256::from(proof.cumulative);
        let (_, view) = get(&app, &format!("/v1/accounts/{account}")).await;
        assert_eq!(view["claimed"].as_str(), Some(&*proof.cumulative.to_string()), "{view}");
        assert_eq!(view["claimable"].as_str(), Some("0"), "{view}");
        let err = claim(&provider, chain.domain.verifying_contract, &proof).await.unwrap_err();
        assert!(err.revert_reason().is_some_and(|r| r.contains("NothingToClaim")), "{err}");
    }
    assert_eq!(paid, U256::from(rollup.totalRewarded().call().await.unwrap()));

    // Restart the node on the same data directory: nothing is sent again, and the next batch
    // settles.
    stop_worker.store(true, Ordering::SeqCst);
    drop(app);
    server.abort();
    let _ = server.await;
    node.shutdown().await;
    let (node, addr, server) = start(&chain, dir.path()).await;
    let stop_worker = worker(addr);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(provider.get_transaction_count(submitter).await.unwrap(), 2);
    let app = router(&node);
    assert_eq!(submit(&app, &signed(3, 2, &domain)).await.0, StatusCode::ACCEPTED);
    seal(&node, 3);
    wait_settled(&node, 3).await;
    assert_eq!(provider.get_transaction_count(submitter).await.unwrap(), 3);
    let (status, body) = get(&app, &format!("/v1/accounts/{}/claim-proof", dev(3))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["batch_id"].as_u64(), Some(3), "{body}");
    stop_worker.store(true, Ordering::SeqCst);
    server.abort();
    node.shutdown().await;
}

/// Seals the pending contributions as batch `batch_id`.
fn seal(node: &Node, batch_id: u64) {
    let outcome = node.sequencer().seal_now().unwrap();
    assert!(
        matches!(outcome, SealOutcome::Sealed { batch_id: b, .. } if b == batch_id),
        "{outcome:?}"
    );
}

fn dev(seed: u64) -> Address {
    samples::dev_signer(seed).address()
}
