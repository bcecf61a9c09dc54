//! Governance end to end (issue #12) on a real four-validator network on 127.0.0.1, driven only
//! by the `tally` and `tally-node` binaries: members propose and vote with their governance keys
//! (`tally gov`), a proposal passes at more than two thirds and only once, a fifth provider that
//! ran `tally-node init` and `tally-node apply` is admitted with its validator, which the state
//! schedules two blocks after the passing vote; from the genesis file alone, `tally verify`
//! against a node and `tally audit` follow the chain across the change of validators; the
//! fifth provider's node follows the chain as a full node until that epoch, then validates; a
//! genesis validator is voted out and its node stops, naming why; with another stopped, blocks
//! commit only with the fifth's votes, and the audit covers that epoch too; bad input is
//! refused by name (a threshold below one half, a vote from a non-member, a forged
//! application, an application for another chain).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT_MAX: Duration = Duration::from_secs(60);
const CHAIN: &str = "tally-governance-test";

struct Tally {
    bin: PathBuf,
    keystore: PathBuf,
    node: String,
}

impl Tally {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env("TALLY_KEYSTORE", &self.keystore)
            .env("TALLY_PASSPHRASE", "governance")
            .env("TALLY_NODE", &self.node)
            .stdin(Stdio::null())
            .output()
            .expect("the tally binary runs")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let output = self.run(&full);
        assert!(
            output.status.success(),
            "tally {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        serde_json::from_slice(&output.stdout).expect("JSON")
    }

    /// Runs a command that must fail, and returns its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "tally {args:?} should have failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

/// A promo grant of umbrella's asset to `outsider`, committed.
fn grant_umbrella(tally: &Tally, amount: &str, reference: &str) {
    let args = ["grant", "--asset", "UMB@umbrella", "--to", "outsider", "--amount", amount];
    let mut args = args.to_vec();
    args.extend_from_slice(&["--kind", "promo", "--ref", reference, "--from", "umbrella", "--wait"]);
    tally.json(&args);
}

fn tally_node_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tally-node"))
}

#[test]
fn members_vote_a_threshold_change_and_a_new_provider_in() {
    let bin = common::tally_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let members = ["acme", "globex", "initech", "hooli"];
    let mut network = common::start_network(dir.path(), CHAIN, &members, 1_000_000, 2, WAIT_MAX);
    let tally = Tally { bin, keystore: dir.path().join("keys"), node: network.url(0) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for member in members {
            let key_file = dir.path().join("members").join(member).join("issuer.key");
            tally.json(&["keys", "import", member, "--file", key_file.to_str().expect("UTF-8")]);
        }
        threshold_change(&tally);
        let fifth = admission(&tally, dir.path());
        across_the_epoch(&tally, dir.path(), fifth.start, 1);
        fifth_validator_joins(&tally, &mut network, dir.path(), fifth);
        across_the_epoch(&tally, dir.path(), 0, 2);
    }));
    if result.is_err() {
        network.dump_logs();
    }
    drop(network);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn threshold_change(tally: &Tally) {
    let id = "0000000000000000000000000000aa01";
    let proposed =
        tally.json(&["gov", "propose", "set-threshold", "3/4", "--id", id, "--from", "acme", "--wait"]);
    assert_eq!(proposed["proposal_id"], id);
    tally.json(&["gov", "vote", id, "yes", "--from", "globex", "--wait"]);
    assert_eq!(tally.json(&["gov", "show", id])["status"], "open", "two of four is not more than 2/3");
    tally.json(&["gov", "vote", id, "yes", "--from", "initech", "--wait"]);
    let shown = tally.json(&["gov", "show", id]);
    assert_eq!(shown["status"], "passed", "{shown}");
    assert_eq!(shown["yes"], 3);
    let status = tally.json(&["gov", "status"]);
    assert_eq!(status["governance"]["value_decoded"]["threshold"]["numerator"], 3);
    assert_eq!(status["governance"]["value_decoded"]["threshold"]["denominator"], 4);

    // Passed once: a later vote is refused by the ledger, by name.
    let error = tally.refused(&["gov", "vote", id, "yes", "--from", "hooli", "--wait"]);
    assert!(error.contains("decided"), "{error}");
    // Bad input, refused before anything is sent.
    let error = tally.refused(&["gov", "propose", "set-threshold", "1/3", "--from", "acme"]);
    assert!(error.contains("below one half"), "{error}");
    let error = tally.refused(&["gov", "vote", "not-an-id", "yes", "--from", "acme"]);
    assert!(error.contains("proposal id"), "{error}");
    // A key that is no member's governance key.
    tally.json(&["keys", "new", "outsider"]);
    let error = tally.refused(&["gov", "vote", id, "yes", "--from", "outsider", "--wait"]);
    assert!(error.contains("not the governance key of an active member"), "{error}");
    let listed = tally.json(&["gov", "list"]);
    assert_eq!(listed["proposals"].as_array().map(Vec::len), Some(1));
}

