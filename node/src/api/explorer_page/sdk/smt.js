/**
 * Sparse Merkle proofs of the ledger state (`node/types/src/smt.rs`, whose module docs are the
 * specification): 256-bit keys, most significant bit of byte 0 first; a leaf hashed at the
 * shallowest position where it is alone; leaf `derive_key("tally v1 smt leaf", key || value)`,
 * node `derive_key("tally v1 smt node", left || right)`, empty = 32 zero bytes.
 */
import { equalBytes, toHex } from './bytes.js';
import { VerifyError } from './errors.js';
import { domainHash } from './hash.js';
import { LIMITS } from './limits.js';
import { readHash, writeHash } from './tx.js';
export const SmtProofCodec = {
    typeName: 'SmtProof',
    maxEncodedSize: LIMITS.SMT_PROOF_BYTES_MAX,
    write(w, proof) {
        w.option(proof.leaf, (w2, leaf) => {
            writeHash(w2, leaf.key);
            writeHash(w2, leaf.value_hash);
        });
        w.list(proof.siblings, LIMITS.SMT_PROOF_SIBLINGS_MAX, 'siblings', writeHash);
    },
    read(r) {
        return {
            leaf: r.option('leaf', (r2) => ({ key: readHash(r2), value_hash: readHash(r2) })),
            siblings: r.list(LIMITS.SMT_PROOF_SIBLINGS_MAX, 'siblings', readHash),
        };
    },
};
const ZERO = new Uint8Array(32);
/** Bit `index` of `key`, most significant bit of byte 0 first. */
export function keyBit(key, index) {
    if (index < 0 || index >= 256)
        throw new RangeError(`key bit ${index} is past the end of a 256-bit key`);
    return ((key[index >> 3] >> (7 - (index & 7))) & 1) === 1;
}
/** How many leading bits `a` and `b` share (256 when equal). */
export function commonPrefixBits(a, b) {
    for (let i = 0; i < 32; i++) {
        const differing = a[i] ^ b[i];
        if (differing !== 0)
            return i * 8 + Math.clz32(differing) - 24;
    }
    return 256;
}
export function smtLeafHash(key, valueHash) {
    return domainHash('smtLeaf', key, valueHash);
}
export function smtNodeHash(left, right) {
    return domainHash('smtNode', left, right);
}
/** Checks the proof's shape against `key` (steps 1 and 2) and recomputes its root (step 3). */
export function computeSmtRoot(proof, key) {
    const depth = proof.siblings.length;
    if (depth > LIMITS.SMT_PROOF_SIBLINGS_MAX) {
        throw new VerifyError('smt', `proof has ${depth} siblings, more than the ${LIMITS.SMT_PROOF_SIBLINGS_MAX} a 256-bit key allows`);
    }
    if (depth > 0 && equalBytes(proof.siblings[depth - 1], ZERO)) {
        throw new VerifyError('smt', `proof is not canonical: the sibling at depth ${depth} is empty, so the path must end higher`);
    }
    let hash;
    if (proof.leaf !== null) {
        const shared = commonPrefixBits(proof.leaf.key, key);
        if (shared < depth) {
            throw new VerifyError('smt', `proof leaf ${toHex(proof.leaf.key)} shares ${shared} bits with the key, but sits at depth ${depth}`);
        }
        hash = smtLeafHash(proof.leaf.key, proof.leaf.value_hash);
    }
    else {
        hash = ZERO;
    }
    for (let index = depth - 1; index >= 0; index--) {
        const sibling = proof.siblings[index];
        hash = keyBit(key, index) ? smtNodeHash(sibling, hash) : smtNodeHash(hash, sibling);
    }
    return hash;
}
/** Verifies the proof against `root`; returns the proven value hash, or `null` if `key` is absent. */
export function smtProvenValue(proof, root, key) {
    const computed = computeSmtRoot(proof, key);
    if (!equalBytes(computed, root)) {
        throw new VerifyError('smt', `proof leads to root ${toHex(computed)}, expected ${toHex(root)}`, toHex(root), toHex(computed));
    }
    return proof.leaf !== null && equalBytes(proof.leaf.key, key) ? proof.leaf.value_hash : null;
}
/**
 * Verifies that under `root`, `key` maps to `expected` (a value hash: membership) or is absent
 * (`null`: non-membership).
 */
export function verifySmtProof(proof, root, key, expected) {
    const proven = smtProvenValue(proof, root, key);
    if (proven !== null && expected !== null) {
        if (!equalBytes(proven, expected)) {
            throw new VerifyError('smt', `key is present with value hash ${toHex(proven)}, expected ${toHex(expected)}`, toHex(expected), toHex(proven));
        }
    }
    else if (proven !== null) {
        throw new VerifyError('smt', `key is present (value hash ${toHex(proven)}), expected it absent`, 'absent', toHex(proven));
    }
    else if (expected !== null) {
        throw new VerifyError('smt', `key is absent, expected it present with value hash ${toHex(expected)}`, toHex(expected), 'absent');
    }
}
