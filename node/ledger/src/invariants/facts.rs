//! Invariants of the ledger facts badges are proven by: usage per (holder, provider), spend per
//! (holder, provider, asset), applications per (holder, provider, app) and revenue per
//! (account, asset); and of the badge figures per (member, achievement).
//!
//! State (checked from scratch, sharing nothing with `execute`):
//! - Spend of each (holder, provider, asset) is exactly the settled holds of that triple: their
//!   count and the sum of their captured amounts; no spend entry exists without one.
//! - Usage of each (holder, provider) counts exactly the settlements of its spend entries, and
//!   `applications` is the number of its application entries; the applications' settlements
//!   and units are within the pair's.
//! - Every fact names an existing member and asset; no entry holds only defaults.
//! - The grants counted as revenue in an asset add up to at most what the asset ever minted.
//! - Badge figures name an existing member, count at least one batch, at least one badge per
//!   batch, first height ≤ last height; a member's figures add up to at most the badges of its
//!   anchors.
//!
//! History ([`HistoryPart`], fed from the ops and receipts of every block): the units of every
//! settlement and the application it names, every grant and fill, and the achievement counts
//! of every anchor that names them. [`HistoryPart::check`] then requires the state's usage
//! units, application entries, revenue and badge figures to equal what the history implies,
//! exactly (the figures attributed to the member and height of each anchor's entry).

use std::collections::BTreeMap;

use tally_types::receipt::Receipt;
use tally_types::tx::{AchievementCount, Op, Settle};
use tally_types::{AchievementId, Amount, AppId, AssetId, Hash, Height, MemberId, OpId, PublicKey};

use super::{InvariantViolation, World};
use crate::state::{
    AppUsageState, BadgeFiguresState, HoldState, HoldStatus, RevenueState, SpentState, StateKey, StateValue,
    UsageState,
};

/// A broken invariant of the fact entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactViolation {
    #[error("{what}: the entry holds only defaults")]
    Empty { what: String },
    #[error("{what} names `{name}`, which does not exist")]
    Unknown { what: String, name: String },
    #[error("{what}: the entry says {actual}, but {source_of_truth} imply {expected}")]
    Mismatch { what: String, expected: String, actual: String, source_of_truth: &'static str },
}

impl FactViolation {
    fn mismatch(
        what: String,
        expected: impl std::fmt::Debug,
        actual: impl std::fmt::Debug,
        from: &'static str,
    ) -> Self {
        FactViolation::Mismatch {
            what,
            expected: format!("{expected:?}"),
            actual: format!("{actual:?}"),
            source_of_truth: from,
        }
    }
}

impl From<FactViolation> for InvariantViolation {
    fn from(violation: FactViolation) -> Self {
        InvariantViolation::Fact(violation)
    }
}

type Pair<'a> = (&'a PublicKey, &'a MemberId);
/// Usage units per (holder, provider).
type UnitsPerPair = BTreeMap<(PublicKey, MemberId), u128>;
/// (units, settlements) per (holder, provider, app).
type UnitsPerApp = BTreeMap<(PublicKey, MemberId, AppId), (u128, u64)>;
type Triple<'a> = (&'a PublicKey, &'a MemberId, &'a AssetId);

/// Gathers the fact entries of a state, and the holds they are checked against.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    usage: BTreeMap<Pair<'a>, &'a UsageState>,
    spent: BTreeMap<Triple<'a>, &'a SpentState>,
    apps: BTreeMap<(&'a PublicKey, &'a MemberId, &'a AppId), &'a AppUsageState>,
    revenue: BTreeMap<(&'a PublicKey, &'a AssetId), &'a RevenueState>,
    holds: Vec<&'a HoldState>,
    figures: BTreeMap<(&'a MemberId, &'a AchievementId), &'a BadgeFiguresState>,
    /// Per member, the badges of its anchors (any anchor, with achievements or not).
    anchored: BTreeMap<&'a MemberId, u64>,
}

