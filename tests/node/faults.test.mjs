// Faults under load: the hub, the sender's edge, the subscriber's edge and
// the repeater, each killed with SIGKILL while events flow, then restarted on
// the same ports. For each:
//   - the system routes again by itself: nothing is requested of it; a client
//     whose edge died reconnects and registers again, as a real service does
//   - every event sent is delivered, or counted as a drop by a process (in its
//     /status) or by the client that could not send it. What nobody can count
//     (events inside the killed process at the instant of SIGKILL, or routed
//     into it before anyone noticed) is measured, printed and bounded; every
//     event sent once the system says it is healthy again arrives exactly once.
//
// Each case has its own processes, so counters start at zero:
//
//   S: messenger, {"from":"S","seq":n} every 5 ms -> edge A ---\          /--> edge B -----> M: messenger, registered
//                                                               >-- hub --<
//   O: outside system, POST /send {"from":"O",...} -> repeater P /          \--> repeater P -> T: HTTP target (--central)
//
// S's events reach M (published to the room) and T (the hub gives each to its
// one repeater); O's events (repeater-sourced) reach M. Each receiver has a
// ledger, sent = delivered + counted + not owed + nobody counted:
// - counted: by the client (S: its socket was not open, or failed the write;
//   O: connection refused), as a 503 from the repeater (which counts it), or in
//   a process's /status: edge A's drops (hub_unreachable, hub_busy, ...: S
//   gets an error frame for each), hub drops, edge B lost_upstream and
//   queue_full, the target's failed/dropped. A killed process's counters are read just before the kill
//   (the hub's /status is refreshed every heartbeat), its successor's from
//   its start; the survivors' are read again before the restart.
// - not owed: sent while the receiver was attached nowhere: M between its
//   socket closing and its new {"registered"} notice; T while the hub had no
//   live repeater to give an event to (hub events_in.messenger -
//   deliveries.repeater).
// - nobody counted: the rest. It must be at most the events sent within the
//   detection window (3 heartbeats) either side of the kill; and none of it
//   may have been sent after the restart, since nothing sent then can have
//   been inside the killed process.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { start, stop, freePort, until, unique, httpTarget, eventBuilders } from './harness.mjs';

const HEARTBEAT = 200;            // the hub's --heartbeat, ms
const DETECT = 3 * HEARTBEAT;     // a peer silent this long is gone
const EVENT_EVERY = 5;            // S sends one event every 5 ms
const POST_EVERY = 10;            // O POSTs one event every 10 ms, one at a time
const AFTER_HEALTHY = 1000;       // load kept flowing this long once healthy again
const { event } = eventBuilders('faults-test', ['core-state']);
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every process and target server this file started and has not stopped yet
const running = new Set();
const targets = new Set();
after(async () => {
  for (const child of [...running]) await stop(child);
  for (const target of [...targets]) await target.close();
});

// ---------------------------------------------------------------------------
// Clients, written as real services would be

// A WebSocket messenger that reconnects by itself (50 ms doubling to 1 s,
// +-25% jitter) and registers its rooms again on every new connection.
// Records the events it receives by {from, seq}, its closes, opens and
// {"registered"} notices, and {"error"} notices.
class Service {
  constructor(url, rooms = []) {
    Object.assign(this, { url, rooms });
    this.opens = []; this.closes = []; this.registered = []; this.errors = [];
    this.got = { S: new Map(), O: new Map() };   // from -> Map(seq -> [arrival times])
    this.arrivals = [];                          // arrival time of every event
    this.backoff = 50;
    this.stopped = false;
    this.connect();
  }
  connect() {
    const ws = this.ws = new WebSocket(this.url);
    ws.binaryType = 'nodebuffer';
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.opens.push(now());
      this.backoff = 50;
      if (this.rooms.length) ws.send(JSON.stringify({ rooms: this.rooms, create: true }));
    });
    ws.on('message', (data, isBinary) => {
      const at = now();
      const text = data.toString();
      if (!isBinary) {
        const notice = JSON.parse(text);
        if (notice.registered && this.rooms.every((r) => notice.registered.includes(r))) this.registered.push(at);
        else if (notice.error) this.errors.push({ at, error: notice.error });
        return;
      }
      this.arrivals.push(at);
      const body = JSON.parse(text.slice(text.indexOf('\n') + 1));
      const seen = this.got[body.from];
      if (!seen.has(body.seq)) seen.set(body.seq, []);
      seen.get(body.seq).push(at);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (opened) this.closes.push(now());
      if (this.stopped) return;
      const delay = this.backoff * (0.75 + Math.random() * 0.5);
      this.backoff = Math.min(this.backoff * 2, 1000);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }
  get up() { return this.ws.readyState === WebSocket.OPEN; }
  stop() { this.stopped = true; clearTimeout(this.timer); this.ws.terminate(); }
}

