//! The ledger state: typed keys and values, the read trait execution runs against, and the
//! write set a block produces.
//!
//! Every entry is a (`StateKey`, `StateValue`) pair, both borsh-encoded canonically. The sparse
//! Merkle tree commits to `Domain::StateKey` hash of the encoded key -> `Domain::StateValue`
//! hash of the encoded value, so a proof about one entry names exactly one key and one value.
//!
//! The enums' variant order is part of the protocol (it is the first encoded byte, and so part
//! of every state root): add new kinds at the end only.
//!
//! Canonical form: an entry that would hold only defaults is deleted, never stored. A balance
//! of zero available and zero locked, or an account whose seq is 0, does not exist. Two states
//! with the same meaning therefore have the same root.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::Bound;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use tally_types::codec::{Bounded, BoundedString, BoundedVec, DecodeError, decode, encode};
use tally_types::governance::{Action, ConsensusParams, Threshold};
use tally_types::pricing::{PlanRef, PricePlan};
use tally_types::receipt::ErrorCode;
use tally_types::tx::{AssetFlags, BadgeCanon, BadgeFormat, OfferMode, TxId};
use tally_types::{
    AchievementId, Amount, AppId, AssetId, Domain, Hash, Height, ItemName, MemberId, OpId, PlanId, Price,
    PublicKey, limits,
};

/// The position of one ledger entry.
///
/// Ordered by kind (declaration order), then field by field; the same order as a derived
/// `Ord`, written out because execution spends most of its time comparing keys in B-tree
/// lookups, and comparing account keys as two `u128`s avoids a `memcmp` call per comparison.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateKey {
    /// An account's sequence number ([`AccountState`]).
    Account { account: PublicKey },
    /// One account's holding of one asset ([`BalanceState`]).
    Balance { account: PublicKey, asset: AssetId },
    /// A credit asset ([`AssetState`]).
    Asset { asset: AssetId },
    /// A consortium member ([`MemberState`]).
    Member { member: MemberId },
    /// Index: the member an issuer account belongs to ([`IssuerState`]). An account is an issuer
    /// of at most one member, so ops that do not name the member (IssueAsset) can find it.
    Issuer { account: PublicKey },
    /// A grant id the member has used ([`GrantRecord`]). Grant ids are scoped to the issuing
    /// member, so that no member can block another's grant by using its id first.
    GrantId { member: MemberId, grant_id: OpId },
    /// A holder's spend authorization for one provider and asset ([`AuthorizationState`]).
    Authorization { holder: PublicKey, provider: MemberId, asset: AssetId },
    /// A hold, open or resolved, kept forever so its id is never reused ([`HoldState`]).
    /// Hold ids are global, not per member: `Void` names only the id, and the holder may sign it.
    Hold { hold_id: OpId },
    /// Index: an open hold by expiry, so a block can release the expired ones in order
    /// ([`IndexMarker`]). Present exactly while the hold is open.
    HoldExpiry { expires_at_ms: OrderedU64, hold_id: OpId },
    /// A settlement batch id the member has used ([`BatchRecord`]); unique forever per member.
    BatchId { member: MemberId, batch_id: OpId },
    /// An offer, open or closed, kept forever so its id is never reused ([`OfferState`]).
    /// Offer ids are scoped to their owner.
    Offer { owner: PublicKey, offer_id: OpId },
    /// Index: an open offer's place in the book of `sell` for `buy` ([`BookEntryState`]).
    /// Present exactly while the offer is open. Within one (`sell`, `buy`) book, key order is
    /// price-time priority: best (lowest) price first, then the oldest.
    BookEntry { sell: AssetId, buy: AssetId, position: BookPosition },
    /// An anchored badge batch, by its Merkle root ([`BadgeAnchorState`]).
    BadgeAnchor { batch_root: Hash },
    /// A revoked badge ([`RevocationState`]). Scoped to the member that revokes it: a verifier
    /// looks up the member that anchored the badge, so only that member's revocation counts.
    BadgeRevocation { member: MemberId, badge_hash: Hash },
    /// Index: the member a governance key proposes and votes for ([`GovernorState`]). Present
    /// exactly while the member is active.
    Governor { account: PublicKey },
    /// The consortium's governance settings and member count ([`GovernanceState`]); one entry.
    Governance,
    /// A validator of the current or a pending epoch, by its consensus key ([`ValidatorState`]).
    /// Deleted when an epoch without it starts.
    Validator { consensus_key: PublicKey },
    /// The validator set and consensus parameters of the current epoch and of the epochs that
    /// passed changes have scheduled ([`EpochsState`]); one entry.
    Epochs,
    /// A governance proposal, open or decided, kept forever so its id is never reused
    /// ([`ProposalState`]).
    Proposal { proposal_id: OpId },
    /// One version of a member's price plan ([`PlanState`]), kept forever; versions of one plan
    /// are numbered from 1 without gaps.
    Plan { member: MemberId, plan_id: PlanId, version: OrderedU64 },
    /// What a holder has settled under one version of a member's price plan, per item
    /// ([`PlanUsageState`]): the tier position of its next settlement.
    PlanUsage { holder: PublicKey, member: MemberId, plan_id: PlanId, version: OrderedU64 },
    /// What a holder has settled with one provider, over every asset and application
    /// ([`UsageState`]): the ledger fact behind "N API calls" badges.
    Usage { holder: PublicKey, provider: MemberId },
    /// What a holder has paid one provider in one asset by settlements ([`SpentState`]).
    Spent { holder: PublicKey, provider: MemberId, asset: AssetId },
    /// One application of a holder with usage settled by one provider ([`AppUsageState`]);
    /// written by `SettleApp` only.
    AppUsage { holder: PublicKey, provider: MemberId, app: AppId },
    /// Credits an account received in one asset, by selling on the market or as grants
    /// ([`RevenueState`]).
    Revenue { account: PublicKey, asset: AssetId },
    /// The badges one member anchored for one achievement ([`BadgeFiguresState`]), as its
    /// `AnchorAchievements` ops counted them: the community figures.
    BadgeFigures { member: MemberId, achievement: AchievementId },
}

impl StateKey {
    /// The balance key of `account` in `asset`.
    pub fn balance(account: PublicKey, asset: AssetId) -> Self {
        StateKey::Balance { account, asset }
    }

    /// The encoded key.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a key strictly (bounded, canonical).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// The key's position in the sparse Merkle tree: `Domain::StateKey` hash of the encoded key.
    /// Streams the encoding into the hasher instead of building a `Vec` first; the result is
    /// identical to `Domain::StateKey.hash(&[&encode(key)])`.
    pub fn hash(&self) -> Hash {
        hash_encoding(Domain::StateKey, self)
    }

    /// The kind of value stored under this key.
    pub fn kind(&self) -> EntryKind {
        match self {
            StateKey::Account { .. } => EntryKind::Account,
            StateKey::Balance { .. } => EntryKind::Balance,
            StateKey::Asset { .. } => EntryKind::Asset,
            StateKey::Member { .. } => EntryKind::Member,
            StateKey::Issuer { .. } => EntryKind::Issuer,
            StateKey::GrantId { .. } => EntryKind::GrantId,
            StateKey::Authorization { .. } => EntryKind::Authorization,
            StateKey::Hold { .. } => EntryKind::Hold,
            StateKey::HoldExpiry { .. } => EntryKind::HoldExpiry,
            StateKey::BatchId { .. } => EntryKind::BatchId,
            StateKey::Offer { .. } => EntryKind::Offer,
            StateKey::BookEntry { .. } => EntryKind::BookEntry,
            StateKey::BadgeAnchor { .. } => EntryKind::BadgeAnchor,
            StateKey::BadgeRevocation { .. } => EntryKind::BadgeRevocation,
            StateKey::Governor { .. } => EntryKind::Governor,
            StateKey::Governance => EntryKind::Governance,
            StateKey::Validator { .. } => EntryKind::Validator,
            StateKey::Epochs => EntryKind::Epochs,
            StateKey::Proposal { .. } => EntryKind::Proposal,
            StateKey::Plan { .. } => EntryKind::Plan,
            StateKey::PlanUsage { .. } => EntryKind::PlanUsage,
            StateKey::Usage { .. } => EntryKind::Usage,
            StateKey::Spent { .. } => EntryKind::Spent,
            StateKey::AppUsage { .. } => EntryKind::AppUsage,
            StateKey::Revenue { .. } => EntryKind::Revenue,
            StateKey::BadgeFigures { .. } => EntryKind::BadgeFigures,
        }
    }
}

