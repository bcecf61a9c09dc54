//! An encrypted keystore: one JSON file per named key in a directory of mode 0700.
//!
//! Each file holds the account address in clear (so `keys list` needs no passphrase) and the
//! 32-byte ed25519 seed sealed with XChaCha20-Poly1305 under a key derived from the passphrase
//! with Argon2id (salt and nonce random per file). The associated data binds the name, the
//! address and the KDF parameters, so a file whose clear fields were edited fails to open
//! instead of yielding a key under another name, and the opened key must match the address.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use tally_types::{PublicKey, SecretKey};
use zeroize::Zeroizing;

/// The file format version this code writes.
const FORMAT_VERSION: u32 = 1;
/// Argon2id parameters for new files: 64 MiB, 3 passes, 1 lane (OWASP's second
/// recommendation is 19 MiB / 2 passes; keys guard money, so we pay a little more).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
const KDF_LANES: u32 = 1;
/// Limits accepted when reading, so a crafted file cannot make `open` take minutes or GiBs.
const KDF_MEMORY_KIB_MAX: u32 = 1024 * 1024;
const KDF_PASSES_MAX: u32 = 16;
const KDF_LANES_MAX: u32 = 8;
/// Key files are tiny; anything larger is not one.
const KEY_FILE_BYTES_MAX: u64 = 4096;

/// Why a keystore operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("key name `{0}` must be 1..=64 characters of [a-zA-Z0-9_-]")]
    BadName(String),
    #[error("no key named `{name}` in {dir}")]
    NotFound { name: String, dir: PathBuf },
    #[error("a key named `{name}` already exists in {dir}")]
    Exists { name: String, dir: PathBuf },
    #[error("wrong passphrase for key `{0}` (or the file was tampered with)")]
    WrongPassphrase(String),
    #[error("the passphrase must not be empty")]
    EmptyPassphrase,
    #[error("{path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}")]
    Permissions { path: PathBuf, mode: u32 },
    #[error(
        "keystore folder {path} is open to group or others (mode {mode:o}): they could remove or swap key files; run: chmod 700 {path}"
    )]
    FolderPermissions { path: PathBuf, mode: u32 },
    #[error("{path} is not a valid key file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("secret key: {0}")]
    BadSecret(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("operating-system randomness failed: {0}")]
    Random(String),
    #[error("key derivation or encryption failed: {0}")]
    Crypto(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    name: String,
    address: PublicKey,
    kdf: KdfParams,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct KdfParams {
    algorithm: KdfAlgorithm,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    #[serde(with = "hex_array")]
    salt: [u8; 16],
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum KdfAlgorithm {
    Argon2id,
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// A named key and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub address: PublicKey,
}

/// A directory of encrypted keys.
#[derive(Clone, Debug)]
pub struct Keystore {
    dir: PathBuf,
}

fn check_name(name: &str) -> Result<(), KeystoreError> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid { Ok(()) } else { Err(KeystoreError::BadName(name.to_owned())) }
}

fn random<const N: usize>() -> Result<[u8; N], KeystoreError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|error| KeystoreError::Random(error.to_string()))?;
    Ok(out)
}

