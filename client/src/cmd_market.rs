//! `tally offer place|cancel|book|list`: the order book from the command line, and the
//! submit-and-report helpers `tally spend|hold|settle|void` share with it.
//!
//! Prices are typed in human units (units of the bought asset per unit of the sold one, a
//! decimal or a fraction) and converted exactly to the ledger's minor-unit price with both
//! assets' scales, read from the node; a price that cannot be expressed exactly as u64/u64 is
//! refused rather than rounded.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tally_client::http::{NodeClient, Submitted, TxInclusion};
use tally_client::market;
use tally_client::txbuild;
use tally_types::receipt::Fill;
use tally_types::tx::OfferMode;
use tally_types::{Amount, AssetId, ErrorCode, Op, OpId, PublicKey, SecretKey, TxOutcome};

use crate::{Session, SubmitArgs, passphrase, resolve_address, usage};

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

/// A ledger error code in words, for people.
// Not split: one arm per error code, a table read top to bottom.
pub(crate) fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotIssuer => "the signer is not an issuer of the member the operation names",
        ErrorCode::UnknownMember => "no such member (provider)",
        ErrorCode::UnknownAsset => "no such asset",
        ErrorCode::AssetExists => "the asset already exists",
        ErrorCode::BadScale => "the scale is above 18",
        ErrorCode::BadFlags => "undefined asset flags",
        ErrorCode::ZeroAmount => "the amount must be greater than zero",
        ErrorCode::MaxSupplyExceeded => "the grant would take the supply above the asset's maximum",
        ErrorCode::AmountOverflow => "an amount would overflow",
        ErrorCode::InsufficientBalance => "not enough available (unlocked) balance",
        ErrorCode::DuplicateGrantId => "this grant id was used before",
        ErrorCode::SelfTransfer => "sender and receiver are the same account",
        ErrorCode::RewardReasonMissing => "a reward grant needs a reason",
        ErrorCode::ReasonNotAllowed => "only reward grants take a reason",
        ErrorCode::NotTransferable => "the asset may not be transferred between holders",
        ErrorCode::BadMaxSupply => "the maximum supply is zero or below the current supply",
        ErrorCode::OpNotSupported => "this ledger version does not execute the operation",
        ErrorCode::NoAuthorization => {
            "the holder has not authorized this provider for this asset, or the authorization expired"
        }
        ErrorCode::CapExceeded => "the hold exceeds what the holder's authorization still allows",
        ErrorCode::DuplicateHoldId => "this hold id was used before",
        ErrorCode::UnknownHold => "no such hold",
        ErrorCode::HoldClosed => "the hold was already settled, voided or released at expiry",
        ErrorCode::DuplicateBatchId => "this settlement batch id was used before; a batch settles once",
        ErrorCode::SettleExceedsHold => "the settlement is larger than the held amount",
        ErrorCode::HoldNotExpired => "the holder may void a hold only after it expires",
        ErrorCode::BadExpiry => "the expiry is not after the block time",
        ErrorCode::BadPrice => "the price has a zero part",
        ErrorCode::SameAsset => "an offer cannot sell and buy the same asset",
        ErrorCode::DuplicateOfferId => "this offer id was used before",
        ErrorCode::UnknownOffer => "no such open offer",
        ErrorCode::NotOfferOwner => "only the owner may cancel the offer",
        ErrorCode::SelfTrade => "the offer would trade with one of your own offers",
        ErrorCode::FillOrKillNotFilled => "the fill-or-kill offer could not be filled completely at once",
        ErrorCode::PassiveWouldCross => "the passive offer would trade at once",
        ErrorCode::TooManyFills => "matching would need more than 1,000 fills; place a smaller offer",
        ErrorCode::NotTradable => "the asset may not be traded on the book",
        ErrorCode::BadBadgeBatch => "the badge batch is empty or too large",
        ErrorCode::DuplicateBadgeRoot => "this badge root was anchored before",
        ErrorCode::BadgeAlreadyRevoked => "the badge was already revoked",
        ErrorCode::NotMember => "the signer is not the governance key of an active member",
        ErrorCode::DuplicateProposal => "this proposal id was used before",
        ErrorCode::BadProposalExpiry => {
            "the proposal's expiry must be after this height and at most PROPOSAL_TTL_BLOCKS_MAX later"
        }
        ErrorCode::UnknownProposal => "no such proposal",
        ErrorCode::ProposalClosed => "the proposal has been decided and takes no more votes",
        ErrorCode::ProposalExpired => "the proposal expired before this vote",
        ErrorCode::AlreadyVoted => "this member has already voted on the proposal",
        ErrorCode::ApplicationWrongChain => "the application is for another chain",
        ErrorCode::BadProofOfPossession => {
            "a proof of possession in the application does not verify, or the issuer has not signed it"
        }
        ErrorCode::MemberExists => "the member id is taken (ids of removed members are never reused)",
        ErrorCode::KeyInUse => "a key of the application already serves the consortium",
        ErrorCode::UnknownValidator => "no such validator in the validator set",
        ErrorCode::ValidatorCountOutOfRange => {
            "the change would leave fewer than 4 validators (no quorum), or exceed the validator or member limit"
        }
        ErrorCode::BadConsensusParams => "the consensus parameters are out of range",
        ErrorCode::BadThreshold => "the threshold must be at least one half and below one",
        ErrorCode::IssuerNotOfMember => "the application's issuer is not an issuer of the member it names",
        ErrorCode::BadApplication => {
            "a field of the application is not acceptable (empty name or address, reused key, scale above 18)"
        }
        ErrorCode::UnknownPlan => "the provider has no price plan of this id and version",
        ErrorCode::PlanRetired => "the price plan version was retired; agree to a current version",
        ErrorCode::PlanVersionExists => "this price plan version was published before; versions never change",
        ErrorCode::PlanVersionGap => "a new price plan version must follow the latest one (1 for a new plan)",
        ErrorCode::BadPlan => {
            "the price plan is malformed (no items, items or tiers out of order, a bounded last tier, an empty pack)"
        }
        ErrorCode::PlanAssetMismatch => "the price plan charges in another asset",
        ErrorCode::UnknownPlanItem => "a usage line names an item the hold's price plan does not price",
        ErrorCode::BadUsageLines => "usage lines must be sorted by item, each once, each with units",
        ErrorCode::SettleAmountMismatch => {
            "the settled amount is not what the hold's price plan gives for the usage lines"
        }
        ErrorCode::UnknownPack => "the price plan has no credit pack of this name",
        ErrorCode::PackMismatch => "a pack purchase must be a purchase grant of exactly the pack's credits",
    }
}

