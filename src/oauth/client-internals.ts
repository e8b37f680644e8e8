import type * as oauth from 'oauth4webapi';
import type { Clock } from '../clock.ts';
import type { IntegrationSettings } from '../providers/index.ts';
import type { ProviderClient } from './types.ts';

/** What a ProviderClient carries for oauth4webapi, out of sight of JSON and logs. */
export interface ClientInternals {
  authorizationServer: oauth.AuthorizationServer;
  client: oauth.Client;
  clientAuth: oauth.ClientAuth;
  fetch: typeof fetch;
  timeoutMs: number;
  clock: Clock;
  settings: IntegrationSettings;
}

const internals = new WeakMap<ProviderClient, ClientInternals>();

export function attachInternals(client: ProviderClient, value: ClientInternals): void {
  internals.set(client, value);
}

export function getInternals(client: ProviderClient): ClientInternals {
  const value = internals.get(client);
  if (!value) throw new TypeError('Not a ProviderClient from resolveProviderClient().');
  return value;
}
