//! The engine (DESIGN.md §5–6): one tokio task that owns the consensus core, the mempool and
//! the store handle, performs the core's effects (WAL, messages, timers, block building,
//! verification, execution and commits) and feeds the results back.
//!
//! Invariants:
//! - Effects are performed in the order the core emits them; consecutive `Persist`s are made
//!   durable with one WAL append (one fsync) before `Persisted` is fed back, so nothing this
//!   node signed leaves it before it is on disk.
//! - Blocks are executed on the committed state plus the write sets of their uncommitted
//!   ancestors ([`Overlay`]); an execution result is cached by block id and reused for the
//!   commit, so a block is executed at most once per process on the happy path.
//! - Everything that grows with remote input is bounded: cached executions
//!   ([`EXECUTED_MAX`]), gossip batches ([`TX_GOSSIP_BATCH_MAX`]), block requests (one id).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use borsh::{BorshDeserialize, BorshSerialize};
use tally_consensus::{
    BlockRef, Config, Core, Ed25519Scheme, Effect, Input, Message, Recipient, Timer, TimerKind, WalEntry,
};
use tally_genesis::Genesis;
use tally_ledger::state::{KeyRange, next_entry_layered};
use tally_ledger::tree::{Node, NodeKey, TreeBatch, TreeError, TreeStore, apply_updates};
use tally_ledger::{
    BlockContext, BlockExecutor, StateError, StateKey, StateRead, StateValue, TxError, WriteSet,
    execute_block,
};
use tally_net::{NetEvent, NetHandle, NetworkConfig, Peer, PeerId, Topic, Verdict};
use tally_store::{BlockCommit, ChainIdentity, Snapshot, Store, state_writes, tree_writes};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::{Bounded, BoundedVec};
use tally_types::{
    Block, BlockId, Certificate, ChainId, Header, Height, PublicKey, Receipt, SignedTransaction, TxId,
    ValidatorIndex, ValidatorSet, View, decode, encode, limits,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, Submission, router};
use crate::config::NodeConfig;
use crate::mempool::{AdmitContext, Mempool};

/// Executed but uncommitted blocks kept at once; beyond it the lowest heights are dropped (they
/// are re-executed from `Core::block` if still needed).
pub const EXECUTED_MAX: usize = 256;
/// Transactions in one gossip message.
pub const TX_GOSSIP_BATCH_MAX: usize = 256;
/// How far ahead of the local clock a block's time may be (DESIGN.md §5).
pub const BLOCK_TIME_AHEAD_MAX_MS: u64 = 2_000;
/// Pending HTTP submissions; beyond it the API answers 503 at once.
pub const SUBMISSIONS_MAX: usize = 1_024;
/// With an empty mempool, a leader waits this long after its parent's time before proposing
/// an empty block (a transaction arriving meanwhile triggers the proposal at once), so an idle
/// chain makes a few blocks a second instead of one per network round trip. Kept below half
/// the propose timeout (see [`Engine::empty_block_delay_ms`]).
pub const EMPTY_BLOCK_INTERVAL_MS: u64 = 500;
/// Consensus messages queued for the network; beyond it messages are dropped (consensus
/// tolerates loss, and a queue this deep means the network task is far behind anyway).
pub const OUTBOUND_MAX: usize = 8_192;
/// Block effects waiting for a missing ancestor to be fetched; beyond it the oldest is given up
/// (a verification is answered invalid, a build is dropped and its view times out).
pub const DEFERRED_MAX: usize = 16;
/// How often fresh mempool transactions are gossiped and the status is refreshed.
const TICK_MS: u64 = 100;

/// A batch of transactions gossiped on `Topic::Transactions`.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct TxBatch(pub Vec<SignedTransaction>);

impl Bounded for TxBatch {
    const MAX_ENCODED_SIZE: usize = 4 + TX_GOSSIP_BATCH_MAX * limits::TX_BYTES_MAX;
}

/// A request-response request between validators.
#[derive(BorshSerialize, BorshDeserialize)]
pub enum BlockRequest {
    /// The block with this id; the answer is the encoded block, or empty when unknown.
    ById(BlockId),
    /// The committed block at this height with its stored finalization certificate (its own
    /// or a descendant's): the answer is an encoded [`CommittedBlock`], or empty.
    ByHeight(Height),
}

impl Bounded for BlockRequest {
    const MAX_ENCODED_SIZE: usize = 1 + 32;
}

/// A committed block and the certificate it was committed with, served for sync.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct CommittedBlock {
    pub block: Block,
    pub certificate: Certificate,
}

impl Bounded for CommittedBlock {
    const MAX_ENCODED_SIZE: usize = Block::MAX_ENCODED_SIZE + Certificate::MAX_ENCODED_SIZE;
}

/// Blocks one sync run may hold before a certificate covers them: a stored certificate names
/// the block itself or a descendant finalized with it, so honest runs are short.
pub const SYNC_RUN_MAX: usize = 256;

/// What the sync task reports to the engine.
pub enum SyncReport {
    /// Consecutive blocks, the last one certified by a verified finalization (so every earlier
    /// one is certified through the parent links).
    Run(Vec<CommittedBlock>),
    /// The sync task ended (reached the target or gave up).
    Done,
}

/// One block's execution result, relative to its parent's state.
struct Executed {
    parent_id: BlockId,
    height: Height,
    receipts: Vec<Receipt>,
    writes: WriteSet,
    batch: TreeBatch,
    /// The batch's node writes by encoded position (`None`: deleted), for overlay reads.
    nodes: HashMap<Vec<u8>, Option<Node>>,
}

impl Executed {
    fn new(
        parent_id: BlockId,
        height: Height,
        receipts: Vec<Receipt>,
        writes: WriteSet,
        batch: TreeBatch,
    ) -> Self {
        let mut nodes = HashMap::new();
        for (key, node) in &batch.puts {
            nodes.insert(key.to_bytes().as_slice().to_vec(), Some(*node));
        }
        for key in &batch.deletes {
            nodes.insert(key.to_bytes().as_slice().to_vec(), None);
        }
        Executed { parent_id, height, receipts, writes, batch, nodes }
    }
}

