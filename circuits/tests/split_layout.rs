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
    poseidon::{PoseidonChip, PoseidonLayout},
    sorted_writes::SortedWrites,
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
        active_depth: None,
        top_levels: None,
        lean_range_checks: false,
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

/// `shape` writing only `levels` levels of the tree (`links`: the split layout, or uniform).
fn prefix_shape(vector: &BatchVector, links: Option<usize>, levels: usize) -> BatchShape {
    BatchShape { max_new_accounts: links, active_depth: Some(levels), ..shape(vector, 0) }
}

/// `shape` with the lean range checks (as the throughput configurations have them).
fn lean(shape: BatchShape) -> BatchShape {
    let model = ModelShape { joint_digit_checks: true, ..shape.model };
    BatchShape { lean_range_checks: true, model, ..shape }
}

/// Builds the batch circuit for `vector` (its own witness) and runs MockProver against
/// `vector.public_instances`.
fn verify_own(vector: &BatchVector, shape: &BatchShape) -> Result<bool, BatchCircuitError> {
    verify_own_in(PoseidonLayout::Narrow, vector, shape)
}

/// [`verify_own`] with the Poseidon gate in `layout`.
fn verify_own_in(
    layout: PoseidonLayout,
    vector: &BatchVector,
    shape: &BatchShape,
) -> Result<bool, BatchCircuitError> {
    let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, 18, 17);
    builder.poseidon_layout = layout;
    builder.poseidon = PoseidonChip::new(layout);
    let instances = merit_circuits::batch::build_batch_circuit(&mut builder, shape, vector)?;
    assert_eq!(instances, vector.public_instances);
    builder.calculate_params();
    Ok(MockProver::run(18, &builder, vec![instances]).unwrap().verify().is_ok())
}

/// The smallest `active_depth` whose prefix holds the tree after the batch.
fn fitting_levels(vector: &BatchVector) -> usize {
    let leaves = vector.prev_state.next_index() + new_accounts(vector) as u64;
    leaves.next_power_of_two().trailing_zeros() as usize
}

#[test]
fn honest_batches_satisfy_an_active_depth_with_their_outputs() {
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        let (depth, fitting) = (vector.prev_state.depth(), fitting_levels(&vector));
        assert!(fitting < depth - 1, "{name}: the prefix is a real cut");
        for links in [Some(new_accounts(&vector)), None] {
            // The smallest prefix with the lean range checks as well.
            for (levels, lean_checks) in [(fitting, true), (depth - 1, false)] {
                let mut shape = prefix_shape(&vector, links, levels);
                if lean_checks {
                    shape = lean(shape);
                }
                assert!(verify_own(&vector, &shape).unwrap(), "{name} {links:?} {levels}");
            }
        }
    }
}

