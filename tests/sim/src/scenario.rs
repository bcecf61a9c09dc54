//! What one seed simulates: the validator count, the signature scheme, the network's faults,
//! the Byzantine actors, the crash schedule and the timing. Everything is drawn from the
//! seed, so a seed names a run completely.

use tally_types::ValidatorIndex;

use crate::network::{NetworkConfig, NodeId, Partition};
use crate::queue::SimTime;
use crate::rng::Rng;
use crate::scheme::SchemeKind;

/// A deliberately malicious validator. Each runs the honest core for its bookkeeping (views,
/// blocks, certificates) and corrupts what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Behavior {
    /// As leader, sends two different proposals to two halves of the validators.
    Equivocator,
    /// Notarizes two different blocks in a view (one to each half), and signs finalize
    /// alongside every nullify and nullify alongside every finalize.
    ConflictingVoter,
    /// Never notarizes or finalizes; nullifies every view it enters.
    Nuller,
    /// Corrupts signatures on what it sends, forges votes in other validators' names, and
    /// answers fetches with tampered blocks.
    InvalidSigner,
    /// As leader, proposes a block on its parent's parent, skipping a notarized view (only a
    /// core that skips the nullification check accepts it).
    ForkingLeader,
    /// As leader, proposes a properly signed block that fails validation: a wrong state root,
    /// a time far ahead of every clock, or a wrong height.
    BadBlockLeader,
    /// Two hosts running honest code with the same key, started independently.
    Twin,
}

impl Behavior {
    /// Every behavior, in the order scenarios draw from.
    pub const ALL: [Behavior; 7] = [
        Behavior::Equivocator,
        Behavior::ConflictingVoter,
        Behavior::Nuller,
        Behavior::InvalidSigner,
        Behavior::ForkingLeader,
        Behavior::BadBlockLeader,
        Behavior::Twin,
    ];
}

/// Where in a node's write path a crash strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// At the planned time, wherever the node is.
    Anytime,
    /// At the node's next WAL write, before it is durable: the entry is lost, and the vote
    /// in it must never be sent.
    BeforeWriteCompletes,
    /// At the node's next WAL write completion, before the core hears of it: the entry is
    /// durable but the messages waiting on it never went out.
    AfterWriteBeforeSend,
}

/// One crash and restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashPlan {
    pub node: NodeId,
    /// When the crash is armed (and, for [`CrashPoint::Anytime`], happens).
    pub at: SimTime,
    pub point: CrashPoint,
    /// How long the node stays down.
    pub down_ms: u64,
}

/// How long an armed crash waits for its write before striking anyway.
pub const CRASH_ARM_WAIT_MS: u64 = 300;

/// A deliberately broken core (tally-consensus `test-faults`), applied to every honest host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenCore {
    /// R2 broken: notarize every valid proposal of a view.
    NotarizeTwicePerView,
    /// R3 broken: notarize without nullifications for the skipped views.
    SkipNullificationCheck,
}

/// The consensus timing of every core in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub leader_timeout_ms: u64,
    pub advance_timeout_ms: u64,
    pub nullify_retry_ms: u64,
    pub timeout_max_ms: u64,
    pub timeout_growth_percent: u32,
}

/// Local latencies of a host: disk writes, block verification and building.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latencies {
    pub write_ms: (u64, u64),
    pub verify_ms: (u64, u64),
    pub build_ms: (u64, u64),
}

