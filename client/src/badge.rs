//! Open Badges anchoring (docs/ARCHITECTURE.md "Badges"): badge hashes, batches as Merkle trees, and the
//! per-badge receipt an issuer hands out and anyone can check.
//!
//! - The badge hash is plain blake3, no prefix or key, over canonical bytes, so `b3sum` can
//!   recompute it: for a JSON assertion (Open Badges 2.0 or 3.0) the RFC 8785 bytes
//!   (`jcs-blake3`, see [`crate::jcs`]); for a compact JWS/JWT the token itself (`raw-blake3`).
//! - A compact JWS is accepted only in strict form: three non-empty base64url segments, no
//!   padding, no whitespace, and canonical final characters (unused bits zero). Base64 decoders
//!   that ignore those bits would read many tokens as the same credential; since the raw bytes
//!   are hashed, each would get another badge hash for the same signed content.
//! - A batch is the binary Merkle tree of `tally_types::merkle` (leaf `blake3(0x00 || badge
//!   hash)`, node `blake3(0x01 || left || right)`, RFC 9162 shape) over 1 to
//!   `BADGE_BATCH_LEAVES_MAX` distinct badge hashes; domain separation happens at the leaf.
//! - Verification names the step that failed ([`VerifyStep`]) with the expected and the actual
//!   value, so an issuer or holder can tell a changed assertion from a wrong receipt.

use std::fmt;

use serde::{Deserialize, Serialize};
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::hash::merkle_leaf;
use tally_types::limits;
use tally_types::merkle::{MerkleError, MerkleProof};
use tally_types::tx::{AnchorBadges, BadgeCanon, BadgeFormat};
use tally_types::{Hash, Height, TxId};

use crate::jcs::{self, JcsError, Value};

/// The largest badge (assertion JSON or compact JWS) accepted, in bytes: the JCS input limit.
pub const BADGE_BYTES_MAX: usize = jcs::INPUT_BYTES_MAX;
/// The largest receipt file accepted, in bytes. A receipt of the deepest possible path (64
/// siblings of 64 hex characters) is under 6 KiB even pretty-printed.
pub const RECEIPT_JSON_BYTES_MAX: usize = 16 * 1024;

/// `@context` values that mark an Open Badges 2.0 document: the spec's context IRI and the
/// address it resolves to, which some issuers write instead.
pub const OPEN_BADGES_2_CONTEXTS: [&str; 2] =
    ["https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"];
/// The start of every Open Badges 3.0 context IRI: `context.json` and the versioned
/// `context-3.0.x.json` forms.
pub const OPEN_BADGES_3_CONTEXT_PREFIX: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context";
/// The `type` values of an Open Badges 3.0 credential (two names of one class).
pub const OPEN_BADGES_3_CREDENTIAL_TYPES: [&str; 2] = ["OpenBadgeCredential", "AchievementCredential"];
/// W3C Verifiable Credentials contexts (data model 1.1 and 2.0), which every Open Badges 3.0
/// credential also carries; alone they do not make a credential an Open Badge.
pub const VERIFIABLE_CREDENTIAL_CONTEXTS: [&str; 2] =
    ["https://www.w3.org/2018/credentials/v1", "https://www.w3.org/ns/credentials/v2"];

/// A step of receipt verification, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VerifyStep {
    /// Recompute the badge hash from the assertion and compare it with the receipt's.
    BadgeHash,
    /// Follow the receipt's Merkle path from the badge hash to the receipt's root.
    MerklePath,
    /// Compare the receipt with the anchor operation on the ledger.
    Anchor,
}

impl fmt::Display for VerifyStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyStep::BadgeHash => "step 1 (badge hash)",
            VerifyStep::MerklePath => "step 2 (Merkle path)",
            VerifyStep::Anchor => "step 3 (anchor)",
        })
    }
}

/// The protocol name of a canonicalization, as `BadgeCanon` serializes (`jcs-blake3`).
pub fn canon_name(canon: BadgeCanon) -> &'static str {
    match canon {
        BadgeCanon::JcsBlake3 => "jcs-blake3",
        BadgeCanon::RawBlake3 => "raw-blake3",
    }
}

