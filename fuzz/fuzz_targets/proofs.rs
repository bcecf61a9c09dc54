//! What a node serves a client to check (borsh): selector 0 a `Receipt`, 1 a `MerkleProof`
//! (transaction, receipt and badge inclusion), 2 an `SmtProof` (state). Proofs are run
//! against a root and key taken from the input's first bytes, so verification paths are
//! reached as well as decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::{decode_strict, json_round_trip, select};
use tally_types::merkle::MerkleProof;
use tally_types::smt::SmtProof;
use tally_types::{Hash, Receipt};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 3) else { return };
    let leaf = Hash::plain(&body[..body.len().min(8)]);
    let root = Hash::plain(&body[..body.len().min(4)]);
    match selector {
        0 => {
            if let Some(receipt) = decode_strict::<Receipt>(body) {
                json_round_trip(&receipt);
            }
        }
        1 => {
            if let Some(proof) = decode_strict::<MerkleProof>(body) {
                let _ = proof.verify(leaf, &root);
                json_round_trip(&proof);
            }
        }
        _ => {
            if let Some(proof) = decode_strict::<SmtProof>(body) {
                let _ = proof.compute_root(&leaf);
                let _ = proof.verify(&root, &leaf, None);
                let _ = proof.verify(&root, &leaf, Some(&root));
            }
        }
    }
});
