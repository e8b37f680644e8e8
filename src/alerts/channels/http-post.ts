import { ChannelDeliveryError, originOf, scrubSecrets } from './delivery-error.ts';

/** One POST of a channel. */
export interface ChannelPost {
  /** The channel's name, for the error. */
  channel: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The engine's signal: aborting it ends the request. */
  signal: AbortSignal;
  /** The channel's own request timeout, covering connection, answer and body. */
  timeoutMs: number;
  /** Values that must not appear in an error message (tokens, keys, the URL's secret path). */
  secrets: readonly (string | null | undefined)[];
}

/** The provider's answer to a successful POST. */
export interface ChannelAnswer {
  status: number;
  /** At most `MAX_ANSWER_BYTES` of the body, as text. */
  text: string;
}

/** Enough for any provider's JSON answer; a larger one is cut, not buffered whole. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** How much of a failed answer an error message quotes. */
const QUOTED_CHARS = 200;

/**
 * POSTs with a timeout and turns every way of failing into a `ChannelDeliveryError` whose message
 * names only the URL's origin and has the channel's secrets scrubbed. Redirects are not followed
 * (a 3xx is a failure): a provider's API does not redirect, and following one would send a signed
 * body somewhere the operator never configured. Resolves only for a 2xx.
 */
export async function postToChannel(post: ChannelPost): Promise<ChannelAnswer> {
  const where = originOf(post.url);
  const timeout = AbortSignal.timeout(post.timeoutMs);
  const signal = AbortSignal.any([post.signal, timeout]);
  let status: number;
  let text: string;
  try {
    const response = await fetch(post.url, { method: 'POST', headers: post.headers, body: post.body, signal, redirect: 'manual' });
    status = response.status;
    text = await readLimited(response);
  } catch (error) {
    throw failure(post, where, error, timeout);
  }
  if (status >= 200 && status < 300) return { status, text };
  const quoted = scrubSecrets(text.replace(/\s+/g, ' ').trim().slice(0, QUOTED_CHARS), post.secrets);
  throw new ChannelDeliveryError(post.channel, 'http_status', `POST ${where} answered ${status}${quoted ? `: ${quoted}` : ''}`, {
    status,
    retryable: status >= 500 || status === 408 || status === 429 || (status >= 300 && status < 400),
  });
}

/** The typed failure for an error thrown by fetch or while reading the body. */
export function failure(post: Pick<ChannelPost, 'channel' | 'signal' | 'timeoutMs' | 'secrets'>, where: string, error: unknown, timeout: AbortSignal): ChannelDeliveryError {
  if (post.signal.aborted) return new ChannelDeliveryError(post.channel, 'aborted', `the send to ${where} was aborted`);
  if (timeout.aborted) return new ChannelDeliveryError(post.channel, 'timeout', `no answer from ${where} within ${post.timeoutMs} ms`);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (error as Error).message;
  return new ChannelDeliveryError(post.channel, 'network', scrubSecrets(`cannot reach ${where} (${detail})`, post.secrets));
}

async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}
