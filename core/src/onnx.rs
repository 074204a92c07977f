//! Import of a float MLP from ONNX, quantized to a [`QuantizedModel`], with an error report.
//!
//! Data scientists export their quality models to ONNX; this module turns such a file into the
//! `merit-model/1` integer model the circuit proves, and measures what the quantization costs on
//! a calibration set. Available with the `onnx` feature.
//!
//! # Supported graphs
//! The file is decoded and parsed by [tract-onnx](https://docs.rs/tract-onnx); the importer then
//! walks tract's view of the ONNX graph node by node. The graph must be a **chain** from its one
//! float input (`[batch, D]` or `[D]`; the batch dimension symbolic or 1) to its one output, each
//! node consuming the previous node's output plus constants (initializers or `Constant` nodes):
//! - `Gemm` (`transA = 0`, `transB` 0 or 1, any `alpha`/`beta`: they are folded into the
//!   weights and biases), or `MatMul` by a constant `[in, out]` matrix, optionally followed by an
//!   `Add` of a constant bias: a dense layer;
//! - after a dense layer, at most one activation: `Relu`, `Sigmoid`, `Tanh`, or `Clip` with
//!   `min = 0` and no `max` (a ReLU); no activation means identity;
//! - `Flatten` (axis 1), `Reshape` that keeps the batch and feature dimensions, `Identity`: no-ops;
//! - `Constant` nodes.
//!
//! The last dense layer has one output. Anything else is refused with
//! [`ImportError::UnsupportedOperator`] (the operator and the node's name) or another variant
//! that names the node. As a guard against misreading a graph, tract also *runs* the original
//! ONNX graph on every calibration sample and the extracted float MLP must agree with it
//! ([`ImportError::ReferenceMismatch`] otherwise); tract's output is the float reference of the
//! report.
//!
//! # Quantization
//! With scale `2^S` (see [`crate::model`] for the integer semantics):
//! - **features**: a float input `x` becomes the `i16` feature `round(x · 2^S)`, so the integer
//!   model sees `x` at scale `2^S`; [`quantize_features`] does it and refuses values that do not
//!   fit an `i16`;
//! - **weights** `round(w · 2^S)`; **biases** `round(b · 2^(2S)) + 2^(S-1)`: the added half unit
//!   turns the model's floor division by `2^S` into rounding to nearest, which halves the error
//!   each layer adds;
//! - activations map one to one (the sigmoid and tanh tables of [`crate::model::ActivationTable`]
//!   take and give values at scale `2^S`);
//! - **score**: the integer score is the float output at scale `2^S`, `≈ round(y · 2^S)`, clamped
//!   to the score range. The default range is `[0, 1]` for a final sigmoid, `[-1, 1]` for a final
//!   tanh, and for a final ReLU or identity the largest value the integer model can reach (so the
//!   clamp never binds); [`ImportOptions::with_score_range`] sets it explicitly (float units). A
//!   policy threshold `T` in score units means `T / 2^S` in float units.
//!
//! `S` is chosen automatically as the largest `S ≤ MAX_SCALE_BITS` for which every weight and
//! bias fits, [`QuantizedModel::new`]'s worst-case accumulator analysis passes and every
//! calibration feature fits an `i16`; or it is given ([`ImportOptions::with_scale`]), and a given
//! scale that does not fit is an [`ImportError::ScaleOverflow`] naming the largest one that does.
//!
//! # Report
//! [`ImportReport`] (serialisable): per layer, the ONNX nodes it came from and the float and
//! quantized ranges of its weights and biases; on the calibration samples, the largest and mean
//! absolute error of the quantized score against the float model (in float units and in % of the
//! score range; the float output is clamped to the score range first), the share of samples whose
//! reward decision (`score ≥ threshold`) flips, and the `model_commitment`.
//!
//! # Calibration samples
//! JSON `{ "samples": [[x_0, x_1, …], …] }`: float inputs of the ONNX model, one list of `D`
//! numbers per sample ([`Calibration`]). They should cover the range of real inputs: the scale is
//! chosen so that they fit.

use std::path::{Path, PathBuf};

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};
use tract_onnx::{
    pb::{self, type_proto, NodeProto},
    prelude::*,
    tract_hir::ops::konst::Const,
};

use crate::model::{
    Activation, DenseLayer, ModelError, QuantizedModel, ScoreRange, MAX_SCALE_BITS, SCORE_BITS,
};

/// Operators the importer understands (others are refused by name).
const SUPPORTED_OPERATORS: &[&str] = &[
    "Gemm", "MatMul", "Add", "Relu", "Sigmoid", "Tanh", "Clip", "Flatten", "Reshape", "Identity",
    "Constant",
];

/// Largest difference accepted between tract's execution of the ONNX graph (f32) and the
/// extracted float MLP (f64): `REFERENCE_TOLERANCE · (1 + |y|)`. f32 rounding over a few small
/// layers stays orders of magnitude below it; a misread graph lands far above it.
const REFERENCE_TOLERANCE: f64 = 1e-3;

/// Weights (`out × in`) and the folded bias of a `Gemm`.
type GemmParameters = (Vec<Vec<f64>>, Option<Vec<f64>>);

