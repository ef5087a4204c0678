// Limits: --max-clients (more WebSockets get HTTP 503, HTTP still answers)
// and --max-message (a bigger message gets an error frame, the connection
// keeps working).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, Client, stop, open, status, until, expectEvent, expectError } from './harness.mjs';

const started = [];
async function ces(extra) {
  const instance = await startCes(extra);
  started.push(instance);
  return instance;
}

describe('edge limits', () => {
  after(async () => { await Promise.all(started.map((s) => stop(s.child))); });

  it('--max-clients 2: the third WebSocket gets 503, /status still answers, a freed slot is reusable', async () => {
    const edge = await ces(['--max-clients', '2']);
    const first = await open(edge, 'messenger');
    const second = await open(edge, 'repeater');
    const third = new Client(`${edge.ws}/connect/hub`);
    await assert.rejects(third.open(), (err) => err.status === 503);
    const fourth = new Client(`${edge.ws}/connect/messenger/`);
    await assert.rejects(fourth.open(), (err) => err.status === 503);
    const response = await fetch(`${edge.http}/status`);
    assert.equal(response.status, 200, '/status answers while the edge is full');
    assert.equal(typeof (await response.json()).edge, 'object');
    const st = await until(() => status(edge), (s) => s.edge.clients.length === 2, 'two clients listed');
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
      try { return await open(edge, 'hub'); } catch (err) { return err.status; }
    }, (value) => value instanceof Client, 'a slot freed after a close', 5000);
    await Promise.all([first.close(), again.close()]);
  });

  it('--max-message 1024: a 2 KB event (one frame or fragmented) gets an error frame; the connection still works', async () => {
    const edge = await ces(['--max-message', '1024']);
    const room = `BIG-${process.pid}`;
    const sender = await open(edge, 'messenger');
    const receiver = await open(edge, 'messenger');
    await receiver.register([room]);
    const before = await status(edge);
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
    const after = await status(edge);
    assert.equal(after.edge.counters.drops.malformed, before.edge.counters.drops.malformed + 3);
    // POST /event has the same limit
    const response = await fetch(`${edge.http}/event`, { method: 'POST', body: JSON.stringify({ 'affected-room': { roomID: room }, data: 'z'.repeat(2048) }) });
    assert.ok([400, 413].includes(response.status), `big POST refused (got ${response.status})`);
    await response.text();
    await Promise.all([sender.close(), receiver.close()]);
  });
});
