//! Campaigns: many seeds in a row, the choice of validator count and scheme per seed, and
//! the one-line replay command for a failure.

use crate::scenario::{Scenario, ScenarioOptions};
use crate::scheme::SchemeKind;
use crate::sim::{self, Outcome, SetupError};

/// Validator counts a campaign cycles through when none is fixed.
pub const NODE_COUNTS: [usize; 5] = [4, 5, 6, 7, 10];

/// How a campaign picks the scheme per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeChoice {
    Fast,
    Ed25519,
    /// Fast, except real ed25519 on every `every`-th seed.
    Mixed {
        every: u64,
    },
}

impl SchemeChoice {
    /// The scheme of `seed`.
    pub fn for_seed(self, seed: u64) -> SchemeKind {
        match self {
            SchemeChoice::Fast => SchemeKind::Fast,
            SchemeChoice::Ed25519 => SchemeKind::Ed25519,
            SchemeChoice::Mixed { every } if every > 0 && seed % every == every - 1 => SchemeKind::Ed25519,
            SchemeChoice::Mixed { .. } => SchemeKind::Fast,
        }
    }
}

/// The validator count of `seed`: `fixed`, or one of [`NODE_COUNTS`] in turn.
pub fn nodes_for_seed(seed: u64, fixed: Option<usize>) -> usize {
    fixed.unwrap_or(NODE_COUNTS[(seed % NODE_COUNTS.len() as u64) as usize])
}

/// The scenario a campaign runs for `seed`.
pub fn scenario_for(seed: u64, nodes: usize, scheme: SchemeKind, options: ScenarioOptions) -> Scenario {
    Scenario::generate(seed, nodes, ScenarioOptions { scheme, ..options })
}

/// The command that replays one seed exactly, verbosely.
pub fn replay_command(seed: u64, nodes: usize, scheme: SchemeKind) -> String {
    let scheme = match scheme {
        SchemeKind::Fast => "fast",
        SchemeKind::Ed25519 => "ed25519",
    };
    format!("cargo run -p tally-sim --release -- --replay {seed} --nodes {nodes} --scheme {scheme} --verbose")
}

/// Runs one seed of a campaign.
pub fn run_seed(
    seed: u64,
    nodes: usize,
    scheme: SchemeKind,
    options: ScenarioOptions,
) -> Result<Outcome, SetupError> {
    sim::run(scenario_for(seed, nodes, scheme, options), false)
}

/// A failure report for humans: the seed, what the scenario was, what broke, and how to
/// replay it.
pub fn describe_failure(outcome: &Outcome, scheme: SchemeKind) -> String {
    let mut text = format!("FAIL seed {} ({})\n", outcome.seed, outcome.summary);
    for violation in &outcome.violations {
        text.push_str(&format!("  - {violation}\n"));
    }
    if outcome.violations_dropped > 0 {
        text.push_str(&format!("  ... and {} more\n", outcome.violations_dropped));
    }
    text.push_str(&format!("  replay: {}\n", replay_command(outcome.seed, outcome.n, scheme)));
    text
}

/// Runs seeds `start..start + count` and returns the failures, described.
pub fn run_range(
    start: u64,
    count: u64,
    nodes: Option<usize>,
    scheme: SchemeChoice,
    options: ScenarioOptions,
) -> Vec<String> {
    let mut failures = Vec::new();
    for seed in start..start + count {
        let n = nodes_for_seed(seed, nodes);
        let kind = scheme.for_seed(seed);
        match run_seed(seed, n, kind, options) {
            Ok(outcome) if outcome.passed() => {}
            Ok(outcome) => failures.push(describe_failure(&outcome, kind)),
            Err(error) => failures.push(format!(
                "FAIL seed {seed}: setup: {error}\n  replay: {}\n",
                replay_command(seed, n, kind)
            )),
        }
    }
    failures
}
