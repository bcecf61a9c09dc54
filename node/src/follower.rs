//! A full node: `tally-node` without a consensus key follows the chain without voting or
//! proposing, for a provider that does not validate, an explorer, or an auditor's own copy.
//!
//! It connects to the validators (which must list its peer id in their `network.observers`),
//! asks them in turn for committed blocks after its tip in ranges (the same `BlockRequest`
//! the validators' sync uses), and commits a range only up to its last block whose own
//! finalization verifies against the validator set; the blocks before it are certified by
//! their parent links, as in sync. Every block is executed and must reproduce its header's
//! receipts and state roots, and every transaction's signature is checked: a full node
//! trusts no peer. It serves the same HTTP API; transactions submitted to it are checked and
//! gossiped to the validators (it has no mempool of its own that blocks are built from).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tally_consensus::BlockRef;
use tally_genesis::Genesis;
use tally_net::{NetEvent, NetHandle, PeerId, Topic, Verdict};
use tally_types::wire::{BlockRequest, TxBatch};
use tally_types::{Certificate, Height, ValidatorIndex, encode, limits};
use tokio::sync::{mpsc, watch};

use crate::api::{NodeStatus, Submission};
use crate::config::NodeConfig;
use crate::engine::executor::{self, BuildPace, Executed};
use crate::engine::startup::{
    ApiParts, chain_rules, open_store, serve_api, start_network, store_path, store_tip, validator_peers,
};
use crate::engine::{Shared, VerifiedTx, commit_group, sync};
use crate::mempool::{AdmitError, Mempool};

/// How often a full node asks for new blocks when it is at the tip.
pub const FOLLOW_INTERVAL_MS: u64 = 250;
/// Blocks asked for per request (the most a validator serves in one range).
const FOLLOW_RANGE_BLOCKS: u32 = limits::SYNC_RANGE_BLOCKS_MAX as u32;

/// A running full node: its loop and what it needs.
pub struct Follower {
    shared: Shared,
    handle: NetHandle,
    events: mpsc::Receiver<NetEvent>,
    submissions: mpsc::Receiver<Submission>,
    validators: Vec<PeerId>,
    validator_set: tally_types::ValidatorSet,
    tip: BlockRef,
    status: watch::Sender<NodeStatus>,
    committed: watch::Sender<Height>,
    connected: usize,
    /// A validator's consensus key that governance has added for a later epoch: once the next
    /// block's epoch names it, [`Follower::run`] hands the node over to become a validator.
    joining: Option<tally_types::PublicKey>,
}

/// Starts a full node from a configuration without a consensus key: genesis, network key,
/// store, network (dialing every validator) and the HTTP API.
pub async fn start(config: &NodeConfig) -> anyhow::Result<Follower> {
    let joining = match &config.consensus_key {
        Some(path) => Some(
            tally_genesis::keys::read_key_file(path)
                .with_context(|| format!("reading consensus key {}", path.display()))?
                .public_key(),
        ),
        None => None,
    };
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("loading genesis {}", config.genesis.display()))?;
    let network_key = tally_genesis::keys::read_key_file(&config.network_key)
        .with_context(|| format!("reading network key {}", config.network_key.display()))?;
    let listen = config.p2p_listen.clone().ok_or_else(|| {
        anyhow!(
            "a full node is not in genesis, so it has no address there: set network.listen in its node.toml"
        )
    })?;
    let http_addr = config.http_listen.ok_or_else(|| {
        anyhow!(
            "a full node is not in genesis, so it has no HTTP address there: set http.listen in its node.toml"
        )
    })?;
    if genesis.validators().iter().any(|validator| validator.network_key == network_key.public_key()) {
        bail!("this network key belongs to a validator in genesis; a validator runs with its consensus_key");
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = Arc::new(open_store(&store_path(config), &genesis)?);
    let tip = store_tip(&store, &genesis)?;
    let chain_id = genesis.chain_id().clone();

    let net_peers = validator_peers(&genesis)?;
    let validators: Vec<PeerId> = net_peers.iter().map(|peer| peer.peer_id).collect();
    let (handle, events) = start_network(config, &genesis, &network_key, listen, net_peers)?;
    tracing::info!(peer_id = %handle.local_peer_id(), height = %tip.height, "full node: following the validators");
    let api = ApiParts::new(config, &store, &genesis, tip.height)?;
    api.status.send_modify(|status| status.syncing = true);
    serve_api(http_addr, api.state, &config.http_cors_origins, config.http_limits).await?;
    let ApiParts { status, committed, submissions, metrics, assets, .. } = api;

    let mempool = Mempool::new(config.mempool.clone(), chain_id).map_err(|error| anyhow!(error))?;
    let shared = Shared {
        store,
        mempool: Arc::new(Mutex::new(mempool)),
        // A full node is no validator; the index only names a builder, and it builds nothing.
        rules: chain_rules(&genesis, ValidatorIndex(0)),
        pace: Arc::new(BuildPace::off()),
        metrics,
        assets,
        check_invariants: cfg!(debug_assertions),
    };
    Ok(Follower {
        shared,
        handle,
        events,
        submissions,
        validators,
        validator_set: genesis.validator_set(),
        tip,
        status,
        committed,
        connected: 0,
        joining,
    })
}

