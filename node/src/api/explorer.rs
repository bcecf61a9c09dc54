//! The reads an explorer and a gateway need beyond single entries: an account's history,
//! recent blocks, search, a market's trades and summary, a provider's figures, and a stream of
//! commits (`/v1/events`, server-sent events).
//!
//! - History, trades and figures come from the store's indexes ([`tally_store::index`]),
//!   written with each block; nothing here scans the chain.
//! - Pages are newest first with an opaque-looking but plain cursor (`height.index` for
//!   history, `height.index.fill` for trades, a height for blocks) that the answer's `next`
//!   gives; a cursor a client made up is checked like any input.
//! - Every page size and scan is bounded ([`PAGE_MAX`], [`DAY_FILLS_SCAN_MAX`],
//!   [`FIGURES_MAX`]); the event stream is bounded per client (blocks read per step, accounts
//!   per stream) and in streams per node ([`EVENT_STREAMS_MAX`], then 503).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tally_ledger::{StateKey, StateValue};
use tally_store::index::{FillRecord, ROLE_MAKER, ROLE_RECIPIENT, ROLE_SIGNER, market_key};
use tally_store::{Store, TxLocation};
use tally_types::{AssetId, Block, BlockId, Hash, Height, MemberId, PublicKey, TxId};
use tokio::sync::Semaphore;

use super::markets::human_price;
use super::{ApiResult, ApiState, Problem, ok_json, read_asset, read_state, read_store};

/// Entries per page when the client names no `limit`.
pub const PAGE_DEFAULT: usize = 20;
/// The largest page of history, blocks and trades.
pub const PAGE_MAX: usize = 100;
/// The most trades read to sum a market's last 24 hours; beyond it the answer says
/// `volume_24h_truncated`.
pub const DAY_FILLS_SCAN_MAX: usize = 10_000;
/// The most figures read for one provider.
pub const FIGURES_MAX: usize = 10_000;
/// Days of block time, ending with the tip's, whose rewards `GET /v1/providers/{member}` lists
/// per day and reason (older days: `GET /v1/providers/{member}/rewards`).
pub const PROVIDER_REWARD_DAYS: u64 = 90;
/// Event streams one node serves at once; more are refused with 503.
pub const EVENT_STREAMS_MAX: usize = 64;
/// Accounts one event stream may follow.
pub const EVENT_ACCOUNTS_MAX: usize = 16;
/// Blocks one event stream reads from the store per step, so that a client far behind cannot
/// hold a blocking thread for long; it catches up step by step.
pub const EVENT_BLOCKS_PER_STEP: u64 = 16;
/// Milliseconds in 24 hours of block time.
const DAY_MS: u64 = 86_400_000;

/// The node-wide count of open event streams.
pub(crate) fn event_streams() -> &'static Arc<Semaphore> {
    static STREAMS: std::sync::OnceLock<Arc<Semaphore>> = std::sync::OnceLock::new();
    STREAMS.get_or_init(|| Arc::new(Semaphore::new(EVENT_STREAMS_MAX)))
}

fn internal(error: impl ToString) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

fn parse_limit(text: Option<&str>) -> Result<usize, Problem> {
    match text {
        None => Ok(PAGE_DEFAULT),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=PAGE_MAX).contains(&limit) => Ok(limit),
            _ => Err(Problem::bad_request(
                "query",
                format!("query `limit`: `{text}` is not a whole number in 1..={PAGE_MAX}"),
            )),
        },
    }
}

/// A cursor of `N` dot-separated whole numbers, as `next` gave it.
fn parse_cursor<const N: usize>(text: &str, shape: &str) -> Result<[u64; N], Problem> {
    let bad = || {
        Problem::bad_request(
            "cursor",
            format!("query `before`: `{text}` is not a cursor ({shape}, as `next` gives)"),
        )
    };
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != N {
        return Err(bad());
    }
    let mut numbers = [0u64; N];
    for (number, part) in numbers.iter_mut().zip(parts) {
        *number = part.parse().map_err(|_| bad())?;
    }
    Ok(numbers)
}

fn to_u32(value: u64, text: &str) -> Result<u32, Problem> {
    u32::try_from(value).map_err(|_| {
        Problem::bad_request("cursor", format!("query `before`: `{text}` has an index beyond u32"))
    })
}

