/**
 * Building transactions: op constructors that check their inputs (addresses, asset ids, op ids,
 * amounts, limits) with errors naming the field, and `buildTransaction` / `prepareTransaction`
 * that check a transaction's form and size before it is signed, as the Rust `txbuild` does.
 */

import { encode } from './codec.js';
import { utf8 } from './bytes.js';
import { InputError } from './errors.js';
import type { Hash } from './hash.js';
import { checkAssetCode, checkAssetId, checkChainId, checkMemberId, parseOpId, randomOpId } from './ids.js';
import { toPublicKey, type KeyLike, type SecretKey } from './keys.js';
import { LIMITS } from './limits.js';
import { U128_MAX, U64_MAX, type Price } from './amount.js';
import type { TallyClient } from './client.js';
import {
  consensusParamsProblems,
  thresholdProblem,
  type Action,
  type ConsensusParams,
  type SignedApplication,
  type Threshold,
} from './governance.js';
import { toBigInt } from './json.js';
import { isAchievementId } from './pricing.js';
import {
  SignedTransactionCodec,
  signTransaction,
  type AnchorAchievements,
  type AnchorBadges,
  type BadgeCanon,
  type BadgeFormat,
  type CastVote,
  type Propose,
  type GrantKind,
  type OfferMode,
  type Op,
  type RewardReason,
  type SignedTransaction,
  type Transaction,
} from './tx.js';

type OpIdLike = Uint8Array | string;

function opId(id: OpIdLike | undefined, field: string): Uint8Array {
  if (id === undefined) return randomOpId();
  if (typeof id === 'string') return parseOpId(id, field);
  if (!(id instanceof Uint8Array) || id.length !== 16) throw new InputError(field, 'an op id is 16 bytes or 32 hex characters');
  return id;
}

function minor(value: bigint, field: string, positive = true): bigint {
  if (typeof value !== 'bigint') {
    throw new InputError(field, `amounts are bigint minor units (use parseAmount for human amounts), got ${typeof value}`);
  }
  if (value < 0n || value > U128_MAX) throw new InputError(field, `${value} is outside 0..=2^128-1`);
  if (positive && value === 0n) throw new InputError(field, 'must be positive');
  return value;
}

function u64(value: bigint, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) throw new InputError(field, `${String(value)} is outside 0..=2^64-1`);
  return value;
}

function hash32(value: Hash, field: string): Hash {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw new InputError(field, 'expected a 32-byte hash');
  return value;
}

function text(value: string, max: number, field: string): string {
  const length = utf8(value).length;
  if (length > max) throw new InputError(field, `${length} bytes, more than the limit of ${max}`);
  return value;
}

function price(value: Price, field: string): Price {
  const n = u64(value.numerator, `${field}.numerator`);
  const d = u64(value.denominator, `${field}.denominator`);
  if (n === 0n || d === 0n) throw new InputError(field, 'parts must be non-zero');
  return { numerator: n, denominator: d };
}