impl Ord for StateKey {
    fn cmp(&self, other: &Self) -> Ordering {
        use StateKey::*;
        match (self, other) {
            (Account { account: a }, Account { account: b })
            | (Issuer { account: a }, Issuer { account: b }) => cmp_account(a, b),
            (Balance { account: a, asset: x }, Balance { account: b, asset: y }) => {
                cmp_account(a, b).then_with(|| x.cmp(y))
            }
            (Asset { asset: x }, Asset { asset: y }) => x.cmp(y),
            (Member { member: x }, Member { member: y }) => x.cmp(y),
            (GrantId { member: x, grant_id: i }, GrantId { member: y, grant_id: j }) => {
                x.cmp(y).then_with(|| i.cmp(j))
            }
            (
                Authorization { holder: a, provider: p, asset: x },
                Authorization { holder: b, provider: q, asset: y },
            ) => cmp_account(a, b).then_with(|| p.cmp(q)).then_with(|| x.cmp(y)),
            (Hold { hold_id: i }, Hold { hold_id: j }) => i.cmp(j),
            (HoldExpiry { expires_at_ms: t, hold_id: i }, HoldExpiry { expires_at_ms: u, hold_id: j }) => {
                t.cmp(u).then_with(|| i.cmp(j))
            }
            (BatchId { member: x, batch_id: i }, BatchId { member: y, batch_id: j }) => {
                x.cmp(y).then_with(|| i.cmp(j))
            }
            (Offer { owner: a, offer_id: i }, Offer { owner: b, offer_id: j }) => {
                cmp_account(a, b).then_with(|| i.cmp(j))
            }
            (BookEntry { sell: s, buy: b, position: p }, BookEntry { sell: t, buy: c, position: q }) => {
                s.cmp(t).then_with(|| b.cmp(c)).then_with(|| p.cmp(q))
            }
            (BadgeAnchor { batch_root: x }, BadgeAnchor { batch_root: y }) => x.0.cmp(&y.0),
            (BadgeRevocation { member: x, badge_hash: h }, BadgeRevocation { member: y, badge_hash: k }) => {
                x.cmp(y).then_with(|| h.0.cmp(&k.0))
            }
            (Governor { account: a }, Governor { account: b }) => cmp_account(a, b),
            (Validator { consensus_key: a }, Validator { consensus_key: b }) => cmp_account(a, b),
            (Proposal { proposal_id: i }, Proposal { proposal_id: j }) => i.cmp(j),
            (Plan { member: x, plan_id: p, version: v }, Plan { member: y, plan_id: q, version: w }) => {
                x.cmp(y).then_with(|| p.cmp(q)).then_with(|| v.cmp(w))
            }
            (
                PlanUsage { holder: a, member: x, plan_id: p, version: v },
                PlanUsage { holder: b, member: y, plan_id: q, version: w },
            ) => cmp_account(a, b).then_with(|| x.cmp(y)).then_with(|| p.cmp(q)).then_with(|| v.cmp(w)),
            (Usage { holder: a, provider: x }, Usage { holder: b, provider: y }) => {
                cmp_account(a, b).then_with(|| x.cmp(y))
            }
            (Spent { holder: a, provider: x, asset: s }, Spent { holder: b, provider: y, asset: t }) => {
                cmp_account(a, b).then_with(|| x.cmp(y)).then_with(|| s.cmp(t))
            }
            (AppUsage { holder: a, provider: x, app: s }, AppUsage { holder: b, provider: y, app: t }) => {
                cmp_account(a, b).then_with(|| x.cmp(y)).then_with(|| s.cmp(t))
            }
            (Revenue { account: a, asset: x }, Revenue { account: b, asset: y }) => {
                cmp_account(a, b).then_with(|| x.cmp(y))
            }
            (BadgeFigures { member: x, achievement: s }, BadgeFigures { member: y, achievement: t }) => {
                x.cmp(y).then_with(|| s.cmp(t))
            }
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for StateKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte-wise lexicographic order of two account keys, as big-endian integers.
#[inline]
fn cmp_account(a: &PublicKey, b: &PublicKey) -> Ordering {
    let halves = |key: &PublicKey| {
        let (high, low) = key.0.split_at(16);
        (
            u128::from_be_bytes(high.try_into().expect("32 bytes split in two halves of 16")),
            u128::from_be_bytes(low.try_into().expect("32 bytes split in two halves of 16")),
        )
    };
    halves(a).cmp(&halves(b))
}

impl Bounded for StateKey {
    const MAX_ENCODED_SIZE: usize = limits::STATE_KEY_BYTES_MAX;
}

/// The kind of a ledger entry; a key and its value must agree on it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Account,
    Balance,
    Asset,
    Member,
    Issuer,
    GrantId,
    Authorization,
    Hold,
    HoldExpiry,
    BatchId,
    Offer,
    BookEntry,
    BadgeAnchor,
    BadgeRevocation,
    Governor,
    Governance,
    Validator,
    Epochs,
    Proposal,
    Plan,
    PlanUsage,
    Usage,
    Spent,
    AppUsage,
    Revenue,
    BadgeFigures,
}

/// An account's replay protection: the seq of its last included transaction.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct AccountState {
    pub seq: u64,
}

/// One account's holding of one asset.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BalanceState {
    /// Spendable now.
    pub available: Amount,
    /// Reserved by open holds and offers; counted in supply, not spendable.
    pub locked: Amount,
}

impl BalanceState {
    /// Available plus locked, or `None` on overflow (which the invariants rule out).
    pub fn total(&self) -> Option<Amount> {
        self.available.checked_add(self.locked)
    }

    /// True when the entry holds nothing and must therefore not be stored.
    pub fn is_empty(&self) -> bool {
        self.available.is_zero() && self.locked.is_zero()
    }
}

/// A credit asset. Its id (code and issuing member) is the key.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct AssetState {
    /// Decimal places of the minor unit, 0..=18; immutable.
    pub scale: u8,
    /// Supply may never exceed this; `None` for no cap. Never zero.
    pub max_supply: Option<Amount>,
    pub flags: AssetFlags,
    /// Credits in existence: `minted - burned`, and the sum of all balances.
    pub supply: Amount,
    /// Everything ever granted (including genesis balances).
    pub minted: Amount,
    /// Everything ever burned.
    pub burned: Amount,
}

/// A consortium member. Its id is the key.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MemberState {
    /// The provider's display name.
    pub name: BoundedString<{ limits::MEMBER_NAME_BYTES_MAX }>,
    /// Accounts that may issue assets, grant, and (later) hold, settle and anchor for the member.
    /// Sorted and unique; at least one.
    pub issuers: BoundedVec<PublicKey, { limits::MEMBER_ISSUERS_MAX }>,
    /// The key that proposes and votes for the member (indexed by [`StateKey::Governor`]).
    pub governance_key: PublicKey,
    /// Set when a passed proposal removed the member. The record stays, so that its id is never
    /// reused and its assets, anchors and revocations keep naming it; its issuer and governance
    /// keys are no longer indexed, so they can no longer act for it.
    pub removed_at: Option<Height>,
}

impl MemberState {
    /// True while the member has not been removed.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}

/// The member a governance key acts for.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovernorState {
    pub member: MemberId,
}

/// The consortium's governance settings.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovernanceState {
    /// The share of active members whose yes votes pass a proposal.
    pub threshold: Threshold,
    /// Members not removed: the denominator of every tally.
    pub active_members: u32,
}

/// One validator: who runs it and how peers reach it. Its consensus key is the entry's key.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ValidatorState {
    pub member: MemberId,
    pub name: BoundedString<{ limits::VALIDATOR_NAME_BYTES_MAX }>,
    pub network_key: PublicKey,
    pub p2p_listen: BoundedString<{ limits::ADDRESS_BYTES_MAX }>,
    pub http_listen: BoundedString<{ limits::ADDRESS_BYTES_MAX }>,
}