/// What a submission gave: the signer, and the committed inclusion when `--wait` was given.
pub(crate) struct Sent {
    pub signer: PublicKey,
    pub tx_id: tally_types::TxId,
    pub inclusion: Option<Box<TxInclusion>>,
}

/// Loads the `--from` key, signs `ops` at the account's next seq (or `--seq`) and submits
/// them; waits for the commit with `--wait`. Does not print.
pub(crate) fn send(context: &Session, args: &SubmitArgs, ops: Vec<Op>) -> anyhow::Result<Sent> {
    let client = context.client()?;
    let store = context.keystore()?;
    let passphrase = passphrase(false)?;
    let key: SecretKey = store.load(&args.from, &passphrase)?;
    let status = client.status().context("reading the node's status")?;
    let seq = match args.seq {
        Some(seq) => seq,
        None => {
            let account = client.account(&key.public_key()).context("reading the signer's account")?;
            account.seq.checked_add(1).context("the account's seq is exhausted")?
        }
    };
    let valid_until = txbuild::valid_until(status.committed_height, args.valid_for);
    let signed = txbuild::build_signed(&key, &status.chain_id, seq, valid_until, ops, b"")
        .map_err(|error| usage(error.to_string()))?;
    let tx_id = signed.id();
    let inclusion = match client.submit(&signed, args.wait)? {
        Submitted::Admitted(admitted) => {
            if admitted != tx_id {
                bail!("the node admitted transaction {admitted} instead of {tx_id}");
            }
            None
        }
        Submitted::Committed(inclusion) => {
            // The answer is remote input: check it names what we sent.
            if inclusion.tx_id != tx_id {
                bail!("the node answered for transaction {} instead of {tx_id}", inclusion.tx_id);
            }
            Some(inclusion)
        }
    };
    Ok(Sent { signer: key.public_key(), tx_id, inclusion })
}

