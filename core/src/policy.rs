//! The reward policy: score → reward, with a threshold, a per-contribution cap and a per-batch
//! budget.
//!
//! `reward(score) = 0` if `score < threshold`, else
//! `min(cap, base_reward + reward_per_point · (score - threshold))`.
//! With `|threshold| ≤ 2^48` and scores bounded by the model (`|score| ≤ 2^48`), the
//! intermediate value stays below `2^114`, so the formula is exact in `u128`.
//!
//! Policy parameters are public (their Poseidon commitment is a public instance), so changing
//! the policy needs no new proving keys.

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::{
    field::{fr_from_i64, fr_from_u128, serde_u128},
    poseidon, DomainTag, MAX_CUMULATIVE,
};

/// `|threshold| ≤ 2^THRESHOLD_BITS`.
pub const THRESHOLD_BITS: u32 = 48;

/// How scores turn into rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Scores below this earn nothing.
    pub threshold: i64,
    /// Reward for a score exactly at the threshold.
    pub base_reward: u64,
    /// Reward added per score unit above the threshold.
    pub reward_per_point: u64,
    /// Largest reward of one contribution.
    pub cap: u64,
    /// Largest total reward of one batch.
    #[serde(with = "serde_u128")]
    pub batch_budget: u128,
}

/// Why a policy is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The threshold is out of range.
    #[error("threshold {0} exceeds ±2^{THRESHOLD_BITS}")]
    Threshold(i64),
    /// The budget exceeds what a cumulative balance can hold.
    #[error("batch budget {0} exceeds the largest cumulative balance 2^96 - 1")]
    Budget(u128),
}

impl Policy {
    /// Checks the parameter bounds.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.threshold.unsigned_abs() > 1u64 << THRESHOLD_BITS {
            return Err(PolicyError::Threshold(self.threshold));
        }
        if self.batch_budget > MAX_CUMULATIVE {
            return Err(PolicyError::Budget(self.batch_budget));
        }
        Ok(())
    }

    /// The reward of one contribution with this score.
    pub fn reward(&self, score: i64) -> u128 {
        if score < self.threshold {
            return 0;
        }
        let above = (i128::from(score) - i128::from(self.threshold)) as u128;
        let linear = u128::from(self.base_reward) + u128::from(self.reward_per_point) * above;
        linear.min(u128::from(self.cap))
    }

    /// The field elements hashed into [`Policy::commitment`]:
    /// `[tag, threshold, base_reward, reward_per_point, cap, batch_budget]`.
    pub fn commitment_elements(&self) -> Vec<Fr> {
        vec![
            DomainTag::Policy.fr(),
            fr_from_i64(self.threshold),
            Fr::from(self.base_reward),
            Fr::from(self.reward_per_point),
            Fr::from(self.cap),
            fr_from_u128(self.batch_budget),
        ]
    }

    /// `policy_commitment`: Poseidon over the parameters.
    pub fn commitment(&self) -> Fr {
        poseidon::hash(&self.commitment_elements())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        threshold: 100,
        base_reward: 10,
        reward_per_point: 2,
        cap: 50,
        batch_budget: 1000,
    };

    #[test]
    fn reward_table() {
        for (score, reward) in [
            (-5, 0),
            (99, 0),
            (100, 10),
            (101, 12),
            (119, 48),
            (120, 50),
            (121, 50),
            (i64::MAX, 50),
        ] {
            assert_eq!(POLICY.reward(score), reward, "score {score}");
        }
    }

    #[test]
    fn validation() {
        assert_eq!(POLICY.validate(), Ok(()));
        let p = Policy { threshold: -(1 << 50), ..POLICY };
        assert_eq!(p.validate(), Err(PolicyError::Threshold(-(1 << 50))));
        let p = Policy { batch_budget: 1 << 96, ..POLICY };
        assert_eq!(p.validate(), Err(PolicyError::Budget(1 << 96)));
    }

    #[test]
    fn commitment_binds_every_parameter() {
        let base = POLICY.commitment();
        for p in [
            Policy { threshold: 101, ..POLICY },
            Policy { base_reward: 11, ..POLICY },
            Policy { reward_per_point: 3, ..POLICY },
            Policy { cap: 51, ..POLICY },
            Policy { batch_budget: 1001, ..POLICY },
        ] {
            assert_ne!(p.commitment(), base);
        }
    }

    #[test]
    fn json_uses_decimal_strings_for_the_budget() {
        let json = serde_json::to_value(POLICY).unwrap();
        assert_eq!(json["batch_budget"], "1000");
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, POLICY);
    }
}
