//! Tamper tests for `tally audit`: a real chain (signed transfers, executed for their roots,
//! finalized by the validators' keys), written as an archive; the untouched archive verifies,
//! and each kind of tampering is caught at the right height with the check it breaks named.
//! A second chain changes its validator set by governance (a key rotation, epoch 1 from
//! `EPOCH_1_START`): it verifies epoch by epoch, and a certificate, header or view of the wrong
//! epoch is refused at its height with the epoch named; the archive source of proofs
//! (`tally verify`, `tally badge verify` with `--archive`) replays it the same way.

mod audit_support;

use std::process::Command;

use audit_support::{
    BADGE_HEIGHT, BLOCKS, CERTIFIED_BY_CHILD, EPOCH_1_CERTIFIED_BY_CHILD, EPOCH_1_START, FAILING_TX,
    ROTATION_BLOCKS, TestChain, archive_bytes, build, build_rotated, genesis_of, header_of, rotation_badges,
    sign_certificate,
};
use tally_client::audit::{
    AuditFailure, AuditOptions, AuditSummary, Check, InvariantPolicy, archive_source, audit,
    check_archive_header,
};
use tally_genesis::Genesis;
use tally_types::archive::{ArchiveReader, ArchiveRecord};
use tally_types::{Height, Subject, View, encode};

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

#[test]
fn chain_whose_validators_changed_verifies_epoch_by_epoch() {
    let rotated = build_rotated();
    let chain = &rotated.chain;
    let summary = audit_records(chain, &chain.records).expect("each epoch's blocks verify against its set");
    assert_eq!(summary.blocks, ROTATION_BLOCKS);
    assert_eq!(summary.final_epoch, 1);
    assert_eq!(summary.txs, chain.txs);
    // A block of epoch 1 certified by its child (also of epoch 1) still needs that child.
    let cut = &chain.records[..EPOCH_1_CERTIFIED_BY_CHILD as usize];
    expect_failure(audit_records(chain, cut), EPOCH_1_CERTIFIED_BY_CHILD, Check::Certificate);
    // Epoch 0's last block is finalized in a later view of its epoch (re-proposed), which
    // counts; a finalization in a view before its own does not.
    let mut records = chain.records.clone();
    let last = EPOCH_1_START as usize - 2;
    let early = View(records[last].block.header.view.0 - 1);
    let subject = Subject::Finalize { view: early, block_id: records[last].block.id() };
    records[last].certificate = sign_certificate(subject, &rotated.old_keys, 3);
    let failure = expect_failure(audit_records(chain, &records), EPOCH_1_START - 1, Check::Certificate);
    assert!(failure.message.contains("before its own"), "{failure}");
}

#[test]
fn certificate_of_the_old_set_after_the_change_is_refused_at_its_height() {
    let rotated = build_rotated();
    let chain = &rotated.chain;
    let mut records = chain.records.clone();
    // The first block of epoch 1, finalized by the genesis validators (the rotated-out key
    // among them) in its own view: a valid certificate of the old set, not of its epoch's.
    let index = EPOCH_1_START as usize - 1;
    let subject =
        Subject::Finalize { view: records[index].block.header.view, block_id: records[index].block.id() };
    records[index].certificate = sign_certificate(subject, &rotated.old_keys, 3);
    let failure = expect_failure(audit_records(chain, &records), EPOCH_1_START, Check::Certificate);
    assert!(failure.message.contains("epoch 1 (from height 4)"), "{failure}");
    assert!(failure.expected.as_deref().is_some_and(|expected| expected.contains("epoch 1")), "{failure}");
    assert!(failure.actual.as_deref().is_some_and(|actual| actual.contains("validator 0")), "{failure}");
}

