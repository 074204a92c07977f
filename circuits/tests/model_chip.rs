//! The scoring chip against merit-core's native inference: honest traces pass (MockProver) and
//! give the native score; tampered traces fail.

use halo2_base::{
    gates::{GateInstructions, RangeInstructions},
    AssignedValue,
    QuantumCell::Constant,
};
use merit_circuits::{
    builder::mock_prove,
    model::{infer, load_model, ModelCircuitError, ModelShape},
};
use merit_core::vectors::BatchVector;
use merit_core::{
    field::fr_from_i64,
    model::{Activation, InferenceTrace, QuantizedModel, ScoreRange},
    samples::{random_features, random_layer, SplitMix64},
    Fr,
};

/// 16 → 32 (ReLU) → 1 (identity), scale 2^12, score clamped to [0, 4096].
fn relu_model(seed: u64) -> QuantizedModel {
    let mut rng = SplitMix64::new(seed);
    let layers = vec![
        random_layer(&mut rng, 16, 32, 1 << 11, 1 << 22, Activation::Relu),
        random_layer(&mut rng, 32, 1, 1 << 11, 1 << 21, Activation::Identity),
    ];
    QuantizedModel::new(12, 16, layers, ScoreRange { min: 0, max: 4096 }).unwrap()
}

/// What one inference costs, averaged.
#[derive(Debug, Clone, Copy)]
struct Cost {
    /// Advice cells on the flex gate.
    advice: usize,
    /// Cells copied into lookup columns (range checks, and two per table lookup).
    lookup: usize,
}

/// Proves the inferences of `features` with `traces` (tampered or not) and returns the scores
/// and what the scoring chip used per inference (the feature range checks of the harness not
/// counted). Runs with both digit checks (one per digit, and the joint `y + n` of
/// `lean_range_checks`), which must agree; returns the first's.
fn run(
    model: &QuantizedModel,
    features: &[Vec<i16>],
    traces: &[InferenceTrace],
    satisfied: bool,
) -> (Vec<Fr>, Cost) {
    let (scores, cost) = run_with(model, features, traces, satisfied, false);
    let (joint_scores, joint_cost) = run_with(model, features, traces, satisfied, true);
    assert_eq!(joint_scores, scores);
    // One digit check instead of two per quotient.
    assert!(joint_cost.lookup < cost.lookup, "{joint_cost:?} against {cost:?}");
    (scores, cost)
}

fn run_with(
    model: &QuantizedModel,
    features: &[Vec<i16>],
    traces: &[InferenceTrace],
    satisfied: bool,
    joint_digit_checks: bool,
) -> (Vec<Fr>, Cost) {
    let shape = ModelShape { joint_digit_checks, ..ModelShape::of(model).unwrap() };
    let (out, result) = mock_prove(15, 12, |ctx, range, tables| {
        let assigned = load_model(ctx, range, &shape, model);
        // Tables are loaded once per circuit: load them here so they do not count per inference.
        for layer in &shape.layers {
            if let Some(table) = layer.activation.table(shape.scale_bits) {
                let entries = table.entries().iter().map(|e| fr_from_i64(*e));
                tables.load_table(ctx, layer.activation.code(), entries);
            }
        }
        let mut scores = Vec::new();
        let (mut advice, mut lookup) = (0, 0);
        for (f, t) in features.iter().zip(traces) {
            let inputs: Vec<AssignedValue<Fr>> =
                ctx.assign_witnesses(f.iter().map(|x| fr_from_i64(i64::from(*x))));
            for x in &inputs {
                let shifted = range.gate.add(ctx, *x, Constant(Fr::from(1 << 15)));
                range.range_check(ctx, shifted, 16);
            }
            let before =
                (ctx.advice.len(), range.lookup_manager()[0].total_rows(), tables.lookup_count());
            scores.push(*infer(ctx, range, tables, &shape, &assigned, &inputs, t).value());
            advice += ctx.advice.len() - before.0;
            lookup += range.lookup_manager()[0].total_rows() - before.1;
            lookup += 2 * (tables.lookup_count() - before.2);
        }
        let n = features.len().max(1);
        (scores, Cost { advice: advice / n, lookup: lookup / n })
    });
    assert_eq!(result.is_ok(), satisfied, "joint digit checks {joint_digit_checks}: {result:?}");
    out
}

fn inputs(model: &QuantizedModel, seed: u64, n: usize) -> (Vec<Vec<i16>>, Vec<InferenceTrace>) {
    let mut rng = SplitMix64::new(seed);
    let features: Vec<Vec<i16>> = (0..n).map(|_| random_features(&mut rng, 16, 4096)).collect();
    let traces = features.iter().map(|f| model.infer(f).unwrap()).collect();
    (features, traces)
}