fn parse_account(text: &str) -> Result<PublicKey, Problem> {
    PublicKey::parse_recorded(text)
        .map_err(|error| Problem::bad_request("address", format!("`{text}` is not an address: {error}")))
}

fn parse_asset(text: &str, what: &str) -> Result<AssetId, Problem> {
    AssetId::from_str(text).map_err(|error| {
        Problem::bad_request(
            "asset-id",
            format!("{what}: `{text}` is not an asset id (CODE@member): {error}"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

fn roles_json(roles: u8) -> Vec<&'static str> {
    let mut names = Vec::new();
    if roles & ROLE_SIGNER != 0 {
        names.push("signer");
    }
    if roles & ROLE_RECIPIENT != 0 {
        names.push("recipient");
    }
    if roles & ROLE_MAKER != 0 {
        names.push("maker");
    }
    names
}

/// One committed transaction with its receipt and decoded ops, as history and events show it.
fn tx_summary(
    block: &Block,
    receipts: &[tally_types::Receipt],
    index: u32,
) -> Result<serde_json::Value, Problem> {
    let tx = block
        .txs
        .get(index as usize)
        .ok_or_else(|| internal(format!("no tx {index} at {}", block.header.height)))?;
    let receipt = receipts
        .get(index as usize)
        .ok_or_else(|| internal(format!("no receipt {index} at {}", block.header.height)))?;
    Ok(super::tx_json(
        tx,
        json!({
            "height": block.header.height,
            "index": index,
            "time_ms": block.header.time_ms,
            "receipt": receipt,
        }),
    ))
}

/// Blocks and receipts read once per height for one page.
struct BlockCache<'s> {
    store: &'s Store,
    blocks: BTreeMap<u64, (Block, Vec<tally_types::Receipt>)>,
}

impl<'s> BlockCache<'s> {
    fn new(store: &'s Store) -> Self {
        BlockCache { store, blocks: BTreeMap::new() }
    }

    fn get(&mut self, height: Height) -> Result<&(Block, Vec<tally_types::Receipt>), Problem> {
        if !self.blocks.contains_key(&height.0) {
            let block = self
                .store
                .block(height)?
                .ok_or_else(|| internal(format!("indexed block {height} is missing")))?;
            let receipts = self
                .store
                .receipts(height)?
                .ok_or_else(|| internal(format!("receipts of block {height} are missing")))?;
            self.blocks.insert(height.0, (block, receipts));
        }
        Ok(&self.blocks[&height.0])
    }
}

/// `GET /v1/accounts/{address}/history?before=H.I&limit=N`: transactions touching the account
/// (signer, recipient of a grant or transfer, holder of a hold, maker of a fill), newest first.
pub(super) async fn get_history(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let account = parse_account(&address)?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => {
            let [height, index] = parse_cursor::<2>(text, "HEIGHT.INDEX")?;
            Some((Height(height), to_u32(index, text)?))
        }
    };
    let body = read_store(&state, move |store| {
        let entries = store.account_history(&account, before, limit + 1)?;
        let more = entries.len() > limit;
        let mut cache = BlockCache::new(store);
        let mut txs = Vec::new();
        for entry in entries.iter().take(limit) {
            let (block, receipts) = cache.get(entry.height)?;
            let mut summary = tx_summary(block, receipts, entry.tx_index)?;
            summary["roles"] = json!(roles_json(entry.roles));
            txs.push(summary);
        }
        let next = if more {
            entries.get(limit - 1).map(|entry| format!("{}.{}", entry.height, entry.tx_index))
        } else {
            None
        };
        Ok(json!({
            "address": account.to_address(),
            "height": store.height()?,
            "indexed_from": store.index_from()?,
            "txs": txs,
            "next": next,
        }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/blocks?before=H&limit=N`: block headers with their ids and tx counts, newest first.
pub(super) async fn list_blocks(
    State(state): State<ApiState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => Some(Height(parse_cursor::<1>(text, "a height")?[0])),
    };
    let body = read_store(&state, move |store| {
        let blocks = store.recent_blocks(before, limit)?;
        let mut listed = Vec::new();
        for block in &blocks {
            let certificate = store.certificate(block.header.height)?;
            listed.push(json!({
                "height": block.header.height,
                "block_id": block.id(),
                "header": block.header,
                "txs": block.txs.len(),
                "signers": certificate.as_ref().map(|certificate| certificate.signer_indices()),
                "certificate_view": certificate.as_ref().map(|certificate| certificate.subject.view()),
            }));
        }
        let next = match blocks.last() {
            Some(last) if last.header.height.0 > 1 && blocks.len() == limit => {
                Some(last.header.height.to_string())
            }
            _ => None,
        };
        Ok(json!({ "height": store.height()?, "blocks": listed, "next": next }))
    })
    .await?;
    ok_json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

/// `GET /v1/search?q=…`: what a height, block id, tx id, address, asset id, member id, badge
/// batch root or revoked badge hash is, with the route that shows it.
pub(super) async fn search(
    State(state): State<ApiState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let text = query.q.unwrap_or_default().trim().to_owned();
    if text.is_empty() {
        return Err(Problem::bad_request(
            "query",
            "query `q` is required: a height, block id, tx id, address, asset id, member id or badge hash",
        ));
    }
    if text.len() > 128 {
        return Err(Problem::bad_request(
            "query",
            format!("query `q`: {} bytes; nothing searchable is longer than 128", text.len()),
        ));
    }
    let body = read_store(&state, move |store| search_in(store, &text)).await?;
    ok_json(body)
}

// Not split: one early return per kind of search text, tried in the order the route documents.
fn search_in(store: &Store, text: &str) -> Result<serde_json::Value, Problem> {
    // 64 hex digits are a hash even when they are all decimal digits.
    if text.len() != 64 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let height: u64 = text.parse().map_err(|_| {
            Problem::bad_request("query", format!("query `q`: `{text}` is too large for a height"))
        })?;
        let tip = store.height()?;
        if height == 0 || height > tip.0 {
            return Err(Problem::not_found(format!(
                "no block at height {height}; the committed height is {tip}"
            )));
        }
        return Ok(json!({ "kind": "block", "height": height, "href": format!("/v1/blocks/{height}") }));
    }
    if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        let hash = Hash::from_str(text)
            .map_err(|error| Problem::bad_request("query", format!("query `q`: {error}")))?;
        if let Some(height) = store.height_of_block(&BlockId(hash))? {
            return Ok(
                json!({ "kind": "block", "height": height, "block_id": hash, "href": format!("/v1/blocks/{height}") }),
            );
        }
        if let Some(TxLocation { height, index }) = store.tx_location(&TxId(hash))? {
            return Ok(
                json!({ "kind": "tx", "tx_id": hash, "height": height, "index": index, "href": format!("/v1/txs/{hash}") }),
            );
        }
        let snapshot = store.snapshot()?;
        if let Some(StateValue::BadgeAnchor(anchor)) =
            read_state(&snapshot, &StateKey::BadgeAnchor { batch_root: hash })?
        {
            return Ok(json!({
                "kind": "badge_batch", "root": hash, "member": anchor.member, "height": anchor.height,
                "leaf_count": anchor.leaf_count, "tx_id": anchor.tx_id, "href": format!("/v1/txs/{}", anchor.tx_id),
            }));
        }
        if let Some((member, height)) = store.badge_revocation(&hash)? {
            return Ok(
                json!({ "kind": "badge_revoked", "badge_hash": hash, "member": member, "height": height }),
            );
        }
        return Err(Problem::not_found(format!(
            "`{text}` is no block id, tx id, badge batch root or revoked badge; a badge hash that was never revoked is checked with its receipt (GET /v1/badges/{{hash}}?root=R)"
        )));
    }
    if text.starts_with("tally1") {
        let account = parse_account(text)?;
        return Ok(
            json!({ "kind": "account", "address": account.to_address(), "href": format!("/v1/accounts/{}", account.to_address()) }),
        );
    }
    if text.contains('@') {
        let asset = parse_asset(text, "query `q`")?;
        let snapshot = store.snapshot()?;
        return match read_asset(&snapshot, &asset)? {
            Some(_) => Ok(json!({ "kind": "asset", "asset": asset, "href": format!("/v1/assets/{asset}") })),
            None => Err(Problem::not_found(format!("no asset `{asset}`"))),
        };
    }
    if let Ok(member) = MemberId::from_str(text) {
        let snapshot = store.snapshot()?;
        if let Some(StateValue::Member(_)) =
            read_state(&snapshot, &StateKey::Member { member: member.clone() })?
        {
            return Ok(
                json!({ "kind": "provider", "member": member, "href": format!("/v1/providers/{member}") }),
            );
        }
        return Err(Problem::not_found(format!("no member `{member}`")));
    }
    Err(Problem::bad_request(
        "query",
        format!(
            "query `q`: `{text}` is not a height, block id, tx id, address, asset id, member id or badge hash"
        ),
    ))
}

/// A trade seen from the market `base`/`quote`: amounts of each, price in quote per base.
fn trade_json(record: &FillRecord, base: &AssetId, base_scale: u8, quote_scale: u8) -> serde_json::Value {
    let fill = &record.fill;
    // The taker sold `taker_sell`: if that is the base, the taker sold base (a sell), and the
    // maker's price is in base per quote (maker sells quote), so it is inverted.
    let taker_sold_base = &record.taker_sell == base;
    let (base_amount, quote_amount) =
        if taker_sold_base { (fill.taker_gave, fill.maker_gave) } else { (fill.maker_gave, fill.taker_gave) };
    let (numerator, denominator) = if taker_sold_base {
        (fill.price.denominator, fill.price.numerator)
    } else {
        (fill.price.numerator, fill.price.denominator)
    };
    let price = super::markets::reduced(tally_types::Price { numerator, denominator });
    let (price_text, exact) = human_price(price.numerator, price.denominator, base_scale, quote_scale);
    json!({
        "height": record.height,
        "tx_index": record.tx_index,
        "fill_index": record.fill_index,
        "time_ms": record.time_ms,
        "side": if taker_sold_base { "sell" } else { "buy" },
        "price": price_text,
        "price_exact": exact,
        "price_minor": { "numerator": price.numerator, "denominator": price.denominator },
        "base_amount": base_amount.display(base_scale),
        "base_amount_minor": base_amount,
        "quote_amount": quote_amount.display(quote_scale),
        "quote_amount_minor": quote_amount,
        "maker": fill.maker,
        "taker": fill.taker,
    })
}

fn market_assets(store: &Store, base: &AssetId, quote: &AssetId) -> Result<(u8, u8), Problem> {
    let snapshot = store.snapshot()?;
    let base_state =
        read_asset(&snapshot, base)?.ok_or_else(|| Problem::not_found(format!("no asset `{base}`")))?;
    let quote_state =
        read_asset(&snapshot, quote)?.ok_or_else(|| Problem::not_found(format!("no asset `{quote}`")))?;
    Ok((base_state.scale, quote_state.scale))
}

fn parse_market(base: &str, quote: &str) -> Result<(AssetId, AssetId), Problem> {
    let base = parse_asset(base, "base")?;
    let quote = parse_asset(quote, "quote")?;
    if base == quote {
        return Err(Problem::bad_request("same-asset", format!("base and quote are both `{base}`")));
    }
    Ok((base, quote))
}

/// `GET /v1/markets/{base}/{quote}/trades?before=H.T.F&limit=N`: fills, newest first.
pub(super) async fn get_trades(
    State(state): State<ApiState>,
    Path((base, quote)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let (base, quote) = parse_market(&base, &quote)?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => {
            let [height, tx, fill] = parse_cursor::<3>(text, "HEIGHT.TX.FILL")?;
            Some((Height(height), to_u32(tx, text)?, to_u32(fill, text)?))
        }
    };
    let body = read_store(&state, move |store| {
        let (base_scale, quote_scale) = market_assets(store, &base, &quote)?;
        let records = store.market_fills(&market_key(&base, &quote), before, limit + 1)?;
        let more = records.len() > limit;
        let trades: Vec<_> = records
            .iter()
            .take(limit)
            .map(|record| trade_json(record, &base, base_scale, quote_scale))
            .collect();
        let next = if more {
            records
                .get(limit - 1)
                .map(|record| format!("{}.{}.{}", record.height, record.tx_index, record.fill_index))
        } else {
            None
        };
        Ok(json!({
            "base": base, "quote": quote, "price_unit": format!("{quote} per {base}"),
            "height": store.height()?, "indexed_from": store.index_from()?, "trades": trades, "next": next,
        }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/markets/{base}/{quote}/summary`: last price and the volume of the 24 hours of block
/// time before the last block.
pub(super) async fn get_market_summary(
    State(state): State<ApiState>,
    Path((base, quote)): Path<(String, String)>,
) -> ApiResult {
    let (base, quote) = parse_market(&base, &quote)?;
    let body = read_store(&state, move |store| {
        let (base_scale, quote_scale) = market_assets(store, &base, &quote)?;
        let tip = store.height()?;
        let now_ms = match store.block(tip)? {
            Some(block) => block.header.time_ms,
            None => 0,
        };
        let since_ms = now_ms.saturating_sub(DAY_MS);
        let records = store.market_fills(&market_key(&base, &quote), None, DAY_FILLS_SCAN_MAX + 1)?;
        let mut base_volume: u128 = 0;
        let mut quote_volume: u128 = 0;
        let mut trades = 0u64;
        let mut truncated = records.len() > DAY_FILLS_SCAN_MAX;
        for record in records.iter().take(DAY_FILLS_SCAN_MAX) {
            if record.time_ms < since_ms {
                truncated = false;
                break;
            }
            let trade = trade_json(record, &base, base_scale, quote_scale);
            let minor =
                |name: &str| trade[name].as_str().and_then(|text| text.parse::<u128>().ok()).unwrap_or(0);
            base_volume = base_volume.saturating_add(minor("base_amount_minor"));
            quote_volume = quote_volume.saturating_add(minor("quote_amount_minor"));
            trades += 1;
        }
        let last = records.first().map(|record| trade_json(record, &base, base_scale, quote_scale));
        Ok(json!({
            "base": base, "quote": quote, "price_unit": format!("{quote} per {base}"), "height": tip,
            "last_trade": last,
            "last_price": last.as_ref().map(|trade| trade["price"].clone()),
            "window_from_ms": since_ms, "window_to_ms": now_ms,
            "trades_24h": trades,
            "base_volume_24h": tally_types::Amount(base_volume).display(base_scale),
            "base_volume_24h_minor": base_volume.to_string(),
            "quote_volume_24h": tally_types::Amount(quote_volume).display(quote_scale),
            "quote_volume_24h_minor": quote_volume.to_string(),
            "volume_24h_truncated": truncated,
        }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/providers/{member}`: credits issued by kind (rewards by reason, and per day over
/// the last [`PROVIDER_REWARD_DAYS`] days),
/// burned, settled usage (batches, amounts), badges anchored and revoked, holders per asset.
pub(super) async fn get_provider(State(state): State<ApiState>, Path(text): Path<String>) -> ApiResult {
    let member = MemberId::from_str(&text).map_err(|error| {
        Problem::bad_request("member-id", format!("`{text}` is not a member id: {error}"))
    })?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let Some(StateValue::Member(member_state)) = read_state(&snapshot, &StateKey::Member { member: member.clone() })?
        else {
            return Err(Problem::not_found(format!("no member `{member}`")));
        };
        let mut scales = Scales { snapshot: &snapshot, known: BTreeMap::new() };
        let (assets, badges) = provider_figures(store, &member, &mut scales)?;
        let mut reasons = rewards_by_reason(store, &member, &mut scales)?;
        let (days, days_from_ms) = rewards_by_day(store, &member, assets.keys(), &mut scales)?;
        let mut listed = Vec::new();
        for (asset, mut figures) in assets {
            let holders = store.figures(&format!("h/{asset}"), 1)?.first().map(|(_, count)| *count).unwrap_or(0);
            figures.insert("asset".into(), json!(asset));
            figures.insert("holders".into(), json!(holders));
            figures.insert("rewards_by_reason".into(), json!(reasons.remove(&asset).unwrap_or_default()));
            listed.push(serde_json::Value::Object(figures));
        }
        Ok(json!({
            "member": member,
            "name": member_state.name,
            "height": snapshot.height(),
            "indexed_from": store.index_from()?,
            "assets": listed,
            "badges": badges,
            "rewards_by_day": days,
            "rewards_by_day_from_ms": days_from_ms,
            "units_note": "usage units are not on the ledger (only each batch's usage root); settled amounts are",
        }))
    })
    .await?;
    ok_json(body)
}

/// A provider's figures per asset, by figure name (amounts also in minor units), and its
/// badge figures.
type ProviderFigures = (
    BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    serde_json::Map<String, serde_json::Value>,
);

/// Assets' scales for showing amounts, each read once from the snapshot; an asset that is not
/// on the ledger (or not an asset id) shows in minor units (scale 0).
struct Scales<'a> {
    snapshot: &'a tally_store::Snapshot<'a>,
    known: BTreeMap<String, u8>,
}

impl Scales<'_> {
    fn of(&mut self, asset: &str) -> Result<u8, Problem> {
        if let Some(scale) = self.known.get(asset) {
            return Ok(*scale);
        }
        let scale = match AssetId::from_str(asset) {
            Ok(id) => read_asset(self.snapshot, &id)?.map(|state| state.scale).unwrap_or(0),
            Err(_) => 0,
        };
        self.known.insert(asset.to_owned(), scale);
        Ok(scale)
    }
}

/// The member's figures (`m/{member}/{asset}/{name}`): per asset, and its badges (asset `-`).
fn provider_figures(
    store: &Store,
    member: &MemberId,
    scales: &mut Scales<'_>,
) -> Result<ProviderFigures, Problem> {
    let mut assets: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    let mut badges = serde_json::Map::new();
    for (key, value) in store.figures(&format!("m/{member}/"), FIGURES_MAX)? {
        let mut parts = key.splitn(4, '/').skip(2);
        let (Some(asset), Some(name)) = (parts.next(), parts.next()) else { continue };
        if asset == "-" {
            badges.insert(name.to_owned(), json!(value));
            continue;
        }
        let scale = scales.of(asset)?;
        let entry = assets.entry(asset.to_owned()).or_default();
        if name == "settled_batches" {
            entry.insert(name.to_owned(), json!(value));
        } else {
            entry.insert(name.to_owned(), json!(tally_types::Amount(value).display(scale)));
            entry.insert(format!("{name}_minor"), json!(value.to_string()));
        }
    }
    Ok((assets, badges))
}

/// The member's rewards per asset, by reason (`r/{member}/{asset}/{reason}`).
fn rewards_by_reason(
    store: &Store,
    member: &MemberId,
    scales: &mut Scales<'_>,
) -> Result<BTreeMap<String, serde_json::Map<String, serde_json::Value>>, Problem> {
    let mut reasons: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for (key, value) in store.figures(&format!("r/{member}/"), FIGURES_MAX)? {
        let mut parts = key.splitn(4, '/').skip(2);
        let (Some(asset), Some(reason)) = (parts.next(), parts.next()) else { continue };
        let scale = scales.of(asset)?;
        reasons
            .entry(asset.to_owned())
            .or_default()
            .insert(reason.to_owned(), json!(tally_types::Amount(value).display(scale)));
    }
    Ok(reasons)
}

/// The member's rewards per asset, day and reason (`d/{member}/{asset}/{day}/{reason}`) over
/// the [`PROVIDER_REWARD_DAYS`] days of block time that end with the tip's day, for each of
/// `assets`: a bounded read however long the chain has run (the whole series, bucketed, is
/// `GET /v1/providers/{member}/rewards`). Returns the rows and the window's first day in ms.
fn rewards_by_day<'a>(
    store: &Store,
    member: &MemberId,
    assets: impl Iterator<Item = &'a String>,
    scales: &mut Scales<'_>,
) -> Result<(Vec<serde_json::Value>, u64), Problem> {
    let tip_ms = match store.block(store.height()?)? {
        Some(block) => block.header.time_ms,
        None => 0,
    };
    let last_day = tip_ms / DAY_MS;
    let first_day = (last_day + 1).saturating_sub(PROVIDER_REWARD_DAYS);
    let mut days = Vec::new();
    for asset in assets {
        let prefix = format!("d/{member}/{asset}/");
        let (figures, _) = store.figures_between(
            &format!("{prefix}{first_day:010}/"),
            &format!("{prefix}{:010}/", last_day + 1),
            FIGURES_MAX,
        )?;
        for (key, value) in figures {
            let mut parts = key.splitn(5, '/').skip(3);
            let (Some(day), Some(reason)) = (parts.next(), parts.next()) else { continue };
            let scale = scales.of(asset)?;
            let day: u64 = day.parse().unwrap_or(0);
            days.push(json!({
                "asset": asset, "day_start_ms": day * DAY_MS, "reason": reason,
                "amount": tally_types::Amount(value).display(scale), "amount_minor": value.to_string(),
            }));
        }
    }
    Ok((days, first_day * DAY_MS))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    from: Option<String>,
    accounts: Option<String>,
}

/// What one stream has sent and follows.
struct EventCursor {
    state: ApiState,
    next: Height,
    accounts: Arc<Vec<PublicKey>>,
    pending: std::collections::VecDeque<Event>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The events of blocks `from..=to`: one `block` event each, then a `tx` event per transaction
/// of a followed account. Event ids are heights, so `Last-Event-ID` resumes after a block.
fn events_of(store: &Store, accounts: &[PublicKey], from: Height, to: Height) -> Result<Vec<Event>, Problem> {
    let mut events = Vec::new();
    for height in from.0..=to.0 {
        let height = Height(height);
        let block = store.block(height)?.ok_or_else(|| internal(format!("block {height} is missing")))?;
        let receipts =
            store.receipts(height)?.ok_or_else(|| internal(format!("receipts {height} are missing")))?;
        let mut tx_events = Vec::new();
        for account in accounts {
            for index in store.account_txs_at(account, height)? {
                let mut summary = tx_summary(&block, &receipts, index)?;
                summary["account"] = json!(account);
                tx_events.push(Event::default().event("tx").id(height.to_string()).data(summary.to_string()));
            }
        }
        let summary = json!({
            "height": height, "block_id": block.id(), "time_ms": block.header.time_ms,
            "view": block.header.view, "proposer": block.header.proposer, "txs": block.txs.len(),
        });
        // The tx events come before their block's event: a client that resumes after the block
        // (its id) has had them all.
        events.extend(tx_events);
        events.push(Event::default().event("block").id(height.to_string()).data(summary.to_string()));
    }
    Ok(events)
}

/// `GET /v1/events?from=H&accounts=A,B`: server-sent events of committed blocks from height
/// `H` (or the `Last-Event-ID` + 1, or the next block), with the transactions touching the
/// given accounts.
pub(super) async fn events(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let accounts = event_accounts(query.accounts.as_deref())?;
    let resume = last_event_id(&headers)?;
    let from = event_start(&state, query.from.as_deref(), resume).await?;
    let permit = Arc::clone(event_streams()).try_acquire_owned().map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Node busy",
            format!("the node serves {EVENT_STREAMS_MAX} event streams already; try again later"),
        )
    })?;
    let cursor = EventCursor {
        state,
        next: from,
        accounts: Arc::new(accounts),
        pending: std::collections::VecDeque::new(),
        _permit: permit,
    };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(event) = cursor.pending.pop_front() {
                return Some((Ok::<Event, std::convert::Infallible>(event), cursor));
            }
            if cursor.next == Height(u64::MAX) {
                return None;
            }
            let mut committed = cursor.state.committed.clone();
            committed.borrow_and_update();
            let next = cursor.next;
            let accounts = Arc::clone(&cursor.accounts);
            let read = read_store(&cursor.state, move |store| {
                let tip = store.height()?;
                if tip < next {
                    return Ok(None);
                }
                let to = Height(tip.0.min(next.0.saturating_add(EVENT_BLOCKS_PER_STEP - 1)));
                Ok(Some((to, events_of(store, &accounts, next, to)?)))
            })
            .await;
            match read {
                Ok(Some((to, events))) => {
                    cursor.next = to.next();
                    cursor.pending.extend(events);
                }
                Ok(None) => {
                    // Wait for the next commit; an engine that is gone ends the stream.
                    if committed.changed().await.is_err() {
                        return None;
                    }
                }
                Err(problem) => {
                    let event = Event::default().event("error").data(problem.document().to_string());
                    // One error event, then the stream ends.
                    cursor.next = Height(u64::MAX);
                    return Some((Ok(event), cursor));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// The `Last-Event-ID` header's text, if sent; a value that is not visible ASCII is refused
/// rather than ignored (it cannot be a height).
fn last_event_id(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    headers
        .get("last-event-id")
        .map(|value| {
            value.to_str().map_err(|_| {
                Problem::bad_request(
                    "last-event-id",
                    "header Last-Event-ID: not visible ASCII, so not a height",
                )
            })
        })
        .transpose()
}

/// The accounts of `?accounts=A,B` (none when absent or empty), at most
/// `EVENT_ACCOUNTS_MAX`.
fn event_accounts(list: Option<&str>) -> Result<Vec<PublicKey>, Problem> {
    let mut accounts = Vec::new();
    if let Some(list) = list.filter(|list| !list.is_empty()) {
        for text in list.split(',') {
            accounts.push(PublicKey::parse_recorded(text).map_err(|error| {
                Problem::bad_request(
                    "address",
                    format!("query `accounts`: `{text}` is not an address: {error}"),
                )
            })?);
            if accounts.len() > EVENT_ACCOUNTS_MAX {
                return Err(Problem::bad_request(
                    "query",
                    format!("query `accounts`: more than {EVENT_ACCOUNTS_MAX} accounts; open another stream"),
                ));
            }
        }
    }
    Ok(accounts)
}

/// The first height an event stream sends: after `Last-Event-ID` (`resume`) when a client
/// resumes, else `?from=`, else the block after the committed height. A malformed `?from=` is
/// refused even when `Last-Event-ID` takes precedence: a browser resuming a stream sends the
/// same URL again, so a `from` that is wrong then was wrong from the start.
async fn event_start(state: &ApiState, from: Option<&str>, resume: Option<&str>) -> Result<Height, Problem> {
    let from = match from {
        None => None,
        Some(text) => {
            let height = text.parse::<u64>().map_err(|_| {
                Problem::bad_request(
                    "query",
                    format!("query `from`: `{text}` is not a height (a whole number ≥ 1)"),
                )
            })?;
            if height == 0 {
                return Err(Problem::bad_request("query", "query `from`: blocks start at height 1"));
            }
            Some(Height(height))
        }
    };
    let start = match (from, resume) {
        (_, Some(text)) => {
            let last = text.parse::<u64>().ok().filter(|last| *last < u64::MAX).ok_or_else(|| {
                Problem::bad_request(
                    "last-event-id",
                    format!("header Last-Event-ID: `{text}` is not a height"),
                )
            })?;
            Height(last + 1)
        }
        (Some(height), None) => height,
        (None, None) => read_store(state, |store| Ok(store.height()?.next())).await?,
    };
    Ok(start)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvidenceQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// One stored evidence record as JSON: both signed messages (votes as signed; proposals with
/// the header of their block), who signed them, and the record's borsh bytes for checking.
fn evidence_json(key: &[u8; 40], record: &[u8]) -> Result<serde_json::Value, Problem> {
    let evidence: tally_consensus::Evidence = borsh::from_slice(record)
        .map_err(|error| internal(format!("stored evidence does not decode: {error}")))?;
    let proposal = |proposal: &tally_types::Proposal| {
        json!({
            "view": proposal.view,
            "parent_view": proposal.parent_view,
            "block_id": proposal.block.id(),
            "header": proposal.block.header,
            "signature": proposal.signature,
        })
    };
    let (kind, view, signer, first, second) = match &evidence {
        tally_consensus::Evidence::ConflictingProposals { first, second } => (
            "conflicting_proposals",
            first.view,
            first.block.header.proposer,
            proposal(first),
            proposal(second),
        ),
        tally_consensus::Evidence::ConflictingVotes { first, second } => (
            "conflicting_votes",
            first.subject.view(),
            first.signer,
            serde_json::to_value(first.as_ref()).map_err(internal)?,
            serde_json::to_value(second.as_ref()).map_err(internal)?,
        ),
    };
    Ok(json!({
        "key": hex::encode(key),
        "kind": kind,
        "view": view,
        "epoch": view.epoch(),
        "signer": signer,
        "first": first,
        "second": second,
        "record": hex::encode(record),
    }))
}

/// `GET /v1/evidence?after=KEY&limit=N`: equivocation evidence this node saw (both signed
/// messages of each), oldest view first; `next` is the cursor of the next page.
pub(super) async fn list_evidence(
    State(state): State<ApiState>,
    query: Result<Query<EvidenceQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let after = match query.after.as_deref() {
        None => None,
        Some(text) => {
            let bytes = hex::decode(text).ok().and_then(|bytes| <[u8; 40]>::try_from(bytes).ok());
            Some(bytes.ok_or_else(|| Problem::bad_request("after", "a cursor: 80 hex digits from `next`"))?)
        }
    };
    let body = read_store(&state, move |store| {
        let page = store.evidence_page(after, limit)?;
        let listed =
            page.iter().map(|(key, record)| evidence_json(key, record)).collect::<Result<Vec<_>, _>>()?;
        let next = match page.last() {
            Some((key, _)) if page.len() == limit => Some(hex::encode(key)),
            _ => None,
        };
        Ok(json!({ "evidence": listed, "next": next }))
    })
    .await?;
    ok_json(body)
}
