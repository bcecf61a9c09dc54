//! Shared by the integration tests: proptest strategies that generate valid protocol values
//! (ids that match their grammar, collections within their limits, certificates assembled by
//! `Certificate::from_votes`, Merkle proofs made by `merkle::prove`), byte mutations for
//! fuzzing, and a wrapper that lets leaf types go through the real `tally_types::decode`.
//!
//! Signatures in generated values are random bytes: the codec does not look inside them, and
//! signing thousands of values in a debug build would dominate the test time. The tests that
//! are about signatures (`golden.rs`, `signatures.rs`) sign for real.
//!
//! Each test crate uses a different part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::string::string_regex;
use tally_types::block::{Block, BlockId, Header};
use tally_types::codec::{Bounded, BoundedBytes, BoundedString, BoundedVec};
use tally_types::consensus::{Certificate, Proposal, Subject, ValidatorSet, Vote};
use tally_types::hash::{Hash, merkle_leaf};
use tally_types::ids::{
    AchievementId, AppId, AssetCode, AssetId, ChainId, Currency, Height, ItemName, MemberId, OpId, PlanId,
    ValidatorIndex, View,
};
use tally_types::keys::{PublicKey, SecretKey, Signature};
use tally_types::merkle::{self, MerkleProof};
use tally_types::pricing::{
    CreditPack, PlanItem, PlanRef, PricePlan, ReferencePrice, Tier, UnitPrice, UsageLine,
};
use tally_types::receipt::{ErrorCode, Fill, Receipt, TxOutcome};
use tally_types::tx::{
    AchievementCount, AnchorAchievements, AnchorBadges, AssetFlags, AuthorizeSpend, BadgeCanon, BadgeFormat,
    Burn, CancelOffer, Grant, GrantKind, Hold, IssueAsset, OfferMode, Op, PackRef, PlaceOffer, RetirePlan,
    RevokeBadge, RewardReason, Settle, SettleApp, SignedTransaction, Transaction, Transfer, TxId, Void,
};
use tally_types::{Amount, Price, limits};

/// `decode` needs [`Bounded`]. Leaf types (ids, amounts, single ops) do not implement it
/// because the protocol never decodes them on their own; this wrapper, which borsh encodes
/// exactly like its content, gives them the bound of a whole transaction so that their round
/// trip still goes through the real, strict `decode`.
#[derive(Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Alone<T>(pub T);

impl<T> Bounded for Alone<T> {
    const MAX_ENCODED_SIZE: usize = limits::TX_BYTES_MAX;
}

/// Number of distinct valid keys available to strategies: enough for the largest validator set.
pub const KEY_POOL_SIZE: usize = limits::VALIDATORS_MAX;

/// Valid, non-weak public keys from fixed seeds. JSON decoding validates keys, so generated
/// values must carry real keys; deriving them once keeps the strategies cheap.
pub fn key_pool() -> &'static [PublicKey] {
    static POOL: OnceLock<Vec<PublicKey>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..KEY_POOL_SIZE)
            .map(|i| {
                let mut seed = [0x5a_u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SecretKey::from_seed(&seed).public_key()
            })
            .collect()
    })
}

pub fn public_key() -> impl Strategy<Value = PublicKey> {
    select(key_pool().to_vec())
}

pub fn signature() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 64).prop_map(|bytes| Signature(bytes.try_into().expect("the strategy makes 64 bytes")))
}

pub fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

pub fn tx_id() -> impl Strategy<Value = TxId> {
    hash().prop_map(TxId)
}

pub fn block_id() -> impl Strategy<Value = BlockId> {
    hash().prop_map(BlockId)
}

pub fn op_id() -> impl Strategy<Value = OpId> {
    any::<[u8; 16]>().prop_map(OpId)
}

pub fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![any::<u128>().prop_map(Amount), Just(Amount::ZERO), Just(Amount(u128::MAX))]
}

pub fn price() -> impl Strategy<Value = Price> {
    (1..=u64::MAX, 1..=u64::MAX).prop_map(|(numerator, denominator)| Price { numerator, denominator })
}

pub fn height() -> impl Strategy<Value = Height> {
    any::<u64>().prop_map(Height)
}

