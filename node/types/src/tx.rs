//! Transactions and operations (docs/ARCHITECTURE.md "Ledger").
//!
//! A transaction is `{chain_id, signer, seq, valid_until_height, ops[1..=16], memo}` plus a
//! signature over its canonical encoding, in the `Tx` namespace. Its id is the domain-separated
//! hash of that same encoding, so the id names exactly what was signed.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Price};
use crate::codec::{Bounded, BoundedBytes, BoundedString, BoundedVec, encode};
use crate::governance::{Action, CastVote, Propose, SignedApplication};
use crate::hash::{Domain, Hash};
use crate::ids::{AchievementId, AppId, AssetCode, AssetId, ChainId, Height, ItemName, MemberId, OpId};
use crate::keys::{
    KeyError, Namespace, PublicKey, SecretKey, Signature, SignatureItem, signing_message, verify_batch,
};
use crate::limits;
use crate::pricing::{PlanRef, PricePlan, UsageLine};

crate::hash_id!(
    /// A transaction id: `Domain::TxId` hash of the encoded [`Transaction`].
    TxId
);

/// Asset flags, a bit set. Unknown bits are refused by the ledger.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct AssetFlags(pub u32);

impl AssetFlags {
    /// Holders may not transfer the asset to one another (e.g. promotional credits that are
    /// only spendable with the issuer).
    pub const NON_TRANSFERABLE: u32 = 1 << 0;
    /// The asset may not be placed on the order book.
    pub const NON_TRADABLE: u32 = 1 << 1;
    /// Every defined bit.
    pub const ALL: u32 = Self::NON_TRANSFERABLE | Self::NON_TRADABLE;

    /// True when `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
    /// True when only defined bits are set.
    pub fn is_known(self) -> bool {
        self.0 & !Self::ALL == 0
    }
}

/// Why credits were granted.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Bought by the developer.
    Purchase,
    /// Earned for an activity the provider rewards; a reason is required.
    Reward,
    /// Given away (trial, promotion).
    Promo,
}

/// The activity a reward pays for.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardReason {
    ClientLibrary,
    HowToGuide,
    ForumSupport,
    PublishedApplication,
    /// Any other activity, named by the provider.
    Other(BoundedString<{ limits::REWARD_REASON_BYTES_MAX }>),
}

/// How a new offer treats the book.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OfferMode {
    /// Match what crosses, rest the remainder.
    #[default]
    Normal,
    /// Never take: refused if it would cross; rests otherwise.
    Passive,
    /// Immediate or cancel: match what crosses, drop the remainder.
    ImmediateOrCancel,
    /// Fill or kill: match fully at once or fail without effect.
    FillOrKill,
}

/// The assertion format of anchored badges.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BadgeFormat {
    OpenBadges2,
    OpenBadges3,
}

