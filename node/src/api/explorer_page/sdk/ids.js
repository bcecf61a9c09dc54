/**
 * Identifiers, validated as `node/types/src/ids.rs` validates them: chain ids, member ids,
 * asset codes and asset ids (`CODE@member`), and the 16-byte op ids chosen by clients.
 */
import { fromHex, toHex } from './bytes.js';
import { InputError } from './errors.js';
import { LIMITS } from './limits.js';
function isLowerIdent(text, min, max) {
    return text.length >= min && text.length <= max && /^[a-z0-9-]*$/.test(text);
}
/** True for a valid chain id: `[a-z0-9-]{3,64}`. */
export function isChainId(text) {
    return typeof text === 'string' && isLowerIdent(text, LIMITS.CHAIN_ID_BYTES_MIN, LIMITS.CHAIN_ID_BYTES_MAX);
}
/** True for a valid member id: `[a-z0-9-]{2,32}`, starting with a letter. */
export function isMemberId(text) {
    return (typeof text === 'string' &&
        isLowerIdent(text, LIMITS.MEMBER_ID_BYTES_MIN, LIMITS.MEMBER_ID_BYTES_MAX) &&
        /^[a-z]/.test(text));
}
/** True for a valid asset code: `[A-Z0-9]{2,12}`. */
export function isAssetCode(text) {
    return (typeof text === 'string' &&
        text.length >= LIMITS.ASSET_CODE_BYTES_MIN &&
        text.length <= LIMITS.ASSET_CODE_BYTES_MAX &&
        /^[A-Z0-9]*$/.test(text));
}
/** Checks a chain id; the error says what a chain id must be. */
export function checkChainId(text, field = 'chain id') {
    if (!isChainId(text)) {
        throw new InputError(field, `\`${text}\` must be ${LIMITS.CHAIN_ID_BYTES_MIN}..=${LIMITS.CHAIN_ID_BYTES_MAX} characters of [a-z0-9-]`);
    }
    return text;
}
/** Checks a member id. */
export function checkMemberId(text, field = 'member id') {
    if (!isMemberId(text)) {
        throw new InputError(field, `\`${text}\` must be ${LIMITS.MEMBER_ID_BYTES_MIN}..=${LIMITS.MEMBER_ID_BYTES_MAX} characters of [a-z0-9-], starting with a letter`);
    }
    return text;
}
/** Checks an asset code. */
export function checkAssetCode(text, field = 'asset code') {
    if (!isAssetCode(text)) {
        throw new InputError(field, `\`${text}\` must be ${LIMITS.ASSET_CODE_BYTES_MIN}..=${LIMITS.ASSET_CODE_BYTES_MAX} characters of [A-Z0-9]`);
    }
    return text;
}
/** Parses `CODE@member` (e.g. `ACME@acme`). */
export function parseAssetId(text, field = 'asset') {
    if (typeof text !== 'string')
        throw new InputError(field, `expected an asset id string, got ${typeof text}`);
    const at = text.indexOf('@');
    if (at < 0)
        throw new InputError(field, `asset \`${text}\` must be written CODE@member, e.g. ACME@acme`);
    const code = text.slice(0, at);
    const issuer = text.slice(at + 1);
    checkAssetCode(code, field);
    checkMemberId(issuer, field);
    return { code, issuer };
}
/** Checks an asset id and returns it unchanged. */
export function checkAssetId(text, field = 'asset') {
    parseAssetId(text, field);
    return text;
}
/**
 * A 16-byte op id (grant, hold, settlement batch, offer): 32 hex characters, dashes ignored, so
 * a UUID is a valid id.
 */
export function parseOpId(text, field = 'op id') {
    if (typeof text !== 'string')
        throw new InputError(field, `expected 32 hex characters, got ${typeof text}`);
    const cleaned = text.replaceAll('-', '');
    if (cleaned.length !== 32 || !/^[0-9a-fA-F]*$/.test(cleaned)) {
        throw new InputError(field, `id must be 32 hex characters (16 bytes), got \`${text}\``);
    }
    return fromHex(cleaned, field, 16);
}
/** A fresh random op id (16 bytes from the platform's cryptographic RNG). */
export function randomOpId() {
    return globalThis.crypto.getRandomValues(new Uint8Array(16));
}
/** Hex form of an op id. */
export function opIdHex(id) {
    return toHex(id);
}
