//! The checked-in circuit configurations (`circuits/configs/`): they load, their model files are
//! the sample 16→32→1 model and the tiny 4→8→1 tanh model of `tiny.json` (`MERIT_BLESS=1`
//! rewrites them), and the smallest benchmark configuration builds with its cost reported.

use std::path::{Path, PathBuf};

use merit_circuits::{
    config::{circuit_stats, sample_batch, CircuitConfig, ConfigError},
    poseidon::PoseidonLayout,
};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn model_files_are_the_sample_models() {
    for (file, model) in [
        ("model-16-32-1.json", merit_core::samples::sample_model(1)),
        ("model-4-8-1-tanh.json", merit_core::samples::sample_tanh_model(2)),
    ] {
        let path = configs_dir().join(file);
        let expected = serde_json::to_string_pretty(&model).unwrap();
        if std::env::var_os("MERIT_BLESS").is_some() {
            std::fs::write(&path, format!("{expected}\n")).unwrap();
        }
        let found = std::fs::read_to_string(&path).unwrap();
        assert_eq!(found.trim_end(), expected, "stale {path:?}: run with MERIT_BLESS=1");
    }
}

#[test]
fn every_configuration_loads() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(configs_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('n') && name.ends_with(".json") {
            let loaded = CircuitConfig::load(&path).unwrap();
            assert_eq!(format!("{}.json", loaded.config.name), name);
            assert_eq!(loaded.shape.depth, 24);
            names.push(name);
        }
    }
    names.sort();
    assert_eq!(names, ["n1024.json", "n16.json", "n256.json", "n64.json"]);
    let tiny = CircuitConfig::load(&configs_dir().join("tiny.json")).unwrap();
    assert_eq!((tiny.config.max_contributions, tiny.config.max_accounts), (4, 2));
    // The throughput configurations raise the degree; tiny and n16 keep the keys their
    // committed CUDA proofs and EVM verifiers were made with.
    // n256 and n1024 hash 19 levels per leaf write (2^19 - 1 accounts) and drop the range
    // checks soundness does not need, where that saves columns.
    let (w, n) = (PoseidonLayout::Wide, PoseidonLayout::Narrow);
    // n256 and n1024 also prove their writes sorted under a top tree.
    for (name, degree, layout, active_depth, lean, top) in [
        ("tiny", None, n, None, false, None),
        ("n16", None, n, None, false, None),
        ("n64", Some(5), w, None, false, None),
        ("n256", Some(5), w, Some(19), true, Some(7)),
        ("n1024", Some(5), w, Some(19), true, Some(8)),
    ] {
        let loaded = CircuitConfig::load(&configs_dir().join(format!("{name}.json"))).unwrap();
        let c = &loaded.config;
        assert_eq!(
            (c.min_degree, c.poseidon_layout, c.active_depth, c.lean_range_checks, c.top_levels),
            (degree, layout, active_depth, lean, top),
            "{name}"
        );
        assert_eq!(loaded.shape.active_depth, active_depth);
        assert_eq!(loaded.shape.top_levels, top);
        assert_eq!(
            (loaded.shape.lean_range_checks, loaded.shape.model.joint_digit_checks),
            (lean, lean)
        );
    }
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let loaded = CircuitConfig::load(&configs_dir().join("n16.json")).unwrap();
    let with = |edit: fn(&mut CircuitConfig)| {
        let mut config = loaded.config.clone();
        edit(&mut config);
        config.with_model(loaded.model.clone())
    };
    for (edit, needle) in [
        ((|c| c.k = 30) as fn(&mut CircuitConfig), "k = 30"),
        (|c| c.lookup_bits = 16, "lookup_bits = 16"),
        (|c| c.max_accounts = 17, "more account slots"),
        (|c| c.max_contributions = 0, "at least one"),
        (|c| c.depth = 0, "depth 0"),
        (|c| c.max_new_accounts = Some(0), "max_new_accounts = 0"),
        (|c| c.max_new_accounts = Some(5), "max_new_accounts = 5"),
        (|c| c.min_degree = Some(3), "min_degree = 3"),
        (|c| c.min_degree = Some(6), "min_degree = 6"),
        (|c| c.active_depth = Some(0), "active_depth = 0"),
        (|c| c.active_depth = Some(24), "active_depth = 24"),
        (|c| c.top_levels = Some(2), "needs the split layout"),
        (
            |c| {
                c.max_new_accounts = Some(1);
                c.top_levels = Some(24);
            },
            "top_levels = 24 must be in 1..24",
        ),
        (
            |c| {
                c.max_new_accounts = Some(1);
                c.active_depth = Some(10);
                c.top_levels = Some(0);
            },
            "top_levels = 0 must be in 1..10",
        ),
    ] {
        let err = with(edit).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let dir = tempdir();
    let path = dir.join("broken.json");
    std::fs::write(&path, "{ \"name\": 1 }").unwrap();
    let err = CircuitConfig::load(&path).unwrap_err();
    assert!(err.to_string().contains("not a valid circuit configuration"), "{err}");
    let err = CircuitConfig::load(&dir.join("missing.json")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("merit-configs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_smallest_configuration_builds_and_reports_its_cost() {
    let loaded = CircuitConfig::load(&configs_dir().join("n16.json")).unwrap();
    let vector = sample_batch(&loaded).unwrap();
    assert_eq!(vector.batch.contributions.len(), 16);
    assert_eq!(vector.output.touched.len(), 4);
    let stats = circuit_stats(&loaded, &vector).unwrap();
    println!("n16: {stats:?}, {} advice cells in all", stats.total_advice_cells());
    assert_eq!(stats.k, 16);
    // Degree ≤ 5 keeps the quotient on the 2^(k+2) extended domain (the Poseidon gate itself
    // has degree 4; halo2-base's single-column layout can reach 5).
    assert!(stats.degree <= 5, "degree {}", stats.degree);
    // Every account slot: 4 paths of 24 levels and 3 leaf hashes of 2 permutations.
    assert!(stats.permutations >= 4 * (4 * 24 + 6));
}

/// n64 as checked in (degree 5, the wide Poseidon layout) against the same shape with the
/// defaults: the degree is raised from the gates' own 4, the Poseidon gate's cells and columns
/// change (204 instead of 234 cells per permutation, columns in sets of 12) and the flex gate
/// no longer absorbs sponge inputs.
#[test]
fn the_throughput_settings_raise_the_degree_and_narrow_the_poseidon_cells() {
    let tuned = CircuitConfig::load(&configs_dir().join("n64.json")).unwrap();
    let mut plain = tuned.config.clone();
    plain.min_degree = None;
    plain.poseidon_layout = PoseidonLayout::Narrow;
    let plain = plain.with_model(tuned.model.clone()).unwrap();
    let vector = sample_batch(&tuned).unwrap();
    let (tuned, plain) =
        (circuit_stats(&tuned, &vector).unwrap(), circuit_stats(&plain, &vector).unwrap());
    assert_eq!((plain.degree, tuned.degree), (4, 5));
    assert_eq!(tuned.permutations, plain.permutations);
    // A sponge's later permutations continue inside the wide gate: no flex-gate additions and
    // no intermediate outputs.
    assert!(tuned.gate_cells < plain.gate_cells, "{} {}", tuned.gate_cells, plain.gate_cells);
    assert_eq!(tuned.poseidon_cells, plain.permutations * 17 * 12);
    assert_eq!(plain.poseidon_cells, plain.permutations * 39 * 6);
    assert!(tuned.total_advice_cells() < plain.total_advice_cells());
}

/// An `active_depth` of 19 at depth 24: each of the `M + K + 1` leaf writes (account slots,
/// links, the sentinel) hashes 5 levels fewer on both paths, and the prefix root is lifted
/// twice, 5 permutations each; the sample batch is refused below its accounts' capacity.
#[test]
fn an_active_depth_hashes_the_upper_levels_once_per_batch() {
    let full = CircuitConfig::load(&configs_dir().join("n64.json")).unwrap();
    assert_eq!(full.config.active_depth, None);
    let mut prefix = full.config.clone();
    prefix.active_depth = Some(19);
    let prefix = prefix.with_model(full.model.clone()).unwrap();
    let vector = sample_batch(&full).unwrap();
    let (full_stats, prefix_stats) =
        (circuit_stats(&full, &vector).unwrap(), circuit_stats(&prefix, &vector).unwrap());
    let writes = full.config.max_accounts + full.config.max_new_accounts.unwrap() + 1;
    assert_eq!(full_stats.permutations - prefix_stats.permutations, writes * 2 * 5 - 2 * 5);

    // 13 accounts exist and 3 are new: with the sentinel, 17 leaves need 5 levels.
    let mut small = full.config.clone();
    small.active_depth = Some(4);
    let mut small = small.with_model(full.model.clone()).unwrap();
    let err = circuit_stats(&small, &vector).unwrap_err();
    assert!(err.to_string().contains("17 leaves"), "{err}");
    small.config.active_depth = Some(5);
    small.shape.active_depth = Some(5);
    assert!(circuit_stats(&small, &vector).is_ok());
}

/// `top_levels` at n64 (depth 24, 16 + 4 + 1 leaf writes): each write hashes the 24 − T levels
/// of its subtree twice, and the 2^T subtree roots are hashed into the root twice per batch;
/// the leaf hashes and everything else stay.
#[test]
fn top_levels_hash_each_write_below_the_top_tree_only() {
    let full = CircuitConfig::load(&configs_dir().join("n64.json")).unwrap();
    let vector = sample_batch(&full).unwrap();
    let full_stats = circuit_stats(&full, &vector).unwrap();
    let writes = full.config.max_accounts + full.config.max_new_accounts.unwrap() + 1;
    for top in [2, 4] {
        let mut sorted = full.config.clone();
        sorted.top_levels = Some(top);
        let sorted = sorted.with_model(full.model.clone()).unwrap();
        let stats = circuit_stats(&sorted, &vector).unwrap();
        assert_eq!(
            full_stats.permutations + 2 * ((1 << top) - 1),
            stats.permutations + writes * 2 * top,
            "top {top}"
        );
    }
}

/// The split layout's sample batch fills every slot (`K` new accounts, `M − K` existing ones),
/// and the layout costs `M + K` leaf writes where the uniform one costs `2·M`.
#[test]
fn the_split_layout_writes_once_per_existing_account() {
    let split = CircuitConfig::load(&configs_dir().join("n64.json")).unwrap();
    let (m, k) = (split.config.max_accounts, split.config.max_new_accounts.unwrap());
    assert!(k < m);
    let vector = sample_batch(&split).unwrap();
    assert_eq!(vector.batch.contributions.len(), 64);
    let new = vector.trace.accounts.iter().filter(|u| u.is_new).count();
    assert_eq!((vector.output.touched.len(), new), (m, k));
    let split_stats = circuit_stats(&split, &vector).unwrap();

    let mut uniform = split.config.clone();
    uniform.max_new_accounts = None;
    uniform.k = 16;
    uniform.lookup_bits = 15;
    let uniform = uniform.with_model(split.model.clone()).unwrap();
    let uniform_stats = circuit_stats(&uniform, &vector).unwrap();
    // A leaf write at depth 24: two paths and two leaf hashes (each leaf hash is two
    // permutations of the width-3 sponge). A uniform slot is two writes that share one leaf
    // hash; a split slot or link is one write.
    let write = 2 * 24 + 4;
    let saved = uniform_stats.permutations - split_stats.permutations;
    println!(
        "n64: uniform {} permutations, split {} ({saved} fewer)",
        uniform_stats.permutations, split_stats.permutations,
    );
    assert_eq!(saved, (2 * write - 2) * m - write * (m + k));
}
