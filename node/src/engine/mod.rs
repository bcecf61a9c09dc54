//! The engine (docs/ARCHITECTURE.md "Engine"): the node's host for the
//! consensus core, split by role so that the consensus driver never waits on execution, disk
//! or signature checks other than its own WAL append.
//!
//! | role | where | bounded by |
//! |---|---|---|
//! | consensus driver: `Core`, timers, WAL (persist before send) | this module, one thread | effects performed in order |
//! | ingress: decode, batch signature checks, mempool admission | [`ingress`], `Lane::Ingress` jobs | submissions: [`INGRESS_JOBS_MAX`] jobs, then [`SUBMITTED_TXS_MAX`] queued transactions, then 503; gossip: [`GOSSIP_JOBS_MAX`] slots of its own, [`GOSSIP_QUEUE_MAX`] queued batches |
//! | executor: build, verify, execute blocks | [`executor`], `Lane::Executor`, one job at a time | [`EXECUTOR_QUEUE_MAX`] tasks |
//! | storage writer: durable commits, grouped | `Lane::Writer`, one job at a time | [`WRITER_GROUP_MAX`] blocks per fsync |
//! | fetch and sync | [`sync`], requests over [`io::Network`] | [`FETCHES_MAX`], a window of [`sync::SYNC_WINDOW_BLOCKS`] |
//! | serving peers | `Lane::Serve` jobs | [`SERVE_JOBS_MAX`]; beyond it the answer is empty and the peer asks another |
//!
//! The driver is generic over its clock, network and workers ([`io`]); the node runs it on
//! tokio and libp2p ([`runtime`]), the simulator (`tests/sim`) on simulated ones.
//!
//! Invariants:
//! - Effects are performed in the order the core emits them; consecutive `Persist`s become one
//!   durable WAL append before `Persisted` is fed back, so nothing this node signed leaves it
//!   before it is on disk; a `PersistSignState` among them is written to the key's sign-state
//!   file at the same time as that append, and `Persisted` waits for both.
//! - Pipelining: a finalized block goes to the writer as soon as it is executed; the executor
//!   meanwhile works on the next block, on the committed state seen through the write sets of
//!   every block not yet durable ([`executor::Overlay`]). A block's write set is dropped only
//!   once the block is durable.
//! - `PruneWal` waits until the commits emitted before it are durable (a crash must not find
//!   the WAL pruned past what the store holds).
//! - `committed` (and `?wait=commit`, and the status height) only ever report durable blocks.

pub mod executor;
pub mod ingress;
pub mod io;
pub mod runtime;
pub mod startup;
pub mod sync;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tally_consensus::{
    BlockRef, Core, Effect, Evidence, Input, Message, Recipient, Scheme, SignState, Ticket, Timer, TimerKind,
    WalEntry,
};
use tally_ledger::{StateKey, StateValue};
use tally_store::{BlockCommit, Store, Wal, state_writes, tree_writes};
use tally_types::wire::{BlockRequest, BlockResponse, CommittedBlock, TxBatch};
use tally_types::{
    Block, BlockId, Certificate, Height, PublicKey, SignedTransaction, ValidatorIndex, View, decode, encode,
};
use tokio::sync::watch;

use crate::api::{AssetCatalog, Metrics, NodeStatus, Submission};
use crate::mempool::Mempool;
use crate::sign_state::SignStateSink;
pub use executor::{BuildPace, ChainRules, EpochRules, Executed};
pub use ingress::VerifiedTx;
use io::{Clock, Lane, Network, RequestTag, Verdict, Workers};
pub use startup::{start, store_path};

/// How far ahead of the local clock a block's time may be (docs/ARCHITECTURE.md "Blocks and consensus").
pub const BLOCK_TIME_AHEAD_MAX_MS: u64 = 2_000;
/// Pending HTTP submissions (requests, each up to `limits::TX_SUBMIT_BATCH_MAX` transactions);
/// beyond it the API answers 503 at once.
pub const SUBMISSIONS_MAX: usize = 1_024;
/// With nothing ready in the mempool, a leader waits this long after its parent's time before
/// proposing an empty block (a transaction that can go in arriving meanwhile triggers the
/// proposal at once), so an idle chain makes a few blocks a second. Kept below half the
/// propose timeout.
pub const EMPTY_BLOCK_INTERVAL_MS: u64 = 500;
/// Submission jobs being checked at once; further submissions wait in their queue.
pub const INGRESS_JOBS_MAX: usize = 3;
/// Gossip batches being checked at once, in slots of their own.
pub const GOSSIP_JOBS_MAX: usize = 2;
/// Gossip batches waiting; beyond it a batch is ignored (its transactions still reach this
/// node inside blocks, where their signatures are checked).
pub const GOSSIP_QUEUE_MAX: usize = 256;
/// Transactions in submissions waiting for an ingress job; beyond it the HTTP answer is 503.
pub const SUBMITTED_TXS_MAX: usize = 20_000;
/// Executor tasks waiting (verifications, builds, executions for commit). Beyond it the oldest
/// verification is answered invalid (the view times out and is nullified; safety holds).
pub const EXECUTOR_QUEUE_MAX: usize = 64;
/// Tasks waiting for an ancestor to be fetched; beyond it the oldest is given up.
pub const DEFERRED_MAX: usize = 16;
/// Blocks one durable writer transaction commits at most (they share one fsync).
pub const WRITER_GROUP_MAX: usize = 32;
/// Blocks handed to the commit pipeline but not durable yet; beyond it sync stops asking for
/// more (backpressure) and the core's own commits still go in (the core is bounded itself).
pub const COMMIT_PIPELINE_MAX: usize = 512;
/// Outstanding block fetches by id.
pub const FETCHES_MAX: usize = 64;
/// Jobs serving peers' requests at once.
pub const SERVE_JOBS_MAX: usize = 4;
/// Gossip batches sent per tick (~100 ms) at most: 64 × 256 transactions, far above what a
/// node admits in that time.
pub const GOSSIP_BATCHES_PER_TICK_MAX: usize = 64;
/// Fetched ancestors held (blocks above the durable tip that the core does not hold).
pub const ANCESTORS_MAX: usize = 256;
/// A proposal more than this many heights above the durable tip is not verified (answered
/// invalid at once, so this node does not vote for it), and a build on such a parent is not
/// started: the node is behind and catches up by range sync, and chasing the live chain's
/// ancestors one fetch at a time would compete with the sync (with a 100,000-block gap it
/// slowed catch-up to a few blocks a second). A quorum is never this far behind, since a
/// block is notarized only by validators that executed its parent.
pub const VERIFY_AHEAD_MAX: u64 = ANCESTORS_MAX as u64;
/// Consensus messages of the next epoch held while this node commits the current epoch's last
/// block (peers that committed it first already run the next epoch); replayed into the next
/// epoch's core. Beyond it they are dropped (consensus tolerates loss).
pub const NEXT_EPOCH_MESSAGES_MAX: usize = 1_024;
/// Evidence reports kept until taken ([`Engine::take_evidence`]); older ones are dropped.
pub const EVIDENCE_KEPT_MAX: usize = 64;

