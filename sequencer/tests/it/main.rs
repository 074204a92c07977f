//! merit-sequencer integration tests: the API through `app(..).oneshot(..)` on the in-memory
//! store, RocksDB in temp dirs, the batcher, a crash test against the real binary, the prover
//! job queue with real proofs of the tiny circuit, the prover worker against a served node, and
//! the L1 submitter settling on anvil.

mod api;
mod bad_input;
mod batch_submit;
mod batcher;
mod crash;
mod jobs;
mod l1;
mod rocks;
mod worker;

use std::sync::{Arc, OnceLock};

use alloy_primitives::B256;
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use merit_circuits::config::{CircuitConfig, LoadedConfig};
use merit_core::{samples, Contribution, MeritDomain, SignedContribution};
use merit_prover::{keys::keygen, Srs};
use merit_sequencer::{api::app, BatcherMode, Circuit, MemoryStore, Node, Protocol, Settings};
use serde_json::Value;
use tower::ServiceExt;

/// Tree depth used by the tests (small: fast hashing, same code paths).
pub(crate) const DEPTH: usize = 8;

/// Settings with batching left to the test (large size and age limits).
pub(crate) fn manual_settings() -> Settings {
    Settings {
        max_batch_size: 1_000,
        max_batch_age: std::time::Duration::from_secs(3_600),
        group_commit_window: std::time::Duration::ZERO,
        ..Settings::default()
    }
}

/// A node on `store` without a batcher task.
pub(crate) fn node_on(store: Arc<MemoryStore>, protocol: Protocol, settings: Settings) -> Node {
    Node::start(protocol, settings, store, BatcherMode::Manual).expect("the node starts")
}

/// A development node on a fresh in-memory store.
pub(crate) fn dev_node() -> (Node, Arc<MemoryStore>) {
    dev_node_with(manual_settings())
}

/// A development node with `settings` on a fresh in-memory store.
pub(crate) fn dev_node_with(settings: Settings) -> (Node, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    (node_on(store.clone(), Protocol::development(DEPTH), settings), store)
}

/// A contribution of dev key `seed` with `nonce` and features derived from both.
pub(crate) fn contribution(seed: u64, nonce: u64, dim: usize) -> Contribution {
    let mut rng = samples::SplitMix64::new(seed * 1_000_003 + nonce);
    Contribution {
        contributor: samples::dev_signer(seed).address(),
        task_id: rng.next_u64() % 1_000,
        nonce,
        features: samples::random_features(&mut rng, dim, 4096),
        payload_hash: rng.bytes32(),
    }
}

/// [`contribution`] signed by its key under the development domain.
pub(crate) fn signed(seed: u64, nonce: u64) -> SignedContribution {
    samples::sign(&samples::dev_signer(seed), &samples::dev_domain(), contribution(seed, nonce, 16))
}

/// Its id under the development domain.
pub(crate) fn id_of(signed: &SignedContribution) -> B256 {
    signed.contribution.signing_hash(&samples::dev_domain())
}

/// Signs under another domain.
pub(crate) fn signed_under(seed: u64, nonce: u64, domain: &MeritDomain) -> SignedContribution {
    samples::sign(&samples::dev_signer(seed), domain, contribution(seed, nonce, 16))
}

/// Sends one request through the router; returns the status and the JSON body (or the text
/// as a JSON string).
pub(crate) async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some((content_type, bytes)) => {
            if !content_type.is_empty() {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// `POST /v1/contributions` with a JSON value.
pub(crate) async fn post_json(router: &Router, body: &Value) -> (StatusCode, Value) {
    post_raw(router, serde_json::to_vec(body).unwrap()).await
}

/// `POST /v1/contributions` with raw bytes as `application/json`.
pub(crate) async fn post_raw(router: &Router, body: Vec<u8>) -> (StatusCode, Value) {
    call(router, Method::POST, "/v1/contributions", Some(("application/json", body))).await
}

/// `POST` a signed contribution.
pub(crate) async fn submit(router: &Router, signed: &SignedContribution) -> (StatusCode, Value) {
    post_json(router, &serde_json::to_value(signed).unwrap()).await
}

/// `GET` a path.
pub(crate) async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    call(router, Method::GET, uri, None).await
}

/// The router of a node.
pub(crate) fn router(node: &Node) -> Router {
    app(node.sequencer().clone())
}

/// The checked-in circuit configuration `circuits/configs/{name}.json`.
fn load_config(name: &str) -> LoadedConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../circuits/configs/{name}.json"));
    CircuitConfig::load(&path)
        .unwrap_or_else(|e| panic!("the {name} configuration does not load: {e}"))
}

/// `config` with the development SRS and freshly generated keys.
fn keyed(config: &LoadedConfig) -> Arc<Circuit> {
    let srs = Srs::development(config.config.k as u32);
    let name = &config.config.name;
    let keys = keygen(config, &srs).unwrap_or_else(|e| panic!("keygen of {name}: {e}"));
    Arc::new(Circuit::new(srs, Arc::new(keys)))
}

/// The checked-in configuration `name`, keyed ([`keyed`]).
fn keyed_circuit(name: &str) -> Arc<Circuit> {
    keyed(&load_config(name))
}

/// `tiny` with `active_depth` 2: leaf writes on the first 4 leaves, so at most 3 accounts
/// (the sentinel takes one); keys generated once per test process.
pub(crate) fn tiny_prefix_circuit() -> Arc<Circuit> {
    static CIRCUIT: OnceLock<Arc<Circuit>> = OnceLock::new();
    CIRCUIT
        .get_or_init(|| {
            let tiny = load_config("tiny");
            let mut config = tiny.config.clone();
            config.name = "tiny-prefix".into();
            config.active_depth = Some(2);
            keyed(&config.with_model(tiny.model).expect("active_depth 2 < depth 8"))
        })
        .clone()
}

/// The tiny circuit configuration (4 contributions, 2 accounts, depth 8, the 4-8-1 tanh model);
/// keys generated once per test process.
pub(crate) fn tiny_circuit() -> Arc<Circuit> {
    static CIRCUIT: OnceLock<Arc<Circuit>> = OnceLock::new();
    CIRCUIT.get_or_init(|| keyed_circuit("tiny")).clone()
}

/// `tiny-split` (the tiny circuit with one link slot: at most one new account per batch); keys
/// generated once per test process.
pub(crate) fn tiny_split_circuit() -> Arc<Circuit> {
    static CIRCUIT: OnceLock<Arc<Circuit>> = OnceLock::new();
    CIRCUIT.get_or_init(|| keyed_circuit("tiny-split")).clone()
}

/// The development protocol with the tiny circuit's model and depth.
pub(crate) fn tiny_protocol() -> Protocol {
    Protocol { model: tiny_circuit().config().model.clone(), ..Protocol::development(DEPTH) }
}

/// [`signed`] with the tiny model's 4 features.
pub(crate) fn signed_tiny(seed: u64, nonce: u64) -> SignedContribution {
    samples::sign(&samples::dev_signer(seed), &samples::dev_domain(), contribution(seed, nonce, 4))
}
