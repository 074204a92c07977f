//! Batches and the state-transition function [`apply_batch`].

use alloy_primitives::{keccak256, Address, B256, U256};
use halo2curves::{bn256::Fr, ff::PrimeField};
use serde::{Deserialize, Serialize};

use crate::{
    account_tree::AccountLeaf,
    claim_tree::{ClaimProof, ClaimTree},
    contribution::{Contribution, SignedContribution},
    field::{
        fr_from_address, fr_from_be_bytes, fr_from_u128, fr_to_be_bytes, serde_fr, serde_fr_vec,
        serde_u128,
    },
    model::{DimensionError, InferenceTrace, QuantizedModel},
    policy::{Policy, PolicyError},
    poseidon,
    state::{Account, State},
    DomainTag, MAX_CUMULATIVE,
};

/// A sealed batch as the sequencer publishes it: every contribution with its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Sequential batch id, from 1.
    pub batch_id: u64,
    /// Contributions sorted by `(contributor, nonce)`.
    pub contributions: Vec<SignedContribution>,
}

impl Batch {
    /// The contributions without their signatures, as [`apply_batch`] takes them.
    pub fn unsigned(&self) -> Vec<Contribution> {
        self.contributions.iter().map(|s| s.contribution.clone()).collect()
    }
}

/// One entry of the touched list: an account updated by a batch and its new cumulative reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchedAccount {
    /// The account.
    pub address: Address,
    /// Its cumulative reward after the batch.
    #[serde(with = "serde_u128")]
    pub cumulative: u128,
}

impl TouchedAccount {
    /// The 32-byte word of the packed touched list: `address << 96 | cumulative`.
    pub fn packed(&self) -> B256 {
        let word =
            (U256::from_be_slice(self.address.as_slice()) << 96) | U256::from(self.cumulative);
        B256::from(word)
    }
}

/// The BN254 scalar field's modulus `p`, as a `uint256`.
fn fr_modulus() -> U256 {
    U256::from_str_radix(Fr::MODULUS.trim_start_matches("0x"), 16).expect("a hex modulus")
}

/// The touched-list challenge `r`: keccak256 of the batch's other public values and the packed
/// touched list, reduced mod `p` — exactly what `RewardRollup` computes from its calldata:
/// `uint256(keccak256(abi.encodePacked(prevRoot, newRoot, batchCommitment, modelCommitment,
/// policyCommitment, totalReward, words))) % p`.
pub fn touched_challenge(header: &[Fr; 5], total_reward: u128, touched: &[TouchedAccount]) -> Fr {
    let mut bytes = Vec::with_capacity(32 * (6 + touched.len()));
    for x in header {
        bytes.extend_from_slice(&fr_to_be_bytes(x));
    }
    bytes.extend_from_slice(&U256::from(total_reward).to_be_bytes::<32>());
    for t in touched {
        bytes.extend_from_slice(t.packed().as_slice());
    }
    let reduced = U256::from_be_bytes(keccak256(bytes).0) % fr_modulus();
    fr_from_be_bytes(&reduced.to_be_bytes()).expect("reduced below the modulus")
}

/// The touched list's evaluation at the challenge:
/// `h = Σ_i (address_i + cumulative_i · r) · r^(2i)` (addresses and cumulatives as integers,
/// i.e. two field elements per entry, so the encoding is injective).
///
/// Why this binds the list: the circuit computes `h` from the touched list it proves, and the
/// contract from its calldata with the same `r`. The proven list is fixed by the other public
/// values (the batch commitment, the roots, the model and policy) before `r` exists, and `r`
/// hashes them together with the calldata list; two different lists agree at `r` with
/// probability at most `2M / p` (Schwartz–Zippel, `M` entries, keccak as a random oracle). The
/// circuit thus spends a few cells per account where an in-circuit keccak costs ~285k cells
/// per 136 bytes on the flex gate (`merit_circuits::keccak`).
pub fn touched_evaluation(challenge: Fr, touched: &[TouchedAccount]) -> Fr {
    touched.iter().rev().fold(Fr::zero(), |h, t| {
        h * challenge.square() + fr_from_address(t.address) + fr_from_u128(t.cumulative) * challenge
    })
}

