//! Badge verification over a real chain built in process: a genesis from `tally-genesis`,
//! blocks executed by `tally-ledger`, finalization certificates signed by the genesis
//! validators' keys, written to an archive with `tally_types::archive` and replayed by
//! `ArchiveSource` (the `--archive` path). Each case names the step that must fail.

use std::net::IpAddr;

use tally_client::badge::{BadgeBatch, BadgeReceipt};
use tally_client::proofs::{
    ArchiveSource, BadgeVerification, ChainSource, Interest, Trust, finalized_block, verify_badge,
    verify_tx_inclusion,
};
use tally_genesis::init::{TestnetSpec, build_testnet};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis};
use tally_ledger::{BlockContext, MemState, StateKey};
use tally_types::archive::{ArchiveHeader, ArchiveWriter};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::tx::{RevokeBadge, Transaction};
use tally_types::{
    Amount, Block, Certificate, ChainId, Hash, Header, Height, MemberId, Op, SecretKey, SignedTransaction,
    Subject, TxId, ValidatorIndex, View,
};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/badges");

fn member(id: &str) -> MemberId {
    MemberId::new(id).expect("valid member id")
}

/// An Open Badges 2.0 assertion of the examples' shape, distinct per `number`.
fn assertion(number: usize) -> Vec<u8> {
    format!(
        r#"{{"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
  "id": "https://badges.acme.example/assertions/{number}.json",
  "recipient": {{"type": "email", "hashed": true, "salt": "5a1f", "identity": "sha256$00ff"}},
  "badge": "https://badges.acme.example/classes/api-calls-1m.json",
  "issuedOn": "2025-03-14T09:30:00Z", "verification": {{"type": "hosted"}}}}"#
    )
    .into_bytes()
}

/// A chain under construction: the state, the blocks with their certificates, and the keys.
struct TestChain {
    genesis: Genesis,
    validators: Vec<SecretKey>,
    acme: SecretKey,
    globex: SecretKey,
    outsider: SecretKey,
    state: MemState,
    records: Vec<(Block, Certificate)>,
    seqs: std::collections::BTreeMap<tally_types::PublicKey, u64>,
    /// Blocks whose certificate is withheld until the next block, which then finalizes both
    /// (as a node stores a descendant's finalization with its ancestors).
    pending: Option<Block>,
}

impl TestChain {
    fn new() -> Self {
        Self::with_validators(4)
    }

    fn with_validators(count: usize) -> Self {
        let chain_id = ChainId::new("tally-badges").expect("valid");
        let keys = KeySource::seeded(b"badge verify", &chain_id).expect("seed");
        let spec = TestnetSpec {
            chain_id,
            validators: count,
            members: vec![member("acme"), member("globex")],
            genesis_time_ms: 1_700_000_000_000,
            consensus: ConsensusParams::default(),
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            base_port: 29_000,
            issuer_float: Some(Amount(1_000)),
        };
        let testnet = build_testnet(&spec, &keys).expect("valid testnet");
        let validators = (0..count as u16).map(|i| keys.consensus_key(i).expect("key")).collect();
        let state = testnet.genesis.initial_state();
        TestChain {
            acme: keys.issuer_key(&member("acme")).expect("key"),
            globex: keys.issuer_key(&member("globex")).expect("key"),
            outsider: SecretKey::from_seed(&[77; 32]),
            genesis: testnet.genesis,
            validators,
            state,
            records: Vec::new(),
            seqs: Default::default(),
            pending: None,
        }
    }

    fn tx(&mut self, signer: &SecretKey, ops: Vec<Op>) -> SignedTransaction {
        let seq = self.seqs.entry(signer.public_key()).or_insert(0);
        *seq += 1;
        Transaction {
            chain_id: self.genesis.chain_id().clone(),
            signer: signer.public_key(),
            seq: *seq,
            valid_until_height: Height(1_000),
            ops: BoundedVec::new(ops).expect("few ops"),
            memo: BoundedBytes::empty(),
        }
        .sign(signer)
    }

    fn finalization(&self, block: &Block, signers: usize) -> Certificate {
        let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
        let votes: Vec<(ValidatorIndex, tally_types::Signature)> = self.validators[..signers]
            .iter()
            .enumerate()
            .map(|(i, key)| (ValidatorIndex(i as u16), subject.sign(self.genesis.chain_id(), key)))
            .collect();
        Certificate::from_votes(subject, &votes, self.validators.len()).expect("distinct signers")
    }

