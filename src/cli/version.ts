import { readFileSync } from 'node:fs';

/** Tokenkeeper's version, from package.json (read once, when first asked). */
let version: string | undefined;

export function tokenkeeperVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
