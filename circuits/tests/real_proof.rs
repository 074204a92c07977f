//! Real keygen → prove → verify of the batch circuit at a small shape, with a deterministic
//! development SRS: the proof verifies with the batch output as public instances, and does not
//! with one instance changed.

use halo2_base::{
    gates::circuit::CircuitBuilderStage,
    halo2_proofs::{
        halo2curves::bn256::{Bn256, Fr},
        plonk::{keygen_pk, keygen_vk},
        poly::kzg::commitment::ParamsKZG,
    },
    utils::testing::{check_proof_with_instances, gen_proof_with_instances},
};
use merit_circuits::{
    batch::{build_batch_circuit, BatchShape, CIRCUIT_INSTANCES},
    builder::MeritCircuitBuilder,
    model::ModelShape,
};
use merit_core::{
    samples::{dev_domain, sample_contributions, sample_tanh_model, SplitMix64},
    vectors::BatchVector,
    Batch, Policy, State,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

const K: usize = 16;
const LOOKUP_BITS: usize = 15;

fn small_batch() -> BatchVector {
    let domain = dev_domain();
    let contributions =
        sample_contributions(&mut SplitMix64::new(5), &domain, 4, &[(1, 1, 2), (2, 1, 1)]);
    let policy = Policy {
        threshold: 0,
        base_reward: 10,
        reward_per_point: 1,
        cap: 500,
        batch_budget: 10_000,
    };
    BatchVector::build(
        "real-proof test batch",
        domain,
        sample_tanh_model(2),
        policy,
        State::new(4).unwrap(),
        Batch { batch_id: 1, contributions },
    )
    .unwrap()
}

fn build(builder: &mut MeritCircuitBuilder, shape: &BatchShape, vector: &BatchVector) -> Vec<Fr> {
    build_batch_circuit(builder, shape, vector).unwrap()
}

#[test]
fn a_real_proof_verifies_and_a_changed_instance_does_not() {
    let vector = small_batch();
    let shape = BatchShape {
        max_contributions: 4,
        max_accounts: 2,
        max_new_accounts: None,
        depth: 4,
        active_depth: None,
        top_levels: None,
        lean_range_checks: false,
        model: ModelShape::of(&vector.model).unwrap(),
    };
    // Development SRS: deterministic and insecure, for tests only.
    let params = ParamsKZG::<Bn256>::setup(K as u32, ChaCha20Rng::from_seed([7; 32]));

    let mut keygen = MeritCircuitBuilder::new(CircuitBuilderStage::Keygen, K, LOOKUP_BITS);
    keygen.base.set_instance_columns(1);
    build(&mut keygen, &shape, &vector);
    let circuit_params = keygen.calculate_params();
    let vk = keygen_vk(&params, &keygen).unwrap();
    let pk = keygen_pk(&params, vk, &keygen).unwrap();
    let break_points = keygen.base.break_points();

    let mut prover = MeritCircuitBuilder::prover(circuit_params, break_points);
    let instances = build(&mut prover, &shape, &vector);
    assert_eq!(instances, vector.public_instances[..CIRCUIT_INSTANCES]);
    let proof = gen_proof_with_instances(&params, &pk, prover, &[&instances]);
    check_proof_with_instances(&params, pk.get_vk(), &proof, &[&instances], true);

    for i in 0..CIRCUIT_INSTANCES {
        let mut changed = instances.clone();
        changed[i] += Fr::one();
        check_proof_with_instances(&params, pk.get_vk(), &proof, &[&changed], false);
    }
}
