//! Durable storage for a Tally node: blocks with their certificates, receipts, ledger state,
//! state-tree nodes and indexes in one redb file (`node.redb`, [`Store`]), and the consensus
//! write-ahead log in another (`wal.redb`, [`Wal`]). (The sign state, the last message the
//! validator signed, is not here: it lives beside the consensus key, `node/src/sign_state.rs`,
//! so that losing this directory does not lose it.)
//!
//! # Design note
//!
//! **Files and tables** (all keys and values are canonical borsh or fixed-width big-endian
//! integers). Two files, because redb allows one writer per database: with the WAL in its own
//! file the consensus driver's append (a vote, before it is sent) never waits behind the
//! storage writer's commit of a group of blocks, and each has its own fsync.
//!
//! | file | table | key | value |
//! |---|---|---|---|
//! | node.redb | `meta` | name | schema version, chain id, genesis hash, committed height, last block id, id of the WAL file beside it |
//! | node.redb | `blocks` | height (u64) | encoded [`Block`] |
//! | node.redb | `certificates` | height | encoded finalization [`Certificate`] that made the block final |
//! | node.redb | `receipts` | height | encoded receipts of the block, in tx order |
//! | node.redb | `block_ids` | block id | height |
//! | node.redb | `txs` | tx id | (height, index in block) |
//! | node.redb | `state` | ledger state key bytes | ledger state value bytes |
//! | node.redb | `tree` | state-tree node key bytes | node bytes |
//! | node.redb | `epoch_proofs` | number of an epoch after 0 | [`EpochProof`]: height of the previous epoch's last block, the epochs entry after it and its proof (the tree keeps one version, so this is recorded when that block commits) |
//! | node.redb | `account_postings`, `account_txs`, `market_fills`, `figures`, `badge_revocations` | — | the explorer's indexes, written with each block; see [`index`] |
//! | node.redb | `evidence` | view (u64 BE) ‖ blake3 of the record | equivocation evidence (opaque; the node's borsh `Evidence`), once per record. Created at open like every table; no schema bump, because a build without it ignores the table and loses nothing but the serving |
//! | node.redb | `wal`, `guard` | — | where the WAL lived before it had a file of its own; emptied by [`Wal::take_over_from`], still served by `Store::wal_*` until the engine switches |
//! | wal.redb | `wal_meta` | name | WAL schema version, next sequence number, "took over node.redb's WAL" mark, this WAL file's id |
//! | wal.redb | `wal` | sequence number (u64) | one consensus WAL entry (opaque to this crate) |
//! | wal.redb | `guard` | name | legacy: only records moved from an old node.redb; never written (the sign state lives beside the key) |
//!
//! **Invariants.** The committed height in `meta` equals the highest key in `blocks`; every
//! block at or below it has its certificate, receipts, id and tx index entries; `state` and
//! `tree` are exactly the state after that block. [`Store::commit_blocks`] writes all of that
//! for a group of consecutive blocks in one write transaction with `Durability::Immediate` (one
//! fsync for the group; [`Store::commit_block`] is a group of one), so after it returns the
//! blocks are on disk, and a crash at any instant leaves the state before the group or after
//! it — never part of a group, never part of a block. Heights only grow by one. WAL sequence
//! numbers only grow, even across a full prune and the move out of node.redb.
//!
//! **Crash cases.**
//! - During a commit or an append: the file reopens at its previous commit (redb's copy-on-write
//!   B-trees and double-buffered commit slots with checksums; at open after a crash redb checks
//!   the newest slot and falls back to the other). A commit whose writes all landed before the
//!   power went may also survive though its call never returned: a caller must treat an error
//!   as "maybe written" and read back after restart. tests/crash_sim.rs cuts the power at every
//!   write and every fsync of a workload and checks both files hold exactly what was
//!   acknowledged, or that plus the whole operation in flight.
//! - Between the two files: node.redb and wal.redb are made durable independently; neither
//!   refers to the other, so any combination of their states is consistent. (A WAL entry may
//!   name a block not yet committed, as it always could.)
//! - Between the WAL append and the network send: the consensus layer's concern; the append
//!   is durable before [`Wal::append`] returns, so the host may send only after it.
//! - During the WAL's move out of node.redb: copy durably (with the took-over mark) first,
//!   delete from node.redb second; a crash between them is finished at the next open.
//! - During the very first creation of a file: [`Store::open`] and [`Wal::open`] build a new
//!   file under `<name>.creating` and rename it into place, so no half-made file is left.
//!
//! **What it assumes of the disk.** That `fsync` (which redb calls on every immediate commit)
//! means the data is durable, and that a write cut by a power failure is detected by redb's
//! checksums. The simulated disk ([`sim_disk::SimDisk`]) models exactly that: writes since the
//! last fsync survive a crash as a prefix in issue order, the last possibly torn (a real disk may
//! also reorder them; redb's checksums are what guards against that, and the simulator does not
//! test it). A disk whose fsync lies loses acknowledged commits: the store then reopens at an
//! older commit (whole) or refuses to open; it cannot tell an older state from the current one
//! by itself, so such a node is faulty (its peers' certificates, not its disk, are the truth).
//! A file that is not a redb database, was written by another chain, or carries another schema
//! version is refused at open with a message naming the file; redb reports a corrupted file the
//! same way. A value that does not decode (bit rot that checksums missed, or a bug) is reported
//! as [`StoreError::Corrupt`] naming the table and key, never unwrapped.

pub mod index;
mod ledger;
pub mod sim_disk;
mod wal;

pub use ledger::{asset_ids, state_writes, tree_writes};
pub use wal::{WAL_FILE_NAME, WAL_SCHEMA_VERSION, Wal};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use tally_types::codec::{Bounded, decode, encode};
use tally_types::{Block, BlockId, Certificate, ChainId, Hash, Height, Receipt, Subject, TxId};

/// The schema this code writes and reads. Bumped on any change of table layout or encoding.
///
/// Version 2: the consensus WAL and sign guard live in [`WAL_FILE_NAME`] beside this file, and
/// `meta` names that WAL file's id. The tables are as in version 1 (whose `wal` and `guard`
/// tables [`Wal::open_beside`] empties); the bump exists so that a build that kept the WAL here,
/// finding those tables empty, refuses the file instead of voting as if it had never voted.
///
/// Version 3: the explorer's index tables ([`index`]) and `meta.index_from`. A version 2 file is
/// raised to 3 at open: its indexes cover blocks from the next height on (holder counts are
/// recounted from the state), and a version-2 build, which would commit blocks without
/// indexing them, refuses it from then on.
///
/// Version 4: account entries wait in `account_postings` until a commit merges them into
/// `account_txs` ([`index`]), and `meta.postings_pending` counts them. A version 3 file is
/// raised to 4 at open (it has nothing waiting); a version-3 build, which would read histories
/// from `account_txs` alone, refuses it from then on.
pub const SCHEMA_VERSION: u32 = 4;
/// The schema of files written before the WAL moved out; opening one upgrades it in place.
const SCHEMA_VERSION_WAL_INSIDE: u32 = 1;
/// The schema of files written before the explorer's indexes; opening one upgrades it in place.
const SCHEMA_VERSION_NO_INDEX: u32 = 2;
/// The schema of files whose account entries went straight into `account_txs`.
const SCHEMA_VERSION_NO_POSTINGS: u32 = 3;

