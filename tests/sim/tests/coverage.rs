//! The fault mix really happens: over a small slice of the campaign every fault the
//! simulator claims to inject shows up in the statistics, so a change that silently stops
//! injecting one (a crash point never reached, a sync path never taken) fails here rather
//! than leaving the campaign green and toothless.

use tally_sim::campaign::{nodes_for_seed, run_seed};
use tally_sim::scenario::{Behavior, Scenario, ScenarioOptions};
use tally_sim::scheme::SchemeKind;

/// Seeds of the slice (each runs real stores and ledgers, so the slice is small).
const SEEDS: u64 = 40;

#[test]
fn every_fault_is_exercised() {
    let mut totals = tally_sim::sim::Stats::default();
    let mut behaviors = std::collections::BTreeSet::new();
    for seed in 0..150 {
        let n = nodes_for_seed(seed, None);
        for (_, behavior) in Scenario::generate(seed, n, ScenarioOptions::default()).byzantine {
            behaviors.insert(behavior);
        }
    }
    for seed in 0..SEEDS {
        let n = nodes_for_seed(seed, None);
        let stats = run_seed(seed, n, SchemeKind::Fast, ScenarioOptions::default()).expect("sets up").stats;
        totals.messages_dropped += stats.messages_dropped;
        totals.messages_duplicated += stats.messages_duplicated;
        totals.crashes += stats.crashes;
        totals.crashes_before_write += stats.crashes_before_write;
        totals.crashes_after_write += stats.crashes_after_write;
        totals.restarts += stats.restarts;
        totals.evidence += stats.evidence;
        totals.syncs += stats.syncs;
        totals.syncs_completed += stats.syncs_completed;
        totals.height += stats.height;
        totals.txs_submitted += stats.txs_submitted;
        totals.txs_acknowledged += stats.txs_acknowledged;
        totals.torn_writes += stats.torn_writes;
        totals.epochs_scheduled += stats.epochs_scheduled;
        totals.rotations += stats.rotations;
        totals.removals += stats.removals;
        totals.joins += stats.joins;
        totals.ghost_votes += stats.ghost_votes;
        // Epochs that started: a core in epoch e runs views above e's base.
        totals.max_view = totals.max_view.max(tally_types::View(stats.max_view).epoch());
    }
    println!("{totals:?}");
    assert!(totals.messages_dropped > 0 && totals.messages_duplicated > 0);
    assert!(totals.crashes_before_write > 0, "no power cut struck at a WAL fsync");
    assert!(totals.crashes_after_write > 0, "no power cut struck in a block commit");
    assert!(
        totals.crashes > totals.crashes_before_write + totals.crashes_after_write,
        "no crash at a random time"
    );
    assert_eq!(totals.crashes, totals.restarts, "every crashed host restarts");
    assert!(totals.evidence > 0, "no Byzantine conflict was ever detected");
    assert!(totals.syncs_completed > 0, "the sync path never completed");
    assert!(totals.height > SEEDS, "blocks were committed");
    assert!(totals.txs_acknowledged > 0, "no submitted transfer was committed");
    assert!(totals.epochs_scheduled > 0, "no reconfiguration passed");
    assert!(totals.max_view > 0, "no core ever ran a later epoch");
    assert!(totals.rotations > 0, "no key rotation passed");
    assert!(totals.removals > 0, "no validator was removed");
    assert!(totals.joins > 0, "no validator joined");
    assert!(totals.ghost_votes > 0, "no vote was signed with a retired key");
    for behavior in Behavior::ALL {
        assert!(behaviors.contains(&behavior), "{behavior:?} never appeared");
    }
}
