// Drives controld's dashboard in headless Chromium the way an operator
// would, and reports what it saw as one JSON line. What it reports is what a
// person sees: text as rendered (innerText) of elements that are visible
// (Playwright's isVisible()), never an attribute or a class, which a style
// sheet can make mean nothing on screen.
// Usage: node dashboard-browser.js SCENARIO CONFIG_JSON
//   CONFIG: {"url", "controlPort", "token", "logFile", "screenshot", "profile", ...}
// Scenarios:
//   live    charts fill, log lines appear, the filter works, the buttons stop
//           and start telemetry (checked against /status from here, not the page)
//   token   the page asks for the token, a wrong one is asked again, the right
//           one lets the buttons work
//   bounds  with ?history=&lines=, the charts and the log stay at their bounds
//   looks   at cfg.width in cfg.colorScheme: per-disk and per-interface rates,
//           IOPS, the theme and its toggle, nothing wider than the window
//   reload  after a reload the charts are full at once from telemetryd's
//           history; the range choice is kept and narrows the charts
//   tls     over https, with cfg.spki (the server key's hash) trusted: the
//           page loads, and its streams (reported as `sockets`) fill the
//           charts and the log
'use strict';
const fs = require('fs');
const http = require('http');
const { until, run } = require('./browser');

const [scenario, configJson] = process.argv.slice(2);
const cfg = JSON.parse(configJson);
const report = { console: [], errors: [], sockets: [] };

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

// The rendered text of every element of selector that is visible, in order.
// An element that goes while it is read makes it fail, not wait.
async function seen(page, selector) {
  const out = [];
  for (const e of await page.locator(selector).all()) {
    if (await e.isVisible()) out.push(await e.innerText({ timeout: 2000 }));
  }
  return out;
}

const visibleLines = (page) => seen(page, '#log .line .text');
const seenText = async (page, selector) => (await seen(page, selector)).join('\n');

async function waitFor(page, what, fn, arg, timeout = 20000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`waiting for ${what}: ${err.message.split('\n')[0]}`);
  }
}


const showsText = (page, selector, text) => until(`${selector} showing "${text}"`,
  async () => (await seenText(page, selector)) === text);
const lineShown = (page, text) => until(`the log line "${text}"`, async () => (await visibleLines(page)).includes(text));

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
  await showsText(page, '#node', cfg.nodeId);
  await allChartsAtLeast(page, 2);
  report.points = {};
  for (const id of ['chart-cpu', 'chart-memory', 'chart-disk', 'chart-network']) report.points[id] = await chartPoints(page, id);
  report.cpuDatasets = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.datasets.map((d) => d.label));
  report.cores = (await seen(page, '#cores .core')).length;
  report.processes = (await seen(page, '#procs tbody tr')).length;
  report.processRows = await seen(page, '#procs tbody tr');
  report.mounts = await seen(page, '#mounts tbody tr td:first-child');

  // The log: lines written now arrive through the stream.
  await showsText(page, '.stream[data-stream="livelogs"]', 'live');
  const fresh = [];
  for (let i = 1; i <= 6; i += 1) fresh.push(`dashboard line ${i} ${i % 2 ? 'alpha' : 'beta'} shard-${i}`);
  append(fresh);
  await lineShown(page, fresh[fresh.length - 1]);
  report.logAll = await visibleLines(page);
  report.filterBeta = await filterTo(page, 'BETA');
  report.filterRegex = await filterTo(page, '/shard-[15]$/');
  report.filterMarks = await seen(page, '#log .line mark');
  report.filterBad = await filterTo(page, '/([/');
  // A pattern that does not compile is shown as such: the box turns red.
  report.filterBadColor = await page.locator('#filter').evaluate((e) => getComputedStyle(e).borderTopColor);
  report.badColor = await page.evaluate(() => {
    const probe = document.createElement('span');
    probe.style.color = 'var(--bad)';
    document.body.append(probe);
    const c = getComputedStyle(probe).color;
    probe.remove();
    return c;
  });
  // A line that arrives while filtering is filtered too.
  await filterTo(page, 'beta');
  append(['dashboard line 7 gamma', 'dashboard line 8 beta late']);
  await lineShown(page, 'dashboard line 8 beta late');
  report.filterLive = await visibleLines(page);
  report.gammaShown = (await visibleLines(page)).includes('dashboard line 7 gamma');
  // The count follows at the next frame: it says how many lines one sees.
  await until('the line count', async () => {
    const all = await page.locator('#log .line').count();
    return (await seenText(page, '#log-count')) === `${(await visibleLines(page)).length} of ${all} lines`;
  });
  report.logCount = await seenText(page, '#log-count');
  report.filterCleared = await filterTo(page, '');

  if (cfg.screenshot) {
    // A few more samples so that the picture shows lines, not points.
    await allChartsAtLeast(page, 5);
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
  }

  // Stop, then start, with the header's buttons; /status is read from here.
  const toastSays = (text) => until(`a toast saying ${text}`,
    async () => (await seen(page, '#toasts .toast')).some((x) => x.startsWith(text)));
  await page.click('[data-worker="telemetry"][data-action="stop"]');
  await toastSays('telemetry: stopped');
  await showsText(page, '#state-telemetry', 'stopped');
  report.afterStop = (await status()).telemetry;
  await showsText(page, '.stream[data-stream="telemetry"]', 'offline');
  report.streamAfterStop = await seenText(page, '.stream[data-stream="telemetry"]');
  const before = await chartPoints(page, 'chart-cpu');
  await page.fill('#interval', '2');
  await page.click('[data-worker="telemetry"][data-action="start"]');
  await toastSays('telemetry: started');
  await showsText(page, '#state-telemetry', 'running');
  report.afterStart = (await status()).telemetry;
  // The page reconnects to the restarted stream by itself.
  await waitFor(page, 'samples from the restarted stream', (n) => window.Chart.getChart('chart-cpu').data.labels.length > n, before);
}

