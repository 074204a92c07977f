//! # merit-circuits
//!
//! The halo2-base chips and the batch circuit proving `merit_core::apply_batch` for a whole
//! batch, single-phase, on Axiom's halo2-base / halo2-axiom (KZG over BN254). Its witness comes
//! from `merit_core::BatchTrace` and its public instances equal
//! `merit_core::BatchOutput::public_instances`; the golden vectors in `fixtures/golden/` are its
//! test inputs.
//!
//! What it holds:
//! - [`poseidon`]: a dedicated single-phase Poseidon gate (39 rows × 6 columns = 234 advice
//!   cells per permutation, degree 4) and the chip that hashes with it, tested bit for bit
//!   against `merit_core::poseidon` (`tests/poseidon_gate.rs`);
//! - [`poseidon_wide`]: the same permutation on 12-column sets, two full or five partial rounds
//!   per row (17 rows × 12 = 204 cells), for the throughput configurations
//!   (`"poseidon_layout": "wide"`);
//! - [`fixed_point`]: floor division with a range-checked remainder, ReLU, clamp, signed range
//!   checks and a sign bit, each constraining witness values taken from merit-core's trace;
//! - [`builder`]: the circuit builder: halo2-base's base circuit, a dynamic `(key, value)`
//!   lookup for constant tables and the Poseidon gate, single-phase; [`builder::CircuitStats`];
//! - [`model`]: the scoring chip: packed multiply-accumulate (several outputs per field
//!   element, split into signed digits that give floor, remainder and ReLU at once),
//!   sigmoid/tanh through the tables, score clamp (`tests/model_chip.rs`). Measured: a 16→32→1
//!   ReLU + sigmoid inference costs about 1,230 advice cells plus 190 lookup cells;
//! - [`contribution`]: range-checked contribution fields, feature packing, the contribution hash
//!   and the batch-commitment chain (`tests/contribution_chip.rs`);
//! - [`account_tree`]: one touched account's update in the indexed tree (absence proof through
//!   the predecessor leaf for a new account, append at the first free index read from the
//!   sentinel, balance and nonce update), tested on the golden batches with tamperings
//!   (`tests/account_tree_chip.rs`). Measured at depth 24: 102 permutations (23.9k cells) and
//!   ~900 flex-gate cells per account slot (two leaf writes; one write ≈ 12.4k);
//! - [`split_layout`]: the split account layout for configurations with `max_new_accounts`
//!   (`K`): every account slot is one leaf write, and `K` link slots insert the batch's new
//!   accounts into the address list first (largest address first, bound to their account slots
//!   through the dynamic lookup), so an existing account costs one write instead of two;
//!   its witness replays merit-core's trace in that order (`tests/split_layout.rs`);
//! - [`sorted_writes`]: the split layout's leaf writes proven in leaf-index order against a top
//!   tree hashed once per batch (`"top_levels"`), so each write hashes only its subtree's
//!   levels; bound to the slots' writes through the dynamic lookup (`tests/split_layout.rs`);
//! - [`policy`]: `reward(score)` with threshold, linear part and cap, parameters range-checked
//!   (`tests/policy_chip.rs`);
//! - [`batch`]: the batch circuit for `N` contribution and `M` account slots: commitments,
//!   scoring, rewards, sorted input, per-contributor groups bound to the account slots through
//!   the dynamic lookup (one tree update per account, never per contribution), padding, budget,
//!   and all eight public instances, the touched list bound by its evaluation at a challenge
//!   the contract derives with keccak (`merit_core::batch::touched_evaluation`); MockProver
//!   tests on the golden batches with tamperings (`tests/batch_circuit.rs`), and a real keygen
//!   → prove → verify with a deterministic development SRS (`tests/real_proof.rs`);
//! - [`config`]: circuit configuration files (`circuits/configs/`) and their statistics
//!   (`merit circuit stats`); optional settings that change the keys: the split layout
//!   (`max_new_accounts`), `min_degree`, `poseidon_layout`, `active_depth` (leaf writes on the
//!   tree's first `2^d` leaves, the spine above hashed twice per batch:
//!   [`account_tree::lift_prefix_root`], `tests/split_layout.rs`) and `lean_range_checks`
//!   (no checks soundness does not need: [`contribution`], [`model::ModelShape`]);
//! - [`keccak`]: keccak256 of a variable-length byte string on the flex gate and the tables,
//!   single-phase, tested against alloy's keccak256 (`tests/keccak_chip.rs`). It is **not** used
//!   by the batch circuit: at ~220k advice cells per keccak-f (61 of them for 256 touched
//!   accounts) it would cost more than the rest of the circuit; the touched list is bound by
//!   the challenge/evaluation pair instead, a few cells per account. (zkevm-hashes' keccak
//!   cannot be used: its only release pins halo2-base 0.5.0, which has no `cuda` feature.) A
//!   dedicated keccak gate (~26k cells per keccak-f, designed in the module docs) is the way
//!   back to an in-circuit keccak if a protocol ever needs one.
//!
//! halo2 is imported only through `halo2_base::halo2_proofs`, so halo2-base's `cuda` feature
//! swaps the proving backend everywhere at once.

pub mod account_tree;
pub mod batch;
pub mod builder;
pub mod config;
pub mod contribution;
pub mod fixed_point;
pub mod keccak;
pub mod model;
pub mod policy;
pub mod poseidon;
pub mod poseidon_wide;
pub mod sorted_writes;
pub mod split_layout;
