// Auth with a shared secret (--auth-secret, HS256) on the edge of one `ces`:
// tokens at the upgrade (401 with a reason, counted), room grants for
// registering and sending (refused with a Text {"error"}, counted, nothing
// routed), prefix and "*" grants, and the close (1008) when a token expires
// on an open connection. Also CES_AUTH_SECRET on a `ces-edge`.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startCes, start, stop, Client, status, mine, unique, until, expectEvent, expectError, eventBuilders, jwt, refusal,
  freePort,
} from './harness.mjs';

const SECRET = 'hs256-test-secret';
const { frame } = eventBuilders('auth-hs256-test');
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims, options = {}) => jwt(claims, { key: SECRET, ...options });

// `promise`, or a failure after `ms` ms
function within(promise, ms, what) {
  let timer;
  const late = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Every client a test opened; those it left open are ended after it
const opened = new Set();

// The value of one sample of a server's /metrics
async function metric(server, sample) {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  assert.ok(line, `/metrics has ${sample}`);
  return Number(line.slice(sample.length + 1));
}

// The auth counters of /status and /metrics together
async function authCounts(server) {
  const { counters } = (await status(server)).edge;
  return {
    refused: counters.refused_auth, denied: counters.denied, expired: counters.closed_expired,
    refusedMetric: await metric(server, 'ces_edge_refused_total{reason="auth"}'),
    deniedMetric: await metric(server, 'ces_edge_denied_total'),
    expiredMetric: await metric(server, 'ces_edge_closed_expired_total'),
  };
}

// Opens /connect/{type} of `server` with a token (in the query, or in an
// Authorization header with via: 'header') and waits until /status lists it
async function connect(server, token, { type = 'messenger', via = 'query', options = {} } = {}) {
  const url = via === 'query' ? `${server.ws}/connect/${type}?token=${token}` : `${server.ws}/connect/${type}`;
  const headers = via === 'header' ? { Authorization: `Bearer ${token}` } : {};
  const client = new Client(url, { ...options, headers: { ...headers, ...options.headers } });
  opened.add(client);
  await client.open();
  await until(() => status(server), (st) => mine(st, client), `/connect/${type} client listed in /status`);
  return client;
}

// Registers a fresh room allowed by an all-rooms grant: once its notice is
// back, the edge has handled everything this client sent before it
async function sync(client) {
  const room = unique('sync');
  await client.register([room]);
  return room;
}

describe('auth: HS256 tokens on the edge', () => {
  let ces, all;

  before(async () => {
    ces = await startCes(['--auth-secret', SECRET]);
    all = await sign({ rooms: ['*'] });
  });
  after(async () => { if (ces) await stop(ces.child); });
  afterEach(() => {
    for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
    opened.clear();
  });

  it('no token: 401 with a one-line reason on every /connect type, counted in /status and /metrics', async () => {
    const before = await authCounts(ces);
    assert.equal((await status(ces)).edge.counters.auth_required, true, '/status says a token is required');
    for (const type of ['messenger', 'repeater', 'hub']) {
      const { status: code, text } = await refusal(`${ces.ws}/connect/${type}`);
      assert.equal(code, 401, `/connect/${type} without a token`);
      const reason = text.replace(/\n$/, '');
      assert.match(reason, /token/i, `the reason says a token is needed: ${JSON.stringify(text)}`);
      assert.equal(reason.includes('\n'), false, 'a one-line reason');
    }
    const after = await until(() => authCounts(ces), (c) => c.refused === before.refused + 3, 'three refusals counted');
    assert.equal(after.refusedMetric, before.refusedMetric + 3, 'ces_edge_refused_total{reason="auth"} counts them');
    assert.equal((await status(ces)).edge.clients.length, 0, 'nobody got in');
  });

  it('bad tokens: 401 with a reason (wrong secret, tampered, alg none, RS256, expired, not a JWT, claims not arrays)',
    async () => {
      const good = await sign({ rooms: ['*'] });
      const [header, , signature] = good.split('.');
      const tampered = `${header}.${Buffer.from(JSON.stringify({ rooms: ['*'], admin: true })).toString('base64url')}.${signature}`;
      const { privateKey: rsa } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const noneToken = await jwt({ rooms: ['*'] }, { alg: 'none' });
      const noneData = noneToken.slice(0, noneToken.lastIndexOf('.'));
      const noneWithHmac = `${noneData}.${crypto.createHmac('sha256', SECRET).update(noneData).digest('base64url')}`;
      const cases = [
        ['wrong secret', await jwt({ rooms: ['*'] }, { key: 'not-the-secret' }), /signature/i],
        ['payload changed after signing', tampered, /signature/i],
        ['alg none, no signature', noneToken, /HS256/],
        // The right HMAC of a header that says none is still an alg none token
        ['alg none with the HMAC of the secret', noneWithHmac, /HS256/],
        ['RS256 where HS256 is configured', await jwt({ rooms: ['*'] }, { alg: 'RS256', key: rsa }), /HS256/],
        ['expired', await sign({ rooms: ['*'], exp: now() - 60 }), /expired/i],
        ['not a JWT', 'not-a-jwt', /./],
        ['"rooms" a string', await sign({ rooms: 'ITB-1101' }), /array/i],
        ['"send" an object', await sign({ send: { room: 'ITB-1101' } }), /array/i],
        ['"register" an array of numbers', await sign({ register: [1101] }), /array/i],
      ];
      const before = await authCounts(ces);
      for (const [name, token, pattern] of cases) {
        for (const via of ['query', 'header']) {
          const url = via === 'query' ? `${ces.ws}/connect/messenger?token=${token}` : `${ces.ws}/connect/messenger`;
          const headers = via === 'header' ? { Authorization: `Bearer ${token}` } : {};
          const { status: code, text } = await refusal(url, { headers });
          assert.equal(code, 401, `${name} (${via}): 401`);
          assert.match(text, pattern, `${name} (${via}): reason`);
          assert.equal(text.replace(/\n$/, '').includes('\n'), false, `${name}: one-line reason`);
        }
      }
      const after = await until(() => authCounts(ces), (c) => c.refused === before.refused + 2 * cases.length,
        'every refusal counted');
      assert.equal(after.refusedMetric, before.refusedMetric + 2 * cases.length);
      assert.equal((await status(ces)).edge.clients.length, 0, 'nobody got in');
    });

  it('a valid token gets in via ?token=, via ?other=1&token=, and via Authorization: Bearer', async () => {
    const before = await authCounts(ces);
    const byQuery = await connect(ces, all);
    const byHeader = await connect(ces, all, { via: 'header' });
    const amongOthers = new Client(`${ces.ws}/connect/messenger?x=1&token=${all}&y=2`);
    opened.add(amongOthers);
    await amongOthers.open();
    const repeaterRole = new Client(`${ces.ws}/connect/repeater`, { headers: { Authorization: `Bearer ${all}` } });
    opened.add(repeaterRole);
    await repeaterRole.open();
    const st = await until(() => status(ces), (s) => s.edge.clients.length === 4, 'four clients listed');
    assert.equal(mine(st, repeaterRole)?.role, 'repeater');
    // They work: an event from one reaches the others that registered
    const room = unique();
    await byQuery.register([room]);
    await amongOthers.register([room]);
    const e = frame(room);
    byHeader.ws.send(e);
    await expectEvent(byQuery, e, 'the ?token= client gets the Bearer client\'s event');
    await expectEvent(amongOthers, e, 'the ?x=1&token= client too');
    assert.equal((await authCounts(ces)).refused, before.refused, 'no refusal counted');
    await Promise.all([byQuery, byHeader, amongOthers, repeaterRole].map((c) => c.close()));
  });

  it('register: inside the grant is registered; any room outside it refuses the whole registration; unregistering is free',
    async () => {
      const [allowed, alsoAllowed, forbidden] = [unique('REG'), unique('REG'), unique('NO')];
      const token = await sign({ register: [allowed, alsoAllowed], send: [] });
      const client = await connect(ces, token);
      const sender = await connect(ces, all);
      const before = await authCounts(ces);

      const notice = await client.register([allowed]);
      assert.deepEqual(JSON.parse(notice.text), { registered: [allowed] });

      client.ws.send(JSON.stringify({ rooms: [forbidden], create: true }));
      assert.equal(await expectError(client, /./), `your token does not allow you to register room ${forbidden}`);
      // Allowed first, forbidden last: nothing of it is registered
      client.ws.send(JSON.stringify({ rooms: [alsoAllowed, forbidden], create: true }));
      assert.equal(await expectError(client, /./), `your token does not allow you to register room ${forbidden}`);
      // No {"registered"} notice came for either: the next message answers this
      const next = await client.register([allowed]);
      assert.deepEqual(JSON.parse(next.text), { registered: [allowed] }, 'the next message is the notice of a later registration');

      let st = await status(ces);
      assert.equal(mine(st, client).rooms, 1, 'the client holds one room only');
      assert.equal(st.edge.rooms[alsoAllowed], undefined, 'the allowed room of the refused registration was not registered');
      assert.equal(st.edge.rooms[forbidden], undefined, 'the forbidden room was not registered');
      let counts = await until(() => authCounts(ces), (c) => c.denied === before.denied + 2, 'two denials counted');
      assert.equal(counts.deniedMetric, before.deniedMetric + 2, 'ces_edge_denied_total counts them');

      // Events to those rooms do not reach the client; its own room does
      sender.ws.send(frame(alsoAllowed));
      sender.ws.send(frame(forbidden));
      const e = frame(allowed, { value: 'marker' });
      sender.ws.send(e);
      await expectEvent(client, e, 'the first event the client gets is for its registered room');

      // Unregistering a room outside the grant is no error; its own room, too
      client.ws.send(JSON.stringify({ rooms: [forbidden], create: false }));
      client.ws.send(JSON.stringify({ rooms: [allowed], create: false }));
      const after = await client.register([alsoAllowed]);
      assert.deepEqual(JSON.parse(after.text), { registered: [alsoAllowed] }, 'no error before the next notice');
      st = await status(ces);
      assert.equal(mine(st, client).rooms, 1, 'the unregistered room is gone');
      assert.equal(st.edge.rooms[allowed], undefined);
      counts = await authCounts(ces);
      assert.equal(counts.denied, before.denied + 2, 'unregistering is not a denial');
      await Promise.all([client.close(), sender.close()]);
    });

  it('send: outside the grant gets an {"error"} and reaches nobody, not even "*" subscribers; inside is routed', async () => {
    const [mine1, other] = [unique('SND'), unique('SND')];
    const sender = await connect(ces, await sign({ send: [mine1] }));
    const subscriber = await connect(ces, all);
    const star = await connect(ces, all);
    await subscriber.register([mine1, other]);
    await star.register(['*']);
    const before = await authCounts(ces);

    const refused = frame(other, { value: 'refused' });
    sender.ws.send(refused);
    assert.equal(await expectError(sender, /./), `your token does not allow you to send to room ${other}`);
    const routed = frame(mine1, { value: 'routed' });
    sender.ws.send(routed);
    await expectEvent(subscriber, routed, 'the subscriber\'s first event is the allowed one');
    await expectEvent(star, routed, 'the "*" subscriber\'s first event is the allowed one');
    const counts = await until(() => authCounts(ces), (c) => c.denied === before.denied + 1, 'the denial counted');
    assert.equal(counts.deniedMetric, before.deniedMetric + 1);
    assert.equal(sender.ws.readyState, sender.ws.OPEN, 'the sender stays connected');

    // A register-only grant does not allow sending to the room, and a
    // send-only grant does not allow registering it
    const registerOnly = await connect(ces, await sign({ register: [other] }));
    await registerOnly.register([other]);
    registerOnly.ws.send(frame(other, { value: 'register-only' }));
    assert.equal(await expectError(registerOnly, /./), `your token does not allow you to send to room ${other}`);
    sender.ws.send(JSON.stringify({ rooms: [mine1], create: true }));
    assert.equal(await expectError(sender, /./), `your token does not allow you to register room ${mine1}`);
    const marker = frame(other, { value: 'marker' });
    star.ws.send(marker);
    await expectEvent(subscriber, marker, 'the register-only event was not routed');
    await expectEvent(registerOnly, marker, 'the register-only client receives its room');
    await Promise.all([sender, subscriber, star, registerOnly].map((c) => c.close()));
  });

  it('prefix grants: "PREFIX-*" covers PREFIX-anything, nothing else, and not "*"', async () => {
    const base = unique('ITB');
    const client = await connect(ces, await sign({ rooms: [`${base}-*`] }));
    const subscriber = await connect(ces, all);
    const notice = await client.register([`${base}-1101`, `${base}-1102`]);
    assert.deepEqual(JSON.parse(notice.text), { registered: [`${base}-1101`, `${base}-1102`] });
    for (const room of [base, `${base}1101`, `X${base}-1101`, unique('JFSB'), '*']) {
      client.ws.send(JSON.stringify({ rooms: [room], create: true }));
      assert.equal(await expectError(client, /./), `your token does not allow you to register room ${room}`,
        `${room} is outside ${base}-*`);
    }
    await subscriber.register([`${base}-7`, base]);
    client.ws.send(frame(base, { value: 'outside the prefix' }));
    assert.equal(await expectError(client, /./), `your token does not allow you to send to room ${base}`);
    const inside = frame(`${base}-7`, { value: 'inside the prefix' });
    client.ws.send(inside);
    await expectEvent(subscriber, inside, 'the first event is the one inside the prefix');
    const back = frame(`${base}-1101`);
    subscriber.ws.send(back);
    await expectEvent(client, back, 'the prefix client receives its room');
    await Promise.all([client.close(), subscriber.close()]);
  });

  it('"*" grants: every room and the room "*"; an exact grant cannot register "*"', async () => {
    const room = unique('ANY');
    const everything = await connect(ces, await sign({ rooms: ['*'] }));
    const registerAll = await connect(ces, await sign({ register: ['*'] }));
    const exact = await connect(ces, await sign({ rooms: [room] }));
    await everything.register(['*', room, unique('ANY')]);
    await registerAll.register(['*']);
    exact.ws.send(JSON.stringify({ rooms: ['*'], create: true }));
    assert.equal(await expectError(exact, /./), 'your token does not allow you to register room *');
    await exact.register([room]);
    // register:["*"] grants registering only
    registerAll.ws.send(frame(room, { value: 'not allowed' }));
    assert.equal(await expectError(registerAll, /./), `your token does not allow you to send to room ${room}`);
    const e = frame(room, { value: 'from-everything' });
    everything.ws.send(e);
    await expectEvent(registerAll, e, '"*" registered with a "*" grant gets the room');
    await expectEvent(exact, e, 'the exact client\'s first event is this one: the refused one was not routed');
    const elsewhere = unique('ANY');
    const e2 = frame(elsewhere);
    exact.ws.send(frame(elsewhere, { value: 'exact may not send here' }));
    assert.equal(await expectError(exact, /./), `your token does not allow you to send to room ${elsewhere}`);
    everything.ws.send(e2);
    await expectEvent(registerAll, e2, '"*" gets an unregistered room');
    await Promise.all([everything, registerAll, exact].map((c) => c.close()));
  });

  it('a token that expires on an open connection: closed with 1008 "token expired; reconnect with a new one", counted',
    async () => {
      const before = await authCounts(ces);
      const exp = now() + 2;
      const short = await connect(ces, await sign({ rooms: ['*'], exp }));
      const long = await connect(ces, await sign({ rooms: ['*'], exp: now() + 3600 }));
      const room = unique();
      await short.register([room]);
      await long.register([room]);
      assert.ok(Date.now() < exp * 1000, 'the token is still valid while the test uses it');
      const e = frame(room);
      long.ws.send(e);
      await expectEvent(short, e, 'the connection works before its token expires');
      const closed = await within(short.closed, exp * 1000 - Date.now() + 3000, 'the close at expiry');
      const at = Date.now();
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, 'token expired; reconnect with a new one');
      assert.ok(at >= exp * 1000 - 20, `not closed before exp (closed ${exp * 1000 - at} ms early)`);
      assert.ok(at <= exp * 1000 + 1500, `closed soon after exp (${at - exp * 1000} ms after)`);
      const counts = await until(() => authCounts(ces), (c) => c.expired === before.expired + 1, 'closed_expired counted');
      assert.equal(counts.expiredMetric, before.expiredMetric + 1, 'ces_edge_closed_expired_total counts it');
      await until(() => status(ces), (st) => !mine(st, short), 'the expired client is gone from /status');
      // The client with a later exp is still open and working
      assert.equal(long.ws.readyState, long.ws.OPEN, 'a token with a later exp stays connected');
      await sync(long);
      await long.close();
    });

  it('an "exp" with a fraction (a NumericDate may have one) is enforced too', async () => {
    const token = await sign({ rooms: ['*'], exp: now() - 60.5 });
    const { status: code } = await refusal(`${ces.ws}/connect/messenger?token=${token}`);
    assert.equal(code, 401, 'a token whose exp (with a fraction) passed a minute ago is refused');
  });

  it('an "exp" that is not a number (a string) does not make a token that never expires', async () => {
    const token = await sign({ rooms: ['*'], exp: String(now() - 60) });
    const { status: code } = await refusal(`${ces.ws}/connect/messenger?token=${token}`);
    assert.equal(code, 401, 'a token with a malformed exp is refused');
  });
});

