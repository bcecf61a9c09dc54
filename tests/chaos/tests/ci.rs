//! The CI slice of the nemesis: a short seeded schedule (at most five faults within a minute of
//! load) over four real `tally-node` processes, checked like a long run. Set
//! `TALLY_CHAOS_SEED` to replay another seed, `TALLY_CHAOS_BIN_DIR` to use prebuilt binaries.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tally_chaos::harness::{RunConfig, run_once};

/// `tally-node` from `TALLY_CHAOS_BIN_DIR`, or built (debug) into this workspace's target folder.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TALLY_CHAOS_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "tally-node", "--bin", "tally-node"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build for tally-node");
    assert!(status.success(), "building tally-node failed: {status}");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug")
}

#[test]
fn a_short_seeded_schedule_keeps_every_acknowledged_transaction() {
    let seed: u64 = std::env::var("TALLY_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(29);
    let out = tempfile::Builder::new().prefix("tally-chaos-ci").tempdir().expect("tempdir");
    let config = RunConfig {
        seed,
        duration: Duration::from_secs(60),
        nodes: 4,
        clients: 4,
        bin_dir: bin_dir(),
        old_bin_dir: None,
        out_dir: out.path().to_path_buf(),
        loopback: false,
        max_faults: Some(5),
        only_faults: Vec::new(),
        // Generous: a liveness bound (the network must commit again at all), not a speed figure;
        // long runs report the measured times.
        resume_bound_ms: 120_000,
        tmpfs_mb: 256,
        repro: format!(
            "TALLY_CHAOS_SEED={seed} cargo test -p tally-chaos --test ci   (long form: scripts/chaos.sh --seed {seed} --duration 60s --max-faults 5)"
        ),
    };
    let outcome = match run_once(&config) {
        Ok(outcome) => outcome,
        Err(error) => {
            let kept = out.keep();
            panic!(
                "the chaos run failed: {error}\nfiles kept in {}\nreproduce with: {}",
                kept.display(),
                config.repro
            );
        }
    };
    eprintln!("mode: {}\nstats: {:?}", outcome.mode, outcome.verdict.stats);
    if let Some(violation) = &outcome.verdict.first_violation {
        let kept = out.keep();
        panic!(
            "{}: {}\nhistory and verdict kept in {}\nreproduce with: {}",
            violation.property,
            violation.detail,
            kept.display(),
            config.repro
        );
    }
    assert!(outcome.verdict.stats.ok > 0, "no transaction was acknowledged: the workload did not run");
    assert!(outcome.verdict.stats.faults > 0, "no fault was injected");
}
