//! The arithmetic of the `tally-bench` load generator, kept apart from its I/O so it can be
//! tested: the open-loop send schedule, latency percentiles, the one-line summary, the body of
//! a borsh batch submission and the reading of its per-transaction answers, CPU time from
//! `/proc/<pid>/stat`, and the transaction log (`--tx-log`) with the windows around a change
//! of the consortium that `tally-bench windows` reads from it (`scripts/reconfig-bench.sh`).
//!
//! Times are offsets from the start of the load (`Duration`), so the logic never reads a clock.
//! The summary reports; it never judges a figure good or bad.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The most transactions in one batch submission (`POST /v1/txs` with a borsh
/// `Vec<SignedTransaction>`), the API's documented limit (`limits::TX_SUBMIT_BATCH_MAX`).
pub const SUBMIT_BATCH_TXS_MAX: usize = tally_types::limits::TX_SUBMIT_BATCH_MAX;
/// The largest batch body sent: half the node's default HTTP body limit (1 MiB), so that a
/// batch of 1,000 transfers (~200 KB) goes whole and one of large funding transactions (16
/// ops, ~1 KB each) is split instead of refused with 413.
pub const SUBMIT_BATCH_BYTES_MAX: usize = 512 * 1024;

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat`. Linux reports them in
/// `USER_HZ`, which is 100 on every architecture Tally builds for (x86-64, arm64); reading
/// `sysconf(_SC_CLK_TCK)` would need `libc` for one constant.
pub const PROC_CLOCK_TICKS_PER_SECOND: u64 = 100;

/// What became of one transaction's submission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Answer {
    /// Not sent, or sent and not answered yet.
    #[default]
    Pending,
    /// The node admitted it to its mempool.
    Accepted,
    /// The node answered and did not admit it (the reason is counted apart).
    Refused,
    /// The request failed without an answer: a dropped connection, a timeout, a garbled
    /// response. The node may or may not have admitted it.
    Dropped,
}

/// What the generator saw of one pre-signed transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxRecord {
    /// When its request was written to a node, if it was sent at all.
    pub submitted: Option<Duration>,
    /// When the generator saw it in a committed block.
    pub committed: Option<Duration>,
    pub answer: Answer,
    /// The account that signed it. A sender's records are in sequence order.
    pub sender: u32,
}

/// The result line of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Committed transactions per second, from the first submission to the last commit seen.
    pub committed_tps: u64,
    /// Median submit → commit latency in milliseconds (0 when nothing committed).
    pub p50_ms: u64,
    /// 99th percentile submit → commit latency in milliseconds (0 when nothing committed).
    pub p99_ms: u64,
    /// Sent to a node.
    pub submitted: u64,
    /// Seen in a committed block.
    pub committed: u64,
    /// Admitted by a node but never seen committed, with every lower sequence number of its
    /// sender accepted: what a user would call lost.
    pub lost: u64,
    /// Admitted and never seen committed behind a lower sequence number of the same sender that
    /// was refused, dropped or never sent: it cannot commit (the generator does not resend in
    /// the load), and waits in the mempool until it expires. Not lost: the open loop stranded it.
    pub stranded: u64,
    /// Never sent: the generator fell so far behind its schedule that the send window closed.
    pub late: u64,
    /// Sent without an answer (dropped connection, timeout).
    pub dropped: u64,
    /// Answered with a refusal (mempool full, busy, sequence conflict, ...).
    pub refused: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed_tps={} p50_ms={} p99_ms={} submitted={} committed={} lost={} stranded={} late={} dropped={} refused={}",
            self.committed_tps,
            self.p50_ms,
            self.p99_ms,
            self.submitted,
            self.committed,
            self.lost,
            self.stranded,
            self.late,
            self.dropped,
            self.refused
        )
    }
}

/// When the open-loop schedule sends transaction `index` at `rate_per_second`: evenly spaced,
/// whatever the answers to earlier ones. `rate_per_second` must be at least 1.
pub fn send_offset(index: u64, rate_per_second: u64) -> Duration {
    debug_assert!(rate_per_second > 0, "the command line refuses a zero rate");
    let nanos = u128::from(index) * 1_000_000_000 / u128::from(rate_per_second.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// How many transactions of the schedule at `rate_per_second` are due `elapsed` after its
/// start: those whose [`send_offset`] is at most `elapsed`.
pub fn due_count(elapsed: Duration, rate_per_second: u64) -> u64 {
    // send_offset(i) = floor(i × 10⁹ / rate) ≤ t  ⇔  i × 10⁹ < (t + 1) × rate.
    let bound = (elapsed.as_nanos() + 1) * u128::from(rate_per_second.max(1));
    u64::try_from(bound.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// The nearest-rank percentile (`percent` in 0..=100) of `sorted` (ascending), or `None` when
/// it is empty. Nearest-rank always returns an observed value, never an interpolation.
pub fn percentile(sorted: &[Duration], percent: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let percent = u64::from(percent.min(100));
    let count = sorted.len() as u64;
    // rank = ceil(percent/100 × count), at least 1.
    let rank = (percent * count).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).unwrap_or(usize::MAX)).copied()
}

/// Sums up a run. A commit seen "before" its submission (the block was fetched while the
/// response was in flight) counts as zero latency rather than wrapping around. A record never
/// sent is `late`.
pub fn summarize(records: &[TxRecord]) -> Summary {
    let mut latencies = Vec::new();
    let mut submitted = 0u64;
    let mut late = 0u64;
    let mut lost = 0u64;
    let mut stranded = 0u64;
    let mut dropped = 0u64;
    let mut refused = 0u64;
    let mut first_submit: Option<Duration> = None;
    let mut last_commit: Option<Duration> = None;
    // Senders with a sequence number that did not reach the mempool (or commit anyway).
    let mut gapped: HashSet<u32> = HashSet::new();
    for record in records {
        let Some(submit) = record.submitted else {
            late += 1;
            gapped.insert(record.sender);
            continue;
        };
        submitted += 1;
        first_submit = Some(first_submit.map_or(submit, |first| first.min(submit)));
        match record.answer {
            Answer::Accepted if record.committed.is_none() => {
                if gapped.contains(&record.sender) {
                    stranded += 1;
                } else {
                    lost += 1;
                }
            }
            Answer::Dropped => dropped += 1,
            Answer::Refused => refused += 1,
            Answer::Accepted | Answer::Pending => {}
        }
        if record.committed.is_none() && matches!(record.answer, Answer::Dropped | Answer::Refused) {
            gapped.insert(record.sender);
        }
        if let Some(commit) = record.committed {
            latencies.push(commit.saturating_sub(submit));
            last_commit = Some(last_commit.map_or(commit, |last| last.max(commit)));
        }
    }
    latencies.sort_unstable();
    let committed = latencies.len() as u64;
    let committed_tps = match (first_submit, last_commit) {
        (Some(first), Some(last)) if last > first => {
            (committed as f64 / (last - first).as_secs_f64()).round() as u64
        }
        _ => 0,
    };
    let millis = |latency: Option<Duration>| latency.map_or(0, |latency| latency.as_millis() as u64);
    Summary {
        committed_tps,
        p50_ms: millis(percentile(&latencies, 50)),
        p99_ms: millis(percentile(&latencies, 99)),
        submitted,
        committed,
        lost,
        stranded,
        late,
        dropped,
        refused,
    }
}

/// The body of a batch submission: the borsh encoding of a `Vec<SignedTransaction>` (a
/// little-endian `u32` count, then each transaction's own encoding), built from transactions
/// encoded once, before the load, so that sending costs a copy and no re-encoding.
pub fn batch_body<'a>(encoded_txs: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let count = u32::try_from(encoded_txs.len()).expect("a batch holds at most SUBMIT_BATCH_TXS_MAX");
    let mut body = Vec::with_capacity(4 + encoded_txs.len() * 256);
    body.extend_from_slice(&count.to_le_bytes());
    for tx in encoded_txs {
        body.extend_from_slice(tx);
    }
    body
}

/// Splits a run of transactions of the given encoded sizes into consecutive batches of at most
/// `count_max` transactions and `bytes_max` body bytes (a transaction larger than that goes
/// alone); returns the batch lengths.
pub fn batch_lengths(
    sizes: impl IntoIterator<Item = usize>,
    count_max: usize,
    bytes_max: usize,
) -> Vec<usize> {
    let mut lengths = Vec::new();
    // A borsh vector starts with its 4-byte count.
    let (mut count, mut bytes) = (0usize, 4usize);
    for size in sizes {
        if count > 0 && (count == count_max || bytes + size > bytes_max) {
            lengths.push(count);
            (count, bytes) = (0, 4);
        }
        count += 1;
        bytes += size;
    }
    if count > 0 {
        lengths.push(count);
    }
    lengths
}

/// A node's answer about one transaction of a submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxAnswer {
    /// Admitted to the mempool.
    Accepted,
    /// Already there (or already committed): as good as accepted for a retry.
    Duplicate,
    /// Refused for now (mempool full, node busy): worth sending again later.
    Busy(String),
    /// Refused for good; the text says why.
    Refused(String),
}

/// Reads the answer to one submission from its HTTP status and body. A single transaction
/// (`expected == 1`, JSON form) is answered by the status: 202 admitted, 409 `duplicate`,
/// 503 busy, anything else refused. A batch is answered 200 with one result per transaction, in
/// order, either as a JSON array or under a `results` field; each result is admitted when it
/// carries a `tx_id` and no sign of a problem (`error`, `type`, a non-2xx `status`, `ok: false`).
/// The shape is read leniently so that small changes to the answer's wording do not turn every
/// admitted transaction into a refusal.
pub fn read_submit_answer(status: u16, body: &[u8], expected: usize) -> Result<Vec<TxAnswer>, String> {
    let text = || String::from_utf8_lossy(body).chars().take(300).collect::<String>();
    if (200..300).contains(&status) {
        let value: Option<Value> = serde_json::from_slice(body).ok();
        let results = match &value {
            Some(Value::Array(results)) => Some(results),
            Some(Value::Object(fields)) => match fields.get("results") {
                Some(Value::Array(results)) => Some(results),
                _ => None,
            },
            _ => None,
        };
        match results {
            Some(results) if results.len() == expected => {
                return Ok(results.iter().map(read_one_result).collect());
            }
            Some(results) => return Err(format!("{} results for {expected} transactions", results.len())),
            // 202 with one `tx_id`: the answer to a single transaction.
            None if status == 202 => {}
            None => return Err(format!("answer without per-transaction results ({status}): {}", text())),
        }
    }
    // One answer for the whole request: it applies to every transaction in it.
    let answer = match status {
        202 => TxAnswer::Accepted,
        409 if body_kind(body).as_deref() == Some("duplicate") => TxAnswer::Duplicate,
        429 | 503 => TxAnswer::Busy(format!("{status} {}", text())),
        _ => TxAnswer::Refused(format!("{status} {}", text())),
    };
    Ok(vec![answer; expected])
}

/// The problem kind of an RFC 9457-style answer (`"type"` or `"kind"`), if any.
fn body_kind(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    problem_kind(&value)
}

fn problem_kind(value: &Value) -> Option<String> {
    let kind = value.get("kind").or_else(|| value.get("type")).or_else(|| value.get("error"))?;
    match kind {
        // `urn:tally:problem:duplicate` or `https://.../duplicate`: the last segment.
        Value::String(text) => Some(text.rsplit([':', '/']).next().unwrap_or(text).to_owned()),
        Value::Object(_) => problem_kind(kind),
        _ => None,
    }
}

