//! The Poseidon gate against `merit_core::poseidon`: every hash agrees bit for bit and the
//! constraints hold (MockProver); tampered permutations, outputs and swap bits fail.

use halo2_base::{gates::GateInstructions, AssignedValue};
use merit_circuits::{
    builder::{mock_prove_inspect, CircuitStats, MeritCircuitBuilder},
    poseidon::{PoseidonChip, CELLS_PER_PERMUTATION},
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

/// Hashes `inputs` in the circuit with `hash`, constrains the result to equal `expected`, and
/// returns the in-circuit value, the stats and whether MockProver accepted.
fn run(
    inputs: Vec<Fr>,
    expected: Fr,
    hash: impl FnOnce(
        &mut halo2_base::Context<Fr>,
        &mut PoseidonChip,
        &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr>,
    tamper: impl FnOnce(&mut MeritCircuitBuilder),
) -> (Fr, CircuitStats, bool) {
    let (value, stats, result) = mock_prove_inspect(
        12,
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
    let gate = halo2_base::gates::GateChip::<Fr>::default();
    run(inputs, expected, |ctx, poseidon, cells| poseidon.hash(ctx, &gate, cells), |_| ())
}

#[test]
fn hashes_agree_for_every_length_up_to_nine() {
    let mut rng = SplitMix64::new(42);
    for len in 0..=9 {
        let inputs = random_inputs(&mut rng, len);
        let native = poseidon::hash(&inputs);
        let (value, stats, ok) = sponge(inputs, native);
        assert!(ok, "length {len}");
        assert_eq!(value, native, "length {len}");
        assert_eq!(stats.permutations, len.div_ceil(2).max(1), "length {len}");
        assert_eq!(stats.poseidon_cells, stats.permutations * CELLS_PER_PERMUTATION);
    }
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
    let (value, stats, ok) = run(
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
fn parent(node: Fr, sibling: Fr, bit: Fr, expected: Fr) -> bool {
    run(
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
    assert!(parent(node, sibling, Fr::zero(), poseidon::hash2(node, sibling)));
    assert!(parent(node, sibling, Fr::one(), poseidon::hash2(sibling, node)));
    assert!(!parent(node, sibling, Fr::zero(), poseidon::hash2(sibling, node)));
    assert!(!parent(node, sibling, Fr::one(), poseidon::hash2(node, sibling)));
}

#[test]
fn a_non_boolean_swap_bit_fails() {
    // With bit = 2 the witness rows still follow the native "swap" branch only for bit = 1, so
    // the gate's ordering constraint and its boolean check both object.
    let (node, sibling) = (Fr::from(3), Fr::from(4));
    assert!(!parent(node, sibling, Fr::from(2), poseidon::hash2(node, sibling)));
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
    let (_, _, ok) = run(
        vec![a, b, Fr::one()],
        poseidon::hash2(a, b),
        |ctx, poseidon, cells| {
            let out = poseidon.hash2(ctx, cells[0], cells[1]);
            poseidon.set_swap_for_test(0, cells[2]);
            out
        },
        |_| (),
    );
    assert!(!ok);
}
