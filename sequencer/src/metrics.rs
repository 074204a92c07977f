//! Prometheus metrics of one node, served as text at `GET /metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The node's metrics, in their own registry (no global state, so tests can run side by side).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Submissions by outcome: `accepted` or the error code.
    pub submissions: IntCounterVec,
    /// Time from receiving a submission to its durable acknowledgement.
    pub ack_latency: Histogram,
    /// Submissions per synced write (group commit).
    pub group_commit_size: Histogram,
    /// Batches sealed.
    pub batches_sealed: IntCounter,
    /// Contributions sealed into batches.
    pub contributions_batched: IntCounter,
    /// Contributions the batcher rejected on their own.
    pub contributions_rejected: IntCounter,
    /// Contributions waiting in the pending queue.
    pub pending: IntGauge,
    /// The last sealed batch id (0 before the first).
    pub last_batch: IntGauge,
    /// Jobs leased to provers (re-leases included).
    pub jobs_leased: IntCounter,
    /// Leases that lapsed and were issued again.
    pub leases_expired: IntCounter,
    /// Proofs accepted.
    pub proofs_accepted: IntCounter,
    /// Proofs refused, by error code.
    pub proofs_rejected: IntCounterVec,
    /// Sealed batches without an accepted proof.
    pub open_jobs: IntGauge,
    /// The last batch settled on L1, as the rollup contract reports it.
    pub l1_settled_batch: IntGauge,
    /// `submitBatch` outcomes: `settled`, or the kind of failure (`reverted`, `rpc`, …).
    pub l1_submissions: IntCounterVec,
    /// Gas used by settled `submitBatch` transactions.
    pub l1_gas_used: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("merit_sequencer".to_owned()), None).expect("a valid prefix");
        let submissions = IntCounterVec::new(
            Opts::new("submissions_total", "Contribution submissions by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let ack_latency = Histogram::with_opts(
            HistogramOpts::new(
                "ack_latency_seconds",
                "Time from receiving a contribution to its durable acknowledgement",
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("valid metric");
        let group_commit_size = Histogram::with_opts(
            HistogramOpts::new("group_commit_size", "Contributions per synced write")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]),
        )
        .expect("valid metric");
        let batches_sealed =
            IntCounter::new("batches_sealed_total", "Batches sealed").expect("valid metric");
        let contributions_batched =
            IntCounter::new("contributions_batched_total", "Contributions sealed into batches")
                .expect("valid metric");
        let contributions_rejected = IntCounter::new(
            "contributions_rejected_total",
            "Contributions the batcher rejected on their own (budget, tree full, overflow)",
        )
        .expect("valid metric");
        let pending = IntGauge::new("pending_contributions", "Contributions waiting for a batch")
            .expect("valid metric");
        let last_batch =
            IntGauge::new("last_batch_id", "The last sealed batch id").expect("valid metric");
        let jobs_leased =
            IntCounter::new("jobs_leased_total", "Jobs leased to provers").expect("valid metric");
        let leases_expired =
            IntCounter::new("leases_expired_total", "Leases that lapsed and were issued again")
                .expect("valid metric");
        let proofs_accepted =
            IntCounter::new("proofs_accepted_total", "Proofs accepted").expect("valid metric");
        let proofs_rejected = IntCounterVec::new(
            Opts::new("proofs_rejected_total", "Proofs refused, by error code"),
            &["code"],
        )
        .expect("valid metric");
        let open_jobs = IntGauge::new("open_jobs", "Sealed batches without an accepted proof")
            .expect("valid metric");
        let l1_settled_batch = IntGauge::new(
            "l1_settled_batch_id",
            "The last batch settled on L1 (0 before the first)",
        )
        .expect("valid metric");
        let l1_submissions = IntCounterVec::new(
            Opts::new("l1_submissions_total", "submitBatch attempts by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let l1_gas_used =
            IntCounter::new("l1_gas_used_total", "Gas used by settled submitBatch transactions")
                .expect("valid metric");
        for metric in [
            Box::new(submissions.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(ack_latency.clone()),
            Box::new(group_commit_size.clone()),
            Box::new(batches_sealed.clone()),
            Box::new(contributions_batched.clone()),
            Box::new(contributions_rejected.clone()),
            Box::new(pending.clone()),
            Box::new(last_batch.clone()),
            Box::new(jobs_leased.clone()),
            Box::new(leases_expired.clone()),
            Box::new(proofs_accepted.clone()),
            Box::new(proofs_rejected.clone()),
            Box::new(open_jobs.clone()),
            Box::new(l1_settled_batch.clone()),
            Box::new(l1_submissions.clone()),
            Box::new(l1_gas_used.clone()),
        ] {
            registry.register(metric).expect("metric names are unique");
        }
        Self {
            registry,
            submissions,
            ack_latency,
            group_commit_size,
            batches_sealed,
            contributions_batched,
            contributions_rejected,
            pending,
            last_batch,
            jobs_leased,
            leases_expired,
            proofs_accepted,
            proofs_rejected,
            open_jobs,
            l1_settled_batch,
            l1_submissions,
            l1_gas_used,
        }
    }

    /// Counts one submission outcome.
    pub fn submission(&self, outcome: &str) {
        self.submissions.with_label_values(&[outcome]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding into a Vec does not fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
