// Per-client limits (issue 7): clients per address, events per second,
// rooms per client. Each gets its own clear error and counter, and a
// well-behaved client on the same edge is not affected.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, stop, open, status, unique, Client, eventBuilders } from './harness.mjs';

const { event } = eventBuilders('limits-test');

describe('per-client limits', () => {
  let ces;
  before(async () => {
    ces = await startCes(['--max-clients-per-address', '3', '--max-rate', '20',
      '--max-rooms-per-client', '3']);
  });
  after(async () => { if (ces) await stop(ces.child); });

  it('a fourth connection from one address gets 503; a closed one frees its place', async () => {
    const clients = [await open(ces, 'messenger'), await open(ces, 'messenger'), await open(ces, 'messenger')];
    const before = (await status(ces)).edge.counters.refused_full;
    await assert.rejects(new Client(`${ces.ws}/connect/messenger`).open(), (e) => e.status === 503);
    assert.equal((await status(ces)).edge.counters.refused_full, before + 1);
    await clients[0].close();
    // the close reaches the worker's close handler, then a place is free again
    let again = null;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await new Client(`${ces.ws}/connect/messenger`).open().catch(() => null);
      if (!again) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(again, 'a place was freed by the close');
    for (const c of [again, clients[1], clients[2]]) await c.close();
  });

  it('events over max-rate are dropped with an error; the others and other clients flow', async () => {
    const room = unique('RATE');
    const fast = await open(ces, 'messenger');
    const watcher = await open(ces, 'messenger');
    await watcher.register([room]);
    for (let i = 0; i < 60; i++) fast.sendEvent(room, event(room, { n: i }));
    // a burst of 60 at once: the bucket holds 20, so about 40 are refused
    const errors = [];
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && errors.length < 30) {
      const item = await fast.next(3000);
      if (!item.binary) errors.push(JSON.parse(item.text).error);
    }
    assert.ok(errors.length >= 30, `only ${errors.length} refusals`);
    assert.match(errors[0], /max-rate/);
    let delivered = 0;
    for (;;) {
      const item = await watcher.next(500).catch(() => null);
      if (!item) break;
      if (item.binary) delivered++;
    }
    assert.ok(delivered >= 20 && delivered <= 30, `delivered ${delivered} of 60`);
    const totals = (await status(ces)).edge.counters;
    assert.ok(totals.rate_limited >= 30, `rate_limited ${totals.rate_limited}`);
    // every event is either delivered or refused (the refusals still on
    // their way when we stopped counting are in the edge's counter)
    assert.equal(delivered + totals.rate_limited, 60);
    await fast.close();
    await watcher.close();
  });

  it('a registration over max-rooms-per-client is refused whole; within it, rooms register', async () => {
    const client = await open(ces, 'messenger');
    const rooms = [unique('R'), unique('R'), unique('R')];
    await client.register(rooms);
    await client.register([rooms[0]]); // a room it holds does not count again
    client.ws.send(JSON.stringify({ rooms: [unique('R')], create: true }));
    const refusal = await client.next();
    assert.match(JSON.parse(refusal.text).error, /at most 3 rooms/);
    const st = await status(ces);
    assert.ok(st.edge.counters.over_room_limit >= 1);
    const metrics = await (await fetch(`${ces.http}/metrics`)).text();
    assert.match(metrics, /ces_edge_limited_total\{limit="max_rooms_per_client"\} [1-9]/);
    assert.match(metrics, /ces_edge_limited_total\{limit="max_rate"\} [1-9]/);
    await client.close();
  });
});
