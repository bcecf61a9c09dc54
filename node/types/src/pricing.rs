//! Price plans (docs/ARCHITECTURE.md "Price plans"): what a provider charges per metered item,
//! in one form for every provider, and the one function that turns usage into an amount.
//!
//! A plan version prices each metered item (`search.query`, `tokens.output`) in minor units of
//! the provider's asset per unit, exact to a billionth, with graduated volume tiers (the first
//! 1,000,000 units at 2, the rest at 1.5: each unit is priced by the tier its position falls
//! in, as Stripe's graduated tiers are) and an allowance of free units per hold. It also lists
//! the credit packs the provider sells, priced in a reference currency.
//!
//! The charge for one settlement is computed here, by the ledger and by every client alike
//! ([`price_lines`]): the units beyond the hold's allowance are *billable*; the tier position
//! is the billable units the holder settled before under the same plan version; and the amount
//! is `⌊cost(before + billable)⌋ − ⌊cost(before)⌋`, where `cost(n)` is the exact price of the
//! first `n` billable units in billionths of a minor unit and `⌊·⌋` rounds down to minor units.
//! The charges of a holder's settlements under one version therefore always add up to
//! `⌊cost(total billable units)⌋`: rounding never accumulates, however the usage is split.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::amount::{Amount, AmountError};
use crate::codec::{BoundedString, BoundedVec};
use crate::ids::{AssetId, Currency, ItemName, PlanId};
use crate::limits;

/// Billionths of a minor unit in one minor unit.
pub const NANOS_PER_MINOR: u128 = 1_000_000_000;
const _: () = assert!(10u128.pow(limits::UNIT_PRICE_SCALE as u32) == NANOS_PER_MINOR);

/// A price per unit: billionths of a minor unit of the plan's asset. JSON carries it as a
/// decimal string of minor units with up to 9 decimals (`"1.5"`, `"0.002"`).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, BorshSerialize, BorshDeserialize,
)]
pub struct UnitPrice(pub u128);

impl UnitPrice {
    /// Parses minor units per unit (`1.5`), exact to [`limits::UNIT_PRICE_SCALE`] decimals,
    /// over the whole `u128` range of billionths (digits, at most one point, no sign).
    pub fn parse(text: &str) -> Result<UnitPrice, AmountError> {
        let scale = usize::from(limits::UNIT_PRICE_SCALE);
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(AmountError::NotANumber(text.to_owned()));
        }
        // Trailing zeros add no precision.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > scale {
            return Err(AmountError::TooManyDecimals {
                text: text.to_owned(),
                given: fraction.len() as u32,
                scale: limits::UNIT_PRICE_SCALE,
            });
        }
        let overflow = || AmountError::Overflow(text.to_owned());
        let whole: u128 = whole.parse().map_err(|_| overflow())?;
        let fraction: u128 = format!("{fraction:0<scale$}").parse().map_err(|_| overflow())?;
        whole
            .checked_mul(NANOS_PER_MINOR)
            .and_then(|nanos| nanos.checked_add(fraction))
            .map(UnitPrice)
            .ok_or_else(overflow)
    }
}

impl fmt::Display for UnitPrice {
    /// Minor units per unit, without trailing zeros (`1.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Amount(self.0).display(limits::UNIT_PRICE_SCALE))
    }
}

impl Serialize for UnitPrice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnitPrice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        UnitPrice::parse(&text).map_err(|error| serde::de::Error::custom(format!("unit price: {error}")))
    }
}

/// One volume tier of a metered item: the billable units whose position (counted from 1 over
/// the holder's settlements under the plan version) is at most `up_to` and above the previous
/// tier's bound cost `unit_price` each. The last tier has no bound.
// Unknown fields are refused: a misspelt field in a plan file would otherwise be dropped silently.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub up_to: Option<u64>,
    pub unit_price: UnitPrice,
}

