//! The sparse Merkle tree (SMT) that commits to the ledger state: its hashing, and the
//! membership and non-membership proofs that clients and auditors verify.
//!
//! The tree itself (node storage, batch updates) lives in `tally-ledger`'s `tree` module; this
//! module holds only what a verifier needs, so that it stays free of I/O and can be
//! reimplemented from this text alone.
//!
//! # Keys and paths
//!
//! The tree maps 256-bit keys to 256-bit value hashes. The ledger computes a key as
//! `Domain::StateKey` over the encoded state key, and a value hash as `Domain::StateValue` over
//! the encoded value; this module never sees the encodings.
//!
//! Bit `i` (0 ≤ i < 256) of a key is bit `7 - i % 8` of byte `i / 8`, so the most significant
//! bit of byte 0 comes first. Think of a complete binary tree of depth 256: the root has depth
//! 0, and the position at depth `d` with path `p` (a string of `d` bits) covers every key whose
//! first `d` bits are `p`. A key's bit `d` chooses the child of a depth-`d` position: 0 is left,
//! 1 is right.
//!
//! # Hashing
//!
//! The hash of the position covering the set `S` of (key, value hash) leaves is:
//!
//! - `S` empty: 32 zero bytes ([`Hash::ZERO`]);
//! - `S = {(k, v)}`, one leaf: `leaf_hash(k, v) = blake3::derive_key("tally v1 smt leaf", k || v)`;
//! - `|S| ≥ 2`: `node_hash(L, R) = blake3::derive_key("tally v1 smt node", L || R)`, where `L`
//!   and `R` are the hashes of the left and right child positions.
//!
//! The root is the hash of the depth-0 position, so the root of the empty tree is zero.
//!
//! A lone leaf is therefore hashed at the shallowest position where it is alone (as in
//! Diem/Aptos's sparse Merkle tree), not at depth 256: a tree of `n` random keys is about
//! `log2(n)` deep instead of 256. A leaf's depth is one more than the longest prefix it shares
//! with any other key. Inner nodes exist exactly at the positions holding two or more leaves;
//! one child of an inner node is empty when all its leaves lie on the other side, and that
//! other side then holds at least two leaves.
//!
//! Leaves and inner nodes are hashed in different blake3 derive-key contexts, so a leaf can
//! never be passed off as an inner node or the reverse, and no leaf or node hashes to zero
//! (that would need a blake3 preimage of zero).
//!
//! # Proofs
//!
//! An [`SmtProof`] for key `k` walks from the root down `k`'s path until it reaches a leaf or
//! an empty position, at depth `n = siblings.len()` (0 ≤ n ≤ 256):
//!
//! - `siblings[i]` (ordered from the root down) is the hash of the position at depth `i + 1`
//!   beside the path: the first `i` bits of `k` followed by the opposite of `k`'s bit `i`.
//! - `leaf` is the leaf at the end of the path, or `None` when the path ends in an empty
//!   position. The leaf's key may differ from `k`: then `k` is absent, because the position of
//!   depth `n` on `k`'s path holds that one other key only.
//!
//! Verifying the proof against a root `r` (see [`SmtProof::verify`]):
//!
//! 1. If `n > 0`, `siblings[n - 1]` must not be zero. A position whose sibling is empty holds
//!    at most one leaf when it holds a leaf or nothing, so the tree would have placed it one
//!    level higher; refusing this keeps every proof canonical (one proof per key and root).
//! 2. If `leaf` is present, its key must share its first `n` bits with `k`: a leaf at depth
//!    `n` lies on the path of the keys with its own first `n` bits only.
//! 3. Start from `h = leaf_hash(leaf.key, leaf.value_hash)`, or `h = 0` without a leaf; for
//!    `i` from `n - 1` down to 0, `h = node_hash(h, siblings[i])` if `k`'s bit `i` is 0, else
//!    `h = node_hash(siblings[i], h)`.
//! 4. `h` must equal `r`.
//! 5. The proof shows `k ↦ leaf.value_hash` if `leaf.key == k`, and that `k` is absent
//!    otherwise. A membership check compares the value hash; a non-membership check refuses a
//!    proof that shows the key present, and the reverse.
//!
//! Why this cannot be forged without breaking blake3: if the recomputed root equals `r`, every
//! hash recomputed on the way equals the hash of the actual position at that depth on `k`'s
//! path (else two different inputs give the same `node_hash`). So the actual position at depth
//! `n` hashes to `leaf_hash(leaf)` or to zero, hence holds exactly that leaf or nothing; step 2
//! puts that position on `k`'s path, so `k` is present there or absent from the whole tree.
//!
//! Encoding (borsh, through [`crate::codec::decode`]): one byte 0 (no leaf) or 1 followed by
//! the leaf's key and value hash (32 bytes each), then the sibling count as a little-endian
//! `u32` and the siblings, 32 bytes each. JSON: `{"leaf": null | {"key": hex, "value_hash":
//! hex}, "siblings": [hex, ...]}`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{Bounded, BoundedVec};
use crate::hash::{Domain, Hash};
use crate::limits;

