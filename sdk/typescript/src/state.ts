/**
 * Ledger state entries (`node/ledger/src/state.rs`): typed keys and values, their canonical
 * encodings, and the state proof check. The tree commits to `tally v1 state key` hash of the
 * encoded key → `tally v1 state value` hash of the encoded value.
 */

import type { Codec, Reader, Writer } from './codec.js';
import { decode, encode } from './codec.js';
import { fromHex } from './bytes.js';
import { VerifyError } from './errors.js';
import { domainHash, type Hash } from './hash.js';
import type { PublicKey } from './keys.js';
import { LIMITS } from './limits.js';
import { verifySmtProof, type SmtProof } from './smt.js';
import type { Price } from './amount.js';
import {
  readAction,
  readConsensusParams,
  readThreshold,
  writeAction,
  writeConsensusParams,
  writeThreshold,
  type Action,
  type ConsensusParams,
  type Threshold,
} from './governance.js';
import { ERROR_CODES, type ErrorCode } from './receipt.js';
import {
  readAchievementId,
  readAppId,
  readItemName,
  readPlanId,
  readPlanRef,
  readPricePlan,
  writeAchievementId,
  writeAppId,
  writeItemName,
  writePlanId,
  writePlanRef,
  writePricePlan,
  type PlanRef,
  type PricePlan,
} from './pricing.js';
import {
  BADGE_CANONS,
  BADGE_FORMATS,
  readAssetId,
  readHash,
  readKey,
  readMemberId,
  readOpId,
  readPrice,
  writeAssetId,
  writeHash,
  writeKey,
  writeMemberId,
  writeOpId,
  writePrice,
  type BadgeCanon,
  type BadgeFormat,
  type OfferMode,
} from './tx.js';

/** An offer's place in its book: a 24-byte price rank, then (height, tx index, op index). */
export interface BookPosition {
  rank: Uint8Array;
  stamp: { height: bigint; tx_index: bigint; op_index: number };
}

/** The position of one ledger entry. Variant order is part of the protocol. */
export type StateKey =
  | { kind: 'account'; account: PublicKey }
  | { kind: 'balance'; account: PublicKey; asset: string }
  | { kind: 'asset'; asset: string }
  | { kind: 'member'; member: string }
  | { kind: 'issuer'; account: PublicKey }
  | { kind: 'grant_id'; member: string; grant_id: Uint8Array }
  | { kind: 'authorization'; holder: PublicKey; provider: string; asset: string }
  | { kind: 'hold'; hold_id: Uint8Array }
  | { kind: 'hold_expiry'; expires_at_ms: bigint; hold_id: Uint8Array }
  | { kind: 'batch_id'; member: string; batch_id: Uint8Array }
  | { kind: 'offer'; owner: PublicKey; offer_id: Uint8Array }
  | { kind: 'book_entry'; sell: string; buy: string; position: BookPosition }
  | { kind: 'badge_anchor'; batch_root: Hash }
  | { kind: 'badge_revocation'; member: string; badge_hash: Hash }
  /** Index: the member a governance key proposes and votes for; present while the member is active. */
  | { kind: 'governor'; account: PublicKey }
  /** The consortium's threshold and member count; one entry. */
  | { kind: 'governance' }
  /** A validator of the current or a pending epoch, by its consensus key. */
  | { kind: 'validator'; consensus_key: PublicKey }
  /** The current epoch and the scheduled ones; one entry. */
  | { kind: 'epochs' }
  /** A governance proposal, open or decided, kept forever. */
  | { kind: 'proposal'; proposal_id: Uint8Array }
  /** One version of a member's price plan, kept forever. */
  | { kind: 'plan'; member: string; plan_id: string; version: bigint }
  /** What a holder settled under one version of a member's price plan, per item. */
  | { kind: 'plan_usage'; holder: PublicKey; member: string; plan_id: string; version: bigint }
  /** What a holder settled with one provider (ledger facts: "N API calls"). */
  | { kind: 'usage'; holder: PublicKey; provider: string }
  /** What a holder paid one provider in one asset by settlements. */
  | { kind: 'spent'; holder: PublicKey; provider: string; asset: string }
  /** One application of a holder with usage settled by one provider (`settle_app`). */
  | { kind: 'app_usage'; holder: PublicKey; provider: string; app: string }
  /** Credits an account received in one asset, from market fills and grants. */
  | { kind: 'revenue'; account: PublicKey; asset: string }
  /** Badges one member anchored for one achievement (`anchor_achievements`): community figures. */
  | { kind: 'badge_figures'; member: string; achievement: string };

