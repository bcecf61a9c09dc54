//! Open Badges 3.0 credentials: the `eddsa-rdfc-2022` proof against the W3C published test
//! vectors (an independent implementation's output), issuing and verifying our own
//! credentials, and each way a credential is refused.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tally_client::ob3::credential::{self, IssueSpec, Recipient};
use tally_client::ob3::proof::{self, ProofOptions};
use tally_client::ob3::{Ob3Error, didkey, schema};
use tally_types::SecretKey;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/badges");

/// The key pair of the W3C "Data Integrity EdDSA Cryptosuites v1.0" test vectors (§B.1): the
/// secret key in multibase (multicodec `ed25519-priv`, 0x8026, then the 32-byte seed).
const VECTOR_SECRET_MULTIBASE: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";
const VECTOR_PUBLIC_MULTIBASE: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
/// The proof value the specification publishes for the credential below, signed with the key
/// above at `VECTOR_CREATED`.
const VECTOR_PROOF_VALUE: &str =
    "z2YwC8z3ap7yx1nZYCg4L3j3ApHsF8kgPdSb5xoS1VR7vPG3F561B52hYnQF9iseabecm3ijx4K1FBTQsCZahKZme";
const VECTOR_CREATED: &str = "2023-02-24T23:36:38Z";
/// SHA-256 of the canonical credential and of the canonical proof configuration, as published.
const VECTOR_DOCUMENT_HASH: &str = "517744132ae165a5349155bef0bb0cf2258fff99dfe1dbd914b938d775a36017";
const VECTOR_PROOF_CONFIG_HASH: &str = "bea7b7acfbad0126b135104024a5f1733e705108f42d59668b05c0c50004c6b0";

fn vector_credential() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "name": "Alumni Credential",
        "description": "A minimum viable example of an Alumni Credential.",
        "issuer": "https://vc.example/issuers/5678",
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"}
    })
}

fn vector_key() -> SecretKey {
    let bytes = bs58::decode(&VECTOR_SECRET_MULTIBASE[1..]).into_vec().expect("base58btc");
    assert_eq!(&bytes[..2], &[0x80, 0x26], "multicodec ed25519-priv");
    let seed: [u8; 32] = bytes[2..].try_into().expect("32-byte seed");
    SecretKey::from_seed(&seed)
}

fn vector_method() -> String {
    format!("did:key:{VECTOR_PUBLIC_MULTIBASE}#{VECTOR_PUBLIC_MULTIBASE}")
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn w3c_vector_canonical_forms_hash_as_published() {
    let document = proof::canonical_nquads(&vector_credential()).expect("canonical document");
    assert_eq!(sha256_hex(&document), VECTOR_DOCUMENT_HASH, "{document}");
    let config = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": VECTOR_CREATED,
        "verificationMethod": vector_method(),
        "proofPurpose": "assertionMethod",
        "@context": vector_credential()["@context"],
    });
    let canonical = proof::canonical_nquads(&config).expect("canonical proof configuration");
    assert_eq!(sha256_hex(&canonical), VECTOR_PROOF_CONFIG_HASH, "{canonical}");
}

/// Ed25519 is deterministic, so signing the published credential with the published key must
/// give the published proof value byte for byte.
#[test]
fn w3c_vector_proof_value_is_reproduced() {
    let key = vector_key();
    assert_eq!(didkey::verification_method(&key.public_key()), vector_method());
    let options = ProofOptions { created: VECTOR_CREATED.into(), verification_method: vector_method() };
    let value = proof::proof_value(&vector_credential(), &options, &key).expect("signs");
    assert_eq!(value, VECTOR_PROOF_VALUE);
}

/// The published signed credential verifies with the key its verification method names.
#[test]
fn w3c_vector_signed_credential_verifies() {
    let mut signed = vector_credential();
    signed["proof"] = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": VECTOR_CREATED,
        "verificationMethod": vector_method(),
        "proofPurpose": "assertionMethod",
        "proofValue": VECTOR_PROOF_VALUE,
    });
    let verified = proof::verify(&signed).expect("the published credential verifies");
    assert_eq!(verified.key, vector_key().public_key());
    // One changed claim and it does not.
    signed["credentialSubject"]["alumniOf"] = "The School of Counterfeits".into();
    assert!(matches!(proof::verify(&signed), Err(Ob3Error::BadSignature { .. })));
}

fn achievements() -> Vec<Value> {
    let bytes = std::fs::read(format!("{EXAMPLES}/achievements.json")).expect("example achievements");
    credential::parse_achievements(&bytes).expect("an array of achievements")
}

fn issue(key: &SecretKey, recipient: &Recipient) -> Value {
    let spec = IssueSpec {
        achievement: achievements()[0].clone(),
        issuer: key.public_key(),
        issuer_name: Some("Acme APIs".into()),
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: Some("2027-01-01T00:00:00Z".into()),
    };
    let evidence = [json!({
        "id": "https://badges.acme.example/evidence/1",
        "type": ["Evidence"],
        "narrative": "One million successful calls settled on the ledger."
    })];
    let unsigned = credential::build(
        &spec,
        recipient,
        "urn:uuid:0b8e9f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "00ff",
        &evidence,
    );
    credential::sign(&unsigned, key, "2026-01-01T00:00:00Z").expect("signs")
}

