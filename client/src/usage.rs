//! Metered-usage batches: a gateway's CSV of metered API calls, checked row by row, with the
//! total it charges and the usage root a `Settle` op commits to (docs/ARCHITECTURE.md "Ledger").
//!
//! # The usage CSV
//!
//! UTF-8 text, one call per line, `\n` or `\r\n` line ends, no quoting. The first line is
//! exactly the header
//!
//! ```text
//! call_id,time_ms,endpoint,units,amount
//! ```
//!
//! and every other line has exactly five fields:
//!
//! | field | meaning | rule |
//! |---|---|---|
//! | `call_id` | the gateway's id of the call | 1..=128 bytes of `[A-Za-z0-9._:-]`; unique in the file |
//! | `time_ms` | when the call was served | unix ms, a whole number |
//! | `endpoint` | what was called | 1..=256 bytes of printable ASCII without space, `,` or `"` |
//! | `units` | metered units of the call (requests, tokens, …) | a whole number (u64) |
//! | `amount` | what the call costs | human units of the held asset, at most its scale in decimals; zero allowed |
//!
//! A blank last line is allowed; any other blank line, a missing or extra field, a repeated
//! `call_id`, or a bad value is refused with its line number.
//!
//! # The usage root
//!
//! Anyone holding the CSV can recompute it:
//!
//! 1. Each row's canonical form is the ASCII text `call_id,time_ms,endpoint,units,amount_minor`
//!    where `time_ms`, `units` and `amount_minor` (the amount in minor units of the asset) are
//!    decimal integers without leading zeros (`0` for zero), with no line end.
//! 2. Rows are sorted by `call_id` (byte order), so the root does not depend on line order.
//! 3. The root is the binary Merkle root of `tally_types::merkle` over those rows: leaf =
//!    `blake3(0x00 || row)`, node = `blake3(0x01 || left || right)`, RFC 9162 shape (split at
//!    the largest power of two below n; an odd leaf is never duplicated).
//!
//! The total is the checked sum of the minor amounts; a `Settle` captures exactly it.
//!
//! # The planned usage CSV
//!
//! For a hold under a price plan the gateway does not price calls itself: the plan does
//! (docs/ARCHITECTURE.md "Price plans"). Its CSV names each call's metered item instead of an
//! amount; the header is exactly
//!
//! ```text
//! call_id,time_ms,endpoint,item,units
//! ```
//!
//! where `item` is one of the plan's items (`search.query`: 1..=64 bytes of `[a-z0-9._-]`,
//! starting with a letter) and the other fields are as above. The rows' canonical form is
//! `call_id,time_ms,endpoint,item,units`, sorted and rooted the same way. The settlement's usage
//! lines are the units summed per item (items with zero units left out), sorted by item; the
//! plan gives the amount ([`tally_types::pricing::price_lines`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use tally_types::pricing::UsageLine;
use tally_types::{Amount, AmountError, Hash, ItemName, limits, merkle};

/// The header line of a usage CSV.
pub const USAGE_HEADER: &str = "call_id,time_ms,endpoint,units,amount";
/// The header line of a planned usage CSV (priced by the hold's plan).
pub const PLANNED_USAGE_HEADER: &str = "call_id,time_ms,endpoint,item,units";
/// The most calls one batch may hold: bounds memory and the time to hash.
pub const USAGE_ROWS_MAX: usize = 1_000_000;
/// The largest usage file read.
pub const USAGE_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// The longest `call_id`.
pub const CALL_ID_BYTES_MAX: usize = 128;
/// The longest `endpoint`.
pub const ENDPOINT_BYTES_MAX: usize = 256;

