//! ONNX import on the fixtures of `fixtures/onnx/` (written by `fixtures/onnx/generate.py`).
#![cfg(feature = "onnx")]

use std::path::PathBuf;

use merit_core::{
    model::{Activation, QuantizedModel},
    onnx::{
        import_onnx, quantize_features, Calibration, ImportError, ImportOptions, ImportedModel,
        ScaleChoice,
    },
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx").join(name)
}

fn calibration(name: &str) -> Calibration {
    Calibration::from_path(&fixture(&format!("{name}.calibration.json"))).unwrap()
}

fn import(name: &str, options: &ImportOptions) -> Result<ImportedModel, ImportError> {
    import_onnx(&fixture(&format!("{name}.onnx")), &calibration(name), options)
}

/// The calibration inputs of the MLP fixtures stay within ±1.9, so the largest scale whose
/// `i16` features hold them is 2^14 (1.9 · 2^15 > 32767); the weights would allow more.
const MLP_SCALE: u32 = 14;
/// Half the score range of a sigmoid output at scale 2^14: a reward for quality ≥ 0.5.
const HALF: i64 = 1 << (MLP_SCALE - 1);

/// The quantized scores are those of `QuantizedModel::score` on `round(x · 2^S)`.
fn check_scores(imported: &ImportedModel, calibration: &Calibration) {
    let s = imported.model.scale_bits();
    let scale = (1u64 << s) as f64;
    let (lo, hi) = imported.report.score_range_float;
    let mut max_error = 0.0f64;
    for x in &calibration.samples {
        let features = quantize_features(x, s).unwrap();
        let score = imported.model.score(&features).unwrap();
        let float = imported.float_model.eval(x).clamp(lo, hi);
        max_error = max_error.max((score as f64 / scale - float).abs());
    }
    let reported = imported.report.calibration.max_abs_error;
    // The report measures against tract's f32 execution, this against the f64 float MLP.
    assert!((max_error - reported).abs() < 1e-4, "{max_error} vs reported {reported}");
}

fn mlp_within_half_a_percent(name: &str, activations: &[Activation], nodes: &[&[&str]]) {
    let imported = import(name, &ImportOptions::default().with_threshold(HALF)).unwrap();
    let report = &imported.report;
    assert_eq!(report.scale_bits, MLP_SCALE, "{name}");
    assert_eq!(report.scale_choice, ScaleChoice::Auto);
    assert_eq!(
        report.layers.iter().map(|l| l.activation).collect::<Vec<_>>(),
        activations,
        "{name}"
    );
    for (layer, expected) in report.layers.iter().zip(nodes) {
        assert_eq!(layer.nodes, *expected, "{name}");
    }
    assert_eq!(report.score_range.min, 0);
    assert_eq!(report.score_range.max, 1 << MLP_SCALE);
    let calibration = &report.calibration;
    // Shown with `--nocapture`: the numbers quoted in the docs.
    eprintln!("{name}: {}", serde_json::to_string(calibration).unwrap());
    assert!(calibration.reference_max_abs_diff < 1e-5, "{name}: {calibration:?}");
    assert!(calibration.max_abs_error_pct <= 0.5, "{name}: {calibration:?}");
    assert!(calibration.mean_abs_error <= calibration.max_abs_error);
    let decision = calibration.decision.as_ref().unwrap();
    assert_eq!(decision.flips, 0, "{name}: {decision:?}");
    assert_eq!(decision.threshold_float, 0.5);
    // Both sides of the threshold are exercised.
    assert!(decision.rewarded_float > 0 && decision.rewarded_float < calibration.samples);
    check_scores(&imported, &self::calibration(name));
    // The written model reads back as the same model.
    let json = serde_json::to_string(&imported.model).unwrap();
    assert_eq!(QuantizedModel::from_json(&json).unwrap(), imported.model);
    assert_eq!(report.model_commitment, imported.model.commitment());
}

#[test]
fn imports_the_16_32_1_gemm_mlp_within_half_a_percent() {
    mlp_within_half_a_percent(
        "mlp_16_32_1",
        &[Activation::Relu, Activation::Sigmoid],
        &[&["fc1", "relu1"], &["fc2", "sigmoid"]],
    );
}

#[test]
fn imports_the_64_64_64_1_matmul_add_mlp_within_half_a_percent() {
    mlp_within_half_a_percent(
        "mlp_64_64_64_1",
        &[Activation::Relu, Activation::Relu, Activation::Sigmoid],
        &[
            &["dense_0/MatMul", "dense_0/BiasAdd", "dense_0/Relu"],
            &["dense_1/MatMul", "dense_1/BiasAdd", "dense_1/Clip"],
            &["dense_2/MatMul", "dense_2/BiasAdd", "dense_2/Sigmoid"],
        ],
    );
}

#[test]
fn imports_tanh_with_folded_alpha_beta_reshape_and_identity() {
    let imported = import("tanh_8_16_1", &ImportOptions::default()).unwrap();
    let report = &imported.report;
    assert_eq!(
        report.layers.iter().map(|l| l.activation).collect::<Vec<_>>(),
        [Activation::Tanh, Activation::Tanh]
    );
    assert_eq!(report.layers[0].nodes, ["dense1", "tanh1"]);
    assert_eq!(report.layers[1].nodes, ["dense2", "dense2_bias", "tanh_out"]);
    let s = report.scale_bits;
    assert_eq!((report.score_range.min, report.score_range.max), (-(1 << s), 1 << s));
    // alpha = 0.5 and beta = 2 were folded: the float MLP matches tract's run of the graph.
    assert!(report.calibration.reference_max_abs_diff < 1e-5, "{report:?}");
    // tanh's table is coarser than sigmoid's (0.2% of its range), two of them in a row.
    assert!(report.calibration.max_abs_error_pct <= 1.0, "{:?}", report.calibration);
    check_scores(&imported, &calibration("tanh_8_16_1"));
}

