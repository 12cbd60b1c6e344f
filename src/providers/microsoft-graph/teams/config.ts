import { z } from 'zod';
import { invalidConfig } from '../../connector-config.js';

/**
 * The `connectors.config` of a Teams connector:
 *
 * - `team_id` (required): the team (its Microsoft 365 group id);
 * - `channel_ids` (optional): only these channels (a list, or one comma-separated
 *   string); absent: every channel the app can read, standard, private and
 *   shared, including channels added later;
 * - `page_size` (optional, 1–50, default 20): threads per page (Graph's `$top`
 *   limit for messages is 50), i.e. how much work one checkpoint covers;
 * - `include_files` (optional, default true): also sync each channel's files folder.
 *
 * Sign-in keys (`refresh_token`, `client_id`, `client_secret`, `tenant_id`) are read by ../identity.ts.
 */

const blankIsAbsent = (value: unknown) => (typeof value === 'string' && value.trim() === '') || value === null ? undefined : value;

const channelIds = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value),
  z.array(z.string({ error: 'must be a list of channel ids' }).trim().min(1, 'must not contain blank ids'), { error: 'must be a list of channel ids' }).min(1, 'must name at least one channel'),
);

const schema = z.object({
  team_id: z.preprocess(blankIsAbsent, z.string({ error: (issue) => (issue.input === undefined ? 'is missing: name the team to sync' : 'must be a string') }).trim()),
  channel_ids: z.preprocess(blankIsAbsent, channelIds.optional()),
  page_size: z.preprocess(
    blankIsAbsent,
    z.coerce.number({ error: 'must be a whole number from 1 to 50' }).int('must be a whole number from 1 to 50').min(1, 'must be a whole number from 1 to 50').max(50, 'must be a whole number from 1 to 50').default(20),
  ),
  include_files: z.preprocess(blankIsAbsent, z.boolean({ error: 'must be true or false' }).default(true)),
});

export interface TeamsConfig {
  teamId: string;
  /** Null: every readable channel. */
  channelIds: string[] | null;
  pageSize: number;
  includeFiles: boolean;
}

/** Throws PermanentSourceError (scope 'sync') naming the first bad key, never echoing its value. */
export function parseTeamsConfig(config: Record<string, unknown>): TeamsConfig {
  const parsed = schema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'team_id');
    throw invalidConfig(key, issue?.message ?? 'is not valid');
  }
  const { team_id, channel_ids, page_size, include_files } = parsed.data;
  return { teamId: team_id, channelIds: channel_ids ? [...new Set(channel_ids)] : null, pageSize: page_size, includeFiles: include_files };
}

/** What a cursor was made for: pointing the connector at another team or channel set starts afresh. */
export function teamsScopeKey(config: TeamsConfig): string {
  return `${config.teamId} ${config.channelIds ? [...config.channelIds].sort().join(',') : '*'} files:${config.includeFiles}`;
}
