// The JavaScript client library (clients/js/ces.js) in Node against real
// `ces` processes: subscribing with state; a `ces` killed and restarted with
// its data directory while events flow (every event once, in sequence, and
// recovered: true); history evicted (recovered: false, then the state, with
// no event reported twice); backoff timings and jitter bounds (the function,
// and the attempts against a stopped server); the publish buffer's bound;
// token refresh; a pattern subscription; and /ces.js served by the edge.
// Run: cd tests/node && CES_BUILD=../../build node --test client_lib.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WS from 'ws';
import { startCes, start, stop, getJson, until, unique, jwt, TIMING } from './harness.mjs';
import { connect, backoffDelay, BACKOFF, PROTOCOL } from '../../clients/js/ces.js';

const LIBRARY = path.resolve(import.meta.dirname, '../../clients/js/ces.js');
const WAIT = 8000;  // ms for any one thing to happen

// An event with a state address (device, key)
const event = (device, key, value, extra = {}) => ({
  'generating-system': 'client-lib-test', timestamp: new Date().toISOString(),
  'target-device': { deviceID: device }, key, value, ...extra,
});

// Everything a library client reports, in order, awaitable:
// {kind: 'event', event, info, sub} and {kind: <event name>, ...detail}
class Recorder {
  constructor() { this.items = []; this.waiters = []; }
  push(item) {
    item.at = performance.now();
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter();
  }
  listen(ces, names = ['connecting', 'connected', 'disconnected', 'recovered', 'state', 'registered', 'gap', 'error', 'dropped', 'epoch']) {
    for (const name of names) ces.on(name, (detail) => this.push({ kind: name, ...detail }));
    return this;
  }
  // A subscription callback that records
  onEvent(label = 'sub') { return (e, info) => this.push({ kind: 'event', event: e, info, sub: label }); }
  of(kind, from = 0) { return this.items.slice(from).filter((item) => item.kind === kind); }
  // Resolves with the first item from index `from` matching `check`
  waitFor(check, what, { from = 0, timeout = WAIT } = {}) {
    return new Promise((resolve, reject) => {
      const look = () => {
        const found = this.items.slice(from).find(check);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.items.slice(-12).map(({ at, sub, ...rest }) => JSON.stringify(rest).slice(0, 200));
        reject(new Error(`${what}: not within ${timeout} ms; ${this.items.length} items, the last: ${seen.join('\n')}`));
      }, timeout);
      const cleanup = () => { clearTimeout(timer); this.waiters.splice(this.waiters.indexOf(look), 1); };
      this.waiters.push(look);
      look();
    });
  }
}

// A WebSocket (npm ws) whose instances the test can reach, to cut one
function sockets() {
  const made = [];
  class Tracked extends WS {
    constructor(...args) { super(...args); made.push(this); }
  }
  return { WebSocket: Tracked, made, last: () => made.at(-1) };
}

// A promise the test resolves later, to hold a reconnect (a tokenRefresh)
function gate() {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
}

// `ces` on fixed ports that a restart keeps; .restart() stops it (SIGKILL
// with kill: true) and starts it again with the same arguments
async function durableCes(extra = []) {
  const first = await startCes(extra);
  const args = first.child.spawnargs.slice(1);
  const server = { ...first };
  server.kill = async (signal = 'SIGKILL') => {
    const gone = new Promise((resolve) => server.child.once('exit', resolve));
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
    await gone;
  };
  server.start = async () => { server.child = await start('ces', args); };
  return server;
}

const clients = [];
const dirs = [];
function open(url, options) {
  const ces = connect(url, options);
  clients.push(ces);
  return ces;
}
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-client-lib-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const ces of clients) ces.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

// The room's last sequence number, as the hub says (0 before any event)
async function seqOf(server, room) {
  const response = await fetch(`${server.http}/rooms/${room}`);
  if (response.status === 404) return 0;
  return (await response.json()).seq;
}

