// An original (Go) hub as a mesh peer: POST /interconnect/ws%3A%2F%2F...
// makes the ces hub dial ws://HOST:PORT/connect/hub. The stand-in here is a
// Node `ws` server. It gets every messenger- and repeater-sourced event of
// the ces hub as Binary ROOM\nJSON (it cannot say what it wants), and what
// it sends is hub-sourced: published to the ces hub's messengers, never
// forwarded to another hub. The ces hub redials it when it comes back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { open, openOutside, unique, until, expectEvent, eventBuilders, postJson, freePort, Inbox } from './harness.mjs';
import {
  startHub, stopHubs, hubStatus, meshOf, peerOf, link, unlink, linkNew, untilMeshUp, untilWanted, drain,
} from './mesh_harness.mjs';

const { event, frame } = eventBuilders('mesh-original-test');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A stand-in original hub on 127.0.0.1:port: accepts WebSockets on
// /connect/hub only; records connections and messages (Inboxes)
async function originalHub(port) {
  const connections = new Inbox();
  const messages = new Inbox();
  const server = new WebSocketServer({ noServer: true });
  const { createServer } = await import('node:http');
  const http = createServer((req, res) => { res.statusCode = 404; res.end(); });
  http.on('upgrade', (req, socket, head) => {
    if (req.url !== '/connect/hub') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    server.handleUpgrade(req, socket, head, (ws) => {
      const conn = { ws, path: req.url };
      conn.closed = new Promise((resolve) => ws.on('close', resolve));
      ws.on('error', () => {});
      ws.on('message', (data, binary) => messages.push({ data, binary, text: data.toString(), conn }));
      connections.push(conn);
    });
  });
  await new Promise((resolve, reject) => { http.once('error', reject); http.listen(port, '127.0.0.1', resolve); });
  return {
    port, url: `ws://127.0.0.1:${port}`, connections, messages,
    // Gone at once, as a killed process: sockets cut, port closed
    kill: () => new Promise((resolve) => {
      for (const ws of server.clients) ws.terminate();
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
}

describe('hub mesh: an original hub as a peer', { timeout: 60000 }, () => {
  let hub, other, original, port, address, conn;
  const clients = [];
  const track = (client) => { clients.push(client); return client; };
  const entry = () => peerOf(hub, { router: `ws://127.0.0.1:${port}` });
  // The next message the original hub gets must be exactly these bytes, Binary
  async function expectAtOriginal(bytes, what) {
    const m = await original.messages.next(3000, what);
    assert.equal(m.binary, true, `${what}: Binary`);
    assert.equal(m.text, Buffer.from(bytes).toString(), what);
    return m;
  }

  before(async () => {
    port = await freePort();
    address = encodeURIComponent(`ws://127.0.0.1:${port}`);
    original = await originalHub(port);
    [hub, other] = await Promise.all([startHub(), startHub()]);
    await linkNew(hub, other);
    await untilMeshUp([hub, other]);
    const answer = await link(hub, address);
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(answer.json, { result: 'linking', address: `ws://127.0.0.1:${port}`, hub_id: '', state: 'original' });
    conn = await original.connections.next(5000, 'the ces hub\'s WebSocket');
    assert.equal(conn.path, '/connect/hub');
    await until(entry, (p) => p?.original?.state === 'up', 'the original hub "up"');
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await stopHubs([hub, other]);
    await original?.kill();
  });

  it('its peer entry says "original", with its own counters; asking again is "already linked"', async () => {
    const p = await entry();
    assert.equal(p.state, 'original');
    assert.equal(p.original.url, `ws://127.0.0.1:${port}`);
    assert.equal(p.original.connects, 1);
    assert.equal(p.original.events_in, 0);
    const again = await link(hub, address);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json?.result, 'already linked');
    assert.equal((await meshOf(hub)).peers.length, 2, 'the tcp peer and the original hub');
  });

  it('every messenger- and repeater-sourced event of the ces hub reaches it as Binary ROOM\\nJSON, in any room, unasked',
    async () => {
      const sender = track(await open(hub, 'messenger'));
      const out = (await entry()).original.events_out;
      const e1 = frame(unique('OA'), { value: 'messenger-1' });
      const e2 = frame(unique('OB'), { value: 'messenger-2' });
      sender.ws.send(e1);
      sender.ws.send(e2);
      await expectAtOriginal(e1, 'a messenger event, room nobody registered');
      await expectAtOriginal(e2, 'another room');
      const outside = track(await openOutside(hub.repeater, unique('OC'), 'orig-sys'));
      const e3 = frame(unique('OC'), { value: 'from-outside' });
      outside.ws.send(e3);
      await expectAtOriginal(e3, 'an outside system\'s event (repeater-sourced)');
      const room = unique('OD');
      const body = event(room, { value: 'posted' });
      assert.equal((await postJson(`${hub.http}/event`, body)).status, 200);
      await expectAtOriginal(`${room}\n${body}`, 'an event POSTed to /event');
      await until(entry, (p) => p.original.events_out === out + 4, 'events_out counts 4');
    });

  it('what it sends reaches the ces hub\'s subscribers of that room, not another hub, not back to it', async () => {
    const room = unique('OE');
    const sub = track(await open(hub, 'messenger'));
    const notSub = track(await open(hub, 'messenger'));
    const far = track(await open(other, 'messenger'));
    await sub.register([room]);
    await notSub.register([unique('OX')]);
    await far.register([room]);
    await untilWanted([hub], other, room);
    const before = { inHub: (await hubStatus(hub)).events_in.hub, inOther: (await hubStatus(other)).events_in.hub,
      origIn: (await entry()).original.events_in, toOther: (await peerOf(hub, other)).events_out };

    const e = frame(room, { value: 'from-original' });
    conn.ws.send(e);
    await expectEvent(sub, e, 'the subscriber at the ces hub');
    const late = await Promise.all([sub, notSub, far].map((c) => drain(c, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], []],
      'once; not to a client of another room; not forwarded to the other hub');
    assert.equal(original.messages.queue.length, 0, 'not echoed back to the original hub');
    const st = await hubStatus(hub);
    assert.equal(st.events_in.hub - before.inHub, 1, 'hub-sourced at the ces hub');
    // (the original hub's own counters are reported to the hub about once a second)
    await until(entry, (q) => q.original.events_in === before.origIn + 1, 'counted in from the original hub', 3000);
    assert.equal((await hubStatus(other)).events_in.hub, before.inOther, 'the other hub got nothing');
    assert.equal((await peerOf(hub, other)).events_out, before.toOther, 'nothing sent to the other hub');

    // The other way: an event from the tcp peer is hub-sourced here, so the
    // original hub does not get it (the marker after it comes first)
    const fromOther = track(await open(other, 'messenger'));
    const e2 = frame(room, { value: 'from-the-tcp-peer' });
    fromOther.ws.send(e2);
    await expectEvent(sub, e2, 'the tcp peer\'s event reaches the ces hub\'s subscriber');
    const marker = frame(unique('OM'), { value: 'marker' });
    sub.ws.send(marker);
    await expectAtOriginal(marker, 'the next thing the original hub gets is the marker, not the tcp peer\'s event');
  });

  it('killed and started again on the same port: the ces hub redials it and events flow again', async () => {
    await original.kill();
    await until(entry, (p) => p.original.state !== 'up', 'the ces hub notices the original hub is gone');
    assert.equal((await entry()).state, 'original', 'still listed');
    await sleep(300);
    original = await originalHub(port);
    conn = await original.connections.next(8000, 'the ces hub redials');
    assert.equal(conn.path, '/connect/hub');
    const p = await until(entry, (q) => q.original.state === 'up' && q.original.connects === 2, 'up again, 2 connects', 3000);
    assert.equal(p.state, 'original');

    const sender = track(await open(hub, 'messenger'));
    const e = frame(unique('OR'), { value: 'after-redial' });
    sender.ws.send(e);
    await expectAtOriginal(e, 'a messenger event after the redial');
    const room = unique('OS');
    const sub = track(await open(hub, 'messenger'));
    await sub.register([room]);
    const back = frame(room, { value: 'original-after-redial' });
    conn.ws.send(back);
    await expectEvent(sub, back, 'the original hub\'s event after the redial');
  });

  it('DELETE unlinks it: its WebSocket is closed and not redialled', async () => {
    const gone = await unlink(hub, address);
    assert.equal(gone.status, 200, gone.text);
    assert.equal(gone.json?.result, 'unlinked');
    await conn.closed;
    await until(entry, (p) => p === undefined, 'the entry is gone');
    await sleep(600);
    assert.equal(original.connections.queue.length, 0, 'no new connection');
    assert.equal((await unlink(hub, address)).status, 404);
  });
});
