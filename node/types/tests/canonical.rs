//! Canonicity and bounds of the codec, case by case: claimed lengths beyond a limit (up to
//! u32::MAX), non-boolean bytes, Option and enum tags out of range, trailing and missing
//! bytes, ids that break their grammar inside otherwise valid bytes, and the largest valid
//! value of every type, which must fit that type's size bound and decode.
//!
//! Offsets into encodings are computed by encoding the fields in front of them (borsh lays a
//! struct out as the concatenation of its fields), never typed in by hand.

mod support;

use std::fmt::Debug;

use borsh::{BorshDeserialize, BorshSerialize};
use support::Alone;
use tally_types::block::{Block, BlockId, Header};
use tally_types::codec::{Bounded, BoundedBytes, BoundedString, BoundedVec, DecodeError, decode, encode};
use tally_types::consensus::{Certificate, Proposal, Subject, ValidatorSet, Vote};
use tally_types::hash::{Hash, merkle_leaf};
use tally_types::ids::{
    AssetCode, AssetId, ChainId, Height, ItemName, MemberId, OpId, PlanId, ValidatorIndex, View,
};
use tally_types::keys::{PublicKey, SecretKey, Signature};
use tally_types::merkle::{self, MerkleProof};
use tally_types::pricing::{PlanRef, UsageLine};
use tally_types::receipt::{ErrorCode, Fill, Receipt, TxOutcome};
use tally_types::tx::{
    AnchorBadges, AssetFlags, AuthorizeSpend, BadgeCanon, BadgeFormat, Burn, CancelOffer, Grant, GrantKind,
    Hold, IssueAsset, OfferMode, Op, PackRef, PlaceOffer, RevokeBadge, RewardReason, Settle,
    SignedTransaction, Transaction, Transfer, Void,
};
use tally_types::{Amount, Price, limits};

fn key(seed: u8) -> PublicKey {
    SecretKey::from_seed(&[seed; 32]).public_key()
}

fn chain() -> ChainId {
    ChainId::new("tally-test").expect("valid")
}

fn acme() -> AssetId {
    AssetId::new(AssetCode::new("ACME").expect("valid"), MemberId::new("acme").expect("valid"))
}

fn bstring<const N: usize>(text: &str) -> BoundedString<N> {
    BoundedString::new(text).expect("within the limit")
}

fn tx_with(ops: Vec<Op>) -> Transaction {
    Transaction {
        chain_id: chain(),
        signer: key(1),
        seq: 3,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(ops).expect("within the op limit"),
        memo: BoundedBytes::new(b"memo".to_vec()).expect("short"),
    }
}

fn grant(reason: Option<RewardReason>) -> Grant {
    Grant {
        grant_id: OpId([9; 16]),
        asset: acme(),
        to: key(2),
        amount: Amount(250),
        kind: GrantKind::Reward,
        reason,
        external_ref: bstring("order-77"),
        pack: None,
    }
}

fn anchor(metadata_uri: Option<&str>) -> AnchorBadges {
    AnchorBadges {
        batch_root: Hash::plain(b"root"),
        leaf_count: 3,
        format: BadgeFormat::OpenBadges2,
        canon: BadgeCanon::RawBlake3,
        metadata_uri: metadata_uri.map(bstring),
    }
}

fn place_offer() -> PlaceOffer {
    PlaceOffer {
        offer_id: OpId([4; 16]),
        sell: acme(),
        buy: AssetId::new(AssetCode::new("BETA").expect("valid"), MemberId::new("beta").expect("valid")),
        amount: Amount(10),
        price: Price { numerator: 2, denominator: 3 },
        mode: OfferMode::FillOrKill,
    }
}

/// Offset of the op list's length prefix in an encoded transaction.
fn ops_offset(tx: &Transaction) -> usize {
    encode(&(&tx.chain_id, &tx.signer, tx.seq, tx.valid_until_height)).len()
}

/// Offset of the first op's variant tag.
fn first_op_offset(tx: &Transaction) -> usize {
    ops_offset(tx) + 4
}

fn header() -> Header {
    Header {
        chain_id: chain(),
        height: Height(5),
        view: View(6),
        parent_id: BlockId(Hash::plain(b"parent")),
        time_ms: 1_767_225_600_000,
        proposer: ValidatorIndex(2),
        tx_root: Hash::plain(b"txs"),
        receipts_root: Hash::plain(b"receipts"),
        state_root: Hash::plain(b"state"),
        validators_hash: Hash::plain(b"validators"),
    }
}

fn signed(tx: Transaction) -> SignedTransaction {
    SignedTransaction { tx, signature: Signature([0x33; 64]) }
}

fn block() -> Block {
    Block {
        header: header(),
        txs: BoundedVec::new(vec![signed(tx_with(vec![Op::Grant(grant(None))]))]).expect("one tx"),
    }
}