/// Everything one run simulates.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub n: usize,
    pub scheme: SchemeKind,
    pub network: NetworkConfig,
    /// Byzantine validators and what each does (at most f). A `Twin` adds a second host.
    pub byzantine: Vec<(ValidatorIndex, Behavior)>,
    pub crashes: Vec<CrashPlan>,
    /// Per host (twins included), the offset of its clock from true simulated time.
    pub clock_offsets_ms: Vec<i64>,
    pub timing: Timing,
    pub latencies: Latencies,
    /// L1: after GST a block of a later view commits within this many views.
    pub liveness_bound_views: u64,
    /// The run stops here at the latest (it stops earlier once liveness is shown).
    pub deadline: SimTime,
    /// Blocks every honest host must commit past the first post-GST block before the run
    /// stops early.
    pub blocks_after_gst: u64,
    pub broken: Option<BrokenCore>,
    /// Missing ancestors a core fetches one by one before it asks its host to sync; small
    /// values make the sync path run in short simulations.
    pub fetch_gap_blocks_max: u64,
    /// A deliberately broken host that acknowledges WAL writes before they are durable (the
    /// oracle's own test of the persist-before-send check).
    pub host_acks_early: bool,
    /// Deliberately broken cores that, after a key rotation, still accept signatures of the
    /// slot's genesis key (the oracle's own test of the retired-key rule).
    pub stale_keys: bool,
    /// A validator's host whose disks lie about fsync (it counts as faulty, within f).
    pub lying_disk: Option<NodeId>,
    /// Clients submit signed transfers to honest nodes during the run.
    pub submit_txs: bool,
    /// When the member submits governance proposals that start a new epoch, and what each
    /// changes, in order: each passes at once (the only member's yes) and its epoch starts two
    /// blocks later, amid the run's other faults.
    pub reconfigurations: Vec<Reconfiguration>,
}

/// One governance change a run submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconfiguration {
    pub at: SimTime,
    pub change: Change,
}

/// What a governance change does to the validators, by *slot*: the keyring's and the hosts'
/// name for a validator (genesis validators are slots `0..n`, joiners the next slots in the
/// order they are drawn). A slot's index in an epoch's set is another thing: a rotation keeps
/// it, but a removal shifts every later validator down by one, so the simulator maps slots to
/// indices epoch by epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// New consensus parameters, the same validators.
    Params,
    /// The validator's consensus key is replaced by its next generation (its host holds both:
    /// the operator rotated the key on the same machine). From the new epoch on, the old key
    /// is a thief's: the simulator signs votes with it, and none may count.
    Rotate { slot: ValidatorIndex },
    /// The validator leaves (its node stops at the epoch's start); the simulator keeps signing
    /// votes with its key, and none may count.
    Remove { slot: ValidatorIndex },
    /// A new validator is added after the last of the set (its own host, with the next unused
    /// slot, follows the chain as a full node from the run's start and validates once its epoch
    /// begins).
    Join { slot: ValidatorIndex },
}

impl Change {
    fn label(&self) -> String {
        match self {
            Change::Params => "params".into(),
            Change::Rotate { slot } => format!("rotate:{slot}"),
            Change::Remove { slot } => format!("remove:{slot}"),
            Change::Join { slot } => format!("join:{slot}"),
        }
    }
}

/// Knobs of scenario generation that a caller fixes rather than the seed.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioOptions {
    pub scheme: SchemeKind,
    /// Draw Byzantine actors (up to f).
    pub byzantine: bool,
    /// Draw crashes.
    pub crashes: bool,
    /// Run a deliberately broken core on every honest host.
    pub broken: Option<BrokenCore>,
    /// Run hosts that acknowledge WAL writes before they are durable.
    pub host_acks_early: bool,
    /// Run cores that, after a key rotation, still accept their validators' genesis keys.
    pub stale_keys: bool,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            scheme: SchemeKind::Fast,
            byzantine: true,
            crashes: true,
            broken: None,
            host_acks_early: false,
            stale_keys: false,
        }
    }
}

/// The largest one-way delay after GST (Δ). Timeouts below are multiples of it.
const DELTA_MS: u64 = 40;

impl Timing {
    /// Timeouts for Δ = 40 ms plus local latencies: the leader timeout (2Δ in the paper)
    /// gets a proposal built and across; the advance timeout (3Δ) a notarization too.
    pub fn simulated() -> Self {
        Timing {
            leader_timeout_ms: 4 * DELTA_MS,
            advance_timeout_ms: 6 * DELTA_MS,
            nullify_retry_ms: 5 * DELTA_MS,
            timeout_max_ms: 50 * DELTA_MS,
            timeout_growth_percent: 150,
        }
    }
}