/// True for the versions this build opens (raising the older ones).
fn schema_known(version: u32) -> bool {
    matches!(
        version,
        SCHEMA_VERSION | SCHEMA_VERSION_WAL_INSIDE | SCHEMA_VERSION_NO_INDEX | SCHEMA_VERSION_NO_POSTINGS
    )
}

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const BLOCK_IDS: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_ids");
const TXS: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("txs");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const TREE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tree");
const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
const GUARD: TableDefinition<&str, &[u8]> = TableDefinition::new("guard");
const EPOCH_PROOFS: TableDefinition<u64, &[u8]> = TableDefinition::new("epoch_proofs");
/// By height: the checksums of the stored bytes of the block, its certificate and its receipts
/// ([`RECORD_SUM_BYTES`] each, in [`Record`] order), written in the block's own commit and
/// checked by every read of them. redb checksums its commit slots, not every page: a flipped
/// byte in a page is otherwise read back as truth (a transaction signature, which no root in
/// the header covers, included). Heights committed before this table existed have none; their
/// blocks are still checked against their ids and roots.
const RECORD_SUMS: TableDefinition<u64, &[u8]> = TableDefinition::new("record_sums");
/// The first bytes of a blake3 hash: enough against flipped or torn bytes (this is not a
/// defence against someone who can write the file).
const RECORD_SUM_BYTES: usize = 16;

/// The records stored per height whose bytes [`RECORD_SUMS`] covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    Block = 0,
    Certificate = 1,
    Receipts = 2,
}

impl Record {
    const ALL: [Record; 3] = [Record::Block, Record::Certificate, Record::Receipts];

    fn table(self) -> TableDefinition<'static, u64, &'static [u8]> {
        match self {
            Record::Block => BLOCKS,
            Record::Certificate => CERTIFICATES,
            Record::Receipts => RECEIPTS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Record::Block => "blocks",
            Record::Certificate => "certificates",
            Record::Receipts => "receipts",
        }
    }
}

fn record_sum(bytes: &[u8]) -> [u8; RECORD_SUM_BYTES] {
    let mut sum = [0; RECORD_SUM_BYTES];
    sum.copy_from_slice(&blake3::hash(bytes).as_bytes()[..RECORD_SUM_BYTES]);
    sum
}
/// Equivocation evidence: (view, blake3 of the record) → the record (opaque to this crate).
const EVIDENCE: TableDefinition<&[u8; 40], &[u8]> = TableDefinition::new("evidence");

const META_SCHEMA: &str = "schema_version";
const META_CHAIN_ID: &str = "chain_id";
const META_GENESIS_HASH: &str = "genesis_hash";
const META_HEIGHT: &str = "height";
/// The id of the block at the committed height (the genesis hash before block 1).
const META_LAST_BLOCK_ID: &str = "last_block_id";
/// The next WAL sequence number; kept in meta so numbers never repeat, even after a full prune.
const META_WAL_NEXT: &str = "wal_next";
/// Present once the genesis state has been written.
const META_GENESIS_STATE: &str = "genesis_state";
/// The id of the WAL file this data file is used with (see [`Wal::open_beside`]).
const META_WAL_ID: &str = "wal_id";
/// The first height the explorer's indexes cover ([`Store::index_from`]).
const META_INDEX_FROM: &str = "index_from";
/// How many account entries wait in `account_postings` (absent: none).
const META_POSTINGS_PENDING: &str = "postings_pending";
/// The postings slice the next merge takes (absent: 0).
const META_POSTINGS_NEXT_SLICE: &str = "postings_next_slice";

/// Which chain a data file belongs to. A file of another chain is refused at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainIdentity {
    pub chain_id: ChainId,
    pub genesis_hash: Hash,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open data file {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("data file {path} is in use by another process (is a node already running on it?)")]
    InUse { path: PathBuf },
    #[error("data file {path} belongs to another chain: {field} is {found}, expected {expected}")]
    ForeignChain { path: PathBuf, field: &'static str, found: String, expected: String },
    #[error("data file {path} has schema version {found}; this build reads version {expected}")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("data file {path} is corrupt: {table} entry {key}: {reason}")]
    Corrupt { path: PathBuf, table: &'static str, key: String, reason: String },
    #[error("data file {path}: storage error: {reason}")]
    Storage { path: PathBuf, reason: String },
    #[error("block at height {got} cannot follow committed height {committed}")]
    OutOfOrder { committed: Height, got: Height },
    #[error("block at height {height} names parent {got}, but the committed block is {expected}")]
    ParentMismatch { height: Height, expected: BlockId, got: BlockId },
    #[error("data file {path} already holds the genesis state")]
    GenesisStateWritten { path: PathBuf },
    #[error("block at height {height} has {txs} transactions but {receipts} receipts")]
    ReceiptCount { height: Height, txs: usize, receipts: usize },
    #[error("more than {limit} {what}")]
    TooMany { what: &'static str, limit: usize },
    #[error(
        "WAL {wal} and data file {store} both hold consensus WAL records ({reason}); the node \
         refuses to start rather than risk a double vote"
    )]
    WalConflict { wal: PathBuf, store: PathBuf, reason: String },
    #[error(
        "the WAL file {wal} {reason}, but the data file {store} was used with one: this validator's \
         record of the votes it signed is gone, and starting would risk signing twice. Restore \
         the WAL file; if it is lost for good, delete the whole data directory and start the \
         node only after the network has finalized well past the last view in its log, so that \
         it syncs as a new node"
    )]
    WalMissing { wal: PathBuf, store: PathBuf, reason: &'static str },
}

/// One committed block and everything that changes with it, written atomically.
pub struct BlockCommit<'a> {
    pub block: &'a Block,
    /// The finalization certificate that made this block final (its own, or a descendant's).
    pub certificate: &'a Certificate,
    pub receipts: &'a [Receipt],
    /// Ledger state writes: `None` deletes the key.
    pub state_writes: &'a [(Vec<u8>, Option<Vec<u8>>)],
    /// State-tree node writes: `None` deletes the node.
    pub tree_writes: &'a [(Vec<u8>, Option<Vec<u8>>)],
}

/// The proof of the `Epochs` entry under the state root of the last block of an epoch, kept
/// because the state tree keeps only its latest version: in that state the next epoch is
/// scheduled from `height + 1`, so a client that trusts the epoch's set can learn the next one
/// from the block's header, its finalization and this proof.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct EpochProof {
    /// The last block of the epoch before.
    pub height: Height,
    /// The encoded `StateValue::Epochs` after that block.
    pub value: Vec<u8>,
    pub proof: tally_types::smt::SmtProof,
}

/// How long a commit took, for the node's metrics.
#[derive(Clone, Copy, Debug)]
pub struct CommitTiming {
    /// Time inside redb's commit, which includes the fsync.
    pub commit: Duration,
    /// Whole call, including building the transaction.
    pub total: Duration,
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: Height,
    pub index: u32,
}

