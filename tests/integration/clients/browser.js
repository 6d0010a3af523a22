// What the Chromium clients share: waiting for what a person would see,
// and one run of a scenario in headless Chromium that reports as one JSON
// line (with the page's console errors and script errors).
'use strict';
const { chromium } = require('playwright-core');

// Until check() (run here, so it can use Playwright's own view of the page)
// holds. A check that failed because the page changed under it is tried again.
async function until(what, check, timeout = 20000) {
  const end = Date.now() + timeout;
  let last = 'not seen';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err.message.split('\n')[0];
    }
    if (Date.now() > end) throw new Error(`waiting for ${what}: ${last} in ${timeout} ms`);
    await new Promise((r) => { setTimeout(r, 100); });
  }
}

// Run scenarios[name](page) in a fresh profile; print the report, and exit 1
// with report.failed on an error.
function run(scenarios, name, cfg, report) {
  (async () => {
    const context = await chromium.launchPersistentContext(cfg.profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: cfg.width || 1440, height: cfg.height || 1000 },
      colorScheme: cfg.colorScheme || 'dark',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // A test CA's leaf trusted by its key's hash, as an operator would add the CA.
        ...(cfg.spki ? [`--ignore-certificate-errors-spki-list=${cfg.spki}`] : [])],
    });
    try {
      const page = await context.newPage();
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') report.console.push(m.text()); });
      page.on('pageerror', (e) => report.errors.push(e.message));
      if (report.sockets) page.on('websocket', (ws) => report.sockets.push(ws.url()));
      await scenarios[name](page);
    } finally {
      await context.close();
    }
    console.log(JSON.stringify(report));
  })().catch((err) => {
    console.log(JSON.stringify(Object.assign(report, { failed: String(err && err.message || err) })));
    process.exit(1);
  });
}

module.exports = { until, run };