/// A metered item's price.
// Unknown fields are refused: `"included": 100` must not publish a plan without its allowance.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    pub item: ItemName,
    /// Units of the item each hold settles free of charge, before any tier (0 for none).
    /// They do not advance the tier position.
    #[serde(default)]
    pub included_per_hold: u64,
    /// Graduated tiers, bounds strictly increasing, the last without a bound.
    pub tiers: BoundedVec<Tier, { limits::PLAN_TIERS_MAX }>,
}

impl PlanItem {
    /// The exact price of the first `units` billable units, in billionths of a minor unit, or
    /// `None` if it exceeds `u128`.
    pub fn cost_nanos(&self, units: u64) -> Option<u128> {
        let mut cost: u128 = 0;
        let mut below: u64 = 0;
        for tier in self.tiers.iter() {
            if units <= below {
                break;
            }
            let top = tier.up_to.unwrap_or(u64::MAX);
            let in_tier = units.min(top) - below;
            cost = cost.checked_add(u128::from(in_tier).checked_mul(tier.unit_price.0)?)?;
            below = top;
        }
        Some(cost)
    }

    /// The billable units of `units` settled in one hold (those beyond the allowance), and
    /// their charge after `billed_before` billable units settled before under the plan
    /// version. `None` if a count or a cost overflows.
    pub fn charge(&self, billed_before: u64, units: u64) -> Option<(u64, Amount)> {
        let billable = units.saturating_sub(self.included_per_hold);
        let after = billed_before.checked_add(billable)?;
        let high = self.cost_nanos(after)? / NANOS_PER_MINOR;
        let low = self.cost_nanos(billed_before)? / NANOS_PER_MINOR;
        Some((billable, Amount(high - low)))
    }
}

/// A price in a reference currency: `amount` × 10^−`scale` of `currency` (`10.00` USD is 1000
/// at scale 2). JSON: `{"currency": "USD", "amount": "10.00"}`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize)]
pub struct ReferencePrice {
    pub currency: Currency,
    pub amount: u64,
    pub scale: u8,
}

/// Refuses a scale above [`limits::REFERENCE_PRICE_SCALE_MAX`], as the JSON form does: such a
/// price has no JSON form (`decimal` shows at most that many places), so a transaction carrying
/// one would be served as JSON with a different price than the one signed (found by fuzzing).
impl BorshDeserialize for ReferencePrice {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let currency = Currency::deserialize_reader(reader)?;
        let amount = u64::deserialize_reader(reader)?;
        let scale = u8::deserialize_reader(reader)?;
        if scale > limits::REFERENCE_PRICE_SCALE_MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "reference price scale {scale} is above the limit of {}",
                    limits::REFERENCE_PRICE_SCALE_MAX
                ),
            ));
        }
        Ok(ReferencePrice { currency, amount, scale })
    }
}

impl fmt::Display for ReferencePrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

impl ReferencePrice {
    /// The amount as a decimal with exactly `scale` places (`10.00`).
    pub fn decimal(&self) -> String {
        let scale = usize::from(self.scale.min(limits::REFERENCE_PRICE_SCALE_MAX));
        if scale == 0 {
            return self.amount.to_string();
        }
        let factor = 10u64.pow(scale as u32);
        format!("{}.{:0scale$}", self.amount / factor, self.amount % factor)
    }

    /// Parses `10.00` in `currency`, keeping the places given (at most
    /// [`limits::REFERENCE_PRICE_SCALE_MAX`]).
    pub fn parse(currency: Currency, text: &str) -> Result<ReferencePrice, String> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(format!("price `{text}` must be a decimal number such as 10.00"));
        }
        if fraction.len() > usize::from(limits::REFERENCE_PRICE_SCALE_MAX) {
            return Err(format!(
                "price `{text}` has more than {} decimal places",
                limits::REFERENCE_PRICE_SCALE_MAX
            ));
        }
        let amount = format!("{whole}{fraction}")
            .parse::<u64>()
            .map_err(|_| format!("price `{text}` is too large"))?;
        Ok(ReferencePrice { currency, amount, scale: fraction.len() as u8 })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferencePriceJson {
    currency: Currency,
    amount: String,
}

