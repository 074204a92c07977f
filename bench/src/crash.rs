//! The recovery benchmark: stream signed submissions into a spawned node, SIGKILL it
//! mid-stream, restart it on the same data directory, time how long until `/health` answers,
//! and check that every contribution acknowledged before the kill is there.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::B256;
use eyre::{bail, eyre};
use serde::{Deserialize, Serialize};

use crate::{
    http::{self, render_request, Connection},
    load::{build_workload, drive, fetch_last_nonces, fetch_status, DriveSpec, WorkloadSpec},
    node::NodeProcess,
    report::Machine,
};

/// Recovery target, seconds.
pub const TARGET_RECOVERY_S: f64 = 5.0;

/// The recovery benchmark's parameters.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// The `merit-sequencer` binary.
    pub bin: PathBuf,
    /// The data directory (a temporary one if `None`).
    pub data_dir: Option<PathBuf>,
    /// Extra arguments of the node.
    pub args: Vec<String>,
    /// Keys.
    pub keys: usize,
    /// Seed.
    pub seed: u64,
    /// Offered submissions per second.
    pub rate: f64,
    /// SIGKILL this long after the stream starts.
    pub kill_after: Duration,
    /// Concurrent connections.
    pub connections: usize,
    /// Signing threads.
    pub sign_threads: usize,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Give up waiting for `/health` after this long.
    pub recovery_timeout: Duration,
}

/// The JSON report of one crash run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrashReport {
    /// `"crash"`.
    pub benchmark: String,
    /// When it ran, seconds since the Unix epoch.
    pub unix_time: u64,
    /// The machine.
    pub machine: Machine,
    /// Extra arguments of the node.
    pub node_args: Vec<String>,
    /// Keys.
    pub keys: usize,
    /// Connections.
    pub connections: usize,
    /// Offered rate before the kill.
    pub rate: f64,
    /// Seconds of streaming before the SIGKILL.
    pub kill_after_s: f64,
    /// Submissions sent before the kill.
    pub sent: usize,
    /// `202`s received before the kill.
    pub acknowledged: usize,
    /// Failures by code (in-flight requests at the kill end as `io`).
    pub errors: BTreeMap<String, u64>,
    /// Pending contributions reported just before the kill (best effort).
    pub pending_before_kill: Option<u64>,
    /// Seconds from spawning the restarted node to the first `200` of `GET /health`.
    pub recovery_s: f64,
    /// Seconds from the SIGKILL to that `200` (includes the kill and restart of the process).
    pub recovery_from_kill_s: f64,
    /// Pending contributions after the restart.
    pub pending_after_restart: u64,
    /// Acknowledged contributions looked up after the restart.
    pub checked: usize,
    /// Acknowledged contributions not found (`GET /v1/contributions/{id}` ≠ 200).
    pub lost: usize,
    /// The first lost ids.
    pub lost_ids: Vec<B256>,
    /// Keys whose last accepted nonce after the restart is below their last acknowledged one.
    pub nonce_regressions: usize,
    /// Recovery target.
    pub target_recovery_s: f64,
    /// `recovery_s` within target and nothing lost.
    pub met: bool,
}

