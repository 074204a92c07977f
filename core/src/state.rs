//! The rollup state: accounts and the indexed Poseidon account tree over them.
//!
//! Index 0 of the tree is the sentinel leaf `(0, n, 0, next)`: address zero, and in place of a
//! cumulative reward the number of accounts `n`, so the next free index `n + 1` is bound to the
//! root. Accounts live at indices `1..=n` in the order they were appended. Each leaf's `next` pointer is derived from the set of addresses
//! (see [`crate::account_tree`]), so a state is fully described by its accounts.

use std::collections::BTreeMap;

use alloy_primitives::Address;
use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::{
    account_tree::{AccountLeaf, AccountTree, InclusionProof, TreeError},
    field::{serde_fr, serde_u128},
};

/// One account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Leaf index in the account tree (append order, from 1).
    pub index: u64,
    /// Total reward ever credited.
    #[serde(with = "serde_u128")]
    pub cumulative: u128,
    /// The highest nonce consumed.
    pub last_nonce: u64,
}

/// Accounts and their tree. Changes only through [`crate::apply_batch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StateSnapshot", into = "StateSnapshot")]
pub struct State {
    tree: AccountTree,
    accounts: BTreeMap<Address, Account>,
    /// The account count recorded in the sentinel leaf. Equal to `accounts.len()` between
    /// batches; inside `apply_batch` it keeps the count from before the batch until the batch's
    /// final sentinel write.
    sentinel_count: u64,
}

/// Why a state could not be built or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A tree error.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Account indices are not exactly `1..=n`.
    #[error("account {address} has index {index}; indices must be 1..={count} without gaps")]
    Index {
        /// The account.
        address: Address,
        /// Its index.
        index: u64,
        /// Number of accounts.
        count: usize,
    },
    /// An address appears twice.
    #[error("account {0} appears twice")]
    Duplicate(Address),
    /// The zero address is the sentinel and cannot hold an account.
    #[error("the zero address cannot hold an account")]
    ZeroAddress,
    /// More accounts than the tree holds.
    #[error("{count} accounts do not fit a tree of depth {depth} (at most 2^depth - 1)")]
    Full {
        /// Number of accounts.
        count: usize,
        /// Tree depth.
        depth: usize,
    },
    /// The recorded root is not the root of the recorded accounts.
    #[error("state root mismatch: file says {recorded}, accounts hash to {computed}")]
    Root {
        /// Root in the snapshot.
        recorded: String,
        /// Root of its accounts.
        computed: String,
    },
}

impl State {
    /// An empty state with a tree of `depth` levels (holding only the sentinel leaf).
    pub fn new(depth: usize) -> Result<Self, StateError> {
        Self::from_accounts(depth, [])
    }

    /// Builds a state from accounts, checking that indices are `1..=n` and unique.
    pub fn from_accounts(
        depth: usize,
        accounts: impl IntoIterator<Item = (Address, Account)>,
    ) -> Result<Self, StateError> {
        let mut map = BTreeMap::new();
        for (address, account) in accounts {
            if address == Address::ZERO {
                return Err(StateError::ZeroAddress);
            }
            if map.insert(address, account).is_some() {
                return Err(StateError::Duplicate(address));
            }
        }
        let mut seen = vec![false; map.len()];
        for (address, account) in &map {
            let slot = usize::try_from(account.index)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| seen.get_mut(i));
            match slot {
                Some(slot) if !*slot => *slot = true,
                _ => {
                    return Err(StateError::Index {
                        address: *address,
                        index: account.index,
                        count: map.len(),
                    })
                }
            }
        }
        let mut state = Self {
            tree: AccountTree::new(depth)?,
            sentinel_count: map.len() as u64,
            accounts: map,
        };
        if state.accounts.len() as u64 >= state.tree.capacity() {
            return Err(StateError::Full { count: state.accounts.len(), depth });
        }
        let leaves: Vec<(u64, Fr)> = std::iter::once(Address::ZERO)
            .chain(state.accounts.keys().copied())
            .map(|address| {
                let leaf = state.leaf(&address).expect("present");
                (state.index_of(&address).expect("present"), leaf.hash())
            })
            .collect();
        state.tree.set_leaves(leaves)?;
        Ok(state)
    }

    /// The account tree root.
    pub fn root(&self) -> Fr {
        self.tree.root()
    }

    /// The tree depth.
    pub fn depth(&self) -> usize {
        self.tree.depth()
    }

    /// The account of `address`, if it has one.
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    /// All accounts, by address.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// The index the next new account gets.
    pub fn next_index(&self) -> u64 {
        self.accounts.len() as u64 + 1
    }

    /// Whether a new account still fits in the tree.
    pub fn has_room(&self) -> bool {
        self.next_index() < self.tree.capacity()
    }

    /// The leaf index of `address`: 0 for the sentinel (zero address).
    pub fn index_of(&self, address: &Address) -> Option<u64> {
        if *address == Address::ZERO {
            return Some(0);
        }
        self.accounts.get(address).map(|a| a.index)
    }

    /// The smallest address above `address` that has a leaf, or zero.
    pub fn successor(&self, address: &Address) -> Address {
        use std::ops::Bound::{Excluded, Unbounded};
        self.accounts
            .range::<Address, _>((Excluded(address), Unbounded))
            .next()
            .map_or(Address::ZERO, |(a, _)| *a)
    }

    /// The largest address below `address` that has a leaf, or zero (the sentinel).
    pub fn predecessor(&self, address: &Address) -> Address {
        self.accounts.range::<Address, _>(..address).next_back().map_or(Address::ZERO, |(a, _)| *a)
    }

    /// The leaf preimage of `address` (the sentinel for the zero address), if it has a leaf.
    pub fn leaf(&self, address: &Address) -> Option<AccountLeaf> {
        let next = self.successor(address);
        if *address == Address::ZERO {
            return Some(AccountLeaf {
                address: Address::ZERO,
                cumulative: u128::from(self.sentinel_count),
                last_nonce: 0,
                next,
            });
        }
        let account = self.accounts.get(address)?;
        Some(AccountLeaf {
            address: *address,
            cumulative: account.cumulative,
            last_nonce: account.last_nonce,
            next,
        })
    }

    /// The tree.
    pub fn tree(&self) -> &AccountTree {
        &self.tree
    }

    /// The inclusion proof of `address`'s leaf (the sentinel's for the zero address).
    pub fn proof(&self, address: &Address) -> Option<InclusionProof> {
        self.tree.proof(self.index_of(address)?).ok()
    }

    /// Writes `account` for `address` in the account map only; the caller re-hashes the
    /// affected leaves with [`State::refresh_leaf`] (crate-internal: only `apply_batch` changes
    /// state, step by step so it can record every intermediate root).
    /// Records the current account count in the sentinel (the caller re-hashes its leaf).
    pub(crate) fn commit_count(&mut self) {
        self.sentinel_count = self.accounts.len() as u64;
    }

    pub(crate) fn put_account(&mut self, address: Address, account: Account) {
        self.accounts.insert(address, account);
    }

    /// Recomputes the leaf of `address` (or the sentinel) from the account map.
    pub(crate) fn refresh_leaf(&mut self, address: &Address) -> Result<(), TreeError> {
        let index = self.index_of(address).expect("refresh_leaf of an address with a leaf");
        let leaf = self.leaf(address).expect("present").hash();
        self.tree.set_leaf(index, leaf)
    }
}

