//! The batch circuit on merit-core's golden batches: the honest witness satisfies it with the
//! batch output as public instances; each tampering fails.

use halo2_base::{
    gates::circuit::CircuitBuilderStage, halo2_proofs::dev::MockProver,
    halo2_proofs::halo2curves::bn256::Fr,
};
use merit_circuits::{
    batch::{build_batch_circuit, BatchShape, CIRCUIT_INSTANCES},
    builder::MeritCircuitBuilder,
    model::ModelShape,
};
use merit_core::{
    batch::{touched_challenge, touched_evaluation},
    vectors::BatchVector,
};

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

fn shape(vector: &BatchVector) -> BatchShape {
    BatchShape {
        max_contributions: 10,
        max_accounts: 5,
        max_new_accounts: None,
        depth: vector.prev_state.depth(),
        active_depth: None,
        top_levels: None,
        lean_range_checks: false,
        model: ModelShape::of(&vector.model).unwrap(),
    }
}

/// Builds the circuit for `witness`, exposes its outputs as the public instances and returns
/// them with whether MockProver accepts. A tampered witness therefore fails on the constraint
/// it breaks, not merely on an instance mismatch.
fn verify(witness: &BatchVector, shape: &BatchShape) -> (Vec<Fr>, bool) {
    verify_with(witness, shape, |_| ())
}

/// [`verify`] with the public instances changed by `edit` after the circuit computed them.
fn verify_with(
    witness: &BatchVector,
    shape: &BatchShape,
    edit: impl FnOnce(&mut Vec<Fr>),
) -> (Vec<Fr>, bool) {
    let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, 18, 17);
    let mut instances =
        build_batch_circuit(&mut builder, shape, witness).expect("the batch fits the shape");
    builder.calculate_params();
    edit(&mut instances);
    let ok = MockProver::run(18, &builder, vec![instances.clone()]).unwrap().verify().is_ok();
    (instances, ok)
}

#[test]
fn honest_batches_satisfy_the_circuit_with_their_outputs() {
    for name in ["batch_d8_1.json", "batch_d8_2.json"] {
        let vector = golden(name);
        let (instances, ok) = verify(&vector, &shape(&vector));
        assert!(ok, "{name}");
        assert_eq!(instances, vector.public_instances[..CIRCUIT_INSTANCES], "{name}");
    }
}

fn tampered(edit: impl FnOnce(&mut BatchVector)) {
    let honest = golden("batch_d8_2.json");
    let mut witness = honest.clone();
    edit(&mut witness);
    let (_, ok) = verify(&witness, &shape(&honest));
    assert!(!ok);
}

#[test]
fn a_replayed_nonce_fails() {
    // The first contribution of an existing account reuses its last settled nonce.
    tampered(|w| {
        let update = w
            .trace
            .accounts
            .iter()
            .find(|u| !u.is_new && u.contribution_count > 1)
            .unwrap()
            .clone();
        w.batch.contributions[update.first_contribution].contribution.nonce = update.old_last_nonce;
    });
}

#[test]
fn a_duplicated_contribution_fails() {
    tampered(|w| {
        let update = w.trace.accounts.iter().find(|u| u.contribution_count > 1).unwrap().clone();
        let first = update.first_contribution;
        w.batch.contributions[first + 1] = w.batch.contributions[first].clone();
        w.trace.contributions[first + 1] = w.trace.contributions[first].clone();
    });
}

#[test]
fn unsorted_contributors_fail() {
    tampered(|w| {
        let last = w.batch.contributions.len() - 1;
        w.batch.contributions.swap(0, last);
        w.trace.contributions.swap(0, last);
    });
}

#[test]
fn a_changed_policy_parameter_fails() {
    tampered(|w| w.policy.reward_per_point += 1);
}

#[test]
fn a_changed_model_weight_fails() {
    tampered(|w| {
        let mut layers = w.model.layers().to_vec();
        layers[0].weights[0][0] += 1;
        w.model = merit_core::QuantizedModel::new(
            w.model.scale_bits(),
            w.model.input_dim(),
            layers,
            w.model.score_range(),
        )
        .unwrap();
    });
}

#[test]
fn a_skipped_account_update_fails() {
    tampered(|w| {
        w.trace.accounts.pop();
    });
}

#[test]
fn a_wrong_reward_sum_fails() {
    tampered(|w| w.trace.accounts[0].reward_sum += 1);
}

/// The touched list a submitter could put in the calldata instead of the proven one, and the
/// challenge and evaluation the contract would derive from it.
fn calldata_instances(honest: &BatchVector, touched: &[merit_core::TouchedAccount]) -> (Fr, Fr) {
    let o = &honest.output;
    let header =
        [o.prev_root, o.new_root, o.batch_commitment, o.model_commitment, o.policy_commitment];
    let r = touched_challenge(&header, o.total_reward, touched);
    (r, touched_evaluation(r, touched))
}

fn with_calldata_list(edit: impl FnOnce(&mut Vec<merit_core::TouchedAccount>)) -> bool {
    let honest = golden("batch_d8_2.json");
    let mut touched = honest.output.touched.clone();
    edit(&mut touched);
    let (r, h) = calldata_instances(&honest, &touched);
    verify_with(&honest, &shape(&honest), |instances| {
        instances[6] = r;
        instances[7] = h;
    })
    .1
}

#[test]
fn the_proven_touched_list_is_accepted_as_calldata() {
    assert!(with_calldata_list(|_| ()));
}

#[test]
fn a_touched_entry_that_does_not_match_the_tree_fails() {
    assert!(!with_calldata_list(|t| t[0].cumulative += 1));
    assert!(!with_calldata_list(|t| t[1].address = merit_core::Address::repeat_byte(0x77)));
}

#[test]
fn a_reordered_shortened_or_extended_touched_list_fails() {
    assert!(!with_calldata_list(|t| t.swap(0, 1)));
    assert!(!with_calldata_list(|t| {
        t.pop();
    }));
    assert!(!with_calldata_list(|t| {
        let last = *t.last().unwrap();
        t.push(merit_core::TouchedAccount { cumulative: 1, ..last });
    }));
}

#[test]
fn the_evaluation_follows_the_challenge() {
    let honest = golden("batch_d8_2.json");
    let r = honest.output.touched_challenge + Fr::one();
    // A challenge other than the one the circuit evaluated at is refused...
    let (_, ok) = verify_with(&honest, &shape(&honest), |instances| instances[6] = r);
    assert!(!ok);
    // ...and the circuit evaluates the proven list at whatever challenge it is given (the
    // contract derives r itself, so a prover gains nothing from choosing it).
    let mut witness = honest.clone();
    witness.output.touched_challenge = r;
    let (instances, ok) = verify(&witness, &shape(&honest));
    assert!(ok);
    assert_eq!(instances[7], touched_evaluation(r, &honest.output.touched));
}
