//! The `merit` binary end to end, on the golden vectors and on bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn merit() -> Command {
    Command::cargo_bin("merit").unwrap()
}

/// Writes the inputs of a golden batch vector as separate files.
fn inputs(dir: &Path, vector: &Value) {
    for key in ["prev_state", "model", "policy", "batch"] {
        std::fs::write(dir.join(format!("{key}.json")), vector[key].to_string()).unwrap();
    }
}

fn apply(dir: &Path) -> Command {
    let mut cmd = merit();
    cmd.args(["batch", "apply", "--state"])
        .arg(dir.join("prev_state.json"))
        .arg("--model")
        .arg(dir.join("model.json"))
        .arg("--policy")
        .arg(dir.join("policy.json"))
        .arg("--batch")
        .arg(dir.join("batch.json"));
    cmd
}

fn stderr(cmd: &mut Command) -> String {
    let out = cmd.assert().failure().get_output().clone();
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn batch_apply_reproduces_the_golden_output_and_state() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        inputs(dir.path(), &vector);
        let state_out = dir.path().join("state_out.json");
        let out = apply(dir.path()).arg("--state-out").arg(&state_out).assert().success();
        let output: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(output, vector["output"], "{name}");
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(&state_out).unwrap()).unwrap();
        assert_eq!(state, vector["new_state"], "{name}");
    }
}

#[test]
fn claim_proof_gives_the_claim_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let vector = golden("batch_d8_2.json");
    let output = dir.path().join("output.json");
    std::fs::write(&output, vector["output"].to_string()).unwrap();
    let touched = vector["output"]["touched"][1].clone();
    let out = merit()
        .args(["claim-proof", "--batch-id", "2", "--account"])
        .arg(touched["address"].as_str().unwrap())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let proof: merit_core::ClaimProof = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(proof.verify());
    assert_eq!(proof.batch_id, 2);
    assert_eq!(proof.cumulative.to_string(), touched["cumulative"].as_str().unwrap());
    assert_eq!(proof.claim_root.to_string(), vector["output"]["claim_root"].as_str().unwrap());

    let err = stderr(
        merit()
            .args([
                "claim-proof",
                "--batch-id",
                "2",
                "--account",
                "0x000000000000000000000000000000000000dead",
            ])
            .arg("--output")
            .arg(&output),
    );
    assert!(err.contains("was not touched by this batch"), "{err}");
}

#[test]
fn bad_inputs_get_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vector = golden("batch_d8_2.json");
    let state_out = dir.path().join("state_out.json");

    // Malformed JSON.
    inputs(dir.path(), &vector);
    std::fs::write(dir.path().join("batch.json"), "{ not json").unwrap();
    let err = stderr(apply(dir.path()).arg("--state-out").arg(&state_out));
    assert!(err.contains("batch.json is not a valid batch file"), "{err}");

    // A forged signature names the contribution.
    let mut forged = vector.clone();
    forged["batch"]["contributions"][3]["contribution"]["task_id"] = Value::from(999_999_999u64);
    inputs(dir.path(), &forged);
    let err = stderr(apply(dir.path()).arg("--state-out").arg(&state_out));
    assert!(err.contains("contribution #3"), "{err}");
    assert!(err.contains("signed by"), "{err}");

    // Signatures are domain-bound: another chain id fails.
    inputs(dir.path(), &vector);
    let err =
        stderr(apply(dir.path()).args(["--chain-id", "1"]).arg("--state-out").arg(&state_out));
    assert!(err.contains("bad signature for chain 1"), "{err}");

    // A tampered state file is refused by its root.
    let mut tampered = vector.clone();
    tampered["prev_state"]["accounts"][0]["cumulative"] = Value::from("1");
    inputs(dir.path(), &tampered);
    let err = stderr(apply(dir.path()).arg("--state-out").arg(&state_out));
    assert!(err.contains("state root mismatch"), "{err}");

    // A replayed batch: the second batch applied to the state after it.
    let mut replay = vector.clone();
    replay["prev_state"] = vector["new_state"].clone();
    inputs(dir.path(), &replay);
    let err = stderr(apply(dir.path()).arg("--state-out").arg(&state_out));
    assert!(err.contains("batch 2 rejected") && err.contains("nonce must be above"), "{err}");

    // Wrong feature width (re-signing is skipped to reach the width check).
    let mut wide = vector.clone();
    wide["batch"]["contributions"][0]["contribution"]["features"]
        .as_array_mut()
        .unwrap()
        .push(Value::from(1));
    inputs(dir.path(), &wide);
    let err = stderr(apply(dir.path()).arg("--skip-signatures").arg("--state-out").arg(&state_out));
    assert!(err.contains("model takes 16 features, got 17"), "{err}");

    assert!(!state_out.exists(), "a refused batch wrote a state");
}

