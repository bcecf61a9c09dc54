//! Property test of the order book: random order flows (offers of every mode at random small
//! prices, cancels, transfers, with invalid ones mixed in) over three assets and six accounts.
//! After every block: every state and history invariant holds (`Chain::block`), each asset's
//! supply and the sum of its balances are what they were before any trading, and every fill
//! is at its maker's placed price and within both limit prices (checked here again, with
//! plain `u128` arithmetic, apart from the history checker).

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use tally_ledger::state::OfferState;
use tally_ledger::{StateKey, StateValue};
use tally_types::receipt::TxOutcome;
use tally_types::tx::{CancelOffer, OfferMode, PlaceOffer};
use tally_types::{Amount, Op, Price, PublicKey, SecretKey, SignedTransaction};

const ASSETS: [&str; 3] = ["ACME@acme", "GLX@globex", "BETA@acme"];

fn accounts() -> Vec<SecretKey> {
    let a = actors();
    vec![a.alice, a.bob, a.carol, key(13), key(14), key(15)]
}

#[derive(Clone, Debug)]
enum OpSpec {
    Place { id: u8, sell: usize, buy: usize, amount: u128, price: (u64, u64), mode: OfferMode },
    Cancel { id: u8 },
    Transfer { asset: usize, to: usize, amount: u128 },
}

fn mode() -> impl Strategy<Value = OfferMode> {
    prop_oneof![
        6 => Just(OfferMode::Normal),
        1 => Just(OfferMode::Passive),
        1 => Just(OfferMode::ImmediateOrCancel),
        1 => Just(OfferMode::FillOrKill),
    ]
}

/// Small price parts, so that books cross often and exact reciprocals (2/7 against 7/2)
/// happen; a zero now and then.
fn price() -> impl Strategy<Value = (u64, u64)> {
    let part = prop_oneof![80 => 1u64..8, 1 => Just(0u64), 1 => Just(u64::MAX)];
    (part.clone(), part)
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    let amount = prop_oneof![40 => 1u128..300, 1 => Just(0u128), 1 => 5_000u128..20_000];
    // The buy asset is another one, mostly; the same one now and then (SameAsset).
    let pair = (0..ASSETS.len(), prop_oneof![30 => 1..ASSETS.len(), 1 => Just(0usize)])
        .prop_map(|(sell, shift)| (sell, (sell + shift) % ASSETS.len()));
    prop_oneof![
        10 => (0u8..48, pair, amount.clone(), price(), mode())
            .prop_map(|(id, (sell, buy), amount, price, mode)| OpSpec::Place { id, sell, buy, amount, price, mode }),
        1 => (0u8..16).prop_map(|id| OpSpec::Cancel { id }),
        1 => (0..ASSETS.len(), 0..6usize, amount).prop_map(|(asset, to, amount)| OpSpec::Transfer { asset, to, amount }),
    ]
}

/// A block: transactions as (signer, ops).
fn block() -> impl Strategy<Value = Vec<(usize, Vec<OpSpec>)>> {
    let ops =
        prop_oneof![4 => prop::collection::vec(op_spec(), 1..2), 1 => prop::collection::vec(op_spec(), 2..4)];
    prop::collection::vec((0..6usize, ops), 1..12)
}

fn to_op(spec: &OpSpec, keys: &[SecretKey]) -> Op {
    match spec {
        OpSpec::Place { id, sell, buy, amount, price, mode } => Op::PlaceOffer(PlaceOffer {
            offer_id: op_id(*id),
            sell: asset(ASSETS[*sell]),
            buy: asset(ASSETS[*buy]),
            amount: Amount(*amount),
            price: Price { numerator: price.0, denominator: price.1 },
            mode: *mode,
        }),
        OpSpec::Cancel { id } => Op::CancelOffer(CancelOffer { offer_id: op_id(*id) }),
        OpSpec::Transfer { asset: index, to, amount } => transfer(ASSETS[*index], &keys[*to], *amount),
    }
}

/// Genesis plus BETA@acme, and 5,000 of each asset for every account.
fn funded_chain(keys: &[SecretKey]) -> Chain {
    let mut chain = Chain::new();
    let a = actors();
    let mut acme_ops = vec![issue("BETA", 0, None, 0)];
    let mut globex_ops = Vec::new();
    for (index, holder) in keys.iter().enumerate() {
        let index = index as u8;
        acme_ops.push(grant(index * 2 + 1, "ACME@acme", holder, 5_000));
        acme_ops.push(grant(index * 2 + 2, "BETA@acme", holder, 5_000));
        globex_ops.push(grant(index + 1, "GLX@globex", holder, 5_000));
    }
    chain.ok(&a.acme, acme_ops);
    chain.ok(&a.globex, globex_ops);
    chain
}

