//! Shared set-up for tests that run real `tally-node` processes on 127.0.0.1: a four-validator
//! testnet written to a temporary directory, nodes that are killed when the test ends, and
//! [`client`]: the `tally-client` library's HTTP client (a dev-dependency only; the node crate
//! itself does not link the client, docs/ARCHITECTURE.md "Layout and dependency rules").

#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tally_client::http::NodeClient;
use tally_genesis::ConsensusParams;
use tally_genesis::init::{Testnet, TestnetSpec, build_testnet, write_testnet};
use tally_genesis::keys::KeySource;
use tally_types::{Amount, ChainId, MemberId};

pub const VALIDATORS: usize = 4;

/// Kills every node when the test ends, passing or panicking.
pub struct Nodes(pub Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A base port B such that B..=B+4 and B+1000..=B+1004 are free now (the builder's layout, and one
/// spare in each block for a full node).
pub fn free_base_port() -> u16 {
    let seed = std::process::id() as u64
        ^ SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed.wrapping_mul(31).wrapping_add(attempt * 97)) % 20_000) as u16;
        // One spare port in each block, for a full node beside the validators (full_node.rs).
        let ports = (0..=VALIDATORS as u16).flat_map(|k| [base + k, base + 1_000 + k]);
        let listeners: Vec<_> = ports.map(|port| TcpListener::bind(("127.0.0.1", port))).collect();
        if listeners.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("no free port range found");
}

/// A client for the node whose HTTP API listens on `addr`.
pub fn client(addr: SocketAddr) -> NodeClient {
    NodeClient::new(&format!("http://{addr}")).expect("a socket address makes a valid http:// URL")
}

/// The node's committed height, or `None` if it does not answer yet.
pub fn height(addr: SocketAddr) -> Option<u64> {
    client(addr).status().ok().map(|status| status.committed_height.0)
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("node.toml");
    std::fs::write(
        &path,
        "[node]\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\nconsensus_key = \"consensus.key\"\nnetwork_key = \"network.key\"\n\n[log]\nlevel = \"info\"\n",
    )
    .expect("write node.toml");
    path
}

/// Starts validator `index` of the testnet under `dir`, logging to its `node.log`.
pub fn spawn_node(dir: &Path, index: usize) -> Child {
    let node_dir = dir.join(format!("validator-{index}"));
    let config = write_config(&node_dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node_dir.join("node.log"))
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn tally-node")
}

/// A running four-validator network.
pub struct Network {
    pub testnet: Testnet,
    pub nodes: Nodes,
    pub http_addrs: Vec<SocketAddr>,
    pub dir: PathBuf,
}

impl Network {
    /// Prints the last lines of every node's log (for a failing test).
    pub fn dump_logs(&self) {
        for index in 0..VALIDATORS {
            let log = std::fs::read_to_string(self.dir.join(format!("validator-{index}/node.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!("--- validator-{index} (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }

    /// The HTTP base URL of validator `index`.
    pub fn url(&self, index: usize) -> String {
        format!("http://{}", self.http_addrs[index])
    }
}

/// Writes a testnet for `members` (each a genesis member with an asset of scale 2 and an
/// issuer float of `issuer_float` minor units) under `dir`, starts four nodes and waits until
/// all have committed height `min_height`.
pub fn start_network(
    dir: &Path,
    chain: &str,
    members: &[&str],
    issuer_float: u128,
    min_height: u64,
    wait_max: Duration,
) -> Network {
    let chain_id = ChainId::new(chain).expect("valid chain id");
    let members: Vec<MemberId> =
        members.iter().map(|name| MemberId::new(*name).expect("valid member")).collect();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64;
    let spec = TestnetSpec {
        chain_id: chain_id.clone(),
        validators: VALIDATORS,
        members,
        genesis_time_ms: now_ms,
        consensus: ConsensusParams {
            timeout_propose_ms: 1_000,
            timeout_notarize_ms: 1_500,
            timeout_max_ms: 10_000,
            ..ConsensusParams::default()
        },
        listen_ip: "127.0.0.1".parse().expect("ip"),
        base_port: free_base_port(),
        issuer_float: Some(Amount(issuer_float)),
    };
    let keys = KeySource::seeded(chain.as_bytes(), &chain_id).expect("key source");
    let testnet = build_testnet(&spec, &keys).expect("testnet");
    write_testnet(&testnet, dir, false).expect("write testnet");
    let mut nodes = Nodes(Vec::new());
    let mut http_addrs = Vec::new();
    for (index, validator) in testnet.genesis.validators().iter().enumerate() {
        nodes.0.push(spawn_node(dir, index));
        http_addrs.push(validator.http_listen);
    }
    let mut network = Network { testnet, nodes, http_addrs, dir: dir.to_path_buf() };
    let start = Instant::now();
    loop {
        let heights: Vec<Option<u64>> = network.http_addrs.iter().map(|addr| height(*addr)).collect();
        if heights.iter().all(|height| height.is_some_and(|height| height >= min_height)) {
            return network;
        }
        for child in &mut network.nodes.0 {
            if let Ok(Some(status)) = child.try_wait() {
                network.dump_logs();
                panic!("a node exited early: {status}");
            }
        }
        if start.elapsed() > wait_max {
            network.dump_logs();
            panic!("nodes did not all reach height {min_height} within {wait_max:?}: {heights:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `tally` binary: `TALLY_BIN`, or built next to `tally-node`.
pub fn tally_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TALLY_BIN") {
        return PathBuf::from(path);
    }
    let node = Path::new(env!("CARGO_BIN_EXE_tally-node"));
    let profile_dir = node.parent().expect("the binary is in a profile directory");
    let target_dir = profile_dir.parent().expect("the profile directory is in the target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "tally-client", "--bin", "tally", "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("run cargo build for the tally binary");
    assert!(status.success(), "building the tally binary failed: {status}");
    profile_dir.join("tally")
}
