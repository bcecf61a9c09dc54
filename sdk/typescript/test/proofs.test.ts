// Merkle and sparse-Merkle proofs (trees built by hand from the hashing rules, as the Rust unit
// tests do), certificates (quorum, bitmap, signatures) and finality through a descendant with
// the child rules checked on the way.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { toHex, utf8 } from '../src/bytes.js';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => sdk.merkleLeaf(utf8(`leaf ${i}`)));

describe('binary Merkle proofs', () => {
  it('every proof verifies for sizes 1 to 40; the wrong leaf or root does not', () => {
    for (let n = 1; n <= 40; n++) {
      const l = leaves(n);
      const root = sdk.rootOfLeafHashes(l);
      for (let i = 0; i < n; i++) {
        const proof = sdk.merkleProve(l, i);
        sdk.verifyMerkleProof(proof, l[i]!, root);
        assert.throws(() => sdk.verifyMerkleProof(proof, sdk.merkleLeaf(utf8('other')), root), /proof leads to root/);
      }
    }
  });

  it('RFC 9162 shape, empty root, malformed proofs', () => {
    const l = leaves(3);
    assert.equal(toHex(sdk.rootOfLeafHashes(l)), toHex(sdk.merkleNode(sdk.merkleNode(l[0]!, l[1]!), l[2]!)));
    assert.equal(toHex(sdk.emptyRoot()), toHex(sdk.plainHash(new Uint8Array(0))));
    const five = leaves(5);
    const root = sdk.rootOfLeafHashes(five);
    assert.throws(() => sdk.verifyMerkleProof({ ...sdk.merkleProve(five, 4), index: 5n }, five[4]!, root), /outside a tree of 5 leaves/);
    const long = sdk.merkleProve(five, 4);
    assert.throws(() => sdk.verifyMerkleProof({ ...long, siblings: [...long.siblings, new Uint8Array(32)] }, five[4]!, root), /needs 1/);
    const short = sdk.merkleProve(five, 1);
    assert.throws(() => sdk.verifyMerkleProof({ ...short, siblings: short.siblings.slice(0, 1) }, five[1]!, root), /needs 3/);
  });
});

describe('sparse Merkle proofs', () => {
  const key = (first: number, rest: number) => {
    const bytes = new Uint8Array(32).fill(rest);
    bytes[0] = first;
    return bytes;
  };
  const value = (tag: number) => sdk.domainHash('stateValue', new Uint8Array([tag]));
  // a = 0b00.., b = 0b01.., c = 0b1..: root = node(node(leaf a, leaf b), leaf c).
  const a = { key: key(0b0000_0000, 1), value_hash: value(1) };
  const b = { key: key(0b0100_0000, 2), value_hash: value(2) };
  const c = { key: key(0b1000_0000, 3), value_hash: value(3) };
  const la = sdk.smtLeafHash(a.key, a.value_hash);
  const lb = sdk.smtLeafHash(b.key, b.value_hash);
  const lc = sdk.smtLeafHash(c.key, c.value_hash);
  const root = sdk.smtNodeHash(sdk.smtNodeHash(la, lb), lc);

  it('membership of each leaf', () => {
    sdk.verifySmtProof({ leaf: a, siblings: [lc, lb] }, root, a.key, a.value_hash);
    sdk.verifySmtProof({ leaf: b, siblings: [lc, la] }, root, b.key, b.value_hash);
    sdk.verifySmtProof({ leaf: c, siblings: [sdk.smtNodeHash(la, lb)] }, root, c.key, c.value_hash);
    assert.throws(() => sdk.verifySmtProof({ leaf: a, siblings: [lc, lb] }, root, a.key, value(9)), /present with value hash/);
    assert.throws(() => sdk.verifySmtProof({ leaf: a, siblings: [lc, lb] }, root, a.key, null), /expected it absent/);
  });

  it('non-membership beside a leaf, and refused shapes', () => {
    const absent = key(0b1100_0000, 7);
    // The path of 0b11.. ends at c's position (depth 1), which holds c alone.
    sdk.verifySmtProof({ leaf: c, siblings: [sdk.smtNodeHash(la, lb)] }, root, absent, null);
    assert.throws(() => sdk.verifySmtProof({ leaf: c, siblings: [sdk.smtNodeHash(la, lb)] }, root, absent, value(3)), /key is absent/);
    assert.throws(() => sdk.computeSmtRoot({ leaf: c, siblings: [new Uint8Array(32)] }, c.key), /not canonical/);
    assert.throws(() => sdk.computeSmtRoot({ leaf: a, siblings: [lc, lb] }, key(0b0100_0000, 9)), /shares 1 bits with the key, but sits at depth 2/);
    assert.throws(() => sdk.verifySmtProof({ leaf: a, siblings: [lc, lb] }, lc, a.key, a.value_hash), /leads to root/);
    sdk.verifySmtProof({ leaf: null, siblings: [] }, new Uint8Array(32), a.key, null);
    assert.equal(sdk.commonPrefixBits(new Uint8Array(32), key(0b0000_0001, 0)), 7);
  });

  it('state proof codec round trip and state key hashing', () => {
    const proof = { leaf: a, siblings: [lc, lb] };
    assert.deepEqual(sdk.decode(sdk.SmtProofCodec, sdk.encode(sdk.SmtProofCodec, proof)), proof);
    const account = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(4)).publicKey;
    const k: sdk.StateKey = { kind: 'balance', account, asset: 'ACME@acme' };
    assert.equal(toHex(sdk.stateKeyHash(k)), toHex(sdk.domainHash('stateKey', sdk.stateKeyBytes(k))));
    assert.deepEqual(sdk.decode(sdk.StateKeyCodec, sdk.stateKeyBytes(k)), k);
  });
});

