/**
 * Hashing: blake3, one derive-key context per use (as `node/types/src/hash.rs`), and the plain
 * blake3 binary Merkle leaf and node hashes with 0x00 / 0x01 prefixes.
 */
import { blake3 } from '../vendor/@noble/hashes/blake3.js';
import { utf8 } from './bytes.js';
/** The uses of hashing, each with its own blake3 derive-key context. Part of the protocol. */
export const DOMAINS = {
    txId: 'tally v1 tx id',
    blockId: 'tally v1 block id',
    receipt: 'tally v1 receipt',
    stateKey: 'tally v1 state key',
    stateValue: 'tally v1 state value',
    smtLeaf: 'tally v1 smt leaf',
    smtNode: 'tally v1 smt node',
    validatorSet: 'tally v1 validator set',
    genesis: 'tally v1 genesis',
};
// The context key is derived once per domain: noble derives it in `create`, and cloning a
// hasher keeps it, so small hashes (tree nodes) do not pay for the context string each time.
const hashers = new Map();
function domainHasher(domain) {
    let base = hashers.get(domain);
    if (base === undefined) {
        base = blake3.create({ context: utf8(DOMAINS[domain]) });
        hashers.set(domain, base);
    }
    return base.clone();
}
/** `blake3::derive_key(context, parts...)`: the hash of the concatenated parts in `domain`. */
export function domainHash(domain, ...parts) {
    const hasher = domainHasher(domain);
    for (const part of parts)
        hasher.update(part);
    return hasher.digest();
}
/** Plain blake3, no key or context: the badge hash. */
export function plainHash(bytes) {
    return blake3(bytes);
}
/** Binary Merkle leaf: `blake3(0x00 || data)`. */
export function merkleLeaf(data) {
    return blake3.create().update(new Uint8Array([0])).update(data).digest();
}
/** Binary Merkle inner node: `blake3(0x01 || left || right)`. */
export function merkleNode(left, right) {
    const bytes = new Uint8Array(65);
    bytes[0] = 1;
    bytes.set(left, 1);
    bytes.set(right, 33);
    return blake3(bytes);
}
