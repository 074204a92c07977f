//! The sequencer core: durable acceptance of contributions (group commit) and batch sealing.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock, RwLock,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{keccak256, Address, B256};
use alloy_sol_types::SolStruct;
use merit_core::{
    apply_batch, field::fr_to_b256, BatchApplied, BatchError, Contribution, ContributionRef,
    SignatureError, SignedContribution, State,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tracing::{debug, error, info, instrument, warn};

use crate::{
    config::{Config, Protocol},
    jobs::{job_vector, JobQueue, JobSetupError},
    metrics::Metrics,
    store::{
        AccountBatches, AccountRecord, Accounts, BatchOutputs, Batches, ChainHeadRecord,
        ContributionRecord, Contributions, Genesis, JobVectors, MetaKey, MetaValue, Metadata,
        Nonces, Outcome, Outcomes, Pending, Store, StoreError, StoreExt, WriteSet,
    },
    submitter::L1Chain,
};

/// Version of the storage layout written into [`Genesis::schema`] (2: the `account_batches`
/// index and the `settlements` table).
pub const SCHEMA_VERSION: u32 = 2;

/// Most submissions the writer puts into one synced write.
const MAX_GROUP: usize = 1024;
/// A group this large is written without waiting out the group-commit window: its fsync is
/// shared widely enough already.
const FULL_GROUP: usize = 16;
/// Fewest signature checks one verifier thread takes of a request: below this, handing the
/// rest to another thread costs more than it saves.
const MIN_VERIFY_RUN: usize = 4;

/// Runtime settings of the sequencer (from [`Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Seal when this many contributions are pending.
    pub max_batch_size: usize,
    /// Most distinct contributors in one batch (the circuit's account slots); `None` = no limit.
    pub max_batch_accounts: Option<usize>,
    /// Most contributors without an account yet in one batch (the circuit's link slots);
    /// `None` = no limit.
    pub max_batch_new_accounts: Option<usize>,
    /// Most accounts the tree may hold: the circuit's capacity when its configuration has an
    /// `active_depth` (set by the job queue); `None` = the tree's own. The first contribution
    /// of a contributor beyond it is rejected (`account_capacity`).
    pub max_accounts: Option<usize>,
    /// Seal when the oldest pending contribution is this old.
    pub max_batch_age: Duration,
    /// Group-commit window of the writer.
    pub group_commit_window: Duration,
    /// Capacity of the writer's queue.
    pub queue_capacity: usize,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Most contributions in one batch submission.
    pub max_batch_contributions: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self::from(&Config::default())
    }
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Self {
            max_batch_size: config.batcher.max_batch_size,
            max_batch_accounts: config.batcher.max_batch_accounts,
            max_batch_new_accounts: config.batcher.max_batch_new_accounts,
            max_accounts: None,
            max_batch_age: config.batcher.max_batch_age(),
            group_commit_window: config.batcher.group_commit_window(),
            queue_capacity: config.batcher.queue_capacity,
            body_limit: config.api.body_limit,
            max_batch_contributions: config.api.max_batch_contributions,
        }
    }
}

/// Why the node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The prover job queue cannot be set up.
    #[error(transparent)]
    Jobs(#[from] JobSetupError),
    /// The data directory belongs to another chain.
    #[error(
        "the data directory was created with {field} = {stored}, but this node is configured \
         with {configured}; use the original configuration or another data directory"
    )]
    GenesisMismatch {
        /// The parameter that differs.
        field: &'static str,
        /// The stored value.
        stored: String,
        /// The configured value.
        configured: String,
    },
    /// The L1 submitter cannot start.
    #[error(transparent)]
    L1(#[from] crate::submitter::L1Error),
    /// The stored state is inconsistent.
    #[error("the stored chain state is corrupt: {0}")]
    Corrupt(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The signature-checking threads could not be started.
    #[error("cannot start the signature-checking threads: {0}")]
    Verifiers(#[source] rayon::ThreadPoolBuildError),
}

/// Why a submission was refused. Every variant but `Store` is the client's to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The feature vector does not match the model.
    #[error("the model takes {expected} features, the contribution has {actual}")]
    FeatureWidth {
        /// The model's input width.
        expected: usize,
        /// The contribution's.
        actual: usize,
    },
    /// The signature is not the contributor's under this node's domain.
    #[error("{source}; contributions must be signed by the contributor under chain id {chain_id} and rollup {rollup}")]
    Signature {
        /// Why.
        #[source]
        source: SignatureError,
        /// The node's chain id.
        chain_id: u64,
        /// The node's rollup address.
        rollup: Address,
    },
    /// The same nonce was accepted before (a replay or a resubmission).
    #[error("nonce {nonce} of {contributor} was already accepted")]
    NonceReplayed {
        /// The contributor.
        contributor: Address,
        /// The nonce.
        nonce: u64,
    },
    /// The nonce is not above the last accepted one.
    #[error(
        "nonce {nonce} of {contributor} is not above its last accepted nonce {last}; nonces \
         start at 1 and must increase"
    )]
    NonceTooLow {
        /// The contributor.
        contributor: Address,
        /// The nonce.
        nonce: u64,
        /// The last accepted nonce.
        last: u64,
    },
    /// The writer's queue is full.
    #[error("too many submissions in flight; retry shortly")]
    Overloaded,
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// A store read failed.
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    /// The durable write failed (details in the node's log); nothing was stored.
    #[error("the durable write failed")]
    WriteFailed,
}

