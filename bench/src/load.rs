//! The workload (keys, pre-signed contributions, the per-connection schedule) and the open-loop
//! driver that sends it and measures acknowledgement latency.
//!
//! Submission `i` of a run belongs to key `i mod K` and carries that key's next nonce, and is
//! due at `t0 + i / rate` (open loop: the schedule does not wait for the server). A key always
//! goes through the same connection, and each connection sends its submissions one at a time
//! in schedule order, so every key's nonces arrive in increasing order; the keys are spread
//! over the connections. Latency is measured from the *scheduled* time to the end of the
//! response, so a server (or a connection) that falls behind is charged for the queueing it
//! causes (no coordinated omission); the time from the actual send is reported beside it.
//!
//! With [`DriveSpec::per_request`] > 1 the generator plays a relay: each connection sends its
//! submissions `per_request` at a time to `POST /v1/contributions/batch`, each request due when
//! its last submission is (so the time a relay spends collecting a batch is not counted:
//! latency runs from the request's due time). Each connection is an independent relay whose
//! batches fill at their own moments: its first request is shorter by a per-connection phase
//! ([`relay_phase`]), so the connections' requests come due spread over one request period
//! rather than all at once (submissions are dealt to the connections in turn, so full requests
//! alone would fill together and arrive as one burst of `connections · per_request`).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use eyre::{bail, eyre, WrapErr};
use hdrhistogram::Histogram;
use merit_core::{samples, Contribution, MeritDomain};
use serde::{Deserialize, Serialize};

use crate::http::{self, render_request, Connection};

/// What the load generator needs to know about the sequencer it talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The EIP-712 domain (chain id and rollup address) contributions are signed under.
    pub domain: MeritDomain,
    /// The model's input width.
    pub feature_dim: usize,
}

/// The fields of `GET /v1/status` the load generator reads.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeStatus {
    /// Contributions waiting for a batch.
    pub pending: u64,
    /// The last sealed batch.
    pub last_batch: Option<u64>,
    /// The model's input width.
    pub feature_dim: usize,
    /// The EIP-712 chain id.
    pub chain_id: u64,
    /// The EIP-712 verifying contract.
    pub rollup: Address,
    /// Batch size limit.
    pub max_batch_size: usize,
    /// Batch age limit, ms.
    pub max_batch_age_ms: u64,
}

impl NodeStatus {
    /// The signing target this status describes.
    pub fn target(&self) -> Target {
        Target {
            domain: MeritDomain { chain_id: self.chain_id, verifying_contract: self.rollup },
            feature_dim: self.feature_dim,
        }
    }
}

/// `GET /v1/status`.
pub async fn fetch_status(addr: SocketAddr) -> eyre::Result<NodeStatus> {
    let response = http::request(addr, "GET", "/v1/status", None, Duration::from_secs(10))
        .await
        .wrap_err_with(|| format!("GET http://{addr}/v1/status"))?;
    if response.status != 200 {
        bail!("GET /v1/status answered {}: {}", response.status, lossy(&response.body));
    }
    serde_json::from_slice(&response.body).wrap_err("GET /v1/status: unexpected body")
}

/// The signer of key `key` of workload `seed` (a public development key; never fund it).
pub fn key_signer(seed: u64, key: usize) -> PrivateKeySigner {
    samples::dev_signer((seed << 32) | key as u64)
}

/// The contribution of `key` with `nonce`: deterministic in `(seed, key, nonce)`, with random
/// task id and payload hash, and features of width `dim` whose magnitude varies from one
/// contribution to the next (small to full-range), so scores and rewards vary.
pub fn contribution(
    seed: u64,
    key: usize,
    contributor: Address,
    nonce: u64,
    dim: usize,
) -> Contribution {
    let mut rng = samples::SplitMix64::new(
        seed.wrapping_mul(0x9e37_79b9).wrapping_add((key as u64) << 24).wrapping_add(nonce),
    );
    let feature_max = [64, 512, 4096, 16_384, i16::MAX][(rng.next_u64() % 5) as usize];
    Contribution {
        contributor,
        task_id: rng.next_u64() % 1_000_000,
        nonce,
        features: samples::random_features(&mut rng, dim, feature_max),
        payload_hash: rng.bytes32(),
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// Number of keys (contributors).
    pub keys: usize,
    /// Seed of the keys and contents.
    pub seed: u64,
    /// Number of submissions.
    pub submissions: usize,
    /// Per key, the last nonce the node has already accepted (empty = all 0).
    pub last_nonces: Vec<u64>,
}

/// One pre-signed submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The key (index into [`Workload::keys`]).
    pub key: u32,
    /// Its nonce.
    pub nonce: u64,
    /// The contribution id (its EIP-712 signing hash) the receipt must carry.
    pub id: B256,
    /// The whole HTTP request, ready to write.
    pub request: Vec<u8>,
}

