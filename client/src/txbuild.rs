//! Builds and signs transactions from ops, and parses what people type for them (amounts,
//! grant kinds, reward reasons) into protocol types, refusing bad input before anything is sent.
//!
//! Everything here is pure: seq, height and chain id come from the caller (who reads them from
//! a node), so the load generator can build many transactions per account without a round trip.

use tally_types::limits;
use tally_types::tx::{
    AuthorizeSpend, Burn, CancelOffer, Grant, GrantKind, Hold, IssueAsset, OfferMode, PlaceOffer,
    RewardReason, Settle, Transfer, Void,
};
use tally_types::{
    Amount, AmountError, AssetId, BoundedBytes, BoundedString, BoundedVec, ChainId, Hash, Height, MemberId,
    Op, OpId, Price, PublicKey, SecretKey, SignedTransaction, encode,
};

/// How many blocks a transaction stays valid for when the caller does not say.
pub const VALID_FOR_BLOCKS_DEFAULT: u64 = 100;

/// Why a transaction could not be built, or an input could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxBuildError {
    #[error("a transaction needs 1 to {max} ops, got {0}", max = limits::TX_OPS_MAX)]
    OpCount(usize),
    #[error("memo is {0} bytes; the limit is {max}", max = limits::TX_MEMO_BYTES_MAX)]
    MemoTooLong(usize),
    #[error("seq must be at least 1")]
    ZeroSeq,
    #[error("the signed transaction is {0} bytes; the limit is {max}", max = limits::TX_BYTES_MAX)]
    TooLarge(usize),
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("grant kind `{0}` must be purchase, reward or promo")]
    GrantKind(String),
    #[error(
        "reason `{0}` must be client-library, how-to-guide, forum-support, published-application or other:TEXT"
    )]
    Reason(String),
    #[error("{what} is {len} bytes; the limit is {max}")]
    TextTooLong { what: &'static str, len: usize, max: usize },
    #[error("a reward grant needs --reason")]
    ReasonMissing,
    #[error("only reward grants take a reason")]
    ReasonNotAllowed,
    #[error("operating-system randomness failed: {0}")]
    Random(String),
    #[error("price `{0}` must be a positive decimal (1.5) or a fraction of two (3/2)")]
    PriceSyntax(String),
    #[error(
        "price `{text}` is {numerator}/{denominator} minor units, which does not fit the ledger's u64/u64 price; use fewer significant digits"
    )]
    PriceTooPrecise { text: String, numerator: u128, denominator: u128 },
    #[error("expiry `{0}` must be a duration (30d, 12h, 45m, 90s, 500ms), an RFC 3339 time or unix ms")]
    ExpirySyntax(String),
    #[error("expiry `{text}` is at {at_ms} ms, not after now ({now_ms} ms)")]
    ExpiryPast { text: String, at_ms: u64, now_ms: u64 },
}

/// Builds the transaction `{chain_id, signer, seq, valid_until_height, ops, memo}` and signs it
/// with `key` (whose public key is the signer).
pub fn build_signed(
    key: &SecretKey,
    chain_id: &ChainId,
    seq: u64,
    valid_until_height: Height,
    ops: Vec<Op>,
    memo: &[u8],
) -> Result<SignedTransaction, TxBuildError> {
    if seq == 0 {
        return Err(TxBuildError::ZeroSeq);
    }
    let count = ops.len();
    if count == 0 {
        return Err(TxBuildError::OpCount(0));
    }
    let ops = BoundedVec::new(ops).map_err(|ops| TxBuildError::OpCount(ops.len()))?;
    let memo = BoundedBytes::new(memo.to_vec()).map_err(|memo| TxBuildError::MemoTooLong(memo.len()))?;
    let tx = tally_types::Transaction {
        chain_id: chain_id.clone(),
        signer: key.public_key(),
        seq,
        valid_until_height,
        ops,
        memo,
    };
    let signed = tx.sign(key);
    // Checked here so the caller hears about it before a node refuses the bytes.
    let size = encode(&signed).len();
    if size > limits::TX_BYTES_MAX {
        return Err(TxBuildError::TooLarge(size));
    }
    Ok(signed)
}

/// The last height a transaction may be included at: `current + valid_for`, saturating.
pub fn valid_until(current: Height, valid_for_blocks: u64) -> Height {
    Height(current.0.saturating_add(valid_for_blocks))
}

