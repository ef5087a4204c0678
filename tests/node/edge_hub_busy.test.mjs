// A linked hub that does not keep up (here: stopped with SIGSTOP for a
// moment): the edge's queue to it fills, and every event it cannot take is
// answered "hub busy" and counted as such, not as "hub unreachable";
// nothing else is lost.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, startEdge, stop, open, status, until, freePort } from './harness.mjs';

describe('edge: a stalled hub', () => {
  const children = [];
  after(async () => {
    for (const child of children.reverse()) {
      try { child.kill('SIGCONT'); } catch { /* gone */ }
      await stop(child);
    }
  });

  it('events over the full queue get "hub busy", are counted, and the rest arrive', async () => {
    const router = `tcp://127.0.0.1:${await freePort()}`;
    const pub = `tcp://127.0.0.1:${await freePort()}`;
    // A long heartbeat: the stall must not look like a dead hub
    const hub = await start('ces-hub', ['--router', router, '--pub', pub, '--http', `127.0.0.1:${await freePort()}`,
      '--heartbeat', '5000']);
    children.push(hub);
    // A client queue that holds the burst the hub publishes when it resumes
    const edge = await startEdge(router, pub, ['--client-queue', String(64 * 1024 * 1024)]);
    children.push(edge.child);
    await until(() => status(edge), (s) => s.edge.hub_connected, 'the edge linked');
    const room = `BUSY-${process.pid}`;
    const subscriber = await open(edge, 'messenger');
    await subscriber.register([room]);
    const sender = await open(edge, 'messenger');

    const payload = JSON.stringify({ 'affected-room': { roomID: room }, pad: 'x'.repeat(1000) });
    const total = 30000;
    hub.kill('SIGSTOP');
    for (let i = 0; i < total; i++) sender.ws.send(Buffer.from(`${room}\n${payload}`));
    // The edge takes every event off the WebSocket and either queues it or drops it
    const st = await until(() => status(edge), (s) => s.edge.counters.events_in === total,
      'every event read by the edge', 60000);
    hub.kill('SIGCONT');
    const busy = st.edge.counters.drops.hub_busy;
    console.log(`# of ${total} events: ${busy} dropped as hub busy`);
    assert.ok(busy > 0, `the queue to a stopped hub filled (${JSON.stringify(st.edge.counters.drops)})`);
    assert.equal(st.edge.counters.drops.hub_unreachable, 0, 'a stalled hub is not an unreachable one');
    // Every other event reaches the subscriber, or is a counted drop
    const settled = await until(() => status(edge), (s) => s.edge.counters.delivered + s.edge.counters.drops.queue_full
      + s.edge.counters.lost_upstream >= total - busy, 'the rest delivered or counted', 60000);
    const { delivered } = settled.edge.counters;
    assert.equal(delivered + settled.edge.counters.drops.queue_full + settled.edge.counters.lost_upstream, total - busy,
      JSON.stringify(settled.edge.counters));
    let received = 0;
    while (received < delivered) {
      const item = await subscriber.next(20000);
      assert.equal(item.binary, true, item.text);
      received++;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(subscriber.queue.length, 0, 'nothing more than the events delivered');
    // ... and the sender was told of each drop
    let notices = 0;
    while (sender.queue.length) {
      const item = sender.queue.shift();
      assert.match(JSON.parse(item.text).error, /hub busy \(its queue is full\)/);
      notices++;
    }
    assert.equal(notices, busy);
    assert.match(edge.child.output, /the hub does not keep up; dropped \d+ event\(s\) at a full queue to it/);
    const metrics = await (await fetch(`${edge.http}/metrics`)).text();
    assert.match(metrics, new RegExp(`ces_edge_drops_total\\{reason="hub_busy"\\} ${busy}`));
    await Promise.all([sender.close(), subscriber.close()]);
  });
});