fn read_one_result(result: &Value) -> TxAnswer {
    let describe = || result.to_string().chars().take(300).collect::<String>();
    match result {
        // A bare tx id.
        Value::String(_) => TxAnswer::Accepted,
        Value::Object(fields) => {
            let status = fields.get("status").and_then(Value::as_u64);
            let failed = fields.contains_key("error")
                || fields.contains_key("type")
                || fields.contains_key("kind")
                || fields.get("ok") == Some(&Value::Bool(false))
                || status.is_some_and(|status| !(200..300).contains(&status))
                || fields
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|status| !["accepted", "admitted", "ok", "pending"].contains(&status));
            if !failed && fields.contains_key("tx_id") {
                return TxAnswer::Accepted;
            }
            match problem_kind(result).as_deref() {
                Some("duplicate") => TxAnswer::Duplicate,
                Some("mempool-full" | "busy") => TxAnswer::Busy(describe()),
                _ if status == Some(503) || status == Some(429) => TxAnswer::Busy(describe()),
                _ => TxAnswer::Refused(describe()),
            }
        }
        _ => TxAnswer::Refused(describe()),
    }
}

/// CPU time in clock ticks from the text of `/proc/<pid>/stat`: user + system time of the
/// process (all its threads), plus that of its waited-for children when `with_children`
/// (PostgreSQL's backends are children of the postmaster). `None` if the text does not parse.
pub fn proc_stat_cpu_ticks(stat: &str, with_children: bool) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
    // the fields that follow start after the last `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14..=17.
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    let own = field(14)? + field(15)?;
    if with_children { Some(own + field(16)? + field(17)?) } else { Some(own) }
}

