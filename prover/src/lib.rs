//! # merit-prover
//!
//! **Empty for now.** This crate will hold the `Prover` trait with its CPU (halo2-axiom, rayon)
//! and CUDA (halo2-axiom-gpu, feature `cuda`) backends, SRS and key management, EVM verifier
//! generation with snark-verifier-sdk, and the prover worker that leases batches from the
//! sequencer.
