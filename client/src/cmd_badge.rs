//! `tally badge anchor|verify|revoke|receipt` (docs/ARCHITECTURE.md "Badges"): anchor Open Badges assertions as
//! one Merkle root, verify a badge step by step from the genesis file alone, revoke a badge,
//! and show or refresh a receipt.
//!
//! Receipt files are named `<assertion file name>.receipt.json`, next to the assertion or in
//! `--out-dir`; `badge verify` looks there when no `--receipt` is given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tally_client::badge::{BadgeBatch, BadgeReceipt, canon_name, format_name, hash_assertion};
use tally_client::http::{NodeClient, TxInclusion};
use tally_client::proofs::{ArchiveSource, ChainSource, Interest, NodeSource, Trust, verify_badge};
use tally_client::txbuild::VALID_FOR_BLOCKS_DEFAULT;
use tally_genesis::Genesis;
use tally_types::codec::BoundedString;
use tally_types::tx::{BadgeCanon, BadgeFormat, RevokeBadge};
use tally_types::{Hash, Height, Op, TxOutcome, limits};

use crate::{Session, SubmitArgs, usage};

/// Badges of one format and canonicalization: the (file index, badge hash) of each.
type BatchGroup = (BadgeFormat, BadgeCanon, Vec<(usize, Hash)>);
/// A batch to anchor and its members: each assertion's position in the file list and hash.
type AnchorBatch = (BadgeBatch, Vec<(usize, Hash)>);

/// The suffix of a receipt file.
pub const RECEIPT_SUFFIX: &str = ".receipt.json";
/// Receipt files `badge receipt HASH` reads while searching a directory.
const RECEIPT_SEARCH_FILES_MAX: usize = 100_000;

#[derive(Subcommand)]
pub enum BadgeCommand {
    /// Anchor assertions (OB 2.0/3.0 JSON or compact JWS) in one transaction; writes one
    /// receipt per badge.
    Anchor(AnchorArgs),
    /// Verify a badge step by step: hash, Merkle path, anchor transaction, finality, issuer
    /// membership, non-revocation.
    Verify(VerifyArgs),
    /// Revoke a badge your member anchored.
    Revoke(RevokeArgs),
    /// Show a receipt (a file, or the receipt of a badge hash found in --dir); --refresh
    /// fills in the anchor transaction and height from the node.
    Receipt(ReceiptArgs),
}

#[derive(Args)]
pub struct AnchorArgs {
    /// Assertion files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The signing key's name in the keystore (an issuer of your member).
    #[arg(long = "from", visible_alias = "key")]
    key: String,
    /// Where to write the receipts (default: next to each assertion).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// A URI describing the batch (e.g. where its badge classes are published).
    #[arg(long)]
    metadata_uri: Option<String>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The assertion file.
    assertion: PathBuf,
    /// The receipt file (default: ASSERTION.receipt.json).
    #[arg(long)]
    receipt: Option<PathBuf>,
    /// The genesis file: the only thing trusted.
    #[arg(long)]
    genesis: PathBuf,
    /// Verify offline from an archive written by `tally-node export` instead of a node.
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Refuse state proofs (membership, non-revocation) against a finalized height below
    /// this one: the node chooses the header it proves against, and an outdated one could
    /// answer from before a revocation.
    #[arg(long, default_value_t = 0)]
    min_height: u64,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The badge hash (64 hex).
    hash: String,
    #[arg(long)]
    reason: String,
    /// The signing key's name in the keystore (an issuer of the anchoring member).
    #[arg(long = "from", visible_alias = "key")]
    key: String,
}

#[derive(Args)]
pub struct ReceiptArgs {
    /// A receipt file, or a badge hash to look for in --dir.
    target: String,
    /// The directory searched for a badge hash's receipt.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Ask the node for the anchor transaction and height, and rewrite the file with them.
    #[arg(long)]
    refresh: bool,
}

pub fn run(context: &Session, command: BadgeCommand) -> anyhow::Result<()> {
    match command {
        BadgeCommand::Anchor(args) => anchor(context, args),
        BadgeCommand::Verify(args) => verify(context, args),
        BadgeCommand::Revoke(args) => revoke(context, args),
        BadgeCommand::Receipt(args) => receipt(context, args),
    }
}

