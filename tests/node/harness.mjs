// Test harness for ces over real sockets: starts the real programs on free
// ports of 127.0.0.1, waits for their banners, and ends every process it
// started (by PID) when the test process exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';

export const BUILD = process.env.CES_BUILD || path.resolve(import.meta.dirname, '../../build');
const children = new Set();

function killAll() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { killAll(); process.exit(1); });

// A port nobody is using right now
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts a program; resolves once a line of its output matches `ready`
export function start(program, args, ready = / ready$/m, timeout = 10000) {
  const child = spawn(path.join(BUILD, program), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.output = '';
  const collect = (data) => { child.output += data.toString(); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${program} not ready in ${timeout} ms:\n${child.output}`)), timeout);
    const check = () => {
      if (ready.test(child.output)) { clearTimeout(timer); resolve(child); }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${program} exited ${code}:\n${child.output}`)); });
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
  });
}

// Stops a program with SIGTERM and resolves with its exit code
export function stop(child) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

// Starts `ces` (hub + edge + repeater) on free ports; returns
// { child, port, router, pub, http, ws, repeater: { port, http, ws } }
export async function startCes(extra = []) {
  const [port, routerPort, pubPort, repeaterPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const router = `tcp://127.0.0.1:${routerPort}`;
  const pub = `tcp://127.0.0.1:${pubPort}`;
  const child = await start('ces', ['--listen', `127.0.0.1:${port}`, '--router', router, '--pub', pub,
    '--repeater-listen', `127.0.0.1:${repeaterPort}`, ...extra]);
  const repeater = { port: repeaterPort, http: `http://127.0.0.1:${repeaterPort}`, ws: `ws://127.0.0.1:${repeaterPort}` };
  return { child, port, router, pub, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, repeater };
}

// Starts `ces-repeater` linked to a hub's ROUTER; returns { child, port, http, ws }
export async function startRepeater(router, extra = []) {
  const port = await freePort();
  const child = await start('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', router, ...extra]);
  return { child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

// Starts `ces-edge` linked to a hub; returns { child, port, http, ws }
export async function startEdge(router, pub, extra = []) {
  const port = await freePort();
  const child = await start('ces-edge', ['--listen', `127.0.0.1:${port}`, '--hub-router', router, '--hub-pub', pub, ...extra]);
  return { child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

// A WebSocket client that queues what it receives, for awaiting in order
export class Client {
  constructor(url, options = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.binaryType = 'nodebuffer';
    this.queue = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data, isBinary) => {
      const item = { binary: isBinary, text: data.toString(), data, at: performance.now() };
      const waiter = this.waiters.shift();
      if (waiter) waiter(item); else this.queue.push(item);
    });
    this.ws.on('error', () => {});
    // Its local port, by which /status lists it (kept after the socket closes)
    this.ws.on('open', () => { this.port = this.ws._socket.localPort; });
  }
  open() {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve(this);
      this.ws.once('open', () => resolve(this));
      this.ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
  }
  // Next message of any kind, or an error after `timeout` ms
  next(timeout = 3000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(done), 1);
        reject(new Error(`no message within ${timeout} ms`));
      }, timeout);
      const done = (item) => { clearTimeout(timer); resolve(item); };
      this.waiters.push(done);
    });
  }
  // Registers rooms and waits for the edge's {"registered":[...]} notice
  async register(rooms) {
    this.ws.send(JSON.stringify({ rooms, create: true }));
    const others = [];
    for (;;) {
      const item = await this.next();
      const notice = item.binary ? null : JSON.parse(item.text);
      if (notice && notice.registered && rooms.every((room) => notice.registered.includes(room))) {
        this.queue.unshift(...others);  // keep anything else for the caller
        return item;
      }
      others.push(item);
    }
  }
  sendEvent(room, json) { this.ws.send(Buffer.from(`${room}\n${typeof json === 'string' ? json : JSON.stringify(json)}`)); }
  close() { this.ws.close(); return this.closed; }
}

// GETs a URL and parses its JSON body
export async function getJson(url) {
  const response = await fetch(url);
  return response.json();
}

// Opens a client on /connect/{type} of `server` (a startCes or startEdge result)
export const open = (server, type, options) => new Client(`${server.ws}/connect/${type}`, options).open();

// The /status JSON of `server`
export const status = (server) => getJson(`${server.http}/status`);

// The entry of /status `st` for `client`, found by its local port
export const mine = (st, client) => st.edge.clients.find((c) => c.remote.endsWith(`:${client.port}`));

// A room name unique to this process: PREFIX-pid-n
let counter = 0;
export const unique = (prefix = 'R') => `${prefix}-${process.pid}-${++counter}`;

// Polls get() every 25 ms until check(value) is truthy; returns the value, or fails after `timeout` ms
export async function until(get, check, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await get();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what} not reached in ${timeout} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// The next message must be a Binary event; returns its bytes
export async function nextEvent(client, what = 'event') {
  const item = await client.next();
  assert.equal(item.binary, true, `${what}: expected a Binary event, got Text ${item.text}`);
  return item.data;
}

// The next message must be a Binary event with exactly these bytes; returns them
export async function expectEvent(client, bytes, what = 'event') {
  const data = await nextEvent(client, what);
  assert.ok(Buffer.from(bytes).equals(data), `${what}: expected ${JSON.stringify(bytes.toString())}, got ${JSON.stringify(data.toString())}`);
  return data;
}

// The next message must be a Text {"error":...} matching `pattern`; returns the error
export async function expectError(client, pattern) {
  const item = await client.next();
  assert.equal(item.binary, false, `expected an error notice, got Binary ${item.text}`);
  const notice = JSON.parse(item.text);
  assert.equal(typeof notice.error, 'string', `expected {"error":...}, got ${item.text}`);
  assert.match(notice.error, pattern);
  return notice.error;
}

// { event(room, extra): v2 JSON from `system`, frame(room, extra): "room\n" + it }; tags undefined = no 'event-tags'
export function eventBuilders(system, tags) {
  const event = (room, extra = {}) => JSON.stringify({
    'generating-system': system, timestamp: new Date().toISOString(), 'event-tags': tags,
    'affected-room': { buildingID: 'T', roomID: room }, key: 'k', value: 'v', ...extra,
  });
  return { event, frame: (room, extra) => Buffer.from(`${room}\n${event(room, extra)}`) };
}
