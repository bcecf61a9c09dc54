//! A validator's node at start-up (`startup::validates_now`), by what its own store says of its
//! consensus key: not voted in yet, it follows as a full node; in the epoch of its next block, it
//! validates; voted in, having validated, and then removed, it refuses to start and says why —
//! also for a validator that was not in genesis, whose only trace is the epoch proofs its store
//! recorded (governance deletes a removed validator's entry).
//!
//! The chain is built in process: blocks executed by the ledger and committed to a real store
//! (as the engine commits them, `inproc::commit`), without consensus or network.

#[allow(dead_code)]
mod inproc;

use std::path::Path;

use tally_genesis::Genesis;
use tally_genesis::init::{TestnetSpec, build_testnet, write_file_atomically, write_testnet};
use tally_genesis::keys::KeySource;
use tally_node::config::NodeConfig;
use tally_node::engine::startup::{open_store, store_path, validates_now};
use tally_types::codec::BoundedBytes;
use tally_types::governance::{
    Action, ApplicationBody, ApplicationProofs, ConsensusParams, Propose, SignedApplication,
};
use tally_types::{
    Amount, AssetCode, BoundedString, BoundedVec, ChainId, Height, MemberId, Op, OpId, SecretKey,
    SignedTransaction, Transaction,
};

/// A proposal by the only member's issuer (its governance key): its yes passes it at once.
fn propose(chain_id: &ChainId, issuer: &SecretKey, seq: u64, action: Action) -> SignedTransaction {
    let mut id = [0u8; 16];
    id[0] = seq as u8;
    Transaction {
        chain_id: chain_id.clone(),
        signer: issuer.public_key(),
        seq,
        valid_until_height: Height(100),
        ops: BoundedVec::new(vec![Op::Propose(Box::new(Propose {
            proposal_id: OpId(id),
            action,
            expires_at_height: Height(100),
        }))])
        .expect("one op"),
        memo: BoundedBytes::empty(),
    }
    .sign(issuer)
}

/// The member's application for a new validator with these keys, signed by all three.
fn application(
    chain_id: &ChainId,
    issuer: &SecretKey,
    consensus: &SecretKey,
    network: &SecretKey,
) -> SignedApplication {
    let body = ApplicationBody {
        chain_id: chain_id.clone(),
        member: MemberId::new("acme").expect("valid"),
        member_name: BoundedString::new("Acme").expect("short"),
        issuer: issuer.public_key(),
        asset_code: AssetCode::new("ACME").expect("valid"),
        asset_scale: 2,
        validator_name: BoundedString::new("acme-fifth").expect("short"),
        consensus_key: consensus.public_key(),
        network_key: network.public_key(),
        p2p_listen: BoundedString::new("/ip4/10.0.0.5/tcp/27000").expect("short"),
        http_listen: BoundedString::new("10.0.0.5:28000").expect("short"),
    };
    let message = body.signing_bytes();
    let proofs = ApplicationProofs {
        consensus: consensus.sign_raw(&message),
        network: network.sign_raw(&message),
        issuer: Some(issuer.sign_raw(&message)),
    };
    SignedApplication { body, proofs }
}

fn write_key(path: &Path, key: &SecretKey) {
    write_file_atomically(path, format!("{}\n", key.to_hex().as_str()).as_bytes(), 0o600).expect("key file");
}

// Not split: one validator's life on one chain, each step on the store the last one left.
#[test]
fn a_validator_follows_before_its_epoch_validates_in_it_and_refuses_to_start_once_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain_id = ChainId::new("tally-retired-test").expect("valid");
    let spec = TestnetSpec {
        chain_id: chain_id.clone(),
        validators: 4,
        members: vec![MemberId::new("acme").expect("valid")],
        genesis_time_ms: 1_700_000_000_000,
        consensus: ConsensusParams::default(),
        listen_ip: "127.0.0.1".parse().expect("ip"),
        base_port: 27_000,
        issuer_float: Some(Amount(1_000)),
    };
    let testnet =
        build_testnet(&spec, &KeySource::seeded(b"retired", &chain_id).expect("keys")).expect("testnet");
    write_testnet(&testnet, dir.path(), false).expect("write");
    let genesis = Genesis::load(dir.path().join("genesis.json")).expect("genesis");
    let issuer = &testnet.issuer_keys[0].1;

    // The fifth validator's home: its own keys, the shared data directory of this test.
    let home = dir.path().join("fifth");
    std::fs::create_dir_all(&home).expect("home");
    let (consensus, network) = (SecretKey::from_seed(&[5; 32]), SecretKey::from_seed(&[6; 32]));
    write_key(&home.join("consensus.key"), &consensus);
    write_key(&home.join("network.key"), &network);
    let config = NodeConfig::parse(
        "[node]\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\nconsensus_key = \"consensus.key\"\nnetwork_key = \"network.key\"\n",
        &home,
    )
    .expect("config");
    let commit = |txs: Vec<SignedTransaction>| {
        let store = open_store(&store_path(&config), &genesis).expect("store");
        inproc::commit(&store, &chain_id, genesis.hash(), genesis.validator_set().hash(), txs);
    };

    assert!(!validates_now(&config).expect("starts"), "not voted in: it follows");
    // Voted in at height 1: its epoch starts at height 3.
    let add = Action::AddValidator { application: application(&chain_id, issuer, &consensus, &network) };
    commit(vec![propose(&chain_id, issuer, 1, add)]);
    assert!(!validates_now(&config).expect("starts"), "voted in, its epoch not begun: it follows");
    commit(Vec::new());
    assert!(validates_now(&config).expect("starts"), "the next block is of its epoch: it validates");
    // Removed at height 3: from height 5 on it is in no epoch.
    let remove = Action::RemoveValidator { consensus_key: consensus.public_key() };
    commit(vec![propose(&chain_id, issuer, 2, remove)]);
    assert!(validates_now(&config).expect("starts"), "still in epoch 1 at height 4");
    commit(Vec::new());
    let error = validates_now(&config).expect_err("removed: it refuses to start");
    let message = format!("{error:#}");
    assert!(
        message.contains("was a validator in epoch 1")
            && message.contains("governance removed or rotated it"),
        "{message}"
    );
}
