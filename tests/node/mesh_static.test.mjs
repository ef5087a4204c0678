// A static mesh: hubs started with --peer, CES_HUB_PEERS or --peers-file
// link up with no request (and whichever starts first waits for the others).
// Hub IDs are unique in a mesh: a hub asked to link to its own address says
// 400, and a hub whose peer turns out to have its own ID does not link.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startEdge, stop, open, unique, until, expectEvent, eventBuilders, getJson } from './harness.mjs';
import {
  cesPorts, startHub, startHubOnly, stopHubs, meshOf, link, metrics, metric, drain,
} from './mesh_harness.mjs';

const { frame } = eventBuilders('mesh-static-test');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const byId = (mesh, id) => mesh.peers.find((p) => p.hub_id === id);

describe('hub mesh: a static mesh from flags, environment and a peers file', { timeout: 60000 }, () => {
  let a, b, c, hubs, edgeA, edgeB, peersFile;
  const clients = [];
  const track = (client) => { clients.push(client); return client; };

  before(async () => {
    const portsOf = async () => ({ router: await freePort(), pub: await freePort(), http: await freePort() });
    const [pa, pb, pc] = [await portsOf(), await portsOf(), await cesPorts()];
    peersFile = path.join(os.tmpdir(), `ces-peers-${process.pid}.txt`);
    fs.writeFileSync(peersFile, `# the static mesh of hub C\n\n   # indented comment\ntcp://127.0.0.1:${pa.router}\n\n`);
    // A ring: A dials B (--peer), B dials C (CES_HUB_PEERS), C dials A (--peers-file)
    [a, b, c] = await Promise.all([
      startHubOnly({ ports: pa, id: 'static-a', extra: ['--peer', `127.0.0.1:${pb.router}`] }),
      startHubOnly({ ports: pb, id: 'static-b', extra: ['--advertise', `tcp://localhost:${pb.router}`],
        env: { CES_HUB_PEERS: `127.0.0.1:${pc.router}` } }),
      startHub({ ports: pc, id: 'static-c', extra: ['--peers-file', peersFile] }),
    ]);
    hubs = [a, b, c];
    edgeA = await startEdge(a.router, a.pub);
    edgeB = await startEdge(b.router, b.pub);
  });
  after(async () => {
    for (const cl of clients) cl.ws.terminate();
    await Promise.all([edgeA, edgeB].filter(Boolean).map((e) => stop(e.child)));
    await stopHubs(hubs || []);
    if (peersFile) fs.rmSync(peersFile, { force: true });
  });

  it('the three hubs link into a complete mesh with no request, one link per pair', async () => {
    const ids = { a: 'static-a', b: 'static-b', c: 'static-c' };
    const meshes = await until(() => Promise.all(hubs.map(meshOf)),
      (ms) => ms.every((mesh) => mesh.peers.length === 2 && mesh.peers.every((p) => p.state === 'up')),
      'every hub has two peers "up"');
    const [ma, mb, mc] = meshes;
    // A dialled B (--peer)
    assert.equal(byId(ma, ids.b).link, 'dialled');
    assert.equal(byId(ma, ids.b).requested, true);
    assert.equal(byId(ma, ids.b).address, b.router);
    assert.equal(byId(mb, ids.a).link, 'accepted');
    assert.equal(byId(mb, ids.a).requested, false);
    // B dialled C (CES_HUB_PEERS); C knows B by its advertised address
    assert.equal(byId(mb, ids.c).link, 'dialled');
    assert.equal(byId(mb, ids.c).requested, true);
    assert.equal(byId(mc, ids.b).link, 'accepted');
    assert.equal(byId(mc, ids.b).address, `tcp://localhost:${b.ports.router}`, 'B\'s --advertise address');
    assert.equal(mb.address, `tcp://localhost:${b.ports.router}`, 'B\'s mesh address is the advertised one');
    // C dialled A (--peers-file)
    assert.equal(byId(mc, ids.a).link, 'dialled');
    assert.equal(byId(mc, ids.a).requested, true);
    assert.equal(byId(ma, ids.c).link, 'accepted');
    for (const [i, hub] of hubs.entries()) {
      await until(() => meshOf(hub), (m) => m.complete === true && m.missing.length === 0, `hub ${'ABC'[i]} complete`);
    }
    // ces-hub answers /interconnect and /metrics on its --http port
    const listed = await getJson(`${a.http}/interconnect`);
    assert.equal(listed.hub_id, ids.a);
    assert.equal(listed.mesh.peers.length, 2);
    const text = await metrics(a);
    assert.equal(metric(text, 'ces_hub_mesh_peers{state="up"}'), 2);
    assert.equal(metric(text, `ces_hub_mesh_peer_up{peer="${b.router}"}`), 1);
  });

  it('events cross the static mesh: A to B and C, C to A and B, once each', async () => {
    const room = unique('SR');
    const [atA, atB, atC] = [track(await open(edgeA, 'messenger')), track(await open(edgeB, 'messenger')), track(await open(c, 'messenger'))];
    await Promise.all([atA, atB, atC].map((cl) => cl.register([room])));
    for (const [hub, mesh] of [[a, 'static-b'], [a, 'static-c'], [b, 'static-a'], [b, 'static-c'], [c, 'static-a'], [c, 'static-b']]) {
      await until(() => meshOf(hub), (m) => byId(m, mesh)?.wants.includes(room), `${hub.router} sees ${mesh} want the room`);
    }
    const fromA = frame(room, { value: 'from-A' });
    atA.ws.send(fromA);
    await expectEvent(atB, fromA, 'B gets A\'s event');
    await expectEvent(atC, fromA, 'C gets A\'s event');
    const fromC = frame(room, { value: 'from-C' });
    atC.ws.send(fromC);
    await expectEvent(atA, fromC, 'A gets C\'s event (and not its own before it)');
    await expectEvent(atB, fromC, 'B gets C\'s event');
    const late = await Promise.all([atA, atB, atC].map((cl) => drain(cl, 300)));
    assert.deepEqual(late.map((items) => items.map((i) => i.text)), [[], [], []], 'each once, none back to its sender');
  });

  it('a hub asked to link to its own address answers 400', async () => {
    for (const [hub, own] of [[a, a.address], [a, encodeURIComponent(a.router)], [c, c.address]]) {
      const answer = await link(hub, own);
      assert.equal(answer.status, 400, `${hub.http}: ${answer.text}`);
      assert.match(answer.text, /own address/);
    }
  });

  it('a hub with the same hub ID as its peer does not link to it, and the mesh is untouched', async () => {
    // (stopped in after(), with the others: ces-hub takes ~2 s to exit)
    const twin = await startHubOnly({ id: 'static-a' });
    hubs.push(twin);
    {
      const answer = await link(twin, a.address);
      assert.equal(answer.status, 201, answer.text);  // it cannot know before it dials
      await until(() => twin.child.output, (out) => /same ID/.test(out), 'the twin logs that A has its ID');
      await until(() => meshOf(twin), (m) => m.peers.length === 0, 'the twin drops its record of A');
      await sleep(600);
      const mesh = await meshOf(twin);
      assert.deepEqual(mesh.peers, [], 'and does not dial it again');
      const ma = await meshOf(a);
      assert.equal(ma.peers.length, 2, 'A lists only B and C');
      assert.ok(ma.peers.every((p) => p.state === 'up'), 'A\'s links are untouched');
    }
  });
});
