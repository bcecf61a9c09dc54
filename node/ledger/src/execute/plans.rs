//! Price plans: PublishPlan and RetirePlan, and the plan checks of AuthorizeSpend, Hold and a
//! pack purchase (docs/ARCHITECTURE.md "Price plans").
//!
//! A member publishes versions of its plans for its own assets; each version is stored once,
//! under (member, plan id, version), and never changes. Versions of a plan are numbered 1, 2,
//! … without gaps. Retiring a version stops new authorizations, holds and pack purchases that
//! name it; holds placed before still settle by it, and the version stays readable forever.
//! How a plan prices usage is [`tally_types::pricing`]; the settlement check is in
//! [`super::holds`].

use tally_types::MemberId;
use tally_types::pricing::{PlanRef, PricePlan};
use tally_types::receipt::ErrorCode;
use tally_types::tx::{GrantKind, PackRef, RetirePlan};

use super::{BlockExecutor, OpContext, OpFailure, OpResult, wrong_kind};
use crate::state::{OrderedU64, PlanState, StateError, StateKey, StateRead, StateValue};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// PublishPlan, signed by an issuer account of some member M. Checks, in order: the signer
    /// is an issuer (`NotIssuer`); the plan's asset is one of M's (`NotIssuer`) and exists
    /// (`UnknownAsset`); the plan's form ([`PricePlan::check`], `BadPlan`); the version was not
    /// published before (`PlanVersionExists`); it is 1 or follows a published version
    /// (`PlanVersionGap`). Effects: the version is stored, published at this height.
    pub(super) fn publish_plan(&mut self, at: OpContext<'_>, op: &PricePlan) -> OpResult {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        if op.asset.issuer != member {
            return Err(ErrorCode::NotIssuer.into());
        }
        if self.read(&StateKey::Asset { asset: op.asset.clone() })?.is_none() {
            return Err(ErrorCode::UnknownAsset.into());
        }
        op.check().map_err(|_| ErrorCode::BadPlan)?;
        let key = plan_key(&member, &op.reference());
        if self.read(&key)?.is_some() {
            return Err(ErrorCode::PlanVersionExists.into());
        }
        if op.version > 1 {
            let previous = PlanRef { plan_id: op.plan_id.clone(), version: op.version - 1 };
            if self.read(&plan_key(&member, &previous))?.is_none() {
                return Err(ErrorCode::PlanVersionGap.into());
            }
        }
        let state = PlanState { plan: op.clone(), published_at: self.context.height, retired_at: None };
        self.put(key, Some(StateValue::Plan(Box::new(state))));
        Ok(())
    }

    /// RetirePlan, signed by an issuer account of the member. Checks, in order: the signer is
    /// an issuer (`NotIssuer`); the member has the version (`UnknownPlan`); it is not retired
    /// yet (`PlanRetired`). Effects: the version is marked retired at this height.
    pub(super) fn retire_plan(&mut self, at: OpContext<'_>, op: &RetirePlan) -> OpResult {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        let key = plan_key(&member, &op.plan);
        let mut state = self.read_plan(&key)?.ok_or(ErrorCode::UnknownPlan)?;
        if state.retired_at.is_some() {
            return Err(ErrorCode::PlanRetired.into());
        }
        state.retired_at = Some(self.context.height);
        self.put(key, Some(StateValue::Plan(Box::new(state))));
        Ok(())
    }

    /// The member's plan version, if published and not retired: `UnknownPlan` or
    /// `PlanRetired` otherwise.
    pub(super) fn current_plan(&self, member: &MemberId, plan: &PlanRef) -> Result<PlanState, OpFailure> {
        let state = self.read_plan(&plan_key(member, plan))?.ok_or(ErrorCode::UnknownPlan)?;
        if state.retired_at.is_some() {
            return Err(ErrorCode::PlanRetired.into());
        }
        Ok(state)
    }

    /// The pack check of a purchase grant of `amount` of the asset `asset` that names `pack`.
    /// Checks, in order: the grant is a purchase (`PackMismatch`); the asset's member has
    /// the plan version (`UnknownPlan`), not retired (`PlanRetired`), charging in the asset
    /// (`PlanAssetMismatch`); the version sells the pack (`UnknownPack`) for exactly `amount`
    /// credits (`PackMismatch`).
    pub(super) fn check_pack(
        &self,
        kind: GrantKind,
        asset: &tally_types::AssetId,
        amount: tally_types::Amount,
        pack: &PackRef,
    ) -> OpResult {
        if kind != GrantKind::Purchase {
            return Err(ErrorCode::PackMismatch.into());
        }
        let state = self.current_plan(&asset.issuer, &pack.plan)?;
        if &state.plan.asset != asset {
            return Err(ErrorCode::PlanAssetMismatch.into());
        }
        let sold = state.plan.pack(&pack.pack).ok_or(ErrorCode::UnknownPack)?;
        if sold.credits != amount {
            return Err(ErrorCode::PackMismatch.into());
        }
        Ok(())
    }

    pub(super) fn read_plan(&self, key: &StateKey) -> Result<Option<PlanState>, StateError> {
        match self.read(key)? {
            None => Ok(None),
            Some(StateValue::Plan(plan)) => Ok(Some(*plan)),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }
}

/// The state key of a member's plan version.
pub(crate) fn plan_key(member: &MemberId, plan: &PlanRef) -> StateKey {
    StateKey::Plan {
        member: member.clone(),
        plan_id: plan.plan_id.clone(),
        version: OrderedU64(u64::from(plan.version)),
    }
}
