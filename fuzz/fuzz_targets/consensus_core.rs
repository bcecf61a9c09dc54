//! The consensus core (node/consensus) under arbitrary schedules: three honest cores and one
//! Byzantine validator (index 3, f = 1 of n = 4), joined by a network the input controls. Each
//! action delivers, duplicates, drops or replays a message, fires a timer, answers a fetch, or
//! has the Byzantine validator send what it likes: votes and proposals for any view and block,
//! certificates assembled from every vote seen on the wire, or raw bytes decoded as a message.
//!
//! The safety oracle, in the spirit of tests/sim's (it judges only what crosses the wire and
//! what the cores commit, never the core's own bookkeeping): no two different blocks are
//! committed or finalized at one height; each node commits a chain (height + 1, linked to its
//! parent); no evidence names an honest validator; and no core panics.
//!
//! Signatures use a keyed-BLAKE3 MAC per validator, the stand-in tests/sim uses for most seeds:
//! the input cannot forge an honest validator's MAC, and the fuzzer spends its time in the
//! protocol rather than in curve arithmetic.
#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally_consensus::{
    BlockRef, Config, Core, Effect, Evidence, Input, Message, Recipient, Scheme, Timer, TimerKind,
};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::BoundedVec;
use tally_types::keys::signing_message;
use tally_types::{
    Block, BlockId, Certificate, ChainId, Hash, Header, Height, Namespace, Proposal, SecretKey, Signature,
    Subject, ValidatorIndex, ValidatorSet, View, Vote, decode,
};

const N: usize = 4;
const HONEST: usize = 3;
const BYZANTINE: ValidatorIndex = ValidatorIndex(3);
const ACTIONS_MAX: usize = 400;
/// Deliveries one `Flush` may make; bounds an execution's work.
const FLUSH_DELIVERIES_MAX: usize = 64;
const IN_FLIGHT_MAX: usize = 512;
const SEEN_MAX: usize = 256;
/// A block whose state root starts with this byte fails verification on every honest host.
const INVALID_MARK: u8 = 0xEE;

/// A validator's MAC key.
fn mac_key(index: usize) -> [u8; 32] {
    blake3::derive_key("tally fuzz consensus scheme", &[index as u8])
}

#[derive(Clone)]
struct MacScheme {
    me: usize,
    chain_id: ChainId,
    keys: Arc<Vec<[u8; 32]>>,
}

fn mac(key: &[u8; 32], chain_id: &ChainId, namespace: Namespace, payload: &[u8]) -> Signature {
    let message = signing_message(namespace, chain_id, payload);
    let mut out = [0u8; 64];
    blake3::Hasher::new_keyed(key).update(&message).finalize_xof().fill(&mut out);
    Signature(out)
}

impl Scheme for MacScheme {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        mac(&self.keys[self.me], &self.chain_id, namespace, payload)
    }
    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        self.keys
            .get(usize::from(signer.0))
            .is_some_and(|key| mac(key, &self.chain_id, namespace, payload) == *signature)
    }
}

#[derive(Arbitrary, Debug)]
enum Action {
    Deliver {
        pick: u16,
    },
    Duplicate {
        pick: u16,
    },
    Drop {
        pick: u16,
    },
    /// Delivers in order until the network is quiet or the bound is reached.
    Flush,
    Timeout {
        node: u8,
        kind: u8,
    },
    Fetched {
        node: u8,
    },
    Vote {
        to: u8,
        kind: u8,
        view_back: u8,
        block: u8,
    },
    Propose {
        to: u8,
        view_back: u8,
        parent: u8,
        parent_view_back: u8,
        salt: u8,
    },
    Certificate {
        to: u8,
        kind: u8,
        view_back: u8,
        block: u8,
    },
    Replay {
        pick: u16,
        to: u8,
    },
    Raw {
        to: u8,
        bytes: Vec<u8>,
    },
}

struct Host {
    core: Core<MacScheme>,
    timers: BTreeMap<TimerKind, Timer>,
    fetches: Vec<BlockId>,
    /// The last block this node committed.
    committed: BlockRef,
}

struct World {
    chain_id: ChainId,
    validators: ValidatorSet,
    genesis: BlockRef,
    hosts: Vec<Host>,
    in_flight: VecDeque<(ValidatorIndex, usize, Message)>,
    /// Messages any node sent, for the Byzantine validator to replay.
    seen: VecDeque<Message>,
    /// Every vote signature seen, per subject, for the Byzantine validator's certificates.
    votes: BTreeMap<Vec<u8>, (Subject, BTreeMap<u16, Signature>)>,
    blocks: Vec<Block>,
    block_index: BTreeMap<BlockId, usize>,
    /// The oracle's record: the one block committed or finalized at each height.
    final_at: BTreeMap<Height, BlockId>,
}

