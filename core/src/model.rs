//! The quality-scoring model: a quantized MLP with integer semantics defined once, here.
//!
//! # Integer semantics
//! All values are signed integers in fixed point with scale `2^S` (`S = scale_bits`).
//! - Inputs are the contribution's `i16` features.
//! - A dense layer computes, for each output `j`, the accumulator
//!   `acc_j = Σ_i W[j][i] · x_i + b_j` (weights at scale `2^S`, biases at scale `2^(2S)`), then
//!   `q_j = floor(acc_j / 2^S)` with remainder `r_j = acc_j - q_j · 2^S ∈ [0, 2^S)`,
//!   then its activation:
//!   - `identity`: `y = q`;
//!   - `relu`: `y = max(q, 0)`;
//!   - `sigmoid`, `tanh`: `y = table[index(q)]`, a bounded lookup table (see [`ActivationTable`]).
//! - The last layer has one output; the **score** is that output clamped to
//!   `[score_range.min, score_range.max]`.
//!
//! # Bounds
//! A model is validated when it is built: `1 ≤ S ≤ 16`, `|W| < 2^24`, `|b| < 2^48`,
//! `|score bounds| ≤ 2^48`, and an interval analysis over the worst-case input proves that every
//! accumulator satisfies `|acc| < 2^62`. The circuit sizes its range checks from
//! [`QuantizedModel::layer_bounds`], so honest witnesses always fit.
//!
//! # JSON format
//! ```json
//! { "format": "merit-model/1", "scale_bits": 12, "input_dim": 2,
//!   "layers": [ { "weights": [[4096, -2048]], "biases": [0], "activation": "sigmoid" } ],
//!   "score_range": { "min": 0, "max": 4096 } }
//! ```

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::{field::fr_from_i64, poseidon, DomainTag};

/// The model JSON format identifier.
pub const MODEL_FORMAT: &str = "merit-model/1";
/// Largest accepted `scale_bits`.
pub const MAX_SCALE_BITS: u32 = 16;
/// Weights satisfy `|w| < 2^WEIGHT_BITS`.
pub const WEIGHT_BITS: u32 = 24;
/// Biases satisfy `|b| < 2^BIAS_BITS`.
pub const BIAS_BITS: u32 = 48;
/// Score bounds satisfy `|bound| ≤ 2^SCORE_BITS`.
pub const SCORE_BITS: u32 = 48;
/// Every accumulator satisfies `|acc| < 2^ACC_BITS` for every input.
pub const ACC_BITS: u32 = 62;
/// Largest layer width accepted.
pub const MAX_WIDTH: usize = 4096;

/// Activation after a dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `y = q`.
    Identity,
    /// `y = max(q, 0)`.
    Relu,
    /// Logistic sigmoid through [`ActivationTable`].
    Sigmoid,
    /// Hyperbolic tangent through [`ActivationTable`].
    Tanh,
}

impl Activation {
    /// The code hashed into `model_commitment`.
    pub fn code(self) -> u64 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Sigmoid => 2,
            Activation::Tanh => 3,
        }
    }

    /// The lookup table of this activation at scale `2^scale_bits`, if it uses one.
    pub fn table(self, scale_bits: u32) -> Option<ActivationTable> {
        match self {
            Activation::Sigmoid => Some(ActivationTable::new(TableFunction::Sigmoid, scale_bits)),
            Activation::Tanh => Some(ActivationTable::new(TableFunction::Tanh, scale_bits)),
            Activation::Identity | Activation::Relu => None,
        }
    }
}

/// A function evaluated through a lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFunction {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

/// A bounded lookup table for sigmoid or tanh at scale `2^S`.
///
/// The input `q` (scale `2^S`) is clamped to the domain `[-2^(S+D), 2^(S+D) - 1]` (real
/// `[-8, 8)`, `D = TABLE_DOMAIN_BITS`), shifted to `u = q_clamped + 2^(S+D) ∈ [0, 2^(S+D+1))`,
/// and indexed by `i = floor(u / 2^(S-R))` with `R = min(S, TABLE_RESOLUTION_BITS)`, i.e. steps of
/// `2^-R` in real units: `2^(D+1+R)` entries. Entry `i` is `round(f(c_i) · 2^S)` at the step's
/// midpoint `c_i = (i + 1/2) · 2^-R - 2^D`.
///
/// The largest error against the float function is half a step times the largest slope plus
/// the tail beyond ±8: for sigmoid `2^-9 · 1/4 + 3.4e-4 ≈ 8.3e-4` of its range `[0, 1]`; for tanh
/// `2^-8 + 2.3e-7 ≈ 3.9e-3` over its range `[-1, 1]`, i.e. 0.2% of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationTable {
    function: TableFunction,
    scale_bits: u32,
    resolution_bits: u32,
    entries: Vec<i64>,
}

