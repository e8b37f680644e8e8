/**
 * The sandbox's server-rendered pages: login, consent, errors and a landing page. Plain HTML
 * with inline CSS and no scripts, so a person can click through them in any browser and a test
 * can walk them with fetch (test/helpers/sandbox-login.ts finds the forms by their ids:
 * `login-form`, `cancel-form`, `allow-form`, `deny-form`).
 */

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f1f4f9;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937}
main{width:100%;max-width:420px;margin:24px;background:#fff;border-radius:12px;padding:32px;
box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06)}
.brand{display:flex;align-items:center;gap:8px;font-size:13px;font-weight:600;color:#4b5563;letter-spacing:.02em;margin-bottom:20px}
.brand .dot{width:10px;height:10px;border-radius:50%;background:#f59e0b}
.brand .tag{margin-left:auto;font-weight:500;background:#fef3c7;color:#92400e;border-radius:999px;padding:2px 10px}
h1{font-size:22px;margin:0 0 8px}
p{margin:0 0 16px;color:#4b5563}
label{display:block;font-size:14px;font-weight:600;margin-bottom:6px}
input[type=text]{width:100%;padding:10px 12px;font-size:16px;border:1px solid #cbd5e1;border-radius:8px;margin-bottom:16px}
input[type=text]:focus{outline:2px solid #2563eb;border-color:#2563eb}
button{width:100%;padding:11px 16px;font-size:15px;font-weight:600;border-radius:8px;border:1px solid transparent;cursor:pointer}
.primary{background:#2563eb;color:#fff}.primary:hover{background:#1d4ed8}
.secondary{background:#fff;color:#374151;border-color:#cbd5e1}.secondary:hover{background:#f8fafc}
.row{display:flex;gap:12px}.row form{flex:1}
ul{padding:0;margin:0 0 20px;list-style:none;border:1px solid #e5e7eb;border-radius:8px}
li{padding:10px 14px;border-top:1px solid #e5e7eb;font-size:14px}li:first-child{border-top:0}
li code{color:#6b7280;font-size:12px;margin-left:6px}
.error{background:#fef2f2;color:#991b1b;border-radius:8px;padding:10px 12px;font-size:14px}
.hint{font-size:13px;color:#6b7280;margin-top:16px}
.link-button{margin-top:10px}
dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px;font-size:14px;margin:0 0 8px}
dt{color:#6b7280}dd{margin:0;word-break:break-all;font-family:ui-monospace,Menlo,monospace;font-size:13px}
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Tokenkeeper sandbox</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<div class="brand"><span class="dot"></span>Tokenkeeper sandbox<span class="tag">development only</span></div>
${body}
</main>
</body>
</html>`;
}

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your account id)',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay connected while you are away',
  api: 'Call the sandbox demo API for you',
};

function scopeList(scopes: string[]): string {
  if (scopes.length === 0) return '';
  const items = scopes
    .map((scope) => `<li>${escapeHtml(SCOPE_DESCRIPTIONS[scope] ?? scope)}<code>${escapeHtml(scope)}</code></li>`)
    .join('');
  return `<ul>${items}</ul>`;
}

export interface LoginPageInput {
  uid: string;
  clientName: string;
  error?: string;
  username?: string;
}

export function renderLoginPage(input: LoginPageInput): string {
  const uid = encodeURIComponent(input.uid);
  const error = input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : '';
  return layout('Sign in', `
<h1>Sign in</h1>
<p><strong>${escapeHtml(input.clientName)}</strong> wants you to sign in to the sandbox.</p>
${error}
<form id="login-form" method="post" action="/interaction/${uid}/login">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autofocus required maxlength="64"
 placeholder="alice" value="${escapeHtml(input.username ?? '')}">
<button class="primary" type="submit">Sign in</button>
</form>
<form id="cancel-form" class="link-button" method="post" action="/interaction/${uid}/abort">
<button class="secondary" type="submit">Cancel</button>
</form>
<p class="hint">Any username works and there is no password: the username becomes your account id,
with the email address <em>username</em>@sandbox.test.</p>`);
}

export interface ConsentPageInput {
  uid: string;
  clientName: string;
  accountId: string;
  scopes: string[];
}

export function renderConsentPage(input: ConsentPageInput): string {
  const uid = encodeURIComponent(input.uid);
  return layout('Allow access', `
<h1>Allow access?</h1>
<p><strong>${escapeHtml(input.clientName)}</strong> wants to access the sandbox account
<strong>${escapeHtml(input.accountId)}</strong>${input.scopes.length ? ' and to:' : '.'}</p>
${scopeList(input.scopes)}
<div class="row">
<form id="deny-form" method="post" action="/interaction/${uid}/abort">
<button class="secondary" type="submit" name="decision" value="deny">Deny</button>
</form>
<form id="allow-form" method="post" action="/interaction/${uid}/confirm">
<button class="primary" type="submit" name="decision" value="allow" autofocus>Allow</button>
</form>
</div>`);
}

export function renderMessagePage(title: string, message: string, details: Record<string, string> = {}): string {
  const rows = Object.entries(details)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  return layout(title, `
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
${rows ? `<dl>${rows}</dl>` : ''}`);
}

export interface LandingPageInput {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

export function renderLandingPage(input: LandingPageInput): string {
  return renderMessagePage(
    'Sandbox OAuth provider',
    'A local OAuth 2.0 / OpenID Connect provider for trying Tokenkeeper without the internet. Sign-in starts from an app, not here.',
    {
      issuer: input.issuer,
      discovery: `${input.issuer}/.well-known/openid-configuration`,
      client_id: input.clientId,
      client_secret: input.clientSecret,
      'demo API': `${input.issuer}/api/me`,
    },
  );
}
