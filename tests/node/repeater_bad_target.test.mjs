// Targets that are down, stall or fail hold up nobody but themselves
// (SPEC §6): each has its own thread and bounded queue; its failures and
// drops are counted; other targets and the messengers keep getting
// everything, promptly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open, status, unique, until, eventBuilders, freePort, httpTarget, wsTarget, targetsFile, TIMING,
} from './harness.mjs';

const { event, frame } = eventBuilders('repeater-bad-target-test', ['core-state']);
const PROMPT = 250; // ms: the most a subscriber may wait for an event

describe('repeater: a target that is down and one that stalls', () => {
  let ces, stalled, goodHttp, goodWs, down, sender, subscriber;
  const room = unique('ITB');
  let sent = 0;
  let slowest = 0;

  before(async () => {
    [stalled, goodHttp, goodWs] = await Promise.all([httpTarget({ answer: false }), httpTarget(), wsTarget()]);
    down = `http://127.0.0.1:${await freePort()}/down`; // nobody listens: connection refused
    ces = await startCes(['--central', [down, stalled.url, goodHttp.url, goodWs.url].join(','), '--system-id', 'bad-sys']);
    [sender, subscriber] = await Promise.all([open(ces, 'messenger'), open(ces, 'messenger')]);
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
  });
  after(async () => {
    for (const c of [sender, subscriber]) c?.ws.terminate();
    await stalled?.close(); // first: a stalled target holds up shutdown (see the last test)
    if (ces) await stop(ces.child);
    await Promise.all([goodHttp?.close(), goodWs?.close()]);
  });

  // Sends `count` events at once; the subscriber must get each within PROMPT ms
  async function burst(count) {
    const at = [];
    const first = sent;
    for (let i = 0; i < count; i++) {
      at.push(performance.now());
      sender.ws.send(frame(room, { value: `e${sent++}` }));
    }
    for (let i = 0; i < count; i++) {
      const item = await subscriber.next();
      assert.equal(JSON.parse(item.text.slice(room.length + 1)).value, `e${first + i}`, 'subscriber gets every event in order');
      slowest = Math.max(slowest, item.at - at[i]);
    }
    assert.ok(slowest < PROMPT, `the subscriber waited up to ${Math.round(slowest)} ms for an event`);
  }
  const target = (st, url) => st.repeater.targets.find((t) => t.url === url);
  const values = (items, pick) => items.map((item) => JSON.parse(pick(item)).value);
  // Every event so far reached both good targets, in order
  async function goodGotAll(what) {
    await until(() => [goodHttp.requests.items.length, goodWs.messages.items.length],
      ([h, w]) => h >= sent && w >= sent, `${what}: both good targets got all ${sent} events`, 10000);
    const expected = Array.from({ length: sent }, (_, n) => `e${n}`);
    assert.deepEqual(values(goodHttp.requests.items, (r) => r.body), expected, `${what}: the HTTP target got each event once, in order`);
    assert.deepEqual(values(goodWs.messages.items, (m) => m.text.slice(room.length + 1)), expected,
      `${what}: the WebSocket target got each event once, in order`);
  }

  it('the other targets get every event and messengers get them promptly; the down target\'s failures are counted',
    async () => {
      for (let round = 0; round < 5; round++) await burst(10);
      await goodGotAll('50 events');
      const st = await until(() => status(ces.repeater), (s) => target(s, down).failed >= 1
        && target(s, goodHttp.url).sent === sent && target(s, goodWs.url).sent === sent,
      'the down target\'s failures and the good targets\' sends counted');
      assert.equal(target(st, down).state, 'failing');
      assert.equal(target(st, down).sent, 0);
      assert.equal(target(st, stalled.url).sent, 0, 'the stalled target delivered nothing');
      for (const url of [goodHttp.url, goodWs.url])
        assert.deepEqual([target(st, url).state, target(st, url).failed, target(st, url).dropped_queue_full], ['ok', 0, 0], url);
      assert.equal(JSON.parse(stalled.requests.items[0]?.body ?? '{}').value, 'e0', 'the stalled target got the first event and holds it');
      assert.equal(goodWs.connections.items.length, 1, 'the WebSocket target kept one link');
    });

  it('a stalled target\'s full queue drops its events only, counted in /status and /metrics', TIMING, async () => {
    // Paced by the good targets' arrivals: their queues never fill, the stalled one's does
    for (let round = 0; round < 11; round++) {
      await burst(200);
      await goodGotAll(`${sent} events`);
    }
    const st = await until(() => status(ces.repeater), (s) => target(s, stalled.url).dropped_queue_full > 0
      && target(s, goodHttp.url).sent === sent && target(s, goodWs.url).sent === sent,
    'the stalled target\'s drops counted');
    const dropped = target(st, stalled.url).dropped_queue_full;
    assert.ok(dropped < sent - 1000, `the stalled target queued at least 1000 events before dropping (dropped ${dropped} of ${sent})`);
    for (const url of [goodHttp.url, goodWs.url])
      assert.equal(target(st, url).dropped_queue_full, 0, `${url} dropped nothing`);
    assert.ok(target(st, down).failed + target(st, down).dropped_queue_full > 1, 'the down target keeps failing');
    assert.equal(st.repeater.events_to_targets, sent);
    // A drop at a full queue is the target's, not an event nobody wanted
    assert.equal(st.repeater.events_for_no_target, 0);
    const metrics = await (await fetch(`${ces.repeater.http}/metrics`)).text();
    const metric = (url, outcome) => Number(metrics.match(new RegExp(
      `^ces_repeater_target_events_total\\{target="${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}",outcome="${outcome}"\\} (\\d+)$`, 'm'))?.[1]);
    assert.ok(metric(stalled.url, 'queue_full') >= dropped, 'metrics: the stalled target\'s queue_full');
    assert.equal(metric(goodWs.url, 'sent'), sent, 'metrics: the WebSocket target\'s sent');
    assert.equal(metric(goodHttp.url, 'queue_full'), 0);
    assert.ok(metric(down, 'failed') >= 1, 'metrics: the down target\'s failed');
    assert.match(metrics, new RegExp(`^ces_repeater_events_total\\{path="to_targets"\\} ${sent}$`, 'm'));
  });
});

