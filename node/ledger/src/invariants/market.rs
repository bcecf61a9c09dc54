//! Invariants of the order book: offers, book entries, what open offers lock, the book never
//! crossed, and (over history) offer ids used once and every fill within both limit prices.
//!
//! Written apart from `execute::market`: prices are compared and amounts multiplied here with
//! this file's own exact arithmetic ([`product`]).

use std::collections::{BTreeMap, BTreeSet};

use tally_types::receipt::Receipt;
use tally_types::tx::Op;
use tally_types::{Amount, AssetId, Height, OpId, Price, PublicKey, limits};

use super::{HistoryViolation, InvariantViolation, Locks, World};
use crate::state::{BookEntryState, BookPosition, OfferState, OfferStatus, PriceRank, StateKey, StateValue};

/// A broken invariant of the market entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketViolation {
    #[error(
        "offer {offer_id} of {owner}: remaining {remaining} of amount {amount} is out of range for its status"
    )]
    RemainingOutOfRange { owner: PublicKey, offer_id: OpId, remaining: Amount, amount: Amount },
    #[error("offer {offer_id} of {owner}: price {price} is invalid or its position's rank does not match it")]
    RankMismatch { owner: PublicKey, offer_id: OpId, price: Price },
    #[error("offer {offer_id} of {owner} sells and buys the same asset `{asset}`")]
    SameAsset { owner: PublicKey, offer_id: OpId, asset: AssetId },
    #[error("offer {offer_id} of {owner} trades asset `{asset}`, which does not exist")]
    UnknownAsset { owner: PublicKey, offer_id: OpId, asset: AssetId },
    #[error("open offer {offer_id} of {owner} has no book entry pointing back at it at its position")]
    OpenOfferNotInBook { owner: PublicKey, offer_id: OpId },
    #[error(
        "book entry `{sell}` for `{buy}` at {position:?} points at {owner}'s offer {offer_id}, which is not an open offer at that place"
    )]
    EntryWithoutOpenOffer {
        sell: AssetId,
        buy: AssetId,
        position: BookPosition,
        owner: PublicKey,
        offer_id: OpId,
    },
    #[error(
        "the book is crossed: best `{sell}` for `{buy}` at {price} against best reverse offer at {reverse_price}"
    )]
    Crossed { sell: AssetId, buy: AssetId, price: Price, reverse_price: Price },
}

impl MarketViolation {
    fn wrap(self) -> InvariantViolation {
        InvariantViolation::Market(self)
    }
}

/// Gathers the market entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    offers: BTreeMap<(&'a PublicKey, &'a OpId), &'a OfferState>,
    entries: Vec<(&'a AssetId, &'a AssetId, &'a BookPosition, &'a BookEntryState)>,
}

