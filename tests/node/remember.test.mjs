// Rooms remember (issue 13), on one `ces` process: the state a ces.v2
// client gets when it registers with "state": true (the latest event per
// (device, key), in sequence order, then the summary and the positions),
// the HTTP views of rooms (/rooms, /rooms/ROOM, /state, /history paging and
// its errors, 404, 403 with tokens), gap notices for a v2 client whose queue
// was full, malformed v2 registration fields (each its own error, nothing
// else lost), a v1 client unchanged by them, and the hub's store counters.
// Recovery (since), epochs and --data-dir are in remember_recovery.test.mjs.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open as openClient, openV2, registerV2, nextV2, status, mine, unique, until, getJson,
  getStatusJson, expectError, jwt, Client, postJson,
} from './harness.mjs';

// Every client a test opened; those it left open are ended after it
const opened = new Set();
const track = (client) => { opened.add(client); return client; };
afterEach(() => {
  for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
  opened.clear();
});

// An event of `room` from `device` about `key`
const eventOf = (room, device, key, value, extra = {}) => JSON.stringify({
  'generating-system': 'remember-test', timestamp: new Date().toISOString(), 'event-tags': ['core-state'],
  'target-device': { buildingID: 'T', roomID: room, deviceID: device },
  'affected-room': { buildingID: 'T', roomID: room }, key, value, ...extra,
});

// A small deterministic pseudo-random sequence (the same every run)
function lcg(seed) {
  let x = seed >>> 0;
  return (n) => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return (x >>> 16) % n; };
}

// The room's summary once the hub has numbered `seq` events in it
const roomAt = (server, room, seq, timeout = 10000) => until(() => getStatusJson(`${server.http}/rooms/${encodeURIComponent(room)}`),
  (r) => r.status === 200 && r.body.seq >= seq, `/rooms/${room} at seq ${seq}`, timeout).then((r) => r.body);

// Sends `events` (payload strings) to `room` from a v1 messenger in order,
// and waits until the hub has numbered them all: the room's stream was at
// `from` before (nobody else sends to it), so payload i has seq from+1+i
async function publish(server, sender, room, events, from = 0) {
  for (const payload of events) sender.ws.send(Buffer.from(`${room}\n${payload}`));
  const summary = await roomAt(server, room, from + events.length);
  assert.equal(summary.seq, from + events.length, `the room numbered exactly the ${events.length} events sent`);
  return summary;
}

// Reads a v2 client's messages until `done(collected)`; returns them
async function collectUntil(client, done, what, timeout = 10000) {
  const collected = [];
  while (!done(collected)) {
    collected.push(await nextV2(client, timeout).catch((error) => assert.fail(
      `${what}: ${error.message}; got ${collected.length}: ${JSON.stringify(collected.slice(-5)).slice(0, 1500)}`)));
  }
  return collected;
}

