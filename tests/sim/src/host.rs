//! The simulator's implementations of the engine's seams ([`tally_node::engine::io`]): a clock
//! that reads simulated time, a network and workers that only queue what the engine asks for
//! in an [`Outbox`]. The simulation ([`crate::sim`]) drains the outbox after every call into
//! the engine and turns it into events: messages through the simulated network, jobs run at a
//! simulated time, requests answered exactly once. Also the simulated chain's ledger: its
//! genesis, the formatted disks every node starts from, and the accounts that send transfers.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;

use tally_ledger::tree::apply_updates;
use tally_ledger::{
    GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, GenesisValidator, genesis_writes,
};
use tally_node::engine::io::{Clock, Job, Lane, Network, RequestTag, Verdict, Workers};
use tally_store::sim_disk::SimDisk;
use tally_store::{ChainIdentity, Store, Wal, state_writes, tree_writes};
use tally_types::codec::BoundedBytes;
use tally_types::governance::{
    Action, ApplicationBody, ApplicationProofs, ConsensusParams, Propose, SignedApplication,
};
use tally_types::tx::{AssetFlags, Transaction, Transfer};
use tally_types::{
    Amount, AssetCode, AssetId, BoundedString, BoundedVec, ChainId, Domain, Height, MemberId, Op, OpId,
    PublicKey, SecretKey, SignedTransaction, ValidatorIndex, ValidatorSet,
};

use crate::chain::{CHAIN_ID, GENESIS_TIME_MS};
use crate::network::NodeId;

/// Accounts funded at genesis that the simulation sends transfers between.
pub const ACCOUNTS: usize = 8;
/// Each account's opening balance, in minor units.
const OPENING_BALANCE: u128 = 1_000_000_000;

/// What the engine of one node asked for during one call, in order per kind.
#[derive(Default)]
pub struct Outbox {
    pub sends: Vec<(ValidatorIndex, Vec<u8>)>,
    pub gossip: Vec<Vec<u8>>,
    pub requests: Vec<(ValidatorIndex, Vec<u8>, RequestTag)>,
    pub responses: Vec<(SimReply, Vec<u8>)>,
    pub jobs: Vec<(Lane, Job<SimNet>)>,
}

/// A shared handle to one node's outbox (the engine's network and workers write to it).
pub type OutboxHandle = Rc<RefCell<Outbox>>;

/// Who asked a request and in which life, so that the answer reaches that life only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimReply {
    pub requester: NodeId,
    pub incarnation: u64,
    pub tag: RequestTag,
}

/// The engine's network in the simulator.
pub struct SimNet {
    pub outbox: OutboxHandle,
}

impl Network for SimNet {
    type Reply = SimReply;
    type Gossip = ();

    fn send(&mut self, to: ValidatorIndex, bytes: Vec<u8>) {
        self.outbox.borrow_mut().sends.push((to, bytes));
    }

    fn publish_txs(&mut self, bytes: Vec<u8>) {
        self.outbox.borrow_mut().gossip.push(bytes);
    }

    fn report(&mut self, _gossip: (), _verdict: Verdict) {}

    fn request(&mut self, to: ValidatorIndex, bytes: Vec<u8>, tag: RequestTag) {
        self.outbox.borrow_mut().requests.push((to, bytes, tag));
    }

    fn respond(&mut self, reply: SimReply, bytes: Vec<u8>) {
        self.outbox.borrow_mut().responses.push((reply, bytes));
    }

    /// Never reached: the simulator's nodes are addressed by index in one fixed set, and its
    /// engines refuse a new epoch before they would call this (see `Simulation::boot`).
    fn set_validators(&mut self, _peers: Vec<tally_node::engine::io::ValidatorPeer>) {}
}

/// The engine's workers in the simulator: jobs are queued and run at a simulated time.
pub struct SimWorkers {
    pub outbox: OutboxHandle,
}

impl Workers<SimNet> for SimWorkers {
    fn spawn(&mut self, lane: Lane, job: Job<SimNet>) {
        self.outbox.borrow_mut().jobs.push((lane, job));
    }
}

/// One node's clock: the simulation's time, shifted by the node's skew.
pub struct SimClock {
    pub now_ms: Rc<Cell<u64>>,
    pub offset_ms: i64,
}

impl Clock for SimClock {
    fn unix_ms(&self) -> u64 {
        (GENESIS_TIME_MS + self.now_ms.get()).saturating_add_signed(self.offset_ms)
    }

    fn monotonic_ms(&self) -> u64 {
        self.now_ms.get()
    }
}

/// The index of a lane, for per-lane bookkeeping.
pub fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Ingress => 0,
        Lane::Executor => 1,
        Lane::Writer => 2,
        Lane::Serve => 3,
    }
}

