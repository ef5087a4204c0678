// The edge's WebSocket and HTTP surface (SPEC §4) against one `ces` process:
// upgrade paths, events byte for byte, fragmentation, registration rules,
// error frames, POST /event, /health, /status and /metrics.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startCes, startEdge, getJson, Client, stop, open as openClient, status, mine, unique, until, expectEvent, expectError, eventBuilders,
} from './harness.mjs';

let ces;

// A v2 event for `room`; `extra` fields are merged in
const { event } = eventBuilders('edge-protocol-test', null);

// Every client a test opened; those it left open are ended after it
const opened = new Set();

// Opens a client and waits until the edge lists it in /status (the
// handshake completes before the edge's actor has heard of the client)
async function open(type, options) {
  const client = await openClient(ces, type, options);
  opened.add(client);
  await until(() => status(ces), (st) => mine(st, client), `/connect/${type} client listed in /status`);
  return client;
}

// Registers a fresh room: once its notice is back, the edge has processed
// everything this client sent before it
async function sync(client) {
  const room = unique('sync');
  await client.register([room]);
  return room;
}

async function closeAll(...clients) {
  await Promise.all(clients.map((c) => c.close()));
}

// Waits until the edge and the hub know of no WebSocket client
async function settle() {
  await until(() => status(ces), (st) => st.edge.clients.length === 0 && st.hub.repeaters === 0 && st.hub.connections.hub === 0,
    'no clients left');
}

