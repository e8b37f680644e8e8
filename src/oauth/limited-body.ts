import { TokenkeeperError } from '../errors.ts';
import type { ProviderEndpointKind } from './provider-error.ts';

/** Statuses whose responses cannot carry a body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The provider's response with its body capped at `maxBytes`: a declared `Content-Length` over
 * the cap is refused at once, and a body that streams past it (chunked, or lying about its
 * length) errors as soon as the cap is crossed, and the connection is dropped. Whoever reads the
 * body — our own parsing, or oauth4webapi through `customFetch` — gets the same error, so no
 * provider answer is ever buffered whole, however large. Over the cap is a transient
 * `invalid_provider_response`: the provider is misbehaving, the user has done nothing wrong.
 * Its `details.reason` is 'body_too_large': the answer was not read, so whether a 2xx carried a
 * rotated refresh token is unknown — to a refresher, as uncertain as a timeout.
 */
export async function limitResponseBody(response: Response, maxBytes: number, endpoint: ProviderEndpointKind): Promise<Response> {
  const body = response.body;
  if (body === null || NULL_BODY_STATUSES.has(response.status)) return response;
  const tooLarge = () =>
    new TokenkeeperError('invalid_provider_response', `The provider's ${endpoint} endpoint answered with a body larger than ${maxBytes} bytes.`, {
      details: { endpoint, status: response.status, reason: 'body_too_large', limit_bytes: maxBytes },
    });

  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await body.cancel().catch(() => undefined);
    throw tooLarge();
  }

  const reader = body.getReader();
  let received = 0;
  const limited = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // A read that fails (timeout, reset) errors this stream with the same reason, which the
      // transport then maps to a typed transient error as before.
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      received += value.byteLength;
      if (received > maxBytes) {
        controller.error(tooLarge());
        // Cancelling the source aborts the download: the rest is never received.
        await reader.cancel().catch(() => undefined);
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
}
