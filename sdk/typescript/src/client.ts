/**
 * An HTTP client for a Tally node's API (`node/src/api.rs`): submission (one transaction, or a
 * batch as JSON or borsh), waiting for commit, and every read route, with types. Errors are
 * `HttpError`s carrying the node's RFC 9457 problem document. Every request has a timeout.
 *
 * Nothing read here is trusted: `verify.ts` checks blocks, certificates and proofs against the
 * validator set. Blocks and certificates are fetched as canonical bytes (`?format=borsh`), so
 * their ids are computed over exactly what was signed.
 */

import { toHex } from './bytes.js';
import { decode, encode } from './codec.js';
import { HttpError, InputError, type Problem } from './errors.js';
import { BlockCodec, type Block } from './block.js';
import { CertificateCodec, type Certificate } from './consensus.js';
import { parseJsonLossless, type JsonInt, type MerkleProofJson, type ReceiptJson, type SmtProofJson } from './json.js';
import { toAddress, type PublicKey } from './keys.js';
import { LIMITS } from './limits.js';
import { stateKeyBytes, type StateKey } from './state.js';
import { SignedTransactionCodec, txIdHex, type SignedTransaction } from './tx.js';
import { SubmitBatchCodec } from './wire.js';
import type { Hash } from './hash.js';

// ---- answers, as the node writes them ----

export interface SubmitAnswer { tx_id: string }
/**
 * A transaction as every JSON answer of the node shows it (`GET /v1/txs/{id}`, its receipt
 * route, `GET /v1/blocks/{height}`, history, `tx` events): the signed fields decoded, the
 * signature, and `tx`, the hex of its canonical bytes (what the id hashes; decode it with
 * `SignedTransactionCodec` to verify). Answers add where it sits beside these fields.
 */
