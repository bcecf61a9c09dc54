//! Test fixtures: real ed25519 validator keys, blocks, signed proposals, votes and
//! certificates, a host that completes persistence, verification and building at once, and a
//! tiny in-order network for a few cores.

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use tally_consensus::{
    BlockRef, Config, Core, Ed25519Scheme, Effect, Input, Message, Recipient, Scheme, Ticket, WalEntry,
};
use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::BoundedVec;
use tally_types::{
    Block, BlockId, Certificate, ChainId, Hash, Header, Height, Namespace, Proposal, SecretKey, Signature,
    Subject, ValidatorIndex, ValidatorSet, View, Vote,
};

/// A scheme that counts verifications, to show what is dropped before any signature check.
#[derive(Clone)]
pub struct Counting {
    pub inner: Ed25519Scheme,
    pub verifications: Rc<Cell<u64>>,
}

impl Scheme for Counting {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        self.inner.sign(namespace, payload)
    }
    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        self.verifications.set(self.verifications.get() + 1);
        self.inner.verify(signer, namespace, payload, signature)
    }
}

pub struct Fixture {
    pub chain: ChainId,
    pub keys: Vec<SecretKey>,
    pub validators: ValidatorSet,
    pub genesis: BlockRef,
}

pub fn v(view: u64) -> View {
    View(view)
}

pub fn i(index: u16) -> ValidatorIndex {
    ValidatorIndex(index)
}

impl Fixture {
    pub fn new(n: usize) -> Self {
        let chain = ChainId::new("tally-test").expect("valid chain id");
        let keys: Vec<SecretKey> = (0..n).map(|k| SecretKey::from_seed(&[k as u8 + 1; 32])).collect();
        let validators =
            ValidatorSet::new(keys.iter().map(SecretKey::public_key).collect()).expect("valid set");
        let genesis = BlockRef::genesis(BlockId(Hash([0xAA; 32])), 1_000);
        Fixture { chain, keys, validators, genesis }
    }

    pub fn config(&self, me: u16) -> Config {
        Config::new(self.chain.clone(), self.validators.clone(), i(me), self.genesis)
    }

    pub fn scheme(&self, me: u16) -> Ed25519Scheme {
        Ed25519Scheme::new(self.chain.clone(), self.validators.clone(), self.keys[usize::from(me)].clone())
            .expect("key in set")
    }

    /// A started core; returns its start effects too.
    pub fn core(&self, me: u16) -> (Core<Ed25519Scheme>, Vec<Effect>) {
        self.core_with(self.config(me))
    }

    pub fn core_with(&self, config: Config) -> (Core<Ed25519Scheme>, Vec<Effect>) {
        let me = config.me.0;
        let mut core = Core::new(config, self.scheme(me)).expect("valid config");
        let effects = core.start();
        (core, effects)
    }

    pub fn leader(&self, view: u64) -> u16 {
        self.validators.leader(v(view)).0
    }

    /// A block for `view` by its leader, extending `parent`; `salt` makes distinct siblings.
    pub fn block(&self, parent: BlockRef, view: u64, salt: u8) -> Block {
        let header = Header {
            chain_id: self.chain.clone(),
            height: parent.height.next(),
            view: v(view),
            parent_id: parent.id,
            time_ms: parent.time_ms + 1,
            proposer: i(self.leader(view)),
            tx_root: tx_root(&[]),
            receipts_root: receipts_root(&[]),
            state_root: Hash([salt; 32]),
            validators_hash: self.validators.hash(),
        };
        Block { header, txs: BoundedVec::empty() }
    }

    pub fn proposal(&self, block: Block, parent_view: u64) -> Proposal {
        let view = block.header.view;
        let leader = usize::from(self.leader(view.0));
        let payload = Proposal::payload(view, v(parent_view), block.id());
        let signature = self.keys[leader].sign(Namespace::Proposal, &self.chain, &payload);
        Proposal { view, parent_view: v(parent_view), block, signature }
    }

    pub fn vote(&self, signer: u16, subject: Subject) -> Vote {
        Vote {
            subject,
            signer: i(signer),
            signature: subject.sign(&self.chain, &self.keys[usize::from(signer)]),
        }
    }

    pub fn certificate(&self, subject: Subject, signers: &[u16]) -> Certificate {
        let votes: Vec<(ValidatorIndex, Signature)> =
            signers.iter().map(|s| (i(*s), subject.sign(&self.chain, &self.keys[usize::from(*s)]))).collect();
        Certificate::from_votes(subject, &votes, self.validators.len()).expect("distinct signers")
    }

    pub fn notarization(&self, block: &Block, signers: &[u16]) -> Certificate {
        self.certificate(Subject::Notarize { view: block.header.view, block_id: block.id() }, signers)
    }