impl Follower {
    /// Follows the chain until the network stops or storage fails; for a validator waiting
    /// for its epoch, until the next block's epoch names its key (then it returns what the
    /// validator it becomes takes over).
    pub async fn run(mut self) -> anyhow::Result<crate::engine::startup::Resumed> {
        let mut poll = tokio::time::interval(Duration::from_millis(FOLLOW_INTERVAL_MS));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_peer = 0usize;
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => bail!("the network stopped"),
                },
                Some(submission) = self.submissions.recv() => self.on_submission(submission).await,
                _ = poll.tick() => {
                    crate::engine::stop_if_corrupt(&self.shared.store)?;
                    // Ask the validators in turn; a full range that committed means more is
                    // waiting: ask again at once (a peer whose ranges commit nothing waits a tick).
                    loop {
                        let peer = self.validators[next_peer % self.validators.len()];
                        next_peer += 1;
                        match self.follow_once(peer).await {
                            Ok((received, true)) if received == FOLLOW_RANGE_BLOCKS as usize => continue,
                            Ok(_) => break,
                            Err(error) => {
                                tracing::debug!(%peer, error = %format!("{error:#}"), "a validator's blocks were not taken");
                                break;
                            }
                        }
                    }
                    self.publish_status(false);
                    if self.epoch_names_me()? {
                        return Ok(crate::engine::startup::Resumed {
                            shared: self.shared,
                            handle: self.handle,
                            events: self.events,
                            submissions: self.submissions,
                            status: self.status,
                            committed: self.committed,
                        });
                    }
                }
            }
        }
    }

    /// Whether this node waits for an epoch that has now come: the block after the tip is in
    /// an epoch whose validators include its consensus key.
    fn epoch_names_me(&self) -> anyhow::Result<bool> {
        let Some(key) = &self.joining else { return Ok(false) };
        let snapshot = self.shared.store.snapshot()?;
        Ok(executor::EpochRules::at(&snapshot, self.tip.height.next())?
            .is_some_and(|epoch| epoch.validators.index_of(key).is_some()))
    }

    async fn on_event(&mut self, event: NetEvent) {
        match event {
            // A full node relays no gossip of its own judging: it forwards what it is given.
            NetEvent::Gossip { id, source, .. } => {
                let _ = self.handle.report(id, source, Verdict::Ignore).await;
            }
            NetEvent::Request { request, reply, .. } => {
                let store = Arc::clone(&self.shared.store);
                let handle = self.handle.clone();
                tokio::spawn(async move {
                    let bytes = tokio::task::spawn_blocking(move || {
                        tally_types::decode::<BlockRequest>(&request)
                            .ok()
                            .and_then(|request| crate::engine::serve(&store, request).ok())
                            .unwrap_or_default()
                    })
                    .await
                    .unwrap_or_default();
                    let _ = handle.respond(reply, bytes).await;
                });
            }
            NetEvent::Direct { .. } => {}
            NetEvent::PeerConnected(_) => self.connected += 1,
            NetEvent::PeerDisconnected(_) => self.connected = self.connected.saturating_sub(1),
        }
    }

    /// Checks the submitted transactions' form and signatures and gossips the good ones to
    /// the validators.
    async fn on_submission(&mut self, submission: Submission) {
        let Submission { txs, reply } = submission;
        let checked =
            tokio::task::spawn_blocking(move || VerifiedTx::check_batch(txs)).await.unwrap_or_default();
        let mut forward = Vec::new();
        let answers: Vec<Result<tally_types::TxId, AdmitError>> = checked
            .into_iter()
            .map(|result| match result {
                Ok(verified) => {
                    let tx = verified.into_inner();
                    let id = tx.id();
                    forward.push((*tx).clone());
                    Ok(id)
                }
                Err(error) => Err(AdmitError::Malformed(error)),
            })
            .collect();
        if !forward.is_empty()
            && let Err(error) = self.handle.publish(Topic::Transactions, encode(&TxBatch(forward))).await
        {
            tracing::warn!(%error, "could not gossip submitted transactions to the validators");
            let _ = reply
                .send(answers.into_iter().map(|answer| answer.and(Err(AdmitError::Unavailable))).collect());
            return;
        }
        let _ = reply.send(answers);
    }

    /// Asks `peer` for the blocks after the tip and commits those a verified finalization
    /// covers. Returns how many blocks the peer sent, and whether any was committed.
    async fn follow_once(&mut self, peer: PeerId) -> anyhow::Result<(usize, bool)> {
        let from = self.tip.height.next();
        let request = encode(&BlockRequest::Range { from, count: FOLLOW_RANGE_BLOCKS });
        let bytes = self.handle.request(peer, request).await.context("range request")?;
        if bytes.is_empty() {
            return Ok((0, false));
        }
        let shared = self.shared.clone();
        let validators = self.validator_set.clone();
        let tip = self.tip;
        let (received, committed) = tokio::task::spawn_blocking(move || {
            let chain_id = shared.rules.chain_id.clone();
            take_range(&shared, &validators, tip, from, FOLLOW_RANGE_BLOCKS, &bytes, |set, certificate| {
                certificate.verify(&chain_id, set).is_ok()
            })
        })
        .await
        .context("the range job")??;
        if let Some(new_tip) = committed {
            self.tip = new_tip;
            self.committed.send_replace(new_tip.height);
            self.shared.metrics.height.set(new_tip.height.0 as i64);
        }
        Ok((received, committed.is_some()))
    }

    fn publish_status(&self, syncing: bool) {
        let status = NodeStatus {
            height: self.tip.height,
            view: tally_types::View(0),
            peers: self.connected,
            mempool_txs: 0,
            syncing,
        };
        self.shared.metrics.peers.set(status.peers as i64);
        self.status.send_replace(status);
    }
}

