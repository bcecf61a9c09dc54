//! Validation: each rule has a test that breaks exactly that rule in an otherwise valid
//! document and checks the problem names the field at fault.

mod common;

use common::{assert_problem, document, problems, problems_of_text, weak_key_bytes};
use serde_json::{Value, json};
use tally_genesis::error::PROBLEMS_SHOWN_MAX;
use tally_genesis::{Genesis, ParseError};
use tally_types::PublicKey;

#[test]
fn fixture_is_valid() {
    let document = document(4);
    Genesis::from_json(&document.to_string()).expect("the fixture validates");
}

// --- keys --------------------------------------------------------------------------------------

#[test]
fn weak_consensus_key() {
    let mut document = document(4);
    document["validators"][2]["consensus_key"] = json!(PublicKey(weak_key_bytes()).to_address());
    assert_problem(&document, "validators[2].consensus_key", "weak");
}

#[test]
fn weak_network_key() {
    let mut document = document(4);
    document["validators"][1]["network_key"] = json!(hex::encode(weak_key_bytes()));
    assert_problem(&document, "validators[1].network_key", "weak");
}

#[test]
fn weak_issuer_key() {
    let mut document = document(4);
    document["members"][0]["issuers"][0] = json!(PublicKey(weak_key_bytes()).to_address());
    assert_problem(&document, "members[0].issuers[0]", "weak");
}

#[test]
fn consensus_key_in_hex_is_refused() {
    let mut document = document(4);
    let key: PublicKey =
        document["validators"][0]["consensus_key"].as_str().expect("string").parse().expect("valid");
    document["validators"][0]["consensus_key"] = json!(key.to_hex());
    assert_problem(&document, "validators[0].consensus_key", "must be an address");
}

#[test]
fn corrupted_address() {
    let mut document = document(4);
    let mut address = document["validators"][3]["consensus_key"].as_str().expect("string").to_owned();
    let last = address.pop().expect("non-empty");
    address.push(if last == 'q' { 'p' } else { 'q' });
    document["validators"][3]["consensus_key"] = json!(address);
    assert_problem(&document, "validators[3].consensus_key", "bech32m");
}

#[test]
fn duplicate_consensus_key() {
    let mut document = document(4);
    document["validators"][3]["consensus_key"] = document["validators"][1]["consensus_key"].clone();
    assert_problem(
        &document,
        "validators[3].consensus_key",
        "duplicate key, already used at validators[1].consensus_key",
    );
}

#[test]
fn duplicate_network_key() {
    let mut document = document(4);
    document["validators"][2]["network_key"] = document["validators"][0]["network_key"].clone();
    assert_problem(
        &document,
        "validators[2].network_key",
        "duplicate key, already used at validators[0].network_key",
    );
}

#[test]
fn network_key_equal_to_a_consensus_key() {
    let mut document = document(4);
    let consensus: PublicKey =
        document["validators"][1]["consensus_key"].as_str().expect("string").parse().expect("valid");
    document["validators"][2]["network_key"] = json!(consensus.to_hex());
    assert_problem(&document, "validators[2].network_key", "already used at validators[1].consensus_key");
}

#[test]
fn issuer_key_equal_to_a_validator_key() {
    let mut document = document(4);
    document["members"][1]["issuers"][0] = document["validators"][0]["consensus_key"].clone();
    // Balances refer to the old issuer; keep them valid by dropping them.
    document["balances"] = json!([]);
    assert_problem(&document, "members[1].issuers[0]", "already used at validators[0].consensus_key");
}

#[test]
fn duplicate_issuer_across_members() {
    let mut document = document(4);
    document["members"][2]["issuers"][0] = document["members"][0]["issuers"][0].clone();
    assert_problem(&document, "members[2].issuers[0]", "already used at members[0].issuers[0]");
}

// --- members -----------------------------------------------------------------------------------

#[test]
fn duplicate_member() {
    let mut document = document(4);
    document["members"][1]["id"] = json!("acme");
    assert_problem(&document, "members[1].id", "duplicate member \"acme\"");
}

#[test]
fn bad_member_id() {
    let mut document = document(4);
    document["members"][1]["id"] = json!("Globex");
    let problems = assert_problem(&document, "members[1].id", "member id `Globex`");
    // References to the refused member are not also reported as unknown.
    assert!(!problems.iter().any(|problem| problem.contains("unknown")), "{problems:?}");
}

