//! Open Badges 3.0 credentials (docs/ARCHITECTURE.md "Badges"): achievements a provider
//! defines, `OpenBadgeCredential`s issued to developers and signed with an embedded Data
//! Integrity proof (`eddsa-rdfc-2022`) by the member's issuer key as a `did:key`, and the
//! checks a verifier runs on the credential itself: the OB 3.0 JSON schema, the proof, the
//! validity window.
//!
//! Invariants:
//! - Nothing is fetched: JSON-LD contexts and the JSON schemas are bundled
//!   (`client/contexts/`, `client/schemas/`); a context we do not bundle is an error.
//! - Canonicalization never drops a member: a term the contexts do not define is an error
//!   ([`proof`]), so every member of a signed credential is covered by its signature.
//! - The issuer of a credential we sign is the `did:key` of the signing key, and the proof's
//!   verification method is that key's: a verifier ties the credential to a ledger issuer key
//!   by computing, not by looking anything up.

pub mod contexts;
pub mod credential;
pub mod didkey;
pub mod proof;
pub mod schema;

/// Why a credential or achievement could not be built, canonicalized, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ob3Error {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("the document has no @context")]
    NoContext,
    #[error("context `{0}` is not bundled with this client, and nothing is fetched at run time")]
    UnknownContext(String),
    #[error("JSON-LD expansion or RDF canonicalization failed: {0}")]
    Canonicalization(String),
    #[error("the document already has a proof")]
    AlreadySigned,
    #[error("the credential has no embedded proof")]
    NoProof,
    #[error("the proof's {field} is `{found}`; this client checks `{expected}`")]
    ProofUnsupported { field: &'static str, expected: &'static str, found: String },
    #[error("the proof is malformed: {0}")]
    ProofMalformed(String),
    #[error(transparent)]
    DidKey(#[from] didkey::DidKeyError),
    #[error(
        "the signature does not verify with the key of {verification_method} (a claim was changed, or another key signed)"
    )]
    BadSignature { verification_method: String },
    #[error("{0}")]
    Schema(String),
    #[error("{0}")]
    Invalid(String),
}
