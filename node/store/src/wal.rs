//! The consensus write-ahead log and the sign guard, in a redb file of their own beside the
//! block store ([`WAL_FILE_NAME`] in the data directory), so that a WAL append never waits
//! behind a block commit: each redb database has one writer at a time, and the storage writer
//! may hold node.redb's for a group of blocks while the consensus driver appends a vote.

use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableHandle,
};

use crate::{Store, StoreError, corrupt_error, open_database, open_or_create_file, storage_error};

/// The WAL's file name in the data directory, beside the block store.
pub const WAL_FILE_NAME: &str = "wal.redb";

/// The layout this code writes and reads in the WAL file.
pub const WAL_SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("wal_meta");
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
const GUARD: TableDefinition<&str, &[u8]> = TableDefinition::new("guard");

const META_SCHEMA: &str = "schema_version";
/// The next sequence number; kept so numbers never repeat, even after a full prune.
const META_NEXT: &str = "next";
/// Present once the WAL records of the block store (where the WAL lived before) were taken
/// over, or found absent; from then on, records appearing there are a conflict.
const META_TOOK_OVER: &str = "took_over_store_wal";
/// This WAL file's id, made once; the block store beside it records the same id, so that a
/// node whose WAL file was lost or swapped refuses to start (see [`Wal::open_beside`]).
const META_ID: &str = "wal_id";

/// The consensus WAL (opaque entries with growing sequence numbers) and the sign guard (named
/// records), each write durable (one fsync) before it returns.
pub struct Wal {
    db: Database,
    /// The WAL file, or the label given to [`Wal::open_with_backend`].
    path: PathBuf,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens the WAL file at `path`, creating it if it does not exist (whole or not at all, as
    /// [`Store::open`] does). A redb file of another kind (a block store, another program's
    /// file) or another WAL schema is refused.
    pub fn open(path: &Path) -> Result<Wal, StoreError> {
        open_or_create_file(path, Wal::init)
    }

    /// Opens (creating if empty) a WAL on another redb storage backend, such as the simulator's
    /// [`crate::sim_disk::SimDisk`]; `label` names it in errors.
    pub fn open_with_backend(backend: impl redb::StorageBackend, label: &str) -> Result<Wal, StoreError> {
        let path = PathBuf::from(label);
        let db = open_database(redb::Builder::new().create_with_backend(backend), &path)?;
        Wal::init(db, path)
    }

    /// Opens the WAL beside `store` (its data directory's [`WAL_FILE_NAME`]) and takes over the
    /// WAL records `store` still holds from before the WAL had a file of its own (see
    /// [`Self::take_over_from`]). This is how a node opens its WAL.
    pub fn open_beside(store: &Store) -> Result<Wal, StoreError> {
        if !store.file_backed {
            return Err(StoreError::Open {
                path: store.path.clone(),
                reason: "the store is not on a file; open its WAL with Wal::open_with_backend \
                         and call Wal::take_over_from"
                    .into(),
            });
        }
        let directory = store.path.parent().unwrap_or(Path::new(""));
        let path = directory.join(WAL_FILE_NAME);
        let expected = store.wal_id()?;
        let missing =
            |reason| StoreError::WalMissing { wal: path.clone(), store: store.path.clone(), reason };
        if expected.is_some() {
            // Check before opening: opening creates a missing or empty file, and a refused
            // start must leave the directory as it found it.
            let present = std::fs::metadata(&path).map(|meta| meta.len() > 0).unwrap_or(false);
            if !present {
                return Err(missing("is missing or empty"));
            }
        }
        let wal = Wal::open(&path)?;
        match (expected, wal.id()?) {
            (Some(expected), Some(own)) if expected == own => {}
            (Some(_), _) => return Err(missing("is not the one this data directory wrote")),
            // A data file that predates WAL ids, or was lost and made anew beside a kept WAL
            // (which still remembers every vote): it adopts the WAL's id.
            (None, Some(own)) => store.set_wal_id(&own)?,
            (None, None) => {
                // The WAL first, so that a crash between the two writes leaves a WAL with an id
                // and a data file without one: the case above.
                let id = new_wal_id(&path);
                wal.set_id(&id)?;
                store.set_wal_id(&id)?;
            }
        }
        wal.take_over_from(store)?;
        Ok(wal)
    }

    /// This WAL file's id, once [`Self::open_beside`] gave it one.
    fn id(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        let Some(bytes) = meta.get(META_ID).map_err(self.storage())? else {
            return Ok(None);
        };
        let id = bytes.value().try_into().map_err(|_| self.corrupt("wal_meta", META_ID, "not 32 bytes"))?;
        Ok(Some(id))
    }

    fn set_id(&self, id: &[u8; 32]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        txn.open_table(META)
            .map_err(self.storage())?
            .insert(META_ID, id.as_slice())
            .map_err(self.storage())?;
        txn.commit().map_err(self.storage())
    }

    fn init(db: Database, path: PathBuf) -> Result<Wal, StoreError> {
        let wal = Wal { db, path };
        let txn = wal.db.begin_write().map_err(wal.storage())?;
        {
            let meta = txn.open_table(META).map_err(wal.storage())?;
            let schema = meta.get(META_SCHEMA).map_err(wal.storage())?.map(|v| v.value().to_vec());
            match schema {
                None => {
                    drop(meta);
                    let foreign =
                        txn.list_tables().map_err(wal.storage())?.any(|table| table.name() != META.name());
                    if foreign {
                        return Err(StoreError::Open {
                            path: wal.path.clone(),
                            reason: "a redb database that is not a Tally WAL (the block store, or \
                                     another program's file?)"
                                .into(),
                        });
                    }
                    let mut meta = txn.open_table(META).map_err(wal.storage())?;
                    meta.insert(META_SCHEMA, WAL_SCHEMA_VERSION.to_be_bytes().as_slice())
                        .map_err(wal.storage())?;
                    meta.insert(META_NEXT, 0u64.to_be_bytes().as_slice()).map_err(wal.storage())?;
                }
                Some(bytes) => {
                    let found = u32::from_be_bytes(
                        bytes
                            .as_slice()
                            .try_into()
                            .map_err(|_| wal.corrupt("wal_meta", META_SCHEMA, "not 4 bytes"))?,
                    );
                    if found != WAL_SCHEMA_VERSION {
                        return Err(StoreError::SchemaVersion {
                            path: wal.path.clone(),
                            found,
                            expected: WAL_SCHEMA_VERSION,
                        });
                    }
                }
            }
        }
        // Both tables exist from the first open on, so readers never meet a missing table.
        txn.open_table(ENTRIES).map_err(wal.storage())?;
        txn.open_table(GUARD).map_err(wal.storage())?;
        txn.commit().map_err(wal.storage())?;
        Ok(wal)
    }

    /// The WAL file's path (or label).
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
        corrupt_error(&self.path, table, key, reason)
    }