/// How each badge's bytes were canonicalized before hashing (docs/ARCHITECTURE.md "Badges").
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum BadgeCanon {
    /// RFC 8785 JSON canonicalization, then plain blake3.
    JcsBlake3,
    /// The raw bytes (a compact JWS/JWT), then plain blake3.
    RawBlake3,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssueAsset {
    pub code: AssetCode,
    /// Decimal places of the minor unit, 0..=18; immutable.
    pub scale: u8,
    pub max_supply: Option<Amount>,
    pub flags: AssetFlags,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Grant {
    /// Unique forever: a replayed grant (same id) is refused.
    pub grant_id: OpId,
    pub asset: AssetId,
    pub to: PublicKey,
    pub amount: Amount,
    pub kind: GrantKind,
    /// Required for `Reward`, refused otherwise.
    pub reason: Option<RewardReason>,
    /// The provider's own reference (order, invoice, ticket).
    pub external_ref: BoundedString<{ limits::GRANT_EXTERNAL_REF_BYTES_MAX }>,
    /// The credit pack of the member's price plan that this purchase fulfils: the grant must
    /// then be a purchase of exactly the pack's credits in the plan's asset.
    #[serde(default)]
    pub pack: Option<PackRef>,
}

/// A credit pack of one version of the granting member's price plan.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PackRef {
    pub plan: PlanRef,
    pub pack: ItemName,
}

impl std::str::FromStr for PackRef {
    type Err = String;
    /// `standard@1/starter`: a plan version and one of its packs.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (plan, pack) = text.split_once('/').ok_or_else(|| {
            format!("pack `{text}` must be written PLAN@VERSION/PACK, e.g. standard@1/starter")
        })?;
        Ok(PackRef { plan: plan.parse()?, pack: ItemName::new(pack).map_err(|error| error.to_string())? })
    }
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transfer {
    pub asset: AssetId,
    pub to: PublicKey,
    pub amount: Amount,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Burn {
    pub asset: AssetId,
    pub amount: Amount,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AuthorizeSpend {
    pub provider: MemberId,
    pub asset: AssetId,
    pub cap: Amount,
    pub expires_at_ms: u64,
    /// The provider's price plan version the holder agrees to: holds under this authorization
    /// settle only at the amounts it gives for their usage lines. `None`: the provider settles
    /// any amount up to the hold (the holder trusts its metering).
    #[serde(default)]
    pub plan: Option<PlanRef>,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Hold {
    pub hold_id: OpId,
    pub holder: PublicKey,
    pub asset: AssetId,
    pub amount: Amount,
    pub expires_at_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Settle {
    pub hold_id: OpId,
    pub batch_id: OpId,
    pub amount: Amount,
    pub usage_root: Hash,
    /// The batch's usage aggregated per metered item, sorted by item. Under a price plan the
    /// ledger prices them and refuses any `amount` but theirs.
    #[serde(default = "BoundedVec::empty")]
    pub lines: BoundedVec<UsageLine, { limits::SETTLE_LINES_MAX }>,
}

/// A settlement that names the holder's application the usage was for: a [`Settle`] with the
/// same checks and effects, after which the ledger also counts the usage under (holder,
/// provider, app), so that "settled usage for more than one application" is a state proof. A
/// variant of its own rather than a field of `Settle`, so that every `Settle` already signed
/// keeps its bytes and its id.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SettleApp {
    pub settle: Settle,
    pub app: AppId,
}

/// Retires one version of the signer's member's price plan: no new authorization, hold or
/// pack purchase may name it; holds already placed under it still settle by it.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RetirePlan {
    pub plan: PlanRef,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Void {
    pub hold_id: OpId,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PlaceOffer {
    pub offer_id: OpId,
    pub sell: AssetId,
    pub buy: AssetId,
    /// Amount of `sell` offered.
    pub amount: Amount,
    /// Units of `buy` asked per unit of `sell`.
    pub price: Price,
    pub mode: OfferMode,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CancelOffer {
    pub offer_id: OpId,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorBadges {
    /// Binary Merkle root (leaf 0x00, node 0x01) over the badge hashes.
    pub batch_root: Hash,
    pub leaf_count: u32,
    pub format: BadgeFormat,
    pub canon: BadgeCanon,
    pub metadata_uri: Option<BoundedString<{ limits::BADGE_METADATA_URI_BYTES_MAX }>>,
}

/// An anchor that names the achievements its badges are for, so that the ledger can count the
/// badges each member anchored per achievement (docs/ARCHITECTURE.md "Badges", community
/// figures): an [`AnchorBadges`] with the same checks and effects, then per achievement how
/// many of the batch's badges are for it. Ids strictly ascending (so each is named once and
/// the op has one encoding), counts at least 1, summing to the anchor's `leaf_count`. A variant
/// of its own rather than a field of `AnchorBadges`, so that every anchor already signed keeps
/// its bytes and its id.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorAchievements {
    pub anchor: AnchorBadges,
    pub achievements: BoundedVec<AchievementCount, { limits::ANCHOR_ACHIEVEMENTS_MAX }>,
}

/// How many badges of an anchored batch are for one achievement.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AchievementCount {
    pub achievement: AchievementId,
    pub count: u32,
}

#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevokeBadge {
    pub badge_hash: Hash,
    pub reason: BoundedString<{ limits::BADGE_REVOCATION_REASON_BYTES_MAX }>,
}

/// One ledger operation. The variant order is part of the wire format: add new ones at the end.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    IssueAsset(IssueAsset),
    Grant(Grant),
    Transfer(Transfer),
    Burn(Burn),
    AuthorizeSpend(AuthorizeSpend),
    Hold(Hold),
    Settle(Settle),
    Void(Void),
    PlaceOffer(PlaceOffer),
    CancelOffer(CancelOffer),
    AnchorBadges(AnchorBadges),
    RevokeBadge(RevokeBadge),
    /// Boxed: an application makes it several times larger than any other op.
    Propose(Box<Propose>),
    CastVote(CastVote),
    /// Boxed: a plan may be several kilobytes.
    PublishPlan(Box<PricePlan>),
    RetirePlan(RetirePlan),
    /// Boxed: a settlement's lines may be several kilobytes.
    SettleApp(Box<SettleApp>),
    /// Boxed: its achievement ids may take a few kilobytes.
    AnchorAchievements(Box<AnchorAchievements>),
}

impl Op {
    /// The op's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Op::IssueAsset(_) => "issue_asset",
            Op::Grant(_) => "grant",
            Op::Transfer(_) => "transfer",
            Op::Burn(_) => "burn",
            Op::AuthorizeSpend(_) => "authorize_spend",
            Op::Hold(_) => "hold",
            Op::Settle(_) => "settle",
            Op::Void(_) => "void",
            Op::PlaceOffer(_) => "place_offer",
            Op::CancelOffer(_) => "cancel_offer",
            Op::AnchorBadges(_) => "anchor_badges",
            Op::RevokeBadge(_) => "revoke_badge",
            Op::Propose(_) => "propose",
            Op::CastVote(_) => "cast_vote",
            Op::PublishPlan(_) => "publish_plan",
            Op::RetirePlan(_) => "retire_plan",
            Op::SettleApp(_) => "settle_app",
            Op::AnchorAchievements(_) => "anchor_achievements",
        }
    }

    /// The badge anchor the op makes, if it is `AnchorBadges` or `AnchorAchievements`.
    pub fn badge_anchor(&self) -> Option<&AnchorBadges> {
        match self {
            Op::AnchorBadges(anchor) => Some(anchor),
            Op::AnchorAchievements(op) => Some(&op.anchor),
            _ => None,
        }
    }

    /// Every key the op names besides the signer's: the keys [`SignedTransaction`]'s form check
    /// validates. Written out variant by variant (no catch-all), so a new op must say which
    /// keys it carries.
    pub fn named_keys(&self) -> Vec<&PublicKey> {
        match self {
            Op::Grant(grant) => vec![&grant.to],
            Op::Transfer(transfer) => vec![&transfer.to],
            Op::Hold(hold) => vec![&hold.holder],
            Op::Propose(propose) => action_keys(&propose.action),
            Op::IssueAsset(_)
            | Op::Burn(_)
            | Op::AuthorizeSpend(_)
            | Op::Settle(_)
            | Op::Void(_)
            | Op::PlaceOffer(_)
            | Op::CancelOffer(_)
            | Op::AnchorBadges(_)
            | Op::RevokeBadge(_)
            | Op::CastVote(_)
            | Op::PublishPlan(_)
            | Op::RetirePlan(_)
            | Op::SettleApp(_)
            | Op::AnchorAchievements(_) => Vec::new(),
        }
    }
}

