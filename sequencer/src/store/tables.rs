//! The sequencer's tables and their record types.

use alloy_primitives::{Address, B256};
use merit_core::{
    vectors::BatchVector, Account, Batch, BatchOutput, MeritDomain, SignedContribution,
};
use merit_prover::BatchProof;
use serde::{Deserialize, Serialize};

use super::Table;

/// A key type with an order-preserving byte encoding.
pub trait Key: Sized {
    /// The bytes stored.
    fn encode(&self) -> Vec<u8>;
    /// The key back from its bytes, `None` if they are not a valid encoding.
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Key for u64 {
    fn encode(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

impl Key for B256 {
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        (bytes.len() == 32).then(|| B256::from_slice(bytes))
    }
}

impl Key for Address {
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        (bytes.len() == 20).then(|| Address::from_slice(bytes))
    }
}

impl Key for (Address, u64) {
    fn encode(&self) -> Vec<u8> {
        [self.0.as_slice(), &self.1.to_be_bytes()].concat()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        (bytes.len() == 28).then(|| {
            (Address::from_slice(&bytes[..20]), u64::from_be_bytes(bytes[20..].try_into().unwrap()))
        })
    }
}

/// Every table name; backends create one column family each.
pub const TABLES: &[&str] = &[
    Contributions::NAME,
    Pending::NAME,
    Outcomes::NAME,
    Batches::NAME,
    BatchOutputs::NAME,
    Accounts::NAME,
    Nonces::NAME,
    Metadata::NAME,
    JobVectors::NAME,
    Leases::NAME,
    Proofs::NAME,
    AccountBatches::NAME,
    Settlements::NAME,
];

/// Every acknowledged contribution, by id (its EIP-712 signing hash). Never deleted.
#[derive(Debug)]
pub struct Contributions;

impl Table for Contributions {
    const NAME: &'static str = "contributions";
    type Key = B256;
    type Value = ContributionRecord;
}

/// An acknowledged contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributionRecord {
    /// Acknowledgement order, from 1; the key of its [`Pending`] entry.
    pub seq: u64,
    /// When it was acknowledged, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// The contribution and its signature, as submitted.
    pub signed: SignedContribution,
}

/// The pending queue: sequence number → contribution id, removed when the batcher seals or
/// rejects the contribution.
#[derive(Debug)]
pub struct Pending;

impl Table for Pending {
    const NAME: &'static str = "pending";
    type Key = u64;
    type Value = B256;
}

/// What became of a contribution that left the pending queue.
#[derive(Debug)]
pub struct Outcomes;

impl Table for Outcomes {
    const NAME: &'static str = "outcomes";
    type Key = B256;
    type Value = Outcome;
}

/// What became of a contribution that left the pending queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// Sealed into a batch.
    Batched {
        /// The batch.
        batch_id: u64,
    },
    /// Refused by `apply_batch` on its own (see the batcher's docs); it will never be batched.
    Rejected {
        /// Machine-readable reason.
        code: String,
        /// `apply_batch`'s error.
        reason: String,
    },
}

/// Sealed batches, by id.
#[derive(Debug)]
pub struct Batches;

impl Table for Batches {
    const NAME: &'static str = "batches";
    type Key = u64;
    type Value = Batch;
}

/// The [`BatchOutput`] of each sealed batch, by id.
#[derive(Debug)]
pub struct BatchOutputs;

impl Table for BatchOutputs {
    const NAME: &'static str = "batch_outputs";
    type Key = u64;
    type Value = BatchOutput;
}

/// Account state as of the last sealed batch. The account tree is rebuilt from these on start
/// and checked against the stored root.
#[derive(Debug)]
pub struct Accounts;

impl Table for Accounts {
    const NAME: &'static str = "accounts";
    type Key = Address;
    type Value = AccountRecord;
}

/// One account as of the last sealed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// Its leaf in the account tree.
    pub account: Account,
    /// The last batch that touched it.
    pub last_batch: u64,
}

/// The last nonce acknowledged per account, pending or batched: the next one must be above.
#[derive(Debug)]
pub struct Nonces;

impl Table for Nonces {
    const NAME: &'static str = "nonces";
    type Key = Address;
    type Value = u64;
}

/// Single-row facts about the chain.
#[derive(Debug)]
pub struct Metadata;

