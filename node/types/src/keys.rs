//! Keys, signatures and addresses.
//!
//! Validity of a signature is ed25519-dalek's `verify_strict`: it refuses small-order public
//! keys and `R` values and non-canonical `S`. Public keys are also checked when they are
//! decoded from text or registered (a weak key is refused up front, with its own error).
//! Every signed message is `namespace || chain_id || payload` (DESIGN.md §3), built in one
//! place, [`signing_message`], so no caller can forget the namespace or the chain.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::codec::Bounded;
use crate::ids::ChainId;

/// The human-readable part of account addresses.
pub const ADDRESS_HRP: &str = "tally";

/// What a signature signs. Each kind has its own namespace, so a signature of one kind can
/// never be replayed as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    Tx,
    Proposal,
    Notarize,
    Nullify,
    Finalize,
    Badge,
}

impl Namespace {
    /// The namespace bytes. Each is NUL-terminated, so none is a prefix of another.
    pub const fn bytes(self) -> &'static [u8] {
        match self {
            Namespace::Tx => b"tally/tx\0",
            Namespace::Proposal => b"tally/proposal\0",
            Namespace::Notarize => b"tally/notarize\0",
            Namespace::Nullify => b"tally/nullify\0",
            Namespace::Finalize => b"tally/finalize\0",
            Namespace::Badge => b"tally/badge\0",
        }
    }
}

/// The exact bytes signed for `payload`: `namespace || len(chain_id) as u8 || chain_id || payload`.
pub fn signing_message(namespace: Namespace, chain_id: &ChainId, payload: &[u8]) -> Vec<u8> {
    let chain = chain_id.as_str().as_bytes();
    let mut message = Vec::with_capacity(namespace.bytes().len() + 1 + chain.len() + payload.len());
    message.extend_from_slice(namespace.bytes());
    // Chain ids are at most 64 bytes (limits::CHAIN_ID_BYTES_MAX), so one length byte suffices.
    message.push(chain.len() as u8);
    message.extend_from_slice(chain);
    message.extend_from_slice(payload);
    message
}

/// Why a key, signature or address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key is not a valid ed25519 point encoding")]
    InvalidPoint,
    #[error("public key is weak (small order) and is refused")]
    WeakKey,
    #[error("public key has a small-order component (not in the prime-order subgroup) and is refused")]
    MixedOrder,
    #[error("signature does not verify")]
    BadSignature,
    #[error("expected {expected} hex characters, got {actual}")]
    HexLength { expected: usize, actual: usize },
    #[error("not hex: {0}")]
    NotHex(String),
    #[error("address is not valid bech32m: {0}")]
    Bech32(String),
    #[error("address prefix must be `{ADDRESS_HRP}`, got `{0}`")]
    WrongPrefix(String),
    #[error("address must carry 32 bytes, got {0}")]
    AddressLength(usize),
    #[error("address must use bech32m, not bech32")]
    NotBech32m,
}

/// An ed25519 public key: an account (its address) or a validator's consensus key.
///
/// Stored as the 32 encoded bytes. Decoding bytes off the wire does not check the point (so
/// that decode stays cheap and canonical); [`PublicKey::validate`] does, and verification
/// refuses weak keys in any case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Checks that the bytes are a valid point and not a weak (small-order) key.
    pub fn validate(&self) -> Result<(), KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(())
    }

    /// [`Self::validate`], and also refuses keys with a small-order component. Such a key is not
    /// weak, but its owner can make signatures that also verify under related keys for some
    /// messages; keys that are registered (validators, issuers) or typed in by people are
    /// checked this way. It costs a scalar multiplication, so the per-transaction signature
    /// path uses the cheaper [`Self::validate`], which `verify_strict` backs up.
    pub fn validate_strict(&self) -> Result<(), KeyError> {
        self.validate()?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint)?;
        if !key.to_edwards().is_torsion_free() {
            return Err(KeyError::MixedOrder);
        }
        Ok(())
    }

    /// Verifies `signature` over `namespace || chain_id || payload` with `verify_strict`.
    pub fn verify(
        &self,
        namespace: Namespace,
        chain_id: &ChainId,
        payload: &[u8],
        signature: &Signature,
    ) -> Result<(), KeyError> {
        self.verify_raw(&signing_message(namespace, chain_id, payload), signature)
    }

    /// Verifies `signature` over exactly `message` with `verify_strict`. Prefer [`Self::verify`];
    /// this exists for the RFC 8032 test vectors, which sign bare messages.
    pub fn verify_raw(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &signature).map_err(|_| KeyError::BadSignature)
    }

    /// The bech32m address, `tally1...`.
    pub fn to_address(&self) -> String {
        let hrp = bech32::Hrp::parse(ADDRESS_HRP).expect("the address prefix is a valid hrp");
        bech32::encode::<bech32::Bech32m>(hrp, &self.0).expect("32 bytes always fit a bech32m string")
    }

    /// Parses a bech32m address; checks the prefix, the checksum variant, the length, and that
    /// the key is valid and not weak.
    pub fn from_address(text: &str) -> Result<Self, KeyError> {
        let checked =
            bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32m>(text).map_err(|error| {
                // Tell apart the common mistake of a bech32 (not bech32m) checksum.
                if bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32>(text).is_ok() {
                    KeyError::NotBech32m
                } else {
                    KeyError::Bech32(error.to_string())
                }
            })?;
        let hrp = checked.hrp();
        if hrp.as_str() != ADDRESS_HRP {
            return Err(KeyError::WrongPrefix(hrp.to_string()));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let array: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| KeyError::AddressLength(bytes.len()))?;
        let key = PublicKey(array);
        key.validate_strict()?;
        Ok(key)
    }

    /// Parses 64 hex characters; checks the key is valid and not weak.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let key = PublicKey(parse_hex_array::<32>(text)?);
        key.validate_strict()?;
        Ok(key)
    }

    /// Hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

