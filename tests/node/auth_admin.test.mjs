// With tokens required, linking hubs (/interconnect on the edge port of
// `ces`) needs a token with "admin": true; without tokens it is open, as in
// the mesh suites.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startCes, stop } from './harness.mjs';

const SECRET = 'sesame-admin';
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function sign(claims) {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${crypto.createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

describe('auth: /interconnect needs an admin token', () => {
  let a, b;
  before(async () => {
    a = await startCes(['--auth-secret', SECRET, '--heartbeat', '200']);
    b = await startCes(['--heartbeat', '200']);
  });
  after(async () => {
    if (a) await stop(a.child);
    if (b) await stop(b.child);
  });

  it('no token 401, a token without admin 403, an admin token links; GET lists', async () => {
    const target = b.router.replace('tcp://', '');
    const post = (token) => fetch(`${a.http}/interconnect/${target}`, {
      method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    assert.equal((await post(null)).status, 401);
    const plain = await post(sign({ rooms: ['*'] }));
    assert.equal(plain.status, 403);
    assert.match(await plain.text(), /admin/);
    const admin = await post(sign({ admin: true }));
    assert.equal(admin.status, 201);
    const list = await fetch(`${a.http}/interconnect`, { headers: { Authorization: `Bearer ${sign({ admin: true })}` } });
    assert.equal(list.status, 200);
    assert.equal((await list.json()).mesh.peers[0].address, b.router);
    // the hub without tokens answers anyone, as before
    assert.equal((await fetch(`${b.http}/interconnect`)).status, 200);
  });
});
