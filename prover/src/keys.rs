//! Proving and verifying keys of a circuit configuration, cached on disk.
//!
//! A key directory holds, per configuration `NAME`:
//! - `NAME.circuit.json`: the circuit's shape (`MeritCircuitParams`), halo2-base's break points,
//!   a fingerprint of everything the keys depend on (configuration, model shape, SRS, this
//!   crate's version) and the keccak256 of the proving-key file;
//! - `NAME.pk`: the proving key (halo2 raw bytes; it contains the verifying key).
//!
//! Keys are generated once (`keygen` builds the circuit on a deterministic sample batch of the
//! configuration's shape) and loaded afterwards. A missing file means "generate"; a file that
//! does not parse, whose checksum does not match, or whose fingerprint belongs to another
//! configuration or SRS is an error that names the file — never silently regenerated, because a
//! deployed verifier is bound to these keys.

use std::{
    fs,
    io::{BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

use alloy_primitives::{hex, keccak256, B256};
use halo2_base::{
    gates::{circuit::CircuitBuilderStage, flex_gate::MultiPhaseThreadBreakPoints},
    halo2_proofs::{
        halo2curves::bn256::G1Affine,
        plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey},
        SerdeFormat,
    },
};
use merit_circuits::{
    batch::build_batch_circuit,
    builder::{MeritCircuitBuilder, MeritCircuitParams},
    config::{sample_batch, LoadedConfig},
};
use serde::{Deserialize, Serialize};

use crate::{srs::Srs, ProverError};

/// The key format; bump when the circuit's layout changes in a way the fingerprint cannot see.
const KEY_FORMAT: &str = "merit-keys/1";

/// The environment variable halo2 (halo2-axiom and halo2-axiom-gpu alike) caps every
/// constraint system's degree with, 5 when unset.
pub const MAX_DEGREE: &str = "MAX_DEGREE";

/// Refuses a `MAX_DEGREE` (its value, if set) other than halo2's default 5: the cap is read
/// whenever a constraint system is configured, so another value changes the keys a process
/// makes, and keys read from disk no longer match the circuit (proofs that fail, or no keys).
pub fn check_max_degree(value: Option<&std::ffi::OsStr>) -> Result<(), ProverError> {
    match value {
        None => Ok(()),
        Some(value) if value.to_str().map(str::trim) == Some("5") => Ok(()),
        Some(value) => Err(ProverError::Environment {
            variable: MAX_DEGREE,
            value: value.to_string_lossy().into_owned(),
            reason: "halo2 caps the constraint system's degree with it, so keys and proofs \
                     would not be those of Merit's circuits; unset it (or set it to 5)"
                .into(),
        }),
    }
}

/// What `NAME.circuit.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CircuitFile {
    format: String,
    fingerprint: B256,
    proving_key_keccak: B256,
    params: MeritCircuitParams,
    break_points: MultiPhaseThreadBreakPoints,
}

/// The keys of one configuration, ready to prove.
#[derive(Debug)]
pub struct BatchKeys {
    /// The configuration.
    pub config: LoadedConfig,
    /// The circuit's shape.
    pub params: MeritCircuitParams,
    /// halo2-base's break points for the prover stage.
    pub break_points: MultiPhaseThreadBreakPoints,
    /// The proving key.
    pub pk: ProvingKey<G1Affine>,
    /// Whether they were generated now (rather than loaded).
    pub generated: bool,
}

impl BatchKeys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }
}

/// A directory of cached keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

/// Everything the keys depend on, hashed.
pub fn fingerprint(config: &LoadedConfig, srs: &Srs) -> B256 {
    let mut described = serde_json::json!({
        "format": KEY_FORMAT,
        "crate": env!("CARGO_PKG_VERSION"),
        "config": {
            "name": config.config.name,
            "k": config.config.k,
            "lookup_bits": config.config.lookup_bits,
        },
        "shape": config.shape,
        "srs": srs.fingerprint(),
    });
    // Only when not the default, so the keys of configurations without them keep their
    // fingerprint.
    if let Some(degree) = config.config.min_degree {
        described["config"]["min_degree"] = degree.into();
    }
    if !config.config.poseidon_layout.is_narrow() {
        described["config"]["poseidon_layout"] = serde_json::json!(config.config.poseidon_layout);
    }
    keccak256(described.to_string())
}

