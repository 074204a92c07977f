//! The L1 submitter: settles proven batches on `RewardRollup`, in order, each exactly once.
//!
//! ```text
//!  every poll_ms (at once after a settlement):
//!    settled = RewardRollup.lastBatchId()           the chain is the authority, never the node
//!    next    = settled + 1
//!    proofs[next] stored?                     no ─▶ wait (not sealed or not proven yet)
//!    nonce(pending) > nonce(latest)?          yes ─▶ wait (a transaction of ours is in flight)
//!    submitBatch(header(next), touched(next), proof)   simulated with eth_call first: a revert
//!                                                      is reported with its custom error and
//!                                                      no transaction is sent
//!    receipt, then `confirmations` blocks     ─▶ settlements[next] = { tx, block, gas }
//! ```
//!
//! - **Never twice.** The next batch is always read from the contract, and nothing is sent while
//!   a transaction from the submitter's account is pending, so a restart of the submitter (or a
//!   lost receipt) cannot send a batch again; the contract refuses a repeated batch id anyway
//!   (`UnexpectedBatchId`), and the simulation catches that before any gas is spent.
//! - **Restarts.** The submitter keeps no state of its own beyond the `settlements` record: after
//!   a restart it reads `lastBatchId` and goes on. A restart of the node is a transport error,
//!   retried with backoff; a transaction the node forgot (its mempool lost) shows as no pending
//!   nonce and an unmoved `lastBatchId`, so the batch is sent again — once.
//! - **Reverts** (`StateRootMismatch`, `InvalidProof`, `InsufficientFunding`, a paused rollup, …)
//!   are logged with the decoded custom error, counted in `l1_submissions_total{outcome}`,
//!   shown in `GET /v1/status` (`l1.last_error`) and retried with backoff: most need an operator
//!   (funding the rollup, unpausing), and the submitter resumes when they are fixed.
//! - **Claims** are served against what is settled: [`L1Chain::settled_batch`] is what the API's
//!   claim-proof and account routes use.
//!
//! Not handled: fee bumping of a transaction stuck in the mempool (it is waited for), and
//! reorgs deeper than `confirmations` (the record in `settlements` would name a dropped
//! transaction; the chain's `lastBatchId` stays the authority, so the batch is sent again).

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use merit_contracts::{submit_batch, ContractsError, RewardRollup};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::{
    config::L1Config,
    jobs::{Clock, SystemClock},
    sequencer::Sequencer,
    store::{BatchOutputs, Proofs, SettlementRecord, Settlements, StoreError, StoreExt, WriteSet},
};

/// The environment variable holding the submitter's key when `l1.key_file` is not set.
pub const PRIVATE_KEY_VAR: &str = "MERIT_L1_PRIVATE_KEY";

/// Longest wait between two attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why the submitter cannot start or a settlement attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum L1Error {
    /// No usable private key (the message never contains key material).
    #[error("the L1 submitter's key: {0}")]
    Key(String),
    /// The RPC endpoint cannot be used.
    #[error("cannot connect to the L1 node at {url}: {reason}")]
    Connect {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node is on another chain than the EIP-712 domain names.
    #[error("the L1 node at {url} is chain {got}, but the domain's chain id is {expected}")]
    ChainId {
        /// The endpoint.
        url: String,
        /// `domain.chain_id`.
        expected: u64,
        /// What the node reports.
        got: u64,
    },
    /// No contract at the rollup address.
    #[error(
        "no contract at the rollup address {0} (domain.rollup): is it deployed on this chain?"
    )]
    NoCode(Address),
    /// The rollup registered another model or policy than the node runs.
    #[error(
        "the rollup at {rollup} registered {what} commitment {chain}, but this node runs {node}"
    )]
    Commitment {
        /// The rollup.
        rollup: Address,
        /// `model` or `policy`.
        what: &'static str,
        /// On chain.
        chain: B256,
        /// The node's.
        node: B256,
    },
    /// A read from the node failed.
    #[error("{context}: {reason}")]
    Rpc {
        /// What was being read.
        context: &'static str,
        /// The transport's or the node's error.
        reason: String,
    },
    /// A contract call reverted or its transaction failed.
    #[error(transparent)]
    Contract(#[from] ContractsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node's own records disagree (a proof without its batch output).
    #[error("inconsistent store: {0}")]
    Inconsistent(String),
}

