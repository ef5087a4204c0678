// Rooms remember (issue 13): recovery of a ces.v2 client with "since".
// A subscriber that reconnects while events keep flowing gets every missed
// event once, in order, then live events with no gap and no duplicate;
// recovery is refused (no event replayed) when the history no longer
// reaches its position (--history 5), when its position is ahead, and when
// the room's epoch changed (a restart without --data-dir, for a client that
// reconnects and for one that stayed connected to an edge); with
// --data-dir a `ces` killed with SIGKILL under load comes back with the same
// epoch, its state and history, and no sequence number given twice.
import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  start, startCes, startEdge, stop, freePort, open as openClient, openV2, registerV2, nextV2, status,
  unique, until, getJson, getStatusJson,
} from './harness.mjs';

// Every client a test opened; those it left open are ended after it
const opened = new Set();
const track = (client) => { opened.add(client); return client; };
afterEach(() => {
  for (const client of opened) {
    client.stopPublishing?.();
    if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
  }
  opened.clear();
});

// An event of `room` from `device` about `key`
const eventOf = (room, device, key, value) => JSON.stringify({
  'generating-system': 'remember-recovery-test', timestamp: new Date().toISOString(), 'event-tags': ['core-state'],
  'target-device': { buildingID: 'T', roomID: room, deviceID: device },
  'affected-room': { buildingID: 'T', roomID: room }, key, value,
});

// The room's summary once the hub has numbered `seq` events in it
const roomAt = (server, room, seq, timeout = 10000) => until(() => getStatusJson(`${server.http}/rooms/${encodeURIComponent(room)}`),
  (r) => r.status === 200 && r.body.seq >= seq, `/rooms/${room} at seq ${seq}`, timeout).then((r) => r.body);

// Makes `sender` (a v1 messenger) send events to `room` steadily, `batch`
// every `every` ms, each with a distinct value (`tag`-n); appends each
// payload to `sent` as it goes. sender.stopPublishing() stops it.
function publishSteadily(sender, room, sent, { batch = 2, every = 4, tag = 'n' } = {}) {
  let n = 0;
  const timer = setInterval(() => {
    if (sender.ws.readyState !== sender.ws.OPEN) return;
    for (let i = 0; i < batch; i++, n++) {
      const payload = eventOf(room, `d${n % 7}`, `k${n % 3}`, `${tag}-${n}`);
      sent.push(payload);
      sender.ws.send(Buffer.from(`${room}\n${payload}`));
    }
  }, every);
  sender.stopPublishing = () => clearInterval(timer);
}

// Reads a v2 client's messages until `done(collected)`; returns them
async function collectUntil(client, done, what, timeout = 10000) {
  const collected = [];
  while (!done(collected)) {
    collected.push(await nextV2(client, timeout).catch((error) => assert.fail(
      `${what}: ${error.message}; got ${collected.length}: ${JSON.stringify(collected.slice(-3)).slice(0, 1500)}`)));
  }
  return collected;
}

// Asserts that `seqs` are exactly from..to, each once, in order
function assertContiguous(seqs, from, to, what) {
  const wrong = seqs.findIndex((seq, i) => seq !== from + i);
  assert.ok(wrong < 0 && seqs.length === to - from + 1,
    `${what}: expected ${from}..${to}, got ${seqs.length} seqs; first wrong at ${wrong}: ${JSON.stringify(seqs.slice(Math.max(0, wrong - 3), wrong + 3))}`);
}

// A temporary --data-dir, removed by the caller
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), `ces-remember-${process.pid}-`));