/// A boxed source error (tract reports `anyhow` errors).
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an ONNX model cannot be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The ONNX or calibration file cannot be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// tract cannot decode or parse the ONNX file.
    #[error("{} is not an ONNX model tract can parse", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// tract's error.
        #[source]
        source: BoxError,
    },
    /// The calibration file is not valid JSON of the expected shape.
    #[error("{} is not a calibration file (`{{\"samples\": [[float, …], …]}}`)", path.display())]
    CalibrationFormat {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An operator Merit's MLP format cannot express.
    #[error(
        "unsupported operator {op} at node {node:?}: only Gemm, MatMul, Add, Relu, Sigmoid, Tanh, \
         Clip(min 0), Flatten, Reshape, Identity and Constant are supported"
    )]
    UnsupportedOperator {
        /// The ONNX operator type (with its domain if not the default one).
        op: String,
        /// The node's name (or its first output's name if it has none).
        node: String,
    },
    /// A supported operator used with attributes or inputs the importer cannot express exactly.
    #[error("unsupported use of {op} at node {node:?}: {reason}")]
    UnsupportedAttribute {
        /// The ONNX operator type.
        op: String,
        /// The node's name.
        node: String,
        /// What is not supported.
        reason: String,
    },
    /// The graph is not a chain of dense layers and activations.
    #[error("unsupported graph structure at {node:?}: {reason}")]
    UnsupportedGraph {
        /// The node (or graph input/output) concerned.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// The model's input width differs from the expected one.
    #[error("the model takes {actual} input features, but {expected} are expected")]
    InputWidth {
        /// The expected width (from [`ImportOptions::with_input_dim`]).
        expected: usize,
        /// The model's width.
        actual: usize,
    },
    /// A calibration sample has the wrong width.
    #[error("calibration sample #{sample} has {actual} values, but the model takes {expected}")]
    SampleWidth {
        /// The sample index.
        sample: usize,
        /// The model's input width.
        expected: usize,
        /// The sample's width.
        actual: usize,
    },
    /// The calibration set is empty.
    #[error("the calibration set has no samples")]
    NoCalibration,
    /// A weight, bias or calibration value is NaN or infinite.
    #[error("{what} is not a finite number")]
    NonFinite {
        /// Which value.
        what: String,
    },
    /// A calibration value does not fit an `i16` feature at the given scale.
    #[error(
        "calibration sample #{sample}, value #{index} = {value} does not fit an i16 feature at \
         scale 2^{scale_bits} (|x| must stay below {limit})"
    )]
    FeatureRange {
        /// The sample index.
        sample: usize,
        /// The position in the sample.
        index: usize,
        /// The float value.
        value: f64,
        /// The scale tried.
        scale_bits: u32,
        /// The largest magnitude that fits at that scale.
        limit: f64,
    },
    /// The given scale does not fit the model.
    #[error("scale 2^{scale_bits} overflows: {reason}; {}", match largest_fitting {
        Some(s) => format!(
            "the largest scale that fits is {s} (leave the scale unset to choose it)"
        ),
        None => "no scale fits".to_owned(),
    })]
    ScaleOverflow {
        /// The scale asked for.
        scale_bits: u32,
        /// Why it does not fit.
        reason: String,
        /// The largest scale that fits, if any.
        largest_fitting: Option<u32>,
    },
    /// No scale in `1..=MAX_SCALE_BITS` fits the model and the calibration set.
    #[error("no scale in 1..={MAX_SCALE_BITS} fits: at scale 1, {reason}")]
    NoScale {
        /// Why the smallest scale does not fit.
        reason: String,
    },
    /// The score range is empty, not finite or out of bounds.
    #[error("invalid score range [{min}, {max}] (float units)")]
    ScoreRange {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// tract cannot run the ONNX graph on the calibration samples.
    #[error("tract cannot run the ONNX graph on the calibration samples")]
    Reference {
        /// tract's error.
        #[source]
        source: BoxError,
    },
    /// The extracted float MLP disagrees with tract's execution of the ONNX graph.
    #[error(
        "the extracted MLP gives {extracted} on calibration sample #{sample}, but the ONNX graph \
         gives {reference}: the graph was not understood"
    )]
    ReferenceMismatch {
        /// The sample index.
        sample: usize,
        /// The extracted MLP's output.
        extracted: f64,
        /// tract's output.
        reference: f64,
    },
}

/// Result of the ONNX import.
pub type ImportResult<T> = Result<T, ImportError>;

fn boxed(err: TractError) -> BoxError {
    err.into()
}

/// One dense layer of the float MLP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloatLayer {
    /// `weights[j][i]`: from input `i` to output `j`.
    pub weights: Vec<Vec<f64>>,
    /// One bias per output.
    pub biases: Vec<f64>,
    /// Activation after the affine map.
    pub activation: Activation,
    /// The ONNX nodes this layer was read from.
    pub nodes: Vec<String>,
}

impl FloatLayer {
    fn apply(&self, input: &[f64]) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.biases)
            .map(|(row, b)| {
                let z = row.iter().zip(input).map(|(w, x)| w * x).sum::<f64>() + b;
                match self.activation {
                    Activation::Identity => z,
                    Activation::Relu => z.max(0.0),
                    Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
                    Activation::Tanh => z.tanh(),
                }
            })
            .collect()
    }
}

/// The float MLP read from an ONNX graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloatMlp {
    /// Number of inputs.
    pub input_dim: usize,
    /// The layers, first to last; the last has one output.
    pub layers: Vec<FloatLayer>,
}

impl FloatMlp {
    /// The model's output for a float input of width [`FloatMlp::input_dim`].
    pub fn eval(&self, input: &[f64]) -> f64 {
        let mut x = input.to_vec();
        for layer in &self.layers {
            x = layer.apply(&x);
        }
        x.first().copied().unwrap_or(f64::NAN)
    }

    /// The default score range (float units) for the final activation: `[0, 1]` for sigmoid,
    /// `[-1, 1]` for tanh, `None` (the reachable range) otherwise.
    pub fn natural_score_range(&self) -> Option<(f64, f64)> {
        match self.layers.last().map(|l| l.activation) {
            Some(Activation::Sigmoid) => Some((0.0, 1.0)),
            Some(Activation::Tanh) => Some((-1.0, 1.0)),
            _ => None,
        }
    }
}

/// Calibration samples: float inputs of the ONNX model.
///
/// JSON: `{ "samples": [[x_0, x_1, …], …] }`, one list of `D` numbers per sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// One float input vector per sample.
    pub samples: Vec<Vec<f64>>,
}

impl Calibration {
    /// Reads a calibration file.
    pub fn from_path(path: &Path) -> ImportResult<Self> {
        let bytes = std::fs::read(path)
            .map_err(|source| ImportError::Io { path: path.to_owned(), source })?;
        serde_json::from_slice(&bytes)
            .map_err(|source| ImportError::CalibrationFormat { path: path.to_owned(), source })
    }
}

/// How to import: scale, decision threshold, expected width, score range. All optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    scale_bits: Option<u32>,
    threshold: Option<i64>,
    input_dim: Option<usize>,
    score_range: Option<(f64, f64)>,
}

impl ImportOptions {
    /// Uses this scale instead of choosing the largest that fits.
    pub fn with_scale(mut self, scale_bits: u32) -> Self {
        self.scale_bits = Some(scale_bits);
        self
    }

