//! A simulated disk for redb: the store and the WAL run on it unchanged, and the simulator
//! decides what a power cut leaves behind.
//!
//! [`SimDisk`] keeps two images of one file in memory: the *volatile* image (what reads see —
//! every write so far, like the OS page cache) and the *durable* image (what is on the platter).
//! Writes and length changes land in the volatile image and in a list of unsynced changes;
//! `sync_data` applies that list to the durable image. [`SimDisk::crash`] turns the disk into
//! what survives a power cut: the durable image plus, chosen from the seed, a prefix of the
//! unsynced changes in the order they were issued, the last one possibly cut mid-write.
//!
//! Faults a test or the simulator can switch on:
//! - a *lying fsync* ([`SimDisk::set_lying_fsync`]): `sync_data` answers Ok but makes nothing
//!   durable until an honest sync later. A node on such a disk is faulty: it may lose writes it
//!   acknowledged, and [`CrashReport::lost_acknowledged`] tells the simulator so;
//! - an I/O error at the Nth write ([`SimDisk::fail_write`]): that write fails once and is not
//!   applied;
//! - a power cut at the Nth write or the Nth sync ([`SimDisk::cut_power_at_write`],
//!   [`SimDisk::cut_power_at_sync`]): that call and every operation after it fail, as if the
//!   machine stopped, until [`SimDisk::crash`]. A cut at a sync is the crash between the last
//!   write of a commit and its fsync: whether the commit survives is up to the crash's seed.
//!
//! It is deterministic: no clock, no OS randomness, no hash-map order; the same operations and
//! the same seed give the same bytes. A `SimDisk` is a cheap handle (clone it freely); each open
//! of a database takes a [`SimBackend`] from [`SimDisk::backend`], and a crash kills every
//! backend handed out before it, so a database object that outlives its "process" (and is
//! dropped after the crash) cannot write to the disk the next process opens.

use std::fmt;
use std::io;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{BackendError, StorageBackend};

/// A simulated disk holding one file. See the [module documentation](self).
#[derive(Clone, Default)]
pub struct SimDisk {
    shared: Arc<Mutex<Disk>>,
}

/// The redb storage backend for one open of a [`SimDisk`]; dead (every call fails) after the
/// disk's next crash.
pub struct SimBackend {
    shared: Arc<Mutex<Disk>>,
    /// The disk generation this backend belongs to; a crash starts a new one.
    generation: u64,
    /// Tells this backend's whole-storage lock apart from another open's.
    id: u64,
}

/// What a crash kept of the unsynced changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashReport {
    /// Writes and length changes issued since the last honest sync.
    pub unsynced_changes: usize,
    /// How many of them, from the first, survived whole.
    pub kept_changes: usize,
    /// Bytes of the next change that survived when it was a write cut mid-way.
    pub torn_bytes: Option<usize>,
    /// True when a lying sync had acknowledged changes that this crash lost: the node on this
    /// disk may have lost what it promised, and counts as faulty.
    pub lost_acknowledged: bool,
}

/// Counters of a disk's life, for tests and the simulator's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimDiskStats {
    /// Write calls so far, failed ones included (the index the next write gets).
    pub writes: u64,
    /// `sync_data` calls so far, failed and lying ones included (the index the next one gets).
    pub syncs: u64,
    /// `sync_data` calls that answered Ok and made nothing durable.
    pub lying_syncs: u64,
    /// Crashes so far.
    pub crashes: u64,
    /// Changes not yet durable.
    pub unsynced_changes: usize,
    /// Length of the volatile image.
    pub len: u64,
}

#[derive(Default)]
struct Disk {
    volatile: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Change>,
    generation: u64,
    next_backend_id: u64,
    /// The backend holding the whole-storage lock (redb takes it at open).
    locked_by: Option<u64>,
    lying_fsync: bool,
    /// Some lying sync answered Ok since the last honest one.
    lied_since_sync: bool,
    fail_write_at: Option<u64>,
    power_cut_at_write: Option<u64>,
    power_cut_at_sync: Option<u64>,
    powered_off: bool,
    stats: SimDiskStats,
}

