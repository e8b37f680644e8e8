import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { jobsSchemaFor } from '../../src/jobs/pg-boss-queue.ts';

/**
 * The databases a storage test runs on: SQLite always, PostgreSQL when `TEST_DATABASE_URL` is
 * set (CI sets it). Without it the PostgreSQL runs are skipped, with one message per process.
 */
export type TestDialect = 'sqlite' | 'postgres';

let warned = false;

export function testDialects(): TestDialect[] {
  if (process.env.TEST_DATABASE_URL) return ['sqlite', 'postgres'];
  if (!warned) {
    warned = true;
    // Test files run in separate processes under one runner: the first one says it, once.
    const marker = join(tmpdir(), `tokenkeeper-test-pg-skipped-${process.ppid}`);
    if (existsSync(marker)) return ['sqlite'];
    writeFileSync(marker, '');
    process.stderr.write('PostgreSQL runs skipped: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them.\n');
  }
  return ['sqlite'];
}

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * A fresh, empty schema in the test PostgreSQL for one harness, so test files run in parallel
 * without seeing each other's rows; the URL selects it through `search_path`. `drop()` removes it.
 */
export async function freshPostgresSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `tk_test_${randomBytes(6).toString('hex')}`;
  const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => PgClient };
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
        // The cluster job layer's (pg-boss) schema beside it, if an instance opened it.
        await client.query(`drop schema if exists ${jobsSchemaFor(schema)} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}
