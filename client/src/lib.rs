//! The Tally client library: what the `tally` binary, the load generator and API gateways use
//! to hold keys, build and sign transactions, talk to a node, and verify badges.
//!
//! Invariants:
//! - Secret keys never touch the disk unencrypted: the keystore seals each one with a key
//!   derived from a passphrase (Argon2id) under XChaCha20-Poly1305, in a file of mode 0600.
//! - Secrets in memory are wiped on drop (`zeroize`).
//! - Input is checked before anything is sent: amounts against the asset's scale, ops and
//!   memo against the protocol limits (`txbuild`); every node answer is size- and time-bounded
//!   (`http`).

pub mod audit;
pub mod badge;
pub mod epochs;
pub mod http;
pub mod jcs;
pub mod keystore;
pub mod market;
pub mod pricing;
pub mod proofs;
#[cfg(test)]
mod test_net;
pub mod txbuild;
pub mod usage;
