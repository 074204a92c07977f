//! The whole loop: anvil, contracts, sequencer (RocksDB, job queue, L1 submitter), a prover
//! worker, contributors over HTTP, proofs, settlement, claims.
//!
//! ```text
//!  1 chain       anvil (Prague); deploy token, verifier (2 contracts), RewardRollup; fund it
//!  2 keys        the circuit's proving key: cached in ~/.cache/merit/demo-keys, else generated
//!  3 sequencer   RocksDB, job queue, L1 submitter (anvil account 1), HTTP on 127.0.0.1:<free>
//!  4 prover      a worker thread leasing jobs over HTTP (CPU backend)
//!  5 contribute  each round: the circuit's account slots' worth of contributors, each filling
//!                its share of one batch, plus a few bad submissions that must be refused
//!  6 settle      wait until every batch is proven and settled
//!  7 claim       every contributor's claim proof from the API, sent by a relayer (anvil
//!                account 2; the tokens go to the contributor), then again: must revert
//! ```
//!
//! The policy's threshold is the model's median score on the simulation's own feature
//! distribution, so about half of the contributions earn (a mix of good and poor work).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
    transports::http::reqwest,
};
use eyre::{bail, ensure, eyre, Context, Result};
use merit_circuits::config::CircuitConfig;
use merit_contracts::{claim, deploy, fund, DemoRewardToken, Deployment, RollupParams};
use merit_core::{
    field::fr_to_u256,
    samples::{self, SplitMix64},
    ClaimProof, Contribution, MeritDomain, Policy, QuantizedModel, SignedContribution, State,
};
use merit_prover::worker::{JobOutcome, LocalProver, Worker, WorkerOptions, WorkerSummary};
use merit_sequencer::{
    api::app,
    config::{Config, L1Config},
    store::{Proofs, Settlements, StoreExt},
    submitter::{load_signer, Submitter},
    BatcherMode, Circuit, JobQueue, Node, Protocol, RocksStore, Settings, SystemClock,
};
use serde_json::Value;

use super::DemoArgs;

/// The repository this binary was built from (for the default circuit and anvil paths).
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// How long any one stage may take before the demo gives up.
const STAGE_LIMIT: Duration = Duration::from_secs(900);

pub(super) fn run(args: &DemoArgs) -> Result<()> {
    ensure!(args.contributors > 0 && args.batches > 0, "sizes must be positive");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    runtime.block_on(Demo::run(args))
}

/// One row of the contributor table.
#[derive(Debug, Default, Clone)]
struct ContributorRow {
    contributions: usize,
    rewarded: usize,
    earned: u128,
    claimed: u128,
    balance: U256,
    claim_gas: u64,
}

struct Demo {
    started: Instant,
}

impl Demo {
    fn stage(&self, n: usize, title: &str) {
        println!("\n[{n}/7 {:>5.1}s] {title}", self.started.elapsed().as_secs_f64());
    }

