//! Open Badges 3.0 issuing and checking speed.
//!
//! - `issue_batch_1000`: what `tally badge issue` does for a batch of 1,000 recipients before
//!   and after its one transaction: build each credential, sign it (`eddsa-rdfc-2022`: two
//!   JSON-LD expansions, two RDFC-1.0 canonicalizations, Ed25519), serialize it, hash it for
//!   anchoring (JCS + blake3), build the Merkle batch, the anchor op and 1,000 receipts. The
//!   anchor transaction itself is one small transaction whatever the batch size.
//! - `anchor_execute_1000`: the ledger's side of anchoring such a batch: one block holding the
//!   `AnchorAchievements` transaction executed and committed (state root included) on a
//!   genesis state, as each validator does.
//! - `verify_one`: the credential steps of `tally badge verify` for one credential: the OB 3.0
//!   JSON schema, the proof and the issuer check (steps 7 and 8; step 9 is a comparison).
//! - `verify_all_steps_archive`: `verify_badge`, every step for a signed credential (1–9: hash,
//!   path, anchor transaction, finality against the epoch's validators, issuer membership,
//!   non-revocation by state proof, schema, proof and issuer key, validity window), against an
//!   archive replayed once (the replay itself is not timed: `tally badge verify --archive` pays
//!   it once per run; `tally audit` measures replay speed). Step 10 needs ledger facts and is
//!   state and Merkle proofs of the same kind as steps 3 to 6.
//!
//! Over HTTP the same steps add round trips to a node; `tally badge verify` against a local
//! network measures that (README "Benchmarks").
//!
//! Run: `cargo bench -p tally-client --bench ob3`. A benchmark reports, never asserts.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_main};
use serde_json::{Value, json};
use tally_client::badge::{BadgeBatch, BadgeReceipt, hash_assertion};
use tally_client::ob3::credential::{self, IssueSpec, Recipient};
use tally_client::ob3::schema;
use tally_client::proofs::{ArchiveSource, Interest, Trust, verify_badge};
use tally_genesis::init::{TestnetSpec, build_testnet};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis};
use tally_ledger::{BlockContext, MemState};
use tally_types::archive::{ArchiveHeader, ArchiveWriter};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{AchievementCount, AnchorAchievements, Transaction};
use tally_types::{
    AchievementId, Block, Certificate, ChainId, Header, Height, MemberId, Op, SecretKey, SignedTransaction,
    Subject, ValidatorIndex, View,
};

const BATCH: usize = 1_000;

fn spec(key: &SecretKey) -> IssueSpec {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/badges/achievements.json"))
        .expect("example achievements");
    IssueSpec {
        achievement: credential::parse_achievements(&bytes).expect("achievements")[0].clone(),
        issuer: key.public_key(),
        issuer_name: Some("Acme APIs".into()),
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: None,
    }
}

fn issue_one(spec: &IssueSpec, key: &SecretKey, index: usize) -> Vec<u8> {
    let recipient = Recipient::Email(format!("developer-{index}@example.com"));
    let evidence = [json!({"type": ["Evidence"], "narrative": "1,000,000 settled calls"})];
    let id = format!("urn:uuid:00000000-0000-4000-8000-{index:012x}");
    let unsigned = credential::build(spec, &recipient, &id, "5a1f", &evidence);
    let signed = credential::sign(&unsigned, key, "2026-01-01T00:00:00Z").expect("signs");
    serde_json::to_vec_pretty(&signed).expect("JSON")
}

fn issue_batch(c: &mut Criterion) {
    let key = SecretKey::from_seed(&[1; 32]);
    let spec = spec(&key);
    let mut group = c.benchmark_group("ob3");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("issue_batch_1000", |b| {
        b.iter(|| {
            let credentials: Vec<Vec<u8>> = (0..BATCH).map(|index| issue_one(&spec, &key, index)).collect();
            let hashes =
                credentials.iter().map(|bytes| hash_assertion(bytes).expect("an OB 3.0 credential").hash);
            let first = hash_assertion(&credentials[0]).expect("hashes");
            let batch = BadgeBatch::new(first.format, first.canon, hashes.collect()).expect("batch");
            black_box(batch.anchor_op(None));
            black_box(batch.receipts().count())
        })
    });
    let credential: Value = serde_json::from_slice(&issue_one(&spec, &key, 7)).expect("JSON");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_one", |b| {
        b.iter(|| {
            schema::check_credential(black_box(&credential)).expect("schema-valid");
            credential::verify_issuer_proof(black_box(&credential)).expect("verifies")
        })
    });
    group.finish();
}

/// A one-member chain (acme) of four validators, from seeded keys.
struct Chain {
    genesis: Genesis,
    validators: Vec<SecretKey>,
    acme: SecretKey,
}

fn chain() -> Chain {
    let chain_id = ChainId::new("tally-ob3-bench").expect("valid");
    let keys = KeySource::seeded(b"ob3 bench", &chain_id).expect("seed");
    let acme = MemberId::new("acme").expect("valid");
    let spec = TestnetSpec {
        chain_id,
        validators: 4,
        members: vec![acme.clone()],
        genesis_time_ms: 1_700_000_000_000,
        consensus: ConsensusParams::default(),
        listen_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        base_port: 29_500,
        issuer_float: None,
    };
    let testnet = build_testnet(&spec, &keys).expect("valid testnet");
    Chain {
        validators: (0..4u16).map(|i| keys.consensus_key(i).expect("key")).collect(),
        acme: keys.issuer_key(&acme).expect("key"),
        genesis: testnet.genesis,
    }
}