/// The simulated chain's asset.
pub fn asset() -> AssetId {
    "SIM@sim".parse().expect("a valid asset id")
}

/// The secret key of funded account `index`.
pub fn account_key(index: usize) -> SecretKey {
    SecretKey::from_seed(&blake3::derive_key("tally-sim v1 account key", &(index as u64).to_le_bytes()))
}

/// The key of the simulated member's issuer, which is also its governance key: as the only
/// member, its proposal passes with its own yes.
pub fn governance_key() -> SecretKey {
    SecretKey::from_seed(&blake3::derive_key("tally-sim v1 issuer", b"0"))
}

/// Epoch 0's consensus parameters: the simulated timing (every core runs it, and the engine
/// takes its empty-block delay from the epoch's propose timeout).
pub fn genesis_params() -> ConsensusParams {
    let timing = crate::scenario::Timing::simulated();
    ConsensusParams {
        timeout_propose_ms: timing.leader_timeout_ms,
        timeout_notarize_ms: timing.advance_timeout_ms,
        timeout_max_ms: timing.timeout_max_ms,
        ..ConsensusParams::default()
    }
}

/// The genesis ledger: one member with one issuer, one asset, [`ACCOUNTS`] funded accounts,
/// and `validators` as epoch 0's set (so governance can start later epochs).
pub fn genesis_ledger(validators: &ValidatorSet) -> GenesisLedger {
    let member = MemberId::new("sim").expect("a valid member id");
    GenesisLedger {
        members: vec![GenesisMember {
            id: member.clone(),
            name: "Simulated member".into(),
            issuers: vec![governance_key().public_key()],
        }],
        validators: validators
            .keys()
            .iter()
            .enumerate()
            .map(|(index, key)| GenesisValidator {
                member: member.clone(),
                name: format!("sim-{index}"),
                consensus_key: *key,
                network_key: SecretKey::from_seed(&blake3::derive_key(
                    "tally-sim v1 network key",
                    &(index as u64).to_le_bytes(),
                ))
                .public_key(),
                p2p_listen: format!("/ip4/10.0.0.{}/tcp/27000", index + 1),
                http_listen: format!("10.0.0.{}:28000", index + 1),
            })
            .collect(),
        params: genesis_params(),
        assets: vec![GenesisAsset {
            asset: asset(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: (0..ACCOUNTS)
            .map(|index| GenesisBalance {
                account: account_key(index).public_key(),
                asset: asset(),
                amount: Amount(OPENING_BALANCE),
            })
            .collect(),
        ..Default::default()
    }
}

/// The chain identity every simulated store is opened with.
pub fn identity() -> ChainIdentity {
    ChainIdentity {
        chain_id: ChainId::new(CHAIN_ID).expect("valid chain id"),
        genesis_hash: Domain::Genesis.hash(&[b"tally-sim v1 ledger genesis"]),
    }
}

/// A node's disks, formatted: the store holds the identity and the genesis state for
/// `validators`, the WAL file exists and is empty. Formatted once per process and validator
/// count, then duplicated (the store's docs: format before injecting faults).
pub fn formatted_disks(validators: &ValidatorSet) -> (SimDisk, SimDisk) {
    static TEMPLATES: Mutex<BTreeMap<usize, (SimDisk, SimDisk)>> = Mutex::new(BTreeMap::new());
    let mut templates = TEMPLATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (store, wal) = templates.entry(validators.len()).or_insert_with(|| {
        let store_disk = SimDisk::new();
        let wal_disk = SimDisk::new();
        {
            let store = Store::open_with_backend(store_disk.backend(), "template store", &identity())
                .expect("formatting a simulated store");
            let writes = genesis_writes(&genesis_ledger(validators)).expect("the simulated genesis is valid");
            let batch = apply_updates(&store.snapshot().expect("snapshot"), &writes.tree_updates())
                .expect("genesis state tree");
            store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
            Wal::open_with_backend(wal_disk.backend(), "template wal").expect("formatting a simulated WAL");
        }
        (store_disk, wal_disk)
    });
    (store.duplicate(), wal.duplicate())
}

/// A signed transfer of `amount` from account `from` to account `to`.
pub fn transfer(from: usize, to: usize, seq: u64, valid_until: Height, amount: u128) -> SignedTransaction {
    let key = account_key(from);
    Transaction {
        chain_id: ChainId::new(CHAIN_ID).expect("valid chain id"),
        signer: key.public_key(),
        seq,
        valid_until_height: valid_until,
        ops: BoundedVec::new(vec![Op::Transfer(Transfer {
            asset: asset(),
            to: account_key(to).public_key(),
            amount: Amount(amount),
        })])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&key)
}

/// The governance proposal `number` (1, 2, …) of a run: `action`, which starts a new epoch two
/// blocks after the block that holds it (the member's yes passes it at once). Signed by the
/// member's governance key with seq `number`.
pub fn propose(number: u64, action: Action, valid_until: Height) -> SignedTransaction {
    let key = governance_key();
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&number.to_le_bytes());
    Transaction {
        chain_id: ChainId::new(CHAIN_ID).expect("valid chain id"),
        signer: key.public_key(),
        seq: number,
        valid_until_height: valid_until,
        ops: BoundedVec::new(vec![Op::Propose(Box::new(Propose {
            proposal_id: OpId(id),
            action,
            expires_at_height: Height(valid_until.0 + 1_000),
        }))])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(&key)
}

/// New consensus parameters (the `number`-th change's, so that each differs).
pub fn set_params(number: u64) -> Action {
    let params = ConsensusParams { block_txs_max: 4_000 + number as u32, ..genesis_params() };
    Action::SetConsensusParams { params }
}

/// Validator `slot`'s key `old` replaced by `new` (its `generation`), with an application of the
/// member that every key signs (the proofs of possession the ledger checks).
pub fn rotate_key(old: PublicKey, new: &SecretKey, slot: ValidatorIndex, generation: usize) -> Action {
    Action::RotateValidatorKey { consensus_key: old, application: application(new, slot, generation) }
}

/// A new validator of the member in `slot` (after the last), with consensus key `key`.
pub fn add_validator(key: &SecretKey, slot: ValidatorIndex) -> Action {
    Action::AddValidator { application: application(key, slot, 0) }
}

/// The member's application for validator `slot` with consensus key `consensus` (its
/// `generation`), a network key of its own and addresses, signed by all three keys.
fn application(consensus: &SecretKey, slot: ValidatorIndex, generation: usize) -> SignedApplication {
    let new = consensus;
    let network = SecretKey::from_seed(&blake3::derive_key(
        "tally-sim v1 rotated network key",
        &[u64::from(slot.0).to_le_bytes(), (generation as u64).to_le_bytes()].concat(),
    ));
    let address = format!("10.{generation}.0.{}", slot.0 + 1);
    let body = ApplicationBody {
        chain_id: ChainId::new(CHAIN_ID).expect("valid chain id"),
        member: MemberId::new("sim").expect("a valid member id"),
        member_name: BoundedString::new("Simulated member").expect("short"),
        issuer: governance_key().public_key(),
        asset_code: AssetCode::new("SIM").expect("a valid code"),
        asset_scale: 2,
        validator_name: BoundedString::new(format!("sim-{}-{generation}", slot.0)).expect("short"),
        consensus_key: new.public_key(),
        network_key: network.public_key(),
        p2p_listen: BoundedString::new(format!("/ip4/{address}/tcp/27000")).expect("short"),
        http_listen: BoundedString::new(format!("{address}:28000")).expect("short"),
    };
    let message = body.signing_bytes();
    let proofs = ApplicationProofs {
        consensus: new.sign_raw(&message),
        network: network.sign_raw(&message),
        issuer: Some(governance_key().sign_raw(&message)),
    };
    SignedApplication { body, proofs }
}

/// A sign-state file on a simulated disk: the same two-slot file the node keeps beside its
/// key (`tally_node::sign_state`), so a crash tears or loses its writes as it does the WAL's.
pub struct SimSignDevice(pub tally_store::sim_disk::SimBackend);

impl tally_node::sign_state::SignStateDevice for SimSignDevice {
    fn len_bytes(&self) -> std::io::Result<u64> {
        redb::StorageBackend::len(&self.0)
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        redb::StorageBackend::read(&self.0, offset, out)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let end = offset + data.len() as u64;
        if redb::StorageBackend::len(&self.0)? < end {
            redb::StorageBackend::set_len(&self.0, end)?;
        }
        redb::StorageBackend::write(&self.0, offset, data)
    }

    fn sync_data(&mut self) -> std::io::Result<()> {
        redb::StorageBackend::sync_data(&self.0)
    }
}

/// The chain prefix every simulated sign-state file carries.
pub fn sign_chain() -> [u8; 16] {
    tally_node::sign_state::chain_prefix(&identity().genesis_hash)
}

/// A node's sign-state disk, formatted with nothing signed (before faults are injected).
pub fn formatted_sign_disk() -> SimDisk {
    let disk = SimDisk::new();
    tally_node::sign_state::SignStateFile::format(
        SimSignDevice(disk.backend()),
        "template sign state",
        sign_chain(),
        tally_consensus::SignState::default(),
    )
    .expect("formatting a simulated sign state");
    disk
}
