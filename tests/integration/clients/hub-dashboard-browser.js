// Drives the hub's fleet dashboard in headless Chromium as an operator
// would, and reports what it saw as one JSON line: rendered text of visible
// elements (Playwright's isVisible() and innerText), never attributes.
// Usage: node hub-dashboard-browser.js SCENARIO CONFIG_JSON
//   CONFIG: {"url", "total", "online", "profile", "width", "colorScheme", "screenshot",
//            "live": {"node", "token", "cpu"}, "nodeId", "token", "wrongToken"}
// Scenarios:
//   fleet  the list (count, filter, sort, a live update, sparklines), the
//          theme and its toggle, the page width, then a node's page: charts,
//          a drag to zoom, the range choice, its latest sample, its link
//   token  the page asks for the hub token, asks again for a wrong one, and
//          shows the fleet with the right one
'use strict';
const http = require('http');
const { until, run } = require('./browser');

const [scenario, configJson] = process.argv.slice(2);
const cfg = JSON.parse(configJson);
const report = { console: [], errors: [] };

// The rendered text of every visible element of selector, read in one go
// (a list of hundreds of rows changes under a reader that takes them one by
// one): visible as the browser decides it (checkVisibility: displayed, not
// hidden by a style), as innerText renders it.
const seen = (page, selector) => page.$$eval(selector, (els) => els
  .filter((e) => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })
    && e.getClientRects().length > 0)
  .map((e) => e.innerText));
const seenText = async (page, selector) => (await seen(page, selector)).join('\n');

const showsText = (page, selector, text) => until(`${selector} showing "${text}"`,
  async () => (await seenText(page, selector)) === text);

