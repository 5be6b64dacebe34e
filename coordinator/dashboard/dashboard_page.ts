/**
 * The dashboard's HTML, script and stylesheet. The script is static (served
 * from `/dashboard/assets/app.js`, allowed by the CSP) and builds every
 * table with DOM calls and `textContent`, so nothing from the database is
 * ever parsed as HTML. Element ids and `data-*` attributes are what the
 * browser tests select on.
 *
 * @module
 */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function shell(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/dashboard/assets/app.css">${head}</head>
<body>${body}</body></html>`;
}

/** The login form, with an optional error line. */
export function loginPage(title: string, error: string | null): string {
  return shell(
    `${title} — login`,
    `<main class="login"><h1>${escapeHtml(title)}</h1>
<form method="post" action="/dashboard/login" id="login-form">
<label>User <input name="user" id="user" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login-submit">Log in</button>
${error ? `<p class="error" id="login-error">${escapeHtml(error)}</p>` : ''}
</form></main>`,
  );
}

/** The dashboard page; the script fills it from `/dashboard/api/state`. */
export function dashboardPage(title: string, csrf: string): string {
  return shell(
    title,
    `<header><h1>${escapeHtml(title)}</h1><span id="updated">loading…</span>
<button id="logout" type="button">Log out</button></header>
<main>
<section id="history"><h2>History <small id="history-window"></small></h2><div class="charts">
<figure><figcaption>Pool owners (colour = instance, ▲ = takeover at a new epoch)</figcaption><div id="chart-ownership" class="chart"></div></figure>
<figure><figcaption>Instance heartbeats</figcaption><div id="chart-heartbeats" class="chart"></div></figure>
<figure><figcaption>Mixes per pool (successes up, failures down)</figcaption><div id="chart-mixes" class="chart"></div></figure>
<figure><figcaption>Queued inputs per pool (must-mix solid, liquidity dashed)</figcaption><div id="chart-queues" class="chart"></div></figure>
</div><p id="chart-legend" class="legend"></p></section>
<section><h2>Instances</h2><table id="instances"><thead><tr><th>Instance</th><th>State</th><th>Pools</th><th>Heartbeat age</th><th>Version</th><th>Clear URL</th><th>Onion URL</th></tr></thead><tbody></tbody></table></section>
<section><h2>Pools</h2><table id="pools"><thead><tr><th>Pool</th><th>Owner</th><th>Epoch</th><th>Lease left</th><th>Mix phase</th><th>Elapsed</th><th>Confirmed</th><th>Must-mix queued</th><th>Liquidity queued</th><th>Registered (invited + queued)</th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent mixes <small id="mix-stats"></small></h2><table id="mixes"><thead><tr><th>Time</th><th>Pool</th><th>Status</th><th>Inputs</th><th>Instance</th><th>Txid / reason</th></tr></thead><tbody></tbody></table></section>
<section><h2>Active bans</h2><table id="bans"><thead><tr><th>Identifier</th><th>Since</th><th>Until</th><th>Notes</th><th></th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent blames</h2><table id="blames"><thead><tr><th>Time</th><th>Identifier</th><th>Reason</th><th>Pool</th><th>Mix</th></tr></thead><tbody></tbody></table></section>
</main>`,
    `<meta name="csrf-token" content="${escapeHtml(csrf)}"><script src="/dashboard/assets/app.js" defer></script><script src="/dashboard/assets/charts.js" defer></script>`,
  );
}

/** The page script (plain ES2020, no dependencies). */
export const DASHBOARD_JS = `'use strict';
const csrf = document.querySelector('meta[name="csrf-token"]').content;
function ms(v) { if (v == null) return ''; const s = Math.round(v / 1000); return s < 120 ? s + ' s' : Math.round(s / 60) + ' min'; }
function queued(s, n) { return s.mixStatus == null ? '' : n == null ? 'n/a' : n; }
function time(iso) { return iso ? new Date(iso).toLocaleString() : 'never'; }
function row(cells, attrs) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
  for (const c of cells) { const td = document.createElement('td'); if (c instanceof Node) td.append(c); else td.textContent = c == null ? '' : String(c); tr.append(td); }
  return tr;
}
function fill(id, rows) { const tb = document.querySelector('#' + id + ' tbody'); tb.replaceChildren(...rows); }
async function unban(identifier, button) {
  button.disabled = true;
  const r = await fetch('/dashboard/api/unban', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ identifier }) });
  if (!r.ok) { button.disabled = false; alert('Unban failed: ' + r.status); return; }
  await refresh();
}
function render(v) {
  document.getElementById('updated').textContent = 'served by ' + (v.servedBy || '?') + ', updated ' + new Date(v.generatedAt).toLocaleTimeString();
  fill('instances', v.instances.map((i) => row([i.id, i.status, i.pools.join(', ') || '(idle)', ms(i.heartbeatAgeMs), i.version, i.urlClear, i.urlOnion], { instance: i.id, state: i.state })));
  fill('pools', v.pools.map((p) => { const s = p.status || {}; return row([p.poolId, p.owner || '(none)', p.epoch, p.leaseHeld ? ms(p.leaseRemainingMs) : 'free', s.mixStatus || '', ms(s.elapsedMs), s.nbConfirmed == null ? '' : s.nbConfirmed + '/' + p.anonymitySet, queued(s, s.nbMustMixQueued), queued(s, s.nbLiquidityQueued), s.nbRegistered], { pool: p.poolId, owner: p.owner || '' }); }));
  document.getElementById('mix-stats').textContent = v.stats.nbSuccess + ' successful mixes';
  fill('mixes', v.mixes.map((m) => row([time(m.updated), m.poolId, m.status, m.anonymitySet, m.instanceId, m.txid || m.failReason], { mix: m.mixId, status: m.status })));
  fill('bans', v.bans.map((b) => { const btn = document.createElement('button'); btn.type = 'button'; btn.textContent = 'Unban'; btn.className = 'unban'; btn.addEventListener('click', () => unban(b.identifier, btn)); return row([b.identifier, time(b.created), b.expiration ? time(b.expiration) : 'permanent', b.notes, btn], { identifier: b.identifier }); }));
  fill('blames', v.blames.map((b) => row([time(b.created), b.identifier, b.reason, b.poolId, b.mixId], { identifier: b.identifier })));
}
async function refresh() {
  try {
    const r = await fetch('/dashboard/api/state', { headers: { accept: 'application/json' } });
    if (r.status === 401) { location.href = '/dashboard/login'; return; }
    if (!r.ok) { document.getElementById('updated').textContent = 'database unavailable, retrying…'; return; }
    render(await r.json());
  } catch (e) { document.getElementById('updated').textContent = 'instance unreachable, retrying…'; }
}
document.getElementById('logout').addEventListener('click', async () => { await fetch('/dashboard/logout', { method: 'POST', headers: { 'x-csrf-token': csrf } }); location.href = '/dashboard/login'; });
refresh();
setInterval(refresh, 2000);
`;

/** The page stylesheet. */
export const DASHBOARD_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#1d2430;color:#fff}
header h1{font-size:1.1rem;margin:0}#updated{flex:1;opacity:.8}
main{padding:1rem 1.2rem}section{margin-bottom:1.4rem}h2{font-size:1rem;margin:.2rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e6ea;font-variant-numeric:tabular-nums}
th{background:#eef0f3;font-weight:600}td{word-break:break-all}
.login{max-width:22rem;margin:4rem auto;background:#fff;padding:1.5rem;border-radius:6px}
.login label{display:block;margin:.6rem 0}.login input{width:100%;padding:.4rem;box-sizing:border-box}
.error{color:#b00020}button{cursor:pointer}`;
