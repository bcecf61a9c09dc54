//! Badges (docs/ARCHITECTURE.md "Badges"): hashing, format detection, batches and receipts, and the examples in
//! `examples/badges`.

use std::path::{Path, PathBuf};

use tally_client::badge::{
    self, BadgeBatch, BadgeError, BadgeReceipt, HashedBadge, RECEIPT_JSON_BYTES_MAX, VerifyStep, badge_hash,
    detect, hash_assertion,
};
use tally_client::jcs;
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::hash::merkle_leaf;
use tally_types::limits::BADGE_BATCH_LEAVES_MAX;
use tally_types::merkle::{self, MerkleError};
use tally_types::tx::{BadgeCanon, BadgeFormat};
use tally_types::{Hash, Height, TxId};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/badges");

/// A distinct Open Badges 2.0 assertion per `number`.
fn assertion(number: usize) -> String {
    format!(
        r#"{{
  "@context": "https://w3id.org/openbadges/v2",
  "type": "Assertion",
  "id": "https://badges.acme.example/assertions/{number}.json",
  "recipient": {{"type": "email", "hashed": true, "salt": "5a1f", "identity": "sha256$00ff"}},
  "badge": "https://badges.acme.example/classes/api-calls-1m.json",
  "issuedOn": "2025-03-14T09:30:00Z",
  "verification": {{"type": "hosted"}}
}}"#
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for index in 0..=chunk.len() {
            out.push(ALPHABET[(bits >> (18 - 6 * index) & 63) as usize] as char);
        }
    }
    out
}

/// A compact JWS with the given header and payload JSON and a 64-byte dummy signature (these
/// tests hash and classify; they do not check signatures, which is the verifier's job).
fn jws(header: &str, payload: &str) -> String {
    format!("{}.{}.{}", base64url(header.as_bytes()), base64url(payload.as_bytes()), base64url(&[7u8; 64]))
}

fn jcs_hash(text: &str) -> Hash {
    badge_hash(text.as_bytes(), BadgeCanon::JcsBlake3).expect("hashes")
}

