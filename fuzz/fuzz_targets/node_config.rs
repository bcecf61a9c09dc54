//! The node's own files: selector 0 its TOML configuration (`NodeConfig::parse`, every check
//! `tally-node run` makes), 1 the sign-state file beside the consensus key (two checksummed
//! slots). For the sign state, the input's second byte says whether to recompute each slot's
//! checksum first, so inputs reach the slot decoder past the checksum; a file that opens must
//! then take a later state, and reopening it must give that state back (a write the next start
//! does not see would let the node sign twice).
#![no_main]

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use tally_consensus::{SignKind, SignState, Signed};
use tally_fuzz::select;
use tally_node::config::NodeConfig;
use tally_node::sign_state::{FILE_BYTES, SLOT_BYTES, SignStateDevice, SignStateFile};

/// The bytes of a slot its checksum covers (node/src/sign_state.rs: the last 32 are the
/// BLAKE3 hash of the rest).
const CHECKED_BYTES: usize = SLOT_BYTES - 32;
const CHAIN: [u8; 16] = [7; 16];

/// A sign-state device in memory, shared so that it can be reopened after a write.
#[derive(Clone)]
struct Memory(Arc<Mutex<Vec<u8>>>);

impl SignStateDevice for Memory {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.0.lock().expect("unpoisoned").len() as u64)
    }
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let bytes = self.0.lock().expect("unpoisoned");
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let read = bytes.get(start..start + out.len()).ok_or_else(|| io::Error::other("short read"))?;
        out.copy_from_slice(read);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut bytes = self.0.lock().expect("unpoisoned");
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        if bytes.len() < start + data.len() {
            bytes.resize(start + data.len(), 0);
        }
        bytes[start..start + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn sign_state(body: &[u8]) {
    let Some((&fix, bytes)) = body.split_first() else { return };
    let mut bytes = bytes.to_vec();
    if fix & 1 == 1 && bytes.len() >= FILE_BYTES as usize {
        for slot in bytes[..FILE_BYTES as usize].chunks_exact_mut(SLOT_BYTES) {
            let checksum = blake3::hash(&slot[..CHECKED_BYTES]);
            slot[CHECKED_BYTES..].copy_from_slice(checksum.as_bytes());
        }
    }
    let device = Memory(Arc::new(Mutex::new(bytes)));
    match SignStateFile::open(device.clone(), "fuzz", CHAIN) {
        Ok(mut file) => {
            let view = file.state().last.map_or(0, |last| last.view.0);
            let Some(next_view) = view.checked_add(1) else { return };
            let later = SignState {
                last: Some(Signed {
                    view: tally_types::View(next_view),
                    kind: SignKind::Nullify,
                    digest: tally_types::Hash([0; 32]),
                }),
            };
            if let Err(error) = file.write(&later) {
                assert!(!error.to_string().is_empty());
                return;
            }
            let reopened = SignStateFile::open(device, "fuzz", CHAIN).expect("a file just written reopens");
            assert_eq!(reopened.state(), later, "the state written is not the state read back");
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 2) else { return };
    match selector {
        0 => {
            let Ok(text) = std::str::from_utf8(body) else { return };
            if let Err(error) = NodeConfig::parse(text, Path::new("/nonexistent/fuzz")) {
                assert!(!format!("{error:?}").is_empty());
            }
        }
        _ => sign_state(body),
    }
});
