/** Byte helpers: strict hex, concatenation, comparison. */
import { InputError } from './errors.js';
const HEX_DIGITS = /^[0-9a-fA-F]*$/;
/** Lower-case hex of `bytes`. */
export function toHex(bytes) {
    let out = '';
    for (const byte of bytes)
        out += byte.toString(16).padStart(2, '0');
    return out;
}
/**
 * Parses hex (either case). With `length`, the text must hold exactly that many bytes. The error
 * names `field`, the expected length and what was found.
 */
export function fromHex(text, field, length) {
    if (typeof text !== 'string')
        throw new InputError(field, `expected a hex string, got ${typeof text}`);
    if (length !== undefined && text.length !== 2 * length) {
        throw new InputError(field, `expected ${2 * length} hex characters (${length} bytes), got ${text.length}`);
    }
    if (text.length % 2 !== 0)
        throw new InputError(field, `hex has an odd number of characters (${text.length})`);
    if (!HEX_DIGITS.test(text)) {
        const offset = [...text].findIndex((c) => !/[0-9a-fA-F]/.test(c));
        throw new InputError(field, `not hex: character ${JSON.stringify(text[offset])} at offset ${offset}`);
    }
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return out;
}
/** The concatenation of `parts`. */
export function concat(...parts) {
    let length = 0;
    for (const part of parts)
        length += part.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
        out.set(part, at);
        at += part.length;
    }
    return out;
}
/** True when `a` and `b` hold the same bytes. */
export function equalBytes(a, b) {
    if (a.length !== b.length)
        return false;
    for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i])
            return false;
    return true;
}
/** Byte-wise comparison, as unsigned bytes: negative, zero or positive. */
export function compareBytes(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++)
        if (a[i] !== b[i])
            return a[i] - b[i];
    return a.length - b.length;
}
/** UTF-8 bytes of `text`. */
export function utf8(text) {
    return new TextEncoder().encode(text);
}
/** Requires `value` to be a Uint8Array of exactly `length` bytes. */
export function checkLength(value, length, field) {
    if (!(value instanceof Uint8Array))
        throw new InputError(field, `expected ${length} bytes, got ${typeof value}`);
    if (value.length !== length)
        throw new InputError(field, `expected ${length} bytes, got ${value.length}`);
    return value;
}