#[test]
fn last_block_of_an_epoch_finalized_in_the_next_epoch_is_refused() {
    let rotated = build_rotated();
    let chain = &rotated.chain;
    let mut records = chain.records.clone();
    // Epoch 0's last block stored with a finalization by epoch 1's validators in an epoch-1
    // view: R8 says an epoch's own validators finalize its last block.
    let last = EPOCH_1_START as usize - 2;
    let view = View(View::epoch_base(1).0 + 1);
    let subject = Subject::Finalize { view, block_id: records[last].block.id() };
    records[last].certificate = sign_certificate(subject, &rotated.new_keys, 3);
    let failure = expect_failure(audit_records(chain, &records), EPOCH_1_START - 1, Check::Certificate);
    assert!(failure.message.contains("epoch 0 (from height 1)"), "{failure}");
    assert_eq!(failure.expected.as_deref(), Some("a view of epoch 0"), "{failure}");
    assert_eq!(failure.actual.as_deref(), Some("epoch 1"), "{failure}");
}

#[test]
fn header_of_the_wrong_epoch_is_refused_at_its_height() {
    let rotated = build_rotated();
    let chain = &rotated.chain;
    let first = EPOCH_1_START as usize - 1;
    // The first block of epoch 1 naming the genesis set.
    let mut records = chain.records.clone();
    let old_hash = chain.genesis.validator_set().hash();
    let new_hash = records[first].block.header.validators_hash;
    records[first].block.header.validators_hash = old_hash;
    let failure = expect_failure(audit_records(chain, &records), EPOCH_1_START, Check::ValidatorsHash);
    assert!(failure.message.contains("epoch 1"), "{failure}");
    assert_eq!((failure.expected, failure.actual), (Some(new_hash.to_string()), Some(old_hash.to_string())));
    // The same block in a view of epoch 0, finalized in that view by epoch 1's set.
    let mut records = chain.records.clone();
    records[first].block.header.view = View(EPOCH_1_START);
    let subject = Subject::Finalize { view: View(EPOCH_1_START), block_id: records[first].block.id() };
    records[first].certificate = sign_certificate(subject, &rotated.new_keys, 3);
    let failure = expect_failure(audit_records(chain, &records), EPOCH_1_START, Check::View);
    assert_eq!(failure.expected.as_deref(), Some("a view of epoch 1"), "{failure}");
}

/// Writes `records` of `chain` to a temporary archive file.
fn archive_file(chain: &TestChain, records: &[ArchiveRecord]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), archive_bytes(&header_of(&chain.genesis), records)).expect("write");
    file
}

#[test]
fn archive_source_establishes_each_epoch_and_checks_finality_against_it() {
    use tally_client::proofs::{ArchiveSource, Interest, ProofError, Trust, finalized_block};

    let rotated = build_rotated();
    let chain = &rotated.chain;
    let file = archive_file(chain, &chain.records);
    let mut source =
        ArchiveSource::load(file.path(), &chain.genesis, &Interest::default()).expect("the archive replays");
    let epochs: Vec<(u64, Height)> =
        source.epochs().iter().map(|epoch| (epoch.number, epoch.start_height)).collect();
    assert_eq!(epochs, vec![(0, Height(1)), (1, Height(EPOCH_1_START))]);
    assert_eq!(source.epochs()[1].validators.keys()[0], audit_support::rotated_key().public_key());
    let mut trust = Trust::from_genesis(&chain.genesis);
    trust.epochs = source.epochs().to_vec();
    let (_, finalized) =
        finalized_block(&mut source, &trust, Height(ROTATION_BLOCKS)).expect("final in epoch 1");
    assert_eq!((finalized.epoch, finalized.quorum), (1, 3));

    // Trusting only the genesis file's epoch (what a node source knows today), a block of
    // epoch 1 is refused by height and epoch, not taken for final.
    let genesis_only = Trust::from_genesis(&chain.genesis);
    let error =
        finalized_block(&mut source, &genesis_only, Height(ROTATION_BLOCKS)).expect_err("epoch 1 unknown");
    assert!(
        matches!(error, ProofError::EpochUnknown { height: Height(ROTATION_BLOCKS), epoch: 1, known: 0 }),
        "{error}"
    );
    assert!(error.to_string().contains(&format!("height {ROTATION_BLOCKS} was made in epoch 1")), "{error}");
}

