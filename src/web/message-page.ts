/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const BASE_STYLE = `
  :root { color-scheme: light dark; --fg:#1b1f24; --muted:#5b6470; --bg:#f6f7f9; --card:#fff; --line:#e3e6ea; --accent:#2f6fde; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; }
  @media (prefers-color-scheme: dark) { :root { --fg:#e6e8eb; --muted:#9aa4ae; --bg:#0f1216; --card:#171b21; --line:#2a3038; } }
  * { box-sizing: border-box; }
  body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  main { max-width: 880px; margin: 0 auto; padding: 32px 20px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:20px 24px; margin: 16px 0; }
  h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 0 0 12px; }
  code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
  .muted { color: var(--muted); }
  .brand { font-weight: 650; letter-spacing: .2px; }
`;

/** A small standalone page for the connect flow's outcomes (done, or an error with its code). */
export function renderMessagePage(options: { title: string; message: string; code?: string; ok: boolean; hint?: string }): string {
  const color = options.ok ? 'var(--ok)' : 'var(--bad)';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · Tokenkeeper</title>
<style>${BASE_STYLE} h1 { color: ${color}; }</style></head>
<body><main><div class="card" role="${options.ok ? 'status' : 'alert'}">
<p class="brand muted">Tokenkeeper</p>
<h1>${escapeHtml(options.title)}</h1>
<p data-testid="message">${escapeHtml(options.message)}</p>
${options.code ? `<p class="muted">Error code: <code data-testid="error-code">${escapeHtml(options.code)}</code></p>` : ''}
${options.hint ? `<p class="muted">${escapeHtml(options.hint)}</p>` : ''}
</div></main></body></html>`;
}