/// What a batch proves, and what the contract receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOutput {
    /// Account-tree root before the batch.
    #[serde(with = "serde_fr")]
    pub prev_root: Fr,
    /// Account-tree root after the batch.
    #[serde(with = "serde_fr")]
    pub new_root: Fr,
    /// Poseidon chain over every contribution's fields, in batch order.
    #[serde(with = "serde_fr")]
    pub batch_commitment: Fr,
    /// The model's commitment.
    #[serde(with = "serde_fr")]
    pub model_commitment: Fr,
    /// The policy's commitment.
    #[serde(with = "serde_fr")]
    pub policy_commitment: Fr,
    /// Sum of all rewards of the batch.
    #[serde(with = "serde_u128")]
    pub total_reward: u128,
    /// Updated accounts and their new cumulative rewards, sorted by address.
    pub touched: Vec<TouchedAccount>,
    /// The touched-list challenge `r` ([`touched_challenge`]).
    #[serde(with = "serde_fr")]
    pub touched_challenge: Fr,
    /// The touched list evaluated at `r` ([`touched_evaluation`]).
    #[serde(with = "serde_fr")]
    pub touched_evaluation: Fr,
    /// Root of the claim tree over the touched list.
    pub claim_root: B256,
}

/// Number of public instances of the batch circuit.
pub const PUBLIC_INSTANCE_COUNT: usize = 8;

impl BatchOutput {
    /// The batch circuit's public instances, in order:
    /// `[prev_root, new_root, batch_commitment, model_commitment, policy_commitment,
    ///   total_reward, touched_challenge, touched_evaluation]`.
    pub fn public_instances(&self) -> [Fr; PUBLIC_INSTANCE_COUNT] {
        [
            self.prev_root,
            self.new_root,
            self.batch_commitment,
            self.model_commitment,
            self.policy_commitment,
            fr_from_u128(self.total_reward),
            self.touched_challenge,
            self.touched_evaluation,
        ]
    }

    /// The claim tree over the touched list.
    pub fn claim_tree(&self) -> ClaimTree {
        ClaimTree::new(self.touched.iter().map(|t| (t.address, t.cumulative)))
    }

    /// The `claim()` arguments for `account` against this batch's root, if it was touched.
    pub fn claim_proof(&self, batch_id: u64, account: Address) -> Option<ClaimProof> {
        let position = self.touched.binary_search_by_key(&account, |t| t.address).ok()?;
        let tree = self.claim_tree();
        Some(ClaimProof {
            batch_id,
            account,
            cumulative: self.touched[position].cumulative,
            proof: tree.proof(position)?,
            claim_root: tree.root(),
        })
    }
}

/// Every intermediate value of one contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionTrace {
    /// The model's inference.
    pub inference: InferenceTrace,
    /// The reward.
    #[serde(with = "serde_u128")]
    pub reward: u128,
    /// `Poseidon([tag, contribution fields…])`.
    #[serde(with = "serde_fr")]
    pub contribution_hash: Fr,
    /// The commitment chain after this contribution: `Poseidon(previous, contribution_hash)`.
    #[serde(with = "serde_fr")]
    pub commitment_after: Fr,
}

