//! Resource exhaustion with real `tally-node` processes (issue #17 item 7): a thousand idle
//! HTTP connections held open against one validator while a peer holding a validator's network
//! key floods the others with invalid gossip. The validators keep committing and answering, the
//! idle connections are closed after the header timeout, the flooding peer is penalized and
//! logged by every validator; then a flood of deeply nested and oversized request bodies, each
//! answered with a problem document. The validator's peak resident memory stays bounded (it is
//! printed after each flood: `cargo test -p tally-node --test exhaustion -- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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
/// The body flood: threads, and requests per thread (half nested, half oversized).
const BODY_FLOOD_THREADS: usize = 8;
const BODY_FLOOD_PER_THREAD: usize = 40;
/// Under the default body limit (1 MiB): `{"tx":` and 900,000 `[` then 100 `]`.
const NESTED_OPEN: usize = 900_000;
/// Over the default body limit.
const OVERSIZED_BYTES: usize = 4 << 20;

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

/// One `POST /v1/txs` with `body` on a new connection: the answer's status if the node answered
/// (its content type must be problem+json), `None` if it closed the connection first (it may
/// answer 413 and close before an oversized body is sent).
fn post_body(addr: SocketAddr, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT_MAX)).expect("read timeout");
    let head = format!(
        "POST /v1/txs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    // A write may fail once the node has answered and closed: read what it said.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let problem = text.lines().any(|line| {
        line.to_ascii_lowercase().starts_with("content-type:") && line.contains("application/problem+json")
    });
    assert!(problem, "answer {status} is not problem+json: {text}");
    Some(status)
}

/// Requests from several threads, alternating a deeply nested body under the size limit and an
/// oversized one: the answers by status, and how many connections were closed unanswered.
fn body_flood(addr: SocketAddr) -> (BTreeMap<u16, usize>, usize) {
    let nested: Vec<u8> = [&b"{\"tx\":"[..], &vec![b'['; NESTED_OPEN], &[b']'; 100]].concat();
    let oversized = vec![b'0'; OVERSIZED_BYTES];
    let results: Vec<Option<u16>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..BODY_FLOOD_THREADS)
            .map(|_| {
                scope.spawn(|| {
                    (0..BODY_FLOOD_PER_THREAD)
                        .map(|number| post_body(addr, if number % 2 == 0 { &nested } else { &oversized }))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("a flood thread")).collect()
    });
    let mut statuses = BTreeMap::new();
    for status in results.iter().flatten() {
        *statuses.entry(*status).or_insert(0) += 1;
    }
    (statuses, results.iter().filter(|result| result.is_none()).count())
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
    let transfer = |seq| {
        Transaction {
            chain_id: chain_id.clone(),
            signer: issuer.public_key(),
            seq,
            valid_until_height: Height(1_000_000),
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: asset.clone(),
                to: SecretKey::from_seed(&[42; 32]).public_key(),
                amount: Amount(1),
            })])
            .expect("one op"),
            memo: BoundedBytes::empty(),
        }
        .sign(&issuer)
    };
    client(addrs[0]).submit(&transfer(1), true).expect("a transfer is committed during the attack");

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
    let peak_idle = memory_kib(pid, "VmHWM");

    // Deeply nested and oversized bodies: each a problem document (400 for the nesting, 413 for
    // the size), or a connection closed before the oversized body was sent; then the node still
    // commits.
    let (statuses, cut_off) = body_flood(addrs[0]);
    let nested_sent = BODY_FLOOD_THREADS * BODY_FLOOD_PER_THREAD / 2;
    assert_eq!(statuses.get(&400), Some(&nested_sent), "{statuses:?}, {cut_off} cut off");
    assert!(statuses.keys().all(|status| [400, 413].contains(status)), "{statuses:?}");
    assert_eq!(statuses.values().sum::<usize>() + cut_off, 2 * nested_sent);
    client(addrs[0]).submit(&transfer(2), true).expect("a transfer is committed after the body flood");
    let peak_bodies = memory_kib(pid, "VmHWM");

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
    eprintln!(
        "validator-0: RSS {} MiB before; peak {} MiB with {IDLE_CONNECTIONS} idle connections and {sent} invalid \
         gossip messages sent; peak {} MiB after {} nested and oversized bodies (answers by status {statuses:?}, \
         {cut_off} closed before the body was sent)",
        rss_before / 1024,
        peak_idle / 1024,
        peak_bodies / 1024,
        2 * nested_sent,
    );
    assert!(peak_bodies < 1024 * 1024, "validator-0 peaked at {} MiB", peak_bodies / 1024);
}