// S: an event {from:"S", seq} to `room` every EVENT_EVERY ms through a
// Service. log[seq] = {t, state}: "sent" (written to an open socket),
// "closed" (the socket was not open: the client's own, counted drop) or
// "failed" (the socket failed the write: counted by the client too)
function messengerLoad(service, room) {
  const load = { log: [] };
  load.timer = setInterval(() => {
    const seq = load.log.length;
    const entry = { t: now(), state: 'closed' };
    load.log.push(entry);
    if (!service.up) return;
    entry.state = 'sent';
    service.ws.send(Buffer.from(`${room}\n${event(room, { from: 'S', seq })}`), (error) => { if (error) entry.state = 'failed'; });
  }, EVENT_EVERY);
  load.stop = () => clearInterval(load.timer);
  return load;
}

// One POST of `body` to /send, on a connection of its own: "accepted" (200),
// "unavailable" (503: the repeater has no hub, and counts it), "http-N",
// "refused" (nobody listening: nothing was sent; the client counts it) or
// "unknown" (the connection broke with the request in flight)
function postSend(port, body) {
  return new Promise((resolve) => {
    const request = http.request({
      host: '127.0.0.1', port, path: '/send', method: 'POST', agent: false, timeout: 10000,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200 ? 'accepted'
        : response.statusCode === 503 ? 'unavailable' : `http-${response.statusCode}`));
      response.on('error', () => resolve('unknown'));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
    request.end(body);
  });
}

// O: an outside system POSTing {from:"O", seq} for `room` every POST_EVERY ms.
// log[seq] = {t, state}
function outsideLoad(port, room) {
  const load = { log: [], stopped: false };
  load.done = (async () => {
    while (!load.stopped) {
      const entry = { t: now(), state: 'pending' };
      const seq = load.log.length;
      load.log.push(entry);
      entry.state = await postSend(port, event(room, { from: 'O', seq }));
      await sleep(Math.max(0, POST_EVERY - (now() - entry.t)));
    }
  })();
  load.stop = () => { load.stopped = true; return load.done; };
  return load;
}

// ---------------------------------------------------------------------------
// The processes and their counters

const KINDS = ['hub', 'edgeA', 'edgeB', 'repeater'];
const getJson = (url) => fetch(url).then((r) => (r.ok ? r.json() : null)).catch(() => null);

async function startSystem() {
  const port = {};
  for (const name of ['router', 'pub', 'hub', 'a', 'b', 'p']) port[name] = await freePort();
  const target = await httpTarget();
  targets.add(target);
  const router = `tcp://127.0.0.1:${port.router}`;
  const pub = `tcp://127.0.0.1:${port.pub}`;
  const sys = {
    port, target, child: {},
    programs: {
      hub: ['ces-hub', ['--router', router, '--pub', pub, '--http', `127.0.0.1:${port.hub}`, '--heartbeat', String(HEARTBEAT)]],
      edgeA: ['ces-edge', ['--listen', `127.0.0.1:${port.a}`, '--hub-router', router, '--hub-pub', pub]],
      edgeB: ['ces-edge', ['--listen', `127.0.0.1:${port.b}`, '--hub-router', router, '--hub-pub', pub]],
      repeater: ['ces-repeater', ['--listen', `127.0.0.1:${port.p}`, '--hub', router, '--central', target.url]],
    },
    url: {
      hub: `http://127.0.0.1:${port.hub}`, edgeA: `http://127.0.0.1:${port.a}`,
      edgeB: `http://127.0.0.1:${port.b}`, repeater: `http://127.0.0.1:${port.p}`,
    },
  };
  sys.incarnations = { hub: [], edgeA: [], edgeB: [], repeater: [] };
  // Starts (or restarts) a process on its ports. A port may be taken for a
  // moment by the ephemeral end of some connection: then try again, as a
  // supervisor would
  sys.launch = async (kind) => {
    const [program, args] = sys.programs[kind];
    for (let attempt = 1; ; attempt++) {
      try {
        const child = await start(program, args, / ready$/m, 20000);
        running.add(child);
        child.on('exit', () => running.delete(child));
        sys.child[kind] = child;
        sys.incarnations[kind].push(child);
        return;
      } catch (error) {
        if (attempt === 5 || !/Address already in use/.test(error.message)) throw error;
        await sleep(200);
      }
    }
  };
  sys.status = (kind) => getJson(`${sys.url[kind]}/status`);
  sys.statusAll = async () => {
    const all = await Promise.all(KINDS.map(sys.status));
    return Object.fromEntries(KINDS.map((k, i) => [k, all[i]]));
  };
  await sys.launch('hub');
  await Promise.all(['edgeA', 'edgeB', 'repeater'].map(sys.launch));
  return sys;
}

