import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * The user's Google OAuth grant as EchoMind keeps it: a `google_credentials`
 * row, the connector's own (`google_credential_id`) or else its user's. Only
 * this source reads it; the provider receives the store when the worker
 * builds it.
 */

export interface GoogleCredential {
  id: number;
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: Date | null;
  clientId: string | null;
  clientSecret: string | null;
  /** What the user granted at sign-in (`granted_scopes`); null when EchoMind did not record it. */
  grantedScopes?: string[] | null;
}

/** The connector fields that say which row is its. */
export interface CredentialOwner {
  id: number;
  user_id: number;
  google_credential_id: number | null;
}

export interface GoogleCredentialStore {
  load(owner: CredentialOwner): Promise<GoogleCredential | null>;
  save(owner: CredentialOwner, update: { accessToken: string; expiresAt: Date; refreshToken?: string }): Promise<void>;
}

export function databaseGoogleCredentials(db: Kysely<Database>): GoogleCredentialStore {
  const rowOf = (owner: CredentialOwner) => {
    const query = db.selectFrom('google_credentials').selectAll();
    return owner.google_credential_id !== null ? query.where('id', '=', owner.google_credential_id) : query.where('user_id', '=', owner.user_id);
  };
  return {
    async load(owner) {
      const row = await rowOf(owner).executeTakeFirst();
      if (!row) return null;
      return {
        id: row.id,
        accessToken: row.access_token,
        refreshToken: row.refresh_token,
        expiresAt: row.token_expires_at,
        clientId: row.client_id,
        clientSecret: row.client_secret,
        grantedScopes: row.granted_scopes,
      };
    },
    async save(owner, update) {
      const row = await rowOf(owner).select('id').executeTakeFirst();
      if (!row) throw new Error('no google_credentials row to save the refreshed token to');
      await db
        .updateTable('google_credentials')
        .set({
          access_token: update.accessToken,
          token_expires_at: update.expiresAt,
          ...(update.refreshToken ? { refresh_token: update.refreshToken } : {}),
          last_update: new Date(),
        })
        .where('id', '=', row.id)
        .execute();
    },
  };
}
