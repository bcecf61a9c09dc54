//! `tally spend authorize`, `tally hold`, `tally settle`, `tally void`: metered usage from the
//! command line, as an API gateway runs it (docs/ARCHITECTURE.md "Ledger").
//!
//! `settle` reads the gateway's usage CSV (format and usage root: `tally_client::usage`),
//! checks the total against the hold, and refuses a batch id the provider already used before
//! any transaction is built, so a retried settle never costs a seq; the ledger refuses a
//! repeated batch id too (`duplicate_batch_id`) for the case where two settles race.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tally_client::{market, pricing, txbuild, usage as usage_csv};
use tally_types::{Amount, AssetId, BoundedVec, MemberId, Op, OpId};

use crate::submit::{report_sent, send};
use crate::{Session, SubmitArgs, resolve_address, usage};

#[derive(Subcommand)]
pub(crate) enum SpendCommand {
    /// Let a provider hold and settle up to CAP of an asset of yours (a cap of 0 withdraws).
    Authorize(AuthorizeArgs),
}

#[derive(Args)]
pub(crate) struct AuthorizeArgs {
    /// The provider (member id), e.g. globex.
    #[arg(long)]
    provider: String,
    #[arg(long)]
    asset: String,
    /// Human units of --asset.
    #[arg(long)]
    cap: String,
    /// When the authorization ends: a duration (30d, 12h), an RFC 3339 time, or unix ms.
    #[arg(long)]
    expires: String,
    /// The provider's price plan version you agree to, PLAN@VERSION (e.g. standard@1): its
    /// holds then settle only at the amounts the plan gives for their usage.
    #[arg(long)]
    plan: Option<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Args)]
