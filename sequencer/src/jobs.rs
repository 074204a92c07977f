//! The prover job queue: every sealed batch is a job; workers lease one, prove it and upload
//! the proof, which is verified natively before it is stored.
//!
//! ```text
//!  seal batch b ──▶ job_vectors[b] = BatchVector (same write as the batch)   status: sealed
//!  POST /v1/jobs/lease ──▶ oldest open b whose lease is absent or lapsed
//!                          leases[b] = { random lease_id, prover, expires_at }  status: leased
//!  POST /v1/jobs/b/proof ──▶ lease current and unexpired? config and batch id right?
//!                            instances == job_vectors[b].public_instances?
//!                            merit_prover::verify(srs, vk, proof)?
//!                          proofs[b] = proof; delete job_vectors[b], leases[b]  status: proven
//! ```
//!
//! - **Parallel proving.** Any number of batches can be leased at once, to different workers;
//!   proofs are accepted in any order (settlement on L1 is in order, elsewhere).
//! - **Leases are durable** (the `leases` table): a sequencer restart between a lease and its
//!   upload loses nothing. A lapsed lease is re-issued to the next worker that asks; the old
//!   holder's upload is then refused with `409 lease_lost`.
//! - **Time** comes from a [`Clock`], so tests make leases lapse by advancing a
//!   [`ManualClock`] instead of sleeping.
//! - **The circuit fixes the batch shape.** [`JobQueue::fit`] refuses a node whose model or
//!   tree depth is not the circuit's, or whose batches could be larger than its
//!   `max_contributions` / `max_accounts` (and sets the batcher's account limit).
//! - Batches sealed while the queue was disabled get their job when it is enabled: the node
//!   rebuilds their prover input by replaying the stored batches from genesis at start.

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::B256;
use merit_circuits::config::{CircuitConfig, LoadedConfig};
use merit_core::{
    apply_batch, field::fr_to_b256, vectors::BatchVector, Batch, BatchApplied, State,
};
use merit_prover::{
    job::{Job, ProofReceipt, ProofUpload},
    BatchKeys, KeyStore, ProverError, Srs,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{
    config::{Config, Protocol},
    metrics::Metrics,
    sequencer::Settings,
    store::{
        BatchOutputs, Batches, JobVectors, LeaseRecord, Leases, ProofRecord, Proofs, Store,
        StoreError, StoreExt, WriteSet,
    },
};

/// Where the job queue reads the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in ms since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self { now_ms: AtomicU64::new(now_ms) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// The circuit the job queue verifies proofs with: its configuration, SRS and keys.
#[derive(Debug)]
pub struct Circuit {
    srs: Srs,
    keys: Arc<BatchKeys>,
}

/// Why the job queue cannot be set up for this node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobSetupError {
    /// The circuit configuration file is unusable.
    #[error("prover.circuit {path}: {source}")]
    Circuit {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: merit_circuits::config::ConfigError,
    },
    /// The SRS or the keys could not be loaded or generated.
    #[error("the prover keys: {0}")]
    Keys(#[from] ProverError),
    /// The node scores with another model than the circuit's.
    #[error(
        "the circuit configuration {circuit} proves model {circuit_model}, but the node is \
         configured with model {node_model}; set protocol.model to the configuration's model file"
    )]
    ModelMismatch {
        /// The configuration's name.
        circuit: String,
        /// Its model's commitment.
        circuit_model: B256,
        /// The node's model's commitment.
        node_model: B256,
    },
    /// The node's account tree has another depth than the circuit's.
    #[error(
        "the circuit configuration {circuit} has an account tree of depth {circuit_depth}, the \
         node {node_depth}; set protocol.tree_depth = {circuit_depth}"
    )]
    DepthMismatch {
        /// The configuration's name.
        circuit: String,
        /// Its depth.
        circuit_depth: usize,
        /// The node's.
        node_depth: usize,
    },
    /// The batcher could seal batches larger than the circuit.
    #[error(
        "batcher.max_batch_size = {max_batch_size} exceeds the circuit configuration {circuit}'s \
         max_contributions = {max_contributions}; set it to at most {max_contributions}"
    )]
    BatchSize {
        /// The configuration's name.
        circuit: String,
        /// The batcher's limit.
        max_batch_size: usize,
        /// The circuit's.
        max_contributions: usize,
    },
    /// The batcher could seal batches with more contributors than the circuit has slots.
    #[error(
        "batcher.max_batch_accounts = {max_batch_accounts} exceeds the circuit configuration \
         {circuit}'s max_accounts = {max_accounts}; set it to at most {max_accounts} or leave it out"
    )]
    BatchAccounts {
        /// The configuration's name.
        circuit: String,
        /// The batcher's limit.
        max_batch_accounts: usize,
        /// The circuit's.
        max_accounts: usize,
    },
    /// The batcher could seal batches with more new accounts than the circuit has link slots.
    #[error(
        "batcher.max_batch_new_accounts = {max_batch_new_accounts} exceeds the circuit \
         configuration {circuit}'s max_new_accounts = {max_new_accounts}; set it to at most \
         {max_new_accounts} or leave it out"
    )]
    BatchNewAccounts {
        /// The configuration's name.
        circuit: String,
        /// The batcher's limit.
        max_batch_new_accounts: usize,
        /// The circuit's.
        max_new_accounts: usize,
    },
    /// A batch sealed before the job queue was enabled does not fit the circuit.
    #[error(
        "batch {batch_id} ({contributions} contributions, {accounts} accounts) was sealed before \
         the job queue was enabled and does not fit the circuit configuration {circuit}; it \
         cannot be proven with it"
    )]
    Unprovable {
        /// The configuration's name.
        circuit: String,
        /// The batch.
        batch_id: u64,
        /// Its contributions.
        contributions: usize,
        /// Its touched accounts.
        accounts: usize,
    },
    /// Replaying the stored batches failed.
    #[error("cannot rebuild the prover input of batch {batch_id}: {reason}")]
    Replay {
        /// The batch.
        batch_id: u64,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Circuit {
    /// A circuit from an SRS and keys made with it.
    pub fn new(srs: Srs, keys: Arc<BatchKeys>) -> Self {
        Self { srs, keys }
    }

    /// Loads `prover.circuit`, its SRS (`prover.srs` or the development SRS) and its keys
    /// (generated into the key directory on first use). `None` when no circuit is configured.
    pub fn load(config: &Config) -> Result<Option<Self>, JobSetupError> {
        let Some(path) = &config.prover.circuit else { return Ok(None) };
        let loaded = CircuitConfig::load(path)
            .map_err(|source| JobSetupError::Circuit { path: path.clone(), source })?;
        let k = loaded.config.k as u32;
        let srs = match &config.prover.srs {
            Some(srs) => Srs::load(srs, k)?,
            None => Srs::development(k),
        };
        let dir = config.prover.key_dir(&config.storage);
        let started = Instant::now();
        let keys = KeyStore::new(&dir).load_or_generate(&loaded, &srs)?;
        info!(
            target: "merit::sequencer",
            circuit = %loaded.config.name,
            keys = %dir.display(),
            generated = keys.generated,
            seconds = started.elapsed().as_secs_f64(),
            "prover keys ready"
        );
        Ok(Some(Self::new(srs, Arc::new(keys))))
    }

    /// The configuration's name.
    pub fn name(&self) -> &str {
        &self.keys.config.config.name
    }

    /// The configuration.
    pub fn config(&self) -> &LoadedConfig {
        &self.keys.config
    }

    /// The SRS.
    pub fn srs(&self) -> &Srs {
        &self.srs
    }

    /// The keys.
    pub fn keys(&self) -> &Arc<BatchKeys> {
        &self.keys
    }
}

/// Why a lease or an upload was refused. Every variant but `Store` and `MissingVector` is the
/// worker's to handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The prover id is empty, too long or not printable.
    #[error("prover must be 1 to 128 printable characters")]
    InvalidProver,
    /// No such batch has been sealed.
    #[error("batch {batch_id} has not been sealed")]
    NotSealed {
        /// The batch.
        batch_id: u64,
    },
    /// The batch already has an accepted proof.
    #[error("batch {batch_id} is already proven")]
    AlreadyProven {
        /// The batch.
        batch_id: u64,
    },
    /// The lease is not the batch's current, unexpired lease.
    #[error("the lease on batch {batch_id} is lost: {reason}; lease a job again")]
    LeaseLost {
        /// The batch.
        batch_id: u64,
        /// Why.
        reason: String,
    },
    /// The proof is for another circuit configuration.
    #[error("the proof is for circuit configuration {found:?}, this node verifies {expected:?}")]
    WrongConfig {
        /// The node's.
        expected: String,
        /// The proof's.
        found: String,
    },
    /// The proof names another batch.
    #[error("the proof is for batch {found}, uploaded for batch {expected}")]
    WrongBatch {
        /// The batch of the route.
        expected: u64,
        /// The proof's.
        found: u64,
    },
    /// The proof's public instances are not the batch's.
    #[error("the proof's public instances are not batch {batch_id}'s: {detail}")]
    InstanceMismatch {
        /// The batch.
        batch_id: u64,
        /// The first difference.
        detail: String,
    },
    /// The proof does not verify with the circuit's verifying key.
    #[error("the proof does not verify: {reason}")]
    InvalidProof {
        /// The verifier's reason.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An open job has no stored prover input.
    #[error("the prover input of batch {batch_id} is missing from the store")]
    MissingVector {
        /// The batch.
        batch_id: u64,
    },
}

impl JobError {
    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            JobError::InvalidProver => "invalid_prover",
            JobError::NotSealed { .. } => "batch_not_sealed",
            JobError::AlreadyProven { .. } => "already_proven",
            JobError::LeaseLost { .. } => "lease_lost",
            JobError::WrongConfig { .. } => "wrong_config",
            JobError::WrongBatch { .. } => "wrong_batch",
            JobError::InstanceMismatch { .. } => "instance_mismatch",
            JobError::InvalidProof { .. } => "invalid_proof",
            JobError::Store(_) | JobError::MissingVector { .. } => "internal",
        }
    }
}