#[test]
fn member_without_issuers() {
    let mut document = document(4);
    document["members"][2]["issuers"] = json!([]);
    assert_problem(&document, "members[2].issuers", "at least one issuer");
}

#[test]
fn too_many_issuers() {
    let mut document = document(4);
    let issuer = document["members"][0]["issuers"][0].clone();
    document["members"][0]["issuers"] = Value::Array(vec![issuer; 17]);
    assert_problem(&document, "members[0].issuers", "17 items, more than the limit of 16");
}

#[test]
fn bad_member_names() {
    let mut document = document(4);
    document["members"][0]["name"] = json!("");
    document["members"][1]["name"] = json!("Glo\u{7}bex");
    document["members"][2]["name"] = json!(" Initech");
    assert_problem(&document, "members[0].name", "1..=64 bytes");
    assert_problem(&document, "members[1].name", "control characters");
    assert_problem(&document, "members[2].name", "whitespace");
}

#[test]
fn no_members() {
    let mut document = document(4);
    document["members"] = json!([]);
    document["assets"] = json!([]);
    document["balances"] = json!([]);
    assert_problem(&document, "members", "at least one member");
}

// --- validators --------------------------------------------------------------------------------

#[test]
fn fewer_than_four_validators() {
    let mut document = document(4);
    document["validators"].as_array_mut().expect("array").truncate(3);
    assert_problem(&document, "validators", "3 validators, at least 4 are needed to tolerate a fault");
}

#[test]
fn validator_counts_need_not_be_three_f_plus_one() {
    for n in [5, 6] {
        let mut document = document(7);
        document["validators"].as_array_mut().expect("array").truncate(n);
        let genesis = Genesis::from_json(&document.to_string()).expect("five or six validators are valid");
        assert_eq!(genesis.validator_set().len(), n);
        assert_eq!(genesis.validator_set().quorum(), n - 1, "f = 1");
    }
}

#[test]
fn too_many_validators() {
    let mut document = document(4);
    let validator = document["validators"][0].clone();
    document["validators"] = Value::Array(vec![validator; 101]);
    let problems = assert_problem(&document, "validators", "101 items, more than the limit of 100");
    // The list is not walked, so its 101 copies report nothing more about validators.
    assert!(!problems.iter().any(|problem| problem.starts_with("validators[")), "{problems:?}");
}

#[test]
fn unknown_member_of_a_validator() {
    let mut document = document(4);
    document["validators"][1]["member"] = json!("umbrella");
    assert_problem(&document, "validators[1].member", "unknown member \"umbrella\"");
}

#[test]
fn duplicate_validator_name() {
    let mut document = document(4);
    document["validators"][3]["name"] = json!("validator-0");
    assert_problem(&document, "validators[3].name", "duplicate name \"validator-0\"");
}

#[test]
fn bad_validator_name() {
    let mut document = document(4);
    document["validators"][0]["name"] = json!("validator 0");
    assert_problem(&document, "validators[0].name", "[A-Za-z0-9._-]");
}

#[test]
fn bad_p2p_listen() {
    let cases = [
        ("127.0.0.1:27000", "expected /ip4/"),
        ("/ip4/127.0.0.1/udp/27000", "expected /ip4/"),
        ("/ip4/127.0.0.256/tcp/27000", "not an IP address"),
        ("/ip4/0.0.0.0/tcp/27000", "cannot dial"),
        ("/ip4/127.0.0.1/tcp/0", "port `0`"),
        ("/ip4/127.0.0.1/tcp/027000", "leading zeros"),
        ("/ip6/0:0:0:0:0:0:0:1/tcp/27000", "write `::1`"),
        ("/dns4/Node.Example/tcp/27000", "lower-case DNS name"),
    ];
    for (text, needle) in cases {
        let mut document = document(4);
        document["validators"][2]["p2p_listen"] = json!(text);
        assert_problem(&document, "validators[2].p2p_listen", needle);
    }
}

#[test]
fn good_p2p_listen_forms() {
    for text in ["/ip6/::1/tcp/27002", "/dns/node-2.example.com/tcp/27002", "/dns4/localhost/tcp/1"] {
        let mut document = document(4);
        document["validators"][2]["p2p_listen"] = json!(text);
        let genesis = Genesis::from_json(&document.to_string()).expect("a valid multiaddr");
        assert_eq!(genesis.validators()[2].p2p_listen, text);
    }
}

