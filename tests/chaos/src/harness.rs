//! One run end to end: set up, load, faults, heal, wait, collect, check, write the verdict.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::checker::{self, BlockSummary, FinalState, NodeFinal, SupplyInfo, Verdict};
use crate::cluster::{Cluster, ClusterSpec};
use crate::history::{Event, HistoryWriter, Outcome};
use crate::nemesis::{ALL_FAULTS, Capabilities, Fault, Nemesis};
use crate::net::{Netns, run};
use crate::rng::Rng;
use crate::workload::{self, WorkloadNet, user_key};

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub seed: u64,
    pub duration: Duration,
    pub nodes: usize,
    pub clients: usize,
    /// Where `tally-node` is.
    pub bin_dir: PathBuf,
    pub old_bin_dir: Option<PathBuf>,
    /// Where the run's files go (created; must not hold a previous run).
    pub out_dir: PathBuf,
    /// Skip namespaces even when root.
    pub loopback: bool,
    pub max_faults: Option<usize>,
    /// Draw only these faults (empty: every fault this machine can run).
    pub only_faults: Vec<Fault>,
    pub resume_bound_ms: u64,
    pub tmpfs_mb: u64,
    /// The command that reproduces this run, printed on failure.
    pub repro: String,
}

pub struct RunOutcome {
    pub verdict: Verdict,
    pub verdict_path: PathBuf,
    pub history_path: PathBuf,
    pub mode: String,
}

fn is_root() -> bool {
    run("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0")
}

/// Namespaces if root and they can be made; the reason printed when not.
fn network(config: &RunConfig) -> (Option<Netns>, String) {
    if config.loopback {
        return (None, "loopback only (asked for with --loopback): no network faults".into());
    }
    if !is_root() {
        return (None, "loopback only: not root, so no network namespaces; no network faults".into());
    }
    for name in Netns::remove_stale() {
        eprintln!("chaos: removed {name}, left by a crashed run");
    }
    match Netns::create(config.nodes) {
        Ok(netns) => {
            let netem =
                if netns.netem { "with netem" } else { "WITHOUT netem (this kernel lacks sch_netem)" };
            let mode =
                format!("network namespaces on bridge {} ({}/24), {netem}", netns.bridge, netns.host_ip);
            (Some(netns), mode)
        }
        Err(error) => (
            None,
            format!("loopback only: setting up network namespaces failed ({error}); no network faults"),
        ),
    }
}

/// Runs one seeded schedule and checks it.
pub fn run_once(config: &RunConfig) -> Result<RunOutcome, String> {
    std::fs::create_dir_all(&config.out_dir)
        .map_err(|e| format!("create {}: {e}", config.out_dir.display()))?;
    let (netns, mode) = network(config);
    eprintln!("chaos: {mode}");
    let caps = Capabilities {
        netns: netns.is_some(),
        netem: netns.as_ref().is_some_and(|n| n.netem),
        tmpfs: is_root(),
        faketime: std::path::Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1").exists(),
        old_binary: config.old_bin_dir.is_some(),
    };
    for fault in ALL_FAULTS {
        if let Some(why) = fault.unavailable(&caps) {
            eprintln!("chaos: skipping fault {}: {why}", fault.name());
        }
    }
    if let Some(fault) = config.only_faults.iter().find(|fault| fault.unavailable(&caps).is_some()) {
        return Err(format!(
            "--faults names {}, which cannot run here: {}",
            fault.name(),
            fault.unavailable(&caps).unwrap_or_default()
        ));
    }
    let spec = ClusterSpec {
        dir: config.out_dir.join("net"),
        nodes: config.nodes,
        bin_dir: config.bin_dir.clone(),
        old_bin_dir: config.old_bin_dir.clone(),
        seed: config.seed,
        tmpfs_mb: caps.tmpfs.then_some(config.tmpfs_mb),
    };
    let mut cluster = Cluster::create(&spec, netns)?;
    for k in 0..cluster.len() {
        cluster.start(k)?;
    }
    if let Err(heights) = cluster.wait_all(2, Duration::from_secs(90)) {
        let logs: Vec<String> =
            (0..cluster.len()).map(|k| format!("node {k}:\n{}", cluster.log_tail(k, 10))).collect();
        return Err(format!("the network did not start (heights {heights:?}):\n{}", logs.join("\n")));
    }
    let history_path = config.out_dir.join("history.jsonl");
    let history = HistoryWriter::create(&history_path)?;
    let faults = load_and_faults(config, &mut cluster, &history, caps)?;
    eprintln!("chaos: {faults} faults injected; healed; collecting the final state");
    let events = history.events();
    let state = final_state(&mut cluster, &events, config)?;
    let verdict = checker::check(&events, &state, config.resume_bound_ms);
    let verdict_path = config.out_dir.join("verdict.json");
    let mut document = serde_json::to_value(&verdict).map_err(|e| e.to_string())?;
    document["seed"] = config.seed.into();
    document["mode"] = mode.clone().into();
    document["repro"] = config.repro.clone().into();
    std::fs::write(&verdict_path, serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?)
        .map_err(|e| format!("write {}: {e}", verdict_path.display()))?;
    let state_path = config.out_dir.join("final-state.json");
    std::fs::write(&state_path, serde_json::to_string(&state).map_err(|e| e.to_string())?)
        .map_err(|e| format!("write {}: {e}", state_path.display()))?;
    Ok(RunOutcome { verdict, verdict_path, history_path, mode })
}

