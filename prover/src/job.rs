//! The prover job protocol: what a worker and the sequencer exchange over HTTP (JSON).
//!
//! ```text
//! worker                                        sequencer
//!   POST /v1/jobs/lease        { prover }  ──▶  oldest unproven batch without a live lease
//!                        ◀── 200 Job | 204      (lease: random id, expires_at)
//!   prove(keys of job.config, job.vector)
//!   POST /v1/jobs/{batch_id}/proof
//!        { lease_id, proof }               ──▶  lease current? instances = the batch's?
//!                        ◀── 200 ProofReceipt   verifies with the configured circuit's key?
//!                            409 lease_lost / already_proven · 422 invalid_proof …
//! ```
//!
//! Both sides use these types, so the wire format has one definition.

use alloy_primitives::B256;
use merit_core::vectors::BatchVector;
use serde::{Deserialize, Serialize};

use crate::BatchProof;

/// `POST /v1/jobs/lease` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// Who asks: a free-form worker id (1–128 printable characters), logged and shown in
    /// `GET /v1/jobs`.
    pub prover: String,
}

/// A leased job: one sealed batch to prove before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The batch to prove.
    pub batch_id: u64,
    /// The lease: random and unguessable; the upload must carry it.
    pub lease_id: B256,
    /// When the lease lapses, ms since the Unix epoch; after that the batch goes to the next
    /// worker that asks and this lease's upload is refused (`409 lease_lost`).
    pub expires_at: u64,
    /// The circuit configuration the sequencer verifies proofs with (its `name`).
    pub config: String,
    /// Everything [`prove`](crate::prove) needs: domain, model, policy, the state before the
    /// batch, the batch, its trace and output, and the expected public instances.
    pub vector: BatchVector,
}

/// `POST /v1/jobs/{batch_id}/proof` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofUpload {
    /// The lease the job came with.
    pub lease_id: B256,
    /// The proof.
    pub proof: BatchProof,
}

/// The answer to an accepted proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofReceipt {
    /// The batch, now proven.
    pub batch_id: u64,
    /// Who proved it (the lease's prover).
    pub prover: String,
    /// When the proof was accepted, ms since the Unix epoch.
    pub accepted_at: u64,
}