#[derive(Clone)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        // A panic while holding the lock leaves the images whole (every change is applied
        // with plain Vec operations), so a poisoned lock is read through.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An independent disk with the same contents (both images and the unsynced changes) and
    /// the same fault settings, and nothing open on it: for starting many runs from one
    /// formatted disk without formatting each.
    pub fn duplicate(&self) -> SimDisk {
        let disk = self.disk();
        let copy = Disk {
            volatile: disk.volatile.clone(),
            durable: disk.durable.clone(),
            unsynced: disk.unsynced.clone(),
            generation: 0,
            next_backend_id: 0,
            locked_by: None,
            lying_fsync: disk.lying_fsync,
            lied_since_sync: disk.lied_since_sync,
            fail_write_at: disk.fail_write_at,
            power_cut_at_write: disk.power_cut_at_write,
            power_cut_at_sync: disk.power_cut_at_sync,
            powered_off: disk.powered_off,
            stats: disk.stats,
        };
        SimDisk { shared: Arc::new(Mutex::new(copy)) }
    }

    /// An independent disk holding only this disk's durable image, as a power cut that kept
    /// none of the unsynced changes would leave it, with no faults set: for checks that read
    /// what is durable without crashing the disk.
    pub fn durable_copy(&self) -> SimDisk {
        let disk = self.disk();
        let copy = Disk { volatile: disk.durable.clone(), durable: disk.durable.clone(), ..Disk::default() };
        SimDisk { shared: Arc::new(Mutex::new(copy)) }
    }

    /// A backend for opening a database on this disk, alive until the next crash.
    pub fn backend(&self) -> SimBackend {
        let mut disk = self.disk();
        disk.next_backend_id += 1;
        SimBackend { shared: Arc::clone(&self.shared), generation: disk.generation, id: disk.next_backend_id }
    }

    /// Cuts the power: the disk becomes the durable image plus, chosen by `seed`, a prefix of
    /// the unsynced changes, the last possibly torn. Every backend handed out so far dies; the
    /// power comes back on for the next open. Faults set with [`Self::fail_write`] and the lying
    /// mode stay as they were; a pending power cut is spent.
    pub fn crash(&self, seed: u64) -> CrashReport {
        let mut disk = self.disk();
        let mut random = SplitMix64(seed);
        let unsynced = std::mem::take(&mut disk.unsynced);
        let kept_changes = random.below(unsynced.len() as u64 + 1) as usize;
        let mut image = std::mem::take(&mut disk.durable);
        for change in &unsynced[..kept_changes] {
            change.apply(&mut image, None);
        }
        let mut torn_bytes = None;
        if let Some(Change::Write { data, .. }) = unsynced.get(kept_changes)
            && random.below(2) == 1
        {
            // Some bytes of the write reached the platter, not all (zero is a possible cut:
            // the write began but no byte of it landed).
            let cut = random.below(data.len() as u64) as usize;
            unsynced[kept_changes].apply(&mut image, Some(cut));
            torn_bytes = Some(cut);
        }
        let lost_acknowledged = disk.lied_since_sync && kept_changes < unsynced.len();
        disk.volatile = image.clone();
        disk.durable = image;
        disk.generation += 1;
        disk.locked_by = None;
        disk.lied_since_sync = false;
        disk.powered_off = false;
        disk.power_cut_at_write = None;
        disk.power_cut_at_sync = None;
        disk.stats.crashes += 1;
        CrashReport { unsynced_changes: unsynced.len(), kept_changes, torn_bytes, lost_acknowledged }
    }

    /// While on, `sync_data` answers Ok but nothing becomes durable; the first honest sync after
    /// it is turned off makes everything durable again. Until then every change is kept in
    /// memory as unsynced (the simulator bounds how long a disk lies).
    pub fn set_lying_fsync(&self, lying: bool) {
        self.disk().lying_fsync = lying;
    }

    /// The write with index `index` (counting every write call over the disk's life from 0;
    /// see [`SimDiskStats::writes`]) fails once with an I/O error and is not applied.
    pub fn fail_write(&self, index: u64) {
        self.disk().fail_write_at = Some(index);
    }

    /// From the write with index `index` on, every operation fails, as if the machine lost
    /// power at that instant, until [`Self::crash`] decides what survived.
    pub fn cut_power_at_write(&self, index: u64) {
        self.disk().power_cut_at_write = Some(index);
    }

    /// The sync with index `index` (counting every `sync_data` call from 0; see
    /// [`SimDiskStats::syncs`]) does not happen: the power goes at that instant, and every
    /// operation fails until [`Self::crash`].
    pub fn cut_power_at_sync(&self, index: u64) {
        self.disk().power_cut_at_sync = Some(index);
    }

    /// True after a power cut, until the crash.
    pub fn is_powered_off(&self) -> bool {
        self.disk().powered_off
    }

    /// Counters of the disk's life so far.
    pub fn stats(&self) -> SimDiskStats {
        let disk = self.disk();
        SimDiskStats { unsynced_changes: disk.unsynced.len(), len: disk.volatile.len() as u64, ..disk.stats }
    }
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDisk").field("stats", &self.stats()).finish()
    }
}