impl<'a> Collector<'a> {
    /// Keeps one fact entry.
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) {
        match (key, value) {
            (StateKey::Usage { holder, provider }, StateValue::Usage(usage)) => {
                self.usage.insert((holder, provider), usage);
            }
            (StateKey::Spent { holder, provider, asset }, StateValue::Spent(spent)) => {
                self.spent.insert((holder, provider, asset), spent);
            }
            (StateKey::AppUsage { holder, provider, app }, StateValue::AppUsage(usage)) => {
                self.apps.insert((holder, provider, app), usage);
            }
            (StateKey::Revenue { account, asset }, StateValue::Revenue(revenue)) => {
                self.revenue.insert((account, asset), revenue);
            }
            (StateKey::BadgeFigures { member, achievement }, StateValue::BadgeFigures(figures)) => {
                self.figures.insert((member, achievement), figures);
            }
            _ => unreachable!("check_invariants routes only fact entries here, with matching kinds"),
        }
    }

    /// Keeps a badge anchor's size (also checked by the badge invariants).
    pub fn observe_anchor(&mut self, value: &'a StateValue) {
        if let StateValue::BadgeAnchor(anchor) = value {
            *self.anchored.entry(&anchor.member).or_default() += u64::from(anchor.leaf_count);
        }
    }

    /// Keeps a hold (also checked by the holds invariants).
    pub fn observe_hold(&mut self, value: &'a StateValue) {
        if let StateValue::Hold(hold) = value {
            self.holds.push(hold);
        }
    }

    /// Runs the state checks of the module header.
    pub fn finish(self, world: &World<'a>) -> Result<(), InvariantViolation> {
        self.check_spent(world)?;
        self.check_usage()?;
        self.check_revenue(world)?;
        self.check_figures(world)?;
        Ok(())
    }

    fn check_figures(&self, world: &World<'a>) -> Result<(), FactViolation> {
        let mut per_member: BTreeMap<&'a MemberId, u64> = BTreeMap::new();
        for (&(member, achievement), figures) in &self.figures {
            let what = format!("badge figures of `{member}` for `{achievement}`");
            if !world.members.contains_key(member) {
                return Err(FactViolation::Unknown { what, name: member.to_string() });
            }
            if figures.batches == 0 || figures.anchored < figures.batches {
                return Err(FactViolation::mismatch(
                    what,
                    "at least one batch and at least one badge per batch",
                    format!("{} badges in {} batches", figures.anchored, figures.batches),
                    "the anchor rules",
                ));
            }
            if figures.first_height > figures.last_height {
                return Err(FactViolation::mismatch(
                    what,
                    "first height <= last height",
                    (figures.first_height, figures.last_height),
                    "the anchor rules",
                ));
            }
            let sum = per_member.entry(member).or_default();
            *sum = sum.saturating_add(figures.anchored);
        }
        for (member, sum) in per_member {
            let anchored = self.anchored.get(member).copied().unwrap_or(0);
            if sum > anchored {
                return Err(FactViolation::mismatch(
                    format!("badge figures of `{member}`"),
                    format!("at most {anchored} badges (its anchors' leaves)"),
                    sum,
                    "the badge anchors",
                ));
            }
        }
        Ok(())
    }

    fn check_spent(&self, world: &World<'a>) -> Result<(), FactViolation> {
        let mut expected: BTreeMap<Triple<'a>, SpentState> = BTreeMap::new();
        for hold in &self.holds {
            if let HoldStatus::Settled { amount, .. } = hold.status {
                let slot = expected.entry((&hold.holder, &hold.member, &hold.asset)).or_default();
                slot.amount = Amount(slot.amount.0.saturating_add(amount.0));
                slot.settlements += 1;
            }
        }
        for (&(holder, provider, asset), spent) in &self.spent {
            let what = format!("spend of {holder} with `{provider}` in `{asset}`");
            if !world.members.contains_key(provider) {
                return Err(FactViolation::Unknown { what, name: provider.to_string() });
            }
            if !world.assets.contains_key(asset) {
                return Err(FactViolation::Unknown { what, name: asset.to_string() });
            }
            let implied = expected.remove(&(holder, provider, asset)).unwrap_or_default();
            if **spent != implied {
                return Err(FactViolation::mismatch(what, implied, spent, "the settled holds"));
            }
        }
        if let Some(((holder, provider, asset), implied)) = expected.into_iter().next() {
            let what = format!("spend of {holder} with `{provider}` in `{asset}`");
            return Err(FactViolation::mismatch(what, implied, "no entry", "the settled holds"));
        }
        Ok(())
    }

    fn check_usage(&self) -> Result<(), FactViolation> {
        let mut settlements: BTreeMap<Pair<'a>, u64> = BTreeMap::new();
        for (&(holder, provider, _), spent) in &self.spent {
            *settlements.entry((holder, provider)).or_default() += spent.settlements;
        }
        let mut apps: BTreeMap<Pair<'a>, (u32, u64, u128)> = BTreeMap::new();
        for (&(holder, provider, app), usage) in &self.apps {
            if usage.settlements == 0 {
                return Err(FactViolation::Empty {
                    what: format!("application `{app}` of {holder} with `{provider}`"),
                });
            }
            let slot = apps.entry((holder, provider)).or_default();
            slot.0 += 1;
            slot.1 += usage.settlements;
            slot.2 = slot.2.saturating_add(usage.units);
        }
        for (&(holder, provider), usage) in &self.usage {
            let what = format!("usage of {holder} with `{provider}`");
            let implied = settlements.remove(&(holder, provider)).unwrap_or(0);
            if usage.settlements != implied || implied == 0 {
                return Err(FactViolation::mismatch(what, implied, usage.settlements, "the spend entries"));
            }
            let (count, app_settlements, app_units) = apps.remove(&(holder, provider)).unwrap_or_default();
            if usage.applications != count {
                return Err(FactViolation::mismatch(
                    what,
                    count,
                    usage.applications,
                    "the application entries",
                ));
            }
            if app_settlements > usage.settlements || app_units > usage.units {
                return Err(FactViolation::mismatch(
                    what,
                    format!("at least {app_settlements} settlements and {app_units} units"),
                    format!("{} settlements and {} units", usage.settlements, usage.units),
                    "the application entries",
                ));
            }
        }
        if let Some(((holder, provider), implied)) = settlements.into_iter().next() {
            let what = format!("usage of {holder} with `{provider}`");
            return Err(FactViolation::mismatch(what, implied, "no entry", "the spend entries"));
        }
        if let Some(((holder, provider), _)) = apps.into_iter().next() {
            let what = format!("usage of {holder} with `{provider}`");
            return Err(FactViolation::mismatch(what, "an entry", "no entry", "the application entries"));
        }
        Ok(())
    }

    fn check_revenue(&self, world: &World<'a>) -> Result<(), FactViolation> {
        let mut granted: BTreeMap<&'a AssetId, u128> = BTreeMap::new();
        for (&(account, asset), revenue) in &self.revenue {
            let what = format!("revenue of {account} in `{asset}`");
            if revenue.market.is_zero() && revenue.grants.is_zero() {
                return Err(FactViolation::Empty { what });
            }
            if !world.assets.contains_key(asset) {
                return Err(FactViolation::Unknown { what, name: asset.to_string() });
            }
            let sum = granted.entry(asset).or_default();
            *sum = sum.saturating_add(revenue.grants.0);
        }
        for (asset, sum) in granted {
            let minted = world.assets[asset].minted;
            if sum > minted.0 {
                return Err(FactViolation::mismatch(
                    format!("grants counted as revenue in `{asset}`"),
                    format!("at most {minted} (minted)"),
                    sum,
                    "the asset's minted total",
                ));
            }
        }
        Ok(())
    }
}

