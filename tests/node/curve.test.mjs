// CURVE on the hub's ZeroMQ links: ces-keygen certificates, a hub that lets
// in only the certificates of its clients directory, edges and repeaters
// that hold their own certificate and the hub's key, refusals counted, and
// a mesh of two hubs sharing one hub certificate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  BUILD, start, startEdge, startRepeater, stop, open, status, until, unique, eventBuilders, expectEvent,
  expectError, postJson, freePort,
} from './harness.mjs';
import { startHubOnly, hubStatus, link, untilMeshUp, metrics, metric, stopHubs } from './mesh_harness.mjs';

const { event, frame } = eventBuilders('curve-test', ['core-state']);
const keygen = (...args) => spawnSync(path.join(BUILD, 'ces-keygen'), args, { encoding: 'utf8' });

// The ZMTP greeting a server sends first: bytes 12-31 name its mechanism
function mechanismOf(endpoint) {
  const [host, port] = endpoint.replace('tcp://', '').split(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host);
    let data = Buffer.alloc(0);
    socket.on('connect', () => socket.write(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0])));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 32) {
        socket.destroy();
        resolve(data.subarray(12, 32).toString().replace(/\0+$/, ''));
      }
    });
    socket.on('error', reject);
  });
}

describe('CURVE on hub links', () => {
  let dir;
  const hubs = [];
  const children = [];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-curve-'));
    fs.mkdirSync(path.join(dir, 'clients'));
    for (const name of ['hub', 'edge', 'repeater', 'stranger', 'other-hub']) {
      const made = keygen('--dir', dir, name);
      assert.equal(made.status, 0, made.stderr);
    }
    // The hub lets in the edge, the repeater and its own mesh (the hub certificate)
    for (const name of ['hub', 'edge', 'repeater']) fs.copyFileSync(path.join(dir, `${name}.key`), path.join(dir, 'clients', `${name}.key`));
  });
  after(async () => {
    for (const child of children.reverse()) await stop(child);
    await stopHubs(hubs);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (name) => path.join(dir, name);
  const curveHub = (extra = [], env = {}) => startHubOnly({
    extra: ['--curve-cert', file('hub.key_secret'), '--curve-clients', file('clients'), ...extra], env,
  }).then((hub) => { hubs.push(hub); return hub; });
  const curveEdge = async (hub, name, extra = []) => {
    const edge = await startEdge(hub.router, hub.pub, ['--curve-cert', file(`${name}.key_secret`), '--hub-key', file('hub.key'), ...extra]);
    children.push(edge.child);
    return edge;
  };

  it('ces-keygen writes a public certificate and a secret one only its owner reads, and will not overwrite', () => {
    const made = keygen('--dir', dir, 'fresh');
    assert.equal(made.status, 0, made.stderr);
    const key = made.stdout.match(/public key: (\S{40})/)[1];
    assert.match(fs.readFileSync(file('fresh.key'), 'utf8'), new RegExp(`public-key = "${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
    assert.doesNotMatch(fs.readFileSync(file('fresh.key'), 'utf8'), /secret-key/);
    assert.match(fs.readFileSync(file('fresh.key_secret'), 'utf8'), /secret-key = "/);
    assert.equal(fs.statSync(file('fresh.key_secret')).mode & 0o777, 0o600);
    const again = keygen('--dir', dir, 'fresh');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists; --force replaces it/);
    const forced = keygen('--dir', dir, '--force', 'fresh');
    assert.equal(forced.status, 0, forced.stderr);
    assert.notEqual(forced.stdout.match(/public key: (\S{40})/)[1], key);
    assert.equal(keygen().status, 2);
    assert.match(keygen('--help').stdout, /usage: ces-keygen/);
  });

  it('edges with authorised certificates route over CURVE; the hub speaks only CURVE', async () => {
    const hub = await curveHub();
    assert.equal(await mechanismOf(hub.router), 'CURVE');
    assert.equal(await mechanismOf(hub.pub), 'CURVE');
    const st = await hubStatus(hub);
    assert.equal(st.curve.enabled, true);
    assert.equal(st.curve.public_key, fs.readFileSync(file('hub.key'), 'utf8').match(/public-key = "(.{40})"/)[1]);

    const edgeA = await curveEdge(hub, 'edge');
    const edgeB = await curveEdge(hub, 'edge');
    await until(() => status(edgeA), (s) => s.edge.hub_connected, 'edge A linked over CURVE');
    await until(() => status(edgeB), (s) => s.edge.hub_connected, 'edge B linked over CURVE');
    const room = unique('CURVE');
    const subscriber = await open(edgeB, 'messenger');
    await subscriber.register([room]);
    const sender = await open(edgeA, 'messenger');
    const bytes = frame(room, { value: 'encrypted' });
    sender.ws.send(bytes);
    await expectEvent(subscriber, bytes, 'an event across two CURVE links');

    // An embedded messenger (the example service) with its own certificate
    fs.copyFileSync(file('stranger.key'), path.join(dir, 'clients', 'service.key'));
    const service = await start('ces-example-messenger', ['--router', hub.router, '--pub', hub.pub, '--room', room,
      '--count', '1', '--curve-cert', file('stranger.key_secret'), '--hub-key', file('hub.key')], /registered /);
    const serviceExit = new Promise((resolve) => service.on('exit', resolve));
    const toService = frame(room, { value: 'to-the-service' });
    sender.ws.send(toService);
    await expectEvent(subscriber, toService, 'the second event');
    assert.equal(await serviceExit, 0);
    assert.match(service.output, /to-the-service/);
    fs.rmSync(path.join(dir, 'clients', 'service.key'));

    // A repeater with its own certificate: an outside POST reaches the messenger
    const repeater = await startRepeater(hub.router, ['--curve-cert', file('repeater.key_secret'), '--hub-key', file('hub.key')]);
    children.push(repeater.child);
    await until(() => status(repeater), (s) => s.edge.hub_connected, 'the repeater linked over CURVE');
    const posted = await postJson(`${repeater.http}/send`, event(room, { value: 'outside' }));
    assert.equal(posted.status, 200, posted.text);
    const item = await subscriber.next(5000);
    assert.match(item.text, /"outside"/);
    // Only the two greeting probes above were refused (/status of a
    // ces-hub is a snapshot, refreshed every heartbeat)
    await until(() => hubStatus(hub), (st) => st.curve.refused === 2, 'the two probes, and nothing else, refused');
    await Promise.all([sender.close(), subscriber.close()]);
  });

  it('refuses an unknown certificate, the wrong hub key and a plain edge; each is counted and logged', async () => {
    const hub = await curveHub();
    const stranger = await curveEdge(hub, 'stranger');
    const wrongKey = await startEdge(hub.router, hub.pub, ['--curve-cert', file('edge.key_secret'), '--hub-key', file('other-hub.key')]);
    const plain = await startEdge(hub.router, hub.pub);
    children.push(wrongKey.child, plain.child);
    const st = await until(() => hubStatus(hub), (s) => s.curve.refused >= 3, 'three refusals counted', 10000);
    assert.equal(st.connections.messenger, 0, 'nobody got in');
    for (const edge of [stranger, wrongKey, plain]) assert.equal((await status(edge)).edge.hub_connected, false);
    // The refused edges say so themselves: counted, and a log line naming the cause
    await until(() => status(stranger), (s) => s.edge.hub_refused_handshakes >= 1, 'the unknown edge counting refusals', 10000);
    await until(() => status(wrongKey), (s) => s.edge.hub_refused_handshakes >= 1, 'the wrong-key edge counting refusals', 10000);
    assert.match(stranger.child.output, /refused \d+ CURVE handshake\(s\): our certificate is not in the hub's clients directory/);
    assert.match(wrongKey.child.output, /refused \d+ CURVE handshake\(s\): the hub has another key, or no CURVE/);
    assert.equal((await status(stranger)).edge.hub_curve, true);
    assert.equal((await status(plain)).edge.hub_curve, false);
    assert.ok(metric(await metrics(hub), 'ces_hub_curve_refused_total') >= 3);
    assert.match(hub.child.output, /refused \d+ CURVE handshake\(s\) on tcp:\/\/127\.0\.0\.1:\d+ \(a client key not in the clients directory\)/);
    // Its clients are told the hub cannot be reached, and nothing is routed
    const client = await open(plain, 'messenger');
    client.ws.send(frame(unique('CURVE'), {}));
    await expectError(client, /hub/);
    await client.close();
  });

  it('refuses to start without its keys, with a reason', async () => {
    const noClients = spawnSync(path.join(BUILD, 'ces-hub'), ['--router', 'tcp://127.0.0.1:0', '--pub', 'tcp://127.0.0.1:0',
      '--http', '127.0.0.1:0', '--curve-cert', file('hub.key_secret')], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(noClients.status, 0);
    assert.match(noClients.stderr, /clients directory/);
    const missing = spawnSync(path.join(BUILD, 'ces-hub'), ['--curve-cert', file('nope.key'), '--curve-clients', '*'],
      { encoding: 'utf8', timeout: 10000 });
    assert.equal(missing.status, 2);
    assert.match(missing.stdout + missing.stderr, /cannot read the certificate .*nope\.key/);
    const publicOnly = spawnSync(path.join(BUILD, 'ces-hub'), ['--curve-cert', file('clients/edge.key'), '--curve-clients', '*'],
      { encoding: 'utf8', timeout: 10000 });
    assert.equal(publicOnly.status, 2);
    assert.match(publicOnly.stdout + publicOnly.stderr, /has no secret key/);
    const port = await freePort();
    const halfEdge = spawnSync(path.join(BUILD, 'ces-edge'), ['--listen', `127.0.0.1:${port}`, '--curve-cert', file('edge.key_secret')],
      { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(halfEdge.status, 0);
    assert.match(halfEdge.stderr, /needs both .*--hub-key/);
  });

  it('"*" lets in any client that has the hub key, never a plain one', async () => {
    const hub = await curveHub([], {});
    hubs.pop();
    await stop(hub.child);
    const open_ = await startHubOnly({ extra: ['--curve-cert', file('hub.key_secret'), '--curve-clients', '*'] });
    hubs.push(open_);
    const stranger = await curveEdge(open_, 'stranger');
    await until(() => status(stranger), (s) => s.edge.hub_connected, 'an unlisted certificate let in by "*"');
    const plain = await startEdge(open_.router, open_.pub);
    children.push(plain.child);
    await until(() => hubStatus(open_), (s) => s.curve.refused >= 1, 'the plain edge refused');
    assert.equal((await status(plain)).edge.hub_connected, false);
  });

  it('two hubs sharing the hub certificate link over CURVE; a hub with another certificate cannot', async () => {
    const [a, b] = [await curveHub(), await curveHub()];
    const response = await link(a, b.address);
    assert.ok([200, 201].includes(response.status), response.text);
    await untilMeshUp([a, b]);
    const edgeA = await curveEdge(a, 'edge');
    const edgeB = await curveEdge(b, 'edge');
    await until(() => status(edgeA), (s) => s.edge.hub_connected, 'edge at hub A');
    await until(() => status(edgeB), (s) => s.edge.hub_connected, 'edge at hub B');
    const room = unique('CURVE-MESH');
    const subscriber = await open(edgeB, 'messenger');
    await subscriber.register([room]);
    await until(async () => (await hubStatus(a)).mesh.peers[0], (p) => p && (p.wants || []).includes(room), 'hub A knows B wants the room');
    const sender = await open(edgeA, 'messenger');
    const bytes = frame(room, { value: 'across' });
    sender.ws.send(bytes);
    await expectEvent(subscriber, bytes, 'an event across the CURVE mesh');
    await Promise.all([sender.close(), subscriber.close()]);

    // A hub with its own certificate is not one of this mesh
    const other = await startHubOnly({ extra: ['--curve-cert', file('other-hub.key_secret'), '--curve-clients', file('clients')] });
    hubs.push(other);
    const refused = await link(other, a.address);
    assert.ok([200, 201].includes(refused.status), refused.text);
    await until(() => hubStatus(a), (s) => s.curve.refused >= 1, 'hub A refused the foreign hub');
    // (/status of a ces-hub is a snapshot, refreshed every heartbeat)
    const otherMesh = (await until(() => hubStatus(other), (st) => st.mesh.peers.length === 1, 'the foreign hub dialling')).mesh;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.notEqual((await hubStatus(other)).mesh.peers[0].state, 'up', JSON.stringify(otherMesh));
  });
});