    async fn run(args: &DemoArgs) -> Result<()> {
        let demo = Demo { started: Instant::now() };
        let loaded = CircuitConfig::load(&find_circuit(&args.circuit)?)
            .map_err(|e| eyre!("circuit configuration {}: {e}", args.circuit))?;
        let shape = &loaded.config;
        let slots = shape.max_accounts.min(args.contributors);
        let per_account = shape.max_contributions / slots;
        ensure!(per_account > 0, "the circuit has more account slots than contribution slots");
        let model = loaded.model.clone();
        let policy = demo_policy(&model, args.seed);
        println!("Merit demo: the whole loop on a local chain");
        println!(
            "  circuit {} (k = {}, {} contributions, {} accounts per batch, tree depth {}); \
             {} contributors, {} batches",
            shape.name,
            shape.k,
            shape.max_contributions,
            shape.max_accounts,
            shape.depth,
            args.contributors,
            args.batches
        );
        println!(
            "  model {}→…→1 (commitment {}); policy: threshold {} (the model's median score), \
             base {} wei, cap {} wei",
            model.input_dim(),
            short(&B256::from(fr_to_u256(&model.commitment()))),
            policy.threshold,
            policy.base_reward,
            policy.cap
        );

        demo.stage(1, "chain: anvil, contracts, funding");
        let anvil_bin = find_anvil(args.anvil.as_deref())?;
        let anvil = Anvil::at(&anvil_bin)
            .args(["--hardfork", "prague"])
            .try_spawn()
            .map_err(|e| eyre!("cannot start anvil ({}): {e}", anvil_bin.display()))?;
        let chain = Chain::deploy(&anvil, &model, &policy, shape.depth).await?;
        println!(
            "  anvil {} (chain {}); RewardRollup {}, verifier {} (+ {}), token {}",
            anvil.endpoint(),
            anvil.chain_id(),
            chain.deployment.rollup,
            chain.deployment.verifier,
            chain.deployment.verifier_part2,
            chain.deployment.token
        );

        demo.stage(2, "prover keys");
        let data = match &args.data_dir {
            Some(dir) => DataDir::Kept(dir.clone()),
            None => DataDir::Temp(tempfile::tempdir().wrap_err("cannot create a temp dir")?),
        };
        let keys = args.keys.clone().unwrap_or_else(default_key_dir);
        let mut config = Config::default();
        config.storage.data_dir = data.path().to_path_buf();
        config.prover.circuit = Some(find_circuit(&args.circuit)?);
        config.prover.keys = Some(keys.clone());
        config.prover.dev_srs = true;
        let key_start = Instant::now();
        let circuit = tokio::task::spawn_blocking({
            let config = config.clone();
            move || Circuit::load(&config)
        })
        .await??
        .ok_or_else(|| eyre!("no circuit configured"))?;
        println!(
            "  {} keys ready in {:.1}s (cached in {}); development SRS (insecure, demo only)",
            shape.name,
            key_start.elapsed().as_secs_f64(),
            keys.display()
        );
        let circuit = Arc::new(circuit);

        demo.stage(3, "sequencer: RocksDB, job queue, L1 submitter, HTTP API");
        let protocol = Protocol {
            domain: chain.domain,
            model: model.clone(),
            policy,
            tree_depth: shape.depth,
        };
        let settings = Settings {
            max_batch_size: shape.max_contributions,
            max_batch_accounts: Some(shape.max_accounts),
            max_batch_new_accounts: shape.max_new_accounts,
            max_batch_age: Duration::from_millis(500),
            ..Settings::from(&config)
        };
        let store = RocksStore::open(config.storage.db_path())?;
        let jobs = JobQueue::new(circuit.clone(), Duration::from_secs(600), Arc::new(SystemClock));
        let mut node = Node::start_with_jobs(
            protocol,
            settings,
            Arc::new(store),
            BatcherMode::Automatic,
            Some(jobs),
        )?;
        let l1 = L1Config {
            rpc_url: Some(anvil.endpoint()),
            key_file: None,
            confirmations: 1,
            poll_ms: 200,
        };
        let key = alloy::hex::encode(anvil.keys()[1].to_bytes());
        let submitter =
            Submitter::connect(&l1, load_signer(&l1, Some(&key))?, node.sequencer().clone())
                .await?;
        node.start_submitter(submitter);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn({
            let app = app(node.sequencer().clone());
            async move {
                let _ = axum::serve(listener, app).await;
            }
        });
        println!("  http://{addr}/v1 (data in {})", data.path().display());

        demo.stage(4, "prover worker (CPU)");
        let options = WorkerOptions {
            sequencer: format!("http://{addr}"),
            prover_id: "demo-worker".into(),
            once: false,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            progress: false,
        };
        let worker =
            Worker::new(options, LocalProver::new(circuit.srs().clone()), circuit.keys().clone())
                .map_err(|e| eyre!("{e}"))?;
        let stop_worker = worker.stop_handle();
        let worker = std::thread::spawn(move || worker.run());
        println!("  leasing jobs from http://{addr}");

        demo.stage(5, "contributors submit signed contributions");
        let client = Api::new(addr);
        let mut rows: BTreeMap<Address, ContributorRow> = BTreeMap::new();
        let signers: Vec<PrivateKeySigner> =
            (1..=args.contributors as u64).map(|i| samples::dev_signer(1_000 + i)).collect();
        let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
        let mut rng = SplitMix64::new(args.seed);
        let mut refused = Vec::new();
        for round in 0..args.batches {
            let batch_id = round as u64 + 1;
            let mut batch_rewarded = 0;
            let chosen: Vec<&PrivateKeySigner> =
                (0..slots).map(|i| &signers[(round * slots + i) % signers.len()]).collect();
            for signer in &chosen {
                for _ in 0..per_account {
                    let nonce = nonces.entry(signer.address()).or_insert(0);
                    *nonce += 1;
                    let contribution = Contribution {
                        contributor: signer.address(),
                        task_id: rng.next_u64() % 10_000,
                        nonce: *nonce,
                        features: samples::random_features(&mut rng, model.input_dim(), 4096),
                        payload_hash: rng.bytes32(),
                    };
                    let earns = policy.reward(model.score(&contribution.features)?) > 0;
                    let signed = samples::sign(signer, &chain.domain, contribution);
                    let (status, body) = client.submit(&signed).await?;
                    ensure!(status == 202, "an honest contribution was refused: {status} {body}");
                    let row = rows.entry(signer.address()).or_default();
                    row.contributions += 1;
                    row.rewarded += usize::from(earns);
                    batch_rewarded += usize::from(earns);
                }
            }
            if round == 0 {
                refused =
                    bad_submissions(&client, chosen[0], &chain.domain, &nonces, &model, &mut rng)
                        .await?;
            }
            wait(&format!("batch {batch_id} to be sealed"), async || {
                Ok(client.get("/v1/status").await?["last_batch"].as_u64() >= Some(batch_id))
            })
            .await?;
            let batch = client.get(&format!("/v1/batches/{batch_id}")).await?;
            let output = &batch["output"];
            let touched = output["touched"].as_array().map_or(0, Vec::len);
            println!(
                "  batch {batch_id} sealed: {} contributions, {batch_rewarded} above the threshold, \
                 {touched} accounts, total reward {} wei",
                batch["batch"]["contributions"].as_array().map_or(0, Vec::len),
                output["total_reward"].as_str().unwrap_or("?")
            );
        }
        println!("  refused as they should be:");
        for (what, code) in &refused {
            println!("    {what:<44} → {code}");
        }

        demo.stage(6, "proving and settling every batch");
        let last = args.batches as u64;
        let store = node.sequencer().store().clone();
        let (mut proven, mut settled) = (0u64, 0u64);
        wait("every batch to settle on L1", async || {
            while store.contains::<Proofs>(&(proven + 1))? {
                proven += 1;
                println!(
                    "  [{:>5.1}s] batch {proven} proven and verified by the sequencer",
                    demo.started.elapsed().as_secs_f64()
                );
            }
            while let Some(s) = store.get::<Settlements>(&(settled + 1))? {
                settled += 1;
                println!(
                    "  [{:>5.1}s] batch {settled} settled on L1: submitBatch {} gas, tx {}",
                    demo.started.elapsed().as_secs_f64(),
                    s.gas_used,
                    short(&s.tx_hash)
                );
            }
            if let Some(error) = node.sequencer().l1().and_then(|c| c.status().last_error) {
                bail!("the L1 submitter failed: {error}");
            }
            Ok(settled >= last)
        })
        .await?;

        demo.stage(7, "contributors claim on chain (API claim proof → RewardRollup.claim)");
        let relayer: PrivateKeySigner = anvil.keys()[2].clone().into();
        let relay = ProviderBuilder::new().wallet(relayer).connect_http(anvil.endpoint_url());
        let token = DemoRewardToken::new(chain.deployment.token, &relay);
        for (account, row) in rows.iter_mut() {
            let view = client.get(&format!("/v1/accounts/{account}")).await?;
            row.earned = amount(&view["cumulative"])?;
            let claimable = amount(&view["claimable"])?;
            if claimable == 0 {
                continue;
            }
            let proof: ClaimProof = serde_json::from_value(
                client.get(&format!("/v1/accounts/{account}/claim-proof")).await?,
            )?;
            ensure!(
                proof.cumulative == claimable,
                "{account}: proof for {} but {claimable} claimable",
                proof.cumulative
            );
            let receipt = claim(&relay, chain.deployment.rollup, &proof).await?;
            row.claim_gas = receipt.gas_used;
            row.claimed = proof.cumulative;
            row.balance = token.balanceOf(*account).call().await?;
            ensure!(
                row.balance == U256::from(row.claimed),
                "{account} holds {} after claiming {}",
                row.balance,
                row.claimed
            );
            match claim(&relay, chain.deployment.rollup, &proof).await {
                Err(e) if e.revert_reason().is_some_and(|r| r.contains("NothingToClaim")) => {}
                Err(e) => bail!("the repeat claim of {account} failed otherwise: {e}"),
                Ok(_) => bail!("a repeat claim of {account} paid out"),
            }
        }

        stop_worker.store(true, Ordering::SeqCst);
        let summary = worker
            .join()
            .map_err(|_| eyre!("the prover worker panicked"))?
            .map_err(|e| eyre!("the prover worker failed: {e}"))?;
        let settlements = store.all::<Settlements>()?;
        server.abort();
        let _ = server.await;
        node.shutdown().await;

        let report = Report { rows, summary, settlements, chain: &chain };
        report.print(args.batches)?;
        if let Some(path) = &args.summary_json {
            crate::io::write_json(Some(path), &report.json(&shape.name, demo.started.elapsed()))?;
        }
        println!(
            "\nDone in {:.1}s; anvil and the sequencer are stopped{}.",
            demo.started.elapsed().as_secs_f64(),
            match &data {
                DataDir::Temp(_) => " and their data removed".to_owned(),
                DataDir::Kept(dir) => format!("; the sequencer's data is in {}", dir.display()),
            }
        );
        drop(anvil);
        Ok(())
    }
}

