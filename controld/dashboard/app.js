// resolvix dashboard: controld's /status and /control on this origin, the
// telemetry and live-log streams on the ports /status names, same host.
// Everything it keeps is bounded (chart history, log lines), so a tab left
// open for days stays as light as it started.
'use strict';

(() => {
  // ?history=N and ?lines=N trade memory for a longer view: N points per
  // chart (an hour at 1 s by default, what telemetryd's history holds),
  // N lines in the log view.
  const params = new URLSearchParams(location.search);
  const bounded = (name, def, min, max) => {
    const v = Number(params.get(name));
    return Number.isInteger(v) && v >= min && v <= max ? v : def;
  };
  const HISTORY = bounded('history', 3600, 2, 10000); // points per chart
  const RANGES = [300, 900, 1800, 3600]; // seconds the charts can span
  const RANGE_KEY = 'resolvix-range';
  const LOG_LINES = bounded('lines', 1000, 10, 20000); // lines kept in the log view
  const STATUS_EVERY_MS = 3000; // how often the header follows /status
  const GIB = 1024 ** 3;

  const { $, banner } = window.resolvix;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // ---- formatting ----------------------------------------------------------

  const num = (v, digits = 1) => (typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—');
  const pct = (v) => `${num(v)}%`;
  const rate = (mib) => {
    if (typeof mib !== 'number' || !isFinite(mib)) return '—';
    if (mib >= 1) return `${mib.toFixed(2)} MiB/s`;
    return `${(mib * 1024).toFixed(mib * 1024 >= 10 ? 0 : 1)} KiB/s`;
  };
  const bytes = (b) => {
    if (typeof b !== 'number' || !isFinite(b) || b < 0) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let u = 0;
    while (b >= 1024 && u < units.length - 1) { b /= 1024; u += 1; }
    return `${b.toFixed(u === 0 || b >= 100 ? 0 : b >= 10 ? 1 : 2)} ${units[u]}`;
  };
  const count = (v) => (typeof v === 'number' ? v.toLocaleString('en-US') : '—');
  const clock = (when) => {
    const d = when !== undefined ? new Date(when) : new Date();
    return isNaN(d) ? '' : d.toTimeString().slice(0, 8);
  };
  const duration = (s) => {
    if (typeof s !== 'number') return '';
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${Math.floor(s % 60)}s`;
    return `${Math.floor(s)}s`;
  };
  const level = (p) => (p >= 85 ? 'bad' : p >= 60 ? 'warn' : '');

  function meter(percent) {
    const m = el('div', `meter ${level(percent)}`);
    const fill = el('i');
    fill.style.width = `${Math.max(0, Math.min(100, percent || 0))}%`;
    m.append(fill);
    return m;
  }

  function setMeter(m, percent) {
    m.className = `meter ${level(percent)}`;
    m.firstChild.style.width = `${Math.max(0, Math.min(100, percent || 0))}%`;
  }

  // ---- the theme (common.js) ------------------------------------------------

  window.resolvix.theme(() => recolorCharts());
  const cssColor = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // ---- notices ---------------------------------------------------------------

  function toast(message, isError) {
    const t = el('div', `toast${isError ? ' error' : ''}`, message);
    $('toasts').append(t);
    setTimeout(() => t.remove(), isError ? 9000 : 4000);
  }

  // ---- the token and the control API -----------------------------------------

  const auth = window.resolvix.tokenPrompt({
    key: 'resolvix-token',
    asks: 'resolvix on this node asks for its control token',
    setting: '[control] token',
    label: 'control token',
    onGiven: () => reconnectAll(),
    onButton: () => refreshStatus(),
    missing: 'resolvix asks for its control token (the Token button)',
  });

  // fetch() against controld, with the token (common.js).
  async function api(path, body) {
    const headers = { Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    const resp = await auth.fetch(path, {
      method: body ? 'POST' : 'GET',
      headers,
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    return { status: resp.status, data };
  }

  // ---- /status and the header ------------------------------------------------

  let status = null;
  let statusFailing = false;

  async function refreshStatus() {
    try {
      const r = await api('/status');
      if (r.status !== 200 || !r.data) throw new Error((r.data && r.data.message) || `HTTP ${r.status}`);
      status = r.data;
      if (statusFailing) banner('');
      statusFailing = false;
      renderStatus();
    } catch (err) {
      statusFailing = true;
      banner(`Cannot read /status from resolvix-controld: ${err.message}`);
    }
  }

  function workerState(w) {
    if (!w) return 'unknown';
    return w.state || (w.running ? 'running' : 'stopped');
  }

  function renderStatus() {
    $('node').textContent = status.node_id || '—';
    document.title = `resolvix · ${status.node_id || ''}`;
    $('version').textContent = status.version ? `v${status.version}` : '';
    $('uptime').textContent = typeof status.uptime_s === 'number' ? `up ${duration(status.uptime_s)}` : '';
    for (const name of ['telemetry', 'livelogs']) {
      const w = status[name] || {};
      const state = workerState(w);
      const box = $(`worker-${name}`);
      box.dataset.state = state;
      $(`state-${name}`).textContent = state;
      box.title = [w.pid ? `pid ${w.pid}` : null, w.ws_port ? `port ${w.ws_port}` : null,
        typeof w.restarts === 'number' ? `${w.restarts} restarts` : null].filter(Boolean).join(' · ');
      const alive = state === 'running' || state === 'starting' || state === 'backoff';
      box.querySelector('[data-action="start"]').disabled = state === 'running' && name === 'livelogs';
      box.querySelector('[data-action="stop"]').disabled = !alive && state !== 'failed';
      streams[name].want(state === 'running' ? w.ws_port : null, w.pid);
    }
    const tw = status.telemetry || {};
    const input = $('interval');
    if (document.activeElement !== input && tw.interval) input.value = tw.interval;
    // Running telemetry: Start applies a changed interval (controld answers "reconfigured").
    $('worker-telemetry').querySelector('[data-action="start"]').textContent =
      workerState(tw) === 'running' ? 'Apply' : 'Start';
    $('log-file').textContent = status.log_file || '';
  }

  async function control(button) {
    const worker = button.dataset.worker;
    const action = button.dataset.action;
    const body = { command: `${action}_${worker}` };
    if (worker === 'telemetry' && action === 'start') {
      const v = Number($('interval').value);
      if (Number.isInteger(v) && v >= 1 && v <= 86400) body.interval = v;
    }
    button.classList.add('busy');
    button.disabled = true;
    try {
      const r = await api('/control', body);
      const d = r.data || {};
      if (r.status === 200) {
        const what = worker === 'livelogs' ? 'live log' : worker;
        const pid = d.pid ? ` (pid ${d.pid})` : '';
        toast(`${what}: ${String(d.status || 'done').replace('_', ' ')}${pid}`);
      } else {
        toast(`${action} ${worker}: ${d.message || `HTTP ${r.status}`}${d.detail ? ` (${d.detail})` : ''}`, true);
      }
    } catch (err) {
      toast(`${action} ${worker}: ${err.message}`, true);
    } finally {
      button.classList.remove('busy');
      await refreshStatus();
    }
  }

  document.querySelectorAll('button[data-action]').forEach((b) => b.addEventListener('click', () => control(b)));

  // ---- streams -----------------------------------------------------------------

  // One WebSocket to a worker's port on this page's host, opened while the
  // worker runs, reopened with a growing delay when it drops.
  class Stream {
    constructor(name, onMessage) {
      this.name = name;
      this.onMessage = onMessage;
      this.port = null;
      this.ws = null;
      this.retry = null;
      this.backoff = 500;
      this.indicators = document.querySelectorAll(`.stream[data-stream="${name}"]`);
      this.show('offline');
    }

    show(state) {
      const text = { live: 'live', connecting: 'connecting', offline: 'offline' }[state];
      this.indicators.forEach((i) => { i.dataset.state = state; i.textContent = text; });
    }

    want(port, pid) {
      this.pid = pid;
      if (port === this.port) {
        if (port && !this.ws && !this.retry) this.open();
        return;
      }
      this.port = port;
      this.close();
      if (port) this.open();
    }

    url() {
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      return `${scheme}://${location.hostname}:${this.port}/${auth.query()}`;
    }

    open() {
      clearTimeout(this.retry);
      this.retry = null;
      this.show('connecting');
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.onopen = () => {
        this.backoff = 500;
        this.show('live');
        if (this.onOpen) this.onOpen(this.pid);
      };
      ws.onmessage = (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch (_) { return; }
        this.onMessage(data);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.show('offline');
        if (!this.port) return;
        // Stopped or restarting? /status says at once, and the header with it.
        refreshStatus();
        // The worker may be restarting or the token may be wrong: try
        // again later, and let /status say whether it still runs.
        this.retry = setTimeout(() => { this.retry = null; if (this.port) this.open(); }, this.backoff);
        this.backoff = Math.min(this.backoff * 2, 15000);
      };
    }

    close() {
      clearTimeout(this.retry);
      this.retry = null;
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.close(1000);
      }
      this.show('offline');
    }

    send(obj) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
    }
  }

  function reconnectAll() {
    for (const s of Object.values(streams)) {
      const { port, pid } = s;
      s.want(null, pid);
      s.want(port, pid);
    }
  }

  // ---- charts --------------------------------------------------------------------

  const charts = {};
  const haveCharts = typeof window.Chart === 'function';
  const CORE_COLORS = ['#a78bfa', '#f472b6', '#fb923c', '#facc15', '#4ade80', '#2dd4bf', '#60a5fa', '#c084fc'];

  function makeChart(id, datasets, yOptions) {
    if (!haveCharts) return null;
    const grid = 'rgba(125, 138, 163, 0.12)';
    return new window.Chart($(id), {
      type: 'line',
      data: { labels: [], datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.6, tension: 0.25 } },
        scales: {
          x: { ticks: { color: '#7d8aa3', maxTicksLimit: 6, maxRotation: 0, font: { size: 10 } }, grid: { color: grid } },
          y: Object.assign({ ticks: { color: '#7d8aa3', maxTicksLimit: 5, font: { size: 10 } }, grid: { color: grid }, beginAtZero: true }, yOptions || {}),
        },
        plugins: {
          legend: { labels: { color: cssColor('--text'), boxWidth: 10, boxHeight: 2, font: { size: 11 } } },
          tooltip: { backgroundColor: '#0b1220', borderColor: '#1f2a3d', borderWidth: 1 },
        },
      },
    });
  }

  // The legend follows the theme; the lines' own colours read on both.
  function recolorCharts() {
    for (const chart of Object.values(charts)) {
      if (!chart) continue;
      chart.options.plugins.legend.labels.color = cssColor('--text');
      chart.update('none');
    }
  }

  function series(label, color, fill) {
    return {
      label,
      data: [],
      borderColor: color,
      backgroundColor: fill ? `${color}22` : color,
      fill: fill ? 'origin' : false,
    };
  }

  if (haveCharts) {
    const percentAxis = { max: 100, ticks: { color: '#7d8aa3', maxTicksLimit: 5, font: { size: 10 }, callback: (v) => `${v}%` } };
    charts.cpu = makeChart('chart-cpu', [series('total', '#38bdf8', true)], percentAxis);
    charts.memory = makeChart('chart-memory', [series('memory', '#34d399', true), series('swap', '#fbbf24')], percentAxis);
    charts.disk = makeChart('chart-disk', [series('read', '#60a5fa', true), series('write', '#f472b6', true)],
      { ticks: { color: '#7d8aa3', maxTicksLimit: 5, font: { size: 10 }, callback: (v) => `${v} MiB/s` } });
    charts.network = makeChart('chart-network', [series('received', '#2dd4bf', true), series('sent', '#a78bfa', true)],
      { ticks: { color: '#7d8aa3', maxTicksLimit: 5, font: { size: 10 }, callback: (v) => `${v} MiB/s` } });
  } else {
    banner('Chart.js is not installed on this node (Debian package libjs-chart.js): figures only, no charts.');
  }

  // What the charts show, oldest first: the stream's samples and, after a
  // (re)connect, telemetryd's history (docs/telemetry-stream.md#history),
  // at most HISTORY points. The range choice picks the tail that is drawn.
  const points = [];
  let range = Number(localStorage.getItem(RANGE_KEY));
  if (!RANGES.includes(range)) range = 900;
  const rangeSelect = $('range');
  rangeSelect.value = String(range);
  rangeSelect.addEventListener('change', () => {
    range = Number(rangeSelect.value);
    localStorage.setItem(RANGE_KEY, String(range));
    drawCharts();
  });

  const value = (v) => (typeof v === 'number' && isFinite(v) ? v : null);

  function drawCharts() {
    if (!haveCharts || !points.length) return;
    const from = points[points.length - 1].t - range * 1000;
    let first = points.length - 1;
    while (first > 0 && points[first - 1].t >= from) first -= 1;
    const shown = points.slice(first);
    const cores = shown.reduce((n, p) => Math.max(n, p.cores.length), 0);
    ensureCoreSeries(cores);
    const columns = {
      cpu: [(p) => p.cpu, ...Array.from({ length: charts.cpu.data.datasets.length - 1 }, (_, i) => (p) => p.cores[i])],
      memory: [(p) => p.memory, (p) => p.swap],
      disk: [(p) => p.diskRead, (p) => p.diskWrite],
      network: [(p) => p.netRecv, (p) => p.netSent],
    };
    for (const [name, cols] of Object.entries(columns)) {
      const chart = charts[name];
      chart.data.labels = shown.map((p) => p.label);
      cols.forEach((col, i) => { chart.data.datasets[i].data = shown.map((p) => value(col(p))); });
      chart.update('none');
    }
  }

  // Add points in any order; one at the same time as a point held (a
  // sample both streamed and in the history) is kept once.
  function addPoints(list) {
    for (const p of list) {
      if (!isFinite(p.t)) continue;
      let i = points.length;
      while (i > 0 && points[i - 1].t > p.t) i -= 1;
      if (i > 0 && Math.abs(points[i - 1].t - p.t) < 500) continue;
      if (i < points.length && Math.abs(points[i].t - p.t) < 500) continue;
      points.splice(i, 0, p);
    }
    if (points.length > HISTORY) points.splice(0, points.length - HISTORY);
    drawCharts();
  }

  function onHistory(h) {
    const ts = Array.isArray(h.timestamps) ? h.timestamps : [];
    const col = (name, i) => (Array.isArray(h[name]) ? h[name][i] : null);
    addPoints(ts.map((t, i) => ({
      t,
      label: clock(t),
      cpu: col('cpu_usage_percent', i),
      cores: col('cpu_per_core_percent', i) || [],
      memory: col('memory_usage_percent', i),
      swap: col('swap_usage_percent', i),
      diskRead: col('disk_read_mb_per_sec', i),
      diskWrite: col('disk_write_mb_per_sec', i),
      netRecv: col('bytes_recv_mb_per_sec', i),
      netSent: col('bytes_sent_mb_per_sec', i),
    })));
  }

  // Per-core lines join the CPU chart as cores are seen; a core that came
  // online later starts with gaps.
  function ensureCoreSeries(n) {
    const chart = charts.cpu;
    if (!chart) return;
    while (chart.data.datasets.length - 1 < n) {
      const i = chart.data.datasets.length - 1;
      const s = series(`cpu${i}`, CORE_COLORS[i % CORE_COLORS.length]);
      s.borderWidth = 1;
      s.borderDash = n > 8 ? [] : [3, 3];
      s.data = chart.data.labels.map(() => null);
      chart.data.datasets.push(s);
    }
  }

  // ---- samples -------------------------------------------------------------------

  let lastKey = '';
  let lastSampleAt = 0;
  const coreRows = [];

  function renderCores(cores) {
    const box = $('cores');
    while (coreRows.length < cores.length) {
      const row = el('div', 'core');
      const m = meter(0);
      const p = el('span', 'pct');
      row.append(el('span', 'id', `cpu${coreRows.length}`), m, p);
      box.append(row);
      coreRows.push({ row, m, p });
    }
    while (coreRows.length > cores.length) coreRows.pop().row.remove();
    cores.forEach((v, i) => { setMeter(coreRows[i].m, v); coreRows[i].p.textContent = pct(v); });
  }

  const gaugeRows = {};
  function gauges(id, list) {
    const box = $(id);
    list.forEach(([name, percent]) => {
      let g = gaugeRows[`${id}/${name}`];
      if (!g) {
        g = { row: el('div', 'gauge'), m: meter(0), p: el('span', 'pct') };
        g.row.append(el('span', 'id', name), g.m, g.p);
        box.append(g.row);
        gaugeRows[`${id}/${name}`] = g;
      }
      setMeter(g.m, percent || 0);
      g.p.textContent = percent === null ? 'none' : pct(percent);
    });
  }

  function facts(id, pairs) {
    const dl = $(id);
    dl.replaceChildren(...pairs.map(([k, v]) => {
      const d = el('div');
      d.append(el('dt', null, k), el('dd', null, v));
      return d;
    }));
  }

  function tableRows(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function barCell(percent) {
    const td = el('td');
    const wrap = el('div', 'cell-bar');
    wrap.append(meter(percent), el('span', null, pct(percent)));
    td.append(wrap);
    return td;
  }

  function onSample(s) {
    if (s && s.type === 'history') {
      onHistory(s);
      return;
    }
    const m = s && s.metrics;
    if (!m || !m.cpu) return;
    // A get_metrics answer within the same second may repeat the latest sample.
    const key = `${s.seq}|${s.timestamp}`;
    if (key === lastKey) return;
    lastKey = key;
    lastSampleAt = Date.now();
    const label = clock(s.timestamp);
    $('last-sample').textContent = `${s.seq !== undefined ? `#${s.seq} ` : ''}${label}`;

    const cpu = m.cpu;
    const cores = Array.isArray(cpu.cpu_per_core_percent) ? cpu.cpu_per_core_percent : [];
    const mem = m.memory || {};
    const io = (m.disk || {}).disk_io || {};
    const netNow = m.network || {};
    addPoints([{
      t: Date.parse(s.timestamp),
      label,
      cpu: cpu.cpu_usage_percent,
      cores,
      memory: mem.memory_usage_percent,
      swap: mem.swap_usage_percent,
      diskRead: io.read_mb_per_sec,
      diskWrite: io.write_mb_per_sec,
      netRecv: netNow.bytes_recv_mb_per_sec,
      netSent: netNow.bytes_sent_mb_per_sec,
    }]);
    $('cpu-now').textContent = pct(cpu.cpu_usage_percent);
    renderCores(cores);
    facts('cpu-facts', [
      ['load', `${num(cpu.load_avg_1min, 2)} ${num(cpu.load_avg_5min, 2)} ${num(cpu.load_avg_15min, 2)}`],
      ['cores', String(cpu.count || cores.length)],
      ...(cpu.frequency_mhz ? [['clock', `${num(cpu.frequency_mhz, 0)} MHz`]] : []),
      ...(s.interval ? [['interval', `${s.interval} s`]] : []),
    ]);

    $('mem-now').textContent = pct(mem.memory_usage_percent);
    gauges('mem-gauges', [['memory', mem.memory_usage_percent], ['swap', mem.swap_total_gb ? mem.swap_usage_percent : null]]);
    facts('mem-facts', [
      ['used', `${bytes(mem.memory_used_gb * GIB)} of ${bytes(mem.memory_total_gb * GIB)}`],
      ['available', bytes(mem.memory_available_gb * GIB)],
      ['swap', mem.swap_total_gb ? `${bytes(mem.swap_used_gb * GIB)} of ${bytes(mem.swap_total_gb * GIB)}` : 'none'],
    ]);

    const disk = m.disk || {};
    $('disk-now').textContent = `R ${rate(io.read_mb_per_sec)}  W ${rate(io.write_mb_per_sec)}`;
    facts('disk-facts', [
      ['IOPS', num((io.read_iops || 0) + (io.write_iops || 0), 0)],
      ['reads/s', num(io.read_iops, 0)],
      ['writes/s', num(io.write_iops, 0)],
    ]);
    const t = Date.parse(s.timestamp);
    const disks = Object.entries(disk.disks || {});
    tableRows($('disks').tBodies[0], disks.length ? disks.map(([name, d]) => {
      const tr = el('tr');
      const r = perSecond(`disk/${name}`, t, [d.read_bytes, d.write_bytes, (d.reads || 0) + (d.writes || 0)]);
      const n = el('td', null, name);
      n.title = `${bytes(d.read_bytes)} read, ${bytes(d.write_bytes)} written since boot`;
      tr.append(n, el('td', 'num', r ? rate(r[0] / 1048576) : '…'), el('td', 'num', r ? rate(r[1] / 1048576) : '…'),
        el('td', 'num', r ? num(r[2], 0) : '…'));
      return tr;
    }) : [emptyRow(4, 'no whole disks')]);
    const mounts = Object.entries(disk.disk_usage || {});
    tableRows($('mounts').tBodies[0], mounts.length ? mounts.map(([mount, u]) => {
      const tr = el('tr');
      const mp = el('td', null, mount);
      mp.title = mount;
      const dev = el('td', null, u.device || '—');
      dev.title = `${u.device || ''} ${u.file_system || ''}`.trim();
      tr.append(mp, dev, el('td', 'num', bytes(u.used_gb * GIB)), el('td', 'num', bytes(u.total_gb * GIB)), barCell(u.usage_percent));
      return tr;
    }) : [emptyRow(5, 'no block-device filesystems')]);

    const net = m.network || {};
    $('net-now').textContent = `↓ ${rate(net.bytes_recv_mb_per_sec)}  ↑ ${rate(net.bytes_sent_mb_per_sec)}`;
    facts('net-facts', [
      ['TCP connections', count(net.active_connections)],
      ['packets in', count(net.packets_recv)],
      ['packets out', count(net.packets_sent)],
    ]);
    const ifaces = Object.entries(net.interfaces || {});
    tableRows($('ifaces').tBodies[0], ifaces.length ? ifaces.map(([name, i]) => {
      const tr = el('tr');
      const r = perSecond(`net/${name}`, t, [i.bytes_recv, i.bytes_sent]);
      const n = el('td', null, name);
      n.title = `${bytes(i.bytes_recv)} received, ${bytes(i.bytes_sent)} sent since boot`;
      tr.append(n, el('td', 'num', r ? rate(r[0] / 1048576) : '…'), el('td', 'num', r ? rate(r[1] / 1048576) : '…'),
        el('td', 'num', count((i.errin || 0) + (i.errout || 0))));
      return tr;
    }) : [emptyRow(4, 'no interfaces but loopback')]);

    const procs = m.processes || {};
    $('proc-count').textContent = `${count(procs.process_count)} running`;
    const top = Array.isArray(procs.top_memory_processes) ? procs.top_memory_processes : [];
    tableRows($('procs').tBodies[0], top.length ? top.map((p) => {
      const tr = el('tr');
      const name = el('td', null, p.name || '—');
      name.title = p.name || '';
      // CPU as top counts it: percent of one CPU (docs/telemetry-stream.md).
      const cpu = el('td', 'num', typeof p.cpu_percent === 'number' ? `${p.cpu_percent.toFixed(1)} %` : '—');
      tr.append(el('td', 'num', String(p.pid)), el('td', null, p.username || '—'), name, cpu, barCell(p.memory_percent));
      return tr;
    }) : [emptyRow(5, 'no processes reported')]);
  }

  // Per-second rates of cumulative counters between this sample and the
  // one before (per disk, per interface: the sample carries only their
  // counters); null for the first, or after a counter went back.
  const lastCounters = new Map();
  function perSecond(key, t, values) {
    const prev = lastCounters.get(key);
    if (prev && t === prev.t) return prev.rates;
    const cur = { t, values, rates: null };
    lastCounters.set(key, cur);
    if (!prev || !(t > prev.t)) return null;
    const dt = (t - prev.t) / 1000;
    const rates = values.map((v, i) => (v >= prev.values[i] ? (v - prev.values[i]) / dt : null));
    if (rates.some((r) => r === null)) return null;
    cur.rates = rates;
    return rates;
  }

  function emptyRow(span, text) {
    const tr = el('tr');
    const td = el('td', 'empty', text);
    td.colSpan = span;
    tr.append(td);
    return tr;
  }

  // Between the stream's own samples, ask for one at the chosen pace.
  function askSample() {
    streams.telemetry.send({ command: 'get_metrics' });
  }

  let refreshTimer = null;
  function setRefresh() {
    clearInterval(refreshTimer);
    const seconds = Number($('refresh').value);
    if (!seconds) return;
    refreshTimer = setInterval(() => {
      if (Date.now() - lastSampleAt >= seconds * 900) askSample();
    }, seconds * 1000);
  }
  $('refresh').addEventListener('change', setRefresh);

  // ---- the live log ---------------------------------------------------------------

  const logBox = $('log');
  const entries = []; // { el, text } in order, at most LOG_LINES
  let filter = null;  // (text) => match or null
  let follow = true;

  function compileFilter(value) {
    const input = $('filter');
    input.classList.remove('invalid');
    if (!value) return null;
    const re = /^\/(.+)\/([a-z]*)$/.exec(value);
    if (re) {
      try {
        const rx = new RegExp(re[1], re[2].includes('i') ? 'i' : '');
        return (t) => { const m = rx.exec(t); return m && m[0] ? [m.index, m.index + m[0].length] : m ? [0, 0] : null; };
      } catch (_) {
        input.classList.add('invalid');
        return () => null;
      }
    }
    const needle = value.toLowerCase();
    return (t) => { const i = t.toLowerCase().indexOf(needle); return i < 0 ? null : [i, i + needle.length]; };
  }

  function paint(entry) {
    const match = filter ? filter(entry.text) : [0, 0];
    entry.el.hidden = !match;
    if (match && match[1] > match[0]) {
      entry.textEl.replaceChildren(entry.text.slice(0, match[0]),
        el('mark', null, entry.text.slice(match[0], match[1])), entry.text.slice(match[1]));
      entry.marked = true;
    } else if (entry.marked) {
      entry.textEl.textContent = entry.text;
      entry.marked = false;
    }
  }

  function updateCount() {
    const shown = filter ? entries.filter((e) => !e.el.hidden).length : entries.length;
    $('log-count').textContent = filter ? `${shown} of ${entries.length} lines` : `${entries.length} lines`;
  }

  // Scroll events that follow our own scrolling are not the operator's.
  let autoScrolledAt = 0;
  function toBottom() {
    autoScrolledAt = performance.now();
    logBox.scrollTop = logBox.scrollHeight;
  }

  let countPending = false;
  function scheduleCount() {
    if (countPending) return;
    countPending = true;
    requestAnimationFrame(() => { countPending = false; updateCount(); if (follow) toBottom(); });
  }

  function addLine(text, ts, cls) {
    const row = el('div', `line${cls ? ` ${cls}` : ''}`);
    const textEl = el('span', 'text', text);
    row.append(el('time', null, clock(ts)), textEl);
    const entry = { el: row, textEl, text };
    paint(entry);
    logBox.append(row);
    entries.push(entry);
    while (entries.length > LOG_LINES) entries.shift().el.remove();
    scheduleCount();
  }

  // seq counts the lines of one livelogd: a new one (another pid) counts afresh.
  let lastLogSeq = 0;
  let logPid = null;
  function onLogOpen(pid) {
    if (pid !== logPid) lastLogSeq = 0;
    logPid = pid;
  }

  function onLog(f) {
    if (f.type !== 'live_log') return;
    // A reconnect replays the backlog: lines already shown are skipped.
    if (typeof f.seq === 'number') {
      if (f.seq <= lastLogSeq) return;
      lastLogSeq = f.seq;
    }
    if (f.dropped) addLine(`— ${f.dropped} lines dropped: this view fell behind —`, f.timestamp, 'gap');
    const text = String(f.log);
    let cls = '';
    if (typeof f.priority === 'number') cls = f.priority <= 3 ? 'err' : f.priority === 4 ? 'warn' : '';
    else if (/\b(error|fail(ed|ure)?|fatal|crit(ical)?|panic)\b/i.test(text)) cls = 'err';
    else if (/\bwarn(ing)?\b/i.test(text)) cls = 'warn';
    addLine(text, f.timestamp, cls);
  }

  $('filter').addEventListener('input', (e) => {
    filter = compileFilter(e.target.value.trim());
    entries.forEach(paint);
    updateCount();
    if (follow) toBottom();
  });
  $('log-clear').addEventListener('click', () => {
    entries.splice(0).forEach((e) => e.el.remove());
    updateCount();
  });
  function setFollow(on) {
    follow = on;
    $('log-follow').setAttribute('aria-pressed', String(on));
    $('log-follow').textContent = on ? 'Following' : 'Paused';
    if (on) toBottom();
  }
  $('log-follow').addEventListener('click', () => setFollow(!follow));
  // Scrolling up to read pauses following; back at the bottom resumes it.
  logBox.addEventListener('scroll', () => {
    const atBottom = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 8;
    if (!atBottom && performance.now() - autoScrolledAt < 150) return;
    if (atBottom !== follow) setFollow(atBottom);
  });

  // ---- start ------------------------------------------------------------------------

  const streams = {
    telemetry: new Stream('telemetry', onSample),
    livelogs: new Stream('livelogs', onLog),
  };
  // The history first, so that the charts are full at once after a
  // reload; asked on the stream, which carries the token and needs no
  // cross-origin fetch.
  streams.telemetry.onOpen = () => {
    const since = points.length ? Math.floor(points[points.length - 1].t / 1000) : Math.floor(Date.now() / 1000) - 3600;
    streams.telemetry.send({ command: 'get_history', since });
    askSample();
  };
  streams.livelogs.onOpen = onLogOpen;

  setRefresh();
  refreshStatus();
  setInterval(refreshStatus, STATUS_EVERY_MS);
})();