    pub fn nullification(&self, view: u64, signers: &[u16]) -> Certificate {
        self.certificate(Subject::Nullify { view: v(view) }, signers)
    }

    pub fn finalization(&self, block: &Block, signers: &[u16]) -> Certificate {
        self.certificate(Subject::Finalize { view: block.header.view, block_id: block.id() }, signers)
    }
}

pub fn message(from: u16, message: Message) -> Input {
    Input::Message { from: i(from), message }
}

pub fn cert_input(from: u16, certificate: Certificate) -> Input {
    message(from, Message::Certificate(certificate))
}

pub fn vote_input(from: u16, vote: Vote) -> Input {
    message(from, Message::Vote(vote))
}

pub fn proposal_input(from: u16, proposal: Proposal) -> Input {
    message(from, Message::Proposal(proposal))
}

/// Messages sent in `effects`.
pub fn sent(effects: &[Effect]) -> Vec<&Message> {
    effects
        .iter()
        .filter_map(|e| if let Effect::Send { message, .. } = e { Some(message) } else { None })
        .collect()
}

/// Votes sent in `effects`.
pub fn sent_votes(effects: &[Effect]) -> Vec<Vote> {
    sent(effects)
        .into_iter()
        .filter_map(|m| if let Message::Vote(v) = m { Some(v.clone()) } else { None })
        .collect()
}

/// Subjects of the votes this node signed (persisted) in `effects`.
pub fn signed_subjects(effects: &[Effect]) -> Vec<Subject> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist { entry: WalEntry::Vote(vote), .. } => Some(vote.subject),
            _ => None,
        })
        .collect()
}

pub fn last_ticket(effects: &[Effect]) -> Option<Ticket> {
    effects
        .iter()
        .rev()
        .find_map(|e| if let Effect::Persist { ticket, .. } = e { Some(*ticket) } else { None })
}

pub fn verify_requests(effects: &[Effect]) -> Vec<(View, Block)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::VerifyBlock { view, block, .. } => Some((*view, block.clone())),
            _ => None,
        })
        .collect()
}

pub fn commits(effects: &[Effect]) -> Vec<Block> {
    effects
        .iter()
        .filter_map(|e| if let Effect::Commit { block, .. } = e { Some(block.clone()) } else { None })
        .collect()
}

/// A host that performs persistence, verification and building at once, recording the WAL.
pub struct Host<S: Scheme> {
    pub core: Core<S>,
    pub wal: Vec<WalEntry>,
    /// Every effect the core produced, in order.
    pub log: Vec<Effect>,
    pub verify_valid: bool,
    pub build: bool,
}

impl<S: Scheme> Host<S> {
    pub fn new(core: Core<S>, start: Vec<Effect>) -> Self {
        let mut host = Host { core, wal: Vec::new(), log: Vec::new(), verify_valid: true, build: true };
        host.complete(start);
        host
    }

    /// Feeds `input`, then answers every Persist, VerifyBlock and BuildBlock until none is
    /// left; returns all effects produced.
    pub fn input(&mut self, input: Input) -> Vec<Effect> {
        let effects = self.core.on_input(input);
        self.complete(effects)
    }

    fn complete(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut all = Vec::new();
        let mut pending: VecDeque<Effect> = effects.into();
        while !pending.is_empty() {
            let mut follow_ups = Vec::new();
            let mut last_ticket = None;
            while let Some(effect) = pending.pop_front() {
                match &effect {
                    Effect::Persist { entry, ticket } => {
                        self.wal.push(entry.clone());
                        last_ticket = Some(*ticket);
                    }
                    Effect::VerifyBlock { view, block, .. } => follow_ups.push(Input::BlockVerified {
                        view: *view,
                        block_id: block.id(),
                        valid: self.verify_valid,
                    }),
                    Effect::BuildBlock { view, parent } if self.build => follow_ups
                        .push(Input::BlockBuilt { view: *view, block: build(&self.core, *view, *parent) }),
                    _ => {}
                }
                all.push(effect.clone());
                self.log.push(effect);
            }
            if let Some(ticket) = last_ticket {
                follow_ups.insert(0, Input::Persisted(ticket));
            }
            for input in follow_ups {
                pending.extend(self.core.on_input(input));
            }
        }
        all
    }
}

/// The block a host would build for `view` on `parent`.
pub fn build<S: Scheme>(core: &Core<S>, view: View, parent: BlockRef) -> Block {
    let config = core.config();
    let header = Header {
        chain_id: config.chain_id.clone(),
        height: Height(parent.height.0 + 1),
        view,
        parent_id: parent.id,
        time_ms: parent.time_ms + 1,
        proposer: config.me,
        tx_root: tx_root(&[]),
        receipts_root: receipts_root(&[]),
        state_root: Hash([view.0 as u8; 32]),
        validators_hash: config.validators.hash(),
    };
    Block { header, txs: BoundedVec::empty() }
}

