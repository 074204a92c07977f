//! The account-tree chip on merit-core's golden batches: honest traces reach the batch's new
//! root (MockProver); each tampering fails.

use halo2_base::{gates::RangeInstructions, halo2_proofs::halo2curves::bn256::Fr, AssignedValue};
use merit_circuits::{
    account_tree::{load_account_count, update_account, write_sentinel},
    builder::mock_prove_inspect,
    sorted_writes::LeafWrites,
};
use merit_core::{
    batch::{AccountUpdate, LeafUpdate},
    field::{fr_from_address, fr_from_u128},
    vectors::BatchVector,
};

fn golden(name: &str) -> BatchVector {
    merit_core::samples::golden_batch(name)
}

/// Runs every account update of `vector` (with `updates` in place of its trace) and constrains
/// the final root to the batch's `new_root`.
fn run(vector: &BatchVector, updates: &[AccountUpdate], satisfied: bool) {
    run_with_sentinel(vector, updates, &vector.trace.sentinel, satisfied)
}

fn run_with_sentinel(
    vector: &BatchVector,
    updates: &[AccountUpdate],
    sentinel: &LeafUpdate,
    satisfied: bool,
) {
    let (_, stats, result) = mock_prove_inspect(
        17,
        16,
        |ctx, range, _, poseidon| {
            let mut root = ctx.load_witness(vector.output.prev_root);
            let (count, mut next_index) = load_account_count(ctx, range, sentinel);
            let start = ctx.advice.len();
            for (i, update) in updates.iter().enumerate() {
                let contributions = &vector.batch.contributions[update.first_contribution
                    ..update.first_contribution + update.contribution_count];
                let last_nonce = contributions.last().unwrap().contribution.nonce;
                let [address, reward_sum, nonce]: [AssignedValue<Fr>; 3] = ctx
                    .assign_witnesses([
                        fr_from_address(update.address),
                        fr_from_u128(update.reward_sum),
                        Fr::from(last_nonce),
                    ])
                    .try_into()
                    .unwrap();
                range.range_check(ctx, address, 160);
                let out = update_account(
                    ctx,
                    range,
                    poseidon,
                    root,
                    next_index,
                    (address, reward_sum, nonce),
                    update,
                );
                let expected = ctx.load_witness(fr_from_u128(vector.output.touched[i].cumulative));
                ctx.constrain_equal(&out.new_cumulative, &expected);
                root = out.root_after.expect("a chained write");
                next_index = out.next_index_after;
            }
            let gate_cells = ctx.advice.len() - start;
            let mut tree = LeafWrites::Chained(root);
            write_sentinel(ctx, range, poseidon, &mut tree, (count, next_index), sentinel);
            let root = tree.chained_root().expect("chained");
            let new_root = ctx.load_witness(vector.output.new_root);
            ctx.constrain_equal(&root, &new_root);
            gate_cells
        },
        |_| (),
    );
    // Every account slot has the same shape, so the totals divide evenly (the sentinel write is
    // counted with them; it is one leaf write of two).
    println!(
        "per account update at depth {} ({} updates): {} flex-gate cells, {} Poseidon \
         permutations ({} cells), {} range-lookup cells in the whole circuit",
        vector.prev_state.depth(),
        updates.len(),
        stats.gate_cells / updates.len().max(1),
        stats.permutations / updates.len().max(1),
        stats.poseidon_cells / updates.len().max(1),
        stats.range_lookup_cells,
    );
    assert_eq!(result.is_ok(), satisfied, "{result:?}");
}

#[test]
fn honest_updates_reach_the_new_root() {
    for name in ["batch_d8_1.json", "batch_d8_2.json", "batch_d24_tanh.json"] {
        let vector = golden(name);
        run(&vector, &vector.trace.accounts, true);
    }
}

fn tampered(edit: impl FnOnce(&mut Vec<AccountUpdate>)) {
    let vector = golden("batch_d8_2.json");
    let mut updates = vector.trace.accounts.clone();
    edit(&mut updates);
    run(&vector, &updates, false);
}

fn first_existing(updates: &mut [AccountUpdate]) -> &mut AccountUpdate {
    updates.iter_mut().find(|u| !u.is_new).unwrap()
}

fn first_new(updates: &mut [AccountUpdate]) -> &mut AccountUpdate {
    updates.iter_mut().find(|u| u.is_new).unwrap()
}

#[test]
fn a_wrong_sibling_fails() {
    tampered(|u| first_existing(u).leaf.siblings[3] += Fr::one());
}

#[test]
fn a_wrong_old_leaf_fails() {
    // Claim a higher old balance than the tree holds.
    tampered(|u| {
        let update = first_existing(u);
        let mut old = update.leaf.old.unwrap();
        old.cumulative += 1;
        update.leaf.old = Some(old);
    });
}

#[test]
fn a_wrong_account_count_fails() {
    // Claiming one more account than the sentinel records would move the first free index.
    let vector = golden("batch_d8_2.json");
    let mut sentinel = vector.trace.sentinel.clone();
    let mut old = sentinel.old.unwrap();
    old.cumulative += 1;
    sentinel.old = Some(old);
    run_with_sentinel(&vector, &vector.trace.accounts, &sentinel, false);
}

#[test]
fn a_new_account_on_a_wrong_path_fails() {
    // The new leaf's path must be the path of the first free index.
    tampered(|u| {
        let update = first_new(u);
        update.leaf.siblings.swap(0, 1);
        update.leaf.siblings[0] += Fr::one();
    });
}

#[test]
fn re_appending_an_existing_account_fails() {
    // Present an existing account as new, with the account itself as its "predecessor": the
    // absence proof (p.address < address) cannot hold.
    tampered(|u| {
        let update = first_existing(u);
        update.is_new = true;
        update.low = Some(update.leaf.clone());
    });
}

#[test]
fn skipping_the_predecessor_update_fails() {
    // A new account whose predecessor is left pointing past it.
    tampered(|u| {
        let update = first_new(u);
        let low = update.low.as_mut().unwrap();
        low.old = Some(merit_core::AccountLeaf { next: update.address, ..low.old.unwrap() });
    });
}