/// The node's storage. Cheap reads may run concurrently with one writer.
pub struct Store {
    db: Database,
    /// The data file, or for a store on another backend the label it was opened with.
    path: PathBuf,
    /// False for a store opened with [`Store::open_with_backend`]: `path` is then only a label.
    file_backed: bool,
    /// How many waiting account entries make a commit merge them ([`index::POSTINGS_MERGE_AT`]).
    postings_merge_at: u64,
    /// The first corrupt record any read found ([`Store::corruption`]).
    corruption: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// A store over an open database.
    fn over(db: Database, path: PathBuf, file_backed: bool) -> Store {
        Store {
            db,
            path,
            file_backed,
            postings_merge_at: index::POSTINGS_MERGE_AT,
            corruption: Default::default(),
        }
    }

    /// Opens the data file at `path`, creating it (and its chain identity) if it does not exist —
    /// whole or not at all: a crash during creation leaves no file at `path`, only a
    /// `<name>.creating` file the next open removes. An existing file must be a Tally data file
    /// of the same chain and schema.
    pub fn open(path: &Path, identity: &ChainIdentity) -> Result<Store, StoreError> {
        open_or_create_file(path, |db, path| {
            let store = Store::over(db, path, true);
            store.check_or_init_identity(identity)?;
            Ok(store)
        })
    }

