// A WebSocket target (another site's repeater): the repeater dials
// <addr>/connect/<room>/<system-id>, sends Binary ROOM\nJSON frames on it,
// and what the peer sends back on that link is repeater-sourced.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCes, stop, open, status, unique, until, expectEvent, eventBuilders, wsTarget, freePort } from './harness.mjs';

const { frame } = eventBuilders('repeater-ws-target-test', ['core-state']);

describe('repeater: a WebSocket target', () => {
  let ces, target, sender, subscriber, hubPeer, link;
  const [room, room2] = [unique('ITB'), unique('JFSB')];

  before(async () => {
    target = await wsTarget();
    ces = await startCes(['--central', target.url, '--system-id', 'test-sys']);
    [sender, subscriber, hubPeer] = await Promise.all(['messenger', 'messenger', 'hub'].map((type) => open(ces, type)));
    await subscriber.register([room, room2]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1 && st.hub.connections.hub === 1,
      'the repeater in the hub\'s rotation and a hub peer attached');
  });
  after(async () => {
    for (const c of [sender, subscriber, hubPeer]) c?.ws.terminate();
    if (ces) await stop(ces.child);
    await target?.close();
  });

  // A messenger event the target must get next, on the link of its room
  async function toTarget(r, value, what) {
    const e = frame(r, { value });
    sender.ws.send(e);
    await expectEvent(subscriber, e, `${what}: subscriber`);
    await expectEvent(hubPeer, e, `${what}: hub peer`);
    const got = await target.messages.next(3000, `${what}: message at the target`);
    assert.equal(got.binary, true, `${what}: a Binary frame`);
    assert.ok(got.data.equals(e), `${what}: the target gets ${JSON.stringify(e.toString())}, got ${JSON.stringify(got.text)}`);
    return got;
  }

  it('gets the event, byte for byte, on /connect/<room>/<system-id>', async () => {
    const got = await toTarget(room, 'to-peer', 'first event');
    link = await target.connections.next(1000, 'connection');
    assert.equal(link.path, `/connect/${room}/test-sys`, 'the repeater dials /connect/ROOM/SYSTEM_ID');
    assert.equal(got.conn, link, 'on that connection');
    const st = await until(() => status(ces.repeater), (s) => s.repeater.targets[0]?.sent === 1,
      'the target counted one sent');
    const late = performance.now() - got.at;
    assert.ok(late < 500, `the counter reached /status ${Math.round(late)} ms after the event reached the target`);
    assert.equal(st.repeater.system_id, 'test-sys');
    assert.deepEqual({ url: st.repeater.targets[0].url, links: st.repeater.targets[0].links, state: st.repeater.targets[0].state },
      { url: target.url, links: 1, state: 'ok' });
  });

  it('an event the target sends back on the link reaches messengers and hub peers, and no repeater', async () => {
    const back = frame(room, { value: 'from-peer', data: { via: 'link' } });
    link.ws.send(back);
    await expectEvent(subscriber, back, 'subscriber gets the event the peer sent back');
    await expectEvent(hubPeer, back, 'hub peer gets it');
    // The target's next message is this marker, not its own event back
    await toTarget(room, 'marker-after-peer', 'marker');
    const st = await until(() => status(ces.repeater), (s) => s.repeater.events_from_links === 1,
      'one event from links counted');
    assert.equal(st.repeater.events_to_targets, 2, 'the hub gave this repeater the two messenger events only');
    assert.equal(target.connections.items.length, 1, 'the link was reused');
  });

  it('opens one link per room and keeps the first', async () => {
    await toTarget(room2, 'other-room', 'other room');
    const second = await target.connections.next(1000, 'second connection');
    assert.equal(second.path, `/connect/${room2}/test-sys`);
    const got = await toTarget(room, 'first-room-again', 'first room again');
    assert.equal(got.conn, link, 'the first room\'s link is still in use');
    await until(() => status(ces.repeater), (s) => s.repeater.targets[0].links === 2, 'two links counted');
  });

  it('large events both ways, a fragmented event and a Ping from the peer', async () => {
    const big = 'x'.repeat(200 * 1024);
    const got = await toTarget(room, big, '200 KB event to the peer');
    assert.equal(got.conn, link, 'on the same link');
    const back = frame(room, { value: `back-${big}` });
    link.ws.send(back);
    await expectEvent(subscriber, back, 'subscriber gets the peer\'s 200 KB event');
    await expectEvent(hubPeer, back, 'hub peer gets it');
    // One event in three fragments, with a Ping in between
    const pieces = frame(room, { value: 'fragmented' });
    const cut = [0, 20, 60, pieces.length];
    const pong = new Promise((resolve) => link.ws.once('pong', (data) => resolve(data.toString())));
    for (let i = 0; i < 3; i++) {
      link.ws.send(pieces.subarray(cut[i], cut[i + 1]), { binary: true, fin: i === 2 });
      if (i === 0) link.ws.ping('are-you-there');
    }
    assert.equal(await pong, 'are-you-there', 'the repeater answers the peer\'s Ping with its data');
    await expectEvent(subscriber, pieces, 'subscriber gets the reassembled event');
    await expectEvent(hubPeer, pieces, 'hub peer gets it');
    await toTarget(room, 'marker-after-big', 'marker');
  });
});