/// The committed state seen through the writes of uncommitted ancestors (oldest first).
struct Overlay<'a> {
    base: &'a Snapshot<'a>,
    layers: Vec<&'a Executed>,
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.writes.get(key) {
                return Ok(value.clone());
            }
        }
        self.base.get(key)
    }

    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let layers: Vec<_> = self.layers.iter().map(|layer| layer.writes.as_map()).collect();
        next_entry_layered(self.base, &layers, &[], range, after)
    }
}

impl TreeStore for Overlay<'_> {
    fn get_node(&self, key: &NodeKey) -> Result<Option<Node>, TreeError> {
        let bytes = key.to_bytes();
        for layer in self.layers.iter().rev() {
            if let Some(node) = layer.nodes.get(bytes.as_slice()) {
                return Ok(*node);
            }
        }
        self.base.get_node(key)
    }
}

fn account_seq(state: &impl StateRead, account: &PublicKey) -> u64 {
    match state.get(&StateKey::Account { account: *account }) {
        Ok(Some(StateValue::Account(account))) => account.seq,
        // A read error here only makes the mempool pick or admit less; execution re-reads.
        _ => 0,
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as u64).unwrap_or(0)
}

/// Assets a node lists at most (`GET /v1/assets`); they are created only by members' issuers.
const ASSETS_LISTED_MAX: usize = 1_000_000;

/// Everything the engine needs, resolved at startup.
pub struct Engine {
    core: Core<Ed25519Scheme>,
    mempool: Mempool,
    store: Arc<Store>,
    net: NetHandle,
    chain_id: ChainId,
    validators: ValidatorSet,
    me: ValidatorIndex,
    block_txs_max: usize,
    block_bytes_max: usize,
    /// Peer id of each validator, by index.
    peers: Vec<PeerId>,
    peer_index: HashMap<PeerId, ValidatorIndex>,
    connected: usize,
    /// The last committed block.
    tip: BlockRef,
    executed: HashMap<BlockId, Executed>,
    /// Uncommitted ancestors fetched from peers that the core does not hold (each is named by
    /// its hash from a child's parent link, so its content is authenticated by the id).
    ancestors: HashMap<BlockId, Block>,
    /// `BuildBlock` / `VerifyBlock` effects waiting for a fetched ancestor, oldest first.
    deferred: VecDeque<Effect>,
    timers: HashMap<TimerKind, (Instant, Timer)>,
    /// A `BuildBlock` held back while the mempool is empty: (view, parent, when to build).
    pending_build: Option<(View, BlockRef, Instant)>,
    empty_block_delay_ms: u64,
    inputs: VecDeque<Input>,
    fetched_sender: mpsc::Sender<Block>,
    sync_sender: mpsc::Sender<SyncReport>,
    /// A sync task is running; `true` once it committed a block (so `Synced` is due).
    /// The highest view counted in the `nullified_views` metric.
    nullified_counted: View,
    syncing: Option<bool>,
    /// Consensus messages to send, in emission order (one task sends them, keeping the order
    /// the core relies on: justification before proposal before vote).
    outbound: mpsc::Sender<(PeerId, Vec<u8>)>,
    status: watch::Sender<NodeStatus>,
    committed: watch::Sender<Height>,
    metrics: Arc<Metrics>,
    assets: AssetCatalog,
}

/// The running parts the main loop selects over.
pub struct Channels {
    events: mpsc::Receiver<NetEvent>,
    submissions: mpsc::Receiver<Submission>,
    fetched: mpsc::Receiver<Block>,
    sync: mpsc::Receiver<SyncReport>,
}

