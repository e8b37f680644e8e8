/**
 * The expiry countdown, rendered once on the server (so the page reads right without
 * JavaScript) and then every second in the browser by COUNTDOWN_SCRIPT, which holds the same
 * formatting in plain JavaScript. Seconds are always shown below a day so the text visibly moves.
 */
export function formatRemaining(ms: number): string {
  if (ms <= 0) return 'expired';
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (days > 0) return `in ${days}d ${hours}h`;
  if (hours > 0) return `in ${hours}h ${two(minutes)}m ${two(seconds)}s`;
  if (minutes > 0) return `in ${minutes}m ${two(seconds)}s`;
  return `in ${seconds}s`;
}

/** Under this, the countdown turns amber: a refresh is imminent (or overdue). */
export const SOON_MS = 60_000;

/**
 * The page's only script. Reads `data-expires-at` (ISO 8601) on every countdown and rewrites it
 * each second, correcting for the browser's clock with the server time the page was rendered
 * at (`data-server-now` on <body>). Every 15 s it asks `/ui/connections.json` for fresh
 * statuses and expiry times (a refresh moves `expires_at` forward); when connections appeared
 * or vanished it reloads the page instead. It also remembers the owner id typed into the
 * Connect form, and drops the one-shot banner parameters from the address bar so a reload
 * does not show the banner again.
 */
export function countdownScript(stateUrl: string): string {
  return `(() => {
  const body = document.body;
  let offset = Date.parse(body.dataset.serverNow) - Date.now();
  const soonMs = ${SOON_MS};
  const two = (n) => String(n).padStart(2, '0');
  function format(ms) {
    if (ms <= 0) return 'expired';
    const total = Math.floor(ms / 1000);
    const days = Math.floor(total / 86400), hours = Math.floor((total % 86400) / 3600);
    const minutes = Math.floor((total % 3600) / 60), seconds = total % 60;
    if (days > 0) return 'in ' + days + 'd ' + hours + 'h';
    if (hours > 0) return 'in ' + hours + 'h ' + two(minutes) + 'm ' + two(seconds) + 's';
    if (minutes > 0) return 'in ' + minutes + 'm ' + two(seconds) + 's';
    return 'in ' + seconds + 's';
  }
  function tick() {
    const now = Date.now() + offset;
    for (const el of document.querySelectorAll('[data-expires-at]')) {
      const left = Date.parse(el.dataset.expiresAt) - now;
      el.textContent = format(left);
      el.classList.toggle('expired', left <= 0);
      el.classList.toggle('soon', left > 0 && left < soonMs);
    }
  }
  tick();
  setInterval(tick, 1000);

  const labels = { pending: 'pending', active: 'active', degraded: 'degraded', needs_reauth: 'needs reauth', revoked: 'revoked' };
  async function poll() {
    try {
      const response = await fetch(${JSON.stringify(stateUrl)}, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!response.ok) return;
      const state = await response.json();
      const rows = Array.from(document.querySelectorAll('tr[data-connection-id]'));
      const shown = rows.map((row) => row.dataset.connectionId).sort().join(',');
      if (shown !== state.connections.map((c) => c.id).sort().join(',')) { location.reload(); return; }
      offset = Date.parse(state.now) - Date.now();
      for (const row of rows) {
        const c = state.connections.find((x) => x.id === row.dataset.connectionId);
        const badge = row.querySelector('.badge');
        badge.className = 'badge status-' + c.status;
        badge.textContent = labels[c.status] || c.status;
        row.querySelector('.reason').textContent = c.status_reason || '—';
        const countdown = row.querySelector('.countdown');
        if (c.expires_at) countdown.dataset.expiresAt = c.expires_at;
        else { delete countdown.dataset.expiresAt; countdown.textContent = 'no expiry'; countdown.className = 'countdown'; }
      }
      tick();
    } catch {}
  }
  setInterval(poll, 15000);

  const owner = document.getElementById('owner-id');
  try {
    const saved = localStorage.getItem('tokenkeeper.owner_id');
    if (owner && saved) owner.value = saved;
    document.getElementById('connect-form').addEventListener('submit', () => localStorage.setItem('tokenkeeper.owner_id', owner.value.trim()));
  } catch {}
  const url = new URL(location.href);
  const oneShot = ['connection_id', 'status', 'error', 'silenced', 'silence_error'];
  if (oneShot.some((p) => url.searchParams.has(p))) {
    for (const p of oneShot) url.searchParams.delete(p);
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
})();`;
}
