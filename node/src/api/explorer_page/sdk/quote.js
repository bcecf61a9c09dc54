/**
 * Quotes: what a planned usage file costs under each candidate price plan, as `tally price
 * quote` computes it (`client/src/usage.rs` `parse_planned_usage`, `client/src/pricing.rs`
 * `plans_pricing` and `quote`). The usage CSV is checked row by row with the Rust parser's rules
 * and error messages; each plan prices the usage lines with {@link priceLines}, the ledger's
 * rule. `sdk/typescript/test/quote.test.ts` checks both against vectors the Rust client writes
 * (`client/tests/golden/quotes.json`). Plans arrive as JSON (`GET /v1/plans`, or a plan file):
 * {@link planFromJson} reads that form exactly (unit prices are decimal strings of minor units
 * with up to 9 decimals).
 */
import { TallyError } from './errors.js';
import { toBigInt } from './json.js';
import { LIMITS } from './limits.js';
import { NANOS_PER_MINOR, isItemName, priceLines, } from './pricing.js';
/** The header line of a planned usage CSV. */
export const PLANNED_USAGE_HEADER = 'call_id,time_ms,endpoint,item,units';
/** The most calls one usage file may hold (as the Rust client). */
export const USAGE_ROWS_MAX = 1_000_000;
/** The largest usage file read. */
export const USAGE_FILE_BYTES_MAX = 256 * 1024 * 1024;
const CALL_ID_BYTES_MAX = 128;
const ENDPOINT_BYTES_MAX = 256;
const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
/** A usage file was refused; the message is the Rust client's, line numbers from 1 (the header). */
export class UsageError extends TallyError {
    constructor(message) {
        super('usage', message);
    }
}
/** The first `n` characters (code points), as Rust's `chars().take(n)`. */
const chars = (text, n) => Array.from(text).slice(0, n).join('');
function wholeNumber(line, field, value) {
    if (!/^\d+$/.test(value) || BigInt(value) > U64_MAX) {
        throw new UsageError(`line ${line}: ${field} \`${value}\` is not a whole number`);
    }
    return BigInt(value);
}
/** The rows' line numbers and five fields, after the header and the file's shape are checked. */
function splitRows(text) {
    const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    const found = lines[0] ?? '';
    if (found !== PLANNED_USAGE_HEADER) {
        throw new UsageError(`line 1: the header must be exactly \`${PLANNED_USAGE_HEADER}\`, found \`${chars(found, 200)}\``);
    }
    const rows = [];
    let pendingBlank;
    for (let offset = 1; offset < lines.length; offset++) {
        const line = offset + 1;
        const raw = lines[offset];
        // Only blank lines at the end are allowed: remember the first and fail if a row follows.
        if (raw === '') {
            pendingBlank ??= line;
            continue;
        }
        if (pendingBlank !== undefined)
            throw new UsageError(`line ${pendingBlank}: a blank line inside the file`);
        if (rows.length === USAGE_ROWS_MAX)
            throw new UsageError(`the batch has more than ${USAGE_ROWS_MAX} calls`);
        const fields = raw.split(',');
        if (fields.length !== 5)
            throw new UsageError(`line ${line}: ${fields.length} fields; a row has 5 (${PLANNED_USAGE_HEADER})`);
        rows.push([line, fields]);
    }
    if (rows.length === 0)
        throw new UsageError('the usage file has no calls');
    return rows;
}
function checkCall(line, callId, timeMs, endpoint, seen) {
    if (!(callId.length >= 1 && callId.length <= CALL_ID_BYTES_MAX && /^[A-Za-z0-9._:-]+$/.test(callId))) {
        throw new UsageError(`line ${line}: call_id \`${chars(callId, 200)}\` must be 1..=${CALL_ID_BYTES_MAX} bytes of [A-Za-z0-9._:-]`);
    }
    wholeNumber(line, 'time_ms', timeMs);
    if (!(endpoint.length >= 1 && endpoint.length <= ENDPOINT_BYTES_MAX && /^[\x21-\x2b\x2d-\x7e]+$/.test(endpoint) && !endpoint.includes('"'))) {
        throw new UsageError(`line ${line}: endpoint \`${chars(endpoint, 300)}\` must be 1..=${ENDPOINT_BYTES_MAX} bytes of printable ASCII without space, comma or quote`);
    }
    const first = seen.get(callId);
    if (first !== undefined)
        throw new UsageError(`line ${line}: call_id \`${callId}\` repeats line ${first}`);
}
/**
 * Parses and checks a planned usage CSV (`call_id,time_ms,endpoint,item,units`) as the Rust
 * client does, with its error messages: the usage lines a settlement or a quote prices.
 */
