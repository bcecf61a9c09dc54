//! Keystore: round trips, refusals, tamper detection, file modes.

use std::os::unix::fs::PermissionsExt;

use tally_client::keystore::{KeyInfo, Keystore, KeystoreError};
use tally_types::SecretKey;

fn store() -> (tempfile::TempDir, Keystore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = Keystore::open(&dir.path().join("keys")).expect("open");
    (dir, keystore)
}

#[test]
fn create_load_export_import_round_trip() {
    let (_dir, keystore) = store();
    let address = keystore.create("alice", "correct horse").expect("create");
    let key = keystore.load("alice", "correct horse").expect("load");
    assert_eq!(key.public_key(), address);
    let exported = keystore.export("alice", "correct horse").expect("export");
    let again = keystore.import("alice-copy", &exported, "other pass").expect("import");
    assert_eq!(again, address);
    assert_eq!(
        keystore.list().expect("list"),
        vec![KeyInfo { name: "alice".into(), address }, KeyInfo { name: "alice-copy".into(), address }]
    );
    let mode = std::fs::metadata(keystore.dir().join("alice.json")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(keystore.dir()).expect("meta").permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    // The secret is not in the file in any recognizable form.
    let text = std::fs::read_to_string(keystore.dir().join("alice.json")).expect("read");
    assert!(!text.contains(exported.as_str()));
}

#[test]
fn refusals_name_the_problem() {
    let (_dir, keystore) = store();
    keystore.create("bob", "pass").expect("create");
    assert!(matches!(keystore.load("bob", "wrong"), Err(KeystoreError::WrongPassphrase(_))));
    assert!(matches!(keystore.create("bob", "pass"), Err(KeystoreError::Exists { .. })));
    assert!(matches!(keystore.load("carol", "pass"), Err(KeystoreError::NotFound { .. })));
    assert!(matches!(keystore.create("../evil", "pass"), Err(KeystoreError::BadName(_))));
    assert!(matches!(keystore.create("dave", ""), Err(KeystoreError::EmptyPassphrase)));
    assert!(matches!(keystore.import("eve", "zz", "pass"), Err(KeystoreError::BadSecret(_))));
}

#[test]
fn a_readable_key_file_is_refused_until_fixed() {
    let (_dir, keystore) = store();
    keystore.create("frank", "pass").expect("create");
    let path = keystore.dir().join("frank.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let error = keystore.load("frank", "pass").expect_err("refused");
    assert!(matches!(error, KeystoreError::Permissions { mode: 0o644, .. }), "{error}");
    assert!(error.to_string().contains("chmod 600"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    keystore.load("frank", "pass").expect("loads once private");
}

#[test]
fn a_keystore_folder_open_to_others_is_refused_until_fixed() {
    let (_dir, keystore) = store();
    keystore.create("heidi", "pass").expect("create");
    let folder = keystore.dir().to_path_buf();
    for mode in [0o755, 0o770, 0o701] {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let Err(error) = Keystore::open(&folder) else { panic!("mode {mode:o} is refused") };
        assert!(matches!(error, KeystoreError::FolderPermissions { mode: m, .. } if m == mode), "{error}");
        assert!(error.to_string().contains("chmod 700"), "{error}");
    }
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    Keystore::open(&folder).expect("opens once private").load("heidi", "pass").expect("loads");
}

#[test]
fn tampered_clear_fields_fail_to_open() {
    let (_dir, keystore) = store();
    keystore.create("grace", "pass").expect("create");
    let path = keystore.dir().join("grace.json");
    let original = std::fs::read_to_string(&path).expect("read");
    let json: serde_json::Value = serde_json::from_str(&original).expect("json");

    // Swap in another address: the AEAD's associated data no longer matches.
    let other = SecretKey::from_seed(&[9; 32]).public_key();
    let mut edited = json.clone();
    edited["address"] = serde_json::Value::String(other.to_address());
    std::fs::write(&path, serde_json::to_vec(&edited).expect("json")).expect("write");
    assert!(matches!(keystore.load("grace", "pass"), Err(KeystoreError::WrongPassphrase(_))));

    // Flip a ciphertext byte.
    let mut edited = json.clone();
    let ciphertext = edited["ciphertext"].as_str().expect("hex").to_owned();
    let flipped = format!("{}{}", if ciphertext.starts_with('0') { "1" } else { "0" }, &ciphertext[1..]);
    edited["ciphertext"] = serde_json::Value::String(flipped);
    std::fs::write(&path, serde_json::to_vec(&edited).expect("json")).expect("write");
    assert!(matches!(keystore.load("grace", "pass"), Err(KeystoreError::WrongPassphrase(_))));

    // Absurd KDF parameters are refused before any work is done.
    let mut edited = json.clone();
    edited["kdf"]["memory_kib"] = serde_json::Value::from(u32::MAX);
    std::fs::write(&path, serde_json::to_vec(&edited).expect("json")).expect("write");
    assert!(matches!(keystore.load("grace", "pass"), Err(KeystoreError::Corrupt { .. })));

    // Not JSON at all.
    std::fs::write(&path, b"not a key file").expect("write");
    let error = keystore.load("grace", "pass").expect_err("refused");
    assert!(
        matches!(error, KeystoreError::Corrupt { .. }) && error.to_string().contains("grace.json"),
        "{error}"
    );
}

#[test]
fn list_ignores_stray_files_and_no_temporary_files_remain() {
    let (_dir, keystore) = store();
    let address = keystore.create("henry", "pass").expect("create");
    std::fs::write(keystore.dir().join("notes.txt"), b"hello").expect("write");
    std::fs::write(keystore.dir().join("bad name.json"), b"{}").expect("write");
    assert_eq!(keystore.list().expect("list"), vec![KeyInfo { name: "henry".into(), address }]);
    let leftovers: Vec<_> = std::fs::read_dir(keystore.dir())
        .expect("read dir")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
