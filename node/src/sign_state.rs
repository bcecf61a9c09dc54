//! The sign-state file beside the consensus key (`consensus.sign-state` for `consensus.key`):
//! the last message this validator signed, written and made durable before the WAL entry that
//! carries the signature (docs/ARCHITECTURE.md "Storage"). It lives beside the key, not in the
//! data directory, so that wiping or losing the data directory does not lose it: a validator
//! restarted on an empty data directory follows the chain and signs nothing until it is past
//! this record (the rule is `tally_consensus::SignState::check`).
//!
//! **Format.** 256 bytes: two slots of [`SLOT_BYTES`], each self-checking:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic and version, `TLYSIGN1` |
//! | 8..24 | the first 16 bytes of the chain's genesis hash |
//! | 24..32 | sequence number (big-endian u64), one more at every write |
//! | 32..40 | view (its top bits are the epoch) |
//! | 40..48 | epoch (the view's, repeated for readers; checked) |
//! | 48 | kind: 0 nothing signed, 1 proposal, 2 notarize, 3 nullify, 4 finalize |
//! | 49..81 | digest: the block id (zeros for a nullify or nothing) |
//! | 81..96 | zeros |
//! | 96..128 | blake3 of bytes 0..96 |
//!
//! **Writes** overwrite, in place, the slot that does not hold the newest record (sequence
//! `s + 1` goes to slot `(s + 1) mod 2`), then one `fdatasync`: no rename, no directory sync,
//! so a write costs one small in-place write and one flush. A write cut by a crash can tear
//! only the slot being written; the other still holds the previous record, which is what the
//! crash left durable. **Reading** takes the valid slot with the higher sequence; one invalid
//! slot is normal after a crash; two invalid slots (or a short file) are corruption and the
//! node refuses to start, naming the file. A valid slot of another chain is refused too.
//! **Creation** (once per key) writes both slots under `<name>.creating`, syncs it, renames it
//! into place and syncs the directory, so a crash never leaves a half-made file at the name.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use tally_consensus::{SignKind, SignState, Signed};
use tally_types::{Hash, View};

/// Bytes per slot.
pub const SLOT_BYTES: usize = 128;
/// Bytes of the whole file.
pub const FILE_BYTES: u64 = 2 * SLOT_BYTES as u64;
const MAGIC: &[u8; 8] = b"TLYSIGN1";
const CHECKED_BYTES: usize = 96;

/// The sign-state file's name for a consensus key file: the key's name with the extension
/// `sign-state`, in the key's directory.
pub fn path_for_key(key_path: &Path) -> PathBuf {
    key_path.with_extension("sign-state")
}

/// Why a sign-state file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignStateError {
    #[error(
        "sign-state file {path} is corrupt ({reason}); the node refuses to start rather than risk \
         signing twice. If this validator's key has never signed anything beyond what its data \
         directory's WAL holds, move the file away and start with --recreate-lost-sign-state"
    )]
    Corrupt { path: String, reason: String },
    #[error("sign-state file {path} belongs to another chain (genesis hash prefix {found})")]
    OtherChain { path: String, found: String },
    #[error("sign-state file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Where the two slots live: a file, or in the simulator a simulated disk.
pub trait SignStateDevice: Send {
    /// The device's length in bytes.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Reads `out.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()>;
    /// Writes `data` at `offset` (not yet durable).
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes every write so far durable.
    fn sync_data(&mut self) -> io::Result<()>;
}

impl SignStateDevice for File {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, out, offset)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

/// A validated slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Slot {
    sequence: u64,
    state: SignState,
}

/// Encodes one slot.
fn encode_slot(chain: &[u8; 16], sequence: u64, state: &SignState) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[0..8].copy_from_slice(MAGIC);
    slot[8..24].copy_from_slice(chain);
    slot[24..32].copy_from_slice(&sequence.to_be_bytes());
    if let Some(last) = state.last {
        slot[32..40].copy_from_slice(&last.view.0.to_be_bytes());
        slot[40..48].copy_from_slice(&last.view.epoch().to_be_bytes());
        slot[48] = last.kind.to_byte();
        slot[49..81].copy_from_slice(&last.digest.0);
    }
    let checksum = blake3::hash(&slot[..CHECKED_BYTES]);
    slot[CHECKED_BYTES..].copy_from_slice(checksum.as_bytes());
    slot
}

