import type { Readable } from 'node:stream';
import type { Config } from '../../../config.js';
import { SourceProtocolError } from '../../../errors.js';
import type { ErrorVerdict, FailedResponse, SourceHttp } from '../../../http/source-http.js';
import type { RateBucket } from '../../../http/rate-limit.js';
import type { SourceContext } from '../../types.js';
import { graphTokenSource } from '../auth.js';
import { classifyGraphError, readGraphError } from '../errors.js';
import { resolveGraphIdentity } from '../identity.js';
import { parseTeamsConfig, type TeamsConfig } from './config.js';

/**
 * One Teams session per activity: the connector's config, signed in through the
 * shared Microsoft identity code, every request through the shared HTTP layer
 * with Teams' budgets (about 4 requests a second on one team or channel, 20 a
 * second on channel messages per tenant) and `Prefer: include-unknown-enum-members`
 * (without it shared channels and system messages read `unknownFutureValue`).
 */

export const TEAM_OR_CHANNEL_PER_SECOND = 4;
export const TENANT_CHANNEL_MESSAGES_PER_SECOND = 20;

/** Which budgets a request counts against (`outsideTeams`: none of Teams', e.g. the shares API). */
export interface RequestScope {
  channelId?: string;
  /** A channel-messages call (list, delta, replies, one message, hosted content). */
  messages?: boolean;
  outsideTeams?: boolean;
}

export interface TeamsSession {
  ctx: SourceContext;
  config: TeamsConfig;
  settings: Config['microsoft'];
  /** e.g. `https://graph.microsoft.com/v1.0`. */
  baseUrl: string;
  http: SourceHttp;
  json<T = unknown>(url: string, scope: RequestScope): Promise<T>;
  stream(url: string, scope: RequestScope): Promise<{ body: Readable; headers: Headers }>;
  /** `/teams/{t}/channels/{c}` (ids percent-encoded: channel ids hold `:` and `@`). */
  channelUrl(channelId: string): string;
}

/**
 * Graph's errors, plus the one Teams adds: an expired channel-messages delta
 * token may answer 400 `syncStateNotFound` instead of 410.
 */
export function classifyTeamsError(failed: FailedResponse): ErrorVerdict | undefined {
  if (failed.status === 400 && readGraphError(failed.bodyText).code === 'syncStateNotFound') {
    return { kind: 'expired-cursor', code: 'syncStateNotFound' };
  }
  return classifyGraphError(failed);
}

/** Links Graph hands back (nextLink, replies nextLink) are followed with our token only inside this Graph deployment. */
function assertGraphLink(url: string, baseUrl: string): void {
  const base = new URL(`${baseUrl}/`);
  const target = new URL(url);
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) {
    throw new SourceProtocolError(`Graph answered a link outside ${base.origin}${base.pathname}; refusing to send the token there`);
  }
}

export function teamsSession(ctx: SourceContext, settings: Config['microsoft']): TeamsSession {
  const config = parseTeamsConfig(ctx.config);
  const identity = resolveGraphIdentity(ctx.config, settings);
  const tenantKey = identity.tenantId === 'common' ? `graph:connector-${ctx.connector.id}` : `graph:${identity.tenantId}`;
  const http = ctx.makeHttp({
    tenantKey,
    auth: graphTokenSource(ctx, identity, settings.loginBaseUrl.replace(/\/+$/, '')),
    classify: classifyTeamsError,
  });
  const baseUrl = settings.graphBaseUrl.replace(/\/+$/, '');
  const teamKey = `teams-team:${config.teamId}`;
  const buckets = (scope: RequestScope): RateBucket[] => scope.outsideTeams ? [] : [
    { key: scope.channelId ? `teams-channel:${config.teamId}/${scope.channelId}` : teamKey, perSecond: TEAM_OR_CHANNEL_PER_SECOND },
    ...(scope.messages ? [{ key: `teams-messages:${tenantKey}`, perSecond: TENANT_CHANNEL_MESSAGES_PER_SECOND }] : []),
  ];
  const headers = { prefer: 'include-unknown-enum-members' };
  return {
    ctx,
    config,
    settings,
    baseUrl,
    http,
    async json<T>(url: string, scope: RequestScope) {
      assertGraphLink(url, baseUrl);
      const { data } = await http.json<T>(url, { headers, rate: buckets(scope), signal: ctx.signal });
      return data;
    },
    async stream(url: string, scope: RequestScope) {
      assertGraphLink(url, baseUrl);
      const { body, headers: answered } = await http.stream(url, { headers, rate: buckets(scope), signal: ctx.signal });
      return { body, headers: answered };
    },
    channelUrl: (channelId) => `${baseUrl}/teams/${encodeURIComponent(config.teamId)}/channels/${encodeURIComponent(channelId)}`,
  };
}