describe('the JavaScript client library', { timeout: 120000 }, () => {
  it('every edge serves it at /ces.js as JavaScript, byte for byte', async () => {
    const ces = await startCes();
    try {
      const response = await fetch(`${ces.http}/ces.js`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type'), /^application\/javascript/);
      assert.equal(await response.text(), fs.readFileSync(LIBRARY, 'utf8'));
      assert.equal((await fetch(`${ces.http}/ces.js/more`)).status, 404);
      assert.equal((await fetch(`${ces.repeater.http}/ces.js`)).status, 404, 'not on the repeater port');
    } finally {
      await stop(ces.child);
    }
  });

  it('backoff: from ~250 ms doubling to ~10 s, each within ±20% jitter', () => {
    assert.deepEqual({ ...BACKOFF }, { initial: 250, max: 10000, factor: 2, jitter: 0.2, stable: 5000 });
    const bases = [250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000];
    bases.forEach((base, attempt) => {
      assert.equal(backoffDelay(attempt, {}, () => 0), Math.round(base * 0.8), `attempt ${attempt}, least`);
      assert.equal(backoffDelay(attempt, {}, () => 0.5), base, `attempt ${attempt}, middle`);
      assert.equal(backoffDelay(attempt, {}, () => 0.999999), Math.round(base * 1.2), `attempt ${attempt}, most`);
    });
    assert.equal(backoffDelay(1000, {}, () => 0.5), 10000, 'a huge attempt number stays at the max');
    // With Math.random: always within bounds, and spread over them
    for (const attempt of [0, 3, 8]) {
      const base = bases[attempt];
      const samples = Array.from({ length: 2000 }, () => backoffDelay(attempt));
      assert.ok(samples.every((d) => d >= base * 0.8 && d <= base * 1.2), `attempt ${attempt} within bounds`);
      const spread = Math.max(...samples) - Math.min(...samples);
      assert.ok(spread > base * 0.3, `attempt ${attempt} is jittered (spread ${spread} ms)`);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      assert.ok(Math.abs(mean - base) < base * 0.03, `attempt ${attempt} centred on ${base} (mean ${mean})`);
    }
    assert.equal(backoffDelay(2, { initial: 100, factor: 3, max: 500, jitter: 0 }), 500, 'options apply');
    assert.equal(backoffDelay(1, { initial: 100, factor: 3, max: 5000, jitter: 0 }), 300);
  });

  it('subscribe with state: the state (latest per device and key), then live events, each once',
    async () => {
      const ces = await startCes();
      try {
        const room = unique('LIB');
        const publisher = open(ces.ws, { WebSocket: WS });
        const sent = [event('d1', 'power', 'on'), event('d2', 'power', 'off'), event('d1', 'power', 'off'),
          event('d3', 'volume', 3), event('d3', 'mute', true), { key: 'no-device', value: 1 }];
        for (const e of sent) assert.ok(['sent', 'buffered'].includes(publisher.publish(room, e)));
        await until(() => seqOf(ces, room), (seq) => seq === sent.length, 'the hub has the six events');

        const rec = new Recorder();
        const ces2 = open(ces.ws, { WebSocket: WS });
        rec.listen(ces2);
        const sub = ces2.subscribe(room, { state: true }, rec.onEvent());
        await rec.waitFor((i) => i.kind === 'registered', 'registered');
        const stateEvents = rec.of('event');
        assert.deepEqual(stateEvents.map((i) => i.info), [
          { room, seq: 2, source: 'state' }, { room, seq: 3, source: 'state' },
          { room, seq: 4, source: 'state' }, { room, seq: 5, source: 'state' }]);
        assert.deepEqual(stateEvents.map((i) => i.event), [sent[1], sent[2], sent[3], sent[4]]);
        const state = rec.of('state')[0];
        assert.equal(state.room, room);
        assert.equal(state.seq, 6);
        assert.equal(state.count, 4);
        assert.deepEqual(sub.state(), {
          d1: { power: sent[2] }, d2: { power: sent[1] }, d3: { volume: sent[3], mute: sent[4] },
        });

        // Live events, in order, each once; the state follows them
        const live = [event('d2', 'power', 'on'), event('d4', 'temp', 21.5), event('d1', 'power', 'on')];
        for (const e of live) publisher.publish(room, e);
        await rec.waitFor((i) => i.kind === 'event' && i.info.seq === 9, 'the third live event');
        const after = rec.of('event').slice(4);
        assert.deepEqual(after.map((i) => [i.info.seq, i.info.source]), [[7, 'live'], [8, 'live'], [9, 'live']]);
        assert.deepEqual(after.map((i) => i.event), live);
        assert.deepEqual(sub.state(), {
          d1: { power: live[2] }, d2: { power: live[0] }, d3: { volume: sent[3], mute: sent[4] }, d4: { temp: live[1] },
        });
        // The library's state is the hub's
        const http = await getJson(`${ces.http}/rooms/${room}/state`);
        for (const item of http.state) assert.deepEqual(sub.state()[item.device][item.key], item.event);
        assert.equal(rec.of('error').length, 0, JSON.stringify(rec.of('error')));

        // A second subscription to the same room with state gets the state as kept
        const rec2 = new Recorder();
        ces2.subscribe(room, { state: true }, rec2.onEvent());
        await rec2.waitFor(() => rec2.items.length === 5, 'the state for a second subscription');
        assert.ok(rec2.items.every((i) => i.info.source === 'state'));

        // Unsubscribed: nothing more for it, while the other subscription to
        // the room (on the same connection) gets the next event
        sub.unsubscribe();
        publisher.publish(room, event('d9', 'k', 'after'));
        await rec2.waitFor((i) => i.event.value === 'after', 'the event after unsubscribe, for the other subscription');
        assert.equal(rec.of('event').length, 7, 'the unsubscribed subscription got nothing more');
      } finally {
        await stop(ces.child);
      }
    });

  it('ces killed and restarted with its data directory while events flow: every event once, in sequence, recovered',
    async () => {
      const ces = await durableCes(['--data-dir', tempDir()]);
      try {
        const room = unique('DUR');
        const rec = new Recorder();
        let hold = null;
        const sub = open(ces.ws, { WebSocket: WS, tokenRefresh: () => hold?.promise });
        rec.listen(sub);
        sub.subscribe(room, { state: true }, rec.onEvent());
        await rec.waitFor((i) => i.kind === 'registered', 'registered');

        // A publisher sends an event every 10 ms, through the outage (its
        // buffer keeps what it cannot send)
        const publisher = open(ces.ws, { WebSocket: WS });
        await new Promise((resolve) => publisher.on('connected', resolve));
        let n = 0;
        const flow = setInterval(() => publisher.publish(room, event(`d${n % 3}`, 'n', ++n)), 10);
        try {
          await rec.waitFor((i) => i.kind === 'event' && i.event.value >= 30, 'events flowing before the kill');
          const beforeKill = rec.items.length;
          hold = gate();
          await ces.kill('SIGKILL');
          await rec.waitFor((i) => i.kind === 'disconnected', 'disconnected', { from: beforeKill });
          await ces.start();
          // The subscriber comes back after the publisher has sent 30 more
          // events (so that some are replayed to it)
          const atStart = await seqOf(ces, room);
          await until(() => seqOf(ces, room), (seq) => seq >= atStart + 30, 'events flowing after the restart');
          hold.open(undefined);
          await rec.waitFor((i) => i.kind === 'recovered', 'recovered after the restart', { from: beforeKill });
          const atRecovery = n;
          await rec.waitFor((i) => i.kind === 'event' && i.event.value >= atRecovery + 30, 'events flowing after');
        } finally {
          clearInterval(flow);
        }
        const last = await seqOf(ces, room);
        await rec.waitFor((i) => i.kind === 'event' && i.info.seq === last, `the room's last event (${last})`);

        const recovered = rec.of('recovered');
        assert.deepEqual(recovered.map(({ room: r, recovered: ok }) => ({ room: r, recovered: ok })),
          [{ room, recovered: true }], 'one recovery, successful');
        // Every event of the room, once, in sequence, as the hub kept it
        const got = rec.of('event');
        assert.deepEqual(got.map((i) => i.info.seq), Array.from({ length: last }, (_, i) => i + 1),
          'every sequence number once, in order');
        const history = await getJson(`${ces.http}/rooms/${room}/history?since=0&limit=10000`);
        assert.deepEqual(got.map((i) => i.event), history.events.map((e) => e.event), 'the events are the hub\'s');
        assert.ok(got.every((i) => i.info.source === 'live' || i.info.source === 'replay'), 'no state: nothing was lost');
        assert.ok(got.filter((i) => i.info.source === 'replay').length >= 30, 'what it missed was replayed');
        // The publisher's values arrive in its order; what its socket held
        // when ces was killed may be lost (at most once), nothing else
        const values = got.map((i) => i.event.value);
        assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]), 'the publisher\'s order');
        assert.ok(values.length >= n - 50, `at most a few of the ${n} published lost in the kill (got ${values.length})`);
        console.log(`# ${n} published, ${values.length} delivered, ${rec.of('event').filter((i) => i.info.source === 'replay').length} replayed`);
      } finally {
        await ces.kill('SIGTERM');
      }
    });

  it('history evicted while disconnected (--history 5): recovered false, then the state, no event reported twice',
    async () => {
      const ces = await startCes(['--history', '5']);
      try {
        const room = unique('EVICT');
        const rec = new Recorder();
        const ws = sockets();
        let hold = null;
        const sub = open(ces.ws, { WebSocket: ws.WebSocket, tokenRefresh: () => hold?.promise });
        rec.listen(sub);
        const subscription = sub.subscribe(room, { state: true }, rec.onEvent());
        await rec.waitFor((i) => i.kind === 'registered', 'registered');
        const publisher = open(ces.ws, { WebSocket: WS });
        for (const device of ['d1', 'd2', 'd3']) publisher.publish(room, event(device, 'k', `${device}-first`));
        await rec.waitFor((i) => i.kind === 'event' && i.info.seq === 3, 'three live events');

        // Cut the subscriber; hold its reconnect until ten more events are in
        hold = gate();
        const from = rec.items.length;
        ws.last().terminate();
        await rec.waitFor((i) => i.kind === 'connecting', 'a reconnect attempt (held)', { from });
        for (let i = 1; i <= 10; i++) publisher.publish(room, event(i % 2 ? 'd1' : 'd2', 'k', `v${i}`));
        await until(() => seqOf(ces, room), (seq) => seq === 13, 'the hub has thirteen events');
        hold.open(undefined);
        const notice = await rec.waitFor((i) => i.kind === 'recovered', 'recovered', { from });
        assert.equal(notice.recovered, false);
        assert.equal(notice.room, room);
        assert.equal(notice.state, true, 'the state comes instead');
        assert.match(String(notice.reason), /\S/, 'with a reason');
        await rec.waitFor((i) => i.kind === 'registered', 'registered again', { from });
        const state = rec.of('state', from);
        assert.equal(state.length, 1);
        assert.equal(state[0].seq, 13);
        // The state's events not reported before: d1's and d2's latest; d3's
        // (seq 3) was reported live already
        const again = rec.of('event', from);
        assert.deepEqual(again.map((i) => [i.info.seq, i.info.source, i.event.value]),
          [[12, 'state', 'v9'], [13, 'state', 'v10']]);
        assert.deepEqual(subscription.state(), {
          d1: { k: again[0].event }, d2: { k: again[1].event }, d3: { k: rec.of('event')[2].event },
        });
        // Live again, from 14
        publisher.publish(room, event('d3', 'k', 'live-again'));
        const next = await rec.waitFor((i) => i.kind === 'event' && i.event.value === 'live-again', 'live again');
        assert.deepEqual(next.info, { room, seq: 14, source: 'live' });
        const seqs = rec.of('event').map((i) => i.info.seq);
        assert.equal(new Set(seqs).size, seqs.length, `no sequence number twice: ${seqs}`);
      } finally {
        await stop(ces.child);
      }
    });

  // A library client on a room of a `ces` with a small client queue whose
  // socket stops reading while a sender floods the room, until the edge has
  // dropped events for it; then it reads again. Returns what the test needs
  async function flooded(ces) {
    const room = unique('GAP');
    const rec = new Recorder();
    const ws = sockets();
    const client = open(ces.ws, { WebSocket: ws.WebSocket });
    rec.listen(client);
    client.subscribe(room, rec.onEvent());
    await rec.waitFor((i) => i.kind === 'registered', 'registered');
    const socket = ws.last()._socket;
    const port = socket.localPort;
    socket.pause();  // stops reading: kernel buffers, then the edge's queue, fill up
    const sender = new WS(`${ces.ws}/connect/messenger`);
    await new Promise((resolve, reject) => { sender.once('open', resolve); sender.once('error', reject); });
    const padding = 'x'.repeat(1900);
    const state = { room, rec, sender, sent: 0, dropped: 0 };
    state.send = (n) => sender.send(Buffer.from(`${room}\n${JSON.stringify({ n, padding })}`));
    const deadline = Date.now() + 20000;
    while (state.dropped < 200) {
      assert.ok(Date.now() < deadline, `no drops for the paused client in 20 s (sent ${state.sent})`);
      for (let i = 0; i < 200; i++) state.send(++state.sent);
      const st = await getJson(`${ces.http}/status`);
      state.dropped = st.edge.clients.find((c) => c.remote.endsWith(`:${port}`))?.dropped || 0;
    }
    await until(() => seqOf(ces, room), (seq) => seq === state.sent, 'the hub has every event');
    socket.resume();
    return state;
  }

  it('a gap while connected (the edge dropped events for a client that did not read): filled by a replay, nothing twice',
    async () => {
      const ces = await startCes(['--client-queue', '65536', '--stuck-timeout', '60000', '--history', '50000']);
      try {
        const flood = await flooded(ces);
        const { room, rec, sender, dropped } = flood;
        // Events keep coming meanwhile: the gap is told all the same
        const nudge = setInterval(() => flood.send(++flood.sent), 100);
        let gap;
        try {
          gap = await rec.waitFor((i) => i.kind === 'gap', 'the gap notice', { timeout: 15000 });
        } finally {
          clearInterval(nudge);
        }
        await until(() => seqOf(ces, room), (seq) => seq === flood.sent, 'the hub has every event');
        const { sent } = flood;
        assert.equal(gap.filling, true);
        assert.equal(gap.reason, 'queue_full');
        await rec.waitFor((i) => i.kind === 'recovered', 'the gap filled', { timeout: 15000 });
        await rec.waitFor(() => rec.of('event').length >= sent, `all ${sent} events`, { timeout: 15000 });
        const seqs = rec.of('event').map((i) => i.info.seq);
        assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
        assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: sent }, (_, i) => i + 1), 'every event');
        const filled = rec.of('event').filter((i) => i.info.seq >= gap.from && i.info.seq <= gap.to);
        assert.ok(filled.every((i) => i.info.source === 'replay'),
          `the hole filled by the replay: gaps ${JSON.stringify(rec.of('gap').map(({ from, to, reason }) => [from, to, reason]))}, ` +
          `in the hole not from the replay: ${JSON.stringify(filled.filter((i) => i.info.source !== 'replay').map((i) => [i.info.seq, i.info.source]).slice(0, 10))}`);
        assert.deepEqual(filled.map((i) => i.event.n), filled.map((i) => i.info.seq), 'the events are the room\'s');
        console.log(`# ${sent} sent, ${dropped}+ dropped by the edge, gaps ${JSON.stringify(rec.of('gap').map(({ from, to }) => [from, to]))}`);
        sender.terminate();
      } finally {
        await stop(ces.child);
      }
    });

  it('the edge tells a gap once the client\'s queue has room again, with no further event (PROTOCOL.md)',
    async () => {
      const ces = await startCes(['--client-queue', '65536', '--stuck-timeout', '60000', '--history', '50000']);
      try {
        const { rec, sender } = await flooded(ces);
        try {
          await rec.waitFor((i) => i.kind === 'gap', 'the gap notice, with no further event', { timeout: 10000 });
        } finally {
          sender.terminate();
        }
      } finally {
        await stop(ces.child);
      }
    });

  it('reconnect attempts against a stopped server follow the backoff; reset after a stable connection',
    TIMING, async () => {
      const ces = await durableCes();
      const backoff = { stable: 600 };
      try {
        const rec = new Recorder();
        const ws = sockets();
        const client = open(ces.ws, { WebSocket: ws.WebSocket, backoff });
        rec.listen(client);
        await rec.waitFor((i) => i.kind === 'connected', 'connected');
        await ces.kill('SIGTERM');
        // Five attempts: 250, 500, 1000, 2000 ms (±20%) apart, after each failure
        await rec.waitFor(() => rec.of('connecting').length === 6, 'five reconnect attempts', { timeout: 12000 });
        const timeline = rec.items.filter((i) => i.kind === 'disconnected' || i.kind === 'connecting');
        const waits = [];
        for (let i = 0; i < timeline.length - 1; i++) {
          if (timeline[i].kind !== 'disconnected') continue;
          assert.equal(timeline[i + 1].kind, 'connecting');
          waits.push({ retryIn: timeline[i].retryIn, took: timeline[i + 1].at - timeline[i].at, attempt: timeline[i].attempt });
        }
        assert.ok(waits.length >= 4, JSON.stringify(waits));
        waits.slice(0, 4).forEach((wait, i) => {
          const base = 250 * 2 ** i;
          assert.ok(wait.retryIn >= base * 0.8 && wait.retryIn <= base * 1.2, `attempt ${i}: ${wait.retryIn} ms within ${base} ±20%`);
          assert.ok(wait.took >= wait.retryIn - 5 && wait.took <= wait.retryIn + 250,
            `attempt ${i}: waited ${wait.took.toFixed(0)} ms for a planned ${wait.retryIn}`);
        });
        assert.ok(rec.of('disconnected').every((d) => d.code === 1006 || d.code === 1001 || d.code === 1000 || d.code === 1005),
          JSON.stringify(rec.of('disconnected').map((d) => d.code)));

        // Back: it connects; after a stable connection a drop starts from ~250 ms again
        const from = rec.items.length;
        await ces.start();
        await rec.waitFor((i) => i.kind === 'connected', 'connected again', { from, timeout: 15000 });
        await new Promise((resolve) => setTimeout(resolve, backoff.stable + 100));  // the time being measured
        const cut = rec.items.length;
        ws.last().terminate();
        const drop = await rec.waitFor((i) => i.kind === 'disconnected', 'disconnected', { from: cut });
        assert.ok(drop.retryIn >= 200 && drop.retryIn <= 300, `reset to ~250 ms, got ${drop.retryIn}`);
        await rec.waitFor((i) => i.kind === 'connected', 'connected after the drop', { from: cut });
        // An unstable connection (cut at once) does not reset it
        const cut2 = rec.items.length;
        ws.last().terminate();
        const drop2 = await rec.waitFor((i) => i.kind === 'disconnected', 'disconnected', { from: cut2 });
        assert.ok(drop2.retryIn >= 400 && drop2.retryIn <= 600, `not reset after a short connection, got ${drop2.retryIn}`);
      } finally {
        await ces.kill('SIGTERM');
      }
    });

  it('publishes while disconnected wait in a bounded buffer: overflow dropped (oldest) and counted, the rest delivered',
    async () => {
      const ces = await durableCes();
      try {
        const room = unique('BUF');
        const rec = new Recorder();
        let hold = null;
        const publisher = open(ces.ws, { WebSocket: WS, buffer: 5, tokenRefresh: () => hold?.promise });
        rec.listen(publisher);
        await rec.waitFor((i) => i.kind === 'connected', 'connected');
        assert.equal(publisher.publish(room, event('d', 'k', 0)), 'sent');
        hold = gate();
        const from = rec.items.length;
        await ces.kill('SIGTERM');
        await rec.waitFor((i) => i.kind === 'disconnected', 'disconnected', { from });
        const results = [];
        for (let i = 1; i <= 8; i++) results.push(publisher.publish(room, event('d', 'k', i)));
        assert.deepEqual(results, ['buffered', 'buffered', 'buffered', 'buffered', 'buffered', 'buffered', 'buffered', 'buffered']);
        assert.deepEqual(rec.of('dropped').map((d) => [JSON.parse(d.event).value, d.dropped]), [[1, 1], [2, 2], [3, 3]]);
        assert.equal(publisher.stats().buffered, 5);
        assert.equal(publisher.stats().dropped, 3);

        // ces back; a subscriber registered before the publisher reconnects
        await ces.start();
        const rec2 = new Recorder();
        const subscriber = open(ces.ws, { WebSocket: WS });
        subscriber.subscribe(room, rec2.onEvent());
        await new Promise((resolve) => subscriber.on('registered', resolve));
        hold.open(undefined);
        await rec2.waitFor(() => rec2.items.length === 5, 'the five buffered events');
        assert.deepEqual(rec2.items.map((i) => i.event.value), [4, 5, 6, 7, 8]);
        assert.equal(publisher.stats().buffered, 0);
        assert.equal(publisher.stats().dropped, 3);
      } finally {
        await ces.kill('SIGTERM');
      }
    });

  it('token refresh: called before each attempt; an expired token is replaced and the room recovered', async () => {
    const SECRET = 'client-lib-secret';
    const ces = await startCes(['--auth-secret', SECRET]);
    try {
      const room = unique('TOK');
      const now = () => Math.floor(Date.now() / 1000);
      const issued = [];
      const tokenRefresh = async () => {
        // The first token expires in 2-3 s; the next ones in an hour
        const exp = issued.length ? now() + 3600 : now() + 3;
        issued.push(exp);
        return jwt({ rooms: ['*'], exp, sub: `panel-${issued.length}` }, { key: SECRET });
      };
      const rec = new Recorder();
      const client = open(ces.ws, { WebSocket: WS, tokenRefresh });
      rec.listen(client);
      client.subscribe(room, { state: true }, rec.onEvent());
      await rec.waitFor((i) => i.kind === 'registered', 'registered with the first token');
      assert.equal(issued.length, 1, 'called before the first attempt');
      const publisher = open(ces.ws, { WebSocket: WS, token: await jwt({ rooms: ['*'] }, { key: SECRET }) });
      publisher.publish(room, event('d', 'k', 'before'));
      await rec.waitFor((i) => i.kind === 'event', 'an event with the first token');

      const closed = await rec.waitFor((i) => i.kind === 'disconnected', 'closed when the token expires', { timeout: 8000 });
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, 'token expired; reconnect with a new one');
      publisher.publish(room, event('d', 'k', 'while-away'));
      const back = await rec.waitFor((i) => i.kind === 'recovered', 'recovered with a new token');
      assert.equal(back.recovered, true);
      assert.equal(issued.length, rec.of('connecting').length, 'a token asked for before each attempt');
      assert.ok(issued.length >= 2 && issued.at(-1) > now() + 3000, 'the expired token was replaced');
      await rec.waitFor((i) => i.kind === 'event' && i.event.value === 'while-away', 'the event sent meanwhile');
      assert.deepEqual(rec.of('event').map((i) => [i.info.seq, i.event.value]), [[1, 'before'], [2, 'while-away']]);
      const presence = await (await fetch(`${ces.http}/rooms/${room}?token=${await jwt({ rooms: ['*'] }, { key: SECRET })}`)).json();
      assert.ok(JSON.stringify(presence).includes(`panel-${issued.length}`), 'the room is held with the new token');
    } finally {
      await stop(ces.child);
    }
  });

  it('a pattern subscription ("PB-*"): live events of every matching room, with their sequence numbers', async () => {
    const ces = await startCes();
    try {
      const building = unique('PB');
      const rec = new Recorder();
      const client = open(ces.ws, { WebSocket: WS });
      rec.listen(client);
      const sub = client.subscribe(`${building}-*`, rec.onEvent());
      await rec.waitFor((i) => i.kind === 'registered', 'registered');
      assert.deepEqual(rec.of('registered')[0].rooms, [`${building}-*`]);
      const publisher = open(ces.ws, { WebSocket: WS });
      publisher.publish(`${building}-1`, event('a', 'k', 1));
      publisher.publish(`${building}X-1`, event('a', 'k', 'not this building'));
      publisher.publish(`${building}-2`, event('b', 'k', 2));
      publisher.publish(`${building}-1`, event('a', 'k', 3));
      await rec.waitFor((i) => i.kind === 'event' && i.event.value === 3, 'three events');
      assert.deepEqual(rec.of('event').map((i) => i.info), [
        { room: `${building}-1`, seq: 1, source: 'live' }, { room: `${building}-2`, seq: 1, source: 'live' },
        { room: `${building}-1`, seq: 2, source: 'live' }]);
      assert.deepEqual(Object.keys(sub.state()).sort(), [`${building}-1`, `${building}-2`]);
      assert.equal(sub.state(`${building}-1`).a.k.value, 3);
      assert.throws(() => publisher.publish(`${building}-*`, {}), /cannot publish/);
      assert.equal(rec.of('error').length, 0);
    } finally {
      await stop(ces.child);
    }
  });

  it('speaks ces.v2 and reports the server\'s Text errors', async () => {
    const ces = await startCes();
    try {
      const rec = new Recorder();
      const client = open(ces.ws, { WebSocket: WS });
      rec.listen(client);
      const connected = await rec.waitFor((i) => i.kind === 'connected', 'connected');
      assert.equal(connected.protocol, PROTOCOL);
      client.publish('ERR-1', 'not json');
      const error = await rec.waitFor((i) => i.kind === 'error', 'an error notice');
      assert.match(error.message, /json/i);
    } finally {
      await stop(ces.child);
    }
  });
});
