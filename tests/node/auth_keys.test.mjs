// Auth with a public key (--auth-key-file, RS256 or ES256): valid tokens get
// in; HS256 (also signed with the PEM text itself: the alg-confusion attack),
// alg none, other keys and malformed signatures get 401; a key file that is
// not a PEM public key stops the program at start (exit 2).
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  BUILD, startCes, stop, Client, status, mine, unique, until, expectEvent, expectError, eventBuilders, jwt, refusal,
  freePort, track,
} from './harness.mjs';

const { frame } = eventBuilders('auth-keys-test');
const now = () => Math.floor(Date.now() / 1000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ces-auth-keys-${process.pid}-`));
const keyFile = (name, text) => { const file = path.join(dir, name); fs.writeFileSync(file, text); return file; };
const pem = (keyObject) => keyObject.export({ type: 'spki', format: 'pem' });

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherEc = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaFile = keyFile('rsa.pem', pem(rsa.publicKey));
const ecFile = keyFile('ec.pem', pem(ec.publicKey));

const opened = new Set();

// Opens a messenger with a token (?token= or Authorization: Bearer) and
// waits until /status lists it
async function connect(server, token, via = 'query') {
  const client = via === 'query'
    ? new Client(`${server.ws}/connect/messenger?token=${token}`)
    : new Client(`${server.ws}/connect/messenger`, { headers: { Authorization: `Bearer ${token}` } });
  opened.add(client);
  await client.open();
  await until(() => status(server), (st) => mine(st, client), 'client listed in /status');
  return client;
}

// Each [name, token, reason pattern] must get 401 with that reason, counted
async function expectRefused(server, cases) {
  const before = (await status(server)).edge.counters.refused_auth;
  for (const [name, token, pattern] of cases) {
    const { status: code, text } = await refusal(`${server.ws}/connect/messenger?token=${token}`);
    assert.equal(code, 401, `${name}: 401`);
    assert.match(text, pattern, `${name}: the reason`);
  }
  await until(() => status(server), (st) => st.edge.counters.refused_auth === before + cases.length, 'every refusal counted');
  assert.equal((await status(server)).edge.clients.length, 0, 'nobody got in');
}

// The HS256 token an attacker makes from the public key: the PEM text as
// the HMAC secret (with and without its final newline)
const confused = (publicPem) => Promise.all([
  jwt({ rooms: ['*'] }, { alg: 'HS256', key: publicPem }),
  jwt({ rooms: ['*'] }, { alg: 'HS256', key: publicPem.trimEnd() }),
]);

afterEach(() => {
  for (const client of opened) if (client.ws.readyState !== client.ws.CLOSED) client.ws.terminate();
  opened.clear();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('auth: RS256 with --auth-key-file', () => {
  let ces;
  before(async () => { ces = await startCes(['--auth-key-file', rsaFile]); });
  after(async () => { if (ces) await stop(ces.child); });

  it('a valid RS256 token gets in (query and header); its grant applies', async () => {
    const room = unique('RS');
    const token = await jwt({ rooms: [room], exp: now() + 600 }, { alg: 'RS256', key: rsa.privateKey });
    const a = await connect(ces, token);
    const b = await connect(ces, token, 'header');
    await a.register([room]);
    const forbidden = unique('NO');
    b.ws.send(JSON.stringify({ rooms: [forbidden], create: true }));
    assert.equal(await expectError(b, /./), `your token does not allow you to register room ${forbidden}`);
    const e = frame(room);
    b.ws.send(e);
    await expectEvent(a, e, 'an RS256 client\'s event reaches another');
    assert.equal((await status(ces)).edge.counters.auth_required, true);
    await Promise.all([a.close(), b.close()]);
  });

  it('refused with 401: alg confusion (HS256 signed with the PEM), HS256, alg none, another key, ES256, tampered, expired',
    async () => {
      const [withNewline, trimmed] = await confused(pem(rsa.publicKey));
      const good = await jwt({ rooms: ['*'] }, { alg: 'RS256', key: rsa.privateKey });
      const [header, , signature] = good.split('.');
      const tampered = `${header}.${Buffer.from(JSON.stringify({ rooms: ['*'], more: 1 })).toString('base64url')}.${signature}`;
      await expectRefused(ces, [
        ['no token', '', /token/i],
        ['HS256 signed with the PEM public key', withNewline, /RS256|ES256/],
        ['HS256 signed with the PEM public key, trimmed', trimmed, /RS256|ES256/],
        ['HS256 with some secret', await jwt({ rooms: ['*'] }, { key: 'guess' }), /RS256|ES256/],
        ['alg none', await jwt({ rooms: ['*'] }, { alg: 'none' }), /RS256|ES256/],
        ['RS256 signed with another key', await jwt({ rooms: ['*'] }, { alg: 'RS256', key: otherRsa.privateKey }), /signature/i],
        ['ES256 where the key is RSA', await jwt({ rooms: ['*'] }, { alg: 'ES256', key: ec.privateKey }), /./],
        ['RS256 payload changed after signing', tampered, /signature/i],
        ['RS256 expired', await jwt({ rooms: ['*'], exp: now() - 60 }, { alg: 'RS256', key: rsa.privateKey }), /expired/i],
      ]);
    });
});

describe('auth: ES256 with --auth-key-file', () => {
  let ces;
  before(async () => { ces = await startCes(['--auth-key-file', ecFile]); });
  after(async () => { if (ces) await stop(ces.child); });

  it('a valid ES256 token (JWS r||s signature) gets in; its send grant applies', async () => {
    const [room, other] = [unique('ES'), unique('ES')];
    const sender = await connect(ces, await jwt({ send: [room] }, { alg: 'ES256', key: ec.privateKey }), 'header');
    const receiver = await connect(ces, await jwt({ register: [room, other] }, { alg: 'ES256', key: ec.privateKey }));
    await receiver.register([room, other]);
    sender.ws.send(frame(other));
    assert.equal(await expectError(sender, /./), `your token does not allow you to send to room ${other}`);
    const e = frame(room);
    sender.ws.send(e);
    await expectEvent(receiver, e, 'the allowed event is the first the receiver gets');
    await Promise.all([sender.close(), receiver.close()]);
  });

  it('refused with 401: alg confusion, another EC key, a DER signature, RS256, alg none', async () => {
    const [withNewline, trimmed] = await confused(pem(ec.publicKey));
    await expectRefused(ces, [
      ['HS256 signed with the PEM public key', withNewline, /RS256|ES256/],
      ['HS256 signed with the PEM public key, trimmed', trimmed, /RS256|ES256/],
      ['ES256 signed with another key', await jwt({ rooms: ['*'] }, { alg: 'ES256', key: otherEc.privateKey }), /signature/i],
      ['ES256 with a DER signature (JWS wants r||s)', await jwt({ rooms: ['*'] }, { alg: 'ES256', key: ec.privateKey, ecDer: true }), /./],
      ['RS256 where the key is EC', await jwt({ rooms: ['*'] }, { alg: 'RS256', key: rsa.privateKey }), /./],
      ['alg none', await jwt({ rooms: ['*'] }, { alg: 'none' }), /RS256|ES256/],
    ]);
  });
});

// Runs a program that should refuse to start; resolves with { code, output }.
// If it starts after all (its banner's " ready"), it is killed and code is
// 'started'.
function run(program, args) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(path.join(BUILD, program), args, { stdio: ['ignore', 'pipe', 'pipe'] }), [program, ...args].join(' '));
    let output = '';
    let started = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const collect = (data) => {
      output += data;
      if (!started && / ready$/m.test(output)) { started = true; child.kill('SIGKILL'); }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: started ? 'started' : code, output }); });
  });
}

// The arguments that make `program` start, but for the key file
async function argsFor(program, file) {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const tcp = (port) => `tcp://127.0.0.1:${port}`;
  const base = {
    ces: ['--listen', `127.0.0.1:${ports[0]}`, '--router', tcp(ports[1]), '--pub', tcp(ports[2]), '--repeater-listen', `127.0.0.1:${ports[3]}`],
    'ces-edge': ['--listen', `127.0.0.1:${ports[0]}`, '--hub-router', tcp(ports[1]), '--hub-pub', tcp(ports[2])],
    'ces-repeater': ['--listen', `127.0.0.1:${ports[0]}`, '--hub', tcp(ports[1])],
  }[program];
  return [...base, '--auth-key-file', file];
}

