//! `tally-node import`: fills an empty data directory from a chain archive (`tally-node export`,
//! `tally-bench archive`), so that a node starts on a long chain without syncing it from
//! validators (an explorer or an auditor's copy; the explorer's time-to-first-render
//! measurement, `scripts/explorer-ttfr.sh`). Nothing in the archive is trusted: every block is
//! checked as sync checks a range (header links and rules against the genesis validator set,
//! transaction signatures, finalization certificates against that set, its certificate naming
//! it or a later block of the archive) and executed, and its state and receipts roots must be
//! those its header claims; the blocks are committed with their certificates in groups, the
//! explorer's indexes with them, as the engine commits them.
//!
//! The archive's chain must keep its genesis validator set: a chain whose validators changed
//! by governance is refused at the first block of the new epoch (its header names another set).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail, ensure};
use tally_genesis::Genesis;
use tally_types::archive::{ArchiveReader, ArchiveRecord};
use tally_types::{Block, BlockId, Certificate, Height, ParentLink, Subject, ValidatorSet};

use crate::config::NodeConfig;
use crate::engine::executor::{Executed, execute_checked};
use crate::engine::startup::{open_store, store_path, store_tip};
use crate::engine::store_group;

/// Blocks executed on top of each other before one commit.
const IMPORT_GROUP_BLOCKS: usize = 256;

/// What an import committed.
#[derive(Debug)]
pub struct ImportSummary {
    pub blocks: u64,
    pub txs: u64,
    pub height: Height,
}

/// The checks of one archive record before it is executed: the header follows `parent`, the
/// transactions' signatures hold, and the certificate is a finalization by the validator set.
fn check_record(
    genesis: &Genesis,
    validators: &ValidatorSet,
    parent: &ParentLink,
    record: &ArchiveRecord,
) -> anyhow::Result<BlockId> {
    let block = &record.block;
    let height = block.header.height;
    block
        .header
        .check_child_of(parent, genesis.chain_id(), &validators.hash())
        .map_err(|error| anyhow!("block {height} does not follow block {}: {error}", parent.height))?;
    for (index, result) in tally_types::tx::check_batch(block.txs.as_slice()).into_iter().enumerate() {
        result.map_err(|error| anyhow!("block {height}, transaction {index}: {error}"))?;
    }
    record
        .certificate
        .verify(genesis.chain_id(), validators)
        .map_err(|error| anyhow!("the certificate stored with block {height} does not verify: {error}"))?;
    match record.certificate.subject {
        Subject::Finalize { block_id, .. } => Ok(block_id),
        _ => bail!("the certificate stored with block {height} is not a finalization"),
    }
}

/// Imports the archive at `archive` into the empty data directory of `config`.
pub fn import_archive(config: &NodeConfig, archive: &Path) -> anyhow::Result<ImportSummary> {
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("reading the genesis file {}", config.genesis.display()))?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = open_store(&store_path(config), &genesis)?;
    let held = store.height()?;
    ensure!(
        held == Height(0),
        "the data directory already holds blocks up to {held}: import into an empty one"
    );
    let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let reader = ArchiveReader::new(BufReader::with_capacity(1 << 20, file))?;
    let header = reader.header();
    ensure!(
        header.chain_id == *genesis.chain_id() && header.genesis_hash == genesis.hash(),
        "the archive is of chain {} (genesis {}), the genesis file of {} ({})",
        header.chain_id,
        header.genesis_hash,
        genesis.chain_id(),
        genesis.hash()
    );
    let validators = genesis.validator_set();
    let tip = store_tip(&store, &genesis)?;
    let mut parent = ParentLink { id: tip.id, height: tip.height, time_ms: tip.time_ms };
    // A certificate may name a later block (a descendant's finalization): it must come.
    let mut awaited: Option<BlockId> = None;
    let mut group: Vec<(Block, Certificate, Arc<Executed>)> = Vec::new();
    let mut summary = ImportSummary { blocks: 0, txs: 0, height: tip.height };
    for record in reader {
        let record = record?;
        let finalized = check_record(&genesis, &validators, &parent, &record)?;
        let id = record.block.id();
        if awaited == Some(id) || finalized == id {
            awaited = None;
        }
        if finalized != id {
            awaited.get_or_insert(finalized);
        }
        let layers: Vec<Arc<Executed>> = group.iter().map(|(_, _, executed)| Arc::clone(executed)).collect();
        let executed = execute_checked(&store, &layers, &record.block)?;
        parent = ParentLink { id, height: record.block.header.height, time_ms: record.block.header.time_ms };
        summary.blocks += 1;
        summary.txs += record.block.txs.len() as u64;
        summary.height = parent.height;
        group.push((record.block, record.certificate, Arc::new(executed)));
        if group.len() == IMPORT_GROUP_BLOCKS {
            store_group(&store, &group)?;
            group.clear();
        }
        if summary.blocks.is_multiple_of(10_000) {
            tracing::info!(height = summary.height.0, txs = summary.txs, "importing");
        }
    }
    if let Some(id) = awaited {
        bail!("the archive ends before block {id}, which finalizes its last blocks");
    }
    store_group(&store, &group)?;
    Ok(summary)
}
