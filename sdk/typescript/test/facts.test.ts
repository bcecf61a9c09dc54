// The ledger-fact state entries (usage, spent, app_usage, revenue) and the community figures
// (badge_figures, written by the anchor_achievements op, tag 17) against vectors the Rust types
// made (node/ledger/tests/golden/facts.json, checked by `cargo test -p tally-ledger --test
// sdk_vectors`): each key, value and the op decoded strictly, re-encoded to the same bytes, and
// compared field by field with the JSON the node serves for it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { fromHex, toHex } from '../src/bytes.js';
import { readRepoFile } from './support.js';

interface EntryVector {
  name: string;
  key: string;
  key_json: Record<string, unknown>;
  value: string;
  value_json: Record<string, unknown>;
}
interface FactVectors {
  anchor_achievements: { bytes: string; json: Record<string, unknown> };
  entries: EntryVector[];
}

const vectors = sdk.parseJsonLossless(readRepoFile('node/ledger/tests/golden/facts.json').toString('utf8')) as FactVectors;
const OpCodec: sdk.Codec<sdk.Op> = { typeName: 'Op', maxEncodedSize: 1 << 20, write: sdk.writeOp, read: sdk.readOp };

/** A decoded field in the form the node's JSON gives it: addresses for keys, decimal strings
 * for amounts (`*_amount` fields are strings in the node's JSON), numbers otherwise. */
function asJson(field: string, value: unknown, json: unknown): unknown {
  if (value instanceof Uint8Array) return sdk.toAddress(value);
  if (typeof value === 'bigint' && typeof json === 'string') return value.toString();
  if (typeof value === 'bigint' && typeof json === 'number') return Number(value);
  void field;
  return value;
}

function sameFields(decoded: Record<string, unknown>, json: Record<string, unknown>, what: string): void {
  assert.deepEqual(Object.keys(decoded).sort(), Object.keys(json).sort(), `${what}: the same fields`);
  for (const [field, value] of Object.entries(decoded)) {
    assert.deepEqual(asJson(field, value, json[field]), json[field], `${what}.${field}`);
  }
}

describe('ledger facts and badge figures: the Rust vectors', () => {
  it('covers the four fact kinds and the figures', () => {
    assert.deepEqual(
      vectors.entries.map((e) => e.name),
      ['usage', 'spent', 'app_usage', 'revenue', 'badge_figures'],
    );
  });

  for (const entry of vectors.entries) {
    it(`decodes and re-encodes the ${entry.name} key and value exactly`, () => {
      const key = sdk.decode(sdk.StateKeyCodec, fromHex(entry.key, 'key'));
      assert.equal(toHex(sdk.stateKeyBytes(key)), entry.key);
      sameFields(key as unknown as Record<string, unknown>, entry.key_json, `${entry.name} key`);
      const value = sdk.decode(sdk.StateValueCodec, fromHex(entry.value, 'value'));
      assert.equal(toHex(sdk.encode(sdk.StateValueCodec, value)), entry.value);
      assert.equal(value.kind, key.kind);
      sameFields(value as unknown as Record<string, unknown>, entry.value_json, `${entry.name} value`);
    });
  }

  it('decodes anchor_achievements (tag 17) as the node encodes it, bytes and JSON', () => {
    const bytes = vectors.anchor_achievements.bytes;
    assert.equal(bytes.slice(0, 2), '11', 'tag 17');
    const op = sdk.decode(OpCodec, fromHex(bytes, 'op'));
    assert.equal(toHex(sdk.encode(OpCodec, op)), bytes);
    assert.equal(op.op, 'anchor_achievements');
    if (op.op !== 'anchor_achievements') return;
    const json = vectors.anchor_achievements.json as {
      anchor: Record<string, unknown>;
      achievements: { achievement: string; count: number }[];
    };
    assert.equal(toHex(op.anchor.batch_root), json.anchor.batch_root);
    assert.deepEqual(
      [op.anchor.leaf_count, op.anchor.format, op.anchor.canon, op.anchor.metadata_uri],
      [json.anchor.leaf_count, json.anchor.format, json.anchor.canon, json.anchor.metadata_uri],
    );
    assert.deepEqual(op.achievements, json.achievements);
    assert.equal(sdk.badgeAnchorOf(op), op.anchor);
  });

  it('builds the same op with ops.anchorAchievements from unsorted input, and refuses a bad list', () => {
    const json = vectors.anchor_achievements.json as { achievements: { achievement: string; count: number }[] };
    const built = sdk.ops.anchorAchievements({
      batchRoot: new Uint8Array(32).fill(0xab),
      format: 'open_badges3',
      canon: 'jcs-blake3',
      metadataUri: 'https://badges.acme.example/batches/7',
      achievements: [...json.achievements].reverse(),
    });
    assert.equal(toHex(sdk.encode(OpCodec, built)), vectors.anchor_achievements.bytes);
    const base = { batchRoot: new Uint8Array(32).fill(1), format: 'open_badges3' as const, canon: 'jcs-blake3' as const };
    assert.throws(() => sdk.ops.anchorAchievements({ ...base, achievements: [] }), /1 to 32/);
    assert.throws(() => sdk.ops.anchorAchievements({ ...base, achievements: [{ achievement: 'urn:a', count: 1 }, { achievement: 'urn:a', count: 2 }] }), /named twice/);
    assert.throws(() => sdk.ops.anchorAchievements({ ...base, achievements: [{ achievement: 'urn:a', count: 0 }] }), /count/);
    assert.throws(() => sdk.ops.anchorAchievements({ ...base, achievements: [{ achievement: 'no scheme', count: 1 }] }), /absolute URI/);
  });

  it('refuses an achievement id the ledger refuses, both ways', () => {
    const op = sdk.decode(OpCodec, fromHex(vectors.anchor_achievements.bytes, 'op'));
    if (op.op !== 'anchor_achievements') throw new Error('anchor_achievements');
    for (const achievement of ['', 'no-scheme', '1http://x', 'https://a b', 'https://x/"q"', 'urn:' + 'x'.repeat(125)]) {
      const bad = { ...op, achievements: [{ achievement, count: 5 }] };
      assert.throws(() => sdk.encode(OpCodec, bad), /achievement id/, achievement);
    }
    assert.equal(sdk.isAchievementId('urn:' + 'x'.repeat(124)), true);
    assert.equal(sdk.isAchievementId('urn:' + 'x'.repeat(125)), false);
    // `urn:uuid:7d0c-ab` with a space in place of `-`.
    const spaced = vectors.anchor_achievements.bytes.replace(toHex(new TextEncoder().encode('7d0c-ab')), toHex(new TextEncoder().encode('7d0c ab')));
    assert.throws(() => sdk.decode(OpCodec, fromHex(spaced, 'op')), /achievement id/);
    // 33 achievements: over the list limit.
    const many = { ...op, achievements: Array.from({ length: 33 }, (_, n) => ({ achievement: `urn:a:${n}`, count: 1 })) };
    assert.throws(() => sdk.encode(OpCodec, many), /achievements/);
  });
});
