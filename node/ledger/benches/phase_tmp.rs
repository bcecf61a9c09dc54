use std::collections::BTreeMap;
use tally_ledger::tree::{MemTree, PHASES};
use tally_types::{Domain, Hash};
fn key(i: u64) -> Hash { Domain::StateKey.hash(&[&i.to_le_bytes()]) }
fn value(i: u64) -> Hash { Domain::StateValue.hash(&[&i.to_le_bytes()]) }
fn main() {
    {
        let t0 = tally_ledger::tree::cpu_now();
        let mut h = Hash::ZERO;
        for _ in 0..1_000_000 { h = tally_types::smt::node_hash(&h, &h); }
        let t1 = tally_ledger::tree::cpu_now();
        let mut k = Hash::ZERO;
        for i in 0..1_000_000u64 { k.0[..8].copy_from_slice(&i.to_le_bytes()); k.0[8..16].copy_from_slice(&h.0[..8]); h = Hash(*blake3::keyed_hash(&k.0, &h.0).as_bytes()); }
        let t2 = tally_ledger::tree::cpu_now();
        let mut buf = [0u8; 64];
        for _ in 0..1_000_000u64 { buf[..32].copy_from_slice(&h.0); h = Hash(*blake3::hash(&buf).as_bytes()); }
        let t3 = tally_ledger::tree::cpu_now();
        eprintln!("node_hash {} ns, keyed_hash(32B) {} ns, hash(64B) {} ns {}", (t1-t0)/1_000_000, (t2-t1)/1_000_000, (t3-t2)/1_000_000, h.0[0]);
    }
    let leaves = 1_000_000u64;
    let t = std::time::Instant::now();
    let updates: BTreeMap<Hash, Option<Hash>> = (0..leaves).map(|i| (key(i), Some(value(i)))).collect();
    let mut tree = MemTree::new();
    tree.apply(&updates.into_iter().collect::<Vec<_>>()).unwrap();
    eprintln!("build {:?} nodes {}", t.elapsed(), tree.store().node_count());
    let mut x = 0x9e3779b97f4a7c15u64;
    for round in 0..300u64 {
        if round == 10 { PHASES.with(|p| p.set([0;4])); tally_ledger::tree::ITEMS.with(|c| c.set(0)); }
        let mut u = BTreeMap::new();
        while u.len() < 3000 { x ^= x >> 12; x ^= x << 25; x ^= x >> 27; let i = x.wrapping_mul(0x2545f4914f6cdd1d) % leaves; u.insert(key(i), Some(value(i ^ (round << 40)))); }
        let u: Vec<_> = u.into_iter().collect();
        tree.apply(&u).unwrap();
    }
    use tally_ledger::tree::{NodeKey, TreeStore};
    let mut total = 0u64; let mut found = 0usize;
    for round in 0..20u64 {
        let positions: Vec<NodeKey> = (0..30_000u64).map(|i| { x ^= x >> 12; x ^= x << 25; x ^= x >> 27; let j = x.wrapping_mul(0x2545f4914f6cdd1d) % leaves; NodeKey::on_path(&key(j), 12 + (i % 6) as usize) }).collect();
        let _ = round;
        let t0 = tally_ledger::tree::cpu_now();
        for p in &positions { found += tree.store().get_node(p).unwrap().is_some() as usize; }
        total += tally_ledger::tree::cpu_now() - t0;
    }
    eprintln!("fresh independent lookup: {} ns each ({found})", total / 600_000);
    let v = PHASES.with(|p| p.get());
    eprintln!("items per batch {}", tally_ledger::tree::ITEMS.with(|c| c.get()) / 290);
    eprintln!("per batch: descend {} us, ascend {} us, writeback {} us", v[0]/v[2]/1000, v[1]/v[2]/1000, v[3]/v[2]/1000);
}
#[allow(dead_code)]
fn unused() {}
