//! Golden test vectors: the JSON files under `fixtures/golden/` that the circuit, the contract
//! and the sequencer tests read. `merit-core`'s `golden` test regenerates them and fails when a
//! committed file differs (`MERIT_BLESS=1` rewrites them).

use alloy_primitives::{Address, B256};
use alloy_sol_types::SolStruct;
use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::{
    apply_batch, claim_tree::ClaimTree, field::serde_fr_vec, Batch, BatchError, BatchOutput,
    BatchTrace, Contribution, MeritDomain, Policy, QuantizedModel, SignedContribution, State,
    TouchedAccount,
};

/// The golden directory, relative to the workspace root.
pub const GOLDEN_DIR: &str = "fixtures/golden";

/// One batch with its inputs, every intermediate value and its outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchVector {
    /// What the vector exercises.
    pub description: String,
    /// The signing domain of the contributions.
    pub domain: MeritDomain,
    /// The model.
    pub model: QuantizedModel,
    /// The policy.
    pub policy: Policy,
    /// The state before the batch.
    pub prev_state: State,
    /// The batch, with signatures.
    pub batch: Batch,
    /// The batch output.
    pub output: BatchOutput,
    /// `output.public_instances()`, as the circuit exposes them.
    #[serde(with = "serde_fr_vec")]
    pub public_instances: Vec<Fr>,
    /// Every intermediate value.
    pub trace: BatchTrace,
    /// The state after the batch.
    pub new_state: State,
}

impl BatchVector {
    /// Applies `batch` to `prev_state` and records everything.
    pub fn build(
        description: &str,
        domain: MeritDomain,
        model: QuantizedModel,
        policy: Policy,
        prev_state: State,
        batch: Batch,
    ) -> Result<Self, BatchError> {
        let applied = apply_batch(&prev_state, &model, &policy, &batch.unsigned())?;
        Ok(Self {
            description: description.to_owned(),
            domain,
            public_instances: applied.output.public_instances().to_vec(),
            output: applied.output,
            trace: applied.trace,
            new_state: applied.state,
            model,
            policy,
            prev_state,
            batch,
        })
    }
}

/// A claim tree over a touched list with every leaf's proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTreeVector {
    /// The touched list, in contract order.
    pub touched: Vec<TouchedAccount>,
    /// `keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))))` per entry.
    pub leaves: Vec<B256>,
    /// The root.
    pub root: B256,
    /// `proofs[i]` proves `leaves[i]`.
    pub proofs: Vec<Vec<B256>>,
}

impl ClaimTreeVector {
    /// Builds the vector of a touched list.
    pub fn build(touched: Vec<TouchedAccount>) -> Self {
        let tree = ClaimTree::new(touched.iter().map(|t| (t.address, t.cumulative)));
        let proofs = (0..tree.len()).map(|i| tree.proof(i).expect("in range")).collect();
        Self { leaves: tree.leaves().to_vec(), root: tree.root(), proofs, touched }
    }
}

/// One EIP-712 signature with every intermediate hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eip712Vector {
    /// The domain.
    pub domain: MeritDomain,
    /// `keccak256("Contribution(address contributor,uint64 taskId,uint64 nonce,int16[] features,bytes32 payloadHash)")`.
    pub type_hash: B256,
    /// The domain separator.
    pub domain_separator: B256,
    /// `hashStruct(contribution)`.
    pub struct_hash: B256,
    /// The digest signed: `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`.
    pub signing_hash: B256,
    /// The signer.
    pub signer: Address,
    /// The signed contribution.
    pub signed: SignedContribution,
}

impl Eip712Vector {
    /// Builds the vector of a signed contribution.
    pub fn build(domain: MeritDomain, signed: SignedContribution) -> Self {
        let typed = signed.contribution.typed();
        Self {
            domain,
            type_hash: typed.eip712_type_hash(),
            domain_separator: domain.eip712().separator(),
            struct_hash: typed.eip712_hash_struct(),
            signing_hash: signed.contribution.signing_hash(&domain),
            signer: signed.contribution.contributor,
            signed,
        }
    }
}

/// Convenience: the unsigned contributions of signed ones.
pub fn unsigned(signed: &[SignedContribution]) -> Vec<Contribution> {
    signed.iter().map(|s| s.contribution.clone()).collect()
}
