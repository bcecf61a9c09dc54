//! The workspace's crate graph is the one docs/ARCHITECTURE.md ("Layout and dependency rules")
//! draws: each crate depends on exactly the tally crates listed there, and the pure crates
//! (types, ledger, consensus) on nothing that does I/O, keeps time or draws randomness.
//! Read from `cargo metadata`, so a new edge fails here before a reviewer has to spot it.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every workspace crate and the tally crates it may (and does) depend on.
const EDGES: &[(&str, &[&str])] = &[
    ("tally-types", &[]),
    ("tally-ledger", &["tally-types"]),
    ("tally-consensus", &["tally-types"]),
    ("tally-net", &[]),
    ("tally-store", &["tally-ledger", "tally-types"]),
    ("tally-genesis", &["tally-ledger", "tally-types"]),
    (
        "tally-node",
        &["tally-consensus", "tally-genesis", "tally-ledger", "tally-net", "tally-store", "tally-types"],
    ),
    ("tally-client", &["tally-genesis", "tally-ledger", "tally-types"]),
    ("tally-sim", &["tally-consensus", "tally-ledger", "tally-node", "tally-store", "tally-types"]),
    ("tally-chaos", &["tally-client", "tally-genesis", "tally-types"]),
];

/// Outside crates that would bring a runtime, I/O, the network, storage, the clock or
/// randomness into a crate that must be a pure function of its inputs.
const IMPURE: &[&str] = &["tokio", "getrandom", "rand", "libp2p", "redb", "axum", "ureq", "chrono"];

/// The crates that must stay pure.
const PURE: &[&str] = &["tally-types", "tally-ledger", "tally-consensus"];

/// Each workspace crate and the names of its normal (not dev, not build) dependencies.
fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("a package name").to_owned();
            let dependencies = package["dependencies"]
                .as_array()
                .expect("a dependency list")
                .iter()
                .filter(|dependency| dependency["kind"].is_null())
                .map(|dependency| dependency["name"].as_str().expect("a dependency name").to_owned())
                .collect();
            (name, dependencies)
        })
        .collect()
}

#[test]
fn every_crate_depends_on_exactly_the_tally_crates_the_architecture_allows() {
    let actual = workspace_dependencies();
    let listed: BTreeSet<&str> = EDGES.iter().map(|(name, _)| *name).collect();
    let present: BTreeSet<&str> = actual.keys().map(String::as_str).collect();
    assert_eq!(present, listed, "workspace members differ from the architecture's table");
    for (name, allowed) in EDGES {
        let tally: BTreeSet<&str> =
            actual[*name].iter().map(String::as_str).filter(|dep| dep.starts_with("tally-")).collect();
        let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
        assert_eq!(
            tally, allowed,
            "{name} depends on {tally:?}; docs/ARCHITECTURE.md allows exactly {allowed:?}"
        );
    }
}

#[test]
fn pure_crates_use_no_runtime_io_clock_or_randomness() {
    let actual = workspace_dependencies();
    for name in PURE {
        let impure: Vec<&str> =
            actual[*name].iter().map(String::as_str).filter(|dep| IMPURE.contains(dep)).collect();
        assert!(impure.is_empty(), "{name} must stay pure but depends on {impure:?}");
    }
}
