import { describe, expect, it } from 'vitest';
import { classifyDriveError, readGoogleError } from '../../../src/providers/google-drive/errors.js';
import { classifyTokenError } from '../../../src/providers/google-drive/auth.js';

const body = (status: number, reason: string, message = 'm', extra: Record<string, string> = {}) =>
  JSON.stringify({ error: { code: status, message, errors: [{ reason, message, ...extra }] } });
const verdict = (status: number, bodyText: string, headers: Record<string, string> = {}) =>
  classifyDriveError({ status, bodyText, headers: new Headers(headers), url: 'https://www.googleapis.com/drive/v3/files' });

describe('classifyDriveError', () => {
  it('waits on rate limits, with the Retry-After header or the "Retry after" message', () => {
    expect(verdict(403, body(403, 'userRateLimitExceeded'), { 'retry-after': '7' })).toEqual({ kind: 'throttle', code: 'userRateLimitExceeded', retryAfterMs: 7000 });
    const at = new Date(Date.now() + 60_000).toISOString();
    const fromMessage = verdict(403, body(403, 'rateLimitExceeded', `Rate Limit Exceeded. Retry after ${at}`));
    expect(fromMessage?.kind).toBe('throttle');
    expect(fromMessage?.retryAfterMs).toBeGreaterThan(50_000);
    expect(verdict(429, '')).toEqual({ kind: 'throttle', code: 'rateLimitExceeded' });
    expect(verdict(503, body(503, 'backendError'))).toMatchObject({ kind: 'throttle' });
    expect(verdict(500, body(500, 'backendError'))).toMatchObject({ kind: 'retry' });
  });

  it('stops the sync on the daily quota with what to expect', () => {
    const v = verdict(403, body(403, 'dailyLimitExceeded'));
    expect(v).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'dailyLimitExceeded' });
    expect(v?.message).toMatch(/resets .* next sync resumes from the saved cursor/);
  });

  it.each(['downloadQuotaExceeded', 'cannotDownloadAbusiveFile', 'exportSizeLimitExceeded', 'cannotExportFile'])('stops only the item on %s', (reason) => {
    expect(verdict(403, body(403, reason))).toMatchObject({ kind: 'permanent', scope: 'item', code: reason });
  });

  it('recognises an invalid page token, a 404 and a 401', () => {
    const listingToken = { kind: 'expired-cursor', code: 'invalidPageToken', message: expect.stringContaining('rejected the saved folder listing page token') };
    expect(verdict(400, body(400, 'invalid', 'Invalid Value', { location: 'pageToken' }))).toEqual(listingToken);
    expect(verdict(400, body(400, 'badRequest', 'The page token is no longer valid'))).toEqual(listingToken);
    expect(verdict(404, body(404, 'notFound'))).toMatchObject({ kind: 'not-found', code: 'notFound' });
    expect(verdict(401, body(401, 'authError'))).toEqual({ kind: 'unauthorized', code: 'authError' });
    expect(verdict(400, body(400, 'badRequest', 'Invalid query'))).toBeUndefined();
  });

  it('reads the newer ErrorInfo format and survives bodies that are not JSON', () => {
    const newer = JSON.stringify({ error: { code: 403, message: 'quota', status: 'PERMISSION_DENIED', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'dailyLimitExceeded' }] } });
    expect(readGoogleError(newer)).toEqual({ reason: 'dailyLimitExceeded', message: 'quota' });
    expect(readGoogleError('<html>')).toEqual({});
    expect(readGoogleError('"x"')).toEqual({});
    expect(verdict(403, '<html>')).toMatchObject({ kind: 'permanent', scope: 'item', code: 'forbidden' });
  });
});

describe('classifyTokenError', () => {
  const token = (status: number, error: string | undefined) =>
    classifyTokenError('user')({ status, bodyText: error ? JSON.stringify({ error }) : 'x', headers: new Headers(), url: 'https://oauth2.googleapis.com/token' });

  it('turns a revoked grant into a reconnect message that stops the sync', () => {
    const v = token(400, 'invalid_grant');
    expect(v).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'invalidGrant' });
    expect(v?.message).toMatch(/reconnect the Google account/);
  });

  it('leaves 5xx and 429 to the retry policy and stops on other refusals', () => {
    expect(token(503, undefined)).toBeUndefined();
    expect(token(429, undefined)).toBeUndefined();
    expect(token(401, 'invalid_client')).toMatchObject({ kind: 'permanent', code: 'invalidClient', scope: 'sync' });
    expect(token(400, undefined)).toMatchObject({ kind: 'permanent', code: 'http400', scope: 'sync' });
    const sa = classifyTokenError('service-account')({ status: 401, bodyText: JSON.stringify({ error: 'unauthorized_client' }), headers: new Headers(), url: '' });
    expect(sa?.message).toMatch(/domain-wide delegation/);
  });
});
