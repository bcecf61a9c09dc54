// Every value of the Rust golden vectors (node/types/tests/golden/vectors.json and wire.json)
// reproduced byte for byte: keys and addresses from seeds, transactions built and signed from
// scratch, receipts, headers, blocks, proposals, votes, certificates, Merkle proofs, wire
// messages; each decoded strictly, re-encoded, and every derived id, hash and signature recomputed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { fromHex, toHex, utf8 } from '../src/bytes.js';
import { readJson } from './support.js';

interface KeyVector { name: string; seed: string; public_key: string; address: string }
interface ValueVector { name: string; type_name: string; bytes: string; derived: Record<string, string> }
interface Vectors { chain_id: string; keys: KeyVector[]; values: ValueVector[] }

const vectors = readJson<Vectors>('node/types/tests/golden/vectors.json');
const wire = readJson<Vectors>('node/types/tests/golden/wire.json');
const chain = vectors.chain_id;

function vector(set: Vectors, name: string): ValueVector {
  const found = set.values.find((v) => v.name === name);
  assert.ok(found, `vector ${name} is in the file`);
  return found;
}

const seed = (byte: number) => new Uint8Array(32).fill(byte);
const issuer = sdk.SecretKey.fromSeed(seed(1));
const alice = sdk.SecretKey.fromSeed(seed(2));
const bob = sdk.SecretKey.fromSeed(seed(3));
const validators = [11, 12, 13, 14].map((b) => sdk.SecretKey.fromSeed(seed(b)));
const set = sdk.validatorSet(validators.map((v) => v.publicKey));

/** Decodes `v.bytes` strictly with `codec`, checks the re-encoding, returns the value. */
function roundTrip<T>(codec: sdk.Codec<T>, v: ValueVector): T {
  const bytes = fromHex(v.bytes, v.name);
  const value = sdk.decode(codec, bytes);
  assert.equal(toHex(sdk.encode(codec, value)), v.bytes, `${v.name} re-encodes to the same bytes`);
  return value;
}

describe('golden vectors: keys and addresses', () => {
  it('derives every public key and address from its seed', () => {
    assert.equal(vectors.keys.length, 7);
    for (const k of vectors.keys) {
      const key = sdk.SecretKey.fromHex(k.seed);
      assert.equal(toHex(key.publicKey), k.public_key, `${k.name} public key`);
      assert.equal(key.address(), k.address, `${k.name} address`);
      assert.equal(toHex(sdk.parseAddress(k.address)), k.public_key, `${k.name} address parses back`);
      assert.equal(toHex(sdk.parsePublicKey(k.public_key)), k.public_key, `${k.name} hex parses`);
    }
  });
});