/// Decodes one slot: the slot, or why it is not one of this chain's valid slots.
fn decode_slot(bytes: &[u8], chain: &[u8; 16]) -> Result<Slot, SlotError> {
    let checksum = blake3::hash(&bytes[..CHECKED_BYTES]);
    if &bytes[..8] != MAGIC || checksum.as_bytes() != &bytes[CHECKED_BYTES..SLOT_BYTES] {
        return Err(SlotError::Invalid);
    }
    if &bytes[8..24] != chain {
        return Err(SlotError::OtherChain(hex::encode(&bytes[8..24])));
    }
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(word)
    };
    let sequence = word(24);
    let view = View(word(32));
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&bytes[49..81]);
    let last = match bytes[48] {
        0 => None,
        byte => {
            let kind = SignKind::from_byte(byte).ok_or(SlotError::Invalid)?;
            if word(40) != view.epoch() {
                return Err(SlotError::Invalid);
            }
            Some(Signed { view, kind, digest: Hash(digest) })
        }
    };
    Ok(Slot { sequence, state: SignState { last } })
}

enum SlotError {
    Invalid,
    OtherChain(String),
}

/// The open sign-state file: reads once, then writes alternate slots.
pub struct SignStateFile<D: SignStateDevice> {
    device: D,
    label: String,
    chain: [u8; 16],
    /// The sequence number of the newest valid slot.
    sequence: u64,
    state: SignState,
}

impl<D: SignStateDevice> std::fmt::Debug for SignStateFile<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignStateFile").field("label", &self.label).field("state", &self.state).finish()
    }
}

/// The 16 bytes of a genesis hash that a sign-state file names its chain by.
pub fn chain_prefix(genesis_hash: &Hash) -> [u8; 16] {
    let mut prefix = [0u8; 16];
    prefix.copy_from_slice(&genesis_hash.0[..16]);
    prefix
}

impl<D: SignStateDevice> SignStateFile<D> {
    /// Formats an empty device with `state` in both slots and makes it durable.
    pub fn format(
        mut device: D,
        label: &str,
        chain: [u8; 16],
        state: SignState,
    ) -> Result<Self, SignStateError> {
        let io_error = |source| SignStateError::Io { path: label.to_owned(), source };
        device.write_at(0, &encode_slot(&chain, 0, &state)).map_err(io_error)?;
        device.write_at(SLOT_BYTES as u64, &encode_slot(&chain, 1, &state)).map_err(io_error)?;
        device.sync_data().map_err(io_error)?;
        Ok(SignStateFile { device, label: label.to_owned(), chain, sequence: 1, state })
    }

    /// Reads the newest valid slot of a formatted device.
    pub fn open(device: D, label: &str, chain: [u8; 16]) -> Result<Self, SignStateError> {
        let io_error = |source| SignStateError::Io { path: label.to_owned(), source };
        let corrupt =
            |reason: &str| SignStateError::Corrupt { path: label.to_owned(), reason: reason.to_owned() };
        let len = device.len_bytes().map_err(io_error)?;
        if len < FILE_BYTES {
            return Err(corrupt(&format!("{len} bytes, not {FILE_BYTES}")));
        }
        let mut bytes = [0u8; 2 * SLOT_BYTES];
        device.read_at(0, &mut bytes).map_err(io_error)?;
        let mut newest: Option<Slot> = None;
        for half in bytes.chunks_exact(SLOT_BYTES) {
            match decode_slot(half, &chain) {
                Ok(slot) => {
                    if newest.is_none_or(|newest| slot.sequence > newest.sequence) {
                        newest = Some(slot);
                    }
                }
                Err(SlotError::OtherChain(found)) => {
                    return Err(SignStateError::OtherChain { path: label.to_owned(), found });
                }
                Err(SlotError::Invalid) => {}
            }
        }
        let newest = newest.ok_or_else(|| corrupt("neither slot is valid"))?;
        // The next write takes sequence + 1: at the last sequence number it would wrap to 0, land
        // in the slot that is not the newest and be lost on the next start (found by fuzzing).
        if newest.sequence == u64::MAX {
            return Err(corrupt(
                "the newest slot's sequence number is the largest there is; no later write could be told apart",
            ));
        }
        Ok(SignStateFile {
            device,
            label: label.to_owned(),
            chain,
            sequence: newest.sequence,
            state: newest.state,
        })
    }