/// The human name of a format.
pub fn format_name(format: BadgeFormat) -> &'static str {
    match format {
        BadgeFormat::OpenBadges2 => "Open Badges 2.0",
        BadgeFormat::OpenBadges3 => "Open Badges 3.0",
    }
}

/// Why a badge could not be hashed, classified, batched or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadgeError {
    #[error("badge is {len} bytes, more than the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("badge is empty")]
    Empty,
    #[error("badge JSON cannot be canonicalized (RFC 8785): {0}")]
    Json(#[from] JcsError),
    #[error("badge JSON must be an object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("not a compact JWS: {reason}")]
    NotCompactJws { reason: String },
    #[error("the JWS {part} cannot be read: {reason}")]
    JwsUnreadable { part: &'static str, reason: String },
    #[error("asked to hash with {}, but the badge is {}; use {}", canon_name(*.requested), .found, canon_name(*.suggested))]
    WrongCanon { requested: BadgeCanon, found: &'static str, suggested: BadgeCanon },
    #[error("badge is neither a JSON object nor a compact JWS (first byte 0x{first_byte:02x})")]
    Unrecognized { first_byte: u8 },
    #[error("cannot tell the badge format: {reason}")]
    UnknownFormat { reason: String },
    #[error("the document is {}, but of type {found}, not {expected}; anchor assertions (credentials), not badge classes or profiles", format_name(*.format))]
    NotAnAssertion { format: BadgeFormat, found: String, expected: &'static str },
    #[error("a batch needs at least one badge")]
    EmptyBatch,
    #[error("a batch holds at most {max} badges, got {count}")]
    BatchTooLarge { count: usize, max: u32 },
    #[error("badges {first_index} and {second_index} have the same hash {hash}; each badge is anchored once")]
    DuplicateBadge { hash: Hash, first_index: usize, second_index: usize },
    #[error("badge {index} is {} ({}), but the batch is {} ({}); a batch has one format and canonicalization", format_name(.found.0), canon_name(.found.1), format_name(.expected.0), canon_name(.expected.1))]
    MixedBatch { index: usize, expected: (BadgeFormat, BadgeCanon), found: (BadgeFormat, BadgeCanon) },
    #[error("badge {index}: {source}")]
    InBatch { index: usize, source: Box<BadgeError> },
    #[error("receipt file is {len} bytes, more than the limit of {max} bytes")]
    ReceiptTooLarge { len: usize, max: usize },
    #[error("receipt file is not valid: {reason}")]
    ReceiptInvalid { reason: String },
    #[error("{}: the assertion cannot be hashed with {}: {source}", VerifyStep::BadgeHash, canon_name(*.canon))]
    AssertionUnhashable { canon: BadgeCanon, source: Box<BadgeError> },
    #[error("{}: the assertion hashes to {actual}, the receipt says {expected}", VerifyStep::BadgeHash)]
    BadgeHashMismatch { expected: Hash, actual: Hash },
    #[error("{step}: the path is malformed: {0}", step = VerifyStep::MerklePath)]
    PathMalformed(MerkleError),
    #[error(
        "{}: the path from the badge hash leads to root {actual}, the receipt says {expected}",
        VerifyStep::MerklePath
    )]
    PathMismatch { expected: Hash, actual: Hash },
    #[error("{}: the anchor has {field} {expected}, the receipt says {actual}", VerifyStep::Anchor)]
    AnchorMismatch { field: &'static str, expected: String, actual: String },
}

impl BadgeError {
    /// The verification step this error belongs to, for errors from [`BadgeReceipt`] checks.
    pub fn step(&self) -> Option<VerifyStep> {
        match self {
            BadgeError::AssertionUnhashable { .. } | BadgeError::BadgeHashMismatch { .. } => {
                Some(VerifyStep::BadgeHash)
            }
            BadgeError::PathMalformed(_) | BadgeError::PathMismatch { .. } => Some(VerifyStep::MerklePath),
            BadgeError::AnchorMismatch { .. } => Some(VerifyStep::Anchor),
            _ => None,
        }
    }
}

/// The badge hash (docs/ARCHITECTURE.md "Badges"): plain blake3 of the JCS bytes of a JSON assertion
/// (`JcsBlake3`), or of the compact JWS/JWT itself with one trailing newline removed
/// (`RawBlake3`).
pub fn badge_hash(bytes: &[u8], canon: BadgeCanon) -> Result<Hash, BadgeError> {
    check_size(bytes)?;
    match canon {
        BadgeCanon::JcsBlake3 => {
            if looks_like_compact_jws(bytes) {
                return Err(BadgeError::WrongCanon {
                    requested: canon,
                    found: "a compact JWS",
                    suggested: BadgeCanon::RawBlake3,
                });
            }
            let value = parse_json(bytes)?;
            if !matches!(value, Value::Object(_)) {
                return Err(BadgeError::NotAnObject { found: value.type_name() });
            }
            Ok(Hash::plain(&value.to_canonical()))
        }
        BadgeCanon::RawBlake3 => {
            if first_non_whitespace(bytes) == Some(b'{') {
                return Err(BadgeError::WrongCanon {
                    requested: canon,
                    found: "JSON",
                    suggested: BadgeCanon::JcsBlake3,
                });
            }
            let jws = CompactJws::parse(bytes)?;
            Ok(Hash::plain(jws.token))
        }
    }
}

/// A badge's format, canonicalization and hash, as [`hash_assertion`] finds them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HashedBadge {
    pub format: BadgeFormat,
    pub canon: BadgeCanon,
    pub hash: Hash,
}

/// Detects the badge's format and canonicalization ([`detect`]) and hashes it ([`badge_hash`]).
pub fn hash_assertion(bytes: &[u8]) -> Result<HashedBadge, BadgeError> {
    let (format, canon) = detect(bytes)?;
    let hash = badge_hash(bytes, canon)?;
    Ok(HashedBadge { format, canon, hash })
}

/// Tells the format and canonicalization of a badge from its content.
///
/// A JSON object is hashed with JCS; its `@context` must name Open Badges 2.0 or 3.0 (not
/// both), and its `type` must be an assertion (`Assertion`, or `OpenBadgeCredential` /
/// `AchievementCredential`), so a badge class or issuer profile is not anchored by mistake.
/// A compact JWS is hashed raw; its header must name a signing algorithm, and its payload is
/// decoded and classified the same way: the document itself (Open Badges 2.0 signed
/// assertions, VC-JOSE) or its `vc` claim (VC-JWT, as Open Badges 3.0 §8.2 uses).
pub fn detect(bytes: &[u8]) -> Result<(BadgeFormat, BadgeCanon), BadgeError> {
    let (document, canon) = document(bytes)?;
    Ok((format_of(&document)?, canon))
}

/// The badge's JSON document and how it is hashed: a JSON object itself (`jcs-blake3`); for a
/// compact JWS (`raw-blake3`) its payload, or the payload's `vc` claim (VC-JWT). The token's
/// header must name a signing algorithm; the document's format is not checked ([`detect`]).
pub fn document(bytes: &[u8]) -> Result<(Value, BadgeCanon), BadgeError> {
    check_size(bytes)?;
    match first_non_whitespace(bytes) {
        None => Err(BadgeError::Empty),
        Some(b'{') => Ok((parse_json(bytes)?, BadgeCanon::JcsBlake3)),
        Some(first_byte) if is_base64url(first_byte) => {
            let jws = CompactJws::parse(bytes)?;
            let header = jws.decode_json(0, "header")?;
            match header.get("alg").and_then(Value::as_str) {
                Some("none") => {
                    return Err(BadgeError::JwsUnreadable {
                        part: "header",
                        reason: "`alg` is \"none\": an unsigned token is not a credential".to_owned(),
                    });
                }
                Some(_) => {}
                None => {
                    return Err(BadgeError::JwsUnreadable {
                        part: "header",
                        reason: "it has no `alg` string".to_owned(),
                    });
                }
            }
            let payload = jws.decode_json(1, "payload")?;
            let document = if payload.get("@context").is_some() {
                payload
            } else if let Some(vc @ Value::Object(_)) = payload.get("vc") {
                vc.clone()
            } else {
                return Err(BadgeError::UnknownFormat {
                    reason: "the JWS payload has neither an `@context` nor a `vc` claim holding one"
                        .to_owned(),
                });
            };
            Ok((document, BadgeCanon::RawBlake3))
        }
        Some(first_byte) => Err(BadgeError::Unrecognized { first_byte }),
    }
}

/// The achievement a badge is for: an Open Badges 3.0 credential's
/// `credentialSubject.achievement.id`; only when the achievement has no `id`, a 2.0 assertion's
/// badge class (an IRI, or an embedded class's `id`). `None` when it names none or is not a
/// badge. Read from the JSON object, or from a compact JWS's payload (or its `vc` claim).
pub fn achievement_id(bytes: &[u8]) -> Option<String> {
    let (badge, _) = document(bytes).ok()?;
    let own = badge.get("credentialSubject").and_then(|subject| subject.get("achievement"));
    let id = own
        .and_then(|achievement| achievement.get("id"))
        .or_else(|| badge.get("badge").map(|class| class.get("id").unwrap_or(class)))?;
    id.as_str().map(str::to_owned)
}

fn check_size(bytes: &[u8]) -> Result<(), BadgeError> {
    if bytes.len() > BADGE_BYTES_MAX {
        return Err(BadgeError::TooLarge { len: bytes.len(), max: BADGE_BYTES_MAX });
    }
    Ok(())
}

fn parse_json(bytes: &[u8]) -> Result<Value, BadgeError> {
    Ok(jcs::parse(jcs::utf8(bytes)?)?)
}

fn first_non_whitespace(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// True for text shaped like a compact JWS (base64url and exactly two dots), for the
/// wrong-canonicalization hint; [`CompactJws::parse`] is the real check.
fn looks_like_compact_jws(bytes: &[u8]) -> bool {
    let token = trim_one_newline(bytes);
    !token.is_empty()
        && token.iter().all(|byte| is_base64url(*byte) || *byte == b'.')
        && token.iter().filter(|byte| **byte == b'.').count() == 2
}

fn trim_one_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r\n").or_else(|| bytes.strip_suffix(b"\n")).unwrap_or(bytes)
}

/// The Open Badges version a JSON document declares, checked to be an assertion.
fn format_of(document: &Value) -> Result<BadgeFormat, BadgeError> {
    let context = document
        .get("@context")
        .ok_or_else(|| BadgeError::UnknownFormat { reason: "the document has no `@context`".to_owned() })?;
    let entries: Vec<&str> = match context {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        other => {
            return Err(BadgeError::UnknownFormat {
                reason: format!("`@context` is a JSON {}, not a string or an array", other.type_name()),
            });
        }
    };
    let types: Vec<&str> = match document.get("type") {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let is_v2 = entries.iter().any(|entry| OPEN_BADGES_2_CONTEXTS.contains(entry));
    // An Open Badges 3.0 credential is known by its OB context or, whatever its context URLs
    // (published credentials use several, and earlier drafts' URLs), by its type.
    let is_v3 = entries
        .iter()
        .any(|entry| entry.starts_with(OPEN_BADGES_3_CONTEXT_PREFIX) && entry.ends_with(".json"))
        || types.iter().any(|found| OPEN_BADGES_3_CREDENTIAL_TYPES.contains(found));
    let format = match (is_v2, is_v3) {
        (true, false) => BadgeFormat::OpenBadges2,
        (false, true) => BadgeFormat::OpenBadges3,
        (true, true) => {
            return Err(BadgeError::UnknownFormat {
                reason: "`@context` names both Open Badges 2.0 and 3.0".to_owned(),
            });
        }
        (false, false) => {
            let is_credential = entries.iter().any(|entry| VERIFIABLE_CREDENTIAL_CONTEXTS.contains(entry));
            let reason = if is_credential {
                format!(
                    "a Verifiable Credential without the Open Badges 3.0 context ({OPEN_BADGES_3_CONTEXT_PREFIX}…) and not of type OpenBadgeCredential or AchievementCredential is not an Open Badge"
                )
            } else {
                format!(
                    "`@context` {entries:?} names neither Open Badges 2.0 ({}) nor 3.0 ({OPEN_BADGES_3_CONTEXT_PREFIX}…)",
                    OPEN_BADGES_2_CONTEXTS[0]
                )
            };
            return Err(BadgeError::UnknownFormat { reason });
        }
    };
    let (accepted, expected): (&[&str], &str) = match format {
        BadgeFormat::OpenBadges2 => (&["Assertion", "https://w3id.org/openbadges#Assertion"], "Assertion"),
        BadgeFormat::OpenBadges3 => {
            (&OPEN_BADGES_3_CREDENTIAL_TYPES, "OpenBadgeCredential or AchievementCredential")
        }
    };
    if !types.iter().any(|found| accepted.contains(found)) {
        let found = if types.is_empty() { "(none)".to_owned() } else { types.join(", ") };
        return Err(BadgeError::NotAnAssertion { format, found, expected });
    }
    Ok(format)
}

/// A compact JWS (RFC 7515 §7.1), checked strictly.
struct CompactJws<'a> {
    /// The token without its trailing newline: the bytes that are hashed.
    token: &'a [u8],
    segments: [&'a [u8]; 3],
}

const SEGMENT_NAMES: [&str; 3] = ["header", "payload", "signature"];

impl<'a> CompactJws<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, BadgeError> {
        let token = trim_one_newline(bytes);
        let refuse = |reason: String| BadgeError::NotCompactJws { reason };
        if token.is_empty() {
            return Err(BadgeError::Empty);
        }
        if let Some(offset) = token.iter().position(|byte| !is_base64url(*byte) && *byte != b'.') {
            let byte = token[offset];
            let hint = if byte.is_ascii_whitespace() {
                " (whitespace is not allowed; only one trailing newline is removed)"
            } else if byte == b'=' {
                " (a JWS uses base64url without padding)"
            } else {
                ""
            };
            return Err(refuse(format!(
                "byte 0x{byte:02x} at offset {offset} is not base64url or '.'{hint}"
            )));
        }
        let parts: Vec<&[u8]> = token.split(|byte| *byte == b'.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(refuse(format!(
                "it has {} segments separated by '.', a compact JWS has 3 (header.payload.signature)",
                parts.len()
            )));
        };
        let segments = [header, payload, signature];
        for (segment, name) in segments.iter().zip(SEGMENT_NAMES) {
            if segment.is_empty() {
                return Err(refuse(format!(
                    "the {name} segment is empty (detached payloads and unsigned tokens are not badges)"
                )));
            }
            base64url_decode(segment).map_err(|problem| refuse(format!("the {name} segment {problem}")))?;
        }
        Ok(CompactJws { token, segments })
    }

    /// Decodes segment `index` and parses it as a JSON object.
    fn decode_json(&self, index: usize, part: &'static str) -> Result<Value, BadgeError> {
        let unreadable = |reason: String| BadgeError::JwsUnreadable { part, reason };
        let bytes =
            base64url_decode(self.segments[index]).map_err(|problem| unreadable(problem.to_owned()))?;
        let text = jcs::utf8(&bytes).map_err(|error| unreadable(error.to_string()))?;
        let value = jcs::parse(text).map_err(|error| unreadable(format!("not JSON: {error}")))?;
        if !matches!(value, Value::Object(_)) {
            return Err(unreadable(format!("it is a JSON {}, not an object", value.type_name())));
        }
        Ok(value)
    }
}