/// Parses a human amount at `scale` decimals; zero is refused (no op moves nothing).
pub fn parse_positive_amount(text: &str, scale: u8) -> Result<Amount, TxBuildError> {
    let amount = Amount::parse(text, scale)?;
    if amount.is_zero() {
        return Err(TxBuildError::ZeroAmount);
    }
    Ok(amount)
}

/// Parses `purchase`, `reward` or `promo`.
pub fn parse_grant_kind(text: &str) -> Result<GrantKind, TxBuildError> {
    match text {
        "purchase" => Ok(GrantKind::Purchase),
        "reward" => Ok(GrantKind::Reward),
        "promo" => Ok(GrantKind::Promo),
        other => Err(TxBuildError::GrantKind(other.to_owned())),
    }
}

/// Parses a reward reason: `client-library`, `how-to-guide`, `forum-support`,
/// `published-application` or `other:TEXT` (TEXT non-empty, at most 64 bytes).
pub fn parse_reward_reason(text: &str) -> Result<RewardReason, TxBuildError> {
    match text {
        "client-library" => Ok(RewardReason::ClientLibrary),
        "how-to-guide" => Ok(RewardReason::HowToGuide),
        "forum-support" => Ok(RewardReason::ForumSupport),
        "published-application" => Ok(RewardReason::PublishedApplication),
        other => match other.strip_prefix("other:") {
            Some(free) if !free.trim().is_empty() => {
                BoundedString::new(free).map(RewardReason::Other).map_err(|free| TxBuildError::TextTooLong {
                    what: "reason text",
                    len: free.len(),
                    max: limits::REWARD_REASON_BYTES_MAX,
                })
            }
            _ => Err(TxBuildError::Reason(other.to_owned())),
        },
    }
}

/// A fresh random op id (for grants, holds, offers, batches).
pub fn random_op_id() -> Result<OpId, TxBuildError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| TxBuildError::Random(error.to_string()))?;
    Ok(OpId(bytes))
}

/// What a grant needs besides the asset, recipient and amount.
#[derive(Clone, Debug)]
pub struct GrantDetails {
    pub grant_id: OpId,
    pub kind: GrantKind,
    pub reason: Option<RewardReason>,
    pub external_ref: String,
    /// The credit pack of the provider's price plan this purchase fulfils: the ledger then
    /// requires a purchase of exactly the pack's credits.
    pub pack: Option<tally_types::tx::PackRef>,
}

/// A `Grant` op. Checks the kind/reason pairing the ledger enforces (a reward needs a reason,
/// other kinds take none), so the mistake is caught before a seq is spent on it.
pub fn grant_op(
    asset: AssetId,
    to: PublicKey,
    amount: Amount,
    details: GrantDetails,
) -> Result<Op, TxBuildError> {
    match (details.kind, &details.reason) {
        (GrantKind::Reward, None) => return Err(TxBuildError::ReasonMissing),
        (GrantKind::Purchase | GrantKind::Promo, Some(_)) => return Err(TxBuildError::ReasonNotAllowed),
        _ => {}
    }
    let external_ref =
        BoundedString::new(details.external_ref).map_err(|text| TxBuildError::TextTooLong {
            what: "external reference",
            len: text.len(),
            max: limits::GRANT_EXTERNAL_REF_BYTES_MAX,
        })?;
    Ok(Op::Grant(Grant {
        grant_id: details.grant_id,
        asset,
        to,
        amount,
        kind: details.kind,
        reason: details.reason,
        external_ref,
        pack: details.pack,
    }))
}

/// A `Transfer` op.
pub fn transfer_op(asset: AssetId, to: PublicKey, amount: Amount) -> Op {
    Op::Transfer(Transfer { asset, to, amount })
}

/// A `Burn` op.
pub fn burn_op(asset: AssetId, amount: Amount) -> Op {
    Op::Burn(Burn { asset, amount })
}

/// An `IssueAsset` op with no flags.
pub fn issue_asset_op(code: tally_types::AssetCode, scale: u8, max_supply: Option<Amount>) -> Op {
    Op::IssueAsset(IssueAsset { code, scale, max_supply, flags: tally_types::tx::AssetFlags::default() })
}

