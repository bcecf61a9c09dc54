//! The order book (docs/ARCHITECTURE.md "Ledger"): each PlaceOffer and CancelOffer rule and error code,
//! price-time priority, fills at the maker's price with rounding in its favour, awkward
//! prices, dust, the modes (passive, IOC, FOK), self-trade, the 1,000-fill limit, several
//! offers in one transaction and in one block, and the invariant checkers catching a broken
//! book. Every block of every test is checked against every state and history invariant
//! (`Chain::block`).

mod common;

use std::collections::BTreeMap;

use common::*;
use tally_ledger::state::{
    BookEntryState, BookPosition, OfferStamp, OfferState, OfferStatus, OrderedU64, PriceRank,
};
use tally_ledger::{
    BalanceState, HistoryViolation, InvariantViolation, StateKey, StateValue, check_invariants,
};
use tally_types::receipt::{Fill, Receipt, TxOutcome};
use tally_types::tx::{CancelOffer, OfferMode, PlaceOffer};
use tally_types::{Amount, ErrorCode, Height, Op, Price, SecretKey};

const ACME: &str = "ACME@acme";
const GLX: &str = "GLX@globex";

fn dave() -> SecretKey {
    key(13)
}

fn place(id: u8, sell: &str, buy: &str, amount: u128, price: (u64, u64), mode: OfferMode) -> Op {
    Op::PlaceOffer(PlaceOffer {
        offer_id: op_id(id),
        sell: asset(sell),
        buy: asset(buy),
        amount: Amount(amount),
        price: Price { numerator: price.0, denominator: price.1 },
        mode,
    })
}

/// A normal offer selling ACME for GLX at `price` GLX per ACME.
fn sell_acme(id: u8, amount: u128, price: (u64, u64)) -> Op {
    place(id, ACME, GLX, amount, price, OfferMode::Normal)
}

/// A normal offer selling GLX for ACME at `price` ACME per GLX.
fn sell_glx(id: u8, amount: u128, price: (u64, u64)) -> Op {
    place(id, GLX, ACME, amount, price, OfferMode::Normal)
}

fn cancel(id: u8) -> Op {
    Op::CancelOffer(CancelOffer { offer_id: op_id(id) })
}

/// Genesis, plus GLX for bob (10,000), carol (10,000) and dave (10,000), and ACME for carol
/// and dave (1,000 each). Alice: 1,000 ACME; bob: 500 ACME.
fn market() -> Chain {
    let mut chain = Chain::new();
    let a = actors();
    chain.ok(
        &a.globex,
        vec![grant(1, GLX, &a.bob, 10_000), grant(2, GLX, &a.carol, 10_000), grant(3, GLX, &dave(), 10_000)],
    );
    chain.ok(&a.acme, vec![grant(1, ACME, &a.carol, 1_000), grant(2, ACME, &dave(), 1_000)]);
    chain
}

fn offer(chain: &Chain, owner: &SecretKey, id: u8) -> OfferState {
    match chain.state.value(&StateKey::Offer { owner: owner.public_key(), offer_id: op_id(id) }) {
        Some(StateValue::Offer(offer)) => offer.clone(),
        other => panic!("no offer {id}: {other:?}"),
    }
}

/// The book of `sell` for `buy`, best first: (owner, offer id byte, remaining).
fn book(chain: &Chain, sell: &str, buy: &str) -> Vec<(tally_types::PublicKey, u8, u128)> {
    chain
        .state
        .entries()
        .filter_map(|(key, value)| match (key, value) {
            (StateKey::BookEntry { sell: s, buy: b, .. }, StateValue::BookEntry(entry))
                if *s == asset(sell) && *b == asset(buy) =>
            {
                let offer = match chain
                    .state
                    .value(&StateKey::Offer { owner: entry.owner, offer_id: entry.offer_id })
                {
                    Some(StateValue::Offer(offer)) => offer.remaining.0,
                    other => panic!("entry without offer: {other:?}"),
                };
                Some((entry.owner, entry.offer_id.0[0], offer))
            }
            _ => None,
        })
        .collect()
}

fn balance_of(chain: &Chain, holder: &SecretKey, id: &str) -> (u128, u128) {
    let balance = chain.balance(holder, id);
    (balance.available.0, balance.locked.0)
}

fn fill(
    maker: &SecretKey,
    maker_offer: u8,
    taker: &SecretKey,
    taker_offer: u8,
    gave: (u128, u128),
    price: (u64, u64),
) -> Fill {
    fill_at(0, maker, maker_offer, taker, taker_offer, gave, price)
}

fn fill_at(
    op_index: u8,
    maker: &SecretKey,
    maker_offer: u8,
    taker: &SecretKey,
    taker_offer: u8,
    (maker_gave, taker_gave): (u128, u128),
    price: (u64, u64),
) -> Fill {
    Fill {
        op_index,
        maker_offer: op_id(maker_offer),
        taker_offer: op_id(taker_offer),
        maker: maker.public_key(),
        taker: taker.public_key(),
        maker_gave: Amount(maker_gave),
        taker_gave: Amount(taker_gave),
        price: Price { numerator: price.0, denominator: price.1 },
    }
}

