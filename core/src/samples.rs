//! Deterministic samples for tests, golden fixtures and the demo (feature `samples`).
//!
//! Everything here derives from integer seeds through [`SplitMix64`], so the same seed gives the
//! same model, keys and contributions on every machine and in every release (unlike `rand`'s
//! `StdRng`, whose stream may change between versions). Keys made here are public: never use
//! them for anything but development.

use alloy_primitives::{keccak256, Address, B256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

use crate::{
    model::{Activation, DenseLayer, QuantizedModel, ScoreRange},
    Contribution, MeritDomain, Policy, SignedContribution,
};

/// The SplitMix64 generator: tiny, fast and stable forever.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> B256 {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        B256::from(out)
    }
}

/// The development domain: anvil's chain id and a fixed rollup address.
pub fn dev_domain() -> MeritDomain {
    MeritDomain { chain_id: 31337, verifying_contract: Address::repeat_byte(0x4d) }
}

/// A deterministic development signer (`keccak256("merit-dev-key" ‖ seed)`).
pub fn dev_signer(seed: u64) -> PrivateKeySigner {
    let mut preimage = b"merit-dev-key".to_vec();
    preimage.extend_from_slice(&seed.to_be_bytes());
    PrivateKeySigner::from_bytes(&keccak256(preimage)).expect("a keccak output is a valid key")
}

/// Signs a contribution under `domain`.
pub fn sign(
    signer: &PrivateKeySigner,
    domain: &MeritDomain,
    contribution: Contribution,
) -> SignedContribution {
    let signature = signer
        .sign_hash_sync(&contribution.signing_hash(domain))
        .expect("local signing does not fail");
    SignedContribution { contribution, signature }
}

/// A dense layer of random weights in `±weight_max` and biases in `±bias_max`.
pub fn random_layer(
    rng: &mut SplitMix64,
    inputs: usize,
    outputs: usize,
    weight_max: i64,
    bias_max: i64,
    activation: Activation,
) -> DenseLayer {
    DenseLayer {
        weights: (0..outputs)
            .map(|_| (0..inputs).map(|_| rng.range(-weight_max, weight_max)).collect())
            .collect(),
        biases: (0..outputs).map(|_| rng.range(-bias_max, bias_max)).collect(),
        activation,
    }
}

/// The reference quality model: 16 → 32 (ReLU) → 1 (sigmoid), scale 2^12, score in `[0, 4096]`.
pub fn sample_model(seed: u64) -> QuantizedModel {
    let mut rng = SplitMix64::new(seed);
    let s = 12;
    let layers = vec![
        random_layer(&mut rng, 16, 32, 1 << (s - 1), 1 << (2 * s - 2), Activation::Relu),
        random_layer(&mut rng, 32, 1, 1 << (s - 1), 1 << (2 * s - 3), Activation::Sigmoid),
    ];
    QuantizedModel::new(s, 16, layers, ScoreRange { min: 0, max: 1 << s })
        .expect("the sample model is valid")
}

/// A second shape: 4 → 8 (tanh) → 1 (identity), scale 2^8, score in `[-256, 256]`.
pub fn sample_tanh_model(seed: u64) -> QuantizedModel {
    let mut rng = SplitMix64::new(seed);
    let s = 8;
    let layers = vec![
        random_layer(&mut rng, 4, 8, 1 << s, 1 << (2 * s - 1), Activation::Tanh),
        random_layer(&mut rng, 8, 1, 1 << (s - 2), 1 << (2 * s - 2), Activation::Identity),
    ];
    QuantizedModel::new(s, 4, layers, ScoreRange { min: -(1 << s), max: 1 << s })
        .expect("the sample model is valid")
}

/// The reference policy for [`sample_model`]: half the score range earns nothing; above it,
/// 0.001 token plus 10^13 wei per point, capped at 0.02 tokens (18 decimals); 1,000 tokens per
/// batch.
pub fn sample_policy() -> Policy {
    Policy {
        threshold: 2048,
        base_reward: 1_000_000_000_000_000,
        reward_per_point: 10_000_000_000_000,
        cap: 20_000_000_000_000_000,
        batch_budget: 1_000_000_000_000_000_000_000,
    }
}

/// Random features of width `dim`, each in `±feature_max`.
pub fn random_features(rng: &mut SplitMix64, dim: usize, feature_max: i16) -> Vec<i16> {
    let m = i64::from(feature_max);
    (0..dim).map(|_| rng.range(-m, m) as i16).collect()
}