describe('rooms remember: recovery with since', () => {
  const servers = new Set();
  const dirs = [];
  const run = async (extra = [], ports = undefined) => {
    const server = await startCes(extra, ports);
    servers.add(server.child);
    return server;
  };
  after(async () => {
    for (const child of servers) await stop(child);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a subscriber reconnecting while events flow gets every missed event once, in order, then live ones with no gap or duplicate', async () => {
    const ces = await run();
    const room = unique('FLOW');
    const sent = [];
    const sender = track(await openClient(ces, 'messenger'));
    publishSteadily(sender, room, sent);
    await roomAt(ces, room, 20);

    // First session: registers mid-stream and reads a while
    const first = track(await openV2(ces));
    const reg = await registerV2(first, { rooms: [room], create: true });
    assert.deepEqual(reg.replies, [], 'no state, no since: nothing before registered');
    const { epoch, seq: start } = reg.registered.positions[room];
    assert.match(epoch, /^[0-9a-f]{16}$/);
    assert.ok(start >= 20, `the position is where the stream was: ${JSON.stringify(reg.registered)}`);
    const firstGot = await collectUntil(first, (c) => c.length >= 100, 'the first session\'s events');
    await first.close();
    while (first.queue.length) firstGot.push(await nextV2(first));  // what arrived before the close
    assert.ok(firstGot.every((r) => r.event), `only events in the first session: ${JSON.stringify(firstGot.find((r) => !r.event))}`);
    const firstSeqs = firstGot.map((r) => r.event.seq);
    const last = firstSeqs.at(-1);
    assertContiguous(firstSeqs, start + 1, last, 'the first session');

    // Away while 300 more events are numbered (the sender keeps going)
    await roomAt(ces, room, last + 300);
    const second = track(await openV2(ces));
    const back = await registerV2(second, { rooms: [room], create: true, since: { [room]: { epoch, seq: last } } });
    const recoveredAt = back.replies.findIndex((r) => r.notice);
    assert.ok(recoveredAt >= 300, `at least the 300 missed events replayed before a notice, got ${recoveredAt}`);
    assert.deepEqual(back.replies[recoveredAt].notice, { recovered: { [room]: true } });
    assert.equal(back.replies.length, recoveredAt + 1, 'nothing between recovered and registered');
    const replayed = back.events.map((e) => e.seq);
    const position = back.registered.positions[room];
    assert.deepEqual(position.epoch, epoch);
    assertContiguous(replayed, last + 1, position.seq, 'the replayed events up to the position');
    // Live events follow the position with no gap and no duplicate
    const live = await collectUntil(second, (c) => c.length >= 200, 'live events after the recovery');
    sender.stopPublishing();
    const total = sent.length;
    await roomAt(ces, room, total);
    const tail = await collectUntil(second, (c) => c.at(-1)?.event?.seq === total || live.at(-1)?.event?.seq === total,
      'the last event sent');
    const secondGot = [...back.replies.slice(0, recoveredAt), ...live, ...tail];
    assert.ok(secondGot.every((r) => r.event), `only events after registered: ${JSON.stringify(secondGot.find((r) => !r.event))}`);

    // Across both sessions: start+1..total, each once, each the payload sent
    const all = [...firstGot, ...secondGot].map((r) => r.event);
    assertContiguous(all.map((e) => e.seq), start + 1, total, 'both sessions together');
    for (const e of all) {
      assert.equal(e.room, room);
      assert.equal(e.payload, sent[e.seq - 1], `seq ${e.seq} is the ${e.seq}th event sent`);
    }
    assert.equal((await getJson(`${ces.http}/rooms/${room}`)).seq, total, 'the room numbered exactly the events sent');
    await assert.rejects(second.next(200), /no message/, 'nothing more');
  });

  it('state on join while events flow: the state is the stream up to the position, live events follow it with no gap or duplicate', async () => {
    const ces = await run();
    const room = unique('JOIN');
    const sent = [];
    const sender = track(await openClient(ces, 'messenger'));
    publishSteadily(sender, room, sent, { batch: 3, every: 2 });
    await roomAt(ces, room, 50);
    const client = track(await openV2(ces));
    const reg = await registerV2(client, { rooms: [room], create: true, state: true });
    const { epoch, seq: at } = reg.registered.positions[room];
    // The state of the first `at` events sent: the latest per (device, key)
    const latest = new Map();
    sent.slice(0, at).forEach((payload, i) => {
      const e = JSON.parse(payload);
      latest.set(`${e['target-device'].deviceID}\n${e.key}`, i + 1);
    });
    const expected = [...latest.values()].sort((x, y) => x - y);
    assert.deepEqual(reg.events.map((e) => e.seq), expected, `the state at seq ${at}`);
    reg.events.forEach((e) => assert.equal(e.payload, sent[e.seq - 1]));
    assert.deepEqual(reg.replies.at(-1).notice, { state: { [room]: { epoch, seq: at, count: expected.length } } });
    const live = await collectUntil(client, (c) => c.length >= 300, 'live events after the state');
    assert.ok(live.every((r) => r.event), `only events: ${JSON.stringify(live.find((r) => !r.event))}`);
    assertContiguous(live.map((r) => r.event.seq), at + 1, at + 300, 'live events after the position');
    live.forEach((r) => assert.equal(r.event.payload, sent[r.event.seq - 1], `live seq ${r.event.seq}`));
    sender.stopPublishing();
  });

  it('recovery refused when the history was evicted (--history 5), or the position is ahead; state when asked', async () => {
    const ces = await run(['--history', '5']);
    const room = unique('EVICT');
    const sender = track(await openClient(ces, 'messenger'));
    const sent = Array.from({ length: 20 }, (_, i) => eventOf(room, `d${i % 4}`, 'k', `e${i}`));
    for (const payload of sent) sender.ws.send(Buffer.from(`${room}\n${payload}`));
    const summary = await roomAt(ces, room, 20);
    assert.equal(summary.seq, 20);
    assert.deepEqual(summary.history, { first: 16, last: 20, count: 5 }, 'history bounded to 5 events');
    const { epoch } = summary;
    const before = (await status(ces)).hub.store;
    assert.ok(before.evicted.count >= 15, `evicted.count counts the 15: ${JSON.stringify(before.evicted)}`);

    const client = track(await openV2(ces));
    // Position 2: the history starts at 16, so 3..15 are gone
    const refused = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 2 } } });
    assert.equal(refused.events.length, 0, 'no event replayed');
    assert.equal(refused.replies.length, 1, `only the refusal: ${JSON.stringify(refused.replies)}`);
    assert.equal(refused.replies[0].notice.recovered[room], false);
    assert.equal(typeof refused.replies[0].notice.reason[room], 'string');
    assert.ok(refused.replies[0].notice.reason[room].length > 0, 'a reason');
    assert.deepEqual(refused.registered.positions, { [room]: { epoch, seq: 20 } });

    // With state: the refusal, then the state's events, the summary, the positions
    const withState = await registerV2(client, { rooms: [room], create: true, state: true, since: { [room]: { epoch, seq: 2 } } });
    assert.equal(withState.replies[0].notice?.recovered?.[room], false, `the refusal first: ${JSON.stringify(withState.replies[0])}`);
    assert.deepEqual(withState.events.map((e) => e.seq), [17, 18, 19, 20], 'the state: the latest of each of the 4 devices');
    withState.events.forEach((e) => assert.equal(e.payload, sent[e.seq - 1]));
    assert.deepEqual(withState.replies.at(-1).notice, { state: { [room]: { epoch, seq: 20, count: 4 } } });
    assert.equal(withState.replies.length, 1 + 4 + 1);

    // The first seq the history still has: since 15 replays 16..20
    const edge = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 15 } } });
    assert.deepEqual(edge.events.map((e) => e.seq), [16, 17, 18, 19, 20], 'since 15: 16..20');
    edge.events.forEach((e) => assert.equal(e.payload, sent[e.seq - 1]));
    assert.deepEqual(edge.replies.at(-1).notice, { recovered: { [room]: true } });
    // One short: refused
    const short = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 14 } } });
    assert.equal(short.events.length, 0, 'since 14: 15 is gone, no event');
    assert.equal(short.replies[0].notice.recovered[room], false);
    // Up to date: recovered with nothing to replay
    const current = await registerV2(client, { rooms: [room], create: true, since: { [room]: { epoch, seq: 20 } } });
    assert.deepEqual(current.replies, [{ notice: { recovered: { [room]: true } } }], 'since 20: nothing missed');
    // Ahead: refused, with state when asked
    const ahead = await registerV2(client, { rooms: [room], create: true, state: true, since: { [room]: { epoch, seq: 21 } } });
    assert.equal(ahead.replies[0].notice?.recovered?.[room], false, `ahead: refused first, ${JSON.stringify(ahead.replies[0])}`);
    assert.deepEqual(ahead.events.map((e) => e.seq), [17, 18, 19, 20], 'ahead: then the state');
    assert.deepEqual(ahead.registered.positions, { [room]: { epoch, seq: 20 } });

    const after = (await status(ces)).hub.store;
    assert.equal(after.recoveries.refused - before.recoveries.refused, 4, 'refused: since 2 (twice), 14, ahead');
    assert.equal(after.recoveries.recovered - before.recoveries.recovered, 2, 'recovered: since 15, since 20');

    // And live events go on from 21
    const live = eventOf(room, 'd0', 'k', 'live');
    sender.ws.send(Buffer.from(`${room}\n${live}`));
    assert.deepEqual(await nextV2(client), { event: { room, seq: 21, payload: live } });
  });

  it('epoch change: after a restart of ces without --data-dir, the old position is refused and positions give the new epoch', async () => {
    let ces = await run();
    const room = unique('EPOCH');
    let sender = track(await openClient(ces, 'messenger'));
    for (let i = 0; i < 3; i++) sender.ws.send(Buffer.from(`${room}\n${eventOf(room, 'd', 'k', `before-${i}`)}`));
    await roomAt(ces, room, 3);
    const client = track(await openV2(ces));
    const old = (await registerV2(client, { rooms: [room], create: true })).registered.positions[room];
    assert.equal(old.seq, 3);

    assert.equal(await stop(ces.child), 0);
    servers.delete(ces.child);
    await client.closed;
    ces = await run([], ces.ports);
    sender = track(await openClient(ces, 'messenger'));
    const after = eventOf(room, 'd', 'k', 'after');
    sender.ws.send(Buffer.from(`${room}\n${after}`));
    const summary = await roomAt(ces, room, 1);
    assert.notEqual(summary.epoch, old.epoch, 'a new epoch');
    assert.match(summary.epoch, /^[0-9a-f]{16}$/);
    assert.equal(summary.seq, 1, 'numbering starts again');

    const again = track(await openV2(ces));
    const reply = await registerV2(again, { rooms: [room], create: true, state: true, since: { [room]: old } });
    assert.equal(reply.replies[0].notice?.recovered?.[room], false, `refused: ${JSON.stringify(reply.replies[0])}`);
    assert.match(reply.replies[0].notice.reason[room], /epoch/, 'the reason names the epoch');
    assert.deepEqual(reply.events, [{ room, seq: 1, payload: after }], 'then the state: the one event of the new epoch');
    assert.deepEqual(reply.replies.at(-1).notice, { state: { [room]: { epoch: summary.epoch, seq: 1, count: 1 } } });
    assert.deepEqual(reply.registered, { registered: [room], positions: { [room]: { epoch: summary.epoch, seq: 1 } } });
  });

  it('kill -9 under load with --data-dir: same epoch, state and history intact, recovery works, no seq given twice', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let ces = await run(['--data-dir', dir]);
    assert.equal((await status(ces)).hub.store.data_dir?.dir, dir, '/status names the data dir');
    const room = unique('KILL');
    const sent = [];
    const sender = track(await openClient(ces, 'messenger'));
    publishSteadily(sender, room, sent);
    await roomAt(ces, room, 10);
    const client = track(await openV2(ces));
    const reg = await registerV2(client, { rooms: [room], create: true, state: true });
    const { epoch, seq: start } = reg.registered.positions[room];
    const got = await collectUntil(client, (c) => c.length >= 300, 'events before the kill');

    // SIGKILL while the sender sends
    const killed = new Promise((resolve) => ces.child.once('exit', (code, signal) => resolve(signal)));
    ces.child.kill('SIGKILL');
    assert.equal(await killed, 'SIGKILL');
    servers.delete(ces.child);
    await client.closed;
    sender.stopPublishing();
    while (client.queue.length) got.push(await nextV2(client));
    assert.ok(got.every((r) => r.event), `only events: ${JSON.stringify(got.find((r) => !r.event))}`);
    const seqs = got.map((r) => r.event.seq);
    const last = seqs.at(-1);
    assertContiguous(seqs, start + 1, last, 'the events before the kill');
    // What the hub numbered before it died is a prefix of what was sent
    for (const r of got) assert.equal(r.event.payload, sent[r.event.seq - 1], `seq ${r.event.seq} before the kill`);

    ces = await run(['--data-dir', dir], ces.ports);
    const summary = (await getStatusJson(`${ces.http}/rooms/${room}`)).body;
    assert.equal(summary.epoch, epoch, 'the same epoch after the restart');
    assert.ok(summary.seq >= last, `no event the subscriber got is forgotten: the room is at ${summary.seq}, the subscriber had ${last}`);
    assert.ok(summary.seq <= sent.length);
    const kept = summary.seq;
    // The history: seq k is the kth event sent, for every k it holds
    const history = await getJson(`${ces.http}/rooms/${room}/history?since=0&limit=10000`);
    assert.equal(history.events.at(-1).seq, kept);
    for (const e of history.events) assert.deepEqual(e.event, JSON.parse(sent[e.seq - 1]), `history seq ${e.seq} after the restart`);
    // The state: the latest of the first `kept` events per (device, key)
    const latest = new Map();
    sent.slice(0, kept).forEach((payload, i) => {
      const e = JSON.parse(payload);
      latest.set(`${e['target-device'].deviceID}\n${e.key}`, { seq: i + 1, event: e });
    });
    const expected = [...latest.values()].sort((a, b) => a.seq - b.seq);
    const state = await getJson(`${ces.http}/rooms/${room}/state`);
    assert.equal(state.epoch, epoch);
    assert.deepEqual(state.state.map((s) => ({ seq: s.seq, event: s.event })), expected, 'the state after the restart');
    assert.equal(state.devices.length, 7);

    // The subscriber comes back with its last position and recovers
    const again = track(await openV2(ces));
    const back = await registerV2(again, { rooms: [room], create: true, since: { [room]: { epoch, seq: last } } });
    assert.deepEqual(back.replies.at(-1)?.notice, { recovered: { [room]: true } },
      `recovered after the restart: ${JSON.stringify(back.replies.filter((r) => r.notice))}`);
    assert.deepEqual(back.registered.positions[room], { epoch, seq: kept });
    assertContiguous(back.events.map((e) => e.seq), last + 1, kept, 'the replayed events');
    got.push(...back.replies.slice(0, -1));

    // New events after the restart get new numbers
    const fresh = track(await openClient(ces, 'messenger'));
    const after = [];
    for (let i = 0; i < 50; i++) {
      const payload = eventOf(room, `d${i % 7}`, `k${i % 3}`, `after-${i}`);
      after.push(payload);
      fresh.ws.send(Buffer.from(`${room}\n${payload}`));
    }
    const live = await collectUntil(again, (c) => c.length >= 50, 'the events after the restart');
    got.push(...live);
    assertContiguous(live.map((r) => r.event?.seq), kept + 1, kept + 50, 'the live events after the restart');
    live.forEach((r, i) => assert.equal(r.event.payload, after[i]));

    // Across the whole test: every seq once, one payload each, contiguous
    const bySeq = new Map();
    for (const { event } of got) {
      assert.ok(!bySeq.has(event.seq), `seq ${event.seq} given twice: ${bySeq.get(event.seq)?.slice(0, 200)} and ${event.payload.slice(0, 200)}`);
      bySeq.set(event.seq, event.payload);
    }
    assertContiguous(got.map((r) => r.event.seq), start + 1, kept + 50, 'everything the subscriber got');
    const store = (await status(ces)).hub.store;
    assert.equal(store.data_dir.dir, dir);
    assert.equal(store.data_dir.lost_at_open, false, `nothing lost at open: ${JSON.stringify(store.data_dir)}`);
    assert.ok(store.data_dir.commits > 0 && store.data_dir.failed_writes === 0, JSON.stringify(store.data_dir));
  });
});

