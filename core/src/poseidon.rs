//! Poseidon over BN254, bit-exact with halo2-base 0.5.5's in-circuit `PoseidonHasher<Fr, 3, 2>`.
//!
//! Parameters: width `T = 3`, rate `RATE = 2`, `R_F = 8` full and `R_P = 57` partial rounds,
//! S-box `x^5`, round constants and MDS matrix from the Grain LFSR of the Poseidon paper with
//! `SECURE_MDS = 0`. The constants come from `poseidon-primitives` 0.2.0, the crate halo2-base
//! itself calls to generate them, so there is one source of truth for them.
//!
//! Sponge (halo2-base's `hash_fix_len_array`, the same as the PSE `poseidon` sponge):
//! the state starts as `[2^64, 0, 0]`; inputs are absorbed `RATE` at a time into `state[1..]`;
//! the last chunk is padded with a single `1` after the inputs (when the input length is a
//! multiple of `RATE`, one more permutation absorbs just that `1`); the output is `state[1]`.
//!
//! The permutation here is the plain (unoptimised) one; halo2-base uses the equivalent
//! optimised form with sparse matrices. `merit-circuits` tests that the two agree, and the unit
//! tests below check the permutation against `poseidon-primitives`' reference.

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
    let half_full = R_F / 2;
    for (round, rc) in round_constants.iter().enumerate() {
        for (word, c) in state.iter_mut().zip(rc) {
            *word += c;
        }
        let full = round < half_full || round >= half_full + R_P;
        if full {
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

/// The initial sponge state, `[2^64, 0, 0]`.
fn initial_state() -> [Fr; T] {
    [Fr::from_u128(1u128 << 64), Fr::ZERO, Fr::ZERO]
}

/// Hash of a fixed-length list of field elements (halo2-base `hash_fix_len_array`).
pub fn hash(inputs: &[Fr]) -> Fr {
    let mut state = initial_state();
    for chunk in inputs.chunks(RATE) {
        absorb_chunk(&mut state, chunk);
    }
    if inputs.len().is_multiple_of(RATE) {
        absorb_chunk(&mut state, &[]);
    }
    state[1]
}

/// Absorbs up to `RATE` inputs with the single-`1` padding after a short chunk, then permutes.
fn absorb_chunk(state: &mut [Fr; T], chunk: &[Fr]) {
    debug_assert!(chunk.len() <= RATE);
    for (word, input) in state[1..].iter_mut().zip(chunk) {
        *word += input;
    }
    if chunk.len() < RATE {
        state[1 + chunk.len()] += Fr::ONE;
    }
    permute(state);
}

/// Hash of two elements: the node hash of the account tree.
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
        for init in [[Fr::ZERO; T], [Fr::ONE, Fr::from(2), Fr::from(3)], initial_state()] {
            let (mut ours, mut theirs) = (init, init);
            permute(&mut ours);
            reference_permute(&mut theirs);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn padding_distinguishes_lengths() {
        let one = Fr::ONE;
        assert_ne!(hash(&[]), hash(&[Fr::ZERO]));
        assert_ne!(hash(&[one]), hash(&[one, Fr::ZERO]));
        assert_ne!(hash(&[one, one]), hash(&[one, one, Fr::ZERO]));
    }

    #[test]
    fn hash_is_the_sponge_by_hand() {
        // Two inputs: one permutation absorbing both, then one absorbing the padding `1`.
        let (a, b) = (Fr::from(7), Fr::from(11));
        let mut state = initial_state();
        state[1] += a;
        state[2] += b;
        reference_permute(&mut state);
        state[1] += Fr::ONE;
        reference_permute(&mut state);
        assert_eq!(hash2(a, b), state[1]);
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
