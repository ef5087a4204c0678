// ces-repeater as a program: the original's environment names, the
// refusals that say what to do instead, and POST /send with no hub.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  BUILD, track, start, startCes, startRepeater, stop, status, until, unique, freePort, eventBuilders, httpTarget, postJson,
  targetsFile,
} from './harness.mjs';

const { event } = eventBuilders('repeater-cli-test', ['core-state']);

// Runs a program to its end (killed after 5 s); resolves with { code, output }
function run(program, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(path.join(BUILD, program), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }),
      [program, ...args].join(' '));
    let output = '';
    child.stdout.on('data', (data) => { output += data; });
    child.stderr.on('data', (data) => { output += data; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output }); });
  });
}

describe('ces-repeater: flags and environment', () => {
  const files = [];
  after(() => { for (const file of files) file.remove(); });

  it('HUB_ADDRESS=ws://localhost:7100 (the original\'s form) exits 2 and says to use the hub\'s tcp:// ROUTER', async () => {
    const port = await freePort();
    const result = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`], { HUB_ADDRESS: 'ws://localhost:7100' });
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, /ws:\/\/localhost:7100/, 'names the value it refuses');
    assert.match(result.output, /ZeroMQ ROUTER.*tcp:\/\//, 'says to use the hub\'s tcp:// ROUTER');
    const flag = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', 'ws://127.0.0.1:7100']);
    assert.equal(flag.code, 2, flag.output);
    assert.match(flag.output, /tcp:\/\//);
  });

  it('an https:// target does not start, with a message about TLS', async () => {
    const port = await freePort();
    const file = await targetsFile({ 'ITB-1101': ['https://127.0.0.1:8443/events'] });
    files.push(file);
    const hub = `tcp://127.0.0.1:${await freePort()}`;
    const result = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', hub, '--targets', file.file]);
    assert.notEqual(result.code, 0, result.output);
    assert.equal(result.signal, null, `it exits by itself: ${result.output}`);
    assert.match(result.output, /https:\/\/127\.0\.0\.1:8443\/events/);
    assert.match(result.output, /TLS/);
    assert.doesNotMatch(result.output, / ready$/m);
    const central = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', hub],
      { CENTRAL_REPEATER_ADDRESSES: 'http://127.0.0.1:1/ok,wss://central.example' });
    assert.notEqual(central.code, 0, central.output);
    assert.match(central.output, /wss:\/\/central\.example.*TLS/);
  });

  it('a missing or invalid targets file does not start, and says why', async () => {
    const port = await freePort();
    const hub = `tcp://127.0.0.1:${await freePort()}`;
    const missing = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', hub, '--targets', `/nonexistent/${unique()}.json`]);
    assert.notEqual(missing.code, 0, missing.output);
    assert.match(missing.output, /cannot read/);
    const file = await targetsFile('["not", "an object"]');
    files.push(file);
    const invalid = await run('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', hub, '--targets', file.file]);
    assert.notEqual(invalid.code, 0, invalid.output);
    assert.match(invalid.output, /not a JSON object/);
  });

  it('takes the original\'s SYSTEM_ID and CENTRAL_REPEATER_ADDRESSES from the environment', async () => {
    const ces = await startCes();
    const target = await httpTarget();
    const port = await freePort();
    // start() passes this process's environment on
    const saved = { SYSTEM_ID: process.env.SYSTEM_ID, CENTRAL_REPEATER_ADDRESSES: process.env.CENTRAL_REPEATER_ADDRESSES };
    Object.assign(process.env, { SYSTEM_ID: 'env-sys', CENTRAL_REPEATER_ADDRESSES: target.url });
    let child;
    try {
      child = await start('ces-repeater', ['--listen', `127.0.0.1:${port}`, '--hub', ces.router]);
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
    try {
      const repeater = { http: `http://127.0.0.1:${port}` };
      const st = await until(() => status(repeater), (s) => s.edge.hub_connected && s.repeater.in_rotation, 'linked and in the rotation');
      assert.equal(st.repeater.system_id, 'env-sys');
      assert.deepEqual(st.repeater.targets.map((t) => [t.url, t.rooms]), [[target.url, ['*']]]);
      // The ces repeater has no target, so this one gets every messenger event (here from the edge's POST /event)
      await until(() => status(ces), (s) => s.hub.repeaters === 1, 'this repeater in the hub\'s rotation');
      const room = unique('ITB');
      const bodies = [event(room, { value: 'env-1' }), event(room, { value: 'env-2' })];
      for (const body of bodies) assert.equal((await postJson(`${ces.http}/event`, body)).status, 200);
      await until(() => target.requests.items.length, (n) => n >= 2, 'the target from the environment gets both');
      assert.deepEqual(target.requests.items.map((r) => r.body), bodies);
    } finally {
      if (child) await stop(child);
      await stop(ces.child);
      await target.close();
    }
  });

  it('POST /send while the hub is away: 503, not accepted', async () => {
    const repeater = await startRepeater(`tcp://127.0.0.1:${await freePort()}`, ['--central', 'http://127.0.0.1:1/x']);
    try {
      const room = unique('ITB');
      const response = await postJson(`${repeater.http}/send`, event(room));
      assert.equal(response.status, 503, response.text);
      assert.match(response.text, /hub/);
      const health = await fetch(`${repeater.http}/health`);
      assert.equal(health.status, 503, 'not healthy without a hub');
      await health.text();
    } finally {
      await stop(repeater.child);
    }
  });
});