/// `tally badge verify --archive` across epochs (issue #12 item 6): a badge anchored in epoch 1
/// passes all six steps with the epochs the replay derived from the genesis file; trusting the
/// genesis set alone, the finality step fails naming the epoch; an anchor certified by the old
/// set after the change is refused by the replay itself.
#[test]
fn a_badge_anchored_after_the_change_verifies_with_the_derived_epochs() {
    use tally_client::proofs::{ArchiveSource, Interest, Trust, verify_badge};

    let rotated = build_rotated();
    let chain = &rotated.chain;
    let (assertions, batch) = rotation_badges();
    let anchor = &chain.records[BADGE_HEIGHT as usize - 1];
    let mut receipt = batch.receipt(1).expect("in range");
    receipt.tx_id = Some(anchor.block.txs[0].id());
    receipt.height = Some(Height(BADGE_HEIGHT));
    let interest = Interest { txs: vec![anchor.block.txs[0].id()], anchor_roots: vec![batch.root()] };
    let file = archive_file(chain, &chain.records);
    let mut source =
        ArchiveSource::load(file.path(), &chain.genesis, &interest).expect("the archive replays");
    let mut trust = Trust::from_genesis(&chain.genesis);
    trust.epochs = source.epochs().to_vec();
    let report = verify_badge(&mut source, &trust, &assertions[1], &receipt);
    assert!(report.is_valid(), "{report:#?}");

    let genesis_only = Trust::from_genesis(&chain.genesis);
    let report = verify_badge(&mut source, &genesis_only, &assertions[1], &receipt);
    let failed = report.failed_step().unwrap_or_else(|| panic!("passed trusting genesis only: {report:#?}"));
    assert!(failed.detail.contains("epoch 1"), "{failed:?}");

    let mut records = chain.records.clone();
    let index = BADGE_HEIGHT as usize - 1;
    let subject =
        Subject::Finalize { view: records[index].block.header.view, block_id: records[index].block.id() };
    records[index].certificate = sign_certificate(subject, &rotated.old_keys, 3);
    let forged = archive_file(chain, &records);
    let error = ArchiveSource::load(forged.path(), &chain.genesis, &interest).err().expect("refused");
    assert!(error.to_string().contains(&format!("block {BADGE_HEIGHT}: certificate")), "{error}");
}

#[test]
fn archive_source_refuses_certificates_and_views_of_the_wrong_epoch() {
    use tally_client::proofs::{ArchiveSource, Interest, ProofError};

    let rotated = build_rotated();
    let chain = &rotated.chain;
    let load = |records: &[ArchiveRecord]| {
        let file = archive_file(chain, records);
        ArchiveSource::load(file.path(), &chain.genesis, &Interest::default()).err().expect("refused")
    };
    let first = EPOCH_1_START as usize - 1;
    // The first block of epoch 1 finalized by the old set.
    let mut records = chain.records.clone();
    let subject =
        Subject::Finalize { view: records[first].block.header.view, block_id: records[first].block.id() };
    records[first].certificate = sign_certificate(subject, &rotated.old_keys, 3);
    let error = load(&records);
    assert!(matches!(&error, ProofError::Replay { height: Height(EPOCH_1_START), .. }), "{error}");
    assert!(error.to_string().contains("block 4: certificate"), "{error}");
    assert!(error.to_string().contains("validators of epoch 1 (from height 4)"), "{error}");
    // Epoch 0's last block finalized by epoch 1's set in an epoch-1 view.
    let mut records = chain.records.clone();
    let subject =
        Subject::Finalize { view: View(View::epoch_base(1).0 + 1), block_id: records[first - 1].block.id() };
    records[first - 1].certificate = sign_certificate(subject, &rotated.new_keys, 3);
    let error = load(&records);
    assert!(error.to_string().contains("block 3: its certificate is of view"), "{error}");
    assert!(error.to_string().contains("of epoch 1, but the block belongs to epoch 0"), "{error}");
    // The first block of epoch 1 made in a view of epoch 0.
    let mut records = chain.records.clone();
    records[first].block.header.view = View(EPOCH_1_START);
    let subject = Subject::Finalize { view: View(EPOCH_1_START), block_id: records[first].block.id() };
    records[first].certificate = sign_certificate(subject, &rotated.new_keys, 3);
    let error = load(&records);
    assert!(error.to_string().contains("block 4: the epoch of its view"), "{error}");
    assert_eq!(error.expected_actual(), Some(("1".to_owned(), "0".to_owned())), "{error}");
}

