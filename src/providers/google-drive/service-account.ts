import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PermanentSourceError } from '../../errors.js';

/**
 * The service-account key from GOOGLE_SERVICE_ACCOUNT_JSON (a file path or the
 * JSON itself) and the RS256 assertion of the JWT bearer grant. Nothing here
 * may echo the key: error messages name the variable and the missing field only.
 */

export interface ServiceAccountKey {
  clientEmail: string;
  privateKeyId?: string;
  privateKey: KeyObject;
}

export const DRIVE_READONLY_SCOPE = 'https://www.googleapis.com/auth/drive.readonly';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function keyError(problem: string): PermanentSourceError {
  return new PermanentSourceError(`GOOGLE_SERVICE_ACCOUNT_JSON ${problem}`, 'serviceAccountInvalid', 'sync');
}

async function readSetting(setting: string): Promise<string> {
  const trimmed = setting.trim();
  if (trimmed.startsWith('{')) return trimmed;
  try {
    return await readFile(trimmed, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw keyError(`names a file that cannot be read (${code}); set it to the key file's path or to the key JSON itself`);
  }
}

function parseKey(text: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which may be the private key: say nothing of it.
    throw keyError('is not valid JSON; expected a service-account key file downloaded from Google Cloud');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw keyError('is not a JSON object');
  const fields = json as Record<string, unknown>;
  if (fields.type !== undefined && fields.type !== 'service_account') throw keyError('is not a service-account key (its "type" is not "service_account")');
  const missing = ['client_email', 'private_key'].filter((k) => typeof fields[k] !== 'string' || fields[k] === '');
  if (missing.length > 0) throw keyError(`lacks ${missing.join(' and ')}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(fields.private_key as string);
  } catch {
    throw keyError('has a private_key that is not a readable PEM key');
  }
  return {
    clientEmail: fields.client_email as string,
    ...(typeof fields.private_key_id === 'string' ? { privateKeyId: fields.private_key_id } : {}),
    privateKey,
  };
}

/**
 * Service-account keys read and checked once per worker (per distinct setting),
 * not once per activity. The worker holds one (see SourceMemory).
 */
export class ServiceAccountKeys {
  private readonly loaded = new Map<string, Promise<ServiceAccountKey>>();

  load(setting: string): Promise<ServiceAccountKey> {
    let key = this.loaded.get(setting);
    if (!key) {
      key = readSetting(setting).then(parseKey);
      // A failed read is not kept: the file may appear before the next attempt.
      key.catch(() => this.loaded.delete(setting));
      this.loaded.set(setting, key);
    }
    return key;
  }
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** The signed assertion: `iss` the service account, `aud` the token URL, `sub` the impersonated user. */
export function signAssertion(
  key: ServiceAccountKey,
  options: { audience: string; subject?: string; scope?: string; now?: number; lifetimeSeconds?: number },
): string {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const claims = {
    iss: key.clientEmail,
    scope: options.scope ?? DRIVE_READONLY_SCOPE,
    aud: options.audience,
    iat,
    exp: iat + (options.lifetimeSeconds ?? 3600),
    ...(options.subject ? { sub: options.subject } : {}),
  };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key.privateKey);
  return `${unsigned}.${base64url(signature)}`;
}