pub fn view() -> impl Strategy<Value = View> {
    any::<u64>().prop_map(View)
}

fn regex(pattern: &str) -> impl Strategy<Value = String> + use<> {
    string_regex(pattern).expect("the test regexes are valid")
}

pub fn chain_id() -> impl Strategy<Value = ChainId> {
    regex("[a-z0-9-]{3,64}").prop_map(|text| ChainId::new(text).expect("generated to the chain id grammar"))
}

pub fn member_id() -> impl Strategy<Value = MemberId> {
    regex("[a-z][a-z0-9-]{1,31}")
        .prop_map(|text| MemberId::new(text).expect("generated to the member id grammar"))
}

pub fn asset_code() -> impl Strategy<Value = AssetCode> {
    regex("[A-Z0-9]{2,12}")
        .prop_map(|text| AssetCode::new(text).expect("generated to the asset code grammar"))
}

pub fn asset_id() -> impl Strategy<Value = AssetId> {
    (asset_code(), member_id()).prop_map(|(code, issuer)| AssetId::new(code, issuer))
}

/// Arbitrary Unicode text of at most `max_bytes` UTF-8 bytes, reaching the limit often.
pub fn text(max_bytes: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max_bytes).prop_map(move |chars| {
        let mut text = String::new();
        for c in chars {
            if text.len() + c.len_utf8() > max_bytes {
                break;
            }
            text.push(c);
        }
        text
    })
}

pub fn bounded_string<const N: usize>() -> impl Strategy<Value = BoundedString<N>> {
    text(N).prop_map(|text| BoundedString::new(text).expect("text() stays within the limit"))
}

pub fn bounded_bytes<const N: usize>() -> impl Strategy<Value = BoundedBytes<N>> {
    vec(any::<u8>(), 0..=N).prop_map(|bytes| BoundedBytes::new(bytes).expect("within the limit"))
}

pub fn grant_kind() -> impl Strategy<Value = GrantKind> {
    prop_oneof![Just(GrantKind::Purchase), Just(GrantKind::Reward), Just(GrantKind::Promo)]
}

pub fn reward_reason() -> impl Strategy<Value = RewardReason> {
    prop_oneof![
        Just(RewardReason::ClientLibrary),
        Just(RewardReason::HowToGuide),
        Just(RewardReason::ForumSupport),
        Just(RewardReason::PublishedApplication),
        bounded_string().prop_map(RewardReason::Other),
    ]
}

pub fn offer_mode() -> impl Strategy<Value = OfferMode> {
    prop_oneof![
        Just(OfferMode::Normal),
        Just(OfferMode::Passive),
        Just(OfferMode::ImmediateOrCancel),
        Just(OfferMode::FillOrKill),
    ]
}

pub fn badge_format() -> impl Strategy<Value = BadgeFormat> {
    prop_oneof![Just(BadgeFormat::OpenBadges2), Just(BadgeFormat::OpenBadges3)]
}

pub fn badge_canon() -> impl Strategy<Value = BadgeCanon> {
    prop_oneof![Just(BadgeCanon::JcsBlake3), Just(BadgeCanon::RawBlake3)]
}

/// How many `ErrorCode` variants exist: the first one-byte tag that does not decode. Derived
/// from the codec so the strategy covers a variant added later without being edited.
pub fn error_code_count() -> u8 {
    (0..=u8::MAX)
        .find(|tag| borsh::from_slice::<ErrorCode>(&[*tag]).is_err())
        .expect("ErrorCode has fewer than 256 variants")
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    (0..error_code_count()).prop_map(|tag| borsh::from_slice(&[tag]).expect("tag below the variant count"))
}

pub fn issue_asset() -> impl Strategy<Value = IssueAsset> {
    (asset_code(), 0..=limits::ASSET_SCALE_MAX, proptest::option::of(amount()), 0..=AssetFlags::ALL).prop_map(
        |(code, scale, max_supply, flags)| IssueAsset { code, scale, max_supply, flags: AssetFlags(flags) },
    )
}

pub fn plan_id() -> impl Strategy<Value = PlanId> {
    regex("[a-z][a-z0-9-]{1,31}")
        .prop_map(|text| PlanId::new(text).expect("generated to the plan id grammar"))
}

