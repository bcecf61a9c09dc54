/**
 * Verification independent of any node (`client/src/proofs/`): the only trust is the chain id
 * and the validator set of the genesis file. Every header is tied to a finalization checked
 * against those validators (following parent links when the certificate names a descendant, at
 * most 256 blocks), and every transaction, receipt and state entry to a header by a Merkle
 * proof. A node can withhold evidence, never forge it (short of n − f validators signing).
 */

import { equalBytes, fromHex, toHex } from './bytes.js';
import { decode } from './codec.js';
import { InputError, TallyError, VerifyError } from './errors.js';
import { blockId, checkChain, checkChildOf, parentLinkOf, type Block, type Header } from './block.js';
import { quorum, validatorSet, validatorsHash, verifyCertificate, type Certificate, type ValidatorSet } from './consensus.js';
import { merkleLeaf, type Hash } from './hash.js';
import { merkleProofFromJson, receiptFromJson, smtProofFromJson, toBigInt, type MerkleProofJson, type ReceiptJson, type SmtProofJson } from './json.js';
import { parseAddress, sameKey, toAddress } from './keys.js';
import { LIMITS } from './limits.js';
import { computeMerkleRoot } from './merkle.js';
import { receiptHash, type Receipt } from './receipt.js';
import { verifyStateEntry, type StateKey, type StateValue, StateValueCodec } from './state.js';
import { SignedTransactionCodec, badgeAnchorOf, txId, type SignedTransaction } from './tx.js';
import { checkChainId } from './ids.js';
import { verifyBadgeAnchor, badgeAchievementId, badgeHash, type BadgeReceipt } from './badge.js';
import type { TallyClient, TxWithReceiptProof, EntryJson } from './client.js';

/** What a verifier trusts: the genesis chain id and validators, nothing else. */
export interface Trust {
  chainId: string;
  validators: ValidatorSet;
  /**
   * The lowest height whose state a verifier accepts for state proofs (issuer membership,
   * non-revocation): a node chooses the height it proves against, and an outdated one could
   * answer from before a revocation.
   */
  minStateHeight: bigint;
}

/** Trust from a genesis document (the JSON `tally-genesis init` writes). */
export function trustFromGenesis(genesis: string | { chain_id: string; validators: { consensus_key: string }[] }): Trust {
  const document = typeof genesis === 'string' ? (JSON.parse(genesis) as { chain_id: string; validators: { consensus_key: string }[] }) : genesis;
  if (!Array.isArray(document?.validators)) throw new InputError('genesis', 'no `validators` list');
  return {
    chainId: checkChainId(document.chain_id, 'genesis chain_id'),
    validators: validatorSet(document.validators.map((v, i) => parseAddress(v.consensus_key, `genesis validators[${i}].consensus_key`))),
    minStateHeight: 0n,
  };
}

/** Where blocks, certificates and proofs come from. `TallyClient` is one. */
export interface ChainSource {
  getBlock(height: bigint): Promise<Block | null>;
  getCertificate(height: bigint): Promise<Certificate | null>;
}

/** A finalized header and how its finality was shown. */
export interface Finalized {
  header: Header;
  blockId: Hash;
  /** The height of the block the certificate names (this one, or a descendant). */
  certifiedHeight: bigint;
  signers: number;
  quorum: number;
}

/**
 * Checks that `block` is final: the certificate stored with it is a finalization with a quorum
 * of valid signatures from the trusted validators, over this block or over a descendant linked
 * to it by parent ids (each a child of the one before). Also checks chain id and validator set.
 */