/// Where a batch is in the job queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Sealed, waiting for a worker (never leased, or the lease lapsed).
    Sealed,
    /// Leased to a worker, lease not lapsed.
    Leased,
    /// A proof was accepted.
    Proven,
}

/// One batch's job as `GET /v1/jobs` and `GET /v1/jobs/{batch_id}` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobView {
    /// The batch.
    pub batch_id: u64,
    /// Sealed, leased or proven.
    pub status: JobStatus,
    /// `leased`: the lease holder; `sealed`: the holder of the lapsed lease, if any; `proven`:
    /// who proved it.
    pub prover: Option<String>,
    /// When the (last) lease was issued, ms since the Unix epoch.
    pub leased_at: Option<u64>,
    /// When the (last) lease lapses or lapsed, ms since the Unix epoch.
    pub expires_at: Option<u64>,
    /// When the proof was accepted, ms since the Unix epoch.
    pub proven_at: Option<u64>,
}

/// `GET /v1/jobs`: the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsView {
    /// The circuit configuration proofs are verified with.
    pub config: String,
    /// How long a lease lasts, ms.
    pub lease_ms: u64,
    /// The node's clock, ms since the Unix epoch.
    pub now: u64,
    /// The last sealed batch.
    pub last_batch: Option<u64>,
    /// Every unproven batch (sealed or leased), oldest first.
    pub open: Vec<JobView>,
}

