/**
 * Keys, signatures and addresses, as `node/types/src/keys.rs`.
 *
 * The signature rule is Tally's: ZIP-215 (cofactored equation, non-canonical encodings of R and
 * A accepted and hashed as given, S < L required), with weak (small-order) keys refused. ZIP-215
 * verification is @noble/curves' `ed25519.verify(..., { zip215: true })`; the weak-key list is
 * the same 14 encodings the Rust code refuses. Every signed message is
 * `namespace || len(chain_id) as one byte || chain_id || payload`.
 */
import { ed25519 } from '../vendor/@noble/curves/ed25519.js';
import { bech32, bech32m } from '../vendor/@scure/base/index.js';
import { concat, equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import { InputError } from './errors.js';
import { checkChainId } from './ids.js';
/** The human-readable part of account addresses. */
export const ADDRESS_HRP = 'tally';
const NAMESPACES = {
    tx: utf8('tally/tx\0'),
    proposal: utf8('tally/proposal\0'),
    notarize: utf8('tally/notarize\0'),
    nullify: utf8('tally/nullify\0'),
    finalize: utf8('tally/finalize\0'),
    badge: utf8('tally/badge\0'),
    application: utf8('tally/application\0'),
};
/** The namespace bytes of `namespace`. */
export function namespaceBytes(namespace) {
    return NAMESPACES[namespace];
}
/** The exact bytes signed for `payload`: `namespace || len(chain_id) || chain_id || payload`. */
export function signingMessage(namespace, chainId, payload) {
    checkChainId(chainId);
    const chain = utf8(chainId);
    return concat(NAMESPACES[namespace], new Uint8Array([chain.length]), chain, payload);
}
const KEY_PROBLEM_TEXT = {
    'invalid-point': 'public key is not a valid ed25519 point encoding',
    'weak-key': 'public key is weak (small order) and is refused',
    'mixed-order': 'public key has a small-order component (not in the prime-order subgroup) and is refused',
    'bad-signature': 'signature does not verify',
};
/** The sentence for a key problem, as the Rust error says it. */
export function keyProblemText(problem) {
    return KEY_PROBLEM_TEXT[problem];
}
/**
 * Every 32-byte string that decodes to one of the eight points of small order: the eight
 * canonical encodings and the six non-canonical ones (keys.rs `SMALL_ORDER_ENCODINGS`).
 */
export const SMALL_ORDER_ENCODINGS = [
    '0100000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0000000000000000000000000000000000000000000000000000000000000080',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
    '0100000000000000000000000000000000000000000000000000000000000080',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
];
const SMALL_ORDER = new Set(SMALL_ORDER_ENCODINGS);
function isSmallOrderEncoding(key) {
    return key.length === 32 && SMALL_ORDER.has(toHex(key));
}
function decodePoint(key) {
    try {
        return ed25519.Point.fromBytes(key, true);
    }
    catch {
        return null;
    }
}
/**
 * The key checks of the signature rule, made without a signature (Rust `PublicKey::validate`):
 * the bytes decode to a point (ZIP-215 decoding), and it is not of small order. `null` if valid.
 */
export function validateKey(key) {
    if (!(key instanceof Uint8Array) || key.length !== 32 || decodePoint(key) === null)
        return 'invalid-point';
    if (isSmallOrderEncoding(key))
        return 'weak-key';
    return null;
}
/**
 * [`validateKey`], and also refuses keys with a small-order component (Rust
 * `PublicKey::validate_strict`): the check for keys that are registered or typed in.
 */
export function validateKeyStrict(key) {
    const problem = validateKey(key);
    if (problem !== null)
        return problem;
    const point = decodePoint(key);
    return point.isTorsionFree() ? null : 'mixed-order';
}
/**
 * Verifies `signature` by `key` over exactly `message` under Tally's rule. Returns `null` when
 * valid, else the problem: a weak key first (rule 1, no curve arithmetic), then a key that does
 * not decode, then a signature that fails (R not a point, S ≥ L, or the cofactored equation).
 */
export function verifyRaw(key, message, signature) {
    if (!(key instanceof Uint8Array) || key.length !== 32)
        return 'invalid-point';
    if (isSmallOrderEncoding(key))
        return 'weak-key';
    if (decodePoint(key) === null)
        return 'invalid-point';
    if (!(signature instanceof Uint8Array) || signature.length !== 64)
        return 'bad-signature';
    try {
        return ed25519.verify(signature, message, key, { zip215: true }) ? null : 'bad-signature';
    }
    catch {
        return 'bad-signature';
    }
}
/** Verifies a namespaced signature over `namespace || chain_id || payload`. */
export function verifySignature(key, namespace, chainId, payload, signature) {
    return verifyRaw(key, signingMessage(namespace, chainId, payload), signature);
}
/** The bech32m address of `key`, `tally1...`. */
export function toAddress(key) {
    if (!(key instanceof Uint8Array) || key.length !== 32)
        throw new InputError('public key', 'expected 32 bytes');
    return bech32m.encode(ADDRESS_HRP, bech32m.toWords(key));
}
/**
 * Parses a bech32m address: checks the checksum variant (bech32m, not bech32), the prefix, the
 * length (32 bytes), and that the key is valid, not weak and has no small-order component.
 */
export function parseAddress(text, field = 'address') {
    if (typeof text !== 'string')
        throw new InputError(field, `expected an address string, got ${typeof text}`);
    let decoded;
    try {
        decoded = bech32m.decode(text, 90);
    }
    catch (error) {
        try {
            bech32.decode(text, 90);
        }
        catch {
            throw new InputError(field, `address \`${text}\` is not valid bech32m: ${error.message}`);
        }
        throw new InputError(field, `address \`${text}\` must use bech32m, not bech32`);
    }
    if (decoded.prefix !== ADDRESS_HRP) {
        throw new InputError(field, `address prefix must be \`${ADDRESS_HRP}\`, got \`${decoded.prefix}\``);
    }
    let bytes;
    try {
        bytes = bech32m.fromWords(decoded.words);
    }
    catch (error) {
        throw new InputError(field, `address \`${text}\` is not valid bech32m: ${error.message}`);
    }
    if (bytes.length !== 32)
        throw new InputError(field, `address must carry 32 bytes, got ${bytes.length}`);
    const problem = validateKeyStrict(bytes);
    if (problem !== null)
        throw new InputError(field, keyProblemText(problem));
    return bytes;
}
/** Parses a public key from 64 hex characters, with the checks of [`parseAddress`]. */
export function parsePublicKeyHex(text, field = 'public key') {
    const key = fromHex(text, field, 32);
    const problem = validateKeyStrict(key);
    if (problem !== null)
        throw new InputError(field, keyProblemText(problem));
    return key;
}
/** Accepts a bech32m address or 64 hex characters (as the Rust `PublicKey::from_str`). */
export function parsePublicKey(text, field = 'public key') {
    if (typeof text === 'string' && text.length === 64 && /^[0-9a-fA-F]*$/.test(text)) {
        return parsePublicKeyHex(text, field);
    }
    return parseAddress(text, field);
}
/** Reads a key given as bytes (checked like a typed key), an address or hex. */
export function toPublicKey(key, field = 'public key') {
    if (typeof key === 'string')
        return parsePublicKey(key, field);
    if (!(key instanceof Uint8Array) || key.length !== 32) {
        throw new InputError(field, `expected 32 bytes, an address or 64 hex characters`);
    }
    const problem = validateKeyStrict(key);
    if (problem !== null)
        throw new InputError(field, keyProblemText(problem));
    return key;
}
/**
 * A secret signing key (an RFC 8032 32-byte seed). The seed is kept in memory as given; the
 * caller decides where it comes from (a keystore, an HSM proxy, an environment variable).
 */
export class SecretKey {
    #seed;
    publicKey;
    constructor(seed) {
        this.#seed = seed.slice();
        this.publicKey = ed25519.getPublicKey(this.#seed);
    }
    /** The key whose 32-byte seed is `seed`. */
    static fromSeed(seed) {
        if (!(seed instanceof Uint8Array) || seed.length !== 32) {
            throw new InputError('secret key', `a seed is 32 bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
        }
        return new SecretKey(seed);
    }
    /** Parses 64 hex characters of seed (surrounding whitespace ignored, as key files end in a newline). */
    static fromHex(text) {
        return new SecretKey(fromHex(text.trim(), 'secret key', 32));
    }
    /** A fresh key from the platform's cryptographic RNG. */
    static generate() {
        return new SecretKey(globalThis.crypto.getRandomValues(new Uint8Array(32)));
    }
    /** The seed in hex. Handle with care. */
    seedHex() {
        return toHex(this.#seed);
    }
    /** The account address. */
    address() {
        return toAddress(this.publicKey);
    }
    /** Signs `namespace || chain_id || payload`. */
    sign(namespace, chainId, payload) {
        return this.signRaw(signingMessage(namespace, chainId, payload));
    }
    /** Signs exactly `message` (RFC 8032). Prefer [`sign`]. */
    signRaw(message) {
        return ed25519.sign(message, this.#seed);
    }
    /** Never prints the seed. */
    toString() {
        return `SecretKey(public: ${this.address()})`;
    }
    toJSON() {
        return this.toString();
    }
    [Symbol.for('nodejs.util.inspect.custom')]() {
        return this.toString();
    }
}
/** True when two keys are the same bytes. */
export function sameKey(a, b) {
    return equalBytes(a, b);
}
