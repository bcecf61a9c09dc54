//! The credits market end to end (issue 5), on a real four-validator network on 127.0.0.1,
//! driven only by the `tally` client binary: a developer earns ACME reward credits, sells them
//! on the book for GLOBEX credits to a second developer who bought GLOBEX (a partial fill,
//! then the rest), then spends GLOBEX on metered usage through authorize → hold → settle from
//! a usage CSV; a repeated settle with the same batch id is refused and changes nothing; every
//! balance, locked amount and the book are asserted exactly at the end.
//!
//! Then badges and the auditor (issue 6) on the same network: acme anchors three example
//! badges in one transaction, each verifies against the node from the genesis file alone,
//! the anchor transaction verifies with `tally verify tx`, a revoked badge fails verification
//! at the non-revocation step, `tally audit` verifies the whole running chain over HTTP, and an
//! archive exported from a running node (`tally-node export --node`) audits and verifies
//! badges offline.
//!
//! Then price plans (issue 16): acme and globex publish the example plans, 250 search queries
//! are quoted under both (and in ACME through the market's last price), developer 1 agrees to
//! acme's plan, acme's settlement at an amount the plan does not give is refused by the ledger
//! (settle_amount_mismatch, nothing moves), and the plan's own amount settles.
//!
//! The `tally` binary belongs to another package, so cargo does not build it for this test:
//! the test builds it (a no-op when fresh) with the cargo that runs the test, into the same
//! target directory, unless `TALLY_BIN` names one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT_MAX: Duration = Duration::from_secs(60);
/// Each issuer's genesis float of its own asset, in minor units (scale 2): 10,000.00.
const ISSUER_FLOAT: u128 = 1_000_000;

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
            .env("TALLY_PASSPHRASE", "scenario")
            .env("TALLY_NODE", &self.node)
            .stdin(Stdio::null())
            .output()
            .expect("the tally binary runs")
    }

    /// Runs `tally --json ARGS`, which must succeed, and returns its JSON document.
    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let output = self.run(&full);
        assert!(
            output.status.success(),
            "tally {args:?} failed ({:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!("tally {args:?}: not JSON ({error}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    /// (available, locked) of `who` in `asset`, in minor units.
    fn balance(&self, who: &str, asset: &str) -> (u128, u128) {
        let account = self.json(&["account", who]);
        let minor = |value: &Value| value.as_str().and_then(|text| text.parse().ok()).expect("minor units");
        account["balances"]
            .as_array()
            .expect("balances")
            .iter()
            .find(|balance| balance["asset"] == asset)
            .map(|balance| (minor(&balance["available_minor"]), minor(&balance["locked_minor"])))
            .unwrap_or((0, 0))
    }
}

#[test]
fn earn_trade_and_spend_credits_on_four_nodes_with_the_tally_client() {
    let bin = common::tally_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let network = common::start_network(
        dir.path(),
        "tally-scenario-test",
        &["acme", "globex"],
        ISSUER_FLOAT,
        2,
        WAIT_MAX,
    );
    let started = Instant::now();
    // Submit to one node, read from another: everything asserted is committed state.
    let tally = Tally { bin, keystore: dir.path().join("keys"), node: network.url(1) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&tally, dir.path());
        badges_and_audit(&tally, dir.path());
        prices(&tally, dir.path());
    }));
    if result.is_err() {
        network.dump_logs();
    }
    eprintln!("scenario took {:?}", started.elapsed());
    drop(network);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