impl L1Error {
    /// The `outcome` label of `l1_submissions_total` for this failure.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Contract(ContractsError::Reverted { .. }) => "reverted",
            Self::Contract(ContractsError::Failed { .. }) => "failed",
            Self::Contract(_) | Self::Rpc { .. } | Self::Connect { .. } => "rpc",
            Self::Store(_) | Self::Inconsistent(_) => "store",
            Self::Key(_) | Self::ChainId { .. } | Self::NoCode(_) | Self::Commitment { .. } => {
                "setup"
            }
        }
    }
}

fn rpc(context: &'static str) -> impl FnOnce(alloy::contract::Error) -> L1Error {
    move |e| L1Error::Rpc { context, reason: e.to_string() }
}

fn transport(context: &'static str) -> impl FnOnce(alloy::transports::TransportError) -> L1Error {
    move |e| L1Error::Rpc { context, reason: e.to_string() }
}

/// What the submitter knows about the chain, as `GET /v1/status` shows it (`l1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Status {
    /// The rollup contract.
    pub rollup: Address,
    /// The account that sends `submitBatch`.
    pub submitter: Address,
    /// The last settled batch as the contract last reported it (0 before the first).
    pub settled_batch: u64,
    /// The last `submitBatch` transaction the submitter saw confirmed.
    pub last_tx: Option<B256>,
    /// The last failure, cleared by the next settlement.
    pub last_error: Option<String>,
}

/// The settlement chain as the node sees it: a provider, the rollup, and the submitter's view
/// of what is settled. Shared by the submitter and the API.
#[derive(Debug)]
pub struct L1Chain {
    provider: DynProvider,
    rollup: Address,
    status: Mutex<L1Status>,
}

impl L1Chain {
    /// What the submitter last saw.
    pub fn status(&self) -> L1Status {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The last settled batch, as last read from the contract.
    pub fn settled_batch(&self) -> u64 {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).settled_batch
    }

    /// `RewardRollup.claimed(account)`: the cumulative amount already paid to `account`.
    pub async fn claimed(&self, account: Address) -> Result<U256, L1Error> {
        RewardRollup::new(self.rollup, &self.provider)
            .claimed(account)
            .call()
            .await
            .map_err(rpc("reading RewardRollup.claimed"))
    }

