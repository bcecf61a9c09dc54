//! `tally-node check --data DIR`: scrubs a stopped node's store and reports every bad record,
//! not only the first (docs/ARCHITECTURE.md "Storage", integrity at rest).
//!
//! Per height from 1 to the committed tip: the block, its certificate and its receipts against
//! the checksums written with them and against what the chain committed to (the block's id
//! in `block_ids`, its tx root, the receipts root, the certificate finalizing it or a
//! descendant), the link to the block before, and every transaction's place in the tx index.
//! Then the tip: its id is the one `meta` names, and the state tree's root is the tip header's
//! state root. It reads the store only; a node must not be running on it (redb refuses two
//! openers, and says so).

use std::path::Path;

use anyhow::Context;
use tally_store::{Store, StoreError, TxLocation};
use tally_types::{BlockId, Height, SignedTransaction};

/// What a scrub found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// The committed height the store names.
    pub height: u64,
    /// Heights read.
    pub checked: u64,
    /// Every problem found, each naming its record.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// At most this many problems are listed; past it the scrub stops (a store this damaged is
/// restored or re-synced, not read further).
pub const PROBLEMS_MAX: usize = 1_000;

/// Scrubs the store `node.redb` in `data_dir`.
pub fn check_data_dir(data_dir: &Path) -> anyhow::Result<CheckReport> {
    let path = data_dir.join("node.redb");
    let (store, _) = Store::open_existing(&path).with_context(|| format!("opening {}", path.display()))?;
    check_store(&store)
}

/// Scrubs `store` (see the module's description).
pub fn check_store(store: &Store) -> anyhow::Result<CheckReport> {
    let tip = store.height()?;
    let mut report = CheckReport { height: tip.0, ..CheckReport::default() };
    let mut previous: Option<BlockId> = None;
    for height in (1..=tip.0).map(Height) {
        if report.problems.len() >= PROBLEMS_MAX {
            break;
        }
        report.checked += 1;
        previous = check_height(store, height, tip, previous, &mut report);
    }
    check_tip(store, tip, &mut report)?;
    Ok(report)
}

impl CheckReport {
    /// Adds `text` unless it is there already (the certificate's and receipts' checks read the
    /// block too: a bad block is listed once).
    fn add(&mut self, text: String) {
        if !self.problems.contains(&text) {
            self.problems.push(text);
        }
    }
}

/// Checks the records of `height`, whose parent should be `previous`; returns the block's id
/// if the block could be read.
fn check_height(
    store: &Store,
    height: Height,
    tip: Height,
    previous: Option<BlockId>,
    report: &mut CheckReport,
) -> Option<BlockId> {
    let block = match store.block(height) {
        Ok(Some(block)) => Some(block),
        Ok(None) => {
            report.add(format!("height {height}: no block, though the committed height is {tip}"));
            None
        }
        Err(error) => {
            report.add(described(error));
            None
        }
    };
    match store.certificate(height) {
        Ok(Some(_)) => {}
        Ok(None) => report.add(format!("height {height}: no certificate")),
        Err(error) => report.add(described(error)),
    }
    match store.receipts(height) {
        Ok(Some(receipts)) => {
            if let Some(block) = &block
                && receipts.len() != block.txs.len()
            {
                report.add(format!(
                    "height {height}: {} receipts for {} transactions",
                    receipts.len(),
                    block.txs.len()
                ));
            }
        }
        Ok(None) => report.add(format!("height {height}: no receipts")),
        Err(error) => report.add(described(error)),
    }
    let block = block?;
    if previous.is_some_and(|parent| block.header.parent_id != parent) {
        report.add(format!("height {height}: its parent is not the block at height {}", height.0 - 1));
    }
    for (index, tx) in block.txs.iter().enumerate() {
        let expected = TxLocation { height, index: index as u32 };
        match store.tx_location(&SignedTransaction::id(tx)) {
            Ok(Some(found)) if found == expected => {}
            Ok(found) => {
                report.add(format!("height {height}: the tx index places transaction {index} at {found:?}"))
            }
            Err(error) => report.add(described(error)),
        }
    }
    Some(block.id())
}

/// The tip's block is the last one `meta` names, and the state tree's root is its state root.
fn check_tip(store: &Store, tip: Height, report: &mut CheckReport) -> anyhow::Result<()> {
    if tip.0 == 0 {
        return Ok(());
    }
    let Ok(Some(block)) = store.block(tip) else { return Ok(()) }; // reported above
    let snapshot = store.snapshot()?;
    match tally_ledger::tree::root(&snapshot) {
        Ok(root) if root == block.header.state_root => {}
        Ok(root) => report.problems.push(format!(
            "state: the tree's root {root} is not the state root {} of the block at the tip ({tip})",
            block.header.state_root
        )),
        Err(error) => report.problems.push(format!("state: the tree's root cannot be read: {error}")),
    }
    Ok(())
}

/// A store error as one line of the report.
fn described(error: StoreError) -> String {
    match error {
        StoreError::Corrupt { table, key, reason, .. } => format!("{table} {key}: {reason}"),
        other => other.to_string(),
    }
}
