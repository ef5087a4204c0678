import { startCes, stop } from '/work/main/tests/node/harness.mjs';
const c = await startCes();
for (const p of ['/', '/favicon.ico', '/index.html', '/nope', '/connect/messenger']) {
  const r = await fetch(c.http + p); const b = await r.text();
  console.log(p, r.status, r.headers.get('content-type'), b.length, JSON.stringify(b.slice(0,80)));
}
console.log('exit', await stop(c.child)); console.log(c.child.output);
