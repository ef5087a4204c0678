// Routing through the edge (SPEC §2) with real clients of every role:
// messenger → subscribers, every hub peer and exactly one repeater
// (round-robin); repeater → messengers and hub peers; hub peer → messengers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, stop, open, status, unique, until, nextEvent, expectEvent, eventBuilders } from './harness.mjs';

let ces;
const { frame } = eventBuilders('edge-routing-test', ['core-state']);

describe('edge routing', () => {
  let sender, subscriber, rep1, rep2, hub1, hub2;
  const room = unique();

  before(async () => {
    ces = await startCes();
    [sender, subscriber, rep1, rep2, hub1, hub2] = await Promise.all(
      ['messenger', 'messenger', 'repeater', 'repeater', 'hub', 'hub'].map((type) => open(ces, type)));
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 2 && st.hub.connections.hub === 2,
      'two repeaters and two hub peers attached at the hub');
  });
  after(async () => {
    for (const c of [sender, subscriber, rep1, rep2, hub1, hub2]) c?.ws.terminate();
    if (ces) await stop(ces.child);
  });

  // One messenger event, awaited by the subscriber and both hub peers
  // before anything else is sent (see the last test for why)
  async function messengerEvent(e, what) {
    sender.ws.send(e);
    await expectEvent(subscriber, e, `${what}: subscriber`);
    await expectEvent(hub1, e, `${what}: hub peer 1`);
    await expectEvent(hub2, e, `${what}: hub peer 2`);
  }

  // Sends two messenger markers: the repeaters get one each (round-robin),
  // so each repeater's next message must be one of them
  async function repeaterMarkers(what) {
    const markers = [frame(room, { value: 'marker-1' }), frame(room, { value: 'marker-2' })];
    for (const m of markers) await messengerEvent(m, `${what}: marker`);
    const got = [await nextEvent(rep1, `${what}: repeater 1`), await nextEvent(rep2, `${what}: repeater 2`)];
    for (const data of got)
      assert.ok(markers.some((m) => m.equals(data)), `${what}: a repeater got ${JSON.stringify(data.toString())} before the markers`);
    assert.ok(!got[0].equals(got[1]), `${what}: both repeaters got the same marker`);
  }

  it('a messenger event goes to exactly one of two repeaters (round-robin), every hub peer and subscribers', async () => {
    const sent = [0, 1, 2, 3].map((n) => frame(room, { value: `m${n}` }));
    for (const e of sent) await messengerEvent(e, 'messenger event');
    const got1 = [await nextEvent(rep1, 'repeater 1'), await nextEvent(rep1, 'repeater 1')];
    const got2 = [await nextEvent(rep2, 'repeater 2'), await nextEvent(rep2, 'repeater 2')];
    const index = (data) => sent.findIndex((e) => e.equals(data));
    const all = [...got1, ...got2].map(index).sort();
    assert.deepEqual(all, [0, 1, 2, 3], 'the four events, each once, shared by the two repeaters');
    // Alternating: one repeater has the even ones, the other the odd ones
    assert.equal(Math.abs(index(got1[0]) - index(got1[1])), 2, 'round-robin alternates');
    // No third copy follows on either repeater
    await repeaterMarkers('after 4 events');
    const st = await status(ces);
    assert.equal(st.hub.deliveries.repeater, 6, 'hub delivered 6 events to repeaters, one each');
  });

  it('a repeater event goes to messengers and each hub peer once, never to repeaters', async () => {
    const e = frame(room, { value: 'from-repeater' });
    rep1.ws.send(e);
    await expectEvent(subscriber, e, 'subscriber gets the repeater event');
    await expectEvent(hub1, e, 'hub peer 1');
    await expectEvent(hub2, e, 'hub peer 2');
    await repeaterMarkers('after the repeater event');
  });

  it('a hub peer event goes to messengers only: not to the other hub peer, not back, not to repeaters', async () => {
    const e = frame(room, { value: 'from-hub' });
    hub1.ws.send(e);
    await expectEvent(subscriber, e, 'subscriber gets the hub-peer event');
    await repeaterMarkers('after the hub-peer event');
  });

  it('a "*" messenger gets every source\'s event once; a registered sender never gets its own', async () => {
    const star = await open(ces, 'messenger');
    await star.register(['*', room]);
    await sender.register([room]);
    try {
      for (const [source, name] of [[sender, 'messenger'], [rep1, 'repeater'], [hub1, 'hub peer']]) {
        const e = frame(room, { value: `star-${name}` });
        source.ws.send(e);
        await expectEvent(star, e, `"*" gets the ${name} event`);
        await expectEvent(subscriber, e, `subscriber gets the ${name} event`);
        // The sender's first event is the repeater's: it never got its own
        if (source !== sender) await expectEvent(sender, e, `registered sender gets the ${name} event`);
      }
      const m = frame(room, { value: 'from-subscriber' });
      subscriber.ws.send(m);
      await expectEvent(sender, m, 'sender gets another messenger\'s event');
      await expectEvent(star, m, '"*" + room: once, the next event');
      // (what repeaters and hub peers queued here is not read again)
    } finally {
      await star.close();
    }
  });

  it('subscribers get the exact bytes of each event while several are in flight to repeaters and hub peers',
    async () => {
      const [roomA, roomB] = [unique('A'), unique('B')];
      const burstSender = await open(ces, 'messenger');
      const subA = await open(ces, 'messenger');
      const subB = await open(ces, 'messenger');
      try {
        await subA.register([roomA]);
        await subB.register([roomB]);
        for (let round = 0; round < 5; round++) {
          const sent = [];
          for (let n = 0; n < 20; n++) {
            const target = n % 2 ? roomB : roomA;
            const e = frame(target, { value: `burst-${round}-${n}` });
            sent.push(e);
            burstSender.ws.send(e);
          }
          for (const [sub, target] of [[subA, roomA], [subB, roomB]]) {
            const expected = sent.filter((e) => e.toString().startsWith(`${target}\n`));
            const got = [];
            for (let i = 0; i < expected.length; i++) got.push((await sub.next()).text);
            assert.deepEqual(got, expected.map(String), `round ${round}: subscriber of ${target} gets its room\'s events, in order, byte for byte`);
          }
        }
      } finally {
        await Promise.all([burstSender.close(), subA.close(), subB.close()]);
      }
    });
});
