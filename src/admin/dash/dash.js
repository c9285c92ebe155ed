// SPDX-License-Identifier: MIT
// The status page (doc/dashboard.md): reads /status every two seconds
// and draws it. Every figure is written as text (textContent), never as
// markup: a route's or a cluster's name cannot become a tag.
'use strict';

const REFRESH_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';
// /status on this page's origin, which holds no user or password: a page
// opened as http://user:password@host/ has them in location.href, and a
// URL relative to it is refused by fetch() ("Request cannot be
// constructed from a URL that includes credentials"), which is how the
// page once read nothing. The browser sends the credentials it was given
// for the origin by itself.
const STATUS_URL = location.origin + '/status';
let lastOk = 0;

// The tables that grow with the file (routes, clusters) come a page at a
// time, of the rows a search finds (doc/dashboard.md 5.11): what this
// page asks for, and what the last answer said there is.
const PAGE = 100;
const pages = {
  routes: { offset: 0, q: '', matched: 0 },
  clusters: { offset: 0, q: '', matched: 0 },
};

function statusUrl() {
  const p = new URLSearchParams();
  for (const t of ['routes', 'clusters']) {
    p.set(t + '_offset', String(pages[t].offset));
    p.set(t + '_limit', String(PAGE));
    if (pages[t].q) p.set(t + '_q', pages[t].q);
  }
  return STATUS_URL + '?' + p.toString();
}

// "1-100 of 100,000", and the buttons that move within them.
function drawPager(t, matched, total) {
  const pg = pages[t];
  pg.matched = matched;
  const first = matched === 0 ? 0 : Math.min(pg.offset + 1, matched);
  const last = Math.min(pg.offset + PAGE, matched);
  let text = first + '\u2013' + last + ' of ' + matched.toLocaleString('en-US');
  if (pg.q) text += ' matching \u201c' + pg.q + '\u201d (' + total.toLocaleString('en-US') + ' in all)';
  document.getElementById(t + '-range').textContent = text;
  document.getElementById(t + '-prev').disabled = pg.offset === 0;
  document.getElementById(t + '-next').disabled = pg.offset + PAGE >= matched;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function td(text, cls) { return el('td', cls, text); }

function num(x, digits) {
  if (x === null || x === undefined) return '\u2013';
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(digits === undefined ? 1 : digits);
}

function ms(x) { return x === null || x === undefined ? '\u2013' : num(x, 1) + ' ms'; }

function ago(s) {
  if (s === null || s === undefined) return '';
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return d + 'd ' + h + 'h';
  if (h > 0) return h + 'h ' + m + 'm';
  return m + 'm ' + (s % 60) + 's';
}

// A sparkline of the points (null: not measured), oldest first.
function spark(points, cls) {
  const s = document.createElementNS(SVG, 'svg');
  s.setAttribute('class', 'spark' + (cls ? ' ' + cls : ''));
  s.setAttribute('viewBox', '0 0 90 20');
  s.setAttribute('preserveAspectRatio', 'none');
  const vals = (points || []).filter((p) => p !== null);
  const max = Math.max(1e-9, ...vals);
  const pts = [];
  (points || []).forEach((p, i) => {
    if (p === null) return;
    const x = (i * 90) / Math.max(1, points.length - 1);
    const y = 19 - (p / max) * 18;
    pts.push(x.toFixed(1) + ',' + y.toFixed(1));
  });
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.join(' '));
  s.appendChild(line);
  const t = document.createElementNS(SVG, 'title');
  t.textContent = 'max ' + num(vals.length ? max : 0, 2);
  s.appendChild(t);
  return s;
}

function sparkCell(o, key, cls) {
  const c = el('td');
  if (o.spark) c.appendChild(spark(o.spark[key], cls));
  return c;
}

// A share as a bar and a percentage.
function share(x) {
  const c = el('td');
  const s = document.createElementNS(SVG, 'svg');
  s.setAttribute('class', 'spark');
  s.setAttribute('viewBox', '0 0 90 20');
  const r = document.createElementNS(SVG, 'rect');
  r.setAttribute('x', '0');
  r.setAttribute('y', '6');
  r.setAttribute('height', '8');
  r.setAttribute('width', x === null ? '0' : (x * 90).toFixed(1));
  r.setAttribute('fill', '#1d4f7a');
  s.appendChild(r);
  c.appendChild(s);
  c.appendChild(el('span', 'share', x === null ? '\u2013' : (x * 100).toFixed(1) + ' %'));
  return c;
}

