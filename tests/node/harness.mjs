// Test harness for ces over real sockets: starts the real programs on free
// ports of 127.0.0.1, waits for their banners, and ends every process it
// started (by PID) when the test process exits. When a test fails, the
// output of every process that ran during it is printed under it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, beforeEach, afterEach } from 'node:test';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';

export const BUILD = process.env.CES_BUILD || path.resolve(import.meta.dirname, '../../build');
// Under ThreadSanitizer (make test's third build) everything runs 5-15 times
// slower: tests whose point is a timing bound are skipped there, not bent
export const TIMING = process.env.CES_SANITIZER === 'thread'
  ? { skip: 'a timing bound; not measured under ThreadSanitizer' } : {};
const children = new Set();

function killAll() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { killAll(); process.exit(1); });

// --------------------------------------------------------------------------
// The logs of failing tests. Every process started by this test file is
// kept (with its output) in `spawned`; each test's start and end are noted
// by the hooks below, which node:test runs around every test of the file
// (hooks at the top level apply to the tests of every describe). When a test
// fails, the output of every process that was running at some point during
// the test is attached to it as a diagnostic, labelled with the program, its
// arguments and PID, and shows under the test's assertion in the report.
// Processes that no failing test showed but that may explain a failure of
// a hook (before/after) are printed to stderr when the file ends with a
// failure: those no test ran beside, and those that ended abnormally.
const spawned = [];
const LOG_LIMIT = 64 * 1024;  // bytes of each process's output shown, its last ones
let testStartedAt = 0;

