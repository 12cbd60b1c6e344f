import type { Config } from '../../config.js';
import type { SourceHttp } from '../../http/source-http.js';
import type { SourceContext } from '../types.js';
import { graphTokenSource, signInKey } from './auth.js';
import { classifyGraphError } from './errors.js';
import { isTenantPlaceholder, resolveGraphIdentity } from './identity.js';
import { GRAPH_USER_AGENT } from './user-agent.js';

/** Graph's error rules, or a Graph source's that add to them; told who signs in (app-only refusals need an administrator). */
export type GraphClassifier = typeof classifyGraphError;

/** What every Graph call of one activity goes through: the shared HTTP layer, signed in as this connector. */
export interface GraphClient {
  http: SourceHttp;
  /** e.g. `https://graph.microsoft.com/v1.0`, without a trailing slash. */
  baseUrl: string;
}

/**
 * The Graph half of every Graph source's session (OneDrive, Teams): sign-in from the connector config, tenant pause, error rules
 * (Graph's own, or a source's that adds to them). `pauseGroup` names the calls one 429 pauses: Graph's drive and site
 * calls share `graph`; Teams' own calls, throttled by Teams' separate limits, pause only each other (`teams`).
 */
export function graphClient(
  ctx: SourceContext,
  settings: Config['microsoft'],
  classify: GraphClassifier = classifyGraphError,
  pauseGroup: 'graph' | 'teams' = 'graph',
): GraphClient {
  const identity = resolveGraphIdentity(ctx.config, settings);
  // Graph throttles per app and tenant: every connector of a tenant waits out one 429 together.
  // A delegated sign-in through "organizations" or "common" does not say its tenant; its token does
  // (auth.ts learns the `tid`). Until the first token names it, the connector waits alone.
  const named = !isTenantPlaceholder(identity.tenantId);
  const learnt = (): string | undefined => (named ? identity.tenantId : ctx.memory.signedInTenants.tenantOf(signInKey(ctx.connector.id, identity)));
  const tenantKey = (): string => `${pauseGroup}:${learnt() ?? `connector-${ctx.connector.id}`}`;
  const http = ctx.makeHttp({
    tenantKey,
    // SharePoint's resource units are charged to drive and site calls; Teams' calls are charged to Teams' per-second buckets by the Teams session.
    ...(pauseGroup === 'graph'
      ? { costs: (method: string, url: URL) => ctx.memory.quotas.sharePoint(tenantKey(), learnt() ?? identity.tenantId)(method, url) }
      : {}),
    auth: graphTokenSource(ctx, identity, settings.loginBaseUrl.replace(/\/+$/, '')),
    classify: (failed) => classify(failed, identity),
    userAgent: GRAPH_USER_AGENT,
  });
  return { http, baseUrl: settings.graphBaseUrl.replace(/\/+$/, '') };
}