impl Serialize for ReferencePrice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReferencePriceJson { currency: self.currency.clone(), amount: self.decimal() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReferencePrice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = ReferencePriceJson::deserialize(deserializer)?;
        ReferencePrice::parse(json.currency, &json.amount).map_err(serde::de::Error::custom)
    }
}

/// A credit pack the provider sells: `credits` minor units of the plan's asset for `price`.
/// A purchase grant may name the pack it fulfils.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditPack {
    pub name: ItemName,
    pub credits: Amount,
    pub price: ReferencePrice,
}

/// One version of a provider's price plan for one of its assets. Published once and never
/// changed; a later version is a new plan the holder must agree to again.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricePlan {
    pub plan_id: PlanId,
    /// 1 for the first version, then one more for each.
    pub version: u32,
    /// The publishing member's asset the plan charges in.
    pub asset: AssetId,
    pub title: BoundedString<{ limits::PLAN_TITLE_BYTES_MAX }>,
    /// Sorted by item name, each once.
    pub items: BoundedVec<PlanItem, { limits::PLAN_ITEMS_MAX }>,
    /// Sorted by name, each once.
    #[serde(default = "BoundedVec::empty")]
    pub packs: BoundedVec<CreditPack, { limits::PLAN_PACKS_MAX }>,
}

/// Why a price plan is malformed, whatever the ledger state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the plan version must be at least 1")]
    ZeroVersion,
    #[error("the plan has an empty title")]
    EmptyTitle,
    #[error("the plan prices no item")]
    NoItems,
    #[error("items must be sorted by name, each once: `{0}` is out of order or repeated")]
    ItemOrder(ItemName),
    #[error("item `{0}` has no tier")]
    NoTiers(ItemName),
    #[error("item `{0}`: tier bounds must be above zero and strictly increasing")]
    TierOrder(ItemName),
    #[error("item `{0}`: the last tier, and only the last, must have no bound (`up_to: null`)")]
    LastTierBound(ItemName),
    #[error("packs must be sorted by name, each once: `{0}` is out of order or repeated")]
    PackOrder(ItemName),
    #[error("pack `{0}` gives no credits")]
    ZeroPackCredits(ItemName),
    #[error("pack `{0}` has a price of zero")]
    ZeroPackPrice(ItemName),
    #[error("pack `{0}`: a reference price has at most {max} decimal places", max = limits::REFERENCE_PRICE_SCALE_MAX)]
    PackPriceScale(ItemName),
}

impl PricePlan {
    /// Checks the plan's form: a version ≥ 1, a title, items and packs sorted and unique, each
    /// item's tiers increasing and ending unbounded, packs with credits and a price.
    pub fn check(&self) -> Result<(), PlanError> {
        if self.version == 0 {
            return Err(PlanError::ZeroVersion);
        }
        if self.title.as_str().trim().is_empty() {
            return Err(PlanError::EmptyTitle);
        }
        if self.items.is_empty() {
            return Err(PlanError::NoItems);
        }
        for pair in self.items.windows(2) {
            if pair[0].item >= pair[1].item {
                return Err(PlanError::ItemOrder(pair[1].item.clone()));
            }
        }
        for item in self.items.iter() {
            let Some((last, bounded)) = item.tiers.split_last() else {
                return Err(PlanError::NoTiers(item.item.clone()));
            };
            if last.up_to.is_some() || bounded.iter().any(|tier| tier.up_to.is_none()) {
                return Err(PlanError::LastTierBound(item.item.clone()));
            }
            let mut below = 0u64;
            for tier in bounded {
                let up_to = tier.up_to.unwrap_or(u64::MAX);
                if up_to <= below {
                    return Err(PlanError::TierOrder(item.item.clone()));
                }
                below = up_to;
            }
        }
        for pair in self.packs.windows(2) {
            if pair[0].name >= pair[1].name {
                return Err(PlanError::PackOrder(pair[1].name.clone()));
            }
        }
        for pack in self.packs.iter() {
            if pack.credits.is_zero() {
                return Err(PlanError::ZeroPackCredits(pack.name.clone()));
            }
            if pack.price.amount == 0 {
                return Err(PlanError::ZeroPackPrice(pack.name.clone()));
            }
            if pack.price.scale > limits::REFERENCE_PRICE_SCALE_MAX {
                return Err(PlanError::PackPriceScale(pack.name.clone()));
            }
        }
        Ok(())
    }

