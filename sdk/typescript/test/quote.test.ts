// Quotes in the SDK against the Rust client: every usage file of client/tests/golden/quotes.json
// parsed to the same lines (or refused with the same message), the same candidates chosen, and
// every plan's charge (or error) the same, from a new holder's position and from one near the
// tiers' edges. The explorer's prices view quotes a dropped usage file with these functions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { readRepoFile } from './support.js';

interface Case {
  name: string;
  csv: string;
  error?: string;
  calls?: number;
  lines?: { item: string; units: number | bigint }[];
  candidates?: string[];
  quotes?: { position: { item: string; billed: number | bigint }[] | null; results: Record<string, unknown>[] }[];
}
interface Vectors {
  plans: { member: string; status: string; plan: unknown }[];
  cases: Case[];
}

const vectors = sdk.parseJsonLossless(readRepoFile('client/tests/golden/quotes.json').toString('utf8')) as Vectors;
const candidates: sdk.Candidate[] = vectors.plans.map((p) => ({ member: p.member, status: p.status, plan: sdk.planFromJson(p.plan) }));
const big = (value: unknown) => sdk.toBigInt(value, 'vector');

/** A quote as the Rust vectors write it: amounts as strings, counts as JSON numbers. */
function asVector(quote: sdk.Quote): Record<string, unknown> {
  if ('error' in quote) return { plan: quote.plan, error: quote.error };
  return {
    plan: quote.plan,
    total: quote.total.toString(),
    lines: quote.lines.map((l) => ({ item: l.item, units: l.units, billable: l.billable, billed_before: l.billed_before, amount: l.amount.toString() })),
  };
}
function normalize(results: Record<string, unknown>[]): unknown {
  // Counts come from the file as numbers or bigints; compare them all as bigints.
  return JSON.parse(JSON.stringify(results, (_, v) => (typeof v === 'number' || typeof v === 'bigint' ? `n${v}` : v)));
}

describe('quotes: the SDK against the Rust client (client/tests/golden/quotes.json)', () => {
  it('has vectors for parsed files and refused ones', () => {
    assert.ok(vectors.cases.filter((c) => c.error === undefined).length >= 5);
    assert.ok(vectors.cases.filter((c) => c.error !== undefined).length >= 10);
  });

  for (const c of vectors.cases) {
    it(`usage file: ${c.name}`, () => {
      if (c.error !== undefined) {
        assert.throws(() => sdk.parsePlannedUsage(c.csv), (error: Error) => {
          assert.ok(error instanceof sdk.UsageError, String(error));
          assert.equal(error.message, c.error);
          return true;
        });
        return;
      }
      const usage = sdk.parsePlannedUsage(new TextEncoder().encode(c.csv));
      assert.equal(usage.calls, c.calls);
      assert.deepEqual(usage.lines, c.lines!.map((l) => ({ item: l.item, units: big(l.units) })));
      const chosen = sdk.plansPricing(candidates, usage.lines.map((l) => l.item)).map((p) => `${p.member}/${p.plan.plan_id}@${p.plan.version}`);
      assert.deepEqual(chosen, c.candidates);
      for (const q of c.quotes!) {
        const billed = new Map((q.position ?? []).map((p) => [p.item, big(p.billed)]));
        const quotes = sdk.quote(candidates, usage.lines, (_, item) => billed.get(item) ?? 0n);
        assert.deepEqual(normalize(quotes.map(asVector)), normalize(q.results), `position ${JSON.stringify(q.position, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
    });
  }

  it('refuses what is not a planned usage file, and plan JSON that is not a plan', () => {
    assert.throws(() => sdk.parsePlannedUsage(new Uint8Array([0xff, 0xfe])), /not UTF-8 text/);
    assert.throws(() => sdk.planFromJson({ plan_id: 'x', version: 1, asset: 'A@a', items: [{ item: 'a', tiers: [{ up_to: null, unit_price: '1.0000000001' }] }] }), /10 decimal places/);
    assert.throws(() => sdk.planFromJson({ plan_id: 'x', version: 1, asset: 'A@a', items: 'none' }), /plan.items: expected an array/);
    assert.equal(sdk.formatUnitPrice(sdk.parseUnitPrice('1.50')), '1.5');
  });

  it('reads a plan file to the bytes the Rust client publishes (packs included)', () => {
    // The golden vectors' acme plan is examples/pricing/acme-standard.json read by the Rust client.
    const file = sdk.planFromJson(sdk.parseJsonLossless(readRepoFile('examples/pricing/acme-standard.json').toString('utf8')));
    assert.deepEqual(file, candidates[0]!.plan);
    assert.deepEqual(file.packs[0], { name: 'large', credits: 1_000_000n, price: { currency: 'USD', amount: 9000n, scale: 2 } });
    const w = new sdk.Writer();
    sdk.writePricePlan(w, file);
    assert.ok(w.finish().length > 100);
  });
});
