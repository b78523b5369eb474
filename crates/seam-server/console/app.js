// The Seam console: a single-page app over /console/api (docs/console.md). No framework, no build
// step, nothing fetched from elsewhere. It runs under a strict CSP, so there is no inline code and
// no innerHTML: every string from the server reaches the page through textContent or an attribute.

const API = '/console/api';
const WINDOWS = ['24h', '7d', '30d', '365d'];
const state = { session: null, window: readWindow(), audit: {}, seq: 0 };

function readWindow() {
  try {
    const w = localStorage.getItem('seam.window');
    return WINDOWS.includes(w) ? w : '24h';
  } catch {
    return '24h';
  }
}

// ---- DOM helpers ----------------------------------------------------------------------------

function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  setProps(e, props);
  for (const k of kids.flat()) if (k != null && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, props, ...kids) {
  const e = document.createElementNS(SVG_NS, tag);
  setProps(e, props);
  for (const k of kids.flat()) if (k != null && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

function setProps(e, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

const fmt = {
  int: (n) => (n == null ? '—' : Math.round(n).toLocaleString('en-US')),
  compact: (n) =>
    n == null ? '—' : new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n),
  usd: (n) => {
    if (n == null) return '—';
    if (n !== 0 && Math.abs(n) < 1) return '$' + n.toFixed(4);
    return '$' + n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  },
  ms: (n) => (n == null ? '—' : n >= 1000 ? (n / 1000).toFixed(2) + ' s' : Math.round(n) + ' ms'),
  usdAxis: (n) => (n === 0 ? '$0' : n < 0.01 ? '$' + n.toFixed(4) : n < 10 ? '$' + n.toFixed(2) : '$' + fmt.compact(n)),
  pct: (n) => (n == null || Number.isNaN(n) ? '—' : (n * 100).toFixed(1) + '%'),
  time: (t) => {
    const d = toDate(t);
    return d ? d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }) : '—';
  },
};

function toDate(t) {
  if (t == null || t === '') return null;
  const d = new Date(typeof t === 'number' ? t : Date.parse(t));
  return Number.isNaN(d.getTime()) ? null : d;
}

function tickLabel(t, spanMs) {
  const d = new Date(t);
  if (spanMs <= 2 * 86400e3) return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
}

function card(title, ...extra) {
  const body = h('div', { class: 'card-body' });
  const e = h('section', { class: 'card' }, h('header', { class: 'card-head' }, h('h2', { text: title }), extra), body);
  e.body = body;
  return e;
}

function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || 'neutral'), text });
}

function empty(text) {
  return h('p', { class: 'empty', text: text || 'Nothing in this window yet.' });
}

function table(cols, rows, onRow) {
  const head = h('tr', null, cols.map((c) => h('th', { class: c.num ? 'num' : null, text: c.label })));
  const body = rows.map((r) => {
    const tr = h('tr', { class: onRow ? 'clickable' : null },
      cols.map((c) => {
        const v = c.get(r);
        return h('td', { class: c.num ? 'num' : null }, v instanceof Node ? v : v == null ? '—' : String(v));
      }));
    if (onRow) tr.addEventListener('click', (ev) => { if (!ev.target.closest('a,button,input')) onRow(r); });
    return tr;
  });
  return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, head), h('tbody', null, body)));
}

function statusKind(status) {
  if (status == null) return 'neutral';
  if (status >= 500) return 'bad';
  if (status >= 400) return 'warn';
  return 'good';
}

function sum(xs) {
  return xs.reduce((a, b) => a + (b || 0), 0);
}

// ---- the API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { accept: 'application/json' };
  if (method !== 'GET' && state.session) headers['x-seam-csrf'] = state.session.csrf;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(API + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'Seam did not answer (' + e.message + ').');
  }
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    const err = (data && data.error) || {};
    if (r.status === 401 && path !== '/session') {
      state.session = null;
      signIn('Your session has ended. Sign in again.');
    }
    throw new ApiError(r.status, err.code || 'http_' + r.status, err.message || 'Seam answered ' + r.status + '.');
  }
  return data;
}

// ---- charts -------------------------------------------------------------------------------------

const tip = h('div', { class: 'tip', role: 'status' });

function showTip(ev, lines) {
  tip.replaceChildren(...lines.map((l, i) => h('div', { class: i === 0 ? 'tip-head' : 'tip-row' }, l)));
  tip.classList.add('on');
  const pad = 14;
  const w = tip.offsetWidth;
  const x = ev.clientX + pad + w > window.innerWidth ? ev.clientX - pad - w : ev.clientX + pad;
  tip.style.left = Math.max(4, x) + 'px';
  tip.style.top = Math.max(4, ev.clientY - 10) + 'px';
}

function hideTip() {
  tip.classList.remove('on');
}

// The top of a y axis: a round number at or above `v`. Counts (every value whole) get a top
// whose four ticks are whole too: 1 request is drawn against 0–4, not against 0.25 steps.
function niceMax(v, whole = false) {
  if (whole) {
    for (const top of [4, 8, 12]) if (v <= top) return top;
  }
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function legend(series) {
  return h('div', { class: 'legend' },
    series.map((sr, i) => h('span', null, h('i', { class: 'sw c' + (sr.color ?? i) }), sr.name)));
}

// The frame every x/y chart shares: axes, grid, y ticks and a hover overlay that reports the
// index under the pointer.
function frame(host, { labels, yMax, fmtY, height = 200, onHover }) {
  const W = Math.max(280, host.clientWidth || 560);
  const H = height;
  const m = { l: 52, r: 10, t: 10, b: 24 };
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img' });
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const y = (v) => m.t + ih - (v / yMax) * ih;
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    svg.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
    svg.append(s('text', { class: 'axis', x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtY(v)));
  }
  const n = labels.length;
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(iw / 80))));
  const g = { svg, W, H, m, iw, ih, y, n };
  g.xCenter = (i) => m.l + (n <= 1 ? iw / 2 : (i * iw) / (n - 1));
  g.labelAt = (x, i) => {
    if (i % every === 0) svg.append(s('text', { class: 'axis', x, y: H - 6, 'text-anchor': 'middle' }, labels[i]));
  };
  if (onHover) {
    const guide = s('line', { class: 'guide', y1: m.t, y2: m.t + ih, x1: 0, x2: 0, visibility: 'hidden' });
    const overlay = s('rect', { class: 'overlay', x: m.l, y: m.t, width: iw, height: ih });
    overlay.addEventListener('mousemove', (ev) => {
      const r = svg.getBoundingClientRect();
      const px = ((ev.clientX - r.left) * W) / r.width;
      const i = g.indexAt(px);
      if (i < 0 || i >= n) return hideTip();
      const gx = g.xCenter(i);
      guide.setAttribute('x1', gx);
      guide.setAttribute('x2', gx);
      guide.setAttribute('visibility', 'visible');
      showTip(ev, onHover(i));
    });
    overlay.addEventListener('mouseleave', () => {
      guide.setAttribute('visibility', 'hidden');
      hideTip();
    });
    g.finish = () => svg.append(guide, overlay);
  } else {
    g.finish = () => {};
  }
  return g;
}