/// The liveness bound, in views after the highest view any honest host was in at GST.
///
/// Why n + 2: after GST every message between live hosts arrives within Δ and every crashed
/// host is back, so honest hosts enter each view within Δ of one another (any certificate
/// is forwarded). The view in progress at GST may still fail (its proposal or votes may
/// have been lost before GST), and so may any view whose leader is Byzantine or must first
/// fetch a parent it lost before GST. Among any n consecutive views each validator leads
/// exactly once, so a full rotation after the view in progress contains every honest
/// leader; timeouts only grow while views fail, so by then they exceed any catch-up a
/// leader needs. One more view absorbs a view boundary crossed while certificates
/// propagate. The bound is deliberately not tighter (f + 2, say): a view whose honest leader
/// must first fetch a parent lost before GST may fail too, and campaigns do see 4 views for
/// n = 4 (f + 3). Observed over 1,000 seeds per n: at most 4 views (n = 4) and 5 (n = 7,
/// 10); most seeds commit in the first view after GST.
pub fn liveness_bound_views(n: usize) -> u64 {
    n as u64 + 2
}

impl Scenario {
    /// The scenario of `seed` for `n` validators.
    pub fn generate(seed: u64, n: usize, options: ScenarioOptions) -> Scenario {
        assert!(n >= 4, "n must be at least 4 (f >= 1), got {n}");
        let f = (n - 1) / 3;
        let mut rng = Rng::new(seed);
        let mut net_rng = rng.fork(1);
        let mut byz_rng = rng.fork(2);
        let mut crash_rng = rng.fork(3);
        let mut clock_rng = rng.fork(4);
        let mut tuning_rng = rng.fork(5);

        let network = draw_network(&mut net_rng, n, f);
        let gst = network.gst;

        let byzantine = if options.byzantine { draw_byzantine(&mut byz_rng, n, f) } else { Vec::new() };
        let twins = byzantine.iter().filter(|(_, behavior)| *behavior == Behavior::Twin).count();
        let hosts = n + twins;

        let mut crashes = if options.crashes {
            draw_crashes(&mut crash_rng, n, hosts, &byzantine, gst)
        } else {
            Vec::new()
        };

        // A disk that lies about fsync makes its node faulty: only when fewer than f validators
        // are Byzantine, and the node crashes once (else the lie never shows).
        let mut disk_rng = rng.fork(6);
        let lying_disk = if options.crashes && byzantine.len() < f && disk_rng.chance(250) {
            draw_lying_disk(&mut disk_rng, n, &byzantine, gst, &mut crashes)
        } else {
            None
        };

        let clock_offsets_ms = (0..hosts).map(|_| clock_rng.between(0, 400) as i64 - 200).collect();
        // Drawn from a fork of its own, so the other faults of a seed are what they were before
        // reconfigurations existed.
        let mut reconfig_rng = rng.fork(7);
        let mut times: Vec<SimTime> =
            (0..reconfig_rng.below(3)).map(|_| SimTime(reconfig_rng.between(100, gst.0 + 1_000))).collect();
        times.sort();
        let faulty_slots = faulty_slots(&byzantine, lying_disk, n);
        let reconfigurations = draw_changes(&mut rng.fork(8), &times, n, &faulty_slots);
        let timing = Timing::simulated();
        let liveness_bound_views = liveness_bound_views(n);
        Scenario {
            seed,
            n,
            scheme: options.scheme,
            network,
            byzantine,
            crashes,
            clock_offsets_ms,
            timing,
            latencies: Latencies { write_ms: (1, 5), verify_ms: (0, 3), build_ms: (0, 3) },
            liveness_bound_views,
            deadline: Self::deadline_after(gst, liveness_bound_views, &timing),
            blocks_after_gst: 3,
            broken: options.broken,
            fetch_gap_blocks_max: [2, 8, 64][tuning_rng.index(3)],
            host_acks_early: options.host_acks_early,
            stale_keys: options.stale_keys,
            lying_disk,
            submit_txs: true,
            reconfigurations,
        }
    }