// Stops every process of a case with SIGTERM; returns their exit codes
async function stopSystem(sys) {
  const codes = {};
  for (const kind of ['repeater', 'edgeA', 'edgeB', 'hub']) if (sys.child[kind]) codes[kind] = await stop(sys.child[kind]);
  await sys.target.close();
  targets.delete(sys.target);
  return codes;
}

// The counters of one /status, flat (a process that is not there: {}).
// Every drop reason a process reports is kept (drop_<reason>), and summed:
// - an edge's not_forwarded: events from its clients (or POSTs) it did not
//   pass to the hub, all its drop reasons but queue_full (which is output
//   to a client): hub_unreachable, hub_busy, malformed, ...
// - the hub's refused: events it would not take in (malformed,
//   unknown_peer, ...: every reason but no_route, peer_gone, queue_full and
//   unconnected, which are about events it took in)
// The hub also counts no_subscriber: events for a room no local messenger
// held when they came (not a drop: a repeater may still get them), and
// drop_unconnected: the room was registered but its subscriber's SUB was
// not connected (just after a hub restart). Both are M's, never T's.
const OUTPUT_DROPS = { hub: ['no_route', 'peer_gone', 'queue_full', 'unconnected'], edge: ['queue_full'] };
function counters(kind, st) {
  if (!st) return {};
  const drops = kind === 'hub' ? st.drops : st.edge.counters.drops;
  const flat = Object.fromEntries(Object.entries(drops).map(([reason, n]) => [`drop_${reason}`, n]));
  const input = Object.entries(drops).filter(([reason]) => !OUTPUT_DROPS[kind === 'hub' ? 'hub' : 'edge'].includes(reason));
  const inputDrops = input.reduce((n, [, v]) => n + v, 0);
  if (kind === 'hub') {
    return {
      in_messenger: st.events_in.messenger, in_repeater: st.events_in.repeater,
      published: st.deliveries.published, to_repeater: st.deliveries.repeater, refused: inputDrops,
      no_subscriber: st.no_subscriber, ...flat,
    };
  }
  const c = st.edge.counters;
  Object.assign(flat, {
    events_in: c.events_in, posted: c.posted, delivered: c.delivered, lost_upstream: c.lost_upstream,
    not_forwarded: inputDrops, denied: c.denied, rate_limited: c.rate_limited, over_room_limit: c.over_room_limit,
  });
  if (st.repeater) {
    const target = st.repeater.targets[0];
    Object.assign(flat, {
      to_targets: st.repeater.events_to_targets, no_target: st.repeater.events_for_no_target,
      target_sent: target.sent, target_failed: target.failed, target_dropped: target.dropped_queue_full,
    });
  }
  return flat;
}
const flatAll = (all) => Object.fromEntries(KINDS.map((k) => [k, counters(k, all[k])]));

// The counters of a process that count drops or refusals
const dropKeys = (flat) => Object.keys(flat).filter((key) => key.startsWith('drop_')
  || ['lost_upstream', 'denied', 'rate_limited', 'over_room_limit', 'no_target', 'target_failed', 'target_dropped'].includes(key));

// ---------------------------------------------------------------------------
// One case: load; SIGKILL of `kind`; the survivors notice (their counters are
// read then); restart on the same ports; healthy again; more load; settle

