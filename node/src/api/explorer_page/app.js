// The Tally explorer: a single page over this node's HTTP API (/v1/…). No framework and no
// network access beyond the node. The SDK (ES modules under /explorer/sdk/) is loaded only where
// the page verifies something in the browser (a badge, a transaction), so the first view stays
// small.

const root = document.getElementById('main');
// Each route renders into its own element: a slow view that finishes after the reader moved on
// writes into its detached element, never over the current view.
let current = root;

/** Errors of the node's API keep its problem document's detail. */
class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** An API answer parsed by `parse` (JSON.parse, or the SDK's lossless parser where u64s matter). */
async function api(path, parse = JSON.parse) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const text = await response.text();
  let body;
  try {
    body = response.ok ? parse(text) : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, `${path}: not JSON (${response.status})`);
  }
  if (!response.ok) throw new ApiError(response.status, body.detail ?? `${path}: ${response.status}`);
  return body;
}

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** HTML-escapes any value. */
const e = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => escapes[c]);
const short = (text, n = 10) => (text && text.length > 2 * n + 1 ? `${text.slice(0, n)}…${text.slice(-6)}` : text);
const addressLink = (address) => `<a class="mono" href="#/account/${e(address)}" title="${e(address)}">${e(short(address, 12))}</a>`;
const txLink = (id) => `<a class="mono" href="#/tx/${e(id)}" title="${e(id)}">${e(short(id))}</a>`;
const blockLink = (height) => `<a href="#/block/${e(height)}">${e(height)}</a>`;
const assetLink = (asset) => `<a href="#/asset/${e(asset)}">${e(asset)}</a>`;
const time = (ms) => (ms ? new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '');

