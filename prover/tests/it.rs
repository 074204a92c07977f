//! The prover end to end at a tiny configuration, with the development SRS: keygen, key caching,
//! proving and native verification; tampered proofs, instances, key files, configurations and
//! SRS files are refused with errors that say what is wrong.

use std::path::Path;

use alloy_primitives::B256;
use halo2_base::halo2_proofs::{
    halo2curves::bn256::Bn256, poly::kzg::commitment::ParamsKZG, SerdeFormat,
};
use merit_circuits::{
    config::{sample_batch, CircuitConfig, LoadedConfig},
    poseidon::PoseidonLayout,
};
use merit_prover::{
    evm::verifier_solidity, keys::keygen, prove, verify, Backend, BatchProof, KeyStore,
    ProverError, Srs,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

/// The error of a call that must fail (without printing what it returned otherwise: keys are
/// large).
fn refused<T>(result: Result<T, ProverError>) -> ProverError {
    match result {
        Ok(_) => panic!("accepted where it must be refused"),
        Err(err) => err,
    }
}

/// A tiny configuration (4 contributions, 2 accounts, depth 8, the 4→8→1 tanh model).
fn tiny_config(dir: &Path, name: &str, lookup_bits: usize) -> LoadedConfig {
    let model = merit_core::samples::sample_tanh_model(2);
    std::fs::write(dir.join("model.json"), serde_json::to_string(&model).unwrap()).unwrap();
    let config = serde_json::json!({
        "name": name, "k": 14, "lookup_bits": lookup_bits,
        "max_contributions": 4, "max_accounts": 2, "depth": 8, "model": "model.json"
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    CircuitConfig::load(&path).unwrap()
}

#[test]
fn keys_are_cached_proofs_verify_and_tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), "tiny", 13);
    let srs = Srs::development(14);
    let store = KeyStore::new(dir.path().join("keys"));

    let keys = store.load_or_generate(&config, &srs).unwrap();
    assert!(keys.generated);
    let vector = sample_batch(&config).unwrap();
    let proof = prove(&srs, &keys, &vector).unwrap();
    assert_eq!(proof.instance_values().unwrap(), vector.public_instances[..proof.instances.len()]);
    verify(srs.params(), keys.vk(), &proof).unwrap();

    // Loaded from the cache, the keys verify the same proof.
    let cached = store.load_or_generate(&config, &srs).unwrap();
    assert!(!cached.generated);
    verify(srs.params(), cached.vk(), &proof).unwrap();

    // One changed instance, or one changed proof byte: refused.
    for i in 0..proof.instances.len() {
        let mut changed = proof.clone();
        let mut word = changed.instances[i].0;
        word[31] ^= 1;
        changed.instances[i] = B256::from(word);
        let err = verify(srs.params(), keys.vk(), &changed).unwrap_err();
        assert!(matches!(err, ProverError::BadProof { .. }), "instance {i}: {err}");
    }
    let mut changed = proof.clone();
    let mut bytes = changed.proof.to_vec();
    bytes[100] ^= 1;
    changed.proof = bytes.into();
    assert!(verify(srs.params(), keys.vk(), &changed).is_err());

    // The Solidity verifier comes out of the same key.
    let solidity = verifier_solidity(srs.params(), keys.vk(), proof.instances.len(), "tiny");
    assert!(solidity.contains("contract TinyBatchVerifier"), "{}", &solidity[..400]);
    assert!(solidity.contains("pragma solidity ^0.8.19;"));
}

