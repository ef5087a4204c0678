// The hub mesh (issue 5): three `ces` hubs linked into a complete mesh by
// three /interconnect requests. Messenger- and repeater-sourced events reach
// the subscribers of every hub once, never their sender; at a peer an event
// is hub-sourced and goes no further, so nothing is delivered twice and
// nothing loops. One link per pair; DELETE unlinks on both sides.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, openOutside, unique, until, expectEvent, eventBuilders, postJson } from './harness.mjs';
import {
  startHub, stopHubs, hubStatus, meshOf, peerIn, peerOf, link, unlink, linkNew, untilMeshUp, untilWanted,
  hubId, getInterconnect, drain,
} from './mesh_harness.mjs';

const { event, frame } = eventBuilders('mesh-routing-test', ['core-state']);

// Waits until every hub sees every other hub of `hubs` want `room`
async function untilAllWant(hubs, room) {
  for (const target of hubs) await untilWanted(hubs.filter((h) => h !== target), target, room);
}

// The counters of the routing table this file checks, per hub
async function counters(hubs) {
  return Promise.all(hubs.map(async (hub) => {
    const st = await hubStatus(hub);
    const peers = {};
    for (const other of hubs) {
      const p = other === hub ? null : peerIn(st.mesh, other);
      if (p) peers[other.address] = { in: p.events_in, out: p.events_out, drops: p.drops };
    }
    return { in: st.events_in, peers };
  }));
}

