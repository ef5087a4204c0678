// An edge (`ces-edge`) and its hub link: with no hub the edge says so
// (/health 503, "hub unreachable" errors, counted drops); when a hub comes
// up the edge links and restores its clients; after a hub restart its
// subscribers and repeaters receive again (SPEC §6: no silent loss after a
// reconnect).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, startEdge, freePort, stop, open, status, unique, until } from './harness.mjs';

let edge;
let hub;
let router;
let pub;
const LINK_TIMEOUT = 8000;  // ms for the edge to (re)link or count, by default
const frame = (room, extra = {}) => Buffer.from(`${room}\n${JSON.stringify({ 'affected-room': { roomID: room }, key: 'k', ...extra })}`);

const startHub = async (id) => start('ces-hub', ['--router', router, '--pub', pub, '--http', `127.0.0.1:${await freePort()}`, '--heartbeat', '200', '--hub-id', id]);

// Sends a fresh event every 100 ms until `receiver` gets one of them (a
// just-relinked SUB socket may miss the first); returns the attempts.
// Registration notices and events of earlier phases are skipped.
async function sendUntilReceived(sender, receiver, room, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (let n = 0; ; n++) {
    sender.ws.send(frame(room, { attempt: n, what }));
    const waitUntil = Date.now() + 100;
    while (Date.now() < waitUntil) {
      let item;
      try {
        item = await receiver.next(Math.max(1, waitUntil - Date.now()));
      } catch {
        break;
      }
      if (!item.binary) {
        assert.ok(JSON.parse(item.text).registered, `${what}: got Text ${item.text}`);
        continue;
      }
      assert.ok(item.text.startsWith(`${room}\n`), `${what}: unexpected ${item.text}`);
      if (JSON.parse(item.text.slice(room.length + 1)).what === what) return n + 1;
    }
    if (Date.now() > deadline) assert.fail(`${what}: nothing received in ${timeout} ms (${n + 1} sent)`);
  }
}

// The next event of this phase on `client`, skipping earlier phases' events
async function nextOfPhase(client, room, what) {
  for (;;) {
    const item = await client.next(3000);
    assert.equal(item.binary, true, `${what}: got Text ${item.text}`);
    assert.ok(item.text.startsWith(`${room}\n`), `${what}: unexpected ${item.text}`);
    if (JSON.parse(item.text.slice(room.length + 1)).what === what) return item;
  }
}

describe('edge hub link', () => {
  let sender, subscriber, repeater;
  const room = unique();

  before(async () => {
    router = `tcp://127.0.0.1:${await freePort()}`;
    pub = `tcp://127.0.0.1:${await freePort()}`;
    edge = await startEdge(router, pub);
  });
  after(async () => {
    if (edge) await stop(edge.child);
    if (hub) await stop(hub);
  });

  it('with no hub: /health 503, events get a "hub unreachable" error and are counted', async (t) => {
    const health = await fetch(`${edge.http}/health`);
    assert.equal(health.status, 503);
    assert.match(await health.text(), /hub unreachable/);
    let st = await status(edge);
    assert.equal(st.edge.hub_connected, false);
    sender = await open(edge, 'messenger');
    subscriber = await open(edge, 'messenger');
    repeater = await open(edge, 'repeater');
    subscriber.ws.send(JSON.stringify({ rooms: [room], create: true }));
    sender.sendEvent(room, JSON.stringify({ 'affected-room': { roomID: room } }));
    const item = await sender.next();
    assert.equal(item.binary, false);
    assert.match(JSON.parse(item.text).error, /hub unreachable/);
    st = await status(edge);
    assert.equal(st.edge.counters.drops.hub_unreachable, 1);
    assert.equal(st.edge.clients.find((c) => c.role === 'messenger' && c.events_in === 1).dropped, 1);
    const response = await fetch(`${edge.http}/event`, { method: 'POST', body: JSON.stringify({ 'affected-room': { roomID: room } }) });
    const body = await response.text();
    t.diagnostic(`POST /event with no hub: ${response.status} ${JSON.stringify(body)}`);
    // A POST that could not reach the hub is counted (the HTTP reply may
    // overtake the worker's note to the actor: poll)
    await until(() => status(edge), (s) => s.edge.counters.drops.hub_unreachable === 2, 'the POST counted as hub_unreachable', LINK_TIMEOUT);
    // No hub has confirmed the registration, so no notice may claim it
    assert.ok(!subscriber.queue.some((i) => !i.binary && JSON.parse(i.text).registered),
      `registration confirmed with no hub: ${subscriber.queue.map((i) => i.text).join(' | ')}`);
  });

  it('POST /event while the hub is unreachable does not answer 200 "Processing event"',
    async () => {
      const response = await fetch(`${edge.http}/event`, { method: 'POST', body: JSON.stringify({ 'affected-room': { roomID: room } }) });
      const body = await response.text();
      assert.notEqual(response.status, 200, `got ${response.status} ${JSON.stringify(body)} for an event that was dropped`);
      assert.match(body, /hub/);
    });

  it('when the hub starts, the edge links and routes for the clients it already had', async (t) => {
    hub = await startHub('hub-one');
    await until(() => status(edge), (st) => st.edge.hub_connected && st.edge.hub === 'hub-one', 'edge linked to hub-one', LINK_TIMEOUT);
    const health = await fetch(`${edge.http}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    // The registration made while unlinked is confirmed once the new hub
    // has it, and from then on the very first event arrives
    const notice = await subscriber.next(5000);
    assert.deepEqual(JSON.parse(notice.text), { registered: [room] });
    const attempts = await sendUntilReceived(sender, subscriber, room, 'subscriber registered before the hub existed');
    assert.equal(attempts, 1, 'the first event after the notice arrives');
    // The repeater attached before the hub existed gets messenger events
    await nextOfPhase(repeater, room, 'subscriber registered before the hub existed');
  });

  it('after a hub restart the edge relinks; its subscribers and repeaters receive again', async (t) => {
    await stop(hub);
    hub = await startHub('hub-two');
    await until(() => status(edge), (st) => st.edge.hub_connected && st.edge.hub === 'hub-two', 'edge relinked to hub-two', 10000);
    const attempts = await sendUntilReceived(sender, subscriber, room, 'subscriber after the restart');
    t.diagnostic(`events sent until the first arrived after the relink: ${attempts}`);
    // The repeater gets events from the new hub
    await nextOfPhase(repeater, room, 'subscriber after the restart');
    // A new registration after the relink gets its notice and its events
    const room2 = unique();
    await subscriber.register([room2]);
    const e = frame(room2);
    sender.ws.send(e);
    let got = await subscriber.next();
    while (got.text.startsWith(`${room}\n`)) got = await subscriber.next();  // late retries
    assert.equal(got.text, e.toString(), 'a registration made after the relink works at once');
    assert.ok(attempts >= 1);
    await Promise.all([sender.close(), subscriber.close(), repeater.close()]);
  });
});