describe('edge protocol', () => {
  before(async () => { ces = await startCes(); });
  after(async () => { if (ces) await stop(ces.child); });
  afterEach(() => {
    for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
    opened.clear();
  });

  it('opens /connect/{messenger,repeater,hub} with and without a trailing slash; other types get 400', async () => {
    const roles = [];
    for (const type of ['messenger', 'repeater', 'hub']) {
      for (const path of [type, `${type}/`]) {
        const client = await open(path);
        const st = await status(ces);
        assert.equal(mine(st, client)?.role, type, `/connect/${path} is a ${type}`);
        roles.push(client);
      }
    }
    await closeAll(...roles);
    const bad = new Client(`${ces.ws}/connect/emperor`);
    await assert.rejects(bad.open(), (err) => err.status === 400);
    const bad2 = new Client(`${ces.ws}/connect/messenger/extra`);
    await assert.rejects(bad2.open(), (err) => err.status === 400);
    for (const path of ['/connect/emperor', '/connect/messenger']) {
      const response = await fetch(`${ces.http}${path}`);
      assert.equal(response.status, 400, `plain GET ${path}`);
      const body = (await response.text()).replace(/\n$/, '');
      assert.ok(body.length > 10 && !body.includes('\n'), `one-line reason, got ${JSON.stringify(body)}`);
    }
    const st = await status(ces);
    assert.ok(st.edge.counters.refused_bad_request >= 4, 'refusals counted');
    await settle();
  });

  it('carries Binary events both ways byte for byte, never back to the sender', async () => {
    const room = unique();
    const a = await open('messenger');
    const b = await open('messenger');
    await a.register([room]);
    await b.register([room]);
    // Extra leading newlines and a trailing newline go through unchanged
    const fromB = Buffer.from(`${room}\n\n\n${event(room, { data: { n: 'ünï' } })}\n`);
    b.ws.send(fromB);
    await expectEvent(a, fromB, 'a gets b\'s event');
    const fromA = Buffer.from(`${room}\n${event(room, { value: 'from-a' })}`);
    a.ws.send(fromA);
    // b's first message is a's event: it did not get its own back
    await expectEvent(b, fromA, 'b gets a\'s event, not its own');
    const marker = Buffer.from(`${room}\n${event(room, { value: 'marker' })}`);
    b.ws.send(marker);
    await expectEvent(a, marker, 'a gets the marker, not its own event');
    await closeAll(a, b);
  });

  it('reassembles fragmented messages (4 fragments with a Ping between, and >64 KB)', async () => {
    const room = unique();
    const sender = await open('messenger');
    const receiver = await open('messenger');
    await receiver.register([room]);
    const small = Buffer.from(`${room}\n${event(room, { value: 'fragmented' })}`);
    const cuts = [3, room.length + 4, 40, small.length];
    let from = 0;
    cuts.forEach((to, i) => {
      sender.ws.send(small.subarray(from, to), { binary: true, fin: i === cuts.length - 1 });
      if (i === 1) sender.ws.ping('mid-message');
      from = to;
    });
    await expectEvent(receiver, small, 'four fragments');

    const big = Buffer.from(`${room}\n${event(room, { data: { blob: 'x'.repeat(100 * 1024) } })}`);
    const size = Math.ceil(big.length / 5);
    for (let i = 0; i < 5; i++)
      sender.ws.send(big.subarray(i * size, (i + 1) * size), { binary: true, fin: i === 4 });
    await expectEvent(receiver, big, '100 KB in 5 fragments');

    const whole = Buffer.from(`${room}\n${event(room, { data: { blob: 'y'.repeat(70 * 1024) } })}`);
    sender.ws.send(whole);
    await expectEvent(receiver, whole, '70 KB in one frame');
    await closeAll(sender, receiver);
  });

  it('registration: create missing means unregister', async () => {
    const room = unique();
    const sender = await open('messenger');
    const client = await open('messenger');
    await client.register([room]);
    client.ws.send(JSON.stringify({ rooms: [room] }));
    const marker = await sync(client);
    sender.sendEvent(room, event(room, { value: 'not for client' }));
    const wanted = Buffer.from(`${marker}\n${event(marker)}`);
    sender.ws.send(wanted);
    await expectEvent(client, wanted, 'first thing received is the marker');
    await closeAll(sender, client);
  });

  it('registration: create:false with no rooms (or []) unregisters everything', async () => {
    for (const request of [{ create: false }, { rooms: [], create: false }]) {
      const [r1, r2] = [unique(), unique()];
      const sender = await open('messenger');
      const client = await open('messenger');
      await client.register([r1, r2, '*']);
      client.ws.send(JSON.stringify(request));
      const marker = await sync(client);
      sender.sendEvent(r1, event(r1));
      sender.sendEvent(r2, event(r2));
      const wanted = Buffer.from(`${marker}\n${event(marker)}`);
      sender.ws.send(wanted);
      await expectEvent(client, wanted, `after ${JSON.stringify(request)} only the marker arrives`);
      const st = await status(ces);
      assert.equal(mine(st, client).rooms, 1, 'only the marker room is left');
      assert.equal(st.edge.rooms[r1], undefined);
      await closeAll(sender, client);
    }
  });

  it('registration: "*" gets every room; R and "*" together get an R event once', async () => {
    const room = unique();
    const sender = await open('messenger');
    const star = await open('messenger');
    const both = await open('messenger');
    await star.register(['*']);
    await both.register([room, '*']);
    const elsewhere = unique('ANY');
    const e1 = Buffer.from(`${elsewhere}\n${event(elsewhere)}`);
    sender.ws.send(e1);
    await expectEvent(star, e1, '"*" gets an unregistered room');
    await expectEvent(both, e1, '"*" part of both');
    const e2 = Buffer.from(`${room}\n${event(room)}`);
    sender.ws.send(e2);
    await expectEvent(star, e2);
    await expectEvent(both, e2, 'R event');
    const marker = Buffer.from(`${elsewhere}\n${event(elsewhere, { value: 'marker' })}`);
    sender.ws.send(marker);
    await expectEvent(both, marker, 'the R event came once: next is the marker');
    await expectEvent(star, marker);
    await closeAll(sender, star, both);
  });

  it('registration: ITB-1101 does not get ITB-11010 (no prefix matching)', async () => {
    const base = unique('ITB');
    const short = `${base}-1101`;
    const long = `${base}-11010`;
    const sender = await open('messenger');
    const client = await open('messenger');
    await client.register([short]);
    sender.sendEvent(long, event(long));
    const wanted = Buffer.from(`${short}\n${event(short)}`);
    sender.ws.send(wanted);
    await expectEvent(client, wanted, 'first thing received is the exact room');
    await closeAll(sender, client);
  });

  it('registration is idempotent: registered twice, one copy', async () => {
    const room = unique();
    const marker = unique('M');
    const sender = await open('messenger');
    const client = await open('messenger');
    await client.register([room]);
    await client.register([room, marker]);
    await client.register([room]);
    const st = await status(ces);
    assert.equal(st.edge.rooms[room], 1, 'one subscriber counted');
    assert.equal(mine(st, client).rooms, 2);
    const e = Buffer.from(`${room}\n${event(room)}`);
    sender.ws.send(e);
    await expectEvent(client, e);
    const m = Buffer.from(`${marker}\n${event(marker)}`);
    sender.ws.send(m);
    await expectEvent(client, m, 'one copy only: next is the marker');
    await closeAll(sender, client);
  });

  it('registration: unregister then register again gets each event once (no duplicate after re-registration)', async () => {
    const room = unique();
    const sender = await open('messenger');
    const client = await open('messenger');
    const other = await open('messenger');
    await client.register([room]);
    await other.register([room]);
    client.ws.send(JSON.stringify({ rooms: [room], create: false }));
    await sync(client);
    let st = await status(ces);
    assert.equal(st.edge.rooms[room], 1, 'one subscriber left');
    // The other subscriber still gets the room
    const e1 = Buffer.from(`${room}\n${event(room, { value: 'one' })}`);
    sender.ws.send(e1);
    await expectEvent(other, e1, 'the other subscriber keeps the room');
    other.ws.send(JSON.stringify({ rooms: [room], create: false }));
    await sync(other);
    st = await status(ces);
    assert.equal(st.edge.rooms[room], undefined, 'nobody holds the room');
    await until(() => status(ces), (s) => s.hub.rooms[room] === undefined, 'the hub forgot the room');
    await client.register([room]);
    await client.register([room]);
    const e2 = Buffer.from(`${room}\n${event(room, { value: 'two' })}`);
    sender.ws.send(e2);
    await expectEvent(client, e2, 're-registered client');
    const marker = await sync(client);
    const m = Buffer.from(`${marker}\n${event(marker)}`);
    sender.ws.send(m);
    await expectEvent(client, m, 'one copy after re-registration: the marker is next');
    await closeAll(sender, client, other);
  });

  it('a fragmented Text registration is reassembled', async () => {
    const room = unique();
    const sender = await open('messenger');
    const client = await open('messenger');
    const text = Buffer.from(JSON.stringify({ rooms: [room], create: true }));
    client.ws.send(text.subarray(0, 5), { binary: false, fin: false });
    client.ws.send(text.subarray(5, 15), { binary: false, fin: false });
    client.ws.send(text.subarray(15), { binary: false, fin: true });
    const notice = await client.next();
    assert.deepEqual(JSON.parse(notice.text), { registered: [room] });
    const e = Buffer.from(`${room}\n${event(room)}`);
    sender.ws.send(e);
    await expectEvent(client, e);
    await closeAll(sender, client);
  });

  it('a closed connection loses its registrations', async () => {
    const room = unique();
    const a = await open('messenger');
    const b = await open('messenger');
    await a.register([room]);
    await b.register([room]);
    let st = await status(ces);
    assert.equal(st.edge.rooms[room], 2);
    assert.equal(st.hub.rooms[room], 1, 'the edge holds one subscription at the hub');
    await a.close();
    await until(() => status(ces), (s) => s.edge.rooms[room] === 1, 'room count 1 after one close');
    await b.close();
    st = await until(() => status(ces), (s) => s.edge.rooms[room] === undefined, 'room released by the edge');
    await until(() => status(ces), (s) => s.hub.rooms[room] === undefined, 'room released at the hub');
    // A new subscriber gets the room's events again, once
    const c = await open('messenger');
    const sender = await open('messenger');
    await c.register([room]);
    const e = Buffer.from(`${room}\n${event(room)}`);
    sender.ws.send(e);
    await expectEvent(c, e);
    await closeAll(c, sender);
  });

  it('bad input gets an {"error"} Text frame, is counted, and the connection keeps working', async () => {
    await settle();
    const room = unique();
    const messenger = await open('messenger');
    const subscriber = await open('messenger');
    const repeater = await open('repeater');
    const hub = await open('hub');
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1 && st.hub.connections.hub === 1, 'repeater and hub peer attached');
    const cases = [
      [messenger, 'invalid JSON registration', () => messenger.ws.send('{"rooms":'), /JSON object/],
      [messenger, 'registration not an object', () => messenger.ws.send('["R"]'), /JSON object/],
      [messenger, 'rooms not an array', () => messenger.ws.send('{"rooms":"R","create":true}'), /array/],
      [messenger, 'bad room ID (space)', () => messenger.ws.send('{"rooms":["bad room"],"create":true}'), /room ID/],
      [messenger, 'bad room ID (number)', () => messenger.ws.send('{"rooms":[7],"create":true}'), /room ID/],
      [messenger, 'room ID too long', () => messenger.ws.send(JSON.stringify({ rooms: ['r'.repeat(129)], create: true })), /room ID/],
      [messenger, 'create not a boolean', () => messenger.ws.send('{"rooms":["R"],"create":"yes"}'), /create/],
      [messenger, 'create:true with no rooms', () => messenger.ws.send('{"rooms":[],"create":true}'), /no rooms/],
      [repeater, 'Text frame on /connect/repeater', () => repeater.ws.send(JSON.stringify({ rooms: [room], create: true })), /text frames/i],
      [hub, 'Text frame on /connect/hub', () => hub.ws.send('hello'), /text frames/i],
      [messenger, 'binary frame with no newline', () => messenger.ws.send(Buffer.from('no newline at all')), /newline/],
      [messenger, 'non-JSON payload', () => messenger.ws.send(Buffer.from(`${room}\nnot json`)), /not valid JSON/],
      [messenger, 'JSON but not an object', () => messenger.ws.send(Buffer.from(`${room}\n[1,2]`)), /not an object/],
      [messenger, 'empty room ID', () => messenger.ws.send(Buffer.from('\n{}')), /room ID/],
      [messenger, 'room ID with a space', () => messenger.ws.send(Buffer.from('a b\n{}')), /space/],
      [messenger, 'no payload', () => messenger.ws.send(Buffer.from(`${room}\n\n`)), /no event/],
      [messenger, 'empty binary frame', () => messenger.ws.send(Buffer.alloc(0)), /empty/],
      [repeater, 'non-JSON payload from a repeater', () => repeater.ws.send(Buffer.from(`${room}\n{oops`)), /not valid JSON/],
      [hub, 'no newline from a hub peer', () => hub.ws.send(Buffer.from('x')), /newline/],
    ];
    for (const [client, name, send, pattern] of cases) {
      const before = await status(ces);
      send();
      await expectError(client, pattern);
      const after = await status(ces);
      assert.equal(after.edge.counters.drops.malformed, before.edge.counters.drops.malformed + 1, `${name}: counted`);
      assert.equal(mine(after, client).errors, mine(before, client).errors + 1, `${name}: counted for the client`);
      assert.equal(client.ws.readyState, client.ws.OPEN, `${name}: still open`);
    }
    // None of it reached anyone; each connection still works both ways
    const e1 = Buffer.from(`${room}\n${event(room, { value: 'messenger' })}`);
    messenger.ws.send(e1);
    await expectEvent(subscriber, e1, 'messenger still sends (subscriber gets no garbage first)');
    await expectEvent(repeater, e1, 'repeater still receives');
    await expectEvent(hub, e1, 'hub peer still receives');
    const e2 = Buffer.from(`${room}\n${event(room, { value: 'repeater' })}`);
    repeater.ws.send(e2);
    await expectEvent(subscriber, e2, 'repeater still sends');
    await expectEvent(hub, e2, 'hub peer gets the repeater event');
    const e3 = Buffer.from(`${room}\n${event(room, { value: 'hub' })}`);
    hub.ws.send(e3);
    await expectEvent(subscriber, e3, 'hub peer still sends');
    const back = unique();
    await messenger.register([back]);
    const e4 = Buffer.from(`${back}\n${event(back)}`);
    subscriber.ws.send(e4);
    await expectEvent(messenger, e4, 'messenger still registers and receives');
    const st = await status(ces);
    assert.equal(mine(st, messenger).errors, cases.filter(([c]) => c === messenger).length);
    await closeAll(messenger, subscriber, repeater, hub);
  });

  it('POST /event: 200 "Processing event" and routed by affected-room.roomID; 400 with reasons', async () => {
    const room = unique();
    const subscriber = await open('messenger');
    await subscriber.register([room]);
    const before = await status(ces);
    const body = event(room, { value: 'posted' });
    let response = await fetch(`${ces.http}/event`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'Processing event');
    await expectEvent(subscriber, Buffer.from(`${room}\n${body}`), 'subscriber gets the posted event');
    const bad = [
      ['{"affected-room":', /not valid JSON/],
      ['', /empty/],
      ['[1]', /not an object/],
      [JSON.stringify({ key: 'power', value: 'on' }), /affected-room\.roomID/],
      [JSON.stringify({ 'affected-room': { buildingID: 'T' } }), /affected-room\.roomID/],
      [JSON.stringify({ 'affected-room': { roomID: 7 } }), /affected-room\.roomID/],
      [JSON.stringify({ 'affected-room': { roomID: 'a b' } }), /not a valid room ID/],
    ];
    for (const [text, pattern] of bad) {
      response = await fetch(`${ces.http}/event`, { method: 'POST', body: text });
      assert.equal(response.status, 400, `POST ${JSON.stringify(text)}`);
      const reason = await response.text();
      assert.match(reason, pattern);
      assert.equal(reason.trim().includes('\n'), false, 'a one-line reason');
    }
    // (the HTTP reply may overtake the worker's note to the actor: poll)
    await until(() => status(ces), (st) => st.edge.counters.posted === before.edge.counters.posted + 1 &&
      st.edge.counters.drops.malformed === before.edge.counters.drops.malformed + bad.length, 'posted and malformed counted');
    response = await fetch(`${ces.http}/event`);
    assert.equal(response.status, 405, 'GET /event');
    await response.text();
    // Nothing of the bad posts was routed: the next event is a fresh one
    const markerBody = event(room, { value: 'marker' });
    const marker = await fetch(`${ces.http}/event`, { method: 'POST', body: markerBody });
    assert.equal(marker.status, 200);
    await marker.text();
    await expectEvent(subscriber, Buffer.from(`${room}\n${markerBody}`), 'next is the marker');
    await subscriber.close();
  });

  it('/health is 200 "ok"; /status has the documented shape with per-role counts; /metrics', async () => {
    const health = await until(async () => {
      const r = await fetch(`${ces.http}/health`);
      return { status: r.status, body: await r.text() };
    }, (h) => h.status === 200, '/health 200');
    assert.equal(health.body, 'ok');
    await settle();
    const clients = [await open('messenger'), await open('messenger/'), await open('repeater'), await open('hub')];
    const st = await until(() => status(ces), (s) => s.edge.clients.length === 4, '4 clients in /status');
    assert.deepEqual(st.edge.clients_by_role, { messenger: 2, repeater: 1, hub: 1 });
    for (const c of st.edge.clients) {
      for (const field of ['id', 'role', 'remote', 'rooms', 'queued_bytes', 'events_in', 'events_out', 'dropped', 'errors', 'closing'])
        assert.ok(field in c, `clients[] has ${field}`);
    }
    for (const client of clients) assert.ok(mine(st, client), 'every open client is listed by its address');
    const counters = st.edge.counters;
    for (const field of ['events_in', 'posted', 'delivered', 'closed_stuck', 'closed_silent', 'refused_full'])
      assert.equal(typeof counters[field], 'number', `counters.${field}`);
    for (const field of ['queue_full', 'hub_unreachable', 'malformed'])
      assert.equal(typeof counters.drops[field], 'number', `counters.drops.${field}`);
    assert.equal(typeof st.edge.rooms, 'object');
    assert.equal(st.edge.hub_connected, true);
    assert.equal(typeof st.hub, 'object', '`ces` includes the hub');
    assert.equal(st.hub.repeaters, 1);
    assert.equal(st.hub.connections.hub, 1);
    const response = await fetch(`${ces.http}/metrics`);
    assert.equal(response.status, 200);
    const metrics = await response.text();
    assert.match(metrics, /^ces_edge_clients\{role="messenger"\} 2$/m);
    assert.match(metrics, /^ces_edge_clients\{role="repeater"\} 1$/m);
    assert.match(metrics, /^ces_edge_clients\{role="hub"\} 1$/m);
    assert.match(metrics, /^ces_hub_\w+(\{[^}]*\})? \d+/m);
    await closeAll(...clients);
    await until(() => status(ces), (s) => s.edge.clients_by_role.messenger === 0 && s.edge.clients.length === 0, 'counts back to 0');
  });

  it('memory: the heap in /status and /metrics, no per-thread malloc caches, freed memory handed back after clients leave', async () => {
    // The edge started itself again without glibc's tcache: same PID
    const before = (await status(ces)).edge.memory;
    assert.equal(before.glibc_tunables, 'glibc.malloc.tcache_count=0');
    assert.match(fs.readFileSync(`/proc/${ces.child.pid}/environ`, 'utf8'), /GLIBC_TUNABLES=glibc\.malloc\.tcache_count=0/);
    for (const field of ['heap_in_use', 'heap_free', 'trims', 'last_trim_usecs'])
      assert.equal(typeof before[field], 'number', `memory.${field}`);
    // Sanitizers bring their own allocator; glibc's figures are glibc's
    if (!process.env.CES_SANITIZER) assert.ok(before.heap_in_use > 1 << 20, `heap in use ${before.heap_in_use}`);
    // Clients leave twice. The once-a-minute trim may be the first one
    // seen, but it cannot be the second, 5-8 s later: that one is due to
    // clients leaving
    let trims = before.trims;
    for (const round of ['first', 'second']) {
      const clients = [await open('messenger'), await open('messenger')];
      await closeAll(...clients);
      const after = await until(() => status(ces), (s) => s.edge.memory.trims > trims, `a trim after clients left (${round} time)`, 8000);
      assert.ok(after.edge.memory.last_trim_usecs < 1e6, `a trim took ${after.edge.memory.last_trim_usecs} us`);
      trims = after.edge.memory.trims;
    }
    const metrics = await (await fetch(`${ces.http}/metrics`)).text();
    assert.match(metrics, /^ces_edge_heap_bytes\{state="in_use"\} \d+$/m);
    assert.match(metrics, /^ces_edge_heap_bytes\{state="free"\} \d+$/m);
  });

  it('memory: a GLIBC_TUNABLES that sets tcache_count is the user\'s and is kept', async () => {
    const tunables = 'glibc.malloc.arena_max=2:glibc.malloc.tcache_count=3';
    const edge = await startEdge(ces.router, ces.pub, [], { GLIBC_TUNABLES: tunables });
    try {
      const st = await getJson(`${edge.http}/status`);
      assert.equal(st.edge.memory.glibc_tunables, tunables);
    } finally {
      assert.equal(await stop(edge.child), 0);
    }
  });
});
