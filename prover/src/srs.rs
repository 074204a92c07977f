//! The KZG structured reference string (halo2's `ParamsKZG<Bn256>`).
//!
//! Production provers load a real SRS from a file (`--srs`): the halo2 "raw" params format that
//! PSE's and Axiom's tooling write, converted from a public powers-of-tau ceremony (for example
//! the Perpetual Powers of Tau transcripts, converted with PSE's `halo2-kzg-srs` tool, or Axiom's
//! published `kzg_bn254_{k}.srs` files). A file for `2^K` points serves every circuit with
//! `k ≤ K` (it is downsized on load).
//!
//! Tests and the demo use a **development SRS**: generated from a fixed seed, so its toxic waste
//! is public and anyone can forge proofs against it. It announces itself on stderr every time it
//! is made.

use std::{
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom, Write},
    path::Path,
};

use alloy_primitives::{keccak256, B256};
use halo2_base::halo2_proofs::{
    halo2curves::{bn256::Bn256, group::GroupEncoding},
    poly::{
        commitment::{Params, ParamsProver},
        kzg::commitment::ParamsKZG,
    },
    SerdeFormat,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

use crate::ProverError;

/// Where an SRS came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrsOrigin {
    /// Read from this file.
    File(std::path::PathBuf),
    /// The insecure development SRS.
    Development,
}

/// A KZG SRS for circuits of `2^k` rows.
#[derive(Debug, Clone)]
pub struct Srs {
    params: ParamsKZG<Bn256>,
    origin: SrsOrigin,
}

/// The largest `k` a file may claim (BN254's two-adicity allows 28).
const MAX_K: u32 = 28;

/// Bytes of a raw SRS of `2^k` points: the header, `g` and `g_lagrange` (64 bytes a point) and
/// two G2 points (128 bytes each).
fn raw_size(k: u32) -> u64 {
    4 + 128 * (1u64 << k) + 256
}

/// The fixed seed of the development SRS.
const DEVELOPMENT_SEED: [u8; 32] = *b"merit development srs, insecure!";

impl Srs {
    /// Reads an SRS file (halo2 raw params format) and downsizes it to `2^k` points.
    pub fn load(path: &Path, k: u32) -> Result<Self, ProverError> {
        let not_srs = |why: String| {
            ProverError::io(
                format!("{} is not a halo2 KZG SRS file", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidData, why),
            )
        };
        let mut file = File::open(path).map_err(|source| {
            ProverError::io(format!("cannot open SRS {}", path.display()), source)
        })?;
        // halo2's reader trusts the header (it allocates 2^k points and panics on a shift
        // overflow), so check the header against the file size first.
        let size = file
            .metadata()
            .map_err(|source| ProverError::io(format!("cannot stat {}", path.display()), source))?
            .len();
        let mut header = [0u8; 4];
        file.read_exact(&mut header).map_err(|_| not_srs(format!("{size} bytes")))?;
        let found = u32::from_le_bytes(header);
        if found > MAX_K || size != raw_size(found) {
            return Err(not_srs(format!(
                "header says k = {found}, file has {size} bytes (a raw SRS of 2^k points has \
                 4 + 128 · 2^k + 256)"
            )));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|source| ProverError::io(format!("cannot read {}", path.display()), source))?;
        let mut params =
            ParamsKZG::<Bn256>::read_custom(&mut BufReader::new(file), SerdeFormat::RawBytes)
                .map_err(|e| not_srs(e.to_string()))?;
        if params.k() < k {
            return Err(ProverError::SrsTooSmall { path: path.to_owned(), found: params.k(), k });
        }
        if params.k() > k {
            params.downsize(k);
        }
        Ok(Self { params, origin: SrsOrigin::File(path.to_owned()) })
    }

    /// Writes the SRS in the format [`Srs::load`] reads.
    pub fn write(&self, path: &Path) -> Result<(), ProverError> {
        let write = || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(File::create(path)?);
            self.params.write_custom(&mut out, SerdeFormat::RawBytes)?;
            out.flush()
        };
        write()
            .map_err(|source| ProverError::io(format!("cannot write {}", path.display()), source))
    }

    /// The development SRS for `2^k` points: deterministic and **insecure**.
    pub fn development(k: u32) -> Self {
        eprintln!(
            "WARNING: using the deterministic DEVELOPMENT SRS (k = {k}); its secret is public and \
             proofs made with it can be forged. Pass --srs with a ceremony SRS for real use."
        );
        tracing::warn!(k, "development SRS: insecure, for tests and the demo only");
        let params = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(DEVELOPMENT_SEED));
        Self { params, origin: SrsOrigin::Development }
    }

    /// The halo2 params.
    pub fn params(&self) -> &ParamsKZG<Bn256> {
        &self.params
    }

    /// `log2` of the number of points.
    pub fn k(&self) -> u32 {
        self.params.k()
    }

    /// Where it came from.
    pub fn origin(&self) -> &SrsOrigin {
        &self.origin
    }

    /// An identifier of the SRS (its first two G1 points and `s·G2`), so keys made with one SRS
    /// are never used with another.
    pub fn fingerprint(&self) -> B256 {
        let mut bytes = Vec::new();
        for point in &self.params.get_g()[..2] {
            bytes.extend_from_slice(point.to_bytes().as_ref());
        }
        bytes.extend_from_slice(self.params.s_g2().to_bytes().as_ref());
        bytes.extend_from_slice(&self.params.k().to_le_bytes());
        keccak256(bytes)
    }
}
