// Bad input gets a clear error naming the problem: hex, lengths, addresses, ids, amounts; and
// the strict codec refuses truncated, oversize, trailing and non-canonical bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bech32, bech32m } from '@scure/base';
import * as sdk from '../src/index.js';
import { fromHex, toHex } from '../src/bytes.js';
import { readJson } from './support.js';

const key = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(9));

describe('inputs', () => {
  it('validator sets: any n from 4 (f = floor((n - 1) / 3), quorum n - f); fewer is refused', () => {
    const keys = [1, 2, 3, 4, 5, 6].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)).publicKey);
    assert.throws(() => sdk.validatorSet(keys.slice(0, 3)), /at least 4 are needed/);
    for (const [n, quorum] of [[4, 3], [5, 4], [6, 5]] as const) {
      assert.equal(sdk.quorum(sdk.validatorSet(keys.slice(0, n))), quorum, `n = ${n}`);
    }
  });

  it('hex: odd length, wrong length, bad character', () => {
    assert.throws(() => fromHex('abc', 'tx id'), /tx id: hex has an odd number of characters \(3\)/);
    assert.throws(() => fromHex('ab', 'tx id', 32), /tx id: expected 64 hex characters \(32 bytes\), got 2/);
    assert.throws(() => fromHex('zz', 'memo'), /memo: not hex: character "z" at offset 0/);
    assert.throws(() => sdk.SecretKey.fromHex('00'), /secret key: expected 64 hex characters/);
    assert.equal(toHex(fromHex('ABcd', 'x')), 'abcd');
  });

  it('addresses: checksum, bech32 vs bech32m, prefix, length, weak keys', () => {
    const address = key.address();
    assert.equal(toHex(sdk.parseAddress(address)), toHex(key.publicKey));
    assert.equal(toHex(sdk.parseAddress(address.toUpperCase())), toHex(key.publicKey), 'upper case is the same address');
    const corrupted = address.slice(0, -1) + (address.endsWith('q') ? 'p' : 'q');
    assert.throws(() => sdk.parseAddress(corrupted), /address: address `.*` is not valid bech32m/);
    assert.throws(() => sdk.parseAddress(bech32.encode('tally', bech32.toWords(key.publicKey))), /must use bech32m, not bech32/);
    assert.throws(() => sdk.parseAddress(bech32m.encode('other', bech32m.toWords(key.publicKey))), /prefix must be `tally`, got `other`/);
    assert.throws(() => sdk.parseAddress(bech32m.encode('tally', bech32m.toWords(key.publicKey.slice(0, 31)))), /must carry 32 bytes, got 31/);
    assert.throws(() => sdk.parseAddress('not an address'), /not valid bech32m/);
    assert.throws(() => sdk.parsePublicKey('00'.repeat(32)), /weak/);
  });

  it('ids: chain, member, asset, op ids', () => {
    assert.throws(() => sdk.checkChainId('ab'), /chain id: `ab` must be 3..=64 characters of \[a-z0-9-\]/);
    assert.throws(() => sdk.parseAssetId('acme'), /must be written CODE@member/);
    assert.throws(() => sdk.parseAssetId('acme@acme'), /asset code|`acme` must be 2..=12 characters of \[A-Z0-9\]/);
    assert.throws(() => sdk.parseAssetId('ACME@1acme'), /starting with a letter/);
    assert.throws(() => sdk.parseAssetId('ABCDEFGHIJKLM@acme'), /2..=12/);
    assert.deepEqual(sdk.parseAssetId('ACME@acme'), { code: 'ACME', issuer: 'acme' });
    assert.equal(toHex(sdk.parseOpId('67e55044-10b1-426f-9247-bb680e5fe0c8')), '67e5504410b1426f9247bb680e5fe0c8');
    assert.throws(() => sdk.parseOpId('xyz', 'hold id'), /hold id: id must be 32 hex characters \(16 bytes\), got `xyz`/);
  });

  it('amounts: exact, scale checked, each problem its own error', () => {
    assert.equal(sdk.parseAmount('12.5', 2), 1250n);
    assert.equal(sdk.parseAmount('12.50', 1), 125n);
    assert.equal(sdk.parseAmount('0', 0), 0n);
    assert.equal(sdk.parseAmount('7', 18), 7_000_000_000_000_000_000n);
    assert.equal(sdk.parseAmount('0.000000000000000001', 18), 1n);
    assert.equal(sdk.parseAmount(' 3 ', 2), 300n);
    assert.throws(() => sdk.parseAmount('1.234', 2), /amount `1.234` has 3 decimal places; this asset allows at most 2/);
    assert.throws(() => sdk.parseAmount('-1', 2), /amount `-1` is negative/);
    assert.throws(() => sdk.parseAmount('abc', 2), /`abc` is not a decimal number/);
    assert.throws(() => sdk.parseAmount('1e5', 2), /not a decimal number/);
    assert.throws(() => sdk.parseAmount('', 2), /not a decimal number/);
    assert.throws(() => sdk.parseAmount('1', 19), /scale 19 is above the maximum of 18/);
    assert.throws(() => sdk.parseAmount(`1${'0'.repeat(29)}`, 0), /too large/);
    assert.throws(() => sdk.parseAmount(`1${'0'.repeat(21)}`, 18), /too large/);
    assert.equal(sdk.formatAmount(1250n, 2), '12.5');
    assert.equal(sdk.formatAmount(1200n, 2), '12');
    assert.equal(sdk.formatAmount(5n, 3), '0.005');
    assert.equal(sdk.formatAmount((1n << 128n) - 1n, 18), '340282366920938463463.374607431768211455');
    assert.equal(sdk.comparePrices({ numerator: 1n, denominator: 3n }, { numerator: 2n, denominator: 6n }), 0);
    assert.deepEqual(sdk.parsePrice('3/2'), { numerator: 3n, denominator: 2n });
    assert.throws(() => sdk.parsePrice('3/0'), /parts must be non-zero/);
  });

  it('op builders and transactions check their fields', () => {
    assert.throws(() => sdk.ops.transfer({ asset: 'ACME@acme', to: 'tally1bad', amount: 1n }), /^InputError: to: /);
    assert.throws(() => sdk.ops.transfer({ asset: 'ACME', to: key.publicKey, amount: 1n }), /CODE@member/);
    assert.throws(() => sdk.ops.transfer({ asset: 'ACME@acme', to: key.publicKey, amount: 0n }), /amount: must be positive/);
    assert.throws(() => sdk.ops.transfer({ asset: 'ACME@acme', to: key.publicKey, amount: 1.5 as unknown as bigint }), /bigint minor units/);
    assert.throws(() => sdk.ops.grant({ asset: 'ACME@acme', to: key.publicKey, amount: 1n, kind: 'promo', externalRef: 'x'.repeat(129) }), /external ref: 129 bytes, more than the limit of 128/);
    const transfer = sdk.ops.transfer({ asset: 'ACME@acme', to: key.address(), amount: 1n });
    const params = { chainId: 'tally-test', key, seq: 1n, validUntilHeight: 10n, ops: [transfer] };
    assert.throws(() => sdk.buildTransaction({ ...params, ops: [] }), /a transaction has 1 to 16 ops, got 0/);
    assert.throws(() => sdk.buildTransaction({ ...params, ops: Array(17).fill(transfer) }), /got 17/);
    assert.throws(() => sdk.buildTransaction({ ...params, seq: 0n }), /seq must be at least 1/);
    assert.throws(() => sdk.buildTransaction({ ...params, memo: new Uint8Array(257) }), /memo: 257 bytes/);
    const signed = sdk.buildTransaction(params);
    assert.equal(sdk.checkFormAndSignature(signed), null);
    const tampered = { ...signed, tx: { ...signed.tx, seq: 2n } };
    assert.equal(sdk.checkFormAndSignature(tampered), 'bad-signature');
    // Every key an op names must be a point and not weak, as the node's form check requires:
    // y = 2 is on no point; the identity is weak. Signed by the honest signer all the same.
    const offCurve = new Uint8Array(32);
    offCurve[0] = 2;
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const withOps = (ops: sdk.Op[]) => sdk.signTransaction({ ...signed.tx, ops }, key);
    const to = (recipient: Uint8Array): sdk.Op => ({ op: 'transfer', asset: 'ACME@acme', to: recipient, amount: 1n });
    assert.equal(sdk.checkFormAndSignature(withOps([transfer, to(offCurve)])), 'bad-key:1:invalid-point');
    assert.equal(sdk.checkFormAndSignature(withOps([to(identity)])), 'bad-key:0:weak-key');
    const hold: sdk.Op = { op: 'hold', hold_id: new Uint8Array(16), holder: offCurve, asset: 'ACME@acme', amount: 1n, expires_at_ms: 1n };
    assert.equal(sdk.checkFormAndSignature(withOps([hold])), 'bad-key:0:invalid-point');
    const remove: sdk.Op = {
      op: 'propose',
      proposal_id: new Uint8Array(16),
      action: { action: 'remove_validator', consensus_key: identity },
      expires_at_height: 9n,
    };
    assert.equal(sdk.checkFormAndSignature(withOps([remove])), 'bad-key:0:weak-key');
    assert.deepEqual(sdk.namedKeys(remove), [identity]);
    // An application's three keys, and the key a rotation replaces, at each place a bad one can be.
    const application = (issuer: Uint8Array, consensus: Uint8Array, network: Uint8Array): sdk.SignedApplication => ({
      body: {
        chain_id: 'tally-test', member: 'acme', member_name: 'Acme', issuer, asset_code: 'ACME', asset_scale: 2,
        validator_name: 'acme-1', consensus_key: consensus, network_key: network,
        p2p_listen: '/ip4/127.0.0.1/tcp/1', http_listen: '127.0.0.1:2',
      },
      proofs: { consensus: new Uint8Array(64), network: new Uint8Array(64), issuer: null },
    });
    const good = key.publicKey;
    const propose = (action: sdk.Action): sdk.Op => ({ op: 'propose', proposal_id: new Uint8Array(16), action, expires_at_height: 9n });
    const actions = (bad: Uint8Array): [sdk.Action, Uint8Array[]][] => [
      [{ action: 'add_member', application: application(bad, good, good) }, [bad, good, good]],
      [{ action: 'add_member', application: application(good, bad, good) }, [good, bad, good]],
      [{ action: 'add_validator', application: application(good, good, bad) }, [good, good, bad]],
      [{ action: 'rotate_validator_key', consensus_key: bad, application: application(good, good, good) }, [bad, good, good, good]],
      [{ action: 'rotate_validator_key', consensus_key: good, application: application(good, bad, good) }, [good, good, bad, good]],
    ];
    for (const [action, keys] of actions(good)) {
      assert.deepEqual(sdk.namedKeys(propose(action)), keys, action.action);
      assert.equal(sdk.checkFormAndSignature(withOps([propose(action)])), null, action.action);
    }
    for (const [bad, problem] of [[identity, 'weak-key'], [offCurve, 'invalid-point']] as const) {
      for (const [action, keys] of actions(bad)) {
        assert.deepEqual(sdk.namedKeys(propose(action)), keys, action.action);
        assert.equal(sdk.checkFormAndSignature(withOps([transfer, propose(action)])), `bad-key:1:${problem}`, action.action);
      }
    }
    assert.equal(sdk.checkFormAndSignature(withOps([transfer, { ...hold, holder: key.publicKey }])), null);
  });
});