/** Op constructors. Amounts are minor units (bigint); ids default to fresh random ones. */
export const ops = {
  issueAsset(a: { code: string; scale: number; maxSupply?: bigint | null; flags?: number }): Op {
    if (!Number.isInteger(a.scale) || a.scale < 0 || a.scale > LIMITS.ASSET_SCALE_MAX) {
      throw new InputError('scale', `${a.scale} is outside 0..=${LIMITS.ASSET_SCALE_MAX}`);
    }
    return {
      op: 'issue_asset',
      code: checkAssetCode(a.code),
      scale: a.scale,
      max_supply: a.maxSupply === undefined || a.maxSupply === null ? null : minor(a.maxSupply, 'max supply'),
      flags: a.flags ?? 0,
    };
  },
  grant(a: { asset: string; to: KeyLike; amount: bigint; kind: GrantKind; reason?: RewardReason | null; externalRef?: string; grantId?: OpIdLike }): Op {
    return {
      op: 'grant',
      grant_id: opId(a.grantId, 'grant id'),
      asset: checkAssetId(a.asset),
      to: toPublicKey(a.to, 'to'),
      amount: minor(a.amount, 'amount'),
      kind: a.kind,
      reason: a.reason ?? null,
      external_ref: text(a.externalRef ?? '', LIMITS.GRANT_EXTERNAL_REF_BYTES_MAX, 'external ref'),
    };
  },
  transfer(a: { asset: string; to: KeyLike; amount: bigint }): Op {
    return { op: 'transfer', asset: checkAssetId(a.asset), to: toPublicKey(a.to, 'to'), amount: minor(a.amount, 'amount') };
  },
  burn(a: { asset: string; amount: bigint }): Op {
    return { op: 'burn', asset: checkAssetId(a.asset), amount: minor(a.amount, 'amount') };
  },
  authorizeSpend(a: { provider: string; asset: string; cap: bigint; expiresAtMs: bigint }): Op {
    return {
      op: 'authorize_spend',
      provider: checkMemberId(a.provider, 'provider'),
      asset: checkAssetId(a.asset),
      cap: minor(a.cap, 'cap', false),
      expires_at_ms: u64(a.expiresAtMs, 'expires at'),
    };
  },
  hold(a: { holder: KeyLike; asset: string; amount: bigint; expiresAtMs: bigint; holdId?: OpIdLike }): Op {
    return {
      op: 'hold',
      hold_id: opId(a.holdId, 'hold id'),
      holder: toPublicKey(a.holder, 'holder'),
      asset: checkAssetId(a.asset),
      amount: minor(a.amount, 'amount'),
      expires_at_ms: u64(a.expiresAtMs, 'expires at'),
    };
  },
  settle(a: { holdId: OpIdLike; amount: bigint; usageRoot: Hash; batchId?: OpIdLike }): Op {
    return {
      op: 'settle',
      hold_id: opId(a.holdId, 'hold id'),
      batch_id: opId(a.batchId, 'batch id'),
      amount: minor(a.amount, 'amount', false),
      usage_root: hash32(a.usageRoot, 'usage root'),
    };
  },
  void(a: { holdId: OpIdLike }): Op {
    return { op: 'void', hold_id: opId(a.holdId, 'hold id') };
  },
  placeOffer(a: { sell: string; buy: string; amount: bigint; price: Price; mode?: OfferMode; offerId?: OpIdLike }): Op {
    return {
      op: 'place_offer',
      offer_id: opId(a.offerId, 'offer id'),
      sell: checkAssetId(a.sell, 'sell'),
      buy: checkAssetId(a.buy, 'buy'),
      amount: minor(a.amount, 'amount'),
      price: price(a.price, 'price'),
      mode: a.mode ?? 'normal',
    };
  },
  cancelOffer(a: { offerId: OpIdLike }): Op {
    return { op: 'cancel_offer', offer_id: opId(a.offerId, 'offer id') };
  },
  anchorBadges(a: { batchRoot: Hash; leafCount: number; format: BadgeFormat; canon: BadgeCanon; metadataUri?: string | null }): AnchorBadges {
    if (!Number.isInteger(a.leafCount) || a.leafCount < 1 || a.leafCount > LIMITS.BADGE_BATCH_LEAVES_MAX) {
      throw new InputError('leaf count', `${a.leafCount} is outside 1..=${LIMITS.BADGE_BATCH_LEAVES_MAX}`);
    }
    return {
      op: 'anchor_badges',
      batch_root: hash32(a.batchRoot, 'batch root'),
      leaf_count: a.leafCount,
      format: a.format,
      canon: a.canon,
      metadata_uri: a.metadataUri === undefined || a.metadataUri === null ? null : text(a.metadataUri, LIMITS.BADGE_METADATA_URI_BYTES_MAX, 'metadata uri'),
    };
  },
  /**
   * An anchor that names how many of its badges are for each achievement (the ledger counts them
   * per member and achievement): the leaf count is the counts' sum; the list is sorted here, and
   * an id named twice, an id the ledger refuses or a count below 1 is refused.
   */
  anchorAchievements(a: {
    batchRoot: Hash;
    format: BadgeFormat;
    canon: BadgeCanon;
    metadataUri?: string | null;
    achievements: { achievement: string; count: number }[];
  }): AnchorAchievements {
    if (a.achievements.length < 1 || a.achievements.length > LIMITS.ANCHOR_ACHIEVEMENTS_MAX) {
      throw new InputError('achievements', `${a.achievements.length} achievements; an anchor names 1 to ${LIMITS.ANCHOR_ACHIEVEMENTS_MAX}`);
    }
    const sorted = [...a.achievements].sort((x, y) => (x.achievement < y.achievement ? -1 : x.achievement > y.achievement ? 1 : 0));
    sorted.forEach((entry, index) => {
      if (!isAchievementId(entry.achievement)) {
        throw new InputError('achievement', `\`${entry.achievement}\` is not an absolute URI of at most ${LIMITS.ACHIEVEMENT_ID_BYTES_MAX} URI characters`);
      }
      if (index > 0 && sorted[index - 1]!.achievement === entry.achievement) {
        throw new InputError('achievement', `\`${entry.achievement}\` is named twice`);
      }
      if (!Number.isInteger(entry.count) || entry.count < 1 || entry.count > 0xffff_ffff) {
        throw new InputError('count', `${entry.count} badges of \`${entry.achievement}\`: a count is 1 to 2^32 - 1`);
      }
    });
    const leafCount = sorted.reduce((sum, entry) => sum + entry.count, 0);
    const anchor = ops.anchorBadges({ ...a, leafCount });
    const { op: _op, ...fields } = anchor;
    void _op;
    return { op: 'anchor_achievements', anchor: fields, achievements: sorted.map((e) => ({ achievement: e.achievement, count: e.count })) };
  },
  revokeBadge(a: { badgeHash: Hash; reason: string }): Op {
    return { op: 'revoke_badge', badge_hash: hash32(a.badgeHash, 'badge hash'), reason: text(a.reason, LIMITS.BADGE_REVOCATION_REASON_BYTES_MAX, 'reason') };
  },
  /**
   * Puts `action` (see `actions`) to the members' vote, signed by the member's governance key.
   * Votes count up to and including `expiresAtHeight`, which must be after the height of the
   * block that holds the proposal and at most `PROPOSAL_TTL_BLOCKS_MAX` after it.
   */
  propose(a: { action: Action; expiresAtHeight: bigint; proposalId?: OpIdLike }): Propose {
    return {
      op: 'propose',
      proposal_id: opId(a.proposalId, 'proposal id'),
      action: a.action,
      expires_at_height: u64(a.expiresAtHeight, 'expires at height'),
    };
  },
  /** A member's one vote on an open proposal. */
  castVote(a: { proposalId: OpIdLike; approve: boolean }): CastVote {
    if (typeof a.approve !== 'boolean') throw new InputError('approve', 'expected true (yes) or false (no)');
    return { op: 'cast_vote', proposal_id: opId(a.proposalId, 'proposal id'), approve: a.approve };
  },
};

