//! `POST /v1/contributions/batch`: each contribution checked on its own, bad bodies refused
//! whole, and a batch that does not fit the writer's queue refused whole.

use axum::{
    http::{Method, StatusCode},
    Router,
};
use merit_core::{samples, SignedContribution};
use merit_sequencer::{
    store::{Contributions, Nonces, Pending, Table},
    MemoryStore, Settings,
};
use serde_json::{json, Value};

use crate::{
    call, contribution, dev_node, dev_node_with, get, id_of, manual_settings, router, signed,
};

const BATCH: &str = "/v1/contributions/batch";

async fn post_batch(app: &Router, body: Vec<u8>) -> (StatusCode, Value) {
    call(app, Method::POST, BATCH, Some(("application/json", body))).await
}

fn batch_body(contributions: &[SignedContribution]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "contributions": contributions })).unwrap()
}

fn stored(store: &MemoryStore) -> [usize; 3] {
    [Contributions::NAME, Pending::NAME, Nonces::NAME].map(|name| store.len(name))
}

#[tokio::test]
async fn each_contribution_of_a_batch_gets_its_own_answer() {
    let (node, store) = dev_node();
    let app = router(&node);
    // Signed, then changed: recovers to someone else.
    let mut tampered = signed(3, 1);
    tampered.contribution.task_id += 1;
    // Correctly signed, one feature short.
    let mut narrow = contribution(4, 1, 15);
    narrow.contributor = samples::dev_signer(4).address();
    let narrow = samples::sign(&samples::dev_signer(4), &samples::dev_domain(), narrow);
    let mut other_first = contribution(1, 1, 16);
    other_first.task_id += 1;
    let other_first = samples::sign(&samples::dev_signer(1), &samples::dev_domain(), other_first);
    let batch = [
        signed(1, 1),
        signed(1, 2), // the same contributor, next nonce: after the first
        tampered,
        narrow,
        signed(1, 1), // the first again, in the same request
        signed(2, 7),
        other_first, // another contribution with the first's nonce
    ];
    let (status, answer) = post_batch(&app, batch_body(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    let results = answer["results"].as_array().unwrap();
    let got: Vec<(u64, Option<&str>)> = results
        .iter()
        .map(|r| (r["status"].as_u64().unwrap(), r["error"]["code"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (202, None),
            (202, None),
            (422, Some("signature_mismatch")),
            (422, Some("feature_width")),
            (409, Some("nonce_replayed")),
            (202, None),
            (409, Some("nonce_too_low")),
        ],
        "{answer}"
    );
    for (i, result) in results.iter().enumerate() {
        if result["status"] == 202 {
            assert_eq!(result["receipt"]["id"], json!(id_of(&batch[i])), "{i}: {result}");
            assert!(result.get("error").is_none(), "{i}: {result}");
            let (status, view) =
                get(&app, &format!("/v1/contributions/{}", id_of(&batch[i]))).await;
            assert_eq!((status, view["status"].as_str()), (StatusCode::OK, Some("pending")));
        } else {
            assert!(result.get("receipt").is_none(), "{i}: {result}");
            assert!(!result["error"]["message"].as_str().unwrap().is_empty(), "{i}: {result}");
        }
    }
    // Receipts carry acknowledgement order: the request's order.
    let seqs: Vec<u64> = [0, 1, 5].map(|i| results[i]["receipt"]["seq"].as_u64().unwrap()).into();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(stored(&store), [3, 3, 2]);
    let (_, status) = get(&app, "/v1/status").await;
    assert_eq!(status["pending"], 3);
    // One contributor's nonces stay ordered across requests too.
    let (_, answer) = post_batch(&app, batch_body(&[signed(2, 7), signed(2, 8)])).await;
    let codes: Vec<Value> =
        answer["results"].as_array().unwrap().iter().map(|r| r["status"].clone()).collect();
    assert_eq!(codes, [json!(409), json!(202)], "{answer}");
    node.shutdown().await;
}

/// A request is checked in runs on several verifier threads: every answer still lands at
/// its contribution's place, and receipts follow the request's order.
#[tokio::test]
async fn a_large_batch_is_answered_in_request_order() {
    let (node, store) = dev_node();
    let app = router(&node);
    let batch: Vec<SignedContribution> = (1..=40)
        .map(|seed| {
            let mut one = signed(seed, 1);
            if seed % 7 == 0 {
                one.contribution.task_id += 1; // recovers to someone else
            }
            one
        })
        .collect();
    let (status, answer) = post_batch(&app, batch_body(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 40);
    let mut last_seq = 0;
    for (i, result) in results.iter().enumerate() {
        if (i + 1) % 7 == 0 {
            assert_eq!(result["error"]["code"], "signature_mismatch", "{i}: {result}");
        } else {
            assert_eq!(result["receipt"]["id"], json!(id_of(&batch[i])), "{i}: {result}");
            let seq = result["receipt"]["seq"].as_u64().unwrap();
            assert!(seq > last_seq, "{i}: seq {seq} after {last_seq}");
            last_seq = seq;
        }
    }
    assert_eq!(answer["accepted"], 35, "{answer}");
    assert_eq!(stored(&store), [35, 35, 35]);
    node.shutdown().await;
}

#[tokio::test]
async fn a_bad_batch_body_is_refused_whole_and_stores_nothing() {
    let (node, store) = dev_node_with(Settings { max_batch_contributions: 3, ..manual_settings() });
    let app = router(&node);
    let good = serde_json::to_value(signed(1, 1)).unwrap();
    let mut mistyped = good.clone();
    mistyped["contribution"]["nonce"] = json!("2");
    let four: Vec<SignedContribution> = (1..=4).map(|n| signed(1, n)).collect();
    // Over the batch route's limit (body_limit × max_batch_contributions), still valid JSON.
    let mut oversized = batch_body(&four[..1]);
    oversized.splice(1..1, std::iter::repeat_n(b' ', 3 * 64 * 1024 + 1));
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "truncated JSON",
            b"{\"contributions\": [".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "a bare array",
            serde_json::to_vec(&json!([good])).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        ("no list", b"{}".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "missing_field"),
        (
            "an unknown field",
            serde_json::to_vec(&json!({ "contributions": [good], "priority": 1 })).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
        (
            "one mistyped contribution among good ones",
            serde_json::to_vec(&json!({ "contributions": [good, mistyped] })).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        ("an empty list", batch_body(&[]), StatusCode::UNPROCESSABLE_ENTITY, "empty_batch"),
        (
            "one too many",
            batch_body(&four),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_contributions",
        ),
        ("over the body limit", oversized, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (name, body, status, code) in cases {
        let (actual, answer) = post_batch(&app, body).await;
        assert_eq!((actual, answer["code"].as_str()), (status, Some(code)), "{name}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {answer}");
    }
    let (_, answer) =
        call(&app, Method::POST, BATCH, Some(("text/plain", batch_body(&four[..1])))).await;
    assert_eq!(answer["code"], "unsupported_media_type");
    assert_eq!(stored(&store), [0, 0, 0]);
    // The limit itself is fine.
    let (status, answer) = post_batch(&app, batch_body(&four[..3])).await;
    assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(3)), "{answer}");
    node.shutdown().await;
}

#[tokio::test]
async fn a_batch_that_does_not_fit_the_queue_is_refused_whole() {
    let (node, store) = dev_node_with(Settings { queue_capacity: 2, ..manual_settings() });
    let app = router(&node);
    // Three valid contributions cannot all enter a queue of two: none does, so a later nonce
    // never gets in ahead of an earlier one.
    let three: Vec<SignedContribution> = (1..=3).map(|n| signed(1, n)).collect();
    let (status, answer) = post_batch(&app, batch_body(&three)).await;
    assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(0)), "{answer}");
    for result in answer["results"].as_array().unwrap() {
        assert_eq!(
            (result["status"].as_u64(), result["error"]["code"].as_str()),
            (Some(503), Some("overloaded"))
        );
    }
    assert_eq!(stored(&store), [0, 0, 0]);
    // Invalid ones take no room: two valid and one bad fit.
    let mut tampered = signed(1, 3);
    tampered.contribution.task_id += 1;
    let (_, answer) = post_batch(&app, batch_body(&[signed(1, 1), tampered, signed(1, 2)])).await;
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(stored(&store), [2, 2, 1]);
    node.shutdown().await;
}