export interface TxJson {
  tx_id: string;
  chain_id: string;
  signer: string;
  seq: JsonInt;
  valid_until_height: JsonInt;
  ops: unknown[];
  /** Hex. */
  memo: string;
  signature: string;
  /** Hex of the borsh-encoded signed transaction. */
  tx: string;
}
export interface TxInclusion extends TxJson {
  height: JsonInt;
  index: JsonInt;
  block_id: string;
  tx_root: string;
  receipt: ReceiptJson;
  proof: MerkleProofJson;
}
export interface TxWithReceiptProof extends TxJson {
  height: JsonInt;
  index: JsonInt;
  block_id: string;
  tx_root: string;
  receipts_root: string;
  tx_proof: MerkleProofJson;
  receipt: ReceiptJson;
  receipt_proof: MerkleProofJson;
}
/** `GET /v1/blocks/{height}` as JSON. */
export interface BlockJson { block_id: string; block: { header: Record<string, unknown>; txs: TxJson[] } }
export type BatchResult = { status: 202; tx_id: string } | (Problem & { tx_id: string });
export interface BatchAnswer { accepted: number; refused: number; results: BatchResult[] }
export interface BalanceJson {
  asset: string;
  scale: number;
  available: string;
  available_minor: string;
  locked: string;
  locked_minor: string;
}
export interface AccountJson { address: string; height: JsonInt; seq: JsonInt; balances: BalanceJson[] }
export interface AssetJson {
  asset: string;
  scale: number;
  max_supply: string | null;
  max_supply_minor: string | null;
  flags: number;
  supply: string;
  supply_minor: string;
  minted: string;
  minted_minor: string;
  burned: string;
  burned_minor: string;
  height?: JsonInt;
}
export interface AssetPage { height: JsonInt; assets: AssetJson[]; next: string | null }
export interface StateProofJson {
  key: unknown;
  value: string | null;
  value_decoded: unknown;
  proof: SmtProofJson;
  root: string;
  height: JsonInt;
}
export interface StatusJson {
  chain_id: string;
  committed_height: JsonInt;
  view: JsonInt;
  peers: number;
  mempool_txs: number;
  syncing: boolean;
  validators: number;
  quorum: number;
}
export interface ValidatorsJson {
  validators: { index: number; key: string }[];
  quorum: number;
  max_faulty: number;
  validators_hash: string;
}
export interface PriceMinor { numerator: JsonInt; denominator: JsonInt }
export interface BookLevelJson {
  price: string;
  price_exact: boolean;
  price_minor: PriceMinor;
  amount: string;
  amount_minor: string;
  offers: JsonInt;
}
export interface BookJson {
  height: JsonInt;
  base: { asset: string; scale: number };
  quote: { asset: string; scale: number };
  price_unit: string;
  asks_amount_asset: string;
  bids_amount_asset: string;
  asks: BookLevelJson[];
  bids: BookLevelJson[];
  asks_truncated: boolean;
  bids_truncated: boolean;
}
export interface OfferJson {
  owner: string;
  offer_id: string;
  sell: string;
  buy: string;
  price: string;
  price_exact: boolean;
  price_unit: string;
  price_minor: PriceMinor;
  mode: string;
  amount: string;
  amount_minor: string;
  remaining: string;
  remaining_minor: string;
  status: 'open' | 'filled' | 'cancelled' | 'closed';
  status_detail: unknown;
  height?: JsonInt;
}
export interface OffersPage { height: JsonInt; owner: string; offers: OfferJson[]; next: string | null }
export interface AccountHoldsJson { address: string; height: JsonInt; indexed_from: JsonInt; holds: HoldJson[]; complete: boolean; scanned_txs: number }
export interface ProviderRewardsJson {
  member: string;
  asset: string;
  scale: number;
  bucket: 'day' | 'week' | 'month';
  from_ms: JsonInt;
  to_ms: JsonInt;
  height: JsonInt;
  indexed_from: JsonInt;
  reasons: string[];
  buckets: { start_ms: JsonInt; total: string; total_minor: string; by_reason: Record<string, string>; by_reason_minor: Record<string, string> }[];
  truncated: boolean;
}
export interface HoldJson {
  hold_id: string;
  member: string;
  holder: string;
  asset: string;
  amount: string;
  amount_minor: string;
  expires_at_ms: JsonInt;
  created_at: JsonInt;
  status: 'open' | 'settled' | 'voided' | 'expired';
  status_detail: unknown;
  settled?: { batch_id: string; amount: string; amount_minor: string; height: JsonInt };
  height: JsonInt;
}
export interface BatchJson {
  member: string;
  batch_id: string;
  hold_id: string;
  asset: string | null;
  amount: string | null;
  amount_minor: string;
  usage_root: string;
  height: JsonInt;
  read_height: JsonInt;
}
export interface AuthorizationJson {
  holder: string;
  provider: string;
  asset: string;
  cap: string;
  cap_minor: string;
  cap_remaining: string;
  cap_remaining_minor: string;
  expires_at_ms: JsonInt;
  height: JsonInt;
}
export interface EntryJson { key: unknown; key_hex: string; value: string | null; value_decoded: unknown; proof: SmtProofJson }
export interface BadgeJson {
  badge_hash: string;
  root: string;
  height: JsonInt;
  state_root: string;
  anchor: EntryJson;
  member: EntryJson | null;
  issuer: EntryJson | null;
  revocation: EntryJson | null;
  anchor_tx: TxWithReceiptProof | null;
}
export interface GovernanceMemberJson {
  id: string;
  name: string;
  issuers: string[];
  governance_key: string;
  removed_at: JsonInt | null;
}
export interface GovernanceValidatorJson {
  consensus_key: string;
  member: string;
  name: string;
  /** Hex (the network layer's key, not an account). */
  network_key: string;
  p2p_listen: string;
  http_listen: string;
  /** False for a validator that joins at a scheduled epoch. */
  in_current_epoch: boolean;
  /** Its `validator` entry, with proof. */
  entry: EntryJson;
}
/** `GET /v1/governance`: every entry with its proof against the state root at `height`. */
export interface GovernanceJson {
  height: JsonInt;
  /** The `governance` entry: threshold and active member count. */
  governance: EntryJson;
  /** The `epochs` entry: current and scheduled epochs. */
  epochs: EntryJson;
  members: GovernanceMemberJson[];
  members_truncated: boolean;
  validators: GovernanceValidatorJson[];
}
export interface VoteJson { member: string; approve: boolean; height: JsonInt }
export interface ProposalJson {
  proposal_id: string;
  /** `expired`: still open in the ledger, but past its expiry height. */
  status: 'open' | 'expired' | 'passed' | 'rejected' | 'failed';
  action_name: string;
  /** The action as the node writes it (`{"action":"set_threshold",...}`). */
  action: unknown;
  proposer: string;
  /** The proposal's height (in a list); in `getProposal`, the height read at. */
  height: JsonInt;
  expires_at_height: JsonInt;
  votes: VoteJson[];
  yes: number;
  no: number;
  outcome: unknown;
  tx_id: string;
}
export interface ProposalsPage { height: JsonInt; proposals: ProposalJson[]; next: string | null }
/** `GET /v1/governance/proposals/{id}`: the proposal and its `proposal` entry with proof. */
export interface ProposalWithEntry extends ProposalJson { entry: EntryJson }