describe('golden vectors: transactions built and signed in TypeScript', () => {
  const acme = 'ACME@acme';
  const badges = ['{"badge":"first-commit"}', '{"badge":"client-library"}', '{"badge":"speaker"}'].map((t) =>
    sdk.plainHash(utf8(t)),
  );
  const batchRoot = sdk.rootOfLeafHashes(badges.map(sdk.merkleLeaf));

  const mainTx: sdk.Transaction = {
    chain_id: chain,
    signer: issuer.publicKey,
    seq: 1n,
    valid_until_height: 100n,
    ops: [
      { op: 'issue_asset', code: 'ACME', scale: 2, max_supply: 100_000_000n, flags: 0 },
      {
        op: 'grant',
        grant_id: sdk.parseOpId('67e55044-10b1-426f-9247-bb680e5fe0c8'),
        asset: acme,
        to: alice.publicKey,
        amount: 2_500n,
        kind: 'reward',
        reason: { other: 'conference talk' },
        external_ref: 'ticket-4711',
        pack: null,
      },
      { op: 'transfer', asset: acme, to: bob.publicKey, amount: 100n },
      {
        op: 'place_offer',
        offer_id: new Uint8Array(16).fill(0x0f),
        sell: acme,
        buy: 'BETA@beta-labs',
        amount: 500n,
        price: { numerator: 3n, denominator: 2n },
        mode: 'immediate_or_cancel',
      },
      {
        op: 'anchor_badges',
        batch_root: batchRoot,
        leaf_count: 3,
        format: 'open_badges3',
        canon: 'jcs-blake3',
        metadata_uri: 'https://badges.acme.example/batches/1',
      },
    ],
    memo: utf8('golden vector'),
  };
  const otherTx: sdk.Transaction = {
    chain_id: chain,
    signer: alice.publicKey,
    seq: 7n,
    valid_until_height: (1n << 64n) - 1n,
    ops: [
      { op: 'burn', asset: acme, amount: 7n },
      {
        op: 'authorize_spend',
        provider: 'acme',
        asset: acme,
        cap: 1_000n,
        expires_at_ms: 1_767_312_000_000n,
        plan: { plan_id: 'standard', version: 2 },
      },
      {
        op: 'hold',
        hold_id: new Uint8Array(16).fill(0x1a),
        holder: alice.publicKey,
        asset: acme,
        amount: 300n,
        expires_at_ms: 1_767_229_200_000n,
      },
      {
        op: 'settle',
        hold_id: new Uint8Array(16).fill(0x1a),
        batch_id: new Uint8Array(16).fill(0x2b),
        amount: 250n,
        usage_root: sdk.plainHash(utf8('usage records')),
        lines: [
          { item: 'search.query', units: 120n },
          { item: 'tokens.output', units: 65_536n },
        ],
      },
      { op: 'void', hold_id: new Uint8Array(16).fill(0x3c) },
      { op: 'cancel_offer', offer_id: new Uint8Array(16).fill(0x0f) },
      { op: 'revoke_badge', badge_hash: badges[2]!, reason: 'issued in error' },
      { op: 'publish_plan', plan: goldenPlan(acme) },
      { op: 'retire_plan', plan: { plan_id: 'standard', version: 1 } },
      {
        op: 'grant',
        grant_id: new Uint8Array(16).fill(0x4d),
        asset: acme,
        to: alice.publicKey,
        amount: 100_000n,
        kind: 'purchase',
        reason: null,
        external_ref: 'order-1001',
        pack: { plan: { plan_id: 'standard', version: 2 }, pack: 'starter' },
      },
    ],
    memo: new Uint8Array(0),
  };

  for (const [name, tx, key] of [
    ['signed_transaction_main', mainTx, issuer],
    ['signed_transaction_other_ops', otherTx, alice],
  ] as const) {
    it(`${name}: bytes, body, id and signature`, () => {
      const v = vector(vectors, name);
      const signed = sdk.signTransaction(tx, key);
      assert.equal(toHex(sdk.encode(sdk.SignedTransactionCodec, signed)), v.bytes, 'signed bytes');
      assert.equal(toHex(sdk.encode(sdk.TransactionCodec, tx)), v.derived['transaction_bytes'], 'body bytes');
      assert.equal(sdk.txIdHex(signed), v.derived['tx_id'], 'tx id');
      assert.equal(toHex(signed.signature), v.derived['signature'], 'signature');
      const decoded = roundTrip(sdk.SignedTransactionCodec, v);
      assert.deepEqual(decoded, signed, 'decodes to the built value');
      assert.equal(sdk.checkFormAndSignature(decoded), null, 'signature verifies');
      const body = sdk.decode(sdk.TransactionCodec, fromHex(v.derived['transaction_bytes']!, 'body'));
      assert.deepEqual(body, tx);
    });
  }
});

