//! Badges: AnchorBadges and RevokeBadge.

use tally_types::receipt::ErrorCode;
use tally_types::tx::{AnchorBadges, RevokeBadge};

use super::{BlockExecutor, OpContext, OpResult};
use crate::state::StateRead;

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    pub(super) fn anchor_badges(&mut self, _at: OpContext<'_>, _op: &AnchorBadges) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }

    pub(super) fn revoke_badge(&mut self, _at: OpContext<'_>, _op: &RevokeBadge) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }
}
