// Governance encodings against bytes written out by hand from the Rust layout (borsh derive:
// enum = u8 variant index, Option = u8 tag, Vec/BoundedVec/BoundedString/String = u32 LE length
// then items, integers little-endian, keys/hashes/ids/signatures as fixed arrays): the Propose
// and CastVote ops (tags 12 and 13), every Action, the new StateKey and StateValue kinds
// (tags 14..18), the MemberState fields added by governance, proposal outcomes with error codes,
// and applications signed and checked as the ledger checks them. The live test is the
// cross-check against the node itself.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { fromHex, toHex, utf8 } from '../src/bytes.js';

const seed = (byte: number) => new Uint8Array(32).fill(byte);
const issuer = sdk.SecretKey.fromSeed(seed(1));
const consensus = sdk.SecretKey.fromSeed(seed(2));
const network = sdk.SecretKey.fromSeed(seed(3));
const K = (key: sdk.SecretKey) => toHex(key.publicKey);
const id = new Uint8Array(16).fill(0x11);
const ID = '11'.repeat(16);
const hash = new Uint8Array(32).fill(0xcd);

/** Hex of a little-endian unsigned integer of `bytes` bytes. */
function le(value: number | bigint, bytes: number): string {
  let v = BigInt(value);
  let out = '';
  for (let i = 0; i < bytes; i++) {
    out += (v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return out;
}
/** Hex of a borsh string: u32 LE byte length, then UTF-8. */
const str = (text: string) => le(utf8(text).length, 4) + toHex(utf8(text));

function encodeOp(op: sdk.Op): string {
  const w = new sdk.Writer();
  sdk.writeOp(w, op);
  return toHex(w.finish());
}
function decodeOp(hex: string): sdk.Op {
  const r = new sdk.Reader(fromHex(hex, 'op'), 'Op');
  const op = sdk.readOp(r);
  assert.equal(r.remaining(), 0, 'no bytes left after the op');
  return op;
}

const body: sdk.ApplicationBody = {
  chain_id: 'tally-test',
  member: 'umbrella',
  member_name: 'Umbrella',
  issuer: issuer.publicKey,
  asset_code: 'UMB',
  asset_scale: 2,
  validator_name: 'umbrella-0',
  consensus_key: consensus.publicKey,
  network_key: network.publicKey,
  p2p_listen: '/ip4/203.0.113.7/tcp/27000',
  http_listen: '203.0.113.7:28000',
};
const BODY =
  str('tally-test') + str('umbrella') + str('Umbrella') + K(issuer) + str('UMB') + '02' + str('umbrella-0') +
  K(consensus) + K(network) + str('/ip4/203.0.113.7/tcp/27000') + str('203.0.113.7:28000');

function signed(b: sdk.ApplicationBody = body): sdk.SignedApplication {
  return {
    body: b,
    proofs: {
      consensus: sdk.signApplication(b, consensus),
      network: sdk.signApplication(b, network),
      issuer: sdk.signApplication(b, issuer),
    },
  };
}

describe('governance ops', () => {
  it('Propose(SetThreshold 3/4): tag 12, id, action tag 6 with two u16, expiry u64', () => {
    const op = sdk.ops.propose({ action: sdk.actions.setThreshold({ numerator: 3, denominator: 4 }), expiresAtHeight: 1000n, proposalId: id });
    const expected = '0c' + ID + '06' + '0300' + '0400' + 'e803000000000000';
    assert.equal(encodeOp(op), expected);
    assert.deepEqual(decodeOp(expected), op);
  });

  it('CastVote: tag 13, id, bool', () => {
    assert.equal(encodeOp(sdk.ops.castVote({ proposalId: ID, approve: true })), '0d' + ID + '01');
    assert.equal(encodeOp(sdk.ops.castVote({ proposalId: ID, approve: false })), '0d' + ID + '00');
    assert.throws(() => decodeOp('0d' + ID + '02'), /invalid bool value 2/);
    // The price plan ops follow (14 and 15: pricing.test.ts), then settle_app (16) and
    // anchor_achievements (17: facts.test.ts); 18 is past the last.
    assert.throws(() => decodeOp('12'), /unknown Op variant 18/);
  });

  it('a transaction with a Propose: envelope, op list, the signature verifies', () => {
    const key = issuer;
    const op = sdk.ops.propose({ action: sdk.actions.removeMember('globex'), expiresAtHeight: 77n, proposalId: id });
    const tx = sdk.buildTransaction({ chainId: 'tally-test', key, seq: 3n, validUntilHeight: 500n, ops: [op, sdk.ops.castVote({ proposalId: ID, approve: false })] });
    const expected =
      str('tally-test') + K(key) + le(3, 8) + le(500, 8) + le(2, 4) +
      ('0c' + ID + '01' + str('globex') + le(77, 8)) + ('0d' + ID + '00') + le(0, 4);
    assert.equal(toHex(sdk.encode(sdk.TransactionCodec, tx.tx)), expected);
    assert.equal(sdk.checkFormAndSignature(tx), null);
    assert.deepEqual(sdk.decode(sdk.SignedTransactionCodec, sdk.encode(sdk.SignedTransactionCodec, tx)), tx);
  });

  it('every action, in variant order', () => {
    const app = signed();
    const APP = BODY + toHex(app.proofs.consensus) + toHex(app.proofs.network) + '01' + toHex(app.proofs.issuer!);
    const params: sdk.ConsensusParams = { ...sdk.DEFAULT_CONSENSUS_PARAMS, timeout_propose_ms: 800n };
    const cases: [sdk.Action, string][] = [
      [sdk.actions.addMember(app), '00' + APP],
      [sdk.actions.removeMember('globex'), '01' + str('globex')],
      [sdk.actions.addValidator(app), '02' + APP],
      [sdk.actions.removeValidator(consensus.address()), '03' + K(consensus)],
      [sdk.actions.rotateValidatorKey(network.publicKey, app), '04' + K(network) + APP],
      [sdk.actions.setConsensusParams(params), '05' + le(800, 8) + le(1500, 8) + le(30_000, 8) + le(5000, 4) + le(4 * 1024 * 1024, 4)],
      [sdk.actions.setThreshold({ numerator: 1, denominator: 2 }), '06' + '0100' + '0200'],
    ];
    assert.deepEqual(cases.map(([a]) => a.action), [...sdk.ACTION_NAMES]);
    for (const [action, expected] of cases) {
      assert.equal(toHex(sdk.encode(sdk.ActionCodec, action)), expected, action.action);
      assert.deepEqual(sdk.decode(sdk.ActionCodec, fromHex(expected, action.action)), action, action.action);
    }
    // Without the issuer's proof: the option's None.
    const unsigned = { ...app, proofs: { ...app.proofs, issuer: null } };
    assert.equal(toHex(sdk.encode(sdk.SignedApplicationCodec, unsigned)), BODY + toHex(app.proofs.consensus) + toHex(app.proofs.network) + '00');
    assert.throws(() => sdk.decode(sdk.ActionCodec, fromHex('07', 'action')), /unknown Action variant 7/);
  });

  it('builders refuse what the ledger refuses', () => {
    assert.throws(() => sdk.actions.setThreshold({ numerator: 1, denominator: 3 }), /below one half/);
    assert.throws(() => sdk.actions.setThreshold({ numerator: 3, denominator: 3 }), /one or more/);
    assert.throws(() => sdk.actions.setThreshold({ numerator: 1, denominator: 0 }), /denominator is zero/);
    assert.throws(() => sdk.actions.setThreshold({ numerator: 70_000, denominator: 80_000 }), /outside 0..=65535/);
    assert.throws(() => sdk.actions.setConsensusParams({ ...sdk.DEFAULT_CONSENSUS_PARAMS, timeout_notarize_ms: 900n }), /greater than timeout_propose_ms/);
    assert.throws(() => sdk.actions.setConsensusParams({ ...sdk.DEFAULT_CONSENSUS_PARAMS, block_txs_max: 0 }), /block_txs_max/);
    assert.throws(() => sdk.actions.setConsensusParams({ ...sdk.DEFAULT_CONSENSUS_PARAMS, block_bytes_max: 100 }), /block_bytes_max/);
    assert.deepEqual(sdk.consensusParamsProblems(sdk.DEFAULT_CONSENSUS_PARAMS), []);
    assert.throws(() => sdk.actions.removeMember('Globex'), /member/);
    assert.throws(() => sdk.actions.addMember(signed({ ...body, asset_scale: 19 })), /asset scale/);
    assert.throws(() => sdk.actions.addMember(signed({ ...body, validator_name: 'v'.repeat(65) })), /validator name/);
    assert.throws(() => sdk.ops.propose({ action: sdk.actions.removeMember('globex'), expiresAtHeight: -1n }), /expires at height/);
    assert.throws(() => sdk.ops.castVote({ proposalId: 'zz', approve: true }), /proposal id/);
    // The passing rule: more than the threshold's share.
    assert.equal(sdk.thresholdPasses(sdk.DEFAULT_THRESHOLD, 2, 3), false);
    assert.equal(sdk.thresholdPasses(sdk.DEFAULT_THRESHOLD, 3, 4), true);
    assert.equal(sdk.thresholdPasses({ numerator: 3, denominator: 4 }, 3, 4), false);
  });
});

describe('applications', () => {
  it('the signed message is the application namespace, the chain id and the encoded body', () => {
    assert.equal(toHex(sdk.encode(sdk.ApplicationBodyCodec, body)), BODY);
    const message = sdk.applicationSigningBytes(body);
    assert.equal(toHex(message), toHex(utf8('tally/application\0')) + '0a' + toHex(utf8('tally-test')) + BODY);
    assert.equal(sdk.verifyRaw(issuer.publicKey, message, sdk.signApplication(body, issuer)), null);
  });

  it('proofs of possession: all three verify; each tampering is named', () => {
    const app = signed();
    assert.equal(sdk.verifyApplicationProofs(app), null);
    assert.equal(sdk.verifyApplicationProofs({ ...app, proofs: { ...app.proofs, issuer: null } }), 'issuer-unsigned');
    assert.equal(sdk.verifyApplicationProofs({ ...app, proofs: { ...app.proofs, consensus: app.proofs.network } }), 'bad-consensus-proof');
    assert.equal(sdk.verifyApplicationProofs({ ...app, proofs: { ...app.proofs, network: app.proofs.consensus } }), 'bad-network-proof');
    assert.equal(sdk.verifyApplicationProofs({ ...app, proofs: { ...app.proofs, issuer: app.proofs.consensus } }), 'bad-issuer-proof');
    // Signed for another chain: none of the proofs verify here.
    const elsewhere = signed({ ...body, chain_id: 'tally-other' });
    assert.equal(sdk.verifyApplicationProofs({ body, proofs: elsewhere.proofs }), 'bad-consensus-proof');
  });
});

describe('governance state keys and values', () => {
  it('new key kinds: tags 14..18, unit variants are one byte', () => {
    const cases: [sdk.StateKey, string][] = [
      [{ kind: 'governor', account: issuer.publicKey }, '0e' + K(issuer)],
      [{ kind: 'governance' }, '0f'],
      [{ kind: 'validator', consensus_key: consensus.publicKey }, '10' + K(consensus)],
      [{ kind: 'epochs' }, '11'],
      [{ kind: 'proposal', proposal_id: id }, '12' + ID],
    ];
    for (const [key, expected] of cases) {
      assert.equal(toHex(sdk.stateKeyBytes(key)), expected, key.kind);
      assert.deepEqual(sdk.decode(sdk.StateKeyCodec, fromHex(expected, key.kind)), key, key.kind);
    }
    // The price plan kinds follow (19 and 20: pricing.test.ts).
    assert.equal(sdk.ENTRY_KINDS.length, 26);
    assert.throws(() => sdk.decode(sdk.StateKeyCodec, fromHex('1a', 'key')), /unknown StateKey variant 26/);
    assert.throws(() => sdk.decode(sdk.StateKeyCodec, fromHex('0f00', 'key')), /1 trailing bytes/);
  });

  it('member: name, issuers, then the governance key and removed_at', () => {
    const active: sdk.StateValue = { kind: 'member', name: 'Acme', issuers: [issuer.publicKey], governance_key: issuer.publicKey, removed_at: null };
    const ACTIVE = '03' + str('Acme') + le(1, 4) + K(issuer) + K(issuer) + '00';
    assert.equal(toHex(sdk.encode(sdk.StateValueCodec, active)), ACTIVE);
    assert.deepEqual(sdk.decode(sdk.StateValueCodec, fromHex(ACTIVE, 'member')), active);
    const removed: sdk.StateValue = { ...active, removed_at: 7n };
    assert.equal(toHex(sdk.encode(sdk.StateValueCodec, removed)), ACTIVE.slice(0, -2) + '01' + le(7, 8));
    // The pre-governance layout (no governance key, no removed_at) is now short.
    const old = '03' + str('Acme') + le(1, 4) + K(issuer);
    assert.throws(() => sdk.decode(sdk.StateValueCodec, fromHex(old, 'member')), /unexpected end of input/);
    assert.throws(() => sdk.decode(sdk.StateValueCodec, fromHex(ACTIVE.slice(0, -2) + '02', 'member')), /invalid option tag 2/);
  });

  it('governor, governance, validator, epochs', () => {
    const epoch = (number: bigint, start: bigint): sdk.EpochConfig => ({
      number,
      start_height: start,
      validators: [consensus.publicKey, network.publicKey],
      params: sdk.DEFAULT_CONSENSUS_PARAMS,
    });
    const EPOCH = (number: number, start: number) =>
      le(number, 8) + le(start, 8) + le(2, 4) + K(consensus) + K(network) + le(1000, 8) + le(1500, 8) + le(30_000, 8) + le(5000, 4) + le(4194304, 4);
    const cases: [sdk.StateValue, string][] = [
      [{ kind: 'governor', member: 'acme' }, '0e' + str('acme')],
      [{ kind: 'governance', threshold: { numerator: 2, denominator: 3 }, active_members: 3 }, '0f' + '0200' + '0300' + le(3, 4)],
      [
        { kind: 'validator', member: 'acme', name: 'validator-0', network_key: network.publicKey, p2p_listen: '/ip4/127.0.0.1/tcp/29000', http_listen: '127.0.0.1:30000' },
        '10' + str('acme') + str('validator-0') + K(network) + str('/ip4/127.0.0.1/tcp/29000') + str('127.0.0.1:30000'),
      ],
      [{ kind: 'epochs', current: epoch(0n, 1n), pending: [] }, '11' + EPOCH(0, 1) + le(0, 4)],
      [{ kind: 'epochs', current: epoch(0n, 1n), pending: [epoch(1n, 9n), epoch(2n, 10n)] }, '11' + EPOCH(0, 1) + le(2, 4) + EPOCH(1, 9) + EPOCH(2, 10)],
    ];
    for (const [value, expected] of cases) {
      assert.equal(toHex(sdk.encode(sdk.StateValueCodec, value)), expected, value.kind);
      assert.deepEqual(sdk.decode(sdk.StateValueCodec, fromHex(expected, value.kind)), value, value.kind);
    }
    // At most two pending epochs: the length is refused before the items are read.
    assert.throws(() => sdk.decode(sdk.StateValueCodec, fromHex('11' + EPOCH(0, 1) + le(3, 4), 'epochs')), /pending epochs length 3 exceeds the limit of 2/);
    // A validator name is at most 64 bytes.
    assert.throws(() => sdk.decode(sdk.StateValueCodec, fromHex('10' + str('acme') + le(65, 4) + '61'.repeat(65), 'validator')), /validator name length 65/);
  });

  it('proposal: action, heights, votes, outcome (failed carries the error code), tx id', () => {
    const proposal: Extract<sdk.StateValue, { kind: 'proposal' }> = {
      kind: 'proposal',
      proposer: 'acme',
      action: { action: 'set_threshold', threshold: { numerator: 3, denominator: 4 } },
      height: 5n,
      expires_at_height: 1005n,
      votes: [
        { member: 'acme', approve: true, height: 5n },
        { member: 'globex', approve: false, height: 6n },
      ],
      outcome: { status: 'open' },
      tx_id: hash,
    };
    const head = '12' + str('acme') + '06' + '0300' + '0400' + le(5, 8) + le(1005, 8) + le(2, 4) + str('acme') + '01' + le(5, 8) + str('globex') + '00' + le(6, 8);
    const outcomes: [sdk.ProposalOutcome, string][] = [
      [{ status: 'open' }, '00'],
      [{ status: 'passed', height: 8n }, '01' + le(8, 8)],
      [{ status: 'rejected', height: 8n }, '02' + le(8, 8)],
      // bad_threshold is ErrorCode variant 53 (0x35): 39 codes before governance, then 14 more.
      [{ status: 'failed', height: 8n, code: 'bad_threshold' }, '03' + le(8, 8) + '35'],
    ];
    for (const [outcome, bytes] of outcomes) {
      const value: sdk.StateValue = { ...proposal, outcome };
      const expected = head + bytes + toHex(hash);
      assert.equal(toHex(sdk.encode(sdk.StateValueCodec, value)), expected, outcome.status);
      assert.deepEqual(sdk.decode(sdk.StateValueCodec, fromHex(expected, outcome.status)), value, outcome.status);
    }
    assert.throws(() => sdk.decode(sdk.StateValueCodec, fromHex(head + '04' + toHex(hash), 'proposal')), /unknown ProposalOutcome variant 4/);
  });

  it('error codes: the governance codes follow the badge codes, in the Rust order', () => {
    assert.equal(sdk.ERROR_CODES.indexOf('badge_already_revoked'), 38);
    assert.deepEqual(sdk.ERROR_CODES.slice(39, 56), [
      'not_member', 'duplicate_proposal', 'bad_proposal_expiry', 'unknown_proposal', 'proposal_closed', 'proposal_expired',
      'already_voted', 'application_wrong_chain', 'bad_proof_of_possession', 'member_exists', 'key_in_use',
      'unknown_validator', 'validator_count_out_of_range', 'bad_consensus_params', 'bad_threshold', 'issuer_not_of_member',
      'bad_application',
    ]);
    const receipt: sdk.Receipt = { tx_id: hash, outcome: { status: 'failed', op_index: 0, code: 'proposal_closed' }, fills: [] };
    assert.equal(toHex(sdk.encode(sdk.ReceiptCodec, receipt)), toHex(hash) + '01' + '00' + '2b' + le(0, 4));
  });
});