/// Starts a validator from its configuration: genesis, keys, store (genesis state written
/// once), consensus core restored from the WAL, network and HTTP server. Returns the engine
/// and its channels; run them with [`Engine::run`].
pub async fn start(config: &NodeConfig) -> anyhow::Result<(Engine, Channels)> {
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("loading genesis {}", config.genesis.display()))?;
    let consensus_key = tally_genesis::keys::read_key_file(&config.consensus_key)
        .with_context(|| format!("reading consensus key {}", config.consensus_key.display()))?;
    let network_key = tally_genesis::keys::read_key_file(&config.network_key)
        .with_context(|| format!("reading network key {}", config.network_key.display()))?;
    let validators = genesis.validator_set();
    let chain_id = genesis.chain_id().clone();
    let me = validators.index_of(&consensus_key.public_key()).ok_or_else(|| {
        anyhow!("consensus key {} is not a validator of this genesis", config.consensus_key.display())
    })?;
    let entry = &genesis.validators()[usize::from(me.0)];
    if entry.network_key != network_key.public_key() {
        bail!(
            "network key {} does not match validator {}'s network_key in genesis",
            config.network_key.display(),
            entry.name
        );
    }

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let identity = ChainIdentity { chain_id: chain_id.clone(), genesis_hash: genesis.hash() };
    let store = Arc::new(Store::open(&config.data_dir.join("node.redb"), &identity)?);
    if !store.has_genesis_state()? {
        let writes = tally_ledger::genesis_writes(&genesis.ledger()).context("genesis ledger")?;
        let batch = {
            let snapshot = store.snapshot()?;
            apply_updates(&snapshot, &writes.tree_updates()).context("genesis state tree")?
        };
        if batch.root != genesis.initial_state_root() {
            bail!("genesis state root on disk differs from the in-memory one: a ledger bug");
        }
        store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch))?;
        tracing::info!(root = %batch.root, "wrote the genesis state");
    }
    let height = store.height()?;
    let tip = if height == Height(0) {
        BlockRef {
            id: genesis.parent_of_first_block(),
            height: Height(0),
            view: View(0),
            time_ms: genesis.genesis_time_ms(),
        }
    } else {
        let block = store.block(height)?.ok_or_else(|| anyhow!("store lacks its tip block {height}"))?;
        BlockRef::of(&block)
    };

    let params = *genesis.params();
    let mut consensus_config = Config::new(chain_id.clone(), validators.clone(), me, tip);
    consensus_config.leader_timeout_ms = params.timeout_propose_ms;
    consensus_config.advance_timeout_ms = params.timeout_notarize_ms;
    consensus_config.timeout_max_ms = params.timeout_max_ms;
    let scheme = Ed25519Scheme::new(chain_id.clone(), validators.clone(), consensus_key)?;
    let mut wal = Vec::new();
    for (sequence, bytes) in store.wal_entries()? {
        let entry = decode::<WalEntry>(&bytes).with_context(|| {
            format!(
                "WAL entry {sequence} is corrupt; the node refuses to start rather than risk a double vote"
            )
        })?;
        wal.push(entry);
    }
    let wal_len = wal.len();
    let core = Core::restore(consensus_config, scheme, wal).context("restoring consensus from the WAL")?;
    tracing::info!(height = %height, wal_entries = wal_len, validator = me.0, "consensus restored");

    let keypair = tally_net::keypair_from_seed(*network_key.seed())?;
    let mut net_peers = Vec::new();
    let mut peers = Vec::new();
    let mut peer_index = HashMap::new();
    for (index, validator) in genesis.validators().iter().enumerate() {
        let peer_id = tally_net::peer_id_from_public_key(&validator.network_key.0)?;
        let addr =
            validator.p2p_listen.parse().with_context(|| format!("p2p_listen of {}", validator.name))?;
        net_peers.push(Peer { peer_id, addr });
        peers.push(peer_id);
        peer_index.insert(peer_id, ValidatorIndex(index as u16));
    }
    let listen = match &config.p2p_listen {
        Some(addr) => addr.clone(),
        None => entry.p2p_listen.parse().context("own p2p_listen in genesis")?,
    };
    let mut net_config = NetworkConfig::new(chain_id.as_str().to_owned(), keypair, listen, net_peers);
    net_config.observers = config.observers.clone();
    net_config.redial_interval_ms = config.redial_interval_ms;
    net_config.idle_timeout_ms = config.idle_timeout_ms;
    net_config.request_timeout_ms = config.request_timeout_ms;
    let (net, events, event_loop) = tally_net::build(net_config)?;
    tokio::spawn(event_loop.run());

    let metrics = Arc::new(Metrics::new());
    // Every asset in the committed state (genesis assets and those issued since), so that a
    // restarted node lists what earlier blocks created; later blocks add theirs as they commit.
    let stored_assets = tally_store::asset_ids(&store.snapshot()?, ASSETS_LISTED_MAX)
        .context("listing the assets in the store")?;
    let assets = AssetCatalog::new(stored_assets);
    let (status, status_receiver) = watch::channel(NodeStatus { height, ..NodeStatus::default() });
    let (committed, committed_receiver) = watch::channel(height);
    let (submission_sender, submissions) = mpsc::channel(SUBMISSIONS_MAX);
    let api_state = ApiState {
        store: Arc::clone(&store),
        chain_id: chain_id.clone(),
        validators: Arc::new(validators.clone()),
        submissions: submission_sender,
        status: status_receiver,
        committed: committed_receiver,
        metrics: Arc::clone(&metrics),
        assets: assets.clone(),
        limits: ApiLimits {
            body_bytes_max: config.http_body_bytes_max,
            wait_timeout_ms: config.http_wait_timeout_ms,
        },
    };
    let http_addr: SocketAddr = config.http_listen.unwrap_or(entry.http_listen);
    let listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("binding the HTTP API on {http_addr}"))?;
    tracing::info!(%http_addr, "HTTP API listening");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(api_state)).await {
            tracing::error!(%error, "HTTP server stopped");
        }
    });

    let mempool = Mempool::new(config.mempool.clone(), chain_id.clone()).map_err(|error| anyhow!(error))?;
    let (fetched_sender, fetched) = mpsc::channel(64);
    // Small: each run may hold up to SYNC_RUN_MAX blocks.
    let (sync_sender, sync) = mpsc::channel(2);
    let (outbound, mut outbound_receiver) = mpsc::channel::<(PeerId, Vec<u8>)>(OUTBOUND_MAX);
    let sender_net = net.clone();
    tokio::spawn(async move {
        while let Some((peer, data)) = outbound_receiver.recv().await {
            if let Err(error) = sender_net.send_direct(peer, data).await {
                tracing::debug!(%peer, %error, "consensus send failed");
            }
        }
    });
    let engine = Engine {
        core,
        mempool,
        store,
        net,
        chain_id,
        validators,
        me,
        block_txs_max: (params.block_txs_max as usize).min(limits::BLOCK_TXS_MAX),
        // Room for the header and the length prefix of the transaction list.
        block_bytes_max: (params.block_bytes_max as usize)
            .min(limits::BLOCK_BYTES_MAX)
            .saturating_sub(limits::HEADER_BYTES_MAX + 4),
        peers,
        peer_index,
        connected: 0,
        tip,
        executed: HashMap::new(),
        ancestors: HashMap::new(),
        deferred: VecDeque::new(),
        timers: HashMap::new(),
        pending_build: None,
        empty_block_delay_ms: EMPTY_BLOCK_INTERVAL_MS.min(params.timeout_propose_ms / 2),
        inputs: VecDeque::new(),
        fetched_sender,
        sync_sender,
        nullified_counted: View(0),
        syncing: None,
        outbound,
        status,
        committed,
        metrics,
        assets,
    };
    Ok((engine, Channels { events, submissions, fetched, sync }))
}

/// The data directory's store path, for operators' messages.
pub fn store_path(config: &NodeConfig) -> PathBuf {
    config.data_dir.join("node.redb")
}

