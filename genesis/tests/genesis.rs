//! The library API: loading, the genesis hash (stability, sensitivity, golden value, layout),
//! and what the node and the auditor take from a genesis.

mod common;

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use tally_genesis::{Genesis, GenesisError, ParseError};
use tally_ledger::MemState;
use tally_types::{BlockId, Hash};

const GOLDEN_FILE: &str = "tests/data/golden-genesis.json";
/// The hash of `tests/data/golden-genesis.json`. If this changes, every existing chain's
/// genesis hash changes with it: that needs a new format version, not a new constant.
const GOLDEN_HASH: &str = "a3f75df5b0fef0db8a9de0eb129fe85311ca7ae4656221fb9e494a9a4daf4217";
const GOLDEN_VALIDATORS_HASH: &str = "d76fc12ed889776348a45b1896d9b2faf67ba5c541e29fcb40281717533ad4ab";

fn golden() -> Genesis {
    Genesis::load(Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_FILE)).expect("the golden file is valid")
}

fn hash_of(text: &str) -> Hash {
    Genesis::from_json(text).expect("valid document").hash()
}

/// Writes `value` as JSON with object keys sorted (ascending or descending) at every level:
/// either compact, or with unusual but legal whitespace between every token. Keys are sorted
/// here explicitly, whatever order `serde_json::Map` keeps.
fn emit(value: &Value, out: &mut String, descending: bool, spaced: bool) {
    let (open, comma, colon, close) =
        if spaced { ("{\r\n\t", " ,\n   ", " \t:\n ", "\n }") } else { ("{", ",", ":", "}") };
    match value {
        Value::Object(map) => {
            out.push_str(open);
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|left, right| left.0.cmp(right.0));
            if descending {
                entries.reverse();
            }
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push_str(comma);
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(colon);
                emit(value, out, descending, spaced);
            }
            out.push_str(close);
        }
        Value::Array(items) => {
            out.push_str(if spaced { "[ " } else { "[" });
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(if spaced { "\n," } else { "," });
                }
                emit(item, out, descending, spaced);
            }
            out.push_str(if spaced { " ]" } else { "]" });
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[test]
fn hash_ignores_key_order_and_whitespace() {
    let pretty = common::genesis(4).to_json_pretty();
    let value: Value = serde_json::from_str(&pretty).expect("JSON");
    let mut compact = String::new();
    emit(&value, &mut compact, false, false);
    let mut reordered = String::new();
    emit(&value, &mut reordered, true, true);

    // The three texts really differ, in key order as well as in whitespace.
    assert_ne!(pretty, compact);
    assert_ne!(compact, reordered);
    let first_key = |text: &str| text.split('"').nth(1).map(str::to_owned).expect("a key");
    assert_eq!(first_key(&pretty), "format_version");
    assert_ne!(first_key(&compact), first_key(&pretty), "key order must differ");
    assert_ne!(first_key(&reordered), first_key(&pretty), "key order must differ");
    assert_ne!(first_key(&reordered), first_key(&compact), "key order must differ");

    let expected = hash_of(&pretty);
    assert_eq!(hash_of(&compact), expected);
    assert_eq!(hash_of(&reordered), expected);
}

#[test]
fn hash_changes_with_any_value() {
    let base = common::document(4);
    let base_hash = hash_of(&base.to_string());
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("genesis_time_ms", Box::new(|d| d["genesis_time_ms"] = json!(common::GENESIS_TIME_MS + 1))),
        ("chain_id", Box::new(|d| d["chain_id"] = json!("tally-test2"))),
        ("timeout", Box::new(|d| d["consensus"]["timeout_max_ms"] = json!(30_001))),
        ("port", Box::new(|d| d["validators"][3]["http_listen"] = json!("127.0.0.1:28099"))),
        ("validator name", Box::new(|d| d["validators"][0]["name"] = json!("v0"))),
        ("member name", Box::new(|d| d["members"][1]["name"] = json!("Globex Corporation"))),
        ("scale", Box::new(|d| d["assets"][2]["scale"] = json!(3))),
        ("max supply", Box::new(|d| d["assets"][2]["max_supply"] = json!("100000"))),
        ("amount", Box::new(|d| d["balances"][0]["amount"] = json!("100001"))),
        ("validator order", Box::new(|d| d["validators"].as_array_mut().expect("array").swap(0, 1))),
        ("member order", Box::new(|d| d["members"].as_array_mut().expect("array").swap(0, 2))),
    ];
    let mut seen = vec![base_hash];
    for (what, edit) in edits {
        let mut document = base.clone();
        edit(&mut document);
        let hash = hash_of(&document.to_string());
        assert!(!seen.contains(&hash), "changing the {what} did not give a new hash");
        seen.push(hash);
    }
}

