// Faults in the hub mesh: a hub killed with SIGKILL while events flow
// between the two others (they keep routing, with no gap), then restarted on
// the same ports: its links and interest come back with no /interconnect
// request, whether it had dialled a link or been dialled, and whether it
// comes back with a new random hub ID or the same one.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { open, unique, until, eventBuilders } from './harness.mjs';
import {
  startHub, restartHub, killHub, stopHubs, meshOf, peerIn, peerOf, linkNew, meshUp, untilMeshUp, untilWanted, hubId,
} from './mesh_harness.mjs';

const { frame } = eventBuilders('mesh-faults-test');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Sends `room` events {from, seq} every 20 ms from `client` until stopped
function stream(client, room, from) {
  const s = { sent: 0, stopped: false };
  s.timer = setInterval(() => {
    if (client.ws.readyState === 1) client.ws.send(frame(room, { from, seq: s.sent++ }));
  }, 20);
  s.stop = () => { clearInterval(s.timer); s.stopped = true; return s.sent; };
  return s;
}

// Records, per sender, the seq numbers a client receives (alongside its queue)
function recorder(client) {
  const seen = {};
  client.ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const text = data.toString();
    const event = JSON.parse(text.slice(text.indexOf('\n') + 1));
    if (event.from !== undefined && event.seq !== undefined) (seen[event.from] ||= []).push(event.seq);
  });
  return seen;
}

// The seqs must be exactly 0..count-1, in order: no gap, no duplicate
function assertNoGap(seqs = [], count, what) {
  const expected = Array.from({ length: count }, (_, n) => n);
  if (seqs.length === count && seqs.every((v, n) => v === n)) return;
  const missing = expected.filter((n) => !seqs.includes(n));
  const dups = seqs.filter((v, n) => seqs.indexOf(v) !== n);
  assert.fail(`${what}: got ${seqs.length} of ${count}; missing ${JSON.stringify(missing)}, duplicates ${JSON.stringify(dups)}`);
}

// Each pair of `hubs` has one link: dialled on one side, accepted on the other
async function assertOneLinkPerPair(hubs) {
  const meshes = await Promise.all(hubs.map(meshOf));
  for (let i = 0; i < hubs.length; i++) {
    for (let j = i + 1; j < hubs.length; j++) {
      const sides = [peerIn(meshes[i], hubs[j])?.link, peerIn(meshes[j], hubs[i])?.link].sort();
      assert.deepEqual(sides, ['accepted', 'dialled'], `hubs ${i + 1} and ${j + 1}: one link`);
    }
  }
}