describe('certificates and finality', () => {
  const chainId = 'tally-proofs-unit';
  const keys = [21, 22, 23, 24].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)));
  const set = sdk.validatorSet(keys.map((k) => k.publicKey));
  const trust: sdk.Trust = { chainId, validators: set, minStateHeight: 0n };
  const genesis = sdk.plainHash(utf8('genesis'));

  function chain(edit: (h: sdk.Header) => void = () => {}) {
    const blocks: sdk.Block[] = [];
    let parent = { id: genesis, height: 0n, time_ms: 1_000n };
    for (let view = 1n; view <= 2n; view++) {
      const header: sdk.Header = {
        chain_id: chainId,
        height: parent.height + 1n,
        view,
        parent_id: parent.id,
        time_ms: parent.time_ms + 1_000n,
        proposer: 0,
        tx_root: sdk.txRoot([]),
        receipts_root: sdk.receiptsRoot([]),
        state_root: sdk.plainHash(utf8('state')),
        validators_hash: sdk.validatorsHash(set),
      };
      if (view === 2n) edit(header);
      blocks.push({ header, txs: [] });
      parent = sdk.parentLinkOf(header);
    }
    const subject: sdk.Subject = { kind: 'finalize', view: 2n, block_id: sdk.blockId(blocks[1]!) };
    const votes = [0, 1, 2].map((signer) => ({ signer, signature: sdk.signSubject(subject, chainId, keys[signer]!) }));
    const certificate = sdk.certificateFromVotes(subject, votes, 4);
    const source: sdk.ChainSource = {
      getBlock: async (h) => blocks[Number(h) - 1] ?? null,
      getCertificate: async (h) => (h >= 1n && h <= 2n ? certificate : null),
    };
    return { blocks, certificate, source };
  }

  it('a certificate needs the right bitmap, a quorum and valid signatures', () => {
    const { certificate } = chain();
    sdk.verifyCertificate(certificate, chainId, set);
    assert.throws(() => sdk.verifyCertificate(certificate, 'tally-other', set), /signature of validator 0 does not verify/);
    const two = { ...certificate, signers: new Uint8Array([0b0011]), signatures: certificate.signatures.slice(0, 2) };
    assert.throws(() => sdk.verifyCertificate(two, chainId, set), /2 signatures; a quorum of 3 is needed/);
    assert.throws(() => sdk.verifyCertificate({ ...certificate, signers: new Uint8Array([7, 0]) }, chainId, set), /bitmap is 2 bytes; 1 expected/);
    assert.throws(() => sdk.verifyCertificate({ ...certificate, signers: new Uint8Array([0b10111]) }, chainId, set), /bit 4, beyond the last validator/);
    assert.throws(() => sdk.verifyCertificate({ ...certificate, signers: new Uint8Array([0b1111]) }, chainId, set), /4 signers in the bitmap but 3 signatures/);
    const swapped = { ...certificate, signatures: [certificate.signatures[1]!, certificate.signatures[0]!, certificate.signatures[2]!] };
    assert.throws(() => sdk.verifyCertificate(swapped, chainId, set), /validator 0 does not verify/);
  });

  it('block 1 is final through block 2, whose header must be its child', async () => {
    const good = chain();
    const finalized = await sdk.verifyFinality(good.source, trust, good.blocks[0]!);
    assert.equal(finalized.certifiedHeight, 2n);
    assert.equal(finalized.signers, 3);
    const cases: [string, (h: sdk.Header) => void][] = [
      ['parent_id', (h) => (h.parent_id = new Uint8Array(32).fill(7))],
      ['time_ms', (h) => (h.time_ms = 2_000n)],
      ['height', (h) => (h.height = 3n)],
      ['validators_hash', (h) => (h.validators_hash = new Uint8Array(32).fill(8))],
    ];
    for (const [field, edit] of cases) {
      const broken = chain(edit);
      await assert.rejects(sdk.verifyFinality(broken.source, trust, broken.blocks[0]!), (error: unknown) => {
        assert.ok(error instanceof sdk.VerifyError, String(error));
        assert.equal(error.kind, `header:${field}`, error.message);
        assert.match(error.message, /^block 2, on the way to the certified block/);
        return true;
      });
    }
  });

  it('another validator set or chain is not final; a missing descendant is named', async () => {
    const good = chain();
    const other = sdk.validatorSet([31, 32, 33, 34].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)).publicKey));
    await assert.rejects(sdk.verifyFinality(good.source, { ...trust, validators: other }, good.blocks[0]!), /names validator set/);
    await assert.rejects(sdk.verifyFinality(good.source, { ...trust, chainId: 'tally-other' }, good.blocks[0]!), /names chain `tally-proofs-unit`/);
    const gap: sdk.ChainSource = { ...good.source, getBlock: async () => null };
    await assert.rejects(sdk.verifyFinality(gap, trust, good.blocks[0]!), /the chain ends before it/);
  });
});

