//! `tally-node import` fills a full node's data directory from a `tally-bench archive` chain:
//! every block checked and executed to the roots its header claims, the node then serving it;
//! a data directory that holds blocks, an archive of another chain, and a tampered archive are
//! refused by name.

use std::path::Path;
use std::process::{Command, Output};

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).output().unwrap_or_else(|error| panic!("{binary}: {error}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A full node's home (as an operator makes it) with `genesis` beside its node.toml.
fn home(dir: &Path, name: &str, genesis: &Path) -> String {
    let home = dir.join(name);
    let init = run(
        env!("CARGO_BIN_EXE_tally-node"),
        &[
            "init",
            "--full-node",
            "--home",
            home.to_str().expect("utf-8"),
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/1",
            "--http-listen",
            "127.0.0.1:1",
        ],
    );
    assert!(init.status.success(), "{}", text(&init));
    std::fs::copy(genesis, home.join("genesis.json")).expect("copy the genesis file");
    home.join("node.toml").to_str().expect("utf-8").to_owned()
}

fn import(config: &str, archive: &Path) -> Output {
    run(
        env!("CARGO_BIN_EXE_tally-node"),
        &["import", "--config", config, "--archive", archive.to_str().expect("utf-8")],
    )
}

fn archive(dir: &Path, name: &str, seed: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    let made = run(
        env!("CARGO_BIN_EXE_tally-bench"),
        &[
            "archive",
            "--transfers",
            "20",
            "--block-txs",
            "5",
            "--senders",
            "4",
            "--seed",
            seed,
            "--out",
            out.to_str().expect("utf-8"),
        ],
    );
    assert!(made.status.success(), "{}", text(&made));
    out
}

#[test]
fn an_archive_is_imported_checked_and_only_into_an_empty_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = archive(dir.path(), "chain.archive", "1");
    let genesis = dir.path().join("chain.archive.genesis.json");
    let config = home(dir.path(), "node", &genesis);
    let imported = import(&config, &chain);
    // Block 1 funds the senders (one transaction); four blocks of five transfers follow.
    assert!(imported.status.success(), "{}", text(&imported));
    assert!(
        text(&imported).contains("imported 5 blocks (21 transactions) up to height 5"),
        "{}",
        text(&imported)
    );
    // The imported store is what `tally-node export` reads back, block for block.
    let again = dir.path().join("again.archive");
    let data = dir.path().join("node/data");
    let export = run(
        env!("CARGO_BIN_EXE_tally-node"),
        &["export", "--data", data.to_str().expect("utf-8"), "--out", again.to_str().expect("utf-8")],
    );
    assert!(export.status.success(), "{}", text(&export));
    assert_eq!(std::fs::read(&again).expect("export"), std::fs::read(&chain).expect("archive"));

    // Not twice into the same data directory.
    let twice = import(&config, &chain);
    assert!(!twice.status.success());
    assert!(text(&twice).contains("already holds blocks up to 5"), "{}", text(&twice));

    // Not an archive of another chain (another seed: other keys, another genesis).
    let other = archive(dir.path(), "other.archive", "2");
    let refused = import(&home(dir.path(), "other-node", &genesis), &other);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("the archive is of chain"), "{}", text(&refused));

    // Not a tampered archive: a bit flipped among the last block's transactions fails a
    // signature (or the record's strict decoding), and the import names the block or record.
    let mut bytes = std::fs::read(&chain).expect("archive");
    let at = bytes.len() - 600;
    bytes[at] ^= 0x01;
    let tampered = dir.path().join("tampered.archive");
    std::fs::write(&tampered, bytes).expect("write");
    let refused = import(&home(dir.path(), "tampered-node", &genesis), &tampered);
    assert!(!refused.status.success());
    let said = text(&refused);
    assert!(said.contains("block 5") || said.contains("record 5"), "{said}");
}
