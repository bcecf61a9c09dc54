//! Badges (docs/ARCHITECTURE.md "Badges"): AnchorBadges, AnchorAchievements and RevokeBadge.
//!
//! The ledger never sees a badge: an anchor records only the Merkle root of a batch of badge
//! hashes, and a revocation only one badge hash. Both are scoped to the member whose issuer
//! signs them, which is what lets a verifier trust an anchored badge without trusting any
//! other provider (see [`BlockExecutor::revoke_badge`]).

use tally_types::receipt::ErrorCode;
use tally_types::tx::{AnchorAchievements, AnchorBadges, RevokeBadge};
use tally_types::{MemberId, limits};

use super::{BlockExecutor, OpContext, OpFailure, OpResult, wrong_kind};
use crate::state::{BadgeAnchorState, BadgeFiguresState, RevocationState, StateKey, StateRead, StateValue};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// AnchorBadges: records a batch root for the signer's member. Checks, in order: the
    /// signer is an issuer account of some member (`NotIssuer`), who owns the anchor; the batch
    /// holds 1 to `BADGE_BATCH_LEAVES_MAX` badges (`BadBadgeBatch`); the root was never
    /// anchored before, by any member (`DuplicateBadgeRoot`).
    ///
    /// Roots are global rather than per member: a root names one exact set of badge hashes,
    /// so a second anchor of it (by anyone) could only confuse which member vouches for them.
    pub(super) fn anchor_badges(&mut self, at: OpContext<'_>, op: &AnchorBadges) -> OpResult {
        self.record_anchor(at, op).map(|_| ())
    }

    /// The checks and the anchor entry of [`Self::anchor_badges`]; returns the anchoring member.
    fn record_anchor(&mut self, at: OpContext<'_>, op: &AnchorBadges) -> Result<MemberId, OpFailure> {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        if op.leaf_count == 0 || op.leaf_count > limits::BADGE_BATCH_LEAVES_MAX {
            return Err(ErrorCode::BadBadgeBatch.into());
        }
        let key = StateKey::BadgeAnchor { batch_root: op.batch_root };
        if self.read(&key)?.is_some() {
            return Err(ErrorCode::DuplicateBadgeRoot.into());
        }
        let anchor = BadgeAnchorState {
            member: member.clone(),
            issuer: *at.signer,
            leaf_count: op.leaf_count,
            format: op.format,
            canon: op.canon,
            metadata_uri: op.metadata_uri.clone(),
            height: self.context.height,
            tx_id: *at.tx_id,
        };
        self.put(key, Some(StateValue::BadgeAnchor(anchor)));
        Ok(member)
    }

    /// AnchorAchievements: an [`Self::anchor_badges`] (its checks first, in its order), then the
    /// achievement list: named once each in strictly ascending id order, each count at least 1
    /// (`BadAchievementList`), the counts adding up to the batch's leaf count
    /// (`AchievementCountMismatch`). Each achievement's figures entry of the signer's member
    /// then counts the badges and the batch. Ids are well formed and the list bounded by
    /// decoding (`AchievementId`, `ANCHOR_ACHIEVEMENTS_MAX`).
    ///
    /// The counts are the member's statement, as public as the anchor: the ledger never sees a
    /// badge, so it checks their form and their sum, not which badge is for which achievement.
    pub(super) fn anchor_achievements(&mut self, at: OpContext<'_>, op: &AnchorAchievements) -> OpResult {
        let member = self.record_anchor(at, &op.anchor)?;
        if op.achievements.is_empty() {
            return Err(ErrorCode::BadAchievementList.into());
        }
        // At most 32 counts of at most 2^32 - 1 each: the sum fits a u64.
        let mut total: u64 = 0;
        for (index, entry) in op.achievements.iter().enumerate() {
            let ascending = index == 0 || op.achievements[index - 1].achievement < entry.achievement;
            if !ascending || entry.count == 0 {
                return Err(ErrorCode::BadAchievementList.into());
            }
            total += u64::from(entry.count);
        }
        if total != u64::from(op.anchor.leaf_count) {
            return Err(ErrorCode::AchievementCountMismatch.into());
        }
        let height = self.context.height;
        for entry in &op.achievements {
            let key =
                StateKey::BadgeFigures { member: member.clone(), achievement: entry.achievement.clone() };
            let mut figures = match self.read(&key)? {
                None => {
                    BadgeFiguresState { anchored: 0, batches: 0, first_height: height, last_height: height }
                }
                Some(StateValue::BadgeFigures(figures)) => figures,
                Some(other) => return Err(wrong_kind(&key, &other).into()),
            };
            figures.anchored =
                figures.anchored.checked_add(u64::from(entry.count)).ok_or(ErrorCode::AmountOverflow)?;
            figures.batches = figures.batches.checked_add(1).ok_or(ErrorCode::AmountOverflow)?;
            figures.last_height = height;
            self.put(key, Some(StateValue::BadgeFigures(figures)));
        }
        Ok(())
    }

    /// RevokeBadge: records that the signer's member revokes one badge hash, permanently.
    /// Checks, in order: the signer is an issuer account of some member M (`NotIssuer`); M has
    /// not revoked this badge hash before (`BadgeAlreadyRevoked`).
    ///
    /// The ledger does not know which badge hashes a batch holds (an anchor records only the
    /// root), so it cannot check that M anchored this badge. It does not need to: the
    /// revocation is stored under `BadgeRevocation { member: M, badge_hash }`, and a verifier
    /// looks the revocation up under the member that anchored the badge (from the anchor's
    /// entry). A revocation by another member lands under that other member's name and has no
    /// effect on the badge. That is how "only the anchoring issuer can revoke" holds. Any issuer
    /// of the anchoring member may revoke, as any of them may anchor: the member is the party
    /// that vouches for its badges, its issuer keys are its hands.
    ///
    /// For the same reason a revocation is not counted against an achievement's figures: the
    /// ledger cannot tell which anchor, let alone which achievement, a badge hash belongs to,
    /// and a count the member could attribute freely would prove nothing. Figures say how many
    /// badges were anchored; whether one of them was revoked is a per-badge state proof.
    pub(super) fn revoke_badge(&mut self, at: OpContext<'_>, op: &RevokeBadge) -> OpResult {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        let key = StateKey::BadgeRevocation { member, badge_hash: op.badge_hash };
        if self.read(&key)?.is_some() {
            return Err(ErrorCode::BadgeAlreadyRevoked.into());
        }
        let revocation = RevocationState {
            reason: op.reason.clone(),
            issuer: *at.signer,
            height: self.context.height,
            tx_id: *at.tx_id,
        };
        self.put(key, Some(StateValue::BadgeRevocation(revocation)));
        Ok(())
    }
}