/** Options of a client. */
/** One transaction of an account's history or of an event stream, with its decoded ops. */
export interface HistoryTxJson extends TxJson {
  height: JsonInt;
  index: JsonInt;
  time_ms: JsonInt;
  receipt: ReceiptJson;
  /** `signer`, `recipient` (grant, transfer, hold, settle, void), `maker` (a fill of its offer). */
  roles?: string[];
  /** In a `tx` event: the followed account it touched. */
  account?: string;
}
export interface HistoryPage { address: string; height: JsonInt; indexed_from: JsonInt; txs: HistoryTxJson[]; next: string | null }
export interface BlockSummaryJson { height: JsonInt; block_id: string; header: unknown; txs: number; signers: number[] | null; certificate_view: JsonInt | null }
export interface BlocksPage { height: JsonInt; blocks: BlockSummaryJson[]; next: string | null }
export interface SearchJson { kind: 'block' | 'tx' | 'account' | 'asset' | 'provider' | 'badge_batch' | 'badge_revoked'; href?: string; [field: string]: unknown }
export interface TradeJson {
  height: JsonInt;
  tx_index: JsonInt;
  fill_index: JsonInt;
  time_ms: JsonInt;
  /** The taker's side seen from the base: `buy` when the taker bought base. */
  side: 'buy' | 'sell';
  price: string;
  price_exact: boolean;
  price_minor: PriceMinor;
  base_amount: string;
  base_amount_minor: string;
  quote_amount: string;
  quote_amount_minor: string;
  maker: string;
  taker: string;
}
export interface TradesPage { base: string; quote: string; price_unit: string; height: JsonInt; indexed_from: JsonInt; trades: TradeJson[]; next: string | null }
export interface MarketSummaryJson {
  base: string;
  quote: string;
  price_unit: string;
  height: JsonInt;
  last_trade: TradeJson | null;
  last_price: string | null;
  window_from_ms: JsonInt;
  window_to_ms: JsonInt;
  trades_24h: JsonInt;
  base_volume_24h: string;
  base_volume_24h_minor: string;
  quote_volume_24h: string;
  quote_volume_24h_minor: string;
  volume_24h_truncated: boolean;
}
export interface ProviderJson {
  member: string;
  name: string;
  height: JsonInt;
  indexed_from: JsonInt;
  /** Per asset: purchase, reward, promo, burned, settled_amount (human and `_minor`), settled_batches, holders, rewards_by_reason. */
  assets: Record<string, unknown>[];
  badges: { badge_batches?: JsonInt; badge_leaves?: JsonInt; badges_revoked?: JsonInt };
  /** The last 90 days of block time (from `rewards_by_day_from_ms`); the whole series: `getProviderRewards`. */
  rewards_by_day: { asset: string; day_start_ms: JsonInt; reason: string; amount: string; amount_minor: string }[];
  rewards_by_day_from_ms: JsonInt;
}