    /// A run with no faults at all and a constant one-way delay: for measurements.
    pub fn fault_free(seed: u64, n: usize, scheme: SchemeKind, delay_ms: u64, run_ms: u64) -> Scenario {
        let timing = Timing::simulated();
        Scenario {
            seed,
            n,
            scheme,
            network: NetworkConfig::perfect(delay_ms),
            byzantine: Vec::new(),
            crashes: Vec::new(),
            clock_offsets_ms: vec![0; n],
            timing,
            latencies: Latencies { write_ms: (0, 0), verify_ms: (0, 0), build_ms: (0, 0) },
            liveness_bound_views: liveness_bound_views(n),
            deadline: SimTime(run_ms),
            blocks_after_gst: u64::MAX,
            broken: None,
            fetch_gap_blocks_max: 64,
            host_acks_early: false,
            stale_keys: false,
            lying_disk: None,
            submit_txs: true,
            reconfigurations: Vec::new(),
        }
    }

    /// GST plus enough time for `bound` views that all time out at the largest timeout,
    /// and a few more for catch-up.
    fn deadline_after(gst: SimTime, bound: u64, timing: &Timing) -> SimTime {
        gst.plus_ms((bound + 6) * (timing.timeout_max_ms + 4 * DELTA_MS))
    }

    /// f.
    pub fn max_faulty(&self) -> usize {
        (self.n - 1) / 3
    }

    /// The slots that validate after every change (the run's removals and joins), in set order.
    pub fn final_validators(&self) -> Vec<u16> {
        let mut slots: Vec<u16> = (0..self.n as u16).collect();
        for reconfiguration in &self.reconfigurations {
            match reconfiguration.change {
                Change::Remove { slot } => slots.retain(|kept| *kept != slot.0),
                Change::Join { slot } => slots.push(slot.0),
                Change::Params | Change::Rotate { .. } => {}
            }
        }
        slots
    }

    /// Validators the run's changes add (each has a host of its own).
    pub fn joiners(&self) -> usize {
        self.reconfigurations.iter().filter(|r| matches!(r.change, Change::Join { .. })).count()
    }

    /// The twins among the Byzantine validators (each adds a second host).
    pub fn twins(&self) -> usize {
        self.byzantine.iter().filter(|(_, behavior)| *behavior == Behavior::Twin).count()
    }

    /// The number of hosts: one per genesis validator, one per twin, then one per joiner.
    pub fn hosts(&self) -> usize {
        self.n + self.twins() + self.joiners()
    }

    /// A one-line summary for logs.
    pub fn summary(&self) -> String {
        let byzantine: Vec<String> =
            self.byzantine.iter().map(|(index, behavior)| format!("{index}:{behavior:?}")).collect();
        format!(
            "seed {} n={} scheme={:?} loss={}‰ dup={}‰ reorder={}‰ jitter={}ms partitions={} gst={}ms byzantine=[{}] crashes={} lying_disk={:?} fetch_gap={} reconfigurations=[{}] broken={:?}{}",
            self.seed,
            self.n,
            self.scheme,
            self.network.loss_per_mille,
            self.network.duplicate_per_mille,
            self.network.reorder_per_mille,
            self.network.jitter_ms,
            self.network.partitions.len(),
            self.network.gst.0,
            byzantine.join(","),
            self.crashes.len(),
            self.lying_disk,
            self.fetch_gap_blocks_max,
            self.reconfigurations.iter().map(|r| r.change.label()).collect::<Vec<_>>().join(","),
            self.broken,
            if self.host_acks_early { " host_acks_early" } else { "" },
        )
    }
}

/// The network of a seed: GST, loss, up to two partitions that heal by GST, duplication,
/// reordering, delays and jitter, drawn in that order.
fn draw_network(rng: &mut Rng, n: usize, f: usize) -> NetworkConfig {
    let gst = SimTime(rng.between(1_500, 6_000));
    let loss_per_mille = [0, 50, 200, 350, 500][rng.index(5)];
    let mut partitions = Vec::new();
    for _ in 0..rng.below(3) {
        let start = rng.between(0, gst.0 - 100);
        let heal = rng.between(start + 50, gst.0);
        let group = match rng.below(3) {
            // Isolate one host.
            0 => {
                let alone = rng.index(n);
                (0..n + f).map(|host| u8::from(host == alone)).collect()
            }
            // A random split.
            _ => (0..n + f).map(|_| rng.below(2) as u8).collect(),
        };
        partitions.push(Partition { start: SimTime(start), heal: SimTime(heal), group });
    }
    NetworkConfig {
        loss_per_mille,
        duplicate_per_mille: [0, 20, 100][rng.index(3)],
        reorder_per_mille: [0, 50, 200][rng.index(3)],
        reorder_delay_ms: rng.between(50, 400),
        delay_min_ms: rng.between(1, 10),
        jitter_ms: [0, 20, 100, 300][rng.index(4)],
        stable_delay_max_ms: DELTA_MS,
        gst,
        partitions,
    }
}

