//! The keccak chip against alloy's keccak256: fixed and variable lengths around the block
//! boundaries and the touched-list shape give alloy's digest limbs (MockProver); a wrong limb, a
//! non-byte input, a length above the maximum and a tampered cell fail.

use alloy_primitives::keccak256;
use halo2_base::{
    gates::GateInstructions,
    halo2_proofs::{halo2curves::ff::Field, plonk::Assigned},
    AssignedValue,
};
use merit_circuits::{
    builder::{mock_prove_inspect, CircuitStats, MeritCircuitBuilder},
    keccak::{digest_limbs, keccak256_fixed, keccak256_var, permutations, RATE_BYTES, TABLE_ROWS},
};
use merit_core::{samples::SplitMix64, Fr};

const K: usize = 17;
const LOOKUP_BITS: usize = 16;

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn limbs_of(message: &[u8]) -> [Fr; 2] {
    digest_limbs(&keccak256(message).0)
}

/// Hashes `bytes` (as field elements, so tests can pass non-bytes) in the circuit, with a
/// witness length when `len` is given, constrains the limbs to `expected`; returns the limbs the
/// circuit computed, its stats and whether MockProver accepted.
fn prove(
    bytes: &[Fr],
    len: Option<Fr>,
    expected: [Fr; 2],
    tamper: impl FnOnce(&mut MeritCircuitBuilder),
) -> ([Fr; 2], CircuitStats, bool) {
    let (limbs, stats, result) = mock_prove_inspect(
        K,
        LOOKUP_BITS,
        |ctx, range, tables, _| {
            let cells: Vec<AssignedValue<Fr>> = ctx.assign_witnesses(bytes.iter().copied());
            let out = match len {
                Some(len) => {
                    let len = ctx.load_witness(len);
                    keccak256_var(ctx, range, tables, &cells, len)
                }
                None => keccak256_fixed(ctx, range, tables, &cells),
            };
            for (limb, value) in out.iter().zip(expected) {
                range.gate.assert_is_const(ctx, limb, &value);
            }
            [*out[0].value(), *out[1].value()]
        },
        tamper,
    );
    (limbs, stats, result.is_ok())
}

fn as_fr(bytes: &[u8]) -> Vec<Fr> {
    bytes.iter().map(|b| Fr::from(u64::from(*b))).collect()
}

/// keccak256 of `len` random bytes with a fixed length: the circuit's limbs are alloy's.
fn check_fixed(len: usize) -> CircuitStats {
    let message = random_bytes(len as u64, len);
    let expected = limbs_of(&message);
    let (limbs, stats, ok) = prove(&as_fr(&message), None, expected, |_| ());
    assert!(ok, "fixed length {len}");
    assert_eq!(limbs, expected, "fixed length {len}");
    stats
}

/// keccak256 of the first `len` of `max` random bytes with a witness length.
fn check_var(max: usize, len: usize, seed: u64) -> CircuitStats {
    let bytes = random_bytes(seed, max);
    let expected = limbs_of(&bytes[..len]);
    let (limbs, stats, ok) = prove(&as_fr(&bytes), Some(Fr::from(len as u64)), expected, |_| ());
    assert!(ok, "length {len} of {max}");
    assert_eq!(limbs, expected, "length {len} of {max}");
    stats
}

macro_rules! fixed_cases {
    ($($name:ident: $len:expr,)*) => {$(
        #[test]
        fn $name() {
            check_fixed($len);
        }
    )*};
}

fixed_cases! {
    fixed_0: 0,
    fixed_1: 1,
    fixed_31: 31,
    fixed_32: 32,
    fixed_135_pad_bytes_share_one_byte: 135,
    fixed_136_full_block: 136,
    fixed_137: 137,
    fixed_200: 200,
    fixed_272: 272,
}

macro_rules! var_cases {
    ($($name:ident: $max:expr, $len:expr,)*) => {$(
        #[test]
        fn $name() {
            check_var($max, $len, 1000 + $len as u64);
        }
    )*};
}

// Witness lengths below a maximum of two blocks' worth (272 bytes: three permutations, the
// digest taken from the block where the padding ends).
var_cases! {
    var_0_of_272: 272, 0,
    var_1_of_272: 272, 1,
    var_31_of_272: 272, 31,
    var_32_of_272: 272, 32,
    var_135_of_272_pad_bytes_share_one_byte: 272, 135,
    var_136_of_272: 272, 136,
    var_137_of_272: 272, 137,
    var_200_of_272: 272, 200,
    var_272_of_272: 272, 272,
}

/// The touched list: 32-byte words, `m` of `max_words` used, random bytes after the used words
/// (the chip ignores them).
fn check_touched(max_words: usize, m: usize, seed: u64) {
    let bytes = random_bytes(seed, 32 * max_words);
    let expected = limbs_of(&bytes[..32 * m]);
    let (limbs, _, ok) = prove(&as_fr(&bytes), Some(Fr::from(32 * m as u64)), expected, |_| ());
    assert!(ok, "{m} of {max_words} words");
    assert_eq!(limbs, expected, "{m} of {max_words} words");
}

#[test]
fn touched_list_5_of_8_words() {
    check_touched(8, 5, 7);
}

#[test]
fn touched_list_0_of_4_words() {
    check_touched(4, 0, 8);
}

#[test]
fn touched_list_7_of_8_words() {
    check_touched(8, 7, 9);
}

