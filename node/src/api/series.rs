//! Two explorer reads built on the store's indexes: an account's open holds (through its
//! history) and a provider's rewards by reason over time (from the per-day reward figures).
//!
//! - `GET /v1/accounts/{address}/holds`: the holds placed on the account that are still open,
//!   newest first. Holds are keyed by id in the state, not by holder, so the account's history
//!   index names the candidates: the newest [`HOLDS_HISTORY_SCAN_MAX`] transactions in which
//!   the account is a holder (recipient role), each hold op's entry read from the state.
//!   `complete` says whether that reached the account's first indexed transaction.
//! - `GET /v1/providers/{member}/rewards?asset=&bucket=&days=`: rewards granted in one of the
//!   member's assets per reason, summed per UTC day, ISO week (from Monday) or calendar month of
//!   block time, over the `days` days up to the tip's; one range read of the `d/` figures
//!   ([`tally_store::index`]), bounded by [`REWARD_FIGURES_MAX`] (newest kept, `truncated`).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tally_ledger::state::HoldStatus;
use tally_ledger::{StateKey, StateValue};
use tally_store::index::ROLE_RECIPIENT;
use tally_types::calendar;
use tally_types::{Amount, AssetId, MemberId, Op, PublicKey};

use super::markets::{hold_json, scale_of};
use super::{ApiResult, ApiState, Problem, ok_json, read_state, read_store};

/// The most history entries read to find an account's open holds.
pub const HOLDS_HISTORY_SCAN_MAX: usize = 1_000;
/// The most per-day reward figures one rewards read sums (days × reasons).
pub const REWARD_FIGURES_MAX: usize = 20_000;
/// The longest window of a rewards read, in days (ten years).
pub const REWARD_DAYS_MAX: u64 = 3_660;
/// The window of a rewards read when the client names none.
pub const REWARD_DAYS_DEFAULT: u64 = 90;
const DAY_MS: u64 = 86_400_000;

fn internal(error: impl ToString) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

/// `GET /v1/accounts/{address}/holds`: the account's open holds, newest first.
pub(super) async fn get_holds(State(state): State<ApiState>, Path(address): Path<String>) -> ApiResult {
    let account = PublicKey::parse_recorded(&address).map_err(|error| {
        Problem::bad_request("address", format!("`{address}` is not an address: {error}"))
    })?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let entries = store.account_history(&account, None, HOLDS_HISTORY_SCAN_MAX + 1)?;
        let complete = entries.len() <= HOLDS_HISTORY_SCAN_MAX;
        let mut seen = BTreeSet::new();
        let mut holds = Vec::new();
        // Entries of one block come together: read each block once.
        let mut block: Option<tally_types::Block> = None;
        for entry in
            entries.iter().take(HOLDS_HISTORY_SCAN_MAX).filter(|entry| entry.roles & ROLE_RECIPIENT != 0)
        {
            if block.as_ref().is_none_or(|block| block.header.height != entry.height) {
                block = Some(
                    store
                        .block(entry.height)?
                        .ok_or_else(|| internal(format!("indexed block {} is missing", entry.height)))?,
                );
            }
            let Some(tx) = block.as_ref().and_then(|block| block.txs.get(entry.tx_index as usize)) else {
                return Err(internal(format!("no tx {} at {}", entry.tx_index, entry.height)));
            };
            for op in tx.tx.ops.iter() {
                let Op::Hold(hold) = op else { continue };
                if hold.holder != account || !seen.insert(hold.hold_id) {
                    continue;
                }
                // The state says whether it is still open (and that it is this account's: a
                // failed op's id may be another hold's).
                if let Some(StateValue::Hold(found)) =
                    read_state(&snapshot, &StateKey::Hold { hold_id: hold.hold_id })?
                    && found.holder == account
                    && matches!(found.status, HoldStatus::Open)
                {
                    holds.push(hold_json(hold.hold_id, &found, scale_of(&snapshot, &found.asset)?));
                }
            }
        }
        Ok(json!({
            "address": account.to_address(),
            "height": snapshot.height(),
            "indexed_from": store.index_from()?,
            "holds": holds,
            "complete": complete,
            "scanned_txs": entries.len().min(HOLDS_HISTORY_SCAN_MAX),
        }))
    })
    .await?;
    ok_json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RewardsQuery {
    asset: Option<String>,
    bucket: Option<String>,
    days: Option<String>,
}