// Lines (or areas) over time; `null` values leave gaps.
function lineChart(host, { times, series, fmtY = fmt.compact, fmtTip = fmtY, area = false, height }) {
  if (!times.length) return host.append(empty());
  const span = times[times.length - 1] - times[0];
  const labels = times.map((t) => tickLabel(t, span));
  const all = series.flatMap((sr) => sr.values.filter((v) => v != null));
  const yMax = niceMax(Math.max(0, ...all), fmtY === fmt.compact && all.every(Number.isInteger));
  const g = frame(host, {
    labels, yMax, fmtY, height,
    onHover: (i) => [fmt.time(times[i]), ...series.map((sr, k) =>
      h('span', null, h('i', { class: 'sw c' + (sr.color ?? k) }), `${sr.name}: ${fmtTip(sr.values[i])}`))],
  });
  g.indexAt = (px) => Math.round(((px - g.m.l) / g.iw) * (g.n - 1 || 1));
  times.forEach((_, i) => g.labelAt(g.xCenter(i), i));
  series.forEach((sr, k) => {
    let line = '';
    let fill = '';
    const dots = [];
    let seg = [];
    const flush = () => {
      if (!seg.length) return;
      const pts = seg.map(([x, v]) => `${x.toFixed(1)},${g.y(v).toFixed(1)}`).join('L');
      const base = g.y(0).toFixed(1);
      line += 'M' + pts;
      // A lone point (its neighbours empty) would draw nothing as a path.
      if (seg.length === 1) dots.push(seg[0]);
      fill += `M${seg[0][0].toFixed(1)},${base}L${pts}L${seg[seg.length - 1][0].toFixed(1)},${base}Z`;
      seg = [];
    };
    sr.values.forEach((v, i) => (v == null ? flush() : seg.push([g.xCenter(i), v])));
    flush();
    const c = 'c' + (sr.color ?? k);
    if (area) g.svg.append(s('path', { class: 'area ' + c, d: fill }));
    g.svg.append(s('path', { class: 'line ' + c, d: line }));
    for (const [x, v] of dots) g.svg.append(s('circle', { class: 'dot ' + c, cx: x.toFixed(1), cy: g.y(v).toFixed(1), r: 3 }));
  });
  g.finish();
  host.append(legend(series), g.svg);
}

// Columns, stacked when there are several series; `labels` name each column.
function columnChart(host, { labels, tipLabels, series, fmtY = fmt.compact, height }) {
  if (!labels.length) return host.append(empty());
  const totals = labels.map((_, i) => sum(series.map((sr) => sr.values[i])));
  const yMax = niceMax(Math.max(0, ...totals), fmtY === fmt.compact && totals.every(Number.isInteger));
  const g = frame(host, {
    labels, yMax, fmtY, height,
    onHover: (i) => [(tipLabels || labels)[i], ...series.map((sr, k) =>
      h('span', null, h('i', { class: 'sw c' + (sr.color ?? k) }), `${sr.name}: ${fmtY(sr.values[i] || 0)}`))],
  });
  const bw = g.iw / g.n;
  g.xCenter = (i) => g.m.l + bw * (i + 0.5);
  g.indexAt = (px) => Math.floor((px - g.m.l) / bw);
  labels.forEach((_, i) => {
    let acc = 0;
    series.forEach((sr, k) => {
      const v = sr.values[i] || 0;
      if (v <= 0) return;
      const y0 = g.y(acc);
      acc += v;
      const y1 = g.y(acc);
      g.svg.append(s('rect', {
        class: 'bar c' + (sr.color ?? k), x: (g.m.l + bw * i + bw * 0.12).toFixed(1), y: y1.toFixed(1),
        width: Math.max(1, bw * 0.76).toFixed(1), height: Math.max(0.5, y0 - y1).toFixed(1),
      }));
    });
    g.labelAt(g.xCenter(i), i);
  });
  g.finish();
  if (series.length > 1) host.append(legend(series));
  host.append(g.svg);
}

// Horizontal bars as HTML rows (they wrap and scale with the page better than SVG text).
function bars(items, { label, value, fmtV = fmt.int, sub, color = 0 }) {
  if (!items.length) return empty();
  const max = Math.max(...items.map(value), 0) || 1;
  return h('div', { class: 'bars' }, items.map((it) => {
    const fill = h('span', { class: 'fill c' + color });
    fill.style.width = ((value(it) / max) * 100).toFixed(1) + '%';
    return h('div', { class: 'bar-row' },
      h('span', { class: 'bar-label', title: label(it) }, label(it), sub ? h('small', null, sub(it)) : null),
      h('span', { class: 'track' }, fill),
      h('span', { class: 'bar-value', text: fmtV(value(it)) }));
  }));
}

function sparkline(values) {
  const W = 120;
  const H = 30;
  const vs = values.map((v) => v || 0);
  if (vs.length < 2) return null;
  const max = Math.max(...vs) || 1;
  const pts = vs.map((v, i) => `${((i * W) / (vs.length - 1)).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`);
  return s('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    s('polyline', { points: pts.join(' ') }));
}

// A bar 0..100% with its used share (budgets) or its interval whisker (pass rates).
function meter(frac, { lo, hi, budget } = {}) {
  const W = 160;
  const H = 16;
  const x = (v) => Math.max(0, Math.min(1, v)) * W;
  const cls = !budget ? '' : frac > 1 ? 'over' : frac > 0.8 ? 'high' : '';
  const svg = s('svg', { class: 'meter ' + cls, viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img' },
    s('rect', { class: 'meter-track', x: 0, y: 4, width: W, height: 8, rx: 4 }),
    s('rect', { class: 'meter-fill', x: 0, y: 4, width: x(frac), height: 8, rx: 4 }));
  if (lo != null && hi != null) {
    svg.append(s('path', { class: 'whisker', d: `M${x(lo)},8H${x(hi)}M${x(lo)},3V13M${x(hi)},3V13` }));
  }
  svg.append(s('title', null, lo != null ? `${fmt.pct(frac)} (95% interval ${fmt.pct(lo)}–${fmt.pct(hi)})` : fmt.pct(frac)));
  return svg;
}

function tile(label, value, series, note) {
  return h('div', { class: 'tile' },
    h('div', { class: 'tile-label', text: label }),
    h('div', { class: 'tile-value', text: value }),
    note ? h('div', { class: 'tile-note', text: note }) : null,
    series ? sparkline(series) : null);
}

function chainBadge(chain) {
  const st = (chain && chain.status) || 'unknown';
  const kinds = { ok: 'good', broken: 'bad', running: 'info', unknown: 'neutral' };
  const words = { ok: 'Audit chain intact', broken: 'Audit chain broken', running: 'Verifying audit chain', unknown: 'Audit chain not verified' };
  const b = badge(words[st] || st, kinds[st]);
  if (chain && chain.checked) b.title = 'Checked ' + fmt.time(chain.checked) + ' · ' + fmt.int(chain.records) + ' records';
  return b;
}

// ---- sign-in and the shell ------------------------------------------------------------------

const app = () => document.getElementById('app');

function signIn(message) {
  const key = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'current-password', required: true, placeholder: 'Admin key or a console key' });
  const msg = h('p', { class: message ? 'form-error' : 'hint', role: 'alert', text: message || 'Use the [admin] key, or an API key whose scope allows the console (read-only).' });
  const btn = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'signin-form', novalidate: true },
    h('div', { class: 'brand big' }, logo(), h('span', { text: 'Seam' })),
    h('h1', { text: 'Sign in to the console' }),
    h('label', { for: 'key', text: 'Key' }), key, msg, btn);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    try {
      state.session = await api('/session', { method: 'POST', body: { key: key.value } });
      key.value = '';
      shell();
      route();
    } catch (e) {
      msg.className = 'form-error';
      msg.textContent = e.status === 401 ? 'That key is not accepted here.'
        : e.status === 429 ? 'Too many attempts. Wait a minute and try again.' : e.message;
      btn.disabled = false;
      btn.textContent = 'Sign in';
      key.select();
    }
  });
  app().replaceChildren(h('main', { class: 'signin' }, form));
  key.focus();
}

function logo() {
  return s('svg', { class: 'logo', viewBox: '0 0 32 32', 'aria-hidden': 'true' },
    s('rect', { width: 32, height: 32, rx: 7 }),
    s('path', { d: 'M9 11.5c0-2 1.8-3.5 4.5-3.5H23M23 20.5c0 2-1.8 3.5-4.5 3.5H9M9 16h14' }));
}