// Not split: one story on one running network, each step starting from the state the last one left.
fn scenario(tally: &Tally, dir: &Path) {
    let (acme, globex) = ("ACME@acme", "GLOBEX@globex");
    for member in ["acme", "globex"] {
        let key_file = dir.join("members").join(member).join("issuer.key");
        let key_file = key_file.to_str().expect("UTF-8 path");
        tally.json(&["keys", "import", &format!("{member}-issuer"), "--file", key_file]);
    }
    let dev1 = tally.json(&["keys", "new", "dev1"])["address"].as_str().expect("address").to_owned();
    tally.json(&["keys", "new", "dev2"]);
    let wait = |from: &'static str| ["--from", from, "--wait"];

    // Developer 1 earns 100 ACME for a client library; developer 2 buys 500 GLOBEX.
    let mut args = vec!["grant", "--asset", acme, "--to", "dev1", "--amount", "100", "--kind", "reward"];
    args.extend(["--reason", "client-library", "--ref", "lib-tally-py"]);
    args.extend(wait("acme-issuer"));
    tally.json(&args);
    let mut args = vec!["grant", "--asset", globex, "--to", "dev2", "--amount", "500", "--kind", "purchase"];
    args.extend(["--ref", "order-1"]);
    args.extend(wait("globex-issuer"));
    tally.json(&args);
    assert_eq!(tally.balance("dev1", acme), (10_000, 0));
    assert_eq!(tally.balance("dev2", globex), (50_000, 0));

    // Developer 1 offers 40 ACME at 1.5 GLOBEX each; nothing crosses, so it rests, locked.
    let mut args = vec!["offer", "place", "--sell", "40", acme, "--buy", globex, "--price", "3/2"];
    args.extend(wait("dev1"));
    let ask = tally.json(&args);
    let ask_id = ask["offer_id"].as_str().expect("offer id").to_owned();
    assert_eq!(ask["fills"], serde_json::json!([]), "{ask:#}");
    assert_eq!(ask["status"], "open", "{ask:#}");
    assert_eq!(ask["price_minor"], serde_json::json!({ "numerator": 3, "denominator": 2 }));
    assert_eq!(tally.balance("dev1", acme), (6_000, 4_000));
    let book = tally.json(&["offer", "book", acme, globex]);
    assert_eq!(book["asks"].as_array().map(Vec::len), Some(1), "{book:#}");
    assert_eq!(book["asks"][0]["price"], "1.5");
    assert_eq!(book["asks"][0]["amount"], "40");
    assert_eq!(book["bids"], serde_json::json!([]));

    // Developer 2 takes part of it: 15 GLOBEX buy 10 ACME at the resting price (1.5).
    let mut args = vec!["offer", "place", "--sell", "15", globex, "--buy", acme, "--price", "2/3"];
    args.extend(wait("dev2"));
    let take = tally.json(&args);
    assert_eq!(take["fills"].as_array().map(Vec::len), Some(1), "{take:#}");
    assert_eq!(take["fills"][0]["maker_offer"], ask_id.as_str());
    assert_eq!(take["sold"], "15");
    assert_eq!(take["bought"], "10");
    assert_eq!(take["status"], "filled", "{take:#}");
    let open = tally.json(&["offer", "list", "dev1"]);
    assert_eq!(open["offers"][0]["remaining"], "30", "{open:#}");
    assert_eq!(tally.balance("dev1", acme), (6_000, 3_000));
    assert_eq!(tally.balance("dev1", globex), (1_500, 0));

    // Then the rest: 45 GLOBEX for the remaining 30 ACME; the ask is filled and leaves the book.
    let mut args = vec!["offer", "place", "--sell", "45", globex, "--buy", acme, "--price", "0.6666/1"];
    args.extend(wait("dev2"));
    let rest = tally.json(&args);
    assert_eq!(rest["bought"], "30", "{rest:#}");
    assert_eq!(rest["sold"], "45", "{rest:#}");
    assert_eq!(rest["status"], "filled", "{rest:#}");
    let book = tally.json(&["offer", "book", acme, globex]);
    assert_eq!(book["asks"], serde_json::json!([]), "{book:#}");
    assert_eq!(book["bids"], serde_json::json!([]), "{book:#}");
    let all = tally.json(&["offer", "list", "dev1", "--all"]);
    assert_eq!(all["offers"][0]["status"], "filled", "{all:#}");
    assert_eq!(tally.json(&["offer", "list", "dev1"])["offers"], serde_json::json!([]));

    // Developer 1 lets globex hold up to 50 GLOBEX for a day; globex holds 20 for an hour.
    let mut args = vec!["spend", "authorize", "--provider", "globex", "--asset", globex, "--cap", "50"];
    args.extend(["--expires", "1d"]);
    args.extend(wait("dev1"));
    tally.json(&args);
    let mut args =
        vec!["hold", "--holder", dev1.as_str(), "--asset", globex, "--amount", "20", "--expires", "1h"];
    args.extend(wait("globex-issuer"));
    let hold = tally.json(&args);
    let hold_id = hold["hold_id"].as_str().expect("hold id").to_owned();
    assert_eq!(tally.balance("dev1", globex), (4_000, 2_000));

    // Globex settles three metered calls (12.34 GLOBEX); the other 7.66 return to developer 1.
    let usage = dir.join("usage.csv");
    std::fs::write(
        &usage,
        "call_id,time_ms,endpoint,units,amount\n\
         req-0001,1760000000000,/v1/search,1,0.34\n\
         req-0002,1760000000500,/v1/search,10,2\n\
         req-0003,1760000001000,/v1/embed,250,10\n",
    )
    .expect("write usage");
    let usage = usage.to_str().expect("UTF-8 path");
    let batch = "5e1f0000000000000000000000000001";
    let mut settle = vec!["settle", "--hold", hold_id.as_str(), "--batch", batch, "--usage", usage];
    settle.extend(wait("globex-issuer"));
    let settled = tally.json(&settle);
    assert_eq!(settled["total"], "12.34", "{settled:#}");
    assert_eq!(settled["released"], "7.66", "{settled:#}");
    assert_eq!(settled["calls"], 3);
    let usage_root = settled["usage_root"].as_str().expect("usage root").to_owned();

    let expected_final = |tally: &Tally| {
        assert_eq!(tally.balance("dev1", acme), (6_000, 0), "dev1 ACME");
        assert_eq!(tally.balance("dev1", globex), (4_766, 0), "dev1 GLOBEX");
        assert_eq!(tally.balance("dev2", acme), (4_000, 0), "dev2 ACME");
        assert_eq!(tally.balance("dev2", globex), (44_000, 0), "dev2 GLOBEX");
        assert_eq!(tally.balance("acme-issuer", acme), (ISSUER_FLOAT, 0), "acme issuer");
        assert_eq!(tally.balance("globex-issuer", globex), (ISSUER_FLOAT + 1_234, 0), "globex issuer");
    };
    expected_final(tally);

    // The same batch again is refused before any transaction is built: nothing changes, not
    // even the issuer's seq.
    let seq_before = tally.json(&["account", "globex-issuer"])["seq"].clone();
    let mut repeated = settle.clone();
    repeated.insert(0, "--json");
    let output = tally.run(&repeated);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already settled") && stderr.contains("nothing was submitted"), "{stderr}");
    assert!(stderr.contains(&usage_root), "the refusal names the earlier settlement: {stderr}");
    assert_eq!(tally.json(&["account", "globex-issuer"])["seq"], seq_before);
    expected_final(tally);
}

