//! Transactions as peers gossip them and clients submit them (borsh): selector 0 a
//! `SignedTransaction`, 1 an unsigned `Transaction`. An accepted transaction goes through the
//! node's stateless check (form and signature) and its JSON form must read back unchanged —
//! exactly, with no exception, when every key it names passed the form check's key rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::{decode_strict, json_round_trip, json_round_trip_exact, select};
use tally_types::tx::{SignedTransaction, Transaction, TxFormError, check_batch};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 2) else { return };
    match selector {
        0 => {
            if let Some(tx) = decode_strict::<SignedTransaction>(body) {
                let _ = tx.id();
                let alone = tx.check_form_and_signature();
                let batched = check_batch(std::slice::from_ref(&tx));
                let keys_checked = !matches!(
                    alone,
                    Err(TxFormError::NoOps | TxFormError::ZeroSeq | TxFormError::BadKey { .. } | TxFormError::BadSigner(_))
                );
                assert_eq!(batched, vec![alone], "the batch check disagrees with the single check");
                if keys_checked {
                    json_round_trip_exact(&tx);
                } else {
                    json_round_trip(&tx);
                }
            }
        }
        _ => {
            if let Some(tx) = decode_strict::<Transaction>(body) {
                json_round_trip(&tx);
            }
        }
    }
});