impl Engine {
    /// Runs the main loop until the network stops or storage fails.
    pub async fn run(mut self, mut channels: Channels) -> anyhow::Result<()> {
        let effects = self.core.start();
        self.perform(effects)?;
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        loop {
            let deadline = self
                .timers
                .values()
                .map(|(deadline, _)| *deadline)
                .chain(self.pending_build.map(|(_, _, at)| at))
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                event = channels.events.recv() => {
                    let Some(event) = event else { bail!("the network event loop stopped") };
                    self.on_network(event).await?;
                }
                Some(submission) = channels.submissions.recv() => {
                    self.on_submission(submission);
                }
                Some(block) = channels.fetched.recv() => {
                    if block.header.height > self.tip.height && self.ancestors.len() < EXECUTED_MAX {
                        self.ancestors.insert(block.id(), block.clone());
                    }
                    self.inputs.push_back(Input::BlockFetched { block });
                    let retry: Vec<Effect> = self.deferred.drain(..).collect();
                    for effect in retry {
                        self.perform_one(effect)?;
                    }
                }
                Some(report) = channels.sync.recv() => self.on_sync(report)?,
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
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
                }
                _ = tick.tick() => {
                    self.gossip_fresh().await;
                    self.publish_status();
                }
            }
            if self.pending_build.is_some() && !self.mempool.is_empty() {
                self.build_pending();
            }
            self.drain_inputs()?;
        }
    }

    fn build_pending(&mut self) {
        if let Some((view, parent, _)) = self.pending_build.take() {
            self.build_and_report(view, parent);
        }
    }

    fn build_and_report(&mut self, view: View, parent: BlockRef) {
        match self.build_block(view, parent) {
            Ok(Some(block)) => self.inputs.push_back(Input::BlockBuilt { view, block }),
            Ok(None) => self.defer(Effect::BuildBlock { view, parent }),
            // The view times out and is nullified; the chain goes on with the next leader.
            Err(error) => tracing::warn!(view = view.0, %error, "cannot build a block"),
        }
    }

    fn drain_inputs(&mut self) -> anyhow::Result<()> {
        while let Some(input) = self.inputs.pop_front() {
            let effects = self.core.on_input(input);
            self.perform(effects)?;
        }
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
            self.flush_wal(&mut pending, &mut last_ticket)?;
            self.perform_one(effect)?;
        }
        self.flush_wal(&mut pending, &mut last_ticket)
    }

    fn flush_wal(
        &mut self,
        pending: &mut Vec<Vec<u8>>,
        last_ticket: &mut Option<tally_consensus::Ticket>,
    ) -> anyhow::Result<()> {
        if let Some(ticket) = last_ticket.take() {
            self.store.wal_append(pending).context("appending to the consensus WAL")?;
            pending.clear();
            self.inputs.push_back(Input::Persisted(ticket));
        }
        Ok(())
    }

    fn perform_one(&mut self, effect: Effect) -> anyhow::Result<()> {
        match effect {
            Effect::Persist { .. } => unreachable!("persists are batched by perform"),
            Effect::Send { to, message } => {
                // Every nullification this node forms or forwards passes here at least once; count
                // each view once (leaders re-send old ones as justifications).
                if let Message::Certificate(certificate) = &message
                    && let tally_types::Subject::Nullify { view } = certificate.subject
                    && view > self.nullified_counted
                {
                    self.nullified_counted = view;
                    self.metrics.nullified_views.inc();
                }
                self.send(to, &message)
            }
            Effect::SetTimer { timer, after_ms } => {
                self.timers.insert(timer.kind, (Instant::now() + Duration::from_millis(after_ms), timer));
            }
            Effect::BuildBlock { view, parent } => {
                let wait_ms = (parent.time_ms + self.empty_block_delay_ms).saturating_sub(now_ms());
                if self.mempool.is_empty() && wait_ms > 0 {
                    let at = Instant::now() + Duration::from_millis(wait_ms);
                    self.pending_build = Some((view, parent, at));
                } else {
                    self.pending_build = None;
                    self.build_and_report(view, parent);
                }
            }
            Effect::VerifyBlock { view, block, parent } => {
                let block_id = block.id();
                if let Ok(false) = self.ensure_executed(parent.id) {
                    self.defer(Effect::VerifyBlock { view, block, parent });
                    return Ok(());
                }
                let valid = match self.verify_block(&block, parent) {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(view = view.0, block = %block_id.0, %error, "block refused");
                        false
                    }
                };
                self.inputs.push_back(Input::BlockVerified { view, block_id, valid });
            }
            Effect::Commit { block, finalization } => self.commit(&block, &finalization)?,
            Effect::Fetch { block_id } => self.fetch(block_id),
            Effect::Sync { finalization, height } => self.start_sync(finalization, height),
            Effect::PruneWal { below } => self.prune_wal(below)?,
            Effect::Evidence(evidence) => tracing::warn!(?evidence, "validator equivocation"),
        }
        Ok(())
    }

    fn send(&self, to: Recipient, message: &Message) {
        let data = encode(message);
        let targets: Vec<PeerId> = match to {
            Recipient::All => self
                .peers
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != usize::from(self.me.0))
                .map(|(_, peer)| *peer)
                .collect(),
            Recipient::One(index) => self.peers.get(usize::from(index.0)).copied().into_iter().collect(),
        };
        for peer in targets {
            if self.outbound.try_send((peer, data.clone())).is_err() {
                tracing::warn!(%peer, "outbound consensus queue full; message dropped");
            }
        }
    }

    fn defer(&mut self, effect: Effect) {
        self.deferred.push_back(effect);
        if self.deferred.len() > DEFERRED_MAX
            && let Some(Effect::VerifyBlock { view, block, .. }) = self.deferred.pop_front()
        {
            tracing::warn!(view = view.0, "gave up waiting for a block's ancestors");
            self.inputs.push_back(Input::BlockVerified { view, block_id: block.id(), valid: false });
        }
    }

    /// Makes sure `id`'s execution result is cached (or `id` is the committed tip), executing
    /// uncommitted ancestors as needed. `Ok(false)`: an ancestor is missing and was asked for.
    fn ensure_executed(&mut self, id: BlockId) -> anyhow::Result<bool> {
        let mut missing = Vec::new();
        let mut cursor = id;
        while cursor != self.tip.id && !self.executed.contains_key(&cursor) {
            let Some(block) = self.core.block(&cursor).or_else(|| self.ancestors.get(&cursor)).cloned()
            else {
                tracing::debug!(block = %cursor.0, "fetching a missing ancestor");
                self.fetch(cursor);
                return Ok(false);
            };
            if block.header.height <= self.tip.height || missing.len() > EXECUTED_MAX {
                bail!("block {} does not descend from the committed tip", cursor.0);
            }
            cursor = block.header.parent_id;
            missing.push(block);
        }
        while let Some(block) = missing.pop() {
            let (receipts, writes, batch) = self.execute(&block, &block.header.parent_id)?;
            self.remember(
                block.id(),
                Executed::new(block.header.parent_id, block.header.height, receipts, writes, batch),
            );
        }
        Ok(true)
    }

    fn layers(&self, parent: BlockId) -> anyhow::Result<Vec<&Executed>> {
        let mut layers = Vec::new();
        let mut cursor = parent;
        while cursor != self.tip.id {
            let executed =
                self.executed.get(&cursor).ok_or_else(|| anyhow!("parent {} not executed", cursor.0))?;
            layers.push(executed);
            cursor = executed.parent_id;
        }
        layers.reverse();
        Ok(layers)
    }

    fn execute(
        &self,
        block: &Block,
        parent: &BlockId,
    ) -> anyhow::Result<(Vec<Receipt>, WriteSet, TreeBatch)> {
        let snapshot = self.store.snapshot()?;
        let overlay = Overlay { base: &snapshot, layers: self.layers(*parent)? };
        let context = BlockContext {
            chain_id: self.chain_id.clone(),
            height: block.header.height,
            time_ms: block.header.time_ms,
        };
        let output = execute_block(&overlay, &context, block.txs.as_slice())?;
        let batch = apply_updates(&overlay, &output.writes.tree_updates())?;
        Ok((output.receipts, output.writes, batch))
    }

    fn remember(&mut self, id: BlockId, executed: Executed) {
        self.executed.insert(id, executed);
        if self.executed.len() > EXECUTED_MAX {
            let highest = self.executed.values().map(|executed| executed.height).max();
            // Keep the newest: drop the lowest heights (their children would be re-executed).
            if let Some((&oldest, _)) =
                self.executed.iter().filter(|(_, e)| Some(e.height) != highest).min_by_key(|(_, e)| e.height)
            {
                self.executed.remove(&oldest);
            }
        }
    }

    /// `Ok(None)`: an ancestor of `parent` is being fetched; the build is retried when it comes.
    fn build_block(&mut self, view: View, parent: BlockRef) -> anyhow::Result<Option<Block>> {
        if !self.ensure_executed(parent.id)? {
            return Ok(None);
        }
        let height = Height(parent.height.0 + 1);
        let time_ms = now_ms().max(parent.time_ms + 1);
        let snapshot = self.store.snapshot()?;
        let overlay = Overlay { base: &snapshot, layers: self.layers(parent.id)? };
        let candidates = self.mempool.select(
            self.block_txs_max,
            self.block_bytes_max,
            |account| account_seq(&overlay, account),
            parent.height,
        );
        let context = BlockContext { chain_id: self.chain_id.clone(), height, time_ms };
        let mut executor = BlockExecutor::begin(&overlay, context)?;
        let mut txs = Vec::new();
        for tx in candidates {
            match executor.execute_tx(&tx) {
                Ok(_) => txs.push((*tx).clone()),
                Err(TxError::NotIncludable(reason)) => tracing::debug!(tx = %tx.id(), %reason, "left out"),
                Err(TxError::State(error)) => return Err(error.into()),
            }
        }
        let output = executor.finish();
        let batch = apply_updates(&overlay, &output.writes.tree_updates())?;
        let ids: Vec<TxId> = txs.iter().map(SignedTransaction::id).collect();
        let header = Header {
            chain_id: self.chain_id.clone(),
            height,
            view,
            parent_id: parent.id,
            time_ms,
            proposer: self.me,
            tx_root: tx_root(&ids),
            receipts_root: receipts_root(&output.receipts),
            state_root: batch.root,
            validators_hash: self.validators.hash(),
        };
        let block = Block {
            header,
            txs: BoundedVec::new(txs)
                .map_err(|_| anyhow!("selection exceeded the block's transaction limit"))?,
        };
        drop(overlay);
        drop(snapshot);
        self.remember(block.id(), Executed::new(parent.id, height, output.receipts, output.writes, batch));
        tracing::debug!(view = view.0, height = height.0, txs = ids.len(), "built block");
        Ok(Some(block))
    }

    fn verify_block(&mut self, block: &Block, parent: BlockRef) -> anyhow::Result<()> {
        let header = &block.header;
        if header.chain_id != self.chain_id {
            bail!("chain id {}", header.chain_id);
        }
        if header.height.0 != parent.height.0 + 1 || header.parent_id != parent.id {
            bail!("does not extend its parent");
        }
        if header.validators_hash != self.validators.hash() {
            bail!("validators hash differs");
        }
        if header.time_ms <= parent.time_ms {
            bail!("time {} not after the parent's {}", header.time_ms, parent.time_ms);
        }
        if header.time_ms > now_ms() + BLOCK_TIME_AHEAD_MAX_MS {
            bail!(
                "time {} is more than {BLOCK_TIME_AHEAD_MAX_MS} ms ahead of this node's clock",
                header.time_ms
            );
        }
        for tx in block.txs.iter() {
            if !self.mempool.is_verified(tx) {
                tx.check_form_and_signature().with_context(|| format!("transaction {}", tx.id()))?;
            }
        }
        let ids: Vec<TxId> = block.txs.iter().map(SignedTransaction::id).collect();
        if tx_root(&ids) != header.tx_root {
            bail!("tx root differs");
        }
        if !self.ensure_executed(parent.id)? {
            bail!("an ancestor is missing");
        }
        let (receipts, writes, batch) = self.execute(block, &parent.id)?;
        if receipts_root(&receipts) != header.receipts_root {
            bail!("receipts root differs");
        }
        if batch.root != header.state_root {
            bail!("state root differs");
        }
        self.remember(block.id(), Executed::new(parent.id, header.height, receipts, writes, batch));
        Ok(())
    }

    fn commit(&mut self, block: &Block, finalization: &Certificate) -> anyhow::Result<()> {
        let id = block.id();
        if block.header.height <= self.tip.height {
            // Already stored (by sync, racing the core's own commits): it must be the same block.
            let stored = self.store.block(block.header.height)?.map(|stored| stored.id());
            if stored != Some(id) {
                bail!(
                    "block {} at height {} conflicts with the stored one: a fork",
                    id.0,
                    block.header.height
                );
            }
            return Ok(());
        }
        if block.header.parent_id != self.tip.id {
            bail!("commit of block {} at height {} does not follow the tip", id.0, block.header.height);
        }
        if !self.executed.contains_key(&id) {
            // A block this node did not verify (it came by sync, covered by a finalization):
            // execution must reproduce what the quorum certified, or this node's ledger has
            // diverged and must stop rather than store a state no one else has.
            let (receipts, writes, batch) = self.execute(block, &block.header.parent_id)?;
            if receipts_root(&receipts) != block.header.receipts_root || batch.root != block.header.state_root
            {
                bail!(
                    "executing finalized block {} at height {} gives state root {} (receipts root {}), \
                     but its header says {} ({}): this node's ledger diverges",
                    id.0,
                    block.header.height,
                    batch.root,
                    receipts_root(&receipts),
                    block.header.state_root,
                    block.header.receipts_root
                );
            }
            self.remember(
                id,
                Executed::new(block.header.parent_id, block.header.height, receipts, writes, batch),
            );
        }
        let executed = self.executed.remove(&id).expect("inserted just above when missing");
        let timing = self
            .store
            .commit_block(&BlockCommit {
                block,
                certificate: finalization,
                receipts: &executed.receipts,
                state_writes: &state_writes(&executed.writes),
                tree_writes: &tree_writes(&executed.batch),
            })
            .with_context(|| format!("committing block {}", block.header.height))?;
        self.tip = BlockRef::of(block);
        let height = block.header.height;
        self.executed.retain(|_, executed| executed.height > height);
        self.ancestors.retain(|_, ancestor| ancestor.header.height > height);
        self.mempool.remove(block.txs.iter().map(SignedTransaction::id));
        if let Ok(snapshot) = self.store.snapshot() {
            self.mempool.prune(|account| account_seq(&snapshot, account), height);
        }
        // Assets created by this block become listable (the catalog only ever grows).
        for (key, value) in executed.writes.iter() {
            if let (StateKey::Asset { asset }, Some(_)) = (key, value) {
                self.assets.insert(asset.clone());
            }
        }
        self.metrics.height.set(height.0 as i64);
        self.metrics.block_fsync_seconds.observe(timing.commit.as_secs_f64());
        let latency_ms = now_ms().saturating_sub(block.header.time_ms);
        self.metrics.commit_latency_seconds.observe(latency_ms as f64 / 1000.0);
        self.committed.send_replace(height);
        self.publish_status();
        tracing::info!(height = height.0, view = block.header.view.0, txs = block.txs.len(), "committed");
        Ok(())
    }

    fn start_sync(&mut self, finalization: Certificate, target: Height) {
        if self.syncing.is_some() {
            return;
        }
        let Some(target_id) = finalization.subject.block_id() else {
            tracing::warn!("sync asked with a certificate that names no block");
            return;
        };
        tracing::info!(from = self.tip.height.0, to = target.0, "syncing committed blocks from peers");
        self.syncing = Some(false);
        let task = SyncTask {
            net: self.net.clone(),
            peers: self.other_peers(),
            chain_id: self.chain_id.clone(),
            validators: self.validators.clone(),
            tip: self.tip,
            target,
            target_id,
            finalization,
            reports: self.sync_sender.clone(),
        };
        tokio::spawn(task.run());
    }

    fn on_sync(&mut self, report: SyncReport) -> anyhow::Result<()> {
        match report {
            SyncReport::Run(run) => {
                for CommittedBlock { block, certificate } in run {
                    if block.header.height > self.tip.height && block.header.parent_id != self.tip.id {
                        tracing::warn!(
                            height = block.header.height.0,
                            "synced block does not follow the tip"
                        );
                        break;
                    }
                    self.commit(&block, &certificate)?;
                    self.syncing = Some(true);
                }
                // A deferred build or verification may have been waiting for these blocks.
                let retry: Vec<Effect> = self.deferred.drain(..).collect();
                for effect in retry {
                    self.perform_one(effect)?;
                }
            }
            SyncReport::Done => {
                if self.syncing.take() == Some(true) {
                    self.inputs.push_back(Input::Synced { anchor: self.tip });
                }
            }
        }
        Ok(())
    }

    fn other_peers(&self) -> Vec<PeerId> {
        self.peers
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != usize::from(self.me.0))
            .map(|(_, peer)| *peer)
            .collect()
    }

    fn fetch(&self, block_id: BlockId) {
        let request = encode(&BlockRequest::ById(block_id));
        let peers: Vec<PeerId> = self
            .peers
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != usize::from(self.me.0))
            .map(|(_, peer)| *peer)
            .collect();
        let net = self.net.clone();
        let sender = self.fetched_sender.clone();
        tokio::spawn(async move {
            for peer in peers {
                match net.request(peer, request.clone()).await {
                    Ok(bytes) if !bytes.is_empty() => match decode::<Block>(&bytes) {
                        Ok(block) if block.id() == block_id => {
                            let _ = sender.send(block).await;
                            return;
                        }
                        _ => tracing::debug!(%peer, "peer answered a fetch with a wrong block"),
                    },
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%peer, %error, "fetch failed"),
                }
            }
        });
    }

    fn prune_wal(&self, below: View) -> anyhow::Result<()> {
        let entries = self.store.wal_entries()?;
        let mut keep_from = entries.last().map(|(sequence, _)| sequence + 1).unwrap_or(0);
        for (sequence, bytes) in &entries {
            let view = decode::<WalEntry>(bytes).map(|entry| entry.view()).unwrap_or(View(u64::MAX));
            if view >= below {
                keep_from = *sequence;
                break;
            }
        }
        self.store.wal_prune(keep_from)?;
        Ok(())
    }

    fn admit_context(&self, account: &PublicKey) -> AdmitContext {
        let committed_seq =
            self.store.snapshot().map(|snapshot| account_seq(&snapshot, account)).unwrap_or(0);
        AdmitContext { committed_seq, height: self.tip.height }
    }

    /// Admits each transaction of one HTTP request, in order, and answers one result each.
    /// The HTTP submission metrics are counted here only (the API does not count them).
    fn on_submission(&mut self, submission: Submission) {
        let mut results = Vec::with_capacity(submission.txs.len());
        for tx in submission.txs {
            let context = self.admit_context(&tx.tx.signer);
            let result = self.mempool.admit(tx, context);
            match &result {
                Ok(_) => self.metrics.submitted_txs.inc(),
                Err(_) => self.metrics.refused_txs.inc(),
            };
            results.push(result);
        }
        let _ = submission.reply.send(results);
    }

    async fn on_network(&mut self, event: NetEvent) -> anyhow::Result<()> {
        match event {
            NetEvent::Direct { peer, data } => {
                let Some(&from) = self.peer_index.get(&peer) else { return Ok(()) };
                match decode::<Message>(&data) {
                    Ok(message) => self.inputs.push_back(Input::Message { from, message }),
                    Err(error) => tracing::debug!(%peer, %error, "undecodable consensus message"),
                }
            }
            NetEvent::Gossip { topic: Topic::Transactions, source, id, data } => {
                let verdict = match decode::<TxBatch>(&data) {
                    Ok(batch) if batch.0.len() <= TX_GOSSIP_BATCH_MAX => {
                        let mut admitted = 0;
                        for tx in batch.0 {
                            let context = self.admit_context(&tx.tx.signer);
                            if self.mempool.admit(tx, context).is_ok() {
                                admitted += 1;
                            }
                        }
                        if admitted > 0 { Verdict::Accept } else { Verdict::Ignore }
                    }
                    _ => Verdict::Reject,
                };
                let _ = self.net.report(id, source, verdict).await;
            }
            NetEvent::Gossip { source, id, .. } => {
                let _ = self.net.report(id, source, Verdict::Ignore).await;
            }
            NetEvent::Request { peer, request, reply } => {
                let answer = match decode::<BlockRequest>(&request) {
                    Ok(BlockRequest::ById(id)) => {
                        self.find_block(&id).map(|block| encode(&block)).unwrap_or_default()
                    }
                    Ok(BlockRequest::ByHeight(height)) => {
                        let block = self.store.block(height).ok().flatten();
                        let certificate = self.store.certificate(height).ok().flatten();
                        match (block, certificate) {
                            (Some(block), Some(certificate)) => {
                                encode(&CommittedBlock { block, certificate })
                            }
                            _ => Vec::new(),
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%peer, %error, "undecodable request");
                        Vec::new()
                    }
                };
                let _ = self.net.respond(reply, answer).await;
            }
            NetEvent::PeerConnected(_) => self.connected += 1,
            NetEvent::PeerDisconnected(_) => self.connected = self.connected.saturating_sub(1),
        }
        Ok(())
    }

    fn find_block(&self, id: &BlockId) -> Option<Block> {
        if let Some(block) = self.core.block(id) {
            return Some(block.clone());
        }
        let height = self.store.height_of_block(id).ok()??;
        self.store.block(height).ok()?
    }

    async fn gossip_fresh(&mut self) {
        let fresh = self.mempool.take_fresh(TX_GOSSIP_BATCH_MAX);
        if fresh.is_empty() {
            return;
        }
        let batch = TxBatch(fresh.iter().map(|tx| (**tx).clone()).collect());
        if let Err(error) = self.net.publish(Topic::Transactions, encode(&batch)).await {
            tracing::debug!(%error, "tx gossip failed");
        }
    }

    fn publish_status(&self) {
        let status = NodeStatus {
            height: self.tip.height,
            view: self.core.view(),
            peers: self.connected,
            mempool_txs: self.mempool.len(),
            syncing: self.syncing.is_some(),
        };
        self.metrics.view.set(status.view.0 as i64);
        self.metrics.peers.set(status.peers as i64);
        self.metrics.mempool_txs.set(status.mempool_txs as i64);
        self.status.send_replace(status);
    }
}

