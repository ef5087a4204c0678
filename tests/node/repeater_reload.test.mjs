// SIGHUP reloads the targets file while events flow: added targets start
// getting events, the targets that stay keep theirs (and their links) with
// no gap, and a file that cannot be used changes nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open, status, unique, until, eventBuilders, httpTarget, wsTarget, targetsFile,
} from './harness.mjs';

const { frame } = eventBuilders('repeater-reload-test', ['core-state']);

describe('repeater: reloading the targets on SIGHUP', () => {
  let ces, a, b, c, file, sender, subscriber;
  const room = unique('ITB');

  before(async () => {
    [a, b, c] = await Promise.all([httpTarget(), httpTarget(), wsTarget()]);
    file = await targetsFile({ [room]: [a.url, c.url] });
    ces = await startCes(['--targets', file.file, '--system-id', 'reload-sys']);
    [sender, subscriber] = await Promise.all([open(ces, 'messenger'), open(ces, 'messenger')]);
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'the repeater in the hub\'s rotation');
  });
  after(async () => {
    for (const x of [sender, subscriber]) x?.ws.terminate();
    if (ces) await stop(ces.child);
    await Promise.all([a?.close(), b?.close(), c?.close()]);
    file?.remove();
  });

  const valueOfPost = (post) => JSON.parse(post.body).value;
  const valueOfMessage = (m) => JSON.parse(m.text.slice(m.text.indexOf('\n') + 1)).value;
  const countOf = (text, pattern) => (text.match(pattern) || []).length;

  it('adds a target while events flow; the others keep every event and their link; a bad file changes nothing',
    async () => {
      // An event every 50 ms
      const sent = [];
      const timer = setInterval(() => {
        const value = `flow-${sent.length}`;
        sent.push(value);
        sender.ws.send(frame(room, { value }));
      }, 50);
      try {
        await until(() => a.requests.items.length, (n) => n >= 3, 'A receives the flow');
        file.write({ [room]: [a.url, c.url, b.url] });
        ces.child.kill('SIGHUP');
        await until(() => b.requests.items.length, (n) => n >= 3, 'B receives after the reload');
        assert.match(ces.child.output, /repeater: reloaded, 3 targets/);
        const st = await status(ces.repeater);
        assert.deepEqual(st.repeater.targets.map((t) => t.url).sort(), [a.url, b.url, c.url].sort());

        // Files that cannot be used: the routes in force stay
        for (const [bad, reason] of [[`{"${room}": ["${a.url}", `, /not a JSON object|cannot/],
          [{ [room]: ['https://127.0.0.1:1/x'] }, /TLS/], [{ [room]: 'not a list' }, /must list URLs/]]) {
          const refusals = countOf(ces.child.output, /reload refused/g);
          file.write(bad);
          ces.child.kill('SIGHUP');
          await until(() => countOf(ces.child.output, /reload refused/g), (n) => n > refusals, 'the reload refused');
          assert.match(ces.child.output.split('reload refused').at(-1).split('\n')[0], reason);
          const [fromA, fromB] = [a.requests.items.length, b.requests.items.length];
          await until(() => [a.requests.items.length, b.requests.items.length],
            ([na, nb]) => na >= fromA + 3 && nb >= fromB + 3, 'A and B keep receiving after the refused reload');
        }
        const after = await status(ces.repeater);
        assert.deepEqual(after.repeater.targets.map((t) => [t.url, t.rooms]).sort(),
          [[a.url, [room]], [b.url, [room]], [c.url, [room]]].sort(), 'the three targets, for the room, stay');
        assert.equal(after.repeater.in_rotation, true);
      } finally {
        clearInterval(timer);
      }
      await until(() => [a.requests.items.length, c.messages.items.length], ([na, nc]) => na >= sent.length && nc >= sent.length,
        `A and C get all ${sent.length} events`);
      assert.deepEqual(a.requests.items.map(valueOfPost), sent, 'A (HTTP, kept) got every event, in order, no gap');
      assert.deepEqual(c.messages.items.map(valueOfMessage), sent, 'C (WebSocket, kept) got every event, in order');
      assert.equal(c.connections.items.length, 1, 'C\'s link was kept: never reopened');
      assert.equal(c.connections.items[0].path, `/connect/${room}/reload-sys`);
      await until(() => b.requests.items.length && valueOfPost(b.requests.items.at(-1)), (v) => v === sent.at(-1),
        'B gets the last event');
      const first = sent.indexOf(valueOfPost(b.requests.items[0]));
      assert.ok(first > 0, 'B got nothing from before the reload');
      assert.deepEqual(b.requests.items.map(valueOfPost), sent.slice(first), 'B (added) got every event from its first on');
      const got = [];
      for (let n = 0; n < sent.length; n++) got.push(valueOfMessage(await subscriber.next()));
      assert.deepEqual(got, sent, 'the subscriber got every event, in order');
    });

  it('a reload to no targets leaves the rotation; adding one back joins it again', async () => {
    file.write({});
    ces.child.kill('SIGHUP');
    await until(() => status(ces.repeater), (st) => !st.repeater.in_rotation && st.repeater.targets.length === 0,
      'no targets, out of the rotation');
    await until(() => status(ces), (st) => st.hub.repeaters === 0, 'no repeater at the hub');
    const fromA = a.requests.items.length;
    sender.ws.send(frame(room, { value: 'while-out' }));
    assert.equal(valueOfMessage(await subscriber.next()), 'while-out', 'messengers still get events');
    file.write({ [room]: [a.url] });
    ces.child.kill('SIGHUP');
    await until(() => status(ces.repeater), (st) => st.repeater.in_rotation, 'back in the rotation');
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'one repeater at the hub');
    sender.ws.send(frame(room, { value: 'after-rejoin' }));
    assert.equal(valueOfMessage(await subscriber.next()), 'after-rejoin');
    await until(() => a.requests.items.length, (n) => n > fromA, 'A gets a POST after rejoining');
    assert.equal(valueOfPost(a.requests.items[fromA]), 'after-rejoin', 'A\'s next POST is the event sent after it came back');
  });
});