impl<'a> Collector<'a> {
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        match (key, value) {
            (StateKey::Offer { owner, offer_id }, StateValue::Offer(offer)) => {
                self.offers.insert((owner, offer_id), offer);
            }
            (StateKey::BookEntry { sell, buy, position }, StateValue::BookEntry(entry)) => {
                self.entries.push((sell, buy, position, entry));
            }
            _ => {
                unreachable!("check_invariants routes only offer and book entries here, kinds checked equal")
            }
        }
        Ok(())
    }

    /// Checks every offer and book entry, adds what open offers lock to `locks`, and checks
    /// that no pair of opposite books crosses.
    pub fn finish(self, world: &World<'a>, locks: &mut Locks<'a>) -> Result<(), InvariantViolation> {
        let open_count = self.check_offers(world, locks)?;
        let best = self.check_entries(open_count)?;
        check_not_crossed(&best)
    }

    /// Each offer on its own: known and different assets, rank of its price, remainder within
    /// its status; what open offers lock goes to `locks`. Returns how many are open.
    fn check_offers(&self, world: &World<'a>, locks: &mut Locks<'a>) -> Result<usize, InvariantViolation> {
        let mut open_count = 0usize;
        for (&(owner, offer_id), offer) in &self.offers {
            let (owner_key, id) = (*owner, *offer_id);
            for asset in [&offer.sell, &offer.buy] {
                if !world.assets.contains_key(asset) {
                    return Err(MarketViolation::UnknownAsset {
                        owner: owner_key,
                        offer_id: id,
                        asset: asset.clone(),
                    }
                    .wrap());
                }
            }
            if offer.sell == offer.buy {
                return Err(MarketViolation::SameAsset {
                    owner: owner_key,
                    offer_id: id,
                    asset: offer.sell.clone(),
                }
                .wrap());
            }
            if PriceRank::of(&offer.price) != Some(offer.position.rank) || offer.price.numerator == 0 {
                return Err(MarketViolation::RankMismatch {
                    owner: owner_key,
                    offer_id: id,
                    price: offer.price,
                }
                .wrap());
            }
            let in_range = match offer.status {
                OfferStatus::Open => !offer.remaining.is_zero() && offer.remaining <= offer.amount,
                OfferStatus::Filled { .. } => offer.remaining.is_zero() && !offer.amount.is_zero(),
                OfferStatus::Cancelled { .. } | OfferStatus::Closed { .. } => {
                    !offer.remaining.is_zero() && offer.remaining <= offer.amount
                }
            };
            if !in_range {
                return Err(MarketViolation::RemainingOutOfRange {
                    owner: owner_key,
                    offer_id: id,
                    remaining: offer.remaining,
                    amount: offer.amount,
                }
                .wrap());
            }
            if offer.status == OfferStatus::Open {
                open_count += 1;
                locks.add(owner, &offer.sell, offer.remaining)?;
            }
        }
        Ok(open_count)
    }

    /// Book entries against the `open_count` open offers; returns each book's best entry and
    /// its offer, by (sell, buy).
    fn check_entries(&self, open_count: usize) -> Result<BestOffers<'a>, InvariantViolation> {
        // Every entry points at an open offer at exactly that place; there are as many entries
        // as open offers, so (positions being unique keys) each open offer has exactly one.
        let mut best: BTreeMap<(&AssetId, &AssetId), (&BookPosition, &OfferState)> = BTreeMap::new();
        for &(sell, buy, position, entry) in &self.entries {
            let offer = self.offers.get(&(&entry.owner, &entry.offer_id)).copied().filter(|offer| {
                offer.status == OfferStatus::Open
                    && &offer.sell == sell
                    && &offer.buy == buy
                    && &offer.position == position
            });
            let Some(offer) = offer else {
                return Err(MarketViolation::EntryWithoutOpenOffer {
                    sell: sell.clone(),
                    buy: buy.clone(),
                    position: *position,
                    owner: entry.owner,
                    offer_id: entry.offer_id,
                }
                .wrap());
            };
            let slot = best.entry((sell, buy)).or_insert((position, offer));
            if position < slot.0 {
                *slot = (position, offer);
            }
        }
        if self.entries.len() != open_count {
            // Some open offer has no entry: find it for the report.
            let listed: BTreeSet<(&PublicKey, &OpId)> =
                self.entries.iter().map(|(_, _, _, entry)| (&entry.owner, &entry.offer_id)).collect();
            let missing = self
                .offers
                .iter()
                .find(|(id, offer)| offer.status == OfferStatus::Open && !listed.contains(*id))
                .map(|((owner, offer_id), _)| (**owner, **offer_id))
                .expect("more open offers than entries, and every entry names a distinct open offer");
            return Err(MarketViolation::OpenOfferNotInBook { owner: missing.0, offer_id: missing.1 }.wrap());
        }
        Ok(best)
    }
}

/// Each book's best entry and its offer, by (sell asset, buy asset).
type BestOffers<'a> = BTreeMap<(&'a AssetId, &'a AssetId), (&'a BookPosition, &'a OfferState)>;

/// No two opposite books cross at their best offers.
fn check_not_crossed(best: &BestOffers<'_>) -> Result<(), InvariantViolation> {
    for (&(sell, buy), &(_, offer)) in best {
        if sell > buy {
            continue; // Each pair once, from its lower asset.
        }
        if let Some(&(_, reverse)) = best.get(&(buy, sell))
            && limits_cross(&offer.price, &reverse.price)
        {
            return Err(MarketViolation::Crossed {
                sell: sell.clone(),
                buy: buy.clone(),
                price: offer.price,
                reverse_price: reverse.price,
            }
            .wrap());
        }
    }
    Ok(())
}

/// Two offers on opposite sides cross when each would accept the other's terms: the product
/// of their prices (each in units of what it buys per unit of what it sells) is at most 1.
fn limits_cross(price: &Price, reverse: &Price) -> bool {
    product(u128::from(price.numerator), reverse.numerator)
        <= product(u128::from(price.denominator), reverse.denominator)
}

