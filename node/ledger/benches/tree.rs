//! State tree benchmarks: one block's worth of updates (3,000: ~1,000 transfers touching ~3
//! keys each) against trees of 100,000 and 1,000,000 leaves, and proofs per second.
//!
//! Run with `cargo bench -p tally-ledger --bench tree`. Benchmarks report; they never assert.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tally_ledger::tree::{MemTree, NodeKey, TreeStore, Update, apply_updates};
use tally_types::{Domain, Hash};

const UPDATES_PER_BLOCK: u64 = 3_000;

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

/// 3,000 new values for distinct existing keys: what a block of transfers writes.
fn modifications(leaves: u64, sequence: &mut Sequence, generation: u64) -> Vec<Update> {
    let mut updates = BTreeMap::new();
    while updates.len() < UPDATES_PER_BLOCK as usize {
        let index = sequence.next_below(leaves);
        updates.insert(key(index), Some(value(index ^ (generation << 40))));
    }
    updates.into_iter().collect()
}

/// 1,000 modifications, 1,000 inserts of new keys and 1,000 deletes of existing keys.
fn mixed(leaves: u64, sequence: &mut Sequence) -> Vec<Update> {
    let mut updates = BTreeMap::new();
    for index in leaves..leaves + UPDATES_PER_BLOCK / 3 {
        updates.insert(key(index), Some(value(index)));
    }
    while updates.len() < UPDATES_PER_BLOCK as usize {
        let index = sequence.next_below(leaves);
        let update = if updates.len() % 2 == 0 { None } else { Some(value(index + 7)) };
        updates.insert(key(index), update);
    }
    updates.into_iter().collect()
}

fn bench_tree(c: &mut Criterion) {
    for (name, leaves) in [("100k", 100_000u64), ("1m", 1_000_000u64)] {
        let tree = tree_of(leaves);
        let mut group = c.benchmark_group(format!("tree_{name}"));
        group.sample_size(30);

        let mut sequence = Sequence(0x9e37_79b9_7f4a_7c15);
        let block = modifications(leaves, &mut sequence, 1);
        group.bench_function("compute_batch_3000_modifications", |b| {
            b.iter(|| apply_updates(tree.store(), black_box(&block)).expect("sorted"))
        });

        let block = mixed(leaves, &mut sequence);
        group.bench_function("compute_batch_3000_mixed", |b| {
            b.iter(|| apply_updates(tree.store(), black_box(&block)).expect("sorted"))
        });

        // Compute and write back into the store, as a block commit does. Every iteration
        // writes fresh values, so the tree keeps its size and no iteration is a no-op.
        let mut working = tree.clone();
        let mut generation = 2;
        group.bench_function("apply_3000_modifications", |b| {
            b.iter_batched(
                || {
                    generation += 1;
                    modifications(leaves, &mut sequence, generation)
                },
                |block| working.apply(&block).expect("sorted"),
                BatchSize::SmallInput,
            )
        });
        drop(working);

        let positions: Vec<NodeKey> = (0..30_000u64)
            .map(|i| {
                let k = key(sequence.next_below(leaves));
                NodeKey::on_path(&k, tree.prove(&k).expect("m").siblings.len() - (i % 8) as usize)
            })
            .collect();
        group.bench_function("lookup_30000_independent", |b| {
            b.iter(|| {
                let mut found = 0;
                for p in &positions {
                    found += tree.store().get_node(p).expect("m").is_some() as usize;
                }
                found
            })
        });
        let probes: Vec<Hash> = (0..1_000).map(|_| key(sequence.next_below(leaves * 2))).collect();
        group.bench_function("prove_1000", |b| {
            b.iter(|| {
                for probe in &probes {
                    black_box(tree.prove(probe).expect("memory store"));
                }
            })
        });
        let root = tree.root();
        let proofs: Vec<_> = probes
            .iter()
            .map(|probe| (probe, tree.prove(probe).expect("memory store"), tree.get(probe)))
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

criterion_group!(benches, bench_tree);
criterion_main!(benches);