const NAV = [
  ['overview', 'Overview'], ['spend', 'Spend & limits'], ['routes', 'Routes'], ['policy', 'Policy'],
  ['audit', 'Audit trail'], ['keys', 'Keys'], ['evals', 'Evals'], ['reports', 'Reports'],
];

function shell() {
  const ss = state.session;
  const out = h('button', { type: 'button', class: 'ghost', id: 'signout', text: 'Sign out' });
  out.addEventListener('click', async () => {
    try {
      await api('/session', { method: 'DELETE' });
    } catch {
      // Signed out either way: the cookie is useless without the page's token.
    }
    state.session = null;
    signIn('Signed out.');
  });
  const picker = h('div', { class: 'windows', role: 'group', 'aria-label': 'Time window' },
    WINDOWS.map((w) => h('button', {
      type: 'button', 'data-window': w, 'aria-pressed': String(w === state.window), text: w,
      onclick: () => {
        state.window = w;
        try { localStorage.setItem('seam.window', w); } catch { /* private mode */ }
        picker.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.window === w)));
        route();
      },
    })));
  app().replaceChildren(h('div', { class: 'layout' },
    h('aside', { class: 'side' },
      h('div', { class: 'brand' }, logo(), h('span', { text: 'Seam' })),
      h('nav', null, NAV.map(([id, label]) => h('a', { href: '#/' + id, 'data-page': id, text: label }))),
      h('div', { class: 'who' },
        h('div', { class: 'who-name', text: ss.name }),
        badge(ss.role, ss.role === 'admin' ? 'info' : 'neutral'),
        ss.open ? h('div', { class: 'hint', text: 'Open mode: no admin key is set.' }) : null,
        out)),
    h('main', { class: 'main' },
      h('header', { class: 'top' }, h('h1', { id: 'title' }), h('div', { class: 'tools' }, h('span', { id: 'chain' }), picker)),
      h('div', { id: 'page' }))), tip);
}

const isAdmin = () => state.session && state.session.role === 'admin';

// ---- routing ----------------------------------------------------------------------------------

const PAGES = {
  overview: { title: 'Overview', windowed: true, render: overview },
  spend: { title: 'Spend & limits', windowed: true, render: spend },
  routes: { title: 'Routes', render: routes },
  policy: { title: 'Policy', windowed: true, render: policy },
  audit: { title: 'Audit trail', render: audit },
  keys: { title: 'Keys', render: keys },
  evals: { title: 'Evals', render: evals },
  reports: { title: 'Reports', render: reports },
};

function route() {
  if (!state.session) return signIn();
  if (!document.getElementById('page')) shell();
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  let name = parts[0];
  const arg = parts[1] ? decodeURIComponent(parts.slice(1).join('/')) : null;
  if (!PAGES[name]) {
    name = 'overview';
    history.replaceState(null, '', '#/overview');
  }
  const page = PAGES[name];
  document.title = page.title + ' · Seam console';
  document.getElementById('title').textContent = page.title;
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name));
  document.querySelector('.windows').hidden = !page.windowed;
  document.getElementById('chain').replaceChildren();
  const seq = ++state.seq;
  const live = () => seq === state.seq && state.session;
  const root = h('div', { class: 'page', 'data-page': name, 'data-route': location.hash, 'aria-busy': 'true' }, h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…'));
  document.getElementById('page').replaceChildren(root);
  hideTip();
  page.render(root, arg, live)
    .then(() => root.setAttribute('aria-busy', 'false'))
    .catch((e) => {
      if (!live() || e.status === 401) return;
      root.setAttribute('aria-busy', 'false');
      fill(root, errorBox(e));
    });
}

function errorBox(e) {
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', { text: 'Could not load this page. ' }), e.message, e.code ? h('code', { text: ' ' + e.code }) : null);
}

// Runs an action from a form, showing its error beside it.
async function act(msgEl, fn) {
  msgEl.textContent = '';
  msgEl.className = 'form-msg';
  try {
    await fn();
  } catch (e) {
    if (e.status === 401) return;
    msgEl.className = 'form-error';
    msgEl.textContent = e.message;
  }
}

// ---- pages ----------------------------------------------------------------------------------

async function overview(root, _arg, live) {
  const d = await api('/overview?window=' + state.window);
  if (!live()) return;
  const t = d.totals || {};
  const series = d.series || [];
  const times = series.map((p) => p.t);
  const col = (k) => series.map((p) => (p[k] == null ? null : p[k]));
  document.getElementById('chain').replaceChildren(chainBadge(d.chain));
  const traffic = card('Requests and errors');
  const latency = card('Latency');
  const tokens = card('Tokens');
  const cost = card('Spend');
  fill(root, 
    h('div', { class: 'tiles' },
      tile('Requests', fmt.int(t.requests), col('requests')),
      tile('Errors', fmt.int(t.errors), col('errors'), t.requests ? fmt.pct(t.errors / t.requests) + ' of requests' : null),
      tile('Latency p95', fmt.ms(t.p95_ms), col('p95_ms'), `p50 ${fmt.ms(t.p50_ms)} · p99 ${fmt.ms(t.p99_ms)}`),
      tile('Time to first token', fmt.ms(t.ttft_p50_ms), col('ttft_p50_ms'), 'p95 ' + fmt.ms(t.ttft_p95_ms)),
      tile('Tokens', fmt.compact((t.input_tokens || 0) + (t.output_tokens || 0)), series.map((p) => (p.input_tokens || 0) + (p.output_tokens || 0)),
        `${fmt.compact(t.input_tokens)} in · ${fmt.compact(t.output_tokens)} out`),
      tile('Spend', fmt.usd(t.cost_usd), col('cost_usd')),
      tile('Cache hits', fmt.int(t.cache_hits), null, t.requests ? fmt.pct((t.cache_hits || 0) / t.requests) + ' of requests' : null)),
    h('div', { class: 'grid two' }, traffic, latency, tokens, cost),
    h('div', { class: 'grid three' },
      withBody(card('Errors by code'), bars(d.errors_by_code || [], { label: (e) => `${e.status} ${e.code || ''}`, value: (e) => e.count, color: 3 })),
      withBody(card('Top models'), table([
        { label: 'Model', get: (m) => m.model || '(none)' },
        { label: 'Requests', num: true, get: (m) => fmt.int(m.requests) },
        { label: 'Tokens', num: true, get: (m) => fmt.compact(m.tokens) },
        { label: 'Spend', num: true, get: (m) => fmt.usd(m.cost_usd) },
      ], d.top_models || [])),
      withBody(card('Top keys'), table([
        { label: 'Key', get: (k) => h('span', null, k.name || k.key_id || '(none)', k.key_id && k.name ? h('small', { class: 'mono', text: ' ' + k.key_id }) : null) },
        { label: 'Requests', num: true, get: (k) => fmt.int(k.requests) },
        { label: 'Spend', num: true, get: (k) => fmt.usd(k.cost_usd) },
      ], d.top_keys || []))));
  lineChart(traffic.body, { times, area: true, series: [{ name: 'Requests', values: col('requests') }, { name: 'Errors', values: col('errors'), color: 3 }] });
  lineChart(latency.body, {
    times, fmtY: fmt.ms, series: [
      { name: 'p50', values: col('p50_ms') }, { name: 'p95', values: col('p95_ms'), color: 1 },
      { name: 'p99', values: col('p99_ms'), color: 3 }, { name: 'TTFT p50', values: col('ttft_p50_ms'), color: 2 }],
  });
  columnChart(tokens.body, {
    labels: times.map((x) => tickLabel(x, times[times.length - 1] - times[0])), tipLabels: times.map(fmt.time),
    series: [{ name: 'Input', values: col('input_tokens') }, { name: 'Output', values: col('output_tokens'), color: 1 }],
  });
  lineChart(cost.body, { times, area: true, fmtY: fmt.usdAxis, fmtTip: fmt.usd, series: [{ name: 'Spend (USD)', values: col('cost_usd'), color: 2 }] });
}