describe('rooms remember: state, HTTP views, gaps, malformed v2 fields, counters', () => {
  let ces;
  before(async () => { ces = await startCes(); });
  after(async () => { if (ces) await stop(ces.child); });

  it('state on join: 1000 events from 50 devices; a v2 client gets the latest per (device, key) in seq order, the summary, the positions; HTTP agrees', async () => {
    const room = unique('STATE');
    const sender = track(await openClient(ces, 'messenger'));
    const pick = lcg(13);
    const sent = [];
    for (let i = 0; i < 1000; i++) {
      const device = `${room}-D${pick(50)}`;
      const key = `k${pick(4)}`;
      sent.push({ device, key, payload: eventOf(room, device, key, `v${i}`) });
    }
    const summary = await publish(ces, sender, room, sent.map((e) => e.payload));

    // The expected state: the last event sent per (device, key), by seq
    const latest = new Map();
    sent.forEach((e, i) => latest.set(`${e.device}\n${e.key}`, { ...e, seq: i + 1 }));
    const expected = [...latest.values()].sort((a, b) => a.seq - b.seq);
    const devices = new Set(sent.map((e) => e.device));
    assert.equal(devices.size, 50);

    const client = track(await openV2(ces));
    const { replies, events, registered } = await registerV2(client, { rooms: [room], create: true, state: true });
    assert.equal(replies.length, expected.length + 1, 'the state\'s events and its summary, nothing else');
    assert.deepEqual(events.map((e) => e.seq), expected.map((e) => e.seq), 'exactly the latest per (device, key), in ascending seq');
    events.forEach((e, i) => {
      assert.equal(e.room, room);
      assert.equal(e.payload, expected[i].payload, `the state event of seq ${e.seq} byte for byte`);
    });
    const last = replies.at(-1).notice;
    assert.deepEqual(last, { state: { [room]: { epoch: summary.epoch, seq: 1000, count: expected.length } } }, 'the state summary');
    assert.match(summary.epoch, /^[0-9a-f]{16}$/, 'an epoch of 16 hex digits');
    assert.deepEqual(registered, { registered: [room], positions: { [room]: { epoch: summary.epoch, seq: 1000 } } });

    // The HTTP views agree
    assert.equal(summary.room, room);
    assert.equal(summary.state_keys, expected.length);
    assert.equal(summary.devices, 50);
    assert.deepEqual(summary.history, { first: 1, last: 1000, count: 1000 });
    const state = await getJson(`${ces.http}/rooms/${room}/state`);
    assert.equal(state.room, room);
    assert.equal(state.epoch, summary.epoch);
    assert.equal(state.seq, 1000);
    assert.deepEqual(state.state.map((s) => s.seq), expected.map((e) => e.seq), 'HTTP state: the same seqs in order');
    state.state.forEach((s, i) => {
      assert.deepEqual(s.event, JSON.parse(expected[i].payload), `HTTP state event of seq ${s.seq}`);
      assert.equal(s.device, expected[i].device);
      assert.equal(s.key, expected[i].key);
      assert.equal(typeof s.time, 'number');
    });
    assert.deepEqual(state.devices.map((d) => d.device).sort(), [...devices].sort(), 'HTTP state: every device once');
    for (const d of state.devices) {
      assert.equal(typeof d.heard, 'number');
      assert.ok(d.silent_ms >= 0 && d.silent_ms < 60000, `silent_ms ${d.silent_ms}`);
    }
    const rooms = await getJson(`${ces.http}/rooms`);
    const listed = rooms.rooms.find((r) => r.room === room);
    assert.deepEqual(listed, { room, epoch: summary.epoch, seq: 1000, state_keys: expected.length, devices: 50,
      history: { first: 1, last: 1000, count: 1000 } }, '/rooms lists the room');
    assert.equal((await getJson(`${ces.http}/rooms/${room}`)).subscribers, 1, 'one subscriber: the v2 client');

    // Live events follow the positions with no gap
    const live = eventOf(room, `${room}-D0`, 'k0', 'live');
    sender.ws.send(Buffer.from(`${room}\n${live}`));
    const next = await nextV2(client);
    assert.deepEqual(next, { event: { room, seq: 1001, payload: live } }, 'the next live event is seq 1001');
  });

  it('every v2 registration ends with positions; a v1 client sending state/since sees what it saw before', async () => {
    const room = unique('V1');
    const sender = track(await openClient(ces, 'messenger'));
    await publish(ces, sender, room, [eventOf(room, 'd', 'k', 'one'), eventOf(room, 'd', 'k', 'two')]);
    const { epoch } = await getJson(`${ces.http}/rooms/${room}`);

    // v2 without state or since: only the registered notice, with positions
    const v2 = track(await openV2(ces));
    const plain = await registerV2(v2, { rooms: [room], create: true });
    assert.deepEqual(plain.replies, [], 'nothing before the registered notice');
    assert.deepEqual(plain.registered, { registered: [room], positions: { [room]: { epoch, seq: 2 } } });

    // v1 (no subprotocol) with state and since: ignored
    const v1 = track(await openClient(ces, 'messenger'));
    assert.equal(v1.ws.protocol, '', 'no subprotocol chosen for a v1 client');
    v1.ws.send(JSON.stringify({ rooms: [room], create: true, state: true, since: { [room]: { epoch, seq: 0 } } }));
    const reply = await v1.next();
    assert.equal(reply.binary, false);
    assert.deepEqual(JSON.parse(reply.text), { registered: [room] }, 'a v1 client gets {"registered":[...]} only');
    const live = eventOf(room, 'd', 'k', 'three');
    sender.ws.send(Buffer.from(`${room}\n${live}`));
    const got = await v1.next();
    assert.equal(got.binary, true, `a Binary event, got ${got.text}`);
    assert.equal(got.text, `${room}\n${live}`, 'v1 framing ROOMID\\nJSON, no sequence number');
    assert.deepEqual(await nextV2(v2), { event: { room, seq: 3, payload: live } }, 'the v2 client gets it with its seq');
    await assert.rejects(v1.next(300), /no message/, 'nothing else for the v1 client (no replayed state)');
  });

  it('malformed v2 fields: each its own {"error"}, nothing registered by it, a good registration after it works', async () => {
    const room = unique('BAD');
    const other = unique('BAD');
    const sender = track(await openClient(ces, 'messenger'));
    await publish(ces, sender, room, [eventOf(room, 'd', 'k', 'x')]);
    const { epoch } = await getJson(`${ces.http}/rooms/${room}`);
    const client = track(await openV2(ces));
    const good = { epoch, seq: 0 };
    const bad = [
      ['state a number', { rooms: [room], create: true, state: 1 }, /"state" must/],
      ['state a string', { rooms: [room], create: true, state: 'true' }, /"state" must/],
      ['since an array', { rooms: [room], create: true, since: [] }, /"since" must/],
      ['since a string', { rooms: [room], create: true, since: 'x' }, /"since" must/],
      ['since without create', { rooms: [room], since: { [room]: good } }, /create/],
      ['since with create false', { rooms: [room], create: false, since: { [room]: good } }, /create/],
      ['state without create', { rooms: [room], state: true }, /create/],
      ['since naming a room not in rooms', { rooms: [room], create: true, since: { [other]: good } }, /names a room/],
      ['since for *', { rooms: ['*'], create: true, since: { '*': good } }, /not to "\*"/],
      ['seq negative', { rooms: [room], create: true, since: { [room]: { epoch, seq: -1 } } }, /position/],
      ['seq fractional', { rooms: [room], create: true, since: { [room]: { epoch, seq: 1.5 } } }, /position/],
      ['seq a string', { rooms: [room], create: true, since: { [room]: { epoch, seq: '1' } } }, /position/],
      ['seq missing', { rooms: [room], create: true, since: { [room]: { epoch } } }, /position/],
      ['epoch missing', { rooms: [room], create: true, since: { [room]: { seq: 1 } } }, /position/],
      ['epoch a number', { rooms: [room], create: true, since: { [room]: { epoch: 7, seq: 1 } } }, /position/],
      ['epoch empty', { rooms: [room], create: true, since: { [room]: { epoch: '', seq: 1 } } }, /position/],
      ['epoch 65 chars', { rooms: [room], create: true, since: { [room]: { epoch: 'e'.repeat(65), seq: 1 } } }, /position/],
      ['an extra key', { rooms: [room], create: true, since: { [room]: { epoch, seq: 1, x: 1 } } }, /position/],
      ['position a number', { rooms: [room], create: true, since: { [room]: 7 } }, /position/],
      ['position null', { rooms: [room], create: true, since: { [room]: null } }, /position/],
    ];
    for (const [what, request, pattern] of bad) {
      client.ws.send(JSON.stringify(request));
      await expectError(client, pattern).catch((error) => assert.fail(`${what}: ${error.message}`));
      // The next reply is the good registration's: the bad one left nothing
      const sync = unique('sync');
      const ok = await registerV2(client, { rooms: [sync], create: true, state: true });
      const epochOf = ok.registered.positions?.[sync]?.epoch;
      assert.deepEqual(ok.replies, [{ notice: { state: { [sync]: { epoch: epochOf, seq: 0, count: 0 } } } }],
        `${what}: the next replies are the good registration's (an empty state)`);
      assert.deepEqual(ok.registered, { registered: [sync], positions: { [sync]: { epoch: epochOf, seq: 0 } } }, what);
    }
    // The bad registrations registered nothing: an event of room is not delivered
    const marker = unique('marker');
    await registerV2(client, { rooms: [marker], create: true });
    sender.ws.send(Buffer.from(`${room}\n${eventOf(room, 'd', 'k', 'not for the client')}`));
    const last = eventOf(marker, 'd', 'k', 'marker');
    sender.ws.send(Buffer.from(`${marker}\n${last}`));
    const next = await nextV2(client);
    assert.deepEqual(next, { event: { room: marker, seq: 1, payload: last } }, 'the first event is the marker\'s');
    // A good since and an epoch of 64 chars (the longest) are accepted
    const edge = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch: 'e'.repeat(64), seq: 0 } } });
    assert.equal(edge.replies.length, 1);
    assert.equal(edge.replies[0].notice?.recovered?.[room], false, `another epoch: refused, got ${JSON.stringify(edge.replies)}`);
    const st = await status(ces);
    assert.equal(mine(st, client)?.rooms, 2 + bad.length, 'the client holds the good rooms only');
  });

  it('HTTP views: 404 unknown room, 400 bad since/limit, history paging', async () => {
    const room = unique('HIST');
    const sender = track(await openClient(ces, 'messenger'));
    const payloads = Array.from({ length: 30 }, (_, i) => eventOf(room, `d${i % 3}`, 'k', `h${i}`));
    await publish(ces, sender, room, payloads);
    const history = (query) => getStatusJson(`${ces.http}/rooms/${room}/history${query}`);

    for (const path of [`/rooms/${unique('NONE')}`, `/rooms/${unique('NONE')}/state`, `/rooms/${unique('NONE')}/history`]) {
      const r = await getStatusJson(`${ces.http}${path}`);
      assert.equal(r.status, 404, `${path}: ${JSON.stringify(r.body)}`);
    }
    for (const query of ['?since=x', '?since=-1', '?since=1.5', '?since=', '?limit=0', '?limit=10001', '?limit=x',
      '?limit=-5', '?since=1&limit=1e3', '?since=99999999999999999999999']) {
      const r = await history(query);
      assert.equal(r.status, 400, `history${query}: ${JSON.stringify(r.body)}`);
    }
    const seqsOf = (r) => r.body.events.map((e) => e.seq);
    const all = await history('');
    assert.equal(all.status, 200);
    assert.deepEqual(seqsOf(all), Array.from({ length: 30 }, (_, i) => i + 1), 'no since: from the first');
    all.body.events.forEach((e, i) => assert.deepEqual(e.event, JSON.parse(payloads[i]), `history event ${e.seq}`));
    assert.deepEqual(seqsOf(await history('?since=0&limit=10')), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(seqsOf(await history('?since=10&limit=10')), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    assert.deepEqual(seqsOf(await history('?since=25')), [26, 27, 28, 29, 30]);
    assert.deepEqual(seqsOf(await history('?since=29&limit=10000')), [30]);
    assert.deepEqual(seqsOf(await history('?since=30')), [], 'nothing after the last');
    assert.deepEqual(seqsOf(await history('?since=1000')), [], 'since ahead: nothing');
    assert.deepEqual(seqsOf(await history('?limit=1')), [1]);
    // Paging from 0 by 7 gets every event once
    const paged = [];
    for (let since = 0; ;) {
      const page = seqsOf(await history(`?since=${since}&limit=7`));
      if (!page.length) break;
      assert.ok(page.length <= 7);
      paged.push(...page);
      since = page.at(-1);
    }
    assert.deepEqual(paged, Array.from({ length: 30 }, (_, i) => i + 1), 'paging by 7');
    // The default limit is 100
    const many = unique('MANY');
    await publish(ces, sender, many, Array.from({ length: 150 }, (_, i) => eventOf(many, 'd', 'k', `m${i}`)));
    const first = await getStatusJson(`${ces.http}/rooms/${many}/history`);
    assert.deepEqual(seqsOf(first), Array.from({ length: 100 }, (_, i) => i + 1), 'default limit 100');
  });

  it('a v2 client never gets its own events, its position moves past them with no gap notice', async () => {
    const room = unique('OWN');
    const other = track(await openClient(ces, 'messenger'));
    const client = track(await openV2(ces));
    await registerV2(client, { rooms: [room], create: true });
    const payloads = ['other-1', 'own-2', 'own-3', 'other-4', 'own-5', 'other-6'].map((v) => eventOf(room, 'd', 'k', v));
    // One at a time, each numbered before the next is sent, so that the
    // seqs follow this order across the two senders
    for (const [i, payload] of payloads.entries()) {
      (payload.includes('own-') ? client : other).ws.send(Buffer.from(`${room}\n${payload}`));
      await roomAt(ces, room, i + 1);
    }
    const got = await collectUntil(client, (c) => c.some((r) => r.event?.seq === 6), 'the other sender\'s events');
    assert.deepEqual(got, [1, 4, 6].map((seq) => ({ event: { room, seq, payload: payloads[seq - 1] } })),
      'only the other sender\'s events, with no gap notice for its own');
    await assert.rejects(client.next(200), /no message/, 'nothing else');
    // Its position is past its own events: recovering from 6 misses nothing
    const again = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch: (await getJson(`${ces.http}/rooms/${room}`)).epoch, seq: 3 } } });
    assert.deepEqual(again.events.map((e) => e.seq), [4, 5, 6], 'a replay gives every event after the position, its own too');
    assert.deepEqual(again.registered.positions[room].seq, 6);
  });

  it('events from POST /event and from the repeater are numbered and kept like a messenger\'s', async () => {
    const room = unique('POSTED');
    const client = track(await openV2(ces));
    await registerV2(client, { rooms: [room], create: true });
    const posted = eventOf(room, 'd1', 'k', 'posted');
    const outside = eventOf(room, 'd2', 'k', 'outside');
    assert.equal((await postJson(`${ces.http}/event`, posted)).status, 200);
    assert.deepEqual(await nextV2(client), { event: { room, seq: 1, payload: posted } });
    assert.equal((await postJson(`${ces.repeater.http}/send`, outside)).status, 200);
    assert.deepEqual(await nextV2(client), { event: { room, seq: 2, payload: outside } });
    const history = await getJson(`${ces.http}/rooms/${room}/history`);
    assert.deepEqual(history.events.map((e) => e.event.value), ['posted', 'outside']);
    assert.equal((await getJson(`${ces.http}/rooms/${room}/state`)).state.length, 2);
  });

  it('re-registering a room with since on an open connection: every event after the client\'s position, then live with no duplicate', async () => {
    // The position the client gives rules: what it was written meanwhile
    // (in flight, not read yet) comes again in the replay; a client drops
    // what it has by seq. After the registered notice, nothing comes twice.
    const room = unique('AGAIN');
    const sender = track(await openClient(ces, 'messenger'));
    const client = track(await openV2(ces));
    const { registered } = await registerV2(client, { rooms: [room], create: true });
    const { epoch } = registered.positions[room];
    const payloads = Array.from({ length: 10 }, (_, i) => eventOf(room, 'd', 'k', `a${i}`));
    await publish(ces, sender, room, payloads);
    // The edge has written the 10 to the client; it has not read them yet
    await until(() => status(ces), (st) => mine(st, client)?.events_out >= 10, 'the 10 events written to the client');
    const again = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 0 } } });
    const seqs = again.events.map((e) => e.seq);
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.deepEqual(again.registered.positions[room], { epoch, seq: 10 });
    assert.deepEqual(again.replies.filter((r) => r.notice), [{ notice: { recovered: { [room]: true } } }]);
    assert.deepEqual(seqs, [...ten, ...ten], `the 10 in flight, then the replay of all after 0: got ${seqs.join(',')}`);
    again.events.forEach((e) => assert.equal(e.payload, payloads[e.seq - 1]));
    // Live after the replay: the next one only
    const next = eventOf(room, 'd', 'k', 'a10');
    sender.ws.send(Buffer.from(`${room}\n${next}`));
    assert.deepEqual(await nextV2(client), { event: { room, seq: 11, payload: next } });
    await assert.rejects(client.next(200), /no message/, 'nothing twice');
  });

  it('a registration of several rooms: each room\'s replies in order, one registered notice with a position per room (none for patterns)', async () => {
    const [a, b, fresh] = [unique('MA'), unique('MB'), unique('MC')];
    const sender = track(await openClient(ces, 'messenger'));
    const sentA = Array.from({ length: 6 }, (_, i) => eventOf(a, `d${i % 2}`, 'k', `a${i}`));
    const sentB = Array.from({ length: 4 }, (_, i) => eventOf(b, `d${i % 3}`, 'k', `b${i}`));
    const { epoch: epochA } = await publish(ces, sender, a, sentA);
    const { epoch: epochB } = await publish(ces, sender, b, sentB);
    const client = track(await openV2(ces));
    const reply = await registerV2(client, {
      rooms: [a, b, fresh, `${a}-*`], create: true, state: true,
      since: { [a]: { epoch: epochA, seq: 4 }, [b]: { epoch: 'ffffffffffffffff', seq: 2 } },
    });
    const shape = reply.replies.map((r) => (r.event ? `${r.event.room === a ? 'A' : r.event.room === b ? 'B' : '?'}${r.event.seq}`
      : Object.keys(r.notice).join('+')));
    // A recovers (5, 6); B is refused (another epoch) and gets its state
    // (the latest of d0, d1, d2: 2, 3, 4 ... d0 was sent at 1 and 4); the
    // new room gets an empty state
    assert.deepEqual(shape, ['A5', 'A6', 'recovered', 'recovered+reason', 'B2', 'B3', 'B4', 'state', 'state'], JSON.stringify(reply.replies));
    assert.deepEqual(reply.replies[2].notice, { recovered: { [a]: true } });
    assert.equal(reply.replies[3].notice.recovered[b], false);
    assert.deepEqual(reply.replies[7].notice, { state: { [b]: { epoch: epochB, seq: 4, count: 3 } } });
    assert.equal(reply.replies[8].notice.state[fresh].count, 0);
    assert.deepEqual(Object.keys(reply.registered.positions).sort(), [a, b, fresh].sort(), 'a position per room, none for the pattern');
    assert.deepEqual(reply.registered.positions[a], { epoch: epochA, seq: 6 });
    assert.deepEqual(reply.registered.positions[b], { epoch: epochB, seq: 4 });
    assert.deepEqual(reply.registered.registered, [a, b, fresh, `${a}-*`]);
  });

  it('the subprotocol ces.v2 is chosen among others on /connect/messenger; v1 clients offering others are unchanged', async () => {
    const both = track(await new Client(`${ces.ws}/connect/messenger`, {}, ['chat', 'ces.v2']).open());
    assert.equal(both.ws.protocol, 'ces.v2', 'ces.v2 chosen from a list');
    const room = unique('SUB');
    assert.ok((await registerV2(both, { rooms: [room], create: true })).registered.positions[room], 'served v2');
    const near = track(await new Client(`${ces.ws}/connect/messenger`, {}, ['ces.v22']).open().catch((e) => e));
    // The original echoed any offer: the edge may echo it, but never serves v2 for it
    if (near instanceof Client) {
      assert.notEqual(near.ws.protocol, 'ces.v2');
      near.ws.send(JSON.stringify({ rooms: [room], create: true }));
      assert.deepEqual(JSON.parse((await near.next()).text), { registered: [room] }, 'served v1');
    }
  });

  it('a plain client after a ces.v2 one is answered with no subprotocol (civetweb keeps the last answer per worker)', async () => {
    // civetweb sets the answered subprotocol only when a request offers one:
    // a worker's next connection would be told ces.v2 unless the edge clears it
    for (let round = 0; round < 20; round++) {
      const v2 = await openV2(ces);
      v2.ws.close();
      const plain = track(await openClient(ces, 'messenger'));
      assert.equal(plain.ws.protocol, '', `round ${round}: a plain client was told ${JSON.stringify(plain.ws.protocol)}`);
      plain.ws.close();
    }
  });

  it('ces.v2 is the messengers\' only: /connect/hub and /connect/repeater asking for it are not told ces.v2', async () => {
    const sender = track(await openClient(ces, 'messenger'));
    for (const type of ['hub', 'repeater']) {
      const client = new Client(`${ces.ws}/connect/${type}`, {}, 'ces.v2');
      const opened = await client.open().then(() => true, () => false);  // refusing the offer is fine too
      if (!opened) continue;
      track(client);
      await until(() => status(ces), (st) => mine(st, client), `the ${type} client listed`);
      if (type === 'hub') {
        const room = unique('ROLE');
        const payload = eventOf(room, 'd', 'k', 'to a hub peer');
        sender.ws.send(Buffer.from(`${room}\n${payload}`));
        const got = await client.next();
        assert.equal(client.ws.protocol === 'ces.v2', /^[^\n]+\n\d+\n\{/.test(got.text),
          `/connect/hub told ${JSON.stringify(client.ws.protocol)} and got ${JSON.stringify(got.text.slice(0, 60))}: the answer must match the framing`);
      }
      assert.notEqual(client.ws.protocol, 'ces.v2', `/connect/${type} is served v1, so must not be told ces.v2`);
    }
  });

  it('HTTP views of rooms whose IDs need percent-encoding (%, /, #, ?, non-ASCII)', async () => {
    const base = unique('ENC');
    const sender = track(await openClient(ces, 'messenger'));
    const rooms = [`${base}#x`, `${base}?y`, `${base}-ü`, `${base}%z`, `${base}/w`, `${base}%41`];
    for (const room of rooms) sender.ws.send(Buffer.from(`${room}\n${eventOf(room, 'd', 'k', 'v')}`));
    // /rooms lists them all by name (no encoding involved)
    await until(() => getJson(`${ces.http}/rooms`), (list) => rooms.every((room) => list.rooms.some((r) => r.room === room)),
      '/rooms lists every room');
    for (const room of rooms) {
      for (const view of ['', '/state', '/history']) {
        const r = await getStatusJson(`${ces.http}/rooms/${encodeURIComponent(room)}${view}`);
        assert.equal(r.status, 200, `/rooms/${encodeURIComponent(room)}${view}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.room, room);
      }
    }
  });

  it('bounds: --state-keys keeps the latest (device, key) pairs, --history-bytes and --history-age evict the oldest events, counted', async () => {
    const bounded = await startCes(['--state-keys', '3', '--history-bytes', '4000', '--history-age', '1']);
    try {
      const room = unique('BOUND');
      const sender = track(await openClient(bounded, 'messenger'));
      // 4 devices: the first one's pair is the least recently updated
      const sent = ['d1', 'd1', 'd2', 'd3', 'd4'].map((d, i) => eventOf(room, d, 'k', `s${i}`));
      await publish(bounded, sender, room, sent);
      let st = (await status(bounded)).hub.store;
      assert.equal(st.evicted.state_keys, 1, `one pair evicted: ${JSON.stringify(st.evicted)}`);
      const state = await getJson(`${bounded.http}/rooms/${room}/state`);
      assert.deepEqual(state.state.map((s) => [s.seq, s.device]), [[3, 'd2'], [4, 'd3'], [5, 'd4']], 'the 3 latest pairs');
      assert.equal((await getJson(`${bounded.http}/rooms/${room}`)).state_keys, 3);

      // ~300 bytes each: 4000 bytes of history keep about 13 of 40
      const more = Array.from({ length: 35 }, (_, i) => eventOf(room, 'd4', 'k', `b${i}`));
      await publish(bounded, sender, room, more, 5);
      st = (await status(bounded)).hub.store;
      assert.ok(st.history.bytes <= 4000, `history within 4000 bytes: ${JSON.stringify(st.history)}`);
      assert.ok(st.evicted.bytes > 0, `evicted for bytes: ${JSON.stringify(st.evicted)}`);
      const summary = await getJson(`${bounded.http}/rooms/${room}`);
      assert.equal(summary.history.last, 40);
      assert.equal(summary.history.count, 40 - summary.history.first + 1);
      assert.equal(summary.history.count, st.history.events);
      assert.equal(st.evicted.count + st.evicted.bytes + st.evicted.age, 40 - st.history.events, 'every eviction counted once');

      // Past the age (1 s): the history empties, the state stays
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const aged = await until(() => status(bounded), (s) => s.hub.store.history.events === 0, 'the history aged out', 5000);
      assert.ok(aged.hub.store.evicted.age > 0, `evicted for age: ${JSON.stringify(aged.hub.store.evicted)}`);
      const late = await getJson(`${bounded.http}/rooms/${room}/state`);
      assert.equal(late.state.length, 3, 'the state does not age with the history');
      const client = track(await openV2(bounded));
      const refused = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch: summary.epoch, seq: 39 } } });
      assert.equal(refused.replies[0]?.notice?.recovered?.[room], false, `history aged out: refused, ${JSON.stringify(refused.replies)}`);
    } finally {
      await stop(bounded.child);
    }
  });

  // A v2 client of `server` that stops reading while `total` events of 4 KB
  // reach its room (its 16 KB queue and the socket buffers overflow), then
  // reads again once the edge has handled the whole burst for it
  async function burst(server, total = 3000) {
    const room = unique('GAP');
    const sender = track(await openClient(server, 'messenger'));
    const client = track(await openV2(server));
    await until(() => status(server), (st) => mine(st, client), 'the v2 client listed');
    const { registered } = await registerV2(client, { rooms: [room], create: true });
    assert.equal(registered.positions[room].seq, 0, `a new room: ${JSON.stringify(registered)}`);
    client.ws._socket.pause();
    const padding = 'p'.repeat(4000);
    const payloads = Array.from({ length: total }, (_, i) => eventOf(room, 'd', 'k', `g${i}`, { data: { padding } }));
    await publish(server, sender, room, payloads);
    // Every event reached the edge: queued for the client or dropped
    const counted = await until(() => status(server), (st) => {
      const c = mine(st, client);
      return c && c.events_out + c.dropped >= total;
    }, 'the edge handled the whole burst for the client', 20000);
    const { events_out: delivered, dropped } = mine(counted, client);
    assert.equal(delivered + dropped, total, `delivered + dropped: ${JSON.stringify(mine(counted, client))}`);
    assert.ok(dropped > 0, `some events dropped for the paused client: ${JSON.stringify(mine(counted, client))}`);
    client.ws._socket.resume();
    return { room, sender, client, payloads, total, delivered, dropped };
  }

  // Checks what a v2 client got of a burst (and maybe a tail event after
  // it): events in order with the payloads sent, and queue_full gap notices
  // that cover exactly the seqs it did not get, each told after its range
  function checkGaps(got, { room, payloads, dropped }, last, tail) {
    const seqs = got.filter((r) => r.event).map((r) => r.event.seq);
    const gaps = got.filter((r) => r.notice).map((r) => r.notice);
    for (const notice of gaps) {
      assert.deepEqual(Object.keys(notice), ['gap'], `only gap notices: ${JSON.stringify(notice)}`);
      assert.equal(notice.gap.room, room);
      assert.equal(notice.gap.reason, 'queue_full');
      assert.ok(notice.gap.from <= notice.gap.to, JSON.stringify(notice));
    }
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `in order: ${seqs[i - 1]} then ${seqs[i]}`);
    for (const r of got.filter((x) => x.event)) {
      assert.equal(r.event.payload, r.event.seq > payloads.length ? tail : payloads[r.event.seq - 1], `payload of ${r.event.seq}`);
    }
    const have = new Set(seqs);
    const missing = [];
    for (let seq = 1; seq <= last; seq++) if (!have.has(seq)) missing.push(seq);
    assert.equal(missing.length, dropped, 'as many seqs missing as the edge counted dropped');
    const ranges = gaps.map((n) => `${n.gap.from}-${n.gap.to}`);
    const covered = gaps.flatMap((n) => Array.from({ length: n.gap.to - n.gap.from + 1 }, (_, i) => n.gap.from + i))
      .sort((a, b) => a - b);
    assert.deepEqual(covered, missing, `the gap ranges (${ranges.join(', ')}) are exactly the missing seqs`);
  }

  it('gap notice: a v2 client that does not read, with a small --client-queue, gets queue_full gaps matching the missing seqs', async () => {
    const small = await startCes(['--client-queue', '16384', '--stuck-timeout', '60000']);
    try {
      const run = await burst(small);
      // Once its queue is empty again, one more event: it is delivered,
      // and the gaps are told at the latest with it
      await until(() => status(small), (st) => mine(st, run.client)?.queued_bytes === 0, 'the client\'s queue written out', 20000);
      const tail = eventOf(run.room, 'd', 'k', 'tail');
      run.sender.ws.send(Buffer.from(`${run.room}\n${tail}`));
      const last = run.total + 1;
      const got = await collectUntil(run.client, (c) => c.some((r) => r.event?.seq === last), 'the tail event', 20000);
      // Gap notices may follow the tail: read until all are there (or none comes)
      const gapSeqs = (list) => list.filter((r) => r.notice?.gap).reduce((n, r) => n + r.notice.gap.to - r.notice.gap.from + 1, 0);
      while (gapSeqs(got) < run.dropped) {
        const more = await nextV2(run.client, 3000).catch(() => null);
        if (!more) break;
        got.push(more);
      }
      checkGaps(got, run, last, tail);
      // Each gap is told after the events before it and before any event
      // after the next one: at the latest with the first event after its range
      let seen = 0;
      let previous = 0;
      for (const r of got) {
        if (r.event) { previous = seen; seen = r.event.seq; continue; }
        assert.ok(r.notice.gap.from > previous, `gap ${JSON.stringify(r.notice.gap)} told late (after ${previous} and ${seen})`);
      }
    } finally {
      await stop(small.child);
    }
  });

  it('gap notice: a gap at the end of a burst is told once the queue has room, without waiting for another event', async () => {
    const small = await startCes(['--client-queue', '16384', '--stuck-timeout', '60000']);
    try {
      const run = await burst(small);
      // Everything queued arrives; then the gaps must come with no further event
      const got = await collectUntil(run.client, (c) => c.filter((r) => r.event).length >= run.delivered,
        'the events queued for the client', 20000);
      const gapSeqs = (list) => list.filter((r) => r.notice?.gap).reduce((n, r) => n + r.notice.gap.to - r.notice.gap.from + 1, 0);
      while (gapSeqs(got) < run.dropped) {
        const more = await nextV2(run.client, 3000).catch(() => null);
        if (!more) break;
        got.push(more);
      }
      const lastDelivered = got.filter((r) => r.event).at(-1).event.seq;
      assert.equal(gapSeqs(got), run.dropped, `gap notices for all ${run.dropped} dropped events within 3 s of the last event `
        + `(${lastDelivered} of ${run.total} was the last delivered); got notices ${JSON.stringify(got.filter((r) => r.notice))}`);
      checkGaps(got, run, run.total);
    } finally {
      await stop(small.child);
    }
  });

  it('/status store counters and /metrics move: appended, recoveries recovered and refused', async () => {
    const before = (await status(ces)).hub.store;
    assert.equal(typeof before.appended, 'number', `a store object in the hub's /status: ${JSON.stringify(before)}`);
    for (const field of ['count', 'age', 'bytes', 'state_keys']) assert.equal(typeof before.evicted[field], 'number', `evicted.${field}`);
    assert.equal(typeof before.recoveries.recovered, 'number');
    assert.equal(typeof before.recoveries.refused, 'number');
    assert.equal(typeof before.history.events, 'number');
    assert.equal(typeof before.history.bytes, 'number');
    assert.equal(typeof before.state_keys, 'number');
    assert.equal(typeof before.rooms, 'number');
    assert.equal(before.data_dir, undefined, 'no data_dir without --data-dir');

    const room = unique('COUNT');
    const sender = track(await openClient(ces, 'messenger'));
    await publish(ces, sender, room, Array.from({ length: 25 }, (_, i) => eventOf(room, `d${i % 5}`, 'k', `c${i}`)));
    const { epoch } = await getJson(`${ces.http}/rooms/${room}`);
    const afterSend = (await status(ces)).hub.store;
    assert.equal(afterSend.appended - before.appended, 25, 'appended: the 25 events');
    assert.equal(afterSend.rooms - before.rooms, 1, 'one more room');
    assert.equal(afterSend.history.events - before.history.events, 25, 'history: 25 more events');
    assert.ok(afterSend.history.bytes > before.history.bytes);
    assert.equal(afterSend.state_keys - before.state_keys, 5, 'state: 5 more (device, key)');

    const client = track(await openV2(ces));
    const recovered = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 20 } } });
    assert.deepEqual(recovered.events.map((e) => e.seq), [21, 22, 23, 24, 25]);
    assert.deepEqual(recovered.replies.at(-1).notice, { recovered: { [room]: true } });
    const refused = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch: '0123456789abcdef', seq: 20 } } });
    assert.equal(refused.events.length, 0);
    assert.equal(refused.replies[0].notice.recovered[room], false);
    const ahead = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 26 } } });
    assert.equal(ahead.events.length, 0, 'a position ahead: no event');
    assert.equal(ahead.replies[0].notice.recovered[room], false, `a position ahead: refused, got ${JSON.stringify(ahead.replies)}`);
    assert.equal(typeof ahead.replies[0].notice.reason[room], 'string');
    const afterRecoveries = (await status(ces)).hub.store;
    assert.equal(afterRecoveries.recoveries.recovered - afterSend.recoveries.recovered, 1, 'one recovered');
    assert.equal(afterRecoveries.recoveries.refused - afterSend.recoveries.refused, 2, 'two refused');

    const metrics = await (await fetch(`${ces.http}/metrics`)).text();
    const sample = (name) => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
      assert.ok(line, `/metrics has ${name}`);
      return Number(line.slice(name.length + 1));
    };
    assert.ok(sample('ces_hub_store_events_total') >= afterSend.appended);
    assert.equal(sample('ces_hub_store_recoveries_total{result="refused"}'), afterRecoveries.recoveries.refused);
    assert.equal(sample('ces_hub_store_recoveries_total{result="recovered"}'), afterRecoveries.recoveries.recovered);
    assert.equal(sample('ces_hub_store_rooms'), afterRecoveries.rooms);
  });
});

