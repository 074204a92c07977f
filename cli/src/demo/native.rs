//! `merit demo --native`: the protocol alone, in a second, with no chain and no proofs.
//!
//! Simulated contributors sign contributions (EIP-712), an in-process stand-in for the
//! sequencer checks signatures, nonces and widths and seals batches, `apply_batch` scores and
//! rewards them and updates the account tree, and every contributor claims with a Merkle proof
//! checked exactly as `RewardRollup.claim` checks it.

use std::{collections::BTreeMap, path::Path};

use alloy_primitives::Address;
use eyre::{bail, ensure, Context, Result};
use merit_core::{
    apply_batch,
    samples::{self, SplitMix64},
    Batch, BatchOutput, Contribution, MeritDomain, SignedContribution, State,
};

use super::DemoArgs;
use crate::io::write_json;

/// The in-process stand-in for the sequencer: admission checks and the pending pool.
struct Sequencer {
    domain: MeritDomain,
    input_dim: usize,
    next_nonce: BTreeMap<Address, u64>,
    pending: Vec<SignedContribution>,
}

impl Sequencer {
    fn submit(&mut self, signed: SignedContribution) -> Result<()> {
        let c = &signed.contribution;
        signed.verify(&self.domain).wrap_err("bad signature")?;
        ensure!(
            c.features.len() == self.input_dim,
            "{} features, the model takes {}",
            c.features.len(),
            self.input_dim
        );
        let expected = self.next_nonce.get(&c.contributor).copied().unwrap_or(1);
        ensure!(c.nonce >= expected, "nonce {} already used (next is {expected})", c.nonce);
        self.next_nonce.insert(c.contributor, c.nonce + 1);
        self.pending.push(signed);
        Ok(())
    }

    fn seal(&mut self, batch_id: u64) -> Batch {
        let mut contributions = std::mem::take(&mut self.pending);
        contributions.sort_by_key(|s| (s.contribution.contributor, s.contribution.nonce));
        Batch { batch_id, contributions }
    }
}