/// The job queue of a node (see the module docs).
#[derive(Debug)]
pub struct JobQueue {
    circuit: Arc<Circuit>,
    lease: Duration,
    clock: Arc<dyn Clock>,
    /// Every unproven batch and its current lease.
    open: Mutex<BTreeMap<u64, Option<LeaseRecord>>>,
}

impl JobQueue {
    /// A queue verifying with `circuit`, leasing for `lease`, reading time from `clock`.
    pub fn new(circuit: Arc<Circuit>, lease: Duration, clock: Arc<dyn Clock>) -> Self {
        Self { circuit, lease, clock, open: Mutex::default() }
    }

    /// The circuit.
    pub fn circuit(&self) -> &Arc<Circuit> {
        &self.circuit
    }

    /// How long a lease lasts.
    pub fn lease_duration(&self) -> Duration {
        self.lease
    }

    /// The queue's clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Option<LeaseRecord>>> {
        // Every critical section leaves the map consistent before anything can panic.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks that the node seals batches this circuit can prove, and sets the batcher's
    /// account limits to the circuit's (or keeps lower ones).
    pub fn fit(&self, protocol: &Protocol, settings: &mut Settings) -> Result<(), JobSetupError> {
        let loaded = self.circuit.config();
        let circuit = loaded.config.name.clone();
        let circuit_model = fr_to_b256(&loaded.model.commitment());
        let node_model = protocol.model_commitment();
        if circuit_model != node_model {
            return Err(JobSetupError::ModelMismatch { circuit, circuit_model, node_model });
        }
        if loaded.config.depth != protocol.tree_depth {
            return Err(JobSetupError::DepthMismatch {
                circuit,
                circuit_depth: loaded.config.depth,
                node_depth: protocol.tree_depth,
            });
        }
        let max_contributions = loaded.config.max_contributions;
        if settings.max_batch_size > max_contributions {
            return Err(JobSetupError::BatchSize {
                circuit,
                max_batch_size: settings.max_batch_size,
                max_contributions,
            });
        }
        let max_accounts = loaded.config.max_accounts;
        cap(&mut settings.max_batch_accounts, max_accounts).map_err(|max_batch_accounts| {
            JobSetupError::BatchAccounts {
                circuit: circuit.clone(),
                max_batch_accounts,
                max_accounts,
            }
        })?;
        if let Some(max_new_accounts) = loaded.config.max_new_accounts {
            cap(&mut settings.max_batch_new_accounts, max_new_accounts).map_err(
                |max_batch_new_accounts| JobSetupError::BatchNewAccounts {
                    circuit,
                    max_batch_new_accounts,
                    max_new_accounts,
                },
            )?;
        }
        if loaded.shape.active_depth.is_some() {
            // The sentinel takes one of the circuit's leaves.
            let capacity = usize::try_from(loaded.shape.leaf_capacity() - 1).unwrap_or(usize::MAX);
            settings.max_accounts =
                Some(settings.max_accounts.map_or(capacity, |m| m.min(capacity)));
        }
        Ok(())
    }

