//! merit-bench integration tests: the load generator against a real node (RocksDB in a temp
//! directory, served over HTTP in this process), and the `merit-loadgen` binary's `--spawn`
//! and `--crash` modes against the `merit-sequencer` binary when it has been built. Nothing
//! here asserts on timing: only on counts, codes and nonces.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use merit_bench::{
    http,
    ingest::{run_ingest, Endpoint, IngestOptions},
    load::{fetch_last_nonces, key_signer},
};
use merit_sequencer::Config;
use tokio::sync::oneshot;

/// A node served by `merit_sequencer::run` on a thread of its own.
struct InProcessNode {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl InProcessNode {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A free port: bind, read, release (the node binds it again right away).
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let mut config = Config::default();
        config.api.listen = addr;
        config.storage.data_dir = dir.path().join("node");
        config.protocol.tree_depth = 8;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime
                .block_on(merit_sequencer::run(config, async {
                    let _ = stopped.await;
                }))
                .unwrap();
        });
        let node = Self { addr, stop: Some(stop), thread: Some(thread), _dir: dir };
        let started = Instant::now();
        while !http::request(addr, "GET", "/health", None, Duration::from_secs(1))
            .await
            .is_ok_and(|r| r.status == 200)
        {
            assert!(started.elapsed() < Duration::from_secs(120), "the node did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        node
    }
}

impl Drop for InProcessNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn options(addr: SocketAddr, keys: usize, rate: f64, seconds: f64) -> IngestOptions {
    IngestOptions {
        endpoint: Endpoint::Url { addr, pid: None },
        keys,
        seed: 3,
        rate,
        duration: Duration::from_secs_f64(seconds),
        warmup: Duration::ZERO,
        connections: 8,
        per_request: 1,
        client_threads: 1,
        sign_threads: 2,
        drain: Duration::from_secs(120),
        request_timeout: Duration::from_secs(60),
        chain_id: None,
        rollup: None,
        feature_dim: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_submission_of_a_short_run_is_acknowledged_in_nonce_order() {
    let node = InProcessNode::start().await;
    // 20 keys × 20 nonces; then a second run continues every key's nonces.
    for round in 1..=2u64 {
        let report = run_ingest(&options(node.addr, 20, 400.0, 1.0)).await.unwrap();
        assert_eq!(report.submissions.measured, 400);
        assert_eq!(report.errors, Default::default(), "round {round}");
        assert_eq!(report.submissions.unsent, 0);
        assert_eq!(report.submissions.acked, 400, "round {round}");
        assert_eq!(report.latency_ms.count, 400);
        assert_eq!(report.setup.target.feature_dim, 16);
        assert_eq!(report.setup.connections, 8);
        let keys: Vec<_> = (0..20).map(|k| key_signer(3, k).address()).collect();
        let last = fetch_last_nonces(node.addr, &keys).await.unwrap();
        assert_eq!(last, vec![20 * round; 20], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_run_is_acknowledged_per_contribution_in_nonce_order() {
    let node = InProcessNode::start().await;
    // 20 keys × 20 nonces over 4 connections, 16 per request (the last of a lane shorter).
    let mut relay = options(node.addr, 20, 400.0, 1.0);
    relay.connections = 4;
    relay.per_request = 16;
    let report = run_ingest(&relay).await.unwrap();
    assert_eq!(report.errors, Default::default());
    assert_eq!(report.submissions.acked, 400);
    assert_eq!(report.latency_ms.count, 400);
    assert_eq!(report.setup.per_request, 16);
    let keys: Vec<_> = (0..20).map(|k| key_signer(3, k).address()).collect();
    assert_eq!(fetch_last_nonces(node.addr, &keys).await.unwrap(), vec![20; 20]);
    // Refusals inside a batch are counted per contribution, by code.
    let mut wrong_width = options(node.addr, 5, 200.0, 0.25);
    wrong_width.per_request = 8;
    wrong_width.connections = 2;
    wrong_width.feature_dim = Some(3);
    let report = run_ingest(&wrong_width).await.unwrap();
    assert_eq!(report.submissions.acked, 0);
    assert_eq!(report.errors.get("feature_width"), Some(&50), "{:?}", report.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_code() {
    let node = InProcessNode::start().await;
    let mut wrong_chain = options(node.addr, 5, 200.0, 0.25);
    wrong_chain.chain_id = Some(1);
    let report = run_ingest(&wrong_chain).await.unwrap();
    assert_eq!(report.submissions.acked, 0);
    assert_eq!(report.errors.get("signature_mismatch"), Some(&50), "{:?}", report.errors);
    assert!(!report.targets.rate_met);

    let mut wrong_width = options(node.addr, 5, 200.0, 0.25);
    wrong_width.feature_dim = Some(3);
    let report = run_ingest(&wrong_width).await.unwrap();
    assert_eq!(report.errors.get("feature_width"), Some(&50), "{:?}", report.errors);
}

/// The `merit-sequencer` binary of this build, if it has been built (`cargo test --workspace`
/// builds it; `cargo test -p merit-bench` alone does not).
fn sequencer_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join(format!("merit-sequencer{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

/// Runs `merit-loadgen` with `args` against `bin` and returns the JSON report it wrote to `out`.
fn loadgen(args: &[&str], node_args: &[&str], bin: &Path, out: &Path) -> serde_json::Value {
    let status = Command::new(env!("CARGO_BIN_EXE_merit-loadgen"))
        .args(args)
        .args(node_args)
        .arg("--sequencer-bin")
        .arg(bin)
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn the_binary_spawns_a_node_and_survives_a_crash_run() {
    let Some(bin) = sequencer_bin() else {
        eprintln!(
            "SKIPPED: no merit-sequencer binary beside the test binary; run `cargo build -p \
             merit-sequencer` (or the whole workspace's tests) first"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node_args = ["--node-arg=--tree-depth=8", "--node-arg=--max-batch-size=64"];
    let report = loadgen(
        &[
            "--spawn",
            "--keys",
            "16",
            "--rate",
            "300",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--connections",
            "4",
            "--drain",
            "120",
        ],
        &node_args,
        &bin,
        &dir.path().join("ingest.json"),
    );
    assert_eq!(report["benchmark"], "ingest");
    assert_eq!(report["setup"]["mode"], "spawn");
    assert_eq!(report["submissions"]["measured"], 300);
    assert_eq!(report["submissions"]["acked"], 300, "{report}");
    assert_eq!(report["submissions"]["acked_total"], 360, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}));
    assert!(report["machine"]["cpu"].is_string());

    let report = loadgen(
        &["--crash", "--keys", "8", "--rate", "300", "--kill-after", "1", "--connections", "4"],
        &node_args,
        &bin,
        &dir.path().join("crash.json"),
    );
    assert_eq!(report["benchmark"], "crash");
    assert!(report["acknowledged"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["checked"], report["acknowledged"]);
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["nonce_regressions"], 0, "{report}");
}
