//! The contribution chip against merit-core's golden traces: contribution hashes and the batch
//! commitment chain match; a changed field or a skipped contribution changes the commitment.

use merit_circuits::{
    builder::mock_prove_with_poseidon,
    contribution::{chain, contribution_hash, load_contribution},
};
use merit_core::{batch::batch_commitment_seed, vectors::BatchVector, Contribution};

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

/// Chains `contributions` in the circuit and constrains the result to the vector's commitment.
fn run(vector: &BatchVector, contributions: &[Contribution], satisfied: bool) {
    let (_, result) = mock_prove_with_poseidon(15, 14, |ctx, range, _, poseidon| {
        let mut commitment = ctx.load_constant(batch_commitment_seed());
        for (i, c) in contributions.iter().enumerate() {
            let assigned = load_contribution(ctx, range, c);
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