/// Everything that reaches the driver.
pub enum Event<N: Network> {
    /// A consensus message from a validator.
    Message {
        from: ValidatorIndex,
        bytes: Vec<u8>,
    },
    /// Transactions submitted over HTTP.
    Submitted(Submission),
    /// A gossiped transaction batch.
    Gossip {
        gossip: N::Gossip,
        bytes: Vec<u8>,
    },
    /// An ingress job finished: `admitted` transactions entered the mempool.
    Admitted {
        gossip: Option<(N::Gossip, Verdict)>,
        admitted: usize,
    },
    /// A peer's request.
    Request {
        bytes: Vec<u8>,
        reply: N::Reply,
    },
    /// A serve job's answer to a peer's request.
    Served {
        reply: N::Reply,
        bytes: Vec<u8>,
    },
    /// The answer to one of our requests (`None`: it failed).
    Response {
        tag: RequestTag,
        bytes: Option<Vec<u8>>,
    },
    /// An evidence record was written to the store (`Ok(true)`: it was new).
    EvidenceStored(Result<bool, String>),
    /// An executor job finished.
    Executed(ExecOutcome),
    /// A writer job finished.
    Committed(CommitOutcome),
    /// A sync range was checked.
    SyncChecked(sync::Checked),
    PeerUp,
    PeerDown,
    /// Gossip fresh transactions and publish the status (every ~100 ms).
    Tick,
    /// A job panicked (a bug): the engine stops rather than run on with a lane that never
    /// answers.
    JobPanicked {
        lane: io::Lane,
        message: String,
    },
}

/// What the executor lane is asked to do.
enum ExecTask {
    Verify {
        view: View,
        block: Block,
        parent: BlockRef,
    },
    Build {
        view: View,
        parent: BlockRef,
    },
    /// Execute a finalized block this node did not execute yet (it came by sync or a commit
    /// of a block it never verified); it must reproduce its header's roots.
    ForCommit {
        block: Block,
    },
}

/// What an executor job did.
pub struct ExecOutcome {
    /// Ancestors executed on the way, and the task's own block when it executed one.
    executed: Vec<(BlockId, Arc<Executed>)>,
    result: ExecResult,
}

enum ExecResult {
    Verified {
        view: View,
        block_id: BlockId,
        valid: bool,
    },
    /// Asked to build on `parent`, which ends its epoch: the leader re-proposes it (R8).
    EpochEnd {
        view: View,
        parent: BlockRef,
    },
    Built {
        view: View,
        block: Option<Box<Block>>,
    },
    ForCommit(anyhow::Result<()>),
}

/// What a writer job did.
pub struct CommitOutcome {
    /// The last block of the group (durable when `result` is Ok).
    through: BlockRef,
    blocks: usize,
    txs: usize,
    result: anyhow::Result<Duration>,
}

/// What the driver's requests are for.
enum Pending {
    Fetch { block_id: BlockId, tried: usize },
    Sync { run: u64, from: Height, count: u32, tried: usize },
}

/// What every job can reach: the store, the mempool and the node's outputs.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<Store>,
    pub mempool: Arc<Mutex<Mempool>>,
    pub rules: ChainRules,
    /// How large a block this node builds, by measured build and verify times.
    pub pace: Arc<BuildPace>,
    pub metrics: Arc<Metrics>,
    pub assets: AssetCatalog,
    /// Run the ledger invariant checker after every commit (debug builds, tests, simulator).
    pub check_invariants: bool,
}

/// Makes this node's consensus core for an epoch, anchored at the epoch's previous block (or
/// at any later committed block of the epoch): `None` when this node's key does not validate
/// in that epoch (docs/ARCHITECTURE.md "Governance and epochs").
pub type EpochCores<S> = Box<dyn FnMut(&EpochRules, BlockRef) -> anyhow::Result<Option<Core<S>>> + Send>;

/// The consensus driver. See the module documentation.
pub struct Engine<S: Scheme, N: Network, C: Clock, W: Workers<N>> {
    core: Core<S>,
    /// The next epoch's core, made when the durable tip ends the current epoch.
    epoch_cores: EpochCores<S>,
    /// The consensus WAL: the driver's own file, so an append never waits on a block commit.
    wal: Wal,
    /// The sign state beside the key, written before the WAL entry that carries a signature.
    sign_state: Box<dyn SignStateSink>,
    /// A sign state the core asked to keep, written before the next WAL append.
    sign_state_pending: Option<SignState>,
    /// The view the core follows until (signing nothing), as last logged.
    following_until: Option<View>,
    net: N,
    clock: C,
    workers: W,
    shared: Shared,
    validators: usize,
    me: ValidatorIndex,
    /// The last durable block.
    durable: BlockRef,
    /// The certificate `durable` was committed with, once this run committed a block (the
    /// core keeps it as the anchor's finalization after a sync, `Input::Synced`).
    durable_certificate: Option<Certificate>,
    /// The last block handed to the commit pipeline (≥ `durable`).
    queued: BlockRef,
    /// Ids of blocks in the commit pipeline by height (`durable` < height ≤ `queued`).
    queued_ids: BTreeMap<Height, BlockId>,
    /// Blocks in the commit pipeline with their certificates, in height order.
    commit_queue: VecDeque<(Block, Certificate)>,
    /// Blocks at the front of `commit_queue` that the writer is committing now.
    writing: usize,
    executed: HashMap<BlockId, Arc<Executed>>,
    /// Uncommitted ancestors fetched from peers that the core does not hold (each named by its
    /// hash from a child's parent link, so its content is authenticated by the id).
    ancestors: HashMap<BlockId, Block>,
    exec_queue: VecDeque<ExecTask>,
    exec_busy: bool,
    /// Tasks waiting for a fetched ancestor, oldest first.
    deferred: VecDeque<ExecTask>,
    /// WAL prunes waiting for the commits before them to be durable: (height, below).
    prunes: VecDeque<(Height, View)>,
    /// Ordered by kind, so that timers due together fire in the same order on every run (the
    /// simulator replays a seed exactly; a `HashMap` would not).
    timers: BTreeMap<TimerKind, (u64, Timer)>,
    /// A build held back while nothing is ready: (view, parent, when to build, monotonic ms).
    pending_build: Option<(View, BlockRef, u64)>,
    empty_block_delay_ms: u64,
    inputs: VecDeque<Input>,
    requests: HashMap<RequestTag, Pending>,
    fetching: HashMap<BlockId, RequestTag>,
    next_tag: RequestTag,
    peer_cursor: usize,
    sync: Option<sync::SyncRun>,
    /// Monotonic ms before which no catch-up to the end of the epoch starts again.
    catch_up_after_ms: u64,
    /// Messages of the next epoch, held for its core (see [`NEXT_EPOCH_MESSAGES_MAX`]).
    next_epoch_messages: VecDeque<(ValidatorIndex, Message)>,
    ingress_jobs: usize,
    submissions: VecDeque<Submission>,
    /// Transactions in `submissions`.
    submitted_txs: usize,
    gossip_jobs: usize,
    gossip_queue: VecDeque<(N::Gossip, Vec<u8>)>,
    serve_jobs: usize,
    connected: usize,
    nullified_counted: View,
    status: watch::Sender<NodeStatus>,
    committed: watch::Sender<Height>,
    stopped: Option<String>,
    /// Equivocation evidence the core reported, not yet taken (bounded by [`EVIDENCE_KEPT_MAX`]).
    evidence: VecDeque<Evidence>,
    /// Evidence records being written to the store (at most [`EVIDENCE_KEPT_MAX`]).
    evidence_jobs: usize,
}

/// How the driver is put together; see [`startup`] for the node's and `tests/sim` for the
/// simulator's.
pub struct Parts<S: Scheme, N: Network, C: Clock, W: Workers<N>> {
    pub core: Core<S>,
    pub epoch_cores: EpochCores<S>,
    pub wal: Wal,
    /// Where the sign state is kept ([`crate::sign_state`]); the core was given what it holds.
    pub sign_state: Box<dyn SignStateSink>,
    pub net: N,
    pub clock: C,
    pub workers: W,
    pub shared: Shared,
    pub validators: usize,
    /// The durable tip of the store.
    pub tip: BlockRef,
    pub propose_timeout_ms: u64,
    pub status: watch::Sender<NodeStatus>,
    pub committed: watch::Sender<Height>,
}

