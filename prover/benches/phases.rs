//! Criterion benchmarks of the prover's phases on one circuit configuration (default `tiny`;
//! set `MERIT_BENCH_CONFIG=circuits/configs/n16.json` for another), with the development SRS:
//!
//! - `witness`: the batch circuit assigned in the prover stage from the sample batch
//!   (merit-circuits' chips over merit-core's trace), public instances checked;
//! - `keygen`: verifying and proving keys (and break points);
//! - `prove`: witness + `create_proof` + native verification, what a worker spends per batch;
//! - `verify`: native verification of one proof.
//!
//! `cargo bench -p merit-prover --bench phases`. Proof size and peak memory, and the other
//! configurations end to end, come from `merit-prover bench` (see `prover/src/bench.rs`).

#![allow(missing_docs)] // criterion_group! generates an undocumented public function

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use merit_circuits::config::{sample_batch, CircuitConfig};
use merit_prover::{keys::keygen, prove, verify, witness, Srs};

fn phases(c: &mut Criterion) {
    let path = std::env::var_os("MERIT_BENCH_CONFIG").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../circuits/configs/tiny.json")
    });
    let config = CircuitConfig::load(&path).expect("the circuit configuration loads");
    let srs = Srs::development(config.config.k as u32);
    let vector = sample_batch(&config).expect("the sample batch");
    let keys = keygen(&config, &srs).expect("keygen");
    let proof = prove(&srs, &keys, &vector).expect("a proof");

    let mut group = c.benchmark_group(format!("prover/{}", config.config.name));
    group.sample_size(10);
    group.bench_function("witness", |b| b.iter(|| witness(&keys, &vector).expect("witness")));
    group.bench_function("keygen", |b| b.iter(|| keygen(&config, &srs).expect("keygen")));
    group.bench_function("prove", |b| b.iter(|| prove(&srs, &keys, &vector).expect("prove")));
    group.bench_function("verify", |b| {
        b.iter(|| verify(srs.params(), keys.vk(), &proof).expect("the proof verifies"))
    });
    group.finish();
}

criterion_group!(benches, phases);
criterion_main!(benches);
