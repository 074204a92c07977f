//! The end-to-end prover benchmark: for one circuit configuration and the backend compiled into
//! this build, the time of each phase (SRS, keygen, witness, proof, native verification), the
//! proof's size, the process's peak memory and the proven contributions per second.
//!
//! `merit-prover bench` runs it (the same command in a CPU build and in a `cuda` build, so the
//! two backends are measured on the same host, the same SRS and the same keys); `bench/` turns
//! the JSON reports into the project's report. Phases are timed once each except proving, which
//! is repeated: the first proof of a process pays one-off costs (the CUDA context, moving the
//! proving key to the device) that a long-running worker pays once.

use std::time::{Duration, Instant};

use alloy_primitives::{keccak256, B256};
use halo2_base::halo2_proofs::SerdeFormat;
use merit_circuits::config::{sample_batch, LoadedConfig};
use serde::{Deserialize, Serialize};

use crate::{keys::keygen, proof::prove_timed, Backend, BatchKeys, BatchProof, ProverError, Srs};

/// What a benchmark run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// The configuration's name.
    pub config: String,
    /// `log2` of the circuit's rows.
    pub k: u32,
    /// Contributions per batch (`N`).
    pub contributions: usize,
    /// Touched accounts per batch (`M`).
    pub accounts: usize,
    /// The backend of this build.
    pub backend: Backend,
    /// The host: CPU model, threads, and the GPU where one is used.
    pub host: Host,
    /// Seconds to make or load the SRS.
    pub srs_s: f64,
    /// Seconds of keygen (verifying and proving key).
    pub keygen_s: f64,
    /// keccak256 of the serialized verifying key (equal across backends on the same SRS).
    pub verifying_key_keccak: B256,
    /// One entry per proof made.
    pub proofs: Vec<ProofTiming>,
    /// Proof size in bytes.
    pub proof_bytes: usize,
    /// Peak resident memory of the process (bytes), read at the end.
    pub peak_rss_bytes: Option<u64>,
    /// Contributions proven per second, from the fastest proof (witness + proof).
    pub contributions_per_second: f64,
}

/// The phases of one proof.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ProofTiming {
    /// Building the circuit's witness from the batch (seconds).
    pub witness_s: f64,
    /// `create_proof` (seconds).
    pub prove_s: f64,
    /// Native verification (seconds).
    pub verify_s: f64,
}

/// The machine a benchmark ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// The CPU model (from `/proc/cpuinfo`).
    pub cpu: Option<String>,
    /// Threads available to the process.
    pub threads: usize,
    /// The GPU (from `nvidia-smi`), in a CUDA build.
    pub gpu: Option<String>,
}

impl Host {
    /// The host this process runs on.
    pub fn current() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        });
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gpu = (Backend::CURRENT == Backend::Cuda)
            .then(|| {
                std::process::Command::new("nvidia-smi")
                    .args(["--query-gpu=name", "--format=csv,noheader"])
                    .output()
                    .ok()
                    .filter(|out| out.status.success())
                    .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            })
            .flatten();
        Self { cpu, threads, gpu }
    }
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// What [`run`] leaves behind: the report, the last proof, and the SRS and keys it made (to
/// verify other proofs of the configuration, e.g. another backend's, without a second keygen).
#[derive(Debug)]
pub struct BenchOutcome {
    /// The measurements.
    pub report: BenchReport,
    /// The last proof made.
    pub proof: BatchProof,
    /// The SRS.
    pub srs: Srs,
    /// The keys.
    pub keys: BatchKeys,
}

/// Runs the benchmark of `config`: the SRS from `make_srs`, keygen, then `repeat` proofs of
/// the configuration's sample batch.
pub fn run(
    config: &LoadedConfig,
    make_srs: impl FnOnce(u32) -> Result<Srs, ProverError>,
    repeat: usize,
) -> Result<BenchOutcome, ProverError> {
    let k = config.config.k as u32;
    let start = Instant::now();
    let srs = make_srs(k)?;
    let srs_s = secs(start.elapsed());
    tracing::info!(config = %config.config.name, srs_s, "SRS ready");

    let start = Instant::now();
    let keys = keygen(config, &srs)?;
    let keygen_s = secs(start.elapsed());
    let mut vk_bytes = Vec::new();
    keys.vk()
        .write(&mut vk_bytes, SerdeFormat::RawBytes)
        .map_err(|source| ProverError::io("cannot serialize the verifying key".into(), source))?;
    tracing::info!(config = %config.config.name, keygen_s, "keys generated");

    let vector = sample_batch(config).map_err(ProverError::Config)?;
    let mut proofs = Vec::new();
    let mut last = None;
    for i in 0..repeat.max(1) {
        let (proof, timings) = prove_timed(&srs, &keys, &vector)?;
        let timing = ProofTiming {
            witness_s: secs(timings.witness),
            prove_s: secs(timings.proof),
            verify_s: secs(timings.verify),
        };
        tracing::info!(config = %config.config.name, run = i, ?timing, "proof made and verified");
        proofs.push(timing);
        last = Some(proof);
    }
    let proof = last.expect("at least one proof is made");
    let fastest = proofs.iter().map(|t| t.witness_s + t.prove_s).fold(f64::INFINITY, f64::min);
    let report = BenchReport {
        config: config.config.name.clone(),
        k,
        contributions: config.config.max_contributions,
        accounts: config.config.max_accounts,
        backend: Backend::CURRENT,
        host: Host::current(),
        srs_s,
        keygen_s,
        verifying_key_keccak: keccak256(&vk_bytes),
        proof_bytes: proof.proof.len(),
        proofs,
        peak_rss_bytes: peak_rss_bytes(),
        contributions_per_second: config.config.max_contributions as f64 / fastest,
    };
    Ok(BenchOutcome { report, proof, srs, keys })
}