/// Fetches committed blocks `tip + 1 ..= target` from peers and reports them in certified runs.
struct SyncTask {
    net: NetHandle,
    peers: Vec<PeerId>,
    chain_id: ChainId,
    validators: ValidatorSet,
    tip: BlockRef,
    target: Height,
    /// The block the core's finalization certifies at `target`.
    target_id: BlockId,
    /// The core's (verified) finalization of `target_id`.
    finalization: Certificate,
    reports: mpsc::Sender<SyncReport>,
}

impl SyncTask {
    async fn run(self) {
        if let Err(error) = self.sync().await {
            tracing::warn!(%error, "sync stopped");
        }
        let _ = self.reports.send(SyncReport::Done).await;
    }

    async fn sync(&self) -> anyhow::Result<()> {
        let mut parent = self.tip.id;
        let mut run: Vec<CommittedBlock> = Vec::new();
        let mut height = Height(self.tip.height.0 + 1);
        while height <= self.target {
            let fetched = self.fetch(height).await?;
            let block_id = fetched.block.id();
            if fetched.block.header.parent_id != parent || fetched.block.header.height != height {
                bail!("block at height {height} from peers does not extend the chain");
            }
            let ids: Vec<TxId> = fetched.block.txs.iter().map(SignedTransaction::id).collect();
            if tx_root(&ids) != fetched.block.header.tx_root {
                bail!("block at height {height} from peers has a wrong tx root");
            }
            // The run is certified once a block is named by a verified finalization: its own
            // stored certificate, or the core's finalization for the target.
            let certificate = if fetched.certificate.subject.block_id() == Some(block_id)
                && matches!(fetched.certificate.subject, tally_types::Subject::Finalize { .. })
                && fetched.certificate.verify(&self.chain_id, &self.validators).is_ok()
            {
                Some(fetched.certificate.clone())
            } else if height == self.target && block_id == self.target_id {
                Some(self.finalization.clone())
            } else {
                None
            };
            parent = block_id;
            run.push(fetched);
            if let Some(certificate) = certificate {
                // Every block of the run is stored with the one certificate that was verified
                // (the peer's certificates for the earlier ones are not trusted).
                for committed in &mut run {
                    committed.certificate = certificate.clone();
                }
                self.reports
                    .send(SyncReport::Run(std::mem::take(&mut run)))
                    .await
                    .map_err(|_| anyhow!("the engine stopped"))?;
            } else if run.len() >= SYNC_RUN_MAX {
                bail!("{SYNC_RUN_MAX} blocks without a certificate covering them");
            }
            height = Height(height.0 + 1);
        }
        Ok(())
    }