impl SubmitError {
    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::FeatureWidth { .. } => "feature_width",
            SubmitError::Signature { source, .. } => match source {
                SignatureError::HighS => "signature_malleable",
                SignatureError::WrongSigner { .. } => "signature_mismatch",
                _ => "signature_invalid",
            },
            SubmitError::NonceReplayed { .. } => "nonce_replayed",
            SubmitError::NonceTooLow { .. } => "nonce_too_low",
            SubmitError::Overloaded => "overloaded",
            SubmitError::ShuttingDown => "shutting_down",
            SubmitError::Store(_) | SubmitError::WriteFailed => "internal",
        }
    }
}

/// Why sealing failed (the pending queue is left as it was).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `apply_batch` failed in a way that names no contribution (e.g. an invalid policy).
    #[error("apply_batch failed: {0}")]
    Batch(#[from] BatchError),
    /// A pending entry has no contribution record.
    #[error("pending entry {seq} points at the missing contribution {id}")]
    MissingContribution {
        /// The pending sequence number.
        seq: u64,
        /// The contribution id.
        id: B256,
    },
}

/// The acknowledgement of a durable submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The contribution id: its EIP-712 signing hash.
    pub id: B256,
    /// The contributor.
    pub contributor: Address,
    /// Its nonce.
    pub nonce: u64,
    /// Acknowledgement order.
    pub seq: u64,
    /// When it was acknowledged, ms since the Unix epoch.
    pub received_at_ms: u64,
}

/// What a sealing attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealOutcome {
    /// Nothing is pending.
    Idle,
    /// Contributions are pending, but neither the size nor the age limit is reached.
    NotDue,
    /// A batch was sealed.
    Sealed {
        /// Its id.
        batch_id: u64,
        /// Its size.
        contributions: usize,
    },
    /// The head of the queue was rejected on its own and removed from the queue.
    Rejected {
        /// The contribution.
        id: B256,
        /// Why, machine-readable.
        code: &'static str,
    },
}

/// The chain as of the last sealed batch.
#[derive(Debug, Clone)]
pub struct Head {
    /// The state after the last sealed batch.
    pub state: State,
    /// The last sealed batch.
    pub last_batch: Option<u64>,
}

/// Why a submission could not enter the writer's queue.
fn queue_error<T>(error: mpsc::error::TrySendError<T>) -> SubmitError {
    match error {
        mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
        mpsc::error::TrySendError::Closed(_) => SubmitError::ShuttingDown,
    }
}

/// What a seal will write.
enum SealPlan {
    /// Nothing: the queue is empty or the batch is not due.
    Nothing(SealOutcome),
    /// A batch: `records[order[..]]` in batch order, and what `apply_batch` made of them.
    Batch {
        head: Arc<Head>,
        records: Vec<(u64, B256, ContributionRecord)>,
        order: Vec<usize>,
        applied: Box<BatchApplied>,
    },
    /// The queue's head, which can never be batched: the rejection's code and reason.
    Reject { record: Box<(u64, B256, ContributionRecord)>, code: &'static str, reason: String },
}

/// What a seal found in the pending queue.
enum Loaded {
    /// Nothing to seal: the queue is empty or the batch is not due.
    Nothing(SealOutcome),
    /// The contributions at the queue's head, in acknowledgement order.
    Records(Vec<(u64, B256, ContributionRecord)>),
}

/// One submission on its way to the writer.
#[derive(Debug)]
struct Submission {
    id: B256,
    signed: SignedContribution,
    reply: oneshot::Sender<Result<Receipt, SubmitError>>,
}

/// A contribution whose width and signature were checked, with its id.
struct Checked {
    id: B256,
    signed: SignedContribution,
}

impl Checked {
    fn into_submission(self, reply: oneshot::Sender<Result<Receipt, SubmitError>>) -> Submission {
        Submission { id: self.id, signed: self.signed, reply }
    }
}

/// The sequencer: shared by the API handlers, the writer and the batcher.
#[derive(Debug)]
pub struct Sequencer {
    store: Arc<dyn Store>,
    protocol: Protocol,
    model_commitment: B256,
    policy_commitment: B256,
    settings: Settings,
    head: RwLock<Arc<Head>>,
    pending: AtomicU64,
    submissions: mpsc::Sender<Submission>,
    batch_ready: Notify,
    seal_lock: Mutex<()>,
    /// Threads that check the signatures of batch submissions.
    verifiers: rayon::ThreadPool,
    /// The EIP-712 domain separator of `protocol.domain`.
    domain_separator: B256,
    metrics: Metrics,
    jobs: Option<JobQueue>,
    l1: OnceLock<Arc<L1Chain>>,
}

/// The group-commit writer: the only task that assigns sequence numbers and accepts nonces.
/// Run it with [`Writer::run`].
#[derive(Debug)]
pub struct Writer {
    sequencer: Arc<Sequencer>,
    rx: mpsc::Receiver<Submission>,
    nonces: HashMap<Address, u64>,
    next_seq: u64,
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn corrupt(what: impl std::fmt::Display) -> NodeError {
    NodeError::Corrupt(what.to_string())
}

impl Sequencer {
    /// Opens the chain in `store` (initialising it if empty) and returns the sequencer and its
    /// writer. Refuses a store created with another domain, tree depth, model or policy, and
    /// a store whose accounts do not hash to the recorded state root.
    pub fn open(
        protocol: Protocol,
        settings: Settings,
        store: Arc<dyn Store>,
    ) -> Result<(Arc<Self>, Writer), NodeError> {
        Self::open_with_jobs(protocol, settings, store, None)
    }