/// CPU seconds from clock ticks of `/proc/<pid>/stat`.
pub fn ticks_to_seconds(ticks: u64) -> f64 {
    ticks as f64 / PROC_CLOCK_TICKS_PER_SECOND as f64
}

/// The first line of a transaction log: what the two kinds of lines hold.
pub const TX_LOG_HEADER: &str = "# tally-bench tx-log v1: `block HEIGHT EPOCH TIME_MS TXS` per committed block, \
     `tx HEIGHT SUBMIT_UNIX_MS LATENCY_MS` per committed transfer of the load";

/// One line of the transaction log that `tally-bench --tx-log` writes while the load runs, in
/// the order the generator reads the blocks: a block's line, then those of the generator's
/// transfers in it. Times are Unix milliseconds of this machine's clock (the nodes run on it
/// too), so that a script can cut the run into windows by the wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLine {
    /// A committed block: its height, its epoch (from its header's view), its header's time
    /// (stamped by its proposer) and how many transactions it holds (of anyone).
    Block { height: u64, epoch: u64, time_ms: u64, txs: u64 },
    /// A transfer of the load committed at `height`: when its request was written to a node
    /// and how long after that the generator saw its block.
    Tx { height: u64, submit_unix_ms: u64, latency_ms: u64 },
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogLine::Block { height, epoch, time_ms, txs } => {
                write!(f, "block {height} {epoch} {time_ms} {txs}")
            }
            LogLine::Tx { height, submit_unix_ms, latency_ms } => {
                write!(f, "tx {height} {submit_unix_ms} {latency_ms}")
            }
        }
    }
}

impl LogLine {
    /// Reads one line as [`fmt::Display`] writes it; `None` for a comment (`#`) or a blank line.
    pub fn parse(line: &str) -> Result<Option<LogLine>, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let mut words = line.split_whitespace();
        let kind = words.next().unwrap_or_default();
        let numbers: Vec<u64> = words
            .map(|word| word.parse::<u64>().map_err(|_| format!("`{word}` is not a whole number")))
            .collect::<Result<_, _>>()?;
        match (kind, numbers.as_slice()) {
            ("block", &[height, epoch, time_ms, txs]) => {
                Ok(Some(LogLine::Block { height, epoch, time_ms, txs }))
            }
            ("tx", &[height, submit_unix_ms, latency_ms]) => {
                Ok(Some(LogLine::Tx { height, submit_unix_ms, latency_ms }))
            }
            ("block", _) => Err("a block line has 4 numbers: HEIGHT EPOCH TIME_MS TXS".to_owned()),
            ("tx", _) => Err("a tx line has 3 numbers: HEIGHT SUBMIT_UNIX_MS LATENCY_MS".to_owned()),
            _ => Err(format!("unknown line kind `{kind}` (block or tx)")),
        }
    }
}

