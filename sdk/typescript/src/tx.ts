/**
 * Transactions and operations, encoded exactly as `node/types/src/tx.rs` (borsh, variant order
 * and field order are the wire format). A transaction's id is the `tally v1 tx id` hash of its
 * encoded body, and its signature covers `tally/tx\0 || len || chain_id || body`.
 */

import type { Codec, Reader, Writer } from './codec.js';
import { encode } from './codec.js';
import { toHex } from './bytes.js';
import { domainHash, type Hash } from './hash.js';
import {
  readAssetCode,
  readAssetId,
  readChainId,
  readHash,
  readKey,
  readMemberId,
  readOpId,
  readPrice,
  readSignature,
  writeAssetCode,
  writeAssetId,
  writeChainId,
  writeHash,
  writeKey,
  writeMemberId,
  writeOpId,
  writePrice,
  writeSignature,
} from './fields.js';
import { validateKey, verifySignature, type KeyProblem, type PublicKey, type SecretKey, type Signature, sameKey } from './keys.js';
import { LIMITS } from './limits.js';
import type { Price } from './amount.js';
import { readAction, writeAction, type Action, type SignedApplication } from './governance.js';
import {
  readAchievementId,
  readAppId,
  readItemName,
  readPlanRef,
  readPricePlan,
  readUsageLine,
  writeAchievementId,
  writeAppId,
  writeItemName,
  writePlanRef,
  writePricePlan,
  writeUsageLine,
  type PlanRef,
  type PricePlan,
  type UsageLine,
} from './pricing.js';

/** Asset flag bits. */
export const ASSET_FLAGS = { NON_TRANSFERABLE: 1, NON_TRADABLE: 2 } as const;

export type GrantKind = 'purchase' | 'reward' | 'promo';
export type RewardReason =
  | 'client_library'
  | 'how_to_guide'
  | 'forum_support'
  | 'published_application'
  | { other: string };
export type OfferMode = 'normal' | 'passive' | 'immediate_or_cancel' | 'fill_or_kill';
export type BadgeFormat = 'open_badges2' | 'open_badges3';
export type BadgeCanon = 'jcs-blake3' | 'raw-blake3';

export interface IssueAsset { op: 'issue_asset'; code: string; scale: number; max_supply: bigint | null; flags: number }
export interface Grant {
  op: 'grant';
  grant_id: Uint8Array;
  asset: string;
  to: PublicKey;
  amount: bigint;
  kind: GrantKind;
  reason: RewardReason | null;
  external_ref: string;
  /** The credit pack of the member's price plan this purchase fulfils (then exactly its credits). */
  pack?: PackRef | null;
}
/** A credit pack of one version of the granting member's price plan. */
export interface PackRef { plan: PlanRef; pack: string }
export interface Transfer { op: 'transfer'; asset: string; to: PublicKey; amount: bigint }
export interface Burn { op: 'burn'; asset: string; amount: bigint }
export interface AuthorizeSpend {
  op: 'authorize_spend';
  provider: string;
  asset: string;
  cap: bigint;
  expires_at_ms: bigint;
  /** The provider's price plan version the holder agrees to; holds settle only at its prices. */
  plan?: PlanRef | null;
}
export interface Hold { op: 'hold'; hold_id: Uint8Array; holder: PublicKey; asset: string; amount: bigint; expires_at_ms: bigint }
export interface Settle {
  op: 'settle';
  hold_id: Uint8Array;
  batch_id: Uint8Array;
  amount: bigint;
  usage_root: Hash;
  /** Usage per metered item, sorted by item; priced by the hold's plan, if it has one. */
  lines?: UsageLine[];
}
/** A settlement that names the developer's application (tag 16, after `retire_plan`): the
 * ledger counts distinct applications per (holder, provider). Its own variant, so every
 * `settle` already signed keeps its bytes. */
export interface SettleApp { op: 'settle_app'; settle: Omit<Settle, 'op'>; app: string }
export interface Void { op: 'void'; hold_id: Uint8Array }
export interface PlaceOffer {
  op: 'place_offer';
  offer_id: Uint8Array;
  sell: string;
  buy: string;
  amount: bigint;
  price: Price;
  mode: OfferMode;
}
export interface CancelOffer { op: 'cancel_offer'; offer_id: Uint8Array }
export interface AnchorBadges {
  op: 'anchor_badges';
  batch_root: Hash;
  leaf_count: number;
  format: BadgeFormat;
  canon: BadgeCanon;
  metadata_uri: string | null;
}
export interface RevokeBadge { op: 'revoke_badge'; badge_hash: Hash; reason: string }
/** How many badges of an anchored batch are for one achievement. */
export interface AchievementCount { achievement: string; count: number }
/** An anchor that names its badges' achievements (tag 17, after `settle_app`), so the ledger
 * counts badges per (member, achievement): ids strictly ascending, counts ≥ 1 summing to
 * `anchor.leaf_count`. Its own variant, so every `anchor_badges` already signed keeps its bytes. */
