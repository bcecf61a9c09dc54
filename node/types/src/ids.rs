//! Identifiers: chain, member, asset, heights, views, and client-chosen operation ids.
//!
//! Every textual id is validated on construction and on decode, so a value of these types is
//! always well formed, whichever way it entered the program.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::limits;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("chain id `{0}` must be {min}..={max} characters of [a-z0-9-]", min = limits::CHAIN_ID_BYTES_MIN, max = limits::CHAIN_ID_BYTES_MAX)]
    ChainId(String),
    #[error("member id `{0}` must be {min}..={max} characters of [a-z0-9-], starting with a letter", min = limits::MEMBER_ID_BYTES_MIN, max = limits::MEMBER_ID_BYTES_MAX)]
    MemberId(String),
    #[error("asset code `{0}` must be {min}..={max} characters of [A-Z0-9]", min = limits::ASSET_CODE_BYTES_MIN, max = limits::ASSET_CODE_BYTES_MAX)]
    AssetCode(String),
    #[error("asset `{0}` must be written CODE@member, e.g. ACME@acme")]
    AssetId(String),
    #[error("id must be 32 hex characters (16 bytes), got `{0}`")]
    OpId(String),
    #[error("plan id `{0}` must be {min}..={max} characters of [a-z0-9-], starting with a letter", min = limits::PLAN_ID_BYTES_MIN, max = limits::PLAN_ID_BYTES_MAX)]
    PlanId(String),
    #[error("item name `{0}` must be 1..={max} characters of [a-z0-9._-], starting with a letter (e.g. search.query)", max = limits::ITEM_NAME_BYTES_MAX)]
    ItemName(String),
    #[error("application id `{0}` must be 1..={max} characters of [a-z0-9._-], starting with a letter or digit (e.g. weather-bot)", max = limits::APP_ID_BYTES_MAX)]
    AppId(String),
    #[error("currency `{0}` must be three capital letters (ISO 4217, e.g. USD)")]
    Currency(String),
    #[error("achievement id `{0}` must be an absolute URI of 1..={max} printable ASCII characters allowed in URIs (RFC 3986: a scheme such as https: or urn:, no spaces or quotes), e.g. https://badges.acme.example/achievements/api-calls-1m", max = limits::ACHIEVEMENT_ID_BYTES_MAX)]
    AchievementId(String),
}

fn is_lower_ident(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Declares a validated string newtype with borsh, serde, Display and FromStr that all
/// go through the same check.
macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $max:expr, $check:expr, $error:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                let check: fn(&str) -> bool = $check;
                if check(&text) { Ok(Self(text)) } else { Err($error(text)) }
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::new(text)
            }
        }

        impl BorshSerialize for $name {
            fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
                BorshSerialize::serialize(&self.0, writer)
            }
        }

        impl BorshDeserialize for $name {
            fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
                let text = crate::codec::BoundedString::<{ $max }>::deserialize_reader(reader)?;
                Self::new(text.as_str())
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as Deserialize>::deserialize(deserializer)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

validated_string!(
    /// The chain id: names one ledger; part of every signed message.
    ChainId,
    limits::CHAIN_ID_BYTES_MAX,
    |text| is_lower_ident(text, limits::CHAIN_ID_BYTES_MIN, limits::CHAIN_ID_BYTES_MAX),
    IdError::ChainId
);

validated_string!(
    /// A consortium member (an API provider), e.g. `acme`.
    MemberId,
    limits::MEMBER_ID_BYTES_MAX,
    |text| is_lower_ident(text, limits::MEMBER_ID_BYTES_MIN, limits::MEMBER_ID_BYTES_MAX)
        && text.as_bytes()[0].is_ascii_lowercase(),
    IdError::MemberId
);

validated_string!(
    /// An asset code, e.g. `ACME`: `[A-Z0-9]{2,12}`.
    AssetCode,
    limits::ASSET_CODE_BYTES_MAX,
    |text| (limits::ASSET_CODE_BYTES_MIN..=limits::ASSET_CODE_BYTES_MAX).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
    IdError::AssetCode
);

validated_string!(
    /// A price plan's name, scoped to the member that publishes it, e.g. `standard`
    /// (docs/ARCHITECTURE.md "Price plans").
    PlanId,
    limits::PLAN_ID_BYTES_MAX,
    |text| is_lower_ident(text, limits::PLAN_ID_BYTES_MIN, limits::PLAN_ID_BYTES_MAX)
        && text.as_bytes()[0].is_ascii_lowercase(),
    IdError::PlanId
);

validated_string!(
    /// A metered item of a price plan (an endpoint or a unit name), e.g. `search.query` or
    /// `tokens.output`; also names a plan's credit packs.
    ItemName,
    limits::ITEM_NAME_BYTES_MAX,
    |text| (1..=limits::ITEM_NAME_BYTES_MAX).contains(&text.len())
        && text.as_bytes()[0].is_ascii_lowercase()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')),
    IdError::ItemName
);

validated_string!(
    /// A developer's application, as the provider that meters it names it in a settlement
    /// (`Op::SettleApp`), e.g. `weather-bot`: scoped to the (holder, provider) pair, so that the
    /// ledger can count the distinct applications a holder has settled usage for.
    AppId,
    limits::APP_ID_BYTES_MAX,
    |text| (1..=limits::APP_ID_BYTES_MAX).contains(&text.len())
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')),
    IdError::AppId
);

validated_string!(
    /// The id of an Open Badges 3.0 `Achievement` as a badge anchor names it
    /// (`Op::AnchorAchievements`), e.g. `https://badges.acme.example/achievements/api-calls-1m`:
    /// an absolute URI (a scheme `[A-Za-z][A-Za-z0-9+.-]*` and `:`), of the characters RFC 3986
    /// allows in a URI (unreserved, reserved and `%`), so no whitespace, quotes or control bytes
    /// reach the ledger or the pages that show it. It names the achievement, which the provider
    /// publishes anyway, never a recipient.
    AchievementId,
    limits::ACHIEVEMENT_ID_BYTES_MAX,
    is_achievement_id,
    IdError::AchievementId
);

/// The check of [`AchievementId`]: see its documentation.
fn is_achievement_id(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    let uri_byte = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'['
                    | b']'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            )
    };
    scheme_ok && text.len() <= limits::ACHIEVEMENT_ID_BYTES_MAX && text.bytes().all(uri_byte)
}

