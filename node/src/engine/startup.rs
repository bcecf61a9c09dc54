//! Start-up wiring: genesis, keys, store (genesis state written once), the consensus core
//! restored from the WAL, the network, the HTTP API, and the engine around them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tally_consensus::{BlockRef, Config, Core, Ed25519Scheme, SignKind, SignState, Signed, WalEntry};
use tally_genesis::Genesis;
use tally_ledger::tree::apply_updates;
use tally_ledger::{StateKey, StateRead, StateValue};
use tally_net::{NetEvent, NetHandle, NetworkConfig, Peer, PeerId};
use tally_store::{ChainIdentity, Store, Wal, state_writes, tree_writes};
use tally_types::{ChainId, Height, ValidatorIndex, View, decode, limits};
use tokio::sync::{mpsc, watch};

use super::executor::{BuildPace, ChainRules, EpochRules};
use super::runtime::{Channels, NodeEngine, SystemClock, libp2p_parts};
use super::{Engine, Parts, SUBMISSIONS_MAX, Shared};
use crate::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, Submission, router};
use crate::config::NodeConfig;
use crate::mempool::Mempool;
use crate::sign_state::{self, SignStateFile};

/// Assets a node lists at most (`GET /v1/assets`); they are created only by members' issuers.
const ASSETS_LISTED_MAX: usize = 1_000_000;

/// The data directory's store path, for operators' messages.
pub fn store_path(config: &NodeConfig) -> PathBuf {
    config.data_dir.join("node.redb")
}

/// Opens the store for `genesis`, writing the genesis state on first start.
pub fn open_store(path: &std::path::Path, genesis: &Genesis) -> anyhow::Result<Store> {
    let identity = ChainIdentity { chain_id: genesis.chain_id().clone(), genesis_hash: genesis.hash() };
    let store = Store::open(path, &identity)?;
    init_genesis_state(&store, genesis)?;
    Ok(store)
}

/// Writes the genesis state into an empty store (no-op when it is there).
pub fn init_genesis_state(store: &Store, genesis: &Genesis) -> anyhow::Result<()> {
    if store.has_genesis_state()? {
        return Ok(());
    }
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
    Ok(())
}

/// The durable tip of `store` as a consensus block reference.
pub fn store_tip(store: &Store, genesis: &Genesis) -> anyhow::Result<BlockRef> {
    let height = store.height()?;
    if height == Height(0) {
        return Ok(BlockRef {
            id: genesis.parent_of_first_block(),
            height: Height(0),
            view: View(0),
            time_ms: genesis.genesis_time_ms(),
        });
    }
    let block = store.block(height)?.ok_or_else(|| anyhow!("store lacks its tip block {height}"))?;
    Ok(BlockRef::of(&block))
}

/// The WAL entries in write order; a corrupt entry stops the node (docs/ARCHITECTURE.md "Blocks and consensus").
pub fn read_wal(wal_file: &Wal) -> anyhow::Result<Vec<WalEntry>> {
    let mut wal = Vec::new();
    for (sequence, bytes) in wal_file.entries()? {
        let entry = decode::<WalEntry>(&bytes).with_context(|| {
            format!(
                "WAL entry {sequence} is corrupt; the node refuses to start rather than risk a double vote"
            )
        })?;
        wal.push(entry);
    }
    Ok(wal)
}

/// The consensus configuration of validator `me` from genesis parameters, anchored at `tip`.
pub fn consensus_config(genesis: &Genesis, me: ValidatorIndex, tip: BlockRef) -> Config {
    epoch_config(genesis.chain_id(), &genesis_epoch(genesis), me, tip)
}

/// The consensus configuration of validator `me` in `epoch`, anchored at `anchor`.
pub fn epoch_config(chain_id: &ChainId, epoch: &EpochRules, me: ValidatorIndex, anchor: BlockRef) -> Config {
    let params = &epoch.params;
    let mut config = Config::new(chain_id.clone(), epoch.validators.clone(), me, anchor);
    config.epoch = epoch.number;
    config.leader_timeout_ms = params.timeout_propose_ms;
    config.advance_timeout_ms = params.timeout_notarize_ms;
    config.timeout_max_ms = params.timeout_max_ms;
    config
}

