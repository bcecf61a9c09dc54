//! Invariants of metered usage: spend authorizations, holds, their expiry index, and settlement
//! batch ids.
//!
//! State (checked from scratch, sharing nothing with `execute::holds`):
//! - A hold is `Open` exactly when its expiry index entry exists, under the hold's own expiry;
//!   no index entry exists without an open hold.
//! - Every hold has a positive amount, and its member and asset exist; each open hold locks
//!   its amount on the holder's balance of the asset.
//! - A settled hold captured at most its amount, and its member's batch id record names the
//!   hold and the captured amount; every batch record names such a settled hold.
//! - Authorizations name an existing provider member and asset.
//! - Price plans: each version is stored under its own member, id and version, charges in an
//!   existing asset of its member, has a valid form, and follows the version before it.
//!   Authorizations and holds name a version of their provider's plan in their asset. A
//!   holder's usage of a version names priced items, sorted, with billable units within its
//!   units, each item charged exactly the plan's price of its billable units (computed here
//!   from the tiers, apart from `tally_types::pricing`), and the charges add up to what the
//!   holder's settled holds under the version captured.
//!
//! History: each hold id is placed once; each member uses each batch id once; each hold is
//! resolved by at most one successful Settle or Void (release at expiry happens in a block's
//! prologue, and afterwards both ops fail, so it cannot add a second resolution).

use std::collections::{BTreeMap, BTreeSet};

use tally_types::pricing::{PlanItem, PlanRef};
use tally_types::tx::Op;
use tally_types::{Amount, AssetId, Height, MemberId, OpId, PlanId, PublicKey};

use super::{HistoryViolation, InvariantViolation, Locks, World};
use crate::state::{
    AuthorizationState, BatchRecord, HoldState, HoldStatus, PlanState, PlanUsageState, StateKey, StateValue,
};

/// A broken invariant of the holds entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldViolation {
    #[error(
        "authorization of {holder} for `{provider}`: cap {cap}, remaining {cap_remaining} (the cap must be \
         positive and the remaining cap within it)"
    )]
    BadCap { holder: PublicKey, provider: MemberId, cap: Amount, cap_remaining: Amount },
    #[error("hold {hold_id} has an amount of zero")]
    ZeroAmount { hold_id: OpId },
    #[error("hold {hold_id} belongs to member `{member}`, which does not exist")]
    UnknownMember { hold_id: OpId, member: MemberId },
    #[error("hold {hold_id} is of asset `{asset}`, which does not exist")]
    UnknownAsset { hold_id: OpId, asset: AssetId },
    #[error("hold {hold_id} is open but has no expiry index entry at {expires_at_ms}")]
    OpenWithoutExpiry { hold_id: OpId, expires_at_ms: u64 },
    #[error(
        "expiry index entry at {expires_at_ms} names hold {hold_id}, which is not open or expires at another time"
    )]
    StaleExpiry { hold_id: OpId, expires_at_ms: u64 },
    #[error("hold {hold_id} settled {settled}, more than its amount {amount}")]
    SettledAboveAmount { hold_id: OpId, amount: Amount, settled: Amount },
    #[error("hold {hold_id} is settled under batch {batch_id} of `{member}`, whose record does not match")]
    SettlementWithoutBatch { hold_id: OpId, member: MemberId, batch_id: OpId },
    #[error(
        "batch {batch_id} of `{member}` names hold {hold_id}, which is not settled under it for that amount"
    )]
    BatchWithoutSettlement { member: MemberId, batch_id: OpId, hold_id: OpId },
    #[error("authorization of {holder} names member `{provider}`, which does not exist")]
    AuthorizationOfUnknownMember { holder: PublicKey, provider: MemberId },
    #[error("authorization of {holder} names asset `{asset}`, which does not exist")]
    AuthorizationOfUnknownAsset { holder: PublicKey, asset: AssetId },
    #[error("plan entry `{member}` {plan}: {what}")]
    BadPlan { member: MemberId, plan: PlanRef, what: String },
    #[error("{what} names plan {plan} of `{member}`, which does not exist or charges in another asset")]
    UnknownPlan { what: String, member: MemberId, plan: PlanRef },
    #[error("usage of {holder} under plan {plan} of `{member}`: {what}")]
    BadPlanUsage { holder: PublicKey, member: MemberId, plan: PlanRef, what: String },
}