/// Signed contributions for `(signer seed, first nonce, count)` entries, sorted by
/// `(contributor, nonce)` as a batch requires.
pub fn sample_contributions(
    rng: &mut SplitMix64,
    domain: &MeritDomain,
    dim: usize,
    entries: &[(u64, u64, usize)],
) -> Vec<SignedContribution> {
    let mut out: Vec<SignedContribution> = entries
        .iter()
        .flat_map(|&(seed, first_nonce, count)| {
            let signer = dev_signer(seed);
            (0..count)
                .map(|i| {
                    let contribution = Contribution {
                        contributor: signer.address(),
                        task_id: rng.next_u64() % 1_000_000,
                        nonce: first_nonce + i as u64,
                        features: random_features(rng, dim, 4096),
                        payload_hash: rng.bytes32(),
                    };
                    sign(&signer, domain, contribution)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|s| (s.contribution.contributor, s.contribution.nonce));
    out
}

/// Every golden vector, as `(path relative to the golden directory, JSON)`.
pub fn golden_vectors() -> Vec<(String, serde_json::Value)> {
    use crate::{
        vectors::{BatchVector, ClaimTreeVector, Eip712Vector},
        Batch, State, TouchedAccount,
    };
    let to_json = |v: &dyn erased::Json| v.json();
    let domain = dev_domain();
    let mut out = Vec::new();

    // Two chained batches at depth 8 with the reference model: N = 8, M = 4.
    let model = sample_model(1);
    let policy = sample_policy();
    let mut rng = SplitMix64::new(100);
    let b1 =
        sample_contributions(&mut rng, &domain, 16, &[(1, 1, 3), (2, 1, 2), (3, 1, 1), (4, 1, 2)]);
    let v1 = BatchVector::build(
        "depth 8, 16-32-1 relu/sigmoid model, 8 contributions from 4 new accounts",
        domain,
        model.clone(),
        policy,
        State::new(8).expect("depth 8"),
        Batch { batch_id: 1, contributions: b1 },
    )
    .expect("valid batch");
    let b2 =
        sample_contributions(&mut rng, &domain, 16, &[(2, 3, 3), (4, 3, 1), (5, 1, 2), (6, 1, 2)]);
    let v2 = BatchVector::build(
        "depth 8, the batch after batch_d8_1: 2 existing and 2 new accounts, 8 contributions",
        domain,
        model,
        policy,
        v1.new_state.clone(),
        Batch { batch_id: 2, contributions: b2 },
    )
    .expect("valid batch");

    // Depth 24 (the production shape) with the tanh model: N = 6, M = 3.
    let tanh = sample_tanh_model(2);
    let tanh_policy = Policy {
        threshold: 100,
        base_reward: 500,
        reward_per_point: 3,
        cap: 1_000,
        batch_budget: 10_000,
    };
    let b3 = sample_contributions(&mut rng, &domain, 4, &[(7, 1, 2), (8, 5, 3), (9, 2, 1)]);
    let v3 = BatchVector::build(
        "depth 24, 4-8-1 tanh/identity model, signed score range, 6 contributions from 3 accounts",
        domain,
        tanh,
        tanh_policy,
        State::new(24).expect("depth 24"),
        Batch { batch_id: 1, contributions: b3 },
    )
    .expect("valid batch");
    out.push(("batch_d8_1.json".to_owned(), to_json(&v1)));
    out.push(("batch_d8_2.json".to_owned(), to_json(&v2)));
    out.push(("batch_d24_tanh.json".to_owned(), to_json(&v3)));

    // Claim trees of every shape up to 9 leaves, and a 64-leaf one.
    let trees: Vec<ClaimTreeVector> = [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 64]
        .iter()
        .map(|&n| {
            let mut touched: Vec<TouchedAccount> = (0..n)
                .map(|i| TouchedAccount {
                    address: Address::from_slice(&rng.bytes32()[..20]),
                    cumulative: u128::from(rng.next_u64()) * (i as u128 + 1),
                })
                .collect();
            touched.sort_by_key(|t| t.address);
            ClaimTreeVector::build(touched)
        })
        .collect();
    out.push(("claim_trees.json".to_owned(), serde_json::to_value(&trees).expect("serialisable")));

    // One EIP-712 signature with every intermediate hash.
    let signed = sample_contributions(&mut rng, &domain, 16, &[(1, 42, 1)]).remove(0);
    out.push(("eip712.json".to_owned(), to_json(&Eip712Vector::build(domain, signed))));
    out
}

mod erased {
    pub(super) trait Json {
        fn json(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serialisable")
        }
    }
}

/// Reads a golden batch vector of this checkout (`fixtures/golden/<name>`), for tests.
pub fn golden_batch(name: &str) -> crate::vectors::BatchVector {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate::vectors::GOLDEN_DIR)
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a batch vector: {e}", path.display()))
}