/// Item names, short so that transactions of many ops that carry them stay within the limit.
pub fn item_name() -> impl Strategy<Value = ItemName> {
    regex("[a-z][a-z0-9._-]{0,15}")
        .prop_map(|text| ItemName::new(text).expect("generated to the item grammar"))
}

pub fn plan_ref() -> impl Strategy<Value = PlanRef> {
    (plan_id(), any::<u32>()).prop_map(|(plan_id, version)| PlanRef { plan_id, version })
}

pub fn pack_ref() -> impl Strategy<Value = PackRef> {
    (plan_ref(), item_name()).prop_map(|(plan, pack)| PackRef { plan, pack })
}

pub fn usage_lines<const N: usize>() -> impl Strategy<Value = BoundedVec<UsageLine, N>> {
    vec((item_name(), any::<u64>()).prop_map(|(item, units)| UsageLine { item, units }), 0..=3.min(N))
        .prop_map(|lines| BoundedVec::new(lines).expect("within the limit"))
}

pub fn tier() -> impl Strategy<Value = Tier> {
    (proptest::option::of(any::<u64>()), any::<u128>())
        .prop_map(|(up_to, nanos)| Tier { up_to, unit_price: UnitPrice(nanos) })
}

/// Price plans of any content (the codec does not check a plan's form; the ledger does), small
/// enough that sixteen of them fit one transaction.
pub fn price_plan() -> impl Strategy<Value = PricePlan> {
    let item =
        (item_name(), any::<u64>(), vec(tier(), 0..=2)).prop_map(|(item, included_per_hold, tiers)| {
            PlanItem { item, included_per_hold, tiers: BoundedVec::new(tiers).expect("within the limit") }
        });
    let pack =
        (item_name(), amount(), regex("[A-Z]{3}"), any::<u64>(), 0..=limits::REFERENCE_PRICE_SCALE_MAX)
            .prop_map(|(name, credits, currency, amount, scale)| CreditPack {
                name,
                credits,
                price: ReferencePrice {
                    currency: Currency::new(currency).expect("three capitals"),
                    amount,
                    scale,
                },
            });
    (plan_id(), any::<u32>(), asset_id(), text(16), vec(item, 0..=2), vec(pack, 0..=1)).prop_map(
        |(plan_id, version, asset, title, items, packs)| PricePlan {
            plan_id,
            version,
            asset,
            title: BoundedString::new(title).expect("within the limit"),
            items: BoundedVec::new(items).expect("within the limit"),
            packs: BoundedVec::new(packs).expect("within the limit"),
        },
    )
}

pub fn retire_plan() -> impl Strategy<Value = RetirePlan> {
    plan_ref().prop_map(|plan| RetirePlan { plan })
}

pub fn grant() -> impl Strategy<Value = Grant> {
    (
        op_id(),
        asset_id(),
        public_key(),
        amount(),
        grant_kind(),
        reward_reason(),
        bounded_string(),
        proptest::option::of(pack_ref()),
    )
        .prop_map(|(grant_id, asset, to, amount, kind, reason, external_ref, pack)| Grant {
            grant_id,
            asset,
            to,
            amount,
            kind,
            // The ledger requires a reason exactly for rewards; generate what it would accept.
            reason: (kind == GrantKind::Reward).then_some(reason),
            external_ref,
            pack,
        })
}

pub fn transfer() -> impl Strategy<Value = Transfer> {
    (asset_id(), public_key(), amount()).prop_map(|(asset, to, amount)| Transfer { asset, to, amount })
}

pub fn burn() -> impl Strategy<Value = Burn> {
    (asset_id(), amount()).prop_map(|(asset, amount)| Burn { asset, amount })
}

pub fn authorize_spend() -> impl Strategy<Value = AuthorizeSpend> {
    (member_id(), asset_id(), amount(), any::<u64>(), proptest::option::of(plan_ref())).prop_map(
        |(provider, asset, cap, expires_at_ms, plan)| AuthorizeSpend {
            provider,
            asset,
            cap,
            expires_at_ms,
            plan,
        },
    )
}

pub fn hold() -> impl Strategy<Value = Hold> {
    (op_id(), public_key(), asset_id(), amount(), any::<u64>()).prop_map(
        |(hold_id, holder, asset, amount, expires_at_ms)| Hold {
            hold_id,
            holder,
            asset,
            amount,
            expires_at_ms,
        },
    )
}

