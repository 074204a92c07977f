//! The Poseidon configuration of every Merit circuit: halo2-base's hasher with
//! `merit_core::poseidon`'s parameters (`T = 3`, `RATE = 2`, `R_F = 8`, `R_P = 57`,
//! `SECURE_MDS = 0`).

use halo2_base::{
    halo2_proofs::halo2curves::bn256::Fr,
    poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher},
};
use merit_core::poseidon::{RATE, R_F, R_P, T};

/// The optimised spec halo2-base's hasher runs with Merit's parameters.
pub fn merit_poseidon_spec() -> OptimizedPoseidonSpec<Fr, T, RATE> {
    OptimizedPoseidonSpec::new::<R_F, R_P, 0>()
}

/// A hasher with Merit's parameters; call `initialize_consts` before hashing.
pub fn merit_poseidon_hasher() -> PoseidonHasher<Fr, T, RATE> {
    PoseidonHasher::new(merit_poseidon_spec())
}