#[test]
fn golden_hash_is_pinned() {
    let genesis = golden();
    assert_eq!(genesis.hash().to_hex(), GOLDEN_HASH);
    assert_eq!(genesis.validators_hash().to_hex(), GOLDEN_VALIDATORS_HASH);
}

/// Spells out the canonical encoding field by field, so the layout the hash covers is written
/// down here and not only implied by derive order.
#[test]
fn canonical_encoding_layout() {
    fn string(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    let genesis = golden();
    let mut expected = Vec::new();
    expected.extend_from_slice(&genesis.format_version().to_le_bytes());
    string(&mut expected, genesis.chain_id().as_str());
    expected.extend_from_slice(&genesis.genesis_time_ms().to_le_bytes());
    let params = genesis.params();
    for value in [params.timeout_propose_ms, params.timeout_notarize_ms, params.timeout_max_ms] {
        expected.extend_from_slice(&value.to_le_bytes());
    }
    expected.extend_from_slice(&params.block_txs_max.to_le_bytes());
    expected.extend_from_slice(&params.block_bytes_max.to_le_bytes());
    expected.extend_from_slice(&(genesis.validators().len() as u32).to_le_bytes());
    for validator in genesis.validators() {
        string(&mut expected, &validator.name);
        string(&mut expected, validator.member.as_str());
        expected.extend_from_slice(&validator.consensus_key.0);
        expected.extend_from_slice(&validator.network_key.0);
        string(&mut expected, &validator.p2p_listen);
        string(&mut expected, &validator.http_listen.to_string());
    }
    expected.extend_from_slice(&(genesis.members().len() as u32).to_le_bytes());
    for member in genesis.members() {
        string(&mut expected, member.id.as_str());
        string(&mut expected, &member.name);
        expected.extend_from_slice(&(member.issuers.len() as u32).to_le_bytes());
        for issuer in &member.issuers {
            expected.extend_from_slice(&issuer.0);
        }
    }
    expected.extend_from_slice(&(genesis.assets().len() as u32).to_le_bytes());
    for asset in genesis.assets() {
        string(&mut expected, asset.asset.code.as_str());
        string(&mut expected, asset.asset.issuer.as_str());
        expected.push(asset.scale);
        match asset.max_supply {
            None => expected.push(0),
            Some(cap) => {
                expected.push(1);
                expected.extend_from_slice(&cap.0.to_le_bytes());
            }
        }
        expected.extend_from_slice(&asset.flags.0.to_le_bytes());
    }
    expected.extend_from_slice(&(genesis.balances().len() as u32).to_le_bytes());
    for balance in genesis.balances() {
        expected.extend_from_slice(&balance.account.0);
        string(&mut expected, balance.asset.code.as_str());
        string(&mut expected, balance.asset.issuer.as_str());
        expected.extend_from_slice(&balance.amount.0.to_le_bytes());
    }
    assert_eq!(genesis.canonical_bytes(), expected);
    assert_eq!(genesis.hash().0, blake3::derive_key("tally v1 genesis", &expected));

    // A governance threshold, when the document sets one, follows everything else as tag 1,
    // numerator and denominator (u16 LE); absent, nothing follows (as above).
    let mut document: serde_json::Value = serde_json::from_str(&genesis.to_json_pretty()).expect("JSON");
    document["governance_threshold"] = json!({ "numerator": 3, "denominator": 4 });
    let with_threshold = Genesis::from_json(&document.to_string()).expect("valid");
    expected.extend_from_slice(&[1, 3, 0, 4, 0]);
    assert_eq!(with_threshold.canonical_bytes(), expected);
}

#[test]
fn node_and_auditor_views() {
    let genesis = golden();
    assert_eq!(genesis.parent_of_first_block(), BlockId(genesis.hash()));

    let set = genesis.validator_set();
    assert_eq!((set.len(), set.max_faulty(), set.quorum()), (4, 1, 3));
    for (index, validator) in genesis.validators().iter().enumerate() {
        assert_eq!(set.keys()[index], validator.consensus_key);
        assert_eq!(genesis.validator_index(&validator.consensus_key).map(|i| usize::from(i.0)), Some(index));
    }
    assert_eq!(genesis.validators_hash(), set.hash());

    let ledger = genesis.ledger();
    assert_eq!(ledger.members.len(), 3);
    assert_eq!(ledger.members[1].id, genesis.members()[1].id);
    assert_eq!(ledger.members[1].issuers, genesis.members()[1].issuers);
    assert_eq!(ledger.assets[2].asset.to_string(), "INITECH@initech");
    assert_eq!(ledger.balances[0].amount.0, 100_050);

    let root = genesis.initial_state_root();
    assert_ne!(root, Hash::ZERO);
    let state = MemState::from_genesis(&ledger).expect("valid ledger part");
    assert_eq!(root, state.root());
    state.check_invariants().expect("the initial state keeps the ledger invariants");
    assert_eq!(genesis.member(&"globex".parse().expect("valid")).map(|m| m.name.as_str()), Some("Globex"));
}

#[test]
fn json_round_trip_is_exact() {
    let genesis = golden();
    let text = genesis.to_json_pretty();
    assert_eq!(Genesis::from_json(&text).expect("valid"), genesis);
    let file =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_FILE)).expect("readable");
    assert_eq!(text, file, "the writer's output is the checked-in file, byte for byte");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");

    let missing = dir.path().join("missing.json");
    let error = Genesis::load(&missing).expect_err("missing file");
    assert!(matches!(error, GenesisError::Read { .. }));
    assert!(error.to_string().contains("missing.json"), "{error}");

    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{\n\"chain_id\": }").expect("write");
    let error = Genesis::load(&malformed).expect_err("malformed");
    assert!(
        matches!(error, GenesisError::Parse { error: ParseError::Syntax { line: 2, .. }, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with(&format!("{}: malformed JSON at line 2", malformed.display())),
        "{error}"
    );

    let invalid = dir.path().join("invalid.json");
    let mut document = common::document(4);
    document["chain_id"] = json!("X");
    std::fs::write(&invalid, document.to_string()).expect("write");
    let error = Genesis::load(&invalid).expect_err("invalid");
    let text = error.to_string();
    assert!(text.starts_with(&format!("{}: invalid genesis: 1 problem:", invalid.display())), "{text}");
    assert!(text.contains("\n  chain_id: chain id `X`"), "{text}");

    let large = dir.path().join("large.json");
    let mut file = std::fs::File::create(&large).expect("create");
    file.write_all(b" ").expect("write");
    // A sparse file: the size check must refuse it without reading 32 MiB.
    file.set_len(tally_genesis::limits::GENESIS_FILE_BYTES_MAX + 1).expect("extend");
    let error = Genesis::load(&large).expect_err("too large");
    assert!(matches!(error, GenesisError::TooLarge { .. }), "{error:?}");
    assert!(error.to_string().contains("large.json"), "{error}");
}

#[test]
fn not_utf8_is_a_read_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("binary.json");
    std::fs::write(&path, [0xff, 0xfe, b'{', b'}']).expect("write");
    let error = Genesis::load(&path).expect_err("not UTF-8");
    assert!(matches!(error, GenesisError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("binary.json"), "{error}");
}