    /// Reports decision flips at this policy threshold (score units: float · 2^S).
    pub fn with_threshold(mut self, threshold: i64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Refuses a model whose input width is not `input_dim`.
    pub fn with_input_dim(mut self, input_dim: usize) -> Self {
        self.input_dim = Some(input_dim);
        self
    }

    /// Clamps the score to `[min, max]` (float units) instead of the default range.
    pub fn with_score_range(mut self, min: f64, max: f64) -> Self {
        self.score_range = Some((min, max));
        self
    }
}

/// Float and quantized extremes of a layer's weights or biases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParameterRange {
    /// Smallest float value.
    pub float_min: f64,
    /// Largest float value.
    pub float_max: f64,
    /// Smallest quantized value (as stored in the model).
    pub quantized_min: i64,
    /// Largest quantized value (as stored in the model).
    pub quantized_max: i64,
}

impl ParameterRange {
    fn of<'a>(
        float: impl Iterator<Item = &'a f64> + Clone,
        quantized: impl Iterator<Item = &'a i64> + Clone,
    ) -> Self {
        Self {
            float_min: float.clone().copied().fold(f64::INFINITY, f64::min),
            float_max: float.copied().fold(f64::NEG_INFINITY, f64::max),
            quantized_min: quantized.clone().copied().min().unwrap_or(0),
            quantized_max: quantized.copied().max().unwrap_or(0),
        }
    }
}

/// One layer of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// The ONNX nodes of the layer.
    pub nodes: Vec<String>,
    /// Number of inputs.
    pub input_dim: usize,
    /// Number of outputs.
    pub output_dim: usize,
    /// The activation.
    pub activation: Activation,
    /// Weights: float and quantized (`round(w · 2^S)`) extremes.
    pub weights: ParameterRange,
    /// Biases: float and quantized (`round(b · 2^(2S)) + 2^(S-1)`) extremes.
    pub biases: ParameterRange,
}

/// The reward decision at a threshold, float model against quantized model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReport {
    /// The threshold in score units.
    pub threshold: i64,
    /// The threshold in float units, `threshold / 2^S`.
    pub threshold_float: f64,
    /// Samples the float model rewards (`y ≥ threshold_float`).
    pub rewarded_float: usize,
    /// Samples the quantized model rewards (`score ≥ threshold`).
    pub rewarded_quantized: usize,
    /// Samples whose decision differs.
    pub flips: usize,
    /// `flips / samples`.
    pub flip_share: f64,
    /// Indices of the samples whose decision differs.
    pub flipped_samples: Vec<usize>,
}

/// The quantized model against the float model on the calibration samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Number of samples.
    pub samples: usize,
    /// Largest `|x|` over all sample values (float units).
    pub input_abs_max: f64,
    /// Largest `|score / 2^S - clamp(y)|`, float units.
    pub max_abs_error: f64,
    /// Mean of the same, float units.
    pub mean_abs_error: f64,
    /// `max_abs_error` in % of the score range's width.
    pub max_abs_error_pct: f64,
    /// `mean_abs_error` in % of the score range's width.
    pub mean_abs_error_pct: f64,
    /// The sample with the largest error.
    pub worst_sample: usize,
    /// Largest difference between tract's execution of the ONNX graph and the extracted float
    /// MLP (a check that the graph was read right).
    pub reference_max_abs_diff: f64,
    /// Decision flips, when a threshold was given.
    pub decision: Option<DecisionReport>,
}

/// How the scale was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleChoice {
    /// The largest scale that fits.
    Auto,
    /// Given by the caller.
    Given,
}

/// What the import did and what the quantization costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// Number of input features `D`.
    pub input_dim: usize,
    /// `S`.
    pub scale_bits: u32,
    /// Whether `S` was chosen or given.
    pub scale_choice: ScaleChoice,
    /// Per layer, first to last.
    pub layers: Vec<LayerReport>,
    /// The integer score range.
    pub score_range: ScoreRange,
    /// The score range in float units: `[min / 2^S, max / 2^S]`.
    pub score_range_float: (f64, f64),
    /// Errors on the calibration set.
    pub calibration: CalibrationReport,
    /// `model_commitment` of the quantized model.
    #[serde(with = "crate::field::serde_fr")]
    pub model_commitment: Fr,
}

/// The result of an import: the quantized model, the float model it came from, the report.
#[derive(Debug, Clone)]
pub struct ImportedModel {
    /// The integer model (write it with `serde_json`: `merit-model/1`).
    pub model: QuantizedModel,
    /// The float MLP read from the ONNX graph.
    pub float_model: FloatMlp,
    /// The report.
    pub report: ImportReport,
}

/// Imports `path`, quantizes it and measures it on `calibration`.
pub fn import_onnx(
    path: &Path,
    calibration: &Calibration,
    options: &ImportOptions,
) -> ImportResult<ImportedModel> {
    let onnx = OnnxMlp::load(path)?;
    let float_model = onnx.mlp.clone();
    if let Some(expected) = options.input_dim {
        if expected != float_model.input_dim {
            return Err(ImportError::InputWidth { expected, actual: float_model.input_dim });
        }
    }
    check_calibration(&float_model, calibration)?;
    let reference = onnx.reference_outputs(calibration)?;
    let mut reference_max_abs_diff = 0.0f64;
    for (sample, (x, &y)) in calibration.samples.iter().zip(&reference).enumerate() {
        let extracted = float_model.eval(x);
        let diff = (extracted - y).abs();
        if diff.is_nan() || diff > REFERENCE_TOLERANCE * (1.0 + y.abs()) {
            return Err(ImportError::ReferenceMismatch { sample, extracted, reference: y });
        }
        reference_max_abs_diff = reference_max_abs_diff.max(diff);
    }

    let score_range = match options.score_range {
        Some((min, max)) => {
            if !(min.is_finite() && max.is_finite() && min <= max) {
                return Err(ImportError::ScoreRange { min, max });
            }
            Some((min, max))
        }
        None => float_model.natural_score_range(),
    };
    let fit = |scale_bits| fit_scale(&float_model, calibration, scale_bits, score_range);
    let (model, scale_choice) = match options.scale_bits {
        Some(scale_bits) => match fit(scale_bits) {
            Ok(model) => (model, ScaleChoice::Given),
            Err(reason) => {
                let largest_fitting = (1..=MAX_SCALE_BITS).rev().find(|&s| fit(s).is_ok());
                return Err(ImportError::ScaleOverflow { scale_bits, reason, largest_fitting });
            }
        },
        None => {
            let mut last_reason = String::new();
            let mut chosen = None;
            for scale_bits in (1..=MAX_SCALE_BITS).rev() {
                match fit(scale_bits) {
                    Ok(model) => {
                        chosen = Some(model);
                        break;
                    }
                    Err(reason) => last_reason = reason,
                }
            }
            match chosen {
                Some(model) => (model, ScaleChoice::Auto),
                None => return Err(ImportError::NoScale { reason: last_reason }),
            }
        }
    };
    let report = report(&float_model, &model, scale_choice, calibration, &reference, options)?;
    let report = ImportReport {
        calibration: CalibrationReport { reference_max_abs_diff, ..report.calibration },
        ..report
    };
    Ok(ImportedModel { model, float_model, report })
}