/// Why a usage file was refused. Line numbers count from 1 (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the usage file is larger than {max} bytes", max = USAGE_FILE_BYTES_MAX)]
    TooLarge,
    #[error("the usage file is not UTF-8 text")]
    NotUtf8,
    #[error("line 1: the header must be exactly `{expected}`, found `{found}`")]
    Header { expected: &'static str, found: String },
    #[error("line {line}: {found} fields; a row has 5 ({header})")]
    FieldCount { line: usize, found: usize, header: &'static str },
    #[error("line {line}: item `{value}` must be 1..=64 characters of [a-z0-9._-], starting with a letter")]
    Item { line: usize, value: String },
    #[error("the calls name {found} items; a settlement carries at most {max} usage lines", max = limits::SETTLE_LINES_MAX)]
    TooManyItems { found: usize },
    #[error("line {line}: the units of item `{item}` add up to more than 2^64 - 1")]
    UnitsOverflow { line: usize, item: String },
    #[error("line {line}: call_id `{value}` must be 1..={max} bytes of [A-Za-z0-9._:-]", max = CALL_ID_BYTES_MAX)]
    CallId { line: usize, value: String },
    #[error("line {line}: call_id `{call_id}` repeats line {first_line}")]
    Duplicate { line: usize, first_line: usize, call_id: String },
    #[error("line {line}: {field} `{value}` is not a whole number")]
    Number { line: usize, field: &'static str, value: String },
    #[error(
        "line {line}: endpoint `{value}` must be 1..={max} bytes of printable ASCII without space, comma or quote",
        max = ENDPOINT_BYTES_MAX
    )]
    Endpoint { line: usize, value: String },
    #[error("line {line}: amount: {source}")]
    Amount { line: usize, source: AmountError },
    #[error("line {line}: a blank line inside the file")]
    BlankLine { line: usize },
    #[error("the batch has more than {max} calls", max = USAGE_ROWS_MAX)]
    TooManyRows,
    #[error("the usage file has no calls")]
    Empty,
    #[error("line {line}: the total would exceed the largest amount (u128)")]
    TotalOverflow { line: usize },
}

/// One metered call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    pub call_id: String,
    pub time_ms: u64,
    pub endpoint: String,
    pub units: u64,
    /// Minor units of the held asset.
    pub amount: Amount,
}

impl UsageRow {
    /// The canonical form hashed into the usage root (see the module docs).
    pub fn canonical(&self) -> String {
        format!("{},{},{},{},{}", self.call_id, self.time_ms, self.endpoint, self.units, self.amount.0)
    }
}

/// A checked batch of calls: its rows (sorted by call id), total and usage root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageBatch {
    pub rows: Vec<UsageRow>,
    /// Minor units: the checked sum of the rows' amounts.
    pub total: Amount,
    pub usage_root: Hash,
}

fn is_call_id(text: &str) -> bool {
    (1..=CALL_ID_BYTES_MAX).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn is_endpoint(text: &str) -> bool {
    (1..=ENDPOINT_BYTES_MAX).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_graphic() && b != b',' && b != b'"')
}

fn whole_number(line: usize, field: &'static str, value: &str) -> Result<u64, UsageError> {
    let number = || UsageError::Number { line, field, value: value.to_owned() };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(number());
    }
    value.parse().map_err(|_| number())
}

/// Splits a usage file into its rows after checking the header: each row's line number and
/// its five fields, in file order. Refuses blank lines but a last one, other field counts, and
/// more than [`USAGE_ROWS_MAX`] rows.
fn split_rows<'a>(text: &'a str, header: &'static str) -> Result<Vec<(usize, [&'a str; 5])>, UsageError> {
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let found = lines.next().unwrap_or_default();
    if found != header {
        return Err(UsageError::Header { expected: header, found: found.chars().take(200).collect() });
    }
    let mut rows = Vec::new();
    let mut pending_blank: Option<usize> = None;
    for (offset, raw) in lines.enumerate() {
        let line = offset + 2;
        if raw.is_empty() {
            // Only a blank last line is allowed: remember it and fail if a row follows.
            pending_blank.get_or_insert(line);
            continue;
        }
        if let Some(blank) = pending_blank {
            return Err(UsageError::BlankLine { line: blank });
        }
        if rows.len() == USAGE_ROWS_MAX {
            return Err(UsageError::TooManyRows);
        }
        let fields: Vec<&str> = raw.split(',').collect();
        let Ok(fields) = <[&str; 5]>::try_from(fields.as_slice()) else {
            return Err(UsageError::FieldCount { line, found: fields.len(), header });
        };
        rows.push((line, fields));
    }
    if rows.is_empty() {
        return Err(UsageError::Empty);
    }
    Ok(rows)
}