/// JSON form of a state: depth, root and accounts. The root is checked on load, so a corrupt
/// or edited file is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSnapshot {
    depth: usize,
    #[serde(with = "serde_fr")]
    root: Fr,
    accounts: Vec<AccountEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    address: Address,
    #[serde(flatten)]
    account: Account,
}

impl TryFrom<StateSnapshot> for State {
    type Error = StateError;

    fn try_from(snapshot: StateSnapshot) -> Result<Self, StateError> {
        let state = State::from_accounts(
            snapshot.depth,
            snapshot.accounts.into_iter().map(|e| (e.address, e.account)),
        )?;
        if state.root() != snapshot.root {
            return Err(StateError::Root {
                recorded: crate::field::fr_to_b256(&snapshot.root).to_string(),
                computed: crate::field::fr_to_b256(&state.root()).to_string(),
            });
        }
        Ok(state)
    }
}

impl From<State> for StateSnapshot {
    fn from(state: State) -> Self {
        let mut accounts: Vec<AccountEntry> = state
            .accounts
            .iter()
            .map(|(address, account)| AccountEntry { address: *address, account: *account })
            .collect();
        accounts.sort_by_key(|e| e.account.index);
        StateSnapshot { depth: state.depth(), root: state.root(), accounts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(index: u64) -> Account {
        Account { index, cumulative: 100 * u128::from(index), last_nonce: index }
    }

    #[test]
    fn leaves_link_addresses_in_order() {
        let (a, b, c) =
            (Address::with_last_byte(1), Address::with_last_byte(2), Address::with_last_byte(3));
        let state =
            State::from_accounts(8, [(c, account(1)), (a, account(2)), (b, account(3))]).unwrap();
        assert_eq!(state.leaf(&Address::ZERO).unwrap().next, a);
        assert_eq!(state.leaf(&a).unwrap().next, b);
        assert_eq!(state.leaf(&c).unwrap().next, Address::ZERO);
        assert_eq!(state.predecessor(&Address::with_last_byte(9)), c);
        assert_eq!(state.predecessor(&a), Address::ZERO);
        for address in [Address::ZERO, a, b, c] {
            let proof = state.proof(&address).unwrap();
            assert_eq!(proof.leaf, state.leaf(&address).unwrap().hash());
            assert_eq!(proof.compute_root(), state.root());
        }
        assert_eq!(state.next_index(), 4);
    }

    #[test]
    fn the_zero_address_and_overfull_states_are_refused() {
        assert_eq!(
            State::from_accounts(8, [(Address::ZERO, account(1))]),
            Err(StateError::ZeroAddress)
        );
        let accounts = (1..=2u8).map(|i| (Address::with_last_byte(i), account(u64::from(i))));
        assert_eq!(State::from_accounts(1, accounts), Err(StateError::Full { count: 2, depth: 1 }));
    }

    #[test]
    fn json_round_trip_checks_the_root() {
        let state = State::from_accounts(
            8,
            [(Address::with_last_byte(2), account(1)), (Address::with_last_byte(1), account(2))],
        )
        .unwrap();
        let json = serde_json::to_string(&state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        let tampered = json.replace("\"cumulative\":\"200\"", "\"cumulative\":\"201\"");
        assert_ne!(tampered, json);
        let err = serde_json::from_str::<State>(&tampered).unwrap_err();
        assert!(err.to_string().contains("state root mismatch"), "{err}");
    }

    #[test]
    fn indices_must_be_dense_and_unique() {
        let a = Address::with_last_byte(1);
        let b = Address::with_last_byte(2);
        assert!(matches!(
            State::from_accounts(8, [(a, account(1)), (b, account(3))]),
            Err(StateError::Index { index: 3, .. })
        ));
        assert!(matches!(
            State::from_accounts(8, [(a, account(1)), (b, account(1))]),
            Err(StateError::Index { index: 1, .. })
        ));
        assert!(matches!(
            State::from_accounts(8, [(a, account(0))]),
            Err(StateError::Index { index: 0, .. })
        ));
    }
}