/// Who validates, and with which parameters, from one height on.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EpochConfig {
    /// 0 for genesis, then one more for each change.
    pub number: u64,
    /// The first height of the epoch (1 for genesis).
    pub start_height: Height,
    /// Consensus keys in leader-rotation order.
    pub validators: BoundedVec<PublicKey, { limits::VALIDATORS_MAX }>,
    pub params: ConsensusParams,
}

/// The current epoch and the ones already scheduled. A change passed in block H takes effect
/// at H + 2 (as in CometBFT): so at most two epochs are pending, the one starting at H + 1
/// (passed in H − 1) and the one starting at H + 2.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EpochsState {
    pub current: EpochConfig,
    /// Scheduled epochs, by start height; each numbered one more than the one before.
    pub pending: BoundedVec<EpochConfig, 2>,
}

impl EpochsState {
    /// The epoch in force at `height`: the latest one (current or pending) started by then.
    pub fn at(&self, height: Height) -> &EpochConfig {
        self.pending.iter().rev().find(|epoch| epoch.start_height <= height).unwrap_or(&self.current)
    }

    /// True when `key` validates in the current or a scheduled epoch.
    pub fn schedules(&self, key: &PublicKey) -> bool {
        self.current.validators.contains(key)
            || self.pending.iter().any(|epoch| epoch.validators.contains(key))
    }

    /// The validators of the current and scheduled epochs, each once, current ones first.
    pub fn scheduled_keys(&self) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = self.current.validators.iter().copied().collect();
        for epoch in self.pending.iter() {
            for key in epoch.validators.iter() {
                if !keys.contains(key) {
                    keys.push(*key);
                }
            }
        }
        keys
    }

    /// The latest epoch known (the last pending one, or the current one).
    pub fn latest(&self) -> &EpochConfig {
        self.pending.last().unwrap_or(&self.current)
    }
}

/// One member's vote.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VoteRecord {
    pub member: MemberId,
    pub approve: bool,
    pub height: Height,
}

/// Where a proposal stands.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProposalOutcome {
    /// Taking votes (until its expiry height).
    Open,
    /// Passed, and its action executed, in this block.
    Passed { height: Height },
    /// Enough members voted no that it can no longer pass.
    Rejected { height: Height },
    /// Passed, but its action could not be carried out on the state of that block (for
    /// example, the member it adds was admitted by another proposal first); nothing changed.
    Failed { height: Height, code: ErrorCode },
}

/// A governance proposal.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalState {
    pub proposer: MemberId,
    pub action: Action,
    /// The height of the block that holds the proposal.
    pub height: Height,
    pub expires_at_height: Height,
    /// One per member, in the order cast; the proposer's yes is the first.
    pub votes: BoundedVec<VoteRecord, { limits::MEMBERS_MAX }>,
    pub outcome: ProposalOutcome,
    pub tx_id: TxId,
}

/// The member an issuer account acts for.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssuerState {
    pub member: MemberId,
}

/// A used grant id: where it was used. Kept forever, so the id can never be used again.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct GrantRecord {
    pub height: Height,
}

/// A `u64` encoded big-endian, so that byte order is numeric order: used in keys that are
/// scanned in order ([`StateKey::HoldExpiry`], [`BookPosition`]). (Borsh writes integers
/// little-endian.)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderedU64(pub u64);

impl BorshSerialize for OrderedU64 {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(&self.0.to_be_bytes())
    }
}

impl BorshDeserialize for OrderedU64 {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let mut bytes = [0u8; 8];
        reader.read_exact(&mut bytes)?;
        Ok(OrderedU64(u64::from_be_bytes(bytes)))
    }
}

/// A price as a 192-bit big-endian integer, `floor(numerator · 2^128 / denominator)`, so that
/// byte order is price order and equal prices (`1/2`, `2/4`) get equal ranks.
///
/// Exact: for prices `a/b ≠ c/d` with all parts below 2^64, `|a/b − c/d| ≥ 1/(b·d) > 2^-128`,
/// so their scaled values differ by more than 1 and their floors differ, in the same order.
/// The largest rank, `(2^64 − 1) · 2^128`, is below `2^192 − 1`: a rank of all `0xff` bytes
/// never occurs, which makes [`BookPosition::LAST`] a bound no real offer reaches.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct PriceRank(#[serde(with = "hex_24")] pub [u8; 24]);

impl PriceRank {
    /// The rank of `price`, or `None` if its denominator is zero.
    pub fn of(price: &Price) -> Option<PriceRank> {
        if price.denominator == 0 {
            return None;
        }
        // numerator · 2^128 / denominator by long division in base 2^64: the numerator is the
        // top "digit", followed by two zero digits.
        let divisor = u128::from(price.denominator);
        let mut remainder = 0u128;
        let mut digits = [0u64; 3];
        for (index, digit) in [price.numerator, 0, 0].into_iter().enumerate() {
            let current = (remainder << 64) | u128::from(digit);
            digits[index] = (current / divisor) as u64;
            remainder = current % divisor;
        }
        let mut bytes = [0u8; 24];
        for (chunk, digit) in bytes.chunks_exact_mut(8).zip(digits) {
            chunk.copy_from_slice(&digit.to_be_bytes());
        }
        Some(PriceRank(bytes))
    }
}

/// A u128 as a decimal string in JSON.
mod u128_decimal {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty()
            || !text.bytes().all(|b| b.is_ascii_digit())
            || (text.len() > 1 && text.starts_with('0'))
        {
            return Err(D::Error::custom(format!(
                "`{text}` is not a decimal count (digits, no leading zero)"
            )));
        }
        text.parse().map_err(|_| D::Error::custom(format!("`{text}` is larger than 2^128 - 1")))
    }
}

mod hex_24 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 24], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 24], D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(D::Error::custom)?;
        bytes.try_into().map_err(|_| D::Error::custom("a price rank is 24 bytes (48 hex characters)"))
    }
}

/// When an offer entered the book: block height, transaction index in the block, op index in
/// the transaction. Unique per offer; orders offers of equal price oldest first.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct OfferStamp {
    pub height: OrderedU64,
    pub tx_index: OrderedU64,
    pub op_index: u8,
}

/// An offer's place in its book: price rank, then age. Byte order = key order = priority.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct BookPosition {
    pub rank: PriceRank,
    pub stamp: OfferStamp,
}

impl BookPosition {
    /// Below every real position.
    pub const FIRST: BookPosition = BookPosition {
        rank: PriceRank([0; 24]),
        stamp: OfferStamp { height: OrderedU64(0), tx_index: OrderedU64(0), op_index: 0 },
    };
    /// Above every real position (no real rank is all ones; see [`PriceRank`]).
    pub const LAST: BookPosition = BookPosition {
        rank: PriceRank([0xff; 24]),
        stamp: OfferStamp { height: OrderedU64(u64::MAX), tx_index: OrderedU64(u64::MAX), op_index: u8::MAX },
    };
}

/// A range of keys scanned in order by [`StateRead::next_entry`]. Only the ranges built here
/// exist, because only within them does [`StateKey`]'s order equal the order of the encoded
/// bytes (which is what a byte-keyed store iterates): each fixes every variable-length field.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyRange {
    first: StateKey,
    last: StateKey,
}

impl KeyRange {
    /// The book of offers selling `sell` for `buy`, best first.
    pub fn book(sell: &AssetId, buy: &AssetId) -> Self {
        let entry = |position| StateKey::BookEntry { sell: sell.clone(), buy: buy.clone(), position };
        KeyRange { first: entry(BookPosition::FIRST), last: entry(BookPosition::LAST) }
    }

    /// Open holds expiring at or before `until_ms`, earliest first.
    pub fn hold_expiries(until_ms: u64) -> Self {
        KeyRange {
            first: StateKey::HoldExpiry { expires_at_ms: OrderedU64(0), hold_id: OpId([0; 16]) },
            last: StateKey::HoldExpiry { expires_at_ms: OrderedU64(until_ms), hold_id: OpId([0xff; 16]) },
        }
    }

    /// Every offer (open or closed) of `owner`, by offer id.
    pub fn offers_of(owner: &PublicKey) -> Self {
        KeyRange {
            first: StateKey::Offer { owner: *owner, offer_id: OpId([0; 16]) },
            last: StateKey::Offer { owner: *owner, offer_id: OpId([0xff; 16]) },
        }
    }