// Starts collecting a child's output (stdout and stderr, in arrival order)
// and notes its life; `label` names it in the logs. For processes a test
// spawns itself; start() does it for its own.
export function track(child, label) {
  child.output ??= '';
  child.label = `${label} (PID ${child.pid})`;
  child.startedAt = performance.now();
  child.shown = 0;         // how much of child.output has been printed
  child.coveredByTest = false;  // a test ran while it was running
  child.signalsSent = [];
  const kill = child.kill.bind(child);
  child.kill = (signal = 'SIGTERM') => { child.signalsSent.push(signal); return kill(signal); };
  const collect = (data) => { child.output += data.toString(); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('exit', () => { child.exitedAt = performance.now(); });
  spawned.push(child);
  return child;
}

function ending(child) {
  if (child.exitCode === null && child.signalCode === null) return 'still running';
  if (child.signalCode !== null) {
    return `killed by ${child.signalCode}${child.signalsSent.includes(child.signalCode) ? ' (sent by the test or harness)' : ''}`;
  }
  return `exited with ${child.exitCode}`;
}

// The output of `child` not printed yet, framed by its label
function logOf(child) {
  const all = child.output;
  let text = all.slice(child.shown);
  const earlier = child.shown > 0 ? ` (its first ${child.shown} bytes are printed above)` : '';
  if (text.length > LOG_LIMIT) text = `[... ${text.length - LOG_LIMIT} bytes left out ...]\n${text.slice(-LOG_LIMIT)}`;
  child.shown = all.length;
  const body = text.length ? text.replace(/\n$/, '').split('\n').map((line) => `| ${line}`).join('\n')
    : `| (${child.shown ? 'nothing since' : 'no output'})`;
  return `----- ${child.label}: ${ending(child)}${earlier}\n${body}\n----- end of ${child.label}`;
}

// A test still running after this long is named on stderr with the output
// of the processes running: if it never ends, ctest's timeout kills the file,
// and what it printed is what ctest keeps
const WATCHDOG = Number(process.env.CES_TEST_WATCHDOG_MS) || 120000;
let watchdog;
beforeEach((t) => {
  testStartedAt = performance.now();
  watchdog = setTimeout(() => {
    const running = spawned.filter((child) => child.exitCode === null && child.signalCode === null);
    process.stderr.write(`\nThe test "${t.name}" has been running for ${WATCHDOG / 1000} s; the output of the` +
      ` ${running.length} process(es) running:\n${running.map(logOf).join('\n')}\n`);
  }, WATCHDOG);
  watchdog.unref();
});
afterEach((t) => {
  clearTimeout(watchdog);
  const during = spawned.filter((child) => child.startedAt !== undefined && !(child.exitedAt < testStartedAt));
  for (const child of during) child.coveredByTest = true;
  if (t.passed) return;
  if (!during.length) {
    t.diagnostic('no process started by the harness ran during this test');
    return;
  }
  t.diagnostic(`the output of the ${during.length} process(es) that ran during this test:\n${during.map(logOf).join('\n')}`);
});
// Once every test of the file has run, a process a test or hook left running
// (a hook failed before its stop, or a test failed between a start and its
// stop) is ended: its open pipes would keep this file from ever finishing.
// This hook runs before the file's own top-level after hooks, which may
// still stop their processes gently: they get 10 s first
after(() => {
  setTimeout(() => { for (const child of children) child.kill('SIGKILL'); }, 10000).unref();
});
process.on('exit', (code) => {
  if (!code && !process.exitCode) return;
  const normal = (child) => (child.exitCode === 0 || child.signalsSent.includes(child.signalCode) ||
    (child.exitCode === null && child.signalCode === null));
  const left = spawned.filter((child) => child.output.length > child.shown && (!child.coveredByTest || !normal(child)));
  if (!left.length) return;
  process.stderr.write(`\nThis test file failed. The output of the ${left.length} process(es) no failing test showed` +
    ' that no test ran beside (a hook\'s) or that ended abnormally:\n' + `${left.map(logOf).join('\n')}\n`);
});

// A port nobody is using right now, for a program to listen on. It is taken
// from below the kernel's ephemeral range (ip_local_port_range), so that the
// local end of some connection cannot take it before the program binds, and
// it is never handed out twice by this process
const EPHEMERAL_LOW = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
const LISTEN_PORTS = { low: 20000, high: Math.max(EPHEMERAL_LOW, 20000 + 1000) - 1 };
const portsHandedOut = new Set();

function canListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.on('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort() {
  for (;;) {
    const port = LISTEN_PORTS.low + Math.floor(Math.random() * (LISTEN_PORTS.high - LISTEN_PORTS.low + 1));
    if (portsHandedOut.has(port)) continue;
    portsHandedOut.add(port);
    if (await canListen(port)) return port;
  }
}

// Starts a program; resolves once a line of its output matches `ready`.
// env: variables added to this process's environment for it
// Under ThreadSanitizer a program that starts a thousand civetweb threads
// takes many seconds to be ready
const READY_TIMEOUT = process.env.CES_SANITIZER === 'thread' ? 40000 : 15000;

// Unless a test sets them, programs get a WebSocket limit of WORKERS: civetweb
// starts one worker thread per allowed client at start and joins them all at
// stop, and the defaults (10,000 for an edge, 1,000 for a repeater) would make
// every start and stop cost 11,000 threads (1,000 each cost 2,000 before). Measured on 2 cores with a
// busy loop beside: `ces` ready in 25-49 s under ThreadSanitizer (more than
// READY_TIMEOUT) and 3 s under ASan, and a SIGTERM taking 2 s under ASan (so
// three hubs stopped at once missed their 5 s); with 100 each: 2.2 s, 0.4 s.
// No test needs more clients than this that does not set its own limit;
// limits = false starts a program with its own defaults (capacity.test.mjs).
const WORKERS = '100';
const LIMITS = {
  ces: ['--max-clients', '--repeater-max-clients'],
  'ces-edge': ['--max-clients'],
  'ces-repeater': ['--max-clients'],
};
function withLimits(program, args) {
  const missing = (LIMITS[program] || []).filter((flag) => !args.includes(flag));
  return [...missing.flatMap((flag) => [flag, WORKERS]), ...args];
}

export function start(program, args, ready = / ready$/m, timeout = READY_TIMEOUT, env = undefined, limits = true) {
  if (limits) args = withLimits(program, args);
  const child = spawn(path.join(BUILD, program), args,
    { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  children.add(child);
  track(child, [program, ...args].join(' '));
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
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);  // gone already (or crashed)
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

// Starts `ces` (hub + edge + repeater) on free ports; returns
// { child, port, router, pub, http, ws, repeater: { port, http, ws } }
// ports: { port, routerPort, pubPort, repeaterPort } of an earlier start
// (its .ports), to start it again where it was
export async function startCes(extra = [], ports = undefined) {
  const { port, routerPort, pubPort, repeaterPort } = ports
    || { port: await freePort(), routerPort: await freePort(), pubPort: await freePort(), repeaterPort: await freePort() };
  const router = `tcp://127.0.0.1:${routerPort}`;
  const pub = `tcp://127.0.0.1:${pubPort}`;
  const child = await start('ces', ['--listen', `127.0.0.1:${port}`, '--router', router, '--pub', pub,
    '--repeater-listen', `127.0.0.1:${repeaterPort}`, ...extra]);
  const repeater = { port: repeaterPort, http: `http://127.0.0.1:${repeaterPort}`, ws: `ws://127.0.0.1:${repeaterPort}` };
  return {
    child, port, router, pub, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, repeater,
    ports: { port, routerPort, pubPort, repeaterPort },
  };
}

// Starts `ces-repeater` linked to a hub's ROUTER; returns { child, port, http, ws }
export async function startRepeater(router, extra = []) {
  const port = await freePort();
  const child = await start('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', router, ...extra]);
  return { child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

// Starts `ces-edge` linked to a hub; returns { child, port, http, ws }
// env: as for start
export async function startEdge(router, pub, extra = [], env = undefined) {
  const port = await freePort();
  const child = await start('ces-edge', ['--listen', `127.0.0.1:${port}`, '--hub-router', router, '--hub-pub', pub, ...extra],
    undefined, undefined, env);
  return { child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

// A WebSocket client that queues what it receives, for awaiting in order;
// protocols: the subprotocol(s) it asks for ('ces.v2'), none if undefined
export class Client {
  constructor(url, options = {}, protocols = undefined) {
    this.ws = protocols === undefined ? new WebSocket(url, options) : new WebSocket(url, protocols, options);
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

// --------------------------------------------------------------------------
// Protocol version 2: a messenger that asks for the subprotocol ces.v2 gets
// events as Binary ROOMID\nSEQ\nJSON and, per registration, its replies
// (recovered, state, registered with positions; Text JSON)

// Opens /connect/messenger of `server` asking for ces.v2; fails unless the
// edge chose it
export async function openV2(server, options = {}) {
  const client = await new Client(`${server.ws}/connect/messenger`, options, 'ces.v2').open();
  assert.equal(client.ws.protocol, 'ces.v2', 'the edge chose the subprotocol ces.v2');
  return client;
}

// A v2 event frame ROOMID\nSEQ\nJSON as { room, seq, payload (a string) }
export function parseV2(data) {
  const first = data.indexOf(10);
  const second = first < 0 ? -1 : data.indexOf(10, first + 1);
  const shown = JSON.stringify(data.toString().slice(0, 200));
  assert.ok(first > 0 && second > first, `a v2 event ROOMID\\nSEQ\\nJSON, got ${shown}`);
  const digits = data.subarray(first + 1, second).toString();
  assert.match(digits, /^[1-9][0-9]*$/, `the sequence number of a v2 event, got ${shown}`);
  return { room: data.subarray(0, first).toString(), seq: Number(digits), payload: data.subarray(second + 1).toString() };
}

// The next message of a v2 client: { event: {room, seq, payload} } for a
// Binary one, { notice: its JSON } for a Text one
export async function nextV2(client, timeout = 3000) {
  const item = await client.next(timeout);
  return item.binary ? { event: parseV2(item.data) } : { notice: JSON.parse(item.text) };
}

// Sends a v2 registration (an object or raw text) and reads every reply up
// to its {"registered":...} notice. Returns { replies: each {event} or
// {notice} in the order received, events: the events among them,
// registered: the final notice }
export async function registerV2(client, request, timeout = 10000) {
  client.ws.send(typeof request === 'string' ? request : JSON.stringify(request));
  const replies = [];
  for (;;) {
    const reply = await nextV2(client, timeout).catch((error) => assert.fail(
      `registration ${JSON.stringify(request)}: ${error.message}; the replies before: ${JSON.stringify(replies).slice(0, 2000)}`));
    if (reply.notice?.registered) return { replies, events: replies.filter((r) => r.event).map((r) => r.event), registered: reply.notice };
    replies.push(reply);
  }
}

// GETs a URL; returns { status, body (parsed JSON, or the text if it is not JSON) }
export async function getStatusJson(url, options = {}) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: response.status, body };
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
  const item = await client.next().catch((error) => assert.fail(`${what}: ${error.message}`));
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

// --------------------------------------------------------------------------
// Repeater targets: small servers on 127.0.0.1 that record what a repeater
// sends them

// A queue of items, awaited in order (like Client's)
export class Inbox {
  constructor() { this.items = []; this.queue = []; this.waiters = []; }
  push(item) {
    this.items.push(item);
    const waiter = this.waiters.shift();
    if (waiter) waiter(item); else this.queue.push(item);
  }
  // Next item not taken yet, or an error after `timeout` ms
  next(timeout = 3000, what = 'item') {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(done), 1);
        reject(new Error(`no ${what} within ${timeout} ms`));
      }, timeout);
      const done = (item) => { clearTimeout(timer); resolve(item); };
      this.waiters.push(done);
    });
  }
}

// An HTTP target: records every request ({method, url, headers, body, at})
// in .requests (an Inbox). answer: true = 200; false = accept, read and
// never answer (a stalled system); a function of the request = the status
// to answer. Returns { url, port, requests, close() }.
export async function httpTarget({ answer = true, path: hook = '/hook' } = {}) {
  const { createServer } = await import('node:http');
  const requests = new Inbox();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), at: performance.now() };
      requests.push(request);
      if (typeof answer === 'function') res.statusCode = answer(request);
      if (answer) res.end('ok');
    });
  });
  server.keepAliveTimeout = 0;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${hook}`, port, requests, server,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// A WebSocket target (another repeater, as a repeater dials it): records
// every connection ({path, ws, closed}) in .connections and every message
// ({data, text, binary, conn, at}) in .messages (both Inboxes).
// Returns { url, port, connections, messages, close() }.
export async function wsTarget() {
  const { WebSocketServer } = await import('ws');
  const connections = new Inbox();
  const messages = new Inbox();
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (ws, req) => {
    const conn = { path: req.url, ws, at: performance.now() };
    conn.closed = new Promise((resolve) => ws.on('close', (code) => { conn.closedAt = performance.now(); resolve(code); }));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => messages.push({ data, text: data.toString(), binary: isBinary, conn, at: performance.now() }));
    connections.push(conn);
  });
  const { port } = server.address();
  return {
    url: `ws://127.0.0.1:${port}`, port, connections, messages, server,
    close: () => new Promise((resolve) => {
      for (const client of server.clients) client.terminate();
      server.close(() => resolve());
    }),
  };
}

