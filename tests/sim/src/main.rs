//! `tally-sim`: runs simulation campaigns over many seeds (every node the real engine),
//! replays one seed, or measures speed and latency in simulation.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use tally_sim::campaign::{self, SchemeChoice};
use tally_sim::scenario::{Scenario, ScenarioOptions};
use tally_sim::scheme::SchemeKind;
use tally_sim::sim::{self, Outcome, SetupError};
use tally_types::View;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SchemeArg {
    /// Keyed-blake3 stand-in signatures (fast).
    Fast,
    /// Real ed25519.
    Ed25519,
    /// Fast, with real ed25519 on every 100th seed.
    Mixed,
}

/// Deterministic simulation of Tally validators (the real engine) with an independent invariant oracle.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Number of seeds to run.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Validators, 4 to 100. Default: 4, 5, 6, 7 and 10 in turn.
    #[arg(long)]
    nodes: Option<usize>,
    /// Signature scheme.
    #[arg(long, value_enum, default_value_t = SchemeArg::Mixed)]
    scheme: SchemeArg,
    /// Run only this seed and print its scenario, statistics and violations.
    #[arg(long)]
    replay: Option<u64>,
    /// With --replay: log every notable event (commits, crashes, equivocations, GST).
    #[arg(long)]
    verbose: bool,
    /// Measure views per second and finalization latency in hops on a fault-free network.
    #[arg(long)]
    measure: bool,
    /// Worker threads for a campaign.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    progress_secs: u64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn check_nodes(nodes: Option<usize>) -> Result<()> {
    if let Some(n) = nodes
        && !(4..=tally_types::limits::VALIDATORS_MAX).contains(&n)
    {
        bail!("--nodes {n}: n must be 4 to {}", tally_types::limits::VALIDATORS_MAX);
    }
    Ok(())
}

fn scheme_choice(arg: SchemeArg) -> SchemeChoice {
    match arg {
        SchemeArg::Fast => SchemeChoice::Fast,
        SchemeArg::Ed25519 => SchemeChoice::Ed25519,
        SchemeArg::Mixed => SchemeChoice::Mixed { every: 100 },
    }
}

fn run(args: Args) -> Result<bool> {
    check_nodes(args.nodes)?;
    if args.measure {
        measure(args.nodes)?;
        return Ok(true);
    }
    if let Some(seed) = args.replay {
        return replay(seed, &args);
    }
    campaign_run(&args)
}

fn replay(seed: u64, args: &Args) -> Result<bool> {
    let n = campaign::nodes_for_seed(seed, args.nodes);
    let kind = scheme_choice(args.scheme).for_seed(seed);
    let scenario = campaign::scenario_for(seed, n, kind, ScenarioOptions::default());
    println!("{}", scenario.summary());
    if args.verbose {
        println!("network: {:?}", scenario.network);
        println!("crashes: {:?}", scenario.crashes);
    }
    let outcome = sim::run(scenario, args.verbose).context("setting up the run")?;
    print_outcome(&outcome);
    if outcome.passed() {
        println!("PASS");
        Ok(true)
    } else {
        print!("{}", campaign::describe_failure(&outcome, kind));
        Ok(false)
    }
}