fn success(receipt: &Receipt) -> Vec<Fill> {
    assert_eq!(receipt.outcome, TxOutcome::Success, "{receipt:?}");
    receipt.fills.to_vec()
}

// ---- checks and their order ----

#[test]
fn each_place_offer_check_has_its_code() {
    let mut chain = market();
    let a = actors();
    let bad = |price| place(1, ACME, GLX, 10, price, OfferMode::Normal);
    chain.fails(&a.alice, vec![bad((0, 1))], 0, ErrorCode::BadPrice);
    chain.fails(&a.alice, vec![bad((1, 0))], 0, ErrorCode::BadPrice);
    chain.fails(&a.alice, vec![place(1, ACME, ACME, 10, (1, 1), OfferMode::Normal)], 0, ErrorCode::SameAsset);
    chain.fails(&a.alice, vec![sell_acme(1, 0, (1, 1))], 0, ErrorCode::ZeroAmount);
    chain.fails(
        &a.alice,
        vec![place(1, "NOPE@acme", GLX, 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::UnknownAsset,
    );
    chain.fails(
        &a.alice,
        vec![place(1, ACME, "NOPE@acme", 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::UnknownAsset,
    );
    chain.fails(&a.alice, vec![sell_acme(1, 1_001, (1, 1))], 0, ErrorCode::InsufficientBalance);
    chain.fails(
        &a.alice,
        vec![place(1, GLX, ACME, 1, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::InsufficientBalance,
    );

    // A non-tradable asset may be neither sold nor bought.
    chain.ok(
        &a.acme,
        vec![
            issue("NT", 0, None, tally_types::tx::AssetFlags::NON_TRADABLE),
            grant(9, "NT@acme", &a.alice, 50),
        ],
    );
    chain.fails(
        &a.alice,
        vec![place(1, "NT@acme", GLX, 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::NotTradable,
    );
    chain.fails(
        &a.alice,
        vec![place(1, ACME, "NT@acme", 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::NotTradable,
    );
    // A non-transferable asset may move only to or from its member's issuers; a fill would move
    // it between holders, so it may be neither sold nor bought on the book.
    chain.fails(
        &a.alice,
        vec![place(1, "PROMO@acme", GLX, 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::NotTransferable,
    );
    chain.fails(
        &a.alice,
        vec![place(1, ACME, "PROMO@acme", 10, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::NotTransferable,
    );
}

#[test]
fn checks_run_in_the_documented_order() {
    let mut chain = market();
    let a = actors();
    // Every problem at once: the price is reported first, then each next one as it is fixed.
    chain.fails(
        &a.alice,
        vec![place(1, "NOPE@acme", "NOPE@acme", 0, (0, 0), OfferMode::Normal)],
        0,
        ErrorCode::BadPrice,
    );
    chain.fails(
        &a.alice,
        vec![place(1, "NOPE@acme", "NOPE@acme", 0, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::SameAsset,
    );
    chain.fails(
        &a.alice,
        vec![place(1, "NOPE@acme", GLX, 0, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::ZeroAmount,
    );
    chain.fails(
        &a.alice,
        vec![place(1, "NOPE@acme", GLX, 5_000, (1, 1), OfferMode::Normal)],
        0,
        ErrorCode::UnknownAsset,
    );
    chain.ok(&a.alice, vec![sell_acme(1, 10, (1, 1))]);
    // A used id comes before the balance check.
    chain.fails(&a.alice, vec![sell_acme(1, 5_000, (1, 1))], 0, ErrorCode::DuplicateOfferId);
    chain.fails(&a.alice, vec![sell_acme(2, 5_000, (1, 1))], 0, ErrorCode::InsufficientBalance);
    // Passive crossing is checked after the balance.
    chain.fails(
        &a.bob,
        vec![place(3, GLX, ACME, 50_000, (1, 1), OfferMode::Passive)],
        0,
        ErrorCode::InsufficientBalance,
    );
}

#[test]
fn offer_ids_are_unique_per_owner_forever() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (5, 1))]);
    chain.fails(&a.alice, vec![sell_acme(1, 10, (5, 1))], 0, ErrorCode::DuplicateOfferId);
    chain.ok(&a.alice, vec![cancel(1)]);
    // Closed (cancelled) ids stay used.
    chain.fails(&a.alice, vec![sell_acme(1, 10, (5, 1))], 0, ErrorCode::DuplicateOfferId);
    // Twice in one transaction: the second fails and takes the first with it.
    chain.fails(
        &a.alice,
        vec![sell_acme(2, 10, (5, 1)), sell_acme(2, 10, (5, 1))],
        1,
        ErrorCode::DuplicateOfferId,
    );
    // Another owner may use the same id.
    chain.ok(&a.bob, vec![sell_acme(1, 10, (5, 1))]);
    // A filled IOC id is used too.
    chain.ok(&a.carol, vec![place(7, GLX, ACME, 10, (1, 100), OfferMode::ImmediateOrCancel)]);
    assert!(matches!(offer(&chain, &a.carol, 7).status, OfferStatus::Filled { .. }));
    chain.fails(
        &a.carol,
        vec![place(7, GLX, ACME, 10, (1, 100), OfferMode::Normal)],
        0,
        ErrorCode::DuplicateOfferId,
    );
}

// ---- resting, cancelling ----

#[test]
fn a_resting_offer_locks_its_amount_and_cancel_unlocks_it() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 300, (3, 2))]);
    assert_eq!(balance_of(&chain, &a.alice, ACME), (700, 300));
    let resting = offer(&chain, &a.alice, 1);
    let height = chain.height;
    assert_eq!(resting.status, OfferStatus::Open);
    assert_eq!((resting.amount, resting.remaining), (Amount(300), Amount(300)));
    assert_eq!(
        resting.position,
        BookPosition {
            rank: PriceRank::of(&Price { numerator: 3, denominator: 2 }).expect("valid"),
            stamp: OfferStamp { height: OrderedU64(height.0), tx_index: OrderedU64(0), op_index: 0 },
        }
    );
    assert_eq!(book(&chain, ACME, GLX), vec![(a.alice.public_key(), 1, 300)]);
    // Locked credits are not available: not to transfer, not to sell again.
    chain.fails(&a.alice, vec![transfer(ACME, &a.bob, 701)], 0, ErrorCode::InsufficientBalance);
    chain.fails(&a.alice, vec![sell_acme(2, 701, (3, 2))], 0, ErrorCode::InsufficientBalance);

    // Nobody else can cancel it: ids are per owner, so bob names his own (absent) offer.
    chain.fails(&a.bob, vec![cancel(1)], 0, ErrorCode::UnknownOffer);
    chain.ok(&a.alice, vec![cancel(1)]);
    assert_eq!(balance_of(&chain, &a.alice, ACME), (1_000, 0));
    assert_eq!(offer(&chain, &a.alice, 1).status, OfferStatus::Cancelled { height: chain.height });
    assert!(book(&chain, ACME, GLX).is_empty());
    chain.fails(&a.alice, vec![cancel(1)], 0, ErrorCode::UnknownOffer);
    chain.fails(&a.alice, vec![cancel(9)], 0, ErrorCode::UnknownOffer);
}

#[test]
fn cancel_after_a_partial_fill_unlocks_the_remainder() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 1))]);
    let fills =
        success(&chain.run(&a.bob, vec![place(1, GLX, ACME, 50, (1, 2), OfferMode::ImmediateOrCancel)]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 1, (25, 50), (2, 1))]);
    assert_eq!(balance_of(&chain, &a.alice, ACME), (900, 75));
    assert_eq!(offer(&chain, &a.alice, 1).remaining, Amount(75));
    chain.ok(&a.alice, vec![cancel(1)]);
    assert_eq!(balance_of(&chain, &a.alice, ACME), (975, 0));
    assert_eq!(balance_of(&chain, &a.alice, GLX), (50, 0));
    let cancelled = offer(&chain, &a.alice, 1);
    assert_eq!((cancelled.amount, cancelled.remaining), (Amount(100), Amount(75)));
}

// ---- matching ----

#[test]
fn a_crossing_offer_trades_at_the_makers_price() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 1))]);
    // Bob would pay up to 3 GLX per ACME (asks 1/3 ACME per GLX); he pays the maker's 2.
    let fills = success(&chain.run(&a.bob, vec![sell_glx(4, 300, (1, 3))]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 4, (100, 200), (2, 1))]);
    assert_eq!(balance_of(&chain, &a.alice, ACME), (900, 0));
    assert_eq!(balance_of(&chain, &a.alice, GLX), (200, 0));
    assert_eq!(balance_of(&chain, &a.bob, ACME), (600, 0));
    // Bob's remaining 100 GLX rest: the book is now empty on the other side.
    assert_eq!(balance_of(&chain, &a.bob, GLX), (9_700, 100));
    assert_eq!(offer(&chain, &a.alice, 1).status, OfferStatus::Filled { height: chain.height });
    let taker = offer(&chain, &a.bob, 4);
    assert_eq!((taker.status, taker.remaining), (OfferStatus::Open, Amount(100)));
    assert!(book(&chain, ACME, GLX).is_empty());
    assert_eq!(book(&chain, GLX, ACME), vec![(a.bob.public_key(), 4, 100)]);
    assert_eq!(chain.supply(GLX), 30_000);
}

