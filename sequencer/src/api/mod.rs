//! The HTTP API (axum, JSON, versioned under `/v1`).
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/contributions` | submit a `SignedContribution`; `202` + [`Receipt`] once durable |
//! | `POST /v1/contributions/batch` | submit many ([`BatchSubmission`], e.g. from a relay); `200` + one result per contribution ([`BatchResults`]) once the accepted ones are durable |
//! | `GET /v1/contributions/{id}` | a contribution, its status and batch |
//! | `GET /v1/batches/{id}` | a sealed batch with signatures and its `BatchOutput` |
//! | `GET /v1/batches/{id}/proof` | the accepted proof of a batch, who made it and when |
//! | `POST /v1/jobs/lease` | lease the oldest unproven batch: `200` + `Job`, or `204` |
//! | `POST /v1/jobs/{batch_id}/proof` | upload a proof under a lease; verified before it is stored |
//! | `GET /v1/jobs` | the job queue: every unproven batch, sealed or leased (by whom, until when) |
//! | `GET /v1/jobs/{batch_id}` | one batch's job: sealed, leased or proven |
//! | `GET /v1/accounts/{address}` | cumulative, claimed, claimable, nonces, last batch |
//! | `GET /v1/accounts/{address}/claim-proof` | the exact `claim()` arguments (against the newest settled batch when the node settles on L1) |
//! | `GET /v1/status` | queue, head, state root, commitments, L1 settlement |
//! | `GET /v1/openapi.json` | the OpenAPI 3 document |
//! | `GET /health` | liveness and store check |
//! | `GET /metrics` | Prometheus text |
//!
//! Every error body is an [`ErrorBody`] `{ code, message }`; 500s carry no details (they are
//! logged). The job routes answer `503 job_queue_disabled` on a node without a circuit
//! configuration (see [`crate::jobs`]).

mod error;
mod extract;
mod openapi;

use std::{str::FromStr, sync::Arc, time::Instant};

use alloy_primitives::{Address, B256};
use axum::{
    extract::{rejection::PathRejection, DefaultBodyLimit, Path, State},
    http::{header, StatusCode},
    response::IntoResponse,
    routing::{get, post, MethodRouter},
    Json, Router,
};
use merit_core::{
    field::{fr_to_b256, serde_u128},
    Batch, BatchOutput, ClaimProof, SignedContribution,
};
use serde::{Deserialize, Serialize};

pub use error::{ApiError, ApiResult, ErrorBody};
pub use extract::ApiJson;
pub use openapi::openapi;

use merit_prover::job::{LeaseRequest, ProofUpload};

use crate::{
    jobs::{JobQueue, JobView, JobsView},
    sequencer::{Receipt, Sequencer},
    store::{
        AccountBatches, Accounts, BatchOutputs, Batches, ContributionRecord, Contributions,
        MetaKey, Metadata, Nonces, Outcome, Outcomes, ProofRecord, Proofs, StoreExt,
    },
    submitter::L1Status,
};

/// Largest proof upload, bytes (a proof is a few kB to a few hundred kB of JSON; the node's
/// `api.body_limit` is for contributions).
pub const PROOF_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The state every handler gets.
pub type AppState = Arc<Sequencer>;

/// Every route: path, method and handler. [`app`] is built from this list, and the OpenAPI
/// document is tested against it.
fn routes(batch_body_limit: usize) -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("/v1/contributions", "post", post(submit)),
        (
            "/v1/contributions/batch",
            "post",
            post(submit_batch).layer(DefaultBodyLimit::max(batch_body_limit)),
        ),
        ("/v1/contributions/{id}", "get", get(contribution)),
        ("/v1/batches/{id}", "get", get(batch)),
        ("/v1/batches/{id}/proof", "get", get(batch_proof)),
        ("/v1/jobs", "get", get(jobs)),
        ("/v1/jobs/lease", "post", post(lease)),
        ("/v1/jobs/{batch_id}", "get", get(job)),
        (
            "/v1/jobs/{batch_id}/proof",
            "post",
            post(upload_proof).layer(DefaultBodyLimit::max(PROOF_BODY_LIMIT)),
        ),
        ("/v1/accounts/{address}", "get", get(account)),
        ("/v1/accounts/{address}/claim-proof", "get", get(claim_proof)),
        ("/v1/status", "get", get(status)),
        ("/v1/openapi.json", "get", get(openapi_document)),
        ("/health", "get", get(health)),
        ("/metrics", "get", get(metrics)),
    ]
}

/// `(path, method)` of every route, e.g. `("/v1/batches/{id}", "get")`.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    routes(0).into_iter().map(|(path, method, _)| (path, method)).collect()
}

/// The API router over a running sequencer.
pub fn app(sequencer: AppState) -> Router {
    let settings = sequencer.settings();
    let body_limit = settings.body_limit;
    let batch_body_limit = body_limit.saturating_mul(settings.max_batch_contributions);
    routes(batch_body_limit)
        .into_iter()
        .fold(Router::new(), |router, (path, _, handler)| router.route(path, handler))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(sequencer)
}

/// A contribution as `GET /v1/contributions/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributionView {
    /// The id (EIP-712 signing hash).
    pub id: B256,
    /// Acknowledgement order.
    pub seq: u64,
    /// When it was acknowledged, ms since the Unix epoch.
    pub received_at_ms: u64,
    /// `pending`, `batched` or `rejected`.
    pub status: ContributionStatus,
    /// The batch it was sealed into.
    pub batch_id: Option<u64>,
    /// Why the batcher rejected it (status `rejected` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<ErrorBody>,
    /// The contribution and its signature.
    pub contribution: SignedContribution,
}