/** Minor units (a decimal string) in human units of `scale`, exactly (BigInt, no floats). */
function amount(minor, scale) {
  if (minor === undefined || minor === null) return '';
  const value = BigInt(minor);
  if (!scale) return value.toString();
  const factor = 10n ** BigInt(scale);
  const whole = value / factor;
  const fraction = (value % factor).toString().padStart(scale, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole.toString();
}

let scalesPromise;
/** Asset id → scale, read once per page load. */
function scales() {
  scalesPromise ??= api('/v1/assets?limit=1000').then((page) => new Map(page.assets.map((a) => [a.asset, a.scale])));
  return scalesPromise;
}
const human = (map, asset, minor) => `${e(amount(minor, map.get(asset) ?? 0))} ${e(asset)}`;

const ERROR_CODES = {
  not_issuer: 'The signer is not an issuer account of the member the op names.',
  unknown_member: 'No such member.',
  unknown_asset: 'No such asset.',
  asset_exists: 'The asset already exists.',
  bad_scale: 'Scale above 18.',
  bad_flags: 'Undefined flag bits.',
  zero_amount: 'A zero amount where a positive one is required.',
  max_supply_exceeded: "The grant would take supply above the asset's max supply.",
  amount_overflow: 'A sum would exceed u128.',
  insufficient_balance: 'Not enough available (unlocked) balance.',
  duplicate_grant_id: 'The grant id was used before.',
  self_transfer: 'Sender and receiver are the same account.',
  reward_reason_missing: 'A reward grant without a reason.',
  reason_not_allowed: 'A reason on a purchase or promo grant.',
  not_transferable: 'The asset is flagged non-transferable.',
  bad_max_supply: 'A max supply of zero, or below the current supply.',
  op_not_supported: 'This ledger version does not execute the op yet.',
  no_authorization: 'No spend authorization for this provider and asset, or it has expired.',
  cap_exceeded: "The hold would exceed the authorization's remaining cap.",
  duplicate_hold_id: 'The hold id was used before.',
  unknown_hold: 'No such hold.',
  hold_closed: 'The hold was already settled or voided.',
  duplicate_batch_id: 'The settlement batch id was used before.',
  settle_exceeds_hold: 'Settle amount above the held amount.',
  hold_not_expired: 'The holder may void only after the hold expired.',
  bad_expiry: 'An expiry that is not in the future of the block time.',
  bad_price: 'Zero numerator or denominator.',
  same_asset: 'Selling and buying the same asset.',
  duplicate_offer_id: 'The offer id was used before.',
  unknown_offer: 'No such open offer.',
  not_offer_owner: 'Only the owner may cancel an offer.',
  self_trade: "The offer would trade with its owner's own offer.",
  fill_or_kill_not_filled: 'A fill-or-kill offer could not fill completely.',
  passive_would_cross: 'A passive offer would cross the book.',
  too_many_fills: 'Matching would need more than 1,000 fills.',
  not_tradable: 'The asset is flagged non-tradable.',
  bad_badge_batch: 'A badge batch with zero leaves or more than the limit.',
  duplicate_badge_root: 'The badge root was anchored before.',
  badge_already_revoked: 'The badge was already revoked.',
};

function outcome(receipt) {
  if (!receipt) return '';
  if (receipt.outcome.status === 'success') return '<span class="badge ok">success</span>';
  const code = receipt.outcome.code;
  return `<span class="badge bad" title="${e(ERROR_CODES[code] ?? code)}">failed</span> op ${e(receipt.outcome.op_index)}: <code>${e(code)}</code> — ${e(ERROR_CODES[code] ?? '')}`;
}

/** One op in words, with human amounts. */
function opText(op, map) {
  const price = (p, sell, buy) => `${e(p.numerator)}/${e(p.denominator)} minor ${e(buy)} per minor ${e(sell)}`;
  switch (op.op) {
    case 'transfer': return `transfer ${human(map, op.asset, op.amount)} to ${addressLink(op.to)}`;
    case 'grant': return `grant ${human(map, op.asset, op.amount)} to ${addressLink(op.to)} (${e(op.kind)}${op.reason ? `: ${e(typeof op.reason === 'string' ? op.reason : JSON.stringify(op.reason))}` : ''})`;
    case 'burn': return `burn ${human(map, op.asset, op.amount)}`;
    case 'issue_asset': return `issue asset ${e(op.code)} (scale ${e(op.scale)})`;
    case 'authorize_spend': return `authorize ${e(op.provider)} to hold up to ${human(map, op.asset, op.cap)}`;
    case 'hold': return `hold ${human(map, op.asset, op.amount)} of ${addressLink(op.holder)} (hold <code>${e(short(op.hold_id, 6))}</code>)`;
    case 'settle': return `settle hold <code>${e(short(op.hold_id, 6))}</code> for ${e(op.amount)} minor units (batch <code>${e(short(op.batch_id, 6))}</code>)`;
    case 'settle_app': return `settle hold <code>${e(short(op.settle.hold_id, 6))}</code> for ${e(op.settle.amount)} minor units (batch <code>${e(short(op.settle.batch_id, 6))}</code>) for app <code>${e(op.app)}</code>`;
    case 'void': return `void hold <code>${e(short(op.hold_id, 6))}</code>`;
    case 'place_offer': return `offer ${human(map, op.sell, op.amount)} for ${e(op.buy)} at ${price(op.price, op.sell, op.buy)} (${e(op.mode)})`;
    case 'cancel_offer': return `cancel offer <code>${e(short(op.offer_id, 6))}</code>`;
    case 'anchor_badges': return `anchor ${e(op.leaf_count)} badges, root <a class="mono" href="#/search/${e(op.batch_root)}">${e(short(op.batch_root))}</a>`;
    case 'anchor_achievements': return `anchor ${e(op.anchor.leaf_count)} badges, root <a class="mono" href="#/search/${e(op.anchor.batch_root)}">${e(short(op.anchor.batch_root))}</a>, for ${op.achievements.map((a) => `<code>${e(a.achievement)}</code> (${e(a.count)})`).join(', ')}`;
    case 'revoke_badge': return `revoke badge <code>${e(short(op.badge_hash))}</code>: ${e(op.reason)}`;
    default: return `<code>${e(JSON.stringify(op))}</code>`;
  }
}
const opsList = (ops, map) => `<ul class="ops">${ops.map((op) => `<li>${opText(op, map)}</li>`).join('')}</ul>`;

/** A small line or bar chart as inline SVG. */
function chart(values, { bars = false, label = '' } = {}) {
  if (values.length === 0) return '<p class="muted">No data yet.</p>';
  const width = 600, height = 140, pad = 18;
  const max = Math.max(...values, 1e-9);
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(values.length - (bars ? 0 : 1), 1);
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  const shapes = bars
    ? values.map((v, i) => `<rect x="${x(i)}" y="${y(v)}" width="${Math.max((width - 2 * pad) / values.length - 1, 1)}" height="${height - pad - y(v)}" fill="#2457c5"/>`).join('')
    : `<polyline fill="none" stroke="#2457c5" stroke-width="1.5" points="${values.map((v, i) => `${x(i)},${y(v)}`).join(' ')}"/>` +
      (values.length <= 60 ? values.map((v, i) => `<circle cx="${x(i)}" cy="${y(v)}" r="2.5" fill="#2457c5"/>`).join('') : '');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${e(label)}">${shapes}<text x="${pad}" y="12">${e(label)} · max ${e(Number(max.toPrecision(3)))}</text></svg>`;
}

let stream;
/** Closes the event stream of the previous view. */
function closeStream() {
  if (stream) stream.close();
  stream = undefined;
}

// ---- views ----

async function network() {
  const main = current;
  const [status, validators, recent] = await Promise.all([api('/v1/status'), api('/v1/validators'), api('/v1/blocks?limit=100')]);
  const blocks = recent.blocks;
  const counts = validators.validators.map(() => 0);
  for (const block of blocks) for (const index of block.signers ?? []) counts[index] = (counts[index] ?? 0) + 1;
  const ordered = [...blocks].reverse();
  const gaps = ordered.slice(1).map((b, i) => (b.header.time_ms - ordered[i].header.time_ms) / 1000);
  const rates = ordered.slice(1).map((b, i) => b.txs / Math.max((b.header.time_ms - ordered[i].header.time_ms) / 1000, 0.001));
  main.innerHTML = `
    <h1>Network <span class="muted">${e(status.chain_id)}</span></h1>
    <div class="grid">
      <div class="card stat"><div class="value" id="tip">${e(status.committed_height)}</div><div class="label">committed height</div></div>
      <div class="card stat"><div class="value">${e(status.view)}</div><div class="label">view</div></div>
      <div class="card stat"><div class="value">${e(status.validators)} / ${e(status.quorum)}</div><div class="label">validators / quorum</div></div>
      <div class="card stat"><div class="value">${e(status.mempool_txs)}</div><div class="label">transactions waiting${status.syncing ? ' · syncing' : ''}</div></div>
    </div>
    <div class="row">
      <div class="card"><h2>Block time (s)</h2>${chart(gaps, { label: 'seconds between blocks' })}</div>
      <div class="card"><h2>Committed tx/s</h2>${chart(rates, { bars: true, label: 'transactions per second' })}</div>
    </div>
    <div class="card"><h2>Validators</h2><table><thead><tr><th>#</th><th>Key</th><th class="num">Signed (last ${blocks.length} certificates)</th></tr></thead><tbody>
      ${validators.validators.map((v, i) => `<tr><td>${i}</td><td class="mono">${e(short(v.key, 16))}</td><td class="num">${counts[i]} (${blocks.length ? Math.round((100 * counts[i]) / blocks.length) : 0}%)</td></tr>`).join('')}
    </tbody></table></div>
    <div class="card"><h2>Latest blocks</h2>${blockTable(blocks.slice(0, 10))}<p><a href="#/blocks">All blocks</a></p></div>`;
  if (!main.isConnected) return;
  stream = new EventSource('/v1/events');
  stream.addEventListener('block', (event) => {
    const block = JSON.parse(event.data);
    const tip = document.getElementById('tip');
    if (tip) tip.textContent = block.height;
  });
}

function blockTable(blocks) {
  return `<table><thead><tr><th>Height</th><th>Time</th><th class="num">Txs</th><th class="hide-narrow">Proposer</th><th class="hide-narrow">Id</th></tr></thead><tbody>
    ${blocks.map((b) => `<tr><td>${blockLink(b.height)}</td><td>${e(time(b.header.time_ms))}</td><td class="num">${e(b.txs)}</td><td class="hide-narrow">${e(b.header.proposer)}</td><td class="mono hide-narrow">${e(short(b.block_id))}</td></tr>`).join('')}
  </tbody></table>`;
}

async function blocks(before) {
  const main = current;
  const page = await api(`/v1/blocks?limit=25${before ? `&before=${encodeURIComponent(before)}` : ''}`);
  main.innerHTML = `<h1>Blocks</h1><div class="card">${blockTable(page.blocks)}
    <div class="pager">${page.next ? `<a href="#/blocks/${e(page.next)}">Older</a>` : ''}</div></div>`;
}

async function block(height) {
  const main = current;
  const [found, map] = await Promise.all([api(`/v1/blocks/${encodeURIComponent(height)}`), scales()]);
  const { block: b, block_id: id } = found;
  const txs = b.txs.slice(0, 50);
  const receipts = await Promise.all(txs.map((_, i) => api(`/v1/txs/${txs[i].tx_id}`).catch(() => null)));
  main.innerHTML = `<h1>Block ${e(b.header.height)}</h1>
    <div class="card"><table>
      <tr><th>Id</th><td class="mono">${e(id)}</td></tr>
      <tr><th>Time</th><td>${e(time(b.header.time_ms))}</td></tr>
      <tr><th>View · proposer</th><td>${e(b.header.view)} · validator ${e(b.header.proposer)}</td></tr>
      <tr><th>Parent</th><td class="mono">${Number(b.header.height) > 1 ? blockLink(Number(b.header.height) - 1) : 'genesis'} ${e(short(b.header.parent_id))}</td></tr>
      <tr><th>State root</th><td class="mono">${e(b.header.state_root)}</td></tr>
      <tr><th>Transactions</th><td>${e(b.txs.length)}</td></tr>
    </table></div>
    <div class="card"><h2>Transactions</h2>${txs.length === 0 ? '<p class="muted">An empty block.</p>' : `<table><thead><tr><th>Tx</th><th>Signer</th><th>Ops</th><th>Outcome</th></tr></thead><tbody>
      ${txs.map((tx, i) => `<tr><td>${txLink(tx.tx_id)}</td><td>${addressLink(tx.signer)}</td><td>${opsList(tx.ops, map)}</td><td>${outcome(receipts[i]?.receipt)}</td></tr>`).join('')}
    </tbody></table>`}${b.txs.length > txs.length ? `<p class="muted">First ${txs.length} of ${b.txs.length}.</p>` : ''}</div>`;
}

async function tx(id) {
  const main = current;
  const [found, map] = await Promise.all([api(`/v1/txs/${encodeURIComponent(id)}`), scales()]);
  main.innerHTML = `<h1>Transaction <span class="mono">${e(short(id, 16))}</span></h1>
    <div class="card"><table>
      <tr><th>Id</th><td class="mono">${e(id)}</td></tr>
      <tr><th>Block</th><td>${blockLink(found.height)} (index ${e(found.index)})</td></tr>
      <tr><th>Signer</th><td>${addressLink(found.signer)} · seq ${e(found.seq)}</td></tr>
      <tr><th>Ops</th><td>${opsList(found.ops, map)}</td></tr>
      <tr><th>Outcome</th><td>${outcome(found.receipt)}</td></tr>
      ${found.receipt.fills?.length ? `<tr><th>Fills</th><td>${found.receipt.fills.length} trade(s)</td></tr>` : ''}
      <tr><th>Verified</th><td id="verified"><button id="verify-tx" class="secondary">Verify in this browser</button></td></tr>
    </table></div>`;
  document.getElementById('verify-tx').addEventListener('click', async () => {
    const cell = document.getElementById('verified');
    cell.textContent = 'Verifying…';
    try {
      const sdk = await import('/explorer/sdk/index.js');
      const trust = await nodeTrust(sdk);
      const result = await sdk.verifyTransaction(new sdk.TallyClient(location.origin), trust, id);
      cell.innerHTML = result
        ? `<span class="badge ok">verified</span> finalized at height ${e(result.finalized.height ?? found.height)}; tx and receipt proven against its header (validator set as this node reports it)`
        : '<span class="badge bad">not found</span>';
    } catch (error) {
      cell.innerHTML = `<span class="badge bad">not verified</span> ${e(error.message)}`;
    }
  });
}

/** Trust from the validator set this node reports (the page says so), or a dropped genesis. */
let droppedGenesis;
async function nodeTrust(sdk) {
  if (droppedGenesis) return sdk.trustFromGenesis(droppedGenesis);
  const [status, validators] = await Promise.all([api('/v1/status'), api('/v1/validators')]);
  const keys = validators.validators.map((v, i) => ({ consensus_key: sdk.toAddress(sdk.parsePublicKeyHex(v.key, `validators[${i}]`)) }));
  return sdk.trustFromGenesis({ chain_id: status.chain_id, validators: keys });
}

/** An account's open holds with amounts in human units (the API gives them so). */
function holdsTable(page) {
  const plan = (p) => (p ? (typeof p === 'string' ? p : `${p.plan_id}@${p.version}`) : '—');
  const note = page.complete ? '' : `<p class="muted">Among the account's newest ${e(page.scanned_txs)} transactions.</p>`;
  if (page.holds.length === 0) return `<p class="muted" id="holds-empty">None.</p>${note}`;
  return `<table id="holds"><thead><tr><th>Hold</th><th>Provider</th><th class="num">Amount</th><th>Expires</th><th class="hide-narrow">Plan</th><th class="hide-narrow">Placed</th></tr></thead><tbody>
    ${page.holds.map((h) => `<tr data-hold="${e(h.hold_id)}"><td class="mono" title="${e(h.hold_id)}">${e(short(h.hold_id, 6))}</td><td><a href="#/provider/${e(h.member)}">${e(h.member)}</a></td><td class="num">${e(h.amount)} ${assetLink(h.asset)}</td><td>${e(time(h.expires_at_ms))}</td><td class="hide-narrow">${e(plan(h.plan))}</td><td class="hide-narrow">${blockLink(h.created_at)}</td></tr>`).join('')}
  </tbody></table>${note}`;
}

function historyRows(txs, map) {
  return txs.map((t) => `<tr data-tx="${e(t.tx_id)}"><td>${blockLink(t.height)}</td><td>${txLink(t.tx_id)}</td><td>${e((t.roles ?? []).join(', '))}</td><td>${opsList(t.ops, map)}</td><td>${outcome(t.receipt)}</td></tr>`).join('');
}

async function account(address, before) {
  const main = current;
  const [acct, offers, holds, history, map] = await Promise.all([
    api(`/v1/accounts/${encodeURIComponent(address)}`),
    api(`/v1/accounts/${encodeURIComponent(address)}/offers`),
    api(`/v1/accounts/${encodeURIComponent(address)}/holds`),
    api(`/v1/accounts/${encodeURIComponent(address)}/history?limit=25${before ? `&before=${encodeURIComponent(before)}` : ''}`),
    scales(),
  ]);
  main.innerHTML = `<h1>Account <span class="mono">${e(address)}</span></h1>
    <div class="row">
      <div class="card"><h2>Balances</h2>${acct.balances.length === 0 ? '<p class="muted">No balances.</p>' : `<table><thead><tr><th>Asset</th><th class="num">Available</th><th class="num">Locked</th></tr></thead><tbody>
        ${acct.balances.map((b) => `<tr><td>${assetLink(b.asset)}</td><td class="num">${e(b.available)}</td><td class="num">${e(b.locked)}</td></tr>`).join('')}</tbody></table>`}
        <p class="muted">seq ${e(acct.seq)} at height ${e(acct.height)}</p></div>
      <div class="card"><h2>Open offers</h2>${offers.offers.length === 0 ? '<p class="muted">None.</p>' : `<table><thead><tr><th>Sells</th><th>For</th><th class="num">Remaining</th><th>Price</th></tr></thead><tbody>
        ${offers.offers.map((o) => `<tr><td>${e(o.sell)}</td><td>${e(o.buy)}</td><td class="num">${e(o.remaining ?? o.remaining_minor)}</td><td>${e(o.price ?? '')}</td></tr>`).join('')}</tbody></table>`}</div>
    </div>
    <div class="card"><h2>Open holds</h2>${holdsTable(holds)}</div>
    <div class="card"><h2>History</h2><p class="muted">Transactions this account signed, received from, holds it is party to, trades against its offers. Holds appear as the hold, settle and void transactions.</p>
      <table><thead><tr><th>Block</th><th>Tx</th><th>Role</th><th>Ops</th><th>Outcome</th></tr></thead><tbody id="history">${historyRows(history.txs, map)}</tbody></table>
      ${history.txs.length === 0 ? '<p class="muted" id="history-empty">No transactions yet.</p>' : ''}
      <div class="pager">${history.next ? `<a href="#/account/${e(address)}/${e(history.next)}">Older</a>` : ''}</div>
      ${Number(history.indexed_from) > 1 ? `<p class="muted">Indexed from height ${e(history.indexed_from)}.</p>` : ''}
    </div>
    <div class="card" id="badges-received"><h2>Badges received</h2>
      <p class="muted">The ledger anchors badges as hashes, so it cannot say whom a badge names. Drop a badge this account received and its receipt: your browser checks the six steps of <code>tally badge verify</code>.</p>
      ${BADGE_FORM}</div>`;
  if (main.isConnected) wireBadgeForm();
  if (!before && main.isConnected) {
    // New transactions of this account appear as they commit.
    stream = new EventSource(`/v1/events?accounts=${encodeURIComponent(address)}`);
    stream.addEventListener('tx', async (event) => {
      const t = JSON.parse(event.data);
      const body = document.getElementById('history');
      if (!body || body.querySelector(`[data-tx="${CSS.escape(t.tx_id)}"]`)) return;
      const roles = t.signer === address ? ['signer'] : ['recipient'];
      body.insertAdjacentHTML('afterbegin', historyRows([{ ...t, roles }], await scales()));
      document.getElementById('history-empty')?.remove();
    });
  }
}

async function assets() {
  const main = current;
  const page = await api('/v1/assets?limit=1000');
  main.innerHTML = `<h1>Assets</h1><div class="card"><table><thead><tr><th>Asset</th><th>Provider</th><th class="num">Supply</th><th class="num hide-narrow">Minted</th><th class="num hide-narrow">Burned</th></tr></thead><tbody>
    ${page.assets.map((a) => `<tr><td>${assetLink(a.asset)}</td><td><a href="#/provider/${e(a.asset.split('@')[1])}">${e(a.asset.split('@')[1])}</a></td><td class="num">${e(a.supply)}</td><td class="num hide-narrow">${e(a.minted)}</td><td class="num hide-narrow">${e(a.burned)}</td></tr>`).join('')}
  </tbody></table></div>`;
}

async function asset(id) {
  const main = current;
  const a = await api(`/v1/assets/${encodeURIComponent(id)}`);
  const member = id.split('@')[1];
  main.innerHTML = `<h1>${e(id)}</h1><div class="grid">
    <div class="card stat"><div class="value">${e(a.supply)}</div><div class="label">supply</div></div>
    <div class="card stat"><div class="value">${e(a.minted)}</div><div class="label">minted</div></div>
    <div class="card stat"><div class="value">${e(a.burned)}</div><div class="label">burned</div></div>
    <div class="card stat"><div class="value">${e(a.scale)}</div><div class="label">decimals</div></div></div>
    <p><a href="#/provider/${e(member)}">Provider ${e(member)}: figures</a> · <a href="#/markets">Markets</a></p>`;
}

const PALETTE = ['#2457c5', '#1e8449', '#c0392b', '#b9770e', '#7d3c98', '#117a8b', '#5d6777', '#a04000'];
const DAY_MS = 86_400_000;
/** The windows a provider's rewards chart offers: bucket and days. */
const REWARD_WINDOWS = [['day', 90, '90 days, per day'], ['week', 371, 'a year, per week'], ['month', 1_826, '5 years, per month']];

/** Rewards per reason per bucket as stacked bars over the window's time axis (gaps stay gaps). */
function stackedChart(series) {
  const { buckets, reasons, scale } = series;
  if (buckets.length === 0) return '<p class="muted">No rewards in this window.</p>';
  const width = 600, height = 160, pad = 18;
  const value = (bucket, reason) => Number(bucket.by_reason_minor[reason] ?? 0) / 10 ** scale;
  const max = Math.max(...buckets.map((b) => reasons.reduce((sum, r) => sum + value(b, r), 0)), 1e-9);
  const span = Math.max(series.to_ms - series.from_ms, DAY_MS);
  const step = { day: DAY_MS, week: 7 * DAY_MS, month: 30.44 * DAY_MS }[series.bucket] ?? DAY_MS;
  const bar = Math.max(((width - 2 * pad) * step) / span - 1, 1.5);
  const x = (ms) => pad + ((Math.max(ms, series.from_ms) - series.from_ms) / span) * (width - 2 * pad - bar);
  const y = (v) => ((height - 2 * pad) * v) / max;
  const rects = buckets.map((b) => {
    let base = height - pad;
    return reasons.map((reason, i) => {
      const h = y(value(b, reason));
      if (h <= 0) return '';
      base -= h;
      return `<rect x="${x(b.start_ms)}" y="${base}" width="${bar}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${e(reason)}: ${e(b.by_reason[reason])} (${e(time(b.start_ms).slice(0, 10))})</title></rect>`;
    }).join('');
  }).join('');
  const legend = reasons.map((r, i) => `<span class="legend"><i style="background:${PALETTE[i % PALETTE.length]}"></i>${e(r)}</span>`).join(' ');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="rewards by reason">${rects}<text x="${pad}" y="12">${e(series.asset)} per ${e(series.bucket)} · max ${e(Number(max.toPrecision(3)))} · ${e(time(series.from_ms).slice(0, 10))} to ${e(time(series.to_ms - DAY_MS).slice(0, 10))}</text></svg><p class="legends">${legend}</p>${series.truncated ? '<p class="muted">Only the newest days fit in one read.</p>' : ''}`;
}

/** Loads one asset's rewards series into its chart element, for the chosen window. */
async function loadRewards(member, asset, index, [bucket, days]) {
  const out = document.getElementById(`rewards-${index}`);
  if (!out) return;
  try {
    const series = await api(`/v1/providers/${encodeURIComponent(member)}/rewards?asset=${encodeURIComponent(asset)}&bucket=${bucket}&days=${days}`);
    out.innerHTML = stackedChart(series);
    out.dataset.buckets = String(series.buckets.length);
  } catch (error) {
    out.innerHTML = `<p class="error">${e(error.message)}</p>`;
  }
}

/** The provider's community figures: badges anchored per achievement (anchors that name them). */
function figuresTable(figures) {
  if (figures.figures.length === 0) return '<p class="muted" id="no-figures">No anchor has named an achievement yet.</p>';
  return `<table id="figures"><thead><tr><th>Achievement</th><th class="num">Badges</th><th class="num">Batches</th><th class="hide-narrow">First</th><th class="hide-narrow">Latest</th></tr></thead><tbody>
    ${figures.figures.map((f) => `<tr><td class="mono">${e(f.achievement)}</td><td class="num">${e(f.anchored)}</td><td class="num">${e(f.batches)}</td><td class="hide-narrow">${blockLink(f.first_height)}</td><td class="hide-narrow">${blockLink(f.last_height)}</td></tr>`).join('')}
  </tbody></table>`;
}

async function provider(member) {
  const main = current;
  const [p, figures] = await Promise.all([
    api(`/v1/providers/${encodeURIComponent(member)}`),
    api(`/v1/badges/figures?member=${encodeURIComponent(member)}`),
  ]);
  main.innerHTML = `<h1>Provider ${e(p.name)} <span class="muted">${e(p.member)}</span></h1>
    ${p.assets.map((a, index) => `<div class="card"><h2>${assetLink(a.asset)}</h2><div class="grid">
      ${[['purchase', 'sold'], ['reward', 'rewarded'], ['promo', 'promotions'], ['burned', 'burned'], ['settled_amount', 'settled usage']].map(([k, label]) => `<div class="stat"><div class="value">${e(a[k] ?? '0')}</div><div class="label">${label}</div></div>`).join('')}
      <div class="stat"><div class="value">${e(a.settled_batches ?? 0)}</div><div class="label">settled batches</div></div>
      <div class="stat"><div class="value">${e(a.holders)}</div><div class="label">holders</div></div></div>
      <h2>Rewards by reason over time</h2>
      <div class="pager" data-rewards="${index}">${REWARD_WINDOWS.map((w, i) => `<button class="secondary" data-window="${i}">${e(w[2])}</button>`).join('')}</div>
      <div id="rewards-${index}" class="rewards"><p class="muted">Loading…</p></div>
      <h2>Rewards by reason, in all</h2>${Object.keys(a.rewards_by_reason).length === 0 ? '<p class="muted">None yet.</p>' : `<table>${Object.entries(a.rewards_by_reason).map(([r, v]) => `<tr><td>${e(r)}</td><td class="num">${e(v)}</td></tr>`).join('')}</table>`}</div>`).join('')}
    <div class="card"><h2>Badges</h2><p>${e(p.badges.badge_batches ?? 0)} batches anchored (${e(p.badges.badge_leaves ?? 0)} badges), ${e(p.badges.badges_revoked ?? 0)} revoked.</p><h2>Per achievement</h2>${figuresTable(figures)}<p class="muted">${e(p.units_note)}</p></div>`;
  p.assets.forEach((a, index) => {
    document.querySelectorAll(`[data-rewards="${index}"] button`).forEach((button) =>
      button.addEventListener('click', () => loadRewards(p.member, a.asset, index, REWARD_WINDOWS[Number(button.dataset.window)])));
  });
  await Promise.all(p.assets.map((a, index) => loadRewards(p.member, a.asset, index, REWARD_WINDOWS[0])));
}

async function markets() {
  const main = current;
  const page = await api('/v1/assets?limit=1000');
  const ids = page.assets.filter((a) => a.flags === 0).map((a) => a.asset).slice(0, 12);
  const pairs = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) pairs.push([ids[i], ids[j]]);
  const summaries = await Promise.all(pairs.map(([b, q]) => api(`/v1/markets/${b}/${q}/summary`).catch(() => null)));
  main.innerHTML = `<h1>Markets</h1><div class="card"><table><thead><tr><th>Market</th><th class="num">Last price</th><th class="num">Trades (24 h)</th><th class="num">Volume (24 h)</th></tr></thead><tbody>
    ${pairs.map(([b, q], i) => `<tr><td><a href="#/market/${e(b)}/${e(q)}">${e(b)} / ${e(q)}</a></td><td class="num">${e(summaries[i]?.last_price ?? '—')}</td><td class="num">${e(summaries[i]?.trades_24h ?? 0)}</td><td class="num">${e(summaries[i]?.base_volume_24h ?? '0')}</td></tr>`).join('')}
  </tbody></table></div>`;
}

function depthChart(book) {
  const width = 600, height = 160, pad = 18;
  let cumulative = 0;
  const bids = book.bids.map((l) => ({ price: Number(l.price), depth: (cumulative += Number(l.amount) / Math.max(Number(l.price), 1e-18)) }));
  cumulative = 0;
  const asks = book.asks.map((l) => ({ price: Number(l.price), depth: (cumulative += Number(l.amount)) }));
  const all = [...bids, ...asks];
  if (all.length === 0) return '<p class="muted">The book is empty.</p>';
  const prices = all.map((p) => p.price);
  const [lo, hi] = [Math.min(...prices), Math.max(...prices)];
  const maxDepth = Math.max(...all.map((p) => p.depth), 1e-9);
  const x = (p) => pad + ((p - lo) / Math.max(hi - lo, 1e-9)) * (width - 2 * pad);
  const y = (d) => height - pad - (d / maxDepth) * (height - 2 * pad);
  // A step from the axis up to each level's cumulative depth; a single level is still a visible bar.
  const path = (side, color) =>
    side.length
      ? `<polyline fill="none" stroke="${color}" stroke-width="2" points="${[`${x(side[0].price)},${y(0)}`, ...side.map((p) => `${x(p.price)},${y(p.depth)}`)].join(' ')}"/>` +
        side.map((p) => `<circle cx="${x(p.price)}" cy="${y(p.depth)}" r="3" fill="${color}"/>`).join('')
      : '';
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="depth">${path(bids, '#1e8449')}${path(asks, '#c0392b')}<text x="${pad}" y="12">depth (base units) by price · bids green, asks red</text></svg>`;
}

async function market(base, quote) {
  const main = current;
  const [book, trades, summary] = await Promise.all([
    api(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}?limit=50`),
    api(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/trades?limit=100`),
    api(`/v1/markets/${encodeURIComponent(base)}/${encodeURIComponent(quote)}/summary`),
  ]);
  const levels = (side, id) => `<table id="${id}"><thead><tr><th class="num">Price</th><th class="num">Amount</th><th class="num">Offers</th></tr></thead><tbody>
    ${side.map((l) => `<tr><td class="num">${e(l.price)}</td><td class="num">${e(l.amount)}</td><td class="num">${e(l.offers)}</td></tr>`).join('')}</tbody></table>`;
  main.innerHTML = `<h1>${e(base)} / ${e(quote)}</h1>
    <div class="grid">
      <div class="card stat"><div class="value">${e(summary.last_price ?? '—')}</div><div class="label">last price (${e(book.price_unit)})</div></div>
      <div class="card stat"><div class="value">${e(summary.base_volume_24h)}</div><div class="label">24 h volume (${e(base)})</div></div>
      <div class="card stat"><div class="value">${e(summary.trades_24h)}</div><div class="label">24 h trades</div></div>
    </div>
    <div class="card"><h2>Depth</h2>${depthChart(book)}</div>
    <div class="row">
      <div class="card"><h2>Bids <span class="muted">(amount in ${e(quote)})</span></h2>${levels(book.bids, 'bids')}</div>
      <div class="card"><h2>Asks <span class="muted">(amount in ${e(base)})</span></h2>${levels(book.asks, 'asks')}</div>
    </div>
    <div class="card"><h2>Price over time</h2>${chart([...trades.trades].reverse().map((t) => Number(t.price)), { label: book.price_unit })}</div>
    <div class="card"><h2>Recent trades</h2>${trades.trades.length === 0 ? '<p class="muted">No trades yet.</p>' : `<table id="trades"><thead><tr><th>Time</th><th>Side</th><th class="num">Price</th><th class="num">${e(base)}</th><th class="num">${e(quote)}</th></tr></thead><tbody>
      ${trades.trades.map((t) => `<tr><td>${e(time(t.time_ms))}</td><td>${e(t.side)}</td><td class="num">${e(t.price)}</td><td class="num">${e(t.base_amount)}</td><td class="num">${e(t.quote_amount)}</td></tr>`).join('')}</tbody></table>`}</div>`;
}