impl Submission {
    /// The request's JSON body (the signed contribution).
    pub fn body(&self) -> &[u8] {
        let head = self.request.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |at| at + 4);
        &self.request[head..]
    }
}

/// Pre-signed submissions in schedule order.
#[derive(Debug)]
pub struct Workload {
    /// The contributors, by key index.
    pub keys: Vec<Address>,
    /// Submission `i` is due at `t0 + i / rate`.
    pub submissions: Vec<Submission>,
    /// Time spent signing and rendering (before any measured window).
    pub signing: Duration,
    /// Threads used to sign.
    pub signing_threads: usize,
}

/// `(key, nonce)` of submission `index`: keys round-robin, each key's nonces consecutive from
/// `last_nonces[key] + 1`.
pub fn key_and_nonce(index: usize, keys: usize, last_nonces: &[u64]) -> (usize, u64) {
    let key = index % keys;
    let last = last_nonces.get(key).copied().unwrap_or(0);
    (key, last + (index / keys) as u64 + 1)
}

/// Signs every submission of `spec` for `target`, on `threads` threads; requests are rendered
/// for `host` (the `Host` header).
pub fn build_workload(
    spec: &WorkloadSpec,
    target: &Target,
    host: &str,
    threads: usize,
) -> eyre::Result<Workload> {
    if spec.keys == 0 {
        bail!("at least one key is needed");
    }
    let started = Instant::now();
    let signers: Vec<PrivateKeySigner> =
        (0..spec.keys).map(|key| key_signer(spec.seed, key)).collect();
    let keys: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    let threads = threads.clamp(1, 64);
    let chunk = spec.submissions.div_ceil(threads).max(1);
    let ranges: Vec<(usize, usize)> = (0..spec.submissions)
        .step_by(chunk)
        .map(|start| (start, (start + chunk).min(spec.submissions)))
        .collect();
    let sign_range = |(start, end): (usize, usize)| -> eyre::Result<Vec<Submission>> {
        (start..end)
            .map(|index| {
                let (key, nonce) = key_and_nonce(index, spec.keys, &spec.last_nonces);
                let contribution =
                    contribution(spec.seed, key, keys[key], nonce, target.feature_dim);
                let id = contribution.signing_hash(&target.domain);
                let signed = samples::sign(&signers[key], &target.domain, contribution);
                let body = serde_json::to_vec(&signed)?;
                let request = render_request("POST", host, "/v1/contributions", Some(&body));
                Ok(Submission { key: key as u32, nonce, id, request })
            })
            .collect()
    };
    let parts: Vec<eyre::Result<Vec<Submission>>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            ranges.iter().map(|&range| scope.spawn(move || sign_range(range))).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(eyre!("a signing thread panicked"))))
            .collect()
    });
    let mut submissions = Vec::with_capacity(spec.submissions);
    for part in parts {
        submissions.extend(part?);
    }
    Ok(Workload { keys, submissions, signing: started.elapsed(), signing_threads: threads })
}

/// Splits submissions `0..count` over `connections` lanes: key `k` goes to lane
/// `k mod connections`, and each lane holds its submissions in schedule order. At most `keys`
/// lanes are made (a lane without keys would idle).
pub fn lanes(count: usize, keys: usize, connections: usize) -> Vec<Vec<usize>> {
    let lanes = connections.clamp(1, keys.max(1));
    let mut out = vec![Vec::with_capacity(count / lanes + 1); lanes];
    for index in 0..count {
        out[(index % keys) % lanes].push(index);
    }
    out
}

