//! Decoding untrusted bytes never allocates more than a small constant plus a small multiple
//! of the input's length: a claimed length of u32::MAX costs nothing, and neither does any
//! random or mutated input.
//!
//! The counting allocator is process-wide, so this file holds exactly one `#[test]`: no other
//! test thread allocates while it measures. (The harness's main thread only waits.)

mod support;

use std::alloc::System;
use std::fmt::Debug;

use borsh::{BorshDeserialize, BorshSerialize};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;
use tally_types::block::Block;
use tally_types::codec::{Bounded, decode, encode};
use tally_types::consensus::{Certificate, Proposal, ValidatorSet, Vote};
use tally_types::merkle::MerkleProof;
use tally_types::receipt::{Fill, Receipt};
use tally_types::tx::{Op, SignedTransaction, Transaction};
use tally_types::{Header, limits};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What any decode may allocate regardless of input: error messages, the first chunk of each
/// nested list (`BoundedVec` reserves at most 64 elements before reading them), and so on.
const FIXED_ALLOWANCE_BYTES: usize = 64 * 1024;
/// What it may allocate per input byte: in-memory values are larger than their encodings (a
/// 17-byte `Void` op occupies a whole `Op`), but only by a constant factor.
const PER_INPUT_BYTE: usize = 64;

/// Bytes allocated while decoding `bytes` as `T` (the result is dropped inside the region).
fn allocated_by_decode<T>(bytes: &[u8]) -> usize
where
    T: BorshSerialize + BorshDeserialize + Bounded + Debug,
{
    let region = Region::new(GLOBAL);
    let result = decode::<T>(bytes);
    drop(result);
    region.change().bytes_allocated
}

fn assert_bounded<T>(bytes: &[u8], what: &str) -> usize
where
    T: BorshSerialize + BorshDeserialize + Bounded + Debug,
{
    let allocated = allocated_by_decode::<T>(bytes);
    let limit = FIXED_ALLOWANCE_BYTES + PER_INPUT_BYTE * bytes.len();
    assert!(
        allocated <= limit,
        "{what}: decoding {} bytes allocated {allocated} bytes (limit {limit})",
        bytes.len()
    );
    allocated
}

fn with_u32_at(bytes: &[u8], offset: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    out
}

fn claimed_lengths_cost_nothing() {
    // One small valid value of each type, and the offset of one of its length prefixes.
    let mut runner = TestRunner::deterministic();
    let mut sample =
        |strategy: BoxedStrategy<Vec<u8>>| strategy.new_tree(&mut runner).expect("generates").current();
    let tx_bytes = sample(transaction_with(2).prop_map(|tx| encode(&tx)).boxed());
    let block_bytes = sample(block().prop_map(|block| encode(&block)).boxed());
    let set_bytes = sample(validator_set().prop_map(|set| encode(&set)).boxed());
    let proof_bytes = sample(merkle_proof().prop_map(|proof| encode(&proof)).boxed());
    let header_bytes = sample(header().prop_map(|header| encode(&header)).boxed());

    for claimed in [u32::MAX, u32::MAX - 1, 1 << 31, 1 << 24] {
        // A chain id that claims gigabytes, at the very start of a transaction and a block.
        let allocated = assert_bounded::<Transaction>(&with_u32_at(&tx_bytes, 0, claimed), "chain id length");
        assert!(allocated < 4096, "a refused chain id length allocated {allocated} bytes");
        assert_bounded::<Block>(&with_u32_at(&block_bytes, 0, claimed), "header chain id length");
        assert_bounded::<ValidatorSet>(&with_u32_at(&set_bytes, 0, claimed), "validator list length");
        assert_bounded::<MerkleProof>(&with_u32_at(&proof_bytes, 16, claimed), "sibling list length");
        // Every position in a transaction, read as a length prefix.
        for offset in 0..tx_bytes.len() - 4 {
            assert_bounded::<Transaction>(
                &with_u32_at(&tx_bytes, offset, claimed),
                "a transaction with a huge u32",
            );
        }
        for offset in 0..block_bytes.len().min(2048) - 4 {
            assert_bounded::<Block>(&with_u32_at(&block_bytes, offset, claimed), "a block with a huge u32");
        }
    }

    // Each list claiming exactly its limit, with no data behind the claim: the decoder may
    // reserve a first chunk, but never room for the whole claimed list.
    let mut block_claim = header_bytes.clone();
    block_claim.extend_from_slice(&(limits::BLOCK_TXS_MAX as u32).to_le_bytes());
    assert_bounded::<Block>(&block_claim, "a block claiming the most transactions");
    let mut receipt_claim = vec![0u8; 32 + 1];
    receipt_claim.extend_from_slice(&(limits::RECEIPT_FILLS_MAX as u32).to_le_bytes());
    assert_bounded::<Receipt>(&receipt_claim, "a receipt claiming the most fills");
    // Reserving the claimed lists up front would break the bound, so the two checks above
    // can fail.
    let reserve_all_txs = limits::BLOCK_TXS_MAX * size_of::<SignedTransaction>();
    let reserve_all_fills = limits::RECEIPT_FILLS_MAX * size_of::<Fill>();
    assert!(reserve_all_txs > FIXED_ALLOWANCE_BYTES + PER_INPUT_BYTE * block_claim.len());
    assert!(reserve_all_fills > FIXED_ALLOWANCE_BYTES + PER_INPUT_BYTE * receipt_claim.len());
    assert_bounded::<ValidatorSet>(
        &(limits::VALIDATORS_MAX as u32).to_le_bytes(),
        "a set claiming the most validators",
    );
}