/// A book entry whose offer is not open, or is open with nothing left, is a corrupt state:
/// matching against it stops the block with an error naming the offer, never a trade.
#[test]
fn a_book_entry_of_a_closed_or_empty_offer_is_corruption_not_a_trade() {
    let a = actors();
    for (status, remaining) in [(OfferStatus::Cancelled { height: Height(1) }, 100), (OfferStatus::Open, 0)] {
        let mut chain = market();
        chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 1))]);
        let mut resting = offer(&chain, &a.alice, 1);
        resting.status = status;
        resting.remaining = Amount(remaining);
        let mut writes = tally_ledger::WriteSet::new();
        writes.insert(
            StateKey::Offer { owner: a.alice.public_key(), offer_id: op_id(1) },
            Some(StateValue::Offer(resting)),
        );
        chain.state.commit(&writes).expect("commits");
        let tx = chain.tx(&a.bob, vec![sell_glx(4, 300, (1, 3))]);
        let error = chain.block(&[tx]).expect_err("the book is corrupt");
        assert!(error.to_string().contains("which is not open"), "{status:?}, {remaining}: {error}");
    }
}

#[test]
fn an_offer_that_does_not_cross_rests() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 1))]);
    // Bob asks 1 ACME per GLX, i.e. pays at most 1 GLX per ACME: 2 · 1 > 1.
    let fills = success(&chain.run(&a.bob, vec![sell_glx(1, 100, (1, 1))]));
    assert!(fills.is_empty());
    assert_eq!(book(&chain, ACME, GLX).len(), 1);
    assert_eq!(book(&chain, GLX, ACME).len(), 1);
}