async function runCase(kind, holder) {
  const sys = holder.sys = await startSystem();
  const room = unique('FAULT');
  const M = new Service(`ws://127.0.0.1:${sys.port.b}/connect/messenger`, [room]);
  const S = new Service(`ws://127.0.0.1:${sys.port.a}/connect/messenger`);
  let sLoad;
  let oLoad;
  try {
    await until(() => M.registered.length, (n) => n >= 1, 'M registered', 10000);
    await until(() => S.up, Boolean, 'S connected', 10000);
    await until(() => sys.status('hub'), (st) => st?.repeaters === 1 && st.rooms?.[room] >= 1, 'the hub with the room and the repeater', 10000);
    sLoad = messengerLoad(S, room);
    oLoad = outsideLoad(sys.port.p, room);
    const T = sys.target.requests.items;
    await until(() => [M.got.S.size, M.got.O.size, T.length], ([s, o, t]) => s >= 100 && o >= 40 && t >= 100,
      'events flowing to M (from S and O) and to T', 20000);

    // The steady state, read just before the kill
    const before = await sys.statusAll();
    const oldLinkId = before[kind]?.edge?.link_id;
    const exited = new Promise((resolve) => sys.child[kind].once('exit', resolve));
    const tKill = now();
    sys.child[kind].kill('SIGKILL');
    await exited;
    const tExited = now();

    // The survivors notice; their counters are read now, before the restart
    const noticed = {
      hub: async () => (await Promise.all(['edgeA', 'edgeB', 'repeater'].map(sys.status))).every((st) => st?.edge.hub_connected === false),
      edgeA: async () => ((await sys.status('hub'))?.links ?? [{ id: oldLinkId }]).every((l) => l.id !== oldLinkId),
      edgeB: async () => ((await sys.status('hub'))?.links ?? [{ id: oldLinkId }]).every((l) => l.id !== oldLinkId),
      repeater: async () => {
        const hub = await sys.status('hub');
        return hub?.repeaters === 0 && hub.links.every((l) => l.id !== oldLinkId);
      },
    }[kind];
    await until(noticed, Boolean, `the survivors noticing that ${kind} is gone`, 10000);
    const tDetected = now();
    const atRestart = await sys.statusAll();

    const tRestart = now();
    await sys.launch(kind);
    const tReady = now();

    // Healthy again, as the system reports it: every link up, the room and
    // the repeater back at the hub, the clients reconnected and registered
    let healthyStatus;
    await until(async () => {
      const all = await sys.statusAll();
      healthyStatus = all;
      return all.hub?.repeaters === 1 && all.hub.rooms?.[room] >= 1
        && ['edgeA', 'edgeB', 'repeater'].every((k) => all[k]?.edge.hub_connected)
        && all.repeater.repeater.in_rotation
        && S.up && M.up && M.registered.at(-1) > M.opens.at(-1);
    }, Boolean, `the system healthy again after ${kind} restarted`, 20000);
    const tHealthy = now();

    // Load after healthy (at least AFTER_HEALTHY ms, and enough events of
    // each flow), then stop it and let everything in flight arrive
    await until(() => [now() - tHealthy, count(sLoad.log, (e) => e.t >= tHealthy), count(oLoad.log, (e) => e.t >= tHealthy)],
      ([ms, s, o]) => ms >= AFTER_HEALTHY && s >= 150 && o >= 40, 'load flowing after healthy', 30000);
    sLoad.stop();
    await oLoad.stop();
    const lastS = sLoad.log.findLastIndex((e) => e.state === 'sent');
    const lastO = oLoad.log.findLastIndex((e) => e.state === 'accepted');
    await until(() => [M.got.S.has(lastS), M.got.O.has(lastO), T.some((r) => r.body.includes(`"seq":${lastS}}`))],
      (v) => v.every(Boolean), 'the last events at M and T', 10000).catch(() => {});
    // Settled: the same counters on three reads a heartbeat apart (the hub's
    // /status is a snapshot refreshed every heartbeat)
    let final = flatAll(await sys.statusAll());
    for (let stable = 0, reads = 0; stable < 2 && reads < 40; reads++) {
      await sleep(HEARTBEAT + 50);
      const next = flatAll(await sys.statusAll());
      stable = JSON.stringify(next) === JSON.stringify(final) ? stable + 1 : 0;
      final = next;
    }
    return {
      kind, sys, M, S, sLoad, oLoad,
      T: T.map((r) => ({ at: r.at, seq: JSON.parse(r.body).seq, from: JSON.parse(r.body).from })),
      c: { before: flatAll(before), atRestart: flatAll(atRestart), healthy: flatAll(healthyStatus), final },
      times: { tKill, tExited, tDetected, tRestart, tReady, tHealthy },
    };
  } finally {
    sLoad?.stop();
    await oLoad?.stop();
    M.stop();
    S.stop();
  }
}

// ---------------------------------------------------------------------------
// The ledgers

const A_ERRORS = 'edge A not_forwarded (S got an error frame for each)';
const count = (list, predicate) => list.reduce((n, x) => n + (predicate(x) ? 1 : 0), 0);
const round = (ms) => Math.round(ms);

// Runs of consecutive seqs, for messages: "105-240 (+0..+723 ms, sent)"
function runs(entries, t0) {
  const out = [];
  for (const e of entries) {
    const last = out.at(-1);
    if (last && last.to === e.seq - 1 && last.state === e.state) { last.to = e.seq; last.tTo = e.t; } else out.push({ from: e.seq, to: e.seq, t: e.t, tTo: e.t, state: e.state });
  }
  return out.map((r) => `${r.from}${r.to > r.from ? `-${r.to}` : ''} (${round(r.t - t0)}..${round(r.tTo - t0)} ms, ${r.state})`).join(', ') || 'none';
}