describe('two sites linked by their repeaters (each the other\'s WebSocket target)', () => {
  let site1, site2, clients = [];
  const room = unique('ITB');

  before(async () => {
    const [port1, port2] = [await freePort(), await freePort()];
    // Each repeater's target is the other's repeater port, chosen before either starts
    // (a later --repeater-listen overrides the one startCes picks)
    const site = async (port, target, id) => {
      const ces = await startCes(['--repeater-listen', `127.0.0.1:${port}`, '--central', `ws://127.0.0.1:${target}`, '--system-id', id]);
      ces.repeater = { port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
      return ces;
    };
    site1 = await site(port1, port2, 'site1');
    site2 = await site(port2, port1, 'site2');
    for (const site of [site1, site2]) {
      [site.sender, site.subscriber] = await Promise.all([open(site, 'messenger'), open(site, 'messenger')]);
      clients.push(site.sender, site.subscriber);
      await site.subscriber.register([room]);
      await until(() => status(site), (st) => st.hub.repeaters === 1, 'the repeater in its hub\'s rotation');
    }
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const site of [site1, site2]) if (site) await stop(site.child);
  });

  it('an event crosses to the other site once and does not come back', async () => {
    const valueOf = (item) => JSON.parse(item.text.slice(room.length + 1)).value;
    for (const [from, to, name] of [[site1, site2, 'site1'], [site2, site1, 'site2']]) {
      const e = frame(room, { value: `from-${name}` });
      from.sender.ws.send(e);
      await expectEvent(from.subscriber, e, `${name}'s own subscriber`);
      await expectEvent(to.subscriber, e, `the other site's subscriber, byte for byte`);
    }
    // Markers: had anything looped back, it would come before them
    for (const site of [site1, site2]) {
      const m = frame(room, { value: 'marker' });
      site.sender.ws.send(m);
      assert.equal(valueOf(await site.subscriber.next()), 'marker', 'nothing came back to the sending site');
      assert.equal(valueOf(await (site === site1 ? site2 : site1).subscriber.next()), 'marker');
    }
    const [st1, st2] = await Promise.all([status(site1.repeater), status(site2.repeater)]);
    assert.equal(st1.edge.clients.find((c) => c.role === 'outside')?.remote.startsWith('127.0.0.1:'), true,
      'site2\'s link is an outside system at site1');
    assert.deepEqual([st1.repeater.events_to_targets, st2.repeater.events_to_targets], [2, 2],
      'each repeater forwarded its own site\'s two events only');
  });
});
