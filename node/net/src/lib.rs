//! The permissioned validator network: a libp2p swarm (TCP + Noise + Yamux) that admits only
//! allow-listed peers, gossips transactions and consensus messages, and answers
//! request-response queries (block sync, re-fetching what gossip lost).
//!
//! Payloads are opaque bytes: this crate knows nothing of consensus or the ledger. The node
//! decodes and checks every message and reports a verdict, and gossipsub forwards a message
//! only after an `Accept` ([`NetHandle::report`]), so invalid data stops at the first honest
//! node.
//!
//! Shape (rust-libp2p's file-sharing example, STYLE.md): [`build`] returns a cloneable
//! [`NetHandle`] that sends commands to the [`EventLoop`], which owns the swarm, and a bounded
//! receiver of [`NetEvent`]s.
//!
//! Invariants:
//! - A peer whose id is not in the allow list (genesis validators plus configured observers)
//!   is disconnected right after the Noise handshake proves its id; it can publish nothing,
//!   request nothing, and is never dialed.
//! - Every queue is bounded: commands, events, pending requests, frames (`*_bytes_max`).
//!   When the node falls behind, gossip events are dropped (gossip is lossy by design, and
//!   the re-fetch path recovers), never buffered without limit.
//! - Message ids are content hashes (blake3 of the data), so the same payload gossiped by two
//!   validators is one message. The flip side: gossipsub refuses to publish bytes it saw
//!   recently, so a deliberate re-send (consensus re-broadcasts a nullify or a certificate a
//!   peer may have missed) would be swallowed. Such messages go by [`NetHandle::send_direct`]:
//!   a framed one-way message to one peer on its own protocol, delivered every time it is
//!   sent, with no de-duplication.
//! - A peer that forwards more than `invalid_messages_max` gossip messages the node rejects
//!   ([`Verdict::Reject`]) within `invalid_window_ms` is penalized: logged at warn, its
//!   connections closed, and refused (not dialed, not accepted) for `penalty_ms`. Honest peers
//!   forward only what they accepted themselves, and rejection is decided from the bytes alone
//!   (undecodable, oversized), so only a faulty or malicious peer ever reaches the limit.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use libp2p::futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    StreamProtocol, Swarm, allow_block_list, connection_limits, gossipsub, identity, noise, request_response,
    tcp, yamux,
};
use tokio::sync::{mpsc, oneshot};

pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId};

/// Capacity of the command channel from handles to the event loop.
const COMMANDS_MAX: usize = 1024;
/// Outbound requests awaiting a response at once.
const PENDING_REQUESTS_MAX: usize = 1024;
/// Concurrent one-way message streams per connection.
const DIRECT_STREAMS_MAX: usize = 256;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("network key: {0}")]
    Key(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("network setup: {0}")]
    Setup(String),
    #[error("gossip publish failed: {0}")]
    Publish(String),
    #[error("request to {peer} failed: {reason}")]
    Request { peer: PeerId, reason: String },
    #[error("too many requests in flight ({PENDING_REQUESTS_MAX})")]
    TooManyRequests,
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge { what: &'static str, len: usize, max: usize },
    #[error("the network event loop has stopped")]
    Stopped,
}

/// The libp2p identity for a 32-byte ed25519 seed (the genesis tool's `network.key`).
pub fn keypair_from_seed(seed: [u8; 32]) -> Result<Keypair, NetError> {
    let mut seed = seed;
    let secret = identity::ed25519::SecretKey::try_from_bytes(&mut seed)
        .map_err(|error| NetError::Key(error.to_string()))?;
    Ok(identity::ed25519::Keypair::from(secret).into())
}

/// The peer id of a validator from its 32-byte ed25519 network public key (as in genesis).
pub fn peer_id_from_public_key(bytes: &[u8; 32]) -> Result<PeerId, NetError> {
    let public = identity::ed25519::PublicKey::try_from_bytes(bytes)
        .map_err(|error| NetError::Key(error.to_string()))?;
    Ok(identity::PublicKey::from(public).to_peer_id())
}

/// A peer this node keeps connected to: a validator from genesis.
#[derive(Clone, Debug)]
pub struct Peer {
    pub peer_id: PeerId,
    pub addr: Multiaddr,
}

