//! The prover worker: leases sealed batches from a sequencer, proves them, uploads the proofs,
//! and repeats (`merit prover --sequencer URL …`, `merit-prover worker …`).
//!
//! ```text
//!  loop:  POST /v1/jobs/lease ──204──▶ sleep (backoff) ─┐
//!              │ 200 Job                                │
//!              ▼                                        │
//!         job.config == this worker's circuit? (else stop: misconfigured)
//!              ▼
//!         Prover::prove(keys, job.vector)   ── error ──▶ count, log, next job
//!              ▼
//!         POST /v1/jobs/{batch_id}/proof ── 200: proven · 409 lease_lost / already_proven:
//!                                            logged, next job · 422: count, log, next job
//! ```
//!
//! - **Retries.** A sequencer that cannot be reached (connection refused while it restarts,
//!   a 5xx, a broken connection) is retried with exponential backoff, before a lease and
//!   during an upload (until the lease has lapsed); leases are durable in the sequencer, so a
//!   restart between lease and upload loses nothing.
//! - **Backends.** Proving is behind the [`Prover`] trait; [`LocalProver`] proves with this
//!   build's backend (the CPU build, or the CUDA build with `--features cuda`), so the loop is
//!   the same for both.
//! - **Progress and metrics.** One spinner per job on stderr (phase and elapsed time; hidden
//!   when stderr is not a terminal), a log line per job, and Prometheus text on
//!   `--metrics-addr` ([`WorkerMetrics`]).

mod http;

use std::{
    io::{BufRead, BufReader, IsTerminal, Write},
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use merit_circuits::config::CircuitConfig;
use merit_core::vectors::BatchVector;
use serde::Deserialize;
use tracing::{error, info, warn};

pub use http::HttpError;

use crate::{
    job::{Job, LeaseRequest, ProofReceipt, ProofUpload},
    Backend, BatchKeys, BatchProof, KeyStore, ProverError, Srs,
};

/// Makes proofs of batches; the worker loop is written against this trait only.
pub trait Prover: Send + Sync {
    /// The backend the proofs are made with.
    fn backend(&self) -> Backend;

    /// Proves the batch of `vector` with `keys` (and checks the proof before returning it).
    fn prove(&self, keys: &BatchKeys, vector: &BatchVector) -> Result<BatchProof, ProverError>;
}

/// Proves in this process with the backend compiled into this build ([`Backend::CURRENT`]).
#[derive(Debug, Clone)]
pub struct LocalProver {
    srs: Srs,
}

impl LocalProver {
    /// A prover with `srs` (sized for the circuit of the keys it will be given).
    pub fn new(srs: Srs) -> Self {
        Self { srs }
    }
}

impl Prover for LocalProver {
    fn backend(&self) -> Backend {
        Backend::CURRENT
    }

    fn prove(&self, keys: &BatchKeys, vector: &BatchVector) -> Result<BatchProof, ProverError> {
        crate::prove(&self.srs, keys, vector)
    }
}

/// Why the worker stopped with an error (transient failures are retried, not returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The sequencer URL is unusable.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The circuit configuration, SRS or keys could not be loaded.
    #[error(transparent)]
    Prover(#[from] ProverError),
    /// The circuit configuration file is unusable.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: merit_circuits::config::ConfigError,
    },
    /// No SRS was given.
    #[error("give an SRS with --srs FILE (or MERIT_SRS), or --dev-srs for tests")]
    NoSrs,
    /// The metrics address cannot be bound.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sequencer proves another circuit than this worker.
    #[error(
        "the sequencer hands out jobs for circuit configuration {job:?}, this worker has the \
         keys of {worker:?}; start the worker with the sequencer's configuration"
    )]
    ConfigMismatch {
        /// The job's configuration.
        job: String,
        /// The worker's.
        worker: String,
    },
    /// The sequencer refused the lease request itself (not a transient failure).
    #[error("the sequencer refused to lease a job: {status} {code}: {message}")]
    LeaseRefused {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The error message.
        message: String,
    },
    /// The sequencer's answer does not parse.
    #[error("the sequencer's answer to {what} is not what this worker understands: {reason}")]
    Protocol {
        /// Which request.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The sequencer's base URL (`http://host:port`).
    pub sequencer: String,
    /// This worker's id, sent with each lease request.
    pub prover_id: String,
    /// Stop after the first job whose proof was uploaded (accepted or refused).
    pub once: bool,
    /// First wait after an empty queue or an unreachable sequencer.
    pub backoff_min: Duration,
    /// Longest wait (the backoff doubles up to this).
    pub backoff_max: Duration,
    /// Show a spinner per job on stderr (only where stderr is a terminal).
    pub progress: bool,
}