fn certificate() -> Certificate {
    let subject = Subject::Notarize { view: View(6), block_id: BlockId(Hash::plain(b"b")) };
    let votes: Vec<_> =
        [0u16, 1, 3].iter().map(|i| (ValidatorIndex(*i), Signature([*i as u8; 64]))).collect();
    Certificate::from_votes(subject, &votes, 4).expect("valid arrangement")
}

fn validator_set() -> ValidatorSet {
    ValidatorSet::new((1..=4).map(key).collect()).expect("4 valid keys")
}

fn receipt() -> Receipt {
    Receipt {
        tx_id: tx_with(vec![Op::Void(Void { hold_id: OpId([1; 16]) })]).id(),
        outcome: TxOutcome::Failed { op_index: 0, code: ErrorCode::UnknownHold },
        fills: BoundedVec::new(vec![fill(0)]).expect("one fill"),
    }
}

fn fill(op_index: u8) -> Fill {
    Fill {
        op_index,
        maker_offer: OpId([5; 16]),
        taker_offer: OpId([6; 16]),
        maker: key(3),
        taker: key(4),
        maker_gave: Amount(u128::MAX),
        taker_gave: Amount(1),
        price: Price { numerator: u64::MAX, denominator: 1 },
    }
}

fn merkle_proof() -> MerkleProof {
    let leaves: Vec<Hash> = (0..5u8).map(|i| merkle_leaf(&[i])).collect();
    merkle::prove(&leaves, 3).expect("in range")
}

fn vote() -> Vote {
    Vote {
        subject: Subject::Finalize { view: View(6), block_id: BlockId(Hash::plain(b"b")) },
        signer: ValidatorIndex(1),
        signature: Signature([7; 64]),
    }
}

fn proposal() -> Proposal {
    Proposal { view: View(6), parent_view: View(5), block: block(), signature: Signature([8; 64]) }
}

/// Decodes and expects a refusal of kind `Invalid` whose reason contains `needle`.
fn assert_invalid<T>(bytes: &[u8], needle: &str)
where
    T: BorshSerialize + BorshDeserialize + Bounded + Debug,
{
    assert_invalid_in::<T>(bytes, needle, "");
}

/// [`assert_invalid`], naming what was being tested in the failure message.
fn assert_invalid_in<T>(bytes: &[u8], needle: &str, context: &str)
where
    T: BorshSerialize + BorshDeserialize + Bounded + Debug,
{
    match decode::<T>(bytes) {
        Err(DecodeError::Invalid { reason, .. }) => {
            assert!(
                reason.contains(needle),
                "{context}: expected a reason containing `{needle}`, got `{reason}`"
            )
        }
        other => panic!("{context}: expected Invalid containing `{needle}`, got {other:?}"),
    }
}

fn with_u32_at(bytes: &[u8], offset: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    out
}

fn with_byte_at(bytes: &[u8], offset: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset] = value;
    out
}

/// The offset of the only occurrence of `needle` in `haystack`.
fn find_unique(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> =
        haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    assert_eq!(hits.len(), 1, "expected exactly one occurrence of {}", hex::encode(needle));
    hits[0]
}

