//! The engine's seams to the outside world: a clock, a network and workers that run jobs off
//! the driver's thread. The node implements them on tokio and libp2p ([`super::runtime`]);
//! the simulator (`tests/sim`) implements them deterministically, so the engine it tests is
//! the engine that ships. Storage is the real [`tally_store::Store`] in both worlds: the
//! simulator opens it on a simulated disk (redb's `StorageBackend`), not on a copy of it.

use tally_types::{PublicKey, ValidatorIndex};

use super::Event;

/// Local time.
pub trait Clock {
    /// Wall-clock milliseconds since the Unix epoch: block times, the "not too far ahead" check.
    fn unix_ms(&self) -> u64;
    /// Milliseconds from an arbitrary start that never go back: timer deadlines.
    fn monotonic_ms(&self) -> u64;
}

/// What a gossip message was judged, reported back to the network (libp2p gossipsub scoring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Ignore,
    Reject,
}

/// Identifies an outstanding request; its answer comes back as [`Event::Response`].
pub type RequestTag = u64;

/// The validator network, as the driver uses it. Every call is non-blocking: messages are
/// queued (bounded; dropping is allowed, consensus tolerates loss) and answers come back as
/// events.
pub trait Network {
    /// A handle to answer one request with.
    type Reply: Send + 'static;
    /// A handle naming one received gossip message, for its verdict.
    type Gossip: Send + 'static;

    /// Sends a consensus message to one validator; messages to one validator keep their order.
    fn send(&mut self, to: ValidatorIndex, bytes: Vec<u8>);
    /// Gossips a batch of transactions ([`tally_types::wire::TxBatch`]) to every peer.
    fn publish_txs(&mut self, bytes: Vec<u8>);
    /// Reports the verdict on a received gossip message.
    fn report(&mut self, gossip: Self::Gossip, verdict: Verdict);
    /// Sends a request to one validator; the answer (or its failure) comes back as
    /// [`Event::Response`] with `tag`, always, exactly once.
    fn request(&mut self, to: ValidatorIndex, bytes: Vec<u8>, tag: RequestTag);
    /// Answers a request (an empty answer means "don't have it").
    fn respond(&mut self, reply: Self::Reply, bytes: Vec<u8>);
    /// The validators of a new epoch, in index order: messages to index i go to `peers[i]`,
    /// messages from it count as index i, and validators that left are cut off.
    fn set_validators(&mut self, peers: Vec<ValidatorPeer>);
}

/// How to reach a validator: its network key and the address it listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorPeer {
    pub network_key: PublicKey,
    pub p2p_listen: String,
}

/// The lanes jobs run on. Jobs of one lane may run in parallel unless the driver serializes
/// them (it keeps at most one executor and one writer job outstanding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Decoding and signature checks of incoming transactions.
    Ingress,
    /// Block building, verification and execution.
    Executor,
    /// Durable block commits.
    Writer,
    /// Reading the store to answer peers (sync ranges, blocks by id).
    Serve,
}

/// A unit of work off the driver's thread; its result comes back to the driver as an event.
pub type Job<N> = Box<dyn FnOnce() -> Event<N> + Send>;

/// Runs jobs. The node runs them on tokio's blocking pool; the simulator runs them at a
/// simulated time.
pub trait Workers<N: Network> {
    fn spawn(&mut self, lane: Lane, job: Job<N>);
}
