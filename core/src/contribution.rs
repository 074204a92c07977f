//! Contributions and their EIP-712 signatures.
//!
//! A contributor signs the typed data
//! `Contribution(address contributor,uint64 taskId,uint64 nonce,int16[] features,bytes32 payloadHash)`
//! under the domain `{ name: "Merit", version: "1", chainId, verifyingContract: <rollup> }`.
//! Signatures are checked by the sequencer (and by anyone re-checking the published batch data),
//! not in the circuit; the circuit binds the contribution fields through `batch_commitment`.

use alloy_primitives::{Address, Signature, B256};
use alloy_sol_types::{eip712_domain, Eip712Domain, SolStruct};
use halo2curves::{bn256::Fr, ff::Field};
use serde::{Deserialize, Serialize};

use crate::field::{fr_from_address, fr_limbs_from_b256};

/// The Solidity typed-data definitions signed by contributors.
pub mod typed {
    alloy_sol_types::sol! {
        /// EIP-712 struct of a contribution; field order and types are part of the protocol.
        #[derive(Debug, PartialEq, Eq)]
        struct Contribution {
            address contributor;
            uint64 taskId;
            uint64 nonce;
            int16[] features;
            bytes32 payloadHash;
        }
    }
}

/// The EIP-712 domain of one deployment: the chain and the `RewardRollup` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeritDomain {
    /// Chain id of the settlement chain.
    pub chain_id: u64,
    /// Address of the `RewardRollup` contract.
    pub verifying_contract: Address,
}

impl MeritDomain {
    /// The EIP-712 domain `{ name: "Merit", version: "1", chainId, verifyingContract }`.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: "Merit",
            version: "1",
            chain_id: self.chain_id,
            verifying_contract: self.verifying_contract,
        }
    }
}

/// One unit of work submitted by a contributor, as the model scores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    /// The contributor's account; rewards accrue to it.
    pub contributor: Address,
    /// The task this work answers.
    pub task_id: u64,
    /// Per-contributor sequence number; strictly increasing, starting above 0.
    pub nonce: u64,
    /// The feature vector the quality model scores (fixed point, the model's scale).
    pub features: Vec<i16>,
    /// Hash of the raw work, stored off-chain.
    pub payload_hash: B256,
}

/// Features of one contribution packed into one field element: `FEATURES_PER_WORD` values.
pub const FEATURES_PER_WORD: usize = 15;

impl Contribution {
    /// The EIP-712 typed-data struct of this contribution.
    pub fn typed(&self) -> typed::Contribution {
        typed::Contribution {
            contributor: self.contributor,
            taskId: self.task_id,
            nonce: self.nonce,
            features: self.features.clone(),
            payloadHash: self.payload_hash,
        }
    }

    /// The EIP-712 digest a contributor signs for this contribution.
    pub fn signing_hash(&self, domain: &MeritDomain) -> B256 {
        self.typed().eip712_signing_hash(&domain.eip712())
    }

    /// The field elements this contribution contributes to `batch_commitment`:
    /// `[contributor, task_id, nonce, payload_hash.hi, payload_hash.lo, w_0, .., w_k]`, where
    /// each feature word `w_j` packs `FEATURES_PER_WORD` features, offset by 2^15 to 16-bit
    /// unsigned values, little-endian: `w_j = Σ_i (f[15j+i] + 2^15) · 2^(16i)`.
    pub fn field_elements(&self) -> Vec<Fr> {
        let (payload_hi, payload_lo) = fr_limbs_from_b256(self.payload_hash);
        let mut elements = vec![
            fr_from_address(self.contributor),
            Fr::from(self.task_id),
            Fr::from(self.nonce),
            payload_hi,
            payload_lo,
        ];
        elements.extend(self.features.chunks(FEATURES_PER_WORD).map(pack_features));
        elements
    }
}

/// Packs up to `FEATURES_PER_WORD` features into one field element (see
/// [`Contribution::field_elements`]).
pub fn pack_features(chunk: &[i16]) -> Fr {
    assert!(chunk.len() <= FEATURES_PER_WORD, "a feature word holds at most 15 features");
    let base = Fr::from(1u64 << 16);
    chunk.iter().rev().fold(Fr::ZERO, |acc, f| acc * base + Fr::from(offset_feature(*f)))
}

/// A feature as the unsigned 16-bit value `f + 2^15`.
pub fn offset_feature(f: i16) -> u64 {
    (i32::from(f) + (1 << 15)) as u64
}

/// A contribution with its contributor's EIP-712 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedContribution {
    /// The signed contribution.
    pub contribution: Contribution,
    /// 65-byte `r ‖ s ‖ v` signature over [`Contribution::signing_hash`].
    pub signature: Signature,
}

/// Why a contribution's signature is not acceptable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No public key can be recovered from the signature.
    #[error("signature does not recover to a public key: {0}")]
    Unrecoverable(#[from] alloy_primitives::SignatureError),
    /// The signature's `s` is in the upper half of the curve order (malleable form).
    #[error("signature is malleable (high s)")]
    HighS,
    /// The signature is valid but was made by another key.
    #[error("signed by {signer}, not by the contributor {contributor}")]
    WrongSigner {
        /// The address the signature recovers to.
        signer: Address,
        /// The contribution's contributor.
        contributor: Address,
    },
}

impl SignedContribution {
    /// The address that signed this contribution under `domain`.
    pub fn recover_signer(&self, domain: &MeritDomain) -> Result<Address, SignatureError> {
        if self.signature.normalize_s().is_some() {
            return Err(SignatureError::HighS);
        }
        let hash = self.contribution.signing_hash(domain);
        Ok(self.signature.recover_address_from_prehash(&hash)?)
    }

    /// Checks that the contributor signed this contribution under `domain`.
    pub fn verify(&self, domain: &MeritDomain) -> Result<(), SignatureError> {
        let signer = self.recover_signer(domain)?;
        if signer != self.contribution.contributor {
            return Err(SignatureError::WrongSigner {
                signer,
                contributor: self.contribution.contributor,
            });
        }
        Ok(())
    }
}