    async fn fetch(&self, height: Height) -> anyhow::Result<CommittedBlock> {
        let request = encode(&BlockRequest::ByHeight(height));
        for peer in &self.peers {
            match self.net.request(*peer, request.clone()).await {
                Ok(bytes) if !bytes.is_empty() => match decode::<CommittedBlock>(&bytes) {
                    Ok(committed) => return Ok(committed),
                    Err(error) => tracing::debug!(%peer, %error, "undecodable sync answer"),
                },
                Ok(_) => {}
                Err(error) => tracing::debug!(%peer, %error, "sync request failed"),
            }
        }
        bail!("no peer served the block at height {height}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_ledger::{
        GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, genesis_writes,
    };
    use tally_types::codec::BoundedBytes;
    use tally_types::tx::{AssetFlags, Transaction, Transfer};
    use tally_types::{Amount, AssetId, Hash, MemberId, Op, SecretKey};

    fn chain() -> ChainId {
        ChainId::new("tally-engine-test").expect("valid")
    }

    fn asset() -> AssetId {
        "ACME@acme".parse().expect("valid")
    }

    fn keys() -> Vec<SecretKey> {
        (0..4u8).map(|i| SecretKey::from_seed(&[10 + i; 32])).collect()
    }

    fn transfer(from: &SecretKey, to: &SecretKey, seq: u64, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: chain(),
            signer: from.public_key(),
            seq,
            valid_until_height: Height(100),
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: asset(),
                to: to.public_key(),
                amount: Amount(amount),
            })])
            .expect("one op"),
            memo: BoundedBytes::empty(),
        }
        .sign(from)
    }

    /// Executing a chain of uncommitted blocks through the overlay gives the receipts and
    /// state roots of executing them one after another on committed state (in memory).
    #[test]
    fn overlay_execution_matches_sequential_execution() {
        let genesis = GenesisLedger {
            members: vec![GenesisMember {
                id: MemberId::new("acme").expect("valid"),
                name: "Acme".into(),
                issuers: vec![SecretKey::from_seed(&[1; 32]).public_key()],
            }],
            assets: vec![GenesisAsset {
                asset: asset(),
                scale: 2,
                max_supply: None,
                flags: AssetFlags::default(),
            }],
            balances: keys()
                .iter()
                .map(|key| GenesisBalance {
                    account: key.public_key(),
                    asset: asset(),
                    amount: Amount(1_000),
                })
                .collect(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let identity = ChainIdentity { chain_id: chain(), genesis_hash: Hash([3; 32]) };
        let store = Store::open(&dir.path().join("node.redb"), &identity).expect("open");
        let writes = genesis_writes(&genesis).expect("genesis");
        let batch =
            apply_updates(&store.snapshot().expect("snapshot"), &writes.tree_updates()).expect("tree");
        store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
        let mut memory = MemState::from_genesis(&genesis).expect("genesis");

        let keys = keys();
        // Block 2 spends what block 1 paid in, so it only succeeds on block 1's state.
        let blocks = [
            vec![transfer(&keys[0], &keys[1], 1, 900), transfer(&keys[2], &keys[3], 1, 10)],
            vec![transfer(&keys[1], &keys[2], 1, 1_800), transfer(&keys[0], &keys[3], 2, 50)],
            vec![transfer(&keys[2], &keys[0], 2, 2_000)],
        ];
        let mut executed: Vec<Executed> = Vec::new();
        for (index, txs) in blocks.iter().enumerate() {
            let height = Height(index as u64 + 1);
            let context = BlockContext { chain_id: chain(), height, time_ms: 1_000 * height.0 };
            let expected = memory.execute_and_commit(&context, txs).expect("memory executes");
            let snapshot = store.snapshot().expect("snapshot");
            let overlay = Overlay { base: &snapshot, layers: executed.iter().collect() };
            let output = execute_block(&overlay, &context, txs).expect("overlay executes");
            let batch = apply_updates(&overlay, &output.writes.tree_updates()).expect("tree");
            assert_eq!(output.receipts, expected.output.receipts, "receipts of block {height}");
            assert_eq!(batch.root, expected.state_root, "state root of block {height}");
            assert!(output.receipts.iter().all(|receipt| receipt.outcome == tally_types::TxOutcome::Success));
            drop(overlay);
            drop(snapshot);
            executed.push(Executed::new(
                BlockId(Hash([index as u8; 32])),
                height,
                output.receipts,
                output.writes,
                batch,
            ));
        }
    }
}
