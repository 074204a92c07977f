//! # merit-bench
//!
//! **Empty for now.** This crate will hold Merit's benchmarks (proving per configuration and
//! backend, sequencer ingestion, L1 gas) and the side-by-side comparison against the peer zkML
//! prover, writing Markdown, JSON and PNG reports.
