//! One simulated run: every validator runs the real engine (`tally_node::engine::Engine`)
//! over the simulated network, disks and clocks, Byzantine actors corrupt what theirs sends,
//! nodes crash at any disk write and restart from what their disks kept, clients submit
//! signed transfers, and the oracle watches.
//!
//! The engine's seams ([`crate::host`]) only queue what the engine asks for; after every call
//! into an engine this module turns the queue into events:
//! - consensus messages and transaction gossip go through [`Network`] (loss, delay,
//!   duplication, partitions until GST);
//! - a request is answered exactly once as `Event::Response`: with the peer's answer, or with
//!   a failure when the request or its answer is lost, the peer is down, or no answer came
//!   within [`REQUEST_TIMEOUT_MS`];
//! - jobs run at a simulated time after a latency, in order per lane (the engine keeps at most
//!   one executor and one writer job outstanding); their result goes back to the engine then;
//! - timers: the engine's earliest deadline is a wake-up event.
//!
//! Storage is the real [`Store`] and [`Wal`] on [`SimDisk`]s: a crash is a power cut at a
//! chosen write or sync (or at a random time), and [`SimDisk::crash`] decides what survived.
//!
//! Everything the oracle learns it learns here, from outside the engines: messages on the
//! wire, what the stores hold, what the WAL disk has made durable.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use tally_consensus::{BlockRef, Config, Core, Evidence, Message, Scheme, WalEntry};
use tally_node::api::{AssetCatalog, Metrics, NodeStatus, Submission};
use tally_node::engine::io::{Job, Lane, RequestTag};
use tally_node::engine::startup::read_wal;
use tally_node::engine::{BuildPace, ChainRules, Engine, Event as EngineEvent, Parts, Shared, executor};
use tally_node::follower::take_range;
use tally_node::mempool::{Mempool, MempoolConfig};
use tally_node::sign_state::SignStateFile;
use tally_store::sim_disk::SimDisk;
use tally_store::{Store, TxLocation, Wal};
use tally_types::governance::Action;
use tally_types::wire::BlockRequest;
use tally_types::{
    Block, BlockId, Certificate, Domain, Height, Namespace, Proposal, PublicKey, Subject, TxId,
    ValidatorIndex, ValidatorSet, View, Vote, decode, encode, limits,
};
use tokio::sync::{oneshot, watch};

use crate::chain::{ChainSpec, GENESIS_TIME_MS};
use crate::host::{self, OutboxHandle, SimClock, SimNet, SimReply, SimWorkers, lane_index};
use crate::network::{Fate, Network, NodeId};
use crate::oracle::{Oracle, Violation};
use crate::queue::{EventQueue, QueueFull, SimTime};
use crate::rng::Rng;
use crate::scenario::{Behavior, BrokenCore, CRASH_ARM_WAIT_MS, Change, CrashPoint, Scenario};
use crate::scheme::{self, Keyring, SchemeKind, SimScheme};

/// Events queued at once; beyond this a run is a runaway and stops with a violation.
const QUEUE_CAPACITY: usize = 1 << 20;
/// Events processed in one run; far above what any scenario needs.
const EVENTS_MAX: u64 = 20_000_000;
/// Blocks a Byzantine host remembers for its attacks.
const BYZANTINE_BLOCKS_MAX: usize = 1_024;
/// A request not answered within this long fails (the engine asks another peer).
pub const REQUEST_TIMEOUT_MS: u64 = 500;
/// How often each engine gets `Event::Tick` (transaction gossip, status).
const TICK_MS: u64 = 100;
/// Blocks a submitted transfer stays valid for, past the highest honest height.
const TX_VALIDITY_BLOCKS: u64 = 20;
/// Vote subjects the thief of retired keys remembers having copied.
const GHOSTED_MAX: usize = 4_096;
/// How often a joining validator's host, following the chain as a full node, asks for blocks
/// (the node's `follower::FOLLOW_INTERVAL_MS`).
const FOLLOW_MS: u64 = 250;
/// Blocks of the last scheduled epoch every validating correct host commits before a run may
/// stop early.
const BLOCKS_INTO_EPOCH: u64 = 2;
/// Blocks a following host asks for at once.
const FOLLOW_RANGE_BLOCKS: u32 = 64;

/// The engine as the simulator runs it.
type SimEngine = Engine<SimScheme, SimNet, SimClock, SimWorkers>;

/// What crosses the simulated network.
#[derive(Clone, Debug)]
pub enum Wire {
    /// An encoded consensus [`Message`] of `epoch` (its view's): the receiver knows its sender
    /// by the sender's index in that epoch's set.
    Consensus {
        bytes: Vec<u8>,
        epoch: u64,
    },
    /// An encoded transaction batch.
    Gossip(Vec<u8>),
    Request {
        incarnation: u64,
        tag: RequestTag,
        bytes: Vec<u8>,
    },
    Response {
        incarnation: u64,
        tag: RequestTag,
        bytes: Vec<u8>,
    },
}

impl Wire {
    /// Bytes that identify the payload, for the trace hash.
    fn trace_bytes(&self) -> Vec<u8> {
        let (kind, tag, bytes) = match self {
            Wire::Consensus { bytes, .. } => (0u8, 0, bytes),
            Wire::Gossip(bytes) => (1, 0, bytes),
            Wire::Request { tag, bytes, .. } => (2, *tag, bytes),
            Wire::Response { tag, bytes, .. } => (3, *tag, bytes),
        };
        let mut out = vec![kind];
        out.extend(tag.to_le_bytes());
        out.extend(blake3::hash(bytes).as_bytes());
        out
    }
}

/// A queued event. `incarnation` ties node-local events to one life of the node, so that a
/// crash cancels its timers, jobs and requests.
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        wire: Wire,
        hop: u32,
    },
    Wake {
        node: NodeId,
        incarnation: u64,
        at: u64,
    },
    Job {
        node: NodeId,
        incarnation: u64,
        lane: Lane,
        job: Job<SimNet>,
        hop: u32,
    },
    RequestTimeout {
        requester: NodeId,
        incarnation: u64,
        tag: RequestTag,
    },
    Tick {
        node: NodeId,
        incarnation: u64,
    },
    Submit,
    CrashArm {
        plan: usize,
    },
    CrashDeadline {
        plan: usize,
        incarnation: u64,
    },
    Restart {
        node: NodeId,
    },
    /// A host that follows the chain as a full node asks for the blocks after its tip.
    Follow {
        node: NodeId,
        incarnation: u64,
    },
    Gst,
    /// The member submits its `number`-th governance proposal (a new epoch).
    Reconfigure {
        number: u64,
    },
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
    /// True for a node whose disks lie about fsync: it may lose what it acknowledged, so it
    /// counts as faulty (within f) and the oracle does not vouch for it.
    lying_disk: bool,
    /// What it signs with in its engine's epoch (`None` before its engine first starts: a
    /// joining validator's host signs nothing while it follows).
    scheme: Option<SimScheme>,
    engine: Option<SimEngine>,
    store: Option<Arc<Store>>,
    store_disk: SimDisk,
    wal_disk: SimDisk,
    /// The sign state beside the key: a disk of its own, kept across crashes like the others.
    sign_disk: SimDisk,
    outbox: OutboxHandle,
    incarnation: u64,
    clock_offset_ms: i64,
    /// Everything this host's WAL ever held durably (never pruned): the persist-before-send
    /// check.
    durable_signed: BTreeSet<Signed>,
    /// The store height the oracle has seen, committed block by block.
    observed_height: Height,
    /// The wake-up event scheduled for the engine's earliest deadline.
    wake_at: Option<u64>,
    /// When each lane's last queued job finishes (jobs of a lane run in order).
    lane_busy_until: [SimTime; 4],
    armed_crash: Option<(usize, CrashPoint)>,
    /// The engine stopped with an error that was not a power cut (reported once).
    stopped: bool,
    /// Governance removed this host's validator: it stops at that epoch's start and no
    /// longer counts for liveness.
    retired: bool,
    /// The epoch `scheme` signs in (Byzantine hosts sign with it).
    scheme_epoch: u64,
    /// A joining validator's host before its epoch: no engine, a store it fills with the
    /// blocks it asks validators for (as `tally-node` does without a key in the epoch).
    following: bool,
    /// Its range request in flight, by tag, and the next tag.
    follow_pending: Option<RequestTag>,
    follow_tag: RequestTag,
    mischief: Mischief,
    wal_len_max: usize,
}

impl Host {
    fn is_up(&self) -> bool {
        self.engine.is_some()
    }

    /// The scheme of a host whose engine has run (Byzantine hosts sign from their engine's
    /// messages, so never before it).
    fn signer(&self) -> &SimScheme {
        self.scheme.as_ref().expect("a host signs only after its engine started")
    }

    fn runs_honest_code(&self) -> bool {
        matches!(self.role, Role::Honest | Role::Twin)
    }

    /// Honest code on an honest disk: the nodes the oracle's checks are about.
    fn is_correct(&self) -> bool {
        self.runs_honest_code() && !self.lying_disk
    }

    fn lookup(&self, id: &BlockId) -> Option<Block> {
        if let Some(block) = self.engine.as_ref().and_then(|engine| engine.core().block(id)) {
            return Some(block.clone());
        }
        let store = self.store.as_ref()?;
        let height = store.height_of_block(id).ok()??;
        store.block(height).ok()?
    }
}

/// A submitted transfer's account: the next seq and the transfer in flight.
struct Account {
    next_seq: u64,
    pending: Option<(TxId, Height)>,
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
    /// Power cuts at a WAL fsync (the entry lost or kept, as the disk's crash decides).
    pub crashes_before_write: u64,
    /// Power cuts at a write of a block commit to the store.
    pub crashes_after_write: u64,
    pub restarts: u64,
    pub evidence: u64,
    /// Sync range requests sent.
    pub syncs: u64,
    /// Sync range requests answered with blocks.
    pub syncs_completed: u64,
    /// Requests for one block (by id or height): the fetches of missing ancestors.
    pub fetches: u64,
    /// Transfers submitted to honest nodes, and acknowledged (committed durably by one).
    pub txs_submitted: u64,
    pub txs_acknowledged: u64,
    /// Crashes that left a torn write at the end of a disk.
    pub torn_writes: u64,
    /// Height of the committed chain at the end.
    pub height: u64,
    /// Per host, the height of its store at the end (0 for a host that is down).
    pub host_heights: Vec<u64>,
    /// Highest view any honest host reached.
    pub max_view: u64,
    /// Epochs the committed chain scheduled (governance changes that passed).
    pub epochs_scheduled: u64,
    /// Key rotations and validator removals among the changes that passed.
    pub rotations: u64,
    pub removals: u64,
    pub joins: u64,
    /// Votes signed with a retired key (rotated out or removed) and sent to every host.
    pub ghost_votes: u64,
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
    /// The run panicked (a bug in the simulator or in the code it runs).
    #[error("the run panicked: {0}")]
    Panicked(String),
}

