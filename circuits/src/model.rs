//! The scoring chip: a quantized MLP in the circuit, constrained layer by layer to merit-core's
//! integer semantics (`merit_core::model`).
//!
//! The model's shape (dimensions, scale, activations, score range and the per-layer magnitude
//! bounds that size the range checks) is fixed at keygen as a [`ModelShape`]; weights and biases
//! are witnesses, loaded once per batch and bound to the public `model_commitment`, so one set of
//! keys serves every model of the same shape whose bounds fit.
//!
//! Each dense layer is a packed multiply-accumulate: several outputs share one field element,
//! and one split into signed digits gives every output's floor quotient, remainder and ReLU at
//! once (see [`PackedLayer`]). Activations: `identity` (`y - n`), `relu` (`y`) and
//! `sigmoid`/`tanh`: the quotient is clamped to the table's domain, shifted to `u ≥ 0`, split as
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
    fixed_point::{clamp, fr_from_i128, pow2},
};
use halo2_base::{
    gates::{GateInstructions, RangeInstructions},
    QuantumCell::{Constant, Existing, Witness},
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
    /// Range-check a layer's quotient digits `y`, `n` as one value `y + n` instead of one check
    /// each: with `y · n = 0` one of them is zero and the other equals the sum, so both lie in
    /// `[0, 2^split_bits)` all the same. Changes the keys (the configuration's
    /// `lean_range_checks`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joint_digit_checks: bool,
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
            joint_digit_checks: false,
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

/// Weights and biases as witnesses: `weights[layer][output][input]`, `biases[layer][output]`,
/// and the packed form the inference uses (see [`PackedLayer`]).
#[derive(Debug, Clone)]
pub struct AssignedModel {
    /// Weights.
    pub weights: Vec<Vec<Vec<AssignedValue<Fr>>>>,
    /// Biases.
    pub biases: Vec<Vec<AssignedValue<Fr>>>,
    /// The layers packed for the multiply-accumulate.
    pub packed: Vec<PackedLayer>,
}

/// A layer's outputs packed `per_word` to a field element, `2^word_bits` apart.
///
/// Accumulators of one layer are small (`|acc| < 2^62`, usually far less), so one field
/// multiplication can carry several: with `PW_i = Σ_p W[first + p][i] · 2^(word_bits · p)`,
/// `Σ_i PW_i · x_i + PB = Σ_p acc_p · 2^(word_bits · p)` as integers. The chip splits that sum
/// into signed digits `acc_p = (y_p - n_p) · 2^S + r_p` with `y_p, n_p < 2^split_bits` (lookup
/// checked), `r_p ∈ [0, 2^S)` and `y_p · n_p = 0`. Because every digit lies strictly inside
/// `(-2^(word_bits - 1), 2^(word_bits - 1))` and the whole sum stays below `2^252 < p / 2`, the
/// split is unique: `y_p - n_p` is `floor(acc_p / 2^S)`, `r_p` the remainder, and `y_p` its ReLU.
/// The multiply-accumulate then costs one term per input per *word* instead of per output.
#[derive(Debug, Clone)]
pub struct PackedLayer {
    /// Bits between two packed accumulators.
    pub word_bits: u32,
    /// Range-check width of the digit halves `y` and `n` (a multiple of the lookup width).
    pub split_bits: u32,
    /// Groups of consecutive outputs sharing a word.
    pub groups: Vec<PackedGroup>,
}

/// Consecutive outputs `first..first + len` of a layer in one word.
#[derive(Debug, Clone)]
pub struct PackedGroup {
    /// First output.
    pub first: usize,
    /// Number of outputs.
    pub len: usize,
    /// `PW_i` for every input `i`.
    pub weights: Vec<AssignedValue<Fr>>,
    /// `PB`.
    pub bias: AssignedValue<Fr>,
}

/// Largest `word_bits · per_word`: the packed sum stays below `2^252 < p / 2`.
const PACKED_BITS: u32 = 252;

/// Loads a model's parameters as witnesses and packs every layer (once per batch).
pub fn load_model(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    shape: &ModelShape,
    model: &QuantizedModel,
) -> AssignedModel {
    let weights: Vec<Vec<Vec<AssignedValue<Fr>>>> = model
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
    let biases: Vec<Vec<AssignedValue<Fr>>> = model
        .layers()
        .iter()
        .map(|layer| ctx.assign_witnesses(layer.biases.iter().map(|b| fr_from_i64(*b))))
        .collect();
    let lookup_bits = range.lookup_bits() as u32;
    let packed = shape
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let split_bits = layer.q_bits.max(1).div_ceil(lookup_bits) * lookup_bits;
            let word_bits = split_bits + shape.scale_bits + 1;
            let per_word = (PACKED_BITS / word_bits).max(1) as usize;
            let groups = (0..layer.outputs)
                .step_by(per_word)
                .map(|first| {
                    let len = per_word.min(layer.outputs - first);
                    pack_group(ctx, range, (&weights[l], &biases[l]), first, len, word_bits)
                })
                .collect();
            PackedLayer { word_bits, split_bits, groups }
        })
        .collect();
    AssignedModel { weights, biases, packed }
}

