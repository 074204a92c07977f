//! The claim tree: a keccak Merkle tree of touched accounts that `RewardRollup` builds on-chain
//! and OpenZeppelin's `MerkleProof.verify` checks.
//!
//! - Leaf: `keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))))` with
//!   `cumulative` a `uint256` (OpenZeppelin's `StandardMerkleTree` leaf encoding).
//! - Node: the sorted-pair hash `keccak256(min(a, b) ‖ max(a, b))` (OpenZeppelin's
//!   commutative keccak).
//! - Shape, as the contract builds it: leaves in touched-list order (sorted by address); each
//!   level hashes neighbours `(0,1), (2,3), …`; an odd last node moves up unchanged. The root of
//!   one leaf is the leaf itself, with an empty proof.

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};

use crate::field::serde_u128;

/// The claim-tree leaf of `(account, cumulative)`.
pub fn claim_leaf(account: Address, cumulative: u128) -> B256 {
    let inner = keccak256((account, U256::from(cumulative)).abi_encode());
    keccak256(inner)
}

/// OpenZeppelin's `Hashes.commutativeKeccak256`.
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(low.as_slice());
    buf[32..].copy_from_slice(high.as_slice());
    keccak256(buf)
}

/// OpenZeppelin's `MerkleProof.verify`.
pub fn verify_claim_proof(root: B256, leaf: B256, proof: &[B256]) -> bool {
    proof.iter().fold(leaf, |node, sibling| hash_pair(node, *sibling)) == root
}

/// A claim tree over `(account, cumulative)` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTree {
    /// `levels[0]` are the leaves; the last level holds the root alone.
    levels: Vec<Vec<B256>>,
}

impl ClaimTree {
    /// Builds the tree over `(account, cumulative)` entries in the given order.
    pub fn new(entries: impl IntoIterator<Item = (Address, u128)>) -> Self {
        let leaves: Vec<B256> = entries.into_iter().map(|(a, c)| claim_leaf(a, c)).collect();
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let next = levels
                .last()
                .expect("non-empty")
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => hash_pair(*a, *b),
                    [a] => *a,
                    _ => unreachable!("chunks(2)"),
                })
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The leaves in order.
    pub fn leaves(&self) -> &[B256] {
        &self.levels[0]
    }

    /// The root; zero for an empty tree.
    pub fn root(&self) -> B256 {
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or_default()
    }

    /// The proof of leaf `index`, leaf-up; `None` past the end.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        if index >= self.len() {
            return None;
        }
        let mut proof = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(i ^ 1) {
                proof.push(*sibling);
            }
            i >>= 1;
        }
        Some(proof)
    }
}

/// The exact arguments of `RewardRollup.claim(batchId, account, cumulative, proof)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimProof {
    /// The batch whose claim root the proof is against.
    pub batch_id: u64,
    /// The account paid.
    pub account: Address,
    /// The account's cumulative reward as of that batch.
    #[serde(with = "serde_u128")]
    pub cumulative: u128,
    /// Sibling hashes, leaf-up.
    pub proof: Vec<B256>,
    /// The batch's claim root (informational; the contract uses its stored root).
    pub claim_root: B256,
}

impl ClaimProof {
    /// Checks the proof against its claim root, as `MerkleProof.verify` does.
    pub fn verify(&self) -> bool {
        verify_claim_proof(self.claim_root, claim_leaf(self.account, self.cumulative), &self.proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};
    use proptest::prelude::*;

    #[test]
    fn leaf_matches_openzeppelin_standard_merkle_tree_encoding() {
        // keccak256(bytes.concat(keccak256(abi.encode(address(0x11..11), uint256(1000)))))
        let account = address!("1111111111111111111111111111111111111111");
        let mut encoded = [0u8; 64];
        encoded[12..32].copy_from_slice(account.as_slice());
        encoded[62..].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(claim_leaf(account, 1000), keccak256(keccak256(encoded)));
        assert_ne!(claim_leaf(account, 1000), claim_leaf(account, 1001));
    }

    #[test]
    fn shapes_for_small_trees() {
        let a = |n: u8| (Address::repeat_byte(n), u128::from(n) * 10);
        let one = ClaimTree::new([a(1)]);
        assert_eq!(one.root(), claim_leaf(a(1).0, a(1).1));
        assert_eq!(one.proof(0), Some(vec![]));
        let three = ClaimTree::new([a(1), a(2), a(3)]);
        let l: Vec<B256> = three.leaves().to_vec();
        assert_eq!(three.root(), hash_pair(hash_pair(l[0], l[1]), l[2]));
        assert_eq!(three.proof(2), Some(vec![hash_pair(l[0], l[1])]));
        assert_eq!(three.proof(3), None);
        assert_eq!(ClaimTree::new([]).root(), B256::ZERO);
    }

    #[test]
    fn pair_hash_is_commutative() {
        let x = b256!("0000000000000000000000000000000000000000000000000000000000000001");
        let y = b256!("ff00000000000000000000000000000000000000000000000000000000000000");
        assert_eq!(hash_pair(x, y), hash_pair(y, x));
    }

    proptest! {
        /// Every proof verifies, and a changed amount or account does not.
        #[test]
        fn every_proof_verifies_and_a_changed_amount_does_not(
            amounts in proptest::collection::vec(0u128..(1u128 << 96), 1..40),
            bump in 1u128..1000,
        ) {
            let entries: Vec<(Address, u128)> = amounts
                .iter()
                .enumerate()
                .map(|(i, c)| (Address::with_last_byte(i as u8 + 1), *c))
                .collect();
            let tree = ClaimTree::new(entries.clone());
            for (i, (account, cumulative)) in entries.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                prop_assert!(verify_claim_proof(tree.root(), claim_leaf(*account, *cumulative), &proof));
                prop_assert!(!verify_claim_proof(tree.root(), claim_leaf(*account, cumulative + bump), &proof));
                let other = Address::with_last_byte(200);
                prop_assert!(!verify_claim_proof(tree.root(), claim_leaf(other, *cumulative), &proof));
            }
        }
    }
}