    /// Executes `txs` as the next block. With `defer`, its certificate is the next block's.
    fn block(&mut self, txs: Vec<SignedTransaction>, defer: bool) -> Block {
        let height = Height(self.records.len() as u64 + u64::from(self.pending.is_some()) + 1);
        let parent_id = match (&self.pending, self.records.last()) {
            (Some(pending), _) => pending.id(),
            (None, Some((last, _))) => last.id(),
            (None, None) => self.genesis.parent_of_first_block(),
        };
        let time_ms = 1_700_000_000_000 + height.0 * 1_000;
        let context = BlockContext { chain_id: self.genesis.chain_id().clone(), height, time_ms };
        let committed = self.state.execute_and_commit(&context, &txs).expect("includable");
        let ids: Vec<TxId> = txs.iter().map(SignedTransaction::id).collect();
        let header = Header {
            chain_id: self.genesis.chain_id().clone(),
            height,
            view: View(height.0),
            parent_id,
            time_ms,
            proposer: ValidatorIndex((height.0 % 4) as u16),
            tx_root: tx_root(&ids),
            receipts_root: receipts_root(&committed.output.receipts),
            state_root: committed.state_root,
            validators_hash: self.genesis.validators_hash(),
        };
        let block = Block { header, txs: BoundedVec::new(txs).expect("few txs") };
        if defer {
            assert!(self.pending.is_none(), "one deferred block at a time");
            self.pending = Some(block.clone());
        } else {
            let certificate =
                self.finalization(&block, self.validators.len() - (self.validators.len() - 1) / 3);
            if let Some(pending) = self.pending.take() {
                self.records.push((pending, certificate.clone()));
            }
            self.records.push((block.clone(), certificate));
        }
        block
    }

    /// Writes the archive and replays it with `ArchiveSource`.
    fn source(&self, interest: &Interest) -> ArchiveSource {
        assert!(self.pending.is_none(), "a deferred block has no certificate yet");
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let header =
            ArchiveHeader { chain_id: self.genesis.chain_id().clone(), genesis_hash: self.genesis.hash() };
        let mut writer = ArchiveWriter::new(std::io::BufWriter::new(file.reopen().expect("reopen")), &header)
            .expect("header");
        for (block, certificate) in &self.records {
            writer.append(block, certificate).expect("append");
        }
        use std::io::Write;
        writer.finish().expect("finish").flush().expect("flush");
        ArchiveSource::load(file.path(), &self.genesis, interest).expect("the archive replays")
    }

    fn trust(&self) -> Trust {
        Trust::from_genesis(&self.genesis)
    }

    fn verify(&self, assertion: &[u8], receipt: &BadgeReceipt) -> BadgeVerification {
        self.verify_with(&self.trust(), assertion, receipt)
    }

    fn verify_with(&self, trust: &Trust, assertion: &[u8], receipt: &BadgeReceipt) -> BadgeVerification {
        let interest =
            Interest { txs: receipt.tx_id.into_iter().collect(), anchor_roots: vec![receipt.root] };
        let mut source = self.source(&interest);
        verify_badge(&mut source, trust, assertion, receipt)
    }
}

/// The anchored batch of the scenario and its receipts.
struct Scenario {
    chain: TestChain,
    assertions: Vec<Vec<u8>>,
    receipts: Vec<BadgeReceipt>,
}

/// acme anchors three badges (block 1, finalized through block 2's certificate); globex
/// revokes badge 0 (no effect: not its badge); acme revokes badge 2.
fn scenario() -> Scenario {
    let mut chain = TestChain::new();
    let assertions: Vec<Vec<u8>> = (0..3).map(assertion).collect();
    let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
    let acme = chain.acme.clone();
    let anchor_tx = chain.tx(&acme, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    chain.block(vec![anchor_tx.clone()], true);
    let globex = chain.globex.clone();
    let foreign = chain.tx(&globex, vec![revoke(batch.badge_hashes()[0], "not ours to revoke")]);
    chain.block(vec![foreign], false);
    let own = chain.tx(&acme, vec![revoke(batch.badge_hashes()[2], "issued in error")]);
    chain.block(vec![own], false);
    let receipts = batch
        .receipts()
        .map(|mut receipt| {
            receipt.tx_id = Some(anchor_tx.id());
            receipt.height = Some(Height(1));
            receipt
        })
        .collect();
    Scenario { chain, assertions, receipts }
}

fn revoke(badge_hash: Hash, reason: &str) -> Op {
    Op::RevokeBadge(RevokeBadge { badge_hash, reason: BoundedString::new(reason).expect("short") })
}

fn failed_at(report: &BadgeVerification) -> (u8, String) {
    let step = report.failed_step().unwrap_or_else(|| panic!("verification passed: {report:#?}"));
    (step.number, step.detail.clone())
}

#[test]
fn a_valid_badge_passes_all_six_steps() {
    let s = scenario();
    let report = s.chain.verify(&s.assertions[1], &s.receipts[1]);
    assert!(report.is_valid(), "{report:#?}");
    assert_eq!(report.steps.iter().map(|step| step.number).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    // Block 1 is final through block 2's certificate; the parent link was followed.
    assert!(report.steps[3].detail.contains("descendant 2"), "{}", report.steps[3].detail);
    // Another member's revocation of badge 0 has no effect on it.
    let report = s.chain.verify(&s.assertions[0], &s.receipts[0]);
    assert!(report.is_valid(), "{report:#?}");
}

/// A verifier that knows the chain reached some height refuses state proofs against an older
/// one: an outdated source could otherwise hide a later revocation.
#[test]
fn state_older_than_the_required_height_fails_at_step_5() {
    let s = scenario();
    let mut trust = s.chain.trust();
    trust.min_state_height = Height(4);
    let report = s.chain.verify_with(&trust, &s.assertions[1], &s.receipts[1]);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 5, "{report:#?}");
    assert!(detail.contains("below the required minimum 4"), "{detail}");
    trust.min_state_height = Height(3);
    assert!(s.chain.verify_with(&trust, &s.assertions[1], &s.receipts[1]).is_valid());
}

#[test]
fn a_receipt_without_tx_id_is_found_through_the_anchor_entry() {
    let s = scenario();
    let mut receipt = s.receipts[1].clone();
    receipt.tx_id = None;
    receipt.height = None;
    assert!(s.chain.verify(&s.assertions[1], &receipt).is_valid());
}

#[test]
fn a_tampered_assertion_fails_at_step_1() {
    let s = scenario();
    let tampered =
        String::from_utf8(s.assertions[1].clone()).expect("utf-8").replace("2025-03-14", "2025-03-15");
    let report = s.chain.verify(tampered.as_bytes(), &s.receipts[1]);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 1, "{detail}");
    let failed = report.failed_step().expect("failed");
    assert_eq!(failed.expected.as_deref(), Some(s.receipts[1].badge_hash.to_hex().as_str()));
    assert!(failed.actual.is_some());
    // Whitespace and key order do not matter: JCS.
    let reordered = br#"{"verification": {"type": "hosted"}, "type": "Assertion", "@context": "https://w3id.org/openbadges/v2",
      "id": "https://badges.acme.example/assertions/1.json", "issuedOn": "2025-03-14T09:30:00Z",
      "recipient": {"identity": "sha256$00ff", "salt": "5a1f", "hashed": true, "type": "email"},
      "badge": "https://badges.acme.example/classes/api-calls-1m.json"}"#;
    assert!(s.chain.verify(reordered, &s.receipts[1]).is_valid());
}

