//! Keys, signatures and addresses.
//!
//! # The signature rule: ZIP-215, with weak keys refused
//!
//! A signature `(R, S)` by the key `A` over the message `M` is valid when
//!
//! 1. `A` is not an encoding of a point of small order (a weak key, [`KeyError::WeakKey`]);
//! 2. `A` decodes to a curve point ([`KeyError::InvalidPoint`] if not), and `R` decodes to one;
//!    non-canonical encodings (y ≥ p, or x = 0 with the sign bit set) are accepted;
//! 3. `S` is canonical, `S < L`;
//! 4. the cofactored equation holds: `[8][S]B = [8]R + [8][k]A`, with
//!    `k = SHA-512(R || A || M)` over the bytes of `R` and `A` as given.
//!
//! Rules 2–4 are ZIP-215 (the Zcash rule, implemented by the `ed25519-consensus` crate); rule 1
//! is Tally's. Every signed message is `namespace || chain_id || payload` (docs/ARCHITECTURE.md "Protocol basics"), built
//! in one place, [`signing_message`], so no caller can forget the namespace or the chain.
//!
//! Why ZIP-215. RFC 8032 lets a verifier use either the cofactored or the cofactorless
//! equation and leaves the encoding checks open, and libraries differ on both ("Taming the
//! many EdDSAs", Chalkias, Garillot, Nikolaenko, 2020). A BFT ledger needs one verdict that
//! every validator and every auditor replaying the chain reaches, and it needs batch
//! verification: single checks were about a third of a node's CPU under load. Batch
//! verification can only agree with the single check under the cofactored equation: with the
//! cofactorless one (ed25519-dalek's `verify_strict`, our previous rule), a signature with a
//! small-order component passes or fails a batch depending on the batch's random
//! coefficients. ZIP-215 defines every edge case in terms of the cofactored equation, so a
//! batch passes exactly when each of its signatures passes alone — by construction, not by a
//! filter we would have to keep in step with a library. What this accepts that `verify_strict`
//! refused — a small-order or mixed-order `R`, signatures that pass only the cofactored
//! equation, non-canonical encodings of `R` and `A` — are other signatures by the holder of the
//! secret key; none lets anyone else sign. They make a signature malleable, which Tally never
//! depends on: a transaction id hashes the body without the signature, and certificates count
//! signers, not signature bytes. A small-order key, though, would accept `R` of small order
//! with `S = 0` for every message, so rule 1 refuses it on every path, and keys that are
//! registered or typed in ([`PublicKey::validate_strict`]) must also have no small-order
//! component.
//!
//! [`verify_batch`] checks many signatures at once and gives each the verdict
//! [`PublicKey::verify_raw`] gives it. Its random coefficients come from the operating system;
//! they cannot change a verdict, except that a batch holding a bad signature passes with
//! probability about 2⁻¹²⁸.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_consensus::batch;
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
    /// A consortium application's proofs of possession (tally-genesis).
    Application,
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
            Namespace::Application => b"tally/application\0",
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
/// that decode stays cheap and canonical); [`PublicKey::validate`] does. Every key a
/// transaction names must pass it (`tx::TxFormError::BadKey`), so the ledger holds no key that
/// its JSON form cannot carry: reading JSON ([`Deserialize`]) applies the same check, while
/// keys people type ([`FromStr`], [`PublicKey::from_address`], [`PublicKey::from_hex`]) get the
/// stricter [`PublicKey::validate_strict`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Checks that the bytes are a valid point and not a weak (small-order) key: the key checks
    /// of the signature rule, made without a signature.
    pub fn validate(&self) -> Result<(), KeyError> {
        ed25519_consensus::VerificationKey::try_from(self.0).map_err(|_| KeyError::InvalidPoint)?;
        if is_small_order_encoding(&self.0) {
            return Err(KeyError::WeakKey);
        }
        Ok(())
    }

    /// [`Self::validate`], and also refuses keys with a small-order component. Such a key is not
    /// weak, but its owner can make signatures that also verify under related keys for some
    /// messages; keys that are registered (validators, issuers) or typed in by people are
    /// checked this way. It costs a scalar multiplication, so the signature rule, which every
    /// transaction pays, keeps to [`Self::validate`].
    pub fn validate_strict(&self) -> Result<(), KeyError> {
        self.validate()?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint)?;
        if !key.to_edwards().is_torsion_free() {
            return Err(KeyError::MixedOrder);
        }
        Ok(())
    }

    /// Verifies `signature` over `namespace || chain_id || payload` under the signature rule
    /// (module docs).
    pub fn verify(
        &self,
        namespace: Namespace,
        chain_id: &ChainId,
        payload: &[u8],
        signature: &Signature,
    ) -> Result<(), KeyError> {
        self.verify_raw(&signing_message(namespace, chain_id, payload), signature)
    }

    /// Verifies `signature` over exactly `message` under the signature rule (module docs):
    /// [`KeyError::WeakKey`] or [`KeyError::InvalidPoint`] for a key that fails rule 1 or 2,
    /// else [`KeyError::BadSignature`] for a signature that fails. Prefer [`Self::verify`]; this
    /// exists for the RFC 8032 test vectors, which sign bare messages, and for batches.
    pub fn verify_raw(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        verify_one(prepare(self, message, signature)?)
    }

    /// The bech32m address, `tally1...`.
    pub fn to_address(&self) -> String {
        let hrp = bech32::Hrp::parse(ADDRESS_HRP).expect("the address prefix is a valid hrp");
        bech32::encode::<bech32::Bech32m>(hrp, &self.0).expect("32 bytes always fit a bech32m string")
    }

    /// Parses a bech32m address; checks the prefix, the checksum variant, the length, and that
    /// the key is valid and not weak ([`Self::validate_strict`]).
    pub fn from_address(text: &str) -> Result<Self, KeyError> {
        let key = Self::decode_address(text)?;
        key.validate_strict()?;
        Ok(key)
    }

    /// Parses 64 hex characters; checks the key is valid and not weak ([`Self::validate_strict`]).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let key = PublicKey(parse_hex_array::<32>(text)?);
        key.validate_strict()?;
        Ok(key)
    }

    /// Reads a key as the ledger records it: a bech32m address or 64 hex characters, checked
    /// with [`Self::validate`], the rule every key in a transaction meets. JSON readers use
    /// this, so the JSON of anything the ledger accepted reads back.
    pub fn parse_recorded(text: &str) -> Result<Self, KeyError> {
        if is_hex_key(text) {
            return Self::from_hex_recorded(text);
        }
        let key = Self::decode_address(text)?;
        key.validate()?;
        Ok(key)
    }

    /// [`Self::parse_recorded`] for keys written only in hex (network keys).
    pub fn from_hex_recorded(text: &str) -> Result<Self, KeyError> {
        let key = PublicKey(parse_hex_array::<32>(text)?);
        key.validate()?;
        Ok(key)
    }

    /// The bytes of a bech32m address, with no check of the key itself.
    fn decode_address(text: &str) -> Result<Self, KeyError> {
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
        Ok(PublicKey(array))
    }

    /// Hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Whether `text` is a key in hex rather than an address (no address is 64 hex characters: it
