/**
 * Tally SDK: build, sign and submit Tally transactions, read a node's API with types, and
 * verify what a node says (finality certificates, Merkle and sparse-Merkle proofs, badges)
 * without trusting it. Byte-compatible with the Rust crates; pinned by their golden vectors.
 */
export * from './errors.js';
export { toHex, fromHex, concat, equalBytes, utf8 } from './bytes.js';
export * from './limits.js';
export { Writer, Reader, encode, decode } from './codec.js';
export * from './hash.js';
export * from './ids.js';
export * from './keys.js';
export * from './amount.js';
export * from './tx.js';
export * from './pricing.js';
export * from './quote.js';
export * from './governance.js';
export * from './receipt.js';
export * from './merkle.js';
export * from './smt.js';
export * from './block.js';
export * from './consensus.js';
export * from './wire.js';
export * from './state.js';
export * from './jcs.js';
export * from './badge.js';
export * from './json.js';
export * from './client.js';
export * from './verify.js';
export * from './build.js';
