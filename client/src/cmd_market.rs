//! `tally offer place|cancel|book|list`: the order book from the command line.
//!
//! Prices are typed in human units (units of the bought asset per unit of the sold one, a
//! decimal or a fraction) and converted exactly to the ledger's minor-unit price with both
//! assets' scales, read from the node; a price that cannot be expressed exactly as u64/u64 is
//! refused rather than rounded.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tally_client::http::NodeClient;
use tally_client::market;
use tally_client::txbuild;
use tally_types::receipt::Fill;
use tally_types::tx::OfferMode;
use tally_types::{Amount, AssetId, OpId, TxOutcome};

use crate::submit::{merge, report_sent, send};
use crate::{Session, SubmitArgs, resolve_address, usage};

/// Levels per side `tally offer book` shows unless told.
const BOOK_LEVELS_DEFAULT: usize = 20;
/// Offers per page `tally offer list` asks for, and the most pages it walks.
const OFFERS_PAGE: usize = 1_000;
const OFFERS_PAGES_MAX: usize = 100;

#[derive(Subcommand)]
pub(crate) enum OfferCommand {
    /// Sell an amount of one asset for another at a limit price.
    Place(PlaceArgs),
    /// Cancel an open offer and unlock what it still sells.
    Cancel {
        /// The offer id (32 hex).
        id: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Show the book of BASE against QUOTE: asks and bids by price level, best first.
    Book {
        base: String,
        quote: String,
        /// Price levels per side (1..=500).
        #[arg(long, default_value_t = BOOK_LEVELS_DEFAULT)]
        limit: usize,
    },
    /// List an account's offers (open ones unless --all). ADDR is an address or a key name.
    List {
        address: String,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args)]
pub(crate) struct PlaceArgs {
    /// What to sell: AMOUNT ASSET, e.g. `--sell 10 ACME@acme`.
    #[arg(long, num_args = 2, value_names = ["AMOUNT", "ASSET"], required = true)]
    sell: Vec<String>,
    /// The asset to buy, e.g. GLOBEX@globex.
    #[arg(long)]
    buy: String,
    /// Units of --buy asked per unit of --sell: a decimal (1.5) or a fraction (3/2).
    #[arg(long)]
    price: String,
    /// Immediate or cancel: trade what crosses now, drop the rest.
    #[arg(long, conflicts_with_all = ["fok", "passive"])]
    ioc: bool,
    /// Fill or kill: trade all of it now or nothing.
    #[arg(long, conflicts_with = "passive")]
    fok: bool,
    /// Never take: refused if it would trade at once; rests in the book otherwise.
    #[arg(long)]
    passive: bool,
    /// The offer id (32 hex); random when absent. Reuse it to make a retry safe.
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

fn parse_asset(text: &str, flag: &str) -> anyhow::Result<AssetId> {
    text.parse().map_err(|error| usage(format!("{flag}: {error}")))
}

fn parse_id(text: &str, flag: &str) -> anyhow::Result<OpId> {
    text.parse().map_err(|error| usage(format!("{flag}: {error}")))
}

fn scale_of(client: &NodeClient, asset: &AssetId) -> anyhow::Result<u8> {
    Ok(client.asset(asset).with_context(|| format!("looking up asset {asset}"))?.scale)
}

pub(crate) fn run(context: &Session, command: OfferCommand) -> anyhow::Result<()> {
    match command {
        OfferCommand::Place(args) => place(context, args),
        OfferCommand::Cancel { id, submit } => {
            let offer_id = parse_id(&id, "ID")?;
            let sent = send(context, &submit, vec![txbuild::cancel_offer_op(offer_id)])?;
            let extra = json!({ "offer_id": offer_id });
            report_sent(context, &sent, "cancel", extra, || println!("offer {offer_id} cancelled"))
        }
        OfferCommand::Book { base, quote, limit } => book(context, &base, &quote, limit),
        OfferCommand::List { address, all } => list(context, &address, all),
    }
}

fn place(context: &Session, args: PlaceArgs) -> anyhow::Result<()> {
    let client = context.client()?;
    let [amount_text, sell_text] = &args.sell[..] else {
        return Err(usage("--sell takes AMOUNT ASSET, e.g. --sell 10 ACME@acme"));
    };
    let sell = parse_asset(sell_text, "--sell")?;
    let buy = parse_asset(&args.buy, "--buy")?;
    if sell == buy {
        return Err(usage(format!("--sell and --buy are both {sell}")));
    }
    let (sell_scale, buy_scale) = (scale_of(&client, &sell)?, scale_of(&client, &buy)?);
    let amount = txbuild::parse_positive_amount(amount_text, sell_scale)
        .map_err(|error| usage(format!("--sell amount: {error}")))?;
    let human =
        txbuild::parse_human_price(&args.price).map_err(|error| usage(format!("--price: {error}")))?;
    let price = txbuild::minor_price(&args.price, human, sell_scale, buy_scale)
        .map_err(|error| usage(format!("--price: {error}")))?;
    let mode = offer_mode(&args);
    let offer_id = match &args.id {
        Some(text) => parse_id(text, "--id")?,
        None => txbuild::random_op_id()?,
    };
    let op = txbuild::place_offer_op(offer_id, sell.clone(), buy.clone(), amount, price, mode);
    let sent = send(context, &args.submit, vec![op])?;
    let mut extra = json!({
        "offer_id": offer_id,
        "sell": sell,
        "buy": buy,
        "amount": amount.display(sell_scale),
        "amount_minor": amount,
        "price_minor": price,
    });
    let headline = || {
        println!(
            "offer {offer_id}: sell {} {sell} for {buy} at {} ({price} minor)",
            amount.display(sell_scale),
            args.price
        )
    };
    let Some(inclusion) = &sent.inclusion else {
        return report_sent(context, &sent, "offer", extra, headline);
    };
    if inclusion.receipt.outcome != TxOutcome::Success {
        return report_sent(context, &sent, "offer", extra, || {});
    }
    // Our side of each fill: we gave `taker_gave` of `sell` and got `maker_gave` of `buy`.
    let fills: Vec<_> = inclusion.receipt.fills.iter().filter(|fill| fill.taker_offer == offer_id).collect();
    let final_state = market::offer(&client, &sent.signer, &offer_id)?;
    merge(&mut extra, fills_json(&fills, final_state.as_ref(), sell_scale, buy_scale)?);
    report_sent(context, &sent, "offer", extra, || {
        headline();
        print_fills(&fills, final_state.as_ref(), (&sell, sell_scale), (&buy, buy_scale));
    })
}

/// Our side of each fill of a placed offer, then what is left of it.
fn print_fills(
    fills: &[&Fill],
    final_state: Option<&market::OfferInfo>,
    (sell, sell_scale): (&AssetId, u8),
    (buy, buy_scale): (&AssetId, u8),
) {
    for fill in fills {
        println!(
            "  filled: sold {} {sell}, bought {} {buy} from offer {} of {}",
            fill.taker_gave.display(sell_scale),
            fill.maker_gave.display(buy_scale),
            fill.maker_offer,
            fill.maker.to_address()
        );
    }
    if fills.is_empty() {
        println!("  no fills");
    }
    match final_state {
        Some(offer) => println!("  status {}, {} {sell} remaining", offer.status, offer.remaining),
        None => println!("  status unknown (the node does not show the offer)"),
    }
}

/// `--ioc`, `--fok`, `--passive` (at most one: clap refuses the others together), or none.
fn offer_mode(args: &PlaceArgs) -> OfferMode {
    if args.ioc {
        OfferMode::ImmediateOrCancel
    } else if args.fok {
        OfferMode::FillOrKill
    } else if args.passive {
        OfferMode::Passive
    } else {
        OfferMode::Normal
    }
}

/// What a committed offer did, for `--json`: our side of each of its `fills`, their totals,
/// and the offer's state after the block.
fn fills_json(
    fills: &[&Fill],
    final_state: Option<&market::OfferInfo>,
    sell_scale: u8,
    buy_scale: u8,
) -> anyhow::Result<serde_json::Value> {
    let (mut sold, mut bought) = (Amount::ZERO, Amount::ZERO);
    for fill in fills {
        sold = sold.checked_add(fill.taker_gave).context("fills overflow")?;
        bought = bought.checked_add(fill.maker_gave).context("fills overflow")?;
    }
    let listed: Vec<_> = fills
        .iter()
        .map(|fill| {
            json!({
                "maker_offer": fill.maker_offer,
                "maker": fill.maker.to_address(),
                "sold": fill.taker_gave.display(sell_scale),
                "sold_minor": fill.taker_gave,
                "bought": fill.maker_gave.display(buy_scale),
                "bought_minor": fill.maker_gave,
                "price_minor": fill.price,
            })
        })
        .collect();
    Ok(json!({
        "fills": listed,
        "sold": sold.display(sell_scale),
        "sold_minor": sold,
        "bought": bought.display(buy_scale),
        "bought_minor": bought,
        "status": final_state.map(|offer| offer.status.clone()),
        "remaining": final_state.map(|offer| offer.remaining.clone()),
        "remaining_minor": final_state.map(|offer| offer.remaining_minor),
    }))
}

fn book(context: &Session, base: &str, quote: &str, limit: usize) -> anyhow::Result<()> {
    let client = context.client()?;
    let base = parse_asset(base, "BASE")?;
    let quote = parse_asset(quote, "QUOTE")?;
    if !(1..=500).contains(&limit) {
        return Err(usage(format!("--limit {limit} is outside 1..=500")));
    }
    let book = market::book(&client, &base, &quote, limit)?;
    context.print(serde_json::to_value(&book)?, || {
        println!("{base} / {quote} at height {} (prices in {})", book.height, book.price_unit);
        println!("asks (selling {base}):");
        if book.asks.is_empty() {
            println!("  none");
        }
        for level in book.asks.iter().rev() {
            let approx = if level.price_exact { "" } else { "~" };
            let count = offer_count(level.offers);
            println!("  {approx}{:>20}  {:>24} {base}  ({count})", level.price, level.amount);
        }
        println!("bids (selling {quote}):");
        if book.bids.is_empty() {
            println!("  none");
        }
        for level in &book.bids {
            let approx = if level.price_exact { "" } else { "~" };
            let count = offer_count(level.offers);
            println!("  {approx}{:>20}  {:>24} {quote}  ({count})", level.price, level.amount);
        }
        if book.asks_truncated || book.bids_truncated {
            println!("(the node cut the walk short: very many offers at the best levels)");
        }
    });
    Ok(())
}

fn list(context: &Session, address: &str, all: bool) -> anyhow::Result<()> {
    let client = context.client()?;
    let owner = resolve_address(context, address, "ADDR")?;
    let mut offers = Vec::new();
    let mut after = None;
    for _ in 0..OFFERS_PAGES_MAX {
        let page = market::offers_of(&client, &owner, all, after.as_ref(), OFFERS_PAGE)?;
        offers.extend(page.offers);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    context.print(json!({ "owner": owner.to_address(), "offers": offers }), || {
        if offers.is_empty() {
            println!("no {}offers", if all { "" } else { "open " });
        }
        for offer in &offers {
            println!(
                "{}  {:<9}  sell {} of {} {} for {} at {} ({} minor)",
                offer.offer_id,
                offer.status,
                offer.remaining,
                offer.amount,
                offer.sell,
                offer.buy,
                offer.price,
                offer.price_minor
            );
        }
    });
    Ok(())
}

/// "1 offer", "3 offers".
fn offer_count(count: impl Into<u64>) -> String {
    let count = count.into();
    if count == 1 { "1 offer".to_owned() } else { format!("{count} offers") }
}
