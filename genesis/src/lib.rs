//! Tally's genesis document: its JSON schema, validation that reports every problem at its
//! field path, the canonical genesis hash, and a builder that makes a network with its keys.
//!
//! Invariants this crate keeps:
//! - A [`Genesis`] value is always valid: it exists only through [`Genesis::load`],
//!   [`Genesis::from_json`] or [`init::build_testnet`], which all run the same checks,
//!   including the ledger's own (`tally_ledger::genesis_writes`).
//! - The genesis hash ([`Genesis::hash`]) is `Domain::Genesis` over the borsh encoding of the
//!   typed document: the same values give the same hash on every machine, whatever the JSON's
//!   key order or whitespace. Block 1's `parent_id` is `BlockId(genesis.hash())`.
//! - Validation is pure (no clock, no I/O beyond reading the file) and bounded: the file size,
//!   every list, the nesting depth and the number of problems kept all have limits.
//! - Secret keys are generated from the OS RNG, or derived from a seed for tests only; key
//!   files are written mode 0600 in 0700 directories, and never overwritten unless forced.

pub mod application;
pub mod error;
pub mod init;
mod json;
pub mod keys;
mod ledger;
pub mod limits;
mod schema;
mod validate;

pub use error::{GenesisError, ParseError, Problem, Problems};
pub use schema::{AssetEntry, BalanceEntry, ConsensusParams, Genesis, MemberEntry, ValidatorEntry};