/// The split account layout (one link slot, two account slots: the sample batch has one new and
/// one existing account) proves for real, and a changed instance is refused.
#[test]
fn the_split_account_layout_proves_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let model = merit_core::samples::sample_tanh_model(2);
    std::fs::write(dir.path().join("model.json"), serde_json::to_string(&model).unwrap()).unwrap();
    let config = serde_json::json!({
        "name": "tiny-split", "k": 14, "lookup_bits": 13, "max_contributions": 4,
        "max_accounts": 2, "max_new_accounts": 1, "depth": 8, "model": "model.json"
    });
    let path = dir.path().join("tiny-split.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let config = CircuitConfig::load(&path).unwrap();
    let vector = sample_batch(&config).unwrap();
    let new: Vec<bool> = vector.trace.accounts.iter().map(|u| u.is_new).collect();
    assert_eq!(new.iter().filter(|n| **n).count(), 1, "{new:?}");
    assert_eq!(new.len(), 2);

    let srs = Srs::development(14);
    let keys = keygen(&config, &srs).unwrap();
    let proof = prove(&srs, &keys, &vector).unwrap();
    assert_eq!(proof.instance_values().unwrap(), vector.public_instances[..proof.instances.len()]);
    verify(srs.params(), keys.vk(), &proof).unwrap();
    let mut changed = proof.clone();
    let mut word = changed.instances[1].0; // new_root
    word[31] ^= 1;
    changed.instances[1] = B256::from(word);
    assert!(matches!(
        verify(srs.params(), keys.vk(), &changed).unwrap_err(),
        ProverError::BadProof { .. }
    ));
}

/// The throughput configurations' settings (the wide Poseidon layout, degree 5, an active depth,
/// the lean range checks) prove for real: the proof verifies with its own keys only (and the
/// default circuit's with its own only), a changed instance is refused, and stored keys of the
/// default circuit are not loaded for it.
#[test]
fn the_throughput_settings_prove_with_keys_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let narrow = tiny_config(dir.path(), "tiny", 13);
    let wide = {
        let mut config = narrow.config.clone();
        config.poseidon_layout = PoseidonLayout::Wide;
        config.min_degree = Some(5);
        config.active_depth = Some(4);
        config.lean_range_checks = true;
        config.with_model(narrow.model.clone()).unwrap()
    };
    let srs = Srs::development(14);
    let store = KeyStore::new(dir.path().join("keys"));
    let keys = [store.load_or_generate(&narrow, &srs).unwrap(), keygen(&wide, &srs).unwrap()];
    let err = refused(store.load(&wide, &srs));
    assert!(matches!(err, ProverError::KeyMismatch { .. }), "{err}");
    assert_eq!(keys[1].params.poseidon_layout, PoseidonLayout::Wide);
    assert!(keys[1].vk().cs().degree() >= 5);

    let vector = sample_batch(&narrow).unwrap();
    let proofs: Vec<BatchProof> = keys.iter().map(|k| prove(&srs, k, &vector).unwrap()).collect();
    for (i, proof) in proofs.iter().enumerate() {
        let instances = proof.instance_values().unwrap();
        assert_eq!(instances, vector.public_instances[..proof.instances.len()]);
        for (j, other) in keys.iter().enumerate() {
            let verified = verify(srs.params(), other.vk(), proof).is_ok();
            assert_eq!(verified, i == j, "proof {i}, keys {j}");
        }
        let mut changed = proof.clone();
        let mut word = changed.instances[0].0; // prev_root
        word[31] ^= 1;
        changed.instances[0] = B256::from(word);
        assert!(matches!(
            verify(srs.params(), keys[i].vk(), &changed).unwrap_err(),
            ProverError::BadProof { .. }
        ));
    }
}

