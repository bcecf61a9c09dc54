//! Order-book and metered-usage reads (docs/ARCHITECTURE.md "Ledger", "HTTP API"): the book of a market with depth per
//! price level, an account's offers, one offer, holds, settlement batches and spend
//! authorizations.
//!
//! - Every answer is read from one store snapshot, so the two sides of a book, or an offer
//!   and its asset scales, are always from the same committed height.
//! - Every walk over the state is bounded twice: by the page the client asked for (levels per
//!   side, offers per page) and by a fixed number of entries scanned, because one price level
//!   or one account may hold any number of entries. A walk cut short by the scan bound says so
//!   (`truncated`, or a `next` cursor).
//! - Prices are shown exactly (`n/d` in minor units, reduced) and as a human decimal computed
//!   with the assets' scales; the decimal is exact when `price_exact` is true and otherwise
//!   cut (not rounded) after [`PRICE_DECIMALS_MAX`] places.

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tally_ledger::state::{
    AuthorizationState, BatchRecord, HoldState, HoldStatus, KeyRange, OfferState, OfferStatus,
};
use tally_ledger::{StateKey, StateRead, StateValue};
use tally_types::{Amount, AssetId, MemberId, OpId, Price, PublicKey};

use super::{ApiResult, ApiState, Problem, ok_json, read_asset, read_state, read_store};

/// Price levels per side of `GET /v1/markets/{base}/{quote}` when the client names none.
pub const BOOK_LEVELS_DEFAULT: usize = 50;
/// The most price levels per side a book answer holds.
pub const BOOK_LEVELS_MAX: usize = 500;
/// The most book entries read per side for one answer: a single price level may hold any
/// number of offers, and the walk must stay bounded whatever the book looks like.
pub const BOOK_SCAN_ENTRIES_MAX: usize = 10_000;
/// Offers per page of `GET /v1/accounts/{addr}/offers` when the client names none.
pub const OFFERS_PAGE_DEFAULT: usize = 100;
/// The largest page of `GET /v1/accounts/{addr}/offers`.
pub const OFFERS_PAGE_MAX: usize = 1_000;
/// The most offer entries read for one page (open ones may be sparse among closed ones).
pub const OFFERS_SCAN_ENTRIES_MAX: usize = 10_000;
/// Decimal places of the human price before it is cut.
pub const PRICE_DECIMALS_MAX: u32 = 18;

fn internal(error: impl ToString) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

fn parse_asset(text: &str, what: &str) -> Result<AssetId, Problem> {
    AssetId::from_str(text).map_err(|error| {
        Problem::bad_request(
            "asset-id",
            format!("{what}: `{text}` is not an asset id (CODE@member): {error}"),
        )
    })
}

pub(super) fn parse_account(text: &str, what: &str) -> Result<PublicKey, Problem> {
    PublicKey::parse_recorded(text).map_err(|error| {
        Problem::bad_request("address", format!("{what}: `{text}` is not an address: {error}"))
    })
}

fn parse_op_id(text: &str, what: &str) -> Result<OpId, Problem> {
    OpId::from_str(text).map_err(|error| Problem::bad_request("op-id", format!("{what}: {error}")))
}