#[test]
fn a_wrong_receipt_path_fails_at_step_2() {
    let s = scenario();
    // Badge 1's hash with badge 0's path.
    let mut receipt = s.receipts[1].clone();
    receipt.path = s.receipts[0].path.clone();
    let report = s.chain.verify(&s.assertions[1], &receipt);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 2, "{detail}");
    let failed = report.failed_step().expect("failed");
    assert_eq!(failed.expected.as_deref(), Some(s.receipts[1].root.to_hex().as_str()));
}

#[test]
fn a_revoked_badge_fails_at_step_6() {
    let s = scenario();
    let report = s.chain.verify(&s.assertions[2], &s.receipts[2]);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 6, "{detail}");
    assert!(detail.contains("issued in error") && detail.contains("`acme`"), "{detail}");
}

#[test]
fn a_badge_never_anchored_fails_at_step_3() {
    let s = scenario();
    let other = BadgeBatch::from_assertions(&[assertion(10), assertion(11)]).expect("batch");
    let mut receipt = other.receipt(0).expect("in range");
    let report = s.chain.verify(&assertion(10), &receipt);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 3, "{detail}");
    assert!(detail.contains("never anchored"), "{detail}");
    // A receipt claiming a transaction that does not exist.
    receipt.tx_id = Some(TxId(Hash([9; 32])));
    let (step, detail) = failed_at(&s.chain.verify(&assertion(10), &receipt));
    assert_eq!(step, 3, "{detail}");
    assert!(detail.contains("not in any committed block"), "{detail}");
    // A receipt pointing at a real transaction that anchors something else.
    receipt.tx_id = s.receipts[0].tx_id;
    let (step, detail) = failed_at(&s.chain.verify(&assertion(10), &receipt));
    assert_eq!(step, 3, "{detail}");
    assert!(detail.contains("no AnchorBadges or AnchorAchievements op"), "{detail}");
}

#[test]
fn a_batch_anchored_by_a_non_member_key_is_refused_by_the_ledger_and_fails_at_step_3() {
    let mut s = scenario();
    let assertions = [assertion(20), assertion(21)];
    let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
    let outsider = s.chain.outsider.clone();
    let tx = s.chain.tx(&outsider, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    s.chain.block(vec![tx.clone()], false);
    // The ledger included the transaction with a failed receipt and anchored nothing.
    assert!(s.chain.state.value(&StateKey::BadgeAnchor { batch_root: batch.root() }).is_none());
    let mut receipt = batch.receipt(0).expect("in range");
    receipt.tx_id = Some(tx.id());
    receipt.height = Some(Height(4));
    let report = s.chain.verify(&assertions[0], &receipt);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 3, "{detail}");
    assert!(detail.contains("not_issuer"), "{detail}");
    let failed = report.failed_step().expect("failed");
    assert_eq!(failed.expected.as_deref(), Some("success"));
}

#[test]
fn a_certificate_below_quorum_fails_finality() {
    let mut s = scenario();
    let (block, _) = s.chain.records[0].clone();
    // Two of four signatures: below the quorum of three.
    let weak = s.chain.finalization(&block, 2);
    s.chain.records[0].1 = weak.clone();
    s.chain.records[1].1 = weak;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let header =
        ArchiveHeader { chain_id: s.chain.genesis.chain_id().clone(), genesis_hash: s.chain.genesis.hash() };
    let mut writer = ArchiveWriter::new(file.reopen().expect("reopen"), &header).expect("header");
    for (block, certificate) in &s.chain.records {
        writer.append(block, certificate).expect("append");
    }
    writer.finish().expect("finish");
    let error = ArchiveSource::load(file.path(), &s.chain.genesis, &Interest::default())
        .err()
        .expect("a weak certificate is refused");
    assert!(error.to_string().contains("block 1") && error.to_string().contains("quorum"), "{error}");
}