/// Strict unpadded base64url (RFC 4648 §5): the alphabet only, and the unused low bits of the
/// last character zero, so each byte string has exactly one encoding.
fn base64url_decode(text: &[u8]) -> Result<Vec<u8>, &'static str> {
    fn sextet(byte: u8) -> Option<u32> {
        Some(u32::from(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        }))
    }
    if text.len() % 4 == 1 {
        return Err("has a length of 4k+1 characters, which no base64url encoding has");
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut bits = 0u32;
        for byte in chunk {
            bits = bits << 6 | sextet(*byte).ok_or("is not base64url")?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&bits.to_be_bytes()[1..]),
            3 => {
                if bits & 0b11 != 0 {
                    return Err("ends in a non-canonical base64url character (unused bits set)");
                }
                out.extend_from_slice(&(bits >> 2).to_be_bytes()[2..]);
            }
            2 => {
                if bits & 0b1111 != 0 {
                    return Err("ends in a non-canonical base64url character (unused bits set)");
                }
                out.push((bits >> 4) as u8);
            }
            _ => unreachable!("chunks of 4 with a length that is not 4k+1 leave 2, 3 or 4"),
        }
    }
    Ok(out)
}

/// Badges anchored together: the Merkle tree over their hashes, from which the anchor
/// operation and one receipt per badge are made.
///
/// The tree is held level by level (about twice the leaf count in hashes, 64 MiB at the
/// largest batch), so each receipt costs one walk up the levels; asking
/// `tally_types::merkle::prove` per badge would rebuild subtrees and cost O(n²) over a batch.
#[derive(Clone, Debug)]
pub struct BadgeBatch {
    format: BadgeFormat,
    canon: BadgeCanon,
    badge_hashes: Vec<Hash>,
    /// `levels[0]` holds the leaf hashes, each next level the nodes above; the last is the root.
    levels: Vec<Vec<Hash>>,
}

