//! Bad input: each case gets its specific 4xx code and stores nothing.

use alloy_primitives::{Address, Signature, U256};
use axum::http::{Method, StatusCode};
use merit_core::{samples, MeritDomain, SignedContribution};
use merit_sequencer::store::{Contributions, Nonces, Pending, Table};
use serde_json::{json, Value};

use crate::{
    call, contribution, dev_node, get, post_json, post_raw, router, signed, signed_under, submit,
};

/// The secp256k1 group order.
const SECP256K1_N: U256 = U256::from_be_bytes([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
]);

fn json_of(signed: &SignedContribution) -> Value {
    serde_json::to_value(signed).unwrap()
}

/// Every malformed, mistyped, mis-signed or mis-sized submission, with its expected answer.
fn cases() -> Vec<(&'static str, Vec<u8>, StatusCode, &'static str)> {
    let good = json_of(&signed(1, 1));
    let body = |value: Value| serde_json::to_vec(&value).unwrap();
    let with = |pointer: &str, value: Value| {
        let mut v = good.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        body(v)
    };
    let without = |parent: &str, field: &str| {
        let mut v = good.clone();
        v.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(field);
        body(v)
    };
    let adding = |parent: &str, field: &str| {
        let mut v = good.clone();
        v.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(field.into(), json!(1));
        body(v)
    };

    // Signed, then changed: recovers to someone else.
    let mut tampered = signed(1, 1);
    tampered.contribution.task_id += 1;
    // Signed by key 2 for key 1's address.
    let mut c = contribution(1, 1, 16);
    c.contributor = samples::dev_signer(1).address();
    let by_other_key = samples::sign(&samples::dev_signer(2), &samples::dev_domain(), c);
    // The malleable twin of a valid signature: (r, n - s, !v).
    let valid = signed(1, 1);
    let high_s = SignedContribution {
        signature: Signature::new(
            valid.signature.r(),
            SECP256K1_N - valid.signature.s(),
            !valid.signature.v(),
        ),
        ..valid.clone()
    };
    // r = 0 recovers to no key.
    let unrecoverable = SignedContribution {
        signature: Signature::new(U256::ZERO, U256::from(1), false),
        ..valid.clone()
    };
    let dev = samples::dev_domain();
    let other_chain = MeritDomain { chain_id: 1, ..dev };
    let other_rollup = MeritDomain { verifying_contract: Address::repeat_byte(0x11), ..dev };
    // Features of width 15, correctly signed.
    let mut narrow = contribution(1, 1, 15);
    narrow.contributor = samples::dev_signer(1).address();
    let narrow = samples::sign(&samples::dev_signer(1), &dev, narrow);
    // Over the 64 KiB limit, still valid JSON.
    let mut oversized = serde_json::to_vec(&good).unwrap();
    oversized.splice(1..1, std::iter::repeat_n(b' ', 70 * 1024));

    vec![
        ("empty body", vec![], StatusCode::BAD_REQUEST, "malformed_json"),
        ("not JSON", b"hello".to_vec(), StatusCode::BAD_REQUEST, "malformed_json"),
        (
            "truncated JSON",
            b"{\"contribution\": {".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        ("an array", b"[1, 2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_type"),
        (
            "nonce as a string",
            with("/contribution/nonce", json!("1")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "features as an object",
            with("/contribution/features", json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "feature out of i16",
            with("/contribution/features/0", json!(40000)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            "negative task id",
            with("/contribution/task_id", json!(-1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            "bad address",
            with("/contribution/contributor", json!("0xzz")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            "short payload hash",
            with("/contribution/payload_hash", json!("0x12")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            "missing signature",
            without("", "signature"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "missing nonce",
            without("/contribution", "nonce"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "unknown top-level field",
            adding("", "extra"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
        (
            "unknown nested field",
            adding("/contribution", "reward"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
        ("oversized body", oversized, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        (
            "tampered after signing",
            body(json_of(&tampered)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature_mismatch",
        ),
        (
            "signed by another key",
            body(json_of(&by_other_key)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature_mismatch",
        ),
        ("high s", body(json_of(&high_s)), StatusCode::UNPROCESSABLE_ENTITY, "signature_malleable"),
        (
            "unrecoverable signature",
            body(json_of(&unrecoverable)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature_invalid",
        ),
        (
            "wrong chain id",
            body(json_of(&signed_under(1, 1, &other_chain))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature_mismatch",
        ),
        (
            "wrong rollup",
            body(json_of(&signed_under(1, 1, &other_rollup))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature_mismatch",
        ),
        (
            "wrong feature width",
            body(json_of(&narrow)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "feature_width",
        ),
        ("nonce zero", body(json_of(&signed(1, 0))), StatusCode::CONFLICT, "nonce_too_low"),
    ]
}

#[tokio::test]
async fn every_bad_submission_gets_its_code_and_stores_nothing() {
    let (node, store) = dev_node();
    let app = router(&node);
    for (name, body, status, code) in cases() {
        let (actual, answer) = post_raw(&app, body).await;
        assert_eq!((actual, answer["code"].as_str()), (status, Some(code)), "{name}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {answer}");
        assert_eq!(answer.as_object().unwrap().len(), 2, "{name}: only code and message: {answer}");
    }
    // The high-s twin is the same signature: its normal form is accepted.
    assert_eq!(submit(&app, &signed(1, 1)).await.0, StatusCode::ACCEPTED);
    assert_eq!(store.len(Contributions::NAME), 1);
    assert_eq!(store.len(Pending::NAME), 1);
    node.shutdown().await;

    let (node, store) = dev_node();
    let app = router(&node);
    let (_, answer) = call(
        &app,
        Method::POST,
        "/v1/contributions",
        Some(("", serde_json::to_vec(&json_of(&signed(1, 1))).unwrap())),
    )
    .await;
    assert_eq!(answer["code"], "unsupported_media_type");
    let (_, answer) = call(
        &app,
        Method::POST,
        "/v1/contributions",
        Some(("text/plain", serde_json::to_vec(&json_of(&signed(1, 1))).unwrap())),
    )
    .await;
    assert_eq!(answer["code"], "unsupported_media_type");
    for name in [Contributions::NAME, Pending::NAME, Nonces::NAME] {
        assert_eq!(store.len(name), 0, "{name}");
    }
    let (_, status) = get(&app, "/v1/status").await;
    assert_eq!(status["pending"], 0);
    node.shutdown().await;
}

#[tokio::test]
async fn replayed_and_lower_nonces_are_conflicts() {
    let (node, store) = dev_node();
    let app = router(&node);
    let five = signed(1, 5);
    assert_eq!(submit(&app, &five).await.0, StatusCode::ACCEPTED);

    // The same contribution again.
    let (status, answer) = submit(&app, &five).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("nonce_replayed")),
        "{answer}"
    );
    // Different content, same nonce.
    let mut other = contribution(1, 5, 16);
    other.task_id += 1;
    let other = samples::sign(&samples::dev_signer(1), &samples::dev_domain(), other);
    let (status, answer) = submit(&app, &other).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("nonce_replayed")),
        "{answer}"
    );
    // Lower nonce (out of order).
    let (status, answer) = submit(&app, &signed(1, 3)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("nonce_too_low")),
        "{answer}"
    );
    assert!(answer["message"].as_str().unwrap().contains("last accepted nonce 5"), "{answer}");

    // Still a conflict once batched: nonces count pending and settled alike.
    node.sequencer().seal_now().unwrap();
    let (status, answer) = submit(&app, &signed(1, 4)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("nonce_too_low")),
        "{answer}"
    );
    let (status, answer) = submit(&app, &five).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("nonce_replayed")),
        "{answer}"
    );
    assert_eq!(store.len(Contributions::NAME), 1);

    // Gaps are fine: the next nonce only has to be higher.
    assert_eq!(submit(&app, &signed(1, 9)).await.0, StatusCode::ACCEPTED);
    assert_eq!(post_json(&app, &json_of(&signed(1, 10))).await.0, StatusCode::ACCEPTED);
    assert_eq!(store.len(Contributions::NAME), 3);
    node.shutdown().await;
}