impl World {
    fn new() -> World {
        let chain_id = ChainId::new("tally-fuzz").expect("valid chain id");
        let keys: Vec<SecretKey> = (0..N).map(|k| SecretKey::from_seed(&[k as u8 + 1; 32])).collect();
        let validators =
            ValidatorSet::new(keys.iter().map(SecretKey::public_key).collect()).expect("valid set");
        let genesis = BlockRef::genesis(BlockId(Hash([0xAA; 32])), 1_000);
        let macs = Arc::new((0..N).map(mac_key).collect::<Vec<_>>());
        let mut world = World {
            chain_id: chain_id.clone(),
            validators: validators.clone(),
            genesis,
            hosts: Vec::new(),
            in_flight: VecDeque::new(),
            seen: VecDeque::new(),
            votes: BTreeMap::new(),
            blocks: Vec::new(),
            block_index: BTreeMap::new(),
            final_at: BTreeMap::new(),
        };
        let mut starts = Vec::new();
        for me in 0..HONEST {
            #[allow(unused_mut)] // Changed only with the `broken-core` feature.
            let mut config =
                Config::new(chain_id.clone(), validators.clone(), ValidatorIndex(me as u16), genesis);
            #[cfg(feature = "broken-core")]
            {
                config.faults =
                    tally_consensus::Faults { notarize_twice_per_view: true, skip_nullification_check: true };
            }
            let scheme = MacScheme { me, chain_id: chain_id.clone(), keys: Arc::clone(&macs) };
            let mut core = Core::new(config, scheme).expect("valid config");
            starts.push(core.start());
            world.hosts.push(Host { core, timers: BTreeMap::new(), fetches: Vec::new(), committed: genesis });
        }
        for (node, effects) in starts.into_iter().enumerate() {
            world.perform(node, effects);
        }
        world
    }

    fn register(&mut self, block: &Block) {
        let id = block.id();
        if !self.block_index.contains_key(&id) {
            self.block_index.insert(id, self.blocks.len());
            self.blocks.push(block.clone());
        }
    }

    fn note_final(&mut self, height: Height, id: BlockId, what: &str) {
        let earlier = *self.final_at.entry(height).or_insert(id);
        assert_eq!(earlier, id, "safety: two different blocks {what} at height {height:?}");
    }

    fn observe(&mut self, message: &Message) {
        match message {
            Message::Vote(vote) => {
                let entry =
                    self.votes.entry(vote.subject.payload()).or_insert((vote.subject, BTreeMap::new()));
                entry.1.insert(vote.signer.0, vote.signature);
            }
            Message::Proposal(proposal) => self.register(&proposal.block),
            Message::Certificate(certificate) => {
                if let Subject::Finalize { block_id, .. } = certificate.subject {
                    if let Some(&index) = self.block_index.get(&block_id) {
                        let height = self.blocks[index].header.height;
                        self.note_final(height, block_id, "finalized");
                    }
                }
            }
        }
        if self.seen.len() == SEEN_MAX {
            self.seen.pop_front();
        }
        self.seen.push_back(message.clone());
    }

    /// Performs `effects` of honest `node`, feeding back persistence, verification and
    /// building at once, as a host with a fast disk would.
    fn perform(&mut self, node: usize, effects: Vec<Effect>) {
        let mut pending: VecDeque<Effect> = effects.into();
        while !pending.is_empty() {
            let mut follow_ups = Vec::new();
            let mut last_ticket = None;
            while let Some(effect) = pending.pop_front() {
                match effect {
                    Effect::Persist { ticket, .. } => last_ticket = Some(ticket),
                    Effect::Send { to, message } => self.send(node, to, message),
                    Effect::SetTimer { timer, .. } => {
                        self.hosts[node].timers.insert(timer.kind, timer);
                    }
                    Effect::VerifyBlock { view, block, .. } => {
                        self.register(&block);
                        let valid = block.header.state_root.0[0] != INVALID_MARK;
                        follow_ups.push(Input::BlockVerified { view, block_id: block.id(), valid });
                    }
                    Effect::BuildBlock { view, parent } => {
                        let block = self.build(ValidatorIndex(node as u16), view, parent, view.0 as u8);
                        self.register(&block);
                        follow_ups.push(Input::BlockBuilt { view, block });
                    }
                    Effect::Commit { block, finalization } => self.commit(node, &block, &finalization),
                    Effect::Fetch { block_id } => self.hosts[node].fetches.push(block_id),
                    Effect::Evidence(evidence) => self.check_evidence(&evidence),
                    Effect::Sync { .. } | Effect::PruneWal { .. } | Effect::PersistSignState(_) => {}
                }
            }
            if let Some(ticket) = last_ticket {
                follow_ups.insert(0, Input::Persisted(ticket));
            }
            for input in follow_ups {
                pending.extend(self.hosts[node].core.on_input(input));
            }
        }
    }

