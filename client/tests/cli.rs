//! Runs the real `tally` binary: the keystore commands end to end, and usage errors.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tally(keystore: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .args(args)
        .env("TALLY_KEYSTORE", keystore)
        .env("TALLY_PASSPHRASE", "correct horse battery staple")
        // No node answers here: a command that reaches the network fails fast, never hangs.
        .env("TALLY_NODE", "http://127.0.0.1:1")
        .stdin(Stdio::null());
    command
}

fn run(keystore: &Path, args: &[&str]) -> Output {
    tally(keystore, args).output().expect("the tally binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("--json prints one JSON document")
}

#[test]
fn keys_new_list_show_export_import_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");

    let created = json(&run(&keystore, &["--json", "keys", "new", "alice"]));
    let address = created["address"].as_str().expect("address").to_owned();
    assert!(address.starts_with("tally1"), "{address}");
    let mode = std::fs::metadata(keystore.join("alice.json")).expect("key file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");

    // The same name twice is refused, and the first key is kept.
    let again = run(&keystore, &["keys", "new", "alice"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let shown = json(&run(&keystore, &["--json", "keys", "show", "alice"]));
    assert_eq!(shown["address"], created["address"]);
    let human = run(&keystore, &["keys", "show", "alice"]);
    assert_eq!(stdout(&human).trim(), format!("alice  {address}"));

    let exported = json(&run(&keystore, &["--json", "keys", "export", "alice"]));
    let secret = exported["secret"].as_str().expect("secret").to_owned();
    assert_eq!(secret.len(), 64);

    // Importing the exported seed under another name (from stdin) gives the same address.
    let mut child = tally(&keystore, &["--json", "keys", "import", "alice-copy"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child.stdin.take().expect("piped stdin").write_all(format!("{secret}\n").as_bytes()).expect("writes");
    let imported = json(&child.wait_with_output().expect("runs"));
    assert_eq!(imported["address"], created["address"]);

    // And from a file.
    let seed_file = dir.path().join("seed.hex");
    std::fs::write(&seed_file, format!("{secret}\n")).expect("writes seed");
    let seed_path = seed_file.to_str().expect("utf-8 path");
    let from_file = json(&run(&keystore, &["--json", "keys", "import", "alice-file", "--file", seed_path]));
    assert_eq!(from_file["address"], created["address"]);

    let listed = json(&run(&keystore, &["--json", "keys", "list"]));
    let names: Vec<&str> =
        listed["keys"].as_array().expect("array").iter().filter_map(|key| key["name"].as_str()).collect();
    assert_eq!(names, ["alice", "alice-copy", "alice-file"]);
    let human_list = stdout(&run(&keystore, &["keys", "list"]));
    assert_eq!(human_list.lines().count(), 3);
}

#[test]
fn a_wrong_passphrase_does_not_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    json(&run(&keystore, &["--json", "keys", "new", "bob"]));
    let output = tally(&keystore, &["keys", "export", "bob"])
        .env("TALLY_PASSPHRASE", "not the passphrase")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing printed on stdout");
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong passphrase"));
}

#[test]
fn a_bad_seed_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    let mut child = tally(&keystore, &["keys", "import", "bad"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child.stdin.take().expect("piped stdin").write_all(b"not-hex\n").expect("writes");
    let output = child.wait_with_output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(!keystore.join("bad.json").exists());
}

#[test]
fn usage_errors_exit_2_before_any_network_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    let cases: &[&[&str]] = &[
        &["frobnicate"],
        &["transfer", "--asset", "ACME@acme", "--amount", "1"],
        &["transfer", "--asset", "acme", "--to", "x", "--amount", "1", "--from", "k"],
        &[
            "grant",
            "--asset",
            "ACME@acme",
            "--to",
            "nobody",
            "--amount",
            "1",
            "--kind",
            "gift",
            "--from",
            "k",
        ],
        &["asset", "issue", "--code", "acme", "--scale", "2", "--from", "k"],
        &["asset", "issue", "--code", "ACME", "--scale", "19", "--from", "k"],
        &["asset", "issue", "--code", "ACME", "--scale", "2", "--max-supply", "1.001", "--from", "k"],
        &["tx", "status", "not-a-tx-id"],
        &["account", "nobody"],
    ];
    for args in cases {
        let output = run(&keystore, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn an_unreachable_node_is_an_operating_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(&dir.path().join("keys"), &["asset", "list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("127.0.0.1:1"));
}

#[test]
fn a_grants_csv_with_bad_rows_names_each_by_line_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    let csv = dir.path().join("grants.csv");
    std::fs::write(
        &csv,
        "to,amount,kind,reason,grant_id\n\
         dev1,10,purchase,,\n\
         dev2,0,purchase,,\n\
         dev3,5,reward,,\n\
         dev4,5,promo,,xyz\n",
    )
    .expect("write csv");
    let csv = csv.to_str().expect("UTF-8 path");
    // The node (port 1) is never asked: a command that reached it would exit 1.
    let output = run(&keystore, &["grant", "--asset", "ACME@acme", "--csv", csv, "--from", "k"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("3 bad row(s); nothing was sent"), "{stderr}");
    for needle in [
        "line 3: amount must be greater than zero",
        "line 4: a reward grant needs a reason",
        "line 5: grant_id",
    ] {
        assert!(stderr.contains(needle), "`{needle}` missing from: {stderr}");
    }
    assert!(!stderr.contains("line 2"), "{stderr}");

    // --csv takes the rows' recipients, amounts and kinds: the single-grant flags conflict.
    let output = run(&keystore, &["grant", "--asset", "ACME@acme", "--csv", csv, "--to", "x", "--from", "k"]);
    assert_eq!(output.status.code(), Some(2));
    // And without --csv they are required.
    let output =
        run(&keystore, &["grant", "--asset", "ACME@acme", "--amount", "1", "--kind", "promo", "--from", "k"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--to"));
}

/// `tally application sign` adds the issuer's proof from the keystore, refusing a key that
/// is not the named issuer; `tally application check` then accepts it for its chain only.
#[test]
fn application_sign_and_check() {
    use tally_genesis::application::{Application, ApplicationBody};
    use tally_types::{AssetCode, BoundedString, ChainId, MemberId, SecretKey};

    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    let issuer = json(&run(&keystore, &["--json", "keys", "new", "issuer"]))["address"]
        .as_str()
        .expect("address")
        .to_owned();
    run(&keystore, &["keys", "new", "someone-else"]);
    let (consensus, network) = (SecretKey::from_seed(&[1; 32]), SecretKey::from_seed(&[2; 32]));
    let body = ApplicationBody {
        chain_id: ChainId::new("tally-cli-application").expect("valid"),
        member: MemberId::new("acme").expect("valid"),
        member_name: BoundedString::new("Acme").expect("short"),
        issuer: issuer.parse().expect("address"),
        asset_code: AssetCode::new("ACME").expect("valid"),
        asset_scale: 2,
        validator_name: BoundedString::new("acme-0").expect("short"),
        consensus_key: consensus.public_key(),
        network_key: network.public_key(),
        p2p_listen: BoundedString::new("/ip4/10.0.0.1/tcp/27000").expect("short"),
        http_listen: BoundedString::new("10.0.0.1:28000").expect("short"),
    };
    let path = dir.path().join("acme.json");
    std::fs::write(&path, Application::new(body, &consensus, &network).expect("valid").to_json_pretty())
        .expect("write");
    let file = path.to_str().expect("utf-8");

    let unsigned = run(&keystore, &["application", "check", "--chain-id", "tally-cli-application", file]);
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("the issuer has not signed it"));

    let wrong_key = run(&keystore, &["application", "sign", "--key", "someone-else", file]);
    assert!(!wrong_key.status.success());
    assert!(String::from_utf8_lossy(&wrong_key.stderr).contains("the application names"), "{wrong_key:?}");

    let signed = run(&keystore, &["application", "sign", "--key", "issuer", file]);
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let checked = run(&keystore, &["application", "check", "--chain-id", "tally-cli-application", file]);
    assert!(stdout(&checked).contains("valid"), "{checked:?}");
    let elsewhere = run(&keystore, &["application", "check", "--chain-id", "tally-elsewhere", file]);
    assert!(!elsewhere.status.success());
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("tally-elsewhere"));
}

#[test]
fn badge_achievement_validate_and_offline_issue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keystore = dir.path().join("keys");
    let achievements = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/badges/achievements.json");
    let valid = json(&run(&keystore, &["--json", "badge", "achievement", "validate", achievements]));
    assert_eq!(valid["achievements"].as_array().map(Vec::len), Some(4), "{valid:#}");

    // A broken file: exit 2 (usage), naming the achievement and what is missing.
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"[{"id": "not a uri", "type": ["Achievement"], "name": "X", "description": "Y"}]"#,
    )
    .expect("write");
    let refused = run(&keystore, &["badge", "achievement", "validate", broken.to_str().expect("UTF-8")]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("achievement 0") && stderr.contains("criteria"), "{stderr}");

    // Issue to two recipients without anchoring: signed credentials, the issuer our key.
    let issuer = json(&run(&keystore, &["--json", "keys", "new", "acme-issuer"]));
    let developer = json(&run(&keystore, &["--json", "keys", "new", "developer"]));
    let recipients = dir.path().join("recipients.txt");
    let developer_address = developer["address"].as_str().expect("address");
    std::fs::write(
        &recipients,
        format!("# milestone reached\n{developer_address}\tsettled 1,000,000 calls\ndev@example.com\n"),
    )
    .expect("write");
    let out = dir.path().join("issued");
    let issued = json(&run(
        &keystore,
        &[
            "--json",
            "badge",
            "issue",
            "--achievements",
            achievements,
            "--achievement",
            "https://badges.acme.example/achievements/api-calls-1m",
            "--recipients-file",
            recipients.to_str().expect("UTF-8"),
            "--from",
            "acme-issuer",
            "--out-dir",
            out.to_str().expect("UTF-8"),
            "--no-anchor",
        ],
    ));
    let credentials = issued["credentials"].as_array().expect("credentials");
    assert_eq!(credentials.len(), 2, "{issued:#}");
    let issuer_key =
        tally_types::PublicKey::from_address(issuer["address"].as_str().expect("address")).expect("key");
    for entry in credentials {
        let text = std::fs::read_to_string(entry["credential"].as_str().expect("path")).expect("written");
        let credential: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        tally_client::ob3::schema::check_credential(&credential).expect("schema-valid");
        let verified = tally_client::ob3::credential::verify_issuer_proof(&credential).expect("verifies");
        assert_eq!(verified.key, issuer_key);
    }
    let first: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(credentials[0]["credential"].as_str().expect("path")).expect("read"),
    )
    .expect("JSON");
    assert_eq!(first["evidence"][0]["narrative"], "settled 1,000,000 calls");
    assert_eq!(
        first["credentialSubject"]["id"],
        tally_client::ob3::didkey::did_key(
            &tally_types::PublicKey::from_address(developer_address).expect("key")
        )
    );
}