// replaceChildren() would print a null as the text "null".
function fill(el, ...kids) {
  el.replaceChildren(...kids.filter((k) => k != null && k !== false));
}

function withBody(c, ...kids) {
  c.body.append(...kids);
  return c;
}

async function spend(root, _arg, live) {
  const d = await api('/spend?window=' + state.window);
  if (!live()) return;
  const series = d.series || [];
  const byKey = d.by_key || [];
  const refusals = d.refusals || [];
  const over = card('Spend over time');
  const budgeted = byKey.filter((k) => k.budget_usd != null);
  fill(root, 
    h('div', { class: 'tiles' },
      tile('Spend', fmt.usd(sum(series.map((p) => p.cost_usd))), series.map((p) => p.cost_usd)),
      tile('Requests', fmt.int(sum(byKey.map((k) => k.requests)))),
      tile('Keys with budgets', fmt.int(budgeted.length)),
      tile('Limit refusals', fmt.int(sum(refusals.map((r) => r.count))))),
    over,
    h('div', { class: 'grid three' },
      withBody(card('By key'), bars(byKey, { label: (k) => k.name || k.key_id || '(no key)', value: (k) => k.cost_usd || 0, fmtV: fmt.usd, sub: (k) => fmt.int(k.requests) + ' req' })),
      withBody(card('By team'), bars(d.by_team || [], { label: (t) => t.team || '(no team)', value: (t) => t.cost_usd || 0, fmtV: fmt.usd, color: 1 })),
      withBody(card('By model'), bars(d.by_model || [], { label: (m) => m.model || '(none)', value: (m) => m.cost_usd || 0, fmtV: fmt.usd, color: 2 }))),
    withBody(card('Budgets and limits'), byKey.length ? table([
      { label: 'Key', get: (k) => k.name || k.key_id },
      { label: 'Team', get: (k) => k.team },
      { label: 'Spend', num: true, get: (k) => fmt.usd(k.cost_usd) },
      { label: 'Tokens', num: true, get: (k) => fmt.compact((k.input_tokens || 0) + (k.output_tokens || 0)) },
      { label: 'Budget', get: (k) => budgetCell(k) },
      { label: 'rpm', num: true, get: (k) => (k.rpm == null ? '—' : fmt.int(k.rpm)) },
      { label: 'tpm', num: true, get: (k) => (k.tpm == null ? '—' : fmt.int(k.tpm)) },
    ], byKey) : empty('No key has spent anything in this window.')),
    withBody(card('Limit refusals'), bars(refusals, { label: (r) => r.code || '(no code)', value: (r) => r.count, color: 3 })));
  lineChart(over.body, { times: series.map((p) => p.t), area: true, fmtY: fmt.usdAxis, fmtTip: fmt.usd, series: [{ name: 'Spend (USD)', values: series.map((p) => p.cost_usd), color: 2 }] });
}

function budgetCell(k) {
  if (k.budget_usd == null) return h('span', { class: 'muted', text: 'none' });
  const used = k.budget_used_usd || 0;
  const left = Math.max(0, k.budget_usd - used);
  return h('div', { class: 'budget' }, meter(k.budget_usd ? used / k.budget_usd : 0, { budget: true }),
    h('small', { text: `${fmt.usd(used)} of ${fmt.usd(k.budget_usd)} per ${k.budget_period || 'period'} · ${fmt.usd(left)} left` }));
}

async function routes(root, _arg, live) {
  const d = await api('/routes');
  if (!live()) return;
  const breaker = (b) => badge(b || 'unknown', { closed: 'good', open: 'bad', half_open: 'warn', 'half-open': 'warn' }[b] || 'neutral');
  fill(root, 
    withBody(card('Aliases'), (d.aliases || []).length ? table([
      { label: 'Alias', get: (a) => h('strong', { text: a.name }) },
      { label: 'Strategy', get: (a) => a.strategy },
      { label: 'Targets', get: (a) => h('span', { class: 'chips' }, (a.targets || []).map((t) => h('span', { class: 'chip', text: typeof t === 'string' ? t : t.name || `${t.provider}/${t.model}` }))) },
    ], d.aliases) : empty('No aliases are configured.')),
    withBody(card('Targets'), (d.targets || []).length ? table([
      { label: 'Target', get: (t) => t.name },
      { label: 'Provider', get: (t) => t.provider },
      { label: 'Model', get: (t) => t.model },
      { label: 'Breaker', get: (t) => breaker(t.breaker) },
      { label: 'In flight', num: true, get: (t) => fmt.int(t.in_flight) },
      { label: 'Queued', num: true, get: (t) => fmt.int(t.queued) },
      { label: 'Calls', num: true, get: (t) => (t.succeeded == null ? '—' : `${fmt.int(t.succeeded)} ok · ${fmt.int(t.failed)} failed`) },
      { label: 'TTFT (EWMA)', num: true, get: (t) => fmt.ms(t.ttft_ms) },
      { label: 'Latency (EWMA)', num: true, get: (t) => fmt.ms(t.ewma_ms) },
    ], d.targets) : empty('No target has been called yet.')),
    withBody(card('Route reasons, last 24 hours'), bars(d.reasons || [], { label: (r) => r.reason, value: (r) => r.count, color: 1 })));
}

async function policy(root, _arg, live) {
  const d = await api('/policy?window=' + state.window);
  if (!live()) return;
  const series = d.series || [];
  const inj = d.injection || {};
  const times = series.map((p) => p.t);
  const span = times.length ? times[times.length - 1] - times[0] : 0;
  const over = card('Findings and blocks over time');
  const hist = card('Injection scores');
  const byEntity = d.by_entity || [];
  fill(root, 
    h('div', { class: 'tiles' },
      tile('Findings', fmt.int(sum(series.map((p) => p.findings))), series.map((p) => p.findings)),
      tile('Blocked requests', fmt.int(d.blocks), series.map((p) => p.blocks)),
      tile('Injection flagged', fmt.int(inj.flagged)),
      tile('Injection blocked', fmt.int(inj.blocked))),
    h('div', { class: 'grid two' }, over, hist),
    withBody(card('Findings by entity and action'), byEntity.length ? table([
      { label: 'Entity', get: (e) => h('code', { text: e.entity }) },
      { label: 'Action', get: (e) => badge(e.action, { block: 'bad', redact: 'warn', tokenize: 'info', flag: 'warn', allow: 'neutral' }[e.action]) },
      { label: 'Stage', get: (e) => e.stage },
      { label: 'Count', num: true, get: (e) => fmt.int(e.count) },
      { label: '', get: (e) => meter(e.count / Math.max(...byEntity.map((x) => x.count), 1)) },
    ], byEntity) : empty('No findings in this window.')),
    h('p', { class: 'hint', text: 'The console shows what kind of data was found and what was done, never the values.' }));
  columnChart(over.body, {
    labels: times.map((t) => tickLabel(t, span)), tipLabels: times.map(fmt.time),
    series: [{ name: 'Findings', values: series.map((p) => Math.max(0, (p.findings || 0))) }, { name: 'Blocks', values: series.map((p) => p.blocks || 0), color: 3 }],
  });
  const scores = inj.scores || [];
  columnChart(hist.body, {
    labels: scores.map((b) => '≤ ' + b.le), series: [{ name: 'Requests', values: scores.map((b) => b.count), color: 4 }],
  });
}