/// Everything the network needs; validated by [`NetworkConfig::validate`].
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Names the gossip topics, so that two chains never exchange messages.
    pub chain_id: String,
    pub keypair: Keypair,
    pub listen_addr: Multiaddr,
    /// Every validator, this node included (it is skipped when dialing).
    pub validators: Vec<Peer>,
    /// Non-validators allowed to connect (they never get dialed).
    pub observers: Vec<PeerId>,
    pub gossip_bytes_max: usize,
    pub request_bytes_max: usize,
    pub response_bytes_max: usize,
    pub request_timeout_ms: u64,
    /// Connections to validators stay open this long without traffic.
    pub idle_timeout_ms: u64,
    /// How often disconnected validators are dialed again.
    pub redial_interval_ms: u64,
    /// Capacity of the event channel towards the node.
    pub events_max: usize,
    /// Rejected gossip messages a peer may forward within `invalid_window_ms` before it is
    /// penalized.
    pub invalid_messages_max: u32,
    pub invalid_window_ms: u64,
    /// How long a penalized peer stays disconnected and refused.
    pub penalty_ms: u64,
}

impl NetworkConfig {
    /// Defaults for everything but identity, addresses and peers.
    pub fn new(chain_id: String, keypair: Keypair, listen_addr: Multiaddr, validators: Vec<Peer>) -> Self {
        NetworkConfig {
            chain_id,
            keypair,
            listen_addr,
            validators,
            observers: Vec::new(),
            // Above the largest consensus message (an 8 MiB block in a proposal, DESIGN limits).
            gossip_bytes_max: 16 * 1024 * 1024,
            request_bytes_max: 64 * 1024,
            response_bytes_max: 16 * 1024 * 1024,
            request_timeout_ms: 10_000,
            idle_timeout_ms: 3_600_000,
            redial_interval_ms: 1_000,
            events_max: 4096,
            invalid_messages_max: 100,
            invalid_window_ms: 10_000,
            penalty_ms: 60_000,
        }
    }

    /// Checks every value, naming the field at fault.
    pub fn validate(&self) -> Result<(), NetError> {
        let positive = [
            ("gossip_bytes_max", self.gossip_bytes_max as u64),
            ("request_bytes_max", self.request_bytes_max as u64),
            ("response_bytes_max", self.response_bytes_max as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("redial_interval_ms", self.redial_interval_ms),
            ("events_max", self.events_max as u64),
            ("invalid_messages_max", u64::from(self.invalid_messages_max)),
            ("invalid_window_ms", self.invalid_window_ms),
            ("penalty_ms", self.penalty_ms),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(NetError::Setup(format!("{field} must be positive")));
            }
        }
        // Frames carry a 4-byte length; anything near 4 GiB is a configuration mistake.
        for (field, value) in [
            ("gossip_bytes_max", self.gossip_bytes_max),
            ("request_bytes_max", self.request_bytes_max),
            ("response_bytes_max", self.response_bytes_max),
        ] {
            if value > 256 * 1024 * 1024 {
                return Err(NetError::Setup(format!("{field} = {value} is above 256 MiB")));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for peer in &self.validators {
            if !seen.insert(peer.peer_id) {
                return Err(NetError::Setup(format!("validator peer {} is listed twice", peer.peer_id)));
            }
        }
        Ok(())
    }
}

/// A gossip topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Transactions for the mempools.
    Transactions,
    /// Proposals, votes and certificates.
    Consensus,
}

impl Topic {
    fn name(self, chain_id: &str) -> String {
        match self {
            Topic::Transactions => format!("/tally/{chain_id}/txs/1"),
            Topic::Consensus => format!("/tally/{chain_id}/consensus/1"),
        }
    }
}

/// A gossip message id (the blake3 hash of its data).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(gossipsub::MessageId);

/// The node's verdict on a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it.
    Accept,
    /// Invalid: drop it and penalize the peer that sent it.
    Reject,
    /// Not useful (stale, duplicate): drop it without penalty.
    Ignore,
}

/// The handle for answering an inbound request.
#[derive(Debug)]
pub struct ReplyToken(request_response::ResponseChannel<Vec<u8>>);