describe('rooms remember: HTTP views with tokens required', () => {
  const SECRET = 'remember-test-secret';
  const sign = (claims) => jwt(claims, { key: SECRET });
  let ces;
  before(async () => { ces = await startCes(['--auth-secret', SECRET]); });
  after(async () => { if (ces) await stop(ces.child); });

  it('reading a room needs a grant to register it (403), /rooms lists only granted rooms', async () => {
    const base = unique('AUTH');
    const [granted, prefixed, theirs] = [`${base}-A`, `${base}-P-1`, unique('OTHER')];
    const bearer = (token) => ({ headers: { Authorization: `Bearer ${token}` } });
    const all = await sign({ rooms: ['*'] });
    const sender = track(await openClient(ces, 'messenger', bearer(all)));
    for (const room of [granted, prefixed, theirs]) {
      sender.ws.send(Buffer.from(`${room}\n${eventOf(room, 'd', 'k', 'x')}`));
      await until(() => getStatusJson(`${ces.http}/rooms/${room}`, bearer(all)), (r) => r.status === 200 && r.body.seq === 1,
        `/rooms/${room} with an all-rooms token`);
    }
    const none = await getStatusJson(`${ces.http}/rooms/${granted}`);
    assert.equal(none.status, 401, `no token: ${JSON.stringify(none.body)}`);
    assert.equal((await getStatusJson(`${ces.http}/rooms`)).status, 401, '/rooms without a token');

    const limited = await sign({ rooms: [granted, `${base}-P-*`] });
    for (const path of ['', '/state', '/history']) {
      for (const room of [granted, prefixed]) {
        const r = await getStatusJson(`${ces.http}/rooms/${room}${path}`, bearer(limited));
        assert.equal(r.status, 200, `${room}${path} granted: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.room, room);
      }
      const refused = await getStatusJson(`${ces.http}/rooms/${theirs}${path}`, bearer(limited));
      assert.equal(refused.status, 403, `${theirs}${path} not granted: ${JSON.stringify(refused.body)}`);
      assert.ok(!JSON.stringify(refused.body).includes('"epoch"'), 'nothing of the room in a 403');
    }
    // An unknown room: 404 when granted, 403 when not (nothing told about it)
    assert.equal((await getStatusJson(`${ces.http}/rooms/${base}-P-none`, bearer(limited))).status, 404);
    assert.equal((await getStatusJson(`${ces.http}/rooms/${unique('NONE')}`, bearer(limited))).status, 403);

    const listed = (await getStatusJson(`${ces.http}/rooms`, bearer(limited))).body.rooms.map((r) => r.room).sort();
    assert.deepEqual(listed, [granted, prefixed].sort(), '/rooms lists only the granted rooms');
    const everything = (await getStatusJson(`${ces.http}/rooms`, bearer(all))).body.rooms.map((r) => r.room);
    for (const room of [granted, prefixed, theirs]) assert.ok(everything.includes(room), `an all-rooms token sees ${room}`);
  });
});
