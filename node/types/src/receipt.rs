//! Receipts: the outcome of every included transaction.
//!
//! A transaction that passes the inclusion checks (form, signature, chain, seq, expiry) is
//! included even when an op fails; it then consumes its seq and carries a [`TxOutcome::Failed`]
//! receipt naming the first failing op and a precise [`ErrorCode`]. Its ops have no effect.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Price};
use crate::codec::{Bounded, BoundedVec, encode};
use crate::hash::{Domain, Hash};
use crate::ids::OpId;
use crate::keys::PublicKey;
use crate::limits;
use crate::tx::TxId;

/// Why an op failed. The discriminant order is part of the wire format: add at the end.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum ErrorCode {
    /// The signer is not an issuer account of the member the op names.
    NotIssuer,
    /// No such member.
    UnknownMember,
    /// No such asset.
    UnknownAsset,
    /// The asset already exists.
    AssetExists,
    /// Scale above 18.
    BadScale,
    /// Undefined flag bits.
    BadFlags,
    /// A zero amount where a positive one is required.
    ZeroAmount,
    /// The grant would take supply above the asset's max supply.
    MaxSupplyExceeded,
    /// A sum would exceed u128.
    AmountOverflow,
    /// Not enough available (unlocked) balance.
    InsufficientBalance,
    /// The grant id was used before.
    DuplicateGrantId,
    /// Sender and receiver are the same account.
    SelfTransfer,
    /// A reward grant without a reason.
    RewardReasonMissing,
    /// A reason on a purchase or promo grant.
    ReasonNotAllowed,
    /// The asset is flagged non-transferable.
    NotTransferable,
    /// A max supply of zero, or below the current supply.
    BadMaxSupply,
    /// This ledger version does not execute the op yet.
    OpNotSupported,
    /// No spend authorization for this provider and asset, or it has expired.
    NoAuthorization,
    /// The hold would exceed the authorization's remaining cap.
    CapExceeded,
    /// The hold id was used before.
    DuplicateHoldId,
    /// No such hold.
    UnknownHold,
    /// The hold was already settled or voided.
    HoldClosed,
    /// The settlement batch id was used before.
    DuplicateBatchId,
    /// Settle amount above the held amount.
    SettleExceedsHold,
    /// The holder may void only after the hold expired.
    HoldNotExpired,
    /// An expiry that is not in the future of the block time.
    BadExpiry,
    /// Zero numerator or denominator.
    BadPrice,
    /// Selling and buying the same asset.
    SameAsset,
    /// The offer id was used before.
    DuplicateOfferId,
    /// No such open offer.
    UnknownOffer,
    /// Only the owner may cancel an offer.
    NotOfferOwner,
    /// The offer would trade with its owner's own offer.
    SelfTrade,
    /// A fill-or-kill offer could not fill completely.
    FillOrKillNotFilled,
    /// A passive offer would cross the book.
    PassiveWouldCross,
    /// Matching would need more than 1,000 fills.
    TooManyFills,
    /// The asset is flagged non-tradable.
    NotTradable,
    /// A badge batch with zero leaves or more than the limit.
    BadBadgeBatch,
    /// The badge root was anchored before.
    DuplicateBadgeRoot,
    /// The badge was already revoked.
    BadgeAlreadyRevoked,
    /// The signer is not the governance key of an active member.
    NotMember,
    /// The proposal id was used before.
    DuplicateProposal,
    /// The expiry is not after this height, or further ahead than `PROPOSAL_TTL_BLOCKS_MAX`.
    BadProposalExpiry,
    /// No proposal has this id.
    UnknownProposal,
    /// The proposal has passed, failed or been rejected: it takes no more votes.
    ProposalClosed,
    /// The proposal's expiry height is behind this block.
    ProposalExpired,
    /// The member has already voted on this proposal.
    AlreadyVoted,
    /// An application is for another chain.
    ApplicationWrongChain,
    /// A proof of possession in an application does not verify (or the issuer did not sign).
    BadProofOfPossession,
    /// The member id is taken (by a member, present or removed: ids are never reused).
    MemberExists,
    /// A key in the application already serves the consortium: an issuer or governance key of
    /// an active member, or a key of a current or scheduled validator.
    KeyInUse,
    /// The action names a validator that is not in the validator set.
    UnknownValidator,
    /// The change would leave fewer validators than `VALIDATORS_MIN`, or more than
    /// `VALIDATORS_MAX`, or more members than `MEMBERS_MAX`.
    ValidatorCountOutOfRange,
    /// The consensus parameters are out of range.
    BadConsensusParams,
    /// The threshold is below one half or not below one.
    BadThreshold,
    /// The application's issuer is not an issuer of the member it names.
    IssuerNotOfMember,
    /// A field of an application is not acceptable (an empty name, too large an asset scale).
    BadApplication,
    /// No such price plan version of the member.
    UnknownPlan,
    /// The plan version was retired: no new authorization, hold or pack purchase may name it.
    PlanRetired,
    /// The plan version was published before (versions never change).
    PlanVersionExists,
    /// A new plan version must follow the latest one (1 for a new plan).
    PlanVersionGap,
    /// The plan's form is refused: no items, items or tiers out of order, a bounded last tier,
    /// a pack without credits or price.
    BadPlan,
    /// The plan charges in another asset than the op names.
    PlanAssetMismatch,
    /// A usage line names an item the hold's plan does not price.
    UnknownPlanItem,
    /// Usage lines out of order, repeated, or with zero units.
    BadUsageLines,
    /// The settled amount is not what the hold's plan gives for the usage lines.
    SettleAmountMismatch,
    /// The plan has no credit pack of this name.
    UnknownPack,
    /// A pack purchase that is not a purchase grant of exactly the pack's credits.
    PackMismatch,
    /// An anchor's achievement list is empty, not in strictly ascending id order, or gives an
    /// achievement a count of zero.
    BadAchievementList,
    /// An anchor's achievement counts do not add up to its batch's leaf count.
    AchievementCountMismatch,
}

