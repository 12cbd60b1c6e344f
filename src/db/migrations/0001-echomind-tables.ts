import { sql, type Kysely } from 'kysely';

/**
 * EchoMind's tables with EchoMind's exact columns and types, for local runs and
 * tests only. In production EchoMind's migration service owns them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .ifNotExists()
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('email', 'varchar(255)')
    .execute();

  await db.schema
    .createTable('teams')
    .ifNotExists()
    .addColumn('id', sql`smallserial`, (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('google_credentials')
    .ifNotExists()
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().unique().references('users.id'))
    .addColumn('access_token', 'text')
    .addColumn('refresh_token', 'text')
    .addColumn('token_expires_at', 'timestamptz')
    .addColumn('granted_scopes', sql`text[]`)
    .addColumn('client_id', 'text')
    .addColumn('client_secret', 'text')
    .addColumn('creation_date', 'timestamptz', (c) => c.defaultTo(sql`now()`))
    .addColumn('last_update', 'timestamptz')
    .execute();

  await db.schema
    .createTable('connectors')
    .ifNotExists()
    .addColumn('id', sql`smallserial`, (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('type', 'varchar(50)', (c) => c.notNull())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('state', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('refresh_freq_minutes', 'integer')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('scope', 'varchar(20)', (c) => c.defaultTo('user'))
    .addColumn('scope_id', 'text')
    .addColumn('team_id', 'smallint', (c) => c.references('teams.id'))
    .addColumn('google_credential_id', 'integer', (c) => c.references('google_credentials.id'))
    .addColumn('status', 'varchar(50)', (c) => c.defaultTo('pending'))
    .addColumn('status_message', 'text')
    .addColumn('last_sync_at', 'timestamptz')
    .addColumn('docs_analyzed', 'bigint', (c) => c.defaultTo(0))
    .addColumn('creation_date', 'timestamptz', (c) => c.defaultTo(sql`now()`))
    .addColumn('last_update', 'timestamptz')
    .addColumn('user_id_last_update', 'integer')
    .addColumn('deleted_date', 'timestamptz')
    .execute();

  await db.schema
    .createTable('documents')
    .ifNotExists()
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('parent_id', 'bigint', (c) => c.references('documents.id'))
    .addColumn('connector_id', 'smallint', (c) => c.notNull().references('connectors.id'))
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('original_url', 'text')
    .addColumn('title', 'text')
    .addColumn('content_type', 'varchar(100)')
    .addColumn('signature', 'text')
    .addColumn('chunking_session', 'text')
    .addColumn('status', 'varchar(50)', (c) => c.defaultTo('pending'))
    .addColumn('status_message', 'text')
    .addColumn('chunk_count', 'integer', (c) => c.defaultTo(0))
    .addColumn('creation_date', 'timestamptz', (c) => c.defaultTo(sql`now()`))
    .addColumn('last_update', 'timestamptz')
    .addColumn('user_id_last_update', 'integer')
    .execute();

  await db.schema
    .createIndex('documents_connector_source_uq')
    .ifNotExists()
    .on('documents')
    .columns(['connector_id', 'source_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['documents', 'connectors', 'google_credentials', 'teams', 'users']) {
    await db.schema.dropTable(table).ifExists().cascade().execute();
  }
}