async function token(page) {
  const dialogShown = () => page.locator('#token-dialog').isVisible();
  await page.goto(cfg.url);
  await until('the token dialog', dialogShown);
  report.refusedShownFirst = (await seen(page, '#token-refused')).length > 0;
  // The dialog is common.js's, styled by common.css: the same on both pages.
  report.dialogLook = await page.evaluate(() => {
    const d = getComputedStyle(document.getElementById('token-dialog'));
    const i = getComputedStyle(document.getElementById('token-input'));
    return { radius: d.borderTopLeftRadius, padding: d.padding, input: i.padding,
      backdrop: getComputedStyle(document.getElementById('token-dialog'), '::backdrop').backgroundColor };
  });
  await page.fill('#token-input', 'not-the-token');
  await page.click('#token-ok');
  // The wrong token is refused: the page asks again, and says why.
  await until('the token dialog again, saying the token was refused',
    async () => await dialogShown() && (await seenText(page, '#token-refused')) === 'That token was refused.');
  report.askedAgain = true;
  await page.fill('#token-input', cfg.token);
  await page.click('#token-ok');
  await showsText(page, '#node', cfg.nodeId);
  report.dialogAfterToken = await dialogShown();
  report.stored = await page.evaluate(() => sessionStorage.getItem('resolvix-token'));
  await page.click('[data-worker="telemetry"][data-action="start"]');
  await showsText(page, '#state-telemetry', 'running');
  report.afterStart = (await status()).telemetry;
  // The stream wants the token too: the page presents it.
  await allChartsAtLeast(page, 1);
  report.points = await chartPoints(page, 'chart-cpu');
  // A reload keeps the token for this tab: no dialog.
  await page.reload();
  await showsText(page, '#node', cfg.nodeId);
  report.dialogAfterReload = await dialogShown();
}

// The seq of the latest sample the page shows, or -1.
async function shownSeq(page) {
  const m = /#(\d+)/.exec(await seenText(page, '#last-sample'));
  return m ? Number(m[1]) : -1;
}

async function bounds(page) {
  await page.goto(cfg.url);
  await until('a first sample', async () => (await shownSeq(page)) >= 0);
  const first = await shownSeq(page);
  await showsText(page, '.stream[data-stream="livelogs"]', 'live');
  const lines = [];
  for (let i = 1; i <= cfg.logLines; i += 1) lines.push(`bounded line ${i}`);
  append(lines);
  await lineShown(page, lines[lines.length - 1]);
  // What the page keeps (its memory bound) and what it shows of it.
  report.domLines = await page.locator('#log .line').count();
  const shown = await visibleLines(page);
  report.shownLines = shown.length;
  report.firstLine = shown[0];
  // More samples than the history holds, counted from the first this page
  // got (the stream may have been running for a while).
  await until(`${cfg.samples} samples`, async () => (await shownSeq(page)) >= first + cfg.samples - 1, 30000);
  report.points = {};
  for (const id of ['chart-cpu', 'chart-memory', 'chart-disk', 'chart-network']) report.points[id] = await chartPoints(page, id);
  report.cpuSeriesLengths = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.datasets.map((d) => d.data.length));
}

