import { ALERTS_STYLE, renderFiringAlerts, renderStuckConnections, type AlertsSectionView } from './alerts-section.ts';
import { countdownScript, formatRemaining, SOON_MS } from './countdown.ts';
import { BASE_STYLE, escapeHtml } from './message-page.ts';

export interface IntegrationRow {
  key: string;
  provider: string;
  displayName: string | null;
  enabled: boolean;
  status: 'ok' | 'failing' | 'disabled';
  /** Set while the provider rejects the integration's own credentials: its error, as it said it. */
  failure: { code: string; message: string; since: number } | null;
  /** The kill switch for its actions (`actions_enabled`); null when no action applies to it. */
  actions: { enabled: boolean } | null;
}

export interface ConnectionRow {
  id: string;
  integrationKey: string;
  ownerId: string | null;
  kind: 'user' | 'system';
  accountLabel: string | null;
  accountId: string | null;
  status: string;
  statusReason: string | null;
  expiresAt: number | null;
}

export interface Banner {
  ok: boolean;
  title: string;
  message: string;
  code?: string;
}

/** The page: firing alerts and stuck connections (AlertsSectionView), integrations, connections. */
export interface HomePageView extends AlertsSectionView {
  integrations: IntegrationRow[];
  /** Newest first. */
  connections: ConnectionRow[];
  /** More connections exist than are listed. */
  truncated: boolean;
  banner: Banner | null;
  /** The connection the user just connected: highlighted. */
  highlightId: string | null;
  /** Path prefix of the public URL ('' or '/prefix'), for links and form actions. */
  basePath: string;
  env: 'development' | 'production';
  nowMs: number;
  /** CSP nonce of the inline script. */
  nonce: string;
  defaultOwnerId: string;
  /** Development only: where the quick start's API key lives, for the curl hint. */
  devApiKeyPath: string | null;
  publicUrl: string;
}

const STATUS_LABELS: Record<string, string> = {
  pending: 'pending',
  active: 'active',
  degraded: 'degraded',
  needs_reauth: 'needs reauth',
  revoked: 'revoked',
};

const PAGE_STYLE = `
  main { max-width: 1080px; }
  header.top { display:flex; align-items:baseline; gap:12px; flex-wrap:wrap; margin-bottom: 4px; }
  header.top h1 { margin:0; }
  header.top nav { margin-left:auto; display:flex; gap:14px; font-size:14px; }
  a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
  .env { font-size:12px; font-weight:600; border-radius:999px; padding:2px 10px; background: color-mix(in srgb, var(--accent) 14%, transparent); color: var(--accent); }
  .env.production { background: color-mix(in srgb, var(--bad) 14%, transparent); color: var(--bad); }
  .card h2 { display:flex; align-items:center; gap:10px; }
  .card h2 .count { font-size:13px; font-weight:500; color:var(--muted); }
  table { width:100%; border-collapse: collapse; font-size:14px; }
  th { text-align:left; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); padding:8px 10px; border-bottom:1px solid var(--line); }
  td { padding:10px; border-bottom:1px solid var(--line); vertical-align: middle; }
  tr:last-child td { border-bottom:0; }
  tr.highlight td { background: color-mix(in srgb, var(--ok) 9%, transparent); }
  td code { font-size:12px; color: var(--muted); word-break: break-all; }
  .reason { color: var(--muted); max-width: 260px; overflow-wrap: anywhere; }
  .owner { overflow-wrap: anywhere; }
  .badge { display:inline-block; font-size:12px; font-weight:600; border-radius:999px; padding:2px 10px; white-space:nowrap; border:1px solid transparent; }
  .status-active { color: var(--ok); background: color-mix(in srgb, var(--ok) 13%, transparent); }
  .status-degraded { color: var(--warn); background: color-mix(in srgb, var(--warn) 15%, transparent); }
  .status-needs_reauth, .status-failing { color: var(--bad); background: color-mix(in srgb, var(--bad) 13%, transparent); }
  .status-revoked, .status-pending, .status-disabled { color: var(--muted); background: color-mix(in srgb, var(--muted) 14%, transparent); }
  .countdown { font-variant-numeric: tabular-nums; white-space: nowrap; }
  .countdown.soon { color: var(--warn); font-weight: 600; }
  .countdown.expired { color: var(--bad); font-weight: 600; }
  .owner-field { display:flex; align-items:center; gap:10px; margin: 0 0 14px; flex-wrap: wrap; }
  .owner-field label { font-size:14px; font-weight:600; }
  .owner-field input { font: inherit; padding:6px 10px; border:1px solid var(--line); border-radius:8px; background: var(--bg); color: var(--fg); min-width: 220px; }
  .owner-field input:focus { outline: 2px solid var(--accent); border-color: var(--accent); }
  button.connect { font: inherit; font-weight:600; font-size:14px; padding:6px 16px; border-radius:8px; border:1px solid transparent; background: var(--accent); color:#fff; cursor:pointer; }
  button.connect:hover { filter: brightness(1.08); }
  button.connect:disabled { background: var(--line); color: var(--muted); cursor: not-allowed; }
  .banner { border-radius:10px; padding:14px 18px; margin:16px 0; border:1px solid; }
  .banner strong { display:block; margin-bottom:2px; }
  .banner.ok { border-color: color-mix(in srgb, var(--ok) 40%, transparent); background: color-mix(in srgb, var(--ok) 10%, var(--card)); }
  .banner.ok strong { color: var(--ok); }
  .banner.error { border-color: color-mix(in srgb, var(--bad) 40%, transparent); background: color-mix(in srgb, var(--bad) 8%, var(--card)); }
  .banner.error strong { color: var(--bad); }
  .empty { color: var(--muted); margin: 4px 0; }
  pre { background: var(--bg); border:1px solid var(--line); border-radius:8px; padding:10px 12px; overflow-x:auto; margin: 8px 0 0; }
  .table-wrap { overflow-x: auto; }
  form.actions-switch { margin:6px 0 0; }
  button.actions-switch { font: inherit; font-size:13px; font-weight:600; padding:3px 12px; border-radius:6px; border:1px solid var(--accent); background: transparent; color: var(--accent); cursor:pointer; white-space:nowrap; }
  button.actions-switch:hover { background: color-mix(in srgb, var(--accent) 10%, transparent); }
`;