pub fn settle() -> impl Strategy<Value = Settle> {
    (op_id(), op_id(), amount(), hash(), usage_lines()).prop_map(
        |(hold_id, batch_id, amount, usage_root, lines)| Settle {
            hold_id,
            batch_id,
            amount,
            usage_root,
            lines,
        },
    )
}

pub fn settle_app() -> impl Strategy<Value = SettleApp> {
    (settle(), "[a-z0-9][a-z0-9._-]{0,63}").prop_map(|(settle, app)| SettleApp {
        settle,
        app: AppId::new(app).expect("the pattern makes valid application ids"),
    })
}

pub fn void() -> impl Strategy<Value = Void> {
    op_id().prop_map(|hold_id| Void { hold_id })
}

pub fn place_offer() -> impl Strategy<Value = PlaceOffer> {
    (op_id(), asset_id(), asset_id(), amount(), price(), offer_mode()).prop_map(
        |(offer_id, sell, buy, amount, price, mode)| PlaceOffer { offer_id, sell, buy, amount, price, mode },
    )
}

pub fn cancel_offer() -> impl Strategy<Value = CancelOffer> {
    op_id().prop_map(|offer_id| CancelOffer { offer_id })
}

pub fn anchor_badges() -> impl Strategy<Value = AnchorBadges> {
    (
        hash(),
        1..=limits::BADGE_BATCH_LEAVES_MAX,
        badge_format(),
        badge_canon(),
        proptest::option::of(bounded_string()),
    )
        .prop_map(|(batch_root, leaf_count, format, canon, metadata_uri)| AnchorBadges {
            batch_root,
            leaf_count,
            format,
            canon,
            metadata_uri,
        })
}

/// Any well-formed list of up to three (the codec does not sort or sum; the ledger checks
/// those), short enough that 16 ops of it fit a transaction, as `usage_lines` keeps settlements.
pub fn anchor_achievements() -> impl Strategy<Value = AnchorAchievements> {
    let entry = ("[a-zA-Z][a-zA-Z0-9+.-]{0,9}:[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{0,40}", any::<u32>())
        .prop_map(|(id, count)| AchievementCount {
            achievement: AchievementId::new(id).expect("the pattern makes valid achievement ids"),
            count,
        });
    (anchor_badges(), vec(entry, 0..=3)).prop_map(|(anchor, achievements)| AnchorAchievements {
        anchor,
        achievements: BoundedVec::new(achievements).expect("within the limit"),
    })
}

pub fn revoke_badge() -> impl Strategy<Value = RevokeBadge> {
    (hash(), bounded_string()).prop_map(|(badge_hash, reason)| RevokeBadge { badge_hash, reason })
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        issue_asset().prop_map(Op::IssueAsset),
        grant().prop_map(Op::Grant),
        transfer().prop_map(Op::Transfer),
        burn().prop_map(Op::Burn),
        authorize_spend().prop_map(Op::AuthorizeSpend),
        hold().prop_map(Op::Hold),
        settle().prop_map(Op::Settle),
        void().prop_map(Op::Void),
        place_offer().prop_map(Op::PlaceOffer),
        cancel_offer().prop_map(Op::CancelOffer),
        anchor_badges().prop_map(Op::AnchorBadges),
        revoke_badge().prop_map(Op::RevokeBadge),
        price_plan().prop_map(|plan| Op::PublishPlan(Box::new(plan))),
        retire_plan().prop_map(Op::RetirePlan),
        settle_app().prop_map(|settle| Op::SettleApp(Box::new(settle))),
        anchor_achievements().prop_map(|anchor| Op::AnchorAchievements(Box::new(anchor))),
    ]
}