/// The sequencer's data directory: a temporary one unless the user named one.
enum DataDir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(dir) => dir.path(),
            Self::Kept(dir) => dir,
        }
    }
}

/// The deployed contracts and the domain contributions are signed under.
struct Chain {
    deployment: Deployment,
    domain: MeritDomain,
}

impl Chain {
    async fn deploy(
        anvil: &AnvilInstance,
        model: &QuantizedModel,
        policy: &Policy,
        depth: usize,
    ) -> Result<Self> {
        let owner: PrivateKeySigner = anvil.keys()[0].clone().into();
        let provider =
            ProviderBuilder::new().wallet(owner.clone()).connect_http(anvil.endpoint_url());
        let ether = U256::from(10u64).pow(U256::from(18));
        let params = RollupParams {
            circuit: circuit_name(model, depth)?,
            model_commitment: fr_to_u256(&model.commitment()),
            policy_commitment: fr_to_u256(&policy.commitment()),
            genesis_root: fr_to_u256(&State::new(depth)?.root()),
            timelock_delay: U256::from(86_400),
            owner: owner.address(),
            guardian: Address::ZERO,
            token_supply: U256::from(1_000_000u64) * ether,
        };
        let deployment = deploy(&provider, &params).await?;
        fund(&provider, &deployment, U256::from(100_000u64) * ether).await?;
        let domain =
            MeritDomain { chain_id: anvil.chain_id(), verifying_contract: deployment.rollup };
        Ok(Self { deployment, domain })
    }
}

