//! Typed reads of the node's order-book and metered-usage endpoints (`node/src/api/markets.rs`):
//! the book of a market, an account's offers, one offer, holds, settlement batches and spend
//! authorizations. A gateway uses [`batch`] to check a batch id before settling.
//!
//! Lookups of one entry return `Ok(None)` on the node's 404, so "not there" is an answer, not
//! an error; every other problem is the node's [`HttpError`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tally_types::tx::OfferMode;
use tally_types::{Amount, AssetId, Hash, Height, MemberId, OpId, Price, PublicKey};

use crate::http::{HttpError, NodeClient};

/// An asset and its scale, as a book names its base and quote.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssetScale {
    pub asset: AssetId,
    pub scale: u8,
}

/// The minor-unit price of a level, in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinorPrice {
    pub numerator: u64,
    pub denominator: u64,
}

/// One aggregated price level.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BookLevel {
    /// Human units of quote per base; exact when `price_exact`.
    pub price: String,
    pub price_exact: bool,
    /// Minor units of quote per minor unit of base.
    pub price_minor: MinorPrice,
    /// Human units of what the side sells (base for asks, quote for bids).
    pub amount: String,
    pub amount_minor: Amount,
    pub offers: u64,
}

/// `GET /v1/markets/{base}/{quote}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Book {
    pub height: Height,
    pub base: AssetScale,
    pub quote: AssetScale,
    pub price_unit: String,
    /// Offers selling base for quote, lowest price first.
    pub asks: Vec<BookLevel>,
    /// Offers selling quote for base, highest price first.
    pub bids: Vec<BookLevel>,
    pub asks_truncated: bool,
    pub bids_truncated: bool,
}

/// One offer, open or closed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferInfo {
    pub owner: PublicKey,
    pub offer_id: OpId,
    pub sell: AssetId,
    pub buy: AssetId,
    /// Human units of `buy` per `sell`.
    pub price: String,
    pub price_exact: bool,
    pub price_minor: Price,
    pub mode: OfferMode,
    pub amount: String,
    pub amount_minor: Amount,
    pub remaining: String,
    pub remaining_minor: Amount,
    /// `open`, `filled`, `cancelled` or `closed`.
    pub status: String,
}

/// `GET /v1/accounts/{addr}/offers`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferPage {
    pub height: Height,
    pub offers: Vec<OfferInfo>,
    /// Pass as `after` for the next page.
    pub next: Option<OpId>,
}

/// What a settled hold captured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SettledInfo {
    pub batch_id: OpId,
    pub amount: String,
    pub amount_minor: Amount,
    pub height: Height,
}

/// `GET /v1/holds/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldInfo {
    pub hold_id: OpId,
    pub member: MemberId,
    pub holder: PublicKey,
    pub asset: AssetId,
    pub amount: String,
    pub amount_minor: Amount,
    pub expires_at_ms: u64,
    pub created_at: Height,
    /// `open`, `settled`, `voided` or `expired`.
    pub status: String,
    #[serde(default)]
    pub settled: Option<SettledInfo>,
    /// The price plan version the hold settles by, if any.
    #[serde(default)]
    pub plan: Option<tally_types::pricing::PlanRef>,
}

/// `GET /v1/batches/{member}/{batch_id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchInfo {
    pub member: MemberId,
    pub batch_id: OpId,
    pub hold_id: OpId,
    pub asset: Option<AssetId>,
    pub amount: Option<String>,
    pub amount_minor: Amount,
    pub usage_root: Hash,
    /// The height the batch was settled at.
    pub height: Height,
}

/// `GET /v1/authorizations/{holder}/{provider}/{asset}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationInfo {
    pub holder: PublicKey,
    pub provider: MemberId,
    pub asset: AssetId,
    pub cap: String,
    pub cap_minor: Amount,
    pub cap_remaining: String,
    pub cap_remaining_minor: Amount,
    pub expires_at_ms: u64,
    /// The price plan version agreed to, if any.
    #[serde(default)]
    pub plan: Option<tally_types::pricing::PlanRef>,
}

fn typed<T: DeserializeOwned>(client: &NodeClient, path: &str) -> Result<T, HttpError> {
    let value = client.get_json(path)?;
    serde_json::from_value(value).map_err(|error| HttpError::BadResponse {
        url: format!("{}{path}", client.base_url()),
        status: 200,
        reason: format!("unexpected JSON shape: {error}"),
    })
}

fn optional<T: DeserializeOwned>(client: &NodeClient, path: &str) -> Result<Option<T>, HttpError> {
    match typed(client, path) {
        Ok(value) => Ok(Some(value)),
        Err(HttpError::Problem { status: 404, .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

// Asset ids, member ids, op ids and bech32 addresses hold only [A-Za-z0-9@-]: nothing in a
// path built from them needs escaping.

/// The book of `base` against `quote`, up to `limit` levels per side.
pub fn book(client: &NodeClient, base: &AssetId, quote: &AssetId, limit: usize) -> Result<Book, HttpError> {
    typed(client, &format!("/v1/markets/{base}/{quote}?limit={limit}"))
}

/// One page of `owner`'s offers (open only unless `all`).
pub fn offers_of(
    client: &NodeClient,
    owner: &PublicKey,
    all: bool,
    after: Option<&OpId>,
    limit: usize,
) -> Result<OfferPage, HttpError> {
    let status = if all { "all" } else { "open" };
    let mut path = format!("/v1/accounts/{}/offers?status={status}&limit={limit}", owner.to_address());
    if let Some(after) = after {
        path.push_str(&format!("&after={after}"));
    }
    typed(client, &path)
}

/// One offer, or `None` if `owner` has none with that id.
pub fn offer(
    client: &NodeClient,
    owner: &PublicKey,
    offer_id: &OpId,
) -> Result<Option<OfferInfo>, HttpError> {
    optional(client, &format!("/v1/offers/{}/{offer_id}", owner.to_address()))
}

/// A hold, or `None` if no hold has that id.
pub fn hold(client: &NodeClient, hold_id: &OpId) -> Result<Option<HoldInfo>, HttpError> {
    optional(client, &format!("/v1/holds/{hold_id}"))
}

/// The settlement `member` made under `batch_id`, or `None` if the batch id is unused.
pub fn batch(
    client: &NodeClient,
    member: &MemberId,
    batch_id: &OpId,
) -> Result<Option<BatchInfo>, HttpError> {
    optional(client, &format!("/v1/batches/{member}/{batch_id}"))
}

/// `holder`'s authorization of `provider` on `asset`, or `None`.
pub fn authorization(
    client: &NodeClient,
    holder: &PublicKey,
    provider: &MemberId,
    asset: &AssetId,
) -> Result<Option<AuthorizationInfo>, HttpError> {
    optional(client, &format!("/v1/authorizations/{}/{provider}/{asset}", holder.to_address()))
}