impl KeyStore {
    /// A key store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The circuit description file of `name`.
    pub fn circuit_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.circuit.json"))
    }

    /// The proving-key file of `name`.
    pub fn pk_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pk"))
    }

    /// Loads the keys of `config`, or generates and stores them when none exist.
    pub fn load_or_generate(
        &self,
        config: &LoadedConfig,
        srs: &Srs,
    ) -> Result<BatchKeys, ProverError> {
        let name = &config.config.name;
        if self.circuit_path(name).exists() || self.pk_path(name).exists() {
            return self.load(config, srs);
        }
        let keys = keygen(config, srs)?;
        self.store(&keys, srs)?;
        Ok(keys)
    }

    /// Loads the stored keys of `config`, checking they were made for it and for `srs`.
    pub fn load(&self, config: &LoadedConfig, srs: &Srs) -> Result<BatchKeys, ProverError> {
        check_max_degree(std::env::var_os(MAX_DEGREE).as_deref())?;
        let name = &config.config.name;
        let circuit_path = self.circuit_path(name);
        let text = fs::read_to_string(&circuit_path).map_err(|source| {
            ProverError::io(format!("cannot read {}", circuit_path.display()), source)
        })?;
        let file: CircuitFile = serde_json::from_str(&text).map_err(|e| {
            ProverError::CorruptKey { path: circuit_path.clone(), reason: e.to_string() }
        })?;
        let expected = fingerprint(config, srs);
        if file.format != KEY_FORMAT || file.fingerprint != expected {
            return Err(ProverError::KeyMismatch {
                path: circuit_path,
                expected,
                found: file.fingerprint,
            });
        }
        let pk_path = self.pk_path(name);
        let bytes = fs::read(&pk_path).map_err(|source| {
            ProverError::io(format!("cannot read {}", pk_path.display()), source)
        })?;
        if keccak256(&bytes) != file.proving_key_keccak {
            return Err(ProverError::CorruptKey {
                path: pk_path,
                reason: format!(
                    "checksum {} does not match {} in {}",
                    hex::encode(keccak256(&bytes)),
                    hex::encode(file.proving_key_keccak),
                    circuit_path.display()
                ),
            });
        }
        let pk = ProvingKey::read::<_, MeritCircuitBuilder>(
            &mut BufReader::new(bytes.as_slice()),
            SerdeFormat::RawBytes,
            file.params.clone(),
        )
        .map_err(|e| ProverError::CorruptKey { path: pk_path, reason: e.to_string() })?;
        Ok(BatchKeys {
            config: config.clone(),
            params: file.params,
            break_points: file.break_points,
            pk,
            generated: false,
        })
    }

    fn store(&self, keys: &BatchKeys, srs: &Srs) -> Result<(), ProverError> {
        let name = &keys.config.config.name;
        fs::create_dir_all(&self.dir).map_err(|source| {
            ProverError::io(format!("cannot create {}", self.dir.display()), source)
        })?;
        let mut bytes = Vec::new();
        keys.pk
            .write(&mut bytes, SerdeFormat::RawBytes)
            .map_err(|source| ProverError::io("cannot serialize the proving key".into(), source))?;
        let file = CircuitFile {
            format: KEY_FORMAT.into(),
            fingerprint: fingerprint(&keys.config, srs),
            proving_key_keccak: keccak256(&bytes),
            params: keys.params.clone(),
            break_points: keys.break_points.clone(),
        };
        write_atomically(&self.pk_path(name), &bytes)?;
        let json = serde_json::to_vec_pretty(&file).expect("the circuit file serializes");
        write_atomically(&self.circuit_path(name), &json)
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a key.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ProverError> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(fs::File::create(&tmp)?);
        out.write_all(bytes)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|source| ProverError::io(format!("cannot write {}", path.display()), source))
}

/// Generates the keys of `config` with `srs` (the circuit built on a sample batch).
pub fn keygen(config: &LoadedConfig, srs: &Srs) -> Result<BatchKeys, ProverError> {
    check_max_degree(std::env::var_os(MAX_DEGREE).as_deref())?;
    let k = config.config.k as u32;
    if srs.k() != k {
        return Err(ProverError::SrsSize { srs: srs.k(), k });
    }
    let vector = sample_batch(config).map_err(ProverError::Config)?;
    let mut builder = MeritCircuitBuilder::for_config(CircuitBuilderStage::Keygen, config);
    build_batch_circuit(&mut builder, &config.shape, &vector)
        .map_err(|e| ProverError::Config(e.into()))?;
    let params = builder.calculate_params();
    let vk = keygen_vk(srs.params(), &builder).map_err(|e| ProverError::halo2("keygen", e))?;
    let pk = keygen_pk(srs.params(), vk, &builder).map_err(|e| ProverError::halo2("keygen", e))?;
    let break_points = builder.base.break_points();
    Ok(BatchKeys { config: config.clone(), params, break_points, pk, generated: true })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn a_max_degree_other_than_halo2s_default_is_refused() {
        assert!(check_max_degree(None).is_ok());
        assert!(check_max_degree(Some(OsStr::new("5"))).is_ok());
        for value in ["4", "6", "", "five"] {
            let err = check_max_degree(Some(OsStr::new(value))).unwrap_err();
            assert!(
                matches!(&err, ProverError::Environment { variable: MAX_DEGREE, value: v, .. } if v == value),
                "{value}: {err}"
            );
            assert!(err.to_string().contains("MAX_DEGREE"), "{err}");
        }
    }
}
