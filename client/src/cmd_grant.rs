//! `tally grant --csv FILE`: many grants of one asset from a CSV, signed with consecutive seqs
//! of the `--from` key, one grant per transaction, sent in batches (`POST /v1/txs`, borsh
//! form), with one result per row.
//!
//! # The grants CSV
//!
//! UTF-8 text, one grant per line, `\n` or `\r\n` line ends, no quoting (a field cannot hold a
//! comma or a double quote). The first line is a header: the columns
//! `to,amount,kind,reason`, optionally followed by `grant_id`, then optionally by
//! `external_ref`, in this order:
//!
//! ```text
//! to,amount,kind,reason,grant_id,external_ref
//! tally1…,100,reward,client-library,0c6e1e0b5c2a4b0f9d3e7a1b2c3d4e5f,lib-tally-py
//! dev2,25.50,purchase,,,order-1
//! ```
//!
//! | column | meaning | rule |
//! |---|---|---|
//! | `to` | the recipient | an address (`tally1…` or hex) or a key name in the keystore |
//! | `amount` | what is granted | human units of `--asset`, at most its scale in decimals, above zero |
//! | `kind` | why | `purchase`, `reward` or `promo` |
//! | `reason` | a reward's reason | `client-library`, `how-to-guide`, `forum-support`, `published-application` or `other:TEXT` for a reward; empty otherwise |
//! | `grant_id` | the grant's id | 32 hex digits, unique in the file; empty (or no column): random |
//! | `external_ref` | your reference (order, invoice) | at most 128 bytes; may be empty |
//!
//! A blank last line is allowed. Every row is checked before anything is sent; bad rows are
//! named with their line numbers (the header is line 1) and nothing is submitted (exit 2).
//! Give every row a `grant_id` to make a re-run safe: a grant id used before is refused by
//! the ledger (`duplicate_grant_id`) and changes nothing but the seq.
//!
//! # What is sent
//!
//! Row `i` (in file order, from 0) is signed with seq `first + i`, where `first` is the
//! account's committed seq + 1 (or `--seq`). The rows go out in batches of
//! [`TX_SUBMIT_BATCH_MAX`]: the node's mempool holds at most that many seqs of one account
//! ahead of its committed seq, so each batch after the first waits until the one before it
//! has committed. A refused row stops the run: the rows after it in its batch were admitted
//! but wait for its seq (and expire after `--valid-for` blocks unless it is filled), and later
//! batches are not sent. With `--wait`, every admitted row's receipt is read after its commit.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tally_client::http::{BatchTxError, NodeClient};
use tally_client::keystore::Keystore;
use tally_client::txbuild::{self, GrantDetails};
use tally_types::limits::TX_SUBMIT_BATCH_MAX;
use tally_types::tx::{GrantKind, RewardReason};
use tally_types::{Amount, AmountError, AssetId, OpId, PublicKey, SecretKey, TxId, TxOutcome};

use crate::{POLL_INTERVAL_MS, Session, SubmitArgs, passphrase, usage};

/// The columns of a grants CSV, in order; the first four are required.
pub(crate) const GRANT_COLUMNS: [&str; 6] = ["to", "amount", "kind", "reason", "grant_id", "external_ref"];
/// The columns every grants CSV has.
const GRANT_COLUMNS_REQUIRED: usize = 4;
/// The most rows one file may hold: bounds memory and the length of a run.
pub(crate) const GRANT_ROWS_MAX: usize = 100_000;
/// The largest grants file read.
const GRANTS_FILE_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// Bad rows listed in one error; the rest are counted.
const BAD_ROWS_SHOWN_MAX: usize = 50;
/// How long a batch may take to commit before the next is sent (or, with `--wait`, before the
/// run stops waiting).
const BATCH_COMMIT_WAIT_MS: u64 = 60_000;

