//! `tally badge award --rule FILE` (docs/ARCHITECTURE.md "Ledger facts"), and the gathering of
//! ledger facts `tally badge issue` uses for an achievement with a rule.
//!
//! A rule file names an achievements file (relative to the rule file) and one achievement in it
//! that carries a `tallyRule`. An award run scans the committed blocks from where the last run
//! stopped to the tip for accounts the rule could newly hold for (holders of settlements by the
//! provider, recipients of its reward grants, recipients of grants and market proceeds in the
//! asset), checks each with proofs against finalized headers ([`facts::gather_facts`]), and
//! issues and anchors the credentials of those who meet it in one batch.
//!
//! Progress is kept in a file (`OUT_DIR/award-progress.json` by default): the height scanned to
//! and, per account, the badge awarded (its hash and batch root). Nothing is awarded twice: an
//! account the file lists is skipped only while the ledger shows the anchor of its badge (a
//! state proof of the batch root, by this member); one whose anchor is not on the ledger (a run
//! that stopped between writing and committing) is awarded again. The file is written, by
//! rename, before the anchor is submitted and again after it commits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tally_client::ob3::credential::Recipient;
use tally_client::proofs::facts::{self, LedgerRule};
use tally_client::proofs::{ChainSource, NodeSource, Trust};
use tally_genesis::Genesis;
use tally_ledger::StateValue;
use tally_ledger::state::HoldState;
use tally_types::tx::{GrantKind, Op};
use tally_types::{Hash, Height, PublicKey, TxId};

use crate::cmd_badge::{IssueArgs, RecipientLine, find_achievement, issue_signed, read_bounded};
use crate::{Session, usage};

/// The most pages of an account's history read for its reward grants (100 per page).
const HISTORY_PAGES_MAX: usize = 100;
/// The most blocks one award run scans; a later run goes on from there.
const SCAN_BLOCKS_MAX_DEFAULT: u64 = 100_000;

#[derive(Args)]
pub struct AwardArgs {
    /// The rule file: `{"achievements": "achievements.json", "achievement": "ID"}`.
    #[arg(long)]
    rule: PathBuf,
    /// The issuer key's name in the keystore (an issuer of the rule's member).
    #[arg(long = "from", visible_alias = "key")]
    key: String,
    /// The genesis file: the proofs of each candidate's facts are checked from it.
    #[arg(long)]
    genesis: PathBuf,
    /// Where to write the credentials, their receipts and (by default) the progress file.
    #[arg(long)]
    out_dir: PathBuf,
    /// The progress file (default: OUT_DIR/award-progress.json).
    #[arg(long)]
    progress: Option<PathBuf>,
    /// Scan from this height instead of where the progress file stopped (or 1).
    #[arg(long)]
    from_height: Option<u64>,
    /// The most blocks scanned in this run.
    #[arg(long, default_value_t = SCAN_BLOCKS_MAX_DEFAULT)]
    max_blocks: u64,
    /// The issuer's name in each credential's issuer profile.
    #[arg(long)]
    issuer_name: Option<String>,
    /// End of validity, RFC 3339 (default: none).
    #[arg(long)]
    valid_until: Option<String>,
}

/// What a rule file says.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    achievements: PathBuf,
    achievement: String,
}

/// One account's award, as the progress file keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Awarded {
    badge_hash: Hash,
    root: Hash,
    credential: PathBuf,
}

/// The progress file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Progress {
    achievement: String,
    /// The last height scanned (0: none).
    scanned_to: Height,
    /// By account address.
    awarded: BTreeMap<String, Awarded>,
    /// Accounts found meeting the rule whose anchor is not yet known to have committed.
    #[serde(default)]
    pending: BTreeSet<String>,
}

fn load_progress(path: &Path, achievement: &str) -> anyhow::Result<Progress> {
    if !path.exists() {
        return Ok(Progress { achievement: achievement.to_owned(), ..Progress::default() });
    }
    let bytes = read_bounded(path, 256 * 1024 * 1024, "progress file")?;
    let progress: Progress = serde_json::from_slice(&bytes)
        .map_err(|error| usage(format!("{}: not an award progress file: {error}", path.display())))?;
    if progress.achievement != achievement {
        bail!(
            "{} records awards of {}, not {achievement}: give another --progress file",
            path.display(),
            progress.achievement
        );
    }
    Ok(progress)
}

