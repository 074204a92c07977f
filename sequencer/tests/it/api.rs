//! Handler tests through `app(state).oneshot(request)` on the in-memory store.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use merit_core::{samples, ClaimProof};
use merit_sequencer::{
    api::{
        openapi, route_list, AccountView, BatchView, ContributionStatus, ContributionView,
        StatusView,
    },
    store::Contributions,
    Receipt, SealOutcome,
};
use serde_json::Value;

use crate::{call, dev_node, get, id_of, router, signed, submit};

#[tokio::test]
async fn submit_read_seal_and_claim() {
    let (node, _store) = dev_node();
    let app = router(&node);
    let first = signed(1, 1);
    let (status, body) = submit(&app, &first).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let receipt: Receipt = serde_json::from_value(body).unwrap();
    assert_eq!(receipt.id, id_of(&first));
    assert_eq!(receipt.contributor, first.contribution.contributor);
    assert_eq!((receipt.nonce, receipt.seq), (1, 1));

    let (status, body) = get(&app, &format!("/v1/contributions/{}", receipt.id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: ContributionView = serde_json::from_value(body).unwrap();
    assert_eq!(view.status, ContributionStatus::Pending);
    assert_eq!(view.batch_id, None);
    assert_eq!(view.contribution, first);

    let address = first.contribution.contributor;
    let (status, body) = get(&app, &format!("/v1/accounts/{address}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let account: AccountView = serde_json::from_value(body).unwrap();
    assert_eq!((account.last_nonce, account.settled_nonce, account.cumulative), (1, 0, 0));
    assert_eq!(account.last_batch, None);
    let (status, body) = get(&app, &format!("/v1/accounts/{address}/claim-proof")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("no_claim")));

    let (_, body) = get(&app, "/v1/status").await;
    let status_view: StatusView = serde_json::from_value(body).unwrap();
    assert_eq!(status_view.pending, 1);
    assert_eq!(status_view.last_batch, None);
    assert_eq!(status_view.feature_dim, 16);

    // Two more from another key, then seal.
    for nonce in [1, 2] {
        assert_eq!(submit(&app, &signed(2, nonce)).await.0, StatusCode::ACCEPTED);
    }
    let outcome = node.sequencer().seal_now().unwrap();
    assert_eq!(outcome, SealOutcome::Sealed { batch_id: 1, contributions: 3 });

    let (_, body) = get(&app, &format!("/v1/contributions/{}", receipt.id)).await;
    let view: ContributionView = serde_json::from_value(body).unwrap();
    assert_eq!((view.status, view.batch_id), (ContributionStatus::Batched, Some(1)));

    let (status, body) = get(&app, "/v1/batches/1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch: BatchView = serde_json::from_value(body).unwrap();
    assert_eq!(batch.batch.batch_id, 1);
    assert_eq!(batch.batch.contributions.len(), 3);
    for signed in &batch.batch.contributions {
        signed.verify(&samples::dev_domain()).unwrap();
    }

    let (_, body) = get(&app, &format!("/v1/accounts/{address}")).await;
    let account: AccountView = serde_json::from_value(body).unwrap();
    let touched = batch.output.touched.iter().find(|t| t.address == address).unwrap();
    assert_eq!(account.cumulative, touched.cumulative);
    assert_eq!(account.claimable, touched.cumulative);
    assert_eq!(account.claimed, 0);
    assert_eq!((account.settled_nonce, account.last_batch), (1, Some(1)));

    let (status, body) = get(&app, &format!("/v1/accounts/{address}/claim-proof")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let proof: ClaimProof = serde_json::from_value(body).unwrap();
    assert!(proof.verify());
    assert_eq!((proof.batch_id, proof.account, proof.cumulative), (1, address, touched.cumulative));
    assert_eq!(proof.claim_root, batch.output.claim_root);

    let (_, body) = get(&app, "/v1/status").await;
    let status_view: StatusView = serde_json::from_value(body).unwrap();
    assert_eq!((status_view.pending, status_view.last_batch), (0, Some(1)));
    assert_eq!(status_view.accounts, 2);
    assert_eq!(status_view.state_root, merit_core::field::fr_to_b256(&batch.output.new_root));
    node.shutdown().await;
}

#[tokio::test]
async fn lookups_give_precise_codes() {
    let (node, _store) = dev_node();
    let app = router(&node);
    let zero = format!("/v1/contributions/0x{}", "00".repeat(32));
    for (uri, status, code) in [
        (zero.as_str(), StatusCode::NOT_FOUND, "contribution_not_found"),
        ("/v1/contributions/0x1234", StatusCode::BAD_REQUEST, "invalid_id"),
        ("/v1/batches/1", StatusCode::NOT_FOUND, "batch_not_found"),
        ("/v1/batches/one", StatusCode::BAD_REQUEST, "invalid_batch_id"),
        ("/v1/batches/-1", StatusCode::BAD_REQUEST, "invalid_batch_id"),
        (
            "/v1/accounts/0x0000000000000000000000000000000000000001",
            StatusCode::NOT_FOUND,
            "account_not_found",
        ),
        ("/v1/accounts/bob", StatusCode::BAD_REQUEST, "invalid_address"),
        (
            "/v1/accounts/0x0000000000000000000000000000000000000001/claim-proof",
            StatusCode::NOT_FOUND,
            "no_claim",
        ),
        ("/v1/nothing", StatusCode::NOT_FOUND, "route_not_found"),
    ] {
        let (actual, body) = get(&app, uri).await;
        assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "{uri}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: {body}");
    }
    let (status, body) = call(&app, Method::DELETE, "/v1/status", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let (status, body) = get(&app, "/v1/contributions").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_failed_write_is_a_generic_500_and_acknowledges_nothing() {
    let (node, store) = dev_node();
    let app = router(&node);
    store.set_fail_writes(true);
    let contribution = signed(3, 1);
    let (status, body) = submit(&app, &contribution).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "internal");
    let message = body["message"].as_str().unwrap();
    assert!(!message.contains("disabled") && !message.contains("store"), "{message}");
    assert_eq!(store.len(<Contributions as merit_sequencer::store::Table>::NAME), 0);
    assert_eq!(node.sequencer().pending_count(), 0);

    // The nonce was not consumed: the same submission succeeds once writes work again.
    store.set_fail_writes(false);
    let (status, body) = submit(&app, &contribution).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["seq"], 1);
    node.shutdown().await;
}

#[tokio::test]
async fn concurrent_submissions_of_one_nonce_have_one_winner() {
    let (node, store) = dev_node();
    let app = router(&node);
    let mut tasks = Vec::new();
    for variant in 0..8u64 {
        let app = app.clone();
        // Same key and nonce, different content: different ids, one nonce.
        let mut c = crate::contribution(4, 1, 16);
        c.task_id = 10_000 + variant;
        let s = samples::sign(&samples::dev_signer(4), &samples::dev_domain(), c);
        tasks.push(tokio::spawn(async move { submit(&app, &s).await }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        codes.push(if status == StatusCode::ACCEPTED {
            "accepted".to_owned()
        } else {
            body["code"].as_str().unwrap().to_owned()
        });
    }
    assert_eq!(codes.iter().filter(|c| *c == "accepted").count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| c == "accepted" || c == "nonce_replayed"), "{codes:?}");
    assert_eq!(store.len(<Contributions as merit_sequencer::store::Table>::NAME), 1);

    // Several keys at once, each in nonce order: all accepted, sequence numbers dense.
    let mut tasks = Vec::new();
    for seed in 10..14u64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for nonce in 1..=10 {
                let (status, body) = submit(&app, &signed(seed, nonce)).await;
                assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(node.sequencer().pending_count(), 41);
    let (_, body) = get(&app, "/v1/status").await;
    assert_eq!(body["pending"], 41);
    node.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let (node, _store) = dev_node();
    let app = router(&node);
    let (status, body) = get(&app, "/health").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));

    let first = signed(5, 1);
    assert_eq!(submit(&app, &first).await.0, StatusCode::ACCEPTED);
    assert_eq!(submit(&app, &first).await.1["code"], "nonce_replayed");
    node.sequencer().seal_now().unwrap();
    let (status, body) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap();
    for line in [
        "merit_sequencer_submissions_total{outcome=\"accepted\"} 1",
        "merit_sequencer_submissions_total{outcome=\"nonce_replayed\"} 1",
        "merit_sequencer_ack_latency_seconds_count 1",
        "merit_sequencer_batches_sealed_total 1",
        "merit_sequencer_pending_contributions 0",
        "merit_sequencer_last_batch_id 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes() {
    let doc = openapi();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> =
        route_list().into_iter().map(|(p, m)| (p.to_owned(), m.to_owned())).collect();
    assert_eq!(documented, routed);

    // Every documented route is served (not the fallback), and every $ref resolves.
    let (node, _store) = dev_node();
    let app = router(&node);
    for (path, method) in &documented {
        let uri = path
            .replace("{id}", "1")
            .replace("{batch_id}", "1")
            .replace("{address}", "0x0000000000000000000000000000000000000001");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = call(&app, method, &uri, None).await;
        assert!(
            body["code"] != "route_not_found" && body["code"] != "method_not_allowed",
            "{path}: {status} {body}"
        );
    }
    let (status, served) = get(&app, "/v1/openapi.json").await;
    assert_eq!((status, &served), (StatusCode::OK, &doc));
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
    }
    let _: Value = doc;
    node.shutdown().await;
}