    /// Every governance proposal, by id.
    pub fn proposals() -> Self {
        KeyRange {
            first: StateKey::Proposal { proposal_id: OpId([0; 16]) },
            last: StateKey::Proposal { proposal_id: OpId([0xff; 16]) },
        }
    }

    /// The versions of one member's price plan, oldest first.
    pub fn plan_versions(member: &MemberId, plan_id: &PlanId) -> Self {
        let key = |version| StateKey::Plan { member: member.clone(), plan_id: plan_id.clone(), version };
        KeyRange { first: key(OrderedU64(0)), last: key(OrderedU64(u64::MAX)) }
    }

    /// Every price plan version of every member: for listings, which sort what they find
    /// (like [`KeyRange::members`], its byte order is not key order across ids of different
    /// lengths, so it is never scanned through a write overlay).
    pub fn plans() -> Self {
        let first_id = |text: &str| PlanId::new(text).expect("a valid plan id");
        let first = StateKey::Plan {
            member: MemberId::new("a-").expect("valid"),
            plan_id: first_id("a-"),
            version: OrderedU64(0),
        };
        let last = StateKey::Plan {
            member: MemberId::new("z".repeat(limits::MEMBER_ID_BYTES_MAX)).expect("the largest member id"),
            plan_id: first_id(&"z".repeat(limits::PLAN_ID_BYTES_MAX)),
            version: OrderedU64(u64::MAX),
        };
        KeyRange { first, last }
    }

    /// Every member, by id.
    pub fn members() -> Self {
        // Ids are [a-z0-9-] starting with a letter: none sorts before `a-` or after `zz…z`.
        let first = MemberId::new("a-").expect("a valid member id");
        let last = MemberId::new("z".repeat(limits::MEMBER_ID_BYTES_MAX)).expect("the largest member id");
        KeyRange { first: StateKey::Member { member: first }, last: StateKey::Member { member: last } }
    }

    /// The lowest key in the range.
    pub fn first(&self) -> &StateKey {
        &self.first
    }

    /// The highest key in the range (inclusive).
    pub fn last(&self) -> &StateKey {
        &self.last
    }

    /// True when `key` lies in the range.
    pub fn contains(&self, key: &StateKey) -> bool {
        &self.first <= key && key <= &self.last
    }
}

/// An index entry that carries no data: its key says everything.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct IndexMarker;

/// What a holder lets one provider hold and settle of one asset. Deleted only when the holder
/// sets the cap to zero; kept when holds use the cap up, so that released amounts return to it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AuthorizationState {
    /// The cap the holder last set. What is released never raises `cap_remaining` above it:
    /// holds placed under an earlier, larger authorization cannot widen a later, smaller one.
    pub cap: Amount,
    /// What the provider may still hold (≤ `cap`); each hold takes from it, and the part of a
    /// hold that is released (voided, expired, or not captured by a settlement) returns to it.
    pub cap_remaining: Amount,
    /// No new hold after this block time.
    pub expires_at_ms: u64,
    /// The price plan version the holder agreed to; holds placed under the authorization
    /// settle by it.
    pub plan: Option<PlanRef>,
}

/// Where a hold stands. A hold resolves once: from `Open` to exactly one of the others.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HoldStatus {
    Open,
    /// Captured `amount` under settlement batch `batch_id`; the rest was released.
    Settled {
        batch_id: OpId,
        amount: Amount,
        height: Height,
    },
    /// Released in full by a Void.
    Voided {
        height: Height,
    },
    /// Released in full by the block that first had a time at or after the expiry.
    Expired {
        height: Height,
    },
}

/// Credits locked for metered usage, placed by a member's issuer within an authorization.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct HoldState {
    /// The member whose issuer placed the hold; only its issuers settle or void it.
    pub member: MemberId,
    pub holder: PublicKey,
    pub asset: AssetId,
    /// Locked on the holder's balance while open.
    pub amount: Amount,
    pub expires_at_ms: u64,
    pub created_at: Height,
    pub status: HoldStatus,
    /// The member's price plan version the holder had agreed to when the hold was placed: a
    /// settlement must charge what it gives for its usage lines. `None`: any amount up to the
    /// hold.
    pub plan: Option<PlanRef>,
}

/// One version of a member's price plan, as published.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PlanState {
    pub plan: PricePlan,
    pub published_at: Height,
    /// Set by RetirePlan: no new authorization, hold or pack purchase may name the version.
    pub retired_at: Option<Height>,
}

/// Settled units of one metered item under a plan version.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ItemUsage {
    pub item: ItemName,
    /// Every unit settled, the allowances included.
    pub units: u64,
    /// The billable units (beyond each hold's allowance): the tier position.
    pub billed: u64,
    /// What the settlements charged for the item: always the plan's price of `billed` units.
    pub charged: Amount,
}

/// What a holder settled under one plan version, per item (sorted by item, each once).
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PlanUsageState {
    pub items: BoundedVec<ItemUsage, { limits::PLAN_ITEMS_MAX }>,
}

impl PlanUsageState {
    /// The usage of `item`, if any was settled.
    pub fn item(&self, item: &ItemName) -> Option<&ItemUsage> {
        self.items.binary_search_by(|usage| usage.item.cmp(item)).ok().map(|index| &self.items[index])
    }
}

/// What a holder has settled with one provider (docs/ARCHITECTURE.md "Ledger facts"). Only
/// ever grows; written by every successful `Settle` and `SettleApp`.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct UsageState {
    /// Σ units of the settlements' usage lines (a settlement without lines adds none). A
    /// decimal string in JSON, as amounts are: a sum of u64 lines can pass 2^64, which a JSON
    /// number of most readers (and serde_json's `Value`) cannot hold.
    #[serde(with = "u128_decimal")]
    pub units: u128,
    /// Settlements (zero-amount ones included).
    pub settlements: u64,
    /// Distinct applications named by `SettleApp`: the number of [`StateKey::AppUsage`]
    /// entries of the pair.
    pub applications: u32,
}

/// What a holder has paid one provider in one asset. Only ever grows.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct SpentState {
    /// Σ settled amounts: equal to the amounts of the settled holds of the triple.
    pub amount: Amount,
    pub settlements: u64,
}

/// A holder's application with usage settled by one provider. Only ever grows.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct AppUsageState {
    /// A decimal string in JSON (see [`UsageState::units`]).
    #[serde(with = "u128_decimal")]
    pub units: u128,
    pub settlements: u64,
    /// The height of its first settlement.
    pub first_height: Height,
}

/// Credits an account received in one asset. Only ever grows; saturates at 2^128 − 1 rather
/// than fail a trade or a grant over a statistic (market proceeds can exceed any supply, since
/// the same credits may be traded back and forth).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct RevenueState {
    /// Received from market fills, as maker or taker (the other side's payment).
    pub market: Amount,
    /// Received as grants (purchases, rewards and promotions).
    pub grants: Amount,
}

impl RevenueState {
    /// Market proceeds plus grants, saturating.
    pub fn total(&self) -> Amount {
        Amount(self.market.0.saturating_add(self.grants.0))
    }
}

/// The badges one member anchored for one achievement (docs/ARCHITECTURE.md "Badges",
/// community figures). Only ever grows; written by every successful `AnchorAchievements`.
/// Revocations are not attributed to an achievement: see `RevokeBadge` in
/// `execute/badges.rs` for why.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BadgeFiguresState {
    /// Σ counts the member's anchors gave the achievement: badges anchored for it.
    pub anchored: u64,
    /// Anchors that named the achievement.
    pub batches: u64,
    /// The height of the first of them.
    pub first_height: Height,
    /// The height of the latest of them.
    pub last_height: Height,
}

/// A used settlement batch id: what it settled. Kept forever, so the batch can never be
/// settled twice.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BatchRecord {
    pub hold_id: OpId,
    pub amount: Amount,
    /// Merkle root of the metered calls the batch charges for (computed by the gateway).
    pub usage_root: Hash,
    pub height: Height,
}