#[test]
fn unsupported_operator_is_named_with_its_node() {
    let err = import("unsupported_layernorm", &ImportOptions::default()).unwrap_err();
    match &err {
        ImportError::UnsupportedOperator { op, node } => {
            assert_eq!(op, "LayerNormalization");
            assert_eq!(node, "encoder/norm1");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("LayerNormalization") && message.contains("encoder/norm1"),
        "{message}"
    );
}

#[test]
fn clip_with_a_ceiling_and_skip_connections_are_refused() {
    let samples = Calibration { samples: vec![vec![0.1, 0.2, 0.3, 0.4]] };
    let options = ImportOptions::default();
    let err = import_onnx(&fixture("unsupported_clip6.onnx"), &samples, &options).unwrap_err();
    match &err {
        ImportError::UnsupportedAttribute { op, node, reason } => {
            assert_eq!((op.as_str(), node.as_str()), ("Clip", "relu6"));
            assert!(reason.contains("max = Some(6.0)"), "{reason}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let err = import_onnx(&fixture("unsupported_residual.onnx"), &samples, &options).unwrap_err();
    match &err {
        ImportError::UnsupportedGraph { node, reason } => {
            assert_eq!(node, "residual");
            assert!(reason.contains("not a constant"), "{reason}");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn wrong_input_width_is_an_error() {
    // Calibration samples of another model.
    let err = import_onnx(
        &fixture("mlp_64_64_64_1.onnx"),
        &calibration("mlp_16_32_1"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::SampleWidth { sample: 0, expected: 64, actual: 16 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("has 16 values, but the model takes 64"), "{err}");
    // A model of another width than expected (e.g. the policy's feature width).
    let err = import("mlp_16_32_1", &ImportOptions::default().with_input_dim(24)).unwrap_err();
    assert!(matches!(err, ImportError::InputWidth { expected: 24, actual: 16 }), "{err:?}");
    // No samples.
    let err = import_onnx(
        &fixture("mlp_16_32_1.onnx"),
        &Calibration { samples: vec![] },
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::NoCalibration), "{err:?}");
}

#[test]
fn a_forced_scale_that_overflows_is_refused_and_the_largest_fitting_one_named() {
    // First-layer weights up to 3500: 3500 · 2^13 ≥ 2^24, so 12 is the largest scale.
    let err = import("overflow_4_8_1", &ImportOptions::default().with_scale(14)).unwrap_err();
    match &err {
        ImportError::ScaleOverflow { scale_bits: 14, reason, largest_fitting: Some(12) } => {
            assert!(reason.contains("weight"), "{reason}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("the largest scale that fits is 12"), "{err}");
    let auto = import("overflow_4_8_1", &ImportOptions::default()).unwrap();
    assert_eq!(auto.report.scale_bits, 12);
    assert_eq!(auto.report.scale_choice, ScaleChoice::Auto);
    let given = import("overflow_4_8_1", &ImportOptions::default().with_scale(10)).unwrap();
    assert_eq!(given.report.scale_bits, 10);
    assert_eq!(given.report.scale_choice, ScaleChoice::Given);

    // Calibration inputs up to 1.9 do not fit an i16 at 2^15.
    let err = import("mlp_16_32_1", &ImportOptions::default().with_scale(15)).unwrap_err();
    match &err {
        ImportError::ScaleOverflow { scale_bits: 15, reason, largest_fitting: Some(14) } => {
            assert!(reason.contains("does not fit an i16"), "{reason}");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn import_is_deterministic() {
    let options = ImportOptions::default().with_threshold(HALF);
    let a = import("mlp_16_32_1", &options).unwrap();
    let b = import("mlp_16_32_1", &options).unwrap();
    assert_eq!(a.model, b.model);
    assert_eq!(a.report, b.report);
    assert_eq!(a.report.model_commitment, b.report.model_commitment);
    // Pinned: regenerating the fixtures or changing the quantization changes it (then update).
    let hex = serde_json::to_value(&a.report).unwrap()["model_commitment"].clone();
    assert_eq!(hex, serde_json::Value::from(PINNED_16_32_1_COMMITMENT), "{hex}");
    let other = import("mlp_64_64_64_1", &options).unwrap();
    assert_ne!(a.report.model_commitment, other.report.model_commitment);
}

const PINNED_16_32_1_COMMITMENT: &str =
    "0x05c7da9e738ab7bfa3a9ab7acc80ccec860791dbb35bd2470b796ffa12f2ebed";

#[test]
fn missing_and_malformed_files_name_the_file() {
    let err = import_onnx(
        &fixture("does_not_exist.onnx"),
        &calibration("mlp_16_32_1"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("does_not_exist.onnx"), "{err}");
    // A JSON file is not an ONNX model.
    let err = import_onnx(
        &fixture("mlp_16_32_1.calibration.json"),
        &calibration("mlp_16_32_1"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Parse { .. }), "{err:?}");
    // An ONNX file is not a calibration file.
    let err = Calibration::from_path(&fixture("mlp_16_32_1.onnx")).unwrap_err();
    assert!(matches!(err, ImportError::CalibrationFormat { .. }), "{err:?}");
}
