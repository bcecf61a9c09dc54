//! Consensus messages between validators and the records of the write-ahead log: selector 0 a
//! `Message` (what the engine decodes from every consensus peer), 1 a `Vote`, 2 a `Proposal`,
//! 3 a `WalEntry`, 4 a `ValidatorSet`. Votes and proposals are verified against the golden
//! validator set, as the core verifies them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_consensus::{Message, WalEntry};
use tally_fuzz::{decode_strict, golden, select};
use tally_types::{Proposal, ValidatorSet, Vote};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 5) else { return };
    let golden = golden();
    match selector {
        0 => {
            if let Some(message) = decode_strict::<Message>(body) {
                let _ = message.view();
                match &message {
                    Message::Proposal(proposal) => {
                        drop(proposal.verify(&golden.chain_id, &golden.validators))
                    }
                    Message::Vote(vote) => drop(vote.verify(&golden.chain_id, &golden.validators)),
                    Message::Certificate(certificate) => {
                        drop(certificate.verify(&golden.chain_id, &golden.validators))
                    }
                }
            }
        }
        1 => {
            if let Some(vote) = decode_strict::<Vote>(body) {
                let _ = vote.verify(&golden.chain_id, &golden.validators);
            }
        }
        2 => {
            if let Some(proposal) = decode_strict::<Proposal>(body) {
                let _ = proposal.verify(&golden.chain_id, &golden.validators);
            }
        }
        3 => {
            if let Some(entry) = decode_strict::<WalEntry>(body) {
                let _ = entry.view();
            }
        }
        _ => {
            if let Some(set) = decode_strict::<ValidatorSet>(body) {
                let _ = set.hash();
                let _ = set.leader(tally_types::View(u64::from(set.len() as u32) * 3 + 1));
            }
        }
    }
});