const AUDIT_FIELDS = [
  ['since', 'From', 'datetime-local'], ['until', 'To', 'datetime-local'], ['key_id', 'Key id'],
  ['subject', 'Subject'], ['model', 'Model'], ['status', 'Status', 'number'], ['kind', 'Kind'], ['finding', 'Finding'],
];

async function audit(root, id, live) {
  if (id) return auditRecord(root, id, live);
  const q = state.audit;
  const inputs = {};
  // Subjects are personal data: only admins search by them.
  const fields = AUDIT_FIELDS.filter(([name]) => name !== 'subject' || isAdmin());
  const form = h('form', { class: 'filters' },
    fields.map(([name, label, type]) => {
      inputs[name] = h('input', { id: 'f-' + name, name, type: type || 'text', value: q[name] || '' });
      return h('div', { class: 'field' }, h('label', { for: 'f-' + name, text: label }), inputs[name]);
    }),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary', text: 'Search' }),
      h('button', { type: 'reset', class: 'ghost', text: 'Clear' })));
  const results = h('div', { class: 'results' });
  const msg = h('p', { class: 'form-msg' });
  const chainCard = card('Chain');
  fill(root, withBody(card('Search'), form, msg), withBody(card('Records'), results), chainCard);
  const search = async (cursor) => {
    const params = new URLSearchParams();
    for (const [name] of fields) {
      const v = q[name];
      if (!v) continue;
      params.set(name, name === 'since' || name === 'until' ? String(Date.parse(v)) : v);
    }
    params.set('limit', '50');
    if (cursor) params.set('cursor', cursor);
    if (!cursor) results.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Searching…'));
    const d = await api('/audit?' + params);
    if (!live()) return;
    const recs = d.records || [];
    const rows = table([
      { label: 'Time', get: (r) => h('a', { href: '#/audit/' + encodeURIComponent(r.id), text: fmt.time(r.time) }) },
      { label: 'Kind', get: (r) => r.kind },
      { label: 'Key', get: (r) => r.key_id },
      { label: 'Model', get: (r) => r.model },
      { label: 'Status', get: (r) => badge(String(r.status ?? '—'), statusKind(r.status)) },
      { label: 'Latency', num: true, get: (r) => fmt.ms(r.latency_ms) },
      { label: 'Tokens', num: true, get: (r) => fmt.int(r.tokens) },
      { label: 'Cost', num: true, get: (r) => fmt.usd(r.cost_usd) },
      { label: 'Findings', get: (r) => findings(r.findings) },
    ], recs, (r) => { location.hash = '#/audit/' + encodeURIComponent(r.id); });
    if (!cursor) results.replaceChildren();
    results.querySelector('.more')?.remove();
    results.append(recs.length || cursor ? rows : empty('No record matches.'));
    if (d.next) {
      results.append(h('button', { type: 'button', class: 'ghost more', text: 'Load more', onclick: () => act(msg, () => search(d.next)) }));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const [name] of fields) q[name] = inputs[name].value.trim();
    act(msg, () => search());
  });
  form.addEventListener('reset', () => {
    for (const [name] of AUDIT_FIELDS) q[name] = '';
    setTimeout(() => act(msg, () => search()));
  });
  await Promise.all([search(), chain(chainCard.body, live)]);
}

function findings(list) {
  const fs = (list || []).map((f) => (typeof f === 'string' ? f : [f.entity || f.kind, f.action].filter(Boolean).join(' → ')));
  return fs.length ? h('span', { class: 'chips' }, fs.map((f) => h('span', { class: 'chip warn', text: f }))) : '—';
}

async function chain(host, live) {
  const c = await api('/chain');
  if (!live()) return;
  const msg = h('p', { class: 'form-msg' });
  const verify = isAdmin() ? h('button', {
    type: 'button', class: 'ghost', id: 'verify', text: c.status === 'running' ? 'Verifying…' : 'Verify now', disabled: c.status === 'running',
    onclick: () => act(msg, async () => {
      verify.disabled = true;
      verify.textContent = 'Verifying…';
      await api('/chain/verify', { method: 'POST', body: {} });
      for (let i = 0; i < 120 && live(); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await api('/chain');
        if (now.status !== 'running') break;
      }
      if (live()) chain(host, live);
    }),
  }) : null;
  fill(host, h('div', { class: 'chain-row' }, chainBadge(c),
    h('span', { class: 'muted', text: `${fmt.int(c.records)} records · checked ${c.checked ? fmt.time(c.checked) : 'never'}` }),
    c.broken_at != null ? h('span', { class: 'form-error', text: `First break at record ${c.broken_at}${c.problem ? ': ' + c.problem : ''}` }) : null,
    c.failed ? h('span', { class: 'form-error', text: 'The last verification could not finish.' }) : null, verify), msg);
}

async function auditRecord(root, id, live) {
  const d = await api('/audit/' + encodeURIComponent(id));
  if (!live()) return;
  const rec = d.record || {};
  const first = ['time', 'status', 'error_code', 'kind', 'endpoint', 'model', 'route', 'key_id', 'subject', 'latency_ms', 'tokens', 'cost_usd', 'findings', 'trace_id'];
  const keysInOrder = [...first.filter((k) => k in rec), ...Object.keys(rec).filter((k) => !first.includes(k))];
  const show = (k, v) => {
    if (v == null || v === '') return '—';
    if (k === 'time') return fmt.time(v);
    if (k === 'latency_ms') return fmt.ms(v);
    if (k === 'cost_usd') return fmt.usd(v);
    if (k === 'findings') return findings(v);
    if (k === 'status') return badge(String(v), statusKind(v));
    if (typeof v === 'object') return h('code', { text: JSON.stringify(v) });
    return String(v);
  };
  const meta = h('dl', { class: 'meta' }, keysInOrder.map((k) => h('div', { class: 'meta-item' }, h('dt', { text: k }), h('dd', null, show(k, rec[k])))));
  const payloadCard = card('Payload');
  const chainCard = card('Chain');
  fill(root, h('a', { class: 'back', href: '#/audit', text: '← All records' }),
    withBody(card('Record ' + (rec.id || id)), meta), payloadCard, chainCard);
  showPayload(payloadCard, d, id, false, live);
  await chain(chainCard.body, live);
}

function showPayload(c, d, id, revealed, live) {
  const head = c.querySelector('.card-head');
  head.querySelector('.toggle')?.remove();
  if (!d.payload) {
    c.body.replaceChildren(h('p', { class: 'muted', text: d.payload_note || 'No payload is shown.' }));
    return;
  }
  const msg = h('p', { class: 'form-msg' });
  const toggle = h('button', {
    type: 'button', class: 'ghost toggle', id: 'reveal', 'aria-pressed': String(revealed),
    text: revealed ? 'Mask personal data' : 'Reveal personal data',
    onclick: () => act(msg, async () => {
      toggle.disabled = true;
      const next = await api('/audit/' + encodeURIComponent(id) + (revealed ? '' : '?reveal=1'));
      if (live()) showPayload(c, next, id, !revealed, live);
    }),
  });
  head.append(toggle);
  const parts = [['client_request', 'What the client sent'], ['upstream_request', 'What went upstream'], ['response', 'The answer']];
  c.body.replaceChildren(
    h('p', { class: 'hint', text: revealed ? 'Shown in clear. Revealing is itself recorded.' : 'Personal data is masked. Reveal shows it in clear.' }),
    msg,
    ...parts.filter(([k]) => d.payload[k] != null).map(([k, label]) => h('div', { class: 'payload' },
      h('h3', { text: label }),
      h('pre', { class: 'code', 'data-part': k }, typeof d.payload[k] === 'string' ? d.payload[k] : JSON.stringify(d.payload[k], null, 2)))));
}

