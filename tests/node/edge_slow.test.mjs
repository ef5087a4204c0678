// A client that stops reading (SPEC §6: nothing blocks the router): its
// events are dropped for it alone and counted, it is closed with 1008 after
// --stuck-timeout, and a healthy client on the same edge receives every
// event with no added delay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, stop, open, status, mine, TIMING } from './harness.mjs';

const CLIENT_QUEUE = 65536;
const STUCK_TIMEOUT = 1000;
const BATCH = 50;          // events sent before awaiting the healthy client
let ces;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe('edge slow client', TIMING, () => {
  before(async () => {
    ces = await startCes(['--client-queue', String(CLIENT_QUEUE), '--stuck-timeout', String(STUCK_TIMEOUT)]);
  });
  after(async () => { if (ces) await stop(ces.child); });

  it('a stuck client loses only its own events, is closed with 1008; a healthy one gets all, fast', async (t) => {
    const room = `SLOW-${process.pid}`;
    const sender = await open(ces, 'messenger');
    const healthy = await open(ces, 'messenger');
    const stuck = await open(ces, 'messenger');
    await healthy.register([room]);
    await stuck.register([room]);
    stuck.ws._socket.pause();  // stops reading: kernel buffers, then the edge's queue, fill up

    const padding = 'x'.repeat(1900);
    const sentAt = [];
    const latencies = [];
    const whileDropping = [];  // events sent once the stuck client's drops showed in /status
    let expected = 0;
    let sent = 0;
    let stuckSeen = null;     // the stuck client's last /status entry
    let firstDropAt = null;
    let closingAt = null;
    const started = performance.now();
    const deadline = started + 20000;
    while (!closingAt) {
      assert.ok(performance.now() < deadline, `stuck client not closed in 20 s (sent ${sent}, status ${JSON.stringify(stuckSeen)})`);
      for (let i = 0; i < BATCH; i++, sent++) {
        sentAt[sent] = performance.now();
        sender.ws.send(Buffer.from(`${room}\n${JSON.stringify({ 'affected-room': { roomID: room }, seq: sent, data: padding })}`));
      }
      while (expected < sent) {
        const item = await healthy.next(5000);
        assert.equal(item.binary, true, `healthy client got Text: ${item.text}`);
        const seq = JSON.parse(item.text.slice(room.length + 1)).seq;
        assert.equal(seq, expected, 'the healthy client gets every event, in order');
        latencies.push(item.at - sentAt[seq]);
        if (firstDropAt && sentAt[seq] >= firstDropAt) whileDropping.push(item.at - sentAt[seq]);
        expected++;
      }
      if (sent % (BATCH * 4) === 0 || firstDropAt) {
        const st = await status(ces);
        const entry = mine(st, stuck);
        if (entry) stuckSeen = entry;
        if (entry?.dropped > 0 && !firstDropAt) firstDropAt = performance.now();
        if (!entry || entry.closing) closingAt = performance.now();
      }
    }
    stuck.ws._socket.resume();
    const { code, reason } = await stuck.closed;
    const received = stuck.queue.filter((item) => item.binary).length;
    const st = await status(ces);

    const sorted = [...latencies].sort((a, b) => a - b);
    const dropping = [...whileDropping].sort((a, b) => a - b);
    const figures = {
      events: sent,
      bytes_each: Buffer.byteLength(`${room}\n${JSON.stringify({ 'affected-room': { roomID: room }, seq: sent, data: padding })}`),
      healthy_received: expected,
      latency_ms: { p50: percentile(sorted, 50).toFixed(2), p99: percentile(sorted, 99).toFixed(2), max: sorted.at(-1).toFixed(2) },
      latency_while_dropping_ms: dropping.length ? { events: dropping.length, p50: percentile(dropping, 50).toFixed(2), p99: percentile(dropping, 99).toFixed(2), max: dropping.at(-1).toFixed(2) } : null,
      stuck_dropped: stuckSeen?.dropped,
      stuck_received: received,
      first_drop_after_ms: firstDropAt && (firstDropAt - started).toFixed(0),
      closing_seen_after_ms: (closingAt - started).toFixed(0),
      close: `${code} ${reason}`,
    };
    t.diagnostic(`slow-client figures: ${JSON.stringify(figures)}`);

    assert.equal(expected, sent, 'the healthy client received every event');
    assert.ok(sorted.at(-1) < 250, `healthy client's max latency ${sorted.at(-1).toFixed(1)} ms`);
    assert.ok(dropping.length >= BATCH, 'latency was measured while the stuck client was dropping');
    assert.ok(stuckSeen?.dropped > 0, 'the stuck client\'s drops are counted in /status');
    assert.equal(code, 1008, `stuck client closed with 1008 (got ${code} ${reason})`);
    assert.match(reason, /not reading/);
    assert.ok(received + stuckSeen.dropped <= sent, 'the stuck client lost events');
    assert.ok(received < sent);
    assert.ok(st.edge.counters.drops.queue_full >= stuckSeen.dropped, 'counters.drops.queue_full counts them');
    assert.equal(st.edge.counters.closed_stuck, 1);
    assert.equal(mine(st, healthy).dropped, 0, 'the healthy client lost nothing');
    await Promise.all([sender.close(), healthy.close()]);
  });

  it('a client that catches up before --stuck-timeout is not closed (one that does not is)', async () => {
    const room = `CATCHUP-${process.pid}`;
    const sender = await open(ces, 'messenger');
    const healthy = await open(ces, 'messenger');
    const recovers = await open(ces, 'messenger');
    const stays = await open(ces, 'messenger');
    await Promise.all([healthy, recovers, stays].map((c) => c.register([room])));
    const before = await status(ces);
    recovers.ws._socket.pause();
    stays.ws._socket.pause();
    const padding = 'x'.repeat(1900);
    let sent = 0;
    let received = 0;
    let resumed = false;
    let closing = null;
    const deadline = performance.now() + 20000;
    while (!closing) {
      assert.ok(performance.now() < deadline, 'the client that stays stuck was not closed in 20 s');
      for (let i = 0; i < BATCH; i++, sent++)
        sender.ws.send(Buffer.from(`${room}\n${JSON.stringify({ 'affected-room': { roomID: room }, seq: sent, data: padding })}`));
      for (; received < sent; received++) await healthy.next(5000);
      const st = await status(ces);
      const [r, s2] = [mine(st, recovers), mine(st, stays)];
      assert.ok(r && !r.closing, 'the client that caught up is not being closed');
      if (!resumed && r.dropped > 0 && s2.dropped > 0) {
        recovers.ws._socket.resume();  // both were dropping: one catches up now
        resumed = true;
      }
      if (!s2 || s2.closing) closing = st;
    }
    assert.ok(resumed, 'both clients were dropping before one caught up');
    stays.ws._socket.resume();
    const { code } = await stays.closed;
    assert.equal(code, 1008, 'the client that stayed stuck is closed with 1008');
    // The one that caught up is open, and gets a fresh event after its backlog
    assert.equal(recovers.ws.readyState, recovers.ws.OPEN);
    const marker = Buffer.from(`${room}\n${JSON.stringify({ 'affected-room': { roomID: room }, marker: true })}`);
    sender.ws.send(marker);
    for (;;) {
      const item = await recovers.next(5000);
      if (item.data.equals(marker)) break;
    }
    const st = await status(ces);
    assert.equal(st.edge.counters.closed_stuck, before.edge.counters.closed_stuck + 1, 'only one client closed as stuck');
    assert.ok(mine(st, recovers).dropped > 0, 'the recovered client\'s drops stay counted');
    assert.equal(mine(st, recovers).closing, false);
    await Promise.all([sender.close(), healthy.close(), recovers.close()]);
  });
});