/// `round(x · 2^S)` for each input, or `None` if one is not finite or does not fit an `i16`.
pub fn quantize_features(input: &[f64], scale_bits: u32) -> Option<Vec<i16>> {
    let scale = (1u64 << scale_bits) as f64;
    input
        .iter()
        .map(|x| {
            let v = (x * scale).round();
            (v.is_finite() && v >= f64::from(i16::MIN) && v <= f64::from(i16::MAX))
                .then_some(v as i16)
        })
        .collect()
}

/// Quantizes `float` at scale `2^scale_bits` (see the module docs); `score_range` in float
/// units, `None` for the reachable range.
pub fn quantize(
    float: &FloatMlp,
    scale_bits: u32,
    score_range: Option<(f64, f64)>,
) -> Result<QuantizedModel, ModelError> {
    if !(1..=MAX_SCALE_BITS).contains(&scale_bits) {
        return Err(ModelError::Scale(scale_bits));
    }
    let scale = (1u64 << scale_bits) as f64;
    let half = 1i64 << (scale_bits - 1);
    // `as i64` saturates, and a saturated value fails `QuantizedModel::new`'s range checks.
    let layers: Vec<DenseLayer> = float
        .layers
        .iter()
        .map(|layer| DenseLayer {
            weights: layer
                .weights
                .iter()
                .map(|row| row.iter().map(|w| (w * scale).round() as i64).collect())
                .collect(),
            biases: layer
                .biases
                .iter()
                .map(|b| ((b * scale * scale).round() as i64).saturating_add(half))
                .collect(),
            activation: layer.activation,
        })
        .collect();
    let limit = 1i64 << SCORE_BITS;
    let range = match score_range {
        Some((min, max)) => ScoreRange {
            min: ((min * scale).round() as i64).max(-limit - 1),
            max: ((max * scale).round() as i64).min(limit + 1),
        },
        None => {
            let open = ScoreRange { min: -limit, max: limit };
            let probe = QuantizedModel::new(scale_bits, float.input_dim, layers.clone(), open)?;
            let reach = probe.layer_bounds().last().map_or(limit as u64, |b| b.output_max);
            let reach = reach.min(limit as u64) as i64;
            match float.layers.last().map(|l| l.activation) {
                Some(Activation::Relu) => ScoreRange { min: 0, max: reach },
                _ => ScoreRange { min: -reach, max: reach },
            }
        }
    };
    QuantizedModel::new(scale_bits, float.input_dim, layers, range)
}

/// The quantized model at `scale_bits` if it fits the model bounds and the calibration inputs,
/// else why not.
fn fit_scale(
    float: &FloatMlp,
    calibration: &Calibration,
    scale_bits: u32,
    score_range: Option<(f64, f64)>,
) -> Result<QuantizedModel, String> {
    if let Err(err) = features(calibration, scale_bits) {
        return Err(err.to_string());
    }
    quantize(float, scale_bits, score_range).map_err(|err| err.to_string())
}

/// The quantized features of every calibration sample.
fn features(calibration: &Calibration, scale_bits: u32) -> ImportResult<Vec<Vec<i16>>> {
    let scale = (1u64 << scale_bits) as f64;
    let limit = (f64::from(i16::MAX) + 0.5) / scale;
    calibration
        .samples
        .iter()
        .enumerate()
        .map(|(sample, x)| {
            quantize_features(x, scale_bits).ok_or_else(|| {
                let (index, value) = x
                    .iter()
                    .copied()
                    .enumerate()
                    .find(|(_, v)| quantize_features(&[*v], scale_bits).is_none())
                    .unwrap_or((0, f64::NAN));
                ImportError::FeatureRange { sample, index, value, scale_bits, limit }
            })
        })
        .collect()
}

fn check_calibration(float: &FloatMlp, calibration: &Calibration) -> ImportResult<()> {
    if calibration.samples.is_empty() {
        return Err(ImportError::NoCalibration);
    }
    for (sample, x) in calibration.samples.iter().enumerate() {
        if x.len() != float.input_dim {
            return Err(ImportError::SampleWidth {
                sample,
                expected: float.input_dim,
                actual: x.len(),
            });
        }
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(ImportError::NonFinite {
                what: format!("calibration sample #{sample}, value #{index}"),
            });
        }
    }
    Ok(())
}