function features(f) {
  const names = [['rate_limited', 'rate-limited'], ['auth_refused', 'auth refused'],
    ['waf_blocked', 'WAF blocked'], ['idempotency_replayed', 'replayed'],
    ['idempotency_conflicts', 'key conflicts'], ['lua_calls', 'Lua calls'],
    ['lua_failures', 'Lua failures']];
  const parts = [];
  for (const [k, label] of names)
    if (f[k] !== null) parts.push(label + ' ' + f[k]);
  if (f.compress_ratio !== null) parts.push('compressed ' + num(f.compress_ratio, 2) + 'x');
  return parts.join(' \u00b7 ');
}

function trafficCells(tr, o) {
  tr.appendChild(td(num(o.rps), 'rps'));
  for (const k of ['2xx', '3xx', '4xx', '5xx'])
    tr.appendChild(td(o.status_1m[k], k === '5xx' && o.status_1m[k] > 0 ? 'bad s5xx' : 's' + k));
  tr.appendChild(td(ms(o.p50_ms)));
  tr.appendChild(td(ms(o.p95_ms)));
  tr.appendChild(td(ms(o.p99_ms), 'p99'));
}

function replace(tbody, rows) {
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  rows.forEach((r) => tbody.appendChild(r));
}

function drawGateway(st) {
  const g = st.sluice;
  document.getElementById('version').textContent = g.version;
  document.getElementById('uptime').textContent = duration(g.uptime_s);
  document.getElementById('workers').textContent = g.workers + (g.draining ? ' (draining)' : '');
  const gen = document.getElementById('generation');
  gen.textContent = g.config.generation + (g.config.sha256 ? ' \u00b7 sha256 ' + g.config.sha256.slice(0, 12) : '');
  gen.title = g.config.sha256 || '';
  const rl = document.getElementById('reload');
  const last = g.reloads.last;
  rl.className = '';
  if (last === null) {
    rl.textContent = 'none';
  } else if (last.result === 'applied') {
    rl.textContent = 'applied ' + ago(last.s_ago) + ' (' + last.why + ')';
    rl.className = 'ok';
  } else {
    rl.textContent = 'REFUSED ' + ago(last.s_ago) + ': ' + (last.error || '');
    rl.className = 'bad';
  }
  const c = g.connections;
  document.getElementById('connections').textContent =
    'HTTP/1 ' + c.http1 + ' \u00b7 HTTP/2 ' + c.http2 + ' \u00b7 HTTP/3 ' + c.http3;
  drawAcme(st.acme);
}

// ACME's certificates (doc/tls.md): how many, the soonest expiry, and the
// names that need an eye (none yet, a failed order, 14 days or less) in
// the title; bad when one fails or has 7 days or less.
function drawAcme(a) {
  const row = document.getElementById('acme-row');
  row.hidden = a === null || a === undefined;
  if (row.hidden) return;
  const dd = document.getElementById('acme');
  const soon = a.soonest_expiry_s;
  dd.textContent = a.certificates + ' of ' + a.names + ' names' +
    (soon === null ? '' : ' \u00b7 soonest expires in ' + duration(Math.max(soon, 0))) +
    (a.failing ? ' \u00b7 ' + a.failing + ' failing' : '');
  dd.className = a.failing || a.certificates < a.names || (soon !== null && soon < 7 * 86400) ? 'bad' : 'ok';
  dd.title = a.attention.map((x) => x.name + ': ' +
    (x.expires_in_s === null ? 'no certificate yet' : 'expires in ' + duration(Math.max(x.expires_in_s, 0))) +
    (x.last === 'failed' ? ', last order failed: ' + (x.error || '') : '')).join('\n');
}

function drawListeners(st) {
  const rows = [];
  for (const l of st.listeners) {
    const tr = el('tr', 'parent');
    tr.dataset.listener = l.name;
    tr.appendChild(td(l.name + ' ' + l.address + (l.tls ? ' tls' : '') + (l.http3 ? ' h3' : '')));
    tr.appendChild(td(l.connections));
    trafficCells(tr, l);
    tr.appendChild(td(''));
    tr.appendChild(sparkCell(l, 'rps'));
    tr.appendChild(sparkCell(l, 'errors', 'errors'));
    tr.appendChild(sparkCell(l, 'p99_ms'));
    rows.push(tr);
    for (const r of l.routes) {
      const rr = el('tr', 'child');
      rr.dataset.route = l.name + '/' + r.name;
      rr.appendChild(td(r.name + (r.cluster ? ' \u2192 ' + r.cluster : '')));
      rr.appendChild(td(''));
      trafficCells(rr, r);
      rr.appendChild(td(features(r.features_1m), 'features detail'));
      rr.appendChild(sparkCell(r, 'rps'));
      rr.appendChild(sparkCell(r, 'errors', 'errors'));
      rr.appendChild(sparkCell(r, 'p99_ms'));
      rows.push(rr);
    }
  }
  replace(document.querySelector('#listeners tbody'), rows);
}

