//! The `tally-genesis` binary, run as a process against temporary directories.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use tally_genesis::Genesis;
use tally_genesis::keys::read_key_file;
use tally_types::SecretKey;

const BINARY: &str = env!("CARGO_BIN_EXE_tally-genesis");

fn run(args: &[&str]) -> Output {
    Command::new(BINARY).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn init_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "init",
        "--chain-id",
        "tally-test",
        "--validators",
        "4",
        "--members",
        "acme,globex,initech",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

fn init(out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().expect("UTF-8 temp path");
    run(&init_args(out, extra))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

/// Every regular file under `dir`, relative path and contents, sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let contents = fs::read(&path).expect("readable file");
                files.push((path.strip_prefix(dir).expect("under dir").to_owned(), contents));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn init_then_validate_and_hash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("net");
    let output = init(&out, &[]);
    assert!(output.status.success(), "init failed: {}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("warning"), "no seed, no warning: {}", text(&output.stderr));

    let genesis_path = out.join("genesis.json");
    let validate = run(&["validate", genesis_path.to_str().expect("UTF-8")]);
    assert!(validate.status.success(), "validate failed: {}", text(&validate.stderr));
    let summary = text(&validate.stdout);
    let genesis = Genesis::load(&genesis_path).expect("valid");
    for line in [
        "chain id:           tally-test".to_owned(),
        "validators:         n = 4, f = 1, quorum = 3".to_owned(),
        "members:            3 (acme, globex, initech)".to_owned(),
        "assets:             3 (ACME@acme, GLOBEX@globex, INITECH@initech)".to_owned(),
        format!("genesis hash:       {}", genesis.hash()),
        format!("validators hash:    {}", genesis.validators_hash()),
        format!("initial state root: {}", genesis.initial_state_root()),
    ] {
        assert!(summary.contains(&line), "missing `{line}` in:\n{summary}");
    }

    let hash = run(&["hash", genesis_path.to_str().expect("UTF-8")]);
    assert!(hash.status.success());
    assert_eq!(text(&hash.stdout), format!("{}\n", genesis.hash()));

    // Without --issuer-float there are no opening balances.
    assert!(genesis.balances().is_empty());
    // The genesis time defaults to now: after this test was written, and not in the future.
    assert!(genesis.genesis_time_ms() > common::GENESIS_TIME_MS);
}

#[test]
fn key_files_are_private_and_match_the_genesis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("net");
    let output = init(&out, &["--issuer-float", "250.75"]);
    assert!(output.status.success(), "init failed: {}", text(&output.stderr));
    let genesis = Genesis::load(out.join("genesis.json")).expect("valid");

    assert_eq!(mode(&out.join("genesis.json")), 0o644);
    for (index, validator) in genesis.validators().iter().enumerate() {
        let validator_dir = out.join(format!("validator-{index}"));
        assert_eq!(mode(&validator_dir), 0o700, "{}", validator_dir.display());
        for (file, expected) in
            [("consensus.key", validator.consensus_key), ("network.key", validator.network_key)]
        {
            let path = validator_dir.join(file);
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            let key = read_key_file(&path).expect("a private hex seed");
            assert_eq!(key.public_key(), expected, "{}", path.display());
        }
    }
    assert_eq!(mode(&out.join("members")), 0o700);
    for member in genesis.members() {
        let member_dir = out.join("members").join(member.id.as_str());
        assert_eq!(mode(&member_dir), 0o700);
        let path = member_dir.join("issuer.key");
        assert_eq!(mode(&path), 0o600);
        let key = read_key_file(&path).expect("a private hex seed");
        assert_eq!(member.issuers, [key.public_key()]);
    }
    let balances = genesis.balances();
    assert_eq!(balances.len(), 3);
    assert!(balances.iter().all(|balance| balance.amount.0 == 25_075));
    // No temporary files are left behind.
    assert!(tree(&out).iter().all(|(path, _)| !path.to_string_lossy().contains(".tmp")));
}

#[test]
fn seeded_init_is_reproducible_byte_for_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = ["--seed", "00112233445566778899aabbccddeeff", "--genesis-time-ms", "1700000000000"];
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    for out in [&first, &second] {
        let output = init(out, &seeded);
        assert!(output.status.success(), "init failed: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains("warning: keys derived from --seed are for tests only"));
    }
    let (first_files, second_files) = (tree(&first), tree(&second));
    assert_eq!(first_files.len(), 1 + 4 * 2 + 3);
    assert_eq!(first_files, second_files);

    // A different seed gives different keys; no seed gives fresh keys every time.
    let other = dir.path().join("other");
    let output = init(&other, &["--seed", "01", "--genesis-time-ms", "1700000000000"]);
    assert!(output.status.success());
    assert_ne!(
        fs::read(other.join("genesis.json")).expect("read"),
        fs::read(first.join("genesis.json")).expect("read")
    );
    let (random_a, random_b) = (dir.path().join("random-a"), dir.path().join("random-b"));
    for out in [&random_a, &random_b] {
        assert!(init(out, &["--genesis-time-ms", "1700000000000"]).status.success());
    }
    let key = |out: &Path| fs::read(out.join("validator-0/consensus.key")).expect("read");
    assert_ne!(key(&random_a), key(&random_b));
}

#[test]
fn init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("net");
    assert!(init(&out, &[]).status.success());
    let before = tree(&out);

    let again = init(&out, &[]);
    assert!(!again.status.success());
    let message = text(&again.stderr);
    assert!(message.contains("genesis.json already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(tree(&out), before, "a refused init changes nothing");

    // A key file left without a genesis (say, an interrupted run) is protected too.
    fs::remove_file(out.join("genesis.json")).expect("remove");
    let partial = tree(&out);
    let again = init(&out, &[]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("consensus.key already exists"), "{}", text(&again.stderr));
    assert_eq!(tree(&out), partial);

    let forced = init(&out, &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_ne!(tree(&out), before, "--force writes new keys");
    assert_eq!(mode(&out.join("validator-0/consensus.key")), 0o600);
}

#[test]
fn init_of_an_invalid_network_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("net");
    let out_text = out.to_str().expect("UTF-8");
    let output = run(&[
        "init",
        "--chain-id",
        "tally-test",
        "--validators",
        "3",
        "--members",
        "acme",
        "--out",
        out_text,
    ]);
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(
        message.contains("validators: 3 validators, at least 4 are needed to tolerate a fault"),
        "{message}"
    );
    assert!(!out.exists());

    let output =
        run(&["init", "--chain-id", "Tally", "--validators", "4", "--members", "acme", "--out", out_text]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--chain-id: chain id `Tally`"), "{}", text(&output.stderr));

    let output = init(&out, &["--issuer-float", "1.005"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--issuer-float"), "{}", text(&output.stderr));

    let output = init(&out, &["--timeout-propose-ms", "2000"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("consensus.timeout_notarize_ms"), "{}", text(&output.stderr));
    assert!(!out.exists());
}

#[test]
fn validate_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.json");
    let mut document = common::document(4);
    document["validators"][3]["network_key"] = document["validators"][0]["network_key"].clone();
    document["assets"][0]["asset"] = json!("acme@acme");
    let issuer = SecretKey::from_seed(&[5; 32]).public_key().to_address();
    let duplicate = json!({ "id": "acme", "name": "Acme again", "issuers": [issuer] });
    document["members"].as_array_mut().expect("array").push(duplicate);
    document["unexpected"] = json!(1);
    fs::write(&path, serde_json::to_string_pretty(&document).expect("JSON")).expect("write");

    let output = run(&["validate", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output.stderr);
    assert!(
        message.contains(&format!("error: {}: invalid genesis: 4 problems:", path.display())),
        "{message}"
    );
    for line in [
        "  validators[3].network_key: duplicate key, already used at validators[0].network_key",
        "  assets[0].asset: asset code `acme` must be",
        "  members[3].id: duplicate member \"acme\" (also members[0])",
        "  unexpected: unknown field",
    ] {
        assert!(message.contains(line), "missing `{line}` in:\n{message}");
    }
    assert!(text(&output.stdout).is_empty());

    let hash = run(&["hash", path.to_str().expect("UTF-8")]);
    assert!(!hash.status.success(), "an invalid genesis has no hash");
}

#[test]
fn validate_reports_malformed_json_and_missing_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.json");
    fs::write(&path, "{\n  \"format_version\": 1,\n  \"chain_id\": tally\n}\n").expect("write");
    let output = run(&["validate", path.to_str().expect("UTF-8")]);
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(message.contains("broken.json: malformed JSON at line 3, column 16"), "{message}");

    let missing = dir.path().join("absent.json");
    let output = run(&["validate", missing.to_str().expect("UTF-8")]);
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(message.contains("cannot read") && message.contains("absent.json"), "{message}");
    assert_eq!(message.matches("No such file").count(), 1, "the cause is printed once: {message}");
}

#[test]
fn hash_is_stable_under_reformatting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("net");
    assert!(init(&out, &["--seed", "aa", "--genesis-time-ms", "1700000000000"]).status.success());
    let original = out.join("genesis.json");
    let value: serde_json::Value = serde_json::from_slice(&fs::read(&original).expect("read")).expect("JSON");
    let compact = dir.path().join("compact.json");
    fs::write(&compact, value.to_string()).expect("write");

    let hash = |path: &Path| text(&run(&["hash", path.to_str().expect("UTF-8")]).stdout);
    assert_eq!(hash(&original), hash(&compact));
    assert_eq!(hash(&original).trim().len(), 64);

    let mut changed = value.clone();
    changed["genesis_time_ms"] = json!(1_700_000_000_001u64);
    let changed_path = dir.path().join("changed.json");
    fs::write(&changed_path, changed.to_string()).expect("write");
    assert_ne!(hash(&original), hash(&changed_path));
}

/// Applications as operators would write them (the signing is `tally-node apply` and `tally
/// application sign`; here through the library, as the binary only collects them).
fn write_applications(dir: &Path, chain: &str) -> Vec<PathBuf> {
    use tally_genesis::application::{Application, ApplicationBody};
    use tally_types::{AssetCode, ChainId, MemberId};
    ["acme", "globex", "initech", "hooli"]
        .iter()
        .enumerate()
        .map(|(index, member)| {
            let seed = |role: u8| SecretKey::from_seed(&[index as u8 * 3 + role; 32]);
            let (consensus, network, issuer) = (seed(1), seed(2), seed(3));
            let body = ApplicationBody {
                chain_id: ChainId::new(chain).expect("valid"),
                member: MemberId::new(*member).expect("valid"),
                member_name: tally_types::BoundedString::new(member.to_uppercase()).expect("short"),
                issuer: issuer.public_key(),
                asset_code: AssetCode::new(member.to_uppercase()).expect("valid"),
                asset_scale: 2,
                validator_name: tally_types::BoundedString::new(format!("{member}-0")).expect("short"),
                consensus_key: consensus.public_key(),
                network_key: network.public_key(),
                p2p_listen: tally_types::BoundedString::new(format!("/dns4/{member}.example/tcp/27000"))
                    .expect("short"),
                http_listen: tally_types::BoundedString::new(format!("10.0.0.{}:28000", index + 1))
                    .expect("short"),
            };
            let mut application = Application::new(body, &consensus, &network).expect("valid");
            application.sign_issuer(&issuer).expect("signs");
            let path = dir.join(format!("{member}.json"));
            fs::write(&path, application.to_json_pretty()).expect("write");
            path
        })
        .collect()
}

#[test]
fn new_add_finalize_forms_a_genesis_and_refuses_a_forged_application_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let draft = dir.path().join("draft.json");
    let draft_arg = draft.to_str().expect("utf-8");
    let low = run(&["new", "--chain-id", "tally-cli-formation", "--out", draft_arg, "--threshold", "1/3"]);
    assert!(!low.status.success() && text(&low.stderr).contains("below one half"), "{}", text(&low.stderr));
    let new = run(&["new", "--chain-id", "tally-cli-formation", "--out", draft_arg, "--threshold", "3/4"]);
    assert!(new.status.success(), "{}", text(&new.stderr));
    let applications = write_applications(dir.path(), "tally-cli-formation");

    // A forged copy: globex's application with another HTTP address, signatures unchanged.
    let forged = dir.path().join("forged.json");
    let original = fs::read_to_string(&applications[1]).expect("read");
    fs::write(&forged, original.replace("10.0.0.2:28000", "10.0.0.9:28000")).expect("write");
    let before = fs::read(&draft).expect("read");
    let refused = run(&[
        "add",
        "--draft",
        draft_arg,
        applications[0].to_str().expect("utf-8"),
        forged.to_str().expect("utf-8"),
    ]);
    assert!(!refused.status.success());
    let error = text(&refused.stderr);
    assert!(
        error.contains("forged.json") && error.contains("consensus key's proof of possession"),
        "{error}"
    );
    assert_eq!(fs::read(&draft).expect("read"), before, "a refused add leaves the draft unchanged");

    // Another chain's application is refused, naming both chain ids.
    let elsewhere_dir = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere_dir).expect("mkdir");
    let elsewhere = write_applications(&elsewhere_dir, "tally-other-chain");
    let wrong_chain = run(&["add", "--draft", draft_arg, elsewhere[0].to_str().expect("utf-8")]);
    assert!(text(&wrong_chain.stderr).contains("tally-other-chain"), "{}", text(&wrong_chain.stderr));

    let mut add = vec!["add", "--draft", draft_arg];
    add.extend(applications.iter().map(|path| path.to_str().expect("utf-8")));
    let added = run(&add);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let genesis = dir.path().join("genesis.json");
    let genesis_arg = genesis.to_str().expect("utf-8");
    let finalized =
        run(&["finalize", "--draft", draft_arg, "--out", genesis_arg, "--genesis-time-ms", "1800000000000"]);
    assert!(finalized.status.success(), "{}", text(&finalized.stderr));
    let document: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&genesis).expect("read")).expect("JSON");
    assert_eq!(document["governance_threshold"], serde_json::json!({ "numerator": 3, "denominator": 4 }));
    let hash = run(&["hash", genesis_arg]);
    assert!(text(&finalized.stdout).contains(text(&hash.stdout).trim()), "finalize prints the genesis hash");
    let validate = run(&["validate", genesis_arg]);
    assert!(text(&validate.stdout).contains("n = 4"), "{}", text(&validate.stdout));
    // Finalize does not overwrite without --force.
    let again = run(&["finalize", "--draft", draft_arg, "--out", genesis_arg]);
    assert!(!again.status.success() && text(&again.stderr).contains("already exists"));
}
