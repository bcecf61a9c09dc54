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

/// Blocks in the chain whose validators change.
pub const ROTATION_BLOCKS: u64 = 7;
/// The block whose transaction passes the key rotation (acme, the only member, proposes it:
/// its own yes is more than two thirds of one member).
pub const ROTATION_PASSED: u64 = 2;
/// The first block of epoch 1, with the rotated key: two blocks after the passing one.
pub const EPOCH_1_START: u64 = ROTATION_PASSED + 2;
/// A block of epoch 1 stored with its child's finalization.
pub const EPOCH_1_CERTIFIED_BY_CHILD: u64 = EPOCH_1_START + 1;
/// The block of epoch 1 whose transaction anchors [`rotation_badges`].
pub const BADGE_HEIGHT: u64 = EPOCH_1_START + 2;

/// The badge batch acme anchors in epoch 1 of the rotated chain: three Open Badges 2.0 assertions.
pub fn rotation_badges() -> (Vec<Vec<u8>>, tally_client::badge::BadgeBatch) {
    let assertions: Vec<Vec<u8>> = (0..3)
        .map(|number| {
            format!(
                r#"{{"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
  "id": "https://badges.acme.example/assertions/epoch-1-{number}.json",
  "recipient": {{"type": "email", "hashed": true, "salt": "5a1f", "identity": "sha256$00ff"}},
  "badge": "https://badges.acme.example/classes/api-calls-1m.json",
  "issuedOn": "2025-03-14T09:30:00Z", "verification": {{"type": "hosted"}}}}"#
            )
            .into_bytes()
        })
        .collect();
    let batch = tally_client::badge::BadgeBatch::from_assertions(&assertions).expect("a batch of three");
    (assertions, batch)
}

/// A chain whose validator set changes by governance: validator 0's consensus key is rotated.
pub struct RotatedChain {
    pub chain: TestChain,
    /// The genesis validators' keys (epoch 0), in order.
    pub old_keys: Vec<SecretKey>,
    /// Epoch 1's keys: the old ones with validator 0's replaced.
    pub new_keys: Vec<SecretKey>,
}

/// The key that replaces validator 0's in epoch 1.
pub fn rotated_key() -> SecretKey {
    SecretKey::from_seed(&[201; 32])
}

/// A finalization of `subject` by the first `quorum` of `keys` (the validators in order).
pub fn sign_certificate(subject: Subject, keys: &[SecretKey], quorum: usize) -> Certificate {
    let votes: Vec<_> = keys[..quorum]
        .iter()
        .enumerate()
        .map(|(index, key)| (ValidatorIndex(index as u16), subject.sign(&chain_id(), key)))
        .collect();
    Certificate::from_votes(subject, &votes, keys.len()).expect("distinct signers")
}

