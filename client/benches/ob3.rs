//! Open Badges 3.0 issuing and checking speed.
//!
//! - `issue_batch_1000`: what `tally badge issue` does for a batch of 1,000 recipients before
//!   and after its one transaction: build each credential, sign it (`eddsa-rdfc-2022`: two
//!   JSON-LD expansions, two RDFC-1.0 canonicalizations, Ed25519), serialize it, hash it for
//!   anchoring (JCS + blake3), build the Merkle batch, the anchor op and 1,000 receipts. The
//!   anchor transaction itself is one small transaction whatever the batch size.
//! - `verify_one`: the credential steps of `tally badge verify` for one credential: the OB 3.0
//!   JSON schema, the proof and the issuer check (steps 7 and 8; step 9 is a comparison).
//!
//! Run: `cargo bench -p tally-client --bench ob3`. A benchmark reports, never asserts.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_main};
use serde_json::{Value, json};
use tally_client::badge::{BadgeBatch, hash_assertion};
use tally_client::ob3::credential::{self, IssueSpec, Recipient};
use tally_client::ob3::schema;
use tally_types::SecretKey;

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

fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    issue_batch(&mut criterion);
}

criterion_main!(benches);
