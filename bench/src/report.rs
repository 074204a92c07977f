//! Pieces of the reports: the machine, the node's own metrics, JSON output.

use std::{net::SocketAddr, path::Path, time::Duration};

use eyre::WrapErr;
use serde::{Deserialize, Serialize};

use crate::http;

/// The machine a benchmark ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// Kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel: String,
}

impl Machine {
    /// This machine.
    pub fn current() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, name)| name.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { cpu, cores, kernel }
    }
}

/// What the node's Prometheus metrics say about the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetrics {
    /// Mean submissions per synced write (group commit).
    pub group_commit_mean: Option<f64>,
    /// Synced writes of the writer.
    pub group_commits: Option<f64>,
    /// Mean time from receiving a submission to its acknowledgement, inside the node (ms).
    pub ack_latency_mean_ms: Option<f64>,
    /// Batches sealed.
    pub batches_sealed: Option<f64>,
    /// Contributions sealed into batches.
    pub contributions_batched: Option<f64>,
    /// Contributions still pending.
    pub pending: Option<f64>,
}

impl ServerMetrics {
    /// Reads the values out of Prometheus text.
    pub fn parse(text: &str) -> Self {
        let value = |name: &str| {
            text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
                let (metric, value) = line.rsplit_once(' ')?;
                (metric == name).then(|| value.parse::<f64>().ok()).flatten()
            })
        };
        let ratio = |sum: Option<f64>, count: Option<f64>| match (sum, count) {
            (Some(sum), Some(count)) if count > 0.0 => Some(sum / count),
            _ => None,
        };
        let commits = value("merit_sequencer_group_commit_size_count");
        Self {
            group_commit_mean: ratio(value("merit_sequencer_group_commit_size_sum"), commits),
            group_commits: commits,
            ack_latency_mean_ms: ratio(
                value("merit_sequencer_ack_latency_seconds_sum"),
                value("merit_sequencer_ack_latency_seconds_count"),
            )
            .map(|s| s * 1e3),
            batches_sealed: value("merit_sequencer_batches_sealed_total"),
            contributions_batched: value("merit_sequencer_contributions_batched_total"),
            pending: value("merit_sequencer_pending"),
        }
    }

    /// `GET /metrics` of a node.
    pub async fn fetch(addr: SocketAddr) -> eyre::Result<Self> {
        let response = http::request(addr, "GET", "/metrics", None, Duration::from_secs(10))
            .await
            .wrap_err("GET /metrics")?;
        Ok(Self::parse(&String::from_utf8_lossy(&response.body)))
    }

    /// `after - before` for the counters; gauges and means are `after`'s (means over the
    /// whole life of the node).
    pub fn since(&self, before: &Self) -> Self {
        let minus = |a: Option<f64>, b: Option<f64>| a.map(|a| a - b.unwrap_or(0.0));
        Self {
            group_commits: minus(self.group_commits, before.group_commits),
            batches_sealed: minus(self.batches_sealed, before.batches_sealed),
            contributions_batched: minus(self.contributions_batched, before.contributions_batched),
            ..self.clone()
        }
    }
}

/// Writes `report` as pretty JSON to `path`, creating the directory.
pub fn write_json(path: &Path, report: &impl Serialize) -> eyre::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    std::fs::write(path, text).wrap_err_with(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_text() {
        let text = "# HELP x\n\
            merit_sequencer_group_commit_size_sum 300\n\
            merit_sequencer_group_commit_size_count 10\n\
            merit_sequencer_ack_latency_seconds_bucket{le=\"0.001\"} 3\n\
            merit_sequencer_ack_latency_seconds_sum 0.5\n\
            merit_sequencer_ack_latency_seconds_count 250\n\
            merit_sequencer_batches_sealed_total 4\n\
            merit_sequencer_pending 17\n";
        let metrics = ServerMetrics::parse(text);
        assert_eq!(metrics.group_commit_mean, Some(30.0));
        assert_eq!(metrics.ack_latency_mean_ms, Some(2.0));
        assert_eq!(metrics.batches_sealed, Some(4.0));
        assert_eq!(metrics.pending, Some(17.0));
        assert_eq!(metrics.contributions_batched, None);
        let before = ServerMetrics { batches_sealed: Some(1.0), ..Default::default() };
        assert_eq!(metrics.since(&before).batches_sealed, Some(3.0));
    }

    #[test]
    fn describes_this_machine() {
        assert!(Machine::current().cores >= 1);
    }
}