    fn send(&mut self, node: usize, to: Recipient, message: Message) {
        self.observe(&message);
        let targets: Vec<usize> = match to {
            Recipient::All => (0..HONEST).filter(|target| *target != node).collect(),
            Recipient::One(target) => vec![usize::from(target.0)],
        };
        for target in targets.into_iter().filter(|target| *target < HONEST) {
            if self.in_flight.len() < IN_FLIGHT_MAX {
                self.in_flight.push_back((ValidatorIndex(node as u16), target, message.clone()));
            }
        }
    }

    fn commit(&mut self, node: usize, block: &Block, finalization: &Certificate) {
        let host = &mut self.hosts[node];
        assert_eq!(block.header.height, host.committed.height.next(), "node {node} committed out of order");
        assert_eq!(block.header.parent_id, host.committed.id, "node {node} committed a block off its chain");
        assert!(
            matches!(finalization.subject, Subject::Finalize { .. }),
            "node {node} committed with a certificate that is not a finalization"
        );
        host.committed = BlockRef::of(block);
        self.register(block);
        self.note_final(block.header.height, block.id(), "committed");
    }

    fn check_evidence(&self, evidence: &Evidence) {
        let accused = match evidence {
            Evidence::ConflictingVotes { first, .. } => first.signer,
            Evidence::ConflictingProposals { first, .. } => self.validators.leader(first.view),
        };
        assert_eq!(accused, BYZANTINE, "evidence against honest validator {accused:?}: {evidence:?}");
    }

    fn build(&self, proposer: ValidatorIndex, view: View, parent: BlockRef, salt: u8) -> Block {
        let header = Header {
            chain_id: self.chain_id.clone(),
            height: parent.height.next(),
            view,
            parent_id: parent.id,
            time_ms: parent.time_ms + 1,
            proposer,
            tx_root: tx_root(&[]),
            receipts_root: receipts_root(&[]),
            state_root: Hash([salt; 32]),
            validators_hash: self.validators.hash(),
        };
        Block { header, txs: BoundedVec::empty() }
    }

    fn input(&mut self, node: usize, input: Input) {
        let effects = self.hosts[node].core.on_input(input);
        self.perform(node, effects);
    }

    fn deliver(&mut self, from: ValidatorIndex, to: usize, message: Message) {
        self.input(to, Input::Message { from, message });
    }

    fn byzantine_send(&mut self, to: u8, message: Message) {
        self.observe(&message);
        self.deliver(BYZANTINE, usize::from(to) % HONEST, message);
    }

    /// A view near the front: up to 2 past the highest honest view, back by `back`.
    fn near_view(&self, back: u8) -> View {
        let front = self.hosts.iter().map(|host| host.core.view().0).max().unwrap_or(1);
        View((front + 2).saturating_sub(u64::from(back % 16)).max(1))
    }

    fn pick_block(&self, pick: u8) -> Option<&Block> {
        (!self.blocks.is_empty()).then(|| &self.blocks[usize::from(pick) % self.blocks.len()])
    }

    fn subject(&self, kind: u8, view_back: u8, block: u8) -> Subject {
        let picked = self.pick_block(block).map(|block| (block.id(), block.header.view));
        let view = match picked {
            Some((_, view)) if view_back % 2 == 0 => view,
            _ => self.near_view(view_back / 2),
        };
        let block_id = picked.map_or(self.genesis.id, |(id, _)| id);
        match kind % 3 {
            0 => Subject::Notarize { view, block_id },
            1 => Subject::Nullify { view },
            _ => Subject::Finalize { view, block_id },
        }
    }