#[test]
fn price_then_time_priority() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (2, 1))]);
    chain.ok(&a.bob, vec![sell_acme(1, 10, (2, 1))]);
    chain.ok(&a.carol, vec![sell_acme(1, 10, (3, 1))]);
    chain.ok(&dave(), vec![sell_acme(1, 10, (1, 1))]);
    let order: Vec<_> = book(&chain, ACME, GLX).iter().map(|(owner, _, _)| *owner).collect();
    let expected = vec![dave().public_key(), a.alice.public_key(), a.bob.public_key(), a.carol.public_key()];
    assert_eq!(order, expected, "best price first, then the oldest");

    // Carol pays at most 2 GLX per ACME (asks 1/2 ACME per GLX): she takes dave's, then
    // alice's (older) and bob's, and stops before her own offer at 3, which does not cross.
    let fills = success(&chain.run(&a.carol, vec![sell_glx(2, 1_000, (1, 2))]));
    assert_eq!(
        fills,
        vec![
            fill(&dave(), 1, &a.carol, 2, (10, 10), (1, 1)),
            fill(&a.alice, 1, &a.carol, 2, (10, 20), (2, 1)),
            fill(&a.bob, 1, &a.carol, 2, (10, 20), (2, 1)),
        ]
    );
    // Carol's remainder rests at 1/2 against her own offer at 3: they do not cross (1/2 · 3 > 1).
    assert_eq!(book(&chain, GLX, ACME), vec![(a.carol.public_key(), 2, 950)]);
    assert_eq!(book(&chain, ACME, GLX), vec![(a.carol.public_key(), 1, 10)]);
}

#[test]
fn awkward_prices_round_in_favour_of_the_resting_offer() {
    let mut chain = market();
    let a = actors();
    // Alice sells ACME at 2/7 GLX per ACME (7 ACME for 2 GLX).
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 7))]);
    // Bob gives 3 GLX, asking at least 1 ACME per GLX: he gets ⌊3·7/2⌋ = 10 ACME and pays
    // ⌈10·2/7⌉ = 3 GLX; alice receives 3 for 10, above her 2/7.
    let fills =
        success(&chain.run(&a.bob, vec![place(1, GLX, ACME, 3, (1, 1), OfferMode::ImmediateOrCancel)]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 1, (10, 3), (2, 7))]);
    assert_eq!(offer(&chain, &a.bob, 1).status, OfferStatus::Filled { height: chain.height });

    // 7/2 against 2/7 (exact reciprocals): 4 GLX buy exactly 14 ACME.
    let fills = success(&chain.run(&a.bob, vec![place(2, GLX, ACME, 4, (7, 2), OfferMode::Normal)]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 2, (14, 4), (2, 7))]);
    // 5 GLX would buy 17 ACME for ⌈34/7⌉ = 5 GLX: 3.4 ACME per GLX, below bob's 7/2. Matching
    // stops before any fill; the remainder may not rest crossed, so the offer closes.
    let fills = success(&chain.run(&a.bob, vec![place(3, GLX, ACME, 5, (7, 2), OfferMode::Normal)]));
    assert!(fills.is_empty());
    let closed = offer(&chain, &a.bob, 3);
    assert_eq!((closed.status, closed.remaining), (OfferStatus::Closed { height: chain.height }, Amount(5)));
    assert!(book(&chain, GLX, ACME).is_empty());
    assert_eq!(balance_of(&chain, &a.bob, GLX), (10_000 - 7, 0));

    // 1/3: carol sells ACME at 1/3 GLX per ACME; dave gives 7 GLX asking 2 ACME per GLX.
    chain.ok(&a.carol, vec![sell_acme(1, 100, (1, 3))]);
    let fills = success(&chain.run(&dave(), vec![sell_glx(1, 7, (2, 1))]));
    // Alice's 2/7 ≈ 0.286 is better than carol's 1/3 and still holds 76 ACME.
    assert_eq!(fills, vec![fill(&a.alice, 1, &dave(), 1, (24, 7), (2, 7))]);
    let fills = success(&chain.run(&dave(), vec![sell_glx(2, 7, (2, 1))]));
    // ⌊7·7/2⌋ = 24 again, but alice has 52 left: she gives 24 for ⌈48/7⌉ = 7.
    assert_eq!(fills, vec![fill(&a.alice, 1, &dave(), 2, (24, 7), (2, 7))]);
    chain.ok(&a.alice, vec![cancel(1)]);
    let fills = success(&chain.run(&dave(), vec![sell_glx(3, 7, (2, 1))]));
    assert_eq!(fills, vec![fill(&a.carol, 1, &dave(), 3, (21, 7), (1, 3))]);
}

