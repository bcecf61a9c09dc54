//! Human amounts: `Amount::display` and `Amount::parse` are exact inverses wherever the text
//! fits rust_decimal (at most 28 significant digits), refuse rather than round where it does
//! not, and refuse more decimal places than the asset's scale.

use proptest::prelude::*;
use tally_types::amount::{Amount, AmountError};
use tally_types::limits;

/// 10^28: every amount below it prints with at most 28 significant digits.
const FITS_DECIMAL: u128 = 10_000_000_000_000_000_000_000_000_000;

/// Amounts below 10^28, spread over every magnitude rather than clustered near the top.
fn amount_that_fits() -> impl Strategy<Value = u128> {
    (0u32..=28).prop_flat_map(|digits| 0..10u128.pow(digits))
}

fn scale() -> impl Strategy<Value = u8> {
    0..=limits::ASSET_SCALE_MAX
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn display_then_parse_is_the_identity(x in amount_that_fits(), scale in scale()) {
        let text = Amount(x).display(scale);
        prop_assert_eq!(Amount::parse(&text, scale), Ok(Amount(x)), "{}", text);
    }

    #[test]
    fn trailing_zeros_and_whitespace_do_not_change_the_value(
        x in 0..10u128.pow(24),
        scale in scale(),
        zeros in 0usize..4,
    ) {
        let text = Amount(x).display(scale);
        let padded = if text.contains('.') || zeros == 0 {
            format!("  {text}{}\t", "0".repeat(zeros))
        } else {
            format!(" {text}.{}", "0".repeat(zeros))
        };
        prop_assert_eq!(Amount::parse(&padded, scale), Ok(Amount(x)), "{:?}", padded);
    }

    #[test]
    fn every_amount_parses_back_exactly_or_is_refused_as_too_large(x in any::<u128>(), scale in scale()) {
        let text = Amount(x).display(scale);
        match Amount::parse(&text, scale) {
            Ok(parsed) => prop_assert_eq!(parsed, Amount(x), "{}", text),
            Err(AmountError::Overflow(_)) => prop_assert!(x >= FITS_DECIMAL, "{} refused although it fits", text),
            Err(other) => prop_assert!(false, "{} refused with {:?}", text, other),
        }
    }

    #[test]
    fn more_decimals_than_the_scale_are_refused(x in amount_that_fits(), scale in 1..=limits::ASSET_SCALE_MAX) {
        // Make the last decimal place non-zero, so the text has exactly `scale` decimals.
        let x = if x % 10 == 0 { x + 1 } else { x };
        let text = Amount(x).display(scale);
        prop_assert_eq!(
            Amount::parse(&text, scale - 1),
            Err(AmountError::TooManyDecimals { text: text.clone(), given: u32::from(scale), scale: scale - 1 })
        );
    }

    #[test]
    fn display_is_monotonic_in_the_amount(a in any::<u128>(), b in any::<u128>(), scale in scale()) {
        // Compare as (whole, fraction) decimals: the printed order is the numeric order.
        let key = |x: u128| {
            let text = Amount(x).display(scale);
            let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
            (whole.len(), whole.to_owned(), format!("{fraction:0<18}"))
        };
        prop_assert_eq!(key(a).cmp(&key(b)), a.cmp(&b));
    }

    #[test]
    fn json_carries_minor_units_as_a_string(x in any::<u128>()) {
        let json = serde_json::to_string(&Amount(x)).expect("serializes");
        prop_assert_eq!(&json, &format!("\"{x}\""));
        prop_assert_eq!(serde_json::from_str::<Amount>(&json).expect("parses"), Amount(x));
    }
}

#[test]
fn edges_of_the_decimal_range() {
    // The largest amount that fits, at every scale, and the smallest that does not.
    for scale in 0..=limits::ASSET_SCALE_MAX {
        let largest = Amount(FITS_DECIMAL - 1);
        assert_eq!(Amount::parse(&largest.display(scale), scale), Ok(largest), "scale {scale}");
        assert_eq!(Amount::parse(&Amount(1).display(scale), scale), Ok(Amount(1)), "scale {scale}");
        assert_eq!(Amount::parse(&Amount::ZERO.display(scale), scale), Ok(Amount::ZERO), "scale {scale}");
    }
    assert!(matches!(Amount::parse(&Amount(u128::MAX).display(0), 0), Err(AmountError::Overflow(_))));
    assert!(matches!(Amount::parse(&Amount(u128::MAX).display(18), 18), Err(AmountError::Overflow(_))));
    for text in ["1.2.3", ".", "1..0", "0x10", "1_000", "١٢", "+-1", "1e3", "NaN", "inf"] {
        assert!(Amount::parse(text, 2).is_err(), "{text:?} parsed");
    }
    assert!(matches!(Amount::parse("-0.01", 2), Err(AmountError::Negative(_))));
    assert_eq!(
        Amount::parse("1", limits::ASSET_SCALE_MAX + 1),
        Err(AmountError::BadScale(limits::ASSET_SCALE_MAX + 1))
    );
    for text in ["", "-1", "1.5", "12a", "340282366920938463463374607431768211456"] {
        assert!(
            serde_json::from_str::<Amount>(&format!("\"{text}\"")).is_err(),
            "{text:?} accepted as minor units"
        );
    }
    assert!(serde_json::from_str::<Amount>("12").is_err(), "a JSON number is refused");
}
