// ces.js: a client for ces, the room-based event router, in browsers and in
// Node 20+. One ES module, no dependencies. It speaks the WebSocket protocol
// version 2 ("ces.v2", docs/PROTOCOL.md): it registers rooms (or building
// patterns such as "ITB-*") with their state, remembers each room's position
// (epoch and sequence number), and when the connection drops it reconnects
// with exponential backoff and jitter and registers again with "since", so
// that the server replays what was missed; when the server cannot (its
// history no longer reaches that far, or the room's stream was replaced) the
// client is told, and the room's state comes again. Events published while
// disconnected wait in a bounded buffer. No event is reported twice.
//
//   import { connect } from "/ces.js";          // every ces edge serves it
//   const ces = connect("ws://127.0.0.1:7100", { token });
//   const sub = ces.subscribe("ITB-1101", { state: true }, (event, info) => ...);
//   ces.publish("ITB-1101", { key: "power", value: "on" });
//
// In Node 20 (which has no WebSocket of its own) pass npm ws's:
//   connect(url, { WebSocket: (await import("ws")).default })

export const PROTOCOL = "ces.v2";

// The reconnect delays: attempt n (0 after a stable connection) waits
// min(max, initial * factor^n) times a random factor in [1 - jitter, 1 + jitter]
export const BACKOFF = Object.freeze({ initial: 250, max: 10000, factor: 2, jitter: 0.2, stable: 5000 });

// The delay in ms before reconnect attempt `attempt` (0, 1, 2, ...), for the
// options `backoff` (merged over BACKOFF); `random` returns a number in [0, 1)
export function backoffDelay(attempt, backoff = {}, random = Math.random) {
  const { initial, max, factor, jitter } = { ...BACKOFF, ...backoff };
  const base = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(base * (1 - jitter + 2 * jitter * random()));
}

const isPattern = (room) => room.endsWith("*");
const covers = (pattern, room) => pattern === "*" || room.startsWith(pattern.slice(0, -1));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The state address of an event: target-device.deviceID and key, both
// non-empty strings (as the hub keeps state); null when it has none
function address(event) {
  const device = event && event["target-device"] && event["target-device"].deviceID;
  const key = event && event.key;
  return typeof device === "string" && device && typeof key === "string" && key ? [device, key] : null;
}

