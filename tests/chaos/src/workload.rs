//! The workload: one client thread per member, each against its own node (moving to the next
//! after an unknown outcome), submitting one-op transactions — grants, transfers, burns,
//! orders and cancels, spend authorizations, holds and settlements — and recording every
//! outcome as ok (receipt read back), refused (the node did not admit it) or unknown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tally_client::http::{HttpError, NodeClient, Submitted};
use tally_client::txbuild::{self, GrantDetails};
use tally_genesis::init::asset_code_for;
use tally_types::tx::{GrantKind, OfferMode};
use tally_types::{Amount, AssetId, BoundedVec, ChainId, Hash, MemberId, OpId, Price, SecretKey, TxOutcome};

use crate::history::{Event, HistoryWriter, OpKind, Outcome, ReadRecord, TxRecord, now_ms};
use crate::rng::Rng;

/// How long a client polls for the receipt of an admitted transaction before calling it
/// unknown.
const COMMIT_WAIT: Duration = Duration::from_secs(15);
/// Blocks a transaction stays valid for: an unknown one is settled (in or out) soon after.
const VALID_FOR: u64 = 20;

/// What a client needs to know about the network.
#[derive(Clone)]
pub struct WorkloadNet {
    pub chain_id: ChainId,
    pub urls: Vec<String>,
    /// (member, issuer key) per member, in genesis order.
    pub issuers: Vec<(MemberId, SecretKey)>,
    pub seed: u64,
}

const ISSUER: usize = 0;
const USER: usize = 1;

struct Client {
    id: usize,
    net: WorkloadNet,
    node: usize,
    rng: Rng,
    keys: [SecretKey; 2],
    seqs: [u64; 2],
    member: MemberId,
    asset: AssetId,
    other_asset: AssetId,
    peer: tally_types::PublicKey,
    offers: Vec<OpId>,
    holds: Vec<(OpId, u128)>,
    authorized: bool,
    height: u64,
    history: HistoryWriter,
}

/// The user account of client `id` (a key derived from the seed).
pub fn user_key(seed: u64, id: usize) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(id as u64).to_le_bytes());
    bytes[31] = 0xC5;
    SecretKey::from_seed(&bytes)
}

fn asset_of(member: &MemberId) -> AssetId {
    AssetId::new(asset_code_for(member).expect("testnet members have asset codes"), member.clone())
}

/// Runs `clients` client threads until `stop` is set; returns when all have finished.
pub fn run(net: &WorkloadNet, clients: usize, history: &HistoryWriter, stop: &Arc<AtomicBool>) {
    let handles: Vec<_> = (0..clients)
        .map(|id| {
            let mut client = Client::new(net.clone(), id, clients, history.clone());
            let stop = Arc::clone(stop);
            std::thread::spawn(move || client.run(&stop))
        })
        .collect();
    for handle in handles {
        if handle.join().is_err() {
            eprintln!("chaos: a client thread panicked");
        }
    }
}

impl Client {
    fn new(net: WorkloadNet, id: usize, clients: usize, history: HistoryWriter) -> Self {
        let members = net.issuers.len();
        let (member, issuer) = net.issuers[id % members].clone();
        let other = net.issuers[(id + 1) % members].0.clone();
        Client {
            id,
            node: id % net.urls.len(),
            rng: Rng::derive(net.seed, 1_000 + id as u64),
            keys: [issuer, user_key(net.seed, id)],
            seqs: [0, 0],
            asset: asset_of(&member),
            other_asset: asset_of(&other),
            peer: user_key(net.seed, (id + 1) % clients).public_key(),
            member,
            offers: Vec::new(),
            holds: Vec::new(),
            authorized: false,
            height: 0,
            history,
            net,
        }
    }

    fn node_client(&self) -> NodeClient {
        NodeClient::new(&self.net.urls[self.node]).expect("node URLs are valid")
    }

    fn run(&mut self, stop: &AtomicBool) {
        for signer in [ISSUER, USER] {
            self.sync_seq(signer, None, stop);
        }
        while !stop.load(Ordering::Relaxed) {
            self.step();
            self.read_own_account();
        }
    }

