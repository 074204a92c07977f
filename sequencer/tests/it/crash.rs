//! Crash test: the real `merit-sequencer` binary, SIGKILLed while several keys stream signed
//! contributions, then restarted. Every contribution that got a 202 must be there.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::B256;
use merit_core::ClaimProof;
use serde_json::Value;

use crate::{id_of, signed};

const DEADLINE: Duration = Duration::from_secs(120);

/// A running node process and its log.
struct Process {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Process {
    fn start(data_dir: &Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_merit-sequencer"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--tree-depth", "8"])
            .args(["--max-batch-size", "16", "--max-batch-age-ms", "100"])
            .env("RUST_LOG", "info")
            .env_remove("MERIT_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().parse::<SocketAddr>().unwrap());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!("the node did not start listening:\n{}", log.lock().unwrap())
        });
        Process { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; `(status, JSON body)`.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("truncated response {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {head:?}")))?;
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    Ok((status, value))
}

fn get_ok(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, None).unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Polls `check` until it holds or the deadline passes.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_acknowledged_contribution_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let node = Process::start(dir.path());
    let addr = node.addr;

    // Four keys stream in nonce order until the node dies.
    let seeds = [11u64, 12, 13, 14];
    let acked: Arc<Mutex<BTreeMap<(u64, u64), B256>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = seeds
        .iter()
        .map(|&seed| {
            let (acked, count, stop) = (acked.clone(), count.clone(), stop.clone());
            thread::spawn(move || {
                for nonce in 1.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let s = signed(seed, nonce);
                    let body = serde_json::to_string(&s).unwrap();
                    match http(addr, "POST", "/v1/contributions", Some(&body)) {
                        Ok((202, receipt)) => {
                            assert_eq!(receipt["id"], id_of(&s).to_string());
                            acked.lock().unwrap().insert((seed, nonce), id_of(&s));
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((status, body)) => panic!("unexpected {status}: {body}"),
                        Err(_) => break, // the node is gone
                    }
                }
            })
        })
        .collect();
    wait_until("60 acknowledged contributions", || count.load(Ordering::SeqCst) >= 60);
    let mut node = node;
    node.child.kill().unwrap(); // SIGKILL, mid-stream
    node.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for stream in streams {
        stream.join().unwrap();
    }
    let first_log = node.log();
    drop(node);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60, "{}", acked.len());

    // Restart on the same data directory: every 202 is there.
    let node = Process::start(dir.path());
    let addr = node.addr;
    for ((seed, nonce), id) in &acked {
        let (status, body) = http(addr, "GET", &format!("/v1/contributions/{id}"), None).unwrap();
        assert_eq!(status, 200, "acknowledged ({seed}, {nonce}) {id} lost: {body}\n{first_log}");
        assert_eq!(body["contribution"]["contribution"]["nonce"], *nonce);
    }

    // Nonces continue: the last acknowledged one is a replay, the one after the account's last
    // nonce is accepted.
    for seed in seeds {
        let max_acked = acked.keys().filter(|(s, _)| *s == seed).map(|(_, n)| *n).max().unwrap();
        let address = signed(seed, 1).contribution.contributor;
        let account = get_ok(addr, &format!("/v1/accounts/{address}"));
        let last = account["last_nonce"].as_u64().unwrap();
        // A write may have landed without its 202 reaching us, never the other way round.
        assert!(last == max_acked || last == max_acked + 1, "{seed}: {last} vs {max_acked}");
        let replay = serde_json::to_string(&signed(seed, max_acked)).unwrap();
        let (status, body) = http(addr, "POST", "/v1/contributions", Some(&replay)).unwrap();
        assert_eq!((status, body["code"].as_str()), (409, Some("nonce_replayed")), "{body}");
        let next = serde_json::to_string(&signed(seed, last + 1)).unwrap();
        let (status, body) = http(addr, "POST", "/v1/contributions", Some(&next)).unwrap();
        assert_eq!(status, 202, "{body}");
    }

    // The batcher drains the queue; claim proofs verify.
    wait_until("an empty queue", || get_ok(addr, "/v1/status")["pending"] == 0);
    for seed in seeds {
        let address = signed(seed, 1).contribution.contributor;
        let proof: ClaimProof =
            serde_json::from_value(get_ok(addr, &format!("/v1/accounts/{address}/claim-proof")))
                .unwrap();
        assert!(proof.verify());
    }
    let status = get_ok(addr, "/v1/status");

    // SIGTERM: a graceful stop, then the same state after a restart.
    let mut node = node;
    let killed =
        Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = node.child.try_wait().unwrap() {
            break exit;
        }
        assert!(start.elapsed() < DEADLINE, "no exit after SIGTERM:\n{}", node.log());
        thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit}:\n{}", node.log());
    wait_until("the last log line", || node.log().contains("database closed"));
    drop(node);
    let node = Process::start(dir.path());
    assert_eq!(get_ok(node.addr, "/v1/status"), status);
}