/// A `PlaceOffer` op: sell `amount` of `sell` for `buy` at `price` minor units of `buy` per
/// minor unit of `sell` (see [`minor_price`]).
pub fn place_offer_op(
    offer_id: OpId,
    sell: AssetId,
    buy: AssetId,
    amount: Amount,
    price: Price,
    mode: OfferMode,
) -> Op {
    Op::PlaceOffer(PlaceOffer { offer_id, sell, buy, amount, price, mode })
}

/// A `CancelOffer` op.
pub fn cancel_offer_op(offer_id: OpId) -> Op {
    Op::CancelOffer(CancelOffer { offer_id })
}

/// An `AuthorizeSpend` op: lets `provider` hold and settle up to `cap` of `asset` until
/// `expires_at_ms` (block time), at the prices of `plan` (a version of the provider's price
/// plan) if given. A cap of zero withdraws the authorization.
pub fn authorize_spend_op(
    provider: MemberId,
    asset: AssetId,
    cap: Amount,
    expires_at_ms: u64,
    plan: Option<tally_types::pricing::PlanRef>,
) -> Op {
    Op::AuthorizeSpend(AuthorizeSpend { provider, asset, cap, expires_at_ms, plan })
}

/// A `Hold` op (signed by an issuer of the provider).
pub fn hold_op(hold_id: OpId, holder: PublicKey, asset: AssetId, amount: Amount, expires_at_ms: u64) -> Op {
    Op::Hold(Hold { hold_id, holder, asset, amount, expires_at_ms })
}

/// A `Settle` op: capture `amount` of the hold under `batch_id`, with the batch's usage root
/// and its usage lines per metered item (see `usage::UsageBatch`).
pub fn settle_op(
    hold_id: OpId,
    batch_id: OpId,
    amount: Amount,
    usage_root: Hash,
    lines: BoundedVec<tally_types::pricing::UsageLine, { limits::SETTLE_LINES_MAX }>,
) -> Op {
    Op::Settle(Settle { hold_id, batch_id, amount, usage_root, lines })
}

/// A `Void` op.
pub fn void_op(hold_id: OpId) -> Op {
    Op::Void(Void { hold_id })
}

/// An exact non-negative rational `numerator / denominator`, `denominator > 0`, kept in lowest
/// terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub numerator: u128,
    pub denominator: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// `numerator / denominator` in lowest terms; `None` for a zero denominator.
    pub fn new(numerator: u128, denominator: u128) -> Option<Ratio> {
        if denominator == 0 {
            return None;
        }
        let divisor = gcd(numerator, denominator).max(1);
        Some(Ratio { numerator: numerator / divisor, denominator: denominator / divisor })
    }

    /// `self · other`, exact, or `None` if the reduced result does not fit `u128`. Cross-reducing
    /// first keeps the result in lowest terms when both inputs are.
    pub fn checked_mul(self, other: Ratio) -> Option<Ratio> {
        let left = gcd(self.numerator, other.denominator).max(1);
        let right = gcd(other.numerator, self.denominator).max(1);
        Some(Ratio {
            numerator: (self.numerator / left).checked_mul(other.numerator / right)?,
            denominator: (self.denominator / right).checked_mul(other.denominator / left)?,
        })
    }
}

/// Longest decimal a price part may be written with: 10^38 is the largest power of ten in a u128.
const PRICE_DIGITS_MAX: usize = 38;

/// Parses a non-negative decimal (`12`, `1.5`, `.25`) into an exact ratio.
fn parse_decimal_ratio(text: &str) -> Option<Ratio> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.len() + fraction.len();
    if digits == 0
        || digits > PRICE_DIGITS_MAX
        || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mantissa: u128 = format!("{whole}{fraction}").parse().ok()?;
    // fraction.len() ≤ 38, so the power fits.
    Ratio::new(mantissa, 10u128.pow(fraction.len() as u32))
}