/// One leaf write: the leaf before and after, and its path in the tree as it is just before the
/// write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafUpdate {
    /// Leaf index.
    pub index: u64,
    /// The preimage before; `None` for an empty leaf (value `0`).
    pub old: Option<AccountLeaf>,
    /// The preimage after.
    pub new: AccountLeaf,
    /// Leaf value before.
    #[serde(with = "serde_fr")]
    pub old_leaf: Fr,
    /// Leaf value after.
    #[serde(with = "serde_fr")]
    pub new_leaf: Fr,
    /// Siblings of the path, leaf-up.
    #[serde(with = "serde_fr_vec")]
    pub siblings: Vec<Fr>,
    /// Root before this write.
    #[serde(with = "serde_fr")]
    pub root_before: Fr,
    /// Root after this write.
    #[serde(with = "serde_fr")]
    pub root_after: Fr,
}

/// Every intermediate value of one account update. Updates are applied one after another in
/// touched-list order. An existing account is one leaf write; a new account is two: its
/// predecessor's `next` pointer moves to it (`low`, which proves the address had no leaf), then
/// it is appended at the next free index (`leaf`, an empty leaf before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// The account.
    pub address: Address,
    /// Whether the account is appended by this batch.
    pub is_new: bool,
    /// Position of its first contribution in the batch.
    pub first_contribution: usize,
    /// Number of its contributions in the batch.
    pub contribution_count: usize,
    /// Sum of the rewards of its contributions.
    #[serde(with = "serde_u128")]
    pub reward_sum: u128,
    /// Cumulative reward before the batch (`0` for a new account).
    #[serde(with = "serde_u128")]
    pub old_cumulative: u128,
    /// Last nonce before the batch (`0` for a new account).
    pub old_last_nonce: u64,
    /// For a new account: the predecessor leaf's update.
    pub low: Option<LeafUpdate>,
    /// The account's own leaf.
    pub leaf: LeafUpdate,
}

/// Every intermediate value of a batch, for the circuit's witness and for golden vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchTrace {
    /// One per contribution, in batch order.
    pub contributions: Vec<ContributionTrace>,
    /// One per touched account, in touched-list order.
    pub accounts: Vec<AccountUpdate>,
    /// The final write of the sentinel leaf (index 0): its account count moves from the count
    /// before the batch to the count after (unchanged when no account is new). The circuit
    /// reads the old count here to fix the first free index.
    pub sentinel: LeafUpdate,
}

/// The result of a successful [`apply_batch`].
#[derive(Debug, Clone)]
pub struct BatchApplied {
    /// The state after the batch.
    pub state: State,
    /// What the batch proves.
    pub output: BatchOutput,
    /// Every intermediate value.
    pub trace: BatchTrace,
}

/// Which contribution an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRef {
    /// Position in the batch.
    pub index: usize,
    /// Its contributor.
    pub contributor: Address,
    /// Its nonce.
    pub nonce: u64,
}

impl std::fmt::Display for ContributionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "contribution #{} ({} nonce {})", self.index, self.contributor, self.nonce)
    }
}

/// Why a batch was rejected. A rejected batch changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The batch has no contributions.
    #[error("the batch has no contributions")]
    Empty,
    /// The policy is invalid.
    #[error("invalid policy: {0}")]
    Policy(#[from] PolicyError),
    /// Contributors are not in ascending order.
    #[error("{at}: contributor sorts before the previous contribution's {previous}")]
    Unsorted {
        /// The offending contribution.
        at: ContributionRef,
        /// The previous contributor.
        previous: Address,
    },
    /// A nonce is not above the account's last nonce or the previous nonce in the batch
    /// (a replay, a duplicate or an out-of-order nonce).
    #[error("{at}: nonce must be above {last_nonce}")]
    Nonce {
        /// The offending contribution.
        at: ContributionRef,
        /// The nonce it must exceed.
        last_nonce: u64,
    },
    /// The feature vector has the wrong width for the model.
    #[error("{at}: {source}")]
    Dimension {
        /// The offending contribution.
        at: ContributionRef,
        /// Expected and actual width.
        source: DimensionError,
    },
    /// The batch's rewards exceed the policy's budget.
    #[error("{at}: total reward {total} exceeds the batch budget {budget}")]
    Budget {
        /// The first contribution past the budget.
        at: ContributionRef,
        /// Total including it.
        total: u128,
        /// The budget.
        budget: u128,
    },
    /// An account's cumulative reward would exceed `2^96 - 1`.
    #[error("{at}: cumulative reward of {contributor} would reach {cumulative}, above 2^96 - 1")]
    CumulativeOverflow {
        /// The account's last contribution in the batch.
        at: ContributionRef,
        /// The account.
        contributor: Address,
        /// The cumulative it would have.
        cumulative: u128,
    },
    /// The zero address is the tree's sentinel and cannot contribute.
    #[error("{at}: the zero address cannot hold an account")]
    ZeroAddress {
        /// Its first contribution.
        at: ContributionRef,
    },
    /// No free leaf is left for a new account.
    #[error("{at}: the account tree of depth {depth} is full")]
    TreeFull {
        /// The new account's first contribution.
        at: ContributionRef,
        /// The tree depth.
        depth: usize,
    },
}