    /// [`Sequencer::open`] with a prover job queue: also checks that the batches it seals fit
    /// the queue's circuit ([`JobQueue::fit`], which sets the batcher's account limit) and
    /// loads the open jobs.
    pub fn open_with_jobs(
        protocol: Protocol,
        mut settings: Settings,
        store: Arc<dyn Store>,
        jobs: Option<JobQueue>,
    ) -> Result<(Arc<Self>, Writer), NodeError> {
        if let Some(jobs) = &jobs {
            jobs.fit(&protocol, &mut settings)?;
        }
        let genesis = Genesis {
            schema: SCHEMA_VERSION,
            domain: protocol.domain,
            tree_depth: protocol.tree_depth,
            model_commitment: protocol.model_commitment(),
            policy_commitment: protocol.policy_commitment(),
        };
        let empty = State::new(protocol.tree_depth).map_err(corrupt)?;
        match store.get::<Metadata>(&MetaKey::Genesis)? {
            None => {
                if !store.scan::<Contributions>(None, 1)?.is_empty() {
                    return Err(corrupt(
                        "contributions are stored but the genesis record is missing",
                    ));
                }
                let mut set = WriteSet::new();
                set.put::<Metadata>(&MetaKey::Genesis, &MetaValue::Genesis(genesis.clone()))?;
                set.put::<Metadata>(
                    &MetaKey::Head,
                    &MetaValue::Head(ChainHeadRecord {
                        last_batch: None,
                        state_root: fr_to_b256(&empty.root()),
                    }),
                )?;
                set.put::<Metadata>(&MetaKey::NextSeq, &MetaValue::NextSeq(1))?;
                store.write(set)?;
                info!(target: "merit::sequencer", "initialised a new chain");
            }
            Some(MetaValue::Genesis(stored)) => check_genesis(&stored, &genesis)?,
            Some(other) => return Err(corrupt(format!("genesis row holds {other:?}"))),
        }
        let head = match store.get::<Metadata>(&MetaKey::Head)? {
            Some(MetaValue::Head(head)) => head,
            other => return Err(corrupt(format!("head row holds {other:?}"))),
        };
        let next_seq = match store.get::<Metadata>(&MetaKey::NextSeq)? {
            Some(MetaValue::NextSeq(next)) => next,
            other => return Err(corrupt(format!("next_seq row holds {other:?}"))),
        };
        let accounts = store.all::<Accounts>()?;
        let state = State::from_accounts(
            protocol.tree_depth,
            accounts.iter().map(|(address, record)| (*address, record.account)),
        )
        .map_err(|e| corrupt(format!("accounts do not form a valid tree: {e}")))?;
        let root = fr_to_b256(&state.root());
        if root != head.state_root {
            return Err(corrupt(format!(
                "accounts hash to {root}, but the recorded state root is {}",
                head.state_root
            )));
        }
        let nonces: HashMap<Address, u64> = store.all::<Nonces>()?.into_iter().collect();
        let pending = store.all::<Pending>()?.len() as u64;

        if let Some(jobs) = &jobs {
            jobs.load(store.as_ref(), &protocol, head.last_batch)?;
        }
        let metrics = Metrics::new();
        metrics.open_jobs.set(jobs.as_ref().map_or(0, |j| j.open_count() as i64));
        metrics.pending.set(pending as i64);
        metrics.last_batch.set(head.last_batch.unwrap_or(0) as i64);
        let (tx, rx) = mpsc::channel(settings.queue_capacity);
        info!(
            target: "merit::sequencer",
            last_batch = ?head.last_batch,
            pending,
            accounts = state.account_count(),
            next_seq,
            state_root = %root,
            "chain loaded"
        );
        let protocol_domain_separator = protocol.domain.eip712().separator();
        let verifiers = rayon::ThreadPoolBuilder::new()
            .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name(|i| format!("merit-verify-{i}"))
            .build()
            .map_err(NodeError::Verifiers)?;
        let sequencer = Arc::new(Self {
            store,
            model_commitment: genesis.model_commitment,
            policy_commitment: genesis.policy_commitment,
            protocol,
            settings,
            head: RwLock::new(Arc::new(Head { state, last_batch: head.last_batch })),
            pending: AtomicU64::new(pending),
            submissions: tx,
            batch_ready: Notify::new(),
            seal_lock: Mutex::new(()),
            verifiers,
            domain_separator: protocol_domain_separator,
            metrics,
            jobs,
            l1: OnceLock::new(),
        });
        let writer = Writer { sequencer: sequencer.clone(), rx, nonces, next_seq };
        Ok((sequencer, writer))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The protocol parameters.
    pub fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Connects the settlement chain (done once, by the node when it starts the L1
    /// submitter): the claim-proof and account routes then answer as of the last settled
    /// batch. Returns `false` if one was attached already.
    pub fn attach_l1(&self, chain: Arc<L1Chain>) -> bool {
        self.l1.set(chain).is_ok()
    }

    /// The settlement chain, if the node runs an L1 submitter.
    pub fn l1(&self) -> Option<&Arc<L1Chain>> {
        self.l1.get()
    }

    /// The prover job queue, if the node has one.
    pub fn jobs(&self) -> Option<&JobQueue> {
        self.jobs.as_ref()
    }

    /// The model commitment (`bytes32`).
    pub fn model_commitment(&self) -> B256 {
        self.model_commitment
    }

    /// The policy commitment (`bytes32`).
    pub fn policy_commitment(&self) -> B256 {
        self.policy_commitment
    }

    /// The chain as of the last sealed batch.
    pub fn head(&self) -> Arc<Head> {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Number of acknowledged contributions waiting for a batch.
    pub fn pending_count(&self) -> u64 {
        self.pending.load(Ordering::SeqCst)
    }

    /// The id of a contribution: its EIP-712 signing hash under this node's domain
    /// ([`Contribution::signing_hash`], with the domain separator computed once per node).
    pub fn contribution_id(&self, contribution: &Contribution) -> B256 {
        let mut digest = [0u8; 66];
        digest[..2].copy_from_slice(b"\x19\x01");
        digest[2..34].copy_from_slice(self.domain_separator.as_slice());
        digest[34..].copy_from_slice(contribution.typed().eip712_hash_struct().as_slice());
        let id = keccak256(digest);
        debug_assert_eq!(id, contribution.signing_hash(&self.protocol.domain));
        id
    }

    /// Validates a signed contribution and acknowledges it once it is durably stored.
    ///
    /// Checks, in order: feature width, signature (EIP-712, low s, signer = contributor),
    /// then, in the writer, the nonce against the account's last accepted one (a nonce at or
    /// below it is `NonceReplayed` if it is the last accepted one or this very contribution is
    /// stored, `NonceTooLow` otherwise). Nothing is stored unless every check passes.
    pub async fn submit(&self, signed: SignedContribution) -> Result<Receipt, SubmitError> {
        let checked = self.check(signed)?;
        let (reply, answer) = oneshot::channel();
        self.submissions.try_send(checked.into_submission(reply)).map_err(queue_error)?;
        answer.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// Validates and acknowledges many signed contributions at once (a relay's submission):
    /// each is checked as [`Sequencer::submit`] checks one, in order, and gets its own answer
    /// (in the same order). The valid ones enter the writer's queue together, in the order
    /// given, or, if the queue has no room for all of them, none does (all `Overloaded`): so a
    /// contributor's later nonce never gets in ahead of an earlier one of the same request.
    /// Every acknowledged one is durable when this returns.
    ///
    /// The signature checks (~65 µs each on this project's 2-core benchmark machine) run on
    /// the sequencer's verifier threads (one per core, requests in arrival order, each request
    /// split across them), not on the async workers, so a flood of large requests neither
    /// stalls them nor starts a thread per request.
    pub async fn submit_many(
        self: &Arc<Self>,
        contributions: Vec<SignedContribution>,
    ) -> Vec<Result<Receipt, SubmitError>> {
        let count = contributions.len();
        let checked = self.check_on_verifiers(contributions).await;
        let Some(checked) = checked else {
            return (0..count).map(|_| Err(SubmitError::ShuttingDown)).collect();
        };
        let valid = checked.iter().filter(|c| c.is_ok()).count();
        let permits = match valid {
            0 => None,
            n => match self.submissions.try_reserve_many(n) {
                Ok(permits) => Some(permits),
                Err(full_or_closed) => {
                    let refused = || Err(queue_error(full_or_closed));
                    return checked.into_iter().map(|c| c.and_then(|_| refused())).collect();
                }
            },
        };
        let mut permits = permits.into_iter().flatten();
        let answers: Vec<Result<oneshot::Receiver<_>, SubmitError>> = checked
            .into_iter()
            .map(|checked| {
                let checked = checked?;
                let permit = permits.next().expect("one permit per valid contribution");
                let (reply, answer) = oneshot::channel();
                permit.send(checked.into_submission(reply));
                Ok(answer)
            })
            .collect();
        let mut out = Vec::with_capacity(count);
        for answer in answers {
            out.push(match answer {
                Ok(answer) => answer.await.unwrap_or(Err(SubmitError::ShuttingDown)),
                Err(error) => Err(error),
            });
        }
        out
    }

    /// [`Sequencer::check`]s a request's contributions on the verifier threads: cut into one
    /// run per thread (at least [`MIN_VERIFY_RUN`] contributions each), each queued first in,
    /// first out, so a request is checked by all threads at once and never behind work of a
    /// later request. The answers come back in the given order; `None` if the pool is gone.
    async fn check_on_verifiers(
        self: &Arc<Self>,
        contributions: Vec<SignedContribution>,
    ) -> Option<Vec<Result<Checked, SubmitError>>> {
        let threads = self.verifiers.current_num_threads().max(1);
        let run = contributions.len().div_ceil(threads).max(MIN_VERIFY_RUN);
        let mut contributions = contributions.into_iter();
        let mut runs = Vec::with_capacity(threads);
        loop {
            let part: Vec<_> = contributions.by_ref().take(run).collect();
            if part.is_empty() {
                break;
            }
            let this = Arc::clone(self);
            let (done, checked) = oneshot::channel();
            self.verifiers.spawn_fifo(move || {
                let checked: Vec<_> = part.into_iter().map(|signed| this.check(signed)).collect();
                let _ = done.send(checked);
            });
            runs.push(checked);
        }
        let mut out: Vec<Result<Checked, SubmitError>> = Vec::new();
        for checked in runs {
            out.extend(checked.await.ok()?);
        }
        Some(out)
    }

    /// The checks that need no store: feature width, then the signature (which also gives
    /// the id). The nonce is the writer's to check.
    fn check(&self, signed: SignedContribution) -> Result<Checked, SubmitError> {
        let contribution = &signed.contribution;
        self.protocol
            .model
            .check_dimension(&contribution.features)
            .map_err(|e| SubmitError::FeatureWidth { expected: e.expected, actual: e.actual })?;
        // The id is the EIP-712 signing hash: hash once, for the id and the signature check.
        let id = self.contribution_id(contribution);
        verify_prehashed(&signed, &id).map_err(|source| SubmitError::Signature {
            source,
            chain_id: self.protocol.domain.chain_id,
            rollup: self.protocol.domain.verifying_contract,
        })?;
        // A stored contribution has a nonce at or below its account's last accepted one, so
        // the writer's nonce check refuses every replay; it looks the id up only then, to
        // tell a replay from a stale nonce. The hot path does no store read.
        Ok(Checked { id, signed })
    }

    /// Seals a batch if the size or age limit is reached (see [`Sequencer::seal_now`]).
    ///
    /// This is what the node's batcher calls. The work (scoring and the account-tree hashes of
    /// `apply_batch`, about a millisecond per contribution) runs on a thread of its own at the
    /// lowest CPU priority, so sealing uses idle CPU and never delays acknowledgements (on
    /// Linux; elsewhere at normal priority). The caller waits for it, and writes the sealed
    /// batch itself, at its own priority: a starved idle-priority thread inside RocksDB's write
    /// path would hold up the writer's group commits behind it (measured: a 1.3 s stall of
    /// every acknowledgement under load).
    pub fn seal_if_due(&self, now: SystemTime) -> Result<SealOutcome, SealError> {
        self.seal(now, false, true)
    }

    /// Seals the pending queue now, whatever its size and age.
    ///
    /// Takes up to `max_batch_size` pending contributions in acknowledgement order, sorts them
    /// by `(contributor, nonce)` and runs `merit_core::apply_batch`. If `apply_batch` refuses
    /// the batch because of one contribution (the batch budget, a cumulative overflow, a full
    /// tree), the batch is cut just before that contribution (in acknowledgement order, so
    /// every account's nonces stay contiguous) and tried again; the rest stays pending for the
    /// next batch. A contribution that is refused even alone at the head of the queue can
    /// never be batched: it is marked `rejected` with the reason, removed from the queue (its
    /// nonce stays used) and never blocks the queue. Batch, output, account state, the new head
    /// and the queue removal are written in one atomic, synced write.
    pub fn seal_now(&self) -> Result<SealOutcome, SealError> {
        self.seal(SystemTime::now(), true, false)
    }

    /// Plans the seal (at the lowest priority when `background`), then writes it here.
    #[instrument(target = "merit::sequencer", skip_all, fields(force))]
    fn seal(
        &self,
        now: SystemTime,
        force: bool,
        background: bool,
    ) -> Result<SealOutcome, SealError> {
        let _serial = self.seal_lock.lock().unwrap_or_else(|p| p.into_inner());
        let plan = match self.load_pending(now, force)? {
            Loaded::Nothing(outcome) => SealPlan::Nothing(outcome),
            Loaded::Records(records) if background => {
                at_low_priority("merit-sealer", || self.plan_seal(records))?
            }
            Loaded::Records(records) => self.plan_seal(records)?,
        };
        match plan {
            SealPlan::Nothing(outcome) => Ok(outcome),
            SealPlan::Batch { head, records, order, applied } => {
                let chosen: Vec<_> = order.iter().map(|&i| &records[i]).collect();
                self.commit_batch(&head, &chosen, *applied)
            }
            SealPlan::Reject { record, code, reason } => self.reject(&record, code, &reason),
        }
    }

    /// The pending contributions a seal would take, if one is due (the queue's head has
    /// waited `max_batch_age`, the queue holds `max_batch_size`, or `force`): store reads only,
    /// done at the caller's priority (a store read at the lowest priority could hold a lock the
    /// writer waits for while the CPUs are busy).
    fn load_pending(&self, now: SystemTime, force: bool) -> Result<Loaded, SealError> {
        let load = |seq: u64, id: B256| -> Result<(u64, B256, ContributionRecord), SealError> {
            let record = self
                .store
                .get::<Contributions>(&id)?
                .ok_or(SealError::MissingContribution { seq, id })?;
            Ok((seq, id, record))
        };
        // Cheap check first: the queue head's age and the pending count.
        let Some((seq, id)) = self.store.scan::<Pending>(None, 1)?.pop() else {
            return Ok(Loaded::Nothing(SealOutcome::Idle));
        };
        let full = self.pending_count() >= self.settings.max_batch_size as u64;
        if !force && !full {
            let (_, _, oldest) = load(seq, id)?;
            let received = UNIX_EPOCH + Duration::from_millis(oldest.received_at_ms);
            if now.duration_since(received).unwrap_or_default() < self.settings.max_batch_age {
                return Ok(Loaded::Nothing(SealOutcome::NotDue));
            }
        }
        let records = self
            .store
            .scan::<Pending>(None, self.settings.max_batch_size)?
            .into_iter()
            .map(|(seq, id)| load(seq, id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Loaded::Records(records))
    }

    /// Everything of a seal but its reads and its write (see [`Sequencer::seal_now`]): cuts
    /// `records` (pending contributions in acknowledgement order, none stored or written here)
    /// to what one batch can hold and applies it. The caller holds the seal lock.
    fn plan_seal(
        &self,
        records: Vec<(u64, B256, ContributionRecord)>,
    ) -> Result<SealPlan, SealError> {
        let head = self.head();
        let (model, policy) = (&self.protocol.model, &self.protocol.policy);
        // Cut at the batch budget first (cheap: inference only), then let apply_batch decide.
        let mut take = records.len();
        let mut total: u128 = 0;
        for (i, (_, _, record)) in records.iter().enumerate() {
            let features = &record.signed.contribution.features;
            total = total.saturating_add(model.score(features).map_or(0, |s| policy.reward(s)));
            if total > policy.batch_budget {
                take = i.max(1);
                break;
            }
        }
        // Then at the circuit's account slots, link slots and account capacity: stop before the
        // first contribution of one contributor too many, or of one contributor without an
        // account too many, in acknowledgement order.
        let (max_accounts, max_new_accounts) =
            (self.settings.max_batch_accounts, self.settings.max_batch_new_accounts);
        let room = self.settings.max_accounts.map(|m| m.saturating_sub(head.state.account_count()));
        if max_accounts.is_some() || max_new_accounts.is_some() || room.is_some() {
            let (mut contributors, mut new) = (HashSet::new(), HashSet::new());
            for (i, (_, _, record)) in records[..take].iter().enumerate() {
                let contributor = record.signed.contribution.contributor;
                contributors.insert(contributor);
                if head.state.account(&contributor).is_none() {
                    new.insert(contributor);
                }
                if room.is_some_and(|r| new.len() > r) {
                    if i == 0 {
                        let record = records.into_iter().next().expect("i is 0");
                        let reason = format!(
                            "the account tree holds {} accounts, the most the prover's circuit \
                             can prove ({}): a new contributor cannot be added",
                            head.state.account_count(),
                            self.settings.max_accounts.unwrap_or_default(),
                        );
                        return Ok(SealPlan::Reject {
                            record: Box::new(record),
                            code: "account_capacity",
                            reason,
                        });
                    }
                    take = i;
                    break;
                }
                if max_accounts.is_some_and(|m| contributors.len() > m)
                    || max_new_accounts.is_some_and(|m| new.len() > m)
                {
                    take = i.max(1);
                    break;
                }
            }
        }
        loop {
            let mut order: Vec<usize> = (0..take).collect();
            order.sort_by_key(|&i| {
                let c = &records[i].2.signed.contribution;
                (c.contributor, c.nonce)
            });
            let unsigned: Vec<Contribution> =
                order.iter().map(|&i| records[i].2.signed.contribution.clone()).collect();
            let error = match apply_batch(&head.state, model, policy, &unsigned) {
                Ok(applied) => {
                    return Ok(SealPlan::Batch { head, records, order, applied: Box::new(applied) })
                }
                Err(error) => error,
            };
            let position = offending(&error).and_then(|at| {
                records[..take].iter().position(|(_, _, r)| {
                    r.signed.contribution.contributor == at.contributor
                        && r.signed.contribution.nonce == at.nonce
                })
            });
            match position {
                None => return Err(SealError::Batch(error)),
                Some(0) => {
                    let record = records.into_iter().next().expect("the offending one is first");
                    return Ok(SealPlan::Reject {
                        record: Box::new(record),
                        code: rejection_code(&error),
                        reason: error.to_string(),
                    });
                }
                Some(cut) => {
                    warn!(
                        target: "merit::sequencer",
                        %error,
                        kept = cut,
                        "apply_batch refused the batch; sealing the contributions before the offending one"
                    );
                    take = cut;
                }
            }
        }
    }

    fn commit_batch(
        &self,
        head: &Head,
        chosen: &[&(u64, B256, ContributionRecord)],
        applied: BatchApplied,
    ) -> Result<SealOutcome, SealError> {
        let batch_id = head.last_batch.map_or(1, |b| b + 1);
        let batch = merit_core::Batch {
            batch_id,
            contributions: chosen.iter().map(|(_, _, r)| r.signed.clone()).collect(),
        };
        let mut set = WriteSet::new();
        set.put::<Batches>(&batch_id, &batch)?;
        set.put::<BatchOutputs>(&batch_id, &applied.output)?;
        for (seq, id, _) in chosen {
            set.delete::<Pending>(seq);
            set.put::<Outcomes>(id, &Outcome::Batched { batch_id })?;
        }
        for touched in &applied.output.touched {
            let account =
                *applied.state.account(&touched.address).expect("a touched account exists");
            set.put::<Accounts>(
                &touched.address,
                &AccountRecord { account, last_batch: batch_id },
            )?;
            set.put::<AccountBatches>(&(touched.address, batch_id), &touched.cumulative)?;
        }
        let state_root = fr_to_b256(&applied.state.root());
        set.put::<Metadata>(
            &MetaKey::Head,
            &MetaValue::Head(ChainHeadRecord { last_batch: Some(batch_id), state_root }),
        )?;
        let touched = applied.output.touched.len();
        let total_reward = applied.output.total_reward;
        let new_state = match &self.jobs {
            Some(_) => {
                let new_state = applied.state.clone();
                let vector = job_vector(&self.protocol, &head.state, batch, applied);
                set.put::<JobVectors>(&batch_id, &vector)?;
                new_state
            }
            None => applied.state,
        };
        self.store.write(set)?;
        if let Some(jobs) = &self.jobs {
            jobs.opened(batch_id);
            self.metrics.open_jobs.set(jobs.open_count() as i64);
        }

        let count = chosen.len();
        *self.head.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Head { state: new_state, last_batch: Some(batch_id) });
        self.pending.fetch_sub(count as u64, Ordering::SeqCst);
        self.metrics.pending.sub(count as i64);
        self.metrics.batches_sealed.inc();
        self.metrics.contributions_batched.inc_by(count as u64);
        self.metrics.last_batch.set(batch_id as i64);
        info!(
            target: "merit::sequencer",
            batch_id,
            contributions = count,
            touched,
            total_reward = %total_reward,
            %state_root,
            "sealed batch"
        );
        Ok(SealOutcome::Sealed { batch_id, contributions: count })
    }

    fn reject(
        &self,
        (seq, id, record): &(u64, B256, ContributionRecord),
        code: &'static str,
        reason: &str,
    ) -> Result<SealOutcome, SealError> {
        let mut set = WriteSet::new();
        set.delete::<Pending>(seq);
        set.put::<Outcomes>(
            id,
            &Outcome::Rejected { code: code.to_owned(), reason: reason.to_owned() },
        )?;
        self.store.write(set)?;
        self.pending.fetch_sub(1, Ordering::SeqCst);
        self.metrics.pending.dec();
        self.metrics.contributions_rejected.inc();
        warn!(
            target: "merit::sequencer",
            %id,
            contributor = %record.signed.contribution.contributor,
            nonce = record.signed.contribution.nonce,
            %code,
            %reason,
            "contribution can never be batched; marked rejected"
        );
        Ok(SealOutcome::Rejected { id: *id, code })
    }

    /// Wakes the batcher when the queue is full.
    fn note_pending(&self, added: u64) {
        let pending = self.pending.fetch_add(added, Ordering::SeqCst) + added;
        self.metrics.pending.add(added as i64);
        if pending >= self.settings.max_batch_size as u64 {
            self.batch_ready.notify_one();
        }
    }

    /// Resolves when the writer signals a full queue.
    pub(crate) async fn batch_ready(&self) {
        self.batch_ready.notified().await;
    }
}

/// [`SignedContribution::verify`] with the signing hash already computed: low `s`, a
/// recoverable signature, and the signer is the contributor.
fn verify_prehashed(signed: &SignedContribution, hash: &B256) -> Result<(), SignatureError> {
    if signed.signature.normalize_s().is_some() {
        return Err(SignatureError::HighS);
    }
    let signer = signed.signature.recover_address_from_prehash(hash)?;
    let contributor = signed.contribution.contributor;
    if signer != contributor {
        return Err(SignatureError::WrongSigner { signer, contributor });
    }
    Ok(())
}

/// Runs `work` on a new thread named `name` at the lowest CPU priority and waits for it (or
/// runs it here, at the caller's priority, if no thread can be started).
fn at_low_priority<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> T {
    let slot = Mutex::new(Some(work));
    let take =
        || slot.lock().unwrap_or_else(|p| p.into_inner()).take().expect("the work runs once");
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().name(name.to_owned()).spawn_scoped(scope, || {
            lower_thread_priority();
            take()()
        });
        match spawned {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => take()(),
        }
    })
}

/// Puts the calling thread at the lowest CPU priority. Linux: `SCHED_IDLE` for this thread only
/// (it runs when nothing else wants the CPU and is preempted as soon as anything does), else
/// nice 19. A no-op elsewhere, where these calls would affect the whole process.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: the pointer is to a live local; errors leave the priority as it was.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            if libc::setpriority(libc::PRIO_PROCESS, tid, 19) != 0 {
                debug!(target: "merit::sequencer", "cannot lower the sealing thread's priority");
            }
        }
    }
}

