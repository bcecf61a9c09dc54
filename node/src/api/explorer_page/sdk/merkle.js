/**
 * Binary Merkle trees over blake3 (`node/types/src/merkle.rs`): leaf `blake3(0x00 || data)`,
 * node `blake3(0x01 || left || right)`, RFC 9162 shape (split at the largest power of two below
 * n), empty root `blake3("")`. Used by the tx root, the receipts root and badge batches.
 */
import { equalBytes, toHex } from './bytes.js';
import { VerifyError } from './errors.js';
import { merkleLeaf, merkleNode, plainHash } from './hash.js';
import { LIMITS } from './limits.js';
import { readHash, writeHash } from './tx.js';
export const MerkleProofCodec = {
    typeName: 'MerkleProof',
    maxEncodedSize: 8 + 8 + 4 + 32 * LIMITS.MERKLE_PROOF_SIBLINGS_MAX,
    write(w, proof) {
        w.u64(proof.index).u64(proof.leaf_count);
        w.list(proof.siblings, LIMITS.MERKLE_PROOF_SIBLINGS_MAX, 'siblings', writeHash);
    },
    read(r) {
        return {
            index: r.u64('index'),
            leaf_count: r.u64('leaf_count'),
            siblings: r.list(LIMITS.MERKLE_PROOF_SIBLINGS_MAX, 'siblings', readHash),
        };
    },
};
/** The root of the empty tree. */
export function emptyRoot() {
    return plainHash(new Uint8Array(0));
}
function splitPoint(n) {
    let split = 1;
    while (split * 2 < n)
        split *= 2;
    return split;
}
/** The root over already-hashed leaves. */
export function rootOfLeafHashes(leaves) {
    if (leaves.length === 0)
        return emptyRoot();
    if (leaves.length === 1)
        return leaves[0];
    const split = splitPoint(leaves.length);
    return merkleNode(rootOfLeafHashes(leaves.slice(0, split)), rootOfLeafHashes(leaves.slice(split)));
}
/** The root over raw leaf data (each hashed with the 0x00 prefix). */
export function merkleRoot(items) {
    return rootOfLeafHashes(items.map(merkleLeaf));
}
/** The inclusion proof of leaf `index` over already-hashed leaves. */
export function merkleProve(leaves, index) {
    if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
        throw new RangeError(`leaf index ${index} is outside a tree of ${leaves.length} leaves`);
    }
    const siblings = [];
    let part = leaves.slice();
    let position = index;
    while (part.length > 1) {
        const split = splitPoint(part.length);
        if (position < split) {
            siblings.push(rootOfLeafHashes(part.slice(split)));
            part = part.slice(0, split);
        }
        else {
            siblings.push(rootOfLeafHashes(part.slice(0, split)));
            part = part.slice(split);
            position -= split;
        }
    }
    siblings.reverse();
    return { index: BigInt(index), leaf_count: BigInt(leaves.length), siblings };
}
function expectedLength(index, leafCount) {
    let depth = 0;
    let size = leafCount;
    let position = index;
    while (size > 1n) {
        let split = 1n;
        while (split * 2n < size)
            split *= 2n;
        if (position < split) {
            size = split;
        }
        else {
            position -= split;
            size -= split;
        }
        depth += 1;
    }
    return depth;
}
/** The root a proof leads to from `leafHash` (RFC 9162 §2.1.3.2); throws on a malformed proof. */
export function computeMerkleRoot(proof, leafHash) {
    const { index, leaf_count: leafCount } = proof;
    if (index >= leafCount) {
        throw new VerifyError('merkle', `leaf index ${index} is outside a tree of ${leafCount} leaves`);
    }
    const wrongLength = () => new VerifyError('merkle', `proof has ${proof.siblings.length} sibling hashes; a tree of this size needs ${expectedLength(index, leafCount)}`);
    let fn = index;
    let sn = leafCount - 1n;
    let hash = leafHash;
    for (const sibling of proof.siblings) {
        if (sn === 0n)
            throw wrongLength();
        if ((fn & 1n) === 1n || fn === sn) {
            hash = merkleNode(sibling, hash);
            if ((fn & 1n) === 0n) {
                while ((fn & 1n) === 0n && fn !== 0n) {
                    fn >>= 1n;
                    sn >>= 1n;
                }
            }
        }
        else {
            hash = merkleNode(hash, sibling);
        }
        fn >>= 1n;
        sn >>= 1n;
    }
    if (sn !== 0n)
        throw wrongLength();
    return hash;
}
/** Checks that `leafHash` is at `proof.index` in the tree with root `root`. */
export function verifyMerkleProof(proof, leafHash, root) {
    const computed = computeMerkleRoot(proof, leafHash);
    if (!equalBytes(computed, root)) {
        throw new VerifyError('merkle', `proof leads to root ${toHex(computed)}, expected ${toHex(root)}`, toHex(root), toHex(computed));
    }
}