/// Epoch 0, as genesis sets it.
pub fn genesis_epoch(genesis: &Genesis) -> EpochRules {
    EpochRules {
        number: 0,
        start_height: Height(1),
        validators: genesis.validator_set(),
        params: *genesis.params(),
    }
}

/// The epoch of the block after the store's tip, by its committed state (genesis's epoch for
/// a store without epochs).
pub fn next_epoch(store: &Store, genesis: &Genesis) -> anyhow::Result<EpochRules> {
    let snapshot = store.snapshot()?;
    Ok(EpochRules::at(&snapshot, store.height()?.next())?.unwrap_or_else(|| genesis_epoch(genesis)))
}

/// The epoch cores of a validator with `key` (see [`super::EpochCores`]).
pub fn epoch_cores(chain_id: ChainId, key: tally_types::SecretKey) -> super::EpochCores<Ed25519Scheme> {
    Box::new(move |epoch: &EpochRules, anchor: BlockRef| {
        let Some(me) = epoch.validators.index_of(&key.public_key()) else { return Ok(None) };
        let scheme = Ed25519Scheme::new(chain_id.clone(), epoch.validators.clone(), key.clone())?;
        let core = Core::new(epoch_config(&chain_id, epoch, me, anchor), scheme)
            .with_context(|| format!("starting consensus for epoch {}", epoch.number))?;
        Ok(Some(core))
    })
}

/// The executor's view of the chain for validator `me`.
pub fn chain_rules(genesis: &Genesis, me: ValidatorIndex) -> ChainRules {
    let params = *genesis.params();
    ChainRules {
        chain_id: genesis.chain_id().clone(),
        validators_hash: genesis.validator_set().hash(),
        me,
        block_txs_max: (params.block_txs_max as usize).min(limits::BLOCK_TXS_MAX),
        // Room for the header and the length prefix of the transaction list.
        block_bytes_max: (params.block_bytes_max as usize)
            .min(limits::BLOCK_BYTES_MAX)
            .saturating_sub(limits::HEADER_BYTES_MAX + 4),
    }
}

/// Every validator of genesis, in validator order, as the engine addresses them.
fn genesis_peers(genesis: &Genesis) -> anyhow::Result<Vec<super::io::ValidatorPeer>> {
    Ok(genesis
        .validators()
        .iter()
        .map(|validator| super::io::ValidatorPeer {
            network_key: validator.network_key,
            p2p_listen: validator.p2p_listen.to_string(),
        })
        .collect())
}

/// Every validator of genesis as a network peer to dial and admit, in validator order.
pub fn validator_peers(genesis: &Genesis) -> anyhow::Result<Vec<Peer>> {
    genesis
        .validators()
        .iter()
        .map(|validator| {
            let peer_id = tally_net::peer_id_from_public_key(&validator.network_key.0)?;
            let addr =
                validator.p2p_listen.parse().with_context(|| format!("p2p_listen of {}", validator.name))?;
            Ok(Peer { peer_id, addr })
        })
        .collect()
}

/// Starts the peer-to-peer network of this node (its key, where it listens, the validators to
/// dial, the node.toml's network settings) and returns its handle and events.
pub fn start_network(
    config: &NodeConfig,
    genesis: &Genesis,
    network_key: &tally_types::SecretKey,
    listen: tally_net::Multiaddr,
    validators: Vec<Peer>,
) -> anyhow::Result<(NetHandle, mpsc::Receiver<NetEvent>)> {
    let keypair = tally_net::keypair_from_seed(*network_key.seed())?;
    let mut net_config =
        NetworkConfig::new(genesis.chain_id().as_str().to_owned(), keypair, listen, validators);
    net_config.observers = config.observers.clone();
    net_config.redial_interval_ms = config.redial_interval_ms;
    net_config.idle_timeout_ms = config.idle_timeout_ms;
    net_config.invalid_messages_max = config.invalid_messages_max;
    net_config.penalty_ms = config.penalty_ms;
    net_config.request_timeout_ms = config.request_timeout_ms;
    let (handle, events, event_loop) = tally_net::build(net_config)?;
    tokio::spawn(event_loop.run());
    Ok((handle, events))
}