export function renderHomePage(view: HomePageView): string {
  const { basePath } = view;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>Tokenkeeper</title>
<style>${BASE_STYLE}${PAGE_STYLE}${ALERTS_STYLE}</style></head>
<body data-server-now="${new Date(view.nowMs).toISOString()}"><main>
<header class="top">
<h1 class="brand">Tokenkeeper</h1>
<span class="env ${view.env}">${view.env}</span>
<nav><a href="${basePath}/openapi.json">API (OpenAPI)</a><a href="${basePath}/health">Health</a><a href="${basePath}/metrics">Metrics</a></nav>
</header>
<p class="muted">Operator alerts, connected accounts and the state of their tokens. Tokens themselves are never shown here.</p>
${view.banner ? renderBanner(view.banner) : ''}
${renderFiringAlerts(view)}
${renderStuckConnections(view)}
${renderIntegrations(view)}
${renderConnections(view)}
${view.devApiKeyPath ? renderDevHint(view) : ''}
</main>
<script nonce="${view.nonce}">${countdownScript(`${basePath}/ui/connections.json`)}</script>
</body></html>`;
}

function renderBanner(banner: Banner): string {
  return `<div class="banner ${banner.ok ? 'ok' : 'error'}" role="${banner.ok ? 'status' : 'alert'}" data-testid="banner">
<strong>${escapeHtml(banner.title)}</strong>${escapeHtml(banner.message)}${
    banner.code ? ` <span class="muted">(error code <code data-testid="banner-code">${escapeHtml(banner.code)}</code>)</span>` : ''
  }</div>`;
}

function renderIntegrations(view: HomePageView): string {
  const rows = view.integrations
    .map(
      (integration) => `<tr data-integration="${escapeHtml(integration.key)}">
<td><strong>${escapeHtml(integration.displayName ?? integration.key)}</strong></td>
<td><code>${escapeHtml(integration.key)}</code></td>
<td>${escapeHtml(integration.provider)}</td>
<td>${renderIntegrationState(integration)}</td>
<td data-testid="actions">${renderActionsSwitch(integration, view.basePath)}</td>
<td><button class="connect" type="submit" form="connect-form" name="integration" value="${escapeHtml(integration.key)}"${
        integration.enabled ? '' : ' disabled title="This integration is disabled"'
      }>Connect</button></td>
</tr>`,
    )
    .join('\n');
  return `<section class="card" aria-labelledby="integrations-title">
<h2 id="integrations-title">Integrations <span class="count">${view.integrations.length}</span></h2>
<form id="connect-form" method="post" action="${view.basePath}/ui/connect">
<div class="owner-field"><label for="owner-id">Connect for owner</label>
<input id="owner-id" name="owner_id" type="text" required maxlength="200" pattern="[!-~]{1,200}" autocomplete="off" spellcheck="false"
 value="${escapeHtml(view.defaultOwnerId)}" title="Your application's user id: 1-200 printable characters, no spaces">
<span class="muted">your application's user id</span></div>
</form>
${
  view.integrations.length === 0
    ? `<p class="empty">No integrations yet. Add one with <code>tokenkeeper integrations add</code> or <code>POST /v1/integrations</code>.</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th>Name</th><th>Key</th><th>Provider</th><th>State</th><th>Actions</th><th></th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`
}
</section>`;
}

/**
 * Enabled, disabled, or failing: the provider rejects the integration's own client id or secret.
 * A failing one shows the provider's error as it said it, because that is what tells the
 * operator which credential to fix; the users' connections are untouched meanwhile.
 */
function renderIntegrationState(integration: IntegrationRow): string {
  const failure = integration.failure
    ? `<div class="reason" data-testid="integration-failure">The provider rejects this integration's credentials since ${escapeHtml(new Date(integration.failure.since).toISOString())}: <code>${escapeHtml(integration.failure.code)}</code> ${escapeHtml(integration.failure.message.replace(/\.+$/, ''))}. Fix the client id or secret (<code>PATCH /v1/integrations/${escapeHtml(integration.key)}</code>); connections are kept and resume then.</div>`
    : '';
  if (integration.status === 'disabled') return `<span class="badge status-disabled">disabled</span>${failure}`;
  if (integration.status === 'failing') return `<span class="badge status-failing" data-testid="integration-status">failing</span>${failure}`;
  return '<span class="badge status-active">enabled</span>';
}

