//! The WAL in its own file: order, pruning, the sign guard, refusal of other files, and the
//! one-time take-over of the WAL records the block store held before — crash-safe at every
//! write, shown on the simulated disk.

mod common;

use tally_store::sim_disk::SimDisk;
use tally_store::{ChainIdentity, Store, StoreError, WAL_FILE_NAME, Wal};
use tally_types::{ChainId, Hash};

fn identity() -> ChainIdentity {
    ChainIdentity { chain_id: ChainId::new("tally-wal-test").expect("valid"), genesis_hash: Hash([5; 32]) }
}

#[test]
fn wal_appends_in_order_prunes_and_keeps_the_guard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(WAL_FILE_NAME);
    {
        let wal = Wal::open(&path).expect("open");
        assert!(wal.entries().expect("read").is_empty());
        wal.append(&[b"a".to_vec(), b"b".to_vec()]).expect("append");
        wal.append(&[]).expect("an empty batch");
        wal.append(&[b"c".to_vec()]).expect("append");
        wal.guard_set("notarize", b"view 9").expect("guard");
    }
    let wal = Wal::open(&path).expect("reopen");
    assert_eq!(
        wal.entries().expect("read"),
        vec![(0, b"a".to_vec()), (1, b"b".to_vec()), (2, b"c".to_vec())]
    );
    wal.prune(2).expect("prune");
    assert_eq!(wal.entries().expect("read"), vec![(2, b"c".to_vec())]);
    // Sequence numbers never repeat, even after pruning everything.
    wal.prune(u64::MAX).expect("prune all");
    wal.append(&[b"d".to_vec()]).expect("append");
    assert_eq!(wal.entries().expect("read"), vec![(3, b"d".to_vec())]);
    assert_eq!(wal.guard_get("notarize").expect("read"), Some(b"view 9".to_vec()));
    assert_eq!(wal.guard_get("finalize").expect("read"), None);
}

#[test]
fn the_wal_and_the_store_refuse_each_others_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    drop(Store::open(&store_path, &identity()).expect("store"));
    let error = Wal::open(&store_path).expect_err("a block store is not a WAL");
    assert!(error.to_string().contains("node.redb"), "{error}");
    let wal_path = dir.path().join(WAL_FILE_NAME);
    drop(Wal::open(&wal_path).expect("wal"));
    let error = Store::open(&wal_path, &identity()).expect_err("a WAL is not a block store");
    assert!(error.to_string().contains(WAL_FILE_NAME), "{error}");
}

#[test]
fn open_beside_takes_over_the_store_wal_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    {
        // A data directory written by a build that kept the WAL in node.redb.
        let store = Store::open(&store_path, &identity()).expect("open");
        store.wal_append(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]).expect("append");
        store.wal_prune(1).expect("prune");
        store.guard_set("notarize", b"view 9").expect("guard");
    }
    assert!(!dir.path().join(WAL_FILE_NAME).exists());
    {
        let store = Store::open(&store_path, &identity()).expect("reopen");
        let wal = Wal::open_beside(&store).expect("take over");
        assert_eq!(wal.path(), dir.path().join(WAL_FILE_NAME));
        assert_eq!(wal.entries().expect("read"), vec![(1, b"b".to_vec()), (2, b"c".to_vec())]);
        assert_eq!(wal.guard_get("notarize").expect("read"), Some(b"view 9".to_vec()));
        assert!(store.wal_entries().expect("read").is_empty(), "moved out of node.redb");
        assert_eq!(store.guard_get("notarize").expect("read"), None);
        // Numbering goes on from where node.redb left it.
        wal.append(&[b"d".to_vec()]).expect("append");
        assert_eq!(wal.entries().expect("read").last(), Some(&(3, b"d".to_vec())));
    }
    let store = Store::open(&store_path, &identity()).expect("reopen");
    let wal = Wal::open_beside(&store).expect("second open");
    assert_eq!(wal.take_over_from(&store).expect("nothing left"), 0);
    assert_eq!(wal.entries().expect("read").len(), 3);
}