fn offer_price(chain: &Chain, owner: &PublicKey, offer_id: tally_types::OpId) -> Price {
    match chain.state.value(&StateKey::Offer { owner: *owner, offer_id }) {
        Some(StateValue::Offer(OfferState { price, .. })) => *price,
        other => panic!("a fill names maker offer {offer_id}, which is {other:?}"),
    }
}

fn balance_sums(chain: &Chain) -> BTreeMap<String, u128> {
    let mut sums = BTreeMap::new();
    for (key, value) in chain.state.entries() {
        if let (StateKey::Balance { asset, .. }, StateValue::Balance(balance)) = (key, value) {
            *sums.entry(asset.to_string()).or_insert(0) += balance.available.0 + balance.locked.0;
        }
    }
    sums
}

/// Runs one flow, checking after every block; returns the number of fills it made.
fn check_flow(blocks: &[Vec<(usize, Vec<OpSpec>)>]) -> Result<usize, TestCaseError> {
    let keys = accounts();
    let mut chain = funded_chain(&keys);
    let supplies: Vec<u128> = ASSETS.iter().map(|id| chain.supply(id)).collect();
    let sums = balance_sums(&chain);
    let mut fills_seen = 0usize;
    for block in blocks {
        let mut seqs: BTreeMap<usize, u64> = BTreeMap::new();
        let txs: Vec<SignedTransaction> = block
            .iter()
            .map(|(signer, ops)| {
                let seq = seqs.entry(*signer).or_insert_with(|| chain.next_seq(&keys[*signer]));
                let tx = signed(&keys[*signer], *seq, ops.iter().map(|op| to_op(op, &keys)).collect());
                *seq += 1;
                tx
            })
            .collect();
        // State and history invariants are checked inside, after the block.
        let committed = chain.block(&txs).expect("every transaction is includable");
        prop_assert_eq!(ASSETS.iter().map(|id| chain.supply(id)).collect::<Vec<_>>(), supplies.clone());
        prop_assert_eq!(balance_sums(&chain), sums.clone());
        for (tx, receipt) in txs.iter().zip(&committed.output.receipts) {
            if receipt.outcome != TxOutcome::Success {
                prop_assert!(receipt.fills.is_empty());
                continue;
            }
            for fill in receipt.fills.iter() {
                fills_seen += 1;
                let Op::PlaceOffer(taker) = &tx.tx.ops[usize::from(fill.op_index)] else {
                    panic!("a fill of an op that is not a PlaceOffer");
                };
                let (maker_price, taker_price) = (fill.price, taker.price);
                prop_assert_eq!(maker_price, offer_price(&chain, &fill.maker, fill.maker_offer));
                prop_assert_ne!(fill.maker, fill.taker);
                let (b, a) = (fill.maker_gave.0, fill.taker_gave.0);
                prop_assert!(a > 0 && b > 0);
                // Amounts stay far below 2^64 here, so these products fit a u128.
                let (q_n, q_d) = (u128::from(maker_price.numerator), u128::from(maker_price.denominator));
                let (p_n, p_d) = (u128::from(taker_price.numerator), u128::from(taker_price.denominator));
                prop_assert!(
                    a.checked_mul(q_d).expect("fits") >= b.checked_mul(q_n).expect("fits"),
                    "maker got {} for {} at {}",
                    a,
                    b,
                    maker_price
                );
                prop_assert!(
                    b.checked_mul(p_d).expect("fits") >= a.checked_mul(p_n).expect("fits"),
                    "taker got {} for {} at {}",
                    b,
                    a,
                    taker_price
                );
            }
        }
    }
    Ok(fills_seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_order_flows_keep_every_invariant(blocks in prop::collection::vec(block(), 1..12)) {
        check_flow(&blocks)?;
    }
}

/// The generator is not vacuous: over a fixed sample of flows, trades happen.
#[test]
fn the_generated_flows_trade() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let strategy = prop::collection::vec(block(), 5..10);
    let mut fills = 0;
    for _ in 0..8 {
        let blocks = strategy.new_tree(&mut runner).expect("a sample").current();
        fills += check_flow(&blocks).expect("the flow keeps every invariant");
    }
    assert!(fills >= 50, "only {fills} fills in 8 sampled flows");
}
