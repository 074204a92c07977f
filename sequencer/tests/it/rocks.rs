//! The RocksDB store in temp dirs: round trips across reopen, and clear errors for bad
//! directories.

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use axum::http::StatusCode;
use merit_sequencer::{
    store::{
        ChainHeadRecord, Contributions, MetaKey, MetaValue, Metadata, Nonces, Outcome, Outcomes,
        Pending, StoreError, StoreExt, Table, WriteSet,
    },
    BatcherMode, Node, NodeError, Protocol, RocksStore, Store,
};

use crate::{get, manual_settings, router, signed, submit, DEPTH};

#[test]
fn write_reopen_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = RocksStore::open(&path).unwrap();
        let mut set = WriteSet::new();
        for seq in [256u64, 2, 10] {
            set.put::<Pending>(&seq, &B256::with_last_byte(seq as u8)).unwrap();
        }
        set.put::<Nonces>(&Address::with_last_byte(7), &42).unwrap();
        let head = ChainHeadRecord { last_batch: Some(3), state_root: B256::repeat_byte(9) };
        set.put::<Metadata>(&MetaKey::Head, &MetaValue::Head(head)).unwrap();
        store.write(set).unwrap();
        let mut set = WriteSet::new();
        set.delete::<Pending>(&10);
        store.write(set).unwrap();
    }
    let store = RocksStore::open(&path).unwrap();
    let pending = store.all::<Pending>().unwrap();
    assert_eq!(pending.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![2, 256], "numeric order");
    assert_eq!(pending[1].1, B256::with_last_byte(0));
    assert_eq!(store.scan::<Pending>(Some(&3), 10).unwrap().len(), 1);
    assert_eq!(store.get::<Nonces>(&Address::with_last_byte(7)).unwrap(), Some(42));
    assert_eq!(store.get::<Nonces>(&Address::with_last_byte(8)).unwrap(), None);
    assert_eq!(
        store.get::<Metadata>(&MetaKey::Head).unwrap(),
        Some(MetaValue::Head(ChainHeadRecord {
            last_batch: Some(3),
            state_root: B256::repeat_byte(9)
        }))
    );
}

/// The tables with hash-bucketed memtables still scan in key order (from the memtable, from
/// the log replayed at reopen, and from table files after a flush), and the nonce table's
/// in-place updates keep exactly the last value of each key.
#[test]
fn tuned_tables_keep_key_order_and_the_last_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let ids: Vec<B256> =
        (0u64..300).map(|i| alloy_primitives::keccak256(i.to_be_bytes())).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    let from = sorted[100];
    let check = |store: &RocksStore, stage: &str| {
        let all = store.all::<Outcomes>().unwrap();
        assert_eq!(all.iter().map(|(k, _)| *k).collect::<Vec<_>>(), sorted, "{stage}: order");
        let tail = store.scan::<Outcomes>(Some(&from), 50).unwrap();
        assert_eq!(tail.iter().map(|(k, _)| *k).collect::<Vec<_>>(), sorted[100..150], "{stage}");
        let i = ids.iter().position(|id| *id == sorted[7]).unwrap() as u64;
        assert_eq!(
            store.get::<Outcomes>(&sorted[7]).unwrap(),
            Some(Outcome::Batched { batch_id: i }),
            "{stage}: point lookup"
        );
        let nonces = store.all::<Nonces>().unwrap();
        assert_eq!(
            nonces,
            vec![(Address::with_last_byte(1), 5), (Address::with_last_byte(2), 1_000)],
            "{stage}: one entry per contributor, the last value"
        );
    };
    {
        let store = RocksStore::open(&path).unwrap();
        let mut set = WriteSet::new();
        for (i, id) in ids.iter().enumerate() {
            set.put::<Outcomes>(id, &Outcome::Batched { batch_id: i as u64 }).unwrap();
        }
        store.write(set).unwrap();
        // Longer, shorter and equal encodings, in separate writes and twice in one write.
        let (one, two) = (Address::with_last_byte(1), Address::with_last_byte(2));
        for (address, nonce) in [(one, 9), (one, 10), (two, 999), (one, 123_456), (one, 7)] {
            let mut set = WriteSet::new();
            set.put::<Nonces>(&address, &nonce).unwrap();
            store.write(set).unwrap();
        }
        let mut set = WriteSet::new();
        set.put::<Nonces>(&one, &6).unwrap();
        set.put::<Nonces>(&one, &5).unwrap();
        set.put::<Nonces>(&two, &1_000).unwrap();
        store.write(set).unwrap();
        assert_eq!(store.get::<Nonces>(&one).unwrap(), Some(5));
        check(&store, "memtable");
    }
    let store = RocksStore::open(&path).unwrap();
    check(&store, "replayed log");
    store.flush().unwrap();
    drop(store);
    let store = RocksStore::open(&path).unwrap();
    check(&store, "table files");
}

