//! Badges (docs/ARCHITECTURE.md "Badges"): AnchorBadges and RevokeBadge.
//!
//! The ledger never sees a badge: an anchor records only the Merkle root of a batch of badge
//! hashes, and a revocation only one badge hash. Both are scoped to the member whose issuer
//! signs them, which is what lets a verifier trust an anchored badge without trusting any
//! other provider (see [`BlockExecutor::revoke_badge`]).

use tally_types::limits;
use tally_types::receipt::ErrorCode;
use tally_types::tx::{AnchorBadges, RevokeBadge};

use super::{BlockExecutor, OpContext, OpResult};
use crate::state::{BadgeAnchorState, RevocationState, StateKey, StateRead, StateValue};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// AnchorBadges: records a batch root for the signer's member. Checks, in order: the
    /// signer is an issuer account of some member (`NotIssuer`), who owns the anchor; the batch
    /// holds 1 to `BADGE_BATCH_LEAVES_MAX` badges (`BadBadgeBatch`); the root was never
    /// anchored before, by any member (`DuplicateBadgeRoot`).
    ///
    /// Roots are global rather than per member: a root names one exact set of badge hashes,
    /// so a second anchor of it (by anyone) could only confuse which member vouches for them.
    pub(super) fn anchor_badges(&mut self, at: OpContext<'_>, op: &AnchorBadges) -> OpResult {
        let member = self.issuer_member(at.signer)?.ok_or(ErrorCode::NotIssuer)?;
        if op.leaf_count == 0 || op.leaf_count > limits::BADGE_BATCH_LEAVES_MAX {
            return Err(ErrorCode::BadBadgeBatch.into());
        }
        let key = StateKey::BadgeAnchor { batch_root: op.batch_root };
        if self.read(&key)?.is_some() {
            return Err(ErrorCode::DuplicateBadgeRoot.into());
        }
        let anchor = BadgeAnchorState {
            member,
            issuer: *at.signer,
            leaf_count: op.leaf_count,
            format: op.format,
            canon: op.canon,
            metadata_uri: op.metadata_uri.clone(),
            height: self.context.height,
            tx_id: *at.tx_id,
        };
        self.put(key, Some(StateValue::BadgeAnchor(anchor)));
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
