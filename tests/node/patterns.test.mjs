// Room patterns (issue 13): a registration of "PREFIX*" is every room whose
// ID starts with PREFIX (a building: "ITB-*"). Each event reaches a client
// once however many of its registrations match; unregistering the pattern
// stops it; a pattern is not a room an event can be sent to; every malformed
// pattern gets its own error and the connection keeps what it had. Across a
// mesh a pattern is interest like a room; with tokens, registering a pattern
// needs a grant of all of its rooms.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open, unique, until, status, expectEvent, expectError, eventBuilders, postJson, jwt, Client,
} from './harness.mjs';
import { startHub, stopHubs, linkNew, untilMeshUp, untilWanted, peerOf } from './mesh_harness.mjs';

const { event, frame } = eventBuilders('patterns-test');

// Sends a registration for a fresh room and waits for its notice: the edge
// has then handled everything this client sent before (one client's
// messages keep their order)
async function sync(client) {
  const room = unique('SYNC');
  await client.register([room]);
  return room;
}

describe('patterns on one edge', { timeout: 60000 }, () => {
  let ces;
  const clients = [];
  const openClient = async () => { const c = await open(ces, 'messenger'); clients.push(c); return c; };

  before(async () => { ces = await startCes(); });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    if (ces) await stop(ces.child);
  });

  it('"B-*" gets the events of every room of B, not of another building', async () => {
    const building = unique('ITB');
    const other = unique('ITC');
    const [watcher, sender] = [await openClient(), await openClient()];
    const notice = await watcher.register([`${building}-*`]);
    assert.deepEqual(JSON.parse(notice.text), { registered: [`${building}-*`] });
    const e1 = frame(`${building}-1101`, { value: 'one' });
    const elsewhere = frame(`${other}-1`, { value: 'other building' });
    const e2 = frame(`${building}-2202`, { value: 'two' });
    // The building's own ID without the dash is not in "B-*"
    const near = frame(building, { value: 'not in the building' });
    for (const e of [e1, elsewhere, near, e2]) sender.ws.send(e);
    await expectEvent(watcher, e1, 'the first room of the building');
    await expectEvent(watcher, e2, 'the second room of the building, and nothing between');
    const st = await status(ces);
    assert.equal(st.edge.rooms[`${building}-*`], 1, 'the edge holds the pattern once');
    assert.equal(st.hub.rooms[`${building}-*`], 1, 'and so does the hub');
  });

  it('a client of a room, two patterns that match it and "*" gets each event once', async () => {
    const building = unique('ITB');
    const [watcher, sender] = [await openClient(), await openClient()];
    await watcher.register([`${building}-1101`, `${building}-*`, `${building}*`, '*']);
    const events = [
      frame(`${building}-1101`, { value: 'room, both patterns and *' }),
      frame(`${building}-2202`, { value: 'both patterns and *' }),
      frame(`${building}X`, { value: 'the shorter pattern and *' }),
      frame(unique('ELSE'), { value: 'only *' }),
    ];
    for (const e of events) sender.ws.send(e);
    // A second copy would come right behind its first: each is followed by the next
    for (const [n, e] of events.entries()) await expectEvent(watcher, e, `event ${n} once`);
    const marker = frame(`${building}-1101`, { value: 'marker' });
    sender.ws.send(marker);
    await expectEvent(watcher, marker, 'nothing else came before the marker');
  });

  it('unregistering the pattern stops its events; the client keeps its other rooms', async () => {
    const building = unique('ITB');
    const [watcher, sender] = [await openClient(), await openClient()];
    await watcher.register([`${building}-*`, `${building}-keep`]);
    const before = frame(`${building}-1`, { value: 'before' });
    sender.ws.send(before);
    await expectEvent(watcher, before, 'the pattern works');
    watcher.ws.send(JSON.stringify({ rooms: [`${building}-*`], create: false }));
    await sync(watcher);
    const gone = frame(`${building}-1`, { value: 'after the pattern went' });
    const kept = frame(`${building}-keep`, { value: 'kept' });
    sender.ws.send(gone);
    sender.ws.send(kept);
    await expectEvent(watcher, kept, 'the next event is of the room it kept');
    await until(() => status(ces), (st) => st.edge.rooms[`${building}-*`] === undefined, 'the edge released the pattern');
    await until(() => status(ces), (st) => st.hub.rooms[`${building}-*`] === undefined, 'the hub released the pattern');
  });

  it('an event to a pattern is refused with its own error (WebSocket and POST /event); "*" in a room ID elsewhere is a room',
    async () => {
      const building = unique('ITB');
      const [client, watcher] = [await openClient(), await openClient()];
      await watcher.register([`${building}-*`, `${building}*B`]);
      client.ws.send(frame(`${building}-*`, { value: 'to a pattern' }));
      const error = await expectError(client, /pattern of rooms/);
      assert.match(error, /an event goes to one room/);
      const posted = await postJson(`${ces.http}/event`, event(`${building}-*`));
      assert.equal(posted.status, 400);
      assert.match(posted.text, /pattern of rooms/);
      // "B*B" is a room, not a pattern: events go to it, and "B-*" does not match it
      const starred = frame(`${building}*B`, { value: 'a room with a star' });
      const inBuilding = frame(`${building}-1`, { value: 'in the building' });
      client.ws.send(starred);
      client.ws.send(inBuilding);
      await expectEvent(watcher, starred, 'the room with a star in its ID');
      await expectEvent(watcher, inBuilding, 'then the building\'s room');
    });

  it('every malformed pattern gets its own error, nothing of its registration is applied, and the connection keeps working',
    async () => {
      const building = unique('ITB');
      const [client, sender] = [await openClient(), await openClient()];
      await client.register([`${building}-*`]);
      const good = unique('GOOD');
      const long = `${'x'.repeat(128)}*`;
      const cases = [
        ['**', /one "\*", at its end/],
        [`${building}**`, /one "\*", at its end/],
        [`${building}*1*`, /one "\*", at its end/],
        [`*${building}*`, /one "\*", at its end/],
        [`${building} -*`, /prefix \(before its "\*"\) has a space/],
        [`${building}\t*`, /prefix \(before its "\*"\) has a space/],
        [long, /longer than 128 bytes/],
      ];
      const errors = new Map();
      for (const [pattern, expected] of cases) {
        client.ws.send(JSON.stringify({ rooms: [good, pattern], create: true }));
        const error = await expectError(client, expected);
        assert.match(error, /room pattern/, `${JSON.stringify(pattern)}: a pattern's error, not a room's`);
        errors.set(String(expected), error);
      }
      assert.equal(new Set(errors.values()).size, 3, 'three faults, three errors');
      client.ws.send(JSON.stringify({ rooms: ['bad room'], create: true }));
      const roomError = await expectError(client, /room ID/);
      assert.ok(![...errors.values()].includes(roomError), 'a bad room has the error it always had');
      await sync(client);
      const st = await status(ces);
      assert.equal(st.edge.rooms[good], undefined, 'the good room of a refused registration was not registered');
      // What it held before still works, and a good registration after
      const e = frame(`${building}-7`, { value: 'still registered' });
      sender.ws.send(e);
      await expectEvent(client, e, 'the pattern registered before the errors');
      const next = unique('ITD');
      await client.register([`${next}-*`]);
      const e2 = frame(`${next}-1`, { value: 'registered after the errors' });
      sender.ws.send(e2);
      await expectEvent(client, e2, 'a pattern registered after the errors');
    });
});

