//! Governance end to end (issue #12) on a real four-validator network on 127.0.0.1, driven only
//! by the `tally` and `tally-node` binaries: members propose and vote with their governance keys
//! (`tally gov`), a proposal passes at more than two thirds and only once, a fifth provider that
//! ran `tally-node init` and `tally-node apply` is admitted with its validator, which the state
//! schedules two blocks after the passing vote; bad input is refused by name (a threshold below
//! one half, a vote from a non-member, a forged application, an application for another chain);
//! and, from the genesis file alone, `tally verify` against a node and `tally audit` follow the
//! chain across the change of validators.

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

fn tally_node_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tally-node"))
}

#[test]
fn members_vote_a_threshold_change_and_a_new_provider_in() {
    let bin = common::tally_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let members = ["acme", "globex", "initech", "hooli"];
    let network = common::start_network(dir.path(), CHAIN, &members, 1_000_000, 2, WAIT_MAX);
    let tally = Tally { bin, keystore: dir.path().join("keys"), node: network.url(0) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for member in members {
            let key_file = dir.path().join("members").join(member).join("issuer.key");
            tally.json(&["keys", "import", member, "--file", key_file.to_str().expect("UTF-8")]);
        }
        threshold_change(&tally);
        let start = admission(&tally, dir.path());
        across_the_epoch(&tally, dir.path(), start);
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

/// Admits the fifth provider; returns the height where its validator's epoch starts.
fn admission(tally: &Tally, dir: &Path) -> u64 {
    // The fifth provider, on its own: node keys in its home, issuer key in its keystore.
    let home = dir.join("umbrella-home");
    let init = Command::new(tally_node_binary())
        .args(["init", "--home", home.to_str().expect("UTF-8")])
        .output()
        .expect("tally-node init runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let issuer = tally.json(&["keys", "new", "umbrella"])["address"].as_str().expect("address").to_owned();
    let apply = |chain: &str, out: &Path| {
        let output = Command::new(tally_node_binary())
            .args(["apply", "--home", home.to_str().expect("UTF-8"), "--chain-id", chain])
            .args(["--member", "umbrella", "--member-name", "Umbrella APIs", "--issuer", &issuer])
            .args(["--asset", "UMB", "--validator-name", "umbrella-0"])
            .args(["--p2p-address", "/ip4/127.0.0.1/tcp/1", "--http-address", "127.0.0.1:2"])
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
    tally.json(&[
        "grant",
        "--asset",
        "UMB@umbrella",
        "--to",
        "outsider",
        "--amount",
        "5",
        "--kind",
        "promo",
        "--ref",
        "welcome",
        "--from",
        "umbrella",
        "--wait",
    ]);
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
            return passed_at + 2;
        }
        assert!(Instant::now() < deadline, "the epoch never started: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// From the genesis file alone, across the change of validators: `tally verify` against a node
/// follows the node's chain of epochs (`GET /v1/epochs`) to the new set and checks a state
/// proof at a height of epoch 1 with it, and `tally audit` replays the chain through both
/// epochs.
fn across_the_epoch(tally: &Tally, dir: &Path, start: u64) {
    let genesis = dir.join("genesis.json");
    let genesis = genesis.to_str().expect("UTF-8");
    let status = tally.json(&["gov", "status"]);
    let key = status["epochs"]["key_hex"].as_str().expect("the epochs entry's key").to_owned();
    let verified = tally.json(&["verify", "state", &key, "--genesis", genesis]);
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["finality"]["epoch"], 1, "{verified}");
    assert!(verified["finality"]["height"].as_u64().is_some_and(|height| height >= start), "{verified}");
    let audited = tally.json(&["audit", "--genesis", genesis]);
    assert_eq!(audited["ok"], true, "{audited}");
    assert_eq!(audited["summary"]["final_epoch"], 1, "{audited}");
}