/// The name of the committed verifier for this shape (the deploy helper knows them by name).
fn circuit_name(model: &QuantizedModel, depth: usize) -> Result<String> {
    Ok(match (model.input_dim(), depth) {
        (4, 8) => "tiny",
        (16, 24) => "n16",
        _ => bail!("no generated verifier is committed for this circuit (tiny and n16 are)"),
    }
    .to_owned())
}

/// The policy of the demo: merit-core's sample policy with the threshold at the model's median
/// score over the simulation's feature distribution.
fn demo_policy(model: &QuantizedModel, seed: u64) -> Policy {
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    let mut scores: Vec<i64> = (0..257)
        .map(|_| {
            let features = samples::random_features(&mut rng, model.input_dim(), 4096);
            model.score(&features).expect("the model's own width")
        })
        .collect();
    scores.sort_unstable();
    Policy { threshold: scores[scores.len() / 2], ..samples::sample_policy() }
}

/// Submissions the sequencer must refuse: a replay, a forged signature, a wrong chain id, a
/// wrong feature width. Returns (what, the error code it got).
async fn bad_submissions(
    client: &Api,
    signer: &PrivateKeySigner,
    domain: &MeritDomain,
    nonces: &BTreeMap<Address, u64>,
    model: &QuantizedModel,
    rng: &mut SplitMix64,
) -> Result<Vec<(String, String)>> {
    let address = signer.address();
    let next = nonces[&address] + 1;
    let fresh = |rng: &mut SplitMix64, nonce: u64, width: usize| Contribution {
        contributor: address,
        task_id: rng.next_u64() % 10_000,
        nonce,
        features: samples::random_features(rng, width, 4096),
        payload_hash: rng.bytes32(),
    };
    let replay = samples::sign(signer, domain, fresh(rng, nonces[&address], model.input_dim()));
    let mut forged = samples::sign(signer, domain, fresh(rng, next, model.input_dim()));
    forged.contribution.task_id += 1;
    let other_chain = MeritDomain { chain_id: domain.chain_id + 1, ..*domain };
    let wrong_chain = samples::sign(signer, &other_chain, fresh(rng, next, model.input_dim()));
    let wrong_width = samples::sign(signer, domain, fresh(rng, next, model.input_dim() + 1));
    let mut refused = Vec::new();
    for (what, signed) in [
        ("a replayed nonce", replay),
        ("a tampered contribution (signature no longer matches)", forged),
        ("a signature for another chain id", wrong_chain),
        ("the wrong number of features", wrong_width),
    ] {
        let (status, body) = client.submit(&signed).await?;
        ensure!((400..500).contains(&status), "{what} got {status}: {body}");
        refused.push((what.to_owned(), body["code"].as_str().unwrap_or("?").to_owned()));
    }
    Ok(refused)
}

