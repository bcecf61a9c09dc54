//! A consortium formed as operators on separate machines form it: each validator runs in its
//! own network namespace with its own address (not loopback), joined by a bridge that the
//! test creates and removes. Each operator makes its keys in its own folder (`tally-node
//! init`, `tally keys new`) and signs an application (`tally-node apply`, `tally application
//! sign`); the applications are collected into a genesis (`tally-genesis new`, `add`,
//! `finalize`) whose hash every operator checks; the four nodes then find each other over
//! the namespaces' addresses, commit a transfer, and the chain audits from the genesis file.
//! Then the consortium changes by vote while transfers keep committing: a fifth provider runs
//! `tally-node init` in a fifth namespace, is voted in with its validator, follows the chain
//! and then validates (n = 5); a validator of another member is voted out (n = 4) and its node
//! stops; a member's validator key is rotated to keys made in a new home, whose node follows
//! and then validates; the audit from genesis covers every epoch.
//!
//! Needs root (network namespaces); run as another user it says so and does nothing.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Nodes, height, tally_binary};

const OPERATORS: [&str; 4] = ["acme", "globex", "initech", "hooli"];
const CHAIN: &str = "tally-netns-test";
const WAIT_MAX: Duration = Duration::from_secs(90);
/// The longest the committed height of acme's node may stand still while the consortium
/// changes: "the chain never stops". Far above a block time and an epoch change's catch-up
/// on a shared machine; a chain that stopped would stand still until the test's end.
const STALL_MAX: Duration = Duration::from_secs(45);

/// The namespaces, the veth pairs and the bridge of one test run; removed on drop.
struct Lan {
    bridge: String,
    namespaces: Vec<String>,
}