fn report(
    float: &FloatMlp,
    model: &QuantizedModel,
    scale_choice: ScaleChoice,
    calibration: &Calibration,
    reference: &[f64],
    options: &ImportOptions,
) -> ImportResult<ImportReport> {
    let scale_bits = model.scale_bits();
    let scale = (1u64 << scale_bits) as f64;
    let range = model.score_range();
    let (lo, hi) = (range.min as f64 / scale, range.max as f64 / scale);
    let width = (hi - lo).max(f64::MIN_POSITIVE);
    let features = features(calibration, scale_bits)?;
    let mut max_abs_error = 0.0f64;
    let mut sum_abs_error = 0.0;
    let mut worst_sample = 0;
    let mut scores = Vec::with_capacity(features.len());
    for (sample, (f, &y)) in features.iter().zip(reference).enumerate() {
        let score = model.score(f).map_err(|err| ImportError::SampleWidth {
            sample,
            expected: err.expected,
            actual: err.actual,
        })?;
        let error = (score as f64 / scale - y.clamp(lo, hi)).abs();
        if error > max_abs_error {
            max_abs_error = error;
            worst_sample = sample;
        }
        sum_abs_error += error;
        scores.push(score);
    }
    let samples = features.len();
    let mean_abs_error = sum_abs_error / samples as f64;
    let decision = options.threshold.map(|threshold| {
        let threshold_float = threshold as f64 / scale;
        let float_rewarded: Vec<bool> = reference.iter().map(|&y| y >= threshold_float).collect();
        let quantized_rewarded: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
        let flipped_samples: Vec<usize> =
            (0..samples).filter(|&i| float_rewarded[i] != quantized_rewarded[i]).collect();
        DecisionReport {
            threshold,
            threshold_float,
            rewarded_float: float_rewarded.iter().filter(|r| **r).count(),
            rewarded_quantized: quantized_rewarded.iter().filter(|r| **r).count(),
            flips: flipped_samples.len(),
            flip_share: flipped_samples.len() as f64 / samples as f64,
            flipped_samples,
        }
    });
    let layers = float
        .layers
        .iter()
        .zip(model.layers())
        .map(|(f, q)| LayerReport {
            nodes: f.nodes.clone(),
            input_dim: q.input_dim(),
            output_dim: q.output_dim(),
            activation: q.activation,
            weights: ParameterRange::of(f.weights.iter().flatten(), q.weights.iter().flatten()),
            biases: ParameterRange::of(f.biases.iter(), q.biases.iter()),
        })
        .collect();
    let input_abs_max = calibration.samples.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
    Ok(ImportReport {
        input_dim: model.input_dim(),
        scale_bits,
        scale_choice,
        layers,
        score_range: range,
        score_range_float: (lo, hi),
        calibration: CalibrationReport {
            samples,
            input_abs_max,
            max_abs_error,
            mean_abs_error,
            max_abs_error_pct: 100.0 * max_abs_error / width,
            mean_abs_error_pct: 100.0 * mean_abs_error / width,
            worst_sample,
            reference_max_abs_diff: 0.0,
            decision,
        },
        model_commitment: model.commitment(),
    })
}

/// An ONNX file read by tract: the extracted float MLP and tract's own model of the graph.
#[derive(Debug)]
struct OnnxMlp {
    path: PathBuf,
    mlp: FloatMlp,
    tract: InferenceModel,
    input_rank: usize,
    input_type: DatumType,
}

/// The running tensor of the chain.
#[derive(Debug)]
struct Cursor {
    /// Its ONNX name.
    name: String,
    /// Its rank (1 or 2).
    rank: usize,
    /// Its feature width, when known.
    width: Option<usize>,
}

/// A dense layer being read.
#[derive(Debug)]
struct Pending {
    weights: Vec<Vec<f64>>,
    biases: Vec<f64>,
    activation: Option<Activation>,
    nodes: Vec<String>,
}

impl Pending {
    fn finish(self) -> FloatLayer {
        FloatLayer {
            weights: self.weights,
            biases: self.biases,
            activation: self.activation.unwrap_or(Activation::Identity),
            nodes: self.nodes,
        }
    }
}

/// A constant tensor as f64 values with its shape.
#[derive(Debug)]
struct Constant {
    shape: Vec<usize>,
    values: Vec<f64>,
}

fn node_name(node: &NodeProto) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else {
        node.output.first().cloned().unwrap_or_else(|| node.op_type.clone())
    }
}

impl OnnxMlp {
    fn load(path: &Path) -> ImportResult<Self> {
        let bytes = std::fs::read(path)
            .map_err(|source| ImportError::Io { path: path.to_owned(), source })?;
        let parse_error =
            |err: TractError| ImportError::Parse { path: path.to_owned(), source: boxed(err) };
        let onnx = onnx().with_ignore_output_shapes(true);
        let proto = onnx.proto_model_for_read(&mut bytes.as_slice()).map_err(parse_error)?;
        let graph = proto.graph.as_ref().ok_or_else(|| ImportError::UnsupportedGraph {
            node: path.display().to_string(),
            reason: "the file has no graph".to_owned(),
        })?;
        // Refuse unknown operators by name before tract builds its graph.
        for node in &graph.node {
            let default_domain = node.domain.is_empty() || node.domain == "ai.onnx";
            if !default_domain || !SUPPORTED_OPERATORS.contains(&node.op_type.as_str()) {
                let op = if default_domain {
                    node.op_type.clone()
                } else {
                    format!("{}::{}", node.domain, node.op_type)
                };
                return Err(ImportError::UnsupportedOperator { op, node: node_name(node) });
            }
        }
        let dir = path.parent().and_then(Path::to_str);
        let parsed = onnx.parse(&proto, dir).map_err(parse_error)?;
        if let Some(name) = parsed.unresolved_inputs.first() {
            return Err(ImportError::UnsupportedGraph {
                node: name.clone(),
                reason: "a node reads a tensor that nothing defines".to_owned(),
            });
        }
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(1, |o| o.version);
        let reader = GraphReader { graph, parsed: &parsed, opset };
        let (mlp, input_rank, input_type) = reader.read()?;
        Ok(Self { path: path.to_owned(), mlp, tract: parsed.model, input_rank, input_type })
    }