impl WorkerOptions {
    /// Options for `sequencer` with the default id, backoff (0.5 s to 10 s) and progress.
    pub fn new(sequencer: impl Into<String>) -> Self {
        Self {
            sequencer: sequencer.into(),
            prover_id: default_prover_id(),
            once: false,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            progress: true,
        }
    }
}

/// `HOSTNAME-PID`, or `merit-prover-PID`.
pub fn default_prover_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "merit-prover".to_owned());
    format!("{host}-{}", std::process::id())
}

/// What one job came to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// The proof was accepted.
    Proven {
        /// The batch.
        batch_id: u64,
        /// Seconds spent proving.
        prove_seconds: f64,
    },
    /// The lease lapsed before the upload (`409 lease_lost`); the batch went to another worker.
    LeaseLost {
        /// The batch.
        batch_id: u64,
    },
    /// Another worker proved it first (`409 already_proven`).
    AlreadyProven {
        /// The batch.
        batch_id: u64,
    },
    /// The sequencer refused the proof (`422`, or another 4xx).
    Rejected {
        /// The batch.
        batch_id: u64,
        /// The sequencer's error code.
        code: String,
    },
    /// Proving failed.
    ProveFailed {
        /// The batch.
        batch_id: u64,
        /// Why.
        reason: String,
    },
    /// The lease lapsed while the sequencer could not be reached for the upload.
    UploadAbandoned {
        /// The batch.
        batch_id: u64,
    },
}

/// What a worker run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerSummary {
    /// Every job handled, in order.
    pub jobs: Vec<JobOutcome>,
    /// Whether it ended because of [`Worker::stop_handle`].
    pub stopped: bool,
}

impl WorkerSummary {
    /// The batches whose proofs were accepted.
    pub fn proven(&self) -> Vec<u64> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                JobOutcome::Proven { batch_id, .. } => Some(*batch_id),
                _ => None,
            })
            .collect()
    }
}

/// The worker's counters, rendered as Prometheus text by [`WorkerMetrics::render`].
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    /// Jobs leased.
    pub jobs_leased: AtomicU64,
    /// Proofs accepted by the sequencer.
    pub jobs_proven: AtomicU64,
    /// Proving failures.
    pub prove_failures: AtomicU64,
    /// Proofs the sequencer refused (422 and other 4xx).
    pub proofs_rejected: AtomicU64,
    /// Uploads answered `409 lease_lost` (or abandoned after the lease lapsed).
    pub leases_lost: AtomicU64,
    /// Requests that found the sequencer unreachable or failing (5xx).
    pub sequencer_unreachable: AtomicU64,
    /// Seconds the last accepted proof took, as `f64` bits.
    last_proof_seconds: AtomicU64,
}

impl WorkerMetrics {
    /// Seconds the last accepted proof took (0 before the first).
    pub fn last_proof_seconds(&self) -> f64 {
        f64::from_bits(self.last_proof_seconds.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP merit_prover_{name} {help}\n# TYPE merit_prover_{name} counter\n\
                 merit_prover_{name} {value}\n"
            ));
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counter("jobs_leased_total", "Jobs leased from the sequencer", get(&self.jobs_leased));
        counter("jobs_proven_total", "Proofs accepted by the sequencer", get(&self.jobs_proven));
        counter("prove_failures_total", "Jobs whose proving failed", get(&self.prove_failures));
        counter(
            "proofs_rejected_total",
            "Proofs the sequencer refused",
            get(&self.proofs_rejected),
        );
        counter("leases_lost_total", "Uploads after the lease lapsed", get(&self.leases_lost));
        counter(
            "sequencer_unreachable_total",
            "Requests that found the sequencer unreachable or failing",
            get(&self.sequencer_unreachable),
        );
        out.push_str(&format!(
            "# HELP merit_prover_last_proof_seconds Seconds the last accepted proof took\n\
             # TYPE merit_prover_last_proof_seconds gauge\nmerit_prover_last_proof_seconds {}\n",
            self.last_proof_seconds()
        ));
        out
    }

    /// Serves [`render`](Self::render) at `GET /metrics` on `addr` from a background thread;
    /// returns the bound address (port 0 picks one).
    pub fn serve(self: &Arc<Self>, addr: SocketAddr) -> Result<SocketAddr, WorkerError> {
        let listener =
            TcpListener::bind(addr).map_err(|source| WorkerError::Metrics { addr, source })?;
        let bound =
            listener.local_addr().map_err(|source| WorkerError::Metrics { addr, source })?;
        let metrics = self.clone();
        std::thread::Builder::new()
            .name("merit-prover-metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = answer_metrics(&metrics, stream);
                }
            })
            .map_err(|source| WorkerError::Metrics { addr, source })?;
        info!(target: "merit::prover", "metrics on http://{bound}/metrics");
        Ok(bound)
    }
}