async function keys(root, _arg, live) {
  const list = h('div');
  const secretBox = h('div', { id: 'secret-box' });
  const load = async () => {
    const d = await api('/keys');
    if (!live()) return;
    const admin = isAdmin();
    const cols = [
      { label: 'Name', get: (k) => h('strong', { text: k.name }) },
      { label: 'Id', get: (k) => h('code', { text: k.id }) },
      { label: 'Prefix', get: (k) => h('code', { text: k.prefix + '…' }) },
      { label: 'State', get: (k) => badge(k.state, { active: 'good', revoked: 'bad', expired: 'warn' }[k.state]) },
      { label: 'Models', get: (k) => ((k.scope || {}).models || []).join(', ') || '—' },
      { label: 'Limits', get: (k) => limits(k.scope || {}) },
      { label: 'Team', get: (k) => (k.scope || {}).team },
      { label: 'Console', get: (k) => ((k.scope || {}).console ? badge('viewer', 'info') : '—') },
      { label: 'Created', get: (k) => fmt.time(k.created) },
    ];
    if (admin) cols.push({ label: '', get: (k) => (k.state === 'active' ? revokeButton(k, load) : '') });
    list.replaceChildren((d.keys || []).length ? table(cols, d.keys) : empty('No stored keys. Keys declared in the config file are managed there.'));
  };
  fill(root, secretBox, isAdmin() ? createKeyForm(secretBox, load) : h('p', { class: 'hint', text: 'Read-only: you are signed in with a console key.' }), withBody(card('Stored keys'), list));
  await load();
}

function limits(sc) {
  const parts = [];
  if (sc.rpm != null) parts.push(fmt.int(sc.rpm) + ' rpm');
  if (sc.tpm != null) parts.push(fmt.compact(sc.tpm) + ' tpm');
  if (sc.budget_usd != null) parts.push(fmt.usd(sc.budget_usd) + '/' + (sc.budget_period || '?'));
  return parts.join(' · ') || '—';
}

function revokeButton(k, reload) {
  const wrap = h('span', { class: 'confirm' });
  const ask = () => wrap.replaceChildren(h('button', { type: 'button', class: 'danger small', text: 'Revoke', 'data-revoke': k.id, onclick: confirm }));
  const confirm = () => wrap.replaceChildren(
    h('span', { class: 'muted', text: 'Revoke ' + k.name + '? ' }),
    h('button', {
      type: 'button', class: 'danger small', text: 'Yes, revoke', 'data-confirm': k.id,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api('/keys/' + encodeURIComponent(k.id), { method: 'DELETE' });
          await reload();
        } catch (e) {
          if (e.status !== 401) wrap.replaceChildren(h('span', { class: 'form-error', text: e.message }));
        }
      },
    }),
    h('button', { type: 'button', class: 'ghost small', text: 'Cancel', onclick: ask }));
  ask();
  return wrap;
}

function createKeyForm(secretBox, reload) {
  const f = (name, label, attrs = {}) => {
    const input = h('input', { id: 'k-' + name, name, type: 'text', ...attrs });
    return [h('div', { class: 'field' }, h('label', { for: 'k-' + name, text: label }), input), input];
  };
  const [nameF, name] = f('name', 'Name', { required: true, maxlength: 64, placeholder: 'billing-service' });
  const [modelsF, models] = f('models', 'Models', { placeholder: 'chat, gpt-*' });
  const [rpmF, rpm] = f('rpm', 'Requests / minute', { type: 'number', min: 1 });
  const [tpmF, tpm] = f('tpm', 'Tokens / minute', { type: 'number', min: 1 });
  const [budgetF, budget] = f('budget', 'Budget (USD)', { type: 'number', min: 0, step: '0.01' });
  const period = h('select', { id: 'k-period', name: 'period' }, h('option', { value: 'month', text: 'per month' }), h('option', { value: 'day', text: 'per day' }));
  const [teamF, team] = f('team', 'Team', { maxlength: 64 });
  const consoleBox = h('input', { id: 'k-console', name: 'console', type: 'checkbox' });
  const msg = h('p', { class: 'form-msg' });
  const form = h('form', { class: 'filters', id: 'create-key' }, nameF, modelsF, rpmF, tpmF, budgetF,
    h('div', { class: 'field' }, h('label', { for: 'k-period', text: 'Budget period' }), period), teamF,
    h('div', { class: 'field check' }, consoleBox, h('label', { for: 'k-console', text: 'May sign in to the console (read-only)' })),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary', text: 'Create key' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(msg, async () => {
      const body = { name: name.value.trim(), models: models.value.split(',').map((m) => m.trim()).filter(Boolean) };
      if (rpm.value) body.rpm = Number(rpm.value);
      if (tpm.value) body.tpm = Number(tpm.value);
      if (budget.value) {
        body.budget_usd = Number(budget.value);
        body.budget_period = period.value;
      }
      if (team.value.trim()) body.team = team.value.trim();
      if (consoleBox.checked) body.console = true;
      const r = await api('/keys', { method: 'POST', body });
      const secret = r.secret || (typeof r.key === 'string' ? r.key : null);
      const created = typeof r.key === 'object' && r.key ? r.key : r;
      form.reset();
      showSecret(secretBox, created.name || body.name, secret);
      await reload();
    });
  });
  return withBody(card('Create a key'), form, msg);
}

function showSecret(box, name, secret) {
  const code = h('code', { id: 'secret', class: 'secret-value', text: secret || '(the server sent no secret)' });
  const copied = h('span', { class: 'muted', role: 'status' });
  box.replaceChildren(h('div', { class: 'secret-panel', role: 'alert' },
    h('h2', { text: `Key “${name}” created` }),
    h('p', { class: 'warn-text', text: 'Copy this secret now. Seam shows it once and keeps only its hash: it cannot be shown again.' }),
    h('div', { class: 'secret-row' }, code,
      h('button', {
        type: 'button', class: 'primary small', id: 'copy', text: 'Copy',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(secret);
            copied.textContent = 'Copied.';
          } catch {
            getSelection().selectAllChildren(code);
            copied.textContent = 'Selected: press Ctrl+C to copy.';
          }
        },
      }), copied),
    h('button', { type: 'button', class: 'ghost small', id: 'secret-done', text: 'I have stored it', onclick: () => box.replaceChildren() })));
}

async function evals(root, id, live) {
  if (id) return evalRun(root, id, live);
  const d = await api('/evals');
  if (!live()) return;
  const runs = d.runs || [];
  const compareOut = h('div', { class: 'compare-out' });
  const pick = (idAttr, sel) => h('select', { id: idAttr }, runs.map((r, i) => h('option', { value: r.id, text: r.name || r.id, selected: i === sel })));
  const a = pick('cmp-a', 1);
  const b = pick('cmp-b', 0);
  const cmpMsg = h('p', { class: 'form-msg' });
  fill(root, 
    isAdmin() ? uploadForm(live) : null,
    withBody(card('Runs'), runs.length ? table([
      { label: 'Run', get: (r) => h('a', { href: '#/evals/' + encodeURIComponent(r.id), text: r.name || r.id }) },
      { label: 'Kind', get: (r) => badge(r.kind, r.kind === 'redteam' ? 'warn' : 'info') },
      { label: 'Uploaded', get: (r) => fmt.time(r.uploaded) },
      { label: 'Passed', num: true, get: (r) => `${fmt.int(r.passed)} / ${fmt.int(r.total)}` },
      { label: 'Pass rate', num: true, get: (r) => fmt.pct(r.pass_rate) },
      { label: '95% interval', get: (r) => h('span', { class: 'interval' }, meter(r.pass_rate, { lo: r.lo, hi: r.hi }), h('small', { text: `${fmt.pct(r.lo)}–${fmt.pct(r.hi)}` })) },
    ], runs, (r) => { location.hash = '#/evals/' + encodeURIComponent(r.id); }) : empty('No runs uploaded yet. Upload the JSON that `seam eval -o report.json` or `seam redteam -o report.json` writes.')),
    runs.length > 1 ? withBody(card('Compare two runs'), h('form', { class: 'filters', id: 'compare' },
      h('div', { class: 'field' }, h('label', { for: 'cmp-a', text: 'Baseline' }), a),
      h('div', { class: 'field' }, h('label', { for: 'cmp-b', text: 'Candidate' }), b),
      h('div', { class: 'field actions' }, h('button', {
        type: 'button', class: 'primary', text: 'Compare',
        onclick: () => act(cmpMsg, () => compare(compareOut, runs, a.value, b.value)),
      }))), cmpMsg, compareOut) : null);
}