/// Where a contribution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributionStatus {
    /// Acknowledged, waiting for a batch.
    Pending,
    /// Sealed into a batch.
    Batched,
    /// Refused by `apply_batch` on its own; it will never be batched.
    Rejected,
}

/// A batch as `GET /v1/batches/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchView {
    /// The batch with every signature.
    pub batch: Batch,
    /// What its proof will be about.
    pub output: BatchOutput,
}

/// An account as `GET /v1/accounts/{address}` returns it.
///
/// `cumulative` is as of the last sealed batch (not yet proven or settled on L1). On a node
/// with an L1 submitter, `claimed` is read from the rollup (`claimed(address)`) and
/// `claimable` is the cumulative of the newest *settled* batch that touched the account minus
/// `claimed`: what `claim()` pays now. Without one, `claimed` is `0` and `claimable` equals
/// `cumulative`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    /// The account.
    pub address: Address,
    /// Total reward as of the last sealed batch that touched it (decimal string).
    #[serde(with = "serde_u128")]
    pub cumulative: u128,
    /// Paid out on L1 (`0` on a node without an L1 submitter).
    #[serde(with = "serde_u128")]
    pub claimed: u128,
    /// `cumulative - claimed`.
    #[serde(with = "serde_u128")]
    pub claimable: u128,
    /// Last nonce acknowledged (pending or batched); the next must be above.
    pub last_nonce: u64,
    /// Last nonce in the account's leaf (batched).
    pub settled_nonce: u64,
    /// The last batch that touched it.
    pub last_batch: Option<u64>,
}

/// The node's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusView {
    /// Contributions waiting for a batch.
    pub pending: u64,
    /// The last sealed batch.
    pub last_batch: Option<u64>,
    /// The account-tree root after it.
    pub state_root: B256,
    /// Number of accounts.
    pub accounts: usize,
    /// The model commitment.
    pub model_commitment: B256,
    /// The policy commitment.
    pub policy_commitment: B256,
    /// The model's input width.
    pub feature_dim: usize,
    /// The EIP-712 chain id.
    pub chain_id: u64,
    /// The EIP-712 verifying contract (the rollup).
    pub rollup: Address,
    /// The account-tree depth.
    pub tree_depth: usize,
    /// Batch size limit.
    pub max_batch_size: usize,
    /// Batch age limit, ms.
    pub max_batch_age_ms: u64,
    /// The L1 submitter's view of the settlement chain; absent on a node without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1: Option<L1Status>,
}

async fn submit(
    State(sequencer): State<AppState>,
    body: Result<ApiJson<SignedContribution>, ApiError>,
) -> ApiResult<impl IntoResponse> {
    let started = Instant::now();
    let metrics = sequencer.metrics();
    let ApiJson(signed) = body.inspect_err(|e| metrics.submission(e.code()))?;
    let receipt: Receipt = match sequencer.submit(signed).await {
        Ok(receipt) => receipt,
        Err(error) => {
            metrics.submission(error.code());
            return Err(error.into());
        }
    };
    metrics.submission("accepted");
    metrics.ack_latency.observe(started.elapsed().as_secs_f64());
    let location = format!("/v1/contributions/{}", receipt.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(receipt)))
}

