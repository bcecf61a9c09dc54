//! Keystore files (client/src/keystore.rs): the input is the file `fuzzkey.json` in a keystore
//! folder made once per process. `show` reads it as `tally keys show` does; `load` runs the key
//! derivation and decryption too, but only when the file asks for cheap Argon2 parameters, so
//! that one execution stays well under a millisecond (the parameter checks run on every input).
#![no_main]

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tally_client::keystore::Keystore;

const NAME: &str = "fuzzkey";
/// Above this Argon2 memory (KiB) or these passes, `load` is skipped: it would take
/// milliseconds to seconds per input and find nothing `show` and cheap loads do not.
const LOAD_MEMORY_KIB_MAX: u64 = 64;
const LOAD_PASSES_MAX: u64 = 2;

fn keystore() -> &'static (tempfile::TempDir, Keystore) {
    static KEYSTORE: OnceLock<(tempfile::TempDir, Keystore)> = OnceLock::new();
    KEYSTORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let folder = dir.path().join("keys");
        let keystore = Keystore::open(&folder).expect("a new keystore folder");
        (dir, keystore)
    })
}

fn cheap_kdf(data: &[u8]) -> bool {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return false };
    let field = |name: &str| json["kdf"][name].as_u64();
    matches!((field("memory_kib"), field("passes")), (Some(memory), Some(passes))
        if memory <= LOAD_MEMORY_KIB_MAX && passes <= LOAD_PASSES_MAX)
}

fuzz_target!(|data: &[u8]| {
    let (_dir, keystore) = keystore();
    let path = keystore.dir().join(format!("{NAME}.json"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .expect("the fuzz key file opens");
    file.write_all(data).expect("the fuzz key file is written");
    drop(file);
    match keystore.show(NAME) {
        Ok(info) => drop(format!("{info:?}")),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    if cheap_kdf(data) {
        if let Err(error) = keystore.load(NAME, "fuzz passphrase") {
            assert!(!error.to_string().is_empty());
        }
    }
});
