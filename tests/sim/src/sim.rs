//! One simulated run: hosts that drive `tally-consensus` cores through their effects over
//! the simulated network, disk and clock, Byzantine hosts, crashes, and the oracle watching.
//!
//! A host here is what `tally-node`'s engine is in production, with every I/O simulated:
//! - Persist: a write completes after a simulated latency, in ticket order; only then is
//!   the entry durable (it survives a crash) and `Persisted` fed back.
//! - Send: through [`Network`]; `Recipient::All` reaches every host of every other validator.
//! - SetTimer: a queue event; a later timer of the same kind replaces the earlier one.
//! - VerifyBlock / BuildBlock: [`ChainSpec::verify`] and [`ChainSpec::build`] after a latency.
//! - Commit: the finalization is checked, the block must extend the host's stored chain,
//!   and it is stored (the store is durable at once, as redb with immediate durability).
//! - Fetch / Sync: request-response over the same network, answered by peers from their
//!   store or their core.
//!
//! Everything the oracle learns it learns here, from outside the cores.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tally_consensus::{
    BlockRef, Config, Core, Effect, Evidence, Input, Message, Recipient, Scheme, Ticket, Timer, TimerKind,
    WalEntry,
};
use tally_types::{
    Block, BlockId, Certificate, Domain, Height, Namespace, Proposal, Subject, ValidatorIndex, View, Vote,
    encode,
};

use crate::chain::{ChainSpec, GENESIS_TIME_MS};
use crate::network::{Fate, Network, NodeId};
use crate::oracle::{Oracle, Violation};
use crate::queue::{EventQueue, QueueFull, SimTime};
use crate::rng::Rng;
use crate::scenario::{Behavior, BrokenCore, CRASH_ARM_WAIT_MS, CrashPoint, Scenario};
use crate::scheme::{Keyring, SimScheme};

/// Events queued at once; beyond this a run is a runaway and stops with a violation.
const QUEUE_CAPACITY: usize = 1 << 20;
/// Events processed in one run; far above what any scenario needs (a few hundred thousand).
const EVENTS_MAX: u64 = 20_000_000;
/// Blocks in one sync response; the simulated chains stay far shorter.
const SYNC_BLOCKS_MAX: usize = 4_096;
/// How often a host re-sends an unanswered sync request.
const SYNC_RETRY_MS: u64 = 300;
/// Blocks a Byzantine host remembers for its attacks.
const BYZANTINE_BLOCKS_MAX: usize = 1_024;

/// What crosses the simulated network.
#[derive(Clone, Debug)]
pub enum Wire {
    Consensus(Message),
    FetchRequest(BlockId),
    FetchResponse(Block),
    SyncRequest { target: BlockId, from_height: Height },
    SyncResponse { target: BlockId, blocks: Vec<Block> },
}

impl Wire {
    /// Bytes that identify the payload, for the trace hash.
    fn trace_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Wire::Consensus(message) => {
                out.push(0);
                out.extend(encode(message));
            }
            Wire::FetchRequest(id) => {
                out.push(1);
                out.extend(id.0.as_bytes());
            }
            Wire::FetchResponse(block) => {
                out.push(2);
                out.extend(block.id().0.as_bytes());
            }
            Wire::SyncRequest { target, from_height } => {
                out.push(3);
                out.extend(target.0.as_bytes());
                out.extend(from_height.0.to_le_bytes());
            }
            Wire::SyncResponse { target, blocks } => {
                out.push(4);
                out.extend(target.0.as_bytes());
                for block in blocks {
                    out.extend(block.id().0.as_bytes());
                }
            }
        }
        out
    }
}

/// A queued event. `incarnation` ties host-local events to one life of the host, so that a
/// crash cancels its timers, writes and pending work.
#[derive(Debug)]
enum Event {
    Deliver { from: NodeId, to: NodeId, wire: Wire, hop: u32 },
    Timer { node: NodeId, incarnation: u64, timer: Timer, generation: u64 },
    WriteDone { node: NodeId, incarnation: u64, ticket: Ticket, hop: u32 },
    Verified { node: NodeId, incarnation: u64, view: View, block_id: BlockId, valid: bool, hop: u32 },
    Built { node: NodeId, incarnation: u64, view: View, block: Block, hop: u32 },
    SyncRetry { node: NodeId, incarnation: u64 },
    CrashArm { plan: usize },
    CrashDeadline { plan: usize, incarnation: u64 },
    Restart { node: NodeId },
    Gst,
}

/// What a host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Honest,
    /// Honest code sharing its key with another host.
    Twin,
    Byzantine(Behavior),
}

/// What this host signed, as far as durability is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Signed {
    Vote(SubjectKey),
    Proposal(View, BlockId),
}

/// `Subject` with an order, for sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SubjectKey {
    Notarize(View, BlockId),
    Nullify(View),
    Finalize(View, BlockId),
}

impl From<Subject> for SubjectKey {
    fn from(subject: Subject) -> Self {
        match subject {
            Subject::Notarize { view, block_id } => SubjectKey::Notarize(view, block_id),
            Subject::Nullify { view } => SubjectKey::Nullify(view),
            Subject::Finalize { view, block_id } => SubjectKey::Finalize(view, block_id),
        }
    }
}

/// Per-host state that only a Byzantine host uses.
#[derive(Default)]
struct Mischief {
    blocks: BTreeMap<BlockId, Block>,
    blocks_in_view: BTreeMap<View, BTreeSet<BlockId>>,
    /// Equivocation: the hosts that got the first proposal of a view.
    first_half: BTreeMap<View, Vec<NodeId>>,
    /// The honest proposal a forking leader withheld, per view.
    withheld: BTreeMap<View, BlockId>,
    last_nullified: View,
}

impl Mischief {
    fn remember(&mut self, block: &Block) {
        if self.blocks.len() >= BYZANTINE_BLOCKS_MAX {
            let lowest = self.blocks.iter().min_by_key(|(_, b)| b.header.height).map(|(id, _)| *id);
            if let Some(id) = lowest {
                self.blocks.remove(&id);
            }
        }
        let view = block.header.view;
        self.blocks.insert(block.id(), block.clone());
        self.blocks_in_view.entry(view).or_default().insert(block.id());
        while self.blocks_in_view.len() > 64 {
            self.blocks_in_view.pop_first();
        }
    }
}

struct Host {
    id: NodeId,
    validator: ValidatorIndex,
    role: Role,
    scheme: SimScheme,
    core: Option<Core<SimScheme>>,
    incarnation: u64,
    clock_offset_ms: i64,
    /// Durable WAL entries, in write order.
    wal: Vec<WalEntry>,
    /// Writes issued but not yet durable, in ticket order.
    pending_writes: VecDeque<(Ticket, WalEntry)>,
    write_busy_until: SimTime,
    /// Everything this host ever made durable (never pruned): the persist-before-send check.
    durable_signed: BTreeSet<Signed>,
    /// Blocks this host built or found valid in `VerifyBlock` (kept across crashes, as the
    /// host's own record): an honest core notarizes no other block.
    valid_blocks: BTreeSet<BlockId>,
    /// The committed chain (the block store); durable.
    store: Vec<Block>,
    store_index: BTreeMap<BlockId, usize>,
    timer_generation: BTreeMap<TimerKind, u64>,
    armed_crash: Option<(usize, CrashPoint)>,
    sync_target: Option<(BlockId, Height)>,
    mischief: Mischief,
    wal_len_max: usize,
}