export async function verifyFinality(source: ChainSource, trust: Trust, block: Block): Promise<Finalized> {
  const header = block.header;
  const setHash = validatorsHash(trust.validators);
  try {
    checkChain(header, trust.chainId, setHash);
  } catch (error) {
    throw rethrow(error, `the block at height ${header.height}`);
  }
  const certificate = await source.getCertificate(header.height);
  if (certificate === null) throw new VerifyError('missing', `no certificate for the block at height ${header.height}`);
  if (certificate.subject.kind !== 'finalize') {
    throw new VerifyError('certificate', `the certificate at height ${header.height} is a ${certificate.subject.kind}, not a finalization`);
  }
  try {
    verifyCertificate(certificate, trust.chainId, trust.validators);
  } catch (error) {
    throw rethrow(error, `the finalization certificate at height ${header.height}`);
  }
  const certified = certificate.subject.block_id;
  const id = blockId(header);
  let current = { id, height: header.height, time_ms: header.time_ms };
  let certifiedHeight = header.height;
  while (!equalBytes(current.id, certified)) {
    if (certifiedHeight - header.height >= BigInt(LIMITS.FINALITY_WALK_MAX)) {
      throw new VerifyError(
        'certificate',
        `the certificate at height ${header.height} names block ${toHex(certified)}, not found within ${LIMITS.FINALITY_WALK_MAX} descendants`,
      );
    }
    certifiedHeight += 1n;
    const next = await source.getBlock(certifiedHeight);
    if (next === null) {
      throw new VerifyError('missing', `the certificate at height ${header.height} names block ${toHex(certified)}, but the chain ends before it`);
    }
    try {
      checkChildOf(next.header, current, trust.chainId, setHash);
    } catch (error) {
      throw rethrow(error, `block ${certifiedHeight}, on the way to the certified block ${toHex(certified)}`);
    }
    current = parentLinkOf(next.header);
  }
  return { header, blockId: id, certifiedHeight, signers: certificate.signatures.length, quorum: quorum(trust.validators) };
}

function rethrow(error: unknown, at: string): unknown {
  if (error instanceof VerifyError) return new VerifyError(error.kind, `${at}: ${error.message}`, error.expected, error.actual);
  return error;
}

/** Fetches the block at `height` and checks its finality. */
export async function finalizedBlock(source: ChainSource, trust: Trust, height: bigint): Promise<{ block: Block; finalized: Finalized }> {
  const block = await source.getBlock(height);
  if (block === null) throw new VerifyError('missing', `no committed block at height ${height}`);
  if (block.header.height !== height) {
    throw new VerifyError('mismatch', `the block's height: expected ${height}, found ${block.header.height}`, String(height), String(block.header.height));
  }
  return { block, finalized: await verifyFinality(source, trust, block) };
}

/** A transaction and its receipt, checked against a header. */
export interface IncludedTx {
  tx: SignedTransaction;
  receipt: Receipt;
  height: bigint;
  index: number;
}

/** The evidence `GET /v1/txs/{id}/receipt` gives, or the tx-only form of `GET /v1/txs/{id}`. */
export interface TxEvidence {
  tx_id: string;
  height: unknown;
  index: unknown;
  tx: string;
  tx_proof?: MerkleProofJson;
  proof?: MerkleProofJson;
  receipt: ReceiptJson;
  receipt_proof?: MerkleProofJson;
}

/**
 * Checks `evidence` for transaction `id` against `header`: the transaction bytes decode and have
 * this id; its leaf is in the tx root; the receipt names it and (when the evidence has a receipt
 * proof) is in the receipts root.
 */