/// One op of every variant, in variant order: a round trip over this covers the whole enum
/// in every case rather than by chance.
pub fn one_op_of_each_variant() -> impl Strategy<Value = Vec<Op>> {
    (
        issue_asset(),
        grant(),
        transfer(),
        burn(),
        authorize_spend(),
        hold(),
        settle(),
        void(),
        place_offer(),
        cancel_offer(),
        anchor_badges(),
        (revoke_badge(), price_plan(), retire_plan(), settle_app(), anchor_achievements()),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, k, (l, m, n, o, p))| {
            vec![
                Op::IssueAsset(a),
                Op::Grant(b),
                Op::Transfer(c),
                Op::Burn(d),
                Op::AuthorizeSpend(e),
                Op::Hold(f),
                Op::Settle(g),
                Op::Void(h),
                Op::PlaceOffer(i),
                Op::CancelOffer(j),
                Op::AnchorBadges(k),
                Op::RevokeBadge(l),
                Op::PublishPlan(Box::new(m)),
                Op::RetirePlan(n),
                Op::SettleApp(Box::new(o)),
                Op::AnchorAchievements(Box::new(p)),
            ]
        })
}

/// Transactions with `1..=max_ops` ops (a valid transaction has at least one).
pub fn transaction_with(max_ops: usize) -> impl Strategy<Value = Transaction> {
    (chain_id(), public_key(), 1..=u64::MAX, height(), vec(op(), 1..=max_ops), bounded_bytes()).prop_map(
        |(chain_id, signer, seq, valid_until_height, ops, memo)| Transaction {
            chain_id,
            signer,
            seq,
            valid_until_height,
            ops: BoundedVec::new(ops).expect("at most TX_OPS_MAX ops"),
            memo,
        },
    )
}

pub fn transaction() -> impl Strategy<Value = Transaction> {
    transaction_with(limits::TX_OPS_MAX)
}

pub fn signed_transaction_with(max_ops: usize) -> impl Strategy<Value = SignedTransaction> {
    (transaction_with(max_ops), signature()).prop_map(|(tx, signature)| SignedTransaction { tx, signature })
}

pub fn signed_transaction() -> impl Strategy<Value = SignedTransaction> {
    signed_transaction_with(limits::TX_OPS_MAX)
}

pub fn header() -> impl Strategy<Value = Header> {
    (
        chain_id(),
        height(),
        view(),
        block_id(),
        any::<u64>(),
        any::<u16>().prop_map(ValidatorIndex),
        (hash(), hash(), hash(), hash()),
    )
        .prop_map(
            |(
                chain_id,
                height,
                view,
                parent_id,
                time_ms,
                proposer,
                (tx_root, receipts_root, state_root, validators_hash),
            )| {
                Header {
                    chain_id,
                    height,
                    view,
                    parent_id,
                    time_ms,
                    proposer,
                    tx_root,
                    receipts_root,
                    state_root,
                    validators_hash,
                }
            },
        )
}

/// Blocks of up to three transactions of up to four ops: enough to exercise nesting without
/// making every case megabytes long (the limits have their own tests).
pub fn block() -> impl Strategy<Value = Block> {
    (header(), vec(signed_transaction_with(4), 0..=3)).prop_map(|(header, txs)| Block {
        header,
        txs: BoundedVec::new(txs).expect("at most BLOCK_TXS_MAX txs"),
    })
}

pub fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        (view(), block_id()).prop_map(|(view, block_id)| Subject::Notarize { view, block_id }),
        view().prop_map(|view| Subject::Nullify { view }),
        (view(), block_id()).prop_map(|(view, block_id)| Subject::Finalize { view, block_id }),
    ]
}

pub fn vote() -> impl Strategy<Value = Vote> {
    (subject(), 0..limits::VALIDATORS_MAX as u16, signature()).prop_map(|(subject, signer, signature)| Vote {
        subject,
        signer: ValidatorIndex(signer),
        signature,
    })
}

pub fn proposal() -> impl Strategy<Value = Proposal> {
    (view(), view(), block(), signature()).prop_map(|(view, parent_view, block, signature)| Proposal {
        view,
        parent_view,
        block,
        signature,
    })
}

/// Any validator count genesis allows: 4 ≤ n ≤ 100.
pub fn validator_count() -> impl Strategy<Value = usize> {
    limits::VALIDATORS_MIN..=limits::VALIDATORS_MAX
}