/// The HTTP API's state, and the node's ends of the channels it shares with it.
pub struct ApiParts {
    pub state: ApiState,
    pub status: watch::Sender<NodeStatus>,
    pub committed: watch::Sender<Height>,
    pub submissions: mpsc::Receiver<Submission>,
    pub metrics: Arc<Metrics>,
    pub assets: AssetCatalog,
}

impl ApiParts {
    /// For a node whose store is at `height`.
    pub fn new(
        config: &NodeConfig,
        store: &Arc<Store>,
        genesis: &Genesis,
        height: Height,
    ) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new());
        // Every asset in the committed state (genesis assets and those issued since), so that a
        // restarted node lists what earlier blocks created; later blocks add theirs as they commit.
        let stored_assets = tally_store::asset_ids(&store.snapshot()?, ASSETS_LISTED_MAX)
            .context("listing the assets in the store")?;
        let assets = AssetCatalog::new(stored_assets);
        let (status, status_receiver) = watch::channel(NodeStatus { height, ..NodeStatus::default() });
        let (committed, committed_receiver) = watch::channel(height);
        let (submission_sender, submissions) = mpsc::channel(SUBMISSIONS_MAX);
        let state = ApiState {
            store: Arc::clone(store),
            chain_id: genesis.chain_id().clone(),
            validators: Arc::new(genesis.validator_set()),
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
        Ok(ApiParts { state, status, committed, submissions, metrics, assets })
    }
}

/// Binds the HTTP API on `addr` and serves it in the background.
pub async fn serve_api(
    addr: SocketAddr,
    state: ApiState,
    cors_origins: &[String],
    limits: crate::http_server::HttpLimits,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the HTTP API on {addr}"))?;
    tracing::info!(http_addr = %addr, explorer = %format!("http://{addr}/"), "HTTP API listening");
    let app = crate::api::with_cors(router(state), cors_origins);
    tokio::spawn(crate::http_server::serve(listener, app, limits));
    Ok(())
}

/// A validator whose consensus key is not in the epoch of the next block: governance has
/// scheduled it for a later epoch (or not yet voted it in). `tally-node` then follows the
/// chain as a full node and becomes a validator when that epoch starts.
#[derive(Debug, thiserror::Error)]
#[error("consensus key {key} is not a validator of epoch {epoch} (height {start_height} on)")]
pub struct NotInEpoch {
    pub key: String,
    pub epoch: u64,
    pub start_height: Height,
}

/// What a full node hands to the validator it becomes (see [`crate::follower::Handover`]):
/// the open store, network and HTTP API stay as they are.
pub struct Resumed {
    pub shared: Shared,
    pub handle: NetHandle,
    pub events: mpsc::Receiver<NetEvent>,
    pub submissions: mpsc::Receiver<Submission>,
    pub status: watch::Sender<NodeStatus>,
    pub committed: watch::Sender<Height>,
}

/// The keys of a validator's configuration.
fn validator_keys(config: &NodeConfig) -> anyhow::Result<(tally_types::SecretKey, tally_types::SecretKey)> {
    let key_path = config
        .consensus_key
        .as_ref()
        .ok_or_else(|| anyhow!("a validator needs node.consensus_key (without one, run as a full node)"))?;
    let consensus_key = tally_genesis::keys::read_key_file(key_path)
        .with_context(|| format!("reading consensus key {}", key_path.display()))?;
    let network_key = tally_genesis::keys::read_key_file(&config.network_key)
        .with_context(|| format!("reading network key {}", config.network_key.display()))?;
    Ok((consensus_key, network_key))
}