describe('repeater: an HTTP target that fails', () => {
  let ces, flaky, sender;
  const room = unique('ITB');

  before(async () => {
    // Answers 503 to events whose value starts with "fail", 200 to the rest
    flaky = await httpTarget({ answer: (request) => (JSON.parse(request.body).value.startsWith('fail') ? 503 : 200) });
    ces = await startCes(['--central', flaky.url]);
    sender = await open(ces, 'messenger');
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
  });
  after(async () => {
    sender?.ws.terminate();
    if (ces) await stop(ces.child);
    await flaky?.close();
  });

  // The requests for one event: value, and the gaps between them in ms
  async function attempts(value, count) {
    const got = [];
    while (got.length < count) {
      const request = await flaky.requests.next(3000, `attempt ${got.length + 1} of ${value}`);
      assert.equal(JSON.parse(request.body).value, value, `attempt ${got.length + 1} is for ${value}`);
      got.push(request.at);
    }
    return got.slice(1).map((at, i) => at - got[i]);
  }

  it('is tried 3 times with backoff (100, 200 ms), then counted as failed', async () => {
    sender.sendEvent(room, event(room, { value: 'fail-alone' }));
    const gaps = await attempts('fail-alone', 3);
    assert.ok(gaps[0] >= 90 && gaps[1] >= 190, `waits 100 then 200 ms between attempts: ${gaps.map(Math.round)}`);
    sender.sendEvent(room, event(room, { value: 'ok-after' }));
    await attempts('ok-after', 1);
    const st = await until(() => status(ces.repeater), (s) => s.repeater.targets[0].sent === 1 && s.repeater.targets[0].failed === 1,
      'one failed, one sent');
    assert.equal(st.repeater.targets[0].state, 'ok', 'back to ok after a success');
  });

  it('backs off between attempts even while more events are queued for it', async () => {
    for (const value of ['fail-queued', 'ok-queued'])
      sender.sendEvent(room, event(room, { value }));
    const gaps = await attempts('fail-queued', 3);
    await attempts('ok-queued', 1);
    assert.ok(gaps[0] >= 90 && gaps[1] >= 190, `waits 100 then 200 ms between attempts: ${gaps.map(Math.round)}`);
  });
});

describe('repeater: a stalled target holds up neither a reload nor shutdown', () => {
  // What `promise` gives, or `fallback` after `ms` (the timer is cleared)
  function within(promise, ms, fallback) {
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  it('a reload that removes a stalled target leaves the repeater serving', async () => {
    const room = unique('ITB');
    const [stalled, good, added] = await Promise.all([httpTarget({ answer: false }), httpTarget(), httpTarget()]);
    const file = await targetsFile({ [room]: [stalled.url, good.url] });
    const ces = await startCes(['--targets', file.file]);
    let sender, timer;
    try {
      sender = await open(ces, 'messenger');
      await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
      let n = 0;
      timer = setInterval(() => sender.ws.send(frame(room, { value: `flow-${n++}` })), 50);
      await stalled.requests.next(3000, 'the stalled target\'s request');
      // Swap the stalled target for another one
      file.write({ [room]: [good.url, added.url] });
      const reloaded = performance.now();
      ces.child.kill('SIGHUP');
      const first = await added.requests.next(1500).catch(() => null);
      assert.ok(first, 'the added target gets events within 1.5 s of SIGHUP');
      const answer = await fetch(`${ces.repeater.http}/status`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.status, () => 'no answer');
      assert.equal(answer, 200, 'the repeater\'s /status answers within 1 s');
      const before = good.requests.items.filter((r) => r.at < reloaded);
      const gap = good.requests.items.slice(before.length - 1).reduce((most, r, i, all) => Math.max(most, i ? r.at - all[i - 1].at : 0), 0);
      assert.ok(gap < 1000, `the kept target waited ${Math.round(gap)} ms between events across the reload`);
    } finally {
      clearInterval(timer);
      sender?.ws.terminate();
      await stalled.close(); // lets a held-up repeater go
      await stop(ces.child);
      await Promise.all([good.close(), added.close()]);
      file.remove();
    }
  });

  it('SIGTERM with events queued for a stalled target exits within 2 s', async () => {
    const room = unique('ITB');
    const stalled = await httpTarget({ answer: false });
    const ces = await startCes(['--central', stalled.url]);
    let sender;
    try {
      sender = await open(ces, 'messenger');
      await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
      for (const value of ['held-1', 'held-2', 'held-3']) sender.ws.send(frame(room, { value }));
      await stalled.requests.next(3000, 'the stalled target\'s request');
      await until(() => status(ces.repeater), (st) => st.repeater.events_to_targets === 3, 'three events queued for it');
      sender.ws.terminate();
      const exited = stop(ces.child);
      const code = await within(exited, 2000, 'still running');
      assert.equal(code, 0, 'ces exits within 2 s of SIGTERM');
    } finally {
      sender?.ws.terminate();
      await stalled.close(); // lets a held-up shutdown go
      await stop(ces.child);
    }
  });
});
