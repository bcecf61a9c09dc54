//! The order book: PlaceOffer and CancelOffer.

use tally_types::receipt::ErrorCode;
use tally_types::tx::{CancelOffer, PlaceOffer};

use super::{BlockExecutor, OpContext, OpResult};
use crate::state::StateRead;

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    pub(super) fn place_offer(&mut self, _at: OpContext<'_>, _op: &PlaceOffer) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }

    pub(super) fn cancel_offer(&mut self, _at: OpContext<'_>, _op: &CancelOffer) -> OpResult {
        Err(ErrorCode::OpNotSupported.into())
    }
}