// Table headers whose text does not fit their cell, or that overlap the
// next, and figures cut short.
const crampedHeaders = (page) => page.evaluate(() => {
  const out = [];
  for (const td of document.querySelectorAll('tbody td.num')) {
    if (td.offsetParent !== null && td.scrollWidth > td.clientWidth + 1) out.push(`${td.textContent} is cut`);
  }
  for (const tr of document.querySelectorAll('thead tr')) {
    const ths = [...tr.children].filter((th) => th.offsetParent !== null);
    ths.forEach((th, i) => {
      const r = th.getBoundingClientRect();
      if (th.scrollWidth > th.clientWidth + 1) out.push(`${th.textContent} is cut`);
      if (ths[i + 1] && r.right > ths[i + 1].getBoundingClientRect().left + 1) out.push(`${th.textContent} overlaps`);
    });
  }
  return out;
});

const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

async function looks(page) {
  await page.goto(cfg.url);
  await showsText(page, '#node', cfg.nodeId);
  await allChartsAtLeast(page, 3);
  // Rates need two samples of the counters: then every row has its figures.
  const rated = (sel) => until(`rates in ${sel}`, async () => {
    const rows = await seen(page, `${sel} tbody tr`);
    return rows.length > 0 && rows.every((r) => /\/s/.test(r) || /^no /.test(r));
  });
  await rated('#ifaces');
  await rated('#disks');
  report.ifaces = await seen(page, '#ifaces tbody tr');
  report.ifaceHeaders = await seen(page, '#ifaces th');
  report.disks = await seen(page, '#disks tbody tr');
  report.diskHeaders = await seen(page, '#disks th');
  report.diskFacts = await seenText(page, '#disk-facts');
  report.mountHeaders = await seen(page, '#mounts th');
  report.procHeaders = await seen(page, '#procs th');
  report.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  report.innerWidth = await page.evaluate(() => window.innerWidth);
  report.cramped = await crampedHeaders(page);
  report.theme = await page.evaluate(() => document.documentElement.dataset.theme);
  report.background = await background(page);
  report.toggle = await seenText(page, '#theme-toggle');
  report.rangeVisible = await page.locator('#range').isVisible();
  if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: true });
  await page.click('#theme-toggle');
  report.themeAfterToggle = await page.evaluate(() => document.documentElement.dataset.theme);
  report.backgroundAfterToggle = await background(page);
  report.toggleAfterToggle = await seenText(page, '#theme-toggle');
  await page.reload();
  await waitFor(page, 'a filled CPU chart', () => window.Chart && window.Chart.getChart('chart-cpu')
    && window.Chart.getChart('chart-cpu').data.labels.length > 0);
  report.pointsAfterReload = await chartPoints(page, 'chart-cpu');
  report.themeAfterReload = await page.evaluate(() => document.documentElement.dataset.theme);
  report.scrollWidthAfterToggle = await page.evaluate(() => document.documentElement.scrollWidth);
}

async function reload(page) {
  await page.goto(cfg.url);
  await allChartsAtLeast(page, cfg.samples);
  report.before = await chartPoints(page, 'chart-cpu');
  report.rangeOptions = await page.locator('#range option').allInnerTexts();
  report.rangeVisible = await page.locator('#range').isVisible();
  await page.selectOption('#range', '300');
  await page.reload();
  // The first drawing after the reload: no waiting for samples to come.
  await waitFor(page, 'a filled CPU chart', () => window.Chart && window.Chart.getChart('chart-cpu')
    && window.Chart.getChart('chart-cpu').data.labels.length > 0);
  report.afterReload = await chartPoints(page, 'chart-cpu');
  report.afterReloadMemory = await chartPoints(page, 'chart-memory');
  report.rangeAfterReload = await page.locator('#range').inputValue();
  report.cpuValues = await page.evaluate(() => window.Chart.getChart('chart-cpu').data.datasets[0].data);
}

async function tls(page) {
  const resp = await page.goto(cfg.url);
  report.status = resp.status();
  report.protocol = await page.evaluate(() => location.protocol);
  await showsText(page, '#node', cfg.nodeId);
  await waitFor(page, '2 CPU samples', () => window.Chart && window.Chart.getChart('chart-cpu')
    && window.Chart.getChart('chart-cpu').data.labels.length >= 2);
  report.cpuPoints = await chartPoints(page, 'chart-cpu');
  report.cpuNow = await page.locator('#cpu-now').innerText();
  report.cpuChartShown = await page.locator('#chart-cpu').isVisible();
  append([cfg.line]);
  await waitFor(page, 'the line in the log', (line) => [...document.querySelectorAll('#log .line .text')]
    .some((e) => e.innerText === line), cfg.line);
  report.logLines = await visibleLines(page);
}


run({ live, token, bounds, reload, looks, tls }, scenario, cfg, report);
