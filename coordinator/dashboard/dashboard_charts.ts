/**
 * The dashboard's pictures: a static script (served from
 * `/dashboard/assets/charts.js`, allowed by the CSP) that polls
 * `/dashboard/api/history` and draws four inline SVG charts — pool
 * ownership lanes coloured by instance with takeover marks, instance
 * heartbeat lanes with dead instances marked, mixes per pool per time bucket
 * and queued inputs per pool.
 *
 * Inline SVG rather than a charting library: the charts are lanes, bars and
 * polylines over one time axis (about 150 lines here), while the small
 * well-kept libraries (uPlot, Chart.js) draw on a canvas — no per-segment
 * element for the browser tests to select, no `data-*` attributes, no text
 * for screen readers — and would add a bundled dependency to every instance.
 * Everything is built with DOM calls and `textContent`; nothing from the
 * database is parsed as markup.
 *
 * @module
 */

/** The charts' script (plain ES2020, no dependencies). */
export const CHARTS_JS = `'use strict';
(function () {
const NS = 'http://www.w3.org/2000/svg';
const W = 960, LABEL = 150, LANE = 22;
const PALETTE = ['#2f6fdf', '#e07b20', '#2a9d5c', '#a646c8', '#c8324b', '#1f9fb0', '#8a7a18', '#5b5f6b'];
const colours = new Map();
function colour(id) { if (!colours.has(id)) colours.set(id, PALETTE[colours.size % PALETTE.length]); return colours.get(id); }
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}
function titled(e, text) { e.append(el('title', {}, text)); return e; }
function hhmm(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
function frame(container, lanes, laneHeight, v) {
  const h = Math.max(1, lanes) * laneHeight + 18;
  const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + h, width: '100%', role: 'img' });
  const x = (ms) => LABEL + ((ms - v.fromMs) / Math.max(1, v.toMs - v.fromMs)) * (W - LABEL - 8);
  for (const t of [v.fromMs, (v.fromMs + v.toMs) / 2, v.toMs]) {
    svg.append(el('line', { x1: x(t), x2: x(t), y1: 0, y2: h - 16, class: 'grid' }));
    svg.append(el('text', { x: x(t), y: h - 4, class: 'axis', 'text-anchor': t === v.toMs ? 'end' : 'middle' }, hhmm(t)));
  }
  container.replaceChildren(svg);
  return { svg, x, h };
}
function empty(container, text) { const p = document.createElement('p'); p.className = 'empty'; p.textContent = text; container.replaceChildren(p); }
function ownership(v) {
  const c = document.getElementById('chart-ownership');
  if (!v.pools.length) return empty(c, 'no pools');
  const { svg, x } = frame(c, v.pools.length, LANE, v);
  v.pools.forEach((p, i) => {
    const y = i * LANE;
    const lane = el('g', { 'data-pool': p.poolId, class: 'lane' });
    lane.append(el('text', { x: 4, y: y + 15, class: 'label' }, p.poolId));
    if (!p.ownership.length) lane.append(el('text', { x: LABEL + 4, y: y + 15, class: 'none' }, 'no owner recorded'));
    for (const s of p.ownership) {
      const w = Math.max(2, x(s.toMs) - x(s.fromMs));
      lane.append(titled(el('rect', { x: x(s.fromMs), y: y + 3, width: w, height: LANE - 6, fill: colour(s.instanceId), class: 'segment', 'data-instance': s.instanceId, 'data-epoch': s.epoch }), s.instanceId + ' epoch ' + s.epoch + ', ' + hhmm(s.fromMs) + '–' + hhmm(s.toMs)));
    }
    for (const t of p.takeovers) {
      const cx = x(t.atMs);
      lane.append(titled(el('path', { d: 'M' + cx + ' ' + (y + 1) + 'l-5 8h10z', class: 'takeover', 'data-epoch': t.epoch, 'data-from': t.fromInstance || '', 'data-to': t.toInstance }), 'takeover at ' + hhmm(t.atMs) + ': epoch ' + t.epoch + ', ' + (t.fromInstance || 'unserved') + ' → ' + t.toInstance));
    }
    svg.append(lane);
  });
}
function heartbeats(v) {
  const c = document.getElementById('chart-heartbeats');
  if (!v.instances.length) return empty(c, 'no instance has recorded a heartbeat yet');
  const { svg, x } = frame(c, v.instances.length, LANE, v);
  v.instances.forEach((inst, i) => {
    const y = i * LANE;
    const lane = el('g', { 'data-instance': inst.id, 'data-liveness': inst.liveness, class: 'lane ' + inst.liveness });
    lane.append(el('text', { x: 4, y: y + 15, class: 'label' }, inst.id + (inst.liveness === 'live' ? '' : ' (' + (inst.liveness === 'dead' ? 'dead, expired' : inst.liveness) + ')')));
    for (const s of inst.segments) {
      lane.append(titled(el('rect', { x: x(s.fromMs), y: y + 6, width: Math.max(2, x(s.toMs) - x(s.fromMs)), height: LANE - 12, fill: colour(inst.id), class: 'beat' }), inst.id + ' ' + hhmm(s.fromMs) + '–' + hhmm(s.toMs)));
    }
    if (inst.liveness === 'dead' && inst.lastSeenMs != null) {
      lane.append(titled(el('text', { x: x(inst.lastSeenMs) + 4, y: y + 15, class: 'dead-mark' }, '✕'), 'last heartbeat ' + hhmm(inst.lastSeenMs)));
    }
    svg.append(lane);
  });
}
function mixes(v) {
  const c = document.getElementById('chart-mixes');
  const H = 44;
  if (!v.pools.length) return empty(c, 'no pools');
  const { svg, x } = frame(c, v.pools.length, H, v);
  const bw = Math.max(2, x(v.fromMs + v.bucketMs) - x(v.fromMs) - 1);
  v.pools.forEach((p, i) => {
    const mid = i * H + H / 2;
    const max = Math.max(1, ...p.mixes.map((m) => Math.max(m.success, m.fail)));
    const lane = el('g', { 'data-pool': p.poolId, class: 'lane' });
    lane.append(el('text', { x: 4, y: mid + 4, class: 'label' }, p.poolId + ' (' + p.mixes.reduce((a, m) => a + m.success, 0) + ' ok, ' + p.mixes.reduce((a, m) => a + m.fail, 0) + ' failed)'));
    lane.append(el('line', { x1: LABEL, x2: W - 8, y1: mid, y2: mid, class: 'baseline' }));
    for (const m of p.mixes) {
      const x0 = x(m.bucketStartMs);
      if (m.success) lane.append(titled(el('rect', { x: x0, y: mid - (m.success / max) * (H / 2 - 3), width: bw, height: (m.success / max) * (H / 2 - 3), class: 'ok', 'data-success': m.success }), m.success + ' successful mixes from ' + hhmm(m.bucketStartMs)));
      if (m.fail) lane.append(titled(el('rect', { x: x0, y: mid, width: bw, height: (m.fail / max) * (H / 2 - 3), class: 'fail', 'data-fail': m.fail }), m.fail + ' failed mixes from ' + hhmm(m.bucketStartMs)));
    }
    svg.append(lane);
  });
}
function queues(v) {
  const c = document.getElementById('chart-queues');
  const H = 44;
  if (!v.pools.length) return empty(c, 'no pools');
  const { svg, x } = frame(c, v.pools.length, H, v);
  v.pools.forEach((p, i) => {
    const top = i * H + 4, bottom = (i + 1) * H - 4;
    const max = Math.max(1, ...p.queues.map((q) => Math.max(q.mustMix, q.liquidity)));
    const y = (n) => bottom - (n / max) * (bottom - top);
    const lane = el('g', { 'data-pool': p.poolId, class: 'lane' });
    const last = p.queues[p.queues.length - 1];
    lane.append(el('text', { x: 4, y: top + 22, class: 'label' }, p.poolId + (last ? ' (' + last.mustMix + ' / ' + last.liquidity + ')' : '')));
    for (const [key, cls] of [['mustMix', 'mustmix'], ['liquidity', 'liquidity']]) {
      if (!p.queues.length) continue;
      lane.append(el('polyline', { points: p.queues.map((q) => x(q.atMs) + ',' + y(q[key])).join(' '), class: 'queue ' + cls, 'data-last': last[key] }));
    }
    svg.append(lane);
  });
}
function legend(v) {
  const l = document.getElementById('chart-legend');
  const ids = [...new Set([...v.instances.map((i) => i.id), ...v.pools.flatMap((p) => p.ownership.map((s) => s.instanceId))])];
  l.replaceChildren(...ids.map((id) => { const s = document.createElement('span'); s.className = 'swatch'; s.style.setProperty('--c', colour(id)); s.textContent = id; return s; }));
}
async function refresh() {
  try {
    const r = await fetch('/dashboard/api/history?hours=6', { headers: { accept: 'application/json' } });
    if (!r.ok) { document.getElementById('history-window').textContent = r.status === 401 ? '' : 'history unavailable, retrying…'; return; }
    const v = await r.json();
    for (const id of [...v.instances.map((i) => i.id)].sort()) colour(id);
    document.getElementById('history-window').textContent = 'from ' + new Date(v.fromMs).toLocaleTimeString() + ' to ' + new Date(v.toMs).toLocaleTimeString() + ' (at most 6 h)';
    ownership(v); heartbeats(v); mixes(v); queues(v); legend(v);
    document.getElementById('history').dataset.loaded = String(Date.now());
  } catch (e) { document.getElementById('history-window').textContent = 'instance unreachable, retrying…'; }
}
refresh();
setInterval(refresh, 5000);
})();
`;