/// Up to f Byzantine validators, each with a behavior, sorted by index.
fn draw_byzantine(rng: &mut Rng, n: usize, f: usize) -> Vec<(ValidatorIndex, Behavior)> {
    let mut byzantine = Vec::new();
    let count = rng.between(0, f as u64) as usize;
    let mut indices: Vec<u16> = (0..n as u16).collect();
    rng.shuffle(&mut indices);
    for &index in &indices[..count] {
        let behavior = Behavior::ALL[rng.index(Behavior::ALL.len())];
        byzantine.push((ValidatorIndex(index), behavior));
    }
    byzantine.sort();
    byzantine
}

/// Up to three crashes of hosts that are not Byzantine (a twin's host may crash), each
/// ending early enough before GST for the host to be back and armed.
fn draw_crashes(
    rng: &mut Rng,
    n: usize,
    hosts: usize,
    byzantine: &[(ValidatorIndex, Behavior)],
    gst: SimTime,
) -> Vec<CrashPlan> {
    let mut crashes = Vec::new();
    let byzantine_host = |host: usize| {
        host < n && byzantine.iter().any(|(index, b)| usize::from(index.0) == host && *b != Behavior::Twin)
    };
    for _ in 0..rng.below(4) {
        let host = rng.index(hosts);
        if byzantine_host(host) {
            continue;
        }
        let down_ms = rng.between(20, 800);
        let latest = gst.0.saturating_sub(down_ms + CRASH_ARM_WAIT_MS + 100);
        if latest == 0 {
            continue;
        }
        let point = [CrashPoint::Anytime, CrashPoint::BeforeWriteCompletes, CrashPoint::AfterWriteBeforeSend]
            [rng.index(3)];
        crashes.push(CrashPlan {
            node: NodeId(host as u16),
            at: SimTime(rng.between(0, latest)),
            point,
            down_ms,
        });
    }
    crashes
}

/// The host of an honest validator whose disk lies about fsync, with the crash that makes the
/// lie show (added to `crashes`); none when that crash would not fit before GST.
fn draw_lying_disk(
    rng: &mut Rng,
    n: usize,
    byzantine: &[(ValidatorIndex, Behavior)],
    gst: SimTime,
    crashes: &mut Vec<CrashPlan>,
) -> Option<NodeId> {
    let honest: Vec<usize> =
        (0..n).filter(|host| !byzantine.iter().any(|(index, _)| usize::from(index.0) == *host)).collect();
    let host = honest[rng.index(honest.len())];
    let down_ms = rng.between(20, 800);
    let latest = gst.0.saturating_sub(down_ms + CRASH_ARM_WAIT_MS + 100);
    if latest == 0 {
        return None;
    }
    crashes.push(CrashPlan {
        node: NodeId(host as u16),
        at: SimTime(rng.between(0, latest)),
        point: CrashPoint::Anytime,
        down_ms,
    });
    Some(NodeId(host as u16))
}

/// The validator slots whose hosts are faulty: Byzantine (twins included) or on a lying disk.
fn faulty_slots(byzantine: &[(ValidatorIndex, Behavior)], lying_disk: Option<NodeId>, n: usize) -> Vec<u16> {
    let mut slots: Vec<u16> = byzantine.iter().map(|(index, _)| index.0).collect();
    // A lying disk is only drawn for a validator's own host (index below n).
    slots.extend(lying_disk.map(|node| node.0).filter(|slot| usize::from(*slot) < n));
    slots.sort();
    slots.dedup();
    slots
}