    /// Opens (creating if empty) a store on another redb storage backend — the simulator's
    /// [`sim_disk::SimDisk`] — with the same checks as [`Self::open`]. `label` names the store
    /// in errors in place of a path. Unlike [`Self::open`], creation is not atomic (a backend
    /// has no rename): a crash before the first open of an empty backend returned can leave
    /// one that is not a redb database, so the simulator formats a node's disks (a first open,
    /// then close) before it injects faults.
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        label: &str,
        identity: &ChainIdentity,
    ) -> Result<Store, StoreError> {
        let path = PathBuf::from(label);
        let db = open_database(redb::Builder::new().create_with_backend(backend), &path)?;
        let store = Store::over(db, path, false);
        store.check_or_init_identity(identity)?;
        Ok(store)
    }

    /// Opens an existing data file for reading whatever chain it belongs to (for `tally-node
    /// export`), and returns it with its chain identity. Never creates a file. redb refuses a
    /// file another process has open, so a running node's file gives [`StoreError::InUse`].
    /// Opening may repair a file left by a crash, as the node itself would at start.
    pub fn open_existing(path: &Path) -> Result<(Store, ChainIdentity), StoreError> {
        let path = path.to_path_buf();
        if !path.is_file() {
            return Err(StoreError::Open { path, reason: "no such data file".into() });
        }
        let db = open_database(Database::open(&path), &path)?;
        let store = Store::over(db, path, true);
        let identity = store.identity()?;
        Ok((store, identity))
    }

    /// Refuses a schema version this build does not open.
    fn check_schema(&self, found: u32) -> Result<(), StoreError> {
        if !schema_known(found) {
            return Err(StoreError::SchemaVersion {
                path: self.path.clone(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// The chain id text recorded in `meta` (empty when none is).
    fn stored_chain_id(
        &self,
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
    ) -> Result<String, StoreError> {
        let chain = meta.get(META_CHAIN_ID).map_err(self.storage())?.map(|v| v.value().to_vec());
        String::from_utf8(chain.unwrap_or_default())
            .map_err(|_| self.corrupt("meta", META_CHAIN_ID, "not UTF-8"))
    }

    /// The chain identity recorded in the file, after checking its schema version.
    pub fn identity(&self) -> Result<ChainIdentity, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(|error| StoreError::Open {
            path: self.path.clone(),
            reason: format!("no Tally metadata ({error})"),
        })?;
        let found = u32::from_be_bytes(self.meta_array(&meta, META_SCHEMA)?);
        self.check_schema(found)?;
        let chain = self.stored_chain_id(&meta)?;
        let chain_id = ChainId::new(chain).map_err(|error| self.corrupt("meta", META_CHAIN_ID, error))?;
        let genesis_hash = Hash(self.meta_array(&meta, META_GENESIS_HASH)?);
        Ok(ChainIdentity { chain_id, genesis_hash })
    }

    /// The data file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn storage<E: std::fmt::Display>(&self) -> impl Fn(E) -> StoreError + '_ {
        storage_error(&self.path)
    }

    fn corrupt(
        &self,
        table: &'static str,
        key: impl std::fmt::Display,
        reason: impl std::fmt::Display,
    ) -> StoreError {
        let error = corrupt_error(&self.path, table, key, reason);
        let _ = self.corruption.set(error.to_string());
        error
    }

    /// The first corrupt record a read of this store found, if any: the node stops on it
    /// (its driver looks at every tick), since a store that lost one record may have lost
    /// others. `tally-node check --data DIR` then lists every bad record.
    pub fn corruption(&self) -> Option<&str> {
        self.corruption.get().map(String::as_str)
    }

    fn check_or_init_identity(&self, identity: &ChainIdentity) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.storage())?;
        let upgrade = {
            let meta = txn.open_table(META).map_err(self.storage())?;
            let schema = meta.get(META_SCHEMA).map_err(self.storage())?.map(|v| v.value().to_vec());
            match schema {
                None => {
                    drop(meta);
                    self.init_identity(&txn, identity)?;
                    false
                }
                Some(bytes) => self.check_identity(&meta, &bytes, identity)?,
            }
        };
        if upgrade {
            self.upgrade_schema(&txn)?;
        }
        // Every table exists from the first open on, so readers never meet a missing table.
        txn.open_table(BLOCKS).map_err(self.storage())?;
        txn.open_table(CERTIFICATES).map_err(self.storage())?;
        txn.open_table(RECEIPTS).map_err(self.storage())?;
        txn.open_table(BLOCK_IDS).map_err(self.storage())?;
        txn.open_table(TXS).map_err(self.storage())?;
        txn.open_table(STATE).map_err(self.storage())?;
        txn.open_table(TREE).map_err(self.storage())?;
        txn.open_table(WAL).map_err(self.storage())?;
        txn.open_table(GUARD).map_err(self.storage())?;
        txn.open_table(EPOCH_PROOFS).map_err(self.storage())?;
        txn.open_table(RECORD_SUMS).map_err(self.storage())?;
        txn.open_table(EVIDENCE).map_err(self.storage())?;
        txn.open_table(index::ACCOUNT_TXS).map_err(self.storage())?;
        txn.open_table(index::ACCOUNT_POSTINGS).map_err(self.storage())?;
        txn.open_table(index::MARKET_FILLS).map_err(self.storage())?;
        txn.open_table(index::FIGURES).map_err(self.storage())?;
        txn.open_table(index::BADGE_REVOCATIONS).map_err(self.storage())?;
        txn.commit().map_err(self.storage())?;
        Ok(())
    }

    /// A new file: writes the identity and the empty chain's meta entries, after making sure
    /// no other table holds data (a redb file of some other program would have tables but no
    /// Tally meta).
    fn init_identity(&self, txn: &WriteTransaction, identity: &ChainIdentity) -> Result<(), StoreError> {
        let foreign = txn.list_tables().map_err(self.storage())?.any(|t| t.name() != "meta");
        if foreign {
            return Err(StoreError::Open {
                path: self.path.clone(),
                reason: "a redb database without Tally metadata (another program's file?)".into(),
            });
        }
        let mut meta = txn.open_table(META).map_err(self.storage())?;
        meta.insert(META_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice()).map_err(self.storage())?;
        meta.insert(META_CHAIN_ID, identity.chain_id.as_str().as_bytes()).map_err(self.storage())?;
        meta.insert(META_GENESIS_HASH, identity.genesis_hash.as_bytes().as_slice())
            .map_err(self.storage())?;
        meta.insert(META_HEIGHT, 0u64.to_be_bytes().as_slice()).map_err(self.storage())?;
        meta.insert(META_LAST_BLOCK_ID, identity.genesis_hash.as_bytes().as_slice())
            .map_err(self.storage())?;
        meta.insert(META_WAL_NEXT, 0u64.to_be_bytes().as_slice()).map_err(self.storage())?;
        meta.insert(META_INDEX_FROM, 1u64.to_be_bytes().as_slice()).map_err(self.storage())?;
        Ok(())
    }

    /// An existing file: its schema (`schema`, the stored bytes) must be one this build reads,
    /// and its chain id and genesis hash `identity`'s. Returns whether the schema is an older
    /// one to upgrade.
    fn check_identity(
        &self,
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
        schema: &[u8],
        identity: &ChainIdentity,
    ) -> Result<bool, StoreError> {
        let found = u32::from_be_bytes(
            schema.try_into().map_err(|_| self.corrupt("meta", META_SCHEMA, "not 4 bytes"))?,
        );
        self.check_schema(found)?;
        let chain = self.stored_chain_id(meta)?;
        if chain != identity.chain_id.as_str() {
            return Err(StoreError::ForeignChain {
                path: self.path.clone(),
                field: "chain id",
                found: chain,
                expected: identity.chain_id.to_string(),
            });
        }
        let genesis = meta.get(META_GENESIS_HASH).map_err(self.storage())?.map(|v| v.value().to_vec());
        let genesis: [u8; 32] = genesis
            .unwrap_or_default()
            .as_slice()
            .try_into()
            .map_err(|_| self.corrupt("meta", META_GENESIS_HASH, "not 32 bytes"))?;
        if Hash(genesis) != identity.genesis_hash {
            return Err(StoreError::ForeignChain {
                path: self.path.clone(),
                field: "genesis hash",
                found: Hash(genesis).to_string(),
                expected: identity.genesis_hash.to_string(),
            });
        }
        Ok(found != SCHEMA_VERSION)
    }

    /// Upgrades an older schema: from here on, builds that keep the WAL in this file, or that
    /// do not index, refuse it (see SCHEMA_VERSION). A file that never indexed starts its
    /// index after its last block, with the holder counts recounted from the state.
    fn upgrade_schema(&self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut meta = txn.open_table(META).map_err(self.storage())?;
        meta.insert(META_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice()).map_err(self.storage())?;
        if meta.get(META_INDEX_FROM).map_err(self.storage())?.is_none() {
            let height = u64::from_be_bytes(self.meta_array(&meta, META_HEIGHT)?);
            meta.insert(META_INDEX_FROM, (height + 1).to_be_bytes().as_slice()).map_err(self.storage())?;
            let state = txn.open_table(STATE).map_err(self.storage())?;
            let mut figures = txn.open_table(index::FIGURES).map_err(self.storage())?;
            index::recount_holders(&state, &mut figures)?;
        }
        Ok(())
    }

    /// Sets how many waiting account entries make each commit merge one slice of them into the
    /// history index (default [`index::POSTINGS_MERGE_AT`]; 1: every commit merges). Reads
    /// answer the same whatever it is; it trades commit cost against a history read's scan.
    pub fn set_postings_merge_at(&mut self, entries: u64) {
        self.postings_merge_at = entries.max(1);
    }

    /// Merges every waiting account entry into the history index, in one durable transaction
    /// (for tests and maintenance; commits merge a slice at a time on their own).
    pub fn merge_account_postings(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.storage())?;
        {
            let mut index = index::IndexTables::open(&txn).map_err(self.storage())?;
            for slice in 0..index::POSTING_SLICES {
                index.merge_slice(slice).map_err(self.storage())?;
            }
            let mut meta = txn.open_table(META).map_err(self.storage())?;
            meta.insert(META_POSTINGS_PENDING, 0u64.to_be_bytes().as_slice()).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())?;
        Ok(())
    }

    /// How many account entries wait in `account_postings` for a merge.
    pub fn postings_pending(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        Ok(u64::from_be_bytes(self.meta_array_or(&meta, META_POSTINGS_PENDING, [0; 8])?))
    }

    /// The last committed height (0 before the first block).
    pub fn height(&self) -> Result<Height, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        self.height_in(&txn)
    }

    fn height_in(&self, txn: &ReadTransaction) -> Result<Height, StoreError> {
        let meta = txn.open_table(META).map_err(self.storage())?;
        Ok(Height(u64::from_be_bytes(self.meta_array(&meta, META_HEIGHT)?)))
    }

    /// A fixed-size `meta` value; missing or of another size means the file is corrupt.
    fn meta_array<const N: usize>(
        &self,
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
        name: &'static str,
    ) -> Result<[u8; N], StoreError> {
        let bytes =
            meta.get(name).map_err(self.storage())?.ok_or_else(|| self.corrupt("meta", name, "missing"))?;
        bytes.value().try_into().map_err(|_| self.corrupt("meta", name, format!("not {N} bytes")))
    }

    /// The meta entry `name` as `N` bytes, or `absent` when it was never written.
    fn meta_array_or<const N: usize>(
        &self,
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
        name: &'static str,
        absent: [u8; N],
    ) -> Result<[u8; N], StoreError> {
        match meta.get(name).map_err(self.storage())? {
            None => Ok(absent),
            Some(bytes) => {
                bytes.value().try_into().map_err(|_| self.corrupt("meta", name, format!("not {N} bytes")))
            }
        }
    }

    /// Writes the genesis state (height 0) in one durable transaction. Allowed once, before the
    /// first block; a second call, or a call after block 1, is refused.
    pub fn init_genesis_state(
        &self,
        state_writes: &[(Vec<u8>, Option<Vec<u8>>)],
        tree_writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut meta = txn.open_table(META).map_err(self.storage())?;
            let done = meta.get(META_GENESIS_STATE).map_err(self.storage())?.is_some();
            let height = self.height()?;
            if done || height != Height(0) {
                return Err(StoreError::GenesisStateWritten { path: self.path.clone() });
            }
            let mut state = txn.open_table(STATE).map_err(self.storage())?;
            index::IndexTables::open(&txn)
                .and_then(|mut index| index.count_holders(&state, state_writes))
                .map_err(self.storage())?;
            apply_writes(&mut state, state_writes).map_err(self.storage())?;
            let mut tree = txn.open_table(TREE).map_err(self.storage())?;
            apply_writes(&mut tree, tree_writes).map_err(self.storage())?;
            meta.insert(META_GENESIS_STATE, [1u8].as_slice()).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())
    }

    /// True once [`Self::init_genesis_state`] has run.
    pub fn has_genesis_state(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        Ok(meta.get(META_GENESIS_STATE).map_err(self.storage())?.is_some())
    }

    /// Writes one finalized block with its certificate, receipts, state and tree changes and
    /// indexes, in one durable transaction. Returns after the data is on disk.
    pub fn commit_block(&self, commit: &BlockCommit<'_>) -> Result<CommitTiming, StoreError> {
        self.commit_blocks(std::slice::from_ref(commit))
    }

    /// Writes consecutive finalized blocks in ONE durable transaction (one fsync for the group),
    /// each checked as [`Self::commit_block`] checks it: its height follows the one before,
    /// its parent is the block before, it has one receipt per transaction. Either every block of
    /// the group is committed or, on any error, none is. Returns after the data is on disk.
    pub fn commit_blocks(&self, commits: &[BlockCommit<'_>]) -> Result<CommitTiming, StoreError> {
        let started = Instant::now();
        for commit in commits {
            if commit.receipts.len() != commit.block.txs.len() {
                return Err(StoreError::ReceiptCount {
                    height: commit.block.header.height,
                    txs: commit.block.txs.len(),
                    receipts: commit.receipts.len(),
                });
            }
        }
        if commits.is_empty() {
            return Ok(CommitTiming { commit: Duration::ZERO, total: started.elapsed() });
        }
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut meta = txn.open_table(META).map_err(self.storage())?;
            let mut committed = Height(u64::from_be_bytes(self.meta_array(&meta, META_HEIGHT)?));
            let mut last_id = BlockId(Hash(self.meta_array(&meta, META_LAST_BLOCK_ID)?));
            let mut tables = self.open_block_tables(&txn)?;
            let mut postings_pending =
                u64::from_be_bytes(self.meta_array_or(&meta, META_POSTINGS_PENDING, [0; 8])?);
            for commit in commits {
                let header = &commit.block.header;
                if header.height != committed.next() {
                    // Returning drops the transaction uncommitted: earlier blocks of the group
                    // are not written either.
                    return Err(StoreError::OutOfOrder { committed, got: header.height });
                }
                if header.parent_id != last_id {
                    return Err(StoreError::ParentMismatch {
                        height: header.height,
                        expected: last_id,
                        got: header.parent_id,
                    });
                }
                postings_pending += self.write_block(&mut tables, commit)?;
                committed = header.height;
                last_id = commit.block.id();
            }
            if postings_pending >= self.postings_merge_at {
                let slice =
                    self.meta_array_or(&meta, META_POSTINGS_NEXT_SLICE, [0])?[0] % index::POSTING_SLICES;
                let merged = tables.index.merge_slice(slice).map_err(self.storage())?;
                postings_pending = postings_pending.saturating_sub(merged);
                let next = (slice + 1) % index::POSTING_SLICES;
                meta.insert(META_POSTINGS_NEXT_SLICE, [next].as_slice()).map_err(self.storage())?;
            }
            meta.insert(META_POSTINGS_PENDING, postings_pending.to_be_bytes().as_slice())
                .map_err(self.storage())?;
            meta.insert(META_HEIGHT, committed.0.to_be_bytes().as_slice()).map_err(self.storage())?;
            meta.insert(META_LAST_BLOCK_ID, last_id.0.as_bytes().as_slice()).map_err(self.storage())?;
        }
        let commit_started = Instant::now();
        txn.commit().map_err(self.storage())?;
        Ok(CommitTiming { commit: commit_started.elapsed(), total: started.elapsed() })
    }

    /// Opens the tables [`Self::write_block`] writes, in `txn`.
    fn open_block_tables<'t>(&self, txn: &'t WriteTransaction) -> Result<BlockTables<'t>, StoreError> {
        Ok(BlockTables {
            blocks: txn.open_table(BLOCKS).map_err(self.storage())?,
            certificates: txn.open_table(CERTIFICATES).map_err(self.storage())?,
            receipts: txn.open_table(RECEIPTS).map_err(self.storage())?,
            block_ids: txn.open_table(BLOCK_IDS).map_err(self.storage())?,
            txs: txn.open_table(TXS).map_err(self.storage())?,
            state: txn.open_table(STATE).map_err(self.storage())?,
            tree: txn.open_table(TREE).map_err(self.storage())?,
            epoch_proofs: txn.open_table(EPOCH_PROOFS).map_err(self.storage())?,
            record_sums: txn.open_table(RECORD_SUMS).map_err(self.storage())?,
            index: index::IndexTables::open(txn).map_err(self.storage())?,
        })
    }

    /// Writes one block of a commit (checked to follow the one before): the block, its
    /// certificate and receipts, its id and transactions' positions, its state and tree
    /// changes, the epoch-end proof if it ends an epoch, and its index entries. Returns how
    /// many account entries it left waiting for the history index.
    fn write_block(&self, tables: &mut BlockTables<'_>, commit: &BlockCommit<'_>) -> Result<u64, StoreError> {
        let BlockTables {
            blocks,
            certificates,
            receipts,
            block_ids,
            txs,
            state,
            tree,
            epoch_proofs,
            record_sums,
            index,
        } = tables;
        let header = &commit.block.header;
        let height = header.height.0;
        let id = commit.block.id();
        let encoded = [encode(commit.block), encode(commit.certificate), encode(&commit.receipts.to_vec())];
        blocks.insert(height, encoded[Record::Block as usize].as_slice()).map_err(self.storage())?;
        certificates
            .insert(height, encoded[Record::Certificate as usize].as_slice())
            .map_err(self.storage())?;
        receipts.insert(height, encoded[Record::Receipts as usize].as_slice()).map_err(self.storage())?;
        let sums: Vec<u8> = encoded.iter().flat_map(|bytes| record_sum(bytes)).collect();
        record_sums.insert(height, sums.as_slice()).map_err(self.storage())?;
        block_ids.insert(&id.0.0, height).map_err(self.storage())?;
        for (index, tx) in commit.block.txs.iter().enumerate() {
            txs.insert(&tx.id().0.0, (height, index as u32)).map_err(self.storage())?;
        }
        index.apply_state_writes(state, commit.state_writes).map_err(self.storage())?;
        apply_writes(tree, commit.tree_writes).map_err(self.storage())?;
        // The tree keeps one version: the proof of the next epoch's set under this
        // block's state root can be made only now (docs/ARCHITECTURE.md "Governance and
        // epochs", the chain of trust through the epochs).
        if let Some((number, record)) = ledger::epoch_end_proof(state, tree, header.height)
            .map_err(|reason| self.corrupt("state", "epochs", reason))?
        {
            epoch_proofs.insert(number, record.as_slice()).map_err(self.storage())?;
        }
        index.record_block(state, commit.block, commit.receipts, commit.state_writes)
    }

    /// The block at `height`, checked against its checksum and what the chain committed to
    /// before it leaves ([`Store::check_block`]).
    pub fn block(&self, height: Height) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let Some(block) = self.read_record::<Block>(&txn, Record::Block, height)? else { return Ok(None) };
        self.check_block(&txn, height, &block)?;
        Ok(Some(block))
    }

    /// The finalization certificate stored with the block at `height`, checked against its
    /// checksum and to finalize that block or a descendant ([`Store::check_certificate`]).
    pub fn certificate(&self, height: Height) -> Result<Option<Certificate>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let Some(certificate) = self.read_record::<Certificate>(&txn, Record::Certificate, height)? else {
            return Ok(None);
        };
        let block = self
            .read_record::<Block>(&txn, Record::Block, height)?
            .ok_or_else(|| self.corrupt("blocks", height, "missing beside its certificate"))?;
        self.check_certificate(&txn, &block, &certificate)?;
        Ok(Some(certificate))
    }

    /// The record `record` at `height`, its bytes checked against [`RECORD_SUMS`], decoded.
    fn read_record<T>(
        &self,
        txn: &ReadTransaction,
        record: Record,
        height: Height,
    ) -> Result<Option<T>, StoreError>
    where
        T: borsh::BorshDeserialize + borsh::BorshSerialize + Bounded,
    {
        let table = txn.open_table(record.table()).map_err(self.storage())?;
        let Some(bytes) = table.get(height.0).map_err(self.storage())? else { return Ok(None) };
        self.check_sum(txn, record, height, bytes.value())?;
        decode::<T>(bytes.value()).map(Some).map_err(|error| self.corrupt(record.name(), height, error))
    }

    /// `bytes`, read as `record` at `height`, are the bytes written there (when the height has
    /// checksums: see [`RECORD_SUMS`]).
    fn check_sum(
        &self,
        txn: &ReadTransaction,
        record: Record,
        height: Height,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let sums = match txn.open_table(RECORD_SUMS) {
            Ok(sums) => sums,
            // A file opened read-only that no build with checksums has opened yet.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(error) => return Err(self.storage()(error)),
        };
        let Some(stored) = sums.get(height.0).map_err(self.storage())? else { return Ok(()) };
        let stored = stored.value();
        if stored.len() != Record::ALL.len() * RECORD_SUM_BYTES {
            return Err(self.corrupt("record_sums", height, format!("{} bytes", stored.len())));
        }
        let at = record as usize * RECORD_SUM_BYTES;
        if stored[at..at + RECORD_SUM_BYTES] != record_sum(bytes) {
            return Err(self.corrupt(
                record.name(),
                height,
                "its bytes differ from the checksum written with them",
            ));
        }
        Ok(())
    }

    /// A block read from the store is the one committed at `height`: its header says that
    /// height, its id is the one `block_ids` maps to it, and its transactions hash to its
    /// header's tx root. A flipped byte anywhere in the block fails one of these (redb
    /// checksums only its commit slots, not every page), so a damaged record is reported
    /// instead of served to a client, a peer or an export.
    fn check_block(&self, txn: &ReadTransaction, height: Height, block: &Block) -> Result<(), StoreError> {
        if block.header.height != height {
            return Err(self.corrupt(
                "blocks",
                height,
                format!("the block says height {}", block.header.height),
            ));
        }
        let ids = txn.open_table(BLOCK_IDS).map_err(self.storage())?;
        let id = block.id();
        if ids.get(&id.0.0).map_err(self.storage())?.map(|stored| stored.value()) != Some(height.0) {
            return Err(self.corrupt(
                "blocks",
                height,
                format!("its header hashes to {}, which is not the block id committed at this height", id.0),
            ));
        }
        let tx_ids: Vec<TxId> = block.txs.iter().map(tally_types::SignedTransaction::id).collect();
        if tally_types::block::tx_root(&tx_ids) != block.header.tx_root {
            return Err(self.corrupt(
                "blocks",
                height,
                "its transactions do not hash to its header's tx root",
            ));
        }
        Ok(())
    }

    /// A certificate read from the store finalizes the block it is stored with (`block`) or a
    /// descendant: one committed above it, or, while a synced run is still being committed
    /// (it is stored with the one finalization that covers it), one of a later view. Its
    /// signatures are not checked here: every client checks them against the validators.
    fn check_certificate(
        &self,
        txn: &ReadTransaction,
        block: &Block,
        certificate: &Certificate,
    ) -> Result<(), StoreError> {
        let height = block.header.height;
        let Subject::Finalize { view, block_id } = certificate.subject else {
            return Err(self.corrupt("certificates", height, "it is not a finalization"));
        };
        let ids = txn.open_table(BLOCK_IDS).map_err(self.storage())?;
        let named = ids.get(&block_id.0.0).map_err(self.storage())?.map(|stored| stored.value());
        let covers = match named {
            Some(named) => named >= height.0,
            None => view > block.header.view,
        };
        if covers {
            Ok(())
        } else {
            Err(self.corrupt(
                "certificates",
                height,
                "it does not finalize the block at this height or a descendant",
            ))
        }
    }

    /// The proofs recorded at the end of each epoch ([`EpochProof`]), by the number of the
    /// epoch that follows, in order from the first number above `after`, at most `limit`.
    /// Epochs that ended before this store recorded them are missing.
    pub fn epoch_proofs(&self, after: u64, limit: usize) -> Result<Vec<(u64, EpochProof)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(EPOCH_PROOFS).map_err(self.storage())?;
        let mut proofs = Vec::new();
        let Some(first) = after.checked_add(1) else { return Ok(proofs) };
        for entry in table.range(first..).map_err(self.storage())?.take(limit) {
            let (number, bytes) = entry.map_err(self.storage())?;
            // Written by this store; bounded by the epochs entry's own size limit.
            let proof: EpochProof = borsh::from_slice(bytes.value())
                .map_err(|error| self.corrupt("epoch_proofs", number.value(), error))?;
            proofs.push((number.value(), proof));
        }
        Ok(proofs)
    }

    /// The receipts of the block at `height`, in tx order, checked against the receipts root
    /// of the block's header.
    pub fn receipts(&self, height: Height) -> Result<Option<Vec<Receipt>>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let Some(ReceiptList(receipts)) = self.read_record::<ReceiptList>(&txn, Record::Receipts, height)?
        else {
            return Ok(None);
        };
        let header_root = self
            .read_record::<Block>(&txn, Record::Block, height)?
            .map(|block| block.header.receipts_root)
            .ok_or_else(|| self.corrupt("blocks", height, "missing beside its receipts"))?;
        if tally_types::block::receipts_root(&receipts) != header_root {
            return Err(self.corrupt(
                "receipts",
                height,
                "they do not hash to the block header's receipts root",
            ));
        }
        Ok(Some(receipts))
    }

    /// The height of the block with id `id`, if committed.
    pub fn height_of_block(&self, id: &BlockId) -> Result<Option<Height>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(BLOCK_IDS).map_err(self.storage())?;
        Ok(table.get(&id.0.0).map_err(self.storage())?.map(|v| Height(v.value())))
    }

    /// Where the transaction `id` was included, if it was.
    pub fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(TXS).map_err(self.storage())?;
        Ok(table.get(&id.0.0).map_err(self.storage())?.map(|v| {
            let (height, index) = v.value();
            TxLocation { height: Height(height), index }
        }))
    }

    /// Consecutive committed blocks from `from` on, with their certificates, read in one read
    /// transaction (for serving a peer's sync range). Stops after `count` blocks, at the
    /// committed tip, or before the block whose encoded block and certificate bytes would take
    /// the total past `bytes_max` — except the first block, which is always returned when it
    /// exists, so that a range request always makes progress (a block and its certificate are
    /// at most `BLOCK_BYTES_MAX + CERTIFICATE_BYTES_MAX`, which the caller's response limit must
    /// hold). Empty when `from` is 0 (no block has height 0) or above the tip, or `count` is 0.
    pub fn committed_range(
        &self,
        from: Height,
        count: usize,
        bytes_max: usize,
    ) -> Result<Vec<(Block, Certificate)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let tip = self.height_in(&txn)?;
        let blocks = txn.open_table(BLOCKS).map_err(self.storage())?;
        let certificates = txn.open_table(CERTIFICATES).map_err(self.storage())?;
        let mut range = Vec::new();
        if from.0 == 0 {
            return Ok(range);
        }
        let mut bytes = 0usize;
        let mut height = from.0;
        while range.len() < count && height <= tip.0 {
            let block_bytes = blocks
                .get(height)
                .map_err(self.storage())?
                .ok_or_else(|| self.corrupt("blocks", height, "missing at or below the committed height"))?;
            let certificate_bytes = certificates.get(height).map_err(self.storage())?.ok_or_else(|| {
                self.corrupt("certificates", height, "missing at or below the committed height")
            })?;
            let size = block_bytes.value().len() + certificate_bytes.value().len();
            if !range.is_empty() && bytes.saturating_add(size) > bytes_max {
                break;
            }
            bytes += size;
            self.check_sum(&txn, Record::Block, Height(height), block_bytes.value())?;
            self.check_sum(&txn, Record::Certificate, Height(height), certificate_bytes.value())?;
            let block = decode::<Block>(block_bytes.value())
                .map_err(|error| self.corrupt("blocks", height, error))?;
            let certificate = decode::<Certificate>(certificate_bytes.value())
                .map_err(|error| self.corrupt("certificates", height, error))?;
            self.check_block(&txn, Height(height), &block)?;
            self.check_certificate(&txn, &block, &certificate)?;
            range.push((block, certificate));
            height += 1;
        }
        Ok(range)
    }

    /// A consistent read-only view of state and tree at the last committed block, for executing
    /// the next block or serving proofs while commits go on.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let height = self.height_in(&txn)?;
        Ok(Snapshot { store: self, txn, height })
    }

    /// Appends consensus WAL entries to node.redb; durable when this returns (one fsync for the
    /// batch). The WAL's old home, kept working until the engine switches to [`Wal`] (whose
    /// appends do not wait behind block commits); [`Wal::open_beside`] moves these entries out.
    pub fn wal_append(&self, entries: &[Vec<u8>]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut meta = txn.open_table(META).map_err(self.storage())?;
            let first = u64::from_be_bytes(self.meta_array(&meta, META_WAL_NEXT)?);
            let mut wal = txn.open_table(WAL).map_err(self.storage())?;
            for (sequence, entry) in (first..).zip(entries) {
                wal.insert(sequence, entry.as_slice()).map_err(self.storage())?;
            }
            let next = first + entries.len() as u64;
            meta.insert(META_WAL_NEXT, next.to_be_bytes().as_slice()).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())
    }

    /// Every WAL entry, oldest first, with its sequence number.
    pub fn wal_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(WAL).map_err(self.storage())?;
        let mut out = Vec::new();
        for item in table.iter().map_err(self.storage())? {
            let (key, value) = item.map_err(self.storage())?;
            out.push((key.value(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// Removes WAL entries with sequence numbers below `keep_from` (those of finished views).
    pub fn wal_prune(&self, keep_from: u64) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut wal = txn.open_table(WAL).map_err(self.storage())?;
            wal.retain_in(..keep_from, |_, _| false).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())
    }

    /// Every sign-guard record (for the WAL take-over).
    fn guard_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(GUARD).map_err(self.storage())?;
        let mut records = Vec::new();
        for item in table.iter().map_err(self.storage())? {
            let (key, value) = item.map_err(self.storage())?;
            records.push((key.value().to_owned(), value.value().to_vec()));
        }
        Ok(records)
    }

    /// The id of the WAL file this data file is used with, once it has one.
    fn wal_id(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        if meta.get(META_WAL_ID).map_err(self.storage())?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.meta_array(&meta, META_WAL_ID)?))
    }

    /// Records, durably, the id of the WAL file this data file is used with.
    fn set_wal_id(&self, id: &[u8; 32]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        txn.open_table(META)
            .map_err(self.storage())?
            .insert(META_WAL_ID, id.as_slice())
            .map_err(self.storage())?;
        txn.commit().map_err(self.storage())
    }

    /// The next WAL sequence number this file would give (for the WAL take-over).
    fn wal_next(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        Ok(u64::from_be_bytes(self.meta_array(&meta, META_WAL_NEXT)?))
    }

    /// Deletes, in one durable transaction, the WAL entries and guard records the WAL file has
    /// taken over — if the tables still hold exactly those; otherwise deletes nothing and
    /// answers false (something wrote here after they were read).
    fn clear_wal_records(
        &self,
        entries: &[(u64, Vec<u8>)],
        guard: &[(String, Vec<u8>)],
    ) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut wal = txn.open_table(WAL).map_err(self.storage())?;
            let mut held = Vec::new();
            for item in wal.iter().map_err(self.storage())? {
                let (key, value) = item.map_err(self.storage())?;
                held.push((key.value(), value.value().to_vec()));
            }
            if held != entries {
                return Ok(false);
            }
            wal.retain(|_, _| false).map_err(self.storage())?;
            let mut records = txn.open_table(GUARD).map_err(self.storage())?;
            let mut held = Vec::new();
            for item in records.iter().map_err(self.storage())? {
                let (key, value) = item.map_err(self.storage())?;
                held.push((key.value().to_owned(), value.value().to_vec()));
            }
            if held != guard {
                return Ok(false);
            }
            records.retain(|_, _| false).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())?;
        Ok(true)
    }

    /// Stores an equivocation record (the encoded evidence, both signed messages) about
    /// `view`, durably, once: the key is the view and the record's hash, so the same evidence
    /// reported again (by a restarted core, or by two peers' messages) is kept once. Returns
    /// whether it was new.
    pub fn evidence_put(&self, view: u64, record: &[u8]) -> Result<bool, StoreError> {
        let key = evidence_key(view, record);
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        let new = {
            let mut table = txn.open_table(EVIDENCE).map_err(self.storage())?;
            let new = table.get(&key).map_err(self.storage())?.is_none();
            if new {
                table.insert(&key, record).map_err(self.storage())?;
            }
            new
        };
        txn.commit().map_err(self.storage())?;
        Ok(new)
    }

    /// Up to `limit` evidence records in key order (view, then hash) after the key `after`:
    /// (key, record) pairs.
    pub fn evidence_page(
        &self,
        after: Option<[u8; 40]>,
        limit: usize,
    ) -> Result<Vec<EvidenceEntry>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(EVIDENCE).map_err(self.storage())?;
        let range = match after {
            Some(after) => {
                table.range::<&[u8; 40]>((std::ops::Bound::Excluded(&after), std::ops::Bound::Unbounded))
            }
            None => table.range::<&[u8; 40]>(..),
        }
        .map_err(self.storage())?;
        let mut page = Vec::new();
        for item in range.take(limit) {
            let (key, value) = item.map_err(self.storage())?;
            page.push((*key.value(), value.value().to_vec()));
        }
        Ok(page)
    }

    /// Reads a record of the legacy `guard` table (never written by the engine: the sign state
    /// lives beside the consensus key; kept for moving old files' records and their tests).
    pub fn guard_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(GUARD).map_err(self.storage())?;
        Ok(table.get(name).map_err(self.storage())?.map(|v| v.value().to_vec()))
    }

    /// Writes a record of the legacy `guard` table durably (tests of the WAL's move only).
    pub fn guard_set(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        txn.open_table(GUARD).map_err(self.storage())?.insert(name, value).map_err(self.storage())?;
        txn.commit().map_err(self.storage())
    }
}