/// Checks the fields every row has (call id, time, endpoint) and that the call id is new.
fn call_fields<'a>(
    line: usize,
    call_id: &'a str,
    time_ms: &str,
    endpoint: &'a str,
    seen: &BTreeMap<String, usize>,
) -> Result<u64, UsageError> {
    if !is_call_id(call_id) {
        return Err(UsageError::CallId { line, value: call_id.chars().take(200).collect() });
    }
    let time_ms = whole_number(line, "time_ms", time_ms)?;
    if !is_endpoint(endpoint) {
        return Err(UsageError::Endpoint { line, value: endpoint.chars().take(300).collect() });
    }
    if let Some(first_line) = seen.get(call_id) {
        return Err(UsageError::Duplicate { line, first_line: *first_line, call_id: call_id.to_owned() });
    }
    Ok(time_ms)
}

/// Parses and checks a usage CSV whose amounts are in an asset of `scale` decimals.
pub fn parse_usage(text: &str, scale: u8) -> Result<UsageBatch, UsageError> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_call: BTreeMap<String, UsageRow> = BTreeMap::new();
    let mut total = Amount::ZERO;
    for (line, [call_id, time_ms, endpoint, units, amount]) in split_rows(text, USAGE_HEADER)? {
        let time_ms = call_fields(line, call_id, time_ms, endpoint, &seen)?;
        let units = whole_number(line, "units", units)?;
        let amount = Amount::parse(amount, scale).map_err(|source| UsageError::Amount { line, source })?;
        total = total.checked_add(amount).ok_or(UsageError::TotalOverflow { line })?;
        let row =
            UsageRow { call_id: call_id.to_owned(), time_ms, endpoint: endpoint.to_owned(), units, amount };
        seen.insert(call_id.to_owned(), line);
        by_call.insert(call_id.to_owned(), row);
    }
    // A BTreeMap iterates in key (byte) order: the canonical row order.
    let rows: Vec<UsageRow> = by_call.into_values().collect();
    let usage_root = usage_root(&rows);
    Ok(UsageBatch { rows, total, usage_root })
}

/// One metered call of a planned usage file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRow {
    pub call_id: String,
    pub time_ms: u64,
    pub endpoint: String,
    pub item: ItemName,
    pub units: u64,
}

impl PlannedRow {
    /// The canonical form hashed into the usage root (see the module docs).
    pub fn canonical(&self) -> String {
        format!("{},{},{},{},{}", self.call_id, self.time_ms, self.endpoint, self.item, self.units)
    }
}

/// A checked planned batch: its rows (sorted by call id), the usage lines a settlement
/// carries, and the usage root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBatch {
    pub rows: Vec<PlannedRow>,
    /// Units per item, sorted by item, without zero lines.
    pub lines: Vec<UsageLine>,
    pub usage_root: Hash,
}

/// Parses and checks a planned usage CSV (header [`PLANNED_USAGE_HEADER`]).
pub fn parse_planned_usage(text: &str) -> Result<PlannedBatch, UsageError> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_call: BTreeMap<String, PlannedRow> = BTreeMap::new();
    let mut per_item: BTreeMap<ItemName, u64> = BTreeMap::new();
    for (line, [call_id, time_ms, endpoint, item, units]) in split_rows(text, PLANNED_USAGE_HEADER)? {
        let time_ms = call_fields(line, call_id, time_ms, endpoint, &seen)?;
        let item = ItemName::new(item)
            .map_err(|_| UsageError::Item { line, value: item.chars().take(100).collect() })?;
        let units = whole_number(line, "units", units)?;
        let sum = per_item.entry(item.clone()).or_insert(0);
        *sum = sum
            .checked_add(units)
            .ok_or_else(|| UsageError::UnitsOverflow { line, item: item.to_string() })?;
        let row =
            PlannedRow { call_id: call_id.to_owned(), time_ms, endpoint: endpoint.to_owned(), item, units };
        seen.insert(call_id.to_owned(), line);
        by_call.insert(call_id.to_owned(), row);
    }
    let lines: Vec<UsageLine> = per_item
        .into_iter()
        .filter(|(_, units)| *units > 0)
        .map(|(item, units)| UsageLine { item, units })
        .collect();
    if lines.len() > limits::SETTLE_LINES_MAX {
        return Err(UsageError::TooManyItems { found: lines.len() });
    }
    let rows: Vec<PlannedRow> = by_call.into_values().collect();
    let canonical: Vec<String> = rows.iter().map(PlannedRow::canonical).collect();
    Ok(PlannedBatch { usage_root: merkle::root(&canonical), rows, lines })
}