fn parse_hex_array<const N: usize>(text: &str) -> Result<[u8; N], KeyError> {
    if text.len() != 2 * N {
        return Err(KeyError::HexLength { expected: 2 * N, actual: text.len() });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|error| KeyError::NotHex(error.to_string()))?;
    Ok(out)
}

impl Bounded for PublicKey {
    const MAX_ENCODED_SIZE: usize = 32;
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_address())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_address())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    /// Accepts the bech32m address or 64 hex characters.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Self::from_hex(text)
        } else {
            Self::from_address(text)
        }
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_address())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature (R || S).
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 128 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Ok(Signature(parse_hex_array::<64>(text)?))
    }
}

impl Bounded for Signature {
    const MAX_ENCODED_SIZE: usize = 64;
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        Signature::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A secret signing key. Its bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose 32-byte seed is `seed` (RFC 8032 "secret key").
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// Parses 64 hex characters of seed.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(parse_hex_array::<32>(text.trim())?);
        Ok(Self::from_seed(&seed))
    }

    /// The 32-byte seed. Handle with care.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The seed in hex, for key files. Handle with care.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.to_bytes()))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `namespace || chain_id || payload`.
    pub fn sign(&self, namespace: Namespace, chain_id: &ChainId, payload: &[u8]) -> Signature {
        self.sign_raw(&signing_message(namespace, chain_id, payload))
    }

    /// Signs exactly `message`. Prefer [`Self::sign`]; this exists for RFC 8032 vectors.
    pub fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ChainId {
        ChainId::new("tally-test").expect("valid chain id")
    }

    #[test]
    fn sign_verify_round_trip_and_namespace_separation() {
        let key = SecretKey::from_seed(&[7; 32]);
        let signature = key.sign(Namespace::Tx, &chain(), b"payload");
        let public = key.public_key();
        assert_eq!(public.verify(Namespace::Tx, &chain(), b"payload", &signature), Ok(()));
        assert_eq!(
            public.verify(Namespace::Badge, &chain(), b"payload", &signature),
            Err(KeyError::BadSignature)
        );
        let other_chain = ChainId::new("tally-other").expect("valid chain id");
        assert_eq!(
            public.verify(Namespace::Tx, &other_chain, b"payload", &signature),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn address_round_trip() {
        let public = SecretKey::from_seed(&[9; 32]).public_key();
        let address = public.to_address();
        assert!(address.starts_with("tally1"));
        assert_eq!(PublicKey::from_address(&address), Ok(public));
        assert_eq!(address.parse::<PublicKey>(), Ok(public));
        assert_eq!(public.to_hex().parse::<PublicKey>(), Ok(public));
    }

    #[test]
    fn address_errors_are_distinct() {
        let public = SecretKey::from_seed(&[9; 32]).public_key();
        let hrp = bech32::Hrp::parse("other").expect("valid hrp");
        let wrong_prefix = bech32::encode::<bech32::Bech32m>(hrp, &public.0).expect("encodes");
        assert_eq!(PublicKey::from_address(&wrong_prefix), Err(KeyError::WrongPrefix("other".into())));

        let hrp = bech32::Hrp::parse(ADDRESS_HRP).expect("valid hrp");
        let legacy = bech32::encode::<bech32::Bech32>(hrp, &public.0).expect("encodes");
        assert_eq!(PublicKey::from_address(&legacy), Err(KeyError::NotBech32m));

        let short = bech32::encode::<bech32::Bech32m>(hrp, &public.0[..31]).expect("encodes");
        assert_eq!(PublicKey::from_address(&short), Err(KeyError::AddressLength(31)));

        let mut corrupted = public.to_address();
        let last = corrupted.pop().expect("non-empty");
        corrupted.push(if last == 'q' { 'p' } else { 'q' });
        assert!(matches!(PublicKey::from_address(&corrupted), Err(KeyError::Bech32(_))));

        // The identity point is a small-order (weak) key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = bech32::encode::<bech32::Bech32m>(hrp, &identity).expect("encodes");
        assert_eq!(PublicKey::from_address(&weak), Err(KeyError::WeakKey));
    }

    #[test]
    fn secret_key_debug_does_not_leak() {
        let key = SecretKey::from_seed(&[0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
    }
}