fn print_outcome(outcome: &Outcome) {
    let stats = &outcome.stats;
    println!(
        "trace {}\nevents {} delivered {} sent {} dropped {} duplicated {} crashes {} (power cut at a WAL fsync {}, in a block commit {}) restarts {} syncs {}/{} evidence {}",
        hex(&outcome.trace_hash),
        stats.events,
        stats.delivered,
        stats.messages_sent,
        stats.messages_dropped,
        stats.messages_duplicated,
        stats.crashes,
        stats.crashes_before_write,
        stats.crashes_after_write,
        stats.restarts,
        stats.syncs_completed,
        stats.syncs,
        stats.evidence,
    );
    println!(
        "height {} epochs scheduled {} max view {} view at GST {:?} first view after GST {:?} end {} ms, largest WAL {} entries, transfers {} submitted {} acknowledged, torn writes {}",
        stats.height,
        stats.epochs_scheduled,
        stats.max_view,
        stats.view_at_gst,
        stats.first_view_after_gst,
        stats.end_ms,
        stats.wal_len_max,
        stats.txs_submitted,
        stats.txs_acknowledged,
        stats.torn_writes,
    );
    println!(
        "changes passed: {} key rotations, {} validator removals, {} joins; {} votes signed with retired keys",
        stats.rotations, stats.removals, stats.joins, stats.ghost_votes,
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn campaign_run(args: &Args) -> Result<bool> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let choice = scheme_choice(args.scheme);
    let end = args.start.checked_add(args.seeds).context("--start + --seeds overflows")?;
    println!(
        "campaign: seeds {}..{} nodes {} scheme {:?}, {} job(s)",
        args.start,
        end,
        args.nodes.map_or("4/7/10".to_owned(), |n| n.to_string()),
        args.scheme,
        args.jobs
    );
    let next = AtomicU64::new(args.start);
    let done = AtomicU64::new(0);
    let tally = CampaignTally::default();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        return;
                    }
                    tally.run_seed(seed, args, choice);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Progress from the main thread while the workers run.
        print_progress_until_done(args, &done, &tally, started);
    });
    Ok(tally.print_summary(args.seeds, started.elapsed().as_secs_f64()) == 0)
}

/// Prints a progress line every `--progress-secs` until `--seeds` seeds are done.
fn print_progress_until_done(args: &Args, done: &AtomicU64, tally: &CampaignTally, started: Instant) {
    let mut last = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let finished = done.load(Ordering::Relaxed);
        if finished >= args.seeds {
            break;
        }
        if last.elapsed() >= Duration::from_secs(args.progress_secs) {
            last = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            let failed = lock(&tally.failures).len();
            println!(
                "progress: {finished}/{} seeds, {:.1} seeds/s, {failed} failed, {:.0} s elapsed",
                args.seeds,
                finished as f64 / elapsed.max(1e-9),
                elapsed
            );
        }
    }
}

/// What a campaign's seeds add up to, shared by its worker threads.
#[derive(Default)]
struct CampaignTally {
    /// The report of each failed seed, with its replay command.
    failures: Mutex<Vec<String>>,
    /// Per passing seed: views from the highest honest view at GST to the first block
    /// committed after it (what the liveness bound limits).
    views_to_progress: Mutex<BTreeMap<u64, u64>>,
    reconfigured: AtomicU64,
    epochs: AtomicU64,
    rotations: AtomicU64,
    removals: AtomicU64,
    joins: AtomicU64,
    ghost_votes: AtomicU64,
}

impl CampaignTally {
    /// Runs one seed and counts it: a pass into the figures, a failure (or a panic, with
    /// the replay command) printed and kept. A panic fails its seed and the campaign goes on.
    fn run_seed(&self, seed: u64, args: &Args, choice: SchemeChoice) {
        let n = campaign::nodes_for_seed(seed, args.nodes);
        let kind = choice.for_seed(seed);
        let run = std::panic::catch_unwind(|| campaign::run_seed(seed, n, kind, ScenarioOptions::default()));
        let report = match run.unwrap_or_else(|panic| Err(panic_setup_error(panic))) {
            Ok(outcome) if outcome.passed() => {
                self.count_pass(&outcome.stats);
                None
            }
            Ok(outcome) => Some(campaign::describe_failure(&outcome, kind)),
            Err(error) => Some(format!(
                "FAIL seed {seed}: setup: {error}\n  replay: {}\n",
                campaign::replay_command(seed, n, kind)
            )),
        };
        if let Some(report) = report {
            print!("{report}");
            lock(&self.failures).push(report);
        }
    }

