// An inbound link from a peer is reused for sending to that peer: a target
// "ws://host:port#PEER" gets events over PEER's own /connect/ROOM/PEER link
// while it is open, and is dialled only when it is not.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, open, status, until, unique, eventBuilders, wsTarget, openOutside, targetsFile,
} from './harness.mjs';

const { frame } = eventBuilders('repeater-peer-test', ['core-state']);

describe('repeater: replies over a peer\'s inbound link', () => {
  let ces, peer, file;
  after(async () => {
    if (ces) await stop(ces.child);
    if (peer) await peer.close();
    if (file) file.remove();
  });

  it('uses the peer\'s open link, and dials only once it is closed', async () => {
    const room = unique('ITB');
    peer = await wsTarget();  // the peer's own listener, which we could dial
    file = await targetsFile({ [room]: [`${peer.url}#site-b`] });
    ces = await startCes(['--targets', file.file, '--system-id', 'site-a']);
    const sender = await open(ces, 'messenger');
    // The peer has dialled us for this room
    const inbound = await openOutside(ces.repeater, room, 'site-b');
    await until(() => status(ces.repeater), (st) => st.edge.clients_by_role.outside === 1, 'the peer\'s link listed');

    const first = frame(room, { value: 'over-inbound' });
    sender.ws.send(first);
    const got = await inbound.next(3000);
    assert.equal(got.binary, true);
    assert.equal(got.text, first.toString(), 'the event came back over the peer\'s own link');
    const st = await status(ces.repeater);
    assert.equal(st.repeater.targets[0].peer, 'site-b');
    assert.equal(st.repeater.targets[0].via_inbound, 1);

    // Once the peer's link is gone, the repeater dials the peer instead; the
    // first connection the peer's listener ever sees is this one
    await inbound.close();
    await until(() => status(ces.repeater), (st) => st.edge.clients_by_role.outside === 0, 'the peer\'s link gone');
    const second = frame(room, { value: 'dialled' });
    sender.ws.send(second);
    const conn = await peer.connections.next(3000, 'a dialled link');
    assert.equal(conn.path, `/connect/${room}/site-a`);
    const message = await peer.messages.next(3000, 'the event on the dialled link');
    assert.equal(message.text, second.toString(), 'nothing was dialled for the first event');
    await sender.close();
  });
});