impl Host {
    fn tip(&self, genesis: &BlockRef) -> BlockRef {
        self.store.last().map(BlockRef::of).unwrap_or(*genesis)
    }

    fn is_up(&self) -> bool {
        self.core.is_some()
    }

    fn runs_honest_code(&self) -> bool {
        matches!(self.role, Role::Honest | Role::Twin)
    }

    fn lookup(&self, id: &BlockId) -> Option<&Block> {
        self.core
            .as_ref()
            .and_then(|core| core.block(id))
            .or_else(|| self.store_index.get(id).map(|&index| &self.store[index]))
    }
}

/// Counters and measurements of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub delivered: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub messages_duplicated: u64,
    pub crashes: u64,
    /// Crashes with a WAL write in flight (the entry lost).
    pub crashes_before_write: u64,
    /// Crashes right after a WAL write became durable, before the core heard of it.
    pub crashes_after_write: u64,
    pub restarts: u64,
    pub evidence: u64,
    pub syncs: u64,
    /// Sync requests answered and applied.
    pub syncs_completed: u64,
    /// Height of the committed chain at the end.
    pub height: u64,
    /// Highest view any honest host reached.
    pub max_view: u64,
    pub view_at_gst: Option<u64>,
    pub first_view_after_gst: Option<u64>,
    /// Simulated time at the end, ms.
    pub end_ms: u64,
    /// Largest WAL any host held (entries).
    pub wal_len_max: usize,
    /// Per commit by a host: network hops from the proposal to the commit (proposal = 1).
    pub latency_hops: Vec<u32>,
    /// Per commit by a host: simulated ms from the proposal's send to the commit.
    pub latency_ms: Vec<u64>,
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    pub n: usize,
    pub summary: String,
    /// blake3 over every processed event.
    pub trace_hash: [u8; 32],
    pub violations: Vec<Violation>,
    pub violations_dropped: usize,
    pub stats: Stats,
}

impl Outcome {
    /// True when no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Why a run could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the scenario's network is invalid: {0}")]
    Network(String),
    #[error("host {0}: the core refused its configuration: {1}")]
    Config(usize, String),
    #[error("a broken core was requested but tally-sim was built without the `broken-core` feature")]
    BrokenCoreUnavailable,
}

/// One run in progress.
pub struct Simulation {
    scenario: Scenario,
    spec: ChainSpec,
    verifier: SimScheme,
    queue: EventQueue<Event>,
    network: Network,
    hosts: Vec<Host>,
    oracle: Oracle,
    trace: blake3::Hasher,
    /// Host-side randomness: local latencies, peer choice, Byzantine splits.
    rng: Rng,
    certificate_cache: BTreeMap<[u8; 32], bool>,
    view_at_gst: Option<View>,
    first_after_gst: Option<(View, Height)>,
    proposal_sent: BTreeMap<BlockId, (u32, SimTime)>,
    stats: Stats,
    verbose: bool,
}

fn config_for(
    scenario: &Scenario,
    spec: &ChainSpec,
    me: ValidatorIndex,
    anchor: BlockRef,
    role: Role,
) -> Result<Config, SetupError> {
    let mut config = Config::new(spec.chain_id.clone(), spec.validators.clone(), me, anchor);
    let timing = &scenario.timing;
    config.leader_timeout_ms = timing.leader_timeout_ms;
    config.advance_timeout_ms = timing.advance_timeout_ms;
    config.nullify_retry_ms = timing.nullify_retry_ms;
    config.timeout_max_ms = timing.timeout_max_ms;
    config.timeout_growth_percent = timing.timeout_growth_percent;
    config.fetch_gap_blocks_max = scenario.fetch_gap_blocks_max;
    if role == Role::Honest {
        apply_broken(&mut config, scenario.broken)?;
    }
    Ok(config)
}

#[cfg(feature = "broken-core")]
fn apply_broken(config: &mut Config, broken: Option<BrokenCore>) -> Result<(), SetupError> {
    match broken {
        Some(BrokenCore::NotarizeTwicePerView) => config.faults.notarize_twice_per_view = true,
        Some(BrokenCore::SkipNullificationCheck) => config.faults.skip_nullification_check = true,
        None => {}
    }
    Ok(())
}

#[cfg(not(feature = "broken-core"))]
fn apply_broken(_config: &mut Config, broken: Option<BrokenCore>) -> Result<(), SetupError> {
    match broken {
        Some(_) => Err(SetupError::BrokenCoreUnavailable),
        None => Ok(()),
    }
}

/// A short description of a message for logs.
fn describe(message: &Message) -> String {
    fn short(id: &BlockId) -> String {
        id.0.to_hex()[..8].to_owned()
    }
    match message {
        Message::Proposal(p) => format!(
            "proposal v{} parent_view {} block {} h{}",
            p.view,
            p.parent_view,
            short(&p.block.id()),
            p.block.header.height
        ),
        Message::Vote(v) => match v.subject {
            Subject::Notarize { view, block_id } => {
                format!("notarize v{view} {} by {}", short(&block_id), v.signer)
            }
            Subject::Nullify { view } => format!("nullify v{view} by {}", v.signer),
            Subject::Finalize { view, block_id } => {
                format!("finalize v{view} {} by {}", short(&block_id), v.signer)
            }
        },
        Message::Certificate(c) => match c.subject {
            Subject::Notarize { view, block_id } => format!("notarization v{view} {}", short(&block_id)),
            Subject::Nullify { view } => format!("nullification v{view}"),
            Subject::Finalize { view, block_id } => format!("finalization v{view} {}", short(&block_id)),
        },
    }
}

fn conflicting(a: &Subject, b: &Subject) -> bool {
    if a.view() != b.view() {
        return false;
    }
    match (a, b) {
        (Subject::Notarize { block_id: x, .. }, Subject::Notarize { block_id: y, .. })
        | (Subject::Finalize { block_id: x, .. }, Subject::Finalize { block_id: y, .. }) => x != y,
        (Subject::Nullify { .. }, Subject::Finalize { .. })
        | (Subject::Finalize { .. }, Subject::Nullify { .. }) => true,
        _ => false,
    }
}