validated_string!(
    /// A reference currency for credit packs: an ISO 4217 code, e.g. `USD`.
    Currency,
    3,
    |text| text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()),
    IdError::Currency
);

/// A credit asset: a code issued by a member, written `CODE@member` (e.g. `ACME@acme`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct AssetId {
    pub code: AssetCode,
    pub issuer: MemberId,
}

impl AssetId {
    /// The asset `code@issuer`.
    pub fn new(code: AssetCode, issuer: MemberId) -> Self {
        AssetId { code, issuer }
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.code, self.issuer)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({self})")
    }
}

impl FromStr for AssetId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (code, issuer) = text.split_once('@').ok_or_else(|| IdError::AssetId(text.to_owned()))?;
        Ok(AssetId { code: code.parse()?, issuer: issuer.parse()? })
    }
}

impl Serialize for AssetId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AssetId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Declares a `u64` newtype counter.
macro_rules! counter {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
        #[derive(BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The next value; panics on overflow, which 2^64 blocks or views never reach.
            pub fn next(self) -> Self {
                Self(self.0.checked_add(1).expect(concat!(stringify!($name), " overflow")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

counter!(
    /// A block height. Genesis is height 0; the first block is height 1.
    Height
);
counter!(
    /// A consensus view (round). Views start at 1; a view may produce no block.
    View
);

/// Bits of a view number below its epoch: view `v` belongs to epoch `v >> VIEW_EPOCH_SHIFT`
/// (docs/ARCHITECTURE.md "Governance and epochs"). Each epoch runs its own consensus instance
/// whose views start at `epoch << VIEW_EPOCH_SHIFT` + 1, so every vote, proposal and
/// certificate names its epoch through its view, and a signature of one epoch can never be
/// counted in another. 2^40 views last 35,000 years at one view a second.
pub const VIEW_EPOCH_SHIFT: u32 = 40;

impl View {
    /// The epoch this view belongs to.
    pub fn epoch(self) -> u64 {
        self.0 >> VIEW_EPOCH_SHIFT
    }

    /// The view before the first view of `epoch` (the first is one more): the base every view
    /// of the epoch counts from. Epoch 0's base is view 0, so chains without epochs are unchanged.
    pub fn epoch_base(epoch: u64) -> View {
        View(
            epoch
                .checked_shl(VIEW_EPOCH_SHIFT)
                .filter(|base| base >> VIEW_EPOCH_SHIFT == epoch)
                .expect("epoch below 2^24"),
        )
    }
}

/// The position of a validator in the genesis validator list.
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
#[serde(transparent)]
pub struct ValidatorIndex(pub u16);

impl fmt::Display for ValidatorIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 16-byte id chosen by the client (grant, hold, settlement batch, offer). Unique forever
/// within its kind: the ledger records every id it has seen. Written as 32 hex characters,
/// so a UUID without its dashes is a valid id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct OpId(pub [u8; 16]);

impl OpId {
    /// Hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({})", self.to_hex())
    }
}

impl FromStr for OpId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let cleaned: String = text.chars().filter(|c| *c != '-').collect();
        let mut out = [0u8; 16];
        if cleaned.len() != 32 || hex::decode_to_slice(&cleaned, &mut out).is_err() {
            return Err(IdError::OpId(text.to_owned()));
        }
        Ok(OpId(out))
    }
}

impl Serialize for OpId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for OpId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn asset_id_parses_and_prints() {
        let asset: AssetId = "ACME@acme".parse().expect("valid");
        assert_eq!(asset.to_string(), "ACME@acme");
        assert_eq!("acme".parse::<AssetId>(), Err(IdError::AssetId("acme".into())));
        assert_eq!("acme@acme".parse::<AssetId>(), Err(IdError::AssetCode("acme".into())));
        assert_eq!("A@acme".parse::<AssetId>(), Err(IdError::AssetCode("A".into())));
        assert_eq!("ABCDEFGHIJKLM@acme".parse::<AssetId>(), Err(IdError::AssetCode("ABCDEFGHIJKLM".into())));
        assert_eq!("ACME@Acme".parse::<AssetId>(), Err(IdError::MemberId("Acme".into())));
        assert_eq!("ACME@1acme".parse::<AssetId>(), Err(IdError::MemberId("1acme".into())));
    }

    #[test]
    fn invalid_ids_do_not_decode() {
        // A borsh string "ab!" is a valid BoundedString but not a valid member id.
        let bytes = encode(&"ab!".to_owned());
        let mut reader = bytes.as_slice();
        assert!(MemberId::deserialize_reader(&mut reader).is_err());
        let code = AssetCode::new("ACME").expect("valid");
        assert_eq!(AssetCode::try_from_slice(&encode(&code)).expect("decodes"), code);
        let _ = decode::<u64>(&encode(&1u64)).expect("decodes");
    }

    #[test]
    fn op_id_accepts_uuid_form() {
        let id: OpId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().expect("uuid");
        assert_eq!(id.to_hex(), "67e5504410b1426f9247bb680e5fe0c8");
        assert!("xyz".parse::<OpId>().is_err());
    }
}
