//! Sparse Merkle tree proofs: filled in below.
