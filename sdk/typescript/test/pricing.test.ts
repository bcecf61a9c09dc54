// Price plans in the SDK: the ops' and state entries' tags and layout (the golden vectors pin
// the full bytes), and the charge rule, case by case as node/types/src/pricing.rs tests it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { fromHex, toHex } from '../src/bytes.js';

const nanos = (minor: bigint, billionths = 0n) => minor * sdk.NANOS_PER_MINOR + billionths;
const plan: sdk.PricePlan = {
  plan_id: 'standard',
  version: 1,
  asset: 'ACME@acme',
  title: 'Standard',
  items: [
    { item: 'calls', included_per_hold: 0n, tiers: [{ up_to: 10n, unit_price: nanos(2n) }, { up_to: null, unit_price: nanos(1n) }] },
    { item: 'tokens', included_per_hold: 5n, tiers: [{ up_to: null, unit_price: nanos(0n, 300_000_000n) }] },
  ],
  packs: [],
};

describe('price plans', () => {
  it('PublishPlan is op 14 and RetirePlan op 15, and both round-trip', () => {
    const publish: sdk.Op = { op: 'publish_plan', plan };
    const retire: sdk.Op = { op: 'retire_plan', plan: { plan_id: 'standard', version: 1 } };
    for (const [op, tag] of [[publish, '0e'], [retire, '0f']] as const) {
      const w = new sdk.Writer();
      sdk.writeOp(w, op);
      const hex = toHex(w.finish());
      assert.equal(hex.slice(0, 2), tag);
      const r = new sdk.Reader(fromHex(hex, 'op'), 'Op');
      assert.deepEqual(sdk.readOp(r), op);
    }
  });

  it('plan keys are kinds 19 and 20 with a big-endian version', () => {
    const key: sdk.StateKey = { kind: 'plan', member: 'acme', plan_id: 'standard', version: 258n };
    const hex = toHex(sdk.stateKeyBytes(key));
    assert.equal(hex.slice(0, 2), '13');
    assert.ok(hex.endsWith('0000000000000102'), hex);
    assert.deepEqual(sdk.decode(sdk.StateKeyCodec, fromHex(hex, 'key')), key);
    const usage: sdk.StateKey = { kind: 'plan_usage', holder: new Uint8Array(32).fill(7), member: 'acme', plan_id: 'standard', version: 1n };
    assert.equal(toHex(sdk.stateKeyBytes(usage)).slice(0, 2), '14');
    assert.throws(() => sdk.decode(sdk.StateKeyCodec, fromHex('13' + '04000000' + '4163' + '6d65', 'key')), /member id/);
  });

  it('charges graduated tiers by position, exactly at the edge', () => {
    const line = (item: string, units: bigint) => ({ item, units });
    assert.equal(sdk.priceLines(plan, [line('calls', 1n)], () => 9n).total, 2n);
    assert.equal(sdk.priceLines(plan, [line('calls', 1n)], () => 10n).total, 1n);
    assert.equal(sdk.priceLines(plan, [line('calls', 2n)], () => 9n).total, 3n);
  });

  it('allowances are free per hold and rounding never accumulates', () => {
    const charge = sdk.priceLines(plan, [{ item: 'tokens', units: 9n }]);
    assert.deepEqual(charge.lines[0], { item: 'tokens', units: 9n, billable: 4n, billed_before: 0n, amount: 1n });
    let paid = 0n;
    for (let before = 0n; before < 10n; before++) paid += sdk.priceLines(plan, [{ item: 'tokens', units: 6n }], () => before).total;
    assert.equal(paid, 3n);
  });

  it('refuses what the ledger refuses, naming the line', () => {
    assert.throws(() => sdk.priceLines(plan, [{ item: 'tokens', units: 1n }, { item: 'calls', units: 1n }]), /out of order/);
    assert.throws(() => sdk.priceLines(plan, [{ item: 'calls', units: 0n }]), /zero units/);
    // As the ledger does: the lines' form before any item's price (an unknown item first).
    assert.throws(() => sdk.priceLines(plan, [{ item: 'aaa', units: 1n }, { item: 'calls', units: 0n }]), /zero units/);
    assert.throws(() => sdk.priceLines(plan, [{ item: 'images', units: 1n }]), /not in the plan/);
    const dear: sdk.PricePlan = { ...plan, items: [{ item: 'calls', included_per_hold: 0n, tiers: [{ up_to: null, unit_price: (1n << 127n) + 1n }] }] };
    assert.throws(() => sdk.priceLines(dear, [{ item: 'calls', units: 2n }]), /overflows/);
  });
});