export function parsePlannedUsage(input) {
    let text;
    if (typeof input === 'string')
        text = input;
    else {
        if (input.length > USAGE_FILE_BYTES_MAX)
            throw new UsageError(`the usage file is larger than ${USAGE_FILE_BYTES_MAX} bytes`);
        try {
            text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
        }
        catch {
            throw new UsageError('the usage file is not UTF-8 text');
        }
    }
    const seen = new Map();
    const perItem = new Map();
    for (const [line, [callId, timeMs, endpoint, item, units]] of splitRows(text)) {
        checkCall(line, callId, timeMs, endpoint, seen);
        if (!isItemName(item)) {
            throw new UsageError(`line ${line}: item \`${chars(item, 100)}\` must be 1..=64 characters of [a-z0-9._-], starting with a letter`);
        }
        const sum = (perItem.get(item) ?? 0n) + wholeNumber(line, 'units', units);
        if (sum > U64_MAX)
            throw new UsageError(`line ${line}: the units of item \`${item}\` add up to more than 2^64 - 1`);
        perItem.set(item, sum);
        seen.set(callId, line);
    }
    // Byte order of item names, as Rust's BTreeMap (item names are ASCII).
    const lines = [...perItem.entries()]
        .filter(([, units]) => units > 0n)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([item, units]) => ({ item, units }));
    if (lines.length > LIMITS.SETTLE_LINES_MAX) {
        throw new UsageError(`the calls name ${lines.length} items; a settlement carries at most ${LIMITS.SETTLE_LINES_MAX} usage lines`);
    }
    return { calls: seen.size, lines };
}
/** A plan field in JSON was not what a plan holds. */
export class PlanJsonError extends TallyError {
    constructor(message) {
        super('plan-json', message);
    }
}
/** A unit price (`"1.5"`: minor units per unit, up to 9 decimals) in billionths, as `UnitPrice::parse`. */
export function parseUnitPrice(text) {
    const match = typeof text === 'string' ? /^(\d+)(?:\.(\d+))?$/.exec(text) : null;
    if (match === null)
        throw new PlanJsonError(`\`${String(text)}\` is not a decimal number`);
    const fraction = (match[2] ?? '').replace(/0+$/, '');
    if (fraction.length > 9) {
        throw new PlanJsonError(`amount \`${text}\` has ${fraction.length} decimal places; this asset allows at most 9`);
    }
    const nanos = BigInt(match[1]) * NANOS_PER_MINOR + BigInt(fraction.padEnd(9, '0'));
    if (nanos > U128_MAX)
        throw new PlanJsonError(`amount \`${text}\` is too large`);
    return nanos;
}
/** A unit price in billionths as the node writes it: minor units without trailing zeros. */
export function formatUnitPrice(nanos) {
    const whole = nanos / NANOS_PER_MINOR;
    const fraction = (nanos % NANOS_PER_MINOR).toString().padStart(9, '0').replace(/0+$/, '');
    return fraction ? `${whole}.${fraction}` : whole.toString();
}
function field(value, name) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new PlanJsonError(`${name}: expected an object`);
    return value;
}
function list(value, name) {
    if (!Array.isArray(value))
        throw new PlanJsonError(`${name}: expected an array`);
    return value;
}
function text(value, name) {
    if (typeof value !== 'string')
        throw new PlanJsonError(`${name}: expected a string`);
    return value;
}
function u64(value, name) {
    const big = typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : toBigInt(value, name);
    if (big > U64_MAX)
        throw new PlanJsonError(`${name}: ${big} is above 2^64 - 1`);
    return big;
}
function planItemFromJson(value, name) {
    const item = field(value, name);
    return {
        item: text(item['item'], `${name}.item`),
        included_per_hold: item['included_per_hold'] === undefined ? 0n : u64(item['included_per_hold'], `${name}.included_per_hold`),
        tiers: list(item['tiers'], `${name}.tiers`).map((tier, index) => {
            const t = field(tier, `${name}.tiers[${index}]`);
            return {
                up_to: t['up_to'] === null || t['up_to'] === undefined ? null : u64(t['up_to'], `${name}.tiers[${index}].up_to`),
                unit_price: parseUnitPrice(text(t['unit_price'], `${name}.tiers[${index}].unit_price`)),
            };
        }),
    };
}
/** A credit pack from JSON: credits in minor units (a string), the price as `{currency, amount: "10.00"}`. */
function packFromJson(value, name) {
    const pack = field(value, name);
    const price = field(pack['price'], `${name}.price`);
    const amount = text(price['amount'], `${name}.price.amount`);
    const match = /^(\d+)(?:\.(\d+))?$/.exec(amount);
    if (match === null)
        throw new PlanJsonError(`${name}.price.amount: price \`${amount}\` must be a decimal number such as 10.00`);
    if ((match[2] ?? '').length > LIMITS.REFERENCE_PRICE_SCALE_MAX) {
        throw new PlanJsonError(`${name}.price.amount: price \`${amount}\` has more than ${LIMITS.REFERENCE_PRICE_SCALE_MAX} decimal places`);
    }
    const minor = BigInt(`${match[1]}${match[2] ?? ''}`);
    if (minor > U64_MAX)
        throw new PlanJsonError(`${name}.price.amount: price \`${amount}\` is too large`);
    const credits = text(pack['credits'], `${name}.credits`);
    if (!/^\d+$/.test(credits) || BigInt(credits) > U128_MAX)
        throw new PlanJsonError(`${name}.credits: \`${credits}\` is not a whole amount of minor units`);
    return {
        name: text(pack['name'], `${name}.name`),
        credits: BigInt(credits),
        price: { currency: text(price['currency'], `${name}.price.currency`), amount: minor, scale: (match[2] ?? '').length },
    };
}
/**
 * A price plan from its JSON form (the `plan` of `GET /v1/plans`, or a plan file). Parse the
 * text with {@link parseJsonLossless} first so that u64 bounds above 2^53 stay exact.
 */