/// Who this validator is in the epoch of the block after the store's tip: the epoch, its index
/// and every validator's address (by the committed state). [`NotInEpoch`] when its key is not
/// in that epoch.
fn epoch_seat(
    store: &Store,
    genesis: &Genesis,
    consensus_key: &tally_types::SecretKey,
    network_key: &tally_types::SecretKey,
) -> anyhow::Result<(EpochRules, ValidatorIndex, Vec<super::io::ValidatorPeer>)> {
    let snapshot = store.snapshot()?;
    let next = store.height()?.next();
    let (epoch, peers) = match EpochRules::at(&snapshot, next)? {
        Some(epoch) => {
            let peers = super::epoch_peers(&snapshot, &epoch)?;
            (epoch, peers)
        }
        // A ledger without epochs state keeps genesis's validators for ever.
        None => (genesis_epoch(genesis), genesis_peers(genesis)?),
    };
    drop(snapshot);
    let key = consensus_key.public_key();
    let Some(me) = epoch.validators.index_of(&key) else {
        if let Some(was) = retired_from(store, genesis, &key, next)? {
            bail!(
                "consensus key {key} was a validator {was} and is not in epoch {} (height {} on) nor in \
                 a scheduled one: governance removed or rotated it, so this node no longer validates",
                epoch.number,
                epoch.start_height
            );
        }
        return Err(NotInEpoch {
            key: key.to_string(),
            epoch: epoch.number,
            start_height: epoch.start_height,
        }
        .into());
    };
    if peers[usize::from(me.0)].network_key != network_key.public_key() {
        bail!("the network key does not match this validator's network_key on the ledger");
    }
    Ok((epoch, me, peers))
}

/// Where `key` validated before, when it did (at genesis, or in an epoch whose start this
/// store recorded, `Store::epoch_proofs`) and is neither in the epoch of height `next` (the
/// block after the store's tip) nor in one scheduled after it: governance removed or rotated
/// it. `None` for a key that never validated here (a validator waiting to be voted in) or that
/// validates again later.
fn retired_from(
    store: &Store,
    genesis: &Genesis,
    key: &tally_types::PublicKey,
    next: Height,
) -> anyhow::Result<Option<String>> {
    let snapshot = store.snapshot()?;
    let scheduled = match snapshot.get(&StateKey::Epochs)? {
        Some(StateValue::Epochs(epochs)) => {
            epochs.at(next).validators.contains(key)
                || epochs
                    .pending
                    .iter()
                    .any(|epoch| epoch.start_height > next && epoch.validators.contains(key))
        }
        // Without epochs state the genesis set is the only one.
        _ => genesis.validator_set().index_of(key).is_some(),
    };
    drop(snapshot);
    if scheduled {
        return Ok(None);
    }
    if genesis.validator_set().index_of(key).is_some() {
        return Ok(Some("at genesis".into()));
    }
    let mut after = 0;
    loop {
        let proofs = store.epoch_proofs(after, 32)?;
        let Some(&(last, _)) = proofs.last() else { return Ok(None) };
        for (number, proof) in proofs {
            let Ok(StateValue::Epochs(epochs)) = StateValue::from_bytes(&proof.value) else { continue };
            let started = epochs.pending.iter().find(|epoch| epoch.number == number);
            if started.is_some_and(|epoch| epoch.validators.contains(key)) {
                return Ok(Some(format!("in epoch {number}")));
            }
        }
        after = last;
    }
}

