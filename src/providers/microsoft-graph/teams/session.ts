import type { Readable } from 'node:stream';
import type { Config } from '../../../config.js';
import { SourceProtocolError } from '../../../errors.js';
import type { Logger } from '../../../logger.js';
import type { RateBucket } from '../../../http/rate-limit.js';
import type { AnswerHeaders } from '../../../http/source-http.js';
import type { FolderTree, ItemParents, SourceContext } from '../../types.js';
import { type GraphClient, graphClient } from '../client.js';
import { parseTeamsConfig, type TeamsConfig } from './config.js';
import { classifyTeamsError } from './errors.js';

/**
 * The one Teams session a listChanges or openContent call builds from its
 * SourceContext: the connector's config and the shared Graph client
 * (../client.ts, with Teams' error rules), every Teams request
 * with Teams' budgets (about 4 requests a second on one team or channel, 20 a
 * second on channel messages per tenant) and `Prefer: include-unknown-enum-members`
 * (without it shared channels and system messages read `unknownFutureValue`).
 */

/** Graph's budgets less a tenth, so that requests bunched up on the way still arrive inside them. */
export const TEAM_OR_CHANNEL_PER_SECOND = 4 * 0.9;
export const TENANT_CHANNEL_MESSAGES_PER_SECOND = 20 * 0.9;

/** Which budgets a request counts against (`outsideTeams`: none of Teams', e.g. the shares API, which also pauses with the tenant's drive calls). */
export interface RequestScope {
  channelId?: string;
  /** A channel-messages call (list, delta, replies, one message, hosted content). */
  messages?: boolean;
  outsideTeams?: boolean;
}

export interface TeamsSession {
  config: TeamsConfig;
  /** The connector's folder ancestry (channel files folders keep their entries apart in it). */
  folders: FolderTree;
  /** Where the OneDrive code keeps listed items' parents, per drive-folder scope (each channel folder is its own). */
  items: ItemParents;
  logger: Logger;
  signal?: AbortSignal;
  /** The shared Graph client (sign-in, HTTP layer, tenant pause): channel files and shared files go through it as OneDrive's code does. */
  graph: GraphClient;
  json<T = unknown>(url: string, scope: RequestScope): Promise<T>;
  stream(url: string, scope: RequestScope): Promise<{ body: Readable; headers: AnswerHeaders }>;
  /** `/teams/{t}/channels/{c}` (ids percent-encoded: channel ids hold `:` and `@`). */
  channelUrl(channelId: string): string;
}

/** Links Graph hands back (nextLink, replies nextLink) are followed with our token only inside this Graph deployment. */
function assertGraphLink(url: string, baseUrl: string): void {
  const base = new URL(`${baseUrl}/`);
  const target = new URL(url);
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) {
    throw new SourceProtocolError(`Graph answered a link outside ${base.origin}${base.pathname}; refusing to send the token there`);
  }
}

export function openTeamsSession(ctx: SourceContext, settings: Config['microsoft']): TeamsSession {
  const config = parseTeamsConfig(ctx.config);
  // Drive and shares calls pause with the tenant's other Graph calls; Teams' own calls, under Teams' limits, only with each other.
  const graph = graphClient(ctx, settings, classifyTeamsError);
  const { http, baseUrl } = graphClient(ctx, settings, classifyTeamsError, 'teams');
  const teamKey = `teams-team:${config.teamId}`;
  // A channel's requests are also the team's: both budgets apply.
  const buckets = (scope: RequestScope): RateBucket[] =>
    scope.outsideTeams
      ? []
      : [
          { key: teamKey, perSecond: TEAM_OR_CHANNEL_PER_SECOND },
          ...(scope.channelId ? [{ key: `teams-channel:${config.teamId}/${scope.channelId}`, perSecond: TEAM_OR_CHANNEL_PER_SECOND }] : []),
          ...(scope.messages ? [{ key: `teams-messages:${http.tenantKey}`, perSecond: TENANT_CHANNEL_MESSAGES_PER_SECOND }] : []),
        ];
  const headers = { prefer: 'include-unknown-enum-members' };
  return {
    config,
    folders: ctx.folders,
    items: ctx.items,
    logger: ctx.logger,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    graph,
    async json<T>(url: string, scope: RequestScope) {
      assertGraphLink(url, baseUrl);
      const { data } = await (scope.outsideTeams ? graph.http : http).json<T>(url, { headers, rate: buckets(scope), signal: ctx.signal });
      return data;
    },
    async stream(url: string, scope: RequestScope) {
      assertGraphLink(url, baseUrl);
      const { body, headers: answered } = await (scope.outsideTeams ? graph.http : http).stream(url, { headers, rate: buckets(scope), signal: ctx.signal });
      return { body, headers: answered };
    },
    channelUrl: (channelId) => `${baseUrl}/teams/${encodeURIComponent(config.teamId)}/channels/${encodeURIComponent(channelId)}`,
  };
}
