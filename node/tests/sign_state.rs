//! The sign state beside the consensus key (docs/ARCHITECTURE.md "Storage", README's
//! operations part), with four real `tally-node` processes under a light stream of transfers:
//! a validator whose data directory is wiped follows, then votes again; one whose sign state
//! is deleted makes it from its WAL; one whose data came from an archive and whose sign state
//! is lost is refused without `--recreate-lost-sign-state` and starts with it; a 0-byte
//! `node.redb` is refused; and no node ever sees equivocation evidence.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{VALIDATORS, client, height, spawn_node, start_network};
use tally_consensus::SignState;
use tally_genesis::init::asset_code_for;
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{Op, Transaction, Transfer};
use tally_types::{Amount, AssetId, Hash, Height, SecretKey};

const WAIT_MAX: Duration = Duration::from_secs(120);

fn node_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("validator-{index}"))
}

fn sign_state_path(dir: &Path, index: usize) -> PathBuf {
    node_dir(dir, index).join("consensus.sign-state")
}

fn read_sign_state(dir: &Path, index: usize, genesis_hash: &Hash) -> SignState {
    tally_node::sign_state::open_file(&sign_state_path(dir, index), genesis_hash)
        .expect("readable sign state")
        .expect("a sign state beside the key")
        .state()
}

fn log_of(dir: &Path, index: usize) -> String {
    std::fs::read_to_string(node_dir(dir, index).join("node.log")).unwrap_or_default()
}

