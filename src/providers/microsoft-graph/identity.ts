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

/** Tenant for delegated sign-in when none is configured: any work, school or personal account. */
const ANY_TENANT = 'common';

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
  const tenantId = ownTenant ?? (settings.tenantId || undefined);
  const where = (configKey: string, envName: string) =>
    bringsOwnApp ? `the connector config "${configKey}"` : `${envName} (or the connector config "${configKey}")`;

  if (clientId === undefined) throw missing(where('client_id', 'MS_GRAPH_CLIENT_ID'));
  if (refreshToken !== undefined) {
    return { kind: 'delegated', tenantId: tenantId ?? ANY_TENANT, clientId, clientSecret, refreshToken };
  }
  if (clientSecret === undefined) throw missing(where('client_secret', 'MS_GRAPH_CLIENT_SECRET'));
  if (tenantId === undefined) throw missing('MS_GRAPH_TENANT_ID (or the connector config "tenant_id")');
  return { kind: 'app', tenantId, clientId, clientSecret };
}