/// What the ops and receipts of a chain imply for the fact entries: every settlement's units
/// and application by hold id, and every account's revenue. Memory grows with the settlements
/// and accounts ever seen; like [`super::History`], a tool for tests and audits.
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryPart {
    /// Per settled hold: the units of its lines and the application named, if any.
    settled: BTreeMap<OpId, (u128, Option<AppId>)>,
    /// Per offer (owner, id): its sell and buy assets, to price a maker's side of a fill.
    offers: BTreeMap<(PublicKey, OpId), (AssetId, AssetId)>,
    revenue: BTreeMap<(PublicKey, AssetId), RevenueState>,
    /// Per anchored batch root that named achievements: their counts.
    achievements: BTreeMap<Hash, Vec<AchievementCount>>,
}

impl HistoryPart {
    /// Records one op of a successful transaction (op `op_index`, with the receipt's fills).
    pub fn observe_op(&mut self, op_index: usize, signer: &PublicKey, op: &Op, receipt: &Receipt) {
        let settled = |settle: &Settle| settle.lines.iter().map(|line| u128::from(line.units)).sum::<u128>();
        match op {
            Op::Settle(settle) => {
                self.settled.insert(settle.hold_id, (settled(settle), None));
            }
            Op::SettleApp(settle) => {
                self.settled
                    .insert(settle.settle.hold_id, (settled(&settle.settle), Some(settle.app.clone())));
            }
            Op::AnchorAchievements(anchor) => {
                // A root anchored twice is refused before this runs (badges::HistoryPart).
                self.achievements.insert(anchor.anchor.batch_root, anchor.achievements.to_vec());
            }
            Op::Grant(grant) => {
                let slot = self.revenue.entry((grant.to, grant.asset.clone())).or_default();
                slot.grants = Amount(slot.grants.0.saturating_add(grant.amount.0));
            }
            Op::PlaceOffer(place) => {
                self.offers.insert((*signer, place.offer_id), (place.sell.clone(), place.buy.clone()));
                for fill in receipt.fills.iter().filter(|fill| usize::from(fill.op_index) == op_index) {
                    // The maker receives the taker's sell asset; the taker the maker's.
                    for (account, asset, amount) in [
                        (fill.maker, &place.sell, fill.taker_gave),
                        (fill.taker, &place.buy, fill.maker_gave),
                    ] {
                        let slot = self.revenue.entry((account, asset.clone())).or_default();
                        slot.market = Amount(slot.market.0.saturating_add(amount.0));
                    }
                }
            }
            _ => {}
        }
    }

