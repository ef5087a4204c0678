// Unused sockets on both sides of a repeater are closed: a link it dialled
// to a WebSocket target after --link-idle msecs (and dialled again when
// needed), an outside system's socket after --idle-timeout msecs with 1001.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startCes, stop, open, openOutside, status, unique, until, expectEvent, eventBuilders, wsTarget,
} from './harness.mjs';

const { frame } = eventBuilders('repeater-idle-test', ['core-state']);
const IDLE = 500;

// What `promise` gives, or `fallback` after `ms` (the timer is cleared)
function within(promise, ms, fallback) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('repeater: idle links and sockets', () => {
  let ces, target, sender, subscriber;
  const room = unique('ITB');

  before(async () => {
    target = await wsTarget();
    ces = await startCes(['--central', target.url, '--system-id', 'idle-sys',
      '--link-idle', String(IDLE), '--idle-timeout', String(IDLE)]);
    [sender, subscriber] = await Promise.all([open(ces, 'messenger'), open(ces, 'messenger')]);
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
  });
  after(async () => {
    for (const c of [sender, subscriber]) c?.ws.terminate();
    if (ces) await stop(ces.child);
    await target?.close();
  });

  async function toTarget(value, what) {
    const e = frame(room, { value });
    sender.ws.send(e);
    await expectEvent(subscriber, e, `${what}: subscriber`);
    const got = await target.messages.next(3000, `${what}: message at the target`);
    assert.ok(got.data.equals(e), `${what}: the target gets ${e}, got ${got.text}`);
    return got;
  }

  it(`a dialled link is reused while busy, closed ${IDLE} ms after its last use, and dialled again for the next event`,
    async () => {
      // Busy: an event every 150 ms for about a second, all on one link
      let last;
      for (let n = 0; n < 7; n++) {
        if (n) await sleep(150); // pacing the sender, not synchronisation
        last = await toTarget(`busy-${n}`, `busy event ${n}`);
      }
      const first = await target.connections.next(1000, 'the link');
      assert.equal(target.connections.items.length, 1, 'one link for all the busy events');
      assert.ok(target.messages.items.every((m) => m.conn === first), 'all on that link');
      const code = await within(first.closed, 3000, 'still open');
      const unused = first.closedAt - last.at;
      assert.equal(code, 1000, 'the repeater closes the unused link normally');
      assert.ok(unused >= IDLE - 100 && unused < IDLE + 1000, `closed ${Math.round(unused)} ms after its last use`);
      await until(() => status(ces.repeater), (st) => st.repeater.targets[0].links === 0, 'no link counted');
      const again = await toTarget('after-idle', 'the next event');
      const second = await target.connections.next(1000, 'a new link');
      assert.equal(again.conn, second, 'the next event goes on a new link');
      assert.equal(second.path, `/connect/${room}/idle-sys`);
    });

  it(`an outside system that sends nothing is closed with 1001 after ${IDLE} ms; one that sends every 200 ms is not`,
    async () => {
      const before = (await status(ces.repeater)).repeater.closed_idle;
      const [idle, busy] = await Promise.all([openOutside(ces.repeater, room, 'quiet'), openOutside(ces.repeater, room, 'busy')]);
      const opened = performance.now();
      let n = 0;
      const sent = [];
      const timer = setInterval(() => {
        const e = frame(room, { value: `busy-outside-${n++}` });
        sent.push(e);
        busy.ws.send(e);
      }, 200);
      try {
        const closed = await within(idle.closed, 3000, null);
        const after = performance.now() - opened;
        assert.ok(closed, 'the quiet outside system was closed');
        assert.equal(closed.code, 1001, `closed with 1001 (${closed.reason})`);
        assert.ok(after >= IDLE - 50 && after < IDLE + 1500, `after ${Math.round(after)} ms`);
        assert.equal(busy.ws.readyState, busy.ws.constructor.OPEN, 'the busy outside system is still open');
        assert.ok(sent.length >= 2, 'the busy one sent events meanwhile');
      } finally {
        clearInterval(timer);
      }
      for (const e of sent) await expectEvent(subscriber, e, 'subscriber gets every event of the busy one');
      // Once quiet, the busy one is closed too, and may come back to send
      const closed = await within(busy.closed, 3000, null);
      assert.equal(closed?.code, 1001, 'the formerly busy one is closed once unused');
      await until(() => status(ces.repeater), (st) => st.repeater.closed_idle === before + 2 && st.edge.clients_by_role.outside === 0,
        'two idle closes counted, no outside system left');
      const back = await openOutside(ces.repeater, room, 'quiet');
      const e = frame(room, { value: 'back-again' });
      back.ws.send(e);
      await expectEvent(subscriber, e, 'a reconnected outside system gets its event through');
      back.ws.terminate();
    });
});