impl Change {
    /// Applies the change to `image`; for a write, only its first `cut` bytes when given.
    fn apply(&self, image: &mut Vec<u8>, cut: Option<usize>) {
        match self {
            Change::Write { offset, data } => {
                let data = &data[..cut.unwrap_or(data.len())];
                // Offsets were checked to fit usize when the write was issued.
                let start = *offset as usize;
                let end = start + data.len();
                if image.len() < end {
                    set_len(image, end);
                }
                image[start..end].copy_from_slice(data);
            }
            Change::SetLen(len) => set_len(image, *len as usize),
        }
    }
}

/// Resizes `image`, new bytes zero. (`Vec::resize` fills byte by byte, which in the
/// unoptimized test builds costs milliseconds per megabyte; a zeroed allocation and a copy
/// do not.)
fn set_len(image: &mut Vec<u8>, len: usize) {
    if len <= image.len() {
        image.truncate(len);
    } else {
        let mut grown = vec![0u8; len];
        grown[..image.len()].copy_from_slice(image);
        *image = grown;
    }
}

/// A small deterministic generator (SplitMix64), so a crash depends on its seed alone.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }
}

impl SimBackend {
    /// The disk, if this backend is still alive and the power is on.
    fn live_disk(&self) -> Result<MutexGuard<'_, Disk>, io::Error> {
        let disk = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if disk.generation != self.generation {
            return Err(io::Error::other("simulated disk: this open did not survive a crash"));
        }
        if disk.powered_off {
            return Err(io::Error::other("simulated disk: power is off"));
        }
        Ok(disk)
    }

    fn whole_storage(start: Bound<u64>, end: Bound<u64>) -> bool {
        matches!(start, Bound::Unbounded | Bound::Included(0)) && matches!(end, Bound::Unbounded)
    }

    /// Takes the whole-storage lock for this backend. Only whole-storage locks are offered,
    /// which redb accepts for its default exclusive-writer mode: a second open of the same disk
    /// is refused as `DatabaseAlreadyOpen`, like a second open of a real file.
    fn try_lock(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        if !Self::whole_storage(start, end) {
            return Err(BackendError::Unsupported);
        }
        let mut disk = self.live_disk()?;
        match disk.locked_by {
            Some(holder) if holder != self.id => Ok(false),
            _ => {
                disk.locked_by = Some(self.id);
                Ok(true)
            }
        }
    }
}

impl fmt::Debug for SimBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimBackend").field("generation", &self.generation).field("id", &self.id).finish()
    }
}

fn to_usize(value: u64) -> Result<usize, io::Error> {
    usize::try_from(value).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))
}

impl StorageBackend for SimBackend {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.live_disk()?.volatile.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let disk = self.live_disk()?;
        let start = to_usize(offset)?;
        let end =
            start.checked_add(out.len()).filter(|end| *end <= disk.volatile.len()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "simulated disk: read past the end")
            })?;
        out.copy_from_slice(&disk.volatile[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut disk = self.live_disk()?;
        to_usize(len)?;
        let change = Change::SetLen(len);
        change.apply(&mut disk.volatile, None);
        disk.unsynced.push(change);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut disk = self.live_disk()?;
        let index = disk.stats.syncs;
        disk.stats.syncs += 1;
        if disk.power_cut_at_sync == Some(index) {
            disk.powered_off = true;
            return Err(io::Error::other("simulated disk: power cut"));
        }
        if disk.lying_fsync {
            disk.stats.lying_syncs += 1;
            disk.lied_since_sync |= !disk.unsynced.is_empty();
            return Ok(());
        }
        let disk = &mut *disk;
        for change in disk.unsynced.drain(..) {
            change.apply(&mut disk.durable, None);
        }
        disk.lied_since_sync = false;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut disk = self.live_disk()?;
        let index = disk.stats.writes;
        disk.stats.writes += 1;
        if disk.power_cut_at_write == Some(index) {
            disk.powered_off = true;
            return Err(io::Error::other("simulated disk: power cut"));
        }
        if disk.fail_write_at == Some(index) {
            disk.fail_write_at = None;
            return Err(io::Error::other(format!("simulated disk: injected I/O error at write {index}")));
        }
        to_usize(offset)?
            .checked_add(data.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))?;
        let change = Change::Write { offset, data: data.to_vec() };
        change.apply(&mut disk.volatile, None);
        disk.unsynced.push(change);
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        // A dead backend has nothing to release: the crash dropped its lock already, and the
        // lock may now belong to the next open.
        let mut disk = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if disk.generation == self.generation && disk.locked_by == Some(self.id) {
            disk.locked_by = None;
        }
        Ok(())
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.try_lock(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        // Shared locks are only taken by read-only opens; one open at a time is all the
        // simulator needs, so a shared lock is exclusive here.
        self.try_lock(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if !Self::whole_storage(start, end) {
            return Err(BackendError::Unsupported);
        }
        let mut disk = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if disk.generation == self.generation && disk.locked_by == Some(self.id) {
            disk.locked_by = None;
        }
        Ok(())
    }
}