/// The usage root of rows already in canonical (call id) order.
pub fn usage_root(rows: &[UsageRow]) -> Hash {
    let canonical: Vec<String> = rows.iter().map(UsageRow::canonical).collect();
    merkle::root(&canonical)
}

/// Reads and checks the usage CSV at `path` (bounded by [`USAGE_FILE_BYTES_MAX`]).
pub fn read_usage(path: &Path, scale: u8) -> Result<UsageBatch, UsageError> {
    parse_usage(&read_text(path)?, scale)
}

/// Reads and checks the planned usage CSV at `path` (bounded by [`USAGE_FILE_BYTES_MAX`]).
pub fn read_planned_usage(path: &Path) -> Result<PlannedBatch, UsageError> {
    parse_planned_usage(&read_text(path)?)
}

/// The text of a usage file, bounded by [`USAGE_FILE_BYTES_MAX`].
fn read_text(path: &Path) -> Result<String, UsageError> {
    let read_error = |error: std::io::Error| UsageError::Read {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(USAGE_FILE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > USAGE_FILE_BYTES_MAX {
        return Err(UsageError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| UsageError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use tally_types::hash::{merkle_leaf, merkle_node};

    use super::*;

    const GOOD: &str = "call_id,time_ms,endpoint,units,amount\n\
        c-2,1700000000100,/v1/search,3,0.30\n\
        c-1,1700000000000,/v1/search,1,0.1\r\n\
        c-3,1700000000200,/v1/embed,0,0\n";

    #[test]
    fn a_good_file_gives_total_and_a_root_anyone_can_recompute() {
        let batch = parse_usage(GOOD, 2).expect("valid");
        assert_eq!(batch.total, Amount(40));
        let ids: Vec<&str> = batch.rows.iter().map(|row| row.call_id.as_str()).collect();
        assert_eq!(ids, ["c-1", "c-2", "c-3"]);
        // Recomputed by hand from the documented rules.
        let leaf = |text: &str| merkle_leaf(text.as_bytes());
        let expected = merkle_node(
            &merkle_node(
                &leaf("c-1,1700000000000,/v1/search,1,10"),
                &leaf("c-2,1700000000100,/v1/search,3,30"),
            ),
            &leaf("c-3,1700000000200,/v1/embed,0,0"),
        );
        assert_eq!(batch.usage_root, expected);
        // Line order does not matter; any change to a row does.
        let reordered = "call_id,time_ms,endpoint,units,amount\nc-3,1700000000200,/v1/embed,0,0\n\
            c-1,1700000000000,/v1/search,1,0.10\nc-2,1700000000100,/v1/search,3,0.3";
        assert_eq!(parse_usage(reordered, 2).expect("valid").usage_root, batch.usage_root);
        let changed = GOOD.replace("/v1/embed,0,0", "/v1/embed,1,0");
        assert_ne!(parse_usage(&changed, 2).expect("valid").usage_root, batch.usage_root);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let file = |rows: &str| format!("{USAGE_HEADER}\n{rows}");
        let cases: Vec<(String, UsageError)> = vec![
            (
                "call_id,time,endpoint,units,amount\n".into(),
                UsageError::Header {
                    expected: USAGE_HEADER,
                    found: "call_id,time,endpoint,units,amount".into(),
                },
            ),
            (
                file("a,1,/x,1,1\na,2,/x,1,1\n"),
                UsageError::Duplicate { line: 3, first_line: 2, call_id: "a".into() },
            ),
            (file("a,1,/x,1\n"), UsageError::FieldCount { line: 2, found: 4, header: USAGE_HEADER }),
            (file("a,1,/x,1,1,9\n"), UsageError::FieldCount { line: 2, found: 6, header: USAGE_HEADER }),
            (file("a b,1,/x,1,1\n"), UsageError::CallId { line: 2, value: "a b".into() }),
            (file(",1,/x,1,1\n"), UsageError::CallId { line: 2, value: "".into() }),
            (file("a,-1,/x,1,1\n"), UsageError::Number { line: 2, field: "time_ms", value: "-1".into() }),
            (file("a,1,/x,1.5,1\n"), UsageError::Number { line: 2, field: "units", value: "1.5".into() }),
            (file("a,1,\"/x\",1,1\n"), UsageError::Endpoint { line: 2, value: "\"/x\"".into() }),
            (file("a,1,/x,1,1\n\nb,1,/x,1,1\n"), UsageError::BlankLine { line: 3 }),
            (file(""), UsageError::Empty),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_usage(&text, 2), Err(expected), "{text:?}");
        }
        assert!(matches!(
            parse_usage(&file("a,1,/x,1,0.001\n"), 2),
            Err(UsageError::Amount { line: 2, source: AmountError::TooManyDecimals { .. } })
        ));
        // 3·10^20 at scale 18 is 3·10^38 minor units: one fits a u128, two do not.
        assert_eq!(
            parse_usage(&file("a,1,/x,1,300000000000000000000\nb,1,/x,1,300000000000000000000\n"), 18),
            Err(UsageError::TotalOverflow { line: 3 })
        );
    }

    #[test]
    fn a_planned_file_gives_lines_per_item_and_its_own_root() {
        let text = "call_id,time_ms,endpoint,item,units\n\
            c-2,1700000000100,/v1/search,search.query,3\n\
            c-1,1700000000000,/v1/search,search.query,1\r\n\
            c-4,1700000000300,/v1/chat,tokens.output,0\n\
            c-3,1700000000200,/v1/chat,tokens.output,512\n";
        let batch = parse_planned_usage(text).expect("valid");
        let line = |item: &str, units| UsageLine { item: ItemName::new(item).expect("valid"), units };
        assert_eq!(batch.lines, vec![line("search.query", 4), line("tokens.output", 512)]);
        let leaf = |text: &str| tally_types::hash::merkle_leaf(text.as_bytes());
        let node = tally_types::hash::merkle_node;
        let expected = node(
            &node(
                &leaf("c-1,1700000000000,/v1/search,search.query,1"),
                &leaf("c-2,1700000000100,/v1/search,search.query,3"),
            ),
            &node(
                &leaf("c-3,1700000000200,/v1/chat,tokens.output,512"),
                &leaf("c-4,1700000000300,/v1/chat,tokens.output,0"),
            ),
        );
        assert_eq!(batch.usage_root, expected);
        // Only zero units of an item: no line for it.
        let idle = "call_id,time_ms,endpoint,item,units\na,1,/x,calls,0\n";
        assert_eq!(parse_planned_usage(idle).expect("valid").lines, vec![]);
    }

    #[test]
    fn bad_planned_files_are_refused_with_the_line() {
        let file = |rows: &str| format!("{PLANNED_USAGE_HEADER}\n{rows}");
        assert_eq!(
            parse_planned_usage(&file("a,1,/x,1,1\n")).map(|batch| batch.lines),
            Err(UsageError::Item { line: 2, value: "1".into() })
        );
        assert_eq!(
            parse_planned_usage(&file("a,1,/x,Calls,1\n")).map(|batch| batch.lines),
            Err(UsageError::Item { line: 2, value: "Calls".into() })
        );
        assert_eq!(
            parse_planned_usage(&file("a,1,/x,calls,18446744073709551615\nb,1,/x,calls,1\n"))
                .map(|batch| batch.lines),
            Err(UsageError::UnitsOverflow { line: 3, item: "calls".into() })
        );
        // A priced file is not a planned one, and the error names the header expected.
        assert_eq!(
            parse_planned_usage("call_id,time_ms,endpoint,units,amount\na,1,/x,1,1\n")
                .map(|batch| batch.lines),
            Err(UsageError::Header { expected: PLANNED_USAGE_HEADER, found: USAGE_HEADER.into() })
        );
        let many: String = (0..=limits::SETTLE_LINES_MAX).map(|i| format!("c{i},1,/x,item{i},1\n")).collect();
        assert_eq!(
            parse_planned_usage(&file(&many)).map(|batch| batch.lines),
            Err(UsageError::TooManyItems { found: limits::SETTLE_LINES_MAX + 1 })
        );
    }
}
