//! # merit-circuits
//!
//! **Empty for now.** This crate will hold the halo2-base chips (fixed-point dense layer, ReLU,
//! sigmoid/tanh lookup, clamp, policy, Poseidon, account-tree update, batch commitment) and the
//! batch circuit proving `merit_core::apply_batch` for a whole batch, single-phase, on Axiom's
//! halo2-base / halo2-axiom (KZG over BN254). Its witness comes from `merit_core::BatchTrace` and
//! its public instances equal `merit_core::BatchOutput::public_instances`; the golden vectors in
//! `fixtures/golden/` are its test inputs.
