// Headless Chromium opens the stream from a page served at
// http://PAGE_HOST:PAGE_PORT (that is the Origin it sends), the way a
// dashboard would, and reads `count` samples.
// Usage: node telemetry-browser.js WS_URL COUNT PAGE_HOST PAGE_PORT PROFILE_DIR
// Prints {"opened": bool, "cpu": [...], "closeCode": n} as one JSON line.
'use strict';
const http = require('http');
const { chromium } = require('playwright-core');

const [url, countArg, pageHost, pagePort, profile] = process.argv.slice(2);
const count = Number(countArg || 2);

// A real page on loopback: Chromium refuses to let a page whose address it
// does not know (one faked with page.route) reach a loopback server.
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>dashboard</title>');
});

(async () => {
  await new Promise((resolve) => server.listen(Number(pagePort), '127.0.0.1', resolve));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    await page.goto(`http://${pageHost}:${pagePort}/`);
    const result = await page.evaluate(([u, n]) => new Promise((resolve) => {
      const cpu = [];
      let opened = false;
      const ws = new WebSocket(u);
      const done = (closeCode) => resolve({ opened, cpu, closeCode });
      const timer = setTimeout(() => done(-1), 15000);
      ws.onopen = () => { opened = true; };
      ws.onmessage = (event) => {
        const data = JSON.parse(event.data);
        cpu.push(data.metrics.cpu.cpu_usage_percent);
        if (cpu.length === n) {
          clearTimeout(timer);
          ws.close(1000);
          done(1000);
        }
      };
      ws.onclose = (event) => { clearTimeout(timer); done(event.code); };
    }), [url, count]);
    console.log(JSON.stringify(result));
  } finally {
    await context.close();
    server.close();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
