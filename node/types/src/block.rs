//! Blocks and headers (docs/ARCHITECTURE.md "Blocks and consensus").

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

    /// The rules a block's header must meet to extend `parent` on the chain `chain_id`
    /// certified by the validator set hashed to `validators_hash` (docs/ARCHITECTURE.md "Blocks and consensus"), checked in
    /// this order, the first failure returned: the chain id, height = parent's height + 1, the
    /// parent link (the parent's id; for block 1 the genesis hash), the validators hash, and a
    /// time strictly after the parent's (for block 1, the genesis time).
    ///
    /// Every place that accepts a block (consensus, the engine's verification and sync, the
    /// auditor, the proof checkers) checks these rules through this one function.
    pub fn check_child_of(
        &self,
        parent: &ParentLink,
        chain_id: &ChainId,
        validators_hash: &Hash,
    ) -> Result<(), ChildError> {
        self.check_chain_id(chain_id)?;
        if parent.height.0.checked_add(1) != Some(self.height.0) {
            return Err(ChildError::Height { parent: parent.height, found: self.height });
        }
        if self.parent_id != parent.id {
            return Err(ChildError::ParentId { expected: parent.id, found: self.parent_id });
        }
        self.check_validators_hash(validators_hash)?;
        if self.time_ms <= parent.time_ms {
            return Err(ChildError::Time { parent_ms: parent.time_ms, found_ms: self.time_ms });
        }
        Ok(())
    }

    /// The rules of [`Header::check_child_of`] that need no parent: the chain id, then the
    /// validators hash. For a header whose parent is not at hand (a proposal before its parent
    /// arrives, a single block checked against its certificate).
    pub fn check_chain(&self, chain_id: &ChainId, validators_hash: &Hash) -> Result<(), ChildError> {
        self.check_chain_id(chain_id)?;
        self.check_validators_hash(validators_hash)
    }

    fn check_chain_id(&self, chain_id: &ChainId) -> Result<(), ChildError> {
        if self.chain_id != *chain_id {
            return Err(ChildError::ChainId { expected: chain_id.clone(), found: self.chain_id.clone() });
        }
        Ok(())
    }

    fn check_validators_hash(&self, validators_hash: &Hash) -> Result<(), ChildError> {
        if self.validators_hash != *validators_hash {
            return Err(ChildError::ValidatorsHash {
                expected: *validators_hash,
                found: self.validators_hash,
            });
        }
        Ok(())
    }
}

/// What [`Header::check_child_of`] needs of the parent: its id, height and time. For block 1
/// the parent is the genesis: the genesis hash as id, height 0 and the genesis time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ParentLink {
    pub id: BlockId,
    pub height: Height,
    pub time_ms: u64,
}

impl ParentLink {
    /// The link to the block with this header (hashes the header for its id).
    pub fn of(header: &Header) -> Self {
        ParentLink { id: header.id(), height: header.height, time_ms: header.time_ms }
    }
}

/// Which rule of [`Header::check_child_of`] a header broke, with the values.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ChildError {
    #[error("the header names chain `{found}`, not `{expected}`")]
    ChainId { expected: ChainId, found: ChainId },
    #[error("the header's height {found} is not the parent's height {parent} + 1")]
    Height { parent: Height, found: Height },
    #[error("the header's parent link names block {found}, not the parent {expected}")]
    ParentId { expected: BlockId, found: BlockId },
    #[error("the header names validator set {found}, not {expected}")]
    ValidatorsHash { expected: Hash, found: Hash },
    #[error("the header's time {found_ms} ms is not after the parent's {parent_ms} ms")]
    Time { parent_ms: u64, found_ms: u64 },
}