#[test]
fn a_dust_remainder_that_cannot_buy_one_unit_is_closed() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (3, 1))]);
    // 7 GLX at 3 GLX per ACME: 2 ACME for 6 GLX, and 1 GLX buys no whole ACME.
    let fills = success(&chain.run(&a.bob, vec![sell_glx(1, 7, (1, 5))]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 1, (2, 6), (3, 1))]);
    let closed = offer(&chain, &a.bob, 1);
    assert_eq!((closed.status, closed.remaining), (OfferStatus::Closed { height: chain.height }, Amount(1)));
    assert_eq!(balance_of(&chain, &a.bob, GLX), (10_000 - 6, 0));
    assert!(book(&chain, GLX, ACME).is_empty(), "a crossed remainder never rests");
}

#[test]
fn a_partially_filled_maker_keeps_its_place() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 1))]);
    chain.ok(&a.bob, vec![sell_acme(1, 100, (2, 1))]);
    success(&chain.run(&a.carol, vec![sell_glx(1, 50, (1, 2))]));
    assert_eq!(book(&chain, ACME, GLX), vec![(a.alice.public_key(), 1, 75), (a.bob.public_key(), 1, 100)]);
    let fills = success(&chain.run(&a.carol, vec![sell_glx(2, 200, (1, 2))]));
    assert_eq!(
        fills,
        vec![
            fill(&a.alice, 1, &a.carol, 2, (75, 150), (2, 1)),
            fill(&a.bob, 1, &a.carol, 2, (25, 50), (2, 1))
        ]
    );
}

// ---- modes ----

#[test]
fn immediate_or_cancel_never_rests() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (2, 1))]);
    let fills =
        success(&chain.run(&a.bob, vec![place(1, GLX, ACME, 100, (1, 2), OfferMode::ImmediateOrCancel)]));
    assert_eq!(fills, vec![fill(&a.alice, 1, &a.bob, 1, (10, 20), (2, 1))]);
    let closed = offer(&chain, &a.bob, 1);
    assert_eq!((closed.status, closed.remaining), (OfferStatus::Closed { height: chain.height }, Amount(80)));
    assert_eq!(balance_of(&chain, &a.bob, GLX), (10_000 - 20, 0));
    // Nothing crosses: an IOC succeeds, trades nothing, and closes.
    let fills =
        success(&chain.run(&a.bob, vec![place(2, GLX, ACME, 100, (1, 2), OfferMode::ImmediateOrCancel)]));
    assert!(fills.is_empty());
    assert!(matches!(offer(&chain, &a.bob, 2).status, OfferStatus::Closed { .. }));
    assert!(book(&chain, GLX, ACME).is_empty());
}

#[test]
fn fill_or_kill_fills_completely_or_fails_without_effect() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (2, 1))]);
    chain.ok(&a.bob, vec![sell_acme(1, 10, (3, 1))]);
    // 50 GLX would need 10 ACME at 2 and 10 at 3: only 20 + 30 fits, so 50 fills exactly.
    chain.fails(
        &a.carol,
        vec![place(1, GLX, ACME, 51, (1, 3), OfferMode::FillOrKill)],
        0,
        ErrorCode::FillOrKillNotFilled,
    );
    // Bob's offer at 3 is beyond a limit of 1/2.
    chain.fails(
        &a.carol,
        vec![place(1, GLX, ACME, 50, (1, 2), OfferMode::FillOrKill)],
        0,
        ErrorCode::FillOrKillNotFilled,
    );
    let fills = success(&chain.run(&a.carol, vec![place(1, GLX, ACME, 50, (1, 3), OfferMode::FillOrKill)]));
    assert_eq!(
        fills,
        vec![
            fill(&a.alice, 1, &a.carol, 1, (10, 20), (2, 1)),
            fill(&a.bob, 1, &a.carol, 1, (10, 30), (3, 1))
        ]
    );
    assert_eq!(offer(&chain, &a.carol, 1).status, OfferStatus::Filled { height: chain.height });
}

#[test]
fn passive_offers_never_take() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (2, 1))]);
    // Exactly reciprocal counts as crossing.
    chain.fails(
        &a.bob,
        vec![place(1, GLX, ACME, 20, (1, 2), OfferMode::Passive)],
        0,
        ErrorCode::PassiveWouldCross,
    );
    chain.fails(
        &a.bob,
        vec![place(1, GLX, ACME, 20, (1, 3), OfferMode::Passive)],
        0,
        ErrorCode::PassiveWouldCross,
    );
    // Not crossing: it rests like a normal offer.
    success(&chain.run(&a.bob, vec![place(1, GLX, ACME, 20, (1, 1), OfferMode::Passive)]));
    assert_eq!(book(&chain, GLX, ACME), vec![(a.bob.public_key(), 1, 20)]);
    assert_eq!(balance_of(&chain, &a.bob, GLX), (9_980, 20));
    // A passive offer is a maker like any other.
    let fills = success(&chain.run(&a.carol, vec![sell_acme(1, 20, (1, 1))]));
    assert_eq!(fills, vec![fill(&a.bob, 1, &a.carol, 1, (20, 20), (1, 1))]);
}

