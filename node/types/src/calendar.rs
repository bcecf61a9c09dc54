//! Proleptic Gregorian dates from day numbers and back (H. Hinnant's `days_from_civil` and
//! `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>): the dates the
//! API's time series and the badges' RFC 3339 timestamps need, shared by the node and the
//! client. Two exact integer functions, so no calendar crate.

/// Days since 1970-01-01 of the date `year-month-day` (month 1..=12, day 1..=31; not
/// checked: the caller validates the date it parsed).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `(year, month, day)` of a day number (days since 1970-01-01): the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_and_their_day_numbers() {
        // Day numbers as `date -u -d DATE +%s` / 86400 gives them.
        let known = [
            ((1970, 1, 1), 0),
            ((1969, 12, 31), -1),
            ((2000, 2, 29), 11_016),
            ((2000, 3, 1), 11_017),
            ((2024, 2, 29), 19_782),
            ((2026, 12, 4), 20_791),
            ((2100, 3, 1), 47_541),
            ((1600, 1, 1), -135_140),
        ];
        for ((year, month, day), days) in known {
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_either_side_of_1970_round_trips_and_follows_the_last() {
        let mut previous = civil_from_days(-146_098 * 2);
        for days in -146_097 * 2..=146_097 * 2 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            let next_of_previous = if day == 1 {
                month == 1 && previous.1 == 12 && previous.0 + 1 == year || previous.1 + 1 == month
            } else {
                previous.2 + 1 == day && previous.1 == month
            };
            assert!(next_of_previous, "{previous:?} then {:?}", (year, month, day));
            previous = (year, month, day);
        }
    }
}
