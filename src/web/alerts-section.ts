import type { Severity } from '../alerts/index.ts';
import type { StuckConnection } from '../health/index.ts';
import { escapeHtml } from './message-page.ts';
import { SILENCE_DURATIONS } from './silence-form.ts';

/** One firing alert as the page lists it. */
export interface FiringAlertRow {
  type: string;
  key: string;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  firstSeenAt: number;
  escalated: boolean;
  /** A silence in force matches it: it is recorded but not sent. */
  silenced: boolean;
}

export interface AlertsSectionView {
  /** Highest severity first, then the longest firing. */
  alerts: FiringAlertRow[];
  /** More alerts fire than are listed. */
  alertsTruncated: boolean;
  /** As `GET /v1/stuck` orders them: highest severity first, then the longest stuck. */
  stuck: StuckConnection[];
  stuckTruncated: boolean;
  basePath: string;
  nowMs: number;
}

export const ALERTS_STYLE = `
  .sev-HIGH { color: var(--bad); background: color-mix(in srgb, var(--bad) 13%, transparent); }
  .sev-MEDIUM { color: var(--warn); background: color-mix(in srgb, var(--warn) 15%, transparent); }
  .sev-LOW { color: var(--muted); background: color-mix(in srgb, var(--muted) 14%, transparent); }
  .status-connect_session { color: var(--muted); background: color-mix(in srgb, var(--muted) 14%, transparent); }
  .labels { display:flex; flex-wrap:wrap; gap:4px; }
  .label { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; border:1px solid var(--line); border-radius:6px; padding:0 6px; overflow-wrap:anywhere; }
  td code.alert-type { white-space: nowrap; word-break: normal; color: var(--fg); }
  .summary { overflow-wrap:anywhere; max-width: 340px; }
  .when { white-space: nowrap; }
  form.silence { display:flex; gap:6px; align-items:center; margin:0; }
  form.silence select { font: inherit; font-size:13px; padding:3px 6px; border:1px solid var(--line); border-radius:6px; background: var(--bg); color: var(--fg); }
  button.silence { font: inherit; font-size:13px; font-weight:600; padding:3px 12px; border-radius:6px; border:1px solid var(--accent); background: transparent; color: var(--accent); cursor:pointer; }
  button.silence:hover { background: color-mix(in srgb, var(--accent) 10%, transparent); }
  .action { max-width: 420px; overflow-wrap:anywhere; font-size:13px; }
`;

const STUCK_STATE_LABELS: Record<StuckConnection['state'], string> = {
  connect_session: 'connect unfinished',
  degraded: 'degraded',
  needs_reauth: 'needs reauth',
};

/**
 * Firing alerts, each with a Silence form: a plain same-origin POST (no script needed) that
 * silences that alert for the chosen time and comes back to the page with a banner.
 */
export function renderFiringAlerts(view: AlertsSectionView): string {
  const rows = view.alerts
    .map(
      (alert) => `<tr data-alert-type="${escapeHtml(alert.type)}" data-alert-key="${escapeHtml(alert.key)}">
<td><span class="badge sev-${alert.severity}" data-testid="severity">${alert.severity}</span>${alert.escalated ? '<div class="muted">escalated</div>' : ''}</td>
<td><code class="alert-type">${escapeHtml(alert.type)}</code><div><code data-testid="alert-key">${escapeHtml(alert.key)}</code></div></td>
<td class="summary" data-testid="summary">${escapeHtml(alert.summary)}</td>
<td><div class="labels" data-testid="labels">${renderLabels(alert.labels)}</div></td>
<td class="when" data-testid="since" title="${new Date(alert.firstSeenAt).toISOString()}">${formatAge(view.nowMs - alert.firstSeenAt)} ago</td>
<td data-testid="silenced">${alert.silenced ? '<span class="badge status-disabled">silenced</span>' : '<span class="muted">no</span>'}</td>
<td>${renderSilenceForm(alert, view.basePath)}</td>
</tr>`,
    )
    .join('\n');
  return `<section class="card" aria-labelledby="alerts-title" data-testid="firing-alerts">
<h2 id="alerts-title">Firing alerts <span class="count">${view.alerts.length}${view.alertsTruncated ? '+' : ''}</span></h2>
${
  view.alerts.length === 0
    ? '<p class="empty" data-testid="no-alerts">No alerts are firing.</p>'
    : `<div class="table-wrap"><table>
<thead><tr><th>Severity</th><th>Alert</th><th>Summary</th><th>Labels</th><th>Since</th><th>Silenced</th><th></th></tr></thead>
<tbody>
${rows}
</tbody></table></div>${view.alertsTruncated ? `<p class="muted">Only the first ${view.alerts.length} firing alerts are listed; use <code>GET /v1/alerts?state=firing</code> for all.</p>` : ''}`
}
</section>`;
}

function renderLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '<span class="muted">—</span>';
  return entries.map(([name, value]) => `<span class="label">${escapeHtml(name)}=${escapeHtml(value)}</span>`).join('');
}

function renderSilenceForm(alert: FiringAlertRow, basePath: string): string {
  const options = Object.entries(SILENCE_DURATIONS)
    .map(([value, { label }]) => `<option value="${value}">${label}</option>`)
    .join('');
  return `<form class="silence" method="post" action="${basePath}/ui/alerts/silence">
<input type="hidden" name="type" value="${escapeHtml(alert.type)}"><input type="hidden" name="key" value="${escapeHtml(alert.key)}">
<select name="duration" aria-label="Silence for">${options}</select>
<button class="silence" type="submit">Silence</button>
</form>`;
}

/** Stuck connections: how long, whether only a person can help (terminal), and what would unstick each. */
export function renderStuckConnections(view: AlertsSectionView): string {
  const rows = view.stuck
    .map((item) => {
      const owner = item.kind === 'system' ? '<span class="muted">system</span>' : escapeHtml(item.ownerId ?? '—');
      return `<tr data-stuck-id="${escapeHtml(item.id)}">
<td><span class="badge status-${item.state}" data-testid="stuck-state">${STUCK_STATE_LABELS[item.state]}</span><div><code>${escapeHtml(item.id)}</code></div></td>
<td><span class="badge sev-${item.severity}" data-testid="severity">${item.severity}</span></td>
<td data-testid="terminal">${item.terminal ? '<strong>terminal</strong>' : '<span class="muted">no</span>'}</td>
<td>${escapeHtml(item.integration)}<div class="owner">${owner}</div></td>
<td class="when" data-testid="stuck-for" title="since ${new Date(item.since).toISOString()}">${formatAge(item.stuckForMs)}</td>
<td class="action"><span data-testid="action">${escapeHtml(item.action)}</span>${item.reason ? `<div class="muted" data-testid="stuck-reason">${escapeHtml(item.reason)}</div>` : ''}</td>
</tr>`;
    })
    .join('\n');
  return `<section class="card" aria-labelledby="stuck-title" data-testid="stuck-connections">
<h2 id="stuck-title">Stuck connections <span class="count">${view.stuck.length}${view.stuckTruncated ? '+' : ''}</span></h2>
${
  view.stuck.length === 0
    ? '<p class="empty" data-testid="no-stuck">No connection is stuck.</p>'
    : `<div class="table-wrap"><table>
<thead><tr><th>State</th><th>Severity</th><th>Terminal</th><th>Integration / owner</th><th>Stuck for</th><th>What would unstick it</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>${view.stuckTruncated ? `<p class="muted">Only the first ${view.stuck.length} are listed; use <code>GET /v1/stuck</code> for all.</p>` : ''}`
}
</section>`;
}

/** `45s`, `31m`, `5h 12m`, `3d 4h`: how long something has lasted, to the page's precision. */
export function formatAge(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m`;
  return `${total}s`;
}