/// One trade of a PlaceOffer op against a resting offer.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Fill {
    /// Index of the PlaceOffer op in its transaction.
    pub op_index: u8,
    pub maker_offer: OpId,
    pub taker_offer: OpId,
    pub maker: PublicKey,
    pub taker: PublicKey,
    /// What the maker gave (the maker's sell asset), received by the taker.
    pub maker_gave: Amount,
    /// What the taker gave (the maker's buy asset), received by the maker.
    pub taker_gave: Amount,
    /// The maker's price: the trade's price.
    pub price: Price,
}

/// What happened to one transaction.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxOutcome {
    Success,
    Failed { op_index: u8, code: ErrorCode },
}

/// The receipt of one included transaction.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_id: TxId,
    pub outcome: TxOutcome,
    /// Trades made by the transaction's PlaceOffer ops, in order.
    pub fills: BoundedVec<Fill, { limits::RECEIPT_FILLS_MAX }>,
}

impl Receipt {
    /// A successful receipt with no fills.
    pub fn success(tx_id: TxId) -> Self {
        Receipt { tx_id, outcome: TxOutcome::Success, fills: BoundedVec::empty() }
    }

    /// A failed receipt.
    pub fn failed(tx_id: TxId, op_index: u8, code: ErrorCode) -> Self {
        Receipt { tx_id, outcome: TxOutcome::Failed { op_index, code }, fills: BoundedVec::empty() }
    }

    /// The hash committed by the receipts root.
    pub fn hash(&self) -> Hash {
        Domain::Receipt.hash(&[&encode(self)])
    }
}

impl Bounded for Receipt {
    const MAX_ENCODED_SIZE: usize = limits::RECEIPT_BYTES_MAX;
}
