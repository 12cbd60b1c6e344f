import { z } from 'zod';
import type { Config } from '../../config.js';
import { PermanentSourceError } from '../../errors.js';
import { optionalText, parseConnectorConfig } from '../connector-config.js';

/**
 * Which credentials a connector signs in to Microsoft with.
 *
 * - Delegated: `refresh_token` in the connector config (a user's consent, from
 *   EchoMind's OAuth flow). Microsoft rotates it on use.
 * - App-only (client credentials): the service's `MS_GRAPH_*` app, or the
 *   connector's own app when its config names one.
 *
 * A connector that names its own `client_id` brings its own `client_secret`:
 * one app's id is never paired with another app's secret.
 */
export type GraphIdentity =
  | { kind: 'app'; tenantId: string; clientId: string; clientSecret: string }
  | {
      kind: 'delegated';
      tenantId: string;
      clientId: string;
      /** Absent for a public client app, which redeems refresh tokens without a secret. */
      clientSecret?: string;
      refreshToken: string;
    };

/** The sign-in keys every Graph source reads from its connector config (spread into its own schema). */
export const graphSignInKeys = {
  refresh_token: optionalText,
  client_id: optionalText,
  client_secret: optionalText,
  tenant_id: optionalText,
};

const graphSignInSchema = z.object(graphSignInKeys);

/**
 * Authority for delegated sign-in when the connector names no tenant: the user's own work or
 * school tenant, whichever it is. Never the service's MS_GRAPH_TENANT_ID: a user of another
 * tenant redeeming a refresh token there is refused (AADSTS50020 class) on every sync.
 */
const ANY_ORGANIZATION = 'organizations';

/** Authorities that name no tenant (`common`, `organizations`, `consumers`). */
export function isTenantPlaceholder(tenantId: string): boolean {
  return ['common', 'organizations', 'consumers'].includes(tenantId.toLowerCase());
}

function missing(what: string): PermanentSourceError {
  return new PermanentSourceError(`Microsoft credentials are incomplete: ${what} is not set`, 'missingCredentials', 'sync');
}

export function resolveGraphIdentity(config: Record<string, unknown>, settings: Config['microsoft']): GraphIdentity {
  const {
    refresh_token: refreshToken,
    client_id: ownClientId,
    client_secret: ownClientSecret,
    tenant_id: ownTenant,
  } = parseConnectorConfig(graphSignInSchema, config);
  const bringsOwnApp = ownClientId !== undefined || ownClientSecret !== undefined;
  if (bringsOwnApp && ownClientId === undefined) throw missing('the connector config "client_id" (it has a "client_secret")');

  const clientId = bringsOwnApp ? ownClientId : settings.clientId || undefined;
  const clientSecret = bringsOwnApp ? ownClientSecret : settings.clientSecret || undefined;
  const appTenant = ownTenant ?? (settings.tenantId || undefined);
  const where = (configKey: string, envName: string) =>
    bringsOwnApp ? `the connector config "${configKey}"` : `${envName} (or the connector config "${configKey}")`;

  if (clientId === undefined) throw missing(where('client_id', 'MS_GRAPH_CLIENT_ID'));
  if (refreshToken !== undefined) {
    return { kind: 'delegated', tenantId: ownTenant ?? ANY_ORGANIZATION, clientId, clientSecret, refreshToken };
  }
  if (clientSecret === undefined) throw missing(where('client_secret', 'MS_GRAPH_CLIENT_SECRET'));
  if (appTenant === undefined) throw missing('MS_GRAPH_TENANT_ID (or the connector config "tenant_id")');
  return { kind: 'app', tenantId: appTenant, clientId, clientSecret };
}
