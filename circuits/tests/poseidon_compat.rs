//! halo2-base's in-circuit Poseidon (`hash_fix_len_array`) and `merit_core::poseidon::hash`
//! agree bit for bit, and the constraints hold (MockProver).

use halo2_base::{
    gates::{GateInstructions, RangeInstructions},
    utils::testing::base_test,
    AssignedValue,
};
use merit_circuits::poseidon::merit_poseidon_hasher;
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
            let word = rng.bytes32();
            merit_core::field::fr_from_be_bytes(&{
                let mut w = word.0;
                w[0] &= 0x1f; // below the modulus
                w
            })
            .unwrap()
        })
        .collect()
}

/// Hashes `inputs` in the circuit, constrains the result to equal `expected`, and returns the
/// in-circuit value.
fn hash_in_circuit(inputs: Vec<Fr>, expected: Fr, satisfied: bool) -> Fr {
    base_test().k(12).expect_satisfied(satisfied).run(|ctx, range| {
        let gate = range.gate();
        let mut hasher = merit_poseidon_hasher();
        hasher.initialize_consts(ctx, gate);
        let assigned: Vec<AssignedValue<Fr>> = ctx.assign_witnesses(inputs);
        let hash = hasher.hash_fix_len_array(ctx, gate, &assigned);
        let expected = ctx.load_witness(expected);
        ctx.constrain_equal(&hash, &expected);
        // keep the gate busy so the circuit is not empty
        gate.add(ctx, hash, expected);
        *hash.value()
    })
}

#[test]
fn fixed_length_hashes_agree_for_every_length_up_to_nine() {
    let mut rng = SplitMix64::new(42);
    for len in 0..=9 {
        let inputs = random_inputs(&mut rng, len);
        let native = poseidon::hash(&inputs);
        assert_eq!(hash_in_circuit(inputs, native, true), native, "length {len}");
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
    assert_eq!(hash_in_circuit(inputs, leaf.hash(), true), leaf.hash());
    let (l, r) = (Fr::from(5), Fr::from(9));
    assert_eq!(hash_in_circuit(vec![l, r], poseidon::hash2(l, r), true), poseidon::hash2(l, r));
}

#[test]
fn a_wrong_native_value_fails_the_constraint() {
    let inputs = vec![Fr::from(1), Fr::from(2)];
    let wrong = poseidon::hash(&inputs) + Fr::from(1);
    hash_in_circuit(inputs, wrong, false);
}