describe('hub mesh: three ces hubs linked by /interconnect requests', { timeout: 60000 }, () => {
  let h1, h2, h3, hubs;
  const clients = [];
  const track = (client) => { clients.push(client); return client; };

  before(async () => {
    [h1, h2, h3] = await Promise.all([startHub(), startHub(), startHub()]);
    hubs = [h1, h2, h3];
    // host:port, the URL-encoded tcp:// form, and host:port again
    await linkNew(h1, h2);
    await linkNew(h1, h3, encodeURIComponent(h3.router));
    await linkNew(h2, h3, `127.0.0.1:${h3.ports.router}`);
    await untilMeshUp(hubs);
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await stopHubs(hubs || []);
  });

  it('a messenger event at hub 1 reaches the subscribers at hubs 1, 2 and 3 once, never its sender', async () => {
    const room = unique('MR');
    const sender = track(await open(h1, 'messenger'));
    const [local, at2, at3] = await Promise.all([open(h1, 'messenger'), open(h2, 'messenger'), open(h3, 'messenger')]);
    [local, at2, at3].forEach(track);
    await Promise.all([sender, local, at2, at3].map((c) => c.register([room])));
    await untilAllWant(hubs, room);
    const before = await counters(hubs);

    const e = frame(room, { value: 'from-hub-1' });
    sender.ws.send(e);
    await expectEvent(local, e, 'the other messenger at hub 1');
    await expectEvent(at2, e, 'the subscriber at hub 2');
    await expectEvent(at3, e, 'the subscriber at hub 3');
    const late = await Promise.all([sender, local, at2, at3].map((c) => drain(c, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], [], []],
      'nobody gets it twice, and the sender never');

    const now = await counters(hubs);
    assert.equal(now[0].in.messenger - before[0].in.messenger, 1, 'hub 1: one messenger event in');
    assert.equal(now[0].in.hub - before[0].in.hub, 0, 'hub 1: its own event never came back from a peer');
    assert.equal(now[1].in.hub - before[1].in.hub, 1, 'hub 2: one event in from a peer hub');
    assert.equal(now[2].in.hub - before[2].in.hub, 1, 'hub 3: one event in from a peer hub');
    assert.equal(now[0].peers[h2.address].out - before[0].peers[h2.address].out, 1, 'hub 1 sent it to hub 2 once');
    assert.equal(now[0].peers[h3.address].out - before[0].peers[h3.address].out, 1, 'hub 1 sent it to hub 3 once');
    assert.equal(now[1].peers[h3.address].out - before[1].peers[h3.address].out, 0, 'hub 2 did not forward it to hub 3');
    assert.equal(now[2].peers[h2.address].out - before[2].peers[h2.address].out, 0, 'hub 3 did not forward it to hub 2');
    assert.equal(now[1].peers[h1.address].in - before[1].peers[h1.address].in, 1, 'hub 2 counts it in from hub 1');
  });

  // Three subscribers of a fresh room, one per hub, once every hub knows the others want it
  async function subscribersEverywhere(prefix) {
    const room = unique(prefix);
    const subs = await Promise.all(hubs.map((h) => open(h, 'messenger')));
    subs.forEach(track);
    await Promise.all(subs.map((c) => c.register([room])));
    await untilAllWant(hubs, room);
    return { room, subs };
  }

  it('an outside system\'s event at hub 1\'s repeater reaches every hub\'s subscribers once', async () => {
    const { room, subs } = await subscribersEverywhere('MRO');
    const before = await counters(hubs);
    const outside = track(await openOutside(h1.repeater, room, 'mesh-sys'));
    const e = frame(room, { value: 'from-outside' });
    outside.ws.send(e);
    for (const [i, c] of subs.entries()) await expectEvent(c, e, `the outside event at hub ${i + 1}`);
    const late = await Promise.all([...subs, outside].map((c) => drain(c, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], [], []],
      'once at each hub, and nothing to the outside system');
    const now = await counters(hubs);
    assert.equal(now[0].in.repeater - before[0].in.repeater, 1, 'hub 1: one repeater-sourced event in');
    assert.equal(now[0].in.hub - before[0].in.hub, 0, 'hub 1: nothing came back from a peer');
    assert.equal(now[1].in.hub - before[1].in.hub, 1, 'hub 2: one event from a peer hub');
    assert.equal(now[2].in.hub - before[2].in.hub, 1, 'hub 3: one event from a peer hub');
  });

  it('an event POSTed to hub 1\'s repeater (/send) reaches every hub\'s subscribers once', async () => {
    const { room, subs } = await subscribersEverywhere('MRS');
    const before = await counters(hubs);
    const body = event(room, { value: 'posted-to-send' });
    const posted = await postJson(`${h1.repeater.http}/send`, body);
    assert.equal(posted.status, 200, `POST /send: ${posted.text}`);
    for (const [i, c] of subs.entries()) {
      await expectEvent(c, Buffer.from(`${room}\n${body}`), `the POST /send event at hub ${i + 1}`);
    }
    const late = await Promise.all(subs.map((c) => drain(c, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], []], 'once at each hub');
    const now = await counters(hubs);
    assert.equal(now[0].in.repeater - before[0].in.repeater, 1, 'hub 1: one repeater-sourced event in');
    assert.equal(now[1].in.hub - before[1].in.hub, 1, 'hub 2: one event from a peer hub');
    assert.equal(now[2].in.hub - before[2].in.hub, 1, 'hub 3: one event from a peer hub');
  });

  it('an event POSTed to hub 1\'s edge (/event) reaches the other hubs\' subscribers once', async () => {
    const { room, subs } = await subscribersEverywhere('MRP');
    const body = event(room, { value: 'posted-to-event' });
    const posted = await postJson(`${h1.http}/event`, body);
    assert.equal(posted.status, 200, `POST /event: ${posted.text}`);
    for (const [i, c] of subs.entries()) {
      await expectEvent(c, Buffer.from(`${room}\n${body}`), `the POST /event event at hub ${i + 1}`);
    }
    const late = await Promise.all(subs.map((c) => drain(c, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], []], 'once at each hub');
  });

  it('events from hubs 1, 2 and 3 reach the other hubs; none twice, none back; the counters add up', async () => {
    const room = unique('MRX');
    const perHub = 3;
    const members = await Promise.all(hubs.map((h) => open(h, 'messenger')));
    members.forEach(track);
    await Promise.all(members.map((c) => c.register([room])));
    await untilAllWant(hubs, room);
    const before = await counters(hubs);

    const sent = [[], [], []];
    for (let n = 0; n < perHub; n++) {
      members.forEach((c, i) => {
        const e = frame(room, { value: `hub-${i + 1}-n${n}` });
        sent[i].push(e.toString());
        c.ws.send(e);
      });
    }
    for (let i = 0; i < 3; i++) {
      const expected = sent.filter((_, j) => j !== i).flat();
      const got = [];
      while (got.length < expected.length) {
        const item = await members[i].next(3000).catch(() => assert.fail(`hub ${i + 1}: got ${got.length} of ${expected.length}`));
        assert.equal(item.binary, true, `hub ${i + 1}: unexpected Text ${item.text}`);
        got.push(item.text);
      }
      got.push(...(await drain(members[i], i === 0 ? 300 : 0)).map((item) => item.text));
      assert.deepEqual([...got].sort(), [...expected].sort(), `hub ${i + 1} gets the other hubs' events, each once, none of its own`);
      for (let j = 0; j < 3; j++) {
        if (j === i) continue;
        assert.deepEqual(got.filter((t) => sent[j].includes(t)), sent[j], `hub ${i + 1}: hub ${j + 1}'s events in the order sent`);
      }
    }

    const now = await counters(hubs);
    hubs.forEach((hub, i) => {
      assert.equal(now[i].in.messenger - before[i].in.messenger, perHub, `hub ${i + 1}: its messenger's events`);
      assert.equal(now[i].in.hub - before[i].in.hub, 2 * perHub, `hub ${i + 1}: events_in.hub = what the two others sent`);
      for (const other of hubs) {
        if (other === hub) continue;
        const [b, a] = [before[i].peers[other.address], now[i].peers[other.address]];
        assert.equal(a.in - b.in, perHub, `hub ${i + 1}: events in from ${other.address}`);
        assert.equal(a.out - b.out, perHub, `hub ${i + 1}: events out to ${other.address}`);
        assert.equal(a.drops, b.drops, `hub ${i + 1}: no drops towards ${other.address}`);
      }
    });
  });

  it('asking again, or from the other side, answers 200 "already linked"; each pair has one link, dialled by the asker', async () => {
    const ids = await Promise.all(hubs.map(hubId));
    const pairs = [[0, 1], [0, 2], [1, 2]];  // the asker first
    for (const [i, j] of pairs) {
      for (const [from, to] of [[i, j], [j, i]]) {
        const again = await link(hubs[from], hubs[to].address);
        assert.equal(again.status, 200, `hub ${from + 1} -> hub ${to + 1}: ${again.text}`);
        assert.equal(again.json?.result, 'already linked', again.text);
        assert.equal(again.json.address, hubs[to].router);
        assert.equal(again.json.hub_id, ids[to]);
        assert.equal(again.json.state, 'up');
      }
    }
    const encoded = await link(h3, encodeURIComponent(h1.router));
    assert.equal(encoded.status, 200, `the URL-encoded form too: ${encoded.text}`);
    // Still one link per pair, also after a few heartbeats
    await new Promise((resolve) => setTimeout(resolve, 700));
    const meshes = await Promise.all(hubs.map(meshOf));
    for (const [i, j] of pairs) {
      assert.equal(peerIn(meshes[i], hubs[j])?.link, 'dialled', `hub ${i + 1} dialled hub ${j + 1}`);
      assert.equal(peerIn(meshes[j], hubs[i])?.link, 'accepted', `hub ${j + 1} accepted hub ${i + 1}'s link`);
      assert.equal(peerIn(meshes[i], hubs[j]).state, 'up');
      assert.equal(peerIn(meshes[j], hubs[i]).state, 'up');
      assert.equal(peerIn(meshes[i], hubs[j]).requested, true, `hub ${i + 1} was asked for hub ${j + 1}`);
    }
    meshes.forEach((mesh, i) => {
      assert.equal(mesh.peers.length, 2, `hub ${i + 1}: two peers, no duplicate entries`);
      assert.equal(mesh.complete, true, `hub ${i + 1}: complete`);
      assert.deepEqual(mesh.missing, []);
      assert.equal(mesh.address, hubs[i].router);
    });
    // GET /interconnect lists the same mesh
    const listed = await getInterconnect(h2);
    assert.equal(listed.hub_id, ids[1]);
    assert.deepEqual(listed.mesh.peers.map((p) => p.address).sort(), [h1.router, h3.router].sort());
    // /metrics agrees
    const text = await (await fetch(`${h1.http}/metrics`)).text();
    assert.match(text, /^ces_hub_mesh_peers\{state="up"\} 2$/m);
    assert.match(text, new RegExp(`^ces_hub_mesh_peer_up\\{peer="${h2.router}"\\} 1$`, 'm'));
  });

  it('a bad address gets 400 with a reason, and changes nothing', async () => {
    const bad = ['bad', '127.0.0.1:', '127.0.0.1:99999', ':7200', encodeURIComponent('http://127.0.0.1:7200'),
      encodeURIComponent('tcp://')];
    for (const address of bad) {
      const answer = await link(h1, address);
      assert.equal(answer.status, 400, `POST /interconnect/${address}: ${answer.text}`);
      assert.ok(answer.text.trim().length > 10, `a reason for ${address}: ${answer.text}`);
    }
    for (const own of [h1.address, encodeURIComponent(h1.router)]) {
      const answer = await link(h1, own);
      assert.equal(answer.status, 400, `its own address ${own}: ${answer.text}`);
      assert.match(answer.text, /own address/);
    }
    const mesh = await meshOf(h1);
    assert.deepEqual(mesh.peers.map((p) => p.address).sort(), [h2.router, h3.router].sort(), 'no peer was added');
  });

  it('DELETE unlinks on both sides (either side may ask); 404 when there is no link; POST links again', async () => {
    const room = unique('MRD');
    const [sender, at2, at3] = await Promise.all([open(h1, 'messenger'), open(h2, 'messenger'), open(h3, 'messenger')]);
    [sender, at2, at3].forEach(track);
    await Promise.all([at2, at3].map((c) => c.register([room])));
    await untilWanted([h1], h2, room);
    await untilWanted([h1], h3, room);

    const gone = await unlink(h1, h2.address);
    assert.equal(gone.status, 200, gone.text);
    assert.equal(gone.json?.result, 'unlinked', gone.text);
    assert.equal(gone.json.address, h2.router);
    assert.equal(await peerOf(h1, h2), undefined, 'hub 1 forgot hub 2 at once');
    await until(() => peerOf(h2, h1), (p) => p === undefined, 'hub 2 forgets hub 1');
    // Nobody dials the link back, after 3 heartbeats either
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(await peerOf(h1, h2), undefined, 'hub 1 did not redial hub 2');
    assert.equal(await peerOf(h2, h1), undefined, 'hub 2 did not dial hub 1 back');
    assert.equal((await peerOf(h1, h3)).state, 'up', 'hub 1 - hub 3 untouched');
    // Events from hub 1 now reach hub 3 only
    const e = frame(room, { value: 'after-unlink' });
    sender.ws.send(e);
    await expectEvent(at3, e, 'hub 3 still gets hub 1\'s events');
    assert.deepEqual((await drain(at2, 300)).map((i) => i.text), [], 'hub 2 no longer does');

    const again = await unlink(h1, h2.address);
    assert.equal(again.status, 404, again.text);
    assert.match(again.text, /no link/);
    const fromOther = await unlink(h2, h1.address);
    assert.equal(fromOther.status, 404, `hub 2 forgot it too: ${fromOther.text}`);

    // The accepted side may unlink too: hub 2 dialled hub 3
    assert.equal((await peerOf(h3, h2)).link, 'accepted');
    const accepted = await unlink(h3, encodeURIComponent(h2.router));
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.json?.result, 'unlinked');
    await until(() => peerOf(h2, h3), (p) => p === undefined, 'hub 2 forgets hub 3');
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(await peerOf(h2, h3), undefined, 'hub 2 did not redial hub 3');
    assert.equal(await peerOf(h3, h2), undefined, 'hub 3 did not dial hub 2 back');
    assert.deepEqual((await meshOf(h2)).peers, [], 'hub 2 has no peers left');

    // Linking again
    await linkNew(h2, h1);
    await linkNew(h3, h2);
    await untilMeshUp(hubs, 'the mesh up again');
    await untilWanted([h1], h2, room);
    const e2 = frame(room, { value: 'relinked' });
    sender.ws.send(e2);
    await expectEvent(at2, e2, 'hub 2 gets hub 1\'s events again');
    await expectEvent(at3, e2, 'hub 3 too, once');
    assert.deepEqual((await Promise.all([at2, at3].map((c) => drain(c, 300)))).flat().map((i) => i.text), [], 'once');
  });
});