/// Checks an answer to a request for `count` blocks from `from`, executes its certified
/// prefix on the tip and commits it durably. `verify` checks a finalization against the
/// validator set of the epoch of the block after the tip (`validators`, the genesis set, for a
/// ledger without epochs): the node's checks ed25519 signatures; the simulator's, its own
/// scheme's. Returns the number of blocks received and the new tip, if any block was committed.
pub fn take_range(
    shared: &Shared,
    validators: &tally_types::ValidatorSet,
    tip: BlockRef,
    from: Height,
    count: u32,
    bytes: &[u8],
    verify: impl Fn(&tally_types::ValidatorSet, &Certificate) -> bool,
) -> anyhow::Result<(usize, Option<BlockRef>)> {
    // The epoch of the next block, by the committed state (docs/ARCHITECTURE.md "Governance
    // and epochs"): its set signs the range's certificates and is hashed in its headers.
    let epoch = executor::EpochRules::at(&shared.store.snapshot()?, tip.height.next())?;
    let (number, validators) = match &epoch {
        Some(epoch) => (epoch.number, &epoch.validators),
        None => (0, validators),
    };
    let rules = executor::ChainRules { validators_hash: validators.hash(), ..shared.rules.clone() };
    let chunk = sync::check_range(&rules, number, from, count, bytes, |certificate: &Certificate| {
        verify(validators, certificate)
    })
    .map_err(|reason| anyhow!("the range does not check: {reason}"))?;
    let (blocks, certified) = chunk.into_parts();
    let received = blocks.len();
    let Some((last, certificate)) = certified else { return Ok((received, None)) };
    let first = blocks.first().ok_or_else(|| anyhow!("an empty range"))?;
    executor::check_child(&first.header, &tip, &rules).context("the range does not follow the tip")?;
    let mut layers: Vec<Arc<Executed>> = Vec::new();
    let mut group = Vec::new();
    for block in blocks.into_iter().take(last + 1) {
        executor::check_signatures(&shared.mempool, &block)?;
        let executed = Arc::new(executor::execute_checked(&shared.store, &layers, &block)?);
        layers.push(Arc::clone(&executed));
        group.push((block, certificate.clone(), executed));
    }
    commit_group(shared, &group)?;
    let new_tip = BlockRef::of(&group.last().expect("the certified prefix holds a block").0);
    let txs: usize = group.iter().map(|(block, _, _)| block.txs.len()).sum();
    tracing::info!(height = new_tip.height.0, blocks = group.len(), txs, "followed");
    Ok((received, Some(new_tip)))
}