export const ENTRY_KINDS = [
  'account',
  'balance',
  'asset',
  'member',
  'issuer',
  'grant_id',
  'authorization',
  'hold',
  'hold_expiry',
  'batch_id',
  'offer',
  'book_entry',
  'badge_anchor',
  'badge_revocation',
  'governor',
  'governance',
  'validator',
  'epochs',
  'proposal',
  'plan',
  'plan_usage',
  'usage',
  'spent',
  'app_usage',
  'revenue',
  'badge_figures',
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

function writePosition(w: Writer, position: BookPosition): void {
  w.fixed(position.rank, 24, 'price rank');
  w.u64BigEndian(position.stamp.height).u64BigEndian(position.stamp.tx_index).u8(position.stamp.op_index);
}
function readPosition(r: Reader): BookPosition {
  return {
    rank: r.fixed(24, 'price rank'),
    stamp: { height: r.u64BigEndian('stamp height'), tx_index: r.u64BigEndian('stamp tx index'), op_index: r.u8('op index') },
  };
}

export const StateKeyCodec: Codec<StateKey> = {
  typeName: 'StateKey',
  maxEncodedSize: LIMITS.STATE_KEY_BYTES_MAX,
  write(w, key) {
    w.u8(ENTRY_KINDS.indexOf(key.kind));
    switch (key.kind) {
      case 'account':
      case 'issuer':
        return writeKey(w, key.account);
      case 'balance':
        writeKey(w, key.account);
        return writeAssetId(w, key.asset);
      case 'asset':
        return writeAssetId(w, key.asset);
      case 'member':
        return writeMemberId(w, key.member);
      case 'grant_id':
        writeMemberId(w, key.member);
        return writeOpId(w, key.grant_id);
      case 'authorization':
        writeKey(w, key.holder);
        writeMemberId(w, key.provider);
        return writeAssetId(w, key.asset);
      case 'hold':
        return writeOpId(w, key.hold_id);
      case 'hold_expiry':
        w.u64BigEndian(key.expires_at_ms);
        return writeOpId(w, key.hold_id);
      case 'batch_id':
        writeMemberId(w, key.member);
        return writeOpId(w, key.batch_id);
      case 'offer':
        writeKey(w, key.owner);
        return writeOpId(w, key.offer_id);
      case 'book_entry':
        writeAssetId(w, key.sell);
        writeAssetId(w, key.buy);
        return writePosition(w, key.position);
      case 'badge_anchor':
        return writeHash(w, key.batch_root);
      case 'badge_revocation':
        writeMemberId(w, key.member);
        return writeHash(w, key.badge_hash);
      case 'governor':
        return writeKey(w, key.account);
      case 'validator':
        return writeKey(w, key.consensus_key);
      case 'proposal':
        return writeOpId(w, key.proposal_id);
      case 'plan':
        writeMemberId(w, key.member);
        writePlanId(w, key.plan_id);
        return void w.u64BigEndian(key.version);
      case 'plan_usage':
        writeKey(w, key.holder);
        writeMemberId(w, key.member);
        writePlanId(w, key.plan_id);
        return void w.u64BigEndian(key.version);
      case 'usage':
        writeKey(w, key.holder);
        return writeMemberId(w, key.provider);
      case 'spent':
        writeKey(w, key.holder);
        writeMemberId(w, key.provider);
        return writeAssetId(w, key.asset);
      case 'app_usage':
        writeKey(w, key.holder);
        writeMemberId(w, key.provider);
        return writeAppId(w, key.app);
      case 'revenue':
        writeKey(w, key.account);
        return writeAssetId(w, key.asset);
      case 'badge_figures':
        writeMemberId(w, key.member);
        return writeAchievementId(w, key.achievement);
      case 'governance':
      case 'epochs':
        return;
    }
  },
  read(r) {
    const kind = ENTRY_KINDS[r.tag(ENTRY_KINDS.length, 'StateKey')]!;
    switch (kind) {
      case 'account':
      case 'issuer':
        return { kind, account: readKey(r) };
      case 'balance':
        return { kind, account: readKey(r), asset: readAssetId(r) };
      case 'asset':
        return { kind, asset: readAssetId(r) };
      case 'member':
        return { kind, member: readMemberId(r) };
      case 'grant_id':
        return { kind, member: readMemberId(r), grant_id: readOpId(r) };
      case 'authorization':
        return { kind, holder: readKey(r), provider: readMemberId(r), asset: readAssetId(r) };
      case 'hold':
        return { kind, hold_id: readOpId(r) };
      case 'hold_expiry':
        return { kind, expires_at_ms: r.u64BigEndian('expires_at_ms'), hold_id: readOpId(r) };
      case 'batch_id':
        return { kind, member: readMemberId(r), batch_id: readOpId(r) };
      case 'offer':
        return { kind, owner: readKey(r), offer_id: readOpId(r) };
      case 'book_entry':
        return { kind, sell: readAssetId(r), buy: readAssetId(r), position: readPosition(r) };
      case 'badge_anchor':
        return { kind, batch_root: readHash(r) };
      case 'badge_revocation':
        return { kind, member: readMemberId(r), badge_hash: readHash(r) };
      case 'governor':
        return { kind, account: readKey(r) };
      case 'validator':
        return { kind, consensus_key: readKey(r) };
      case 'proposal':
        return { kind, proposal_id: readOpId(r) };
      case 'plan':
        return { kind, member: readMemberId(r), plan_id: readPlanId(r), version: r.u64BigEndian('version') };
      case 'plan_usage':
        return {
          kind,
          holder: readKey(r),
          member: readMemberId(r),
          plan_id: readPlanId(r),
          version: r.u64BigEndian('version'),
        };
      case 'usage':
        return { kind, holder: readKey(r), provider: readMemberId(r) };
      case 'spent':
        return { kind, holder: readKey(r), provider: readMemberId(r), asset: readAssetId(r) };
      case 'app_usage':
        return { kind, holder: readKey(r), provider: readMemberId(r), app: readAppId(r) };
      case 'revenue':
        return { kind, account: readKey(r), asset: readAssetId(r) };
      case 'badge_figures':
        return { kind, member: readMemberId(r), achievement: readAchievementId(r) };
      case 'governance':
      case 'epochs':
        return { kind };
    }
  },
};

/** The encoded key (the `key` query of `GET /v1/state/proof`, in hex). */
export function stateKeyBytes(key: StateKey): Uint8Array {
  return encode(StateKeyCodec, key);
}

/** The key's position in the tree: `tally v1 state key` hash of the encoded key. */
export function stateKeyHash(key: StateKey): Hash {
  return domainHash('stateKey', stateKeyBytes(key));
}

/** `tally v1 state value` hash of encoded value bytes. */
export function stateValueHash(valueBytes: Uint8Array): Hash {
  return domainHash('stateValue', valueBytes);
}

export type HoldStatus =
  | { status: 'open' }
  | { status: 'settled'; batch_id: Uint8Array; amount: bigint; height: bigint }
  | { status: 'voided'; height: bigint }
  | { status: 'expired'; height: bigint };

export type OfferStatus =
  | { status: 'open' }
  | { status: 'filled'; height: bigint }
  | { status: 'cancelled'; height: bigint }
  | { status: 'closed'; height: bigint };

/** Who validates, and with which parameters, from one height on. */
export interface EpochConfig {
  /** 0 for genesis, then one more for each change. */
  number: bigint;
  /** The first height of the epoch (1 for genesis). */
  start_height: bigint;
  /** Consensus keys in leader-rotation order. */
  validators: PublicKey[];
  params: ConsensusParams;
}

/** One member's vote on a proposal. */
export interface VoteRecord {
  member: string;
  approve: boolean;
  height: bigint;
}

/** Where a proposal stands. */
export type ProposalOutcome =
  | { status: 'open' }
  | { status: 'passed'; height: bigint }
  | { status: 'rejected'; height: bigint }
  | { status: 'failed'; height: bigint; code: ErrorCode };

/** The value of one ledger entry. */
export type StateValue =
  | { kind: 'account'; seq: bigint }
  | { kind: 'balance'; available: bigint; locked: bigint }
  | { kind: 'asset'; scale: number; max_supply: bigint | null; flags: number; supply: bigint; minted: bigint; burned: bigint }
  | {
      kind: 'member';
      name: string;
      /** Sorted and unique; at least one. */
      issuers: PublicKey[];
      /** The key that proposes and votes for the member. */
      governance_key: PublicKey;
      /** The height of the block whose passed proposal removed the member, or `null` while active. */
      removed_at: bigint | null;
    }
  | { kind: 'issuer'; member: string }
  | { kind: 'grant_id'; height: bigint }
  | { kind: 'authorization'; cap: bigint; cap_remaining: bigint; expires_at_ms: bigint; plan: PlanRef | null }
  | {
      kind: 'hold';
      member: string;
      holder: PublicKey;
      asset: string;
      amount: bigint;
      expires_at_ms: bigint;
      created_at: bigint;
      status: HoldStatus;
      /** The price plan version the holder agreed to; a settlement charges its price. */
      plan: PlanRef | null;
    }
  | { kind: 'hold_expiry' }
  | { kind: 'batch_id'; hold_id: Uint8Array; amount: bigint; usage_root: Hash; height: bigint }
  | {
      kind: 'offer';
      sell: string;
      buy: string;
      price: Price;
      mode: OfferMode;
      amount: bigint;
      remaining: bigint;
      position: BookPosition;
      status: OfferStatus;
    }
  | { kind: 'book_entry'; owner: PublicKey; offer_id: Uint8Array }
  | {
      kind: 'badge_anchor';
      member: string;
      issuer: PublicKey;
      leaf_count: number;
      format: BadgeFormat;
      canon: BadgeCanon;
      metadata_uri: string | null;
      height: bigint;
      tx_id: Hash;
    }
  | { kind: 'badge_revocation'; reason: string; issuer: PublicKey; height: bigint; tx_id: Hash }
  | { kind: 'governor'; member: string }
  | { kind: 'governance'; threshold: Threshold; active_members: number }
  | { kind: 'validator'; member: string; name: string; network_key: PublicKey; p2p_listen: string; http_listen: string }
  | { kind: 'epochs'; current: EpochConfig; pending: EpochConfig[] }
  | {
      kind: 'proposal';
      proposer: string;
      action: Action;
      /** The height of the block that holds the proposal. */
      height: bigint;
      /** The last height at which a vote counts. */
      expires_at_height: bigint;
      /** One per member, in the order cast; the proposer's yes is the first. */
      votes: VoteRecord[];
      outcome: ProposalOutcome;
      tx_id: Hash;
    }
  | { kind: 'plan'; plan: PricePlan; published_at: bigint; retired_at: bigint | null }
  | { kind: 'plan_usage'; items: ItemUsage[] }
  /** Σ units of the settlements' lines, settlements, distinct applications (`app_usage` entries). */
  | { kind: 'usage'; units: bigint; settlements: bigint; applications: number }
  /** Σ settled amounts (minor units) and settlements. */
  | { kind: 'spent'; amount: bigint; settlements: bigint }
  | { kind: 'app_usage'; units: bigint; settlements: bigint; first_height: bigint }
  /** Received from market fills and from grants (minor units; saturating). */
  | { kind: 'revenue'; market: bigint; grants: bigint }
  /** Badges anchored for the achievement, anchors that named it, their first and latest height. */
  | { kind: 'badge_figures'; anchored: bigint; batches: bigint; first_height: bigint; last_height: bigint };

/** Settled units of one metered item under a plan version. */
export interface ItemUsage { item: string; units: bigint; billed: bigint; charged: bigint }

const OFFER_MODES: readonly OfferMode[] = ['normal', 'passive', 'immediate_or_cancel', 'fill_or_kill'];
const HOLD_STATUSES = ['open', 'settled', 'voided', 'expired'] as const;
const OFFER_STATUSES = ['open', 'filled', 'cancelled', 'closed'] as const;

function writeHoldStatus(w: Writer, s: HoldStatus): void {
  w.u8(HOLD_STATUSES.indexOf(s.status));
  if (s.status === 'settled') {
    writeOpId(w, s.batch_id);
    w.u128(s.amount).u64(s.height);
  } else if (s.status !== 'open') {
    w.u64(s.height);
  }
}
function readHoldStatus(r: Reader): HoldStatus {
  const status = HOLD_STATUSES[r.tag(4, 'HoldStatus')]!;
  if (status === 'open') return { status };
  if (status === 'settled') return { status, batch_id: readOpId(r), amount: r.u128('amount'), height: r.u64('height') };
  return { status, height: r.u64('height') };
}
const PROPOSAL_OUTCOMES = ['open', 'passed', 'rejected', 'failed'] as const;
/** Epochs scheduled ahead of the current one: at most two (changes take effect two blocks on). */
const PENDING_EPOCHS_MAX = 2;

function writeEpochConfig(w: Writer, e: EpochConfig): void {
  w.u64(e.number).u64(e.start_height);
  w.list(e.validators, LIMITS.VALIDATORS_MAX, 'validators', writeKey);
  writeConsensusParams(w, e.params);
}
function readEpochConfig(r: Reader): EpochConfig {
  return {
    number: r.u64('epoch number'),
    start_height: r.u64('start height'),
    validators: r.list(LIMITS.VALIDATORS_MAX, 'validators', readKey),
    params: readConsensusParams(r),
  };
}
function writeVote(w: Writer, v: VoteRecord): void {
  writeMemberId(w, v.member);
  w.bool(v.approve).u64(v.height);
}
function readVote(r: Reader): VoteRecord {
  return { member: readMemberId(r), approve: r.bool('approve'), height: r.u64('vote height') };
}
function writeProposalOutcome(w: Writer, o: ProposalOutcome): void {
  w.u8(PROPOSAL_OUTCOMES.indexOf(o.status));
  if (o.status === 'open') return;
  w.u64(o.height);
  if (o.status === 'failed') {
    const code = ERROR_CODES.indexOf(o.code);
    if (code < 0) throw new RangeError(`unknown error code ${o.code}`);
    w.u8(code);
  }
}
function readProposalOutcome(r: Reader): ProposalOutcome {
  const status = PROPOSAL_OUTCOMES[r.tag(PROPOSAL_OUTCOMES.length, 'ProposalOutcome')]!;
  if (status === 'open') return { status };
  const height = r.u64('outcome height');
  if (status === 'failed') return { status, height, code: ERROR_CODES[r.tag(ERROR_CODES.length, 'ErrorCode')]! };
  return { status, height };
}

function writeOfferStatus(w: Writer, s: OfferStatus): void {
  w.u8(OFFER_STATUSES.indexOf(s.status));
  if (s.status !== 'open') w.u64(s.height);
}
function readOfferStatus(r: Reader): OfferStatus {
  const status = OFFER_STATUSES[r.tag(4, 'OfferStatus')]!;
  return status === 'open' ? { status } : { status, height: r.u64('height') };
}

export const StateValueCodec: Codec<StateValue> = {
  typeName: 'StateValue',
  maxEncodedSize: LIMITS.STATE_VALUE_BYTES_MAX,
  write(w, v) {
    w.u8(ENTRY_KINDS.indexOf(v.kind));
    switch (v.kind) {
      case 'account':
        w.u64(v.seq);
        return;
      case 'balance':
        w.u128(v.available).u128(v.locked);
        return;
      case 'asset':
        w.u8(v.scale).option(v.max_supply, (w2, m) => w2.u128(m)).u32(v.flags).u128(v.supply).u128(v.minted).u128(v.burned);
        return;
      case 'member':
        w.string(v.name, LIMITS.MEMBER_NAME_BYTES_MAX, 'member name');
        w.list(v.issuers, LIMITS.MEMBER_ISSUERS_MAX, 'issuers', writeKey);
        writeKey(w, v.governance_key);
        w.option(v.removed_at, (w2, height) => w2.u64(height));
        return;
      case 'issuer':
        writeMemberId(w, v.member);
        return;
      case 'grant_id':
        w.u64(v.height);
        return;
      case 'authorization':
        w.u128(v.cap).u128(v.cap_remaining).u64(v.expires_at_ms);
        w.option(v.plan, writePlanRef);
        return;
      case 'hold':
        writeMemberId(w, v.member);
        writeKey(w, v.holder);
        writeAssetId(w, v.asset);
        w.u128(v.amount).u64(v.expires_at_ms).u64(v.created_at);
        writeHoldStatus(w, v.status);
        w.option(v.plan, writePlanRef);
        return;
      case 'hold_expiry':
        return;
      case 'batch_id':
        writeOpId(w, v.hold_id);
        w.u128(v.amount);
        writeHash(w, v.usage_root);
        w.u64(v.height);
        return;
      case 'offer':
        writeAssetId(w, v.sell);
        writeAssetId(w, v.buy);
        writePrice(w, v.price);
        w.u8(OFFER_MODES.indexOf(v.mode)).u128(v.amount).u128(v.remaining);
        writePosition(w, v.position);
        writeOfferStatus(w, v.status);
        return;
      case 'book_entry':
        writeKey(w, v.owner);
        writeOpId(w, v.offer_id);
        return;
      case 'badge_anchor':
        writeMemberId(w, v.member);
        writeKey(w, v.issuer);
        w.u32(v.leaf_count).u8(BADGE_FORMATS.indexOf(v.format)).u8(BADGE_CANONS.indexOf(v.canon));
        w.option(v.metadata_uri, (w2, uri) => w2.string(uri, LIMITS.BADGE_METADATA_URI_BYTES_MAX, 'metadata uri'));
        w.u64(v.height);
        writeHash(w, v.tx_id);
        return;
      case 'badge_revocation':
        w.string(v.reason, LIMITS.BADGE_REVOCATION_REASON_BYTES_MAX, 'revocation reason');
        writeKey(w, v.issuer);
        w.u64(v.height);
        writeHash(w, v.tx_id);
        return;
      case 'governor':
        writeMemberId(w, v.member);
        return;
      case 'governance':
        writeThreshold(w, v.threshold);
        w.u32(v.active_members);
        return;
      case 'validator':
        writeMemberId(w, v.member);
        w.string(v.name, LIMITS.VALIDATOR_NAME_BYTES_MAX, 'validator name');
        writeKey(w, v.network_key);
        w.string(v.p2p_listen, LIMITS.ADDRESS_BYTES_MAX, 'p2p listen address');
        w.string(v.http_listen, LIMITS.ADDRESS_BYTES_MAX, 'http listen address');
        return;
      case 'epochs':
        writeEpochConfig(w, v.current);
        w.list(v.pending, PENDING_EPOCHS_MAX, 'pending epochs', writeEpochConfig);
        return;
      case 'proposal':
        writeMemberId(w, v.proposer);
        writeAction(w, v.action);
        w.u64(v.height).u64(v.expires_at_height);
        w.list(v.votes, LIMITS.MEMBERS_MAX, 'votes', writeVote);
        writeProposalOutcome(w, v.outcome);
        writeHash(w, v.tx_id);
        return;
      case 'plan':
        writePricePlan(w, v.plan);
        w.u64(v.published_at);
        w.option(v.retired_at, (w2, height) => w2.u64(height));
        return;
      case 'plan_usage':
        w.list(v.items, LIMITS.PLAN_ITEMS_MAX, 'usage items', (w2, item) => {
          writeItemName(w2, item.item);
          w2.u64(item.units).u64(item.billed).u128(item.charged);
        });
        return;
      case 'usage':
        w.u128(v.units).u64(v.settlements).u32(v.applications);
        return;
      case 'spent':
        w.u128(v.amount).u64(v.settlements);
        return;
      case 'app_usage':
        w.u128(v.units).u64(v.settlements).u64(v.first_height);
        return;
      case 'revenue':
        w.u128(v.market).u128(v.grants);
        return;
      case 'badge_figures':
        w.u64(v.anchored).u64(v.batches).u64(v.first_height).u64(v.last_height);
        return;
    }
  },
  read(r) {
    const kind = ENTRY_KINDS[r.tag(ENTRY_KINDS.length, 'StateValue')]!;
    switch (kind) {
      case 'account':
        return { kind, seq: r.u64('seq') };
      case 'balance':
        return { kind, available: r.u128('available'), locked: r.u128('locked') };
      case 'asset':
        return {
          kind,
          scale: r.u8('scale'),
          max_supply: r.option('max_supply', (r2) => r2.u128('max_supply')),
          flags: r.u32('flags'),
          supply: r.u128('supply'),
          minted: r.u128('minted'),
          burned: r.u128('burned'),
        };
      case 'member':
        return {
          kind,
          name: r.string(LIMITS.MEMBER_NAME_BYTES_MAX, 'member name'),
          issuers: r.list(LIMITS.MEMBER_ISSUERS_MAX, 'issuers', readKey),
          governance_key: readKey(r),
          removed_at: r.option('removed_at', (r2) => r2.u64('removed_at')),
        };
      case 'issuer':
        return { kind, member: readMemberId(r) };
      case 'grant_id':
        return { kind, height: r.u64('height') };
      case 'authorization':
        return {
          kind,
          cap: r.u128('cap'),
          cap_remaining: r.u128('cap_remaining'),
          expires_at_ms: r.u64('expires_at_ms'),
          plan: r.option('plan', readPlanRef),
        };
      case 'hold':
        return {
          kind,
          member: readMemberId(r),
          holder: readKey(r),
          asset: readAssetId(r),
          amount: r.u128('amount'),
          expires_at_ms: r.u64('expires_at_ms'),
          created_at: r.u64('created_at'),
          status: readHoldStatus(r),
          plan: r.option('plan', readPlanRef),
        };
      case 'hold_expiry':
        return { kind };
      case 'batch_id':
        return { kind, hold_id: readOpId(r), amount: r.u128('amount'), usage_root: readHash(r), height: r.u64('height') };
      case 'offer':
        return {
          kind,
          sell: readAssetId(r),
          buy: readAssetId(r),
          price: readPrice(r),
          mode: OFFER_MODES[r.tag(4, 'OfferMode')]!,
          amount: r.u128('amount'),
          remaining: r.u128('remaining'),
          position: readPosition(r),
          status: readOfferStatus(r),
        };
      case 'book_entry':
        return { kind, owner: readKey(r), offer_id: readOpId(r) };
      case 'badge_anchor':
        return {
          kind,
          member: readMemberId(r),
          issuer: readKey(r),
          leaf_count: r.u32('leaf_count'),
          format: BADGE_FORMATS[r.tag(2, 'BadgeFormat')]!,
          canon: BADGE_CANONS[r.tag(2, 'BadgeCanon')]!,
          metadata_uri: r.option('metadata_uri', (r2) => r2.string(LIMITS.BADGE_METADATA_URI_BYTES_MAX, 'metadata uri')),
          height: r.u64('height'),
          tx_id: readHash(r),
        };
      case 'badge_revocation':
        return {
          kind,
          reason: r.string(LIMITS.BADGE_REVOCATION_REASON_BYTES_MAX, 'revocation reason'),
          issuer: readKey(r),
          height: r.u64('height'),
          tx_id: readHash(r),
        };
      case 'governor':
        return { kind, member: readMemberId(r) };
      case 'governance':
        return { kind, threshold: readThreshold(r), active_members: r.u32('active_members') };
      case 'validator':
        return {
          kind,
          member: readMemberId(r),
          name: r.string(LIMITS.VALIDATOR_NAME_BYTES_MAX, 'validator name'),
          network_key: readKey(r),
          p2p_listen: r.string(LIMITS.ADDRESS_BYTES_MAX, 'p2p listen address'),
          http_listen: r.string(LIMITS.ADDRESS_BYTES_MAX, 'http listen address'),
        };
      case 'epochs':
        return { kind, current: readEpochConfig(r), pending: r.list(PENDING_EPOCHS_MAX, 'pending epochs', readEpochConfig) };
      case 'proposal':
        return {
          kind,
          proposer: readMemberId(r),
          action: readAction(r),
          height: r.u64('height'),
          expires_at_height: r.u64('expires_at_height'),
          votes: r.list(LIMITS.MEMBERS_MAX, 'votes', readVote),
          outcome: readProposalOutcome(r),
          tx_id: readHash(r),
        };
      case 'plan':
        return {
          kind,
          plan: readPricePlan(r),
          published_at: r.u64('published_at'),
          retired_at: r.option('retired_at', (r2) => r2.u64('retired_at')),
        };
      case 'plan_usage':
        return {
          kind,
          items: r.list(LIMITS.PLAN_ITEMS_MAX, 'usage items', (r2) => ({
            item: readItemName(r2),
            units: r2.u64('units'),
            billed: r2.u64('billed'),
            charged: r2.u128('charged'),
          })),
        };
      case 'usage':
        return { kind, units: r.u128('units'), settlements: r.u64('settlements'), applications: r.u32('applications') };
      case 'spent':
        return { kind, amount: r.u128('amount'), settlements: r.u64('settlements') };
      case 'app_usage':
        return { kind, units: r.u128('units'), settlements: r.u64('settlements'), first_height: r.u64('first_height') };
      case 'revenue':
        return { kind, market: r.u128('market'), grants: r.u128('grants') };
      case 'badge_figures':
        return {
          kind,
          anchored: r.u64('anchored'),
          batches: r.u64('batches'),
          first_height: r.u64('first_height'),
          last_height: r.u64('last_height'),
        };
    }
  },
};

/**
 * Verifies that under `stateRoot`, `key` holds exactly `valueHex` (the encoded value, hex) or
 * nothing when `valueHex` is `null`; returns the decoded value. The root must come from a header
 * whose finality the caller checked.
 */
export function verifyStateEntry(
  stateRoot: Hash,
  key: StateKey,
  valueHex: string | null,
  proof: SmtProof,
): StateValue | null {
  const bytes = valueHex === null ? null : fromHex(valueHex, 'state value');
  try {
    verifySmtProof(proof, stateRoot, stateKeyHash(key), bytes === null ? null : stateValueHash(bytes));
  } catch (error) {
    if (error instanceof VerifyError) {
      throw new VerifyError('state', `state proof for ${key.kind} entry: ${error.message}`, error.expected, error.actual);
    }
    throw error;
  }
  if (bytes === null) return null;
  const value = decode(StateValueCodec, bytes);
  if (value.kind !== key.kind) {
    throw new VerifyError('state', `the ${key.kind} entry holds a ${value.kind} value`, key.kind, value.kind);
  }
  return value;
}