/// Table inputs are clamped to real `[-2^TABLE_DOMAIN_BITS, 2^TABLE_DOMAIN_BITS)`.
pub const TABLE_DOMAIN_BITS: u32 = 3;
/// Table steps are `2^-TABLE_RESOLUTION_BITS` in real units (at most `2^-S`).
pub const TABLE_RESOLUTION_BITS: u32 = 7;

impl ActivationTable {
    /// Builds the table of `function` at scale `2^scale_bits`.
    pub fn new(function: TableFunction, scale_bits: u32) -> Self {
        let resolution_bits = scale_bits.min(TABLE_RESOLUTION_BITS);
        let len = 1usize << (TABLE_DOMAIN_BITS + 1 + resolution_bits);
        let scale = (1u64 << scale_bits) as f64;
        let step = 1.0 / (1u64 << resolution_bits) as f64;
        let low = -((1u64 << TABLE_DOMAIN_BITS) as f64);
        let entries = (0..len)
            .map(|i| {
                let x = low + (i as f64 + 0.5) * step;
                let y = match function {
                    TableFunction::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                    TableFunction::Tanh => x.tanh(),
                };
                (y * scale).round() as i64
            })
            .collect();
        Self { function, scale_bits, resolution_bits, entries }
    }

    /// The table's function.
    pub fn function(&self) -> TableFunction {
        self.function
    }

    /// The smallest and largest input that are not clamped, `±2^(S+D)` (upper bound exclusive).
    pub fn domain(&self) -> (i64, i64) {
        let half = 1i64 << (self.scale_bits + TABLE_DOMAIN_BITS);
        (-half, half - 1)
    }

    /// `S - R`: the number of low bits of the shifted input dropped by the index.
    pub fn index_shift(&self) -> u32 {
        self.scale_bits - self.resolution_bits
    }

    /// The table entries, indexed by [`ActivationTable::index`].
    pub fn entries(&self) -> &[i64] {
        &self.entries
    }

    /// The table index of input `q`: clamp, shift to non-negative, drop `S - R` low bits.
    pub fn index(&self, q: i64) -> usize {
        let (low, high) = self.domain();
        let shifted = q.clamp(low, high) - low;
        (shifted >> self.index_shift()) as usize
    }

    /// The activation of input `q`.
    pub fn eval(&self, q: i64) -> i64 {
        self.entries[self.index(q)]
    }

    /// Largest absolute entry.
    pub fn max_abs(&self) -> i64 {
        self.entries.iter().map(|e| e.abs()).max().unwrap_or(0)
    }
}

/// One dense layer followed by its activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseLayer {
    /// `weights[j][i]`: from input `i` to output `j`, scale `2^S`.
    pub weights: Vec<Vec<i64>>,
    /// One bias per output, scale `2^(2S)`.
    pub biases: Vec<i64>,
    /// Activation applied after the floor division.
    pub activation: Activation,
}

impl DenseLayer {
    /// Number of inputs.
    pub fn input_dim(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }

    /// Number of outputs.
    pub fn output_dim(&self) -> usize {
        self.weights.len()
    }
}

/// The closed interval the final score is clamped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRange {
    /// Lowest score.
    pub min: i64,
    /// Highest score.
    pub max: i64,
}

/// Worst-case magnitudes of one layer over every possible input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBounds {
    /// Largest `|x_i|` entering the layer.
    pub input_max: u64,
    /// Largest `|acc_j|`.
    pub acc_max: u64,
    /// Largest `|y_j|` after the activation.
    pub output_max: u64,
}

