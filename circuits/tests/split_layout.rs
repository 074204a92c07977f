//! The split account layout (`merit_circuits::split_layout`) on merit-core's golden batches:
//! the honest witness satisfies the batch circuit with the batch output as public instances,
//! for any number of link slots that fits; each tampering of the account writes fails.

use halo2_base::{
    gates::circuit::CircuitBuilderStage, halo2_proofs::dev::MockProver,
    halo2_proofs::halo2curves::bn256::Fr,
};
use merit_circuits::{
    batch::{build_batch_circuit_with, AccountWitness, BatchCircuitError, BatchShape},
    builder::MeritCircuitBuilder,
    model::ModelShape,
    split_layout::SplitWrites,
};
use merit_core::{vectors::BatchVector, AccountLeaf};

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

fn new_accounts(vector: &BatchVector) -> usize {
    vector.trace.accounts.iter().filter(|u| u.is_new).count()
}

fn shape(vector: &BatchVector, links: usize) -> BatchShape {
    BatchShape {
        max_contributions: 10,
        max_accounts: 5,
        max_new_accounts: Some(links),
        depth: vector.prev_state.depth(),
        model: ModelShape::of(&vector.model).unwrap(),
    }
}

fn writes(vector: &BatchVector, shape: &BatchShape) -> SplitWrites {
    match AccountWitness::of(shape, vector).unwrap() {
        AccountWitness::Split(writes) => writes,
        AccountWitness::Uniform => panic!("a split shape"),
    }
}

/// Builds the circuit with `writes` as the account witness; returns the public instances and
/// whether MockProver accepts them.
fn verify(vector: &BatchVector, shape: &BatchShape, writes: SplitWrites) -> (Vec<Fr>, bool) {
    let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, 18, 17);
    let instances =
        build_batch_circuit_with(&mut builder, shape, vector, &AccountWitness::Split(writes))
            .expect("the batch fits the shape");
    builder.calculate_params();
    let ok = MockProver::run(18, &builder, vec![instances.clone()]).unwrap().verify().is_ok();
    (instances, ok)
}

#[test]
fn honest_batches_satisfy_the_split_layout_with_their_outputs() {
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        let new = new_accounts(&vector);
        // Exactly enough link slots, and one to spare (an inactive link slot).
        for links in [new, new + 1] {
            let shape = shape(&vector, links);
            let (instances, ok) = verify(&vector, &shape, writes(&vector, &shape));
            assert!(ok, "{name} with {links} link slots");
            assert_eq!(instances, vector.public_instances, "{name}");
        }
    }
}

#[test]
fn more_new_accounts_than_link_slots_are_refused() {
    let vector = golden("batch_d8_1.json");
    let new = new_accounts(&vector);
    assert_eq!(new, 4);
    let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, 18, 17);
    let err = merit_circuits::batch::build_batch_circuit(&mut builder, &shape(&vector, 3), &vector)
        .unwrap_err();
    assert!(matches!(err, BatchCircuitError::NewAccounts { new: 4, max_new_accounts: 3 }), "{err}");
}

/// The golden batch of new accounts that share one predecessor (the sentinel) on an empty tree
/// and of new and existing accounts: each edit of its honest writes must fail.
fn tampered(name: &str, edit: impl FnOnce(&mut SplitWrites)) {
    let vector = golden(name);
    let shape = shape(&vector, new_accounts(&vector) + 1);
    let mut writes = writes(&vector, &shape);
    edit(&mut writes);
    let (_, ok) = verify(&vector, &shape, writes);
    assert!(!ok);
}

#[test]
fn a_skipped_link_fails() {
    tampered("batch_d8_2.json", |w| {
        // The last active link becomes a no-op: one new account has no link.
        let last = w.links.iter().rposition(|l| l.active).unwrap();
        let unchanged = w.links[last].write.old.unwrap();
        w.links[last].active = false;
        w.links[last].write.new = unchanged;
    });
}

#[test]
fn links_in_ascending_order_fail() {
    // All four new accounts share the sentinel as predecessor.
    tampered("batch_d8_1.json", |w| w.links[..4].reverse());
}

#[test]
fn a_new_account_with_another_next_fails() {
    tampered("batch_d8_1.json", |w| {
        let slot = w.slots.iter_mut().find(|s| s.is_new).unwrap();
        slot.write.new.next = slot.write.new.address;
    });
}

#[test]
fn a_new_account_claimed_existing_fails() {
    tampered("batch_d8_2.json", |w| {
        let slot = w.slots.iter_mut().find(|s| s.is_new).unwrap();
        slot.is_new = false;
        slot.write.old = Some(AccountLeaf { cumulative: 0, ..slot.write.new });
    });
}

#[test]
fn an_existing_account_re_appended_fails() {
    tampered("batch_d8_2.json", |w| {
        let slot = w.slots.iter_mut().find(|s| !s.is_new).unwrap();
        slot.is_new = true;
        slot.write.old = None;
    });
}

#[test]
fn an_existing_account_with_a_wrong_old_leaf_fails() {
    tampered("batch_d8_2.json", |w| {
        let slot = w.slots.iter_mut().find(|s| !s.is_new).unwrap();
        let old = slot.write.old.as_mut().unwrap();
        old.cumulative += 1;
    });
}

#[test]
fn a_link_above_its_gap_fails() {
    // The link of the largest new account names a predecessor whose `next` is not above it.
    tampered("batch_d8_2.json", |w| {
        let link = &mut w.links[0];
        link.write.old.as_mut().unwrap().next = link.address;
    });
}