describe('auth: CES_AUTH_SECRET on a ces-edge', () => {
  let ces, edge;
  const envSecret = 'from-the-environment';

  before(async () => {
    ces = await startCes();
    const port = await freePort();
    const child = await start('ces-edge', ['--listen', `127.0.0.1:${port}`, '--hub-router', ces.router, '--hub-pub', ces.pub],
      / ready$/m, undefined, { CES_AUTH_SECRET: envSecret });
    edge = { child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
  });
  after(async () => {
    for (const client of opened) client.ws.terminate();
    opened.clear();
    if (edge) await stop(edge.child);
    if (ces) await stop(ces.child);
  });

  it('requires a token signed with the environment\'s secret; events cross to the edge of `ces` (no auth there)', async () => {
    assert.equal((await refusal(`${edge.ws}/connect/messenger`)).status, 401, 'no token');
    const wrong = await jwt({ rooms: ['*'] }, { key: SECRET });
    assert.equal((await refusal(`${edge.ws}/connect/messenger?token=${wrong}`)).status, 401, 'another secret');
    const room = unique();
    const client = await connect(edge, await jwt({ rooms: [room] }, { key: envSecret }));
    await client.register([room]);
    // `ces` has no auth: a client without a token sends there
    const plain = new Client(`${ces.ws}/connect/messenger`);
    opened.add(plain);
    await plain.open();
    await until(async () => (await status(ces)).hub.rooms[room], (n) => n === 1, 'the edge\'s room reached the hub');
    const e = frame(room);
    plain.ws.send(e);
    await expectEvent(client, e, 'the authorised client on ces-edge gets the event');
    await Promise.all([client.close(), plain.close()]);
  });
});
