//! Blocks and headers (DESIGN.md §5).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{Bounded, BoundedVec, encode};
use crate::hash::{Domain, Hash, merkle_leaf};
use crate::ids::{ChainId, Height, ValidatorIndex, View};
use crate::limits;
use crate::merkle;
use crate::receipt::Receipt;
use crate::tx::{SignedTransaction, TxId};

crate::hash_id!(
    /// A block id: `Domain::BlockId` hash of the encoded header.
    BlockId
);

/// A block header. The state root is the root after executing this block, so one
/// finalization certificate over the header certifies the state.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Header {
    pub chain_id: ChainId,
    pub height: Height,
    pub view: View,
    /// The parent block's id; for height 1, the genesis hash.
    pub parent_id: BlockId,
    /// Milliseconds since the Unix epoch, stamped by the proposer; strictly after the parent's.
    pub time_ms: u64,
    pub proposer: ValidatorIndex,
    /// Merkle root over the tx ids, in block order.
    pub tx_root: Hash,
    /// Merkle root over the receipt hashes, in block order.
    pub receipts_root: Hash,
    /// Sparse Merkle root of the ledger state after this block.
    pub state_root: Hash,
    /// Hash of the validator set that certifies this block.
    pub validators_hash: Hash,
}

impl Header {
    /// The block id.
    pub fn id(&self) -> BlockId {
        BlockId(Domain::BlockId.hash(&[&encode(self)]))
    }
}

impl Bounded for Header {
    const MAX_ENCODED_SIZE: usize = limits::HEADER_BYTES_MAX;
}

/// A block: a header and its transactions.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    pub header: Header,
    pub txs: BoundedVec<SignedTransaction, { limits::BLOCK_TXS_MAX }>,
}

impl Block {
    /// The block id (the header's).
    pub fn id(&self) -> BlockId {
        self.header.id()
    }
}

impl Bounded for Block {
    const MAX_ENCODED_SIZE: usize = limits::BLOCK_BYTES_MAX;
}

/// The tx root over transaction ids, in block order.
pub fn tx_root(ids: &[TxId]) -> Hash {
    let leaves: Vec<Hash> = ids.iter().map(|id| merkle_leaf(id.0.as_bytes())).collect();
    merkle::root_of_leaf_hashes(&leaves)
}

/// The receipts root over receipt hashes, in block order.
pub fn receipts_root(receipts: &[Receipt]) -> Hash {
    let leaves: Vec<Hash> = receipts.iter().map(|receipt| merkle_leaf(receipt.hash().as_bytes())).collect();
    merkle::root_of_leaf_hashes(&leaves)
}
