export interface HttpProbe {
  /** An HTTP answer below 500. */
  ok: boolean;
  status: number | null;
  reason: string;
  /** The JSON body, when there was one. */
  body: unknown;
}

/** One GET with a timeout and no redirects followed; never throws. */
export async function probeHttp(url: string, timeoutMs: number): Promise<HttpProbe> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    let body: unknown = null;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = null;
    }
    return { ok: response.status < 500, status: response.status, reason: `HTTP ${response.status}`, body };
  } catch (error) {
    return { ok: false, status: null, reason: describeNetworkError(error, timeoutMs), body: null };
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.message === 'string' && cause.message !== '') return cause.message;
  if (cause && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.message : String(error);
}