/// Bits in a key, and so the greatest depth of a position.
pub const KEY_BITS: usize = 256;

// A proof has one sibling per level above its end, and a path ends at depth 256 at the latest,
// so 256 siblings are both necessary (two keys that differ only in their last bit) and enough.
// Equality lets `verify` skip a length check: a longer proof cannot even be represented.
const _: () = assert!(limits::SMT_PROOF_SIBLINGS_MAX == KEY_BITS);
// The largest proof: leaf tag and leaf, count, 256 siblings.
const _: () = assert!(1 + 64 + 4 + 32 * limits::SMT_PROOF_SIBLINGS_MAX <= limits::SMT_PROOF_BYTES_MAX);

/// Bit `index` of `key`, most significant bit of byte 0 first: `false` is left, `true` right.
///
/// Panics if `index >= 256`; every caller walks a path no deeper than the key is long.
// Inline across crates: the tree calls this for every key at every level of a batch.
#[inline]
pub fn key_bit(key: &Hash, index: usize) -> bool {
    assert!(index < KEY_BITS, "key bit {index} is past the end of a 256-bit key");
    (key.0[index / 8] >> (7 - index % 8)) & 1 == 1
}

/// How many leading bits `a` and `b` share (256 when they are equal).
#[inline]
pub fn common_prefix_bits(a: &Hash, b: &Hash) -> usize {
    for (index, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        let differing = x ^ y;
        if differing != 0 {
            return index * 8 + differing.leading_zeros() as usize;
        }
    }
    KEY_BITS
}

/// The hash of a leaf: `blake3::derive_key("tally v1 smt leaf", key || value_hash)`.
pub fn leaf_hash(key: &Hash, value_hash: &Hash) -> Hash {
    Domain::SmtLeaf.hash(&[&key.0, &value_hash.0])
}

/// The hash of an inner node: `blake3::derive_key("tally v1 smt node", left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Domain::SmtNode.hash(&[&left.0, &right.0])
}

/// The root of the tree holding exactly `entries` (key hash → value hash), computed straight
/// from the definition above: no store, no batches, O(n log n). It is the reference that the
/// ledger's incremental tree is tested against, and lets an auditor recompute a state root
/// from a full export of the state.
pub fn root_of_entries(entries: &std::collections::BTreeMap<Hash, Hash>) -> Hash {
    fn subtree(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
        match leaves {
            [] => Hash::ZERO,
            [(key, value)] => leaf_hash(key, value),
            _ => {
                let (left, right): (Vec<_>, Vec<_>) =
                    leaves.iter().partition(|(key, _)| !key_bit(key, depth));
                node_hash(&subtree(&left, depth + 1), &subtree(&right, depth + 1))
            }
        }
    }
    let leaves: Vec<(Hash, Hash)> = entries.iter().map(|(key, value)| (*key, *value)).collect();
    subtree(&leaves, 0)
}

/// One leaf of the tree: a key and the hash of its value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SmtLeaf {
    pub key: Hash,
    pub value_hash: Hash,
}

impl SmtLeaf {
    /// This leaf's hash, [`leaf_hash`].
    pub fn hash(&self) -> Hash {
        leaf_hash(&self.key, &self.value_hash)
    }
}

impl Bounded for SmtLeaf {
    const MAX_ENCODED_SIZE: usize = 64;
}

/// A membership or non-membership proof for one key; the module documentation gives the
/// format and the verification algorithm.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SmtProof {
    /// The leaf at the end of the key's path, or `None` when the path ends in an empty position.
    pub leaf: Option<SmtLeaf>,
    /// Hashes of the positions beside the path, from the root down: `siblings[i]` is at depth
    /// `i + 1`.
    pub siblings: BoundedVec<Hash, { limits::SMT_PROOF_SIBLINGS_MAX }>,
}