/// `amount · factor` exactly, as three base-2^64 digits, most significant first (so that the
/// derived array order is numeric order).
fn product(amount: u128, factor: u64) -> [u64; 3] {
    let digits = [amount as u64, (amount >> 64) as u64];
    let mut result = [0u64; 3];
    let mut carry = 0u128;
    for (index, digit) in digits.into_iter().enumerate() {
        let partial = u128::from(digit) * u128::from(factor) + carry;
        result[2 - index] = partial as u64;
        carry = partial >> 64;
    }
    result[0] = carry as u64;
    result
}

/// What the market ops used over a chain's history: offer ids, and every placed offer's price
/// (so that a fill's price can be checked against its maker's).
///
/// Memory grows with the number of offers ever placed; like [`super::History`], this is a tool
/// for tests and audits.
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryPart {
    prices: BTreeMap<(PublicKey, OpId), Price>,
}

impl HistoryPart {
    /// Checks one op of a successful transaction: a PlaceOffer's id is new for its signer and
    /// its fills are sane and within both limits; any other op has no fills.
    pub fn observe_op(
        &mut self,
        height: Height,
        index: usize,
        op_index: usize,
        signer: &PublicKey,
        op: &Op,
        receipt: &Receipt,
    ) -> Result<(), HistoryViolation> {
        let violation = |what: String| HistoryViolation::Themed { height, index, what };
        let fills = receipt.fills.iter().filter(|fill| usize::from(fill.op_index) == op_index);
        let Op::PlaceOffer(place) = op else {
            if fills.count() != 0 {
                return Err(violation(format!("op {op_index} is not a PlaceOffer but has fills")));
            }
            return Ok(());
        };
        if self.prices.contains_key(&(*signer, place.offer_id)) {
            return Err(violation(format!("offer id {} of {signer} succeeded twice", place.offer_id)));
        }
        let mut count = 0usize;
        let mut sold = Amount::ZERO;
        for fill in fills {
            count += 1;
            let what = |problem: &str| {
                violation(format!(
                    "op {op_index} fill against offer {} of {}: {problem}",
                    fill.maker_offer, fill.maker
                ))
            };
            if fill.taker != *signer || fill.taker_offer != place.offer_id {
                return Err(what("the taker is not the op's offer"));
            }
            if fill.maker == fill.taker {
                return Err(what("maker and taker are the same account"));
            }
            if fill.maker_gave.is_zero() || fill.taker_gave.is_zero() {
                return Err(what("an amount is zero"));
            }
            if self.prices.get(&(fill.maker, fill.maker_offer)) != Some(&fill.price) {
                return Err(what("the price is not the maker's placed price"));
            }
            let (maker_gave, taker_gave) = (fill.maker_gave.0, fill.taker_gave.0);
            // The maker receives at least its price per unit it gives.
            if product(taker_gave, fill.price.denominator) < product(maker_gave, fill.price.numerator) {
                return Err(what("below the maker's limit price"));
            }
            // The taker receives at least its price per unit it gives.
            if product(maker_gave, place.price.denominator) < product(taker_gave, place.price.numerator) {
                return Err(what("below the taker's limit price"));
            }
            sold = sold.checked_add(fill.taker_gave).ok_or_else(|| what("the taker's total overflows"))?;
        }
        if count > limits::OFFER_FILLS_MAX {
            return Err(violation(format!("op {op_index} made {count} fills")));
        }
        if sold > place.amount {
            return Err(violation(format!(
                "op {op_index} sold {sold}, more than its amount {}",
                place.amount
            )));
        }
        self.prices.insert((*signer, place.offer_id), place.price);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_order_numerically() {
        assert_eq!(product(u128::MAX, u64::MAX), [u64::MAX - 1, u64::MAX, 1]);
        assert_eq!(product(5, 3), [0, 0, 15]);
        assert!(product(u128::from(u64::MAX) + 1, 1) > product(u128::from(u64::MAX), 1));
        assert!(limits_cross(
            &Price { numerator: 2, denominator: 7 },
            &Price { numerator: 7, denominator: 2 }
        ));
        assert!(!limits_cross(
            &Price { numerator: 3, denominator: 7 },
            &Price { numerator: 7, denominator: 2 }
        ));
    }
}
