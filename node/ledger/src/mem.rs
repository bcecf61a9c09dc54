//! [`MemState`]: a complete ledger state in memory, with its sparse Merkle tree. Tests, the
//! benchmark, the simulator and `tally audit` use it; the node keeps the same entries in redb.

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::Bound;

use tally_types::Hash;
use tally_types::tx::SignedTransaction;

use crate::execute::{BlockContext, BlockError, BlockOutput, execute_block};
use crate::genesis::{GenesisError, GenesisLedger, genesis_writes};
use crate::invariants::{InvariantViolation, check_invariants};
use crate::proof::{ProveError, StateProof, prove_entry};
use crate::state::{KeyRange, StateError, StateKey, StateRead, StateValue, WriteSet, range_start};
use crate::tree::{MemTree, TreeError};

/// A ledger state in memory: the entries and the tree that commits to them, always in step.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    entries: BTreeMap<StateKey, StateValue>,
    tree: MemTree,
}

/// A block executed and committed by [`MemState::execute_and_commit`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommittedBlock {
    pub output: BlockOutput,
    /// The state root after the block.
    pub state_root: Hash,
}

/// Why [`MemState::execute_and_commit`] failed; the state is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum CommitBlockError {
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error(transparent)]
    Tree(#[from] TreeError),
}

impl MemState {
    /// The empty state (root zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// The state genesis creates.
    pub fn from_genesis(genesis: &GenesisLedger) -> Result<Self, GenesisError> {
        let writes = genesis_writes(genesis)?;
        let mut state = MemState::new();
        state
            .commit(&writes)
            .expect("distinct state keys have distinct tree keys, so a fresh tree accepts any write set");
        Ok(state)
    }

    /// Applies `writes` and returns the new state root. On error nothing changes.
    pub fn commit(&mut self, writes: &WriteSet) -> Result<Hash, TreeError> {
        let updates = writes.tree_updates();
        // The tree goes first: it is the part that can fail, and it leaves itself unchanged
        // when it does.
        let root = self.tree.apply(&updates)?;
        for (key, value) in writes {
            match value {
                // Most writes update an existing entry: reuse its key instead of cloning one.
                Some(value) => match self.entries.get_mut(key) {
                    Some(slot) => *slot = value.clone(),
                    None => {
                        self.entries.insert(key.clone(), value.clone());
                    }
                },
                None => {
                    self.entries.remove(key);
                }
            }
        }
        debug_assert_eq!(self.tree.len(), self.entries.len(), "tree and entries out of step");
        Ok(root)
    }

    /// Executes a block on this state and commits it. Signatures must have been checked by the
    /// caller. In debug builds, checks every state invariant afterwards and panics on a
    /// violation, which can only be a bug in the ledger.
    pub fn execute_and_commit(
        &mut self,
        context: &BlockContext,
        txs: &[SignedTransaction],
    ) -> Result<CommittedBlock, CommitBlockError> {
        let output = execute_block(self, context, txs)?;
        let state_root = self.commit(&output.writes)?;
        #[cfg(debug_assertions)]
        if let Err(violation) = self.check_invariants() {
            panic!("ledger invariant broken after block {}: {violation}", context.height);
        }
        Ok(CommittedBlock { output, state_root })
    }

    /// The current state root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Every entry, sorted by key.
    pub fn entries(&self) -> btree_map::Iter<'_, StateKey, StateValue> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for the empty state.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`, borrowed.
    pub fn value(&self, key: &StateKey) -> Option<&StateValue> {
        self.entries.get(key)
    }

    /// The tree that commits to the entries.
    pub fn tree(&self) -> &MemTree {
        &self.tree
    }

    /// Checks every state invariant ([`check_invariants`]).
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        check_invariants(self.entries.iter())
    }

    /// The entry under `key` (encoded) or its absence, with a proof against [`Self::root`].
    pub fn prove(&self, key: &StateKey) -> Result<StateProof, ProveError> {
        prove_entry(self, self.tree.store(), key)
    }
}

impl StateRead for MemState {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        Ok(self.entries.get(key).cloned())
    }

    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let Some(start) = range_start(range, after) else { return Ok(None) };
        Ok(self
            .entries
            .range::<StateKey, _>((start, Bound::Included(range.last())))
            .next()
            .map(|(key, value)| (key.clone(), value.clone())))
    }
}