    /// tract's output of the original graph for every calibration sample.
    fn reference_outputs(&self, calibration: &Calibration) -> ImportResult<Vec<f64>> {
        let reference = |err: TractError| ImportError::Reference {
            source: boxed(err.context(format!("running {}", self.path.display()))),
        };
        let d = self.mlp.input_dim;
        let shape: Vec<usize> = if self.input_rank == 1 { vec![d] } else { vec![1, d] };
        let plan = self
            .tract
            .clone()
            .with_input_fact(0, InferenceFact::dt_shape(self.input_type, shape.clone()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(reference)?;
        calibration
            .samples
            .iter()
            .map(|x| {
                let input = match self.input_type {
                    DatumType::F64 => Tensor::from_shape(&shape, x),
                    _ => Tensor::from_shape(
                        &shape,
                        &x.iter().map(|v| *v as f32).collect::<Vec<f32>>(),
                    ),
                }
                .map_err(reference)?;
                let out = plan.run(tvec!(input.into_tvalue())).map_err(reference)?;
                let out = out
                    .first()
                    .ok_or_else(|| reference(TractError::msg("the graph has no output")))?
                    .cast_to::<f64>()
                    .map_err(reference)?
                    .into_owned();
                let view = out.to_plain_array_view::<f64>().map_err(reference)?;
                match view.len() {
                    1 => Ok(view.iter().copied().next().unwrap_or(f64::NAN)),
                    n => Err(reference(TractError::msg(format!(
                        "the graph gives {n} values per sample, not one"
                    )))),
                }
            })
            .collect()
    }
}

/// Walks the ONNX graph (as parsed by tract) and reads the MLP.
struct GraphReader<'a> {
    graph: &'a pb::GraphProto,
    parsed: &'a tract_onnx::model::ParseResult,
    opset: i64,
}

impl GraphReader<'_> {
    /// The constant named `name`, if it is one (an initializer or a `Constant` node's output).
    fn constant(&self, name: &str) -> ImportResult<Option<Constant>> {
        let Some(outlet) = self.parsed.outlets_by_name.get(name) else { return Ok(None) };
        let node = self.parsed.model.node(outlet.node);
        let Some(konst) = node.op_as::<Const>() else { return Ok(None) };
        let tensor = konst.val();
        let values = tensor
            .cast_to::<f64>()
            .and_then(|t| Ok(t.to_plain_array_view::<f64>()?.iter().copied().collect::<Vec<_>>()))
            .map_err(|_| ImportError::UnsupportedGraph {
                node: name.to_owned(),
                reason: format!("constant of type {:?} is not numeric", tensor.datum_type()),
            })?;
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ImportError::NonFinite {
                what: format!("constant {name:?}, value #{index}"),
            });
        }
        Ok(Some(Constant { shape: tensor.shape().to_vec(), values }))
    }

    fn read(&self) -> ImportResult<(FloatMlp, usize, DatumType)> {
        let initializers: Vec<&str> = self.graph.initializer.iter().map(|t| &*t.name).collect();
        let inputs: Vec<&pb::ValueInfoProto> =
            self.graph.input.iter().filter(|i| !initializers.contains(&&*i.name)).collect();
        let [input] = inputs.as_slice() else {
            return Err(ImportError::UnsupportedGraph {
                node: self.graph.name.clone(),
                reason: format!("the graph has {} inputs; a quality model has one", inputs.len()),
            });
        };
        let [output] = self.graph.output.as_slice() else {
            return Err(ImportError::UnsupportedGraph {
                node: self.graph.name.clone(),
                reason: format!(
                    "the graph has {} outputs; a quality model has one",
                    self.graph.output.len()
                ),
            });
        };
        let (mut cursor, input_type) = self.input_cursor(input)?;
        let declared_width = cursor.width;
        let input_rank = cursor.rank;
        let mut layers: Vec<FloatLayer> = Vec::new();
        let mut pending: Option<Pending> = None;
        for node in &self.graph.node {
            let name = node_name(node);
            let op = node.op_type.as_str();
            if op == "Constant" {
                continue;
            }
            let unsupported = |reason: String| ImportError::UnsupportedAttribute {
                op: op.to_owned(),
                node: name.clone(),
                reason,
            };
            let graph_error =
                |reason: String| ImportError::UnsupportedGraph { node: name.clone(), reason };
            // Every node reads the running tensor first, and constants after it.
            let mut constants = Vec::new();
            for (index, input) in node.input.iter().enumerate() {
                if index == 0 {
                    if *input != cursor.name {
                        return Err(graph_error(format!(
                            "its first input {input:?} is not the output of the previous layer \
                             ({:?}): only a chain of layers is supported",
                            cursor.name
                        )));
                    }
                } else if input.is_empty() {
                    constants.push(None);
                } else {
                    match self.constant(input)? {
                        Some(c) => constants.push(Some(c)),
                        None => {
                            return Err(graph_error(format!(
                                "input {input:?} is not a constant: only a chain of layers with \
                                 constant weights is supported"
                            )))
                        }
                    }
                }
            }
            let [output_name] = node.output.as_slice() else {
                return Err(graph_error(format!("{} outputs, expected one", node.output.len())));
            };
            let constant = |i: usize| constants.get(i).and_then(Option::as_ref);
            match op {
                "Gemm" | "MatMul" => {
                    let (weights, bias) = if op == "Gemm" {
                        self.gemm(node, &cursor, constant(0), constant(1)).map_err(unsupported)?
                    } else {
                        (matmul_weights(&cursor, constant(0)).map_err(unsupported)?, None)
                    };
                    if let Some(p) = pending.take() {
                        layers.push(p.finish());
                    }
                    let outputs = weights.len();
                    cursor.width = Some(outputs);
                    cursor.rank = if op == "Gemm" { 2 } else { cursor.rank };
                    pending = Some(Pending {
                        weights,
                        biases: bias.unwrap_or_else(|| vec![0.0; outputs]),
                        activation: None,
                        nodes: vec![name.clone()],
                    });
                }
                "Add" => {
                    let p = match pending.as_mut() {
                        Some(p) if p.activation.is_none() => p,
                        _ => {
                            return Err(graph_error(
                                "Add must follow a MatMul or Gemm (a bias)".to_owned(),
                            ))
                        }
                    };
                    let c = constant(0).ok_or_else(|| unsupported("no bias".to_owned()))?;
                    let bias = broadcast_bias(c, p.biases.len()).map_err(unsupported)?;
                    for (b, extra) in p.biases.iter_mut().zip(bias) {
                        *b += extra;
                    }
                    cursor.rank = cursor.rank.max(c.shape.len());
                    p.nodes.push(name.clone());
                }
                "Relu" | "Sigmoid" | "Tanh" | "Clip" => {
                    let activation = match op {
                        "Relu" => Activation::Relu,
                        "Sigmoid" => Activation::Sigmoid,
                        "Tanh" => Activation::Tanh,
                        _ => {
                            self.clip_is_relu(node, constant(0), constant(1))
                                .map_err(unsupported)?;
                            Activation::Relu
                        }
                    };
                    match pending.as_mut() {
                        Some(p) if p.activation.is_none() => {
                            p.activation = Some(activation);
                            p.nodes.push(name.clone());
                        }
                        _ => {
                            return Err(graph_error(format!(
                                "{op} must follow a dense layer (Gemm, or MatMul [+ Add]) that has \
                                 no activation yet"
                            )))
                        }
                    }
                }
                "Flatten" => {
                    let axis = node.get_attr_opt::<i64>("axis").ok().flatten().unwrap_or(1);
                    let keeps = match cursor.rank {
                        2 => axis == 1 || axis == -1,
                        _ => axis == 0 || axis == -1,
                    };
                    if !keeps {
                        return Err(unsupported(format!(
                            "axis {axis} on a rank-{} tensor does not keep [batch, features]",
                            cursor.rank
                        )));
                    }
                    cursor.rank = 2;
                }
                "Reshape" => {
                    let shape = constant(0).ok_or_else(|| {
                        unsupported("the target shape is not a constant".to_owned())
                    })?;
                    cursor.rank = reshape_rank(&cursor, &shape.values).map_err(unsupported)?;
                }
                "Identity" => {}
                _ => {
                    return Err(ImportError::UnsupportedOperator {
                        op: op.to_owned(),
                        node: name.clone(),
                    })
                }
            }
            cursor.name.clone_from(output_name);
        }
        if let Some(p) = pending.take() {
            layers.push(p.finish());
        }
        if cursor.name != output.name {
            return Err(ImportError::UnsupportedGraph {
                node: output.name.clone(),
                reason: format!(
                    "the graph output is not the end of the chain of layers ({:?})",
                    cursor.name
                ),
            });
        }
        let Some(first) = layers.first() else {
            return Err(ImportError::UnsupportedGraph {
                node: output.name.clone(),
                reason: "the graph has no dense layer (Gemm or MatMul)".to_owned(),
            });
        };
        let input_dim = first.weights.first().map_or(0, Vec::len);
        if declared_width.is_some_and(|w| w != input_dim) {
            return Err(ImportError::UnsupportedGraph {
                node: input.name.clone(),
                reason: format!(
                    "the input is declared {} wide but the first layer takes {input_dim}",
                    declared_width.unwrap_or(0)
                ),
            });
        }
        let outputs = layers.last().map_or(0, |l| l.weights.len());
        if outputs != 1 {
            return Err(ImportError::UnsupportedGraph {
                node: output.name.clone(),
                reason: format!("the model has {outputs} outputs; a quality model has one"),
            });
        }
        Ok((FloatMlp { input_dim, layers }, input_rank, input_type))
    }

    fn input_cursor(&self, input: &pb::ValueInfoProto) -> ImportResult<(Cursor, DatumType)> {
        let graph_error =
            |reason: String| ImportError::UnsupportedGraph { node: input.name.clone(), reason };
        let Some(type_proto::Value::TensorType(tensor)) =
            input.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(graph_error("the input has no tensor type".to_owned()));
        };
        let input_type = match tensor.elem_type {
            1 => DatumType::F32,
            11 => DatumType::F64,
            other => {
                return Err(graph_error(format!(
                    "the input's element type (ONNX code {other}) is not float or double"
                )))
            }
        };
        let dims: Vec<Option<i64>> = tensor
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![None, None]);
        let (rank, width) = match dims.as_slice() {
            [width] => (1, *width),
            [batch, width] => {
                if batch.is_some_and(|b| b != 1) {
                    return Err(graph_error(format!(
                        "the batch dimension is fixed to {}; it must be symbolic or 1",
                        batch.unwrap_or(0)
                    )));
                }
                (2, *width)
            }
            _ => {
                return Err(graph_error(format!(
                    "the input has rank {}; expected [batch, features] or [features]",
                    dims.len()
                )))
            }
        };
        let width = width.map(|w| usize::try_from(w).unwrap_or(0));
        Ok((Cursor { name: input.name.clone(), rank, width }, input_type))
    }

    /// Weights (`out × in`) and folded bias of a `Gemm`.
    fn gemm(
        &self,
        node: &NodeProto,
        cursor: &Cursor,
        b: Option<&Constant>,
        c: Option<&Constant>,
    ) -> Result<GemmParameters, String> {
        let attr_i = |name: &str, default: i64| {
            node.get_attr_opt::<i64>(name).map(|v| v.unwrap_or(default)).map_err(|e| e.to_string())
        };
        let attr_f = |name: &str| {
            node.get_attr_opt::<f32>(name)
                .map(|v| f64::from(v.unwrap_or(1.0)))
                .map_err(|e| e.to_string())
        };
        if attr_i("transA", 0)? != 0 {
            return Err("transA = 1 (the features must be the rows of A)".to_owned());
        }
        if cursor.rank != 2 {
            return Err("Gemm needs a [batch, features] input".to_owned());
        }
        let trans_b = attr_i("transB", 0)? != 0;
        let (alpha, beta) = (attr_f("alpha")?, attr_f("beta")?);
        let b = b.ok_or("the weights B are missing")?;
        let [rows, cols] = b.shape.as_slice() else {
            return Err(format!("weights B have shape {:?}, expected a matrix", b.shape));
        };
        let (outputs, inputs) = if trans_b { (*rows, *cols) } else { (*cols, *rows) };
        check_width(cursor, inputs)?;
        let weights = (0..outputs)
            .map(|j| {
                (0..inputs)
                    .map(|i| {
                        let w =
                            if trans_b { b.values[j * cols + i] } else { b.values[i * cols + j] };
                        alpha * w
                    })
                    .collect()
            })
            .collect();
        let bias = match c {
            Some(c) => Some(broadcast_bias(c, outputs)?.into_iter().map(|v| beta * v).collect()),
            None => None,
        };
        Ok((weights, bias))
    }

    /// Accepts `Clip` only as a ReLU: `min = 0`, no `max`.
    fn clip_is_relu(
        &self,
        node: &NodeProto,
        min: Option<&Constant>,
        max: Option<&Constant>,
    ) -> Result<(), String> {
        let scalar = |c: Option<&Constant>, what: &str| match c {
            None => Ok(None),
            Some(c) if c.values.len() == 1 => Ok(Some(c.values[0])),
            Some(c) => Err(format!("{what} has shape {:?}, expected a scalar", c.shape)),
        };
        let (min, max) = if self.opset < 11 {
            let attr = |name: &str| {
                node.get_attr_opt::<f32>(name).map(|v| v.map(f64::from)).map_err(|e| e.to_string())
            };
            (attr("min")?, attr("max")?)
        } else {
            (scalar(min, "min")?, scalar(max, "max")?)
        };
        match (min, max) {
            (Some(0.0), None) => Ok(()),
            (min, max) => Err(format!(
                "Clip(min = {min:?}, max = {max:?}) is not a ReLU; only Clip(min = 0, no max) is \
                 supported"
            )),
        }
    }
}

