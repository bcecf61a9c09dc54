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

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use tally_types::codec::{Bounded, BoundedString, BoundedVec, DecodeError, decode, encode};
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, Domain, Hash, Height, MemberId, OpId, PublicKey, limits};

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
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        (**self).get(key)
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
        }
        fn reference(key: &StateKey) -> Reference<'_> {
            match key {
                StateKey::Account { account } => Reference::Account(account.0),
                StateKey::Balance { account, asset } => Reference::Balance(account.0, asset),
                StateKey::Asset { asset } => Reference::Asset(asset),
                StateKey::Member { member } => Reference::Member(member),
                StateKey::Issuer { account } => Reference::Issuer(account.0),
                StateKey::GrantId { member, grant_id } => Reference::GrantId(member, *grant_id),
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
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), reference(a).cmp(&reference(b)), "{a:?} vs {b:?}");
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b);
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
