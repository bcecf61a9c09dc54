//! Where generated keys come from: the operating system's RNG, or, for reproducible test
//! networks only, a seed.
//!
//! Seeded keys are derived with blake3's key-derivation mode, one context per role, so no two
//! roles can ever share a key, and the derivation is stable across versions of this tool:
//! - master = `derive_key("tally-genesis v1 test seed", seed || chain_id)`, so one seed gives
//!   unrelated keys on two chains;
//! - validator K's consensus (network) key = `derive_key("tally-genesis v1 consensus key"
//!   ("... network key"), master || K as u16 little-endian)`;
//! - member M's issuer key = `derive_key("tally-genesis v1 issuer key", master || M's id)`,
//!   keyed by id rather than position so that adding a member changes no other key.
//!
//! Anyone who knows the seed knows every key: seeded networks are for tests.

use std::path::Path;

use tally_types::{ChainId, MemberId, SecretKey};
use zeroize::Zeroizing;

use crate::error::GenesisError;

const SEED_CONTEXT: &str = "tally-genesis v1 test seed";
const CONSENSUS_CONTEXT: &str = "tally-genesis v1 consensus key";
const NETWORK_CONTEXT: &str = "tally-genesis v1 network key";
const ISSUER_CONTEXT: &str = "tally-genesis v1 issuer key";

/// Longest seed accepted, in bytes.
pub const SEED_BYTES_MAX: usize = 64;

/// A source of secret keys.
pub enum KeySource {
    /// Fresh keys from the operating system's RNG (getrandom).
    OsRandom,
    /// Keys derived from a seed: reproducible, and for tests only.
    Seeded { master: Zeroizing<[u8; 32]> },
}

impl KeySource {
    /// A seeded source for `chain_id`. The seed is 1..=64 bytes.
    pub fn seeded(seed: &[u8], chain_id: &ChainId) -> Result<Self, GenesisError> {
        if seed.is_empty() || seed.len() > SEED_BYTES_MAX {
            return Err(GenesisError::Options(format!(
                "a seed must be 1..={SEED_BYTES_MAX} bytes, got {}",
                seed.len()
            )));
        }
        let mut material = Zeroizing::new(Vec::with_capacity(seed.len() + chain_id.as_str().len()));
        material.extend_from_slice(seed);
        material.extend_from_slice(chain_id.as_str().as_bytes());
        Ok(KeySource::Seeded { master: Zeroizing::new(blake3::derive_key(SEED_CONTEXT, &material)) })
    }

    /// True for a seeded source.
    pub fn is_seeded(&self) -> bool {
        matches!(self, KeySource::Seeded { .. })
    }

    /// The consensus key of validator `index`.
    pub fn consensus_key(&self, index: u16) -> Result<SecretKey, GenesisError> {
        self.key(CONSENSUS_CONTEXT, &index.to_le_bytes())
    }

    /// The libp2p identity key of validator `index`.
    pub fn network_key(&self, index: u16) -> Result<SecretKey, GenesisError> {
        self.key(NETWORK_CONTEXT, &index.to_le_bytes())
    }

    /// The issuer account key of `member`.
    pub fn issuer_key(&self, member: &MemberId) -> Result<SecretKey, GenesisError> {
        self.key(ISSUER_CONTEXT, member.as_str().as_bytes())
    }

    fn key(&self, context: &str, label: &[u8]) -> Result<SecretKey, GenesisError> {
        let seed = match self {
            KeySource::OsRandom => {
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut()).map_err(|error| GenesisError::Random(error.to_string()))?;
                seed
            }
            KeySource::Seeded { master } => {
                let mut material = Zeroizing::new(Vec::with_capacity(32 + label.len()));
                material.extend_from_slice(master.as_ref());
                material.extend_from_slice(label);
                Zeroizing::new(blake3::derive_key(context, &material))
            }
        };
        Ok(SecretKey::from_seed(&seed))
    }
}