#[test]
fn model_score_is_bit_exact_with_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let vector = golden("batch_d8_1.json");
    std::fs::write(dir.path().join("model.json"), vector["model"].to_string()).unwrap();
    let features: Vec<Value> = vector["batch"]["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contribution"]["features"].clone())
        .collect();
    std::fs::write(dir.path().join("features.json"), Value::from(features).to_string()).unwrap();
    let out = merit()
        .args(["model", "score"])
        .arg(dir.path().join("model.json"))
        .arg(dir.path().join("features.json"))
        .assert()
        .success();
    let scores: Vec<i64> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let expected: Vec<i64> = vector["trace"]["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["inference"]["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, expected);
}

#[test]
fn contribution_sign_checks_the_key_owner() {
    let dir = tempfile::tempdir().unwrap();
    let vector = golden("eip712.json");
    let contribution = dir.path().join("contribution.json");
    std::fs::write(&contribution, vector["signed"]["contribution"].to_string()).unwrap();
    let wrong_key = dir.path().join("key");
    std::fs::write(&wrong_key, format!("0x{}\n", "11".repeat(32))).unwrap();
    let err = stderr(
        merit()
            .args(["contribution", "sign", "--contribution"])
            .arg(&contribution)
            .arg("--key-file")
            .arg(&wrong_key),
    );
    assert!(err.contains("the key belongs to"), "{err}");
    std::fs::write(&wrong_key, "not a key").unwrap();
    let err = stderr(
        merit()
            .args(["contribution", "sign", "--contribution"])
            .arg(&contribution)
            .arg("--key-file")
            .arg(&wrong_key),
    );
    assert!(err.contains("not 32 hex bytes"), "{err}");
}

#[test]
fn demo_runs_the_native_loop_and_writes_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let out = merit()
        .args([
            "demo",
            "--native",
            "--contributors",
            "3",
            "--batches",
            "2",
            "--per-contributor",
            "2",
            "--depth",
            "8",
            "--out-dir",
        ])
        .arg(dir.path())
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("every claim paid once"), "{stdout}");
    for file in ["batch-1.json", "output-2.json", "state.json"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
}

/// The whole loop at the tiny size: anvil, contracts, the sequencer on RocksDB, a prover
/// worker, real proofs, settlement, claims from the API's proofs, balances checked (the demo
/// fails on any mismatch, a failed settlement or a repeat claim that pays).
#[test]
fn demo_runs_the_whole_loop_on_anvil() {
    let keys = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let anvil = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(anvil.exists(), "{anvil:?} is missing: run verifier-contracts/scripts/install.sh");
    let out = merit()
        .args(["demo", "--circuit", "tiny", "--contributors", "3", "--batches", "2", "--keys"])
        .arg(keys.path())
        .arg("--data-dir")
        .arg(data.path().join("node"))
        .arg("--anvil")
        .arg(&anvil)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("batch 2 settled on L1"), "{stdout}");
    assert!(stdout.contains("every claim paid"), "{stdout}");
    assert!(stdout.contains("every repeat claim reverted"), "{stdout}");
    // The bad submissions were refused with the API's codes.
    assert!(stdout.contains("→ signature_mismatch"), "{stdout}");
    assert!(stdout.contains("→ feature_width"), "{stdout}");
    assert!(stdout.contains("→ nonce_replayed") || stdout.contains("→ nonce_too_low"), "{stdout}");
    // The keys were cached for the next run.
    assert!(std::fs::read_dir(keys.path()).unwrap().next().is_some());
}

