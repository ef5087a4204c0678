// The hub's repeater rotation with real repeaters (SPEC §1, §2): each
// messenger event goes to exactly one repeater in the rotation, which POSTs
// it to its targets; a repeater is in the rotation only while it has a
// target.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, startRepeater, stop, open, openOutside, status, unique, until, expectEvent, eventBuilders,
  httpTarget, targetsFile,
} from './harness.mjs';

const { event, frame } = eventBuilders('repeater-rotation-test', ['core-state']);
const valueOf = (post) => JSON.parse(post.body).value;

describe('two repeaters on one hub, each with an HTTP target', () => {
  let ces, repeater, targetA, targetB, sender, subscriber;
  const room = unique('ITB');

  before(async () => {
    [targetA, targetB] = await Promise.all([httpTarget(), httpTarget()]);
    ces = await startCes(['--central', targetA.url]);
    repeater = await startRepeater(ces.router, ['--central', targetB.url]);
    [sender, subscriber] = await Promise.all([open(ces, 'messenger'), open(ces, 'messenger')]);
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 2, 'both repeaters in the hub\'s rotation');
  });
  after(async () => {
    for (const c of [sender, subscriber]) c?.ws.terminate();
    if (repeater) await stop(repeater.child);
    if (ces) await stop(ces.child);
    await Promise.all([targetA?.close(), targetB?.close()]);
  });

  // Sends two markers; waits until both targets have one (round-robin: one
  // each); returns what each target got since `from` (markers last)
  async function markers(name, from) {
    const values = [`${name}-marker-1`, `${name}-marker-2`];
    for (const value of values) {
      const m = frame(room, { value });
      sender.ws.send(m);
      await expectEvent(subscriber, m, `${name}: subscriber gets ${value}`);
    }
    const ends = (target) => target.requests.items.slice(from.get(target)).map(valueOf);
    await until(() => [ends(targetA), ends(targetB)],
      ([a, b]) => values.some((v) => a.includes(v)) && values.some((v) => b.includes(v)),
      `${name}: each target got a marker`);
    const got = [ends(targetA), ends(targetB)];
    for (const [i, list] of got.entries())
      assert.ok(values.includes(list.at(-1)), `${name}: target ${'AB'[i]} got ${JSON.stringify(list)} after its marker`);
    assert.notEqual(got[0].at(-1), got[1].at(-1), `${name}: each target got a different marker`);
    return got.map((list) => list.slice(0, -1));
  }
  const mark = () => new Map([[targetA, targetA.requests.items.length], [targetB, targetB.requests.items.length]]);

  it('each messenger event is POSTed exactly once in all, shared 3 and 3 by the two repeaters', async () => {
    const from = mark();
    const values = [0, 1, 2, 3, 4, 5].map((n) => `rr-${n}-${unique()}`);
    for (const value of values) {
      const e = frame(room, { value });
      sender.ws.send(e);
      await expectEvent(subscriber, e, `subscriber gets ${value}`);
    }
    const [a, b] = await markers('round-robin', from);
    assert.deepEqual([...a, ...b].sort(), [...values].sort(), 'the six events, each POSTed once, by one repeater or the other');
    assert.equal(a.length, 3, `the repeater in ces POSTed 3: ${JSON.stringify(a)}`);
    assert.equal(b.length, 3, `the ces-repeater process POSTed 3: ${JSON.stringify(b)}`);
    // Alternating: one has the even ones, the other the odd ones
    assert.equal(Math.abs(values.indexOf(a[0]) - values.indexOf(a[1])), 2, 'round-robin alternates');
    const [stA, stB] = await until(() => Promise.all([status(ces.repeater), status(repeater)]),
      ([x, y]) => x.repeater.targets[0].sent === 4 && y.repeater.targets[0].sent === 4, 'each target counted 4 sent');
    assert.equal(stA.repeater.events_to_targets, 4);
    assert.equal(stB.repeater.events_to_targets, 4);
    assert.equal((await status(ces)).hub.deliveries.repeater, 8, 'the hub delivered 8 events to repeaters in all');
  });

  it('an HTTP target gets a POST with Content-Type application/json and the exact JSON event as its body', async () => {
    const from = mark();
    const json = event(room, { value: `exact-${unique()}`, data: { text: 'é ü 😀 "quoted" \\ back', list: [1, { a: null }], n: 1.5e3 } });
    sender.ws.send(Buffer.from(`${room}\n${json}`));
    await expectEvent(subscriber, `${room}\n${json}`, 'subscriber gets it');
    const [a, b] = await markers('exact-body', from);
    assert.equal(a.length + b.length, 1, 'one repeater POSTed it');
    const target = a.length ? targetA : targetB;
    const post = target.requests.items[from.get(target)];
    assert.equal(post.method, 'POST');
    assert.equal(post.url, '/hook', 'to the path of the target URL');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.body, json, 'the body is the JSON event, byte for byte, without the room line');
    assert.equal(Number(post.headers['content-length']), Buffer.byteLength(json));
  });

  it('an outside system on the ces-repeater process reaches messengers on the edge, and neither repeater\'s target',
    async () => {
      const from = mark();
      const outside = await openOutside(repeater, room, 'sys-standalone');
      try {
        const e = frame(room, { value: 'outside-via-ces-repeater' });
        outside.ws.send(e);
        await expectEvent(subscriber, e, 'the edge\'s subscriber gets the outside event');
        const [a, b] = await markers('after-outside', from);
        assert.deepEqual([a, b], [[], []], 'no target got the outside event');
      } finally {
        await outside.close();
      }
    });
});