fn answer_metrics(metrics: &WorkerMetrics, stream: std::net::TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default();
    let (status, body) = if path == "/metrics" {
        ("200 OK", metrics.render())
    } else {
        ("404 Not Found", "see /metrics\n".to_owned())
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The worker: one sequencer, one circuit configuration, one prover.
#[derive(Debug)]
pub struct Worker<P> {
    options: WorkerOptions,
    endpoint: http::Endpoint,
    prover: P,
    keys: Arc<BatchKeys>,
    metrics: Arc<WorkerMetrics>,
    stop: Arc<AtomicBool>,
}

/// What one request to the sequencer came to.
enum Answer<T> {
    /// The expected success.
    Ok(T),
    /// An HTTP error answer with its `{ code, message }` body.
    Refused { status: u16, code: String, message: String },
    /// No answer, or a 5xx: retry.
    Transient(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

impl<P: Prover> Worker<P> {
    /// A worker for `options.sequencer` that proves with `prover` and `keys`.
    pub fn new(
        options: WorkerOptions,
        prover: P,
        keys: Arc<BatchKeys>,
    ) -> Result<Self, WorkerError> {
        let endpoint = http::Endpoint::parse(&options.sequencer)?;
        Ok(Self { options, endpoint, prover, keys, metrics: Arc::default(), stop: Arc::default() })
    }

    /// The worker's metrics.
    pub fn metrics(&self) -> &Arc<WorkerMetrics> {
        &self.metrics
    }

    /// Set to `true` to make [`run`](Self::run) return at its next wait (a proof in progress
    /// is finished and uploaded first).
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    fn config_name(&self) -> &str {
        &self.keys.config.config.name
    }

    /// Leases, proves and uploads until stopped (or after one job with `once`). Returns an
    /// error only for what retrying cannot fix: a sequencer set up for another circuit, or one
    /// that refuses the lease request itself.
    pub fn run(&self) -> Result<WorkerSummary, WorkerError> {
        info!(
            target: "merit::prover",
            sequencer = %self.options.sequencer,
            config = self.config_name(),
            backend = ?self.prover.backend(),
            prover = %self.options.prover_id,
            "worker started"
        );
        let mut summary = WorkerSummary::default();
        let mut backoff = self.options.backoff_min;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                summary.stopped = true;
                return Ok(summary);
            }
            match self.lease()? {
                Some(job) => {
                    backoff = self.options.backoff_min;
                    let outcome = self.work(job);
                    summary.jobs.push(outcome);
                    if self.options.once {
                        return Ok(summary);
                    }
                }
                None => {
                    self.wait(backoff);
                    backoff = (backoff * 2).min(self.options.backoff_max);
                }
            }
        }
    }

    /// One lease request: `Some(job)`, or `None` when there is no job or no sequencer.
    fn lease(&self) -> Result<Option<Job>, WorkerError> {
        let request = LeaseRequest { prover: self.options.prover_id.clone() };
        let body = serde_json::to_vec(&request).expect("a lease request serializes");
        let answer = self.call("POST", "/v1/jobs/lease", &body, |status, bytes| match status {
            200 => serde_json::from_slice::<Job>(bytes).map(Some).map_err(|e| e.to_string()),
            204 => Ok(None),
            _ => Err(format!("unexpected status {status}")),
        });
        match answer {
            Answer::Ok(Ok(job)) => {
                let Some(job) = job else { return Ok(None) };
                if job.config != self.config_name() {
                    return Err(WorkerError::ConfigMismatch {
                        job: job.config,
                        worker: self.config_name().to_owned(),
                    });
                }
                self.metrics.jobs_leased.fetch_add(1, Ordering::Relaxed);
                Ok(Some(job))
            }
            Answer::Ok(Err(reason)) => Err(WorkerError::Protocol { what: "a lease", reason }),
            Answer::Refused { status: 503, code, message } => {
                warn!(target: "merit::prover", code, message, "the sequencer has no job queue now; retrying");
                Ok(None)
            }
            Answer::Refused { status, code, message } => {
                Err(WorkerError::LeaseRefused { status, code, message })
            }
            Answer::Transient(reason) => {
                self.metrics.sequencer_unreachable.fetch_add(1, Ordering::Relaxed);
                warn!(target: "merit::prover", reason, "sequencer unreachable; retrying");
                Ok(None)
            }
        }
    }

    /// Proves one leased job and uploads the proof.
    fn work(&self, job: Job) -> JobOutcome {
        let batch_id = job.batch_id;
        let contributions = job.vector.batch.contributions.len();
        info!(
            target: "merit::prover",
            batch_id,
            contributions,
            lease_expires_at = job.expires_at,
            "leased a job; proving"
        );
        let progress = self.progress(batch_id);
        progress.set_message(format!(
            "proving {contributions} contributions ({}, {:?})",
            self.config_name(),
            self.prover.backend()
        ));
        let started = Instant::now();
        let proof = match self.prover.prove(&self.keys, &job.vector) {
            Ok(proof) => proof,
            Err(error) => {
                self.metrics.prove_failures.fetch_add(1, Ordering::Relaxed);
                progress.abandon_with_message(format!("proving failed: {error}"));
                error!(target: "merit::prover", batch_id, %error, "proving failed");
                return JobOutcome::ProveFailed { batch_id, reason: error.to_string() };
            }
        };
        let prove_seconds = started.elapsed().as_secs_f64();
        progress.set_message(format!("uploading (proved in {prove_seconds:.1} s)"));
        let outcome = self.upload(&job, proof, prove_seconds);
        let line = match &outcome {
            JobOutcome::Proven { .. } => format!("proven in {prove_seconds:.1} s, accepted"),
            other => format!("{other:?}"),
        };
        progress.finish_with_message(line);
        outcome
    }

    fn upload(&self, job: &Job, proof: BatchProof, prove_seconds: f64) -> JobOutcome {
        let batch_id = job.batch_id;
        let upload = ProofUpload { lease_id: job.lease_id, proof };
        let body = serde_json::to_vec(&upload).expect("a proof serializes");
        let path = format!("/v1/jobs/{batch_id}/proof");
        let mut backoff = self.options.backoff_min;
        loop {
            let answer = self.call("POST", &path, &body, |status, bytes| match status {
                200 => serde_json::from_slice::<ProofReceipt>(bytes).map_err(|e| e.to_string()),
                _ => Err(format!("unexpected status {status}")),
            });
            match answer {
                Answer::Ok(receipt) => {
                    if let Err(reason) = receipt {
                        warn!(target: "merit::prover", batch_id, reason, "odd receipt; the proof was accepted");
                    }
                    self.metrics.jobs_proven.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .last_proof_seconds
                        .store(prove_seconds.to_bits(), Ordering::Relaxed);
                    info!(target: "merit::prover", batch_id, prove_seconds, "proof accepted");
                    return JobOutcome::Proven { batch_id, prove_seconds };
                }
                Answer::Refused { status: 409, code, message } if code == "lease_lost" => {
                    self.metrics.leases_lost.fetch_add(1, Ordering::Relaxed);
                    warn!(target: "merit::prover", batch_id, message, "lease lost; moving on");
                    return JobOutcome::LeaseLost { batch_id };
                }
                Answer::Refused { status: 409, code, message } if code == "already_proven" => {
                    info!(target: "merit::prover", batch_id, message, "already proven by another worker");
                    return JobOutcome::AlreadyProven { batch_id };
                }
                Answer::Refused { status, code, message } if status != 503 => {
                    self.metrics.proofs_rejected.fetch_add(1, Ordering::Relaxed);
                    error!(target: "merit::prover", batch_id, status, code, message, "proof refused");
                    return JobOutcome::Rejected { batch_id, code };
                }
                Answer::Refused { code: reason, .. } | Answer::Transient(reason) => {
                    self.metrics.sequencer_unreachable.fetch_add(1, Ordering::Relaxed);
                    if unix_ms() > job.expires_at {
                        self.metrics.leases_lost.fetch_add(1, Ordering::Relaxed);
                        error!(target: "merit::prover", batch_id, reason, "lease lapsed while the sequencer was unreachable; proof dropped");
                        return JobOutcome::UploadAbandoned { batch_id };
                    }
                    warn!(target: "merit::prover", batch_id, reason, "upload failed; retrying");
                    self.wait(backoff);
                    backoff = (backoff * 2).min(self.options.backoff_max);
                }
            }
        }
    }

    /// One request; 2xx answers go through `parse`.
    fn call<T>(
        &self,
        method: &'static str,
        path: &str,
        body: &[u8],
        parse: impl FnOnce(u16, &[u8]) -> T,
    ) -> Answer<T> {
        match self.endpoint.request(method, path, Some(body)) {
            Ok(response) if (200..300).contains(&response.status) => {
                Answer::Ok(parse(response.status, &response.body))
            }
            Ok(response) if response.status >= 500 && response.status != 503 => {
                Answer::Transient(format!(
                    "{method} {path}: {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ))
            }
            Ok(response) => match serde_json::from_slice::<ErrorBody>(&response.body) {
                Ok(ErrorBody { code, message }) => {
                    Answer::Refused { status: response.status, code, message }
                }
                Err(_) => Answer::Refused {
                    status: response.status,
                    code: "unknown".into(),
                    message: String::from_utf8_lossy(&response.body).into_owned(),
                },
            },
            Err(error) => Answer::Transient(error.to_string()),
        }
    }

    /// Sleeps `duration`, waking early when stopped.
    fn wait(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.stop.load(Ordering::SeqCst) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn progress(&self, batch_id: u64) -> ProgressBar {
        if !self.options.progress || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_prefix(format!("batch {batch_id}"));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed_precise}]")
                .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `merit prover` / `merit-prover worker` arguments.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The sequencer's base URL, e.g. http://127.0.0.1:8645.
    #[arg(long, env = "MERIT_SEQUENCER", value_name = "URL")]
    pub sequencer: String,
    /// Circuit configuration file (see `circuits/configs/`); must be the sequencer's.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Directory of cached proving keys (generated on first use).
    #[arg(long, env = "MERIT_KEYS", default_value = "keys", value_name = "DIR")]
    pub keys: PathBuf,
    /// KZG SRS file (halo2 raw params from a public ceremony).
    #[arg(long, env = "MERIT_SRS", conflicts_with = "dev_srs", value_name = "FILE")]
    pub srs: Option<PathBuf>,
    /// Use the deterministic development SRS (insecure: tests and demos only).
    #[arg(long)]
    pub dev_srs: bool,
    /// Prove one job, upload it, and exit (non-zero unless the proof was accepted).
    #[arg(long)]
    pub once: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// This worker's id in the sequencer's job list (default: HOSTNAME-PID).
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,
}

impl WorkerArgs {
    /// Loads the configuration, SRS and keys and builds the worker (does not start it).
    pub fn worker(&self) -> Result<Worker<LocalProver>, WorkerError> {
        // A bad URL is reported before minutes of keygen, not after.
        http::Endpoint::parse(&self.sequencer)?;
        let config = CircuitConfig::load(&self.config)
            .map_err(|source| WorkerError::Config { path: self.config.clone(), source })?;
        let k = config.config.k as u32;
        let srs = match (&self.srs, self.dev_srs) {
            (Some(path), _) => Srs::load(path, k)?,
            (None, true) => Srs::development(k),
            (None, false) => return Err(WorkerError::NoSrs),
        };
        let started = Instant::now();
        let keys = KeyStore::new(&self.keys).load_or_generate(&config, &srs)?;
        info!(
            target: "merit::prover",
            config = %config.config.name,
            generated = keys.generated,
            seconds = started.elapsed().as_secs_f64(),
            "keys ready"
        );
        let mut options = WorkerOptions::new(self.sequencer.clone());
        options.once = self.once;
        if let Some(id) = &self.id {
            options.prover_id.clone_from(id);
        }
        Worker::new(options, LocalProver::new(srs), Arc::new(keys))
    }

    /// Runs the worker until it fails (or, with `--once`, after one job). With `--once`, a job
    /// that did not end in an accepted proof is an error.
    pub fn run(&self) -> Result<WorkerSummary, Box<dyn std::error::Error + Send + Sync>> {
        let worker = self.worker()?;
        if let Some(addr) = self.metrics_addr {
            worker.metrics().serve(addr)?;
        }
        let summary = worker.run()?;
        if self.once {
            match summary.jobs.first() {
                Some(JobOutcome::Proven { .. }) => {}
                Some(other) => {
                    return Err(format!("the job did not end in a proof: {other:?}").into())
                }
                None => return Err("stopped before a job was proven".into()),
            }
        }
        Ok(summary)
    }
}
