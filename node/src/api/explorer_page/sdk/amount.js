/**
 * Amounts: `u128` minor units (bigint) in the ledger, human decimals at the edges, exactly as
 * `node/types/src/amount.rs`: no floating point anywhere, and more decimals than the asset's
 * scale is an error, never a rounding.
 */
import { InputError } from './errors.js';
import { LIMITS } from './limits.js';
export const U128_MAX = (1n << 128n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
// rust_decimal, which the Rust client parses human amounts with, holds a 96-bit mantissa; a
// longer number is refused there as too large, and here too, so both accept the same texts.
const DECIMAL_MANTISSA_MAX = (1n << 96n) - 1n;
/**
 * Parses a human amount (`12.5`) at `scale` decimal places into minor units. Errors name the
 * problem: not a number, negative, too many decimal places for the asset, too large, bad scale.
 */
export function parseAmount(text, scale, field = 'amount') {
    if (!Number.isInteger(scale) || scale < 0 || scale > LIMITS.ASSET_SCALE_MAX) {
        throw new InputError(field, `scale ${scale} is above the maximum of ${LIMITS.ASSET_SCALE_MAX}`);
    }
    if (typeof text !== 'string')
        throw new InputError(field, `expected a decimal string, got ${typeof text}`);
    const trimmed = text.trim();
    const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(trimmed);
    if (match === null || (match[2] === '' && (match[3] ?? '') === '')) {
        throw new InputError(field, `\`${text}\` is not a decimal number`);
    }
    const sign = match[1];
    const whole = match[2];
    const fraction = (match[3] ?? '').replace(/0+$/, '');
    const mantissa = BigInt((whole + fraction).replace(/^0+/, '') || '0');
    if (sign === '-' && mantissa !== 0n)
        throw new InputError(field, `amount \`${text}\` is negative`);
    if (mantissa > DECIMAL_MANTISSA_MAX)
        throw new InputError(field, `amount \`${text}\` is too large`);
    // Trailing zeros add no precision: "1.50" is fine at scale 1.
    if (fraction.length > scale) {
        throw new InputError(field, `amount \`${text}\` has ${fraction.length} decimal places; this asset allows at most ${scale}`);
    }
    const minor = mantissa * 10n ** BigInt(scale - fraction.length);
    if (minor > U128_MAX)
        throw new InputError(field, `amount \`${text}\` is too large`);
    return minor;
}
/** Prints minor units at `scale` decimal places without trailing zeros (`12500` at 3 is `12.5`). */
export function formatAmount(minor, scale) {
    if (typeof minor !== 'bigint' || minor < 0n || minor > U128_MAX) {
        throw new InputError('amount', `minor units must be a bigint in 0..=2^128-1, got ${String(minor)}`);
    }
    const places = Math.min(Math.max(0, Math.trunc(scale)), LIMITS.ASSET_SCALE_MAX);
    const factor = 10n ** BigInt(places);
    const whole = minor / factor;
    const fraction = minor % factor;
    if (fraction === 0n)
        return whole.toString();
    return `${whole}.${fraction.toString().padStart(places, '0').replace(/0+$/, '')}`;
}
/** Reads minor units as the node writes them in JSON: a string of digits. */
export function parseMinorUnits(text, field = 'amount') {
    if (typeof text !== 'string' || !/^\d+$/.test(text)) {
        throw new InputError(field, `amount \`${String(text)}\` must be a string of minor units (digits only)`);
    }
    const value = BigInt(text);
    if (value > U128_MAX)
        throw new InputError(field, `amount \`${text}\` is too large`);
    return value;
}
/** Parses `n/d` or `n` (u64 parts, both non-zero). */
export function parsePrice(text, field = 'price') {
    const [n, d = '1', extra] = String(text).split('/');
    const part = (value, name) => {
        const trimmed = (value ?? '').trim();
        if (!/^\d+$/.test(trimmed) || BigInt(trimmed) > U64_MAX) {
            throw new InputError(field, `price \`${text}\`: bad ${name}`);
        }
        return BigInt(trimmed);
    };
    if (extra !== undefined)
        throw new InputError(field, `price \`${text}\`: expected n/d`);
    const price = { numerator: part(n, 'numerator'), denominator: part(d, 'denominator') };
    if (price.numerator === 0n || price.denominator === 0n) {
        throw new InputError(field, `price \`${text}\`: parts must be non-zero`);
    }
    return price;
}
/** Compares two prices exactly by cross-multiplication: -1, 0 or 1. */
export function comparePrices(a, b) {
    const left = a.numerator * b.denominator;
    const right = b.numerator * a.denominator;
    return left < right ? -1 : left > right ? 1 : 0;
}
