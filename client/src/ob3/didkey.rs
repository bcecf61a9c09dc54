//! `did:key` for Ed25519 keys (W3C CCG did:key method, Ed25519 variant): the identifier is
//! `did:key:z` followed by base58btc of the multicodec prefix `0xed 0x01` and the 32-byte
//! public key, so it always starts `did:key:z6Mk`. The key's verification method is
//! `did:key:<id>#<id>`. A member's issuer key and the issuer of its badges are the same key
//! this way: the DID is computed from the key, nothing is looked up.

use tally_types::PublicKey;

/// The multicodec prefix of an Ed25519 public key (`ed25519-pub`, 0xed as an unsigned varint).
const ED25519_PUB_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// The `did:key` method prefix, with the base58btc multibase code `z`.
const DID_KEY_PREFIX: &str = "did:key:z";

/// Why a DID or verification method is not an Ed25519 `did:key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidKeyError {
    #[error("`{0}` is not a did:key in base58btc (it must start with `did:key:z`)")]
    NotDidKey(String),
    #[error("`{0}` is not valid base58btc")]
    NotBase58(String),
    #[error("`{0}` is not an Ed25519 did:key (multicodec 0xed01 and 32 bytes of key)")]
    NotEd25519(String),
    #[error("verification method `{0}` must be `did:key:<id>#<id>`, the key's own fragment")]
    BadFragment(String),
}

/// The `did:key` of an Ed25519 public key: `did:key:z6Mk…`.
pub fn did_key(key: &PublicKey) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_PUB_MULTICODEC);
    bytes.extend_from_slice(&key.0);
    format!("{DID_KEY_PREFIX}{}", bs58::encode(bytes).into_string())
}

/// The verification method of an Ed25519 `did:key`: `did:key:z6Mk…#z6Mk…`.
pub fn verification_method(key: &PublicKey) -> String {
    let did = did_key(key);
    let fragment = &did["did:key:".len()..];
    format!("{did}#{fragment}")
}

/// The public key a `did:key` names.
pub fn parse_did_key(did: &str) -> Result<PublicKey, DidKeyError> {
    let encoded = did.strip_prefix(DID_KEY_PREFIX).ok_or_else(|| DidKeyError::NotDidKey(did.to_owned()))?;
    let bytes = bs58::decode(encoded).into_vec().map_err(|_| DidKeyError::NotBase58(did.to_owned()))?;
    match bytes.split_first_chunk::<2>() {
        Some((prefix, key)) if *prefix == ED25519_PUB_MULTICODEC && key.len() == 32 => {
            let mut raw = [0u8; 32];
            raw.copy_from_slice(key);
            Ok(PublicKey(raw))
        }
        _ => Err(DidKeyError::NotEd25519(did.to_owned())),
    }
}

/// The key of a verification method `did:key:<id>#<id>`, and the DID (the controller) part.
pub fn parse_verification_method(method: &str) -> Result<(PublicKey, &str), DidKeyError> {
    let (did, fragment) =
        method.split_once('#').ok_or_else(|| DidKeyError::BadFragment(method.to_owned()))?;
    if Some(fragment) != did.strip_prefix("did:key:") {
        return Err(DidKeyError::BadFragment(method.to_owned()));
    }
    Ok((parse_did_key(did)?, did))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The did:key of the W3C vc-di-eddsa test vectors' key pair (its `publicKeyMultibase`).
    #[test]
    fn published_key_round_trips() {
        let did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
        let key = parse_did_key(did).expect("an Ed25519 did:key");
        assert_eq!(did_key(&key), did);
        let method = verification_method(&key);
        assert_eq!(method, format!("{did}#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"));
        assert_eq!(parse_verification_method(&method), Ok((key, did)));
    }

    #[test]
    fn other_dids_are_refused() {
        assert!(matches!(parse_did_key("did:web:acme.example"), Err(DidKeyError::NotDidKey(_))));
        assert!(matches!(parse_did_key("did:key:z0OIl"), Err(DidKeyError::NotBase58(_))));
        // A secp256k1 did:key (multicodec 0xe7).
        assert!(matches!(
            parse_did_key("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
            Err(DidKeyError::NotEd25519(_))
        ));
        let did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
        assert!(matches!(parse_verification_method(did), Err(DidKeyError::BadFragment(_))));
        assert!(matches!(
            parse_verification_method(&format!("{did}#key-1")),
            Err(DidKeyError::BadFragment(_))
        ));
    }
}
