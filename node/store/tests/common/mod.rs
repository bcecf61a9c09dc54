//! Blocks, certificates and commits shared by the storage tests.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use tally_store::{BlockCommit, ChainIdentity};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::ids::{AssetId, ChainId, Height, ValidatorIndex, View};
use tally_types::receipt::Receipt;
use tally_types::tx::{Op, Transaction, Transfer};
use tally_types::{
    Amount, Block, BlockId, Certificate, Hash, Header, SecretKey, SignedTransaction, Subject, TxId,
};

pub fn identity() -> ChainIdentity {
    ChainIdentity { chain_id: ChainId::new("tally-store-test").expect("valid"), genesis_hash: Hash([7; 32]) }
}

pub fn block(height: u64, parent: BlockId, txs: usize) -> Block {
    let key = SecretKey::from_seed(&[height as u8; 32]);
    let txs: Vec<_> = (0..txs)
        .map(|i| {
            Transaction {
                chain_id: identity().chain_id,
                signer: key.public_key(),
                seq: i as u64 + 1,
                valid_until_height: Height(1_000_000),
                ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                    asset: "ACME@acme".parse::<AssetId>().expect("valid"),
                    to: SecretKey::from_seed(&[0xee; 32]).public_key(),
                    amount: Amount(height as u128 * 1000 + i as u128 + 1),
                })])
                .expect("one op"),
                memo: BoundedBytes::empty(),
            }
            .sign(&key)
        })
        .collect();
    // The roots a real block carries: the store checks them when it reads the block back.
    let ids: Vec<TxId> = txs.iter().map(SignedTransaction::id).collect();
    let receipts: Vec<Receipt> = ids.iter().map(|id| Receipt::success(*id)).collect();
    Block {
        header: Header {
            chain_id: identity().chain_id,
            height: Height(height),
            view: View(height),
            parent_id: parent,
            time_ms: 1_700_000_000_000 + height,
            proposer: ValidatorIndex(0),
            tx_root: tally_types::block::tx_root(&ids),
            receipts_root: tally_types::block::receipts_root(&receipts),
            state_root: Hash([height as u8; 32]),
            validators_hash: Hash([3; 32]),
        },
        txs: BoundedVec::new(txs).expect("few txs"),
    }
}

pub fn certificate(block: &Block) -> Certificate {
    let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
    let votes: Vec<_> =
        (0..3u16).map(|i| (ValidatorIndex(i), tally_types::Signature([i as u8; 64]))).collect();
    Certificate::from_votes(subject, &votes, 4).expect("valid arrangement")
}

/// The writes of block `height` in the group-commit tests: a key of its own, an overwrite of a
/// shared key (so later blocks of a group overwrite earlier ones) and, from block 3 on, the
/// deletion of the key block `height - 2` wrote.
pub fn group_writes(height: u64) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut writes = vec![
        (format!("own{height}").into_bytes(), Some(vec![height as u8; 3])),
        (b"shared".to_vec(), Some(height.to_be_bytes().to_vec())),
    ];
    if height >= 3 {
        writes.push((format!("own{}", height - 2).into_bytes(), None));
    }
    writes
}

pub fn chain_of(count: u64) -> Vec<Block> {
    let mut parent = BlockId(identity().genesis_hash);
    (1..=count)
        .map(|height| {
            let next = block(height, parent, 2);
            parent = next.id();
            next
        })
        .collect()
}

pub struct Prepared {
    pub block: Block,
    pub certificate: Certificate,
    pub receipts: Vec<Receipt>,
    pub state: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub tree: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Prepared {
    pub fn of(block: &Block) -> Prepared {
        Prepared {
            block: block.clone(),
            certificate: certificate(block),
            receipts: block.txs.iter().map(|tx| Receipt::success(tx.id())).collect(),
            state: group_writes(block.header.height.0),
            tree: vec![(b"root".to_vec(), Some(block.header.state_root.0.to_vec()))],
        }
    }

    pub fn commit(&self) -> BlockCommit<'_> {
        BlockCommit {
            block: &self.block,
            certificate: &self.certificate,
            receipts: &self.receipts,
            state_writes: &self.state,
            tree_writes: &self.tree,
        }
    }
}