impl<S: Scheme + Clone + Send + 'static, N: Network + 'static, C: Clock, W: Workers<N>> Engine<S, N, C, W> {
    pub fn new(parts: Parts<S, N, C, W>) -> Self {
        let me = parts.shared.rules.me;
        Engine {
            core: parts.core,
            epoch_cores: parts.epoch_cores,
            wal: parts.wal,
            sign_state: parts.sign_state,
            sign_state_pending: None,
            following_until: None,
            net: parts.net,
            clock: parts.clock,
            workers: parts.workers,
            shared: parts.shared,
            validators: parts.validators,
            me,
            durable: parts.tip,
            durable_certificate: None,
            queued: parts.tip,
            queued_ids: BTreeMap::new(),
            commit_queue: VecDeque::new(),
            writing: 0,
            executed: HashMap::new(),
            ancestors: HashMap::new(),
            exec_queue: VecDeque::new(),
            exec_busy: false,
            deferred: VecDeque::new(),
            prunes: VecDeque::new(),
            timers: BTreeMap::new(),
            pending_build: None,
            empty_block_delay_ms: EMPTY_BLOCK_INTERVAL_MS.min(parts.propose_timeout_ms / 2),
            inputs: VecDeque::new(),
            requests: HashMap::new(),
            fetching: HashMap::new(),
            next_tag: 0,
            peer_cursor: 0,
            sync: None,
            catch_up_after_ms: 0,
            next_epoch_messages: VecDeque::new(),
            ingress_jobs: 0,
            submissions: VecDeque::new(),
            submitted_txs: 0,
            gossip_jobs: 0,
            gossip_queue: VecDeque::new(),
            serve_jobs: 0,
            connected: 0,
            nullified_counted: View(0),
            status: parts.status,
            committed: parts.committed,
            stopped: None,
            evidence: VecDeque::new(),
            evidence_jobs: 0,
        }
    }

    /// The consensus core (read-only), for the simulator's oracle and status.
    pub fn core(&self) -> &Core<S> {
        &self.core
    }

    /// The last durable block.
    pub fn durable(&self) -> BlockRef {
        self.durable
    }

