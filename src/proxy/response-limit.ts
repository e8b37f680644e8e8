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
 *
 * A body whose `Content-Length` is within the limit needs no counting: Node's parser frames it
 * by that length, so no more bytes can arrive than were declared, and it is passed on as it is
 * (`framedBody`). Most API answers have one, and a counting stream in between cost every
 * proxied call about a tenth of its CPU.
 */
export function limitedBody(response: IncomingMessage, maxBytes: number): Readable {
  const lengthHeader = response.headers['content-length'];
  const declared = Number(lengthHeader);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge(maxBytes);
  }
  // With Transfer-Encoding as well, the length would not be what frames the body (RFC 9112 §6.3).
  if (lengthHeader !== undefined && /^\d+$/.test(lengthHeader) && response.headers['transfer-encoding'] === undefined) return framedBody(response);
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
  response.on('aborted', () => counter.destroy(halfWay()));
  counter.on('close', () => {
    if (!response.complete) response.destroy();
  });
  return response.pipe(counter);
}

/**
 * The answer itself as the body, failing the way a counted one does: when the provider hangs up
 * before the body is complete, Node's client destroys the answer with a bare `aborted` reset
 * (ECONNRESET), which the error handler would answer as storage trouble (503
 * `storage_unavailable`); it is replaced by `proxy_upstream_unreachable`, as `limitedBody`'s
 * stream does (test/proxy-answer-body.test.ts). Only an error that comes with the connection gone
 * is replaced: a reader that destroys the body with a reason of its own gets that reason back.
 */
function framedBody(response: IncomingMessage): Readable {
  const destroy = response.destroy;
  response.destroy = function destroyFramed(this: IncomingMessage, error?: Error) {
    const providerGone = error != null && !this.complete && (this.socket === null || this.socket.destroyed);
    return destroy.call(this, providerGone ? halfWay() : error);
  };
  return response;
}

function halfWay(): TokenkeeperError {
  return new TokenkeeperError('proxy_upstream_unreachable', 'The provider stopped sending its answer half-way.');
}

/** Reads and throws away an answer that will not be passed on, so its connection can be reused. */
export function discard(response: IncomingMessage): void {
  response.on('error', () => undefined);
  response.resume();
}
