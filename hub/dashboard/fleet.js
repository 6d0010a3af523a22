// The hub's fleet dashboard (docs/fleet.md, "The fleet dashboard"): the
// node list live from the /api/v1/fleet WebSocket, a node's history from
// /api/v1/query, its latest sample from /api/v1/nodes/<id>/sample. No build
// step: this file is served as it is.
'use strict';

(() => {
  const { $, banner } = window.resolvix;
  const SPARK_POINTS = 60;          // the sparkline's last hour, at most
  const SPARK_WINDOW = 3600;        // seconds
  const NODES_REFRESH_MS = 15000;   // online state and last seen from /api/v1/nodes
  const CHART_POINTS = 600;         // per series; the hub caps at 11,000
  const SAMPLE_FIELDS_MAX = 400;    // a sample's rows shown on a node's page

  // ---- the token (common.js) -----------------------------------------------

  const auth = window.resolvix.tokenPrompt({
    key: 'resolvix-hub-token',
    asks: 'This hub asks for its token',
    setting: '[hub] token',
    label: 'hub token',
    onGiven: () => connect(true),
    onButton: () => refreshNodes(),
    missing: 'the hub asks for its token (the Token button)',
  });

  // GET a JSON answer of the hub, with the token (common.js).
  async function api(path) {
    const res = await auth.fetch(path, { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((body && body.message) || `${path}: HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  // ---- formatting -----------------------------------------------------------

  const pad = (n) => String(n).padStart(2, '0');
  const fixed = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
  const pct = (v) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(1)} %` : '—');
  function clock(t, long) {
    const d = new Date(t * 1000);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return long ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}` : hm;
  }
  function ago(ms) {
    if (!ms) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  // ---- the fleet ------------------------------------------------------------

  // node id → {id, hostname, kind, online, seen (ms), cpu, mem, load, spark: [[t, cpu]]}
  const nodes = new Map();
  let dirty = false;

  function node(id) {
    let n = nodes.get(id);
    if (!n) {
      n = { id, hostname: id, kind: 'resolvix', online: false, seen: 0, cpu: null, mem: null, load: null, spark: [] };
      nodes.set(id, n);
    }
    return n;
  }

  // A sample's headline figures, whatever kind of node sent it.
  function headline(kind, s) {
    const m = s && s.metrics;
    if (m) {
      return {
        cpu: m.cpu && m.cpu.cpu_usage_percent,
        mem: m.memory && m.memory.memory_usage_percent,
        load: m.cpu && m.cpu.load_avg_1min,
      };
    }
    if (kind === 'client') return { cpu: s.cpu !== undefined ? s.cpu : s.cpu_load, mem: s.mem, load: null };
    const st = s && s.stats;
    return {
      cpu: st && st.cpu && st.cpu.percent_used,
      mem: st && st.memory && st.memory.percent_used,
      load: null,
    };
  }

  function sampleTime(s) {
    const t = s && (s.timestamp || s.time);
    if (typeof t === 'number') return t * 1000;
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : Date.now();
  }

  function addSpark(n, t, v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const last = n.spark[n.spark.length - 1];
    if (last && t <= last[0]) return;
    n.spark.push([t, v]);
    const cut = t - SPARK_WINDOW;
    while (n.spark.length > SPARK_POINTS || (n.spark.length && n.spark[0][0] < cut)) n.spark.shift();
  }

  function fromNodes(list) {
    const seen = new Set();
    for (const j of list) {
      const n = node(j.node_id);
      seen.add(j.node_id);
      n.hostname = j.hostname || j.node_id;
      n.kind = j.kind;
      n.online = Boolean(j.online);
      n.seen = j.last_seen ? Date.parse(j.last_seen) : 0;
      if (j.latest) {
        n.cpu = j.latest.cpu_usage_percent !== undefined ? j.latest.cpu_usage_percent : n.cpu;
        n.mem = j.latest.memory_usage_percent !== undefined ? j.latest.memory_usage_percent
          : (j.latest.mem !== undefined ? j.latest.mem : n.mem);
        n.load = j.latest.load_avg_1min !== undefined ? j.latest.load_avg_1min : n.load;
      }
    }
    for (const id of [...nodes.keys()]) {
      if (!seen.has(id)) { // forgotten
        nodes.delete(id);
        rowEls.delete(id);
      }
    }
    dirty = true;
    if (route.id !== null && nodes.has(route.id)) nodeHeader(nodes.get(route.id));
  }

  function fromFrame(f) {
    if (!f || typeof f.node_id !== 'string' || !f.sample) return;
    const n = node(f.node_id);
    const h = headline(f.kind, f.sample);
    const t = sampleTime(f.sample);
    n.kind = f.kind || n.kind;
    if (t >= n.seen) {
      n.cpu = h.cpu; n.mem = h.mem; n.load = h.load;
      n.seen = t;
    }
    // The snapshot on connect holds the latest of nodes long gone too: only
    // a recent sample says the node is up.
    if (Date.now() - t < 90000) n.online = true;
    addSpark(n, t / 1000, h.cpu);
    dirty = true;
    if (route.id === f.node_id) showSample(f.sample, t);
  }

  let spinUp = null;
  async function refreshNodes() {
    try {
      fromNodes(await api('/api/v1/nodes'));
      banner('');
      if (!spinUp) spinUp = fillSparks();
      return true;
    } catch (err) {
      banner(err.status === 403 ? `${err.message}: open this page from the hub itself, or set [hub] token`
        : `Cannot list the nodes: ${err.message}`);
      return false;
    }
  }

  // The sparklines start full: the last hour of every node's CPU, one query.
  async function fillSparks() {
    const end = Math.floor(Date.now() / 1000);
    try {
      const q = await api(`/api/v1/query?node=*&metric=cpu.cpu_usage_percent&start=${end - SPARK_WINDOW}&end=${end}`
        + `&step=${SPARK_WINDOW / SPARK_POINTS}`);
      for (const s of q.series) {
        const n = nodes.get(s.node_id);
        if (!n) continue;
        const live = n.spark;
        n.spark = [];
        for (const [t, v] of s.points) addSpark(n, t, v);
        for (const [t, v] of live) addSpark(n, t, v);
      }
      dirty = true;
    } catch (err) {
      // Live points still come; the history only makes the start fuller.
    }
  }

  // ---- the fleet stream -----------------------------------------------------

  let ws = null;
  let retry = 1000;
  let retryTimer = null;

  function streamURL() {
    // Same origin: wss:// when the page came over https://.
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/api/v1/fleet${auth.query()}`;
  }

  function live(state) {
    $('live').dataset.state = state;
    $('live').textContent = state === 'live' ? 'live' : state === 'offline' ? 'stream offline' : 'connecting';
  }

  async function connect(force) {
    if (ws && !force) return;
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    clearTimeout(retryTimer);
    // A WebSocket refused at the handshake tells the page nothing: ask
    // the HTTP side first, which says 401 and gets the token.
    if (!(await refreshNodes())) { schedule(); return; }
    live('connecting');
    const sock = new WebSocket(streamURL());
    ws = sock;
    sock.onopen = () => { retry = 1000; live('live'); };
    sock.onmessage = (e) => {
      try { fromFrame(JSON.parse(e.data)); } catch (err) { /* one bad frame is not the stream */ }
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      live('offline');
      schedule();
    };
  }
  function schedule() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect(false), retry);
    retry = Math.min(retry * 2, 30000);
  }

  // ---- the list -------------------------------------------------------------

  let sortKey = 'name';
  let sortDesc = false;
  const SORTS = {
    name: (n) => n.hostname.toLowerCase(),
    online: (n) => (n.online ? 1 : 0),
    cpu: (n) => n.cpu,
    memory: (n) => n.mem,
    load: (n) => n.load,
    seen: (n) => n.seen,
  };

  function setSort(key, desc) {
    sortKey = key;
    sortDesc = desc;
    $('sort').value = key;
    $('sort-dir').textContent = sortDesc ? '↓ descending' : '↑ ascending';
    for (const b of document.querySelectorAll('.row.head button')) {
      if (b.dataset.sort === key) b.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
      else b.removeAttribute('aria-sort');
    }
    dirty = true;
    render();
  }
  $('sort').addEventListener('change', () => setSort($('sort').value, $('sort').value !== 'name'));
  $('sort-dir').addEventListener('click', () => setSort(sortKey, !sortDesc));
  for (const b of document.querySelectorAll('.row.head button')) {
    b.addEventListener('click', () => setSort(b.dataset.sort,
      b.dataset.sort === sortKey ? !sortDesc : b.dataset.sort !== 'name'));
  }
  $('filter').addEventListener('input', () => { dirty = true; render(); });

  function compare(a, b) {
    const f = SORTS[sortKey];
    let x = f(a);
    let y = f(b);
    // Nodes without the figure go last, whichever the direction.
    const xm = x === null || x === undefined;
    const ym = y === null || y === undefined;
    if (xm || ym) return xm === ym ? a.hostname.localeCompare(b.hostname) : (xm ? 1 : -1);
    if (sortDesc) [x, y] = [y, x];
    if (x < y) return -1;
    if (x > y) return 1;
    return a.hostname.localeCompare(b.hostname);
  }

  function matches(n, terms) {
    const hay = `${n.id} ${n.hostname} ${n.kind} ${n.online ? 'online' : 'offline'}`.toLowerCase();
    return terms.every((t) => hay.includes(t));
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function sparkline(points) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 100 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    if (points.length < 2) {
      svg.setAttribute('aria-label', 'no CPU history yet');
      return svg;
    }
    const t0 = points[0][0];
    const span = Math.max(1, points[points.length - 1][0] - t0);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.map(([t, v]) =>
      `${(((t - t0) / span) * 100).toFixed(1)},${(23 - (Math.min(100, Math.max(0, v)) / 100) * 22).toFixed(1)}`).join(' '));
    svg.appendChild(line);
    svg.setAttribute('aria-label', `CPU from ${fixed(points[0][1])} to ${fixed(points[points.length - 1][1])} %`);
    return svg;
  }

  function cell(cls) {
    const s = document.createElement('span');
    s.className = cls;
    s.setAttribute('role', 'cell');
    return s;
  }

  // Only what changed is written: a list of hundreds of nodes updated
  // several times a second keeps its elements, its scroll and its selection.
  function put(el, text, cls) {
    if (el.textContent !== text) el.textContent = text;
    if (cls !== undefined && el.className !== cls) el.className = cls;
  }

  const rowEls = new Map(); // node id → its row's elements
  function rowFor(n) {
    let r = rowEls.get(n.id);
    if (!r) {
      r = { a: document.createElement('a'), sparkKey: null };
      r.a.className = 'row node';
      r.a.setAttribute('role', 'row');
      r.a.href = `#/node/${encodeURIComponent(n.id)}`;
      r.name = cell('c-name');
      r.host = document.createElement('span');
      r.host.className = 'id';
      r.kind = document.createElement('span');
      r.kind.className = 'kind';
      r.name.append(r.host, r.kind);
      r.name.title = n.id;
      r.state = cell('c-state');
      r.cpu = cell('c-cpu num');
      r.mem = cell('c-mem num');
      r.load = cell('c-load num');
      r.spark = cell('c-spark');
      r.seen = cell('c-seen');
      r.a.append(r.name, r.state, r.cpu, r.mem, r.load, r.spark, r.seen);
      rowEls.set(n.id, r);
    }
    put(r.host, n.hostname);
    put(r.kind, n.hostname === n.id ? n.kind : `${n.id} · ${n.kind}`);
    put(r.state, n.online ? 'online' : 'offline', `c-state ${n.online ? 'state-on' : 'state-off'}`);
    put(r.cpu, pct(n.cpu), `c-cpu num${n.cpu > 90 ? ' hot' : ''}`);
    put(r.mem, pct(n.mem), `c-mem num${n.mem > 90 ? ' hot' : ''}`);
    put(r.load, fixed(n.load, 2));
    put(r.seen, ago(n.seen));
    const last = n.spark[n.spark.length - 1];
    const key = last ? `${n.spark.length}:${last[0]}:${last[1]}` : '';
    if (r.sparkKey !== key) {
      r.spark.replaceChildren(sparkline(n.spark));
      r.sparkKey = key;
    }
    return r.a;
  }

  function render() {
    if (!dirty || route.id !== null) return;
    dirty = false;
    const terms = $('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
    const all = [...nodes.values()];
    const shown = all.filter((n) => matches(n, terms)).sort(compare);
    const want = shown.map(rowFor);
    const keep = new Set(want);
    const box = $('rows');
    for (const el of [...box.children]) if (!keep.has(el)) el.remove();
    // Moved into order, not made again.
    let at = box.firstElementChild;
    for (const el of want) {
      if (el === at) at = at.nextElementSibling;
      else box.insertBefore(el, at);
    }
    $('empty').hidden = shown.length > 0 || all.length === 0;
    $('count').textContent = terms.length ? `${shown.length} of ${all.length} nodes` : `${all.length} nodes`;
    const online = all.filter((n) => n.online).length;
    $('summary').textContent = `${all.length} nodes · ${online} online · ${all.length - online} offline`;
  }
  setInterval(render, 500);
  // "5 s ago" moves on by itself.
  setInterval(() => { dirty = true; }, 5000);
  setInterval(refreshNodes, NODES_REFRESH_MS);

  // ---- a node's page --------------------------------------------------------

  const route = { id: null };
  const view = { range: 3600, start: null, end: null }; // start/end set when zoomed
  let charts = [];
  let loadSerial = 0;

  const CHARTS = {
    resolvix: [
      { title: 'CPU', unit: '%', max: 100, series: [['cpu.cpu_usage_percent', 'CPU']] },
      { title: 'Memory', unit: '%', max: 100, series: [['memory.memory_usage_percent', 'memory'], ['memory.swap_usage_percent', 'swap']] },
      { title: 'Load', unit: '', series: [['cpu.load_avg_1min', '1 min'], ['cpu.load_avg_5min', '5 min'], ['cpu.load_avg_15min', '15 min']] },
      { title: 'Disk I/O', unit: 'MB/s', series: [['disk.disk_io.read_mb_per_sec', 'read'], ['disk.disk_io.write_mb_per_sec', 'write']] },
      { title: 'Network', unit: 'MB/s', series: [['network.bytes_recv_mb_per_sec', 'received'], ['network.bytes_sent_mb_per_sec', 'sent']] },
    ],
    client: [
      { title: 'CPU', unit: '%', series: [['cpu', 'cpu']] },
      { title: 'Memory', unit: '%', series: [['mem', 'mem']] },
      { title: 'Storage', unit: '%', series: [['storage', 'storage']] },
    ],
  };
  const COLORS = ['#38bdf8', '#a78bfa', '#f59e0b', '#34d399', '#f87171'];

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  function restyle(chart) {
    const text = css('--muted');
    const grid = css('--line');
    for (const axis of Object.values(chart.options.scales)) {
      axis.ticks.color = text;
      axis.grid.color = grid;
    }
    chart.options.plugins.legend.labels.color = text;
    chart.update('none');
  }

  function windowOf() {
    const end = view.end !== null ? view.end : Math.floor(Date.now() / 1000);
    const start = view.start !== null ? view.start : end - view.range;
    return { start, end };
  }

  function makeChart(def) {
    const card = document.createElement('section');
    card.className = 'card';
    const h = document.createElement('h2');
    const fig = document.createElement('span');
    fig.className = 'figure';
    h.append(`${def.title} `, fig);
    const box = document.createElement('div');
    box.className = 'chart';
    const canvas = document.createElement('canvas');
    canvas.setAttribute('aria-label', `${def.title} over the chosen range`);
    const sel = document.createElement('div');
    sel.className = 'selection';
    sel.hidden = true;
    const nodata = document.createElement('div');
    nodata.className = 'nodata';
    nodata.textContent = 'loading…';
    box.append(canvas, sel, nodata);
    card.append(h, box);
    $('charts').appendChild(card);
    const chart = new Chart(canvas, {
      type: 'line',
      data: {
        datasets: def.series.map(([, label], i) => ({
          label, data: [], borderColor: COLORS[i], backgroundColor: COLORS[i], borderWidth: 1.5,
          pointRadius: 0, tension: 0, spanGaps: false,
        })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'linear', ticks: { maxTicksLimit: 6, callback: (v) => clock(v, windowOf().end - windowOf().start > 86400) }, grid: {} },
          y: { beginAtZero: true, suggestedMax: def.max, ticks: { maxTicksLimit: 5 }, grid: {} },
        },
        plugins: {
          legend: { display: def.series.length > 1, labels: { boxWidth: 10 } },
          tooltip: { callbacks: { title: (items) => items.length ? clock(items[0].parsed.x, true) : '' } },
        },
      },
    });
    restyle(chart);
    const c = { def, chart, fig, nodata, box, sel };
    dragZoom(c, canvas);
    return c;
  }

  // Zoom without a plugin: a drag across the plot selects a time span, and
  // the charts load that span again at a finer step.
  function dragZoom(c, canvas) {
    let from = null;
    const px = (e) => {
      const r = canvas.getBoundingClientRect();
      const area = c.chart.chartArea;
      return Math.min(area.right, Math.max(area.left, e.clientX - r.left));
    };
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      from = px(e);
      canvas.setPointerCapture(e.pointerId);
      c.sel.style.left = `${from}px`;
      c.sel.style.width = '0px';
      c.sel.hidden = false;
    });
    canvas.addEventListener('pointermove', (e) => {
      if (from === null) return;
      const to = px(e);
      c.sel.style.left = `${Math.min(from, to)}px`;
      c.sel.style.width = `${Math.abs(to - from)}px`;
    });
    const end = (e) => {
      if (from === null) return;
      const to = px(e);
      const a = Math.min(from, to);
      const b = Math.max(from, to);
      from = null;
      c.sel.hidden = true;
      if (b - a < 6) return; // a click, not a drag
      const x = c.chart.scales.x;
      const t0 = Math.floor(x.getValueForPixel(a));
      const t1 = Math.ceil(x.getValueForPixel(b));
      if (t1 - t0 < 10) return;
      view.start = t0;
      view.end = t1;
      loadCharts();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', () => { from = null; c.sel.hidden = true; });
  }

  async function loadCharts() {
    const serial = ++loadSerial;
    const { start, end } = windowOf();
    // At most CHART_POINTS per series, and never finer than a second.
    const step = Math.max(1, Math.ceil((end - start) / CHART_POINTS));
    const zoomed = view.start !== null;
    $('zoom-reset').hidden = !zoomed;
    $('window').textContent = `${clock(start, true)} → ${clock(end, true)} · step ${step} s`;
    const id = encodeURIComponent(route.id);
    await Promise.all(charts.map(async (c) => {
      try {
        const answers = await Promise.all(c.def.series.map(([metric]) =>
          api(`/api/v1/query?node=${id}&metric=${encodeURIComponent(metric)}&start=${start}&end=${end}&step=${step}`)));
        if (serial !== loadSerial) return;
        let n = 0;
        answers.forEach((q, i) => {
          const pts = (q.series[0] && q.series[0].points) || [];
          n += pts.length;
          c.chart.data.datasets[i].data = pts.map(([t, v]) => ({ x: t, y: v }));
        });
        c.chart.options.scales.x.min = start;
        c.chart.options.scales.x.max = end;
        c.chart.update('none');
        const last = answers[0].series[0] && answers[0].series[0].points.slice(-1)[0];
        c.fig.textContent = last ? `${fixed(last[1], c.def.unit === '%' ? 1 : 2)}${c.def.unit ? ` ${c.def.unit}` : ''}` : '';
        c.nodata.textContent = n ? '' : 'no data in this range';
        c.nodata.hidden = n > 0;
      } catch (err) {
        if (serial !== loadSerial) return;
        c.nodata.hidden = false;
        c.nodata.textContent = err.message;
      }
    }));
  }

  $('range').addEventListener('change', () => {
    view.range = Number($('range').value);
    view.start = view.end = null;
    loadCharts();
  });
  $('zoom-reset').addEventListener('click', () => {
    view.start = view.end = null;
    loadCharts();
  });

  // The latest full sample, as path = value lines, whatever its shape.
  function flatten(v, path, out) {
    if (out.length >= SAMPLE_FIELDS_MAX) return;
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v).map(([k, x]) => [`.${k}`, x]);
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
        out.push([path, v.map((x) => fixed(x, 1)).join('  ')]);
        return;
      }
      for (const [k, x] of entries) flatten(x, path ? `${path}${k}` : k.replace(/^\./, ''), out);
      return;
    }
    out.push([path, typeof v === 'number' ? String(v) : String(v)]);
  }

  let shownSample = null;
  function showSample(s, t) {
    // The fleet stream repeats a node's latest on every reconnect: the same
    // sample is not drawn again under the reader's eyes.
    if (shownSample && shownSample.id === route.id && shownSample.t >= t) return;
    shownSample = { id: route.id, t };
    const sample = s.metrics ? s.metrics : s;
    const out = [];
    flatten(sample, '', out);
    const frag = document.createDocumentFragment();
    for (const [k, v] of out) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      frag.append(dt, dd);
    }
    $('sample').replaceChildren(frag);
    $('sample-when').textContent = `${s.timestamp || new Date(t).toISOString()} · ${ago(t)}`;
  }

  async function openNode(id) {
    $('fleet-view').hidden = true;
    $('node-view').hidden = false;
    // Opened from a link before the list came: the kind picks the charts.
    if (!nodes.has(id)) await refreshNodes();
    if (route.id !== id) return;
    const n = nodes.get(id) || { id, hostname: id, kind: 'resolvix', online: false, seen: 0 };
    nodeHeader(n);
    for (const c of charts) c.chart.destroy();
    charts = [];
    $('charts').replaceChildren();
    for (const def of CHARTS[n.kind] || CHARTS.resolvix) charts.push(makeChart(def));
    view.start = view.end = null;
    view.range = Number($('range').value);
    loadCharts();
    $('sample').replaceChildren();
    shownSample = null;
    $('sample-when').textContent = 'loading…';
    try {
      const s = await api(`/api/v1/nodes/${encodeURIComponent(id)}/sample`);
      if (route.id === id) showSample(s, sampleTime(s));
    } catch (err) {
      if (route.id === id) $('sample-when').textContent = err.message;
    }
  }

  function nodeHeader(n) {
    const id = n.id;
    $('node-title').textContent = n.hostname === id ? id : `${n.hostname} (${id})`;
    $('node-state').textContent = n.online ? 'online' : 'offline';
    $('node-state').className = `state ${n.online ? 'state-on' : 'state-off'}`;
    $('node-seen').textContent = `last seen ${ago(n.seen)}`;
    // The node's own dashboard is controld's, on the node (docs/control-api.md);
    // reachable only where controld listens beyond loopback.
    const link = $('node-link');
    link.hidden = n.kind !== 'resolvix';
    link.href = `http://${n.hostname.includes(':') ? `[${n.hostname}]` : n.hostname}:8754/`;
    link.title = 'controld on the node; it must listen on an address this browser reaches';
  }

  function onRoute() {
    const m = location.hash.match(/^#\/node\/(.+)$/);
    route.id = m ? decodeURIComponent(m[1]) : null;
    if (route.id !== null) {
      openNode(route.id);
      return;
    }
    for (const c of charts) c.chart.destroy();
    charts = [];
    $('node-view').hidden = true;
    $('fleet-view').hidden = false;
    dirty = true;
    render();
  }
  window.addEventListener('hashchange', onRoute);

  // The theme and its toggle (common.js); a change recolours the charts.
  window.resolvix.theme(() => {
    for (const c of charts) restyle(c.chart);
  });
  setSort('name', false);
  onRoute();
  connect(false);
})();
