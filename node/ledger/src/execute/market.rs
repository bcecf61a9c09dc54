//! The order book: PlaceOffer and CancelOffer (docs/ARCHITECTURE.md "Ledger").
//!
//! Prices are exact rationals of minor units: an offer's `price = n/d` asks `n/d` minor units
//! of `buy` per minor unit of `sell`. A resting offer R (selling the taker's buy asset for the
//! taker's sell asset at price q) crosses a taker T at price p iff `p.n · q.n ≤ p.d · q.d`,
//! compared exactly in `u128`. The book of `sell` for `buy` is the key range
//! [`KeyRange::book`], whose key order is price-time priority (best price, then oldest).
//!
//! A fill trades at the resting offer's price q. With the taker's remainder r (of its sell
//! asset) and the maker's remainder m, the maker gives `b = min(m, ⌊r·q.d / q.n⌋)` and the
//! taker gives `a = ⌈b·q.n / q.d⌉`: rounding favours the resting offer, which never receives
//! less than its price. Products of an amount and a price part need up to 192 bits and are
//! computed exactly ([`Wide`]).
//!
//! An offer never rests crossed: a remainder that cannot trade with a crossing best offer
//! (too small to buy one minor unit at its price, or rounding would break the taker's own
//! limit) is closed instead of resting.

use std::ops::Bound;

use tally_types::receipt::{ErrorCode, Fill};
use tally_types::tx::{AssetFlags, CancelOffer, OfferMode, PlaceOffer};
use tally_types::{Amount, Price, PublicKey, limits};

