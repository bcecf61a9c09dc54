/**
 * Field codecs shared by transactions, governance actions, receipts, blocks and state entries:
 * validated ids (borsh strings checked on read), keys, hashes, op ids, signatures, prices.
 * Re-exported by `tx.ts`, where they were first defined.
 */
import { checkAssetCode, checkChainId, checkMemberId, isAssetCode, isChainId, isMemberId, parseAssetId } from './ids.js';
import { LIMITS } from './limits.js';
/** A validated string newtype: written as a borsh string, checked on read. */
export function writeChainId(w, text) {
    w.string(checkChainId(text), LIMITS.CHAIN_ID_BYTES_MAX, 'chain id');
}
export function readChainId(r) {
    const text = r.string(LIMITS.CHAIN_ID_BYTES_MAX, 'chain id');
    if (!isChainId(text))
        r.fail(`chain id \`${text}\` must be 3..=64 characters of [a-z0-9-]`);
    return text;
}
export function writeMemberId(w, text) {
    w.string(checkMemberId(text), LIMITS.MEMBER_ID_BYTES_MAX, 'member id');
}
export function readMemberId(r) {
    const text = r.string(LIMITS.MEMBER_ID_BYTES_MAX, 'member id');
    if (!isMemberId(text))
        r.fail(`member id \`${text}\` must be 2..=32 characters of [a-z0-9-], starting with a letter`);
    return text;
}
export function writeAssetCode(w, text) {
    w.string(checkAssetCode(text), LIMITS.ASSET_CODE_BYTES_MAX, 'asset code');
}
export function readAssetCode(r) {
    const text = r.string(LIMITS.ASSET_CODE_BYTES_MAX, 'asset code');
    if (!isAssetCode(text))
        r.fail(`asset code \`${text}\` must be 2..=12 characters of [A-Z0-9]`);
    return text;
}
/** An asset id `CODE@member`: the code, then the member. */
export function writeAssetId(w, asset) {
    const { code, issuer } = parseAssetId(asset);
    writeAssetCode(w, code);
    writeMemberId(w, issuer);
}
export function readAssetId(r) {
    const code = readAssetCode(r);
    return `${code}@${readMemberId(r)}`;
}
export const writeKey = (w, key) => void w.fixed(key, 32, 'public key');
export const readKey = (r) => r.fixed(32, 'public key');
export const writeHash = (w, hash) => void w.fixed(hash, 32, 'hash');
export const readHash = (r) => r.fixed(32, 'hash');
export const writeOpId = (w, id) => void w.fixed(id, 16, 'op id');
export const readOpId = (r) => r.fixed(16, 'op id');
export const writeSignature = (w, s) => void w.fixed(s, 64, 'signature');
export const readSignature = (r) => r.fixed(64, 'signature');
export function writePrice(w, price) {
    w.u64(price.numerator).u64(price.denominator);
}
export function readPrice(r) {
    return { numerator: r.u64('price numerator'), denominator: r.u64('price denominator') };
}
