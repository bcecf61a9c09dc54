//! Price plans for gateways and the `tally price` commands (docs/ARCHITECTURE.md "Price
//! plans"): the node's plan reads, plan files, quotes, and a settlement builder whose amount is
//! the one the ledger accepts.
//!
//! A gateway meters calls per item, holds the developer's credits, and settles:
//!
//! ```
//! use tally_client::pricing::Settlement;
//! use tally_types::pricing::{PlanItem, PricePlan, Tier, UnitPrice};
//! use tally_types::{BoundedString, BoundedVec, ItemName, OpId, PlanId};
//!
//! let plan = PricePlan {
//!     plan_id: PlanId::new("standard").unwrap(),
//!     version: 1,
//!     asset: "ACME@acme".parse().unwrap(),
//!     title: BoundedString::new("Standard").unwrap(),
//!     items: BoundedVec::new(vec![PlanItem {
//!         item: ItemName::new("search.query").unwrap(),
//!         included_per_hold: 0,
//!         tiers: BoundedVec::new(vec![Tier { up_to: None, unit_price: UnitPrice::parse("2").unwrap() }]).unwrap(),
//!     }])
//!     .unwrap(),
//!     packs: BoundedVec::empty(),
//! };
//! let mut settlement = Settlement::new(&plan);
//! settlement.add(&ItemName::new("search.query").unwrap(), 3).unwrap();
//! // No units settled before under this version: the tier position is 0 for every item.
//! let (op, charge) = settlement.build(OpId([1; 16]), OpId([2; 16]), tally_types::Hash([0; 32]), |_| 0).unwrap();
//! assert_eq!(charge.total.0, 6);
//! # let _ = op;
//! ```
//!
//! Before a developer agrees to a plan, [`quote`] prices the same usage under every candidate
//! ([`plans_pricing`]: each active plan that prices all its items) from the node, in each
//! plan's asset and, through the market's last price ([`convert`]), in one asset of choice.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tally_types::codec::BoundedVec;
use tally_types::pricing::{self, Charge, ChargeError, PlanRef, PricePlan, UsageLine};
use tally_types::{Amount, AssetId, Hash, Height, ItemName, MemberId, Op, OpId, PublicKey, limits};

use crate::http::{HttpError, NodeClient};

/// One plan version as `GET /v1/plans` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanVersion {
    pub member: MemberId,
    pub plan_id: tally_types::PlanId,
    pub version: u32,
    /// `active` or `retired`.
    pub status: String,
    pub published_at: Height,
    pub retired_at: Option<Height>,
    pub plan: PricePlan,
}

/// `GET /v1/plans`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanListing {
    pub height: Height,
    pub plans: Vec<PlanVersion>,
    pub truncated: bool,
}

/// `GET /v1/plans/{member}/{plan_id}`: the versions, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanVersions {
    pub height: Height,
    pub member: MemberId,
    pub plan_id: tally_types::PlanId,
    pub versions: Vec<PlanVersion>,
}

/// Settled units of one item under a plan version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemUsage {
    pub item: ItemName,
    pub units: u64,
    /// The tier position: billable units settled.
    pub billed: u64,
    pub charged: Amount,
}

/// `GET /v1/plans/{member}/{plan_id}/{version}/usage/{holder}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanUsage {
    pub height: Height,
    pub items: Vec<ItemUsage>,
}

impl PlanUsage {
    /// The tier position of `item`: billable units settled before.
    pub fn billed(&self, item: &ItemName) -> u64 {
        self.items.iter().find(|usage| &usage.item == item).map_or(0, |usage| usage.billed)
    }
}

fn typed<T: serde::de::DeserializeOwned>(client: &NodeClient, path: &str) -> Result<T, HttpError> {
    let value = client.get_json(path)?;
    serde_json::from_value(value).map_err(|error| HttpError::BadResponse {
        url: format!("{}{path}", client.base_url()),
        status: 200,
        reason: format!("unexpected JSON shape: {error}"),
    })
}

/// Every plan version, optionally one member's or those that price `item`.
pub fn plans(
    client: &NodeClient,
    member: Option<&MemberId>,
    item: Option<&ItemName>,
) -> Result<PlanListing, HttpError> {
    // Member ids and item names hold only [a-z0-9._-]: nothing needs escaping.
    let mut query = Vec::new();
    if let Some(member) = member {
        query.push(format!("member={member}"));
    }
    if let Some(item) = item {
        query.push(format!("item={item}"));
    }
    let suffix = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    typed(client, &format!("/v1/plans{suffix}"))
}

