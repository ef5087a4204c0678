// TLS in front of ces (issue 7): the shipped nginx config
// (examples/nginx/ces-tls.conf) terminates wss:// and https:// for the edge
// and the repeater. The test runs that very file, with only its ports,
// certificate paths and run-time paths replaced, in front of a real `ces`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import crypto from 'node:crypto';
import { startCes, stop, freePort, unique, eventBuilders, Client, track } from './harness.mjs';

const CONFIG = path.resolve(import.meta.dirname, '../../examples/nginx/ces-tls.conf');
const { event } = eventBuilders('tls-test');
const have = (program) => { try { execFileSync('sh', ['-c', `command -v ${program}`]); return true; } catch { return false; } };

describe('TLS front (nginx, examples/nginx/ces-tls.conf)', { skip: !have('nginx') || !have('openssl') ? 'nginx or openssl is not installed (make test installs them)' : false }, () => {
  let ces, nginx, dir, edgePort, repeaterPort;
  before(async () => {
    ces = await startCes(['--auth-secret', 'sesame-tls']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
    [edgePort, repeaterPort] = [await freePort(), await freePort()];
    const site = fs.readFileSync(CONFIG, 'utf8')
      .replace(/listen 443 ssl;/, `listen 127.0.0.1:${edgePort} ssl;`)
      .replace(/listen 8443 ssl;/, `listen 127.0.0.1:${repeaterPort} ssl;`)
      .replaceAll('/etc/ssl/certs/ces.example.pem', `${dir}/cert.pem`)
      .replaceAll('/etc/ssl/private/ces.example.key', `${dir}/key.pem`)
      .replace('http://127.0.0.1:7100', `http://127.0.0.1:${ces.port}`)
      .replace('http://127.0.0.1:7101', `http://127.0.0.1:${ces.repeater.port}`);
    fs.writeFileSync(`${dir}/nginx.conf`, [
      `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'worker_processes 1;',
      ...(process.getuid() === 0 ? ['user root;'] : []),
      'events { worker_connections 256; }',
      'http {', 'access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`),
      site, '}'].join('\n'));
    nginx = track(spawn('nginx', ['-c', `${dir}/nginx.conf`, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] }),
      `nginx -c ${dir}/nginx.conf`);
    let errors = '';
    nginx.stderr.on('data', (d) => { errors += d; });
    // ready when the TLS port answers
    for (let i = 0; ; i++) {
      const ok = await new Promise((resolve) => {
        const req = https.get({ host: '127.0.0.1', port: edgePort, path: '/health', rejectUnauthorized: false }, (res) => { res.resume(); resolve(true); });
        req.on('error', () => resolve(false));
      });
      if (ok) break;
      assert.ok(i < 100 && nginx.exitCode === null, `nginx did not start: ${errors}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await new Promise((r) => nginx.once('exit', r));
    }
    if (ces) await stop(ces.child);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const sign = (claims) => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const h = b64({ alg: 'HS256', typ: 'JWT' }), p = b64(claims);
    return `${h}.${p}.${hmac(`${h}.${p}`)}`;
  };
  const hmac = (data) => crypto.createHmac('sha256', 'sesame-tls').update(data).digest('base64url');

  it('wss:// reaches the edge through nginx: tokens, registration and events work; plain ws:// on the TLS port does not', async () => {
    const token = sign({ rooms: ['*'] });
    const room = unique('TLS');
    const a = await new Client(`wss://127.0.0.1:${edgePort}/connect/messenger`, { rejectUnauthorized: false, headers: { Authorization: `Bearer ${token}` } }).open();
    const b = await new Client(`wss://127.0.0.1:${edgePort}/connect/messenger?token=${token}`, { rejectUnauthorized: false }).open();
    await b.register([room]);
    a.sendEvent(room, event(room, { n: 1 }));
    const got = await b.next();
    assert.equal(got.binary, true);
    assert.match(got.text, new RegExp(`^${room}\\n`));
    // without a token the proxy passes on ces's own refusal
    await assert.rejects(new Client(`wss://127.0.0.1:${edgePort}/connect/messenger`, { rejectUnauthorized: false }).open(), (e) => e.status === 401);
    // the TLS port does not speak plain WebSocket
    await assert.rejects(new Client(`ws://127.0.0.1:${edgePort}/connect/messenger?token=${token}`).open());
    // operators' pages are not served to the outside
    const code = (route) => new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: edgePort, path: route, rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); })
        .on('error', reject);
    });
    assert.equal(await code('/status'), 403);
    assert.equal(await code('/metrics'), 403);
    assert.equal(await code('/interconnect'), 403);
    assert.equal(await code('/health'), 200);
    await a.close();
    await b.close();
  });

  it('https:// POST /event and the repeater over wss:// and https://', async () => {
    const token = sign({ rooms: ['*'] });
    const room = unique('TLS');
    const watcher = await new Client(`wss://127.0.0.1:${edgePort}/connect/messenger?token=${token}`, { rejectUnauthorized: false }).open();
    await watcher.register([room]);
    const post = (port, route, body) => new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: route, method: 'POST', rejectUnauthorized: false,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(await post(edgePort, '/event', event(room, { via: 'event' })), 200);
    assert.match((await watcher.next()).text, /"via":"event"/);
    assert.equal(await post(repeaterPort, '/send', event(room, { via: 'send' })), 200);
    assert.match((await watcher.next()).text, /"via":"send"/);
    const outside = await new Client(`wss://127.0.0.1:${repeaterPort}/connect/${room}/site-x?token=${token}`, { rejectUnauthorized: false }).open();
    outside.sendEvent(room, event(room, { via: 'outside' }));
    assert.match((await watcher.next()).text, /"via":"outside"/);
    await outside.close();
    await watcher.close();
  });
});
