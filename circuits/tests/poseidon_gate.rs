//! The Poseidon gate, in both layouts, against `merit_core::poseidon`: every hash agrees bit
//! for bit and the constraints hold (MockProver); tampered permutations, outputs, swap bits and
//! every single cell a permutation uses fail.

use halo2_base::{gates::GateInstructions, AssignedValue};
use merit_circuits::{
    builder::{mock_prove_layout, CircuitStats, MeritCircuitBuilder},
    poseidon::{PoseidonChip, PoseidonLayout, TamperCell, CELLS_PER_PERMUTATION},
};
use merit_core::{
    account_tree::AccountLeaf,
    field::{fr_from_address, fr_from_u128},
    poseidon,
    samples::SplitMix64,
    Address, Fr,
};

fn random_inputs(rng: &mut SplitMix64, len: usize) -> Vec<Fr> {
    (0..len)
        .map(|_| {
            let mut word = rng.bytes32().0;
            word[0] &= 0x1f; // below the modulus
            merit_core::field::fr_from_be_bytes(&word).unwrap()
        })
        .collect()
}

const LAYOUTS: [PoseidonLayout; 2] = [PoseidonLayout::Narrow, PoseidonLayout::Wide];

/// Hashes `inputs` in the circuit (`2^k` rows, the gate in `layout`) with `hash`, constrains
/// the result to equal `expected`, and returns the in-circuit value, the stats and whether
/// MockProver accepted.
fn run_in(
    layout: PoseidonLayout,
    k: usize,
    inputs: Vec<Fr>,
    expected: Fr,
    hash: impl FnOnce(
        &mut halo2_base::Context<Fr>,
        &mut PoseidonChip,
        &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr>,
    tamper: impl FnOnce(&mut MeritCircuitBuilder),
) -> (Fr, CircuitStats, bool) {
    let (value, stats, result) = mock_prove_layout(
        layout,
        k,
        8,
        |ctx, range, _, poseidon| {
            let assigned: Vec<AssignedValue<Fr>> = ctx.assign_witnesses(inputs);
            let out = hash(ctx, poseidon, &assigned);
            let expected = ctx.load_witness(expected);
            ctx.constrain_equal(&out, &expected);
            // keep the flex gate busy so the circuit is not empty
            range.gate.add(ctx, out, expected);
            *out.value()
        },
        tamper,
    );
    (value, stats, result.is_ok())
}

fn sponge(inputs: Vec<Fr>, expected: Fr) -> (Fr, CircuitStats, bool) {
    sponge_in(PoseidonLayout::Narrow, inputs, expected)
}

fn sponge_in(layout: PoseidonLayout, inputs: Vec<Fr>, expected: Fr) -> (Fr, CircuitStats, bool) {
    let gate = halo2_base::gates::GateChip::<Fr>::default();
    run_in(
        layout,
        12,
        inputs,
        expected,
        |ctx, poseidon, cells| poseidon.hash(ctx, &gate, cells),
        |_| (),
    )
}

#[test]
fn hashes_agree_for_every_length_up_to_nine() {
    let mut rng = SplitMix64::new(42);
    for layout in LAYOUTS {
        for len in 0..=9 {
            let inputs = random_inputs(&mut rng, len);
            let native = poseidon::hash(&inputs);
            let (value, stats, ok) = sponge_in(layout, inputs, native);
            assert!(ok, "{layout:?}, length {len}");
            assert_eq!(value, native, "{layout:?}, length {len}");
            assert_eq!(stats.permutations, len.div_ceil(2).max(1), "length {len}");
            assert_eq!(stats.poseidon_cells, stats.permutations * layout.cells_per_permutation());
            assert!(stats.degree <= 4, "{layout:?}: degree {}", stats.degree);
        }
    }
    assert_eq!(PoseidonLayout::Narrow.cells_per_permutation(), CELLS_PER_PERMUTATION);
    assert_eq!(PoseidonLayout::Wide.cells_per_permutation(), 17 * 12);
}

#[test]
fn account_leaf_and_node_hashes_agree() {
    let leaf = AccountLeaf {
        address: Address::repeat_byte(0xa5),
        cumulative: 123_456_789,
        last_nonce: 77,
        next: Address::repeat_byte(0xb6),
    };
    let inputs = vec![
        fr_from_address(leaf.address),
        fr_from_u128(leaf.cumulative),
        Fr::from(leaf.last_nonce),
        fr_from_address(leaf.next),
    ];
    let (value, stats, ok) = sponge(inputs, leaf.hash());
    assert!(ok);
    assert_eq!(value, leaf.hash());
    assert_eq!(stats.permutations, 2);
    assert!(stats.degree <= 4, "degree {}", stats.degree);

    let (l, r) = (Fr::from(5), Fr::from(9));
    let (value, stats, ok) = run_in(
        PoseidonLayout::Narrow,
        12,
        vec![l, r],
        poseidon::hash2(l, r),
        |ctx, poseidon, cells| poseidon.hash2(ctx, cells[0], cells[1]),
        |_| (),
    );
    assert!(ok);
    assert_eq!(value, poseidon::hash2(l, r));
    assert_eq!(stats.permutations, 1);
}

/// `merkle_parent(node, sibling, bit)` in the circuit.
fn parent(layout: PoseidonLayout, node: Fr, sibling: Fr, bit: Fr, expected: Fr) -> bool {
    run_in(
        layout,
        12,
        vec![node, sibling, bit],
        expected,
        |ctx, poseidon, cells| poseidon.merkle_parent(ctx, cells[0], cells[1], cells[2]),
        |_| (),
    )
    .2
}

#[test]
fn merkle_parent_orders_the_pair_by_the_bit() {
    let (node, sibling) = (Fr::from(3), Fr::from(4));
    for layout in LAYOUTS {
        assert!(parent(layout, node, sibling, Fr::zero(), poseidon::hash2(node, sibling)));
        assert!(parent(layout, node, sibling, Fr::one(), poseidon::hash2(sibling, node)));
        assert!(!parent(layout, node, sibling, Fr::zero(), poseidon::hash2(sibling, node)));
        assert!(!parent(layout, node, sibling, Fr::one(), poseidon::hash2(node, sibling)));
    }
}

#[test]
fn a_non_boolean_swap_bit_fails() {
    // With bit = 2 the witness rows still follow the native "swap" branch only for bit = 1, so
    // the gate's ordering constraint and its boolean check both object.
    let (node, sibling) = (Fr::from(3), Fr::from(4));
    for layout in LAYOUTS {
        assert!(!parent(layout, node, sibling, Fr::from(2), poseidon::hash2(node, sibling)));
    }
}

/// Every cell a permutation uses is constrained: adding one to any single one of them (inputs
/// and swap bit, every intermediate state word and square, the outputs) makes MockProver
/// refuse, in both layouts. The permutation tested is a sponge's second, whose inputs come from
/// the first's outputs, with a Merkle node after it.
#[test]
fn every_cell_of_a_permutation_is_constrained() {
    let gate = halo2_base::gates::GateChip::<Fr>::default();
    let inputs = vec![Fr::from(1), Fr::from(2), Fr::from(3)];
    let expected = poseidon::hash2(Fr::from(5), poseidon::hash(&inputs));
    let hash = |ctx: &mut halo2_base::Context<Fr>,
                chip: &mut PoseidonChip,
                cells: &[AssignedValue<Fr>]| {
        let h = chip.hash(ctx, &gate, cells);
        let node = ctx.load_witness(Fr::from(5));
        let bit = ctx.load_witness(Fr::one());
        chip.merkle_parent(ctx, h, node, bit)
    };
    for layout in LAYOUTS {
        let (_, _, ok) = run_in(layout, 10, inputs.clone(), expected, hash, |_| ());
        assert!(ok, "{layout:?}: the honest witness");
        let (rows, columns, used) = layout.slot_cells();
        let mut checked = 0;
        for row in 0..rows {
            for column in (0..columns).filter(|c| used(row, *c)) {
                let cell = TamperCell { slot: 1, row, column };
                let (_, _, ok) = run_in(layout, 10, inputs.clone(), expected, hash, |builder| {
                    builder.poseidon.tamper_cell_for_test(cell)
                });
                assert!(!ok, "{layout:?}: a changed {cell:?} was accepted");
                checked += 1;
            }
        }
        assert!(checked > 180, "{layout:?}: {checked} cells");
    }
}

#[test]
fn a_wrong_native_value_fails() {
    let inputs = vec![Fr::from(1), Fr::from(2)];
    let wrong = poseidon::hash(&inputs) + Fr::from(1);
    assert!(!sponge(inputs, wrong).2);
}

#[test]
fn a_tampered_swap_bit_fails() {
    // Hash (a, b) honestly, then make the gate swap the pair: the gate computes hash2(b, a),
    // which no longer equals the output cell the rest of the circuit uses.
    let (a, b) = (Fr::from(10), Fr::from(20));
    for layout in LAYOUTS {
        let (_, _, ok) = run_in(
            layout,
            12,
            vec![a, b, Fr::one()],
            poseidon::hash2(a, b),
            |ctx, poseidon, cells| {
                let out = poseidon.hash2(ctx, cells[0], cells[1]);
                poseidon.set_swap_for_test(0, cells[2]);
                out
            },
            |_| (),
        );
        assert!(!ok, "{layout:?}");
    }
}