use super::{BlockExecutor, OpContext, OpFailure, OpResult, wrong_kind};
use crate::state::{
    BalanceState, BookEntryState, BookPosition, KeyRange, OfferStamp, OfferState, OfferStatus, OrderedU64,
    PriceRank, StateError, StateKey, StateRead, StateValue, range_start,
};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// PlaceOffer: sell `amount` of `sell` for `buy` at no less than `price` (units of `buy`
    /// per unit of `sell`), trading first against the opposite book, best offer first.
    ///
    /// Checks, in order: both price parts are non-zero (`BadPrice`); sell and buy differ
    /// (`SameAsset`); the amount is positive (`ZeroAmount`); both assets exist (`UnknownAsset`,
    /// sell checked first); neither is flagged non-tradable (`NotTradable`) nor
    /// non-transferable (`NotTransferable`, see below); the signer has
    /// never used the offer id, whether that offer is open or closed (`DuplicateOfferId`); the
    /// available balance of `sell` covers the amount (`InsufficientBalance`). A passive offer
    /// whose best opposite offer crosses is refused (`PassiveWouldCross`).
    ///
    /// Matching (not for passive offers) then takes the best opposite offer while it crosses
    /// and the remainder is positive. A crossing best offer owned by the signer fails the op
    /// (`SelfTrade`). Matching stops without failing when the remainder cannot buy one minor
    /// unit at the best price, or when rounding up what the taker gives would break the
    /// taker's own limit (possible only when the two prices are nearly reciprocal). A 1,001st
    /// fill that would otherwise happen fails the op (`TooManyFills`). A fill-or-kill offer
    /// with a remainder fails (`FillOrKillNotFilled`). A balance that would exceed `u128`
    /// fails the op (`AmountOverflow`; impossible while supply fits `u128`).
    ///
    /// Then: a remainder of zero makes the offer `Filled`; an immediate-or-cancel remainder is
    /// dropped (`Closed`); a normal or passive remainder rests in the book with its remainder
    /// locked (`Open`), unless the best opposite offer still crosses (matching stopped on
    /// dust or rounding), in which case it is dropped (`Closed`) because an offer never rests
    /// crossed. Every successful PlaceOffer records its offer under (signer, offer id).
    pub(super) fn place_offer(&mut self, at: OpContext<'_>, op: &PlaceOffer) -> OpResult {
        let signer = *at.signer;
        let (offer_key, sell_key, sell_balance) = self.check_place_offer(signer, op)?;

        // The taker's side of the fills is settled once, after matching: its balances are
        // keys no maker touches (makers are other accounts).
        let matched = self.match_unless_passive(at, op)?;

        let height = self.context.height;
        let position = BookPosition {
            rank: PriceRank::of(&op.price).expect("the price was checked valid above"),
            stamp: OfferStamp {
                height: OrderedU64(height.0),
                tx_index: OrderedU64(at.tx_index as u64),
                op_index: at.op_index,
            },
        };
        let rests = !matched.remaining.is_zero()
            && !matched.best_still_crosses
            && matches!(op.mode, OfferMode::Normal | OfferMode::Passive);
        let status = if matched.remaining.is_zero() {
            OfferStatus::Filled { height }
        } else if op.mode == OfferMode::FillOrKill {
            return Err(ErrorCode::FillOrKillNotFilled.into());
        } else if rests {
            OfferStatus::Open
        } else {
            OfferStatus::Closed { height }
        };

        let sell_balance =
            self.settle_taker_sale(signer, op, &matched, sell_balance, rests.then_some(position))?;
        self.put_balance(sell_key, sell_balance);
        self.credit_taker_purchase(signer, op, &matched)?;
        let offer = OfferState {
            sell: op.sell.clone(),
            buy: op.buy.clone(),
            price: op.price,
            mode: op.mode,
            amount: op.amount,
            remaining: matched.remaining,
            position,
            status,
        };
        self.put(offer_key, Some(StateValue::Offer(offer)));
        Ok(())
    }

    /// Matches a normal, immediate-or-cancel or fill-or-kill offer against the opposite book;
    /// a passive offer matches nothing and is refused when the best opposite offer crosses.
    fn match_unless_passive(&mut self, at: OpContext<'_>, op: &PlaceOffer) -> Result<Matched, OpFailure> {
        let opposite = KeyRange::book(&op.buy, &op.sell);
        if op.mode != OfferMode::Passive {
            return self.match_offer(at, op, &opposite);
        }
        if let Some(best) = self.next_resting(&opposite, None)?
            && crosses(&op.price, &best.offer.price)
        {
            return Err(ErrorCode::PassiveWouldCross.into());
        }
        Ok(Matched { remaining: op.amount, received: Amount::ZERO, best_still_crosses: false })
    }

    /// The taker's sell balance after matching: what it sold leaves it, and a remainder that
    /// rests (at `rest_at`) moves from available to locked and enters the book.
    fn settle_taker_sale(
        &mut self,
        signer: PublicKey,
        op: &PlaceOffer,
        matched: &Matched,
        mut sell_balance: BalanceState,
        rest_at: Option<BookPosition>,
    ) -> Result<BalanceState, OpFailure> {
        let sold =
            op.amount.checked_sub(matched.remaining).expect("matching never sells more than the amount");
        sell_balance.available = sell_balance
            .available
            .checked_sub(sold)
            .expect("the available balance covers the amount, checked above");
        if let Some(position) = rest_at {
            sell_balance.available = sell_balance
                .available
                .checked_sub(matched.remaining)
                .expect("the available balance covers the amount, checked above");
            sell_balance.locked =
                sell_balance.locked.checked_add(matched.remaining).ok_or(ErrorCode::AmountOverflow)?;
            let entry_key = StateKey::BookEntry { sell: op.sell.clone(), buy: op.buy.clone(), position };
            let entry = BookEntryState { owner: signer, offer_id: op.offer_id };
            self.put(entry_key, Some(StateValue::BookEntry(entry)));
        }
        Ok(sell_balance)
    }

    /// Credits what the taker received, of its buy asset.
    fn credit_taker_purchase(&mut self, signer: PublicKey, op: &PlaceOffer, matched: &Matched) -> OpResult {
        if !matched.received.is_zero() {
            let buy_key = StateKey::balance(signer, op.buy.clone());
            let mut buy_balance = self.read_balance(&buy_key)?;
            buy_balance.available =
                buy_balance.available.checked_add(matched.received).ok_or(ErrorCode::AmountOverflow)?;
            self.put_balance(buy_key, buy_balance);
        }
        Ok(())
    }

    /// PlaceOffer's checks before matching, in the order [`Self::place_offer`] lists them (up
    /// to the balance). Returns the offer's key, and the key and balance of what it sells.
    fn check_place_offer(
        &mut self,
        signer: PublicKey,
        op: &PlaceOffer,
    ) -> Result<(StateKey, StateKey, BalanceState), OpFailure> {
        if !op.price.is_valid() {
            return Err(ErrorCode::BadPrice.into());
        }
        if op.sell == op.buy {
            return Err(ErrorCode::SameAsset.into());
        }
        if op.amount.is_zero() {
            return Err(ErrorCode::ZeroAmount.into());
        }
        let sell_asset =
            self.read_asset(&StateKey::Asset { asset: op.sell.clone() })?.ok_or(ErrorCode::UnknownAsset)?;
        let buy_asset =
            self.read_asset(&StateKey::Asset { asset: op.buy.clone() })?.ok_or(ErrorCode::UnknownAsset)?;
        if sell_asset.flags.has(AssetFlags::NON_TRADABLE) || buy_asset.flags.has(AssetFlags::NON_TRADABLE) {
            return Err(ErrorCode::NotTradable.into());
        }
        // A fill moves both assets between two accounts that need not be issuers, which a
        // non-transferable asset forbids (Transfer lets it move only to or from its member's
        // issuers): selling it on the book would be a holder-to-holder transfer.
        if sell_asset.flags.has(AssetFlags::NON_TRANSFERABLE)
            || buy_asset.flags.has(AssetFlags::NON_TRANSFERABLE)
        {
            return Err(ErrorCode::NotTransferable.into());
        }
        let offer_key = StateKey::Offer { owner: signer, offer_id: op.offer_id };
        if self.read(&offer_key)?.is_some() {
            return Err(ErrorCode::DuplicateOfferId.into());
        }
        let sell_key = StateKey::balance(signer, op.sell.clone());
        let sell_balance = self.read_balance(&sell_key)?;
        if sell_balance.available < op.amount {
            return Err(ErrorCode::InsufficientBalance.into());
        }
        Ok((offer_key, sell_key, sell_balance))
    }

    /// Trades `op` against the `opposite` book, best offer first, and settles the makers' side
    /// of each fill. Returns what is left of the taker's amount and what it received; the
    /// taker's own balances are the caller's to update.
    fn match_offer(
        &mut self,
        at: OpContext<'_>,
        op: &PlaceOffer,
        opposite: &KeyRange,
    ) -> Result<Matched, OpFailure> {
        let limit = op.price;
        let mut remaining = op.amount;
        let mut received = Amount::ZERO;
        let mut fills = 0usize;
        // The last book entry consumed: the walk continues after it, so entries this op deleted
        // are not visited again.
        let mut after: Option<StateKey> = None;
        while !remaining.is_zero() {
            let Some(best) = self.next_resting(opposite, after.as_ref())? else {
                return Ok(Matched { remaining, received, best_still_crosses: false });
            };
            let price = best.offer.price;
            if !crosses(&limit, &price) {
                return Ok(Matched { remaining, received, best_still_crosses: false });
            }
            if best.entry.owner == *at.signer {
                return Err(ErrorCode::SelfTrade.into());
            }
            // What the maker gives: all it has left, or as much as the remainder buys at its
            // price, rounded down.
            let maker_gave = match Wide::product(remaining.0, price.denominator).div_floor(price.numerator) {
                Some((affordable, _)) => affordable.min(best.offer.remaining.0),
                None => best.offer.remaining.0,
            };
            if maker_gave == 0 {
                return Ok(Matched { remaining, received, best_still_crosses: true });
            }
            // What the taker gives for it, rounded up: never more than `remaining`, since
            // maker_gave · q.n ≤ remaining · q.d.
            let taker_gave = match Wide::product(maker_gave, price.numerator).div_floor(price.denominator) {
                Some((quotient, exact)) if exact => quotient,
                Some((quotient, _)) => quotient.checked_add(1).ok_or(ErrorCode::AmountOverflow)?,
                None => return Err(ErrorCode::AmountOverflow.into()),
            };
            // The taker's limit: it receives at least p per unit given (maker_gave · p.d ≥
            // taker_gave · p.n). Rounding up can break it only when p·q is close to 1.
            if Wide::product(maker_gave, limit.denominator) < Wide::product(taker_gave, limit.numerator) {
                return Ok(Matched { remaining, received, best_still_crosses: true });
            }
            if fills == limits::OFFER_FILLS_MAX {
                return Err(ErrorCode::TooManyFills.into());
            }
            fills += 1;

            remaining =
                Amount(remaining.0.checked_sub(taker_gave).expect("taker_gave ≤ remaining, shown above"));
            received = received.checked_add(Amount(maker_gave)).ok_or(ErrorCode::AmountOverflow)?;
            if let Some(filled_entry) = self.settle_maker(at, op, best, maker_gave, taker_gave)? {
                after = Some(filled_entry);
            }
        }
        Ok(Matched { remaining, received, best_still_crosses: false })
    }

    /// Settles the maker's side of one fill of `op` against `best`: the maker's locked buy
    /// asset of `op` pays `maker_gave`, it receives `taker_gave` of `op`'s sell asset, its
    /// offer's remainder falls (leaving the book once filled), and the fill is recorded.
    /// Returns the book entry of a filled maker offer, after which the walk goes on.
    fn settle_maker(
        &mut self,
        at: OpContext<'_>,
        op: &PlaceOffer,
        best: Resting,
        maker_gave: u128,
        taker_gave: u128,
    ) -> Result<Option<StateKey>, OpFailure> {
        let price = best.offer.price;
        let mut filled_entry = None;
        let maker = best.entry.owner;
        // The maker's locked sell asset (the taker's buy asset) pays the taker.
        let maker_sell_key = StateKey::balance(maker, op.buy.clone());
        let mut maker_sell = self.read_balance(&maker_sell_key)?;
        maker_sell.locked =
            maker_sell.locked.checked_sub(Amount(maker_gave)).ok_or_else(|| StateError::Corrupt {
                key: maker_sell_key.clone(),
                reason: format!("locks {} but an open offer has {maker_gave} for sale", maker_sell.locked),
            })?;
        self.put_balance(maker_sell_key, maker_sell);
        let maker_buy_key = StateKey::balance(maker, op.sell.clone());
        let mut maker_buy = self.read_balance(&maker_buy_key)?;
        maker_buy.available =
            maker_buy.available.checked_add(Amount(taker_gave)).ok_or(ErrorCode::AmountOverflow)?;
        self.put_balance(maker_buy_key, maker_buy);

        let mut maker_offer = best.offer;
        maker_offer.remaining = Amount(maker_offer.remaining.0 - maker_gave); // maker_gave ≤ remaining: a min above
        if maker_offer.remaining.is_zero() {
            maker_offer.status = OfferStatus::Filled { height: self.context.height };
            self.put(best.entry_key.clone(), None);
            filled_entry = Some(best.entry_key);
        }
        // A partly filled maker stays best; the next round finds the remainder too small
        // for another unit and stops.
        let maker_offer_key = StateKey::Offer { owner: maker, offer_id: best.entry.offer_id };
        self.put(maker_offer_key, Some(StateValue::Offer(maker_offer)));
        // Each side's proceeds count as its revenue in the asset it received.
        self.add_revenue(maker, &op.sell, Amount(taker_gave), Amount::ZERO)?;
        self.add_revenue(*at.signer, &op.buy, Amount(maker_gave), Amount::ZERO)?;
        self.tx_fills.push(Fill {
            op_index: at.op_index,
            maker_offer: best.entry.offer_id,
            taker_offer: op.offer_id,
            maker,
            taker: *at.signer,
            maker_gave: Amount(maker_gave),
            taker_gave: Amount(taker_gave),
            price,
        });
        Ok(filled_entry)
    }

    /// The first open offer of `book` after the entry `after`, with its entry.
    fn next_resting(
        &mut self,
        book: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<Resting>, StateError> {
        let Some((entry_key, entry_value)) = self.next_book_entry(book, after)? else {
            return Ok(None);
        };
        let entry = match entry_value {
            StateValue::BookEntry(entry) => entry,
            other => return Err(wrong_kind(&entry_key, &other)),
        };
        let offer_key = StateKey::Offer { owner: entry.owner, offer_id: entry.offer_id };
        let offer = match self.read(&offer_key)? {
            Some(StateValue::Offer(offer)) => offer,
            Some(other) => return Err(wrong_kind(&offer_key, &other)),
            None => {
                return Err(StateError::Corrupt {
                    key: entry_key,
                    reason: format!(
                        "book entry of offer {} of {}, which does not exist",
                        entry.offer_id, entry.owner
                    ),
                });
            }
        };
        if offer.status != OfferStatus::Open || offer.remaining.is_zero() {
            return Err(StateError::Corrupt {
                key: entry_key,
                reason: format!(
                    "book entry of offer {} of {}, which is not open",
                    entry.offer_id, entry.owner
                ),
            });
        }
        Ok(Some(Resting { entry_key, entry, offer }))
    }

    /// The first entry of `book` after `after`, through this transaction's and the block's
    /// writes: what [`BlockExecutor::next_entry`] returns, found without walking one by one
    /// over the base entries that earlier transactions of the block consumed.
    ///
    /// Takers consume the top of a book, so by the end of a block hundreds of base entries at
    /// its top may be deleted by the block's writes; a plain layered walk skips them one base
    /// read at a time on every call, which makes a block quadratic in its fills. Here the base
    /// walk starts at the book's floor (every base entry at or before it is deleted by the
    /// block's writes), and the floor advances over each deleted run it meets. Deletions in the
    /// block's writes are final for the block (a book position is never reused), so the floor
    /// stays true whatever later transactions do, including ones that fail.
    fn next_book_entry(
        &mut self,
        book: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let is_after = |key: &StateKey| book.contains(key) && after.is_none_or(|after| key > after);
        // This transaction's own live entries (new or rewritten), the smallest first.
        let tx_best = self
            .tx_writes
            .iter()
            .filter(|(key, value)| value.is_some() && is_after(key))
            .min_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(key, value)| (key.clone(), value.clone().expect("filtered on Some above")));
        // The block-level view, skipping keys this transaction rewrote (their new value, if
        // any, is a candidate above) or deleted.
        let mut cursor = after.cloned();
        let block_best = loop {
            match self.block_level_next(book, cursor.as_ref())? {
                Some((key, _)) if self.tx_writes.iter().any(|(written, _)| *written == key) => {
                    cursor = Some(key)
                }
                other => break other,
            }
        };
        let found = match (tx_best, block_best) {
            (Some(tx), Some(block)) => Some(if tx.0 < block.0 { tx } else { block }),
            (tx, block) => tx.or(block),
        };
        debug_assert_eq!(
            found,
            self.next_entry(book, after)?,
            "the floor-accelerated book walk disagrees with the plain layered walk"
        );
        Ok(found)
    }

    /// The first live entry of `book` after `cursor` in the base state seen through the
    /// block's committed writes (not this transaction's), advancing the book's floor over the
    /// deleted base entries it passes when the walk starts at the floor.
    fn block_level_next(
        &mut self,
        book: &KeyRange,
        cursor: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let floor = self.book_floors.get(book.first()).cloned();
        // Start the base walk at the floor when the cursor is at or before it: every base entry
        // up to the floor is deleted by the block anyway.
        let mut extends_floor = match (&floor, cursor) {
            (None, _) => cursor.is_none(),
            (Some(floor), Some(cursor)) => cursor <= floor,
            (Some(_), None) => true,
        };
        let mut base_after = if extends_floor && floor.is_some() { floor } else { cursor.cloned() };
        let mut new_floor = None;
        let base_best = loop {
            let Some((key, value)) = self.base.next_entry(book, base_after.as_ref())? else { break None };
            match self.block_writes.get(&key) {
                None => break Some((key, value)),
                // Deleted by the block: skipped, and the floor may move past it.
                Some(None) => {
                    if extends_floor {
                        new_floor = Some(key.clone());
                    }
                }
                // Rewritten by the block: the block's value is found below. Not deleted, so the
                // floor stops here.
                Some(Some(_)) => extends_floor = false,
            }
            base_after = Some(key);
        };
        if let Some(floor) = new_floor {
            self.book_floors.insert(book.first().clone(), floor);
        }
        let block_best = range_start(book, cursor).and_then(|start| {
            self.block_writes
                .range::<StateKey, _>((start, Bound::Included(book.last())))
                .find_map(|(key, value)| value.as_ref().map(|value| (key.clone(), value.clone())))
        });
        Ok(match (base_best, block_best) {
            (Some(base), Some(block)) => Some(if base.0 < block.0 { base } else { block }),
            (base, block) => base.or(block),
        })
    }

    /// CancelOffer: takes the signer's open offer out of the book and unlocks its remainder.
    ///
    /// Checks: the signer has an open offer with this id (`UnknownOffer` when it has none, or
    /// the offer is filled, cancelled or closed). Offer ids are scoped to their owner, so the
    /// signer can only ever name its own offers: `NotOfferOwner` cannot arise.
    pub(super) fn cancel_offer(&mut self, at: OpContext<'_>, op: &CancelOffer) -> OpResult {
        let offer_key = StateKey::Offer { owner: *at.signer, offer_id: op.offer_id };
        let mut offer = match self.read(&offer_key)? {
            None => return Err(ErrorCode::UnknownOffer.into()),
            Some(StateValue::Offer(offer)) => offer,
            Some(other) => return Err(wrong_kind(&offer_key, &other).into()),
        };
        if offer.status != OfferStatus::Open {
            return Err(ErrorCode::UnknownOffer.into());
        }
        let balance_key = StateKey::balance(*at.signer, offer.sell.clone());
        let mut balance = self.read_balance(&balance_key)?;
        balance.locked = balance.locked.checked_sub(offer.remaining).ok_or_else(|| StateError::Corrupt {
            key: balance_key.clone(),
            reason: format!("locks {} but an open offer has {} for sale", balance.locked, offer.remaining),
        })?;
        balance.available =
            balance.available.checked_add(offer.remaining).ok_or(ErrorCode::AmountOverflow)?;
        self.put_balance(balance_key, balance);
        let entry_key = StateKey::BookEntry {
            sell: offer.sell.clone(),
            buy: offer.buy.clone(),
            position: offer.position,
        };
        self.put(entry_key, None);
        offer.status = OfferStatus::Cancelled { height: self.context.height };
        self.put(offer_key, Some(StateValue::Offer(offer)));
        Ok(())
    }
}