/// How to drive a workload.
#[derive(Debug, Clone)]
pub struct DriveSpec {
    /// The sequencer.
    pub addr: SocketAddr,
    /// Offered submissions per second.
    pub rate: f64,
    /// Submissions scheduled before this index are warm-up: sent, but not counted in the
    /// latency histograms or rates (errors are counted).
    pub warmup: usize,
    /// Concurrent connections.
    pub connections: usize,
    /// Stop sending this long after the last submission was due.
    pub drain: Duration,
    /// Give up on one request after this long.
    pub request_timeout: Duration,
    /// Keep which submissions were acknowledged ([`DriveResult::acked`]).
    pub record_acked: bool,
    /// Submissions per request: 1 = `POST /v1/contributions`, more = `POST
    /// /v1/contributions/batch` with up to this many.
    pub per_request: usize,
}

/// The batch route.
pub const BATCH_PATH: &str = "/v1/contributions/batch";

/// One request of a lane: the submissions it carries (in order) and, for a batch request,
/// its bytes (a single submission's request is [`Submission::request`]).
#[derive(Debug)]
pub struct LaneRequest {
    /// Submission indices.
    pub items: Vec<usize>,
    /// The rendered batch request.
    pub batch: Option<Vec<u8>>,
}

impl LaneRequest {
    /// The whole HTTP request.
    pub fn bytes<'a>(&'a self, workload: &'a Workload) -> &'a [u8] {
        match &self.batch {
            Some(bytes) => bytes,
            None => &workload.submissions[self.items[0]].request,
        }
    }
}

/// The size of relay lane `lane`'s first request (of `lanes`): `per_request · (lane + 1) /
/// lanes`, rounded up. Every later request of the lane is full, so the lanes' requests come due
/// spread evenly over one request period, as independent relays' batches fill at their own
/// moments, instead of all lanes' batches filling together (submissions are dealt to the lanes
/// in turn) and arriving as one burst of `lanes · per_request` contributions.
pub fn relay_phase(lane: usize, lanes: usize, per_request: usize) -> usize {
    ((lane + 1) * per_request).div_ceil(lanes.max(1)).clamp(1, per_request.max(1))
}

/// The requests of `lane`: one per submission, or batch requests (rendered for `host`) of
/// `first` submissions, then `per_request` at a time (see [`relay_phase`]).
pub fn lane_requests(
    workload: &Workload,
    lane: &[usize],
    (first, per_request): (usize, usize),
    host: &str,
) -> Vec<LaneRequest> {
    if per_request <= 1 {
        return lane.iter().map(|&index| LaneRequest { items: vec![index], batch: None }).collect();
    }
    let first = first.clamp(1, per_request).min(lane.len());
    let (head, rest) = lane.split_at(first);
    std::iter::once(head)
        .filter(|head| !head.is_empty())
        .chain(rest.chunks(per_request))
        .map(|chunk| {
            let mut body = b"{\"contributions\":[".to_vec();
            for (n, &index) in chunk.iter().enumerate() {
                if n > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(workload.submissions[index].body());
            }
            body.extend_from_slice(b"]}");
            LaneRequest {
                items: chunk.to_vec(),
                batch: Some(render_request("POST", host, BATCH_PATH, Some(&body))),
            }
        })
        .collect()
}

