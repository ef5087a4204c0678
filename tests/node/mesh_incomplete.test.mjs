// An incomplete mesh is reported: hub 1 linked to hubs 2 and 3, but 2 and 3
// not linked to each other. Hubs 2 and 3 say "complete": false and name the
// missing hub ("hub-id address"), and log how to repair it; linking 2-3
// repairs it, and unlinking breaks it again. Events between 2 and 3 are
// missed meanwhile, as hub-sourced events are never forwarded.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, unique, until, expectEvent, eventBuilders } from './harness.mjs';
import { startHub, stopHubs, meshOf, linkNew, unlink, untilMeshUp, untilWanted, hubId, drain } from './mesh_harness.mjs';

const { frame } = eventBuilders('mesh-incomplete-test');

describe('hub mesh: an incomplete mesh is reported', { timeout: 60000 }, () => {
  let h1, h2, h3, hubs, ids;
  const clients = [];
  const track = (client) => { clients.push(client); return client; };
  const missing = (mesh) => [...mesh.missing].sort();

  before(async () => {
    [h1, h2, h3] = await Promise.all([startHub(), startHub(), startHub()]);
    hubs = [h1, h2, h3];
    ids = await Promise.all(hubs.map(hubId));
    await linkNew(h1, h2);
    await linkNew(h1, h3);
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await stopHubs(hubs || []);
  });

  it('hubs 2 and 3 say complete:false and name each other as missing; hub 1 is complete', async () => {
    const m2 = await until(() => meshOf(h2), (m) => m.complete === false && m.missing.length > 0, 'hub 2 reports the mesh incomplete');
    assert.deepEqual(missing(m2), [`${ids[2]} ${h3.router}`], 'hub 2 misses hub 3');
    const m3 = await until(() => meshOf(h3), (m) => m.complete === false && m.missing.length > 0, 'hub 3 reports the mesh incomplete');
    assert.deepEqual(missing(m3), [`${ids[1]} ${h2.router}`], 'hub 3 misses hub 2');
    const m1 = await meshOf(h1);
    assert.equal(m1.complete, true, 'hub 1 is linked to everyone it hears of');
    assert.deepEqual(m1.missing, []);
    await until(() => h2.child.output, (out) => out.includes('mesh incomplete') && out.includes(`${ids[2]} ${h3.router}`),
      'hub 2 logs the missing hub');
    assert.match(h2.child.output, /POST \/interconnect/, 'and how to repair it');

    // Meanwhile an event at hub 2 does not reach hub 3 (hub 1 does not forward it)
    const room = unique('IC');
    const [at1, at2, at3] = [track(await open(h1, 'messenger')), track(await open(h2, 'messenger')), track(await open(h3, 'messenger'))];
    await Promise.all([at1, at3].map((c) => c.register([room])));
    await untilWanted([h2], h1, room);
    const e = frame(room, { value: 'from-2' });
    at2.ws.send(e);
    await expectEvent(at1, e, 'hub 1 gets hub 2\'s event');
    assert.deepEqual((await drain(at3, 300)).map((i) => i.text), [], 'hub 3 misses it: hub 1 does not forward');
  });

  it('linking hubs 2 and 3 makes the mesh complete everywhere; unlinking breaks it again', async () => {
    await linkNew(h3, h2);
    await untilMeshUp(hubs);
    for (const [i, hub] of hubs.entries()) {
      await until(() => meshOf(hub), (m) => m.complete === true && m.missing.length === 0, `hub ${i + 1} complete`);
    }
    await until(() => h2.child.output, (out) => /mesh complete/.test(out.slice(out.lastIndexOf('mesh incomplete'))),
      'hub 2 logs the repair');

    const room = unique('ICR');
    const [at2, at3] = [track(await open(h2, 'messenger')), track(await open(h3, 'messenger'))];
    await at3.register([room]);
    await untilWanted([h2], h3, room);
    const e = frame(room, { value: 'from-2-repaired' });
    at2.ws.send(e);
    await expectEvent(at3, e, 'hub 3 now gets hub 2\'s events');
    assert.deepEqual((await drain(at3, 300)).map((i) => i.text), [], 'once');

    const gone = await unlink(h2, h3.address);
    assert.equal(gone.status, 200, gone.text);
    const m2 = await until(() => meshOf(h2), (m) => m.complete === false, 'hub 2 incomplete again');
    assert.deepEqual(missing(m2), [`${ids[2]} ${h3.router}`]);
    const m3 = await until(() => meshOf(h3), (m) => m.complete === false, 'hub 3 incomplete again');
    assert.deepEqual(missing(m3), [`${ids[1]} ${h2.router}`]);
    assert.equal((await meshOf(h1)).complete, true);
  });
});
