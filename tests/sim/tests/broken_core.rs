//! The oracle catches a deliberately broken core (tally-consensus `test-faults`, enabled for
//! tests through the `broken-core` feature) within 200 seeds of the ordinary fault mix,
//! and the seed that catches it passes with the correct core: the oracle fires because of
//! the fault, not by accident.

use tally_sim::campaign::{nodes_for_seed, run_seed};
use tally_sim::scenario::{BrokenCore, ScenarioOptions};
use tally_sim::scheme::SchemeKind;

const SEEDS_MAX: u64 = 200;

/// The first seed below [`SEEDS_MAX`] on which the oracle reports a safety violation with
/// `options` (a broken core).
fn first_catch(options: ScenarioOptions) -> Option<(u64, String)> {
    (0..SEEDS_MAX).find_map(|seed| {
        let outcome = run_seed(seed, nodes_for_seed(seed, None), SchemeKind::Fast, options).expect("sets up");
        let safety: Vec<String> = outcome
            .violations
            .iter()
            .filter(|violation| violation.is_safety())
            .map(ToString::to_string)
            .collect();
        (!safety.is_empty()).then(|| (seed, safety.join("; ")))
    })
}

fn assert_caught(broken: BrokenCore) {
    assert_caught_with(ScenarioOptions { broken: Some(broken), ..ScenarioOptions::default() });
}

fn assert_caught_with(options: ScenarioOptions) {
    let Some((seed, violations)) = first_catch(options) else {
        panic!("the oracle did not catch {options:?} within {SEEDS_MAX} seeds");
    };
    println!("{options:?} caught at seed {seed}: {violations}");
    let control = run_seed(seed, nodes_for_seed(seed, None), SchemeKind::Fast, ScenarioOptions::default())
        .expect("sets up");
    assert!(
        control.violations.iter().all(|violation| !violation.is_safety()),
        "seed {seed} breaks safety with the correct core too: {:?}",
        control.violations
    );
}

#[test]
fn notarize_twice_per_view_is_caught() {
    assert_caught(BrokenCore::NotarizeTwicePerView);
}

#[test]
fn skip_nullification_check_is_caught() {
    assert_caught(BrokenCore::SkipNullificationCheck);
}

/// Cores that keep accepting a validator's genesis key after governance rotated it count the
/// votes the simulator's thief signs with that retired key: a certificate they form then
/// holds a signature the epoch's validators never made, which the oracle checks against the
/// epoch's own set.
#[test]
fn counting_a_rotated_out_key_is_caught() {
    assert_caught_with(ScenarioOptions { stale_keys: true, ..ScenarioOptions::default() });
}

/// A host that tells its core a WAL write is durable before it is lets the core send votes
/// that a crash can make it forget; the oracle's persist-before-send check sees the first
/// such vote on the wire.
#[test]
fn host_acknowledging_writes_early_is_caught() {
    let options = ScenarioOptions { host_acks_early: true, ..ScenarioOptions::default() };
    let outcome = run_seed(1, 4, SchemeKind::Fast, options).expect("sets up");
    assert!(
        outcome.violations.iter().any(|violation| violation.to_string().contains("before it was durable")),
        "{:?}",
        outcome.violations
    );
}