/// Re-hashes the leaf of `address` in `state` (whose account map already holds the new values)
/// and records the write. `old` is the leaf's preimage before, `None` for an empty leaf.
fn write_leaf(state: &mut State, address: &Address, old: Option<AccountLeaf>) -> LeafUpdate {
    let index = state.index_of(address).expect("the account map holds the address");
    let proof = state.tree().proof(index).expect("index below capacity");
    let root_before = state.root();
    state.refresh_leaf(address).expect("index below capacity");
    LeafUpdate {
        index,
        old,
        new: state.leaf(address).expect("present"),
        old_leaf: proof.leaf,
        new_leaf: state.tree().leaf(index),
        siblings: proof.siblings,
        root_before,
        root_after: state.root(),
    }
}

/// The initial value of the batch-commitment chain.
pub fn batch_commitment_seed() -> Fr {
    DomainTag::Batch.fr()
}

/// `Poseidon([tag, contribution fields…])`: the contribution's link in the commitment chain.
pub fn contribution_hash(contribution: &Contribution) -> Fr {
    let mut elements = vec![DomainTag::Contribution.fr()];
    elements.extend(contribution.field_elements());
    poseidon::hash(&elements)
}

/// `batch_commitment` of contributions: `c_0 = tag`, `c_i = Poseidon(c_{i-1}, h_i)`.
pub fn batch_commitment(contributions: &[Contribution]) -> Fr {
    contributions
        .iter()
        .fold(batch_commitment_seed(), |c, x| poseidon::hash2(c, contribution_hash(x)))
}