describe('golden vectors: receipts, validator set, header, block', () => {
  it('receipts decode and hash', () => {
    for (const name of ['receipt_with_fill', 'receipt_failed']) {
      const v = vector(vectors, name);
      const receipt = roundTrip(sdk.ReceiptCodec, v);
      assert.equal(toHex(sdk.receiptHash(receipt)), v.derived['receipt_hash'], name);
    }
    const failed = sdk.decode(sdk.ReceiptCodec, fromHex(vector(vectors, 'receipt_failed').bytes, 'receipt'));
    assert.deepEqual(failed.outcome, { status: 'failed', op_index: 2, code: 'no_authorization' });
  });

  it('validator set decodes, is the four validator keys, and hashes', () => {
    const v = vector(vectors, 'validator_set');
    const decoded = roundTrip(sdk.ValidatorSetCodec, v);
    assert.deepEqual(decoded.keys.map(toHex), set.keys.map(toHex));
    assert.equal(toHex(sdk.validatorsHash(set)), v.derived['validators_hash']);
    assert.equal(sdk.quorum(set), 3);
  });

  it('header and block: ids, tx root, receipts root', () => {
    const header = roundTrip(sdk.HeaderCodec, vector(vectors, 'header'));
    assert.equal(toHex(sdk.blockId(header)), vector(vectors, 'header').derived['block_id']);
    const v = vector(vectors, 'block');
    const block = roundTrip(sdk.BlockCodec, v);
    assert.equal(toHex(sdk.blockId(block)), v.derived['block_id']);
    const ids = block.txs.map((tx) => sdk.txId(tx));
    assert.equal(toHex(sdk.txRoot(ids)), v.derived['tx_root']);
    assert.equal(toHex(block.header.tx_root), v.derived['tx_root']);
    const receipts = ['receipt_with_fill', 'receipt_failed'].map((n) =>
      sdk.decode(sdk.ReceiptCodec, fromHex(vector(vectors, n).bytes, n)),
    );
    assert.equal(toHex(sdk.receiptsRoot(receipts)), v.derived['receipts_root']);
    assert.equal(toHex(block.header.validators_hash), toHex(sdk.validatorsHash(set)));
  });
});

describe('golden vectors: consensus messages', () => {
  it('proposal: the leader signature is reproduced and verifies', () => {
    const v = vector(vectors, 'proposal');
    const proposal = roundTrip(sdk.ProposalCodec, v);
    const leaderKey = validators[sdk.leader(set, proposal.view)]!;
    const payload = sdk.proposalPayload(proposal.view, proposal.parent_view, sdk.blockId(proposal.block));
    assert.equal(toHex(leaderKey.sign('proposal', chain, payload)), v.derived['signature']);
    sdk.verifyProposal(proposal, chain, set);
  });

  for (const name of ['vote_notarize', 'vote_nullify', 'vote_finalize']) {
    it(`${name}: signing message and signature`, () => {
      const v = vector(vectors, name);
      const vote = roundTrip(sdk.VoteCodec, v);
      const message = sdk.signingMessage(vote.subject.kind, chain, sdk.encode(sdk.SubjectCodec, vote.subject));
      assert.equal(toHex(message), v.derived['signing_message']);
      assert.equal(toHex(sdk.signSubject(vote.subject, chain, validators[vote.signer]!)), v.derived['signature']);
      sdk.verifyVote(vote, chain, set);
    });
  }

  it('finalization certificate: built from votes in any order, bitmap, verifies', () => {
    const v = vector(vectors, 'certificate_finalization');
    const certificate = roundTrip(sdk.CertificateCodec, v);
    assert.equal(toHex(certificate.signers), v.derived['signers']);
    const subject = certificate.subject;
    const built = sdk.certificateFromVotes(
      subject,
      [3, 0, 2].map((signer) => ({ signer, signature: sdk.signSubject(subject, chain, validators[signer]!) })),
      4,
    );
    assert.equal(toHex(sdk.encode(sdk.CertificateCodec, built)), v.bytes);
    sdk.verifyCertificate(certificate, chain, set);
  });

  it('badge Merkle proof leads to the batch root', () => {
    const v = vector(vectors, 'merkle_proof_badge');
    const proof = roundTrip(sdk.MerkleProofCodec, v);
    const badge = fromHex(v.derived['badge_hash']!, 'badge hash');
    assert.equal(toHex(badge), toHex(sdk.plainHash(utf8('{"badge":"client-library"}'))));
    sdk.verifyMerkleProof(proof, sdk.merkleLeaf(badge), fromHex(v.derived['batch_root']!, 'root'));
    const leaves = ['{"badge":"first-commit"}', '{"badge":"client-library"}', '{"badge":"speaker"}'].map((t) =>
      sdk.merkleLeaf(sdk.plainHash(utf8(t))),
    );
    assert.deepEqual(sdk.merkleProve(leaves, 1), proof);
  });
});

