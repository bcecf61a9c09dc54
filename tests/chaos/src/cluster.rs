//! The network under test: a four-member consortium's genesis (built with `tally-genesis`'s
//! testnet builder, then each validator moved to its namespace's address), one data
//! directory per node (on a tmpfs of its own when running as root, so that the disk-full
//! fault can fill it), and the `tally-node` processes, started, killed, paused and restarted
//! by PID.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tally_client::http::NodeClient;
use tally_genesis::init::{Testnet, TestnetSpec, build_testnet, write_testnet};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis};
use tally_types::{Amount, ChainId, MemberId};

use crate::net::{Netns, run};

pub const MEMBERS: [&str; 4] = ["acme", "globex", "initech", "hooli"];
/// Ports inside each namespace (every node has its own address, so all use the same).
const NS_P2P_PORT: u16 = 27_000;
const NS_HTTP_PORT: u16 = 28_000;
/// The libfaketime preload library (Debian's `faketime` package).
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// How one node is started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variant {
    /// Wall-clock offset in seconds (libfaketime), none for the real clock.
    pub clock_skew_s: Option<i64>,
    /// Run the older binary (`--old-bin`).
    pub old_binary: bool,
}

pub struct ClusterSpec {
    pub dir: PathBuf,
    pub nodes: usize,
    pub bin_dir: PathBuf,
    pub old_bin_dir: Option<PathBuf>,
    pub seed: u64,
    /// Size of each node's data tmpfs in MiB; none: no tmpfs (not root, or loopback mode).
    pub tmpfs_mb: Option<u64>,
}

pub struct Cluster {
    pub dir: PathBuf,
    pub testnet: Testnet,
    pub netns: Option<Netns>,
    pub http: Vec<SocketAddr>,
    bin_dir: PathBuf,
    old_bin_dir: Option<PathBuf>,
    procs: Vec<Option<Child>>,
    pub variants: Vec<Variant>,
    mounts: Vec<PathBuf>,
}

fn free_base_port(seed: u64) -> u16 {
    let start = 20_000 + (u64::from(std::process::id()).wrapping_mul(31) ^ seed) % 20_000;
    for attempt in 0..500u64 {
        let base = (20_000 + (start + attempt * 7) % 20_000) as u16;
        let free = (0..4u16)
            .flat_map(|k| [base + k, base + 1_000 + k])
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return base;
        }
    }
    20_000
}

/// Moves validator `k` of the genesis to namespace address `ip`.
fn relocate(genesis: &Genesis, ips: &[Ipv4Addr]) -> Result<Genesis, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(&genesis.to_json_pretty()).map_err(|e| e.to_string())?;
    let validators = value["validators"].as_array_mut().ok_or("genesis has no validators list")?;
    for (entry, ip) in validators.iter_mut().zip(ips) {
        entry["p2p_listen"] = format!("/ip4/{ip}/tcp/{NS_P2P_PORT}").into();
        entry["http_listen"] = format!("{ip}:{NS_HTTP_PORT}").into();
    }
    Genesis::from_json(&value.to_string()).map_err(|error| format!("relocated genesis refused: {error}"))
}

impl Cluster {
    /// Writes the network under `spec.dir` (keys, genesis, node.toml per validator).
    pub fn create(spec: &ClusterSpec, netns: Option<Netns>) -> Result<Cluster, String> {
        let chain_id =
            ChainId::new(format!("tally-chaos-{}", spec.seed % 1_000_000)).map_err(|e| e.to_string())?;
        let members: Vec<MemberId> =
            MEMBERS.iter().map(|name| MemberId::new(*name).expect("valid member")).collect();
        let testnet_spec = TestnetSpec {
            chain_id: chain_id.clone(),
            validators: spec.nodes,
            members,
            genesis_time_ms: crate::history::now_ms(),
            consensus: ConsensusParams {
                timeout_propose_ms: 1_000,
                timeout_notarize_ms: 1_500,
                timeout_max_ms: 10_000,
                ..ConsensusParams::default()
            },
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: free_base_port(spec.seed),
            issuer_float: Some(Amount(1_000_000_000)),
        };
        let keys = KeySource::seeded(&spec.seed.to_le_bytes(), &chain_id).map_err(|e| e.to_string())?;
        let mut testnet = build_testnet(&testnet_spec, &keys).map_err(|e| e.to_string())?;
        if let Some(netns) = &netns {
            let ips: Vec<Ipv4Addr> = netns.slots.iter().map(|slot| slot.ip).collect();
            testnet.genesis = relocate(&testnet.genesis, &ips)?;
        }
        write_testnet(&testnet, &spec.dir, false).map_err(|e| e.to_string())?;
        let http = testnet.genesis.validators().iter().map(|v| v.http_listen).collect();
        let mut cluster = Cluster {
            dir: spec.dir.clone(),
            testnet,
            netns,
            http,
            bin_dir: spec.bin_dir.clone(),
            old_bin_dir: spec.old_bin_dir.clone(),
            procs: (0..spec.nodes).map(|_| None).collect(),
            variants: vec![Variant::default(); spec.nodes],
            mounts: Vec::new(),
        };
        for k in 0..spec.nodes {
            cluster.prepare_node_dir(k, spec.tmpfs_mb)?;
        }
        Ok(cluster)
    }