impl BadgeBatch {
    /// A batch over `badge_hashes`, in this order: 1 to `BADGE_BATCH_LEAVES_MAX` of them, all
    /// different.
    pub fn new(format: BadgeFormat, canon: BadgeCanon, badge_hashes: Vec<Hash>) -> Result<Self, BadgeError> {
        if badge_hashes.is_empty() {
            return Err(BadgeError::EmptyBatch);
        }
        if badge_hashes.len() > limits::BADGE_BATCH_LEAVES_MAX as usize {
            return Err(BadgeError::BatchTooLarge {
                count: badge_hashes.len(),
                max: limits::BADGE_BATCH_LEAVES_MAX,
            });
        }
        let mut order: Vec<usize> = (0..badge_hashes.len()).collect();
        order.sort_by_key(|index| (badge_hashes[*index], *index));
        if let Some(pair) = order.windows(2).find(|pair| badge_hashes[pair[0]] == badge_hashes[pair[1]]) {
            return Err(BadgeError::DuplicateBadge {
                hash: badge_hashes[pair[0]],
                first_index: pair[0],
                second_index: pair[1],
            });
        }
        let mut levels =
            vec![badge_hashes.iter().map(|hash| merkle_leaf(hash.as_bytes())).collect::<Vec<_>>()];
        // Pairing neighbours and lifting an odd last node unchanged builds exactly RFC 9162's
        // tree (split at the largest power of two below n): the left part of every split is a
        // complete subtree, so only the rightmost node of a level can lack a partner.
        while let Some(level) = levels.last().filter(|level| level.len() > 1) {
            let next = level
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => tally_types::hash::merkle_node(left, right),
                    [single] => *single,
                    _ => unreachable!("chunks(2) yields one or two items"),
                })
                .collect();
            levels.push(next);
        }
        Ok(BadgeBatch { format, canon, badge_hashes, levels })
    }

    /// Detects, hashes and batches assertions (JSON or compact JWS), which must all share one
    /// format and canonicalization, as one anchor operation records one of each. For batches
    /// too large to hold in memory, hash each with [`hash_assertion`] and use [`Self::new`].
    pub fn from_assertions<T: AsRef<[u8]>>(assertions: &[T]) -> Result<Self, BadgeError> {
        if assertions.len() > limits::BADGE_BATCH_LEAVES_MAX as usize {
            return Err(BadgeError::BatchTooLarge {
                count: assertions.len(),
                max: limits::BADGE_BATCH_LEAVES_MAX,
            });
        }
        let mut kind: Option<(BadgeFormat, BadgeCanon)> = None;
        let mut hashes = Vec::with_capacity(assertions.len());
        for (index, assertion) in assertions.iter().enumerate() {
            let badge = hash_assertion(assertion.as_ref())
                .map_err(|source| BadgeError::InBatch { index, source: Box::new(source) })?;
            let found = (badge.format, badge.canon);
            match kind {
                None => kind = Some(found),
                Some(expected) if expected != found => {
                    return Err(BadgeError::MixedBatch { index, expected, found });
                }
                Some(_) => {}
            }
            hashes.push(badge.hash);
        }
        let (format, canon) = kind.ok_or(BadgeError::EmptyBatch)?;
        BadgeBatch::new(format, canon, hashes)
    }

    /// The Merkle root over the badge hashes.
    pub fn root(&self) -> Hash {
        self.levels.last().and_then(|level| level.first()).copied().expect("a batch has at least one badge")
    }

    /// The number of badges.
    pub fn leaf_count(&self) -> u32 {
        u32::try_from(self.badge_hashes.len()).expect("batch size is checked against a u32 limit")
    }

    /// The format all badges of the batch share.
    pub fn format(&self) -> BadgeFormat {
        self.format
    }

    /// The canonicalization all badges of the batch share.
    pub fn canon(&self) -> BadgeCanon {
        self.canon
    }

    /// The badge hashes, in batch order.
    pub fn badge_hashes(&self) -> &[Hash] {
        &self.badge_hashes
    }

    /// The anchor operation for this batch.
    pub fn anchor_op(
        &self,
        metadata_uri: Option<BoundedString<{ limits::BADGE_METADATA_URI_BYTES_MAX }>>,
    ) -> AnchorBadges {
        AnchorBadges {
            batch_root: self.root(),
            leaf_count: self.leaf_count(),
            format: self.format,
            canon: self.canon,
            metadata_uri,
        }
    }

    /// The receipt of badge `index`, not yet anchored (no tx id or height).
    pub fn receipt(&self, index: usize) -> Option<BadgeReceipt> {
        let badge_hash = *self.badge_hashes.get(index)?;
        let mut siblings = Vec::with_capacity(self.levels.len());
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            // A node without a partner is lifted unchanged, so it adds no sibling to the path.
            if let Some(sibling) = level.get(position ^ 1) {
                siblings.push(*sibling);
            }
            position /= 2;
        }
        let path = MerkleProof {
            index: index as u64,
            leaf_count: self.badge_hashes.len() as u64,
            siblings: BoundedVec::new(siblings)
                .expect("a tree of at most 2^20 leaves has at most 20 levels, within the 64-sibling limit"),
        };
        Some(BadgeReceipt {
            badge_hash,
            canon: self.canon,
            path,
            root: self.root(),
            tx_id: None,
            height: None,
        })
    }

    /// Every receipt, in batch order, made one at a time.
    pub fn receipts(&self) -> impl Iterator<Item = BadgeReceipt> + '_ {
        (0..self.badge_hashes.len()).filter_map(|index| self.receipt(index))
    }
}