pub(crate) struct HoldArgs {
    /// The account whose credits are held (address or key name).
    #[arg(long)]
    holder: String,
    #[arg(long)]
    asset: String,
    /// Human units of --asset.
    #[arg(long)]
    amount: String,
    /// When the hold is released if not settled: a duration, an RFC 3339 time, or unix ms.
    #[arg(long)]
    expires: String,
    /// The hold id (32 hex); random when absent.
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Args)]
pub(crate) struct SettleArgs {
    /// The hold id.
    #[arg(long)]
    hold: String,
    /// The settlement batch id (32 hex or a UUID); unique forever for your member.
    #[arg(long)]
    batch: String,
    /// The usage CSV: header `call_id,time_ms,endpoint,units,amount` for a hold without a
    /// price plan, `call_id,time_ms,endpoint,item,units` for one under a plan (the plan prices
    /// the calls).
    #[arg(long)]
    usage: PathBuf,
    /// For a hold under a plan: the amount your own billing computed, submitted instead of the
    /// plan's charge. The ledger prices the lines itself and refuses any other amount
    /// (settle_amount_mismatch), so a gateway's figures are checked, not trusted.
    #[arg(long)]
    amount: Option<String>,
    /// The holder's application the usage was for (e.g. `weather-bot`): the settlement is sent
    /// as SettleApp and the ledger counts the holder's distinct applications with you.
    #[arg(long)]
    app: Option<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

/// `op` (a Settle) as a SettleApp naming `--app`, when given.
fn with_app(op: Op, app: Option<&str>) -> anyhow::Result<Op> {
    let Some(app) = app else { return Ok(op) };
    let app = tally_types::AppId::new(app).map_err(|error| usage(format!("--app: {error}")))?;
    match op {
        Op::Settle(settle) => Ok(Op::SettleApp(Box::new(tally_types::tx::SettleApp { settle, app }))),
        other => Ok(other),
    }
}

#[derive(Args)]
pub(crate) struct VoidArgs {
    /// The hold id.
    hold: String,
    #[command(flatten)]
    submit: SubmitArgs,
}

fn now_ms() -> anyhow::Result<u64> {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?;
    u64::try_from(elapsed.as_millis()).context("the clock is beyond year 500 million")
}

fn parse_id(text: &str, flag: &str) -> anyhow::Result<OpId> {
    text.parse().map_err(|error| usage(format!("{flag}: {error}")))
}

fn asset_scale(session: &Session, text: &str) -> anyhow::Result<(AssetId, u8)> {
    let asset: AssetId = text.parse().map_err(|error| usage(format!("--asset: {error}")))?;
    let info = session.client()?.asset(&asset).with_context(|| format!("looking up asset {asset}"))?;
    Ok((asset, info.scale))
}

pub(crate) fn authorize(context: &Session, command: SpendCommand) -> anyhow::Result<()> {
    let SpendCommand::Authorize(args) = command;
    let provider: MemberId = args.provider.parse().map_err(|error| usage(format!("--provider: {error}")))?;
    let (asset, scale) = asset_scale(context, &args.asset)?;
    let cap = Amount::parse(&args.cap, scale).map_err(|error| usage(format!("--cap: {error}")))?;
    let expires_at_ms = txbuild::parse_expiry(&args.expires, now_ms()?)
        .map_err(|error| usage(format!("--expires: {error}")))?;
    let plan: Option<tally_types::pricing::PlanRef> = match &args.plan {
        Some(text) => Some(text.parse().map_err(|error| usage(format!("--plan: {error}")))?),
        None => None,
    };
    let op = txbuild::authorize_spend_op(provider.clone(), asset.clone(), cap, expires_at_ms, plan.clone());
    let sent = send(context, &args.submit, vec![op])?;
    let extra = json!({
        "provider": provider,
        "asset": asset,
        "cap": cap.display(scale),
        "cap_minor": cap,
        "expires_at_ms": expires_at_ms,
        "plan": plan.as_ref().map(ToString::to_string),
    });
    report_sent(context, &sent, "authorization", extra, || {
        let under = plan.as_ref().map(|plan| format!(", charged by plan {plan}")).unwrap_or_default();
        println!("{provider} may hold up to {} {asset} until {expires_at_ms} ms{under}", cap.display(scale))
    })
}

pub(crate) fn hold(context: &Session, args: HoldArgs) -> anyhow::Result<()> {
    let holder = resolve_address(context, &args.holder, "--holder")?;
    let (asset, scale) = asset_scale(context, &args.asset)?;
    let amount = txbuild::parse_positive_amount(&args.amount, scale)
        .map_err(|error| usage(format!("--amount: {error}")))?;
    let expires_at_ms = txbuild::parse_expiry(&args.expires, now_ms()?)
        .map_err(|error| usage(format!("--expires: {error}")))?;
    let hold_id = match &args.id {
        Some(text) => parse_id(text, "--id")?,
        None => txbuild::random_op_id()?,
    };
    let op = txbuild::hold_op(hold_id, holder, asset.clone(), amount, expires_at_ms);
    let sent = send(context, &args.submit, vec![op])?;
    let extra = json!({
        "hold_id": hold_id,
        "holder": holder.to_address(),
        "asset": asset,
        "amount": amount.display(scale),
        "amount_minor": amount,
        "expires_at_ms": expires_at_ms,
    });
    report_sent(context, &sent, "hold", extra, || {
        println!("hold {hold_id}: {} {asset} of {}", amount.display(scale), holder.to_address())
    })
}

pub(crate) fn settle(context: &Session, args: SettleArgs) -> anyhow::Result<()> {
    let client = context.client()?;
    let hold_id = parse_id(&args.hold, "--hold")?;
    let batch_id = parse_id(&args.batch, "--batch")?;
    let hold = market::hold(&client, &hold_id)?
        .ok_or_else(|| anyhow::anyhow!("no hold {hold_id} on the node; nothing was submitted"))?;
    // Checked before anything is built: a repeated batch id must cost nothing.
    if let Some(used) = market::batch(&client, &hold.member, &batch_id)? {
        bail!(
            "batch {batch_id} was already settled by {} at height {} (hold {}, {} {}, usage root {}); a batch settles once, so nothing was submitted",
            used.member,
            used.height,
            used.hold_id,
            used.amount.as_deref().unwrap_or("?"),
            used.asset.as_ref().map(ToString::to_string).unwrap_or_default(),
            used.usage_root
        );
    }
    if hold.status != "open" {
        bail!("hold {hold_id} is {}, not open; nothing was submitted", hold.status);
    }
    let scale = client.asset(&hold.asset).with_context(|| format!("looking up asset {}", hold.asset))?.scale;
    if let Some(plan) = hold.plan.clone() {
        return settle_planned(context, &args, &hold, &plan, batch_id, scale);
    }
    if args.amount.is_some() {
        return Err(usage(format!(
            "--amount: hold {hold_id} is under no price plan, so the usage file's amounts are the charge; nothing was submitted"
        )));
    }
    let batch = usage_csv::read_usage(&args.usage, scale)
        .map_err(|error| usage(format!("--usage {}: {error}", args.usage.display())))?;
    if batch.total > hold.amount_minor {
        bail!(
            "the usage totals {} {}, more than the {} held by hold {hold_id}; nothing was submitted",
            batch.total.display(scale),
            hold.asset,
            hold.amount
        );
    }
    let op = txbuild::settle_op(hold_id, batch_id, batch.total, batch.usage_root, BoundedVec::empty());
    let op = with_app(op, args.app.as_deref())?;
    let sent = send(context, &args.submit, vec![op])?;
    let released = hold.amount_minor.checked_sub(batch.total).unwrap_or(Amount::ZERO);
    let extra = json!({
        "hold_id": hold_id,
        "batch_id": batch_id,
        "member": hold.member,
        "asset": hold.asset,
        "calls": batch.rows.len(),
        "total": batch.total.display(scale),
        "total_minor": batch.total,
        "released": released.display(scale),
        "released_minor": released,
        "usage_root": batch.usage_root,
    });
    report_sent(context, &sent, "settlement", extra, || {
        println!(
            "batch {batch_id}: {} calls, {} {} captured from hold {hold_id}, {} released; usage root {}",
            batch.rows.len(),
            batch.total.display(scale),
            hold.asset,
            released.display(scale),
            batch.usage_root
        )
    })
}

/// A settlement of a hold under a price plan: the planned CSV gives the usage lines, the plan
/// and the holder's tier position give the amount (the one the ledger accepts).
fn settle_planned(
    context: &Session,
    args: &SettleArgs,
    hold: &market::HoldInfo,
    plan: &tally_types::pricing::PlanRef,
    batch_id: OpId,
    scale: u8,
) -> anyhow::Result<()> {
    let client = context.client()?;
    let batch = usage_csv::read_planned_usage(&args.usage)
        .map_err(|error| usage(format!("--usage {}: {error}", args.usage.display())))?;
    let version = pricing::plan_version(&client, &hold.member, plan)?.ok_or_else(|| {
        anyhow::anyhow!("the node has no plan {plan} of {}; nothing was submitted", hold.member)
    })?;
    let position = pricing::usage(&client, &hold.member, plan, &hold.holder)?;
    let mut settlement = pricing::Settlement::new(&version.plan);
    for line in &batch.lines {
        settlement.add(&line.item, line.units).map_err(|error| usage(format!("--usage: {error}")))?;
    }
    let (mut op, mut charge) = settlement
        .build(hold.hold_id, batch_id, batch.usage_root, |item| position.billed(item))
        .map_err(|error| usage(format!("--usage: {error}")))?;
    if let Some(text) = &args.amount {
        let claimed = claimed_amount(text, scale, plan, &charge, &hold.asset)?;
        if let Op::Settle(settle) = &mut op {
            settle.amount = claimed;
        }
        charge.total = claimed;
    }
    if charge.total > hold.amount_minor {
        bail!(
            "plan {plan} charges {} {} for these calls, more than the {} held by hold {}; nothing was submitted",
            charge.total.display(scale),
            hold.asset,
            hold.amount,
            hold.hold_id
        );
    }
    let op = with_app(op, args.app.as_deref())?;
    let sent = send(context, &args.submit, vec![op])?;
    let released = hold.amount_minor.checked_sub(charge.total).unwrap_or(Amount::ZERO);
    let extra = json!({
        "hold_id": hold.hold_id,
        "batch_id": batch_id,
        "member": hold.member,
        "asset": hold.asset,
        "plan": plan.to_string(),
        "calls": batch.rows.len(),
        "lines": charge.lines,
        "total": charge.total.display(scale),
        "total_minor": charge.total,
        "released": released.display(scale),
        "released_minor": released,
        "usage_root": batch.usage_root,
    });
    report_sent(context, &sent, "settlement", extra, || {
        println!(
            "batch {batch_id}: {} calls priced by plan {plan}: {} {} captured from hold {}, {} released; usage root {}",
            batch.rows.len(),
            charge.total.display(scale),
            hold.asset,
            hold.hold_id,
            released.display(scale),
            batch.usage_root
        )
    })
}

/// The amount of `--amount`, which a settlement submits instead of the plan's charge (the
/// ledger then checks it); says so when the two differ.
fn claimed_amount(
    text: &str,
    scale: u8,
    plan: &tally_types::pricing::PlanRef,
    charge: &tally_types::pricing::Charge,
    asset: &AssetId,
) -> anyhow::Result<Amount> {
    let claimed =
        txbuild::parse_positive_amount(text, scale).map_err(|error| usage(format!("--amount: {error}")))?;
    if claimed != charge.total {
        eprintln!(
            "note: plan {plan} charges {} {asset} for these calls; submitting the {} {asset} of --amount, which the ledger checks",
            charge.total.display(scale),
            claimed.display(scale),
        );
    }
    Ok(claimed)
}

pub(crate) fn void(context: &Session, args: VoidArgs) -> anyhow::Result<()> {
    let hold_id = parse_id(&args.hold, "HOLD")?;
    let sent = send(context, &args.submit, vec![txbuild::void_op(hold_id)])?;
    report_sent(context, &sent, "void", json!({ "hold_id": hold_id }), || {
        println!("hold {hold_id} voided; its credits are available again")
    })
}