describe('rooms remember: an epoch notice to a client that stays connected', () => {
  const children = [];
  after(async () => { for (const child of children.reverse()) await stop(child); });

  it('ces-hub restarts without --data-dir under a ces-edge: its v2 client gets {"epoch":{ROOM:new}} before the new events', async () => {
    const router = `tcp://127.0.0.1:${await freePort()}`;
    const pub = `tcp://127.0.0.1:${await freePort()}`;
    const http = `127.0.0.1:${await freePort()}`;
    const hubArgs = ['--router', router, '--pub', pub, '--http', http, '--heartbeat', '200'];
    const hubStatus = () => getJson(`http://${http}/status`);
    let hub = await start('ces-hub', hubArgs);
    children.push(hub);
    const edge = await startEdge(router, pub);
    children.push(edge.child);
    const room = unique('NOTICE');
    const sender = track(await openClient(edge, 'messenger'));
    const client = track(await openV2(edge));
    await registerV2(client, { rooms: [room], create: true });
    const first = eventOf(room, 'd', 'k', 'first');
    sender.ws.send(Buffer.from(`${room}\n${first}`));
    const got = await nextV2(client);
    assert.equal(got.event?.seq, 1, JSON.stringify(got));
    const oldEpoch = (await getJson(`${edge.http}/rooms/${room}`)).epoch;
    assert.match(oldEpoch, /^[0-9a-f]{16}$/);

    assert.equal(await stop(hub), 0);
    hub = await start('ces-hub', hubArgs);
    children[0] = hub;
    const newHub = (await hubStatus()).hub_id;
    await until(() => status(edge), (st) => st.edge.hub_connected && st.edge.hub === newHub, 'the edge linked again', 10000);
    // The edge registers its rooms again once linked; until that reaches the
    // hub an event of the room goes nowhere: send until one arrives
    const deadline = Date.now() + 10000;
    let notice;
    for (let attempt = 1; ; attempt++) {
      sender.ws.send(Buffer.from(`${room}\n${eventOf(room, 'd', 'k', `after-${attempt}`)}`));
      notice = await nextV2(client, 500).catch(() => null);
      if (notice) break;
      assert.ok(Date.now() < deadline, `nothing reached the client after ${attempt} events`);
    }
    const newEpoch = (await getJson(`${edge.http}/rooms/${room}`)).epoch;
    assert.notEqual(newEpoch, oldEpoch);
    assert.deepEqual(notice, { notice: { epoch: { [room]: newEpoch } } }, 'first the epoch notice');
    const next = await nextV2(client);
    assert.ok(next.event, `then an event: ${JSON.stringify(next)}`);
    assert.match(next.event.payload, /"after-\d+"/);
  });
});

