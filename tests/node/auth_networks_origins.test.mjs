// Auth around tokens: with no auth flags nothing needs one; clients from
// --auth-open-networks need none and may do everything (others still do);
// --allowed-origins refuses browsers from other sites with 403. Clients
// from 127.0.0.2, 127.0.0.3... (loopback too) stand for other networks.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startCes, stop, Client, status, mine, unique, until, expectEvent, expectError, eventBuilders, jwt, refusal,
} from './harness.mjs';

const SECRET = 'networks-origins-secret';
const { event, frame } = eventBuilders('auth-networks-origins-test');

const opened = new Set();
afterEach(() => {
  for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
  opened.clear();
});

// Opens /connect/messenger of `server` (query: e.g. '?token=...'; options
// for ws: localAddress, origin, headers) and waits until /status lists it
async function connect(server, query = '', options = {}) {
  const client = new Client(`${server.ws}/connect/messenger${query}`, options);
  opened.add(client);
  await client.open();
  await until(() => status(server), (st) => mine(st, client), 'client listed in /status');
  return client;
}

// POSTs a JSON body from `localAddress` with `headers`; resolves { status, text }
function post(url, body, { headers = {}, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', localAddress, agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers } }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('auth off (no auth flags)', () => {
  let ces;
  before(async () => { ces = await startCes(); });
  after(async () => { if (ces) await stop(ces.child); });

  it('no token needed to connect, register "*", send, POST /event; a token, an Origin or another address change nothing',
    async () => {
      const st = await status(ces);
      assert.equal(st.edge.counters.auth_required, false, '/status: no token required');
      const room = unique();
      const star = await connect(ces);
      const other = await connect(ces, '?token=garbage.not.ajwt', { origin: 'https://anywhere.example', localAddress: '127.0.0.2' });
      await star.register(['*']);
      await other.register([room]);
      const e = frame(room);
      star.ws.send(e);
      await expectEvent(other, e, 'an event from a client with no token');
      const body = event(room, { value: 'posted' });
      const posted = await post(`${ces.http}/event`, body);
      assert.equal(posted.status, 200, posted.text);
      await expectEvent(other, Buffer.from(`${room}\n${body}`), 'the POSTed event');
      await expectEvent(star, Buffer.from(`${room}\n${body}`), '"*" gets the POSTed event');
      const after = (await status(ces)).edge.counters;
      assert.equal(after.refused_auth, 0);
      assert.equal(after.denied, 0);
      await Promise.all([star.close(), other.close()]);
    });
});

describe('auth: --auth-open-networks 127.0.0.1/32', () => {
  let ces;
  before(async () => {
    ces = await startCes(['--auth-secret', SECRET, '--auth-open-networks', '127.0.0.1/32', '--allowed-origins', 'https://panel.example']);
  });
  after(async () => { if (ces) await stop(ces.child); });

  it('a client from 127.0.0.1 needs no token and may register and send anything, POST too', async () => {
    const before = (await status(ces)).edge.counters;
    assert.equal(before.auth_required, true, 'a token is required, outside the open network');
    const [room, other] = [unique('OPEN'), unique('ANY')];
    const star = await connect(ces);
    const sender = await connect(ces, '', { localAddress: '127.0.0.1' });
    await star.register(['*', room]);
    const e1 = frame(room);
    sender.ws.send(e1);
    await expectEvent(star, e1, 'an open client\'s event reaches the other open client');
    const e2 = frame(other);
    sender.ws.send(e2);
    await expectEvent(star, e2, 'any room: "*" gets it');
    const body = event(room, { value: 'posted' });
    const posted = await post(`${ces.http}/event`, body);
    assert.equal(posted.status, 200, `POST /event without a token from 127.0.0.1: ${posted.text}`);
    await expectEvent(star, Buffer.from(`${room}\n${body}`), 'the POSTed event is routed');
    const after = await until(() => status(ces), (st) => st.edge.counters.posted === before.posted + 1, 'the POST counted');
    assert.equal(after.edge.counters.denied, before.denied, 'nothing denied');
    assert.equal(after.edge.counters.refused_auth, before.refused_auth, 'nothing refused');
    await Promise.all([star.close(), sender.close()]);
  });

  it('a client from 127.0.0.2 is outside the /32: 401 without a token; with one, its grant applies', async () => {
    const before = (await status(ces)).edge.counters.refused_auth;
    const { status: code, text } = await refusal(`${ces.ws}/connect/messenger`, { localAddress: '127.0.0.2' });
    assert.equal(code, 401, `no token from 127.0.0.2: ${text}`);
    const posted = await post(`${ces.http}/event`, event(unique()), { localAddress: '127.0.0.2' });
    assert.equal(posted.status, 401, 'POST /event without a token from 127.0.0.2');
    await until(() => status(ces), (st) => st.edge.counters.refused_auth === before + 2, 'both refusals counted');
    const room = unique('TOK');
    const client = await connect(ces, `?token=${await jwt({ rooms: [room] }, { key: SECRET })}`, { localAddress: '127.0.0.2' });
    await client.register([room]);
    client.ws.send(JSON.stringify({ rooms: ['*'], create: true }));
    assert.equal(await expectError(client, /./), 'your token does not allow you to register room *');
    await client.close();
  });

  it('an open-network client with an Origin not allowed still gets 403; an allowed one gets in', async () => {
    const { status: code, text } = await refusal(`${ces.ws}/connect/messenger`, { origin: 'https://evil.example' });
    assert.equal(code, 403, `Origin https://evil.example from 127.0.0.1: ${text}`);
    const client = await connect(ces, '', { origin: 'https://panel.example' });
    await client.register(['*']);
    await client.close();
  });
});

