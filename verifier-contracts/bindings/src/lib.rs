//! # merit-contracts
//!
//! **Empty for now.** This crate will hold the alloy bindings generated from the compiled
//! `RewardRollup` and verifier artifacts in `verifier-contracts/`, deploy helpers, and the
//! end-to-end test against a local anvil node.
