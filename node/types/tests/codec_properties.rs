//! Property tests of the canonical codec over every encoded type:
//!
//! - encode → `decode` gives the value back and the same bytes, within the type's size bound;
//! - the serde JSON form round-trips too (the HTTP API and the genesis file use it);
//! - `decode` of random bytes returns `Ok` or `Err` and never panics;
//! - valid encodings with bytes flipped, inserted, deleted or length prefixes overwritten
//!   never panic, and when they still decode, they re-encode to exactly the mutated bytes
//!   (one encoding per value).
//!
//! Case counts are set so that the whole crate's tests stay well under half a minute in a
//! debug build on two cores.

mod support;

use std::collections::BTreeSet;
use std::fmt::Debug;

use borsh::{BorshDeserialize, BorshSerialize};
use proptest::collection::vec;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use support::*;
use tally_types::block::{Block, Header};
use tally_types::codec::{Bounded, decode, encode};
use tally_types::consensus::{Certificate, Proposal, ValidatorSet, Vote};
use tally_types::merkle::MerkleProof;
use tally_types::receipt::Receipt;
use tally_types::tx::{Op, SignedTransaction, Transaction};

/// encode → decode through the strict codec.
fn check_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let bytes = encode(value);
    prop_assert!(
        bytes.len() <= T::MAX_ENCODED_SIZE,
        "{} bytes exceed the bound {}",
        bytes.len(),
        T::MAX_ENCODED_SIZE
    );
    let decoded =
        decode::<T>(&bytes).map_err(|error| TestCaseError::fail(format!("{error} for {value:?}")))?;
    prop_assert_eq!(&decoded, value);
    prop_assert_eq!(encode(&decoded), bytes);
    Ok(())
}

/// encode → decode through the strict codec, for a type that has no bound of its own.
fn check_round_trip_alone<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + PartialEq + Debug + Clone,
{
    // The wrapper encodes exactly like its content.
    prop_assert_eq!(encode(&Alone(value.clone())), encode(value));
    check_round_trip(&Alone(value.clone()))
}

/// value → JSON → value.
fn check_json<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(value).map_err(|error| TestCaseError::fail(error.to_string()))?;
    let back: T =
        serde_json::from_str(&text).map_err(|error| TestCaseError::fail(format!("{error} in {text}")))?;
    prop_assert_eq!(&back, value);
    Ok(())
}

fn check_both<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Bounded + Serialize + DeserializeOwned + PartialEq + Debug,
{
    check_round_trip(value)?;
    check_json(value)
}

fn check_both_alone<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Serialize + DeserializeOwned + PartialEq + Debug + Clone,
{
    check_round_trip_alone(value)?;
    check_json(value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn transactions_round_trip(tx in transaction()) {
        check_both(&tx)?;
        // The id is a function of the encoding alone.
        let decoded = decode::<Transaction>(&encode(&tx)).expect("round trip checked above");
        prop_assert_eq!(decoded.id(), tx.id());
    }

    #[test]
    fn signed_transactions_round_trip(signed in signed_transaction()) {
        check_both(&signed)?;
        // The signature is appended to the body, nothing in between.
        let mut expected = encode(&signed.tx);
        expected.extend_from_slice(&signed.signature.0);
        prop_assert_eq!(encode(&signed), expected);
    }

    #[test]
    fn every_op_variant_round_trips(ops in one_op_of_each_variant()) {
        let names: BTreeSet<&str> = ops.iter().map(Op::name).collect();
        prop_assert_eq!(names.len(), 16);
        for (index, op) in ops.iter().enumerate() {
            check_both_alone(op)?;
            // The variant index is the first byte, in declaration order (the wire format).
            // Propose and CastVote (12 and 13) are pinned by golden_wire.rs instead.
            let tag = if index < 12 { index } else { index + 2 };
            prop_assert_eq!(usize::from(encode(op)[0]), tag);
        }
    }

    #[test]
    fn headers_round_trip(header in header()) {
        check_both(&header)?;
        prop_assert_eq!(decode::<Header>(&encode(&header)).expect("checked").id(), header.id());
    }

    #[test]
    fn blocks_round_trip(block in block()) {
        check_both(&block)?;
    }

    #[test]
    fn votes_round_trip(vote in vote()) {
        check_both(&vote)?;
    }

    #[test]
    fn proposals_round_trip(proposal in proposal()) {
        check_both(&proposal)?;
    }

    #[test]
    fn certificates_round_trip(certificate in certificate()) {
        check_both(&certificate)?;
        prop_assert_eq!(certificate.signer_indices().len(), certificate.signatures.len());
    }

    #[test]
    fn validator_sets_round_trip(set in validator_set()) {
        check_both(&set)?;
        prop_assert_eq!(decode::<ValidatorSet>(&encode(&set)).expect("checked").hash(), set.hash());
    }

    #[test]
    fn receipts_round_trip(receipt in receipt()) {
        check_both(&receipt)?;
        prop_assert_eq!(decode::<Receipt>(&encode(&receipt)).expect("checked").hash(), receipt.hash());
    }

    #[test]
    fn merkle_proofs_round_trip(proof in merkle_proof()) {
        check_both(&proof)?;
    }

    #[test]
    fn ids_amounts_and_keys_round_trip(
        chain in chain_id(),
        member in member_id(),
        code in asset_code(),
        asset in asset_id(),
        op_id in op_id(),
        tx_id in tx_id(),
        block_id in block_id(),
        hash in hash(),
        amount in amount(),
        price in price(),
        height in height(),
        view in view(),
        index in any::<u16>(),
        key in public_key(),
        signature in signature(),
    ) {
        check_both_alone(&chain)?;
        check_both_alone(&member)?;
        check_both_alone(&code)?;
        check_both_alone(&asset)?;
        check_both_alone(&op_id)?;
        check_both_alone(&tx_id)?;
        check_both_alone(&block_id)?;
        check_both(&hash)?;
        check_both_alone(&amount)?;
        check_both_alone(&price)?;
        check_both_alone(&height)?;
        check_both_alone(&view)?;
        check_both_alone(&tally_types::ValidatorIndex(index))?;
        check_both(&key)?;
        check_both(&signature)?;
        // The text forms parse back, too.
        prop_assert_eq!(asset.to_string().parse(), Ok(asset.clone()));
        prop_assert_eq!(op_id.to_string().parse(), Ok(op_id));
        prop_assert_eq!(tx_id.to_string().parse(), Ok(tx_id));
        prop_assert_eq!(price.to_string().parse(), Ok(price));
        prop_assert_eq!(key.to_address().parse(), Ok(key));
    }
}

/// `decode::<T>` of arbitrary bytes: `Ok` only for a canonical encoding, never a panic.
fn check_arbitrary<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Bounded + Debug,
{
    if let Ok(value) = decode::<T>(bytes) {
        prop_assert_eq!(encode(&value), bytes, "decoded {:?} from non-canonical bytes", value);
    }
    Ok(())
}

fn check_arbitrary_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_arbitrary::<Transaction>(bytes)?;
    check_arbitrary::<SignedTransaction>(bytes)?;
    check_arbitrary::<Header>(bytes)?;
    check_arbitrary::<Block>(bytes)?;
    check_arbitrary::<Vote>(bytes)?;
    check_arbitrary::<Proposal>(bytes)?;
    check_arbitrary::<Certificate>(bytes)?;
    check_arbitrary::<ValidatorSet>(bytes)?;
    check_arbitrary::<Receipt>(bytes)?;
    check_arbitrary::<MerkleProof>(bytes)?;
    check_arbitrary::<Alone<Op>>(bytes)
}