// The ws:// address of the edge, from http(s)://, ws(s):// or nothing (the
// page's own host, in a browser)
function baseUrl(url) {
  if (!url) {
    if (typeof location === "undefined") throw new Error("ces: connect(url) needs the edge's address");
    url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  }
  url = String(url).replace(/^http(s?):\/\//, "ws$1://").replace(/\/+$/, "");
  return url.replace(/\/connect\/messenger$/, "");
}

class Subscription {
  constructor(client, room, options, onEvent) {
    this.room = room;
    this.pattern = isPattern(room);
    this.options = options;
    this.onEvent = onEvent;
    this._client = client;
    this._state = new Map(); // room -> device -> key -> event
    this.closed = false;
  }

  // The state as this subscription keeps it. A room: {device: {key: event}};
  // a pattern: {room: {device: {key: event}}}
  state(room) {
    const one = (r) => {
      const out = {};
      for (const [device, keys] of this._state.get(r) || []) out[device] = Object.fromEntries(keys);
      return out;
    };
    if (room !== undefined || !this.pattern) return one(room === undefined ? this.room : room);
    return Object.fromEntries([...this._state.keys()].map((r) => [r, one(r)]));
  }

  unsubscribe() {
    if (this.closed) return;
    this.closed = true;
    this._client._unsubscribe(this);
  }

  _remember(room, event) {
    const where = address(event);
    if (!where) return;
    if (!this._state.has(room)) this._state.set(room, new Map());
    const devices = this._state.get(room);
    if (!devices.has(where[0])) devices.set(where[0], new Map());
    devices.get(where[0]).set(where[1], event);
  }

  _deliver(event, info, report = true) {
    if (this.closed) return;
    this._remember(info.room, event);
    if (!report || !this.onEvent) return;
    try {
      this.onEvent(event, info);
    } catch (error) {
      this._client._emit("error", { message: `subscriber of ${this.room} threw: ${error && error.message}`, error });
    }
  }
}

// One room or pattern registered with the server, and its place in the
// room's stream: {epoch, seq}, the last event reported (or passed over)
class Room {
  constructor(name) {
    this.name = name;
    this.pattern = isPattern(name);
    this.subs = new Set();
    this.epoch = null;
    this.seq = 0;
    this.mode = null;      // while registering: "replay", "state" or null (live)
    this.askedState = false;
    this.held = [];        // state events, kept until the {"state"} notice
    this.holes = [];       // [from, to] of a gap notice, being filled by a replay
  }
  // The position to recover from: before the first hole, if any
  since() {
    const from = Math.min(this.seq + 1, ...this.holes.map(([start]) => start));
    return { epoch: this.epoch, seq: from - 1 };
  }
  // Whether an event is new: "hole" in a hole (which it fills; a hole may
  // reach past the last event reported, when the gap was at the end of a
  // burst), "next" after the last reported, or "" (reported already)
  fresh(seq) {
    const hole = this.epoch === null ? -1 : this.holes.findIndex(([from, to]) => seq >= from && seq <= to);
    if (hole >= 0) {
      const [from, to] = this.holes[hole];
      this.holes.splice(hole, 1, ...[[from, seq - 1], [seq + 1, to]].filter(([a, b]) => a <= b));
      return "hole";
    }
    return this.epoch === null || seq > this.seq ? "next" : "";
  }
  get wantsState() { return [...this.subs].some((sub) => sub.options.state); }
}

class Client {
  constructor(url, options = {}) {
    this.url = baseUrl(url);
    this.options = options;
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new Error("ces: no WebSocket here; pass connect(url, { WebSocket }) (npm ws in Node 20)");
    this.backoff = { ...BACKOFF, ...options.backoff };
    this.bufferLimit = options.buffer === undefined ? 1000 : options.buffer;
    this.token = options.token;
    this.rooms = new Map();   // room or pattern -> Room
    this.seen = new Map();    // rooms heard through patterns only -> last seq, this connection
    this.listeners = new Map();
    this.buffer = [];         // frames waiting for a connection
    this.dropped = 0;
    this.attempt = 0;         // reconnect attempts since the last stable connection
    this.connections = 0;     // connections opened
    this.ws = null;
    this.timer = null;
    this.closed = false;
    this.openedAt = 0;
    queueMicrotask(() => this._connect(true));
  }

  get connected() { return !!this.ws && this.ws.readyState === 1 && this.openedAt > 0; }

  on(name, listener) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(listener);
    return () => this.off(name, listener);
  }

  off(name, listener) { this.listeners.get(name)?.delete(listener); }

  _emit(name, detail) {
    for (const listener of [...(this.listeners.get(name) || [])]) {
      try { listener(detail); } catch (error) {
        if (name !== "error") this._emit("error", { message: `a "${name}" listener threw: ${error && error.message}`, error });
      }
    }
  }

  stats() {
    return { connected: this.connected, connections: this.connections, attempt: this.attempt,
             buffered: this.buffer.length, dropped: this.dropped, rooms: [...this.rooms.keys()] };
  }

  // ------------------------------------------------------------------
  // Subscriptions

  subscribe(room, options, onEvent) {
    if (typeof options === "function") [options, onEvent] = [{}, options];
    options = options || {};
    if (typeof room !== "string" || !room || /[\n\s]/.test(room)) throw new Error(`ces: bad room ${JSON.stringify(room)}`);
    if (this.closed) throw new Error("ces: subscribe after close()");
    const sub = new Subscription(this, room, options, onEvent);
    let known = this.rooms.get(room);
    if (known) {
      known.subs.add(sub);
      // The room is registered already: a new subscriber asking for state
      // gets the state as the client keeps it
      if (options.state && !known.pattern) {
        const other = [...known.subs].find((s) => s !== sub);
        const state = other ? other._state.get(room) : null;
        queueMicrotask(() => {
          for (const keys of (state || new Map()).values()) {
            for (const event of keys.values()) sub._deliver(event, { room, seq: null, source: "state" });
          }
        });
      }
      return sub;
    }
    known = new Room(room);
    known.subs.add(sub);
    this.rooms.set(room, known);
    if (this.connected) this._register([known]);
    return sub;
  }

  _unsubscribe(sub) {
    const room = this.rooms.get(sub.room);
    if (!room) return;
    room.subs.delete(sub);
    if (room.subs.size) return;
    this.rooms.delete(sub.room);
    if (this.connected) this._send(JSON.stringify({ rooms: [sub.room], create: false }));
  }

  // Registers rooms: those with a position (with "since"; state comes if the
  // server cannot recover them) and those that want state in one
  // registration, the others and the patterns in another
  _register(rooms) {
    const stateful = rooms.filter((r) => !r.pattern && (r.epoch !== null || r.wantsState));
    const plain = rooms.filter((r) => !stateful.includes(r));
    if (stateful.length) {
      const since = {};
      for (const room of stateful) {
        room.askedState = true;
        if (room.epoch !== null) since[room.name] = room.since();
        room.mode = room.epoch !== null ? "replay" : "state";
        room.held = [];
      }
      const message = { rooms: stateful.map((r) => r.name), create: true, state: true };
      if (Object.keys(since).length) message.since = since;
      this._send(JSON.stringify(message));
    }
    if (plain.length) {
      for (const room of plain) { room.askedState = false; room.mode = null; }
      this._send(JSON.stringify({ rooms: plain.map((r) => r.name), create: true }));
    }
  }

  // ------------------------------------------------------------------
  // Publishing

  publish(room, event) {
    if (typeof room !== "string" || !room || room.includes("\n") || isPattern(room)) {
      throw new Error(`ces: cannot publish to ${JSON.stringify(room)}`);
    }
    const frame = room + "\n" + (typeof event === "string" ? event : JSON.stringify(event));
    if (this.connected && this._send(encoder.encode(frame))) return "sent";
    if (this.closed) throw new Error("ces: publish after close()");
    this.buffer.push({ room, frame });
    if (this.buffer.length > this.bufferLimit) {
      const lost = this.buffer.shift();
      this.dropped++;
      this._emit("dropped", { room: lost.room, event: lost.frame.slice(lost.room.length + 1), dropped: this.dropped });
      if (lost.frame === frame) return "dropped";
    }
    return "buffered";
  }

  _flush() {
    while (this.buffer.length && this.connected) {
      if (!this._send(encoder.encode(this.buffer[0].frame))) return;
      this.buffer.shift();
    }
  }

  _send(data) {
    try { this.ws.send(data); return true; } catch { return false; }
  }

  // ------------------------------------------------------------------
  // The connection

  async _connect(first) {
    this.timer = null;
    if (this.closed) return;
    const attempt = this.attempt;
    this._emit("connecting", { attempt, url: this.url });
    if (this.options.tokenRefresh && (!first || this.token === undefined)) {
      try {
        this.token = await this.options.tokenRefresh();
      } catch (error) {
        this._emit("error", { message: `tokenRefresh failed: ${error && error.message}`, error });
        this._retry(0, "token refresh failed");
        return;
      }
      if (this.closed) return;
    }
    const url = this.url + "/connect/messenger" + (this.token ? "?token=" + encodeURIComponent(this.token) : "");
    let ws;
    try {
      ws = new this.WebSocket(url, PROTOCOL);
    } catch (error) {
      this._emit("error", { message: `cannot open ${this.url}: ${error && error.message}`, error });
      this._retry(0, String(error && error.message));
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.openedAt = 0;
    ws.onopen = () => this._opened(ws);
    ws.onmessage = (message) => { if (ws === this.ws) this._message(message.data); };
    ws.onerror = () => {};  // a close follows
    ws.onclose = (e) => { if (ws === this.ws) this._closed(e.code, e.reason); };
  }

  _opened(ws) {
    if (ws !== this.ws) return;
    this.openedAt = Date.now();
    this.connections++;
    this.seen.clear();
    this._emit("connected", { attempt: this.attempt, connections: this.connections, protocol: ws.protocol });
    if (ws.protocol && ws.protocol !== PROTOCOL) {
      this._emit("error", { message: `the server speaks ${ws.protocol}, not ${PROTOCOL}` });
    }
    this._register([...this.rooms.values()]);
    this._flush();
  }

  _closed(code, reason) {
    const wasOpen = this.openedAt > 0;
    if (wasOpen && Date.now() - this.openedAt >= this.backoff.stable) this.attempt = 0;
    this.ws = null;
    this.openedAt = 0;
    for (const room of this.rooms.values()) { room.mode = null; room.held = []; }
    if (this.closed) return;
    this._retry(code, reason);
  }

  _retry(code, reason) {
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt++;
    this._emit("disconnected", { code, reason: reason || "", retryIn: delay, attempt: this.attempt });
    this.timer = setTimeout(() => this._connect(false), delay);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.openedAt = 0;
    if (ws) {
      try { ws.close(1000, "closed by the client"); } catch { /* not open yet */ }
    }
    this._emit("disconnected", { code: 1000, reason: "closed by the client", retryIn: null, attempt: this.attempt });
  }

  // ------------------------------------------------------------------
  // What the server sends

  _message(data) {
    if (typeof data === "string") return this._notice(data);
    const text = decoder.decode(data);
    const first = text.indexOf("\n");
    const second = text.indexOf("\n", first + 1);
    const seq = Number(text.slice(first + 1, second));
    if (first < 1 || second < 0 || !Number.isInteger(seq)) {
      this._emit("error", { message: `not a version 2 event: ${JSON.stringify(text.slice(0, 80))}` });
      return;
    }
    const name = text.slice(0, first);
    let event;
    try {
      event = JSON.parse(text.slice(second + 1));
    } catch {
      event = text.slice(second + 1);
    }
    this._event(name, seq, event);
  }

  _event(name, seq, event) {
    const room = this.rooms.get(name);
    if (room && room.mode === "state") {
      room.held.push({ seq, event });
      return;
    }
    let source = "live";
    if (room) {
      const fresh = room.fresh(seq);
      if (!fresh) return;  // reported already
      if (room.mode === "replay" || fresh === "hole") source = "replay";
      room.seq = Math.max(room.seq, seq);
    } else {
      const last = this.seen.get(name);
      if (last !== undefined && seq <= last) return;
      this.seen.set(name, seq);
    }
    this._fanOut(name, event, { room: name, seq, source });
  }

  // Every subscription that covers the room
  _subscribers(name) {
    const subs = [];
    for (const room of this.rooms.values()) {
      if (room.name === name || (room.pattern && covers(room.name, name))) subs.push(...room.subs);
    }
    return subs;
  }

  _fanOut(name, event, info, report = true) {
    for (const sub of this._subscribers(name)) sub._deliver(event, info, report);
  }

  _notice(text) {
    let notice;
    try {
      notice = JSON.parse(text);
    } catch {
      this._emit("error", { message: `not a notice: ${text.slice(0, 200)}` });
      return;
    }
    if (typeof notice.error === "string") this._emit("error", { message: notice.error });
    if (notice.recovered) {
      for (const [name, ok] of Object.entries(notice.recovered)) {
        const room = this.rooms.get(name);
        const reason = notice.reason ? notice.reason[name] : undefined;
        if (room) {
          room.mode = ok ? null : room.askedState ? "state" : null;
          room.held = [];
          room.holes = [];  // filled, or lost for good (and said so)
        }
        this._emit("recovered", { room: name, recovered: !!ok, reason, state: !ok && !!room && room.askedState });
      }
    }
    if (notice.state) {
      for (const [name, summary] of Object.entries(notice.state)) this._stated(name, summary);
    }
    if (notice.registered) {
      const positions = notice.positions || {};
      for (const name of notice.registered) {
        const room = this.rooms.get(name);
        const position = positions[name];
        if (!room) continue;
        room.mode = null;
        if (position && typeof position.epoch === "string") {
          if (room.epoch !== position.epoch) room.seq = 0;
          room.epoch = position.epoch;
          room.seq = Math.max(room.seq, Number(position.seq) || 0);
        }
      }
      this._emit("registered", { rooms: notice.registered, positions });
    }
    if (notice.gap) this._gap(notice.gap);
    if (notice.epoch && typeof notice.epoch === "object") {
      for (const [name, epoch] of Object.entries(notice.epoch)) {
        const room = this.rooms.get(name);
        if (room) { room.epoch = epoch; room.seq = 0; room.holes = []; }
        this.seen.delete(name);
        this._emit("epoch", { room: name, epoch });
      }
    }
  }

  // Events the server could not send (its queue for this client was full,
  // or they never reached the edge): for a room with a position, it is
  // registered again with "since" before them, and the replay fills the hole
  _gap(gap) {
    const room = this.rooms.get(gap.room);
    const from = Number(gap.from);
    const to = Number(gap.to);
    const filling = !!room && !room.pattern && room.epoch !== null && this.connected &&
      Number.isInteger(from) && Number.isInteger(to) && from >= 1 && from <= to;
    this._emit("gap", { ...gap, filling });
    if (!filling) return;
    room.holes.push([from, to]);
    const message = { rooms: [room.name], create: true, since: { [room.name]: room.since() } };
    if (room.askedState) message.state = true;
    this._send(JSON.stringify(message));
  }

  // The room's state is complete: it replaces what the room's own
  // subscriptions keep; events reported before (the same epoch, at most the
  // last sequence number) are not reported again
  _stated(name, summary) {
    const room = this.rooms.get(name);
    if (!room) return;
    const held = room.held;
    room.held = [];
    room.mode = null;
    const same = room.epoch !== null && room.epoch === summary.epoch;
    const last = room.seq;
    for (const sub of room.subs) sub._state.delete(name);
    for (const { seq, event } of held) {
      const report = !same || seq > last;
      for (const sub of room.subs) sub._deliver(event, { room: name, seq, source: "state" }, report);
    }
    room.epoch = summary.epoch;
    room.seq = same ? Math.max(last, Number(summary.seq) || 0) : Number(summary.seq) || 0;
    this._emit("state", { room: name, epoch: summary.epoch, seq: summary.seq, count: summary.count });
  }
}

// Connects to a ces edge (ws://host:port, http://host:port, or, in a
// browser, nothing: the page's own host). Options: token, tokenRefresh
// (async () => token, called before each reconnect), WebSocket (a
// constructor), buffer (publishes kept while disconnected, 1000), backoff
// ({initial, max, factor, jitter, stable}, see BACKOFF)
export function connect(url, options = {}) {
  const client = new Client(url, options);
  return {
    subscribe: (room, opts, onEvent) => client.subscribe(room, opts, onEvent),
    publish: (room, event) => client.publish(room, event),
    on: (name, listener) => client.on(name, listener),
    off: (name, listener) => client.off(name, listener),
    close: () => client.close(),
    stats: () => client.stats(),
    get connected() { return client.connected; },
    get url() { return client.url; },
  };
}