describe('auth: --auth-open-networks 10.0.0.0/8,127.0.0.2/31', () => {
  let ces;
  before(async () => { ces = await startCes(['--auth-secret', SECRET, '--auth-open-networks', '10.0.0.0/8,127.0.0.2/31']); });
  after(async () => { if (ces) await stop(ces.child); });

  it('127.0.0.1 and 127.0.0.4 are outside: 401 without a token, in with one; 127.0.0.2 and .3 need none', async () => {
    const before = (await status(ces)).edge.counters.refused_auth;
    for (const address of ['127.0.0.1', '127.0.0.4']) {
      const { status: code, text } = await refusal(`${ces.ws}/connect/messenger`, { localAddress: address });
      assert.equal(code, 401, `no token from ${address}: ${text}`);
    }
    await until(() => status(ces), (st) => st.edge.counters.refused_auth === before + 2, 'refusals counted');
    const room = unique();
    const withToken = await connect(ces, `?token=${await jwt({ rooms: [room] }, { key: SECRET })}`);
    await withToken.register([room]);
    const open2 = await connect(ces, '', { localAddress: '127.0.0.2' });
    const open3 = await connect(ces, '', { localAddress: '127.0.0.3' });
    await open2.register(['*']);
    const e = frame(room, { value: 'from 127.0.0.3' });
    open3.ws.send(e);
    await expectEvent(withToken, e, 'the token client gets the open client\'s event');
    await expectEvent(open2, e, 'the other open client ("*") gets it');
    await Promise.all([withToken.close(), open2.close(), open3.close()]);
  });
});

describe('auth: --allowed-origins', () => {
  const origins = ['https://a.example', 'https://b.example'];
  let ces, bare;
  before(async () => {
    [ces, bare] = await Promise.all([
      startCes(['--auth-secret', SECRET, '--allowed-origins', origins.join(',')]),
      startCes(['--allowed-origins', origins.join(',')]),
    ]);
  });
  after(async () => {
    if (ces) await stop(ces.child);
    if (bare) await stop(bare.child);
  });

  it('with tokens: a listed Origin or none follows the token rules; any other Origin gets 403 even with a valid token',
    async () => {
      const room = unique();
      const token = await jwt({ rooms: [room] }, { key: SECRET });
      const a = await connect(ces, `?token=${token}`, { origin: origins[0] });
      const b = await connect(ces, `?token=${token}`, { origin: origins[1] });
      const none = await connect(ces, `?token=${token}`);
      for (const origin of ['https://evil.example', 'https://a.example.evil.example', 'http://a.example', 'null']) {
        const { status: code, text } = await refusal(`${ces.ws}/connect/messenger?token=${token}`, { origin });
        assert.equal(code, 403, `Origin ${origin} with a valid token`);
        assert.ok(text.trim().length > 0 && !text.trim().includes('\n'), `a one-line reason: ${JSON.stringify(text)}`);
      }
      assert.equal((await refusal(`${ces.ws}/connect/messenger`, { origin: origins[0] })).status, 401,
        'a listed Origin without a token: 401');
      assert.equal((await refusal(`${ces.ws}/connect/messenger`)).status, 401, 'no Origin, no token: 401');
      await a.register([room]);
      await none.register([room]);
      const e = frame(room);
      b.ws.send(e);
      await expectEvent(a, e, 'the clients let in work');
      await expectEvent(none, e);
      await Promise.all([a.close(), b.close(), none.close()]);
    });

  it('POST /event: an Origin not listed gets 403 and is not routed; a listed one is routed', async () => {
    const room = unique();
    const token = await jwt({ rooms: [room] }, { key: SECRET });
    const subscriber = await connect(ces, `?token=${token}`);
    await subscriber.register([room]);
    const refused = await post(`${ces.http}/event`, event(room, { value: 'evil' }),
      { headers: { Origin: 'https://evil.example', Authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 403, refused.text);
    const body = event(room, { value: 'listed' });
    const accepted = await post(`${ces.http}/event`, body, { headers: { Origin: origins[1], Authorization: `Bearer ${token}` } });
    assert.equal(accepted.status, 200, accepted.text);
    await expectEvent(subscriber, Buffer.from(`${room}\n${body}`), 'the first event is the listed Origin\'s');
    await subscriber.close();
  });

  it('without auth: a listed Origin or none gets in with no token; another Origin gets 403', async () => {
    const room = unique();
    const listed = await connect(bare, '', { origin: origins[1] });
    const none = await connect(bare);
    assert.equal((await refusal(`${bare.ws}/connect/messenger`, { origin: 'https://evil.example' })).status, 403);
    await listed.register(['*']);
    const e = frame(room);
    none.ws.send(e);
    await expectEvent(listed, e);
    await Promise.all([listed.close(), none.close()]);
  });
});
