//! Golden vectors: the committed files under `fixtures/golden/` are exactly what this crate
//! computes, and each one re-checks on its own. Set `MERIT_BLESS=1` to rewrite them.

use std::path::PathBuf;

use merit_core::{
    apply_batch,
    claim_tree::{claim_leaf, verify_claim_proof},
    samples::golden_vectors,
    vectors::{BatchVector, ClaimTreeVector, Eip712Vector, GOLDEN_DIR},
};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(GOLDEN_DIR)
}

fn read(name: &str) -> String {
    let path = golden_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn committed_vectors_are_current() {
    let dir = golden_dir();
    let bless = std::env::var_os("MERIT_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, value) in golden_vectors() {
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden vectors {stale:?}: rerun with MERIT_BLESS=1 and review the diff"
    );
}

#[test]
fn batch_vectors_recheck_from_their_inputs() {
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector: BatchVector = serde_json::from_str(&read(name)).unwrap();
        for signed in &vector.batch.contributions {
            signed.verify(&vector.domain).unwrap();
        }
        let applied = apply_batch(
            &vector.prev_state,
            &vector.model,
            &vector.policy,
            &vector.batch.unsigned(),
        )
        .unwrap();
        assert_eq!(applied.output, vector.output, "{name}");
        assert_eq!(applied.trace, vector.trace, "{name}");
        assert_eq!(applied.state, vector.new_state, "{name}");
        assert_eq!(applied.output.public_instances().to_vec(), vector.public_instances, "{name}");
        // The vectors exercise both sides of the threshold.
        let rewards: Vec<u128> = vector.trace.contributions.iter().map(|c| c.reward).collect();
        assert!(rewards.contains(&0) && rewards.iter().any(|r| *r > 0), "{name}: {rewards:?}");
    }
    // The second batch continues the first.
    let first: BatchVector = serde_json::from_str(&read("batch_d8_1.json")).unwrap();
    let second: BatchVector = serde_json::from_str(&read("batch_d8_2.json")).unwrap();
    assert_eq!(second.prev_state, first.new_state);
    assert!(second.trace.accounts.iter().any(|u| !u.is_new));
}

#[test]
fn claim_tree_vectors_recheck() {
    let trees: Vec<ClaimTreeVector> = serde_json::from_str(&read("claim_trees.json")).unwrap();
    assert_eq!(trees.len(), 10);
    for tree in trees {
        assert_eq!(ClaimTreeVector::build(tree.touched.clone()), tree);
        for (i, t) in tree.touched.iter().enumerate() {
            assert_eq!(tree.leaves[i], claim_leaf(t.address, t.cumulative));
            assert!(verify_claim_proof(tree.root, tree.leaves[i], &tree.proofs[i]));
        }
    }
}

#[test]
fn eip712_vector_rechecks() {
    let vector: Eip712Vector = serde_json::from_str(&read("eip712.json")).unwrap();
    assert_eq!(
        vector.type_hash,
        alloy_primitives::keccak256(
            "Contribution(address contributor,uint64 taskId,uint64 nonce,int16[] features,bytes32 payloadHash)"
        )
    );
    assert_eq!(vector.signed.recover_signer(&vector.domain).unwrap(), vector.signer);
    assert_eq!(Eip712Vector::build(vector.domain, vector.signed.clone()), vector);
}
