//! Tamper tests for `tally audit`: a real chain (signed transfers, executed for their roots,
//! finalized by the validators' keys), written as an archive; the untouched archive verifies,
//! and each kind of tampering is caught at the right height with the check it breaks named.

mod audit_support;

use std::process::Command;

use audit_support::{
    BLOCKS, CERTIFIED_BY_CHILD, FAILING_TX, TestChain, archive_bytes, build, genesis_of, header_of,
};
use tally_client::audit::{
    AuditFailure, AuditOptions, AuditSummary, Check, InvariantPolicy, archive_source, audit,
    check_archive_header,
};
use tally_genesis::Genesis;
use tally_types::archive::{ArchiveReader, ArchiveRecord};
use tally_types::{Height, encode};

fn options() -> AuditOptions {
    AuditOptions { signature_threads: 2, invariants: InvariantPolicy::EveryBlock }
}

fn audit_bytes(genesis: &Genesis, bytes: &[u8]) -> Result<AuditSummary, AuditFailure> {
    let reader = ArchiveReader::new(bytes).expect("archive header parses");
    check_archive_header(genesis, reader.header())?;
    audit(genesis, archive_source(reader), options(), &mut |_| {})
}

fn audit_records(chain: &TestChain, records: &[ArchiveRecord]) -> Result<AuditSummary, AuditFailure> {
    audit_bytes(&chain.genesis, &archive_bytes(&header_of(&chain.genesis), records))
}

fn expect_failure(outcome: Result<AuditSummary, AuditFailure>, height: u64, check: Check) -> AuditFailure {
    let failure = outcome.expect_err("tampering must be detected");
    assert_eq!((failure.height, failure.check), (Height(height), check), "{failure}");
    assert!(failure.to_string().contains(check.name()), "{failure}");
    failure
}

#[test]
fn untouched_chain_verifies() {
    let chain = build();
    let mut progress_calls = 0;
    let reader_bytes = archive_bytes(&header_of(&chain.genesis), &chain.records);
    let reader = ArchiveReader::new(reader_bytes.as_slice()).expect("header");
    let summary = audit(&chain.genesis, archive_source(reader), options(), &mut |_| progress_calls += 1)
        .expect("the untouched chain verifies");
    assert_eq!(summary.blocks, BLOCKS);
    assert_eq!(summary.final_height, Height(BLOCKS));
    assert_eq!(summary.txs, chain.txs);
    assert_eq!(summary.txs_succeeded, chain.txs - 1, "one transfer fails by design");
    assert_eq!(summary.state_root, chain.records.last().expect("blocks").block.header.state_root);
    assert_eq!(summary.invariant_checks, BLOCKS);
    assert_eq!(progress_calls, BLOCKS);
    // 1 issuer + 8 holders, each with an account entry (seq) or a balance only.
    assert!(summary.accounts >= 8, "{summary:?}");
    // The amortized policy checks at least the first and the last block.
    let reader = ArchiveReader::new(reader_bytes.as_slice()).expect("header");
    let amortized = AuditOptions { signature_threads: 1, invariants: InvariantPolicy::Amortized };
    let summary = audit(&chain.genesis, archive_source(reader), amortized, &mut |_| {}).expect("verifies");
    assert!(summary.invariant_checks >= 2, "{summary:?}");
}

#[test]
fn flipped_byte_in_a_transaction_is_named_with_its_index() {
    let chain = build();
    let mut records = chain.records.clone();
    let tx = &mut records[4].block.txs.as_slice().to_vec();
    // The last byte of the transfer amount (a u128 just before the 4-byte empty memo).
    let mut bytes = encode(&tx[1]);
    let body_len = encode(&tx[1].tx).len();
    bytes[body_len - 5] ^= 0x01;
    tx[1] = tally_types::decode(&bytes).expect("still a transaction");
    records[4].block.txs = tally_types::BoundedVec::new(tx.clone()).expect("same count");
    let failure = expect_failure(audit_records(&chain, &records), 5, Check::TxSignature);
    assert_eq!(failure.tx_index, Some(1));
    assert_eq!(failure.tx_id, Some(tx[1].id()));
}

#[test]
fn flipped_byte_in_a_signature_is_named_with_its_index() {
    let chain = build();
    let mut records = chain.records.clone();
    let mut txs = records[1].block.txs.as_slice().to_vec();
    txs[3].signature.0[7] ^= 0x80;
    records[1].block.txs = tally_types::BoundedVec::new(txs).expect("same count");
    let failure = expect_failure(audit_records(&chain, &records), 2, Check::TxSignature);
    assert_eq!(failure.tx_index, Some(3));
}

#[test]
fn flipped_byte_in_a_certificate_is_caught() {
    let chain = build();
    let mut records = chain.records.clone();
    records[4].certificate.signatures = {
        let mut signatures = records[4].certificate.signatures.as_slice().to_vec();
        signatures[1].0[20] ^= 0x04;
        tally_types::BoundedVec::new(signatures).expect("same count")
    };
    let failure = expect_failure(audit_records(&chain, &records), 5, Check::Certificate);
    assert!(failure.message.contains("signature of validator 1"), "{failure}");
}