    fn byzantine_sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        mac(&mac_key(usize::from(BYZANTINE.0)), &self.chain_id, namespace, payload)
    }

    // Not split: one match over the actions, each arm a few lines.
    fn act(&mut self, action: Action) {
        let pick = |len: usize, pick: u16| (len > 0).then(|| usize::from(pick) % len);
        match action {
            Action::Deliver { pick: p } => {
                if let Some(index) = pick(self.in_flight.len(), p) {
                    let (from, to, message) = self.in_flight.remove(index).expect("in range");
                    self.deliver(from, to, message);
                }
            }
            Action::Duplicate { pick: p } => {
                if let Some(index) = pick(self.in_flight.len(), p) {
                    let (from, to, message) = self.in_flight[index].clone();
                    self.deliver(from, to, message);
                }
            }
            Action::Drop { pick: p } => {
                if let Some(index) = pick(self.in_flight.len(), p) {
                    self.in_flight.remove(index);
                }
            }
            Action::Flush => {
                for _ in 0..FLUSH_DELIVERIES_MAX {
                    let Some((from, to, message)) = self.in_flight.pop_front() else { break };
                    self.deliver(from, to, message);
                }
            }
            Action::Timeout { node, kind } => {
                let node = usize::from(node) % HONEST;
                let kinds =
                    [TimerKind::Leader, TimerKind::Advance, TimerKind::NullifyRetry, TimerKind::FetchRetry];
                if let Some(timer) = self.hosts[node].timers.remove(&kinds[usize::from(kind) % kinds.len()]) {
                    self.input(node, Input::Timeout(timer));
                }
            }
            Action::Fetched { node } => {
                let node = usize::from(node) % HONEST;
                let wanted = std::mem::take(&mut self.hosts[node].fetches);
                for id in wanted {
                    if let Some(&index) = self.block_index.get(&id) {
                        let block = self.blocks[index].clone();
                        self.input(node, Input::BlockFetched { block });
                    }
                }
            }
            Action::Vote { to, kind, view_back, block } => {
                let subject = self.subject(kind, view_back, block);
                let signature = self.byzantine_sign(subject.namespace(), &subject.payload());
                self.byzantine_send(to, Message::Vote(Vote { subject, signer: BYZANTINE, signature }));
            }
            Action::Propose { to, view_back, parent, parent_view_back, salt } => {
                // The Byzantine validator leads the views v with v mod 4 = 3.
                let near = self.near_view(view_back).0;
                let view = View(near - near % N as u64 + u64::from(BYZANTINE.0));
                let (parent_ref, parent_view) = match self.pick_block(parent) {
                    Some(block) if parent % 4 != 0 => {
                        let view = block.header.view;
                        (BlockRef::of(block), View(view.0.saturating_sub(u64::from(parent_view_back % 3))))
                    }
                    _ => (self.genesis, View(0)),
                };
                let block = self.build(BYZANTINE, view, parent_ref, salt);
                let payload = Proposal::payload(view, parent_view, block.id());
                let signature = self.byzantine_sign(Namespace::Proposal, &payload);
                self.register(&block);
                self.byzantine_send(to, Message::Proposal(Proposal { view, parent_view, block, signature }));
            }
            Action::Certificate { to, kind, view_back, block } => {
                let subject = self.subject(kind, view_back, block);
                let own = self.byzantine_sign(subject.namespace(), &subject.payload());
                let mut signed =
                    self.votes.get(&subject.payload()).map(|(_, votes)| votes.clone()).unwrap_or_default();
                signed.insert(BYZANTINE.0, own);
                let votes: Vec<(ValidatorIndex, Signature)> = signed
                    .into_iter()
                    .map(|(signer, signature)| (ValidatorIndex(signer), signature))
                    .collect();
                if votes.len() >= self.validators.quorum() {
                    if let Ok(certificate) = Certificate::from_votes(subject, &votes, N) {
                        self.byzantine_send(to, Message::Certificate(certificate));
                    }
                }
            }
            Action::Replay { pick: p, to } => {
                if let Some(index) = pick(self.seen.len(), p) {
                    let message = self.seen[index].clone();
                    self.deliver(BYZANTINE, usize::from(to) % HONEST, message);
                }
            }
            Action::Raw { to, bytes } => {
                if let Ok(message) = decode::<Message>(&bytes) {
                    self.byzantine_send(to, message);
                }
            }
        }
    }
}

fuzz_target!(|actions: Vec<Action>| {
    let mut world = World::new();
    for action in actions.into_iter().take(ACTIONS_MAX) {
        world.act(action);
    }
});
