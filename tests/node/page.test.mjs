// The page that `ces` serves at "/" (examples/watch.html, built on /ces.js),
// driven in Debian's headless Chromium through playwright-core (which never
// downloads a browser here): it loads, shows the state of a room with events
// from three devices, updates live, sends an event, shows "reconnecting" and
// then "recovered" when `ces` is killed and restarted with its data
// directory, with no event missing from its list, and marks a device not
// heard for a while as stale. The test reads the page's DOM. Screenshots:
// $CES_BUILD/page.png (desktop) and page-phone.png (a phone's width).
// Run: cd tests/node && CES_BUILD=../../build node --test page.test.mjs
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WS from 'ws';
import { chromium } from 'playwright-core';
import { BUILD, startCes, start, stop, until, unique } from './harness.mjs';
import { connect } from '../../clients/js/ces.js';

const CHROMIUM = process.env.CES_CHROMIUM || '/usr/bin/chromium';
const WAIT = 8000; // ms for any one thing the page should do

const event = (device, key, value) => ({
  'generating-system': 'page-test', timestamp: new Date().toISOString(),
  'target-device': { deviceID: device }, key, value,
});

describe('the page served by ces at /', { timeout: 90000 }, () => {
  const room = unique('PAGE');
  let ces, args, browser, page, publisher, dataDir;
  const pageErrors = []; // uncaught exceptions, and console errors other than refused connections
  let setupError; // thrown by each test, so a missing Chromium counts as failures

  // Adds what the page and ces showed to an error, so a failure explains itself
  async function explain(what, promise) {
    try {
      return await promise;
    } catch (error) {
      let seen = '';
      try {
        seen = `#conn: ${await page.textContent('#conn', { timeout: 500 })}\n` +
               `#state:\n${await page.innerText('#state', { timeout: 500 })}\n` +
               `#events:\n${(await page.innerText('#events', { timeout: 500 })).slice(0, 3000)}\n`;
      } catch { /* page unusable */ }
      throw new Error(`${what}: ${error.message}\n${seen}page errors: ${JSON.stringify(pageErrors)}\n` +
                      `ces output:\n${ces?.child.output.slice(-2000)}`);
    }
  }

  // The table's rows: [{room, device, key, value, stale}]
  const table = () => page.$$eval('#state tbody tr', (trs) => trs.map((tr) => ({
    device: tr.dataset.device, key: tr.dataset.key, value: tr.querySelector('td.value').firstChild.textContent,
    stale: tr.classList.contains('stale'),
  })));
  // The events list, oldest first: [{room, seq, source}]
  const listed = () => page.$$eval('#events li.event', (lis) => lis.map((li) => ({
    room: li.dataset.room, seq: Number(li.dataset.seq), source: li.dataset.source,
  })).reverse());
  const seqOf = async () => (await (await fetch(`${ces.http}/rooms/${room}`)).json()).seq;

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
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ces-page-'));
    ces = await startCes(['--data-dir', dataDir]);
    args = ces.child.spawnargs.slice(1);
    publisher = connect(ces.ws, { WebSocket: WS });
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
    // While ces is down, Chromium logs the refused connections itself
    const expected = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE/;
    page.on('console', (message) => {
      if (message.type() === 'error' && !expected.test(message.text())) pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`);
    });
  }

  after(async () => {
    try {
      if (page) {
        await page.screenshot({ path: path.join(BUILD, 'page.png'), fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: path.join(BUILD, 'page-phone.png'), fullPage: true });
      }
    } finally {
      await browser?.close();
      publisher?.close();
      if (ces) await stop(ces.child);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('loads /ces.js and shows the state of a room with events from three devices', async () => {
    if (setupError) throw setupError;
    publisher.publish(room, event('D1', 'power', 'on'));
    publisher.publish(room, event('D2', 'power', 'off'));
    publisher.publish(room, event('D3', 'temperature', 20.5));
    publisher.publish(room, event('D1', 'power', 'off'));
    publisher.publish(room, event('D1', 'input', 'hdmi1'));
    await until(seqOf, (seq) => seq === 5, 'the hub has five events');

    // Devices not heard for 3 s are stale on this page (?stale=, seconds)
    const response = await page.goto(`${ces.http}/?room=${room}&stale=3`);
    assert.equal(response.status(), 200);
    assert.match(await page.title(), /ces/);
    assert.equal(await page.getAttribute('meta[name=viewport]', 'content'), 'width=device-width, initial-scale=1');
    await explain('the page did not go live', page.waitForFunction(() => document.getElementById('conn').dataset.status === 'live'));
    await explain('the state table', until(table, (rows) => rows.length === 4, 'four rows'));
    assert.deepEqual((await table()).map(({ device, key, value }) => ({ device, key, value })), [
      { device: 'D1', key: 'input', value: 'hdmi1' }, { device: 'D1', key: 'power', value: 'off' },
      { device: 'D2', key: 'power', value: 'off' }, { device: 'D3', key: 'temperature', value: '20.5' }]);
    assert.deepEqual(await listed(), [2, 3, 4, 5].map((seq) => ({ room, seq, source: 'state' })));
    assert.equal(await page.inputValue('#room'), room);
  });

  it('updates live, and sends an event with its Send button', async () => {
    if (setupError) throw setupError;
    publisher.publish(room, event('D2', 'power', 'on'));
    await explain('the live update', until(table, (rows) => rows.find((r) => r.device === 'D2').value === 'on', 'D2 power on'));
    assert.deepEqual((await listed()).at(-1), { room, seq: 6, source: 'live' });

    const received = [];
    const watcher = connect(ces.ws, { WebSocket: WS });
    try {
      watcher.subscribe(room, (e, info) => received.push({ e, info }));
      await new Promise((resolve) => watcher.on('registered', resolve));
      const body = JSON.stringify(event('D4', 'volume', 7));
      await page.fill('#event', body);
      await page.click('#send-button');
      await explain('the page\'s event', until(() => received, (r) => r.length === 1, 'the event sent by the page'));
      assert.deepEqual(received[0].e, JSON.parse(body));
      assert.equal(received[0].info.seq, 7);
      assert.match(await page.textContent('#sent'), /sent to/);
      // The page does not get its own event back; a later event shows it
      // would be there already
      publisher.publish(room, event('D1', 'power', 'on'));
      await until(listed, (l) => l.at(-1).seq === 8, 'the next event');
      assert.ok(!(await listed()).some((e) => e.seq === 7), 'the page was sent its own event back');
    } finally {
      watcher.close();
    }
  });

  it('shows reconnecting, then recovered, after ces is killed and restarted with its data directory; no event missing',
    async () => {
      if (setupError) throw setupError;
      let n = 0;
      const flow = setInterval(() => publisher.publish(room, event(`D${(n % 2) + 1}`, 'count', ++n)), 20);
      try {
        await until(() => n, (count) => count >= 20, 'events flowing');
        {
          const gone = new Promise((resolve) => ces.child.once('exit', resolve));
          ces.child.kill('SIGKILL');
          await gone;
          await explain('reconnecting', page.waitForFunction(() => document.getElementById('conn').dataset.status === 'reconnecting'));
          ces.child = await start('ces', args);
          await explain('recovered', page.waitForFunction(() => document.getElementById('conn').dataset.status === 'recovered',
            undefined, { timeout: 15000 }));
          const atRecovery = n;
          await until(() => n, (count) => count >= atRecovery + 20, 'events flowing after');
        }
      } finally {
        clearInterval(flow);
      }
      // A marker after the flow: once the hub has it, it has every event
      publisher.publish(room, event('D9', 'marker', 'end'));
      const marker = async () => (await (await fetch(`${ces.http}/rooms/${room}/state`)).json()).state.find((e) => e.device === 'D9');
      const last = (await until(marker, (found) => found, 'the marker in the room', WAIT)).seq;
      await explain(`the last event (${last})`, until(listed, (l) => l.at(-1).seq === last, `seq ${last} listed`, WAIT));
      const seqs = (await listed()).filter((e) => e.source !== 'state').map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: last - 5 }, (_, i) => i + 6).filter((s) => s !== 7),
        'every event after the state once, in order (7 was the page\'s own)');
      assert.ok((await page.textContent('#events')).includes('recovered every missed event'));
    });

  it('watches a building pattern: live events of its rooms, with a room column', async () => {
    if (setupError) throw setupError;
    const building = unique('PBLD');
    await page.fill('#room', `${building}-*`);
    await page.click('#watch-button');
    await explain('watching the pattern', page.locator('#events .notice', { hasText: `watching ${building}-*` }).waitFor());
    publisher.publish(`${building}-1`, event('A', 'power', 'on'));
    publisher.publish(`${building}X-1`, event('A', 'power', 'not this building'));
    publisher.publish(`${building}-2`, event('B', 'power', 'off'));
    await explain('the pattern\'s events', until(listed, (l) => l.length === 2, 'two events'));
    assert.deepEqual(await listed(), [{ room: `${building}-1`, seq: 1, source: 'live' }, { room: `${building}-2`, seq: 1, source: 'live' }]);
    assert.deepEqual(await page.$$eval('#state tbody tr', (trs) => trs.map((tr) => tr.querySelector('td.room').textContent)),
      [`${building}-1`, `${building}-2`]);
    assert.ok(await page.isVisible('#state th.room'), 'the room column is shown for a pattern');
    // Back to the room
    await page.fill('#room', room);
    await page.click('#watch-button');
    await explain('the room again', until(table, (rows) => rows.some((r) => r.device === 'D3'), 'the room\'s state again'));
  });

  it('marks a device not heard for a while as stale, and unmarks it when it is heard', async () => {
    if (setupError) throw setupError;
    await explain('D3 stale', until(table, (rows) => rows.find((r) => r.device === 'D3').stale, 'D3 marked stale'));
    publisher.publish(room, event('D3', 'temperature', 22));
    await explain('D3 heard', until(table, (rows) => {
      const d3 = rows.find((r) => r.device === 'D3');
      return d3.value === '22' && !d3.stale;
    }, 'D3 heard again'));
    assert.deepEqual(pageErrors, []);
  });
});
