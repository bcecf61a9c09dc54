//! Transactions as peers gossip them and clients submit them (borsh): selector 0 a
//! `SignedTransaction`, 1 an unsigned `Transaction`. An accepted transaction goes through the
//! node's stateless check (form and signature) and its JSON form must read back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::{decode_strict, json_round_trip, select};
use tally_types::tx::{SignedTransaction, Transaction, check_batch};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 2) else { return };
    match selector {
        0 => {
            if let Some(tx) = decode_strict::<SignedTransaction>(body) {
                let _ = tx.id();
                let alone = tx.check_form_and_signature();
                let batched = check_batch(std::slice::from_ref(&tx));
                assert_eq!(batched, vec![alone], "the batch check disagrees with the single check");
                json_round_trip(&tx);
            }
        }
        _ => {
            if let Some(tx) = decode_strict::<Transaction>(body) {
                json_round_trip(&tx);
            }
        }
    }
});