    /// Why the engine stopped, if it did (storage failure, a diverging ledger).
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Starts the core; call once before any event.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.note_following();
        let effects = self.core.start();
        self.perform(effects)?;
        self.drain()
    }

    /// The earliest timer deadline (monotonic ms), if any.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.timers.values().map(|(at, _)| *at).chain(self.pending_build.map(|(_, _, at)| at)).min()
    }

    /// Fires the timers that are due.
    pub fn on_timers(&mut self) -> anyhow::Result<()> {
        let now = self.clock.monotonic_ms();
        let due: Vec<TimerKind> =
            self.timers.iter().filter(|(_, (at, _))| *at <= now).map(|(kind, _)| *kind).collect();
        for kind in due {
            if let Some((_, timer)) = self.timers.remove(&kind) {
                self.inputs.push_back(Input::Timeout(timer));
            }
        }
        if self.pending_build.is_some_and(|(_, _, at)| at <= now) {
            self.build_pending();
        }
        self.drain()
    }

    /// Handles one event. An error is fatal: the node must stop (storage failed, or its ledger
    /// diverged from what a quorum certified).
    pub fn handle(&mut self, event: Event<N>) -> anyhow::Result<()> {
        if let Some(reason) = &self.stopped {
            bail!("the engine stopped: {reason}");
        }
        let result = self.handle_inner(event).and_then(|()| self.drain());
        if let Err(error) = &result {
            self.stopped = Some(format!("{error:#}"));
        }
        result
    }

    // Not split: one arm per event kind; the match is the table of what the engine does on each.
    fn handle_inner(&mut self, event: Event<N>) -> anyhow::Result<()> {
        match event {
            Event::Message { from, bytes } => match decode::<Message>(&bytes) {
                Ok(message) if message.view().epoch() > self.core.config().epoch => {
                    let next = message.view().epoch() == self.core.config().epoch + 1;
                    if next && self.next_epoch_messages.len() < NEXT_EPOCH_MESSAGES_MAX {
                        self.next_epoch_messages.push_back((from, message));
                    }
                    // Peers run a later epoch. While this node commits blocks it may be about to
                    // finish its own (then the held messages are replayed); otherwise it is
                    // behind and catches up from peers' committed blocks.
                    if !next || self.queued.height == self.durable.height {
                        self.start_catch_up();
                    }
                }
                Ok(message) => self.inputs.push_back(Input::Message { from, message }),
                Err(error) => tracing::debug!(from = from.0, %error, "undecodable consensus message"),
            },
            Event::Submitted(submission) => {
                if self.submitted_txs + submission.txs.len() > SUBMITTED_TXS_MAX {
                    // Bounded: the HTTP answer is 503 (try again later).
                    let refused =
                        submission.txs.iter().map(|_| Err(crate::mempool::AdmitError::Unavailable)).collect();
                    let _ = submission.reply.send(refused);
                } else {
                    self.submitted_txs += submission.txs.len();
                    self.submissions.push_back(submission);
                    self.pump_ingress();
                }
            }
            Event::Gossip { gossip, bytes } => {
                if self.gossip_queue.len() >= GOSSIP_QUEUE_MAX {
                    // Far behind: this batch is dropped (its transactions still reach this
                    // node inside blocks, checked there).
                    self.net.report(gossip, Verdict::Ignore);
                } else {
                    self.gossip_queue.push_back((gossip, bytes));
                    self.pump_ingress();
                }
            }
            Event::Admitted { gossip, admitted } => {
                match gossip {
                    Some((gossip, verdict)) => {
                        self.gossip_jobs -= 1;
                        self.net.report(gossip, verdict);
                    }
                    None => self.ingress_jobs -= 1,
                }
                if admitted > 0 && self.pending_build.is_some() && self.mempool_has_ready() {
                    self.build_pending();
                }
                self.pump_ingress();
            }
            Event::Request { bytes, reply } => self.on_request(bytes, reply),
            Event::Served { reply, bytes } => {
                self.serve_jobs -= 1;
                self.net.respond(reply, bytes);
            }
            Event::Response { tag, bytes } => self.on_response(tag, bytes),
            Event::EvidenceStored(result) => {
                self.evidence_jobs -= 1;
                match result {
                    Ok(new) => {
                        if new {
                            self.shared.metrics.evidence_stored.inc();
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot store equivocation evidence"),
                }
            }
            Event::Executed(outcome) => self.on_executed(outcome)?,
            Event::Committed(outcome) => self.on_committed(outcome)?,
            Event::SyncChecked(checked) => self.on_sync_checked(checked)?,
            Event::PeerUp => self.connected += 1,
            Event::PeerDown => self.connected = self.connected.saturating_sub(1),
            Event::Tick => {
                stop_if_corrupt(&self.shared.store)?;
                self.gossip_fresh();
                self.publish_status();
            }
            Event::JobPanicked { lane, message } => bail!("a {lane:?} job panicked: {message}"),
        }
        Ok(())
    }

    fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(input) = self.inputs.pop_front() {
            let effects = self.core.on_input(input);
            self.perform(effects)?;
        }
        if self.following_until.is_some() {
            self.note_following();
        }
        self.pump_executor();
        self.pump_writer();
        Ok(())
    }

    /// Performs effects in order; consecutive persists become one durable WAL append.
    fn perform(&mut self, effects: Vec<Effect>) -> anyhow::Result<()> {
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let mut last_ticket = None;
        for effect in effects {
            if let Effect::Persist { entry, ticket } = effect {
                pending.push(encode(&entry));
                last_ticket = Some(ticket);
                continue;
            }
            // Kept before the WAL append that follows it (the entry with the signature), so
            // only the last of a run needs writing.
            if let Effect::PersistSignState(state) = effect {
                self.sign_state_pending = Some(state);
                continue;
            }
            self.flush_wal(&mut pending, &mut last_ticket)?;
            self.perform_one(effect)?;
        }
        self.flush_wal(&mut pending, &mut last_ticket)
    }

    fn flush_wal(
        &mut self,
        pending: &mut Vec<Vec<u8>>,
        last_ticket: &mut Option<Ticket>,
    ) -> anyhow::Result<()> {
        let sign_state = self.sign_state_pending.take();
        let Some(ticket) = last_ticket.take() else {
            if let Some(state) = sign_state {
                self.sign_state.keep(&state).context("writing the sign state")?;
            }
            return Ok(());
        };
        match sign_state {
            None => self.wal.append(pending).context("appending to the consensus WAL")?,
            // Two files, two flushes, both done before `Persisted` is fed back (so before the
            // signature can leave): run at once, the sign state costs no latency of its own. A
            // crash between them leaves either ahead of the other, and the core restarts on
            // the later of the two (a WAL vote the record lacks was never acknowledged, so
            // never sent).
            Some(state) => {
                let (sink, wal) = (&mut self.sign_state, &self.wal);
                let (kept, appended) = std::thread::scope(|scope| {
                    let kept = scope.spawn(move || sink.keep(&state));
                    let appended = wal.append(pending);
                    (kept.join(), appended)
                });
                kept.map_err(|_| anyhow::anyhow!("the sign-state write panicked"))?
                    .context("writing the sign state")?;
                appended.context("appending to the consensus WAL")?;
            }
        }
        pending.clear();
        self.inputs.push_back(Input::Persisted(ticket));
        Ok(())
    }

    // Not split: one arm per consensus effect; the match is the table of how the host performs each.
    fn perform_one(&mut self, effect: Effect) -> anyhow::Result<()> {
        match effect {
            Effect::Persist { .. } | Effect::PersistSignState(_) => {
                unreachable!("persists are batched by perform")
            }
            Effect::Send { to, message } => {
                // Every nullification this node forms or forwards passes here at least once; count
                // each view once (leaders re-send old ones as justifications).
                if let Message::Certificate(certificate) = &message
                    && let tally_types::Subject::Nullify { view } = certificate.subject
                    && view > self.nullified_counted
                {
                    self.nullified_counted = view;
                    self.shared.metrics.nullified_views.inc();
                }
                let bytes = encode(&message);
                match to {
                    Recipient::All => {
                        for index in 0..self.validators {
                            if index != usize::from(self.me.0) {
                                self.net.send(ValidatorIndex(index as u16), bytes.clone());
                            }
                        }
                    }
                    Recipient::One(index) => self.net.send(index, bytes),
                }
            }
            Effect::SetTimer { timer, after_ms } => {
                self.timers.insert(timer.kind, (self.clock.monotonic_ms() + after_ms, timer));
            }
            Effect::BuildBlock { view, parent }
                if parent.height.0 > self.durable.height.0 + VERIFY_AHEAD_MAX =>
            {
                tracing::debug!(view = view.0, height = parent.height.0, "no proposal: behind, catching up");
            }
            Effect::BuildBlock { view, parent } => {
                let wait_ms =
                    (parent.time_ms + self.empty_block_delay_ms).saturating_sub(self.clock.unix_ms());
                if wait_ms > 0 && !self.mempool_has_ready() {
                    self.pending_build = Some((view, parent, self.clock.monotonic_ms() + wait_ms));
                } else {
                    self.pending_build = None;
                    self.enqueue(ExecTask::Build { view, parent });
                }
            }
            Effect::VerifyBlock { view, block, parent } => {
                let ahead_max = self.clock.unix_ms() + BLOCK_TIME_AHEAD_MAX_MS;
                if block.header.height.0 > self.durable.height.0 + VERIFY_AHEAD_MAX {
                    tracing::debug!(
                        view = view.0,
                        height = block.header.height.0,
                        "not verified: behind, catching up"
                    );
                    self.inputs.push_back(Input::BlockVerified { view, block_id: block.id(), valid: false });
                } else if block.header.time_ms > ahead_max {
                    tracing::warn!(
                        view = view.0,
                        time_ms = block.header.time_ms,
                        "block refused: its time is more than {BLOCK_TIME_AHEAD_MAX_MS} ms ahead of this node's clock"
                    );
                    self.inputs.push_back(Input::BlockVerified { view, block_id: block.id(), valid: false });
                } else {
                    self.enqueue(ExecTask::Verify { view, block, parent });
                }
            }
            Effect::Commit { block, finalization } => self.enqueue_commit(block, finalization)?,
            Effect::Fetch { block_id } => self.fetch(block_id),
            Effect::Sync { finalization, height } => self.start_sync(finalization, height)?,
            Effect::PruneWal { below } => {
                self.prunes.push_back((self.queued.height, below));
                self.run_prunes()?;
            }
            Effect::Evidence(evidence) => {
                tracing::warn!(?evidence, "validator equivocation");
                self.store_evidence(&evidence);
                if self.evidence.len() >= EVIDENCE_KEPT_MAX {
                    self.evidence.pop_front();
                }
                self.evidence.push_back(evidence);
            }
        }
        Ok(())
    }

    /// Stores `evidence` (both signed messages) in node.redb off the driver, so that it is
    /// served (`GET /v1/evidence`) and survives restarts; de-duplicated by the store. Rare:
    /// the core reports each equivocation once per view, kind and signer; beyond
    /// [`EVIDENCE_KEPT_MAX`] writes in flight a record is only logged.
    fn store_evidence(&mut self, evidence: &Evidence) {
        if self.evidence_jobs >= EVIDENCE_KEPT_MAX {
            tracing::warn!("equivocation evidence not stored: too many writes in flight");
            return;
        }
        let view = match evidence {
            Evidence::ConflictingProposals { first, .. } => first.view,
            Evidence::ConflictingVotes { first, .. } => first.subject.view(),
        };
        let record = borsh::to_vec(evidence).expect("encoding to memory");
        let store = Arc::clone(&self.shared.store);
        self.evidence_jobs += 1;
        self.workers.spawn(
            Lane::Serve,
            Box::new(move || {
                Event::EvidenceStored(store.evidence_put(view.0, &record).map_err(|error| error.to_string()))
            }),
        );
    }

    /// Logs when the core starts or stops following (signing nothing until it is past its sign
    /// state: a validator whose data directory was emptied or is behind its key's record).
    fn note_following(&mut self) {
        let now = self.core.following_until();
        if now == self.following_until {
            return;
        }
        match now {
            Some(view) => tracing::warn!(
                sign_state_view = view.0,
                view = self.core.view().0,
                "the key's sign state is ahead of this data directory: following the chain without \
                 voting or proposing until past view {view}"
            ),
            None => tracing::info!(view = self.core.view().0, "past the key's sign state: voting again"),
        }
        self.shared.metrics.sign_state_following.set(i64::from(now.is_some()));
        self.following_until = now;
    }

    fn mempool_has_ready(&self) -> bool {
        self.shared.mempool.lock().is_ok_and(|pool| pool.has_ready())
    }

    fn build_pending(&mut self) {
        if let Some((view, parent, _)) = self.pending_build.take() {
            self.enqueue(ExecTask::Build { view, parent });
        }
    }

    fn enqueue(&mut self, task: ExecTask) {
        self.exec_queue.push_back(task);
        if self.exec_queue.len() > EXECUTOR_QUEUE_MAX
            && let Some(position) =
                self.exec_queue.iter().position(|task| matches!(task, ExecTask::Verify { .. }))
            && let Some(ExecTask::Verify { view, block, .. }) = self.exec_queue.remove(position)
        {
            tracing::warn!(view = view.0, "executor queue full; a verification is given up");
            self.inputs.push_back(Input::BlockVerified { view, block_id: block.id(), valid: false });
        }
    }

    fn defer(&mut self, task: ExecTask) {
        self.deferred.push_back(task);
        if self.deferred.len() > DEFERRED_MAX {
            match self.deferred.pop_front() {
                Some(ExecTask::Verify { view, block, .. }) => {
                    tracing::warn!(view = view.0, "gave up waiting for a block's ancestors");
                    self.inputs.push_back(Input::BlockVerified { view, block_id: block.id(), valid: false });
                }
                Some(ExecTask::ForCommit { block }) => {
                    self.deferred.push_front(ExecTask::ForCommit { block })
                }
                _ => {}
            }
        }
    }

    fn retry_deferred(&mut self) {
        while let Some(task) = self.deferred.pop_back() {
            self.exec_queue.push_front(task);
        }
    }

    /// The block with `id` if this node holds it uncommitted (core, fetched, commit pipeline).
    fn held_block(&self, id: &BlockId) -> Option<&Block> {
        self.core
            .block(id)
            .or_else(|| self.ancestors.get(id))
            .or_else(|| self.commit_queue.iter().map(|(block, _)| block).find(|block| block.id() == *id))
    }

    /// For a task on top of `parent`: the unexecuted ancestors to execute first (oldest first)
    /// and the executed layers below them (oldest first). `Err(id)`: block `id` is missing.
    fn chain_for(&self, parent: BlockId) -> Result<(Vec<Block>, Vec<Arc<Executed>>), BlockId> {
        let mut missing = Vec::new();
        let mut cursor = parent;
        while cursor != self.durable.id && !self.executed.contains_key(&cursor) {
            let block = self.held_block(&cursor).ok_or(cursor)?;
            if block.header.height <= self.durable.height || missing.len() > ANCESTORS_MAX {
                // Does not descend from the durable tip: nothing to build on.
                return Err(cursor);
            }
            cursor = block.header.parent_id;
            missing.push(block.clone());
        }
        missing.reverse();
        let mut layers = Vec::new();
        while cursor != self.durable.id {
            let Some(executed) = self.executed.get(&cursor) else { return Err(cursor) };
            layers.push(Arc::clone(executed));
            cursor = executed.parent_id;
        }
        layers.reverse();
        Ok((missing, layers))
    }

    fn pump_executor(&mut self) {
        while !self.exec_busy {
            let Some(task) = self.exec_queue.pop_front() else { return };
            let parent = match &task {
                ExecTask::Verify { parent, .. } | ExecTask::Build { parent, .. } => parent.id,
                ExecTask::ForCommit { block } => {
                    if self.executed.contains_key(&block.id()) || block.header.height <= self.durable.height {
                        continue;
                    }
                    block.header.parent_id
                }
            };
            let (ancestors, layers) = match self.chain_for(parent) {
                Ok(chain) => chain,
                Err(missing) => {
                    if self.held_block(&missing).is_none() && self.durable.height < self.queued.height.next()
                    {
                        tracing::debug!(block = %missing.0, "fetching a missing ancestor");
                        self.fetch(missing);
                    }
                    match task {
                        ExecTask::Verify { view, block, .. }
                            if !self.executed.contains_key(&missing)
                                && self.held_block(&missing).is_some() =>
                        {
                            // A held ancestor below the durable tip: this block forks from it.
                            self.inputs.push_back(Input::BlockVerified {
                                view,
                                block_id: block.id(),
                                valid: false,
                            });
                        }
                        task => self.defer(task),
                    }
                    continue;
                }
            };
            self.exec_busy = true;
            let shared = self.shared.clone();
            let time_ms = self.clock.unix_ms();
            self.workers
                .spawn(Lane::Executor, Box::new(move || run_exec(&shared, ancestors, layers, task, time_ms)));
        }
    }

    fn on_executed(&mut self, outcome: ExecOutcome) -> anyhow::Result<()> {
        self.exec_busy = false;
        for (id, executed) in outcome.executed {
            if executed.height > self.durable.height {
                self.executed.insert(id, executed);
            }
        }
        match outcome.result {
            ExecResult::Verified { view, block_id, valid } => {
                if valid && let Some(block) = self.core.block(&block_id) {
                    let ids = block.txs.iter().map(SignedTransaction::id);
                    if let Ok(mut pool) = self.shared.mempool.lock() {
                        pool.mark_in_flight(block.header.height, ids);
                    }
                }
                self.inputs.push_back(Input::BlockVerified { view, block_id, valid });
            }
            ExecResult::Built { view, block: Some(block) } => {
                if let Ok(mut pool) = self.shared.mempool.lock() {
                    pool.mark_in_flight(block.header.height, block.txs.iter().map(SignedTransaction::id));
                }
                tracing::debug!(
                    view = view.0,
                    height = block.header.height.0,
                    txs = block.txs.len(),
                    "built block"
                );
                self.inputs.push_back(Input::BlockBuilt { view, block: *block });
            }
            // The view times out and is nullified; the chain goes on with the next leader.
            ExecResult::Built { block: None, .. } => {}
            ExecResult::EpochEnd { view, parent } => {
                // A parent already durable is final: the next epoch's core takes over from it.
                if parent.height > self.durable.height
                    && let Some(block) = self.held_block(&parent.id).cloned()
                {
                    tracing::info!(
                        view = view.0,
                        height = parent.height.0,
                        "re-proposing the epoch's last block"
                    );
                    self.inputs.push_back(Input::BlockBuilt { view, block });
                }
            }
            ExecResult::ForCommit(result) => {
                // A quorum finalized the block, so it is this node's execution that differs:
                // most often a binary of another ledger version (seen with the chaos harness's
                // older-binary fault). The block is not stored: nothing needs repair.
                result.context(
                    "this node's ledger diverges from a finalized block; it stops. A quorum agreed on \
                     the block, so this node executes differently: check that it runs the network's \
                     release (`tally-node --version`); its data directory is left as it was, and \
                     the right binary resumes from it",
                )?
            }
        }
        Ok(())
    }

    /// Hands a finalized block to the commit pipeline (from the core or from sync).
    fn enqueue_commit(&mut self, block: Block, certificate: Certificate) -> anyhow::Result<()> {
        let id = block.id();
        let height = block.header.height;
        if height <= self.queued.height {
            // Already in the pipeline or stored (sync racing the core): it must be the same block.
            let known = match self.queued_ids.get(&height) {
                Some(known) => Some(*known),
                None => self.shared.store.block(height)?.map(|stored| stored.id()),
            };
            if known != Some(id) {
                bail!("block {} at height {height} conflicts with the committed one: a fork", id.0);
            }
            return Ok(());
        }
        if block.header.parent_id != self.queued.id {
            bail!("commit of block {} at height {height} does not follow the committed chain", id.0);
        }
        self.queued = BlockRef::of(&block);
        self.queued_ids.insert(height, id);
        if !self.executed.contains_key(&id) {
            self.enqueue(ExecTask::ForCommit { block: block.clone() });
        }
        self.commit_queue.push_back((block, certificate));
        Ok(())
    }

    fn pump_writer(&mut self) {
        if self.writing > 0 {
            return;
        }
        let mut group = Vec::new();
        for (block, certificate) in self.commit_queue.iter().take(WRITER_GROUP_MAX) {
            let Some(executed) = self.executed.get(&block.id()) else { break };
            group.push((block.clone(), certificate.clone(), Arc::clone(executed)));
        }
        if group.is_empty() {
            return;
        }
        self.writing = group.len();
        let shared = self.shared.clone();
        self.workers.spawn(Lane::Writer, Box::new(move || Event::Committed(run_commit(&shared, group))));
    }

    fn on_committed(&mut self, outcome: CommitOutcome) -> anyhow::Result<()> {
        let elapsed =
            outcome.result.with_context(|| format!("committing through block {}", outcome.through.height))?;
        if let Some((_, certificate)) = self.commit_queue.drain(..self.writing).next_back() {
            self.durable_certificate = Some(certificate);
        }
        self.writing = 0;
        let height = outcome.through.height;
        self.durable = outcome.through;
        self.queued_ids.retain(|queued, _| *queued > height);
        self.executed.retain(|_, executed| executed.height > height);
        self.ancestors.retain(|_, ancestor| ancestor.header.height > height);
        let metrics = &self.shared.metrics;
        metrics.height.set(height.0 as i64);
        metrics.block_fsync_seconds.observe(elapsed.as_secs_f64());
        let latency_ms = self.clock.unix_ms().saturating_sub(outcome.through.time_ms);
        metrics.commit_latency_seconds.observe(latency_ms as f64 / 1000.0);
        self.committed.send_replace(height);
        self.follow_epochs()?;
        self.publish_status();
        tracing::info!(
            height = height.0,
            view = outcome.through.view.0,
            blocks = outcome.blocks,
            txs = outcome.txs,
            "committed"
        );
        self.run_prunes()?;
        self.sync_progress();
        // A deferred task may have waited for these blocks.
        self.retry_deferred();
        Ok(())
    }

    /// R8: once the durable tip ends the core's epoch (or sync carried it into a later one),
    /// the next epoch's core takes over on it, with that epoch's validators and parameters;
    /// the WAL's entries of the finished epoch are dropped, and the network follows the set.
    fn follow_epochs(&mut self) -> anyhow::Result<()> {
        let current = self.core.config().epoch;
        let snapshot = self.shared.store.snapshot()?;
        let next = self.durable.height.next();
        let Some(epoch) = EpochRules::at(&snapshot, next)? else { return Ok(()) };
        if epoch.number == current {
            return Ok(());
        }
        if epoch.number < current {
            bail!("height {next} belongs to epoch {}, before this node's epoch {current}", epoch.number);
        }
        let peers = epoch_peers(&snapshot, &epoch)?;
        drop(snapshot);
        let Some(core) = (self.epoch_cores)(&epoch, self.durable)? else {
            bail!(
                "this validator's consensus key is not in epoch {}'s validator set (from height {}): \
                 governance removed or rotated it, so it no longer validates",
                epoch.number,
                epoch.start_height
            );
        };
        tracing::info!(
            epoch = epoch.number,
            from_height = epoch.start_height.0,
            validators = epoch.validators.len(),
            index = core.config().me.0,
            "epoch started: consensus follows the new validator set"
        );
        // Everything in the WAL was signed in the finished epoch: no vote of it can count now.
        if let Some((last, _)) = self.wal.entries()?.last() {
            self.wal.prune(last + 1)?;
        }
        self.prunes.clear();
        self.timers.clear();
        self.pending_build = None;
        self.me = core.config().me;
        self.validators = epoch.validators.len();
        self.shared.rules = ChainRules { me: self.me, ..self.shared.rules.clone() }.in_epoch(&epoch);
        self.empty_block_delay_ms = EMPTY_BLOCK_INTERVAL_MS.min(epoch.params.timeout_propose_ms / 2);
        self.net.set_validators(peers);
        // The last signature carries over: the new epoch's views are all after it, and a
        // node still following its key's record keeps following.
        self.core = core.with_sign_state(self.core.sign_state());
        // A catch-up ran to the end of the finished epoch; the new core asks for its own sync.
        if self.sync.as_ref().is_some_and(sync::SyncRun::is_catch_up) {
            self.sync = None;
        }
        let effects = self.core.start();
        self.perform(effects)?;
        let epoch = self.core.config().epoch;
        for (from, message) in std::mem::take(&mut self.next_epoch_messages) {
            if message.view().epoch() == epoch {
                self.inputs.push_back(Input::Message { from, message });
            }
        }
        Ok(())
    }

    fn run_prunes(&mut self) -> anyhow::Result<()> {
        while let Some(&(height, below)) = self.prunes.front() {
            if height > self.durable.height {
                break;
            }
            self.prunes.pop_front();
            let entries = self.wal.entries()?;
            let mut keep_from = entries.last().map(|(sequence, _)| sequence + 1).unwrap_or(0);
            for (sequence, bytes) in &entries {
                let view = decode::<WalEntry>(bytes).map(|entry| entry.view()).unwrap_or(View(u64::MAX));
                if view >= below {
                    keep_from = *sequence;
                    break;
                }
            }
            self.wal.prune(keep_from)?;
        }
        Ok(())
    }

    /// Starts ingress jobs: submissions and gossip have their own slots, so neither starves
    /// the other (gossip is how transactions sent to other nodes reach this leader).
    fn pump_ingress(&mut self) {
        while self.gossip_jobs < GOSSIP_JOBS_MAX {
            let Some((gossip, bytes)) = self.gossip_queue.pop_front() else { break };
            self.gossip_jobs += 1;
            let shared = self.shared.clone();
            self.workers.spawn(
                Lane::Ingress,
                Box::new(move || {
                    let (verdict, admitted) = ingress::admit_gossip(&shared.store, &shared.mempool, &bytes);
                    Event::Admitted { gossip: Some((gossip, verdict)), admitted }
                }),
            );
        }
        while self.ingress_jobs < INGRESS_JOBS_MAX {
            let Some(submission) = self.submissions.pop_front() else { return };
            // Admitted even when the client stopped waiting: a timeout told it "unknown", and
            // the transaction may still commit, as it would have without the timeout.
            self.submitted_txs -= submission.txs.len();
            self.ingress_jobs += 1;
            let shared = self.shared.clone();
            self.workers.spawn(
                Lane::Ingress,
                Box::new(move || {
                    let results = ingress::admit(&shared.store, &shared.mempool, submission.txs, true);
                    let admitted = results.iter().filter(|result| result.is_ok()).count();
                    shared.metrics.submitted_txs.inc_by(admitted as u64);
                    shared.metrics.refused_txs.inc_by((results.len() - admitted) as u64);
                    let _ = submission.reply.send(results);
                    Event::Admitted { gossip: None, admitted }
                }),
            );
        }
    }

    fn next_peer(&mut self) -> ValidatorIndex {
        loop {
            self.peer_cursor = (self.peer_cursor + 1) % self.validators;
            if self.peer_cursor != usize::from(self.me.0) || self.validators == 1 {
                return ValidatorIndex(self.peer_cursor as u16);
            }
        }
    }

    fn request(&mut self, pending: Pending, bytes: Vec<u8>) {
        let tag = self.next_tag;
        self.next_tag += 1;
        let to = self.next_peer();
        if let Pending::Fetch { block_id, .. } = &pending {
            self.fetching.insert(*block_id, tag);
        }
        self.requests.insert(tag, pending);
        self.net.request(to, bytes, tag);
    }

    fn fetch(&mut self, block_id: BlockId) {
        if self.fetching.contains_key(&block_id) || self.fetching.len() >= FETCHES_MAX || self.validators < 2
        {
            return;
        }
        self.request(Pending::Fetch { block_id, tried: 1 }, encode(&BlockRequest::ById(block_id)));
    }

    fn on_response(&mut self, tag: RequestTag, bytes: Option<Vec<u8>>) {
        let Some(pending) = self.requests.remove(&tag) else { return };
        match pending {
            Pending::Fetch { block_id, tried } => {
                self.fetching.remove(&block_id);
                match bytes.filter(|bytes| !bytes.is_empty()).map(|bytes| decode::<Block>(&bytes)) {
                    // The id covers the header only: the body must match its tx root.
                    Some(Ok(block)) if block.id() == block_id && block_body_matches(&block) => {
                        if block.header.height > self.durable.height && self.ancestors.len() < ANCESTORS_MAX {
                            self.ancestors.insert(block_id, block.clone());
                        }
                        self.inputs.push_back(Input::BlockFetched { block });
                        self.retry_deferred();
                    }
                    _ if tried + 1 < self.validators => {
                        self.request(
                            Pending::Fetch { block_id, tried: tried + 1 },
                            encode(&BlockRequest::ById(block_id)),
                        );
                    }
                    // Every peer was asked; the core asks again on its FetchRetry timer.
                    _ => tracing::debug!(block = %block_id.0, "no peer served a fetched block"),
                }
            }
            Pending::Sync { run, from, count, tried } => {
                self.on_sync_response(run, from, count, tried, bytes)
            }
        }
    }

    fn on_request(&mut self, bytes: Vec<u8>, reply: N::Reply) {
        let request = match decode::<BlockRequest>(&bytes) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, "undecodable request");
                self.net.respond(reply, Vec::new());
                return;
            }
        };
        if let BlockRequest::ById(id) = &request
            && let Some(block) = self.core.block(id)
        {
            let answer = encode(block);
            self.net.respond(reply, answer);
            return;
        }
        if self.serve_jobs >= SERVE_JOBS_MAX {
            // Busy: an empty answer sends the peer to another validator at once.
            self.net.respond(reply, Vec::new());
            return;
        }
        self.serve_jobs += 1;
        let store = Arc::clone(&self.shared.store);
        self.workers.spawn(
            Lane::Serve,
            Box::new(move || {
                let bytes = serve(&store, request).unwrap_or_else(|error| {
                    tracing::warn!(%error, "cannot serve a peer's request");
                    Vec::new()
                });
                Event::Served { reply, bytes }
            }),
        );
    }

    /// Gossips what was admitted since the last tick, in batches of at most
    /// `TX_GOSSIP_BATCH_MAX`, up to [`GOSSIP_BATCHES_PER_TICK_MAX`] batches (the rest goes at
    /// the next tick).
    fn gossip_fresh(&mut self) {
        for _ in 0..GOSSIP_BATCHES_PER_TICK_MAX {
            let fresh = match self.shared.mempool.lock() {
                Ok(mut pool) => pool.take_fresh(tally_types::limits::TX_GOSSIP_BATCH_MAX),
                Err(_) => return,
            };
            if fresh.is_empty() {
                return;
            }
            let batch = TxBatch(fresh.iter().map(|tx| (**tx).clone()).collect());
            self.net.publish_txs(encode(&batch));
        }
    }

    fn publish_status(&self) {
        let mempool_txs = self.shared.mempool.lock().map(|pool| pool.len()).unwrap_or(0);
        let status = NodeStatus {
            height: self.durable.height,
            view: self.core.view(),
            peers: self.connected,
            mempool_txs,
            syncing: self.sync.is_some(),
        };
        let metrics = &self.shared.metrics;
        metrics.view.set(status.view.0 as i64);
        metrics.peers.set(status.peers as i64);
        metrics.mempool_txs.set(status.mempool_txs as i64);
        self.status.send_replace(status);
    }
}

