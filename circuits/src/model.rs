//! The scoring chip: a quantized MLP in the circuit, constrained layer by layer to merit-core's
//! integer semantics (`merit_core::model`).
//!
//! The model's shape (dimensions, scale, activations, score range and the per-layer magnitude
//! bounds that size the range checks) is fixed at keygen as a [`ModelShape`]; weights and biases
//! are witnesses, loaded once per batch and bound to the public `model_commitment`, so one set of
//! keys serves every model of the same shape whose bounds fit.
//!
//! Supported today: `identity` and `relu` layers and the final score clamp. Sigmoid and tanh need
//! the lookup-table argument (halo2-base's dynamic lookup beside the flex gate) and are refused
//! with [`ModelCircuitError::Activation`] until it lands.

use halo2_base::{gates::RangeChip, halo2_proofs::halo2curves::bn256::Fr, AssignedValue, Context};
use merit_core::{
    field::fr_from_i64,
    model::{Activation, InferenceTrace, QuantizedModel, ScoreRange},
};
use serde::{Deserialize, Serialize};

use crate::fixed_point::{affine, check_signed, clamp, floor_div, relu};

/// Why a model cannot be put in the circuit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelCircuitError {
    /// The activation has no circuit yet.
    #[error("layer {layer}: {activation:?} is not supported by the circuit yet")]
    Activation {
        /// Layer index.
        layer: usize,
        /// The activation.
        activation: Activation,
    },
    /// The model does not have the circuit's shape.
    #[error("model shape {found} does not match the circuit's {expected}")]
    Shape {
        /// The circuit's shape.
        expected: String,
        /// The model's shape.
        found: String,
    },
}

/// One layer of the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerShape {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Activation.
    pub activation: Activation,
    /// `|q| < 2^q_bits` for every quotient of this layer.
    pub q_bits: u32,
}

/// What the circuit fixes of a model at keygen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShape {
    /// `S`.
    pub scale_bits: u32,
    /// Feature width.
    pub input_dim: usize,
    /// Layers.
    pub layers: Vec<LayerShape>,
    /// The score clamp.
    pub score_range: ScoreRange,
    /// `|raw score - bound| < 2^clamp_bits` for both bounds.
    pub clamp_bits: u32,
}

fn bit_length(x: u64) -> u32 {
    64 - x.leading_zeros()
}

impl ModelShape {
    /// The shape of `model`, with range-check widths from its worst-case bounds.
    pub fn of(model: &QuantizedModel) -> Result<Self, ModelCircuitError> {
        let s = model.scale_bits();
        let mut layers = Vec::new();
        for (index, (layer, bounds)) in model.layers().iter().zip(model.layer_bounds()).enumerate()
        {
            if matches!(layer.activation, Activation::Sigmoid | Activation::Tanh) {
                return Err(ModelCircuitError::Activation {
                    layer: index,
                    activation: layer.activation,
                });
            }
            let q_max = bounds.acc_max.div_ceil(1u64 << s);
            layers.push(LayerShape {
                inputs: layer.input_dim(),
                outputs: layer.output_dim(),
                activation: layer.activation,
                q_bits: bit_length(q_max) + 1,
            });
        }
        let range = model.score_range();
        let last = model.layer_bounds().last().map_or(0, |b| b.output_max);
        let reach = last + range.min.unsigned_abs().max(range.max.unsigned_abs());
        Ok(Self {
            scale_bits: s,
            input_dim: model.input_dim(),
            layers,
            score_range: range,
            clamp_bits: bit_length(reach) + 1,
        })
    }

    /// Checks that `model` can be proven with this shape.
    pub fn check(&self, model: &QuantizedModel) -> Result<(), ModelCircuitError> {
        let found = Self::of(model)?;
        let fits = found.scale_bits == self.scale_bits
            && found.input_dim == self.input_dim
            && found.score_range == self.score_range
            && found.clamp_bits <= self.clamp_bits
            && found.layers.len() == self.layers.len()
            && found.layers.iter().zip(&self.layers).all(|(f, e)| {
                f.inputs == e.inputs
                    && f.outputs == e.outputs
                    && f.activation == e.activation
                    && f.q_bits <= e.q_bits
            });
        if fits {
            Ok(())
        } else {
            Err(ModelCircuitError::Shape {
                expected: format!("{self:?}"),
                found: format!("{found:?}"),
            })
        }
    }
}

/// Weights and biases as witnesses: `weights[layer][output][input]`, `biases[layer][output]`.
#[derive(Debug, Clone)]
pub struct AssignedModel {
    /// Weights.
    pub weights: Vec<Vec<Vec<AssignedValue<Fr>>>>,
    /// Biases.
    pub biases: Vec<Vec<AssignedValue<Fr>>>,
}

/// Loads a model's parameters as witnesses (once per batch).
pub fn load_model(ctx: &mut Context<Fr>, model: &QuantizedModel) -> AssignedModel {
    let weights = model
        .layers()
        .iter()
        .map(|layer| {
            layer
                .weights
                .iter()
                .map(|row| ctx.assign_witnesses(row.iter().map(|w| fr_from_i64(*w))))
                .collect()
        })
        .collect();
    let biases = model
        .layers()
        .iter()
        .map(|layer| ctx.assign_witnesses(layer.biases.iter().map(|b| fr_from_i64(*b))))
        .collect();
    AssignedModel { weights, biases }
}

/// Constrains one inference: `features` (already range-checked to `i16` by the caller) through
/// every layer to the clamped score, with witness values from `trace`. Returns the score.
pub fn infer(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    shape: &ModelShape,
    model: &AssignedModel,
    features: &[AssignedValue<Fr>],
    trace: &InferenceTrace,
) -> AssignedValue<Fr> {
    assert_eq!(features.len(), shape.input_dim, "feature width is fixed by the shape");
    let mut input = features.to_vec();
    for (l, layer) in shape.layers.iter().enumerate() {
        let t = &trace.layers[l];
        input = (0..layer.outputs)
            .map(|j| {
                let acc = affine(ctx, range, &model.weights[l][j], &input, model.biases[l][j]);
                let q =
                    floor_div(ctx, range, acc, (t.quotient[j], t.remainder[j]), shape.scale_bits);
                match layer.activation {
                    Activation::Relu => relu(ctx, range, q, t.quotient[j].into(), layer.q_bits),
                    Activation::Identity => {
                        check_signed(ctx, range, q, layer.q_bits);
                        q
                    }
                    Activation::Sigmoid | Activation::Tanh => {
                        unreachable!("ModelShape::of refuses table activations")
                    }
                }
            })
            .collect();
    }
    let range_bounds = (shape.score_range.min, shape.score_range.max);
    clamp(ctx, range, input[0], trace.raw_score, range_bounds, shape.clamp_bits)
}