function drawSplits(st) {
  const rows = [];
  for (const l of st.listeners) {
    for (const r of l.routes) {
      if (!r.split) continue;
      r.split.forEach((s, i) => {
        const tr = el('tr', i === 0 ? 'first' : '');
        tr.dataset.split = l.name + '/' + r.name + '/' + s.cluster;
        tr.appendChild(td(i === 0 ? l.name + '/' + r.name : ''));
        tr.appendChild(td(s.cluster));
        const w = td(s.weight === s.effective_weight ? s.weight
          : s.weight + ' \u2192 ' + s.effective_weight, 'weight');
        tr.appendChild(w);
        tr.appendChild(share(s.share_1m));
        tr.appendChild(td(s.sticky_1m === null ? '\u2013'
          : s.sticky_1m + ' req' + (s.users_1m === null ? '' : ', \u2248' + s.users_1m + (s.users_1m === 1 ? ' user' : ' users')), 'sticky'));
        if (!s.guard) {
          tr.appendChild(td('no guard', 'muted guard'));
          tr.appendChild(td(''));
        } else {
          let text = s.guard.role === 'stable' ? 'stable' : s.guard.state;
          let cls = 'guard ok';
          if (s.guard.state === 'tripped') {
            text = 'tripped ' + ago(s.guard.tripped_s_ago) + ' (' + s.guard.reason + ', p ' + s.guard.p + ')';
            cls = 'guard bad';
          }
          tr.appendChild(td(text, cls));
          const gw = s.guard.window;
          tr.appendChild(td(gw.requests + ' req, ' + gw.failures + ' failed, ' + gw.slow + ' slow'));
        }
        rows.push(tr);
      });
    }
  }
  document.getElementById('nosplits').hidden = rows.length > 0;
  document.getElementById('splits').hidden = rows.length === 0;
  replace(document.querySelector('#splits tbody'), rows);
}

function drawClusters(st) {
  const rows = [];
  for (const c of st.clusters) {
    const tr = el('tr', 'parent');
    tr.dataset.cluster = c.name;
    const up = c.endpoints.filter((e) => e.state === 'up').length;
    tr.appendChild(td(c.name));
    tr.appendChild(td(up + '/' + c.endpoints.length + ' up', up === c.endpoints.length ? 'ok' : 'bad'));
    tr.appendChild(td(''));
    tr.appendChild(td(c.endpoints.reduce((a, e) => a + e.in_flight, 0)));
    tr.appendChild(td(''));
    tr.appendChild(td(''));
    tr.appendChild(td(num(c.rps)));
    tr.appendChild(td(c.status_1m['5xx'], c.status_1m['5xx'] > 0 ? 'bad' : ''));
    tr.appendChild(td(ms(c.p99_ms)));
    tr.appendChild(td(c.retries_1m.class1 + ' / ' + c.retries_1m.class2));
    const dns = c.dns.map((d) => d.name + ': ' + (d.result || 'not followed') + ', ' + d.addresses +
      ' addresses' + (d.answer_age_s !== null ? ', answer ' + ago(d.answer_age_s) : '')).join('; ');
    tr.appendChild(td((c.pending ? c.pending + ' waiting \u00b7 ' : '') +
      (c.no_healthy_1m ? c.no_healthy_1m + ' refused: no healthy endpoint \u00b7 ' : '') +
      (c.overloaded_1m ? c.overloaded_1m + ' refused: overloaded \u00b7 ' : '') + dns, 'detail'));
    tr.appendChild(sparkCell(c, 'rps'));
    tr.appendChild(sparkCell(c, 'errors', 'errors'));
    rows.push(tr);
    for (const e of c.endpoints) {
      const er = el('tr', 'child');
      er.dataset.endpoint = c.name + '/' + e.address;
      er.appendChild(td(e.address + (e.name ? ' (' + e.name + ')' : '')));
      const s = td('', 'state');
      const b = el('span', 'badge ' + (e.state === 'up' ? 'ok' : 'bad'), e.state);
      s.appendChild(b);
      er.appendChild(s);
      er.appendChild(td(e.weight));
      er.appendChild(td(e.in_flight));
      er.appendChild(td(e.pool.idle + ' / ' + e.pool.busy));
      er.appendChild(td(num(e.pool.connects_per_s, 2)));
      er.appendChild(td(''));
      er.appendChild(td(''));
      er.appendChild(td(''));
      er.appendChild(td(''));
      let detail = '';
      if (e.reason) detail += e.reason;
      if (e.since_s_ago !== null) detail += (detail ? ', ' : '') + (e.state === 'up' ? 'up since ' : 'since ') + ago(e.since_s_ago);
      if (e.checks) detail += (detail ? ' \u00b7 ' : '') + 'checks ' + e.checks.ok + ' ok, ' + e.checks.failed + ' failed';
      if (e.ejections) detail += (detail ? ' \u00b7 ' : '') + e.ejections + ' ejections';
      er.appendChild(td(detail, 'detail reason'));
      er.appendChild(td(''));
      er.appendChild(td(''));
      rows.push(er);
    }
  }
  replace(document.querySelector('#clusters tbody'), rows);
}

