import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/index.ts';
import { KeyRing } from '../../src/crypto/index.ts';
import { createMemoryLogger } from '../../src/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { completeSandboxLogin } from './sandbox-login.ts';
import type { TestDialect } from './test-database.ts';
import { testStorage, type TestStorage } from './test-storage.ts';
import { freePort } from './waiting.ts';

/**
 * The real service over HTTP for the page tests, and headless Chromium to look at it. Every
 * temporary directory and test storage made here is removed in the importing file's `after`.
 */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((path) => existsSync(path));
export const NO_CHROMIUM = 'Chromium is not installed (apt-get install chromium); the browser tests need it';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const temporaryDirs: string[] = [];
const storages: TestStorage[] = [];
after(async () => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const storage of storages.splice(0)) await storage.drop();
});

export function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirs.push(dir);
  return dir;
}

/** `startServer` as `npm start` runs it, on free ports of 127.0.0.1, with its own storage; no scheduler. */
export async function startPageService(env: Record<string, string>, dialect: TestDialect, options: { clock?: Clock } = {}): Promise<RunningServer> {
  const port = await freePort();
  const storage = await testStorage(dialect);
  storages.push(storage);
  const config = loadConfig({
    env: {
      ...storage.env,
      TOKENKEEPER_DATA_DIR: temporaryDir('tokenkeeper-web-'),
      TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'),
      TOKENKEEPER_PORT: String(port),
      TOKENKEEPER_HOST: '127.0.0.1',
      TOKENKEEPER_PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Only has to differ from TOKENKEEPER_PORT: startServer is told to pick a free one.
      TOKENKEEPER_SANDBOX_PORT: String(port === 65535 ? port - 1 : port + 1),
      TOKENKEEPER_SWEEP_INTERVAL: '0',
      ...env,
    },
    dotenvPath: false,
  });
  return startServer(config, { port, sandboxPort: 0, startScheduler: false, logger: createMemoryLogger(), ...(options.clock ? { clock: options.clock } : {}) });
}

/** Headless Chromium with a fresh profile (the flags a sandboxed CI machine needs). */
export function launchChromium(options: { javaScriptEnabled?: boolean } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(temporaryDir('tokenkeeper-chromium-'), {
    executablePath: CHROMIUM!,
    headless: true,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    args: CHROMIUM_ARGS,
  });
}

/** A user connection through the sandbox's real consent flow, without a browser; returns its id. */
export async function connectSandboxUser(service: RunningServer, ownerId: string, username: string): Promise<string> {
  const created = await fetch(`${service.url}/v1/connect/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.developmentApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ integration: 'sandbox', owner_id: ownerId, redirect_to: `${service.url}/` }),
  });
  assert.equal(created.status, 201);
  const callback = await completeSandboxLogin(((await created.json()) as { connect_url: string }).connect_url, { username });
  const back = await fetch(callback, { redirect: 'manual' });
  assert.ok(back.status >= 300 && back.status < 400, `the callback redirects (${back.status})`);
  const location = new URL(back.headers.get('location')!, service.url);
  const id = location.searchParams.get('connection_id');
  assert.match(id ?? '', /^con_[a-z2-7]{20}$/, `connection id from ${location}`);
  return id!;
}
