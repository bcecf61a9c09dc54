//! Hashing: blake3, domain-separated per use.
//!
//! Identifiers (tx id, block id, state key, genesis hash, validator-set hash, ...) use blake3's
//! key-derivation mode with a context string per use, so no two uses can ever produce the same
//! hash from the same bytes. Merkle trees use plain blake3 with a one-byte prefix (0x00 leaf,
//! 0x01 node), so that anyone can recompute a badge tree with `b3sum`-style tooling.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A 32-byte blake3 hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the root of an empty sparse Merkle tree.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Plain blake3 of `bytes`, no prefix or key: the badge hash (docs/ARCHITECTURE.md "Badges").
    pub fn plain(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// Hex form, lower case.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// Why a hex hash did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    #[error("hash must be 64 hex characters, got {0}")]
    Length(usize),
    #[error("hash is not hex: {0}")]
    NotHex(String),
}

impl FromStr for Hash {
    type Err = HashParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 64 {
            return Err(HashParseError::Length(text.len()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|error| HashParseError::NotHex(error.to_string()))?;
        Ok(Hash(out))
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl crate::codec::Bounded for Hash {
    const MAX_ENCODED_SIZE: usize = 32;
}

/// Declares an id that is a [`Hash`] of one kind (tx id, block id): the same derives, hex
/// `Display`/`FromStr`, and a `Debug` that names the kind.
#[macro_export]
macro_rules! hash_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
            borsh::BorshSerialize, borsh::BorshDeserialize, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $crate::hash::Hash);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::hash::HashParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    };
}

/// One use of hashing, with its own blake3 derive-key context. The strings are part of the
/// protocol: changing one changes every id of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Transaction id: over the encoded transaction body (the signed part).
    TxId,
    /// Block id: over the encoded header.
    BlockId,
    /// Receipt hash: a leaf of the receipts root.
    Receipt,
    /// State key: the position of a ledger entry in the sparse Merkle tree.
    StateKey,
    /// State value: the hash of an encoded ledger entry, committed by a tree leaf.
    StateValue,
    /// Sparse Merkle tree leaf (key hash, value hash).
    SmtLeaf,
    /// Sparse Merkle tree inner node.
    SmtNode,
    /// Validator set hash, carried in every header.
    ValidatorSet,
    /// Genesis hash: over the canonical encoding of the genesis document.
    Genesis,
}

impl Domain {
    /// The blake3 derive-key context string.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::TxId => "tally v1 tx id",
            Domain::BlockId => "tally v1 block id",
            Domain::Receipt => "tally v1 receipt",
            Domain::StateKey => "tally v1 state key",
            Domain::StateValue => "tally v1 state value",
            Domain::SmtLeaf => "tally v1 smt leaf",
            Domain::SmtNode => "tally v1 smt node",
            Domain::ValidatorSet => "tally v1 validator set",
            Domain::Genesis => "tally v1 genesis",
        }
    }

    /// Every domain, in a fixed order (the index of the cached context key).
    pub const ALL: [Domain; 9] = [
        Domain::TxId,
        Domain::BlockId,
        Domain::Receipt,
        Domain::StateKey,
        Domain::StateValue,
        Domain::SmtLeaf,
        Domain::SmtNode,
        Domain::ValidatorSet,
        Domain::Genesis,
    ];

    /// Hashes `parts`, concatenated, in this domain: `blake3::derive_key(context, parts)`.
    pub fn hash(self, parts: &[&[u8]]) -> Hash {
        let mut hasher = self.hasher();
        for part in parts {
            hasher.update(part);
        }
        Hash(*hasher.finalize().as_bytes())
    }

    /// A hasher in this domain's derive-key mode. The context key is computed once per process:
    /// hashing the context string on every call would double the cost of small hashes, and
    /// state-tree nodes are hashed millions of times.
    pub fn hasher(self) -> blake3::Hasher {
        use blake3::hazmat::HasherExt;
        static CONTEXT_KEYS: std::sync::OnceLock<[blake3::hazmat::ContextKey; 9]> =
            std::sync::OnceLock::new();
        let keys = CONTEXT_KEYS.get_or_init(|| {
            Domain::ALL.map(|domain| blake3::hazmat::hash_derive_key_context(domain.context()))
        });
        let index = Domain::ALL.iter().position(|d| *d == self).expect("every domain is in Domain::ALL");
        blake3::Hasher::new_from_context_key(&keys[index])
    }
}

/// Binary Merkle leaf: `blake3(0x00 || data)`.
pub fn merkle_leaf(data: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0x00]);
    hasher.update(data);
    Hash(*hasher.finalize().as_bytes())
}

/// Binary Merkle inner node: `blake3(0x01 || left || right)`.
pub fn merkle_node(left: &Hash, right: &Hash) -> Hash {
    let mut bytes = [0u8; 65];
    bytes[0] = 0x01;
    bytes[1..33].copy_from_slice(&left.0);
    bytes[33..].copy_from_slice(&right.0);
    Hash(*blake3::hash(&bytes).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_distinct() {
        let all = Domain::ALL;
        let mut hashes: Vec<Hash> = all.iter().map(|d| d.hash(&[b"same input"])).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), all.len());
    }

    #[test]
    fn cached_context_keys_equal_blake3_derive_key() {
        for domain in Domain::ALL {
            let expected = blake3::derive_key(domain.context(), b"material");
            assert_eq!(domain.hash(&[b"mate", b"rial"]).0, expected, "{domain:?}");
        }
    }

    #[test]
    fn merkle_prefixes_match_plain_blake3() {
        assert_eq!(merkle_leaf(b"x"), Hash::plain(&[0x00, b'x']));
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        let mut joined = vec![0x01];
        joined.extend_from_slice(&a.0);
        joined.extend_from_slice(&b.0);
        assert_eq!(merkle_node(&a, &b), Hash::plain(&joined));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let hash = Domain::TxId.hash(&[b"a"]);
        assert_eq!(hash.to_hex().parse::<Hash>(), Ok(hash));
        assert_eq!("ab".parse::<Hash>(), Err(HashParseError::Length(2)));
        assert!(matches!("zz".repeat(32).parse::<Hash>(), Err(HashParseError::NotHex(_))));
    }
}