impl Bounded for SmtProof {
    const MAX_ENCODED_SIZE: usize = limits::SMT_PROOF_BYTES_MAX;
}

/// Why a sparse Merkle proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtError {
    /// The deepest sibling is empty, so the path's end would sit one level higher in the tree.
    #[error("proof is not canonical: the sibling at depth {depth} is empty, so the path must end higher")]
    EmptyLowestSibling { depth: usize },
    /// The leaf's key leaves the queried key's path above the depth where the proof puts it.
    #[error("proof leaf {leaf_key} shares {shared_bits} bits with the key, but sits at depth {depth}")]
    LeafOffPath { leaf_key: Hash, shared_bits: usize, depth: usize },
    /// The proof leads to another root.
    #[error("proof leads to root {computed}, expected {expected}")]
    RootMismatch { computed: Hash, expected: Hash },
    /// The key is present, with another value hash than the expected one.
    #[error("key is present with value hash {proven}, expected {expected}")]
    ValueMismatch { expected: Hash, proven: Hash },
    /// Non-membership was asked, but the proof shows the key present.
    #[error("key is present (value hash {value_hash}), expected it absent")]
    KeyPresent { value_hash: Hash },
    /// Membership was asked, but the proof shows the key absent.
    #[error("key is absent, expected it present with value hash {expected}")]
    KeyAbsent { expected: Hash },
}

impl SmtProof {
    /// Checks the proof's shape against `key` (steps 1 and 2 of the module documentation) and
    /// recomputes the root it leads to (step 3).
    pub fn compute_root(&self, key: &Hash) -> Result<Hash, SmtError> {
        let depth = self.siblings.len();
        if self.siblings.last() == Some(&Hash::ZERO) {
            return Err(SmtError::EmptyLowestSibling { depth });
        }
        let mut hash = match &self.leaf {
            Some(leaf) => {
                let shared_bits = common_prefix_bits(&leaf.key, key);
                if shared_bits < depth {
                    return Err(SmtError::LeafOffPath { leaf_key: leaf.key, shared_bits, depth });
                }
                leaf.hash()
            }
            None => Hash::ZERO,
        };
        for (index, sibling) in self.siblings.iter().enumerate().rev() {
            hash = if key_bit(key, index) { node_hash(sibling, &hash) } else { node_hash(&hash, sibling) };
        }
        Ok(hash)
    }

    /// Verifies the proof against `root` and returns what it proves for `key`: its value hash,
    /// or `None` when the key is absent.
    pub fn proven_value(&self, root: &Hash, key: &Hash) -> Result<Option<Hash>, SmtError> {
        let computed = self.compute_root(key)?;
        if computed != *root {
            return Err(SmtError::RootMismatch { computed, expected: *root });
        }
        Ok(self.leaf.filter(|leaf| leaf.key == *key).map(|leaf| leaf.value_hash))
    }