/// The contribution an `apply_batch` error is about, if any.
fn offending(error: &BatchError) -> Option<ContributionRef> {
    match error {
        BatchError::Unsorted { at, .. }
        | BatchError::Nonce { at, .. }
        | BatchError::Dimension { at, .. }
        | BatchError::Budget { at, .. }
        | BatchError::CumulativeOverflow { at, .. }
        | BatchError::ZeroAddress { at }
        | BatchError::TreeFull { at, .. } => Some(*at),
        _ => None,
    }
}

fn rejection_code(error: &BatchError) -> &'static str {
    match error {
        BatchError::Budget { .. } => "over_batch_budget",
        BatchError::CumulativeOverflow { .. } => "cumulative_overflow",
        BatchError::TreeFull { .. } => "tree_full",
        BatchError::ZeroAddress { .. } => "zero_address",
        BatchError::Nonce { .. } => "nonce",
        BatchError::Dimension { .. } => "feature_width",
        _ => "apply_batch",
    }
}

fn check_genesis(stored: &Genesis, configured: &Genesis) -> Result<(), NodeError> {
    let mismatch = |field, stored: String, configured: String| {
        Err(NodeError::GenesisMismatch { field, stored, configured })
    };
    if stored.schema != configured.schema {
        return mismatch("schema", stored.schema.to_string(), configured.schema.to_string());
    }
    if stored.domain.chain_id != configured.domain.chain_id {
        return mismatch(
            "chain id",
            stored.domain.chain_id.to_string(),
            configured.domain.chain_id.to_string(),
        );
    }
    if stored.domain.verifying_contract != configured.domain.verifying_contract {
        return mismatch(
            "rollup",
            stored.domain.verifying_contract.to_string(),
            configured.domain.verifying_contract.to_string(),
        );
    }
    if stored.tree_depth != configured.tree_depth {
        return mismatch(
            "tree depth",
            stored.tree_depth.to_string(),
            configured.tree_depth.to_string(),
        );
    }
    if stored.model_commitment != configured.model_commitment {
        return mismatch(
            "model commitment",
            stored.model_commitment.to_string(),
            configured.model_commitment.to_string(),
        );
    }
    if stored.policy_commitment != configured.policy_commitment {
        return mismatch(
            "policy commitment",
            stored.policy_commitment.to_string(),
            configured.policy_commitment.to_string(),
        );
    }
    Ok(())
}

