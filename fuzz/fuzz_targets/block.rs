//! Blocks and certificates as sync, gossip and the API carry them: selector 0 a `Header`, 1 a
//! `Block`, 2 a `Certificate`. Accepted values go through the checks a receiver runs (chain and
//! validator-set hash, certificate signatures against the golden validator set).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::{decode_strict, golden, json_round_trip, select};
use tally_types::{Block, Certificate, Header};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 3) else { return };
    let golden = golden();
    match selector {
        0 => {
            if let Some(header) = decode_strict::<Header>(body) {
                json_round_trip(&header);
            }
        }
        1 => {
            if let Some(block) = decode_strict::<Block>(body) {
                let _ = block.id();
                let _ = block.header.check_chain(&golden.chain_id, &golden.validators.hash());
                json_round_trip(&block);
            }
        }
        _ => {
            if let Some(certificate) = decode_strict::<Certificate>(body) {
                let _ = certificate.verify(&golden.chain_id, &golden.validators);
                json_round_trip(&certificate);
            }
        }
    }
});