#[test]
fn records_in_both_files_are_a_conflict_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("node.redb"), &identity()).expect("open");
    // After the take-over, an older build appends to node.redb again.
    let wal = Wal::open_beside(&store).expect("open");
    wal.append(&[b"new".to_vec()]).expect("append");
    store.wal_append(&[b"old build".to_vec()]).expect("append");
    drop(wal);
    let error = Wal::open_beside(&store).expect_err("conflict");
    assert!(matches!(error, StoreError::WalConflict { .. }), "{error}");
    assert!(error.to_string().contains("double vote"), "{error}");
    assert_eq!(store.wal_entries().expect("read"), vec![(0, b"old build".to_vec())]);

    // A WAL file used on its own before any take-over, beside a store with records.
    let other = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&other.path().join("node.redb"), &identity()).expect("open");
    store.wal_append(&[b"in the store".to_vec()]).expect("append");
    Wal::open(&other.path().join(WAL_FILE_NAME))
        .expect("open")
        .append(&[b"in the wal".to_vec()])
        .expect("append");
    let error = Wal::open_beside(&store).expect_err("conflict");
    assert!(matches!(error, StoreError::WalConflict { .. }), "{error}");
    assert_eq!(store.wal_entries().expect("read").len(), 1);
}

#[test]
fn open_beside_needs_a_store_on_a_file() {
    let disk = SimDisk::new();
    let store = Store::open_with_backend(disk.backend(), "sim-store", &identity()).expect("open");
    let error = Wal::open_beside(&store).expect_err("no directory");
    assert!(error.to_string().contains("open_with_backend"), "{error}");
}

/// The store of the take-over tests, holding WAL records as an older build left them.
fn old_layout(store_disk: &SimDisk) {
    let store = Store::open_with_backend(store_disk.backend(), "node", &identity()).expect("open");
    store.wal_append(&[b"a".to_vec(), b"b".to_vec()]).expect("append");
    store.wal_append(&[b"c".to_vec()]).expect("append");
    store.guard_set("notarize", b"view 4").expect("guard");
}

/// A power cut at every write of the take-over, on either file, and a crash of both disks:
/// the next take-over completes, and the WAL holds exactly the old records, once.
#[test]
fn the_take_over_survives_a_power_cut_at_every_write() {
    let expected = vec![(0, b"a".to_vec()), (1, b"b".to_vec()), (2, b"c".to_vec())];
    // How many writes the take-over makes on each disk, uninterrupted.
    let (store_writes, wal_writes) = {
        let (store_disk, wal_disk) = (SimDisk::new(), SimDisk::new());
        old_layout(&store_disk);
        let store = Store::open_with_backend(store_disk.backend(), "node", &identity()).expect("open");
        let wal = Wal::open_with_backend(wal_disk.backend(), "wal").expect("open");
        let (store_before, wal_before) = (store_disk.stats().writes, wal_disk.stats().writes);
        assert_eq!(wal.take_over_from(&store).expect("take over"), 3);
        (store_before..store_disk.stats().writes, wal_before..wal_disk.stats().writes)
    };
    let mut cases = 0;
    for (on_store, cut_at) in store_writes.map(|k| (true, k)).chain(wal_writes.map(|k| (false, k))) {
        for seed in 0..3u64 {
            let (store_disk, wal_disk) = (SimDisk::new(), SimDisk::new());
            old_layout(&store_disk);
            {
                let store =
                    Store::open_with_backend(store_disk.backend(), "node", &identity()).expect("open");
                let wal = Wal::open_with_backend(wal_disk.backend(), "wal").expect("open");
                if on_store {
                    store_disk.cut_power_at_write(cut_at);
                } else {
                    wal_disk.cut_power_at_write(cut_at);
                }
                // Fails: the power went during it. The machine goes down now.
                wal.take_over_from(&store).expect_err("the power went");
                store_disk.crash(seed);
                wal_disk.crash(seed.wrapping_mul(7) + 1);
            }
            let store = Store::open_with_backend(store_disk.backend(), "node", &identity()).expect("reopen");
            let wal = Wal::open_with_backend(wal_disk.backend(), "wal").expect("reopen wal");
            wal.take_over_from(&store).expect("the take-over completes after the crash");
            assert_eq!(wal.entries().expect("read"), expected, "cut at write {cut_at}, seed {seed}");
            assert_eq!(wal.guard_get("notarize").expect("read"), Some(b"view 4".to_vec()));
            assert!(store.wal_entries().expect("read").is_empty());
            assert_eq!(store.guard_get("notarize").expect("read"), None);
            wal.append(&[b"d".to_vec()]).expect("append");
            assert_eq!(wal.entries().expect("read").last(), Some(&(3, b"d".to_vec())));
            cases += 1;
        }
    }
    eprintln!("{cases} cases");
    assert!(cases >= 6, "the take-over writes on both disks");
}