/// What a filtered network run does with one message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fate {
    Deliver,
    /// Lost for good.
    Drop,
    /// Kept aside until [`Network::release_held`].
    Hold,
}

/// Cores joined by a lossless in-order network. Each delivered message carries its hop count
/// (1 + the hop count of the message whose delivery caused it), so tests can count hops.
pub struct Network<S: Scheme> {
    pub hosts: Vec<Host<S>>,
    queue: VecDeque<(u16, u16, Message, u32)>,
    held: VecDeque<(u16, u16, Message, u32)>,
    pub delivered: u64,
}

impl<S: Scheme> Network<S> {
    pub fn new(hosts: Vec<Host<S>>) -> Self {
        let mut network = Network { hosts, queue: VecDeque::new(), held: VecDeque::new(), delivered: 0 };
        for from in 0..network.hosts.len() {
            let log = network.hosts[from].log.clone();
            network.enqueue(from as u16, &log, 0);
        }
        network
    }

    fn enqueue(&mut self, from: u16, effects: &[Effect], hop: u32) {
        for effect in effects {
            if let Effect::Send { to, message } = effect {
                let targets: Vec<u16> = match to {
                    Recipient::All => (0..self.hosts.len() as u16).filter(|t| *t != from).collect(),
                    Recipient::One(target) => vec![target.0],
                };
                for target in targets {
                    self.queue.push_back((from, target, message.clone(), hop + 1));
                }
            }
        }
    }

    /// Delivers messages in order until `stop` holds or the network is quiet; returns the
    /// largest hop count delivered.
    pub fn run_until(&mut self, mut stop: impl FnMut(&[Host<S>]) -> bool, deliveries_max: u64) -> u32 {
        let mut hops = 0;
        while let Some((from, to, message, hop)) = self.queue.pop_front() {
            if stop(&self.hosts) {
                break;
            }
            assert!(self.delivered < deliveries_max, "network did not settle");
            self.delivered += 1;
            hops = hops.max(hop);
            let effects = self.hosts[usize::from(to)].input(message_input(from, message));
            self.enqueue(to, &effects, hop);
        }
        hops
    }

    /// Delivers messages in order until the network is quiet, dropping every message to or
    /// from `silent` (a crashed node).
    pub fn run_until_excluding(&mut self, silent: u16, deliveries_max: u64) {
        while let Some((from, to, message, hop)) = self.queue.pop_front() {
            if from == silent || to == silent {
                continue;
            }
            assert!(self.delivered < deliveries_max, "network did not settle");
            self.delivered += 1;
            let effects = self.hosts[usize::from(to)].input(message_input(from, message));
            self.enqueue(to, &effects, hop);
        }
    }

    /// Delivers messages in order until the network is quiet, asking `fate(from, to, message)`
    /// for each whether it is delivered, lost or held back.
    pub fn run_filtered(&mut self, mut fate: impl FnMut(u16, u16, &Message) -> Fate, deliveries_max: u64) {
        while let Some((from, to, message, hop)) = self.queue.pop_front() {
            match fate(from, to, &message) {
                Fate::Drop => continue,
                Fate::Hold => {
                    self.held.push_back((from, to, message, hop));
                    continue;
                }
                Fate::Deliver => {}
            }
            assert!(self.delivered < deliveries_max, "network did not settle");
            self.delivered += 1;
            let effects = self.hosts[usize::from(to)].input(message_input(from, message));
            self.enqueue(to, &effects, hop);
        }
    }

    /// Puts the held messages back on the network, ahead of anything queued.
    pub fn release_held(&mut self) {
        while let Some(message) = self.held.pop_back() {
            self.queue.push_front(message);
        }
    }

    /// Fires a timer on one node and routes the result.
    pub fn input(&mut self, node: u16, input: Input) {
        let effects = self.hosts[usize::from(node)].input(input);
        self.enqueue(node, &effects, 0);
    }
}

fn message_input(from: u16, message: Message) -> Input {
    Input::Message { from: i(from), message }
}

/// Node `me` (not 1, whose messages these are said to come from) after b1 (view 1) was
/// notarized and the views in `nullified` (of 2 and 3) were nullified. Node 0 leads view 4.
pub fn after_b1(
    fixture: &Fixture,
    me: u16,
    nullified: &[u64],
) -> (Host<tally_consensus::Ed25519Scheme>, Block) {
    let (core, start) = fixture.core(me);
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    host.input(cert_input(1, fixture.notarization(&b1, &[1, 2, 3])));
    for view in nullified {
        host.input(cert_input(1, fixture.nullification(*view, &[1, 2, 3])));
    }
    (host, b1)
}
