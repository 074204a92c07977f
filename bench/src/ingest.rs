//! The ingestion benchmark: sustained signed submissions at a fixed offered rate against a
//! running node (`--url`) or one it starts itself (`--spawn`), with acknowledgement latency,
//! errors by code and, for a spawned node, the CPU time of both sides.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::{SocketAddr, ToSocketAddrs},
    path::PathBuf,
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::Address;
use eyre::{bail, eyre, WrapErr};
use serde::{Deserialize, Serialize};

use crate::{
    load::{
        build_workload, drive, fetch_last_nonces, fetch_status, DriveSpec, Latency, Target,
        WorkloadSpec,
    },
    node::{cpu_delta, cpu_seconds, thread_cpu_seconds, NodeProcess},
    report::{Machine, ServerMetrics},
};

/// The targets of the ingestion benchmark (from the issue; benchmarks, not tests).
pub const TARGET_RATE: f64 = 10_000.0;
/// p99 acknowledgement latency target at [`TARGET_RATE`], ms.
pub const TARGET_P99_MS: f64 = 20.0;

/// What the benchmark says about where its numbers come from.
pub const SHARED_CORES_NOTE: &str = "The load generator runs on the same machine as the \
    sequencer and shares its cores (HTTP client, timers, receipt parsing); every contribution \
    is signed before the measured window, so signing costs the window nothing.";

/// Where the sequencer is.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A running node.
    Url {
        /// Its address.
        addr: SocketAddr,
        /// Its process id, to report its CPU time (optional).
        pid: Option<u32>,
    },
    /// Start `bin` on a data directory (a temporary one if `None`) and stop it at the end.
    Spawn {
        /// The `merit-sequencer` binary.
        bin: PathBuf,
        /// The data directory.
        data_dir: Option<PathBuf>,
        /// Extra arguments of the node.
        args: Vec<String>,
    },
}

/// Parses `http://host:port[/]` (or `host:port`) into a socket address.
pub fn parse_url(url: &str) -> eyre::Result<SocketAddr> {
    if url.starts_with("https://") {
        bail!("https is not supported by the load generator; use http://");
    }
    let rest = url.strip_prefix("http://").unwrap_or(url).trim_end_matches('/');
    if rest.contains('/') {
        bail!("{url:?}: give the node's base URL, e.g. http://127.0.0.1:8645");
    }
    rest.to_socket_addrs()
        .wrap_err_with(|| format!("{url:?} is not host:port"))?
        .next()
        .ok_or_else(|| eyre!("{url:?} resolves to no address"))
}

/// The ingestion benchmark's parameters.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The node.
    pub endpoint: Endpoint,
    /// Keys (contributors).
    pub keys: usize,
    /// Seed of keys and contents.
    pub seed: u64,
    /// Offered submissions per second.
    pub rate: f64,
    /// Measured window.
    pub duration: Duration,
    /// Warm-up before it at the same rate (not measured).
    pub warmup: Duration,
    /// Concurrent connections.
    pub connections: usize,
    /// Contributions per request (1: `POST /v1/contributions`; more: the batch route).
    pub per_request: usize,
    /// Worker threads of the client's runtime (reported only; the caller builds the runtime).
    pub client_threads: usize,
    /// Signing threads.
    pub sign_threads: usize,
    /// How long to keep sending after the schedule ends.
    pub drain: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Override of the node's chain id.
    pub chain_id: Option<u64>,
    /// Override of the node's rollup address.
    pub rollup: Option<Address>,
    /// Override of the node's feature width.
    pub feature_dim: Option<usize>,
}

/// The JSON report of one ingestion run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestReport {
    /// `"ingest"`.
    pub benchmark: String,
    /// When it ran, seconds since the Unix epoch.
    pub unix_time: u64,
    /// The machine.
    pub machine: Machine,
    /// The shared-cores caveat.
    pub note: String,
    /// The parameters.
    pub setup: IngestSetup,
    /// Pre-signing (outside the window).
    pub signing: Signing,
    /// Scheduled submissions per second in the measured window.
    pub offered_rate: f64,
    /// `202`s per second in the measured window.
    pub acked_rate: f64,
    /// Counts.
    pub submissions: Counts,
    /// Failures by code.
    pub errors: BTreeMap<String, u64>,
    /// Acknowledgement latency from the scheduled send time (open loop).
    pub latency_ms: Latency,
    /// Latency from the actual send.
    pub service_latency_ms: Latency,
    /// How far behind the schedule the client sent.
    pub send_lag_ms: Latency,
    /// Seconds from the first measured due time to the last measured acknowledgement.
    pub window_s: f64,
    /// `202`s per second of the run (warm-up included), by completion time.
    pub acks_per_second: Vec<u64>,
    /// CPU time during the run (client always; node when its pid is known).
    pub cpu: Cpu,
    /// The node's own metrics over the run.
    pub server: ServerMetrics,
    /// Pending contributions and the last batch after the run.
    pub after: After,
    /// The targets and whether they were met.
    pub targets: Targets,
}