/// How to reach each validator of `epoch`, in index order, from the validator entries of the
/// state (a validator's entry lives while any current or scheduled epoch names it).
fn epoch_peers(
    state: &impl tally_ledger::StateRead,
    epoch: &EpochRules,
) -> anyhow::Result<Vec<io::ValidatorPeer>> {
    epoch
        .validators
        .keys()
        .iter()
        .map(|key| match state.get(&StateKey::Validator { consensus_key: *key })? {
            Some(StateValue::Validator(validator)) => Ok(io::ValidatorPeer {
                network_key: validator.network_key,
                p2p_listen: validator.p2p_listen.as_str().to_owned(),
            }),
            _ => bail!("epoch {} names validator {key}, which has no validator entry", epoch.number),
        })
        .collect()
}

/// Whether a block's transactions are the ones its header's tx root names.
fn block_body_matches(block: &Block) -> bool {
    let ids: Vec<tally_types::TxId> = block.txs.iter().map(SignedTransaction::id).collect();
    tally_types::block::tx_root(&ids) == block.header.tx_root
}

/// Answers a peer's block request from the store (a serve job).
/// Stops the node once any read of its store (a peer's range, an API answer, an export) met a
/// corrupt record: the record was refused, and a store that lost one may have lost others.
/// The error names the record; `tally-node check --data DIR` lists every bad one.
pub(crate) fn stop_if_corrupt(store: &Store) -> anyhow::Result<()> {
    match store.corruption() {
        Some(found) => {
            bail!("{found}; the node stops (run `tally-node check --data DIR` to list every bad record)")
        }
        None => Ok(()),
    }
}