// ---- self-trade ----

#[test]
fn trading_with_ones_own_offer_fails_the_op() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.globex, vec![grant(4, GLX, &a.alice, 100)]);
    chain.ok(&a.alice, vec![sell_acme(1, 10, (2, 1))]);
    chain.fails(&a.alice, vec![sell_glx(2, 20, (1, 2))], 0, ErrorCode::SelfTrade);
    // An own offer that does not cross is no obstacle (placed and cancelled in one transaction).
    chain.ok(&a.alice, vec![sell_glx(2, 20, (1, 1)), cancel(2)]);
    assert_eq!(offer(&chain, &a.alice, 2).status, OfferStatus::Cancelled { height: chain.height });
    // A better offer of someone else is met first, but the op then reaches alice's own: the
    // whole op fails and bob's offer is untouched.
    chain.ok(&a.bob, vec![sell_acme(1, 10, (1, 1))]);
    chain.fails(&a.alice, vec![sell_glx(3, 40, (1, 2))], 0, ErrorCode::SelfTrade);
    assert_eq!(book(&chain, ACME, GLX), vec![(a.bob.public_key(), 1, 10), (a.alice.public_key(), 1, 10)]);
    // Stopping before it is fine.
    let fills = success(&chain.run(&a.alice, vec![sell_glx(3, 10, (1, 2))]));
    assert_eq!(fills, vec![fill(&a.bob, 1, &a.alice, 3, (10, 10), (1, 1))]);
}

// ---- the fill limit ----

/// An offer id from a number (for more than 255 offers).
fn numbered_id(n: u32) -> tally_types::OpId {
    let mut bytes = [0x5a; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    tally_types::OpId(bytes)
}

#[test]
fn at_most_one_thousand_fills_per_op() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.acme, vec![grant(3, ACME, &a.alice, 1)]);
    // 1,001 offers of 1 ACME at 1 GLX, 16 per transaction, all in one block.
    let offers: Vec<Op> = (0..1_001u32)
        .map(|n| {
            Op::PlaceOffer(PlaceOffer {
                offer_id: numbered_id(n),
                sell: asset(ACME),
                buy: asset(GLX),
                amount: Amount(1),
                price: Price { numerator: 1, denominator: 1 },
                mode: OfferMode::Normal,
            })
        })
        .collect();
    let first_seq = chain.next_seq(&a.alice);
    let txs: Vec<_> = offers
        .chunks(16)
        .enumerate()
        .map(|(i, ops)| signed(&a.alice, first_seq + i as u64, ops.to_vec()))
        .collect();
    let committed = chain.block(&txs).expect("includable");
    assert!(committed.output.receipts.iter().all(|r| r.outcome == TxOutcome::Success));
    assert_eq!(book(&chain, ACME, GLX).len(), 1_001);

    // 1,001 GLX need 1,001 fills: refused, nothing happens.
    chain.fails(&a.bob, vec![sell_glx(1, 1_001, (1, 1))], 0, ErrorCode::TooManyFills);
    // 1,000 is the limit.
    let fills = success(&chain.run(&a.bob, vec![sell_glx(1, 1_000, (1, 1))]));
    assert_eq!(fills.len(), 1_000);
    assert!(
        fills
            .iter()
            .enumerate()
            .all(|(n, f)| f.maker_offer == numbered_id(n as u32) && f.maker_gave == Amount(1))
    );
    assert_eq!(offer(&chain, &a.bob, 1).status, OfferStatus::Filled { height: chain.height });
    assert_eq!(book(&chain, ACME, GLX).len(), 1);
    assert_eq!(balance_of(&chain, &a.alice, GLX), (1_000, 0));
}

// ---- several offers in one transaction and one block ----

