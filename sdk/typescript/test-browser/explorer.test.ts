// The explorer page in a real browser (Debian's chromium through playwright-core) against a live
// 4-validator network: the first view and its weight, a transfer followed from submission to the
// account's history, the order book and a trade, badges verified in the browser by the SDK —
// valid, tampered (fails at step 1) and revoked (fails at step 6) —, published price plans side
// by side with a dropped usage file quoted under each, an account's open holds, and rewards by
// reason over time. Screenshots go to
// TALLY_SCREENSHOTS (default dist/screenshots). Run with `npm run test:browser`; binaries from
// TALLY_BIN_DIR, chromium from CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as sdk from '../src/index.js';
import { packageRoot, readRepoFile } from '../test/support.js';
import { binDir, readText, startLocalNet, type LocalNet } from '../test-live/localnet.js';

/** A guard against waiting forever, not a measured limit: each wait ends at the awaited event. */
const WAIT_MS = 90_000;
const shots = resolve(process.env['TALLY_SCREENSHOTS'] ?? join(packageRoot, 'dist', 'screenshots'));

async function waitForHeight(url: string, height: bigint): Promise<void> {
  const client = new sdk.TallyClient(url, { timeoutMs: 2_000 });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const reached = await client.getStatus().then((s) => sdk.toBigInt(s.committed_height, 'height')).catch(() => -1n);
    if (reached >= height) return;
    if (Date.now() > deadline) throw new Error(`the node did not reach height ${height} within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The receipt file `tally badge anchor` writes, from the SDK's receipt. */
function receiptJson(receipt: sdk.BadgeReceipt): string {
  return JSON.stringify({
    badge_hash: sdk.toHex(receipt.badge_hash),
    canon: receipt.canon,
    path: { index: Number(receipt.path.index), leaf_count: Number(receipt.path.leaf_count), siblings: receipt.path.siblings.map((s) => sdk.toHex(s)) },
    root: sdk.toHex(receipt.root),
    tx_id: receipt.tx_id === null ? null : sdk.toHex(receipt.tx_id),
    height: receipt.height === null ? null : Number(receipt.height),
  });
}

describe('the explorer in chromium', { timeout: 300_000 }, () => {
  let net: LocalNet;
  let browser: Browser;
  let page: Page;
  let failed = false;
  let client: sdk.TallyClient;
  let acme: sdk.SecretKey;
  let globex: sdk.SecretKey;
  let url: string;
  const files = mkdtempSync(join(tmpdir(), 'tally-explorer-files-'));

  before(async () => {
    mkdirSync(shots, { recursive: true });
    net = await startLocalNet(binDir(packageRoot));
    url = net.urls[0]!;
    try {
      await waitForHeight(url, 2n);
      client = new sdk.TallyClient(url);
      acme = sdk.SecretKey.fromHex(readText(net.issuerKeyPath('acme')));
      globex = sdk.SecretKey.fromHex(readText(net.issuerKeyPath('globex')));
      browser = await chromium.launch({ executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    rmSync(files, { recursive: true, force: true });
    if (browser !== undefined) await browser.close();
    if (net !== undefined) {
      await net.stop(failed);
      if (failed) console.error(`kept ${net.dir} for its logs`);
    }
  });

  const step = async (body: () => Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (error) {
      failed = true;
      if (page !== undefined) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    }
  };

  it('shows the network on the first view and weighs it', () =>
    step(async () => {
      await page.goto(`${url}/`, { waitUntil: 'networkidle' });
      await page.waitForSelector('#tip', { timeout: WAIT_MS });
      assert.match((await page.textContent('#tip')) ?? '', /^\d+$/);
      assert.equal(await page.locator('text=Validators').count() > 0, true);
      // Bytes transferred for the first view: the document and every resource it loaded.
      const weight = await page.evaluate(() => {
        const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
        return { transferred: entries.reduce((sum, e) => sum + e.transferSize, 0), decoded: entries.reduce((sum, e) => sum + e.decodedBodySize, 0), requests: entries.length };
      });
      writeFileSync(join(shots, 'first-view-weight.json'), JSON.stringify(weight, null, 2));
      console.log(`first view: ${(weight.transferred / 1024).toFixed(1)} KB transferred (${(weight.decoded / 1024).toFixed(1)} KB decoded) in ${weight.requests} requests`);
      assert.ok(weight.transferred > 0 && weight.requests >= 4, JSON.stringify(weight));
      await page.screenshot({ path: join(shots, 'network.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(shots, 'network-phone.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
    }));

  it('follows a transfer from submission to the account history', () =>
    step(async () => {
      const recipient = sdk.SecretKey.generate().address();
      await page.goto(`${url}/#/account/${recipient}`);
      await page.waitForSelector('#history-empty', { timeout: WAIT_MS });
      const tx = await sdk.prepareTransaction(client, acme, [sdk.ops.transfer({ asset: 'ACME@acme', to: recipient, amount: sdk.parseAmount('12.5', 2) })]);
      const { tx_id } = await client.submit(tx);
      // The open page learns of the commit over /v1/events and adds the row.
      await page.waitForSelector(`#history tr[data-tx="${tx_id}"]`, { timeout: WAIT_MS });
      assert.match((await page.textContent(`#history tr[data-tx="${tx_id}"]`)) ?? '', /transfer 12\.5 ACME@acme/);
      // After a reload the row comes from the store's index, with the balance.
      await page.reload();
      await page.waitForSelector(`#history tr[data-tx="${tx_id}"]`, { timeout: WAIT_MS });
      assert.match((await page.textContent('main')) ?? '', /12\.5/);
      // The same history through the SDK's typed read, and the search that finds the account.
      const history = await client.getAccountHistory(recipient);
      assert.equal(history.txs[0]?.tx_id, tx_id);
      assert.deepEqual(history.txs[0]?.roles, ['recipient']);
      assert.equal((await client.search(tx_id))?.kind, 'tx');
      await page.screenshot({ path: join(shots, 'account.png'), fullPage: true });
      await page.click(`#history tr[data-tx="${tx_id}"] td:nth-child(2) a`);
      await page.waitForSelector('#verify-tx', { timeout: WAIT_MS });
      await page.click('#verify-tx');
      await page.waitForSelector('#verified .badge.ok', { timeout: WAIT_MS });
      await page.screenshot({ path: join(shots, 'transaction.png'), fullPage: true });
    }));

  it('reads the order book and a trade', () =>
    step(async () => {
      // acme sells 100 ACME at 2 minor GLOBEX per minor ACME; globex takes 30 of them.
      const ask = await sdk.prepareTransaction(client, acme, [
        sdk.ops.placeOffer({ sell: 'ACME@acme', buy: 'GLOBEX@globex', amount: 10_000n, price: { numerator: 2n, denominator: 1n } }),
      ]);
      await client.submitAndWait(ask, WAIT_MS);
      const take = await sdk.prepareTransaction(client, globex, [
        sdk.ops.placeOffer({ sell: 'GLOBEX@globex', buy: 'ACME@acme', amount: 6_000n, price: { numerator: 1n, denominator: 2n }, mode: 'immediate_or_cancel' }),
      ]);
      await client.submitAndWait(take, WAIT_MS);
      await page.goto(`${url}/#/market/ACME@acme/GLOBEX@globex`);
      await page.waitForSelector('#asks tbody tr', { timeout: WAIT_MS });
      const book = await client.getBook('ACME@acme', 'GLOBEX@globex');
      assert.equal(await page.locator('#asks tbody tr').count(), book!.asks.length);
      assert.equal((await page.textContent('#asks tbody tr td:nth-child(2)'))?.trim(), String(book!.asks[0]!.amount));
      assert.ok((await page.locator('#trades tbody tr').count()) >= 1, 'the trade is listed');
      const trades = await client.getTrades('ACME@acme', 'GLOBEX@globex');
      assert.equal(trades.trades[0]?.side, 'buy', 'globex sold GLOBEX (the quote) for ACME (the base)');
      const summary = await client.getMarketSummary('ACME@acme', 'GLOBEX@globex');
      assert.equal(String(summary.trades_24h), String(trades.trades.length));
      await page.screenshot({ path: join(shots, 'market.png'), fullPage: true });
    }));

  it('verifies a valid badge, a tampered one (step 1) and a revoked one (step 6) in the browser', () =>
    step(async () => {
      const assertion = new Uint8Array(readRepoFile('examples/badges/assertion-api-calls-1m.json'));
      const other = new Uint8Array(readRepoFile('examples/badges/assertion-client-library.json'));
      const batch = sdk.badgeBatch([assertion, other].map((bytes) => sdk.hashAssertion(bytes).hash), 'jcs-blake3');
      const anchor = await sdk.prepareTransaction(client, acme, [
        // Anchored naming each badge's achievement (an OB 2.0 badge class), so the provider page
        // counts them (community figures) and verification finds the badge's own among them.
        sdk.ops.anchorAchievements({
          batchRoot: batch.root,
          format: 'open_badges2',
          canon: 'jcs-blake3',
          achievements: [
            { achievement: 'https://badges.acme.example/classes/api-calls-1m.json', count: 1 },
            { achievement: 'https://badges.acme.example/classes/client-library.json', count: 1 },
          ],
        }),
      ]);
      const committed = await client.submitAndWait(anchor, WAIT_MS);
      const receipt = { ...batch.receipts[0]!, tx_id: sdk.txId(anchor), height: sdk.toBigInt(committed.height, 'height') };
      writeFileSync(join(files, 'assertion.json'), assertion);
      writeFileSync(join(files, 'receipt.json'), receiptJson(receipt));
      writeFileSync(join(files, 'tampered.json'), new TextDecoder().decode(assertion).replace('2', '3'));

      const verify = async (assertionFile: string, expect: string, shot: string) => {
        await page.goto(`${url}/#/`);
        await page.goto(`${url}/#/badge`);
        await page.waitForSelector('#assertion-file', { timeout: WAIT_MS });
        await page.setInputFiles('#assertion-file', join(files, assertionFile));
        await page.setInputFiles('#receipt-file', join(files, 'receipt.json'));
        await page.click('#verify-badge');
        await page.waitForSelector('#badge-verdict', { timeout: WAIT_MS });
        const verdict = page.locator('#badge-verdict');
        const got = `${await verdict.getAttribute('data-valid')}:${await verdict.getAttribute('data-failed-step')}`;
        await page.screenshot({ path: join(shots, shot), fullPage: true });
        assert.equal(got, expect, (await page.textContent('#badge-result')) ?? '');
      };
      await verify('assertion.json', 'true:', 'badge-valid.png');
      assert.equal(await page.locator('.steps li.passed').count(), 6);
      await verify('tampered.json', 'false:1', 'badge-tampered.png');
      const revoke = await sdk.prepareTransaction(client, acme, [sdk.ops.revokeBadge({ badgeHash: receipt.badge_hash, reason: 'issued in error' })]);
      await client.submitAndWait(revoke, WAIT_MS);
      await verify('assertion.json', 'false:6', 'badge-revoked.png');
      assert.match((await page.textContent('.steps li.failed')) ?? '', /revoked/);
      const figures = await client.getProvider('acme');
      assert.equal(String(figures?.badges.badges_revoked), '1');
      await page.goto(`${url}/#/provider/acme`);
      await page.waitForSelector('text=1 revoked', { timeout: WAIT_MS });
      // The figures per achievement: the two badges anchored above, one each.
      await page.waitForSelector('#figures >> text=https://badges.acme.example/classes/api-calls-1m.json', { timeout: WAIT_MS });
      assert.equal(await page.locator('#figures tbody td.num').first().textContent(), '1');
      const counted = await client.getBadgeFigures('acme');
      assert.deepEqual(
        counted.figures.map((row) => [row.achievement, String(row.anchored), String(row.batches)]),
        [
          ['https://badges.acme.example/classes/api-calls-1m.json', '1', '1'],
          ['https://badges.acme.example/classes/client-library.json', '1', '1'],
        ],
      );
      // The entry is proven under a finalized header, as any state entry.
      const proven = await sdk.verifyState(client, sdk.trustFromGenesis(readText(net.genesisPath)), {
        kind: 'badge_figures',
        member: 'acme',
        achievement: 'https://badges.acme.example/classes/api-calls-1m.json',
      });
      assert.equal(proven.value?.kind === 'badge_figures' ? proven.value.anchored : null, 1n);
      await page.screenshot({ path: join(shots, 'provider.png'), fullPage: true });
    }));

  it('shows the published plans side by side and quotes a dropped usage file under each', () =>
    step(async () => {
      // acme and globex publish their example plans, as `tally price publish` does.
      for (const [key, file] of [[acme, 'acme-standard.json'], [globex, 'globex-tokens.json']] as const) {
        const plan = sdk.planFromJson(sdk.parseJsonLossless(readRepoFile(`examples/pricing/${file}`).toString('utf8')));
        const publish = await sdk.prepareTransaction(client, key, [{ op: 'publish_plan', plan }]);
        await client.submitAndWait(publish, WAIT_MS);
      }
      await page.goto(`${url}/#/`);
      await page.goto(`${url}/#/prices`);
      await page.waitForSelector('#plans', { timeout: WAIT_MS });
      // One column per plan, one row per item: acme's search.query is 100 free per hold, then
      // 2 minor units (0.02 ACME) each up to 1,000,000.
      assert.equal(await page.locator('#plans thead th[data-plan]').count(), 2);
      assert.equal(await page.locator('#plans th[data-plan="acme/standard@1"]').count(), 1);
      const query = (await page.textContent('#plans tr[data-item="search.query"]')) ?? '';
      assert.match(query, /100 free per hold/);
      assert.match(query, /up to 1000000: 0\.02 each/);
      assert.equal(await page.locator('#plans tbody tr').count(), 4, 'search.query, search.suggest, tokens.input, tokens.output');
      await page.screenshot({ path: join(shots, 'prices.png'), fullPage: true });

      // The usage file is dropped on the page (a drop event carrying the file).
      const drop = async (name: string, text: string) => {
        const dataTransfer = await page.evaluateHandle(({ name, text }) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([text], name, { type: 'text/csv' }));
          return transfer;
        }, { name, text });
        await page.dispatchEvent('#usage-drop', 'drop', { dataTransfer });
      };
      await drop('search.csv', readRepoFile('examples/pricing/search.csv').toString('utf8'));
      await page.waitForSelector('#quote-table', { timeout: WAIT_MS });
      // The Rust client's totals for the 250 queries (client/tests/pricing_examples.rs): acme 300
      // minor units (150 billable at 2), globex 750 (250 at 3).
      assert.equal(await page.getAttribute('#quote-table td[data-plan="acme/standard@1"]', 'data-total-minor'), '300');
      assert.equal(await page.getAttribute('#quote-table td[data-plan="globex/tokens@1"]', 'data-total-minor'), '750');
      assert.match((await page.textContent('#quote-table td[data-plan="acme/standard@1"]')) ?? '', /^3 ACME@acme$/);
      assert.match((await page.textContent('#quote-summary')) ?? '', /3 calls, 250 × search\.query/);
      await page.screenshot({ path: join(shots, 'prices-quote.png'), fullPage: true });
      // usage.csv names tokens too: acme cannot price it and says why.
      await drop('usage.csv', readRepoFile('examples/pricing/usage.csv').toString('utf8'));
      await page.waitForSelector('#quote-table td.error[data-plan="acme/standard@1"]', { timeout: WAIT_MS });
      assert.match((await page.textContent('#quote-table td[data-plan="acme/standard@1"]')) ?? '', /item `tokens\.input` is not in the plan/);
      assert.equal(await page.getAttribute('#quote-table td[data-plan="globex/tokens@1"]', 'data-total-minor'), '36');
      // A file that is not a planned usage file is refused with the Rust client's words.
      await drop('bad.csv', 'call_id,time_ms,endpoint,units,amount\nx,1,/s,1,1\n');
      await page.waitForSelector('#usage-error', { timeout: WAIT_MS });
      assert.match((await page.textContent('#usage-error')) ?? '', /bad\.csv: line 1: the header must be exactly `call_id,time_ms,endpoint,item,units`/);
    }));

  it("shows an account's open holds in human units, and the badge check on its page", () =>
    step(async () => {
      const holder = sdk.SecretKey.generate();
      const fund = await sdk.prepareTransaction(client, acme, [sdk.ops.transfer({ asset: 'ACME@acme', to: holder.address(), amount: 5_000n })]);
      await client.submitAndWait(fund, WAIT_MS);
      const expiresAtMs = BigInt(Date.now() + 3_600_000);
      const authorize = await sdk.prepareTransaction(client, holder, [sdk.ops.authorizeSpend({ provider: 'acme', asset: 'ACME@acme', cap: 4_000n, expiresAtMs })]);
      await client.submitAndWait(authorize, WAIT_MS);
      const hold = await sdk.prepareTransaction(client, acme, [sdk.ops.hold({ holder: holder.address(), asset: 'ACME@acme', amount: 1_234n, expiresAtMs })]);
      await client.submitAndWait(hold, WAIT_MS);
      await page.goto(`${url}/#/account/${holder.address()}`);
      await page.waitForSelector('#holds tr[data-hold]', { timeout: WAIT_MS });
      assert.equal(await page.locator('#holds tr[data-hold]').count(), 1);
      const row = (await page.textContent('#holds tr[data-hold]')) ?? '';
      assert.match(row, /12\.34 ACME@acme/);
      assert.match(row, /acme/);
      // Locked beside available in the balances: 50.00 funded, 12.34 held.
      assert.match((await page.textContent('main')) ?? '', /37\.66\s*12\.34/);
      assert.equal(await page.locator('#badges-received #assertion-file').count(), 1, 'badges received are checked on the account page');
      await page.screenshot({ path: join(shots, 'account-holds.png'), fullPage: true });
    }));

  it('charts rewards by reason over time', () =>
    step(async () => {
      const rewards = [['forum_support', 300n], ['client_library', 700n]] as const;
      for (const [reason, amount] of rewards) {
        const grant = await sdk.prepareTransaction(client, acme, [sdk.ops.grant({ asset: 'ACME@acme', to: sdk.SecretKey.generate().address(), amount, kind: 'reward', reason })]);
        await client.submitAndWait(grant, WAIT_MS);
      }
      await page.goto(`${url}/#/`);
      await page.goto(`${url}/#/provider/acme`);
      await page.waitForSelector('#rewards-0 svg rect', { timeout: WAIT_MS });
      // Today's bar is stacked from both reasons, with a legend naming them.
      assert.equal(await page.locator('#rewards-0 svg rect').count(), 2);
      assert.match((await page.textContent('#rewards-0')) ?? '', /client_library[\s\S]*forum_support/);
      await page.click('[data-rewards="0"] button[data-window="2"]');
      await page.waitForSelector('#rewards-0 svg text:has-text("per month")', { timeout: WAIT_MS });
      await page.screenshot({ path: join(shots, 'provider-rewards.png'), fullPage: true });
    }));

  it('finds things from the search box', () =>
    step(async () => {
      await page.goto(`${url}/#/`);
      await page.fill('#search-input', 'ACME@acme');
      await page.press('#search-input', 'Enter');
      await page.waitForURL(/#\/asset\/ACME@acme$/, { timeout: WAIT_MS });
      await page.fill('#search-input', 'no such thing!');
      await page.press('#search-input', 'Enter');
      await page.waitForSelector('#problem', { timeout: WAIT_MS });
      assert.match((await page.textContent('#problem')) ?? '', /is not a height, block id, tx id, address/);
    }));
});