    /// Verifies that under `root`, `key` maps to `expected` (`Some(value_hash)`: membership) or
    /// is absent (`None`: non-membership).
    pub fn verify(&self, root: &Hash, key: &Hash, expected: Option<&Hash>) -> Result<(), SmtError> {
        match (self.proven_value(root, key)?, expected) {
            (Some(proven), Some(expected)) if proven == *expected => Ok(()),
            (Some(proven), Some(expected)) => Err(SmtError::ValueMismatch { expected: *expected, proven }),
            (Some(value_hash), None) => Err(SmtError::KeyPresent { value_hash }),
            (None, Some(expected)) => Err(SmtError::KeyAbsent { expected: *expected }),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The tree that produces proofs is in `tally-ledger`, which tests proofs against every
    //! kind of tree. Here, trees are built by hand from the hashing rules, so these tests pin
    //! the verifier to the module documentation rather than to the ledger's code.

    use super::*;
    use crate::codec::{decode, encode};

    /// A key whose first byte is `first` and whose other bytes are `rest`.
    fn key(first: u8, rest: u8) -> Hash {
        let mut bytes = [rest; 32];
        bytes[0] = first;
        Hash(bytes)
    }

    fn value(tag: u8) -> Hash {
        Domain::StateValue.hash(&[&[tag]])
    }

    fn proof(leaf: Option<SmtLeaf>, siblings: Vec<Hash>) -> SmtProof {
        SmtProof { leaf, siblings: BoundedVec::new(siblings).expect("at most 256 siblings") }
    }

    /// Three leaves: `a` = 0b00.., `b` = 0b01.., `c` = 0b1...; so the root is
    /// node(node(leaf a, leaf b), leaf c), and the keys 0b10.. and 0b11.. are absent beside `c`.
    struct Three {
        a: SmtLeaf,
        b: SmtLeaf,
        c: SmtLeaf,
        root: Hash,
    }

    fn three() -> Three {
        let a = SmtLeaf { key: key(0b0000_0000, 1), value_hash: value(1) };
        let b = SmtLeaf { key: key(0b0100_0000, 2), value_hash: value(2) };
        let c = SmtLeaf { key: key(0b1000_0000, 3), value_hash: value(3) };
        let root = node_hash(&node_hash(&a.hash(), &b.hash()), &c.hash());
        Three { a, b, c, root }
    }

    #[test]
    fn key_bits_are_most_significant_first() {
        let key = key(0b1010_0000, 0x01);
        assert!(key_bit(&key, 0));
        assert!(!key_bit(&key, 1));
        assert!(key_bit(&key, 2));
        assert!(!key_bit(&key, 7));
        assert!(!key_bit(&key, 8));
        assert!(key_bit(&key, 15));
        assert!(key_bit(&key, 255));
    }

    #[test]
    #[should_panic(expected = "past the end")]
    fn key_bit_256_is_a_programmer_error() {
        key_bit(&Hash::ZERO, 256);
    }

    #[test]
    fn common_prefix_counts_leading_equal_bits() {
        let zero = Hash::ZERO;
        assert_eq!(common_prefix_bits(&zero, &zero), 256);
        assert_eq!(common_prefix_bits(&zero, &key(0b1000_0000, 0)), 0);
        assert_eq!(common_prefix_bits(&zero, &key(0b0000_0001, 0)), 7);
        let mut last = [0u8; 32];
        last[31] = 1;
        assert_eq!(common_prefix_bits(&zero, &Hash(last)), 255);
    }

    #[test]
    fn hashes_match_blake3_derive_key_over_the_concatenation() {
        let (k, v) = (key(7, 8), value(9));
        let mut joined = [0u8; 64];
        joined[..32].copy_from_slice(&k.0);
        joined[32..].copy_from_slice(&v.0);
        assert_eq!(leaf_hash(&k, &v).0, blake3::derive_key("tally v1 smt leaf", &joined));
        assert_eq!(node_hash(&k, &v).0, blake3::derive_key("tally v1 smt node", &joined));
        assert_ne!(leaf_hash(&k, &v), node_hash(&k, &v));
    }

    /// Golden vectors: these pin the hashing and the proof encoding. If this test fails, every
    /// state root of every chain changes; that needs a protocol version, not a new constant.
    #[test]
    fn golden_vectors() {
        let t = three();
        assert_eq!(t.a.hash().to_hex(), "0725f5ada2be8896ee4a95eb8da31aeda307f4bc3bf4db74eb9dc40a5b207ea6");
        assert_eq!(t.root.to_hex(), "3a758397005c6b566345883c49bd6dd5960eaf360a1362283009abc89adef5f0");
        let membership = proof(Some(t.b), vec![t.c.hash(), t.a.hash()]);
        let bytes = encode(&membership);
        assert_eq!(bytes.len(), 1 + 64 + 4 + 2 * 32);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[65..69], &2u32.to_le_bytes());
        assert_eq!(
            Hash::plain(&bytes).to_hex(),
            "e63e31e24c8248cb162e49d7af44f61447c484f9c547872e414703354bc3047b"
        );
    }

    #[test]
    fn every_leaf_proves_membership() {
        let t = three();
        let cases = [
            (t.a, vec![t.c.hash(), t.b.hash()]),
            (t.b, vec![t.c.hash(), t.a.hash()]),
            (t.c, vec![node_hash(&t.a.hash(), &t.b.hash())]),
        ];
        for (leaf, siblings) in cases {
            let proof = proof(Some(leaf), siblings);
            assert_eq!(proof.verify(&t.root, &leaf.key, Some(&leaf.value_hash)), Ok(()));
            assert_eq!(proof.proven_value(&t.root, &leaf.key), Ok(Some(leaf.value_hash)));
            assert_eq!(
                proof.verify(&t.root, &leaf.key, None),
                Err(SmtError::KeyPresent { value_hash: leaf.value_hash })
            );
            let wrong = value(99);
            assert_eq!(
                proof.verify(&t.root, &leaf.key, Some(&wrong)),
                Err(SmtError::ValueMismatch { expected: wrong, proven: leaf.value_hash })
            );
        }
    }

    #[test]
    fn absent_key_beside_another_leaf_proves_non_membership() {
        let t = three();
        // 0b11.. shares the path of `c` (bit 0 = 1) and `c` is alone on that side.
        let absent = key(0b1100_0000, 0);
        let proof = proof(Some(t.c), vec![node_hash(&t.a.hash(), &t.b.hash())]);
        assert_eq!(proof.verify(&t.root, &absent, None), Ok(()));
        assert_eq!(proof.proven_value(&t.root, &absent), Ok(None));
        let expected = value(1);
        assert_eq!(proof.verify(&t.root, &absent, Some(&expected)), Err(SmtError::KeyAbsent { expected }));
    }

    #[test]
    fn absent_key_in_an_empty_position_proves_non_membership() {
        // Two leaves both starting 0b1..: the root's left child is empty.
        let x = SmtLeaf { key: key(0b1000_0000, 0), value_hash: value(1) };
        let y = SmtLeaf { key: key(0b1100_0000, 0), value_hash: value(2) };
        let right = node_hash(&x.hash(), &y.hash());
        let root = node_hash(&Hash::ZERO, &right);
        let absent = key(0b0110_0000, 5);
        let proof = proof(None, vec![right]);
        assert_eq!(proof.verify(&root, &absent, None), Ok(()));
        let expected = value(3);
        assert_eq!(proof.verify(&root, &absent, Some(&expected)), Err(SmtError::KeyAbsent { expected }));
    }

    #[test]
    fn empty_tree_and_single_leaf_tree() {
        let k = key(3, 3);
        let empty = proof(None, vec![]);
        assert_eq!(empty.verify(&Hash::ZERO, &k, None), Ok(()));
        let single = SmtLeaf { key: key(0xff, 0), value_hash: value(1) };
        let root = single.hash();
        // The lone leaf sits at the root; it proves itself and the absence of any other key.
        let at_root = proof(Some(single), vec![]);
        assert_eq!(at_root.verify(&root, &single.key, Some(&single.value_hash)), Ok(()));
        assert_eq!(at_root.verify(&root, &k, None), Ok(()));
        assert!(matches!(empty.verify(&root, &k, None), Err(SmtError::RootMismatch { .. })));
    }

    #[test]
    fn non_membership_for_a_present_key_fails() {
        let t = three();
        // Claim that `b`'s position is empty, or holds `a`: both change the recomputed root.
        let empty_claim = proof(None, vec![t.c.hash(), t.a.hash()]);
        assert!(matches!(empty_claim.verify(&t.root, &t.b.key, None), Err(SmtError::RootMismatch { .. })));
        // `a` does not share bit 1 with `b`, so `a` cannot sit at depth 2 on `b`'s path.
        let other_leaf = proof(Some(t.a), vec![t.c.hash(), t.b.hash()]);
        assert!(matches!(
            other_leaf.verify(&t.root, &t.b.key, None),
            Err(SmtError::LeafOffPath { shared_bits: 1, depth: 2, .. })
        ));
        // Stopping at the inner node `node(a, b)` and calling it empty fails too.
        let stop_early = proof(None, vec![t.c.hash()]);
        assert!(matches!(stop_early.verify(&t.root, &t.b.key, None), Err(SmtError::RootMismatch { .. })));
    }

    #[test]
    fn tampered_proofs_fail() {
        let t = three();
        let good = proof(Some(t.a), vec![t.c.hash(), t.b.hash()]);
        assert_eq!(good.verify(&t.root, &t.a.key, Some(&t.a.value_hash)), Ok(()));
        // Flip one bit of each sibling in turn.
        for index in 0..good.siblings.len() {
            let mut siblings = good.siblings.as_slice().to_vec();
            siblings[index].0[17] ^= 0x10;
            let tampered = proof(good.leaf, siblings);
            assert!(matches!(
                tampered.verify(&t.root, &t.a.key, Some(&t.a.value_hash)),
                Err(SmtError::RootMismatch { .. })
            ));
        }
        // Another value hash in the leaf.
        let other_value =
            proof(Some(SmtLeaf { value_hash: value(50), ..t.a }), good.siblings.as_slice().to_vec());
        assert!(matches!(
            other_value.verify(&t.root, &t.a.key, Some(&value(50))),
            Err(SmtError::RootMismatch { .. })
        ));
        // Another key that shares the path: the leaf hash changes, so the root does.
        let mut moved_key = t.a.key;
        moved_key.0[31] ^= 1;
        let other_key = proof(Some(SmtLeaf { key: moved_key, ..t.a }), good.siblings.as_slice().to_vec());
        assert!(matches!(
            other_key.verify(&t.root, &moved_key, Some(&t.a.value_hash)),
            Err(SmtError::RootMismatch { .. })
        ));
        // The honest proof for `a`, checked for another key on the same path, shows it absent.
        assert_eq!(good.verify(&t.root, &moved_key, None), Ok(()));
        // Truncated: drop the deepest sibling.
        let truncated = proof(good.leaf, vec![t.c.hash()]);
        assert!(matches!(
            truncated.verify(&t.root, &t.a.key, Some(&t.a.value_hash)),
            Err(SmtError::RootMismatch { .. })
        ));
        // Extended below the real depth, with a zero or a non-zero extra sibling.
        let extended_zero = proof(good.leaf, vec![t.c.hash(), t.b.hash(), Hash::ZERO]);
        assert_eq!(
            extended_zero.verify(&t.root, &t.a.key, Some(&t.a.value_hash)),
            Err(SmtError::EmptyLowestSibling { depth: 3 })
        );
        let extended = proof(good.leaf, vec![t.c.hash(), t.b.hash(), value(7)]);
        assert!(matches!(
            extended.verify(&t.root, &t.a.key, Some(&t.a.value_hash)),
            Err(SmtError::RootMismatch { .. })
        ));
        // The right proof against another root.
        assert!(matches!(
            good.verify(&value(0), &t.a.key, Some(&t.a.value_hash)),
            Err(SmtError::RootMismatch { .. })
        ));
    }

    #[test]
    fn a_leaf_at_a_depth_its_key_does_not_match_fails() {
        // Keys that share 255 bits sit at depth 256. A proof that claims `x` is at depth 256 on
        // the path of a key that leaves `x`'s path at bit 200 must fail before any hashing.
        let x = Hash([0xaa; 32]);
        let mut other = x;
        other.0[25] ^= 0b1000_0000;
        let siblings = vec![value(1); 256];
        let deep = proof(Some(SmtLeaf { key: x, value_hash: value(2) }), siblings);
        assert_eq!(
            deep.compute_root(&other),
            Err(SmtError::LeafOffPath { leaf_key: x, shared_bits: 200, depth: 256 })
        );
        // With its own key, a 256-sibling proof is well formed (it hashes, it just is not ours).
        assert!(deep.compute_root(&x).is_ok());
    }

    #[test]
    fn codec_round_trip_and_limits() {
        let t = three();
        let membership = proof(Some(t.a), vec![t.c.hash(), t.b.hash()]);
        let absent = proof(None, vec![t.c.hash()]);
        for original in [membership, absent, proof(Some(t.c), vec![Hash([1; 32]); 256])] {
            let bytes = encode(&original);
            assert_eq!(decode::<SmtProof>(&bytes), Ok(original.clone()));
            let json = serde_json::to_string(&original).expect("a proof serializes to JSON");
            let back: SmtProof = serde_json::from_str(&json).expect("its JSON parses back");
            assert_eq!(back, original);
        }
        // 257 siblings are refused on decode and in JSON.
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&257u32.to_le_bytes());
        bytes.extend(std::iter::repeat_n(1u8, 257 * 32));
        assert!(decode::<SmtProof>(&bytes).is_err());
        let json = format!(
            r#"{{"leaf":null,"siblings":[{}]}}"#,
            vec![format!("\"{}\"", Hash([1; 32])); 257].join(",")
        );
        assert!(serde_json::from_str::<SmtProof>(&json).is_err());
        // A leaf tag other than 0 or 1 is refused.
        let mut bad_tag = encode(&proof(None, vec![]));
        bad_tag[0] = 2;
        assert!(decode::<SmtProof>(&bad_tag).is_err());
    }
}