impl Simulation {
    /// Sets up the run of `scenario`.
    pub fn new(scenario: Scenario, verbose: bool) -> Result<Self, SetupError> {
        scenario.network.validate().map_err(SetupError::Network)?;
        let mut rng = Rng::new(scenario.seed ^ 0x005e_ed0f_5137);
        let network = Network::new(scenario.network.clone(), rng.fork(10));
        let host_rng = rng.fork(11);
        let keyring = Keyring::new(
            scenario.scheme,
            tally_types::ChainId::new(crate::chain::CHAIN_ID).expect("valid chain id"),
            scenario.n,
        );
        let spec = ChainSpec::new(keyring.validators().clone());
        let verifier = keyring.scheme(ValidatorIndex(0));

        let mut hosts = Vec::new();
        let twins: Vec<ValidatorIndex> = scenario
            .byzantine
            .iter()
            .filter(|(_, b)| *b == Behavior::Twin)
            .map(|(index, _)| *index)
            .collect();
        for host in 0..scenario.hosts() {
            let validator =
                if host < scenario.n { ValidatorIndex(host as u16) } else { twins[host - scenario.n] };
            let role = match scenario.byzantine.iter().find(|(index, _)| *index == validator) {
                Some((_, Behavior::Twin)) => Role::Twin,
                Some((_, behavior)) => Role::Byzantine(*behavior),
                None => Role::Honest,
            };
            hosts.push(Host {
                id: NodeId(host as u16),
                validator,
                role,
                scheme: keyring.scheme(validator),
                core: None,
                incarnation: 0,
                clock_offset_ms: scenario.clock_offsets_ms.get(host).copied().unwrap_or(0),
                wal: Vec::new(),
                pending_writes: VecDeque::new(),
                write_busy_until: SimTime(0),
                durable_signed: BTreeSet::new(),
                valid_blocks: BTreeSet::new(),
                store: Vec::new(),
                store_index: BTreeMap::new(),
                timer_generation: BTreeMap::new(),
                armed_crash: None,
                sync_target: None,
                mischief: Mischief::default(),
                wal_len_max: 0,
            });
        }
        let honest_signers = (0..scenario.n as u16)
            .map(ValidatorIndex)
            .filter(|index| !scenario.byzantine.iter().any(|(byzantine, _)| byzantine == index))
            .collect();
        let oracle = Oracle::new(spec.genesis.id, honest_signers);
        let mut simulation = Simulation {
            queue: EventQueue::new(QUEUE_CAPACITY),
            network,
            hosts,
            oracle,
            trace: blake3::Hasher::new_derive_key("tally-sim v1 trace"),
            rng: host_rng,
            certificate_cache: BTreeMap::new(),
            view_at_gst: None,
            first_after_gst: None,
            proposal_sent: BTreeMap::new(),
            stats: Stats::default(),
            verbose,
            spec,
            verifier,
            scenario,
        };
        for host in 0..simulation.hosts.len() {
            let (validator, role) = (simulation.hosts[host].validator, simulation.hosts[host].role);
            let config =
                config_for(&simulation.scenario, &simulation.spec, validator, simulation.spec.genesis, role)?;
            let core = Core::new(config, simulation.hosts[host].scheme.clone())
                .map_err(|error| SetupError::Config(host, error.to_string()))?;
            simulation.hosts[host].core = Some(core);
        }
        for plan in 0..simulation.scenario.crashes.len() {
            let at = simulation.scenario.crashes[plan].at;
            simulation.schedule(at, Event::CrashArm { plan });
        }
        let gst = simulation.scenario.network.gst;
        simulation.schedule(gst, Event::Gst);
        Ok(simulation)
    }