function u16(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new InputError(field, `${value} is outside 0..=65535`);
  return value;
}

function u32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new InputError(field, `${value} is outside 0..=2^32-1`);
  return value;
}

function application(value: SignedApplication): SignedApplication {
  const body = value.body;
  checkChainId(body.chain_id, 'application chain id');
  checkMemberId(body.member, 'application member');
  checkAssetCode(body.asset_code, 'application asset code');
  if (!Number.isInteger(body.asset_scale) || body.asset_scale < 0 || body.asset_scale > LIMITS.ASSET_SCALE_MAX) {
    throw new InputError('application asset scale', `${body.asset_scale} is outside 0..=${LIMITS.ASSET_SCALE_MAX}`);
  }
  text(body.member_name, LIMITS.MEMBER_NAME_BYTES_MAX, 'application member name');
  text(body.validator_name, LIMITS.VALIDATOR_NAME_BYTES_MAX, 'application validator name');
  text(body.p2p_listen, LIMITS.ADDRESS_BYTES_MAX, 'application p2p listen address');
  text(body.http_listen, LIMITS.ADDRESS_BYTES_MAX, 'application http listen address');
  return value;
}

/**
 * Governance action constructors, for `ops.propose`. Thresholds and consensus parameters are
 * checked as the ledger checks them (`BadThreshold`, `BadConsensusParams`); applications are
 * checked for form (ids, sizes), not for their proofs (see `verifyApplicationProofs`).
 */
