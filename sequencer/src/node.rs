//! Running a node: the writer, batcher and L1 submitter tasks, the HTTP server and graceful
//! shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use axum::serve::ListenerExt;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tracing::{error, info, warn};

use crate::{
    api::app,
    config::{Config, Protocol},
    jobs::{Circuit, JobQueue, SystemClock},
    sequencer::{NodeError, SealOutcome, Sequencer, Settings},
    store::{RocksStore, Store},
    submitter::{load_signer, Submitter, PRIVATE_KEY_VAR},
};

/// Whether [`Node::start`] runs the batcher task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatcherMode {
    /// Seal on size and age in a background task.
    Automatic,
    /// No batcher task: call [`Sequencer::seal_now`] / [`Sequencer::seal_if_due`] yourself
    /// (tests).
    Manual,
}

/// A started sequencer with its background tasks. Needs a tokio runtime.
#[derive(Debug)]
pub struct Node {
    sequencer: Arc<Sequencer>,
    stop: watch::Sender<bool>,
    writer: JoinHandle<()>,
    batcher: Option<JoinHandle<()>>,
    submitter: Option<JoinHandle<()>>,
}

impl Node {
    /// Opens the chain in `store` and starts the writer (and the batcher, if `mode` says so).
    pub fn start(
        protocol: Protocol,
        settings: Settings,
        store: Arc<dyn Store>,
        mode: BatcherMode,
    ) -> Result<Self, NodeError> {
        Self::start_with_jobs(protocol, settings, store, mode, None)
    }

    /// [`Node::start`] with a prover job queue (see [`Sequencer::open_with_jobs`]).
    pub fn start_with_jobs(
        protocol: Protocol,
        settings: Settings,
        store: Arc<dyn Store>,
        mode: BatcherMode,
        jobs: Option<JobQueue>,
    ) -> Result<Self, NodeError> {
        let (sequencer, writer) = Sequencer::open_with_jobs(protocol, settings, store, jobs)?;
        let (stop, stopped) = watch::channel(false);
        let writer = tokio::spawn(writer.run(stopped.clone()));
        let batcher = (mode == BatcherMode::Automatic)
            .then(|| tokio::spawn(run_batcher(sequencer.clone(), stopped)));
        Ok(Self { sequencer, stop, writer, batcher, submitter: None })
    }

    /// Attaches `submitter`'s chain view to the sequencer and runs it until shutdown.
    pub fn start_submitter(&mut self, submitter: Submitter) {
        if !self.sequencer.attach_l1(submitter.chain().clone()) {
            error!(target: "merit::sequencer", "an L1 submitter is running already; not starting another");
            return;
        }
        self.submitter = Some(tokio::spawn(submitter.run(self.stop.subscribe())));
    }

    /// The sequencer.
    pub fn sequencer(&self) -> &Arc<Sequencer> {
        &self.sequencer
    }

    /// Stops taking submissions, writes and answers those already queued, lets a running seal
    /// finish, and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.writer.await {
            error!(target: "merit::sequencer", %error, "the writer task failed");
        }
        if let Some(batcher) = self.batcher {
            if let Err(error) = batcher.await {
                error!(target: "merit::sequencer", %error, "the batcher task failed");
            }
        }
        if let Some(submitter) = self.submitter {
            if let Err(error) = submitter.await {
                error!(target: "merit::sequencer", %error, "the L1 submitter task failed");
            }
        }
    }
}

/// Seals whenever the queue is full (the writer's signal) or, polled, when the oldest pending
/// contribution reaches the age limit.
async fn run_batcher(sequencer: Arc<Sequencer>, mut stop: watch::Receiver<bool>) {
    let poll = (sequencer.settings().max_batch_age / 4)
        .clamp(Duration::from_millis(5), Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            () = sequencer.batch_ready() => {}
            () = tokio::time::sleep(poll) => {}
        }
        // Seal as long as there is due work: a burst may fill several batches.
        loop {
            let task = sequencer.clone();
            let sealed =
                tokio::task::spawn_blocking(move || task.seal_if_due(std::time::SystemTime::now()))
                    .await;
            match sealed {
                Ok(Ok(SealOutcome::Sealed { .. } | SealOutcome::Rejected { .. })) => {
                    if *stop.borrow() {
                        break;
                    }
                }
                Ok(Ok(_)) => break,
                Ok(Err(error)) => {
                    error!(target: "merit::sequencer", %error, "sealing failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                Err(error) => {
                    error!(target: "merit::sequencer", %error, "the sealing task failed");
                    break;
                }
            }
        }
    }
    info!(target: "merit::sequencer", "batcher stopped");
}

/// Runs a node until `shutdown` resolves: loads (or generates) the prover keys when a circuit
/// is configured, opens the RocksDB store in the data directory, serves the API, batches; then stops accepting connections, finishes in-flight requests,
/// flushes the writer and closes the database.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let protocol = Protocol::load(&config)?;
    // The key first: a node that cannot settle should say so before keygen and RocksDB.
    let signer = match config.l1.rpc_url {
        Some(_) => Some(load_signer(&config.l1, std::env::var(PRIVATE_KEY_VAR).ok().as_deref())?),
        None => None,
    };
    let circuit_config = config.clone();
    let circuit = tokio::task::spawn_blocking(move || Circuit::load(&circuit_config))
        .await
        .map_err(|e| NodeError::Runtime(std::io::Error::other(e)))??;
    let jobs = circuit.map(|circuit| {
        JobQueue::new(Arc::new(circuit), config.prover.lease(), Arc::new(SystemClock))
    });
    let store = RocksStore::open(config.storage.db_path())?;
    let mut node = Node::start_with_jobs(
        protocol,
        Settings::from(&config),
        Arc::new(store),
        BatcherMode::Automatic,
        jobs,
    )?;
    if let Some(signer) = signer {
        match Submitter::connect(&config.l1, signer, node.sequencer().clone()).await {
            Ok(submitter) => node.start_submitter(submitter),
            Err(err) => {
                node.shutdown().await;
                return Err(err.into());
            }
        }
    }
    let listener = TcpListener::bind(config.api.listen)
        .await
        .map_err(|source| NodeError::Bind { addr: config.api.listen, source })?;
    let addr = listener.local_addr().map_err(NodeError::Serve)?;
    info!(target: "merit::sequencer", "listening on http://{addr}");
    // Answers go out at once: without TCP_NODELAY a response written in two segments waits
    // for the client's delayed ACK of the first (up to 40 ms on Linux).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            warn!(target: "merit::sequencer", %error, "cannot set TCP_NODELAY on a connection");
        }
    });
    let served = axum::serve(listener, app(node.sequencer().clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            info!(target: "merit::sequencer", "shutting down: no new connections");
        })
        .await;
    node.shutdown().await;
    info!(target: "merit::sequencer", "stopped; database closed");
    served.map_err(NodeError::Serve)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            error!(target: "merit::sequencer", %error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                error!(target: "merit::sequencer", %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!(target: "merit::sequencer", "SIGINT received"),
        () = terminate => info!(target: "merit::sequencer", "SIGTERM received"),
    }
}