/// Why a model is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The JSON `format` field is not [`MODEL_FORMAT`].
    #[error("unknown model format {found:?}, expected {MODEL_FORMAT:?}")]
    Format {
        /// The format found.
        found: String,
    },
    /// `scale_bits` outside `1..=MAX_SCALE_BITS`.
    #[error("scale_bits {0} outside 1..={MAX_SCALE_BITS}")]
    Scale(u32),
    /// The model has no layers.
    #[error("the model has no layers")]
    NoLayers,
    /// A layer's width is zero or above [`MAX_WIDTH`], or its rows differ in length.
    #[error("layer {layer}: {reason}")]
    Shape {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        reason: String,
    },
    /// The last layer does not have exactly one output.
    #[error("the last layer has {0} outputs; a quality model has exactly one")]
    OutputDim(usize),
    /// A weight or bias is out of range.
    #[error("layer {layer}: {what} {value} out of range (|{what}| < 2^{bits})")]
    ParameterRange {
        /// Layer index.
        layer: usize,
        /// `weight` or `bias`.
        what: &'static str,
        /// The value.
        value: i64,
        /// The bound's bit count.
        bits: u32,
    },
    /// The worst-case accumulator of a layer does not fit.
    #[error(
        "layer {layer}: worst-case accumulator reaches 2^{log2}, above the 2^{ACC_BITS} bound"
    )]
    AccumulatorOverflow {
        /// Layer index.
        layer: usize,
        /// log2 of the worst case.
        log2: u32,
    },
    /// The score range is empty or out of bounds.
    #[error("score range [{min}, {max}] is empty or exceeds ±2^{SCORE_BITS}")]
    ScoreRange {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
    },
}

/// Features of the wrong width for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("model takes {expected} features, got {actual}")]
pub struct DimensionError {
    /// The model's input width.
    pub expected: usize,
    /// The width given.
    pub actual: usize,
}

/// The on-disk form of a model, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    format: String,
    scale_bits: u32,
    input_dim: usize,
    layers: Vec<DenseLayer>,
    score_range: ScoreRange,
}

/// A validated quantized MLP. Construct with [`QuantizedModel::new`] or deserialise JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ModelSpec", into = "ModelSpec")]
pub struct QuantizedModel {
    scale_bits: u32,
    input_dim: usize,
    layers: Vec<DenseLayer>,
    score_range: ScoreRange,
    bounds: Vec<LayerBounds>,
}

impl TryFrom<ModelSpec> for QuantizedModel {
    type Error = ModelError;

    fn try_from(spec: ModelSpec) -> Result<Self, ModelError> {
        if spec.format != MODEL_FORMAT {
            return Err(ModelError::Format { found: spec.format });
        }
        Self::new(spec.scale_bits, spec.input_dim, spec.layers, spec.score_range)
    }
}

impl From<QuantizedModel> for ModelSpec {
    fn from(model: QuantizedModel) -> Self {
        ModelSpec {
            format: MODEL_FORMAT.to_owned(),
            scale_bits: model.scale_bits,
            input_dim: model.input_dim,
            layers: model.layers,
            score_range: model.score_range,
        }
    }
}

/// Every intermediate value of one layer for one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerTrace {
    /// `acc_j = Σ W[j][i] x_i + b_j`.
    pub acc: Vec<i64>,
    /// `q_j = floor(acc_j / 2^S)`.
    pub quotient: Vec<i64>,
    /// `r_j = acc_j - q_j 2^S ∈ [0, 2^S)`.
    pub remainder: Vec<i64>,
    /// Table index of each `q_j`, for sigmoid/tanh layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_index: Option<Vec<usize>>,
    /// `y_j`, the activation of `q_j`.
    pub output: Vec<i64>,
}

/// Every intermediate value of one inference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceTrace {
    /// One entry per layer.
    pub layers: Vec<LayerTrace>,
    /// The last layer's single output, before the score clamp.
    pub raw_score: i64,
    /// `clamp(raw_score, score_range.min, score_range.max)`.
    pub score: i64,
}