impl Lan {
    /// A bridge with address 10.77.`subnet`.254/24 in this namespace, and one namespace per
    /// operator at 10.77.`subnet`.(K + 1).
    fn create(subnet: u8, hosts: usize) -> Lan {
        let tag = format!("{:x}", std::process::id() % 0xffff);
        let mut lan = Lan { bridge: format!("tbr{tag}"), namespaces: Vec::new() };
        ip(&["link", "add", &lan.bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("10.77.{subnet}.254/24"), "dev", &lan.bridge]);
        ip(&["link", "set", &lan.bridge, "up"]);
        for k in 0..hosts {
            let namespace = format!("tally{tag}n{k}");
            let host_end = format!("tv{tag}n{k}");
            ip(&["netns", "add", &namespace]);
            lan.namespaces.push(namespace.clone());
            ip(&["link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", &namespace]);
            ip(&["link", "set", &host_end, "master", &lan.bridge, "up"]);
            let address = format!("10.77.{subnet}.{}/24", k + 1);
            ip(&["netns", "exec", &namespace, "ip", "addr", "add", &address, "dev", "eth0"]);
            ip(&["netns", "exec", &namespace, "ip", "link", "set", "eth0", "up"]);
            ip(&["netns", "exec", &namespace, "ip", "link", "set", "lo", "up"]);
        }
        lan
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for namespace in &self.namespaces {
            // Deleting a namespace deletes its end of the veth pair, and so the pair.
            let _ = Command::new("ip").args(["netns", "del", namespace]).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).status();
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(output.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// A binary of this workspace next to `tally-node` (built by cargo for the tests).
fn sibling(name: &str) -> PathBuf {
    if name == "tally" {
        return tally_binary();
    }
    let node = Path::new(env!("CARGO_BIN_EXE_tally-node"));
    let profile_dir = node.parent().expect("a profile directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", name, "--bin", name, "--target-dir"])
        .arg(profile_dir.parent().expect("a target directory"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|dir| dir == "release") {
        command.arg("--release");
    }
    assert!(command.status().expect("cargo build").success(), "building {name} failed");
    profile_dir.join(name)
}

/// Runs a command and returns its output, failing the test with its stderr if it fails.
fn run(program: &Path, args: &[&str], keystore: Option<&Path>) -> Output {
    let mut command = Command::new(program);
    command.args(args).env("TALLY_PASSPHRASE", "netns-test");
    if let Some(keystore) = keystore {
        command.env("TALLY_KEYSTORE", keystore);
    }
    let output = command.output().expect("run a tally binary");
    assert!(
        output.status.success(),
        "{} {} failed: {}{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The value of `"key": "value"` in a JSON text (enough for the CLI's flat answers).
fn json_field(text: &str, key: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON output");
    value[key].as_str().unwrap_or_else(|| panic!("no string `{key}` in {text}")).to_owned()
}

// Not split: one story on one running network, each step starting from the state the last one left.
#[test]
fn operators_on_separate_hosts_form_a_consortium_from_applications() {
    if effective_uid() != 0 {
        eprintln!("SKIPPED: network namespaces need root (run the tests as root, as CI does)");
        return;
    }
    let (node_bin, genesis_bin, tally_bin) =
        (sibling("tally-node"), sibling("tally-genesis"), sibling("tally"));
    let subnet = (std::process::id() % 200) as u8 + 10;
    // Four operators, and a fifth provider that joins later.
    let lan = Lan::create(subnet, OPERATORS.len() + 1);
    let dir = tempfile::tempdir().expect("tempdir");

    // 1. Each operator, in its own folder ("its machine"): keys, then a signed application.
    let mut applications = Vec::new();
    let mut homes = Vec::new();
    for (k, member) in OPERATORS.iter().enumerate() {
        let operator = dir.path().join(member);
        let home = operator.join("node");
        let keystore = operator.join("keys");
        let address = format!("10.77.{subnet}.{}", k + 1);
        run(&node_bin, &["init", "--home", home.to_str().expect("utf-8")], None);
        run(&tally_bin, &["keys", "new", "issuer"], Some(&keystore));
        let issuer = json_field(
            &stdout(&run(&tally_bin, &["--json", "keys", "show", "issuer"], Some(&keystore))),
            "address",
        );
        let application = operator.join("application.json");
        let asset = member.to_uppercase();
        let p2p = format!("/ip4/{address}/tcp/27000");
        let http = format!("{address}:28000");
        run(
            &node_bin,
            &[
                "apply",
                "--home",
                home.to_str().expect("utf-8"),
                "--chain-id",
                CHAIN,
                "--member",
                member,
                "--member-name",
                &asset,
                "--issuer",
                &issuer,
                "--asset",
                &asset,
                "--validator-name",
                &format!("{member}-0"),
                "--p2p-address",
                &p2p,
                "--http-address",
                &http,
                "--out",
                application.to_str().expect("utf-8"),
            ],
            None,
        );
        run(
            &tally_bin,
            &["application", "sign", "--key", "issuer", application.to_str().expect("utf-8")],
            Some(&keystore),
        );
        // No private key outside the operator's folder: the application holds none.
        let text = std::fs::read_to_string(&application).expect("read");
        for key_file in ["consensus.key", "network.key"] {
            let secret = std::fs::read_to_string(home.join(key_file)).expect("key");
            assert!(!text.contains(secret.trim()), "{key_file} leaked into the application");
        }
        applications.push(application);
        homes.push((home, keystore, address));
    }

    // 2. The coordinator collects them; 3. every operator checks the hash of its copy.
    let draft = dir.path().join("draft.json");
    let genesis = dir.path().join("genesis.json");
    let (draft_arg, genesis_arg) = (draft.to_str().expect("utf-8"), genesis.to_str().expect("utf-8"));
    run(&genesis_bin, &["new", "--chain-id", CHAIN, "--issuer-float", "1000", "--out", draft_arg], None);
    let mut add = vec!["add", "--draft", draft_arg];
    add.extend(applications.iter().map(|path| path.to_str().expect("utf-8")));
    run(&genesis_bin, &add, None);
    run(&genesis_bin, &["finalize", "--draft", draft_arg, "--out", genesis_arg], None);
    let hash = stdout(&run(&genesis_bin, &["hash", genesis_arg], None));
    for (home, _, _) in &homes {
        std::fs::copy(&genesis, home.join("genesis.json")).expect("copy genesis");
        assert_eq!(
            stdout(&run(&genesis_bin, &["hash", home.join("genesis.json").to_str().expect("utf-8")], None)),
            hash
        );
    }

    // 4. Each node in its own namespace, listening on its own address.
    let mut nodes = Nodes(Vec::new());
    for ((home, _, _), namespace) in homes.iter().zip(&lan.namespaces) {
        let log = std::fs::File::create(home.join("node.log")).expect("log");
        let child: Child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .arg(&node_bin)
            .args(["run", "--config"])
            .arg(home.join("node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tally-node in its namespace");
        nodes.0.push(child);
    }
    let addrs: Vec<SocketAddr> =
        homes.iter().map(|(_, _, address)| format!("{address}:28000").parse().expect("address")).collect();
    let dump = || {
        for (home, _, _) in &homes {
            let log = std::fs::read_to_string(home.join("node.log")).unwrap_or_default();
            eprintln!(
                "--- {} ---\n{}",
                home.display(),
                log.lines().rev().take(12).collect::<Vec<_>>().join("\n")
            );
        }
    };
    let start = Instant::now();
    while !addrs.iter().all(|addr| height(*addr).is_some_and(|height| height >= 3)) {
        if start.elapsed() > WAIT_MAX {
            dump();
            panic!("the four nodes did not reach height 3 across namespaces within {WAIT_MAX:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }

    // A transfer from acme's issuer, submitted to acme's node, committed on all four.
    let (_, acme_keys, acme_address) = &homes[0];
    let node_url = format!("http://{acme_address}:28000");
    let receiver = json_field(
        &stdout(&run(&tally_bin, &["--json", "keys", "show", "issuer"], Some(&homes[1].1))),
        "address",
    );
    let transfer = run(
        &tally_bin,
        &[
            "--node",
            &node_url,
            "--json",
            "transfer",
            "--asset",
            "ACME@acme",
            "--to",
            &receiver,
            "--amount",
            "12.5",
            "--from",
            "issuer",
            "--wait",
        ],
        Some(acme_keys),
    );
    let receipt = stdout(&transfer);
    assert!(receipt.contains("success") || receipt.contains("committed"), "{receipt}");
    for (_, keys, address) in &homes {
        let url = format!("http://{address}:28000");
        let account = stdout(&run(&tally_bin, &["--node", &url, "--json", "account", &receiver], Some(keys)));
        assert!(
            account.contains("12.5") || account.contains("1250"),
            "node {url} does not show the transfer: {account}"
        );
    }

    change_by_vote(
        &Change { node_bin: &node_bin, tally_bin: &tally_bin, lan: &lan, subnet, dir: dir.path() },
        &homes,
        &genesis,
        &mut nodes,
    );

    // The whole chain audits from the genesis file, through another operator's node.
    let audit_url = format!("http://{}:28000", homes[2].2);
    let audit = run(&tally_bin, &["--node", &audit_url, "audit", "--genesis", genesis_arg], None);
    assert!(stdout(&audit).contains("OK"), "{}", stdout(&audit));
    drop(nodes);
    drop(lan);
}

/// What the lifecycle steps share.
struct Change<'a> {
    node_bin: &'a Path,
    tally_bin: &'a Path,
    lan: &'a Lan,
    subnet: u8,
    dir: &'a Path,
}

impl Change<'_> {
    /// `tally` as operator `home` runs it: its keystore, its node.
    fn tally(&self, home: &(PathBuf, PathBuf, String), args: &[&str]) -> String {
        let url = format!("http://{}:28000", home.2);
        let mut full = vec!["--node", url.as_str(), "--json"];
        full.extend_from_slice(args);
        stdout(&run(self.tally_bin, &full, Some(&home.1)))
    }

    /// An operator's new home in namespace `k` (0-based), with its keys, node.toml listening on
    /// `port` + 1000 for HTTP, the genesis beside it, and an application for `member` signed
    /// with the keystore's issuer key.
    fn application(
        &self,
        k: usize,
        home: &Path,
        keystore: &Path,
        member: &str,
        validator: &str,
        port: u16,
    ) -> PathBuf {
        let address = format!("10.77.{}.{}", self.subnet, k + 1);
        let p2p = format!("/ip4/{address}/tcp/{port}");
        let http = format!("{address}:{}", port + 1_000);
        let home_arg = home.to_str().expect("utf-8");
        run(self.node_bin, &["init", "--home", home_arg, "--p2p-listen", &p2p, "--http-listen", &http], None);
        std::fs::copy(self.dir.join("genesis.json"), home.join("genesis.json")).expect("copy genesis");
        let issuer = json_field(
            &stdout(&run(self.tally_bin, &["--json", "keys", "show", "issuer"], Some(keystore))),
            "address",
        );
        let application = home.with_extension("application.json");
        let asset = member.to_uppercase();
        run(
            self.node_bin,
            &[
                "apply",
                "--home",
                home_arg,
                "--chain-id",
                CHAIN,
                "--member",
                member,
                "--member-name",
                &asset,
                "--issuer",
                &issuer,
                "--asset",
                &asset,
                "--validator-name",
                validator,
                "--p2p-address",
                &p2p,
                "--http-address",
                &http,
                "--out",
                application.to_str().expect("utf-8"),
            ],
            None,
        );
        run(
            self.tally_bin,
            &["application", "sign", "--key", "issuer", application.to_str().expect("utf-8")],
            Some(keystore),
        );
        application
    }

    /// Starts the node of `home` in namespace `k`.
    fn start(&self, k: usize, home: &Path) -> Child {
        let log = std::fs::File::create(home.join("node.log")).expect("log");
        Command::new("ip")
            .args(["netns", "exec", &self.lan.namespaces[k]])
            .arg(self.node_bin)
            .args(["run", "--config"])
            .arg(home.join("node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tally-node in its namespace")
    }

    /// Waits until `home`'s node log says `text`.
    fn wait_log(&self, home: &Path, text: &str) {
        let start = Instant::now();
        loop {
            let log = std::fs::read_to_string(home.join("node.log")).unwrap_or_default();
            if log.contains(text) {
                return;
            }
            assert!(start.elapsed() < WAIT_MAX, "{} never logged `{text}`:\n{log}", home.display());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Proposes `action` as operator 0 and has `voters` vote yes; it must pass.
    fn pass(&self, homes: &[(PathBuf, PathBuf, String)], action: &[&str], id: &str, voters: &[usize]) {
        let mut propose = vec!["gov", "propose"];
        propose.extend_from_slice(action);
        propose.extend_from_slice(&["--id", id, "--from", "issuer", "--wait"]);
        self.tally(&homes[0], &propose);
        for &voter in voters {
            self.tally(&homes[voter], &["gov", "vote", id, "yes", "--from", "issuer", "--wait"]);
        }
        // The last vote committed on its voter's node; acme's node may be a block behind.
        let start = Instant::now();
        loop {
            let shown = self.tally(&homes[0], &["gov", "show", id]);
            if shown.contains("\"passed\"") {
                return;
            }
            assert!(start.elapsed() < WAIT_MAX, "proposal {id} did not pass: {shown}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A transfer of 1 ACME from acme's issuer commits (the chain goes on).
    fn transfer_commits(&self, homes: &[(PathBuf, PathBuf, String)], to: &str) {
        let receipt = self.tally(
            &homes[0],
            &["transfer", "--asset", "ACME@acme", "--to", to, "--amount", "1", "--from", "issuer", "--wait"],
        );
        assert!(receipt.contains("success") || receipt.contains("committed"), "{receipt}");
    }

    /// The validator named `name` signs: its index in the current epoch's set is among the
    /// signers of a recent finalization on acme's node (its votes count).
    fn signs_certificates(&self, homes: &[(PathBuf, PathBuf, String)], name: &str) {
        let key = self.consensus_key(homes, name);
        let status: serde_json::Value =
            serde_json::from_str(&self.tally(&homes[0], &["gov", "status"])).expect("JSON");
        let index = current_validators(&status)
            .and_then(|keys| keys.iter().position(|candidate| candidate.as_str() == Some(key.as_str())))
            .unwrap_or_else(|| panic!("{name} is not in the current epoch: {status}"));
        let acme = format!("{}:28000", homes[0].2).parse().expect("address");
        let client = common::client(acme);
        let start = Instant::now();
        loop {
            let tip = height(acme).expect("acme answers");
            let signed = (tip.saturating_sub(20)..=tip).any(|h| {
                client
                    .get_json(&format!("/v1/blocks/{h}/certificate"))
                    .ok()
                    .and_then(|answer| {
                        serde_json::from_value::<tally_types::Certificate>(answer["certificate"].clone()).ok()
                    })
                    .is_some_and(|certificate| {
                        certificate.signer_indices().contains(&tally_types::ValidatorIndex(index as u16))
                    })
            });
            if signed {
                return;
            }
            assert!(
                start.elapsed() < WAIT_MAX,
                "{name} (index {index}) signed none of the last 20 finalizations"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The consensus key of the validator named `name`, from `tally gov status`.
    fn consensus_key(&self, homes: &[(PathBuf, PathBuf, String)], name: &str) -> String {
        let status: serde_json::Value =
            serde_json::from_str(&self.tally(&homes[0], &["gov", "status"])).expect("JSON");
        status["validators"]
            .as_array()
            .expect("validators")
            .iter()
            .find(|validator| validator["name"] == name)
            .and_then(|validator| validator["consensus_key"].as_str())
            .unwrap_or_else(|| panic!("no validator {name}: {status}"))
            .to_owned()
    }
}

/// The consortium changes by vote across the namespaces. Throughout, a payer sends transfers
/// one after another, each waiting for its commit, and a watcher samples acme's committed
/// height: every transfer commits and the height never stands still for [`STALL_MAX`].
fn change_by_vote(
    change: &Change,
    operators: &[(PathBuf, PathBuf, String)],
    genesis: &Path,
    nodes: &mut Nodes,
) {
    let _ = genesis;
    let receiver = json_field(
        &stdout(&run(change.tally_bin, &["--json", "keys", "show", "issuer"], Some(&operators[1].1))),
        "address",
    );
    // The payer: its own key (so its seqs never meet the operators' votes), funded by acme.
    let payer_keys = change.dir.join("payer");
    run(change.tally_bin, &["keys", "new", "payer"], Some(&payer_keys));
    let payer = json_field(
        &stdout(&run(change.tally_bin, &["--json", "keys", "show", "payer"], Some(&payer_keys))),
        "address",
    );
    change.tally(
        &operators[0],
        &["transfer", "--asset", "ACME@acme", "--to", &payer, "--amount", "5", "--from", "issuer", "--wait"],
    );
    // The payer's `tally`: its own keystore, acme's node.
    let payer_home = (operators[0].0.clone(), payer_keys.clone(), operators[0].2.clone());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        let payments = scope.spawn(|| {
            let mut committed = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let receipt = change.tally(
                    &payer_home,
                    &[
                        "transfer",
                        "--asset",
                        "ACME@acme",
                        "--to",
                        &receiver,
                        "--amount",
                        "0.01",
                        "--from",
                        "payer",
                        "--wait",
                    ],
                );
                assert!(
                    receipt.contains("success"),
                    "a transfer during the changes did not commit: {receipt}"
                );
                committed += 1;
            }
            committed
        });
        let watch = scope.spawn(|| {
            let acme: SocketAddr = format!("{}:28000", operators[0].2).parse().expect("address");
            let (mut last, mut since, mut longest) = (0u64, Instant::now(), Duration::ZERO);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(now) = height(acme)
                    && now > last
                {
                    (last, since) = (now, Instant::now());
                }
                longest = longest.max(since.elapsed());
                std::thread::sleep(Duration::from_millis(250));
            }
            (last, longest)
        });
        let steps = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            change_steps(change, operators, nodes, &receiver)
        }));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let committed = payments.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let (tip, longest) = watch.join().expect("the watcher does not panic");
        if let Err(panic) = steps {
            std::panic::resume_unwind(panic);
        }
        assert!(committed >= 10, "only {committed} transfers committed during the changes");
        assert!(longest < STALL_MAX, "the chain stood still for {longest:?} (height {tip})");
        eprintln!(
            "during the changes: {committed} transfers committed; longest stall {longest:?}; height {tip}"
        );
    });
}

/// The votes of [`change_by_vote`], in order.
fn change_steps(
    change: &Change,
    operators: &[(PathBuf, PathBuf, String)],
    nodes: &mut Nodes,
    receiver: &str,
) {
    let receiver = receiver.to_owned();
    let mut homes = operators.to_vec();

    // A fifth provider, in the fifth namespace: keys, application, vote, node.
    let umbrella = change.dir.join("umbrella");
    let umbrella_keys = umbrella.join("keys");
    run(change.tally_bin, &["keys", "new", "issuer"], Some(&umbrella_keys));
    let umbrella_home = umbrella.join("node");
    let application = change.application(4, &umbrella_home, &umbrella_keys, "umbrella", "umbrella-0", 27000);
    change.pass(
        &homes,
        &["add-member", application.to_str().expect("utf-8")],
        "000000000000000000000000000000a1",
        &[1, 2],
    );
    nodes.0.push(change.start(4, &umbrella_home));
    homes.push((umbrella_home.clone(), umbrella_keys, format!("10.77.{}.5", change.subnet)));
    change.wait_log(&umbrella_home, "this node now validates");
    change.transfer_commits(&homes, &receiver);
    change.signs_certificates(&homes, "umbrella-0");

    // Hooli's validator is voted out (5 members: 4 yes needed); its node stops.
    let hooli_key = change.consensus_key(&homes, "hooli-0");
    change.pass(&homes, &["remove-validator", &hooli_key], "000000000000000000000000000000a2", &[1, 2, 4]);
    change.transfer_commits(&homes, &receiver);
    change.transfer_commits(&homes, &receiver);
    change.wait_log(&operators[3].0, "no longer validates");

    // Globex rotates its validator to keys made in a new home; the old node stops, the new
    // one follows and then validates.
    let globex_key = change.consensus_key(&homes, "globex-0");
    let rotated_home = change.dir.join("globex").join("node-2");
    let application = change.application(1, &rotated_home, &operators[1].1, "globex", "globex-1", 27001);
    change.pass(
        &homes,
        &["rotate-key", &globex_key, application.to_str().expect("utf-8")],
        "000000000000000000000000000000a3",
        &[1, 2, 4],
    );
    nodes.0.push(change.start(1, &rotated_home));
    change.transfer_commits(&homes, &receiver);
    change.wait_log(&operators[1].0, "no longer validates");
    change.wait_log(&rotated_home, "this node now validates");
    change.transfer_commits(&homes, &receiver);
}

/// The current epoch's validator keys, in order, from `tally gov status` (the proven `Epochs`
/// entry, wherever its decoded value holds `current.validators`).
fn current_validators(status: &serde_json::Value) -> Option<Vec<serde_json::Value>> {
    fn find(value: &serde_json::Value) -> Option<Vec<serde_json::Value>> {
        if let Some(validators) = value.get("current").and_then(|current| current.get("validators")) {
            return validators.as_array().cloned();
        }
        match value {
            serde_json::Value::Object(map) => map.values().find_map(find),
            serde_json::Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    find(status.get("epochs")?)
}

/// The effective user id (root can make network namespaces).
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .unwrap_or(u32::MAX)
}