export interface AnchorAchievements {
  op: 'anchor_achievements';
  anchor: Omit<AnchorBadges, 'op'>;
  achievements: AchievementCount[];
}
/** A member puts an action to the vote (signed by its governance key); proposing is its yes vote. */
export interface Propose { op: 'propose'; proposal_id: Uint8Array; action: Action; expires_at_height: bigint }
/** A member's one vote on an open proposal. */
export interface CastVote { op: 'cast_vote'; proposal_id: Uint8Array; approve: boolean }
/** An issuer publishes a version of its member's price plan. */
export interface PublishPlan { op: 'publish_plan'; plan: PricePlan }
/** An issuer retires a version of its member's price plan. */
export interface RetirePlan { op: 'retire_plan'; plan: PlanRef }

/** One ledger operation. */
export type Op =
  | IssueAsset
  | Grant
  | Transfer
  | Burn
  | AuthorizeSpend
  | Hold
  | Settle
  | Void
  | PlaceOffer
  | CancelOffer
  | AnchorBadges
  | RevokeBadge
  | Propose
  | CastVote
  | PublishPlan
  | RetirePlan
  | SettleApp
  | AnchorAchievements;

/** Op names in variant order: the index is the borsh tag. */
export const OP_NAMES = [
  'issue_asset',
  'grant',
  'transfer',
  'burn',
  'authorize_spend',
  'hold',
  'settle',
  'void',
  'place_offer',
  'cancel_offer',
  'anchor_badges',
  'revoke_badge',
  'propose',
  'cast_vote',
  'publish_plan',
  'retire_plan',
  'settle_app',
  'anchor_achievements',
] as const satisfies readonly Op['op'][];

/** The signed part of a transaction. */
export interface Transaction {
  chain_id: string;
  signer: PublicKey;
  /** Must equal the signer's account seq + 1. */
  seq: bigint;
  /** The last height at which the transaction may be included. */
  valid_until_height: bigint;
  /** 1..=16 ops, applied atomically. */
  ops: Op[];
  memo: Uint8Array;
}

/** A transaction with its signature. */
export interface SignedTransaction {
  tx: Transaction;
  signature: Signature;
}

// ---- field codecs shared with other modules (defined in fields.ts) ----

export * from './fields.js';

const GRANT_KINDS: readonly GrantKind[] = ['purchase', 'reward', 'promo'];
const REWARD_REASONS = ['client_library', 'how_to_guide', 'forum_support', 'published_application'] as const;
const OFFER_MODES: readonly OfferMode[] = ['normal', 'passive', 'immediate_or_cancel', 'fill_or_kill'];
export const BADGE_FORMATS: readonly BadgeFormat[] = ['open_badges2', 'open_badges3'];
export const BADGE_CANONS: readonly BadgeCanon[] = ['jcs-blake3', 'raw-blake3'];

function writeSettle(w: Writer, op: Omit<Settle, 'op'>): void {
  writeOpId(w, op.hold_id);
  writeOpId(w, op.batch_id);
  w.u128(op.amount);
  writeHash(w, op.usage_root);
  w.list(op.lines ?? [], LIMITS.SETTLE_LINES_MAX, 'usage lines', writeUsageLine);
}

function readSettle(r: Reader): Omit<Settle, 'op'> {
  return {
    hold_id: readOpId(r),
    batch_id: readOpId(r),
    amount: r.u128('amount'),
    usage_root: readHash(r),
    lines: r.list(LIMITS.SETTLE_LINES_MAX, 'usage lines', readUsageLine),
  };
}

function writeAnchor(w: Writer, op: Omit<AnchorBadges, 'op'>): void {
  writeHash(w, op.batch_root);
  w.u32(op.leaf_count);
  w.u8(indexOf(BADGE_FORMATS, op.format, 'badge format'));
  w.u8(indexOf(BADGE_CANONS, op.canon, 'badge canon'));
  w.option(op.metadata_uri, (w2, v) => w2.string(v, LIMITS.BADGE_METADATA_URI_BYTES_MAX, 'metadata uri'));
}

