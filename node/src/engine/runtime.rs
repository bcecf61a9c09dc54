//! The engine on tokio and libp2p: the production implementations of [`Clock`], [`Network`]
//! and [`Workers`], and the loop that feeds the driver.
//!
//! The driver runs on one task. Jobs run on tokio's blocking pool and report back on an
//! unbounded channel (its length is bounded by the jobs the driver allows in flight).
//! Network events and HTTP submissions arrive on bounded channels; job results are served
//! first (`biased`), so finishing work goes before taking new work.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tally_consensus::Ed25519Scheme;
use tally_net::{MessageId, NetEvent, NetHandle, Peer, PeerId, ReplyToken, Topic};
use tally_types::ValidatorIndex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::io::{Clock, Job, Lane, Network, RequestTag, ValidatorPeer, Verdict, Workers};
use super::{Engine, Event};
use crate::api::Submission;

/// Consensus messages queued for the network; beyond it messages are dropped (consensus
/// tolerates loss, and a queue this deep means the network task is far behind anyway).
pub const OUTBOUND_MAX: usize = 8_192;
/// How often fresh mempool transactions are gossiped and the status is refreshed.
const TICK_MS: u64 = 100;

/// The system clock.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock { start: Instant::now() }
    }

    /// The instant of a [`Clock::monotonic_ms`] reading.
    pub fn instant_at(&self, monotonic_ms: u64) -> Instant {
        self.start + Duration::from_millis(monotonic_ms)
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn unix_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as u64).unwrap_or(0)
    }

    fn monotonic_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// The libp2p network behind [`NetHandle`].
pub struct LibP2p {
    handle: NetHandle,
    /// Peer id of each validator, by index.
    peers: Vec<PeerId>,
    /// Validator index by peer id (observers are not validators and send no consensus).
    peer_index: HashMap<PeerId, ValidatorIndex>,
    /// Consensus messages in emission order (one task sends them, keeping the order the core
    /// relies on: justification before proposal before vote).
    outbound: mpsc::Sender<(PeerId, Vec<u8>)>,
    results: mpsc::UnboundedSender<Event<LibP2p>>,
}

impl Network for LibP2p {
    type Reply = ReplyToken;
    type Gossip = (MessageId, PeerId);

    fn send(&mut self, to: ValidatorIndex, bytes: Vec<u8>) {
        let Some(peer) = self.peers.get(usize::from(to.0)).copied() else { return };
        if self.outbound.try_send((peer, bytes)).is_err() {
            tracing::warn!(%peer, "outbound consensus queue full; message dropped");
        }
    }

    fn publish_txs(&mut self, bytes: Vec<u8>) {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            if let Err(error) = handle.publish(Topic::Transactions, bytes).await {
                tracing::debug!(%error, "tx gossip failed");
            }
        });
    }

    fn report(&mut self, (id, source): Self::Gossip, verdict: Verdict) {
        let verdict = match verdict {
            Verdict::Accept => tally_net::Verdict::Accept,
            Verdict::Ignore => tally_net::Verdict::Ignore,
            Verdict::Reject => tally_net::Verdict::Reject,
        };
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let _ = handle.report(id, source, verdict).await;
        });
    }

    fn request(&mut self, to: ValidatorIndex, bytes: Vec<u8>, tag: RequestTag) {
        let handle = self.handle.clone();
        let results = self.results.clone();
        let peer = self.peers.get(usize::from(to.0)).copied();
        tokio::spawn(async move {
            let answer = match peer {
                Some(peer) => match handle.request(peer, bytes).await {
                    Ok(answer) => Some(answer),
                    Err(error) => {
                        tracing::debug!(%peer, %error, "request failed");
                        None
                    }
                },
                None => None,
            };
            let _ = results.send(Event::Response { tag, bytes: answer });
        });
    }

    fn respond(&mut self, reply: Self::Reply, bytes: Vec<u8>) {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let _ = handle.respond(reply, bytes).await;
        });
    }

    fn set_validators(&mut self, peers: Vec<ValidatorPeer>) {
        let mut net_peers = Vec::with_capacity(peers.len());
        for peer in &peers {
            let peer_id = match tally_net::peer_id_from_public_key(&peer.network_key.0) {
                Ok(peer_id) => peer_id,
                Err(error) => {
                    tracing::error!(%error, "a validator's network key has no peer id; it stays unreachable");
                    continue;
                }
            };
            match peer.p2p_listen.parse() {
                Ok(addr) => net_peers.push(Peer { peer_id, addr }),
                Err(error) => {
                    tracing::error!(%error, addr = %peer.p2p_listen, "a validator's p2p address does not parse; it is not dialed")
                }
            }
        }
        self.peers = peers
            .iter()
            .map(|peer| {
                tally_net::peer_id_from_public_key(&peer.network_key.0).unwrap_or(self.handle.local_peer_id())
            })
            .collect();
        self.peer_index = index_peers(&self.peers);
        let handle = self.handle.clone();
        tokio::spawn(async move {
            if let Err(error) = handle.set_validators(net_peers).await {
                tracing::warn!(%error, "the network did not take the new validator set");
            }
        });
    }
}

