//! The RocksDB [`Store`]: one column family per table, every write one synced `WriteBatch`.

use std::path::{Path, PathBuf};

use rocksdb::{
    ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use tracing::info;

use super::{Store, StoreError, StoreResult, WriteOp, WriteSet, TABLES};

/// A RocksDB database in one directory.
pub struct RocksStore {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RocksStore {
    /// Opens the database at `path`, creating the directory and the tables if missing.
    ///
    /// Fails with [`StoreError::Open`] (naming the path) if the directory is not a RocksDB
    /// database, is corrupt, or is locked by another process.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)
            .map_err(|source| StoreError::CreateDir { path: path.clone(), source })?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Refuse to open a database whose files fail their checksums instead of guessing.
        options.set_paranoid_checks(true);
        let families = TABLES.iter().map(|name| {
            let mut cf = Options::default();
            cf.set_compression_type(DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(*name, cf)
        });
        let db = DB::open_cf_descriptors(&options, &path, families)
            .map_err(|source| StoreError::Open { path: path.clone(), source })?;
        info!(target: "merit::sequencer", path = %path.display(), "opened the RocksDB store");
        Ok(Self { db, path })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, table: &'static str) -> StoreResult<&rocksdb::ColumnFamily> {
        self.db.cf_handle(table).ok_or(StoreError::UnknownTable(table))
    }
}

impl Store for RocksStore {
    fn get_raw(&self, table: &'static str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let cf = self.cf(table)?;
        self.db.get_cf(cf, key).map_err(|source| StoreError::Read { table, source })
    }

    fn scan_raw(
        &self,
        table: &'static str,
        from: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let cf = self.cf(table)?;
        self.db
            .iterator_cf(cf, IteratorMode::From(from, Direction::Forward))
            .take(limit)
            .map(|item| {
                item.map(|(k, v)| (k.into_vec(), v.into_vec()))
                    .map_err(|source| StoreError::Read { table, source })
            })
            .collect()
    }

    fn write(&self, set: WriteSet) -> StoreResult<()> {
        let ops = set.len();
        let mut batch = WriteBatch::default();
        for op in set.into_ops() {
            match op {
                WriteOp::Put { table, key, value } => batch.put_cf(self.cf(table)?, key, value),
                WriteOp::Delete { table, key } => batch.delete_cf(self.cf(table)?, key),
            }
        }
        let mut options = WriteOptions::default();
        // fsync the WAL before returning: an acknowledged write survives a power loss.
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(|source| StoreError::Write { ops, source })
    }
}
