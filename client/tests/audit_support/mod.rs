//! A small real chain for the audit tests: genesis from the genesis builder with seeded keys,
//! blocks of real signed transfers executed on the ledger for their roots, and finalization
//! certificates signed by the validators' keys — the same shape `tally-node export` writes.

use std::net::{IpAddr, Ipv4Addr};

use tally_genesis::init::{TestnetSpec, asset_code_for, build_testnet};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis};
use tally_ledger::{BlockContext, execute_block};
use tally_types::archive::{ArchiveHeader, ArchiveRecord, ArchiveWriter};
use tally_types::block::{receipts_root, tx_root};
use tally_types::tx::Transfer;
use tally_types::{
    Amount, AssetId, Block, BoundedBytes, BoundedVec, Certificate, ChainId, Header, Height, MemberId, Op,
    PublicKey, SecretKey, SignedTransaction, Subject, Transaction, TxOutcome, ValidatorIndex, View,
};

pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// Blocks in the test chain.
pub const BLOCKS: u64 = 6;
/// The block stored with its child's certificate (as a node stores ancestors finalized
/// together with a descendant).
pub const CERTIFIED_BY_CHILD: u64 = 3;
/// Height and index of a transaction whose transfer fails (more than the balance): it is
/// included with an error receipt.
pub const FAILING_TX: (u64, usize) = (4, 2);

pub struct TestChain {
    pub genesis: Genesis,
    pub records: Vec<ArchiveRecord>,
    pub txs: u64,
}

fn chain_id() -> ChainId {
    ChainId::new("tally-audit-test").expect("valid chain id")
}

/// The genesis of a seeded four-validator network with one member.
pub fn genesis_of(seed: &[u8]) -> (Genesis, Vec<SecretKey>, SecretKey) {
    let keys = KeySource::seeded(seed, &chain_id()).expect("valid seed");
    let spec = TestnetSpec {
        chain_id: chain_id(),
        validators: 4,
        members: vec![MemberId::new("acme").expect("valid member id")],
        genesis_time_ms: GENESIS_TIME_MS,
        consensus: ConsensusParams::default(),
        listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 27_000,
        issuer_float: Some(Amount(1_000_000)),
    };
    let testnet = build_testnet(&spec, &keys).expect("valid network");
    let validator_keys = testnet.validator_keys.iter().map(|keys| keys.consensus.clone()).collect();
    let issuer = testnet.issuer_keys[0].1.clone();
    (testnet.genesis, validator_keys, issuer)
}

fn certificate(subject: Subject, validator_keys: &[SecretKey]) -> Certificate {
    let votes: Vec<_> = validator_keys[..3]
        .iter()
        .enumerate()
        .map(|(index, key)| (ValidatorIndex(index as u16), subject.sign(&chain_id(), key)))
        .collect();
    Certificate::from_votes(subject, &votes, validator_keys.len()).expect("three distinct signers of four")
}

/// Builds the test chain: block 1 funds eight accounts from the issuer's float; blocks 2..=6
/// hold four transfers each among them.
// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
pub fn build() -> TestChain {
    let (genesis, validator_keys, issuer) = genesis_of(b"audit-test");
    let member = MemberId::new("acme").expect("valid member id");
    let asset = AssetId::new(asset_code_for(&member).expect("code"), member);
    let mut signers = vec![issuer];
    signers.extend((1..=8u8).map(|index| SecretKey::from_seed(&[index; 32])));
    let publics: Vec<PublicKey> = signers.iter().map(SecretKey::public_key).collect();
    let mut seqs = vec![0u64; signers.len()];
    let mut sign = |signer: usize, ops: Vec<Op>| {
        seqs[signer] += 1;
        Transaction {
            chain_id: chain_id(),
            signer: publics[signer],
            seq: seqs[signer],
            valid_until_height: Height(1_000),
            ops: BoundedVec::new(ops).expect("few ops"),
            memo: BoundedBytes::empty(),
        }
        .sign(&signers[signer])
    };
    let transfer = |to: usize, amount: u128| {
        Op::Transfer(Transfer { asset: asset.clone(), to: publics[to], amount: Amount(amount) })
    };
    let validators = genesis.validator_set();
    let mut state = genesis.initial_state();
    let mut parent_id = genesis.parent_of_first_block();
    let mut blocks: Vec<Block> = Vec::new();
    let mut txs_total = 0;
    for height in 1..=BLOCKS {
        let txs: Vec<SignedTransaction> = if height == 1 {
            vec![sign(0, (1..=8).map(|to| transfer(to, 1_000)).collect())]
        } else {
            (0..4)
                .map(|index| {
                    let sender = 1 + ((height as usize * 3 + index) % 8);
                    let receiver = 1 + (sender % 8);
                    let amount = if (height, index) == FAILING_TX { 1_000_000 } else { 1 + index as u128 };
                    sign(sender, vec![transfer(receiver, amount)])
                })
                .collect()
        };
        let time_ms = GENESIS_TIME_MS + height * 1_000;
        let context = BlockContext { chain_id: chain_id(), height: Height(height), time_ms };
        let output = execute_block(&state, &context, &txs).expect("generated transactions are includable");
        for (index, receipt) in output.receipts.iter().enumerate() {
            assert_eq!(
                receipt.outcome == TxOutcome::Success,
                (height, index) != FAILING_TX,
                "{height}/{index}"
            );
        }
        let state_root = state.commit(&output.writes).expect("commit");
        let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
        let view = View(height);
        let header = Header {
            chain_id: chain_id(),
            height: Height(height),
            view,
            parent_id,
            time_ms,
            proposer: validators.leader(view),
            tx_root: tx_root(&ids),
            receipts_root: receipts_root(&output.receipts),
            state_root,
            validators_hash: validators.hash(),
        };
        txs_total += txs.len() as u64;
        let block = Block { header, txs: BoundedVec::new(txs).expect("few txs") };
        parent_id = block.id();
        blocks.push(block);
    }
    let certificates: Vec<Certificate> = blocks
        .iter()
        .map(|block| {
            certificate(Subject::Finalize { view: block.header.view, block_id: block.id() }, &validator_keys)
        })
        .collect();
    let records = blocks
        .into_iter()
        .enumerate()
        .map(|(index, block)| {
            let height = index as u64 + 1;
            // One block is stored with its child's finalization, as a node stores ancestors.
            let certificate_index = if height == CERTIFIED_BY_CHILD { index + 1 } else { index };
            ArchiveRecord { block, certificate: certificates[certificate_index].clone() }
        })
        .collect();
    TestChain { genesis, records, txs: txs_total }
}

/// The archive header that matches `genesis`.
pub fn header_of(genesis: &Genesis) -> ArchiveHeader {
    ArchiveHeader { chain_id: genesis.chain_id().clone(), genesis_hash: genesis.hash() }
}

/// Writes `records` as an archive with `header`.
pub fn archive_bytes(header: &ArchiveHeader, records: &[ArchiveRecord]) -> Vec<u8> {
    let mut writer = ArchiveWriter::new(Vec::new(), header).expect("in memory");
    for record in records {
        writer.append(&record.block, &record.certificate).expect("in memory");
    }
    writer.finish().expect("in memory")
}