/// What matching left of a taker.
struct Matched {
    /// Unsold part of the taker's amount.
    remaining: Amount,
    /// What the taker received, of its buy asset.
    received: Amount,
    /// Matching stopped at a best offer that still crosses (dust or rounding).
    best_still_crosses: bool,
}

/// An open offer in the book, with its entry.
struct Resting {
    entry_key: StateKey,
    entry: BookEntryState,
    offer: OfferState,
}

/// True when a resting offer at price `resting` (units of the taker's sell asset per unit of
/// its buy asset) satisfies a taker asking `taker` (units of its buy asset per unit of its sell
/// asset): `taker · resting ≤ 1`, exactly.
fn crosses(taker: &Price, resting: &Price) -> bool {
    u128::from(taker.numerator) * u128::from(resting.numerator)
        <= u128::from(taker.denominator) * u128::from(resting.denominator)
}

/// An unsigned integer of up to 256 bits (in practice at most 192: a `u128` times a `u64`),
/// for exact products of amounts and price parts. Ordered numerically (high half first).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Wide {
    high: u128,
    low: u128,
}

impl Wide {
    /// `amount · factor`, exactly.
    fn product(amount: u128, factor: u64) -> Wide {
        let factor = u128::from(factor);
        let low_part = (amount & u128::from(u64::MAX)) * factor;
        let high_part = (amount >> 64) * factor;
        // amount · factor = high_part · 2^64 + low_part; neither sum below overflows, since
        // high_part < 2^128 − 2^64 and low_part >> 64 < 2^64.
        let middle = high_part + (low_part >> 64);
        Wide { high: middle >> 64, low: (middle << 64) | (low_part & u128::from(u64::MAX)) }
    }