/// Waits until `done` holds, failing with `what` and the node's log after [`WAIT_MAX`].
fn wait_for(dir: &Path, index: usize, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > WAIT_MAX {
            let log = log_of(dir, index);
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!("validator-{index}: {what} within {WAIT_MAX:?}; log tail:\n{}", tail.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stop(child: &mut Child) {
    child.kill().expect("kill a node");
    child.wait().expect("reap the node");
}

/// Starts validator `index` with extra arguments; returns the child.
fn spawn_with(dir: &Path, index: usize, extra: &[&str]) -> Child {
    let node_dir = node_dir(dir, index);
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(node_dir.join("node.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["run", "--config"])
        .arg(node_dir.join("node.toml"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn tally-node")
}

/// Waits for a node that must refuse to start; returns whether it exited with failure.
fn refused(child: &mut Child) -> bool {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return !status.success();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn max_height(addrs: &[std::net::SocketAddr]) -> u64 {
    addrs.iter().filter_map(|addr| height(*addr)).max().unwrap_or(0)
}

// Not split: one story on one running network (starting four nodes takes most of the time).
#[test]
fn the_sign_state_keeps_a_wiped_validator_from_signing_twice_and_guards_its_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut network = start_network(dir.path(), "tally-sign-state", &["acme"], 10_000_000, 3, WAIT_MAX);
    let dir = network.dir.clone();
    let genesis_hash = network.testnet.genesis.hash();
    let addrs = network.http_addrs.clone();

    // A little load: a transfer every 100 ms to validator 0, which is never stopped.
    let stop_load = Arc::new(AtomicBool::new(false));
    let load = {
        let stop_load = Arc::clone(&stop_load);
        let chain_id = network.testnet.genesis.chain_id().clone();
        let (member, issuer) = network.testnet.issuer_keys[0].clone();
        let asset = AssetId::new(asset_code_for(&member).expect("code"), member);
        let to = SecretKey::from_seed(&[42; 32]).public_key();
        let node = client(addrs[0]);
        std::thread::spawn(move || {
            let mut seq = 1;
            while !stop_load.load(Ordering::Relaxed) {
                let tx = Transaction {
                    chain_id: chain_id.clone(),
                    signer: issuer.public_key(),
                    seq,
                    valid_until_height: Height(1_000_000),
                    ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                        asset: asset.clone(),
                        to,
                        amount: Amount(1),
                    })])
                    .expect("one op"),
                    memo: BoundedBytes::empty(),
                }
                .sign(&issuer);
                if node.submit(&tx, false).is_ok() {
                    seq += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    // 1. Validator 3's data directory is wiped under load; its key's sign state is kept.
    let wiped = 3;
    wait_for(&dir, wiped, "signed something", || read_sign_state(&dir, wiped, &genesis_hash).last.is_some());
    stop(&mut network.nodes.0[wiped]);
    let before = read_sign_state(&dir, wiped, &genesis_hash).view();
    std::fs::remove_dir_all(node_dir(&dir, wiped).join("data")).expect("wipe the data directory");
    network.nodes.0[wiped] = spawn_node(&dir, wiped);
    wait_for(&dir, wiped, "logged that it follows", || {
        log_of(&dir, wiped).contains("following the chain without voting")
    });
    // It catches up with the others, then signs again: its record moves past the one it kept.
    wait_for(&dir, wiped, "caught up", || {
        height(addrs[wiped]).is_some_and(|mine| mine + 2 >= max_height(&addrs[..wiped]))
    });
    wait_for(&dir, wiped, "signed again past its kept record", || {
        read_sign_state(&dir, wiped, &genesis_hash).view() > before
    });
    assert!(log_of(&dir, wiped).contains("voting again"));

    // 2. Validator 2's sign state is deleted (a data directory from before sign states): made
    // from its WAL at the next start, no flag.
    let upgraded = 2;
    stop(&mut network.nodes.0[upgraded]);
    std::fs::remove_file(sign_state_path(&dir, upgraded)).expect("delete the sign state");
    network.nodes.0[upgraded] = spawn_node(&dir, upgraded);
    wait_for(&dir, upgraded, "made its sign state from the WAL", || {
        log_of(&dir, upgraded).contains("made from the WAL's last signature")
    });
    assert!(read_sign_state(&dir, upgraded, &genesis_hash).last.is_some());

    // 3. Validator 1's data directory is refilled from an archive (no WAL) and its sign state
    // is lost: it may have signed what nothing records, so it is refused without the flag.
    let imported = 1;
    let archive = dir.join("chain.archive");
    let exported = Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["export", "--node", &network.url(0), "--out"])
        .arg(&archive)
        .status()
        .expect("run export");
    assert!(exported.success());
    stop(&mut network.nodes.0[imported]);
    std::fs::remove_dir_all(node_dir(&dir, imported).join("data")).expect("wipe");
    let import = Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["import", "--config"])
        .arg(node_dir(&dir, imported).join("node.toml"))
        .arg("--archive")
        .arg(&archive)
        .status()
        .expect("run import");
    assert!(import.success());
    std::fs::remove_file(sign_state_path(&dir, imported)).expect("delete the sign state");
    let mut child = spawn_with(&dir, imported, &[]);
    assert!(refused(&mut child), "started without a sign state beside a chain it validated");
    assert!(log_of(&dir, imported).contains("--recreate-lost-sign-state"));
    assert!(!sign_state_path(&dir, imported).exists(), "a refused start leaves no sign state");
    network.nodes.0[imported] = spawn_with(&dir, imported, &["--recreate-lost-sign-state"]);
    wait_for(&dir, imported, "caught up after --recreate-lost-sign-state", || {
        height(addrs[imported]).is_some_and(|mine| mine + 2 >= max_height(&addrs))
    });
    assert!(read_sign_state(&dir, imported, &genesis_hash).last.is_some(), "made at the store's tip");

    // 4. A 0-byte node.redb is never opened as a new store.
    stop(&mut network.nodes.0[imported]);
    std::fs::write(node_dir(&dir, imported).join("data/node.redb"), b"").expect("empty the data file");
    let mut child = spawn_with(&dir, imported, &[]);
    assert!(refused(&mut child), "started on an emptied node.redb");
    assert!(log_of(&dir, imported).contains("node.redb is empty (0 bytes)"));

    // No node saw anyone sign two conflicting messages.
    stop_load.store(true, Ordering::Relaxed);
    load.join().expect("load thread");
    for index in (0..VALIDATORS).filter(|index| *index != imported) {
        let page = client(addrs[index]).evidence(None, 100).expect("GET /v1/evidence");
        assert!(page.evidence.is_empty(), "validator-{index} holds evidence: {:?}", page.evidence);
    }
}
