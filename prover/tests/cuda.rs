//! CUDA backend equivalence (only in a `--features cuda` build, on a GPU host; the workspace
//! tests never need CUDA). `scripts/build-cuda-prover.sh` builds this test as
//! `dist/merit-prover-cuda-tests`; `scripts/gpu-bench.sh` runs it there.
//!
//! - Keys: the verifier generated from the CUDA build's keygen is byte for byte the committed
//!   `TinyBatchVerifier.sol`, which the CPU build generated — so both backends make the same
//!   verifying key from the same SRS, and a CUDA proof verifies on that EVM verifier (the forge
//!   test `GeneratedVerifierTest` checks the committed CUDA proof there).
//! - Proofs: a proof made on the GPU verifies natively, carries the batch's public instances
//!   and fails with one changed byte; the CPU test `a_proof_from_the_cuda_backend_verifies_on_the_cpu`
//!   checks a committed CUDA proof with the CPU verifier.
#![cfg(feature = "cuda")]

use std::path::{Path, PathBuf};

use merit_circuits::{
    batch::CIRCUIT_INSTANCES,
    config::{sample_batch, CircuitConfig},
};
use merit_prover::{
    evm::{verifier_solidity, verifier_source_path},
    keys::keygen,
    prove, verify, Backend, Srs,
};

#[test]
fn cuda_keys_and_proofs_match_the_cpu_backend() {
    assert_eq!(Backend::CURRENT, Backend::Cuda);
    // The binary runs on another machine: the repository root comes from the environment there.
    let root = std::env::var_os("MERIT_REPO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let config = CircuitConfig::load(&root.join("circuits/configs/tiny.json")).unwrap();
    let srs = Srs::development(config.config.k as u32);
    let keys = keygen(&config, &srs).unwrap();

    let solidity = verifier_solidity(srs.params(), keys.vk(), CIRCUIT_INSTANCES, "tiny");
    let committed =
        std::fs::read_to_string(root.join("verifier-contracts").join(verifier_source_path("tiny")))
            .unwrap();
    assert!(solidity == committed, "the CUDA build's verifying key differs from the CPU build's");

    let vector = sample_batch(&config).unwrap();
    let proof = prove(&srs, &keys, &vector).unwrap();
    assert_eq!(proof.backend, Backend::Cuda);
    assert_eq!(proof.instance_values().unwrap(), vector.public_instances[..CIRCUIT_INSTANCES]);
    verify(srs.params(), keys.vk(), &proof).unwrap();
    let mut changed = proof.clone();
    let mut bytes = changed.proof.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    changed.proof = bytes.into();
    assert!(verify(srs.params(), keys.vk(), &changed).is_err());
    if let Some(out) = std::env::var_os("MERIT_CUDA_PROOF_OUT") {
        std::fs::write(out, serde_json::to_vec_pretty(&proof).unwrap()).unwrap();
    }
}