pub(crate) fn serve(store: &Store, request: BlockRequest) -> anyhow::Result<Vec<u8>> {
    match request {
        BlockRequest::ById(id) => {
            let Some(height) = store.height_of_block(&id)? else { return Ok(Vec::new()) };
            Ok(store.block(height)?.map(|block| encode(&block)).unwrap_or_default())
        }
        BlockRequest::Range { from, count } => {
            let count = (count as usize).min(tally_types::limits::SYNC_RANGE_BLOCKS_MAX);
            let blocks = store.committed_range(from, count, tally_types::limits::SYNC_RESPONSE_BYTES_MAX)?;
            let blocks = blocks.into_iter().map(|(block, certificate)| CommittedBlock { block, certificate });
            Ok(encode(&BlockResponse::range_within_limits(blocks)))
        }
        BlockRequest::ByHeight(height) => match (store.block(height)?, store.certificate(height)?) {
            (Some(block), Some(certificate)) => Ok(encode(&CommittedBlock { block, certificate })),
            _ => Ok(Vec::new()),
        },
    }
}

/// An executor job: executes the missing ancestors, then the task.
// Not split: the ancestors, then one arm per task kind, each on the layers and list they left.
fn run_exec<N: Network>(
    shared: &Shared,
    ancestors: Vec<Block>,
    mut layers: Vec<Arc<Executed>>,
    task: ExecTask,
    time_ms: u64,
) -> Event<N> {
    let store = &shared.store;
    let mut executed = Vec::new();
    let mut ancestor_error = None;
    for block in ancestors {
        let checked = executor::check_signatures(&shared.mempool, &block)
            .and_then(|()| executor::execute_checked(store, &layers, &block));
        match checked {
            Ok(result) => {
                let result = Arc::new(result);
                executed.push((block.id(), Arc::clone(&result)));
                layers.push(result);
            }
            Err(error) => {
                ancestor_error = Some(error);
                break;
            }
        }
    }
    let result = match task {
        ExecTask::Verify { view, block, parent } => {
            let block_id = block.id();
            let outcome = match ancestor_error {
                Some(error) => Err(error.context("an ancestor does not execute to its header")),
                // R8: a re-proposal is valid only for a block that ends its epoch; it was
                // executed as its own "parent" above, so `layers` end with its state.
                None if block.header.view != view => check_reproposal(store, &layers, &block).map(|()| None),
                None => executor::verify(store, &shared.mempool, &shared.rules, &layers, &block, &parent)
                    .map(Some),
            };
            let valid = match outcome {
                Ok(result) => {
                    if let Some(result) = result {
                        executed.push((block_id, Arc::new(result)));
                    }
                    true
                }
                Err(error) => {
                    tracing::warn!(view = view.0, block = %block_id.0, error = %format!("{error:#}"), "block refused");
                    false
                }
            };
            ExecResult::Verified { view, block_id, valid }
        }
        ExecTask::Build { view, parent } => {
            // Only a parent of this core's epoch is re-proposed; a new epoch's core builds
            // on the last block of the one before.
            let ends_epoch = match &ancestor_error {
                Some(_) => Ok(false),
                None if parent.view.epoch() != view.epoch() => Ok(false),
                None => store.snapshot().map_err(anyhow::Error::from).and_then(|snapshot| {
                    executor::EpochRules::ends_epoch(
                        &executor::Overlay::new(&snapshot, &layers),
                        parent.height,
                    )
                }),
            };
            let built = match ancestor_error {
                Some(error) => Err(error),
                // R8: no block of the next epoch extends this one's last block here; the
                // driver re-proposes the parent instead.
                None if matches!(ends_epoch, Ok(true)) => {
                    return Event::Executed(ExecOutcome {
                        executed,
                        result: ExecResult::EpochEnd { view, parent },
                    });
                }
                None if ends_epoch.is_err() => Err(ends_epoch.expect_err("checked")),
                None => executor::build(
                    store,
                    &shared.mempool,
                    &shared.rules,
                    &shared.pace,
                    &layers,
                    view,
                    &parent,
                    time_ms.max(parent.time_ms + 1),
                ),
            };
            match built {
                Ok((block, result)) => {
                    executed.push((block.id(), Arc::new(result)));
                    ExecResult::Built { view, block: Some(Box::new(block)) }
                }
                Err(error) => {
                    tracing::warn!(view = view.0, error = %format!("{error:#}"), "cannot build a block");
                    ExecResult::Built { view, block: None }
                }
            }
        }
        ExecTask::ForCommit { block } => match ancestor_error {
            Some(error) => ExecResult::ForCommit(Err(error)),
            // A finalized block this node never verified (sync, fetch): its signatures are
            // checked too, so a peer cannot hand over a certified body with forged signatures
            // (a tx id covers the body without the signature).
            None => match executor::check_signatures(&shared.mempool, &block)
                .and_then(|()| executor::execute_checked(store, &layers, &block))
            {
                Ok(result) => {
                    executed.push((block.id(), Arc::new(result)));
                    ExecResult::ForCommit(Ok(()))
                }
                Err(error) => ExecResult::ForCommit(Err(error)),
            },
        },
    };
    Event::Executed(ExecOutcome { executed, result })
}

