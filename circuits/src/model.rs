//! The scoring chip: a quantized MLP in the circuit, constrained layer by layer to merit-core's
//! integer semantics (`merit_core::model`).
//!
//! The model's shape (dimensions, scale, activations, score range and the per-layer magnitude
//! bounds that size the range checks) is fixed at keygen as a [`ModelShape`]; weights and biases
//! are witnesses, loaded once per batch and bound to the public `model_commitment`, so one set of
//! keys serves every model of the same shape whose bounds fit.
//!
//! Activations: `identity` (a signed range check), `relu` ([`relu`]) and `sigmoid`/`tanh`: the
//! quotient is clamped to the table's domain, shifted to `u ≥ 0`, split as
//! `u = index · 2^(S-R) + rem` with a range-checked `rem`, and `(tag · 2^32 + index, value)` is
//! looked up in the constant table of `merit_core::model::ActivationTable` (see
//! [`crate::builder`]).

use halo2_base::{gates::RangeChip, halo2_proofs::halo2curves::bn256::Fr, AssignedValue, Context};
use merit_core::{
    field::fr_from_i64,
    model::{Activation, ActivationTable, InferenceTrace, QuantizedModel, ScoreRange},
};
use serde::{Deserialize, Serialize};

use crate::{
    builder::{table_key, TableLookups},
    fixed_point::{affine, check_signed, clamp, floor_div, pow2, relu},
};
use halo2_base::{
    gates::{GateInstructions, RangeInstructions},
    QuantumCell::Constant,
};

/// Why a model cannot be put in the circuit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelCircuitError {
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
        for (layer, bounds) in model.layers().iter().zip(model.layer_bounds()) {
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

/// `table(clamp(q))`: see the module docs. `(index, output)` are the trace's witnesses.
#[allow(clippy::too_many_arguments)]
fn lookup_activation(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    layer: &LayerShape,
    table: &ActivationTable,
    q: AssignedValue<Fr>,
    q_value: i64,
    (index, output): (usize, i64),
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    let tag = layer.activation.code();
    tables.load_table(ctx, tag, table.entries().iter().map(|e| fr_from_i64(*e)));
    let (low, high) = table.domain();
    let bits = layer.q_bits.max(bit_length(high.unsigned_abs()) + 1) + 1;
    let clamped = clamp(ctx, range, q, q_value, (low, high), bits);
    let u = gate.sub(ctx, clamped, Constant(fr_from_i64(low)));
    let shift = table.index_shift();
    let rem_value = (q_value.clamp(low, high) - low) - ((index as i64) << shift);
    let [index_cell, rem, output]: [AssignedValue<Fr>; 3] = ctx
        .assign_witnesses([Fr::from(index as u64), fr_from_i64(rem_value), fr_from_i64(output)])
        .try_into()
        .expect("three values");
    if shift > 0 {
        range.range_check(ctx, rem, shift as usize);
    } else {
        gate.assert_is_const(ctx, &rem, &Fr::zero());
    }
    range.range_check(ctx, index_cell, bit_length(table.entries().len() as u64) as usize);
    let recomposed = gate.mul_add(ctx, index_cell, Constant(pow2(shift)), rem);
    ctx.constrain_equal(&recomposed, &u);
    let key = gate.add(ctx, index_cell, Constant(table_key(tag, 0)));
    tables.lookup(key, output);
    output
}

/// Constrains one inference: `features` (already range-checked to `i16` by the caller) through
/// every layer to the clamped score, with witness values from `trace`. Returns the score.
pub fn infer(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
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
                        let table =
                            layer.activation.table(shape.scale_bits).expect("a table activation");
                        let index = t.table_index.as_ref().expect("table layers record indices")[j];
                        lookup_activation(
                            ctx,
                            range,
                            tables,
                            layer,
                            &table,
                            q,
                            t.quotient[j],
                            (index, t.output[j]),
                        )
                    }
                }
            })
            .collect();
    }
    let range_bounds = (shape.score_range.min, shape.score_range.max);
    clamp(ctx, range, input[0], trace.raw_score, range_bounds, shape.clamp_bits)
}
