/**
 * Price plans, encoded exactly as `node/types/src/pricing.rs`, and the one charge rule the
 * ledger applies (docs/ARCHITECTURE.md "Price plans"): the billable units of a usage line are
 * those beyond the hold's allowance; the tier position is the billable units the holder
 * settled before under the same plan version; the charge is
 * `⌊cost(before + billable)⌋ − ⌊cost(before)⌋`, with `cost(n)` the exact price of the first
 * `n` billable units in billionths of a minor unit, rounded down to minor units.
 */
import { readAssetId, writeAssetId } from './fields.js';
import { LIMITS } from './limits.js';
/** Billionths of a minor unit in one minor unit: unit prices carry 9 decimals. */
export const NANOS_PER_MINOR = 1000000000n;
const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
export function isPlanId(text) {
    return (typeof text === 'string' &&
        text.length >= LIMITS.PLAN_ID_BYTES_MIN &&
        text.length <= LIMITS.PLAN_ID_BYTES_MAX &&
        /^[a-z][a-z0-9-]*$/.test(text));
}
export function isItemName(text) {
    return typeof text === 'string' && text.length >= 1 && text.length <= LIMITS.ITEM_NAME_BYTES_MAX && /^[a-z][a-z0-9._-]*$/.test(text);
}
/** A developer's application as a settlement names it (`Op::SettleApp`), e.g. `weather-bot`. */
export function isAppId(text) {
    return typeof text === 'string' && text.length >= 1 && text.length <= LIMITS.APP_ID_BYTES_MAX && /^[a-z0-9][a-z0-9._-]*$/.test(text);
}
/**
 * An Open Badges 3.0 achievement's id as an anchor names it (`Op::AnchorAchievements`): an
 * absolute URI (scheme `[A-Za-z][A-Za-z0-9+.-]*` then `:`) of at most 128 bytes of the
 * characters RFC 3986 allows, as `AchievementId` in `node/types/src/ids.rs` checks it.
 */
