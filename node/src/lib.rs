//! The Tally validator node: the mempool that feeds block proposals, and (as the node issue
//! lands) the engine that drives consensus, execution and storage, the HTTP API and metrics.
//!
//! Invariants:
//! - Everything keyed by remote input is bounded (mempool count and bytes, per-account queue).
//! - A transaction's signature is checked once, when it enters the mempool; the result is
//!   cached by tx id so block verification does not check it again.

pub mod api;
pub mod bench;
pub mod check;
pub mod config;
pub mod engine;
pub mod export;
pub mod follower;
pub mod home;
pub mod http_server;
pub mod import;
pub mod mempool;
pub mod sign_state;
