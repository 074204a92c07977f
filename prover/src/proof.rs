//! Proving a batch and verifying the proof natively, with the EVM transcript (keccak
//! Fiat–Shamir, SHPLONK) so the same bytes verify in the generated Solidity verifier.

use std::time::{Duration, Instant};

use alloy_primitives::{Bytes, B256};
use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, verify_proof, VerifyingKey},
    poly::{
        commitment::ParamsProver,
        kzg::{
            commitment::{KZGCommitmentScheme, ParamsKZG},
            multiopen::{ProverSHPLONK, VerifierSHPLONK},
            strategy::SingleStrategy,
        },
    },
    transcript::{TranscriptReadBuffer, TranscriptWriterBuffer},
};
use merit_circuits::{batch::build_batch_circuit, builder::MeritCircuitBuilder};
use merit_core::{
    field::{fr_from_be_bytes, fr_to_b256},
    vectors::BatchVector,
};
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use crate::{keys::BatchKeys, srs::Srs, Backend, ProverError};

/// A proof of one batch with its public instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchProof {
    /// The circuit configuration's name.
    pub config: String,
    /// The batch id.
    pub batch_id: u64,
    /// The public instances, as 32-byte big-endian words (the verifier's calldata order).
    pub instances: Vec<B256>,
    /// The proof bytes (SHPLONK, keccak transcript).
    pub proof: Bytes,
    /// The backend that made it.
    pub backend: Backend,
}

impl BatchProof {
    /// The instances as field elements.
    pub fn instance_values(&self) -> Result<Vec<Fr>, ProverError> {
        self.instances
            .iter()
            .map(|word| {
                fr_from_be_bytes(&word.0).ok_or_else(|| ProverError::BadProof {
                    reason: format!("instance {word} is not a field element"),
                })
            })
            .collect()
    }

    /// The verifier contract's calldata: the instances as words, then the proof.
    pub fn calldata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 * self.instances.len() + self.proof.len());
        for word in &self.instances {
            out.extend_from_slice(word.as_slice());
        }
        out.extend_from_slice(&self.proof);
        out
    }
}

/// How long the phases of [`prove_timed`] took.
#[derive(Debug, Clone, Copy)]
pub struct ProveTimings {
    /// Building the circuit's witness from the batch.
    pub witness: Duration,
    /// `create_proof`.
    pub proof: Duration,
    /// Native verification.
    pub verify: Duration,
}

/// Witness generation: the batch circuit for `vector` assigned in the prover stage (with the
/// keys' break points), and its public instances, checked against the batch output.
pub fn witness(
    keys: &BatchKeys,
    vector: &BatchVector,
) -> Result<(MeritCircuitBuilder, Vec<Fr>), ProverError> {
    let mut builder = MeritCircuitBuilder::prover(keys.params.clone(), keys.break_points.clone());
    let instances = build_batch_circuit(&mut builder, &keys.config.shape, vector)
        .map_err(|e| ProverError::Batch(e.to_string()))?;
    let expected = &vector.public_instances[..instances.len()];
    if instances != expected {
        return Err(ProverError::Batch(
            "the circuit's public instances differ from the batch output".into(),
        ));
    }
    Ok((builder, instances))
}

/// Builds the batch circuit for `vector` in the prover stage and proves it, then verifies the
/// proof natively before returning it.
pub fn prove(srs: &Srs, keys: &BatchKeys, vector: &BatchVector) -> Result<BatchProof, ProverError> {
    prove_timed(srs, keys, vector).map(|(proof, _)| proof)
}

/// [`prove`], and how long each phase took.
pub fn prove_timed(
    srs: &Srs,
    keys: &BatchKeys,
    vector: &BatchVector,
) -> Result<(BatchProof, ProveTimings), ProverError> {
    let start = Instant::now();
    let (builder, instances) = witness(keys, vector)?;
    let witness = start.elapsed();
    let start = Instant::now();
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        _,
        _,
        EvmTranscript<_, _, _, _>,
        _,
    >(
        srs.params(),
        &keys.pk,
        &[builder],
        &[&[&instances]],
        StdRng::from_entropy(),
        &mut transcript,
    )
    .map_err(|e| ProverError::halo2("proving", e))?;
    let proof = BatchProof {
        config: keys.config.config.name.clone(),
        batch_id: vector.batch.batch_id,
        instances: instances.iter().map(fr_to_b256).collect(),
        proof: transcript.finalize().into(),
        backend: Backend::CURRENT,
    };
    let proved = start.elapsed();
    let start = Instant::now();
    verify(srs.params(), keys.vk(), &proof)?;
    Ok((proof, ProveTimings { witness, proof: proved, verify: start.elapsed() }))
}

/// Verifies `proof` natively against `vk`.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    proof: &BatchProof,
) -> Result<(), ProverError> {
    let instances = proof.instance_values()?;
    let verifier_params = params.verifier_params();
    let mut transcript = TranscriptReadBuffer::<_, G1Affine, _>::init(proof.proof.as_ref());
    verify_proof::<_, VerifierSHPLONK<'_, Bn256>, _, EvmTranscript<_, _, _, _>, _>(
        verifier_params,
        vk,
        SingleStrategy::new(params),
        &[&[&instances]],
        &mut transcript,
    )
    .map_err(|e| ProverError::BadProof { reason: format!("verification failed: {e:?}") })
}