/// R8: a re-proposed block must end its epoch by the state after it (the last of `layers`, or
/// the store's when the block is already durable).
fn check_reproposal(store: &Store, layers: &[Arc<Executed>], block: &Block) -> anyhow::Result<()> {
    let snapshot = store.snapshot()?;
    if executor::EpochRules::ends_epoch(&executor::Overlay::new(&snapshot, layers), block.header.height)? {
        Ok(())
    } else {
        bail!(
            "re-proposal of block {} at height {}, which does not end its epoch",
            block.id().0,
            block.header.height
        )
    }
}

/// A writer job: commits a group of consecutive executed blocks in one durable transaction,
/// then updates what follows from them (mempool, asset listing, invariants).
fn run_commit(shared: &Shared, group: Vec<(Block, Certificate, Arc<Executed>)>) -> CommitOutcome {
    let through = BlockRef::of(&group.last().expect("a writer group is never empty").0);
    let blocks = group.len();
    let txs = group.iter().map(|(block, _, _)| block.txs.len()).sum();
    let result = commit_group(shared, &group);
    CommitOutcome { through, blocks, txs, result }
}

/// Writes executed blocks, with their certificates, receipts and state and tree writes, in one
/// store transaction (the engine's writer and `tally-node import`).
pub(crate) fn store_group(
    store: &tally_store::Store,
    group: &[(Block, Certificate, Arc<Executed>)],
) -> Result<tally_store::CommitTiming, tally_store::StoreError> {
    let writes: Vec<_> = group
        .iter()
        .map(|(_, _, executed)| (state_writes(&executed.writes), tree_writes(&executed.batch)))
        .collect();
    let commits: Vec<BlockCommit<'_>> = group
        .iter()
        .zip(&writes)
        .map(|((block, certificate, executed), (state, tree))| BlockCommit {
            block,
            certificate,
            receipts: &executed.receipts,
            state_writes: state,
            tree_writes: tree,
        })
        .collect();
    store.commit_blocks(&commits)
}