    /// Loads the open jobs and their leases from `store`; rebuilds the prover input of batches
    /// sealed while the queue was disabled by replaying the stored batches from genesis.
    pub(crate) fn load(
        &self,
        store: &dyn Store,
        protocol: &Protocol,
        last_batch: Option<u64>,
    ) -> Result<(), JobSetupError> {
        let last = last_batch.unwrap_or(0);
        let mut open = BTreeMap::new();
        let mut missing = Vec::new();
        for batch_id in 1..=last {
            if store.contains::<JobVectors>(&batch_id)? {
                open.insert(batch_id, store.get::<Leases>(&batch_id)?);
            } else if !store.contains::<Proofs>(&batch_id)? {
                missing.push(batch_id);
            }
        }
        if let Some(&first) = missing.first() {
            warn!(
                target: "merit::sequencer",
                batches = missing.len(),
                first,
                "batches without a job (sealed while the job queue was disabled); replaying"
            );
            self.replay(store, protocol, &missing)?;
            open.extend(missing.iter().map(|b| (*b, None)));
        }
        info!(target: "merit::sequencer", open = open.len(), circuit = self.circuit.name(), "job queue loaded");
        *self.lock() = open;
        Ok(())
    }

    fn replay(
        &self,
        store: &dyn Store,
        protocol: &Protocol,
        missing: &[u64],
    ) -> Result<(), JobSetupError> {
        let wanted: HashSet<u64> = missing.iter().copied().collect();
        let last = missing.iter().copied().max().unwrap_or(0);
        let replay_error = |batch_id, reason: String| JobSetupError::Replay { batch_id, reason };
        let mut state =
            State::new(protocol.tree_depth).map_err(|e| replay_error(1, e.to_string()))?;
        for batch_id in 1..=last {
            let batch = store
                .get::<Batches>(&batch_id)?
                .ok_or_else(|| replay_error(batch_id, "the batch is not stored".into()))?;
            let applied = apply_batch(&state, &protocol.model, &protocol.policy, &batch.unsigned())
                .map_err(|e| replay_error(batch_id, e.to_string()))?;
            let stored = store.get::<BatchOutputs>(&batch_id)?;
            if stored.as_ref() != Some(&applied.output) {
                return Err(replay_error(
                    batch_id,
                    "the replayed output differs from the stored one".into(),
                ));
            }
            let next = applied.state.clone();
            if wanted.contains(&batch_id) {
                let config = &self.circuit.config().config;
                let (contributions, accounts) =
                    (batch.contributions.len(), applied.output.touched.len());
                let new_accounts = applied.trace.accounts.iter().filter(|u| u.is_new).count();
                let leaves = applied.state.next_index();
                if contributions > config.max_contributions
                    || accounts > config.max_accounts
                    || config.max_new_accounts.is_some_and(|k| new_accounts > k)
                    || leaves > self.circuit.config().shape.leaf_capacity()
                {
                    return Err(JobSetupError::Unprovable {
                        circuit: config.name.clone(),
                        batch_id,
                        contributions,
                        accounts,
                    });
                }
                let vector = job_vector(protocol, &state, batch, applied);
                let mut set = WriteSet::new();
                set.put::<JobVectors>(&batch_id, &vector)?;
                store.write(set)?;
            }
            state = next;
        }
        Ok(())
    }

