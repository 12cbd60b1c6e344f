import { z } from 'zod';
import { optionalFlag, optionalWholeNumber, parseConnectorConfig } from '../../connector-config.js';
import { graphSignInKeys } from '../identity.js';
import { fullEnumerationDaysKey } from '../../full-enumeration.js';

/**
 * The `connectors.config` of a Teams connector:
 *
 * - `team_id` (required): the team (its Microsoft 365 group id);
 * - `channel_ids` (optional): only these channels (a list, or one comma-separated
 *   string), private and shared ones included; absent: every standard channel,
 *   including channels added later;
 * - `include_private_channels` (optional, default false): without `channel_ids`,
 *   also every private and shared channel the app can read. Their
 *   conversations are meant for their members only, while every document of a
 *   connector is searchable by everyone the connector's scope reaches, so they
 *   come in only when asked for;
 * - `page_size` (optional, 1–50, default 20): threads per page (Graph's `$top`
 *   limit for messages is 50), i.e. how much work one checkpoint covers;
 * - `include_files` (optional, default true): also sync each channel's files folder;
 * - `full_enumeration_days` (optional, 0–365, default 7; 0: never): how often a
 *   sync enumerates the team again and sweeps what it did not see, as OneDrive's.
 *
 * Sign-in keys (`refresh_token`, `client_id`, `client_secret`, `tenant_id`) are the shared Graph ones (../identity.ts).
 */

export const DEFAULT_PAGE_SIZE = 20;

const blankIsAbsent = (value: unknown) => ((typeof value === 'string' && value.trim() === '') || value === null ? undefined : value);

const teamId = z.preprocess(
  blankIsAbsent,
  z.string({ error: (issue) => (issue.input === undefined ? 'is missing: name the team to sync' : 'must be a string') }).trim(),
);

const channelIds = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : blankIsAbsent(value)),
  z
    .array(z.string({ error: 'must be a list of channel ids' }).trim().min(1, 'must not contain blank ids'), { error: 'must be a list of channel ids' })
    .min(1, 'must name at least one channel')
    .optional(),
);

const teamsConfigSchema = z
  .object({
    team_id: teamId,
    channel_ids: channelIds,
    page_size: optionalWholeNumber(1, 50),
    include_files: optionalFlag,
    include_private_channels: optionalFlag,
    full_enumeration_days: fullEnumerationDaysKey,
    ...graphSignInKeys,
  })
  .transform((c) => ({
    teamId: c.team_id,
    channelIds: c.channel_ids ? [...new Set(c.channel_ids)] : null,
    pageSize: c.page_size ?? DEFAULT_PAGE_SIZE,
    includeFiles: c.include_files ?? true,
    includePrivateChannels: c.include_private_channels ?? false,
    fullEnumerationDays: c.full_enumeration_days,
  }));


export interface TeamsConfig {
  teamId: string;
  /** Null: every readable standard channel (and private and shared ones with includePrivateChannels). */
  channelIds: string[] | null;
  pageSize: number;
  includeFiles: boolean;
  includePrivateChannels: boolean;
  /** Days between full enumerations of the team; 0: only when a cursor expires. */
  fullEnumerationDays: number;
}

/** Throws PermanentSourceError (code invalidConfig, scope sync) naming the first bad key, never echoing its value. */
export function parseTeamsConfig(config: Record<string, unknown>): TeamsConfig {
  return parseConnectorConfig(teamsConfigSchema, config);
}

/** What a cursor was made for: pointing the connector at another team or channel set starts afresh. */
export function teamsScopeKey(config: TeamsConfig): string {
  return `${config.teamId} ${config.channelIds ? [...config.channelIds].sort().join(',') : '*'} files:${config.includeFiles}`;
}
