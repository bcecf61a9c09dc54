// Against a live local network: a transfer built and signed by the SDK is submitted, followed to
// its commit, and verified in TypeScript (the block's finalization certificate against the
// genesis validators, the tx and receipt inclusion proofs, the recipient's balance by a state
// proof, and an absent balance by a non-membership proof); a batch is submitted as borsh; and
// tampered evidence is refused. Run with `npm run test:live`; binaries from TALLY_BIN_DIR
// (default ../../target/release).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as sdk from '../src/index.js';
import { packageRoot, readRepoFile } from '../test/support.js';
import { binDir, readText, startLocalNet, type LocalNet } from './localnet.js';

const WAIT_MS = 90_000;

async function waitForHeight(urls: string[], height: bigint): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const heights = await Promise.all(
      urls.map((url) =>
        new sdk.TallyClient(url, { timeoutMs: 2_000 })
          .getStatus()
          .then((s) => sdk.toBigInt(s.committed_height, 'height'))
          .catch(() => -1n),
      ),
    );
    if (heights.every((h) => h >= height)) return;
    if (Date.now() > deadline) throw new Error(`the nodes did not reach height ${height} within ${WAIT_MS} ms (heights ${heights.join(', ')})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('live 4-validator network', { timeout: 240_000 }, () => {
  let net: LocalNet;
  let failed = false;
  let client: sdk.TallyClient;
  let reader: sdk.TallyClient;
  let trust: sdk.Trust;
  let issuer: sdk.SecretKey;
  const recipient = sdk.SecretKey.generate();
  const ACME = 'ACME@acme';

  before(async () => {
    net = await startLocalNet(binDir(packageRoot));
    try {
      await waitForHeight(net.urls, 2n);
    } catch (error) {
      failed = true;
      throw error;
    }
    client = new sdk.TallyClient(net.urls[0]!);
    reader = new sdk.TallyClient(net.urls[2]!);
    trust = sdk.trustFromGenesis(readText(net.genesisPath));
    issuer = sdk.SecretKey.fromHex(readText(net.issuerKeyPath('acme')));
  });

  after(async () => {
    if (net !== undefined) {
      await net.stop(failed);
      if (failed) console.error(`kept ${net.dir} for its logs`);
    }
  });

  it('the genesis validator set is the one the node reports', async () => {
    const validators = await client.getValidators();
    assert.equal(validators.validators_hash, sdk.toHex(sdk.validatorsHash(trust.validators)));
    assert.equal(validators.quorum, 3);
  });

  it('submits an SDK-signed transfer, follows it to commit and verifies it', async (t) => {
    try {
      const amount = sdk.parseAmount('12.5', 2);
      const tx = await sdk.prepareTransaction(client, issuer, [sdk.ops.transfer({ asset: ACME, to: recipient.address(), amount })], {
        memo: 'sdk live test',
      });
      const submitted = await client.submit(tx);
      assert.equal(submitted.tx_id, sdk.txIdHex(tx), 'the node computes the same tx id');
      const inclusion = await reader.waitForCommit(submitted.tx_id, { timeoutMs: WAIT_MS });
      assert.equal(inclusion.receipt.outcome.status, 'success');

      // Independently of the node: the block, its certificate, the inclusion proofs.
      const verified = await sdk.verifyTransaction(reader, trust, submitted.tx_id);
      assert.ok(verified, 'committed');
      assert.equal(verified.receipt.outcome.status, 'success');
      assert.ok(verified.finalized.signers >= 3);
      const height = verified.height;
      const block = await reader.getBlock(height);
      assert.ok(block);
      assert.equal(sdk.toHex(sdk.blockId(block)), inclusion.block_id);
      const certificate = await reader.getCertificate(height);
      assert.ok(certificate && certificate.subject.kind === 'finalize');
      sdk.verifyCertificate(certificate, trust.chainId, trust.validators);
      const included = sdk.verifyTxInclusion(block.header, sdk.txId(tx), inclusion);
      assert.deepEqual(sdk.encode(sdk.SignedTransactionCodec, included.tx), sdk.encode(sdk.SignedTransactionCodec, tx));
      t.diagnostic(`tx ${submitted.tx_id} in block ${height}, finalized by ${verified.finalized.signers} (certified at ${verified.finalized.certifiedHeight})`);

      // One JSON shape for a transaction: the same fields in GET /v1/txs/{id}, the block's
      // txs and the account's history, and `tx` is the bytes the SDK signed.
      const shown = await reader.getBlockJson(height);
      const inBlock = shown?.block.txs.find((entry) => entry.tx_id === submitted.tx_id);
      assert.ok(inBlock, 'the block lists the transaction');
      const history = await reader.getAccountHistory(recipient.address(), { limit: 5 });
      const inHistory = history.txs.find((entry) => entry.tx_id === submitted.tx_id);
      assert.ok(inHistory, "the recipient's history lists the transaction");
      for (const field of ['tx_id', 'chain_id', 'signer', 'seq', 'valid_until_height', 'ops', 'memo', 'signature', 'tx'] as const) {
        assert.deepEqual(inBlock[field], inclusion[field], `block: ${field}`);
        assert.deepEqual(inHistory[field], inclusion[field], `history: ${field}`);
      }
      assert.equal(inclusion.tx, sdk.toHex(sdk.encode(sdk.SignedTransactionCodec, tx)));
      assert.equal(inclusion.signer, issuer.address());
      const holds = await reader.getAccountHolds(recipient.address());
      assert.deepEqual([holds.holds.length, holds.complete], [0, true]);

      // The recipient's balance, by a state proof under a finalized header.
      const balance = await sdk.verifyState(reader, trust, { kind: 'balance', account: recipient.publicKey, asset: ACME });
      assert.deepEqual(balance.value, { kind: 'balance', available: 1250n, locked: 0n });
      const account = await reader.getAccount(recipient.address());
      assert.equal(account.balances[0]?.available, '12.5');
      // No GLOBEX balance: a non-membership proof.
      const none = await sdk.verifyState(reader, trust, { kind: 'balance', account: recipient.publicKey, asset: 'GLOBEX@globex' });
      assert.equal(none.value, null);

      // Tampered evidence is refused.
      const badCertificate = { ...certificate, signatures: certificate.signatures.map((s, i) => (i === 0 ? flip(s) : s)) };
      assert.throws(() => sdk.verifyCertificate(badCertificate, trust.chainId, trust.validators), /does not verify/);
      const otherSet = sdk.validatorSet([1, 2, 3, 4].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)).publicKey));
      await assert.rejects(sdk.verifyFinality(reader, { ...trust, validators: otherSet }, block), /validator set/);
      const forged = { ...inclusion, receipt: { ...inclusion.receipt, outcome: { status: 'failed' as const, op_index: 0, code: 'insufficient_balance' } } };
      const evidence = await reader.getTxReceipt(submitted.tx_id);
      assert.ok(evidence);
      assert.throws(() => sdk.verifyTxInclusion(block.header, sdk.txId(tx), { ...evidence, receipt: forged.receipt }), /receipts root/);
      const proof = await reader.getStateProof({ kind: 'balance', account: recipient.publicKey, asset: ACME });
      const lie = sdk.toHex(sdk.encode(sdk.StateValueCodec, { kind: 'balance', available: 999_999n, locked: 0n }));
      assert.throws(() => sdk.verifyStateEntry(balance.finalized.header.state_root, { kind: 'balance', account: recipient.publicKey, asset: ACME }, lie, sdk.smtProofFromJson(proof.proof)));
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('every kind of state key encodes as the node decodes it, and its proof verifies', async () => {
    try {
      const account = recipient.publicKey;
      const id = new Uint8Array(16).fill(0xab);
      const hash = new Uint8Array(32).fill(0xcd);
      const keys: [sdk.StateKey, Record<string, unknown>][] = [
        [{ kind: 'account', account: issuer.publicKey }, { account: issuer.address() }],
        [{ kind: 'balance', account, asset: ACME }, { account: recipient.address(), asset: ACME }],
        [{ kind: 'asset', asset: ACME }, { asset: ACME }],
        [{ kind: 'member', member: 'acme' }, { member: 'acme' }],
        [{ kind: 'issuer', account: issuer.publicKey }, { account: issuer.address() }],
        [{ kind: 'grant_id', member: 'acme', grant_id: id }, { member: 'acme', grant_id: sdk.toHex(id) }],
        [{ kind: 'authorization', holder: account, provider: 'globex', asset: ACME }, { holder: recipient.address(), provider: 'globex', asset: ACME }],
        [{ kind: 'hold', hold_id: id }, { hold_id: sdk.toHex(id) }],
        [{ kind: 'hold_expiry', expires_at_ms: 1_767_225_600_123n, hold_id: id }, { expires_at_ms: 1_767_225_600_123, hold_id: sdk.toHex(id) }],
        [{ kind: 'batch_id', member: 'acme', batch_id: id }, { member: 'acme', batch_id: sdk.toHex(id) }],
        [{ kind: 'offer', owner: account, offer_id: id }, { owner: recipient.address(), offer_id: sdk.toHex(id) }],
        [
          { kind: 'book_entry', sell: ACME, buy: 'GLOBEX@globex', position: { rank: new Uint8Array(24).fill(1), stamp: { height: 7n, tx_index: 2n, op_index: 1 } } },
          { sell: ACME, buy: 'GLOBEX@globex', position: { rank: '01'.repeat(24), stamp: { height: 7, tx_index: 2, op_index: 1 } } },
        ],
        [{ kind: 'badge_anchor', batch_root: hash }, { batch_root: sdk.toHex(hash) }],
        [{ kind: 'badge_revocation', member: 'acme', badge_hash: hash }, { member: 'acme', badge_hash: sdk.toHex(hash) }],
        // acme's only issuer key is its governance key (genesis: the smallest issuer key).
        [{ kind: 'governor', account: issuer.publicKey }, { account: issuer.address() }],
        [{ kind: 'governance' }, {}],
        [{ kind: 'validator', consensus_key: trust.validators.keys[0]! }, { consensus_key: sdk.toAddress(trust.validators.keys[0]!) }],
        [{ kind: 'epochs' }, {}],
        [{ kind: 'proposal', proposal_id: id }, { proposal_id: sdk.toHex(id) }],
        [{ kind: 'plan', member: 'acme', plan_id: 'standard', version: 3n }, { member: 'acme', plan_id: 'standard', version: 3 }],
        [
          { kind: 'plan_usage', holder: account, member: 'acme', plan_id: 'standard', version: 3n },
          { holder: recipient.address(), member: 'acme', plan_id: 'standard', version: 3 },
        ],
        [{ kind: 'usage', holder: account, provider: 'acme' }, { holder: recipient.address(), provider: 'acme' }],
        [
          { kind: 'spent', holder: account, provider: 'acme', asset: ACME },
          { holder: recipient.address(), provider: 'acme', asset: ACME },
        ],
        [
          { kind: 'app_usage', holder: account, provider: 'acme', app: 'weather-bot' },
          { holder: recipient.address(), provider: 'acme', app: 'weather-bot' },
        ],
        // The recipient was sent its credits, not granted them: no revenue (a proof of absence).
        [{ kind: 'revenue', account, asset: ACME }, { account: recipient.address(), asset: ACME }],
        [
          { kind: 'badge_figures', member: 'acme', achievement: 'https://badges.acme.example/achievements/api-calls-1k' },
          { member: 'acme', achievement: 'https://badges.acme.example/achievements/api-calls-1k' },
        ],
      ];
      assert.deepEqual(keys.map(([key]) => key.kind), [...sdk.ENTRY_KINDS]);
      const values = new Map<string, sdk.StateValue>();
      for (const [key, fields] of keys) {
        const answer = await reader.getStateProof(key);
        assert.deepEqual(answer.key, { kind: key.kind, ...fields }, key.kind);
        const { finalized } = await sdk.finalizedBlock(reader, trust, sdk.toBigInt(answer.height, 'height'));
        const value = sdk.verifyStateEntry(finalized.header.state_root, key, answer.value, sdk.smtProofFromJson(answer.proof));
        const present = ['account', 'balance', 'asset', 'member', 'issuer', 'governor', 'governance', 'validator', 'epochs'].includes(key.kind);
        assert.equal(value !== null, present, `${key.kind} present`);
        if (value !== null) values.set(key.kind, value);
      }
      // The governance entries genesis writes, decoded.
      assert.deepEqual(values.get('member'), { kind: 'member', name: 'Acme', issuers: [issuer.publicKey], governance_key: issuer.publicKey, removed_at: null });
      assert.deepEqual(values.get('governor'), { kind: 'governor', member: 'acme' });
      assert.deepEqual(values.get('governance'), { kind: 'governance', threshold: { numerator: 2, denominator: 3 }, active_members: 3 });
      const validator = values.get('validator');
      assert.ok(validator?.kind === 'validator');
      assert.equal(validator.member, 'acme');
      assert.equal(validator.name, 'validator-0');
      assert.equal(validator.http_listen, new URL(net.urls[0]!).host);
      const epochs = values.get('epochs');
      assert.ok(epochs?.kind === 'epochs');
      assert.deepEqual(epochs.current, { number: 0n, start_height: 1n, validators: trust.validators.keys, params: sdk.DEFAULT_CONSENSUS_PARAMS });
      assert.deepEqual(epochs.pending, []);
      // A validator entry for every genesis validator, as /v1/governance lists them.
      const governance = await reader.getGovernance();
      assert.deepEqual(governance.validators.map((v) => v.consensus_key), trust.validators.keys.map((k) => sdk.toAddress(k)));
      const { finalized } = await sdk.finalizedBlock(reader, trust, sdk.toBigInt(governance.height, 'height'));
      for (const v of governance.validators) {
        const key: sdk.StateKey = { kind: 'validator', consensus_key: sdk.parseAddress(v.consensus_key) };
        assert.equal(v.entry.key_hex, sdk.toHex(sdk.stateKeyBytes(key)));
        const value = sdk.verifyStateEntry(finalized.header.state_root, key, v.entry.value, sdk.smtProofFromJson(v.entry.proof));
        assert.ok(value?.kind === 'validator');
        assert.equal(sdk.toHex(value.network_key), v.network_key);
        assert.equal(value.p2p_listen, v.p2p_listen);
      }
      assert.deepEqual(governance.members.map((m) => [m.id, m.governance_key, m.removed_at]), [
        ['acme', issuer.address(), null],
        ['globex', sdk.SecretKey.fromHex(readText(net.issuerKeyPath('globex'))).address(), null],
        ['initech', sdk.SecretKey.fromHex(readText(net.issuerKeyPath('initech'))).address(), null],
      ]);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('proposes a threshold change, the members vote it through, and every step is proven', async (t) => {
    try {
      const globex = sdk.SecretKey.fromHex(readText(net.issuerKeyPath('globex')));
      const initech = sdk.SecretKey.fromHex(readText(net.issuerKeyPath('initech')));
      const commit = async (key: sdk.SecretKey, op: sdk.Op): Promise<{ tx: sdk.SignedTransaction; height: bigint; receipt: sdk.ReceiptJson }> => {
        const tx = await sdk.prepareTransaction(client, key, [op]);
        const committed = await client.submitAndWait(tx, WAIT_MS);
        await reader.waitForCommit(sdk.txIdHex(tx), { timeoutMs: WAIT_MS });
        // The receipt is proven too: its error code must hash as the node's does.
        const verified = await sdk.verifyTransaction(reader, trust, sdk.txIdHex(tx));
        assert.ok(verified);
        assert.deepEqual(verified.receipt, sdk.receiptFromJson(committed.receipt));
        return { tx, height: sdk.toBigInt(committed.height, 'height'), receipt: committed.receipt };
      };
      const proven = async (key: sdk.StateKey): Promise<sdk.StateValue | null> => (await sdk.verifyState(reader, trust, key)).value;

      const status = await client.getStatus();
      const expires = sdk.toBigInt(status.committed_height, 'height') + 1_000n;
      const proposalId = sdk.randomOpId();
      const threshold = { numerator: 3, denominator: 4 };
      const propose = sdk.ops.propose({ action: sdk.actions.setThreshold(threshold), expiresAtHeight: expires, proposalId });
      const proposed = await commit(issuer, propose);
      assert.equal(proposed.receipt.outcome.status, 'success', JSON.stringify(proposed.receipt));
      const key: sdk.StateKey = { kind: 'proposal', proposal_id: proposalId };
      const open = await proven(key);
      assert.deepEqual(open, {
        kind: 'proposal',
        proposer: 'acme',
        action: { action: 'set_threshold', threshold },
        height: proposed.height,
        expires_at_height: expires,
        votes: [{ member: 'acme', approve: true, height: proposed.height }],
        outcome: { status: 'open' },
        tx_id: sdk.txId(proposed.tx),
      });

      // 2 of 3 is not more than two thirds: still open.
      const second = await commit(globex, sdk.ops.castVote({ proposalId, approve: true }));
      assert.equal(second.receipt.outcome.status, 'success');
      const stillOpen = await proven(key);
      assert.ok(stillOpen?.kind === 'proposal');
      assert.deepEqual(stillOpen.outcome, { status: 'open' });
      assert.deepEqual(stillOpen.votes.map((v) => [v.member, v.approve]), [['acme', true], ['globex', true]]);

      // The third yes passes it, and the threshold changes in the same block.
      const third = await commit(initech, sdk.ops.castVote({ proposalId, approve: true }));
      const passed = await proven(key);
      assert.ok(passed?.kind === 'proposal');
      assert.deepEqual(passed.outcome, { status: 'passed', height: third.height });
      assert.deepEqual(await proven({ kind: 'governance' }), { kind: 'governance', threshold, active_members: 3 });

      // The node's proposal route: its entry proves the same value.
      const answer = await reader.getProposal(proposalId);
      assert.ok(answer);
      assert.equal(answer.status, 'passed');
      assert.equal(answer.yes, 3);
      assert.equal(answer.entry.key_hex, sdk.toHex(sdk.stateKeyBytes(key)));
      const { finalized } = await sdk.finalizedBlock(reader, trust, sdk.toBigInt(answer.height, 'height'));
      assert.deepEqual(sdk.verifyStateEntry(finalized.header.state_root, key, answer.entry.value, sdk.smtProofFromJson(answer.entry.proof)), passed);
      const page = await reader.listProposals({ limit: 100 });
      assert.ok(page.proposals.some((p) => p.proposal_id === sdk.toHex(proposalId)));
      assert.equal(await reader.getProposal(new Uint8Array(16).fill(0xee)), null);

      // A vote on a decided proposal fails with the new error code, proven in the receipts root.
      const late = await commit(issuer, sdk.ops.castVote({ proposalId, approve: false }));
      assert.deepEqual(late.receipt.outcome, { status: 'failed', op_index: 0, code: 'proposal_closed' });
      // A threshold the builders refuse, sent raw, is refused by the ledger too.
      const bad = await commit(issuer, { ...propose, proposal_id: sdk.randomOpId(), action: { action: 'set_threshold', threshold: { numerator: 1, denominator: 3 } } });
      assert.deepEqual(bad.receipt.outcome, { status: 'failed', op_index: 0, code: 'bad_threshold' });
      // Only governance keys propose: the recipient is not one.
      const outsider = await commit(recipient, sdk.ops.propose({ action: sdk.actions.setThreshold(threshold), expiresAtHeight: expires }));
      assert.deepEqual(outsider.receipt.outcome, { status: 'failed', op_index: 0, code: 'not_member' });

      // An application signed by the SDK: the node decodes it and accepts its proofs of
      // possession (the proposal stays open: one yes of three); tampered, it is refused.
      const [newIssuer, newConsensus, newNetwork] = [sdk.SecretKey.generate(), sdk.SecretKey.generate(), sdk.SecretKey.generate()];
      const body: sdk.ApplicationBody = {
        chain_id: trust.chainId,
        member: 'umbrella',
        member_name: 'Umbrella',
        issuer: newIssuer.publicKey,
        asset_code: 'UMB',
        asset_scale: 2,
        validator_name: 'umbrella-0',
        consensus_key: newConsensus.publicKey,
        network_key: newNetwork.publicKey,
        p2p_listen: '/ip4/127.0.0.1/tcp/1',
        http_listen: '127.0.0.1:2',
      };
      const application: sdk.SignedApplication = {
        body,
        proofs: { consensus: sdk.signApplication(body, newConsensus), network: sdk.signApplication(body, newNetwork), issuer: sdk.signApplication(body, newIssuer) },
      };
      assert.equal(sdk.verifyApplicationProofs(application), null);
      const admitId = sdk.randomOpId();
      const admit = await commit(issuer, sdk.ops.propose({ action: sdk.actions.addMember(application), expiresAtHeight: expires, proposalId: admitId }));
      assert.equal(admit.receipt.outcome.status, 'success', JSON.stringify(admit.receipt));
      const admitted = await proven({ kind: 'proposal', proposal_id: admitId });
      assert.ok(admitted?.kind === 'proposal');
      assert.deepEqual(admitted.action, { action: 'add_member', application });
      assert.deepEqual(admitted.outcome, { status: 'open' });
      const forged = { ...application, proofs: { ...application.proofs, issuer: application.proofs.consensus } };
      const refused = await commit(issuer, sdk.ops.propose({ action: sdk.actions.addMember(forged), expiresAtHeight: expires }));
      assert.deepEqual(refused.receipt.outcome, { status: 'failed', op_index: 0, code: 'bad_proof_of_possession' });
      t.diagnostic(`proposal ${sdk.toHex(proposalId)} passed at height ${third.height}`);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('submits a borsh batch and both transactions commit', async () => {
    try {
      const account = await client.getAccount(issuer.address());
      const seq = sdk.toBigInt(account.seq, 'seq');
      const status = await client.getStatus();
      const until = sdk.toBigInt(status.committed_height, 'height') + 1_000n;
      const txs = [1n, 2n].map((k) =>
        sdk.buildTransaction({
          chainId: trust.chainId,
          key: issuer,
          seq: seq + k,
          validUntilHeight: until,
          ops: [sdk.ops.transfer({ asset: ACME, to: recipient.publicKey, amount: k })],
        }),
      );
      const answer = await client.submitBatch(txs, 'borsh');
      assert.equal(answer.accepted, 2, JSON.stringify(answer, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
      for (const tx of txs) {
        await client.waitForCommit(sdk.txIdHex(tx), { timeoutMs: WAIT_MS });
        assert.ok(await sdk.verifyTransaction(client, trust, sdk.txIdHex(tx)));
      }
      const balance = await sdk.verifyState(client, trust, { kind: 'balance', account: recipient.publicKey, asset: ACME });
      assert.deepEqual(balance.value, { kind: 'balance', available: 1253n, locked: 0n });
      // A duplicate is refused with the node's problem document.
      await assert.rejects(client.submit(txs[0]!), (error: unknown) => error instanceof sdk.HttpError && error.status === 409);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  it('anchors a badge, verifies it in six steps, refuses a tampered one at step 1 and a revoked one at step 6', async () => {
    try {
      const assertion = new Uint8Array(readRepoFile('examples/badges/assertion-api-calls-1m.json'));
      const other = new Uint8Array(readRepoFile('examples/badges/assertion-client-library.json'));
      const hashed = [assertion, other].map((bytes) => sdk.hashAssertion(bytes));
      const batch = sdk.badgeBatch(hashed.map((h) => h.hash), 'jcs-blake3');
      const anchor = sdk.ops.anchorBadges({ batchRoot: batch.root, leafCount: 2, format: 'open_badges2', canon: 'jcs-blake3' });
      const tx = await sdk.prepareTransaction(client, issuer, [anchor]);
      const committed = await client.submitAndWait(tx, WAIT_MS);
      // Node 0 answered once it committed; the reader (node 2) may be a block behind.
      await reader.waitForCommit(sdk.txIdHex(tx), { timeoutMs: WAIT_MS });
      const receipt: sdk.BadgeReceipt = { ...batch.receipts[0]!, tx_id: sdk.txId(tx), height: sdk.toBigInt(committed.height, 'height') };
      const valid = await sdk.verifyBadge(reader, trust, assertion, receipt);
      assert.ok(valid.valid, JSON.stringify(valid.steps, null, 2));
      assert.deepEqual(valid.steps.map((s) => s.name), [...sdk.BADGE_STEPS]);
      const tampered = new TextEncoder().encode(new TextDecoder().decode(assertion).replace('2', '3'));
      const atStep1 = await sdk.verifyBadge(reader, trust, tampered, receipt);
      assert.equal(atStep1.failedStep?.number, 1);
      const revoke = await sdk.prepareTransaction(client, issuer, [sdk.ops.revokeBadge({ badgeHash: receipt.badge_hash, reason: 'issued in error' })]);
      await client.submitAndWait(revoke, WAIT_MS);
      await reader.waitForCommit(sdk.txIdHex(revoke), { timeoutMs: WAIT_MS });
      const atStep6 = await sdk.verifyBadge(reader, trust, assertion, receipt);
      assert.equal(atStep6.failedStep?.number, 6, JSON.stringify(atStep6.steps, null, 2));
      assert.match(atStep6.failedStep!.detail, /revoked by member `acme`/);
      // The other badge of the batch is unaffected.
      const second = await sdk.verifyBadge(reader, trust, other, { ...batch.receipts[1]!, tx_id: sdk.txId(tx), height: null });
      assert.ok(second.valid, JSON.stringify(second.steps, null, 2));
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});

function flip(signature: Uint8Array): Uint8Array {
  const copy = signature.slice();
  copy[40]! ^= 1;
  return copy;
}