impl Table for Metadata {
    const NAME: &'static str = "metadata";
    type Key = MetaKey;
    type Value = MetaValue;
}

/// The rows of [`Metadata`]. The writer owns `NextSeq`, the batcher owns `Head`, so the two
/// never write the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// What the chain was started with.
    Genesis,
    /// The next sequence number.
    NextSeq,
    /// The last sealed batch and the state root after it.
    Head,
}

impl Key for MetaKey {
    fn encode(&self) -> Vec<u8> {
        match self {
            MetaKey::Genesis => b"genesis".to_vec(),
            MetaKey::NextSeq => b"next_seq".to_vec(),
            MetaKey::Head => b"head".to_vec(),
        }
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes {
            b"genesis" => Some(MetaKey::Genesis),
            b"next_seq" => Some(MetaKey::NextSeq),
            b"head" => Some(MetaKey::Head),
            _ => None,
        }
    }
}

/// A [`Metadata`] value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MetaValue {
    /// See [`MetaKey::Genesis`].
    Genesis(Genesis),
    /// See [`MetaKey::NextSeq`].
    NextSeq(u64),
    /// See [`MetaKey::Head`].
    Head(ChainHeadRecord),
}

/// What a data directory was created with; a node refuses to start on other parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Storage layout version.
    pub schema: u32,
    /// The EIP-712 domain contributions are signed under.
    pub domain: MeritDomain,
    /// The account-tree depth.
    pub tree_depth: usize,
    /// The model's commitment (`bytes32`).
    pub model_commitment: B256,
    /// The policy's commitment (`bytes32`).
    pub policy_commitment: B256,
}

/// The last sealed batch and the state root after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHeadRecord {
    /// The last sealed batch, `None` before the first.
    pub last_batch: Option<u64>,
    /// The account-tree root after it (`bytes32`).
    pub state_root: B256,
}

/// The prover's input of each sealed batch that is not proven yet (written with the batch when
/// the job queue is enabled, deleted when its proof is accepted).
#[derive(Debug)]
pub struct JobVectors;

impl Table for JobVectors {
    const NAME: &'static str = "job_vectors";
    type Key = u64;
    type Value = BatchVector;
}

/// The current lease of each unproven batch that was leased (durable, so a worker's upload
/// after a sequencer restart is still accepted).
#[derive(Debug)]
pub struct Leases;

impl Table for Leases {
    const NAME: &'static str = "leases";
    type Key = u64;
    type Value = LeaseRecord;
}

/// A lease of one batch to one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRecord {
    /// Random and unguessable; the upload must carry it.
    pub lease_id: B256,
    /// The worker's id, as it gave it.
    pub prover: String,
    /// When it was leased, ms since the Unix epoch.
    pub leased_at: u64,
    /// When it lapses, ms since the Unix epoch.
    pub expires_at: u64,
}

/// Accepted proofs, by batch id. Never deleted.
#[derive(Debug)]
pub struct Proofs;

impl Table for Proofs {
    const NAME: &'static str = "proofs";
    type Key = u64;
    type Value = ProofRecord;
}

/// An accepted proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofRecord {
    /// The proof, verified natively before it was stored.
    pub proof: BatchProof,
    /// The worker that uploaded it.
    pub prover: String,
    /// When it was accepted, ms since the Unix epoch.
    pub accepted_at: u64,
}

/// Every batch that touched an account, keyed `(account, batch id)`, with the account's
/// cumulative reward after it: the claim proof of an account is served from the newest one
/// that is settled on L1. Written with the batch; never deleted.
#[derive(Debug)]
pub struct AccountBatches;

impl Table for AccountBatches {
    const NAME: &'static str = "account_batches";
    type Key = (Address, u64);
    type Value = u128;
}

/// Batches the L1 submitter settled, by batch id: what it sent and where it was mined. The
/// chain itself (`RewardRollup.lastBatchId`) is the authority on what is settled; this is the
/// node's record of its own transactions.
#[derive(Debug)]
pub struct Settlements;

impl Table for Settlements {
    const NAME: &'static str = "settlements";
    type Key = u64;
    type Value = SettlementRecord;
}

/// One `submitBatch` transaction that settled a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementRecord {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block it was mined in.
    pub block: u64,
    /// Gas it used.
    pub gas_used: u64,
    /// When the submitter saw it confirmed, ms since the Unix epoch.
    pub settled_at: u64,
}
