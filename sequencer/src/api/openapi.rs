//! The OpenAPI 3 document of the API, written by hand and tested against the router's routes.

use serde_json::{json, Value};

fn error_responses(codes: &[(&str, &str)]) -> Value {
    let mut responses = serde_json::Map::new();
    for (status, description) in codes {
        responses.insert(
            (*status).to_owned(),
            json!({
                "description": description,
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
            }),
        );
    }
    Value::Object(responses)
}

fn ok(status: &str, description: &str, schema: Value, errors: &[(&str, &str)]) -> Value {
    let mut responses = error_responses(errors);
    responses[status] = json!({
        "description": description,
        "content": { "application/json": { "schema": schema } }
    });
    responses
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn path_param(name: &str, description: &str, pattern: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "pattern": pattern }
    })
}

/// The OpenAPI 3.0 document served at `GET /v1/openapi.json`.
pub fn openapi() -> Value {
    let hex32 = "^0x[0-9a-fA-F]{64}$";
    let address = "^0x[0-9a-fA-F]{40}$";
    let amount = json!({ "type": "string", "pattern": "^[0-9]+$", "description": "decimal u128" });
    let bytes32 = json!({ "type": "string", "pattern": hex32 });
    let addr = json!({ "type": "string", "pattern": address });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Merit sequencer API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit EIP-712 signed contributions, read batches, accounts and claim proofs. Every error body is { code, message }."
        },
        "paths": {
            "/v1/contributions": { "post": {
                "summary": "Submit a signed contribution; answered once it is durably stored",
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": schema("SignedContribution") } } },
                "responses": ok("202", "Durably stored, pending", schema("Receipt"), &[
                    ("400", "malformed_json, unreadable_body"),
                    ("409", "nonce_replayed, nonce_too_low"),
                    ("413", "body_too_large"),
                    ("415", "unsupported_media_type"),
                    ("422", "missing_field, unknown_field, invalid_type, invalid_length, invalid_value, feature_width, signature_mismatch, signature_malleable, signature_invalid"),
                    ("500", "internal"),
                    ("503", "overloaded, shutting_down"),
                ])
            }},
            "/v1/contributions/{id}": { "get": {
                "summary": "A contribution, its status and batch",
                "parameters": [path_param("id", "Contribution id (EIP-712 signing hash)", hex32)],
                "responses": ok("200", "The contribution", schema("ContributionView"), &[
                    ("400", "invalid_id"), ("404", "contribution_not_found"), ("500", "internal")])
            }},
            "/v1/batches/{id}": { "get": {
                "summary": "A sealed batch with every signature, and its BatchOutput",
                "parameters": [path_param("id", "Batch id", "^[0-9]+$")],
                "responses": ok("200", "The batch", schema("BatchView"), &[
                    ("400", "invalid_batch_id"), ("404", "batch_not_found"), ("500", "internal")])
            }},
            "/v1/accounts/{address}": { "get": {
                "summary": "Cumulative, claimed (0 until L1 sync exists), claimable, nonces, last batch",
                "parameters": [path_param("address", "Contributor address", address)],
                "responses": ok("200", "The account", schema("AccountView"), &[
                    ("400", "invalid_address"), ("404", "account_not_found"), ("500", "internal")])
            }},
            "/v1/accounts/{address}/claim-proof": { "get": {
                "summary": "The exact claim(batchId, account, cumulative, proof) arguments against the latest batch that touched the account",
                "parameters": [path_param("address", "Contributor address", address)],
                "responses": ok("200", "The claim arguments", schema("ClaimProof"), &[
                    ("400", "invalid_address"), ("404", "no_claim"), ("500", "internal")])
            }},
            "/v1/status": { "get": {
                "summary": "Pending count, last sealed batch, state root, commitments",
                "responses": ok("200", "Status", schema("StatusView"), &[])
            }},
            "/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3 document",
                    "content": { "application/json": { "schema": { "type": "object" } } } } }
            }},
            "/health": { "get": {
                "summary": "Liveness; checks the store is readable",
                "responses": ok("200", "Healthy", json!({ "type": "object",
                    "properties": { "status": { "type": "string", "enum": ["ok"] } } }),
                    &[("500", "internal")])
            }},
            "/metrics": { "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "responses": { "200": { "description": "Metrics",
                    "content": { "text/plain": { "schema": { "type": "string" } } } } }
            }}
        },
        "components": { "schemas": {
            "ErrorBody": { "type": "object", "required": ["code", "message"],
                "additionalProperties": false,
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } } },
            "Contribution": { "type": "object", "additionalProperties": false,
                "required": ["contributor", "task_id", "nonce", "features", "payload_hash"],
                "properties": {
                    "contributor": addr,
                    "task_id": { "type": "integer", "format": "int64", "minimum": 0 },
                    "nonce": { "type": "integer", "format": "int64", "minimum": 1 },
                    "features": { "type": "array", "description": "the model's input width",
                        "items": { "type": "integer", "minimum": -32768, "maximum": 32767 } },
                    "payload_hash": bytes32 } },
            "Signature": { "type": "object", "description": "secp256k1 signature, low s",
                "required": ["r", "s", "yParity"],
                "properties": { "r": { "type": "string" }, "s": { "type": "string" },
                    "yParity": { "type": "string" } } },
            "SignedContribution": { "type": "object", "additionalProperties": false,
                "required": ["contribution", "signature"],
                "properties": { "contribution": schema("Contribution"),
                    "signature": schema("Signature") } },
            "Receipt": { "type": "object", "additionalProperties": false,
                "required": ["id", "contributor", "nonce", "seq", "received_at_ms"],
                "properties": { "id": bytes32, "contributor": addr,
                    "nonce": { "type": "integer" }, "seq": { "type": "integer" },
                    "received_at_ms": { "type": "integer" } } },
            "ContributionView": { "type": "object",
                "required": ["id", "seq", "received_at_ms", "status", "batch_id", "contribution"],
                "properties": { "id": bytes32, "seq": { "type": "integer" },
                    "received_at_ms": { "type": "integer" },
                    "status": { "type": "string", "enum": ["pending", "batched", "rejected"] },
                    "batch_id": { "type": "integer", "nullable": true },
                    "rejection": schema("ErrorBody"),
                    "contribution": schema("SignedContribution") } },
            "TouchedAccount": { "type": "object", "required": ["address", "cumulative"],
                "properties": { "address": addr, "cumulative": amount } },
            "BatchOutput": { "type": "object",
                "required": ["prev_root", "new_root", "batch_commitment", "model_commitment",
                    "policy_commitment", "total_reward", "touched", "touched_challenge",
                    "touched_evaluation", "claim_root"],
                "properties": { "prev_root": bytes32, "new_root": bytes32,
                    "batch_commitment": bytes32, "model_commitment": bytes32,
                    "policy_commitment": bytes32, "total_reward": amount,
                    "touched": { "type": "array", "items": schema("TouchedAccount") },
                    "touched_challenge": bytes32, "touched_evaluation": bytes32,
                    "claim_root": bytes32 } },
            "BatchView": { "type": "object", "required": ["batch", "output"],
                "properties": {
                    "batch": { "type": "object", "required": ["batch_id", "contributions"],
                        "properties": { "batch_id": { "type": "integer" },
                            "contributions": { "type": "array",
                                "items": schema("SignedContribution") } } },
                    "output": schema("BatchOutput") } },
            "AccountView": { "type": "object",
                "required": ["address", "cumulative", "claimed", "claimable", "last_nonce",
                    "settled_nonce", "last_batch"],
                "properties": { "address": addr, "cumulative": amount,
                    "claimed": { "type": "string", "description": "always \"0\" until L1 sync exists" },
                    "claimable": amount, "last_nonce": { "type": "integer" },
                    "settled_nonce": { "type": "integer" },
                    "last_batch": { "type": "integer", "nullable": true } } },
            "ClaimProof": { "type": "object",
                "required": ["batch_id", "account", "cumulative", "proof", "claim_root"],
                "properties": { "batch_id": { "type": "integer" }, "account": addr,
                    "cumulative": amount, "proof": { "type": "array", "items": bytes32 },
                    "claim_root": bytes32 } },
            "StatusView": { "type": "object",
                "required": ["pending", "last_batch", "state_root", "accounts",
                    "model_commitment", "policy_commitment", "feature_dim", "chain_id", "rollup",
                    "tree_depth", "max_batch_size", "max_batch_age_ms"],
                "properties": { "pending": { "type": "integer" },
                    "last_batch": { "type": "integer", "nullable": true },
                    "state_root": bytes32, "accounts": { "type": "integer" },
                    "model_commitment": bytes32, "policy_commitment": bytes32,
                    "feature_dim": { "type": "integer" }, "chain_id": { "type": "integer" },
                    "rollup": addr, "tree_depth": { "type": "integer" },
                    "max_batch_size": { "type": "integer" },
                    "max_batch_age_ms": { "type": "integer" } } }
        }}
    })
}