/// A latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1e3;
        Self {
            count: histogram.len(),
            mean: histogram.mean() / 1e3,
            p50: ms(histogram.value_at_quantile(0.5)),
            p90: ms(histogram.value_at_quantile(0.9)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// What a drive measured.
#[derive(Debug, Clone)]
pub struct DriveResult {
    /// Submissions scheduled after the warm-up.
    pub measured: usize,
    /// Submissions scheduled in all (warm-up included).
    pub scheduled: usize,
    /// Submissions actually sent (warm-up included).
    pub sent: usize,
    /// Scheduled but never sent (stopped, or past the drain deadline).
    pub unsent: usize,
    /// `202`s, warm-up included.
    pub acked_total: usize,
    /// `202`s of measured submissions.
    pub acked: usize,
    /// Failures by error code (`http_<status>` without a JSON code; `io`, `timeout`,
    /// `connect`, `receipt_mismatch`).
    pub errors: BTreeMap<String, u64>,
    /// Scheduled time to acknowledgement (µs), measured submissions.
    pub latency: Histogram<u64>,
    /// Send to acknowledgement (µs), measured submissions.
    pub service: Histogram<u64>,
    /// How late the client sent, behind the schedule (µs), measured submissions.
    pub send_lag: Histogram<u64>,
    /// Duration of the measured window: from the first measured submission's due time to the
    /// last measured acknowledgement.
    pub window: Duration,
    /// Length of the measured schedule (`measured / rate`).
    pub schedule: Duration,
    /// Acknowledgements per second of the run (by completion time, from `t0`).
    pub acks_per_second: Vec<u64>,
    /// Indices of acknowledged submissions (when [`DriveSpec::record_acked`]).
    pub acked_indices: Vec<usize>,
}

impl DriveResult {
    /// Offered rate of the measured window (scheduled submissions per second).
    pub fn offered_rate(&self) -> f64 {
        self.measured as f64 / self.schedule.as_secs_f64().max(1e-9)
    }

    /// Acknowledged rate of the measured window (202s per second).
    pub fn acked_rate(&self) -> f64 {
        self.acked as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Errors in all.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

/// The per-lane tally.
struct Lane {
    sent: usize,
    unsent: usize,
    acked_total: usize,
    acked: usize,
    errors: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    service: Histogram<u64>,
    send_lag: Histogram<u64>,
    last_ack: Option<Instant>,
    acks_per_second: Vec<u64>,
    acked_indices: Vec<usize>,
}

impl Lane {
    fn new() -> Self {
        Self {
            sent: 0,
            unsent: 0,
            acked_total: 0,
            acked: 0,
            errors: BTreeMap::new(),
            latency: histogram(),
            service: histogram(),
            send_lag: histogram(),
            last_ack: None,
            acks_per_second: Vec::new(),
            acked_indices: Vec::new(),
        }
    }

    /// Adds another lane's tally to this one.
    fn merge(&mut self, other: Lane) -> eyre::Result<()> {
        self.sent += other.sent;
        self.unsent += other.unsent;
        self.acked_total += other.acked_total;
        self.acked += other.acked;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.latency.add(&other.latency).map_err(|e| eyre!("{e}"))?;
        self.service.add(&other.service).map_err(|e| eyre!("{e}"))?;
        self.send_lag.add(&other.send_lag).map_err(|e| eyre!("{e}"))?;
        self.last_ack = self.last_ack.max(other.last_ack);
        if self.acks_per_second.len() < other.acks_per_second.len() {
            self.acks_per_second.resize(other.acks_per_second.len(), 0);
        }
        for (total, n) in self.acks_per_second.iter_mut().zip(&other.acks_per_second) {
            *total += n;
        }
        self.acked_indices.extend(other.acked_indices);
        Ok(())
    }
}

/// Sends `workload` as `spec` says, in a tokio runtime. `stop` ends the drive early (the crash
/// benchmark sets it when it kills the node).
pub async fn drive(
    workload: Arc<Workload>,
    spec: &DriveSpec,
    stop: Arc<AtomicBool>,
) -> eyre::Result<DriveResult> {
    if !(spec.rate.is_finite() && spec.rate > 0.0) {
        bail!("the rate must be positive");
    }
    let count = workload.submissions.len();
    let warmup = spec.warmup.min(count);
    let interval = 1.0 / spec.rate;
    let due = move |index: usize| Duration::from_secs_f64(index as f64 * interval);
    // Batch requests are rendered before the schedule starts.
    let host = spec.addr.to_string();
    let dealt = lanes(count, workload.keys.len(), spec.connections);
    let lanes: Vec<Vec<LaneRequest>> = dealt
        .iter()
        .enumerate()
        .map(|(l, lane)| {
            let first = relay_phase(l, dealt.len(), spec.per_request);
            lane_requests(&workload, lane, (first, spec.per_request), &host)
        })
        .collect();
    // Give every lane a moment to connect before the schedule starts.
    let t0 = Instant::now() + Duration::from_millis(200);
    let deadline = t0 + due(count) + spec.drain;
    let mut tasks = Vec::new();
    for requests in lanes {
        let (workload, stop, spec) = (workload.clone(), stop.clone(), spec.clone());
        tasks.push(tokio::spawn(async move {
            drive_lane(&workload, &spec, &requests, t0, deadline, warmup, due, &stop).await
        }));
    }
    let mut total = Lane::new();
    for task in tasks {
        total.merge(task.await.map_err(|e| eyre!("a connection task failed: {e}"))?)?;
    }
    total.acked_indices.sort_unstable();
    let window_start = t0 + due(warmup);
    Ok(DriveResult {
        measured: count - warmup,
        scheduled: count,
        sent: total.sent,
        unsent: total.unsent,
        acked_total: total.acked_total,
        acked: total.acked,
        errors: total.errors,
        latency: total.latency,
        service: total.service,
        send_lag: total.send_lag,
        window: total
            .last_ack
            .map_or(Duration::ZERO, |last| last.saturating_duration_since(window_start)),
        schedule: due(count) - due(warmup),
        acks_per_second: total.acks_per_second,
        acked_indices: total.acked_indices,
    })
}

#[allow(clippy::too_many_arguments)]
async fn drive_lane(
    workload: &Workload,
    spec: &DriveSpec,
    requests: &[LaneRequest],
    t0: Instant,
    deadline: Instant,
    warmup: usize,
    due: impl Fn(usize) -> Duration,
    stop: &AtomicBool,
) -> Lane {
    let mut tally = Lane::new();
    let mut connection: Option<Connection> =
        Connection::connect(spec.addr, spec.request_timeout).await.ok();
    for (position, request) in requests.iter().enumerate() {
        let last = *request.items.last().expect("a request carries a submission");
        let scheduled = t0 + due(last);
        let left = || requests[position..].iter().map(|r| r.items.len()).sum::<usize>();
        if stop.load(Ordering::Relaxed) || scheduled > deadline {
            tally.unsent += left();
            break;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            tally.unsent += left();
            break;
        }
        let sent_at = Instant::now();
        if connection.is_none() {
            match Connection::connect(spec.addr, spec.request_timeout).await {
                Ok(fresh) => connection = Some(fresh),
                Err(_) => {
                    count_n(&mut tally.errors, "connect", request.items.len());
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else { continue };
        tally.sent += request.items.len();
        let outcome =
            tokio::time::timeout(spec.request_timeout, open.send(request.bytes(workload))).await;
        let done = Instant::now();
        match outcome {
            Ok(Ok(response)) => {
                let answers = answers(&response, request.items.len());
                for (&index, answer) in request.items.iter().zip(answers) {
                    match answer {
                        Answer::Receipt(id) if id == workload.submissions[index].id => {
                            tally.ack(
                                index,
                                warmup,
                                spec.record_acked,
                                (t0, scheduled, sent_at, done),
                            );
                        }
                        Answer::Receipt(_) => count(&mut tally.errors, "receipt_mismatch"),
                        Answer::Error(code) => count(&mut tally.errors, &code),
                    }
                }
            }
            Ok(Err(_)) => {
                count_n(&mut tally.errors, "io", request.items.len());
                connection = None;
            }
            Err(_) => {
                count_n(&mut tally.errors, "timeout", request.items.len());
                connection = None;
            }
        }
        if connection.as_ref().is_some_and(Connection::is_closed) {
            connection = None;
        }
    }
    tally
}

impl Lane {
    /// Counts an acknowledgement of submission `index`; `times` are the schedule's start, the
    /// request's due time, its send and its answer.
    fn ack(
        &mut self,
        index: usize,
        warmup: usize,
        record: bool,
        (t0, scheduled, sent_at, done): (Instant, Instant, Instant, Instant),
    ) {
        self.acked_total += 1;
        if record {
            self.acked_indices.push(index);
        }
        let second = done.saturating_duration_since(t0).as_secs() as usize;
        if self.acks_per_second.len() <= second {
            self.acks_per_second.resize(second + 1, 0);
        }
        self.acks_per_second[second] += 1;
        if index >= warmup {
            self.acked += 1;
            self.last_ack = Some(done);
            let micros = |d: Duration| (d.as_micros() as u64).max(1);
            let _ = self.latency.record(micros(done - scheduled));
            let _ = self.service.record(micros(done - sent_at));
            let _ = self.send_lag.record(micros(sent_at.saturating_duration_since(scheduled)));
        }
    }
}

/// What the node answered for one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Acknowledged, with this id.
    Receipt(B256),
    /// Refused: the error code (`http_<status>` without one).
    Error(String),
}

/// One answer per submission of a request of `items` submissions: a `202` receipt (single), a
/// `200` with per-contribution results (batch), or one error for all of them.
fn answers(response: &http::Response, items: usize) -> Vec<Answer> {
    let whole = |response: &http::Response| {
        response.error_code().unwrap_or_else(|| format!("http_{}", response.status))
    };
    match response.status {
        202 if items == 1 => vec![receipt_id(&response.body)
            .map_or_else(|| Answer::Error("receipt_unreadable".to_owned()), Answer::Receipt)],
        200 if items > 1 => match batch_answers(&response.body) {
            Some(answers) if answers.len() == items => answers,
            _ => vec![Answer::Error("batch_results_unreadable".to_owned()); items],
        },
        _ => vec![Answer::Error(whole(response)); items],
    }
}

/// The per-contribution answers of a `POST /v1/contributions/batch` body.
fn batch_answers(body: &[u8]) -> Option<Vec<Answer>> {
    #[derive(Deserialize)]
    struct Results {
        results: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        status: u16,
        receipt: Option<Receipt>,
        error: Option<Error>,
    }
    #[derive(Deserialize)]
    struct Receipt {
        id: B256,
    }
    #[derive(Deserialize)]
    struct Error {
        code: String,
    }
    let results: Results = serde_json::from_slice(body).ok()?;
    Some(
        results
            .results
            .into_iter()
            .map(|item| match (item.status, item.receipt, item.error) {
                (202, Some(receipt), _) => Answer::Receipt(receipt.id),
                (_, _, Some(error)) => Answer::Error(error.code),
                (status, _, None) => Answer::Error(format!("http_{status}")),
            })
            .collect(),
    )
}

fn count_n(errors: &mut BTreeMap<String, u64>, code: &str, n: usize) {
    *errors.entry(code.to_owned()).or_default() += n as u64;
}

fn count(errors: &mut BTreeMap<String, u64>, code: &str) {
    count_n(errors, code, 1);
}

/// The `id` of a receipt body.
fn receipt_id(body: &[u8]) -> Option<B256> {
    #[derive(Deserialize)]
    struct Receipt {
        id: B256,
    }
    serde_json::from_slice::<Receipt>(body).ok().map(|receipt| receipt.id)
}

/// Per key, the last nonce the node has accepted (`GET /v1/accounts/{address}`; 0 if unknown).
pub async fn fetch_last_nonces(addr: SocketAddr, keys: &[Address]) -> eyre::Result<Vec<u64>> {
    #[derive(Deserialize)]
    struct Account {
        last_nonce: u64,
    }
    let timeout = Duration::from_secs(10);
    let mut connection = Connection::connect(addr, timeout).await?;
    let host = addr.to_string();
    let mut out = Vec::with_capacity(keys.len());
    for address in keys {
        if connection.is_closed() {
            connection = Connection::connect(addr, timeout).await?;
        }
        let request = render_request("GET", &host, &format!("/v1/accounts/{address}"), None);
        let response = connection.send(&request).await?;
        out.push(match response.status {
            200 => serde_json::from_slice::<Account>(&response.body)?.last_nonce,
            404 => 0,
            status => {
                bail!("GET /v1/accounts/{address} answered {status}: {}", lossy(&response.body))
            }
        });
    }
    Ok(out)
}

/// Text of a body, for messages.
pub(crate) fn lossy(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::Value;

    use super::*;

    #[test]
    fn nonces_are_consecutive_per_key_from_the_last_accepted() {
        let last = [0, 5, 9];
        let got: Vec<(usize, u64)> = (0..7).map(|i| key_and_nonce(i, 3, &last)).collect();
        assert_eq!(got, [(0, 1), (1, 6), (2, 10), (0, 2), (1, 7), (2, 11), (0, 3)]);
        // Without recorded nonces every key starts at 1.
        assert_eq!(key_and_nonce(4, 2, &[]), (0, 3));
    }

    #[test]
    fn every_key_stays_on_one_lane_in_nonce_order() {
        for (count, keys, connections) in [(1000, 7, 3), (100, 10, 64), (10, 1, 4), (0, 5, 2)] {
            let lanes = lanes(count, keys, connections);
            assert_eq!(lanes.len(), connections.min(keys));
            let mut seen = vec![false; count];
            let mut lane_of: HashMap<usize, usize> = HashMap::new();
            for (n, lane) in lanes.iter().enumerate() {
                assert!(lane.windows(2).all(|w| w[0] < w[1]), "schedule order");
                for &index in lane {
                    assert!(!std::mem::replace(&mut seen[index], true), "sent twice");
                    let (key, _) = key_and_nonce(index, keys, &[]);
                    assert_eq!(*lane_of.entry(key).or_insert(n), n, "a key on two lanes");
                }
            }
            assert!(seen.iter().all(|s| *s), "every submission is on a lane");
        }
    }

    #[test]
    fn the_workload_is_signed_in_order_and_verifies() {
        let target = Target { domain: samples::dev_domain(), feature_dim: 16 };
        let spec =
            WorkloadSpec { keys: 4, seed: 7, submissions: 22, last_nonces: vec![0, 3, 0, 1] };
        let workload = build_workload(&spec, &target, "127.0.0.1:1", 3).unwrap();
        assert_eq!(workload.keys.len(), 4);
        assert_eq!(workload.submissions.len(), 22);
        let mut next: Vec<u64> = spec.last_nonces.iter().map(|n| n + 1).collect();
        for submission in &workload.submissions {
            let key = submission.key as usize;
            assert_eq!(submission.nonce, next[key]);
            next[key] += 1;
            let text = std::str::from_utf8(&submission.request).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("POST /v1/contributions HTTP/1.1\r\n"));
            assert!(head.contains(&format!("Content-Length: {}", body.len())));
            let signed: merit_core::SignedContribution = serde_json::from_str(body).unwrap();
            assert_eq!(signed.contribution.contributor, workload.keys[key]);
            assert_eq!(signed.contribution.nonce, submission.nonce);
            assert_eq!(signed.contribution.features.len(), 16);
            assert_eq!(signed.contribution.signing_hash(&target.domain), submission.id);
            signed.verify(&target.domain).unwrap();
        }
        // Deterministic: the same spec signs the same bytes, whatever the thread count.
        let again = build_workload(&spec, &target, "127.0.0.1:1", 1).unwrap();
        for (a, b) in workload.submissions.iter().zip(&again.submissions) {
            assert_eq!(a.request, b.request);
        }
    }

    #[test]
    fn a_relay_lane_sends_its_submissions_in_batches_in_order() {
        let target = Target { domain: samples::dev_domain(), feature_dim: 16 };
        let spec = WorkloadSpec { keys: 3, seed: 1, submissions: 14, last_nonces: vec![] };
        let workload = build_workload(&spec, &target, "h:1", 1).unwrap();
        let lane: Vec<usize> = (0..14).filter(|i| i % 3 != 1).collect();
        let requests = lane_requests(&workload, &lane, (4, 4), "h:1");
        let items: Vec<Vec<usize>> = requests.iter().map(|r| r.items.clone()).collect();
        assert_eq!(items, [vec![0, 2, 3, 5], vec![6, 8, 9, 11], vec![12]]);
        for request in &requests {
            let text = std::str::from_utf8(request.bytes(&workload)).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("POST /v1/contributions/batch HTTP/1.1\r\n"), "{head}");
            assert!(head.contains(&format!("Content-Length: {}", body.len())));
            let batch: Value = serde_json::from_str(body).unwrap();
            let got: Vec<merit_core::SignedContribution> =
                serde_json::from_value(batch["contributions"].clone()).unwrap();
            let ids: Vec<B256> =
                got.iter().map(|s| s.contribution.signing_hash(&target.domain)).collect();
            let want: Vec<B256> =
                request.items.iter().map(|&i| workload.submissions[i].id).collect();
            assert_eq!(ids, want);
        }
        // One per request: the submissions' own requests.
        let single = lane_requests(&workload, &lane, (1, 1), "h:1");
        assert_eq!(single.len(), lane.len());
        assert_eq!(single[1].bytes(&workload), workload.submissions[2].request.as_slice());
    }

    #[test]
    fn relay_lanes_come_due_spread_over_one_request_period() {
        let (keys, connections, per_request) = (1000, 16, 32);
        assert_eq!(
            (0..4).map(|l| relay_phase(l, connections, per_request)).collect::<Vec<_>>(),
            [2, 4, 6, 8]
        );
        assert_eq!(relay_phase(connections - 1, connections, per_request), per_request);
        assert_eq!(relay_phase(0, 64, 32), 1);
        assert_eq!(relay_phase(0, 1, 32), 32);
        // Submissions are dealt to the lanes in turn: with full requests only, every lane's
        // request would come due within `connections` submissions of the others. With the
        // phase, one request period (`connections · per_request` submissions) is shared out.
        let dealt = lanes(connections * per_request * 4, keys, connections);
        let mut due: Vec<usize> = dealt
            .iter()
            .enumerate()
            .map(|(l, lane)| lane[relay_phase(l, connections, per_request) + per_request - 1])
            .collect();
        due.sort_unstable();
        let period = connections * per_request;
        assert!(due[connections - 1] - due[0] >= period * 3 / 4, "{due:?}");
        let even = period / connections;
        assert!(due.windows(2).all(|w| (even / 2..=even * 2).contains(&(w[1] - w[0]))), "{due:?}");
    }

    #[test]
    fn a_relay_lane_starts_with_its_phase() {
        let target = Target { domain: samples::dev_domain(), feature_dim: 16 };
        let spec = WorkloadSpec { keys: 2, seed: 1, submissions: 10, last_nonces: vec![] };
        let workload = build_workload(&spec, &target, "h:1", 1).unwrap();
        let lane: Vec<usize> = (0..10).collect();
        let items = |first| -> Vec<Vec<usize>> {
            lane_requests(&workload, &lane, (first, 4), "h:1")
                .into_iter()
                .map(|r| r.items)
                .collect()
        };
        assert_eq!(items(1), [vec![0], vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9]]);
        assert_eq!(items(3), [vec![0, 1, 2], vec![3, 4, 5, 6], vec![7, 8, 9]]);
        assert_eq!(items(9), items(4));
    }

    #[test]
    fn batch_answers_are_read_per_contribution() {
        let id = B256::repeat_byte(7);
        let body = format!(
            r#"{{"accepted":1,"results":[{{"status":202,"receipt":{{"id":"{id}","seq":1}}}},
               {{"status":409,"error":{{"code":"nonce_too_low","message":"m"}}}}]}}"#
        );
        let ok = http::Response { status: 200, body: body.into_bytes() };
        assert_eq!(
            answers(&ok, 2),
            [Answer::Receipt(id), Answer::Error("nonce_too_low".to_owned())]
        );
        // A count that does not match the request is not trusted.
        assert_eq!(answers(&ok, 3), vec![Answer::Error("batch_results_unreadable".to_owned()); 3]);
        let refused = http::Response {
            status: 413,
            body: br#"{"code":"too_many_contributions","message":"m"}"#.to_vec(),
        };
        assert_eq!(
            answers(&refused, 2),
            vec![Answer::Error("too_many_contributions".to_owned()); 2]
        );
        let bare = http::Response { status: 502, body: vec![] };
        assert_eq!(answers(&bare, 1), [Answer::Error("http_502".to_owned())]);
    }

    #[test]
    fn receipts_are_matched_by_id() {
        let id = B256::repeat_byte(7);
        let body = format!(r#"{{"id":"{id}","contributor":"0x00","nonce":1,"seq":1}}"#);
        assert_eq!(receipt_id(body.as_bytes()), Some(id));
        assert_eq!(receipt_id(b"{}"), None);
    }
}
