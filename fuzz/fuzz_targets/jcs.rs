//! JSON Canonicalization Scheme (client/src/jcs.rs), which badge hashes are computed over. An
//! accepted document's canonical form must be a fixed point (canonicalizing it again changes
//! nothing) and valid JSON to an independent parser (serde_json).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_client::jcs;

fuzz_target!(|data: &[u8]| {
    match jcs::canonicalize_bytes(data) {
        Ok(canonical) => {
            let again = jcs::canonicalize_bytes(&canonical)
                .unwrap_or_else(|error| panic!("a canonical form does not parse: {error}"));
            assert_eq!(again, canonical, "canonicalization is not idempotent");
            serde_json::from_slice::<serde_json::Value>(&canonical)
                .unwrap_or_else(|error| panic!("a canonical form is not JSON to serde_json: {error}"));
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