impl QuantizedModel {
    /// Validates and builds a model (see the module docs for the rules).
    pub fn new(
        scale_bits: u32,
        input_dim: usize,
        layers: Vec<DenseLayer>,
        score_range: ScoreRange,
    ) -> Result<Self, ModelError> {
        if !(1..=MAX_SCALE_BITS).contains(&scale_bits) {
            return Err(ModelError::Scale(scale_bits));
        }
        if layers.is_empty() {
            return Err(ModelError::NoLayers);
        }
        let mut width = input_dim;
        let mut input_max = 1u64 << 15; // |i16| ≤ 2^15
        let mut bounds = Vec::with_capacity(layers.len());
        for (index, layer) in layers.iter().enumerate() {
            let shape = |reason: String| ModelError::Shape { layer: index, reason };
            if width == 0 || width > MAX_WIDTH {
                return Err(shape(format!("input width {width} outside 1..={MAX_WIDTH}")));
            }
            if layer.output_dim() == 0 || layer.output_dim() > MAX_WIDTH {
                return Err(shape(format!(
                    "output width {} outside 1..={MAX_WIDTH}",
                    layer.output_dim()
                )));
            }
            if let Some((row, w)) =
                layer.weights.iter().enumerate().find(|(_, row)| row.len() != width)
            {
                return Err(shape(format!(
                    "weight row {row} has {} entries, expected {width}",
                    w.len()
                )));
            }
            if layer.biases.len() != layer.output_dim() {
                return Err(shape(format!(
                    "{} biases for {} outputs",
                    layer.biases.len(),
                    layer.output_dim()
                )));
            }
            let range = |what, value: i64, bits: u32| {
                if value.unsigned_abs() >= 1u64 << bits {
                    Err(ModelError::ParameterRange { layer: index, what, value, bits })
                } else {
                    Ok(())
                }
            };
            for w in layer.weights.iter().flatten() {
                range("weight", *w, WEIGHT_BITS)?;
            }
            for b in &layer.biases {
                range("bias", *b, BIAS_BITS)?;
            }
            let acc_max = layer
                .weights
                .iter()
                .zip(&layer.biases)
                .map(|(row, b)| {
                    let dot: u128 = row.iter().map(|w| u128::from(w.unsigned_abs())).sum::<u128>()
                        * u128::from(input_max);
                    dot + u128::from(b.unsigned_abs())
                })
                .max()
                .unwrap_or(0);
            if acc_max >= 1u128 << ACC_BITS {
                return Err(ModelError::AccumulatorOverflow {
                    layer: index,
                    log2: 128 - acc_max.leading_zeros() - 1,
                });
            }
            let acc_max = acc_max as u64;
            // |floor(acc / 2^S)| ≤ ceil(|acc| / 2^S)
            let q_max = acc_max.div_ceil(1u64 << scale_bits);
            let output_max = match layer.activation.table(scale_bits) {
                Some(table) => table.max_abs() as u64,
                None => q_max,
            };
            bounds.push(LayerBounds { input_max, acc_max, output_max });
            width = layer.output_dim();
            input_max = output_max;
        }
        if width != 1 {
            return Err(ModelError::OutputDim(width));
        }
        let limit = 1i64 << SCORE_BITS;
        if score_range.min > score_range.max || score_range.min < -limit || score_range.max > limit
        {
            return Err(ModelError::ScoreRange { min: score_range.min, max: score_range.max });
        }
        Ok(Self { scale_bits, input_dim, layers, score_range, bounds })
    }

    /// Parses and validates a model from its JSON form.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// `S`: values are fixed point with scale `2^S`.
    pub fn scale_bits(&self) -> u32 {
        self.scale_bits
    }

