//! Messages between validators outside consensus: transaction gossip and block requests for
//! fetch and sync. `tests/golden/wire.json` pins their encodings.
//!
//! Every message decodes only through [`crate::codec::decode`]: its size is bounded by its
//! [`Bounded`] impl and every list in it by a limit from [`crate::limits`], checked before
//! anything is allocated for the list.

use std::io::{self, Read};

use borsh::{BorshDeserialize, BorshSerialize};

use crate::block::{Block, BlockId};
use crate::codec::{Bounded, BoundedVec};
use crate::consensus::Certificate;
use crate::ids::Height;
use crate::limits;
use crate::tx::SignedTransaction;

/// A batch of transactions gossiped on the transactions topic: at most
/// [`limits::TX_GOSSIP_BATCH_MAX`]; a longer batch is refused on decode.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize)]
pub struct TxBatch(pub Vec<SignedTransaction>);

impl BorshDeserialize for TxBatch {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        // Same bytes as a `Vec`; the bounded vector checks the length before reading items.
        let txs =
            BoundedVec::<SignedTransaction, { limits::TX_GOSSIP_BATCH_MAX }>::deserialize_reader(reader)?;
        Ok(TxBatch(txs.into_inner()))
    }
}

impl Bounded for TxBatch {
    const MAX_ENCODED_SIZE: usize = 4 + limits::TX_GOSSIP_BATCH_MAX * limits::TX_BYTES_MAX;
}

/// A request from one validator to another.
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub enum BlockRequest {
    /// The block with this id, committed or not; the answer is the encoded [`Block`], or empty
    /// when unknown.
    ById(BlockId),
    /// The committed block at this height with its stored finalization certificate (its own
    /// or a descendant's): the answer is an encoded [`CommittedBlock`], or empty.
    ByHeight(Height),
    /// Consecutive committed blocks from height `from`: the answer is an encoded
    /// [`BlockResponse::Range`] of at most `count` blocks, and never more than
    /// [`limits::SYNC_RANGE_BLOCKS_MAX`] blocks or [`limits::SYNC_RESPONSE_BYTES_MAX`] bytes;
    /// fewer (possibly none) when the server has fewer.
    Range { from: Height, count: u32 },
}

impl Bounded for BlockRequest {
    /// A tag and the largest variant (a block id).
    const MAX_ENCODED_SIZE: usize = 1 + 32;
}

/// A committed block and the certificate it was committed with: the block's own
/// finalization, or a descendant's whose parent links lead back to it.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct CommittedBlock {
    pub block: Block,
    pub certificate: Certificate,
}

impl Bounded for CommittedBlock {
    const MAX_ENCODED_SIZE: usize = Block::MAX_ENCODED_SIZE + Certificate::MAX_ENCODED_SIZE;
}

/// An answer to a [`BlockRequest`] that is more than one encoded value.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize)]
pub enum BlockResponse {
    /// The answer to [`BlockRequest::Range`]: consecutive committed blocks from the requested
    /// height, at most [`limits::SYNC_RANGE_BLOCKS_MAX`] (longer is refused on decode) and at
    /// most [`limits::SYNC_RESPONSE_BYTES_MAX`] bytes in all.
    Range(Vec<CommittedBlock>),
}

/// Encoded size of a `Range` answer with no blocks: the variant tag and the list length.
const RANGE_EMPTY_BYTES: usize = 1 + 4;

impl BlockResponse {
    /// The `Range` answer holding the longest prefix of `blocks` within both limits: the
    /// server passes consecutive committed blocks (at most `count` of them), and packing stops
    /// at [`limits::SYNC_RANGE_BLOCKS_MAX`] blocks or before the first block that would pass
    /// [`limits::SYNC_RESPONSE_BYTES_MAX`]. The iterator is read at most one block past what
    /// is kept.
    pub fn range_within_limits(blocks: impl IntoIterator<Item = CommittedBlock>) -> Self {
        let mut kept = Vec::new();
        let mut size_bytes = RANGE_EMPTY_BYTES;
        for block in blocks.into_iter().take(limits::SYNC_RANGE_BLOCKS_MAX) {
            let block_bytes = borsh::object_length(&block).expect("borsh length of an in-memory value");
            if size_bytes + block_bytes > limits::SYNC_RESPONSE_BYTES_MAX {
                break;
            }
            size_bytes += block_bytes;
            kept.push(block);
        }
        BlockResponse::Range(kept)
    }
}