/// Fails with the receipt's error in words when the committed transaction failed.
pub(crate) fn check_outcome(inclusion: &TxInclusion, what: &str) -> anyhow::Result<()> {
    match &inclusion.receipt.outcome {
        TxOutcome::Success => Ok(()),
        TxOutcome::Failed { code, .. } => {
            let slug = serde_json::to_value(code)?.as_str().unwrap_or("unknown").to_owned();
            bail!(
                "{what} refused by the ledger: {} ({slug}); transaction {} at height {} changed nothing but its seq",
                describe(*code),
                inclusion.tx_id,
                inclusion.height
            )
        }
    }
}

/// Prints what `send` gave when there is nothing more to say, and fails on a failed receipt.
pub(crate) fn report_sent(
    context: &Session,
    sent: &Sent,
    what: &str,
    extra: serde_json::Value,
    human: impl FnOnce(),
) -> anyhow::Result<()> {
    let value = sent_json(sent, extra);
    match &sent.inclusion {
        None => {
            context.print(value, || {
                human();
                println!("submitted {} (not waiting; see `tally tx wait {}`)", sent.tx_id, sent.tx_id)
            });
            Ok(())
        }
        Some(inclusion) => {
            if context.json && inclusion.receipt.outcome != TxOutcome::Success {
                // The error below goes to stderr; the JSON document still says what happened.
                println!("{value}");
                return check_outcome(inclusion, what);
            }
            check_outcome(inclusion, what)?;
            context.print(value, || {
                human();
                println!("committed {} at height {}", inclusion.tx_id, inclusion.height)
            });
            Ok(())
        }
    }
}

/// The `--json` document of a submission: `{"tx_id", "committed": false}` when not waited
/// for, else [`committed_json`]; with the command's own fields (`extra`) added.
fn sent_json(sent: &Sent, extra: serde_json::Value) -> serde_json::Value {
    let mut value = match &sent.inclusion {
        None => json!({ "tx_id": sent.tx_id, "committed": false }),
        Some(inclusion) => committed_json(inclusion),
    };
    merge(&mut value, extra);
    value
}

/// A committed transaction as every command prints it with `--json`: the node's answer to
/// `GET /v1/txs/{id}` (tx id, height, index, block id, tx root, receipt, proof, tx bytes in
/// hex) with `"committed": true`, so `tally tx status` and the commands that submit agree.
pub(crate) fn committed_json(inclusion: &TxInclusion) -> serde_json::Value {
    let mut value = inclusion.raw.clone();
    merge(&mut value, json!({ "committed": true }));
    value
}

fn merge(value: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(target), serde_json::Value::Object(source)) = (value.as_object_mut(), extra) {
        target.extend(source);
    }
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

#[cfg(test)]
mod tests {
    use tally_types::{Height, Receipt, TxId};

    use super::*;

    #[test]
    fn a_committed_submission_prints_the_apis_transaction_with_the_commands_fields() {
        let tx_id = TxId(tally_types::Hash([5; 32]));
        let receipt = Receipt::success(tx_id);
        // What `GET /v1/txs/{id}` and `POST /v1/txs?wait=commit` answer.
        let answer = json!({
            "tx_id": tx_id,
            "height": 7,
            "index": 1,
            "block_id": "ab".repeat(32),
            "tx_root": "cd".repeat(32),
            "receipt": receipt,
            "proof": { "index": 1, "leaf_count": 2, "siblings": ["ef".repeat(32)] },
            "tx": "0102",
        });
        let inclusion = TxInclusion { tx_id, height: Height(7), index: 1, receipt, raw: answer.clone() };
        let sent = Sent {
            signer: SecretKey::from_seed(&[1; 32]).public_key(),
            tx_id,
            inclusion: Some(Box::new(inclusion)),
        };
        let mut expected = answer;
        expected["committed"] = json!(true);
        expected["hold_id"] = json!("00");
        assert_eq!(sent_json(&sent, json!({ "hold_id": "00" })), expected);

        let pending = Sent { inclusion: None, ..sent };
        assert_eq!(
            sent_json(&pending, json!({ "hold_id": "00" })),
            json!({ "tx_id": tx_id, "committed": false, "hold_id": "00" })
        );
    }
}