#[test]
fn certificate_naming_no_block_of_the_chain_is_caught_at_its_height() {
    let chain = build();
    let mut records = chain.records.clone();
    // Block 2 stored with block 1's certificate: it names a block that is not 2 or later.
    records[1].certificate = records[0].certificate.clone();
    expect_failure(audit_records(&chain, &records), 2, Check::Certificate);
}

#[test]
fn changed_header_field_is_caught_at_its_height() {
    let chain = build();
    // A root the execution recomputes: named as such.
    let mut records = chain.records.clone();
    records[3].block.header.state_root.0[0] ^= 0x01;
    let failure = expect_failure(audit_records(&chain, &records), 4, Check::StateRoot);
    assert_eq!(failure.actual, Some(records[3].block.header.state_root.to_string()));
    // A field nothing recomputes (the time, still increasing): the block no longer hashes to
    // the finalized id that its certificate and its child's parent link name.
    let mut records = chain.records.clone();
    records[1].block.header.time_ms += 1;
    expect_failure(audit_records(&chain, &records), 2, Check::BlockId);
    // The same at the tip, where no child names it: only the certificate does.
    let mut records = chain.records.clone();
    records[5].block.header.time_ms += 1;
    expect_failure(audit_records(&chain, &records), BLOCKS, Check::Certificate);
    // A receipts root that does not match re-execution.
    let mut records = chain.records.clone();
    records[(FAILING_TX.0 - 1) as usize].block.header.receipts_root.0[31] ^= 0x10;
    expect_failure(audit_records(&chain, &records), FAILING_TX.0, Check::ReceiptsRoot);
}

#[test]
fn dropped_block_is_caught_at_its_height() {
    let chain = build();
    let mut records = chain.records.clone();
    records.remove(3);
    let failure = expect_failure(audit_records(&chain, &records), 4, Check::Height);
    assert_eq!((failure.expected.as_deref(), failure.actual.as_deref()), (Some("4"), Some("5")));
}

#[test]
fn swapped_blocks_are_caught_at_the_first_of_them() {
    let chain = build();
    let mut records = chain.records.clone();
    records.swap(1, 2);
    expect_failure(audit_records(&chain, &records), 2, Check::Height);
}

#[test]
fn block_certified_by_its_child_verifies_only_with_that_child() {
    let chain = build();
    // Cut the chain right after the block whose certificate names its child.
    let records = &chain.records[..CERTIFIED_BY_CHILD as usize];
    expect_failure(audit_records(&chain, records), CERTIFIED_BY_CHILD, Check::Certificate);
}

#[test]
fn replaced_genesis_is_caught() {
    let chain = build();
    let bytes = archive_bytes(&header_of(&chain.genesis), &chain.records);
    let (other, _, _) = genesis_of(b"another network");
    // The archive names its genesis: a different genesis file is refused before block 1.
    expect_failure(audit_bytes(&other, &bytes), 0, Check::GenesisHash);
    // An archive whose header was rewritten to match the other genesis: block 1 does not
    // descend from it.
    let forged = archive_bytes(&header_of(&other), &chain.records);
    expect_failure(audit_bytes(&other, &forged), 1, Check::ParentId);
}

#[test]
fn truncated_archive_is_reported_at_the_missing_height() {
    let chain = build();
    let bytes = archive_bytes(&header_of(&chain.genesis), &chain.records);
    let failure =
        expect_failure(audit_bytes(&chain.genesis, &bytes[..bytes.len() - 100]), BLOCKS, Check::Source);
    assert!(failure.message.contains("truncated"), "{failure}");
}

#[test]
fn cli_exit_code_and_json_report() {
    let chain = build();
    let dir = tempfile::tempdir().expect("temp dir");
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, chain.genesis.to_json_pretty()).expect("write genesis");
    let archive_path = dir.path().join("chain.archive");
    std::fs::write(&archive_path, archive_bytes(&header_of(&chain.genesis), &chain.records)).expect("write");
    let run = |archive: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["--json", "audit", "--genesis"])
            .arg(&genesis_path)
            .arg("--archive")
            .arg(archive)
            .env("TALLY_NODE", "http://127.0.0.1:1")
            .output()
            .expect("the tally binary runs")
    };
    let output = run(&archive_path);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(report["ok"], true);
    assert_eq!(report["summary"]["final_height"], BLOCKS);
    assert_eq!(report["summary"]["txs"], chain.txs);

    let mut records = chain.records.clone();
    records.remove(1);
    let tampered = dir.path().join("tampered.archive");
    std::fs::write(&tampered, archive_bytes(&header_of(&chain.genesis), &records)).expect("write");
    let output = run(&tampered);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(report["ok"], false);
    assert_eq!(report["failure"]["height"], 2);
    assert_eq!(report["failure"]["check"], "height");
    assert!(String::from_utf8_lossy(&output.stderr).contains("audit failed: height 2"));
}
