//! `tally badge anchor|verify|revoke|receipt|achievement|issue` (docs/ARCHITECTURE.md
//! "Badges"): anchor Open Badges assertions as one Merkle root, verify a badge step by step
//! from the genesis file alone, revoke a badge, show or refresh a receipt, validate a
//! provider's achievements, and issue signed Open Badges 3.0 credentials in one anchored batch.
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
use tally_client::ob3;
use tally_client::proofs::facts::{self, LedgerRule};
use tally_client::proofs::{ArchiveSource, ChainSource, Interest, NodeSource, Trust, verify_badge};
use tally_client::txbuild::VALID_FOR_BLOCKS_DEFAULT;
use tally_genesis::Genesis;
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::tx::{
    AchievementCount, AnchorAchievements, AnchorBadges, BadgeCanon, BadgeFormat, RevokeBadge,
};
use tally_types::{AchievementId, Hash, Height, Op, TxOutcome, limits};

use crate::{Session, SubmitArgs, usage};

/// Badges of one format and canonicalization: the (file index, badge hash) of each.
type BatchGroup = (BadgeFormat, BadgeCanon, Vec<(usize, Hash)>);
/// A batch to anchor and its members: each assertion's position in the file list and hash.
type AnchorBatch = (BadgeBatch, Vec<(usize, Hash)>);

/// The suffix of a receipt file.
pub const RECEIPT_SUFFIX: &str = ".receipt.json";
/// The largest achievements file read, in bytes.
const ACHIEVEMENTS_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The largest recipients file read, in bytes (a full batch of 2^20 addresses fits).
const RECIPIENTS_BYTES_MAX: usize = 256 * 1024 * 1024;
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
    /// A provider's Open Badges 3.0 achievements.
    #[command(subcommand)]
    Achievement(AchievementCommand),
    /// Award an achievement with a ledger rule to every account that newly meets it: scans the
    /// chain from where the last run stopped, checks each candidate with proofs, and issues and
    /// anchors their credentials in one batch.
    Award(crate::cmd_award::AwardArgs),
    /// Issue Open Badges 3.0 credentials of one achievement to many recipients, signed
    /// (eddsa-rdfc-2022) with your issuer key as a did:key, and anchor them in one transaction.
    Issue(IssueArgs),
    /// Community figures: badges anchored per achievement per provider (anchors that name
    /// their achievements); --genesis proves each entry.
    Figures(crate::cmd_figures::FiguresArgs),
}

#[derive(Subcommand)]
pub enum AchievementCommand {
    /// Check an achievements file (an OB 3.0 Achievement or an array of them) against the
    /// bundled OB 3.0 JSON schema; ids must be distinct.
    Validate {
        /// The achievements file.
        file: PathBuf,
    },
}

#[derive(Args)]
pub struct IssueArgs {
    /// The achievements file (see `tally badge achievement validate`).
    #[arg(long)]
    pub(crate) achievements: PathBuf,
    /// The id of the achievement to award, from the achievements file.
    #[arg(long)]
    pub(crate) achievement: String,
    /// A recipient: a tally1… account address or an email address (repeatable).
    #[arg(long = "recipient")]
    pub(crate) recipients: Vec<String>,
    /// A file of recipients, one per line (`#` comments and blank lines skipped); a line may
    /// add, after a tab, the evidence narrative for that recipient.
    #[arg(long)]
    pub(crate) recipients_file: Option<PathBuf>,
    /// The issuer key's name in the keystore (an issuer of your member): it signs the
    /// credentials and the anchor transaction.
    #[arg(long = "from", visible_alias = "key")]
    pub(crate) key: String,
    /// The issuer's name in each credential's issuer profile.
    #[arg(long)]
    pub(crate) issuer_name: Option<String>,
    /// Start of validity, RFC 3339 (default: now).
    #[arg(long)]
    pub(crate) valid_from: Option<String>,
    /// End of validity, RFC 3339 (default: none).
    #[arg(long)]
    pub(crate) valid_until: Option<String>,
    /// A URI for the evidence of every credential of this run (e.g. where it is described).
    #[arg(long)]
    pub(crate) evidence_uri: Option<String>,
    /// The evidence narrative of every credential of this run (a recipient line's own
    /// narrative takes its place).
    #[arg(long)]
    pub(crate) evidence_narrative: Option<String>,
    /// Where to write the credentials and their receipts.
    #[arg(long)]
    pub(crate) out_dir: PathBuf,
    /// A URI describing the batch (e.g. where the achievements are published).
    #[arg(long)]
    pub(crate) metadata_uri: Option<String>,
    /// Sign and write the credentials but do not anchor them (anchor later with `badge anchor`).
    #[arg(long)]
    pub(crate) no_anchor: bool,
    /// The genesis file: required when the achievement carries a ledger rule (`tallyRule`),
    /// whose facts are gathered with proofs checked from it, as a verifier would.
    #[arg(long)]
    pub(crate) genesis: Option<PathBuf>,
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
    /// The time (RFC 3339) at which an OB 3.0 credential's validity window is checked
    /// (default: now).
    #[arg(long)]
    at: Option<String>,
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
        BadgeCommand::Achievement(AchievementCommand::Validate { file }) => {
            validate_achievements(context, &file)
        }
        BadgeCommand::Issue(args) => issue(context, args),
        BadgeCommand::Award(args) => crate::cmd_award::award(context, args),
        BadgeCommand::Figures(args) => crate::cmd_figures::figures(context, args),
    }
}

