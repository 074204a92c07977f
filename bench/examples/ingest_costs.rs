//! Per-stage CPU costs of the sequencer's ingestion path, one core, no HTTP: what one
//! contribution costs to parse, hash, verify and encode, what one synced group write costs,
//! and what sealing a batch costs. Run in release:
//!
//! ```sh
//! cargo run --release --locked -p merit-bench --example ingest_costs
//! ```

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use merit_bench::load::{contribution, key_signer};
use merit_core::{apply_batch, samples, Account, SignedContribution, State};
use merit_sequencer::{
    store::{ContributionRecord, Contributions, Nonces, Pending, WriteSet},
    RocksStore, Store,
};

fn time<T>(what: &str, n: usize, mut f: impl FnMut(usize) -> T) -> Duration {
    // Warm up, then measure.
    for i in 0..n.min(100) {
        std::hint::black_box(f(i));
    }
    let started = Instant::now();
    for i in 0..n {
        std::hint::black_box(f(i));
    }
    let elapsed = started.elapsed();
    println!(
        "{what:<48} {:>10.2} µs  ({:>9.0}/s on one core)",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        n as f64 / elapsed.as_secs_f64()
    );
    elapsed / n as u32
}

fn main() {
    let domain = samples::dev_domain();
    let n = 2_000;
    let keys = 1_000;
    let signers: Vec<_> = (0..keys).map(|k| key_signer(1, k)).collect();
    let contributions: Vec<_> = (0..n)
        .map(|i| contribution(1, i % keys, signers[i % keys].address(), (i / keys) as u64 + 1, 16))
        .collect();
    time("sign (k256, client side)", n, |i| {
        samples::sign(&signers[i % keys], &domain, contributions[i].clone())
    });
    let signed: Vec<SignedContribution> = contributions
        .iter()
        .enumerate()
        .map(|(i, c)| samples::sign(&signers[i % keys], &domain, c.clone()))
        .collect();
    let bodies: Vec<Vec<u8>> = signed.iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
    println!("request body: {} bytes", bodies[0].len());
    time("JSON decode SignedContribution", n, |i| {
        serde_json::from_slice::<SignedContribution>(&bodies[i]).unwrap()
    });
    time("EIP-712 signing hash", n, |i| signed[i].contribution.signing_hash(&domain));
    time("verify (hash + recover + compare)", n, |i| signed[i].verify(&domain).unwrap());
    let record = |i: usize| ContributionRecord {
        seq: i as u64,
        received_at_ms: 0,
        signed: signed[i].clone(),
    };
    time("record JSON encode (writer)", n, |i| serde_json::to_vec(&record(i)).unwrap());

    // Synced group writes on RocksDB in a temporary directory.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(RocksStore::open(dir.path().join("db")).unwrap());
    for group in [1usize, 10, 50] {
        let rounds = 200;
        let mut seq = 0;
        let ids: Vec<_> = signed.iter().map(|s| s.contribution.signing_hash(&domain)).collect();
        time(&format!("synced write of a group of {group}"), rounds, |_| {
            let mut set = WriteSet::new();
            for _ in 0..group {
                let i = seq % n;
                set.put::<Contributions>(&ids[i], &record(i)).unwrap();
                set.put::<Pending>(&(seq as u64), &ids[i]).unwrap();
                set.put::<Nonces>(&signed[i].contribution.contributor, &1).unwrap();
                seq += 1;
            }
            store.write(set).unwrap();
        });
    }

    // Sealing: 256 contributions of 256 existing accounts in a tree of 1,000 at depth 24.
    let model = samples::sample_model(1);
    let policy = samples::sample_policy();
    let mut addresses: Vec<_> = signers.iter().map(|s| s.address()).collect();
    addresses.sort();
    let state = State::from_accounts(
        24,
        addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, Account { index: i as u64 + 1, cumulative: 0, last_nonce: 0 })),
    )
    .unwrap();
    let mut batch: Vec<_> = contributions[..256].to_vec();
    batch.sort_by_key(|c| (c.contributor, c.nonce));
    let per_batch = time("apply_batch, 256 contributions / 256 accounts", 5, |_| {
        apply_batch(&state, &model, &policy, &batch).unwrap()
    });
    println!(
        "  = {:.1} µs per contribution sealed ({:.0} contributions/s on one core)",
        per_batch.as_secs_f64() * 1e6 / 256.0,
        256.0 / per_batch.as_secs_f64()
    );
    time("State::from_accounts, 1,000 accounts, depth 24", 3, |_| {
        State::from_accounts(
            24,
            addresses
                .iter()
                .enumerate()
                .map(|(i, a)| (*a, Account { index: i as u64 + 1, cumulative: 0, last_nonce: 0 })),
        )
        .unwrap()
    });
}