describe('patterns across the mesh', { timeout: 60000 }, () => {
  let h1, h2;
  const clients = [];
  before(async () => {
    [h1, h2] = await Promise.all([startHub(), startHub()]);
    await linkNew(h1, h2);
    await untilMeshUp([h1, h2]);
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await stopHubs([h1, h2].filter(Boolean));
  });

  it('a pattern at hub 1\'s edge gets the events of its rooms sent at hub 2\'s edge, and only those', async () => {
    const building = unique('ITB');
    const watcher = await open(h1, 'messenger');
    const sender = await open(h2, 'messenger');
    clients.push(watcher, sender);
    await watcher.register([`${building}-*`]);
    await untilWanted([h2], h1, `${building}-*`);
    const e1 = frame(`${building}-1101`, { value: 'across' });
    const elsewhere = frame(unique('ITC'), { value: 'not wanted' });
    const e2 = frame(`${building}-2202`, { value: 'across again' });
    for (const e of [e1, elsewhere, e2]) sender.ws.send(e);
    await expectEvent(watcher, e1, 'the first room of the building, from hub 2');
    await expectEvent(watcher, e2, 'the second, and nothing between');
    // Unregistered, hub 2 no longer sends the building's events
    watcher.ws.send(JSON.stringify({ rooms: [`${building}-*`], create: false }));
    await until(() => peerOf(h2, h1), (peer) => peer && !peer.wants.includes(`${building}-*`),
      'hub 2 forgets the pattern');
  });
});

