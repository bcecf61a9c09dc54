// RFC 8785 canonicalization with the strict I-JSON parse of client/src/jcs.rs, and badge hashes:
// the RFC's own examples, the repository's example badges (examples/badges/badge-hashes.txt,
// computed independently of the Rust code), strict compact JWS, receipts and batches.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { fromHex, toHex, utf8 } from '../src/bytes.js';
import { readRepoFile, repoRoot } from './support.js';

const canonical = (text: string) => new TextDecoder().decode(sdk.canonicalize(text));

describe('JCS (RFC 8785)', () => {
  it('§3.2.2 example: text and bytes', () => {
    const input = `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
  "literals": [null, true, false]
}`;
    const expected = `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA'B\\"\\\\\\\\\\"/"}`;
    assert.equal(canonical(input), expected);
    assert.equal(
      toHex(sdk.canonicalize(input)),
      '7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a5b3333333333333333332e333333333333332c31652b33302c342e352c302e3030322c31652d32375d2c22737472696e67223a22e282ac245c75303030665c6e4127425c225c5c5c5c5c222f227d',
    );
  });

  it('§3.2.3: names sort by UTF-16 code units', () => {
    const input = '{"\\u20ac":1,"\\r":2,"\\ufb33":3,"1":4,"\\ud83d\\ude00":5,"\\u0080":6,"\\u00f6":7}';
    assert.equal(canonical(input), '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\u{1f600}":5,"\ufb33":3}');
  });

  it('numbers in ECMAScript form, -0 as 0, whitespace and order do not matter', () => {
    assert.equal(canonical('[1e21, 1e20, 1e-7, 1.5e-6, 0.30000000000000004, -0, 12345678901234567890]'), '[1e+21,100000000000000000000,1e-7,0.0000015,0.30000000000000004,0,12345678901234567000]');
    assert.equal(canonical(' { "b" : [ 1 , { "y":2, "x":1 } ], "a":"é", "c":{ } } '), '{"a":"é","b":[1,{"x":1,"y":2}],"c":{}}');
    assert.equal(canonical('["\\u007f\\u00e9\\u2028", "\\uD83D\\uDE00"]'), '["\u007fé\u2028","😀"]');
  });

  it('refuses what I-JSON refuses, naming where', () => {
    assert.throws(() => sdk.parseJson('{\n  "a": 1,\n  "b": 2,\n  "a": 3\n}'), /line 4, column 3 .*duplicate member name "a"/);
    assert.throws(() => sdk.parseJson('{"a":1,"\\u0061":2}'), /duplicate member name "a"/);
    assert.throws(() => sdk.parseJson('["\\ud800"]'), /lone surrogate \\ud800/);
    assert.throws(() => sdk.parseJson('["\\udc00\\ud800"]'), /lone surrogate \\udc00/);
    assert.throws(() => sdk.parseJson('[1e400]'), /outside the range of an IEEE 754 double/);
    assert.throws(() => sdk.parseJson('[01]'), /leading zeros/);
    assert.throws(() => sdk.parseJson('\ufeff{}'), /byte order mark/);
    assert.throws(() => sdk.parseJson('{} x'), /text continues after the JSON value/);
    assert.throws(() => sdk.parseJson(''), /empty/);
    assert.throws(() => sdk.parseJson('["a\tb"]'), /control character U\+0009/);
    assert.throws(() => sdk.parseJson(new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d])), /not valid UTF-8 at byte 2/);
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.equal(canonical(deep(64)), deep(64));
    assert.throws(() => sdk.parseJson(deep(65)), /deeper than the limit of 64/);
    assert.equal(canonical('[{"k":1},{"k":2}]'), '[{"k":1},{"k":2}]');
  });
});

