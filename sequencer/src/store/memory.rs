//! An in-memory [`Store`] for unit tests: same semantics, no durability.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use super::{Store, StoreError, StoreResult, WriteOp, WriteSet, TABLES};

type TableData = BTreeMap<Vec<u8>, Vec<u8>>;

/// An in-memory store. Clones of an `Arc<MemoryStore>` share the data, so a test can "restart"
/// a sequencer on the same store.
#[derive(Debug)]
pub struct MemoryStore {
    tables: Mutex<HashMap<&'static str, TableData>>,
    fail_writes: AtomicBool,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with every table.
    pub fn new() -> Self {
        let tables = TABLES.iter().map(|name| (*name, TableData::new())).collect();
        Self { tables: Mutex::new(tables), fail_writes: AtomicBool::new(false) }
    }

    /// Makes every later [`Store::write`] fail (or succeed again), to test error paths.
    pub fn set_fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Number of entries in `table`.
    pub fn len(&self, table: &'static str) -> usize {
        self.lock().get(table).map_or(0, BTreeMap::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, TableData>> {
        // A panic while holding the lock cannot leave a table half-written (writes apply to a
        // copy first), so a poisoned lock is still consistent.
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn get_raw(&self, table: &'static str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let tables = self.lock();
        let data = tables.get(table).ok_or(StoreError::UnknownTable(table))?;
        Ok(data.get(key).cloned())
    }

    fn scan_raw(
        &self,
        table: &'static str,
        from: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let tables = self.lock();
        let data = tables.get(table).ok_or(StoreError::UnknownTable(table))?;
        Ok(data.range(from.to_vec()..).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn write(&self, set: WriteSet) -> StoreResult<()> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::WritesDisabled);
        }
        let mut tables = self.lock();
        for op in set.ops() {
            let table = match op {
                WriteOp::Put { table, .. } | WriteOp::Delete { table, .. } => *table,
            };
            if !tables.contains_key(table) {
                return Err(StoreError::UnknownTable(table));
            }
        }
        for op in set.into_ops() {
            match op {
                WriteOp::Put { table, key, value } => {
                    tables.get_mut(table).expect("checked above").insert(key, value);
                }
                WriteOp::Delete { table, key } => {
                    tables.get_mut(table).expect("checked above").remove(&key);
                }
            }
        }
        Ok(())
    }
}