/// Validator index by peer id.
pub fn index_peers(peers: &[PeerId]) -> HashMap<PeerId, ValidatorIndex> {
    peers.iter().enumerate().map(|(index, peer)| (*peer, ValidatorIndex(index as u16))).collect()
}

/// Jobs on tokio's blocking pool.
pub struct BlockingPool {
    results: mpsc::UnboundedSender<Event<LibP2p>>,
}

impl Workers<LibP2p> for BlockingPool {
    fn spawn(&mut self, lane: Lane, job: Job<LibP2p>) {
        let results = self.results.clone();
        tokio::task::spawn_blocking(move || {
            let _span = tracing::debug_span!("job", ?lane).entered();
            let event = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Event::JobPanicked { lane, message }
            });
            let _ = results.send(event);
        });
    }
}

/// The node's engine.
pub type NodeEngine = Engine<Ed25519Scheme, LibP2p, SystemClock, BlockingPool>;

/// What the engine's loop receives from, besides its own jobs.
pub struct Channels {
    pub events: mpsc::Receiver<NetEvent>,
    pub submissions: mpsc::Receiver<Submission>,
    pub results: mpsc::UnboundedReceiver<Event<LibP2p>>,
}

/// Builds the production network and workers around a libp2p handle.
pub fn libp2p_parts(
    handle: NetHandle,
    peers: Vec<PeerId>,
) -> (LibP2p, BlockingPool, mpsc::UnboundedReceiver<Event<LibP2p>>) {
    let (results_sender, results) = mpsc::unbounded_channel();
    let (outbound, mut outbound_receiver) = mpsc::channel::<(PeerId, Vec<u8>)>(OUTBOUND_MAX);
    let sender = handle.clone();
    tokio::spawn(async move {
        while let Some((peer, data)) = outbound_receiver.recv().await {
            if let Err(error) = sender.send_direct(peer, data).await {
                tracing::debug!(%peer, %error, "consensus send failed");
            }
        }
    });
    let peer_index = index_peers(&peers);
    let net = LibP2p { handle, peers, peer_index, outbound, results: results_sender.clone() };
    (net, BlockingPool { results: results_sender }, results)
}

impl NodeEngine {
    /// Runs the engine until the network stops or the engine fails.
    pub async fn run(mut self, mut channels: Channels) -> anyhow::Result<()> {
        self.start()?;
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        loop {
            let deadline = self
                .next_deadline_ms()
                .map(|at| self.clock.instant_at(at))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                Some(event) = channels.results.recv() => self.handle(event)?,
                () = tokio::time::sleep_until(deadline) => self.on_timers()?,
                event = channels.events.recv() => {
                    let Some(event) = event else { anyhow::bail!("the network event loop stopped") };
                    if let Some(event) = from_net(event, &mut self) {
                        self.handle(event)?;
                    }
                }
                Some(submission) = channels.submissions.recv() => self.handle(Event::Submitted(submission))?,
                _ = tick.tick() => self.handle(Event::Tick)?,
            }
        }
    }
}

fn from_net(event: NetEvent, engine: &mut NodeEngine) -> Option<Event<LibP2p>> {
    match event {
        NetEvent::Direct { peer, data } => {
            let from = *engine.net.peer_index.get(&peer)?;
            Some(Event::Message { from, bytes: data })
        }
        NetEvent::Gossip { topic: Topic::Transactions, source, id, data } => {
            Some(Event::Gossip { gossip: (id, source), bytes: data })
        }
        NetEvent::Gossip { source, id, .. } => {
            engine.net.report((id, source), Verdict::Ignore);
            None
        }
        NetEvent::Request { request, reply, .. } => Some(Event::Request { bytes: request, reply }),
        NetEvent::PeerConnected(_) => Some(Event::PeerUp),
        NetEvent::PeerDisconnected(_) => Some(Event::PeerDown),
    }
}
