import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { redactDatabaseUrl } from '../src/store/index.ts';

/** Where the cluster benchmark runs when neither DATABASE_URL nor TEST_DATABASE_URL is set. */
export const DEFAULT_BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

interface PgClient {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

export interface BenchSchema {
  /** The database URL with `search_path` set to the fresh schema: what every instance is given. */
  url: string;
  /** For reports: the server without a password, and the schema. */
  location: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty schema for one benchmark run, so it never sees (or leaves) rows of anything else
 * using the database; every instance gets a URL that selects it through `search_path`, the way
 * the tests do (test/helpers/test-database.ts). `drop()` removes it with everything in it.
 * Schema names are random hex after a fixed prefix, so they are safe to put in statements.
 */
export async function freshBenchSchema(baseUrl: string): Promise<BenchSchema> {
  const schema = `tk_bench_${randomBytes(6).toString('hex')}`;
  const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string; connectionTimeoutMillis: number }) => PgClient };
  const withClient = async <T>(work: (client: PgClient) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  try {
    await withClient((client) => client.query(`create schema ${schema}`));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot create a schema in PostgreSQL at ${redactDatabaseUrl(baseUrl)} (set DATABASE_URL or TEST_DATABASE_URL): ${reason}`, { cause: error });
  }
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    location: `${redactDatabaseUrl(baseUrl)} (schema ${schema})`,
    // With it go the schemas named after it: the job layer keeps its tables in `<schema>_jobs`.
    drop: () =>
      withClient(async (client) => {
        const { rows } = await client.query(`select nspname from pg_namespace where nspname = $1 or nspname like $2`, [schema, `${schema}\\_%`]);
        for (const row of rows) await client.query(`drop schema if exists "${String(row.nspname)}" cascade`);
      }),
  };
}
