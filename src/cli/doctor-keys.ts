import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { DEVELOPMENT_KEY_FILE, KeyRing, loadKeyRing } from '../crypto/index.ts';
import { createLogger } from '../logger.ts';
import type { DatabaseHandle } from '../store/index.ts';
import type { CheckSection } from './doctor-report.ts';
import type { StorageOutcome } from './doctor-storage.ts';
import { SEALED_COLUMNS } from './rotate-sealed-values.ts';

const silentLogger = createLogger({ sink: { write: () => undefined } });

/**
 * Keys: the ring loads, and every stored secret names a key in it. Secrets under an older key
 * are fine (they still open) but worth a rotation; secrets under a key that is not configured
 * any more cannot be opened at all.
 */
export async function checkKeys(config: Readonly<Config>, storage: StorageOutcome, section: CheckSection): Promise<KeyRing | null> {
  let ring: KeyRing;
  if (config.encryptionKeys !== null) {
    ring = KeyRing.parse(config.encryptionKeys);
    section.lines.push({
      status: 'ok',
      text: `TOKENKEEPER_ENCRYPTION_KEYS loads: ${ring.keyIds.length} key${ring.keyIds.length === 1 ? '' : 's'} (${ring.keyIds.join(', ')}), "${ring.primaryKeyId}" seals`,
    });
  } else {
    const path = join(config.dataDir, DEVELOPMENT_KEY_FILE);
    if (!existsSync(path)) {
      const hasSecrets = storage.database !== null && storage.schemaReady && (await countSealed(storage.database)) > 0;
      section.lines.push(
        hasSecrets
          ? {
              status: 'fail',
              text: `stored secrets exist but the development key ${path} is gone, and TOKENKEEPER_ENCRYPTION_KEYS is unset`,
              hint: 'restore that file (or set TOKENKEEPER_ENCRYPTION_KEYS to the key that sealed them); without it they cannot be decrypted',
            }
          : {
              status: 'warn',
              text: `no encryption key yet: a development key will be generated at ${path} on first start`,
              hint: 'production needs TOKENKEEPER_ENCRYPTION_KEYS (`tokenkeeper keys generate-encryption-key`)',
            },
      );
      return null;
    }
    try {
      ring = loadKeyRing({ spec: null, env: config.env, dataDir: config.dataDir, logger: silentLogger });
    } catch (error) {
      section.lines.push({ status: 'fail', text: (error as Error).message });
      return null;
    }
    section.lines.push({
      status: 'warn',
      text: `using the generated development key ${path} (key "${ring.primaryKeyId}")`,
      hint: 'fine for development; production needs TOKENKEEPER_ENCRYPTION_KEYS (`tokenkeeper keys generate-encryption-key`)',
    });
  }

  if (storage.database === null || !storage.schemaReady) return ring;
  const byKey = new Map<string, number>();
  let malformed = 0;
  for (const column of SEALED_COLUMNS) {
    for await (const rows of column.batches(storage.database.db, 500)) {
      for (const row of rows) {
        const keyId = ring.keyIdOf(row.sealed);
        if (keyId === null) malformed++;
        else byKey.set(keyId, (byKey.get(keyId) ?? 0) + 1);
      }
    }
  }
  const total = [...byKey.values()].reduce((sum, count) => sum + count, 0) + malformed;
  const unknown = [...byKey].filter(([keyId]) => !ring.keyIds.includes(keyId));
  const older = [...byKey].filter(([keyId]) => keyId !== ring.primaryKeyId && ring.keyIds.includes(keyId));
  const describe = (entries: [string, number][]): string => entries.map(([keyId, count]) => `${count} under "${keyId}"`).join(', ');
  if (unknown.length > 0) {
    section.lines.push({
      status: 'fail',
      text: `stored secrets sealed with keys that are not configured: ${describe(unknown)}; they cannot be decrypted`,
      hint: `add ${unknown.map(([keyId]) => `"${keyId}"`).join(', ')} back to TOKENKEEPER_ENCRYPTION_KEYS (after the first key)`,
    });
  }
  if (malformed > 0) {
    section.lines.push({ status: 'fail', text: `${malformed} stored secret${malformed === 1 ? ' is' : 's are'} not well-formed encrypted values` });
  }
  if (older.length > 0) {
    section.lines.push({
      status: 'warn',
      text: `${older.reduce((sum, [, count]) => sum + count, 0)} of ${total} stored secrets are sealed with an older key (${describe(older)})`,
      hint: `run \`tokenkeeper rotate-keys\` to re-encrypt them under "${ring.primaryKeyId}"`,
    });
  } else if (unknown.length === 0 && malformed === 0) {
    section.lines.push({
      status: 'ok',
      text: total === 0 ? 'no stored secrets yet' : `all ${total} stored secret${total === 1 ? ' is' : 's are'} sealed with "${ring.primaryKeyId}"`,
    });
  }
  return ring;
}

async function countSealed(database: DatabaseHandle): Promise<number> {
  const counts = await Promise.all(SEALED_COLUMNS.map((column) => column.count(database.db)));
  return counts.reduce((sum, count) => sum + count, 0);
}