pub(super) fn parse_member(text: &str, what: &str) -> Result<MemberId, Problem> {
    MemberId::from_str(text).map_err(|error| {
        Problem::bad_request("member-id", format!("{what}: `{text}` is not a member id: {error}"))
    })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `price` in lowest terms. Both parts are non-zero in every stored offer.
pub fn reduced(price: Price) -> Price {
    let divisor = gcd(u128::from(price.numerator), u128::from(price.denominator)).max(1);
    // Dividing a u64 by one of its divisors leaves a u64.
    Price {
        numerator: (u128::from(price.numerator) / divisor) as u64,
        denominator: (u128::from(price.denominator) / divisor) as u64,
    }
}

/// The human value of `numerator/denominator` minor units of `quote` per minor unit of `base`:
/// `numerator · 10^base_scale / (denominator · 10^quote_scale)` as a decimal, and whether it is
/// exact. Both products fit a `u128` (2^64 · 10^18 < 2^124), and every remainder stays below
/// the divisor, so `remainder · 10` cannot overflow either.
pub fn human_price(numerator: u64, denominator: u64, base_scale: u8, quote_scale: u8) -> (String, bool) {
    let pow = |scale: u8| 10u128.pow(u32::from(scale.min(tally_types::limits::ASSET_SCALE_MAX)));
    let dividend = u128::from(numerator) * pow(base_scale);
    let divisor = (u128::from(denominator) * pow(quote_scale)).max(1);
    let whole = dividend / divisor;
    let mut remainder = dividend % divisor;
    let mut digits = String::new();
    for _ in 0..PRICE_DECIMALS_MAX {
        if remainder == 0 {
            break;
        }
        remainder *= 10;
        digits.push(char::from(b'0' + (remainder / divisor) as u8));
        remainder %= divisor;
    }
    let digits = digits.trim_end_matches('0');
    let text = if digits.is_empty() { whole.to_string() } else { format!("{whole}.{digits}") };
    (text, remainder == 0)
}

/// One aggregated price level while the side is walked.
struct Level {
    /// In minor units of quote per minor unit of base, lowest terms.
    price: Price,
    amount: Amount,
    offers: u64,
}

/// The price levels of the book of offers selling `sell` for `buy`, best first, and whether
/// the scan bound cut the walk short. `as_bid` turns each offer's price (minor units of `buy`
/// per `sell`, here base per quote) into quote per base.
fn side(
    snapshot: &tally_store::Snapshot<'_>,
    sell: &AssetId,
    buy: &AssetId,
    levels_max: usize,
    as_bid: bool,
) -> Result<(Vec<Level>, bool), Problem> {
    let range = KeyRange::book(sell, buy);
    let mut after: Option<StateKey> = None;
    let mut levels: Vec<Level> = Vec::new();
    let mut scanned = 0usize;
    loop {
        if scanned == BOOK_SCAN_ENTRIES_MAX {
            // One more entry after the bound means the answer is cut short.
            let more = snapshot.next_entry(&range, after.as_ref()).map_err(internal)?.is_some();
            return Ok((levels, more));
        }
        let Some((key, value)) = snapshot.next_entry(&range, after.as_ref()).map_err(internal)? else {
            return Ok((levels, false));
        };
        scanned += 1;
        let StateValue::BookEntry(entry) = value else {
            return Err(internal(format!("book entry {key:?} holds another kind of value")));
        };
        let offer_key = StateKey::Offer { owner: entry.owner, offer_id: entry.offer_id };
        let Some(StateValue::Offer(offer)) = read_state(snapshot, &offer_key)? else {
            return Err(internal(format!("book entry {key:?} points at no offer")));
        };
        after = Some(key);
        let price = if as_bid {
            Price { numerator: offer.price.denominator, denominator: offer.price.numerator }
        } else {
            offer.price
        };
        let price = reduced(price);
        match levels.last_mut() {
            // Book order is price order, so equal prices are adjacent; reduced equal prices
            // have equal parts.
            Some(level) if level.price == price => {
                level.amount = level
                    .amount
                    .checked_add(offer.remaining)
                    .ok_or_else(|| internal("a price level's total exceeds u128"))?;
                level.offers += 1;
            }
            _ => {
                if levels.len() == levels_max {
                    return Ok((levels, false));
                }
                levels.push(Level { price, amount: offer.remaining, offers: 1 });
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BookQuery {
    limit: Option<String>,
}

/// `GET /v1/markets/{base}/{quote}?limit=N`: asks (offers selling base for quote, lowest price
/// first) and bids (offers selling quote for base, highest price first), with prices in quote
/// per base.
pub(super) async fn get_book(
    State(state): State<ApiState>,
    Path((base, quote)): Path<(String, String)>,
    query: Result<Query<BookQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let base = parse_asset(&base, "base")?;
    let quote = parse_asset(&quote, "quote")?;
    if base == quote {
        return Err(Problem::bad_request("same-asset", format!("base and quote are both `{base}`")));
    }
    let limit = match query.limit.as_deref() {
        None => BOOK_LEVELS_DEFAULT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=BOOK_LEVELS_MAX).contains(&limit) => limit,
            _ => {
                return Err(Problem::bad_request(
                    "query",
                    format!("query `limit`: `{text}` is not a whole number in 1..={BOOK_LEVELS_MAX}"),
                ));
            }
        },
    };
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let Some(base_state) = read_asset(&snapshot, &base)? else {
            return Err(Problem::not_found(format!("no asset `{base}`")));
        };
        let Some(quote_state) = read_asset(&snapshot, &quote)? else {
            return Err(Problem::not_found(format!("no asset `{quote}`")));
        };
        let (base_scale, quote_scale) = (base_state.scale, quote_state.scale);
        let (asks, asks_truncated) = side(&snapshot, &base, &quote, limit, false)?;
        let (bids, bids_truncated) = side(&snapshot, &quote, &base, limit, true)?;
        let level_json = |level: &Level, amount_scale: u8| {
            let (price, exact) =
                human_price(level.price.numerator, level.price.denominator, base_scale, quote_scale);
            json!({
                "price": price,
                "price_exact": exact,
                "price_minor": { "numerator": level.price.numerator, "denominator": level.price.denominator },
                "amount": level.amount.display(amount_scale),
                "amount_minor": level.amount,
                "offers": level.offers,
            })
        };
        Ok(json!({
            "height": snapshot.height(),
            "base": { "asset": base, "scale": base_scale },
            "quote": { "asset": quote, "scale": quote_scale },
            "price_unit": format!("{quote} per {base}"),
            "asks_amount_asset": base,
            "bids_amount_asset": quote,
            "asks": asks.iter().map(|level| level_json(level, base_scale)).collect::<Vec<_>>(),
            "bids": bids.iter().map(|level| level_json(level, quote_scale)).collect::<Vec<_>>(),
            "asks_truncated": asks_truncated,
            "bids_truncated": bids_truncated,
        }))
    })
    .await?;
    ok_json(body)
}

fn offer_status_name(status: &OfferStatus) -> &'static str {
    match status {
        OfferStatus::Open => "open",
        OfferStatus::Filled { .. } => "filled",
        OfferStatus::Cancelled { .. } => "cancelled",
        OfferStatus::Closed { .. } => "closed",
    }
}