#[test]
fn json_hash_is_plain_blake3_of_the_jcs_bytes() {
    let text = assertion(1);
    let canonical = jcs::canonicalize(&text).expect("valid");
    assert_eq!(jcs_hash(&text), Hash::plain(&canonical));
    assert!(canonical.starts_with(br#"{"@context":"https://w3id.org/openbadges/v2","badge":"#));
}

#[test]
fn json_hash_is_stable_under_member_order_and_whitespace() {
    let pretty = assertion(1);
    let reordered_compact = r#"{"verification":{"type":"hosted"},"issuedOn":"2025-03-14T09:30:00Z","badge":"https://badges.acme.example/classes/api-calls-1m.json","recipient":{"identity":"sha256$00ff","salt":"5a1f","hashed":true,"type":"email"},"id":"https://badges.acme.example/assertions/1.json","type":"Assertion","@context":"https://w3id.org/openbadges/v2"}"#;
    let escaped = pretty.replace("\"Assertion\"", "\"\\u0041ssertion\"").replace("\n", "\r\n\t");
    assert_eq!(jcs_hash(&pretty), jcs_hash(reordered_compact));
    assert_eq!(jcs_hash(&pretty), jcs_hash(&escaped));
}

/// Every leaf value, changed in any way, and every added or removed member, changes the hash.
#[test]
fn json_hash_changes_with_any_value() {
    let original: serde_json::Value = serde_json::from_str(&assertion(1)).expect("valid");
    let base = jcs_hash(&original.to_string());
    let mut seen = vec![base];
    let mut variants = Vec::new();
    collect_variants(&original, &mut Vec::new(), &original, &mut variants);
    assert!(variants.len() >= 20, "enough variants: {}", variants.len());
    for variant in variants {
        let hash = jcs_hash(&variant.to_string());
        assert!(!seen.contains(&hash), "variant {variant} collides");
        seen.push(hash);
    }
}

/// Pushes copies of `root` with the value at each path changed, removed, and a member added.
fn collect_variants(
    root: &serde_json::Value,
    path: &mut Vec<String>,
    node: &serde_json::Value,
    out: &mut Vec<serde_json::Value>,
) {
    use serde_json::Value;
    fn edited(root: &Value, path: &[String], change: &dyn Fn(&mut Value)) -> Value {
        let mut copy = root.clone();
        let mut target = &mut copy;
        for key in path {
            target = target.get_mut(key.as_str()).expect("path exists");
        }
        change(target);
        copy
    }
    match node {
        Value::Object(members) => {
            out.push(edited(root, path, &|target| {
                target.as_object_mut().expect("object").insert("extra".into(), Value::Null);
            }));
            for (name, child) in members {
                let name_copy = name.clone();
                out.push(edited(root, path, &|target| {
                    target.as_object_mut().expect("object").remove(&name_copy);
                }));
                path.push(name.clone());
                collect_variants(root, path, child, out);
                path.pop();
            }
        }
        Value::String(text) => {
            let text = text.clone();
            out.push(edited(root, path, &|target| *target = Value::String(format!("{text}x"))));
            out.push(edited(root, path, &|target| *target = Value::String(text[1..].to_owned())));
        }
        Value::Bool(flag) => {
            let flag = *flag;
            out.push(edited(root, path, &|target| *target = Value::Bool(!flag)));
        }
        _ => {}
    }
}

#[test]
fn jws_hash_is_plain_blake3_of_the_token() {
    let token = jws(r#"{"alg":"EdDSA"}"#, &assertion(1));
    let hash = badge_hash(token.as_bytes(), BadgeCanon::RawBlake3).expect("hashes");
    assert_eq!(hash, Hash::plain(token.as_bytes()));
    // One trailing newline (LF or CRLF) is removed; nothing else is.
    for ending in ["\n", "\r\n"] {
        let with_newline = format!("{token}{ending}");
        assert_eq!(badge_hash(with_newline.as_bytes(), BadgeCanon::RawBlake3), Ok(hash));
    }
    for bad in [format!("{token}\n\n"), format!(" {token}"), format!("{token} "), format!("{token}\t\n")] {
        let error = badge_hash(bad.as_bytes(), BadgeCanon::RawBlake3).expect_err("refused");
        assert!(
            matches!(&error, BadgeError::NotCompactJws { reason } if reason.contains("whitespace")),
            "{error}"
        );
    }
    // Any change to the token changes the hash, even where a lenient decoder would not notice.
    let other = jws(r#"{"alg":"EdDSA"}"#, &assertion(2));
    assert_ne!(badge_hash(other.as_bytes(), BadgeCanon::RawBlake3), Ok(hash));
}

#[test]
fn malformed_jws_is_refused_with_the_reason() {
    let header = base64url(br#"{"alg":"EdDSA"}"#);
    let payload = base64url(assertion(1).as_bytes());
    let cases: [(String, &str); 8] = [
        (format!("{header}.{payload}"), "2 segments"),
        (format!("{header}.{payload}.AAAA.AAAA"), "4 segments"),
        (format!("{header}..AAAA"), "payload segment is empty"),
        (format!("{header}.{payload}."), "signature segment is empty"),
        (format!("{header}.{payload}.AAAA=="), "without padding"),
        (format!("{header}.{payload}.AAAAA"), "4k+1"),
        // "AB" sets unused low bits: a lenient decoder reads the same byte as from "AA", so the
        // same signed token would have two raw hashes.
        (format!("{header}.{payload}.AB"), "non-canonical"),
        (format!("{header}.{payload}.AA+A"), "0x2b"),
    ];
    for (token, expected) in cases {
        match badge_hash(token.as_bytes(), BadgeCanon::RawBlake3) {
            Err(BadgeError::NotCompactJws { reason }) => {
                assert!(reason.contains(expected), "{token}: {reason}")
            }
            other => panic!("{token}: expected NotCompactJws ({expected}), got {other:?}"),
        }
    }
    assert_eq!(badge_hash(b"", BadgeCanon::RawBlake3), Err(BadgeError::Empty));
    assert_eq!(badge_hash(b"\n", BadgeCanon::RawBlake3), Err(BadgeError::Empty));
}

#[test]
fn the_wrong_canonicalization_is_named() {
    let token = jws(r#"{"alg":"EdDSA"}"#, &assertion(1));
    let error = badge_hash(token.as_bytes(), BadgeCanon::JcsBlake3).expect_err("a JWS is not JSON");
    assert_eq!(
        error,
        BadgeError::WrongCanon {
            requested: BadgeCanon::JcsBlake3,
            found: "a compact JWS",
            suggested: BadgeCanon::RawBlake3
        }
    );
    assert!(error.to_string().contains("use raw-blake3"), "{error}");
    let error = badge_hash(assertion(1).as_bytes(), BadgeCanon::RawBlake3).expect_err("JSON is not a JWS");
    assert!(error.to_string().contains("use jcs-blake3"), "{error}");
    // JSON that is not an object is not a badge.
    assert_eq!(badge_hash(b"[1]", BadgeCanon::JcsBlake3), Err(BadgeError::NotAnObject { found: "array" }));
    assert!(matches!(
        badge_hash(br#"{"a":1,"a":2}"#, BadgeCanon::JcsBlake3),
        Err(BadgeError::Json(jcs::JcsError::DuplicateName { .. }))
    ));
    let too_large = vec![b' '; badge::BADGE_BYTES_MAX + 1];
    assert!(matches!(badge_hash(&too_large, BadgeCanon::JcsBlake3), Err(BadgeError::TooLarge { .. })));
    assert!(matches!(detect(&too_large), Err(BadgeError::TooLarge { .. })));
}

#[test]
fn detect_reads_the_context_and_the_type() {
    let ob3 = r#"{"@context":["https://www.w3.org/ns/credentials/v2","https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],"type":["VerifiableCredential","OpenBadgeCredential"]}"#;
    let ob3_v1 = r#"{"@context":["https://www.w3.org/2018/credentials/v1","https://purl.imsglobal.org/spec/ob/v3p0/context.json"],"type":["VerifiableCredential","AchievementCredential"]}"#;
    assert_eq!(detect(assertion(1).as_bytes()), Ok((BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3)));
    assert_eq!(detect(ob3.as_bytes()), Ok((BadgeFormat::OpenBadges3, BadgeCanon::JcsBlake3)));
    assert_eq!(detect(ob3_v1.as_bytes()), Ok((BadgeFormat::OpenBadges3, BadgeCanon::JcsBlake3)));
    let alternate_v2 = r#"{"@context":"https://openbadgespec.org/v2/context.json","type":"Assertion"}"#;
    assert_eq!(detect(alternate_v2.as_bytes()), Ok((BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3)));

    let unknown = |text: &str, part: &str| match detect(text.as_bytes()) {
        Err(BadgeError::UnknownFormat { reason }) => assert!(reason.contains(part), "{text}: {reason}"),
        other => panic!("{text}: expected UnknownFormat, got {other:?}"),
    };
    unknown(r#"{"type":"Assertion"}"#, "no `@context`");
    unknown(r#"{"@context":{"x":"y"},"type":"Assertion"}"#, "is a JSON object");
    unknown(r#"{"@context":"https://schema.org","type":"Assertion"}"#, "names neither");
    unknown(
        r#"{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"]}"#,
        "without the Open Badges 3.0 context",
    );
    unknown(
        r#"{"@context":["https://w3id.org/openbadges/v2","https://purl.imsglobal.org/spec/ob/v3p0/context.json"]}"#,
        "both",
    );
    let class = r#"{"@context":"https://w3id.org/openbadges/v2","type":"BadgeClass"}"#;
    let error = detect(class.as_bytes()).expect_err("a badge class is not an assertion");
    assert_eq!(
        error,
        BadgeError::NotAnAssertion {
            format: BadgeFormat::OpenBadges2,
            found: "BadgeClass".into(),
            expected: "Assertion"
        }
    );
    assert!(error.to_string().contains("not badge classes"), "{error}");
    let achievement =
        r#"{"@context":["https://purl.imsglobal.org/spec/ob/v3p0/context.json"],"type":["Achievement"]}"#;
    assert!(matches!(
        detect(achievement.as_bytes()),
        Err(BadgeError::NotAnAssertion { format: BadgeFormat::OpenBadges3, .. })
    ));
    assert_eq!(detect(b"  \n"), Err(BadgeError::Empty));
    assert_eq!(detect(b"<svg/>"), Err(BadgeError::Unrecognized { first_byte: b'<' }));
    assert!(matches!(detect(b"[1]"), Err(BadgeError::Unrecognized { first_byte: b'[' })));
}

#[test]
fn detect_classifies_a_jws_by_its_payload() {
    // Open Badges 2.0 signed assertion: the payload is the assertion.
    let signed_v2 = jws(r#"{"alg":"RS256"}"#, &assertion(1));
    assert_eq!(detect(signed_v2.as_bytes()), Ok((BadgeFormat::OpenBadges2, BadgeCanon::RawBlake3)));
    // VC-JWT: the credential is in the `vc` claim.
    let vc = r#"{"iss":"https://badges.acme.example/issuer","nbf":1746521100,"vc":{"@context":["https://www.w3.org/2018/credentials/v1","https://purl.imsglobal.org/spec/ob/v3p0/context.json"],"type":["VerifiableCredential","OpenBadgeCredential"]}}"#;
    let signed_v3 = jws(r#"{"alg":"EdDSA","typ":"JWT"}"#, vc);
    assert_eq!(
        detect(format!("{signed_v3}\n").as_bytes()),
        Ok((BadgeFormat::OpenBadges3, BadgeCanon::RawBlake3))
    );
    let hashed = hash_assertion(signed_v3.as_bytes()).expect("hashes");
    assert_eq!(
        hashed,
        HashedBadge {
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::RawBlake3,
            hash: Hash::plain(signed_v3.as_bytes())
        }
    );

    let unreadable = |token: String, part: &str, reason_part: &str| match detect(token.as_bytes()) {
        Err(BadgeError::JwsUnreadable { part: found, reason }) => {
            assert_eq!(found, part, "{reason}");
            assert!(reason.contains(reason_part), "{reason}");
        }
        other => panic!("expected JwsUnreadable({part}), got {other:?}"),
    };
    unreadable(jws(r#"{"alg":"none"}"#, &assertion(1)), "header", "unsigned");
    unreadable(jws(r#"{"typ":"JWT"}"#, &assertion(1)), "header", "no `alg`");
    unreadable(jws("[1]", &assertion(1)), "header", "not an object");
    unreadable(jws(r#"{"alg":"EdDSA"}"#, "not json"), "payload", "not JSON");
    let not_utf8 =
        format!("{}.{}.{}", base64url(br#"{"alg":"EdDSA"}"#), base64url(&[0xff, 0xfe]), base64url(&[1; 64]));
    unreadable(not_utf8, "payload", "UTF-8");
    match detect(jws(r#"{"alg":"EdDSA"}"#, r#"{"iss":"x"}"#).as_bytes()) {
        Err(BadgeError::UnknownFormat { reason }) => assert!(reason.contains("`vc` claim"), "{reason}"),
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
    assert!(matches!(detect(b"abc.def"), Err(BadgeError::NotCompactJws { .. })));
}

/// Distinct assertions and their batch.
fn batch_of(count: usize) -> (Vec<String>, BadgeBatch) {
    let assertions: Vec<String> = (0..count).map(assertion).collect();
    let batch = BadgeBatch::from_assertions(&assertions).expect("a valid batch");
    (assertions, batch)
}

#[test]
fn batches_of_1_2_3_7_verify_every_receipt() {
    for count in [1, 2, 3, 7] {
        let (assertions, batch) = batch_of(count);
        assert_eq!(batch.leaf_count(), count as u32);
        assert_eq!((batch.format(), batch.canon()), (BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3));
        let leaves: Vec<Hash> =
            batch.badge_hashes().iter().map(|hash| merkle_leaf(hash.as_bytes())).collect();
        assert_eq!(batch.root(), merkle::root_of_leaf_hashes(&leaves), "root of {count}");
        let anchor = batch.anchor_op(None);
        let receipts: Vec<BadgeReceipt> = batch.receipts().collect();
        assert_eq!(receipts.len(), count);
        for (index, (receipt, assertion)) in receipts.iter().zip(&assertions).enumerate() {
            assert_eq!(receipt.badge_hash, jcs_hash(assertion));
            assert_eq!(receipt.path.index, index as u64);
            assert_eq!(
                Some(&receipt.path),
                merkle::prove(&leaves, index).as_ref(),
                "path {index} of {count}"
            );
            assert_eq!(receipt.verify_path(assertion.as_bytes()), Ok(()), "{index} of {count}");
            assert_eq!(receipt.verify_anchor(&anchor), Ok(()));
            // The receipt file round-trips, before and after the anchor is known.
            let mut anchored = receipt.clone();
            anchored.tx_id = Some(TxId(Hash([9; 32])));
            anchored.height = Some(Height(1234));
            for file in [receipt, &anchored] {
                assert_eq!(BadgeReceipt::from_json(file.to_json().as_bytes()).as_ref(), Ok(file));
            }
            // A reformatted assertion still verifies: the hash is over the JCS bytes.
            let reformatted = jcs::canonicalize(assertion).expect("valid");
            assert_eq!(receipt.verify_path(&reformatted), Ok(()));
        }
    }
}

#[test]
fn a_tampered_assertion_fails_at_the_badge_hash_step() {
    let (assertions, batch) = batch_of(3);
    let receipt = batch.receipt(1).expect("in range");
    let tampered = assertions[1].replace("2025-03-14", "2024-03-14");
    let error = receipt.verify_path(tampered.as_bytes()).expect_err("tampered");
    assert_eq!(error.step(), Some(VerifyStep::BadgeHash));
    assert_eq!(
        error,
        BadgeError::BadgeHashMismatch { expected: receipt.badge_hash, actual: jcs_hash(&tampered) }
    );
    assert!(error.to_string().starts_with("step 1 (badge hash): the assertion hashes to"), "{error}");
    // Another badge of the same batch is not this receipt's badge either.
    assert_eq!(
        receipt.verify_path(assertions[0].as_bytes()).map_err(|e| e.step()),
        Err(Some(VerifyStep::BadgeHash))
    );
    // Bytes that cannot be hashed at all fail at the same step, saying why.
    let error = receipt.verify_path(b"{\"a\":").expect_err("not JSON");
    assert_eq!(error.step(), Some(VerifyStep::BadgeHash));
    assert!(
        matches!(&error, BadgeError::AssertionUnhashable { canon: BadgeCanon::JcsBlake3, .. }),
        "{error}"
    );
}

#[test]
fn a_wrong_path_fails_at_the_merkle_path_step() {
    let (assertions, batch) = batch_of(7);
    let good = batch.receipt(4).expect("in range");
    let assertion = assertions[4].as_bytes();

    // A changed sibling leads to another root.
    let mut receipt = good.clone();
    let mut siblings = receipt.path.siblings.as_slice().to_vec();
    siblings[0].0[0] ^= 1;
    receipt.path.siblings = BoundedVec::new(siblings).expect("short");
    let error = receipt.verify_path(assertion).expect_err("wrong sibling");
    assert_eq!(error.step(), Some(VerifyStep::MerklePath));
    assert!(matches!(error, BadgeError::PathMismatch { expected, .. } if expected == good.root));

    // The path of another badge.
    let mut receipt = good.clone();
    receipt.path = batch.receipt(5).expect("in range").path;
    assert!(matches!(receipt.verify_path(assertion), Err(BadgeError::PathMismatch { .. })));

    // Wrong shape: an index outside the tree, a missing or an extra sibling.
    let mut receipt = good.clone();
    receipt.path.index = 7;
    assert_eq!(
        receipt.verify_path(assertion),
        Err(BadgeError::PathMalformed(MerkleError::IndexOutOfRange { index: 7, leaf_count: 7 }))
    );
    let mut receipt = good.clone();
    receipt.path.siblings = BoundedVec::new(good.path.siblings[..1].to_vec()).expect("short");
    let error = receipt.verify_path(assertion).expect_err("short path");
    assert!(matches!(error, BadgeError::PathMalformed(MerkleError::WrongLength { .. })), "{error}");
    assert!(error.to_string().starts_with("step 2 (Merkle path): the path is malformed"), "{error}");

    // A batch of one has an empty path; a sibling makes it wrong.
    let (single, batch) = batch_of(1);
    let mut receipt = batch.receipt(0).expect("in range");
    assert!(receipt.path.siblings.is_empty());
    assert_eq!(receipt.root, merkle_leaf(receipt.badge_hash.as_bytes()));
    receipt.path.siblings = BoundedVec::new(vec![Hash::ZERO]).expect("short");
    assert_eq!(
        receipt.verify_path(single[0].as_bytes()).map_err(|e| e.step()),
        Err(Some(VerifyStep::MerklePath))
    );
}

#[test]
fn a_wrong_root_fails_at_the_path_or_the_anchor_step() {
    let (assertions, batch) = batch_of(7);
    let good = batch.receipt(6).expect("in range");
    let anchor = batch.anchor_op(None);

    // A receipt whose root was changed: its own path no longer reaches it.
    let mut receipt = good.clone();
    receipt.root = Hash([0xAB; 32]);
    let error = receipt.verify_path(assertions[6].as_bytes()).expect_err("wrong root");
    assert_eq!(error, BadgeError::PathMismatch { expected: Hash([0xAB; 32]), actual: batch.root() });
    assert!(error.to_string().contains(&format!("leads to root {}", batch.root())), "{error}");

    // A consistent receipt of another batch: path fine, anchor wrong.
    let (other_assertions, other_batch) = batch_of(8);
    let other = other_batch.receipt(6).expect("in range");
    assert_eq!(other.verify_path(other_assertions[6].as_bytes()), Ok(()));
    let error = other.verify_anchor(&anchor).expect_err("other batch");
    assert_eq!(error.step(), Some(VerifyStep::Anchor));
    assert_eq!(
        error,
        BadgeError::AnchorMismatch {
            field: "root",
            expected: batch.root().to_hex(),
            actual: other_batch.root().to_hex()
        }
    );
    assert!(error.to_string().starts_with("step 3 (anchor): the anchor has root"), "{error}");

    let mut wrong_count = anchor.clone();
    wrong_count.leaf_count = 8;
    assert!(matches!(
        good.verify_anchor(&wrong_count),
        Err(BadgeError::AnchorMismatch { field: "leaf count", .. })
    ));
    let mut wrong_canon = anchor.clone();
    wrong_canon.canon = BadgeCanon::RawBlake3;
    assert!(matches!(
        good.verify_anchor(&wrong_canon),
        Err(BadgeError::AnchorMismatch { field: "canonicalization", .. })
    ));
}

#[test]
fn batches_are_bounded_and_distinct() {
    assert_eq!(
        BadgeBatch::new(BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3, Vec::new()).map(|b| b.root()),
        Err(BadgeError::EmptyBatch)
    );
    assert_eq!(BadgeBatch::from_assertions::<&[u8]>(&[]).map(|b| b.root()), Err(BadgeError::EmptyBatch));
    let hashes = vec![Hash([1; 32]), Hash([2; 32]), Hash([3; 32]), Hash([2; 32])];
    assert_eq!(
        BadgeBatch::new(BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3, hashes).map(|b| b.root()),
        Err(BadgeError::DuplicateBadge { hash: Hash([2; 32]), first_index: 1, second_index: 3 })
    );
    // The same assertion twice, however formatted, is a duplicate.
    let same =
        [assertion(1), String::from_utf8(jcs::canonicalize(&assertion(1)).expect("valid")).expect("utf8")];
    assert!(matches!(
        BadgeBatch::from_assertions(&same),
        Err(BadgeError::DuplicateBadge { first_index: 0, second_index: 1, .. })
    ));
    let too_many: Vec<Hash> = (0..=BADGE_BATCH_LEAVES_MAX)
        .map(|index| {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&index.to_le_bytes());
            Hash(bytes)
        })
        .collect();
    let count = too_many.len();
    assert_eq!(
        BadgeBatch::new(BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3, too_many).map(|b| b.root()),
        Err(BadgeError::BatchTooLarge { count, max: BADGE_BATCH_LEAVES_MAX })
    );
}

#[test]
fn a_batch_has_one_format_and_canonicalization() {
    let ob3 = r#"{"@context":["https://www.w3.org/ns/credentials/v2","https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],"type":["VerifiableCredential","OpenBadgeCredential"]}"#;
    let error = BadgeBatch::from_assertions(&[assertion(1), ob3.to_owned()]).expect_err("mixed");
    assert_eq!(
        error,
        BadgeError::MixedBatch {
            index: 1,
            expected: (BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3),
            found: (BadgeFormat::OpenBadges3, BadgeCanon::JcsBlake3)
        }
    );
    let signed = jws(r#"{"alg":"EdDSA"}"#, &assertion(2));
    assert!(matches!(
        BadgeBatch::from_assertions(&[assertion(1), signed]),
        Err(BadgeError::MixedBatch { index: 1, .. })
    ));
    let error =
        BadgeBatch::from_assertions(&[assertion(1), assertion(2), "{".to_owned()]).expect_err("bad JSON");
    assert!(matches!(&error, BadgeError::InBatch { index: 2, .. }), "{error}");
    assert!(error.to_string().starts_with("badge 2: "), "{error}");
}

/// The level-by-level tree gives the same root and paths as `tally_types::merkle` for every
/// size up to 40, and a large batch's receipts all verify (each made in O(log n)).
#[test]
fn batch_paths_match_tally_types_merkle() {
    for count in 1..=40u8 {
        let hashes: Vec<Hash> = (0..count).map(|index| Hash::plain(&[index])).collect();
        let batch =
            BadgeBatch::new(BadgeFormat::OpenBadges3, BadgeCanon::RawBlake3, hashes.clone()).expect("valid");
        let leaves: Vec<Hash> = hashes.iter().map(|hash| merkle_leaf(hash.as_bytes())).collect();
        assert_eq!(batch.root(), merkle::root_of_leaf_hashes(&leaves));
        for index in 0..usize::from(count) {
            let receipt = batch.receipt(index).expect("in range");
            assert_eq!(Some(receipt.path), merkle::prove(&leaves, index), "{index} of {count}");
        }
        assert_eq!(batch.receipt(usize::from(count)), None);
    }
    let hashes: Vec<Hash> = (0..10_000u32).map(|index| Hash::plain(&index.to_le_bytes())).collect();
    let batch = BadgeBatch::new(BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3, hashes).expect("valid");
    for receipt in batch.receipts() {
        assert_eq!(receipt.path.verify(merkle_leaf(receipt.badge_hash.as_bytes()), &batch.root()), Ok(()));
    }
}

#[test]
fn anchor_op_describes_the_batch() {
    let (_, batch) = batch_of(3);
    let uri = BoundedString::new("https://badges.acme.example/batches/1.json").expect("short");
    let anchor = batch.anchor_op(Some(uri.clone()));
    assert_eq!(anchor.batch_root, batch.root());
    assert_eq!(anchor.leaf_count, 3);
    assert_eq!((anchor.format, anchor.canon), (BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3));
    assert_eq!(anchor.metadata_uri, Some(uri));
}

/// The receipt file format is pinned: field names and encodings are what other tools read.
#[test]
fn receipt_file_format() {
    let batch =
        BadgeBatch::new(BadgeFormat::OpenBadges2, BadgeCanon::JcsBlake3, vec![Hash([1; 32]), Hash([2; 32])])
            .expect("valid");
    let mut receipt = batch.receipt(0).expect("in range");
    let expected = format!(
        r#"{{
  "badge_hash": "{}",
  "canon": "jcs-blake3",
  "path": {{
    "index": 0,
    "leaf_count": 2,
    "siblings": [
      "{}"
    ]
  }},
  "root": "{}",
  "tx_id": null,
  "height": null
}}"#,
        "01".repeat(32),
        merkle_leaf(&[2; 32]),
        batch.root()
    );
    assert_eq!(receipt.to_json(), expected);
    receipt.tx_id = Some(TxId(Hash([3; 32])));
    receipt.height = Some(Height(77));
    let json = receipt.to_json();
    assert!(json.contains(&format!("\"tx_id\": \"{}\"", "03".repeat(32))), "{json}");
    assert!(json.contains("\"height\": 77"), "{json}");
}

#[test]
fn receipt_files_are_read_strictly() {
    let (_, batch) = batch_of(2);
    let json = batch.receipt(1).expect("in range").to_json();
    let too_large = format!("{json}{}", " ".repeat(RECEIPT_JSON_BYTES_MAX));
    assert!(matches!(BadgeReceipt::from_json(too_large.as_bytes()), Err(BadgeError::ReceiptTooLarge { .. })));
    let unknown_field = json.replacen('{', "{\"note\": 1,", 1);
    assert!(matches!(
        BadgeReceipt::from_json(unknown_field.as_bytes()),
        Err(BadgeError::ReceiptInvalid { reason }) if reason.contains("note")
    ));
    let empty_batch = json.replace("\"leaf_count\": 2", "\"leaf_count\": 0");
    assert!(matches!(
        BadgeReceipt::from_json(empty_batch.as_bytes()),
        Err(BadgeError::ReceiptInvalid { reason }) if reason.contains("leaf_count is 0")
    ));
    let bad_canon = json.replace("jcs-blake3", "sha256");
    assert!(matches!(BadgeReceipt::from_json(bad_canon.as_bytes()), Err(BadgeError::ReceiptInvalid { .. })));
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .expect("examples/badges exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "jws")))
        // A provider's achievements file (an array), not a badge: client/tests/ob3.rs reads it.
        // (and milestones.json, the achievements with ledger rules).
        .filter(|path| {
            path.file_name().is_some_and(|name| name != "achievements.json" && name != "milestones.json")
        })
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|name| name.to_str()).expect("UTF-8 file name")
}

/// Every example hashes; assertions and credentials are detected as such, badge classes and
/// the issuer profile are refused by `detect`; the published hashes match.
#[test]
fn examples_hash_and_match_the_published_hashes() {
    let files = example_files();
    assert_eq!(files.len(), 13, "{files:?}");
    let published = std::fs::read_to_string(Path::new(EXAMPLES).join("badge-hashes.txt")).expect("hash list");
    let published: Vec<(&str, &str, &str)> = published
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0], fields[1], fields[2])
        })
        .collect();
    assert_eq!(published.len(), 8);
    let mut anchorable = Vec::new();
    for path in &files {
        let name = file_name(path);
        let bytes = std::fs::read(path).expect("readable");
        let canon = if name.ends_with(".jws") { BadgeCanon::RawBlake3 } else { BadgeCanon::JcsBlake3 };
        let hash = badge_hash(&bytes, canon).unwrap_or_else(|error| panic!("{name}: {error}"));
        if name.starts_with("assertion-") || name.starts_with("credential-") {
            let found = hash_assertion(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
            let expected_format =
                if name.contains(".ob3.") { BadgeFormat::OpenBadges3 } else { BadgeFormat::OpenBadges2 };
            assert_eq!(found, HashedBadge { format: expected_format, canon, hash }, "{name}");
            let (_, published_canon, _) = published
                .iter()
                .find(|(_, _, file)| *file == name)
                .unwrap_or_else(|| panic!("{name} is published"));
            assert_eq!(*published_canon, badge::canon_name(canon), "{name}");
            anchorable.push((name.to_owned(), bytes, hash));
        } else {
            assert!(
                matches!(detect(&bytes), Err(BadgeError::NotAnAssertion { .. })),
                "{name} must not be anchorable"
            );
        }
    }
    for (expected, _, file) in &published {
        let (_, _, hash) =
            anchorable.iter().find(|(name, _, _)| name == file).expect("published file exists");
        assert_eq!(hash.to_hex(), *expected, "{file}");
    }
    // The Open Badges 2.0 assertions anchor as one batch, and each receipt verifies.
    let v2: Vec<&(String, Vec<u8>, Hash)> =
        anchorable.iter().filter(|(name, _, _)| name.starts_with("assertion-")).collect();
    let batch =
        BadgeBatch::from_assertions(&v2.iter().map(|(_, bytes, _)| bytes.as_slice()).collect::<Vec<_>>())
            .expect("one batch");
    for ((_, bytes, _), receipt) in v2.iter().zip(batch.receipts()) {
        assert_eq!(receipt.verify_path(bytes), Ok(()));
    }
}

/// The achievement a badge is for (`badge::achievement_id`, read at verification step 3 for an
/// anchor that counts achievements), from the table the TypeScript SDK checks too: a JSON
/// object or a compact JWS's payload (or `vc` claim); a null or non-string id names none.
#[test]
fn the_achievement_a_badge_is_for_is_read_as_the_sdk_reads_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/badge-achievement-ids.json");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the table")).expect("JSON");
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10);
    for case in cases {
        let badge = case["badge"].as_str().expect("badge text");
        let expected = case["achievement"].as_str();
        assert_eq!(badge::achievement_id(badge.as_bytes()).as_deref(), expected, "{}", case["case"]);
    }
    // The repository's VC-JWT example names its achievement in the payload's `vc` claim.
    let example =
        std::fs::read(Path::new(EXAMPLES).join("credential-forum-support.ob3.jws")).expect("example");
    assert_eq!(
        badge::achievement_id(&example).as_deref(),
        Some("https://badges.acme.example/achievements/forum-support")
    );
}