describe('a repeater with no targets', () => {
  let ces, repeater, target, later, file, sender, subscriber;
  const room = unique('ITB');

  before(async () => {
    [target, later] = await Promise.all([httpTarget(), httpTarget()]);
    file = await targetsFile({});
    ces = await startCes(['--targets', file.file]);
    repeater = await startRepeater(ces.router, ['--central', target.url]);
    [sender, subscriber] = await Promise.all([open(ces, 'messenger'), open(ces, 'messenger')]);
    await subscriber.register([room]);
    await until(() => status(repeater), (st) => st.edge.hub_connected && st.repeater.in_rotation,
      'the ces-repeater process in the rotation');
    await until(() => status(ces), (st) => st.hub.repeaters === 1, 'one repeater in the hub\'s rotation');
  });
  after(async () => {
    for (const c of [sender, subscriber]) c?.ws.terminate();
    if (repeater) await stop(repeater.child);
    if (ces) await stop(ces.child);
    await Promise.all([target?.close(), later?.close()]);
    file?.remove();
  });

  async function send(values) {
    for (const value of values) {
      const e = frame(room, { value });
      sender.ws.send(e);
      await expectEvent(subscriber, e, `subscriber gets ${value}`);
    }
  }

  it('is not in the rotation, so every messenger event goes to the repeater that has one', async () => {
    const st = await status(ces.repeater);
    assert.equal(st.repeater.in_rotation, false, 'the target-less repeater says it is out of the rotation');
    assert.deepEqual(st.repeater.targets, []);
    const values = [1, 2, 3, 4].map((n) => `only-${n}`);
    await send(values);
    await until(() => target.requests.items.length, (n) => n >= 4, 'the target got 4 POSTs');
    assert.deepEqual(target.requests.items.map(valueOf), values, 'all 4, in order, once each');
    const after = await status(ces.repeater);
    assert.equal(after.repeater.events_to_targets, 0, 'the hub gave the target-less repeater nothing');
    assert.equal(after.repeater.events_for_no_target, 0);
  });

  it('still takes events from outside systems', async () => {
    const outside = await openOutside(ces.repeater, room, 'sys-in');
    try {
      const e = frame(room, { value: 'outside-to-targetless' });
      outside.ws.send(e);
      await expectEvent(subscriber, e, 'subscriber gets the outside event');
      await send(['marker-after-outside']);
      await until(() => target.requests.items.length, (n) => n >= 5, 'the target got the marker');
      assert.equal(valueOf(target.requests.items[4]), 'marker-after-outside', 'and not the outside event');
    } finally {
      await outside.close();
    }
  });

  it('joins the rotation when a reload gives it a target, and then gets its share', async () => {
    file.write({ [room]: [later.url] });
    ces.child.kill('SIGHUP');
    await until(() => status(ces.repeater), (st) => st.repeater.in_rotation && st.repeater.targets.length === 1,
      'the reloaded repeater in the rotation');
    await until(() => status(ces), (st) => st.hub.repeaters === 2, 'two repeaters in the hub\'s rotation');
    const from = target.requests.items.length;
    const values = [1, 2, 3, 4].map((n) => `shared-${n}`);
    await send(values);
    await until(() => [target.requests.items.length - from, later.requests.items.length], ([a, b]) => a + b >= 4,
      'the 4 events POSTed');
    const a = target.requests.items.slice(from).map(valueOf);
    const b = later.requests.items.map(valueOf);
    assert.deepEqual([...a, ...b].sort(), values, 'each event once');
    assert.equal(a.length, 2, `2 each: the first repeater got ${JSON.stringify(a)}`);
    assert.equal(b.length, 2, `2 each: the reloaded repeater got ${JSON.stringify(b)}`);
  });
});