/// Applies a batch to `state`: validates it, scores every contribution, computes rewards and
/// updates each touched account once.
///
/// Rules, checked in batch order (the first violation is reported and nothing changes):
/// contributions sorted by `(contributor, nonce)`; each nonce above the account's last nonce and
/// strictly increasing within the batch; features of the model's width; the running total within
/// the policy's budget; each new cumulative at most `2^96 - 1`; a free leaf for each new account.
pub fn apply_batch(
    state: &State,
    model: &QuantizedModel,
    policy: &Policy,
    contributions: &[Contribution],
) -> Result<BatchApplied, BatchError> {
    policy.validate()?;
    if contributions.is_empty() {
        return Err(BatchError::Empty);
    }

    // Pass 1: validate and score, contribution by contribution.
    let mut traces = Vec::with_capacity(contributions.len());
    let mut total: u128 = 0;
    let mut commitment = batch_commitment_seed();
    for (index, contribution) in contributions.iter().enumerate() {
        let at = ContributionRef {
            index,
            contributor: contribution.contributor,
            nonce: contribution.nonce,
        };
        let last_nonce = match index.checked_sub(1).map(|i| &contributions[i]) {
            Some(prev) if prev.contributor == contribution.contributor => prev.nonce,
            Some(prev) if prev.contributor > contribution.contributor => {
                return Err(BatchError::Unsorted { at, previous: prev.contributor })
            }
            _ => state.account(&contribution.contributor).map_or(0, |a| a.last_nonce),
        };
        if contribution.nonce <= last_nonce {
            return Err(BatchError::Nonce { at, last_nonce });
        }
        let inference = model
            .infer(&contribution.features)
            .map_err(|source| BatchError::Dimension { at, source })?;
        let reward = policy.reward(inference.score);
        total += reward;
        if total > policy.batch_budget {
            return Err(BatchError::Budget { at, total, budget: policy.batch_budget });
        }
        let contribution_hash = contribution_hash(contribution);
        commitment = poseidon::hash2(commitment, contribution_hash);
        traces.push(ContributionTrace {
            inference,
            reward,
            contribution_hash,
            commitment_after: commitment,
        });
    }

    // Pass 2: one update per contributor (contributions are grouped by sorting).
    let mut next = state.clone();
    let mut updates = Vec::new();
    let mut touched = Vec::new();
    let mut start = 0;
    while start < contributions.len() {
        let address = contributions[start].contributor;
        let count = contributions[start..].iter().take_while(|c| c.contributor == address).count();
        let end = start + count;
        let last = &contributions[end - 1];
        let at = ContributionRef { index: end - 1, contributor: address, nonce: last.nonce };
        let first = ContributionRef {
            index: start,
            contributor: address,
            nonce: contributions[start].nonce,
        };
        if address == Address::ZERO {
            return Err(BatchError::ZeroAddress { at: first });
        }
        let reward_sum: u128 = traces[start..end].iter().map(|t| t.reward).sum();
        let existing = next.account(&address).copied();
        let old =
            existing.unwrap_or(Account { index: next.next_index(), cumulative: 0, last_nonce: 0 });
        let cumulative = old.cumulative + reward_sum;
        if cumulative > MAX_CUMULATIVE {
            return Err(BatchError::CumulativeOverflow { at, contributor: address, cumulative });
        }
        let low = match existing {
            Some(_) => None,
            None => {
                if !next.has_room() {
                    return Err(BatchError::TreeFull { at: first, depth: next.depth() });
                }
                let predecessor = next.predecessor(&address);
                let before = next.leaf(&predecessor).expect("the predecessor has a leaf");
                next.put_account(address, old);
                Some(write_leaf(&mut next, &predecessor, Some(before)))
            }
        };
        let before = existing.and_then(|_| next.leaf(&address));
        next.put_account(address, Account { index: old.index, cumulative, last_nonce: last.nonce });
        let leaf = write_leaf(&mut next, &address, before);
        updates.push(AccountUpdate {
            address,
            is_new: existing.is_none(),
            first_contribution: start,
            contribution_count: count,
            reward_sum,
            old_cumulative: old.cumulative,
            old_last_nonce: old.last_nonce,
            low,
            leaf,
        });
        touched.push(TouchedAccount { address, cumulative });
        start = end;
    }

    let sentinel_before = next.leaf(&Address::ZERO);
    next.commit_count();
    let sentinel = write_leaf(&mut next, &Address::ZERO, sentinel_before);

    let claim_root = ClaimTree::new(touched.iter().map(|t| (t.address, t.cumulative))).root();
    let header = [state.root(), next.root(), commitment, model.commitment(), policy.commitment()];
    let touched_challenge = touched_challenge(&header, total, &touched);
    let output = BatchOutput {
        prev_root: header[0],
        new_root: header[1],
        batch_commitment: header[2],
        model_commitment: header[3],
        policy_commitment: header[4],
        total_reward: total,
        touched_challenge,
        touched_evaluation: touched_evaluation(touched_challenge, &touched),
        touched,
        claim_root,
    };
    Ok(BatchApplied {
        state: next,
        output,
        trace: BatchTrace { contributions: traces, accounts: updates, sentinel },
    })
}