/// Writes the progress file whole, by rename, so a crash leaves the old or the new one.
fn save_progress(path: &Path, progress: &Progress) -> anyhow::Result<()> {
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(progress).context("encoding the progress file")?;
    std::fs::write(&temporary, text + "\n").with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming onto {}", path.display()))
}

/// A node source whose chain is the genesis file's, and the trust in it with every epoch
/// proven from the genesis set.
pub(crate) fn node_source(context: &Session, genesis: &Path) -> anyhow::Result<(NodeSource, Trust)> {
    let genesis =
        Genesis::load(genesis).with_context(|| format!("reading the genesis file {}", genesis.display()))?;
    let client = context.client()?;
    let status = client.status().with_context(|| format!("asking {} for its status", context.node))?;
    if &status.chain_id != genesis.chain_id() {
        bail!(
            "node {} serves chain `{}`, but the genesis file is for chain `{}`",
            context.node,
            status.chain_id,
            genesis.chain_id()
        );
    }
    let source = NodeSource::new(client);
    let mut trust = Trust::from_genesis(&genesis);
    let steps = source.epochs().context("reading the node's chain of epochs (GET /v1/epochs)")?;
    trust.follow_epochs(&steps).context("following the epochs from the genesis file")?;
    Ok((source, trust))
}