// `BorshSerialize` is derived: a derived enum writes its variant index as one byte and a `Vec`
// its length as a u32, which is what this reads. The unit tests and the golden vectors check
// that the two agree.
impl BorshDeserialize for BlockResponse {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        match u8::deserialize_reader(reader)? {
            0 => {
                let blocks =
                    BoundedVec::<CommittedBlock, { limits::SYNC_RANGE_BLOCKS_MAX }>::deserialize_reader(
                        reader,
                    )?;
                Ok(BlockResponse::Range(blocks.into_inner()))
            }
            tag => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown BlockResponse variant {tag}"),
            )),
        }
    }
}

impl Bounded for BlockResponse {
    const MAX_ENCODED_SIZE: usize = limits::SYNC_RESPONSE_BYTES_MAX;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{DecodeError, decode, encode};
    use crate::consensus::Subject;
    use crate::hash::{Domain, Hash};
    use crate::ids::{ChainId, ValidatorIndex, View};
    use crate::keys::SecretKey;
    use crate::tx::{Op, Transaction, Transfer};
    use crate::{Amount, AssetCode, AssetId, Header, MemberId};

    fn chain() -> ChainId {
        ChainId::new("tally-wire").expect("valid chain id")
    }

    fn tx_of(seq: u64, ops: usize) -> SignedTransaction {
        let key = SecretKey::from_seed(&[7; 32]);
        let asset = AssetId::new(
            AssetCode::new("ACME").expect("valid code"),
            MemberId::new("acme").expect("valid member"),
        );
        let transfer = Op::Transfer(Transfer {
            asset,
            to: SecretKey::from_seed(&[8; 32]).public_key(),
            amount: Amount(1),
        });
        Transaction {
            chain_id: chain(),
            signer: key.public_key(),
            seq,
            valid_until_height: Height(10),
            ops: BoundedVec::new(vec![transfer; ops]).expect("within the op limit"),
            memo: crate::codec::BoundedBytes::empty(),
        }
        .sign(&key)
    }

    fn tx(seq: u64) -> SignedTransaction {
        tx_of(seq, 1)
    }

    fn committed(height: u64, payload_bytes: usize) -> CommittedBlock {
        let header = Header {
            chain_id: chain(),
            height: Height(height),
            view: View(height),
            parent_id: BlockId(Hash::plain(&height.to_le_bytes())),
            time_ms: height,
            proposer: ValidatorIndex(0),
            tx_root: Hash::plain(b"tx"),
            receipts_root: Hash::plain(b"receipts"),
            state_root: Hash::plain(b"state"),
            validators_hash: Hash::plain(b"validators"),
        };
        let block_id = header.id();
        // The codec does not look inside signatures, so a certificate with a large signature
        // list stands in for a large block here.
        let certificate = Certificate {
            subject: Subject::Finalize { view: View(height), block_id },
            signers: crate::codec::BoundedBytes::empty(),
            signatures: BoundedVec::new(vec![crate::keys::Signature([0; 64]); payload_bytes / 64])
                .expect("within the certificate limit"),
        };
        CommittedBlock { block: Block { header, txs: BoundedVec::empty() }, certificate }
    }

    #[test]
    fn every_message_round_trips() {
        let batch = TxBatch(vec![tx(1), tx(2)]);
        assert_eq!(decode::<TxBatch>(&encode(&batch)), Ok(batch));
        for request in [
            BlockRequest::ById(BlockId(Domain::Genesis.hash(&[b"x"]))),
            BlockRequest::ByHeight(Height(u64::MAX)),
            BlockRequest::Range { from: Height(u64::MAX), count: u32::MAX },
        ] {
            assert!(encode(&request).len() <= BlockRequest::MAX_ENCODED_SIZE, "{request:?}");
            assert_eq!(decode::<BlockRequest>(&encode(&request)), Ok(request));
        }
        let block = committed(1, 64);
        assert_eq!(decode::<CommittedBlock>(&encode(&block)), Ok(block.clone()));
        for response in [BlockResponse::Range(Vec::new()), BlockResponse::Range(vec![block.clone(), block])] {
            assert_eq!(decode::<BlockResponse>(&encode(&response)), Ok(response));
        }
    }