/// Loads `name` from the keystore, builds a transaction of `ops` at the account's next seq,
/// submits it and waits for the commit. A failed receipt is an error.
fn submit_and_wait(context: &Session, name: &str, ops: Vec<Op>) -> anyhow::Result<TxInclusion> {
    submit_and_wait_with(context, name, None, ops)
}

/// [`submit_and_wait`], signing with `key` when it is already loaded.
pub(crate) fn submit_and_wait_with(
    context: &Session,
    name: &str,
    key: Option<&tally_types::SecretKey>,
    ops: Vec<Op>,
) -> anyhow::Result<TxInclusion> {
    let args =
        SubmitArgs { from: name.to_owned(), wait: true, valid_for: VALID_FOR_BLOCKS_DEFAULT, seq: None };
    let sent = match key {
        Some(key) => crate::submit::send_with_key(context, key, &args, ops)?,
        None => crate::submit::send(context, &args, ops)?,
    };
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

pub(crate) fn read_bounded(path: &Path, max: usize, what: &str) -> anyhow::Result<Vec<u8>> {
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
    let metadata_uri = parse_metadata_uri(args.metadata_uri.as_deref())?;
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let batches = batch_assertions(&args.files)?;
    let ops: Vec<Op> =
        batches.iter().map(|(batch, _)| Op::AnchorBadges(batch.anchor_op(metadata_uri.clone()))).collect();
    let inclusion = submit_and_wait(context, &args.key, ops)?;
    let written = write_receipts(&args.files, args.out_dir.as_deref(), &batches, &inclusion)?;
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
    files: &[PathBuf],
    out_dir: Option<&Path>,
    batches: &[AnchorBatch],
    inclusion: &TxInclusion,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut written = Vec::new();
    for (batch, members) in batches {
        for (position, (file_index, _)) in members.iter().enumerate() {
            let mut receipt = batch.receipt(position).expect("position is within the batch");
            receipt.tx_id = Some(inclusion.tx_id);
            receipt.height = Some(inclusion.height);
            let assertion = &files[*file_index];
            let path = receipt_path(assertion, out_dir)?;
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
    if let Some(at) = &args.at {
        let unix_s = tally_client::ob3::credential::parse_rfc3339(at)
            .ok_or_else(|| usage(format!("--at {at} is not an RFC 3339 date-time")))?;
        trust.credential_time_unix_s = Some(unix_s);
    }
    let assertion = read_bounded(&args.assertion, tally_client::badge::BADGE_BYTES_MAX, "assertion")?;
    let receipt_file = match &args.receipt {
        Some(path) => path.clone(),
        None => receipt_path(&args.assertion, None)?,
    };
    let receipt = load_receipt(&receipt_file)?;
    // The grant transactions a credential's ledger facts name: an archive keeps those too.
    let fact_txs = serde_json::from_slice::<serde_json::Value>(&assertion)
        .ok()
        .and_then(|credential| facts::claimed_facts(&credential, genesis.chain_id()).ok().flatten())
        .map(|claimed| claimed.grant_txs())
        .unwrap_or_default();
    let mut source = chain_source(context, &args, &genesis, &receipt, &fact_txs, &mut trust)?;
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
        if report.is_valid() && report.step_count == 10 {
            println!(
                "VALID: anchored, final, issued by a member, not revoked; an OB 3.0 credential signed by the member's issuer key, within its validity window, whose ledger facts the chain proves"
            );
        } else if report.is_valid() && report.step_count > 6 {
            println!(
                "VALID: anchored, final, issued by a member, not revoked; an OB 3.0 credential signed by the member's issuer key, within its validity window"
            );
        } else if report.is_valid() {
            println!("VALID: anchored, final, issued by a member, not revoked");
        }
    });
    match report.failed_step() {
        None if report.is_valid() => Ok(()),
        None => bail!("verification stopped before all steps ran"),
        Some(step) => bail!("badge verification failed at step {} ({})", step.number, step.name),
    }
}

/// The source `badge verify` reads the chain from: the archive, or the node (after checking
/// its chain id); `trust` learns the epochs from it.
fn chain_source(
    context: &Session,
    args: &VerifyArgs,
    genesis: &Genesis,
    receipt: &BadgeReceipt,
    fact_txs: &[tally_types::TxId],
    trust: &mut Trust,
) -> anyhow::Result<Box<dyn ChainSource>> {
    Ok(match &args.archive {
        Some(path) => {
            let txs = receipt.tx_id.into_iter().chain(fact_txs.iter().copied()).collect();
            let interest = Interest { txs, anchor_roots: vec![receipt.root] };
            let source = ArchiveSource::load(path, genesis, &interest)
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
    })
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

fn validate_achievements(context: &Session, file: &Path) -> anyhow::Result<()> {
    let (achievements, rules) = read_achievements(file)?;
    let listed: Vec<serde_json::Value> = achievements
        .iter()
        .zip(&rules)
        .map(|(achievement, rule)| {
            json!({
                "id": achievement.get("id"),
                "rule": rule,
                "proven_by": rule.as_ref().map(|rule| if rule.is_attestation() {
                    "the provider's attestation (reward grants it signed, proven on the ledger)"
                } else {
                    "the ledger (a state proof)"
                }),
            })
        })
        .collect();
    context.print(json!({ "file": file, "valid": true, "achievements": listed }), || {
        println!(
            "{}: {} valid under the OB 3.0 JSON schema",
            file.display(),
            plural(achievements.len(), "achievement")
        );
        for (achievement, rule) in achievements.iter().zip(&rules) {
            let id = achievement.get("id").and_then(serde_json::Value::as_str).unwrap_or("");
            match rule {
                Some(rule) => println!("  {id}\n    rule: {}", rule.describe()),
                None => println!("  {id}"),
            }
        }
    });
    Ok(())
}

/// One line of a recipients file, or one `--recipient`.
pub(crate) struct RecipientLine {
    pub(crate) text: String,
    pub(crate) recipient: ob3::credential::Recipient,
    pub(crate) narrative: Option<String>,
}

fn read_recipients(args: &IssueArgs) -> anyhow::Result<Vec<RecipientLine>> {
    let mut lines = Vec::new();
    for text in &args.recipients {
        let recipient = ob3::credential::Recipient::parse(text).map_err(|error| usage(error.to_string()))?;
        lines.push(RecipientLine { text: text.trim().to_owned(), recipient, narrative: None });
    }
    if let Some(path) = &args.recipients_file {
        let bytes = read_bounded(path, RECIPIENTS_BYTES_MAX, "recipients file")?;
        let text = String::from_utf8(bytes).map_err(|_| usage(format!("{} is not UTF-8", path.display())))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (who, narrative) = match line.split_once('\t') {
                Some((who, narrative)) => (who, Some(narrative.trim().to_owned()).filter(|n| !n.is_empty())),
                None => (line, None),
            };
            let recipient = ob3::credential::Recipient::parse(who)
                .map_err(|error| usage(format!("{} line {}: {error}", path.display(), number + 1)))?;
            lines.push(RecipientLine { text: who.trim().to_owned(), recipient, narrative });
        }
    }
    if lines.is_empty() {
        return Err(usage("no recipients: give --recipient or --recipients-file"));
    }
    if lines.len() > limits::BADGE_BATCH_LEAVES_MAX as usize {
        return Err(usage(format!("at most {} recipients per run", limits::BADGE_BATCH_LEAVES_MAX)));
    }
    Ok(lines)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// `--metadata-uri`, checked against the protocol's length limit.
fn parse_metadata_uri(
    text: Option<&str>,
) -> anyhow::Result<Option<BoundedString<{ limits::BADGE_METADATA_URI_BYTES_MAX }>>> {
    text.map(|text| {
        BoundedString::new(text.to_owned()).map_err(|_| {
            usage(format!("--metadata-uri is longer than {} bytes", limits::BADGE_METADATA_URI_BYTES_MAX))
        })
    })
    .transpose()
}

fn checked_date(option: &str, text: &str) -> anyhow::Result<String> {
    ob3::credential::parse_rfc3339(text)
        .map(|_| text.to_owned())
        .ok_or_else(|| usage(format!("{option} {text} is not an RFC 3339 date-time")))
}

/// The achievement `id` names in the achievements file (which must be valid), without its
/// ledger rule, and the rule (`tallyRule`) if it carries one.
pub(crate) fn find_achievement(
    file: &Path,
    id: &str,
) -> anyhow::Result<(serde_json::Value, Option<LedgerRule>)> {
    let (achievements, rules) = read_achievements(file)?;
    let position = achievements
        .iter()
        .position(|a| a.get("id").and_then(serde_json::Value::as_str) == Some(id))
        .ok_or_else(|| usage(format!("{} has no achievement {id}", file.display())))?;
    Ok((achievements[position].clone(), rules[position].clone()))
}

/// Reads an achievements file: each achievement without its ledger rule, checked against the
/// OB 3.0 schema, and each one's rule (checked too).
fn read_achievements(file: &Path) -> anyhow::Result<(Vec<serde_json::Value>, Vec<Option<LedgerRule>>)> {
    let bytes = read_bounded(file, ACHIEVEMENTS_BYTES_MAX, "achievements file")?;
    let raw = ob3::credential::parse_achievements(&bytes)
        .map_err(|error| usage(format!("{}: {error}", file.display())))?;
    let mut rules = Vec::with_capacity(raw.len());
    for achievement in &raw {
        let id = achievement.get("id").and_then(serde_json::Value::as_str).unwrap_or("(no id)");
        rules.push(
            facts::rule_of(achievement)
                .map_err(|error| usage(format!("{}: {id}: {error}", file.display())))?,
        );
    }
    let achievements: Vec<serde_json::Value> = raw.iter().map(facts::without_rule).collect();
    ob3::schema::check_achievements(&achievements)
        .map_err(|error| usage(format!("{}:\n{error}", file.display())))?;
    Ok((achievements, rules))
}

fn issue(context: &Session, args: IssueArgs) -> anyhow::Result<()> {
    let (achievement, rule) = find_achievement(&args.achievements, &args.achievement)?;
    let recipients = read_recipients(&args)?;
    let ledger_evidence = match &rule {
        None => vec![Vec::new(); recipients.len()],
        Some(rule) => {
            let genesis = args.genesis.as_deref().ok_or_else(|| {
                usage(format!(
                    "achievement {} carries a ledger rule ({}): give --genesis to gather its facts with proofs",
                    args.achievement,
                    rule.describe()
                ))
            })?;
            let holders: Vec<_> =
                recipients.iter().map(|line| (line.text.as_str(), &line.recipient)).collect();
            crate::cmd_award::evidence_for_all(context, genesis, rule, &holders)?
        }
    };
    issue_signed(context, &args, achievement, &recipients, &ledger_evidence, true).map(|_| ())
}

/// What an anchored issuing run wrote: the anchor transaction and one entry per credential
/// (`assertion`, `receipt`, `badge_hash`, `root`, ...), in recipient order.
pub(crate) type Issued = (TxInclusion, Vec<serde_json::Value>);

/// Signs one credential of `achievement` per recipient (with its ledger evidence, if any),
/// writes them to `--out-dir`, and anchors them in one transaction unless `--no-anchor`
/// (then `None`); prints the outcome when `print`.
// Not split: one run from signing to receipts, each stage reporting into the same summary.
pub(crate) fn issue_signed(
    context: &Session,
    args: &IssueArgs,
    achievement: serde_json::Value,
    recipients: &[RecipientLine],
    ledger_evidence: &[Vec<serde_json::Value>],
    print: bool,
) -> anyhow::Result<Option<Issued>> {
    let now = ob3::credential::format_rfc3339(unix_now());
    let metadata_uri = parse_metadata_uri(args.metadata_uri.as_deref())?;
    // The anchor names the achievement, so the ledger counts it (community figures); checked
    // before anything is signed.
    let achievement_id = ledger_achievement_id(&achievement)?;
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let key = context.keystore()?.load(&args.key, &crate::passphrase(false)?)?;
    let spec = ob3::credential::IssueSpec {
        achievement,
        issuer: key.public_key(),
        issuer_name: args.issuer_name.clone(),
        valid_from: match &args.valid_from {
            Some(text) => checked_date("--valid-from", text)?,
            None => now.clone(),
        },
        valid_until: args
            .valid_until
            .as_deref()
            .map(|text| checked_date("--valid-until", text))
            .transpose()?,
    };
    let started = std::time::Instant::now();
    let files = sign_credentials(args, &spec, &key, recipients, ledger_evidence, &now)?;
    let signed_s = started.elapsed().as_secs_f64();
    let issued: Vec<serde_json::Value> = recipients
        .iter()
        .zip(&files)
        .map(|(line, file)| json!({ "recipient": line.text, "credential": file }))
        .collect();
    if args.no_anchor {
        if print {
            context.print(json!({ "credentials": issued, "anchored": false, "sign_s": signed_s }), || {
                println!(
                    "signed {} in {} (not anchored)",
                    plural(files.len(), "credential"),
                    args.out_dir.display()
                );
            });
        }
        return Ok(None);
    }
    let batches = batch_assertions(&files)?;
    let ops: Vec<Op> = batches
        .iter()
        .map(|(batch, _)| achievement_anchor(batch.anchor_op(metadata_uri.clone()), &achievement_id))
        .collect();
    let inclusion = submit_and_wait_with(context, &args.key, Some(&key), ops).with_context(|| {
        format!(
            "the credentials are written in {} but not anchored; anchor them with `tally badge anchor`",
            args.out_dir.display()
        )
    })?;
    let written = write_receipts(&files, Some(&args.out_dir), &batches, &inclusion)?;
    let total_s = started.elapsed().as_secs_f64();
    if !print {
        return Ok(Some((inclusion, written)));
    }
    context.print(
        json!({
            "tx_id": inclusion.tx_id,
            "height": inclusion.height,
            "credentials": issued,
            "badges": written,
            "sign_s": signed_s,
            "total_s": total_s,
        }),
        || print_issued(args, recipients, &files, &inclusion, signed_s, total_s),
    );
    Ok(Some((inclusion, written)))
}

/// The achievement's `id` as the ledger takes it in an anchor (an absolute URI of at most 128
/// bytes): the error says why an id does not qualify, before anything is signed.
fn ledger_achievement_id(achievement: &serde_json::Value) -> anyhow::Result<AchievementId> {
    let id = achievement.get("id").and_then(serde_json::Value::as_str).unwrap_or_default();
    AchievementId::new(id).map_err(|error| {
        usage(format!(
            "{error}; the anchor names the achievement so that the ledger counts its badges: give the achievement a shorter id"
        ))
    })
}

/// An anchor of a batch whose badges are all for `achievement`.
fn achievement_anchor(anchor: AnchorBadges, achievement: &AchievementId) -> Op {
    let count = AchievementCount { achievement: achievement.clone(), count: anchor.leaf_count };
    Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor,
        achievements: BoundedVec::new(vec![count]).expect("one achievement is within the limit"),
    }))
}

