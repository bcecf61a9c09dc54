//! `tally-chaos`: runs a seeded nemesis schedule against real `tally-node` processes and checks
//! the history (`run`), or checks a recorded history again (`check`). See README.md,
//! "Reliability", and `scripts/chaos.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tally_chaos::checker::{self, FinalState};
use tally_chaos::harness::{RunConfig, run_once};
use tally_chaos::history::read_history;
use tally_chaos::nemesis::Fault;

#[derive(Parser)]
#[command(name = "tally-chaos", about = "Nemesis harness and history checker for tally-node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a seeded fault schedule under load, then check the history.
    Run(Box<RunArgs>),
    /// Check a recorded history against a recorded final state.
    Check {
        #[arg(long)]
        history: PathBuf,
        #[arg(long)]
        state: PathBuf,
        #[arg(long, default_value_t = 60)]
        resume_bound: u64,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long)]
    seed: u64,
    /// How long faults are injected: 90s, 10m, 2h.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    duration: Duration,
    /// Where tally-node is.
    #[arg(long)]
    bin_dir: PathBuf,
    /// An older release's binary directory: restart nodes on it and back.
    #[arg(long)]
    old_bin: Option<PathBuf>,
    /// Where the history, verdict and node directories go.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Stop after this many faults.
    #[arg(long)]
    max_faults: Option<usize>,
    /// Draw only these faults, comma-separated (e.g. `old_binary,kill_one`); default all.
    #[arg(long, value_delimiter = ',', value_parser = Fault::parse)]
    faults: Vec<Fault>,
    /// No network namespaces: no network faults.
    #[arg(long)]
    loopback: bool,
    /// The bound on the time from a heal to the next commit, in seconds.
    #[arg(long, default_value_t = 60)]
    resume_bound: u64,
    /// Size of each node's data tmpfs in MiB.
    #[arg(long, default_value_t = 512)]
    tmpfs_mb: u64,
    /// The command that reproduces this run (printed on failure).
    #[arg(long, default_value = "")]
    repro: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: a duration is a number and a unit (s, m, h), e.g. 30m"))?;
    let seconds = match unit {
        "s" | "" => number,
        "m" => number * 60,
        "h" => number * 3600,
        other => return Err(format!("`{text}`: unknown unit `{other}`; use s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run_command(*args),
        Command::Check { history, state, resume_bound } => {
            let result = read_history(&history).and_then(|events| {
                let text =
                    std::fs::read_to_string(&state).map_err(|e| format!("read {}: {e}", state.display()))?;
                let state: FinalState =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", state.display()))?;
                Ok(checker::check(&events, &state, resume_bound * 1000))
            });
            match result {
                Ok(verdict) => {
                    println!("{}", serde_json::to_string_pretty(&verdict).unwrap_or_default());
                    if verdict.valid { ExitCode::SUCCESS } else { ExitCode::from(1) }
                }
                Err(error) => {
                    eprintln!("tally-chaos: {error}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn run_command(args: RunArgs) -> ExitCode {
    let RunArgs {
        seed,
        duration,
        bin_dir,
        old_bin,
        out,
        nodes,
        clients,
        max_faults,
        faults,
        loopback,
        resume_bound,
        tmpfs_mb,
        repro,
    } = args;
    if !bin_dir.join("tally-node").is_file() {
        eprintln!("tally-chaos: no tally-node in {}", bin_dir.display());
        return ExitCode::from(2);
    }
    if nodes < 4 || !(1..=4).contains(&clients) {
        eprintln!("tally-chaos: --nodes must be at least 4 and --clients 1 to 4 (one per member)");
        return ExitCode::from(2);
    }
    let default_repro = || format!("scripts/chaos.sh --seed {seed} --duration {}s", duration.as_secs());
    let repro = if repro.is_empty() { default_repro() } else { repro };
    let config = RunConfig {
        seed,
        duration,
        nodes,
        clients,
        bin_dir,
        old_bin_dir: old_bin,
        out_dir: out,
        loopback,
        max_faults,
        only_faults: faults,
        resume_bound_ms: resume_bound * 1000,
        tmpfs_mb,
        repro: repro.clone(),
    };
    match run_once(&config) {
        Ok(outcome) => {
            println!("{}", serde_json::to_string_pretty(&outcome.verdict.stats).unwrap_or_default());
            println!(
                "mode: {}\nhistory: {}\nverdict: {}",
                outcome.mode,
                outcome.history_path.display(),
                outcome.verdict_path.display()
            );
            match &outcome.verdict.first_violation {
                None => {
                    println!("verdict: valid");
                    ExitCode::SUCCESS
                }
                Some(violation) => {
                    println!("verdict: INVALID — {}: {}", violation.property, violation.detail);
                    println!("reproduce with: {repro}");
                    ExitCode::from(1)
                }
            }
        }
        Err(error) => {
            eprintln!("tally-chaos: {error}\nreproduce with: {repro}");
            ExitCode::from(2)
        }
    }
}