#[test]
fn later_ops_of_a_transaction_see_the_book_the_earlier_ones_left() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (1, 1))]);
    chain.ok(&a.carol, vec![sell_acme(1, 10, (2, 1))]);
    // Op 0 consumes alice's offer; op 1 must skip its deleted entry and meet carol's.
    let fills = success(&chain.run(&a.bob, vec![sell_glx(1, 10, (1, 1)), sell_glx(2, 20, (1, 2))]));
    assert_eq!(
        fills,
        vec![
            fill_at(0, &a.alice, 1, &a.bob, 1, (10, 10), (1, 1)),
            fill_at(1, &a.carol, 1, &a.bob, 2, (10, 20), (2, 1))
        ]
    );
    // An offer placed by op 0 rests and is taken by a later transaction; op indexes stamp it.
    chain.ok(&dave(), vec![transfer(GLX, &a.alice, 1), sell_acme(1, 5, (3, 1)), sell_acme(2, 5, (3, 1))]);
    let first = offer(&chain, &dave(), 1).position.stamp;
    let second = offer(&chain, &dave(), 2).position.stamp;
    assert_eq!((first.op_index, second.op_index), (1, 2));
    assert_eq!(book(&chain, ACME, GLX).iter().map(|(_, id, _)| *id).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn later_transactions_of_a_block_see_the_book_the_earlier_ones_left() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (1, 1))]);
    chain.ok(&a.carol, vec![sell_acme(1, 10, (2, 1))]);
    let bob_seq = chain.next_seq(&a.bob);
    let txs = vec![
        // Rests between alice's and carol's offers, only in the block's writes.
        signed(&dave(), chain.next_seq(&dave()), vec![sell_acme(1, 10, (3, 2))]),
        // Consumes alice's offer (from the committed state).
        signed(&a.bob, bob_seq, vec![sell_glx(1, 10, (1, 1))]),
        // Skips alice's consumed entry, takes dave's (placed in this block), then carol's.
        signed(&a.bob, bob_seq + 1, vec![sell_glx(2, 100, (1, 2))]),
    ];
    let committed = chain.block(&txs).expect("includable");
    let receipts = &committed.output.receipts;
    assert!(success(&receipts[0]).is_empty());
    assert_eq!(success(&receipts[1]), vec![fill(&a.alice, 1, &a.bob, 1, (10, 10), (1, 1))]);
    assert_eq!(
        success(&receipts[2]),
        vec![fill(&dave(), 1, &a.bob, 2, (10, 15), (3, 2)), fill(&a.carol, 1, &a.bob, 2, (10, 20), (2, 1))]
    );
    assert!(book(&chain, ACME, GLX).is_empty());
    assert_eq!(book(&chain, GLX, ACME), vec![(a.bob.public_key(), 2, 65)]);
    let stamp = offer(&chain, &a.bob, 2).position.stamp;
    assert_eq!(
        (stamp.height, stamp.tx_index, stamp.op_index),
        (OrderedU64(chain.height.0), OrderedU64(2), 0)
    );
}

#[test]
fn a_failed_transaction_leaves_no_fill_and_no_trace() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 10, (1, 1))]);
    // Op 0 fills against alice; op 1 fails: the fill is undone and not reported.
    let receipt = chain.run(&a.bob, vec![sell_glx(1, 10, (1, 1)), transfer(ACME, &a.bob, 1)]);
    assert_eq!(receipt.outcome, TxOutcome::Failed { op_index: 1, code: ErrorCode::SelfTransfer });
    assert!(receipt.fills.is_empty());
    assert_eq!(book(&chain, ACME, GLX), vec![(a.alice.public_key(), 1, 10)]);
    assert_eq!(balance_of(&chain, &a.bob, GLX), (10_000, 0));
}

// ---- the checkers catch a broken book ----

type Entries = BTreeMap<StateKey, StateValue>;

/// A state with alice's offer 1 (100 ACME at 2 GLX) resting.
fn resting_entries() -> Entries {
    let mut chain = market();
    chain.ok(&actors().alice, vec![sell_acme(1, 100, (2, 1))]);
    chain.state.entries().map(|(key, value)| (key.clone(), value.clone())).collect()
}

fn offer_mut<'a>(entries: &'a mut Entries, owner: &SecretKey, id: u8) -> &'a mut OfferState {
    match entries.get_mut(&StateKey::Offer { owner: owner.public_key(), offer_id: op_id(id) }) {
        Some(StateValue::Offer(offer)) => offer,
        other => panic!("no offer: {other:?}"),
    }
}

fn entry_key(entries: &Entries, owner: &SecretKey, id: u8) -> StateKey {
    let offer = match entries.get(&StateKey::Offer { owner: owner.public_key(), offer_id: op_id(id) }) {
        Some(StateValue::Offer(offer)) => offer.clone(),
        other => panic!("no offer: {other:?}"),
    };
    StateKey::BookEntry { sell: offer.sell, buy: offer.buy, position: offer.position }
}

fn broken(edit: impl FnOnce(&mut Entries)) -> InvariantViolation {
    let mut entries = resting_entries();
    check_invariants(&entries).expect("the unedited state is sound");
    edit(&mut entries);
    check_invariants(&entries).expect_err("the edit breaks an invariant")
}

fn market_violation(violation: InvariantViolation) -> String {
    match violation {
        InvariantViolation::Market(market) => format!("{market:?}"),
        other => panic!("expected a market violation, got {other:?}"),
    }
}