#[test]
fn bad_http_listen() {
    let cases = [
        ("localhost:28000", "not IP:PORT"),
        ("127.0.0.1:0", "port must be"),
        ("127.000.0.1:28000", "not IP:PORT"),
    ];
    for (text, needle) in cases {
        let mut document = document(4);
        document["validators"][0]["http_listen"] = json!(text);
        assert_problem(&document, "validators[0].http_listen", needle);
    }
}

#[test]
fn duplicate_endpoints() {
    let mut document = document(4);
    document["validators"][1]["http_listen"] = json!("127.0.0.1:28000");
    assert_problem(
        &document,
        "validators[1].http_listen",
        "127.0.0.1:28000 is already used by validators[0].http_listen",
    );

    let mut document = common::document(4);
    document["validators"][3]["p2p_listen"] = json!("/ip4/127.0.0.1/tcp/28001");
    assert_problem(
        &document,
        "validators[3].p2p_listen",
        "127.0.0.1:28001 is already used by validators[1].http_listen",
    );
}

// --- assets and balances -----------------------------------------------------------------------

#[test]
fn asset_of_unknown_member() {
    let mut document = document(4);
    document["assets"][0]["asset"] = json!("FOO@foo");
    assert_problem(&document, "assets[0].asset", "unknown member \"foo\"");
}

#[test]
fn bad_asset_code() {
    for (text, needle) in
        [("acme@acme", "asset code `acme`"), ("A@acme", "asset code `A`"), ("ACME", "CODE@member")]
    {
        let mut document = document(4);
        document["assets"][0]["asset"] = json!(text);
        assert_problem(&document, "assets[0].asset", needle);
    }
}

#[test]
fn bad_scale() {
    let mut document = document(4);
    document["assets"][1]["scale"] = json!(19);
    assert_problem(&document, "assets[1].scale", "19 is above the maximum of 18");
    document["assets"][1]["scale"] = json!(-1);
    assert_problem(&document, "assets[1].scale", "expected a whole number in 0..=18");
    document["assets"][1]["scale"] = json!(2.5);
    assert_problem(&document, "assets[1].scale", "expected a whole number in 0..=18");
}

#[test]
fn duplicate_asset() {
    let mut document = document(4);
    document["assets"][2] = document["assets"][0].clone();
    assert_problem(&document, "assets[2].asset", "duplicate asset \"ACME@acme\"");
}

#[test]
fn zero_max_supply_and_unknown_flags() {
    let mut document = document(4);
    document["assets"][0]["max_supply"] = json!("0");
    document["assets"][1]["flags"] = json!(4);
    assert_problem(&document, "assets[0].max_supply", "use null for no cap");
    assert_problem(&document, "assets[1].flags", "unknown flag bits 0x4");
}

#[test]
fn balance_of_unknown_asset() {
    let mut document = document(4);
    document["balances"][1]["asset"] = json!("NOPE@globex");
    assert_problem(&document, "balances[1].asset", "unknown asset \"NOPE@globex\"");
}

#[test]
fn zero_and_malformed_balances() {
    let mut document = document(4);
    document["balances"][0]["amount"] = json!("0");
    document["balances"][1]["amount"] = json!(100);
    document["balances"][2]["amount"] = json!("12.5");
    assert_problem(&document, "balances[0].amount", "zero");
    assert_problem(&document, "balances[1].amount", "expected a string, got a number");
    assert_problem(&document, "balances[2].amount", "digits only");
}

#[test]
fn duplicate_balance() {
    let mut document = document(4);
    let balance = document["balances"][0].clone();
    document["balances"].as_array_mut().expect("array").push(balance);
    assert_problem(&document, "balances[3].account", "second balance of this account in \"ACME@acme\"");
}

#[test]
fn balances_above_max_supply_and_overflowing() {
    let mut document = document(4);
    document["assets"][0]["max_supply"] = json!("99999");
    assert_problem(&document, "balances[0].amount", "above its max_supply of 99999");

    let mut document = common::document(4);
    let mut extra = document["balances"][1].clone();
    extra["account"] = document["members"][0]["issuers"][0].clone();
    extra["amount"] = json!(u128::MAX.to_string());
    document["balances"].as_array_mut().expect("array").push(extra);
    assert_problem(&document, "balances[3].amount", "more than 2^128 - 1");
}

// --- parameters --------------------------------------------------------------------------------

