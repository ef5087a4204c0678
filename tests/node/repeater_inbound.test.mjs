// The repeater's door in (SPEC §2, §4): outside systems on
// /connect/:room/:id and POST /send. What they send is repeater-sourced:
// messengers and hub peers get it, no repeater (so no repeater target).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open, openOutside, status, unique, until, expectEvent, expectError, eventBuilders,
  httpTarget, postJson, Client,
} from './harness.mjs';

const { event, frame } = eventBuilders('repeater-inbound-test', ['core-state']);
// The JSON of a frame ROOM\nJSON
const payload = (bytes) => bytes.toString().slice(bytes.indexOf('\n') + 1);

describe('repeater: events from outside systems', () => {
  let ces, target, sender, subscriber, hubPeer;
  const room = unique('ITB');

  before(async () => {
    // A "*" target: it would get anything the hub wrongly handed this repeater
    target = await httpTarget();
    ces = await startCes(['--central', target.url]);
    [sender, subscriber, hubPeer] = await Promise.all(['messenger', 'messenger', 'hub'].map((type) => open(ces, type)));
    await subscriber.register([room]);
    await until(() => status(ces), (st) => st.hub.repeaters === 1 && st.hub.connections.hub === 1,
      'the repeater in the hub\'s rotation and a hub peer attached');
    await until(() => status(ces.repeater), (st) => st.edge.hub_connected && st.repeater.in_rotation,
      'the repeater linked and in the rotation');
  });
  after(async () => {
    for (const c of [sender, subscriber, hubPeer]) c?.ws.terminate();
    if (ces) await stop(ces.child);
    await target?.close();
  });

  // A messenger event: the subscriber and the hub peer get it, and the
  // repeater's target's next POST must be it
  async function marker(value, what) {
    const m = frame(room, { value });
    sender.ws.send(m);
    await expectEvent(subscriber, m, `${what}: subscriber gets the marker`);
    await expectEvent(hubPeer, m, `${what}: hub peer gets the marker`);
    const post = await target.requests.next(3000, `${what}: POST of the marker`);
    assert.equal(post.body, payload(m), `${what}: the target's next POST is the messenger marker`);
  }

  it('an outside system\'s event reaches subscribers and hub peers unchanged, and is never handed back to a repeater',
    async () => {
      const outside = await openOutside(ces.repeater, room, 'sys1');
      try {
        const e = frame(room, { value: 'from-outside', data: { n: 1, text: 'é' } });
        outside.ws.send(e);
        await expectEvent(subscriber, e, 'subscriber gets the outside event, byte for byte');
        await expectEvent(hubPeer, e, 'hub peer gets the outside event');
        // The target's first POST ever is the marker, not the outside event
        await marker('marker-after-outside', 'after the outside event');
        assert.equal(target.requests.items.length, 1, 'the target got one POST in all');
        // Outside systems never receive events: the answer to a Text frame is
        // the first thing this one gets
        outside.ws.send('not an event');
        await expectError(outside, /text frames are not accepted/);
        const st = await status(ces.repeater);
        assert.equal(st.edge.clients_by_role.outside, 1, 'the outside system is listed as "outside"');
        assert.equal(st.repeater.events_to_targets, 1, 'the hub gave this repeater only the marker');
        assert.equal((await status(ces)).hub.deliveries.repeater, 1, 'the hub delivered one event to repeaters');
      } finally {
        await outside.close();
      }
    });

  it('POST /send: 200 and subscribers get it; 400 with a reason for bad JSON or no affected-room.roomID', async () => {
    const before = (await status(ces.repeater)).edge.counters;
    const body = event(room, { value: 'posted' });
    const ok = await postJson(`${ces.repeater.http}/send`, body);
    assert.equal(ok.status, 200, `POST /send: ${ok.text}`);
    assert.match(ok.text, /Processing event/);
    await expectEvent(subscriber, `${room}\n${body}`, 'subscriber gets the POSTed event');
    await expectEvent(hubPeer, `${room}\n${body}`, 'hub peer gets the POSTed event');

    const badJson = await postJson(`${ces.repeater.http}/send`, '{"affected-room": {"roomID": ');
    assert.equal(badJson.status, 400, 'bad JSON is refused');
    assert.ok(badJson.text.trim().length > 0, 'with a reason');
    const noRoom = await postJson(`${ces.repeater.http}/send`,
      JSON.stringify({ 'generating-system': 'x', 'affected-room': { buildingID: 'T' }, key: 'k', value: 'v' }));
    assert.equal(noRoom.status, 400, 'an event without affected-room.roomID is refused');
    assert.match(noRoom.text, /affected-room\.roomID/);

    // Neither the good POST nor the bad ones went to a repeater target
    await marker('marker-after-post', 'after POST /send');
    const after = await until(() => status(ces.repeater), (st) => st.edge.counters.posted === before.posted + 1
      && st.edge.counters.drops.malformed === before.drops.malformed + 2, 'one POST counted, two refused');
    assert.equal(after.repeater.events_to_targets, 2, 'the hub gave this repeater only the two markers');
  });

  it('Text and malformed frames from an outside system get a Text {"error"} and are counted; the socket keeps working',
    async () => {
      const outside = await openOutside(ces.repeater, room, 'sys-bad');
      try {
        const before = (await status(ces.repeater)).edge.counters.drops.malformed;
        outside.ws.send(JSON.stringify({ rooms: [room], create: true }));
        await expectError(outside, /text frames are not accepted/);
        outside.ws.send(Buffer.from('no newline, so no room'));
        await expectError(outside, /./);
        outside.ws.send(Buffer.from(`${room}\nnot json`));
        await expectError(outside, /./);
        await until(() => status(ces.repeater), (st) => st.edge.counters.drops.malformed === before + 3,
          'three malformed inputs counted');
        const e = frame(room, { value: 'good-after-bad' });
        outside.ws.send(e);
        await expectEvent(subscriber, e, 'the next good event still gets through');
        await expectEvent(hubPeer, e, 'hub peer gets it too');
      } finally {
        await outside.close();
      }
    });

  it('a path other than /connect/ROOM/ID gets 400', async () => {
    const before = (await status(ces.repeater)).edge.counters.refused_bad_request;
    for (const bad of ['/connect/only-room', '/connect/only-room/', '/connect/messenger', `/connect/${room}/a/b`]) {
      const response = await fetch(`${ces.repeater.http}${bad}`);
      assert.equal(response.status, 400, `GET ${bad}`);
      await response.text();
      const refused = await new Client(`${ces.repeater.ws}${bad}`).open().then(
        (client) => { client.ws.terminate(); return null; }, (error) => error);
      assert.equal(refused?.status, 400, `WebSocket upgrade on ${bad} is refused with 400`);
    }
    await until(() => status(ces.repeater), (st) => st.edge.counters.refused_bad_request === before + 8,
      'eight refusals counted');
  });
});