    /// `⌊self / divisor⌋` and whether the division was exact, or `None` if the quotient does
    /// not fit a `u128`. `divisor` must be non-zero.
    fn div_floor(self, divisor: u64) -> Option<(u128, bool)> {
        let divisor = u128::from(divisor);
        // Long division in base 2^64, most significant digit first.
        let digits = [(self.high >> 64) as u64, self.high as u64, (self.low >> 64) as u64, self.low as u64];
        let mut remainder = 0u128;
        let mut quotient = [0u64; 4];
        for (index, digit) in digits.into_iter().enumerate() {
            let current = (remainder << 64) | u128::from(digit);
            quotient[index] = (current / divisor) as u64;
            remainder = current % divisor;
        }
        if quotient[0] != 0 || quotient[1] != 0 {
            return None;
        }
        Some(((u128::from(quotient[2]) << 64) | u128::from(quotient[3]), remainder == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_products_and_quotients_are_exact() {
        let cases = [
            (0u128, 5u64),
            (1, 1),
            (u128::MAX, u64::MAX),
            (u128::MAX, 1),
            (u128::from(u64::MAX) + 1, u64::MAX),
            (12_345_678_901_234_567_890_123, 987_654_321),
        ];
        for (amount, factor) in cases {
            let wide = Wide::product(amount, factor);
            // Check against a product built digit by digit another way: (a·f) mod 2^128 and
            // the carry from the high half.
            assert_eq!(wide.low, amount.wrapping_mul(u128::from(factor)), "{amount} · {factor}");
            for divisor in [1u64, 3, 7, factor.max(1), u64::MAX] {
                let expected = num_floor(amount, factor, divisor);
                assert_eq!(wide.div_floor(divisor).map(|(q, _)| q), expected, "{amount}·{factor}/{divisor}");
            }
            if factor != 0 {
                assert_eq!(wide.div_floor(factor), Some((amount, true)));
            }
        }
        assert!(Wide::product(3, 1) < Wide::product(2, 2));
        assert!(Wide::product(u128::MAX, 2) > Wide::product(u128::MAX, 1));
        assert_eq!(Wide::product(7, 3).div_floor(2), Some((10, false)));
    }

    /// `⌊amount · factor / divisor⌋` by repeated halving, independent of [`Wide`]; `None` if
    /// it does not fit a `u128`.
    fn num_floor(amount: u128, factor: u64, divisor: u64) -> Option<u128> {
        // amount · factor / divisor = amount · (factor / divisor), computed as
        // q·amount + ⌊r·amount / divisor⌋ with factor = q·divisor + r, r·amount split further.
        let (q, r) = (u128::from(factor / divisor), u128::from(factor % divisor));
        let whole = amount.checked_mul(q)?;
        // ⌊r · amount / divisor⌋ with r < divisor: split amount = h·divisor + l.
        let divisor = u128::from(divisor);
        let (h, l) = (amount / divisor, amount % divisor);
        // r·amount/divisor = r·h + r·l/divisor; r·l < divisor² ≤ 2^128.
        let part = r.checked_mul(h)?.checked_add(r * l / divisor)?;
        whole.checked_add(part)
    }

    #[test]
    fn crossing_is_exact_at_reciprocals() {
        let price = |numerator, denominator| Price { numerator, denominator };
        assert!(crosses(&price(2, 7), &price(7, 2)));
        assert!(crosses(&price(2, 7), &price(3, 1)));
        assert!(!crosses(&price(2, 7), &price(4, 1)));
        assert!(crosses(&price(u64::MAX, 1), &price(1, u64::MAX)));
        assert!(!crosses(&price(u64::MAX, u64::MAX - 1), &price(1, 1)));
    }
}
