import type { Config } from '../config/index.ts';
import type { KeyRing } from '../crypto/index.ts';
import { resolveProviderClient } from '../oauth/index.ts';
import { getProvider, type IntegrationSettings } from '../providers/index.ts';
import { listIntegrations } from '../store/index.ts';
import type { CheckSection } from './doctor-report.ts';
import type { StorageOutcome } from './doctor-storage.ts';
import { probeHttp } from './http-probe.ts';

/**
 * Every integration: its provider is in the catalog, its client secret decrypts, its endpoints
 * resolve (discovery document fetched for discovery providers) and its token endpoint answers
 * HTTP. Any HTTP answer below 500 counts as reachable: a token endpoint rightly refuses a bare
 * GET (400, 401, 404, 405), which still proves DNS, TCP, TLS and a server behind them.
 */
export async function checkIntegrations(
  config: Readonly<Config>,
  storage: StorageOutcome,
  keyRing: KeyRing | null,
  section: CheckSection,
  timeoutMs: number,
): Promise<void> {
  if (storage.database === null || !storage.schemaReady) {
    section.lines.push({ status: 'skip', text: 'no database yet, so no integrations' });
    return;
  }
  const records = await listIntegrations(storage.database.db);
  if (records.length === 0) {
    section.lines.push({ status: 'skip', text: 'none configured (`tokenkeeper integrations add --help`)' });
    return;
  }
  for (const record of records) {
    const name = `${record.key}`;
    const provider = getProvider(record.provider);
    if (!provider) {
      section.lines.push({
        status: 'fail',
        text: `${name}: unknown provider "${record.provider}"`,
        hint: 'this version’s catalog has no such provider; remove the integration or upgrade',
      });
      continue;
    }
    if (!record.enabled) {
      section.lines.push({ status: 'skip', text: `${name}: disabled, not checked` });
      continue;
    }
    if (record.failingSince !== null) {
      section.lines.push({
        status: 'fail',
        text: `${name}: the provider rejects its credentials since ${new Date(record.failingSince).toISOString()} (${record.failureCode ?? 'unknown'}: ${record.failureMessage ?? ''})`,
        hint: `fix the client id or secret (PATCH /v1/integrations/${record.key}); its connections are kept and refresh again then`,
      });
    }
    let clientSecret: string | null = null;
    if (record.clientSecretSealed !== null) {
      if (keyRing === null) {
        section.lines.push({ status: 'skip', text: `${name}: client secret not checked (no encryption key loaded)` });
        continue;
      }
      try {
        clientSecret = keyRing.open(record.clientSecretSealed, `integrations:${record.id}:client_secret`);
      } catch (error) {
        section.lines.push({
          status: 'fail',
          text: `${name}: the client secret cannot be decrypted: ${(error as Error).message}`,
          hint: `set it again (PATCH /v1/integrations/${record.key} {"client_secret": …}), or restore the key that sealed it`,
        });
        continue;
      }
    }
    section.lines.push({
      status: 'ok',
      text: `${name}: provider ${provider.key}, client id ${record.clientId}, ${clientSecret === null ? 'no client secret (public client)' : 'client secret decrypts'}`,
    });

    // The sandbox integration points at the sandbox `serve` runs; when no server runs, that is
    // not a fault of the set-up.
    const isSandbox = provider.key === 'sandbox';
    let client;
    try {
      client = await resolveProviderClient(
        {
          key: record.key,
          provider: record.provider,
          clientId: record.clientId,
          clientSecret,
          scopes: record.scopes,
          redirectUri: record.redirectUri ?? config.callbackUrl,
          settings: record.settings as IntegrationSettings,
        },
        { timeoutMs },
      );
    } catch (error) {
      section.lines.push({
        status: isSandbox ? 'warn' : 'fail',
        text: `${name}: ${provider.discovery ? 'discovery failed' : 'endpoints do not resolve'}: ${(error as Error).message}`,
        hint: isSandbox
          ? 'the sandbox provider runs beside `tokenkeeper serve`; start it and run the doctor again'
          : provider.discovery
            ? 'check the issuer setting and that this machine can reach it'
            : 'check the integration’s endpoint settings',
      });
      continue;
    }
    if (provider.discovery) {
      section.lines.push({ status: 'ok', text: `${name}: discovery document of ${client.endpoints.issuer ?? 'the issuer'} read` });
    }
    const reach = await probeHttp(client.endpoints.token, timeoutMs);
    if (reach.ok) {
      section.lines.push({ status: 'ok', text: `${name}: token endpoint ${client.endpoints.token} reachable (HTTP ${reach.status})` });
    } else {
      section.lines.push({
        status: isSandbox && reach.status === null ? 'warn' : 'fail',
        text: `${name}: token endpoint ${client.endpoints.token} ${reach.status === null ? 'unreachable' : 'failing'}: ${reach.reason}`,
        hint: isSandbox
          ? 'the sandbox provider runs beside `tokenkeeper serve`; start it and run the doctor again'
          : reach.status === null
            ? 'check the endpoint URL, DNS, firewalls and proxies between this machine and the provider'
            : 'the provider reports a server error; check its status page, or the endpoint URL',
      });
    }
  }
}