fn offer_json(
    snapshot: &tally_store::Snapshot<'_>,
    owner: &PublicKey,
    offer_id: OpId,
    offer: &OfferState,
) -> Result<serde_json::Value, Problem> {
    let scale = |asset: &AssetId| -> Result<u8, Problem> {
        read_asset(snapshot, asset)?
            .map(|state| state.scale)
            .ok_or_else(|| internal(format!("offer {offer_id} names asset `{asset}`, which does not exist")))
    };
    let (sell_scale, buy_scale) = (scale(&offer.sell)?, scale(&offer.buy)?);
    let (price, exact) = human_price(offer.price.numerator, offer.price.denominator, sell_scale, buy_scale);
    Ok(json!({
        "owner": owner.to_address(),
        "offer_id": offer_id,
        "sell": offer.sell,
        "buy": offer.buy,
        "price": price,
        "price_exact": exact,
        "price_unit": format!("{} per {}", offer.buy, offer.sell),
        "price_minor": offer.price,
        "mode": offer.mode,
        "amount": offer.amount.display(sell_scale),
        "amount_minor": offer.amount,
        "remaining": offer.remaining.display(sell_scale),
        "remaining_minor": offer.remaining,
        "status": offer_status_name(&offer.status),
        "status_detail": offer.status,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OffersQuery {
    status: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/accounts/{address}/offers?status=open|all&after=ID&limit=N`: the account's offers by
/// offer id; `next` is the cursor for the following page.
pub(super) async fn get_offers_of(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    query: Result<Query<OffersQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let owner = parse_account(&address, "address")?;
    let open_only = open_only_asked(query.status.as_deref())?;
    let limit = offers_page_limit(query.limit.as_deref())?;
    let after = match query.after.as_deref() {
        None => None,
        Some(text) => Some(parse_op_id(text, "query `after`")?),
    };
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let range = KeyRange::offers_of(&owner);
        let mut cursor = after.map(|offer_id| StateKey::Offer { owner, offer_id });
        let mut offers = Vec::new();
        let mut next = None;
        for _ in 0..OFFERS_SCAN_ENTRIES_MAX {
            let Some((key, value)) = snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)? else {
                break;
            };
            let (StateKey::Offer { offer_id, .. }, StateValue::Offer(offer)) = (&key, &value) else {
                return Err(internal(format!("offer range holds {key:?}")));
            };
            let offer_id = *offer_id;
            if !open_only || offer.status == OfferStatus::Open {
                if offers.len() == limit {
                    break;
                }
                offers.push(offer_json(&snapshot, &owner, offer_id, offer)?);
            }
            next = Some(offer_id);
            cursor = Some(key);
        }
        // `next` is set only if an entry may follow the last one looked at.
        let more = match &cursor {
            Some(_) => snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)?.is_some(),
            None => false,
        };
        Ok(json!({
            "height": snapshot.height(),
            "owner": owner.to_address(),
            "offers": offers,
            "next": if more { next } else { None },
        }))
    })
    .await?;
    ok_json(body)
}

/// Query `status`: `open` (the default) lists open offers only, `all` every offer.
fn open_only_asked(status: Option<&str>) -> Result<bool, Problem> {
    match status {
        None | Some("open") => Ok(true),
        Some("all") => Ok(false),
        Some(other) => {
            Err(Problem::bad_request("query", format!("query `status`: `{other}` is not `open` or `all`")))
        }
    }
}

/// Query `limit`: offers per page, 1 to [`OFFERS_PAGE_MAX`], [`OFFERS_PAGE_DEFAULT`] when absent.
fn offers_page_limit(limit: Option<&str>) -> Result<usize, Problem> {
    let Some(text) = limit else { return Ok(OFFERS_PAGE_DEFAULT) };
    match text.parse::<usize>() {
        Ok(limit) if (1..=OFFERS_PAGE_MAX).contains(&limit) => Ok(limit),
        _ => Err(Problem::bad_request(
            "query",
            format!("query `limit`: `{text}` is not a whole number in 1..={OFFERS_PAGE_MAX}"),
        )),
    }
}

/// `GET /v1/offers/{owner}/{offer_id}`: one offer, open or closed.
pub(super) async fn get_offer(
    State(state): State<ApiState>,
    Path((owner, offer_id)): Path<(String, String)>,
) -> ApiResult {
    let owner = parse_account(&owner, "owner")?;
    let offer_id = parse_op_id(&offer_id, "offer id")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        match read_state(&snapshot, &StateKey::Offer { owner, offer_id })? {
            Some(StateValue::Offer(offer)) => {
                let mut body = offer_json(&snapshot, &owner, offer_id, &offer)?;
                body["height"] = json!(snapshot.height());
                Ok(body)
            }
            _ => Err(Problem::not_found(format!("{} has no offer {offer_id}", owner.to_address()))),
        }
    })
    .await?;
    ok_json(body)
}

pub(super) fn scale_of(snapshot: &tally_store::Snapshot<'_>, asset: &AssetId) -> Result<u8, Problem> {
    read_asset(snapshot, asset)?
        .map(|state| state.scale)
        .ok_or_else(|| internal(format!("asset `{asset}` is named in the state but does not exist")))
}

pub(super) fn hold_json(hold_id: OpId, hold: &HoldState, scale: u8) -> serde_json::Value {
    let status = match &hold.status {
        HoldStatus::Open => "open",
        HoldStatus::Settled { .. } => "settled",
        HoldStatus::Voided { .. } => "voided",
        HoldStatus::Expired { .. } => "expired",
    };
    let mut body = json!({
        "hold_id": hold_id,
        "member": hold.member,
        "holder": hold.holder.to_address(),
        "asset": hold.asset,
        "amount": hold.amount.display(scale),
        "amount_minor": hold.amount,
        "expires_at_ms": hold.expires_at_ms,
        "created_at": hold.created_at,
        "status": status,
        "status_detail": hold.status,
        "plan": hold.plan,
    });
    if let HoldStatus::Settled { batch_id, amount, height } = &hold.status {
        body["settled"] = json!({
            "batch_id": batch_id,
            "amount": amount.display(scale),
            "amount_minor": amount,
            "height": height,
        });
    }
    body
}

/// `GET /v1/holds/{hold_id}`: a hold, open or resolved.
pub(super) async fn get_hold(State(state): State<ApiState>, Path(hold_id): Path<String>) -> ApiResult {
    let hold_id = parse_op_id(&hold_id, "hold id")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        match read_state(&snapshot, &StateKey::Hold { hold_id })? {
            Some(StateValue::Hold(hold)) => {
                let mut body = hold_json(hold_id, &hold, scale_of(&snapshot, &hold.asset)?);
                body["height"] = json!(snapshot.height());
                Ok(body)
            }
            _ => Err(Problem::not_found(format!("no hold {hold_id}"))),
        }
    })
    .await?;
    ok_json(body)
}

fn batch_json(
    snapshot: &tally_store::Snapshot<'_>,
    member: &MemberId,
    batch_id: OpId,
    record: &BatchRecord,
) -> Result<serde_json::Value, Problem> {
    // The hold names the asset, and so the scale of the settled amount.
    let (asset, scale) = match read_state(snapshot, &StateKey::Hold { hold_id: record.hold_id })? {
        Some(StateValue::Hold(hold)) => {
            let scale = scale_of(snapshot, &hold.asset)?;
            (Some(hold.asset), scale)
        }
        _ => (None, 0),
    };
    Ok(json!({
        "member": member,
        "batch_id": batch_id,
        "hold_id": record.hold_id,
        "asset": asset,
        "amount": asset.as_ref().map(|_| record.amount.display(scale)),
        "amount_minor": record.amount,
        "usage_root": record.usage_root,
        "height": record.height,
    }))
}

/// `GET /v1/batches/{member}/{batch_id}`: the settlement a batch id was used for, or 404 if the
/// member never used it (so a gateway can check before settling).
pub(super) async fn get_batch(
    State(state): State<ApiState>,
    Path((member, batch_id)): Path<(String, String)>,
) -> ApiResult {
    let member = parse_member(&member, "member")?;
    let batch_id = parse_op_id(&batch_id, "batch id")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        match read_state(&snapshot, &StateKey::BatchId { member: member.clone(), batch_id })? {
            Some(StateValue::BatchId(record)) => {
                let mut body = batch_json(&snapshot, &member, batch_id, &record)?;
                body["read_height"] = json!(snapshot.height());
                Ok(body)
            }
            _ => Err(Problem::not_found(format!("member `{member}` has not used batch id {batch_id}"))),
        }
    })
    .await?;
    ok_json(body)
}

fn authorization_json(
    holder: &PublicKey,
    provider: &MemberId,
    asset: &AssetId,
    authorization: &AuthorizationState,
    scale: u8,
) -> serde_json::Value {
    json!({
        "holder": holder.to_address(),
        "provider": provider,
        "asset": asset,
        "cap": authorization.cap.display(scale),
        "cap_minor": authorization.cap,
        "cap_remaining": authorization.cap_remaining.display(scale),
        "cap_remaining_minor": authorization.cap_remaining,
        "expires_at_ms": authorization.expires_at_ms,
        "plan": authorization.plan,
    })
}

/// `GET /v1/authorizations/{holder}/{provider}/{asset}`: what `provider` may still hold.
pub(super) async fn get_authorization(
    State(state): State<ApiState>,
    Path((holder, provider, asset)): Path<(String, String, String)>,
) -> ApiResult {
    let holder = parse_account(&holder, "holder")?;
    let provider = parse_member(&provider, "provider")?;
    let asset = parse_asset(&asset, "asset")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let key = StateKey::Authorization { holder, provider: provider.clone(), asset: asset.clone() };
        match read_state(&snapshot, &key)? {
            Some(StateValue::Authorization(authorization)) => {
                let scale = scale_of(&snapshot, &asset)?;
                let mut body = authorization_json(&holder, &provider, &asset, &authorization, scale);
                body["height"] = json!(snapshot.height());
                Ok(body)
            }
            _ => Err(Problem::not_found(format!(
                "{} has no authorization for `{provider}` on `{asset}` (never given, used up or withdrawn)",
                holder.to_address()
            ))),
        }
    })
    .await?;
    ok_json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_prices_use_both_scales() {
        // 3/2 minor GLOBEX per minor ACME, both scale 2: 1.5 GLOBEX per ACME.
        assert_eq!(human_price(3, 2, 2, 2), ("1.5".to_owned(), true));
        // Base scale 0, quote scale 2: 150 minor per whole = 1.5 quote per base.
        assert_eq!(human_price(150, 1, 0, 2), ("1.5".to_owned(), true));
        assert_eq!(human_price(1, 3, 0, 0), ("0.333333333333333333".to_owned(), false));
        assert!(human_price(u64::MAX, 1, 18, 0).1);
        assert_eq!(human_price(1, u64::MAX, 0, 18), ("0".to_owned(), false));
    }

    #[test]
    fn prices_reduce_to_lowest_terms() {
        assert_eq!(reduced(Price { numerator: 4, denominator: 6 }), Price { numerator: 2, denominator: 3 });
        assert_eq!(reduced(Price { numerator: 7, denominator: 7 }), Price { numerator: 1, denominator: 1 });
        let max = Price { numerator: u64::MAX, denominator: 1 };
        assert_eq!(reduced(max), max);
    }
}
