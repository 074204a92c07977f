//! Conversions between protocol values and the BN254 scalar field `Fr`.
//!
//! Every value that enters a Poseidon hash goes through one of these functions, so the circuit
//! and the native code agree on the encoding:
//! - signed integers map to `x mod p` (negative values become `p - |x|`);
//! - addresses are the 160-bit big-endian integer;
//! - 32-byte hashes are split into two 128-bit big-endian limbs `(hi, lo)`;
//! - field elements serialise as `0x`-prefixed 32-byte big-endian hex, the same bytes as a
//!   Solidity `uint256`.

use alloy_primitives::{Address, B256, U256};
use halo2curves::{bn256::Fr, ff::PrimeField};

/// A signed integer as a field element (`x mod p`).
pub fn fr_from_i64(x: i64) -> Fr {
    if x >= 0 {
        Fr::from(x as u64)
    } else {
        -Fr::from(x.unsigned_abs())
    }
}

/// An unsigned 128-bit integer as a field element.
pub fn fr_from_u128(x: u128) -> Fr {
    Fr::from_u128(x)
}

/// An address as the 160-bit big-endian integer it encodes.
pub fn fr_from_address(address: Address) -> Fr {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(address.as_slice());
    fr_from_be_bytes(&word).expect("a 160-bit integer is below the modulus")
}

/// A 32-byte word split into its high and low 128-bit halves (big-endian), each a field element.
pub fn fr_limbs_from_b256(word: B256) -> (Fr, Fr) {
    let hi = u128::from_be_bytes(word[..16].try_into().expect("16 bytes"));
    let lo = u128::from_be_bytes(word[16..].try_into().expect("16 bytes"));
    (Fr::from_u128(hi), Fr::from_u128(lo))
}

/// The canonical field element with this big-endian encoding, or `None` if it is not below the
/// modulus.
pub fn fr_from_be_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let mut le = *bytes;
    le.reverse();
    Option::from(Fr::from_repr(le))
}

/// The 32-byte big-endian encoding of a field element (a Solidity `uint256`).
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    let mut bytes = x.to_repr();
    bytes.reverse();
    bytes
}

/// A field element as a `bytes32`.
pub fn fr_to_b256(x: &Fr) -> B256 {
    B256::from(fr_to_be_bytes(x))
}

/// A field element as a `uint256`.
pub fn fr_to_u256(x: &Fr) -> U256 {
    U256::from_be_bytes(fr_to_be_bytes(x))
}

/// Serde for `Fr` as a `0x`-prefixed 32-byte big-endian hex string; rejects non-canonical values.
pub mod serde_fr {
    use super::{fr_from_be_bytes, fr_to_b256};
    use alloy_primitives::B256;
    use halo2curves::bn256::Fr;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    /// Serialise as hex.
    pub fn serialize<S: Serializer>(x: &Fr, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fr_to_b256(x).to_string())
    }

    /// Deserialise from hex, rejecting values at or above the modulus.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
        let word = B256::deserialize(d)?;
        fr_from_be_bytes(&word.0).ok_or_else(|| D::Error::custom("not a canonical BN254 scalar"))
    }
}

/// Serde for `Vec<Fr>` as a list of hex strings.
pub mod serde_fr_vec {
    use halo2curves::bn256::Fr;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Hex(#[serde(with = "super::serde_fr")] Fr);

    /// Serialise as a list of hex strings.
    pub fn serialize<S: Serializer>(xs: &[Fr], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(xs.iter().map(|x| Hex(*x)))
    }

    /// Deserialise from a list of hex strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fr>, D::Error> {
        Ok(Vec::<Hex>::deserialize(d)?.into_iter().map(|h| h.0).collect())
    }
}

/// Serde for `u128` amounts as decimal strings (JSON numbers lose precision above 2^53).
pub mod serde_u128 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    /// Serialise as a decimal string.
    pub fn serialize<S: Serializer>(x: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&x.to_string())
    }

    /// Deserialise from a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| D::Error::custom(format!("invalid amount {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2curves::ff::Field;

    #[test]
    fn signed_integers_wrap_around_the_modulus() {
        assert_eq!(fr_from_i64(-1), -Fr::ONE);
        assert_eq!(fr_from_i64(i64::MIN), -Fr::from(1u64 << 63));
        assert_eq!(fr_from_i64(42) + fr_from_i64(-42), Fr::ZERO);
    }

    #[test]
    fn big_endian_round_trip_and_canonical_check() {
        let x = Fr::from(0x1234_5678u64);
        let bytes = fr_to_be_bytes(&x);
        assert_eq!(bytes[28..], [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(fr_from_be_bytes(&bytes), Some(x));
        assert_eq!(fr_from_be_bytes(&[0xff; 32]), None);
    }

    #[test]
    fn address_and_limbs() {
        let address = Address::repeat_byte(0xab);
        assert_eq!(fr_to_u256(&fr_from_address(address)), U256::from_be_slice(address.as_slice()));
        let word = B256::repeat_byte(0x01);
        let (hi, lo) = fr_limbs_from_b256(word);
        assert_eq!(hi, lo);
        assert_eq!(hi, Fr::from_u128(0x0101_0101_0101_0101_0101_0101_0101_0101));
    }
}
