import { SANDBOX_DEFAULT_CLIENT } from '../../src/sandbox/index.ts';
import type { Harness } from './harness.ts';

/** A refresh at the sandbox's token endpoint directly, as a naive client (or a dead holder) would. */
export function refreshAtSandbox(h: Pick<Harness, 'sandbox'>, refreshToken: string): Promise<Response> {
  return fetch(`${h.sandbox.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${SANDBOX_DEFAULT_CLIENT.client_id}:${SANDBOX_DEFAULT_CLIENT.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

/** Whether the sandbox still honours this refresh token (using it rotates it). */
export async function refreshTokenWorks(h: Pick<Harness, 'sandbox'>, refreshToken: string): Promise<boolean> {
  return (await refreshAtSandbox(h, refreshToken)).status === 200;
}