/// Something the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message; the node must [`NetHandle::report`] a verdict for it.
    Gossip {
        topic: Topic,
        source: PeerId,
        id: MessageId,
        data: Vec<u8>,
    },
    /// A request from an allow-listed peer; answer with [`NetHandle::respond`].
    Request {
        peer: PeerId,
        request: Vec<u8>,
        reply: ReplyToken,
    },
    /// A one-way message sent to this node with [`NetHandle::send_direct`].
    Direct {
        peer: PeerId,
        data: Vec<u8>,
    },
    PeerConnected(PeerId),
    PeerDisconnected(PeerId),
}

enum Command {
    Publish { topic: Topic, data: Vec<u8>, reply: oneshot::Sender<Result<(), NetError>> },
    Report { id: MessageId, source: PeerId, verdict: Verdict },
    Request { peer: PeerId, data: Vec<u8>, reply: oneshot::Sender<Result<Vec<u8>, NetError>> },
    Respond { token: ReplyToken, data: Vec<u8> },
    Direct { peer: PeerId, data: Vec<u8> },
    Peers { reply: oneshot::Sender<Vec<PeerId>> },
    Penalized { reply: oneshot::Sender<Vec<PeerId>> },
    ListenAddrs { reply: oneshot::Sender<Vec<Multiaddr>> },
    SetValidators { validators: Vec<Peer> },
}

/// A cloneable handle to the network event loop.
#[derive(Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    gossip_bytes_max: usize,
    request_bytes_max: usize,
}

impl NetHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands.send(command).await.map_err(|_| NetError::Stopped)
    }

    /// Gossips `data` on `topic`.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() > self.gossip_bytes_max {
            return Err(NetError::TooLarge {
                what: "gossip message",
                len: data.len(),
                max: self.gossip_bytes_max,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { topic, data, reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Reports the verdict on a gossip message (forwarded only on `Accept`).
    pub async fn report(&self, id: MessageId, source: PeerId, verdict: Verdict) -> Result<(), NetError> {
        self.send(Command::Report { id, source, verdict }).await
    }

    /// Sends a request to `peer` and waits for its response (or the request timeout).
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetError> {
        if data.len() > self.request_bytes_max {
            return Err(NetError::TooLarge { what: "request", len: data.len(), max: self.request_bytes_max });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request { peer, data, reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Sends `data` to `peer` as a one-way message (at most `gossip_bytes_max`), delivered
    /// even if identical bytes were sent before. Returns once queued; delivery is best effort
    /// (a peer that is not connected does not get it), like gossip.
    pub async fn send_direct(&self, peer: PeerId, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() > self.gossip_bytes_max {
            return Err(NetError::TooLarge {
                what: "direct message",
                len: data.len(),
                max: self.gossip_bytes_max,
            });
        }
        self.send(Command::Direct { peer, data }).await
    }

    /// Answers an inbound request.
    pub async fn respond(&self, token: ReplyToken, data: Vec<u8>) -> Result<(), NetError> {
        self.send(Command::Respond { token, data }).await
    }

    /// Follows a change of the validator set (docs/ARCHITECTURE.md "Governance and epochs"):
    /// validators that left are refused and their connections closed (unless configured as
    /// observers), new ones are admitted and dialed; no restart.
    pub async fn set_validators(&self, validators: Vec<Peer>) -> Result<(), NetError> {
        self.send(Command::SetValidators { validators }).await
    }

    /// Peers connected now.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Peers { reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// Peers serving a penalty for invalid gossip (module invariants).
    pub async fn penalized_peers(&self) -> Result<Vec<PeerId>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Penalized { reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// Addresses the node listens on (useful with port 0).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ListenAddrs { reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }
}

/// Length-prefixed byte frames with a size cap per direction.
#[derive(Clone)]
struct FrameCodec {
    request_bytes_max: usize,
    response_bytes_max: usize,
}

async fn read_frame<T: libp2p::futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {max}"),
        ));
    }
    let mut data = vec![0u8; len];
    io.read_exact(&mut data).await?;
    Ok(data)
}

async fn write_frame<T: libp2p::futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    data: &[u8],
    max: usize,
) -> io::Result<()> {
    if data.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {max}", data.len()),
        ));
    }
    io.write_all(&(data.len() as u32).to_be_bytes()).await?;
    io.write_all(data).await?;
    io.close().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, self.request_bytes_max).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, self.response_bytes_max).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Vec<u8>) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request, self.request_bytes_max).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Vec<u8>) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, self.response_bytes_max).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    // Order matters: the allow list and the limits see every connection before the protocols.
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<FrameCodec>,
    direct: request_response::Behaviour<FrameCodec>,
}