/// How a rewards series groups its days.
#[derive(Clone, Copy)]
enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    fn parse(text: Option<&str>) -> Result<Bucket, Problem> {
        match text {
            None | Some("day") => Ok(Bucket::Day),
            Some("week") => Ok(Bucket::Week),
            Some("month") => Ok(Bucket::Month),
            Some(other) => Err(Problem::bad_request(
                "query",
                format!("query `bucket`: `{other}` is not one of day, week, month"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The first day (days since 1970-01-01, UTC) of the bucket that holds `day`.
    fn start(self, day: u64) -> u64 {
        match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: day + 3 counts from a Monday. Its week's Monday comes
            // before day 0, so the first days' bucket starts at day 0.
            Bucket::Week => day.saturating_sub((day + 3) % 7),
            Bucket::Month => {
                let (year, month, _) = civil_from_days(day);
                days_from_civil(year, month, 1)
            }
        }
    }
}

/// The date of a day number (days since 1970-01-01), unsigned as the series count days.
fn civil_from_days(day: u64) -> (u64, u64, u64) {
    let (year, month, day) = calendar::civil_from_days(day as i64);
    (year as u64, month as u64, day as u64)
}

/// The day number of a date on or after 1970-01-01.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    calendar::days_from_civil(year as i64, month as i64, day as i64) as u64
}

fn parse_days(text: Option<&str>) -> Result<u64, Problem> {
    match text {
        None => Ok(REWARD_DAYS_DEFAULT),
        Some(text) => match text.parse::<u64>() {
            Ok(days) if (1..=REWARD_DAYS_MAX).contains(&days) && text.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(days)
            }
            _ => Err(Problem::bad_request(
                "query",
                format!("query `days`: `{text}` is not a whole number in 1..={REWARD_DAYS_MAX}"),
            )),
        },
    }
}

/// The member's asset a rewards read is about, checked: named, an asset id, issued by it.
fn rewards_asset(member: &MemberId, text: Option<&str>) -> Result<AssetId, Problem> {
    let text = text.ok_or_else(|| {
        Problem::bad_request(
            "query",
            format!("query `asset` is required: one of {member}'s assets, e.g. CODE@{member}"),
        )
    })?;
    let asset = AssetId::from_str(text).map_err(|error| {
        Problem::bad_request(
            "asset-id",
            format!("query `asset`: `{text}` is not an asset id (CODE@member): {error}"),
        )
    })?;
    if asset.issuer != *member {
        return Err(Problem::bad_request(
            "query",
            format!(
                "query `asset`: `{asset}` is not an asset of `{member}` (its issuer is `{}`)",
                asset.issuer
            ),
        ));
    }
    Ok(asset)
}

/// Per-day figures `(key, value)` of `d/{member}/{asset}/{day}/{reason}` summed per bucket and
/// reason, buckets in time order.
fn bucketed(figures: &[(String, u128)], bucket: Bucket) -> BTreeMap<u64, BTreeMap<String, u128>> {
    let mut sums: BTreeMap<u64, BTreeMap<String, u128>> = BTreeMap::new();
    for (key, value) in figures {
        let mut parts = key.splitn(5, '/').skip(3);
        let (Some(day), Some(reason)) = (parts.next(), parts.next()) else { continue };
        let Ok(day) = day.parse::<u64>() else { continue };
        let sum = sums.entry(bucket.start(day)).or_default().entry(reason.to_owned()).or_default();
        // Sums of one asset's rewards never exceed its supply's u128; saturate all the same.
        *sum = sum.saturating_add(*value);
    }
    sums
}

/// `GET /v1/providers/{member}/rewards?asset=A&bucket=day|week|month&days=N`.
pub(super) async fn get_rewards(
    State(state): State<ApiState>,
    Path(text): Path<String>,
    query: Result<Query<RewardsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let member = MemberId::from_str(&text).map_err(|error| {
        Problem::bad_request("member-id", format!("`{text}` is not a member id: {error}"))
    })?;
    let asset = rewards_asset(&member, query.asset.as_deref())?;
    let bucket = Bucket::parse(query.bucket.as_deref())?;
    let days = parse_days(query.days.as_deref())?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        if read_state(&snapshot, &StateKey::Member { member: member.clone() })?.is_none() {
            return Err(Problem::not_found(format!("no member `{member}`")));
        }
        let Some(StateValue::Asset(asset_state)) = read_state(&snapshot, &StateKey::Asset { asset: asset.clone() })?
        else {
            return Err(Problem::not_found(format!("no asset `{asset}`")));
        };
        // The window ends with the tip's day of block time, not the reader's clock.
        let tip_ms = match store.block(snapshot.height())? {
            Some(block) => block.header.time_ms,
            None => 0,
        };
        let last_day = tip_ms / DAY_MS;
        let first_day = (last_day + 1).saturating_sub(days);
        let prefix = format!("d/{member}/{asset}/");
        let (figures, truncated) = store.figures_between(
            &format!("{prefix}{first_day:010}/"),
            &format!("{prefix}{:010}/", last_day + 1),
            REWARD_FIGURES_MAX,
        )?;
        let scale = asset_state.scale;
        let sums = bucketed(&figures, bucket);
        let reasons: BTreeSet<&String> = sums.values().flat_map(|reasons| reasons.keys()).collect();
        let buckets: Vec<serde_json::Value> = sums
            .iter()
            .map(|(start, reasons)| {
                let total = reasons.values().fold(0u128, |sum, value| sum.saturating_add(*value));
                let human: BTreeMap<&String, String> =
                    reasons.iter().map(|(reason, value)| (reason, Amount(*value).display(scale))).collect();
                let minor: BTreeMap<&String, String> =
                    reasons.iter().map(|(reason, value)| (reason, value.to_string())).collect();
                json!({
                    "start_ms": start * DAY_MS, "total": Amount(total).display(scale), "total_minor": total.to_string(),
                    "by_reason": human, "by_reason_minor": minor,
                })
            })
            .collect();
        Ok(json!({
            "member": member, "asset": asset, "scale": scale, "bucket": bucket.name(),
            "from_ms": first_day * DAY_MS, "to_ms": (last_day + 1) * DAY_MS,
            "height": snapshot.height(), "indexed_from": store.index_from()?,
            "reasons": reasons, "buckets": buckets, "truncated": truncated,
        }))
    })
    .await?;
    ok_json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_the_day_the_monday_and_the_first_of_the_month() {
        // 2026-12-04 is a Friday, day 20,791.
        let day = days_from_civil(2026, 12, 4);
        assert_eq!(day, 20_791);
        assert_eq!(civil_from_days(day), (2026, 12, 4));
        assert_eq!(Bucket::Day.start(day), day);
        assert_eq!(civil_from_days(Bucket::Week.start(day)), (2026, 11, 30));
        assert_eq!(civil_from_days(Bucket::Month.start(day)), (2026, 12, 1));
        // Leap day and the turn of a year.
        assert_eq!(civil_from_days(Bucket::Month.start(days_from_civil(2024, 2, 29))), (2024, 2, 1));
        assert_eq!(civil_from_days(Bucket::Week.start(days_from_civil(2027, 1, 2))), (2026, 12, 28));
        // The first days of 1970 belong to a week that began before day 0.
        assert_eq!(Bucket::Week.start(0), 0);
        assert_eq!(Bucket::Week.start(4), 4);
    }

    #[test]
    fn per_day_figures_sum_per_bucket_and_reason() {
        let key = |day: u64, reason: &str| format!("d/acme/ACME@acme/{day:010}/{reason}");
        let monday = days_from_civil(2026, 11, 30);
        let figures = vec![
            (key(monday, "forum_support"), 5),
            (key(monday + 2, "forum_support"), 7),
            (key(monday + 2, "how_to_guide"), 1),
            (key(monday + 7, "forum_support"), 2),
        ];
        let weeks = bucketed(&figures, Bucket::Week);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[&monday]["forum_support"], 12);
        assert_eq!(weeks[&monday]["how_to_guide"], 1);
        assert_eq!(weeks[&(monday + 7)]["forum_support"], 2);
        let days = bucketed(&figures, Bucket::Day);
        assert_eq!(days.len(), 3);
        let months = bucketed(&figures, Bucket::Month);
        // Nov 30 is November; Dec 2 and Dec 7 are December.
        assert_eq!(months.len(), 2);
        assert_eq!(months[&days_from_civil(2026, 12, 1)]["forum_support"], 9);
    }
}
