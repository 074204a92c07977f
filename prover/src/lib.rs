//! # merit-prover
//!
//! Proves Merit batches: the KZG SRS ([`srs`]: a ceremony file, or a loud development SRS),
//! proving and verifying keys cached on disk per circuit configuration ([`keys`]), proofs made
//! with the EVM transcript and verified natively before they are returned ([`proof`]), the
//! generated Solidity verifier ([`evm`]), and the worker that leases sealed batches from a
//! sequencer, proves them and uploads the proofs ([`worker`], over the protocol of [`job`]).
//!
//! **Backends.** halo2 is imported only through `halo2_base::halo2_proofs`; the `cuda` feature
//! turns on halo2-base's `cuda`, which swaps halo2-axiom for halo2-axiom-gpu in the whole build,
//! so the same code is the CPU prover (rayon) in a default build and the CUDA prover in a
//! `--features cuda` build ([`Backend::CURRENT`] says which). Keys are byte-identical between
//! the two and GPU proofs verify with the CPU verifier.
//!
//! Still to come: aggregation of several batch proofs into one EVM proof.

pub mod bench;
pub mod evm;
pub mod job;
pub mod keys;
pub mod proof;
pub mod srs;
pub mod worker;

use std::path::PathBuf;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

pub use keys::{BatchKeys, KeyStore};
pub use proof::{prove, prove_timed, verify, witness, BatchProof, ProveTimings};
pub use srs::Srs;

/// Which proving backend this build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// halo2-axiom on the CPU.
    Cpu,
    /// halo2-axiom-gpu.
    Cuda,
}

impl Backend {
    /// The backend compiled into this build.
    pub const CURRENT: Self = if cfg!(feature = "cuda") { Self::Cuda } else { Self::Cpu };
}

/// The CPU lacks instructions this build's field arithmetic uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this build multiplies BN254 field elements with the x86-64 BMI2 and ADX instructions \
     (halo2curves' `asm` feature; every x86-64 CPU since 2014 has them), and this CPU lacks {0}"
)]
pub struct UnsupportedCpu(pub &'static str);

/// Checks, at a binary's start, that the CPU runs this build's field arithmetic: on x86-64 the
/// build multiplies field elements in assembly that needs BMI2 and ADX (see `Cargo.toml`), and
/// a CPU without them would stop on an illegal instruction in the middle of the work.
pub fn check_cpu() -> Result<(), UnsupportedCpu> {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("bmi2") {
            return Err(UnsupportedCpu("BMI2"));
        }
        if !std::arch::is_x86_feature_detected!("adx") {
            return Err(UnsupportedCpu("ADX"));
        }
    }
    Ok(())
}

/// What can go wrong while proving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProverError {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The SRS file has fewer points than the circuit needs.
    #[error("SRS {path} has 2^{found} points; the circuit needs 2^{k}")]
    SrsTooSmall {
        /// The file.
        path: PathBuf,
        /// Its `k`.
        found: u32,
        /// The circuit's `k`.
        k: u32,
    },
    /// The SRS is not sized for the circuit.
    #[error("the SRS is for k = {srs}, the circuit has k = {k}")]
    SrsSize {
        /// The SRS's `k`.
        srs: u32,
        /// The circuit's `k`.
        k: u32,
    },
    /// A key file is damaged.
    #[error("corrupt key file {path}: {reason}")]
    CorruptKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Stored keys were made for another configuration or SRS.
    #[error(
        "key file {path} was made for another configuration or SRS (fingerprint {found}, \
         expected {expected}); remove it to generate keys for this one"
    )]
    KeyMismatch {
        /// The file.
        path: PathBuf,
        /// This configuration's fingerprint.
        expected: B256,
        /// The file's.
        found: B256,
    },
    /// An environment variable would change the circuits.
    #[error("{variable}={value} is set: {reason}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] merit_circuits::config::ConfigError),
    /// The batch does not fit the circuit or disagrees with it.
    #[error("batch: {0}")]
    Batch(String),
    /// halo2 failed (the CPU and the CUDA backends have different error types, so the error is
    /// kept as its description).
    #[error("halo2 {phase}: {reason}")]
    Halo2 {
        /// keygen or proving.
        phase: &'static str,
        /// halo2's error.
        reason: String,
    },
    /// A proof does not verify or is malformed.
    #[error("invalid proof: {reason}")]
    BadProof {
        /// Why.
        reason: String,
    },
}

impl ProverError {
    fn io(context: String, source: std::io::Error) -> Self {
        Self::Io { context, source }
    }

    fn halo2(phase: &'static str, err: impl std::fmt::Debug) -> Self {
        Self::Halo2 { phase, reason: format!("{err:?}") }
    }
}