    fn log(&self, text: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("[{:>8} ms] {}", self.queue.now().0, text());
        }
    }

    fn schedule(&mut self, due: SimTime, event: Event) {
        if let Err(QueueFull(capacity)) = self.queue.schedule(due, event) {
            self.oracle.violate(Violation::Host {
                node: NodeId(0),
                what: format!("event queue overflow at {capacity} events"),
            });
        }
    }

    fn schedule_in(&mut self, delay_ms: u64, event: Event) {
        let due = self.queue.now().plus_ms(delay_ms);
        self.schedule(due, event);
    }

    fn local_clock_ms(&self, node: NodeId) -> u64 {
        let offset = self.hosts[node.index()].clock_offset_ms;
        (GENESIS_TIME_MS + self.queue.now().0).saturating_add_signed(offset)
    }

    fn latency(&mut self, range: (u64, u64)) -> u64 {
        self.rng.between(range.0, range.1)
    }

    fn trace_event(&mut self, tag: u8, node: NodeId, bytes: &[u8]) {
        self.trace.update(&[tag]);
        self.trace.update(&self.queue.now().0.to_le_bytes());
        self.trace.update(&node.0.to_le_bytes());
        self.trace.update(&(bytes.len() as u64).to_le_bytes());
        self.trace.update(bytes);
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Outcome {
        for host in 0..self.hosts.len() {
            let node = NodeId(host as u16);
            let effects = self.hosts[host].core.as_mut().map(Core::start).unwrap_or_default();
            self.perform(node, effects, 0);
            self.after_input(node, 0);
        }
        let deadline = self.scenario.deadline;
        let mut stopped_early = false;
        while let Some((_, event)) = self.queue.pop_until(deadline) {
            self.stats.events += 1;
            if self.stats.events > EVENTS_MAX {
                self.oracle.violate(Violation::Host {
                    node: NodeId(0),
                    what: format!("more than {EVENTS_MAX} events: runaway"),
                });
                break;
            }
            let check_progress = matches!(event, Event::Deliver { .. } | Event::Gst);
            self.handle(event);
            if check_progress && self.view_at_gst.is_some() && self.liveness_shown() {
                stopped_early = true;
                break;
            }
        }
        self.finish(stopped_early)
    }

    /// Honest hosts: the ones whose catch-up L1 checks.
    fn honest_hosts(&self) -> Vec<NodeId> {
        self.hosts.iter().filter(|host| host.runs_honest_code()).map(|host| host.id).collect()
    }

    /// The first block committed of a view after the view at GST, and its height.
    fn first_after_gst(&self) -> Option<(View, Height)> {
        self.first_after_gst
    }

    /// Updates [`Self::first_after_gst`] with a commit of a block of `view` at `height`.
    fn note_commit_after_gst(&mut self, view: View, height: Height) {
        if self.view_at_gst.is_some_and(|at_gst| view > at_gst)
            && self.first_after_gst.is_none_or(|(first, _)| view < first)
        {
            self.first_after_gst = Some((view, height));
        }
    }

    fn liveness_shown(&self) -> bool {
        let Some((_, height)) = self.first_after_gst else { return false };
        let target = Height(height.0.saturating_add(self.scenario.blocks_after_gst));
        self.hosts
            .iter()
            .filter(|host| host.runs_honest_code())
            .all(|host| self.oracle.committed_height(host.id) >= target)
    }

    fn finish(mut self, stopped_early: bool) -> Outcome {
        match self.view_at_gst {
            Some(view_at_gst) => {
                self.oracle.check_progress_after_gst(view_at_gst, self.scenario.liveness_bound_views);
                if let Some((_, height)) = self.first_after_gst() {
                    let hosts = self.honest_hosts();
                    self.oracle.check_caught_up(&hosts, height);
                }
            }
            None => {
                self.oracle
                    .violate(Violation::Host { node: NodeId(0), what: "the run ended before GST".into() });
            }
        }
        self.log(|| format!("run ends (early: {stopped_early})"));
        let mut stats = self.stats.clone();
        stats.height = self.oracle.chain().len() as u64;
        stats.messages_sent = self.network.sent;
        stats.messages_dropped = self.network.dropped;
        stats.messages_duplicated = self.network.duplicated;
        stats.end_ms = self.queue.now().0;
        stats.view_at_gst = self.view_at_gst.map(|view| view.0);
        stats.first_view_after_gst = self.first_after_gst().map(|(view, _)| view.0);
        stats.wal_len_max = self.hosts.iter().map(|host| host.wal_len_max).max().unwrap_or(0);
        for host in &self.hosts {
            if host.role == Role::Honest
                && let Some(core) = &host.core
            {
                stats.max_view = stats.max_view.max(core.view().0);
            }
        }
        Outcome {
            seed: self.scenario.seed,
            n: self.scenario.n,
            summary: self.scenario.summary(),
            trace_hash: *self.trace.finalize().as_bytes(),
            violations: self.oracle.violations().to_vec(),
            violations_dropped: self.oracle.dropped_violations(),
            stats,
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, wire, hop } => self.deliver(from, to, wire, hop),
            Event::Timer { node, incarnation, timer, generation } => {
                let host = &self.hosts[node.index()];
                if host.incarnation != incarnation || !host.is_up() {
                    return;
                }
                if host.timer_generation.get(&timer.kind).copied() != Some(generation) {
                    return;
                }
                self.trace_event(1, node, &[timer.kind as u8]);
                self.log(|| format!("{node} timer {:?} of view {}", timer.kind, timer.view));
                self.feed(node, Input::Timeout(timer), 0);
            }
            Event::WriteDone { node, incarnation, ticket, hop } => {
                self.write_done(node, incarnation, ticket, hop)
            }
            Event::Verified { node, incarnation, view, block_id, valid, hop } => {
                if self.hosts[node.index()].incarnation != incarnation || !self.hosts[node.index()].is_up() {
                    return;
                }
                self.trace_event(3, node, block_id.0.as_bytes());
                self.feed(node, Input::BlockVerified { view, block_id, valid }, hop);
            }
            Event::Built { node, incarnation, view, block, hop } => {
                if self.hosts[node.index()].incarnation != incarnation || !self.hosts[node.index()].is_up() {
                    return;
                }
                self.trace_event(4, node, block.id().0.as_bytes());
                self.oracle.observe_block(&block);
                let host = &mut self.hosts[node.index()];
                host.valid_blocks.insert(block.id());
                host.mischief.remember(&block);
                self.feed(node, Input::BlockBuilt { view, block }, hop);
            }
            Event::SyncRetry { node, incarnation } => {
                if self.hosts[node.index()].incarnation == incarnation && self.hosts[node.index()].is_up() {
                    self.request_sync(node);
                }
            }
            Event::CrashArm { plan } => self.crash_arm(plan),
            Event::CrashDeadline { plan, incarnation } => {
                let node = self.scenario.crashes[plan].node;
                let host = &self.hosts[node.index()];
                if host.incarnation == incarnation && host.armed_crash.is_some_and(|(armed, _)| armed == plan)
                {
                    self.crash(node, plan, "armed crash point not reached in time");
                }
            }
            Event::Restart { node } => self.restart(node),
            Event::Gst => {
                let view = self
                    .hosts
                    .iter()
                    .filter(|host| host.runs_honest_code())
                    .filter_map(|host| host.core.as_ref().map(|core| core.view()))
                    .max()
                    .unwrap_or(View(0));
                self.trace_event(9, NodeId(0), &view.0.to_le_bytes());
                self.log(|| format!("GST: highest honest view {view}"));
                self.view_at_gst = Some(view);
                // Commits so far are of views up to the highest honest view, so none is
                // after GST yet; later ones are noted as they happen.
                let earlier: Vec<(View, Height)> =
                    self.oracle.commits().iter().map(|commit| (commit.view, commit.height)).collect();
                for (view, height) in earlier {
                    self.note_commit_after_gst(view, height);
                }
            }
        }
    }

    /// Feeds one input to a host's core and performs the effects.
    fn feed(&mut self, node: NodeId, input: Input, hop: u32) {
        let Some(core) = self.hosts[node.index()].core.as_mut() else { return };
        let effects = core.on_input(input);
        self.perform(node, effects, hop);
        self.after_input(node, hop);
    }

    /// What a Byzantine host does after each input on top of its core's effects.
    fn after_input(&mut self, node: NodeId, hop: u32) {
        let host = &self.hosts[node.index()];
        if host.role != Role::Byzantine(Behavior::Nuller) {
            return;
        }
        let Some(view) = host.core.as_ref().map(|core| core.view()) else { return };
        if view <= host.mischief.last_nullified {
            return;
        }
        self.hosts[node.index()].mischief.last_nullified = view;
        let vote = self.sign_vote(node, Subject::Nullify { view });
        self.broadcast(node, Message::Vote(vote), hop + 1);
    }

    fn sign_vote(&self, node: NodeId, subject: Subject) -> Vote {
        let host = &self.hosts[node.index()];
        Vote {
            subject,
            signer: host.validator,
            signature: host.scheme.sign(subject.namespace(), &subject.payload()),
        }
    }

    fn perform(&mut self, node: NodeId, effects: Vec<Effect>, hop: u32) {
        for effect in effects {
            let host = &self.hosts[node.index()];
            if !host.is_up() {
                // The host crashed part-way through: the rest of the effects never happen.
                return;
            }
            let incarnation = host.incarnation;
            match effect {
                Effect::Persist { entry, ticket } => {
                    if let Some((plan, CrashPoint::BeforeWriteCompletes)) = host.armed_crash {
                        self.stats.crashes_before_write += 1;
                        self.crash(node, plan, "before a WAL write completed");
                        return;
                    }
                    let acks_early = self.scenario.host_acks_early;
                    let latency = self.latency(self.scenario.latencies.write_ms);
                    let host = &mut self.hosts[node.index()];
                    let done = host.write_busy_until.max(self.queue.now()).plus_ms(latency);
                    host.write_busy_until = done;
                    host.pending_writes.push_back((ticket, entry));
                    self.schedule(done, Event::WriteDone { node, incarnation, ticket, hop });
                    if acks_early {
                        // The broken host: tells the core the entry is durable at once.
                        self.feed(node, Input::Persisted(ticket), hop);
                    }
                }
                Effect::Send { to, message } => self.send_from_core(node, to, message, hop + 1),
                Effect::SetTimer { timer, after_ms } => {
                    let generation = self.hosts[node.index()].timer_generation.entry(timer.kind).or_insert(0);
                    *generation += 1;
                    let generation = *generation;
                    self.schedule_in(after_ms, Event::Timer { node, incarnation, timer, generation });
                }
                Effect::VerifyBlock { view, block, parent } => {
                    let result = self.spec.verify(&block, view, &parent, self.local_clock_ms(node));
                    if let Err(reason) = &result {
                        self.log(|| format!("{node} refuses block {} of view {view}: {reason}", block.id()));
                    }
                    let latency = self.latency(self.scenario.latencies.verify_ms);
                    let block_id = block.id();
                    if result.is_ok() {
                        self.hosts[node.index()].valid_blocks.insert(block_id);
                    }
                    self.schedule_in(
                        latency,
                        Event::Verified { node, incarnation, view, block_id, valid: result.is_ok(), hop },
                    );
                }
                Effect::BuildBlock { view, parent } => {
                    let validator = self.hosts[node.index()].validator;
                    let block = self.spec.build(view, &parent, validator, self.local_clock_ms(node));
                    let latency = self.latency(self.scenario.latencies.build_ms);
                    self.schedule_in(latency, Event::Built { node, incarnation, view, block, hop });
                }
                Effect::Commit { block, finalization } => self.commit(node, block, finalization, hop),
                Effect::Fetch { block_id } => {
                    self.log(|| format!("{node} fetches {}", &block_id.0.to_hex()[..8]));
                    if let Some(peer) = self.random_peer(node) {
                        self.transmit(node, peer, Wire::FetchRequest(block_id), hop + 1);
                    }
                }
                Effect::Sync { finalization, height } => {
                    match (finalization.subject, self.certificate_valid(&finalization)) {
                        (Subject::Finalize { block_id, .. }, true) => {
                            let host = &mut self.hosts[node.index()];
                            if host.sync_target.is_none_or(|(_, current)| current < height) {
                                host.sync_target = Some((block_id, height));
                            }
                            self.stats.syncs += 1;
                            self.request_sync(node);
                        }
                        _ => self.oracle.violate(Violation::Host {
                            node,
                            what: "core asked to sync to a certificate that is not a valid finalization"
                                .into(),
                        }),
                    }
                }
                Effect::PruneWal { below } => {
                    self.hosts[node.index()].wal.retain(|entry| entry.view() >= below);
                }
                Effect::Evidence(evidence) => self.check_evidence(node, evidence),
            }
        }
    }

    fn write_done(&mut self, node: NodeId, incarnation: u64, ticket: Ticket, hop: u32) {
        let host = &mut self.hosts[node.index()];
        if host.incarnation != incarnation || !host.is_up() {
            return;
        }
        let Some((expected, entry)) = host.pending_writes.pop_front() else {
            self.oracle.violate(Violation::Host {
                node,
                what: format!("write {ticket:?} completed with none pending"),
            });
            return;
        };
        assert_eq!(expected, ticket, "simulated writes complete in the order they were issued");
        match &entry {
            WalEntry::Vote(vote) => {
                host.durable_signed.insert(Signed::Vote(vote.subject.into()));
            }
            WalEntry::Proposal(proposal) => {
                host.durable_signed.insert(Signed::Proposal(proposal.view, proposal.block.id()));
            }
            WalEntry::Certificate(_) => {}
        }
        host.wal.push(entry);
        host.wal_len_max = host.wal_len_max.max(host.wal.len());
        let armed = host.armed_crash;
        self.trace_event(2, node, &ticket.0.to_le_bytes());
        if let Some((plan, CrashPoint::AfterWriteBeforeSend)) = armed {
            self.stats.crashes_after_write += 1;
            self.crash(node, plan, "after a WAL write, before the core heard of it");
            return;
        }
        if !self.scenario.host_acks_early {
            self.feed(node, Input::Persisted(ticket), hop);
        }
    }

    // ---- sending ----

    /// The hosts of validator `validator`.
    fn hosts_of(&self, validator: ValidatorIndex) -> Vec<NodeId> {
        self.hosts.iter().filter(|host| host.validator == validator).map(|host| host.id).collect()
    }

    /// The hosts a message from `node` to `to` reaches.
    fn recipients(&self, node: NodeId, to: Recipient) -> Vec<NodeId> {
        let me = self.hosts[node.index()].validator;
        match to {
            Recipient::All => {
                self.hosts.iter().filter(|host| host.validator != me).map(|host| host.id).collect()
            }
            Recipient::One(validator) if validator != me => self.hosts_of(validator),
            Recipient::One(_) => Vec::new(),
        }
    }

    fn random_peer(&mut self, node: NodeId) -> Option<NodeId> {
        let peers = self.recipients(node, Recipient::All);
        if peers.is_empty() {
            return None;
        }
        Some(peers[self.rng.index(peers.len())])
    }

    fn broadcast(&mut self, node: NodeId, message: Message, hop: u32) {
        let targets = self.recipients(node, Recipient::All);
        self.send_to(node, &targets, message, hop);
    }

    /// Puts one message on the wire to `targets`, with the oracle watching.
    fn send_to(&mut self, node: NodeId, targets: &[NodeId], message: Message, hop: u32) {
        self.log(|| format!("{node} sends {} to {targets:?}", describe(&message)));
        self.observe_sent(node, &message, hop);
        for &target in targets {
            self.transmit(node, target, Wire::Consensus(message.clone()), hop);
        }
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, wire: Wire, hop: u32) {
        let now = self.queue.now();
        match self.network.route(now, from, to) {
            Fate::Lost => {}
            Fate::Once(delay) => self.schedule(now.plus_ms(delay), Event::Deliver { from, to, wire, hop }),
            Fate::Twice(first, second) => {
                self.schedule(now.plus_ms(first), Event::Deliver { from, to, wire: wire.clone(), hop });
                self.schedule(now.plus_ms(second), Event::Deliver { from, to, wire, hop });
            }
        }
    }

    /// A `Send` effect of `node`'s core: sent as is by honest code, corrupted by Byzantine
    /// hosts.
    fn send_from_core(&mut self, node: NodeId, to: Recipient, message: Message, hop: u32) {
        let targets = self.recipients(node, to);
        match self.hosts[node.index()].role {
            Role::Honest | Role::Twin => self.send_to(node, &targets, message, hop),
            Role::Byzantine(behavior) => self.send_byzantine(node, behavior, targets, message, hop),
        }
    }

    /// What the oracle learns from a message leaving `node`.
    fn observe_sent(&mut self, node: NodeId, message: &Message, hop: u32) {
        let host = &self.hosts[node.index()];
        let me = host.validator;
        let honest_code = host.runs_honest_code();
        match message {
            Message::Proposal(proposal) => {
                self.oracle.observe_block(&proposal.block);
                let block_id = proposal.block.id();
                self.proposal_sent.entry(block_id).or_insert((hop, self.queue.now()));
                if honest_code && self.spec.validators.leader(proposal.view) == me {
                    if !host.durable_signed.contains(&Signed::Proposal(proposal.view, block_id)) {
                        self.oracle.violate(Violation::Host {
                            node,
                            what: format!(
                                "sent its proposal for view {} before it was durable",
                                proposal.view
                            ),
                        });
                    }
                    // A leader's proposal is its choice of block for the view: signing a
                    // notarize for another block in the same view is equivocation.
                    self.oracle.observe_signed(me, Subject::Notarize { view: proposal.view, block_id });
                }
            }
            Message::Vote(vote) => {
                if honest_code && vote.signer == me {
                    if !host.durable_signed.contains(&Signed::Vote(vote.subject.into())) {
                        self.oracle.violate(Violation::Host {
                            node,
                            what: format!("sent its vote {:?} before it was durable", vote.subject),
                        });
                    }
                    if let Subject::Notarize { view, block_id } = vote.subject
                        && !host.valid_blocks.contains(&block_id)
                    {
                        self.oracle.violate(Violation::Host {
                            node,
                            what: format!(
                                "notarized {block_id} in view {view} without its host finding it valid"
                            ),
                        });
                    }
                    self.oracle.observe_signed(me, vote.subject);
                }
            }
            Message::Certificate(certificate) => {
                let valid = self.certificate_valid(certificate);
                let host = &self.hosts[node.index()];
                if honest_code && !valid {
                    self.oracle.violate(Violation::Host {
                        node,
                        what: format!("sent a certificate that does not verify: {:?}", certificate.subject),
                    });
                }
                // Only a sole key holder knows every signature of its key; a twin may
                // forward a certificate holding its twin's vote.
                if host.role == Role::Honest
                    && certificate.signer_indices().contains(&me)
                    && !host.durable_signed.contains(&Signed::Vote(certificate.subject.into()))
                {
                    self.oracle.violate(Violation::Host {
                        node,
                        what: format!(
                            "sent a certificate with its own signature on {:?} before that vote was durable",
                            certificate.subject
                        ),
                    });
                }
            }
        }
    }

    /// Verifies a certificate with the run's scheme, once per distinct certificate, and feeds
    /// what a valid one proves to the oracle.
    fn certificate_valid(&mut self, certificate: &Certificate) -> bool {
        let key = *blake3::hash(&encode(certificate)).as_bytes();
        if let Some(&valid) = self.certificate_cache.get(&key) {
            return valid;
        }
        let n = self.scenario.n;
        let signers = certificate.signer_indices();
        let payload = certificate.subject.payload();
        let namespace = certificate.subject.namespace();
        let valid = certificate.signers.len() == n.div_ceil(8)
            && signers.iter().all(|index| usize::from(index.0) < n)
            && signers.len() == certificate.signatures.len()
            && signers.len() >= self.spec.validators.quorum()
            && signers
                .iter()
                .zip(certificate.signatures.iter())
                .all(|(signer, signature)| self.verifier.verify(*signer, namespace, &payload, signature));
        self.certificate_cache.insert(key, valid);
        if valid {
            for signer in signers {
                self.oracle.observe_signed(signer, certificate.subject);
            }
            match certificate.subject {
                Subject::Finalize { view, block_id } => self.oracle.observe_finalization(view, block_id),
                Subject::Nullify { view } => self.oracle.observe_nullification(view),
                Subject::Notarize { .. } => {}
            }
        }
        valid
    }

    fn vote_valid(&self, vote: &Vote) -> bool {
        self.verifier.verify(vote.signer, vote.subject.namespace(), &vote.subject.payload(), &vote.signature)
    }

    fn proposal_valid(&self, proposal: &Proposal) -> bool {
        let payload = Proposal::payload(proposal.view, proposal.parent_view, proposal.block.id());
        let leader = self.spec.validators.leader(proposal.view);
        self.verifier.verify(leader, Namespace::Proposal, &payload, &proposal.signature)
    }

    fn check_evidence(&mut self, node: NodeId, evidence: Evidence) {
        self.stats.evidence += 1;
        let (accused, proven) = match &evidence {
            Evidence::ConflictingVotes { first, second } => (
                first.signer,
                first.signer == second.signer
                    && conflicting(&first.subject, &second.subject)
                    && self.vote_valid(first)
                    && self.vote_valid(second),
            ),
            Evidence::ConflictingProposals { first, second } => (
                self.spec.validators.leader(first.view),
                first.view == second.view
                    && first.block.id() != second.block.id()
                    && self.proposal_valid(first)
                    && self.proposal_valid(second),
            ),
        };
        self.log(|| format!("{node} reports evidence against validator {accused}"));
        if !proven {
            self.oracle.violate(Violation::Host {
                node,
                what: format!("evidence that proves nothing: {evidence:?}"),
            });
        } else if !self.scenario.byzantine.iter().any(|(index, _)| *index == accused) {
            self.oracle.violate(Violation::Host {
                node,
                what: format!("valid evidence against honest validator {accused}"),
            });
        }
    }

    // ---- Byzantine hosts ----

    fn split_halves(&mut self, mut targets: Vec<NodeId>) -> (Vec<NodeId>, Vec<NodeId>) {
        self.rng.shuffle(&mut targets);
        let second = targets.split_off(targets.len() / 2);
        (targets, second)
    }

    fn sign_proposal(&self, node: NodeId, view: View, parent_view: View, block: Block) -> Proposal {
        let payload = Proposal::payload(view, parent_view, block.id());
        let signature = self.hosts[node.index()].scheme.sign(Namespace::Proposal, &payload);
        Proposal { view, parent_view, block, signature }
    }

    fn send_byzantine(
        &mut self,
        node: NodeId,
        behavior: Behavior,
        targets: Vec<NodeId>,
        message: Message,
        hop: u32,
    ) {
        let me = self.hosts[node.index()].validator;
        match (behavior, message) {
            (Behavior::Equivocator, Message::Proposal(proposal)) if proposal.block.header.proposer == me => {
                let mut other = proposal.block.clone();
                other.header.time_ms += 1;
                self.oracle.observe_block(&other);
                let view = proposal.view;
                let twin_proposal = self.sign_proposal(node, view, proposal.parent_view, other.clone());
                let vote = self.sign_vote(node, Subject::Notarize { view, block_id: other.id() });
                let (first, second) = self.split_halves(targets);
                self.log(|| {
                    format!(
                        "{node} equivocates in view {view}: {} to {first:?}, {} to {second:?}",
                        proposal.block.id(),
                        other.id()
                    )
                });
                self.send_to(node, &first, Message::Proposal(proposal), hop);
                self.send_to(node, &second, Message::Proposal(twin_proposal), hop);
                self.send_to(node, &second, Message::Vote(vote), hop);
                let mischief = &mut self.hosts[node.index()].mischief;
                mischief.first_half.insert(view, first);
                while mischief.first_half.len() > 16 {
                    mischief.first_half.pop_first();
                }
            }
            (Behavior::Equivocator, Message::Vote(vote))
                if vote.signer == me && matches!(vote.subject, Subject::Notarize { .. }) =>
            {
                // Its own notarize goes only to the half that got the matching proposal.
                let view = vote.subject.view();
                let first = self.hosts[node.index()].mischief.first_half.get(&view).cloned();
                self.send_to(node, first.as_deref().unwrap_or(&targets), Message::Vote(vote), hop);
            }
            (Behavior::ConflictingVoter, Message::Vote(vote)) if vote.signer == me => {
                let view = vote.subject.view();
                let seen =
                    self.hosts[node.index()].mischief.blocks_in_view.get(&view).cloned().unwrap_or_default();
                match vote.subject {
                    Subject::Notarize { block_id, .. } => {
                        let other = seen.iter().copied().find(|id| *id != block_id).unwrap_or_else(|| {
                            BlockId(Domain::BlockId.hash(&[b"tally-sim fake block", block_id.0.as_bytes()]))
                        });
                        let conflict = self.sign_vote(node, Subject::Notarize { view, block_id: other });
                        let (first, second) = self.split_halves(targets);
                        self.send_to(node, &first, Message::Vote(vote), hop);
                        self.send_to(node, &second, Message::Vote(conflict), hop);
                    }
                    Subject::Nullify { .. } => {
                        self.send_to(node, &targets, Message::Vote(vote), hop);
                        if let Some(&block_id) = seen.iter().next() {
                            let conflict = self.sign_vote(node, Subject::Finalize { view, block_id });
                            self.send_to(node, &targets, Message::Vote(conflict), hop);
                        }
                    }
                    Subject::Finalize { .. } => {
                        self.send_to(node, &targets, Message::Vote(vote), hop);
                        let conflict = self.sign_vote(node, Subject::Nullify { view });
                        self.send_to(node, &targets, Message::Vote(conflict), hop);
                    }
                }
            }
            (Behavior::Nuller, Message::Proposal(_)) => {}
            (Behavior::Nuller, Message::Vote(vote))
                if vote.signer == me && !matches!(vote.subject, Subject::Nullify { .. }) => {}
            (Behavior::InvalidSigner, message) => {
                let mut message = message;
                if self.rng.chance(500) {
                    let bit = self.rng.index(64 * 8);
                    match &mut message {
                        Message::Vote(vote) => vote.signature.0[bit / 8] ^= 1 << (bit % 8),
                        Message::Proposal(proposal) => proposal.signature.0[bit / 8] ^= 1 << (bit % 8),
                        Message::Certificate(certificate) => {
                            let mut signatures = certificate.signatures.clone().into_inner();
                            if !signatures.is_empty() {
                                let which = self.rng.index(signatures.len());
                                signatures[which].0[bit / 8] ^= 1 << (bit % 8);
                            }
                            certificate.signatures =
                                tally_types::BoundedVec::new(signatures).expect("same length as before");
                        }
                    }
                }
                if let Message::Vote(vote) = &message
                    && self.rng.chance(250)
                {
                    // A vote in another validator's name, with a signature it never made.
                    let mut forged = vote.clone();
                    forged.signer = ValidatorIndex(self.rng.below(self.scenario.n as u64) as u16);
                    for byte in forged.signature.0.iter_mut() {
                        *byte = self.rng.below(256) as u8;
                    }
                    self.send_to(node, &targets, Message::Vote(forged), hop);
                }
                self.send_to(node, &targets, message, hop);
            }
            (Behavior::ForkingLeader, Message::Proposal(proposal))
                if proposal.block.header.proposer == me =>
            {
                let view = proposal.view;
                let parent = self.hosts[node.index()].lookup(&proposal.block.header.parent_id).cloned();
                let grandparent = match &parent {
                    Some(parent) if parent.header.height == Height(1) => Some(self.spec.genesis),
                    Some(parent) => {
                        self.hosts[node.index()].lookup(&parent.header.parent_id).map(BlockRef::of)
                    }
                    None => None,
                };
                match grandparent {
                    Some(grandparent) => {
                        let block = self.spec.build(view, &grandparent, me, self.local_clock_ms(node));
                        self.oracle.observe_block(&block);
                        self.log(|| {
                            format!(
                                "{node} forks in view {view}: {} on height {}",
                                block.id(),
                                grandparent.height
                            )
                        });
                        let vote = self.sign_vote(node, Subject::Notarize { view, block_id: block.id() });
                        self.withhold(node, view, proposal.block.id());
                        let fork = self.sign_proposal(node, view, grandparent.view, block);
                        self.send_to(node, &targets, Message::Proposal(fork), hop);
                        self.send_to(node, &targets, Message::Vote(vote), hop);
                    }
                    None => self.send_to(node, &targets, Message::Proposal(proposal), hop),
                }
            }
            (Behavior::BadBlockLeader, Message::Proposal(proposal))
                if proposal.block.header.proposer == me =>
            {
                let view = proposal.view;
                let mut block = proposal.block.clone();
                let flaw = match self.rng.below(3) {
                    0 => {
                        block.header.state_root = Domain::StateValue.hash(&[b"tally-sim wrong state"]);
                        "a wrong state root"
                    }
                    1 => {
                        block.header.time_ms += 3 * crate::chain::CLOCK_AHEAD_MAX_MS;
                        "a time too far ahead"
                    }
                    _ => {
                        block.header.height = block.header.height.next();
                        "a wrong height"
                    }
                };
                self.oracle.observe_block(&block);
                self.log(|| format!("{node} proposes {} with {flaw} in view {view}", block.id()));
                let vote = self.sign_vote(node, Subject::Notarize { view, block_id: block.id() });
                self.withhold(node, view, proposal.block.id());
                let bad = self.sign_proposal(node, view, proposal.parent_view, block);
                self.send_to(node, &targets, Message::Proposal(bad), hop);
                self.send_to(node, &targets, Message::Vote(vote), hop);
            }
            (Behavior::ForkingLeader | Behavior::BadBlockLeader, Message::Vote(vote))
                if vote.signer == me
                    && matches!(vote.subject, Subject::Notarize { view, block_id }
                        if self.hosts[node.index()].mischief.withheld.get(&view) == Some(&block_id)) => {}
            (_, message) => self.send_to(node, &targets, message, hop),
        }
    }

    /// Notes that a leader replaced its honest proposal of `view`, so that its core's
    /// notarize for the honest block is not sent either.
    fn withhold(&mut self, node: NodeId, view: View, block_id: BlockId) {
        let withheld = &mut self.hosts[node.index()].mischief.withheld;
        withheld.insert(view, block_id);
        while withheld.len() > 16 {
            withheld.pop_first();
        }
    }

    // ---- receiving ----

    fn deliver(&mut self, from: NodeId, to: NodeId, wire: Wire, hop: u32) {
        if !self.hosts[to.index()].is_up() {
            return;
        }
        self.stats.delivered += 1;
        let bytes = wire.trace_bytes();
        self.trace_event(0, to, &bytes);
        let sender = self.hosts[from.index()].validator;
        match wire {
            Wire::Consensus(message) => {
                if let Message::Proposal(proposal) = &message
                    && matches!(self.hosts[to.index()].role, Role::Byzantine(_))
                {
                    self.hosts[to.index()].mischief.remember(&proposal.block);
                }
                self.feed(to, Input::Message { from: sender, message }, hop);
            }
            Wire::FetchRequest(block_id) => {
                let host = &self.hosts[to.index()];
                if let Some(block) = host.lookup(&block_id).cloned() {
                    let mut block = block;
                    if host.role == Role::Byzantine(Behavior::InvalidSigner) {
                        block.header.time_ms += 1;
                    }
                    self.transmit(to, from, Wire::FetchResponse(block), hop + 1);
                }
            }
            Wire::FetchResponse(block) => {
                self.oracle.observe_block(&block);
                self.feed(to, Input::BlockFetched { block }, hop);
            }
            Wire::SyncRequest { target, from_height } => {
                if let Some(blocks) = self.path_to(to, target, from_height) {
                    self.transmit(to, from, Wire::SyncResponse { target, blocks }, hop + 1);
                }
            }
            Wire::SyncResponse { target, blocks } => self.sync_response(to, target, blocks, hop),
        }
    }

    /// The blocks from `from_height` up to `target`, if host `node` holds all of them.
    fn path_to(&self, node: NodeId, target: BlockId, from_height: Height) -> Option<Vec<Block>> {
        let host = &self.hosts[node.index()];
        let mut path = Vec::new();
        let mut id = target;
        loop {
            let block = host.lookup(&id)?;
            if block.header.height < from_height || path.len() >= SYNC_BLOCKS_MAX {
                return None;
            }
            path.push(block.clone());
            if block.header.height == from_height {
                break;
            }
            id = block.header.parent_id;
        }
        path.reverse();
        Some(path)
    }

    fn request_sync(&mut self, node: NodeId) {
        let host = &self.hosts[node.index()];
        let Some((target, height)) = host.sync_target else { return };
        let tip = host.tip(&self.spec.genesis);
        if tip.height >= height {
            self.hosts[node.index()].sync_target = None;
            return;
        }
        let incarnation = host.incarnation;
        if let Some(peer) = self.random_peer(node) {
            self.transmit(node, peer, Wire::SyncRequest { target, from_height: tip.height.next() }, 1);
        }
        self.schedule_in(SYNC_RETRY_MS, Event::SyncRetry { node, incarnation });
    }

    fn sync_response(&mut self, node: NodeId, target: BlockId, blocks: Vec<Block>, hop: u32) {
        let genesis = self.spec.genesis;
        let host = &self.hosts[node.index()];
        if host.sync_target.map(|(wanted, _)| wanted) != Some(target) {
            return;
        }
        let tip = host.tip(&genesis);
        let fresh: Vec<Block> = blocks.into_iter().filter(|block| block.header.height > tip.height).collect();
        if fresh.last().map(Block::id) != Some(target) {
            return;
        }
        let mut parent = tip;
        for block in &fresh {
            if ChainSpec::check_link(&parent, block).is_err() {
                // A peer on another chain or a tampered response: ask again elsewhere.
                return;
            }
            parent = BlockRef::of(block);
        }
        for block in fresh {
            self.oracle.observe_block(&block);
            self.store(node, block);
        }
        self.hosts[node.index()].sync_target = None;
        self.stats.syncs_completed += 1;
        self.log(|| format!("{node} synced to height {}", parent.height));
        self.feed(node, Input::Synced { anchor: parent }, hop);
    }

    fn store(&mut self, node: NodeId, block: Block) {
        self.oracle.observe_commit(self.queue.now(), node, &block);
        self.note_commit_after_gst(block.header.view, block.header.height);
        let host = &mut self.hosts[node.index()];
        host.store_index.insert(block.id(), host.store.len());
        host.store.push(block);
    }

    fn commit(&mut self, node: NodeId, block: Block, finalization: Certificate, hop: u32) {
        let block_id = block.id();
        self.oracle.observe_block(&block);
        let certified = match finalization.subject {
            Subject::Finalize { block_id, .. } => Some(block_id),
            _ => None,
        };
        let valid = self.certificate_valid(&finalization);
        match certified {
            Some(certified) if valid => {
                if self.oracle.is_ancestor_or_self(block_id, certified) != Some(true) {
                    self.oracle.violate(Violation::Host {
                        node,
                        what: format!(
                            "commit of {block_id} with a finalization of {certified}, not a descendant"
                        ),
                    });
                }
            }
            _ => self.oracle.violate(Violation::Host {
                node,
                what: format!(
                    "commit of {block_id} without a valid finalization ({:?})",
                    finalization.subject
                ),
            }),
        }
        let tip = self.hosts[node.index()].tip(&self.spec.genesis);
        if let Err(reason) = ChainSpec::check_link(&tip, &block) {
            self.oracle.violate(Violation::Host {
                node,
                what: format!("commit does not extend the store: {reason}"),
            });
        }
        if let Some(&(proposal_hop, sent)) = self.proposal_sent.get(&block_id) {
            self.stats.latency_hops.push(hop.saturating_sub(proposal_hop) + 1);
            self.stats.latency_ms.push(self.queue.now().0 - sent.0);
        }
        self.log(|| {
            format!("{node} commits height {} view {} {block_id}", block.header.height, block.header.view)
        });
        self.store(node, block);
    }

    // ---- crashes ----

    fn crash_arm(&mut self, plan: usize) {
        let crash = self.scenario.crashes[plan];
        let host = &mut self.hosts[crash.node.index()];
        if !host.is_up() {
            return;
        }
        match crash.point {
            CrashPoint::Anytime => self.crash(crash.node, plan, "at a random time"),
            point => {
                host.armed_crash = Some((plan, point));
                let incarnation = host.incarnation;
                self.schedule_in(CRASH_ARM_WAIT_MS, Event::CrashDeadline { plan, incarnation });
            }
        }
    }

    fn crash(&mut self, node: NodeId, plan: usize, why: &str) {
        let down_ms = self.scenario.crashes[plan].down_ms;
        let host = &mut self.hosts[node.index()];
        host.core = None;
        host.incarnation += 1;
        host.pending_writes.clear();
        host.write_busy_until = SimTime(0);
        host.armed_crash = None;
        host.sync_target = None;
        host.timer_generation.clear();
        self.stats.crashes += 1;
        self.trace_event(5, node, why.as_bytes());
        self.log(|| format!("{node} crashes {why}; down for {down_ms} ms"));
        self.schedule_in(down_ms, Event::Restart { node });
    }

    fn restart(&mut self, node: NodeId) {
        let host = &self.hosts[node.index()];
        let anchor = host.tip(&self.spec.genesis);
        let config = match config_for(&self.scenario, &self.spec, host.validator, anchor, host.role) {
            Ok(config) => config,
            Err(error) => {
                self.oracle.violate(Violation::Host { node, what: error.to_string() });
                return;
            }
        };
        match Core::restore(config, host.scheme.clone(), host.wal.clone()) {
            Ok(mut core) => {
                let effects = core.start();
                self.hosts[node.index()].core = Some(core);
                self.stats.restarts += 1;
                self.trace_event(6, node, &anchor.height.0.to_le_bytes());
                self.log(|| {
                    format!(
                        "{node} restarts from {} WAL entries at height {}",
                        self.hosts[node.index()].wal.len(),
                        anchor.height
                    )
                });
                self.perform(node, effects, 0);
                self.after_input(node, 0);
            }
            Err(error) => {
                self.oracle.violate(Violation::Host {
                    node,
                    what: format!("restore from its own WAL failed: {error}"),
                });
            }
        }
    }
}

/// Runs `scenario` to the end.
pub fn run(scenario: Scenario, verbose: bool) -> Result<Outcome, SetupError> {
    Ok(Simulation::new(scenario, verbose)?.run())
}