    /// Number of input features `D`.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[DenseLayer] {
        &self.layers
    }

    /// The interval the score is clamped to.
    pub fn score_range(&self) -> ScoreRange {
        self.score_range
    }

    /// Worst-case magnitudes per layer, for sizing range checks.
    pub fn layer_bounds(&self) -> &[LayerBounds] {
        &self.bounds
    }

    /// Checks the width of a feature vector.
    pub fn check_dimension(&self, features: &[i16]) -> Result<(), DimensionError> {
        if features.len() == self.input_dim {
            Ok(())
        } else {
            Err(DimensionError { expected: self.input_dim, actual: features.len() })
        }
    }

    /// The score of `features`.
    pub fn score(&self, features: &[i16]) -> Result<i64, DimensionError> {
        Ok(self.infer(features)?.score)
    }

    /// Runs the model and records every intermediate value.
    pub fn infer(&self, features: &[i16]) -> Result<InferenceTrace, DimensionError> {
        self.check_dimension(features)?;
        let divisor = 1i64 << self.scale_bits;
        let mut input: Vec<i64> = features.iter().map(|&f| i64::from(f)).collect();
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let acc: Vec<i64> = layer
                .weights
                .iter()
                .zip(&layer.biases)
                .map(|(row, b)| row.iter().zip(&input).map(|(w, x)| w * x).sum::<i64>() + b)
                .collect();
            let quotient: Vec<i64> = acc.iter().map(|a| a.div_euclid(divisor)).collect();
            let remainder: Vec<i64> = acc.iter().map(|a| a.rem_euclid(divisor)).collect();
            let (table_index, output) = match layer.activation.table(self.scale_bits) {
                Some(table) => {
                    let index: Vec<usize> = quotient.iter().map(|q| table.index(*q)).collect();
                    let output = index.iter().map(|i| table.entries()[*i]).collect();
                    (Some(index), output)
                }
                None if layer.activation == Activation::Relu => {
                    (None, quotient.iter().map(|q| (*q).max(0)).collect())
                }
                None => (None, quotient.clone()),
            };
            input.clone_from(&output);
            layers.push(LayerTrace { acc, quotient, remainder, table_index, output });
        }
        let raw_score = input[0];
        let score = raw_score.clamp(self.score_range.min, self.score_range.max);
        Ok(InferenceTrace { layers, raw_score, score })
    }

    /// The field elements hashed into [`QuantizedModel::commitment`]:
    /// `[tag, S, D, table domain bits, table resolution bits, layer count,
    ///   per layer: (in, out, activation code, weights row-major, biases),
    ///   score min, score max]`.
    pub fn commitment_elements(&self) -> Vec<Fr> {
        let mut elements = vec![
            DomainTag::Model.fr(),
            Fr::from(u64::from(self.scale_bits)),
            Fr::from(self.input_dim as u64),
            Fr::from(u64::from(TABLE_DOMAIN_BITS)),
            Fr::from(u64::from(TABLE_RESOLUTION_BITS)),
            Fr::from(self.layers.len() as u64),
        ];
        for layer in &self.layers {
            elements.push(Fr::from(layer.input_dim() as u64));
            elements.push(Fr::from(layer.output_dim() as u64));
            elements.push(Fr::from(layer.activation.code()));
            elements.extend(layer.weights.iter().flatten().map(|w| fr_from_i64(*w)));
            elements.extend(layer.biases.iter().map(|b| fr_from_i64(*b)));
        }
        elements.push(fr_from_i64(self.score_range.min));
        elements.push(fr_from_i64(self.score_range.max));
        elements
    }

    /// `model_commitment`: Poseidon over the architecture and the quantized weights.
    pub fn commitment(&self) -> Fr {
        poseidon::hash(&self.commitment_elements())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(weights: Vec<Vec<i64>>, biases: Vec<i64>, activation: Activation) -> DenseLayer {
        DenseLayer { weights, biases, activation }
    }

    fn tiny(activation: Activation) -> QuantizedModel {
        // S = 4: one unit is 16.
        QuantizedModel::new(
            4,
            2,
            vec![
                layer(vec![vec![16, 0], vec![0, -16]], vec![0, 8 * 16], Activation::Relu),
                layer(vec![vec![16, 32]], vec![0], activation),
            ],
            ScoreRange { min: -1000, max: 1000 },
        )
        .unwrap()
    }

    #[test]
    fn dense_relu_floor_semantics() {
        let model = tiny(Activation::Identity);
        // layer 0: acc = [16*3, -16*(-5) + 128] = [48, 208]; q = [3, 13]; relu = [3, 13]
        // layer 1: acc = 16*3 + 32*13 = 464; q = 29
        let trace = model.infer(&[3, -5]).unwrap();
        assert_eq!(trace.layers[0].acc, vec![48, 208]);
        assert_eq!(trace.layers[0].quotient, vec![3, 13]);
        assert_eq!(trace.layers[1].acc, vec![464]);
        assert_eq!(trace.score, 29);
        // Negative accumulators floor towards -inf with a non-negative remainder.
        let trace = model.infer(&[-1, 9]).unwrap();
        // layer 0: acc = [-16, -144 + 128 = -16]; q = [-1, -1]; r = [0, 0]; relu = [0, 0]
        assert_eq!(trace.layers[0].quotient, vec![-1, -1]);
        assert_eq!(trace.layers[0].output, vec![0, 0]);
        let model = QuantizedModel::new(
            4,
            1,
            vec![layer(vec![vec![5]], vec![0], Activation::Identity)],
            ScoreRange { min: -100, max: 100 },
        )
        .unwrap();
        let trace = model.infer(&[-1]).unwrap();
        assert_eq!((trace.layers[0].quotient[0], trace.layers[0].remainder[0]), (-1, 11));
    }

    #[test]
    fn score_is_clamped() {
        let model = tiny(Activation::Identity);
        let trace = model.infer(&[i16::MAX, i16::MIN]).unwrap();
        assert!(trace.raw_score > 1000);
        assert_eq!(trace.score, 1000);
    }

    #[test]
    fn sigmoid_table_matches_float_within_bound() {
        for s in [4u32, 8, 12, 16] {
            let table = ActivationTable::new(TableFunction::Sigmoid, s);
            let scale = (1u64 << s) as f64;
            for q in (-(10 << s)..(10 << s)).step_by(1 << (s.saturating_sub(4))) {
                let exact = 1.0 / (1.0 + (-(q as f64) / scale).exp());
                let err = (table.eval(q) as f64 / scale - exact).abs();
                // half a step of slope 1/4 plus the tail, plus rounding to the scale
                let bound = 0.25 / (1u64 << (s.min(TABLE_RESOLUTION_BITS) + 1)) as f64
                    + 3.4e-4
                    + 0.5 / scale;
                assert!(err <= bound, "s={s} q={q} err={err} bound={bound}");
            }
        }
    }

    #[test]
    fn tanh_table_is_odd_and_saturates() {
        let table = ActivationTable::new(TableFunction::Tanh, 12);
        assert_eq!(table.entries().len(), 2048);
        assert_eq!(table.eval(i64::MAX), table.eval(1 << 20));
        assert_eq!(table.eval(1 << 20), 4096);
        assert_eq!(table.eval(-(1 << 20)), -4096);
        for i in 0..1024 {
            assert_eq!(table.entries()[i], -table.entries()[2047 - i]);
        }
    }

    #[test]
    fn rejects_bad_models() {
        let ok = layer(vec![vec![1, 1]], vec![0], Activation::Relu);
        let range = ScoreRange { min: 0, max: 10 };
        assert_eq!(QuantizedModel::new(0, 2, vec![ok.clone()], range), Err(ModelError::Scale(0)));
        assert_eq!(QuantizedModel::new(8, 2, vec![], range), Err(ModelError::NoLayers));
        assert!(matches!(
            QuantizedModel::new(8, 3, vec![ok.clone()], range),
            Err(ModelError::Shape { layer: 0, .. })
        ));
        let two_out = layer(vec![vec![1, 1], vec![1, 1]], vec![0, 0], Activation::Relu);
        assert_eq!(QuantizedModel::new(8, 2, vec![two_out], range), Err(ModelError::OutputDim(2)));
        let big = layer(vec![vec![1 << 24, 1]], vec![0], Activation::Relu);
        assert!(matches!(
            QuantizedModel::new(8, 2, vec![big], range),
            Err(ModelError::ParameterRange { what: "weight", .. })
        ));
        assert!(matches!(
            QuantizedModel::new(8, 2, vec![ok.clone()], ScoreRange { min: 5, max: 4 }),
            Err(ModelError::ScoreRange { .. })
        ));
        // Many wide layers of large weights overflow the accumulator bound.
        let wide = |n: usize, m: usize| {
            layer(vec![vec![(1 << 23) - 1; n]; m], vec![0; m], Activation::Relu)
        };
        let deep = vec![wide(2, 64), wide(64, 64), wide(64, 1)];
        assert!(matches!(
            QuantizedModel::new(1, 2, deep, range),
            Err(ModelError::AccumulatorOverflow { .. })
        ));
    }

    #[test]
    fn dimension_is_checked() {
        let model = tiny(Activation::Sigmoid);
        assert_eq!(model.score(&[1, 2, 3]), Err(DimensionError { expected: 2, actual: 3 }));
    }

    #[test]
    fn json_round_trip_and_format_check() {
        let model = tiny(Activation::Sigmoid);
        let json = serde_json::to_string(&model).unwrap();
        assert!(json.contains(MODEL_FORMAT));
        assert_eq!(QuantizedModel::from_json(&json).unwrap(), model);
        let wrong = json.replace(MODEL_FORMAT, "onnx");
        assert!(QuantizedModel::from_json(&wrong).unwrap_err().to_string().contains("format"));
        let invalid = json.replace("\"scale_bits\":4", "\"scale_bits\":40");
        assert!(QuantizedModel::from_json(&invalid)
            .unwrap_err()
            .to_string()
            .contains("scale_bits"));
    }

    #[test]
    fn commitment_binds_every_weight() {
        let model = tiny(Activation::Relu);
        let mut layers = model.layers().to_vec();
        layers[1].weights[0][1] += 1;
        let changed = QuantizedModel::new(4, 2, layers, model.score_range()).unwrap();
        assert_ne!(model.commitment(), changed.commitment());
        assert_ne!(model.commitment(), tiny(Activation::Identity).commitment());
    }
}