/// Whether the configured validator is in the epoch of the block after its store's tip
/// (false: it follows as a full node until it is). Opens and closes the store.
pub fn validates_now(config: &NodeConfig) -> anyhow::Result<bool> {
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("loading genesis {}", config.genesis.display()))?;
    let (consensus_key, network_key) = validator_keys(config)?;
    refuse_emptied_files(config)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = open_store(&store_path(config), &genesis)?;
    match epoch_seat(&store, &genesis, &consensus_key, &network_key) {
        Ok(_) => Ok(true),
        Err(error) if error.is::<NotInEpoch>() => {
            tracing::info!(reason = %error, "following the chain as a full node until this validator's epoch starts");
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// The consensus core restored from the WAL for this validator's seat and given the key's
/// sign state, the WAL, and the sign-state file (see [`open_sign_state`]).
fn restore_core(
    config: &NodeConfig,
    genesis: &Genesis,
    store: &Store,
    epoch: &EpochRules,
    me: ValidatorIndex,
    consensus_key: &tally_types::SecretKey,
    tip: BlockRef,
) -> anyhow::Result<(Core<Ed25519Scheme>, Wal, SignStateFile<std::fs::File>)> {
    let chain_id = genesis.chain_id();
    // The WAL lives in its own file beside the store (moved there from node.redb once).
    let wal_file = Wal::open_beside(store)?;
    let wal = read_wal(&wal_file)?;
    let wal_len = wal.len();
    let scheme = Ed25519Scheme::new(chain_id.clone(), epoch.validators.clone(), consensus_key.clone())?;
    let mut consensus = epoch_config(chain_id, epoch, me, tip);
    // The tip's certificate as stored: its own finalization after a sync, which the WAL does
    // not hold (the core keeps it only if it finalizes exactly the tip in this epoch).
    consensus.anchor_finalization = store.certificate(tip.height)?;
    let core = Core::restore(consensus, scheme, wal).context("restoring consensus from the WAL")?;
    let (core, sign_state) = open_sign_state(config, genesis, store, core, consensus_key, tip)?;
    let last = core.sign_state().last;
    tracing::info!(
        height = %tip.height,
        wal_entries = wal_len,
        validator = me.0,
        epoch = epoch.number,
        sign_state_view = last.map(|signed| signed.view.0),
        sign_state_kind = ?last.map(|signed| signed.kind),
        "consensus restored"
    );
    Ok((core, wal_file, sign_state))
}

/// The key's sign-state file (docs/ARCHITECTURE.md "Storage"), and the core given what it
/// holds. The rules, in order:
/// - a file exists: the core signs nothing at or below its record (a data directory that is
///   empty or behind the record makes a node that follows until it is past it); a record the
///   WAL shows to be older is brought up to the WAL's;
/// - no file, and the WAL shows this key signed (a data directory from before sign states):
///   made from the WAL's last signature, no flag needed;
/// - no file, an empty WAL, and a store past genesis in an epoch this key validates: the key
///   may have signed what nothing here records, so the node refuses to start unless the
///   operator passes `--recreate-lost-sign-state`; with it, the record is the store's tip
///   (the node signs nothing up to the tip's view);
/// - otherwise (a new validator): a file with nothing signed.
fn open_sign_state(
    config: &NodeConfig,
    genesis: &Genesis,
    store: &Store,
    core: Core<Ed25519Scheme>,
    consensus_key: &tally_types::SecretKey,
    tip: BlockRef,
) -> anyhow::Result<(Core<Ed25519Scheme>, SignStateFile<std::fs::File>)> {
    let key_path =
        config.consensus_key.as_deref().ok_or_else(|| anyhow!("a validator needs a consensus key"))?;
    let path = sign_state::path_for_key(key_path);
    let genesis_hash = genesis.hash();
    if let Some(mut file) = sign_state::open_file(&path, &genesis_hash)? {
        let core = core.with_sign_state(file.state());
        file.write(&core.sign_state())?;
        return Ok((core, file));
    }
    let from_wal = core.sign_state();
    let signed_before = from_wal.last.is_some() || validated_tip(store, genesis, consensus_key, tip)?;
    let initial = if from_wal.last.is_some() {
        tracing::info!(sign_state = %path.display(), "no sign state beside the key: made from the WAL's last signature");
        from_wal
    } else if signed_before {
        if !config.recreate_lost_sign_state {
            bail!(
                "the consensus key has no sign state ({} is missing) but this data directory shows it \
                 validated up to height {}: it may have signed votes nothing here records, and starting \
                 would risk signing twice. If the key signed nothing beyond this data directory (no other \
                 copy of it ran), start with `tally-node run --recreate-lost-sign-state`",
                path.display(),
                tip.height
            );
        }
        tracing::warn!(
            sign_state = %path.display(),
            view = tip.view.0,
            "--recreate-lost-sign-state: recreating the sign state at the store's tip; signing nothing up to its view"
        );
        SignState { last: Some(Signed { view: tip.view, kind: SignKind::Finalize, digest: tip.id.0 }) }
    } else {
        SignState::default()
    };
    let file = sign_state::create_file(&path, &genesis_hash, initial)?;
    Ok((core.with_sign_state(initial), file))
}

/// Whether `key` validated the epoch of the store's tip block (false at genesis).
fn validated_tip(
    store: &Store,
    genesis: &Genesis,
    key: &tally_types::SecretKey,
    tip: BlockRef,
) -> anyhow::Result<bool> {
    if tip.height == Height(0) {
        return Ok(false);
    }
    let snapshot = store.snapshot()?;
    let validators = match EpochRules::at(&snapshot, tip.height)? {
        Some(epoch) => epoch.validators,
        None => genesis.validator_set(),
    };
    Ok(validators.index_of(&key.public_key()).is_some())
}

/// Refuses a data directory whose `node.redb` or `wal.redb` is there but empty: opening would
/// make a new store and a validator that forgot its chain (and, for the WAL, its votes). Such
/// files are never left by a crash (files are made under another name and renamed); an
/// operator who wants to re-sync deletes them, or the directory.
fn refuse_emptied_files(config: &NodeConfig) -> anyhow::Result<()> {
    for path in [store_path(config), config.data_dir.join(tally_store::WAL_FILE_NAME)] {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == 0 => bail!(
                "{} is empty (0 bytes): refusing to start it as a new store. A data file is never left \
                 empty by a crash; to re-sync this node from its peers, delete the file (or the whole data \
                 directory) explicitly",
                path.display()
            ),
            Ok(meta) if !meta.is_file() => bail!("{} is not a file", path.display()),
            _ => {}
        }
    }
    Ok(())
}

/// Every validator of an epoch as a network peer, in index order.
fn net_peers(peers: &[super::io::ValidatorPeer]) -> anyhow::Result<Vec<Peer>> {
    peers
        .iter()
        .map(|peer| {
            let peer_id = tally_net::peer_id_from_public_key(&peer.network_key.0)?;
            let addr = peer.p2p_listen.parse().with_context(|| format!("p2p_listen {}", peer.p2p_listen))?;
            Ok(Peer { peer_id, addr })
        })
        .collect()
}

/// Starts a validator from its configuration: genesis, keys, store, consensus core restored
/// from the WAL, network and HTTP server. Returns the engine and its channels; run them with
/// [`NodeEngine::run`]. Fails with [`NotInEpoch`] when its key does not validate the next
/// block (see [`validates_now`]).
pub async fn start(config: &NodeConfig) -> anyhow::Result<(NodeEngine, Channels)> {
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("loading genesis {}", config.genesis.display()))?;
    let (consensus_key, network_key) = validator_keys(config)?;
    let chain_id = genesis.chain_id().clone();
    refuse_emptied_files(config)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = Arc::new(open_store(&store_path(config), &genesis)?);
    let tip = store_tip(&store, &genesis)?;
    // The validators of the next block's epoch, by the committed state: genesis's until
    // governance changes them (docs/ARCHITECTURE.md "Governance and epochs").
    let (epoch, me, validator_peers) = epoch_seat(&store, &genesis, &consensus_key, &network_key)?;
    let (core, wal_file, sign_state) =
        restore_core(config, &genesis, &store, &epoch, me, &consensus_key, tip)?;
    let net_peers = net_peers(&validator_peers)?;
    let peers: Vec<PeerId> = net_peers.iter().map(|peer| peer.peer_id).collect();
    let entry = &validator_peers[usize::from(me.0)];
    let listen = match &config.p2p_listen {
        Some(addr) => addr.clone(),
        None => entry.p2p_listen.parse().context("own p2p_listen on the ledger")?,
    };
    let (handle, events) = start_network(config, &genesis, &network_key, listen, net_peers)?;
    let api = ApiParts::new(config, &store, &genesis, tip.height)?;
    let http_listen = match config.http_listen {
        Some(addr) => addr,
        None => genesis
            .validators()
            .iter()
            .find(|validator| validator.consensus_key == consensus_key.public_key())
            .map(|validator| validator.http_listen)
            .ok_or_else(|| anyhow!("set http.listen in node.toml: this validator is not in genesis"))?,
    };
    serve_api(http_listen, api.state, &config.http_cors_origins, config.http_limits).await?;
    let ApiParts { status, committed, submissions, metrics, assets, .. } = api;

    let mempool = Mempool::new(config.mempool.clone(), chain_id.clone()).map_err(|error| anyhow!(error))?;
    let shared = Shared {
        store,
        mempool: Arc::new(Mutex::new(mempool)),
        rules: chain_rules(&genesis, me).in_epoch(&epoch),
        pace: Arc::new(BuildPace::new(Duration::from_millis(
            config.build_ms_max.unwrap_or(genesis.params().timeout_propose_ms / 2),
        ))),
        metrics,
        assets,
        check_invariants: cfg!(debug_assertions),
    };
    let seat = Seat { chain_id, consensus_key, epoch, core, wal: wal_file, sign_state, tip };
    Ok(assemble(seat, shared, handle, peers, Channels0 { events, submissions }, status, committed))
}