    fn count_pass(&self, stats: &sim::Stats) {
        if let (Some(at_gst), Some(first)) = (stats.view_at_gst, stats.first_view_after_gst) {
            // Across an epoch change views restart at the epoch's base: those seeds are
            // counted apart.
            let key = if View(first).epoch() == View(at_gst).epoch() { first - at_gst } else { u64::MAX };
            *lock(&self.views_to_progress).entry(key).or_insert(0) += 1;
        }
        if stats.epochs_scheduled > 0 {
            self.reconfigured.fetch_add(1, Ordering::Relaxed);
            self.epochs.fetch_add(stats.epochs_scheduled, Ordering::Relaxed);
            self.rotations.fetch_add(stats.rotations, Ordering::Relaxed);
            self.removals.fetch_add(stats.removals, Ordering::Relaxed);
            self.joins.fetch_add(stats.joins, Ordering::Relaxed);
            self.ghost_votes.fetch_add(stats.ghost_votes, Ordering::Relaxed);
        }
    }

    /// Prints the campaign's closing lines; returns how many seeds failed.
    fn print_summary(self, seeds: u64, elapsed: f64) -> usize {
        let failed = self.failures.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).len();
        println!(
            "done: {} seeds in {:.1} s ({:.1} seeds/s), {} failed",
            seeds,
            elapsed,
            seeds as f64 / elapsed.max(1e-9),
            failed
        );
        println!(
            "reconfigured: {} passing seeds started {} new epochs ({} key rotations, {} validator removals, {} joins; {} votes signed with retired keys, none counted)",
            self.reconfigured.load(Ordering::Relaxed),
            self.epochs.load(Ordering::Relaxed),
            self.rotations.load(Ordering::Relaxed),
            self.removals.load(Ordering::Relaxed),
            self.joins.load(Ordering::Relaxed),
            self.ghost_votes.load(Ordering::Relaxed)
        );
        let histogram = self.views_to_progress.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        let text: Vec<String> = histogram
            .iter()
            .map(|(views, seeds)| {
                if *views == u64::MAX { format!("across-epochs:{seeds}") } else { format!("{views}:{seeds}") }
            })
            .collect();
        println!("views from GST to the first new commit (views:seeds): {}", text.join(" "));
        failed
    }
}

/// A panicked run as a setup error, with the panic's message.
fn panic_setup_error(panic: Box<dyn std::any::Any + Send>) -> SetupError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    SetupError::Panicked(message)
}

/// Locks a mutex, ignoring poisoning: a worker that panicked already failed the campaign
/// loudly, and the counters it left are still worth printing.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Views per second with the fast scheme (no real signatures) and finalization latency in
/// hops and in units of the one-way delay, on a fault-free network.
fn measure(nodes: Option<usize>) -> Result<()> {
    const DELAY_MS: u64 = 10;
    const RUN_MS: u64 = 120_000;
    let counts: Vec<usize> = nodes.map_or(campaign::NODE_COUNTS.to_vec(), |n| vec![n]);
    for n in counts {
        let scenario = Scenario::fault_free(1, n, SchemeKind::Fast, DELAY_MS, RUN_MS);
        let started = Instant::now();
        let outcome = sim::run(scenario, false).context("setting up the measurement run")?;
        let wall = started.elapsed().as_secs_f64();
        if !outcome.passed() {
            print!("{}", campaign::describe_failure(&outcome, SchemeKind::Fast));
            bail!("the fault-free measurement run broke an invariant");
        }
        let stats = &outcome.stats;
        let hops = &stats.latency_hops;
        let mean_hops = hops.iter().map(|&h| f64::from(h)).sum::<f64>() / hops.len().max(1) as f64;
        let mean_ms = stats.latency_ms.iter().sum::<u64>() as f64 / stats.latency_ms.len().max(1) as f64;
        println!(
            "n={n}: {} views, {} blocks in {:.2} s wall = {:.0} views/s ({:.0} sim events/s); \
             finalization latency {mean_hops:.2} hops (min {}, max {}), {:.2} x one-way delay ({mean_ms:.1} ms at {DELAY_MS} ms)",
            stats.max_view,
            stats.height,
            wall,
            stats.max_view as f64 / wall.max(1e-9),
            stats.events as f64 / wall.max(1e-9),
            hops.iter().min().copied().unwrap_or(0),
            hops.iter().max().copied().unwrap_or(0),
            mean_ms / DELAY_MS as f64,
        );
    }
    Ok(())
}
