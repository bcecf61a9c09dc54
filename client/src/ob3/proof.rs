//! Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite (W3C "Data Integrity EdDSA
//! Cryptosuites v1.0" §3.2), the suite the Open Badges 3.0 conformance tests check.
//!
//! Signing and verifying follow the suite's algorithms:
//! 1. the proof configuration is the proof's options (type `DataIntegrityProof`, cryptosuite,
//!    created, verificationMethod, proofPurpose) under the document's `@context`;
//! 2. the document without its `proof`, and the proof configuration, are each expanded as
//!    JSON-LD (contexts from [`super::contexts`], never fetched) to RDF and canonicalized with
//!    RDFC-1.0;
//! 3. the signed bytes are SHA-256 of the canonical proof configuration followed by SHA-256
//!    of the canonical document (64 bytes), signed with plain Ed25519; the proof value is the
//!    signature in multibase base58btc (`z…`).
//!
//! Expansion runs in safe mode: a member the contexts do not define is an error naming it,
//! not dropped. Lenient JSON-LD expansion drops undefined terms, so such a member would ride
//! along unsigned: changing it would not break the proof.
//!
//! The signature carries no Tally namespace (STYLE.md): the suite fixes the signed bytes, and
//! they are already bound to their use, since the hashed proof configuration names the
//! cryptosuite and the proof purpose.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tally_types::{PublicKey, SecretKey, Signature};

use super::{Ob3Error, contexts, didkey};

/// The proof type of every Data Integrity proof.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The cryptosuite this module signs and verifies.
pub const CRYPTOSUITE: &str = "eddsa-rdfc-2022";
/// The proof purpose of an issuer's assertion (W3C VC data model: the issuer asserts the claims).
pub const PROOF_PURPOSE: &str = "assertionMethod";

/// The options of a proof to make: when and with which key.
#[derive(Clone, Debug)]
pub struct ProofOptions {
    /// RFC 3339 date-time, e.g. `2026-12-04T18:00:00Z`.
    pub created: String,
    /// `did:key:z6Mk…#z6Mk…`.
    pub verification_method: String,
}

/// A proof that verified: the key that made it and its verification method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    pub key: PublicKey,
    pub verification_method: String,
    /// The DID part of the verification method (the key's controller).
    pub controller: String,
    pub created: Option<String>,
}

/// RDFC-1.0 canonical N-Quads of a JSON-LD document, its contexts inlined from the bundle and
/// expanded in safe mode.
pub fn canonical_nquads(document: &Value) -> Result<String, Ob3Error> {
    let inlined = contexts::inline(document)?;
    let dataset = affinidi_rdf_encoding::jsonld::expand_and_to_rdf_safe(&inlined)
        .map_err(|error| Ob3Error::Canonicalization(error.to_string()))?;
    affinidi_rdf_encoding::rdfc1::canonicalize(&dataset)
        .map_err(|error| Ob3Error::Canonicalization(error.to_string()))
}

/// The 64 bytes the suite signs: SHA-256 of the canonical proof configuration, then of the
/// canonical document.
fn hash_data(unsecured: &Value, proof_config: &Value) -> Result<[u8; 64], Ob3Error> {
    let config_hash = Sha256::digest(canonical_nquads(proof_config)?.as_bytes());
    let document_hash = Sha256::digest(canonical_nquads(unsecured)?.as_bytes());
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&config_hash);
    out[32..].copy_from_slice(&document_hash);
    Ok(out)
}

/// The proof configuration: the proof without its value, under the document's `@context`.
fn proof_config(document_context: &Value, proof: &Map<String, Value>) -> Value {
    let mut config = proof.clone();
    config.remove("proofValue");
    config.insert("@context".to_owned(), document_context.clone());
    Value::Object(config)
}

/// The proof options as a JSON object, without a value.
fn options_object(options: &ProofOptions) -> Map<String, Value> {
    let mut proof = Map::new();
    proof.insert("type".to_owned(), PROOF_TYPE.into());
    proof.insert("cryptosuite".to_owned(), CRYPTOSUITE.into());
    proof.insert("created".to_owned(), options.created.clone().into());
    proof.insert("verificationMethod".to_owned(), options.verification_method.clone().into());
    proof.insert("proofPurpose".to_owned(), PROOF_PURPOSE.into());
    proof
}

/// The proof value (`z` + base58btc of the signature) over `document` (which must have no
/// `proof`) with `options`, signed by `key`.
pub fn proof_value(document: &Value, options: &ProofOptions, key: &SecretKey) -> Result<String, Ob3Error> {
    let context = document.get("@context").ok_or(Ob3Error::NoContext)?;
    let config = proof_config(context, &options_object(options));
    let signed = hash_data(document, &config)?;
    let signature = key.sign_raw(&signed);
    Ok(format!("z{}", bs58::encode(signature.0).into_string()))
}