#[test]
fn unavailable_commands_say_so() {
    for args in [vec!["deploy"], vec!["submit"]] {
        let err = stderr(merit().args(&args));
        assert!(err.contains("is not available yet"), "{args:?}: {err}");
    }
}

#[test]
fn the_prover_worker_refuses_bad_arguments_before_any_work() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../circuits/configs/tiny.json");
    let err = stderr(
        merit()
            .args(["prover", "--sequencer", "http://127.0.0.1:1", "--keys", "k", "--config"])
            .arg(&config),
    );
    assert!(err.contains("--srs"), "{err}");
    let err = stderr(
        merit()
            .args(["prover", "--sequencer", "https://seq.example", "--dev-srs", "--config"])
            .arg(&config),
    );
    assert!(err.contains("https is not supported"), "{err}");
}

fn onnx_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx").join(name)
}

#[test]
fn model_import_writes_a_model_that_scores_like_the_report_says() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let import = |extra: &[&str]| {
        let mut cmd = merit();
        cmd.args(["model", "import"])
            .arg(onnx_fixture("mlp_16_32_1.onnx"))
            .arg("--calibration")
            .arg(onnx_fixture("mlp_16_32_1.calibration.json"))
            .arg("--out")
            .arg(&model)
            .args(extra);
        cmd
    };

    // The human report names the layers and the error, and the threshold's flips.
    let out = import(&["--threshold", "8192"]).assert().success();
    let table = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for expected in ["scale             2^14", "fc1, relu1", "max abs error", "0 flips"] {
        assert!(table.contains(expected), "{expected:?} missing from\n{table}");
    }

    // JSON report; the policy's threshold is used.
    let policy = dir.path().join("policy.json");
    let mut policy_json = serde_json::to_value(merit_core::samples::sample_policy()).unwrap();
    policy_json["threshold"] = Value::from(8192);
    std::fs::write(&policy, policy_json.to_string()).unwrap();
    let out = import(&["--json", "--policy"]).arg(&policy).assert().success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["scale_bits"], 14);
    assert_eq!(report["calibration"]["decision"]["threshold"], 8192);
    assert_eq!(report["calibration"]["decision"]["flips"], 0);
    assert!(report["calibration"]["max_abs_error_pct"].as_f64().unwrap() <= 0.5, "{report}");

    // The written model is a merit-model/1 file with the reported commitment, and
    // `merit model score` on round(x · 2^14) agrees with the library.
    let written =
        merit_core::QuantizedModel::from_json(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(
        report["model_commitment"].as_str().unwrap(),
        merit_core::field::fr_to_b256(&written.commitment()).to_string()
    );
    let samples: Value = serde_json::from_str(
        &std::fs::read_to_string(onnx_fixture("mlp_16_32_1.calibration.json")).unwrap(),
    )
    .unwrap();
    let features: Vec<Vec<i16>> = samples["samples"]
        .as_array()
        .unwrap()
        .iter()
        .take(32)
        .map(|x| {
            let x: Vec<f64> = serde_json::from_value(x.clone()).unwrap();
            merit_core::onnx::quantize_features(&x, 14).unwrap()
        })
        .collect();
    let features_path = dir.path().join("features.json");
    std::fs::write(&features_path, serde_json::to_string(&features).unwrap()).unwrap();
    let out = merit().args(["model", "score"]).arg(&model).arg(&features_path).assert().success();
    let scores: Vec<i64> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let expected: Vec<i64> = features.iter().map(|f| written.score(f).unwrap()).collect();
    assert_eq!(scores, expected);

    // Errors: a width other than the expected one, a scale that overflows, an unknown operator.
    std::fs::remove_file(&model).unwrap();
    let err = stderr(&mut import(&["--input-dim", "24"]));
    assert!(err.contains("the model takes 16 input features, but 24 are expected"), "{err}");
    let err = stderr(&mut import(&["--scale", "15"]));
    assert!(err.contains("scale 2^15 overflows") && err.contains("largest scale that fits is 14"));
    let err = stderr(
        merit()
            .args(["model", "import"])
            .arg(onnx_fixture("unsupported_layernorm.onnx"))
            .arg("--calibration")
            .arg(onnx_fixture("unsupported_layernorm.calibration.json"))
            .arg("--out")
            .arg(&model),
    );
    assert!(
        err.contains("unsupported operator LayerNormalization at node \"encoder/norm1\""),
        "{err}"
    );
    assert!(!model.exists(), "a refused import wrote a model");
}

