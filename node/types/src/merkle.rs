//! Binary Merkle trees over blake3 with inclusion proofs.
//!
//! Leaves are `blake3(0x00 || data)` and inner nodes `blake3(0x01 || left || right)`. The tree
//! shape is RFC 9162's (§2.1.1): a tree of n > 1 leaves splits at the largest power of two
//! below n, so an odd leaf is never duplicated and two different leaf lists can never share a
//! root. The root of the empty tree is `blake3("")`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{Bounded, BoundedVec};
use crate::hash::{Hash, merkle_leaf, merkle_node};
use crate::limits;

/// The root of the empty tree.
pub fn empty_root() -> Hash {
    Hash::plain(&[])
}

/// The root over already-hashed leaves (each from [`merkle_leaf`]).
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let split = split_point(n);
            merkle_node(&root_of_leaf_hashes(&leaves[..split]), &root_of_leaf_hashes(&leaves[split..]))
        }
    }
}

/// The root over raw leaf data: each item is hashed with the 0x00 leaf prefix first.
pub fn root<T: AsRef<[u8]>>(items: &[T]) -> Hash {
    let leaves: Vec<Hash> = items.iter().map(|item| merkle_leaf(item.as_ref())).collect();
    root_of_leaf_hashes(&leaves)
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// An inclusion proof: the leaf's index, the tree size and the sibling hashes from the leaf up.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    pub siblings: BoundedVec<Hash, { limits::MERKLE_PROOF_SIBLINGS_MAX }>,
}

impl Bounded for MerkleProof {
    const MAX_ENCODED_SIZE: usize = 8 + 8 + 4 + 32 * limits::MERKLE_PROOF_SIBLINGS_MAX;
}

/// Why a Merkle proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {leaf_count} leaves")]
    IndexOutOfRange { index: u64, leaf_count: u64 },
    #[error("proof has {actual} sibling hashes; a tree of this size needs {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("proof leads to root {computed}, expected {expected}")]
    RootMismatch { computed: Hash, expected: Hash },
}

/// Builds the inclusion proof for leaf `index` over already-hashed leaves.
pub fn prove(leaves: &[Hash], index: usize) -> Option<MerkleProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    collect_siblings(leaves, index, &mut siblings);
    siblings.reverse();
    Some(MerkleProof {
        index: index as u64,
        leaf_count: leaves.len() as u64,
        siblings: BoundedVec::new(siblings).expect("a usize-indexed tree is at most 64 levels deep"),
    })
}

/// Pushes siblings from the root down; the caller reverses them.
fn collect_siblings(leaves: &[Hash], index: usize, out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let split = split_point(leaves.len());
    if index < split {
        out.push(root_of_leaf_hashes(&leaves[split..]));
        collect_siblings(&leaves[..split], index, out);
    } else {
        out.push(root_of_leaf_hashes(&leaves[..split]));
        collect_siblings(&leaves[split..], index - split, out);
    }
}

impl MerkleProof {
    /// Computes the root this proof leads to from `leaf_hash` (RFC 9162 §2.1.3.2).
    pub fn compute_root(&self, leaf_hash: Hash) -> Result<Hash, MerkleError> {
        let (index, leaf_count) = (self.index, self.leaf_count);
        if index >= leaf_count {
            return Err(MerkleError::IndexOutOfRange { index, leaf_count });
        }
        let mut fn_ = index;
        let mut sn = leaf_count - 1;
        let mut hash = leaf_hash;
        for sibling in self.siblings.iter() {
            if sn == 0 {
                return Err(MerkleError::WrongLength {
                    expected: self.expected_len(),
                    actual: self.siblings.len(),
                });
            }
            if fn_ & 1 == 1 || fn_ == sn {
                hash = merkle_node(sibling, &hash);
                if fn_ & 1 == 0 {
                    while fn_ & 1 == 0 && fn_ != 0 {
                        fn_ >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                hash = merkle_node(&hash, sibling);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        if sn != 0 {
            return Err(MerkleError::WrongLength {
                expected: self.expected_len(),
                actual: self.siblings.len(),
            });
        }
        Ok(hash)
    }

    /// Checks that `leaf_hash` is at `self.index` in the tree with root `root`.
    pub fn verify(&self, leaf_hash: Hash, root: &Hash) -> Result<(), MerkleError> {
        let computed = self.compute_root(leaf_hash)?;
        if computed != *root {
            return Err(MerkleError::RootMismatch { computed, expected: *root });
        }
        Ok(())
    }

    /// The number of siblings a proof for this index and size has.
    fn expected_len(&self) -> usize {
        let (mut index, mut size, mut depth) = (self.index, self.leaf_count, 0usize);
        while size > 1 {
            let split = 1u64 << (63 - (size - 1).leading_zeros());
            if index < split {
                size = split;
            } else {
                index -= split;
                size -= split;
            }
            depth += 1;
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| merkle_leaf(&(i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn every_proof_verifies_for_sizes_up_to_40() {
        for n in 1..=40 {
            let leaves = leaves(n);
            let root = root_of_leaf_hashes(&leaves);
            for (index, leaf) in leaves.iter().enumerate() {
                let proof = prove(&leaves, index).expect("index in range");
                assert_eq!(proof.verify(*leaf, &root), Ok(()), "n={n} index={index}");
                assert_eq!(proof.siblings.len(), proof.expected_len());
                // The wrong leaf does not verify.
                let other = merkle_leaf(b"other");
                assert!(proof.verify(other, &root).is_err());
            }
        }
    }

    #[test]
    fn shape_is_rfc9162() {
        let l = leaves(3);
        let expected = merkle_node(&merkle_node(&l[0], &l[1]), &l[2]);
        assert_eq!(root_of_leaf_hashes(&l), expected);
        // Not duplicated: the root of 3 leaves differs from the root of [l0, l1, l2, l2].
        let dup = [l[0], l[1], l[2], l[2]];
        assert_ne!(root_of_leaf_hashes(&dup), expected);
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let leaves = leaves(5);
        let root = root_of_leaf_hashes(&leaves);
        let mut proof = prove(&leaves, 4).expect("in range");
        proof.index = 5;
        assert!(matches!(proof.verify(leaves[4], &root), Err(MerkleError::IndexOutOfRange { .. })));
        let mut proof = prove(&leaves, 4).expect("in range");
        let mut extra = proof.siblings.as_slice().to_vec();
        extra.push(Hash::ZERO);
        proof.siblings = BoundedVec::new(extra).expect("small");
        assert!(matches!(proof.verify(leaves[4], &root), Err(MerkleError::WrongLength { .. })));
        let mut proof = prove(&leaves, 1).expect("in range");
        proof.siblings = BoundedVec::new(proof.siblings.as_slice()[..1].to_vec()).expect("small");
        assert!(matches!(proof.verify(leaves[1], &root), Err(MerkleError::WrongLength { .. })));
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(root::<&[u8]>(&[]), Hash::plain(b""));
        assert_eq!(root(&[b"a"]), merkle_leaf(b"a"));
    }
}