    /// Compares a state's fact entries (all of its entries may be given) with what the history
    /// implies: usage units per (holder, provider), each application entry's units and
    /// settlements, each revenue entry and the badge figures, exactly. The state must be the one
    /// after the last block observed.
    pub fn check<'a, I>(&self, entries: I) -> Result<(), FactViolation>
    where
        I: IntoIterator<Item = (&'a StateKey, &'a StateValue)>,
    {
        let mut usage = UnitsPerPair::new();
        let mut apps = UnitsPerApp::new();
        let mut usage_seen = UnitsPerPair::new();
        let mut apps_seen = UnitsPerApp::new();
        let mut revenue_seen: BTreeMap<(PublicKey, AssetId), RevenueState> = BTreeMap::new();
        let mut anchors: Vec<(Hash, MemberId, Height)> = Vec::new();
        let mut figures_seen: BTreeMap<(MemberId, AchievementId), BadgeFiguresState> = BTreeMap::new();
        for (key, value) in entries {
            match (key, value) {
                (StateKey::Hold { hold_id }, StateValue::Hold(hold)) => {
                    self.add_settled(hold_id, hold, &mut usage, &mut apps)?;
                }
                (StateKey::Usage { holder, provider }, StateValue::Usage(state)) => {
                    usage_seen.insert((*holder, provider.clone()), state.units);
                }
                (StateKey::AppUsage { holder, provider, app }, StateValue::AppUsage(state)) => {
                    apps_seen
                        .insert((*holder, provider.clone(), app.clone()), (state.units, state.settlements));
                }
                (StateKey::Revenue { account, asset }, StateValue::Revenue(state)) => {
                    revenue_seen.insert((*account, asset.clone()), *state);
                }
                (StateKey::BadgeAnchor { batch_root }, StateValue::BadgeAnchor(anchor)) => {
                    anchors.push((*batch_root, anchor.member.clone(), anchor.height));
                }
                (StateKey::BadgeFigures { member, achievement }, StateValue::BadgeFigures(state)) => {
                    figures_seen.insert((member.clone(), achievement.clone()), *state);
                }
                _ => {}
            }
        }
        let from = "the history's settlements, grants and fills";
        if usage != usage_seen {
            return Err(FactViolation::mismatch(
                "usage units per (holder, provider)".into(),
                usage,
                usage_seen,
                from,
            ));
        }
        if apps != apps_seen {
            return Err(FactViolation::mismatch(
                "application entries (units, settlements)".into(),
                apps,
                apps_seen,
                from,
            ));
        }
        if self.revenue != revenue_seen {
            return Err(FactViolation::mismatch("revenue entries".into(), &self.revenue, revenue_seen, from));
        }
        self.check_figures(anchors, figures_seen)
    }