/// The parameters of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestSetup {
    /// `spawn` or `url`.
    pub mode: String,
    /// The node's address.
    pub url: String,
    /// Extra arguments of a spawned node.
    pub node_args: Vec<String>,
    /// Keys.
    pub keys: usize,
    /// Connections.
    pub connections: usize,
    /// Contributions per request (1: `POST /v1/contributions`; more: `POST
    /// /v1/contributions/batch`, latency counted from the request's due time).
    #[serde(default = "one")]
    pub per_request: usize,
    /// Target rate.
    pub rate: f64,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Client runtime threads.
    pub client_threads: usize,
    /// Seed.
    pub seed: u64,
    /// The domain and width signed for.
    pub target: Target,
    /// The node's batch size limit.
    pub max_batch_size: usize,
    /// The node's batch age limit.
    pub max_batch_age_ms: u64,
}

fn one() -> usize {
    1
}

/// Pre-signing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signing {
    /// Contributions signed.
    pub contributions: usize,
    /// Threads.
    pub threads: usize,
    /// Seconds.
    pub seconds: f64,
    /// Signatures per second.
    pub per_second: f64,
}

/// Submission counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counts {
    /// Scheduled, warm-up included.
    pub scheduled: usize,
    /// Scheduled in the measured window.
    pub measured: usize,
    /// Sent.
    pub sent: usize,
    /// Never sent.
    pub unsent: usize,
    /// `202`s, warm-up included.
    pub acked_total: usize,
    /// `202`s in the measured window.
    pub acked: usize,
    /// Failures.
    pub errors: u64,
}

/// CPU seconds during the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cpu {
    /// Wall seconds of the run (warm-up, window and drain).
    pub wall_s: f64,
    /// CPU seconds of the load generator.
    pub client_s: Option<f64>,
    /// CPU seconds of the node.
    pub server_s: Option<f64>,
    /// The node's CPU seconds by thread name.
    pub server_threads: BTreeMap<String, f64>,
}

/// The node after the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct After {
    /// Pending contributions.
    pub pending: u64,
    /// The last sealed batch.
    pub last_batch: Option<u64>,
}

/// The targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Targets {
    /// Acknowledged per second.
    pub rate_per_s: f64,
    /// p99 latency.
    pub p99_ms: f64,
    /// Acknowledged rate ≥ 99 % of the target and of the offered rate, no errors.
    pub rate_met: bool,
    /// p99 within target.
    pub p99_met: bool,
}