fn print_issued(
    args: &IssueArgs,
    recipients: &[RecipientLine],
    files: &[PathBuf],
    inclusion: &TxInclusion,
    signed_s: f64,
    total_s: f64,
) {
    println!(
        "issued {} of {} and anchored them in transaction {} at height {} ({signed_s:.2} s signing, {total_s:.2} s in all)",
        plural(files.len(), "credential"),
        args.achievement,
        inclusion.tx_id,
        inclusion.height,
    );
    for (line, file) in recipients.iter().zip(files) {
        println!("  {}  ->  {}", line.text, file.display());
    }
}

/// Builds, signs and writes one credential per recipient into `--out-dir`; returns the files,
/// in recipient order.
fn sign_credentials(
    args: &IssueArgs,
    spec: &ob3::credential::IssueSpec,
    key: &tally_types::SecretKey,
    recipients: &[RecipientLine],
    ledger_evidence: &[Vec<serde_json::Value>],
    created: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::with_capacity(recipients.len());
    for (line, facts) in recipients.iter().zip(ledger_evidence) {
        let id = ob3::credential::random_urn_uuid()?;
        let salt = ob3::credential::random_salt()?;
        let narrative = line.narrative.as_ref().or(args.evidence_narrative.as_ref());
        let mut evidence = Vec::new();
        if narrative.is_some() || args.evidence_uri.is_some() {
            let mut item = json!({ "type": ["Evidence"] });
            if let Some(uri) = &args.evidence_uri {
                item["id"] = uri.clone().into();
            }
            if let Some(narrative) = narrative {
                item["narrative"] = narrative.clone().into();
            }
            evidence.push(item);
        }
        evidence.extend(facts.iter().cloned());
        let unsigned = ob3::credential::build(spec, &line.recipient, &id, &salt, &evidence);
        let signed = ob3::credential::sign(&unsigned, key, created)
            .map_err(|error| anyhow::anyhow!("signing the credential for {}: {error}", line.text))?;
        let path = args.out_dir.join(format!("{}.ob3.json", id.trim_start_matches("urn:uuid:")));
        let text = serde_json::to_string_pretty(&signed).context("writing a credential as JSON")?;
        std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// "1 badge", "3 badges".
pub(crate) fn badge_count(count: u64) -> String {
    if count == 1 { "1 badge".to_owned() } else { format!("{count} badges") }
}
