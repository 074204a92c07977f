//! Poseidon over BN254: the one hash of Merit's state (account tree, commitments).
//!
//! Parameters: width `T = 3`, rate `RATE = 2`, `R_F = 8` full and `R_P = 57` partial rounds,
//! S-box `x^5`, round constants and MDS matrix from the Grain LFSR of the Poseidon paper with
//! `SECURE_MDS = 0`. The constants come from `poseidon-primitives` 0.2.0 (the generator
//! halo2-base uses), so there is one source of truth for them; the unit tests check the
//! permutation against `poseidon-primitives`' reference.
//!
//! Sponge: the **fixed-length** mode of the Poseidon paper (§4.2, PSE's `ConstantLength`
//! domain): for `L` inputs the state starts as `[L · 2^64, 0, 0]` (the capacity element
//! separates lengths), inputs are absorbed `RATE` at a time into `state[1..]`, the last chunk is
//! padded with zeros, and no extra padding permutation follows; the output is `state[1]`.
//! A hash of `L ≥ 1` inputs costs `⌈L / 2⌉` permutations, so a tree node ([`hash2`]) is one
//! permutation. Every Merit hash has a length fixed by the protocol (or by the circuit shape), so
//! the variable-length padding of halo2-base's `hash_fix_len_array` (one more permutation
//! whenever `L` is even) buys nothing and would double the cost of the account tree.
//!
//! `merit-circuits` proves the same permutation with a dedicated gate and tests it bit for bit
//! against this module.

use std::sync::OnceLock;

use halo2curves::{
    bn256::Fr,
    ff::{Field, PrimeField},
};
use poseidon_primitives::poseidon::primitives::Spec;

/// State width.
pub const T: usize = 3;
/// Sponge rate.
pub const RATE: usize = 2;
/// Number of full rounds.
pub const R_F: usize = 8;
/// Number of partial rounds.
pub const R_P: usize = 57;

/// The Poseidon specification halo2-base's `OptimizedPoseidonSpec::new::<8, 57, 0>()` generates.
#[derive(Debug)]
pub struct MeritPoseidonSpec;

impl Spec<Fr, T, RATE> for MeritPoseidonSpec {
    fn full_rounds() -> usize {
        R_F
    }

    fn partial_rounds() -> usize {
        R_P
    }

    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }

    fn secure_mds() -> usize {
        0
    }
}

struct Constants {
    round_constants: Vec<[Fr; T]>,
    mds: [[Fr; T]; T],
}

fn constants() -> &'static Constants {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let (round_constants, mds, _) = MeritPoseidonSpec::constants();
        Constants { round_constants, mds }
    })
}

fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// The Poseidon permutation, in place.
pub fn permute(state: &mut [Fr; T]) {
    let Constants { round_constants, mds } = constants();
    for (round, rc) in round_constants.iter().enumerate() {
        for (word, c) in state.iter_mut().zip(rc) {
            *word += c;
        }
        if is_full_round(round) {
            state.iter_mut().for_each(|w| *w = sbox(*w));
        } else {
            state[0] = sbox(state[0]);
        }
        let mut next = [Fr::ZERO; T];
        for (row, out) in mds.iter().zip(next.iter_mut()) {
            *out = row.iter().zip(state.iter()).map(|(m, s)| *m * s).sum();
        }
        *state = next;
    }
}

/// The round constants, one `[Fr; T]` per round (`R_F + R_P` rounds), added before each S-box
/// layer.
pub fn round_constants() -> &'static [[Fr; T]] {
    &constants().round_constants
}

/// The MDS matrix: the state after a round is `mds · sbox(state + constants)`.
pub fn mds() -> &'static [[Fr; T]; T] {
    &constants().mds
}

/// Whether round `round` (from 0) is a full round (S-box on every word) rather than a partial
/// one (S-box on word 0 only).
pub fn is_full_round(round: usize) -> bool {
    !(R_F / 2..R_F / 2 + R_P).contains(&round)
}

/// The capacity element that starts the sponge for `len` inputs: `len · 2^64`.
pub fn capacity(len: usize) -> Fr {
    Fr::from_u128((len as u128) << 64)
}

/// Hash of a fixed-length list of field elements (see the module docs).
pub fn hash(inputs: &[Fr]) -> Fr {
    let mut state = [capacity(inputs.len()), Fr::ZERO, Fr::ZERO];
    if inputs.is_empty() {
        permute(&mut state);
    }
    for chunk in inputs.chunks(RATE) {
        for (word, input) in state[1..].iter_mut().zip(chunk) {
            *word += input;
        }
        permute(&mut state);
    }
    state[1]
}

/// Hash of two elements, one permutation: the node hash of the account tree and the step of
/// the batch-commitment chain.
pub fn hash2(left: Fr, right: Fr) -> Fr {
    hash(&[left, right])
}

#[cfg(test)]
mod tests {
    use super::*;
    use poseidon_primitives::poseidon::primitives::{ConstantLength, Hash};
    use proptest::prelude::*;

    fn reference_permute(state: &mut [Fr; T]) {
        Hash::<Fr, MeritPoseidonSpec, ConstantLength<2>, T, RATE>::init().permute(state);
    }

    fn arb_fr() -> impl Strategy<Value = Fr> {
        any::<[u64; 4]>().prop_map(|limbs| {
            let mut wide = [0u8; 64];
            for (i, l) in limbs.iter().enumerate() {
                wide[i * 8..i * 8 + 8].copy_from_slice(&l.to_le_bytes());
            }
            <Fr as halo2curves::ff::FromUniformBytes<64>>::from_uniform_bytes(&wide)
        })
    }

    #[test]
    fn permutation_matches_reference_on_fixed_inputs() {
        for init in
            [[Fr::ZERO; T], [Fr::ONE, Fr::from(2), Fr::from(3)], [capacity(2), Fr::ONE, Fr::ZERO]]
        {
            let (mut ours, mut theirs) = (init, init);
            permute(&mut ours);
            reference_permute(&mut theirs);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn capacity_distinguishes_lengths() {
        let one = Fr::ONE;
        assert_ne!(hash(&[]), hash(&[Fr::ZERO]));
        assert_ne!(hash(&[one]), hash(&[one, Fr::ZERO]));
        assert_ne!(hash(&[one, one]), hash(&[one, one, Fr::ZERO]));
        assert_ne!(hash(&[one, one, one]), hash(&[one, one, one, Fr::ZERO]));
    }

    #[test]
    fn hash_is_the_sponge_by_hand() {
        // Two inputs: one permutation absorbing both, no padding permutation.
        let (a, b) = (Fr::from(7), Fr::from(11));
        let mut state = [Fr::from_u128(2u128 << 64), a, b];
        reference_permute(&mut state);
        assert_eq!(hash2(a, b), state[1]);
        // Three inputs: the second chunk is zero-padded; two permutations.
        let c = Fr::from(13);
        let mut state = [Fr::from_u128(3u128 << 64), a, b];
        reference_permute(&mut state);
        state[1] += c;
        reference_permute(&mut state);
        assert_eq!(hash(&[a, b, c]), state[1]);
    }

    proptest! {
        #[test]
        fn permutation_matches_reference(a in arb_fr(), b in arb_fr(), c in arb_fr()) {
            let (mut ours, mut theirs) = ([a, b, c], [a, b, c]);
            permute(&mut ours);
            reference_permute(&mut theirs);
            prop_assert_eq!(ours, theirs);
        }
    }
}
