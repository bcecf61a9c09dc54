//! Metered usage: AuthorizeSpend, Hold, Settle, Void, and the release of expired holds at the
//! start of each block.
//!
//! A holder authorizes a provider (a member) to hold up to a cap of one asset until a time. An
//! issuer of that member then places holds within the authorization: each hold moves credits
//! from the holder's available to locked balance and takes its amount from the cap. A hold
//! ends exactly once:
//! - **Settle** (an issuer of the hold's member): captures part or all of the hold, paid to the
//!   signing issuer account (supply does not change); the rest is released.
//! - **Void** (an issuer at any time, or the holder once the hold expired): releases it all.
//! - **Expiry**: the first block whose time is at or after the hold's expiry releases it all
//!   in its prologue ([`BlockExecutor::begin`]), at most
//!   [`limits::HOLD_EXPIRIES_PER_BLOCK_MAX`] per block, earliest first. A hold still open past
//!   its expiry (waiting for a later block's prologue) already counts as expired: it can no
//!   longer be settled, and its holder may void it.
//!
//! Whatever is released goes back to the authorization's remaining cap, if the authorization
//! still exists (the holder may have revoked it meanwhile; revoking does not touch open holds).
//! "Expired" always means: block time ≥ `expires_at_ms`.
//!
//! An authorization may name a version of the provider's price plan (see [`super::plans`]);
//! each hold placed under it keeps that version, and its settlement must charge exactly what
//! the version gives for the settlement's usage lines.

use tally_types::pricing::{self, ChargeError};
use tally_types::receipt::ErrorCode;
use tally_types::tx::{AssetFlags, AuthorizeSpend, Hold, Settle, SettleApp, Void};
use tally_types::{Amount, AppId, OpId, PublicKey, limits};

