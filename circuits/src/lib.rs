//! # merit-circuits
//!
//! The halo2-base chips and the batch circuit proving `merit_core::apply_batch` for a whole
//! batch, single-phase, on Axiom's halo2-base / halo2-axiom (KZG over BN254). Its witness comes
//! from `merit_core::BatchTrace` and its public instances equal
//! `merit_core::BatchOutput::public_instances`; the golden vectors in `fixtures/golden/` are its
//! test inputs.
//!
//! **Work in progress.** What exists:
//! - [`poseidon`]: halo2-base's hasher with Merit's parameters, tested bit for bit against
//!   `merit_core::poseidon` (`tests/poseidon_compat.rs`);
//! - [`fixed_point`]: floor division with a range-checked remainder, ReLU, clamp, signed range
//!   checks and a sign bit, each constraining witness values taken from merit-core's trace;
//! - [`builder`]: the circuit builder, halo2-base's base circuit plus a dynamic `(key, value)`
//!   lookup for constant tables, single-phase;
//! - [`model`]: the scoring chip (identity, ReLU, sigmoid/tanh through the tables, score clamp),
//!   tested against merit-core's inference and the golden batches with tampered traces
//!   (`tests/model_chip.rs`). Today a 16→32→1 inference costs about 3,100 advice cells (ReLU +
//!   identity) to 3,200 (ReLU + sigmoid, plus the 2,048-row table once per circuit) on the flex
//!   gate; target ≤ 2,500;
//! - [`contribution`]: range-checked contribution fields, feature packing, the contribution hash
//!   and the batch-commitment chain (`tests/contribution_chip.rs`);
//! - [`account_tree`]: one touched account's update in the indexed tree (absence proof through
//!   the predecessor leaf for a new account, append at the first free index read from the
//!   sentinel, balance and nonce update), tested on the golden batches with tamperings
//!   (`tests/account_tree_chip.rs`). With halo2-base's stock Poseidon it costs about 165k
//!   advice cells per account at depth 8 (two leaf writes, each an old and a new path), so
//!   ~430k at depth 24: the dedicated Poseidon gate is the next lever (target ≤ 20k).
//! - [`policy`]: `reward(score)` with threshold, linear part and cap, parameters range-checked
//!   (`tests/policy_chip.rs`).
//!
//! - [`batch`]: the batch circuit for `N` contribution and `M` account slots: commitments,
//!   scoring, rewards, sorted input, per-contributor groups bound to the account slots through
//!   the dynamic lookup (one tree update per account, never per contribution), padding, budget,
//!   and six of the eight public instances; MockProver tests on the golden batches with
//!   tamperings (`tests/batch_circuit.rs`), and a real keygen → prove → verify with a
//!   deterministic development SRS at N = 4, M = 2, depth 4, k = 16 (`tests/real_proof.rs`:
//!   the proof verifies, and fails with any one public instance changed).
//!
//! Still to come: `touched_hash` (keccak, see below; until then the touched list is not bound
//! by the proof, so nothing may settle on it), the dedicated Poseidon gate and the cost
//! targets, `merit circuit stats` and the configuration files.
//!
//! ## Known constraint: keccak
//! `touched_hash` is a keccak256 computed in the circuit. The obvious gadget, zkevm-hashes'
//! vanilla keccak, exists on crates.io only as 0.3.0, which pins `halo2-base = "=0.5.0"` and
//! `snark-verifier-sdk = "=0.2.0"`; halo2-base 0.5.0 has no `cuda` feature (it appeared in
//! 0.5.4), so it cannot share a build with the halo2-base 0.5.5 the CUDA prover needs. The batch
//! circuit therefore needs its own single-phase keccak chip (or a newer zkevm-hashes release).
//!
//! halo2 is imported only through `halo2_base::halo2_proofs`, so halo2-base's `cuda` feature
//! swaps the proving backend everywhere at once.

pub mod account_tree;
pub mod batch;
pub mod builder;
pub mod contribution;
pub mod fixed_point;
pub mod model;
pub mod policy;
pub mod poseidon;