    fn next_in(&self, meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<u64, StoreError> {
        let bytes = meta
            .get(META_NEXT)
            .map_err(self.storage())?
            .ok_or_else(|| self.corrupt("wal_meta", META_NEXT, "missing"))?;
        let bytes: [u8; 8] =
            bytes.value().try_into().map_err(|_| self.corrupt("wal_meta", META_NEXT, "not 8 bytes"))?;
        Ok(u64::from_be_bytes(bytes))
    }

    fn took_over(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(META).map_err(self.storage())?;
        Ok(meta.get(META_TOOK_OVER).map_err(self.storage())?.is_some())
    }

    /// Appends entries, numbered on from the last sequence number ever given; durable when this
    /// returns (one fsync for the batch). An empty batch writes nothing.
    pub fn append(&self, entries: &[Vec<u8>]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut meta = txn.open_table(META).map_err(self.storage())?;
            let first = self.next_in(&meta)?;
            let mut table = txn.open_table(ENTRIES).map_err(self.storage())?;
            for (sequence, entry) in (first..).zip(entries) {
                table.insert(sequence, entry.as_slice()).map_err(self.storage())?;
            }
            let next = first + entries.len() as u64;
            meta.insert(META_NEXT, next.to_be_bytes().as_slice()).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())
    }

