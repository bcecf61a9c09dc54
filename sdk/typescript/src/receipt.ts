/** Receipts (`node/types/src/receipt.rs`): the outcome of every included transaction. */

import type { Codec } from './codec.js';
import { encode } from './codec.js';
import { domainHash, type Hash } from './hash.js';
import type { PublicKey } from './keys.js';
import { LIMITS } from './limits.js';
import type { Price } from './amount.js';
import { readHash, readKey, readOpId, readPrice, writeHash, writeKey, writeOpId, writePrice } from './tx.js';

/** Why an op failed, in discriminant order (the order is the wire format). */
export const ERROR_CODES = [
  'not_issuer',
  'unknown_member',
  'unknown_asset',
  'asset_exists',
  'bad_scale',
  'bad_flags',
  'zero_amount',
  'max_supply_exceeded',
  'amount_overflow',
  'insufficient_balance',
  'duplicate_grant_id',
  'self_transfer',
  'reward_reason_missing',
  'reason_not_allowed',
  'not_transferable',
  'bad_max_supply',
  'op_not_supported',
  'no_authorization',
  'cap_exceeded',
  'duplicate_hold_id',
  'unknown_hold',
  'hold_closed',
  'duplicate_batch_id',
  'settle_exceeds_hold',
  'hold_not_expired',
  'bad_expiry',
  'bad_price',
  'same_asset',
  'duplicate_offer_id',
  'unknown_offer',
  'not_offer_owner',
  'self_trade',
  'fill_or_kill_not_filled',
  'passive_would_cross',
  'too_many_fills',
  'not_tradable',
  'bad_badge_batch',
  'duplicate_badge_root',
  'badge_already_revoked',
  'not_member',
  'duplicate_proposal',
  'bad_proposal_expiry',
  'unknown_proposal',
  'proposal_closed',
  'proposal_expired',
  'already_voted',
  'application_wrong_chain',
  'bad_proof_of_possession',
  'member_exists',
  'key_in_use',
  'unknown_validator',
  'validator_count_out_of_range',
  'bad_consensus_params',
  'bad_threshold',
  'issuer_not_of_member',
  'bad_application',
  'unknown_plan',
  'plan_retired',
  'plan_version_exists',
  'plan_version_gap',
  'bad_plan',
  'plan_asset_mismatch',
  'unknown_plan_item',
  'bad_usage_lines',
  'settle_amount_mismatch',
  'unknown_pack',
  'pack_mismatch',
  'bad_achievement_list',
  'achievement_count_mismatch',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One trade of a PlaceOffer op against a resting offer. */
export interface Fill {
  op_index: number;
  maker_offer: Uint8Array;
  taker_offer: Uint8Array;
  maker: PublicKey;
  taker: PublicKey;
  maker_gave: bigint;
  taker_gave: bigint;
  price: Price;
}

export type TxOutcome = { status: 'success' } | { status: 'failed'; op_index: number; code: ErrorCode };

export interface Receipt {
  tx_id: Hash;
  outcome: TxOutcome;
  fills: Fill[];
}

export const ReceiptCodec: Codec<Receipt> = {
  typeName: 'Receipt',
  maxEncodedSize: LIMITS.RECEIPT_BYTES_MAX,
  write(w, receipt) {
    writeHash(w, receipt.tx_id);
    if (receipt.outcome.status === 'success') {
      w.u8(0);
    } else {
      const code = ERROR_CODES.indexOf(receipt.outcome.code);
      if (code < 0) throw new RangeError(`unknown error code ${receipt.outcome.code}`);
      w.u8(1).u8(receipt.outcome.op_index).u8(code);
    }
    w.list(receipt.fills, LIMITS.RECEIPT_FILLS_MAX, 'fills', (w2, fill) => {
      w2.u8(fill.op_index);
      writeOpId(w2, fill.maker_offer);
      writeOpId(w2, fill.taker_offer);
      writeKey(w2, fill.maker);
      writeKey(w2, fill.taker);
      w2.u128(fill.maker_gave).u128(fill.taker_gave);
      writePrice(w2, fill.price);
    });
  },
  read(r) {
    const tx_id = readHash(r);
    const outcome: TxOutcome =
      r.tag(2, 'TxOutcome') === 0
        ? { status: 'success' }
        : { status: 'failed', op_index: r.u8('op_index'), code: ERROR_CODES[r.tag(ERROR_CODES.length, 'ErrorCode')]! };
    const fills = r.list(LIMITS.RECEIPT_FILLS_MAX, 'fills', (r2) => ({
      op_index: r2.u8('op_index'),
      maker_offer: readOpId(r2),
      taker_offer: readOpId(r2),
      maker: readKey(r2),
      taker: readKey(r2),
      maker_gave: r2.u128('maker_gave'),
      taker_gave: r2.u128('taker_gave'),
      price: readPrice(r2),
    }));
    return { tx_id, outcome, fills };
  },
};

/** The hash a receipts root commits to: `tally v1 receipt` hash of the encoded receipt. */
export function receiptHash(receipt: Receipt): Hash {
  return domainHash('receipt', encode(ReceiptCodec, receipt));
}