pub(crate) fn commit_group(
    shared: &Shared,
    group: &[(Block, Certificate, Arc<Executed>)],
) -> anyhow::Result<Duration> {
    let timing = store_group(&shared.store, group)?;
    let height = group.last().map(|(block, _, _)| block.header.height).unwrap_or_default();
    // Accounts whose seq moved, with their new seq; assets the group created.
    let mut touched: HashMap<PublicKey, u64> = HashMap::new();
    for (_, _, executed) in group {
        for (key, value) in executed.writes.iter() {
            match (key, value) {
                (StateKey::Account { account }, Some(StateValue::Account(state))) => {
                    touched.insert(*account, state.seq);
                }
                (StateKey::Asset { asset }, Some(_)) => shared.assets.insert(asset.clone()),
                _ => {}
            }
        }
    }
    if let Ok(mut pool) = shared.mempool.lock() {
        pool.remove(group.iter().flat_map(|(block, _, _)| block.txs.iter().map(SignedTransaction::id)));
        pool.prune(touched, height);
    }
    if shared.check_invariants {
        executor::check_state_invariants(&shared.store)?;
    }
    Ok(timing.commit)
}

impl<S: Scheme + Clone + Send + 'static, N: Network + 'static, C: Clock, W: Workers<N>> Engine<S, N, C, W> {
    /// Whether this node has nothing in flight (tests, simulator).
    pub fn is_idle(&self) -> bool {
        !self.exec_busy
            && self.writing == 0
            && self.exec_queue.is_empty()
            && self.ingress_jobs == 0
            && self.gossip_jobs == 0
    }

    /// The last block handed to the commit pipeline (durable or not yet).
    pub fn queued(&self) -> BlockRef {
        self.queued
    }

    /// The consensus WAL (read-only use: the simulator's persist-before-send check).
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// The equivocation evidence reported since the last call, oldest first.
    pub fn take_evidence(&mut self) -> Vec<Evidence> {
        self.evidence.drain(..).collect()
    }
}
