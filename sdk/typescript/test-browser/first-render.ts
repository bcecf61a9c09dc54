// Measures the explorer's first view in chromium against a node at URL (argument 1): the time
// from navigation to the first contentful paint and to the committed height on screen (the
// network view's data rendered: what "time to first render" means in the notes), median of RUNS
// cold loads (argument 2, default 5; each in a fresh browser context, so nothing is cached), and
// the page weight of a cold load: bytes transferred for the document and every resource it
// loaded (compressed size as sent; the node does not compress) and their decoded size.
// Not a test: a measurement for notes (scripts/explorer-ttfr.sh runs it on a 100,000-block chain).
// node dist/test-browser/first-render.js http://127.0.0.1:PORT [RUNS]

import { chromium } from 'playwright-core';

const url = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
if (!url || !Number.isInteger(runs) || runs < 1) throw new Error('usage: first-render.js URL [RUNS]');
const browser = await chromium.launch({ executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const paints: number[] = [];
const rendered: number[] = [];
const weights: { transferred: number; decoded: number; requests: number }[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.waitForSelector('#tip', { timeout: 60_000 });
    const timing = await page.evaluate(() => ({
      tip: performance.now(),
      paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    }));
    // Every request of the first view has finished once the network is idle.
    await page.waitForLoadState('networkidle');
    const weight = await page.evaluate(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
      return {
        transferred: entries.reduce((sum, e) => sum + e.transferSize, 0),
        decoded: entries.reduce((sum, e) => sum + e.decodedBodySize, 0),
        requests: entries.length,
      };
    });
    paints.push(timing.paint);
    rendered.push(timing.tip);
    weights.push(weight);
    await context.close();
  }
} finally {
  await browser.close();
}
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const weight = weights[weights.length - 1]!;
console.log(
  `first contentful paint: median ${median(paints).toFixed(0)} ms (min ${Math.min(...paints).toFixed(0)}, max ${Math.max(...paints).toFixed(0)}); ` +
    `network view with data (time to first render): median ${median(rendered).toFixed(0)} ms (min ${Math.min(...rendered).toFixed(0)}, max ${Math.max(...rendered).toFixed(0)}); ${runs} cold loads`,
);
console.log(`page weight of the first view: ${kb(weight.transferred)} KB transferred, ${kb(weight.decoded)} KB decoded, ${weight.requests} requests`);