/// Loads `name` from the keystore, builds a transaction of `ops` at the account's next seq,
/// submits it and waits for the commit. A failed receipt is an error.
fn submit_and_wait(context: &Session, name: &str, ops: Vec<Op>) -> anyhow::Result<TxInclusion> {
    let args =
        SubmitArgs { from: name.to_owned(), wait: true, valid_for: VALID_FOR_BLOCKS_DEFAULT, seq: None };
    let sent = crate::submit::send(context, &args, ops)?;
    let Some(inclusion) = sent.inclusion else {
        bail!("transaction {} was admitted but not reported committed", sent.tx_id)
    };
    if let TxOutcome::Failed { op_index, code } = &inclusion.receipt.outcome {
        let code = serde_json::to_value(code)?;
        bail!(
            "transaction {} failed at op {op_index}: {} (committed at height {}; nothing was anchored or revoked)",
            inclusion.tx_id,
            code.as_str().unwrap_or("unknown"),
            inclusion.height
        );
    }
    Ok(*inclusion)
}

fn read_bounded(path: &Path, max: usize, what: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if bytes.len() > max {
        return Err(usage(format!("{what} {} is larger than {max} bytes", path.display())));
    }
    Ok(bytes)
}

fn receipt_path(assertion: &Path, out_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let name = assertion
        .file_name()
        .with_context(|| format!("{} has no file name", assertion.display()))?
        .to_string_lossy()
        .into_owned();
    let file = format!("{name}{RECEIPT_SUFFIX}");
    Ok(match out_dir {
        Some(dir) => dir.join(file),
        None => assertion.with_file_name(file),
    })
}