function readAnchor(r: Reader): Omit<AnchorBadges, 'op'> {
  return {
    batch_root: readHash(r),
    leaf_count: r.u32('leaf_count'),
    format: BADGE_FORMATS[r.tag(BADGE_FORMATS.length, 'BadgeFormat')]!,
    canon: BADGE_CANONS[r.tag(BADGE_CANONS.length, 'BadgeCanon')]!,
    metadata_uri: r.option('metadata_uri', (r2) => r2.string(LIMITS.BADGE_METADATA_URI_BYTES_MAX, 'metadata uri')),
  };
}

/** The badge anchor an op makes (`anchor_badges`, or the anchor of `anchor_achievements`). */
export function badgeAnchorOf(op: Op): Omit<AnchorBadges, 'op'> | null {
  if (op.op === 'anchor_badges') return op;
  if (op.op === 'anchor_achievements') return op.anchor;
  return null;
}

function indexOf<T>(values: readonly T[], value: T, what: string): number {
  const index = values.indexOf(value);
  if (index < 0) throw new RangeError(`unknown ${what} ${JSON.stringify(value)}`);
  return index;
}

function writeRewardReason(w: Writer, reason: RewardReason): void {
  if (typeof reason === 'object' && reason !== null && 'other' in reason) {
    w.u8(4).string(reason.other, LIMITS.REWARD_REASON_BYTES_MAX, 'reward reason');
  } else {
    w.u8(indexOf(REWARD_REASONS, reason as (typeof REWARD_REASONS)[number], 'reward reason'));
  }
}
function readRewardReason(r: Reader): RewardReason {
  const tag = r.tag(5, 'RewardReason');
  if (tag === 4) return { other: r.string(LIMITS.REWARD_REASON_BYTES_MAX, 'reward reason') };
  return REWARD_REASONS[tag]!;
}

/** Writes one op: its variant tag, then its fields in declaration order. */
export function writeOp(w: Writer, op: Op): void {
  w.u8(indexOf(OP_NAMES, op.op, 'op'));
  switch (op.op) {
    case 'issue_asset':
      writeAssetCode(w, op.code);
      w.u8(op.scale);
      w.option(op.max_supply, (w2, v) => w2.u128(v));
      w.u32(op.flags);
      return;
    case 'grant':
      writeOpId(w, op.grant_id);
      writeAssetId(w, op.asset);
      writeKey(w, op.to);
      w.u128(op.amount);
      w.u8(indexOf(GRANT_KINDS, op.kind, 'grant kind'));
      w.option(op.reason, writeRewardReason);
      w.string(op.external_ref, LIMITS.GRANT_EXTERNAL_REF_BYTES_MAX, 'external ref');
      w.option(op.pack, (w2, pack) => {
        writePlanRef(w2, pack.plan);
        writeItemName(w2, pack.pack);
      });
      return;
    case 'transfer':
      writeAssetId(w, op.asset);
      writeKey(w, op.to);
      w.u128(op.amount);
      return;
    case 'burn':
      writeAssetId(w, op.asset);
      w.u128(op.amount);
      return;
    case 'authorize_spend':
      writeMemberId(w, op.provider);
      writeAssetId(w, op.asset);
      w.u128(op.cap);
      w.u64(op.expires_at_ms);
      w.option(op.plan, writePlanRef);
      return;
    case 'hold':
      writeOpId(w, op.hold_id);
      writeKey(w, op.holder);
      writeAssetId(w, op.asset);
      w.u128(op.amount);
      w.u64(op.expires_at_ms);
      return;
    case 'settle':
      writeSettle(w, op);
      return;
    case 'settle_app':
      writeSettle(w, op.settle);
      writeAppId(w, op.app);
      return;
    case 'void':
      writeOpId(w, op.hold_id);
      return;
    case 'place_offer':
      writeOpId(w, op.offer_id);
      writeAssetId(w, op.sell);
      writeAssetId(w, op.buy);
      w.u128(op.amount);
      writePrice(w, op.price);
      w.u8(indexOf(OFFER_MODES, op.mode, 'offer mode'));
      return;
    case 'cancel_offer':
      writeOpId(w, op.offer_id);
      return;
    case 'anchor_badges':
      writeAnchor(w, op);
      return;
    case 'anchor_achievements':
      writeAnchor(w, op.anchor);
      w.list(op.achievements, LIMITS.ANCHOR_ACHIEVEMENTS_MAX, 'achievements', (w2, entry) => {
        writeAchievementId(w2, entry.achievement);
        w2.u32(entry.count);
      });
      return;
    case 'revoke_badge':
      writeHash(w, op.badge_hash);
      w.string(op.reason, LIMITS.BADGE_REVOCATION_REASON_BYTES_MAX, 'revocation reason');
      return;
    case 'propose':
      writeOpId(w, op.proposal_id);
      writeAction(w, op.action);
      w.u64(op.expires_at_height);
      return;
    case 'cast_vote':
      writeOpId(w, op.proposal_id);
      w.bool(op.approve);
      return;
    case 'publish_plan':
      writePricePlan(w, op.plan);
      return;
    case 'retire_plan':
      writePlanRef(w, op.plan);
      return;
  }
}

