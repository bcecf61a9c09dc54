/**
 * The node's JSON forms (serde, as `node/src/api.rs` writes them) and their conversion to the
 * SDK's typed values. u64 fields are JSON numbers, which may exceed 2^53 (a price's parts, a
 * far `valid_until_height`): answers are parsed with lossless-json, integers beyond the safe
 * range arriving as bigint, so no value is rounded on the way.
 */
import { isInteger, isSafeNumber, parse } from '../vendor/lossless-json/lib/esm/index.js';
import { fromHex } from './bytes.js';
import { InputError } from './errors.js';
import { parseMinorUnits } from './amount.js';
import { parseAddress } from './keys.js';
import { ERROR_CODES } from './receipt.js';
/** Parses JSON text without losing integer precision. */
export function parseJsonLossless(text) {
    return parse(text, null, (value) => {
        if (isInteger(value) && !isSafeNumber(value))
            return BigInt(value);
        return Number(value);
    });
}
/** A JSON integer as a bigint; refuses fractions and negatives. */
export function toBigInt(value, field) {
    if (typeof value === 'bigint' && value >= 0n)
        return value;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
        return BigInt(value);
    throw new InputError(field, `expected a whole number, got ${JSON.stringify(String(value))}`);
}
function toSmallInt(value, field, max) {
    const big = toBigInt(value, field);
    if (big > BigInt(max))
        throw new InputError(field, `${big} is above ${max}`);
    return Number(big);
}
export function merkleProofFromJson(json, field = 'proof') {
    if (!Array.isArray(json?.siblings))
        throw new InputError(field, 'siblings must be a list');
    return {
        index: toBigInt(json.index, `${field}.index`),
        leaf_count: toBigInt(json.leaf_count, `${field}.leaf_count`),
        siblings: json.siblings.map((s, i) => fromHex(s, `${field}.siblings[${i}]`, 32)),
    };
}
export function smtProofFromJson(json, field = 'proof') {
    if (!Array.isArray(json?.siblings))
        throw new InputError(field, 'siblings must be a list');
    return {
        leaf: json.leaf === null
            ? null
            : { key: fromHex(json.leaf.key, `${field}.leaf.key`, 32), value_hash: fromHex(json.leaf.value_hash, `${field}.leaf.value_hash`, 32) },
        siblings: json.siblings.map((s, i) => fromHex(s, `${field}.siblings[${i}]`, 32)),
    };
}
export function receiptFromJson(json, field = 'receipt') {
    const outcome = json.outcome;
    let typed;
    if (outcome?.status === 'success')
        typed = { status: 'success' };
    else if (outcome?.status === 'failed') {
        if (!ERROR_CODES.includes(outcome.code))
            throw new InputError(`${field}.outcome.code`, `unknown error code ${outcome.code}`);
        typed = { status: 'failed', op_index: toSmallInt(outcome.op_index, `${field}.outcome.op_index`, 255), code: outcome.code };
    }
    else
        throw new InputError(`${field}.outcome`, 'expected status success or failed');
    return {
        tx_id: fromHex(json.tx_id, `${field}.tx_id`, 32),
        outcome: typed,
        fills: (json.fills ?? []).map((f, i) => ({
            op_index: toSmallInt(f.op_index, `${field}.fills[${i}].op_index`, 255),
            maker_offer: fromHex(f.maker_offer, `${field}.fills[${i}].maker_offer`, 16),
            taker_offer: fromHex(f.taker_offer, `${field}.fills[${i}].taker_offer`, 16),
            maker: parseAddress(f.maker, `${field}.fills[${i}].maker`),
            taker: parseAddress(f.taker, `${field}.fills[${i}].taker`),
            maker_gave: parseMinorUnits(f.maker_gave, `${field}.fills[${i}].maker_gave`),
            taker_gave: parseMinorUnits(f.taker_gave, `${field}.fills[${i}].taker_gave`),
            price: {
                numerator: toBigInt(f.price.numerator, `${field}.fills[${i}].price.numerator`),
                denominator: toBigInt(f.price.denominator, `${field}.fills[${i}].price.denominator`),
            },
        })),
    };
}
