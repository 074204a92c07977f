//! Storage: typed tables over an ordered key-value backend.
//!
//! A [`Table`] names a column family and fixes its key and value types; keys are encoded so
//! that byte order is the natural order (`u64` big-endian, addresses and hashes as raw bytes),
//! values are JSON (the protocol types' own serde form, so a record can be read by hand).
//! Backends implement the three raw methods of [`Store`]; everything else goes through the
//! typed helpers of [`StoreExt`] and the typed [`WriteSet`] builder.
//!
//! Every change of the sequencer is one [`WriteSet`], written atomically and durably
//! ([`Store::write`]): a crash leaves the store either before or after it, never in between.

mod memory;
mod rocks;
mod tables;

use std::{fmt, path::PathBuf};

use serde::{de::DeserializeOwned, Serialize};

pub use memory::MemoryStore;
pub use rocks::RocksStore;
pub use tables::{
    AccountBatches, AccountRecord, Accounts, BatchOutputs, Batches, ChainHeadRecord,
    ContributionRecord, Contributions, Genesis, JobVectors, Key, LeaseRecord, Leases, MetaKey,
    MetaValue, Metadata, Nonces, Outcome, Outcomes, Pending, ProofRecord, Proofs, SettlementRecord,
    Settlements, TABLES,
};

/// A typed table: a column family with fixed key and value types.
pub trait Table: 'static {
    /// The column family's name.
    const NAME: &'static str;
    /// The key type.
    type Key: Key;
    /// The value type, stored as JSON.
    type Value: Serialize + DeserializeOwned;
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// RocksDB refused to open the database.
    #[error(
        "cannot open the RocksDB database at {path} (is it a Merit data directory, and is no \
         other node using it?): {source}"
    )]
    Open {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
    /// A read failed.
    #[error("reading table {table} failed: {source}")]
    Read {
        /// The table.
        table: &'static str,
        /// The backend's error.
        #[source]
        source: rocksdb::Error,
    },
    /// An atomic write failed; nothing of it was applied.
    #[error("writing {ops} operations failed: {source}")]
    Write {
        /// Number of operations in the write set.
        ops: usize,
        /// The backend's error.
        #[source]
        source: rocksdb::Error,
    },
    /// Flushing a table's memtable to disk failed.
    #[error("flushing table {table} failed: {source}")]
    Flush {
        /// The table.
        table: &'static str,
        /// The backend's error.
        #[source]
        source: rocksdb::Error,
    },
    /// The in-memory store was told to fail writes (tests).
    #[error("writes are disabled on this in-memory store")]
    WritesDisabled,
    /// A stored value does not decode.
    #[error("corrupt record in table {table} at key 0x{key}: {source}")]
    Decode {
        /// The table.
        table: &'static str,
        /// The key, hex.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored key does not decode.
    #[error("corrupt key 0x{key} in table {table}")]
    Key {
        /// The table.
        table: &'static str,
        /// The key, hex.
        key: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode a record for table {table}: {source}")]
    Encode {
        /// The table.
        table: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The backend has no such table.
    #[error("the store has no table {0}")]
    UnknownTable(&'static str),
}

/// Result of a storage operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One operation of a [`WriteSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Insert or replace `key` in `table`.
    Put {
        /// The table.
        table: &'static str,
        /// The encoded key.
        key: Vec<u8>,
        /// The encoded value.
        value: Vec<u8>,
    },
    /// Remove `key` from `table` (no error if absent).
    Delete {
        /// The table.
        table: &'static str,
        /// The encoded key.
        key: Vec<u8>,
    },
}

/// Operations applied together by [`Store::write`]: all of them or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    ops: Vec<WriteOp>,
}

impl WriteSet {
    /// An empty write set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a typed put.
    pub fn put<T: Table>(&mut self, key: &T::Key, value: &T::Value) -> StoreResult<()> {
        let value = serde_json::to_vec(value)
            .map_err(|source| StoreError::Encode { table: T::NAME, source })?;
        self.ops.push(WriteOp::Put { table: T::NAME, key: key.encode(), value });
        Ok(())
    }

    /// Adds a typed delete.
    pub fn delete<T: Table>(&mut self, key: &T::Key) {
        self.ops.push(WriteOp::Delete { table: T::NAME, key: key.encode() });
    }

    /// Appends the operations of `other`.
    pub fn extend(&mut self, other: WriteSet) {
        self.ops.extend(other.ops);
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, consuming the set.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// An ordered key-value store with named tables (column families).
///
/// Implementations: [`RocksStore`] (production) and [`MemoryStore`] (tests).
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// The raw value of `key` in `table`.
    fn get_raw(&self, table: &'static str, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Up to `limit` entries of `table` with keys `>= from`, in key order.
    fn scan_raw(
        &self,
        table: &'static str,
        from: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies `set` atomically and durably: when this returns `Ok`, the write survives a
    /// crash of the process or of the machine.
    fn write(&self, set: WriteSet) -> StoreResult<()>;
}

/// Typed access to a [`Store`].
pub trait StoreExt: Store {
    /// The value of `key` in table `T`.
    fn get<T: Table>(&self, key: &T::Key) -> StoreResult<Option<T::Value>> {
        let encoded = key.encode();
        self.get_raw(T::NAME, &encoded)?.map(|raw| decode_value::<T>(&encoded, &raw)).transpose()
    }

    /// Whether `key` is in table `T` (the value is not decoded).
    fn contains<T: Table>(&self, key: &T::Key) -> StoreResult<bool> {
        Ok(self.get_raw(T::NAME, &key.encode())?.is_some())
    }

    /// Up to `limit` entries of `T` from `from` (the first key if `None`), in key order.
    fn scan<T: Table>(
        &self,
        from: Option<&T::Key>,
        limit: usize,
    ) -> StoreResult<Vec<(T::Key, T::Value)>> {
        let from = from.map(Key::encode).unwrap_or_default();
        self.scan_raw(T::NAME, &from, limit)?
            .into_iter()
            .map(|(key, raw)| {
                let typed = T::Key::decode(&key)
                    .ok_or_else(|| StoreError::Key { table: T::NAME, key: hex(&key) })?;
                Ok((typed, decode_value::<T>(&key, &raw)?))
            })
            .collect()
    }

    /// Every entry of `T`, in key order.
    fn all<T: Table>(&self) -> StoreResult<Vec<(T::Key, T::Value)>> {
        self.scan::<T>(None, usize::MAX)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn decode_value<T: Table>(key: &[u8], raw: &[u8]) -> StoreResult<T::Value> {
    serde_json::from_slice(raw).map_err(|source| StoreError::Decode {
        table: T::NAME,
        key: hex(key),
        source,
    })
}

fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode(bytes)
}