/// The keys an application names.
fn application_keys(application: &SignedApplication) -> [&PublicKey; 3] {
    let body = &application.body;
    [&body.issuer, &body.consensus_key, &body.network_key]
}

/// The keys a governance action names.
fn action_keys(action: &Action) -> Vec<&PublicKey> {
    match action {
        Action::AddMember { application } | Action::AddValidator { application } => {
            application_keys(application).to_vec()
        }
        Action::RemoveValidator { consensus_key } => vec![consensus_key],
        Action::RotateValidatorKey { consensus_key, application } => {
            let mut keys = vec![consensus_key];
            keys.extend(application_keys(application));
            keys
        }
        Action::RemoveMember { .. } | Action::SetConsensusParams { .. } | Action::SetThreshold { .. } => {
            Vec::new()
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub signer: PublicKey,
    /// Must equal the signer's account seq + 1.
    pub seq: u64,
    /// The last height at which the transaction may be included.
    pub valid_until_height: Height,
    /// 1..=16 ops, applied atomically.
    pub ops: BoundedVec<Op, { limits::TX_OPS_MAX }>,
    pub memo: BoundedBytes<{ limits::TX_MEMO_BYTES_MAX }>,
}

impl Transaction {
    /// The id: a hash of exactly the bytes that are signed.
    pub fn id(&self) -> TxId {
        TxId(Domain::TxId.hash(&[&encode(self)]))
    }

    /// Signs the transaction. The key must be the signer's.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        debug_assert_eq!(key.public_key(), self.signer, "signing with a key that is not the signer's");
        let signature = key.sign(Namespace::Tx, &self.chain_id, &encode(&self));
        SignedTransaction { tx: self, signature }
    }
}

impl Bounded for Transaction {
    const MAX_ENCODED_SIZE: usize = limits::TX_BYTES_MAX - 64;
}

/// Why a transaction is malformed, whatever the ledger state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxFormError {
    #[error("transaction has no operations; it needs 1 to {max}", max = limits::TX_OPS_MAX)]
    NoOps,
    #[error("seq must be at least 1")]
    ZeroSeq,
    #[error("signer key is refused: {0}")]
    BadSigner(KeyError),
    #[error("signature does not verify for the signer")]
    BadSignature,
    /// A key an operation names (a recipient, a holder, a key in a governance action) is not
    /// a valid ed25519 point or is weak ([`PublicKey::validate`]): such a key could never sign,
    /// and its JSON form could not be read back.
    #[error("operation {op} names key {}, which is refused: {reason}", hex::encode(key.0))]
    BadKey { op: usize, key: PublicKey, reason: KeyError },
}