    /// Records a newly sealed batch as an open job (its vector is already stored).
    pub(crate) fn opened(&self, batch_id: u64) {
        self.lock().insert(batch_id, None);
    }

    /// Number of unproven batches.
    pub fn open_count(&self) -> usize {
        self.lock().len()
    }

    /// Leases the oldest unproven batch whose lease is absent or lapsed to `prover`; `None`
    /// when every unproven batch is leased (or there is none). The lease is stored durably
    /// before it is returned.
    pub fn lease(
        &self,
        store: &dyn Store,
        metrics: &Metrics,
        prover: &str,
    ) -> Result<Option<Job>, JobError> {
        if prover.is_empty() || prover.chars().count() > 128 || prover.chars().any(char::is_control)
        {
            return Err(JobError::InvalidProver);
        }
        let now = self.clock.now_ms();
        let mut open = self.lock();
        let Some((&batch_id, lapsed)) =
            open.iter().find(|(_, lease)| lease.as_ref().is_none_or(|l| l.expires_at <= now))
        else {
            return Ok(None);
        };
        let lapsed = lapsed.clone();
        let vector =
            store.get::<JobVectors>(&batch_id)?.ok_or(JobError::MissingVector { batch_id })?;
        let lease = LeaseRecord {
            lease_id: B256::from(rand::random::<[u8; 32]>()),
            prover: prover.to_owned(),
            leased_at: now,
            expires_at: now.saturating_add(self.lease.as_millis() as u64),
        };
        let mut set = WriteSet::new();
        set.put::<Leases>(&batch_id, &lease)?;
        store.write(set)?;
        open.insert(batch_id, Some(lease.clone()));
        drop(open);
        metrics.jobs_leased.inc();
        if let Some(lapsed) = lapsed {
            metrics.leases_expired.inc();
            warn!(
                target: "merit::sequencer",
                batch_id,
                previous = %lapsed.prover,
                expired_at = lapsed.expires_at,
                "a lease lapsed; the batch is leased again"
            );
        }
        info!(target: "merit::sequencer", batch_id, prover, expires_at = lease.expires_at, "job leased");
        Ok(Some(Job {
            batch_id,
            lease_id: lease.lease_id,
            expires_at: lease.expires_at,
            config: self.circuit.name().to_owned(),
            vector,
        }))
    }

    /// Checks an uploaded proof of `batch_id` (lease, configuration, instances, native
    /// verification) and, if it passes, stores it and marks the batch proven. Nothing is
    /// stored when it fails.
    pub fn submit_proof(
        &self,
        store: &dyn Store,
        metrics: &Metrics,
        batch_id: u64,
        upload: ProofUpload,
    ) -> Result<ProofReceipt, JobError> {
        let result = self.check_and_store(store, batch_id, upload);
        match &result {
            Ok(receipt) => {
                metrics.proofs_accepted.inc();
                metrics.open_jobs.set(self.open_count() as i64);
                info!(target: "merit::sequencer", batch_id, prover = %receipt.prover, "proof accepted; batch proven");
            }
            Err(error) => {
                metrics.proofs_rejected.with_label_values(&[error.code()]).inc();
                warn!(target: "merit::sequencer", batch_id, %error, "proof refused");
            }
        }
        result
    }

