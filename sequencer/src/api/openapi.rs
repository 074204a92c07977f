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

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
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
    let l1_status = json!({ "type": "object",
        "description": "present on a node with an L1 submitter",
        "required": ["rollup", "submitter", "settled_batch", "last_tx", "last_error"],
        "properties": { "rollup": addr, "submitter": addr,
            "settled_batch": { "type": "integer" },
            "last_tx": { "type": "string", "nullable": true },
            "last_error": { "type": "string", "nullable": true } } });
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Merit sequencer API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit EIP-712 signed contributions, read batches, accounts and claim proofs; prover workers lease sealed batches and upload proofs. Every error body is { code, message }."
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
            "/v1/contributions/batch": { "post": {
                "summary": "Submit many signed contributions (e.g. a relay's); each is checked on its own, and the answer comes once the accepted ones are durably stored",
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": schema("BatchSubmission") } } },
                "responses": ok("200", "One result per contribution, in order", schema("BatchResults"), &[
                    ("400", "malformed_json, unreadable_body"),
                    ("413", "body_too_large (api.body_limit × api.max_batch_contributions), too_many_contributions"),
                    ("415", "unsupported_media_type"),
                    ("422", "missing_field, unknown_field, invalid_type, invalid_length, invalid_value, empty_batch"),
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
                "summary": "Cumulative (last sealed batch), claimed (read from the rollup; 0 without an L1 submitter), claimable now, nonces, last batch",
                "parameters": [path_param("address", "Contributor address", address)],
                "responses": ok("200", "The account", schema("AccountView"), &[
                    ("400", "invalid_address"), ("404", "account_not_found"),
                    ("503", "l1_unavailable"), ("500", "internal")])
            }},
            "/v1/accounts/{address}/claim-proof": { "get": {
                "summary": "The exact claim(batchId, account, cumulative, proof) arguments against the newest batch that touched the account (the newest settled one on a node with an L1 submitter)",
                "parameters": [path_param("address", "Contributor address", address)],
                "responses": ok("200", "The claim arguments", schema("ClaimProof"), &[
                    ("400", "invalid_address"), ("404", "no_claim or not_settled"),
                    ("500", "internal")])
            }},
            "/v1/status": { "get": {
                "summary": "Pending count, last sealed batch, state root, commitments, L1 settlement",
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
            "BatchSubmission": { "type": "object", "additionalProperties": false,
                "required": ["contributions"],
                "properties": { "contributions": { "type": "array", "minItems": 1,
                    "description": "at most api.max_batch_contributions; one contributor's in nonce order",
                    "items": schema("SignedContribution") } } },
            "BatchResults": { "type": "object", "additionalProperties": false,
                "required": ["accepted", "results"],
                "properties": { "accepted": { "type": "integer" },
                    "results": { "type": "array", "items": schema("BatchResult") } } },
            "BatchResult": { "type": "object", "additionalProperties": false,
                "description": "status 202 with a receipt, or the status and error body POST /v1/contributions would answer for this contribution alone (409, 422, 500, 503)",
                "required": ["status"],
                "properties": { "status": { "type": "integer" }, "receipt": schema("Receipt"),
                    "error": schema("ErrorBody") } },
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
                    "max_batch_age_ms": { "type": "integer" },
                    "l1": l1_status } }
        }}
    });
    extend(&mut doc["paths"], job_paths());
    extend(&mut doc["components"]["schemas"], job_schemas(&bytes32));
    doc
}

fn extend(target: &mut Value, more: Value) {
    if let (Some(target), Value::Object(more)) = (target.as_object_mut(), more) {
        target.extend(more);
    }
}