    /// Adds what `hold`'s settlement (if it is settled) implies to the usage units of its pair
    /// and of its application.
    fn add_settled(
        &self,
        hold_id: &OpId,
        hold: &HoldState,
        usage: &mut UnitsPerPair,
        apps: &mut UnitsPerApp,
    ) -> Result<(), FactViolation> {
        if !matches!(hold.status, HoldStatus::Settled { .. }) {
            return Ok(());
        }
        let Some((units, app)) = self.settled.get(hold_id) else {
            return Err(FactViolation::mismatch(
                format!("hold {hold_id}"),
                "no settlement",
                "settled",
                "the history's Settle and SettleApp ops",
            ));
        };
        let pair = (hold.holder, hold.member.clone());
        *usage.entry(pair.clone()).or_default() += units;
        if let Some(app) = app {
            let slot = apps.entry((pair.0, pair.1, app.clone())).or_default();
            slot.0 += units;
            slot.1 += 1;
        }
        Ok(())
    }

    /// The badge figures the history implies: each anchor that named achievements counts, for
    /// the member and at the height its state entry records, each achievement's badges and one
    /// batch. They must equal the state's figures entries exactly, and every such anchor must
    /// have its entry.
    fn check_figures(
        &self,
        mut anchors: Vec<(Hash, MemberId, Height)>,
        seen: BTreeMap<(MemberId, AchievementId), BadgeFiguresState>,
    ) -> Result<(), FactViolation> {
        // Oldest anchor first, so first and last heights come out in order.
        anchors.sort_by_key(|(_, _, height)| *height);
        let mut implied: BTreeMap<(MemberId, AchievementId), BadgeFiguresState> = BTreeMap::new();
        let mut attributed = 0usize;
        for (root, member, height) in anchors {
            let Some(counts) = self.achievements.get(&root) else { continue };
            attributed += 1;
            for entry in counts {
                let slot =
                    implied.entry((member.clone(), entry.achievement.clone())).or_insert(BadgeFiguresState {
                        anchored: 0,
                        batches: 0,
                        first_height: height,
                        last_height: height,
                    });
                slot.anchored += u64::from(entry.count);
                slot.batches += 1;
                slot.last_height = height;
            }
        }
        if attributed != self.achievements.len() {
            return Err(FactViolation::mismatch(
                "badge anchors that named achievements".into(),
                self.achievements.len(),
                attributed,
                "the history's AnchorAchievements ops",
            ));
        }
        if implied != seen {
            return Err(FactViolation::mismatch(
                "badge figures per (member, achievement)".into(),
                implied,
                seen,
                "the history's AnchorAchievements ops",
            ));
        }
        Ok(())
    }
}
