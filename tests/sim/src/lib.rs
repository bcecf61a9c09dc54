//! A deterministic simulator for Tally validators: seeded runs of n real engines
//! (`tally_node::engine::Engine`, the host that ships) over a faulty network, simulated disks
//! that lose power at any write, skewed clocks, and Byzantine actors, with clients submitting
//! signed transfers; checked by an invariant oracle written apart from the engine and core.
//!
//! Invariants of the simulator itself:
//! - A seed names a run completely: all randomness comes from [`rng::Rng`] streams seeded
//!   from it, time is simulated ([`queue::SimTime`]), events at one instant run in the
//!   order they were scheduled, engine jobs run one at a time at a simulated instant, and no
//!   `HashMap` iteration order is ever observed. Two runs of a seed have the same trace hash.
//! - Every honest validator runs the real engine on the real store and WAL ([`host`] holds the
//!   seams); only Byzantine actors add simulator code, around what their engine sends.
//! - The oracle ([`oracle`]) never calls consensus or ledger logic: it sees blocks, signed
//!   messages, certificates, stores and WAL disks, as a bystander on the wire and at the disk
//!   would.

pub mod campaign;
pub mod chain;
pub mod host;
pub mod network;
pub mod oracle;
pub mod queue;
pub mod rng;
pub mod scenario;
pub mod scheme;
pub mod sim;
