//! # merit-core
//!
//! Merit's protocol types and its state-transition function, [`apply_batch`]: the spec, as
//! code. The circuit, the contracts, the sequencer and the prover must agree with this crate bit
//! for bit; golden vectors written from it (`fixtures/golden/`) are what their tests read.
//!
//! No halo2, no I/O: only arithmetic over the BN254 scalar field (`halo2curves-axiom`, the
//! same field type halo2-base uses), Poseidon, keccak and EIP-712 (`alloy`).
//!
//! ## Good starting points
//! - [`apply_batch`]: validate a batch, score it, reward it, update the account tree; returns
//!   the new [`State`], the [`BatchOutput`] the proof is about and a [`BatchTrace`] of every
//!   intermediate value.
//! - [`Contribution`] / [`SignedContribution`]: what contributors sign (EIP-712, domain
//!   "Merit" version "1").
//! - [`QuantizedModel`]: the fixed-point MLP and its integer semantics; [`Policy`]: score →
//!   reward.
//! - [`poseidon`]: Poseidon bit-exact with halo2-base's in-circuit hasher.
//! - [`AccountTree`] (indexed Poseidon tree: one leaf per address, provably) and [`ClaimTree`]
//!   (keccak, OpenZeppelin-compatible).

pub mod account_tree;
pub mod batch;
pub mod claim_tree;
pub mod contribution;
pub mod field;
pub mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod policy;
pub mod poseidon;
pub mod state;
pub mod vectors;

pub use account_tree::{AccountLeaf, AccountTree, InclusionProof};
pub use alloy_primitives::{Address, B256};
pub use batch::{
    apply_batch, Batch, BatchApplied, BatchError, BatchOutput, BatchTrace, ContributionRef,
    TouchedAccount,
};
pub use claim_tree::{ClaimProof, ClaimTree};
pub use contribution::{Contribution, MeritDomain, SignatureError, SignedContribution};
pub use halo2curves::bn256::Fr;
pub use model::{Activation, DenseLayer, ModelError, QuantizedModel, ScoreRange};
pub use policy::Policy;
pub use state::{Account, State, StateError};

/// Largest cumulative reward of an account: it must fit the low 96 bits of a touched-list word.
pub const MAX_CUMULATIVE: u128 = (1u128 << 96) - 1;

/// Domain-separation tags: the first element of each Poseidon preimage that is not a tree node
/// or leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum DomainTag {
    /// `model_commitment`.
    Model = 1,
    /// `policy_commitment`.
    Policy = 2,
    /// A contribution's hash in the batch commitment.
    Contribution = 3,
    /// The seed of the batch-commitment chain.
    Batch = 4,
}

impl DomainTag {
    /// The tag as a field element.
    pub fn fr(self) -> Fr {
        Fr::from(self as u64)
    }
}

#[cfg(feature = "samples")]
pub mod samples;