#[test]
fn the_state_checker_catches_a_broken_book() {
    let a = actors();
    let alice_acme = StateKey::balance(a.alice.public_key(), asset(ACME));
    let violation = broken(|e| {
        e.remove(&entry_key(e, &a.alice, 1));
    });
    assert!(market_violation(violation).starts_with("OpenOfferNotInBook"));
    let violation = broken(|e| {
        offer_mut(e, &a.alice, 1).status = OfferStatus::Cancelled { height: Height(1) };
        e.insert(
            alice_acme.clone(),
            StateValue::Balance(BalanceState { available: Amount(1_000), locked: Amount(0) }),
        );
    });
    assert!(market_violation(violation).starts_with("EntryWithoutOpenOffer"));
    let violation = broken(|e| {
        offer_mut(e, &a.alice, 1).remaining = Amount(101);
    });
    assert!(market_violation(violation).starts_with("RemainingOutOfRange"));
    let violation = broken(|e| {
        offer_mut(e, &a.alice, 1).price = Price { numerator: 3, denominator: 1 };
    });
    assert!(market_violation(violation).starts_with("RankMismatch"));
    let violation = broken(|e| {
        offer_mut(e, &a.alice, 1).buy = asset("NOPE@acme");
    });
    assert!(market_violation(violation).starts_with("UnknownAsset"));
    // Locked must equal what open offers lock.
    let violation = broken(|e| {
        e.insert(
            alice_acme.clone(),
            StateValue::Balance(BalanceState { available: Amount(950), locked: Amount(50) }),
        );
        if let Some(StateValue::Asset(state)) = e.get_mut(&StateKey::Asset { asset: asset(ACME) }) {
            state.supply = Amount(state.supply.0 - 50);
            state.burned = Amount(50);
        }
    });
    assert!(matches!(
        violation,
        InvariantViolation::LockedMismatch { locked: Amount(50), expected: Amount(100), .. }
    ));
}

#[test]
fn the_state_checker_catches_a_crossed_book() {
    let a = actors();
    let violation = broken(|e| {
        // Bob's GLX offer asking 1/2 ACME per GLX rests against alice's 2 GLX per ACME.
        let price = Price { numerator: 1, denominator: 2 };
        let position = BookPosition {
            rank: PriceRank::of(&price).expect("valid"),
            stamp: OfferStamp { height: OrderedU64(9), tx_index: OrderedU64(0), op_index: 0 },
        };
        let owner = a.bob.public_key();
        let offer = OfferState {
            sell: asset(GLX),
            buy: asset(ACME),
            price,
            mode: OfferMode::Normal,
            amount: Amount(10),
            remaining: Amount(10),
            position,
            status: OfferStatus::Open,
        };
        e.insert(StateKey::Offer { owner, offer_id: op_id(5) }, StateValue::Offer(offer));
        e.insert(
            StateKey::BookEntry { sell: asset(GLX), buy: asset(ACME), position },
            StateValue::BookEntry(BookEntryState { owner, offer_id: op_id(5) }),
        );
        e.insert(
            StateKey::balance(owner, asset(GLX)),
            StateValue::Balance(BalanceState { available: Amount(9_990), locked: Amount(10) }),
        );
    });
    assert!(market_violation(violation).starts_with("Crossed"));
}

#[test]
fn the_history_checker_catches_fills_outside_the_limits() {
    let mut chain = market();
    let a = actors();
    chain.ok(&a.alice, vec![sell_acme(1, 100, (2, 7))]);
    let before = chain.history.clone();
    let tx = chain.tx(&a.bob, vec![sell_glx(1, 3, (1, 1)), transfer(ACME, &a.carol, 1)]);
    let committed = chain.block(std::slice::from_ref(&tx)).expect("includable");
    let receipt = committed.output.receipts[0].clone();
    assert_eq!(success(&receipt), vec![fill(&a.alice, 1, &a.bob, 1, (10, 3), (2, 7))]);
    let check = |edit: &dyn Fn(&mut Receipt)| {
        let mut receipt = receipt.clone();
        edit(&mut receipt);
        let error = before.clone().observe_block(chain.height, std::slice::from_ref(&tx), &[receipt]);
        match error {
            Err(HistoryViolation::Themed { what, .. }) => what,
            other => panic!("expected a market history violation, got {other:?}"),
        }
    };
    let edit_fill = |edit: fn(&mut Fill)| {
        move |receipt: &mut Receipt| {
            let mut fills = receipt.fills.to_vec();
            edit(&mut fills[0]);
            receipt.fills = tally_types::BoundedVec::new(fills).expect("one fill");
        }
    };
    // Alice gave 10 ACME for 2 GLX: below her 2/7.
    assert!(check(&edit_fill(|f| f.taker_gave = Amount(2))).contains("maker's limit"));
    // Bob got 2 ACME for 3 GLX: below his 1/1.
    assert!(check(&edit_fill(|f| f.maker_gave = Amount(2))).contains("taker's limit"));
    assert!(
        check(&edit_fill(|f| f.price = Price { numerator: 1, denominator: 3 }))
            .contains("maker's placed price")
    );
    assert!(check(&edit_fill(|f| f.maker = f.taker)).contains("same account"));
    assert!(check(&edit_fill(|f| f.op_index = 1)).contains("not a PlaceOffer"));

    // An offer id that succeeds twice.
    let mut history = chain.history.clone();
    let again = chain.tx(&a.bob, vec![sell_glx(1, 3, (1, 1))]);
    let mut receipts = chain.block(std::slice::from_ref(&again)).expect("includable").output.receipts;
    assert_eq!(receipts[0].outcome, TxOutcome::Failed { op_index: 0, code: ErrorCode::DuplicateOfferId });
    receipts[0].outcome = TxOutcome::Success;
    let error = history.observe_block(chain.height, std::slice::from_ref(&again), &receipts);
    assert!(matches!(error, Err(HistoryViolation::Themed { what, .. }) if what.contains("succeeded twice")));
}