    /// The plan's reference (id and version).
    pub fn reference(&self) -> PlanRef {
        PlanRef { plan_id: self.plan_id.clone(), version: self.version }
    }

    /// The priced item named `name`.
    pub fn item(&self, name: &ItemName) -> Option<&PlanItem> {
        self.items.binary_search_by(|item| item.item.cmp(name)).ok().map(|index| &self.items[index])
    }

    /// The credit pack named `name`.
    pub fn pack(&self, name: &ItemName) -> Option<&CreditPack> {
        self.packs.binary_search_by(|pack| pack.name.cmp(name)).ok().map(|index| &self.packs[index])
    }
}

/// Names one version of a member's plan (the member is known from the context: the provider
/// authorized, or the asset's issuer).
#[derive(
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct PlanRef {
    pub plan_id: PlanId,
    pub version: u32,
}

impl fmt::Display for PlanRef {
    /// `standard@2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.plan_id, self.version)
    }
}

impl std::str::FromStr for PlanRef {
    type Err = String;
    /// `standard@2`: a plan id and a version ≥ 1.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (id, version) = text
            .split_once('@')
            .ok_or_else(|| format!("plan `{text}` must be written PLAN@VERSION, e.g. standard@1"))?;
        let plan_id = PlanId::new(id).map_err(|error| error.to_string())?;
        // Digits only: `u32::from_str` would also take `+1`.
        let version = Some(version)
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|version| *version >= 1)
            .ok_or_else(|| format!("plan `{text}`: the version must be a whole number from 1"))?;
        Ok(PlanRef { plan_id, version })
    }
}

/// Units of one metered item in a settlement.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UsageLine {
    pub item: ItemName,
    pub units: u64,
}

/// One priced usage line.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LineCharge {
    pub item: ItemName,
    pub units: u64,
    /// Units beyond the hold's allowance.
    pub billable: u64,
    /// Billable units settled before under the plan version (the tier position).
    pub billed_before: u64,
    pub amount: Amount,
}

/// What a settlement's usage lines cost under a plan version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Charge {
    pub lines: Vec<LineCharge>,
    pub total: Amount,
}

/// Why usage lines cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    #[error("usage lines must be sorted by item, each once: `{0}` is out of order or repeated")]
    LineOrder(ItemName),
    #[error("usage line `{0}` has zero units")]
    ZeroUnits(ItemName),
    #[error("item `{0}` is not in the plan")]
    UnknownItem(ItemName),
    #[error("the charge for `{0}` overflows")]
    Overflow(ItemName),
}

/// Checks the form of usage lines: sorted by item, each once, each with units.
pub fn check_lines(lines: &[UsageLine]) -> Result<(), ChargeError> {
    for pair in lines.windows(2) {
        if pair[0].item >= pair[1].item {
            return Err(ChargeError::LineOrder(pair[1].item.clone()));
        }
    }
    match lines.iter().find(|line| line.units == 0) {
        Some(line) => Err(ChargeError::ZeroUnits(line.item.clone())),
        None => Ok(()),
    }
}