fn derive_key(passphrase: &str, params: &KdfParams) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let argon_params = argon2::Params::new(params.memory_kib, params.passes, params.lanes, Some(32))
        .map_err(|error| KeystoreError::Crypto(format!("argon2 parameters: {error}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &params.salt, key.as_mut_slice())
        .map_err(|error| KeystoreError::Crypto(format!("argon2: {error}")))?;
    Ok(key)
}

/// The associated data: everything in the file that is not secret, so none of it can be
/// changed without the passphrase.
fn associated_data(name: &str, address: &PublicKey, params: &KdfParams) -> Vec<u8> {
    format!(
        "tally keystore v{FORMAT_VERSION}\0{name}\0{}\0argon2id\0{}\0{}\0{}\0{}",
        address.to_hex(),
        params.memory_kib,
        params.passes,
        params.lanes,
        hex::encode(params.salt)
    )
    .into_bytes()
}

impl Keystore {
    /// The keystore in `dir`, created (mode 0700) if missing. An existing folder must be
    /// closed to group and others, as ssh asks of `~/.ssh`: whoever can write it can remove
    /// or swap key files.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        let io = |source| KeystoreError::Io { path: dir.to_path_buf(), source };
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        let mode = fs::metadata(dir).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeystoreError::FolderPermissions { path: dir.to_path_buf(), mode });
        }
        Ok(Keystore { dir: dir.to_path_buf() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Generates a new key from OS randomness and stores it as `name`.
    pub fn create(&self, name: &str, passphrase: &str) -> Result<PublicKey, KeystoreError> {
        let seed = Zeroizing::new(random::<32>()?);
        let key = SecretKey::from_seed(&seed);
        self.store(name, &key, passphrase)?;
        Ok(key.public_key())
    }

    /// Stores an existing secret key (64 hex characters of seed) as `name`.
    pub fn import(&self, name: &str, secret_hex: &str, passphrase: &str) -> Result<PublicKey, KeystoreError> {
        let key =
            SecretKey::from_hex(secret_hex).map_err(|error| KeystoreError::BadSecret(error.to_string()))?;
        self.store(name, &key, passphrase)?;
        Ok(key.public_key())
    }

    fn store(&self, name: &str, key: &SecretKey, passphrase: &str) -> Result<(), KeystoreError> {
        check_name(name)?;
        if passphrase.is_empty() {
            return Err(KeystoreError::EmptyPassphrase);
        }
        let path = self.path_of(name);
        let params = KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: KDF_MEMORY_KIB,
            passes: KDF_PASSES,
            lanes: KDF_LANES,
            salt: random::<16>()?,
        };
        let address = key.public_key();
        let cipher_key = derive_key(passphrase, &params)?;
        let cipher = XChaCha20Poly1305::new_from_slice(cipher_key.as_slice())
            .map_err(|_| KeystoreError::Crypto("cipher key length".into()))?;
        let nonce_bytes = random::<24>()?;
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(name, &address, &params);
        let seed = key.seed();
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: seed.as_slice(), aad: &aad })
            .map_err(|_| KeystoreError::Crypto("encryption failed".into()))?;
        let file = KeyFile {
            version: FORMAT_VERSION,
            name: name.to_owned(),
            address,
            kdf: params,
            cipher: "xchacha20poly1305".into(),
            nonce: hex::encode(nonce_bytes),
            ciphertext: hex::encode(ciphertext),
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|error| KeystoreError::Crypto(error.to_string()))?;
        // Written to a temporary file (mode 0600 from the first byte), made durable, then linked
        // under its name: `hard_link` fails if the name exists, so a key is never overwritten,
        // and a crash mid-write leaves only a temporary file, never a half-written key.
        let temporary = self.dir.join(format!(".{name}.json.{}.tmp", hex::encode(random::<8>()?)));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeystoreError::Io { path, source }
        };
        let written = (|| {
            let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
            out.write_all(&json)?;
            out.sync_all()
        })();
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary);
            return Err(io(&temporary)(source));
        }
        let linked = fs::hard_link(&temporary, &path);
        let _ = fs::remove_file(&temporary);
        linked.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeystoreError::Exists { name: name.to_owned(), dir: self.dir.clone() }
            } else {
                KeystoreError::Io { path: path.clone(), source }
            }
        })?;
        // The new directory entry is durable only once the directory is synced.
        fs::File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(io(&self.dir))
    }

    fn read_file(&self, name: &str) -> Result<(PathBuf, KeyFile), KeystoreError> {
        check_name(name)?;
        let path = self.path_of(name);
        let metadata = fs::metadata(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                KeystoreError::NotFound { name: name.to_owned(), dir: self.dir.clone() }
            } else {
                KeystoreError::Io { path: path.clone(), source }
            }
        })?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeystoreError::Permissions { path, mode });
        }
        if metadata.len() > KEY_FILE_BYTES_MAX {
            return Err(KeystoreError::Corrupt {
                path,
                reason: format!("{} bytes is too large", metadata.len()),
            });
        }
        let bytes = fs::read(&path).map_err(|source| KeystoreError::Io { path: path.clone(), source })?;
        let file: KeyFile = serde_json::from_slice(&bytes)
            .map_err(|error| KeystoreError::Corrupt { path: path.clone(), reason: error.to_string() })?;
        let corrupt = |reason: String| KeystoreError::Corrupt { path: path.clone(), reason };
        if file.version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {} is not supported (expected {FORMAT_VERSION})",
                file.version
            )));
        }
        if file.name != name {
            return Err(corrupt(format!("the file names the key `{}`", file.name)));
        }
        if file.cipher != "xchacha20poly1305" {
            return Err(corrupt(format!("unknown cipher `{}`", file.cipher)));
        }
        let kdf = file.kdf;
        if kdf.memory_kib > KDF_MEMORY_KIB_MAX || kdf.passes > KDF_PASSES_MAX || kdf.lanes > KDF_LANES_MAX {
            return Err(corrupt("key-derivation parameters are above the accepted limits".into()));
        }
        if kdf.memory_kib < 8 * kdf.lanes || kdf.passes == 0 || kdf.lanes == 0 {
            return Err(corrupt("key-derivation parameters are below Argon2's minimums".into()));
        }
        Ok((path, file))
    }

    /// Decrypts the key `name`.
    pub fn load(&self, name: &str, passphrase: &str) -> Result<SecretKey, KeystoreError> {
        let (path, file) = self.read_file(name)?;
        let corrupt = |reason: &str| KeystoreError::Corrupt { path: path.clone(), reason: reason.to_owned() };
        let nonce_bytes: [u8; 24] = hex::decode(&file.nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("bad nonce"))?;
        let ciphertext = hex::decode(&file.ciphertext).map_err(|_| corrupt("ciphertext is not hex"))?;
        let cipher_key = derive_key(passphrase, &file.kdf)?;
        let cipher = XChaCha20Poly1305::new_from_slice(cipher_key.as_slice())
            .map_err(|_| KeystoreError::Crypto("cipher key length".into()))?;
        let aad = associated_data(name, &file.address, &file.kdf);
        let seed = Zeroizing::new(
            cipher
                .decrypt(&XNonce::from(nonce_bytes), Payload { msg: &ciphertext, aad: &aad })
                .map_err(|_| KeystoreError::WrongPassphrase(name.to_owned()))?,
        );
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.as_slice().try_into().map_err(|_| corrupt("sealed seed is not 32 bytes"))?);
        let key = SecretKey::from_seed(&seed);
        if key.public_key() != file.address {
            return Err(corrupt("the sealed key does not match the address"));
        }
        Ok(key)
    }

    /// The seed of key `name` in hex, for backup. Handle with care.
    pub fn export(&self, name: &str, passphrase: &str) -> Result<Zeroizing<String>, KeystoreError> {
        Ok(self.load(name, passphrase)?.to_hex())
    }

    /// The address of key `name` (no passphrase needed).
    pub fn show(&self, name: &str) -> Result<KeyInfo, KeystoreError> {
        let (_, file) = self.read_file(name)?;
        Ok(KeyInfo { name: file.name, address: file.address })
    }

    /// Every key, sorted by name. A `.json` file under a valid key name that is not a valid key
    /// file is reported, not skipped; other files (temporary files, notes) are ignored.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeystoreError> {
        let io = |source| KeystoreError::Io { path: self.dir.clone(), source };
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file_name = entry.file_name();
            if let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json"))
                && check_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        names.iter().map(|name| self.show(name)).collect()
    }
}
