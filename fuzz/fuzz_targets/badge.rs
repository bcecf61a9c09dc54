//! Badge documents (client/src/badge.rs, client/src/ob3): selector 0 an assertion as `tally
//! badge anchor` and `verify` read it (format detection and hash: JCS JSON or compact JWS), 1 a
//! badge receipt file, checked against the input's own hash, 2 an Open Badges 3.0 credential
//! (schema, eddsa-rdfc-2022 proof, validity window), 3 an achievements file, 4 a `did:key` and
//! a verification method.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_client::badge::{self, BadgeReceipt};
use tally_client::ob3::{credential, didkey, schema};
use tally_fuzz::select;

fn credential_steps(body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return };
    let _ = schema::check_credential(&value);
    let _ = credential::verify_issuer_proof(&value);
    let _ = credential::validity_window(&value);
    let _ = credential::check_validity(&value, 1_764_806_400);
    let _ = credential::issuer_id(&value);
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 5) else { return };
    match selector {
        0 => match badge::hash_assertion(body) {
            Ok(hashed) => {
                let again = badge::badge_hash(body, hashed.canon).expect("an assertion hashes twice");
                assert_eq!(again, hashed.hash, "hashing is not a function of the bytes");
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        },
        1 => {
            if let Ok(receipt) = BadgeReceipt::from_json(body) {
                let _ = receipt.verify_path(body);
                let _ = receipt.to_json();
            }
        }
        2 => credential_steps(body),
        3 => {
            if let Ok(achievements) = credential::parse_achievements(body) {
                let _ = schema::check_achievements(&achievements);
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(body) else { return };
            if let Ok(key) = didkey::parse_did_key(text) {
                assert_eq!(didkey::parse_did_key(&didkey::did_key(&key)), Ok(key));
            }
            let _ = didkey::parse_verification_method(text);
            if let Some(unix_s) = credential::parse_rfc3339(text) {
                let _ = credential::format_rfc3339(unix_s);
            }
        }
    }
});