describe('rooms remember: the views on ces-hub --http', () => {
  let hub;
  after(async () => { if (hub) await stop(hub); });

  it('ces-hub --http answers GET /rooms, /rooms/ROOM, /state, /history like an edge', async () => {
    const router = `tcp://127.0.0.1:${await freePort()}`;
    const pub = `tcp://127.0.0.1:${await freePort()}`;
    const http = `http://127.0.0.1:${await freePort()}`;
    hub = await start('ces-hub', ['--router', router, '--pub', pub, '--http', http.slice(7)]);
    const edge = await startEdge(router, pub);
    try {
      const room = unique('HUBHTTP');
      const sender = track(await openClient(edge, 'messenger'));
      const payload = eventOf(room, 'd', 'k', 'one');
      sender.ws.send(Buffer.from(`${room}\n${payload}`));
      const summary = await roomAt(edge, room, 1);
      const list = await getStatusJson(`${http}/rooms`);
      assert.equal(list.status, 200, `GET /rooms on the hub: ${JSON.stringify(list.body)}`);
      assert.ok(list.body.rooms.some((r) => r.room === room && r.epoch === summary.epoch && r.seq === 1));
      const one = await getStatusJson(`${http}/rooms/${room}`);
      assert.equal(one.status, 200);
      assert.equal(one.body.epoch, summary.epoch);
      const state = await getStatusJson(`${http}/rooms/${room}/state`);
      assert.deepEqual(state.body.state.map((s) => s.event), [JSON.parse(payload)]);
      const history = await getStatusJson(`${http}/rooms/${room}/history?since=0`);
      assert.deepEqual(history.body.events.map((e) => e.seq), [1]);
      assert.equal((await getStatusJson(`${http}/rooms/${unique('NONE')}`)).status, 404);
      assert.equal((await getStatusJson(`${http}/rooms/${room}/history?since=x`)).status, 400);
    } finally {
      await stop(edge.child);
    }
  });
});
