//! Fixed-point gadgets over halo2-base's `RangeChip`, the in-circuit twins of the integer
//! semantics in `merit_core::model` and `merit_core::policy`.
//!
//! Every gadget takes its witness values from merit-core's trace (the honest prover's values)
//! and constrains them, so a tampered trace fails the circuit. Signed integers are field
//! elements `x mod p`; each gadget documents the magnitude it assumes and enforces.
//!
//! Layout notes (advice cells on the flex gate, `lookup_bits = L`): a range check of `b` bits
//! costs `ceil(b / L)` lookups plus about `3 · ceil(b / L)` cells; [`relu`] costs two such range
//! checks plus about 8 cells; [`floor_div`] one `S`-bit range check plus 4 cells.

use std::sync::LazyLock;

use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::bn256::Fr,
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
};
use merit_core::field::fr_from_i64;

/// `2^bits` as a field element.
///
/// From a table for `bits < 256` (the circuit's inner loops call this for every packed word,
/// and exponentiation was a sixth of an n1024 witness); computed for larger `bits`.
pub fn pow2(bits: u32) -> Fr {
    static POWERS: LazyLock<Vec<Fr>> = LazyLock::new(|| {
        std::iter::successors(Some(Fr::one()), |x| Some(x.double())).take(256).collect()
    });
    match POWERS.get(bits as usize) {
        Some(power) => *power,
        None => Fr::from(2u64).pow_vartime([u64::from(bits)]),
    }
}

/// Constrains `|x| < 2^bits` for a signed `x` (`bits + 1 ≤ 250`).
pub fn check_signed(ctx: &mut Context<Fr>, range: &RangeChip<Fr>, x: AssignedValue<Fr>, bits: u32) {
    let shifted = range.gate.add(ctx, x, Constant(pow2(bits)));
    range.range_check(ctx, shifted, bits as usize + 1);
}

/// `max(x, 0)` of a signed `x` with `|x| < 2^bits`, given the witness `x`'s integer value.
///
/// Layout: witnesses `y = max(x, 0)` and `n = max(-x, 0)`; constrains `y, n ∈ [0, 2^bits)`,
/// `y · n = 0` and `x = y - n`. This also proves `|x| < 2^bits`.
pub fn relu(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    x: AssignedValue<Fr>,
    x_value: i128,
    bits: u32,
) -> AssignedValue<Fr> {
    let y = ctx.load_witness(fr_from_i128(x_value.max(0)));
    let n = ctx.load_witness(fr_from_i128((-x_value).max(0)));
    range.range_check(ctx, y, bits as usize);
    range.range_check(ctx, n, bits as usize);
    let product = range.gate.mul(ctx, y, n);
    range.gate.assert_is_const(ctx, &product, &Fr::zero());
    let difference = range.gate.sub(ctx, y, n);
    ctx.constrain_equal(&difference, &x);
    y
}

/// `clamp(x, low, high)` of a signed `x` with `|x - low|, |x - high| < 2^bits`:
/// `low + relu(x - low) - relu(x - high)`.
pub fn clamp(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    x: AssignedValue<Fr>,
    x_value: i64,
    (low, high): (i64, i64),
    bits: u32,
) -> AssignedValue<Fr> {
    let above_low = range.gate.sub(ctx, x, Constant(fr_from_i64(low)));
    let above_low = relu(ctx, range, above_low, i128::from(x_value) - i128::from(low), bits);
    let above_high = range.gate.sub(ctx, x, Constant(fr_from_i64(high)));
    let above_high = relu(ctx, range, above_high, i128::from(x_value) - i128::from(high), bits);
    let span = range.gate.sub(ctx, above_low, above_high);
    range.gate.add(ctx, span, Constant(fr_from_i64(low)))
}

/// `floor(acc / 2^scale_bits)` of a signed accumulator, given the witness quotient `q` and
/// remainder `r` from the trace.
///
/// Layout: constrains `acc = q · 2^S + r` (one `mul_add`) and `r ∈ [0, 2^S)`. The caller must
/// bound `q` (for example through [`relu`] or [`check_signed`]); with `|q| < 2^b` and
/// `b + S < 250` the decomposition is unique, so `q` is the floor.
pub fn floor_div(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    acc: AssignedValue<Fr>,
    (q, r): (i64, i64),
    scale_bits: u32,
) -> AssignedValue<Fr> {
    let q = ctx.load_witness(fr_from_i64(q));
    let r = ctx.load_witness(fr_from_i64(r));
    range.range_check(ctx, r, scale_bits as usize);
    let recomposed = range.gate.mul_add(ctx, q, Constant(pow2(scale_bits)), r);
    ctx.constrain_equal(&recomposed, &acc);
    q
}

/// `Σ w_i x_i + b` over assigned values.
pub fn affine(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    weights: &[AssignedValue<Fr>],
    inputs: &[AssignedValue<Fr>],
    bias: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let dot =
        range.gate.inner_product(ctx, weights.iter().copied(), inputs.iter().map(|x| Existing(*x)));
    range.gate.add(ctx, dot, bias)
}

/// Whether a signed `d` with `|d| < 2^bits` is non-negative, as a constrained bit.
///
/// Layout: witness bit `b`; constrains `(2b - 1) · d + b - 1 ∈ [0, 2^bits)`, which is `d` when
/// `b = 1` and `-d - 1` when `b = 0`.
pub fn is_non_negative(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    d: AssignedValue<Fr>,
    d_value: i64,
    bits: u32,
) -> AssignedValue<Fr> {
    let gate = &range.gate;
    let bit = ctx.load_witness(Fr::from(u64::from(d_value >= 0)));
    gate.assert_bit(ctx, bit);
    let sign = gate.mul_add(ctx, bit, Constant(Fr::from(2)), Constant(-Fr::one()));
    let signed = gate.mul(ctx, sign, d);
    let folded = gate.sum(ctx, [Existing(signed), Existing(bit), Constant(-Fr::one())]);
    range.range_check(ctx, folded, bits as usize);
    bit
}

/// A signed 128-bit integer as a field element (`x mod p`).
pub fn fr_from_i128(x: i128) -> Fr {
    let magnitude = merit_core::field::fr_from_u128(x.unsigned_abs());
    if x < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Loads a signed integer as a witness.
pub fn load_i64(ctx: &mut Context<Fr>, value: i64) -> AssignedValue<Fr> {
    ctx.assign_region_last([Witness(fr_from_i64(value))], [])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_from_the_table_match_exponentiation() {
        for bits in [0, 1, 15, 16, 63, 64, 127, 128, 224, 253, 254, 255, 256, 300] {
            assert_eq!(pow2(bits), Fr::from(2u64).pow_vartime([u64::from(bits)]), "2^{bits}");
        }
    }
}
