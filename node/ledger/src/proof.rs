//! Proofs about single state entries: that a key holds a value under a state root, or holds
//! nothing.
//!
//! A proof is the entry's encoded value (or `None`) and the sparse Merkle proof for the key's
//! hash. Verification recomputes the key hash from the typed key and the value hash from the
//! value bytes, then checks the tree proof ([`tally_types::smt::SmtProof::verify`]); the client
//! and the auditor call [`verify_state_proof`] with a root taken from a finalized header.

use tally_types::Hash;
use tally_types::smt::{SmtError, SmtProof};

use crate::state::{StateError, StateKey, StateRead, value_hash};
use crate::tree::{self, TreeError, TreeStore};

/// An entry's value (encoded, as stored) or its absence, with the tree proof for its key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateProof {
    /// The encoded [`crate::state::StateValue`], or `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    pub proof: SmtProof,
}

/// Why a proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The tree and the entries disagree about the key: the store is inconsistent.
    #[error("the state tree and the state entries disagree about {key:?}")]
    TreeMismatch { key: StateKey },
}

/// Proves the entry under `key` from a state and the tree that commits to it (the same
/// committed height for both).
pub fn prove_entry<S, T>(state: &S, tree_store: &T, key: &StateKey) -> Result<StateProof, ProveError>
where
    S: StateRead + ?Sized,
    T: TreeStore,
{
    let value = state.get(key)?.map(|value| value.to_bytes());
    let proof = tree::prove(tree_store, &key.hash())?;
    // Refuse to hand out a proof that would not verify: the proof's leaf must be the entry.
    let proven = proof.leaf.filter(|leaf| leaf.key == key.hash()).map(|leaf| leaf.value_hash);
    if proven != value.as_deref().map(value_hash) {
        return Err(ProveError::TreeMismatch { key: key.clone() });
    }
    Ok(StateProof { value, proof })
}

/// Verifies that under `root`, `key` holds exactly `value` (the encoded value), or nothing when
/// `value` is `None`.
pub fn verify_state_proof(
    root: &Hash,
    key: &StateKey,
    value: Option<&[u8]>,
    proof: &SmtProof,
) -> Result<(), SmtError> {
    let expected = value.map(value_hash);
    proof.verify(root, &key.hash(), expected.as_ref())
}

impl StateProof {
    /// Verifies this proof for `key` under `root` ([`verify_state_proof`] with its own value).
    pub fn verify(&self, root: &Hash, key: &StateKey) -> Result<(), SmtError> {
        verify_state_proof(root, key, self.value.as_deref(), &self.proof)
    }
}