// POSTs `body` (a string) as JSON; returns { status, text }
export async function postJson(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: response.status, text: await response.text() };
}

// Opens an outside system's WebSocket on /connect/ROOM/ID of a repeater
// (the .repeater of a startCes result, or a startRepeater result)
export const openOutside = (repeater, room, id) => new Client(`${repeater.ws}/connect/${room}/${id}`).open();

// A targets file under the system's temporary directory; .write(routes)
// rewrites it (an object, or raw text), .remove() deletes it
export async function targetsFile(routes = {}) {
  const [{ tmpdir }, fs] = [await import('node:os'), await import('node:fs')];
  const file = path.join(tmpdir(), `ces-targets-${process.pid}-${++counter}.json`);
  const write = (content) => fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  write(routes);
  return { file, write, remove: () => fs.rmSync(file, { force: true }) };
}

// --------------------------------------------------------------------------
// Auth: JWTs signed here with node:crypto, and refused upgrades

// A JWT with these claims. alg: 'HS256' (key: the secret, a string or
// Buffer), 'RS256' or 'ES256' (key: a private KeyObject), or 'none' (no
// signature). header: fields merged into the JOSE header. ecDer: sign ES256
// in DER, not the raw r||s JWS requires (a malformed signature).
export async function jwt(claims, { alg = 'HS256', key, header = {}, ecDer = false } = {}) {
  const crypto = await import('node:crypto');
  const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const data = `${b64({ alg, typ: 'JWT', ...header })}.${b64(claims)}`;
  let signature;
  if (alg === 'none') signature = Buffer.alloc(0);
  else if (alg === 'HS256') signature = crypto.createHmac('sha256', key).update(data).digest();
  else if (alg === 'RS256') signature = crypto.sign('sha256', Buffer.from(data), key);
  else if (alg === 'ES256') signature = crypto.sign('sha256', Buffer.from(data), { key, dsaEncoding: ecDer ? 'der' : 'ieee-p1363' });
  else throw new Error(`jwt: no signer for ${alg}`);
  return `${data}.${signature.toString('base64url')}`;
}

// Attempts a WebSocket upgrade that should be refused; resolves with
// { status, text } of the HTTP answer (status 101 if it was accepted: the
// socket is then ended at once)
export function refusal(url, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('error', reject);  // no answer at all (ignored once resolved)
    ws.once('open', () => { ws.terminate(); resolve({ status: 101, text: '(upgrade accepted)' }); });
    ws.once('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }); });
      res.on('error', reject);
    });
  });
}