function analyse(r) {
  const { kind, c, times, M, S } = r;
  const { tKill, tRestart, tHealthy } = times;
  const killed = (k) => k === kind;
  // A counter over the whole case: the killed process's until the kill (read
  // just before it) plus its new incarnation's; a survivor's final value
  const total = (k, key) => (killed(k) ? (c.before[k][key] ?? 0) : 0) + (c.final[k][key] ?? 0);
  // Its part after the restart began (the new incarnation's, or a survivor's growth since the restart)
  const afterRestart = (k, key) => (c.final[k][key] ?? 0) - (killed(k) ? 0 : (c.atRestart[k][key] ?? 0));
  // Its part while M was away (see below): up to the healthy read
  const whileAway = (k, key) => (c.healthy[k][key] ?? 0) - (killed(k) ? 0 : (c.before[k][key] ?? 0));
  const whileAwayAfterRestart = (k, key) => (c.healthy[k][key] ?? 0) - (killed(k) ? 0 : (c.atRestart[k][key] ?? 0));

  // M was away (no attachment) from its socket closing to its new notice
  const mClose = M.closes.find((at) => at > tKill);
  const away = mClose === undefined ? null : { from: mClose, to: M.registered.at(-1) };

  const flows = {
    S: r.sLoad.log.map((e, seq) => ({ seq, ...e })),
    O: r.oLoad.log.map((e, seq) => ({ seq, ...e })),
  };
  const tGot = new Map();
  for (const x of r.T) { if (!tGot.has(x.seq)) tGot.set(x.seq, []); tGot.get(x.seq).push(x.at); }
  const got = { M: M.got, T: { S: tGot } };
  const receivers = { M: ['S', 'O'], T: ['S'] };
  const clientCounted = (e) => e.state === 'closed' || e.state === 'failed' || e.state === 'refused';

  // The hub's S events that it gave to no repeater (peer_gone, queue_full, or none live)
  const notGiven = (pick) => pick('hub', 'in_messenger') - pick('hub', 'to_repeater');
  // What the processes counted, per receiver (each counted event is one missing there)
  const processCounts = (pick) => ({
    M: {
      [A_ERRORS]: pick('edgeA', 'not_forwarded'),
      // no_route events are among these: nobody got them, M included
      'hub no_subscriber/unconnected/refused': pick('hub', 'no_subscriber') + pick('hub', 'drop_unconnected') + pick('hub', 'refused'),
      'edgeB lost_upstream/queue_full': pick('edgeB', 'lost_upstream') + pick('edgeB', 'drop_queue_full'),
    },
    T: {
      [A_ERRORS]: pick('edgeA', 'not_forwarded'),
      'hub refused': pick('hub', 'refused'),
      'repeater target failed/dropped/no_target': pick('repeater', 'target_failed') + pick('repeater', 'target_dropped') + pick('repeater', 'no_target'),
    },
  });
  const sum = (obj) => Object.values(obj).reduce((a, b) => a + b, 0);
  const counted = processCounts(total);
  const countedAfter = processCounts(afterRestart);
  // While M was away, what the hub counted was for events M was not owed
  if (away) {
    const a = processCounts(whileAway).M;
    const b = processCounts(whileAwayAfterRestart).M;
    for (const key of Object.keys(a)) { counted.M[key] -= a[key]; countedAfter.M[key] -= b[key]; }
  }

  const ledgers = {};
  for (const [rx, fromList] of Object.entries(receivers)) {
    const L = { sent: 0, delivered: 0, duplicates: [], client: 0, p503: 0, notOwed: 0, residual: [], window: 0, perFlow: {} };
    for (const from of fromList) {
      const F = { sent: 0, delivered: 0, client: 0, p503: 0, notOwed: 0, residual: [], missing: [] };
      for (const e of flows[from]) {
        F.sent++;
        if (e.t >= tKill - DETECT && e.t <= tKill + DETECT) L.window++;
        const arrivals = got[rx][from]?.get(e.seq);
        if (arrivals?.length > 1) L.duplicates.push(`${from}${e.seq}x${arrivals.length}`);
        if (arrivals) { F.delivered++; continue; }
        F.missing.push(e);
        if (clientCounted(e)) F.client++;
        else if (e.state === 'unavailable') F.p503++;
        else if (rx === 'M' && away && e.t > away.from && e.t < away.to) F.notOwed++;
        else F.residual.push(e);
      }
      L.perFlow[from] = F;
      for (const key of ['sent', 'delivered', 'client', 'p503', 'notOwed']) L[key] += F[key];
      L.residual.push(...F.residual);
    }
    L.counted = counted[rx];
    L.countedAfter = countedAfter[rx];
    if (rx === 'T') {
      // Not owed: the hub had no live repeater to give them to; of those, peer_gone/queue_full counted
      L.notOwed += notGiven(total);
      L.notGivenAfter = notGiven(afterRestart);
      L.notGivenCounted = total('hub', 'drop_peer_gone') + total('hub', 'drop_queue_full');
    }
    L.residualBefore = count(L.residual, (e) => e.t < tRestart);
    L.residualAfter = L.residual.length - L.residualBefore;
    L.nobody = L.residual.length - sum(L.counted) - (rx === 'T' ? notGiven(total) : 0);
    L.nobodyAfter = L.residualAfter - sum(L.countedAfter) - (rx === 'T' ? L.notGivenAfter : 0);
    // Split for the report: sent after the restart and not counted (must be
    // none), and the rest: what died inside the killed process
    L.uncountedAfterRestart = Math.max(0, L.nobodyAfter);
    L.lostInKilled = L.nobody - L.uncountedAfterRestart;
    ledgers[rx] = L;
  }

  // Routing again: the first event sent after the kill to arrive, per flow and receiver
  const recovery = {};
  for (const [rx, fromList] of Object.entries(receivers)) {
    for (const from of fromList) {
      let first = Infinity;
      for (const e of flows[from]) if (e.t > tKill) for (const at of got[rx][from]?.get(e.seq) ?? []) first = Math.min(first, at);
      recovery[`${from}->${rx}`] = round(first - tKill);
    }
  }
  // Sent well before the kill (more than the detection window), missing and
  // not counted by a client: at most what the processes counted before the kill
  const early = {};
  const countedBefore = processCounts((k, key) => c.before[k][key] ?? 0);
  for (const [rx, fromList] of Object.entries(receivers)) {
    const missing = fromList.flatMap((from) => flows[from].filter((e) => e.t < tKill - DETECT && !got[rx][from]?.has(e.seq)
      && !clientCounted(e) && e.state !== 'unavailable'));
    early[rx] = { missing, counted: sum(countedBefore[rx]) + (rx === 'T' ? notGiven((k, key) => c.before[k][key] ?? 0) : 0) };
  }
  return { flows, got, ledgers, away, recovery, total, afterRestart, early };
}