/// The body of `POST /v1/contributions/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSubmission {
    /// Signed contributions, from any contributors; one contributor's in nonce order.
    pub contributions: Vec<SignedContribution>,
}

/// The answer to `POST /v1/contributions/batch`: one result per submitted contribution, in
/// the order submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchResults {
    /// How many were acknowledged (durably stored).
    pub accepted: usize,
    /// Per contribution: `status` 202 with a receipt, or the status and error body that
    /// `POST /v1/contributions` would have answered for it alone.
    pub results: Vec<BatchResult>,
}

/// What became of one contribution of a batch submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchResult {
    /// 202, or the error's HTTP status.
    pub status: u16,
    /// The receipt (status 202).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Why it was refused (any other status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Many contributions in one request. A body that is not a [`BatchSubmission`] is refused
/// whole (as `POST /v1/contributions` refuses one), as are an empty list
/// (`422 empty_batch`) and one of more than `api.max_batch_contributions`
/// (`413 too_many_contributions`); nothing is stored then. Otherwise each contribution is
/// checked on its own (a bad one does not stop the others) and the answer is `200` with one
/// result per contribution.
async fn submit_batch(
    State(sequencer): State<AppState>,
    body: Result<ApiJson<BatchSubmission>, ApiError>,
) -> ApiResult<Json<BatchResults>> {
    let started = Instant::now();
    let metrics = sequencer.metrics();
    let ApiJson(BatchSubmission { contributions }) =
        body.inspect_err(|e| metrics.submission(e.code()))?;
    let limit = sequencer.settings().max_batch_contributions;
    if contributions.is_empty() {
        return Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
            "the batch has no contributions",
        ));
    }
    if contributions.len() > limit {
        return Err(ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_contributions",
            format!(
                "the batch has {} contributions; this node takes at most {limit} per request \
                 (api.max_batch_contributions)",
                contributions.len()
            ),
        ));
    }
    let outcomes = sequencer.submit_many(contributions).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut accepted = 0;
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(receipt) => {
                accepted += 1;
                metrics.submission("accepted");
                metrics.ack_latency.observe(elapsed);
                BatchResult {
                    status: StatusCode::ACCEPTED.as_u16(),
                    receipt: Some(receipt),
                    error: None,
                }
            }
            Err(error) => {
                metrics.submission(error.code());
                let (status, body) = ApiError::from(error).into_parts();
                BatchResult { status: status.as_u16(), receipt: None, error: Some(body) }
            }
        })
        .collect();
    Ok(Json(BatchResults { accepted, results }))
}

fn path_param<T: FromStr>(
    param: Result<Path<String>, PathRejection>,
    code: &'static str,
    what: &str,
) -> ApiResult<T> {
    let Path(raw) = param.map_err(|e| ApiError::bad_request(code, e.body_text()))?;
    raw.parse().map_err(|_| ApiError::bad_request(code, format!("{raw:?} is not {what}")))
}