/// An evidence record with its key (the cursor of [`Store::evidence_page`]).
pub type EvidenceEntry = ([u8; 40], Vec<u8>);

/// The key of an evidence record: its view (big-endian, so records sort by view) and the
/// first 32 bytes of its blake3 hash.
pub fn evidence_key(view: u64, record: &[u8]) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&view.to_be_bytes());
    key[8..].copy_from_slice(blake3::hash(record).as_bytes());
    key
}

/// A redb failure on the file at `path`, as a [`StoreError::Storage`].
fn storage_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> StoreError + '_ {
    move |error| StoreError::Storage { path: path.to_path_buf(), reason: error.to_string() }
}

fn corrupt_error(
    path: &Path,
    table: &'static str,
    key: impl std::fmt::Display,
    reason: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt { path: path.to_path_buf(), table, key: key.to_string(), reason: reason.to_string() }
}

/// Opens the redb file at `path` with `open`, which checks or initializes it durably. A new file
/// is made whole or not at all: it is built under a temporary name (`<name>.creating`) and
/// renamed into place once `open` has written it and it is closed, so a crash during creation
/// leaves no half-made file at `path`. (redb cannot open a file whose creation stopped before
/// its header was written; without this a node that crashed on its very first start would
/// refuse every later one.)
fn open_or_create_file<T>(
    path: &Path,
    open: impl Fn(Database, PathBuf) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let failed = |path: &Path, what: &str, error: std::io::Error| StoreError::Open {
        path: path.to_path_buf(),
        reason: format!("{what}: {error}"),
    };
    let exists = path.try_exists().map_err(|error| failed(path, "cannot tell whether it exists", error))?;
    if !exists {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".creating");
        let creating = path.with_file_name(name);
        match std::fs::remove_file(&creating) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(failed(&creating, "cannot remove an unfinished creation", error)),
        }
        let db = open_database(Database::create(&creating), &creating)?;
        drop(open(db, creating.clone())?);
        std::fs::rename(&creating, path)
            .map_err(|error| failed(path, "cannot move the new file in place", error))?;
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| failed(path, "cannot make the new file's name durable", error))?;
    }
    let db = open_database(Database::create(path), path)?;
    open(db, path.to_path_buf())
}