#[test]
fn timeout_out_of_range() {
    let mut document = document(4);
    document["consensus"]["timeout_propose_ms"] = json!(5);
    assert_problem(&document, "consensus.timeout_propose_ms", "5 ms is out of range 10..=600000 ms");
    document["consensus"]["timeout_propose_ms"] = json!(1000);
    document["consensus"]["timeout_max_ms"] = json!(3_600_000);
    assert_problem(&document, "consensus.timeout_max_ms", "out of range");
}

#[test]
fn timeouts_inconsistent() {
    let mut document = document(4);
    document["consensus"]["timeout_notarize_ms"] = json!(1000);
    assert_problem(
        &document,
        "consensus.timeout_notarize_ms",
        "must be greater than timeout_propose_ms (1000 ms)",
    );
    document["consensus"]["timeout_notarize_ms"] = json!(1500);
    document["consensus"]["timeout_max_ms"] = json!(1200);
    assert_problem(&document, "consensus.timeout_max_ms", "must be at least timeout_notarize_ms (1500 ms)");
}

#[test]
fn parameters_are_checked_even_when_another_is_malformed() {
    let mut document = document(4);
    document["consensus"]["timeout_propose_ms"] = json!("1000");
    document["consensus"]["timeout_max_ms"] = json!(100);
    document["consensus"]["block_txs_max"] = json!(0);
    let problems = assert_problem(&document, "consensus.timeout_propose_ms", "expected a whole number");
    assert!(
        problems.iter().any(|p| p.starts_with("consensus.timeout_max_ms: 100 ms must be at least")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("consensus.block_txs_max: 0 is out of range")),
        "{problems:?}"
    );
}

#[test]
fn block_limits_out_of_range() {
    let mut document = document(4);
    document["consensus"]["block_txs_max"] = json!(0);
    document["consensus"]["block_bytes_max"] = json!(1024);
    assert_problem(&document, "consensus.block_txs_max", "out of range 1..=10000");
    assert_problem(&document, "consensus.block_bytes_max", "largest transaction");
    document["consensus"]["block_txs_max"] = json!(10_001);
    document["consensus"]["block_bytes_max"] = json!(16 * 1024 * 1024);
    assert_problem(&document, "consensus.block_txs_max", "out of range");
    assert_problem(&document, "consensus.block_bytes_max", "out of range");
}

// --- top level and structure -------------------------------------------------------------------

#[test]
fn bad_chain_id_version_and_time() {
    let mut document = document(4);
    document["chain_id"] = json!("Tally Test");
    document["format_version"] = json!(2);
    document["genesis_time_ms"] = json!(0);
    assert_problem(&document, "chain_id", "chain id `Tally Test`");
    assert_problem(&document, "format_version", "unsupported format version 2");
    assert_problem(&document, "genesis_time_ms", "not zero");
    document["genesis_time_ms"] = json!(1u64 << 53);
    assert_problem(&document, "genesis_time_ms", "above the maximum");
}

#[test]
fn unknown_fields_at_every_level() {
    let mut document = document(4);
    document["comment"] = json!("hello");
    document["consensus"]["timeout_commit_ms"] = json!(1);
    document["validators"][1]["stake"] = json!(1);
    document["members"][0]["url"] = json!("x");
    document["assets"][0]["decimals"] = json!(2);
    document["balances"][0]["memo"] = json!("x");
    let problems = assert_problem(&document, "comment", "unknown field");
    for path in [
        "consensus.timeout_commit_ms",
        "validators[1].stake",
        "members[0].url",
        "assets[0].decimals",
        "balances[0].memo",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{path}: unknown field"))),
            "{path}: {problems:?}"
        );
    }
}

#[test]
fn missing_fields() {
    let mut document = document(4);
    document.as_object_mut().expect("object").remove("chain_id");
    document["validators"][0].as_object_mut().expect("object").remove("network_key");
    document["assets"][1].as_object_mut().expect("object").remove("max_supply");
    let problems = assert_problem(&document, "chain_id", "missing field");
    assert!(problems.contains(&"validators[0].network_key: missing field".to_owned()), "{problems:?}");
    assert!(problems.contains(&"assets[1].max_supply: missing field".to_owned()), "{problems:?}");
}

#[test]
fn duplicate_json_key() {
    let text = document(4).to_string().replacen(
        "\"chain_id\":\"tally-test\"",
        "\"chain_id\":\"tally-test\",\"chain_id\":\"other\"",
        1,
    );
    let problems = problems_of_text(&text);
    assert!(problems.contains(&"chain_id: duplicate key".to_owned()), "{problems:?}");
}