export function verifyTxInclusion(header: Header, id: Hash, evidence: TxEvidence): IncludedTx {
  const mismatch = (what: string, expected: string, actual: string) =>
    new VerifyError('mismatch', `${what}: expected ${expected}, found ${actual}`, expected, actual);
  if (evidence.tx_id !== toHex(id)) throw mismatch('the transaction id in the answer', toHex(id), evidence.tx_id);
  const height = toBigInt(evidence.height, 'height');
  if (height !== header.height) throw mismatch("the transaction's height", String(header.height), String(height));
  const index = Number(toBigInt(evidence.index, 'index'));
  const tx = decode(SignedTransactionCodec, fromHex(evidence.tx, 'tx'));
  if (!equalBytes(txId(tx), id)) throw mismatch('the id of the transaction bytes', toHex(id), toHex(txId(tx)));
  const txProofJson = evidence.tx_proof ?? evidence.proof;
  if (txProofJson === undefined) throw new VerifyError('missing', 'the answer has no tx inclusion proof');
  const txProof = merkleProofFromJson(txProofJson, 'tx_proof');
  const receiptProof = evidence.receipt_proof === undefined ? null : merkleProofFromJson(evidence.receipt_proof, 'receipt_proof');
  if (txProof.index !== BigInt(index) || (receiptProof !== null && receiptProof.index !== BigInt(index))) {
    throw new VerifyError('proof', `the proofs are for positions ${txProof.index} and ${receiptProof?.index ?? '-'}, the transaction is at ${index}`);
  }
  let reached: Hash;
  try {
    reached = computeMerkleRoot(txProof, merkleLeaf(id));
  } catch (error) {
    throw new VerifyError('proof', `the tx inclusion proof: ${(error as Error).message}`);
  }
  if (!equalBytes(reached, header.tx_root)) throw mismatch('the tx root the inclusion proof leads to', toHex(header.tx_root), toHex(reached));
  const receipt = receiptFromJson(evidence.receipt);
  if (!equalBytes(receipt.tx_id, id)) throw mismatch("the receipt's transaction", toHex(id), toHex(receipt.tx_id));
  if (receiptProof !== null) {
    let reachedReceipts: Hash;
    try {
      reachedReceipts = computeMerkleRoot(receiptProof, merkleLeaf(receiptHash(receipt)));
    } catch (error) {
      throw new VerifyError('proof', `the receipt inclusion proof: ${(error as Error).message}`);
    }
    if (!equalBytes(reachedReceipts, header.receipts_root)) {
      throw mismatch('the receipts root the receipt proof leads to', toHex(header.receipts_root), toHex(reachedReceipts));
    }
  }
  return { tx, receipt, height, index };
}

/**
 * Follows a transaction to a verified end: its evidence from the node, its block's finality,
 * and its and its receipt's inclusion. `null` while it is not committed.
 */
export async function verifyTransaction(client: TallyClient, trust: Trust, id: string | Hash): Promise<(IncludedTx & { finalized: Finalized }) | null> {
  const idBytes = typeof id === 'string' ? fromHex(id, 'tx id', 32) : id;
  const evidence = await client.getTxReceipt(toHex(idBytes));
  if (evidence === null) return null;
  const { block, finalized } = await finalizedBlock(client, trust, toBigInt(evidence.height, 'height'));
  return { ...verifyTxInclusion(block.header, idBytes, evidence), finalized };
}

/**
 * Reads the entry under `key` from the node and verifies it against the state root of the
 * finalized header at the height the node answered from (not below `trust.minStateHeight`).
 */
export async function verifyState(client: TallyClient, trust: Trust, key: StateKey): Promise<{ height: bigint; value: StateValue | null; finalized: Finalized }> {
  const answer = await client.getStateProof(key);
  const height = toBigInt(answer.height, 'height');
  if (height < trust.minStateHeight) {
    throw new VerifyError('stale', `the state proof is against height ${height}, below the required minimum ${trust.minStateHeight}`);
  }
  const { finalized } = await finalizedBlock(client, trust, height);
  const value = verifyStateEntry(finalized.header.state_root, key, answer.value, smtProofFromJson(answer.proof));
  return { height, value, finalized };
}

/** One step of badge verification. */
export interface StepReport {
  number: number;
  name: string;
  passed: boolean;
  detail: string;
  expected?: string;
  actual?: string;
}

/** The names of the six steps, as `tally badge verify` names them. */
export const BADGE_STEPS = ['badge hash', 'Merkle path', 'anchor transaction', 'finality', 'issuer membership', 'non-revocation'] as const;

/** The outcome of verifying one badge: the steps run, up to the first failure. */
export interface BadgeVerification {
  badgeHash: string;
  root: string;
  steps: StepReport[];
  valid: boolean;
  failedStep: StepReport | undefined;
}

class StepFailure extends Error {
  constructor(message: string, readonly expected?: string, readonly actual?: string) {
    super(message);
  }
}

