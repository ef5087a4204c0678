// Capacity by default: `ces` as `make run` starts it holds a building (1,000
// rooms with one panel each, two publishers: 1,002 WebSockets) and every event
// arrives; a client refused at the limit is told which flag to raise, and the
// refusals are logged at most once a second.
//
// The harness starts every other program with --max-clients 100: 10,000
// civetweb threads per program would make each start seconds long. This file
// starts ces with its own defaults.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, freePort, startEdge, stop, open, status, until, refusal, unique } from './harness.mjs';
import { startHubOnly } from './mesh_harness.mjs';

delete process.env.CES_MAX_CLIENTS; //  an operator's own setting is not the default
const started = [];
after(async () => { await Promise.all(started.map((child) => stop(child))); });

// ces with nothing but its ports given, as `make run` starts it. Starting
// 10,000 civetweb workers takes 2-3 s on a quiet machine, 15 s seen on a
// busy one: this start gets longer than the harness's usual 15 s
async function startDefaultCes() {
  const [port, router, pub, repeater] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = await start('ces', ['--listen', `127.0.0.1:${port}`, '--router', `tcp://127.0.0.1:${router}`,
    '--pub', `tcp://127.0.0.1:${pub}`, '--repeater-listen', `127.0.0.1:${repeater}`], / ready$/m, 90000,
    undefined, false);
  return { child, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

// Opens count clients, a few at a time, so that the edge's listen backlog
// is never the limit
async function openMany(server, count, batch = 50) {
  const clients = [];
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, () => open(server, 'messenger')));
    clients.push(...opened);
  }
  return clients;
}

describe('capacity by default', () => {
  it('ces with its defaults: 1,000 rooms x 1 subscriber and 2 publishers (1,002 WebSockets), every event delivered', async () => {
    const ces = await startDefaultCes();
    started.push(ces.child);
    const defaults = await status(ces);
    assert.equal(defaults.edge.max_clients, 10000, 'the default --max-clients');
    const rooms = Array.from({ length: 1000 }, () => unique('CAP'));
    const subscribers = await openMany(ces, rooms.length);
    const registered = [];
    for (let i = 0; i < rooms.length; i += 100)
      registered.push(...await Promise.all(subscribers.slice(i, i + 100).map((c, j) => c.register([rooms[i + j]]))));
    assert.equal(registered.length, 1000);
    const publishers = await openMany(ces, 2);
    for (const [p, publisher] of publishers.entries())
      for (const room of rooms) publisher.sendEvent(room, { 'affected-room': { roomID: room }, key: 'p', value: p });
    await Promise.all(subscribers.map(async (subscriber, i) => {
      const got = [];
      while (got.length < 2) {
        const item = await subscriber.next();
        if (item.binary) got.push(item.text);
      }
      const values = got.map((text) => JSON.parse(text.slice(text.indexOf('\n') + 1)).value).sort();
      assert.deepEqual(values, [0, 1], `both publishers' events in ${rooms[i]}`);
    }));
    const st = await until(() => status(ces), (s) => s.edge.counters.delivered >= 2000, '2,000 deliveries counted');
    assert.equal(st.edge.counters.delivered, 2000);
    assert.equal(st.edge.counters.drops.queue_full, 0);
    assert.equal(st.edge.counters.refused_full, 0, 'nobody refused');
    assert.equal(st.edge.clients.length, 1002);
    await Promise.all([...subscribers, ...publishers].map((c) => c.close()));
  });

  it('a client refused at --max-clients gets a 503 naming the flag; refusals are logged at most once a second', async () => {
    const hub = await startHubOnly();
    started.push(hub.child);
    const edge = await startEdge(hub.router, hub.pub, ['--max-clients', '1']);
    started.push(edge.child);
    const admitted = await open(edge, 'messenger');
    const refused = await Promise.all(Array.from({ length: 30 }, () => refusal(`${edge.ws}/connect/messenger`)));
    for (const answer of refused) {
      assert.equal(answer.status, 503);
      assert.match(answer.text, /--max-clients/, 'the 503 names the flag to raise');
    }
    const logged = await until(async () => edge.child.output.match(/edge: full, refused \d+ WebSocket/g) || [],
      (lines) => lines.length >= 1, 'a log line for the refusals');
    // 30 refusals within well under a second: one line (two if they
    // straddled a second), counting them all
    assert.ok(logged.length <= 2, `refusals logged ${logged.length} times`);
    const st = await status(edge);
    assert.equal(st.edge.counters.refused_full, 30);
    await admitted.close();
  });
});