#[test]
fn circuit_stats_reports_a_checked_in_configuration() {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../circuits/configs/n16.json");
    let out =
        merit().args(["circuit", "stats", "--json", "--config"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["name"], "n16");
    assert_eq!(report["stats"]["k"], 16);
    let per_contribution = report["advice_cells_per_contribution"].as_u64().unwrap();
    assert!(per_contribution > 1_000, "{report}");
    let err = stderr(merit().args(["circuit", "stats", "--config", "missing.json"]));
    assert!(err.contains("cannot read") && err.contains("missing.json"), "{err}");
}

/// Proves a golden batch offline with a configuration keyed for its shape, verifies the proof,
/// and refuses a tampered one.
#[test]
fn prove_and_verify_a_golden_batch_offline() {
    let dir = tempfile::tempdir().unwrap();
    let vector = golden("batch_d8_1.json");
    std::fs::write(dir.path().join("model.json"), vector["model"].to_string()).unwrap();
    std::fs::write(dir.path().join("vector.json"), vector.to_string()).unwrap();
    let config = serde_json::json!({
        "name": "golden-d8", "k": 15, "lookup_bits": 14, "max_contributions": 8,
        "max_accounts": 4, "depth": 8, "model": "model.json"
    });
    std::fs::write(dir.path().join("golden-d8.json"), config.to_string()).unwrap();
    let common = |cmd: &mut Command| {
        cmd.arg("--config")
            .arg(dir.path().join("golden-d8.json"))
            .arg("--keys")
            .arg(dir.path().join("keys"))
            .arg("--dev-srs");
    };
    let proof = dir.path().join("proof.json");
    let mut prove = merit();
    prove.args(["prove", "--vector"]).arg(dir.path().join("vector.json")).arg("--out").arg(&proof);
    common(&mut prove);
    let out = prove.output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("DEVELOPMENT SRS"), "the development SRS announces itself: {log}");

    let written: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(written["instances"], vector["public_instances"]);
    let mut verify = merit();
    verify.args(["verify", "--proof"]).arg(&proof);
    common(&mut verify);
    verify.assert().success();

    // One public instance changed: refused, and the error says so.
    let mut tampered = written.clone();
    tampered["instances"][1] = vector["public_instances"][0].clone();
    std::fs::write(&proof, tampered.to_string()).unwrap();
    let mut verify = merit();
    verify.args(["verify", "--proof"]).arg(&proof);
    common(&mut verify);
    let err = stderr(&mut verify);
    assert!(err.contains("invalid proof"), "{err}");

    // Without an SRS the prover refuses to guess.
    let err = stderr(
        merit()
            .args(["verify", "--keys", "k", "--proof"])
            .arg(&proof)
            .arg("--config")
            .arg(dir.path().join("golden-d8.json")),
    );
    assert!(err.contains("--srs"), "{err}");
}