/// Certificates assembled by `Certificate::from_votes` from any subset of an n-validator set.
pub fn certificate() -> impl Strategy<Value = Certificate> {
    validator_count()
        .prop_flat_map(|n| (subject(), vec(any::<bool>(), n), Just(n)))
        .prop_flat_map(|(subject, signed, n)| {
            let count = signed.iter().filter(|bit| **bit).count();
            (Just(subject), Just(signed), Just(n), vec(signature(), count))
        })
        .prop_map(|(subject, signed, n, signatures)| {
            let signers =
                signed.iter().enumerate().filter(|(_, bit)| **bit).map(|(i, _)| ValidatorIndex(i as u16));
            let votes: Vec<(ValidatorIndex, Signature)> = signers.zip(signatures).collect();
            Certificate::from_votes(subject, &votes, n).expect("distinct signers below n")
        })
}

/// Validator sets that `ValidatorSet::new` accepts: 4 ≤ n ≤ 100 distinct valid keys.
pub fn validator_set() -> impl Strategy<Value = ValidatorSet> {
    validator_count()
        .prop_flat_map(|n| subsequence(key_pool().to_vec(), n).prop_shuffle())
        .prop_map(|keys| ValidatorSet::new(keys).expect("distinct valid keys, 4 <= n <= 100"))
}

pub fn fill() -> impl Strategy<Value = Fill> {
    (0..limits::TX_OPS_MAX as u8, op_id(), op_id(), public_key(), public_key(), amount(), amount(), price())
        .prop_map(|(op_index, maker_offer, taker_offer, maker, taker, maker_gave, taker_gave, price)| Fill {
            op_index,
            maker_offer,
            taker_offer,
            maker,
            taker,
            maker_gave,
            taker_gave,
            price,
        })
}

pub fn outcome() -> impl Strategy<Value = TxOutcome> {
    prop_oneof![
        Just(TxOutcome::Success),
        (0..limits::TX_OPS_MAX as u8, error_code())
            .prop_map(|(op_index, code)| TxOutcome::Failed { op_index, code }),
    ]
}

pub fn receipt() -> impl Strategy<Value = Receipt> {
    (tx_id(), outcome(), vec(fill(), 0..=8)).prop_map(|(tx_id, outcome, fills)| Receipt {
        tx_id,
        outcome,
        fills: BoundedVec::new(fills).expect("at most RECEIPT_FILLS_MAX fills"),
    })
}

/// Proofs made by `merkle::prove` over trees of 1..=300 leaves; each verifies.
pub fn merkle_proof() -> impl Strategy<Value = MerkleProof> {
    (1usize..=300).prop_flat_map(|n| (Just(n), 0..n)).prop_map(|(n, index)| {
        let leaves: Vec<Hash> = (0..n as u64).map(|i| merkle_leaf(&i.to_le_bytes())).collect();
        merkle::prove(&leaves, index).expect("index below the leaf count")
    })
}

/// One edit of an encoding.
#[derive(Clone, Debug)]
pub enum Mutation {
    FlipBit {
        at: Index,
        bit: u8,
    },
    SetByte {
        at: Index,
        byte: u8,
    },
    Insert {
        at: Index,
        byte: u8,
    },
    Delete {
        at: Index,
    },
    Truncate {
        at: Index,
    },
    /// Overwrites four bytes with a little-endian u32, the shape of every length prefix.
    SetU32 {
        at: Index,
        value: u32,
    },
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<Index>().prop_map(|at| Mutation::Delete { at }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        (any::<Index>(), prop_oneof![Just(u32::MAX), Just(0), 0..300u32, any::<u32>()])
            .prop_map(|(at, value)| Mutation::SetU32 { at, value }),
    ]
}

/// Applies `mutation` to `bytes`.
pub fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::FlipBit { at, bit } if len > 0 => bytes[at.index(len)] ^= 1 << bit,
        Mutation::SetByte { at, byte } if len > 0 => bytes[at.index(len)] = *byte,
        Mutation::Insert { at, byte } => bytes.insert(at.index(len + 1), *byte),
        Mutation::Delete { at } if len > 0 => {
            bytes.remove(at.index(len));
        }
        Mutation::Truncate { at } => bytes.truncate(at.index(len + 1)),
        Mutation::SetU32 { at, value } if len >= 4 => {
            let start = at.index(len - 3);
            bytes[start..start + 4].copy_from_slice(&value.to_le_bytes());
        }
        _ => {}
    }
}
