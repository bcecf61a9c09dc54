//! A validator that comes back far behind the chain (more than the sync window and
//! `VERIFY_AHEAD_MAX` blocks) catches up by range sync while the others go on, in the
//! simulator as on real processes. The ranges' certificates are checked with the core's
//! signature scheme: checked with ed25519 directly, no certificate of a simulated (fast
//! scheme) chain verified, the first window of blocks waited forever for one, and this node
//! stayed at its crash height (found by this test).

use tally_node::engine::VERIFY_AHEAD_MAX;
use tally_sim::network::NodeId;
use tally_sim::queue::SimTime;
use tally_sim::scenario::{CrashPlan, CrashPoint, Scenario};
use tally_sim::scheme::SchemeKind;
use tally_sim::sim::run;

/// Long enough for the others to commit well over `VERIFY_AHEAD_MAX` blocks (an empty block
/// every ~100 simulated ms).
const DOWN_MS: u64 = 45_000;
/// Simulated time after the restart; catching up takes a few seconds of it.
const CATCH_UP_MS: u64 = 30_000;

#[test]
fn a_node_far_behind_catches_up_by_range_sync() {
    catch_up(SchemeKind::Fast, DOWN_MS);
}

/// The same with real ed25519 signatures, so that sync checks range certificates through
/// `Ed25519Scheme`, as a node does (a shorter outage: still more than the sync window).
#[test]
fn a_node_far_behind_catches_up_with_ed25519() {
    catch_up(SchemeKind::Ed25519, 32_000);
}

fn catch_up(scheme: SchemeKind, down_ms: u64) {
    if std::env::var_os("FAR_BEHIND_VERBOSE").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("debug").with_writer(std::io::stdout).try_init();
    }
    let mut scenario = Scenario::fault_free(5, 4, scheme, 5, down_ms + CATCH_UP_MS);
    scenario.crashes =
        vec![CrashPlan { node: NodeId(3), at: SimTime(1_000), point: CrashPoint::Anytime, down_ms }];
    let outcome =
        run(scenario, std::env::var_os("FAR_BEHIND_VERBOSE").is_some()).expect("the scenario sets up");
    let stats = &outcome.stats;
    println!(
        "heights {:?}, syncs {} ({} answered), fetches {}, restarts {}, end {} ms",
        stats.host_heights, stats.syncs, stats.syncs_completed, stats.fetches, stats.restarts, stats.end_ms
    );
    assert!(outcome.passed(), "violations: {:#?}", outcome.violations);
    assert_eq!(stats.restarts, 1);
    let live = stats.host_heights[..3].iter().copied().min().expect("three hosts");
    assert!(
        live > 2 * VERIFY_AHEAD_MAX,
        "the others committed only {live} blocks: the gap does not exceed VERIFY_AHEAD_MAX"
    );
    // Caught up: within a few blocks of the others when the run ends.
    assert!(stats.host_heights[3] + 8 >= live, "node 3 at {} of {live}", stats.host_heights[3]);
    assert!(stats.syncs_completed > 0, "node 3 never synced a range");
    // Blocks came in ranges; near the tip a node may fetch a few missing parents by id.
    assert!(stats.fetches < 32, "{} single-block fetches while catching up", stats.fetches);
}