/// Runs the benchmark. Call it inside the client's tokio runtime.
pub async fn run_ingest(options: &IngestOptions) -> eyre::Result<IngestReport> {
    let mut temp = None;
    let mut process = None;
    let (addr, pid, mode) = match &options.endpoint {
        Endpoint::Url { addr, pid } => (*addr, *pid, "url"),
        Endpoint::Spawn { bin, data_dir, args } => {
            let dir = match data_dir {
                Some(dir) => dir.clone(),
                None => temp.insert(tempfile::tempdir()?).path().to_path_buf(),
            };
            let mut node = NodeProcess::spawn(bin, &dir, ([127, 0, 0, 1], 0).into(), args)?;
            let addr = node.wait_listening(Duration::from_secs(120))?;
            let pid = node.pid();
            process = Some(node);
            (addr, Some(pid), "spawn")
        }
    };
    let status = fetch_status(addr).await?;
    let mut target = status.target();
    if let Some(chain_id) = options.chain_id {
        target.domain.chain_id = chain_id;
    }
    if let Some(rollup) = options.rollup {
        target.domain.verifying_contract = rollup;
    }
    if let Some(dim) = options.feature_dim {
        target.feature_dim = dim;
    }
    let warmup = (options.rate * options.warmup.as_secs_f64()).round() as usize;
    let measured = (options.rate * options.duration.as_secs_f64()).round() as usize;
    if measured == 0 {
        bail!("rate × duration is zero submissions");
    }
    let keys: Vec<Address> =
        (0..options.keys).map(|key| crate::load::key_signer(options.seed, key).address()).collect();
    let last_nonces = if mode == "url" { fetch_last_nonces(addr, &keys).await? } else { vec![] };
    let spec = WorkloadSpec {
        keys: options.keys,
        seed: options.seed,
        submissions: warmup + measured,
        last_nonces,
    };
    eprintln!(
        "signing {} contributions of {} keys ({} features, chain {}, rollup {}) on {} threads…",
        spec.submissions,
        spec.keys,
        target.feature_dim,
        target.domain.chain_id,
        target.domain.verifying_contract,
        options.sign_threads
    );
    let workload =
        Arc::new(build_workload(&spec, &target, &addr.to_string(), options.sign_threads)?);
    let signing = Signing {
        contributions: workload.submissions.len(),
        threads: workload.signing_threads,
        seconds: workload.signing.as_secs_f64(),
        per_second: workload.submissions.len() as f64 / workload.signing.as_secs_f64().max(1e-9),
    };
    eprintln!(
        "signed in {:.1} s; offering {} per second for {:.0} s (+{:.0} s warm-up) over {} \
         connections to http://{addr}…",
        signing.seconds,
        options.rate,
        options.duration.as_secs_f64(),
        options.warmup.as_secs_f64(),
        options.connections
    );

    let metrics_before = ServerMetrics::fetch(addr).await.unwrap_or_default();
    let pid_text = pid.map(|p| p.to_string());
    let server_before = pid_text.as_deref().and_then(cpu_seconds);
    let threads_before = pid_text.as_deref().map(thread_cpu_seconds).unwrap_or_default();
    let client_before = cpu_seconds("self");
    let wall = Instant::now();
    let drive_spec = DriveSpec {
        addr,
        rate: options.rate,
        warmup,
        connections: options.connections,
        drain: options.drain,
        request_timeout: options.request_timeout,
        record_acked: false,
        per_request: options.per_request,
    };
    let result = drive(workload.clone(), &drive_spec, Arc::new(AtomicBool::new(false))).await?;
    let wall = wall.elapsed();
    let client_after = cpu_seconds("self");
    let server_after = pid_text.as_deref().and_then(cpu_seconds);
    let threads_after = pid_text.as_deref().map(thread_cpu_seconds).unwrap_or_default();
    let metrics = ServerMetrics::fetch(addr).await.unwrap_or_default().since(&metrics_before);
    let after = fetch_status(addr).await?;
    drop(workload);

    if let Some(mut node) = process.take() {
        if node.terminate(Duration::from_secs(30))?.is_none() {
            eprintln!("the node did not stop within 30 s of SIGTERM and was killed");
        }
    }
    drop(temp);

    let latency = Latency::from_micros(&result.latency);
    let acked_rate = result.acked_rate();
    let offered_rate = result.offered_rate();
    let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
    let report = IngestReport {
        benchmark: "ingest".to_owned(),
        unix_time: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        machine: Machine::current(),
        note: SHARED_CORES_NOTE.to_owned(),
        setup: IngestSetup {
            mode: mode.to_owned(),
            url: format!("http://{addr}"),
            node_args: match &options.endpoint {
                Endpoint::Spawn { args, .. } => args.clone(),
                Endpoint::Url { .. } => vec![],
            },
            keys: options.keys,
            connections: options.connections.min(options.keys),
            per_request: options.per_request,
            rate: options.rate,
            duration_s: options.duration.as_secs_f64(),
            warmup_s: options.warmup.as_secs_f64(),
            client_threads: options.client_threads,
            seed: options.seed,
            target,
            max_batch_size: status.max_batch_size,
            max_batch_age_ms: status.max_batch_age_ms,
        },
        signing,
        offered_rate,
        acked_rate,
        submissions: Counts {
            scheduled: result.scheduled,
            measured: result.measured,
            sent: result.sent,
            unsent: result.unsent,
            acked_total: result.acked_total,
            acked: result.acked,
            errors: result.error_count(),
        },
        errors: result.errors.clone(),
        latency_ms: latency,
        service_latency_ms: Latency::from_micros(&result.service),
        send_lag_ms: Latency::from_micros(&result.send_lag),
        window_s: result.window.as_secs_f64(),
        acks_per_second: result.acks_per_second.clone(),
        cpu: Cpu {
            wall_s: wall.as_secs_f64(),
            client_s: minus(client_after, client_before),
            server_s: minus(server_after, server_before),
            server_threads: cpu_delta(&threads_before, &threads_after),
        },
        server: metrics,
        after: After { pending: after.pending, last_batch: after.last_batch },
        targets: Targets {
            rate_per_s: TARGET_RATE,
            p99_ms: TARGET_P99_MS,
            rate_met: acked_rate >= 0.99 * TARGET_RATE
                && result.acked as f64 >= 0.99 * result.measured as f64
                && result.error_count() == 0,
            p99_met: latency.p99 <= TARGET_P99_MS,
        },
    };
    Ok(report)
}

