//! # merit-sequencer
//!
//! **Empty for now.** This crate will hold the sequencer: the axum HTTP API (`/v1`) taking
//! EIP-712 signed contributions, the RocksDB store behind a `Store` trait, the batcher that seals
//! batches and runs `merit_core::apply_batch`, the prover job queue and the L1 submitter.
//! It never links halo2.