/** The badge form: an assertion and its receipt (and optionally a genesis file), dropped or chosen. */
const BADGE_FORM = `<div class="drop" id="drop">
      <label>Assertion <input type="file" id="assertion-file"></label>
      <label>Receipt <input type="file" id="receipt-file" accept=".json,application/json"></label>
      <label>Genesis (optional) <input type="file" id="genesis-file" accept=".json,application/json"></label>
      <p class="muted">or drop the files here (the receipt is the JSON with <code>badge_hash</code>)</p>
      <button id="verify-badge">Verify</button>
    </div>
    <div class="card" id="badge-result" hidden></div>`;

function badgeView() {
  current.innerHTML = `<h1>Verify a badge</h1>
    <p class="muted">Drop an Open Badges assertion (JSON or JWS) and its receipt. Your browser checks the six steps of <code>tally badge verify</code> with the Tally SDK; this node only supplies the evidence. Without a genesis file the validator set is the one this node reports.</p>
    ${BADGE_FORM}`;
  wireBadgeForm();
}

/** Reads the badge form's files and verifies them in the browser on "Verify". */
function wireBadgeForm() {
  const files = { assertion: undefined, receipt: undefined };
  const read = (file) => file.arrayBuffer().then((buffer) => new Uint8Array(buffer));
  for (const kind of ['assertion', 'receipt', 'genesis']) {
    document.getElementById(`${kind}-file`).addEventListener('change', async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      if (kind === 'genesis') droppedGenesis = new TextDecoder().decode(await read(file));
      else files[kind] = await read(file);
    });
  }
  const drop = document.getElementById('drop');
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    for (const file of event.dataTransfer.files) {
      const bytes = await read(file);
      const text = new TextDecoder().decode(bytes);
      if (/"badge_hash"/.test(text)) files.receipt = bytes;
      else if (/"validators"/.test(text) && /"chain_id"/.test(text)) droppedGenesis = text;
      else files.assertion = bytes;
    }
  });
  document.getElementById('verify-badge').addEventListener('click', async () => {
    const out = document.getElementById('badge-result');
    out.hidden = false;
    if (!files.assertion || !files.receipt) {
      out.innerHTML = '<p class="error">Choose both the assertion and its receipt.</p>';
      return;
    }
    out.innerHTML = '<p>Verifying…</p>';
    try {
      const sdk = await import('/explorer/sdk/index.js');
      const receipt = sdk.parseBadgeReceipt(files.receipt);
      const trust = await nodeTrust(sdk);
      const report = await sdk.verifyBadge(new sdk.TallyClient(location.origin), trust, files.assertion, receipt);
      const ran = new Map(report.steps.map((s) => [s.number, s]));
      out.innerHTML = `<h2 id="badge-verdict" data-valid="${report.valid}" data-failed-step="${e(report.failedStep?.number ?? '')}">${report.valid ? '<span class="badge ok">valid</span> all six steps passed' : `<span class="badge bad">invalid</span> step ${e(report.failedStep.number)} (${e(report.failedStep.name)}) failed`}</h2>
        <p class="mono">badge ${e(report.badgeHash)}</p>
        <ol class="steps">${sdk.BADGE_STEPS.map((name, i) => {
          const step = ran.get(i + 1);
          const state = step ? (step.passed ? 'passed' : 'failed') : 'skipped';
          return `<li class="${state}" data-step="${i + 1}"><strong>${i + 1}. ${e(name)}</strong> — ${step ? e(step.detail) : 'not run'}${step?.expected ? `<br><span class="muted">expected ${e(step.expected)}, got ${e(step.actual)}</span>` : ''}</li>`;
        }).join('')}</ol>`;
    } catch (error) {
      out.innerHTML = `<h2 id="badge-verdict" data-valid="false"><span class="badge bad">cannot verify</span></h2><p class="error">${e(error.message)}</p>`;
    }
  });
}