    /// The state read or last written.
    pub fn state(&self) -> SignState {
        self.state
    }

    /// Writes `state` into the slot that does not hold the newest record and makes it durable
    /// (one `fdatasync`). Unchanged states are not written.
    pub fn write(&mut self, state: &SignState) -> Result<(), SignStateError> {
        if *state == self.state {
            return Ok(());
        }
        let io_error = |source| SignStateError::Io { path: self.label.clone(), source };
        let sequence = self.sequence + 1;
        let offset = (sequence % 2) * SLOT_BYTES as u64;
        self.device.write_at(offset, &encode_slot(&self.chain, sequence, state)).map_err(io_error)?;
        self.device.sync_data().map_err(|source| SignStateError::Io { path: self.label.clone(), source })?;
        self.sequence = sequence;
        self.state = *state;
        Ok(())
    }
}

/// Opens the sign-state file at `path` (`Ok(None)` when there is none).
pub fn open_file(path: &Path, genesis_hash: &Hash) -> Result<Option<SignStateFile<File>>, SignStateError> {
    let label = path.display().to_string();
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SignStateError::Io { path: label, source }),
    };
    SignStateFile::open(file, &label, chain_prefix(genesis_hash)).map(Some)
}

/// Creates the sign-state file at `path` holding `state`: whole or not at all (built under
/// `<name>.creating`, synced, renamed, directory synced). Refuses an existing file.
pub fn create_file(
    path: &Path,
    genesis_hash: &Hash,
    state: SignState,
) -> Result<SignStateFile<File>, SignStateError> {
    let label = path.display().to_string();
    let io_error = |source| SignStateError::Io { path: label.clone(), source };
    if path.exists() {
        return Err(io_error(io::Error::new(io::ErrorKind::AlreadyExists, "exists")));
    }
    let mut creating = path.as_os_str().to_owned();
    creating.push(".creating");
    let creating = PathBuf::from(creating);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&creating)
        .map_err(io_error)?;
    let made = SignStateFile::format(file, &label, chain_prefix(genesis_hash), state)?;
    std::fs::rename(&creating, path).map_err(io_error)?;
    let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(directory).and_then(|dir| dir.sync_all()).map_err(io_error)?;
    Ok(made)
}

/// What the engine keeps the sign state with ([`tally_consensus::Effect::PersistSignState`]).
pub trait SignStateSink: Send {
    /// Makes `state` durable before returning.
    fn keep(&mut self, state: &SignState) -> anyhow::Result<()>;
}

impl<D: SignStateDevice> SignStateSink for SignStateFile<D> {
    fn keep(&mut self, state: &SignState) -> anyhow::Result<()> {
        Ok(self.write(state)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_types::BlockId;

    /// A device in memory whose writes can be torn.
    #[derive(Default)]
    struct Memory {
        bytes: Vec<u8>,
        syncs: usize,
    }

    impl SignStateDevice for &mut Memory {
        fn len_bytes(&self) -> io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
            let at = offset as usize;
            out.copy_from_slice(&self.bytes[at..at + out.len()]);
            Ok(())
        }
        fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            let at = offset as usize;
            if self.bytes.len() < at + data.len() {
                self.bytes.resize(at + data.len(), 0);
            }
            self.bytes[at..at + data.len()].copy_from_slice(data);
            Ok(())
        }
        fn sync_data(&mut self) -> io::Result<()> {
            self.syncs += 1;
            Ok(())
        }
    }

