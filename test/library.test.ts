import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTokenkeeper, loadConfig, isTokenkeeperError } from '../src/index.ts';
import { KeyRing } from '../src/crypto/index.ts';
import { testDialects } from './helpers/test-database.ts';
import { testStorage } from './helpers/test-storage.ts';

for (const dialect of testDialects()) {
  test(`the library entry point works as the README shows (${dialect})`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tokenkeeper-lib-'));
    const storage = await testStorage(dialect);
    try {
      const config = loadConfig({ env: { TOKENKEEPER_DATA_DIR: dataDir, TOKENKEEPER_ENCRYPTION_KEYS: KeyRing.generateKeySpec('k1'), TOKENKEEPER_SANDBOX: 'false', ...storage.env }, dotenvPath: false });
      const tk = await createTokenkeeper({ config });
      await tk.integrations.create({ key: 'acme', provider: 'custom', client_id: 'c', settings: { authorizationEndpoint: 'https://acme.test/a', tokenEndpoint: 'https://acme.test/t' } });
      const { record } = await tk.connections.saveTokenSet({
        integration: await tk.integrations.resolveByKey('acme'),
        ownerId: 'u1',
        kind: 'user',
        tokens: { accessToken: 'embedded-access', refreshToken: null, idToken: null, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, scopes: null, extra: {} },
        issuedAt: Date.now(),
        identity: null,
        imported: true,
      });
      const token = await tk.tokens.getToken(record.id, { minValiditySeconds: 60 });
      assert.equal(token.accessToken, 'embedded-access');
      await assert.rejects(tk.tokens.getToken(record.id, { minValiditySeconds: 7_200 }), (error: unknown) => isTokenkeeperError(error, 'min_validity_unsatisfiable'));
      assert.equal(tk.database.dialect, dialect);
      await tk.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await storage.drop();
    }
  });
}