/// Owns the swarm; run it with [`EventLoop::run`] on a tokio runtime.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    pending: HashMap<request_response::OutboundRequestId, oneshot::Sender<Result<Vec<u8>, NetError>>>,
    validators: Vec<Peer>,
    /// Non-validators allowed to connect; they stay allowed across validator-set changes.
    observers: std::collections::HashSet<PeerId>,
    topics: [(Topic, gossipsub::TopicHash); 2],
    topic_handles: [gossipsub::IdentTopic; 2],
    redial_interval: Duration,
    dropped_events: u64,
    misconduct: Misconduct,
}

/// Rejected gossip per peer, and the peers serving a penalty (module invariants).
struct Misconduct {
    invalid_max: u32,
    window: Duration,
    penalty: Duration,
    /// Per peer: start of its current window and rejections counted in it.
    counts: HashMap<PeerId, (std::time::Instant, u32)>,
    /// Penalized peers and when their penalty ends.
    penalized: HashMap<PeerId, std::time::Instant>,
}

impl Misconduct {
    /// Counts one rejected message from `peer`; true when this one crosses the limit (the
    /// peer is then penalized until `now + penalty`).
    fn offend(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        if self.penalized.contains_key(&peer) {
            return false;
        }
        let (start, count) = self.counts.entry(peer).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count <= self.invalid_max {
            return false;
        }
        self.counts.remove(&peer);
        self.penalized.insert(peer, now + self.penalty);
        true
    }

    /// Removes and returns the peers whose penalty is over.
    fn expired(&mut self, now: std::time::Instant) -> Vec<PeerId> {
        let over: Vec<PeerId> =
            self.penalized.iter().filter(|(_, until)| **until <= now).map(|(peer, _)| *peer).collect();
        for peer in &over {
            self.penalized.remove(peer);
        }
        // Windows long past carry no information; keep the map as small as the active peers.
        let window = self.window;
        self.counts.retain(|_, (start, _)| now.duration_since(*start) < window);
        over
    }
}

/// Builds the swarm, starts listening, and returns the handle, the event receiver and the loop.
pub fn build(config: NetworkConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>, EventLoop), NetError> {
    config.validate()?;
    let local_peer_id = config.keypair.public().to_peer_id();
    let mut swarm = new_swarm(&config)?;
    for peer in &config.validators {
        if peer.peer_id != local_peer_id {
            swarm.behaviour_mut().allow.allow_peer(peer.peer_id);
        }
    }
    for observer in &config.observers {
        swarm.behaviour_mut().allow.allow_peer(*observer);
    }
    let topic_handles = [
        gossipsub::IdentTopic::new(Topic::Transactions.name(&config.chain_id)),
        gossipsub::IdentTopic::new(Topic::Consensus.name(&config.chain_id)),
    ];
    for topic in &topic_handles {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(topic)
            .map_err(|error| NetError::Setup(format!("subscribe {topic}: {error}")))?;
    }
    swarm
        .listen_on(config.listen_addr.clone())
        .map_err(|error| NetError::Listen { addr: config.listen_addr.clone(), reason: error.to_string() })?;

    let (command_sender, commands) = mpsc::channel(COMMANDS_MAX);
    let (events, event_receiver) = mpsc::channel(config.events_max);
    let handle = NetHandle {
        commands: command_sender,
        local_peer_id,
        gossip_bytes_max: config.gossip_bytes_max,
        request_bytes_max: config.request_bytes_max,
    };
    let event_loop = EventLoop {
        swarm,
        commands,
        events,
        pending: HashMap::new(),
        validators: config.validators.into_iter().filter(|peer| peer.peer_id != local_peer_id).collect(),
        observers: config.observers.iter().copied().collect(),
        topics: [(Topic::Transactions, topic_handles[0].hash()), (Topic::Consensus, topic_handles[1].hash())],
        topic_handles,
        redial_interval: Duration::from_millis(config.redial_interval_ms),
        dropped_events: 0,
        misconduct: Misconduct {
            invalid_max: config.invalid_messages_max,
            window: Duration::from_millis(config.invalid_window_ms),
            penalty: Duration::from_millis(config.penalty_ms),
            counts: HashMap::new(),
            penalized: HashMap::new(),
        },
    };
    Ok((handle, event_receiver, event_loop))
}

