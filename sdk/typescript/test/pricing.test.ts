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

describe('settle_app (Op tag 16)', () => {
  // Bytes and JSON of this op as the Rust node encodes them (tally-types, `Op::SettleApp`).
  const rustHex =
    '10' + '1a'.repeat(16) + '2b'.repeat(16) + 'fa' + '00'.repeat(15) + '07'.repeat(32) +
    '01000000' + '0c000000' + '7365617263682e7175657279' + '7800000000000000' + '0b000000' + '776561746865722d626f74';
  const op: sdk.Op = {
    op: 'settle_app',
    settle: {
      hold_id: new Uint8Array(16).fill(0x1a),
      batch_id: new Uint8Array(16).fill(0x2b),
      amount: 250n,
      usage_root: new Uint8Array(32).fill(7) as sdk.Hash,
      lines: [{ item: 'search.query', units: 120n }],
    },
    app: 'weather-bot',
  };
  const OpCodec: sdk.Codec<sdk.Op> = { typeName: 'Op', maxEncodedSize: 1 << 20, write: sdk.writeOp, read: sdk.readOp };

  it('encodes and decodes exactly as the node does', () => {
    assert.equal(toHex(sdk.encode(OpCodec, op)), rustHex);
    assert.deepEqual(sdk.decode(OpCodec, fromHex(rustHex, 'op')), op);
  });

  it('refuses an app id the ledger refuses', () => {
    for (const app of ['', 'Weather', '-bot', 'a'.repeat(65), 'bot!']) {
      assert.throws(() => sdk.encode(OpCodec, { ...op, app } as sdk.Op), /app id/, app);
    }
    const upper = rustHex.slice(0, -22) + '576561746865722d626f74'; // `Weather-bot`
    assert.throws(() => sdk.decode(OpCodec, fromHex(upper, 'op')), /app id/);
  });
});
