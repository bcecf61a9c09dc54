//! The store and the WAL on the simulated disk: a short workload (open, genesis state, group
//! and single block commits, WAL appends, a guard record, a prune) is cut by a power failure at
//! every write and every fsync it makes, the disks crash (keeping a seed-chosen, possibly torn prefix of the
//! unsynced writes), and both files reopen holding exactly what was acknowledged — plus, at
//! most, the whole operation that was in flight. The same for an I/O error at every write, and
//! for a disk whose fsync lies.

mod common;

use std::ops::Range;
use std::sync::OnceLock;

use common::{Prepared, chain_of, identity};
use tally_store::sim_disk::{CrashReport, SimDisk};
use tally_store::{BlockCommit, Store, Wal};
use tally_types::{Block, Height, TxId};

/// One operation of the workload.
#[derive(Clone, Debug)]
enum Step {
    OpenStore,
    OpenWal,
    Genesis,
    /// Commits these blocks (1-based heights) in one `commit_blocks` call.
    Commit(Range<usize>),
    Append(Vec<&'static str>),
    Guard(&'static str),
    Prune(u64),
}

impl Step {
    fn on_wal(&self) -> bool {
        matches!(self, Step::OpenWal | Step::Append(_) | Step::Guard(_) | Step::Prune(_))
    }
}

const BLOCKS: usize = 8;

fn workload() -> Vec<Step> {
    vec![
        Step::OpenStore,
        Step::OpenWal,
        Step::Genesis,
        Step::Append(vec!["propose 1", "notarize 1"]),
        Step::Commit(1..3),
        Step::Append(vec!["finalize 2"]),
        Step::Guard("view 3"),
        Step::Commit(3..4),
        Step::Commit(4..7),
        Step::Prune(2),
        Step::Append(vec!["notarize 7", "finalize 7"]),
        Step::Commit(7..9),
    ]
}

/// A node's two disks and what is open on them.
struct Node {
    store_disk: SimDisk,
    wal_disk: SimDisk,
    store: Option<Store>,
    wal: Option<Wal>,
}

impl Node {
    /// A node with formatted disks: both files created (and closed) before any fault, since
    /// creating a file on a backend is not atomic (see `Store::open_with_backend`). Formatted
    /// once, then duplicated.
    fn new() -> Node {
        static FORMATTED: OnceLock<(SimDisk, SimDisk)> = OnceLock::new();
        let (store_disk, wal_disk) = FORMATTED.get_or_init(|| {
            let (store_disk, wal_disk) = (SimDisk::new(), SimDisk::new());
            drop(Store::open_with_backend(store_disk.backend(), "node", &identity()).expect("format"));
            drop(Wal::open_with_backend(wal_disk.backend(), "wal").expect("format"));
            (store_disk, wal_disk)
        });
        Node { store_disk: store_disk.duplicate(), wal_disk: wal_disk.duplicate(), store: None, wal: None }
    }

    fn disk_of(&self, step: &Step) -> &SimDisk {
        if step.on_wal() { &self.wal_disk } else { &self.store_disk }
    }

    /// Runs one step; Err when the disk failed under it.
    fn run(&mut self, step: &Step, blocks: &[Prepared]) -> Result<(), String> {
        let store = || self.store.as_ref().ok_or("no store");
        let wal = || self.wal.as_ref().ok_or("no wal");
        let result = match step {
            Step::OpenStore => {
                self.store = Some(
                    Store::open_with_backend(self.store_disk.backend(), "node", &identity())
                        .map_err(|error| error.to_string())?,
                );
                Ok(())
            }
            Step::OpenWal => {
                self.wal = Some(
                    Wal::open_with_backend(self.wal_disk.backend(), "wal")
                        .map_err(|error| error.to_string())?,
                );
                Ok(())
            }
            Step::Genesis => {
                let (state, tree) = genesis();
                store()?.init_genesis_state(&state, &tree)
            }
            Step::Commit(heights) => {
                let commits: Vec<BlockCommit<'_>> =
                    blocks[heights.start - 1..heights.end - 1].iter().map(Prepared::commit).collect();
                store()?.commit_blocks(&commits).map(|_| ())
            }
            Step::Append(entries) => {
                wal()?.append(&entries.iter().map(|entry| entry.as_bytes().to_vec()).collect::<Vec<_>>())
            }
            Step::Guard(value) => wal()?.guard_set("notarize", value.as_bytes()),
            Step::Prune(keep_from) => wal()?.prune(*keep_from),
        };
        result.map_err(|error| error.to_string())
    }

    /// The power fails: both disks crash, and whatever was open dies with the process.
    fn crash(&mut self, seed: u64) -> (CrashReport, CrashReport) {
        let reports = (self.store_disk.crash(seed), self.wal_disk.crash(seed ^ 0x5eed));
        self.store = None;
        self.wal = None;
        reports
    }

    /// Restarts: opens both files again (redb repairs them) and reads everything.
    fn reopen_and_view(&mut self) -> (StoreView, WalView) {
        let store = Store::open_with_backend(self.store_disk.backend(), "node", &identity())
            .expect("the store opens after a crash");
        let wal =
            Wal::open_with_backend(self.wal_disk.backend(), "wal").expect("the WAL opens after a crash");
        let views = (store_view(&store), wal_view(&wal));
        self.store = Some(store);
        self.wal = Some(wal);
        views
    }
}

/// Byte writes as a commit takes them (`None` deletes).
type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn genesis() -> (Writes, Writes) {
    let state = (0..3u8).map(|i| (format!("genesis{i}").into_bytes(), Some(vec![i; 40]))).collect();
    let tree = vec![(b"root".to_vec(), Some(vec![0; 32]))];
    (state, tree)
}

/// Everything a reader can see of the store.
#[derive(Clone, Debug, PartialEq)]
struct StoreView {
    height: Height,
    genesis_state: bool,
    state: Vec<(Vec<u8>, Vec<u8>)>,
    root: Option<Vec<u8>>,
    blocks: Vec<Option<Block>>,
    certificates: usize,
    indexed_txs: usize,
}

/// The ids of the workload's transactions (signing them is the slow part; do it once).
fn tx_ids() -> &'static [TxId] {
    static IDS: OnceLock<Vec<TxId>> = OnceLock::new();
    IDS.get_or_init(|| {
        chain_of(BLOCKS as u64).iter().flat_map(|block| block.txs.iter().map(|tx| tx.id())).collect()
    })
}

fn store_view(store: &Store) -> StoreView {
    let snapshot = store.snapshot().expect("snapshot");
    StoreView {
        height: store.height().expect("height"),
        genesis_state: store.has_genesis_state().expect("read"),
        state: snapshot.state_with_prefix(&[], 1_000).expect("state"),
        root: snapshot.tree_get(b"root").expect("tree"),
        blocks: (1..=BLOCKS as u64).map(|height| store.block(Height(height)).expect("read")).collect(),
        certificates: (1..=BLOCKS as u64)
            .filter(|height| store.certificate(Height(*height)).expect("read").is_some())
            .count(),
        indexed_txs: tx_ids().iter().filter(|id| store.tx_location(id).expect("read").is_some()).count(),
    }
}

/// Everything a reader can see of the WAL.
#[derive(Clone, Debug, PartialEq)]
struct WalView {
    entries: Vec<(u64, Vec<u8>)>,
    guard: Option<Vec<u8>>,
}

fn wal_view(wal: &Wal) -> WalView {
    WalView { entries: wal.entries().expect("entries"), guard: wal.guard_get("notarize").expect("guard") }
}

/// The views after each step of an undisturbed run (index 0: before the first step, a file not
/// yet open reads as it does when freshly formatted), and each step's write range on its disk.
struct Reference {
    after: Vec<(StoreView, WalView)>,
    writes: Vec<Range<u64>>,
    syncs: Vec<Range<u64>>,
}

fn reference(steps: &[Step], blocks: &[Prepared]) -> Reference {
    let fresh = {
        let mut node = Node::new();
        node.reopen_and_view()
    };
    let mut node = Node::new();
    let mut after = vec![fresh.clone()];
    let (mut writes, mut syncs) = (Vec::new(), Vec::new());
    for step in steps {
        let stats_before = node.disk_of(step).stats();
        node.run(step, blocks).expect("no fault");
        let stats_after = node.disk_of(step).stats();
        writes.push(stats_before.writes..stats_after.writes);
        syncs.push(stats_before.syncs..stats_after.syncs);
        let store_view = node.store.as_ref().map(store_view).unwrap_or_else(|| fresh.0.clone());
        let wal_view = node.wal.as_ref().map(wal_view).unwrap_or_else(|| fresh.1.clone());
        after.push((store_view, wal_view));
    }
    Reference { after, writes, syncs }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    PowerCutAtWrite,
    PowerCutAtSync,
    IoError,
}

/// Runs the workload with `fault` at write (or sync) `index` of the disk step `at` writes to, crashes,
/// reopens, and checks that each file holds what was acknowledged, or that plus the whole step
/// in flight.
/// What a crash run ended with, for the test's summary line.
#[derive(Default)]
struct Tally {
    runs: usize,
    in_flight_kept: usize,
    torn: usize,
}

/// Where a fault strikes: write (or sync) `index` of the disk that step `at` writes to; then a
/// crash with `seed`.
#[derive(Clone, Copy)]
struct Cut {
    at: usize,
    index: u64,
    fault: Fault,
    seed: u64,
}

fn run_with_fault(steps: &[Step], blocks: &[Prepared], reference: &Reference, cut: Cut, tally: &mut Tally) {
    let Cut { at, index, fault, seed } = cut;
    let mut node = Node::new();
    let disk = node.disk_of(&steps[at]).clone();
    match fault {
        Fault::PowerCutAtWrite => disk.cut_power_at_write(index),
        Fault::PowerCutAtSync => disk.cut_power_at_sync(index),
        Fault::IoError => disk.fail_write(index),
    }
    let mut failed = None;
    for (number, step) in steps.iter().enumerate() {
        if let Err(error) = node.run(step, blocks) {
            failed = Some((number, error));
            break;
        }
    }
    let context = format!("{fault:?} {index} (step {at}: {:?}), seed {seed}", steps[at]);
    let (number, _) = failed.unwrap_or_else(|| panic!("{context}: no step failed"));
    assert_eq!(number, at, "{context}: the step that wrote it failed");
    let reports = node.crash(seed);
    tally.runs += 1;
    tally.torn += usize::from(reports.0.torn_bytes.is_some() || reports.1.torn_bytes.is_some());
    let (store, wal) = node.reopen_and_view();
    let (acknowledged, in_flight) = (&reference.after[at], &reference.after[at + 1]);
    assert!(
        store == acknowledged.0 || (!steps[at].on_wal() && store == in_flight.0),
        "{context}: the store holds neither what was acknowledged nor that plus the step in flight: \
         {store:?}"
    );
    assert!(
        wal == acknowledged.1 || (steps[at].on_wal() && wal == in_flight.1),
        "{context}: the WAL holds neither what was acknowledged nor that plus the step in flight: {wal:?}"
    );
    // The node goes on from there: the rest of the workload completes on the repaired files.
    let resume_from = if store == acknowledged.0 && wal == acknowledged.1 {
        at
    } else {
        tally.in_flight_kept += 1;
        at + 1
    };
    for step in &steps[resume_from..] {
        if matches!(step, Step::OpenStore | Step::OpenWal) {
            continue;
        }
        node.run(step, blocks).unwrap_or_else(|error| panic!("{context}: resuming {step:?}: {error}"));
    }
    let last = reference.after.last().expect("views");
    assert_eq!(&node.store.as_ref().map(store_view).expect("open"), &last.0, "{context}: resumed store");
    assert_eq!(&node.wal.as_ref().map(wal_view).expect("open"), &last.1, "{context}: resumed WAL");
}

#[test]
fn a_power_cut_or_an_io_error_at_every_write_or_sync_leaves_exactly_what_was_acknowledged() {
    let steps = workload();
    let blocks: Vec<Prepared> = chain_of(BLOCKS as u64).iter().map(Prepared::of).collect();
    let reference = reference(&steps, &blocks);
    let mut tally = Tally::default();
    for (at, writes) in reference.writes.iter().enumerate() {
        for index in writes.clone() {
            // Two crashes per cut, seeded from the cut, so different cuts keep different tails.
            for seed in [index, index + 1_000] {
                let cut = Cut { at, index, fault: Fault::PowerCutAtWrite, seed };
                run_with_fault(&steps, &blocks, &reference, cut, &mut tally);
            }
            let cut = Cut { at, index, fault: Fault::IoError, seed: 0 };
            run_with_fault(&steps, &blocks, &reference, cut, &mut tally);
        }
        for index in reference.syncs[at].clone() {
            for seed in [index, index + 1_000, index + 2_000] {
                let cut = Cut { at, index, fault: Fault::PowerCutAtSync, seed };
                run_with_fault(&steps, &blocks, &reference, cut, &mut tally);
            }
        }
    }
    let writes: u64 = reference.writes.iter().map(|range| range.end - range.start).sum();
    eprintln!(
        "{writes} writes, {} crash runs: {} kept the step in flight whole, {} tore a write",
        tally.runs, tally.in_flight_kept, tally.torn
    );
    assert!(writes > 40, "the workload writes enough to be interesting");
}

#[test]
fn a_crash_with_no_fault_keeps_everything_acknowledged() {
    let steps = workload();
    let blocks: Vec<Prepared> = chain_of(BLOCKS as u64).iter().map(Prepared::of).collect();
    let reference = reference(&steps, &blocks);
    for seed in 0..8 {
        let mut node = Node::new();
        for step in &steps {
            node.run(step, &blocks).expect("no fault");
        }
        node.crash(seed);
        assert_eq!(&node.reopen_and_view(), reference.after.last().expect("views"), "seed {seed}");
    }
}

/// A disk whose fsync lies from step `lie_from` on. What the node acknowledged since may be
/// lost at a crash: the store then reopens at an older acknowledged point (never half a step),
/// or redb finds the damage and refuses to open. The disk reports every such loss
/// (`CrashReport::lost_acknowledged`), which is how the simulator knows to count the node as
/// faulty; the store itself cannot tell an old state from a current one.
#[test]
fn a_lying_fsync_loses_acknowledged_writes_and_the_disk_says_so() {
    let steps = workload();
    let blocks: Vec<Prepared> = chain_of(BLOCKS as u64).iter().map(Prepared::of).collect();
    let reference = reference(&steps, &blocks);
    let lie_from = 4; // the first block commit
    let (mut lost, mut refused, mut kept) = (0, 0, 0);
    for seed in 0..20u64 {
        let mut node = Node::new();
        for (number, step) in steps.iter().enumerate() {
            if number == lie_from {
                node.store_disk.set_lying_fsync(true);
                node.wal_disk.set_lying_fsync(true);
            }
            node.run(step, &blocks).expect("a lying disk reports no error");
        }
        let (store_report, wal_report) = node.crash(seed);
        let store = Store::open_with_backend(node.store_disk.backend(), "node", &identity());
        let wal = Wal::open_with_backend(node.wal_disk.backend(), "wal");
        let (Ok(store), Ok(wal)) = (store, wal) else {
            assert!(store_report.lost_acknowledged || wal_report.lost_acknowledged, "seed {seed}");
            refused += 1;
            continue;
        };
        let (store, wal) = (store_view(&store), wal_view(&wal));
        let last = reference.after.last().expect("views");
        // Whatever survived is the state after some step at or after the last honest sync.
        let point = reference.after[lie_from..]
            .iter()
            .position(|views| views.0 == store)
            .unwrap_or_else(|| panic!("seed {seed}: the store is at no acknowledged point: {store:?}"));
        assert!(reference.after[lie_from..].iter().any(|views| views.1 == wal), "seed {seed}: WAL {wal:?}");
        if store != last.0 {
            assert!(
                store_report.lost_acknowledged,
                "seed {seed}: the store lost step views {point}.. unreported"
            );
        }
        if wal != last.1 {
            assert!(wal_report.lost_acknowledged, "seed {seed}: the WAL lost writes unreported");
        }
        if store == last.0 && wal == last.1 { kept += 1 } else { lost += 1 }
    }
    eprintln!(
        "lying fsync over 20 crashes: {lost} lost acknowledged writes, {refused} refused to open, {kept} kept all"
    );
    assert!(lost + refused > 0, "a lying fsync loses acknowledged writes at some crash");
}

/// The same seed on the same workload gives the same bytes: the simulator's runs replay.
#[test]
fn the_disk_is_deterministic() {
    let steps = workload();
    let blocks: Vec<Prepared> = chain_of(BLOCKS as u64).iter().map(Prepared::of).collect();
    let run = || {
        let mut node = Node::new();
        node.store_disk.cut_power_at_write(30);
        for step in &steps {
            if node.run(step, &blocks).is_err() {
                break;
            }
        }
        let reports = node.crash(11);
        (reports, node.store_disk.stats(), node.reopen_and_view())
    };
    assert_eq!(run(), run());
}

/// The simulated disk behaves like a file for redb: reopen without a crash keeps everything,
/// and a second open while one is live is refused.
#[test]
fn a_second_open_of_a_live_disk_is_refused() {
    let disk = SimDisk::new();
    let store = Store::open_with_backend(disk.backend(), "node", &identity()).expect("open");
    let error = Store::open_with_backend(disk.backend(), "node", &identity()).expect_err("in use");
    assert!(error.to_string().contains("in use"), "{error}");
    drop(store);
    let _again = Store::open_with_backend(disk.backend(), "node", &identity()).expect("after close");
}
