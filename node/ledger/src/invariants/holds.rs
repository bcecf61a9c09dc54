//! Invariants of the holds entries (skeleton; filled in with the ops).

use tally_types::tx::Op;
use tally_types::{Height, PublicKey};

use super::{HistoryViolation, InvariantViolation, Locks, World};
use crate::state::{StateKey, StateValue};

/// A broken invariant of the holds entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldViolation {}

/// Gathers the holds entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    entries: Vec<(&'a StateKey, &'a StateValue)>,
}

impl<'a> Collector<'a> {
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        self.entries.push((key, value));
        Ok(())
    }

    pub fn finish(self, _world: &World<'a>, _locks: &mut Locks<'a>) -> Result<(), InvariantViolation> {
        Ok(())
    }
}

/// What the holds ops used over a chain's history.
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryPart {}

impl HistoryPart {
    pub fn observe_op(
        &mut self,
        _height: Height,
        _index: usize,
        _signer: &PublicKey,
        _op: &Op,
    ) -> Result<(), HistoryViolation> {
        Ok(())
    }
}
