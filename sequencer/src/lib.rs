//! # merit-sequencer
//!
//! Merit's sequencer: it takes EIP-712 signed contributions over HTTP, acknowledges each one
//! only after it is durably stored, seals them into batches with merit-core's
//! [`apply_batch`](merit_core::apply_batch), serves batches, accounts and claim proofs, and
//! hands sealed batches to prover workers as jobs ([`jobs`]), verifying each uploaded proof
//! with `merit-prover` before it is stored.
//!
//! ```text
//!  client ──POST /v1/contributions──▶ api (schema, size, width, EIP-712 signature)
//!  relay ──POST /v1/contributions/batch──▶ (the same per contribution; one answer each)
//!                                      │
//!                                      ▼
//!                        writer (group commit: nonce check, seq, one synced write) ──▶ 202
//!                                      │ pending queue
//!                                      ▼
//!                        batcher (size or age) ── apply_batch ──▶ batch + output + state
//!                                                                 + job (one synced write)
//!                                      │
//!  worker ──POST /v1/jobs/lease──▶ job queue (lease: oldest open batch, expiring)
//!  worker ──POST /v1/jobs/{id}/proof──▶ lease, instances, native verification ──▶ proven
//!                                      │
//!                                      ▼
//!                        L1 submitter: lastBatchId + 1 proven? ── submitBatch ──▶ RewardRollup
//!  client ──GET /v1/accounts/{a}/claim-proof──▶ newest *settled* batch touching a ──▶ claim()
//! ```
//!
//! ## Good starting points
//! - [`run`]: a whole node from a [`Config`] (what `merit node` and `merit-sequencer` call);
//!   [`Node`] starts the pieces on a given [`Store`] (tests use [`MemoryStore`]).
//! - [`api::app`]: the axum router; every error is an [`api::ApiError`] with a
//!   `{ code, message }` body; `GET /v1/openapi.json` documents it.
//! - [`Sequencer::submit`], [`Sequencer::submit_many`] (a relay's batch) and
//!   [`sequencer::Writer`]: validation and group commit.
//! - [`Sequencer::seal_now`]: batch selection and what happens to a contribution that
//!   `apply_batch` refuses (it never blocks the queue).
//! - [`store`]: the [`Store`] trait, typed tables (column families) and the RocksDB and
//!   in-memory backends.
//! - [`config`]: defaults < TOML file < `MERIT_*` env < CLI flags.
//! - [`jobs`]: the prover job queue ([`jobs::JobQueue`]), its injectable [`jobs::Clock`], and
//!   the circuit checks at start.
//! - [`submitter`]: the L1 submitter ([`Submitter`]), in-order and exactly-once settlement on
//!   `RewardRollup` through `merit-contracts`.
//!
//! ## Guarantees
//! - A `202` means the contribution, its pending-queue entry, the account's nonce and the next
//!   sequence number were written in one synced RocksDB write: it survives a crash.
//! - Nonces: each must be strictly above the account's last acknowledged nonce (pending or
//!   batched). The writer is the only task that accepts nonces, so concurrent submissions of
//!   the same nonce cannot both win.
//! - Sealing writes the batch, its output, the touched accounts, the new head and the queue
//!   removals in one synced write; on restart the state is rebuilt from the stored accounts
//!   and checked against the stored root, so it resumes exactly where it stopped.
//! - A data directory remembers its domain, tree depth, model and policy commitments; a node
//!   configured otherwise refuses to start on it.
//! - With a job queue, every sealed batch fits the circuit (contributions and distinct
//!   contributors within its slots; model and depth checked at start), a proof is stored only
//!   after it verifies against the batch's own public instances, and the lease, the proof and
//!   the batch's proven status are durable.
//!
//! - With an L1 submitter, batches settle in order and each once (the next batch is always
//!   read from the contract); claim proofs are served against the newest settled batch that
//!   touched the account, so `claim()` accepts them as they are.
//!
//! ## Not in this version
//! - Fee bumping of a stuck settlement transaction, and reorgs deeper than
//!   `l1.confirmations` (see [`submitter`]).
//! - The account tree is rebuilt from the accounts table on start (O(accounts · depth)
//!   hashes); a persisted tree-node table comes with larger deployments.

pub mod api;
pub mod cli;
pub mod config;
pub mod jobs;
pub mod metrics;
mod node;
pub mod sequencer;
pub mod store;
pub mod submitter;

pub use config::{Config, Protocol};
pub use jobs::{Circuit, Clock, JobQueue, ManualClock, SystemClock};
pub use node::{run, shutdown_signal, BatcherMode, Node};
pub use sequencer::{NodeError, Receipt, SealOutcome, Sequencer, Settings, SubmitError};
pub use store::{MemoryStore, RocksStore, Store};
pub use submitter::{L1Chain, L1Error, L1Status, Submitter};