/// A transaction with its signature.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: Signature,
}

impl SignedTransaction {
    /// The transaction id (the signature is not part of it).
    pub fn id(&self) -> TxId {
        self.tx.id()
    }

    /// Checks what does not depend on ledger state: at least one op, seq ≥ 1, every key the ops
    /// name and the signer key are valid and not weak, and the signature verifies (the signature rule of
    /// [`crate::keys`], `Tx` namespace). [`check_batch`] does the same for many at once.
    pub fn check_form_and_signature(&self) -> Result<(), TxFormError> {
        self.check_form()?;
        self.tx
            .signer
            .verify(Namespace::Tx, &self.tx.chain_id, &encode(&self.tx), &self.signature)
            .map_err(signature_error)
    }

    /// The checks of [`Self::check_form_and_signature`] before the signer and signature.
    fn check_form(&self) -> Result<(), TxFormError> {
        if self.tx.ops.is_empty() {
            return Err(TxFormError::NoOps);
        }
        if self.tx.seq == 0 {
            return Err(TxFormError::ZeroSeq);
        }
        for (op, operation) in self.tx.ops.iter().enumerate() {
            for key in operation.named_keys() {
                key.validate().map_err(|reason| TxFormError::BadKey { op, key: *key, reason })?;
            }
        }
        Ok(())
    }
}

/// [`SignedTransaction::check_form_and_signature`] of each transaction, in order, with the
/// signatures checked as one batch ([`crate::keys::verify_batch`]): the same results, for about
/// half the CPU of checking them one by one.
pub fn check_batch(txs: &[SignedTransaction]) -> Vec<Result<(), TxFormError>> {
    let mut results: Vec<Result<(), TxFormError>> = txs.iter().map(SignedTransaction::check_form).collect();
    let signed: Vec<(usize, Vec<u8>)> = results
        .iter()
        .enumerate()
        .filter(|(_, result)| result.is_ok())
        .map(|(position, _)| {
            let tx = &txs[position].tx;
            (position, signing_message(Namespace::Tx, &tx.chain_id, &encode(tx)))
        })
        .collect();
    let items: Vec<SignatureItem<'_>> = signed
        .iter()
        .map(|(position, message)| SignatureItem {
            key: &txs[*position].tx.signer,
            message,
            signature: &txs[*position].signature,
        })
        .collect();
    for ((position, _), verdict) in signed.iter().zip(verify_batch(&items)) {
        results[*position] = verdict.map_err(signature_error);
    }
    results
}

/// The verifier checks the signer key before the signature: a key it refuses is the
/// signer's fault, anything else the signature's.
fn signature_error(error: KeyError) -> TxFormError {
    match error {
        KeyError::BadSignature => TxFormError::BadSignature,
        key_error => TxFormError::BadSigner(key_error),
    }
}

impl Bounded for SignedTransaction {
    const MAX_ENCODED_SIZE: usize = limits::TX_BYTES_MAX;
}
