//! The JSON-LD contexts a credential may name, bundled in the binary so that nothing is
//! fetched at run time (a fetched context could change what a signed credential means).
//! Sources and licences: `client/contexts/NOTICE.md`.
//!
//! The RDF canonicalization crate resolves only the few context URLs it bundles itself, so
//! before canonicalizing, every context URL is replaced by the bundled context's content,
//! inline: JSON-LD processes an inline context exactly as the same context fetched from its
//! URL (it is the document's `@context` member either way), so the RDF dataset, and with it
//! the signature, is unchanged. A URL we do not bundle is an error naming it.

use serde_json::Value;

use super::Ob3Error;

/// The Verifiable Credentials data model 2.0 context.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The Verifiable Credentials data model 1.1 context, used by credentials made under the
/// Open Badges 3.0 contexts before 3.0.3.
pub const CREDENTIALS_V1: &str = "https://www.w3.org/2018/credentials/v1";
/// The Open Badges 3.0 context this client issues with.
pub const OPEN_BADGES_3_0_3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// Each bundled context: its URL and its document (an object with one `@context` member).
const BUNDLED: [(&str, &str); 8] = [
    (CREDENTIALS_V2, include_str!("../../contexts/credentials-v2.jsonld")),
    (CREDENTIALS_V1, include_str!("../../contexts/credentials-v1.jsonld")),
    ("https://w3id.org/security/data-integrity/v2", include_str!("../../contexts/data-integrity-v2.jsonld")),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
        include_str!("../../contexts/ob-v3p0-context-3.0.jsonld"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        include_str!("../../contexts/ob-v3p0-context-3.0.1.jsonld"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        include_str!("../../contexts/ob-v3p0-context-3.0.2.jsonld"),
    ),
    (OPEN_BADGES_3_0_3, include_str!("../../contexts/ob-v3p0-context-3.0.3.jsonld")),
    // The VC 2.0 context's own examples vocabulary: only the W3C test vectors use it.
    (
        "https://www.w3.org/ns/credentials/examples/v2",
        r#"{"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}"#,
    ),
];

/// The URLs of every bundled context.
pub fn bundled_urls() -> impl Iterator<Item = &'static str> {
    BUNDLED.iter().map(|(url, _)| *url)
}

/// The `@context` value of the bundled context at `url`.
fn bundled(url: &str) -> Option<Value> {
    let (_, text) = BUNDLED.iter().find(|(known, _)| *known == url)?;
    let mut document: Value =
        serde_json::from_str(text).expect("bundled contexts are JSON (checked by a test)");
    document.get_mut("@context").map(Value::take)
}

/// `document` with every `@context` URL, at any depth, replaced by the bundled context.
pub fn inline(document: &Value) -> Result<Value, Ob3Error> {
    let mut copy = document.clone();
    inline_in_place(&mut copy)?;
    Ok(copy)
}

fn inline_in_place(value: &mut Value) -> Result<(), Ob3Error> {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if key == "@context" {
                    inline_context_value(member)?;
                } else {
                    inline_in_place(member)?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                inline_in_place(item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn inline_context_value(context: &mut Value) -> Result<(), Ob3Error> {
    match context {
        Value::String(url) => {
            *context = bundled(url).ok_or_else(|| Ob3Error::UnknownContext(url.clone()))?;
        }
        Value::Array(items) => {
            for item in items {
                inline_context_value(item)?;
            }
        }
        // Inline definitions stay; their scoped contexts are objects already.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_context_parses_and_has_a_context() {
        for url in bundled_urls() {
            let context = bundled(url).unwrap_or_else(|| panic!("{url}"));
            assert!(context.is_object(), "{url}");
        }
    }

    #[test]
    fn an_unknown_context_is_named() {
        let document = serde_json::json!({"@context": [CREDENTIALS_V2, "https://evil.example/ctx"]});
        match inline(&document) {
            Err(Ob3Error::UnknownContext(url)) => assert_eq!(url, "https://evil.example/ctx"),
            other => panic!("{other:?}"),
        }
    }
}
