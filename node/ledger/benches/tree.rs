//! State tree benchmarks: one block's worth of updates (3,000: ~1,000 transfers touching ~3
//! keys each) against trees of 100,000 and 1,000,000 leaves, and proofs per second.
//!
//! Run with `cargo bench -p tally-ledger --bench tree`. Benchmarks report; they never assert.
//!
//! Every iteration uses a fresh batch of random keys (and proofs a fresh set of keys): reusing
//! one batch would keep its ~30,000 nodes in the CPU cache and measure a best case that no
//! real block sees.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tally_ledger::tree::{MemTree, Update, apply_updates};
use tally_types::smt::{leaf_hash, node_hash};
use tally_types::{Domain, Hash};

const UPDATES_PER_BLOCK: usize = 3_000;
const PROOFS_PER_ITERATION: usize = 1_000;

fn key(index: u64) -> Hash {
    Domain::StateKey.hash(&[&index.to_le_bytes()])
}

fn value(index: u64) -> Hash {
    Domain::StateValue.hash(&[&index.to_le_bytes()])
}

/// xorshift64*: a fixed sequence, so every run measures the same work.
struct Sequence(u64);

impl Sequence {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

fn tree_of(leaves: u64) -> MemTree {
    let updates: BTreeMap<Hash, Option<Hash>> = (0..leaves).map(|i| (key(i), Some(value(i)))).collect();
    let mut tree = MemTree::new();
    tree.apply(&updates.into_iter().collect::<Vec<_>>()).expect("sorted, distinct updates");
    tree
}

/// New values for 3,000 distinct existing keys: what a block of transfers writes.
fn modifications(leaves: u64, sequence: &mut Sequence) -> Vec<Update> {
    let mut updates = BTreeMap::new();
    while updates.len() < UPDATES_PER_BLOCK {
        let index = sequence.next_below(leaves);
        updates.insert(key(index), Some(value(sequence.next_below(u64::MAX))));
    }
    updates.into_iter().collect()
}

/// 1,000 inserts of new keys, 1,000 modifications and 1,000 deletes of existing keys.
fn mixed(leaves: u64, sequence: &mut Sequence) -> Vec<Update> {
    let mut updates = BTreeMap::new();
    while updates.len() < UPDATES_PER_BLOCK / 3 {
        let index = leaves + sequence.next_below(u64::MAX / 2);
        updates.insert(key(index), Some(value(index)));
    }
    while updates.len() < UPDATES_PER_BLOCK {
        let index = sequence.next_below(leaves);
        let update = if updates.len() % 2 == 0 { None } else { Some(value(index + 7)) };
        updates.insert(key(index), update);
    }
    updates.into_iter().collect()
}

fn bench_hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("smt_hash");
    let (a, b) = (key(1), value(1));
    group.bench_function("leaf_hash", |bench| bench.iter(|| leaf_hash(black_box(&a), black_box(&b))));
    group.bench_function("node_hash", |bench| bench.iter(|| node_hash(black_box(&a), black_box(&b))));
    group.finish();
}

fn bench_tree(c: &mut Criterion) {
    for (name, leaves) in [("100k", 100_000u64), ("1m", 1_000_000u64)] {
        let mut tree = tree_of(leaves);
        let mut group = c.benchmark_group(format!("tree_{name}"));
        group.sample_size(30);
        let mut sequence = Sequence(0x9e37_79b9_7f4a_7c15);

        // The root computation alone: the store is only read.
        group.bench_function("compute_batch_3000_modifications", |b| {
            b.iter_batched(
                || modifications(leaves, &mut sequence),
                |block| apply_updates(tree.store(), &block).expect("sorted"),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("compute_batch_3000_mixed", |b| {
            b.iter_batched(
                || mixed(leaves, &mut sequence),
                |block| apply_updates(tree.store(), &block).expect("sorted"),
                BatchSize::SmallInput,
            )
        });
        // Compute and write back into the store, as a block commit does. Modifications keep
        // the tree at its size.
        group.bench_function("apply_3000_modifications", |b| {
            b.iter_batched(
                || modifications(leaves, &mut sequence),
                |block| tree.apply(&block).expect("sorted"),
                BatchSize::SmallInput,
            )
        });

        // Half of the probed keys are present, half absent.
        let probes = |sequence: &mut Sequence| -> Vec<Hash> {
            (0..PROOFS_PER_ITERATION).map(|_| key(sequence.next_below(leaves * 2))).collect()
        };
        group.bench_function("prove_1000", |b| {
            b.iter_batched(
                || probes(&mut sequence),
                |probes| {
                    for probe in &probes {
                        black_box(tree.prove(probe).expect("memory store"));
                    }
                },
                BatchSize::SmallInput,
            )
        });
        let root = tree.root();
        let proofs: Vec<_> = probes(&mut sequence)
            .into_iter()
            .map(|probe| (probe, tree.prove(&probe).expect("memory store"), tree.get(&probe)))
            .collect();
        group.bench_function("verify_1000", |b| {
            b.iter(|| {
                for (probe, proof, value) in &proofs {
                    proof.verify(&root, probe, value.as_ref()).expect("honest proof");
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_hashing, bench_tree);
criterion_main!(benches);