describe('auth: a key file that is not a PEM public key', () => {
  it('ces, ces-edge and ces-repeater exit 2 with "invalid value" for --auth-key-file and say why', async () => {
    const { privateKey } = ec;
    const files = {
      'not PEM at all': [keyFile('garbage.pem', 'this is not a key\n'), /not a PEM public key/],
      'a private key': [keyFile('private.pem', privateKey.export({ type: 'pkcs8', format: 'pem' })), /not a PEM public key/],
      'a missing file': [path.join(dir, 'missing.pem'), /cannot read|No such file/i],
      'an empty file': [keyFile('empty.pem', ''), /not a PEM public key/],
    };
    for (const program of ['ces', 'ces-edge', 'ces-repeater']) {
      for (const [name, [file, reason]] of Object.entries(files)) {
        const result = await run(program, await argsFor(program, file));
        assert.equal(result.code, 2, `${program} with ${name}: exit 2\n${result.output}`);
        assert.match(result.output, /invalid value .* for --auth-key-file/, `${program} with ${name}: names the flag`);
        assert.match(result.output, reason, `${program} with ${name}: logs the reason`);
        assert.ok(result.output.includes(file), `${program} with ${name}: names the file`);
      }
    }
  });

  it('a PEM "public key" whose body is not a key is refused at start too', async () => {
    const file = keyFile('corrupt.pem', '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----\n');
    const result = await run('ces', await argsFor('ces', file));
    assert.equal(result.code, 2, `exit 2, not ${result.code}\n${result.output}`);
    assert.match(result.output, /invalid value .* for --auth-key-file/);
  });
});