describe('patterns with token grants', { timeout: 60000 }, () => {
  const SECRET = 'patterns-test-secret';
  const sign = (claims) => jwt(claims, { key: SECRET });
  let ces;
  const clients = [];
  const connect = async (claims) => {
    const client = new Client(`${ces.ws}/connect/messenger?token=${await sign(claims)}`);
    clients.push(client);
    return client.open();
  };
  before(async () => { ces = await startCes(['--auth-secret', SECRET]); });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    if (ces) await stop(ces.child);
  });

  it('"B-*" needs a grant of "B-*", a shorter prefix or "*"; one room or a narrower pattern is refused', async () => {
    const building = unique('ITB');
    const pattern = `${building}-*`;
    const sender = await connect({ rooms: ['*'] });
    const allowed = [{ register: [pattern] }, { register: [`${building.slice(0, 3)}*`] }, { register: ['*'] }];
    const watchers = [];
    for (const claims of allowed) {
      const client = await connect(claims);
      await client.register([pattern]);
      watchers.push(client);
    }
    for (const claims of [{ register: [`${building}-1101`] }, { register: [`${building}-1*`] }, { rooms: [unique('ITC')] }]) {
      const client = await connect(claims);
      client.ws.send(JSON.stringify({ rooms: [pattern], create: true }));
      assert.equal(await expectError(client, /./), `your token does not allow you to register room ${pattern}`,
        `${JSON.stringify(claims)} does not cover ${pattern}`);
      // The room it was granted still registers
      if (claims.register?.[0]?.endsWith('1101')) await client.register([`${building}-1101`]);
    }
    const e = frame(`${building}-1101`, { value: 'granted' });
    sender.ws.send(e);
    for (const [n, watcher] of watchers.entries()) await expectEvent(watcher, e, `allowed watcher ${n}`);
  });

  // The hub adds "presence" to its answer of the room view (ces_routing_query)
  it('presence: GET /rooms/ROOM lists who holds the room, by the room, a pattern or "*": id, role, edge, remote, subject, since, via',
    async () => {
      const building = unique('ITB');
      const room = `${building}-1101`;
      const startedAt = Date.now();
      const sender = await connect({ rooms: ['*'] });
      const byPattern = await connect({ rooms: ['*'], sub: 'panel-ITB' });
      const byRoom = await connect({ rooms: [room] });
      const byStar = await connect({ register: ['*'], sub: 'dashboard' });
      const elsewhere = await connect({ rooms: ['*'], sub: 'elsewhere' });
      await byPattern.register([`${building}-*`, `${building}*`]);
      await byRoom.register([room]);
      await byStar.register(['*']);
      await elsewhere.register([unique('ITC')]);
      // The hub answers for rooms it has events of
      const e = frame(room, { value: 'for the store' });
      sender.ws.send(e);
      await expectEvent(byRoom, e, 'the room has an event');
      const reader = await sign({ rooms: ['*'] });
      const presence = async () => {
        const response = await fetch(`${ces.http}/rooms/${encodeURIComponent(room)}`,
          { headers: { Authorization: `Bearer ${reader}` } });
        const text = await response.text();
        assert.equal(response.status, 200, text);
        return JSON.parse(text).presence;
      };
      const list = await presence();
      const find = (client) => list.find((p) => p.remote === `127.0.0.1:${client.port}`);
      assert.equal(list.length, 3, `three hold ${room}: ${JSON.stringify(list)}`);
      const [pattern, exact, star] = [find(byPattern), find(byRoom), find(byStar)];
      assert.ok(pattern && exact && star, JSON.stringify(list));
      assert.equal(pattern.via, `${building}-*`, 'the longest pattern that matches');
      assert.equal(pattern.subject, 'panel-ITB');
      assert.equal(exact.via, room);
      assert.equal(exact.subject, undefined, 'no sub in its token: no subject');
      assert.equal(star.via, '*');
      assert.equal(star.subject, 'dashboard');
      for (const entry of list) {
        assert.equal(entry.role, 'messenger');
        assert.match(entry.id, /^[^/]+\/\d+$/, 'link/conn');
        assert.equal(typeof entry.edge, 'string');
        assert.ok(entry.since >= startedAt - 1000 && entry.since <= Date.now() + 1000, `since ${entry.since}`);
      }
      assert.ok(!list.some((p) => p.subject === 'elsewhere'), 'a client of another room is not listed');
      // Unregistering one pattern leaves the other; closing takes the client away
      byPattern.ws.send(JSON.stringify({ rooms: [`${building}-*`], create: false }));
      await sync(byPattern);
      await until(presence, (l) => l.find((p) => p.subject === 'panel-ITB')?.via === `${building}*`,
        'the panel now holds the room by the shorter pattern');
      await byRoom.close();
      await until(presence, (l) => l.length === 2 && !l.some((p) => p.via === room), 'the room\'s own client gone');
    });
});