/// What an issuer keeps per anchored badge, and hands to its holder: the file
/// `tally badge anchor` writes. `tx_id` and `height` are filled in once the anchor transaction
/// is final.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadgeReceipt {
    pub badge_hash: Hash,
    pub canon: BadgeCanon,
    pub path: MerkleProof,
    pub root: Hash,
    pub tx_id: Option<TxId>,
    pub height: Option<Height>,
}

impl BadgeReceipt {
    /// Steps 1 and 2: recomputes the badge hash from `assertion_bytes` and follows the path to
    /// the receipt's root. The error names the step and gives expected and actual values.
    pub fn verify_path(&self, assertion_bytes: &[u8]) -> Result<(), BadgeError> {
        let actual = badge_hash(assertion_bytes, self.canon).map_err(|source| {
            BadgeError::AssertionUnhashable { canon: self.canon, source: Box::new(source) }
        })?;
        if actual != self.badge_hash {
            return Err(BadgeError::BadgeHashMismatch { expected: self.badge_hash, actual });
        }
        let reached = self
            .path
            .compute_root(merkle_leaf(self.badge_hash.as_bytes()))
            .map_err(BadgeError::PathMalformed)?;
        if reached != self.root {
            return Err(BadgeError::PathMismatch { expected: self.root, actual: reached });
        }
        Ok(())
    }