describe('strict codec', () => {
  const vectors = readJson<{ values: { name: string; bytes: string }[] }>('node/types/tests/golden/vectors.json');
  const txBytes = fromHex(vectors.values.find((v) => v.name === 'signed_transaction_main')!.bytes, 'tx');

  it('refuses every truncation, a trailing byte, and input over the type bound', () => {
    for (let cut = 0; cut < txBytes.length; cut += 7) {
      assert.throws(() => sdk.decode(sdk.SignedTransactionCodec, txBytes.subarray(0, cut)), /SignedTransaction: /);
    }
    const longer = new Uint8Array(txBytes.length + 1);
    longer.set(txBytes);
    assert.throws(() => sdk.decode(sdk.SignedTransactionCodec, longer), /1 trailing bytes after the value/);
    assert.throws(() => sdk.decode(sdk.SignedTransactionCodec, new Uint8Array(8193)), /more than the limit of 8192 bytes/);
  });

  it('refuses oversize lists before reading them, bad tags, bad bools and invalid ids', () => {
    const certificate = fromHex(vectors.values.find((v) => v.name === 'certificate_finalization')!.bytes, 'certificate');
    const oversize = certificate.slice();
    // Subject (1 + 8 + 32), then the signer bitmap's u32 length.
    oversize.set([101, 0, 0, 0], 41);
    assert.throws(() => sdk.decode(sdk.CertificateCodec, oversize), /signers length 101 exceeds the limit of 13/);
    const badTag = certificate.slice();
    badTag[0] = 3;
    assert.throws(() => sdk.decode(sdk.CertificateCodec, badTag), /unknown Subject variant 3/);
    const badChain = txBytes.slice();
    badChain[4] = 'T'.charCodeAt(0);
    assert.throws(() => sdk.decode(sdk.SignedTransactionCodec, badChain), /chain id `Tally-golden`/);
    const value = sdk.encode(sdk.StateValueCodec, { kind: 'asset', scale: 2, max_supply: null, flags: 0, supply: 1n, minted: 1n, burned: 0n });
    const badOption = value.slice();
    badOption[2] = 2;
    assert.throws(() => sdk.decode(sdk.StateValueCodec, badOption), /invalid option tag 2/);
  });
});