describe('hub mesh: a hub killed and restarted', { timeout: 60000 }, () => {
  let hubs = [];
  let clients = [];
  let streams = [];
  const track = (client) => { clients.push(client); return client; };
  afterEach(async () => {
    for (const s of streams) s.stop();
    for (const c of clients) c.ws.terminate();
    await stopHubs(hubs);
    hubs = []; clients = []; streams = [];
  });

  it('hub 2 (dialler of 2-3, dialled by 1) killed: 1 and 3 keep routing; restarted with a new ID, its links and interest come back',
    async () => {
      const [h1, h2, h3] = hubs = await Promise.all([startHub(), startHub(), startHub()]);
      await linkNew(h1, h2);  // hub 2 is dialled
      await linkNew(h2, h3);  // hub 2 dials
      await linkNew(h1, h3);
      await untilMeshUp(hubs);
      assert.equal((await peerOf(h2, h1)).link, 'accepted');
      assert.equal((await peerOf(h2, h3)).link, 'dialled');
      const oldId = await hubId(h2);

      const room = unique('FR');
      const [at1, at2, at3] = await Promise.all(hubs.map((h) => open(h, 'messenger')));
      [at1, at2, at3].forEach(track);
      const [send1, send3] = [track(await open(h1, 'messenger')), track(await open(h3, 'messenger'))];
      await Promise.all([at1, at2, at3].map((c) => c.register([room])));
      await untilWanted([h1, h2], h3, room);
      await untilWanted([h2, h3], h1, room);
      await untilWanted([h1, h3], h2, room);
      const [seen1, seen2, seen3] = [recorder(at1), recorder(at2), recorder(at3)];
      const [s1, s3] = streams = [stream(send1, room, 'hub-1'), stream(send3, room, 'hub-3')];
      await until(async () => [seen2['hub-1']?.length, seen3['hub-1']?.length, seen1['hub-3']?.length],
        (n) => n.every((x) => x >= 5), 'events flowing from hubs 1 and 3 to every hub', 3000);

      const killedAt = performance.now();
      await killHub(h2);
      // Noticed after 3 heartbeats: hub 1 redials it, hub 3 dials its advertised address
      await until(() => peerOf(h1, h2), (p) => p?.state === 'retrying', 'hub 1 redialling hub 2', 3000);
      await until(() => peerOf(h3, h2), (p) => p?.state === 'retrying', 'hub 3 dialling hub 2 back', 3000);
      assert.equal((await peerOf(h3, h2)).link, 'none');
      assert.equal((await peerOf(h1, h3)).state, 'up', 'hub 1 - hub 3 stays up');
      // Let events flow for a while longer with hub 2 gone
      await sleep(Math.max(0, 1000 - (performance.now() - killedAt)));

      await restartHub(h2);  // same ports, new random ID
      await untilMeshUp(hubs, 'all three see each other "up" again, with no request', 8000);
      const newId = await hubId(h2);
      assert.notEqual(newId, oldId, 'hub 2 came back with a new ID');
      assert.equal((await peerOf(h1, h2)).hub_id, newId, 'hub 1 knows hub 2 by its new ID');
      assert.equal((await peerOf(h3, h2)).hub_id, newId, 'hub 3 knows hub 2 by its new ID');
      await assertOneLinkPerPair(hubs);
      // Interest both ways: hub 2 learns what 1 and 3 want; a client back at hub 2 gets hub 1's events
      await untilWanted([h2], h1, room);
      await untilWanted([h2], h3, room);
      const back2 = track(await open(h2, 'messenger'));
      const seenBack = recorder(back2);
      await back2.register([room]);
      await untilWanted([h1, h3], h2, room);
      const mark = [s1.sent, s3.sent];
      await until(() => seenBack, (seen) => seen['hub-1']?.some((n) => n > mark[0]) && seen['hub-3']?.some((n) => n > mark[1]),
        'the client at the restarted hub 2 gets hub 1\'s and hub 3\'s events', 3000);
      const from2 = frame(room, { from: 'hub-2-back', value: 'restarted' });
      back2.ws.send(from2);
      await until(() => at1.queue.some((i) => i.data.equals(from2)), Boolean, 'hub 1 gets an event from the restarted hub 2', 3000);
      await until(() => at3.queue.some((i) => i.data.equals(from2)), Boolean, 'hub 3 gets an event from the restarted hub 2', 3000);

      const [n1, n3] = [s1.stop(), s3.stop()];
      await until(() => [seen3['hub-1']?.length, seen1['hub-3']?.length], ([a, b]) => a >= n1 && b >= n3,
        'the last events arrive', 3000).catch(() => {});
      await sleep(200);
      assertNoGap(seen3['hub-1'], n1, 'hub 1 -> hub 3 while hub 2 was killed and restarted');
      assertNoGap(seen1['hub-3'], n3, 'hub 3 -> hub 1 while hub 2 was killed and restarted');
    });

  it('hub 1 (dialler of both its links) killed: 2 and 3 keep routing; restarted with its ID, 2 and 3 dial it back', async () => {
    const [h1, h2, h3] = hubs = await Promise.all([startHub({ id: 'mesh-f-1' }), startHub({ id: 'mesh-f-2' }), startHub({ id: 'mesh-f-3' })]);
    await linkNew(h1, h2);
    await linkNew(h1, h3);
    await linkNew(h2, h3);
    await untilMeshUp(hubs);
    assert.equal((await peerOf(h2, h1)).link, 'accepted');
    assert.equal((await peerOf(h3, h1)).link, 'accepted');

    const room = unique('FD');
    const [at1, at3] = [track(await open(h1, 'messenger')), track(await open(h3, 'messenger'))];
    const send2 = track(await open(h2, 'messenger'));
    await Promise.all([at1, at3].map((c) => c.register([room])));
    await untilWanted([h2, h3], h1, room);
    await untilWanted([h1, h2], h3, room);
    const seen3 = recorder(at3);
    const [s2] = streams = [stream(send2, room, 'hub-2')];
    await until(() => seen3['hub-2']?.length, (n) => n >= 5, 'events flowing from hub 2 to hub 3', 3000);

    const killedAt = performance.now();
    await killHub(h1);
    await until(() => peerOf(h2, h1), (p) => p?.state === 'retrying', 'hub 2 dialling hub 1 back', 3000);
    await until(() => peerOf(h3, h1), (p) => p?.state === 'retrying', 'hub 3 dialling hub 1 back', 3000);
    assert.equal((await peerOf(h2, h1)).requested, false, 'hub 2 was never asked for hub 1: it learned its address');
    await sleep(Math.max(0, 1000 - (performance.now() - killedAt)));

    await restartHub(h1);  // same ports, same ID; it remembers no peer
    await untilMeshUp(hubs, 'hubs 2 and 3 dialled hub 1 back', 8000);
    assert.equal(await hubId(h1), 'mesh-f-1');
    await assertOneLinkPerPair(hubs);
    assert.equal((await peerOf(h1, h2)).link, 'accepted', 'hub 1 did not ask for hub 2: hub 2 dialled it');
    assert.equal((await peerOf(h1, h3)).link, 'accepted', 'nor for hub 3');
    // Interest: hub 1 learns hub 3 wants the room; a client at hub 1 gets hub 2's stream again
    await untilWanted([h1], h3, room);
    const back1 = track(await open(h1, 'messenger'));
    const seenBack = recorder(back1);
    await back1.register([room]);
    await untilWanted([h2, h3], h1, room);
    await until(() => seenBack['hub-2']?.length, (n) => n >= 3, 'a client at the restarted hub 1 gets hub 2\'s events', 3000);
    const from1 = frame(room, { from: 'hub-1-back', value: 'restarted' });
    back1.ws.send(from1);
    await until(() => at3.queue.some((i) => i.data.equals(from1)), Boolean, 'hub 3 gets an event from the restarted hub 1', 3000);

    const n2 = s2.stop();
    await until(() => seen3['hub-2']?.length, (n) => n >= n2, 'the last events arrive', 3000).catch(() => {});
    await sleep(200);
    assertNoGap(seen3['hub-2'], n2, 'hub 2 -> hub 3 while hub 1 was killed and restarted');
    assert.ok(await meshUp(hubs), 'still up at the end');
  });
});