#[test]
fn tx_and_state_proofs_check_against_finalized_headers() {
    let s = scenario();
    let tx_id = s.receipts[0].tx_id.expect("anchored");
    let mut source = s.chain.source(&Interest { txs: vec![tx_id], anchor_roots: Vec::new() });
    let trust = s.chain.trust();
    let evidence = source.tx(&tx_id).expect("reads").expect("found");
    let (block, finalized) = finalized_block(&mut source, &trust, evidence.height).expect("final");
    assert_eq!(finalized.certified_height, Height(2));
    let included = verify_tx_inclusion(&block.header, &tx_id, &evidence).expect("included");
    assert_eq!(included.tx.id(), tx_id);
    // A forged receipt does not verify.
    let mut forged = evidence.clone();
    forged.receipt.outcome =
        tally_types::TxOutcome::Failed { op_index: 0, code: tally_types::ErrorCode::NotIssuer };
    assert!(verify_tx_inclusion(&block.header, &tx_id, &forged).is_err());
    // State: the revocation under acme is present, under globex for badge 2 absent.
    let present = StateKey::BadgeRevocation { member: member("acme"), badge_hash: s.receipts[2].badge_hash };
    let absent = StateKey::BadgeRevocation { member: member("globex"), badge_hash: s.receipts[2].badge_hash };
    for (key, expect_present) in [(present, true), (absent, false)] {
        let evidence = source.state(&key).expect("reads");
        let (_, finalized) = finalized_block(&mut source, &trust, evidence.height).expect("final");
        let value = evidence.entry.verify(&finalized.header.state_root, &key).expect("proof verifies");
        assert_eq!(value.is_some(), expect_present);
        // The same proof against another finalized header's root fails.
        let (_, older) = finalized_block(&mut source, &trust, Height(1)).expect("final");
        assert!(evidence.entry.verify(&older.header.state_root, &key).is_err());
    }
}

