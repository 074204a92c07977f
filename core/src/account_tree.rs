//! The account tree: a sparse Poseidon Merkle tree of fixed depth, indexed (a sorted linked list
//! through the leaves) so that the circuit can prove an address has no leaf yet.
//!
//! - Leaf `i` is `Poseidon(address, cumulative, last_nonce, next)` of the account at index `i`,
//!   where `next` is the smallest address above `address` that has a leaf (`0` if none), or
//!   `0` where no account lives yet. Index 0 holds the sentinel `(0, n, 0, next)`, which links to
//!   the smallest address and records the number of accounts `n`, so the next free index
//!   `n + 1` is bound to the root. Accounts are appended at the next free index.
//! - Appending address `a` proves it is absent: its predecessor leaf `p` (the largest address
//!   below `a`, or the sentinel) satisfies `p.address < a` and (`p.next = 0` or `a < p.next`);
//!   `p.next` becomes `a` and the new leaf takes `p`'s old `next`. So each address has at most
//!   one leaf, which is what makes the per-account nonce a replay guard.
//! - A node is `Poseidon(left, right)`; the empty subtree of height `h` hashes to `zero[h]`,
//!   with `zero[0] = 0` and `zero[h+1] = Poseidon(zero[h], zero[h])`.
//! - The root of depth `d` covers `2^d` leaves; siblings of a proof are listed leaf-up.
//!
//! Only non-empty nodes are stored, so the memory is `O(accounts · depth)`.

use std::collections::{BTreeSet, HashMap};

use alloy_primitives::Address;
use halo2curves::{bn256::Fr, ff::Field};
use serde::{Deserialize, Serialize};

use crate::{
    field::{fr_from_address, fr_from_u128, serde_fr, serde_fr_vec},
    poseidon,
};

/// Largest supported depth (leaf indices are `u64`; 2^32 accounts are plenty).
pub const MAX_DEPTH: usize = 32;

/// The preimage of an account leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountLeaf {
    /// The account's address.
    pub address: Address,
    /// Total reward ever credited.
    #[serde(with = "crate::field::serde_u128")]
    pub cumulative: u128,
    /// The highest nonce consumed.
    pub last_nonce: u64,
    /// The next larger address with a leaf, or zero.
    pub next: Address,
}

impl AccountLeaf {
    /// `Poseidon(address, cumulative, last_nonce, next)`.
    pub fn hash(&self) -> Fr {
        poseidon::hash(&[
            fr_from_address(self.address),
            fr_from_u128(self.cumulative),
            Fr::from(self.last_nonce),
            fr_from_address(self.next),
        ])
    }
}

/// An inclusion proof of one leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Leaf index; bit `h` says whether the node at height `h` is a right child.
    pub index: u64,
    /// The leaf value.
    #[serde(with = "serde_fr")]
    pub leaf: Fr,
    /// Siblings from the leaf level up.
    #[serde(with = "serde_fr_vec")]
    pub siblings: Vec<Fr>,
}

impl InclusionProof {
    /// The root this proof leads to.
    pub fn compute_root(&self) -> Fr {
        compute_root(self.index, self.leaf, &self.siblings)
    }
}

/// The root reached from `leaf` at `index` along `siblings` (leaf-up).
pub fn compute_root(index: u64, leaf: Fr, siblings: &[Fr]) -> Fr {
    siblings.iter().enumerate().fold(leaf, |node, (height, sibling)| {
        if (index >> height) & 1 == 0 {
            poseidon::hash2(node, *sibling)
        } else {
            poseidon::hash2(*sibling, node)
        }
    })
}

/// Why a tree operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// Depth outside `1..=MAX_DEPTH`.
    #[error("tree depth {0} outside 1..={MAX_DEPTH}")]
    Depth(usize),
    /// Index beyond the tree's capacity.
    #[error("leaf index {index} outside a tree of depth {depth}")]
    Index {
        /// The index.
        index: u64,
        /// The tree depth.
        depth: usize,
    },
}

/// The empty-subtree hashes `zero[0..=depth]`.
pub fn zero_hashes(depth: usize) -> Vec<Fr> {
    let mut zeros = Vec::with_capacity(depth + 1);
    zeros.push(Fr::ZERO);
    for h in 0..depth {
        zeros.push(poseidon::hash2(zeros[h], zeros[h]));
    }
    zeros
}

/// A sparse Poseidon Merkle tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTree {
    depth: usize,
    zeros: Vec<Fr>,
    /// `levels[h]`: non-empty nodes at height `h` by index (`levels[0]` are leaves).
    levels: Vec<HashMap<u64, Fr>>,
}

impl AccountTree {
    /// An empty tree of `depth` levels.
    pub fn new(depth: usize) -> Result<Self, TreeError> {
        if depth == 0 || depth > MAX_DEPTH {
            return Err(TreeError::Depth(depth));
        }
        Ok(Self { depth, zeros: zero_hashes(depth), levels: vec![HashMap::new(); depth + 1] })
    }

    /// Builds a tree from `(index, leaf)` pairs in one pass.
    pub fn from_leaves(
        depth: usize,
        leaves: impl IntoIterator<Item = (u64, Fr)>,
    ) -> Result<Self, TreeError> {
        let mut tree = Self::new(depth)?;
        tree.set_leaves(leaves)?;
        Ok(tree)
    }

