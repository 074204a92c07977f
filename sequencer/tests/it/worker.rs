//! The prover worker (`merit_prover::worker`) against a node served on a real socket: it leases
//! the sealed batch, proves it with the tiny circuit and uploads the proof; it waits for a
//! sequencer that is not up yet; it uploads to a sequencer restarted while it proved; and it
//! drops a proof whose lease was lost and proves the batch again on a new lease. A gated prover
//! lets each test act while a proof is in progress, so nothing depends on timing. Deadlines are
//! generous and only bound polling.

use std::{
    net::SocketAddr,
    sync::{atomic::Ordering, mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use merit_core::vectors::BatchVector;
use merit_prover::{
    worker::{
        JobOutcome, LocalProver, Prover, Worker, WorkerMetrics, WorkerOptions, WorkerSummary,
    },
    Backend, BatchKeys, BatchProof, ProverError,
};
use merit_sequencer::{
    BatcherMode, Clock, JobQueue, ManualClock, MemoryStore, Node, RocksStore, Settings, Store,
    SystemClock,
};
use tokio::net::TcpListener;

use crate::{
    get, jobs::lease, manual_settings, router, signed_tiny, submit, tiny_circuit, tiny_protocol,
};

const DEADLINE: Duration = Duration::from_secs(300);
const LEASE: Duration = Duration::from_secs(600);

/// A node with the job queue that seals on its own (after 20 ms), served on `listener`.
async fn serve(listener: TcpListener) -> (Node, tokio::task::JoinHandle<()>) {
    serve_with(listener, Arc::new(MemoryStore::new()), Arc::new(SystemClock))
}

/// [`serve`] on `store`, with leases on `clock`.
fn serve_with(
    listener: TcpListener,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> (Node, tokio::task::JoinHandle<()>) {
    let settings = Settings {
        max_batch_size: 4,
        max_batch_age: Duration::from_millis(20),
        ..manual_settings()
    };
    let jobs = JobQueue::new(tiny_circuit(), LEASE, clock);
    let node =
        Node::start_with_jobs(tiny_protocol(), settings, store, BatcherMode::Automatic, Some(jobs))
            .unwrap();
    let app = router(&node);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (node, server)
}

/// Stops serving and shuts the node down (its store closed).
async fn stop(node: Node, server: tokio::task::JoinHandle<()>) {
    server.abort();
    let _ = server.await;
    node.shutdown().await;
}

fn worker(addr: SocketAddr) -> Worker<LocalProver> {
    worker_with(addr, LocalProver::new(tiny_circuit().srs().clone()))
}

fn worker_with<P: Prover>(addr: SocketAddr, prover: P) -> Worker<P> {
    let options = WorkerOptions {
        sequencer: format!("http://{addr}"),
        prover_id: "test-worker".into(),
        once: true,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        progress: false,
    };
    Worker::new(options, prover, tiny_circuit().keys().clone()).unwrap()
}

/// A prover that reports each batch it starts on and proves it only once the test opens the
/// gate, so a test can act while a proof is in progress.
struct GatedProver {
    inner: LocalProver,
    started: Mutex<mpsc::Sender<u64>>,
    gate: Mutex<mpsc::Receiver<()>>,
}

/// A worker (`once`) on `addr` with a [`GatedProver`], run on a thread; returns when it has
/// started proving: the batch it proves, the gate to open, its metrics and its summary to come.
async fn start_gated_worker(
    addr: SocketAddr,
) -> (u64, mpsc::Sender<()>, Arc<WorkerMetrics>, mpsc::Receiver<WorkerSummary>) {
    let (started_tx, started) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    let prover = GatedProver {
        inner: LocalProver::new(tiny_circuit().srs().clone()),
        started: Mutex::new(started_tx),
        gate: Mutex::new(gate),
    };
    let worker = worker_with(addr, prover);
    let metrics = worker.metrics().clone();
    let finished = spawn(worker);
    let batch_id = tokio::task::spawn_blocking(move || {
        started.recv_timeout(DEADLINE).expect("the worker starts proving")
    })
    .await
    .unwrap();
    (batch_id, open, metrics, finished)
}

impl Prover for GatedProver {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    fn prove(&self, keys: &BatchKeys, vector: &BatchVector) -> Result<BatchProof, ProverError> {
        let _ = self.started.lock().unwrap().send(vector.batch.batch_id);
        self.gate.lock().unwrap().recv().expect("the test opens the gate");
        self.inner.prove(keys, vector)
    }
}

/// Runs `worker` on a thread; the receiver yields its summary.
fn spawn<P: Prover + 'static>(worker: Worker<P>) -> mpsc::Receiver<WorkerSummary> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let summary = worker.run().expect("the worker runs");
        let _ = tx.send(summary);
    });
    rx
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn summary_of(rx: mpsc::Receiver<WorkerSummary>) -> WorkerSummary {
    tokio::task::spawn_blocking(move || rx.recv_timeout(DEADLINE).expect("the worker finishes"))
        .await
        .unwrap()
}

/// Submits two contributions and waits until the batcher has sealed them as batch 1.
async fn submit_and_seal(node: &Node) {
    let app = router(node);
    for signed in [signed_tiny(1, 1), signed_tiny(2, 1)] {
        assert_eq!(submit(&app, &signed).await.0, StatusCode::ACCEPTED);
    }
    wait_for("batch 1 to be sealed", || node.sequencer().head().last_batch == Some(1)).await;
}

/// Batch 1 is proven and its stored proof verifies with the circuit's verifying key.
async fn assert_proven(node: &Node) {
    let app = router(node);
    let (status, job) = get(&app, "/v1/jobs/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (job["status"].as_str(), job["prover"].as_str()),
        (Some("proven"), Some("test-worker"))
    );
    let (status, stored) = get(&app, "/v1/batches/1/proof").await;
    assert_eq!(status, StatusCode::OK);
    let proof: BatchProof = serde_json::from_value(stored["proof"].clone()).unwrap();
    let circuit = tiny_circuit();
    merit_prover::verify(circuit.srs().params(), circuit.keys().vk(), &proof).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_proves_a_sealed_batch() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (node, server) = serve(listener).await;
    submit_and_seal(&node).await;

    let worker = worker(addr);
    let metrics = worker.metrics().clone();
    let metrics_addr = metrics.serve("127.0.0.1:0".parse().unwrap()).unwrap();
    let summary = summary_of(spawn(worker)).await;
    assert_eq!(summary.proven(), vec![1], "{summary:?}");
    assert!(matches!(summary.jobs[0], JobOutcome::Proven { batch_id: 1, .. }));
    assert_proven(&node).await;

    assert_eq!(metrics.jobs_proven.load(Ordering::Relaxed), 1);
    assert!(metrics.last_proof_seconds() > 0.0);
    let text = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(metrics_addr).unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("merit_prover_jobs_proven_total 1"), "{text}");
    server.abort();
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_waits_for_a_sequencer_that_is_not_up_yet() {
    // A free port with nothing listening on it yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let worker = worker(addr);
    let metrics = worker.metrics().clone();
    let stop = worker.stop_handle();
    let finished = spawn(worker);
    wait_for("the worker to find the sequencer unreachable", || {
        metrics.sequencer_unreachable.load(Ordering::Relaxed) >= 2
    })
    .await;

    let listener = TcpListener::bind(addr).await.unwrap();
    let (node, server) = serve(listener).await;
    submit_and_seal(&node).await;
    let summary = summary_of(finished).await;
    stop.store(true, Ordering::SeqCst);
    assert_eq!(summary.proven(), vec![1], "{summary:?}");
    assert_proven(&node).await;
    server.abort();
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_uploads_to_a_sequencer_restarted_while_it_proved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store = || Arc::new(RocksStore::open(&path).unwrap()) as Arc<dyn Store>;
    let (node, server) = serve_with(listener, store(), Arc::new(SystemClock));
    submit_and_seal(&node).await;

    let (batch_id, open, metrics, finished) = start_gated_worker(addr).await;
    assert_eq!(batch_id, 1);

    // The sequencer goes down while the batch is being proven: the upload finds it
    // unreachable and is retried, with the proof kept.
    stop(node, server).await;
    open.send(()).unwrap();
    wait_for("the upload to find the sequencer down", || {
        metrics.sequencer_unreachable.load(Ordering::Relaxed) >= 1
    })
    .await;
    assert_eq!(metrics.jobs_proven.load(Ordering::Relaxed), 0);

    // Back on the same address and database: the durable lease takes the upload.
    let listener = TcpListener::bind(addr).await.unwrap();
    let (node, server) = serve_with(listener, store(), Arc::new(SystemClock));
    let summary = summary_of(finished).await;
    assert_eq!(summary.proven(), vec![1], "{summary:?}");
    assert_eq!(metrics.leases_lost.load(Ordering::Relaxed), 0);
    assert_proven(&node).await;
    stop(node, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_whose_lease_was_lost_is_dropped_and_the_batch_proven_on_a_new_lease() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (node, server) =
        serve_with(listener, Arc::new(MemoryStore::new()), clock.clone() as Arc<dyn Clock>);
    submit_and_seal(&node).await;

    let (_, open, metrics, finished) = start_gated_worker(addr).await;

    // While it proves, its lease lapses and another prover leases the batch.
    clock.advance(LEASE + Duration::from_millis(1));
    let app = router(&node);
    let (status, rival) = lease(&app, "rival").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rival.unwrap().batch_id, 1);
    open.send(()).unwrap();
    let summary = summary_of(finished).await;
    assert!(matches!(summary.jobs[..], [JobOutcome::LeaseLost { batch_id: 1 }]), "{summary:?}");
    assert_eq!(metrics.leases_lost.load(Ordering::Relaxed), 1);
    assert_eq!(metrics.jobs_proven.load(Ordering::Relaxed), 0);
    let (_, job) = get(&app, "/v1/jobs/1").await;
    assert_eq!((job["status"].as_str(), job["prover"].as_str()), (Some("leased"), Some("rival")));

    // The rival's lease lapses in turn: a worker leases the batch again and proves it.
    clock.advance(LEASE + Duration::from_millis(1));
    let summary =
        summary_of(spawn(worker_with(addr, LocalProver::new(tiny_circuit().srs().clone())))).await;
    assert_eq!(summary.proven(), vec![1], "{summary:?}");
    assert_proven(&node).await;
    drop(app);
    stop(node, server).await;
}
