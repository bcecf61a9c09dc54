//! The recorded history: one JSON object a line, written as the run goes (`history.jsonl`), so
//! a crashed harness still leaves what happened up to the crash.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a client learned about one submitted transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Committed: its receipt was read back (at `height`).
    Ok,
    /// A definite error: the node did not admit it.
    Refused,
    /// Timeout or lost connection: it may or may not commit.
    Unknown,
}

/// The kinds of operation the workload submits (one op a transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Grant,
    Transfer,
    Burn,
    Order,
    Cancel,
    Authorize,
    Hold,
    Settle,
}

/// One submitted transaction and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub client: usize,
    pub node: usize,
    pub kind: OpKind,
    pub tx_id: String,
    pub signer: String,
    pub seq: u64,
    pub valid_until: u64,
    /// The asset moved (`CODE@member`) and the amount in minor units, where the op has them.
    pub asset: String,
    pub amount: u128,
    pub outcome: Outcome,
    /// The committed height, for `ok`.
    pub height: Option<u64>,
    /// Whether the receipt said success, for `ok`.
    pub success: Option<bool>,
    pub error: Option<String>,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A client's read of its own account at one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRecord {
    pub client: usize,
    pub node: usize,
    pub account: String,
    /// The committed height the node answered at.
    pub height: u64,
    /// The account's last used seq at that height.
    pub seq: u64,
    pub at_ms: u64,
}

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub name: String,
    pub detail: String,
    pub start_ms: u64,
    pub heal_ms: u64,
    /// Milliseconds from the heal to the first block committed after it (none: never within
    /// the wait).
    pub resume_ms: Option<u64>,
    /// Milliseconds from the heal until every node had reached the height of that block.
    pub caught_up_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Tx(TxRecord),
    Read(ReadRecord),
    Fault(FaultRecord),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Appends events to the history file, one line each, flushed at once; shared by the threads.
#[derive(Clone)]
pub struct HistoryWriter {
    file: Arc<Mutex<File>>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl HistoryWriter {
    pub fn create(path: &Path) -> Result<Self, String> {
        let file = File::create(path).map_err(|error| format!("create {}: {error}", path.display()))?;
        Ok(HistoryWriter { file: Arc::new(Mutex::new(file)), events: Arc::new(Mutex::new(Vec::new())) })
    }

    pub fn record(&self, event: Event) {
        let mut line = serde_json::to_string(&event).expect("history events serialize");
        line.push('\n');
        {
            let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A history that cannot be written is a broken run: say so loudly.
            if let Err(error) = file.write_all(line.as_bytes()) {
                panic!("writing the history failed: {error}");
            }
        }
        self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(event);
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// Reads a history file back (for `tally-chaos check`).
pub fn read_history(path: &Path) -> Result<Vec<Event>, String> {
    let file = File::open(path).map_err(|error| format!("open {}: {error}", path.display()))?;
    let mut events = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|error| format!("read {}: {error}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(&line)
            .map_err(|error| format!("{} line {}: {error}", path.display(), number + 1))?;
        events.push(event);
    }
    Ok(events)
}
