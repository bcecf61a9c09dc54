//! Shared fixtures: a valid document built by the library's own builder, as JSON to mutate.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::IpAddr;

use serde_json::Value;
use tally_genesis::init::{TestnetSpec, build_testnet};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis, ParseError};
use tally_types::{Amount, ChainId, MemberId};

pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

/// A seeded, valid network of `validators` validators, members acme, globex and initech, and
/// an opening balance of 1000.00 for each issuer.
pub fn genesis(validators: usize) -> Genesis {
    let chain_id = ChainId::new("tally-test").expect("valid chain id");
    let keys = KeySource::seeded(b"fixture", &chain_id).expect("valid seed");
    let spec = TestnetSpec {
        chain_id,
        validators,
        members: ["acme", "globex", "initech"]
            .iter()
            .map(|id| MemberId::new(*id).expect("valid id"))
            .collect(),
        genesis_time_ms: GENESIS_TIME_MS,
        consensus: ConsensusParams::default(),
        listen_ip: IpAddr::from([127, 0, 0, 1]),
        base_port: 27_000,
        issuer_float: Some(Amount(100_000)),
    };
    build_testnet(&spec, &keys).expect("the fixture is valid").genesis
}

/// The fixture as a JSON value.
pub fn document(validators: usize) -> Value {
    serde_json::from_str(&genesis(validators).to_json_pretty()).expect("the builder writes JSON")
}

/// The problems `Genesis::from_json` reports for `text`, as `path: message` lines.
pub fn problems_of_text(text: &str) -> Vec<String> {
    match Genesis::from_json(text) {
        Ok(_) => panic!("the document was accepted:\n{text}"),
        Err(ParseError::Syntax { line, column, message }) => {
            panic!("unexpected syntax error at {line}:{column}: {message}")
        }
        Err(ParseError::Invalid(problems)) => problems.list().iter().map(ToString::to_string).collect(),
    }
}

/// The problems reported for `document`.
pub fn problems(document: &Value) -> Vec<String> {
    problems_of_text(&document.to_string())
}

/// Asserts that `document` is refused with a problem at exactly `path` whose message contains
/// `needle`, and returns all problems.
pub fn assert_problem(document: &Value, path: &str, needle: &str) -> Vec<String> {
    let problems = problems(document);
    let prefix = format!("{path}: ");
    assert!(
        problems
            .iter()
            .any(|problem| problem.starts_with(&prefix) && problem[prefix.len()..].contains(needle)),
        "expected a problem at `{path}` containing `{needle}`; got:\n{}",
        problems.join("\n")
    );
    problems
}

/// The address of the identity point, a small-order (weak) ed25519 key.
pub fn weak_key_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    bytes
}