fn anchor(context: &Session, args: AnchorArgs) -> anyhow::Result<()> {
    if args.files.len() > limits::BADGE_BATCH_LEAVES_MAX as usize {
        return Err(usage(format!("at most {} badges per anchor", limits::BADGE_BATCH_LEAVES_MAX)));
    }
    let metadata_uri = match &args.metadata_uri {
        Some(text) => Some(BoundedString::new(text.clone()).map_err(|_| {
            usage(format!("--metadata-uri is longer than {} bytes", limits::BADGE_METADATA_URI_BYTES_MAX))
        })?),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let batches = batch_assertions(&args.files)?;
    let ops: Vec<Op> =
        batches.iter().map(|(batch, _)| Op::AnchorBadges(batch.anchor_op(metadata_uri.clone()))).collect();
    let inclusion = submit_and_wait(context, &args.key, ops)?;
    let written = write_receipts(&args, &batches, &inclusion)?;
    context.print(json!({ "tx_id": inclusion.tx_id, "height": inclusion.height, "badges": written }), || {
        println!(
            "anchored {} in transaction {} at height {}",
            badge_count(written.len() as u64),
            inclusion.tx_id,
            inclusion.height
        );
        for (batch, _) in &batches {
            println!(
                "  root {}  {}  {} ({})",
                batch.root(),
                badge_count(u64::from(batch.leaf_count())),
                format_name(batch.format()),
                canon_name(batch.canon())
            );
        }
        for entry in &written {
            println!(
                "  {}  ->  {}",
                entry["badge_hash"].as_str().unwrap_or(""),
                entry["receipt"].as_str().unwrap_or("")
            );
        }
    });
    Ok(())
}

/// Hashes the assertion files and gathers them into one batch per (format, canonicalization):
/// an anchor op records one of each, and a transaction holds up to 16 ops, more than the 4
/// combinations. Each batch keeps its members' positions in `files`.
fn batch_assertions(files: &[PathBuf]) -> anyhow::Result<Vec<AnchorBatch>> {
    let mut groups: BTreeMap<(u8, u8), BatchGroup> = BTreeMap::new();
    for (index, path) in files.iter().enumerate() {
        let bytes = read_bounded(path, tally_client::badge::BADGE_BYTES_MAX, "assertion")?;
        let badge = hash_assertion(&bytes).map_err(|error| usage(format!("{}: {error}", path.display())))?;
        let group_key = (badge.format as u8, badge.canon as u8);
        groups
            .entry(group_key)
            .or_insert_with(|| (badge.format, badge.canon, Vec::new()))
            .2
            .push((index, badge.hash));
    }
    let mut batches = Vec::new();
    for (format, canon, members) in groups.into_values() {
        let hashes = members.iter().map(|(_, hash)| *hash).collect();
        let batch = BadgeBatch::new(format, canon, hashes).map_err(|error| usage(error.to_string()))?;
        batches.push((batch, members));
    }
    Ok(batches)
}

/// Writes each assertion's receipt (next to it, or in `--out-dir`) now that its batch is on
/// chain in `inclusion`; returns one report entry per assertion.
fn write_receipts(
    args: &AnchorArgs,
    batches: &[AnchorBatch],
    inclusion: &TxInclusion,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut written = Vec::new();
    for (batch, members) in batches {
        for (position, (file_index, _)) in members.iter().enumerate() {
            let mut receipt = batch.receipt(position).expect("position is within the batch");
            receipt.tx_id = Some(inclusion.tx_id);
            receipt.height = Some(inclusion.height);
            let assertion = &args.files[*file_index];
            let path = receipt_path(assertion, args.out_dir.as_deref())?;
            std::fs::write(&path, receipt.to_json() + "\n")
                .with_context(|| format!("writing the receipt {}", path.display()))?;
            written.push(json!({
                "assertion": assertion,
                "receipt": path,
                "badge_hash": receipt.badge_hash,
                "format": format_name(batch.format()),
                "canon": canon_name(batch.canon()),
                "root": batch.root(),
            }));
        }
    }
    Ok(written)
}

fn load_receipt(path: &Path) -> anyhow::Result<BadgeReceipt> {
    let bytes = read_bounded(path, tally_client::badge::RECEIPT_JSON_BYTES_MAX, "receipt")?;
    BadgeReceipt::from_json(&bytes).map_err(|error| usage(format!("{}: {error}", path.display())))
}

fn verify(context: &Session, args: VerifyArgs) -> anyhow::Result<()> {
    let genesis = Genesis::load(&args.genesis)
        .with_context(|| format!("reading the genesis file {}", args.genesis.display()))?;
    let mut trust = Trust::from_genesis(&genesis);
    trust.min_state_height = Height(args.min_height);
    let assertion = read_bounded(&args.assertion, tally_client::badge::BADGE_BYTES_MAX, "assertion")?;
    let receipt_file = match &args.receipt {
        Some(path) => path.clone(),
        None => receipt_path(&args.assertion, None)?,
    };
    let receipt = load_receipt(&receipt_file)?;
    let mut source: Box<dyn ChainSource> = match &args.archive {
        Some(path) => {
            let interest =
                Interest { txs: receipt.tx_id.into_iter().collect(), anchor_roots: vec![receipt.root] };
            let source = ArchiveSource::load(path, &genesis, &interest)
                .with_context(|| format!("replaying the archive {}", path.display()))?;
            // The replay established every epoch's validators from the genesis file.
            trust.epochs = source.epochs().to_vec();
            Box::new(source)
        }
        None => {
            let client = context.client()?;
            let status =
                client.status().with_context(|| format!("asking {} for its status", context.node))?;
            if &status.chain_id != genesis.chain_id() {
                bail!(
                    "node {} serves chain `{}`, but the genesis file is for chain `{}`",
                    context.node,
                    status.chain_id,
                    genesis.chain_id()
                );
            }
            let source = NodeSource::new(client);
            // Each later validator set, proven from the one before, starting at genesis.
            let steps = source.epochs().context("reading the node's chain of epochs (GET /v1/epochs)")?;
            trust.follow_epochs(&steps).context("following the epochs from the genesis file")?;
            Box::new(source)
        }
    };
    let report = verify_badge(source.as_mut(), &trust, &assertion, &receipt);
    context.print(json!({ "valid": report.is_valid(), "report": report }), || {
        println!("badge {}", report.badge_hash);
        for step in &report.steps {
            let mark = if step.passed { "ok  " } else { "FAIL" };
            println!("  {mark} step {} ({}): {}", step.number, step.name, step.detail);
            if let Some(expected) = &step.expected {
                println!("         expected: {expected}");
            }
            if let Some(actual) = &step.actual {
                println!("         actual:   {actual}");
            }
        }
        if report.is_valid() {
            println!("VALID: anchored, final, issued by a member, not revoked");
        }
    });
    match report.failed_step() {
        None if report.is_valid() => Ok(()),
        None => bail!("verification stopped before all steps ran"),
        Some(step) => bail!("badge verification failed at step {} ({})", step.number, step.name),
    }
}

fn revoke(context: &Session, args: RevokeArgs) -> anyhow::Result<()> {
    let badge_hash: Hash = args.hash.parse().map_err(|error| usage(format!("HASH: {error}")))?;
    let reason = BoundedString::new(args.reason.clone()).map_err(|_| {
        usage(format!("--reason is longer than {} bytes", limits::BADGE_REVOCATION_REASON_BYTES_MAX))
    })?;
    let inclusion =
        submit_and_wait(context, &args.key, vec![Op::RevokeBadge(RevokeBadge { badge_hash, reason })])?;
    context.print(
        json!({ "badge_hash": badge_hash, "tx_id": inclusion.tx_id, "height": inclusion.height }),
        || {
            println!(
                "revoked {badge_hash} in transaction {} at height {}",
                inclusion.tx_id, inclusion.height
            );
            println!("(a revocation counts only for badges your own member anchored)");
        },
    );
    Ok(())
}

/// Finds the receipt file of `badge_hash` among the `*.receipt.json` files of `dir`.
fn find_receipt(dir: &Path, badge_hash: &Hash) -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries.take(RECEIPT_SEARCH_FILES_MAX) {
        let path = entry.with_context(|| format!("listing {}", dir.display()))?.path();
        if !path.to_string_lossy().ends_with(RECEIPT_SUFFIX) {
            continue;
        }
        if let Ok(receipt) = load_receipt(&path)
            && receipt.badge_hash == *badge_hash
        {
            return Ok(path);
        }
    }
    Err(usage(format!("no receipt for badge {badge_hash} in {}", dir.display())))
}