fn check_width(cursor: &Cursor, inputs: usize) -> Result<(), String> {
    match cursor.width {
        Some(width) if width != inputs => {
            Err(format!("the layer takes {inputs} inputs but receives {width}"))
        }
        _ => Ok(()),
    }
}

/// Weights (`out × in`) of a `MatMul` by a constant `[in, out]` matrix.
fn matmul_weights(cursor: &Cursor, b: Option<&Constant>) -> Result<Vec<Vec<f64>>, String> {
    let b = b.ok_or("the second operand must be a constant [in, out] matrix")?;
    let [inputs, outputs] = b.shape.as_slice() else {
        return Err(format!("the weights have shape {:?}, expected [in, out]", b.shape));
    };
    check_width(cursor, *inputs)?;
    Ok((0..*outputs).map(|j| (0..*inputs).map(|i| b.values[i * outputs + j]).collect()).collect())
}

/// A bias of shape `[]`, `[1]`, `[n]` or `[1, n]`, as `n` values.
fn broadcast_bias(c: &Constant, n: usize) -> Result<Vec<f64>, String> {
    let ok = match c.shape.as_slice() {
        [] => true,
        [m] | [1, m] => *m == n || *m == 1,
        _ => false,
    };
    if !ok {
        return Err(format!("bias of shape {:?} does not broadcast to [1, {n}]", c.shape));
    }
    Ok(if c.values.len() == 1 { vec![c.values[0]; n] } else { c.values.clone() })
}

