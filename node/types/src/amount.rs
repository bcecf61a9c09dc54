//! Amounts: `u128` minor units in the ledger, human decimals at the edges.
//!
//! Each asset has an immutable scale (0..=18 decimal places). rust_decimal parses what people
//! type (`12.5`); the result is converted exactly to minor units or refused with a distinct
//! error for each problem. All ledger arithmetic on amounts is checked.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::limits;

/// Why a human amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    #[error("amount `{0}` is negative")]
    Negative(String),
    #[error("amount `{text}` has {given} decimal places; this asset allows at most {scale}")]
    TooManyDecimals { text: String, given: u32, scale: u8 },
    #[error("amount `{0}` is too large")]
    Overflow(String),
    #[error("scale {0} is above the maximum of {max}", max = limits::ASSET_SCALE_MAX)]
    BadScale(u8),
}

/// A quantity of one asset, in minor units.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, BorshSerialize, BorshDeserialize,
)]
pub struct Amount(pub u128);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` if it would go below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a human amount (`12.5`) at `scale` decimal places into minor units.
    pub fn parse(text: &str, scale: u8) -> Result<Amount, AmountError> {
        if scale > limits::ASSET_SCALE_MAX {
            return Err(AmountError::BadScale(scale));
        }
        let trimmed = text.trim();
        if trimmed.is_empty()
            || !trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
        {
            return Err(AmountError::NotANumber(text.to_owned()));
        }
        let decimal = Decimal::from_str_exact(trimmed).map_err(|error| match error {
            rust_decimal::Error::ExceedsMaximumPossibleValue
            | rust_decimal::Error::LessThanMinimumPossibleValue
            | rust_decimal::Error::Underflow => AmountError::Overflow(text.to_owned()),
            // rust_decimal reports "too many digits" as a message, not a variant.
            rust_decimal::Error::ErrorString(message) if message.contains("overflow") => {
                AmountError::Overflow(text.to_owned())
            }
            _ => AmountError::NotANumber(text.to_owned()),
        })?;
        if decimal.is_sign_negative() && !decimal.is_zero() {
            return Err(AmountError::Negative(text.to_owned()));
        }
        // Trailing zeros add no precision: "1.50" is fine at scale 1.
        let decimal = decimal.normalize();
        let given = decimal.scale();
        if given > u32::from(scale) {
            return Err(AmountError::TooManyDecimals { text: text.to_owned(), given, scale });
        }
        let mantissa = decimal.mantissa().unsigned_abs();
        let factor = 10u128.pow(u32::from(scale) - given);
        mantissa.checked_mul(factor).map(Amount).ok_or_else(|| AmountError::Overflow(text.to_owned()))
    }

    /// Prints minor units as a human amount at `scale` decimal places, without trailing zeros
    /// (`12500` at scale 3 is `12.5`). Exact for every `u128`.
    pub fn display(self, scale: u8) -> String {
        let scale = u32::from(scale.min(limits::ASSET_SCALE_MAX));
        let factor = 10u128.pow(scale);
        let whole = self.0 / factor;
        let fraction = self.0 % factor;
        if fraction == 0 {
            return whole.to_string();
        }
        let digits = format!("{fraction:0width$}", width = scale as usize);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Display for Amount {
    /// Minor units. Use [`Amount::display`] for the human form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// JSON carries minor units as a decimal string: a u128 does not fit a JSON number that every
// client reads exactly.
impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "amount `{text}` must be a string of minor units (digits only)"
            )));
        }
        u128::from_str(&text)
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("amount `{text}` is too large")))
    }
}

/// An exact rational price, `numerator / denominator` units of the bought asset per unit of the
/// sold asset. Both parts are non-zero. Prices are compared by `u128` cross-multiplication,
/// never by division.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Price {
    pub numerator: u64,
    pub denominator: u64,
}

impl Price {
    /// Compares two prices exactly. Both denominators must be non-zero.
    pub fn cmp_exact(&self, other: &Price) -> std::cmp::Ordering {
        let left = u128::from(self.numerator) * u128::from(other.denominator);
        let right = u128::from(other.numerator) * u128::from(self.denominator);
        left.cmp(&right)
    }

    /// True when both parts are non-zero.
    pub fn is_valid(&self) -> bool {
        self.numerator != 0 && self.denominator != 0
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

impl FromStr for Price {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (n, d) = text.split_once('/').unwrap_or((text, "1"));
        let numerator = n.trim().parse::<u64>().map_err(|_| format!("price `{text}`: bad numerator"))?;
        let denominator = d.trim().parse::<u64>().map_err(|_| format!("price `{text}`: bad denominator"))?;
        let price = Price { numerator, denominator };
        if price.is_valid() { Ok(price) } else { Err(format!("price `{text}`: parts must be non-zero")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(Amount::parse("12.5", 2), Ok(Amount(1250)));
        assert_eq!(Amount::parse("12.50", 1), Ok(Amount(125)));
        assert_eq!(Amount::parse("0", 0), Ok(Amount(0)));
        assert_eq!(Amount::parse("7", 18), Ok(Amount(7_000_000_000_000_000_000)));
        assert_eq!(Amount::parse("0.000000000000000001", 18), Ok(Amount(1)));
    }

    #[test]
    fn each_problem_has_its_own_error() {
        assert_eq!(
            Amount::parse("1.234", 2),
            Err(AmountError::TooManyDecimals { text: "1.234".into(), given: 3, scale: 2 })
        );
        assert_eq!(Amount::parse("-1", 2), Err(AmountError::Negative("-1".into())));
        assert_eq!(Amount::parse("abc", 2), Err(AmountError::NotANumber("abc".into())));
        assert_eq!(Amount::parse("1e5", 2), Err(AmountError::NotANumber("1e5".into())));
        assert_eq!(Amount::parse("", 2), Err(AmountError::NotANumber("".into())));
        assert_eq!(Amount::parse("1", 19), Err(AmountError::BadScale(19)));
        // 10^29 does not fit rust_decimal; 10^21 at scale 18 does not fit u128.
        assert!(matches!(Amount::parse(&format!("1{}", "0".repeat(29)), 0), Err(AmountError::Overflow(_))));
        assert!(matches!(Amount::parse(&format!("1{}", "0".repeat(21)), 18), Err(AmountError::Overflow(_))));
    }

    #[test]
    fn displays_without_trailing_zeros() {
        assert_eq!(Amount(1250).display(2), "12.5");
        assert_eq!(Amount(1200).display(2), "12");
        assert_eq!(Amount(5).display(3), "0.005");
        assert_eq!(Amount(u128::MAX).display(0), u128::MAX.to_string());
        assert_eq!(Amount(u128::MAX).display(18), "340282366920938463463.374607431768211455");
    }

    #[test]
    fn prices_compare_exactly() {
        let third = Price { numerator: 1, denominator: 3 };
        let two_sixths = Price { numerator: 2, denominator: 6 };
        let half = Price { numerator: 1, denominator: 2 };
        assert_eq!(third.cmp_exact(&two_sixths), std::cmp::Ordering::Equal);
        assert_eq!(third.cmp_exact(&half), std::cmp::Ordering::Less);
        let huge = Price { numerator: u64::MAX, denominator: u64::MAX - 1 };
        assert_eq!(huge.cmp_exact(&Price { numerator: 1, denominator: 1 }), std::cmp::Ordering::Greater);
        assert_eq!("3/2".parse::<Price>(), Ok(Price { numerator: 3, denominator: 2 }));
        assert!("3/0".parse::<Price>().is_err());
    }
}