/// Where an offer stands.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OfferStatus {
    /// In the book; `remaining` of the sell asset is locked.
    Open,
    /// Sold everything.
    Filled { height: Height },
    /// Cancelled by its owner.
    Cancelled { height: Height },
    /// Left the book without resting: an immediate-or-cancel remainder, or a remainder too small
    /// to buy one minor unit at the best crossing price.
    Closed { height: Height },
}

/// One offer. Prices and amounts are in minor units: `price` is minor units of `buy` asked per
/// minor unit of `sell`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OfferState {
    pub sell: AssetId,
    pub buy: AssetId,
    pub price: Price,
    pub mode: OfferMode,
    /// What the offer sold, at placement.
    pub amount: Amount,
    /// What is still for sale (locked while open).
    pub remaining: Amount,
    /// Its place in the book (also while closed: where it was or would have been).
    pub position: BookPosition,
    pub status: OfferStatus,
}

/// A book entry points at its offer.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BookEntryState {
    pub owner: PublicKey,
    pub offer_id: OpId,
}

/// An anchored badge batch.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BadgeAnchorState {
    /// The member whose issuer anchored it.
    pub member: MemberId,
    /// The issuer account that signed the anchor.
    pub issuer: PublicKey,
    pub leaf_count: u32,
    pub format: BadgeFormat,
    pub canon: BadgeCanon,
    pub metadata_uri: Option<BoundedString<{ limits::BADGE_METADATA_URI_BYTES_MAX }>>,
    pub height: Height,
    pub tx_id: TxId,
}

/// A revoked badge.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevocationState {
    pub reason: BoundedString<{ limits::BADGE_REVOCATION_REASON_BYTES_MAX }>,
    /// The issuer account that signed the revocation.
    pub issuer: PublicKey,
    pub height: Height,
    pub tx_id: TxId,
}

/// The value of one ledger entry.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateValue {
    Account(AccountState),
    Balance(BalanceState),
    Asset(AssetState),
    Member(MemberState),
    Issuer(IssuerState),
    GrantId(GrantRecord),
    Authorization(AuthorizationState),
    Hold(HoldState),
    HoldExpiry(IndexMarker),
    BatchId(BatchRecord),
    Offer(OfferState),
    BookEntry(BookEntryState),
    BadgeAnchor(BadgeAnchorState),
    BadgeRevocation(RevocationState),
    Governor(GovernorState),
    Governance(GovernanceState),
    Validator(ValidatorState),
    Epochs(EpochsState),
    /// Boxed: its action makes it several times larger than any other value.
    Proposal(Box<ProposalState>),
    /// Boxed: a plan may be several kilobytes.
    Plan(Box<PlanState>),
    PlanUsage(PlanUsageState),
    Usage(UsageState),
    Spent(SpentState),
    AppUsage(AppUsageState),
    Revenue(RevenueState),
    BadgeFigures(BadgeFiguresState),
}

impl StateValue {
    /// The encoded value: what a store keeps and a proof carries.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a value strictly (bounded, canonical).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// The hash a tree leaf commits to: `Domain::StateValue` hash of the encoded value, streamed
    /// into the hasher (identical to [`value_hash`] of [`Self::to_bytes`]).
    pub fn hash(&self) -> Hash {
        hash_encoding(Domain::StateValue, self)
    }

    /// The kind of key this value belongs under.
    pub fn kind(&self) -> EntryKind {
        match self {
            StateValue::Account(_) => EntryKind::Account,
            StateValue::Balance(_) => EntryKind::Balance,
            StateValue::Asset(_) => EntryKind::Asset,
            StateValue::Member(_) => EntryKind::Member,
            StateValue::Issuer(_) => EntryKind::Issuer,
            StateValue::GrantId(_) => EntryKind::GrantId,
            StateValue::Authorization(_) => EntryKind::Authorization,
            StateValue::Hold(_) => EntryKind::Hold,
            StateValue::HoldExpiry(_) => EntryKind::HoldExpiry,
            StateValue::BatchId(_) => EntryKind::BatchId,
            StateValue::Offer(_) => EntryKind::Offer,
            StateValue::BookEntry(_) => EntryKind::BookEntry,
            StateValue::BadgeAnchor(_) => EntryKind::BadgeAnchor,
            StateValue::BadgeRevocation(_) => EntryKind::BadgeRevocation,
            StateValue::Governor(_) => EntryKind::Governor,
            StateValue::Governance(_) => EntryKind::Governance,
            StateValue::Validator(_) => EntryKind::Validator,
            StateValue::Epochs(_) => EntryKind::Epochs,
            StateValue::Proposal(_) => EntryKind::Proposal,
            StateValue::Plan(_) => EntryKind::Plan,
            StateValue::PlanUsage(_) => EntryKind::PlanUsage,
            StateValue::Usage(_) => EntryKind::Usage,
            StateValue::Spent(_) => EntryKind::Spent,
            StateValue::AppUsage(_) => EntryKind::AppUsage,
            StateValue::Revenue(_) => EntryKind::Revenue,
            StateValue::BadgeFigures(_) => EntryKind::BadgeFigures,
        }
    }
}

impl Bounded for StateValue {
    const MAX_ENCODED_SIZE: usize = limits::STATE_VALUE_BYTES_MAX;
}

/// `Domain::StateValue` hash of encoded value bytes.
pub fn value_hash(value_bytes: &[u8]) -> Hash {
    Domain::StateValue.hash(&[value_bytes])
}

/// `Domain::StateKey` hash of encoded key bytes.
pub fn key_hash(key_bytes: &[u8]) -> Hash {
    Domain::StateKey.hash(&[key_bytes])
}

fn hash_encoding<T: BorshSerialize>(domain: Domain, value: &T) -> Hash {
    let mut hasher = domain.hasher();
    // blake3::Hasher's io::Write never fails; an error here would be a bug in a Serialize impl.
    value.serialize(&mut hasher).expect("writing into a blake3 hasher cannot fail");
    Hash(*hasher.finalize().as_bytes())
}

/// Why the state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The storage behind the state failed (I/O, a closed database). Execution stops: the
    /// block can be neither accepted nor refused on a partial view.
    #[error("state storage failed: {0}")]
    Backend(String),
    /// A stored entry does not decode, or holds a value of another kind than its key.
    #[error("state entry {key:?} is corrupt: {reason}")]
    Corrupt { key: StateKey, reason: String },
}

/// Read access to a complete ledger state, as of one committed height.
///
/// This is the only way execution sees state, so the node can back it with redb: encode the
/// key with [`StateKey::to_bytes`], look the bytes up, and decode the value with
/// [`StateValue::from_bytes`] (a decode failure is [`StateError::Corrupt`]).
///
/// Implementations must be pure reads: the same key gives the same answer for the lifetime of
/// the borrow, or execution would not be deterministic.
pub trait StateRead {
    /// The value stored under `key`, or `None` if there is none.
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError>;

    /// The first entry of `range` in key order that comes after `after` (from the start of the
    /// range when `after` is `None`). Repeated calls walk a range in order: a book best offer
    /// first, expiring holds earliest first. Byte-keyed stores iterate the encoded keys, whose
    /// order within a [`KeyRange`] is the key order.
    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError>;
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        (**self).get(key)
    }

    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        (**self).next_entry(range, after)
    }
}

/// The lower bound of a walk over `range` that continues after `after`, or `None` when
/// nothing of the range is left (`after` is at or past its last key). Ordered maps panic on a
/// range whose start lies past its end, so callers must stop on `None`.
pub fn range_start<'a>(range: &'a KeyRange, after: Option<&'a StateKey>) -> Option<Bound<&'a StateKey>> {
    match after {
        Some(key) if key >= range.last() => None,
        Some(key) if key >= range.first() => Some(Bound::Excluded(key)),
        _ => Some(Bound::Included(range.first())),
    }
}