    const CHAIN: [u8; 16] = [7; 16];

    fn state(view: u64, kind: SignKind, digest: u8) -> SignState {
        SignState { last: Some(Signed { view: View(view), kind, digest: Hash([digest; 32]) }) }
    }

    #[test]
    fn writes_alternate_slots_and_the_newest_sequence_wins() {
        let mut memory = Memory::default();
        let mut file = SignStateFile::format(&mut memory, "m", CHAIN, SignState::default()).expect("format");
        file.write(&state(5, SignKind::Notarize, 1)).expect("write");
        file.write(&state(5, SignKind::Finalize, 1)).expect("write");
        file.write(&state(6, SignKind::Proposal, 2)).expect("write");
        drop(file);
        assert_eq!(memory.syncs, 4, "one fdatasync per write, one to format");
        let file = SignStateFile::open(&mut memory, "m", CHAIN).expect("open");
        assert_eq!(file.state(), state(6, SignKind::Proposal, 2));
        // Both slots valid: the other holds the record before.
        let other = decode_slot(&memory.bytes[SLOT_BYTES..], &CHAIN).ok().expect("valid");
        assert_eq!(other.state, state(5, SignKind::Finalize, 1));
    }

    #[test]
    fn a_torn_slot_falls_back_to_the_previous_record() {
        let mut memory = Memory::default();
        let mut file = SignStateFile::format(&mut memory, "m", CHAIN, SignState::default()).expect("format");
        file.write(&state(9, SignKind::Nullify, 0)).expect("write"); // sequence 2, slot 0
        file.write(&state(10, SignKind::Notarize, 3)).expect("write"); // sequence 3, slot 1
        drop(file);
        // The write of sequence 3 tore inside the digest: only the checksum can tell.
        for byte in &mut memory.bytes[SLOT_BYTES + 50..SLOT_BYTES + 80] {
            *byte ^= 0x5a;
        }
        let file = SignStateFile::open(&mut memory, "m", CHAIN).expect("one torn slot is fine");
        assert_eq!(file.state(), state(9, SignKind::Nullify, 0));
    }

    #[test]
    fn both_slots_invalid_or_a_short_file_is_corrupt() {
        let mut memory = Memory::default();
        SignStateFile::format(&mut memory, "m", CHAIN, state(3, SignKind::Finalize, 1)).expect("format");
        memory.bytes[10] ^= 1;
        memory.bytes[SLOT_BYTES + 100] ^= 1;
        let error = SignStateFile::open(&mut memory, "the-file", CHAIN).expect_err("corrupt");
        assert!(matches!(&error, SignStateError::Corrupt { path, .. } if path == "the-file"), "{error}");
        let mut empty = Memory::default();
        let error = SignStateFile::open(&mut empty, "empty", CHAIN).expect_err("0 bytes");
        assert!(matches!(error, SignStateError::Corrupt { .. }));
    }

    #[test]
    fn a_file_of_another_chain_is_refused() {
        let mut memory = Memory::default();
        SignStateFile::format(&mut memory, "m", [1; 16], state(3, SignKind::Finalize, 1)).expect("format");
        let error = SignStateFile::open(&mut memory, "m", CHAIN).expect_err("other chain");
        assert!(matches!(error, SignStateError::OtherChain { .. }));
    }

