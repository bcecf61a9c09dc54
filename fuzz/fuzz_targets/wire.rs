//! The other network messages (tally_types::wire): selector 0 a `TxBatch` (transaction
//! gossip), 1 a `BlockRequest` and 2 a `BlockResponse` (sync and block fetch), 3 a
//! `CommittedBlock`. A gossiped batch goes through the node's batch check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::{decode_strict, golden, select};
use tally_types::tx::check_batch;
use tally_types::wire::{BlockRequest, BlockResponse, CommittedBlock, TxBatch};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 4) else { return };
    let golden = golden();
    match selector {
        0 => {
            if let Some(batch) = decode_strict::<TxBatch>(body) {
                assert_eq!(check_batch(&batch.0).len(), batch.0.len());
            }
        }
        1 => {
            let _ = decode_strict::<BlockRequest>(body);
        }
        2 => {
            let _ = decode_strict::<BlockResponse>(body);
        }
        _ => {
            if let Some(committed) = decode_strict::<CommittedBlock>(body) {
                let _ = committed.certificate.verify(&golden.chain_id, &golden.validators);
                let _ = committed.block.header.check_chain(&golden.chain_id, &golden.validators.hash());
            }
        }
    }
});