impl ChildError {
    /// The header field the broken rule is about, as it is named in the header:
    /// `chain_id`, `height`, `parent_id`, `validators_hash` or `time_ms`.
    pub fn field(&self) -> &'static str {
        match self {
            ChildError::ChainId { .. } => "chain_id",
            ChildError::Height { .. } => "height",
            ChildError::ParentId { .. } => "parent_id",
            ChildError::ValidatorsHash { .. } => "validators_hash",
            ChildError::Time { .. } => "time_ms",
        }
    }

    /// What the rule asks of the field and what the header holds, as text for reports: the
    /// height rule asks for the parent's height + 1, the time rule for more than the parent's.
    pub fn expected_and_found(&self) -> (String, String) {
        match self {
            ChildError::ChainId { expected, found } => (expected.to_string(), found.to_string()),
            ChildError::Height { parent, found } => {
                let expected = match parent.0.checked_add(1) {
                    Some(next) => next.to_string(),
                    None => format!("{parent} + 1 (beyond the last height)"),
                };
                (expected, found.to_string())
            }
            ChildError::ParentId { expected, found } => (expected.to_string(), found.to_string()),
            ChildError::ValidatorsHash { expected, found } => (expected.to_string(), found.to_string()),
            ChildError::Time { parent_ms, found_ms } => (format!("> {parent_ms}"), found_ms.to_string()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ChainId {
        ChainId::new("tally-child").expect("valid chain id")
    }

    fn validators() -> Hash {
        Hash::plain(b"validators")
    }

    fn parent() -> ParentLink {
        ParentLink { id: BlockId(Hash::plain(b"parent")), height: Height(7), time_ms: 1_000 }
    }

    /// A header that meets every rule against [`parent`].
    fn child() -> Header {
        Header {
            chain_id: chain(),
            height: Height(8),
            view: View(9),
            parent_id: parent().id,
            time_ms: 1_001,
            proposer: ValidatorIndex(1),
            tx_root: Hash::plain(b"tx"),
            receipts_root: Hash::plain(b"receipts"),
            state_root: Hash::plain(b"state"),
            validators_hash: validators(),
        }
    }

    fn check(header: &Header) -> Result<(), ChildError> {
        header.check_child_of(&parent(), &chain(), &validators())
    }

    #[test]
    fn a_child_meeting_every_rule_is_accepted() {
        assert_eq!(check(&child()), Ok(()));
        assert_eq!(child().check_chain(&chain(), &validators()), Ok(()));
    }

    #[test]
    fn chain_id_must_be_the_chains() {
        let other = ChainId::new("tally-other").expect("valid chain id");
        let mut header = child();
        header.chain_id = other.clone();
        let expected = ChildError::ChainId { expected: chain(), found: other };
        assert_eq!(check(&header), Err(expected.clone()));
        assert_eq!(header.check_chain(&chain(), &validators()), Err(expected));
    }

    #[test]
    fn height_must_be_the_parents_plus_one() {
        for height in [0, 7, 9, u64::MAX] {
            let mut header = child();
            header.height = Height(height);
            assert_eq!(check(&header), Err(ChildError::Height { parent: Height(7), found: Height(height) }));
        }
        // No height follows the last one.
        let last = ParentLink { height: Height(u64::MAX), ..parent() };
        let mut header = child();
        header.height = Height(0);
        assert_eq!(
            header.check_child_of(&last, &chain(), &validators()),
            Err(ChildError::Height { parent: Height(u64::MAX), found: Height(0) })
        );
    }

    #[test]
    fn parent_link_must_name_the_parent() {
        let mut header = child();
        header.parent_id = BlockId(Hash::plain(b"another block"));
        assert_eq!(
            check(&header),
            Err(ChildError::ParentId { expected: parent().id, found: header.parent_id })
        );
    }

    #[test]
    fn validators_hash_must_be_the_sets() {
        let mut header = child();
        header.validators_hash = Hash::plain(b"another set");
        let expected = ChildError::ValidatorsHash { expected: validators(), found: header.validators_hash };
        assert_eq!(check(&header), Err(expected.clone()));
        assert_eq!(header.check_chain(&chain(), &validators()), Err(expected));
    }

    #[test]
    fn time_must_be_strictly_after_the_parents() {
        for time_ms in [0, 999, 1_000] {
            let mut header = child();
            header.time_ms = time_ms;
            assert_eq!(check(&header), Err(ChildError::Time { parent_ms: 1_000, found_ms: time_ms }));
        }
        let mut header = child();
        header.time_ms = u64::MAX;
        assert_eq!(check(&header), Ok(()));
    }

    #[test]
    fn the_first_broken_rule_is_named_in_a_fixed_order() {
        let mut header = child();
        header.time_ms = 0;
        header.validators_hash = Hash::plain(b"another set");
        assert!(matches!(check(&header), Err(ChildError::ValidatorsHash { .. })));
        header.parent_id = BlockId(Hash::plain(b"another block"));
        assert!(matches!(check(&header), Err(ChildError::ParentId { .. })));
        header.height = Height(1);
        assert!(matches!(check(&header), Err(ChildError::Height { .. })));
        header.chain_id = ChainId::new("tally-other").expect("valid chain id");
        assert!(matches!(check(&header), Err(ChildError::ChainId { .. })));
    }

    #[test]
    fn a_link_of_a_header_names_it() {
        let header = child();
        let link = ParentLink::of(&header);
        assert_eq!(link, ParentLink { id: header.id(), height: Height(8), time_ms: 1_001 });
        let mut grandchild = header.clone();
        grandchild.height = Height(9);
        grandchild.parent_id = header.id();
        grandchild.time_ms = 1_002;
        assert_eq!(grandchild.check_child_of(&link, &chain(), &validators()), Ok(()));
    }

    #[test]
    fn errors_report_their_field_and_values() {
        let parent_id = parent().id;
        let other = BlockId(Hash::plain(b"other"));
        let cases = [
            (
                ChildError::ChainId { expected: chain(), found: ChainId::new("tally-x").expect("valid") },
                "chain_id",
                ("tally-child".to_owned(), "tally-x".to_owned()),
            ),
            (
                ChildError::Height { parent: Height(7), found: Height(9) },
                "height",
                ("8".to_owned(), "9".to_owned()),
            ),
            (
                ChildError::ParentId { expected: parent_id, found: other },
                "parent_id",
                (parent_id.to_string(), other.to_string()),
            ),
            (
                ChildError::ValidatorsHash { expected: validators(), found: Hash::plain(b"x") },
                "validators_hash",
                (validators().to_string(), Hash::plain(b"x").to_string()),
            ),
            (ChildError::Time { parent_ms: 5, found_ms: 4 }, "time_ms", ("> 5".to_owned(), "4".to_owned())),
        ];
        for (error, field, values) in cases {
            assert_eq!(error.field(), field);
            assert_eq!(error.expected_and_found(), values, "{field}");
        }
        let (expected, _) =
            ChildError::Height { parent: Height(u64::MAX), found: Height(0) }.expected_and_found();
        assert!(expected.contains("beyond the last height"), "{expected}");
    }

    #[test]
    fn errors_name_the_rule_and_the_values() {
        let text = ChildError::Height { parent: Height(7), found: Height(9) }.to_string();
        assert!(text.contains("height 9") && text.contains("height 7 + 1"), "{text}");
        let text = ChildError::Time { parent_ms: 1_000, found_ms: 999 }.to_string();
        assert!(text.contains("time 999 ms") && text.contains("1000 ms"), "{text}");
        let text = ChildError::ChainId { expected: chain(), found: ChainId::new("tally-x").expect("valid") }
            .to_string();
        assert!(text.contains("`tally-x`") && text.contains("`tally-child`"), "{text}");
    }
}