/// Applies `mutations` to the encoding of `value` and decodes the result as `T`.
fn check_mutated<T>(value: &T, mutations: &[Mutation]) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let original = encode(value);
    let mut bytes = original.clone();
    for mutation in mutations {
        apply(&mut bytes, mutation);
    }
    match decode::<T>(&bytes) {
        Ok(decoded) => {
            prop_assert_eq!(&encode(&decoded), &bytes, "accepted a non-canonical encoding");
            if bytes == original {
                prop_assert_eq!(&decoded, value);
            }
        }
        Err(error) => prop_assert_ne!(bytes, original, "the unmutated encoding was refused: {}", error),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
        check_arbitrary_all(&bytes)?;
    }

    /// Random bytes behind a valid prefix reach deeper into the decoders than random bytes
    /// alone, which mostly fail at the first length prefix.
    #[test]
    fn valid_prefix_with_random_tail_never_panics(
        tx in signed_transaction_with(3),
        cut in any::<proptest::sample::Index>(),
        tail in vec(any::<u8>(), 0..256),
    ) {
        let encoded = encode(&tx);
        let mut bytes = encoded[..cut.index(encoded.len())].to_vec();
        bytes.extend_from_slice(&tail);
        check_arbitrary_all(&bytes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_transactions(tx in transaction(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&tx, &mutations)?;
    }

    #[test]
    fn mutated_signed_transactions(tx in signed_transaction(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&tx, &mutations)?;
    }

    #[test]
    fn mutated_headers(header in header(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&header, &mutations)?;
    }

    #[test]
    fn mutated_blocks(block in block(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&block, &mutations)?;
    }

    #[test]
    fn mutated_votes(vote in vote(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&vote, &mutations)?;
    }

    #[test]
    fn mutated_proposals(proposal in proposal(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&proposal, &mutations)?;
    }

    #[test]
    fn mutated_certificates(certificate in certificate(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&certificate, &mutations)?;
    }

    #[test]
    fn mutated_validator_sets(set in validator_set(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&set, &mutations)?;
    }

    #[test]
    fn mutated_receipts(receipt in receipt(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&receipt, &mutations)?;
    }

    #[test]
    fn mutated_merkle_proofs(proof in merkle_proof(), mutations in vec(mutation(), 1..=4)) {
        check_mutated(&proof, &mutations)?;
    }

    #[test]
    fn mutated_ops(ops in one_op_of_each_variant(), mutations in vec(mutation(), 1..=3)) {
        for op in ops {
            check_mutated(&Alone(op), &mutations)?;
        }
    }
}