function draw(st) {
  let matched = 0, total = 0;
  for (const l of st.listeners) {
    matched = Math.max(matched, l.routes_matched);
    total = Math.max(total, l.routes_total);
  }
  drawPager('routes', matched, total);
  drawPager('clusters', st.clusters_matched, st.clusters_total);
  drawGateway(st);
  drawListeners(st);
  drawSplits(st);
  drawClusters(st);
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

// A read that failed: the line under the header and a banner say why,
// and what is shown is marked as old; a page that has read nothing shows
// no panel at all, since an empty table or "No route splits its traffic"
// would read as the gateway's state.
function stale(why) {
  const u = document.getElementById('updated');
  const since = lastOk ? new Date(lastOk).toLocaleTimeString() : '';
  u.className = 'stale';
  u.textContent = 'not updated' + (lastOk ? ' since ' + since : '') + ': ' + why;
  const b = document.getElementById('unread');
  b.textContent = 'cannot read /status: ' + why + ' \u00b7 ' +
    (lastOk ? 'the figures below were read at ' + since : 'nothing read yet');
  b.hidden = false;
  document.querySelector('main').classList.toggle('stale', lastOk !== 0);
}

function fresh() {
  const u = document.getElementById('updated');
  u.className = 'muted';
  u.textContent = 'updated ' + new Date(lastOk).toLocaleTimeString();
  document.getElementById('unread').hidden = true;
  const m = document.querySelector('main');
  m.hidden = false;
  m.classList.remove('stale');
}

// One read at a time, the next REFRESH_MS after it ends; a read that
// takes longer than FETCH_TIMEOUT_MS is given up, and the page says it
// is stale once no read has succeeded for two refreshes (a gateway held
// up, a tunnel gone).
const FETCH_TIMEOUT_MS = 5000;
async function refresh() {
  inFlight = true;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const r = await fetch(statusUrl(), { cache: 'no-store', credentials: 'same-origin', signal: ctl.signal });
    if (!r.ok) throw new Error('/status answered ' + r.status);
    draw(await r.json());
    lastOk = Date.now();
    fresh();
  } catch (e) {
    stale(e.name === 'AbortError' ? '/status did not answer in ' + FETCH_TIMEOUT_MS / 1000 + ' s' : e.message);
  } finally {
    clearTimeout(timer);
    inFlight = false;
    nextRead = setTimeout(refresh, again ? 0 : REFRESH_MS);
    again = false;
  }
}

// A search or a page asked for: read now, not at the next refresh.
let inFlight = false, again = false, nextRead = 0;
function readNow() {
  if (inFlight) { again = true; return; }
  clearTimeout(nextRead);
  refresh();
}

function pagerControls(t) {
  const pg = pages[t];
  let typing = 0;
  document.getElementById(t + '-q').addEventListener('input', (ev) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      pg.q = ev.target.value.trim();
      pg.offset = 0;
      readNow();
    }, 250);
  });
  document.getElementById(t + '-prev').addEventListener('click', () => {
    pg.offset = Math.max(0, pg.offset - PAGE);
    readNow();
  });
  document.getElementById(t + '-next').addEventListener('click', () => {
    if (pg.offset + PAGE < pg.matched) pg.offset += PAGE;
    readNow();
  });
}

document.addEventListener('DOMContentLoaded', () => {
  pagerControls('routes');
  pagerControls('clusters');
  refresh();
  setInterval(() => {
    if (lastOk && Date.now() - lastOk > 2 * REFRESH_MS + 1000)
      stale('no answer');
  }, 1000);
});