#[test]
fn wrong_json_types() {
    let mut document = document(4);
    document["consensus"]["block_txs_max"] = json!("5000");
    document["validators"] = json!({});
    document["members"][0] = json!("acme");
    assert_problem(&document, "consensus.block_txs_max", "expected a whole number, got a string");
    assert_problem(&document, "validators", "expected an array, got an object");
    assert_problem(&document, "members[0]", "expected an object, got a string");
    let problems = problems_of_text("[1, 2]");
    assert_eq!(problems, ["(document): expected an object, got an array"]);
}

#[test]
fn malformed_json_reports_line_and_column() {
    let text = "{\n  \"format_version\": 1,\n  \"chain_id\": \"tally-test\"\n  \"genesis_time_ms\": 1\n}\n";
    match Genesis::from_json(text) {
        Err(ParseError::Syntax { line, column, message }) => {
            assert_eq!((line, column), (4, 3));
            assert!(message.contains("expected"), "{message}");
            assert!(!message.contains("line"), "the position is kept apart from the message: {message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

// --- reporting ---------------------------------------------------------------------------------

#[test]
fn every_problem_is_listed() {
    let mut document = document(4);
    document["validators"].as_array_mut().expect("array").truncate(3);
    document["validators"][2]["consensus_key"] = json!(PublicKey(weak_key_bytes()).to_address());
    document["validators"][1]["member"] = json!("foo");
    document["members"][2]["id"] = json!("acme");
    document["assets"][0]["asset"] = json!("FOO@foo");
    document["assets"][1]["scale"] = json!(40);
    document["consensus"]["timeout_notarize_ms"] = json!(500);
    document["extra"] = json!(true);
    let problems = problems(&document);
    let expected_paths = [
        "validators",
        "validators[2].consensus_key",
        "validators[1].member",
        "members[2].id",
        "assets[0].asset",
        "assets[1].scale",
        "consensus.timeout_notarize_ms",
        "extra",
    ];
    for path in expected_paths {
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{path}: "))),
            "missing {path} in {problems:#?}"
        );
    }
}

#[test]
fn problem_list_is_capped_with_a_count() {
    let mut document = document(4);
    let mut balance = document["balances"][0].clone();
    balance["amount"] = json!("0");
    let count = PROBLEMS_SHOWN_MAX + 500;
    document["balances"] = Value::Array(vec![balance; count]);
    match Genesis::from_json(&document.to_string()) {
        Err(ParseError::Invalid(problems)) => {
            assert_eq!(problems.list().len(), PROBLEMS_SHOWN_MAX);
            // Every balance is zero; balances after the first are also duplicates of it.
            assert_eq!(problems.count(), count * 2 - 1);
            assert!(
                problems
                    .to_string()
                    .ends_with(&format!("... and {} more not shown", count * 2 - 1 - PROBLEMS_SHOWN_MAX))
            );
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn governance_threshold_is_optional_and_checked() {
    let absent = Genesis::from_json(&document(4).to_string()).expect("valid without a threshold");
    assert_eq!(absent.governance_threshold(), None);
    assert_eq!(absent.ledger().threshold, tally_types::governance::Threshold::default());

    let mut document = document(4);
    document["governance_threshold"] = serde_json::json!({ "numerator": 3, "denominator": 4 });
    let genesis = Genesis::from_json(&document.to_string()).expect("valid with a threshold");
    let three_quarters = tally_types::governance::Threshold { numerator: 3, denominator: 4 };
    assert_eq!(genesis.governance_threshold(), Some(three_quarters));
    assert_eq!(genesis.ledger().threshold, three_quarters);
    assert_ne!(genesis.hash(), absent.hash(), "the threshold is part of the hashed document");

    document["governance_threshold"] = serde_json::json!({ "numerator": 1, "denominator": 3 });
    assert_problem(&document, "governance_threshold", "1/3 is below one half");
    document["governance_threshold"] = serde_json::json!({ "numerator": 1 });
    assert_problem(&document, "governance_threshold.denominator", "missing field");
    document["governance_threshold"] = serde_json::json!({ "numerator": 2, "denominator": 3, "quorum": 1 });
    assert_problem(&document, "governance_threshold.quorum", "unknown field");
}