function failure(error: unknown): StepFailure {
  if (error instanceof StepFailure) return error;
  if (error instanceof VerifyError) return new StepFailure(error.message, error.expected, error.actual);
  if (error instanceof TallyError || error instanceof Error) return new StepFailure(error.message);
  return new StepFailure(String(error));
}

function entryValue(entry: EntryJson | null, stateRoot: Hash, key: StateKey, what: string): StateValue | null {
  if (entry === null) throw new StepFailure(`no evidence for ${what}`);
  return verifyStateEntry(stateRoot, key, entry.value, smtProofFromJson(entry.proof as SmtProofJson));
}

/**
 * An anchor that names its badges' achievements (the ledger's figures count them under those)
 * must name this badge's: an Open Badges 3.0 credential's achievement, a 2.0 assertion's badge
 * class. The ledger sees hashes only; the verifier checks it (as the Rust client does).
 */
function namedAchievement(listed: string[], assertion: Uint8Array): string {
  const id = badgeAchievementId(assertion);
  if (id === undefined) {
    throw new StepFailure(
      'the anchor counts its badges under achievements, but this badge names none (no credentialSubject.achievement.id, no badge class)',
      listed.join(', '),
      'no achievement id',
    );
  }
  if (!listed.includes(id)) {
    throw new StepFailure("the anchor counts its badges under achievements that do not include this credential's", listed.join(', '), id);
  }
  return `, counted under achievement ${id}`;
}

/**
 * The six steps of `tally badge verify`, stopping at the first failure:
 * 1. the assertion's hash (with the receipt's canonicalization) equals the receipt's;
 * 2. the receipt's Merkle path leads from that hash to its root;
 * 3. the anchor transaction (the receipt's `tx_id`, else the one the ledger's anchor names) is in
 *    its block's tx root, its receipt (success) in the receipts root, and it holds an
 *    AnchorBadges (or AnchorAchievements) op for this root, batch size and canonicalization (an
 *    AnchorAchievements op must name the badge's own achievement or badge class);
 * 4. that block is final;
 * 5. under the finalized header the node's state proofs are against, the anchor entry names
 *    this transaction and its signer, the member lists the signer as an issuer, and the issuer
 *    index agrees;
 * 6. under the same header, the anchoring member has not revoked the badge (non-membership).
 */