#[test]
fn the_example_assertions_verify_once_anchored() {
    let mut chain = TestChain::new();
    let names = [
        "assertion-api-calls-1m.json",
        "assertion-client-library.json",
        "assertion-forum-support.json",
        "assertion-published-application.json",
    ];
    let assertions: Vec<Vec<u8>> = names
        .iter()
        .map(|name| std::fs::read(format!("{EXAMPLES}/{name}")).expect("example exists"))
        .collect();
    let batch = BadgeBatch::from_assertions(&assertions).expect("one OB 2.0 batch");
    let acme = chain.acme.clone();
    let tx = chain.tx(&acme, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    chain.block(vec![tx.clone()], false);
    for (index, assertion) in assertions.iter().enumerate() {
        let mut receipt = batch.receipt(index).expect("in range");
        receipt.tx_id = Some(tx.id());
        receipt.height = Some(Height(1));
        let report = chain.verify(assertion, &receipt);
        assert!(report.is_valid(), "{}: {report:#?}", names[index]);
    }
}

/// A member removed by vote after anchoring: the ledger no longer vouches for its issuers, and
/// step 5 says why.
#[test]
fn a_removed_members_badge_fails_at_step_5_naming_the_removal() {
    use tally_types::governance::{Action, CastVote, Propose};
    // Seven validators, four of them acme's: globex's three can leave and a quorum remains.
    let mut chain = TestChain::with_validators(7);
    let assertions: Vec<Vec<u8>> = (0..2).map(assertion).collect();
    let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
    let globex = chain.globex.clone();
    let anchor_tx = chain.tx(&globex, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    chain.block(vec![anchor_tx.clone()], false);
    let mut receipt = batch.receipts().next().expect("a receipt");
    receipt.tx_id = Some(anchor_tx.id());
    receipt.height = Some(Height(1));
    assert!(chain.verify(&assertions[0], &receipt).is_valid(), "valid while globex is a member");

    // Both members must say yes (more than 2/3 of two).
    let proposal_id = tally_types::OpId([7; 16]);
    let action = Action::RemoveMember { member: member("globex") };
    let propose = Op::Propose(Box::new(Propose { proposal_id, action, expires_at_height: Height(100) }));
    let acme = chain.acme.clone();
    let tx = chain.tx(&acme, vec![propose]);
    chain.block(vec![tx], false);
    let tx = chain.tx(&globex, vec![Op::CastVote(CastVote { proposal_id, approve: true })]);
    chain.block(vec![tx], false);
    let report = chain.verify(&assertions[0], &receipt);
    let (step, detail) = failed_at(&report);
    assert_eq!(step, 5, "{detail}");
    assert!(detail.contains("`globex` was removed from the consortium at height 3"), "{detail}");
}

/// An Open Badges 3.0 credential of the example achievement for the developer of `seed`,
/// signed by `key`; `edit` changes the unsigned credential before signing.
fn ob3_credential(
    key: &SecretKey,
    seed: u8,
    valid_until: Option<&str>,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Vec<u8> {
    use tally_client::ob3::credential::{self, IssueSpec, Recipient};
    let achievements = std::fs::read(format!("{EXAMPLES}/achievements.json")).expect("example achievements");
    let achievement = credential::parse_achievements(&achievements).expect("achievements")[0].clone();
    let spec = IssueSpec {
        achievement,
        issuer: key.public_key(),
        issuer_name: Some("Acme APIs".into()),
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: valid_until.map(str::to_owned),
    };
    let developer = Recipient::Account(SecretKey::from_seed(&[seed; 32]).public_key());
    let id = format!("urn:uuid:00000000-0000-4000-8000-0000000000{seed:02x}");
    let mut unsigned = credential::build(&spec, &developer, &id, "", &[]);
    edit(&mut unsigned);
    let signed = credential::sign(&unsigned, key, "2026-01-01T00:00:00Z").expect("signs");
    serde_json::to_vec_pretty(&signed).expect("JSON")
}

/// Issued credentials anchored by acme: a good one passes nine steps, and each way of being
/// wrong fails at its own step with the reason.
#[test]
fn ob3_credentials_pass_nine_steps_and_each_failure_names_its_step() {
    let mut chain = TestChain::new();
    let acme = chain.acme.clone();
    let globex = chain.globex.clone();
    let good = ob3_credential(&acme, 1, None, |_| {});
    let by_globex_key = ob3_credential(&globex, 2, None, |_| {});
    let expiring = ob3_credential(&acme, 3, Some("2026-06-01T00:00:00Z"), |_| {});
    let to_revoke = ob3_credential(&acme, 4, None, |_| {});
    let mut changed: serde_json::Value = serde_json::from_slice(&good).expect("JSON");
    changed["credentialSubject"]["achievement"]["name"] = "Ten Million API Calls".into();
    let changed = serde_json::to_vec_pretty(&changed).expect("JSON");
    let no_criteria = ob3_credential(&acme, 5, None, |credential| {
        credential["credentialSubject"]["achievement"].as_object_mut().expect("object").remove("criteria");
    });
    let credentials = vec![good, by_globex_key, expiring, to_revoke, changed, no_criteria];
    let batch = BadgeBatch::from_assertions(&credentials).expect("one OB 3.0 batch");
    let tx = chain.tx(&acme, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    chain.block(vec![tx.clone()], false);
    let revocation = chain.tx(&acme, vec![revoke(batch.badge_hashes()[3], "issued in error")]);
    chain.block(vec![revocation], false);
    let receipts: Vec<BadgeReceipt> = batch
        .receipts()
        .map(|mut receipt| {
            receipt.tx_id = Some(tx.id());
            receipt.height = Some(Height(1));
            receipt
        })
        .collect();
    let mut trust = chain.trust();
    trust.credential_time_unix_s = tally_client::ob3::credential::parse_rfc3339("2026-12-01T00:00:00Z");
    let verify = |index: usize| chain.verify_with(&trust, &credentials[index], &receipts[index]);

    let report = verify(0);
    assert!(report.is_valid(), "{report:#?}");
    assert_eq!(report.steps.iter().map(|step| step.number).collect::<Vec<_>>(), (1..=9).collect::<Vec<_>>());
    assert_eq!(report.steps[6].name, "OB 3.0 schema");
    assert!(report.steps[7].detail.contains("issuer of member `acme`"), "{}", report.steps[7].detail);

    let (step, detail) = failed_at(&verify(1));
    assert_eq!(step, 8, "{detail}");
    assert!(detail.contains("not an issuer key of member `acme`"), "{detail}");
    let (step, detail) = failed_at(&verify(2));
    assert_eq!(step, 9, "{detail}");
    assert!(detail.contains("expired"), "{detail}");
    let (step, detail) = failed_at(&verify(3));
    assert_eq!(step, 6, "{detail}");
    let (step, detail) = failed_at(&verify(4));
    assert_eq!(step, 8, "{detail}");
    assert!(detail.contains("does not verify"), "{detail}");
    let (step, detail) = failed_at(&verify(5));
    assert_eq!(step, 7, "{detail}");
    assert!(detail.contains("criteria"), "{detail}");
    // The changed credential against the good one's receipt: the hash step already fails.
    let report = chain.verify_with(&trust, &credentials[4], &receipts[0]);
    assert_eq!(failed_at(&report).0, 1);
    // Before its validity starts, the good credential fails at step 9 too.
    trust.credential_time_unix_s = tally_client::ob3::credential::parse_rfc3339("2025-12-31T00:00:00Z");
    let report = chain.verify_with(&trust, &credentials[0], &receipts[0]);
    let (step, detail) = failed_at(&report);
    assert_eq!((step, detail.contains("not valid yet")), (9, true), "{detail}");
}

/// A credential made elsewhere without an embedded proof keeps the six steps: the anchor by
/// a member's issuer is its evidence of issuance.
#[test]
fn an_unsigned_ob3_credential_has_six_steps() {
    let mut chain = TestChain::new();
    let credential =
        std::fs::read(format!("{EXAMPLES}/credential-client-library.ob3.json")).expect("example credential");
    let batch = BadgeBatch::from_assertions(std::slice::from_ref(&credential)).expect("batch");
    let acme = chain.acme.clone();
    let tx = chain.tx(&acme, vec![Op::AnchorBadges(batch.anchor_op(None))]);
    chain.block(vec![tx.clone()], false);
    let mut receipt = batch.receipt(0).expect("one");
    receipt.tx_id = Some(tx.id());
    receipt.height = Some(Height(1));
    let report = chain.verify(&credential, &receipt);
    assert!(report.is_valid(), "{report:#?}");
    assert_eq!(report.steps.len(), 6);
}

/// Ledger facts (step 10): dev1 settles 1,220 units for two applications with acme and
/// receives one forum-support reward; dev2 receives another. Credentials anchored by acme
/// with facts gathered from the chain pass ten steps; each wrong claim fails at step 10.
mod ledger_facts {
    use super::*;
    use tally_client::proofs::facts::{self, Fact, LedgerRule};
    use tally_types::codec::BoundedVec;
    use tally_types::pricing::UsageLine;
    use tally_types::tx::{AuthorizeSpend, Grant, GrantKind, Hold, RewardReason, Settle, SettleApp};
    use tally_types::{AppId, AssetId, ItemName, OpId, PublicKey};

    fn acme_asset() -> AssetId {
        "ACME@acme".parse().expect("valid")
    }

    fn grant(id: u8, to: PublicKey, amount: u128, reason: Option<RewardReason>) -> Op {
        let kind = if reason.is_some() { GrantKind::Reward } else { GrantKind::Purchase };
        Op::Grant(Grant {
            grant_id: OpId([id; 16]),
            asset: acme_asset(),
            to,
            amount: Amount(amount),
            kind,
            reason,
            external_ref: BoundedString::new("").expect("empty"),
            pack: None,
        })
    }

    fn settle_app(hold: u8, amount: u128, units: u64, app: &str) -> Op {
        Op::SettleApp(Box::new(SettleApp {
            settle: Settle {
                hold_id: OpId([hold; 16]),
                batch_id: OpId([hold; 16]),
                amount: Amount(amount),
                usage_root: Hash([hold; 32]),
                lines: BoundedVec::new(vec![UsageLine {
                    item: ItemName::new("calls").expect("valid"),
                    units,
                }])
                .expect("one line"),
            },
            app: AppId::new(app).expect("valid"),
        }))
    }

    struct Facts {
        chain: TestChain,
        dev1: SecretKey,
        dev2: SecretKey,
        /// The reward grants to dev1 and to dev2.
        rewards: [TxId; 2],
    }

    fn chain_with_facts() -> Facts {
        let mut chain = TestChain::new();
        let acme = chain.acme.clone();
        let (dev1, dev2) = (SecretKey::from_seed(&[1; 32]), SecretKey::from_seed(&[2; 32]));
        let forum = Some(RewardReason::ForumSupport);
        let buy = chain.tx(&acme, vec![grant(1, dev1.public_key(), 500, None)]);
        let reward1 = chain.tx(&acme, vec![grant(2, dev1.public_key(), 10, forum.clone())]);
        let reward2 = chain.tx(&acme, vec![grant(3, dev2.public_key(), 10, forum)]);
        let authorize = chain.tx(
            &dev1,
            vec![Op::AuthorizeSpend(AuthorizeSpend {
                provider: member("acme"),
                asset: acme_asset(),
                cap: Amount(500),
                expires_at_ms: u64::MAX,
                plan: None,
            })],
        );
        let rewards = [reward1.id(), reward2.id()];
        chain.block(vec![buy, reward1, reward2, authorize], false);
        let holds = (1..=2u8)
            .map(|id| {
                Op::Hold(Hold {
                    hold_id: OpId([id; 16]),
                    holder: dev1.public_key(),
                    asset: acme_asset(),
                    amount: Amount(100),
                    expires_at_ms: u64::MAX - 1,
                })
            })
            .collect();
        let place = chain.tx(&acme, holds);
        chain.block(vec![place], false);
        let settle = chain.tx(&acme, vec![settle_app(1, 50, 1_200, "bot"), settle_app(2, 10, 20, "bot2")]);
        chain.block(vec![settle], false);
        Facts { chain, dev1, dev2, rewards }
    }

    /// A credential to `holder` naming `facts` of `rule`, signed by acme.
    fn credential(chain: &TestChain, holder: &SecretKey, rule: &LedgerRule, facts: &[Fact]) -> Vec<u8> {
        use tally_client::ob3::credential::{self, IssueSpec, Recipient};
        let achievements =
            std::fs::read(format!("{EXAMPLES}/achievements.json")).expect("example achievements");
        let achievement = credential::parse_achievements(&achievements).expect("achievements")[0].clone();
        let spec = IssueSpec {
            achievement: facts::without_rule(&achievement),
            issuer: chain.acme.public_key(),
            issuer_name: None,
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: None,
        };
        let evidence: Vec<serde_json::Value> = facts
            .iter()
            .map(|fact| fact.to_evidence(chain.genesis.chain_id(), rule, &holder.public_key()))
            .collect();
        let id = format!(
            "urn:uuid:00000000-0000-4000-8000-{:012x}",
            evidence.len() * 7 + holder.public_key().0[0] as usize
        );
        let unsigned = credential::build(&spec, &Recipient::Account(holder.public_key()), &id, "", &evidence);
        let signed = credential::sign(&unsigned, &chain.acme, "2026-01-01T00:00:00Z").expect("signs");
        serde_json::to_vec(&signed).expect("JSON")
    }

    /// Anchors `credentials` in one block and verifies each against an archive of the chain.
    fn anchor_and_verify(
        chain: &mut TestChain,
        credentials: &[Vec<u8>],
        txs: &[TxId],
    ) -> Vec<BadgeVerification> {
        let batch = BadgeBatch::from_assertions(credentials).expect("one batch");
        let acme = chain.acme.clone();
        let tx = chain.tx(&acme, vec![Op::AnchorBadges(batch.anchor_op(None))]);
        chain.block(vec![tx.clone()], false);
        let mut trust = chain.trust();
        trust.credential_time_unix_s = tally_client::ob3::credential::parse_rfc3339("2026-12-01T00:00:00Z");
        let interest = Interest {
            txs: std::iter::once(tx.id()).chain(txs.iter().copied()).collect(),
            anchor_roots: vec![batch.root()],
        };
        let mut source = chain.source(&interest);
        batch
            .receipts()
            .zip(credentials)
            .map(|(mut receipt, credential)| {
                receipt.tx_id = Some(tx.id());
                verify_badge(&mut source, &trust, credential, &receipt)
            })
            .collect()
    }

    #[test]
    fn proven_claims_pass_ten_steps_and_false_ones_fail_at_step_10() {
        let Facts { mut chain, dev1, dev2, rewards } = chain_with_facts();
        let trust = chain.trust();
        let mut source = chain.source(&Interest { txs: rewards.to_vec(), anchor_roots: vec![] });
        let provider = member("acme");
        let api_calls = LedgerRule::ApiCalls { provider: provider.clone(), threshold: 1_000 };
        let applications = LedgerRule::Applications { provider: provider.clone(), threshold: 2 };
        let spend = LedgerRule::Spend { provider: provider.clone(), asset: acme_asset(), threshold: 60 };
        let revenue = LedgerRule::Revenue { asset: acme_asset(), threshold: 510 };
        let forum = LedgerRule::Contributions { provider, reason: "forum-support".into(), count: 1 };
        let gather = |source: &mut ArchiveSource, rule: &LedgerRule, holder: &SecretKey| {
            facts::gather_facts(source, &trust, rule, holder.public_key(), &rewards)
        };
        let mut good = Vec::new();
        for rule in [&api_calls, &applications, &spend, &revenue, &forum] {
            let found = gather(&mut source, rule, &dev1).unwrap_or_else(|error| panic!("{rule:?}: {error}"));
            good.push(credential(&chain, &dev1, rule, &found));
        }
        // Below a threshold, the issuer's gathering refuses the holder.
        let ten_thousand = LedgerRule::ApiCalls { provider: member("acme"), threshold: 10_000 };
        let error = gather(&mut source, &ten_thousand, &dev1).expect_err("1,220 units");
        assert!(error.contains("has 1220, below the threshold 10000"), "{error}");
        // dev2 has settled nothing with acme.
        assert!(gather(&mut source, &api_calls, &dev2).is_err());

        // Claims a dishonest issuer could sign: more units than settled; dev2's grant as dev1's;
        // dev1's usage entry claimed for dev2; a threshold the claimed value does not reach.
        let Fact::State { height, key, .. } = gather(&mut source, &api_calls, &dev1).expect("met")[0].clone()
        else {
            panic!("a state fact")
        };
        let inflated = Fact::State { height, key: key.clone(), value: "5000".into() };
        let inflated_rule = LedgerRule::ApiCalls { provider: member("acme"), threshold: 5_000 };
        let others_grant = Fact::Grant { height: Height(1), tx_id: rewards[1], op_index: 0 };
        let bad = vec![
            credential(&chain, &dev1, &inflated_rule, &[inflated]),
            credential(&chain, &dev1, &forum, &[others_grant]),
            credential(&chain, &dev2, &api_calls, &[Fact::State { height, key, value: "1220".into() }]),
            credential(
                &chain,
                &dev1,
                &inflated_rule,
                &[Fact::State {
                    height,
                    key: hex::encode(
                        StateKey::Usage { holder: dev1.public_key(), provider: member("acme") }.to_bytes(),
                    ),
                    value: "1220".into(),
                }],
            ),
        ];
        let credentials: Vec<Vec<u8>> = good.iter().chain(&bad).cloned().collect();
        let reports = anchor_and_verify(&mut chain, &credentials, &rewards);
        for (index, report) in reports[..5].iter().enumerate() {
            assert!(report.is_valid(), "credential {index}: {report:#?}");
            assert_eq!(report.steps.len(), 10);
            assert_eq!(report.steps[9].name, "ledger evidence");
        }
        assert!(
            reports[0].steps[9].detail.starts_with("api-calls: 1220 at finalized height"),
            "{}",
            reports[0].steps[9].detail
        );
        assert!(reports[1].steps[9].detail.starts_with("applications: 2"), "{}", reports[1].steps[9].detail);
        let expected = [
            "less than the 5000 the credential claims",
            "is to ",
            "not the rule's entry for the holder",
            "below the rule's threshold 5000",
        ];
        for (report, expected) in reports[5..].iter().zip(expected) {
            let (step, detail) = failed_at(report);
            assert_eq!(step, 10, "{detail}");
            assert!(detail.contains(expected), "{expected}: {detail}");
        }
    }
}

/// An anchor that names its achievements (`AnchorAchievements`) is found and checked at step 3
/// as a plain anchor is, from the receipt's tx id or, without one, through the anchor entry
/// (the archive keeps the transaction because it anchors the receipt's root).
#[test]
fn a_badge_anchored_with_its_achievement_passes_all_six_steps() {
    use tally_types::AchievementId;
    use tally_types::tx::{AchievementCount, AnchorAchievements};
    let mut chain = TestChain::new();
    let assertions: Vec<Vec<u8>> = (0..2).map(assertion).collect();
    let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
    // The assertions' badge class, the OB 2.0 counterpart of an achievement.
    let achievement =
        AchievementId::new("https://badges.acme.example/classes/api-calls-1m.json").expect("valid");
    let op = Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: batch.anchor_op(None),
        achievements: BoundedVec::new(vec![AchievementCount { achievement, count: 2 }]).expect("one"),
    }));
    let acme = chain.acme.clone();
    let anchor_tx = chain.tx(&acme, vec![op]);
    chain.block(vec![anchor_tx.clone()], false);
    for (index, mut receipt) in batch.receipts().enumerate() {
        receipt.height = Some(Height(1));
        let report = chain.verify(&assertions[index], &receipt);
        assert!(report.is_valid(), "{report:#?}");
        assert_eq!(report.steps.len(), 6, "{report:#?}");
        assert!(
            report.steps[2]
                .detail
                .contains("counted under achievement https://badges.acme.example/classes/api-calls-1m.json"),
            "{report:#?}"
        );
        receipt.tx_id = Some(anchor_tx.id());
        let report = chain.verify(&assertions[index], &receipt);
        assert!(report.is_valid(), "{report:#?}");
    }
}

/// The ledger counts an `AnchorAchievements` batch under the achievements it names but sees
/// only hashes; the verifier checks that the badge's own achievement (its badge class in OB
/// 2.0) is among them, so figures cannot count a badge under another achievement unnoticed.
#[test]
fn a_badge_counted_under_another_achievement_fails_at_step_3() {
    use tally_types::AchievementId;
    use tally_types::tx::{AchievementCount, AnchorAchievements};
    let mut chain = TestChain::new();
    let without_class = br#"{"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
  "id": "https://badges.acme.example/assertions/9.json",
  "recipient": {"type": "email", "hashed": true, "salt": "5a1f", "identity": "sha256$00ff"},
  "issuedOn": "2025-03-14T09:30:00Z", "verification": {"type": "hosted"}}"#
        .to_vec();
    let assertions = vec![assertion(1), without_class];
    let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
    let other = AchievementId::new("https://badges.acme.example/achievements/forum-support").expect("valid");
    let op = Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: batch.anchor_op(None),
        achievements: BoundedVec::new(vec![AchievementCount { achievement: other, count: 2 }]).expect("one"),
    }));
    let acme = chain.acme.clone();
    let anchor_tx = chain.tx(&acme, vec![op]);
    chain.block(vec![anchor_tx], false);
    let expected = [
        "the anchor counts its badges under achievements that do not include this credential's",
        "but this badge names none",
    ];
    for ((index, mut receipt), expected) in batch.receipts().enumerate().zip(expected) {
        receipt.height = Some(Height(1));
        let report = chain.verify(&assertions[index], &receipt);
        let (step, detail) = failed_at(&report);
        assert_eq!(step, 3, "{detail}");
        assert!(detail.contains(expected), "{expected}: {detail}");
    }
}

