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
import { HttpError, InputError } from './errors.js';
import { BlockCodec } from './block.js';
import { CertificateCodec } from './consensus.js';
import { parseJsonLossless } from './json.js';
import { toAddress } from './keys.js';
import { LIMITS } from './limits.js';
import { stateKeyBytes } from './state.js';
import { SignedTransactionCodec, txIdHex } from './tx.js';
import { SubmitBatchCodec } from './wire.js';
/** A client of one node. */
export class TallyClient {
    baseUrl;
    timeoutMs;
    fetchImpl;
    constructor(baseUrl, options = {}) {
        let url;
        try {
            url = new URL(baseUrl);
        }
        catch {
            throw new InputError('node url', `\`${baseUrl}\` is not a URL (e.g. http://127.0.0.1:28000)`);
        }
        this.baseUrl = url.toString().replace(/\/+$/, '');
        this.timeoutMs = options.timeoutMs ?? 10_000;
        this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    }
    url(path, query) {
        const params = new URLSearchParams();
        for (const [name, value] of Object.entries(query ?? {}))
            if (value !== undefined)
                params.set(name, String(value));
        const text = params.toString();
        return `${this.baseUrl}${path}${text ? `?${text}` : ''}`;
    }
    async request(method, path, init = {}) {
        const url = this.url(path, init.query);
        const headers = {};
        if (init.contentType !== undefined)
            headers['content-type'] = init.contentType;
        let response;
        try {
            response = await this.fetchImpl(url, {
                method,
                headers,
                ...(init.body !== undefined ? { body: init.body } : {}),
                signal: AbortSignal.timeout(init.timeoutMs ?? this.timeoutMs),
            });
        }
        catch (error) {
            const cause = error;
            const what = cause.name === 'TimeoutError' ? `no answer within ${init.timeoutMs ?? this.timeoutMs} ms` : `request failed: ${cause.message}`;
            throw new HttpError(url, 0, what);
        }
        if (response.ok)
            return response;
        const text = await response.text();
        let problem;
        try {
            const parsed = parseJsonLossless(text);
            if (parsed && typeof parsed === 'object' && typeof parsed.detail === 'string')
                problem = parsed;
        }
        catch {
            problem = undefined;
        }
        throw new HttpError(url, response.status, problem?.detail ?? (text.slice(0, 200) || response.statusText), problem);
    }
    async json(path, query) {
        const response = await this.request('GET', path, query === undefined ? {} : { query });
        return parseJsonLossless(await response.text());
    }
    /** `GET path`, or `null` on 404. */
    async maybe(read) {
        try {
            return await read();
        }
        catch (error) {
            if (error instanceof HttpError && error.status === 404)
                return null;
            throw error;
        }
    }
    // ---- submission ----
    /** Submits one transaction; resolves with its id once the node's mempool admitted it (202). */
    async submit(tx) {
        const body = JSON.stringify({ tx: toHex(encode(SignedTransactionCodec, tx)) });
        const response = await this.request('POST', '/v1/txs', { body, contentType: 'application/json' });
        return parseJsonLossless(await response.text());
    }
    /**
     * Submits one transaction and waits on the node (`?wait=commit`) until a durable block holds
     * it; the answer carries its inclusion proof. The node bounds the wait (504 beyond it).
     */
    async submitAndWait(tx, timeoutMs = 30_000) {
        const body = JSON.stringify({ tx: toHex(encode(SignedTransactionCodec, tx)) });
        const response = await this.request('POST', '/v1/txs', { query: { wait: 'commit' }, body, contentType: 'application/json', timeoutMs });
        return parseJsonLossless(await response.text());
    }
    /**
     * Submits 1..=1,000 transactions in one request, answered per transaction, in order. `borsh`
     * (the default) sends a `Vec<SignedTransaction>` as `application/octet-stream`, half the size
     * of the JSON form.
     */
    async submitBatch(txs, format = 'borsh') {
        if (txs.length === 0 || txs.length > LIMITS.TX_SUBMIT_BATCH_MAX) {
            throw new InputError('batch', `send 1 to ${LIMITS.TX_SUBMIT_BATCH_MAX} transactions, got ${txs.length}`);
        }
        const response = format === 'borsh'
            ? await this.request('POST', '/v1/txs', { body: encode(SubmitBatchCodec, [...txs]), contentType: 'application/octet-stream' })
            : await this.request('POST', '/v1/txs', {
                body: JSON.stringify(txs.map((tx) => ({ tx: toHex(encode(SignedTransactionCodec, tx)) }))),
                contentType: 'application/json',
            });
        return parseJsonLossless(await response.text());
    }
    /**
     * Polls `GET /v1/txs/{id}` until the transaction is in a committed block, or throws after
     * `timeoutMs`. For many transactions, prefer this over holding one `?wait=commit` request each.
     */
    async waitForCommit(txId, options = {}) {
        const id = typeof txId === 'string' ? txId : toHex(txId);
        const deadline = Date.now() + (options.timeoutMs ?? 30_000);
        const pollMs = options.pollMs ?? 200;
        for (;;) {
            const found = await this.getTx(id);
            if (found !== null)
                return found;
            if (Date.now() >= deadline) {
                throw new HttpError(this.url(`/v1/txs/${id}`), 0, `transaction ${id} was not committed within ${options.timeoutMs ?? 30_000} ms`);
            }
            await new Promise((resolve) => setTimeout(resolve, pollMs));
        }
    }
    /** Signs nothing: the id a submitted transaction will have (for logs before submission). */
    static idOf(tx) {
        return txIdHex(tx);
    }
    // ---- reads ----
    /** `GET /v1/txs/{id}`: the committed transaction with its tx-root proof, or `null`. */
    getTx(id) {
        return this.maybe(() => this.json(`/v1/txs/${encodeURIComponent(id)}`));
    }
    /** `GET /v1/txs/{id}/receipt`: adds the receipts-root proof; `null` if not committed. */
    getTxReceipt(id) {
        return this.maybe(() => this.json(`/v1/txs/${encodeURIComponent(id)}/receipt`));
    }
    /** `GET /v1/accounts/{address}`: seq and balances (an unknown account has seq 0, no balances). */
    getAccount(address) {
        return this.json(`/v1/accounts/${encodeURIComponent(typeof address === 'string' ? address : toAddress(address))}`);
    }
    /** `GET /v1/accounts/{address}/offers`. */
    getAccountOffers(address, options = {}) {
        return this.json(`/v1/accounts/${encodeURIComponent(address)}/offers`, options);
    }
    /** `GET /v1/assets`: a page of assets, in id order; `next` is the cursor. */
    listAssets(options = {}) {
        return this.json('/v1/assets', options);
    }
    /** `GET /v1/assets/{asset}`, or `null`. */
    getAsset(asset) {
        return this.maybe(() => this.json(`/v1/assets/${encodeURIComponent(asset)}`));
    }
    /** `GET /v1/blocks/{height}?format=borsh`, decoded strictly; `null` above the tip. */
    async getBlock(height) {
        return this.maybe(async () => {
            const response = await this.request('GET', `/v1/blocks/${height}`, { query: { format: 'borsh' } });
            return decode(BlockCodec, new Uint8Array(await response.arrayBuffer()));
        });
    }
    /** `GET /v1/blocks/{height}` as JSON (for display; verify with `getBlock`). */
    getBlockJson(height) {
        return this.maybe(() => this.json(`/v1/blocks/${height}`));
    }
    /** `GET /v1/blocks/{height}/certificate?format=borsh`: the finalization stored with the block. */
    async getCertificate(height) {
        return this.maybe(async () => {
            const response = await this.request('GET', `/v1/blocks/${height}/certificate`, { query: { format: 'borsh' } });
            return decode(CertificateCodec, new Uint8Array(await response.arrayBuffer()));
        });
    }
    /** `GET /v1/state/proof?key=`: the entry under `key` at the committed height, with its proof. */
    getStateProof(key) {
        return this.json('/v1/state/proof', { key: toHex(stateKeyBytes(key)) });
    }
    /** `GET /v1/status`. */
    getStatus() {
        return this.json('/v1/status');
    }
    /** `GET /v1/validators`. */
    getValidators() {
        return this.json('/v1/validators');
    }
    /** `GET /v1/markets/{base}/{quote}`: the book, depth per price level. */
    getBook(base, quote, options = {}) {
        return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}`, options);
    }
    /** `GET /v1/offers/{owner}/{offer_id}`, or `null`. */
    getOffer(owner, offerId) {
        return this.maybe(() => this.json(`/v1/offers/${encodeURIComponent(owner)}/${encodeURIComponent(offerId)}`));
    }
    /** `GET /v1/accounts/{address}/holds`: the account's open holds (from its newest history entries; `complete` says whether that was all of it). */
    getAccountHolds(address) {
        return this.json(`/v1/accounts/${encodeURIComponent(address)}/holds`);
    }
    /** `GET /v1/providers/{member}/rewards`: rewards of one asset by reason per day, week or month of block time. */
    getProviderRewards(member, options = {}) {
        return this.json(`/v1/providers/${encodeURIComponent(member)}/rewards`, options);
    }
    /** `GET /v1/holds/{hold_id}`, or `null`. */
    getHold(holdId) {
        return this.maybe(() => this.json(`/v1/holds/${encodeURIComponent(holdId)}`));
    }
    /** `GET /v1/batches/{member}/{batch_id}`, or `null` when the member never used the id. */
    getBatch(member, batchId) {
        return this.maybe(() => this.json(`/v1/batches/${encodeURIComponent(member)}/${encodeURIComponent(batchId)}`));
    }
    /** `GET /v1/authorizations/{holder}/{provider}/{asset}`, or `null`. */
    getAuthorization(holder, provider, asset) {
        return this.maybe(() => this.json(`/v1/authorizations/${encodeURIComponent(holder)}/${encodeURIComponent(provider)}/${encodeURIComponent(asset)}`));
    }
    /** `GET /v1/accounts/{address}/history`: transactions touching the account, newest first; `next` is the cursor for `before`. */
    getAccountHistory(address, options = {}) {
        return this.json(`/v1/accounts/${encodeURIComponent(address)}/history`, options);
    }
    /** `GET /v1/blocks`: recent blocks, newest first. */
    listBlocks(options = {}) {
        return this.json('/v1/blocks', options);
    }
    /** `GET /v1/search?q=`: what the text is, or `null` when it names nothing committed. */
    search(text) {
        return this.maybe(() => this.json('/v1/search', { q: text }));
    }
    /** `GET /v1/markets/{base}/{quote}/trades`: fills, newest first. */
    getTrades(base, quote, options = {}) {
        return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/trades`, options);
    }
    /** `GET /v1/markets/{base}/{quote}/summary`: last price and 24-hour volume. */
    getMarketSummary(base, quote) {
        return this.json(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/summary`);
    }
    /** `GET /v1/providers/{member}`: the provider's figures, or `null` for no such member. */
    getProvider(member) {
        return this.maybe(() => this.json(`/v1/providers/${encodeURIComponent(member)}`));
    }
    /** `GET /v1/badges/figures[?member=]`: badges anchored per member and achievement (community figures), sorted. */
    getBadgeFigures(member) {
        return this.json('/v1/badges/figures', member === undefined ? {} : { member });
    }
    /** `GET /v1/openapi.json`: the API's OpenAPI 3.1 document. */
    getOpenApi() {
        return this.json('/v1/openapi.json');
    }
    /**
     * The URL of `GET /v1/events` (server-sent events: `block` per committed block, `tx` per
     * transaction of the followed accounts, ids are heights), for an `EventSource`.
     */
    eventsUrl(options = {}) {
        return this.url('/v1/events', { from: options.from, accounts: options.accounts?.join(',') });
    }
    /** `GET /v1/badges/{hash}?root=R`: anchor, member, issuer and revocation entries with proofs. */
    getBadge(badgeHash, root) {
        const hash = typeof badgeHash === 'string' ? badgeHash : toHex(badgeHash);
        return this.json(`/v1/badges/${encodeURIComponent(hash)}`, { root: typeof root === 'string' ? root : toHex(root) });
    }
    /** `GET /v1/governance`: threshold, epochs, members and validators, with state proofs. */
    getGovernance() {
        return this.json('/v1/governance');
    }
    /** `GET /v1/governance/proposals`: a page of proposals by id; `next` is the cursor (1..=100 per page). */
    listProposals(options = {}) {
        return this.json('/v1/governance/proposals', options);
    }
    /** `GET /v1/governance/proposals/{id}`: one proposal with its entry and proof, or `null`. */
    getProposal(proposalId) {
        const id = typeof proposalId === 'string' ? proposalId : toHex(proposalId);
        return this.maybe(() => this.json(`/v1/governance/proposals/${encodeURIComponent(id)}`));
    }
    /** `GET /health`. */
    health() {
        return this.json('/health');
    }
    /** `GET /ready`: resolves when ready; an `HttpError` 503 says why not. */
    ready() {
        return this.json('/ready');
    }
    /** `GET /metrics`: Prometheus/OpenMetrics text. */
    async metrics() {
        return (await this.request('GET', '/metrics')).text();
    }
}