/// A transaction log read back: blocks by height, transfers by submit time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxLog {
    /// Height → (epoch, header time in Unix ms).
    pub blocks: BTreeMap<u64, (u64, u64)>,
    /// (submit time in Unix ms, latency), ascending.
    pub txs: Vec<(u64, Duration)>,
}

impl TxLog {
    /// Reads a whole log; an error names the line (1-based) that does not read.
    pub fn parse(text: &str) -> Result<TxLog, String> {
        let mut log = TxLog::default();
        for (index, line) in text.lines().enumerate() {
            match LogLine::parse(line).map_err(|error| format!("line {}: {error}", index + 1))? {
                Some(LogLine::Block { height, epoch, time_ms, .. }) => {
                    log.blocks.insert(height, (epoch, time_ms));
                }
                Some(LogLine::Tx { submit_unix_ms, latency_ms, .. }) => {
                    log.txs.push((submit_unix_ms, Duration::from_millis(latency_ms)));
                }
                None => {}
            }
        }
        log.txs.sort_unstable();
        Ok(log)
    }
}

/// A change the consortium voted through during the load, as the script saw it: its name,
/// when the proposal was submitted, and the first height of the epoch it made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeMark {
    pub name: String,
    pub proposed_unix_ms: u64,
    pub epoch_start: u64,
}

impl std::str::FromStr for ChangeMark {
    type Err = String;

    /// `NAME:PROPOSED_UNIX_MS:EPOCH_START`, e.g. `join:1764815000000:1234`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(':').collect();
        let [name, proposed, start] = parts.as_slice() else {
            return Err(format!("`{text}` is not NAME:PROPOSED_UNIX_MS:EPOCH_START"));
        };
        let number = |word: &str, what: &str| {
            word.parse::<u64>().map_err(|_| format!("`{text}`: {what} `{word}` is not a whole number"))
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("`{text}`: the name must be one word"));
        }
        Ok(ChangeMark {
            name: (*name).to_owned(),
            proposed_unix_ms: number(proposed, "the proposal time")?,
            epoch_start: number(start, "the epoch's first height")?,
        })
    }
}

/// A span of wall-clock time, `[start_ms, end_ms)` in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// What the chain and the load did in one window: blocks whose header time falls in it, and
/// the latencies of the load's transfers submitted in it (and committed; the log holds no
/// others).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowStats {
    pub window: Window,
    pub blocks: u64,
    pub txs: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

impl WindowStats {
    pub fn seconds(&self) -> f64 {
        self.window.end_ms.saturating_sub(self.window.start_ms) as f64 / 1_000.0
    }

    pub fn blocks_per_second(&self) -> f64 {
        let seconds = self.seconds();
        if seconds > 0.0 { self.blocks as f64 / seconds } else { 0.0 }
    }

    /// Counts what `log` holds in `window`.
    pub fn of(log: &TxLog, window: Window) -> WindowStats {
        let in_window = |time_ms: u64| (window.start_ms..window.end_ms).contains(&time_ms);
        let blocks = log.blocks.values().filter(|(_, time_ms)| in_window(*time_ms)).count() as u64;
        // `txs` is sorted by submit time: the window is one contiguous run of it.
        let first = log.txs.partition_point(|(submit, _)| *submit < window.start_ms);
        let end = log.txs.partition_point(|(submit, _)| *submit < window.end_ms);
        let mut latencies: Vec<Duration> = log.txs[first..end].iter().map(|(_, latency)| *latency).collect();
        latencies.sort_unstable();
        let millis = |latency: Option<Duration>| latency.map_or(0, |latency| latency.as_millis() as u64);
        WindowStats {
            window,
            blocks,
            txs: latencies.len() as u64,
            p50_ms: millis(percentile(&latencies, 50)),
            p99_ms: millis(percentile(&latencies, 99)),
        }
    }
}

/// The three windows around one change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangeReport {
    /// The epoch the change made, and its first height.
    pub epoch: u64,
    pub epoch_start: u64,
    /// The `window_ms` before the proposal was submitted: the baseline.
    pub before: WindowStats,
    /// From the proposal's submission (the votes, the two blocks to the new epoch, its first
    /// block) to the header time of the epoch's block `settle_blocks` after its first: by then
    /// the first block had committed and a few more had been built on it.
    pub at: WindowStats,
    /// The `window_ms` from the header time of the new epoch's first block.
    pub after: WindowStats,
}