fn random_and_mutated_inputs_cost_little() {
    let mut runner = TestRunner::new(Config { cases: 1024, failure_persistence: None, ..Config::default() });
    runner
        .run(&vec(any::<u8>(), 0..2048), |bytes| {
            assert_bounded::<Transaction>(&bytes, "random transaction");
            assert_bounded::<SignedTransaction>(&bytes, "random signed transaction");
            assert_bounded::<Header>(&bytes, "random header");
            assert_bounded::<Block>(&bytes, "random block");
            assert_bounded::<Vote>(&bytes, "random vote");
            assert_bounded::<Proposal>(&bytes, "random proposal");
            assert_bounded::<Certificate>(&bytes, "random certificate");
            assert_bounded::<ValidatorSet>(&bytes, "random validator set");
            assert_bounded::<Receipt>(&bytes, "random receipt");
            assert_bounded::<MerkleProof>(&bytes, "random proof");
            assert_bounded::<Alone<Op>>(&bytes, "random op");
            Ok(())
        })
        .expect("random inputs stay within the allocation bound");

    let mut runner = TestRunner::new(Config { cases: 1024, failure_persistence: None, ..Config::default() });
    runner
        .run(&(block(), vec(mutation(), 1..=4)), |(block, mutations)| {
            let mut bytes = encode(&block);
            for mutation in &mutations {
                apply(&mut bytes, mutation);
            }
            assert_bounded::<Block>(&bytes, "mutated block");
            Ok(())
        })
        .expect("mutated blocks stay within the allocation bound");

    let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
    runner
        .run(&(receipt(), certificate(), vec(mutation(), 1..=4)), |(receipt, certificate, mutations)| {
            for (bytes, what) in
                [(encode(&receipt), "mutated receipt"), (encode(&certificate), "mutated certificate")]
            {
                let mut bytes = bytes;
                for mutation in &mutations {
                    apply(&mut bytes, mutation);
                }
                assert_bounded::<Receipt>(&bytes, what);
                assert_bounded::<Certificate>(&bytes, what);
            }
            Ok(())
        })
        .expect("mutated receipts and certificates stay within the allocation bound");
}

fn the_allocator_is_really_counting() {
    // Without this, a broken counter would make every bound above pass vacuously.
    let region = Region::new(GLOBAL);
    let buffer: Vec<u8> = Vec::with_capacity(1 << 20);
    let allocated = region.change().bytes_allocated;
    drop(buffer);
    assert!(allocated >= 1 << 20, "the counting allocator saw {allocated} bytes for a 1 MiB buffer");
}

#[test]
fn decoding_allocates_in_proportion_to_the_input() {
    the_allocator_is_really_counting();
    claimed_lengths_cost_nothing();
    random_and_mutated_inputs_cost_little();
}