/// Gathers the holds entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    authorizations: Vec<(&'a PublicKey, &'a MemberId, &'a AssetId, &'a AuthorizationState)>,
    holds: BTreeMap<OpId, &'a HoldState>,
    /// (expires_at_ms, hold id) of every expiry index entry.
    expiries: BTreeSet<(u64, OpId)>,
    batches: BTreeMap<(&'a MemberId, OpId), &'a BatchRecord>,
    plans: BTreeMap<(&'a MemberId, &'a PlanId, u64), &'a PlanState>,
    usages: Vec<(&'a PublicKey, &'a MemberId, &'a PlanId, u64, &'a PlanUsageState)>,
}

impl<'a> Collector<'a> {
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        match (key, value) {
            (StateKey::Authorization { holder, provider, asset }, StateValue::Authorization(state)) => {
                self.authorizations.push((holder, provider, asset, state));
            }
            (StateKey::Hold { hold_id }, StateValue::Hold(hold)) => {
                self.holds.insert(*hold_id, hold);
            }
            (StateKey::HoldExpiry { expires_at_ms, hold_id }, StateValue::HoldExpiry(_)) => {
                self.expiries.insert((expires_at_ms.0, *hold_id));
            }
            (StateKey::BatchId { member, batch_id }, StateValue::BatchId(record)) => {
                self.batches.insert((member, *batch_id), record);
            }
            (StateKey::Plan { member, plan_id, version }, StateValue::Plan(plan)) => {
                self.plans.insert((member, plan_id, version.0), plan);
            }
            (StateKey::PlanUsage { holder, member, plan_id, version }, StateValue::PlanUsage(usage)) => {
                self.usages.push((holder, member, plan_id, version.0, usage));
            }
            _ => unreachable!("check_invariants routes only holds entries here, with matching kinds"),
        }
        Ok(())
    }

    /// Checks authorizations, holds, the expiry index and batch records, in that order, and
    /// adds what open holds lock to `locks`.
    pub fn finish(self, world: &World<'a>, locks: &mut Locks<'a>) -> Result<(), InvariantViolation> {
        self.check_authorizations(world)?;
        self.check_holds(world, locks)?;
        self.check_expiries()?;
        self.check_batches()?;
        self.check_plans(world)?;
        self.check_plan_usage()
    }

    /// The plan version `plan` of `member`, if stored and charging in `asset`.
    fn plan_of(&self, member: &MemberId, plan: &PlanRef, asset: &AssetId) -> Option<&'a PlanState> {
        self.plans
            .get(&(member, &plan.plan_id, u64::from(plan.version)))
            .copied()
            .filter(|state| &state.plan.asset == asset)
    }

    /// Each plan version: stored under its own id and version, charging in an existing asset
    /// of its member, well formed, after the version before it; and every authorization and
    /// hold that names a version names one of its provider's, in its asset.
    fn check_plans(&self, world: &World<'a>) -> Result<(), InvariantViolation> {
        for ((member, plan_id, version), state) in &self.plans {
            let plan =
                PlanRef { plan_id: (*plan_id).clone(), version: u32::try_from(*version).unwrap_or(u32::MAX) };
            let bad = |what: &str| HoldViolation::BadPlan {
                member: (*member).clone(),
                plan: plan.clone(),
                what: what.into(),
            };
            if state.plan.plan_id != **plan_id || u64::from(state.plan.version) != *version {
                return Err(bad("stored under another id or version than its own").into());
            }
            if state.plan.asset.issuer != **member || !world.assets.contains_key(&state.plan.asset) {
                return Err(bad("charges in an asset that is not an existing asset of its member").into());
            }
            if let Err(error) = state.plan.check() {
                return Err(bad(&error.to_string()).into());
            }
            if *version > 1 && !self.plans.contains_key(&(*member, *plan_id, version - 1)) {
                return Err(bad("the version before it does not exist").into());
            }
        }
        for (holder, provider, asset, authorization) in &self.authorizations {
            if let Some(plan) = &authorization.plan
                && self.plan_of(provider, plan, asset).is_none()
            {
                let what = format!("the authorization of {holder}");
                return Err(HoldViolation::UnknownPlan {
                    what,
                    member: (*provider).clone(),
                    plan: plan.clone(),
                }
                .into());
            }
        }
        for (hold_id, hold) in &self.holds {
            if let Some(plan) = &hold.plan
                && self.plan_of(&hold.member, plan, &hold.asset).is_none()
            {
                let what = format!("hold {hold_id}");
                return Err(HoldViolation::UnknownPlan {
                    what,
                    member: hold.member.clone(),
                    plan: plan.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Each usage entry prices what it counts by its plan version, and the charges equal what
    /// the holder's settled holds under that version captured.
    fn check_plan_usage(&self) -> Result<(), InvariantViolation> {
        // Σ captured by settled holds, per (holder, member, plan id, version).
        let mut captured: BTreeMap<(&PublicKey, &MemberId, &PlanId, u64), Amount> = BTreeMap::new();
        for hold in self.holds.values() {
            if let (Some(plan), HoldStatus::Settled { amount, .. }) = (&hold.plan, hold.status) {
                let slot = captured
                    .entry((&hold.holder, &hold.member, &plan.plan_id, u64::from(plan.version)))
                    .or_insert(Amount::ZERO);
                *slot = Amount(slot.0.saturating_add(amount.0));
            }
        }
        for (holder, member, plan_id, version, usage) in &self.usages {
            let plan =
                PlanRef { plan_id: (*plan_id).clone(), version: u32::try_from(*version).unwrap_or(u32::MAX) };
            let bad = |what: String| HoldViolation::BadPlanUsage {
                holder: **holder,
                member: (*member).clone(),
                plan: plan.clone(),
                what,
            };
            let Some(state) = self.plans.get(&(*member, *plan_id, *version)) else {
                return Err(bad("the plan version does not exist".into()).into());
            };
            if usage.items.is_empty() || !usage.items.windows(2).all(|pair| pair[0].item < pair[1].item) {
                return Err(bad("items are empty, unsorted or repeated".into()).into());
            }
            let mut total = Amount::ZERO;
            for counted in usage.items.iter() {
                let Some(item) = state.plan.items.iter().find(|item| item.item == counted.item) else {
                    return Err(bad(format!("item `{}` is not in the plan", counted.item)).into());
                };
                if counted.billed > counted.units {
                    return Err(
                        bad(format!("item `{}` billed more units than it counted", counted.item)).into()
                    );
                }
                let expected = price_of(item, counted.billed);
                if expected != Some(counted.charged) {
                    return Err(bad(format!(
                        "item `{}` charged {} for {} billable units; the plan gives {expected:?}",
                        counted.item, counted.charged, counted.billed
                    ))
                    .into());
                }
                total = Amount(total.0.saturating_add(counted.charged.0));
            }
            let settled = captured.remove(&(*holder, *member, *plan_id, *version)).unwrap_or(Amount::ZERO);
            if settled != total {
                return Err(bad(format!("items charged {total}, settled holds captured {settled}")).into());
            }
        }
        if let Some(((holder, member, plan_id, version), amount)) =
            captured.into_iter().find(|(_, amount)| !amount.is_zero())
        {
            let plan =
                PlanRef { plan_id: plan_id.clone(), version: u32::try_from(version).unwrap_or(u32::MAX) };
            let what = format!("settled holds captured {amount}, but no usage is recorded");
            return Err(
                HoldViolation::BadPlanUsage { holder: *holder, member: member.clone(), plan, what }.into()
            );
        }
        Ok(())
    }

    /// Each authorization: a cap above zero with what remains of it within, a known provider
    /// and asset.
    fn check_authorizations(&self, world: &World<'a>) -> Result<(), InvariantViolation> {
        for (holder, provider, asset, authorization) in &self.authorizations {
            if authorization.cap.is_zero() || authorization.cap_remaining > authorization.cap {
                return Err(HoldViolation::BadCap {
                    holder: **holder,
                    provider: (*provider).clone(),
                    cap: authorization.cap,
                    cap_remaining: authorization.cap_remaining,
                }
                .into());
            }
            if !world.members.contains_key(provider) {
                let provider = (*provider).clone();
                return Err(HoldViolation::AuthorizationOfUnknownMember { holder: **holder, provider }.into());
            }
            if !world.assets.contains_key(asset) {
                let asset = (*asset).clone();
                return Err(HoldViolation::AuthorizationOfUnknownAsset { holder: **holder, asset }.into());
            }
        }
        Ok(())
    }

    /// Each hold: an amount, a known member and asset; open ones indexed by expiry (what they
    /// lock goes to `locks`), settled ones within the amount and recorded under their batch.
    fn check_holds(&self, world: &World<'a>, locks: &mut Locks<'a>) -> Result<(), InvariantViolation> {
        for (hold_id, hold) in &self.holds {
            let hold_id = *hold_id;
            if hold.amount.is_zero() {
                return Err(HoldViolation::ZeroAmount { hold_id }.into());
            }
            if !world.members.contains_key(&hold.member) {
                return Err(HoldViolation::UnknownMember { hold_id, member: hold.member.clone() }.into());
            }
            if !world.assets.contains_key(&hold.asset) {
                return Err(HoldViolation::UnknownAsset { hold_id, asset: hold.asset.clone() }.into());
            }
            match hold.status {
                HoldStatus::Open => {
                    if !self.expiries.contains(&(hold.expires_at_ms, hold_id)) {
                        let expires_at_ms = hold.expires_at_ms;
                        return Err(HoldViolation::OpenWithoutExpiry { hold_id, expires_at_ms }.into());
                    }
                    locks.add(&hold.holder, &hold.asset, hold.amount)?;
                }
                HoldStatus::Settled { batch_id, amount, .. } => {
                    if amount > hold.amount {
                        let violation = HoldViolation::SettledAboveAmount {
                            hold_id,
                            amount: hold.amount,
                            settled: amount,
                        };
                        return Err(violation.into());
                    }
                    let recorded = self.batches.get(&(&hold.member, batch_id));
                    if !recorded.is_some_and(|record| record.hold_id == hold_id && record.amount == amount) {
                        let member = hold.member.clone();
                        return Err(
                            HoldViolation::SettlementWithoutBatch { hold_id, member, batch_id }.into()
                        );
                    }
                }
                HoldStatus::Voided { .. } | HoldStatus::Expired { .. } => {}
            }
        }
        Ok(())
    }

    /// Every index entry belongs to an open hold with that expiry: with [`Self::check_holds`],
    /// the index and the open holds match one to one.
    fn check_expiries(&self) -> Result<(), InvariantViolation> {
        for (expires_at_ms, hold_id) in &self.expiries {
            let open = self
                .holds
                .get(hold_id)
                .is_some_and(|hold| hold.status == HoldStatus::Open && hold.expires_at_ms == *expires_at_ms);
            if !open {
                let violation =
                    HoldViolation::StaleExpiry { hold_id: *hold_id, expires_at_ms: *expires_at_ms };
                return Err(violation.into());
            }
        }
        Ok(())
    }

    /// Every batch record names a hold settled by that batch, for that amount.
    fn check_batches(&self) -> Result<(), InvariantViolation> {
        for ((member, batch_id), record) in &self.batches {
            let settled_here = self.holds.get(&record.hold_id).is_some_and(|hold| {
                hold.member == **member
                    && matches!(
                        hold.status,
                        HoldStatus::Settled { batch_id: settled, amount, .. }
                            if settled == *batch_id && amount == record.amount
                    )
            });
            if !settled_here {
                let violation = HoldViolation::BatchWithoutSettlement {
                    member: (*member).clone(),
                    batch_id: *batch_id,
                    hold_id: record.hold_id,
                };
                return Err(violation.into());
            }
        }
        Ok(())
    }
}

/// What the holds ops used over a chain's history.
///
/// The history does not see the member table, so it tells members apart by what the ops prove:
/// a successful Settle shows that its signer and the account that placed the hold are issuers
/// of the same member. Accounts are grouped by that relation, and batch ids are tracked per
/// group. Within one member this may split issuers that never settled each other's holds into
/// separate groups (missing a reuse across them; the state check, which sees every batch
/// record, still catches it), but it never merges two members, so it reports no false reuse.
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryPart {
    /// Every hold ever placed: the account that placed it, and whether it was resolved by a
    /// Settle or Void.
    holds: BTreeMap<OpId, PlacedHold>,
    /// The group of each issuer account seen placing or settling a hold.
    group_of: BTreeMap<PublicKey, usize>,
    /// Each group's accounts and the batch ids it used.
    groups: Vec<IssuerGroup>,
}

#[derive(Clone, Debug)]
struct PlacedHold {
    placed_by: PublicKey,
    resolved: bool,
}

#[derive(Clone, Debug, Default)]
struct IssuerGroup {
    accounts: Vec<PublicKey>,
    batch_ids: BTreeSet<OpId>,
}

impl HistoryPart {
    /// Records one op of a successful transaction.
    pub fn observe_op(
        &mut self,
        height: Height,
        index: usize,
        signer: &PublicKey,
        op: &Op,
    ) -> Result<(), HistoryViolation> {
        let violation = |what: String| HistoryViolation::Themed { height, index, what };
        match op {
            Op::Hold(hold) => {
                if self.holds.contains_key(&hold.hold_id) {
                    return Err(violation(format!("hold id {} was placed before", hold.hold_id)));
                }
                self.holds.insert(hold.hold_id, PlacedHold { placed_by: *signer, resolved: false });
                self.group(signer);
            }
            Op::Settle(settle) => {
                let placed_by = self.resolve(settle.hold_id).map_err(violation)?;
                let group = self.join(signer, &placed_by);
                if !self.groups[group].batch_ids.insert(settle.batch_id) {
                    return Err(violation(format!(
                        "batch id {} was used before by the member of {signer}",
                        settle.batch_id
                    )));
                }
            }
            Op::Void(void) => {
                self.resolve(void.hold_id).map_err(violation)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Marks a hold resolved; returns who placed it.
    fn resolve(&mut self, hold_id: OpId) -> Result<PublicKey, String> {
        let hold = self.holds.get_mut(&hold_id).ok_or_else(|| format!("hold {hold_id} was never placed"))?;
        if hold.resolved {
            return Err(format!("hold {hold_id} was resolved before"));
        }
        hold.resolved = true;
        Ok(hold.placed_by)
    }

    /// The group of `account`, created if new.
    fn group(&mut self, account: &PublicKey) -> usize {
        if let Some(group) = self.group_of.get(account) {
            return *group;
        }
        let group = self.groups.len();
        self.groups.push(IssuerGroup { accounts: vec![*account], batch_ids: BTreeSet::new() });
        self.group_of.insert(*account, group);
        group
    }

    /// Merges the groups of two accounts known to be issuers of the same member; returns the
    /// merged group. A member has at most `MEMBER_ISSUERS_MAX` issuers, so merges are small.
    fn join(&mut self, a: &PublicKey, b: &PublicKey) -> usize {
        let (into, from) = (self.group(a), self.group(b));
        if into == from {
            return into;
        }
        let moved = std::mem::take(&mut self.groups[from]);
        for account in &moved.accounts {
            self.group_of.insert(*account, into);
        }
        let target = &mut self.groups[into];
        target.accounts.extend(moved.accounts);
        target.batch_ids.extend(moved.batch_ids);
        into
    }
}

/// The plan's price of the first `billed` billable units of `item`, rounded down to minor
/// units: each tier's share of the units times its price, in billionths of a minor unit.
/// `None` on overflow. (Written apart from `tally_types::pricing`, which the ledger uses.)
fn price_of(item: &PlanItem, billed: u64) -> Option<Amount> {
    let mut nanos: u128 = 0;
    let mut lower: u128 = 0;
    for tier in item.tiers.iter() {
        let upper = tier.up_to.map_or(u128::MAX, u128::from);
        let units_here = u128::from(billed).min(upper).saturating_sub(lower);
        nanos = nanos.checked_add(units_here.checked_mul(tier.unit_price.0)?)?;
        lower = upper;
    }
    Some(Amount(nanos / 1_000_000_000))
}