/// Reads a key file written by `tally-genesis init`: a hex ed25519 seed and an optional
/// trailing newline. Refuses a file that group or others may read or write, as ssh does: a
/// key that others could have read is no longer secret.
pub fn read_key_file(path: &Path) -> Result<SecretKey, GenesisError> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    let read_error = |error| GenesisError::Read { path: path.to_owned(), error };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mode = file.metadata().map_err(read_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(GenesisError::KeyFile {
            path: path.to_owned(),
            reason: format!("mode {:o} lets others read or write it; run chmod 600", mode & 0o777),
        });
    }
    // 64 hex characters and a newline (two on Windows-edited files); read one byte more than
    // allowed, so a larger file is refused without reading it all.
    let mut text = Zeroizing::new(String::new());
    file.take(KEY_FILE_BYTES_MAX + 1).read_to_string(&mut text).map_err(read_error)?;
    if text.len() as u64 > KEY_FILE_BYTES_MAX {
        return Err(GenesisError::KeyFile {
            path: path.to_owned(),
            reason: "longer than a key file".to_owned(),
        });
    }
    SecretKey::from_hex(&text)
        .map_err(|error| GenesisError::KeyFile { path: path.to_owned(), reason: error.to_string() })
}

/// Longest key file read, in bytes.
const KEY_FILE_BYTES_MAX: u64 = 66;

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chain(id: &str) -> ChainId {
        ChainId::new(id).expect("valid chain id")
    }

    #[test]
    fn seeded_keys_are_reproducible_and_distinct_per_role_index_and_chain() {
        let source = KeySource::seeded(b"seed", &chain("tally-test")).expect("valid seed");
        let again = KeySource::seeded(b"seed", &chain("tally-test")).expect("valid seed");
        let other_chain = KeySource::seeded(b"seed", &chain("tally-other")).expect("valid seed");
        let acme = MemberId::new("acme").expect("valid id");

        let consensus = source.consensus_key(0).expect("derives").public_key();
        assert_eq!(consensus, again.consensus_key(0).expect("derives").public_key());
        let mut all = vec![
            consensus,
            source.consensus_key(1).expect("derives").public_key(),
            source.network_key(0).expect("derives").public_key(),
            source.issuer_key(&acme).expect("derives").public_key(),
            other_chain.consensus_key(0).expect("derives").public_key(),
        ];
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
    }

    #[test]
    fn seeded_derivation_is_pinned() {
        // Golden value: changing the derivation would silently change every seeded test network.
        let source = KeySource::seeded(&[0u8; 32], &chain("tally-test")).expect("valid seed");
        let key = source.consensus_key(0).expect("derives").public_key();
        let master = blake3::derive_key(SEED_CONTEXT, &[&[0u8; 32][..], b"tally-test"].concat());
        let expected = blake3::derive_key(CONSENSUS_CONTEXT, &[&master[..], &[0, 0]].concat());
        assert_eq!(key, SecretKey::from_seed(&expected).public_key());
    }

    #[test]
    fn os_random_keys_differ() {
        let source = KeySource::OsRandom;
        let a = source.consensus_key(0).expect("rng works").public_key();
        let b = source.consensus_key(0).expect("rng works").public_key();
        assert_ne!(a, b);
        assert!(!source.is_seeded());
    }

    #[test]
    fn seed_length_is_bounded() {
        assert!(KeySource::seeded(&[], &chain("tally-test")).is_err());
        assert!(KeySource::seeded(&[1; 65], &chain("tally-test")).is_err());
        assert!(KeySource::seeded(&[1; 64], &chain("tally-test")).is_ok());
    }

    #[test]
    fn key_files_are_read_only_when_private_and_well_formed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SecretKey::from_seed(&[3; 32]);
        let path = dir.path().join("consensus.key");
        std::fs::write(&path, format!("{}\n", key.to_hex().as_str())).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_key_file(&path).expect("valid key file").public_key(), key.public_key());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = read_key_file(&path).expect_err("readable by others");
        assert!(error.to_string().contains("mode 644"), "{error}");
        assert!(error.to_string().contains("consensus.key"), "{error}");

        std::fs::write(&path, "not hex\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(read_key_file(&path), Err(GenesisError::KeyFile { .. })));
        std::fs::write(&path, "0".repeat(100)).expect("write");
        assert!(read_key_file(&path).expect_err("too long").to_string().contains("longer than a key file"));
        assert!(matches!(read_key_file(&dir.path().join("absent.key")), Err(GenesisError::Read { .. })));
    }
}
