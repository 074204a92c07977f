//! The Solidity verifier of a configuration's verifying key, generated with snark-verifier
//! (SHPLONK, keccak transcript), as `merit verifier generate` writes it to
//! `verifier-contracts/src/generated/`.
//!
//! The generated contract takes calldata `instances (32-byte words) ‖ proof`, returns on a valid
//! proof and reverts otherwise. It is never edited by hand: a test regenerates it from the
//! committed configuration and the development SRS and fails when the committed file differs.

use std::rc::Rc;

use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fq, Fr, G1Affine},
    plonk::VerifyingKey,
    poly::{commitment::ParamsProver, kzg::commitment::ParamsKZG},
};
use snark_verifier_sdk::{
    snark_verifier::{
        loader::evm::EvmLoader,
        system::halo2::{compile, transcript::evm::EvmTranscript, Config},
        verifier::SnarkVerifier,
    },
    PlonkVerifier, SHPLONK,
};

/// The Solidity source of the verifier for `vk` with `num_instances` public instances.
pub fn verifier_solidity(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> String {
    let protocol = compile(params, vk, Config::kzg().with_num_instance(vec![num_instances]));
    let deciding_key = (params.get_g()[0], params.g2(), params.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![num_instances]);
    let proof =
        PlonkVerifier::<SHPLONK>::read_proof(&deciding_key, &protocol, &instances, &mut transcript)
            .expect("the verifier reads a proof of its own protocol");
    PlonkVerifier::<SHPLONK>::verify(&deciding_key, &protocol, &instances, &proof)
        .expect("the verifier verifies its own protocol");
    // solc 0.8.37 compiles the generated code (without the optimizer); relax the exact pragma so
    // the project needs one compiler.
    loader.solidity_code().replace("pragma solidity 0.8.19;", "pragma solidity ^0.8.19;")
}
