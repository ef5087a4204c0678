// A ces-repeater process survives a restart of its hub: it links again by
// itself, rejoins the round-robin, and forwards again; what outside systems
// send reaches messengers again.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, startEdge, startRepeater, stop, open, status, until, unique, freePort, eventBuilders, httpTarget, postJson,
} from './harness.mjs';

const { event, frame } = eventBuilders('repeater-restart-test', ['core-state']);

describe('ces-repeater across a hub restart', () => {
  const children = [];
  let target;
  after(async () => {
    for (const child of children.reverse()) await stop(child);
    if (target) await target.close();
  });

  it('links again, is back in the rotation and forwards both ways', async () => {
    const room = unique('ITB');
    const router = `tcp://127.0.0.1:${await freePort()}`;
    const pub = `tcp://127.0.0.1:${await freePort()}`;
    const http = `127.0.0.1:${await freePort()}`;
    const hubArgs = ['--router', router, '--pub', pub, '--http', http, '--heartbeat', '200'];
    const hubStatus = () => fetch(`http://${http}/status`).then((r) => r.json());
    let hub = await start('ces-hub', hubArgs);
    children.push(hub);
    target = await httpTarget();
    const edge = await startEdge(router, pub);
    const repeater = await startRepeater(router, ['--central', target.url]);
    children.push(edge.child, repeater.child);
    const subscriber = await open(edge, 'messenger');
    await subscriber.register([room]);
    const sender = await open(edge, 'messenger');
    await until(hubStatus, (st) => st.repeaters === 1, 'the repeater in the rotation');

    sender.ws.send(frame(room, { value: 'before' }));
    assert.match((await target.requests.next(10000, 'the POST before the restart')).body, /"before"/);

    // The hub goes away and comes back on the same endpoints
    assert.equal(await stop(hub), 0, hub.output);
    hub = await start('ces-hub', hubArgs);
    children[0] = hub;
    await until(hubStatus, (st) => st.repeaters === 1, 'the repeater back in the rotation', 10000);
    // Linked to the new hub, not still believing in the old one (a hub that
    // stops says nothing; its peers learn of it at their next send or
    // heartbeat)
    const newHub = (await hubStatus()).hub_id;
    await until(() => status(edge), (st) => st.edge.hub_connected && st.edge.hub === newHub, 'the edge linked again', 10000);
    await until(() => status(repeater), (st) => st.edge.hub_connected && st.edge.hub === newHub, 'the repeater linked again', 10000);

    // Out: the next messenger event is POSTed by the repeater
    sender.ws.send(frame(room, { value: 'after' }));
    for (;;) {
      const request = await target.requests.next(10000, 'the POST after the restart').catch(async (error) => {
        const states = await Promise.all([hubStatus(), status(edge), status(repeater)].map((p) => p.catch((e) => e.message)));
        assert.fail(`${error.message}; the sender got ${JSON.stringify(sender.queue.map((i) => i.text))}\n`
          + `status: ${JSON.stringify(states)}\nhub: ${hub.output}\nedge: ${edge.child.output}\nrepeater: ${repeater.child.output}`);
      });
      if (/"after"/.test(request.body)) break;
      assert.match(request.body, /"before"/, `unexpected ${request.body}`);
    }
    // In: an outside POST reaches the messenger on the edge. The edge
    // registers its rooms again on its own once it is linked; until that
    // has reached the hub an event for the room has nobody to go to, so the
    // outside system posts again until one arrives (as a real one would)
    const deadline = Date.now() + 10000;
    for (let attempt = 1; ; attempt++) {
      const posted = await postJson(`${repeater.http}/send`, event(room, { value: `outside-after-${attempt}` }));
      assert.equal(posted.status, 200, posted.text);
      const item = await subscriber.next(1000).catch(() => null);
      if (item && item.text.includes('outside-after')) break;
      assert.ok(Date.now() < deadline, `no outside event reached the messenger after ${attempt} posts:\n`
        + `hub: ${hub.output}\nedge: ${edge.child.output}\nrepeater: ${repeater.child.output}`);
    }
    await Promise.all([sender.close(), subscriber.close()]);
  });
});