impl Writer {
    /// Runs until `stop` turns true, then stops taking submissions, writes those already
    /// queued and returns.
    ///
    /// Group commit: the writer takes one submission, then everything else queued, waiting up
    /// to the group-commit window for more while the group is small (fewer than 16; at most
    /// 1,024 in all), checks nonces in arrival order and writes the accepted ones in one synced
    /// write; only then does it answer them.
    ///
    /// The writer runs on a thread of its own (`merit-writer`, with a single-threaded runtime
    /// for its timers) and makes the synced write right there: the next group is never queued
    /// behind the API's request handlers (signature recovery keeps them busy under load), and
    /// no write waits for a blocking-pool thread. This future resolves when the thread is done;
    /// if it is dropped instead (its runtime shutting down), the writer stops as on `stop`.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let (finished, done) = oneshot::channel::<()>();
        // Dropped with this future: tells the thread to stop.
        let (_alive, dropped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("merit-writer".to_owned()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(runtime) => runtime.block_on(self.run_here(stop, dropped)),
                Err(error) => {
                    error!(target: "merit::sequencer", %error, "cannot start the writer's runtime")
                }
            }
            let _ = finished.send(());
        });
        match thread {
            Ok(_) => {
                let _ = done.await;
            }
            Err(error) => {
                error!(target: "merit::sequencer", %error, "cannot start the writer thread");
            }
        }
    }

    async fn run_here(
        mut self,
        mut stop: watch::Receiver<bool>,
        mut dropped: oneshot::Receiver<()>,
    ) {
        let mut stopping = false;
        loop {
            let first = if stopping {
                match self.rx.recv().await {
                    Some(first) => first,
                    None => break,
                }
            } else {
                tokio::select! {
                    biased;
                    first = self.rx.recv() => match first {
                        Some(first) => first,
                        None => break,
                    },
                    _ = stop.wait_for(|stop| *stop) => {
                        self.rx.close();
                        stopping = true;
                        continue;
                    }
                    _ = &mut dropped => {
                        self.rx.close();
                        stopping = true;
                        continue;
                    }
                }
            };
            let group = self.collect(first).await;
            self.commit(group);
        }
        info!(target: "merit::sequencer", "writer flushed and stopped");
    }

    async fn collect(&mut self, first: Submission) -> Vec<Submission> {
        let mut group = vec![first];
        let window = self.sequencer.settings.group_commit_window;
        let deadline = tokio::time::Instant::now() + window;
        while group.len() < MAX_GROUP {
            if let Ok(next) = self.rx.try_recv() {
                group.push(next);
                continue;
            }
            // A group that is already large (a relay's request arrives whole) goes at once;
            // only a small one waits for more (the timer ticks a millisecond apart).
            if window.is_zero() || group.len() >= FULL_GROUP {
                break;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(next)) => group.push(next),
                _ => break,
            }
        }
        group
    }

    /// Checks nonces, writes the accepted submissions in one synced write on this thread, then
    /// answers them.
    fn commit(&mut self, group: Vec<Submission>) {
        let sequencer = self.sequencer.clone();
        let received_at_ms = unix_ms(SystemTime::now());
        let mut accepted_nonces: HashMap<Address, u64> = HashMap::new();
        let mut set = WriteSet::new();
        let mut accepted = Vec::with_capacity(group.len());
        let first_seq = self.next_seq;
        let mut next_seq = self.next_seq;
        for submission in group {
            let contribution = &submission.signed.contribution;
            let (contributor, nonce) = (contribution.contributor, contribution.nonce);
            let last = accepted_nonces
                .get(&contributor)
                .or_else(|| self.nonces.get(&contributor))
                .copied()
                .unwrap_or(0);
            if nonce <= last {
                let replayed = (nonce == last && last > 0)
                    // Accepted earlier in this group: not in the store yet.
                    || accepted.iter().any(|(_, r): &(_, Receipt)| r.id == submission.id)
                    || match sequencer.store.contains::<Contributions>(&submission.id) {
                        Ok(stored) => stored,
                        Err(error) => {
                            error!(target: "merit::sequencer", %error, "cannot read the store");
                            let _ = submission.reply.send(Err(SubmitError::Store(error)));
                            continue;
                        }
                    };
                let error = if replayed {
                    SubmitError::NonceReplayed { contributor, nonce }
                } else {
                    SubmitError::NonceTooLow { contributor, nonce, last }
                };
                let _ = submission.reply.send(Err(error));
                continue;
            }
            let seq = next_seq;
            let record =
                ContributionRecord { seq, received_at_ms, signed: submission.signed.clone() };
            let mut one = WriteSet::new();
            let staged = one
                .put::<Contributions>(&submission.id, &record)
                .and_then(|()| one.put::<Pending>(&seq, &submission.id))
                .and_then(|()| one.put::<Nonces>(&contributor, &nonce));
            if let Err(error) = staged {
                error!(target: "merit::sequencer", %error, "cannot encode a contribution");
                let _ = submission.reply.send(Err(SubmitError::WriteFailed));
                continue;
            }
            set.extend(one);
            next_seq += 1;
            accepted_nonces.insert(contributor, nonce);
            let receipt = Receipt { id: submission.id, contributor, nonce, seq, received_at_ms };
            accepted.push((submission.reply, receipt));
        }
        if accepted.is_empty() {
            return;
        }
        if let Err(error) = set.put::<Metadata>(&MetaKey::NextSeq, &MetaValue::NextSeq(next_seq)) {
            error!(target: "merit::sequencer", %error, "cannot encode the sequence number");
            for (reply, _) in accepted {
                let _ = reply.send(Err(SubmitError::WriteFailed));
            }
            return;
        }
        let started = Instant::now();
        let write = std::panic::AssertUnwindSafe(|| sequencer.store.write(set));
        let written = match std::panic::catch_unwind(write) {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                error!(
                    target: "merit::sequencer",
                    %error,
                    count = accepted.len(),
                    "durable write failed; nothing of this group was acknowledged"
                );
                false
            }
            Err(_) => {
                error!(target: "merit::sequencer", "the durable write panicked");
                false
            }
        };
        if !written {
            for (reply, _) in accepted {
                let _ = reply.send(Err(SubmitError::WriteFailed));
            }
            return;
        }
        let count = accepted.len();
        self.next_seq = next_seq;
        self.nonces.extend(accepted_nonces);
        sequencer.note_pending(count as u64);
        sequencer.metrics.group_commit_size.observe(count as f64);
        debug!(
            target: "merit::sequencer",
            count,
            first_seq,
            write_ms = started.elapsed().as_secs_f64() * 1e3,
            "group committed"
        );
        for (reply, receipt) in accepted {
            let _ = reply.send(Ok(receipt));
        }
    }
}