/// Not a test: how long a WAL append takes while the storage writer commits groups of blocks,
/// with the WAL in node.redb (`Store::wal_append`) and in its own file (`Wal::append`).
/// `cargo test -p tally-store --test wal -- --ignored --nocapture measure_append`
#[test]
#[ignore]
fn measure_append_during_commits() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store = Store::open(&dir.path().join("node.redb"), &common::identity()).expect("open");
    let wal = Wal::open_beside(&store).expect("wal");
    let blocks: Vec<common::Prepared> = common::chain_of(4_000).iter().map(common::Prepared::of).collect();
    let stop = AtomicBool::new(false);
    let appends = 40;
    let (mut beside, mut apart) = (Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for group in blocks.chunks(8) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let commits: Vec<_> = group.iter().map(common::Prepared::commit).collect();
                store.commit_blocks(&commits).expect("commit");
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        for i in 0..appends {
            let entry = vec![format!("vote {i}").into_bytes()];
            let started = Instant::now();
            store.wal_append(&entry).expect("append in node.redb");
            beside.push(started.elapsed());
            let started = Instant::now();
            wal.append(&entry).expect("append in wal.redb");
            apart.push(started.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
    });
    let summary = |mut times: Vec<Duration>| {
        times.sort();
        format!("median {:?}, max {:?}", times[times.len() / 2], times[times.len() - 1])
    };
    eprintln!(
        "WAL append while groups of 8 blocks commit: in node.redb {}; in wal.redb {}",
        summary(beside),
        summary(apart)
    );
}

/// A data directory whose node.redb has been used with a WAL file: opened and one vote kept.
fn used_data_directory() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    let store = Store::open(&store_path, &identity()).expect("open");
    let wal = Wal::open_beside(&store).expect("wal");
    wal.guard_set("notarize", b"view 9").expect("guard");
    (dir, store_path)
}

#[test]
fn a_lost_or_emptied_wal_file_is_refused_and_not_made_anew() {
    let (dir, store_path) = used_data_directory();
    let wal_path = dir.path().join(WAL_FILE_NAME);
    std::fs::remove_file(&wal_path).expect("lose the WAL");
    let store = Store::open(&store_path, &identity()).expect("the data file itself is fine");
    let error = Wal::open_beside(&store).expect_err("the vote history is gone");
    assert!(matches!(error, StoreError::WalMissing { .. }), "{error}");
    assert!(error.to_string().contains("missing or empty"), "{error}");
    assert!(error.to_string().contains("signing twice"), "{error}");
    assert!(!wal_path.exists(), "a refused start creates nothing");

    std::fs::write(&wal_path, b"").expect("an emptied WAL file");
    let error = Wal::open_beside(&store).expect_err("an empty file is no history either");
    assert!(matches!(error, StoreError::WalMissing { .. }), "{error}");
    assert_eq!(std::fs::metadata(&wal_path).expect("still there").len(), 0, "left as found");
}

#[test]
fn a_wal_file_from_another_data_directory_is_refused() {
    let (dir, store_path) = used_data_directory();
    let (other, _) = used_data_directory();
    std::fs::copy(other.path().join(WAL_FILE_NAME), dir.path().join(WAL_FILE_NAME)).expect("swap");
    let store = Store::open(&store_path, &identity()).expect("open");
    let error = Wal::open_beside(&store).expect_err("not this directory's WAL");
    assert!(matches!(error, StoreError::WalMissing { .. }), "{error}");
    assert!(error.to_string().contains("not the one this data directory wrote"), "{error}");
}

#[test]
fn a_kept_wal_beside_a_new_data_file_is_used_and_remembers_its_votes() {
    let (dir, store_path) = used_data_directory();
    std::fs::remove_file(&store_path).expect("lose the block store, keep the WAL");
    {
        let store = Store::open(&store_path, &identity()).expect("a new data file");
        let wal = Wal::open_beside(&store).expect("the kept WAL is adopted");
        assert_eq!(wal.guard_get("notarize").expect("read"), Some(b"view 9".to_vec()));
    }
    // Adopted for good: losing the WAL now is refused like for any used data file.
    std::fs::remove_file(dir.path().join(WAL_FILE_NAME)).expect("lose the WAL");
    let store = Store::open(&store_path, &identity()).expect("open");
    assert!(matches!(Wal::open_beside(&store), Err(StoreError::WalMissing { .. })));
}