    fn update(&self, f: impl FnOnce(&mut L1Status)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Reads the submitter's private key from `config.key_file`, or from `MERIT_L1_PRIVATE_KEY`
/// (`env` is that variable's value, if set). Errors never quote the key.
pub fn load_signer(config: &L1Config, env: Option<&str>) -> Result<PrivateKeySigner, L1Error> {
    let (text, source) = match &config.key_file {
        Some(path) => (read_key_file(path)?, format!("key file {}", path.display())),
        None => match env {
            Some(value) => (value.to_owned(), PRIVATE_KEY_VAR.to_owned()),
            None => {
                return Err(L1Error::Key(format!(
                    "give l1.key_file (--l1-key-file) or set {PRIVATE_KEY_VAR}"
                )))
            }
        },
    };
    text.trim().parse::<PrivateKeySigner>().map_err(|_| {
        L1Error::Key(format!("{source} does not hold a secp256k1 private key (64 hex digits)"))
    })
}

fn read_key_file(path: &Path) -> Result<String, L1Error> {
    std::fs::read_to_string(path)
        .map_err(|e| L1Error::Key(format!("cannot read the key file {}: {e}", path.display())))
}

/// What one [`Submitter::step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Batch `batch_id` was settled by `tx`.
    Settled {
        /// The batch.
        batch_id: u64,
        /// The `submitBatch` transaction.
        tx: B256,
        /// The block it was mined in.
        block: u64,
        /// Gas it used.
        gas_used: u64,
    },
    /// The next batch has no accepted proof yet (or is not sealed yet).
    Waiting {
        /// The batch the chain expects next.
        next: u64,
    },
    /// A transaction from the submitter's account is pending; nothing is sent until it is mined.
    InFlight {
        /// The batch the chain expects next.
        next: u64,
    },
}

/// Settles the proofs the job queue accepted on the rollup; see the module docs.
#[derive(Debug)]
pub struct Submitter {
    chain: Arc<L1Chain>,
    sequencer: Arc<Sequencer>,
    sender: Address,
    confirmations: u64,
    poll: Duration,
}

impl Submitter {
    /// Connects to `config.rpc_url` with `signer` and checks the chain before anything is sent:
    /// the chain id is the domain's, the rollup (`domain.verifying_contract`) has code, and it
    /// registered the node's model and policy commitments.
    pub async fn connect(
        config: &L1Config,
        signer: PrivateKeySigner,
        sequencer: Arc<Sequencer>,
    ) -> Result<Self, L1Error> {
        let url = config.rpc_url.clone().ok_or_else(|| L1Error::Connect {
            url: String::new(),
            reason: "l1.rpc_url is not set".into(),
        })?;
        let sender = signer.address();
        // Plain nonce management: every transaction asks the node for the pending nonce, so a
        // restarted node (or one that dropped a transaction) never leaves a gap.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(signer)
            .connect(&url)
            .await
            .map_err(|e| L1Error::Connect { url: url.clone(), reason: e.to_string() })?
            .erased();
        let domain = &sequencer.protocol().domain;
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| L1Error::Connect { url: url.clone(), reason: e.to_string() })?;
        if chain_id != domain.chain_id {
            return Err(L1Error::ChainId { url, expected: domain.chain_id, got: chain_id });
        }
        let rollup_address = domain.verifying_contract;
        let code = provider
            .get_code_at(rollup_address)
            .await
            .map_err(transport("reading the rollup's code"))?;
        if code.is_empty() {
            return Err(L1Error::NoCode(rollup_address));
        }
        let rollup = RewardRollup::new(rollup_address, &provider);
        for (what, node) in
            [("model", sequencer.model_commitment()), ("policy", sequencer.policy_commitment())]
        {
            let call = if what == "model" {
                rollup.modelCommitment().call().await
            } else {
                rollup.policyCommitment().call().await
            };
            let chain = B256::from(call.map_err(rpc("reading the rollup's commitments"))?);
            if chain != node {
                return Err(L1Error::Commitment { rollup: rollup_address, what, chain, node });
            }
        }
        let settled = rollup.lastBatchId().call().await.map_err(rpc("reading lastBatchId"))?;
        info!(
            target: "merit::l1",
            %url, rollup = %rollup_address, submitter = %sender, settled,
            "L1 submitter connected"
        );
        let chain = Arc::new(L1Chain {
            provider,
            rollup: rollup_address,
            status: Mutex::new(L1Status {
                rollup: rollup_address,
                submitter: sender,
                settled_batch: settled,
                last_tx: None,
                last_error: None,
            }),
        });
        sequencer.metrics().l1_settled_batch.set(settled as i64);
        Ok(Self {
            chain,
            sequencer,
            sender,
            confirmations: config.confirmations,
            poll: config.poll(),
        })
    }

    /// The chain view this submitter keeps current (give it to [`Sequencer::attach_l1`]).
    pub fn chain(&self) -> &Arc<L1Chain> {
        &self.chain
    }

