// Helpers for the hub-mesh tests (mesh_*.test.mjs): `ces` processes on
// ports that survive a restart, /interconnect requests, and the hub's
// "mesh" status. Built on harness.mjs, which ends every process by PID when
// the test process exits.
import assert from 'node:assert/strict';
import { start, freePort, status, until, getJson } from './harness.mjs';

export const HEARTBEAT = 200;  // so a vanished hub is noticed in ~600 ms

// Picks the four ports of a `ces` (edge HTTP, ROUTER, PUB, repeater)
export async function cesPorts() {
  return { http: await freePort(), router: await freePort(), pub: await freePort(), repeater: await freePort() };
}

// Starts `ces` on `ports` (fresh ones if not given) with a 200 ms heartbeat;
// returns the same shape as harness startCes plus { ports, id, address, extra }
// so that restartHub() can start it again on the same ports
export async function startHub({ ports, id, extra = [] } = {}) {
  ports = ports || await cesPorts();
  const args = ['--listen', `127.0.0.1:${ports.http}`, '--router', `tcp://127.0.0.1:${ports.router}`,
    '--pub', `tcp://127.0.0.1:${ports.pub}`, '--repeater-listen', `127.0.0.1:${ports.repeater}`,
    '--heartbeat', String(HEARTBEAT), ...(id ? ['--hub-id', id] : []), ...extra];
  const child = await start('ces', args);
  return {
    child, ports, id, extra,
    port: ports.http,
    router: `tcp://127.0.0.1:${ports.router}`,
    pub: `tcp://127.0.0.1:${ports.pub}`,
    address: `127.0.0.1:${ports.router}`,
    http: `http://127.0.0.1:${ports.http}`,
    ws: `ws://127.0.0.1:${ports.http}`,
    repeater: { port: ports.repeater, http: `http://127.0.0.1:${ports.repeater}`, ws: `ws://127.0.0.1:${ports.repeater}` },
  };
}

// Starts `ces-hub` (the hub alone) on `ports` { router, pub, http } (fresh
// ones if not given); env: extra environment variables. Its HTTP port
// answers /status (the hub's JSON itself), /metrics and /interconnect.
export async function startHubOnly({ ports, id, extra = [], env = {} } = {}) {
  ports = ports || { router: await freePort(), pub: await freePort(), http: await freePort() };
  const args = ['--router', `tcp://127.0.0.1:${ports.router}`, '--pub', `tcp://127.0.0.1:${ports.pub}`,
    '--http', `127.0.0.1:${ports.http}`, '--heartbeat', String(HEARTBEAT), ...(id ? ['--hub-id', id] : []), ...extra];
  const child = await start('ces-hub', args, / ready$/m, undefined, env);
  return {
    child, ports, id, extra, standalone: true,
    router: `tcp://127.0.0.1:${ports.router}`,
    pub: `tcp://127.0.0.1:${ports.pub}`,
    address: `127.0.0.1:${ports.router}`,
    http: `http://127.0.0.1:${ports.http}`,
  };
}

// Starts a stopped (or killed) hub again on its ports; updates hub.child
export async function restartHub(hub, { id = hub.id } = {}) {
  const again = await startHub({ ports: hub.ports, id, extra: hub.extra });
  hub.child = again.child;
  return hub;
}

// SIGKILLs a hub and waits until it is gone
export function killHub(hub) {
  if (hub.child.exitCode !== null || hub.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    hub.child.once('exit', () => resolve());
    hub.child.kill('SIGKILL');
  });
}

// Stops a child with SIGTERM; if it is still there after `grace` ms, SIGKILLs
// it. Resolves with what ended it: 0 (or another exit code), or a signal name
function stopWithin(child, grace = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.hung = true; child.kill('SIGKILL'); }, grace);
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve(code ?? signal); });
    child.kill('SIGTERM');
  });
}

// Stops hubs (SIGTERM, all at once); fails if one had crashed, did not exit
// within 5 s, or exited with a code other than 0. (A hub SIGKILLed by
// killHub() has been replaced by restartHub(), so it is not checked.)
export async function stopHubs(hubs) {
  const list = hubs.filter(Boolean);
  const ends = await Promise.all(list.map((hub) => stopWithin(hub.child)));
  const bad = list.map((hub, i) => [hub, ends[i]]).filter(([hub, end]) => end !== 0 || hub.child.hung);
  if (bad.length) {
    assert.fail(bad.map(([hub, end]) => `${hub.router} ${hub.child.hung ? 'did not exit within 5 s of SIGTERM' : `ended with ${end}`}:\n${hub.child.output}`)
      .join('\n'));
  }
}

// The hub part of a `ces` /status (all of a `ces-hub`'s), and its "mesh"
export const hubStatus = async (hub) => (hub.standalone ? getJson(`${hub.http}/status`) : (await status(hub)).hub);
export const meshOf = async (hub) => (await hubStatus(hub)).mesh;

// The entry of `mesh` for the hub `other` (found by its ROUTER address)
export const peerIn = (mesh, other) => mesh.peers.find((p) => p.address === other.router);

// The peer entry of `other` in `hub`'s mesh status (undefined if none)
export const peerOf = async (hub, other) => peerIn(await meshOf(hub), other);

// POST / DELETE <hub>/interconnect/<address>; returns { status, text, json }
async function interconnect(method, hub, address) {
  const response = await fetch(`${hub.http}/interconnect/${address}`, { method });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, text, json };
}
export const link = (hub, address) => interconnect('POST', hub, address);
export const unlink = (hub, address) => interconnect('DELETE', hub, address);

// Links `hub` to `other` and checks the 201 "linking" answer
export async function linkNew(hub, other, address = other.address) {
  const answer = await link(hub, address);
  assert.equal(answer.status, 201, `POST ${hub.http}/interconnect/${address}: ${answer.text}`);
  assert.equal(answer.json?.result, 'linking', answer.text);
  assert.equal(answer.json.address, other.router, answer.text);
  return answer;
}

// True if every hub lists every other one, "up", and nothing else
export async function meshUp(hubs) {
  for (const hub of hubs) {
    const mesh = await meshOf(hub);
    const others = hubs.filter((h) => h !== hub);
    if (mesh.peers.length !== others.length) return false;
    if (!others.every((other) => peerIn(mesh, other)?.state === 'up')) return false;
  }
  return true;
}

export const untilMeshUp = (hubs, what = 'the full mesh up', timeout = 5000) =>
  until(() => meshUp(hubs), Boolean, what, timeout);

// Waits until each of `hubs` lists `target` as wanting `room`
export async function untilWanted(hubs, target, room, timeout = 5000) {
  for (const hub of hubs) {
    await until(() => peerOf(hub, target), (p) => p?.wants.includes(room),
      `${hub.address} sees ${target.address} wanting ${room}`, timeout);
  }
}

// The hub's own ID, as its status says
export const hubId = async (hub) => (await hubStatus(hub)).hub_id;

// GET <hub>/interconnect
export const getInterconnect = (hub) => getJson(`${hub.http}/interconnect`);

// Text of /metrics
export const metrics = async (hub) => (await fetch(`${hub.http}/metrics`)).text();

// The value of one metric line (exact name with labels), or undefined
export function metric(text, name) {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}

// Everything a client received in the next `ms` milliseconds (the queue is emptied)
export async function drain(client, ms = 300) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return client.queue.splice(0);
}