#[test]
fn honest_inferences_give_the_native_scores() {
    let model = relu_model(1);
    let (features, traces) = inputs(&model, 2, 6);
    let (scores, cells) = run(&model, &features, &traces, true);
    let native: Vec<Fr> = traces.iter().map(|t| fr_from_i64(t.score)).collect();
    assert_eq!(scores, native);
    // The clamp is exercised on both sides by these inputs.
    assert!(
        traces.iter().any(|t| t.raw_score < 0 || t.raw_score > 4096),
        "{:?}",
        traces.iter().map(|t| t.raw_score).collect::<Vec<_>>()
    );
    println!("per 16-32-1 ReLU inference: {cells:?}");
    // The target of the cost budget (docs/DESIGN.md): ≤ 2,500 cells per inference.
    assert!(cells.advice + cells.lookup <= 2_500, "{cells:?} per inference");
}

#[test]
fn extreme_features_stay_within_the_range_checks() {
    let model = relu_model(3);
    let features = vec![vec![i16::MAX; 16], vec![i16::MIN; 16], vec![0; 16]];
    let traces: Vec<InferenceTrace> = features.iter().map(|f| model.infer(f).unwrap()).collect();
    let (scores, _) = run(&model, &features, &traces, true);
    assert_eq!(scores, traces.iter().map(|t| fr_from_i64(t.score)).collect::<Vec<_>>());
}

#[test]
fn a_shifted_quotient_fails() {
    let model = relu_model(1);
    let (features, mut traces) = inputs(&model, 4, 1);
    // q + 1 with r - 2^S keeps acc = q·2^S + r but puts r out of range.
    traces[0].layers[0].quotient[5] += 1;
    traces[0].layers[0].remainder[5] -= 1 << 12;
    run(&model, &features, &traces, false);
}

#[test]
fn a_wrong_quotient_fails() {
    let model = relu_model(1);
    let (features, mut traces) = inputs(&model, 5, 1);
    traces[0].layers[1].quotient[0] += 1;
    run(&model, &features, &traces, false);
}

#[test]
fn a_wrong_raw_score_fails_the_clamp() {
    let model = relu_model(1);
    let (features, mut traces) = inputs(&model, 6, 1);
    traces[0].raw_score += 1;
    run(&model, &features, &traces, false);
}

#[test]
fn a_changed_weight_fails() {
    let model = relu_model(1);
    let (features, traces) = inputs(&model, 7, 1);
    let mut layers = model.layers().to_vec();
    layers[0].weights[3][2] += 7;
    let changed = QuantizedModel::new(12, 16, layers, model.score_range()).unwrap();
    // Honest trace of the registered model, proven with other weights.
    run(&changed, &features, &traces, false);
}

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

fn golden_inputs(vector: &BatchVector) -> (Vec<Vec<i16>>, Vec<InferenceTrace>) {
    let features =
        vector.batch.contributions.iter().map(|c| c.contribution.features.clone()).collect();
    let traces = vector.trace.contributions.iter().map(|c| c.inference.clone()).collect();
    (features, traces)
}

#[test]
fn sigmoid_and_tanh_models_give_the_golden_scores() {
    for name in ["batch_d8_1.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        let (features, traces) = golden_inputs(&vector);
        let (scores, cells) = run(&vector.model, &features, &traces, true);
        assert_eq!(
            scores,
            traces.iter().map(|t| fr_from_i64(t.score)).collect::<Vec<_>>(),
            "{name}"
        );
        println!("{name}: {cells:?} per inference");
        assert!(cells.advice + cells.lookup <= 2_500, "{name}: {cells:?} per inference");
    }
}

#[test]
fn a_wrong_table_output_fails() {
    let vector = golden("batch_d8_1.json");
    let (features, mut traces) = golden_inputs(&vector);
    let layer = traces[0].layers.last_mut().unwrap();
    layer.output[0] += 1;
    traces[0].raw_score += 1;
    traces[0].score = traces[0].raw_score.clamp(0, 4096);
    run(&vector.model, &features[..1], &traces[..1], false);
}

#[test]
fn a_wrong_table_index_fails() {
    let vector = golden("batch_d24_tanh.json");
    let (features, mut traces) = golden_inputs(&vector);
    let layer = &mut traces[0].layers[0];
    let index = layer.table_index.as_mut().unwrap();
    index[3] += 1;
    run(&vector.model, &features[..1], &traces[..1], false);
}

#[test]
fn shape_check_accepts_same_shape_and_refuses_others() {
    let shape = ModelShape::of(&relu_model(1)).unwrap();
    shape.check(&relu_model(1)).unwrap();
    let mut rng = SplitMix64::new(9);
    let wider = QuantizedModel::new(
        12,
        16,
        vec![
            random_layer(&mut rng, 16, 33, 1 << 11, 1 << 22, Activation::Relu),
            random_layer(&mut rng, 33, 1, 1 << 11, 1 << 21, Activation::Identity),
        ],
        ScoreRange { min: 0, max: 4096 },
    )
    .unwrap();
    assert!(matches!(shape.check(&wider), Err(ModelCircuitError::Shape { .. })));
}
