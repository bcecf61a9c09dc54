//! `tally price`: every provider's prices in one form (docs/ARCHITECTURE.md "Price plans").
//! Providers publish and retire plan versions; anyone lists and shows them, and quotes a
//! planned usage file under several plans at once, in each plan's asset and, through the
//! markets' last prices, in one asset of their choice.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tally_client::pricing::{self as plans, PlanVersion};
use tally_client::usage as usage_csv;
use tally_types::pricing::PlanRef;
use tally_types::tx::RetirePlan;
use tally_types::{AssetId, ItemName, MemberId, Op};

use crate::submit::{report_sent, send};
use crate::{Session, SubmitArgs, resolve_address, usage};

#[derive(Subcommand)]
pub(crate) enum PriceCommand {
    /// List plan versions, newest first: all, one provider's, or those that price an item.
    List {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        item: Option<String>,
    },
    /// Show one plan's versions: items, tiers, allowances and packs.
    Show { provider: String, plan: String },
    /// Publish a plan version from a JSON file (signed by one of your member's issuers).
    Publish {
        file: PathBuf,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Retire a plan version, PLAN@VERSION: no new agreement may name it.
    Retire {
        plan: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// What the calls of a planned usage file (call_id,time_ms,endpoint,item,units) cost under
    /// each plan: --plan PROVIDER/PLAN@VERSION (repeatable; default: every active plan that
    /// prices all the file's items).
    Quote {
        #[arg(long)]
        usage: PathBuf,
        #[arg(long = "plan")]
        plans: Vec<String>,
        /// Also show each cost in this asset, through the market's last price.
        #[arg(long = "in")]
        in_asset: Option<String>,
        /// Price from this holder's tier position (address or key name); default: a new one.
        #[arg(long)]
        holder: Option<String>,
    },
}

pub(crate) fn run(context: &Session, command: PriceCommand) -> anyhow::Result<()> {
    match command {
        PriceCommand::List { provider, item } => list(context, provider, item),
        PriceCommand::Show { provider, plan } => show(context, &provider, &plan),
        PriceCommand::Publish { file, submit } => {
            let plan = plans::read_plan_file(&file).map_err(|error| usage(error.to_string()))?;
            let reference = plan.reference();
            let sent = send(context, &submit, vec![Op::PublishPlan(Box::new(plan))])?;
            report_sent(context, &sent, "plan", json!({ "plan": reference.to_string() }), || {
                println!("plan {reference} published")
            })
        }
        PriceCommand::Retire { plan, submit } => {
            let plan: PlanRef = plan.parse().map_err(|error| usage(format!("plan: {error}")))?;
            let sent = send(context, &submit, vec![Op::RetirePlan(RetirePlan { plan: plan.clone() })])?;
            report_sent(context, &sent, "retirement", json!({ "plan": plan.to_string() }), || {
                println!("plan {plan} retired")
            })
        }
        PriceCommand::Quote { usage: path, plans: wanted, in_asset, holder } => {
            quote(context, &path, &wanted, in_asset.as_deref(), holder.as_deref())
        }
    }
}

fn list(context: &Session, provider: Option<String>, item: Option<String>) -> anyhow::Result<()> {
    let provider: Option<MemberId> = provider
        .map(|text| text.parse().map_err(|error| usage(format!("--provider: {error}"))))
        .transpose()?;
    let item: Option<ItemName> =
        item.map(|text| text.parse().map_err(|error| usage(format!("--item: {error}")))).transpose()?;
    let listing = plans::plans(&context.client()?, provider.as_ref(), item.as_ref())?;
    context.print(serde_json::to_value(&listing)?, || {
        for version in &listing.plans {
            let items: Vec<String> = version.plan.items.iter().map(|item| item.item.to_string()).collect();
            println!(
                "{}/{}@{}  {}  {}  {}  items: {}",
                version.member,
                version.plan_id,
                version.version,
                version.status,
                version.plan.asset,
                version.plan.title.as_str(),
                items.join(", ")
            );
        }
    });
    Ok(())
}

fn show(context: &Session, provider: &str, plan: &str) -> anyhow::Result<()> {
    let member: MemberId = provider.parse().map_err(|error| usage(format!("provider: {error}")))?;
    let plan_id: tally_types::PlanId = plan.parse().map_err(|error| usage(format!("plan: {error}")))?;
    let versions = plans::plan(&context.client()?, &member, &plan_id)?
        .ok_or_else(|| anyhow::anyhow!("{member} has published no plan {plan_id}"))?;
    context.print(serde_json::to_value(&versions)?, || {
        for version in &versions.versions {
            println!(
                "{}/{}@{} ({}): {} in {}",
                member,
                plan_id,
                version.version,
                version.status,
                version.plan.title.as_str(),
                version.plan.asset
            );
            for item in version.plan.items.iter() {
                let tiers: Vec<String> = item
                    .tiers
                    .iter()
                    .map(|tier| match tier.up_to {
                        Some(up_to) => format!("up to {up_to}: {}", tier.unit_price),
                        None => format!("beyond: {}", tier.unit_price),
                    })
                    .collect();
                println!("  {}  {} free per hold; {}", item.item, item.included_per_hold, tiers.join("; "));
            }
            for pack in version.plan.packs.iter() {
                println!("  pack {}: {} minor units for {}", pack.name, pack.credits, pack.price);
            }
        }
    });
    Ok(())
}

/// One quote as the JSON `tally price quote` prints: the plan's total in its asset and, when
/// asked, in `target` (of `target_scale`); or why the plan cannot price the usage.
fn quote_row(
    client: &tally_client::http::NodeClient,
    quote: plans::Quote,
    target: Option<&AssetId>,
    target_scale: Option<u8>,
) -> anyhow::Result<serde_json::Value> {
    let name = format!("{}/{}", quote.member, quote.plan);
    let charge = match quote.charge {
        Ok(charge) => charge,
        Err(error) => return Ok(json!({ "plan": name, "error": error.to_string() })),
    };
    let scale = client.asset(&quote.asset).with_context(|| format!("asset {}", quote.asset))?.scale;
    let converted = quote.converted.zip(target_scale).map(|(amount, scale)| (amount.display(scale), amount));
    Ok(json!({
        "plan": name,
        "asset": quote.asset,
        "total": charge.total.display(scale),
        "total_minor": charge.total,
        "lines": charge.lines,
        "in": target,
        "converted": converted.as_ref().map(|(text, _)| text),
        "converted_minor": converted.map(|(_, amount)| amount),
    }))
}

/// The plans a quote compares: those named (`member/plan@version`), or every active plan that
/// prices every item of the usage.
fn candidates(context: &Session, wanted: &[String], items: &[ItemName]) -> anyhow::Result<Vec<PlanVersion>> {
    let client = context.client()?;
    if wanted.is_empty() {
        return Ok(plans::plans_pricing(&client, items)?);
    }
    wanted
        .iter()
        .map(|text| {
            let (member, plan) = text.split_once('/').ok_or_else(|| {
                usage(format!("--plan `{text}` must be PROVIDER/PLAN@VERSION, e.g. acme/standard@1"))
            })?;
            let member: MemberId = member.parse().map_err(|error| usage(format!("--plan: {error}")))?;
            let plan: PlanRef = plan.parse().map_err(|error| usage(format!("--plan: {error}")))?;
            plans::plan_version(&client, &member, &plan)?
                .ok_or_else(|| anyhow::anyhow!("{member} has no plan {plan}"))
        })
        .collect()
}

fn quote(
    context: &Session,
    path: &std::path::Path,
    wanted: &[String],
    in_asset: Option<&str>,
    holder: Option<&str>,
) -> anyhow::Result<()> {
    let batch = usage_csv::read_planned_usage(path)
        .map_err(|error| usage(format!("--usage {}: {error}", path.display())))?;
    let items: Vec<ItemName> = batch.lines.iter().map(|line| line.item.clone()).collect();
    let target: Option<AssetId> =
        in_asset.map(|text| text.parse().map_err(|error| usage(format!("--in: {error}")))).transpose()?;
    let holder = holder.map(|text| resolve_address(context, text, "--holder")).transpose()?;
    let client = context.client()?;
    let candidates = candidates(context, wanted, &items)?;
    let quotes = plans::quote(&client, &candidates, &batch.lines, holder.as_ref(), target.as_ref())?;
    let target_scale = match &target {
        Some(target) => Some(client.asset(target).with_context(|| format!("asset {target}"))?.scale),
        None => None,
    };
    let mut rows = Vec::new();
    for quote in quotes {
        rows.push(quote_row(&client, quote, target.as_ref(), target_scale)?);
    }
    let answer = json!({ "calls": batch.rows.len(), "lines": batch.lines, "quotes": rows });
    context.print(answer.clone(), || {
        let lines: Vec<String> =
            batch.lines.iter().map(|line| format!("{} × {}", line.units, line.item)).collect();
        println!("{} calls: {}", batch.rows.len(), lines.join(", "));
        for row in answer["quotes"].as_array().into_iter().flatten() {
            match row["error"].as_str() {
                Some(error) => {
                    println!("  {}: cannot price: {error}", row["plan"].as_str().unwrap_or_default())
                }
                None => {
                    let converted = match (row["converted"].as_str(), row["in"].as_str()) {
                        (Some(amount), Some(asset)) => format!("  ≈ {amount} {asset}"),
                        (None, Some(asset)) => format!("  (no {asset} market price)"),
                        _ => String::new(),
                    };
                    println!(
                        "  {}: {} {}{converted}",
                        row["plan"].as_str().unwrap_or_default(),
                        row["total"].as_str().unwrap_or_default(),
                        row["asset"].as_str().unwrap_or_default()
                    );
                }
            }
        }
    });
    Ok(())
}