/// The step to epoch 1 as a node answers it: the last block of epoch 0, its finalization, and
/// the epochs entry proven under its state root, here from a replay up to `proof_height`.
fn epoch_step(chain: &TestChain, last: u64, proof_height: u64) -> tally_client::proofs::EpochStep {
    use tally_client::proofs::{EntryEvidence, EpochStep};
    use tally_ledger::{BlockContext, StateKey};

    let mut state = chain.genesis.initial_state();
    for record in &chain.records[..proof_height as usize] {
        let header = &record.block.header;
        let context = BlockContext {
            chain_id: header.chain_id.clone(),
            height: header.height,
            time_ms: header.time_ms,
        };
        state.execute_and_commit(&context, record.block.txs.as_slice()).expect("replays");
    }
    let proof = state.prove(&StateKey::Epochs).expect("provable");
    let record = &chain.records[last as usize - 1];
    EpochStep {
        number: 1,
        start_height: Height(last + 1),
        header: record.block.header.clone(),
        certificate: record.certificate.clone(),
        entry: EntryEvidence { value: proof.value.map(hex::encode), proof: proof.proof },
    }
}

#[test]
fn the_chain_of_epochs_is_followed_from_genesis_step_by_step() {
    use tally_client::proofs::{ArchiveSource, Interest, ProofError, Trust, finalized_block};

    let rotated = build_rotated();
    let chain = &rotated.chain;
    let last = EPOCH_1_START - 1;
    let good = epoch_step(chain, last, last);
    let mut trust = Trust::from_genesis(&chain.genesis);
    trust.follow_epochs(std::slice::from_ref(&good)).expect("the step checks");
    // The same epochs as a replay establishes, and finality in epoch 1 checks with them.
    let file = archive_file(chain, &chain.records);
    let mut source = ArchiveSource::load(file.path(), &chain.genesis, &Interest::default()).expect("replays");
    assert_eq!(trust.epochs, source.epochs());
    let (_, finalized) = finalized_block(&mut source, &trust, Height(ROTATION_BLOCKS)).expect("final");
    assert_eq!(finalized.epoch, 1);
    // Following again skips what is established.
    trust.follow_epochs(std::slice::from_ref(&good)).expect("nothing new");
    assert_eq!(trust.epochs.len(), 2);

    let refused = |step: tally_client::proofs::EpochStep| {
        let mut trust = Trust::from_genesis(&chain.genesis);
        let error = trust.follow_epochs(&[step]).expect_err("refused");
        assert_eq!(trust.epochs.len(), 1, "nothing established from a bad step");
        error
    };
    // The last block's finalization signed by epoch 1's validators instead of epoch 0's.
    let mut step = good.clone();
    let subject = Subject::Finalize { view: step.header.view, block_id: step.header.id() };
    step.certificate = sign_certificate(subject, &rotated.new_keys, 3);
    let error = refused(step);
    assert!(matches!(error, ProofError::EpochStep { epoch: 1, height: Height(3), .. }), "{error}");
    assert!(error.to_string().contains("does not verify against the validators of epoch 0"), "{error}");
    // A proof made under another block's state root (block 2's, which schedules the same epoch).
    let error = refused(epoch_step(chain, last, last - 1));
    assert!(matches!(error, ProofError::EpochStep { epoch: 1, height: Height(3), .. }), "{error}");
    // Another block's header with the last block's certificate.
    let mut step = good.clone();
    step.header = chain.records[last as usize - 2].block.header.clone();
    step.start_height = Height(last);
    assert!(refused(step).to_string().contains("not this block"));
    // A step that claims another epoch number.
    let mut step = good.clone();
    step.number = 2;
    let error = refused(step);
    assert!(error.to_string().contains("must be for epoch 1"), "{error}");
    // A step that names the wrong start: the state says epoch 1 starts after the block.
    let mut step = epoch_step(chain, last - 1, last - 1);
    step.certificate = {
        let header = &step.header;
        sign_certificate(Subject::Finalize { view: header.view, block_id: header.id() }, &rotated.old_keys, 3)
    };
    let error = refused(step);
    assert!(error.to_string().contains("height 3 is in epoch 0"), "{error}");
}

