//! Invariants of the badge entries: every anchor and revocation belongs to an existing member,
//! every anchor's batch size is within the protocol limit, and over the history each batch
//! root is anchored once and each (member, badge hash) revoked once.

use std::collections::BTreeSet;

use tally_types::tx::Op;
use tally_types::{Hash, Height, MemberId, PublicKey, limits};

use super::{HistoryViolation, InvariantViolation, World};
use crate::state::{StateKey, StateValue};

/// A broken invariant of the badge entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadgeViolation {
    #[error("badge batch {batch_root} is anchored by member `{member}`, which does not exist")]
    AnchorOfUnknownMember { batch_root: Hash, member: MemberId },
    #[error(
        "badge batch {batch_root} has {leaf_count} badges; a batch has 1 to {max}",
        max = limits::BADGE_BATCH_LEAVES_MAX
    )]
    LeafCountOutOfRange { batch_root: Hash, leaf_count: u32 },
    #[error("badge {badge_hash} is revoked under member `{member}`, which does not exist")]
    RevocationOfUnknownMember { badge_hash: Hash, member: MemberId },
}

/// Gathers the badge entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    anchors: Vec<(&'a Hash, &'a MemberId)>,
    revocations: Vec<(&'a Hash, &'a MemberId)>,
}

impl<'a> Collector<'a> {
    /// Checks what one entry shows alone (the batch size) and keeps what needs the members.
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        match (key, value) {
            (StateKey::BadgeAnchor { batch_root }, StateValue::BadgeAnchor(anchor)) => {
                if anchor.leaf_count == 0 || anchor.leaf_count > limits::BADGE_BATCH_LEAVES_MAX {
                    return Err(BadgeViolation::LeafCountOutOfRange {
                        batch_root: *batch_root,
                        leaf_count: anchor.leaf_count,
                    }
                    .into());
                }
                self.anchors.push((batch_root, &anchor.member));
            }
            (StateKey::BadgeRevocation { member, badge_hash }, StateValue::BadgeRevocation(_)) => {
                self.revocations.push((badge_hash, member));
            }
            _ => unreachable!("check_invariants routes only badge entries here, with matching kinds"),
        }
        Ok(())
    }

    /// Checks that every anchor and revocation names an existing member.
    pub fn finish(self, world: &World<'a>) -> Result<(), InvariantViolation> {
        for (batch_root, member) in self.anchors {
            if !world.members.contains_key(member) {
                return Err(BadgeViolation::AnchorOfUnknownMember {
                    batch_root: *batch_root,
                    member: member.clone(),
                }
                .into());
            }
        }
        for (badge_hash, member) in self.revocations {
            if !world.members.contains_key(member) {
                return Err(BadgeViolation::RevocationOfUnknownMember {
                    badge_hash: *badge_hash,
                    member: member.clone(),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// What the badge ops used over a chain's history: every anchored root, and every revoked
/// badge hash with the signer that revoked it (the member is not in the op; the signer's key
/// stands for it, since an account is an issuer of at most one member).
///
/// Memory grows with the anchors and revocations ever made; like [`super::History`], this is
/// for tests and audits, which must remember exactly that.
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryPart {
    roots: BTreeSet<Hash>,
    revocations: BTreeSet<(PublicKey, Hash)>,
}

impl HistoryPart {
    /// Records one op of a successful transaction; refuses a root anchored twice, or the same
    /// badge revoked twice by the same issuer account.
    pub fn observe_op(
        &mut self,
        height: Height,
        index: usize,
        signer: &PublicKey,
        op: &Op,
    ) -> Result<(), HistoryViolation> {
        // `insert` records the use and says whether it is the first; a guard that is false
        // has recorded it, so the catch-all arm is right for first uses too.
        // Both anchor ops (AnchorBadges, AnchorAchievements) use the same roots.
        if let Some(anchor) = op.badge_anchor()
            && !self.roots.insert(anchor.batch_root)
        {
            return Err(HistoryViolation::Themed {
                height,
                index,
                what: format!("badge batch root {} was anchored before", anchor.batch_root),
            });
        }
        match op {
            Op::RevokeBadge(revoke) if !self.revocations.insert((*signer, revoke.badge_hash)) => {
                Err(HistoryViolation::Themed {
                    height,
                    index,
                    what: format!("badge {} was revoked before by {signer}", revoke.badge_hash),
                })
            }
            _ => Ok(()),
        }
    }
}
