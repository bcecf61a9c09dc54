//! A deterministic simulator for `tally-consensus`: seeded runs of n cores over a faulty
//! network, with crashes and Byzantine actors, checked by an invariant oracle written apart
//! from the core.
//!
//! Invariants of the simulator itself:
//! - A seed names a run completely: all randomness comes from [`rng::Rng`] streams seeded
//!   from it, time is simulated ([`queue::SimTime`]), events at one instant run in the
//!   order they were scheduled, and no `HashMap` iteration order is ever observed. Two runs
//!   of a seed have the same trace hash.
//! - Hosts perform every effect the way `API.md` of `tally-consensus` demands (persist in
//!   ticket order, durable only once the simulated write completes; a crash loses pending
//!   writes, timers and in-flight work, never the WAL or the block store).
//! - The oracle ([`oracle`]) never calls consensus logic: it sees blocks, signed messages,
//!   certificates and commits, as a bystander on the wire and at the store would.

pub mod campaign;
pub mod chain;
pub mod network;
pub mod oracle;
pub mod queue;
pub mod rng;
pub mod scenario;
pub mod scheme;
pub mod sim;