describe('badge hashes', () => {
  const lines = readRepoFile('examples/badges/badge-hashes.txt')
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));

  it('every example badge hashes as badge-hashes.txt says, and is detected as an assertion', () => {
    assert.equal(lines.length, 8);
    for (const line of lines) {
      const [hash, canon, file] = line.trim().split(/\s+/) as [string, sdk.BadgeCanon, string];
      const bytes = new Uint8Array(readRepoFile(`examples/badges/${file}`));
      assert.equal(toHex(sdk.badgeHash(bytes, canon)), hash, file);
      const detected = sdk.hashAssertion(bytes);
      assert.equal(detected.canon, canon, file);
      assert.equal(toHex(detected.hash), hash, file);
      assert.equal(detected.format, file.includes('.ob3.') ? 'open_badges3' : 'open_badges2', file);
    }
  });

  it('badge classes and issuer profiles are not assertions', () => {
    const files = readdirSync(`${repoRoot}/examples/badges`).filter((f) => f.startsWith('class-') || f === 'issuer.json');
    assert.ok(files.length >= 5);
    for (const file of files) {
      assert.throws(() => sdk.hashAssertion(new Uint8Array(readRepoFile(`examples/badges/${file}`))), /not Assertion|neither/, file);
    }
  });

  it('a changed value changes the hash; reformatting does not', () => {
    const text = readRepoFile('examples/badges/assertion-api-calls-1m.json').toString('utf8');
    // Members in reverse order at every level, indented.
    const reverse = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverse) : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)]))
        : v;
    const reformatted = utf8(JSON.stringify(reverse(JSON.parse(text)), null, 4));
    assert.notEqual(new TextDecoder().decode(reformatted), text);
    assert.equal(toHex(sdk.badgeHash(reformatted, 'jcs-blake3')), toHex(sdk.badgeHash(utf8(text), 'jcs-blake3')));
    const changed = utf8(text.replace('"id"', '"iD"'));
    assert.notEqual(toHex(sdk.badgeHash(changed, 'jcs-blake3')), toHex(sdk.badgeHash(utf8(text), 'jcs-blake3')));
  });

  it('wrong canonicalization and malformed JWS are refused with the reason', () => {
    const jws = new Uint8Array(readRepoFile('examples/badges/credential-forum-support.ob3.jws'));
    assert.throws(() => sdk.badgeHash(jws, 'jcs-blake3'), /compact JWS; use raw-blake3/);
    assert.throws(() => sdk.badgeHash(utf8('{"a":1}'), 'raw-blake3'), /JSON; use jcs-blake3/);
    const token = new TextDecoder().decode(jws);
    assert.equal(toHex(sdk.badgeHash(utf8(`${token}\n`), 'raw-blake3')), toHex(sdk.badgeHash(jws, 'raw-blake3')), 'one trailing newline is removed');
    assert.throws(() => sdk.badgeHash(utf8(`${token} `), 'raw-blake3'), /whitespace is not allowed/);
    assert.throws(() => sdk.badgeHash(utf8(`${token}=`), 'raw-blake3'), /without padding/);
    assert.throws(() => sdk.badgeHash(utf8('a.b'), 'raw-blake3'), /2 segments/);
    assert.throws(() => sdk.badgeHash(utf8('Zh.Zg.Zg'), 'raw-blake3'), /non-canonical base64url/);
    assert.throws(() => sdk.badgeHash(utf8('Zm9vY.Zg.Zg'), 'raw-blake3'), /4k\+1/);
    assert.throws(() => sdk.badgeHash(utf8('[1]'), 'jcs-blake3'), /must be an object, found array/);
  });

  it('strict base64url: RFC 4648 vectors and canonical last characters', () => {
    for (const [encoded, decoded] of [['', ''], ['Zg', 'f'], ['Zm8', 'fo'], ['Zm9v', 'foo'], ['Zm9vYg', 'foob'], ['Zm9vYmE', 'fooba'], ['Zm9vYmFy', 'foobar']]) {
      assert.equal(new TextDecoder().decode(sdk.base64urlDecodeStrict(encoded!)), decoded);
    }
    assert.deepEqual(sdk.base64urlDecodeStrict('-_8'), new Uint8Array([0xfb, 0xff]));
    for (const bad of ['+/8', 'Zm9=', 'Zh', 'Zm9', 'Zm-', 'Zm9vY']) assert.throws(() => sdk.base64urlDecodeStrict(bad), bad);
  });

  it('a batch gives receipts whose paths verify; a receipt file parses strictly', () => {
    const hashes = ['a', 'b', 'c', 'd', 'e'].map((t) => sdk.plainHash(utf8(t)));
    const { root, receipts } = sdk.badgeBatch(hashes, 'jcs-blake3');
    assert.equal(toHex(root), toHex(sdk.merkleRoot(hashes)));
    receipts.forEach((r) => sdk.verifyMerkleProof(r.path, sdk.merkleLeaf(r.badge_hash), root));
    assert.throws(() => sdk.badgeBatch([hashes[0]!, hashes[0]!], 'jcs-blake3'), /badges 0 and 1 have the same hash/);
    const file = JSON.stringify({
      badge_hash: toHex(hashes[1]!),
      canon: 'jcs-blake3',
      path: { index: 1, leaf_count: 5, siblings: receipts[1]!.path.siblings.map(toHex) },
      root: toHex(root),
      tx_id: null,
      height: null,
    });
    const parsed = sdk.parseBadgeReceipt(file);
    assert.deepEqual(parsed, receipts[1]);
    assert.throws(() => sdk.parseBadgeReceipt(file.replace('"height":null', '"height":null,"extra":1')), /unknown field `extra`/);
    assert.throws(() => sdk.parseBadgeReceipt(file.replace('"leaf_count":5', '"leaf_count":0')), /leaf_count is 0/);
    assert.throws(() => sdk.parseBadgeReceipt(file.replace(toHex(root), 'zz')), /expected 64 hex characters/);
    // Steps 1 and 2 offline.
    const assertion = utf8('{"@context":"https://w3id.org/openbadges/v2","type":"Assertion","id":"x"}');
    const hash = sdk.badgeHash(assertion, 'jcs-blake3');
    const one = sdk.badgeBatch([hash, hashes[0]!], 'jcs-blake3').receipts[0]!;
    sdk.verifyBadgePath(one, assertion);
    assert.throws(() => sdk.verifyBadgePath(one, utf8('{"@context":"https://w3id.org/openbadges/v2","type":"Assertion","id":"y"}')), /step 1/);
    assert.throws(() => sdk.verifyBadgePath({ ...one, root: hashes[0]! }, assertion), /step 2/);
    assert.equal(toHex(fromHex(toHex(hash), 'x')), toHex(hash));
  });

  it('the achievement a badge is for: the table the Rust client checks (client/tests/golden/badge-achievement-ids.json)', () => {
    const table = JSON.parse(readRepoFile('client/tests/golden/badge-achievement-ids.json').toString('utf8')) as {
      cases: { case: string; badge: string; achievement: string | null }[];
    };
    assert.ok(table.cases.length >= 10);
    for (const { case: name, badge, achievement } of table.cases) {
      assert.equal(sdk.badgeAchievementId(utf8(badge)), achievement ?? undefined, name);
    }
    const example = new Uint8Array(readRepoFile('examples/badges/credential-forum-support.ob3.jws'));
    assert.equal(sdk.badgeAchievementId(example), 'https://badges.acme.example/achievements/forum-support');
  });
});