/// The workload under the nemesis for the run's duration, then healed load for a few seconds.
fn load_and_faults(
    config: &RunConfig,
    cluster: &mut Cluster,
    history: &HistoryWriter,
    caps: Capabilities,
) -> Result<usize, String> {
    let net = WorkloadNet {
        chain_id: cluster.chain_id().clone(),
        urls: cluster.http.iter().map(|addr| format!("http://{addr}")).collect(),
        issuers: cluster.testnet.issuer_keys.clone(),
        seed: config.seed,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let clients = {
        let (history, stop, clients) = (history.clone(), Arc::clone(&stop), config.clients);
        std::thread::spawn(move || workload::run(&net, clients, &history, &stop))
    };
    let deadline = Instant::now() + config.duration;
    let mut nemesis = Nemesis {
        cluster,
        rng: Rng::derive(config.seed, 1),
        history: history.clone(),
        caps,
        recovery_wait: Duration::from_millis(config.resume_bound_ms.max(10_000) * 2),
        high_water: 0,
        only: config.only_faults.clone(),
    };
    // A few seconds of load before the first fault.
    std::thread::sleep(Duration::from_secs(3));
    let count = nemesis.run(deadline, config.max_faults);
    let healed = nemesis.heal_all();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    if clients.join().is_err() {
        return Err("the workload thread panicked".into());
    }
    healed.map(|()| count)
}

/// Waits until every node is past the last height an unknown transaction could commit at,
/// then reads every node's blocks, evidence, supplies and balances.
fn final_state(cluster: &mut Cluster, events: &[Event], config: &RunConfig) -> Result<FinalState, String> {
    let last_valid = events
        .iter()
        .filter_map(|e| match e {
            Event::Tx(tx) if tx.outcome != Outcome::Refused => Some(tx.valid_until),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let now = cluster.max_height().unwrap_or(0);
    let target = now.max(last_valid + 1);
    if let Err(heights) = cluster.wait_all(target, Duration::from_secs(180)) {
        eprintln!("chaos: not every node reached height {target}: {heights:?}");
    }
    let mut accounts: Vec<String> =
        cluster.testnet.issuer_keys.iter().map(|(_, key)| key.public_key().to_string()).collect();
    accounts.extend((0..config.clients).map(|id| user_key(config.seed, id).public_key().to_string()));
    let assets: Vec<String> = cluster.genesis_minted().keys().cloned().collect();
    let mut nodes = Vec::new();
    for k in 0..cluster.len() {
        nodes.push(node_final(cluster, k, target, &accounts, &assets));
    }
    let mut committed_success = std::collections::BTreeMap::new();
    let reader = cluster.client(0);
    for block in nodes.first().map_or(&[][..], |n: &NodeFinal| &n.blocks[..]) {
        for tx in &block.txs {
            let id: tally_types::TxId =
                tx.parse().map_err(|e| format!("block {} lists tx id {tx}: {e:?}", block.height))?;
            if let Ok(Some(inclusion)) = reader.tx(&id) {
                committed_success
                    .insert(tx.clone(), inclusion.receipt.outcome == tally_types::TxOutcome::Success);
            }
        }
    }
    Ok(FinalState {
        target_height: target,
        nodes,
        genesis_minted: cluster.genesis_minted(),
        committed_success,
    })
}

fn node_final(cluster: &Cluster, k: usize, target: u64, accounts: &[String], assets: &[String]) -> NodeFinal {
    let client = cluster.client(k);
    let mut node = NodeFinal { node: k, ..NodeFinal::default() };
    for height in 1..=target {
        let path = format!("/v1/blocks/{height}");
        // A few tries: one dropped connection must not read as a missing block.
        let Some(block) = (0..5).find_map(|_| {
            client.get_json(&path).ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(200));
                None
            })
        }) else {
            break;
        };
        let header = &block["block"]["header"];
        let txs = block["block"]["txs"].as_array().map_or(Vec::new(), |txs| {
            txs.iter().filter_map(|tx| tx["tx_id"].as_str().map(str::to_owned)).collect()
        });
        node.blocks.push(BlockSummary {
            height: header["height"].as_u64().unwrap_or(0),
            block_id: block["block_id"].as_str().unwrap_or_default().to_owned(),
            state_root: header["state_root"].as_str().unwrap_or_default().to_owned(),
            txs,
        });
    }
    let mut after: Option<String> = None;
    while let Ok(page) = client.evidence(after.as_deref(), 100) {
        node.evidence.extend(page.evidence.iter().map(|record| (record.signer, record.kind.clone())));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for asset in assets {
        if let Ok(id) = asset.parse()
            && let Ok(info) = client.asset(&id)
        {
            // The API gives human units at the asset's scale; the checker works in minor units.
            let minor = |text: &str| {
                tally_types::Amount::parse(text, info.scale)
                    .map_or_else(|e| format!("{text} (unreadable: {e})"), |a| a.0.to_string())
            };
            node.assets.insert(
                asset.clone(),
                SupplyInfo {
                    supply: minor(&info.supply),
                    minted: minor(&info.minted),
                    burned: minor(&info.burned),
                },
            );
        }
    }
    for account in accounts {
        let Ok(key) = account.parse() else { continue };
        let Ok(info) = client.account(&key) else { continue };
        let balances = info.balances.iter().map(|b| {
            let total = b.available_minor.parse::<u128>().ok().zip(b.locked_minor.parse::<u128>().ok());
            let text = total.map_or_else(
                || format!("{}+{}", b.available_minor, b.locked_minor),
                |(a, l)| (a + l).to_string(),
            );
            (b.asset.to_string(), text)
        });
        node.balances.insert(account.clone(), balances.collect());
    }
    node
}