    /// Step 3: checks that the receipt belongs to `anchor`, the operation found on the ledger
    /// (at `tx_id`): same root, same batch size, same canonicalization.
    pub fn verify_anchor(&self, anchor: &AnchorBadges) -> Result<(), BadgeError> {
        if anchor.batch_root != self.root {
            return Err(BadgeError::AnchorMismatch {
                field: "root",
                expected: anchor.batch_root.to_hex(),
                actual: self.root.to_hex(),
            });
        }
        if u64::from(anchor.leaf_count) != self.path.leaf_count {
            return Err(BadgeError::AnchorMismatch {
                field: "leaf count",
                expected: anchor.leaf_count.to_string(),
                actual: self.path.leaf_count.to_string(),
            });
        }
        if anchor.canon != self.canon {
            return Err(BadgeError::AnchorMismatch {
                field: "canonicalization",
                expected: canon_name(anchor.canon).to_owned(),
                actual: canon_name(self.canon).to_owned(),
            });
        }
        Ok(())
    }

    /// The receipt file's text: pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a receipt holds only strings, numbers and lists, which always serialize")
    }

    /// Reads a receipt file, bounded by [`RECEIPT_JSON_BYTES_MAX`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, BadgeError> {
        if bytes.len() > RECEIPT_JSON_BYTES_MAX {
            return Err(BadgeError::ReceiptTooLarge { len: bytes.len(), max: RECEIPT_JSON_BYTES_MAX });
        }
        let receipt: BadgeReceipt = serde_json::from_slice(bytes)
            .map_err(|error| BadgeError::ReceiptInvalid { reason: error.to_string() })?;
        let leaf_count = receipt.path.leaf_count;
        if leaf_count == 0 || leaf_count > u64::from(limits::BADGE_BATCH_LEAVES_MAX) {
            return Err(BadgeError::ReceiptInvalid {
                reason: format!(
                    "path.leaf_count is {leaf_count}; a batch has 1 to {} badges",
                    limits::BADGE_BATCH_LEAVES_MAX
                ),
            });
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::base64url_decode;

    /// RFC 4648 §10 test vectors, in the URL-safe alphabet without padding.
    #[test]
    fn base64url_vectors() {
        for (encoded, decoded) in [
            ("", ""),
            ("Zg", "f"),
            ("Zm8", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg", "foob"),
            ("Zm9vYmE", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64url_decode(encoded.as_bytes()).as_deref(), Ok(decoded.as_bytes()), "{encoded}");
        }
        assert_eq!(base64url_decode(b"-_8").as_deref(), Ok(&[0xfb, 0xff][..]));
        assert!(base64url_decode(b"+/8").is_err(), "standard alphabet");
        assert!(base64url_decode(b"Zm9=").is_err(), "padding");
        assert!(base64url_decode(b"Zh").is_err(), "unused bits set");
        assert!(
            base64url_decode(b"Zm9").is_err() && base64url_decode(b"Zm-").is_err(),
            "unused bits set: Zm8 is the one spelling of \"fo\""
        );
        assert!(base64url_decode(b"Zm9vY").is_err(), "4k+1 characters");
    }
}