export function isAchievementId(text) {
    return (typeof text === 'string' &&
        text.length <= LIMITS.ACHIEVEMENT_ID_BYTES_MAX &&
        /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/.test(text));
}
export function isCurrency(text) {
    return typeof text === 'string' && /^[A-Z]{3}$/.test(text);
}
function checked(ok, what, text) {
    if (!ok)
        throw new RangeError(`${what} \`${text}\` is not valid`);
    return text;
}
function readChecked(r, max, what, ok) {
    const text = r.string(max, what);
    if (!ok(text))
        r.fail(`${what} \`${text}\` is not valid`);
    return text;
}
export function writePlanId(w, text) {
    w.string(checked(isPlanId(text), 'plan id', text), LIMITS.PLAN_ID_BYTES_MAX, 'plan id');
}
export const readPlanId = (r) => readChecked(r, LIMITS.PLAN_ID_BYTES_MAX, 'plan id', isPlanId);
export function writeItemName(w, text) {
    w.string(checked(isItemName(text), 'item name', text), LIMITS.ITEM_NAME_BYTES_MAX, 'item name');
}
export const readItemName = (r) => readChecked(r, LIMITS.ITEM_NAME_BYTES_MAX, 'item name', isItemName);
export function writeAppId(w, text) {
    w.string(checked(isAppId(text), 'app id', text), LIMITS.APP_ID_BYTES_MAX, 'app id');
}
export const readAppId = (r) => readChecked(r, LIMITS.APP_ID_BYTES_MAX, 'app id', isAppId);
export function writeAchievementId(w, text) {
    w.string(checked(isAchievementId(text), 'achievement id', text), LIMITS.ACHIEVEMENT_ID_BYTES_MAX, 'achievement id');
}
export const readAchievementId = (r) => readChecked(r, LIMITS.ACHIEVEMENT_ID_BYTES_MAX, 'achievement id', isAchievementId);
export function writePlanRef(w, plan) {
    writePlanId(w, plan.plan_id);
    w.u32(plan.version);
}
export const readPlanRef = (r) => ({ plan_id: readPlanId(r), version: r.u32('plan version') });
export function writeUsageLine(w, line) {
    writeItemName(w, line.item);
    w.u64(line.units);
}
export const readUsageLine = (r) => ({ item: readItemName(r), units: r.u64('units') });
export function writePricePlan(w, plan) {
    writePlanId(w, plan.plan_id);
    w.u32(plan.version);
    writeAssetId(w, plan.asset);
    w.string(plan.title, LIMITS.PLAN_TITLE_BYTES_MAX, 'plan title');
    w.list(plan.items, LIMITS.PLAN_ITEMS_MAX, 'plan items', (w2, item) => {
        writeItemName(w2, item.item);
        w2.u64(item.included_per_hold);
        w2.list(item.tiers, LIMITS.PLAN_TIERS_MAX, 'tiers', (w3, tier) => {
            w3.option(tier.up_to, (w4, v) => w4.u64(v));
            w3.u128(tier.unit_price);
        });
    });
    w.list(plan.packs, LIMITS.PLAN_PACKS_MAX, 'packs', (w2, pack) => {
        writeItemName(w2, pack.name);
        w2.u128(pack.credits);
        w2.string(checked(isCurrency(pack.price.currency), 'currency', pack.price.currency), 3, 'currency');
        w2.u64(pack.price.amount);
        w2.u8(pack.price.scale);
    });
}
export function readPricePlan(r) {
    return {
        plan_id: readPlanId(r),
        version: r.u32('plan version'),
        asset: readAssetId(r),
        title: r.string(LIMITS.PLAN_TITLE_BYTES_MAX, 'plan title'),
        items: r.list(LIMITS.PLAN_ITEMS_MAX, 'plan items', (r2) => ({
            item: readItemName(r2),
            included_per_hold: r2.u64('included_per_hold'),
            tiers: r2.list(LIMITS.PLAN_TIERS_MAX, 'tiers', (r3) => ({
                up_to: r3.option('up_to', (r4) => r4.u64('up_to')),
                unit_price: r3.u128('unit_price'),
            })),
        })),
        packs: r.list(LIMITS.PLAN_PACKS_MAX, 'packs', (r2) => ({
            name: readItemName(r2),
            credits: r2.u128('credits'),
            price: {
                currency: readChecked(r2, 3, 'currency', isCurrency),
                amount: r2.u64('price amount'),
                scale: r2.u8('price scale'),
            },
        })),
    };
}
/** The exact price of the first `units` billable units, in billionths; `null` past u128. */
export function costNanos(item, units) {
    let cost = 0n;
    let below = 0n;
    for (const tier of item.tiers) {
        if (units <= below)
            break;
        const top = tier.up_to ?? U64_MAX;
        const inTier = (units < top ? units : top) - below;
        cost += inTier * tier.unit_price;
        if (cost > U128_MAX)
            return null;
        below = top;
    }
    return cost;
}
/**
 * Prices a settlement's usage lines under `plan` as the ledger does; `billedBefore(item)` is
 * the holder's billable units settled before under this plan version. Throws on lines out of
 * order, zero units, an item not in the plan, or an overflow, naming the line.
 */
export function priceLines(plan, lines, billedBefore = () => 0n) {
    const charged = [];
    let total = 0n;
    // The form of all lines first, then each line's price: the order of errors is the ledger's
    // (`check_lines`, then per line), so both name the same problem.
    lines.forEach((line, index) => {
        if (index > 0 && !(lines[index - 1].item < line.item)) {
            throw new RangeError(`usage lines must be sorted by item, each once: \`${line.item}\` is out of order or repeated`);
        }
    });
    const zero = lines.find((line) => line.units === 0n);
    if (zero)
        throw new RangeError(`usage line \`${zero.item}\` has zero units`);
    lines.forEach((line) => {
        const item = plan.items.find((candidate) => candidate.item === line.item);
        if (!item)
            throw new RangeError(`item \`${line.item}\` is not in the plan`);
        const before = billedBefore(line.item);
        const billable = line.units > item.included_per_hold ? line.units - item.included_per_hold : 0n;
        const after = before + billable;
        const high = after > U64_MAX ? null : costNanos(item, after);
        const low = costNanos(item, before);
        if (high === null || low === null)
            throw new RangeError(`the charge for \`${line.item}\` overflows`);
        const amount = high / NANOS_PER_MINOR - low / NANOS_PER_MINOR;
        total += amount;
        if (total > U128_MAX)
            throw new RangeError(`the charge for \`${line.item}\` overflows`);
        charged.push({ item: line.item, units: line.units, billable, billed_before: before, amount });
    });
    return { lines: charged, total };
}