/// One plan's versions, or `None` if the member never published it.
pub fn plan(
    client: &NodeClient,
    member: &MemberId,
    plan_id: &tally_types::PlanId,
) -> Result<Option<PlanVersions>, HttpError> {
    match typed(client, &format!("/v1/plans/{member}/{plan_id}")) {
        Ok(versions) => Ok(Some(versions)),
        Err(HttpError::Problem { status: 404, .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// One plan version of `member`, or `None`.
pub fn plan_version(
    client: &NodeClient,
    member: &MemberId,
    plan: &PlanRef,
) -> Result<Option<PlanVersion>, HttpError> {
    Ok(self::plan(client, member, &plan.plan_id)?
        .and_then(|versions| versions.versions.into_iter().find(|version| version.version == plan.version)))
}

/// What `holder` settled under `member`'s plan version.
pub fn usage(
    client: &NodeClient,
    member: &MemberId,
    plan: &PlanRef,
    holder: &PublicKey,
) -> Result<PlanUsage, HttpError> {
    typed(
        client,
        &format!("/v1/plans/{member}/{}/{}/usage/{}", plan.plan_id, plan.version, holder.to_address()),
    )
}

/// Every active plan version that prices all of `items` (the candidates of a quote).
pub fn plans_pricing(client: &NodeClient, items: &[ItemName]) -> Result<Vec<PlanVersion>, HttpError> {
    Ok(pricing_candidates(plans(client, None, None)?.plans, items))
}

/// The active versions of `listed` that price all of `items`, in the listing's order.
pub fn pricing_candidates(listed: Vec<PlanVersion>, items: &[ItemName]) -> Vec<PlanVersion> {
    listed
        .into_iter()
        .filter(|version| version.status == "active")
        .filter(|version| items.iter().all(|item| version.plan.item(item).is_some()))
        .collect()
}

/// `amount` of `from` in `to` through the last trade of the market between them, rounded
/// down; `None` when it has not traded (or the product overflows).
pub fn convert(
    client: &NodeClient,
    amount: Amount,
    from: &AssetId,
    to: &AssetId,
) -> Result<Option<Amount>, HttpError> {
    if from == to {
        return Ok(Some(amount));
    }
    // The summary's price is in the pair's order as asked: minor units of `to` per minor unit
    // of `from`.
    let summary = client.get_json(&format!("/v1/markets/{from}/{to}/summary"))?;
    let price = &summary["last_trade"]["price_minor"];
    let (Some(numerator), Some(denominator)) = (price["numerator"].as_u64(), price["denominator"].as_u64())
    else {
        return Ok(None);
    };
    if denominator == 0 {
        return Ok(None);
    }
    Ok(amount.0.checked_mul(u128::from(numerator)).map(|product| Amount(product / u128::from(denominator))))
}

/// What usage costs under one plan version: its charge (or why the plan cannot price it) and,
/// when asked, the total in another asset.
#[derive(Debug)]
pub struct Quote {
    pub member: MemberId,
    pub plan: PlanRef,
    pub asset: AssetId,
    pub charge: Result<Charge, ChargeError>,
    /// The total in the asked asset through the market's last price; `None` when not asked,
    /// not priced, or the market has not traded.
    pub converted: Option<Amount>,
}

/// What `lines` cost under one plan version from `position` (the holder's settled usage under
/// it; a new holder's when `None`): the pure part of [`quote`], which the TypeScript SDK's
/// `quote` reproduces (client/tests/quote_vectors.rs writes the vectors it is checked against).
pub fn price_under(
    version: &PlanVersion,
    lines: &[UsageLine],
    position: Option<&PlanUsage>,
) -> Result<Charge, ChargeError> {
    pricing::price_lines(&version.plan, lines, |item| position.map_or(0, |usage| usage.billed(item)))
}

/// What `lines` cost under each of `candidates`, from `holder`'s tier position under each
/// (a new holder's when `None`), and in `in_asset` through the market's last price: the
/// comparison a gateway or a developer makes before agreeing to a plan.
pub fn quote(
    client: &NodeClient,
    candidates: &[PlanVersion],
    lines: &[UsageLine],
    holder: Option<&PublicKey>,
    in_asset: Option<&AssetId>,
) -> Result<Vec<Quote>, HttpError> {
    let mut quotes = Vec::with_capacity(candidates.len());
    for version in candidates {
        let plan = PlanRef { plan_id: version.plan_id.clone(), version: version.version };
        let position = match holder {
            Some(holder) => Some(usage(client, &version.member, &plan, holder)?),
            None => None,
        };
        let charge = price_under(version, lines, position.as_ref());
        let converted = match (&charge, in_asset) {
            (Ok(charge), Some(target)) => convert(client, charge.total, &version.plan.asset, target)?,
            _ => None,
        };
        quotes.push(Quote {
            member: version.member.clone(),
            plan,
            asset: version.plan.asset.clone(),
            charge,
            converted,
        });
    }
    Ok(quotes)
}

/// Why a plan file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a price plan: {reason}")]
    Json { path: String, reason: String },
    #[error("{path}: {0}", path = .1)]
    Form(pricing::PlanError, String),
    #[error(
        "{path}: the plan encodes to {bytes} bytes, and a transaction holds at most {max} with its signature and fields: use fewer items, tiers or packs, or shorter names",
        max = limits::TX_BYTES_MAX - TX_FRAME_BYTES
    )]
    TooLarge { path: String, bytes: usize },
}

/// Room a transaction needs besides its ops: chain id, signer, seq, validity, memo and
/// signature (an upper bound).
const TX_FRAME_BYTES: usize = 256;

/// The largest plan file read: a plan fits one transaction (8 KiB) encoded; JSON is wordier.
pub const PLAN_FILE_BYTES_MAX: u64 = 256 * 1024;

/// Reads a plan file (the JSON of [`PricePlan`]: prices are minor units of the asset per unit,
/// as decimal strings) and checks its form as the ledger will.
pub fn read_plan_file(path: &Path) -> Result<PricePlan, PlanFileError> {
    let shown = path.display().to_string();
    let read = |reason: String| PlanFileError::Read { path: shown.clone(), reason };
    let metadata = std::fs::metadata(path).map_err(|error| read(error.to_string()))?;
    if metadata.len() > PLAN_FILE_BYTES_MAX {
        return Err(read(format!("the file is larger than {PLAN_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|error| read(error.to_string()))?;
    let plan: PricePlan = serde_json::from_str(&text)
        .map_err(|error| PlanFileError::Json { path: shown.clone(), reason: error.to_string() })?;
    plan.check().map_err(|error| PlanFileError::Form(error, shown.clone()))?;
    // The counts the limits allow (64 items of 8 tiers) do not all fit one transaction; say so
    // here rather than when the signed transaction is refused.
    let bytes = tally_types::codec::encode(&Op::PublishPlan(Box::new(plan.clone()))).len();
    if bytes + TX_FRAME_BYTES > limits::TX_BYTES_MAX {
        return Err(PlanFileError::TooLarge { path: shown, bytes });
    }
    Ok(plan)
}

/// Usage gathered per item for one settlement, priced by one plan version.
pub struct Settlement<'a> {
    plan: &'a PricePlan,
    units: BTreeMap<ItemName, u64>,
}

impl<'a> Settlement<'a> {
    /// An empty settlement under `plan`.
    pub fn new(plan: &'a PricePlan) -> Self {
        Settlement { plan, units: BTreeMap::new() }
    }

    /// Adds `units` of `item`; refuses an item the plan does not price, or a count past u64.
    pub fn add(&mut self, item: &ItemName, units: u64) -> Result<(), ChargeError> {
        if self.plan.item(item).is_none() {
            return Err(ChargeError::UnknownItem(item.clone()));
        }
        let sum = self.units.entry(item.clone()).or_insert(0);
        *sum = sum.checked_add(units).ok_or_else(|| ChargeError::Overflow(item.clone()))?;
        Ok(())
    }

    /// The usage lines: units per item, sorted, zero lines left out.
    pub fn lines(&self) -> Vec<UsageLine> {
        self.units
            .iter()
            .filter(|(_, units)| **units > 0)
            .map(|(item, units)| UsageLine { item: item.clone(), units: *units })
            .collect()
    }

    /// The `Settle` op for `hold_id` under `batch_id` and its charge, given the holder's tier
    /// position per item (`billed_before`, from [`usage`]): the amount is the plan's, so the
    /// ledger accepts it unless the usage moved meanwhile.
    pub fn build(
        &self,
        hold_id: OpId,
        batch_id: OpId,
        usage_root: Hash,
        billed_before: impl Fn(&ItemName) -> u64,
    ) -> Result<(Op, Charge), ChargeError> {
        let lines = self.lines();
        let charge = pricing::price_lines(self.plan, &lines, billed_before)?;
        // Every line is an item of the plan (price_lines refused any other, and the lines are
        // one per item), and a plan has at most SETTLE_LINES_MAX items (limits.rs asserts it).
        let lines: BoundedVec<UsageLine, { limits::SETTLE_LINES_MAX }> =
            BoundedVec::new(lines).expect("one line per item of the plan");
        let op = crate::txbuild::settle_op(hold_id, batch_id, charge.total, usage_root, lines);
        Ok((op, charge))
    }
}