function uploadForm(live) {
  const file = h('input', { id: 'ev-file', type: 'file', accept: 'application/json,.json', required: true });
  const name = h('input', { id: 'ev-name', type: 'text', maxlength: 100, placeholder: 'optional' });
  const msg = h('p', { class: 'form-msg' });
  const form = h('form', { class: 'filters', id: 'upload' },
    h('div', { class: 'field file' }, h('label', { for: 'ev-file', text: 'Report (JSON)' }), file),
    h('div', { class: 'field' }, h('label', { for: 'ev-name', text: 'Name' }), name),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary', text: 'Upload' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(msg, async () => {
      const f = file.files && file.files[0];
      if (!f) throw new Error('Choose a report file first.');
      let report;
      try {
        report = JSON.parse(await f.text());
      } catch {
        throw new Error('That file is not JSON: upload what `seam eval -o report.json` writes.');
      }
      if (name.value.trim()) report.name = name.value.trim();
      const r = await api('/evals', { method: 'POST', body: report });
      if (live()) location.hash = '#/evals/' + encodeURIComponent(r.id);
    });
  });
  return withBody(card('Upload a report'), form, msg);
}

// Outcomes by case: eval results pair on (test, repeat, provider, prompt), red-team probes on id.
function outcomes(report) {
  const m = new Map();
  for (const r of report.results || []) {
    const k = r.id != null ? String(r.id) : [r.test, r.repeat, r.provider, r.prompt].join('|');
    m.set(k, { pass: passed(r), label: caseLabel(r) });
  }
  return m;
}

function passed(r) {
  if (typeof r.pass === 'boolean') return r.pass;
  return r.status === 'passed' || r.status === 'pass';
}

function caseLabel(r) {
  return r.description || (r.vars ? JSON.stringify(r.vars) : null) || r.id || 'test ' + r.test;
}

async function compare(out, runs, aId, bId) {
  out.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Comparing…'));
  const [a, b] = await Promise.all([api('/evals/' + encodeURIComponent(aId)), api('/evals/' + encodeURIComponent(bId))]);
  const ra = runs.find((r) => r.id === aId) || {};
  const rb = runs.find((r) => r.id === bId) || {};
  const oa = outcomes(a.report || {});
  const ob = outcomes(b.report || {});
  const fixed = [];
  const broke = [];
  for (const [k, x] of oa) {
    const y = ob.get(k);
    if (!y) continue;
    if (x.pass && !y.pass) broke.push(y.label);
    if (!x.pass && y.pass) fixed.push(y.label);
  }
  const overlap = ra.lo != null && rb.lo != null && !(rb.lo > ra.hi || rb.hi < ra.lo);
  const diff = (rb.pass_rate ?? 0) - (ra.pass_rate ?? 0);
  fill(out,
    table([
      { label: 'Run', get: (r) => r.name || r.id },
      { label: 'Pass rate', num: true, get: (r) => fmt.pct(r.pass_rate) },
      { label: '95% interval', get: (r) => meter(r.pass_rate, { lo: r.lo, hi: r.hi }) },
    ], [ra, rb]),
    h('p', { class: 'verdict', text: `Candidate − baseline: ${diff >= 0 ? '+' : ''}${(diff * 100).toFixed(1)} points. ` +
      (overlap ? 'The intervals overlap: this difference may be noise.' : diff > 0 ? 'The candidate is better beyond the intervals.' : 'The candidate is worse beyond the intervals.') }),
    h('p', { class: 'muted', text: `${broke.length} cases passed in the baseline and fail in the candidate; ${fixed.length} the other way round.` }),
    broke.length ? h('ul', { class: 'cases' }, broke.slice(0, 50).map((l) => h('li', { text: l }))) : null);
}

async function evalRun(root, id, live) {
  const d = await api('/evals/' + encodeURIComponent(id));
  if (!live()) return;
  const sm = d;
  const rep = d.report || {};
  const results = rep.results || [];
  const failures = results.filter((r) => !passed(r));
  fill(root, 
    h('a', { class: 'back', href: '#/evals', text: '← All runs' }),
    h('div', { class: 'tiles' },
      tile('Run', sm.name || id, null, `${sm.kind} · uploaded ${fmt.time(sm.uploaded)}`),
      tile('Passed', `${fmt.int(sm.passed)} / ${fmt.int(sm.total)}`),
      h('div', { class: 'tile' }, h('div', { class: 'tile-label', text: 'Pass rate (95% interval)' }),
        h('div', { class: 'tile-value', text: fmt.pct(sm.pass_rate) }), meter(sm.pass_rate ?? 0, { lo: sm.lo, hi: sm.hi }))),
    (rep.variants || []).length ? withBody(card('Variants'), table([
      { label: 'Provider', get: (v) => v.provider },
      { label: 'Prompt', get: (v) => v.prompt },
      { label: 'Passed', num: true, get: (v) => `${v.totals.passed} / ${v.totals.cases}` },
      { label: 'Pass rate', get: (v) => h('span', { class: 'interval' }, meter(v.totals.pass_rate, { lo: v.pass_rate_interval?.low, hi: v.pass_rate_interval?.high }), h('small', { text: fmt.pct(v.totals.pass_rate) })) },
      { label: 'p50 latency', num: true, get: (v) => fmt.ms(v.latency_ms_p50) },
      { label: 'Cost', num: true, get: (v) => fmt.usd(v.cost_usd) },
    ], rep.variants)) : null,
    (rep.categories || []).length ? withBody(card('Categories'), bars(rep.categories, {
      label: (c) => c.category, value: (c) => c.pass_rate ?? c.totals?.pass_rate ?? 0, fmtV: fmt.pct, color: 2,
    })) : null,
    withBody(card(`Failures (${failures.length})`), failures.length ? table([
      { label: 'Case', get: (r) => caseLabel(r) },
      { label: 'Where', get: (r) => r.category || [r.provider, r.prompt].filter(Boolean).join(' · ') },
      { label: 'Why', get: (r) => r.error || (r.grade && r.grade.reason) || r.detector || r.status },
      { label: 'Evidence', get: (r) => (r.evidence ? h('code', { text: r.evidence }) : r.score != null ? 'score ' + r.score.toFixed(2) : '—') },
    ], failures.slice(0, 500)) : empty('Every case passed.')));
}

// ---- reports ------------------------------------------------------------------------------------

// The build/buy/hybrid reports of `seam report …`, built by the server from its own store and
// config (docs/reports.md). The page renders the report document; the downloads are the CLI's
// bytes (Markdown, self-contained HTML, JSON).
const REPORTS = [
  { id: 'cost', label: 'Cost', days: 30 },
  { id: 'whatif', label: 'What-if', days: 30, file: 'scenarios', fileLabel: 'Scenario file (TOML)', required: true },
  { id: 'quality', label: 'Quality', days: 90 },
  { id: 'matrix', label: 'Decision matrix', days: 90, file: 'weights', fileLabel: 'Weights file (TOML, optional: even weights without it)' },
  { id: 'exit', label: 'Exit', days: 90, file: 'capabilities', fileLabel: 'Capability overrides (TOML, optional)' },
];
state.reports = { files: {}, since: '', until: '' };