/// The outcome of opening a redb file, with the errors a user can act on: a file another
/// process holds, or one that is not a Tally data file.
fn open_database(opened: Result<Database, redb::DatabaseError>, path: &Path) -> Result<Database, StoreError> {
    match opened {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::InUse { path: path.to_path_buf() }),
        Err(error) => {
            // redb checks its header before anything else, and reports a damaged one by what
            // the damage looks like ("File truncated below stored layout" for a flipped length
            // byte): say what is known — the header does not match the file — and what to do.
            let size = std::fs::metadata(path).map(|meta| meta.len()).ok();
            let size = size.map_or_else(String::new, |size| format!(", {size} bytes"));
            Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: format!(
                    "not a readable Tally data file{size}: its header does not describe this file (redb: {error}); \
                     the file is damaged or was cut short. Restore it from a backup, or move the data directory \
                     aside and start the node again to sync the chain from its peers (the sign state beside the \
                     consensus key keeps a validator from signing twice)"
                ),
            })
        }
    }
}

/// The tables a block commit writes, open in one write transaction.
struct BlockTables<'t> {
    blocks: redb::Table<'t, u64, &'static [u8]>,
    certificates: redb::Table<'t, u64, &'static [u8]>,
    receipts: redb::Table<'t, u64, &'static [u8]>,
    block_ids: redb::Table<'t, &'static [u8; 32], u64>,
    txs: redb::Table<'t, &'static [u8; 32], (u64, u32)>,
    state: redb::Table<'t, &'static [u8], &'static [u8]>,
    tree: redb::Table<'t, &'static [u8], &'static [u8]>,
    epoch_proofs: redb::Table<'t, u64, &'static [u8]>,
    record_sums: redb::Table<'t, u64, &'static [u8]>,
    index: index::IndexTables<'t>,
}