/// The prover job routes (a separate `json!` keeps the macro within its recursion limit).
fn job_paths() -> Value {
    json!({
            "/v1/batches/{id}/proof": { "get": {
                "summary": "The accepted proof of a batch, who uploaded it and when",
                "parameters": [path_param("id", "Batch id", "^[0-9]+$")],
                "responses": ok("200", "The proof", schema("ProofRecord"), &[
                    ("400", "invalid_batch_id"), ("404", "batch_not_found, proof_not_found"),
                    ("500", "internal")])
            }},
            "/v1/jobs/lease": { "post": {
                "summary": "Lease the oldest unproven batch whose lease is absent or lapsed (several batches can be leased at once, to different workers)",
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": schema("LeaseRequest") } } },
                "responses": {
                    "200": { "description": "A job: prove vector before expires_at and upload with lease_id",
                        "content": { "application/json": { "schema": schema("Job") } } },
                    "204": { "description": "Every unproven batch is leased, or there is none" },
                    "400": error_response("malformed_json, unreadable_body"),
                    "415": error_response("unsupported_media_type"),
                    "422": error_response("missing_field, unknown_field, invalid_type, invalid_value, invalid_prover"),
                    "500": error_response("internal"),
                    "503": error_response("job_queue_disabled: the node has no circuit configuration")
                }
            }},
            "/v1/jobs/{batch_id}/proof": { "post": {
                "summary": "Upload the proof of a leased batch; stored only if the lease is current, the public instances are the batch's and the proof verifies with the node's circuit",
                "parameters": [path_param("batch_id", "Batch id", "^[0-9]+$")],
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": schema("ProofUpload") } } },
                "responses": ok("200", "Accepted: the batch is proven", schema("ProofReceipt"), &[
                    ("400", "invalid_batch_id, malformed_json, unreadable_body"),
                    ("409", "batch_not_sealed, already_proven, lease_lost (lapsed, or the batch was leased again)"),
                    ("413", "body_too_large"),
                    ("415", "unsupported_media_type"),
                    ("422", "missing_field, unknown_field, invalid_type, invalid_length, invalid_value, wrong_config, wrong_batch, instance_mismatch, invalid_proof"),
                    ("500", "internal"),
                    ("503", "job_queue_disabled"),
                ])
            }},
            "/v1/jobs": { "get": {
                "summary": "The job queue: every unproven batch, sealed or leased (by whom, until when)",
                "responses": ok("200", "The queue", schema("JobsView"), &[
                    ("503", "job_queue_disabled")])
            }},
            "/v1/jobs/{batch_id}": { "get": {
                "summary": "One batch's job: sealed, leased or proven",
                "parameters": [path_param("batch_id", "Batch id", "^[0-9]+$")],
                "responses": ok("200", "The job", schema("JobView"), &[
                    ("400", "invalid_batch_id"), ("404", "batch_not_found"), ("500", "internal"),
                    ("503", "job_queue_disabled")])
            }}
    })
}

/// The schemas of the job routes.
fn job_schemas(bytes32: &Value) -> Value {
    json!({
            "LeaseRequest": { "type": "object", "additionalProperties": false,
                "required": ["prover"],
                "properties": { "prover": { "type": "string", "minLength": 1, "maxLength": 128,
                    "description": "free-form worker id" } } },
            "Job": { "type": "object", "additionalProperties": false,
                "required": ["batch_id", "lease_id", "expires_at", "config", "vector"],
                "properties": { "batch_id": { "type": "integer" }, "lease_id": bytes32,
                    "expires_at": { "type": "integer", "description": "ms since the Unix epoch" },
                    "config": { "type": "string", "description": "the circuit configuration's name" },
                    "vector": { "type": "object", "description": "merit-core BatchVector: description, domain, model, policy, prev_state, batch, output, public_instances, trace, new_state" } } },
            "BatchProof": { "type": "object", "additionalProperties": false,
                "required": ["config", "batch_id", "instances", "proof", "backend"],
                "properties": { "config": { "type": "string" }, "batch_id": { "type": "integer" },
                    "instances": { "type": "array", "items": bytes32 },
                    "proof": { "type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$" },
                    "backend": { "type": "string", "enum": ["cpu", "cuda"] } } },
            "ProofUpload": { "type": "object", "additionalProperties": false,
                "required": ["lease_id", "proof"],
                "properties": { "lease_id": bytes32, "proof": schema("BatchProof") } },
            "ProofReceipt": { "type": "object", "additionalProperties": false,
                "required": ["batch_id", "prover", "accepted_at"],
                "properties": { "batch_id": { "type": "integer" }, "prover": { "type": "string" },
                    "accepted_at": { "type": "integer" } } },
            "ProofRecord": { "type": "object", "additionalProperties": false,
                "required": ["proof", "prover", "accepted_at"],
                "properties": { "proof": schema("BatchProof"), "prover": { "type": "string" },
                    "accepted_at": { "type": "integer" } } },
            "JobView": { "type": "object", "additionalProperties": false,
                "required": ["batch_id", "status", "prover", "leased_at", "expires_at", "proven_at"],
                "properties": { "batch_id": { "type": "integer" },
                    "status": { "type": "string", "enum": ["sealed", "leased", "proven"] },
                    "prover": { "type": "string", "nullable": true,
                        "description": "leased: the holder; sealed: the holder of a lapsed lease; proven: who proved it" },
                    "leased_at": { "type": "integer", "nullable": true },
                    "expires_at": { "type": "integer", "nullable": true },
                    "proven_at": { "type": "integer", "nullable": true } } },
            "JobsView": { "type": "object", "additionalProperties": false,
                "required": ["config", "lease_ms", "now", "last_batch", "open"],
                "properties": { "config": { "type": "string" }, "lease_ms": { "type": "integer" },
                    "now": { "type": "integer" },
                    "last_batch": { "type": "integer", "nullable": true },
                    "open": { "type": "array", "items": schema("JobView") } } }
    })
}
