//! A full node (`tally-node` without a consensus key) follows four validators: it reaches
//! their height, forwards a transaction submitted to it, and serves the committed
//! transaction with the same receipt and the same state root as the validators; stopped and
//! started again, it resumes from its store.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Nodes, VALIDATORS, client, free_base_port, height};
use tally_genesis::ConsensusParams;
use tally_genesis::init::{TestnetSpec, asset_code_for, build_testnet, write_testnet};
use tally_genesis::keys::KeySource;
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{Op, Transaction, Transfer};
use tally_types::{Amount, AssetId, ChainId, Height, MemberId, SecretKey};

const WAIT_MAX: Duration = Duration::from_secs(60);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT_MAX, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// Not split: one story on one running network, each step starting from the state the last one left.
#[test]
fn a_full_node_follows_forwards_and_serves_what_the_validators_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain_id = ChainId::new("tally-full-node-test").expect("valid");
    let members: Vec<MemberId> =
        ["acme", "globex"].iter().map(|id| MemberId::new(*id).expect("valid")).collect();
    let base_port = free_base_port();
    let spec = TestnetSpec {
        chain_id: chain_id.clone(),
        validators: VALIDATORS,
        members: members.clone(),
        genesis_time_ms: SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64,
        consensus: ConsensusParams { timeout_max_ms: 10_000, ..ConsensusParams::default() },
        listen_ip: "127.0.0.1".parse().expect("ip"),
        base_port,
        issuer_float: Some(Amount(1_000_000)),
    };
    let testnet =
        build_testnet(&spec, &KeySource::seeded(b"full-node", &chain_id).expect("keys")).expect("testnet");
    write_testnet(&testnet, dir.path(), false).expect("write");

    // The full node's home, made as an operator makes it; the validators admit its peer id
    // as an observer.
    let follower_dir = dir.path().join("full-node");
    let (p2p_port, http_port) = (base_port + VALIDATORS as u16, base_port + 1_000 + VALIDATORS as u16);
    let follower_http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("address");
    let init = Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["init", "--full-node", "--home"])
        .arg(&follower_dir)
        .args([
            "--p2p-listen",
            &format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
            "--http-listen",
            &follower_http.to_string(),
        ])
        .output()
        .expect("tally-node init");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    assert!(!follower_dir.join("consensus.key").exists(), "a full node has no consensus key");
    let peer_id = String::from_utf8_lossy(&init.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("peer id:").map(|id| id.trim().to_owned()))
        .expect("init prints the peer id");
    std::fs::copy(dir.path().join("genesis.json"), follower_dir.join("genesis.json")).expect("copy genesis");

    let spawn = |dir: &std::path::Path, config: String| -> Child {
        std::fs::write(dir.join("node.toml"), config).expect("write node.toml");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log")).expect("log");
        Command::new(env!("CARGO_BIN_EXE_tally-node"))
            .args(["run", "--config"])
            .arg(dir.join("node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tally-node")
    };
    let mut nodes = Nodes(Vec::new());
    for index in 0..VALIDATORS {
        let config = format!(
            "[node]\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\nconsensus_key = \"consensus.key\"\nnetwork_key = \"network.key\"\n\n[network]\nobservers = [\"{peer_id}\"]\n"
        );
        nodes.0.push(spawn(&dir.path().join(format!("validator-{index}")), config));
    }
    let follower_config =
        std::fs::read_to_string(follower_dir.join("node.toml")).expect("init wrote node.toml");
    nodes.0.push(spawn(&follower_dir, follower_config.clone()));
    let validator_http: Vec<SocketAddr> =
        testnet.genesis.validators().iter().map(|v| v.http_listen).collect();
    let dump = || {
        let log = std::fs::read_to_string(follower_dir.join("node.log")).unwrap_or_default();
        eprintln!("--- full node ---\n{}", log.lines().rev().take(20).collect::<Vec<_>>().join("\n"));
    };

    wait_for("the validators to reach height 3", || {
        validator_http.iter().all(|addr| height(*addr).is_some_and(|height| height >= 3))
    });
    let follow = || {
        let target = height(validator_http[0]).unwrap_or(u64::MAX);
        let start = Instant::now();
        while height(follower_http).is_none_or(|height| height < target) {
            if start.elapsed() > WAIT_MAX {
                // Say why: the full node's log (it may have failed to start, or to sync).
                dump();
                panic!("timed out waiting for the full node to reach the validators' height {target}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    follow();

    // A transfer submitted to the full node reaches the validators and comes back committed.
    let issuer = &testnet.issuer_keys[0].1;
    let asset = AssetId::new(asset_code_for(&members[0]).expect("code"), members[0].clone());
    let tx = Transaction {
        chain_id: chain_id.clone(),
        signer: issuer.public_key(),
        seq: 1,
        valid_until_height: Height(100_000),
        ops: BoundedVec::new(vec![Op::Transfer(Transfer {
            asset,
            to: SecretKey::from_seed(&[42; 32]).public_key(),
            amount: Amount(250),
        })])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(issuer);
    let id = tx.id();
    client(follower_http).submit(&tx, false).expect("the full node admits the submission");
    let path = format!("/v1/txs/{id}");
    let receipt_at = |addr: SocketAddr| -> Option<serde_json::Value> { client(addr).get_json(&path).ok() };
    let mut from_validator = None;
    wait_for("the transfer to commit on a validator", || {
        from_validator = receipt_at(validator_http[0]);
        from_validator.is_some()
    });
    let mut from_follower = None;
    wait_for("the full node to serve the committed transfer", || {
        from_follower = receipt_at(follower_http);
        from_follower.is_some()
    });
    if from_follower != from_validator {
        dump();
    }
    assert_eq!(from_follower, from_validator, "the full node serves the validators' receipt");

    // The same block header (and so the same state root) at the transfer's height.
    let block_height = from_validator.as_ref().expect("receipt")["height"].as_u64().expect("height");
    let header_at = |addr: SocketAddr| {
        let answer = client(addr).get_json(&format!("/v1/blocks/{block_height}")).expect("block");
        answer["block"]["header"].clone()
    };
    let header = header_at(validator_http[1]);
    // The answer is `{"block_id", "block": {"header", "txs"}}`: comparing a field the
    // answer lacks would compare null with null.
    assert!(header["state_root"].is_string(), "no header in the block answer: {header:#}");
    assert_eq!(header_at(follower_http), header);

    // Stopped and started again, it resumes from its store and follows on.
    let follower = nodes.0.last_mut().expect("the full node");
    follower.kill().expect("kill");
    follower.wait().expect("wait");
    let resumed_from = client(follower_http).status().is_err();
    assert!(resumed_from, "the full node is down");
    *nodes.0.last_mut().expect("slot") = spawn(&follower_dir, follower_config);
    wait_for("the restarted full node to answer", || height(follower_http).is_some());
    assert!(height(follower_http).expect("height") >= block_height, "it resumed from its store");
    follow();
}