/// Prices one settlement's usage lines under `plan`; `billed_before` gives, per item, the
/// billable units the holder settled before under this plan version. The rule is in the
/// module's documentation; the ledger refuses a settlement whose amount is not this total.
pub fn price_lines(
    plan: &PricePlan,
    lines: &[UsageLine],
    billed_before: impl Fn(&ItemName) -> u64,
) -> Result<Charge, ChargeError> {
    check_lines(lines)?;
    let mut charged = Vec::with_capacity(lines.len());
    let mut total = Amount::ZERO;
    for line in lines {
        let item = plan.item(&line.item).ok_or_else(|| ChargeError::UnknownItem(line.item.clone()))?;
        let before = billed_before(&line.item);
        let (billable, amount) =
            item.charge(before, line.units).ok_or_else(|| ChargeError::Overflow(line.item.clone()))?;
        total = total.checked_add(amount).ok_or_else(|| ChargeError::Overflow(line.item.clone()))?;
        charged.push(LineCharge {
            item: line.item.clone(),
            units: line.units,
            billable,
            billed_before: before,
            amount,
        });
    }
    Ok(Charge { lines: charged, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/fuzz_targets/tx.rs): a plan's pack price at scale 44 decoded, and
    /// its JSON form read back at scale 4, a different price than the one signed. The minimized
    /// value: `USD` (borsh string), amount 1000, scale 44.
    #[test]
    fn a_reference_price_scale_without_a_json_form_does_not_decode() {
        let bytes = [3, 0, 0, 0, b'U', b'S', b'D', 0xe8, 3, 0, 0, 0, 0, 0, 0, 44];
        let error = borsh::from_slice::<ReferencePrice>(&bytes).expect_err("scale 44 is refused");
        assert!(error.to_string().contains("scale 44 is above the limit of 4"), "{error}");
        let mut at_limit = bytes;
        at_limit[15] = limits::REFERENCE_PRICE_SCALE_MAX;
        let price = borsh::from_slice::<ReferencePrice>(&at_limit).expect("scale 4 decodes");
        assert_eq!(price.decimal(), "0.1000");
        let json = serde_json::to_string(&price).expect("serializes");
        assert_eq!(serde_json::from_str::<ReferencePrice>(&json).expect("reads back"), price);
    }

    fn item(name: &str, included: u64, tiers: &[(Option<u64>, &str)]) -> PlanItem {
        PlanItem {
            item: ItemName::new(name).expect("valid"),
            included_per_hold: included,
            tiers: BoundedVec::new(
                tiers
                    .iter()
                    .map(|(up_to, price)| Tier {
                        up_to: *up_to,
                        unit_price: UnitPrice::parse(price).expect("valid"),
                    })
                    .collect::<Vec<_>>(),
            )
            .expect("few tiers"),
        }
    }

    fn plan(items: Vec<PlanItem>) -> PricePlan {
        PricePlan {
            plan_id: PlanId::new("standard").expect("valid"),
            version: 1,
            asset: "GLOBEX@globex".parse().expect("valid"),
            title: BoundedString::new("Standard").expect("short"),
            items: BoundedVec::new(items).expect("few items"),
            packs: BoundedVec::empty(),
        }
    }

    #[test]
    fn graduated_tiers_price_each_unit_by_its_position() {
        // The issue's example: the first 1,000,000 units at 2, beyond at 1.5.
        let search = item("search.query", 0, &[(Some(1_000_000), "2"), (None, "1.5")]);
        assert_eq!(search.cost_nanos(0), Some(0));
        assert_eq!(search.cost_nanos(1_000_000), Some(2_000_000 * NANOS_PER_MINOR));
        assert_eq!(search.cost_nanos(1_000_002), Some(2_000_003 * NANOS_PER_MINOR));
        // Exactly at the edge, one before it, one across it.
        assert_eq!(search.charge(999_999, 1), Some((1, Amount(2))));
        assert_eq!(search.charge(1_000_000, 1), Some((1, Amount(1))));
        assert_eq!(search.charge(1_000_001, 1), Some((1, Amount(2))));
        assert_eq!(search.charge(999_999, 2), Some((2, Amount(3))));
    }

    #[test]
    fn rounding_never_accumulates_across_settlements() {
        let tokens = item("tokens.output", 0, &[(None, "0.3")]);
        // 10 settlements of one unit each pay what one settlement of ten units pays.
        let mut paid = 0u128;
        for before in 0..10 {
            paid += tokens.charge(before, 1).expect("small").1.0;
        }
        assert_eq!(paid, 3);
        assert_eq!(tokens.charge(0, 10), Some((10, Amount(3))));
    }

    #[test]
    fn the_allowance_is_free_per_hold_and_does_not_advance_tiers() {
        let calls = item("calls", 100, &[(Some(50), "1"), (None, "3")]);
        assert_eq!(calls.charge(0, 100), Some((0, Amount::ZERO)));
        assert_eq!(calls.charge(0, 160), Some((60, Amount(50 + 30))));
        assert_eq!(calls.charge(60, 101), Some((1, Amount(3))));
    }

    #[test]
    fn the_largest_amounts_overflow_to_none_not_a_wrong_price() {
        // One unit costs just over half of u128::MAX billionths: two overflow.
        let half = u128::MAX / 2 + 1;
        let dear = PlanItem {
            item: ItemName::new("dear").expect("valid"),
            included_per_hold: 0,
            tiers: BoundedVec::new(vec![Tier { up_to: None, unit_price: UnitPrice(half) }])
                .expect("one tier"),
        };
        assert_eq!(dear.cost_nanos(1), Some(half));
        assert_eq!(dear.cost_nanos(2), None);
        assert_eq!(dear.charge(0, 1), Some((1, Amount(half / NANOS_PER_MINOR))));
        assert_eq!(dear.charge(0, 2), None);
        // The tier position itself overflows u64.
        let cheap = item("cheap", 0, &[(None, "1")]);
        assert_eq!(cheap.charge(u64::MAX, 1), None);
        assert_eq!(cheap.cost_nanos(u64::MAX), Some(u128::from(u64::MAX) * NANOS_PER_MINOR));
    }

    #[test]
    fn plan_form_is_checked_by_name() {
        let good =
            plan(vec![item("a.b", 0, &[(Some(10), "1"), (None, "0.5")]), item("c", 0, &[(None, "1")])]);
        assert_eq!(good.check(), Ok(()));
        let mut unsorted = good.clone();
        unsorted.items = BoundedVec::new(vec![good.items[1].clone(), good.items[0].clone()]).expect("two");
        assert_eq!(unsorted.check(), Err(PlanError::ItemOrder(ItemName::new("a.b").expect("valid"))));
        let bounded_last = plan(vec![item("x", 0, &[(Some(10), "1")])]);
        assert_eq!(bounded_last.check(), Err(PlanError::LastTierBound(ItemName::new("x").expect("valid"))));
        let flat = plan(vec![item("x", 0, &[(Some(10), "1"), (Some(10), "1"), (None, "1")])]);
        assert_eq!(flat.check(), Err(PlanError::TierOrder(ItemName::new("x").expect("valid"))));
        let zero_bound = plan(vec![item("x", 0, &[(Some(0), "1"), (None, "1")])]);
        assert_eq!(zero_bound.check(), Err(PlanError::TierOrder(ItemName::new("x").expect("valid"))));
        let mut zero_version = good.clone();
        zero_version.version = 0;
        assert_eq!(zero_version.check(), Err(PlanError::ZeroVersion));
        assert_eq!(plan(vec![]).check(), Err(PlanError::NoItems));
    }

    #[test]
    fn lines_are_priced_in_order_and_refused_by_name() {
        let standard = plan(vec![item("a", 0, &[(None, "2")]), item("b", 10, &[(None, "1")])]);
        let line = |name: &str, units| UsageLine { item: ItemName::new(name).expect("valid"), units };
        let charge = price_lines(&standard, &[line("a", 3), line("b", 15)], |_| 0).expect("priced");
        assert_eq!(charge.total, Amount(6 + 5));
        assert_eq!(charge.lines[1].billable, 5);
        let name = |text: &str| ItemName::new(text).expect("valid");
        assert_eq!(
            price_lines(&standard, &[line("b", 1), line("a", 1)], |_| 0),
            Err(ChargeError::LineOrder(name("a")))
        );
        assert_eq!(
            price_lines(&standard, &[line("a", 1), line("a", 1)], |_| 0),
            Err(ChargeError::LineOrder(name("a")))
        );
        assert_eq!(price_lines(&standard, &[line("a", 0)], |_| 0), Err(ChargeError::ZeroUnits(name("a"))));
        assert_eq!(price_lines(&standard, &[line("c", 1)], |_| 0), Err(ChargeError::UnknownItem(name("c"))));
        assert_eq!(price_lines(&standard, &[], |_| 0).map(|charge| charge.total), Ok(Amount::ZERO));
    }

    #[test]
    fn unit_prices_parse_exactly_over_the_whole_range() {
        assert_eq!(UnitPrice::parse("1.5"), Ok(UnitPrice(1_500_000_000)));
        assert_eq!(UnitPrice::parse("0.000000001"), Ok(UnitPrice(1)));
        assert_eq!(UnitPrice::parse("2.500"), Ok(UnitPrice(2_500_000_000)));
        let largest = UnitPrice(u128::MAX);
        assert_eq!(UnitPrice::parse(&largest.to_string()), Ok(largest));
        for bad in ["", "-1", "1.", ".5", "1e3", "0.0000000001", "340282366920938463463374607432"] {
            assert!(UnitPrice::parse(bad).is_err(), "{bad}");
        }
        for price in [0u128, 1, 10, 1_000_000_000, 123_456_789_012, u128::MAX - 1] {
            assert_eq!(UnitPrice::parse(&UnitPrice(price).to_string()), Ok(UnitPrice(price)));
        }
    }

    #[test]
    fn reference_prices_keep_their_places() {
        let usd = Currency::new("USD").expect("valid");
        let price = ReferencePrice::parse(usd.clone(), "10.00").expect("valid");
        assert_eq!((price.amount, price.scale, price.decimal()), (1000, 2, "10.00".to_owned()));
        assert_eq!(ReferencePrice::parse(usd.clone(), "7").expect("valid").decimal(), "7");
        for bad in ["", ".5", "5.", "1.23456", "-1", "1e3", "18446744073709551616"] {
            assert!(ReferencePrice::parse(usd.clone(), bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&price).expect("serializes");
        assert_eq!(json, r#"{"currency":"USD","amount":"10.00"}"#);
        assert_eq!(serde_json::from_str::<ReferencePrice>(&json).expect("parses"), price);
    }

    #[test]
    fn a_misspelt_field_anywhere_in_a_plan_is_refused_by_name() {
        let item =
            r#"{"item":"search.query","included_per_hold":100,"tiers":[{"up_to":null,"unit_price":"2"}]}"#;
        assert!(serde_json::from_str::<PlanItem>(item).is_ok());
        let misspelt = [
            (item.replace("included_per_hold", "included"), "included"),
            (item.replace(r#""up_to":null"#, r#""upto":null"#), "upto"),
        ];
        for (text, field) in misspelt {
            let error = serde_json::from_str::<PlanItem>(&text).expect_err(field).to_string();
            assert!(error.contains(&format!("unknown field `{field}`")), "{error}");
        }
        let pack =
            r#"{"name":"starter","credits":"1000","price":{"currency":"USD","amount":"10.00"},"bonus":1}"#;
        let error = serde_json::from_str::<CreditPack>(pack).expect_err("bonus").to_string();
        assert!(error.contains("unknown field `bonus`"), "{error}");
    }

    #[test]
    fn plan_references_take_digits_only() {
        let plan: PlanRef = "standard@12".parse().expect("valid");
        assert_eq!((plan.plan_id.as_str(), plan.version), ("standard", 12));
        for bad in ["standard@+1", "standard@0", "standard@", "standard@1.0", "standard", "standard@ 1"] {
            assert!(bad.parse::<PlanRef>().is_err(), "{bad}");
        }
    }
}