#[test]
fn the_example_achievements_are_valid() {
    schema::check_achievements(&achievements()).expect("valid");
    let mut broken = achievements();
    broken[1].as_object_mut().expect("object").remove("criteria");
    broken[2]["id"] = broken[0]["id"].clone();
    let error = schema::check_achievements(&broken).expect_err("invalid").to_string();
    assert!(error.contains("achievement 1") && error.contains("criteria"), "{error}");
    assert!(error.contains("same id"), "{error}");
}

#[test]
fn an_issued_credential_is_schema_valid_and_its_proof_names_the_issuer_key() {
    let key = SecretKey::from_seed(&[11; 32]);
    let developer = SecretKey::from_seed(&[12; 32]).public_key();
    for recipient in [Recipient::Account(developer), Recipient::Email("dev@example.com".into())] {
        let signed = issue(&key, &recipient);
        schema::check_credential(&signed).expect("schema-valid");
        let verified = credential::verify_issuer_proof(&signed).expect("verifies");
        assert_eq!(verified.key, key.public_key());
        assert_eq!(credential::issuer_id(&signed), Some(didkey::did_key(&key.public_key()).as_str()));
        // It is an OB 3.0 JSON credential for the anchoring code too.
        let bytes = serde_json::to_vec(&signed).expect("JSON");
        assert_eq!(
            tally_client::badge::detect(&bytes).expect("an OB 3.0 credential").0,
            tally_types::tx::BadgeFormat::OpenBadges3
        );
    }
    let by_email = issue(&key, &Recipient::Email("dev@example.com".into()));
    let identity = &by_email["credentialSubject"]["identifier"][0];
    assert_eq!(identity["identityHash"], credential::identity_hash("dev@example.com", "00ff"));
    assert_eq!(
        identity["identityHash"],
        format!("sha256${}", sha256_hex("dev@example.com00ff")),
        "the OB identity hash: SHA-256 of the address followed by the salt"
    );
}

/// A change to a credential, named.
type Edit = fn(&mut Value);

#[test]
fn a_changed_claim_breaks_the_proof() {
    let key = SecretKey::from_seed(&[11; 32]);
    let signed = issue(&key, &Recipient::Account(SecretKey::from_seed(&[12; 32]).public_key()));
    let edits: [(&str, Edit); 4] = [
        ("achievement name", |c| {
            c["credentialSubject"]["achievement"]["name"] = "Ten Million API Calls".into()
        }),
        ("recipient", |c| {
            c["credentialSubject"]["id"] =
                didkey::did_key(&SecretKey::from_seed(&[13; 32]).public_key()).into()
        }),
        ("validUntil", |c| c["validUntil"] = "2099-01-01T00:00:00Z".into()),
        ("evidence", |c| c["evidence"][0]["narrative"] = "Something else.".into()),
    ];
    for (what, edit) in edits {
        let mut changed = signed.clone();
        edit(&mut changed);
        assert!(
            matches!(proof::verify(&changed), Err(Ob3Error::BadSignature { .. })),
            "{what}: {:?}",
            proof::verify(&changed)
        );
    }
}

/// A member the contexts do not define would be dropped by lenient JSON-LD expansion, so it
/// would not be signed: it is refused instead, when signing and when verifying.
#[test]
fn an_undefined_term_is_an_error_not_dropped() {
    let key = SecretKey::from_seed(&[11; 32]);
    let signed = issue(&key, &Recipient::Email("dev@example.com".into()));
    let mut extra = signed.clone();
    extra["credentialSubject"]["unsignedClaim"] = "grade A".into();
    match proof::verify(&extra) {
        Err(Ob3Error::Canonicalization(reason)) => assert!(reason.contains("unsignedClaim"), "{reason}"),
        other => panic!("expected a canonicalization error, got {other:?}"),
    }
    let mut unsigned = extra;
    unsigned.as_object_mut().expect("object").remove("proof");
    assert!(matches!(
        credential::sign(&unsigned, &key, "2026-01-01T00:00:00Z"),
        Err(Ob3Error::Canonicalization(_))
    ));
}

#[test]
fn a_proof_by_another_key_than_the_issuer_is_refused() {
    let issuer = SecretKey::from_seed(&[11; 32]);
    let other = SecretKey::from_seed(&[14; 32]);
    // Built for `issuer`, signed by `other`: the proof verifies, but not as the issuer's.
    let spec_signed = issue(&issuer, &Recipient::Email("dev@example.com".into()));
    let mut unsigned = spec_signed.clone();
    unsigned.as_object_mut().expect("object").remove("proof");
    let forged = credential::sign(&unsigned, &other, "2026-01-01T00:00:00Z").expect("signs");
    assert!(proof::verify(&forged).is_ok());
    let error = credential::verify_issuer_proof(&forged).expect_err("not the issuer's key").to_string();
    assert!(error.contains("issuer"), "{error}");
    // A proof value from another key under the issuer's verification method fails the signature.
    let mut swapped = spec_signed;
    swapped["proof"]["proofValue"] = forged["proof"]["proofValue"].clone();
    assert!(matches!(proof::verify(&swapped), Err(Ob3Error::BadSignature { .. })));
}