#[test]
fn a_wrong_limb_fails() {
    let message = random_bytes(11, 40);
    let [hi, lo] = limbs_of(&message);
    let bytes = as_fr(&message);
    let (limbs, _, ok) = prove(&bytes, Some(Fr::from(40)), [hi + Fr::ONE, lo], |_| ());
    assert!(!ok);
    assert_eq!(limbs, [hi, lo], "the honest witness computes the digest");
    let (_, _, ok) = prove(&bytes, None, [hi, lo - Fr::ONE], |_| ());
    assert!(!ok);
}

#[test]
fn the_digest_of_another_length_fails() {
    let message = random_bytes(12, 64);
    let expected = limbs_of(&message[..33]);
    let (_, _, ok) = prove(&as_fr(&message), Some(Fr::from(32)), expected, |_| ());
    assert!(!ok);
}

#[test]
fn a_non_byte_input_fails() {
    let message = random_bytes(13, 40);
    let mut bytes = as_fr(&message);
    bytes[3] = Fr::from(256);
    // The limbs the circuit computes for this witness, so only the byte check can fail.
    let (limbs, _, _) = prove(&bytes, Some(Fr::from(40)), [Fr::ZERO; 2], |_| ());
    let (_, _, ok) = prove(&bytes, Some(Fr::from(40)), limbs, |_| ());
    assert!(!ok, "a non-byte inside the message");
    // Past `len` too: every input byte is range-checked.
    let mut bytes = as_fr(&message);
    bytes[39] = -Fr::ONE;
    let expected = limbs_of(&message[..20]);
    let (_, _, ok) = prove(&bytes, Some(Fr::from(20)), expected, |_| ());
    assert!(!ok, "a non-byte past len");
    let (_, _, ok) = prove(&bytes, None, [Fr::ZERO; 2], |_| ());
    assert!(!ok, "a non-byte with a fixed length");
}

#[test]
fn a_length_above_the_maximum_fails() {
    let message = random_bytes(14, 40);
    let bytes = as_fr(&message);
    for len in [Fr::from(41), Fr::from(1 << 20), -Fr::ONE] {
        let (limbs, _, _) = prove(&bytes, Some(len), [Fr::ZERO; 2], |_| ());
        let (_, _, ok) = prove(&bytes, Some(len), limbs, |_| ());
        assert!(!ok, "len {len:?}");
    }
}

#[test]
fn a_tampered_cell_fails() {
    let message = random_bytes(15, 50);
    let expected = limbs_of(&message);
    let bytes = as_fr(&message);
    for fraction in [3, 2] {
        let (_, _, ok) = prove(&bytes, Some(Fr::from(50)), expected, |builder| {
            let ctx = builder.base.main(0);
            let i = ctx.advice.len() / fraction;
            let value = ctx.advice[i].evaluate() + Fr::ONE;
            ctx.advice[i] = Assigned::Trivial(value);
        });
        assert!(!ok, "cell 1/{fraction} of the way");
    }
}

/// Measures one keccak-f (with the absorption of its block) as the difference between two- and
/// one-block messages, and the variable-length overhead per byte.
#[test]
fn cost_per_permutation() {
    let one = check_fixed(0);
    let two = check_fixed(RATE_BYTES);
    let gate = two.gate_cells - one.gate_cells;
    let range = two.range_lookup_cells - one.range_lookup_cells;
    let lookups = two.table_lookups - one.table_lookups;
    let total = two.total_advice_cells() - one.total_advice_cells();
    assert_eq!(one.table_rows, TABLE_ROWS);
    assert_eq!(two.table_rows, TABLE_ROWS);
    println!(
        "per keccak-f: {gate} gate cells, {range} range-lookup cells, {lookups} table lookups, \
         {total} advice cells in all; tables: {} rows",
        two.table_rows
    );
    let var = check_var(RATE_BYTES - 1, RATE_BYTES - 1, 5);
    let fixed = check_fixed(RATE_BYTES - 1);
    let per_byte =
        (var.total_advice_cells() - fixed.total_advice_cells()) as f64 / (RATE_BYTES - 1) as f64;
    println!("variable length: {per_byte:.1} advice cells per byte of maximum length");
    println!("one-block circuit: {one:?}");
    assert_eq!(permutations(RATE_BYTES - 1), 1);
    assert!(total < 300_000, "{total} advice cells per keccak-f");
}

#[test]
fn two_hashes_share_the_tables() {
    let (first, second) = (random_bytes(21, 10), random_bytes(22, 70));
    let expected = [limbs_of(&first), limbs_of(&second)];
    let (limbs, stats, result) = mock_prove_inspect(
        K,
        LOOKUP_BITS,
        |ctx, range, tables, _| {
            let a: Vec<AssignedValue<Fr>> = ctx.assign_witnesses(as_fr(&first));
            let b: Vec<AssignedValue<Fr>> = ctx.assign_witnesses(as_fr(&second));
            let len = ctx.load_witness(Fr::from(70));
            let out = [
                keccak256_fixed(ctx, range, tables, &a),
                keccak256_var(ctx, range, tables, &b, len),
            ];
            out.map(|limbs| [*limbs[0].value(), *limbs[1].value()])
        },
        |_| (),
    );
    assert!(result.is_ok());
    assert_eq!(limbs, expected);
    assert_eq!(stats.table_rows, TABLE_ROWS);
}
