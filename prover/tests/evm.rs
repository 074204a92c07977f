//! What the contracts project takes from the prover, kept current:
//! - the generated Solidity verifiers in `verifier-contracts/src/generated/` are exactly what
//!   `merit verifier generate --config circuits/configs/NAME.json --dev-srs` makes from the
//!   committed configurations (a stale verifier fails here);
//! - the settlement fixtures `fixtures/proofs/NAME.cuda.submit.json` (the `submitBatch` and
//!   `claim` arguments of the CUDA proofs in `fixtures/proofs/`, which the forge tests send to
//!   the generated verifiers and to `RewardRollup`) follow from those proofs and merit-core.
//!
//! `MERIT_BLESS=1 cargo test -p merit-prover --test evm` rewrites both.

use std::path::{Path, PathBuf};

use merit_circuits::{
    batch::CIRCUIT_INSTANCES,
    config::{sample_batch, CircuitConfig},
};
use merit_prover::{
    evm::{verifier_solidity, verifier_source_path},
    keys::keygen,
    BatchProof, Srs,
};
use serde_json::json;

/// The configurations whose verifiers are committed: `tiny` for the tests, `n16` for the demo.
const CONFIGS: [&str; 2] = ["tiny", "n16"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bless() -> bool {
    std::env::var_os("MERIT_BLESS").is_some()
}

/// Compares `path` with `expected`, or rewrites it under `MERIT_BLESS`.
fn check_file(path: &Path, expected: &str, how: &str) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, expected).unwrap();
    }
    let found = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path:?} ({e}); make it with {how}"));
    assert!(found == expected, "{path:?} is stale; make it again with {how}");
}

#[test]
fn committed_verifiers_are_generated_from_the_committed_configurations() {
    for name in CONFIGS {
        let config =
            CircuitConfig::load(&root().join(format!("circuits/configs/{name}.json"))).unwrap();
        let srs = Srs::development(config.config.k as u32);
        let keys = keygen(&config, &srs).unwrap();
        let solidity = verifier_solidity(srs.params(), keys.vk(), CIRCUIT_INSTANCES, name);
        let path = root().join("verifier-contracts").join(verifier_source_path(name));
        check_file(
            &path,
            &solidity,
            &format!("`merit verifier generate --config circuits/configs/{name}.json --dev-srs`"),
        );
    }
}

#[test]
fn settlement_fixtures_follow_from_the_cuda_proofs() {
    for name in CONFIGS {
        let config =
            CircuitConfig::load(&root().join(format!("circuits/configs/{name}.json"))).unwrap();
        let proof_path = root().join(format!("fixtures/proofs/{name}.cuda.proof.json"));
        let proof: BatchProof =
            serde_json::from_str(&std::fs::read_to_string(&proof_path).unwrap()).unwrap();
        let vector = sample_batch(&config).unwrap();
        let output = &vector.output;
        assert_eq!(
            proof.instance_values().unwrap(),
            output.public_instances(),
            "{proof_path:?} is not a proof of the sample batch of {name}"
        );
        let word = |i: usize| proof.instances[i].to_string();
        let claims: Vec<_> = output
            .touched
            .iter()
            .map(|t| {
                let claim = output.claim_proof(vector.batch.batch_id, t.address).unwrap();
                json!({
                    "account": t.address.to_string(),
                    "cumulative": t.cumulative.to_string(),
                    "proof": claim.proof.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let fixture = json!({
            "config": name,
            "verifier": merit_prover::evm::verifier_contract_name(name),
            "header": {
                "batchId": vector.batch.batch_id,
                "prevRoot": word(0),
                "newRoot": word(1),
                "batchCommitment": word(2),
                "modelCommitment": word(3),
                "policyCommitment": word(4),
                "totalReward": word(5),
            },
            "touched": output.touched.iter().map(|t| t.packed().to_string()).collect::<Vec<_>>(),
            "instances": proof.instances.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "proof": proof.proof.to_string(),
            "claimRoot": output.claim_root.to_string(),
            "claims": claims,
        });
        let text = format!("{}\n", serde_json::to_string_pretty(&fixture).unwrap());
        let path = root().join(format!("fixtures/proofs/{name}.cuda.submit.json"));
        check_file(&path, &text, "`MERIT_BLESS=1 cargo test -p merit-prover --test evm`");
    }
}
