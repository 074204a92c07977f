//! The RocksDB [`Store`]: one column family per table, every write one synced `WriteBatch`.
//!
//! # Tuning for the submit path
//! Every acknowledged contribution writes three keys in the writer's group commit: its record
//! (keyed by its id, a hash), its pending-queue entry (keyed by a counter) and its contributor's
//! last nonce. RocksDB's default memtable is one skip list per column family, and inserting a
//! random key into a skip list of ~100k entries is a cache miss per level: profiled at
//! 10,000 submissions/s on two cores, those inserts were 7% of all CPU time, the writer's
//! largest cost. So the tables keyed by hashes ([`HASHED_TABLES`]: the contributions and their
//! outcomes) get a hash-bucketed memtable (a fixed 8-byte key prefix picks the bucket; ids
//! are uniformly distributed, so a bucket holds about one entry), and the nonce table, one
//! key per contributor rewritten on every submission, updates its memtable entry in place
//! instead of stacking a version per write. Both are RocksDB options, not code of ours;
//! every scan asks for total-order iteration, which these memtables still give (at a copy's
//! cost, paid only by the start-up checks that scan those tables).

use std::path::{Path, PathBuf};

use rocksdb::{
    ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, MemtableFactory, Options,
    ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};
use tracing::info;

use super::{
    Contributions, Nonces, Outcomes, Store, StoreError, StoreResult, Table, WriteOp, WriteSet,
    TABLES,
};

/// Tables keyed by a 32-byte hash and read by point lookups: a hash-bucketed memtable.
const HASHED_TABLES: &[&str] = &[Contributions::NAME, Outcomes::NAME];

/// Buckets of a hashed table's memtable (8 bytes each: 8 MiB per memtable).
const MEMTABLE_BUCKETS: usize = 1 << 20;

/// The options of `table`'s column family.
fn family_options(table: &str) -> Options {
    let mut cf = Options::default();
    cf.set_compression_type(DBCompressionType::Lz4);
    if HASHED_TABLES.contains(&table) {
        cf.set_prefix_extractor(SliceTransform::create_fixed_prefix(8));
        cf.set_memtable_factory(MemtableFactory::HashSkipList {
            bucket_count: MEMTABLE_BUCKETS,
            height: 4,
            branching_factor: 4,
        });
    }
    if table == Nonces::NAME {
        cf.set_inplace_update_support(true);
    }
    cf
}

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
        // Required by the hash-bucketed memtables and in-place updates; one writer thread
        // does the submit path's writes anyway.
        options.set_allow_concurrent_memtable_write(false);
        // Table files (memtable flushes, ~35 MB each at 10,000 submissions/s) are written back
        // a MiB at a time while they are built, instead of in one burst at their final fsync:
        // measured, such a burst held the writer's WAL fsync up to 120 ms.
        options.set_bytes_per_sync(1 << 20);
        let families =
            TABLES.iter().map(|name| ColumnFamilyDescriptor::new(*name, family_options(name)));
        let db = DB::open_cf_descriptors(&options, &path, families)
            .map_err(|source| StoreError::Open { path: path.clone(), source })?;
        info!(target: "merit::sequencer", path = %path.display(), "opened the RocksDB store");
        Ok(Self { db, path })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every table's memtable to disk (table files), so a restart replays no log.
    pub fn flush(&self) -> StoreResult<()> {
        for table in TABLES {
            let cf = self.cf(table)?;
            self.db.flush_cf(cf).map_err(|source| StoreError::Flush { table, source })?;
        }
        Ok(())
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
        // Key order across the whole table, whatever the table's prefix extractor.
        let mut read = ReadOptions::default();
        read.set_total_order_seek(true);
        self.db
            .iterator_cf_opt(cf, read, IteratorMode::From(from, Direction::Forward))
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