#[test]
fn damaged_or_foreign_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), "tiny", 13);
    let srs = Srs::development(14);
    let store = KeyStore::new(dir.path().join("keys"));
    store.load_or_generate(&config, &srs).unwrap();

    // Another lookup width under the same name: another circuit.
    let other = tiny_config(dir.path(), "tiny", 12);
    let err = refused(store.load_or_generate(&other, &srs));
    assert!(matches!(err, ProverError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("tiny.circuit.json"), "{err}");
    let config = tiny_config(dir.path(), "tiny", 13);

    // Another SRS (another secret).
    let foreign_path = dir.path().join("foreign.srs");
    let foreign = ParamsKZG::<Bn256>::setup(14, ChaCha20Rng::from_seed([9; 32]));
    let mut file = std::fs::File::create(&foreign_path).unwrap();
    foreign.write_custom(&mut file, SerdeFormat::RawBytes).unwrap();
    drop(file);
    let foreign = Srs::load(&foreign_path, 14).unwrap();
    let err = refused(store.load(&config, &foreign));
    assert!(matches!(err, ProverError::KeyMismatch { .. }), "{err}");

    // A flipped byte in the proving key.
    let pk = store.pk_path("tiny");
    let mut bytes = std::fs::read(&pk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&pk, &bytes).unwrap();
    let err = refused(store.load(&config, &srs));
    assert!(matches!(err, ProverError::CorruptKey { .. }), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");

    // A truncated circuit file.
    let circuit = store.circuit_path("tiny");
    let text = std::fs::read_to_string(&circuit).unwrap();
    std::fs::write(&circuit, &text[..text.len() / 2]).unwrap();
    let err = refused(store.load(&config, &srs));
    assert!(matches!(err, ProverError::CorruptKey { .. }), "{err}");
}

/// Writes the development SRS of `2^k` points to a file.
fn write_srs(dir: &Path, k: u32) -> std::path::PathBuf {
    let path = dir.join(format!("srs-{k}.bin"));
    Srs::development(k).write(&path).unwrap();
    path
}

#[test]
fn srs_files_load_downsize_and_refuse_what_they_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_srs(dir.path(), 10);
    let same = Srs::load(&path, 10).unwrap();
    assert_eq!(same.fingerprint(), Srs::development(10).fingerprint());
    let smaller = Srs::load(&path, 8).unwrap();
    assert_eq!(smaller.k(), 8);
    assert_ne!(smaller.fingerprint(), same.fingerprint());

    let err = refused(Srs::load(&path, 11));
    assert!(matches!(err, ProverError::SrsTooSmall { found: 10, k: 11, .. }), "{err}");
    let err = refused(Srs::load(&dir.path().join("missing.srs"), 8));
    assert!(err.to_string().contains("cannot open SRS"), "{err}");
    let garbage = dir.path().join("garbage.srs");
    std::fs::write(&garbage, b"not an srs").unwrap();
    let err = refused(Srs::load(&garbage, 8));
    assert!(err.to_string().contains("not a halo2 KZG SRS"), "{err}");
    // A valid header with a truncated body.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&garbage, &bytes[..bytes.len() - 1]).unwrap();
    let err = refused(Srs::load(&garbage, 8));
    assert!(err.to_string().contains("not a halo2 KZG SRS"), "{err}");
}

/// A proof of the checked-in `tiny` configuration made by the CUDA backend on an H100
/// (`scripts/build-cuda-prover.sh`, then `scripts/gpu-bench.sh --smoke`) verifies with this
/// build's CPU verifier, and with one changed byte it does not. When the circuit changes, this
/// fixture must be made again on a GPU host.
#[test]
fn a_proof_from_the_cuda_backend_verifies_on_the_cpu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = CircuitConfig::load(&root.join("circuits/configs/tiny.json")).unwrap();
    let fixture = root.join("fixtures/proofs/tiny.cuda.proof.json");
    let proof: BatchProof =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    assert_eq!(proof.backend, Backend::Cuda);
    let vector = sample_batch(&config).unwrap();
    assert_eq!(proof.instance_values().unwrap(), vector.public_instances[..proof.instances.len()]);

    let srs = Srs::development(14);
    let keys = keygen(&config, &srs).unwrap();
    verify(srs.params(), keys.vk(), &proof).unwrap_or_else(|e| {
        panic!(
            "{fixture:?} no longer verifies ({e}); if the circuit changed, remake it on a GPU host"
        )
    });
    let mut changed = proof.clone();
    let mut bytes = changed.proof.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    changed.proof = bytes.into();
    refused(verify(srs.params(), keys.vk(), &changed));
}