// ---------------------------------------------------------------------------
// The cases

const CASES = {
  hub: 'the hub',
  edgeA: "the sender's edge (S's)",
  edgeB: "the subscriber's edge (M's)",
  repeater: 'the repeater (O posts to it; it forwards to T)',
};
// Which processes each (flow, receiver) passes through
const PATH = { 'S->M': ['edgeA', 'hub', 'edgeB'], 'O->M': ['repeater', 'hub', 'edgeB'], 'S->T': ['edgeA', 'hub', 'repeater'] };

describe('faults: SIGKILL and restart on the same ports, under load', { timeout: 180000 }, () => {
  for (const [kind, what] of Object.entries(CASES)) {
    it(`${what}: routes again by itself; sent = delivered + counted (+ what died inside it, bounded)`, { timeout: 90000 }, async (t) => {
      const holder = {};
      try {
        await checkCase(t, kind, holder);
      } finally {
        if (holder.sys) await stopSystem(holder.sys);
      }
    });
  }
});

async function checkCase(t, kind, holder) {
  const r = await runCase(kind, holder);
  const a = analyse(r);
  const { c, times, M, S } = r;
  const { total, afterRestart } = a;
  const rel = (at) => `${round(at - times.tKill)} ms`;
  const say = (line) => t.diagnostic(`[${kind}] ${line}`);

  say(`after the kill: gone ${rel(times.tExited)}, survivors noticed ${rel(times.tDetected)}, restart ${rel(times.tRestart)}, ready ${rel(times.tReady)}, `
    + `healthy ${rel(times.tHealthy)}; first event sent after the kill to arrive, per path: ${JSON.stringify(a.recovery)} ms`);
  if (a.away) say(`M away ${rel(a.away.from)} .. ${rel(a.away.to)} (its socket closed; it reconnected and registered again)`);
  say(`S: ${a.flows.S.length} sent, ${JSON.stringify(tally(a.flows.S))}, error frames ${JSON.stringify(tally(S.errors.map((e) => ({ state: e.error }))))}; `
    + `O: ${a.flows.O.length} POSTed, ${JSON.stringify(tally(a.flows.O))}`);
  for (const [rx, L] of Object.entries(a.ledgers)) {
    say(`${rx}: sent ${L.sent} = delivered ${L.delivered} + counted by clients ${L.client} + 503 from the repeater ${L.p503} `
      + `+ counted by processes ${JSON.stringify(L.counted)} + not owed ${L.notOwed}`
      + `${rx === 'T' ? ` (given to no repeater; ${L.notGivenCounted} of them counted as peer_gone/queue_full)` : ' (M away)'} `
      + `+ NOBODY COUNTED ${L.nobody}; bound ${L.window} (events sent within ${DETECT} ms of the kill); `
      + `missing events sent after the restart ${L.residualAfter}, counted ${L.residualAfter - L.nobodyAfter}`);
    for (const [from, F] of Object.entries(L.perFlow)) say(`  ${from}->${rx} missing (seq, ms after the kill, client's view): ${runs(F.missing, times.tKill)}`);
  }
  // The numbers of the case, in one line
  const interrupted = Object.keys(PATH).filter((path) => PATH[path].includes(kind));
  const back = Math.max(...interrupted.map((path) => a.recovery[path]));
  say(`SUMMARY ${Object.entries(a.ledgers).map(([rx, L]) => `${rx}: sent ${L.sent}, delivered ${L.delivered}, `
    + `counted ${L.client + L.p503 + sumOf(L.counted)} (clients ${L.client}, repeater 503 ${L.p503}, processes ${sumOf(L.counted)}), not owed ${L.notOwed}, `
    + `lost inside the killed process ${L.lostInKilled} (bound ${L.window}), sent after the restart and counted by nobody ${L.uncountedAfterRestart}`).join('; ')}; routing again ${back} ms after the kill `
    + `(${round(back - (times.tReady - times.tKill))} ms after the restarted process was ready)`);
  say(`counters just before the kill ${JSON.stringify(c.before)}`);
  say(`counters of the survivors before the restart ${JSON.stringify(c.atRestart)}`);
  say(`counters at the end ${JSON.stringify(c.final)}`);
  const logs = [];
  for (const k of KINDS) {
    for (const child of r.sys.incarnations[k]) {
      for (const line of child.output.split('\n')) if (/silent|reconnect|lost|gone|unknown|refused|drop/i.test(line)) logs.push(`${k}: ${line}`);
    }
  }
  say(`log lines about links and drops: ${logs.length ? `\n${logs.slice(0, 30).join('\n')}` : 'none'}`);

  await t.test('routes again by itself; every event sent once healthy arrives exactly once', () => {
    const afterHealthy = (flow) => a.flows[flow].filter((e) => e.t >= times.tHealthy);
    for (const [flow, rxs] of [['S', ['M', 'T']], ['O', ['M']]]) {
      const bad = afterHealthy(flow).filter((e) => e.state !== (flow === 'S' ? 'sent' : 'accepted'));
      assert.equal(bad.length, 0, `${flow} could not send once healthy: ${runs(bad, times.tKill)}`);
      for (const rx of rxs) {
        const lost = afterHealthy(flow).filter((e) => !a.got[rx][flow]?.has(e.seq));
        assert.equal(lost.length, 0, `${flow}->${rx}: events sent after healthy (${rel(times.tHealthy)}) missing: ${runs(lost, times.tKill)}`);
      }
    }
    for (const [rx, L] of Object.entries(a.ledgers)) assert.deepEqual(L.duplicates, [], `${rx}: events delivered more than once`);
    for (const k of KINDS) {
      for (const key of dropKeys({ ...c.healthy[k], ...c.final[k] })) assert.equal(c.final[k][key] ?? 0, c.healthy[k][key] ?? 0, `${k} ${key}: nothing dropped once healthy`);
    }
  });

  await t.test('per process: everything taken in is passed on or counted', () => {
    const sErrors = S.errors.filter((e) => /the event was dropped/.test(e.error)).length;
    assert.deepEqual(S.errors.filter((e) => !/the event was dropped/.test(e.error)), [], 'S: no other error');
    assert.deepEqual(M.errors, [], 'M: no error');
    assert.equal(sErrors, total('edgeA', 'not_forwarded'), 'edge A counts every event it told S it dropped');
    const o = (state, since = -Infinity) => count(a.flows.O, (e) => e.state === state && e.t > since);
    assert.deepEqual(a.flows.O.filter((e) => /^http-/.test(e.state)), [], 'O: no other HTTP answer');
    if (kind !== 'repeater') assert.equal(o('unknown'), 0, 'a POST breaks off only when the repeater is killed');
    assert.equal(count(a.flows.O, (e) => e.state === 'unavailable' && a.got.M.O.has(e.seq)), 0, 'no event answered 503 was delivered');
    assert.equal(o('unavailable'), total('repeater', 'not_forwarded'), 'the repeater counts every 503');
    const sSentSince = (since) => count(a.flows.S, (e) => e.state === 'sent' && e.t > since);
    if (kind !== 'edgeA') assert.equal(c.final.edgeA.events_in, sSentSince(-Infinity), 'edge A took in every event S sent');
    else assert.equal(c.final.edgeA.events_in, sSentSince(S.opens.at(-1)), 'the new edge A took in every event S sent it');
    if (kind !== 'repeater') assert.equal(c.final.repeater.posted, o('accepted'), 'the repeater passed on every POST it accepted');
    else assert.equal(c.final.repeater.posted, o('accepted', times.tKill), 'the new repeater passed on every POST it accepted');
    if (kind !== 'edgeB') assert.equal(c.final.edgeB.delivered, M.arrivals.length, 'edge B wrote M every event it counts as delivered');
    else assert.equal(c.final.edgeB.delivered, count(M.arrivals, (at) => at > M.opens.at(-1)), 'the new edge B wrote M every event it counts as delivered');
    if (kind !== 'repeater') assert.equal(c.final.repeater.target_sent, r.T.length, 'T got every event the repeater counts as sent');
    else assert.equal(c.final.repeater.target_sent, count(r.T, (x) => x.at > times.tRestart), 'T got every event the new repeater counts as sent');
    const rep = c.final.repeater;
    assert.equal(rep.to_targets, rep.target_sent + rep.target_failed + rep.target_dropped + rep.no_target,
      'the repeater accounts for every event the hub gave it');
    // Between the processes: what one passed on, the next took in or counted.
    // Over the whole case where both survived; from the restart on where one
    // was killed (the killed one took in nothing between its kill and the
    // restart, and the survivors' counters were read in between)
    const windowOf = (pair) => (pair.includes(kind) ? afterRestart : total);
    const hubVs = (sender) => (key) => windowOf([sender, 'hub'])('hub', key);
    const fwd = {
      edgeA: (() => { const w = windowOf(['edgeA', 'hub']); return w('edgeA', 'events_in') - w('edgeA', 'not_forwarded'); })(),
      repeater: windowOf(['repeater', 'hub'])('repeater', 'posted'),
    };
    const took = { edgeA: hubVs('edgeA')('in_messenger'), repeater: hubVs('repeater')('in_repeater') };
    for (const sender of ['edgeA', 'repeater']) {
      // Events from a link the hub has forgotten (it fell silent) are refused (unknown_peer)
      const refused = hubVs(sender)('refused');
      assert.ok(took[sender] <= fwd[sender] && fwd[sender] <= took[sender] + refused,
        `the hub took in (${took[sender]}) or refused (${refused}) every event ${sender} passed on (${fwd[sender]})`);
    }
    if (kind === 'hub' || kind === 'edgeB') {
      const refused = hubVs('edgeA')('refused');
      assert.equal(took.edgeA + took.repeater + refused, fwd.edgeA + fwd.repeater, 'the hub took in or refused every event edge A and the repeater passed on');
    }
    assert.equal(hubVs('repeater')('to_repeater'), windowOf(['repeater', 'hub'])('repeater', 'to_targets'), 'the repeater took in every event the hub gave it');
    if (kind !== 'edgeB') {
      const w = windowOf(['edgeB', 'hub']);
      assert.equal(w('hub', 'published'), w('edgeB', 'delivered') + w('edgeB', 'lost_upstream') + w('edgeB', 'drop_queue_full'),
        'edge B wrote to M, or counted, every event the hub published to the room');
    }
  });

  for (const [rx, L] of Object.entries(a.ledgers)) {
    await t.test(`ledger of ${rx}: sent = delivered + counted + not owed + what died in the killed process (bounded)`, () => {
      assert.ok(L.nobody >= 0, `the counters claim ${-L.nobody} more drops than events are missing`);
      // Sent after the restart: nothing of it was inside the killed process, so every missing event is counted
      assert.ok(L.nobodyAfter <= 0, `${L.residualAfter} events sent after the restart (${rel(times.tRestart)}) are missing but only `
        + `${JSON.stringify(L.countedAfter)}${rx === 'T' ? ` + ${L.notGivenAfter} given to no repeater` : ''} are counted after it: `
        + `${runs(L.residual.filter((e) => e.t >= times.tRestart), times.tKill)}`);
      // What died inside the killed process is within the detection window around the kill
      assert.ok(L.nobody <= L.window, `${L.nobody} events nobody counted, more than the ${L.window} sent within ${DETECT} ms of the kill`);
      const early = a.early[rx];
      assert.ok(early.missing.length <= early.counted, `${early.missing.length} events sent more than ${DETECT} ms before the kill are missing, `
        + `${early.counted} counted before it: ${runs(early.missing, times.tKill)}`);
      // A path that does not pass through the killed process loses nothing uncounted
      for (const [from, F] of Object.entries(L.perFlow)) {
        if (PATH[`${from}->${rx}`].includes(kind)) continue;
        // O's events never pass edge A: its counts do not apply to them
        const counts = sumOf(L.counted) - (from === 'O' ? L.counted[A_ERRORS] : 0) + (rx === 'T' ? L.notOwed : 0);
        assert.ok(F.residual.length <= counts, `${from}->${rx} does not pass through ${kind}, yet ${F.residual.length} events are missing `
          + `and ${counts} counted: ${runs(F.residual, times.tKill)}`);
      }
    });
  }

  await t.test('every process stops cleanly on SIGTERM', async () => {
    const codes = await stopSystem(r.sys);
    holder.sys = null;
    for (const k of KINDS) assert.equal(codes[k], 0, `${k} exited ${codes[k]}:\n${r.sys.child[k].output.slice(-4000)}`);
  });
}

function tally(entries) { const out = {}; for (const e of entries) out[e.state] = (out[e.state] ?? 0) + 1; return out; }
function sumOf(obj) { return Object.values(obj).reduce((x, y) => x + y, 0); }