/// [`StateRead::next_entry`] over a base state seen through layers of writes (oldest first,
/// `None` deleting), then through `newest`, an unsorted list of writes (a transaction's own).
/// Deleted entries are skipped; a key written in several places takes its newest value.
pub fn next_entry_layered<S: StateRead + ?Sized>(
    base: &S,
    layers: &[&BTreeMap<StateKey, Option<StateValue>>],
    newest: &[(StateKey, Option<StateValue>)],
    range: &KeyRange,
    after: Option<&StateKey>,
) -> Result<Option<(StateKey, StateValue)>, StateError> {
    let mut cursor: Option<StateKey> = after.cloned();
    // The base's next entry stays valid while the cursor has not passed it.
    let mut base_next: Option<(StateKey, StateValue)> = base.next_entry(range, cursor.as_ref())?;
    loop {
        let Some(start) = range_start(range, cursor.as_ref()) else { return Ok(None) };
        let mut best: Option<&StateKey> = base_next.as_ref().map(|(key, _)| key);
        for layer in layers {
            if let Some((key, _)) = layer.range::<StateKey, _>((start, Bound::Included(range.last()))).next()
                && best.is_none_or(|current| key < current)
            {
                best = Some(key);
            }
        }
        for (key, _) in newest {
            let after_start = match start {
                Bound::Included(first) => key >= first,
                Bound::Excluded(previous) => key > previous,
                Bound::Unbounded => true,
            };
            if after_start && key <= range.last() && best.is_none_or(|current| key < current) {
                best = Some(key);
            }
        }
        let Some(key) = best.cloned() else { return Ok(None) };
        let newest_value = newest
            .iter()
            .find(|(written, _)| *written == key)
            .map(|(_, value)| value)
            .or_else(|| layers.iter().rev().find_map(|layer| layer.get(&key)));
        let value = match newest_value {
            Some(value) => value.clone(),
            None => {
                base_next.as_ref().filter(|(base_key, _)| *base_key == key).map(|(_, value)| value.clone())
            }
        };
        if let Some(value) = value {
            return Ok(Some((key, value)));
        }
        // Deleted above the base: walk on past it.
        if base_next.as_ref().is_some_and(|(base_key, _)| *base_key == key) {
            base_next = base.next_entry(range, Some(&key))?;
        }
        cursor = Some(key);
    }
}

/// The changes one block (or genesis) makes: key -> new value, or `None` to delete.
/// Sorted by key, so iterating it is deterministic.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct WriteSet(BTreeMap<StateKey, Option<StateValue>>);

impl WriteSet {
    /// No changes.
    pub fn new() -> Self {
        WriteSet(BTreeMap::new())
    }

    /// Sets `key` to `value` (`None` deletes), replacing any earlier change to the same key.
    pub fn insert(&mut self, key: StateKey, value: Option<StateValue>) {
        self.0.insert(key, value);
    }

    /// The change to `key`: `None` if untouched, `Some(None)` if deleted.
    pub fn get(&self, key: &StateKey) -> Option<&Option<StateValue>> {
        self.0.get(key)
    }

    /// Changes in key order.
    pub fn iter(&self) -> btree_map::Iter<'_, StateKey, Option<StateValue>> {
        self.0.iter()
    }

    /// Number of changed keys.
    /// The state-tree updates these writes make (key hash, value hash or `None` to delete),
    /// sorted by key hash as `tree::apply_updates` requires.
    pub fn tree_updates(&self) -> Vec<crate::tree::Update> {
        let mut updates: Vec<crate::tree::Update> =
            self.0.iter().map(|(key, value)| (key.hash(), value.as_ref().map(StateValue::hash))).collect();
        updates.sort_unstable_by_key(|(key_hash, _)| *key_hash);
        updates
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map, sorted by key.
    pub fn as_map(&self) -> &BTreeMap<StateKey, Option<StateValue>> {
        &self.0
    }

    /// The underlying map.
    pub fn into_inner(self) -> BTreeMap<StateKey, Option<StateValue>> {
        self.0
    }

    /// Applies `later` on top of this write set (later changes win).
    pub fn extend(&mut self, later: WriteSet) {
        self.0.extend(later.0);
    }

    pub(crate) fn from_map(map: BTreeMap<StateKey, Option<StateValue>>) -> Self {
        WriteSet(map)
    }
}