/// The swarm of `config` before any peer is allowed: TCP with Noise and Yamux, connection
/// limits scaled to the allow list, gossip (strict validation, content-hash message ids) and
/// the two request-response protocols (sync, and one-way direct messages).
fn new_swarm(config: &NetworkConfig) -> Result<Swarm<Behaviour>, NetError> {
    let peer_count = config.validators.len() + config.observers.len();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(|message: &gossipsub::Message| {
            gossipsub::MessageId::from(blake3::hash(&message.data).as_bytes().to_vec())
        })
        .max_transmit_size(config.gossip_bytes_max + 1024)
        .heartbeat_interval(Duration::from_millis(500))
        .build()
        .map_err(|error| NetError::Setup(format!("gossipsub config: {error}")))?;
    let request_timeout = Duration::from_millis(config.request_timeout_ms);
    let codec = FrameCodec {
        request_bytes_max: config.request_bytes_max,
        response_bytes_max: config.response_bytes_max,
    };
    // Two connections per peer cover simultaneous dials in both directions; pending and
    // established totals scale with the allow list, which bounds who can hold one anyway.
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established_per_peer(Some(2))
        .with_max_pending_incoming(Some(2 * peer_count as u32 + 8))
        .with_max_established_incoming(Some(2 * peer_count as u32 + 8))
        .with_max_established(Some(4 * peer_count as u32 + 16));

    let keypair = config.keypair.clone();
    let gossip_bytes_max = config.gossip_bytes_max;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|error| NetError::Setup(format!("transport: {error}")))?
        .with_behaviour(|_| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
            let gossip =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(keypair), gossip_config)?;
            let sync = request_response::Behaviour::with_codec(
                codec.clone(),
                [(StreamProtocol::new("/tally/sync/1"), request_response::ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(request_timeout),
            );
            // One-way messages: the "request" is the message (up to the gossip limit) and the
            // response an empty acknowledgement.
            let direct = request_response::Behaviour::with_codec(
                FrameCodec { request_bytes_max: gossip_bytes_max, response_bytes_max: 0 },
                [(StreamProtocol::new("/tally/direct/1"), request_response::ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(DIRECT_STREAMS_MAX),
            );
            Ok(Behaviour {
                allow: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(limits),
                gossip,
                sync,
                direct,
            })
        })
        .map_err(|error| NetError::Setup(format!("behaviour: {error}")))?
        .with_swarm_config(|swarm_config| {
            swarm_config.with_idle_connection_timeout(Duration::from_millis(config.idle_timeout_ms))
        })
        .build();
    Ok(swarm)
}

impl EventLoop {
    /// Runs until every [`NetHandle`] is dropped.
    pub async fn run(mut self) {
        let mut redial = tokio::time::interval(self.redial_interval);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Local work before new remote work: commands first.
                biased;
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                _ = redial.tick() => self.redial(),
                event = self.swarm.select_next_some() => self.handle_swarm_event(event),
            }
        }
        tracing::debug!("network event loop stopped");
    }

    /// Ends the penalties that are over, then dials every validator that is neither connected,
    /// being dialed, nor penalized.
    fn redial(&mut self) {
        for peer in self.misconduct.expired(std::time::Instant::now()) {
            if self.validators.iter().any(|v| v.peer_id == peer) || self.observers.contains(&peer) {
                tracing::info!(%peer, "penalty over; the peer is allowed again");
                self.swarm.behaviour_mut().allow.allow_peer(peer);
            }
        }
        for peer in &self.validators {
            if self.swarm.is_connected(&peer.peer_id) || self.misconduct.penalized.contains_key(&peer.peer_id)
            {
                continue;
            }
            let options = DialOpts::peer_id(peer.peer_id)
                .addresses(vec![peer.addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(options) {
                tracing::trace!(peer = %peer.peer_id, %error, "dial not started");
            }
        }
    }

    fn topic_of(&self, hash: &gossipsub::TopicHash) -> Option<Topic> {
        self.topics.iter().find(|(_, h)| h == hash).map(|(topic, _)| *topic)
    }

    fn emit(&mut self, event: NetEvent) {
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                // The node is behind: drop rather than buffer without bound. Gossip is lossy and
                // re-fetched on demand; a dropped request times out at the requester.
                self.dropped_events += 1;
                if self.dropped_events.is_power_of_two() {
                    tracing::warn!(
                        dropped = self.dropped_events,
                        kind = event_kind(&event),
                        "network events dropped"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let index = match topic {
                    Topic::Transactions => 0,
                    Topic::Consensus => 1,
                };
                let result = match self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .publish(self.topic_handles[index].clone(), data)
                {
                    Ok(_) => Ok(()),
                    // With no peer yet, the message is simply not sent; consensus re-sends and
                    // the re-fetch path recover. Not an error worth failing the caller for.
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(()),
                    // The same content was already published (by us or a peer): nothing to do.
                    Err(gossipsub::PublishError::Duplicate) => Ok(()),
                    Err(error) => Err(NetError::Publish(error.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::Report { id, source, verdict } => {
                let acceptance = match verdict {
                    Verdict::Accept => gossipsub::MessageAcceptance::Accept,
                    Verdict::Reject => gossipsub::MessageAcceptance::Reject,
                    Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
                };
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&id.0, &source, acceptance);
                if verdict == Verdict::Reject {
                    self.offend(source);
                }
            }
            Command::Request { peer, data, reply } => {
                if self.pending.len() >= PENDING_REQUESTS_MAX {
                    let _ = reply.send(Err(NetError::TooManyRequests));
                    return;
                }
                let request_id = self.swarm.behaviour_mut().sync.send_request(&peer, data);
                self.pending.insert(request_id, reply);
            }
            Command::Respond { token, data } => {
                if self.swarm.behaviour_mut().sync.send_response(token.0, data).is_err() {
                    tracing::debug!("response not sent: the requester's stream is gone");
                }
            }
            Command::Direct { peer, data } => {
                // Fire and forget: failures (peer gone, timeout) are logged when they are reported.
                let _ = self.swarm.behaviour_mut().direct.send_request(&peer, data);
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Penalized { reply } => {
                let _ = reply.send(self.misconduct.penalized.keys().copied().collect());
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::SetValidators { validators } => self.set_validators(validators),
        }
    }

    /// Counts a rejected message against `peer`; past the limit, disallows it (which closes its
    /// connections) until the penalty is over.
    fn offend(&mut self, peer: PeerId) {
        if self.misconduct.offend(peer, std::time::Instant::now()) {
            tracing::warn!(
                %peer,
                invalid_messages_max = self.misconduct.invalid_max,
                window_ms = self.misconduct.window.as_millis() as u64,
                penalty_ms = self.misconduct.penalty.as_millis() as u64,
                "peer penalized: too many invalid gossip messages; disconnected and refused for the penalty"
            );
            self.swarm.behaviour_mut().allow.disallow_peer(peer);
        }
    }

    /// The allow list becomes the new validators plus the observers: a validator that left is
    /// disallowed, which closes its connections at once; a new one is allowed and dialed at
    /// the next redial.
    fn set_validators(&mut self, validators: Vec<Peer>) {
        let local = *self.swarm.local_peer_id();
        let validators: Vec<Peer> = validators.into_iter().filter(|peer| peer.peer_id != local).collect();
        for old in &self.validators {
            let stays = validators.iter().any(|peer| peer.peer_id == old.peer_id);
            if !stays && !self.observers.contains(&old.peer_id) {
                tracing::info!(peer = %old.peer_id, "validator left the set; its connections close");
                self.swarm.behaviour_mut().allow.disallow_peer(old.peer_id);
            }
        }
        for peer in &validators {
            if !self.validators.iter().any(|old| old.peer_id == peer.peer_id) {
                tracing::info!(peer = %peer.peer_id, addr = %peer.addr, "validator joined the set; dialing it");
            }
            if !self.misconduct.penalized.contains_key(&peer.peer_id) {
                self.swarm.behaviour_mut().allow.allow_peer(peer.peer_id);
            }
        }
        self.validators = validators;
    }

    // Not split: one short arm per swarm event kind; the match is the table of what the loop reacts to.
    fn handle_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => match self.topic_of(&message.topic) {
                Some(topic) => self.emit(NetEvent::Gossip {
                    topic,
                    source: propagation_source,
                    id: MessageId(message_id),
                    data: message.data,
                }),
                None => {
                    self.swarm.behaviour_mut().gossip.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        gossipsub::MessageAcceptance::Reject,
                    );
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.emit(NetEvent::Request { peer, request, reply: ReplyToken(channel) });
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            })) => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request { peer, reason: error.to_string() }));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::InboundFailure {
                peer,
                error,
                ..
            })) => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Direct(request_response::Event::Message {
                peer,
                message: request_response::Message::Request { request, channel, .. },
                ..
            })) => {
                // Acknowledge at once; the node handles the message on its own time.
                let _ = self.swarm.behaviour_mut().direct.send_response(channel, Vec::new());
                self.emit(NetEvent::Direct { peer, data: request });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Direct(request_response::Event::OutboundFailure {
                peer,
                error,
                ..
            })) => {
                tracing::debug!(%peer, %error, "direct message not delivered");
            }
            SwarmEvent::ConnectionEstablished { peer_id, num_established, .. }
                if num_established.get() == 1 =>
            {
                tracing::info!(peer = %peer_id, "peer connected");
                self.emit(NetEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. } => {
                tracing::info!(peer = %peer_id, cause = ?cause, "peer disconnected");
                self.emit(NetEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                tracing::debug!(from = %send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            _ => {}
        }
    }
}

fn event_kind(event: &NetEvent) -> &'static str {
    match event {
        NetEvent::Gossip { .. } => "gossip",
        NetEvent::Request { .. } => "request",
        NetEvent::Direct { .. } => "direct",
        NetEvent::PeerConnected(_) => "peer_connected",
        NetEvent::PeerDisconnected(_) => "peer_disconnected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn misconduct(max: u32) -> Misconduct {
        Misconduct {
            invalid_max: max,
            window: Duration::from_secs(10),
            penalty: Duration::from_secs(60),
            counts: HashMap::new(),
            penalized: HashMap::new(),
        }
    }

    #[test]
    fn a_peer_is_penalized_on_the_first_rejection_over_the_limit_within_a_window() {
        let (peer, start) = (PeerId::random(), Instant::now());
        let mut m = misconduct(3);
        assert!(!m.offend(peer, start));
        assert!(!m.offend(peer, start + Duration::from_secs(1)));
        assert!(!m.offend(peer, start + Duration::from_secs(2)));
        assert!(m.offend(peer, start + Duration::from_secs(3)), "the 4th within 10 s crosses 3");
        // Once penalized, more rejections do not penalize again (nor extend the penalty).
        assert!(!m.offend(peer, start + Duration::from_secs(4)));
        assert!(m.expired(start + Duration::from_secs(62)).is_empty());
        assert_eq!(m.expired(start + Duration::from_secs(63)), vec![peer]);
        assert!(m.penalized.is_empty());
    }

    #[test]
    fn rejections_spread_over_windows_never_penalize() {
        let (peer, start) = (PeerId::random(), Instant::now());
        let mut m = misconduct(3);
        for step in 0..30u64 {
            // Three per 10-second window, forever: at the limit, never over it.
            let at = start + Duration::from_secs(10 * (step / 3)) + Duration::from_millis(step % 3);
            assert!(!m.offend(peer, at), "step {step}");
        }
        assert!(m.penalized.is_empty());
        // Old windows are forgotten.
        assert!(m.expired(start + Duration::from_secs(1_000)).is_empty());
        assert!(m.counts.is_empty());
    }
}