#[tokio::test]
async fn a_node_on_rocksdb_resumes_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let protocol = Protocol::development(DEPTH);
    let start = |store: RocksStore| {
        Node::start(protocol.clone(), manual_settings(), Arc::new(store), BatcherMode::Manual)
            .unwrap()
    };
    let node = start(RocksStore::open(&path).unwrap());
    let app = router(&node);
    for seed in 1..=3 {
        assert_eq!(submit(&app, &signed(seed, 1)).await.0, StatusCode::ACCEPTED);
    }
    node.sequencer().seal_now().unwrap();
    assert_eq!(submit(&app, &signed(1, 2)).await.0, StatusCode::ACCEPTED);
    let (_, before) = get(&app, "/v1/status").await;
    let (_, batch_before) = get(&app, "/v1/batches/1").await;
    drop(app);
    node.shutdown().await;

    let node = start(RocksStore::open(&path).unwrap());
    let app = router(&node);
    assert_eq!(get(&app, "/v1/status").await.1, before);
    assert_eq!(get(&app, "/v1/batches/1").await.1, batch_before);
    assert_eq!(before["pending"], 1);
    assert_eq!(submit(&app, &signed(1, 2)).await.1["code"], "nonce_replayed");
    drop(app);
    node.shutdown().await;
}

#[test]
fn bad_directories_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, "not a database").unwrap();
    let err = RocksStore::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. } | StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");

    // A corrupt CURRENT file.
    let corrupt = dir.path().join("corrupt");
    drop(RocksStore::open(&corrupt).unwrap());
    std::fs::write(corrupt.join("CURRENT"), "garbage").unwrap();
    let err = RocksStore::open(&corrupt).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains(&corrupt.display().to_string()), "{err}");

    // A directory in use by another store.
    let busy = dir.path().join("busy");
    let _first = RocksStore::open(&busy).unwrap();
    let err = RocksStore::open(&busy).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("no other node"), "{err}");
}

/// Same column family as [`Contributions`], but strings: writes garbage records.
struct Garbage;

impl Table for Garbage {
    const NAME: &'static str = Contributions::NAME;
    type Key = B256;
    type Value = String;
}

#[test]
fn corrupt_records_and_state_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RocksStore::open(dir.path().join("db")).unwrap());
    let mut set = WriteSet::new();
    set.put::<Garbage>(&B256::ZERO, &"junk".to_owned()).unwrap();
    store.write(set).unwrap();
    let err = store.get::<Contributions>(&B256::ZERO).unwrap_err();
    assert!(matches!(err, StoreError::Decode { table: "contributions", .. }), "{err}");

    // A chain whose recorded root does not match its accounts.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RocksStore::open(dir.path().join("db")).unwrap());
    let protocol = Protocol::development(DEPTH);
    drop(
        merit_sequencer::Sequencer::open(protocol.clone(), manual_settings(), store.clone())
            .unwrap(),
    );
    let mut set = WriteSet::new();
    let head = ChainHeadRecord { last_batch: None, state_root: B256::repeat_byte(1) };
    set.put::<Metadata>(&MetaKey::Head, &MetaValue::Head(head)).unwrap();
    store.write(set).unwrap();
    let err = merit_sequencer::Sequencer::open(protocol, manual_settings(), store).unwrap_err();
    assert!(matches!(err, NodeError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("state root"), "{err}");
}