    fn check_and_store(
        &self,
        store: &dyn Store,
        batch_id: u64,
        upload: ProofUpload,
    ) -> Result<ProofReceipt, JobError> {
        let now = self.clock.now_ms();
        let lost = |reason: String| JobError::LeaseLost { batch_id, reason };
        let lease = match self.lock().get(&batch_id) {
            None if store.contains::<Proofs>(&batch_id)? => {
                return Err(JobError::AlreadyProven { batch_id })
            }
            None => return Err(JobError::NotSealed { batch_id }),
            Some(None) => return Err(lost("the batch is not leased".into())),
            Some(Some(lease)) if lease.lease_id != upload.lease_id => {
                return Err(lost(format!("the batch is leased to {} now", lease.prover)))
            }
            Some(Some(lease)) if lease.expires_at <= now => {
                return Err(lost(format!("the lease lapsed at {} (now {now})", lease.expires_at)))
            }
            Some(Some(lease)) => lease.clone(),
        };
        let proof = &upload.proof;
        if proof.config != self.circuit.name() {
            return Err(JobError::WrongConfig {
                expected: self.circuit.name().to_owned(),
                found: proof.config.clone(),
            });
        }
        if proof.batch_id != batch_id {
            return Err(JobError::WrongBatch { expected: batch_id, found: proof.batch_id });
        }
        let vector =
            store.get::<JobVectors>(&batch_id)?.ok_or(JobError::MissingVector { batch_id })?;
        let expected: Vec<B256> = vector.public_instances.iter().map(fr_to_b256).collect();
        if proof.instances != expected {
            let detail = match expected.iter().zip(&proof.instances).position(|(a, b)| a != b) {
                Some(i) => {
                    format!("instance {i} is {}, expected {}", proof.instances[i], expected[i])
                }
                None => format!("{} instances, expected {}", proof.instances.len(), expected.len()),
            };
            return Err(JobError::InstanceMismatch { batch_id, detail });
        }
        merit_prover::verify(self.circuit.srs.params(), self.circuit.keys.vk(), proof)
            .map_err(|e| JobError::InvalidProof { reason: e.to_string() })?;

        let mut open = self.lock();
        match open.get(&batch_id) {
            Some(Some(current)) if current.lease_id == lease.lease_id => {}
            None => return Err(JobError::AlreadyProven { batch_id }),
            _ => {
                return Err(lost("the batch was leased again while the proof was verified".into()))
            }
        }
        let record =
            ProofRecord { proof: upload.proof, prover: lease.prover.clone(), accepted_at: now };
        let mut set = WriteSet::new();
        set.put::<Proofs>(&batch_id, &record)?;
        set.delete::<JobVectors>(&batch_id);
        set.delete::<Leases>(&batch_id);
        store.write(set)?;
        open.remove(&batch_id);
        Ok(ProofReceipt { batch_id, prover: lease.prover, accepted_at: now })
    }

    fn open_view(&self, batch_id: u64, lease: Option<&LeaseRecord>, now: u64) -> JobView {
        let leased = lease.is_some_and(|l| l.expires_at > now);
        JobView {
            batch_id,
            status: if leased { JobStatus::Leased } else { JobStatus::Sealed },
            prover: lease.map(|l| l.prover.clone()),
            leased_at: lease.map(|l| l.leased_at),
            expires_at: lease.map(|l| l.expires_at),
            proven_at: None,
        }
    }

    /// The job of `batch_id`: open (sealed or leased) or proven; `None` if not sealed.
    pub fn status(&self, store: &dyn Store, batch_id: u64) -> Result<Option<JobView>, StoreError> {
        let now = self.clock.now_ms();
        if let Some(lease) = self.lock().get(&batch_id) {
            return Ok(Some(self.open_view(batch_id, lease.as_ref(), now)));
        }
        Ok(store.get::<Proofs>(&batch_id)?.map(|record| JobView {
            batch_id,
            status: JobStatus::Proven,
            prover: Some(record.prover),
            leased_at: None,
            expires_at: None,
            proven_at: Some(record.accepted_at),
        }))
    }

    /// The queue: every unproven batch, oldest first.
    pub fn view(&self, last_batch: Option<u64>) -> JobsView {
        let now = self.clock.now_ms();
        let open = self
            .lock()
            .iter()
            .map(|(batch_id, lease)| self.open_view(*batch_id, lease.as_ref(), now))
            .collect();
        JobsView {
            config: self.circuit.name().to_owned(),
            lease_ms: self.lease.as_millis() as u64,
            now,
            last_batch,
            open,
        }
    }
}

/// The prover's input for `batch`, sealed on `prev_state` with the result `applied`.
/// Bounds a batcher limit by the circuit's: takes the circuit's when the limit is absent, keeps
/// a lower one, and returns a higher one as the error.
fn cap(limit: &mut Option<usize>, circuit: usize) -> Result<(), usize> {
    match *limit {
        Some(set) if set > circuit => Err(set),
        Some(_) => Ok(()),
        None => {
            *limit = Some(circuit);
            Ok(())
        }
    }
}

pub(crate) fn job_vector(
    protocol: &Protocol,
    prev_state: &State,
    batch: Batch,
    applied: BatchApplied,
) -> BatchVector {
    BatchVector {
        description: format!("batch {}", batch.batch_id),
        domain: protocol.domain,
        model: protocol.model.clone(),
        policy: protocol.policy,
        prev_state: prev_state.clone(),
        public_instances: applied.output.public_instances().to_vec(),
        output: applied.output,
        trace: applied.trace,
        new_state: applied.state,
        batch,
    }
}
