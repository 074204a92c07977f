//! A `merit-sequencer` child process on a data directory: start, wait until it listens, read
//! its CPU time from `/proc`, SIGKILL or SIGTERM it.

use std::{
    collections::{BTreeMap, VecDeque},
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use eyre::{bail, eyre, WrapErr};

/// Lines of the node's log kept for error messages.
const LOG_LINES: usize = 200;

/// Finds the `merit-sequencer` binary: `explicit`, else `$MERIT_SEQUENCER_BIN`, else beside
/// the running executable (`target/<profile>/`, also from `target/<profile>/deps/`).
pub fn find_sequencer_bin(explicit: Option<&Path>) -> eyre::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("MERIT_SEQUENCER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().wrap_err("cannot find the running executable")?;
    let name = format!("merit-sequencer{}", std::env::consts::EXE_SUFFIX);
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(here) = dir else { break };
        let candidate = here.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = here.parent();
    }
    bail!(
        "cannot find the merit-sequencer binary beside {}; build it (cargo build --release -p \
         merit-sequencer) or pass --sequencer-bin",
        exe.display()
    )
}

/// A running node process. Dropping it SIGKILLs it.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
    listening: mpsc::Receiver<SocketAddr>,
    addr: Option<SocketAddr>,
    /// When the process was spawned.
    pub spawned: Instant,
}

impl NodeProcess {
    /// Spawns `bin --data-dir DATA_DIR --listen LISTEN ARGS…` with its log on a pipe (`RUST_LOG`
    /// defaults to `info`). Returns at once; see [`NodeProcess::wait_listening`].
    pub fn spawn(
        bin: &Path,
        data_dir: &Path,
        listen: SocketAddr,
        args: &[String],
    ) -> eyre::Result<Self> {
        let mut command = Command::new(bin);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(listen.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let spawned = Instant::now();
        let mut child =
            command.spawn().wrap_err_with(|| format!("cannot start {}", bin.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| eyre!("no stderr pipe"))?;
        let log = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_LINES)));
        let (tx, listening) = mpsc::channel();
        let sink = log.clone();
        thread::Builder::new()
            .name("node-log".to_owned())
            .spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = line.split("listening on http://").nth(1) {
                        if let Ok(addr) = addr.trim().parse::<SocketAddr>() {
                            let _ = tx.send(addr);
                        }
                    }
                    let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                    if log.len() == LOG_LINES {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            })
            .wrap_err("cannot start the log reader")?;
        Ok(Self { child, log, listening, addr: None, spawned })
    }

    /// Waits until the node logs its listen address.
    pub fn wait_listening(&mut self, timeout: Duration) -> eyre::Result<SocketAddr> {
        if let Some(addr) = self.addr {
            return Ok(addr);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.listening.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => {
                    self.addr = Some(addr);
                    return Ok(addr);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    bail!("the node exited before listening:\n{}", self.log_tail())
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the node exited ({status}) before listening:\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("the node did not listen within {timeout:?}:\n{}", self.log_tail());
            }
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> eyre::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) -> eyre::Result<()> {
        self.child.kill().wrap_err("SIGKILL")?;
        self.child.wait().wrap_err("waiting for the killed node")?;
        Ok(())
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it has not exited within `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> eyre::Result<Option<ExitStatus>> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(Some(status));
        }
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .wrap_err("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.child.id());
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.kill()?;
        Ok(None)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// User + system CPU seconds of a process (`/proc/<pid>/stat`), `self` for this one.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).map(|(_, cpu)| cpu)
}

/// CPU seconds of a process's threads, summed by thread name (`/proc/<pid>/task/*/stat`).
pub fn thread_cpu_seconds(pid: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        if let Some((name, cpu)) = stat_cpu(&stat) {
            *out.entry(name).or_insert(0.0) += cpu;
        }
    }
    out
}

/// `(comm, utime + stime in seconds)` of a `stat` line.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    // Fields after the name: state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / TICKS))
}

/// Per-thread-name CPU seconds of `after` minus `before`.
pub fn cpu_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, cpu)| (name.clone(), cpu - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, cpu)| *cpu > 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines() {
        let line = "4242 (tokio-runtime-w) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100";
        assert_eq!(stat_cpu(line), Some(("tokio-runtime-w".to_owned(), 3.0)));
        let odd = "7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0";
        assert_eq!(stat_cpu(odd), Some(("a (b) c".to_owned(), 0.03)));
        assert!(cpu_seconds("self").is_some());
    }
}