export const actions = {
  addMember(app: SignedApplication): Action {
    return { action: 'add_member', application: application(app) };
  },
  removeMember(member: string): Action {
    return { action: 'remove_member', member: checkMemberId(member, 'member') };
  },
  addValidator(app: SignedApplication): Action {
    return { action: 'add_validator', application: application(app) };
  },
  removeValidator(consensusKey: KeyLike): Action {
    return { action: 'remove_validator', consensus_key: toPublicKey(consensusKey, 'consensus key') };
  },
  rotateValidatorKey(consensusKey: KeyLike, app: SignedApplication): Action {
    return { action: 'rotate_validator_key', consensus_key: toPublicKey(consensusKey, 'consensus key'), application: application(app) };
  },
  setConsensusParams(params: ConsensusParams): Action {
    const checked: ConsensusParams = {
      timeout_propose_ms: u64(params.timeout_propose_ms, 'timeout_propose_ms'),
      timeout_notarize_ms: u64(params.timeout_notarize_ms, 'timeout_notarize_ms'),
      timeout_max_ms: u64(params.timeout_max_ms, 'timeout_max_ms'),
      block_txs_max: u32(params.block_txs_max, 'block_txs_max'),
      block_bytes_max: u32(params.block_bytes_max, 'block_bytes_max'),
    };
    const problem = consensusParamsProblems(checked)[0];
    if (problem !== undefined) throw new InputError(problem[0], problem[1]);
    return { action: 'set_consensus_params', params: checked };
  },
  setThreshold(threshold: Threshold): Action {
    const checked = { numerator: u16(threshold.numerator, 'threshold numerator'), denominator: u16(threshold.denominator, 'threshold denominator') };
    const problem = thresholdProblem(checked);
    if (problem !== null) throw new InputError('threshold', problem);
    return { action: 'set_threshold', threshold: checked };
  },
};

/** Everything a transaction needs besides its ops. */
export interface TxParams {
  chainId: string;
  key: SecretKey;
  seq: bigint;
  validUntilHeight: bigint;
  ops: Op[];
  memo?: Uint8Array | string;
}

/** Builds, checks (1..=16 ops, seq ≥ 1, memo ≤ 256 bytes, ≤ 8 KiB encoded) and signs a transaction. */
export function buildTransaction(params: TxParams): SignedTransaction {
  const memo = typeof params.memo === 'string' ? utf8(params.memo) : (params.memo ?? new Uint8Array(0));
  if (params.ops.length === 0 || params.ops.length > LIMITS.TX_OPS_MAX) {
    throw new InputError('ops', `a transaction has 1 to ${LIMITS.TX_OPS_MAX} ops, got ${params.ops.length}`);
  }
  if (u64(params.seq, 'seq') === 0n) throw new InputError('seq', 'seq must be at least 1');
  if (memo.length > LIMITS.TX_MEMO_BYTES_MAX) throw new InputError('memo', `${memo.length} bytes, more than the limit of ${LIMITS.TX_MEMO_BYTES_MAX}`);
  const tx: Transaction = {
    chain_id: checkChainId(params.chainId),
    signer: params.key.publicKey,
    seq: params.seq,
    valid_until_height: u64(params.validUntilHeight, 'valid until height'),
    ops: params.ops,
    memo,
  };
  const signed = signTransaction(tx, params.key);
  const size = encode(SignedTransactionCodec, signed).length;
  if (size > LIMITS.TX_BYTES_MAX) throw new InputError('transaction', `${size} bytes encoded, more than the limit of ${LIMITS.TX_BYTES_MAX}`);
  return signed;
}

/**
 * Builds and signs the signer's next transaction from what the node reports: chain id, the
 * account's seq + 1, and a validity window of `validForBlocks` (default 1,000) past the
 * committed height. For several transactions in a row, pass `seq` yourself and count up.
 */
export async function prepareTransaction(
  client: TallyClient,
  key: SecretKey,
  txOps: Op[],
  options: { seq?: bigint; validForBlocks?: bigint; memo?: Uint8Array | string } = {},
): Promise<SignedTransaction> {
  const [status, account] = await Promise.all([client.getStatus(), client.getAccount(key.address())]);
  const height = toBigInt(status.committed_height, 'committed_height');
  return buildTransaction({
    chainId: status.chain_id,
    key,
    seq: options.seq ?? toBigInt(account.seq, 'seq') + 1n,
    validUntilHeight: height + (options.validForBlocks ?? 1_000n),
    ops: txOps,
    ...(options.memo !== undefined ? { memo: options.memo } : {}),
  });
}