/// The rank after a `Reshape` that keeps `[batch, features]` (or `[features]`), or why not.
fn reshape_rank(cursor: &Cursor, target: &[f64]) -> Result<usize, String> {
    let width = cursor.width.map(|w| w as f64);
    let is_width = |d: f64| Some(d) == width;
    let keeps = match (cursor.rank, target) {
        (2, [batch, w]) => {
            (*batch == -1.0 && is_width(*w))
                || (*batch == 0.0 && (is_width(*w) || *w == -1.0))
                || (*batch == 1.0 && (is_width(*w) || *w == -1.0))
        }
        (1, [w]) => is_width(*w) || *w == -1.0,
        (1, [batch, w]) => *batch == 1.0 && (is_width(*w) || *w == -1.0),
        _ => false,
    };
    if keeps {
        Ok(target.len())
    } else {
        Err(format!(
            "target shape {target:?} does not keep the batch and feature dimensions of a rank-{} \
             tensor of width {}",
            cursor.rank,
            cursor.width.map_or("unknown".to_owned(), |w| w.to_string())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(weights: Vec<Vec<f64>>, biases: Vec<f64>, activation: Activation) -> FloatLayer {
        FloatLayer { weights, biases, activation, nodes: vec![] }
    }

    #[test]
    fn quantization_rounds_weights_and_biases_and_rounds_the_division() {
        let float = FloatMlp {
            input_dim: 2,
            layers: vec![layer(vec![vec![0.5, -0.26]], vec![0.1], Activation::Identity)],
        };
        // S = 4: weights at 16, biases at 256 plus a half unit (8).
        let model = quantize(&float, 4, Some((-8.0, 8.0))).unwrap();
        assert_eq!(model.layers()[0].weights, vec![vec![8, -4]]);
        assert_eq!(model.layers()[0].biases, vec![26 + 8]);
        assert_eq!((model.score_range().min, model.score_range().max), (-128, 128));
        // x = (1, 1): acc = 8·16 - 4·16 + 26 + 8 = 98 → floor(98 / 16) = 6 = round(90 / 16).
        let features = quantize_features(&[1.0, 1.0], 4).unwrap();
        assert_eq!(features, vec![16, 16]);
        assert_eq!(model.score(&features).unwrap(), 6);
        // Feature 2 (0.125): the exact accumulator 8·2 + 26 = 42 is 2.625 units: it rounds to 3
        // where a plain floor would give 2.
        assert_eq!(model.score(&[2, 0]).unwrap(), 3);
    }

    #[test]
    fn default_score_range_follows_the_last_activation() {
        let relu = FloatMlp {
            input_dim: 1,
            layers: vec![layer(vec![vec![2.0]], vec![0.0], Activation::Relu)],
        };
        let model = quantize(&relu, 8, None).unwrap();
        let bound = model.layer_bounds()[0].output_max as i64;
        assert_eq!((model.score_range().min, model.score_range().max), (0, bound));
        let identity = FloatMlp {
            input_dim: 1,
            layers: vec![layer(vec![vec![2.0]], vec![0.0], Activation::Identity)],
        };
        let model = quantize(&identity, 8, None).unwrap();
        assert_eq!(model.score_range().min, -model.score_range().max);
        let sigmoid = FloatMlp {
            input_dim: 1,
            layers: vec![layer(vec![vec![2.0]], vec![0.0], Activation::Sigmoid)],
        };
        assert_eq!(sigmoid.natural_score_range(), Some((0.0, 1.0)));
    }

    #[test]
    fn features_must_fit_an_i16() {
        assert_eq!(quantize_features(&[0.5, -0.5], 15), Some(vec![16384, -16384]));
        assert_eq!(quantize_features(&[1.0], 15), None);
        assert_eq!(quantize_features(&[-1.0], 15), Some(vec![-32768]));
        assert_eq!(quantize_features(&[f64::NAN], 4), None);
    }

    #[test]
    fn overflowing_weights_are_model_errors() {
        let float = FloatMlp {
            input_dim: 1,
            layers: vec![layer(vec![vec![1e6]], vec![0.0], Activation::Sigmoid)],
        };
        assert!(matches!(
            quantize(&float, 8, None),
            Err(ModelError::ParameterRange { what: "weight", .. })
        ));
        assert!(quantize(&float, 4, None).is_ok());
    }

    #[test]
    fn biases_broadcast_and_reshapes_keep_the_features() {
        let c = Constant { shape: vec![1], values: vec![0.5] };
        assert_eq!(broadcast_bias(&c, 3).unwrap(), vec![0.5; 3]);
        let c = Constant { shape: vec![1, 3], values: vec![1.0, 2.0, 3.0] };
        assert_eq!(broadcast_bias(&c, 3).unwrap(), vec![1.0, 2.0, 3.0]);
        assert!(broadcast_bias(&c, 4).is_err());
        let cursor = Cursor { name: String::new(), rank: 2, width: Some(8) };
        assert_eq!(reshape_rank(&cursor, &[-1.0, 8.0]), Ok(2));
        assert_eq!(reshape_rank(&cursor, &[0.0, -1.0]), Ok(2));
        assert!(reshape_rank(&cursor, &[-1.0]).is_err());
        assert!(reshape_rank(&cursor, &[-1.0, 4.0]).is_err());
        assert!(reshape_rank(&cursor, &[2.0, 4.0]).is_err());
    }
}
