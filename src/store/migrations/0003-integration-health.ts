import type { Kysely } from 'kysely';

/**
 * Integration health: the provider rejected the integration's own credentials
 * (`invalid_client`, `unauthorized_client`, HTTP 401 from the token endpoint, RFC 6749 §5.2).
 * That is the operator's fault, not the users', so it is recorded on the integration — when it
 * started and the provider's own words — and the connections are left as they are. Any update of
 * the integration clears the three columns.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').addColumn('failing_since', 'bigint').execute();
  await db.schema.alterTable('integrations').addColumn('failure_code', 'text').execute();
  await db.schema.alterTable('integrations').addColumn('failure_message', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').dropColumn('failure_message').execute();
  await db.schema.alterTable('integrations').dropColumn('failure_code').execute();
  await db.schema.alterTable('integrations').dropColumn('failing_since').execute();
}
