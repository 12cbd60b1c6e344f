import { ConfigError, loadConfig } from '../config.js';
import { createDatabase, migrateToLatest } from './database.js';

/** `npm run migrate`: applies the local schema to DATABASE_URL (never run against EchoMind's production). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const db = createDatabase(config.databaseUrl, 1);
  try {
    const applied = await migrateToLatest(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  } finally {
    await db.destroy();
  }
}

main().catch((e: unknown) => {
  const message = e instanceof ConfigError ? `invalid configuration:\n${e.message}` : e instanceof Error ? e.message : String(e);
  process.stderr.write(`migrate: ${message}\n`);
  process.exit(1);
});