export async function verifyBadge(client: TallyClient, trust: Trust, assertion: Uint8Array, receipt: BadgeReceipt): Promise<BadgeVerification> {
  const steps: StepReport[] = [];
  const report = (): BadgeVerification => ({
    badgeHash: toHex(receipt.badge_hash),
    root: toHex(receipt.root),
    steps,
    valid: steps.length === 6 && steps.every((s) => s.passed),
    failedStep: steps.find((s) => !s.passed),
  });
  const run = async <T>(number: number, body: () => Promise<[T, string]> | [T, string]): Promise<T | undefined> => {
    const name = BADGE_STEPS[number - 1]!;
    try {
      const [value, detail] = await body();
      steps.push({ number, name, passed: true, detail });
      return value;
    } catch (error) {
      const f = failure(error);
      steps.push({ number, name, passed: false, detail: f.message, ...(f.expected !== undefined ? { expected: f.expected } : {}), ...(f.actual !== undefined ? { actual: f.actual } : {}) });
      return undefined;
    }
  };

  const hashed = await run(1, () => {
    let actual: Hash;
    try {
      actual = badgeHash(assertion, receipt.canon);
    } catch (error) {
      throw new StepFailure(`the assertion cannot be hashed: ${(error as Error).message}`);
    }
    if (!equalBytes(actual, receipt.badge_hash)) {
      throw new StepFailure(
        "the assertion does not hash to the receipt's badge hash (the assertion was changed, or the receipt is another badge's)",
        toHex(receipt.badge_hash),
        toHex(actual),
      );
    }
    return [true, `${receipt.canon} of the assertion is ${toHex(actual)}`];
  });
  if (hashed === undefined) return report();

  const path = await run(2, () => {
    let reached: Hash;
    try {
      reached = computeMerkleRoot(receipt.path, merkleLeaf(receipt.badge_hash));
    } catch (error) {
      throw new StepFailure(`the receipt's path is malformed: ${(error as Error).message}`);
    }
    if (!equalBytes(reached, receipt.root)) throw new StepFailure("the path does not lead to the receipt's root", toHex(receipt.root), toHex(reached));
    return [true, `leaf ${receipt.path.index} of ${receipt.path.leaf_count} leads to root ${toHex(reached)} (${receipt.path.siblings.length} siblings)`];
  });
  if (path === undefined) return report();

  let evidence: Awaited<ReturnType<TallyClient['getBadge']>> | undefined;
  const anchored = await run(3, async () => {
    try {
      evidence = await client.getBadge(receipt.badge_hash, receipt.root);
    } catch (error) {
      throw new StepFailure(`cannot read the anchor evidence: ${(error as Error).message}`);
    }
    let entryTx: Hash | null = null;
    if (evidence.anchor.value !== null) {
      try {
        const value = decode(StateValueCodec, fromHex(evidence.anchor.value, 'anchor value'));
        if (value.kind === 'badge_anchor') entryTx = value.tx_id;
      } catch {
        entryTx = null;
      }
    }
    const id = receipt.tx_id ?? entryTx;
    if (id === null) {
      throw new StepFailure(`never anchored: the ledger has no anchor for root ${toHex(receipt.root)}, and the receipt names no transaction`);
    }
    let txEvidence: TxWithReceiptProof | null =
      evidence.anchor_tx !== null && evidence.anchor_tx.tx_id === toHex(id) ? evidence.anchor_tx : await client.getTxReceipt(toHex(id));
    if (txEvidence === null) {
      throw new StepFailure(`transaction ${toHex(id)} is not in any committed block${entryTx !== null ? '' : '; the ledger has no anchor for this root either'}`);
    }
    const block = await client.getBlock(toBigInt(txEvidence.height, 'height'));
    if (block === null) throw new StepFailure(`no block at height ${String(txEvidence.height)}`);
    const included = verifyTxInclusion(block.header, id, txEvidence);
    txEvidence = null;
    if (receipt.height !== null && receipt.height !== included.height) {
      throw new StepFailure("the receipt's height differs from the block holding the transaction", String(included.height), String(receipt.height));
    }
    if (included.receipt.outcome.status === 'failed') {
      const { op_index: opIndex, code } = included.receipt.outcome;
      throw new StepFailure(`the anchor transaction ${toHex(id)} failed at op ${opIndex} (${code}); it anchored nothing`, 'success', `failed: ${code}`);
    }
    const anchorOp = included.tx.tx.ops.find((candidate) => {
      const anchor = badgeAnchorOf(candidate);
      return anchor !== null && equalBytes(anchor.batch_root, receipt.root);
    });
    const op = anchorOp === undefined ? null : badgeAnchorOf(anchorOp);
    if (anchorOp === undefined || op === null) {
      throw new StepFailure(`transaction ${toHex(id)} holds no AnchorBadges or AnchorAchievements op for root ${toHex(receipt.root)}`);
    }
    verifyBadgeAnchor(receipt, op);
    const counted = anchorOp.op === 'anchor_achievements' ? namedAchievement(anchorOp.achievements.map((c) => c.achievement), assertion) : '';
    const count = op.leaf_count === 1 ? '1 badge' : `${op.leaf_count} badges`;
    return [
      { included, block },
      `transaction ${toHex(id)} (index ${included.index} in block ${included.height}) anchors root ${toHex(receipt.root)} with ${count}${counted}; it is in the tx root and its receipt (success) in the receipts root`,
    ];
  });
  if (anchored === undefined || evidence === undefined) return report();
  const badgeEvidence = evidence;

  const final = await run(4, async () => {
    const f = await verifyFinality(client, trust, anchored.block);
    const via = f.certifiedHeight === f.header.height ? '' : ` (through the certificate of descendant ${f.certifiedHeight}, parent links checked)`;
    return [f, `block ${toHex(f.blockId)} at height ${f.header.height} is finalized by ${f.signers} of ${f.quorum} required validator signatures${via}`];
  });
  if (final === undefined) return report();

  const membership = await run(5, async () => {
    const height = toBigInt(badgeEvidence.height, 'height');
    if (height < trust.minStateHeight) {
      throw new StepFailure(
        `the state proofs are against height ${height}, below the required minimum ${trust.minStateHeight}: the source's state is too old to show the badge's current status`,
        `height ≥ ${trust.minStateHeight}`,
        String(height),
      );
    }
    let latest: Finalized;
    try {
      latest = (await finalizedBlock(client, trust, height)).finalized;
    } catch (error) {
      throw new StepFailure(`the header at height ${height} the state proofs are against: ${(error as Error).message}`);
    }
    const stateRoot = latest.header.state_root;
    const anchor = entryValue(badgeEvidence.anchor, stateRoot, { kind: 'badge_anchor', batch_root: receipt.root }, 'the anchor');
    if (anchor === null) {
      throw new StepFailure(`the ledger has no anchor entry for root ${toHex(receipt.root)} at height ${latest.header.height} (proof of absence checked)`);
    }
    if (anchor.kind !== 'badge_anchor') throw new StepFailure(`the anchor entry holds a ${anchor.kind} value`);
    const signer = anchored.included.tx.tx.signer;
    const anchorTx = txId(anchored.included.tx);
    if (!equalBytes(anchor.tx_id, anchorTx)) throw new StepFailure('the anchor entry names another transaction', toHex(anchor.tx_id), toHex(anchorTx));
    if (!sameKey(anchor.issuer, signer)) {
      throw new StepFailure('the anchor entry names another issuer than the signer', toAddress(anchor.issuer), toAddress(signer));
    }
    const member = entryValue(badgeEvidence.member, stateRoot, { kind: 'member', member: anchor.member }, `member \`${anchor.member}\``);
    if (member === null || member.kind !== 'member') throw new StepFailure(`member \`${anchor.member}\` does not exist`);
    if (!member.issuers.some((key) => sameKey(key, signer))) {
      throw new StepFailure(`member \`${anchor.member}\` does not list ${toAddress(signer)} among its issuers`);
    }
    const issuer = entryValue(badgeEvidence.issuer, stateRoot, { kind: 'issuer', account: signer }, `the issuer index of ${toAddress(signer)}`);
    if (issuer === null || issuer.kind !== 'issuer') throw new StepFailure(`${toAddress(signer)} is not an issuer of any member`);
    if (issuer.member !== anchor.member) throw new StepFailure('the issuer index names another member', anchor.member, issuer.member);
    return [
      { latest, member: anchor.member },
      `signer ${toAddress(signer)} is an issuer of member \`${anchor.member}\` (${member.name}); the anchor entry, the member and the issuer index are proven against the state root ${toHex(stateRoot)} of finalized block ${latest.header.height} (${latest.signers} of ${latest.quorum} signatures)`,
    ];
  });
  if (membership === undefined) return report();

  await run(6, () => {
    const { latest, member } = membership;
    const key: StateKey = { kind: 'badge_revocation', member, badge_hash: receipt.badge_hash };
    const value = entryValue(badgeEvidence.revocation, latest.header.state_root, key, `revocation under member \`${member}\``);
    if (value === null) {
      return [
        true,
        `member \`${member}\` has not revoked ${toHex(receipt.badge_hash)}: non-membership proven against the state root of finalized block ${latest.header.height}`,
      ];
    }
    if (value.kind !== 'badge_revocation') throw new StepFailure(`the revocation entry holds a ${value.kind} value`);
    throw new StepFailure(
      `revoked by member \`${member}\` at height ${value.height} (transaction ${toHex(value.tx_id)}): "${value.reason}"`,
      'not revoked',
      `revoked at height ${value.height}`,
    );
  });
  return report();
}