fn pack_group(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    (weights, biases): (&[Vec<AssignedValue<Fr>>], &[AssignedValue<Fr>]),
    first: usize,
    len: usize,
    word_bits: u32,
) -> PackedGroup {
    let outputs = first..first + len;
    if len == 1 {
        return PackedGroup { first, len, weights: weights[first].clone(), bias: biases[first] };
    }
    let shifts = || (0..len).map(|p| Constant(pow2(word_bits * p as u32)));
    let inputs = weights[first].len();
    let packed_weights = (0..inputs)
        .map(|i| range.gate.inner_product(ctx, outputs.clone().map(|j| weights[j][i]), shifts()))
        .collect();
    let bias = range.gate.inner_product(ctx, outputs.map(|j| biases[j]), shifts());
    PackedGroup { first, len, weights: packed_weights, bias }
}

/// Constrains a quotient's signed digits: `y · n = 0` and both in `[0, 2^bits)`, by one range
/// check each or (`joint`) by one of `y + n` — one of the two is zero, so the other equals the
/// sum. (The checks come first, in the default's order: the committed verifier's keys depend
/// on it.)
fn check_digits(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    (y, n): (AssignedValue<Fr>, AssignedValue<Fr>),
    bits: usize,
    joint: bool,
) {
    let gate = &range.gate;
    if joint {
        let magnitude = gate.add(ctx, y, n);
        range.range_check(ctx, magnitude, bits);
    } else {
        range.range_check(ctx, y, bits);
        range.range_check(ctx, n, bits);
    }
    let both = gate.mul(ctx, y, n);
    gate.assert_is_const(ctx, &both, &Fr::zero());
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
#[allow(clippy::too_many_arguments)]
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
    let gate = &range.gate;
    let s = shape.scale_bits;
    let mut input = features.to_vec();
    for (l, layer) in shape.layers.iter().enumerate() {
        let t = &trace.layers[l];
        let packed = &model.packed[l];
        let mut output = Vec::with_capacity(layer.outputs);
        for group in &packed.groups {
            // Σ_i PW_i x_i + PB, the bias first with coefficient one (no extra cells).
            let acc = gate.inner_product(
                ctx,
                std::iter::once(group.bias).chain(group.weights.iter().copied()),
                std::iter::once(Constant(Fr::one())).chain(input.iter().map(|x| Existing(*x))),
            );
            // The signed digits (r, y, n) of every output of the group.
            let mut digits = Vec::with_capacity(3 * group.len);
            let mut coefficients = Vec::with_capacity(3 * group.len);
            for p in 0..group.len {
                let j = group.first + p;
                let q = i128::from(t.quotient[j]);
                digits.extend([
                    Witness(fr_from_i64(t.remainder[j])),
                    Witness(fr_from_i128(q.max(0))),
                    Witness(fr_from_i128((-q).max(0))),
                ]);
                let shift = packed.word_bits * p as u32;
                coefficients.extend([
                    Constant(pow2(shift)),
                    Constant(pow2(shift + s)),
                    Constant(-pow2(shift + s)),
                ]);
            }
            let (recomposed, cells) = gate.inner_product_left(ctx, digits, coefficients);
            ctx.constrain_equal(&recomposed, &acc);
            for (p, cell) in cells.chunks(3).enumerate() {
                let (r, y, n) = (cell[0], cell[1], cell[2]);
                range.range_check(ctx, r, s as usize);
                let bits = packed.split_bits as usize;
                check_digits(ctx, range, (y, n), bits, shape.joint_digit_checks);
                let j = group.first + p;
                output.push(match layer.activation {
                    Activation::Relu => y,
                    Activation::Identity => gate.sub(ctx, y, n),
                    Activation::Sigmoid | Activation::Tanh => {
                        let q = gate.sub(ctx, y, n);
                        let table = layer.activation.table(s).expect("a table activation");
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
                });
            }
        }
        input = output;
    }
    let range_bounds = (shape.score_range.min, shape.score_range.max);
    clamp(ctx, range, input[0], trace.raw_score, range_bounds, shape.clamp_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::mock_prove;

    /// Both forms of the digit check accept exactly the same pairs: both in range with one of
    /// them zero.
    #[test]
    fn joint_digit_checks_refuse_what_separate_checks_refuse() {
        const BITS: usize = 22;
        let top = (1i64 << BITS) - 1;
        for ((y, n), ok) in [
            ((0, 0), true),
            ((5, 0), true),
            ((0, 7), true),
            ((top, 0), true),
            ((0, top), true),
            ((-1, 0), false),
            ((0, -1), false),
            ((top + 1, 0), false),
            ((0, top + 1), false),
            ((3, 2), false),
            ((top, -top), false),
        ] {
            for joint in [false, true] {
                let (_, result) = mock_prove(12, 11, |ctx, range, _| {
                    let [y, n]: [AssignedValue<Fr>; 2] = ctx
                        .assign_witnesses([fr_from_i64(y), fr_from_i64(n)])
                        .try_into()
                        .expect("two values");
                    check_digits(ctx, range, (y, n), BITS, joint);
                });
                assert_eq!(result.is_ok(), ok, "y {y}, n {n}, joint {joint}");
            }
        }
    }
}