/// The holder's transactions, newest first, from the node's account history (for finding its
/// reward grants).
fn history_txs(context: &Session, holder: &PublicKey) -> anyhow::Result<Vec<TxId>> {
    let client = context.client()?;
    let mut txs = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..HISTORY_PAGES_MAX {
        let mut path = format!("/v1/accounts/{}/history?limit=100", holder.to_address());
        if let Some(cursor) = &before {
            path.push_str(&format!("&before={cursor}"));
        }
        let page = client.get_json(&path).with_context(|| format!("reading {path}"))?;
        for entry in page["txs"].as_array().into_iter().flatten() {
            if let Some(id) = entry["tx_id"].as_str().and_then(|text| text.parse().ok()) {
                txs.push(id);
            }
        }
        match page["next"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(txs)
}

/// The facts showing `holder` meets `rule`, or why not.
fn facts_of(
    context: &Session,
    source: &mut NodeSource,
    trust: &Trust,
    rule: &LedgerRule,
    holder: PublicKey,
) -> anyhow::Result<Result<Vec<facts::Fact>, String>> {
    let candidates = if rule.is_attestation() { history_txs(context, &holder)? } else { Vec::new() };
    Ok(facts::gather_facts(source, trust, rule, holder, &candidates))
}

/// The evidence entries of every recipient of an issue run with `rule`: each must be an
/// account that meets it; the error lists every one that does not.
pub(crate) fn evidence_for_all(
    context: &Session,
    genesis: &Path,
    rule: &LedgerRule,
    recipients: &[(&str, &Recipient)],
) -> anyhow::Result<Vec<Vec<serde_json::Value>>> {
    let (mut source, trust) = node_source(context, genesis)?;
    let mut evidence = Vec::with_capacity(recipients.len());
    let mut refused = Vec::new();
    for (text, recipient) in recipients {
        let Recipient::Account(holder) = recipient else {
            refused.push(format!("{text}: a ledger rule is proven for an account, not an email address"));
            continue;
        };
        match facts_of(context, &mut source, &trust, rule, *holder)? {
            Ok(found) => evidence
                .push(found.iter().map(|fact| fact.to_evidence(&trust.chain_id, rule, holder)).collect()),
            Err(reason) => refused.push(format!("{text}: {reason}")),
        }
    }
    if !refused.is_empty() {
        return Err(usage(format!(
            "{} of {} recipients do not meet the rule ({}):\n  {}",
            refused.len(),
            recipients.len(),
            rule.describe(),
            refused.join("\n  ")
        )));
    }
    Ok(evidence)
}

/// The accounts the ops of blocks `from..=to` could newly qualify for `rule`.
fn scan_candidates(
    source: &mut NodeSource,
    rule: &LedgerRule,
    from: Height,
    to: Height,
) -> anyhow::Result<BTreeSet<PublicKey>> {
    let mut candidates = BTreeSet::new();
    let mut height = from;
    while height <= to {
        let block = source
            .block(height)
            .with_context(|| format!("reading block {height}"))?
            .ok_or_else(|| anyhow::anyhow!("the node has no block at height {height}, below its tip {to}"))?;
        for signed in block.txs.iter() {
            for op in signed.tx.ops.iter() {
                candidates_of_op(source, rule, signed, op, &mut candidates)?;
            }
        }
        height = height.next();
    }
    Ok(candidates)
}

/// Adds the accounts one op could newly qualify for `rule` (whether the op succeeded is left
/// to the proofs each candidate is then checked with).
fn candidates_of_op(
    source: &mut NodeSource,
    rule: &LedgerRule,
    signed: &tally_types::SignedTransaction,
    op: &Op,
    candidates: &mut BTreeSet<PublicKey>,
) -> anyhow::Result<()> {
    match (rule, op) {
        (
            LedgerRule::ApiCalls { provider, .. }
            | LedgerRule::Spend { provider, .. }
            | LedgerRule::Applications { provider, .. },
            Op::Settle(_) | Op::SettleApp(_),
        ) => {
            let hold_id = match op {
                Op::Settle(settle) => settle.hold_id,
                Op::SettleApp(settle) => settle.settle.hold_id,
                _ => unreachable!("matched above"),
            };
            let key = tally_ledger::StateKey::Hold { hold_id };
            let evidence = source.state(&key).with_context(|| format!("reading hold {hold_id}"))?;
            let bytes = evidence.entry.value.as_deref().map(hex::decode).transpose().ok().flatten();
            if let Some(Ok(StateValue::Hold(HoldState { holder, member, .. }))) =
                bytes.map(|bytes| StateValue::from_bytes(&bytes))
                && &member == provider
            {
                candidates.insert(holder);
            }
        }
        (LedgerRule::Contributions { provider, .. }, Op::Grant(grant))
            if grant.kind == GrantKind::Reward && &grant.asset.issuer == provider =>
        {
            candidates.insert(grant.to);
        }
        (LedgerRule::Revenue { asset, .. }, Op::Grant(grant)) if &grant.asset == asset => {
            candidates.insert(grant.to);
        }
        (LedgerRule::Revenue { asset, .. }, Op::PlaceOffer(place))
            if &place.buy == asset || &place.sell == asset =>
        {
            if &place.buy == asset {
                candidates.insert(signed.tx.signer);
            }
            // Makers selling into this offer received its sell asset.
            if &place.sell == asset
                && let Some(evidence) = source.tx(&signed.id())?
            {
                candidates.extend(evidence.receipt.fills.iter().map(|fill| fill.maker));
            }
        }
        _ => {}
    }
    Ok(())
}

/// True when the ledger shows the anchor of `awarded`'s batch, by `member` (a state proof is
/// not needed to decide whether to issue again: a node that withholds the anchor makes the run
/// issue a duplicate, never skip a holder).
fn anchored_on_ledger(
    source: &mut NodeSource,
    awarded: &Awarded,
    member: &tally_types::MemberId,
) -> anyhow::Result<bool> {
    let evidence = source.badge(&awarded.badge_hash, &awarded.root)?;
    let Some(bytes) = evidence.anchor.value.as_deref() else { return Ok(false) };
    let bytes = hex::decode(bytes).context("the anchor entry is not hex")?;
    Ok(
        matches!(StateValue::from_bytes(&bytes), Ok(StateValue::BadgeAnchor(anchor)) if &anchor.member == member),
    )
}

// Not split: one run, resumable at each stage, reading as the module header describes it.
pub(crate) fn award(context: &Session, args: AwardArgs) -> anyhow::Result<()> {
    let rule_bytes = read_bounded(&args.rule, 64 * 1024, "rule file")?;
    let rule_file: RuleFile = serde_json::from_slice(&rule_bytes)
        .map_err(|error| usage(format!("{}: not a rule file: {error}", args.rule.display())))?;
    let achievements = args.rule.parent().unwrap_or(Path::new(".")).join(&rule_file.achievements);
    let (achievement, rule) = find_achievement(&achievements, &rule_file.achievement)?;
    let rule = rule.ok_or_else(|| {
        usage(format!(
            "achievement {} in {} carries no tallyRule",
            rule_file.achievement,
            achievements.display()
        ))
    })?;
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let progress_path = args.progress.clone().unwrap_or_else(|| args.out_dir.join("award-progress.json"));
    let mut progress = load_progress(&progress_path, &rule_file.achievement)?;
    let (mut source, trust) = node_source(context, &args.genesis)?;
    let key = context.keystore()?.load(&args.key, &crate::passphrase(false)?)?;
    let issuer_key = tally_ledger::StateKey::Issuer { account: key.public_key() };
    let issuer = source.state(&issuer_key).context("reading the key's issuer entry")?;
    let member = match issuer.entry.value.as_deref().map(hex::decode) {
        Some(Ok(bytes)) => match StateValue::from_bytes(&bytes) {
            Ok(StateValue::Issuer(issuer)) => issuer.member,
            _ => bail!("the node's issuer entry for key {} does not decode", args.key),
        },
        _ => return Err(usage(format!("key {} is not an issuer of any member", args.key))),
    };

    let tip = context.client()?.status()?.committed_height;
    let from = args.from_height.map(Height).unwrap_or(progress.scanned_to.next()).max(Height(1));
    let to = Height(tip.0.min(from.0.saturating_add(args.max_blocks).saturating_sub(1)));
    let mut candidates =
        if from <= to { scan_candidates(&mut source, &rule, from, to)? } else { BTreeSet::new() };
    for address in &progress.pending {
        candidates
            .insert(PublicKey::from_address(address).map_err(|error| usage(format!("{address}: {error}")))?);
    }
    let mut recipients = Vec::new();
    let mut evidence = Vec::new();
    let mut skipped = 0usize;
    for holder in candidates {
        let address = holder.to_address();
        if let Some(awarded) = progress.awarded.get(&address)
            && anchored_on_ledger(&mut source, awarded, &member)?
        {
            skipped += 1;
            continue;
        }
        if let Ok(found) = facts_of(context, &mut source, &trust, &rule, holder)? {
            evidence
                .push(found.iter().map(|fact| fact.to_evidence(&trust.chain_id, &rule, &holder)).collect());
            recipients.push(RecipientLine {
                text: address,
                recipient: Recipient::Account(holder),
                narrative: None,
            });
        }
    }
    progress.pending = recipients.iter().map(|line| line.text.clone()).collect();
    save_progress(&progress_path, &progress)?;
    let mut awarded_now = Vec::new();
    if !recipients.is_empty() {
        let issue_args = IssueArgs {
            achievements: achievements.clone(),
            achievement: rule_file.achievement.clone(),
            recipients: Vec::new(),
            recipients_file: None,
            key: args.key.clone(),
            issuer_name: args.issuer_name.clone(),
            valid_from: None,
            valid_until: args.valid_until.clone(),
            evidence_uri: None,
            evidence_narrative: None,
            out_dir: args.out_dir.clone(),
            metadata_uri: None,
            no_anchor: false,
            genesis: Some(args.genesis.clone()),
        };
        let (_, written) = issue_signed(context, &issue_args, achievement, &recipients, &evidence, false)?
            .expect("an anchored run returns its anchor");
        for (line, entry) in recipients.iter().zip(&written) {
            let parse = |name: &str| -> anyhow::Result<Hash> {
                entry[name].as_str().and_then(|text| text.parse().ok()).context("a written receipt entry")
            };
            let record = Awarded {
                badge_hash: parse("badge_hash")?,
                root: parse("root")?,
                credential: PathBuf::from(entry["assertion"].as_str().unwrap_or_default()),
            };
            progress.awarded.insert(line.text.clone(), record);
            awarded_now.push(json!({ "account": line.text, "credential": entry["assertion"], "receipt": entry["receipt"] }));
        }
    }
    progress.pending.clear();
    progress.scanned_to = progress.scanned_to.max(to);
    save_progress(&progress_path, &progress)?;
    context.print(
        json!({
            "achievement": rule_file.achievement,
            "rule": rule,
            "scanned": { "from": from, "to": to },
            "awarded": awarded_now,
            "already_awarded": skipped,
            "progress": progress_path,
        }),
        || {
            println!(
                "{}: scanned heights {from}..={to}; awarded {} ({} already held it on the ledger)",
                rule_file.achievement,
                crate::cmd_badge::badge_count(awarded_now.len() as u64),
                skipped
            );
            for entry in &awarded_now {
                println!(
                    "  {}  ->  {}",
                    entry["account"].as_str().unwrap_or(""),
                    entry["credential"].as_str().unwrap_or("")
                );
            }
        },
    );
    Ok(())
}