    /// One round: reads the chain and settles the next batch if its proof is here.
    pub async fn step(&self) -> Result<Step, L1Error> {
        let provider = &self.chain.provider;
        let rollup = RewardRollup::new(self.chain.rollup, provider);
        let settled = rollup.lastBatchId().call().await.map_err(rpc("reading lastBatchId"))?;
        self.chain.update(|s| s.settled_batch = settled);
        self.sequencer.metrics().l1_settled_batch.set(settled as i64);
        let next = settled + 1;

        let store = self.sequencer.store();
        let Some(record) = store.get::<Proofs>(&next)? else {
            return Ok(Step::Waiting { next });
        };
        let latest = provider
            .get_transaction_count(self.sender)
            .latest()
            .await
            .map_err(transport("reading the submitter's nonce"))?;
        let pending = provider
            .get_transaction_count(self.sender)
            .pending()
            .await
            .map_err(transport("reading the submitter's pending nonce"))?;
        if pending > latest {
            return Ok(Step::InFlight { next });
        }
        let output = store.get::<BatchOutputs>(&next)?.ok_or_else(|| {
            L1Error::Inconsistent(format!("batch {next} has a proof but no stored output"))
        })?;
        info!(target: "merit::l1", batch_id = next, "submitting batch");
        let receipt =
            submit_batch(provider, self.chain.rollup, &output, next, record.proof.proof.clone())
                .await?;
        let block = receipt.block_number.unwrap_or_default();
        let tx = receipt.transaction_hash;
        self.await_confirmations(block).await?;

        let record = SettlementRecord {
            tx_hash: tx,
            block,
            gas_used: receipt.gas_used,
            settled_at: SystemClock.now_ms(),
        };
        let mut set = WriteSet::new();
        set.put::<Settlements>(&next, &record)?;
        store.write(set)?;
        self.chain.update(|s| {
            s.settled_batch = next;
            s.last_tx = Some(tx);
            s.last_error = None;
        });
        let metrics = self.sequencer.metrics();
        metrics.l1_settled_batch.set(next as i64);
        metrics.l1_submissions.with_label_values(&["settled"]).inc();
        metrics.l1_gas_used.inc_by(receipt.gas_used);
        info!(
            target: "merit::l1",
            batch_id = next, %tx, block, gas_used = receipt.gas_used,
            "batch settled on L1"
        );
        Ok(Step::Settled { batch_id: next, tx, block, gas_used: receipt.gas_used })
    }

    /// Waits until `block` has `confirmations - 1` blocks on top of it.
    async fn await_confirmations(&self, block: u64) -> Result<(), L1Error> {
        loop {
            let head = self
                .chain
                .provider
                .get_block_number()
                .await
                .map_err(transport("reading the block number"))?;
            if head + 1 >= block + self.confirmations {
                return Ok(());
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Runs [`Submitter::step`] until `stop` turns true: at once again after a settlement,
    /// after `poll_ms` when there is nothing to do, with exponential backoff after failures.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            let step = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                step = self.step() => step,
            };
            let wait = match step {
                Ok(Step::Settled { .. }) => {
                    failures = 0;
                    continue;
                }
                Ok(Step::Waiting { .. }) => {
                    failures = 0;
                    self.poll
                }
                Ok(Step::InFlight { next }) => {
                    info!(target: "merit::l1", batch_id = next, "a transaction is pending; waiting");
                    self.poll
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let message = err.to_string();
                    if failures == 1 {
                        error!(target: "merit::l1", error = %message, "settlement failed");
                    } else {
                        warn!(target: "merit::l1", error = %message, failures, "settlement failed again");
                    }
                    self.sequencer
                        .metrics()
                        .l1_submissions
                        .with_label_values(&[err.outcome()])
                        .inc();
                    self.chain.update(|s| s.last_error = Some(message));
                    (self.poll * 2u32.saturating_pow(failures.min(16))).min(MAX_BACKOFF)
                }
            };
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        info!(target: "merit::l1", "L1 submitter stopped");
    }
}