    fn prepare_node_dir(&mut self, k: usize, tmpfs_mb: Option<u64>) -> Result<(), String> {
        let node_dir = self.node_dir(k);
        std::fs::write(
            node_dir.join("node.toml"),
            "[node]\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\nconsensus_key = \"consensus.key\"\nnetwork_key = \"network.key\"\n\n[log]\nlevel = \"info\"\n",
        )
        .map_err(|e| format!("write node.toml: {e}"))?;
        let data = node_dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("create {}: {e}", data.display()))?;
        if let Some(mb) = tmpfs_mb {
            let data_text = data.to_string_lossy().into_owned();
            run("mount", &["-t", "tmpfs", "-o", &format!("size={mb}m,mode=0700"), "tmpfs", &data_text])?;
            self.mounts.push(data);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn node_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("validator-{k}"))
    }

    pub fn data_dir(&self, k: usize) -> PathBuf {
        self.node_dir(k).join("data")
    }

    /// Whether node `k`'s data directory is a tmpfs of its own.
    pub fn has_tmpfs(&self, k: usize) -> bool {
        self.mounts.contains(&self.data_dir(k))
    }

    pub fn client(&self, k: usize) -> NodeClient {
        NodeClient::new(&format!("http://{}", self.http[k])).expect("a socket address is a valid URL")
    }

    pub fn chain_id(&self) -> &ChainId {
        self.testnet.genesis.chain_id()
    }

    /// Opening balances per asset.
    pub fn genesis_minted(&self) -> BTreeMap<String, u128> {
        let mut minted = BTreeMap::new();
        for entry in self.testnet.genesis.balances() {
            *minted.entry(entry.asset.to_string()).or_default() += entry.amount.0;
        }
        minted
    }

    pub fn is_running(&mut self, k: usize) -> bool {
        match &mut self.procs[k] {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The PID of node `k`'s process, if started.
    pub fn pid(&self, k: usize) -> Option<u32> {
        self.procs[k].as_ref().map(Child::id)
    }

    /// Starts node `k` (if it is not running) with its current variant.
    pub fn start(&mut self, k: usize) -> Result<(), String> {
        if self.is_running(k) {
            return Ok(());
        }
        let variant = self.variants[k].clone();
        let bin_dir = match (&self.old_bin_dir, variant.old_binary) {
            (Some(old), true) => old.clone(),
            _ => self.bin_dir.clone(),
        };
        let node_dir = self.node_dir(k);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node_dir.join("node.log"))
            .map_err(|e| format!("open node.log: {e}"))?;
        let binary = bin_dir.join("tally-node");
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &netns.slots[k].ns]).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        command.args(["run", "--config"]).arg(node_dir.join("node.toml"));
        if let Some(skew) = variant.clock_skew_s {
            command
                .env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME", format!("{skew:+}s"))
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
                .env("FAKETIME_NO_CACHE", "1");
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        // For scripts/chaos.sh's cleanup if the harness itself is killed (no Drop runs then).
        std::fs::write(node_dir.join("node.pid"), format!("{}\n", child.id()))
            .map_err(|e| format!("write node.pid: {e}"))?;
        self.procs[k] = Some(child);
        Ok(())
    }

    /// SIGKILL to node `k`, and reap it.
    pub fn kill(&mut self, k: usize) {
        if let Some(mut child) = self.procs[k].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to node `k`'s process.
    pub fn signal(&self, k: usize, signal: &str) -> Result<(), String> {
        let pid = self.pid(k).ok_or_else(|| format!("node {k} is not running"))?;
        run("kill", &[&format!("-{signal}"), &pid.to_string()]).map(drop)
    }

    pub fn restart(&mut self, k: usize) -> Result<(), String> {
        self.kill(k);
        self.start(k)
    }

    /// Node `k`'s committed height, or none if it does not answer.
    pub fn height(&self, k: usize) -> Option<u64> {
        self.client(k).status().ok().map(|status| status.committed_height.0)
    }

    /// The highest committed height any node reports.
    pub fn max_height(&self) -> Option<u64> {
        (0..self.len()).filter_map(|k| self.height(k)).max()
    }

    /// Waits until every node reports height ≥ `height`; the heights seen if not by `deadline`.
    pub fn wait_all(&mut self, height: u64, within: Duration) -> Result<(), Vec<Option<u64>>> {
        let start = Instant::now();
        loop {
            let heights: Vec<Option<u64>> = (0..self.len()).map(|k| self.height(k)).collect();
            if heights.iter().all(|h| h.is_some_and(|h| h >= height)) {
                return Ok(());
            }
            if start.elapsed() > within {
                return Err(heights);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of node `k`'s log.
    pub fn log_tail(&self, k: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(self.node_dir(k).join("node.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        strip_ansi(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// `text` without the terminal colour sequences (`ESC [ … m`) the human log format writes.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for k in 0..self.procs.len() {
            // A stopped process dies of SIGKILL too; CONT first anyway so nothing lingers.
            let _ = self.signal(k, "CONT");
            self.kill(k);
        }
        for mount in &self.mounts {
            let _ = run("umount", &["-l", &mount.to_string_lossy()]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_sequences_are_stripped_from_log_lines() {
        let line = "\u{1b}[2m2026-12-04T21:43:40Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m no space";
        assert_eq!(super::strip_ansi(line), "2026-12-04T21:43:40Z ERROR no space");
    }
}