/// starts with `tally1`).
fn is_hex_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
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
        if is_hex_key(text) { Self::from_hex(text) } else { Self::from_address(text) }
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
        PublicKey::parse_recorded(&text).map_err(serde::de::Error::custom)
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

/// One signature to check in a batch: `signature` by `key` over exactly `message` (for a
/// namespaced signature, the bytes [`signing_message`] returns).
#[derive(Clone, Copy, Debug)]
pub struct SignatureItem<'a> {
    pub key: &'a PublicKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Checks many signatures at once: one verdict per item, in order, each equal to
/// `item.key.verify_raw(item.message, item.signature)`.
///
/// All signatures go into one batch. A batch passes exactly when each of its signatures
/// passes alone (ZIP-215), so a passing batch settles every verdict. If it fails, every
/// signature is checked alone: a failed batch costs about 1.5 times checking its signatures
/// alone in the first place, however many of them are bad. Bisecting (batch-checking halves)
/// was measured to save at most about a fifth when exactly one signature is bad, because each
/// sub-batch decodes its points again and decoding R and A is about half the cost of a
/// batched signature; with many bad signatures it costs several times more, and whoever sends
/// bad signatures chooses how many.
pub fn verify_batch(items: &[SignatureItem<'_>]) -> Vec<Result<(), KeyError>> {
    let prepared: Vec<Result<batch::Item, KeyError>> =
        items.iter().map(|item| prepare(item.key, item.message, item.signature)).collect();
    let mut verifier = batch::Verifier::new();
    let mut queued = 0;
    for item in prepared.iter().flatten() {
        verifier.queue(item.clone());
        queued += 1;
    }
    // A batch of one costs more than the single check. The coefficients must be unpredictable
    // to whoever chose the signatures: with known coefficients, two bad signatures can be made
    // to cancel out in the sum.
    if queued > 1 && verifier.verify(rand_core::OsRng).is_ok() {
        return prepared.into_iter().map(|item| item.map(|_| ())).collect();
    }
    prepared.into_iter().map(|item| item.and_then(verify_one)).collect()
}

/// The checks of the signature rule that need no curve arithmetic (rule 1), and the challenge
/// `k`, hashed once whether the signature is then checked alone or in a batch.
fn prepare(key: &PublicKey, message: &[u8], signature: &Signature) -> Result<batch::Item, KeyError> {
    if is_small_order_encoding(&key.0) {
        return Err(KeyError::WeakKey);
    }
    let key = ed25519_consensus::VerificationKeyBytes::from(key.0);
    Ok(batch::Item::from((key, ed25519_consensus::Signature::from(signature.0), message)))
}

/// Rules 2–4 for one signature: ZIP-215 single verification.
fn verify_one(item: batch::Item) -> Result<(), KeyError> {
    item.verify_single().map_err(|error| match error {
        ed25519_consensus::Error::MalformedPublicKey => KeyError::InvalidPoint,
        _ => KeyError::BadSignature,
    })
}

/// Every 32-byte string that decodes to one of the eight points of small order: the eight
/// canonical encodings (libsodium's block list), and the six non-canonical ones — x = 0 with
/// the sign bit set (the identity and the point of order 2, whose x is 0), and y + p in place
/// of y where that still fits in 255 bits, which is y = 0 (the two points of order 4) and
/// y = 1 (the identity), each with either sign bit. The order-8 points have no other
/// encodings: their x is not 0 and their y is far above 2²⁵⁵ − p = 19. tests/signatures.rs
/// derives the same list from the curve.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 14] = {
    const fn encoding(low: u8, middle: u8, high: u8) -> [u8; 32] {
        let mut bytes = [middle; 32];
        bytes[0] = low;
        bytes[31] = high;
        bytes
    }
    const fn order_8(sign: u8, negate_y: bool) -> [u8; 32] {
        // y of the points of order 8, and p − y, little endian.
        let y: [u8; 32] = [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
            0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
        ];
        let minus_y: [u8; 32] = [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
            0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
        ];
        let mut bytes = if negate_y { minus_y } else { y };
        bytes[31] |= sign;
        bytes
    }
    [
        // Canonical: identity (y = 1), order 2 (y = −1), order 4 (y = 0, both signs), order 8.
        encoding(0x01, 0x00, 0x00),
        encoding(0xec, 0xff, 0x7f),
        encoding(0x00, 0x00, 0x00),
        encoding(0x00, 0x00, 0x80),
        order_8(0x00, false),
        order_8(0x80, false),
        order_8(0x00, true),
        order_8(0x80, true),
        // Non-canonical: the sign bit on x = 0, then y + p for y = 1 and y = 0.
        encoding(0x01, 0x00, 0x80),
        encoding(0xec, 0xff, 0xff),
        encoding(0xee, 0xff, 0x7f),
        encoding(0xee, 0xff, 0xff),
        encoding(0xed, 0xff, 0x7f),
        encoding(0xed, 0xff, 0xff),
    ]
};

fn is_small_order_encoding(bytes: &[u8; 32]) -> bool {
    SMALL_ORDER_ENCODINGS.contains(bytes)
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