/// The schema version recorded in a data file, read with redb directly.
fn raw_schema(path: &std::path::Path) -> u32 {
    let db = redb::Database::open(path).expect("redb");
    let txn = redb::ReadableDatabase::begin_read(&db).expect("read");
    let meta = txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("meta")).expect("meta");
    let bytes = meta.get("schema_version").expect("get").expect("present");
    u32::from_be_bytes(bytes.value().try_into().expect("4 bytes"))
}

#[test]
fn a_schema_1_data_file_is_upgraded_so_that_older_builds_refuse_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    {
        let store = Store::open(&store_path, &identity()).expect("open");
        store.wal_append(&[b"vote".to_vec()]).expect("append");
    }
    assert_eq!(raw_schema(&store_path), tally_store::SCHEMA_VERSION);
    {
        // Rewrite the version as a build that kept the WAL in node.redb wrote it.
        let db = redb::Database::open(&store_path).expect("redb");
        let txn = db.begin_write().expect("write");
        txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("meta"))
            .expect("meta")
            .insert("schema_version", 1u32.to_be_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    assert_eq!(raw_schema(&store_path), 1);
    let store = Store::open(&store_path, &identity()).expect("a version 1 file opens");
    let wal = Wal::open_beside(&store).expect("and its WAL moves out");
    assert_eq!(wal.entries().expect("read"), vec![(0, b"vote".to_vec())]);
    drop((wal, store));
    assert_eq!(raw_schema(&store_path), 4, "an older build now meets a version it refuses");
    assert_eq!(tally_store::SCHEMA_VERSION, 4);
}

#[test]
fn a_schema_2_data_file_is_raised_to_3_with_indexes_from_the_next_height() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    {
        let store = Store::open(&store_path, &identity()).expect("open");
        assert_eq!(store.index_from().expect("index_from"), tally_types::Height(1), "a new file indexes all");
    }
    {
        // Rewrite the file as a schema-2 build left it: no index_from, height 7.
        let db = redb::Database::open(&store_path).expect("redb");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("meta")).expect("meta");
            meta.insert("schema_version", 2u32.to_be_bytes().as_slice()).expect("insert");
            meta.remove("index_from").expect("remove");
            meta.insert("height", 7u64.to_be_bytes().as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let store = Store::open(&store_path, &identity()).expect("a version 2 file opens");
    assert_eq!(store.index_from().expect("index_from"), tally_types::Height(8));
    drop(store);
    assert_eq!(raw_schema(&store_path), 4, "a version-2 build now refuses the file");
}

#[test]
fn a_schema_3_data_file_is_raised_to_4_and_keeps_its_merged_histories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("node.redb");
    let blocks = common::chain_of(2);
    let recipient = tally_types::SecretKey::from_seed(&[0xee; 32]).public_key();
    {
        // A version-3 build wrote every account entry straight into account_txs.
        let store = Store::open(&store_path, &common::identity()).expect("open");
        for block in &blocks {
            store.commit_block(&common::Prepared::of(block).commit()).expect("commit");
        }
        store.merge_account_postings().expect("merge");
        assert_eq!(store.postings_pending().expect("pending"), 0);
    }
    {
        let db = redb::Database::open(&store_path).expect("redb");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("meta")).expect("meta");
            meta.insert("schema_version", 3u32.to_be_bytes().as_slice()).expect("insert");
            meta.remove("postings_pending").expect("remove");
        }
        txn.commit().expect("commit");
    }
    let store = Store::open(&store_path, &common::identity()).expect("a version 3 file opens");
    assert_eq!(store.postings_pending().expect("pending"), 0);
    let history = store.account_history(&recipient, None, 10).expect("history");
    let found: Vec<(u64, u32)> = history.iter().map(|entry| (entry.height.0, entry.tx_index)).collect();
    assert_eq!(found, vec![(2, 1), (2, 0), (1, 1), (1, 0)]);
    drop(store);
    assert_eq!(raw_schema(&store_path), 4, "a version-3 build now refuses the file");
}