// One sample pushed to the hub as pushd would, from outside the page.
function push(live) {
  const now = new Date();
  const body = `${JSON.stringify({
    timestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'), node_id: live.node, interval: 10, stream: 'browser', seq: 1,
    metrics: {
      cpu: { cpu_usage_percent: live.cpu, cpu_per_core_percent: [live.cpu], load_avg_1min: 7.25, load_avg_5min: 1, load_avg_15min: 1 },
      memory: { memory_total_gb: 16, memory_used_gb: 8, memory_available_gb: 8, memory_usage_percent: 50, swap_total_gb: 0, swap_used_gb: 0, swap_usage_percent: 0 },
      disk: { disk_usage: {}, disk_io: { read_mb_per_sec: 0, write_mb_per_sec: 0 } },
      network: { bytes_sent_mb_per_sec: 0, bytes_recv_mb_per_sec: 0, packets_sent: 0, packets_recv: 0, active_connections: 1 },
      processes: { process_count: 1, top_memory_processes: [] },
    },
  })}\n`;
  const u = new URL(cfg.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: '/api/v1/push', method: 'POST',
      headers: { Authorization: `Bearer ${live.token}`, 'Content-Type': 'application/x-ndjson' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

const names = (page) => seen(page, '#rows .row .c-name .id');
const count = (page) => seenText(page, '#count');
const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

async function fleet(page) {
  await page.goto(cfg.url);
  await showsText(page, '#count', `${cfg.total} nodes`);
  report.summary = await seenText(page, '#summary');
  report.live = await seenText(page, '#live');
  report.headers = await seen(page, '.row.head [role="columnheader"]');
  report.byName = await names(page);
  report.firstRow = (await seen(page, '#rows .row'))[0];
  // The last hour comes from one query after the list: drawn once it is in.
  await until('the sparklines', async () => (await page.locator('#rows .c-spark polyline').count()) >= cfg.online);
  report.sparklines = await page.locator('#rows .c-spark polyline').count();
  report.theme = await page.evaluate(() => document.documentElement.dataset.theme);
  report.background = await background(page);
  report.toggle = await seenText(page, '#theme-toggle');
  report.innerWidth = await page.evaluate(() => window.innerWidth);
  report.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot });

  // The filter narrows the list, by name and by state.
  await page.fill('#filter', cfg.filter);
  await until('the filtered count', async () => (await count(page)).includes(' of '));
  report.filterCount = await count(page);
  report.filtered = await names(page);
  await page.fill('#filter', 'offline');
  await until('the offline count', async () => (await count(page)) !== report.filterCount);
  report.offlineCount = await count(page);
  report.offlineStates = [...new Set(await seen(page, '#rows .c-state'))];
  await page.fill('#filter', '');
  await showsText(page, '#count', `${cfg.total} nodes`);

  // Sorted by CPU, busiest first; then a sample pushed now moves its node.
  await page.selectOption('#sort', 'cpu');
  await until('the CPU order', async () => (await names(page))[0] !== report.byName[0]);
  report.byCpu = (await seen(page, '#rows .c-cpu')).slice(0, 20);
  report.byCpuNames = (await names(page)).slice(0, 3);
  await page.click('#sort-dir');
  await until('the reversed order', async () => (await names(page))[0] !== report.byCpuNames[0]);
  report.byCpuAscending = (await seen(page, '#rows .c-cpu')).slice(0, 5);
  await page.click('#sort-dir');
  report.pushStatus = await push(cfg.live);
  const want = `${cfg.live.cpu.toFixed(1)} %`;
  await until('the live sample at the top', async () => (await seen(page, '#rows .row .c-cpu'))[0] === want);
  report.liveTop = (await seen(page, '#rows .row'))[0];

  await page.click('#theme-toggle');
  report.themeAfterToggle = await page.evaluate(() => document.documentElement.dataset.theme);
  report.backgroundAfterToggle = await background(page);
  report.scrollWidthAfterToggle = await page.evaluate(() => document.documentElement.scrollWidth);

  // A node's page: its row leads there.
  await page.fill('#filter', cfg.nodeId);
  await until('the one row', async () => (await names(page)).length === 1);
  await page.locator('#rows .row').first().click();
  await until('the node page', async () => (await seenText(page, '#node-title')).includes(cfg.nodeId));
  report.title = await seenText(page, '#node-title');
  report.state = await seenText(page, '#node-state');
  report.link = await seenText(page, '#node-link');
  report.linkHref = await page.locator('#node-link').getAttribute('href');
  await until('the charts', async () => (await seen(page, '.chart .nodata')).length === 0
    && (await seen(page, '.card h2 .figure')).filter(Boolean).length >= 3);
  report.chartTitles = await seen(page, '#charts .card h2');
  report.noData = await seen(page, '.chart .nodata');
  await until('the sample', async () => (await seen(page, '#sample dt')).length > 5);
  // Read at once, as one text: "path" and "value" lines in turn.
  report.sample = {};
  const lines = (await seenText(page, '#sample')).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) report.sample[lines[i]] = lines[i + 1];
  report.rangeOptions = await page.locator('#range option').allInnerTexts();
  report.windowBefore = await seenText(page, '#window');
  report.zoomResetBefore = await page.locator('#zoom-reset').isVisible();
  report.nodeScrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (cfg.nodeScreenshot) await page.screenshot({ path: cfg.nodeScreenshot, fullPage: true });

  // Drag across the CPU chart: the charts load that span.
  const box = await page.locator('#charts canvas').first().boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.35, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, y, { steps: 5 });
  await page.mouse.up();
  await until('the zoomed window', async () => (await seenText(page, '#window')) !== report.windowBefore);
  report.windowZoomed = await seenText(page, '#window');
  report.zoomReset = await page.locator('#zoom-reset').isVisible();
  await page.click('#zoom-reset');
  await until('the window back', async () => !(await page.locator('#zoom-reset').isVisible()));
  await page.selectOption('#range', '2592000');
  await until('the 30-day window', async () => (await seenText(page, '#window')) !== report.windowZoomed
    && (await seenText(page, '#window')).includes('step'));
  report.windowMonth = await seenText(page, '#window');
  await until('the charts again', async () => (await seen(page, '.chart .nodata')).length === 0);
  report.noDataMonth = await seen(page, '.chart .nodata');

  await page.click('a.back');
  await until('the fleet again', async () => (await count(page)) !== '');
  report.backCount = await count(page);
}

async function token(page) {
  await page.goto(cfg.url);
  await until('the token dialog', async () => page.locator('#token-dialog').isVisible());
  report.dialog = await seenText(page, '#token-dialog h3');
  report.refusedFirst = await page.locator('#token-refused').isVisible();
  // The dialog is common.js's, styled by common.css: the same on both pages.
  report.dialogLook = await page.evaluate(() => {
    const d = getComputedStyle(document.getElementById('token-dialog'));
    const i = getComputedStyle(document.getElementById('token-input'));
    return { radius: d.borderTopLeftRadius, padding: d.padding, input: i.padding,
      backdrop: getComputedStyle(document.getElementById('token-dialog'), '::backdrop').backgroundColor };
  });
  await page.fill('#token-input', cfg.wrongToken);
  await page.click('#token-ok');
  await until('the dialog again', async () => page.locator('#token-refused').isVisible());
  report.refused = await seenText(page, '#token-refused');
  await page.fill('#token-input', cfg.token);
  await page.click('#token-ok');
  await showsText(page, '#count', `${cfg.total} nodes`);
  report.dialogAfter = await page.locator('#token-dialog').isVisible();
  report.names = await names(page);
  await until('the stream', async () => (await seenText(page, '#live')) === 'live');
  report.live = await seenText(page, '#live');
  // Kept for the tab: a reload asks no more.
  await page.reload();
  await showsText(page, '#count', `${cfg.total} nodes`);
  report.dialogAfterReload = await page.locator('#token-dialog').isVisible();
}

run({ fleet, token }, scenario, cfg, report);