/// What the whole run shares with every node's engine.
struct World {
    /// Simulated time, read by every node's clock.
    now_ms: Rc<Cell<u64>>,
    accounts: Vec<Account>,
    /// Transfers acknowledged: committed durably by an honest node, at (height, index).
    acknowledged: BTreeMap<TxId, TxLocation>,
    /// Outstanding requests: (requester, incarnation, tag) → whether it asks for a range.
    requests: BTreeMap<(NodeId, u64, RequestTag), bool>,
}

/// One run in progress.
pub struct Simulation {
    scenario: Scenario,
    spec: ChainSpec,
    keyring: Keyring,
    /// Every epoch the committed chain scheduled, by number (0: genesis): its validators and
    /// a scheme that verifies their signatures. Derived from the changes the blocks hold,
    /// apart from the engines.
    epochs: Vec<EpochSet>,
    /// The governance changes submitted, by transaction id: what each does to the validators.
    changes: BTreeMap<TxId, Applied>,
    /// The key generation each validator slot's next rotation installs.
    next_generation: Vec<usize>,
    /// Keys governance retired, with what signs as them: the thief's.
    retired: Vec<RetiredKey>,
    /// Vote subjects already copied under the retired keys.
    ghosted: BTreeSet<(u64, [u8; 32])>,
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
    /// E1: first heights of the epochs the committed chain scheduled, and the heights of the
    /// blocks that scheduled them.
    epoch_starts: BTreeSet<Height>,
    epoch_scheduled_by: BTreeSet<Height>,
    world: World,
    stats: Stats,
    verbose: bool,
}

/// One epoch's validators and a scheme that verifies their signatures.
struct EpochSet {
    validators: ValidatorSet,
    verifier: SimScheme,
    /// The slot (host identity, see [`Change`]) of each index of `validators`.
    slots: Vec<ValidatorIndex>,
}

/// A submitted governance change, made concrete: which keys it replaces or removes.
#[derive(Clone, Copy, Debug)]
enum Applied {
    Params,
    Rotate { slot: ValidatorIndex, old: PublicKey, new: PublicKey },
    Remove { slot: ValidatorIndex, key: PublicKey },
    Join { key: PublicKey },
}

/// A key that governance took out of the validator set, still in a thief's hands.
struct RetiredKey {
    /// The validator slot it belonged to.
    slot: ValidatorIndex,
    /// Its index in the last epoch it belonged to (a vote signed with it claims that index).
    index: ValidatorIndex,
    /// The first epoch without it.
    from_epoch: u64,
    /// Signs as the key.
    scheme: SimScheme,
}