    fn op_id(&mut self) -> OpId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        OpId(bytes)
    }

    /// One operation, chosen by the client's PRNG among those that make sense now.
    fn step(&mut self) {
        let roll = self.rng.below(100);
        let amount = u128::from(self.rng.range(1, 500));
        let user = self.keys[USER].public_key();
        if !self.authorized || roll < 5 {
            let expires = now_ms() + 86_400_000;
            let op = txbuild::authorize_spend_op(
                self.member.clone(),
                self.asset.clone(),
                Amount(1_000_000_000),
                expires,
                None,
            );
            let outcome = self.submit(USER, op, OpKind::Authorize, 0);
            self.authorized |= outcome == Outcome::Ok;
        } else if roll < 25 {
            let details = GrantDetails {
                grant_id: self.op_id(),
                kind: GrantKind::Promo,
                reason: None,
                external_ref: format!("chaos-{}", self.id),
                pack: None,
            };
            let op = txbuild::grant_op(self.asset.clone(), user, Amount(amount * 10), details)
                .expect("a promo grant needs no reason");
            self.submit(ISSUER, op, OpKind::Grant, amount * 10);
        } else if roll < 42 {
            let op = txbuild::transfer_op(self.asset.clone(), self.peer, Amount(amount));
            self.submit(USER, op, OpKind::Transfer, amount);
        } else if roll < 50 {
            let op = txbuild::burn_op(self.asset.clone(), Amount(amount / 4 + 1));
            self.submit(USER, op, OpKind::Burn, amount / 4 + 1);
        } else if roll < 63 || (roll < 72 && self.offers.is_empty()) {
            let offer_id = self.op_id();
            let price = Price { numerator: 1, denominator: 1 };
            let op = txbuild::place_offer_op(
                offer_id,
                self.asset.clone(),
                self.other_asset.clone(),
                Amount(amount),
                price,
                OfferMode::Normal,
            );
            if self.submit(USER, op, OpKind::Order, amount) == Outcome::Ok {
                self.offers.push(offer_id);
            }
        } else if roll < 72 {
            let offer_id = self.offers.remove(self.rng.below(self.offers.len() as u64) as usize);
            self.submit(USER, txbuild::cancel_offer_op(offer_id), OpKind::Cancel, 0);
        } else if roll < 86 || self.holds.is_empty() {
            let hold_id = self.op_id();
            let op = txbuild::hold_op(hold_id, user, self.asset.clone(), Amount(amount), now_ms() + 600_000);
            if self.submit(ISSUER, op, OpKind::Hold, amount) == Outcome::Ok {
                self.holds.push((hold_id, amount));
            }
        } else {
            let (hold_id, held) = self.holds.remove(self.rng.below(self.holds.len() as u64) as usize);
            let capture = held / 2 + 1;
            let batch_id = self.op_id();
            let op = txbuild::settle_op(hold_id, batch_id, Amount(capture), Hash::ZERO, BoundedVec::empty());
            self.submit(ISSUER, op, OpKind::Settle, capture);
        }
    }

    /// Signs `op` with `signer` at its next seq, submits it and records the outcome.
    fn submit(&mut self, signer: usize, op: tally_types::Op, kind: OpKind, amount: u128) -> Outcome {
        let seq = self.seqs[signer] + 1;
        let valid_until = txbuild::valid_until(tally_types::Height(self.height), VALID_FOR);
        let tx = match txbuild::build_signed(
            &self.keys[signer],
            &self.net.chain_id,
            seq,
            valid_until,
            vec![op],
            b"",
        ) {
            Ok(tx) => tx,
            Err(error) => panic!("client {} built an invalid transaction: {error}", self.id),
        };
        let tx_id = tx.id();
        let start_ms = now_ms();
        let node = self.node;
        let client = self.node_client();
        let (outcome, height, success, error) = match client.submit(&tx, false) {
            Ok(Submitted::Committed(inclusion)) => (
                Outcome::Ok,
                Some(inclusion.height.0),
                Some(inclusion.receipt.outcome == TxOutcome::Success),
                None,
            ),
            Ok(Submitted::Admitted(_)) => poll_commit(&client, &tx_id),
            Err(HttpError::Problem { status, detail, tx_id: None, .. })
                if (400..500).contains(&status) && status != 408 =>
            {
                (Outcome::Refused, None, None, Some(format!("HTTP {status}: {detail}")))
            }
            Err(HttpError::Transport { source, url }) if never_sent(&source) => {
                (Outcome::Refused, None, None, Some(format!("{url}: {source}")))
            }
            Err(error) => (Outcome::Unknown, None, None, Some(error.to_string())),
        };
        let record = TxRecord {
            client: self.id,
            node,
            kind,
            tx_id: tx_id.to_string(),
            signer: self.keys[signer].public_key().to_string(),
            seq,
            valid_until: valid_until.0,
            asset: self.asset.to_string(),
            amount,
            outcome,
            height,
            success,
            error,
            start_ms,
            end_ms: now_ms(),
        };
        self.history.record(Event::Tx(record));
        match outcome {
            Outcome::Ok => {
                self.seqs[signer] = seq;
                self.height = self.height.max(height.unwrap_or(0));
            }
            Outcome::Refused => self.sync_seq(signer, None, &AtomicBool::new(false)),
            Outcome::Unknown => {
                self.node = (self.node + 1) % self.net.urls.len();
                self.sync_seq(signer, Some((seq, valid_until.0)), &AtomicBool::new(false));
            }
        }
        outcome
    }

    /// Reads `signer`'s seq from a node. After an unknown outcome (`pending` = its seq and
    /// last valid height), waits until it either committed or can no longer, so the next
    /// transaction never races it for the same seq. Gives up after two minutes (the next
    /// transaction may then be refused, which is recorded as such).
    fn sync_seq(&mut self, signer: usize, pending: Option<(u64, u64)>, stop: &AtomicBool) {
        let account = self.keys[signer].public_key();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) && !stop.load(Ordering::Relaxed) {
            match self.node_client().account(&account) {
                Ok(info) => {
                    self.height = self.height.max(info.height.0);
                    let settled = pending
                        .is_none_or(|(seq, valid_until)| info.seq >= seq || info.height.0 > valid_until);
                    if settled {
                        self.seqs[signer] = info.seq;
                        return;
                    }
                }
                Err(_) => self.node = (self.node + 1) % self.net.urls.len(),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn read_own_account(&mut self) {
        let account = self.keys[USER].public_key();
        if let Ok(info) = self.node_client().account(&account) {
            self.height = self.height.max(info.height.0);
            self.history.record(Event::Read(ReadRecord {
                client: self.id,
                node: self.node,
                account: account.to_string(),
                height: info.height.0,
                seq: info.seq,
                at_ms: now_ms(),
            }));
        }
    }
}

/// A connection the node refused: the request never reached it, a definite "not admitted".
fn never_sent(error: &ureq::Error) -> bool {
    matches!(error, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

type Polled = (Outcome, Option<u64>, Option<bool>, Option<String>);

/// Polls `GET /v1/txs/{id}` on the node that admitted the transaction.
fn poll_commit(client: &NodeClient, tx_id: &tally_types::TxId) -> Polled {
    let start = Instant::now();
    let mut last_error = None;
    while start.elapsed() < COMMIT_WAIT {
        match client.tx(tx_id) {
            Ok(Some(inclusion)) => {
                return (
                    Outcome::Ok,
                    Some(inclusion.height.0),
                    Some(inclusion.receipt.outcome == TxOutcome::Success),
                    None,
                );
            }
            Ok(None) => {}
            Err(error) => last_error = Some(error.to_string()),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let why = last_error.unwrap_or_else(|| format!("admitted, not committed within {COMMIT_WAIT:?}"));
    (Outcome::Unknown, None, None, Some(why))
}