/** The charts' stylesheet (appended to the page's). */
export const CHARTS_CSS = `
.charts{display:grid;grid-template-columns:1fr;gap:.8rem}figure{margin:0;background:#fff;padding:.4rem .6rem;border-radius:4px}
figcaption{font-weight:600;font-size:.85rem;margin-bottom:.2rem}.chart svg{display:block}
.chart .label{font-size:11px;fill:#1d2430}.chart .none,.chart .axis{font-size:10px;fill:#6b7280}
.chart .grid{stroke:#e3e6ea}.chart .baseline{stroke:#c9ced6}.chart .takeover{fill:#1d2430}
.chart .dead .label,.chart .dead-mark{fill:#b00020;font-weight:600}.chart .dead .beat{opacity:.45}
.chart .ok{fill:#2a9d5c}.chart .fail{fill:#c8324b}.chart .queue{fill:none;stroke-width:1.5;stroke:#2f6fdf}
.chart .queue.liquidity{stroke:#e07b20;stroke-dasharray:4 3}.empty{color:#6b7280;margin:.3rem 0}
.legend{display:flex;gap:.8rem;flex-wrap:wrap;margin:.4rem 0}.swatch::before{content:'';display:inline-block;width:.8em;height:.8em;margin-right:.3em;background:var(--c);vertical-align:-1px}`;