/// A decimal-string amount of the API.
fn amount(value: &Value) -> Result<u128> {
    value.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| eyre!("not an amount: {value}"))
}

/// The sequencer's HTTP API, as a contributor's client sees it.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(addr: SocketAddr) -> Self {
        Self { base: format!("http://{addr}"), http: reqwest::Client::new() }
    }

    async fn submit(&self, signed: &SignedContribution) -> Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/v1/contributions", self.base))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(signed)?)
            .send()
            .await
            .wrap_err("POST /v1/contributions")?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .wrap_err_with(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        ensure!(status.is_success(), "GET {path}: {status} {value}");
        Ok(value)
    }
}

/// Polls `done` every 100 ms until it holds (or [`STAGE_LIMIT`] passes).
async fn wait(what: &str, mut done: impl AsyncFnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    while !done().await? {
        ensure!(start.elapsed() < STAGE_LIMIT, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

struct Report<'a> {
    rows: BTreeMap<Address, ContributorRow>,
    summary: WorkerSummary,
    settlements: Vec<(u64, merit_sequencer::store::SettlementRecord)>,
    chain: &'a Chain,
}

impl Report<'_> {
    /// Seconds the worker spent proving each batch.
    fn prove_seconds(&self) -> BTreeMap<u64, f64> {
        self.summary
            .jobs
            .iter()
            .filter_map(|job| match job {
                JobOutcome::Proven { batch_id, prove_seconds } => Some((*batch_id, *prove_seconds)),
                _ => None,
            })
            .collect()
    }

    fn print(&self, batches: usize) -> Result<()> {
        let prove = self.prove_seconds();
        println!(
            "\n{:<7} {:>10} {:>16} {:>8} {:<14}",
            "batch", "proof (s)", "submitBatch gas", "block", "tx"
        );
        for (batch_id, s) in &self.settlements {
            println!(
                "{batch_id:<7} {:>10} {:>16} {:>8} {:<14}",
                prove.get(batch_id).map_or("(other)".to_owned(), |s| format!("{s:.1}")),
                s.gas_used,
                s.block,
                short(&s.tx_hash)
            );
        }
        println!(
            "\n{:<44} {:>6} {:>9} {:>22} {:>22} {:>10}",
            "contributor", "subm.", "rewarded", "earned (wei)", "token balance (wei)", "claim gas"
        );
        for (address, row) in &self.rows {
            println!(
                "{:<44} {:>6} {:>9} {:>22} {:>22} {:>10}",
                address.to_string(),
                row.contributions,
                row.rewarded,
                row.earned,
                row.balance,
                if row.claim_gas == 0 { "-".to_owned() } else { row.claim_gas.to_string() }
            );
        }
        let contributions: usize = self.rows.values().map(|r| r.contributions).sum();
        let earned: u128 = self.rows.values().map(|r| r.earned).sum();
        let claimed: u128 = self.rows.values().map(|r| r.claimed).sum();
        let claims = self.rows.values().filter(|r| r.claimed > 0).count();
        ensure!(
            self.settlements.len() == batches,
            "{} of {batches} batches settled",
            self.settlements.len()
        );
        ensure!(claimed == earned, "claimed {claimed} of {earned} earned");
        let mean_prove =
            if prove.is_empty() { 0.0 } else { prove.values().sum::<f64>() / prove.len() as f64 };
        println!(
            "\n{contributions} contributions in {batches} batches, proven (mean {mean_prove:.1} s per batch) \
             and settled on chain {}; {earned} wei earned; every claim paid ({claims} claims, {claimed} wei) \
             and every repeat claim reverted.",
            self.chain.deployment.rollup
        );
        Ok(())
    }
}

impl Report<'_> {
    /// The summary as JSON (for the benchmark report).
    fn json(&self, circuit: &str, elapsed: Duration) -> Value {
        let prove = self.prove_seconds();
        serde_json::json!({
            "circuit": circuit,
            "seconds": elapsed.as_secs_f64(),
            "batches": self.settlements.iter().map(|(id, s)| serde_json::json!({
                "batch_id": id,
                "prove_seconds": prove.get(id),
                "submit_batch_gas": s.gas_used,
                "block": s.block,
                "tx": s.tx_hash,
            })).collect::<Vec<_>>(),
            "contributors": self.rows.iter().map(|(a, r)| serde_json::json!({
                "address": a,
                "contributions": r.contributions,
                "rewarded": r.rewarded,
                "earned": r.earned.to_string(),
                "claimed": r.claimed.to_string(),
                "balance": r.balance.to_string(),
                "claim_gas": r.claim_gas,
            })).collect::<Vec<_>>(),
        })
    }
}