fn receipt(context: &Session, args: ReceiptArgs) -> anyhow::Result<()> {
    let path = match args.target.parse::<Hash>() {
        Ok(hash) if !Path::new(&args.target).exists() => find_receipt(&args.dir, &hash)?,
        _ => PathBuf::from(&args.target),
    };
    let mut receipt = load_receipt(&path)?;
    if args.refresh {
        let client: NodeClient = context.client()?;
        let tx_id = match receipt.tx_id {
            Some(id) => id,
            None => {
                let answer =
                    client.get_json(&format!("/v1/badges/{}?root={}", receipt.badge_hash, receipt.root))?;
                let anchor = &answer["anchor"]["value_decoded"];
                let id = anchor["tx_id"]
                    .as_str()
                    .with_context(|| format!("the node has no anchor for root {}", receipt.root))?;
                id.parse().map_err(|error| anyhow::anyhow!("the node's anchor names a bad tx id: {error}"))?
            }
        };
        let inclusion =
            client.tx(&tx_id)?.with_context(|| format!("transaction {tx_id} is not in a committed block"))?;
        receipt.tx_id = Some(tx_id);
        receipt.height = Some(inclusion.height);
        std::fs::write(&path, receipt.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    context.print(json!({ "file": path, "receipt": receipt }), || {
        println!("file        {}", path.display());
        println!("badge hash  {}", receipt.badge_hash);
        println!("canon       {}", canon_name(receipt.canon));
        println!("root        {}", receipt.root);
        println!("leaf        {} of {}", receipt.path.index, receipt.path.leaf_count);
        match (receipt.tx_id, receipt.height) {
            (Some(tx_id), Some(height)) => println!("anchored    transaction {tx_id} at height {height}"),
            _ => println!("anchored    unknown (run with --refresh)"),
        }
    });
    Ok(())
}

/// "1 badge", "3 badges".
pub(crate) fn badge_count(count: u64) -> String {
    if count == 1 { "1 badge".to_owned() } else { format!("{count} badges") }
}