    /// Found by fuzzing (fuzz/fuzz_targets/node_config.rs): a slot at the last sequence number
    /// opened, then the next write overflowed (a panic with overflow checks; without them the
    /// sequence wrapped to 0, the write landed in the older slot and the next start read the
    /// state before it back).
    #[test]
    fn a_slot_at_the_last_sequence_number_is_refused() {
        let mut memory = Memory::default();
        memory.bytes.extend_from_slice(&encode_slot(&CHAIN, u64::MAX - 1, &state(4, SignKind::Notarize, 1)));
        memory.bytes.extend_from_slice(&encode_slot(&CHAIN, u64::MAX, &state(5, SignKind::Finalize, 2)));
        let error = SignStateFile::open(&mut memory, "m", CHAIN).expect_err("no room for another write");
        assert!(
            matches!(&error, SignStateError::Corrupt { reason, .. } if reason.contains("sequence number")),
            "{error}"
        );
        // One below the last still opens and takes one more write; the start after it refuses.
        let mut memory = Memory::default();
        memory.bytes.extend_from_slice(&encode_slot(&CHAIN, u64::MAX - 1, &state(4, SignKind::Notarize, 1)));
        memory.bytes.extend_from_slice(&encode_slot(&CHAIN, 0, &state(3, SignKind::Notarize, 1)));
        let mut file = SignStateFile::open(&mut memory, "m", CHAIN).expect("opens");
        file.write(&state(6, SignKind::Nullify, 0)).expect("write");
        drop(file);
        let error = SignStateFile::open(&mut memory, "m", CHAIN).expect_err("now at the last sequence");
        assert!(matches!(error, SignStateError::Corrupt { .. }), "{error}");
    }

    #[test]
    fn an_unchanged_state_is_not_written_again() {
        let mut memory = Memory::default();
        let mut file = SignStateFile::format(&mut memory, "m", CHAIN, SignState::default()).expect("format");
        file.write(&state(2, SignKind::Notarize, 4)).expect("write");
        file.write(&state(2, SignKind::Notarize, 4)).expect("write");
        drop(file);
        assert_eq!(memory.syncs, 2);
    }

    #[test]
    fn files_are_created_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_for_key(&dir.path().join("consensus.key"));
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("consensus.sign-state"));
        let genesis = Hash([9; 32]);
        assert!(open_file(&path, &genesis).expect("absent").is_none());
        let block = BlockId(Hash([4; 32]));
        let mut file = create_file(&path, &genesis, SignState::default()).expect("create");
        file.write(&SignState { last: Some(Signed::proposal(View(12), block)) }).expect("write");
        drop(file);
        assert_eq!(std::fs::metadata(&path).expect("file").len(), FILE_BYTES);
        let file = open_file(&path, &genesis).expect("open").expect("present");
        assert_eq!(file.state().last, Some(Signed::proposal(View(12), block)));
        assert!(create_file(&path, &genesis, SignState::default()).is_err(), "never overwritten");
    }

    /// The cost of one sign-state write (in place, one fdatasync) against one WAL append of a
    /// vote (redb, one fsync), on this machine's disk. `cargo test -p tally-node --release
    /// sign_state_write_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn sign_state_write_cost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let genesis = Hash([9; 32]);
        let mut file =
            create_file(&dir.path().join("k.sign-state"), &genesis, SignState::default()).expect("create");
        let rounds = 500u64;
        let started = std::time::Instant::now();
        for view in 1..=rounds {
            file.write(&state(view, SignKind::Notarize, view as u8)).expect("write");
        }
        let sign_us = started.elapsed().as_micros() as u64 / rounds;
        let wal = tally_store::Wal::open(&dir.path().join("wal.redb")).expect("wal");
        let entry = vec![0u8; 150];
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            wal.append(std::slice::from_ref(&entry)).expect("append");
        }
        let wal_us = started.elapsed().as_micros() as u64 / rounds;
        // The first version's way, for comparison: a new file, fsync, rename, directory fsync.
        let target = dir.path().join("renamed.sign-state");
        let started = std::time::Instant::now();
        for view in 1..=rounds {
            let temporary = dir.path().join("renamed.sign-state.tmp");
            let mut file = File::create(&temporary).expect("create");
            std::io::Write::write_all(&mut file, format!("{{\"view\":{view}}}").as_bytes()).expect("write");
            file.sync_all().expect("fsync");
            std::fs::rename(&temporary, &target).expect("rename");
            File::open(dir.path()).and_then(|directory| directory.sync_all()).expect("directory fsync");
        }
        let rename_us = started.elapsed().as_micros() as u64 / rounds;
        println!(
            "sign-state write {sign_us} µs, WAL append {wal_us} µs, temporary file + rename {rename_us} µs (mean of {rounds})"
        );
    }
}
