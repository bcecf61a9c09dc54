//! Resource exhaustion with real `tally-node` processes (issue #17 item 7): a thousand idle
//! HTTP connections held open against one validator while a peer holding a validator's network
//! key floods the others with invalid gossip. The validators keep committing and answering, the
//! idle connections are closed after the header timeout, the flooding peer is penalized and
//! logged by every validator, and the validator's peak resident memory stays bounded (it is
//! printed: `cargo test -p tally-node --test exhaustion -- --nocapture`).

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{VALIDATORS, client, height, start_network};
use tally_genesis::init::asset_code_for;
use tally_net::{NetworkConfig, Topic};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{Op, Transaction, Transfer};
use tally_types::{Amount, AssetId, Height, SecretKey};

const WAIT_MAX: Duration = Duration::from_secs(120);
const IDLE_CONNECTIONS: usize = 1_000;
/// Invalid gossip messages the flooder sends at most (it stops earlier once every validator
/// has cut it off).
const FLOOD_MAX: usize = 20_000;
const INVALID_MESSAGES_MAX: usize = 50;

/// Restarts validator `index` with a short header timeout and a low misconduct limit, so the
/// test sees both take effect within seconds.
fn spawn_tuned(dir: &Path, index: usize) -> Child {
    let node_dir = dir.join(format!("validator-{index}"));
    let config = node_dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\nconsensus_key = \"consensus.key\"\n\
             network_key = \"network.key\"\n\n[network]\ninvalid_messages_max = {INVALID_MESSAGES_MAX}\n\
             penalty_ms = 600000\n\n[http]\nheader_read_timeout_ms = 2000\n\n[log]\nlevel = \"info\"\n"
        ),
    )
    .expect("write node.toml");
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(node_dir.join("node.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn tally-node")
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT_MAX, "{what} within {WAIT_MAX:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Publishes distinct undecodable transaction batches as validator `index`'s network identity
/// until every other validator has cut it off or [`FLOOD_MAX`] were sent; returns how many.
fn flood(network: &common::Network, index: usize) -> usize {
    let genesis = &network.testnet.genesis;
    let peers = tally_node::engine::startup::validator_peers(genesis).expect("peers");
    let keypair =
        tally_net::keypair_from_seed(*network.testnet.validator_keys[index].network.seed()).expect("keypair");
    let listen = peers[index].addr.clone();
    let config = NetworkConfig::new(genesis.chain_id().as_str().to_owned(), keypair, listen, peers);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let (handle, mut events, event_loop) = tally_net::build(config).expect("flooder network");
        let task = tokio::spawn(event_loop.run());
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let started = Instant::now();
        let mut sent = 0;
        let mut seen_connected = false;
        while sent < FLOOD_MAX && started.elapsed() < WAIT_MAX {
            let connected = handle.connected_peers().await.expect("peers").len();
            seen_connected |= connected == VALIDATORS - 1;
            if seen_connected && connected == 0 {
                break;
            }
            for _ in 0..50 {
                // 0xff... is no borsh `TxBatch` (its length prefix alone exceeds the message).
                let mut garbage = vec![0xff; 4];
                garbage.extend_from_slice(format!(" invalid batch {sent}").as_bytes());
                if handle.publish(Topic::Transactions, garbage).await.is_ok() {
                    sent += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
        assert!(seen_connected, "the flooder never connected to every validator");
        sent
    })
}

// Not split: one scenario from set-up to the last check; the steps share the network.
#[test]
fn idle_connections_and_a_gossip_flood_do_not_stop_commits_and_the_flooder_is_penalized() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut network = start_network(dir.path(), "tally-exhaustion", &["acme"], 10_000_000, 2, WAIT_MAX);
    let dir = network.dir.clone();
    let addrs = network.http_addrs.clone();
    for index in 0..VALIDATORS - 1 {
        let child = &mut network.nodes.0[index];
        child.kill().expect("kill");
        child.wait().expect("reap");
        network.nodes.0[index] = spawn_tuned(&dir, index);
    }
    // Validator 3 stops: its network identity becomes the flooder's (a compromised validator).
    let flooder = VALIDATORS - 1;
    network.nodes.0[flooder].kill().expect("kill");
    network.nodes.0[flooder].wait().expect("reap");
    wait_for("validators 0-2 commit again after their restart", || {
        (0..flooder).all(|index| height(addrs[index]).is_some_and(|height| height >= 3))
    });
    let pid = network.nodes.0[0].id();
    let rss_before = memory_kib(pid, "VmRSS");

    // 1,000 idle connections to validator 0's API, opened and never written to.
    let mut idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
        .map(|_| TcpStream::connect(addrs[0]).expect("an idle connection is accepted"))
        .collect();
    let sent = flood(&network, flooder);

    // Still committing and answering: a transfer to validator 0 is committed.
    let chain_id = network.testnet.genesis.chain_id().clone();
    let (member, issuer) = network.testnet.issuer_keys[0].clone();
    let asset = AssetId::new(asset_code_for(&member).expect("code"), member);
    let tx = Transaction {
        chain_id,
        signer: issuer.public_key(),
        seq: 1,
        valid_until_height: Height(1_000_000),
        ops: BoundedVec::new(vec![Op::Transfer(Transfer {
            asset,
            to: SecretKey::from_seed(&[42; 32]).public_key(),
            amount: Amount(1),
        })])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&issuer);
    client(addrs[0]).submit(&tx, true).expect("a transfer is committed during the attack");

    // Every idle connection was closed by the node (header timeout 2 s).
    for (number, stream) in idle.iter_mut().enumerate() {
        stream.set_read_timeout(Some(WAIT_MAX)).expect("read timeout");
        let mut buf = [0u8; 64];
        let read = stream.read(&mut buf);
        assert!(
            matches!(read, Ok(0))
                || read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "idle connection {number} was not closed: {read:?}"
        );
    }
    drop(idle);

    // Every validator penalized the flooder, by its peer id, and says why.
    let flooder_peer = tally_node::engine::startup::validator_peers(&network.testnet.genesis).expect("peers")
        [flooder]
        .peer_id
        .to_string();
    for index in 0..flooder {
        let log =
            std::fs::read_to_string(dir.join(format!("validator-{index}/node.log"))).unwrap_or_default();
        let penalized =
            log.lines().any(|line| line.contains("peer penalized") && line.contains(&flooder_peer));
        if !penalized {
            network.dump_logs();
        }
        assert!(penalized, "validator-{index} logged no penalty for the flooder {flooder_peer}");
    }
    let peak = memory_kib(pid, "VmHWM");
    eprintln!(
        "validator-0: RSS {} MiB before, peak {} MiB with {IDLE_CONNECTIONS} idle connections and {sent} invalid \
         gossip messages sent",
        rss_before / 1024,
        peak / 1024
    );
    assert!(peak < 1024 * 1024, "validator-0 peaked at {} MiB", peak / 1024);
}