fn config_for(
    scenario: &Scenario,
    chain_id: &tally_types::ChainId,
    validators: ValidatorSet,
    me: ValidatorIndex,
    anchor: BlockRef,
    role: Role,
) -> Result<Config, SetupError> {
    let mut config = Config::new(chain_id.clone(), validators, me, anchor);
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

/// The core a host runs in `epoch` (its engine's epoch factory): with the key among `secrets`
/// that the epoch's validators name; `None` when none is (governance removed the validator).
fn epoch_core(
    scenario: &Scenario,
    spec: &ChainSpec,
    role: Role,
    kind: SchemeKind,
    secrets: &[tally_types::SecretKey],
    epoch: &tally_node::engine::EpochRules,
    anchor: BlockRef,
) -> anyhow::Result<Option<Core<SimScheme>>> {
    let chain_id = &spec.chain_id;
    let Some((me, mut scheme)) = secrets.iter().find_map(|secret| {
        let me = epoch.validators.index_of(&secret.public_key())?;
        Some((me, scheme::scheme_in(kind, chain_id, &epoch.validators, secret)?))
    }) else {
        return Ok(None);
    };
    if scenario.stale_keys && role == Role::Honest {
        scheme = scheme.accepting_also(&spec.validators);
    }
    let mut config = config_for(scenario, chain_id, epoch.validators.clone(), me, anchor, role)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    config.epoch = epoch.number;
    Ok(Some(Core::new(config, scheme)?))
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

/// The epoch of the block after `height` by `store`'s state; none when the ledger has no
/// epochs entry.
fn epoch_after(store: &Store, height: Height) -> Result<Option<tally_node::engine::EpochRules>, String> {
    let snapshot = store.snapshot().map_err(|error| error.to_string())?;
    tally_node::engine::EpochRules::at(&snapshot, height.next())
        .map_err(|error| format!("reading its epochs: {error:#}"))
}

/// The run's hosts: the genesis validators', then the twins' (a second host of a Byzantine
/// validator), then the joiners' slots after the genesis set.
fn new_hosts(scenario: &Scenario, spec: &ChainSpec) -> Vec<Host> {
    let mut hosts = Vec::new();
    let twins: Vec<ValidatorIndex> =
        scenario.byzantine.iter().filter(|(_, b)| *b == Behavior::Twin).map(|(index, _)| *index).collect();
    for host in 0..scenario.hosts() {
        // Genesis validators, then twins, then the joiners' slots after the genesis set.
        let validator = if host < scenario.n {
            ValidatorIndex(host as u16)
        } else if host < scenario.n + twins.len() {
            twins[host - scenario.n]
        } else {
            ValidatorIndex((host - twins.len()) as u16)
        };
        hosts.push(new_host(scenario, spec, host, validator));
    }
    hosts
}

/// Host number `host`, of `validator`, before its first boot: its role, its formatted disks
/// (lying about fsync when the scenario says so) and its clock offset.
fn new_host(scenario: &Scenario, spec: &ChainSpec, host: usize, validator: ValidatorIndex) -> Host {
    let role = match scenario.byzantine.iter().find(|(index, _)| *index == validator) {
        Some((_, Behavior::Twin)) => Role::Twin,
        Some((_, behavior)) => Role::Byzantine(*behavior),
        None => Role::Honest,
    };
    let (store_disk, wal_disk) = host::formatted_disks(&spec.validators);
    let sign_disk = host::formatted_sign_disk();
    let lying_disk = scenario.lying_disk == Some(NodeId(host as u16));
    if lying_disk {
        store_disk.set_lying_fsync(true);
        wal_disk.set_lying_fsync(true);
        sign_disk.set_lying_fsync(true);
    }
    if scenario.host_acks_early {
        // The broken host of the oracle's own test: its WAL acknowledges appends that
        // are not durable, and the oracle still counts it as correct.
        wal_disk.set_lying_fsync(true);
        sign_disk.set_lying_fsync(true);
    }
    Host {
        id: NodeId(host as u16),
        validator,
        role,
        lying_disk,
        scheme: None,
        engine: None,
        store: None,
        store_disk,
        wal_disk,
        sign_disk,
        outbox: Rc::new(RefCell::new(host::Outbox::default())),
        incarnation: 0,
        clock_offset_ms: scenario.clock_offsets_ms.get(host).copied().unwrap_or(0),
        durable_signed: BTreeSet::new(),
        observed_height: Height(0),
        wake_at: None,
        lane_busy_until: [SimTime(0); 4],
        armed_crash: None,
        stopped: false,
        retired: false,
        scheme_epoch: 0,
        following: false,
        follow_pending: None,
        follow_tag: 0,
        mischief: Mischief::default(),
        wal_len_max: 0,
    }
}

/// The validators whose signatures the oracle holds to the rules: all but the Byzantine ones
/// and the one on a lying disk (unless the lie is the oracle's own test, `host_acks_early`).
fn honest_signers(scenario: &Scenario, hosts: &[Host]) -> BTreeSet<ValidatorIndex> {
    let lying_validator =
        scenario.lying_disk.map(|node| hosts[node.index()].validator).filter(|_| !scenario.host_acks_early);
    (0..(scenario.n + scenario.joiners()) as u16)
        .map(ValidatorIndex)
        .filter(|index| !scenario.byzantine.iter().any(|(byzantine, _)| byzantine == index))
        .filter(|index| Some(*index) != lying_validator)
        .collect()
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
        #[cfg(not(feature = "broken-core"))]
        if scenario.broken.is_some() {
            return Err(SetupError::BrokenCoreUnavailable);
        }
        let mut rng = Rng::new(scenario.seed ^ 0x005e_ed0f_5137);
        let network = Network::new(scenario.network.clone(), rng.fork(10));
        let host_rng = rng.fork(11);
        let keyring = Keyring::new(
            scenario.scheme,
            tally_types::ChainId::new(crate::chain::CHAIN_ID).expect("valid chain id"),
            scenario.n,
            scenario.joiners(),
        );
        let spec = ChainSpec::new(keyring.validators().clone());
        let genesis_epoch = EpochSet {
            validators: spec.validators.clone(),
            verifier: keyring.scheme(ValidatorIndex(0)),
            slots: (0..scenario.n as u16).map(ValidatorIndex).collect(),
        };

        let hosts = new_hosts(&scenario, &spec);
        let honest_signers = honest_signers(&scenario, &hosts);
        let oracle = Oracle::new(spec.genesis.id, honest_signers);
        let world = World {
            now_ms: Rc::new(Cell::new(0)),
            accounts: (0..host::ACCOUNTS).map(|_| Account { next_seq: 1, pending: None }).collect(),
            acknowledged: BTreeMap::new(),
            requests: BTreeMap::new(),
        };
        let mut simulation = Simulation {
            queue: EventQueue::new(QUEUE_CAPACITY),
            network,
            hosts,
            oracle,
            trace: blake3::Hasher::new_derive_key("tally-sim v2 trace"),
            rng: host_rng,
            certificate_cache: BTreeMap::new(),
            view_at_gst: None,
            first_after_gst: None,
            proposal_sent: BTreeMap::new(),
            epoch_starts: BTreeSet::new(),
            epoch_scheduled_by: BTreeSet::new(),
            world,
            stats: Stats::default(),
            verbose,
            epochs: vec![genesis_epoch],
            changes: BTreeMap::new(),
            next_generation: vec![1; scenario.n + scenario.joiners()],
            retired: Vec::new(),
            ghosted: BTreeSet::new(),
            keyring,
            spec,
            scenario,
        };
        simulation.schedule_scenario();
        Ok(simulation)
    }

    /// Schedules what the scenario plans: each crash's arming, GST, each reconfiguration,
    /// and the first submission.
    fn schedule_scenario(&mut self) {
        for plan in 0..self.scenario.crashes.len() {
            let at = self.scenario.crashes[plan].at;
            self.schedule(at, Event::CrashArm { plan });
        }
        let gst = self.scenario.network.gst;
        self.schedule(gst, Event::Gst);
        for (index, reconfiguration) in self.scenario.reconfigurations.clone().into_iter().enumerate() {
            self.schedule(reconfiguration.at, Event::Reconfigure { number: index as u64 + 1 });
        }
        if self.scenario.submit_txs {
            self.schedule(SimTime(50), Event::Submit);
        }
    }

    /// Opens a node's store and WAL on its disks, restores its core from the WAL and starts
    /// a new engine (the first start and every restart).
    // Whole: the node's start-up order (store, epoch, key, WAL, sign state, engine) in one
    // place, step by step as `engine::startup` does it, so the two can be compared line by line.
    fn boot(&mut self, node: NodeId) -> Result<(), String> {
        let index = node.index();
        let (store, wal, entries) = self.open_disks(node)?;
        let height = store.height().map_err(|error| error.to_string())?;
        let tip = self.tip_of(&store, height)?;
        let host = &self.hosts[index];
        if host.is_correct() && height < host.observed_height {
            return Err(format!(
                "its store lost durable commits: height {height} after a crash, {} before",
                host.observed_height
            ));
        }
        // As the node does: the core runs the epoch of the block after the store's tip, with the
        // key of this host's slot that epoch names (a removed validator refuses to start).
        let epoch = epoch_after(&store, tip.height)?;
        let (epoch_number, validators) = match &epoch {
            Some(epoch) => (epoch.number, epoch.validators.clone()),
            None => (0, self.spec.validators.clone()),
        };
        let secrets = self.keyring.secrets_of(host.validator);
        let Some((me, scheme)) = secrets.iter().find_map(|secret| {
            let me = validators.index_of(&secret.public_key())?;
            Some((me, self.keyring.scheme_in(&validators, secret)?))
        }) else {
            self.follow_or_retire(node, store, epoch_number);
            return Ok(());
        };
        let mut config =
            config_for(&self.scenario, &self.spec.chain_id, validators.clone(), me, tip, host.role)
                .map_err(|error| error.to_string())?;
        config.epoch = epoch_number;
        // As the node does: the tip's certificate as stored (its own finalization after a sync).
        config.anchor_finalization = store.certificate(tip.height).map_err(|error| error.to_string())?;
        let wal_len = entries.len();
        let core = Core::restore(config, scheme.clone(), entries)
            .map_err(|error| format!("restore from its own WAL failed: {error}"))?;
        // As the node does: the key's sign state, brought up to what the WAL shows.
        let mut sign_state = SignStateFile::open(
            host::SimSignDevice(host.sign_disk.backend()),
            &format!("{node}"),
            host::sign_chain(),
        )
        .map_err(|error| format!("opening its sign state: {error}"))?;
        let core = core.with_sign_state(sign_state.state());
        sign_state.write(&core.sign_state()).map_err(|error| format!("writing its sign state: {error}"))?;
        let store = Arc::new(store);
        let shared = self.shared_for(&store, me, epoch.as_ref())?;
        let (status, _) = watch::channel(NodeStatus::default());
        let (committed, _) = watch::channel(tip.height);
        let engine = Engine::new(Parts {
            core,
            // The next epoch's core: this host's key that the epoch names (its slot's, in any
            // generation: a rotated key lives on the same host), the run's timing and the
            // epoch's number; none when governance removed the validator (the engine stops).
            epoch_cores: {
                let (scenario, spec, role, kind) =
                    (self.scenario.clone(), self.spec.clone(), host.role, self.keyring.kind());
                Box::new(move |epoch, anchor| {
                    epoch_core(&scenario, &spec, role, kind, &secrets, epoch, anchor)
                })
            },
            wal,
            sign_state: Box::new(sign_state),
            net: SimNet { outbox: Rc::clone(&host.outbox) },
            clock: SimClock { now_ms: Rc::clone(&self.world.now_ms), offset_ms: host.clock_offset_ms },
            workers: SimWorkers { outbox: Rc::clone(&host.outbox) },
            shared,
            validators: validators.len(),
            tip,
            propose_timeout_ms: self.scenario.timing.leader_timeout_ms,
            status,
            committed,
        });
        let host = &mut self.hosts[index];
        host.store = Some(store);
        host.scheme = Some(scheme);
        host.scheme_epoch = epoch_number;
        host.wal_len_max = host.wal_len_max.max(wal_len);
        self.start_engine(node, engine);
        Ok(())
    }

    /// Opens `node`'s store and WAL on its disks and reads the WAL's entries.
    fn open_disks(&self, node: NodeId) -> Result<(Store, Wal, Vec<WalEntry>), String> {
        let host = &self.hosts[node.index()];
        let label = format!("{node}");
        let (store_disk, wal_disk) = (host.store_disk.clone(), host.wal_disk.clone());
        let store = Store::open_with_backend(store_disk.backend(), &label, &host::identity())
            .map_err(|error| format!("opening its store: {error}"))?;
        let wal = Wal::open_with_backend(wal_disk.backend(), &label)
            .map_err(|error| format!("opening its WAL: {error}"))?;
        let entries = read_wal(&wal).map_err(|error| format!("reading its WAL: {error:#}"))?;
        Ok((store, wal, entries))
    }

    /// Installs `node`'s new engine, starts its ticks and starts it.
    fn start_engine(&mut self, node: NodeId, engine: SimEngine) {
        let host = &mut self.hosts[node.index()];
        host.engine = Some(engine);
        host.following = false;
        host.stopped = false;
        let incarnation = host.incarnation;
        self.schedule_in(TICK_MS, Event::Tick { node, incarnation });
        let result = self.hosts[node.index()].engine.as_mut().map(SimEngine::start).unwrap_or(Ok(()));
        self.after_engine(node, result, 0);
    }

    /// The block at the store's tip `height` (the genesis reference at height 0).
    fn tip_of(&self, store: &Store, height: Height) -> Result<BlockRef, String> {
        if height == Height(0) {
            return Ok(self.spec.genesis);
        }
        let block = store.block(height).map_err(|error| error.to_string())?;
        Ok(BlockRef::of(&block.ok_or_else(|| format!("its store lacks its tip block {height}"))?))
    }

    /// A host whose keys the epoch after its tip does not name: a validator governance has not
    /// added yet (or whose epoch has not begun) follows the chain as a full node until its
    /// epoch (`follower.rs`); any other does not start.
    fn follow_or_retire(&mut self, node: NodeId, store: Store, epoch_number: u64) {
        let index = node.index();
        let host = &self.hosts[index];
        if host.validator.0 as usize >= self.scenario.n && !host.retired {
            self.log(|| format!("{node} is not in epoch {epoch_number}'s validators: it follows"));
            let host = &mut self.hosts[index];
            host.store = Some(Arc::new(store));
            host.following = true;
            host.follow_pending = None;
            let incarnation = host.incarnation;
            self.schedule_in(FOLLOW_MS, Event::Follow { node, incarnation });
            return;
        }
        self.log(|| format!("{node} is not in epoch {epoch_number}'s validators: it does not start"));
        self.hosts[index].retired = true;
    }

    /// What a booting engine shares with its jobs: the store, a new mempool, the chain rules
    /// for validator `me` (of `epoch`, when the ledger has epochs) and no build pacing.
    fn shared_for(
        &self,
        store: &Arc<Store>,
        me: ValidatorIndex,
        epoch: Option<&tally_node::engine::EpochRules>,
    ) -> Result<Shared, String> {
        let mempool = Mempool::new(MempoolConfig::default(), self.spec.chain_id.clone())
            .map_err(|error| error.to_string())?;
        Ok(Shared {
            store: Arc::clone(store),
            mempool: Arc::new(Mutex::new(mempool)),
            rules: match epoch {
                Some(epoch) => self.rules_for(me).in_epoch(epoch),
                None => self.rules_for(me),
            },
            // Off: block sizes must not depend on the wall clock, or seeds would not replay.
            pace: Arc::new(BuildPace::off()),
            metrics: Arc::new(Metrics::new()),
            assets: AssetCatalog::new([host::asset()]),
            check_invariants: true,
        })
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
    fn trace_event(&mut self, tag: u8, node: NodeId, bytes: &[u8]) {
        self.trace.update(&[tag]);
        self.trace.update(&self.queue.now().0.to_le_bytes());
        self.trace.update(&node.0.to_le_bytes());
        self.trace.update(&(bytes.len() as u64).to_le_bytes());
        self.trace.update(bytes);
    }

    fn sign_vote(&self, node: NodeId, subject: Subject) -> Vote {
        let host = &self.hosts[node.index()];
        Vote {
            subject,
            signer: self.index_in(host.scheme_epoch, host.validator),
            signature: host.signer().sign(subject.namespace(), &subject.payload()),
        }
    }

    /// Correct hosts whose engine runs: where clients submit.
    fn running_correct_hosts(&self) -> Vec<NodeId> {
        self.hosts
            .iter()
            .filter(|host| {
                host.is_correct() && host.engine.as_ref().is_some_and(|engine| engine.stopped().is_none())
            })
            .map(|host| host.id)
            .collect()
    }

    /// Honest hosts that still validate: the ones whose catch-up L1 checks.
    fn honest_hosts(&self) -> Vec<NodeId> {
        self.hosts.iter().filter(|host| host.is_correct() && !host.retired).map(|host| host.id).collect()
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

    /// Every correct host that still validates committed `blocks_after_gst` blocks past the
    /// first post-GST block, and [`BLOCKS_INTO_EPOCH`] blocks of the last epoch the chain
    /// scheduled (liveness after each change: the new set finalizes blocks of its own).
    fn liveness_shown(&self) -> bool {
        let Some((_, height)) = self.first_after_gst else { return false };
        let into_epoch = match self.epoch_starts.last() {
            Some(start) => Height(start.0 + BLOCKS_INTO_EPOCH - 1),
            None => Height(0),
        };
        let target = Height(height.0.saturating_add(self.scenario.blocks_after_gst)).max(into_epoch);
        self.hosts
            .iter()
            .filter(|host| host.is_correct() && !host.retired)
            .all(|host| self.oracle.committed_height(host.id) >= target)
    }

    /// The first height of the last epoch the chain scheduled (0 without changes).
    fn last_epoch_start(&self) -> Height {
        self.epoch_starts.last().copied().unwrap_or(Height(0))
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Outcome {
        for host in 0..self.hosts.len() {
            let node = NodeId(host as u16);
            if let Err(what) = self.boot(node) {
                self.oracle.violate(Violation::Host { node, what });
            }
        }
        let deadline = self.scenario.deadline;
        let mut stopped_early = false;
        while let Some((_, event)) = self.queue.pop_until(deadline) {
            self.world.now_ms.set(self.queue.now().0);
            self.stats.events += 1;
            if self.stats.events > EVENTS_MAX {
                self.oracle.violate(Violation::Host {
                    node: NodeId(0),
                    what: format!("more than {EVENTS_MAX} events: runaway"),
                });
                break;
            }
            let check_progress = matches!(event, Event::Job { lane: Lane::Writer, .. } | Event::Gst);
            self.handle(event);
            if check_progress && self.view_at_gst.is_some() && self.liveness_shown() {
                stopped_early = true;
                break;
            }
        }
        self.finish(stopped_early)
    }

    fn finish(mut self, stopped_early: bool) -> Outcome {
        match self.view_at_gst {
            Some(view_at_gst) => {
                self.oracle.check_progress_after_gst(view_at_gst, self.scenario.liveness_bound_views);
                if let Some((_, height)) = self.first_after_gst() {
                    let hosts = self.honest_hosts();
                    self.oracle.check_caught_up(&hosts, height);
                }
                let start = self.last_epoch_start();
                let chain = Height(self.oracle.chain().len() as u64);
                if chain < start {
                    let epoch = self.epochs.len() as u64 - 1;
                    self.oracle.violate(Violation::EpochNeverStarted { epoch, start, chain });
                }
            }
            None => {
                self.oracle
                    .violate(Violation::Host { node: NodeId(0), what: "the run ended before GST".into() });
            }
        }
        self.check_ledgers();
        self.log(|| format!("run ends (early: {stopped_early})"));
        let mut stats = self.stats.clone();
        stats.height = self.oracle.chain().len() as u64;
        stats.host_heights = self
            .hosts
            .iter()
            .map(|host| {
                host.store.as_ref().and_then(|store| store.height().ok()).map_or(0, |height| height.0)
            })
            .collect();
        stats.messages_sent = self.network.sent;
        stats.messages_dropped = self.network.dropped;
        stats.messages_duplicated = self.network.duplicated;
        stats.end_ms = self.queue.now().0;
        stats.view_at_gst = self.view_at_gst.map(|view| view.0);
        stats.first_view_after_gst = self.first_after_gst().map(|(view, _)| view.0);
        stats.wal_len_max = self.hosts.iter().map(|host| host.wal_len_max).max().unwrap_or(0);
        stats.txs_acknowledged = self.world.acknowledged.len() as u64;
        for host in &self.hosts {
            if host.role == Role::Honest
                && let Some(engine) = &host.engine
            {
                stats.max_view = stats.max_view.max(engine.core().view().0);
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

    /// The ledger checks at the end: every acknowledged transfer is in every correct node's
    /// store that reached its height, at the same place; and the correct nodes' stores agree
    /// on every block and state root at every height they share.
    fn check_ledgers(&mut self) {
        let mut violations = Vec::new();
        let correct: Vec<&Host> =
            self.hosts.iter().filter(|host| host.is_correct() && host.store.is_some()).collect();
        for host in &correct {
            let Some(store) = &host.store else { continue };
            let height = store.height().unwrap_or(Height(0));
            for (tx, location) in &self.world.acknowledged {
                if location.height > height {
                    continue;
                }
                match store.tx_location(tx) {
                    Ok(Some(found)) if found == *location => {}
                    found => violations.push(Violation::Host {
                        node: host.id,
                        what: format!(
                            "acknowledged transaction {tx} (height {}, index {}) lost: its store says {found:?}",
                            location.height, location.index
                        ),
                    }),
                }
            }
        }
        let common = correct
            .iter()
            .filter_map(|host| host.store.as_ref().and_then(|store| store.height().ok()))
            .min()
            .unwrap_or(Height(0));
        for height in 1..=common.0 {
            let mut roots = BTreeMap::new();
            for host in &correct {
                let Some(store) = &host.store else { continue };
                if let Ok(Some(block)) = store.block(Height(height)) {
                    roots.insert(host.id, (block.id(), block.header.state_root));
                }
            }
            let distinct: BTreeSet<_> = roots.values().collect();
            if distinct.len() > 1 {
                violations.push(Violation::Host {
                    node: NodeId(0),
                    what: format!("stores differ at height {height}: {roots:?}"),
                });
            }
        }
        for violation in violations {
            self.oracle.violate(violation);
        }
    }

    // Not split: one arm per simulator event; the match is the table of what the run does on each.
    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, wire, hop } => self.deliver(from, to, wire, hop),
            Event::Wake { node, incarnation, at } => {
                let host = &mut self.hosts[node.index()];
                if host.incarnation != incarnation || host.wake_at != Some(at) {
                    return;
                }
                host.wake_at = None;
                if host.engine.as_ref().is_none_or(|engine| engine.stopped().is_some()) {
                    return;
                }
                self.trace_event(1, node, &at.to_le_bytes());
                let Some(engine) = self.hosts[node.index()].engine.as_mut() else { return };
                let result = engine.on_timers();
                self.after_engine(node, result, 0);
            }
            Event::Job { node, incarnation, lane, job, hop } => {
                if self.hosts[node.index()].incarnation != incarnation || !self.hosts[node.index()].is_up() {
                    return;
                }
                self.trace_event(2, node, &[lane_index(lane) as u8]);
                let event = job();
                // What the write made durable is seen before the engine learns of it (and may
                // start the epoch it ends), so that the oracle knows every epoch's validators
                // before any message of that epoch; not at a power cut (the crash decides).
                let host = &self.hosts[node.index()];
                let powered = !host.store_disk.is_powered_off() && !host.wal_disk.is_powered_off();
                if lane == Lane::Writer && powered {
                    self.observe_commits(node, hop);
                }
                self.feed(node, event, hop);
                if lane == Lane::Writer {
                    self.observe_commits(node, hop);
                }
            }
            Event::RequestTimeout { requester, incarnation, tag } => {
                let host = &mut self.hosts[requester.index()];
                if host.following && host.incarnation == incarnation && host.follow_pending == Some(tag) {
                    host.follow_pending = None;
                }
                if self.world.requests.remove(&(requester, incarnation, tag)).is_some()
                    && self.hosts[requester.index()].incarnation == incarnation
                {
                    self.trace_event(3, requester, &tag.to_le_bytes());
                    self.feed(requester, EngineEvent::Response { tag, bytes: None }, 0);
                }
            }
            Event::Tick { node, incarnation } => {
                if self.hosts[node.index()].incarnation != incarnation || !self.hosts[node.index()].is_up() {
                    return;
                }
                self.feed(node, EngineEvent::Tick, 0);
                self.schedule_in(TICK_MS, Event::Tick { node, incarnation });
            }
            Event::Submit => self.submit(),
            Event::Reconfigure { number } => self.reconfigure(number),
            Event::CrashArm { plan } => self.crash_arm(plan),
            Event::CrashDeadline { plan, incarnation } => {
                let node = self.scenario.crashes[plan].node;
                let host = &self.hosts[node.index()];
                if host.incarnation == incarnation && host.armed_crash.is_some_and(|(armed, _)| armed == plan)
                {
                    self.crash(node, "armed crash point not reached in time");
                }
            }
            Event::Follow { node, incarnation } => self.follow(node, incarnation),
            Event::Restart { node } => {
                self.stats.restarts += 1;
                self.trace_event(6, node, &[]);
                self.log(|| format!("{node} restarts"));
                if let Err(what) = self.boot(node) {
                    if self.hosts[node.index()].lying_disk {
                        // Its disks lost what they said was durable (it counts as faulty): a
                        // store behind its WAL's epoch refuses to start rather than risk a
                        // double vote, which is the right answer for it.
                        self.log(|| format!("{node} (lying disk) does not start again: {what}"));
                    } else {
                        self.oracle.violate(Violation::Host { node, what });
                    }
                }
            }
            Event::Gst => {
                let view = self
                    .hosts
                    .iter()
                    .filter(|host| host.runs_honest_code())
                    .filter_map(|host| host.engine.as_ref().map(|engine| engine.core().view()))
                    .max()
                    .unwrap_or(View(0));
                self.trace_event(9, NodeId(0), &view.0.to_le_bytes());
                self.log(|| format!("GST: highest honest view {view}"));
                self.view_at_gst = Some(view);
                let earlier: Vec<(View, Height)> =
                    self.oracle.commits().iter().map(|commit| (commit.view, commit.height)).collect();
                for (view, height) in earlier {
                    self.note_commit_after_gst(view, height);
                }
            }
        }
    }

    /// Hands one event to a node's engine and performs what it asked for.
    fn feed(&mut self, node: NodeId, event: EngineEvent<SimNet>, hop: u32) {
        let Some(engine) = self.hosts[node.index()].engine.as_mut() else { return };
        if engine.stopped().is_some() {
            return;
        }
        let result = engine.handle(event);
        self.after_engine(node, result, hop);
    }

    /// After a call into `node`'s engine: its messages, requests, answers and jobs become
    /// events; its evidence is checked; a power cut crashes it; its next deadline is
    /// scheduled.
    fn after_engine(&mut self, node: NodeId, result: anyhow::Result<()>, hop: u32) {
        let index = node.index();
        let outbox = std::mem::take(&mut *self.hosts[index].outbox.borrow_mut());
        self.send_core_messages(node, outbox.sends, hop);
        let incarnation = self.hosts[index].incarnation;
        self.send_requests(node, incarnation, outbox.requests, hop);
        for (reply, bytes) in outbox.responses {
            let bytes = match self.hosts[index].role {
                Role::Byzantine(Behavior::InvalidSigner) => tamper_block(bytes),
                _ => bytes,
            };
            let wire = Wire::Response { incarnation: reply.incarnation, tag: reply.tag, bytes };
            self.transmit(node, reply.requester, wire, hop + 1);
        }
        for bytes in outbox.gossip {
            let me = self.hosts[index].validator;
            let targets: Vec<NodeId> =
                self.hosts.iter().filter(|host| host.validator != me).map(|host| host.id).collect();
            for target in targets {
                self.transmit(node, target, Wire::Gossip(bytes.clone()), hop + 1);
            }
        }
        self.schedule_jobs(node, incarnation, outbox.jobs, hop);
        let evidence = self.hosts[index].engine.as_mut().map(SimEngine::take_evidence).unwrap_or_default();
        for evidence in evidence {
            self.check_evidence(node, evidence);
        }
        let host = &self.hosts[index];
        if host.store_disk.is_powered_off() || host.wal_disk.is_powered_off() {
            self.crash(node, "at a power cut");
            return;
        }
        if let Err(error) = result {
            let host = &mut self.hosts[index];
            if !host.stopped {
                host.stopped = true;
                if host.retired {
                    // Governance removed its validator: the node stops, as a real one does.
                    self.log(|| format!("{node} stops: {error:#}"));
                } else if host.is_correct() {
                    self.oracle
                        .violate(Violation::Host { node, what: format!("its engine stopped: {error:#}") });
                }
            }
            return;
        }
        self.follow_scheme(node);
        self.reschedule_wake(node);
        self.after_input(node, hop);
    }

    /// Routes the consensus messages `node`'s engine sent to the hosts of their epoch's
    /// validators.
    fn send_core_messages(&mut self, node: NodeId, sends: Vec<(ValidatorIndex, Vec<u8>)>, hop: u32) {
        let mut sends = sends.into_iter().peekable();
        while let Some((to, bytes)) = sends.next() {
            // The engine sends a message for all validators as one send per validator with
            // the same bytes; taken together they are one broadcast (Byzantine hosts split it).
            let mut validators = vec![to];
            while let Some((next, next_bytes)) = sends.peek() {
                if *next_bytes != bytes {
                    break;
                }
                validators.push(*next);
                sends.next();
            }
            match decode::<Message>(&bytes) {
                Ok(message) => {
                    let epoch = message.view().epoch();
                    let targets: Vec<NodeId> =
                        validators.iter().flat_map(|validator| self.hosts_at(epoch, *validator)).collect();
                    self.send_from_core(node, targets, message, hop + 1);
                }
                Err(error) => self.oracle.violate(Violation::Host {
                    node,
                    what: format!("sent an undecodable consensus message: {error}"),
                }),
            }
        }
    }

    /// Sends `node`'s block requests, each to one host of the validator it names in its
    /// engine's epoch, with a timeout; counts syncs (ranges) and fetches.
    fn send_requests(
        &mut self,
        node: NodeId,
        incarnation: u64,
        requests: Vec<(ValidatorIndex, Vec<u8>, RequestTag)>,
        hop: u32,
    ) {
        let index = node.index();
        for (to, bytes, tag) in requests {
            let request = decode::<BlockRequest>(&bytes);
            self.log(|| format!("{node} requests {request:?} from validator {to} (tag {tag})"));
            let is_range = matches!(request, Ok(BlockRequest::Range { .. }));
            if is_range {
                self.stats.syncs += 1;
            } else {
                self.stats.fetches += 1;
            }
            self.world.requests.insert((node, incarnation, tag), is_range);
            self.schedule_in(REQUEST_TIMEOUT_MS, Event::RequestTimeout { requester: node, incarnation, tag });
            let epoch = self.hosts[index].engine.as_ref().map_or(0, |engine| engine.core().config().epoch);
            let targets = self.hosts_at(epoch, to);
            if !targets.is_empty() {
                let target = targets[self.rng.index(targets.len())];
                self.transmit(node, target, Wire::Request { incarnation, tag, bytes }, hop + 1);
            }
        }
    }

    /// Schedules `node`'s jobs, each after its lane's simulated latency and the lane's
    /// earlier jobs.
    fn schedule_jobs(&mut self, node: NodeId, incarnation: u64, jobs: Vec<(Lane, Job<SimNet>)>, hop: u32) {
        let index = node.index();
        for (lane, job) in jobs {
            let latency = match lane {
                Lane::Writer => {
                    self.rng.between(self.scenario.latencies.write_ms.0, self.scenario.latencies.write_ms.1)
                }
                Lane::Executor => {
                    self.rng.between(self.scenario.latencies.verify_ms.0, self.scenario.latencies.verify_ms.1)
                }
                Lane::Ingress | Lane::Serve => {
                    self.rng.between(self.scenario.latencies.build_ms.0, self.scenario.latencies.build_ms.1)
                }
            };
            let now = self.queue.now();
            let host = &mut self.hosts[index];
            let due = host.lane_busy_until[lane_index(lane)].max(now).plus_ms(latency);
            host.lane_busy_until[lane_index(lane)] = due;
            self.schedule(due, Event::Job { node, incarnation, lane, job, hop });
        }
    }

    /// Keeps the scheme a host signs with (for its Byzantine messages) that of its engine's
    /// epoch: a rotation gives its slot a new key.
    fn follow_scheme(&mut self, node: NodeId) {
        let host = &self.hosts[node.index()];
        let Some(epoch) = host.engine.as_ref().map(|engine| engine.core().config().epoch) else { return };
        if epoch == host.scheme_epoch {
            return;
        }
        let Some(set) = self.epochs.get(epoch as usize) else { return };
        let scheme = self
            .keyring
            .secrets_of(host.validator)
            .iter()
            .find_map(|secret| self.keyring.scheme_in(&set.validators, secret));
        if let Some(scheme) = scheme {
            let host = &mut self.hosts[node.index()];
            host.scheme = Some(scheme);
            host.scheme_epoch = epoch;
        }
    }

    fn reschedule_wake(&mut self, node: NodeId) {
        let host = &mut self.hosts[node.index()];
        let Some(at) = host.engine.as_ref().and_then(SimEngine::next_deadline_ms) else { return };
        if host.wake_at.is_some_and(|scheduled| scheduled <= at) {
            return;
        }
        host.wake_at = Some(at);
        let incarnation = host.incarnation;
        let due = SimTime(at).max(self.queue.now());
        self.schedule(due, Event::Wake { node, incarnation, at });
    }

    /// Tells the oracle about the blocks `node` committed durably since it last looked, with
    /// their stored certificates; acknowledges the transfers in them.
    fn observe_commits(&mut self, node: NodeId, hop: u32) {
        let host = &self.hosts[node.index()];
        if host.lying_disk {
            return;
        }
        let Some(store) = host.store.clone() else { return };
        let Ok(height) = store.height() else { return };
        let correct = host.is_correct();
        let from = host.observed_height;
        for height in from.0 + 1..=height.0 {
            let height = Height(height);
            let (Ok(Some(block)), Ok(Some(certificate))) = (store.block(height), store.certificate(height))
            else {
                self.oracle
                    .violate(Violation::Host { node, what: format!("its store lacks block {height}") });
                return;
            };
            let block_id = block.id();
            self.oracle.observe_block(&block);
            self.check_epoch(&block);
            let valid = self.certificate_valid(&certificate);
            match certificate.subject {
                Subject::Finalize { block_id: certified, .. } if valid => {
                    if self.oracle.is_ancestor_or_self(block_id, certified) == Some(false) {
                        self.oracle.violate(Violation::Host {
                            node,
                            what: format!(
                                "stored {block_id} with a finalization of {certified}, not a descendant"
                            ),
                        });
                    }
                }
                subject => self.oracle.violate(Violation::Host {
                    node,
                    what: format!("stored {block_id} without a valid finalization ({subject:?})"),
                }),
            }
            if let Some(&(proposal_hop, sent)) = self.proposal_sent.get(&block_id) {
                self.stats.latency_hops.push(hop.saturating_sub(proposal_hop) + 1);
                self.stats.latency_ms.push(self.queue.now().0 - sent.0);
            }
            self.log(|| format!("{node} commits height {height} view {} {block_id}", block.header.view));
            self.oracle.observe_commit(self.queue.now(), node, &block);
            self.note_commit_after_gst(block.header.view, height);
            if correct {
                for (index, tx) in block.txs.iter().enumerate() {
                    self.world
                        .acknowledged
                        .entry(tx.id())
                        .or_insert(TxLocation { height, index: index as u32 });
                }
            }
            self.hosts[node.index()].observed_height = height;
        }
    }

    /// E1, from the committed chain alone (apart from the engine): each governance proposal in
    /// a block at H passes there (the only member's yes) and schedules the next epoch at H + 2;
    /// every block must be of its height's epoch.
    fn check_epoch(&mut self, block: &Block) {
        let height = block.header.height;
        let expected = self.epoch_starts.range(..=height).count() as u64;
        if block.header.view.epoch() != expected {
            self.oracle.violate(Violation::WrongEpoch { height, view: block.header.view, expected });
        }
        let governance = host::governance_key().public_key();
        let proposals = block
            .txs
            .iter()
            .filter(|tx| {
                tx.tx.signer == governance
                    && tx.tx.ops.iter().any(|op| matches!(op, tally_types::Op::Propose(_)))
            })
            .count();
        if proposals > 0 && self.epoch_scheduled_by.insert(height) {
            // Two changes in one block edit the same scheduled epoch.
            self.epoch_starts.insert(Height(height.0 + 2));
            self.stats.epochs_scheduled += 1;
            let applied: Vec<Applied> =
                block.txs.iter().filter_map(|tx| self.changes.get(&tx.id()).copied()).collect();
            self.schedule_epoch(&applied);
        }
    }

    /// The next epoch's validators: the last epoch's with `applied` carried out (the ledger's
    /// rules: a rotation keeps the slot, a removal drops the key). Retired keys go to the thief;
    /// a removed validator's hosts stop counting for liveness.
    fn schedule_epoch(&mut self, applied: &[Applied]) {
        let number = self.epochs.len() as u64;
        let previous = &self.epochs[self.epochs.len() - 1].validators;
        let mut keys = previous.keys().to_vec();
        let mut retired = Vec::new();
        for change in applied {
            match *change {
                Applied::Params => {}
                Applied::Rotate { slot, old, new } => {
                    if let Some(key) = keys.iter_mut().find(|key| **key == old) {
                        *key = new;
                        retired.push((slot, old));
                        self.stats.rotations += 1;
                    }
                }
                Applied::Join { key } => {
                    keys.push(key);
                    self.stats.joins += 1;
                }
                Applied::Remove { slot, key } => {
                    keys.retain(|kept| *kept != key);
                    retired.push((slot, key));
                    self.stats.removals += 1;
                    for host in self.hosts.iter_mut().filter(|host| host.validator == slot) {
                        host.retired = true;
                    }
                }
            }
        }
        let validators = ValidatorSet::new(keys).expect("the simulator's changes keep a valid set");
        // Each key's slot: the keyring's owner of the key (any generation).
        let slots: Vec<ValidatorIndex> = validators
            .keys()
            .iter()
            .map(|key| {
                (0..self.next_generation.len() as u16)
                    .map(ValidatorIndex)
                    .find(|slot| {
                        self.keyring.secrets_of(*slot).iter().any(|secret| secret.public_key() == *key)
                    })
                    .expect("every validator key is the keyring's")
            })
            .collect();
        let secret = self
            .keyring
            .secrets_of(slots[0])
            .into_iter()
            .find(|secret| secret.public_key() == validators.keys()[0])
            .expect("the slot holds the key");
        let verifier = self.keyring.scheme_in(&validators, &secret).expect("its own key is in the set");
        for (slot, key) in retired {
            let secret = self
                .keyring
                .secrets_of(slot)
                .into_iter()
                .find(|secret| secret.public_key() == key)
                .expect("a retired key is the keyring's");
            // A key rotated in and out by changes of one block never validated: no thief for it.
            if let (Some(scheme), Some(index)) =
                (self.keyring.scheme_in(previous, &secret), previous.index_of(&key))
            {
                self.retired.push(RetiredKey { slot, index, from_epoch: number, scheme });
            }
        }
        self.log(|| format!("epoch {number} scheduled: {} validators", validators.len()));
        self.epochs.push(EpochSet { validators, verifier, slots });
    }

    /// The validators and verifier of the epoch `view` belongs to, if the chain scheduled it.
    fn epoch_of(&self, view: View) -> Option<&EpochSet> {
        self.epochs.get(usize::try_from(view.epoch()).ok()?)
    }

    /// Submits one transfer to a random correct node, and schedules the next.
    fn submit(&mut self) {
        let next = self.rng.between(20, 250);
        self.schedule_in(next, Event::Submit);
        let from = self.rng.index(host::ACCOUNTS);
        let to = (from + 1 + self.rng.index(host::ACCOUNTS - 1)) % host::ACCOUNTS;
        let amount = u128::from(self.rng.between(1, 1_000));
        let highest =
            self.hosts.iter().filter(|host| host.is_correct()).map(|host| host.observed_height).max();
        let highest = highest.unwrap_or(Height(0));
        let account = &mut self.world.accounts[from];
        if let Some((tx, valid_until)) = account.pending {
            if self.world.acknowledged.contains_key(&tx) {
                account.next_seq += 1;
                account.pending = None;
            } else if highest > valid_until {
                // Past its last height on the agreed chain without being in it: it never will
                // be; the seq is free again.
                account.pending = None;
            } else {
                return;
            }
        }
        let candidates = self.running_correct_hosts();
        if candidates.is_empty() {
            return;
        }
        let target = candidates[self.rng.index(candidates.len())];
        let valid_until = Height(highest.0 + TX_VALIDITY_BLOCKS);
        let account = &mut self.world.accounts[from];
        let tx = host::transfer(from, to, account.next_seq, valid_until, amount);
        account.pending = Some((tx.id(), valid_until));
        self.stats.txs_submitted += 1;
        self.trace_event(7, target, tx.id().0.as_bytes());
        let (reply, _) = oneshot::channel();
        self.feed(target, EngineEvent::Submitted(Submission { txs: vec![tx], reply }), 0);
    }

    /// The member's `number`-th governance change (the scenario's), to a random correct host.
    /// It may be lost with that host's mempool (a crash); a later one then waits for its seq
    /// for ever, which the run tolerates: reconfigurations are faults, not goals.
    fn reconfigure(&mut self, number: u64) {
        let highest =
            self.hosts.iter().filter(|host| host.is_correct()).map(|host| host.observed_height).max();
        let valid_until = Height(highest.unwrap_or(Height(0)).0 + 10 * TX_VALIDITY_BLOCKS);
        let candidates = self.running_correct_hosts();
        if candidates.is_empty() {
            return;
        }
        let target = candidates[self.rng.index(candidates.len())];
        let change = self.scenario.reconfigurations[(number - 1) as usize].change;
        // Changes pass in seq order, so each rotation's generation follows the last submitted.
        let (action, applied) = match change {
            Change::Params => (host::set_params(number), Applied::Params),
            Change::Rotate { slot } => {
                let generation = self.next_generation[usize::from(slot.0)];
                self.next_generation[usize::from(slot.0)] += 1;
                let old = self.keyring.secret(slot, generation - 1).public_key();
                let new = self.keyring.secret(slot, generation).clone();
                let action = host::rotate_key(old, &new, slot, generation);
                (action, Applied::Rotate { slot, old, new: new.public_key() })
            }
            Change::Remove { slot } => {
                let key =
                    self.keyring.secret(slot, self.next_generation[usize::from(slot.0)] - 1).public_key();
                (Action::RemoveValidator { consensus_key: key }, Applied::Remove { slot, key })
            }
            Change::Join { slot } => {
                let key = self.keyring.secret(slot, 0);
                (host::add_validator(key, slot), Applied::Join { key: key.public_key() })
            }
        };
        let tx = host::propose(number, action, valid_until);
        self.changes.insert(tx.id(), applied);
        self.trace_event(12, target, tx.id().0.as_bytes());
        self.log(|| format!("reconfiguration {number} ({change:?}) submitted to {target}"));
        let (reply, _) = oneshot::channel();
        self.feed(target, EngineEvent::Submitted(Submission { txs: vec![tx], reply }), 0);
    }

    /// What a Byzantine host does after each input on top of its engine's effects.
    fn after_input(&mut self, node: NodeId, hop: u32) {
        let host = &self.hosts[node.index()];
        if host.role != Role::Byzantine(Behavior::Nuller) {
            return;
        }
        let Some(view) = host.engine.as_ref().map(|engine| engine.core().view()) else { return };
        if view <= host.mischief.last_nullified {
            return;
        }
        self.hosts[node.index()].mischief.last_nullified = view;
        let vote = self.sign_vote(node, Subject::Nullify { view });
        self.broadcast(node, Message::Vote(vote), hop + 1);
    }

    // ---- sending ----

    /// The hosts of validator `validator`.
    fn hosts_of(&self, validator: ValidatorIndex) -> Vec<NodeId> {
        self.hosts.iter().filter(|host| host.validator == validator).map(|host| host.id).collect()
    }

    /// The hosts of the validator at `index` of epoch `epoch`'s set (none for an epoch the
    /// chain has not scheduled, or an index beyond its set).
    fn hosts_at(&self, epoch: u64, index: ValidatorIndex) -> Vec<NodeId> {
        self.slot_at(epoch, index).map(|slot| self.hosts_of(slot)).unwrap_or_default()
    }

    /// The slot of the validator at `index` of epoch `epoch`'s set.
    fn slot_at(&self, epoch: u64, index: ValidatorIndex) -> Option<ValidatorIndex> {
        let epoch = self.epochs.get(usize::try_from(epoch).ok()?)?;
        epoch.slots.get(usize::from(index.0)).copied()
    }

    /// The index of `slot` in epoch `epoch`'s set, if it is there.
    fn slot_index(&self, epoch: u64, slot: ValidatorIndex) -> Option<ValidatorIndex> {
        let epoch = self.epochs.get(usize::try_from(epoch).ok()?)?;
        let position = epoch.slots.iter().position(|kept| *kept == slot)?;
        Some(ValidatorIndex(position as u16))
    }

    /// The index `slot` claims in epoch `epoch`: its own, or (for a slot not in the set, whose
    /// votes no one may count) an index beyond the set.
    fn index_in(&self, epoch: u64, slot: ValidatorIndex) -> ValidatorIndex {
        self.slot_index(epoch, slot).unwrap_or(ValidatorIndex(u16::MAX))
    }

    /// Every host but `node` and its twin.
    fn others(&self, node: NodeId) -> Vec<NodeId> {
        let me = self.hosts[node.index()].validator;
        self.hosts.iter().filter(|host| host.validator != me).map(|host| host.id).collect()
    }

    fn broadcast(&mut self, node: NodeId, message: Message, hop: u32) {
        let targets = self.others(node);
        self.send_to(node, &targets, message, hop);
    }

    /// Puts one message on the wire to `targets`, with the oracle watching.
    fn send_to(&mut self, node: NodeId, targets: &[NodeId], message: Message, hop: u32) {
        self.log(|| format!("{node} sends {} to {targets:?}", describe(&message)));
        self.observe_sent(node, &message, hop);
        let (bytes, epoch) = (encode(&message), message.view().epoch());
        for &target in targets {
            self.transmit(node, target, Wire::Consensus { bytes: bytes.clone(), epoch }, hop);
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

    /// A message `node`'s engine sends: as is from honest code, corrupted by Byzantine hosts.
    fn send_from_core(&mut self, node: NodeId, targets: Vec<NodeId>, message: Message, hop: u32) {
        if let Message::Vote(vote) = &message {
            self.send_ghosts(vote.subject, hop);
        }
        match self.hosts[node.index()].role {
            Role::Honest | Role::Twin => self.send_to(node, &targets, message, hop),
            Role::Byzantine(behavior) => self.send_byzantine(node, behavior, targets, message, hop),
        }
    }

    /// The thief of every key governance retired before `subject`'s epoch copies the vote under
    /// that key (claiming its old index) and sends it to every host, once per subject: no core
    /// may count it (a certificate holding it would not verify against the epoch's set, which
    /// the oracle checks; a counted vote could also complete a quorum that does not exist).
    fn send_ghosts(&mut self, subject: Subject, hop: u32) {
        let epoch = subject.view().epoch();
        if !self.retired.iter().any(|retired| retired.from_epoch <= epoch) {
            return;
        }
        let key = (subject.view().0, *blake3::hash(&encode(&subject)).as_bytes());
        if !self.ghosted.insert(key) {
            return;
        }
        while self.ghosted.len() > GHOSTED_MAX {
            self.ghosted.pop_first();
        }
        let ghosts: Vec<(ValidatorIndex, Vote)> = self
            .retired
            .iter()
            .filter(|retired| retired.from_epoch <= epoch)
            .map(|retired| {
                let signature = retired.scheme.sign(subject.namespace(), &subject.payload());
                (retired.slot, Vote { subject, signer: retired.index, signature })
            })
            .collect();
        for (slot, vote) in ghosts {
            // From the retired validator's own host while its slot validates (a rotated key);
            // a removed one's thief relays through a host of the epoch's set, whose connections
            // the network admits (it does not know who holds a key).
            let relay = match self.slot_index(epoch, slot) {
                Some(_) => slot,
                None => {
                    let Some(set) = self.epochs.get(epoch as usize) else { continue };
                    set.slots[usize::from(vote.signer.0) % set.slots.len()]
                }
            };
            let Some(from) = self.hosts_of(relay).first().copied() else { continue };
            self.stats.ghost_votes += 1;
            let bytes = encode(&Message::Vote(vote));
            let targets: Vec<NodeId> =
                self.hosts.iter().map(|host| host.id).filter(|id| *id != from).collect();
            for target in targets {
                self.transmit(from, target, Wire::Consensus { bytes: bytes.clone(), epoch }, hop + 1);
            }
        }
    }

    /// True when `signed` is in `node`'s WAL and the WAL disk holds nothing unsynced (so it is
    /// durable). Reads the WAL only when the record of what it held misses `signed`.
    fn durable_has(&mut self, node: NodeId, signed: Signed) -> bool {
        let host = &mut self.hosts[node.index()];
        if host.durable_signed.contains(&signed) {
            return true;
        }
        // Nothing unsynced: every entry the WAL holds is durable. Otherwise (rare: redb left
        // a change after its last fsync, or the disk lies) read the durable image itself.
        let entries = if host.wal_disk.stats().unsynced_changes == 0 {
            host.engine.as_ref().and_then(|engine| engine.wal().entries().ok())
        } else {
            let copy = host.wal_disk.durable_copy();
            Wal::open_with_backend(copy.backend(), "durable copy").ok().and_then(|wal| wal.entries().ok())
        };
        let Some(entries) = entries else { return false };
        host.wal_len_max = host.wal_len_max.max(entries.len());
        for (_, bytes) in entries {
            match decode::<WalEntry>(&bytes) {
                Ok(WalEntry::Vote(vote)) => {
                    host.durable_signed.insert(Signed::Vote(vote.subject.into()));
                }
                Ok(WalEntry::Proposal(proposal)) => {
                    host.durable_signed.insert(Signed::Proposal(proposal.view, proposal.block.id()));
                }
                _ => {}
            }
        }
        host.durable_signed.contains(&signed)
    }

    /// What the oracle learns from a message leaving `node`.
    fn observe_sent(&mut self, node: NodeId, message: &Message, hop: u32) {
        let host = &self.hosts[node.index()];
        // The oracle knows validators by slot; messages name them by index in their epoch.
        let me = host.validator;
        let my_index = self.index_in(message.view().epoch(), me);
        let honest_code = host.runs_honest_code() && !host.lying_disk;
        if honest_code {
            self.oracle.observe_view(message.view());
        }
        match message {
            Message::Proposal(proposal) => {
                self.oracle.observe_block(&proposal.block);
                let block_id = proposal.block.id();
                self.proposal_sent.entry(block_id).or_insert((hop, self.queue.now()));
                if honest_code && self.leader(proposal.view) == Some(my_index) {
                    if !self.durable_has(node, Signed::Proposal(proposal.view, block_id)) {
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
                if honest_code && vote.signer == my_index {
                    if !self.durable_has(node, Signed::Vote(vote.subject.into())) {
                        self.oracle.violate(Violation::Host {
                            node,
                            what: format!("sent its vote {:?} before it was durable", vote.subject),
                        });
                    }
                    self.oracle.observe_signed(me, vote.subject);
                }
            }
            Message::Certificate(certificate) => {
                let valid = self.certificate_valid(certificate);
                let sole_holder =
                    self.hosts[node.index()].role == Role::Honest && !self.hosts[node.index()].lying_disk;
                if honest_code && !valid {
                    self.oracle.violate(Violation::Host {
                        node,
                        what: format!("sent a certificate that does not verify: {:?}", certificate.subject),
                    });
                }
                // Only a sole key holder knows every signature of its key; a twin may
                // forward a certificate holding its twin's vote.
                if sole_holder
                    && certificate.signer_indices().contains(&my_index)
                    && !self.durable_has(node, Signed::Vote(certificate.subject.into()))
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

    /// Verifies a certificate against its epoch's validators (by its view), once per distinct
    /// certificate, and feeds what a valid one proves to the oracle. A certificate of an epoch
    /// the chain has not scheduled does not verify (and is not remembered: the epoch may be
    /// scheduled later, by a block the oracle has not seen yet).
    fn certificate_valid(&mut self, certificate: &Certificate) -> bool {
        let key = *blake3::hash(&encode(certificate)).as_bytes();
        if let Some(&valid) = self.certificate_cache.get(&key) {
            return valid;
        }
        let Some(epoch) = self.epoch_of(certificate.subject.view()) else { return false };
        let n = epoch.validators.len();
        let signers = certificate.signer_indices();
        let payload = certificate.subject.payload();
        let namespace = certificate.subject.namespace();
        let valid = certificate.signers.len() == n.div_ceil(8)
            && signers.iter().all(|index| usize::from(index.0) < n)
            && signers.len() == certificate.signatures.len()
            && signers.len() >= epoch.validators.quorum()
            && signers
                .iter()
                .zip(certificate.signatures.iter())
                .all(|(signer, signature)| epoch.verifier.verify(*signer, namespace, &payload, signature));
        // The oracle knows validators by slot.
        let slots: Vec<ValidatorIndex> = match valid {
            true => signers.iter().map(|signer| epoch.slots[usize::from(signer.0)]).collect(),
            false => Vec::new(),
        };
        self.certificate_cache.insert(key, valid);
        if valid {
            for slot in slots {
                self.oracle.observe_signed(slot, certificate.subject);
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
        self.epoch_of(vote.subject.view()).is_some_and(|epoch| {
            epoch.verifier.verify(
                vote.signer,
                vote.subject.namespace(),
                &vote.subject.payload(),
                &vote.signature,
            )
        })
    }

    fn proposal_valid(&self, proposal: &Proposal) -> bool {
        let payload = Proposal::payload(proposal.view, proposal.parent_view, proposal.block.id());
        self.epoch_of(proposal.view).is_some_and(|epoch| {
            let leader = epoch.validators.leader(proposal.view);
            epoch.verifier.verify(leader, Namespace::Proposal, &payload, &proposal.signature)
        })
    }

    /// The leader of `view` by its epoch's validators (`None` for an epoch not scheduled).
    fn leader(&self, view: View) -> Option<ValidatorIndex> {
        self.epoch_of(view).map(|epoch| epoch.validators.leader(view))
    }

    fn check_evidence(&mut self, node: NodeId, evidence: Evidence) {
        self.stats.evidence += 1;
        let (accused, proven) = match &evidence {
            Evidence::ConflictingVotes { first, second } => (
                self.slot_at(first.subject.view().epoch(), first.signer).unwrap_or(ValidatorIndex(u16::MAX)),
                first.signer == second.signer
                    && conflicting(&first.subject, &second.subject)
                    && self.vote_valid(first)
                    && self.vote_valid(second),
            ),
            Evidence::ConflictingProposals { first, second } => (
                self.leader(first.view)
                    .and_then(|leader| self.slot_at(first.view.epoch(), leader))
                    .unwrap_or(ValidatorIndex(u16::MAX)),
                // Two different signed proposals for one view: another block, or the same
                // block on another parent view (twins may re-propose an epoch's last block
                // on different notarized parents, R8).
                first.view == second.view
                    && (first.block.id() != second.block.id() || first.parent_view != second.parent_view)
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
        } else if !self.scenario.byzantine.iter().any(|(index, _)| *index == accused)
            && !self.hosts.iter().any(|host| host.lying_disk && host.validator == accused)
        {
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
        let signature = self.hosts[node.index()].signer().sign(Namespace::Proposal, &payload);
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
        // Its index in the message's epoch, which proposers and signers are named by.
        let me = self.index_in(message.view().epoch(), self.hosts[node.index()].validator);
        match (behavior, message) {
            (Behavior::Equivocator, Message::Proposal(proposal)) if proposal.block.header.proposer == me => {
                self.equivocate(node, proposal, targets, hop)
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
                self.vote_conflicting(node, vote, targets, hop)
            }
            (Behavior::Nuller, Message::Proposal(_)) => {}
            (Behavior::Nuller, Message::Vote(vote))
                if vote.signer == me && !matches!(vote.subject, Subject::Nullify { .. }) => {}
            (Behavior::InvalidSigner, message) => self.send_with_bad_signatures(node, message, targets, hop),
            (Behavior::ForkingLeader, Message::Proposal(proposal))
                if proposal.block.header.proposer == me =>
            {
                self.propose_fork(node, proposal, targets, hop)
            }
            (Behavior::BadBlockLeader, Message::Proposal(proposal))
                if proposal.block.header.proposer == me =>
            {
                self.propose_bad_block(node, proposal, targets, hop)
            }
            (Behavior::ForkingLeader | Behavior::BadBlockLeader, Message::Vote(vote))
                if vote.signer == me
                    && matches!(vote.subject, Subject::Notarize { view, block_id }
                        if self.hosts[node.index()].mischief.withheld.get(&view) == Some(&block_id)) => {}
            (_, message) => self.send_to(node, &targets, message, hop),
        }
    }

    /// Equivocator leader: its proposal to one half of `targets`, a conflicting one (and its
    /// notarize) to the other; the halves are kept so its own notarize follows the first.
    fn equivocate(&mut self, node: NodeId, proposal: Proposal, targets: Vec<NodeId>, hop: u32) {
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

    /// Conflicting voter: each of its votes goes out with one that conflicts with it (another
    /// block's notarize to half of `targets`, a finalize beside a nullify, a nullify beside a
    /// finalize).
    fn vote_conflicting(&mut self, node: NodeId, vote: Vote, targets: Vec<NodeId>, hop: u32) {
        let view = vote.subject.view();
        let seen = self.hosts[node.index()].mischief.blocks_in_view.get(&view).cloned().unwrap_or_default();
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

    /// Invalid signer: now and then a flipped signature bit, or a vote forged in another
    /// validator's name, beside the message.
    fn send_with_bad_signatures(
        &mut self,
        node: NodeId,
        mut message: Message,
        targets: Vec<NodeId>,
        hop: u32,
    ) {
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

    /// Forking leader: instead of its proposal, a block on its parent's parent (when it can
    /// build one), with its notarize; the real proposal's notarize is withheld.
    fn propose_fork(&mut self, node: NodeId, proposal: Proposal, targets: Vec<NodeId>, hop: u32) {
        let view = proposal.view;
        let parent = self.hosts[node.index()].lookup(&proposal.block.header.parent_id);
        let grandparent = match &parent {
            Some(parent) if parent.header.height == Height(1) => Some(self.spec.genesis),
            Some(parent) => {
                self.hosts[node.index()].lookup(&parent.header.parent_id).map(|block| BlockRef::of(&block))
            }
            None => None,
        };
        let fork = grandparent.and_then(|grandparent| {
            self.build_on(node, view, &grandparent).map(|block| (grandparent, block))
        });
        match fork {
            Some((grandparent, block)) => {
                self.oracle.observe_block(&block);
                self.log(|| {
                    format!("{node} forks in view {view}: {} on height {}", block.id(), grandparent.height)
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

    /// Bad-block leader: instead of its proposal, its block with one flaw (a wrong state root, a
    /// time too far ahead, a wrong height), with its notarize; the real one's is withheld.
    fn propose_bad_block(&mut self, node: NodeId, proposal: Proposal, targets: Vec<NodeId>, hop: u32) {
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

    /// A real block for `view` on `parent` built by Byzantine `node` from its own store (no
    /// transactions), when `parent` is its durable tip.
    fn build_on(&self, node: NodeId, view: View, parent: &BlockRef) -> Option<Block> {
        let host = &self.hosts[node.index()];
        if host.engine.as_ref()?.durable().id != parent.id {
            return None;
        }
        let store = host.store.as_ref()?;
        let mempool = Mutex::new(Mempool::new(MempoolConfig::default(), self.spec.chain_id.clone()).ok()?);
        let rules = self.rules_for(self.index_in(view.epoch(), host.validator));
        let time_ms = self.local_clock_ms(node).max(parent.time_ms + 1);
        executor::build(store, &mempool, &rules, &BuildPace::off(), &[], view, parent, time_ms)
            .ok()
            .map(|(block, _)| block)
    }

    fn local_clock_ms(&self, node: NodeId) -> u64 {
        let offset = self.hosts[node.index()].clock_offset_ms;
        (GENESIS_TIME_MS + self.queue.now().0).saturating_add_signed(offset)
    }

    /// The executor's view of the chain for validator `me`.
    fn rules_for(&self, me: ValidatorIndex) -> ChainRules {
        ChainRules {
            chain_id: self.spec.chain_id.clone(),
            validators_hash: self.spec.validators.hash(),
            me,
            block_txs_max: limits::BLOCK_TXS_MAX,
            block_bytes_max: limits::BLOCK_BYTES_MAX - limits::HEADER_BYTES_MAX - 4,
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
        let following = self.hosts[to.index()].following && matches!(wire, Wire::Response { .. });
        if !self.hosts[to.index()].is_up() && !following {
            return;
        }
        self.stats.delivered += 1;
        let bytes = wire.trace_bytes();
        self.trace_event(0, to, &bytes);
        let sender = self.hosts[from.index()].validator;
        match wire {
            Wire::Consensus { bytes, epoch } => {
                // The receiver knows its peers by index in the epoch's set; a host whose slot
                // is not in it is not a peer (its messages are dropped, as the node's are).
                let Some(sender) = self.slot_index(epoch, sender) else { return };
                if matches!(self.hosts[to.index()].role, Role::Byzantine(_))
                    && let Ok(Message::Proposal(proposal)) = decode::<Message>(&bytes)
                {
                    self.hosts[to.index()].mischief.remember(&proposal.block);
                }
                self.feed(to, EngineEvent::Message { from: sender, bytes }, hop);
            }
            Wire::Gossip(bytes) => self.feed(to, EngineEvent::Gossip { gossip: (), bytes }, hop),
            Wire::Request { incarnation, tag, bytes } => {
                let reply = SimReply { requester: from, incarnation, tag };
                self.feed(to, EngineEvent::Request { bytes, reply }, hop);
            }
            Wire::Response { incarnation, tag, bytes } => {
                let Some(is_range) = self.world.requests.remove(&(to, incarnation, tag)) else { return };
                if self.hosts[to.index()].incarnation != incarnation {
                    return;
                }
                if is_range && !bytes.is_empty() {
                    self.stats.syncs_completed += 1;
                }
                if let Ok(block) = decode::<Block>(&bytes) {
                    self.oracle.observe_block(&block);
                }
                if following {
                    self.follow_response(to, tag, &bytes, hop);
                    return;
                }
                self.feed(to, EngineEvent::Response { tag, bytes: Some(bytes) }, hop);
            }
        }
    }

    // ---- joining validators, following the chain ----

    /// A following host asks a validator of the epoch after its tip (chosen at random) for the
    /// blocks after its tip, one request at a time, and asks again every [`FOLLOW_MS`].
    fn follow(&mut self, node: NodeId, incarnation: u64) {
        let host = &self.hosts[node.index()];
        if host.incarnation != incarnation || !host.following {
            return;
        }
        let (pending, store) = (host.follow_pending.is_some(), host.store.clone());
        self.schedule_in(FOLLOW_MS, Event::Follow { node, incarnation });
        if pending {
            return;
        }
        let Some(store) = store else { return };
        let Ok(tip) = store.height() else { return };
        let (epoch, validators) = match store
            .snapshot()
            .ok()
            .and_then(|state| tally_node::engine::EpochRules::at(&state, tip.next()).ok().flatten())
        {
            Some(epoch) => (epoch.number, epoch.validators),
            None => (0, self.spec.validators.clone()),
        };
        let index = ValidatorIndex(self.rng.below(validators.len() as u64) as u16);
        let targets = self.hosts_at(epoch, index);
        let Some(&target) = targets.get(self.rng.index(targets.len().max(1))) else { return };
        let host = &mut self.hosts[node.index()];
        let tag = host.follow_tag;
        host.follow_tag += 1;
        host.follow_pending = Some(tag);
        let bytes = encode(&BlockRequest::Range { from: tip.next(), count: FOLLOW_RANGE_BLOCKS });
        self.stats.syncs += 1;
        self.world.requests.insert((node, incarnation, tag), true);
        self.schedule_in(REQUEST_TIMEOUT_MS, Event::RequestTimeout { requester: node, incarnation, tag });
        self.transmit(node, target, Wire::Request { incarnation, tag, bytes }, 0);
    }

    /// A following host takes a range answer as the node's full node does
    /// ([`take_range`]: checked against its epoch's set, executed, committed); once the block
    /// after its tip is of an epoch that names its key, it starts its engine there.
    fn follow_response(&mut self, node: NodeId, tag: RequestTag, bytes: &[u8], hop: u32) {
        let host = &mut self.hosts[node.index()];
        if host.follow_pending != Some(tag) {
            return;
        }
        host.follow_pending = None;
        let Some(store) = host.store.clone() else { return };
        let slot = host.validator;
        let Ok(height) = store.height() else { return };
        let tip = match store.block(height) {
            Ok(Some(block)) => BlockRef::of(&block),
            _ if height == Height(0) => self.spec.genesis,
            _ => return,
        };
        let shared = match Mempool::new(MempoolConfig::default(), self.spec.chain_id.clone()) {
            Ok(mempool) => Shared {
                store: Arc::clone(&store),
                mempool: Arc::new(Mutex::new(mempool)),
                rules: self.rules_for(slot),
                pace: Arc::new(BuildPace::off()),
                metrics: Arc::new(Metrics::new()),
                assets: AssetCatalog::new([host::asset()]),
                check_invariants: true,
            },
            Err(_) => return,
        };
        let (kind, chain_id) = (self.keyring.kind(), self.spec.chain_id.clone());
        let taken = take_range(
            &shared,
            &self.spec.validators,
            tip,
            tip.height.next(),
            FOLLOW_RANGE_BLOCKS,
            bytes,
            |validators, certificate| scheme::certificate_verifies(kind, &chain_id, validators, certificate),
        );
        match taken {
            Ok((_, Some(new_tip))) => {
                self.log(|| format!("{node} follows to height {}", new_tip.height));
                self.observe_commits(node, hop);
                let names_me = store
                    .snapshot()
                    .ok()
                    .and_then(|state| {
                        tally_node::engine::EpochRules::at(&state, new_tip.height.next()).ok().flatten()
                    })
                    .is_some_and(|epoch| {
                        self.keyring
                            .secrets_of(slot)
                            .iter()
                            .any(|secret| epoch.validators.index_of(&secret.public_key()).is_some())
                    });
                if names_me {
                    // Its epoch has come: the same disks, now with an engine (`start_resumed`).
                    self.log(|| format!("{node} becomes a validator at height {}", new_tip.height.next()));
                    let host = &mut self.hosts[node.index()];
                    host.store = None;
                    host.following = false;
                    drop(store);
                    drop(shared);
                    if let Err(what) = self.boot(node) {
                        self.oracle.violate(Violation::Host { node, what });
                    }
                }
            }
            Ok((_, None)) => {}
            // A peer's bad answer (a Byzantine one tampers with blocks): the next asks another.
            Err(error) => self.log(|| format!("{node} did not take a range: {error:#}")),
        }
    }

    // ---- crashes ----

    fn crash_arm(&mut self, plan: usize) {
        let crash = self.scenario.crashes[plan];
        let host = &mut self.hosts[crash.node.index()];
        if !host.is_up() {
            return;
        }
        match crash.point {
            CrashPoint::Anytime => {
                self.crash(crash.node, "at a random time");
                return;
            }
            // The power goes during the WAL's next append (at one of its writes, or at its
            // fsync): the entry survives or not, whole or torn, as the disk's crash decides;
            // what waited on it never left.
            CrashPoint::BeforeWriteCompletes => {
                let stats = host.wal_disk.stats();
                match self.rng.below(3) {
                    0 => host.wal_disk.cut_power_at_sync(stats.syncs),
                    skip => host.wal_disk.cut_power_at_write(stats.writes + skip - 1),
                }
            }
            // The power goes in the middle of the store's next block commit.
            CrashPoint::AfterWriteBeforeSend => {
                let skip = self.rng.below(4);
                host.store_disk.cut_power_at_write(host.store_disk.stats().writes + skip);
            }
        }
        host.armed_crash = Some((plan, crash.point));
        let incarnation = host.incarnation;
        self.schedule_in(CRASH_ARM_WAIT_MS, Event::CrashDeadline { plan, incarnation });
    }

    /// Crashes `node`: its engine, jobs, timers and requests are gone, and each disk keeps
    /// what its crash decides (the durable image, maybe some unsynced writes, maybe torn).
    fn crash(&mut self, node: NodeId, why: &str) {
        let seeds = (self.rng.next_u64(), self.rng.next_u64());
        let host = &mut self.hosts[node.index()];
        let plan = host.armed_crash.map(|(plan, _)| plan);
        let down_ms = plan
            .or_else(|| self.scenario.crashes.iter().position(|crash| crash.node == node))
            .map(|plan| self.scenario.crashes[plan].down_ms)
            .unwrap_or(200);
        match (host.armed_crash, host.store_disk.is_powered_off(), host.wal_disk.is_powered_off()) {
            (_, _, true) => self.stats.crashes_before_write += 1,
            (_, true, _) => self.stats.crashes_after_write += 1,
            _ => {}
        }
        host.engine = None;
        host.store = None;
        host.incarnation += 1;
        *host.outbox.borrow_mut() = host::Outbox::default();
        host.wake_at = None;
        host.lane_busy_until = [SimTime(0); 4];
        host.armed_crash = None;
        let store_report = host.store_disk.crash(seeds.0);
        let wal_report = host.wal_disk.crash(seeds.1);
        // Its own seed, derived: drawing another would shift every later random choice.
        let _ = host.sign_disk.crash(seeds.1.rotate_left(17) ^ 0x5169_6e53_7461_7465);
        if store_report.torn_bytes.is_some() || wal_report.torn_bytes.is_some() {
            self.stats.torn_writes += 1;
        }
        self.stats.crashes += 1;
        self.trace_event(5, node, why.as_bytes());
        self.log(|| {
            format!("{node} crashes {why}; down for {down_ms} ms ({store_report:?}, {wal_report:?})")
        });
        self.schedule_in(down_ms, Event::Restart { node });
    }
}

/// What an `InvalidSigner` host does to the blocks it serves: shifts their time, so that
/// their id no longer matches what was asked for.
fn tamper_block(bytes: Vec<u8>) -> Vec<u8> {
    match decode::<Block>(&bytes) {
        Ok(mut block) => {
            block.header.time_ms += 1;
            encode(&block)
        }
        Err(_) => bytes,
    }
}

/// Runs `scenario` to the end.
pub fn run(scenario: Scenario, verbose: bool) -> Result<Outcome, SetupError> {
    Ok(Simulation::new(scenario, verbose)?.run())
}
