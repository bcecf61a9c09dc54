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
//!
//! History: each hold id is placed once; each member uses each batch id once; each hold is
//! resolved by at most one successful Settle or Void (release at expiry happens in a block's
//! prologue, and afterwards both ops fail, so it cannot add a second resolution).

use std::collections::{BTreeMap, BTreeSet};

use tally_types::tx::Op;
use tally_types::{Amount, AssetId, Height, MemberId, OpId, PublicKey};

use super::{HistoryViolation, InvariantViolation, Locks, World};
use crate::state::{AuthorizationState, BatchRecord, HoldState, HoldStatus, StateKey, StateValue};

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
}

/// Gathers the holds entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    authorizations: Vec<(&'a PublicKey, &'a MemberId, &'a AssetId, &'a AuthorizationState)>,
    holds: BTreeMap<OpId, &'a HoldState>,
    /// (expires_at_ms, hold id) of every expiry index entry.
    expiries: BTreeSet<(u64, OpId)>,
    batches: BTreeMap<(&'a MemberId, OpId), &'a BatchRecord>,
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
        self.check_batches()
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
