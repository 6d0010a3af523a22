// Drives controld's dashboard in headless Chromium the way an operator
// would, and reports what it saw as one JSON line.
// Usage: node dashboard-browser.js SCENARIO CONFIG_JSON
//   CONFIG: {"url", "controlPort", "token", "logFile", "screenshot", "profile", ...}
// Scenarios:
//   live    charts fill, log lines appear, the filter works, the buttons stop
//           and start telemetry (checked against /status from here, not the page)
//   token   the page asks for the token, a wrong one is asked again, the right
//           one lets the buttons work
//   bounds  with ?history=&lines=, the charts and the log stay at their bounds
'use strict';
const fs = require('fs');
const http = require('http');
const { chromium } = require('playwright-core');

const [scenario, configJson] = process.argv.slice(2);
const cfg = JSON.parse(configJson);
const report = { console: [], errors: [] };

function status() {
  return new Promise((resolve, reject) => {
    const headers = cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {};
    http.get({ host: '127.0.0.1', port: cfg.controlPort, path: '/status', headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

const chartPoints = (page, id) => page.evaluate((c) => {
  const chart = window.Chart && window.Chart.getChart(c);
  return chart ? chart.data.labels.length : -1;
}, id);

const visibleLines = (page) => page.$$eval('#log .line:not([hidden]) .text', (ls) => ls.map((l) => l.textContent));

async function waitFor(page, what, fn, arg, timeout = 20000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`waiting for ${what}: ${err.message.split('\n')[0]}`);
  }
}

async function allChartsAtLeast(page, n) {
  await waitFor(page, `${n} samples in every chart`, (k) => ['chart-cpu', 'chart-memory', 'chart-disk', 'chart-network']
    .every((id) => window.Chart && window.Chart.getChart(id) && window.Chart.getChart(id).data.labels.length >= k), n);
}

function append(lines) {
  fs.appendFileSync(cfg.logFile, lines.map((l) => `${l}\n`).join(''));
}

async function filterTo(page, text) {
  await page.fill('#filter', text);
  return visibleLines(page);
}

async function live(page) {
  await page.goto(cfg.url);
  await waitFor(page, 'the node id from /status', (id) => document.getElementById('node').textContent === id, cfg.nodeId);
  await allChartsAtLeast(page, 2);
  report.points = {};
  for (const id of ['chart-cpu', 'chart-memory', 'chart-disk', 'chart-network']) report.points[id] = await chartPoints(page, id);
  report.cpuDatasets = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.datasets.map((d) => d.label));
  report.cores = await page.$$eval('#cores .core', (c) => c.length);
  report.processes = await page.$$eval('#procs tbody tr', (r) => r.length);
  report.mounts = await page.$$eval('#mounts tbody tr td:first-child', (r) => r.map((td) => td.textContent));

  // The log: lines written now arrive through the stream.
  await waitFor(page, 'the live-log stream', () => document.querySelector('.stream[data-stream="livelogs"]').dataset.state === 'live');
  const fresh = [];
  for (let i = 1; i <= 6; i += 1) fresh.push(`dashboard line ${i} ${i % 2 ? 'alpha' : 'beta'} shard-${i}`);
  append(fresh);
  await waitFor(page, 'the new log lines', (last) => [...document.querySelectorAll('#log .line .text')]
    .some((l) => l.textContent === last), fresh[fresh.length - 1]);
  report.logAll = await visibleLines(page);
  report.filterBeta = await filterTo(page, 'BETA');
  report.filterRegex = await filterTo(page, '/shard-[15]$/');
  report.filterMarks = await page.$$eval('#log .line:not([hidden]) mark', (m) => m.map((x) => x.textContent));
  report.filterBad = await filterTo(page, '/([/');
  report.filterBadInvalid = await page.$eval('#filter', (e) => e.classList.contains('invalid'));
  // A line that arrives while filtering is filtered too.
  await filterTo(page, 'beta');
  append(['dashboard line 7 gamma', 'dashboard line 8 beta late']);
  await waitFor(page, 'the late line', () => [...document.querySelectorAll('#log .line .text')]
    .some((l) => l.textContent === 'dashboard line 8 beta late'));
  report.filterLive = await visibleLines(page);
  // The count follows at the next frame.
  await waitFor(page, 'the line count', () => {
    const all = document.querySelectorAll('#log .line').length;
    const shown = document.querySelectorAll('#log .line:not([hidden])').length;
    return document.getElementById('log-count').textContent === `${shown} of ${all} lines`;
  });
  report.logCount = await page.textContent('#log-count');
  report.filterCleared = await filterTo(page, '');

  if (cfg.screenshot) {
    // A few more samples so that the picture shows lines, not points.
    await allChartsAtLeast(page, 5);
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
  }

  // Stop, then start, with the header's buttons; /status is read from here.
  const toastSays = (text) => waitFor(page, `a toast saying ${text}`, (t) => [...document.querySelectorAll('#toasts .toast')]
    .some((x) => x.textContent.startsWith(t)), text);
  await page.click('[data-worker="telemetry"][data-action="stop"]');
  await toastSays('telemetry: stopped');
  await waitFor(page, 'telemetry shown stopped', () => document.getElementById('worker-telemetry').dataset.state === 'stopped');
  report.afterStop = (await status()).telemetry;
  report.streamAfterStop = await page.getAttribute('.stream[data-stream="telemetry"]', 'data-state');
  const before = await chartPoints(page, 'chart-cpu');
  await page.fill('#interval', '2');
  await page.click('[data-worker="telemetry"][data-action="start"]');
  await toastSays('telemetry: started');
  await waitFor(page, 'telemetry shown running', () => document.getElementById('worker-telemetry').dataset.state === 'running');
  report.afterStart = (await status()).telemetry;
  // The page reconnects to the restarted stream by itself.
  await waitFor(page, 'samples from the restarted stream', (n) => window.Chart.getChart('chart-cpu').data.labels.length > n, before);
}

async function token(page) {
  await page.goto(cfg.url);
  await waitFor(page, 'the token dialog', () => document.getElementById('token-dialog').open);
  await page.fill('#token-input', 'not-the-token');
  await page.click('#token-ok');
  // The wrong token is refused: the page asks again.
  await waitFor(page, 'the token dialog again', () => document.getElementById('token-dialog').open);
  report.askedAgain = true;
  await page.fill('#token-input', cfg.token);
  await page.click('#token-ok');
  await waitFor(page, 'the node id from /status', (id) => document.getElementById('node').textContent === id, cfg.nodeId);
  report.stored = await page.evaluate(() => sessionStorage.getItem('resolvix-token'));
  await page.click('[data-worker="telemetry"][data-action="start"]');
  await waitFor(page, 'telemetry shown running', () => document.getElementById('worker-telemetry').dataset.state === 'running');
  report.afterStart = (await status()).telemetry;
  // The stream wants the token too: the page presents it.
  await allChartsAtLeast(page, 1);
  report.points = await chartPoints(page, 'chart-cpu');
  // A reload keeps the token for this tab: no dialog.
  await page.reload();
  await waitFor(page, 'the node id after a reload', (id) => document.getElementById('node').textContent === id, cfg.nodeId);
  report.dialogAfterReload = await page.evaluate(() => document.getElementById('token-dialog').open);
}

async function bounds(page) {
  await page.goto(cfg.url);
  await waitFor(page, 'the live-log stream', () => document.querySelector('.stream[data-stream="livelogs"]').dataset.state === 'live');
  const lines = [];
  for (let i = 1; i <= cfg.logLines; i += 1) lines.push(`bounded line ${i}`);
  append(lines);
  await waitFor(page, 'the last line', (last) => [...document.querySelectorAll('#log .line .text')]
    .some((l) => l.textContent === last), lines[lines.length - 1]);
  report.domLines = await page.$$eval('#log .line', (l) => l.length);
  report.firstLine = await page.textContent('#log .line .text');
  // More samples than the history holds.
  await waitFor(page, `${cfg.samples} samples`, (n) => {
    const m = /#(\d+)/.exec(document.getElementById('last-sample').textContent);
    return m && Number(m[1]) >= n;
  }, cfg.samples, 30000);
  report.points = {};
  for (const id of ['chart-cpu', 'chart-memory', 'chart-disk', 'chart-network']) report.points[id] = await chartPoints(page, id);
  report.cpuSeriesLengths = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.datasets.map((d) => d.data.length));
}

(async () => {
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') report.console.push(m.text()); });
    page.on('pageerror', (e) => report.errors.push(e.message));
    await { live, token, bounds }[scenario](page);
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(report));
})().catch((err) => {
  console.log(JSON.stringify(Object.assign(report, { failed: String(err && err.message || err) })));
  process.exit(1);
});