/// The anchor transaction of `batch`, naming the example achievement for all its badges.
fn anchor_tx(chain: &Chain, batch: &BadgeBatch, achievement: &str) -> SignedTransaction {
    let count = AchievementCount {
        achievement: AchievementId::new(achievement).expect("a ledger achievement id"),
        count: batch.leaf_count(),
    };
    let op = Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: batch.anchor_op(None),
        achievements: BoundedVec::new(vec![count]).expect("one"),
    }));
    Transaction {
        chain_id: chain.genesis.chain_id().clone(),
        signer: chain.acme.public_key(),
        seq: 1,
        valid_until_height: Height(100),
        ops: BoundedVec::new(vec![op]).expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&chain.acme)
}

/// Block 1 holding `tx`, executed on the genesis state, with a finalization by three of the
/// four validators.
fn block_one(chain: &Chain, tx: SignedTransaction) -> (Block, Certificate) {
    let mut state: MemState = chain.genesis.initial_state();
    let chain_id = chain.genesis.chain_id().clone();
    let context = BlockContext { chain_id: chain_id.clone(), height: Height(1), time_ms: 1_700_000_001_000 };
    let committed = state.execute_and_commit(&context, std::slice::from_ref(&tx)).expect("includable");
    let header = Header {
        chain_id: chain_id.clone(),
        height: Height(1),
        view: View(1),
        parent_id: chain.genesis.parent_of_first_block(),
        time_ms: context.time_ms,
        proposer: ValidatorIndex(1),
        tx_root: tx_root(&[tx.id()]),
        receipts_root: receipts_root(&committed.output.receipts),
        state_root: committed.state_root,
        validators_hash: chain.genesis.validators_hash(),
    };
    let block = Block { header, txs: BoundedVec::new(vec![tx]).expect("one") };
    let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
    let votes: Vec<_> = chain.validators[..3]
        .iter()
        .enumerate()
        .map(|(i, key)| (ValidatorIndex(i as u16), subject.sign(&chain_id, key)))
        .collect();
    let certificate = Certificate::from_votes(subject, &votes, 4).expect("distinct signers");
    (block, certificate)
}

fn anchor_and_verify(c: &mut Criterion) {
    let chain = chain();
    let spec = spec(&chain.acme);
    let achievement = spec.achievement["id"].as_str().expect("an id").to_owned();
    let credentials: Vec<Vec<u8>> = (0..BATCH).map(|index| issue_one(&spec, &chain.acme, index)).collect();
    let batch = BadgeBatch::from_assertions(&credentials).expect("batch");
    let tx = anchor_tx(&chain, &batch, &achievement);
    let mut group = c.benchmark_group("ob3");
    group.sample_size(20).throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("anchor_execute_1000", |b| {
        b.iter_batched(
            || chain.genesis.initial_state(),
            |mut state: MemState| {
                let context = BlockContext {
                    chain_id: chain.genesis.chain_id().clone(),
                    height: Height(1),
                    time_ms: 1_700_000_001_000,
                };
                black_box(state.execute_and_commit(&context, std::slice::from_ref(&tx)).expect("includable"))
            },
            BatchSize::SmallInput,
        )
    });
    let (block, certificate) = block_one(&chain, tx);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let header =
        ArchiveHeader { chain_id: chain.genesis.chain_id().clone(), genesis_hash: chain.genesis.hash() };
    let mut writer =
        ArchiveWriter::new(std::io::BufWriter::new(file.reopen().expect("reopen")), &header).expect("header");
    writer.append(&block, &certificate).expect("append");
    use std::io::Write;
    writer.finish().expect("finish").flush().expect("flush");
    let receipts: Vec<BadgeReceipt> = batch
        .receipts()
        .map(|mut receipt| {
            receipt.tx_id = Some(block.txs[0].id());
            receipt.height = Some(Height(1));
            receipt
        })
        .collect();
    let interest = Interest { txs: vec![block.txs[0].id()], anchor_roots: vec![batch.root()] };
    let mut source =
        ArchiveSource::load(file.path(), &chain.genesis, &interest).expect("the archive replays");
    let mut trust = Trust::from_genesis(&chain.genesis);
    trust.epochs = source.epochs().to_vec();
    // What is timed must be a verification that passes every step.
    let report = verify_badge(&mut source, &trust, &credentials[0], &receipts[0]);
    assert!(report.is_valid() && report.steps.len() == 9, "{report:#?}");
    let mut next = 0usize;
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_all_steps_archive", |b| {
        b.iter(|| {
            next = (next + 1) % BATCH;
            black_box(verify_badge(&mut source, &trust, &credentials[next], &receipts[next]))
        })
    });
    group.finish();
}

fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    issue_batch(&mut criterion);
    anchor_and_verify(&mut criterion);
}

criterion_main!(benches);
