// Limits: --max-clients (more WebSockets get HTTP 503, HTTP still answers)
// and --max-message (a bigger message gets an error frame, the connection
// keeps working).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, Client, getJson, stop } from './harness.mjs';

const started = [];
async function ces(extra) {
  const instance = await startCes(extra);
  started.push(instance);
  return instance;
}

async function until(get, check, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await get();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what} not reached in ${timeout} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function expectError(client, pattern) {
  const item = await client.next();
  assert.equal(item.binary, false, `expected an error notice, got Binary ${item.text.slice(0, 80)}`);
  const notice = JSON.parse(item.text);
  assert.equal(typeof notice.error, "string", `expected {"error":...}, got ${item.text}`);
  assert.match(notice.error, pattern);
}

async function expectEvent(client, bytes, what) {
  const item = await client.next();
  assert.equal(item.binary, true, `${what}: expected an event, got Text ${item.text}`);
  assert.ok(bytes.equals(item.data), `${what}: got ${item.text.slice(0, 80)}`);
}

describe('edge limits', () => {
  after(async () => { await Promise.all(started.map((s) => stop(s.child))); });

  it('--max-clients 2: the third WebSocket gets 503, /status still answers, a freed slot is reusable', async () => {
    const edge = await ces(['--max-clients', '2']);
    const open = (type) => new Client(`${edge.ws}/connect/${type}`).open();
    const first = await open('messenger');
    const second = await open('repeater');
    const third = new Client(`${edge.ws}/connect/hub`);
    await assert.rejects(third.open(), (err) => err.status === 503);
    const fourth = new Client(`${edge.ws}/connect/messenger/`);
    await assert.rejects(fourth.open(), (err) => err.status === 503);
    const response = await fetch(`${edge.http}/status`);
    assert.equal(response.status, 200, '/status answers while the edge is full');
    assert.equal(typeof (await response.json()).edge, 'object');
    const st = await until(() => getJson(`${edge.http}/status`), (s) => s.edge.clients.length === 2, 'two clients listed');
    assert.equal(st.edge.counters.refused_full, 2);
    const health = await fetch(`${edge.http}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    // The two admitted clients still work
    const room = `LIM-${process.pid}`;
    await first.register([room]);
    const posted = JSON.stringify({ 'affected-room': { roomID: room }, key: 'k' });
    const post = await fetch(`${edge.http}/event`, { method: 'POST', body: posted });
    assert.equal(post.status, 200);
    await post.text();
    await expectEvent(first, Buffer.from(`${room}\n${posted}`), 'admitted messenger');
    await expectEvent(second, Buffer.from(`${room}\n${posted}`), 'admitted repeater');
    // A closed client frees its slot
    await second.close();
    const again = await until(async () => {
      try { return await open('hub'); } catch (err) { return err.status; }
    }, (value) => value instanceof Client, 'a slot freed after a close', 5000);
    await Promise.all([first.close(), again.close()]);
  });

  it('--max-message 1024: a 2 KB event (one frame or fragmented) gets an error frame; the connection still works', async () => {
    const edge = await ces(['--max-message', '1024']);
    const open = (type) => new Client(`${edge.ws}/connect/${type}`).open();
    const room = `BIG-${process.pid}`;
    const sender = await open('messenger');
    const receiver = await open('messenger');
    await receiver.register([room]);
    const before = await getJson(`${edge.http}/status`);
    const big = Buffer.from(`${room}\n${JSON.stringify({ data: 'x'.repeat(2048) })}`);
    sender.ws.send(big);
    await expectError(sender, /max-message/);
    const ok1 = Buffer.from(`${room}\n${JSON.stringify({ n: 1 })}`);
    sender.ws.send(ok1);
    await expectEvent(receiver, ok1, 'small event after a big one');
    // Fragmented: the limit applies to the reassembled message
    for (let i = 0; i < 4; i++) sender.ws.send(big.subarray(i * 600, (i + 1) * 600), { fin: i === 3 });
    await expectError(sender, /max-message/);
    const ok2 = Buffer.from(`${room}\n${JSON.stringify({ n: 2 })}`);
    sender.ws.send(ok2);
    await expectEvent(receiver, ok2, 'small event after a big fragmented one');
    // Just under the limit passes
    const fits = Buffer.from(`${room}\n${JSON.stringify({ data: 'y'.repeat(1000 - room.length - 14) })}`);
    assert.ok(fits.length <= 1024);
    sender.ws.send(fits);
    await expectEvent(receiver, fits, 'an event within the limit');
    // A big registration is refused the same way
    receiver.ws.send(JSON.stringify({ rooms: Array.from({ length: 200 }, (_, i) => `ROOM-${i}`), create: true }));
    await expectError(receiver, /max-message/);
    sender.ws.send(ok1);
    await expectEvent(receiver, ok1, 'receiver still receives after its oversized registration');
    const after = await getJson(`${edge.http}/status`);
    assert.equal(after.edge.counters.drops.malformed, before.edge.counters.drops.malformed + 3);
    // POST /event has the same limit
    const response = await fetch(`${edge.http}/event`, { method: 'POST', body: JSON.stringify({ 'affected-room': { roomID: room }, data: 'z'.repeat(2048) }) });
    assert.ok([400, 413].includes(response.status), `big POST refused (got ${response.status})`);
    await response.text();
    await Promise.all([sender.close(), receiver.close()]);
  });
});
