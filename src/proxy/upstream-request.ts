import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream';
import { TokenkeeperError } from '../errors.ts';
import type { ProxyBody } from './request-body.ts';
import type { ProxyTarget } from './target-url.ts';

export interface UpstreamCall {
  target: ProxyTarget;
  method: string;
  headers: Record<string, string | string[]>;
  body: ProxyBody;
  /** Until the answer's headers, and the longest silence while either body streams. */
  timeoutMs: number;
  /** The caller went away: stop. */
  signal?: AbortSignal;
}

/**
 * Sends proxied calls with Node's own http/https clients rather than `fetch`: a proxy must pass
 * the provider's bytes on as they came (fetch decompresses bodies and drops framing headers),
 * must not follow redirects (the answer to a 3xx goes back to the caller; following it could
 * take the token to another host), and must stream request bodies without a copy. Connections
 * are kept alive per instance; idle ones do not hold the process open.
 */
export class UpstreamClient {
  private readonly http = new HttpAgent({ keepAlive: true, scheduling: 'lifo' });
  private readonly https = new HttpsAgent({ keepAlive: true, scheduling: 'lifo' });

  /**
   * Resolves with the provider's answer once its headers are in (its body still to be read), or
   * rejects with `proxy_timeout` or `proxy_upstream_unreachable`. An answer that arrives while
   * the request body is still being sent is taken as it is (a provider may refuse early).
   */
  send(call: UpstreamCall): Promise<IncomingMessage> {
    const { target } = call;
    const secure = target.protocol === 'https:';
    return new Promise<IncomingMessage>((resolve, reject) => {
      // The caller left while the call waited for a permit: send nothing. (Destroying a request
      // made here, before its 'error' listener below, would be an unhandled 'error' event.)
      if (call.signal?.aborted) return reject(callerGone());
      let answered = false;
      const request = (secure ? httpsRequest : httpRequest)({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: call.method,
        headers: call.headers,
        agent: secure ? this.https : this.http,
        // The API base URL names the host; Host must not come from anywhere else.
        setHost: true,
      });
      const fail = (error: TokenkeeperError): void => {
        if (answered) return;
        answered = true;
        clearTimeout(headersTimer);
        call.signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const headersTimer = setTimeout(() => {
        const error = timeoutError(call.timeoutMs);
        fail(error);
        request.destroy(error);
      }, call.timeoutMs);
      // Silence while bodies stream, either way: the socket's idle timeout, for the whole exchange.
      request.setTimeout(call.timeoutMs, () => {
        const error = timeoutError(call.timeoutMs);
        fail(error);
        request.destroy(error);
      });
      const onAbort = (): void => {
        const error = callerGone();
        fail(error);
        request.destroy(error);
      };
      call.signal?.addEventListener('abort', onAbort, { once: true });

      request.on('response', (response) => {
        if (answered) {
          response.destroy();
          return;
        }
        answered = true;
        clearTimeout(headersTimer);
        call.signal?.removeEventListener('abort', onAbort);
        resolve(response);
      });
      request.on('error', (error) => {
        fail(error instanceof TokenkeeperError ? error : new TokenkeeperError('proxy_upstream_unreachable', `The provider could not be reached: ${describe(error)}.`, { cause: error }));
      });

      const { body } = call;
      if (body.kind === 'none') request.end();
      else if (body.kind === 'buffer') request.end(body.bytes);
      else {
        // The caller's body flows straight into the provider's request, with backpressure.
        pipeline(body.stream, request, (error) => {
          if (error && !answered) request.destroy(error);
        });
      }
    });
  }

  /** Closes kept-alive connections (at shutdown). */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function callerGone(): TokenkeeperError {
  return new TokenkeeperError('proxy_upstream_unreachable', 'The caller went away before the provider answered.');
}

function timeoutError(timeoutMs: number): TokenkeeperError {
  return new TokenkeeperError('proxy_timeout', `The provider did not answer within ${timeoutMs} ms (TOKENKEEPER_PROXY_TIMEOUT_MS).`);
}

/** A network error in words, without anything from the request (no header, no token). */
function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}` : error.message.slice(0, 200);
}