/// `document` with an embedded `eddsa-rdfc-2022` proof by `key`, made with `options`.
pub fn sign(document: &Value, options: &ProofOptions, key: &SecretKey) -> Result<Value, Ob3Error> {
    let Value::Object(map) = document else { return Err(Ob3Error::NotAnObject) };
    if map.contains_key("proof") {
        return Err(Ob3Error::AlreadySigned);
    }
    let value = proof_value(document, options, key)?;
    let mut proof = options_object(options);
    proof.insert("proofValue".to_owned(), value.into());
    let mut secured = map.clone();
    secured.insert("proof".to_owned(), Value::Object(proof));
    Ok(Value::Object(secured))
}

/// True when `document` carries a `proof` member (a Data Integrity proof of any suite).
pub fn has_proof(document: &Value) -> bool {
    document.get("proof").is_some()
}

/// Verifies the embedded `eddsa-rdfc-2022` proof of `document`, whose key comes from its
/// `did:key` verification method. Only one proof is accepted; another suite, purpose or
/// proof type is an error naming it.
pub fn verify(document: &Value) -> Result<VerifiedProof, Ob3Error> {
    let Value::Object(map) = document else { return Err(Ob3Error::NotAnObject) };
    let proof = match map.get("proof") {
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(proofs)) if proofs.len() == 1 => match &proofs[0] {
            Value::Object(proof) => proof,
            _ => return Err(Ob3Error::ProofMalformed("the proof is not an object".into())),
        },
        Some(Value::Array(proofs)) => {
            return Err(Ob3Error::ProofMalformed(format!(
                "{} proofs; one eddsa-rdfc-2022 proof is expected",
                proofs.len()
            )));
        }
        Some(_) => return Err(Ob3Error::ProofMalformed("the proof is not an object".into())),
        None => return Err(Ob3Error::NoProof),
    };
    let text = |name: &str| proof.get(name).and_then(Value::as_str);
    let expect = |name: &'static str, wanted: &'static str| match text(name) {
        Some(found) if found == wanted => Ok(()),
        found => Err(Ob3Error::ProofUnsupported {
            field: name,
            expected: wanted,
            found: found.unwrap_or("(none)").to_owned(),
        }),
    };
    expect("type", PROOF_TYPE)?;
    expect("cryptosuite", CRYPTOSUITE)?;
    expect("proofPurpose", PROOF_PURPOSE)?;
    let method = text("verificationMethod")
        .ok_or_else(|| Ob3Error::ProofMalformed("the proof has no verificationMethod".into()))?;
    let (key, controller) = didkey::parse_verification_method(method)?;
    let encoded =
        text("proofValue").ok_or_else(|| Ob3Error::ProofMalformed("the proof has no proofValue".into()))?;
    let signature = decode_proof_value(encoded)?;

    let mut unsecured = map.clone();
    unsecured.remove("proof");
    let mut context = map.get("@context").ok_or(Ob3Error::NoContext)?.clone();
    // A proof may carry a context (vc-di-eddsa §3.2.2 step 3): it must begin the document's
    // context, and then stands for it in both canonicalizations.
    let mut options = proof.clone();
    if let Some(proof_context) = options.remove("@context") {
        let as_list = |value: &Value| match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let (ours, theirs) = (as_list(&context), as_list(&proof_context));
        if theirs.len() > ours.len() || ours[..theirs.len()] != theirs[..] {
            return Err(Ob3Error::ProofMalformed(
                "the proof's @context does not begin the credential's @context".into(),
            ));
        }
        context = proof_context;
        unsecured.insert("@context".to_owned(), context.clone());
    }
    let config = proof_config(&context, &options);
    let signed = hash_data(&Value::Object(unsecured), &config)?;
    key.verify_raw(&signed, &signature)
        .map_err(|_| Ob3Error::BadSignature { verification_method: method.to_owned() })?;
    Ok(VerifiedProof {
        key,
        verification_method: method.to_owned(),
        controller: controller.to_owned(),
        created: text("created").map(str::to_owned),
    })
}

/// A multibase base58btc proof value: `z` and 64 bytes of signature.
fn decode_proof_value(encoded: &str) -> Result<Signature, Ob3Error> {
    let malformed = |why: &str| Ob3Error::ProofMalformed(format!("proofValue {why}"));
    let body = encoded.strip_prefix('z').ok_or_else(|| malformed("is not multibase base58btc (`z…`)"))?;
    let bytes = bs58::decode(body).into_vec().map_err(|_| malformed("is not base58btc"))?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| malformed("is not 64 bytes of Ed25519 signature"))?;
    Ok(Signature(bytes))
}