impl<'a> IntoIterator for &'a WriteSet {
    type Item = (&'a StateKey, &'a Option<StateValue>);
    type IntoIter = btree_map::Iter<'a, StateKey, Option<StateValue>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for WriteSet {
    type Item = (StateKey, Option<StateValue>);
    type IntoIter = btree_map::IntoIter<StateKey, Option<StateValue>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(StateKey, Option<StateValue>)> for WriteSet {
    fn from_iter<I: IntoIterator<Item = (StateKey, Option<StateValue>)>>(iter: I) -> Self {
        WriteSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_types::AssetCode;

    /// Settled units are a sum of u64 lines and pass 2^64: their JSON (what /v1/state/proof
    /// serves through `serde_json::Value`) is a decimal string, which every reader holds
    /// exactly; a JSON number that large made `serde_json::to_value` fail (a panic in `json!`).
    #[test]
    fn settled_units_past_2_64_are_decimal_strings_in_json() {
        let units = u128::from(u64::MAX) * 3 + 1;
        let usage = StateValue::Usage(UsageState { units, settlements: 4, applications: 1 });
        let app = StateValue::AppUsage(AppUsageState { units, settlements: 4, first_height: Height(9) });
        for value in [usage, app] {
            let json = serde_json::to_value(&value).expect("any units have a JSON form");
            assert_eq!(json["units"], serde_json::json!(units.to_string()));
            assert_eq!(serde_json::from_value::<StateValue>(json).expect("reads back"), value);
        }
        for bad in
            ["\"\"", "\"012\"", "\"1e3\"", "\"-1\"", "12", "\"340282366920938463463374607431768211456\""]
        {
            let text = format!(r#"{{"kind":"usage","units":{bad},"settlements":1,"applications":0}}"#);
            assert!(serde_json::from_str::<StateValue>(&text).is_err(), "{bad}");
        }
    }

    fn asset() -> AssetId {
        AssetId::new(AssetCode::new("ACME").expect("valid"), MemberId::new("acme").expect("valid"))
    }

    fn largest_key() -> StateKey {
        let asset = AssetId::new(
            AssetCode::new("A".repeat(limits::ASSET_CODE_BYTES_MAX)).expect("valid"),
            MemberId::new("m".repeat(limits::MEMBER_ID_BYTES_MAX)).expect("valid"),
        );
        StateKey::balance(PublicKey([0xee; 32]), asset)
    }

    #[test]
    fn streamed_hashes_equal_hashes_of_encodings() {
        let key = StateKey::balance(PublicKey([1; 32]), asset());
        assert_eq!(key.hash(), Domain::StateKey.hash(&[&encode(&key)]));
        assert_eq!(key.hash(), key_hash(&key.to_bytes()));
        let value = StateValue::Balance(BalanceState { available: Amount(5), locked: Amount(1) });
        assert_eq!(value.hash(), Domain::StateValue.hash(&[&encode(&value)]));
        assert_eq!(value.hash(), value_hash(&value.to_bytes()));
    }

    #[test]
    fn keys_and_values_round_trip_strictly() {
        let key = largest_key();
        let bytes = key.to_bytes();
        assert!(bytes.len() <= limits::STATE_KEY_BYTES_MAX);
        assert_eq!(StateKey::from_bytes(&bytes), Ok(key));
        let value = StateValue::Asset(AssetState {
            scale: 2,
            max_supply: Some(Amount(10)),
            flags: AssetFlags(0),
            supply: Amount(3),
            minted: Amount(4),
            burned: Amount(1),
        });
        let mut bytes = value.to_bytes();
        assert_eq!(StateValue::from_bytes(&bytes), Ok(value));
        bytes.push(0);
        assert!(StateValue::from_bytes(&bytes).is_err());
    }

    /// The hand-written order is the derived one: kind, then fields, bytes lexicographically.
    #[test]
    fn key_order_is_kind_then_fields() {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Reference<'a> {
            Account([u8; 32]),
            Balance([u8; 32], &'a AssetId),
            Asset(&'a AssetId),
            Member(&'a MemberId),
            Issuer([u8; 32]),
            GrantId(&'a MemberId, OpId),
            Authorization([u8; 32], &'a MemberId, &'a AssetId),
            Hold(OpId),
            HoldExpiry(u64, OpId),
            BatchId(&'a MemberId, OpId),
            Offer([u8; 32], OpId),
            BookEntry(&'a AssetId, &'a AssetId, [u8; 24], u64, u64, u8),
            BadgeAnchor([u8; 32]),
            BadgeRevocation(&'a MemberId, [u8; 32]),
            Governor([u8; 32]),
            Governance,
            Validator([u8; 32]),
            Epochs,
            Proposal(OpId),
            Plan(&'a MemberId, &'a PlanId, u64),
            PlanUsage([u8; 32], &'a MemberId, &'a PlanId, u64),
            Usage([u8; 32], &'a MemberId),
            Spent([u8; 32], &'a MemberId, &'a AssetId),
            AppUsage([u8; 32], &'a MemberId, &'a AppId),
            Revenue([u8; 32], &'a AssetId),
            BadgeFigures(&'a MemberId, &'a AchievementId),
        }
        fn reference(key: &StateKey) -> Reference<'_> {
            match key {
                StateKey::Account { account } => Reference::Account(account.0),
                StateKey::Balance { account, asset } => Reference::Balance(account.0, asset),
                StateKey::Asset { asset } => Reference::Asset(asset),
                StateKey::Member { member } => Reference::Member(member),
                StateKey::Issuer { account } => Reference::Issuer(account.0),
                StateKey::GrantId { member, grant_id } => Reference::GrantId(member, *grant_id),
                StateKey::Authorization { holder, provider, asset } => {
                    Reference::Authorization(holder.0, provider, asset)
                }
                StateKey::Hold { hold_id } => Reference::Hold(*hold_id),
                StateKey::HoldExpiry { expires_at_ms, hold_id } => {
                    Reference::HoldExpiry(expires_at_ms.0, *hold_id)
                }
                StateKey::BatchId { member, batch_id } => Reference::BatchId(member, *batch_id),
                StateKey::Offer { owner, offer_id } => Reference::Offer(owner.0, *offer_id),
                StateKey::BookEntry { sell, buy, position } => Reference::BookEntry(
                    sell,
                    buy,
                    position.rank.0,
                    position.stamp.height.0,
                    position.stamp.tx_index.0,
                    position.stamp.op_index,
                ),
                StateKey::BadgeAnchor { batch_root } => Reference::BadgeAnchor(batch_root.0),
                StateKey::BadgeRevocation { member, badge_hash } => {
                    Reference::BadgeRevocation(member, badge_hash.0)
                }
                StateKey::Governor { account } => Reference::Governor(account.0),
                StateKey::Governance => Reference::Governance,
                StateKey::Validator { consensus_key } => Reference::Validator(consensus_key.0),
                StateKey::Epochs => Reference::Epochs,
                StateKey::Proposal { proposal_id } => Reference::Proposal(*proposal_id),
                StateKey::Plan { member, plan_id, version } => Reference::Plan(member, plan_id, version.0),
                StateKey::PlanUsage { holder, member, plan_id, version } => {
                    Reference::PlanUsage(holder.0, member, plan_id, version.0)
                }
                StateKey::Usage { holder, provider } => Reference::Usage(holder.0, provider),
                StateKey::Spent { holder, provider, asset } => Reference::Spent(holder.0, provider, asset),
                StateKey::AppUsage { holder, provider, app } => Reference::AppUsage(holder.0, provider, app),
                StateKey::Revenue { account, asset } => Reference::Revenue(account.0, asset),
                StateKey::BadgeFigures { member, achievement } => {
                    Reference::BadgeFigures(member, achievement)
                }
            }
        }
        let other_asset: AssetId = "ACME@acmf".parse().expect("valid");
        let mut accounts = vec![[0u8; 32], [0xff; 32], [1; 32]];
        for index in [0usize, 15, 16, 31] {
            let mut bytes = [7u8; 32];
            bytes[index] = 8;
            accounts.push(bytes);
            bytes[index] = 6;
            accounts.push(bytes);
        }
        let mut keys = Vec::new();
        for bytes in &accounts {
            let account = PublicKey(*bytes);
            keys.push(StateKey::Account { account });
            keys.push(StateKey::Issuer { account });
            keys.push(StateKey::balance(account, asset()));
            keys.push(StateKey::balance(account, other_asset.clone()));
        }
        keys.push(StateKey::Asset { asset: asset() });
        keys.push(StateKey::Asset { asset: other_asset.clone() });
        keys.push(StateKey::Member { member: MemberId::new("acme").expect("valid") });
        keys.push(StateKey::Member { member: MemberId::new("ab").expect("valid") });
        for id in [0u8, 1, 255] {
            keys.push(StateKey::GrantId {
                member: MemberId::new("acme").expect("valid"),
                grant_id: OpId([id; 16]),
            });
        }
        keys.extend(new_kind_keys());
        for bytes in &accounts {
            keys.push(StateKey::Governor { account: PublicKey(*bytes) });
            keys.push(StateKey::Validator { consensus_key: PublicKey(*bytes) });
        }
        keys.push(StateKey::Governance);
        keys.push(StateKey::Epochs);
        for id in [0u8, 1, 255] {
            keys.push(StateKey::Proposal { proposal_id: OpId([id; 16]) });
        }
        for (member, plan) in [("acme", "standard"), ("acme", "pro"), ("ab", "standard")] {
            let member = MemberId::new(member).expect("valid");
            let plan_id = PlanId::new(plan).expect("valid");
            for version in [1u64, 2, 256, u64::MAX] {
                keys.push(StateKey::Plan {
                    member: member.clone(),
                    plan_id: plan_id.clone(),
                    version: OrderedU64(version),
                });
                for bytes in &accounts[..3] {
                    keys.push(StateKey::PlanUsage {
                        holder: PublicKey(*bytes),
                        member: member.clone(),
                        plan_id: plan_id.clone(),
                        version: OrderedU64(version),
                    });
                }
            }
        }
        for bytes in &accounts[..4] {
            let holder = PublicKey(*bytes);
            for member in ["acme", "ab"] {
                let provider = MemberId::new(member).expect("valid");
                keys.push(StateKey::Usage { holder, provider: provider.clone() });
                for asset in [asset(), other_asset.clone()] {
                    keys.push(StateKey::Spent { holder, provider: provider.clone(), asset: asset.clone() });
                    keys.push(StateKey::Revenue { account: holder, asset });
                }
                for app in ["bot", "bot2", "a"] {
                    let app = AppId::new(app).expect("valid");
                    keys.push(StateKey::AppUsage { holder, provider: provider.clone(), app });
                }
            }
        }
        for member in ["acme", "ab", "acmf"] {
            for achievement in ["https://a.example/x", "https://a.example/xy", "urn:a", "A:", "z:~"] {
                keys.push(StateKey::BadgeFigures {
                    member: MemberId::new(member).expect("valid"),
                    achievement: AchievementId::new(achievement).expect("valid"),
                });
            }
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), reference(a).cmp(&reference(b)), "{a:?} vs {b:?}");
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b);
            }
        }
    }

    /// Keys of the kinds added for holds, offers and badges, with values chosen so that byte
    /// order and numeric order differ when integers are encoded little-endian.
    fn new_kind_keys() -> Vec<StateKey> {
        let acme = MemberId::new("acme").expect("valid");
        let other: AssetId = "GLOBEX@globex".parse().expect("valid");
        let mut keys = Vec::new();
        for (index, id) in [0u8, 1, 255].into_iter().enumerate() {
            let id = OpId([id; 16]);
            keys.push(StateKey::Authorization {
                holder: PublicKey([id.0[0]; 32]),
                provider: acme.clone(),
                asset: asset(),
            });
            keys.push(StateKey::Hold { hold_id: id });
            for at in [1u64, 256, 257, 1 << 40] {
                keys.push(StateKey::HoldExpiry { expires_at_ms: OrderedU64(at + index as u64), hold_id: id });
            }
            keys.push(StateKey::BatchId { member: acme.clone(), batch_id: id });
            keys.push(StateKey::Offer { owner: PublicKey([7; 32]), offer_id: id });
            keys.push(StateKey::BadgeAnchor { batch_root: Hash([id.0[0]; 32]) });
            keys.push(StateKey::BadgeRevocation { member: acme.clone(), badge_hash: Hash([id.0[0]; 32]) });
        }
        for (sell, buy) in [(asset(), other.clone()), (other.clone(), asset())] {
            for price in [(1u64, 3u64), (2, 7), (1, 1), (256, 1), (u64::MAX, 1), (1, u64::MAX)] {
                let rank = PriceRank::of(&Price { numerator: price.0, denominator: price.1 }).expect("valid");
                for (height, tx_index) in [(1u64, 0u64), (1, 256), (256, 1), (257, 0)] {
                    let stamp = OfferStamp {
                        height: OrderedU64(height),
                        tx_index: OrderedU64(tx_index),
                        op_index: 3,
                    };
                    keys.push(StateKey::BookEntry {
                        sell: sell.clone(),
                        buy: buy.clone(),
                        position: BookPosition { rank, stamp },
                    });
                }
            }
        }
        keys
    }

    /// Within every scan range, key order is the order of the encoded bytes, which is what a
    /// byte-keyed store walks.
    #[test]
    fn key_order_is_byte_order_within_scan_ranges() {
        let keys = new_kind_keys();
        let other: AssetId = "GLOBEX@globex".parse().expect("valid");
        let ranges = [
            KeyRange::book(&asset(), &other),
            KeyRange::book(&other, &asset()),
            KeyRange::hold_expiries(u64::MAX),
            KeyRange::hold_expiries(257),
            KeyRange::offers_of(&PublicKey([7; 32])),
        ];
        for range in &ranges {
            assert!(range.first().to_bytes() < range.last().to_bytes());
            let inside: Vec<&StateKey> = keys.iter().filter(|key| range.contains(key)).collect();
            assert!(inside.len() >= 3, "{range:?} catches the keys it is for");
            for a in &inside {
                for b in &inside {
                    assert_eq!(a.cmp(b), a.to_bytes().cmp(&b.to_bytes()), "{a:?} vs {b:?}");
                }
                let bytes = a.to_bytes();
                assert!(range.first().to_bytes() <= bytes && bytes <= range.last().to_bytes());
            }
            // Keys outside the range are also outside its byte range.
            for key in keys.iter().filter(|key| !range.contains(key)) {
                let bytes = key.to_bytes();
                assert!(bytes < range.first().to_bytes() || bytes > range.last().to_bytes(), "{key:?}");
            }
        }
    }

    #[test]
    fn price_rank_orders_prices_exactly() {
        let prices = [
            (1u64, 3u64),
            (2, 7),
            (1, 1),
            (2, 2),
            (u64::MAX, 1),
            (1, u64::MAX),
            (u64::MAX, u64::MAX - 1),
            (u64::MAX - 1, u64::MAX),
            (u64::MAX - 1, u64::MAX - 2),
            (3, 9),
        ];
        for a in prices {
            for b in prices {
                let (pa, pb) =
                    (Price { numerator: a.0, denominator: a.1 }, Price { numerator: b.0, denominator: b.1 });
                let (ra, rb) = (PriceRank::of(&pa).expect("valid"), PriceRank::of(&pb).expect("valid"));
                assert_eq!(ra.cmp(&rb), pa.cmp_exact(&pb), "{pa} vs {pb}");
            }
        }
        let largest = PriceRank::of(&Price { numerator: u64::MAX, denominator: 1 }).expect("valid");
        assert!(largest < BookPosition::LAST.rank);
        assert_eq!(PriceRank::of(&Price { numerator: 1, denominator: 0 }), None);
    }

    #[test]
    fn new_keys_round_trip_and_fit() {
        for key in new_kind_keys() {
            let bytes = key.to_bytes();
            assert!(bytes.len() <= limits::STATE_KEY_BYTES_MAX);
            assert_eq!(StateKey::from_bytes(&bytes), Ok(key));
        }
        let long: AssetId = AssetId::new(
            AssetCode::new("A".repeat(limits::ASSET_CODE_BYTES_MAX)).expect("valid"),
            MemberId::new("m".repeat(limits::MEMBER_ID_BYTES_MAX)).expect("valid"),
        );
        let key = StateKey::BookEntry { sell: long.clone(), buy: long, position: BookPosition::LAST };
        assert!(key.to_bytes().len() <= limits::STATE_KEY_BYTES_MAX);
    }

    mod layered {
        use super::*;
        use crate::mem::MemState;
        use proptest::prelude::*;

        fn hold_key(expiry: u64, id: u8) -> StateKey {
            StateKey::HoldExpiry { expires_at_ms: OrderedU64(expiry), hold_id: OpId([id; 16]) }
        }

        /// A write: (expiry, id, present?). Expiries reach past the scanned range's end.
        fn writes() -> impl Strategy<Value = Vec<(u64, u8, bool)>> {
            proptest::collection::vec((0u64..40, 0u8..4, any::<bool>()), 0..25)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            /// Walking a range through layers of writes visits exactly the entries of the
            /// merged state, in order.
            #[test]
            fn walk_equals_the_merged_state(
                base in writes(),
                layers in proptest::collection::vec(writes(), 0..3),
                newest in writes(),
                until in 0u64..45,
                start_after in proptest::option::of((0u64..40, 0u8..4)),
            ) {
                let value = StateValue::HoldExpiry(IndexMarker);
                let base_writes: WriteSet = base
                    .iter()
                    .filter(|(_, _, present)| *present)
                    .map(|(expiry, id, _)| (hold_key(*expiry, *id), Some(value.clone())))
                    .collect();
                let mut state = MemState::new();
                state.commit(&base_writes).expect("fresh tree");
                let to_map = |writes: &Vec<(u64, u8, bool)>| -> BTreeMap<StateKey, Option<StateValue>> {
                    writes
                        .iter()
                        .map(|(expiry, id, present)| (hold_key(*expiry, *id), present.then(|| value.clone())))
                        .collect()
                };
                let layer_maps: Vec<_> = layers.iter().map(to_map).collect();
                let layer_refs: Vec<_> = layer_maps.iter().collect();
                // The newest list holds each key once, as the executor keeps it.
                let newest: Vec<(StateKey, Option<StateValue>)> = to_map(&newest).into_iter().collect();

                let mut merged: BTreeMap<StateKey, StateValue> =
                    state.entries().map(|(key, value)| (key.clone(), value.clone())).collect();
                for layer in layer_maps.iter().chain(std::iter::once(&newest.iter().cloned().collect())) {
                    for (key, value) in layer {
                        match value {
                            Some(value) => merged.insert(key.clone(), value.clone()),
                            None => merged.remove(key),
                        };
                    }
                }
                let range = KeyRange::hold_expiries(until);
                let after = start_after.map(|(expiry, id)| hold_key(expiry, id));
                let expected: Vec<StateKey> = merged
                    .keys()
                    .filter(|key| range.contains(key) && after.as_ref().is_none_or(|after| *key > after))
                    .cloned()
                    .collect();
                let mut walked = Vec::new();
                let mut cursor = after.clone();
                while let Some((key, _)) =
                    next_entry_layered(&state, &layer_refs, &newest, &range, cursor.as_ref()).expect("memory")
                {
                    prop_assert!(walked.len() <= expected.len(), "walk does not end");
                    walked.push(key.clone());
                    cursor = Some(key);
                }
                prop_assert_eq!(walked, expected);
            }
        }
    }

    #[test]
    fn key_kinds_are_distinct_in_the_tree() {
        // The same account under two kinds must land on two positions.
        let account = PublicKey([3; 32]);
        assert_ne!(StateKey::Account { account }.hash(), StateKey::Issuer { account }.hash());
    }

    #[test]
    fn key_and_value_kinds_match() {
        let pairs = [
            (StateKey::Account { account: PublicKey([0; 32]) }, StateValue::Account(AccountState { seq: 1 })),
            (StateKey::balance(PublicKey([0; 32]), asset()), StateValue::Balance(BalanceState::default())),
            (
                StateKey::Issuer { account: PublicKey([0; 32]) },
                StateValue::Issuer(IssuerState { member: MemberId::new("acme").expect("valid") }),
            ),
            (
                StateKey::GrantId { member: MemberId::new("acme").expect("valid"), grant_id: OpId([0; 16]) },
                StateValue::GrantId(GrantRecord { height: Height(1) }),
            ),
        ];
        for (key, value) in pairs {
            assert_eq!(key.kind(), value.kind(), "{key:?}");
        }
    }
}