pub(super) fn run(args: &DemoArgs) -> Result<()> {
    ensure!(
        args.contributors > 0 && args.batches > 0 && args.per_contributor > 0,
        "sizes must be positive"
    );
    let domain = samples::dev_domain();
    let model = samples::sample_model(1);
    let policy = samples::sample_policy();
    let mut rng = SplitMix64::new(args.seed);
    let signers: Vec<_> = (1..=args.contributors as u64).map(samples::dev_signer).collect();
    let mut state = State::new(args.depth).wrap_err("cannot create the state")?;
    let mut sequencer = Sequencer {
        domain,
        input_dim: model.input_dim(),
        next_nonce: BTreeMap::new(),
        pending: Vec::new(),
    };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    }

    println!("Merit demo (--native): the protocol alone (contributions → batches → claims), no chain, no proofs");
    println!(
        "  model 16→32→1 (ReLU, sigmoid) commitment {}\n  policy threshold {} · cap {} wei · account tree depth {}",
        short(&merit_core::field::fr_to_b256(&model.commitment())),
        policy.threshold,
        policy.cap,
        args.depth
    );

    let mut outputs: Vec<(u64, BatchOutput)> = Vec::new();
    let mut stats: BTreeMap<Address, (usize, usize)> = BTreeMap::new(); // (contributions, rewarded)
    let mut rejected = 0usize;
    for batch_id in 1..=args.batches as u64 {
        for signer in &signers {
            for _ in 0..args.per_contributor {
                let address = signer.address();
                let nonce = sequencer.next_nonce.get(&address).copied().unwrap_or(1);
                let contribution = Contribution {
                    contributor: address,
                    task_id: rng.next_u64() % 10_000,
                    nonce,
                    features: samples::random_features(&mut rng, model.input_dim(), 4096),
                    payload_hash: rng.bytes32(),
                };
                let signed = samples::sign(signer, &domain, contribution);
                sequencer.submit(signed.clone()).wrap_err("an honest contribution was refused")?;
                // Every so often, someone replays a contribution or forges a signature.
                if rng.next_u64().is_multiple_of(16) {
                    let mut forged = signed.clone();
                    forged.contribution.nonce += 1;
                    if rng.next_u64().is_multiple_of(2) {
                        forged = signed; // a replay of the same signed contribution
                    }
                    match sequencer.submit(forged) {
                        Ok(()) => bail!("a bad contribution was accepted"),
                        Err(_) => rejected += 1,
                    }
                }
            }
        }
        let batch = sequencer.seal(batch_id);
        let applied = apply_batch(&state, &model, &policy, &batch.unsigned())
            .wrap_err_with(|| format!("batch {batch_id} rejected"))?;
        for (c, t) in batch.contributions.iter().zip(&applied.trace.contributions) {
            let entry = stats.entry(c.contribution.contributor).or_default();
            entry.0 += 1;
            entry.1 += usize::from(t.reward > 0);
        }
        let rewarded = applied.trace.contributions.iter().filter(|t| t.reward > 0).count();
        println!(
            "  batch {batch_id}: {} contributions, {rewarded} rewarded, {} accounts touched, total {} wei, root {}",
            batch.contributions.len(),
            applied.output.touched.len(),
            applied.output.total_reward,
            short(&merit_core::field::fr_to_b256(&applied.output.new_root)),
        );
        if let Some(dir) = &args.out_dir {
            write_json(Some(&dir.join(format!("batch-{batch_id}.json"))), &batch)?;
            write_json(Some(&dir.join(format!("output-{batch_id}.json"))), &applied.output)?;
        }
        state = applied.state;
        outputs.push((batch_id, applied.output));
    }
    println!("  sequencer refused {rejected} replayed or forged contributions");

    // Claims: each contributor claims against the latest batch that touched them, as
    // RewardRollup.claim does: verify the leaf, pay cumulative - claimed, then never again.
    let mut claimed: BTreeMap<Address, u128> = BTreeMap::new();
    let mut rows = Vec::new();
    for signer in &signers {
        let address = signer.address();
        let Some((batch_id, output)) =
            outputs.iter().rev().find(|(_, o)| o.touched.iter().any(|t| t.address == address))
        else {
            continue;
        };
        let proof = output.claim_proof(*batch_id, address).expect("touched");
        ensure!(proof.verify(), "claim proof of {address} does not verify");
        let paid = claim(&mut claimed, &proof)?;
        ensure!(claim(&mut claimed, &proof).is_err(), "a second claim paid out");
        if let Some(dir) = &args.out_dir {
            write_json(Some(&dir.join(format!("claim-{address}.json"))), &proof)?;
        }
        let cumulative = state.account(&address).map_or(0, |a| a.cumulative);
        ensure!(paid == cumulative, "{address} was paid {paid}, earned {cumulative}");
        let (contributions, rewarded) = stats.get(&address).copied().unwrap_or_default();
        rows.push((address, contributions, rewarded, cumulative, paid));
    }

    println!();
    println!(
        "{:<44} {:>13} {:>9} {:>24} {:>24}",
        "contributor", "contributions", "rewarded", "earned (wei)", "claimed (wei)"
    );
    for (address, contributions, rewarded, earned, paid) in &rows {
        println!(
            "{:<44} {contributions:>13} {rewarded:>9} {earned:>24} {paid:>24}",
            address.to_string()
        );
    }
    let total: u128 = rows.iter().map(|r| r.4).sum();
    let proven: u128 = outputs.iter().map(|(_, o)| o.total_reward).sum();
    ensure!(total == proven, "claimed {total} of {proven} rewarded");
    println!(
        "\n{} batches, {} contributions, {} wei rewarded, every claim paid once ({} wei), repeat claims refused.",
        outputs.len(),
        stats.values().map(|s| s.0).sum::<usize>(),
        proven,
        total
    );
    if let Some(dir) = &args.out_dir {
        write_json(Some(&dir.join("state.json")), &state)?;
        println!("Artifacts written to {}", display(dir));
    }
    println!(
        "\nThis was the protocol alone. `merit demo` (without --native) runs the whole loop: anvil, \
         the contracts, the HTTP sequencer on RocksDB, halo2 proofs, settlement and claims on chain."
    );
    Ok(())
}

/// Pays `cumulative - claimed` once, like `RewardRollup.claim`.
fn claim(claimed: &mut BTreeMap<Address, u128>, proof: &merit_core::ClaimProof) -> Result<u128> {
    let already = claimed.get(&proof.account).copied().unwrap_or(0);
    ensure!(proof.cumulative > already, "nothing to claim for {}", proof.account);
    claimed.insert(proof.account, proof.cumulative);
    Ok(proof.cumulative - already)
}

fn short(word: &alloy_primitives::B256) -> String {
    let hex = word.to_string();
    format!("{}…{}", &hex[..10], &hex[hex.len() - 6..])
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
