//! EIP-712 signatures of contributions.

use merit_core::{
    samples::{dev_domain, dev_signer, sample_contributions, SplitMix64},
    MeritDomain, SignatureError,
};

#[test]
fn a_signed_contribution_verifies_under_its_domain_only() {
    let domain = dev_domain();
    let signed = sample_contributions(&mut SplitMix64::new(1), &domain, 16, &[(7, 1, 1)]).remove(0);
    signed.verify(&domain).unwrap();
    assert_eq!(signed.recover_signer(&domain).unwrap(), dev_signer(7).address());

    for other in [
        MeritDomain { chain_id: 1, ..domain },
        MeritDomain { verifying_contract: merit_core::Address::repeat_byte(1), ..domain },
    ] {
        assert!(matches!(signed.verify(&other), Err(SignatureError::WrongSigner { .. })));
    }
}

#[test]
fn any_changed_field_breaks_the_signature() {
    let domain = dev_domain();
    let signed = sample_contributions(&mut SplitMix64::new(2), &domain, 16, &[(3, 5, 1)]).remove(0);
    let mut variants = vec![signed.clone(); 5];
    variants[0].contribution.contributor = dev_signer(4).address();
    variants[1].contribution.task_id += 1;
    variants[2].contribution.nonce += 1;
    variants[3].contribution.features[15] ^= 1;
    variants[4].contribution.payload_hash.0[0] ^= 1;
    for v in variants {
        assert!(v.verify(&domain).is_err(), "{:?}", v.contribution);
    }
}

#[test]
fn high_s_signatures_are_refused() {
    let domain = dev_domain();
    let signed = sample_contributions(&mut SplitMix64::new(3), &domain, 4, &[(1, 1, 1)]).remove(0);
    // (r, n - s, !v) is the malleable twin of a valid signature.
    let n = alloy_primitives::U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let sig = signed.signature;
    let twin = alloy_primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    let malleable = merit_core::SignedContribution { signature: twin, ..signed };
    assert!(matches!(malleable.verify(&domain), Err(SignatureError::HighS)));
}

#[test]
fn signed_contribution_json_round_trip() {
    let domain = dev_domain();
    let signed = sample_contributions(&mut SplitMix64::new(4), &domain, 4, &[(1, 1, 1)]).remove(0);
    let json = serde_json::to_string(&signed).unwrap();
    let back: merit_core::SignedContribution = serde_json::from_str(&json).unwrap();
    assert_eq!(back, signed);
    back.verify(&domain).unwrap();
    let unknown = json.replacen("{", "{\"extra\":1,", 1);
    assert!(serde_json::from_str::<merit_core::SignedContribution>(&unknown).is_err());
}