/// A full node whose consensus key has just entered the epoch of its next block becomes a
/// validator: the same store, network and HTTP API, a consensus core for that epoch, and the
/// network's dial and allow lists set to the epoch's validators.
pub async fn start_resumed(config: &NodeConfig, resumed: Resumed) -> anyhow::Result<(NodeEngine, Channels)> {
    let genesis = Genesis::load(&config.genesis)
        .with_context(|| format!("loading genesis {}", config.genesis.display()))?;
    let (consensus_key, network_key) = validator_keys(config)?;
    let chain_id = genesis.chain_id().clone();
    let Resumed { mut shared, handle, events, submissions, status, committed } = resumed;
    let tip = store_tip(&shared.store, &genesis)?;
    let (epoch, me, validator_peers) = epoch_seat(&shared.store, &genesis, &consensus_key, &network_key)?;
    let (core, wal_file, sign_state) =
        restore_core(config, &genesis, &shared.store, &epoch, me, &consensus_key, tip)?;
    let net_peers = net_peers(&validator_peers)?;
    let peers: Vec<PeerId> = net_peers.iter().map(|peer| peer.peer_id).collect();
    handle.set_validators(net_peers).await?;
    tracing::info!(epoch = epoch.number, validator = me.0, height = %tip.height, "this node now validates");
    shared.rules = chain_rules(&genesis, me).in_epoch(&epoch);
    shared.pace = Arc::new(BuildPace::new(Duration::from_millis(
        config.build_ms_max.unwrap_or(genesis.params().timeout_propose_ms / 2),
    )));
    let seat = Seat { chain_id, consensus_key, epoch, core, wal: wal_file, sign_state, tip };
    Ok(assemble(seat, shared, handle, peers, Channels0 { events, submissions }, status, committed))
}

