//! Tally under faults: real `tally-node` processes, each in its own network namespace, a
//! nemesis that kills, pauses, partitions, degrades, starves and skews them on a seeded
//! schedule, a workload of every kind of money movement from several clients, and a checker
//! that judges the recorded history against the nodes' final state.
//!
//! Run by `scripts/chaos.sh` (long runs) and `tests/ci.rs` (a short seeded schedule). Layout:
//! [`rng`] (the seeded PRNG), [`net`] (namespaces, iptables, tc), [`cluster`] (genesis and node
//! processes), [`workload`] (clients), [`nemesis`] (faults), [`history`] (JSON lines),
//! [`checker`] (the properties), [`harness`] (one run end to end).

pub mod checker;
pub mod cluster;
pub mod harness;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod rng;
pub mod workload;
