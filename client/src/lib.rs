//! The Tally client library: what the `tally` binary and API gateways use to hold keys and
//! (as the node issue lands) build and sign transactions, talk to a node, and verify proofs.
//!
//! Invariants:
//! - Secret keys never touch the disk unencrypted: the keystore seals each one with a key
//!   derived from a passphrase (Argon2id) under XChaCha20-Poly1305, in a file of mode 0600.
//! - Secrets in memory are wiped on drop (`zeroize`).

pub mod badge;
pub mod jcs;
pub mod keystore;
