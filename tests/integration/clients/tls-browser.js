// controld's dashboard over https in headless Chromium, with the test CA's
// server key trusted (--ignore-certificate-errors-spki-list): the page must
// load, its streams must come over wss:// and fill the charts and the log.
// Reports one JSON line: what a person sees, and the WebSocket URLs opened.
// Usage: node tls-browser.js CONFIG_JSON
//   CONFIG: {"url", "spki", "profile", "nodeId", "logFile", "line"}
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2]);
const report = { console: [], errors: [], sockets: [] };

(async () => {
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${cfg.spki}`],
  });
  try {
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') report.console.push(m.text()); });
    page.on('pageerror', (e) => report.errors.push(e.message));
    page.on('websocket', (ws) => report.sockets.push(ws.url()));
    const resp = await page.goto(cfg.url);
    report.status = resp.status();
    report.protocol = await page.evaluate(() => location.protocol);
    await page.waitForFunction((id) => document.querySelector('#node')
      && document.querySelector('#node').innerText.includes(id), cfg.nodeId, { timeout: 20000, polling: 100 });
    await page.waitForFunction(() => window.Chart && window.Chart.getChart('chart-cpu')
      && window.Chart.getChart('chart-cpu').data.labels.length >= 2, null, { timeout: 30000, polling: 100 });
    report.cpuPoints = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.labels.length);
    fs.appendFileSync(cfg.logFile, `${cfg.line}\n`);
    await page.waitForFunction((line) => [...document.querySelectorAll('#log .line .text')]
      .some((e) => e.innerText === line), cfg.line, { timeout: 20000, polling: 100 });
    report.logLines = [];
    for (const e of await page.locator('#log .line .text').all()) {
      if (await e.isVisible()) report.logLines.push(await e.innerText());
    }
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(report));
})().catch((err) => {
  console.log(JSON.stringify(Object.assign(report, { failed: String(err && err.message || err) })));
  process.exit(1);
});