/** One (member, achievement) of `GET /v1/badges/figures`. */
export interface BadgeFiguresRowJson {
  member: string;
  achievement: string;
  /** Badges anchored for the achievement by the member's `anchor_achievements` ops. */
  anchored: JsonInt;
  /** Anchors that named it. */
  batches: JsonInt;
  first_height: JsonInt;
  last_height: JsonInt;
  /** The entry's state key, hex (`GET /v1/state/proof?key=`; `verifyState` takes the typed key). */
  key_hex: string;
}
export interface BadgeFiguresJson { height: JsonInt; member: string | null; figures: BadgeFiguresRowJson[]; truncated: boolean }

export interface ClientOptions {
  /** Milliseconds before a request is abandoned (default 10,000). */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | bigint | undefined>;

/** A client of one node. */
export class TallyClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new InputError('node url', `\`${baseUrl}\` is not a URL (e.g. http://127.0.0.1:28000)`);
    }
    this.baseUrl = url.toString().replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  private url(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(name, String(value));
    const text = params.toString();
    return `${this.baseUrl}${path}${text ? `?${text}` : ''}`;
  }

  private async request(method: string, path: string, init: { query?: Query; body?: Uint8Array | string; contentType?: string; timeoutMs?: number } = {}): Promise<Response> {
    const url = this.url(path, init.query);
    const headers: Record<string, string> = {};
    if (init.contentType !== undefined) headers['content-type'] = init.contentType;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(init.body !== undefined ? { body: init.body as BodyInit } : {}),
        signal: AbortSignal.timeout(init.timeoutMs ?? this.timeoutMs),
      });
    } catch (error) {
      const cause = error as Error;
      const what = cause.name === 'TimeoutError' ? `no answer within ${init.timeoutMs ?? this.timeoutMs} ms` : `request failed: ${cause.message}`;
      throw new HttpError(url, 0, what);
    }
    if (response.ok) return response;
    const text = await response.text();
    let problem: Problem | undefined;
    try {
      const parsed = parseJsonLossless(text) as Problem;
      if (parsed && typeof parsed === 'object' && typeof parsed.detail === 'string') problem = parsed;
    } catch {
      problem = undefined;
    }
    throw new HttpError(url, response.status, problem?.detail ?? (text.slice(0, 200) || response.statusText), problem);
  }

  private async json<T>(path: string, query?: Query): Promise<T> {
    const response = await this.request('GET', path, query === undefined ? {} : { query });
    return parseJsonLossless(await response.text()) as T;
  }

  /** `GET path`, or `null` on 404. */
  private async maybe<T>(read: () => Promise<T>): Promise<T | null> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return null;
      throw error;
    }
  }

  // ---- submission ----

  /** Submits one transaction; resolves with its id once the node's mempool admitted it (202). */
  async submit(tx: SignedTransaction): Promise<SubmitAnswer> {
    const body = JSON.stringify({ tx: toHex(encode(SignedTransactionCodec, tx)) });
    const response = await this.request('POST', '/v1/txs', { body, contentType: 'application/json' });
    return parseJsonLossless(await response.text()) as SubmitAnswer;
  }

  /**
   * Submits one transaction and waits on the node (`?wait=commit`) until a durable block holds
   * it; the answer carries its inclusion proof. The node bounds the wait (504 beyond it).
   */
  async submitAndWait(tx: SignedTransaction, timeoutMs = 30_000): Promise<TxInclusion> {
    const body = JSON.stringify({ tx: toHex(encode(SignedTransactionCodec, tx)) });
    const response = await this.request('POST', '/v1/txs', { query: { wait: 'commit' }, body, contentType: 'application/json', timeoutMs });
    return parseJsonLossless(await response.text()) as TxInclusion;
  }

  /**
   * Submits 1..=1,000 transactions in one request, answered per transaction, in order. `borsh`
   * (the default) sends a `Vec<SignedTransaction>` as `application/octet-stream`, half the size
   * of the JSON form.
   */
  async submitBatch(txs: readonly SignedTransaction[], format: 'borsh' | 'json' = 'borsh'): Promise<BatchAnswer> {
    if (txs.length === 0 || txs.length > LIMITS.TX_SUBMIT_BATCH_MAX) {
      throw new InputError('batch', `send 1 to ${LIMITS.TX_SUBMIT_BATCH_MAX} transactions, got ${txs.length}`);
    }
    const response =
      format === 'borsh'
        ? await this.request('POST', '/v1/txs', { body: encode(SubmitBatchCodec, [...txs]), contentType: 'application/octet-stream' })
        : await this.request('POST', '/v1/txs', {
            body: JSON.stringify(txs.map((tx) => ({ tx: toHex(encode(SignedTransactionCodec, tx)) }))),
            contentType: 'application/json',
          });
    return parseJsonLossless(await response.text()) as BatchAnswer;
  }

  /**
   * Polls `GET /v1/txs/{id}` until the transaction is in a committed block, or throws after
   * `timeoutMs`. For many transactions, prefer this over holding one `?wait=commit` request each.
   */
  async waitForCommit(txId: string | Hash, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<TxInclusion> {
    const id = typeof txId === 'string' ? txId : toHex(txId);
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const pollMs = options.pollMs ?? 200;
    for (;;) {
      const found = await this.getTx(id);
      if (found !== null) return found;
      if (Date.now() >= deadline) {
        throw new HttpError(this.url(`/v1/txs/${id}`), 0, `transaction ${id} was not committed within ${options.timeoutMs ?? 30_000} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** Signs nothing: the id a submitted transaction will have (for logs before submission). */
  static idOf(tx: SignedTransaction): string {
    return txIdHex(tx);
  }

  // ---- reads ----

  /** `GET /v1/txs/{id}`: the committed transaction with its tx-root proof, or `null`. */
  getTx(id: string): Promise<TxInclusion | null> {
    return this.maybe(() => this.json<TxInclusion>(`/v1/txs/${encodeURIComponent(id)}`));
  }

  /** `GET /v1/txs/{id}/receipt`: adds the receipts-root proof; `null` if not committed. */
  getTxReceipt(id: string): Promise<TxWithReceiptProof | null> {
    return this.maybe(() => this.json<TxWithReceiptProof>(`/v1/txs/${encodeURIComponent(id)}/receipt`));
  }

  /** `GET /v1/accounts/{address}`: seq and balances (an unknown account has seq 0, no balances). */
  getAccount(address: string | PublicKey): Promise<AccountJson> {
    return this.json(`/v1/accounts/${encodeURIComponent(typeof address === 'string' ? address : toAddress(address))}`);
  }

  /** `GET /v1/accounts/{address}/offers`. */
  getAccountOffers(address: string, options: { status?: 'open' | 'all'; after?: string; limit?: number } = {}): Promise<OffersPage> {
    return this.json(`/v1/accounts/${encodeURIComponent(address)}/offers`, options);
  }

  /** `GET /v1/assets`: a page of assets, in id order; `next` is the cursor. */
  listAssets(options: { after?: string; limit?: number } = {}): Promise<AssetPage> {
    return this.json('/v1/assets', options);
  }

  /** `GET /v1/assets/{asset}`, or `null`. */
  getAsset(asset: string): Promise<AssetJson | null> {
    return this.maybe(() => this.json<AssetJson>(`/v1/assets/${encodeURIComponent(asset)}`));
  }

  /** `GET /v1/blocks/{height}?format=borsh`, decoded strictly; `null` above the tip. */
  async getBlock(height: bigint | number): Promise<Block | null> {
    return this.maybe(async () => {
      const response = await this.request('GET', `/v1/blocks/${height}`, { query: { format: 'borsh' } });
      return decode(BlockCodec, new Uint8Array(await response.arrayBuffer()));
    });
  }

  /** `GET /v1/blocks/{height}` as JSON (for display; verify with `getBlock`). */
  getBlockJson(height: bigint | number): Promise<BlockJson | null> {
    return this.maybe(() => this.json(`/v1/blocks/${height}`));
  }

  /** `GET /v1/blocks/{height}/certificate?format=borsh`: the finalization stored with the block. */
  async getCertificate(height: bigint | number): Promise<Certificate | null> {
    return this.maybe(async () => {
      const response = await this.request('GET', `/v1/blocks/${height}/certificate`, { query: { format: 'borsh' } });
      return decode(CertificateCodec, new Uint8Array(await response.arrayBuffer()));
    });
  }

  /** `GET /v1/state/proof?key=`: the entry under `key` at the committed height, with its proof. */
  getStateProof(key: StateKey): Promise<StateProofJson> {
    return this.json('/v1/state/proof', { key: toHex(stateKeyBytes(key)) });
  }

  /** `GET /v1/status`. */
  getStatus(): Promise<StatusJson> {
    return this.json('/v1/status');
  }

  /** `GET /v1/validators`. */
  getValidators(): Promise<ValidatorsJson> {
    return this.json('/v1/validators');
  }

  /** `GET /v1/markets/{base}/{quote}`: the book, depth per price level. */
  getBook(base: string, quote: string, options: { limit?: number } = {}): Promise<BookJson> {
    return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}`, options);
  }

  /** `GET /v1/offers/{owner}/{offer_id}`, or `null`. */
  getOffer(owner: string, offerId: string): Promise<OfferJson | null> {
    return this.maybe(() => this.json<OfferJson>(`/v1/offers/${encodeURIComponent(owner)}/${encodeURIComponent(offerId)}`));
  }

  /** `GET /v1/accounts/{address}/holds`: the account's open holds (from its newest history entries; `complete` says whether that was all of it). */
  getAccountHolds(address: string): Promise<AccountHoldsJson> {
    return this.json<AccountHoldsJson>(`/v1/accounts/${encodeURIComponent(address)}/holds`);
  }

  /** `GET /v1/providers/{member}/rewards`: rewards of one asset by reason per day, week or month of block time. */
  getProviderRewards(
    member: string,
    options: { asset?: string; bucket?: 'day' | 'week' | 'month'; days?: number } = {},
  ): Promise<ProviderRewardsJson> {
    return this.json(`/v1/providers/${encodeURIComponent(member)}/rewards`, options);
  }

  /** `GET /v1/holds/{hold_id}`, or `null`. */
  getHold(holdId: string): Promise<HoldJson | null> {
    return this.maybe(() => this.json<HoldJson>(`/v1/holds/${encodeURIComponent(holdId)}`));
  }

  /** `GET /v1/batches/{member}/{batch_id}`, or `null` when the member never used the id. */
  getBatch(member: string, batchId: string): Promise<BatchJson | null> {
    return this.maybe(() => this.json<BatchJson>(`/v1/batches/${encodeURIComponent(member)}/${encodeURIComponent(batchId)}`));
  }

  /** `GET /v1/authorizations/{holder}/{provider}/{asset}`, or `null`. */
  getAuthorization(holder: string, provider: string, asset: string): Promise<AuthorizationJson | null> {
    return this.maybe(() =>
      this.json<AuthorizationJson>(`/v1/authorizations/${encodeURIComponent(holder)}/${encodeURIComponent(provider)}/${encodeURIComponent(asset)}`),
    );
  }

  /** `GET /v1/accounts/{address}/history`: transactions touching the account, newest first; `next` is the cursor for `before`. */
  getAccountHistory(address: string, options: { before?: string; limit?: number } = {}): Promise<HistoryPage> {
    return this.json(`/v1/accounts/${encodeURIComponent(address)}/history`, options);
  }

  /** `GET /v1/blocks`: recent blocks, newest first. */
  listBlocks(options: { before?: string; limit?: number } = {}): Promise<BlocksPage> {
    return this.json('/v1/blocks', options);
  }

  /** `GET /v1/search?q=`: what the text is, or `null` when it names nothing committed. */
  search(text: string): Promise<SearchJson | null> {
    return this.maybe(() => this.json<SearchJson>('/v1/search', { q: text }));
  }

  /** `GET /v1/markets/{base}/{quote}/trades`: fills, newest first. */
  getTrades(base: string, quote: string, options: { before?: string; limit?: number } = {}): Promise<TradesPage> {
    return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/trades`, options);
  }

  /** `GET /v1/markets/{base}/{quote}/summary`: last price and 24-hour volume. */
  getMarketSummary(base: string, quote: string): Promise<MarketSummaryJson> {
    return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/summary`);
  }

  /** `GET /v1/providers/{member}`: the provider's figures, or `null` for no such member. */
  getProvider(member: string): Promise<ProviderJson | null> {
    return this.maybe(() => this.json<ProviderJson>(`/v1/providers/${encodeURIComponent(member)}`));
  }

  /** `GET /v1/badges/figures[?member=]`: badges anchored per member and achievement (community figures), sorted. */
  getBadgeFigures(member?: string): Promise<BadgeFiguresJson> {
    return this.json('/v1/badges/figures', member === undefined ? {} : { member });
  }

  /** `GET /v1/openapi.json`: the API's OpenAPI 3.1 document. */
  getOpenApi(): Promise<Record<string, unknown>> {
    return this.json('/v1/openapi.json');
  }

  /**
   * The URL of `GET /v1/events` (server-sent events: `block` per committed block, `tx` per
   * transaction of the followed accounts, ids are heights), for an `EventSource`.
   */
  eventsUrl(options: { from?: bigint | number; accounts?: string[] } = {}): string {
    return this.url('/v1/events', { from: options.from, accounts: options.accounts?.join(',') });
  }

  /** `GET /v1/badges/{hash}?root=R`: anchor, member, issuer and revocation entries with proofs. */
  getBadge(badgeHash: string | Hash, root: string | Hash): Promise<BadgeJson> {
    const hash = typeof badgeHash === 'string' ? badgeHash : toHex(badgeHash);
    return this.json(`/v1/badges/${encodeURIComponent(hash)}`, { root: typeof root === 'string' ? root : toHex(root) });
  }

  /** `GET /v1/governance`: threshold, epochs, members and validators, with state proofs. */
  getGovernance(): Promise<GovernanceJson> {
    return this.json('/v1/governance');
  }

  /** `GET /v1/governance/proposals`: a page of proposals by id; `next` is the cursor (1..=100 per page). */
  listProposals(options: { after?: string; limit?: number } = {}): Promise<ProposalsPage> {
    return this.json('/v1/governance/proposals', options);
  }

  /** `GET /v1/governance/proposals/{id}`: one proposal with its entry and proof, or `null`. */
  getProposal(proposalId: string | Uint8Array): Promise<ProposalWithEntry | null> {
    const id = typeof proposalId === 'string' ? proposalId : toHex(proposalId);
    return this.maybe(() => this.json<ProposalWithEntry>(`/v1/governance/proposals/${encodeURIComponent(id)}`));
  }

  /** `GET /health`. */
  health(): Promise<{ status: string }> {
    return this.json('/health');
  }

  /** `GET /ready`: resolves when ready; an `HttpError` 503 says why not. */
  ready(): Promise<{ status: string; peers: number }> {
    return this.json('/ready');
  }

  /** `GET /metrics`: Prometheus/OpenMetrics text. */
  async metrics(): Promise<string> {
    return (await this.request('GET', '/metrics')).text();
  }
}
