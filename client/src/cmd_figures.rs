//! `tally badge figures [--member M] [--genesis G]`: the community figures, per member and
//! achievement the badges anchored by `AnchorAchievements` and the batches that named it
//! (`GET /v1/badges/figures`). With `--genesis`, each entry is proven by a state proof under
//! a finalized header whose certificate is checked from the genesis file, as `tally verify
//! state` does, and the proven values are printed instead of the listed ones.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use tally_client::http::BadgeFiguresRow;
use tally_client::proofs::{Interest, finalized_block};
use tally_ledger::{StateKey, StateValue};
use tally_types::MemberId;

use crate::cmd_verify::{Trusted, finality_json, open_source};
use crate::{Session, usage};

#[derive(Args)]
pub struct FiguresArgs {
    /// Only this member's figures.
    #[arg(long)]
    member: Option<String>,
    /// Prove each entry from this genesis file (state proofs under a finalized header).
    #[arg(long)]
    genesis: Option<PathBuf>,
}

pub fn figures(context: &Session, args: FiguresArgs) -> anyhow::Result<()> {
    let member = args
        .member
        .as_deref()
        .map(|text| MemberId::new(text).map_err(|error| usage(format!("--member: {error}"))))
        .transpose()?;
    let client = context.client()?;
    let listed = client
        .badge_figures(member.as_ref())
        .with_context(|| format!("asking {} for the badge figures", context.node))?;
    let mut rows = listed.figures.clone();
    let mut proven = None;
    if let Some(genesis) = args.genesis {
        let (rows_proven, finality) = prove_rows(context, genesis, &rows)?;
        rows = rows_proven;
        proven = Some(finality);
    }
    let json_rows: Vec<_> = rows
        .iter()
        .map(|row| {
            json!({
                "member": row.member,
                "achievement": row.achievement,
                "anchored": row.anchored,
                "batches": row.batches,
                "first_height": row.first_height,
                "last_height": row.last_height,
                "key_hex": row.key_hex,
            })
        })
        .collect();
    context.print(
        json!({
            "height": listed.height,
            "member": listed.member,
            "figures": json_rows,
            "truncated": listed.truncated,
            "proven": proven,
        }),
        || print_table(listed.height.0, &rows, listed.truncated, proven.as_ref()),
    );
    Ok(())
}

/// Proves every row's entry from `genesis`: returns the rows with their proven values and the
/// finality of the highest header the proofs were checked under.
fn prove_rows(
    context: &Session,
    genesis: PathBuf,
    rows: &[BadgeFiguresRow],
) -> anyhow::Result<(Vec<BadgeFiguresRow>, serde_json::Value)> {
    let trusted = Trusted { genesis, archive: None };
    let (trust, mut source) = open_source(context, &trusted, &Interest::default())?;
    let mut proven = Vec::with_capacity(rows.len());
    let mut finality = serde_json::Value::Null;
    for row in rows {
        let key = StateKey::BadgeFigures { member: row.member.clone(), achievement: row.achievement.clone() };
        if hex::encode(key.to_bytes()) != row.key_hex {
            bail!("the node lists the figures of {} for {} under another key", row.member, row.achievement);
        }
        let evidence = source.state(&key)?;
        let (_, finalized) = finalized_block(source.as_mut(), &trust, evidence.height)
            .with_context(|| format!("the header at height {} is not shown final", evidence.height))?;
        let value = evidence.entry.verify(&finalized.header.state_root, &key).with_context(|| {
            format!("the state proof of {key:?} does not verify against block {}", finalized.header.height)
        })?;
        let Some(StateValue::BadgeFigures(figures)) = value else {
            bail!(
                "the node lists figures of {} for {} that its state proof says are absent",
                row.member,
                row.achievement
            );
        };
        // Figures only grow: a later proof may show more, never less.
        if figures.anchored < row.anchored || figures.batches < row.batches {
            bail!(
                "the node lists {} badges in {} batches for {} of {}, but proves {} in {}",
                row.anchored,
                row.batches,
                row.achievement,
                row.member,
                figures.anchored,
                figures.batches
            );
        }
        proven.push(BadgeFiguresRow {
            anchored: figures.anchored,
            batches: figures.batches,
            first_height: figures.first_height,
            last_height: figures.last_height,
            ..row.clone()
        });
        finality = finality_json(&finalized);
    }
    Ok((proven, finality))
}

fn print_table(height: u64, rows: &[BadgeFiguresRow], truncated: bool, proven: Option<&serde_json::Value>) {
    match proven {
        Some(finality) if !finality.is_null() => println!(
            "badge figures, each proven under the state root of finalized block {}",
            finality["height"]
        ),
        _ => println!("badge figures at height {height} (as the node reports them; --genesis proves them)"),
    }
    if rows.is_empty() {
        println!("  no anchor has named an achievement yet");
        return;
    }
    let width =
        rows.iter().map(|row| row.achievement.as_str().len()).max().unwrap_or(0).max("achievement".len());
    let member_width =
        rows.iter().map(|row| row.member.as_str().len()).max().unwrap_or(0).max("member".len());
    println!(
        "  {:<member_width$}  {:<width$}  {:>8}  {:>7}  {:>7}  {:>7}",
        "member", "achievement", "anchored", "batches", "first", "last"
    );
    for row in rows {
        println!(
            "  {:<member_width$}  {:<width$}  {:>8}  {:>7}  {:>7}  {:>7}",
            row.member.as_str(),
            row.achievement.as_str(),
            row.anchored,
            row.batches,
            row.first_height.0,
            row.last_height.0
        );
    }
    if truncated {
        println!("  (the node listed only the first 10,000 entries; ask for one --member)");
    }
}