impl ChangeReport {
    /// Cuts `log` into the windows of `mark`. Fails, naming why, when the log does not cover
    /// them (it starts too late or ends too early) or when `mark.epoch_start` is not the first
    /// block of an epoch in it.
    pub fn of(log: &TxLog, mark: &ChangeMark, window_ms: u64, settle_blocks: u64) -> Result<Self, String> {
        let start = mark.epoch_start;
        let block = |height: u64| {
            log.blocks.get(&height).copied().ok_or_else(|| {
                let last = log.blocks.keys().last().map_or_else(|| "none".to_owned(), u64::to_string);
                format!("{}: the log has no block {height} (its last is {last})", mark.name)
            })
        };
        let (epoch, start_time_ms) = block(start)?;
        // Block `start - 1` is in the log whenever the `before` window is: the proposal came
        // before the epoch's first block.
        let (previous_epoch, _) = block(start.saturating_sub(1))?;
        if previous_epoch >= epoch {
            return Err(format!(
                "{}: block {start} is in epoch {epoch} and block {} in epoch {previous_epoch}: \
                 {start} does not start an epoch",
                mark.name,
                start - 1
            ));
        }
        let (_, settled_time_ms) = block(start + settle_blocks)?;
        let before = Window {
            start_ms: mark.proposed_unix_ms.saturating_sub(window_ms),
            end_ms: mark.proposed_unix_ms,
        };
        let at =
            Window { start_ms: mark.proposed_unix_ms, end_ms: settled_time_ms.max(mark.proposed_unix_ms) };
        let after = Window { start_ms: start_time_ms, end_ms: start_time_ms + window_ms };
        let first_time = log.blocks.values().map(|(_, time_ms)| *time_ms).min().unwrap_or(u64::MAX);
        let last_time = log.blocks.values().map(|(_, time_ms)| *time_ms).max().unwrap_or(0);
        if first_time > before.start_ms {
            return Err(format!(
                "{}: the log's first block ({first_time}) is after the `before` window starts ({})",
                mark.name, before.start_ms
            ));
        }
        if last_time < after.end_ms {
            return Err(format!(
                "{}: the log's last block ({last_time}) is before the `after` window ends ({})",
                mark.name, after.end_ms
            ));
        }
        Ok(ChangeReport {
            epoch,
            epoch_start: start,
            before: WindowStats::of(log, before),
            at: WindowStats::of(log, at),
            after: WindowStats::of(log, after),
        })
    }
}

impl fmt::Display for ChangeReport {
    /// `epoch=E start_height=S at_s=X`, then for each window `W_blocks_per_s=X W_p50_ms=N
    /// W_p99_ms=N W_txs=N` (W: before, at, after).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch={} start_height={} at_s={:.1}", self.epoch, self.epoch_start, self.at.seconds())?;
        for (name, stats) in [("before", &self.before), ("at", &self.at), ("after", &self.after)] {
            write!(
                f,
                " {name}_blocks_per_s={:.2} {name}_p50_ms={} {name}_p99_ms={} {name}_txs={}",
                stats.blocks_per_second(),
                stats.p50_ms,
                stats.p99_ms,
                stats.txs
            )?;
        }
        Ok(())
    }
}

