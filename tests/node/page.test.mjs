// The watch page that `ces` serves at "/", driven in Debian's headless
// Chromium through playwright-core (which never downloads a browser here):
// the page registers a room, shows events a WebSocket client sends to it, and
// sends events with its Send button that reach a client registered there.
// Run: cd tests/node && node --test page.test.mjs
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startCes, stop, open } from './harness.mjs';

const CHROMIUM = process.env.CES_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = '/tmp/ces-page.png';
const WAIT = 5000; // ms for any one thing the page should do

describe('watch page served by ces at /', { timeout: 30000 }, () => {
  const nonce = `${process.pid}-${Date.now()}`;
  const room = `PAGE-${nonce}`;
  let ces, browser, page;
  const clients = [];
  const pageErrors = []; // uncaught exceptions and console errors in the page
  let setupError; // thrown by each test, so a missing Chromium counts as failures

  // Adds what the page and ces showed to an error, so a failure explains itself
  async function explain(what, promise) {
    try {
      return await promise;
    } catch (error) {
      let seen = '';
      try {
        seen = `#state: ${await page.textContent('#state', { timeout: 500 })}\n` +
               `#log:\n${await page.innerText('#log', { timeout: 500 })}\n`;
      } catch { /* page unusable */ }
      throw new Error(`${what}: ${error.message}\n${seen}` +
                      `page errors: ${JSON.stringify(pageErrors)}\n` +
                      `ces output:\n${ces?.child.output.slice(-2000)}`);
    }
  }

  async function client() {
    const c = await open(ces, 'messenger');
    clients.push(c);
    return c;
  }

  before(async () => {
    try {
      await setUp();
    } catch (error) {
      setupError = error;
    }
  });

  async function setUp() {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM}: this test needs ` +
                      `Debian's package (apt-get install chromium), or CES_CHROMIUM=path`);
    }
    ces = await startCes();
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        timeout: 15000,
      });
    } catch (error) {
      throw new Error(`cannot launch Chromium at ${CHROMIUM}: ${error.message}`);
    }
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Chromium asks for /favicon.ico on its own; ces has none (a 404), which is fine
    const wanted = (url) => !new URL(url).pathname.endsWith('/favicon.ico');
    page.on('console', (message) => {
      if (message.type() === 'error' && wanted(message.location().url || page.url())) pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && wanted(response.url())) pageErrors.push(`${response.status()} ${response.url()}`);
    });
  }

  after(async () => {
    try {
      if (page) await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await browser?.close();
      await Promise.all(clients.map((c) => c.close()));
      if (ces) await stop(ces.child);
    }
  });

  it('loads, connects and watches a room once the edge confirms it', async () => {
    if (setupError) throw setupError;
    const response = await page.goto(`${ces.http}/`);
    assert.equal(response.status(), 200);
    assert.match(await page.title(), /ces/);
    // Watch before the socket is open would throw in the page; wait for it
    await explain('page did not connect', page.waitForFunction(
      () => document.getElementById('state').textContent === 'connected'));
    assert.equal(await page.inputValue('#room'), 'ITB-1101');
    await page.fill('#room', room);
    await page.click('#register');
    await explain(`page did not show "watching ${room}"`, page.waitForFunction(
      (r) => document.getElementById('state').textContent.includes(`watching ${r}`), room));
    assert.equal(await page.textContent('#state'), `watching ${room}`);
  });

  it('shows an event that a WebSocket client sends to the room', async () => {
    if (setupError) throw setupError;
    const sender = await client();
    const value = `from-client-${nonce}`;
    sender.sendEvent(room, { key: 'page-test', value });
    const line = page.locator('#log .event', { hasText: value });
    await explain('page did not show the event', line.waitFor());
    const text = await line.textContent();
    assert.ok(text.includes(`${room}  {"key":"page-test","value":"${value}"}`), text);
  });

  it('sends an event with its Send button to a client registered to the room', async () => {
    if (setupError) throw setupError;
    const receiver = await client();
    await receiver.register([room]);
    const body = JSON.stringify({ key: 'page-test', value: `from-page-${nonce}` });
    await page.fill('#event', body);
    await page.click('#send-button');
    const item = await explain('client did not receive the page\'s event', receiver.next(WAIT));
    assert.equal(item.binary, true, 'events travel as Binary frames');
    assert.deepEqual(item.data, Buffer.from(`${room}\n${body}`));
    await page.locator('#log .notice', { hasText: `sent to ${room}  ${body}` }).waitFor();

    // The page must not get its own event back. The hub publishes the room in
    // order, so once a later event is shown, an echo would already be there.
    const marker = `marker-${nonce}`;
    receiver.sendEvent(room, { key: 'page-test', value: marker });
    await explain('page did not show the marker event',
                  page.locator('#log .event', { hasText: marker }).waitFor());
    assert.equal(await page.locator('#log .event', { hasText: `from-page-${nonce}` }).count(), 0,
                 'the page was sent its own event back');
    assert.equal(await page.locator('#log .error').count(), 0,
                 `the page showed errors: ${await page.innerText('#log')}`);
    assert.deepEqual(pageErrors, []);
  });
});