/// Runs `tally --json ARGS`, which must fail with exit code 1, and returns its JSON document
/// (the report) and its standard error.
fn json_failure(tally: &Tally, args: &[&str]) -> (Value, String) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let output = tally.run(&full);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "tally {args:?} should fail: {stderr}");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("tally {args:?}: not JSON ({error}): {}", String::from_utf8_lossy(&output.stdout))
    });
    (report, stderr)
}

/// The failing step of a `badge verify --json` report.
fn failed_step(report: &Value) -> &Value {
    report["report"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["passed"] == false)
        .unwrap_or_else(|| panic!("no failed step in {report:#}"))
}

// Not split: one story on one running network, each step starting from the state the last one left.
fn badges_and_audit(tally: &Tally, dir: &Path) {
    let genesis = dir.join("genesis.json");
    assert!(genesis.is_file(), "the testnet writes {}", genesis.display());
    let genesis = genesis.to_str().expect("UTF-8 path");

    // Copies of three example badges (OB 2.0, OB 3.0 JSON, OB 3.0 JWS): receipts are written
    // next to them.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/badges");
    let badges = dir.join("badges");
    std::fs::create_dir_all(&badges).expect("badge dir");
    let names = [
        "assertion-client-library.json",
        "credential-published-application.ob3.json",
        "credential-forum-support.ob3.jws",
    ];
    let files: Vec<String> = names
        .iter()
        .map(|name| {
            let copy = badges.join(name);
            std::fs::copy(examples.join(name), &copy).expect("copy an example badge");
            copy.to_str().expect("UTF-8 path").to_owned()
        })
        .collect();
    let mut args = vec!["badge", "anchor", "--from", "acme-issuer"];
    args.extend(files.iter().map(String::as_str));
    let anchored = tally.json(&args);
    assert_eq!(anchored["badges"].as_array().map(Vec::len), Some(3), "{anchored:#}");
    let anchor_tx = anchored["tx_id"].as_str().expect("tx id").to_owned();

    // Each badge verifies from the genesis file alone, all six steps.
    for file in &files {
        let verified = tally.json(&["badge", "verify", file, "--genesis", genesis]);
        assert_eq!(verified["valid"], true, "{verified:#}");
        let steps = verified["report"]["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 6, "{verified:#}");
        assert!(steps.iter().all(|step| step["passed"] == true), "{verified:#}");
    }
    let tx = tally.json(&["verify", "tx", &anchor_tx, "--genesis", genesis]);
    assert_eq!(tx["valid"], true, "{tx:#}");
    assert_eq!(tx["tx_id"], anchor_tx.as_str(), "{tx:#}");

    // A tampered assertion (one field changed) fails at the hash step.
    let mut assertion: Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read badge")).expect("JSON badge");
    assertion["issuedOn"] = Value::String("2020-01-01T00:00:00Z".into());
    let tampered = badges.join("tampered.json");
    std::fs::write(&tampered, assertion.to_string()).expect("write tampered badge");
    let tampered = tampered.to_str().expect("UTF-8 path");
    let receipt = format!("{}.receipt.json", files[0]);
    let (report, _) =
        json_failure(tally, &["badge", "verify", tampered, "--receipt", &receipt, "--genesis", genesis]);
    assert_eq!(failed_step(&report)["number"], 1, "{report:#}");

    // Acme revokes the forum-support badge: its verification now fails at non-revocation
    // (step 6), the others still pass.
    let revoked_hash = anchored["badges"][2]["badge_hash"].as_str().expect("hash").to_owned();
    let reason = "issued in error";
    tally.json(&["badge", "revoke", &revoked_hash, "--reason", reason, "--from", "acme-issuer"]);
    let (report, stderr) = json_failure(tally, &["badge", "verify", &files[2], "--genesis", genesis]);
    assert_eq!(failed_step(&report)["number"], 6, "{report:#}");
    assert!(stderr.contains("step 6"), "{stderr}");
    let still = tally.json(&["badge", "verify", &files[0], "--genesis", genesis]);
    assert_eq!(still["valid"], true, "{still:#}");

    // The auditor verifies the whole running chain over HTTP...
    let audit = tally.json(&["audit", "--genesis", genesis]);
    assert_eq!(audit["ok"], true, "{audit:#}");
    assert!(audit["summary"]["final_height"].as_u64().is_some_and(|height| height >= 10), "{audit:#}");
    // Two grants, three offers, authorize, hold, settle, anchor, revoke: all succeeded.
    assert_eq!(audit["summary"]["txs"], 10, "{audit:#}");
    assert_eq!(audit["summary"]["txs_succeeded"], 10, "{audit:#}");

    // ... and offline, from an archive exported from a running node.
    let archive = dir.join("chain.archive");
    let output = Command::new(env!("CARGO_BIN_EXE_tally-node"))
        .args(["export", "--node", &tally.node, "--out"])
        .arg(&archive)
        .output()
        .expect("tally-node export runs");
    assert!(output.status.success(), "export failed: {}", String::from_utf8_lossy(&output.stderr));
    let archive = archive.to_str().expect("UTF-8 path");
    let offline = tally.json(&["audit", "--genesis", genesis, "--archive", archive]);
    assert_eq!(offline["ok"], true, "{offline:#}");
    let verified = tally.json(&["badge", "verify", &files[1], "--genesis", genesis, "--archive", archive]);
    assert_eq!(verified["valid"], true, "{verified:#}");
    let (report, _) =
        json_failure(tally, &["badge", "verify", &files[2], "--genesis", genesis, "--archive", archive]);
    assert_eq!(failed_step(&report)["number"], 6, "{report:#}");

    // Open Badges 3.0: acme issues signed credentials of one achievement to two developers in
    // one anchored batch; each verifies in nine steps, and fails at step 9 once expired.
    let achievements = examples.join("achievements.json");
    let achievements = achievements.to_str().expect("UTF-8 path");
    tally.json(&["badge", "achievement", "validate", achievements]);
    let recipients = dir.join("recipients.txt");
    std::fs::write(&recipients, "dev-one@example.com\ndev-two@example.com\tsettled 1,000,000 calls\n")
        .expect("write the recipients");
    let issued_dir = dir.join("issued");
    let issued = tally.json(&[
        "badge",
        "issue",
        "--achievements",
        achievements,
        "--achievement",
        "https://badges.acme.example/achievements/api-calls-1m",
        "--recipients-file",
        recipients.to_str().expect("UTF-8 path"),
        "--from",
        "acme-issuer",
        "--valid-until",
        "2099-01-01T00:00:00Z",
        "--out-dir",
        issued_dir.to_str().expect("UTF-8 path"),
    ]);
    let credentials = issued["credentials"].as_array().expect("credentials");
    assert_eq!(credentials.len(), 2, "{issued:#}");
    for entry in credentials {
        let file = entry["credential"].as_str().expect("path");
        let verified = tally.json(&["badge", "verify", file, "--genesis", genesis]);
        assert_eq!(verified["valid"], true, "{verified:#}");
        assert_eq!(verified["report"]["steps"].as_array().map(Vec::len), Some(9), "{verified:#}");
    }
    let file = credentials[0]["credential"].as_str().expect("path");
    let (report, stderr) =
        json_failure(tally, &["badge", "verify", file, "--genesis", genesis, "--at", "2100-01-01T00:00:00Z"]);
    assert_eq!(failed_step(&report)["number"], 9, "{report:#}");
    assert!(stderr.contains("validity window"), "{stderr}");

    // The issue anchored with the achievement's id: the community figures count both
    // credentials, proven from the genesis file; the hand-made anchors above count nothing.
    let figures = tally.json(&["badge", "figures", "--member", "acme", "--genesis", genesis]);
    let rows = figures["figures"].as_array().expect("figures");
    assert_eq!(rows.len(), 1, "{figures:#}");
    assert_eq!(
        rows[0]["achievement"], "https://badges.acme.example/achievements/api-calls-1m",
        "{figures:#}"
    );
    assert_eq!(
        (rows[0]["anchored"].as_u64(), rows[0]["batches"].as_u64()),
        (Some(2), Some(1)),
        "{figures:#}"
    );
    assert!(figures["proven"]["height"].as_u64().is_some(), "{figures:#}");
    let everyone = tally.json(&["badge", "figures"]);
    assert_eq!(everyone["figures"], figures["figures"], "{everyone:#}");
    let globex = tally.json(&["badge", "figures", "--member", "globex"]);
    assert_eq!(globex["figures"].as_array().map(Vec::len), Some(0), "{globex:#}");
    // The auditor recomputes the figures from the blocks.
    let audit = tally.json(&["audit", "--genesis", genesis]);
    assert_eq!(audit["ok"], true, "{audit:#}");
}

// Not split: one story on one running network, each step starting from the state the last one left.
fn prices(tally: &Tally, dir: &Path) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pricing");
    for (member, file) in [("acme", "acme-standard.json"), ("globex", "globex-tokens.json")] {
        let file = examples.join(file);
        let file = file.to_str().expect("UTF-8 path");
        tally.json(&["price", "publish", file, "--from", &format!("{member}-issuer"), "--wait"]);
    }
    let listed = tally.json(&["price", "list"]);
    let plans: Vec<(&str, &str)> = listed["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|plan| (plan["member"].as_str().unwrap_or("?"), plan["status"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(plans, [("acme", "active"), ("globex", "active")], "{listed:#}");

    // 250 queries: acme gives 100 free per hold and charges 2 minor units each after (3.00
    // ACME); globex charges 3 each (7.50 GLOBEX), 5.00 ACME at the market's last price of 1.5.
    let usage = dir.join("search.csv");
    std::fs::write(
        &usage,
        "call_id,time_ms,endpoint,item,units\n\
         q-0001,1764806400000,/v1/search,search.query,120\n\
         q-0002,1764806400500,/v1/search,search.query,80\n\
         q-0003,1764806401000,/v1/search,search.query,50\n",
    )
    .expect("write usage");
    let usage = usage.to_str().expect("UTF-8 path");
    let quote = tally.json(&[
        "price",
        "quote",
        "--usage",
        usage,
        "--plan",
        "acme/standard@1",
        "--plan",
        "globex/tokens@1",
        "--in",
        "ACME@acme",
    ]);
    let quotes: Vec<(&str, &str, &str)> = quote["quotes"]
        .as_array()
        .expect("quotes")
        .iter()
        .map(|row| {
            let text = |key: &str| row[key].as_str().unwrap_or("?");
            (text("plan"), text("total"), text("converted"))
        })
        .collect();
    assert_eq!(quotes, [("acme/standard@1", "3", "3"), ("globex/tokens@1", "7.5", "5")], "{quote:#}");

    // Developer 1 agrees to acme's plan; acme holds 10 ACME.
    let dev1 = tally.json(&["account", "dev1"])["address"].as_str().expect("address").to_owned();
    tally.json(&[
        "spend",
        "authorize",
        "--provider",
        "acme",
        "--asset",
        "ACME@acme",
        "--cap",
        "20",
        "--expires",
        "1d",
        "--plan",
        "standard@1",
        "--from",
        "dev1",
        "--wait",
    ]);
    let hold = tally.json(&[
        "hold",
        "--holder",
        &dev1,
        "--asset",
        "ACME@acme",
        "--amount",
        "10",
        "--expires",
        "1h",
        "--from",
        "acme-issuer",
        "--wait",
    ]);
    let hold_id = hold["hold_id"].as_str().expect("hold id").to_owned();
    assert_eq!(tally.balance("dev1", "ACME@acme"), (5_000, 1_000));

    // A settlement at 3.50 ACME: the ledger prices the lines itself and refuses it.
    let batch = "5e1f0000000000000000000000000002";
    let settle = ["settle", "--hold", hold_id.as_str(), "--batch", batch, "--usage", usage];
    let mut over: Vec<&str> = settle.to_vec();
    over.extend(["--amount", "3.50", "--from", "acme-issuer", "--wait"]);
    let output = tally.run(&over);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("settle_amount_mismatch"), "{stderr}");
    assert_eq!(tally.balance("dev1", "ACME@acme"), (5_000, 1_000), "a refused settlement moves nothing");
    assert_eq!(tally.balance("acme-issuer", "ACME@acme"), (ISSUER_FLOAT, 0));

    // The plan's amount settles; the other 7.00 ACME return to developer 1.
    let mut fair: Vec<&str> = settle.to_vec();
    fair.extend(["--from", "acme-issuer", "--wait"]);
    let settled = tally.json(&fair);
    assert_eq!(settled["total"], "3", "{settled:#}");
    assert_eq!(settled["released"], "7", "{settled:#}");
    assert_eq!(settled["plan"], "standard@1", "{settled:#}");
    assert_eq!(tally.balance("dev1", "ACME@acme"), (5_700, 0));
    assert_eq!(tally.balance("acme-issuer", "ACME@acme"), (ISSUER_FLOAT + 300, 0));
}
