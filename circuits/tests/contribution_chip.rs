//! The contribution chip against merit-core's golden traces: contribution hashes and the batch
//! commitment chain match; a changed field or a skipped contribution changes the commitment.

use merit_circuits::{
    builder::{mock_prove, mock_prove_with_poseidon},
    contribution::{chain, contribution_hash, load_contribution, load_feature},
};
use merit_core::{batch::batch_commitment_seed, vectors::BatchVector, Contribution};

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

/// Chains `contributions` in the circuit and constrains the result to the vector's commitment,
/// with every field range-checked and with the lean checks (at lookup width 15, where the
/// features take one lookup each).
fn run(vector: &BatchVector, contributions: &[Contribution], satisfied: bool) {
    for (k, lookup_bits, all_checks) in [(15, 14, true), (16, 15, false)] {
        run_with(vector, contributions, satisfied, (k, lookup_bits, all_checks));
    }
}

fn run_with(
    vector: &BatchVector,
    contributions: &[Contribution],
    satisfied: bool,
    (k, lookup_bits, all_checks): (usize, usize, bool),
) {
    let (_, result) = mock_prove_with_poseidon(k, lookup_bits, |ctx, range, _, poseidon| {
        let mut commitment = ctx.load_constant(batch_commitment_seed());
        for (i, c) in contributions.iter().enumerate() {
            let assigned = load_contribution(ctx, range, c, all_checks);
            let hash = contribution_hash(ctx, range, poseidon, &assigned);
            if satisfied {
                assert_eq!(*hash.value(), vector.trace.contributions[i].contribution_hash);
            }
            commitment = chain(ctx, poseidon, commitment, hash);
        }
        let expected = ctx.load_witness(vector.output.batch_commitment);
        ctx.constrain_equal(&commitment, &expected);
    });
    assert_eq!(result.is_ok(), satisfied, "{result:?}");
}

#[test]
fn hashes_and_commitment_match_the_golden_batches() {
    for name in ["batch_d8_1.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        run(&vector, &vector.batch.unsigned(), true);
    }
}

#[test]
fn a_changed_feature_fails() {
    let vector = golden("batch_d8_1.json");
    let mut contributions = vector.batch.unsigned();
    contributions[2].features[14] ^= 1;
    run(&vector, &contributions, false);
}

#[test]
fn a_skipped_contribution_fails() {
    let vector = golden("batch_d8_1.json");
    let mut contributions = vector.batch.unsigned();
    contributions.remove(5);
    run(&vector, &contributions, false);
}

#[test]
fn a_duplicated_contribution_fails() {
    let vector = golden("batch_d8_1.json");
    let mut contributions = vector.batch.unsigned();
    contributions[1] = contributions[0].clone();
    run(&vector, &contributions, false);
}

/// The lean feature load: every `i16` gives its own value; one beyond either end is refused.
#[test]
fn a_lean_feature_load_accepts_exactly_the_i16_range() {
    for (f, satisfied) in [
        (i64::from(i16::MIN), true),
        (-1, true),
        (0, true),
        (i64::from(i16::MAX), true),
        (i64::from(i16::MAX) + 1, false),
        (i64::from(i16::MIN) - 1, false),
        (1 << 20, false),
    ] {
        let (value, result) =
            mock_prove(16, 15, |ctx, range, _| *load_feature(ctx, range, f).value());
        assert_eq!(result.is_ok(), satisfied, "{f}: {result:?}");
        assert_eq!(value, merit_core::field::fr_from_i64(f));
    }
}
