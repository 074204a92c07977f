//! The prover worker (`merit_prover::worker`) against a node served on a real socket: it leases
//! the sealed batch, proves it with the tiny circuit and uploads the proof; and it waits for a
//! sequencer that is not up yet. Deadlines are generous and only bound polling.

use std::{
    net::SocketAddr,
    sync::{atomic::Ordering, mpsc, Arc},
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use merit_prover::{
    worker::{JobOutcome, LocalProver, Worker, WorkerOptions, WorkerSummary},
    BatchProof,
};
use merit_sequencer::{BatcherMode, JobQueue, MemoryStore, Node, Settings, SystemClock};
use tokio::net::TcpListener;

use crate::{get, manual_settings, router, signed_tiny, submit, tiny_circuit, tiny_protocol};

const DEADLINE: Duration = Duration::from_secs(300);

/// A node with the job queue that seals on its own (after 20 ms), served on `listener`.
async fn serve(listener: TcpListener) -> (Node, tokio::task::JoinHandle<()>) {
    let settings = Settings {
        max_batch_size: 4,
        max_batch_age: Duration::from_millis(20),
        ..manual_settings()
    };
    let jobs = JobQueue::new(tiny_circuit(), Duration::from_secs(600), Arc::new(SystemClock));
    let node = Node::start_with_jobs(
        tiny_protocol(),
        settings,
        Arc::new(MemoryStore::new()),
        BatcherMode::Automatic,
        Some(jobs),
    )
    .unwrap();
    let app = router(&node);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (node, server)
}

fn worker(addr: SocketAddr) -> Worker<LocalProver> {
    let circuit = tiny_circuit();
    let options = WorkerOptions {
        sequencer: format!("http://{addr}"),
        prover_id: "test-worker".into(),
        once: true,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        progress: false,
    };
    Worker::new(options, LocalProver::new(circuit.srs().clone()), circuit.keys().clone()).unwrap()
}

/// Runs `worker` on a thread; the receiver yields its summary.
fn spawn(worker: Worker<LocalProver>) -> mpsc::Receiver<WorkerSummary> {
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
