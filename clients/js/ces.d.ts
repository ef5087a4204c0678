// TypeScript declarations for ces.js, the ces client (protocol ces.v2).

/** An event: a JSON object as the systems send it (a string if it was not JSON). */
export type CesEvent = Record<string, any> | string;

/** Where an event came from: the room's state, a replay of what was missed, or live. */
export type Source = "state" | "replay" | "live";

export interface EventInfo {
  /** The room of the event (for a pattern subscription, the matching room). */
  room: string;
  /** Its sequence number in the room's stream (null for state replayed from the client's own cache). */
  seq: number | null;
  source: Source;
}

/** device -> key -> latest event */
export type RoomState = Record<string, Record<string, CesEvent>>;

export interface Backoff {
  /** ms before the first reconnect attempt (250) */
  initial?: number;
  /** the longest wait, ms (10000) */
  max?: number;
  /** growth per attempt (2) */
  factor?: number;
  /** each wait is multiplied by a random factor in [1 - jitter, 1 + jitter] (0.2) */
  jitter?: number;
  /** a connection open this long (ms) resets the attempts (5000) */
  stable?: number;
}

export interface ConnectOptions {
  /** A JWT, sent as ?token= on the upgrade. */
  token?: string;
  /** Called before each reconnect attempt (and the first, without `token`) for a fresh token. */
  tokenRefresh?: () => string | undefined | Promise<string | undefined>;
  /** A WebSocket constructor (the browser's by default; npm ws's in Node 20). */
  WebSocket?: any;
  /** How many publishes wait while disconnected (1000); beyond it the oldest are dropped. */
  buffer?: number;
  backoff?: Backoff;
}

export interface SubscribeOptions {
  /** Get the room's current state first (each device and key's latest event). */
  state?: boolean;
}

export interface Subscription {
  readonly room: string;
  readonly pattern: boolean;
  readonly closed: boolean;
  /** A room: device -> key -> event. A pattern: room -> device -> key -> event, or one room's with `room`. */
  state(): RoomState | Record<string, RoomState>;
  state(room: string): RoomState;
  unsubscribe(): void;
}

export interface CesEvents {
  connecting: { attempt: number; url: string };
  connected: { attempt: number; connections: number; protocol: string };
  /** retryIn: ms until the next attempt, null after close() */
  disconnected: { code: number; reason: string; retryIn: number | null; attempt: number };
  registered: { rooms: string[]; positions: Record<string, { epoch: string; seq: number }> };
  /** After a reconnect: true when every missed event was replayed; false with `state: true` when the state follows instead. */
  recovered: { room: string; recovered: boolean; reason?: string; state: boolean };
  state: { room: string; epoch: string; seq: number; count: number };
  gap: { room: string; from: number; to: number; reason: string };
  epoch: { room: string; epoch: string };
  /** A publish dropped from the full buffer (the oldest); `dropped` counts them all. */
  dropped: { room: string; event: string; dropped: number };
  /** The server's {"error":...} notices, and the client's own troubles. */
  error: { message: string; error?: unknown };
}

export interface Stats {
  connected: boolean;
  connections: number;
  attempt: number;
  buffered: number;
  dropped: number;
  rooms: string[];
}

export interface Ces {
  subscribe(room: string, onEvent?: (event: CesEvent, info: EventInfo) => void): Subscription;
  subscribe(room: string, options: SubscribeOptions, onEvent?: (event: CesEvent, info: EventInfo) => void): Subscription;
  /** "sent", "buffered" (while disconnected) or "dropped" (the buffer holds nothing). */
  publish(room: string, event: object | string): "sent" | "buffered" | "dropped";
  on<K extends keyof CesEvents>(name: K, listener: (detail: CesEvents[K]) => void): () => void;
  off<K extends keyof CesEvents>(name: K, listener: (detail: CesEvents[K]) => void): void;
  close(): void;
  stats(): Stats;
  readonly connected: boolean;
  readonly url: string;
}

/** Connects to an edge: ws(s)://host:port or http(s)://host:port; in a browser, nothing means the page's host. */
export function connect(url?: string, options?: ConnectOptions): Ces;

/** The wait before reconnect attempt `attempt` (0, 1, ...), in ms. */
export function backoffDelay(attempt: number, backoff?: Backoff, random?: () => number): number;

export const BACKOFF: Readonly<Required<Backoff>>;
export const PROTOCOL: "ces.v2";
