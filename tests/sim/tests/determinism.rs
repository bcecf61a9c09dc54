//! A seed names a run: two runs of one seed deliver the same events in the same order (same
//! trace hash, same statistics), and different seeds give different runs.

use tally_sim::campaign::run_seed;
use tally_sim::scenario::ScenarioOptions;
use tally_sim::scheme::SchemeKind;
use tally_sim::sim::Outcome;

fn run(seed: u64, nodes: usize, scheme: SchemeKind) -> Outcome {
    run_seed(seed, nodes, scheme, ScenarioOptions::default()).expect("the scenario sets up")
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    for (seed, nodes, scheme) in [
        (3, 4, SchemeKind::Fast),
        (11, 7, SchemeKind::Fast),
        (5, 10, SchemeKind::Fast),
        (2, 4, SchemeKind::Ed25519),
    ] {
        let first = run(seed, nodes, scheme);
        let second = run(seed, nodes, scheme);
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed} n={nodes} {scheme:?}");
        assert_eq!(first.stats.events, second.stats.events);
        assert_eq!(first.stats.delivered, second.stats.delivered);
        assert_eq!(first.stats.height, second.stats.height);
        assert_eq!(first.violations, second.violations);
        assert!(first.stats.delivered > 100, "a run delivers many messages: {:?}", first.stats);
    }
}

#[test]
fn different_seeds_differ() {
    let hashes: std::collections::BTreeSet<[u8; 32]> =
        (0..12).map(|seed| run(seed, 4, SchemeKind::Fast).trace_hash).collect();
    assert_eq!(hashes.len(), 12, "twelve seeds gave only {} distinct traces", hashes.len());
    // The same seed with another validator count or scheme is another run too.
    assert_ne!(run(1, 4, SchemeKind::Fast).trace_hash, run(1, 7, SchemeKind::Fast).trace_hash);
    assert_ne!(run(1, 4, SchemeKind::Fast).trace_hash, run(1, 4, SchemeKind::Ed25519).trace_hash);
}