impl IngestReport {
    /// A human summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let s = &self.setup;
        let _ = writeln!(
            out,
            "merit-loadgen ingest — {} ({} cores)",
            self.machine.cpu, self.machine.cores
        );
        let _ = writeln!(
            out,
            "  node        {} ({}), batches of {} or {} ms{}",
            s.url,
            s.mode,
            s.max_batch_size,
            s.max_batch_age_ms,
            if s.node_args.is_empty() {
                String::new()
            } else {
                format!(", args {:?}", s.node_args)
            }
        );
        let _ = writeln!(
            out,
            "  load        {} keys over {} connections, {:.0} s at {:.0}/s after {:.0} s warm-up, {}",
            s.keys,
            s.connections,
            s.duration_s,
            s.rate,
            s.warmup_s,
            if s.per_request > 1 {
                format!("{} per request (POST /v1/contributions/batch)", s.per_request)
            } else {
                "one per request".to_owned()
            }
        );
        let _ = writeln!(
            out,
            "  signing     {} contributions in {:.1} s on {} threads ({:.0}/s), before the window",
            self.signing.contributions,
            self.signing.seconds,
            self.signing.threads,
            self.signing.per_second
        );
        let _ = writeln!(
            out,
            "  offered     {:.0}/s   acknowledged {:.0}/s ({} of {} in {:.2} s; {} unsent)",
            self.offered_rate,
            self.acked_rate,
            self.submissions.acked,
            self.submissions.measured,
            self.window_s,
            self.submissions.unsent
        );
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(code, n)| format!("{code} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "  errors      {errors}");
        let l = &self.latency_ms;
        let _ = writeln!(
            out,
            "  ack latency p50 {:.2} ms  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (from the scheduled send)",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        let l = &self.service_latency_ms;
        let _ = writeln!(
            out,
            "  service     p50 {:.2} ms  p99 {:.2}  max {:.2}  (from the actual send; client lag p99 {:.2} ms)",
            l.p50, l.p99, l.max, self.send_lag_ms.p99
        );
        if let Some(per_second) =
            self.acks_per_second.get(1..self.acks_per_second.len().saturating_sub(1))
        {
            if let (Some(min), Some(max)) = (per_second.iter().min(), per_second.iter().max()) {
                let _ = writeln!(out, "  per second  min {min}  max {max} acknowledgements (whole seconds of the run)");
            }
        }
        let c = &self.cpu;
        let cores =
            |cpu: Option<f64>| cpu.map_or("?".to_owned(), |cpu| format!("{:.2}", cpu / c.wall_s));
        let _ = writeln!(
            out,
            "  cpu         node {} cores, load generator {} cores (of {}, over {:.1} s)",
            cores(c.server_s),
            cores(c.client_s),
            self.machine.cores,
            c.wall_s
        );
        if !c.server_threads.is_empty() {
            let mut threads: Vec<_> = c.server_threads.iter().collect();
            threads.sort_by(|a, b| b.1.total_cmp(a.1));
            let list: Vec<String> =
                threads.iter().take(6).map(|(name, cpu)| format!("{name} {cpu:.1} s")).collect();
            let _ = writeln!(out, "  node threads {}", list.join(", "));
        }
        let m = &self.server;
        let _ = writeln!(
            out,
            "  node        group commit {:.0} per fsync ({} writes), in-node ack mean {:.2} ms, {} batches sealed, {} pending after",
            m.group_commit_mean.unwrap_or(0.0),
            m.group_commits.unwrap_or(0.0),
            m.ack_latency_mean_ms.unwrap_or(0.0),
            m.batches_sealed.unwrap_or(0.0),
            self.after.pending
        );
        let mark = |ok: bool| if ok { "met" } else { "NOT met" };
        let _ = writeln!(
            out,
            "  targets     ≥ {:.0}/s acknowledged: {}; p99 ≤ {:.0} ms: {}",
            self.targets.rate_per_s,
            mark(self.targets.rate_met),
            self.targets.p99_ms,
            mark(self.targets.p99_met)
        );
        let _ = writeln!(out, "  note        {}", self.note);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("http://127.0.0.1:8645").unwrap(), "127.0.0.1:8645".parse().unwrap());
        assert_eq!(parse_url("127.0.0.1:1/").unwrap(), "127.0.0.1:1".parse().unwrap());
        assert!(parse_url("https://127.0.0.1:1").is_err());
        assert!(parse_url("http://127.0.0.1:1/v1").is_err());
        assert!(parse_url("http://127.0.0.1").is_err());
    }
}
