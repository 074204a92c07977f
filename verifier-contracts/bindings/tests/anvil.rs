//! End to end on a real node (anvil from `verifier-contracts/node_modules`, installed by
//! `verifier-contracts/scripts/install.sh`): deploy the demo token, the generated verifier of
//! the `tiny` circuit configuration and `RewardRollup`; fund it; settle two consecutive batches
//! with real proofs made by merit-prover (CPU, development SRS); claim for every account, once
//! against an older root and then the rest against the newest; check every balance. A proof
//! whose public instances do not match the header (one changed instance), a skipped batch and
//! every repeated claim revert with the contract's custom error.

use std::path::{Path, PathBuf};

use alloy::{
    node_bindings::Anvil,
    primitives::{Address, U256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};
use merit_circuits::config::{CircuitConfig, LoadedConfig};
use merit_contracts::{
    claim, deploy, fund, submit_batch, DemoRewardToken, RewardRollup, RollupParams,
};
use merit_core::{
    field::fr_to_u256,
    samples::{dev_domain, sample_contributions, SplitMix64},
    vectors::BatchVector,
    Batch, Fr, Policy, State,
};
use merit_prover::{keys::keygen, prove, Srs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn anvil_path() -> PathBuf {
    let path =
        root().join("verifier-contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(path.exists(), "{path:?} is missing: run verifier-contracts/scripts/install.sh");
    path
}

/// Two consecutive batches of the `tiny` shape (4 contributions, 2 accounts, depth 8) with a
/// policy under which most contributions earn.
fn batches(config: &LoadedConfig) -> (BatchVector, BatchVector) {
    let model = config.model.clone();
    let policy = Policy {
        threshold: -100,
        base_reward: 1_000_000,
        reward_per_point: 10_000,
        cap: 5_000_000,
        batch_budget: 100_000_000,
    };
    let domain = dev_domain();
    let mut rng = SplitMix64::new(2026);
    let first = sample_contributions(&mut rng, &domain, 4, &[(1, 1, 2), (2, 1, 2)]);
    let v1 = BatchVector::build(
        "e2e batch 1",
        domain,
        model.clone(),
        policy,
        State::new(config.config.depth).unwrap(),
        Batch { batch_id: 1, contributions: first },
    )
    .unwrap();
    let second = sample_contributions(&mut rng, &domain, 4, &[(2, 3, 1), (3, 1, 3)]);
    let v2 = BatchVector::build(
        "e2e batch 2",
        domain,
        model,
        policy,
        v1.new_state.clone(),
        Batch { batch_id: 2, contributions: second },
    )
    .unwrap();
    (v1, v2)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_proofs_settle_on_anvil_and_every_account_claims_once() {
    let loaded = CircuitConfig::load(&root().join("circuits/configs/tiny.json")).unwrap();
    let (v1, v2) = batches(&loaded);
    assert!(v1.output.total_reward > 0 && v2.output.total_reward > 0);
    let srs = Srs::development(loaded.config.k as u32);
    let keys = keygen(&loaded, &srs).unwrap();
    let p1 = prove(&srs, &keys, &v1).unwrap();
    let p2 = prove(&srs, &keys, &v2).unwrap();

    let anvil = Anvil::at(anvil_path()).args(["--hardfork", "prague"]).spawn();
    let owner = anvil.addresses()[0];
    let signer: PrivateKeySigner = anvil.keys()[0].clone().into();
    let provider = ProviderBuilder::new().wallet(signer).connect_http(anvil.endpoint_url());

    let total = v1.output.total_reward + v2.output.total_reward;
    let params = RollupParams {
        circuit: "tiny".into(),
        model_commitment: fr_to_u256(&v1.output.model_commitment),
        policy_commitment: fr_to_u256(&v1.output.policy_commitment),
        genesis_root: fr_to_u256(&v1.output.prev_root),
        timelock_delay: U256::from(86_400),
        owner,
        guardian: Address::ZERO,
        token_supply: U256::from(total) * U256::from(2),
    };
    let deployment = deploy(&provider, &params).await.unwrap();
    fund(&provider, &deployment, U256::from(total)).await.unwrap();
    let rollup = RewardRollup::new(deployment.rollup, &provider);
    let token = DemoRewardToken::new(deployment.token, &provider);

    // One changed public instance (the header's batch commitment): the verifier refuses.
    let mut forged = v1.output.clone();
    forged.batch_commitment += Fr::from(1u64);
    let err =
        submit_batch(&provider, deployment.rollup, &forged, 1, p1.proof.clone()).await.unwrap_err();
    assert!(err.revert_reason().is_some_and(|r| r.contains("InvalidProof")), "{err}");
    // Batch 2 before batch 1: refused.
    let err = submit_batch(&provider, deployment.rollup, &v2.output, 2, p2.proof.clone())
        .await
        .unwrap_err();
    assert!(err.revert_reason().is_some_and(|r| r.contains("UnexpectedBatchId")), "{err}");

    let r1 =
        submit_batch(&provider, deployment.rollup, &v1.output, 1, p1.proof.clone()).await.unwrap();
    let r2 =
        submit_batch(&provider, deployment.rollup, &v2.output, 2, p2.proof.clone()).await.unwrap();
    println!("submitBatch gas: {} (batch 1), {} (batch 2)", r1.gas_used, r2.gas_used);
    assert_eq!(rollup.stateRoot().call().await.unwrap(), fr_to_u256(&v2.output.new_root));
    assert_eq!(rollup.lastBatchId().call().await.unwrap(), 2);
    // The same proof again: the batch id has moved on.
    let err = submit_batch(&provider, deployment.rollup, &v1.output, 1, p1.proof.clone())
        .await
        .unwrap_err();
    assert!(err.revert_reason().is_some_and(|r| r.contains("UnexpectedBatchId")), "{err}");

    // Account 2 is in both batches: it claims its batch-1 amount against the older root, then
    // the rest against batch 2. Every other account claims its latest cumulative once.
    let shared = v1
        .output
        .touched
        .iter()
        .find(|t| v2.output.touched.iter().any(|u| u.address == t.address))
        .expect("an account in both batches")
        .address;
    let early = v1.output.claim_proof(1, shared).unwrap();
    let receipt = claim(&provider, deployment.rollup, &early).await.unwrap();
    println!("claim gas (first claim, older root): {}", receipt.gas_used);
    assert_eq!(token.balanceOf(shared).call().await.unwrap(), U256::from(early.cumulative));

    let mut latest: Vec<_> = v2.output.touched.iter().map(|t| (2u64, t.address)).collect();
    for t in &v1.output.touched {
        if !latest.iter().any(|&(_, a)| a == t.address) {
            latest.push((1, t.address));
        }
    }
    let mut paid = U256::ZERO;
    for (batch_id, account) in latest {
        let output = if batch_id == 1 { &v1.output } else { &v2.output };
        let proof = output.claim_proof(batch_id, account).unwrap();
        let receipt = claim(&provider, deployment.rollup, &proof).await.unwrap();
        println!("claim gas ({account}, batch {batch_id}): {}", receipt.gas_used);
        assert_eq!(token.balanceOf(account).call().await.unwrap(), U256::from(proof.cumulative));
        paid += U256::from(proof.cumulative);
        let err = claim(&provider, deployment.rollup, &proof).await.unwrap_err();
        assert!(err.revert_reason().is_some_and(|r| r.contains("NothingToClaim")), "{err}");
    }
    // Everything proven was paid, and nothing more.
    assert_eq!(paid, U256::from(total));
    assert_eq!(token.balanceOf(deployment.rollup).call().await.unwrap(), U256::ZERO);
}
