//! Start-up wiring: genesis, keys, store (genesis state written once), the consensus core
//! restored from the WAL, the network, the HTTP API, and the engine around them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow, bail};
use tally_consensus::{BlockRef, Config, Core, Ed25519Scheme, WalEntry};
use tally_genesis::Genesis;
use tally_ledger::tree::apply_updates;
use tally_net::{NetworkConfig, Peer};
use tally_store::{ChainIdentity, Store, Wal, state_writes, tree_writes};
use tally_types::{Height, ValidatorIndex, View, decode, limits};
use tokio::sync::{mpsc, watch};

use super::executor::ChainRules;
use super::runtime::{Channels, NodeEngine, SystemClock, libp2p_parts};
use super::{Engine, Parts, SUBMISSIONS_MAX, Shared};
use crate::api::{ApiLimits, ApiState, AssetCatalog, Metrics, NodeStatus, router};
use crate::config::NodeConfig;
use crate::mempool::Mempool;

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

/// The WAL entries in write order; a corrupt entry stops the node (DESIGN.md §5).
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
    let params = *genesis.params();
    let mut config = Config::new(genesis.chain_id().clone(), genesis.validator_set(), me, tip);
    config.leader_timeout_ms = params.timeout_propose_ms;
    config.advance_timeout_ms = params.timeout_notarize_ms;
    config.timeout_max_ms = params.timeout_max_ms;
    config
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

/// Starts a validator from its configuration: genesis, keys, store, consensus core restored
/// from the WAL, network and HTTP server. Returns the engine and its channels; run them with
/// [`NodeEngine::run`].
pub async fn start(config: &NodeConfig) -> anyhow::Result<(NodeEngine, Channels)> {
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
    let store = Arc::new(open_store(&store_path(config), &genesis)?);
    let tip = store_tip(&store, &genesis)?;
    // The WAL lives in its own file beside the store (moved there from node.redb once).
    let wal_file = Wal::open_beside(&store)?;
    let wal = read_wal(&wal_file)?;
    let wal_len = wal.len();
    let scheme = Ed25519Scheme::new(chain_id.clone(), validators.clone(), consensus_key)?;
    let core = Core::restore(consensus_config(&genesis, me, tip), scheme, wal)
        .context("restoring consensus from the WAL")?;
    tracing::info!(height = %tip.height, wal_entries = wal_len, validator = me.0, "consensus restored");

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
    let (handle, events, event_loop) = tally_net::build(net_config)?;
    tokio::spawn(event_loop.run());

    let metrics = Arc::new(Metrics::new());
    // Every asset in the committed state (genesis assets and those issued since), so that a
    // restarted node lists what earlier blocks created; later blocks add theirs as they commit.
    let stored_assets = tally_store::asset_ids(&store.snapshot()?, ASSETS_LISTED_MAX)
        .context("listing the assets in the store")?;
    let assets = AssetCatalog::new(stored_assets);
    let (status, status_receiver) =
        watch::channel(NodeStatus { height: tip.height, ..NodeStatus::default() });
    let (committed, committed_receiver) = watch::channel(tip.height);
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
    let (net, workers, results) = libp2p_parts(handle, peers);
    let shared = Shared {
        store,
        mempool: Arc::new(Mutex::new(mempool)),
        rules: chain_rules(&genesis, me),
        metrics,
        assets,
        check_invariants: cfg!(debug_assertions),
    };
    let engine = Engine::new(Parts {
        core,
        wal: wal_file,
        net,
        clock: SystemClock::new(),
        workers,
        shared,
        validators: validators.len(),
        tip,
        propose_timeout_ms: genesis.params().timeout_propose_ms,
        status,
        committed,
    });
    Ok((engine, Channels { events, submissions, results, peer_index }))
}
