// Interest routing in the hub mesh: each hub tells its peers the rooms its
// messengers registered (and "*"); an event crosses a link only if the far
// side wants its room. What a peer did not want is counted (not_wanted), and
// interest follows registrations as they come and go.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, unique, until, expectEvent, eventBuilders } from './harness.mjs';
import {
  startHub, stopHubs, hubStatus, meshOf, peerOf, linkNew, untilMeshUp, untilWanted, metrics, metric, drain,
} from './mesh_harness.mjs';

const { frame } = eventBuilders('mesh-interest-test');

describe('hub mesh: interest routing', { timeout: 60000 }, () => {
  let h1, h2, h3, hubs, sender, sender2;
  const clients = [];
  const track = (client) => { clients.push(client); return client; };
  const eventsInHub = async (hub) => (await hubStatus(hub)).events_in.hub;
  const perPeerMetric = async (hub, other, direction) =>
    metric(await metrics(hub), `ces_hub_mesh_events_total{peer="${other.router}",direction="${direction}"}`);

  before(async () => {
    [h1, h2, h3] = await Promise.all([startHub(), startHub(), startHub()]);
    hubs = [h1, h2, h3];
    await linkNew(h1, h2);
    await linkNew(h1, h3);
    await linkNew(h2, h3);
    await untilMeshUp(hubs);
    sender = track(await open(h1, 'messenger'));
    sender2 = track(await open(h2, 'messenger'));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await stopHubs(hubs || []);
  });

  it('no subscriber to R at hub 3: R events do not cross to it (not_wanted); once a client there registers R, they do',
    async () => {
      const room = unique('IR');
      const other = unique('IQ');
      const at2 = track(await open(h2, 'messenger'));
      const idle3 = track(await open(h3, 'messenger'));
      await at2.register([room]);
      await idle3.register([other]);
      await untilWanted([h1], h2, room);
      await untilWanted([h1], h3, other);
      const peer3 = await peerOf(h1, h3);
      assert.ok(!peer3.wants.includes(room), `hub 3 does not want ${room}: ${JSON.stringify(peer3.wants)}`);
      const before = {
        in3: await eventsInHub(h3), notWanted3: peer3.not_wanted, out2: (await peerOf(h1, h2)).events_out,
        metric3: await perPeerMetric(h1, h3, 'not_wanted'), meshNotWanted: (await meshOf(h1)).not_wanted,
      };
      assert.equal(typeof before.metric3, 'number', 'the per-peer not_wanted metric is there');

      const sent = [0, 1, 2].map((n) => frame(room, { value: `unwanted-at-3-${n}` }));
      for (const e of sent) sender.ws.send(e);
      for (const e of sent) await expectEvent(at2, e, 'hub 2 wants R and gets it');
      assert.deepEqual((await drain(idle3, 300)).map((i) => i.text), [], 'the client at hub 3 gets nothing');
      assert.equal(await eventsInHub(h3), before.in3, 'hub 3: events_in.hub unchanged');
      const after3 = await peerOf(h1, h3);
      assert.equal(after3.not_wanted - before.notWanted3, 3, 'hub 1 counts 3 events hub 3 did not want');
      assert.equal(after3.events_out, peer3.events_out, 'and sent hub 3 none');
      assert.equal((await peerOf(h1, h2)).events_out - before.out2, 3, 'hub 1 sent all three to hub 2');
      assert.equal(await perPeerMetric(h1, h3, 'not_wanted') - before.metric3, 3, '/metrics per-peer not_wanted');
      assert.equal((await meshOf(h1)).not_wanted, before.meshNotWanted, 'hub 2 wanted them: not counted as wanted by no peer');

      const at3 = track(await open(h3, 'messenger'));
      await at3.register([room]);
      assert.ok((await meshOf(h3)).wants.includes(room), 'hub 3 says it wants R');
      await untilWanted([h1, h2], h3, room);
      const e = frame(room, { value: 'wanted-at-3' });
      sender.ws.send(e);
      await expectEvent(at3, e, 'the client that registered R at hub 3 gets the next R event');
      await expectEvent(at2, e, 'hub 2 too');
      assert.deepEqual((await drain(idle3, 300)).map((i) => i.text), [], 'the other client at hub 3 still gets nothing');
      assert.deepEqual((await drain(at3, 0)).map((i) => i.text), [], 'once');
      assert.equal(await eventsInHub(h3), before.in3 + 1, 'hub 3: one event in from a peer');
      assert.equal((await peerOf(h1, h3)).not_wanted, after3.not_wanted, 'not counted as not wanted');
    });

  it('an event no peer wants is counted in mesh not_wanted and ces_hub_mesh_not_wanted_total, and crosses no link', async () => {
    const room = unique('IN');
    const before = {
      mesh: (await meshOf(h1)).not_wanted,
      total: metric(await metrics(h1), 'ces_hub_mesh_not_wanted_total'),
      in2: await eventsInHub(h2), in3: await eventsInHub(h3),
      peer2: (await peerOf(h1, h2)).not_wanted, peer3: (await peerOf(h1, h3)).not_wanted,
    };
    assert.equal(typeof before.total, 'number', 'ces_hub_mesh_not_wanted_total is there');
    sender.ws.send(frame(room, { value: 'nobody-1' }));
    sender.ws.send(frame(room, { value: 'nobody-2' }));
    await until(() => meshOf(h1), (mesh) => mesh.not_wanted >= before.mesh + 2, 'hub 1 counts 2 events no peer wanted');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await meshOf(h1)).not_wanted, before.mesh + 2, 'exactly 2');
    assert.equal(metric(await metrics(h1), 'ces_hub_mesh_not_wanted_total'), before.total + 2, '/metrics agrees');
    assert.equal((await peerOf(h1, h2)).not_wanted, before.peer2 + 2, 'declined by hub 2');
    assert.equal((await peerOf(h1, h3)).not_wanted, before.peer3 + 2, 'declined by hub 3');
    assert.equal(await eventsInHub(h2), before.in2, 'hub 2 got none');
    assert.equal(await eventsInHub(h3), before.in3, 'hub 3 got none');
  });

  it('a "*" subscriber at hub 3 gets every room from hubs 1 and 2; when it leaves, "*" is no longer wanted', async () => {
    const star = track(await open(h3, 'messenger'));
    await star.register(['*']);
    assert.ok((await meshOf(h3)).wants.includes('*'), 'hub 3 wants "*"');
    await untilWanted([h1, h2], h3, '*');
    const notWanted = (await peerOf(h1, h3)).not_wanted;
    const events = [
      [sender, frame(unique('IS'), { value: 'star-1' })],
      [sender, frame(unique('IS'), { value: 'star-2' })],
      [sender2, frame(unique('IS'), { value: 'star-3' })],
    ];
    for (const [client, e] of events) {
      client.ws.send(e);
      await expectEvent(star, e, `"*" at hub 3 gets ${e.toString().split('\n')[0]}`);
    }
    assert.deepEqual((await drain(star, 300)).map((i) => i.text), [], 'each once');
    assert.equal((await peerOf(h1, h3)).not_wanted, notWanted, 'nothing declined by hub 3 meanwhile');

    const in3 = await eventsInHub(h3);
    await star.close();
    await until(() => peerOf(h1, h3), (p) => !p.wants.includes('*'), 'hub 1 sees hub 3 no longer want "*"');
    await until(() => peerOf(h2, h3), (p) => !p.wants.includes('*'), 'hub 2 sees hub 3 no longer want "*"');
    assert.ok(!(await meshOf(h3)).wants.includes('*'), 'hub 3 itself no longer wants "*"');
    sender.ws.send(frame(unique('IS'), { value: 'after-star' }));
    await until(() => peerOf(h1, h3), (p) => p.not_wanted === notWanted + 1, 'the next event is declined by hub 3');
    assert.equal(await eventsInHub(h3), in3, 'and did not reach hub 3');
  });

  it('unregistering (create:false) or closing the client removes the interest; another subscriber keeps it', async () => {
    const [r1, r2] = [unique('IU'), unique('IU')];
    const a = track(await open(h3, 'messenger'));
    const b = track(await open(h3, 'messenger'));
    await a.register([r1, r2]);
    await b.register([r2]);
    await untilWanted([h1, h2], h3, r1);
    await untilWanted([h1, h2], h3, r2);

    // a leaves r1 (the only subscriber there): hub 3 stops wanting r1
    a.ws.send(JSON.stringify({ rooms: [r1], create: false }));
    await until(() => peerOf(h1, h3), (p) => !p.wants.includes(r1), 'hub 1 sees hub 3 drop r1');
    await until(() => peerOf(h2, h3), (p) => !p.wants.includes(r1), 'hub 2 sees hub 3 drop r1');
    assert.ok(!(await meshOf(h3)).wants.includes(r1), 'hub 3 no longer wants r1');
    assert.ok((await peerOf(h1, h3)).wants.includes(r2), 'r2 still wanted');
    const in3 = await eventsInHub(h3);
    const notWanted = (await peerOf(h1, h3)).not_wanted;
    sender.ws.send(frame(r1, { value: 'after-unregister' }));
    await until(() => peerOf(h1, h3), (p) => p.not_wanted === notWanted + 1, 'hub 3 declines r1');
    assert.equal(await eventsInHub(h3), in3, 'the r1 event did not reach hub 3');
    assert.deepEqual((await drain(a, 300)).map((i) => i.text), [], 'the client that left r1 gets nothing');

    // a closes; b still wants r2, so hub 3 still does
    await a.close();
    await until(() => hubStatus(h3), (st) => st.rooms[r2] === 1, 'hub 3 releases a\'s r2 subscription');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok((await peerOf(h1, h3)).wants.includes(r2), 'hub 1 still sees hub 3 want r2 (b is there)');
    const e = frame(r2, { value: 'b-still-there' });
    sender.ws.send(e);
    await expectEvent(b, e, 'b still gets r2 from hub 1');

    // b closes: nobody at hub 3 wants r2
    await b.close();
    await until(() => peerOf(h1, h3), (p) => !p.wants.includes(r2), 'hub 1 sees hub 3 drop r2 when its last subscriber left');
    await until(() => peerOf(h2, h3), (p) => !p.wants.includes(r2), 'hub 2 sees it too');
    assert.ok(!(await meshOf(h3)).wants.includes(r2), 'hub 3 no longer wants r2');
  });
});
