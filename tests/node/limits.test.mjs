// Per-client limits (issue 7): clients per address, events per second,
// rooms per client. Each gets its own clear error and counter, and a
// well-behaved client on the same edge is not affected.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
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

describe('message shape limits: nesting depth, room ID length, handshake time', () => {
  let ces;
  before(async () => {
    ces = await startCes(['--max-depth', '8', '--max-room-length', '10', '--handshake-timeout', '500']);
  });
  after(async () => { if (ces) await stop(ces.child); });
  const nested = (levels) => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
  const post = (body) => fetch(`${ces.http}/event`, { method: 'POST', body });
  const withRoom = (room, body) => JSON.stringify({ ...JSON.parse(event(room)), deep: JSON.parse(body) });

  it('--max-depth 8: an event nesting 9 levels gets an error frame and a 400; 8 levels pass', async () => {
    const room = `D${process.pid % 100000}`;  // within --max-room-length
    const watcher = await open(ces, 'messenger');
    await watcher.register([room]);
    const sender = await open(ces, 'messenger');
    const malformedBefore = (await status(ces)).edge.counters.drops.malformed;
    sender.ws.send(Buffer.from(`${room}\n${nested(9)}`));
    const notice = await sender.next();
    assert.match(JSON.parse(notice.text).error, /nests deeper than 8 levels/);
    sender.ws.send(Buffer.from(`${room}\n${nested(8)}`));
    assert.equal((await watcher.next()).text, `${room}\n${nested(8)}`);
    assert.equal((await status(ces)).edge.counters.drops.malformed, malformedBefore + 1);
    // POST /event: the event itself is one level, "deep" adds its own
    const tooDeep = await post(withRoom(room, nested(8)));
    assert.equal(tooDeep.status, 400);
    assert.match(await tooDeep.text(), /nests deeper than 8 levels/);
    const fine = await post(withRoom(room, nested(7)));
    assert.equal(fine.status, 200);
    assert.match((await watcher.next()).text, /"deep"/);
    await Promise.all([watcher.close(), sender.close()]);
  });

  it('--max-room-length 10: longer rooms are refused in events, registrations, POST and outside links', async () => {
    const client = await open(ces, 'messenger');
    client.ws.send(Buffer.from(`ROOM-12345X\n${event('ROOM-12345X')}`));
    assert.match(JSON.parse((await client.next()).text).error, /room ID longer than 10 bytes/);
    client.ws.send(JSON.stringify({ rooms: ['OK-ROOM', 'ROOM-12345X'], create: true }));
    assert.match(JSON.parse((await client.next()).text).error, /room ID longer than 10 bytes/);
    // nothing of the refused registration applied
    const st = await status(ces);
    assert.equal(st.edge.clients.find((c) => c.remote.endsWith(`:${client.port}`)).rooms, 0);
    await client.register(['ROOM-12345']);  // exactly 10 bytes is fine
    const posted = await post(event('ROOM-12345X'));
    assert.equal(posted.status, 400);
    assert.match(await posted.text(), /room ID longer than 10 bytes/);
    await assert.rejects(new Client(`${ces.repeater.ws}/connect/ROOM-12345X/system`).open(), (e) => e.status >= 400);
    const outside = await new Client(`${ces.repeater.ws}/connect/ROOM-12345/system`).open();
    await outside.close();
    await client.close();
  });

  it('--handshake-timeout 500: a request sent too slowly is refused and counted; others are served', async () => {
    const before = (await status(ces)).edge.counters.refused_by_http;
    const slow = net.connect(ces.port, '127.0.0.1');
    const ended = new Promise((resolve) => { let reply = ''; slow.on('data', (d) => { reply += d; }); slow.on('close', () => resolve(reply)); });
    slow.write('GET /connect/messenger HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One more header byte every 100 ms: the request never completes
    const drip = setInterval(() => slow.write('X'), 100);
    // Meanwhile a well-behaved client connects and gets its events
    const room = `S${process.pid % 100000}`;  // within --max-room-length
    const good = await open(ces, 'messenger');
    await good.register([room]);
    const sender = await open(ces, 'messenger');
    const bytes = `${room}\n${event(room)}`;
    sender.ws.send(Buffer.from(bytes));
    assert.equal((await good.next()).text, bytes);
    const started = Date.now();
    const reply = await Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve(null), 8000))]);
    clearInterval(drip);
    slow.destroy();
    assert.notEqual(reply, null, 'the slow request was not closed within 8 s');
    assert.match(reply, /^HTTP\/1\.[01] 4\d\d/);
    assert.ok(Date.now() - started < 8000);
    const after = await status(ces);
    assert.ok(after.edge.counters.refused_by_http >= before + 1, JSON.stringify(after.edge.counters));
    assert.match(await (await fetch(`${ces.http}/metrics`)).text(), /ces_edge_http_refused_total [1-9]/);
    await Promise.all([good.close(), sender.close()]);
  });
});