// ---- prices ----

/** A plan item's prices in words: its free units per hold, then each tier, in human units. */
function tiersText(item, scale) {
  const each = (nanos) => `${e(amount(nanos, scale + 9))} each`;
  const parts = item.included_per_hold > 0n ? [`${e(item.included_per_hold)} free per hold`] : [];
  let below = 0n;
  item.tiers.forEach((tier, i) => {
    if (tier.up_to === null) parts.push(i === 0 ? each(tier.unit_price) : `beyond ${e(below)}: ${each(tier.unit_price)}`);
    else parts.push(`${i === 0 ? 'up to' : `${e(below + 1n)} to`} ${e(tier.up_to)}: ${each(tier.unit_price)}`);
    below = tier.up_to ?? below;
  });
  return parts.join('<br>');
}

const planName = (c) => `${c.member}/${c.plan.plan_id}@${c.plan.version}`;

/** The plans side by side: one column per active plan version, one row per metered item. */
function plansTable(candidates, map) {
  const items = [...new Set(candidates.flatMap((c) => c.plan.items.map((i) => i.item)))].sort();
  const head = candidates.map((c) => `<th data-plan="${e(planName(c))}"><a href="#/provider/${e(c.member)}">${e(c.member)}</a> ${e(c.plan.plan_id)}@${e(c.plan.version)}<br><span class="muted">${e(c.plan.title)} · in ${assetLink(c.plan.asset)}</span></th>`).join('');
  const rows = items.map((item) => `<tr data-item="${e(item)}"><th><code>${e(item)}</code></th>${candidates.map((c) => {
    const priced = c.plan.items.find((i) => i.item === item);
    return priced ? `<td>${tiersText(priced, map.get(c.plan.asset) ?? 0)}</td>` : '<td class="muted">not priced</td>';
  }).join('')}</tr>`).join('');
  return `<table id="plans"><thead><tr><th>Item</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** A usage file quoted under every plan: a row per usage line, a total per plan (or why not). */
function quoteTable(usage, quotes, candidates, map) {
  const human = (q, minor) => `${e(amount(minor, map.get(q.asset) ?? 0))}`;
  const rows = usage.lines.map((line, n) => `<tr><td><code>${e(line.item)}</code></td><td class="num">${e(line.units)}</td>${quotes.map((q) => ('error' in q ? '<td></td>' : `<td class="num">${human(q, q.lines[n].amount)}</td>`)).join('')}</tr>`).join('');
  const totals = quotes.map((q) => ('error' in q
    ? `<td class="error" data-plan="${e(q.plan)}">cannot price: ${e(q.error)}</td>`
    : `<td class="num" data-plan="${e(q.plan)}" data-total-minor="${e(q.total)}"><strong>${human(q, q.total)} ${e(q.asset)}</strong></td>`)).join('');
  return `<table id="quote-table"><thead><tr><th>Item</th><th class="num">Units</th>${candidates.map((c) => `<th>${e(planName(c))}</th>`).join('')}</tr></thead>
    <tbody>${rows}</tbody><tfoot><tr><th>Total</th><td></td>${totals}</tr></tfoot></table>`;
}

async function prices() {
  const main = current;
  const sdk = await import('/explorer/sdk/index.js');
  const [listing, map] = await Promise.all([api('/v1/plans', sdk.parseJsonLossless), scales()]);
  const candidates = listing.plans.filter((p) => p.status === 'active').map((p) => ({ member: p.member, status: p.status, plan: sdk.planFromJson(p.plan) }));
  const retired = listing.plans.length - candidates.length;
  main.innerHTML = `<h1>Prices</h1>
    <p class="muted">Price plans the providers published on the ledger, in the one form every provider uses: minor units of its asset per unit, graduated tiers counted over a holder's settlements under the version, and free units per hold. ${retired ? `${e(retired)} retired version(s) not shown.` : ''}</p>
    <div class="card">${candidates.length === 0 ? '<p class="muted" id="no-plans">No provider has published a price plan yet.</p>' : plansTable(candidates, map)}</div>
    <h2>What would my usage cost?</h2>
    <div class="drop" id="usage-drop">
      <label>Usage file <input type="file" id="usage-file" accept=".csv,text/csv"></label>
      <p class="muted">or drop it here: a CSV with the header <code>call_id,time_ms,endpoint,item,units</code>, as <code>tally price quote --usage</code> takes. Your browser quotes it under each plan with the Tally SDK, for a new holder (allowances and first tiers apply); the file does not leave the page.</p>
    </div>
    <div class="card" id="quote" hidden></div>`;
  const show = async (file) => {
    const out = document.getElementById('quote');
    out.hidden = false;
    try {
      if (file.size > sdk.USAGE_FILE_BYTES_MAX) throw new Error(`the usage file is larger than ${sdk.USAGE_FILE_BYTES_MAX} bytes`);
      const usage = sdk.parsePlannedUsage(new Uint8Array(await file.arrayBuffer()));
      const quotes = sdk.quote(candidates, usage.lines);
      out.innerHTML = `<h2 id="quote-summary">${e(file.name)}: ${e(usage.calls)} calls, ${usage.lines.map((l) => `${e(l.units)} × ${e(l.item)}`).join(', ') || 'no units'}</h2>
        ${candidates.length ? quoteTable(usage, quotes, candidates, map) : '<p class="muted">No plan to quote it under.</p>'}
        <p class="muted">Each plan charges in its own asset; <a href="#/markets">Markets</a> show what they trade at.</p>`;
    } catch (error) {
      out.innerHTML = `<p class="error" id="usage-error">${e(file.name)}: ${e(error.message)}</p>`;
    }
  };
  document.getElementById('usage-file').addEventListener('change', (event) => event.target.files[0] && show(event.target.files[0]));
  const drop = document.getElementById('usage-drop');
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    if (event.dataTransfer.files[0]) show(event.dataTransfer.files[0]);
  });
}

async function search(text) {
  const main = current;
  const found = await api(`/v1/search?q=${encodeURIComponent(text)}`);
  switch (found.kind) {
    case 'block': return (location.hash = `#/block/${found.height}`);
    case 'tx': return (location.hash = `#/tx/${found.tx_id}`);
    case 'account': return (location.hash = `#/account/${found.address}`);
    case 'asset': return (location.hash = `#/asset/${found.asset}`);
    case 'provider': return (location.hash = `#/provider/${found.member}`);
    case 'badge_batch':
      main.innerHTML = `<h1>Badge batch</h1><div class="card"><p>Root <span class="mono">${e(found.root)}</span>: ${e(found.leaf_count)} badges anchored by ${e(found.member)} at height ${blockLink(found.height)} in ${txLink(found.tx_id)}.</p><p><a href="#/badge">Verify one of its badges</a></p></div>`;
      return;
    case 'badge_revoked':
      main.innerHTML = `<h1>Revoked badge</h1><div class="card"><p><span class="badge bad">revoked</span> <span class="mono">${e(found.badge_hash)}</span> by ${e(found.member)} at height ${blockLink(found.height)}.</p></div>`;
      return;
    default:
      main.innerHTML = `<pre>${e(JSON.stringify(found, null, 2))}</pre>`;
  }
}

// ---- routing ----

async function route() {
  closeStream();
  const main = document.createElement('div');
  root.replaceChildren(main);
  current = main;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [view, ...rest] = parts;
  try {
    switch (view) {
      case '': await network(); break;
      case 'blocks': await blocks(rest[0]); break;
      case 'block': await block(rest[0]); break;
      case 'tx': await tx(rest[0]); break;
      case 'account': await account(rest[0], rest[1]); break;
      case 'assets': await assets(); break;
      case 'asset': await asset(rest[0]); break;
      case 'provider': await provider(rest[0]); break;
      case 'markets': await markets(); break;
      case 'market': await market(rest[0], rest[1]); break;
      case 'badge': badgeView(); break;
      case 'prices': await prices(); break;
      case 'search': await search(rest.join('/')); break;
      default: main.innerHTML = `<p class="error">No page \`${e(view)}\`.</p>`;
    }
  } catch (error) {
    main.innerHTML = `<h1>Not found</h1><p class="error" id="problem">${e(error.message)}</p>`;
  }
}

document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = document.getElementById('search-input').value.trim();
  if (text) location.hash = `#/search/${encodeURIComponent(text)}`;
});
window.addEventListener('hashchange', route);
route();
