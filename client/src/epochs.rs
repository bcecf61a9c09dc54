//! Who validates each height, derived from the genesis file alone (docs/ARCHITECTURE.md
//! "Governance and epochs"): the auditor and the archive source of proofs replay every block
//! from the genesis state, and read the set of height `h` from the replayed state after block
//! `h − 1` with [`EpochsState::at`], the rule the node follows (`EpochRules::at` in the node's
//! executor). A ledger without an `Epochs` entry keeps the genesis set for ever.
//!
//! Invariant: an [`Epoch`] here was either read from the genesis file or from a state that was
//! itself reached by replaying verified blocks from the genesis file; nothing a node merely
//! says becomes an epoch.

use tally_genesis::Genesis;
use tally_ledger::state::{EpochConfig, EpochsState, StateValue};
use tally_ledger::{MemState, StateKey};
use tally_types::{Hash, Height, ValidatorSet};

/// One epoch's validators: the set that signs its certificates and whose hash its headers
/// carry, and its number, which its views carry (`View::epoch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epoch {
    pub number: u64,
    pub start_height: Height,
    pub validators: ValidatorSet,
    /// `validators.hash()`, kept so that every header check does not rehash the set.
    pub validators_hash: Hash,
}

impl Epoch {
    /// Epoch 0: the genesis validators, from height 1.
    pub fn genesis(genesis: &Genesis) -> Self {
        let validators = genesis.validator_set();
        Epoch { number: 0, start_height: Height(1), validators_hash: validators.hash(), validators }
    }

    pub(crate) fn from_config(config: &EpochConfig) -> Result<Self, String> {
        let validators = ValidatorSet::new(config.validators.iter().copied().collect())
            .map_err(|error| format!("epoch {}'s validator set in the state: {error}", config.number))?;
        Ok(Epoch {
            number: config.number,
            start_height: config.start_height,
            validators_hash: validators.hash(),
            validators,
        })
    }

    /// Whether `config` describes this epoch.
    fn is(&self, config: &EpochConfig) -> bool {
        self.number == config.number
            && self.start_height == config.start_height
            && self.validators.keys() == config.validators.as_slice()
    }
}

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "epoch {} (from height {})", self.number, self.start_height)
    }
}

/// The epoch schedule in `state`, or `None` for a ledger made without one.
pub fn epochs_state(state: &MemState) -> Result<Option<&EpochsState>, String> {
    match state.value(&StateKey::Epochs) {
        None => Ok(None),
        Some(StateValue::Epochs(epochs)) => Ok(Some(epochs)),
        Some(other) => Err(format!("the state's epochs entry holds a {:?} value", other.kind())),
    }
}

/// Follows the epochs through a replay: [`EpochTracker::advance`] before each block gives the
/// epoch of that block from the state after its parent, and remembers every epoch met.
#[derive(Clone, Debug)]
pub struct EpochTracker {
    /// Every epoch met so far, in order; the last is the current one.
    met: Vec<Epoch>,
}

impl EpochTracker {
    /// Starts at epoch 0.
    pub fn new(genesis: &Genesis) -> Self {
        EpochTracker { met: vec![Epoch::genesis(genesis)] }
    }

    /// The epoch of the last height advanced to (epoch 0 before the first).
    pub fn current(&self) -> &Epoch {
        self.met.last().expect("the tracker starts with epoch 0 and never drops one")
    }

    /// Every epoch met, in order.
    pub fn epochs(&self) -> &[Epoch] {
        &self.met
    }

    /// The epoch of block `height`, by `state`, the replayed state after block `height − 1`.
    /// Err names what in the state is wrong (an epoch that is not the next one, or a set that
    /// is not a valid validator set): the ledger code would have to be broken for either.
    pub fn advance(&mut self, state: &MemState, height: Height) -> Result<&Epoch, String> {
        let Some(epochs) = epochs_state(state)? else { return Ok(self.current()) };
        let config = epochs.at(height);
        if !self.current().is(config) {
            let current = self.current();
            let next_number = current.number + 1;
            let genesis_entry = current.number == 0 && config.number == 0 && self.met.len() == 1;
            if !genesis_entry && (config.number != next_number || config.start_height != height) {
                return Err(format!(
                    "the state puts height {height} in epoch {} from height {}, but the chain was in {current} \
                     and the next epoch must be number {next_number} starting at this height",
                    config.number, config.start_height
                ));
            }
            let epoch = Epoch::from_config(config)?;
            if genesis_entry {
                // The genesis state's own epoch 0 (its order of validators is the ledger's).
                self.met[0] = epoch;
            } else {
                self.met.push(epoch);
            }
        }
        Ok(self.current())
    }
}
