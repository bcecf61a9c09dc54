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
    let mut natives = Vec::new();
    let marked = mark_natives(&inlined, &mut natives);
    let expanded = affinidi_rdf_encoding::jsonld::expand::expand_document_safe(&marked)
        .map_err(|error| Ob3Error::Canonicalization(error.to_string()))?;
    let expanded = restore_natives(expanded, &natives)?;
    let dataset = affinidi_rdf_encoding::jsonld::to_rdf::to_rdf(&expanded)
        .map_err(|error| Ob3Error::Canonicalization(error.to_string()))?;
    affinidi_rdf_encoding::rdfc1::canonicalize(&dataset)
        .map_err(|error| Ob3Error::Canonicalization(error.to_string()))
}

// Native JSON booleans and numbers under a term with a datatype (`"hashed": true` under Open
// Badges' `"@type": "…XMLSchema#boolean"`, `creditsAvailable` as `xsd:float`) must become
// literals of that datatype (JSON-LD 1.1 §5.3.2 value expansion, §8.6 object to RDF).
// `affinidi-rdf-encoding` 0.1.7 drops the datatype of a native boolean and writes a typed
// native number as JSON does (`3.5` where JSON-LD writes `3.5E0`), so its RDF would differ
// from every other implementation's and the signatures would not interoperate (found by
// tests/ob3-interop). Until it is fixed there, each native boolean or number is swapped for a
// marker string before expansion, which then carries the term's datatype (if any) like any
// string, and swapped back in the expanded form with the lexical form JSON-LD prescribes.

/// The marker that stands for native value `index` during expansion: control characters no
/// JSON-LD term, IRI or real value holds.
fn native_marker(index: usize) -> String {
    format!("\u{1}tally-native-{index}\u{1}")
}

/// The index of the native value a string (a value or an expanded IRI) marks, if it does.
fn marked_index(text: &str) -> Option<usize> {
    let start = text.find("\u{1}tally-native-")? + "\u{1}tally-native-".len();
    let end = start + text[start..].find('\u{1}')?;
    text[start..end].parse().ok()
}

/// `value` with every native boolean and number outside `@context` replaced by its marker,
/// the originals collected in `natives`.
fn mark_natives(value: &Value, natives: &mut Vec<Value>) -> Value {
    match value {
        Value::Bool(_) | Value::Number(_) => {
            natives.push(value.clone());
            Value::String(native_marker(natives.len() - 1))
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| mark_natives(item, natives)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, member)| {
                    let member =
                        if key == "@context" { member.clone() } else { mark_natives(member, natives) };
                    (key.clone(), member)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The expanded form with each marker replaced: a marked value with a datatype becomes the
/// typed literal JSON-LD makes of the native value; one without (or under an `@id`-typed
/// term, which applies only to strings) the native value again; inside `@json` literals the
/// native value.
fn restore_natives(expanded: Value, natives: &[Value]) -> Result<Value, Ob3Error> {
    let native = |text: &str| -> Result<Option<&Value>, Ob3Error> {
        match marked_index(text) {
            None => Ok(None),
            Some(index) => natives.get(index).map(Some).ok_or_else(|| {
                Ob3Error::Canonicalization("a value marker was changed during expansion".into())
            }),
        }
    };
    Ok(match expanded {
        Value::Array(items) => Value::Array(
            items.into_iter().map(|item| restore_natives(item, natives)).collect::<Result<_, _>>()?,
        ),
        Value::Object(mut map) => {
            let datatype = map.get("@type").and_then(Value::as_str).map(str::to_owned);
            if datatype.as_deref() == Some("@json") {
                if let Some(literal) = map.remove("@value") {
                    map.insert("@value".to_owned(), restore_json_literal(literal, natives));
                }
                return Ok(Value::Object(map));
            }
            if let Some(Value::String(text)) = map.get("@value")
                && let Some(value) = native(text)?
            {
                map.remove("@language");
                let literal = match &datatype {
                    Some(datatype) => Value::String(typed_lexical_form(value, datatype)),
                    None => value.clone(),
                };
                map.insert("@value".to_owned(), literal);
                return Ok(Value::Object(map));
            }
            if let Some(Value::String(iri)) = map.get("@id")
                && let Some(value) = native(iri)?
            {
                return Ok(serde_json::json!({ "@value": value }));
            }
            Value::Object(
                map.into_iter()
                    .map(|(key, member)| Ok((key, restore_natives(member, natives)?)))
                    .collect::<Result<_, Ob3Error>>()?,
            )
        }
        other => other,
    })
}

/// A `@json` literal with its markers replaced by the native values they stand for.
fn restore_json_literal(value: Value, natives: &[Value]) -> Value {
    match value {
        Value::String(text) => match marked_index(&text).and_then(|index| natives.get(index)) {
            Some(native) => native.clone(),
            None => Value::String(text),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|item| restore_json_literal(item, natives)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(key, member)| (key, restore_json_literal(member, natives))).collect(),
        ),
        other => other,
    }
}

/// The lexical form JSON-LD's object-to-RDF conversion gives a native value under `datatype`:
/// `true`/`false`; a number with a fractional part, or any number under `xsd:double`, in the
/// canonical `xsd:double` form (`5.3E0`); other numbers as integers.
fn typed_lexical_form(value: &Value, datatype: &str) -> String {
    match value {
        Value::Number(number) => {
            let is_double = datatype == "http://www.w3.org/2001/XMLSchema#double";
            match (number.as_i64(), number.as_u64(), number.as_f64()) {
                (Some(integer), _, _) if !is_double => integer.to_string(),
                (_, Some(integer), _) if !is_double => integer.to_string(),
                (_, _, Some(float)) if float.fract() == 0.0 && !is_double && float.abs() < 1e21 => {
                    format!("{float:.0}")
                }
                (_, _, Some(float)) => canonical_double(float),
                _ => number.to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// The canonical `xsd:double` lexical form as JSON-LD processors write it (`toExponential(15)`
/// with the mantissa's trailing zeros removed): `5.3E0`, `1.0E-5`.
fn canonical_double(value: f64) -> String {
    let formatted = format!("{value:.15e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let mantissa = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            format!("{whole}.{}", if fraction.is_empty() { "0" } else { fraction })
        }
        None => format!("{mantissa}.0"),
    };
    format!("{mantissa}E{exponent}")
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