async fn contribution(
    State(sequencer): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ContributionView>> {
    let id: B256 = path_param(id, "invalid_id", "a contribution id (0x + 64 hex digits)")?;
    let store = sequencer.store();
    let ContributionRecord { seq, received_at_ms, signed } =
        store.get::<Contributions>(&id)?.ok_or_else(|| {
            ApiError::not_found("contribution_not_found", format!("no contribution {id}"))
        })?;
    let (status, batch_id, rejection) = match store.get::<Outcomes>(&id)? {
        None => (ContributionStatus::Pending, None, None),
        Some(Outcome::Batched { batch_id }) => (ContributionStatus::Batched, Some(batch_id), None),
        Some(Outcome::Rejected { code, reason }) => {
            (ContributionStatus::Rejected, None, Some(ErrorBody { code, message: reason }))
        }
    };
    Ok(Json(ContributionView {
        id,
        seq,
        received_at_ms,
        status,
        batch_id,
        rejection,
        contribution: signed,
    }))
}

async fn batch(
    State(sequencer): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<BatchView>> {
    let id: u64 = path_param(id, "invalid_batch_id", "a batch id (a positive integer)")?;
    let store = sequencer.store();
    let not_found = || ApiError::not_found("batch_not_found", format!("no batch {id}"));
    let batch = store.get::<Batches>(&id)?.ok_or_else(not_found)?;
    let output = store.get::<BatchOutputs>(&id)?.ok_or_else(not_found)?;
    Ok(Json(BatchView { batch, output }))
}

async fn account(
    State(sequencer): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<AccountView>> {
    let address: Address =
        path_param(address, "invalid_address", "an address (0x + 40 hex digits)")?;
    let store = sequencer.store();
    let sealed = store.get::<Accounts>(&address)?;
    let last_nonce = store.get::<Nonces>(&address)?;
    if sealed.is_none() && last_nonce.is_none() {
        return Err(ApiError::not_found(
            "account_not_found",
            format!("{address} has no acknowledged contribution"),
        ));
    }
    let cumulative = sealed.map_or(0, |r| r.account.cumulative);
    let (claimed, claimable) = match sequencer.l1() {
        None => (0, cumulative),
        Some(chain) => {
            let settled = settled_entry(&sequencer, address, chain.settled_batch())?
                .map_or(0, |(_, cumulative)| cumulative);
            let claimed = chain.claimed(address).await.map_err(l1_unavailable)?;
            let claimed = u128::try_from(claimed).map_err(|_| {
                ApiError::internal(Inconsistent(format!("claimed({address}) exceeds 128 bits")))
            })?;
            (claimed, settled.saturating_sub(claimed))
        }
    };
    Ok(Json(AccountView {
        address,
        cumulative,
        claimed,
        claimable,
        last_nonce: last_nonce.unwrap_or(0),
        settled_nonce: sealed.map_or(0, |r| r.account.last_nonce),
        last_batch: sealed.map(|r| r.last_batch),
    }))
}

fn l1_unavailable(error: crate::submitter::L1Error) -> ApiError {
    ApiError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "l1_unavailable",
        format!("the settlement chain cannot be read: {error}"),
    )
}

/// The newest batch at or below `settled` that touched `address`, with its cumulative after it.
fn settled_entry(
    sequencer: &Sequencer,
    address: Address,
    settled: u64,
) -> ApiResult<Option<(u64, u128)>> {
    // (address, 0) ..: the account's batches in order; stop at the first past `settled`.
    let mut newest = None;
    let mut from = (address, 0u64);
    loop {
        let page = sequencer.store().scan::<AccountBatches>(Some(&from), 256)?;
        let full = page.len() == 256;
        for ((account, batch_id), cumulative) in page {
            if account != address || batch_id > settled {
                return Ok(newest);
            }
            newest = Some((batch_id, cumulative));
            from = (address, batch_id + 1);
        }
        if !full {
            return Ok(newest);
        }
    }
}

async fn claim_proof(
    State(sequencer): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ClaimProof>> {
    let address: Address =
        path_param(address, "invalid_address", "an address (0x + 40 hex digits)")?;
    let store = sequencer.store();
    let record = store.get::<Accounts>(&address)?.ok_or_else(|| {
        ApiError::not_found("no_claim", format!("no sealed batch has touched {address} yet"))
    })?;
    // With a settlement chain the proof must be against a batch the rollup knows.
    let batch_id = match sequencer.l1() {
        None => record.last_batch,
        Some(chain) => {
            let settled = chain.settled_batch();
            settled_entry(&sequencer, address, settled)?.map(|(batch_id, _)| batch_id).ok_or_else(
                || {
                    ApiError::not_found(
                        "not_settled",
                        format!(
                            "no batch touching {address} is settled on L1 yet (settled: {settled}, \
                             last batch touching it: {})",
                            record.last_batch
                        ),
                    )
                },
            )?
        }
    };
    let output = store.get::<BatchOutputs>(&batch_id)?.ok_or_else(|| {
        ApiError::internal(Inconsistent(format!("batch output {batch_id} is missing")))
    })?;
    let proof = output.claim_proof(batch_id, address).ok_or_else(|| {
        ApiError::internal(Inconsistent(format!(
            "{address} is not in the touched list of batch {batch_id}"
        )))
    })?;
    Ok(Json(proof))
}

async fn batch_proof(
    State(sequencer): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ProofRecord>> {
    let id: u64 = path_param(id, "invalid_batch_id", "a batch id (a positive integer)")?;
    let store = sequencer.store();
    if let Some(record) = store.get::<Proofs>(&id)? {
        return Ok(Json(record));
    }
    if store.contains::<Batches>(&id)? {
        Err(ApiError::not_found("proof_not_found", format!("batch {id} is not proven yet")))
    } else {
        Err(ApiError::not_found("batch_not_found", format!("no batch {id}")))
    }
}

fn job_queue(sequencer: &Sequencer) -> ApiResult<&JobQueue> {
    sequencer.jobs().ok_or_else(|| {
        ApiError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "job_queue_disabled",
            "this node has no prover job queue: start it with a circuit configuration \
             (prover.circuit, --circuit FILE) and an SRS",
        )
    })
}

/// Runs `work` on the blocking pool (store writes are synced; verification takes a while).
async fn blocking<T: Send + 'static>(
    sequencer: &AppState,
    work: impl FnOnce(&Sequencer) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let sequencer = sequencer.clone();
    tokio::task::spawn_blocking(move || work(&sequencer)).await.map_err(ApiError::internal)?
}

async fn lease(
    State(sequencer): State<AppState>,
    body: Result<ApiJson<LeaseRequest>, ApiError>,
) -> ApiResult<axum::response::Response> {
    job_queue(&sequencer)?;
    let ApiJson(request) = body?;
    let job = blocking(&sequencer, move |sequencer| {
        let jobs = job_queue(sequencer)?;
        Ok(jobs.lease(sequencer.store().as_ref(), sequencer.metrics(), &request.prover)?)
    })
    .await?;
    Ok(match job {
        Some(job) => (StatusCode::OK, Json(job)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn upload_proof(
    State(sequencer): State<AppState>,
    batch_id: Result<Path<String>, PathRejection>,
    body: Result<ApiJson<ProofUpload>, ApiError>,
) -> ApiResult<Json<merit_prover::job::ProofReceipt>> {
    job_queue(&sequencer)?;
    let batch_id: u64 =
        path_param(batch_id, "invalid_batch_id", "a batch id (a positive integer)")?;
    let ApiJson(upload) = body.inspect_err(|e| {
        sequencer.metrics().proofs_rejected.with_label_values(&[e.code()]).inc();
    })?;
    let receipt = blocking(&sequencer, move |sequencer| {
        let jobs = job_queue(sequencer)?;
        Ok(jobs.submit_proof(sequencer.store().as_ref(), sequencer.metrics(), batch_id, upload)?)
    })
    .await?;
    Ok(Json(receipt))
}

async fn jobs(State(sequencer): State<AppState>) -> ApiResult<Json<JobsView>> {
    Ok(Json(job_queue(&sequencer)?.view(sequencer.head().last_batch)))
}

async fn job(
    State(sequencer): State<AppState>,
    batch_id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<JobView>> {
    let jobs = job_queue(&sequencer)?;
    let batch_id: u64 =
        path_param(batch_id, "invalid_batch_id", "a batch id (a positive integer)")?;
    jobs.status(sequencer.store().as_ref(), batch_id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("batch_not_found", format!("no batch {batch_id}")))
}

/// The store contradicts itself (reported as a 500).
#[derive(Debug, thiserror::Error)]
#[error("inconsistent store: {0}")]
struct Inconsistent(String);

async fn status(State(sequencer): State<AppState>) -> Json<StatusView> {
    let head = sequencer.head();
    let protocol = sequencer.protocol();
    let settings = sequencer.settings();
    Json(StatusView {
        pending: sequencer.pending_count(),
        last_batch: head.last_batch,
        state_root: fr_to_b256(&head.state.root()),
        accounts: head.state.account_count(),
        model_commitment: sequencer.model_commitment(),
        policy_commitment: sequencer.policy_commitment(),
        feature_dim: protocol.model.input_dim(),
        chain_id: protocol.domain.chain_id,
        rollup: protocol.domain.verifying_contract,
        tree_depth: protocol.tree_depth,
        max_batch_size: settings.max_batch_size,
        max_batch_age_ms: settings.max_batch_age.as_millis() as u64,
        l1: sequencer.l1().map(|chain| chain.status()),
    })
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi())
}

async fn health(State(sequencer): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    sequencer.store().get::<Metadata>(&MetaKey::Head)?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

async fn metrics(State(sequencer): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        sequencer.metrics().render(),
    )
}

async fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method; see /v1/openapi.json",
    )
}
