import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/schema.js';
import { databaseGoogleCredentials } from './google-drive/credentials.js';
import { createGoogleDriveProvider } from './google-drive/provider.js';
import { createOneDriveProvider } from './microsoft-graph/onedrive/provider.js';
import { createTeamsProvider } from './microsoft-graph/teams/provider.js';
import type { SourceProvider } from './types.js';

/**
 * The sources this build can sync, by `connectors.type`. A type missing here
 * ends its sync in `error` with a message saying so, instead of leaving the
 * connector `pending`.
 */
export function createProviders(config: Pick<Config, 'microsoft' | 'google'>, db: Kysely<Database>): Partial<Record<string, SourceProvider>> {
  return {
    onedrive: createOneDriveProvider(config.microsoft),
    google_drive: createGoogleDriveProvider(config.google, databaseGoogleCredentials(db)),
    teams: createTeamsProvider(config.microsoft),
  };
}