    #[test]
    fn oversize_lists_are_refused_before_their_items() {
        // A length prefix one above the limit and no items: refused on the length alone.
        let mut bytes = encode(&((limits::TX_GOSSIP_BATCH_MAX + 1) as u32));
        assert!(matches!(decode::<TxBatch>(&bytes), Err(DecodeError::Invalid { .. })));
        bytes = vec![0];
        bytes.extend(encode(&((limits::SYNC_RANGE_BLOCKS_MAX + 1) as u32)));
        assert!(matches!(decode::<BlockResponse>(&bytes), Err(DecodeError::Invalid { .. })));
        // A real list one above the limit, well under the byte limit.
        let batch = TxBatch(vec![tx(1); limits::TX_GOSSIP_BATCH_MAX + 1]);
        assert!(encode(&batch).len() < TxBatch::MAX_ENCODED_SIZE);
        assert!(matches!(decode::<TxBatch>(&encode(&batch)), Err(DecodeError::Invalid { .. })));
        let at_limit = TxBatch(vec![tx(1); limits::TX_GOSSIP_BATCH_MAX]);
        assert_eq!(decode::<TxBatch>(&encode(&at_limit)), Ok(at_limit));
        let range = BlockResponse::Range(vec![committed(1, 0); limits::SYNC_RANGE_BLOCKS_MAX + 1]);
        assert!(matches!(decode::<BlockResponse>(&encode(&range)), Err(DecodeError::Invalid { .. })));
        let range = BlockResponse::Range(vec![committed(1, 0); limits::SYNC_RANGE_BLOCKS_MAX]);
        assert_eq!(decode::<BlockResponse>(&encode(&range)), Ok(range));
    }

    #[test]
    fn oversize_input_is_refused() {
        fn too_long<T: BorshSerialize + BorshDeserialize + Bounded + std::fmt::Debug>() {
            let bytes = vec![0u8; T::MAX_ENCODED_SIZE + 1];
            assert!(
                matches!(decode::<T>(&bytes), Err(DecodeError::TooLong { .. })),
                "{}",
                T::MAX_ENCODED_SIZE
            );
        }
        too_long::<TxBatch>();
        too_long::<BlockRequest>();
        too_long::<CommittedBlock>();
        too_long::<BlockResponse>();
    }

    #[test]
    fn trailing_bytes_and_unknown_tags_are_refused() {
        let trailing = |mut bytes: Vec<u8>| {
            bytes.push(0);
            bytes
        };
        let batch = encode(&TxBatch(vec![tx(1)]));
        assert!(matches!(decode::<TxBatch>(&trailing(batch)), Err(DecodeError::TrailingBytes { .. })));
        let request = encode(&BlockRequest::Range { from: Height(1), count: 2 });
        assert!(matches!(decode::<BlockRequest>(&trailing(request)), Err(DecodeError::TrailingBytes { .. })));
        let block = encode(&committed(1, 0));
        assert!(matches!(decode::<CommittedBlock>(&trailing(block)), Err(DecodeError::TrailingBytes { .. })));
        let response = encode(&BlockResponse::Range(vec![committed(1, 0)]));
        assert!(matches!(
            decode::<BlockResponse>(&trailing(response)),
            Err(DecodeError::TrailingBytes { .. })
        ));
        assert!(matches!(decode::<BlockRequest>(&[3, 0, 0, 0, 0]), Err(DecodeError::Invalid { .. })));
        assert!(matches!(decode::<BlockResponse>(&[1, 0, 0, 0, 0]), Err(DecodeError::Invalid { .. })));
    }

    #[test]
    fn a_range_answer_stops_at_either_limit() {
        let small = |height| committed(height, 0);
        let BlockResponse::Range(kept) = BlockResponse::range_within_limits((1..).map(small));
        assert_eq!(kept.len(), limits::SYNC_RANGE_BLOCKS_MAX);
        assert_eq!(kept.last().map(|block| block.block.header.height), Some(Height(64)));
        let BlockResponse::Range(kept) = BlockResponse::range_within_limits((1..=3).map(small));
        assert_eq!(kept.len(), 3, "fewer when the server has fewer");

        // Blocks of 6 MiB: two fit in 16 MiB, the third would pass it.
        let big = |height| {
            let mut block = committed(height, 0);
            let tx = tx_of(height, limits::TX_OPS_MAX);
            let count = 6 * 1024 * 1024 / encode(&tx).len();
            block.block.txs = BoundedVec::new(vec![tx; count]).expect("within the block limit");
            block
        };
        let response = BlockResponse::range_within_limits((1..=5).map(big));
        let BlockResponse::Range(kept) = &response;
        assert_eq!(kept.len(), 2);
        let bytes = encode(&response);
        assert!(bytes.len() <= limits::SYNC_RESPONSE_BYTES_MAX);
        assert_eq!(decode::<BlockResponse>(&bytes).as_ref(), Ok(&response));
    }
}