/// Replaces the borsh string `old` (length prefix included) with the borsh string `new`.
fn replace_string(bytes: &[u8], old: &str, new: &str) -> Vec<u8> {
    let old_encoded = encode(&old.to_owned());
    let at = find_unique(bytes, &old_encoded);
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&encode(&new.to_owned()));
    out.extend_from_slice(&bytes[at + old_encoded.len()..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Lengths.

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[test]
fn huge_claimed_lengths_are_refused() {
    let tx = tx_with(vec![
        Op::Grant(grant(Some(RewardReason::Other(bstring("talk"))))),
        Op::AnchorBadges(anchor(Some("https://x.example"))),
        Op::RevokeBadge(RevokeBadge { badge_hash: Hash::ZERO, reason: bstring("spam") }),
    ]);
    let bytes = encode(&tx);
    let memo_offset = bytes.len() - tx.memo.len() - 4;
    // (what, offset of the u32 length prefix, the limit the refusal names)
    let cases = [
        ("chain id", 0, limits::CHAIN_ID_BYTES_MAX),
        ("op list", ops_offset(&tx), limits::TX_OPS_MAX),
        ("memo", memo_offset, limits::TX_MEMO_BYTES_MAX),
        ("asset code", find_unique(&bytes, &encode(&"ACME".to_owned())), limits::ASSET_CODE_BYTES_MAX),
        ("member id", find_unique(&bytes, &encode(&"acme".to_owned())), limits::MEMBER_ID_BYTES_MAX),
        ("reward reason", find_unique(&bytes, &encode(&"talk".to_owned())), limits::REWARD_REASON_BYTES_MAX),
        (
            "external ref",
            find_unique(&bytes, &encode(&"order-77".to_owned())),
            limits::GRANT_EXTERNAL_REF_BYTES_MAX,
        ),
        (
            "metadata uri",
            find_unique(&bytes, &encode(&"https://x.example".to_owned())),
            limits::BADGE_METADATA_URI_BYTES_MAX,
        ),
        (
            "revocation reason",
            find_unique(&bytes, &encode(&"spam".to_owned())),
            limits::BADGE_REVOCATION_REASON_BYTES_MAX,
        ),
    ];
    for (what, offset, limit) in cases {
        for claimed in [u32::MAX, u32::MAX / 2, limit as u32 + 1] {
            let needle = format!("length {claimed} exceeds the limit of {limit}");
            assert_invalid_in::<Transaction>(&with_u32_at(&bytes, offset, claimed), &needle, what);
            // The same inside a signed transaction.
            let mut signed_bytes = with_u32_at(&bytes, offset, claimed);
            signed_bytes.extend_from_slice(&[0x33; 64]);
            assert_invalid_in::<SignedTransaction>(&signed_bytes, &needle, what);
        }
    }

    let block_bytes = encode(&block());
    let txs_offset = encode(&header()).len();
    assert_invalid::<Block>(&with_u32_at(&block_bytes, txs_offset, u32::MAX), "exceeds the limit of 10000");
    assert_invalid::<Block>(&with_u32_at(&block_bytes, txs_offset, 10_001), "exceeds the limit of 10000");

    let certificate = certificate();
    let certificate_bytes = encode(&certificate);
    let signers_offset = encode(&certificate.subject).len();
    let signatures_offset = signers_offset + 4 + certificate.signers.len();
    assert_invalid::<Certificate>(
        &with_u32_at(&certificate_bytes, signers_offset, u32::MAX),
        "exceeds the limit of 13",
    );
    assert_invalid::<Certificate>(
        &with_u32_at(&certificate_bytes, signatures_offset, u32::MAX),
        "exceeds the limit of 100",
    );
    assert_invalid::<Certificate>(
        &with_u32_at(&certificate_bytes, signatures_offset, 101),
        "exceeds the limit of 100",
    );

    let set_bytes = encode(&validator_set());
    assert_invalid::<ValidatorSet>(&with_u32_at(&set_bytes, 0, u32::MAX), "exceeds the limit of 100");

    let receipt = receipt();
    let receipt_bytes = encode(&receipt);
    let fills_offset = encode(&(receipt.tx_id, &receipt.outcome)).len();
    let fills_max = limits::RECEIPT_FILLS_MAX;
    assert_invalid::<Receipt>(
        &with_u32_at(&receipt_bytes, fills_offset, u32::MAX),
        &format!("exceeds the limit of {fills_max}"),
    );

    let proof_bytes = encode(&merkle_proof());
    assert_invalid::<MerkleProof>(&with_u32_at(&proof_bytes, 16, u32::MAX), "exceeds the limit of 64");

    let header_bytes = encode(&header());
    assert_invalid::<Header>(&with_u32_at(&header_bytes, 0, u32::MAX), "exceeds the limit of 64");
}

/// Mirrors of the protocol types with unbounded fields: borsh lays both out identically, so
/// these produce encodings one element over a limit for the real decoder to refuse.
fn raw_transaction(tx: &Transaction, ops: Vec<Op>, memo: Vec<u8>, chain_id: String) -> Vec<u8> {
    encode(&(chain_id, &tx.signer, tx.seq, tx.valid_until_height, ops, memo))
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[test]
fn one_element_over_each_limit_is_refused_and_the_limit_itself_is_accepted() {
    let tx = tx_with(vec![Op::Void(Void { hold_id: OpId([1; 16]) })]);
    let void = tx.ops[0].clone();
    let at_limit = |ops: usize, memo: usize, chain: usize| {
        raw_transaction(&tx, vec![void.clone(); ops], vec![0xab; memo], "c".repeat(chain))
    };
    let (ops_max, memo_max, chain_max) =
        (limits::TX_OPS_MAX, limits::TX_MEMO_BYTES_MAX, limits::CHAIN_ID_BYTES_MAX);
    assert!(decode::<Transaction>(&at_limit(ops_max, memo_max, chain_max)).is_ok());
    assert_invalid::<Transaction>(&at_limit(ops_max + 1, memo_max, chain_max), "exceeds the limit of 16");
    assert_invalid::<Transaction>(&at_limit(ops_max, memo_max + 1, chain_max), "exceeds the limit of 256");
    assert_invalid::<Transaction>(&at_limit(ops_max, memo_max, chain_max + 1), "exceeds the limit of 64");
    // An empty op list decodes (the codec does not judge it); the form check refuses it.
    let empty = decode::<Transaction>(&at_limit(0, 0, 3)).expect("decodes");
    assert!(signed(empty).check_form_and_signature().is_err());

    let keys: Vec<PublicKey> = (0..=limits::VALIDATORS_MAX as u16)
        .map(|i| {
            SecretKey::from_seed(&[
                i as u8,
                (i >> 8) as u8,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
            ])
            .public_key()
        })
        .collect();
    assert!(decode::<ValidatorSet>(&encode(&keys[..limits::VALIDATORS_MAX].to_vec())).is_ok());
    assert_invalid::<ValidatorSet>(&encode(&keys), "exceeds the limit of 100");

    let siblings = vec![Hash::ZERO; limits::MERKLE_PROOF_SIBLINGS_MAX + 1];
    assert!(decode::<MerkleProof>(&encode(&(0u64, 1u64, &siblings[1..]))).is_ok());
    // A Merkle proof's size bound is exact, so 65 siblings are refused by the size check
    // before the list limit is reached (a claimed 65 with less data behind it is refused by
    // the list limit: see `huge_claimed_lengths_are_refused`).
    let too_many = encode(&(0u64, 1u64, &siblings));
    assert!(matches!(decode::<MerkleProof>(&too_many), Err(DecodeError::TooLong { .. })));
    assert_invalid::<MerkleProof>(&with_u32_at(&encode(&merkle_proof()), 16, 65), "exceeds the limit of 64");

    let subject = Subject::Nullify { view: View(1) };
    let signatures = vec![Signature([1; 64]); limits::VALIDATORS_MAX + 1];
    let bitmap = vec![0xffu8; limits::VALIDATORS_MAX.div_ceil(8)];
    assert!(decode::<Certificate>(&encode(&(subject, &bitmap, &signatures[1..]))).is_ok());
    assert_invalid::<Certificate>(&encode(&(subject, &bitmap, &signatures)), "exceeds the limit of 100");
    let mut long_bitmap = bitmap.clone();
    long_bitmap.push(0);
    assert_invalid::<Certificate>(
        &encode(&(subject, &long_bitmap, &signatures[1..])),
        "exceeds the limit of 13",
    );
}

#[test]
fn input_longer_than_the_type_bound_is_refused_before_parsing() {
    fn check<T: BorshSerialize + BorshDeserialize + Bounded + Debug>() {
        let bytes = vec![0u8; T::MAX_ENCODED_SIZE + 1];
        match decode::<T>(&bytes) {
            Err(DecodeError::TooLong { len, max, .. }) => {
                assert_eq!((len, max), (T::MAX_ENCODED_SIZE + 1, T::MAX_ENCODED_SIZE))
            }
            other => panic!("expected TooLong, got {other:?}"),
        }
    }
    check::<Transaction>();
    check::<SignedTransaction>();
    check::<Header>();
    check::<Block>();
    check::<Vote>();
    check::<Proposal>();
    check::<Certificate>();
    check::<ValidatorSet>();
    check::<Receipt>();
    check::<MerkleProof>();
    check::<Hash>();
    check::<PublicKey>();
    check::<Signature>();
}

// ---------------------------------------------------------------------------------------------
// Tags.

/// No protocol type carries a `bool` today; this pins the codec's rule for the day one does,
/// through the same `decode`.
#[derive(Debug, PartialEq, BorshSerialize, BorshDeserialize)]
struct Flagged {
    flag: bool,
}

impl Bounded for Flagged {
    const MAX_ENCODED_SIZE: usize = 1;
}

#[test]
fn bool_bytes_other_than_zero_and_one_are_refused() {
    assert_eq!(decode::<Flagged>(&[0]), Ok(Flagged { flag: false }));
    assert_eq!(decode::<Flagged>(&[1]), Ok(Flagged { flag: true }));
    for byte in 2..=u8::MAX {
        assert!(matches!(decode::<Flagged>(&[byte]), Err(DecodeError::Invalid { .. })), "bool byte {byte}");
    }
}

#[test]
fn option_tags_other_than_zero_and_one_are_refused() {
    let issue = IssueAsset {
        code: AssetCode::new("ACME").expect("valid"),
        scale: 2,
        max_supply: Some(Amount(5)),
        flags: AssetFlags(0),
    };
    let grant = grant(Some(RewardReason::ForumSupport));
    let cases = [
        (Op::IssueAsset(issue.clone()), encode(&(&issue.code, issue.scale)).len()),
        (
            Op::Grant(grant.clone()),
            encode(&(grant.grant_id, &grant.asset, grant.to, grant.amount, grant.kind)).len(),
        ),
        (
            Op::AnchorBadges(anchor(Some("ipfs://x"))),
            encode(&(Hash::ZERO, 3u32, BadgeFormat::OpenBadges2, BadgeCanon::RawBlake3)).len(),
        ),
    ];
    for (op, offset_in_op) in cases {
        let tx = tx_with(vec![op.clone()]);
        let bytes = encode(&tx);
        let tag_offset = first_op_offset(&tx) + 1 + offset_in_op;
        assert_eq!(bytes[tag_offset], 1, "{}: the offset points at the Some tag", op.name());
        for tag in 2..=u8::MAX {
            assert!(
                decode::<Transaction>(&with_byte_at(&bytes, tag_offset, tag)).is_err(),
                "{} option tag {tag}",
                op.name()
            );
        }
    }
}

/// For an enum whose variants carry no data, changing its tag byte inside a valid encoding
/// yields a valid encoding exactly when the tag is below the variant count.
fn check_unit_enum_tag(tx: &Transaction, offset_in_op: usize, variants: u8, what: &str) {
    let bytes = encode(tx);
    let offset = first_op_offset(tx) + 1 + offset_in_op;
    for tag in 0..=u8::MAX {
        let result = decode::<Transaction>(&with_byte_at(&bytes, offset, tag));
        assert_eq!(result.is_ok(), tag < variants, "{what} tag {tag}: {result:?}");
    }
}

#[test]
fn enum_tags_out_of_range_are_refused() {
    // Op: twelve variants.
    let tx = tx_with(vec![Op::Void(Void { hold_id: OpId([1; 16]) })]);
    let bytes = encode(&tx);
    for tag in 12..=u8::MAX {
        assert_invalid::<Transaction>(&with_byte_at(&bytes, first_op_offset(&tx), tag), "");
    }

    let grant = grant(Some(RewardReason::ForumSupport));
    let kind_offset = encode(&(grant.grant_id, &grant.asset, grant.to, grant.amount)).len();
    check_unit_enum_tag(&tx_with(vec![Op::Grant(grant.clone())]), kind_offset, 3, "GrantKind");

    // RewardReason: four unit variants, then Other(text); tags from 5 up are refused.
    let grant_tx = tx_with(vec![Op::Grant(grant.clone())]);
    let reason_offset = first_op_offset(&grant_tx) + 1 + kind_offset + 1 + 1;
    let grant_bytes = encode(&grant_tx);
    assert_eq!(grant_bytes[reason_offset], 2, "ForumSupport is variant 2");
    for tag in 0..4 {
        assert!(
            decode::<Transaction>(&with_byte_at(&grant_bytes, reason_offset, tag)).is_ok(),
            "reason {tag}"
        );
    }
    for tag in 5..=u8::MAX {
        assert!(
            decode::<Transaction>(&with_byte_at(&grant_bytes, reason_offset, tag)).is_err(),
            "reason {tag}"
        );
    }

    let offer = place_offer();
    let mode_offset = encode(&(offer.offer_id, &offer.sell, &offer.buy, offer.amount, offer.price)).len();
    check_unit_enum_tag(&tx_with(vec![Op::PlaceOffer(offer)]), mode_offset, 4, "OfferMode");

    let anchor_tx = tx_with(vec![Op::AnchorBadges(anchor(None))]);
    check_unit_enum_tag(&anchor_tx, 32 + 4, 2, "BadgeFormat");
    check_unit_enum_tag(&anchor_tx, 32 + 4 + 1, 2, "BadgeCanon");

    // Subject: three variants, first byte of a vote.
    let vote_bytes = encode(&vote());
    for tag in 3..=u8::MAX {
        assert!(decode::<Vote>(&with_byte_at(&vote_bytes, 0, tag)).is_err(), "subject tag {tag}");
    }

    // TxOutcome: two variants; ErrorCode: codes are only ever added at the end, and the tags
    // pinned here (and in the golden vectors) never move.
    let receipt = receipt();
    let receipt_bytes = encode(&receipt);
    for tag in 2..=u8::MAX {
        assert!(decode::<Receipt>(&with_byte_at(&receipt_bytes, 32, tag)).is_err(), "outcome tag {tag}");
    }
    let code_offset = 32 + 1 + 1;
    assert_eq!(receipt_bytes[code_offset], 20, "UnknownHold is code 20");
    let count = support::error_code_count();
    assert!(count >= 39, "error codes were removed: {count}");
    for tag in 0..=u8::MAX {
        let result = decode::<Receipt>(&with_byte_at(&receipt_bytes, code_offset, tag));
        assert_eq!(result.is_ok(), tag < count, "error code {tag}");
    }
    for (code, tag) in
        [(ErrorCode::NotIssuer, 0u8), (ErrorCode::NoAuthorization, 17), (ErrorCode::BadgeAlreadyRevoked, 38)]
    {
        assert_eq!(encode(&code), vec![tag], "{code:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Extra and missing bytes.

fn check_trailing_and_truncated<T>(value: &T)
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let bytes = encode(value);
    assert_eq!(decode::<T>(&bytes).as_ref(), Ok(value));
    for extra in [&[0u8][..], &[1], &[0, 0, 0, 0, 0]] {
        let mut longer = bytes.clone();
        longer.extend_from_slice(extra);
        match decode::<T>(&longer) {
            Err(DecodeError::TrailingBytes { trailing, .. }) => assert_eq!(trailing, extra.len()),
            Err(DecodeError::TooLong { .. }) => assert!(longer.len() > T::MAX_ENCODED_SIZE),
            other => panic!("{} trailing bytes: {other:?}", extra.len()),
        }
    }
    for cut in 0..bytes.len() {
        assert!(decode::<T>(&bytes[..cut]).is_err(), "a {cut}-byte prefix of {} decoded", bytes.len());
    }
}

#[test]
fn trailing_bytes_and_truncations_are_refused() {
    let tx = tx_with(vec![
        Op::Grant(grant(Some(RewardReason::Other(bstring("talk"))))),
        Op::PlaceOffer(place_offer()),
        Op::AnchorBadges(anchor(Some("https://x.example"))),
    ]);
    check_trailing_and_truncated(&tx);
    check_trailing_and_truncated(&signed(tx));
    check_trailing_and_truncated(&header());
    check_trailing_and_truncated(&block());
    check_trailing_and_truncated(&vote());
    check_trailing_and_truncated(&proposal());
    check_trailing_and_truncated(&certificate());
    check_trailing_and_truncated(&validator_set());
    check_trailing_and_truncated(&receipt());
    check_trailing_and_truncated(&merkle_proof());
    check_trailing_and_truncated(&Hash::plain(b"x"));
    check_trailing_and_truncated(&key(1));
    check_trailing_and_truncated(&Signature([2; 64]));
}

// ---------------------------------------------------------------------------------------------
// Grammar.

#[test]
fn ids_that_break_their_grammar_are_refused_inside_valid_bytes() {
    let tx = tx_with(vec![
        Op::Grant(grant(None)),
        Op::AuthorizeSpend(AuthorizeSpend {
            provider: MemberId::new("provider-x").expect("valid"),
            asset: AssetId::new(
                AssetCode::new("GAMMA9").expect("valid"),
                MemberId::new("gamma").expect("valid"),
            ),
            cap: Amount(1),
            expires_at_ms: 1,
            plan: Some(PlanRef { plan_id: PlanId::new("basic").expect("valid"), version: 1 }),
        }),
    ]);
    let bytes = encode(&tx);
    assert!(decode::<Transaction>(&bytes).is_ok());
    // (the valid string in the encoding, a replacement that breaks its grammar, the reason)
    let cases: Vec<(&str, String, &str)> = vec![
        ("tally-test", "Tally-test".into(), "chain id"),
        ("tally-test", "tally test".into(), "chain id"),
        ("tally-test", "ta".into(), "chain id"),
        ("tally-test", "tally_test".into(), "chain id"),
        ("tally-test", "tally-tést".into(), "chain id"),
        ("acme", "Acme".into(), "member id"),
        ("acme", "1acme".into(), "member id"),
        ("acme", "-acme".into(), "member id"),
        ("acme", "a".into(), "member id"),
        ("acme", "ac.me".into(), "member id"),
        ("acme", String::new(), "member id"),
        ("provider-x", "provider x".into(), "member id"),
        ("provider-x", "p".repeat(33), "exceeds the limit of 32"),
        ("ACME", "AcME".into(), "asset code"),
        ("ACME", "A".into(), "asset code"),
        ("ACME", "ACME-".into(), "asset code"),
        ("ACME", "ÀCME".into(), "asset code"),
        ("GAMMA9", "G".repeat(13), "exceeds the limit of 12"),
        ("gamma", "GAMMA".into(), "member id"),
        ("basic", "Basic".into(), "plan id"),
        ("basic", "1basic".into(), "plan id"),
        ("basic", "b".into(), "plan id"),
    ];
    for (valid, broken, reason) in cases {
        assert_invalid::<Transaction>(&replace_string(&bytes, valid, &broken), reason);
        // A same-grammar replacement still decodes, so the refusal above is about the grammar.
        let fine =
            if valid.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) { "ZZ" } else { "zz" };
        let fine = if valid == "tally-test" { "zzz" } else { fine };
        assert!(decode::<Transaction>(&replace_string(&bytes, valid, fine)).is_ok(), "{valid} -> {fine}");
    }
    // Free text must still be UTF-8.
    let at = find_unique(&bytes, b"order-77");
    assert_invalid::<Transaction>(&with_byte_at(&bytes, at, 0xff), "UTF-8");
}

// ---------------------------------------------------------------------------------------------
// The largest values.

fn largest_member(prefix: char) -> MemberId {
    let text: String =
        std::iter::once(prefix).chain(std::iter::repeat_n('z', limits::MEMBER_ID_BYTES_MAX - 1)).collect();
    MemberId::new(text).expect("longest member id")
}

fn largest_asset() -> AssetId {
    AssetId::new(
        AssetCode::new("Z".repeat(limits::ASSET_CODE_BYTES_MAX)).expect("longest code"),
        largest_member('a'),
    )
}

fn longest_text(bytes: usize) -> String {
    // Four-byte characters, to show the limit is in bytes.
    "𝄞".repeat(bytes / 4) + &"x".repeat(bytes % 4)
}

/// The largest value of every op variant.
fn largest_ops() -> Vec<Op> {
    let amount = Amount(u128::MAX);
    let key = PublicKey([0xff; 32]);
    vec![
        Op::IssueAsset(IssueAsset {
            code: largest_asset().code,
            scale: limits::ASSET_SCALE_MAX,
            max_supply: Some(amount),
            flags: AssetFlags(u32::MAX),
        }),
        Op::Grant(Grant {
            grant_id: OpId([0xff; 16]),
            asset: largest_asset(),
            to: key,
            amount,
            kind: GrantKind::Reward,
            reason: Some(RewardReason::Other(bstring(&longest_text(limits::REWARD_REASON_BYTES_MAX)))),
            external_ref: bstring(&longest_text(limits::GRANT_EXTERNAL_REF_BYTES_MAX)),
            pack: Some(PackRef { plan: largest_plan_ref(), pack: largest_item('p') }),
        }),
        Op::Transfer(Transfer { asset: largest_asset(), to: key, amount }),
        Op::Burn(Burn { asset: largest_asset(), amount }),
        Op::AuthorizeSpend(AuthorizeSpend {
            provider: largest_member('p'),
            asset: largest_asset(),
            cap: amount,
            expires_at_ms: u64::MAX,
            plan: Some(largest_plan_ref()),
        }),
        Op::Hold(Hold {
            hold_id: OpId([0xff; 16]),
            holder: key,
            asset: largest_asset(),
            amount,
            expires_at_ms: u64::MAX,
        }),
        Op::Settle(Settle {
            hold_id: OpId([0xff; 16]),
            batch_id: OpId([0xfe; 16]),
            amount,
            usage_root: Hash([0xff; 32]),
            lines: BoundedVec::new(
                (0..limits::SETTLE_LINES_MAX)
                    .map(|i| UsageLine {
                        item: largest_item(char::from(b'a' + (i % 26) as u8)),
                        units: u64::MAX,
                    })
                    .collect(),
            )
            .expect("at the line limit"),
        }),
        Op::Void(Void { hold_id: OpId([0xff; 16]) }),
        Op::PlaceOffer(PlaceOffer {
            offer_id: OpId([0xff; 16]),
            sell: largest_asset(),
            buy: largest_asset(),
            amount,
            price: Price { numerator: u64::MAX, denominator: u64::MAX },
            mode: OfferMode::FillOrKill,
        }),
        Op::CancelOffer(CancelOffer { offer_id: OpId([0xff; 16]) }),
        Op::AnchorBadges(AnchorBadges {
            batch_root: Hash([0xff; 32]),
            leaf_count: u32::MAX,
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::RawBlake3,
            metadata_uri: Some(bstring(&longest_text(limits::BADGE_METADATA_URI_BYTES_MAX))),
        }),
        Op::RevokeBadge(RevokeBadge {
            badge_hash: Hash([0xff; 32]),
            reason: bstring(&longest_text(limits::BADGE_REVOCATION_REASON_BYTES_MAX)),
        }),
    ]
}

fn largest_plan_ref() -> PlanRef {
    let text: String =
        std::iter::once('p').chain(std::iter::repeat_n('z', limits::PLAN_ID_BYTES_MAX - 1)).collect();
    PlanRef { plan_id: PlanId::new(text).expect("longest plan id"), version: u32::MAX }
}

fn largest_item(prefix: char) -> ItemName {
    let text: String =
        std::iter::once(prefix).chain(std::iter::repeat_n('z', limits::ITEM_NAME_BYTES_MAX - 1)).collect();
    ItemName::new(text).expect("longest item name")
}

/// Sixteen copies of the largest op, but for a settlement at its line limit, which fills most
/// of a transaction on its own (as an application does: both are bounded by the transaction).
fn largest_transaction() -> Transaction {
    let largest_op = largest_ops()
        .into_iter()
        .filter(|op| !matches!(op, Op::Settle(_)))
        .max_by_key(|op| encode(op).len())
        .expect("twelve ops");
    Transaction {
        chain_id: ChainId::new("c".repeat(limits::CHAIN_ID_BYTES_MAX)).expect("longest chain id"),
        signer: PublicKey([0xff; 32]),
        seq: u64::MAX,
        valid_until_height: Height(u64::MAX),
        ops: BoundedVec::new(vec![largest_op; limits::TX_OPS_MAX]).expect("at the op limit"),
        memo: BoundedBytes::new(vec![0xff; limits::TX_MEMO_BYTES_MAX]).expect("at the memo limit"),
    }
}

fn assert_fits<T>(value: &T, what: &str)
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let bytes = encode(value);
    assert!(
        bytes.len() <= T::MAX_ENCODED_SIZE,
        "{what}: {} bytes exceed the bound {}",
        bytes.len(),
        T::MAX_ENCODED_SIZE
    );
    assert!(decode::<T>(&bytes).as_ref() == Ok(value), "{what} does not decode");
}

#[test]
fn the_largest_value_of_every_type_fits_its_bound() {
    for op in largest_ops() {
        assert_fits(&Alone(op.clone()), op.name());
    }
    let tx = largest_transaction();
    assert_fits(&tx, "largest transaction");
    let signed_tx = signed(tx.clone());
    assert_fits(&signed_tx, "largest signed transaction");
    assert_eq!(encode(&signed_tx).len(), encode(&tx).len() + 64);

    let largest_header = Header { chain_id: tx.chain_id.clone(), ..header() };
    assert_fits(&largest_header, "largest header");
    let largest_vote = Vote {
        subject: Subject::Notarize { view: View(u64::MAX), block_id: BlockId(Hash([0xff; 32])) },
        signer: ValidatorIndex(u16::MAX),
        signature: Signature([0xff; 64]),
    };
    assert_fits(&largest_vote, "largest vote");

    let n = limits::VALIDATORS_MAX;
    let all: Vec<_> = (0..n as u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
    assert_fits(
        &Certificate::from_votes(largest_vote.subject, &all, n).expect("arranged"),
        "largest certificate",
    );
    let set = ValidatorSet::new((0..n).map(|i| SecretKey::from_seed(&[i as u8; 32]).public_key()).collect())
        .expect("100 = 3 * 33 + 1 distinct valid keys");
    assert_fits(&set, "largest validator set");

    let fills: Vec<Fill> =
        (0..limits::RECEIPT_FILLS_MAX).map(|i| fill((i % limits::TX_OPS_MAX) as u8)).collect();
    let largest_receipt = Receipt {
        tx_id: tx.id(),
        outcome: TxOutcome::Failed { op_index: u8::MAX, code: ErrorCode::BadgeAlreadyRevoked },
        fills: BoundedVec::new(fills).expect("at the fill limit"),
    };
    assert_fits(&largest_receipt, "largest receipt");
    // limits.rs sizes receipts by the encoded size of one fill.
    assert_eq!(encode(&fill(0)).len(), 145);

    let proof = MerkleProof {
        index: u64::MAX - 1,
        leaf_count: u64::MAX,
        siblings: BoundedVec::new(vec![Hash([0xff; 32]); limits::MERKLE_PROOF_SIBLINGS_MAX])
            .expect("at the limit"),
    };
    assert_fits(&proof, "largest Merkle proof");

    // A block of the most transactions a block may hold decodes; the proposal around the
    // largest block fits the proposal bound.
    let small = signed(tx_with(vec![Op::Void(Void { hold_id: OpId([1; 16]) })]));
    let full = Block {
        header: header(),
        txs: BoundedVec::new(vec![small; limits::BLOCK_TXS_MAX]).expect("at the limit"),
    };
    assert_fits(&full, "block at the transaction limit");
    let proposal_overhead = encode(&proposal()).len() - encode(&proposal().block).len();
    assert!(Block::MAX_ENCODED_SIZE + proposal_overhead <= Proposal::MAX_ENCODED_SIZE);
}

/// A validator set off the wire goes through the same checks as `ValidatorSet::new`: an empty
/// set (every certificate would pass), a duplicate key (it would count twice towards a quorum)
/// and fewer than four validators are refused, in borsh and in JSON; five are fine (n need not
/// be 3f + 1).
#[test]
fn unchecked_validator_sets_do_not_decode() {
    let encode_keys = |keys: &[PublicKey]| {
        let mut bytes = (keys.len() as u32).to_le_bytes().to_vec();
        for key in keys {
            bytes.extend_from_slice(&key.0);
        }
        bytes
    };
    let keys: Vec<PublicKey> = (1..=5u8).map(|i| SecretKey::from_seed(&[i; 32]).public_key()).collect();
    let duplicate = vec![keys[0], keys[1], keys[2], keys[0]];
    for (what, set) in [("empty", vec![]), ("duplicate", duplicate), ("n = 3", keys[..3].to_vec())] {
        let bytes = encode_keys(&set);
        assert!(tally_types::decode::<ValidatorSet>(&bytes).is_err(), "{what} decoded");
        let json = serde_json::json!({ "keys": set });
        assert!(serde_json::from_value::<ValidatorSet>(json).is_err(), "{what} parsed from JSON");
    }
    for n in [4, 5] {
        let good = encode_keys(&keys[..n]);
        assert_eq!(tally_types::decode::<ValidatorSet>(&good).expect("valid").keys(), &keys[..n]);
    }
}