fn short(word: &B256) -> String {
    let hex = word.to_string();
    format!("{}…{}", &hex[..10], &hex[hex.len() - 6..])
}

/// `circuits/configs/<name>.json` under the working directory or the repository, or a file.
fn find_circuit(name: &str) -> Result<PathBuf> {
    let direct = PathBuf::from(name);
    if direct.is_file() {
        return Ok(direct);
    }
    for root in [Path::new("."), Path::new(REPO)] {
        let path = root.join("circuits/configs").join(format!("{name}.json"));
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("no circuit configuration {name:?} (a file, or a name in circuits/configs)")
}

/// `--anvil`, `MERIT_ANVIL`, the npm-installed one under the working directory or the
/// repository, or `anvil` on the PATH.
fn find_anvil(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("MERIT_ANVIL") {
        return Ok(PathBuf::from(path));
    }
    let npm = "verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    for root in [Path::new("."), Path::new(REPO)] {
        let path = root.join(npm);
        if path.is_file() {
            return Ok(path);
        }
    }
    if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|p| p.join("anvil")).find(|p| p.is_file())
    }) {
        return Ok(path);
    }
    bail!(
        "anvil not found: run verifier-contracts/scripts/install.sh (./scripts/demo.sh does), or \
         give --anvil FILE"
    )
}

fn default_key_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/merit/demo-keys")
}
