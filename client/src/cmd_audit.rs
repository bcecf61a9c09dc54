//! `tally audit --genesis G (--archive FILE | --node URL) [--json]`: verifies a whole chain
//! from its genesis file (see `tally_client::audit`). Progress goes to stderr, the report to
//! stdout; the exit code is 0 only when every block verifies.

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tally_client::audit::{
    AuditFailure, AuditOptions, AuditSummary, EvidenceFinding, EvidenceVerdict, InvariantPolicy, NodeBlocks,
    Progress, archive_source, audit, check_archive_header, check_evidence, node_source,
};
use tally_genesis::Genesis;
use tally_types::archive::ArchiveReader;

use crate::{Session, usage};

/// How often a progress line is printed when stderr is not a terminal.
const PROGRESS_LINE_INTERVAL: Duration = Duration::from_secs(10);
/// Cells of the progress bar.
const PROGRESS_BAR_WIDTH: u64 = 30;
/// How often the progress line is redrawn on a terminal.
const PROGRESS_REDRAW_INTERVAL: Duration = Duration::from_millis(200);

/// `--invariants`: when the state invariants are checked.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum InvariantsArg {
    EveryBlock,
    Amortized,
}

#[derive(Args)]
pub struct AuditArgs {
    /// The genesis file the chain must start from.
    #[arg(long)]
    genesis: PathBuf,
    /// An archive written by `tally-node export`; without it, the chain is fetched from --node.
    #[arg(long)]
    archive: Option<PathBuf>,
    /// When to check the state invariants: `every-block` (default; a failure is named at the
    /// first height where it holds) or `amortized` (after block 1, the last block, and whenever
    /// the transactions since the last check reach a quarter of the state's entries: for chains
    /// whose state is very large compared to their blocks).
    #[arg(long, value_enum, default_value_t = InvariantsArg::EveryBlock)]
    invariants: InvariantsArg,
    /// Signature worker threads (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
}

/// Draws progress on stderr: one line redrawn in place on a terminal, periodic lines otherwise.
struct ProgressPrinter {
    terminal: bool,
    last: Option<Instant>,
    total_blocks: Option<u64>,
}

impl ProgressPrinter {
    fn show(&mut self, progress: &Progress) {
        let interval = if self.terminal { PROGRESS_REDRAW_INTERVAL } else { PROGRESS_LINE_INTERVAL };
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < interval) {
            return;
        }
        self.last = Some(now);
        let seconds = progress.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 { progress.txs as f64 / seconds } else { 0.0 };
        let (bar, of) = match self.total_blocks {
            Some(total) if total > 0 => {
                let done = progress.height.0.min(total);
                // Integer arithmetic: the share of PROGRESS_BAR_WIDTH cells done, and the percent.
                let cells = (done * PROGRESS_BAR_WIDTH / total) as usize;
                let percent = done * 100 / total;
                let bar = format!(
                    "[{}{}] {percent:>3}% ",
                    "#".repeat(cells),
                    ".".repeat(PROGRESS_BAR_WIDTH as usize - cells)
                );
                (bar, format!("/{total}"))
            }
            _ => (String::new(), String::new()),
        };
        let line = format!(
            "audit: {bar}height {}{of}, {} txs verified, {rate:.0} tx/s, {seconds:.1} s",
            progress.height, progress.txs
        );
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(stderr, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(stderr, "{line}");
        }
        let _ = stderr.flush();
    }

    fn end(&self) {
        if self.terminal && self.last.is_some() {
            eprintln!();
        }
    }
}

pub fn run(context: &Session, args: AuditArgs) -> anyhow::Result<()> {
    let genesis = Genesis::load(&args.genesis)
        .with_context(|| format!("reading the genesis file {}", args.genesis.display()))?;
    let mut options = AuditOptions::default();
    if let Some(threads) = args.threads {
        options.signature_threads = usize::from(threads);
    }
    options.invariants = match args.invariants {
        InvariantsArg::EveryBlock => InvariantPolicy::EveryBlock,
        InvariantsArg::Amortized => InvariantPolicy::Amortized,
    };
    let mut printer =
        ProgressPrinter { terminal: std::io::stderr().is_terminal(), last: None, total_blocks: None };
    let (source_name, outcome) = match &args.archive {
        Some(path) => audit_archive(&genesis, path, options, &mut printer)?,
        None => audit_node(context, &genesis, options, &mut printer)?,
    };
    printer.end();
    match outcome {
        Ok(summary) => {
            // Evidence lives in the node's store, not in the chain: read it from a node only.
            let evidence = match &args.archive {
                Some(_) => None,
                None => {
                    let records = context.client()?.all_evidence().context("reading the node's evidence")?;
                    Some(check_evidence(&summary.chain_id, &summary.epochs, &records))
                }
            };
            let invalid = evidence
                .iter()
                .flatten()
                .filter(|f| matches!(f.verdict, EvidenceVerdict::Invalid { .. }))
                .count();
            context.print(
                json!({ "ok": invalid == 0, "source": source_name, "summary": summary, "evidence": evidence }),
                || {
                    print_summary(&source_name, &summary);
                    print_evidence(evidence.as_deref());
                },
            );
            if invalid > 0 {
                anyhow::bail!(
                    "the node serves {invalid} evidence record(s) that prove nothing (listed above)"
                );
            }
            Ok(())
        }
        Err(failure) => {
            context.print(json!({ "ok": false, "source": source_name, "failure": failure }), || {
                print_failure(&source_name, &failure)
            });
            Err(anyhow::anyhow!("audit failed: {failure}"))
        }
    }
}