/// A record as `GET /v1/evidence` serves it: two votes of `signer` (keys[signer]) in `view`,
/// one for each of two blocks.
fn evidence_record(
    view: View,
    signer: u16,
    key: &tally_types::SecretKey,
) -> tally_client::http::EvidenceRecord {
    let chain_id = tally_types::ChainId::new("tally-audit-test").expect("valid");
    let vote = |byte: u8| {
        let subject =
            Subject::Notarize { view, block_id: tally_types::BlockId(tally_types::Hash([byte; 32])) };
        tally_types::Vote {
            subject,
            signer: tally_types::ValidatorIndex(signer),
            signature: subject.sign(&chain_id, key),
        }
    };
    let evidence = tally_types::consensus::Evidence::ConflictingVotes {
        first: Box::new(vote(1)),
        second: Box::new(vote(2)),
    };
    tally_client::http::EvidenceRecord {
        key: format!("k{}", view.0),
        kind: "conflicting_votes".into(),
        view: view.0,
        epoch: view.epoch(),
        signer,
        first: serde_json::Value::Null,
        second: serde_json::Value::Null,
        record: hex::encode(encode(&evidence)),
    }
}

/// `tally audit` checks the evidence a node serves against the audited chain's validator sets
/// (issue #17 item 1): evidence signed by a validator's key of that epoch proves it; the same
/// key after it was rotated away, a record the node mislabels, damaged bytes and a forged
/// signer prove nothing; an epoch past the chain is left unchecked.
#[test]
fn evidence_is_checked_against_the_validator_set_of_its_epoch() {
    use tally_client::audit::{EvidenceVerdict, check_evidence};
    let rotated = build_rotated();
    let bytes = archive_bytes(&header_of(&rotated.chain.genesis), &rotated.chain.records);
    let summary = audit_bytes(&rotated.chain.genesis, &bytes).expect("verifies");
    assert_eq!(summary.epochs.len(), 2, "epochs 0 and 1");
    let epoch_1 = View::epoch_base(1).0;
    let mut mislabelled = evidence_record(View(3), 1, &rotated.old_keys[1]);
    mislabelled.view = 4;
    let mut wrong_signer = evidence_record(View(3), 1, &rotated.old_keys[1]);
    wrong_signer.signer = 2;
    let mut damaged = evidence_record(View(3), 1, &rotated.old_keys[1]);
    damaged.record.truncate(20);
    let records = vec![
        evidence_record(View(3), 0, &rotated.old_keys[0]),
        evidence_record(View(epoch_1 + 2), 0, &rotated.new_keys[0]),
        evidence_record(View(epoch_1 + 2), 0, &rotated.old_keys[0]),
        mislabelled,
        wrong_signer,
        damaged,
        evidence_record(View(View::epoch_base(2).0 + 1), 3, &rotated.new_keys[3]),
    ];
    let findings = check_evidence(&summary.chain_id, &summary.epochs, &records);
    let verdicts: Vec<&EvidenceVerdict> = findings.iter().map(|finding| &finding.verdict).collect();
    assert_eq!(
        verdicts[0],
        &EvidenceVerdict::Proven { validator: 0, key: rotated.old_keys[0].public_key() },
        "{findings:?}"
    );
    assert_eq!(verdicts[1], &EvidenceVerdict::Proven { validator: 0, key: rotated.new_keys[0].public_key() });
    let reason = |index: usize| match verdicts[index] {
        EvidenceVerdict::Invalid { reason } => reason.clone(),
        other => panic!("record {index}: {other:?}"),
    };
    assert!(reason(2).contains("signature"), "{}", reason(2));
    assert!(reason(3).contains("lists it as conflicting_votes in view 4"), "{}", reason(3));
    assert!(reason(4).contains("but the node names validator 2"), "{}", reason(4));
    assert!(reason(5).contains("does not decode"), "{}", reason(5));
    assert!(matches!(verdicts[6], EvidenceVerdict::Unchecked { reason } if reason.contains("epoch 2")));
}