/// Parses a human price (units of the bought asset per unit of the sold one): a decimal
/// (`1.5`) or a fraction of two decimals (`3/2`, `1/3`). Zero is refused.
pub fn parse_human_price(text: &str) -> Result<Ratio, TxBuildError> {
    let syntax = || TxBuildError::PriceSyntax(text.to_owned());
    let trimmed = text.trim();
    let ratio = match trimmed.split_once('/') {
        None => parse_decimal_ratio(trimmed).ok_or_else(syntax)?,
        Some((numerator, denominator)) => {
            let numerator = parse_decimal_ratio(numerator.trim()).ok_or_else(syntax)?;
            let denominator = parse_decimal_ratio(denominator.trim()).ok_or_else(syntax)?;
            if denominator.numerator == 0 {
                return Err(syntax());
            }
            let inverse = Ratio::new(denominator.denominator, denominator.numerator).ok_or_else(syntax)?;
            numerator.checked_mul(inverse).ok_or_else(|| TxBuildError::PriceTooPrecise {
                text: text.to_owned(),
                numerator: u128::MAX,
                denominator: u128::MAX,
            })?
        }
    };
    if ratio.numerator == 0 {
        return Err(syntax());
    }
    Ok(ratio)
}

/// The ledger price of a human price: `human · 10^buy_scale / 10^sell_scale` minor units of
/// `buy` per minor unit of `sell`, in lowest terms. Refused when the reduced fraction does not
/// fit `u64/u64`: rounding it would trade at a price the user did not type.
pub fn minor_price(text: &str, human: Ratio, sell_scale: u8, buy_scale: u8) -> Result<Price, TxBuildError> {
    let too_precise = |ratio: Ratio| TxBuildError::PriceTooPrecise {
        text: text.to_owned(),
        numerator: ratio.numerator,
        denominator: ratio.denominator,
    };
    let scales = Ratio::new(
        10u128.pow(u32::from(buy_scale.min(limits::ASSET_SCALE_MAX))),
        10u128.pow(u32::from(sell_scale.min(limits::ASSET_SCALE_MAX))),
    )
    .expect("a power of ten is not zero");
    let minor = human.checked_mul(scales).ok_or_else(|| too_precise(human))?;
    match (u64::try_from(minor.numerator), u64::try_from(minor.denominator)) {
        (Ok(numerator), Ok(denominator)) if numerator > 0 => Ok(Price { numerator, denominator }),
        _ => Err(too_precise(minor)),
    }
}

/// Parses an expiry into unix ms: a duration from `now_ms` (`30d`, `12h`, `45m`, `90s`,
/// `500ms`), an RFC 3339 time (`2030-01-01T00:00:00Z`, offsets and fractions allowed), or a
/// bare number of unix ms. The result must be after `now_ms`. The ledger compares expiries
/// with block time, which tracks wall-clock time within seconds.
pub fn parse_expiry(text: &str, now_ms: u64) -> Result<u64, TxBuildError> {
    let syntax = || TxBuildError::ExpirySyntax(text.to_owned());
    let trimmed = text.trim();
    let at_ms = if trimmed.contains('T') || trimmed.contains('t') {
        parse_rfc3339_ms(trimmed).ok_or_else(syntax)?
    } else if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        trimmed.parse::<u64>().map_err(|_| syntax())?
    } else {
        let split = trimmed.find(|c: char| !c.is_ascii_digit()).ok_or_else(syntax)?;
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number.parse().map_err(|_| syntax())?;
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(syntax()),
        };
        number.checked_mul(unit_ms).and_then(|ms| ms.checked_add(now_ms)).ok_or_else(syntax)?
    };
    if at_ms <= now_ms {
        return Err(TxBuildError::ExpiryPast { text: text.to_owned(), at_ms, now_ms });
    }
    Ok(at_ms)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to unix ms (fraction cut to ms); `None` if
