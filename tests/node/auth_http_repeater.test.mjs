// Auth on the HTTP doors and the repeater of one `ces` (--auth-secret):
// POST /event on the edge and POST /send on the repeater (401 without a good
// token, 403 outside its send grant, 200 and routed inside it), and outside
// systems on the repeater's /connect/ROOM/ID (401 at the upgrade; events
// outside the send grant refused with an {"error"} and not routed; 1008 when
// the token expires).
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCes, stop, Client, status, mine, unique, until, expectEvent, expectError, eventBuilders, jwt, refusal,
} from './harness.mjs';

const SECRET = 'http-repeater-secret';
const { event, frame } = eventBuilders('auth-http-repeater-test', ['core-state']);
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims) => jwt(claims, { key: SECRET });

// `promise`, or a failure after `ms` ms
function within(promise, ms, what) {
  let timer;
  const late = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// POSTs `body` to `url` with a Bearer token (none if token is undefined); { status, text }
async function post(url, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text() };
}

async function metric(server, sample) {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  assert.ok(line, `/metrics has ${sample}`);
  return Number(line.slice(sample.length + 1));
}

describe('auth: POST /event, POST /send and the repeater\'s outside systems', () => {
  let ces, subscriber;
  const [room, other, base] = [unique('ITB'), unique('JFSB'), unique('PFX')];
  const opened = new Set();

  before(async () => {
    ces = await startCes(['--auth-secret', SECRET]);
    subscriber = new Client(`${ces.ws}/connect/messenger?token=${await sign({ rooms: ['*'] })}`);
    await subscriber.open();
    await subscriber.register([room, other, `${base}-1`]);
    await until(() => status(ces.repeater), (st) => st.edge.hub_connected, 'the repeater linked to the hub');
  });
  after(async () => {
    subscriber?.ws.terminate();
    if (ces) await stop(ces.child);
  });
  afterEach(() => {
    for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
    opened.clear();
  });

  // POST /event (edge) or POST /send (repeater): every case, then the
  // allowed events are the first the subscriber gets
  for (const [name, server, path] of [['POST /event on the edge', () => ces, '/event'], ['POST /send on the repeater', () => ces.repeater, '/send']]) {
    it(`${name}: 401 without a good token, 403 outside the send grant, 200 and routed inside it`, async () => {
      const url = `${server().http}${path}`;
      const before = (await status(server())).edge.counters.refused_auth;
      const sendRoom = await sign({ send: [room] });
      const cases = [
        ['no token', undefined, 401],
        ['an empty Bearer', '', 401],
        ['another secret', await jwt({ rooms: ['*'] }, { key: 'other' }), 401],
        ['alg none', await jwt({ rooms: ['*'] }, { alg: 'none' }), 401],
        ['expired', await sign({ rooms: ['*'], exp: now() - 60 }), 401],
        ['send grant for another room', sendRoom, 403, other],
        ['register grant only', await sign({ register: [other] }), 403, other],
      ];
      for (const [what, token, code, target = room] of cases) {
        const result = await post(url, event(target, { value: what }), token);
        assert.equal(result.status, code, `${what}: ${result.text}`);
        assert.ok(result.text.trim().length > 0, `${what}: a reason`);
        if (code === 403) assert.match(result.text, new RegExp(`send to room ${target}`), `${what}: names the room`);
      }
      await until(() => status(server()), (st) => st.edge.counters.refused_auth === before + 5, 'the 401s counted');
      const allowed = event(room, { value: 'allowed' });
      const ok = await post(url, allowed, sendRoom);
      assert.equal(ok.status, 200, ok.text);
      const prefixed = event(`${base}-1`, { value: 'prefix' });
      const viaQuery = await fetch(`${url}?token=${await sign({ send: [`${base}-*`] })}`, { method: 'POST', body: prefixed });
      assert.equal(viaQuery.status, 200, `?token= with a prefix grant: ${await viaQuery.text()}`);
      await expectEvent(subscriber, Buffer.from(`${room}\n${allowed}`), 'the first event routed is the allowed one');
      await expectEvent(subscriber, Buffer.from(`${base}-1\n${prefixed}`), 'then the prefix one');
    });
  }

  it('/connect/ROOM/ID: 401 without a good token (counted); with one, sends outside the grant get an {"error"}, counted',
    async () => {
      const before = (await status(ces.repeater)).edge.counters;
      const deniedMetric = await metric(ces.repeater, 'ces_edge_denied_total');
      for (const [what, query] of [['no token', ''], ['another secret', `?token=${await jwt({ rooms: ['*'] }, { key: 'x' })}`],
        ['expired', `?token=${await sign({ rooms: ['*'], exp: now() - 1 })}`]]) {
        const { status: code, text } = await refusal(`${ces.repeater.ws}/connect/${room}/sys-${what.replace(/ /g, '-')}${query}`);
        assert.equal(code, 401, `${what}: ${text}`);
      }
      await until(() => status(ces.repeater), (st) => st.edge.counters.refused_auth === before.refused_auth + 3,
        'three refusals counted by the repeater');

      const token = await sign({ send: [room, `${base}-*`] });
      const byQuery = new Client(`${ces.repeater.ws}/connect/${room}/sys-query?token=${token}`);
      const byHeader = new Client(`${ces.repeater.ws}/connect/${room}/sys-header`, { headers: { Authorization: `Bearer ${token}` } });
      opened.add(byQuery);
      opened.add(byHeader);
      await Promise.all([byQuery.open(), byHeader.open()]);
      const st = await until(() => status(ces.repeater), (s) => mine(s, byQuery) && mine(s, byHeader), 'both listed');
      assert.equal(mine(st, byQuery).role, 'outside');

      byQuery.ws.send(frame(other, { value: 'outside the grant' }));
      assert.equal(await expectError(byQuery, /./), `your token does not allow you to send to room ${other}`);
      byHeader.ws.send(frame(`${base}`, { value: 'not the prefix' }));
      assert.equal(await expectError(byHeader, /./), `your token does not allow you to send to room ${base}`);
      const e1 = frame(room, { value: 'inside the grant' });
      byQuery.ws.send(e1);
      await expectEvent(subscriber, e1, 'the first event the subscriber gets is the allowed one');
      const e2 = frame(`${base}-1`, { value: 'inside the prefix' });
      byHeader.ws.send(e2);
      await expectEvent(subscriber, e2, 'the prefix grant routes');
      const after = await until(() => status(ces.repeater), (s) => s.edge.counters.denied === before.denied + 2,
        'two denials counted by the repeater');
      assert.equal(after.edge.counters.refused_auth, before.refused_auth + 3);
      assert.equal(await metric(ces.repeater, 'ces_edge_denied_total'), deniedMetric + 2);
      assert.equal(byQuery.ws.readyState, byQuery.ws.OPEN, 'still connected after a denial');
      await Promise.all([byQuery.close(), byHeader.close()]);
    });

  it('/connect/ROOM/ID: an expiring token is closed with 1008, counted by the repeater', async () => {
    const before = (await status(ces.repeater)).edge.counters.closed_expired;
    const exp = now() + 2;
    const outside = new Client(`${ces.repeater.ws}/connect/${room}/sys-expiring?token=${await sign({ send: [room], exp })}`);
    opened.add(outside);
    await outside.open();
    const e = frame(room, { value: 'before expiry' });
    outside.ws.send(e);
    await expectEvent(subscriber, e, 'it works before its token expires');
    const closed = await within(outside.closed, exp * 1000 - Date.now() + 3000, 'the close at expiry');
    const at = Date.now();
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'token expired; reconnect with a new one');
    assert.ok(at >= exp * 1000 - 20 && at <= exp * 1000 + 1500, `closed at exp (${at - exp * 1000} ms after it)`);
    await until(() => status(ces.repeater), (st) => st.edge.counters.closed_expired === before + 1, 'closed_expired counted');
    assert.equal(await metric(ces.repeater, 'ces_edge_closed_expired_total'), before + 1);
  });
});
