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

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tally_types::codec::BoundedVec;
use tally_types::pricing::{self, Charge, ChargeError, PlanRef, PricePlan, UsageLine};
use tally_types::{Amount, Hash, Height, ItemName, MemberId, Op, OpId, PublicKey, limits};

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

/// Why a plan file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a price plan: {reason}")]
    Json { path: String, reason: String },
    #[error("{path}: {0}", path = .1)]
    Form(pricing::PlanError, String),
}

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
    plan.check().map_err(|error| PlanFileError::Form(error, shown))?;
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
        let lines: BoundedVec<UsageLine, { limits::SETTLE_LINES_MAX }> =
            BoundedVec::new(lines).map_err(|lines| {
                ChargeError::Overflow(
                    lines.last().map(|line| line.item.clone()).expect("more than the limit"),
                )
            })?;
        let op = crate::txbuild::settle_op(hold_id, batch_id, charge.total, usage_root, lines);
        Ok((op, charge))
    }
}