/// Audits the archive at `path`; returns the source's name and the audit's outcome.
fn audit_archive(
    genesis: &Genesis,
    path: &Path,
    options: AuditOptions,
    printer: &mut ProgressPrinter,
) -> anyhow::Result<(String, Result<AuditSummary, AuditFailure>)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening the archive {}", path.display()))?;
    printer.total_blocks = declared_records(&mut file);
    let reader = ArchiveReader::new(BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("reading the archive {}", path.display()))?;
    let outcome = check_archive_header(genesis, reader.header()).and_then(|()| {
        audit(genesis, archive_source(reader), options, &mut |progress| printer.show(progress))
    });
    Ok((format!("archive {}", path.display()), outcome))
}

/// Audits the chain the session's node serves, up to its committed height, after checking
/// that it is the genesis file's chain; returns the source's name and the audit's outcome.
fn audit_node(
    context: &Session,
    genesis: &Genesis,
    options: AuditOptions,
    printer: &mut ProgressPrinter,
) -> anyhow::Result<(String, Result<AuditSummary, AuditFailure>)> {
    let blocks = NodeBlocks::new(&context.node).map_err(|error| usage(error.to_string()))?;
    let status =
        context.client()?.status().with_context(|| format!("asking {} for its status", context.node))?;
    if &status.chain_id != genesis.chain_id() {
        anyhow::bail!(
            "node {} serves chain `{}`, but the genesis file is for chain `{}`",
            context.node,
            status.chain_id,
            genesis.chain_id()
        );
    }
    printer.total_blocks = Some(status.committed_height.0);
    let source = node_source(blocks, status.committed_height);
    let outcome = audit(genesis, source, options, &mut |progress| printer.show(progress));
    Ok((format!("node {} up to height {}", context.node, status.committed_height), outcome))
}

fn print_failure(source: &str, failure: &AuditFailure) {
    println!("audit of {source}: FAILED");
    println!("  height:      {}", failure.height);
    if let Some(index) = failure.tx_index {
        println!("  transaction: {index}");
    }
    if let Some(id) = &failure.tx_id {
        println!("  tx id:       {id}");
    }
    println!("  check:       {}", failure.check);
    println!("  what:        {}", failure.message);
    if let Some(expected) = &failure.expected {
        println!("  expected:    {expected}");
    }
    if let Some(actual) = &failure.actual {
        println!("  actual:      {actual}");
    }
}

fn print_summary(source: &str, summary: &AuditSummary) {
    let policy = match summary.invariant_policy {
        InvariantPolicy::EveryBlock => "after every block".to_owned(),
        InvariantPolicy::Amortized => {
            "after block 1, the last block, and whenever the txs since the last check \
                                       reached a quarter of the state's entries"
                .to_owned()
        }
    };
    println!("audit of {source}: OK");
    println!("  chain:             {} (genesis {})", summary.chain_id, summary.genesis_hash);
    println!("  blocks:            {} (final height {})", summary.blocks, summary.final_height);
    println!("  final block id:    {}", summary.final_block_id);
    println!("  validator sets:    epochs 0 to {}, each checked against its own set", summary.final_epoch);
    println!("  state root:        {}", summary.state_root);
    println!(
        "  transactions:      {} ({} succeeded), {} ops",
        summary.txs, summary.txs_succeeded, summary.ops
    );
    println!("  accounts:          {} ({} state entries)", summary.accounts, summary.state_entries);
    println!("  signatures:        {} verified (transactions and certificates)", summary.signatures);
    println!("  history checks:    every block (seqs, grant ids, holds, offers, badges)");
    println!("  state invariants:  checked after {} blocks: {policy}", summary.invariant_checks);
    println!(
        "  time:              {:.2} s, {:.0} tx/s",
        summary.elapsed_ms as f64 / 1_000.0,
        summary.txs_per_second
    );
}

/// The evidence section of the report: each record the node served and what it proves.
fn print_evidence(evidence: Option<&[EvidenceFinding]>) {
    let Some(findings) = evidence else {
        println!("  evidence:          not in archives (audit a node to check the evidence it stores)");
        return;
    };
    if findings.is_empty() {
        println!("  evidence:          none stored by the node");
    }
    for finding in findings {
        let what = match &finding.verdict {
            EvidenceVerdict::Proven { validator, key } => {
                format!("PROVEN: validator {validator} ({key}) equivocated")
            }
            EvidenceVerdict::Invalid { reason } => format!("INVALID, proves nothing: {reason}"),
            EvidenceVerdict::Unchecked { reason } => format!("not checked: {reason}"),
        };
        println!(
            "  evidence:          {} in view {} (epoch {}): {what}",
            finding.kind, finding.view, finding.epoch
        );
    }
}

/// The record count an archive's end marker declares (its last 12 bytes: `u32` 0, `u64`
/// count), read ahead of the walk only to size the progress bar; the reader checks the marker
/// for real at the end. `None` when the file is too short or the bytes are not a marker, and
/// the file is left positioned at its start.
fn declared_records(file: &mut std::fs::File) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut tail = [0u8; 12];
    let found = file.seek(SeekFrom::End(-12)).is_ok() && file.read_exact(&mut tail).is_ok();
    file.seek(SeekFrom::Start(0)).ok()?;
    let (zero, count) = tail.split_at(4);
    (found && zero == [0; 4]).then(|| u64::from_le_bytes(count.try_into().expect("8 bytes")))
}