#[test]
fn a_batch_beyond_the_active_depth_is_refused() {
    let vector = golden("batch_d8_1.json");
    // An empty tree: the sentinel and 4 new accounts are 5 leaves; 2 levels hold 4.
    assert_eq!(fitting_levels(&vector), 3);
    let err = verify_own(&vector, &prefix_shape(&vector, Some(4), 2)).unwrap_err();
    assert!(
        matches!(err, BatchCircuitError::Capacity { leaves: 5, capacity: 4, active_depth: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("larger active_depth"), "{err}");
}

/// The attack the spine check stops: `prev_root` of a tree with the same first `2^levels`
/// leaves plus one more leaf beyond them (an account the account slots would never see).
#[test]
fn a_leaf_beyond_the_prefix_fails() {
    use merit_core::{account_tree::zero_hashes, poseidon::hash2};
    for links in [Some(4), None] {
        let mut vector = golden("batch_d8_1.json");
        let levels = fitting_levels(&vector);
        let shape = prefix_shape(&vector, links, levels);
        assert!(verify_own(&vector, &shape).unwrap());
        let zeros = zero_hashes(vector.prev_state.depth());
        let prefix = merit_circuits::account_tree::prefix_root(&vector.prev_state, levels);
        // The right neighbour subtree holds one leaf (value 7) at its index 0.
        let neighbour = merit_core::account_tree::compute_root(0, Fr::from(7), &zeros[..levels]);
        let hidden = (levels + 1..zeros.len() - 1)
            .fold(hash2(prefix, neighbour), |node, height| hash2(node, zeros[height]));
        assert_ne!(hidden, vector.output.prev_root);
        vector.output.prev_root = hidden;
        vector.public_instances[0] = hidden;
        assert!(!verify_own(&vector, &shape).unwrap(), "{links:?}");
    }
}

/// The split layout with its writes sorted under a top tree of `top` levels, on `levels`
/// written levels (one link slot to spare).
fn sorted_shape(vector: &BatchVector, levels: usize, top: usize) -> BatchShape {
    let depth = vector.prev_state.depth();
    BatchShape {
        max_new_accounts: Some(new_accounts(vector) + 1),
        active_depth: (levels < depth).then_some(levels),
        top_levels: Some(top),
        ..shape(vector, 0)
    }
}

#[test]
fn honest_batches_satisfy_sorted_writes_with_their_outputs() {
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        let (depth, fitting) = (vector.prev_state.depth(), fitting_levels(&vector));
        // Subtrees of one level (pairs of leaves: many runs), of several, the whole depth.
        assert!(fitting >= 2, "{name}: the sentinel and an account");
        for (levels, top) in [(fitting, fitting - 1), (depth - 1, 2), (depth, 3)] {
            for lean_checks in [false, true] {
                let mut shape = sorted_shape(&vector, levels, top);
                if lean_checks {
                    shape = lean(shape);
                }
                assert!(verify_own(&vector, &shape).unwrap(), "{name} {levels} {top}");
            }
        }
        // As the throughput configurations run it: lean, wide Poseidon layout.
        let shape = lean(sorted_shape(&vector, fitting, fitting - 1));
        assert!(verify_own_in(PoseidonLayout::Wide, &vector, &shape).unwrap(), "{name} wide");
    }
}

/// Every tampering of the slots' writes that the chained writes refuse, the sorted writes
/// refuse as well (the slot checks are the same; the paths are proven in the sorted pass).
#[test]
fn tampered_slot_writes_fail_when_sorted() {
    type Edit = fn(&mut SplitWrites);
    let edits: [(&str, Edit); 4] = [
        ("batch_d8_2.json", |w| {
            let slot = w.slots.iter_mut().find(|s| !s.is_new).unwrap();
            slot.write.old.as_mut().unwrap().cumulative += 1;
        }),
        ("batch_d8_2.json", |w| {
            let slot = w.slots.iter_mut().find(|s| s.is_new).unwrap();
            slot.is_new = false;
            slot.write.old = Some(AccountLeaf { cumulative: 0, ..slot.write.new });
        }),
        ("batch_d8_2.json", |w| {
            let slot = w.slots.iter_mut().find(|s| !s.is_new).unwrap();
            slot.is_new = true;
            slot.write.old = None;
        }),
        ("batch_d8_1.json", |w| {
            let link = &mut w.links[0];
            link.write.old.as_mut().unwrap().next = link.address;
        }),
    ];
    for (name, edit) in edits {
        let vector = golden(name);
        let fitting = fitting_levels(&vector);
        let shape = sorted_shape(&vector, fitting, fitting - 1);
        let mut writes = writes(&vector, &shape);
        assert!(verify(&vector, &shape, writes.clone()).1, "{name}: honest");
        edit(&mut writes);
        assert!(!verify(&vector, &shape, writes).1, "{name}: tampered");
    }
}

/// batch_d8_1 (an empty tree, 4 new accounts: leaves 0..=4) with subtrees of two leaves: the
/// writes fall in subtrees 0, 1 and 2. `edit` changes the sorted pass's witness.
fn sorted_tampered(edit: impl FnOnce(&mut SortedWrites)) -> bool {
    let vector = golden("batch_d8_1.json");
    let shape = sorted_shape(&vector, 3, 2);
    let mut writes = writes(&vector, &shape);
    let sorted = writes.sorted.as_mut().unwrap();
    assert_eq!(sorted.touched, [true, true, true, false]);
    edit(sorted);
    verify(&vector, &shape, writes).1
}

#[test]
fn the_untampered_sorted_pass_is_accepted() {
    assert!(sorted_tampered(|_| {}));
}

#[test]
fn a_write_proven_twice_instead_of_another_fails() {
    // The last sorted write (the highest leaf) replaced by a second copy of the one before:
    // every lookup and path would hold, but the keys no longer increase.
    assert!(!sorted_tampered(|s| {
        let n = s.order.len();
        s.order[n - 1] = s.order[n - 2];
        s.siblings[n - 1] = s.siblings[n - 2].clone();
    }));
}

#[test]
fn sorted_writes_out_of_order_fail() {
    // Two writes of different subtrees exchanged with their paths: only the order is wrong.
    assert!(!sorted_tampered(|s| {
        let n = s.order.len();
        s.order.swap(n - 1, n - 2);
        s.siblings.swap(n - 1, n - 2);
    }));
}

#[test]
fn a_wrong_sibling_in_the_sorted_pass_fails() {
    assert!(!sorted_tampered(|s| s.siblings[0][0] += Fr::one()));
}

#[test]
fn a_written_subtree_claimed_untouched_fails() {
    assert!(!sorted_tampered(|s| {
        s.touched[2] = false;
        s.roots_after[2] = s.roots_before[2];
    }));
}

#[test]
fn an_unwritten_subtree_claimed_touched_fails() {
    assert!(!sorted_tampered(|s| {
        s.touched[3] = true;
        s.roots_after[3] += Fr::one();
    }));
}

#[test]
fn a_wrong_subtree_root_before_the_batch_fails() {
    assert!(!sorted_tampered(|s| s.roots_before[3] += Fr::one()));
}

/// `build_batch_circuit` plans the account witness on another thread while it assigns the
/// contribution slots; the cells, their order, the permutations and the table rows must be
/// those of the sequential `build_batch_circuit_with`, or keys made by one would not prove
/// witnesses of the other.
#[test]
fn the_concurrent_build_assigns_what_the_sequential_one_does() {
    let vector = golden("batch_d24_tanh.json");
    let fitting = fitting_levels(&vector);
    let shapes =
        [shape(&vector, new_accounts(&vector)), lean(sorted_shape(&vector, fitting, fitting - 1))];
    for shape in shapes {
        let build = |concurrent: bool| {
            let mut builder = MeritCircuitBuilder::new(CircuitBuilderStage::Mock, 18, 17);
            let instances = if concurrent {
                merit_circuits::batch::build_batch_circuit(&mut builder, &shape, &vector)
            } else {
                let accounts = AccountWitness::of(&shape, &vector).unwrap();
                build_batch_circuit_with(&mut builder, &shape, &vector, &accounts)
            }
            .unwrap();
            let cells: Vec<Fr> =
                builder.base.main(0).advice.iter().map(|cell| cell.evaluate()).collect();
            let states: Vec<[Fr; 3]> =
                builder.poseidon.permutations().iter().map(|p| p.state).collect();
            builder.calculate_params();
            (instances, cells, states, builder.stats())
        };
        let (concurrent, sequential) = (build(true), build(false));
        assert!(!concurrent.1.is_empty() && !concurrent.2.is_empty());
        assert_eq!(concurrent, sequential, "{shape:?}");
    }
}