/// A compact JWS (VC-JWT) is hashed raw, but the verifier reads its achievement from the
/// payload's `vc` claim: anchored under that achievement, step 3 passes; under another, it
/// fails there, as a JSON credential does.
#[test]
fn a_jws_credential_is_counted_under_the_achievement_its_payload_names() {
    use tally_types::AchievementId;
    use tally_types::tx::{AchievementCount, AnchorAchievements};
    let jws = include_bytes!("../../examples/badges/credential-forum-support.ob3.jws").to_vec();
    let own = "https://badges.acme.example/achievements/forum-support";
    let other = "https://badges.acme.example/achievements/api-calls-1m";
    for named in [own, other] {
        let mut chain = TestChain::new();
        let assertions = vec![jws.clone()];
        let batch = BadgeBatch::from_assertions(&assertions).expect("batch");
        let achievement = AchievementId::new(named).expect("valid");
        let op = Op::AnchorAchievements(Box::new(AnchorAchievements {
            anchor: batch.anchor_op(None),
            achievements: BoundedVec::new(vec![AchievementCount { achievement, count: 1 }]).expect("one"),
        }));
        let acme = chain.acme.clone();
        let anchor_tx = chain.tx(&acme, vec![op]);
        chain.block(vec![anchor_tx], false);
        let mut receipt = batch.receipts().next().expect("one receipt");
        receipt.height = Some(Height(1));
        let report = chain.verify(&jws, &receipt);
        let step = &report.steps[2];
        assert_eq!(step.number, 3, "{report:#?}");
        if named == own {
            assert!(step.passed, "{report:#?}");
            assert!(step.detail.contains(&format!("counted under achievement {own}")), "{}", step.detail);
        } else {
            assert!(!step.passed, "{report:#?}");
            assert!(step.detail.contains("do not include this credential's"), "{}", step.detail);
        }
    }
}