/** Reads one op. */
export function readOp(r: Reader): Op {
  const name = OP_NAMES[r.tag(OP_NAMES.length, 'Op')]!;
  switch (name) {
    case 'issue_asset':
      return {
        op: name,
        code: readAssetCode(r),
        scale: r.u8('scale'),
        max_supply: r.option('max_supply', (r2) => r2.u128('max_supply')),
        flags: r.u32('flags'),
      };
    case 'grant':
      return {
        op: name,
        grant_id: readOpId(r),
        asset: readAssetId(r),
        to: readKey(r),
        amount: r.u128('amount'),
        kind: GRANT_KINDS[r.tag(GRANT_KINDS.length, 'GrantKind')]!,
        reason: r.option('reason', readRewardReason),
        external_ref: r.string(LIMITS.GRANT_EXTERNAL_REF_BYTES_MAX, 'external ref'),
        pack: r.option('pack', (r2) => ({ plan: readPlanRef(r2), pack: readItemName(r2) })),
      };
    case 'transfer':
      return { op: name, asset: readAssetId(r), to: readKey(r), amount: r.u128('amount') };
    case 'burn':
      return { op: name, asset: readAssetId(r), amount: r.u128('amount') };
    case 'authorize_spend':
      return {
        op: name,
        provider: readMemberId(r),
        asset: readAssetId(r),
        cap: r.u128('cap'),
        expires_at_ms: r.u64('expires_at_ms'),
        plan: r.option('plan', readPlanRef),
      };
    case 'hold':
      return {
        op: name,
        hold_id: readOpId(r),
        holder: readKey(r),
        asset: readAssetId(r),
        amount: r.u128('amount'),
        expires_at_ms: r.u64('expires_at_ms'),
      };
    case 'settle':
      return { op: name, ...readSettle(r) };
    case 'settle_app':
      return { op: name, settle: readSettle(r), app: readAppId(r) };
    case 'void':
      return { op: name, hold_id: readOpId(r) };
    case 'place_offer':
      return {
        op: name,
        offer_id: readOpId(r),
        sell: readAssetId(r),
        buy: readAssetId(r),
        amount: r.u128('amount'),
        price: readPrice(r),
        mode: OFFER_MODES[r.tag(OFFER_MODES.length, 'OfferMode')]!,
      };
    case 'cancel_offer':
      return { op: name, offer_id: readOpId(r) };
    case 'anchor_badges':
      return { op: name, ...readAnchor(r) };
    case 'anchor_achievements':
      return {
        op: name,
        anchor: readAnchor(r),
        achievements: r.list(LIMITS.ANCHOR_ACHIEVEMENTS_MAX, 'achievements', (r2) => ({
          achievement: readAchievementId(r2),
          count: r2.u32('count'),
        })),
      };
    case 'revoke_badge':
      return {
        op: name,
        badge_hash: readHash(r),
        reason: r.string(LIMITS.BADGE_REVOCATION_REASON_BYTES_MAX, 'revocation reason'),
      };
    case 'propose':
      return { op: name, proposal_id: readOpId(r), action: readAction(r), expires_at_height: r.u64('expires_at_height') };
    case 'cast_vote':
      return { op: name, proposal_id: readOpId(r), approve: r.bool('approve') };
    case 'publish_plan':
      return { op: name, plan: readPricePlan(r) };
    case 'retire_plan':
      return { op: name, plan: readPlanRef(r) };
  }
}

