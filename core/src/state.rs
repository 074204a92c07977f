//! The rollup state: accounts and the Poseidon account tree over them.

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
    /// Leaf index in the account tree (append order).
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
}

/// Why a state could not be built or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A tree error.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Account indices are not exactly `0..n`.
    #[error("account {address} has index {index}; indices must be 0..{count} without gaps")]
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
    /// An empty state with a tree of `depth` levels.
    pub fn new(depth: usize) -> Result<Self, StateError> {
        Ok(Self { tree: AccountTree::new(depth)?, accounts: BTreeMap::new() })
    }

    /// Builds a state from accounts, checking that indices are `0..n` and unique.
    pub fn from_accounts(
        depth: usize,
        accounts: impl IntoIterator<Item = (Address, Account)>,
    ) -> Result<Self, StateError> {
        let mut map = BTreeMap::new();
        for (address, account) in accounts {
            if map.insert(address, account).is_some() {
                return Err(StateError::Duplicate(address));
            }
        }
        let mut seen = vec![false; map.len()];
        for (address, account) in &map {
            let slot = usize::try_from(account.index).ok().and_then(|i| seen.get_mut(i));
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
        let tree = AccountTree::from_leaves(
            depth,
            map.iter().map(|(address, account)| (account.index, leaf_of(*address, account).hash())),
        )?;
        Ok(Self { tree, accounts: map })
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
        self.accounts.len() as u64
    }

    /// The tree.
    pub fn tree(&self) -> &AccountTree {
        &self.tree
    }

    /// The inclusion proof of `address`'s leaf.
    pub fn proof(&self, address: &Address) -> Option<InclusionProof> {
        let account = self.accounts.get(address)?;
        self.tree.proof(account.index).ok()
    }

    /// Writes `account` for `address` and updates its leaf (crate-internal: only `apply_batch`
    /// changes state, after validating the whole batch).
    pub(crate) fn put(&mut self, address: Address, account: Account) -> Result<(), TreeError> {
        self.tree.set_leaf(account.index, leaf_of(address, &account).hash())?;
        self.accounts.insert(address, account);
        Ok(())
    }
}

/// The leaf preimage of an account.
pub fn leaf_of(address: Address, account: &Account) -> AccountLeaf {
    AccountLeaf { address, cumulative: account.cumulative, last_nonce: account.last_nonce }
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
    fn json_round_trip_checks_the_root() {
        let state = State::from_accounts(
            8,
            [(Address::with_last_byte(2), account(0)), (Address::with_last_byte(1), account(1))],
        )
        .unwrap();
        let json = serde_json::to_string(&state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        let tampered = json.replace("\"cumulative\":\"100\"", "\"cumulative\":\"101\"");
        assert_ne!(tampered, json);
        let err = serde_json::from_str::<State>(&tampered).unwrap_err();
        assert!(err.to_string().contains("state root mismatch"), "{err}");
    }

    #[test]
    fn indices_must_be_dense_and_unique() {
        let a = Address::with_last_byte(1);
        let b = Address::with_last_byte(2);
        assert!(matches!(
            State::from_accounts(8, [(a, account(0)), (b, account(2))]),
            Err(StateError::Index { index: 2, .. })
        ));
        assert!(matches!(
            State::from_accounts(8, [(a, account(0)), (b, account(0))]),
            Err(StateError::Index { index: 0, .. })
        ));
    }
}