/// malformed or before 1970.
fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    crate::ob3::credential::parse_rfc3339_ms(text).and_then(|ms| u64::try_from(ms).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[7u8; 32])
    }

    fn chain() -> ChainId {
        ChainId::new("tally-test").expect("valid chain id")
    }

    fn asset() -> AssetId {
        "ACME@acme".parse().expect("valid asset")
    }

    #[test]
    fn amounts_respect_the_asset_scale() {
        assert_eq!(parse_positive_amount("12.5", 2), Ok(Amount(1250)));
        assert_eq!(parse_positive_amount("12.50", 1), Ok(Amount(125)));
        assert_eq!(parse_positive_amount("100", 0), Ok(Amount(100)));
        assert!(matches!(
            parse_positive_amount("12.345", 2),
            Err(TxBuildError::Amount(AmountError::TooManyDecimals { given: 3, scale: 2, .. }))
        ));
        assert_eq!(parse_positive_amount("0", 2), Err(TxBuildError::ZeroAmount));
        assert_eq!(parse_positive_amount("0.00", 2), Err(TxBuildError::ZeroAmount));
        assert!(matches!(
            parse_positive_amount("-1", 2),
            Err(TxBuildError::Amount(AmountError::Negative(_)))
        ));
        assert!(matches!(
            parse_positive_amount("1e3", 2),
            Err(TxBuildError::Amount(AmountError::NotANumber(_)))
        ));
    }

    #[test]
    fn grant_kinds_and_reasons_parse_exactly() {
        assert_eq!(parse_grant_kind("purchase"), Ok(GrantKind::Purchase));
        assert_eq!(parse_grant_kind("reward"), Ok(GrantKind::Reward));
        assert_eq!(parse_grant_kind("promo"), Ok(GrantKind::Promo));
        assert!(parse_grant_kind("Purchase").is_err());
        assert_eq!(parse_reward_reason("client-library"), Ok(RewardReason::ClientLibrary));
        assert_eq!(parse_reward_reason("how-to-guide"), Ok(RewardReason::HowToGuide));
        assert_eq!(parse_reward_reason("forum-support"), Ok(RewardReason::ForumSupport));
        assert_eq!(parse_reward_reason("published-application"), Ok(RewardReason::PublishedApplication));
        assert_eq!(
            parse_reward_reason("other:meetup talk"),
            Ok(RewardReason::Other(BoundedString::new("meetup talk").expect("short")))
        );
        assert!(matches!(parse_reward_reason("other:"), Err(TxBuildError::Reason(_))));
        assert!(matches!(parse_reward_reason("bug-bounty"), Err(TxBuildError::Reason(_))));
        let long = format!("other:{}", "x".repeat(limits::REWARD_REASON_BYTES_MAX + 1));
        assert!(matches!(parse_reward_reason(&long), Err(TxBuildError::TextTooLong { .. })));
    }

    #[test]
    fn grants_need_a_reason_exactly_when_they_are_rewards() {
        let details = |kind, reason| GrantDetails {
            grant_id: OpId([1; 16]),
            kind,
            reason,
            external_ref: "order-1".into(),
            pack: None,
        };
        let to = SecretKey::from_seed(&[9u8; 32]).public_key();
        assert_eq!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Reward, None)),
            Err(TxBuildError::ReasonMissing)
        );
        assert_eq!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Promo, Some(RewardReason::HowToGuide))),
            Err(TxBuildError::ReasonNotAllowed)
        );
        assert!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Reward, Some(RewardReason::HowToGuide)))
                .is_ok()
        );
        assert!(grant_op(asset(), to, Amount(1), details(GrantKind::Purchase, None)).is_ok());
        let mut long_ref = details(GrantKind::Purchase, None);
        long_ref.external_ref = "r".repeat(limits::GRANT_EXTERNAL_REF_BYTES_MAX + 1);
        assert!(matches!(grant_op(asset(), to, Amount(1), long_ref), Err(TxBuildError::TextTooLong { .. })));
    }

    #[test]
    fn built_transactions_verify_and_round_trip() {
        let to = SecretKey::from_seed(&[9u8; 32]).public_key();
        let signed =
            build_signed(&key(), &chain(), 3, Height(110), vec![transfer_op(asset(), to, Amount(5))], b"hi")
                .expect("valid transaction");
        assert_eq!(signed.tx.signer, key().public_key());
        assert_eq!(signed.tx.seq, 3);
        assert_eq!(signed.tx.valid_until_height, Height(110));
        signed.check_form_and_signature().expect("signature verifies");
        let decoded: SignedTransaction = tally_types::decode(&encode(&signed)).expect("decodes");
        assert_eq!(decoded, signed);
    }

    #[test]
    fn malformed_transactions_are_refused_before_signing() {
        let op = || burn_op(asset(), Amount(1));
        assert_eq!(build_signed(&key(), &chain(), 0, Height(1), vec![op()], b""), Err(TxBuildError::ZeroSeq));
        assert_eq!(build_signed(&key(), &chain(), 1, Height(1), vec![], b""), Err(TxBuildError::OpCount(0)));
        let too_many = (0..=limits::TX_OPS_MAX).map(|_| op()).collect();
        assert_eq!(
            build_signed(&key(), &chain(), 1, Height(1), too_many, b""),
            Err(TxBuildError::OpCount(limits::TX_OPS_MAX + 1))
        );
        let memo = vec![0u8; limits::TX_MEMO_BYTES_MAX + 1];
        assert_eq!(
            build_signed(&key(), &chain(), 1, Height(1), vec![op()], &memo),
            Err(TxBuildError::MemoTooLong(limits::TX_MEMO_BYTES_MAX + 1))
        );
    }

    #[test]
    fn validity_window_saturates() {
        assert_eq!(valid_until(Height(5), VALID_FOR_BLOCKS_DEFAULT), Height(105));
        assert_eq!(valid_until(Height(u64::MAX - 1), 100), Height(u64::MAX));
    }

    #[test]
    fn human_prices_convert_exactly_with_both_scales() {
        let price = |text: &str, sell_scale, buy_scale| {
            parse_human_price(text).and_then(|human| minor_price(text, human, sell_scale, buy_scale))
        };
        let p = |numerator, denominator| Ok(Price { numerator, denominator });
        assert_eq!(price("3/2", 2, 2), p(3, 2));
        assert_eq!(price("1.5", 2, 2), p(3, 2));
        assert_eq!(price("1.50", 2, 2), p(3, 2));
        // 1.5 GLOBEX (scale 0) per ACME (scale 2): 3/200 minor GLOBEX per minor ACME.
        assert_eq!(price("1.5", 2, 0), p(3, 200));
        assert_eq!(price("6/4", 0, 3), p(1_500, 1));
        assert_eq!(price("1/3", 0, 0), p(1, 3));
        assert_eq!(price("2.5/0.5", 0, 0), p(5, 1));
        for bad in ["0", "0/3", "3/0", "-1", "1e3", "abc", "", "1/2/3", "1..2", "."] {
            assert!(matches!(price(bad, 2, 2), Err(TxBuildError::PriceSyntax(_))), "{bad} accepted");
        }
        // 20 significant digits do not fit a u64 once reduced.
        assert!(matches!(price("98765432109876543211/3", 0, 0), Err(TxBuildError::PriceTooPrecise { .. })));
        assert!(matches!(price("1/99999999999999999999", 0, 0), Err(TxBuildError::PriceTooPrecise { .. })));
        // A price that fits before scaling but not after.
        assert!(matches!(price("18446744073709551615", 0, 1), Err(TxBuildError::PriceTooPrecise { .. })));
    }

    #[test]
    fn expiries_parse_as_durations_rfc3339_or_ms() {
        let now = 1_700_000_000_000u64;
        assert_eq!(parse_expiry("30d", now), Ok(now + 30 * 86_400_000));
        assert_eq!(parse_expiry("12h", now), Ok(now + 12 * 3_600_000));
        assert_eq!(parse_expiry("45m", now), Ok(now + 45 * 60_000));
        assert_eq!(parse_expiry("90s", now), Ok(now + 90_000));
        assert_eq!(parse_expiry("500ms", now), Ok(now + 500));
        assert_eq!(parse_expiry("1800000000000", now), Ok(1_800_000_000_000));
        assert_eq!(parse_expiry("2030-01-01T00:00:00Z", now), Ok(1_893_456_000_000));
        assert_eq!(parse_expiry("2030-01-01T01:00:00.25+01:00", now), Ok(1_893_456_000_250));
        assert_eq!(parse_expiry("2028-02-29T00:00:00Z", now), Ok(1_835_395_200_000));
        assert!(matches!(parse_expiry("0s", now), Err(TxBuildError::ExpiryPast { .. })));
        assert!(matches!(parse_expiry("2020-01-01T00:00:00Z", now), Err(TxBuildError::ExpiryPast { .. })));
        for bad in ["30x", "d", "", "2030-02-30T00:00:00Z", "2030-01-01T00:00:00", "2030-01-01T25:00:00Z"] {
            assert!(matches!(parse_expiry(bad, now), Err(TxBuildError::ExpirySyntax(_))), "{bad} accepted");
        }
    }

    #[test]
    fn random_op_ids_differ() {
        assert_ne!(random_op_id().expect("randomness"), random_op_id().expect("randomness"));
    }
}
