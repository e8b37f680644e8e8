import { Readable } from 'node:stream';

/**
 * A proxied call's body: none, small enough to be held and sent again (a retry after a 401 or a
 * 429 needs the same bytes), or a stream that passes through once and is never held in memory.
 */
export type ProxyBody =
  | { kind: 'none' }
  | { kind: 'buffer'; bytes: Buffer }
  | { kind: 'stream'; stream: Readable; length: number | null };

/**
 * Bodies up to this size are kept so the call can be retried; larger ones stream through, and a
 * 401 or 429 answering them is passed back as it is (`tokenkeeper-proxy-not-retried:
 * body_not_replayable`). API calls that write (a message, an issue) are far below it; uploads
 * are far above and should not sit in memory.
 */
export const REPLAYABLE_BODY_BYTES = 1024 * 1024;

/** Whether a body can be sent a second time. */
export function isReplayable(body: ProxyBody): boolean {
  return body.kind !== 'stream';
}

/**
 * Reads at most REPLAYABLE_BODY_BYTES of `source` to decide: a body that ends within it is kept;
 * one that goes on (or declares a larger `Content-Length`) becomes a stream of what was read
 * followed by the rest, still unread. Nothing beyond the first megabyte is ever buffered.
 */
export async function prepareBody(source: Readable, declaredLength: number | null): Promise<ProxyBody> {
  if (declaredLength === 0) {
    source.resume();
    return { kind: 'none' };
  }
  if (declaredLength !== null && declaredLength > REPLAYABLE_BODY_BYTES) return { kind: 'stream', stream: source, length: declaredLength };
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  while (size <= REPLAYABLE_BODY_BYTES) {
    const next = await iterator.next();
    if (next.done) return size === 0 ? { kind: 'none' } : { kind: 'buffer', bytes: Buffer.concat(head, size) };
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    size += chunk.length;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield* head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { kind: 'stream', stream: Readable.from(rest(), { objectMode: false }), length: declaredLength };
}