export function planFromJson(value) {
    const plan = field(value, 'plan');
    return {
        plan_id: text(plan['plan_id'], 'plan.plan_id'),
        version: Number(u64(plan['version'], 'plan.version')),
        asset: text(plan['asset'], 'plan.asset'),
        title: text(plan['title'] ?? '', 'plan.title'),
        items: list(plan['items'], 'plan.items').map((item, index) => planItemFromJson(item, `plan.items[${index}]`)),
        packs: plan['packs'] === undefined ? [] : list(plan['packs'], 'plan.packs').map((pack, index) => packFromJson(pack, `plan.packs[${index}]`)),
    };
}
/** Every active candidate that prices all of `items`, in the given order (`plans_pricing`). */
export function plansPricing(candidates, items) {
    return candidates.filter((candidate) => candidate.status === 'active' && items.every((item) => candidate.plan.items.some((priced) => priced.item === item)));
}
/**
 * What `lines` cost under each candidate (`member/plan@version`), from the holder's tier
 * position under each (`billedBefore`; a new holder's, 0, when omitted): the Rust client's
 * `quote` without the market conversion.
 */
export function quote(candidates, lines, billedBefore = () => 0n) {
    return candidates.map((candidate) => {
        const name = `${candidate.member}/${candidate.plan.plan_id}@${candidate.plan.version}`;
        const base = { plan: name, member: candidate.member, asset: candidate.plan.asset };
        try {
            const charge = priceLines(candidate.plan, lines, (item) => billedBefore(candidate, item));
            return { ...base, total: charge.total, lines: charge.lines };
        }
        catch (error) {
            if (error instanceof RangeError)
                return { ...base, error: error.message };
            throw error;
        }
    });
}
