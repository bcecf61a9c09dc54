//! The simulated network's fault model: loss, delay with jitter, reordering, duplication and
//! partitions that heal, all before a global stabilization time (GST); after GST every
//! message between live nodes arrives within a known bound.
//!
//! The model decides only *when* (or whether) a message arrives; the simulator carries the
//! message itself. Every decision draws from the network's own [`Rng`] stream.

use crate::queue::SimTime;
use crate::rng::Rng;

/// A simulated host (a validator process). Distinct from the validator index: twins are two
/// hosts with one validator key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId(pub u16);

impl NodeId {
    /// The position in the simulator's host list.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// A split of the hosts into groups that cannot reach each other from `start` until `heal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub start: SimTime,
    pub heal: SimTime,
    /// `group[host]`: hosts with different group numbers are cut off from each other.
    pub group: Vec<u8>,
}

impl Partition {
    fn separates(&self, now: SimTime, from: NodeId, to: NodeId) -> bool {
        if now < self.start || now >= self.heal {
            return false;
        }
        let group_of = |node: NodeId| self.group.get(node.index()).copied().unwrap_or(0);
        group_of(from) != group_of(to)
    }
}

/// The fault model of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Before GST: chance that a message is lost, per mille (at most 500).
    pub loss_per_mille: u32,
    /// Before GST: chance that a message is delivered twice, per mille.
    pub duplicate_per_mille: u32,
    /// Before GST: chance that a message is held back by an extra `reorder_delay_ms`, so that
    /// later messages overtake it, per mille.
    pub reorder_per_mille: u32,
    /// The extra hold-back of a reordered message.
    pub reorder_delay_ms: u64,
    /// Smallest one-way delay, always.
    pub delay_min_ms: u64,
    /// Before GST: the one-way delay is `delay_min_ms + uniform(0..=jitter_ms)`.
    pub jitter_ms: u64,
    /// After GST: the one-way delay is at most this (Δ in the paper's terms).
    pub stable_delay_max_ms: u64,
    /// Global stabilization time: from here on no loss, no partition, bounded delay.
    pub gst: SimTime,
    /// Partitions; each heals by its `heal` time, and every one heals by GST.
    pub partitions: Vec<Partition>,
}

impl NetworkConfig {
    /// A network with no faults and constant delay `delay_ms` from the start (GST = 0).
    pub fn perfect(delay_ms: u64) -> Self {
        NetworkConfig {
            loss_per_mille: 0,
            duplicate_per_mille: 0,
            reorder_per_mille: 0,
            reorder_delay_ms: 0,
            delay_min_ms: delay_ms,
            jitter_ms: 0,
            stable_delay_max_ms: delay_ms,
            gst: SimTime(0),
            partitions: Vec::new(),
        }
    }

    /// Checks the relations the simulator's liveness check relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.loss_per_mille > 500 {
            return Err(format!("loss {} per mille is above the 500 the model allows", self.loss_per_mille));
        }
        if self.stable_delay_max_ms < self.delay_min_ms {
            return Err("stable_delay_max_ms is below delay_min_ms".into());
        }
        if let Some(late) = self.partitions.iter().find(|p| p.heal > self.gst || p.start > p.heal) {
            return Err(format!("partition {late:?} does not heal by GST {}", self.gst.0));
        }
        Ok(())
    }
}

/// Decides the fate of each message.
pub struct Network {
    config: NetworkConfig,
    rng: Rng,
    /// Counters for the report.
    pub sent: u64,
    pub dropped: u64,
    pub duplicated: u64,
}

/// When a message arrives: not at all, once, or twice (duplicated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Lost,
    Once(u64),
    Twice(u64, u64),
}

impl Network {
    /// A network following `config`, drawing from `rng`.
    pub fn new(config: NetworkConfig, rng: Rng) -> Self {
        Network { config, rng, sent: 0, dropped: 0, duplicated: 0 }
    }

    /// The configuration.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// True when `from` and `to` are split by a partition at `now`.
    pub fn partitioned(&self, now: SimTime, from: NodeId, to: NodeId) -> bool {
        self.config.partitions.iter().any(|p| p.separates(now, from, to))
    }

    /// The fate of one message sent at `now`, as delays in ms from now.
    pub fn route(&mut self, now: SimTime, from: NodeId, to: NodeId) -> Fate {
        self.sent += 1;
        if from == to {
            // A node's message to itself never crosses the network.
            return Fate::Once(0);
        }
        if self.partitioned(now, from, to) {
            self.dropped += 1;
            return Fate::Lost;
        }
        let config = &self.config;
        if now >= config.gst {
            let delay = self.rng.between(config.delay_min_ms, config.stable_delay_max_ms);
            return Fate::Once(delay);
        }
        if self.rng.chance(config.loss_per_mille) {
            self.dropped += 1;
            return Fate::Lost;
        }
        let mut delay = config.delay_min_ms + self.rng.between(0, config.jitter_ms);
        if self.rng.chance(config.reorder_per_mille) {
            delay += config.reorder_delay_ms;
        }
        if self.rng.chance(config.duplicate_per_mille) {
            self.duplicated += 1;
            let second =
                config.delay_min_ms + self.rng.between(0, config.jitter_ms.max(config.reorder_delay_ms));
            return Fate::Twice(delay, second);
        }
        Fate::Once(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(gst: u64) -> NetworkConfig {
        NetworkConfig {
            loss_per_mille: 500,
            duplicate_per_mille: 100,
            reorder_per_mille: 100,
            reorder_delay_ms: 300,
            delay_min_ms: 5,
            jitter_ms: 100,
            stable_delay_max_ms: 20,
            gst: SimTime(gst),
            partitions: vec![Partition { start: SimTime(0), heal: SimTime(gst), group: vec![0, 0, 1, 1] }],
        }
    }

    #[test]
    fn partitions_cut_across_groups_until_heal() {
        let mut network = Network::new(lossy(1000), Rng::new(1));
        assert_eq!(network.route(SimTime(10), NodeId(0), NodeId(2)), Fate::Lost);
        assert!(!network.partitioned(SimTime(10), NodeId(0), NodeId(1)));
        assert!(!network.partitioned(SimTime(1000), NodeId(0), NodeId(2)));
    }

    #[test]
    fn after_gst_every_message_arrives_within_the_bound() {
        let mut network = Network::new(lossy(1000), Rng::new(2));
        for _ in 0..1000 {
            match network.route(SimTime(1000), NodeId(0), NodeId(3)) {
                Fate::Once(delay) => assert!((5..=20).contains(&delay)),
                other => panic!("after GST a message must arrive once, got {other:?}"),
            }
        }
    }

    #[test]
    fn before_gst_loss_is_near_the_configured_rate() {
        let mut network = Network::new(lossy(1_000_000), Rng::new(3));
        let lost =
            (0..10_000).filter(|_| network.route(SimTime(1), NodeId(0), NodeId(1)) == Fate::Lost).count();
        assert!((4_500..5_500).contains(&lost), "{lost} of 10000 lost at 50%");
        assert!(network.duplicated > 0);
    }

    #[test]
    fn validate_refuses_partitions_that_outlive_gst() {
        let mut config = lossy(1000);
        assert_eq!(config.validate(), Ok(()));
        config.partitions[0].heal = SimTime(2000);
        assert!(config.validate().is_err());
        config.partitions.clear();
        config.loss_per_mille = 600;
        assert!(config.validate().is_err());
    }
}