#[test]
fn credentials_from_elsewhere_are_recognised_by_their_type() {
    // An earlier OB 3.0 draft's context URL, or none of ours at all: the type decides.
    for context in [
        json!([
            "https://www.w3.org/2018/credentials/v1",
            "https://imsglobal.github.io/openbadges-specification/ob_v3p0.html"
        ]),
        json!([
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"
        ]),
    ] {
        let document =
            json!({"@context": context, "type": ["VerifiableCredential", "AchievementCredential"]});
        let bytes = serde_json::to_vec(&document).expect("JSON");
        assert_eq!(
            tally_client::badge::detect(&bytes).expect("recognised").0,
            tally_types::tx::BadgeFormat::OpenBadges3,
            "{document}"
        );
    }
    // The example credentials (made elsewhere, unsigned) are schema-valid.
    for name in ["credential-api-calls-1m.ob3.json", "credential-client-library.ob3.json"] {
        let text = std::fs::read_to_string(format!("{EXAMPLES}/{name}")).expect("example");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        schema::check_credential(&value).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn the_schema_names_what_is_missing() {
    let key = SecretKey::from_seed(&[11; 32]);
    let mut signed = issue(&key, &Recipient::Email("dev@example.com".into()));
    signed.as_object_mut().expect("object").remove("validFrom");
    signed["credentialSubject"]["achievement"].as_object_mut().expect("object").remove("criteria");
    let error = schema::check_credential(&signed).expect_err("invalid").to_string();
    assert!(error.contains("criteria"), "{error}");
    assert!(error.contains("validFrom") || error.contains("issuanceDate"), "{error}");
}

/// Native booleans and numbers under an Open Badges term with a datatype: the canonical
/// N-Quads below are what jsonld.js and rdf-canonize (Digital Bazaar, an implementation
/// independent of ours) give for this document: `hashed` keeps the context's (https)
/// boolean datatype and `creditsAvailable` is written as JSON-LD writes a double.
#[test]
fn typed_native_values_canonicalize_as_jsonld_js_does() {
    let document = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "id": "urn:uuid:11111111-2222-4333-8444-555555555555",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", "type": ["Profile"]},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": "sha256$00", "identityType": "emailAddress", "hashed": true, "salt": "5a"}],
            "achievement": {"id": "https://badges.acme.example/a", "type": ["Achievement"], "name": "A", "description": "B",
                "criteria": {"narrative": "C"}, "creditsAvailable": 3.5, "tag": ["x"]}
        }
    });
    let expected = "\
<did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#Profile> .
<https://badges.acme.example/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#Achievement> .
<https://badges.acme.example/a> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#Criteria> _:c14n2 .
<https://badges.acme.example/a> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#creditsAvailable> \"3.5E0\"^^<https://www.w3.org/2001/XMLSchema#float> .
<https://badges.acme.example/a> <https://schema.org/description> \"B\" .
<https://badges.acme.example/a> <https://schema.org/keywords> \"x\" .
<https://badges.acme.example/a> <https://schema.org/name> \"A\" .
<urn:uuid:11111111-2222-4333-8444-555555555555> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential> .
<urn:uuid:11111111-2222-4333-8444-555555555555> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/2018/credentials#VerifiableCredential> .
<urn:uuid:11111111-2222-4333-8444-555555555555> <https://www.w3.org/2018/credentials#credentialSubject> _:c14n1 .
<urn:uuid:11111111-2222-4333-8444-555555555555> <https://www.w3.org/2018/credentials#issuer> <did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2> .
<urn:uuid:11111111-2222-4333-8444-555555555555> <https://www.w3.org/2018/credentials#validFrom> \"2026-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .
_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#IdentityObject> .
_:c14n0 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#hashed> \"true\"^^<https://www.w3.org/2001/XMLSchema#boolean> .
_:c14n0 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#identityHash> \"sha256$00\" .
_:c14n0 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#identityType> \"emailAddress\" .
_:c14n0 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#salt> \"5a\" .
_:c14n1 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#AchievementSubject> .
_:c14n1 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement> <https://badges.acme.example/a> .
_:c14n1 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#identifier> _:c14n0 .
_:c14n2 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#narrative> \"C\" .
";
    assert_eq!(proof::canonical_nquads(&document).expect("canonical"), expected);
    let mut whole = document;
    whole["credentialSubject"]["achievement"]["creditsAvailable"] = 3.into();
    let canonical = proof::canonical_nquads(&whole).expect("canonical");
    assert!(
        canonical.contains("#creditsAvailable> \"3\"^^<https://www.w3.org/2001/XMLSchema#float> ."),
        "{canonical}"
    );
}