fn apply_writes(
    table: &mut redb::Table<&'static [u8], &'static [u8]>,
    writes: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Result<(), redb::Error> {
    for (key, value) in writes {
        match value {
            Some(value) => {
                table.insert(key.as_slice(), value.as_slice())?;
            }
            None => {
                table.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}

/// A block's receipts as stored: a plain list, bounded by the block's tx limit.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct ReceiptList(Vec<Receipt>);

impl Bounded for ReceiptList {
    // Receipts of one block: bounded by the block limits, since each receipt belongs to one tx.
    const MAX_ENCODED_SIZE: usize =
        tally_types::limits::BLOCK_TXS_MAX * tally_types::limits::RECEIPT_BYTES_MAX;
}

/// One encoded ledger state entry: (key bytes, value bytes).
pub type EncodedEntry = (Vec<u8>, Vec<u8>);

/// A consistent read view of ledger state and state-tree nodes at one committed height.
pub struct Snapshot<'a> {
    store: &'a Store,
    txn: ReadTransaction,
    height: Height,
}

impl Snapshot<'_> {
    /// The committed height this snapshot sees.
    pub fn height(&self) -> Height {
        self.height
    }

    fn get(
        &self,
        definition: TableDefinition<&[u8], &[u8]>,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let table = self.txn.open_table(definition).map_err(self.store.storage())?;
        Ok(table.get(key).map_err(self.store.storage())?.map(|v| v.value().to_vec()))
    }

    /// A ledger state value.
    pub fn state_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(STATE, key)
    }

    /// A state-tree node.
    pub fn tree_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(TREE, key)
    }

    /// Every ledger state entry whose encoded key starts with `prefix` (e.g. one kind's tag
    /// byte), in byte order; at most `limit`, refusing more ([`StoreError::TooMany`]) rather
    /// than cutting a listing short silently.
    pub fn state_with_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<EncodedEntry>, StoreError> {
        let table = self.txn.open_table(STATE).map_err(self.store.storage())?;
        let range = table.range::<&[u8]>(prefix..).map_err(self.store.storage())?;
        let mut entries = Vec::new();
        for entry in range {
            let (key, value) = entry.map_err(self.store.storage())?;
            if !key.value().starts_with(prefix) {
                break;
            }
            if entries.len() == limit {
                return Err(StoreError::TooMany { what: "state entries under one prefix", limit });
            }
            entries.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(entries)
    }

    /// The first ledger state entry (encoded key, encoded value) with a key after `start` and
    /// at or before `last`, in byte order.
    pub fn state_next(
        &self,
        start: std::ops::Bound<&[u8]>,
        last: &[u8],
    ) -> Result<Option<EncodedEntry>, StoreError> {
        let table = self.txn.open_table(STATE).map_err(self.store.storage())?;
        let mut range =
            table.range::<&[u8]>((start, std::ops::Bound::Included(last))).map_err(self.store.storage())?;
        match range.next() {
            None => Ok(None),
            Some(entry) => {
                let (key, value) = entry.map_err(self.store.storage())?;
                Ok(Some((key.value().to_vec(), value.value().to_vec())))
            }
        }
    }
}
