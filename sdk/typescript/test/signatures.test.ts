// Tally's signature rule in TypeScript (ZIP-215, weak keys refused) on the adversarial cases of
// node/types/tests/signatures.rs: RFC 8032 vectors, the twelve "Taming the many EdDSAs" vectors
// with Tally's verdicts, every small-order key encoding, non-canonical S, small-order and
// non-canonical R made by the key holder (valid only with k hashed over R as given), and
// mixed-order keys refused where keys are registered.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bech32m } from '@scure/base';
import * as sdk from '../src/index.js';
import { concat, fromHex, toHex } from '../src/bytes.js';

const L = ed25519.Point.Fn.ORDER;
const hex = (text: string) => fromHex(text, 'test vector');

function leToBig(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}
function bigToLe32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}
/** The challenge k = SHA-512(R || A || M) mod L over the bytes given. */
function challenge(r: Uint8Array, a: Uint8Array, message: Uint8Array): bigint {
  return leToBig(sha512(concat(r, a, message))) % L;
}

const RFC8032: [string, string, string, string][] = [
  [
    '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ],
  [
    '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ],
  [
    'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  ],
];

// (message, public key, signature, Tally's verdict): "Taming the many EdDSAs", as
// node/types/tests/signatures.rs lists them with the Rust verdicts.
const TAMING: [string, string, string, sdk.KeyProblem | null][] = [
  ['8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000', 'weak-key'],
  ['9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04', 'weak-key'],
  ['aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab', 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e', null],
  ['9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79', 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', '9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009', null],
  ['e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c', 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', '160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09', null],
  ['e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c', 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', '21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405', null],
  ['85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40', '442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623', 'e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514', 'bad-signature'],
  ['85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40', '442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623', '8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22', 'bad-signature'],
  ['9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41', 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f', 'bad-signature'],
  ['9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41', 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908', null],
  ['e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04', 'weak-key'],
  ['39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04', 'weak-key'],
];

describe('signature rule', () => {
  it('RFC 8032 §7.1 vectors: derivation, signature, verification; a flipped bit fails', () => {
    for (const [seed, publicKey, message, signature] of RFC8032) {
      const key = sdk.SecretKey.fromHex(seed);
      assert.equal(toHex(key.publicKey), publicKey);
      assert.equal(toHex(key.signRaw(hex(message))), signature);
      assert.equal(sdk.verifyRaw(hex(publicKey), hex(message), hex(signature)), null);
      for (const bit of [0, 255, 256, 511]) {
        const tampered = hex(signature);
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        assert.equal(sdk.verifyRaw(hex(publicKey), hex(message), tampered), 'bad-signature', `bit ${bit}`);
      }
      assert.equal(sdk.verifyRaw(hex(publicKey), concat(hex(message), new Uint8Array([0])), hex(signature)), 'bad-signature');
    }
  });

  it('the twelve "Taming the many EdDSAs" vectors get the Rust verdicts', () => {
    TAMING.forEach(([message, publicKey, signature, verdict], index) => {
      assert.equal(sdk.verifyRaw(hex(publicKey), hex(message), hex(signature)), verdict, `vector ${index}`);
    });
  });

  it('every small-order key encoding is weak: refused to verify, as an address and as hex', () => {
    assert.equal(sdk.SMALL_ORDER_ENCODINGS.length, 14);
    const identity = hex(sdk.SMALL_ORDER_ENCODINGS[0]!);
    for (const encoding of sdk.SMALL_ORDER_ENCODINGS) {
      const key = hex(encoding);
      // Each decodes to a point of small order (the list is the curve's, not made up).
      assert.ok(ed25519.Point.fromBytes(key, true).isSmallOrder(), encoding);
      assert.equal(sdk.validateKey(key), 'weak-key', encoding);
      // R = identity, S = 0 satisfies the equation for a small-order key and any message.
      const forged = concat(identity, new Uint8Array(32));
      assert.equal(sdk.verifyRaw(key, new TextEncoder().encode('transfer everything'), forged), 'weak-key');
      const address = bech32m.encode('tally', bech32m.toWords(key));
      assert.throws(() => sdk.parseAddress(address), /weak/);
      assert.throws(() => sdk.parsePublicKeyHex(encoding), /weak/);
    }
  });

  it('non-canonical S (S + L, top bits, S = L) is refused', () => {
    const key = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(7));
    const message = new TextEncoder().encode('malleable?');
    const signature = key.signRaw(message);
    assert.equal(sdk.verifyRaw(key.publicKey, message, signature), null);
    const r = signature.slice(0, 32);
    const s = leToBig(signature.slice(32));
    for (const bad of [s + L, bigToLe32(L), (() => { const t = signature.slice(32); t[31]! |= 0xe0; return leToBig(t); })()]) {
      const value = typeof bad === 'bigint' ? bad : leToBig(bad);
      if (value >= 1n << 256n) continue;
      assert.equal(sdk.verifyRaw(key.publicKey, message, concat(r, bigToLe32(value))), 'bad-signature');
    }
  });

  it('small-order R (canonical or not) by the key holder is valid; k must be over R as given; S = 0 by anyone else fails', () => {
    const seed = new Uint8Array(32).fill(31);
    const { scalar: a, pointBytes: publicKey } = ed25519.utils.getExtendedPublicKey(seed);
    const message = new TextEncoder().encode('non-canonical');
    let nonCanonical = 0;
    for (const encoding of sdk.SMALL_ORDER_ENCODINGS) {
      const r = hex(encoding);
      const asGiven = concat(r, bigToLe32((challenge(r, publicKey, message) * a) % L));
      assert.equal(sdk.verifyRaw(publicKey, message, asGiven), null, `R = ${encoding}`);
      assert.equal(sdk.verifyRaw(publicKey, message, concat(r, new Uint8Array(32))), 'bad-signature', encoding);
      const canonical = ed25519.Point.fromBytes(r, true).toBytes();
      if (toHex(canonical) !== encoding) {
        nonCanonical += 1;
        const reEncoded = concat(r, bigToLe32((challenge(canonical, publicKey, message) * a) % L));
        assert.equal(sdk.verifyRaw(publicKey, message, reEncoded), 'bad-signature', `re-encoded R = ${encoding}`);
      }
    }
    assert.equal(nonCanonical, 6);
  });

  it('mixed-order keys verify (ZIP-215) but are refused where keys are registered or typed', () => {
    const mixed = hex('cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d');
    assert.equal(sdk.validateKey(mixed), null);
    assert.equal(sdk.validateKeyStrict(mixed), 'mixed-order');
    assert.throws(() => sdk.parsePublicKeyHex(toHex(mixed)), /small-order component/);
    assert.throws(() => sdk.parseAddress(bech32m.encode('tally', bech32m.toWords(mixed))), /small-order component/);
    const honest = [1, 2, 3].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)).publicKey);
    assert.throws(() => sdk.validatorSet([...honest, mixed]), /validator 3 key refused/);
  });

  it('keys off the curve are invalid points', () => {
    const y2 = new Uint8Array(32);
    y2[0] = 2; // y = 2 is not the y-coordinate of any point
    assert.equal(sdk.validateKey(y2), 'invalid-point');
    const key = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(5));
    assert.equal(sdk.verifyRaw(y2, new Uint8Array(1), key.signRaw(new Uint8Array(1))), 'invalid-point');
  });

  it('namespaces and chain ids separate signatures', () => {
    const key = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(7));
    const payload = new TextEncoder().encode('payload');
    const signature = key.sign('tx', 'tally-test', payload);
    assert.equal(sdk.verifySignature(key.publicKey, 'tx', 'tally-test', payload, signature), null);
    assert.equal(sdk.verifySignature(key.publicKey, 'badge', 'tally-test', payload, signature), 'bad-signature');
    assert.equal(sdk.verifySignature(key.publicKey, 'tx', 'tally-other', payload, signature), 'bad-signature');
    assert.ok(!String(key).includes('0707'), 'the seed is never printed');
  });
});