// The request for a report as the form stands: the path (with the period and format) and the
// body holding its file, if any.
function reportRequest(r, format) {
  const q = new URLSearchParams();
  if (state.reports.since) q.set('since', state.reports.since);
  if (state.reports.until) q.set('until', state.reports.until);
  if (format) q.set('format', format);
  const text = r.file ? state.reports.files[r.id] || '' : '';
  const path = '/reports/' + r.id + (q.toString() ? '?' + q : '');
  return text.trim() ? { path, opts: { method: 'POST', body: { [r.file]: text } } } : { path, opts: {} };
}

async function reports(root, arg, live) {
  const r = REPORTS.find((x) => x.id === arg) || REPORTS[0];
  const out = h('div', { class: 'report', id: 'report-out' });
  const msg = h('p', { class: 'form-msg' });
  const since = h('input', { id: 'rp-since', type: 'date', value: state.reports.since });
  const until = h('input', { id: 'rp-until', type: 'date', value: state.reports.until });
  since.addEventListener('change', () => { state.reports.since = since.value; });
  until.addEventListener('change', () => { state.reports.until = until.value; });
  let text = null;
  if (r.file) {
    text = h('textarea', { id: 'rp-file', rows: 10, spellcheck: 'false', placeholder: r.required ? 'Paste the scenario file, or load it below (docs/examples/scenarios.toml)' : '' });
    text.value = state.reports.files[r.id] || '';
    text.addEventListener('input', () => { state.reports.files[r.id] = text.value; });
  }
  const load = r.file ? h('input', { id: 'rp-load', type: 'file', accept: '.toml,text/plain' }) : null;
  if (load) {
    load.addEventListener('change', async () => {
      const f = load.files && load.files[0];
      if (!f) return;
      text.value = await f.text();
      state.reports.files[r.id] = text.value;
    });
  }
  const build = async () => {
    out.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Building the report…'));
    out.setAttribute('aria-busy', 'true');
    try {
      if (r.required && !(state.reports.files[r.id] || '').trim()) {
        out.replaceChildren(empty('Paste or load a scenario file, then build the report.'));
        return;
      }
      const { path, opts } = reportRequest(r);
      const doc = await api(path, opts);
      if (live()) out.replaceChildren(...reportDoc(doc));
    } catch (e) {
      out.replaceChildren();
      throw e;
    } finally {
      out.setAttribute('aria-busy', 'false');
    }
  };
  const download = (format) => act(msg, async () => {
    const { path, opts } = reportRequest(r, format);
    const headers = {};
    if (opts.method === 'POST') {
      headers['x-seam-csrf'] = state.session.csrf;
      headers['content-type'] = 'application/json';
    }
    const resp = await fetch(API + path, {
      method: opts.method || 'GET', headers, credentials: 'same-origin', cache: 'no-store',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    if (!resp.ok) {
      let m = 'Seam answered ' + resp.status + '.';
      try { m = (await resp.json()).error.message || m; } catch { /* not JSON */ }
      throw new Error(m);
    }
    const url = URL.createObjectURL(await resp.blob());
    const a = h('a', { href: url, download: `seam-${r.id}-report.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  const form = h('form', { class: 'filters', id: 'report-form' },
    h('div', { class: 'field' }, h('label', { for: 'rp-since', text: `From (default: ${r.days} days ago)` }), since),
    h('div', { class: 'field' }, h('label', { for: 'rp-until', text: 'Until (default: now)' }), until),
    load ? h('div', { class: 'field file' }, h('label', { for: 'rp-load', text: 'Load a file' }), load) : null,
    text ? h('div', { class: 'field wide' }, h('label', { for: 'rp-file', text: r.fileLabel }), text) : null,
    h('div', { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary', id: 'rp-build', text: 'Build report' }),
      ['md', 'html', 'json'].map((f) => h('button', { type: 'button', class: 'ghost', 'data-format': f, text: f.toUpperCase(), onclick: () => download(f) }))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(msg, build);
  });
  const tabs = h('div', { class: 'tabs', role: 'navigation', 'aria-label': 'Reports' }, REPORTS.map((x) =>
    h('a', { href: '#/reports/' + x.id, 'data-report': x.id, class: x.id === r.id ? 'active' : null, 'aria-current': x.id === r.id ? 'page' : null, text: x.label })));
  fill(root, tabs, withBody(card('Period and inputs'), form, msg), out);
  if (!r.required || (state.reports.files[r.id] || '').trim()) await act(msg, build);
  else out.replaceChildren(empty('Paste or load a scenario file, then build the report.'));
}

function reportCell(c) {
  if (c == null) return '—';
  const v = c.value;
  switch (c.type) {
    case 'text': return v;
    case 'usd': return fmt.usd(v);
    case 'int': return fmt.int(v);
    case 'num': return v[0] == null ? '—' : Number(v[0]).toFixed(v[1]);
    case 'pct': return fmt.pct(v);
    case 'ms': return v == null ? '—' : v < 10 ? v.toFixed(2) + ' ms' : fmt.ms(v);
    default: return '—';
  }
}

const UNIT_FMT = {
  usd: [fmt.usdAxis, fmt.usd],
  count: [fmt.compact, fmt.int],
  ms: [fmt.compact, fmt.ms],
  pct: [fmt.pct, fmt.pct],
};

function reportChart(c) {
  const host = h('figure', { class: 'report-chart' }, h('figcaption', { text: c.title }));
  const [axis, tipFmt] = UNIT_FMT[c.unit] || UNIT_FMT.count;
  const series = c.series.map((sr) => ({ name: sr.name, values: sr.values }));
  // Charts are drawn once the figure is in the page, so that they take its width.
  requestAnimationFrame(() => {
    const times = c.x.map((x) => Date.parse(x));
    if (c.kind === 'line' && times.every((t) => !Number.isNaN(t))) {
      lineChart(host, { times, series, fmtY: axis, fmtTip: tipFmt });
    } else {
      columnChart(host, { labels: c.x, series, fmtY: axis });
    }
  });
  return host;
}

// The report document (crates/seam-reports/src/doc.rs) as page elements.
function reportDoc(doc) {
  const head = h('header', { class: 'report-head' },
    h('h2', { text: doc.title }),
    doc.subtitle ? h('p', { class: 'hint', text: doc.subtitle }) : null,
    h('p', { class: 'hint', text: 'Generated ' + fmt.time(doc.generated) }));
  const sections = (doc.sections || []).map((sec) => withBody(card(sec.title), ...sec.blocks.map((b) => {
    switch (b.type) {
      case 'text': return h('p', { text: b.value });
      case 'note': return h('p', { class: 'note', text: b.value });
      case 'facts': return h('dl', { class: 'facts' }, b.value.map(([k, v]) => h('div', null, h('dt', { text: k }), h('dd', { text: reportCell(v) }))));
      case 'table': {
        const t = b.value;
        const cols = t.columns.map((c, i) => ({ label: c.name, num: c.align === 'right', get: (row) => reportCell(row[i]) }));
        return h('div', null, t.caption ? h('p', { class: 'hint', text: t.caption }) : null, t.rows.length ? table(cols, t.rows) : empty('No rows.'));
      }
      case 'chart': return reportChart(b.value);
      default: return h('p', { class: 'hint', text: `(a ${b.type} block this console cannot draw)` });
    }
  })));
  return [head, ...sections];
}

// ---- start ----------------------------------------------------------------------------------

async function boot() {
  try {
    state.session = await api('/session');
  } catch (e) {
    state.session = null;
    if (e.status !== 401) return signIn(e.message);
  }
  if (!state.session) return signIn();
  shell();
  route();
}

window.addEventListener('hashchange', route);
boot();