/**
 * The integration's kill switch for actions (docs/actions.md "Kill switch"), for an incident: a
 * plain same-origin POST (no script needed) that sets `actions_enabled` to the state the button
 * names and comes back to the page with a banner. `—` when no action applies to the integration.
 */
function renderActionsSwitch(integration: IntegrationRow, basePath: string): string {
  if (integration.actions === null) return '<span class="muted">—</span>';
  const { enabled } = integration.actions;
  const state = enabled
    ? '<span class="badge status-active" data-testid="actions-state">on</span>'
    : '<span class="badge status-disabled" data-testid="actions-state">off</span><div class="reason" data-testid="actions-off">Its actions answer <code>501 action_disabled</code> and send nothing; the proxy keeps working.</div>';
  return `${state}<form class="actions-switch" method="post" action="${basePath}/ui/integrations/actions">
<input type="hidden" name="integration" value="${escapeHtml(integration.key)}">
<input type="hidden" name="actions_enabled" value="${enabled ? 'false' : 'true'}">
<button class="actions-switch" type="submit">${enabled ? 'Turn actions off' : 'Turn actions on'}</button>
</form>`;
}

function renderConnections(view: HomePageView): string {
  const rows = view.connections
    .map((connection) => {
      const owner = connection.kind === 'system' ? '<span class="muted">system</span>' : escapeHtml(connection.ownerId ?? '');
      const account = connection.accountLabel ?? connection.accountId;
      const status = escapeHtml(connection.status);
      return `<tr data-connection-id="${escapeHtml(connection.id)}"${connection.id === view.highlightId ? ' class="highlight"' : ''}>
<td><code>${escapeHtml(connection.id)}</code></td>
<td>${escapeHtml(connection.integrationKey)}</td>
<td class="owner">${owner}</td>
<td class="owner">${account === null ? '<span class="muted">—</span>' : escapeHtml(account)}</td>
<td><span class="badge status-${status}" data-testid="status">${escapeHtml(STATUS_LABELS[connection.status] ?? connection.status)}</span></td>
<td class="reason">${escapeHtml(connection.statusReason ?? '—')}</td>
<td>${renderCountdown(connection.expiresAt, view.nowMs)}</td>
</tr>`;
    })
    .join('\n');
  return `<section class="card" aria-labelledby="connections-title">
<h2 id="connections-title">Connections <span class="count">${view.connections.length}${view.truncated ? '+' : ''}</span></h2>
${
  view.connections.length === 0
    ? `<p class="empty">No connections yet. Press <strong>Connect</strong> next to an integration above.</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th>Connection</th><th>Integration</th><th>Owner</th><th>Account</th><th>Status</th><th>Reason</th><th>Token expires</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>${view.truncated ? `<p class="muted">Only the first ${view.connections.length} connections are listed; use <code>GET /v1/connections</code> for all.</p>` : ''}`
}
</section>`;
}

function renderCountdown(expiresAt: number | null, nowMs: number): string {
  if (expiresAt === null) return '<span class="countdown" data-testid="countdown">no expiry</span>';
  const left = expiresAt - nowMs;
  const state = left <= 0 ? ' expired' : left < SOON_MS ? ' soon' : '';
  const iso = new Date(expiresAt).toISOString();
  return `<span class="countdown${state}" data-testid="countdown" data-expires-at="${iso}" title="${iso}">${formatRemaining(left)}</span>`;
}

function renderDevHint(view: HomePageView): string {
  const id = view.highlightId ?? view.connections.find((c) => c.kind === 'user')?.id ?? '<connection id>';
  const command = `curl -H "Authorization: Bearer $(cat \"${view.devApiKeyPath}\")" \\\n  ${view.publicUrl}/v1/connections/${id}/token`;
  return `<section class="card" aria-labelledby="try-title">
<h2 id="try-title">Fetch a token</h2>
<p class="muted">Development only: this command reads the API key that was generated into the data directory at start-up.</p>
<pre><code>${escapeHtml(command)}</code></pre>
</section>`;
}
