//! Metered usage: AuthorizeSpend, Hold, Settle, Void, and the release of expired holds at the
//! start of each block.

use tally_types::receipt::ErrorCode;
use tally_types::tx::{AuthorizeSpend, Hold, Settle, Void};

use super::{BlockExecutor, OpContext, OpResult};
use crate::state::{StateError, StateRead};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// Releases every open hold whose expiry is at or before the block time.
    pub(super) fn release_expired_holds(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    pub(super) fn authorize_spend(&mut self, _at: OpContext<'_>, _op: &AuthorizeSpend) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }

    pub(super) fn hold(&mut self, _at: OpContext<'_>, _op: &Hold) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }

    pub(super) fn settle(&mut self, _at: OpContext<'_>, _op: &Settle) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }

    pub(super) fn void(&mut self, _at: OpContext<'_>, _op: &Void) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }
}