/// Builds a chain of [`ROTATION_BLOCKS`] blocks as validators would: block 1 moves credits,
/// block [`ROTATION_PASSED`] passes the rotation of validator 0's consensus key, block
/// [`BADGE_HEIGHT`] anchors [`rotation_badges`], and from
/// [`EPOCH_1_START`] on the headers carry epoch 1's set, the views are epoch 1's and the
/// certificates are signed by epoch 1's validators. Epoch 0's last block is finalized in a
/// later view than its own, as after a re-proposal, and its parent is stored with that
/// finalization. The set, start and number of each block's
/// epoch are written out here, not derived from the state, so that the auditor's derivation is
/// checked against them; the state's schedule is asserted to agree.
pub fn build_rotated() -> RotatedChain {
    use tally_ledger::state::StateValue;
    use tally_types::codec::BoundedString;
    use tally_types::governance::{Action, ApplicationBody, ApplicationProofs, Propose, SignedApplication};
    use tally_types::{OpId, ValidatorSet};

    let (genesis, old_keys, issuer) = genesis_of(b"audit-rotation");
    let member = MemberId::new("acme").expect("valid member id");
    let asset = AssetId::new(asset_code_for(&member).expect("code"), member.clone());
    let new_keys: Vec<SecretKey> =
        std::iter::once(rotated_key()).chain(old_keys[1..].iter().cloned()).collect();
    let old_set = genesis.validator_set();
    let new_set = ValidatorSet::new(new_keys.iter().map(SecretKey::public_key).collect()).expect("four keys");
    let body = ApplicationBody {
        chain_id: chain_id(),
        member: member.clone(),
        member_name: BoundedString::new("Acme".to_owned()).expect("short"),
        issuer: issuer.public_key(),
        asset_code: asset_code_for(&member).expect("code"),
        asset_scale: 2,
        validator_name: BoundedString::new("acme-rotated".to_owned()).expect("short"),
        consensus_key: rotated_key().public_key(),
        network_key: SecretKey::from_seed(&[202; 32]).public_key(),
        p2p_listen: BoundedString::new("/ip4/127.0.0.1/tcp/27100".to_owned()).expect("short"),
        http_listen: BoundedString::new("127.0.0.1:28100".to_owned()).expect("short"),
    };
    let message = body.signing_bytes();
    let proofs = ApplicationProofs {
        consensus: rotated_key().sign_raw(&message),
        network: SecretKey::from_seed(&[202; 32]).sign_raw(&message),
        issuer: Some(issuer.sign_raw(&message)),
    };
    let rotate = Action::RotateValidatorKey {
        consensus_key: old_keys[0].public_key(),
        application: SignedApplication { body, proofs },
    };
    let receiver = SecretKey::from_seed(&[9; 32]).public_key();
    let mut seq = 0;
    let mut sign = |ops: Vec<Op>| {
        seq += 1;
        Transaction {
            chain_id: chain_id(),
            signer: issuer.public_key(),
            seq,
            valid_until_height: Height(1_000),
            ops: BoundedVec::new(ops).expect("few ops"),
            memo: BoundedBytes::empty(),
        }
        .sign(&issuer)
    };
    let mut state = genesis.initial_state();
    let mut parent_id = genesis.parent_of_first_block();
    let mut records = Vec::new();
    let mut txs_total = 0;
    for height in 1..=ROTATION_BLOCKS {
        let txs: Vec<SignedTransaction> = match height {
            ROTATION_PASSED => vec![sign(vec![Op::Propose(Box::new(Propose {
                proposal_id: OpId([1; 16]),
                action: rotate.clone(),
                expires_at_height: Height(100),
            }))])],
            BADGE_HEIGHT => vec![sign(vec![Op::AnchorBadges(rotation_badges().1.anchor_op(None))])],
            _ => vec![sign(vec![Op::Transfer(Transfer {
                asset: asset.clone(),
                to: receiver,
                amount: Amount(5),
            })])],
        };
        let (epoch, set, keys, first) = if height < EPOCH_1_START {
            (0, &old_set, &old_keys, 1)
        } else {
            (1, &new_set, &new_keys, EPOCH_1_START)
        };
        let time_ms = GENESIS_TIME_MS + height * 1_000;
        let context = BlockContext { chain_id: chain_id(), height: Height(height), time_ms };
        let output = execute_block(&state, &context, &txs).expect("includable");
        assert!(output.receipts.iter().all(|receipt| receipt.outcome == TxOutcome::Success), "{height}");
        let state_root = state.commit(&output.writes).expect("commit");
        if height == ROTATION_PASSED {
            // The ledger scheduled epoch 1 as written out above.
            let Some(StateValue::Epochs(epochs)) = state.value(&tally_ledger::StateKey::Epochs) else {
                panic!("no epochs entry")
            };
            assert_eq!(epochs.pending.len(), 1);
            assert_eq!(
                (epochs.pending[0].number, epochs.pending[0].start_height),
                (1, Height(EPOCH_1_START))
            );
            assert_eq!(epochs.pending[0].validators.as_slice(), new_set.keys());
        }
        let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
        let view = View(View::epoch_base(epoch).0 + height - first + 1);
        let header = Header {
            chain_id: chain_id(),
            height: Height(height),
            view,
            parent_id,
            time_ms,
            proposer: set.leader(view),
            tx_root: tx_root(&ids),
            receipts_root: receipts_root(&output.receipts),
            state_root,
            validators_hash: set.hash(),
        };
        txs_total += txs.len() as u64;
        let block = Block { header, txs: BoundedVec::new(txs).expect("few txs") };
        parent_id = block.id();
        let certificate =
            sign_certificate(Subject::Finalize { view, block_id: block.id() }, keys, set.quorum());
        records.push(ArchiveRecord { block, certificate });
    }
    // One block of epoch 1 is stored with its child's finalization.
    let index = EPOCH_1_CERTIFIED_BY_CHILD as usize - 1;
    records[index].certificate = records[index + 1].certificate.clone();
    // Epoch 0's last block was re-proposed and finalized two views after its own, by its own
    // validators (R8), and its parent was committed with that finalization.
    let last = EPOCH_1_START as usize - 2;
    let late = Subject::Finalize {
        view: View(records[last].block.header.view.0 + 2),
        block_id: records[last].block.id(),
    };
    records[last].certificate = sign_certificate(late, &old_keys, old_set.quorum());
    records[last - 1].certificate = records[last].certificate.clone();
    RotatedChain { chain: TestChain { genesis, records, txs: txs_total }, old_keys, new_keys }
}