use super::{BlockExecutor, OpContext, OpResult, wrong_kind};
use crate::state::{
    AppUsageState, AuthorizationState, BatchRecord, HoldState, HoldStatus, IndexMarker, ItemUsage, KeyRange,
    OrderedU64, PlanUsageState, SpentState, StateError, StateKey, StateRead, StateValue, UsageState,
};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// Releases the open holds whose expiry is at or before the block time, earliest expiry
    /// first (then by hold id), at most [`limits::HOLD_EXPIRIES_PER_BLOCK_MAX`] of them: each
    /// becomes `Expired` at this height, its amount returns to the holder's available balance
    /// and to the authorization's cap, and its expiry index entry is deleted.
    ///
    /// Nothing here can fail by a ledger rule: an index entry without a matching open hold, or
    /// locked funds that do not cover the hold, mean the stored state is corrupt.
    pub(super) fn release_expired_holds(&mut self) -> Result<(), StateError> {
        let range = KeyRange::hold_expiries(self.context.time_ms);
        let height = self.context.height;
        let mut after: Option<StateKey> = None;
        for _ in 0..limits::HOLD_EXPIRIES_PER_BLOCK_MAX {
            // Walking on from the last released key, not from the start of the range: the
            // released entries are deleted in the overlay, and skipping them again on every
            // step would make the prologue quadratic.
            let Some((index_key, index_value)) = self.next_entry(&range, after.as_ref())? else {
                break;
            };
            let StateKey::HoldExpiry { expires_at_ms, hold_id } = index_key else {
                return Err(StateError::Corrupt {
                    key: index_key,
                    reason: "the state returned this key for a scan of hold expiries".into(),
                });
            };
            if !matches!(index_value, StateValue::HoldExpiry(IndexMarker)) {
                return Err(wrong_kind(&index_key, &index_value));
            }
            let hold_key = StateKey::Hold { hold_id };
            let hold = self.read_hold(&hold_key)?.ok_or_else(|| StateError::Corrupt {
                key: index_key.clone(),
                reason: "the expiry index names a hold that does not exist".into(),
            })?;
            if hold.status != HoldStatus::Open || hold.expires_at_ms != expires_at_ms.0 {
                return Err(StateError::Corrupt {
                    key: index_key.clone(),
                    reason: format!(
                        "the expiry index names hold {hold_id}, which is {:?} and expires at {}",
                        hold.status, hold.expires_at_ms
                    ),
                });
            }
            self.close_hold(hold_id, hold, None, HoldStatus::Expired { height })?;
            // Each release into the block's writes at once: the transaction overlay is a
            // vector scanned linearly, and a thousand releases would make every lookup slow.
            self.commit_tx_writes();
            after = Some(index_key);
        }
        Ok(())
    }

    /// AuthorizeSpend, signed by the holder. Checks, in order: the provider member exists
    /// (`UnknownMember`); the asset exists (`UnknownAsset`). A cap of zero then revokes: it
    /// deletes the holder's authorization for this provider and asset, if any, and succeeds
    /// (open holds are not affected). Otherwise: a non-transferable asset may be authorized
    /// only to its own member, since settling pays the provider's issuer (`NotTransferable`);
    /// the expiry is after the block time (`BadExpiry`); a named price plan version is the
    /// provider's (`UnknownPlan`), not retired (`PlanRetired`) and charges in the asset
    /// (`PlanAssetMismatch`). The authorization is then set to the new cap, expiry and plan,
    /// replacing any earlier one (what earlier holds took from the old cap is not subtracted;
    /// what they release later is added back; they keep the plan they were placed under).
    pub(super) fn authorize_spend(&mut self, at: OpContext<'_>, op: &AuthorizeSpend) -> OpResult {
        // A removed provider can no longer hold, so authorizing it serves no purpose; revoking
        // (cap zero) an authorization of a removed provider stays possible.
        let provider_active = match self.read(&StateKey::Member { member: op.provider.clone() })? {
            None => return Err(ErrorCode::UnknownMember.into()),
            Some(StateValue::Member(member)) => member.is_active(),
            Some(_) => true,
        };
        if !provider_active && !op.cap.is_zero() {
            return Err(ErrorCode::UnknownMember.into());
        }
        let asset =
            self.read_asset(&StateKey::Asset { asset: op.asset.clone() })?.ok_or(ErrorCode::UnknownAsset)?;
        let key = StateKey::Authorization {
            holder: *at.signer,
            provider: op.provider.clone(),
            asset: op.asset.clone(),
        };
        if op.cap.is_zero() {
            // Only delete what exists, so that a revocation of nothing writes nothing.
            if self.read(&key)?.is_some() {
                self.put(key, None);
            }
            return Ok(());
        }
        if asset.flags.has(AssetFlags::NON_TRANSFERABLE) && op.asset.issuer != op.provider {
            return Err(ErrorCode::NotTransferable.into());
        }
        if op.expires_at_ms <= self.context.time_ms {
            return Err(ErrorCode::BadExpiry.into());
        }
        if let Some(plan) = &op.plan {
            let plan = self.current_plan(&op.provider, plan)?;
            if plan.plan.asset != op.asset {
                return Err(ErrorCode::PlanAssetMismatch.into());
            }
        }
        let authorization = AuthorizationState {
            cap: op.cap,
            cap_remaining: op.cap,
            expires_at_ms: op.expires_at_ms,
            plan: op.plan.clone(),
        };
        self.put(key, Some(StateValue::Authorization(authorization)));
        Ok(())
    }

    /// Hold, signed by an issuer account of some member M. Checks, in order: the signer is an
    /// issuer (`NotIssuer`); the amount is positive (`ZeroAmount`); the hold id was never used,
    /// by any member (`DuplicateHoldId`); the holder has an unexpired authorization for M and
    /// the asset (`NoAuthorization`); block time < hold expiry ≤ authorization expiry
    /// (`BadExpiry`); the authorization's price plan version, if any, is not retired
    /// (`PlanRetired`); the amount fits the remaining cap (`CapExceeded`); the holder's available
    /// balance covers it (`InsufficientBalance`). Effects: the amount moves from the holder's
    /// available to locked balance and is taken from the cap (the authorization stays even at
    /// zero, so that released amounts can return to it); the hold is stored open, with the
    /// authorization's plan and its expiry index entry.
    pub(super) fn hold(&mut self, at: OpContext<'_>, op: &Hold) -> OpResult {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        if op.amount.is_zero() {
            return Err(ErrorCode::ZeroAmount.into());
        }
        let hold_key = StateKey::Hold { hold_id: op.hold_id };
        if self.read(&hold_key)?.is_some() {
            return Err(ErrorCode::DuplicateHoldId.into());
        }
        let authorization_key =
            StateKey::Authorization { holder: op.holder, provider: member.clone(), asset: op.asset.clone() };
        let mut authorization = self
            .read_authorization(&authorization_key)?
            .filter(|authorization| !self.is_expired(authorization.expires_at_ms))
            .ok_or(ErrorCode::NoAuthorization)?;
        if self.is_expired(op.expires_at_ms) || op.expires_at_ms > authorization.expires_at_ms {
            return Err(ErrorCode::BadExpiry.into());
        }
        if let Some(plan) = &authorization.plan {
            self.current_plan(&member, plan)?;
        }
        authorization.cap_remaining =
            authorization.cap_remaining.checked_sub(op.amount).ok_or(ErrorCode::CapExceeded)?;
        let balance_key = StateKey::balance(op.holder, op.asset.clone());
        let mut balance = self.read_balance(&balance_key)?;
        balance.available = balance.available.checked_sub(op.amount).ok_or(ErrorCode::InsufficientBalance)?;
        // available + locked ≤ supply ≤ u128::MAX; an overflow here means corrupt state, but
        // the op refuses it rather than trusting that.
        balance.locked = balance.locked.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;

        self.put_balance(balance_key, balance);
        let plan = authorization.plan.clone();
        self.put(authorization_key, Some(StateValue::Authorization(authorization)));
        let hold = HoldState {
            member,
            holder: op.holder,
            asset: op.asset.clone(),
            amount: op.amount,
            expires_at_ms: op.expires_at_ms,
            created_at: self.context.height,
            status: HoldStatus::Open,
            plan,
        };
        self.put(hold_key, Some(StateValue::Hold(hold)));
        let index_key =
            StateKey::HoldExpiry { expires_at_ms: OrderedU64(op.expires_at_ms), hold_id: op.hold_id };
        self.put(index_key, Some(StateValue::HoldExpiry(IndexMarker)));
        Ok(())
    }

    /// Settle, signed by an issuer of the hold's member. Checks, in order: the hold exists
    /// (`UnknownHold`); the signer is an issuer of the hold's member (`NotIssuer`); the hold is
    /// open and not expired (`HoldClosed`); the member never used the batch id
    /// (`DuplicateBatchId`); the usage lines are sorted by item, each once, each with units
    /// (`BadUsageLines`); under a price plan, every line's item is in the plan
    /// (`UnknownPlanItem`), the charge does not overflow (`AmountOverflow`) and the amount is
    /// the plan's charge for the lines ([`pricing::price_lines`], `SettleAmountMismatch`); the
    /// amount is at most the held amount (`SettleExceedsHold`; zero is allowed and releases
    /// everything). Effects: the hold's amount is unlocked; `amount` of it goes to the signing
    /// issuer account (supply does not change) and the rest back to the holder's available
    /// balance and the authorization's cap; the hold becomes `Settled`, its expiry index entry
    /// is deleted, and the batch id is recorded with its usage root; under a plan, the
    /// holder's usage of the plan version counts the lines' units and charges; the holder's
    /// usage facts with the member ([`StateKey::Usage`], [`StateKey::Spent`]) count the
    /// settlement, its lines' units and its amount.
    pub(super) fn settle(&mut self, at: OpContext<'_>, op: &Settle) -> OpResult {
        self.settle_for(at, op, None)
    }

    /// SettleApp: a [`Self::settle`] with the same checks in the same order, after which the
    /// holder's application `app` with the member ([`StateKey::AppUsage`]) counts the
    /// settlement and its units; a new application adds one to the pair's `applications`.
    pub(super) fn settle_app(&mut self, at: OpContext<'_>, op: &SettleApp) -> OpResult {
        self.settle_for(at, &op.settle, Some(&op.app))
    }

    fn settle_for(&mut self, at: OpContext<'_>, op: &Settle, app: Option<&AppId>) -> OpResult {
        let hold_key = StateKey::Hold { hold_id: op.hold_id };
        let hold = self.read_hold(&hold_key)?.ok_or(ErrorCode::UnknownHold)?;
        if !self.is_issuer_of(at.signer, &hold.member)? {
            return Err(ErrorCode::NotIssuer.into());
        }
        if hold.status != HoldStatus::Open || self.is_expired(hold.expires_at_ms) {
            return Err(ErrorCode::HoldClosed.into());
        }
        let batch_key = StateKey::BatchId { member: hold.member.clone(), batch_id: op.batch_id };
        if self.read(&batch_key)?.is_some() {
            return Err(ErrorCode::DuplicateBatchId.into());
        }
        pricing::check_lines(&op.lines).map_err(|_| ErrorCode::BadUsageLines)?;
        let usage = match &hold.plan {
            Some(plan) => Some(self.price_settlement(&hold, plan, op)?),
            None => None,
        };
        if op.amount > hold.amount {
            return Err(ErrorCode::SettleExceedsHold.into());
        }
        // A settlement without lines (nothing used) leaves the usage as it was.
        if let Some((key, usage)) = usage
            && !op.lines.is_empty()
        {
            self.put(key, Some(StateValue::PlanUsage(usage)));
        }
        let height = self.context.height;
        self.count_settlement(&hold, op, app)?;
        let status = HoldStatus::Settled { batch_id: op.batch_id, amount: op.amount, height };
        self.close_hold(op.hold_id, hold, Some((at.signer, op.amount)), status)?;
        let record =
            BatchRecord { hold_id: op.hold_id, amount: op.amount, usage_root: op.usage_root, height };
        self.put(batch_key, Some(StateValue::BatchId(record)));
        Ok(())
    }

    /// Adds one accepted settlement of `hold` to the holder's usage facts with the hold's
    /// member: units, settlements and the amount per asset, and per application when named.
    /// The counters are u128 and u64 sums of u64 units and of amounts within a supply, so an
    /// overflow is refused (`AmountOverflow`) rather than wrapped, though none can occur.
    fn count_settlement(&mut self, hold: &HoldState, op: &Settle, app: Option<&AppId>) -> OpResult {
        let units: u128 = op.lines.iter().map(|line| u128::from(line.units)).sum();
        let usage_key = StateKey::Usage { holder: hold.holder, provider: hold.member.clone() };
        let mut usage = match self.read(&usage_key)? {
            None => UsageState::default(),
            Some(StateValue::Usage(usage)) => usage,
            Some(other) => return Err(wrong_kind(&usage_key, &other).into()),
        };
        usage.units = usage.units.checked_add(units).ok_or(ErrorCode::AmountOverflow)?;
        usage.settlements = usage.settlements.checked_add(1).ok_or(ErrorCode::AmountOverflow)?;
        let spent_key =
            StateKey::Spent { holder: hold.holder, provider: hold.member.clone(), asset: hold.asset.clone() };
        let mut spent = match self.read(&spent_key)? {
            None => SpentState::default(),
            Some(StateValue::Spent(spent)) => spent,
            Some(other) => return Err(wrong_kind(&spent_key, &other).into()),
        };
        spent.amount = spent.amount.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;
        spent.settlements = spent.settlements.checked_add(1).ok_or(ErrorCode::AmountOverflow)?;
        if let Some(app) = app {
            let app_key =
                StateKey::AppUsage { holder: hold.holder, provider: hold.member.clone(), app: app.clone() };
            let mut app_usage = match self.read(&app_key)? {
                None => {
                    usage.applications =
                        usage.applications.checked_add(1).ok_or(ErrorCode::AmountOverflow)?;
                    AppUsageState { units: 0, settlements: 0, first_height: self.context.height }
                }
                Some(StateValue::AppUsage(app_usage)) => app_usage,
                Some(other) => return Err(wrong_kind(&app_key, &other).into()),
            };
            app_usage.units = app_usage.units.checked_add(units).ok_or(ErrorCode::AmountOverflow)?;
            app_usage.settlements = app_usage.settlements.checked_add(1).ok_or(ErrorCode::AmountOverflow)?;
            self.put(app_key, Some(StateValue::AppUsage(app_usage)));
        }
        self.put(usage_key, Some(StateValue::Usage(usage)));
        self.put(spent_key, Some(StateValue::Spent(spent)));
        Ok(())
    }

    /// Prices a settlement's lines under the hold's plan version (which exists: the hold was
    /// placed under it, and versions are never deleted; a retired version still prices the
    /// holds placed before) and returns the holder's usage of the version with the lines
    /// added, to store once the settlement is accepted.
    fn price_settlement(
        &self,
        hold: &HoldState,
        plan: &tally_types::pricing::PlanRef,
        op: &Settle,
    ) -> Result<(StateKey, PlanUsageState), super::OpFailure> {
        let plan_key = StateKey::Plan {
            member: hold.member.clone(),
            plan_id: plan.plan_id.clone(),
            version: OrderedU64(u64::from(plan.version)),
        };
        let plan_state = self.read_plan(&plan_key)?.ok_or_else(|| StateError::Corrupt {
            key: plan_key.clone(),
            reason: "an open hold names this plan version, which does not exist".into(),
        })?;
        let usage_key = StateKey::PlanUsage {
            holder: hold.holder,
            member: hold.member.clone(),
            plan_id: plan.plan_id.clone(),
            version: OrderedU64(u64::from(plan.version)),
        };
        let usage = match self.read(&usage_key)? {
            None => PlanUsageState { items: tally_types::BoundedVec::empty() },
            Some(StateValue::PlanUsage(usage)) => usage,
            Some(other) => return Err(super::wrong_kind(&usage_key, &other).into()),
        };
        let charge = pricing::price_lines(&plan_state.plan, &op.lines, |item| {
            usage.item(item).map_or(0, |counted| counted.billed)
        })
        .map_err(|error| match error {
            ChargeError::LineOrder(_) | ChargeError::ZeroUnits(_) => ErrorCode::BadUsageLines,
            ChargeError::UnknownItem(_) => ErrorCode::UnknownPlanItem,
            ChargeError::Overflow(_) => ErrorCode::AmountOverflow,
        })?;
        if charge.total != op.amount {
            return Err(ErrorCode::SettleAmountMismatch.into());
        }
        // Merge the lines into the sorted per-item counters.
        let mut items: Vec<ItemUsage> = usage.items.into_inner();
        for line in &charge.lines {
            let index = match items.binary_search_by(|counted| counted.item.cmp(&line.item)) {
                Ok(index) => index,
                Err(index) => {
                    items.insert(
                        index,
                        ItemUsage {
                            item: line.item.clone(),
                            units: 0,
                            billed: 0,
                            charged: tally_types::Amount::ZERO,
                        },
                    );
                    index
                }
            };
            let counted = &mut items[index];
            counted.units = counted.units.checked_add(line.units).ok_or(ErrorCode::AmountOverflow)?;
            counted.billed = counted.billed.checked_add(line.billable).ok_or(ErrorCode::AmountOverflow)?;
            counted.charged = counted.charged.checked_add(line.amount).ok_or(ErrorCode::AmountOverflow)?;
        }
        let items = tally_types::BoundedVec::new(items).map_err(|_| StateError::Corrupt {
            key: usage_key.clone(),
            reason: "usage of more items than the plan prices".into(),
        })?;
        Ok((usage_key, PlanUsageState { items }))
    }

    /// Void. Checks, in order: the hold exists (`UnknownHold`); it is open (`HoldClosed`); the
    /// signer is an issuer of the hold's member (allowed at any time), or else the holder, who
    /// may void only once the hold expired (`HoldNotExpired`); anyone else (`NotIssuer`).
    /// Effects: the whole amount is released to the holder's available balance and the
    /// authorization's cap; the hold becomes `Voided` and its expiry index entry is deleted.
    pub(super) fn void(&mut self, at: OpContext<'_>, op: &Void) -> OpResult {
        let hold_key = StateKey::Hold { hold_id: op.hold_id };
        let hold = self.read_hold(&hold_key)?.ok_or(ErrorCode::UnknownHold)?;
        if hold.status != HoldStatus::Open {
            return Err(ErrorCode::HoldClosed.into());
        }
        if !self.is_issuer_of(at.signer, &hold.member)? {
            if *at.signer != hold.holder {
                return Err(ErrorCode::NotIssuer.into());
            }
            // The holder may void at once a hold of a removed member: no issuer can settle or
            // void it any more, and its expiry may be far away.
            if !self.is_expired(hold.expires_at_ms) && self.member_is_active(&hold.member)? {
                return Err(ErrorCode::HoldNotExpired.into());
            }
        }
        let status = HoldStatus::Voided { height: self.context.height };
        self.close_hold(op.hold_id, hold, None, status)?;
        Ok(())
    }

    /// Ends an open hold with `status`: unlocks its amount on the holder's balance, pays the
    /// captured part (if any) to the given account, returns the rest to the holder's available
    /// balance and to the authorization's cap, stores the hold and deletes its expiry index
    /// entry. The caller has checked that the hold is open and that the capture is at most the
    /// held amount; every failure left is corrupt state (the hold's amount is part of the
    /// holder's locked balance, and every balance is part of the supply, so nothing overflows).
    fn close_hold(
        &mut self,
        hold_id: OpId,
        mut hold: HoldState,
        capture: Option<(&PublicKey, Amount)>,
        status: HoldStatus,
    ) -> Result<(), StateError> {
        let captured = capture.map_or(Amount::ZERO, |(_, amount)| amount);
        let released = hold
            .amount
            .checked_sub(captured)
            .expect("callers refuse a capture above the held amount (SettleExceedsHold)");
        let holder_key = StateKey::balance(hold.holder, hold.asset.clone());
        let mut holder = self.read_balance(&holder_key)?;
        let corrupt = |reason: String| StateError::Corrupt { key: holder_key.clone(), reason };
        holder.locked = holder.locked.checked_sub(hold.amount).ok_or_else(|| {
            corrupt(format!("{} locked does not cover hold {hold_id} of {}", holder.locked, hold.amount))
        })?;
        holder.available = holder
            .available
            .checked_add(released)
            .ok_or_else(|| corrupt(format!("releasing hold {hold_id} overflows the balance")))?;
        self.put_balance(holder_key, holder);
        if let Some((payee, amount)) = capture
            && !amount.is_zero()
        {
            let payee_key = StateKey::balance(*payee, hold.asset.clone());
            let mut balance = self.read_balance(&payee_key)?;
            balance.available = balance.available.checked_add(amount).ok_or_else(|| StateError::Corrupt {
                key: payee_key.clone(),
                reason: format!("settling hold {hold_id} overflows the balance"),
            })?;
            self.put_balance(payee_key, balance);
        }
        let authorization_key = StateKey::Authorization {
            holder: hold.holder,
            provider: hold.member.clone(),
            asset: hold.asset.clone(),
        };
        if let Some(mut authorization) = self.read_authorization(&authorization_key)? {
            // Never above the cap the holder last set: a hold placed under an earlier
            // authorization must not widen a later one (re-authorizing 100 while 100 is held
            // would otherwise let voids raise the remaining cap to 200).
            authorization.cap_remaining =
                Amount(authorization.cap_remaining.0.saturating_add(released.0).min(authorization.cap.0));
            self.put(authorization_key, Some(StateValue::Authorization(authorization)));
        }
        let index_key = StateKey::HoldExpiry { expires_at_ms: OrderedU64(hold.expires_at_ms), hold_id };
        hold.status = status;
        self.put(StateKey::Hold { hold_id }, Some(StateValue::Hold(hold)));
        self.put(index_key, None);
        Ok(())
    }

    /// True when a deadline has passed at this block's time.
    fn is_expired(&self, expires_at_ms: u64) -> bool {
        self.context.time_ms >= expires_at_ms
    }

    fn read_hold(&self, key: &StateKey) -> Result<Option<HoldState>, StateError> {
        match self.read(key)? {
            None => Ok(None),
            Some(StateValue::Hold(hold)) => Ok(Some(hold)),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }

    fn read_authorization(&self, key: &StateKey) -> Result<Option<AuthorizationState>, StateError> {
        match self.read(key)? {
            None => Ok(None),
            Some(StateValue::Authorization(authorization)) => Ok(Some(authorization)),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }
}