/// Where the fifth provider's node runs: its home and addresses.
struct Fifth {
    home: PathBuf,
    http: std::net::SocketAddr,
    /// The height where its validator's epoch starts.
    start: u64,
}

/// Two ports free now on 127.0.0.1 (p2p, HTTP), for the fifth provider's node.
fn two_free_ports() -> (u16, u16) {
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let second = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    (first.local_addr().expect("addr").port(), second.local_addr().expect("addr").port())
}

// Not split: one story on one running network, each step starting from the state the last one left.
fn admission(tally: &Tally, dir: &Path) -> Fifth {
    // The fifth provider, on its own: node keys in its home, issuer key in its keystore.
    let home = dir.join("umbrella-home");
    let (p2p_port, http_port) = two_free_ports();
    let p2p = format!("/ip4/127.0.0.1/tcp/{p2p_port}");
    let http = format!("127.0.0.1:{http_port}");
    let init = Command::new(tally_node_binary())
        .args(["init", "--home", home.to_str().expect("UTF-8"), "--p2p-listen", &p2p, "--http-listen", &http])
        .output()
        .expect("tally-node init runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let issuer = tally.json(&["keys", "new", "umbrella"])["address"].as_str().expect("address").to_owned();
    let apply = |chain: &str, out: &Path| {
        let output = Command::new(tally_node_binary())
            .args(["apply", "--home", home.to_str().expect("UTF-8"), "--chain-id", chain])
            .args(["--member", "umbrella", "--member-name", "Umbrella APIs", "--issuer", &issuer])
            .args(["--asset", "UMB", "--validator-name", "umbrella-0"])
            .args(["--p2p-address", &p2p, "--http-address", &http])
            .args(["--out", out.to_str().expect("UTF-8")])
            .output()
            .expect("tally-node apply runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let signed = tally.run(&["application", "sign", "--key", "umbrella", out.to_str().expect("UTF-8")]);
        assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    };
    let application = dir.join("umbrella.json");
    apply(CHAIN, &application);
    let application = application.to_str().expect("UTF-8");

    // An application for another chain, and a forged one, are refused by name.
    let elsewhere = dir.join("elsewhere.json");
    apply("tally-elsewhere", &elsewhere);
    let error = tally.refused(&[
        "gov",
        "propose",
        "add-member",
        elsewhere.to_str().expect("UTF-8"),
        "--from",
        "acme",
    ]);
    assert!(error.contains("tally-elsewhere") && error.contains(CHAIN), "{error}");
    let forged = dir.join("forged.json");
    let mut document: Value =
        serde_json::from_slice(&std::fs::read(application).expect("read")).expect("JSON");
    document["member_name"] = Value::from("Umbrella Corp");
    std::fs::write(&forged, document.to_string()).expect("write");
    let error =
        tally.refused(&["gov", "propose", "add-member", forged.to_str().expect("UTF-8"), "--from", "acme"]);
    assert!(error.contains("proof of possession"), "{error}");

    // Threshold is now 3/4: all four must say yes (3 of 4 is not more than 3/4).
    let id = "0000000000000000000000000000bb02";
    tally.json(&["gov", "propose", "add-member", application, "--id", id, "--from", "acme", "--wait"]);
    for member in ["globex", "initech"] {
        tally.json(&["gov", "vote", id, "yes", "--from", member, "--wait"]);
    }
    assert_eq!(tally.json(&["gov", "show", id])["status"], "open");
    tally.json(&["gov", "vote", id, "yes", "--from", "hooli", "--wait"]);
    let shown = tally.json(&["gov", "show", id]);
    assert_eq!(shown["status"], "passed", "{shown}");
    let passed_at = shown["outcome"]["height"].as_u64().expect("height");

    // The member and its asset exist at once; its validator is in the epoch from passed + 2.
    grant_umbrella(tally, "5", "welcome");
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let status = tally.json(&["gov", "status"]);
        let current = &status["epochs"]["value_decoded"]["current"];
        if current["start_height"].as_u64() == Some(passed_at + 2) {
            assert_eq!(current["number"], 1);
            assert_eq!(current["validators"].as_array().map(Vec::len), Some(5));
            let umbrella = status["validators"]
                .as_array()
                .expect("validators")
                .iter()
                .find(|validator| validator["member"] == "umbrella")
                .expect("umbrella's validator is listed");
            assert_eq!(umbrella["in_current_epoch"], true);
            assert_eq!(status["members"].as_array().map(Vec::len), Some(5));
            break;
        }
        assert!(Instant::now() < deadline, "the epoch never started: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Fifth { home, http: http.parse().expect("address"), start: passed_at + 2 }
}

/// The fifth provider starts its node after the vote: it follows the chain as a full node
/// until its epoch is current, then validates without a restart. Then the members remove
/// validator-3 (n = 4 again): its node stops, saying why; once validator-2 stops too, blocks
/// commit only with the fifth's votes (Q = 3 of 0, 1 and the fifth).
fn fifth_validator_joins(tally: &Tally, network: &mut common::Network, dir: &Path, fifth: Fifth) {
    std::fs::copy(dir.join("genesis.json"), fifth.home.join("genesis.json")).expect("copy genesis");
    let log = std::fs::File::create(fifth.home.join("node.log")).expect("log file");
    let child = Command::new(tally_node_binary())
        .args(["run", "--config", fifth.home.join("node.toml").to_str().expect("UTF-8")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn the fifth node");
    let mut nodes = common::Nodes(vec![child]);
    let log_of_fifth = || std::fs::read_to_string(fifth.home.join("node.log")).unwrap_or_default();
    let deadline = Instant::now() + WAIT_MAX;
    while !log_of_fifth().contains("this node now validates") {
        if let Ok(Some(status)) = nodes.0[0].try_wait() {
            panic!("the fifth node exited ({status}):\n{}", log_of_fifth());
        }
        assert!(Instant::now() < deadline, "the fifth node never started validating:\n{}", log_of_fifth());
        std::thread::sleep(Duration::from_millis(200));
    }
    let removed = network.testnet.genesis.validators()[3].consensus_key.to_string();
    let id = "0000000000000000000000000000bb03";
    tally.json(&["gov", "propose", "remove-validator", &removed, "--id", id, "--from", "acme", "--wait"]);
    for member in ["globex", "initech", "umbrella"] {
        tally.json(&["gov", "vote", id, "yes", "--from", member, "--wait"]);
    }
    assert_eq!(tally.json(&["gov", "show", id])["status"], "passed");
    let deadline = Instant::now() + WAIT_MAX;
    let status = loop {
        // Blocks keep coming (the epoch starts two blocks after the vote).
        grant_umbrella(tally, "1", "tick");
        if let Ok(Some(status)) = network.nodes.0[3].try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "the removed validator's node did not stop");
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.join("validator-3/node.log")).expect("log");
    assert!(log.contains("no longer validates"), "validator-3 stopped without saying why:\n{log}");
    // Validator-2 stops: 0, 1 and the fifth are left, a quorum of 3 only with the fifth.
    let pid = network.nodes.0[2].id();
    let killed = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let before = common::height(network.http_addrs[0]).expect("validator-0 answers");
    for n in 0..3 {
        grant_umbrella(tally, "1", &format!("after-{n}"));
    }
    let after = common::height(network.http_addrs[0]).expect("validator-0 answers");
    assert!(after > before, "the chain stopped with the fifth validator voting: {before} → {after}");
    let fifth_height = common::height(fifth.http).expect("the fifth node answers");
    assert!(fifth_height + 5 >= after, "the fifth node is behind: {fifth_height} vs {after}");
    drop(nodes);
}

/// From the genesis file alone, across the change of validators: `tally verify` against a node
/// follows the node's chain of epochs (`GET /v1/epochs`) to the latest set and checks a state
/// proof at a height of `epoch` with it, and `tally audit` replays the chain through every
/// epoch up to `epoch`.
fn across_the_epoch(tally: &Tally, dir: &Path, start: u64, epoch: u64) {
    let genesis = dir.join("genesis.json");
    let genesis = genesis.to_str().expect("UTF-8");
    let status = tally.json(&["gov", "status"]);
    let key = status["epochs"]["key_hex"].as_str().expect("the epochs entry's key").to_owned();
    let verified = tally.json(&["verify", "state", &key, "--genesis", genesis]);
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["finality"]["epoch"], epoch, "{verified}");
    assert!(verified["finality"]["height"].as_u64().is_some_and(|height| height >= start), "{verified}");
    let audited = tally.json(&["audit", "--genesis", genesis]);
    assert_eq!(audited["ok"], true, "{audited}");
    assert_eq!(audited["summary"]["final_epoch"], epoch, "{audited}");
}