/// One checked row of a grants CSV. Amounts and recipients are checked as far as they can be
/// without the node and the keystore; [`prepare`] finishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrantRow {
    /// Its line in the file (the header is line 1).
    pub line: usize,
    pub to: String,
    pub amount: String,
    pub kind: GrantKind,
    pub reason: Option<RewardReason>,
    pub grant_id: Option<OpId>,
    pub external_ref: String,
}

/// A bad row (or header), by line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

fn row_error(line: usize, message: impl Into<String>) -> RowError {
    RowError { line, message: message.into() }
}

/// Checks an amount's syntax without the asset's scale: a decimal above zero with at most 18
/// decimals. Too large at 18 decimals may still fit a smaller scale: that is left to
/// [`prepare`], which knows the scale.
fn check_amount_syntax(text: &str) -> Result<(), String> {
    match Amount::parse(text, tally_types::limits::ASSET_SCALE_MAX) {
        Ok(amount) if amount.is_zero() => Err("amount must be greater than zero".into()),
        Ok(_) | Err(AmountError::Overflow(_)) => Ok(()),
        Err(error) => Err(format!("amount: {error}")),
    }
}

/// Parses and checks a grants CSV (see the module docs): every bad row is reported, by line.
pub(crate) fn parse_grants_csv(text: &str) -> Result<Vec<GrantRow>, Vec<RowError>> {
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let header = lines.next().unwrap_or_default();
    let columns: Vec<&str> = header.split(',').collect();
    let known = columns.len() >= GRANT_COLUMNS_REQUIRED
        && columns.len() <= GRANT_COLUMNS.len()
        && columns[..] == GRANT_COLUMNS[..columns.len()];
    if !known {
        let shown: String = header.chars().take(200).collect();
        return Err(vec![row_error(
            1,
            format!(
                "the header must be `to,amount,kind,reason`, optionally followed by `,grant_id` and then \
                 `,external_ref`; found `{shown}`"
            ),
        )]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of: HashMap<OpId, usize> = HashMap::new();
    let mut pending_blank: Option<usize> = None;
    for (offset, raw) in lines.enumerate() {
        let line = offset + 2;
        if raw.is_empty() {
            // Only a blank last line is allowed: remember it and fail if a row follows.
            pending_blank.get_or_insert(line);
            continue;
        }
        if let Some(blank) = pending_blank.take() {
            errors.push(row_error(blank, "a blank line inside the file"));
        }
        if rows.len() + errors.len() >= GRANT_ROWS_MAX {
            errors.push(row_error(line, format!("more than {GRANT_ROWS_MAX} grants; split the file")));
            break;
        }
        match parse_row(line, raw, columns.len(), &mut first_line_of) {
            Ok(row) => rows.push(row),
            Err(message) => errors.push(row_error(line, message)),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(row_error(1, "the file has a header but no grants"));
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

fn parse_row(
    line: usize,
    raw: &str,
    columns: usize,
    first_line_of: &mut HashMap<OpId, usize>,
) -> Result<GrantRow, String> {
    if raw.contains('"') {
        return Err("quoting is not supported: a field cannot hold `\"` (or a comma)".into());
    }
    let fields: Vec<&str> = raw.split(',').collect();
    if fields.len() != columns {
        return Err(format!(
            "{} fields; the header has {columns} ({})",
            fields.len(),
            GRANT_COLUMNS[..columns].join(",")
        ));
    }
    let field = |index: usize| fields.get(index).copied().unwrap_or_default();
    let to = field(0);
    if to.is_empty() {
        return Err("`to` is empty".into());
    }
    let amount = field(1);
    check_amount_syntax(amount)?;
    let kind = txbuild::parse_grant_kind(field(2)).map_err(|error| error.to_string())?;
    let reason = match field(3) {
        "" => None,
        text => Some(txbuild::parse_reward_reason(text).map_err(|error| error.to_string())?),
    };
    match (kind, &reason) {
        (GrantKind::Reward, None) => return Err("a reward grant needs a reason".into()),
        (GrantKind::Purchase | GrantKind::Promo, Some(_)) => {
            return Err("only reward grants take a reason; leave `reason` empty".into());
        }
        _ => {}
    }
    let grant_id = match field(4) {
        "" => None,
        text => {
            let id = text.parse::<OpId>().map_err(|error| format!("grant_id: {error}"))?;
            if let Some(first) = first_line_of.get(&id) {
                return Err(format!("grant_id {id} repeats line {first}"));
            }
            first_line_of.insert(id, line);
            Some(id)
        }
    };
    let external_ref = field(5).to_owned();
    let max = tally_types::limits::GRANT_EXTERNAL_REF_BYTES_MAX;
    if external_ref.len() > max {
        return Err(format!("external_ref is {} bytes; the limit is {max}", external_ref.len()));
    }
    Ok(GrantRow { line, to: to.to_owned(), amount: amount.to_owned(), kind, reason, grant_id, external_ref })
}

/// A usage error listing bad rows (at most [`BAD_ROWS_SHOWN_MAX`]); nothing was sent.
fn bad_rows(path: &Path, errors: &[RowError]) -> anyhow::Error {
    let mut message = format!("{}: {} bad row(s); nothing was sent", path.display(), errors.len());
    for error in errors.iter().take(BAD_ROWS_SHOWN_MAX) {
        message.push_str(&format!("\n  {error}"));
    }
    if errors.len() > BAD_ROWS_SHOWN_MAX {
        message.push_str(&format!("\n  … and {} more", errors.len() - BAD_ROWS_SHOWN_MAX));
    }
    usage(message)
}

/// Reads the file, bounded, as UTF-8.
fn read_file(path: &Path) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).map_err(|error| usage(format!("opening {}: {error}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(GRANTS_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > GRANTS_FILE_BYTES_MAX {
        return Err(usage(format!("{}: larger than {GRANTS_FILE_BYTES_MAX} bytes", path.display())));
    }
    String::from_utf8(bytes).map_err(|_| usage(format!("{}: not UTF-8 text", path.display())))
}

/// A row made into its op: recipient resolved, amount at the asset's scale, grant id fixed.
struct Prepared {
    row: GrantRow,
    to: PublicKey,
    amount: Amount,
    grant_id: OpId,
    op: tally_types::Op,
}

/// Resolves recipients (addresses or key names) and amounts at `scale`; every bad row is
/// reported, by line.
fn prepare(
    rows: Vec<GrantRow>,
    asset: &AssetId,
    scale: u8,
    keystore: impl Fn() -> anyhow::Result<Keystore>,
) -> anyhow::Result<Result<Vec<Prepared>, Vec<RowError>>> {
    let mut keys: Option<Keystore> = None;
    let mut prepared = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for row in rows {
        let to = match row.to.parse::<PublicKey>() {
            Ok(key) => Some(key),
            Err(error) => {
                // Not an address: a key name, unless it was meant as an address.
                let named = if row.to.starts_with("tally1") {
                    None
                } else {
                    if keys.is_none() {
                        keys = Some(keystore()?);
                    }
                    keys.as_ref().and_then(|store| store.show(&row.to).ok()).map(|info| info.address)
                };
                if named.is_none() {
                    errors.push(row_error(
                        row.line,
                        format!("`to` `{}` is neither an address ({error}) nor a key name", row.to),
                    ));
                }
                named
            }
        };
        let amount = match txbuild::parse_positive_amount(&row.amount, scale) {
            Ok(amount) => Some(amount),
            Err(error) => {
                errors.push(row_error(row.line, format!("amount: {error}")));
                None
            }
        };
        let (Some(to), Some(amount)) = (to, amount) else { continue };
        let grant_id = match row.grant_id {
            Some(id) => id,
            None => txbuild::random_op_id()?,
        };
        let details = GrantDetails {
            grant_id,
            kind: row.kind,
            reason: row.reason.clone(),
            external_ref: row.external_ref.clone(),
            pack: None,
        };
        match txbuild::grant_op(asset.clone(), to, amount, details) {
            Ok(op) => prepared.push(Prepared { row, to, amount, grant_id, op }),
            Err(error) => errors.push(row_error(row.line, error.to_string())),
        }
    }
    Ok(if errors.is_empty() { Ok(prepared) } else { Err(errors) })
}

/// What became of one row.
enum Fate {
    NotSent,
    Refused(BatchTxError),
    Admitted(TxId),
    Committed { id: TxId, height: tally_types::Height, outcome: TxOutcome },
}

/// Waits until the account's committed seq reaches `seq`; false on timeout.
fn wait_for_seq(client: &NodeClient, account: &PublicKey, seq: u64, timeout_ms: u64) -> anyhow::Result<bool> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        if client.account(account).context("reading the signer's account")?.seq >= seq {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

/// `tally grant --csv FILE --asset A --from KEY`: see the module docs.
pub(crate) fn grant_csv(
    context: &Session,
    asset: &str,
    path: &Path,
    submit: &SubmitArgs,
) -> anyhow::Result<()> {
    let asset: AssetId = asset.parse().map_err(|error| usage(format!("--asset: {error}")))?;
    let text = read_file(path)?;
    let rows = parse_grants_csv(&text).map_err(|errors| bad_rows(path, &errors))?;
    let client = context.client()?;
    let scale = client.asset(&asset).with_context(|| format!("looking up asset {asset}"))?.scale;
    let prepared =
        prepare(rows, &asset, scale, || context.keystore())?.map_err(|errors| bad_rows(path, &errors))?;

    let store = context.keystore()?;
    let key: SecretKey = store.load(&submit.from, &passphrase(false)?)?;
    let signer = key.public_key();
    let first_seq = match submit.seq {
        Some(seq) => seq,
        None => {
            let account = client.account(&signer).context("reading the signer's account")?;
            account.seq.checked_add(1).context("the account's seq is exhausted")?
        }
    };
    if first_seq.checked_add(prepared.len() as u64).is_none() {
        return Err(usage(format!("seq {first_seq} leaves no room for {} grants", prepared.len())));
    }
    let (mut fates, mut stop) = send_rows(&client, &key, submit, &prepared, first_seq)?;
    if submit.wait {
        read_receipts(&client, &signer, first_seq, &mut fates, &mut stop)?;
    }
    report(context, &asset, scale, first_seq, &prepared, &fates, stop)
}

/// Signs row `i` with seq `first_seq + i` and sends the rows in batches, each after the one
/// before it committed; stops at the first row not admitted. Returns each row's fate and why
/// the run stopped early, if it did.
fn send_rows(
    client: &NodeClient,
    key: &SecretKey,
    submit: &SubmitArgs,
    prepared: &[Prepared],
    first_seq: u64,
) -> anyhow::Result<(Vec<Fate>, Option<String>)> {
    let signer = key.public_key();
    let seq_of = |index: usize| first_seq + index as u64;
    let mut fates: Vec<Fate> = prepared.iter().map(|_| Fate::NotSent).collect();
    for (batch, rows) in prepared.chunks(TX_SUBMIT_BATCH_MAX).enumerate() {
        let start = batch * TX_SUBMIT_BATCH_MAX;
        // The mempool holds at most TX_SUBMIT_BATCH_MAX seqs ahead of the committed one.
        if start > 0 && !wait_for_seq(client, &signer, seq_of(start - 1), BATCH_COMMIT_WAIT_MS)? {
            let stop = format!(
                "seq {} did not commit within {BATCH_COMMIT_WAIT_MS} ms; the rows from line {} on were not sent",
                seq_of(start - 1),
                rows[0].row.line
            );
            return Ok((fates, Some(stop)));
        }
        let status = client.status().context("reading the node's status")?;
        let valid_until = txbuild::valid_until(status.committed_height, submit.valid_for);
        let mut txs = Vec::with_capacity(rows.len());
        for (offset, row) in rows.iter().enumerate() {
            let seq = seq_of(start + offset);
            let signed =
                txbuild::build_signed(key, &status.chain_id, seq, valid_until, vec![row.op.clone()], b"")
                    .map_err(|error| usage(format!("line {}: {error}", row.row.line)))?;
            txs.push(signed);
        }
        let results = client.submit_batch(&txs);
        for (offset, result) in results.into_iter().enumerate() {
            fates[start + offset] = match result {
                Ok(id) => Fate::Admitted(id),
                Err(error) => Fate::Refused(error),
            };
        }
        let batch_fates = &fates[start..start + rows.len()];
        let first_refused = batch_fates.iter().enumerate().find_map(|(offset, fate)| match fate {
            Fate::Refused(error) => Some((offset, error)),
            _ => None,
        });
        if let Some((offset, error)) = first_refused {
            let (line, seq) = (rows[offset].row.line, seq_of(start + offset));
            let admitted_after =
                batch_fates[offset + 1..].iter().filter(|fate| matches!(fate, Fate::Admitted(_))).count();
            let stop = refusal_stop(error, line, seq, admitted_after);
            return Ok((fates, Some(stop)));
        }
    }
    Ok((fates, None))
}

/// Why the run stops at row `line` (seq `seq`), which was not admitted for `error`.
fn refusal_stop(error: &BatchTxError, line: usize, seq: u64, admitted_after: usize) -> String {
    match error {
        BatchTxError::Refused { .. } => format!(
            "line {line} (seq {seq}) was refused: {error}; {admitted_after} admitted row(s) after it wait for seq \
             {seq} (they expire after --valid-for blocks unless it is filled); later rows were not sent"
        ),
        BatchTxError::RequestFailed { status: None, .. } => format!(
            "sending the rows from line {line} (seq {seq}) on failed: {error}; the node may have \
             admitted some of them (see `tally tx status`); later rows were not sent"
        ),
        _ => format!(
            "the node admitted none of the rows from line {line} (seq {seq}) on: {error}; \
             later rows were not sent"
        ),
    }
}

/// `--wait`: once the last committable row's seq is committed, reads each admitted row's
/// receipt; if it does not commit in time and the run had not stopped, that is why it stops.
fn read_receipts(
    client: &NodeClient,
    signer: &PublicKey,
    first_seq: u64,
    fates: &mut [Fate],
    stop: &mut Option<String>,
) -> anyhow::Result<()> {
    // The admitted rows before the first one that was not: only they can commit.
    let committable = fates.iter().take_while(|fate| matches!(fate, Fate::Admitted(_))).count();
    if committable == 0 {
        return Ok(());
    }
    let last = first_seq + (committable - 1) as u64;
    if wait_for_seq(client, signer, last, BATCH_COMMIT_WAIT_MS)? {
        for fate in fates.iter_mut().take(committable) {
            let Fate::Admitted(id) = fate else { continue };
            if let Some(inclusion) = client.tx(id)? {
                *fate =
                    Fate::Committed { id: *id, height: inclusion.height, outcome: inclusion.receipt.outcome };
            }
        }
    } else if stop.is_none() {
        *stop = Some(format!("seq {last} did not commit within {BATCH_COMMIT_WAIT_MS} ms"));
    }
    Ok(())
}

/// Prints one line (or JSON entry) per row, then fails (exit 1) unless every row was admitted
/// and, with `--wait`, committed successfully.
fn report(
    context: &Session,
    asset: &AssetId,
    scale: u8,
    first_seq: u64,
    prepared: &[Prepared],
    fates: &[Fate],
    stop: Option<String>,
) -> anyhow::Result<()> {
    let (mut admitted, mut refused, mut not_sent, mut failed) = (0usize, 0usize, 0usize, 0usize);
    let mut entries = Vec::with_capacity(prepared.len());
    let mut lines = Vec::with_capacity(prepared.len());
    for (index, (row, fate)) in prepared.iter().zip(fates).enumerate() {
        match fate {
            Fate::NotSent => not_sent += 1,
            Fate::Refused(_) => refused += 1,
            Fate::Admitted(_) => admitted += 1,
            Fate::Committed { outcome, .. } => {
                admitted += 1;
                if *outcome != TxOutcome::Success {
                    failed += 1;
                }
            }
        }
        let (entry, line) = row_report(asset, scale, first_seq + index as u64, row, fate)?;
        entries.push(entry);
        lines.push(line);
    }
    let value = json!({
        "asset": asset,
        "first_seq": first_seq,
        "rows": entries,
        "admitted": admitted,
        "refused": refused,
        "not_sent": not_sent,
        "failed": failed,
        "stopped": stop,
    });
    context.print(value, || {
        for line in &lines {
            println!("{line}");
        }
        println!("{admitted} admitted, {refused} refused, {not_sent} not sent, {failed} failed");
    });
    if let Some(reason) = stop {
        bail!("{reason}");
    }
    if failed > 0 {
        bail!("{failed} grant(s) committed but failed in the ledger (see each row)");
    }
    Ok(())
}

/// Row `row`'s JSON entry and its line of human output, given its `fate`.
fn row_report(
    asset: &AssetId,
    scale: u8,
    seq: u64,
    row: &Prepared,
    fate: &Fate,
) -> anyhow::Result<(serde_json::Value, String)> {
    let mut entry = json!({
        "line": row.row.line,
        "to": row.to.to_address(),
        "amount": row.amount.display(scale),
        "amount_minor": row.amount,
        "grant_id": row.grant_id,
        "seq": seq,
    });
    let head = format!(
        "line {:>5}  seq {seq}  {} {asset} to {}  grant {}",
        row.row.line,
        row.amount.display(scale),
        row.to.to_address(),
        row.grant_id
    );
    let tail = match fate {
        Fate::NotSent => {
            entry["status"] = json!("not-sent");
            "not sent".to_owned()
        }
        Fate::Refused(error) => {
            entry["status"] = json!("refused");
            entry["error"] = json!(error.to_string());
            format!("refused: {error}")
        }
        Fate::Admitted(id) => {
            entry["status"] = json!("admitted");
            entry["tx_id"] = json!(id);
            format!("admitted {id}")
        }
        Fate::Committed { id, height, outcome } => {
            entry["tx_id"] = json!(id);
            entry["height"] = json!(height);
            match outcome {
                TxOutcome::Success => {
                    entry["status"] = json!("committed");
                    format!("committed {id} at height {height}")
                }
                TxOutcome::Failed { code, .. } => {
                    let slug = serde_json::to_value(code)?.as_str().unwrap_or("unknown").to_owned();
                    entry["status"] = json!("failed");
                    entry["error"] = json!(slug);
                    format!(
                        "committed {id} at height {height} but failed: {} ({slug})",
                        crate::submit::describe(*code)
                    )
                }
            }
        }
    };
    Ok((entry, format!("{head}  {tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "0c6e1e0b5c2a4b0f9d3e7a1b2c3d4e5f";
    const ID_B: &str = "11111111111111111111111111111111";

    fn lines_of(errors: &[RowError]) -> Vec<usize> {
        errors.iter().map(|error| error.line).collect()
    }

    #[test]
    fn good_files_in_every_header_form() {
        let full = format!(
            "to,amount,kind,reason,grant_id,external_ref\r\n\
             dev1,100,reward,client-library,{ID_A},lib-tally-py\r\n\
             dev2,25.50,purchase,,,order-1\r\n\
             dev3,1,promo,,{ID_B},\r\n"
        );
        let rows = parse_grants_csv(&full).expect("valid");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            GrantRow {
                line: 2,
                to: "dev1".into(),
                amount: "100".into(),
                kind: GrantKind::Reward,
                reason: Some(RewardReason::ClientLibrary),
                grant_id: Some(ID_A.parse().expect("id")),
                external_ref: "lib-tally-py".into(),
            }
        );
        assert_eq!((rows[1].line, rows[1].grant_id, rows[1].external_ref.as_str()), (3, None, "order-1"));
        assert_eq!((rows[2].kind, rows[2].external_ref.as_str()), (GrantKind::Promo, ""));

        let four = "to,amount,kind,reason\ndev1,2,reward,other:wrote the docs\ndev2,3,promo,";
        let rows = parse_grants_csv(four).expect("valid");
        assert_eq!(rows.len(), 2);
        assert!(
            matches!(&rows[0].reason, Some(RewardReason::Other(text)) if text.as_str() == "wrote the docs")
        );
        assert_eq!((rows[1].grant_id.as_ref(), rows[1].external_ref.as_str()), (None, ""));

        let five = format!("to,amount,kind,reason,grant_id\ndev1,0.000000000000000001,promo,,{ID_B}\n");
        assert_eq!(parse_grants_csv(&five).expect("valid")[0].grant_id, Some(ID_B.parse().expect("id")));
    }

    #[test]
    fn every_bad_row_is_named_by_line() {
        let text = format!(
            "to,amount,kind,reason,grant_id,external_ref\n\
             dev1,100,reward,client-library,{ID_A},ok\n\
             dev2,0,purchase,,,\n\
             dev3,-5,purchase,,,\n\
             dev4,abc,purchase,,,\n\
             dev5,10,gift,,,\n\
             dev6,10,reward,,,\n\
             dev7,10,promo,forum-support,,\n\
             dev8,10,reward,bribery,,\n\
             dev9,10,purchase,,nothex,\n\
             dev10,10,purchase,,{ID_A},\n\
             ,10,purchase,,,\n\
             dev12,10,purchase,,\n\
             dev13,10,purchase,,,\"quoted\"\n\
             dev14,10,purchase,,,{long}\n\
             dev15,1.0000000000000000001,purchase,,,\n",
            long = "r".repeat(129)
        );
        let errors = parse_grants_csv(&text).expect_err("bad rows");
        assert_eq!(lines_of(&errors), (3..=16).collect::<Vec<_>>(), "{errors:#?}");
        let expect = [
            (3, "greater than zero"),
            (4, "negative"),
            (5, "not a decimal number"),
            (6, "grant kind `gift`"),
            (7, "a reward grant needs a reason"),
            (8, "only reward grants take a reason"),
            (9, "reason `bribery`"),
            (10, "grant_id"),
            (11, "repeats line 2"),
            (12, "`to` is empty"),
            (13, "5 fields; the header has 6"),
            (14, "quoting is not supported"),
            (15, "external_ref is 129 bytes; the limit is 128"),
            (16, "decimal places"),
        ];
        for (error, (line, needle)) in errors.iter().zip(expect) {
            assert_eq!(error.line, line);
            assert!(error.message.contains(needle), "line {line}: `{}` lacks `{needle}`", error.message);
            assert!(error.to_string().starts_with(&format!("line {line}: ")));
        }
    }

    #[test]
    fn bad_headers_blank_lines_and_empty_files() {
        for header in [
            "",
            "to,amount,kind",
            "to,amount,kind,reason,external_ref",
            "amount,to,kind,reason",
            "to,amount,kind,reason,grant_id,external_ref,memo",
        ] {
            let errors = parse_grants_csv(&format!("{header}\ndev1,1,promo,\n")).expect_err(header);
            assert_eq!(lines_of(&errors), [1], "{header}");
            assert!(errors[0].message.contains("the header must be"), "{header}");
        }
        let errors = parse_grants_csv("to,amount,kind,reason\n").expect_err("no rows");
        assert!(errors[0].message.contains("no grants"));
        let errors =
            parse_grants_csv("to,amount,kind,reason\ndev1,1,promo,\n\ndev2,1,promo,\n").expect_err("blank");
        assert_eq!(lines_of(&errors), [3]);
        assert!(errors[0].message.contains("blank line"));
        // A blank last line is fine.
        assert_eq!(parse_grants_csv("to,amount,kind,reason\ndev1,1,promo,\n").map(|rows| rows.len()), Ok(1));
    }

    #[test]
    fn amounts_too_large_for_18_decimals_are_left_to_the_scale_check() {
        // 10^22 overflows u128 at 18 decimals but fits at scale 2.
        let text = "to,amount,kind,reason\ndev1,10000000000000000000000,promo,\n";
        let rows = parse_grants_csv(text).expect("syntax is fine");
        assert!(txbuild::parse_positive_amount(&rows[0].amount, 2).is_ok());
    }

    #[test]
    fn a_full_batch_of_the_largest_grants_fits_the_nodes_default_body_limit() {
        // The longest asset id, reason and reference; a 64-byte chain id.
        let asset: AssetId = format!("{}@{}", "A".repeat(12), "m".repeat(32)).parse().expect("asset");
        let details = GrantDetails {
            grant_id: OpId([1; 16]),
            kind: GrantKind::Reward,
            reason: Some(txbuild::parse_reward_reason(&format!("other:{}", "r".repeat(64))).expect("reason")),
            external_ref: "e".repeat(tally_types::limits::GRANT_EXTERNAL_REF_BYTES_MAX),
            pack: None,
        };
        let key = SecretKey::from_seed(&[3; 32]);
        let op = txbuild::grant_op(asset.clone(), key.public_key(), Amount(u128::MAX), details.clone())
            .expect("op");
        let chain = tally_types::ChainId::new("c".repeat(64)).expect("chain id");
        let tx = txbuild::build_signed(&key, &chain, u64::MAX, tally_types::Height(u64::MAX), vec![op], b"")
            .expect("signed");
        let size = tally_types::encode(&tx).len();
        // The size `limits::TX_SUBMIT_BATCH_MAX` and `ApiLimits::body_bytes_max` document.
        assert_eq!(size, 509);
        // Borsh, as `submit_batch` sends it, and JSON hex (`{"tx":"…"},` per transaction).
        let borsh = 4 + TX_SUBMIT_BATCH_MAX * size;
        let json = 2 + TX_SUBMIT_BATCH_MAX * (2 * size + 10);
        assert!(borsh <= tally_client::http::SUBMIT_BATCH_BYTES_MAX, "{borsh}");
        assert!(json <= 1024 * 1024, "{json}");
        // A purchase naming the longest pack of the longest plan id is larger: borsh still fits.
        let pack = tally_types::tx::PackRef {
            plan: format!("{}@{}", "p".repeat(tally_types::limits::PLAN_ID_BYTES_MAX), u32::MAX)
                .parse()
                .expect("plan"),
            pack: tally_types::ItemName::new("k".repeat(tally_types::limits::ITEM_NAME_BYTES_MAX))
                .expect("pack"),
        };
        let details = GrantDetails { kind: GrantKind::Purchase, reason: None, pack: Some(pack), ..details };
        let op = txbuild::grant_op(asset, key.public_key(), Amount(u128::MAX), details).expect("op");
        let tx = txbuild::build_signed(&key, &chain, u64::MAX, tally_types::Height(u64::MAX), vec![op], b"")
            .expect("signed");
        let size = tally_types::encode(&tx).len();
        assert_eq!(size, 548);
        assert!(4 + TX_SUBMIT_BATCH_MAX * size <= tally_client::http::SUBMIT_BATCH_BYTES_MAX);
    }

    #[test]
    fn too_many_rows_is_refused() {
        let mut text = String::from("to,amount,kind,reason\n");
        for _ in 0..=GRANT_ROWS_MAX {
            text.push_str("dev1,1,promo,\n");
        }
        let errors = parse_grants_csv(&text).expect_err("too many");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, GRANT_ROWS_MAX + 2);
        assert!(errors[0].message.contains("split the file"));
    }
}