describe('transaction inclusion', () => {
  it('checks the id, the tx root, the receipt and the receipts root against the header', () => {
    const chainId = 'tally-inclusion';
    const key = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(41));
    const txs = [1n, 2n, 3n].map((seq) =>
      sdk.buildTransaction({ chainId, key, seq, validUntilHeight: 9n, ops: [sdk.ops.burn({ asset: 'ACME@acme', amount: seq })] }),
    );
    const ids = txs.map((tx) => sdk.txId(tx));
    const receipts: sdk.Receipt[] = ids.map((id) => ({ tx_id: id, outcome: { status: 'success' }, fills: [] }));
    const header: sdk.Header = {
      chain_id: chainId, height: 5n, view: 7n, parent_id: new Uint8Array(32), time_ms: 1n, proposer: 0,
      tx_root: sdk.txRoot(ids), receipts_root: sdk.receiptsRoot(receipts), state_root: new Uint8Array(32), validators_hash: new Uint8Array(32),
    };
    const proofJson = (p: sdk.MerkleProof) => ({ index: Number(p.index), leaf_count: Number(p.leaf_count), siblings: p.siblings.map(toHex) });
    const evidence = (i: number): sdk.TxEvidence => ({
      tx_id: toHex(ids[i]!),
      height: 5,
      index: i,
      tx: toHex(sdk.encode(sdk.SignedTransactionCodec, txs[i]!)),
      tx_proof: proofJson(sdk.merkleProve(ids.map((id) => sdk.merkleLeaf(id)), i)),
      receipt: { tx_id: toHex(ids[i]!), outcome: { status: 'success' }, fills: [] },
      receipt_proof: proofJson(sdk.merkleProve(receipts.map((r) => sdk.merkleLeaf(sdk.receiptHash(r))), i)),
    });
    const included = sdk.verifyTxInclusion(header, ids[1]!, evidence(1));
    assert.equal(included.index, 1);
    assert.throws(() => sdk.verifyTxInclusion({ ...header, tx_root: sdk.txRoot(ids.slice(0, 2)) }, ids[1]!, evidence(1)), /the tx root the inclusion proof leads to/);
    assert.throws(() => sdk.verifyTxInclusion({ ...header, height: 6n }, ids[1]!, evidence(1)), /the transaction's height/);
    assert.throws(() => sdk.verifyTxInclusion(header, ids[1]!, { ...evidence(1), tx: evidence(2).tx }), /the id of the transaction bytes/);
    const failed = { ...evidence(1), receipt: { tx_id: toHex(ids[1]!), outcome: { status: 'failed' as const, op_index: 0, code: 'insufficient_balance' }, fills: [] } };
    assert.throws(() => sdk.verifyTxInclusion(header, ids[1]!, failed), /the receipts root the receipt proof leads to/);
    assert.throws(() => sdk.verifyTxInclusion(header, ids[1]!, { ...evidence(1), index: 2 }), /the proofs are for positions 1 and 1, the transaction is at 2/);
  });
});