describe('golden vectors: wire messages', () => {
  it('every wire message decodes, re-encodes and hashes', () => {
    const codecs: Record<string, sdk.Codec<unknown>> = {
      TxBatch: sdk.TxBatchCodec as sdk.Codec<unknown>,
      BlockRequest: sdk.BlockRequestCodec as sdk.Codec<unknown>,
      CommittedBlock: sdk.CommittedBlockCodec as sdk.Codec<unknown>,
      BlockResponse: sdk.BlockResponseCodec as sdk.Codec<unknown>,
    };
    assert.equal(wire.values.length, 7);
    for (const v of wire.values) {
      const codec = codecs[v.type_name];
      assert.ok(codec, `a codec for ${v.type_name}`);
      roundTrip(codec, v);
      assert.equal(toHex(sdk.plainHash(fromHex(v.bytes, v.name))), v.derived['bytes_blake3'], v.name);
    }
  });

  it('ids inside the wire messages', () => {
    const batch = sdk.decode(sdk.TxBatchCodec, fromHex(vector(wire, 'tx_batch').bytes, 'batch'));
    assert.equal(sdk.txIdHex(batch[0]!), vector(wire, 'tx_batch').derived['tx_id_0']);
    assert.equal(sdk.txIdHex(batch[1]!), vector(wire, 'tx_batch').derived['tx_id_1']);
    for (const tx of batch) assert.equal(sdk.checkFormAndSignature(tx), null);
    const committed = sdk.decode(sdk.CommittedBlockCodec, fromHex(vector(wire, 'committed_block').bytes, 'block'));
    const d = vector(wire, 'committed_block').derived;
    assert.equal(toHex(sdk.blockId(committed.block)), d['block_id']);
    assert.equal(toHex(committed.certificate.signers), d['signers']);
    assert.equal(toHex(sdk.txRoot(committed.block.txs.map((tx) => sdk.txId(tx)))), d['tx_root']);
    const range = sdk.decode(sdk.BlockResponseCodec, fromHex(vector(wire, 'block_response_range').bytes, 'range'));
    const r = vector(wire, 'block_response_range').derived;
    range.forEach((item, i) => {
      assert.equal(toHex(sdk.blockId(item.block)), r[`block_${i}_block_id`]);
      assert.equal(toHex(item.certificate.signers), r[`block_${i}_signers`]);
      assert.equal(toHex(item.block.header.tx_root), r[`block_${i}_tx_root`]);
    });
    assert.equal(range.length, 2);
  });
});

/** The price plan of node/types/tests/golden.rs `golden_plan`. */
function goldenPlan(asset: string): sdk.PricePlan {
  const nanos = (minor: bigint, billionths = 0n) => minor * sdk.NANOS_PER_MINOR + billionths;
  return {
    plan_id: 'standard',
    version: 2,
    asset,
    title: 'Standard: pay as you go',
    items: [
      {
        item: 'search.query',
        included_per_hold: 1_000n,
        tiers: [
          { up_to: 1_000_000n, unit_price: nanos(2n) },
          { up_to: null, unit_price: nanos(1n, 500_000_000n) },
        ],
      },
      { item: 'tokens.output', included_per_hold: 0n, tiers: [{ up_to: null, unit_price: nanos(0n, 2_000_000n) }] },
    ],
    packs: [
      { name: 'large', credits: 1_000_000n, price: { currency: 'USD', amount: 9_000n, scale: 2 } },
      { name: 'starter', credits: 100_000n, price: { currency: 'USD', amount: 1_000n, scale: 2 } },
    ],
  };
}