/// A small, fast, seedable generator (SplitMix64) for choosing receivers and deriving throwaway
/// sender keys. Not for secrets that matter: bench accounts hold a few test credits on a local
/// network, and a seeded run is reproducible.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` ≥ 1); the modulo bias is negligible for the small bounds
    /// used here.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// 32 bytes, e.g. a key seed.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50), Some(ms(50)));
        assert_eq!(percentile(&sorted, 99), Some(ms(99)));
        assert_eq!(percentile(&sorted, 100), Some(ms(100)));
        assert_eq!(percentile(&sorted, 0), Some(ms(1)));
        assert_eq!(percentile(&[ms(7)], 99), Some(ms(7)));
        // Three values: p50 is the 2nd (ceil 1.5), p99 the 3rd.
        assert_eq!(percentile(&[ms(1), ms(2), ms(30)], 50), Some(ms(2)));
        assert_eq!(percentile(&[ms(1), ms(2), ms(30)], 99), Some(ms(30)));
        assert_eq!(percentile(&[], 50), None);
    }

    fn sent(at: u64, committed: Option<u64>, answer: Answer) -> TxRecord {
        TxRecord { submitted: Some(ms(at)), committed: committed.map(ms), answer, sender: 0 }
    }

    fn by(sender: u32, record: TxRecord) -> TxRecord {
        TxRecord { sender, ..record }
    }

    #[test]
    fn an_admitted_transaction_behind_a_refused_seq_is_stranded_not_lost() {
        let records = [
            // Sender 1: seq 0 refused, so seq 1 (admitted) can never commit.
            by(1, sent(0, None, Answer::Refused)),
            by(2, sent(0, Some(50), Answer::Accepted)),
            by(1, sent(10, None, Answer::Accepted)),
            // Sender 2: all its seqs went in; an uncommitted one is lost.
            by(2, sent(10, None, Answer::Accepted)),
            // Sender 3: a dropped request that committed anyway leaves no gap.
            by(3, sent(0, Some(40), Answer::Dropped)),
            by(3, sent(10, None, Answer::Accepted)),
            // Sender 4: a seq never sent strands the next.
            by(4, TxRecord::default()),
            by(4, sent(20, None, Answer::Accepted)),
        ];
        let summary = summarize(&records);
        assert_eq!((summary.lost, summary.stranded), (2, 2), "{summary}");
        assert!(summary.to_string().contains(" lost=2 stranded=2 "), "{summary}");
    }

    #[test]
    fn summary_counts_lost_late_dropped_and_measures_submit_to_commit() {
        let records = [
            // Never sent (late), by a sender of its own.
            by(9, TxRecord::default()),
            // Sent at 0 s, 1 s, 2 s; committed 100, 200 and 400 ms later.
            sent(0, Some(100), Answer::Accepted),
            sent(1_000, Some(1_200), Answer::Accepted),
            sent(2_000, Some(2_400), Answer::Accepted),
            // Admitted and never committed: lost.
            sent(3_000, None, Answer::Accepted),
            // Seen in a block before its response came back: zero latency, not a wrap-around.
            sent(1_900, Some(1_850), Answer::Pending),
            // No answer, yet committed: counts as committed and as dropped, never as lost.
            sent(2_100, Some(2_300), Answer::Dropped),
            // No answer and never committed; refused: neither is lost.
            sent(2_200, None, Answer::Dropped),
            sent(2_300, None, Answer::Refused),
        ];
        let summary = summarize(&records);
        assert_eq!(summary.submitted, 8);
        assert_eq!(summary.committed, 5);
        assert_eq!(summary.lost, 1);
        assert_eq!(summary.late, 1);
        assert_eq!(summary.dropped, 2);
        assert_eq!(summary.refused, 1);
        // Latencies 0, 100, 200, 200, 400 ms: p50 is the 3rd, p99 the 5th.
        assert_eq!(summary.p50_ms, 200);
        assert_eq!(summary.p99_ms, 400);
        // 5 commits from the first submission (0 s) to the last commit (2.4 s): 2.08/s → 2.
        assert_eq!(summary.committed_tps, 2);
        assert_eq!(
            summary.to_string(),
            "committed_tps=2 p50_ms=200 p99_ms=400 submitted=8 committed=5 lost=1 stranded=0 late=1 dropped=2 refused=1"
        );
    }

    #[test]
    fn nothing_committed_reports_zeros() {
        let records = [sent(5, None, Answer::Accepted)];
        let summary = summarize(&records);
        assert_eq!(
            summary,
            Summary {
                committed_tps: 0,
                p50_ms: 0,
                p99_ms: 0,
                submitted: 1,
                committed: 0,
                lost: 1,
                stranded: 0,
                late: 0,
                dropped: 0,
                refused: 0
            }
        );
        assert_eq!(summarize(&[]).submitted, 0);
    }

    #[test]
    fn batch_body_is_the_borsh_encoding_of_the_vector() {
        let txs: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9]];
        let body = batch_body(txs.iter().map(Vec::as_slice));
        assert_eq!(body, [3, 0, 0, 0, 1, 2, 3, 9]);
        assert_eq!(batch_body(std::iter::empty()), [0, 0, 0, 0]);
    }

    #[test]
    fn single_answers_are_read_from_the_status() {
        assert_eq!(read_submit_answer(202, br#"{"tx_id":"ab"}"#, 1), Ok(vec![TxAnswer::Accepted]));
        let duplicate = br#"{"type":"urn:tally:problem:duplicate","title":"Already submitted","status":409}"#;
        assert_eq!(read_submit_answer(409, duplicate, 1), Ok(vec![TxAnswer::Duplicate]));
        let seq = br#"{"type":"seq","title":"Sequence conflict","status":409}"#;
        assert!(matches!(read_submit_answer(409, seq, 1).expect("readable")[0], TxAnswer::Refused(_)));
        assert!(matches!(read_submit_answer(503, b"{}", 1).expect("readable")[0], TxAnswer::Busy(_)));
        // An old node answers a borsh batch with 400 for every transaction in it.
        let answers = read_submit_answer(400, b"{\"type\":\"malformed-json\"}", 3).expect("readable");
        assert_eq!(answers.len(), 3);
        assert!(answers.iter().all(|answer| matches!(answer, TxAnswer::Refused(_))));
    }

    #[test]
    fn batch_body_decodes_as_a_vector_of_signed_transactions() {
        use tally_types::codec::{BoundedBytes, BoundedVec};
        use tally_types::tx::{Op, Transaction, Transfer};
        use tally_types::{Amount, AssetId, ChainId, Height, SecretKey, SignedTransaction, encode};
        let key = SecretKey::from_seed(&[7; 32]);
        let txs: Vec<SignedTransaction> = (1..=3)
            .map(|seq| {
                Transaction {
                    chain_id: ChainId::new("tally-bench").expect("valid"),
                    signer: key.public_key(),
                    seq,
                    valid_until_height: Height(100),
                    ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                        asset: "ACME@acme".parse::<AssetId>().expect("valid"),
                        to: SecretKey::from_seed(&[8; 32]).public_key(),
                        amount: Amount(1),
                    })])
                    .expect("one op"),
                    memo: BoundedBytes::empty(),
                }
                .sign(&key)
            })
            .collect();
        let encoded: Vec<Vec<u8>> = txs.iter().map(encode).collect();
        assert_eq!(batch_body(encoded.iter().map(Vec::as_slice)), encode(&txs));
    }

    #[test]
    fn batches_split_by_count_and_bytes() {
        assert_eq!(batch_lengths([100; 2_500], 1_000, 1 << 20), [1_000, 1_000, 500]);
        // 4 + 3 × 300 = 904 bytes fit 1,000; a fourth would not.
        assert_eq!(batch_lengths([300; 7], 1_000, 1_000), [3, 3, 1]);
        // Too large for any batch: alone.
        assert_eq!(batch_lengths([10, 5_000, 10], 1_000, 1_000), [1, 1, 1]);
        assert!(batch_lengths([], 1_000, 1_000).is_empty());
    }

    #[test]
    fn batch_answers_as_the_node_writes_them() {
        // The node's form: totals, then one result per transaction: `{"status": 202, "tx_id"}`
        // or a problem document with the transaction's id.
        let body = br#"{"accepted":1,"refused":3,"results":[
            {"status":202,"tx_id":"aa"},
            {"status":409,"type":"urn:tally:problem:duplicate","title":"Already submitted","detail":"d","tx_id":"bb"},
            {"status":503,"type":"urn:tally:problem:mempool-full","title":"Mempool full","detail":"d","tx_id":"cc"},
            {"status":409,"type":"urn:tally:problem:seq","title":"Sequence conflict","detail":"d","tx_id":"dd"}
        ]}"#;
        let answers = read_submit_answer(200, body, 4).expect("readable");
        assert_eq!(answers[0], TxAnswer::Accepted);
        assert_eq!(answers[1], TxAnswer::Duplicate);
        assert!(matches!(answers[2], TxAnswer::Busy(_)));
        assert!(matches!(answers[3], TxAnswer::Refused(_)));
    }

    #[test]
    fn batch_answers_are_read_per_transaction_in_order() {
        let body = br#"{"results":[
            {"tx_id":"aa"},
            {"error":{"type":"duplicate","title":"Already submitted"},"tx_id":"bb"},
            {"status":503,"type":"mempool-full"},
            {"status":409,"type":"seq","detail":"stale"},
            "cc",
            {"tx_id":"dd","status":"accepted"},
            {"ok":false,"error":"expired"}
        ]}"#;
        let answers = read_submit_answer(200, body, 7).expect("readable");
        assert_eq!(answers[0], TxAnswer::Accepted);
        assert_eq!(answers[1], TxAnswer::Duplicate);
        assert!(matches!(answers[2], TxAnswer::Busy(_)));
        assert!(matches!(answers[3], TxAnswer::Refused(_)));
        assert_eq!(answers[4], TxAnswer::Accepted);
        assert_eq!(answers[5], TxAnswer::Accepted);
        assert!(matches!(answers[6], TxAnswer::Refused(_)));
        // A bare array works too; a count that does not match is an error, not a guess.
        assert_eq!(read_submit_answer(200, br#"[{"tx_id":"aa"}]"#, 1), Ok(vec![TxAnswer::Accepted]));
        assert!(read_submit_answer(200, br#"[{"tx_id":"aa"}]"#, 2).is_err());
        assert!(read_submit_answer(200, b"not json", 1).is_err());
    }

    #[test]
    fn cpu_ticks_from_proc_stat() {
        // A command name with a space and a parenthesis; utime 1234, stime 56, cutime 7, cstime 8.
        let stat = "4242 (tally node) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 56 7 8 20 0 9 0 100 0 0";
        assert_eq!(proc_stat_cpu_ticks(stat, false), Some(1_290));
        assert_eq!(proc_stat_cpu_ticks(stat, true), Some(1_305));
        let odd = "7 (a) b) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14";
        assert_eq!(proc_stat_cpu_ticks(odd, false), Some(11 + 12));
        assert_eq!(proc_stat_cpu_ticks("garbage", false), None);
        assert_eq!(ticks_to_seconds(250), 2.5);
    }

    #[test]
    fn schedule_is_evenly_spaced() {
        assert_eq!(send_offset(0, 500), Duration::ZERO);
        assert_eq!(send_offset(1, 500), ms(2));
        assert_eq!(send_offset(500, 500), ms(1_000));
        assert_eq!(send_offset(1, 3), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn due_count_agrees_with_the_schedule() {
        assert_eq!(due_count(Duration::ZERO, 500), 1);
        assert_eq!(due_count(ms(2), 500), 2);
        assert_eq!(due_count(ms(1_000), 500), 501);
        for rate in [1, 3, 7, 300, 500, 999] {
            for elapsed in [0, 1, 333, 334, 1_000, 2_345, 10_001].map(ms) {
                let due = due_count(elapsed, rate);
                assert!(send_offset(due - 1, rate) <= elapsed, "rate {rate}, {elapsed:?}");
                assert!(send_offset(due, rate) > elapsed, "rate {rate}, {elapsed:?}");
            }
        }
    }

    #[test]
    fn tx_log_lines_are_written_and_read_back() {
        let block = LogLine::Block { height: 1_234, epoch: 2, time_ms: 1_764_815_000_123, txs: 57 };
        let tx = LogLine::Tx { height: 1_234, submit_unix_ms: 1_764_815_000_001, latency_ms: 412 };
        // The format scripts read: fixed words and order, one space between fields.
        assert_eq!(block.to_string(), "block 1234 2 1764815000123 57");
        assert_eq!(tx.to_string(), "tx 1234 1764815000001 412");
        assert_eq!(LogLine::parse(&block.to_string()), Ok(Some(block)));
        assert_eq!(LogLine::parse(&tx.to_string()), Ok(Some(tx)));
        assert_eq!(LogLine::parse(TX_LOG_HEADER), Ok(None));
        assert_eq!(LogLine::parse("  "), Ok(None));
        assert!(LogLine::parse("tx 1 2").expect_err("short").contains("3 numbers"));
        assert!(LogLine::parse("block 1 2 3 x").expect_err("not a number").contains("`x`"));
        assert!(LogLine::parse("vote 1").expect_err("unknown").contains("`vote`"));
        let error = TxLog::parse("block 1 0 10 0\ntx 1 5\n").expect_err("bad second line");
        assert!(error.starts_with("line 2:"), "{error}");
    }

    #[test]
    fn change_marks_read_name_time_and_start() {
        let mark: ChangeMark = "join:1764815000000:1234".parse().expect("valid");
        assert_eq!(
            mark,
            ChangeMark { name: "join".to_owned(), proposed_unix_ms: 1_764_815_000_000, epoch_start: 1_234 }
        );
        assert!("join:1764815000000".parse::<ChangeMark>().is_err());
        assert!("join:soon:1234".parse::<ChangeMark>().expect_err("time").contains("`soon`"));
        assert!(":1:2".parse::<ChangeMark>().is_err());
    }

    /// A log of blocks 1..=40 every 500 ms from t = 10,000 ms, epoch 1 from block 21, and one
    /// transfer submitted every 100 ms from t = 10,000 whose latency is 300 ms, or 2,000 ms
    /// when submitted in [19,000, 21,000) (the change).
    fn change_log() -> String {
        let mut text = format!("{TX_LOG_HEADER}\n");
        for height in 1..=40u64 {
            let epoch = u64::from(height >= 21);
            text.push_str(&format!(
                "{}\n",
                LogLine::Block { height, epoch, time_ms: 9_500 + 500 * height, txs: 5 }
            ));
        }
        for k in 0..300u64 {
            let submit_unix_ms = 10_000 + 100 * k;
            let latency_ms = if (19_000..21_000).contains(&submit_unix_ms) { 2_000 } else { 300 };
            text.push_str(&format!("{}\n", LogLine::Tx { height: 1, submit_unix_ms, latency_ms }));
        }
        text
    }

    #[test]
    fn a_change_is_cut_into_before_at_and_after() {
        let log = TxLog::parse(&change_log()).expect("readable");
        // Proposed at 19,000; block 21 (epoch 1) has time 20,000; block 23 has 21,000.
        let mark = ChangeMark { name: "params".to_owned(), proposed_unix_ms: 19_000, epoch_start: 21 };
        let report = ChangeReport::of(&log, &mark, 5_000, 2).expect("covered");
        assert_eq!((report.epoch, report.epoch_start), (1, 21));
        // Before: [14,000, 19,000): blocks 9..=18 (times 14,000..18,500), 50 transfers.
        assert_eq!(report.before.window, Window { start_ms: 14_000, end_ms: 19_000 });
        assert_eq!((report.before.blocks, report.before.txs), (10, 50));
        assert_eq!((report.before.p50_ms, report.before.p99_ms), (300, 300));
        // At: [19,000, 21,000): blocks 19..=22, the 20 slow transfers.
        assert_eq!(report.at.window, Window { start_ms: 19_000, end_ms: 21_000 });
        assert_eq!((report.at.blocks, report.at.txs, report.at.p99_ms), (4, 20, 2_000));
        // After: [20,000, 25,000): blocks 21..=30; 10 slow transfers of 50, so p50 is fast and
        // p99 slow.
        assert_eq!((report.after.blocks, report.after.txs), (10, 50));
        assert_eq!((report.after.p50_ms, report.after.p99_ms), (300, 2_000));
        assert_eq!(report.after.blocks_per_second(), 2.0);
        assert_eq!(
            report.to_string(),
            "epoch=1 start_height=21 at_s=2.0 \
             before_blocks_per_s=2.00 before_p50_ms=300 before_p99_ms=300 before_txs=50 \
             at_blocks_per_s=2.00 at_p50_ms=2000 at_p99_ms=2000 at_txs=20 \
             after_blocks_per_s=2.00 after_p50_ms=300 after_p99_ms=2000 after_txs=50"
        );
    }

    #[test]
    fn a_change_the_log_does_not_cover_is_refused_by_name() {
        let log = TxLog::parse(&change_log()).expect("readable");
        let mark = |proposed_unix_ms, epoch_start| ChangeMark {
            name: "join".to_owned(),
            proposed_unix_ms,
            epoch_start,
        };
        // Block 22 does not start an epoch.
        let error = ChangeReport::of(&log, &mark(19_000, 22), 5_000, 2).expect_err("not a start");
        assert!(error.contains("22 does not start an epoch"), "{error}");
        // The `before` window starts before the first block (10,000).
        let error = ChangeReport::of(&log, &mark(12_000, 21), 5_000, 2).expect_err("too early");
        assert!(error.contains("first block"), "{error}");
        // The `after` window ends after the last block (29,500).
        let error = ChangeReport::of(&log, &mark(20_000, 21), 10_000, 2).expect_err("too late");
        assert!(error.contains("last block"), "{error}");
        // Block 21 + 30 is not in the log.
        let error = ChangeReport::of(&log, &mark(19_000, 21), 5_000, 30).expect_err("no block 51");
        assert!(error.contains("no block 51"), "{error}");
    }

    #[test]
    fn splitmix_is_deterministic_and_bounded() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.bytes32(), b.bytes32());
        assert!((0..1_000).all(|_| a.below(10) < 10));
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }
}