    /// The depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of leaves the tree can hold, `2^depth`.
    pub fn capacity(&self) -> u64 {
        1u64 << self.depth
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.node(self.depth, 0)
    }

    /// The node at `height` (0: the leaves) and `index` within its level.
    pub fn node(&self, height: usize, index: u64) -> Fr {
        self.levels[height].get(&index).copied().unwrap_or(self.zeros[height])
    }

    /// The leaf at `index` (`0` if empty).
    pub fn leaf(&self, index: u64) -> Fr {
        self.node(0, index)
    }

    /// The inclusion proof of the leaf at `index`.
    pub fn proof(&self, index: u64) -> Result<InclusionProof, TreeError> {
        self.check_index(index)?;
        let siblings = (0..self.depth).map(|h| self.node(h, (index >> h) ^ 1)).collect();
        Ok(InclusionProof { index, leaf: self.leaf(index), siblings })
    }

    fn check_index(&self, index: u64) -> Result<(), TreeError> {
        if index >= self.capacity() {
            return Err(TreeError::Index { index, depth: self.depth });
        }
        Ok(())
    }

    /// Sets one leaf and rehashes its path.
    pub fn set_leaf(&mut self, index: u64, leaf: Fr) -> Result<(), TreeError> {
        self.set_leaves([(index, leaf)])
    }

    /// Sets many leaves, then rehashes the union of their paths once, level by level, so a node
    /// shared by several paths is hashed once. Checks every index before changing anything.
    pub fn set_leaves(
        &mut self,
        leaves: impl IntoIterator<Item = (u64, Fr)>,
    ) -> Result<(), TreeError> {
        let leaves: Vec<(u64, Fr)> = leaves.into_iter().collect();
        for (index, _) in &leaves {
            self.check_index(*index)?;
        }
        let mut dirty = BTreeSet::new();
        for (index, leaf) in leaves {
            self.put(0, index, leaf);
            dirty.insert(index);
        }
        for height in 1..=self.depth {
            dirty = dirty.into_iter().map(|i| i >> 1).collect();
            for &index in &dirty {
                let left = self.node(height - 1, index << 1);
                let right = self.node(height - 1, (index << 1) | 1);
                let parent = poseidon::hash2(left, right);
                self.put(height, index, parent);
            }
        }
        Ok(())
    }

    fn put(&mut self, height: usize, index: u64, value: Fr) {
        if value == self.zeros[height] {
            self.levels[height].remove(&index);
        } else {
            self.levels[height].insert(index, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf(n: u64) -> Fr {
        Fr::from(n) + Fr::from(1000)
    }

    #[test]
    fn empty_root_is_the_zero_hash() {
        let tree = AccountTree::new(8).unwrap();
        assert_eq!(tree.root(), zero_hashes(8)[8]);
        assert_eq!(AccountTree::new(0), Err(TreeError::Depth(0)));
        assert_eq!(AccountTree::new(33), Err(TreeError::Depth(33)));
    }

    #[test]
    fn depth_two_by_hand() {
        let mut tree = AccountTree::new(2).unwrap();
        tree.set_leaf(2, leaf(2)).unwrap();
        let z = Fr::ZERO;
        let expected = poseidon::hash2(poseidon::hash2(z, z), poseidon::hash2(leaf(2), z));
        assert_eq!(tree.root(), expected);
        let proof = tree.proof(2).unwrap();
        assert_eq!(proof.siblings, vec![z, poseidon::hash2(z, z)]);
        assert_eq!(proof.compute_root(), expected);
    }

    #[test]
    fn out_of_range_index_changes_nothing() {
        let mut tree = AccountTree::new(3).unwrap();
        tree.set_leaf(1, leaf(1)).unwrap();
        let before = tree.clone();
        assert_eq!(
            tree.set_leaves([(2, leaf(2)), (8, leaf(8))]),
            Err(TreeError::Index { index: 8, depth: 3 })
        );
        assert_eq!(tree, before);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Batched updates on top of an existing tree equal a rebuild from scratch, and every
        /// leaf's proof leads to the root.
        #[test]
        fn batched_update_equals_rebuild(
            first in proptest::collection::btree_map(0u64..256, 0u64..1000, 0..20),
            second in proptest::collection::btree_map(0u64..256, 0u64..1000, 0..20),
        ) {
            let mut incremental = AccountTree::from_leaves(8, first.iter().map(|(i, v)| (*i, leaf(*v)))).unwrap();
            incremental.set_leaves(second.iter().map(|(i, v)| (*i, leaf(*v)))).unwrap();
            let mut all = first.clone();
            all.extend(second.iter());
            let mut rebuilt = AccountTree::new(8).unwrap();
            for (i, v) in &all {
                rebuilt.set_leaf(*i, leaf(*v)).unwrap();
            }
            prop_assert_eq!(incremental.root(), rebuilt.root());
            for i in all.keys() {
                let proof = incremental.proof(*i).unwrap();
                prop_assert_eq!(proof.compute_root(), incremental.root());
                let mut wrong = proof.clone();
                wrong.leaf += Fr::ONE;
                prop_assert_ne!(wrong.compute_root(), incremental.root());
            }
        }
    }
}