/// What makes this node a validator of its epoch.
struct Seat {
    chain_id: ChainId,
    consensus_key: tally_types::SecretKey,
    epoch: EpochRules,
    core: Core<Ed25519Scheme>,
    wal: Wal,
    sign_state: SignStateFile<std::fs::File>,
    tip: BlockRef,
}

/// The network's and the API's ends of the engine's channels.
struct Channels0 {
    events: mpsc::Receiver<NetEvent>,
    submissions: mpsc::Receiver<Submission>,
}

/// The engine around a validator's seat, its shared parts and its network.
fn assemble(
    seat: Seat,
    shared: Shared,
    handle: NetHandle,
    peers: Vec<PeerId>,
    channels: Channels0,
    status: watch::Sender<NodeStatus>,
    committed: watch::Sender<Height>,
) -> (NodeEngine, Channels) {
    let (net, workers, results) = libp2p_parts(handle, peers);
    let engine = Engine::new(Parts {
        core: seat.core,
        epoch_cores: epoch_cores(seat.chain_id, seat.consensus_key),
        wal: seat.wal,
        sign_state: Box::new(seat.sign_state),
        net,
        clock: SystemClock::new(),
        workers,
        shared,
        validators: seat.epoch.validators.len(),
        tip: seat.tip,
        propose_timeout_ms: seat.epoch.params.timeout_propose_ms,
        status,
        committed,
    });
    (engine, Channels { events: channels.events, submissions: channels.submissions, results })
}
