// Headless Chromium drives the emu35 serve web page like a person would:
// waits for READY, fills in a t2i request (tiny picture, fixture model),
// submits, watches the progress bar and live preview, and checks that the
// finished picture lands in the gallery with a download link. Screenshots of
// the page while drawing and when done go to --out.
//   node browser_test.mjs --url http://127.0.0.1:PORT/ --chromium /usr/bin/chromium --out DIR
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const url = arg('url');
const out = arg('out', '.');
const executablePath = arg('chromium', '/usr/bin/chromium');
const fixtures = arg('fixtures');

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
}

const profile = mkdtempSync(join(tmpdir(), 'emu35-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const page = context.pages()[0] || await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(url);
  await page.waitForFunction(() => /READY|BUSY/.test(document.getElementById('health').textContent), null,
                             { timeout: 60000 });

  await page.selectOption('#task_type', 't2i');
  await page.fill('#prompt', 'a red fox in fresh snow');
  await page.fill('#seed', '7');
  await page.click('#advanced summary');
  await page.fill('#target_size', '12x12');
  await page.fill('#image_area', '4096');
  await page.fill('#max_new_tokens', '170');
  await page.check('#start_image');
  await page.click('#go');

  // Progress: the job card appears, its bar moves and a preview shows up.
  await page.waitForSelector('#running .job', { timeout: 30000 });
  await page.waitForFunction(() => Number(document.body.dataset.previewsEvents || 0) >= 1, null, { timeout: 60000 });
  await page.screenshot({ path: join(out, 'drawing.png'), fullPage: true });
  await page.waitForFunction(() => Number(document.body.dataset.doneEvents || 0) >= 1, null, { timeout: 120000 });

  // The result: a 192x192 picture (12x12 tokens) with a PNG download link.
  const card = await page.waitForSelector('#gallery figure.card img', { timeout: 30000 });
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, card);
  const size = await card.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  const link = await page.$eval('#gallery figure.card a.download', (a) => [a.getAttribute('href').slice(0, 22), a.download]);
  const stats = await page.evaluate(() => ({ ...document.body.dataset }));
  await page.screenshot({ path: join(out, 'screenshot.png'), fullPage: true });

  // An edit: pick a reference picture (landscape), the task becomes x2i and
  // the ratio "match input" gives a landscape result.
  if (fixtures) {
    await page.setInputFiles('#files', join(fixtures, 'images', 'ref_0.png'));
    await page.waitForSelector('#refs .ref img');
    const task = await page.$eval('#task_type', (s) => s.value);
    if (task !== 'x2i') fail(`task after adding a picture is ${task}`);
    await page.fill('#target_size', '');
    await page.fill('#prompt', 'make it winter');
    await page.click('#go');
    await page.waitForFunction(() => Number(document.body.dataset.doneEvents || 0) >= 2, null, { timeout: 120000 });
    const edited = await page.$eval('#gallery figure.card img', (img) => [img.naturalWidth, img.naturalHeight]);
    if (!(edited[0] > edited[1])) fail(`the edit of a landscape picture is ${edited[0]}x${edited[1]}`);
    await page.screenshot({ path: join(out, 'screenshot.png'), fullPage: true });
  }

  if (size[0] !== 192 || size[1] !== 192) fail(`picture is ${size[0]}x${size[1]}, expected 192x192`);
  if (link[0] !== 'data:image/png;base64,') fail(`download link is ${link[0]}`);
  if (!/^emu35-.*\.png$/.test(link[1])) fail(`download name is ${link[1]}`);
  if (Number(stats.progressEvents || 0) < 2) fail(`only ${stats.progressEvents} progress events`);
  if (consoleErrors.length) fail(`console errors: ${consoleErrors.join(' | ')}`);
  console.log(JSON.stringify({ picture: size, download: link[1], events: stats }));
} catch (e) {
  fail(e.stack || String(e));
  const page = context.pages()[0];
  if (page) {
    await page.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => {});
    const shown = await page.evaluate(() => ({
      formError: document.getElementById('form-error').textContent,
      running: document.getElementById('running').textContent.slice(0, 300),
      gallery: document.getElementById('gallery').textContent.slice(0, 300),
      events: { ...document.body.dataset },
    })).catch(() => ({}));
    console.error('page state:', JSON.stringify(shown));
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (process.exitCode) process.exit(process.exitCode);
console.log('browser test passed');
