// Measures the explorer's first view in chromium against a node at URL (argument 1): the time
// from navigation to the first contentful paint and to the committed height on screen (the
// network view's data rendered), median of 5 cold loads. Not a test: a measurement for notes.
// node dist/test-browser/first-render.js http://127.0.0.1:PORT

import { chromium } from 'playwright-core';

const url = process.argv[2];
if (!url) throw new Error('usage: first-render.js URL');
const browser = await chromium.launch({ executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const paints: number[] = [];
const rendered: number[] = [];
try {
  for (let run = 0; run < 5; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.waitForSelector('#tip', { timeout: 60_000 });
    const timing = await page.evaluate(() => ({
      tip: performance.now(),
      paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    }));
    paints.push(timing.paint);
    rendered.push(timing.tip);
    await context.close();
  }
} finally {
  await browser.close();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[2]!;
console.log(`first contentful paint: median ${median(paints).toFixed(0)} ms; network view with data: median ${median(rendered).toFixed(0)} ms (5 cold loads)`);
