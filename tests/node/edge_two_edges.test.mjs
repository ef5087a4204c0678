// Two edges on one hub: `ces` (hub + edge A) and `ces-edge` (edge B) linked
// to A's hub over tcp://. Events cross between the edges in both directions,
// and the hub's one-repeater choice reaches a repeater behind edge B.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, startEdge, stop, open, status, unique, until, expectEvent, eventBuilders } from './harness.mjs';

let a;
let b;
const { frame } = eventBuilders('edge-two-edges-test');  // no 'event-tags'
const hubStatus = async () => (await status(a)).hub;

describe('two edges on one hub', () => {
  before(async () => {
    a = await startCes();
    b = await startEdge(a.router, a.pub);
    await until(async () => (await fetch(`${b.http}/health`)).status, (s) => s === 200, 'edge B linked to the hub');
    await until(hubStatus, (hub) => hub.links.filter((link) => link.name.startsWith('edge ')).length === 2, 'the hub sees both edges');
  });
  after(async () => {
    if (b) await stop(b.child);
    if (a) await stop(a.child);
  });

  it('a messenger on A reaches a subscriber on B, and B reaches A; never back to the sender', async () => {
    const room = unique();
    const onA = await open(a, 'messenger');
    const onB = await open(b, 'messenger');
    const alsoA = await open(a, 'messenger');
    await onA.register([room]);
    await onB.register([room]);
    await alsoA.register([room]);
    const hub = await hubStatus();
    assert.equal(hub.rooms[room], 2, 'one subscription per edge at the hub');
    const e1 = frame(room, { value: 'from-A' });
    onA.ws.send(e1);
    await expectEvent(onB, e1, 'B gets A\'s event');
    await expectEvent(alsoA, e1, 'the other messenger on A gets it');
    const e2 = frame(room, { value: 'from-B' });
    onB.ws.send(e2);
    await expectEvent(onA, e2, 'A gets B\'s event (and did not get its own first)');
    await expectEvent(alsoA, e2, 'once on A');
    const e3 = frame(room, { value: 'marker' });
    alsoA.ws.send(e3);
    await expectEvent(onB, e3, 'B did not get its own event: the marker is next');
    await expectEvent(onA, e3, 'A: marker');
    await Promise.all([onA.close(), onB.close(), alsoA.close()]);
  });

  it('"*" on B gets events sent on A; its subscription is released at the hub on close', async () => {
    const room = unique();
    const star = await open(b, 'messenger');
    const sender = await open(a, 'messenger');
    await star.register(['*']);
    const e = frame(room);
    sender.ws.send(e);
    await expectEvent(star, e, '"*" on B');
    await star.close();
    await until(hubStatus, (hub) => hub.star_subscribers === 0, 'the "*" subscription released at the hub');
    await sender.close();
  });

  it('the only repeater, behind edge B, gets every messenger event sent on A (and on B, and POSTed to A)', async () => {
    const room = unique();
    const repeater = await open(b, 'repeater');
    await until(hubStatus, (hub) => hub.repeaters === 1, 'the repeater attached at the hub');
    const sender = await open(a, 'messenger');
    const senderB = await open(b, 'messenger');
    for (let n = 0; n < 3; n++) {
      const e = frame(room, { value: `to-repeater-${n}` });
      sender.ws.send(e);
      await expectEvent(repeater, e, `event ${n} from A reaches the repeater on B`);
    }
    const eB = frame(room, { value: 'from-B' });
    senderB.ws.send(eB);
    await expectEvent(repeater, eB, 'an event from B reaches it too');
    const body = JSON.stringify({ 'affected-room': { roomID: room }, key: 'posted' });
    const response = await fetch(`${a.http}/event`, { method: 'POST', body });
    assert.equal(response.status, 200);
    await response.text();
    await expectEvent(repeater, Buffer.from(`${room}\n${body}`), 'a POST to A reaches it');
    // Its own events go to messengers (on A), never back to repeaters
    const subscriber = await open(a, 'messenger');
    await subscriber.register([room]);
    const fromRepeater = frame(room, { value: 'from-repeater' });
    repeater.ws.send(fromRepeater);
    await expectEvent(subscriber, fromRepeater, 'a messenger on A gets the repeater\'s event');
    const marker = frame(room, { value: 'marker' });
    sender.ws.send(marker);
    await expectEvent(repeater, marker, 'the repeater did not get its own event back');
    const hub = await hubStatus();
    assert.equal(hub.deliveries.repeater, 6);
    await Promise.all([repeater.close(), sender.close(), senderB.close(), subscriber.close()]);
  });

  it('a hub peer on B gets messenger events from A; its own events reach messengers on A', async () => {
    const room = unique();
    const peer = await open(b, 'hub');
    await until(hubStatus, (hub) => hub.connections.hub === 1, 'the hub peer attached');
    const sender = await open(a, 'messenger');
    const e = frame(room, { value: 'to-peer' });
    sender.ws.send(e);
    await expectEvent(peer, e, 'hub peer on B gets A\'s messenger event');
    const subscriber = await open(a, 'messenger');
    await subscriber.register([room]);
    const fromPeer = frame(room, { value: 'from-peer' });
    peer.ws.send(fromPeer);
    await expectEvent(subscriber, fromPeer, 'messenger on A gets the hub peer\'s event');
    await Promise.all([peer.close(), sender.close(), subscriber.close()]);
  });

  it('/status of `ces-edge` has no "hub" part and /metrics no ces_hub_ lines; `ces` has both', async () => {
    const stB = await status(b);
    assert.equal(stB.hub, undefined);
    assert.equal(stB.edge.hub_connected, true);
    const stA = await status(a);
    assert.equal(typeof stA.hub, 'object');
    assert.equal(stB.edge.hub, stA.hub.hub_id, 'B is linked to A\'s hub');
    const metricsB = await (await fetch(`${b.http}/metrics`)).text();
    assert.match(metricsB, /^ces_edge_clients\{role="messenger"\} \d+$/m);
    assert.doesNotMatch(metricsB, /^ces_hub_/m);
    const metricsA = await (await fetch(`${a.http}/metrics`)).text();
    assert.match(metricsA, /^ces_hub_/m);
  });
});