/// Runs the crash benchmark. Call it inside the client's tokio runtime.
pub async fn run_crash(options: &CrashOptions) -> eyre::Result<CrashReport> {
    let temp = match options.data_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let dir = match (&options.data_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory was made"),
    };
    let mut node =
        NodeProcess::spawn(&options.bin, &dir, ([127, 0, 0, 1], 0).into(), &options.args)?;
    let addr = node.wait_listening(Duration::from_secs(120))?;
    let status = fetch_status(addr).await?;
    let target = status.target();
    let count = (options.rate * (options.kill_after.as_secs_f64() + 2.0)).round() as usize;
    let keys: Vec<_> =
        (0..options.keys).map(|key| crate::load::key_signer(options.seed, key).address()).collect();
    let last_nonces = fetch_last_nonces(addr, &keys).await?;
    let spec =
        WorkloadSpec { keys: options.keys, seed: options.seed, submissions: count, last_nonces };
    eprintln!("signing {count} contributions of {} keys…", options.keys);
    let workload =
        Arc::new(build_workload(&spec, &target, &addr.to_string(), options.sign_threads)?);
    eprintln!(
        "streaming {:.0}/s into http://{addr}; SIGKILL after {:.1} s…",
        options.rate,
        options.kill_after.as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let drive_spec = DriveSpec {
        addr,
        rate: options.rate,
        warmup: 0,
        connections: options.connections,
        drain: Duration::from_secs(5),
        request_timeout: options.request_timeout,
        record_acked: true,
        per_request: 1,
    };
    let stream = {
        let (workload, stop) = (workload.clone(), stop.clone());
        tokio::spawn(async move { drive(workload, &drive_spec, stop).await })
    };
    tokio::time::sleep(options.kill_after + Duration::from_millis(200)).await;
    let pending_before_kill = fetch_status(addr).await.ok().map(|s| s.pending);
    node.kill()?;
    let killed = Instant::now();
    stop.store(true, Ordering::SeqCst);
    let result = stream.await.map_err(|e| eyre!("the stream task failed: {e}"))??;
    let first_log = node.log_tail();
    drop(node);

    // Restart on the same address and poll /health from the moment of the spawn.
    let mut node = NodeProcess::spawn(&options.bin, &dir, addr, &options.args)?;
    let spawned = node.spawned;
    let healthy = loop {
        let probe = http::request(addr, "GET", "/health", None, Duration::from_secs(1)).await;
        if matches!(probe, Ok(ref response) if response.status == 200) {
            break Instant::now();
        }
        if let Some(status) = node.exited()? {
            bail!("the restarted node exited ({status}):\n{}", node.log_tail());
        }
        if spawned.elapsed() > options.recovery_timeout {
            bail!(
                "the restarted node did not answer /health within {:?}:\n{}",
                options.recovery_timeout,
                node.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let recovery = healthy - spawned;
    let recovery_from_kill = healthy - killed;
    eprintln!(
        "recovered in {:.3} s ({:.3} s after the kill); checking {} acknowledged contributions…",
        recovery.as_secs_f64(),
        recovery_from_kill.as_secs_f64(),
        result.acked_indices.len()
    );

    let ids: Vec<B256> = result.acked_indices.iter().map(|&i| workload.submissions[i].id).collect();
    let lost_ids = missing(addr, &ids, 16).await?;
    let mut max_acked = vec![0u64; options.keys];
    for &index in &result.acked_indices {
        let submission = &workload.submissions[index];
        let slot = &mut max_acked[submission.key as usize];
        *slot = (*slot).max(submission.nonce);
    }
    let after = fetch_last_nonces(addr, &workload.keys).await?;
    let nonce_regressions = after.iter().zip(&max_acked).filter(|(now, acked)| now < acked).count();
    let pending_after_restart = fetch_status(addr).await?.pending;
    if !lost_ids.is_empty() {
        eprintln!(
            "LOST {} acknowledged contributions; the killed node's log:\n{first_log}",
            lost_ids.len()
        );
    }
    node.terminate(Duration::from_secs(30))?;
    drop(temp);

    let recovery_s = recovery.as_secs_f64();
    let lost = lost_ids.len();
    Ok(CrashReport {
        benchmark: "crash".to_owned(),
        unix_time: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        machine: Machine::current(),
        node_args: options.args.clone(),
        keys: options.keys,
        connections: options.connections.min(options.keys),
        rate: options.rate,
        kill_after_s: options.kill_after.as_secs_f64(),
        sent: result.sent,
        acknowledged: result.acked_total,
        errors: result.errors,
        pending_before_kill,
        recovery_s,
        recovery_from_kill_s: recovery_from_kill.as_secs_f64(),
        pending_after_restart,
        checked: ids.len(),
        lost,
        lost_ids: lost_ids.into_iter().take(10).collect(),
        nonce_regressions,
        target_recovery_s: TARGET_RECOVERY_S,
        met: recovery_s < TARGET_RECOVERY_S && lost == 0 && nonce_regressions == 0,
    })
}

/// The ids among `ids` that `GET /v1/contributions/{id}` does not find, over `connections`
/// concurrent connections.
pub async fn missing(
    addr: SocketAddr,
    ids: &[B256],
    connections: usize,
) -> eyre::Result<Vec<B256>> {
    let connections = connections.max(1);
    let chunk = ids.len().div_ceil(connections).max(1);
    let mut tasks = Vec::new();
    for part in ids.chunks(chunk) {
        let part = part.to_vec();
        tasks.push(tokio::spawn(async move {
            let timeout = Duration::from_secs(30);
            let host = addr.to_string();
            let mut connection = Connection::connect(addr, timeout).await?;
            let mut missing = Vec::new();
            for id in part {
                if connection.is_closed() {
                    connection = Connection::connect(addr, timeout).await?;
                }
                let request =
                    render_request("GET", &host, &format!("/v1/contributions/{id}"), None);
                let response = connection.send(&request).await?;
                match response.status {
                    200 => {}
                    404 => missing.push(id),
                    status => bail!("GET /v1/contributions/{id} answered {status}"),
                }
            }
            Ok(missing)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await.map_err(|e| eyre!("a check task failed: {e}"))??);
    }
    Ok(out)
}

impl CrashReport {
    /// A human summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "merit-loadgen crash — {} ({} cores)",
            self.machine.cpu, self.machine.cores
        );
        let _ = writeln!(
            out,
            "  stream      {:.0}/s from {} keys over {} connections; SIGKILL after {:.1} s",
            self.rate, self.keys, self.connections, self.kill_after_s
        );
        let _ = writeln!(
            out,
            "  before kill {} sent, {} acknowledged, {} pending in the node",
            self.sent,
            self.acknowledged,
            self.pending_before_kill.map_or("?".to_owned(), |p| p.to_string())
        );
        let _ = writeln!(
            out,
            "  recovery    {:.3} s from restart to /health 200 ({:.3} s from the SIGKILL); {} pending after restart",
            self.recovery_s, self.recovery_from_kill_s, self.pending_after_restart
        );
        let _ = writeln!(
            out,
            "  durability  {} acknowledged checked, {} lost, {} nonce regressions",
            self.checked, self.lost, self.nonce_regressions
        );
        let _ = writeln!(
            out,
            "  target      recovery < {:.0} s with nothing lost: {}",
            self.target_recovery_s,
            if self.met { "met" } else { "NOT met" }
        );
        out
    }
}
