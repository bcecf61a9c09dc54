//! Four real `tally-node` processes on 127.0.0.1 make blocks together, and a transaction
//! submitted to one of them is committed with the same receipt on all four; a validator killed
//! with SIGKILL under load catches up by sync to the same blocks and state root; and all four,
//! stopped and started again, resume from disk with nothing lost.

mod common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Nodes, VALIDATORS, client, free_base_port, height, spawn_node};
use tally_client::http::{HttpError, Submitted};

use tally_genesis::ConsensusParams;
use tally_genesis::init::{TestnetSpec, asset_code_for, build_testnet, write_testnet};
use tally_genesis::keys::KeySource;
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{AssetFlags, IssueAsset, Op, Transaction, Transfer};
use tally_types::{
    Amount, AssetCode, AssetId, ChainId, Height, MemberId, PublicKey, SecretKey, SignedTransaction, TxOutcome,
};

const WAIT_MAX: Duration = Duration::from_secs(60);

// Not split: one story on one running network, each step starting from the state the last one left.
#[test]
fn four_nodes_commit_the_same_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain_id = ChainId::new("tally-cluster-test").expect("valid chain id");
    let members: Vec<MemberId> =
        ["acme", "globex"].iter().map(|name| MemberId::new(*name).expect("valid member")).collect();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64;
    let spec = TestnetSpec {
        chain_id: chain_id.clone(),
        validators: VALIDATORS,
        members: members.clone(),
        genesis_time_ms: now_ms,
        consensus: ConsensusParams {
            timeout_propose_ms: 1_000,
            timeout_notarize_ms: 1_500,
            timeout_max_ms: 10_000,
            ..ConsensusParams::default()
        },
        listen_ip: "127.0.0.1".parse().expect("ip"),
        base_port: free_base_port(),
        issuer_float: Some(Amount(1_000_000)),
    };
    let keys = KeySource::seeded(b"cluster-test", &chain_id).expect("key source");
    let testnet = build_testnet(&spec, &keys).expect("testnet");
    write_testnet(&testnet, dir.path(), false).expect("write testnet");

    let mut nodes = Nodes(Vec::new());
    let mut http_addrs = Vec::new();
    for (index, validator) in testnet.genesis.validators().iter().enumerate() {
        nodes.0.push(spawn_node(dir.path(), index));
        http_addrs.push(validator.http_listen);
    }
    let dump_logs = || {
        for index in 0..VALIDATORS {
            let log = std::fs::read_to_string(dir.path().join(format!("validator-{index}/node.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!("--- validator-{index} (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    };

    let start = Instant::now();
    loop {
        let heights: Vec<Option<u64>> = http_addrs.iter().map(|addr| height(*addr)).collect();
        if heights.iter().all(|height| height.is_some_and(|height| height >= 3)) {
            break;
        }
        for child in &mut nodes.0 {
            if let Ok(Some(status)) = child.try_wait() {
                dump_logs();
                panic!("a node exited early: {status}");
            }
        }
        if start.elapsed() > WAIT_MAX {
            dump_logs();
            panic!("nodes did not all reach height 3 within {WAIT_MAX:?}: {heights:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // The acme issuer pays a fresh account in its own asset.
    let issuer = &testnet.issuer_keys[0].1;
    let asset = AssetId::new(asset_code_for(&members[0]).expect("code"), members[0].clone());
    let recipient = SecretKey::from_seed(&[42; 32]).public_key();
    let tx = transfer(&chain_id, issuer, &asset, recipient, 1);
    let id = tx.id();
    client(http_addrs[1]).submit(&tx, false).expect("submission admitted");

    let path = format!("/v1/txs/{id}");
    let mut receipts = Vec::new();
    for addr in &http_addrs {
        loop {
            match client(*addr).get_json(&path) {
                Ok(answer) => {
                    receipts.push(answer);
                    break;
                }
                Err(HttpError::Problem { status: 404, .. }) => {}
                Err(error) => panic!("get tx on {addr}: {error}"),
            }
            if start.elapsed() > WAIT_MAX * 2 {
                dump_logs();
                panic!("transaction {id} not committed on {addr} within {:?}", WAIT_MAX * 2);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(receipts.iter().all(|receipt| *receipt == receipts[0]), "receipts differ: {receipts:#?}");
    let success = serde_json::to_value(TxOutcome::Success).expect("serializable");
    assert_eq!(receipts[0]["receipt"]["outcome"], success, "transfer did not succeed: {:#}", receipts[0]);

    // A crashed validator (SIGKILL, no clean shutdown) restarts from its store and WAL and
    // catches up with the others.
    let crashed = VALIDATORS - 1;
    nodes.0[crashed].kill().expect("kill a node");
    nodes.0[crashed].wait().expect("reap the killed node");
    // Keep the others busy meanwhile: a stream of transfers makes blocks as fast as the network
    // allows, so the crashed node falls more than the core's fetch gap (64 blocks) behind and
    // must sync committed blocks with their certificates.
    let before = height(http_addrs[0]).expect("validator-0 answers");
    let stream_start = Instant::now();
    let mut seq = 1;
    let mut last_id = id;
    // One validator down: every fourth view waits for its leader timeout, so this takes a while.
    while height(http_addrs[0]).is_some_and(|height| height < before + 70) {
        if stream_start.elapsed() > WAIT_MAX * 2 {
            dump_logs();
            panic!("three validators did not make 70 blocks within {:?}", WAIT_MAX * 2);
        }
        seq += 1;
        let tx = transfer(&chain_id, issuer, &asset, recipient, seq);
        client(http_addrs[seq as usize % crashed])
            .submit(&tx, false)
            .expect("submission during the crash admitted");
        last_id = tx.id();
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = height(http_addrs[0]).expect("validator-0 answers") + 2;
    nodes.0[crashed] = spawn_node(dir.path(), crashed);
    let restart = Instant::now();
    loop {
        if height(http_addrs[crashed]).is_some_and(|height| height >= target) {
            break;
        }
        if restart.elapsed() > WAIT_MAX {
            dump_logs();
            panic!("the restarted node did not reach height {target} within {WAIT_MAX:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let after_restart = client(http_addrs[crashed]).get_json(&path).expect("get tx after restart");
    assert_eq!(after_restart, receipts[0]);
    // The last transfer of the stream, committed while the node was down, is there the same.
    let last_path = format!("/v1/txs/{last_id}");
    let expected = client(http_addrs[0]).get_json(&last_path).expect("get last tx");
    let synced = client(http_addrs[crashed]).get_json(&last_path).expect("get last tx after sync");
    assert_eq!(synced, expected);
    // It got there through sync (blocks with certificates by height), not block by block.
    let log = std::fs::read_to_string(dir.path().join(format!("validator-{crashed}/node.log"))).expect("log");
    assert!(log.contains("syncing committed blocks from peers"), "the restarted node never synced");

    // Every node holds the same block, hence the same state root, at a common height.
    let common = http_addrs.iter().filter_map(|addr| height(*addr)).min().expect("some node answers");
    let headers: Vec<serde_json::Value> = http_addrs
        .iter()
        .map(|addr| {
            let answer = client(*addr).get_json(&format!("/v1/blocks/{common}")).expect("get block");
            answer["block"]["header"].clone()
        })
        .collect();
    assert!(headers.iter().all(|header| *header == headers[0]), "headers differ at {common}: {headers:#?}");
    assert!(headers[0]["state_root"].is_string(), "no state root in {:#}", headers[0]);

    // The globex issuer creates an asset: after the restart every node must still list it
    // (the listing is rebuilt from the stored state, not only from the genesis file).
    let globex_issuer = &testnet.issuer_keys[1].1;
    let issue = Transaction {
        chain_id: chain_id.clone(),
        signer: globex_issuer.public_key(),
        seq: 1,
        valid_until_height: Height(100_000),
        ops: BoundedVec::new(vec![Op::IssueAsset(IssueAsset {
            code: AssetCode::new("NEWCR").expect("valid code"),
            scale: 0,
            max_supply: None,
            flags: AssetFlags::default(),
        })])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(globex_issuer);
    let Submitted::Committed(issued) = client(http_addrs[0]).submit(&issue, true).expect("issue") else {
        panic!("a ?wait=commit submission answers with the inclusion")
    };
    assert_eq!(issued.receipt.outcome, TxOutcome::Success, "the asset was not issued: {:#}", issued.raw);

    // Stop all four (SIGTERM, as systemd or docker would) and start them again: each exits
    // cleanly, they resume from disk with nothing lost, and the chain goes on from where it was.
    let before_stop = http_addrs.iter().filter_map(|addr| height(*addr)).max().expect("heights");
    for child in &mut nodes.0 {
        let status =
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }
    for (index, child) in nodes.0.iter_mut().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll a stopping node") {
                break status;
            }
            if Instant::now() > deadline {
                dump_logs();
                panic!("node {index} did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "node {index} exited with {status} on SIGTERM");
    }
    for (index, node) in nodes.0.iter_mut().enumerate() {
        *node = spawn_node(dir.path(), index);
    }
    let resumed = Instant::now();
    loop {
        let heights: Vec<Option<u64>> = http_addrs.iter().map(|addr| height(*addr)).collect();
        if heights.iter().all(|height| height.is_some_and(|height| height > before_stop)) {
            break;
        }
        if resumed.elapsed() > WAIT_MAX {
            dump_logs();
            panic!("after a full restart the nodes did not pass height {before_stop}: {heights:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for addr in &http_addrs {
        for (tx_path, expected) in [(&path, &receipts[0]), (&last_path, &expected)] {
            let answer = client(*addr)
                .get_json(tx_path)
                .unwrap_or_else(|error| panic!("{tx_path} lost on {addr}: {error}"));
            assert_eq!(&answer, expected);
        }
        let assets = client(*addr).assets(None, 100).expect("list assets after restart");
        assert!(
            assets.assets.iter().any(|asset| asset.asset.to_string() == "NEWCR@globex"),
            "{addr} lost the issued asset from its listing: {assets:?}"
        );
    }

    // A validator whose WAL file is lost must not start: it no longer knows what it signed.
    let last = VALIDATORS - 1;
    Command::new("kill").args(["-TERM", &nodes.0[last].id().to_string()]).status().expect("run kill");
    nodes.0[last].wait().expect("wait for the stopped node");
    let wal = find_file(&dir.path().join(format!("validator-{last}")), tally_store::WAL_FILE_NAME)
        .expect("the validator has a WAL file");
    std::fs::rename(&wal, wal.with_extension("lost")).expect("lose the WAL");
    nodes.0[last] = spawn_node(dir.path(), last);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = nodes.0[last].try_wait().expect("poll") {
            break status;
        }
        assert!(Instant::now() < deadline, "a validator without its WAL file kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "a validator without its WAL file exited with {status}");
    let log = std::fs::read_to_string(dir.path().join(format!("validator-{last}/node.log"))).expect("log");
    assert!(log.contains("wal.redb") && log.contains("signing twice"), "no clear refusal in the log: {log}");
    assert!(!wal.exists(), "the refused start made a new, empty WAL");
    drop(nodes);
}

/// The first file named `name` under `dir`, depth first.
fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
    }
    None
}

fn transfer(
    chain_id: &ChainId,
    from: &SecretKey,
    asset: &AssetId,
    to: PublicKey,
    seq: u64,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id.clone(),
        signer: from.public_key(),
        seq,
        valid_until_height: Height(100_000),
        ops: BoundedVec::new(vec![Op::Transfer(Transfer { asset: asset.clone(), to, amount: Amount(250) })])
            .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(from)
}
