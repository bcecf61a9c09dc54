//! Shared pieces of Tally's fuzz targets: the strict-decode oracle every binary decoder goes
//! through, and the golden chain (keys, validator set, chain id) the decoded values are
//! checked against, read from the golden vectors the types crate pins its formats with.
//!
//! Every target follows one rule: bytes from outside may be refused, never crash the process,
//! and whatever is accepted must mean one thing (one encoding, a faithful JSON form).

use std::fmt::Debug;
use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use tally_types::codec::Bounded;
use tally_types::{ChainId, SecretKey, ValidatorSet, decode, encode};

/// The golden vectors of `node/types/tests/golden`, compiled in so a target needs no files.
pub const GOLDEN_VECTORS: &str = include_str!("../../node/types/tests/golden/vectors.json");

/// Decodes `bytes` with the node's strict decoder. An accepted value must re-encode to exactly
/// `bytes` and decode again to itself; a refusal must render its message (the text a peer or
/// an operator sees).
pub fn decode_strict<T>(bytes: &[u8]) -> Option<T>
where
    T: BorshDeserialize + BorshSerialize + Bounded + PartialEq + Debug,
{
    match decode::<T>(bytes) {
        Ok(value) => {
            let again = encode(&value);
            assert_eq!(again, bytes, "an accepted value re-encodes differently");
            let back = decode::<T>(&again).expect("a value's own encoding decodes");
            assert_eq!(back, value, "decoding is not a function of the bytes");
            Some(value)
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            None
        }
    }
}

/// A value's JSON form (what the HTTP API serves) must read back as the same value.
///
/// One exception is let through: a public key that is not a valid point, or is weak. The wire
/// codec does not check points (tally_types::keys: decoding stays cheap and canonical); the
/// ledger refuses such keys in every transaction it takes (`TxFormError::BadKey`, a
/// transaction's form check), and JSON readers refuse them. Bytes decoded here have not been
/// through that check, so their JSON may not read back; values the ledger accepted always do
/// ([`json_round_trip_exact`], the `tx` target).
pub fn json_round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(value).expect("a decoded value serializes to JSON");
    match serde_json::from_str::<T>(&text) {
        Ok(back) => assert_eq!(&back, value, "the JSON form changes the value"),
        Err(error) if is_unchecked_key(&error.to_string()) => {}
        Err(error) => panic!("the JSON form of an accepted value does not read back: {error}: {text}"),
    }
}

/// [`json_round_trip`] with no exception: for values whose keys passed the ledger's key check.
pub fn json_round_trip_exact<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(value).expect("a decoded value serializes to JSON");
    match serde_json::from_str::<T>(&text) {
        Ok(back) => assert_eq!(&back, value, "the JSON form changes the value"),
        Err(error) => panic!("the JSON form of a value with valid keys does not read back: {error}: {text}"),
    }
}

/// Whether a JSON error is the strict key check refusing a key the wire codec let through.
fn is_unchecked_key(message: &str) -> bool {
    [
        "public key is not a valid ed25519 point",
        "public key is weak",
    ]
    .iter()
    .any(|known| message.starts_with(known))
}

/// The golden chain: its id, the validator set and the validators' secret keys.
pub struct Golden {
    pub chain_id: ChainId,
    pub validators: ValidatorSet,
    pub validator_keys: Vec<SecretKey>,
}

/// The golden chain, parsed once per process.
pub fn golden() -> &'static Golden {
    static GOLDEN: OnceLock<Golden> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let vectors: serde_json::Value =
            serde_json::from_str(GOLDEN_VECTORS).expect("golden vectors are JSON");
        let chain_id =
            ChainId::new(vectors["chain_id"].as_str().expect("chain_id")).expect("golden chain id");
        let validator_keys: Vec<SecretKey> = vectors["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter(|key| key["name"].as_str().is_some_and(|name| name.starts_with("validator-")))
            .map(|key| {
                let seed: [u8; 32] = hex::decode(key["seed"].as_str().expect("seed"))
                    .expect("hex seed")
                    .try_into()
                    .expect("32-byte seed");
                SecretKey::from_seed(&seed)
            })
            .collect();
        let validators = ValidatorSet::new(validator_keys.iter().map(SecretKey::public_key).collect())
            .expect("golden validator set");
        Golden { chain_id, validators, validator_keys }
    })
}

/// Splits a selector byte off the input: which of `count` decoders the rest goes to. The seed
/// corpora (scripts/fuzz.sh) prefix each golden value with its decoder's selector.
pub fn select(data: &[u8], count: u8) -> Option<(u8, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((first % count, rest))
}