    /// Every entry, oldest first, with its sequence number.
    pub fn entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(ENTRIES).map_err(self.storage())?;
        let mut entries = Vec::new();
        for item in table.iter().map_err(self.storage())? {
            let (key, value) = item.map_err(self.storage())?;
            entries.push((key.value(), value.value().to_vec()));
        }
        Ok(entries)
    }

    /// Removes the entries with sequence numbers below `keep_from` (those of finished views),
    /// durably.
    pub fn prune(&self, keep_from: u64) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(self.storage())?;
            table.retain_in(..keep_from, |_, _| false).map_err(self.storage())?;
        }
        txn.commit().map_err(self.storage())
    }

    /// Reads a sign-guard record.
    pub fn guard_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(GUARD).map_err(self.storage())?;
        Ok(table.get(name).map_err(self.storage())?.map(|v| v.value().to_vec()))
    }

    /// Writes a sign-guard record, durably.
    pub fn guard_set(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.storage())?;
        txn.set_durability(Durability::Immediate).map_err(self.storage())?;
        txn.open_table(GUARD).map_err(self.storage())?.insert(name, value).map_err(self.storage())?;
        txn.commit().map_err(self.storage())
    }

    /// Moves the WAL entries and sign-guard records that `store` holds (from builds that kept
    /// the WAL in the block store) into this WAL, with their sequence numbers. Crash-safe in two
    /// durable steps: (1) copy them here, with the mark that the take-over happened, in one
    /// transaction; (2) delete them from the store. A crash between the two leaves the copy
    /// here and the originals there; the next call skips step 1 and redoes step 2, which deletes
    /// only records this WAL holds identically. Records that appear in the store after step 1
    /// (an older build run on this data directory), or records in both files before any
    /// take-over, are a [`StoreError::WalConflict`]: the node must not pick one and forget votes
    /// the other holds. Returns how many entries were copied (0 once done).
    pub fn take_over_from(&self, store: &Store) -> Result<usize, StoreError> {
        let old_entries = store.wal_entries()?;
        let old_guard = store.guard_records()?;
        let old_next = store.wal_next()?;
        let conflict = |reason: String| StoreError::WalConflict {
            wal: self.path.clone(),
            store: store.path.clone(),
            reason,
        };

        // Step 1: copy, durably, unless done before.
        let mut copied = 0;
        if !self.took_over()? {
            let mut txn = self.db.begin_write().map_err(self.storage())?;
            txn.set_durability(Durability::Immediate).map_err(self.storage())?;
            {
                let mut meta = txn.open_table(META).map_err(self.storage())?;
                let mut entries = txn.open_table(ENTRIES).map_err(self.storage())?;
                let mut guard = txn.open_table(GUARD).map_err(self.storage())?;
                let holds_own = !entries.is_empty().map_err(self.storage())?
                    || !guard.is_empty().map_err(self.storage())?;
                if holds_own && (!old_entries.is_empty() || !old_guard.is_empty()) {
                    return Err(conflict("both hold records and none was taken over yet".into()));
                }
                for (sequence, entry) in &old_entries {
                    entries.insert(*sequence, entry.as_slice()).map_err(self.storage())?;
                }
                for (name, value) in &old_guard {
                    guard.insert(name.as_str(), value.as_slice()).map_err(self.storage())?;
                }
                let next = self.next_in(&meta)?.max(old_next);
                meta.insert(META_NEXT, next.to_be_bytes().as_slice()).map_err(self.storage())?;
                meta.insert(META_TOOK_OVER, [1u8].as_slice()).map_err(self.storage())?;
            }
            txn.commit().map_err(self.storage())?;
            copied = old_entries.len();
        }

        // Step 2: delete from the store what this WAL now holds identically.
        if old_entries.is_empty() && old_guard.is_empty() {
            return Ok(copied);
        }
        let own_entries = self.entries()?;
        for (sequence, entry) in &old_entries {
            let own =
                own_entries.binary_search_by_key(sequence, |(own, _)| *own).ok().map(|at| &own_entries[at].1);
            if own != Some(entry) {
                return Err(conflict(format!(
                    "entry {sequence} of the data file is not in the WAL file as it is there"
                )));
            }
        }
        for (name, value) in &old_guard {
            if self.guard_get(name)?.as_ref() != Some(value) {
                return Err(conflict(format!("sign-guard record {name:?} differs")));
            }
        }
        if !store.clear_wal_records(&old_entries, &old_guard)? {
            return Err(conflict("the data file's WAL records changed during the take-over".into()));
        }
        Ok(copied)
    }
}

/// A fresh WAL id: unique, not secret (it only tells one WAL file from another), so a hash of
/// the clock, the process and the path does.
fn new_wal_id(path: &Path) -> [u8; 32] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tally wal id");
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(path.as_os_str().as_encoded_bytes());
    *hasher.finalize().as_bytes()
}
