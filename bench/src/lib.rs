//! # merit-bench
//!
//! Merit's benchmarks. Today: the sequencer's **ingestion and recovery benchmark**, driven by
//! the `merit-loadgen` binary (`bench/scripts/ingest.sh` builds it in release and writes
//! `bench/results/latest/ingest.json`). The prover benchmark lives in `merit-prover`
//! (`merit_prover::bench`, results in `bench/results/2026-11-22-h100/`).
//!
//! ## The ingestion benchmark
//!
//! ```text
//!  K keys ── pre-sign N contributions (EIP-712, the node's domain and feature width,
//!            consecutive nonces per key) ── before the measured window
//!     │
//!     ▼
//!  open-loop schedule: submission i due at t0 + i / rate, key i mod K
//!  C connections, key k always on connection k mod C, one request in flight per connection
//!     │  POST /v1/contributions (keep-alive HTTP/1.1)
//!     ▼
//!  merit-sequencer (spawned on a temporary RocksDB directory, or --url)
//!     │  202 + receipt once the group-committed write is synced
//!     ▼
//!  latency = receipt time − scheduled time (hdrhistogram), errors by `code`, 202s per second,
//!  CPU seconds of both processes (and of the node's threads) from /proc
//! ```
//!
//! Keys arrive in nonce order because a key never changes connection and a connection sends
//! its submissions one at a time in schedule order. Latency is taken from the *scheduled*
//! send time, so a node (or a connection) that falls behind pays for the queue it builds.
//! The load generator shares the machine (and its cores) with the node; the reports say so.
//!
//! The crash benchmark ([`crash`]) streams the same way, SIGKILLs the node, restarts it on the
//! same data directory, times `/health`, and looks up every acknowledged contribution.
//!
//! ## Modules
//! - [`load`]: workload (keys, signing, lanes) and the open-loop driver.
//! - [`ingest`]: the ingestion benchmark and its [`ingest::IngestReport`].
//! - [`crash`]: the SIGKILL recovery benchmark and its [`crash::CrashReport`].
//! - [`node`]: a `merit-sequencer` child process; CPU time from `/proc`.
//! - [`http`]: the minimal keep-alive HTTP/1.1 client.
//! - [`report`]: machine description, the node's Prometheus metrics, JSON output.

pub mod crash;
pub mod http;
pub mod ingest;
pub mod load;
pub mod node;
pub mod report;