/// What each reconfiguration at `times` changes: new parameters; a key rotation of any
/// validator in the set; the removal of any correct validator in the set while at least 5
/// remain and the faulty validators that stay are at most f of those left (so safety and
/// liveness still hold for the new set); or a new validator with the next unused slot (also
/// after removals: a removed slot is never reused, as a removed key is never re-added).
fn draw_changes(rng: &mut Rng, times: &[SimTime], n: usize, faulty: &[u16]) -> Vec<Reconfiguration> {
    let mut live: Vec<u16> = (0..n as u16).collect();
    let mut next_slot = n as u16;
    times
        .iter()
        .map(|&at| {
            let removable: Vec<u16> = live.iter().copied().filter(|slot| !faulty.contains(slot)).collect();
            let left = live.len().saturating_sub(1);
            let faulty_left = live.iter().filter(|slot| faulty.contains(slot)).count();
            let can_remove = live.len() >= 5 && !removable.is_empty() && faulty_left <= (left - 1) / 3;
            let change = match rng.below(4) {
                0 => Change::Params,
                2 if can_remove => {
                    let slot = removable[rng.index(removable.len())];
                    live.retain(|kept| *kept != slot);
                    Change::Remove { slot: ValidatorIndex(slot) }
                }
                3 => {
                    let slot = next_slot;
                    next_slot += 1;
                    live.push(slot);
                    Change::Join { slot: ValidatorIndex(slot) }
                }
                _ => Change::Rotate { slot: ValidatorIndex(live[rng.index(live.len())]) },
            };
            Reconfiguration { at, change }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_deterministic_and_within_limits() {
        // Removals of a validator other than the last, and joins after a removal.
        let (mut removed_inside, mut joined_after_removal) = (0, 0);
        for seed in 0..200 {
            for n in [4, 5, 6, 7, 10] {
                let a = Scenario::generate(seed, n, ScenarioOptions::default());
                let b = Scenario::generate(seed, n, ScenarioOptions::default());
                assert_eq!(a.summary(), b.summary());
                assert!(a.byzantine.len() <= a.max_faulty());
                let left = a.final_validators();
                assert!(left.len() >= 4);
                let faulty = faulty_slots(&a.byzantine, a.lying_disk, n);
                let faulty_left = left.iter().filter(|slot| faulty.contains(slot)).count();
                assert!(faulty_left <= (left.len() - 1) / 3, "seed {seed}: too many faulty validators stay");
                let joined = a.reconfigurations.iter().filter_map(|r| match r.change {
                    Change::Join { slot } => Some(usize::from(slot.0)),
                    _ => None,
                });
                assert!(joined.eq(n..n + a.joiners()), "seed {seed}: joiners take the next slots");
                let mut live: Vec<u16> = (0..n as u16).collect();
                for reconfiguration in &a.reconfigurations {
                    match reconfiguration.change {
                        Change::Remove { slot } => {
                            assert!(
                                live.len() >= 5 && !faulty.contains(&slot.0),
                                "seed {seed}: {slot} removed"
                            );
                            let position = live.iter().position(|kept| *kept == slot.0);
                            let position = position.expect("only a validator of the set is removed");
                            removed_inside += usize::from(position + 1 < live.len());
                            live.remove(position);
                        }
                        Change::Join { slot } => {
                            joined_after_removal += usize::from(live.len() < usize::from(slot.0));
                            live.push(slot.0);
                        }
                        Change::Rotate { slot } => {
                            assert!(live.contains(&slot.0), "seed {seed}: {slot} rotated")
                        }
                        Change::Params => {}
                    }
                }
                assert_eq!(a.network.validate(), Ok(()));
                assert_eq!(a.clock_offsets_ms.len(), a.n + a.twins());
                for crash in &a.crashes {
                    assert!(
                        crash.at.0 + crash.down_ms + CRASH_ARM_WAIT_MS < a.network.gst.0,
                        "restart before GST"
                    );
                }
            }
        }
        assert!(removed_inside > 0 && joined_after_removal > 0, "{removed_inside} {joined_after_removal}");
    }
}