export const TransactionCodec: Codec<Transaction> = {
  typeName: 'Transaction',
  maxEncodedSize: LIMITS.TX_BYTES_MAX - 64,
  write(w, tx) {
    writeChainId(w, tx.chain_id);
    writeKey(w, tx.signer);
    w.u64(tx.seq);
    w.u64(tx.valid_until_height);
    w.list(tx.ops, LIMITS.TX_OPS_MAX, 'ops', writeOp);
    w.bytes(tx.memo, LIMITS.TX_MEMO_BYTES_MAX, 'memo');
  },
  read(r) {
    return {
      chain_id: readChainId(r),
      signer: readKey(r),
      seq: r.u64('seq'),
      valid_until_height: r.u64('valid_until_height'),
      ops: r.list(LIMITS.TX_OPS_MAX, 'ops', readOp),
      memo: r.bytesBounded(LIMITS.TX_MEMO_BYTES_MAX, 'memo'),
    };
  },
};

export const SignedTransactionCodec: Codec<SignedTransaction> = {
  typeName: 'SignedTransaction',
  maxEncodedSize: LIMITS.TX_BYTES_MAX,
  write(w, signed) {
    TransactionCodec.write(w, signed.tx);
    writeSignature(w, signed.signature);
  },
  read(r) {
    return { tx: TransactionCodec.read(r), signature: readSignature(r) };
  },
};

/** The transaction id: `tally v1 tx id` hash of the encoded body (the signature is not in it). */
export function txId(tx: Transaction | SignedTransaction): Hash {
  const body = 'tx' in tx ? tx.tx : tx;
  return domainHash('txId', encode(TransactionCodec, body));
}

/** Hex of the transaction id. */
export function txIdHex(tx: Transaction | SignedTransaction): string {
  return toHex(txId(tx));
}

/** Signs `tx` with `key`, which must be the signer's. */
export function signTransaction(tx: Transaction, key: SecretKey): SignedTransaction {
  if (!sameKey(key.publicKey, tx.signer)) {
    throw new RangeError('signing with a key that is not the transaction signer');
  }
  return { tx, signature: key.sign('tx', tx.chain_id, encode(TransactionCodec, tx)) };
}

/** Why a transaction is malformed whatever the ledger state (the Rust `TxFormError`);
 * `bad-key:OP:PROBLEM` names the index of the op whose key is refused. */
export type TxFormProblem =
  | 'no-ops'
  | 'zero-seq'
  | `bad-key:${number}:${KeyProblem}`
  | `bad-signer:${KeyProblem}`
  | 'bad-signature';

/** Every key an op names besides the signer's (the Rust `Op::named_keys`): a recipient, a
 * holder, the keys of a governance action. Each must be a valid point and not weak. */
export function namedKeys(op: Op): PublicKey[] {
  const applicationKeys = (application: SignedApplication): PublicKey[] => [
    application.body.issuer,
    application.body.consensus_key,
    application.body.network_key,
  ];
  switch (op.op) {
    case 'grant':
    case 'transfer':
      return [op.to];
    case 'hold':
      return [op.holder];
    case 'propose': {
      const action = op.action;
      switch (action.action) {
        case 'add_member':
        case 'add_validator':
          return applicationKeys(action.application);
        case 'remove_validator':
          return [action.consensus_key];
        case 'rotate_validator_key':
          return [action.consensus_key, ...applicationKeys(action.application)];
        default:
          return [];
      }
    }
    default:
      return [];
  }
}

/**
 * The checks that need no ledger state: at least one op, seq ≥ 1, every key the ops name and
 * the signer key valid and not weak, the signature valid under Tally's rule. `null` when the
 * transaction passes.
 */
export function checkFormAndSignature(signed: SignedTransaction): TxFormProblem | null {
  if (signed.tx.ops.length === 0) return 'no-ops';
  if (signed.tx.seq === 0n) return 'zero-seq';
  for (const [index, op] of signed.tx.ops.entries()) {
    for (const key of namedKeys(op)) {
      const keyProblem = validateKey(key);
      if (keyProblem !== null) return `bad-key:${index}:${keyProblem}`;
    }
  }
  const problem = verifySignature(
    signed.tx.signer,
    'tx',
    signed.tx.chain_id,
    encode(TransactionCodec, signed.tx),
    signed.signature,
  );
  if (problem === null) return null;
  return problem === 'bad-signature' ? 'bad-signature' : `bad-signer:${problem}`;
}
