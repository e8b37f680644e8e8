import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { TokenkeeperError } from '../errors.ts';

function tooLarge(maxBytes: number): TokenkeeperError {
  return new TokenkeeperError('proxy_response_too_large', `The provider's answer is larger than ${maxBytes} bytes (TOKENKEEPER_PROXY_MAX_RESPONSE_BYTES).`, {
    details: { max_bytes: maxBytes },
  });
}

/**
 * The provider's answer body, held to `maxBytes` as it arrives (counted as sent, before any
 * decompression by the caller). A `Content-Length` over the limit is refused here, before a
 * byte of the answer is passed on; a body without one that turns out larger is cut off with
 * `proxy_response_too_large` when it crosses the limit (its status and first bytes are gone by
 * then: the caller sees an answer that ends early, never one that looks complete).
 */
export function limitedBody(response: IncomingMessage, maxBytes: number): Readable {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge(maxBytes);
  }
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) callback(tooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  response.on('error', (error) => counter.destroy(error));
  // The provider hung up mid-body: the caller must not mistake what came for the whole answer.
  response.on('aborted', () => counter.destroy(new TokenkeeperError('proxy_upstream_unreachable', 'The provider stopped sending its answer half-way.')));
  counter.on('close', () => {
    if (!response.complete) response.destroy();
  });
  return response.pipe(counter);
}

/** Reads and throws away an answer that will not be passed on, so its connection can be reused. */
export function discard(response: IncomingMessage): void {
  response.on('error', () => undefined);
  response.resume();
}
