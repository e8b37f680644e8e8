import { custom } from './custom.ts';
import { discord } from './discord.ts';
import { githubApp } from './github-app.ts';
import { github } from './github.ts';
import { google } from './google.ts';
import { linkedin } from './linkedin.ts';
import { microsoft } from './microsoft.ts';
import { oidc } from './oidc.ts';
import { salesforce } from './salesforce.ts';
import { sandbox } from './sandbox.ts';
import { slack } from './slack.ts';
import { spotify } from './spotify.ts';
import type { ProviderEntry } from './types.ts';

/**
 * The provider catalog. Adding a provider is adding a file beside these and a line here
 * (docs/providers.md explains how); nothing else in Tokenkeeper names providers.
 */
const entries: readonly ProviderEntry[] = [
  google, microsoft, github, githubApp, slack, spotify, discord, linkedin, salesforce, oidc, custom, sandbox,
].map(deepFreeze);

const byKey = new Map(entries.map((entry) => [entry.key, entry]));

export function getProvider(key: string): ProviderEntry | undefined {
  return byKey.get(key);
}

export function listProviders(): ProviderEntry[] {
  return [...entries];
}

/** Entries are shared by every integration: freeze them so no caller can change one for all. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
