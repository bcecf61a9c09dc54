//! The sign state: the last message this node signed, kept beside its key (not in its data
//! directory), so that a node whose WAL and store were lost or wiped does not sign again in
//! a view where it already signed something else. The rule is [`SignState::check`]; the host
//! keeps the record durable ([`crate::Effect::PersistSignState`]), the node in a small file of
//! two checksummed slots (`node/src/sign_state.rs`).
//!
//! Why a single record is enough: the core signs in increasing (view, kind) order, kinds
//! ranked Proposal < Notarize < {Nullify, Finalize} within a view (a leader proposes, then
//! notarizes its proposal; a node nullifies or finalizes a view it may have notarized, never
//! both). The rule refuses every signature at or below the record unless it is the recorded
//! message itself, so whatever was signed before the record (and lost with the WAL) can never
//! be contradicted. Nullify and Finalize share a rank: after either, the other is refused (an
//! honest node never signs both in one view). The cost: a Finalize for a view below the last
//! one signed in (a notarization that arrives after a later view's) is not signed; the later
//! view's finalization finalizes that block as its ancestor.

use borsh::{BorshDeserialize, BorshSerialize};
use tally_types::{BlockId, Hash, Subject, View};

/// What kind of message was signed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub enum SignKind {
    /// A leader's proposal (the digest is the block id).
    Proposal,
    /// A notarize vote (the digest is the block id).
    Notarize,
    /// A nullify vote (the digest is all zeros).
    Nullify,
    /// A finalize vote (the digest is the block id).
    Finalize,
}

impl SignKind {
    /// The order in which one view's signatures may follow each other (see the module docs).
    fn rank(self) -> u8 {
        match self {
            SignKind::Proposal => 0,
            SignKind::Notarize => 1,
            SignKind::Nullify | SignKind::Finalize => 2,
        }
    }

    /// The byte that stands for the kind on disk (0 is "nothing signed").
    pub fn to_byte(self) -> u8 {
        match self {
            SignKind::Proposal => 1,
            SignKind::Notarize => 2,
            SignKind::Nullify => 3,
            SignKind::Finalize => 4,
        }
    }

    /// The kind a byte stands for (`None` for an unknown byte).
    pub fn from_byte(byte: u8) -> Option<SignKind> {
        match byte {
            1 => Some(SignKind::Proposal),
            2 => Some(SignKind::Notarize),
            3 => Some(SignKind::Nullify),
            4 => Some(SignKind::Finalize),
            _ => None,
        }
    }
}

/// One signed message as the sign state records it: where (the view names the epoch, R8),
/// what kind, and what (the block id, zeros for a nullify).
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct Signed {
    pub view: View,
    pub kind: SignKind,
    pub digest: Hash,
}

impl Signed {
    /// The record of signing a vote on `subject`.
    pub fn vote(subject: &Subject) -> Signed {
        match *subject {
            Subject::Notarize { view, block_id } => {
                Signed { view, kind: SignKind::Notarize, digest: block_id.0 }
            }
            Subject::Nullify { view } => Signed { view, kind: SignKind::Nullify, digest: Hash([0; 32]) },
            Subject::Finalize { view, block_id } => {
                Signed { view, kind: SignKind::Finalize, digest: block_id.0 }
            }
        }
    }

    /// The record of signing a proposal of `block_id` in `view`.
    pub fn proposal(view: View, block_id: BlockId) -> Signed {
        Signed { view, kind: SignKind::Proposal, digest: block_id.0 }
    }

    /// Whether `self` comes after `other` in signing order.
    fn after(&self, other: &Signed) -> bool {
        (self.view, self.kind.rank()) > (other.view, other.kind.rank())
    }
}

/// Why [`SignState::check`] refused a signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("refusing to sign {new:?}: the sign state records {last:?} signed, at or after it")]
pub struct SignRefused {
    pub new: Signed,
    pub last: Signed,
}

/// The last message this node signed (`None`: it never signed).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, BorshSerialize, BorshDeserialize)]
pub struct SignState {
    pub last: Option<Signed>,
}

impl SignState {
    /// The rule: a new signature must come strictly after the last one in (view, kind rank)
    /// order, or be the very message last signed (a re-send signs the same bytes again).
    pub fn check(&self, new: &Signed) -> Result<(), SignRefused> {
        match self.last {
            Some(last) if new != &last && !new.after(&last) => Err(SignRefused { new: *new, last }),
            _ => Ok(()),
        }
    }

    /// Records `signed` (checked before) as the last signature.
    pub fn record(&mut self, signed: Signed) {
        if self.last.is_none_or(|last| signed.after(&last)) {
            self.last = Some(signed);
        }
    }

    /// The later of the two states (for a core restored from its WAL and given the kept
    /// record: whichever saw more).
    pub fn later(self, other: SignState) -> SignState {
        match (self.last, other.last) {
            (Some(mine), Some(theirs)) if theirs.after(&mine) => other,
            (None, _) => other,
            _ => self,
        }
    }

    /// The view of the last signature (`View(0)` when none).
    pub fn view(&self) -> View {
        self.last.map_or(View(0), |last| last.view)
    }
}
