//! # merit-circuits
//!
//! The halo2-base chips and the batch circuit proving `merit_core::apply_batch` for a whole
//! batch, single-phase, on Axiom's halo2-base / halo2-axiom (KZG over BN254). Its witness comes
//! from `merit_core::BatchTrace` and its public instances equal
//! `merit_core::BatchOutput::public_instances`; the golden vectors in `fixtures/golden/` are its
//! test inputs.
//!
//! **Mostly empty for now**: only the Poseidon configuration exists, with the test that
//! halo2-base's in-circuit hasher and `merit_core::poseidon` agree bit for bit. The chips
//! (fixed-point dense layer, ReLU, sigmoid/tanh lookup, clamp, policy, account-tree update, batch
//! commitment) and the batch circuit come next.
//!
//! halo2 is imported only through `halo2_base::halo2_proofs`, so halo2-base's `cuda` feature
//! swaps the proving backend everywhere at once.

pub mod poseidon;
