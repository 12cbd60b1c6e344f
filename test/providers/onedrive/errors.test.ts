import { describe, expect, it } from 'vitest';
import type { FailedResponse } from '../../../src/http/source-http.js';
import { classifyGraphError } from '../../../src/providers/microsoft-graph/errors.js';
import { classifyTokenError } from '../../../src/providers/microsoft-graph/auth.js';

function failed(status: number, body: unknown, url = 'https://graph.microsoft.com/v1.0/drives/d/root/delta'): FailedResponse {
  return { status, headers: new Headers(), bodyText: typeof body === 'string' ? body : JSON.stringify(body), url };
}
const graphBody = (code: string, message = 'm') => ({ error: { code, message } });

describe('classifyGraphError', () => {
  it.each([
    [401, 'InvalidAuthenticationToken', { kind: 'unauthorized', code: 'InvalidAuthenticationToken' }],
    [404, 'itemNotFound', { kind: 'not-found', code: 'itemNotFound' }],
    [410, 'resyncRequired', { kind: 'expired-cursor', code: 'resyncRequired' }],
    [423, 'resourceLocked', { kind: 'retry' }],
    [429, 'activityLimitReached', { kind: 'throttle', code: 'activityLimitReached' }],
    [503, 'serviceNotAvailable', { kind: 'throttle' }],
    [507, 'insufficientStorage', { kind: 'permanent', scope: 'sync' }],
    [500, 'generalException', { kind: 'retry' }],
  ])('%i %s', (status, code, verdict) => {
    expect(classifyGraphError(failed(status, graphBody(code)))).toMatchObject(verdict);
  });

  it('fails one item on a refused download, the sync on a refused listing', () => {
    const content = 'https://graph.microsoft.com/v1.0/drives/d/items/i/content';
    expect(classifyGraphError(failed(403, graphBody('accessDenied'), content))).toMatchObject({ kind: 'permanent', scope: 'item', code: 'accessDenied' });
    expect(classifyGraphError(failed(403, graphBody('accessDenied')))).toMatchObject({ kind: 'permanent', scope: 'sync' });
    const children = 'https://graph.microsoft.com/v1.0/drives/d/items/f/children';
    expect(classifyGraphError(failed(400, graphBody('invalidRequest', 'bad'), children))).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'invalidRequest', message: 'bad' });
  });

  it('withholds a file whose bytes Graph refuses for good by a documented code, top-level or nested; a bare accessDenied stays a failure', () => {
    const content = 'https://graph.microsoft.com/v1.0/drives/d/items/i/content';
    const nested = { error: { code: 'accessDenied', message: 'Access denied', innerError: { code: 'accessRestricted', date: 'x' } } };
    expect(classifyGraphError(failed(403, nested, content))).toMatchObject({ kind: 'withheld', code: 'accessRestricted', message: expect.stringMatching(/restricts this file to its owner/) });
    const oneDriveSpelling = { error: { code: 'accessDenied', innererror: { code: 'generalAccessDenied', innererror: { code: 'virusSuspicious' } } } };
    expect(classifyGraphError(failed(403, oneDriveSpelling, content))).toMatchObject({ kind: 'withheld', code: 'virusSuspicious' });
    expect(classifyGraphError(failed(403, graphBody('malwareDetected'), content))).toMatchObject({ kind: 'withheld', code: 'malwareDetected' });
    expect(classifyGraphError(failed(403, graphBody('accessDenied'), content))).toMatchObject({ kind: 'permanent', scope: 'item' });
    // On a listing the same refusal is the sync's: the scope cannot be read.
    expect(classifyGraphError(failed(403, nested))).toMatchObject({ kind: 'permanent', scope: 'sync' });
  });

  it('restarts the enumeration when Graph refuses a delta link with 400 or 410', () => {
    expect(classifyGraphError(failed(400, graphBody('invalidRequest', 'bad token')))).toMatchObject({ kind: 'expired-cursor', code: 'invalidRequest' });
    expect(classifyGraphError(failed(410, graphBody('resyncRequired')))).toMatchObject({ kind: 'expired-cursor', code: 'resyncRequired' });
  });

  it('keeps Graph\'s message and falls back to the status when the body is not Graph\'s', () => {
    expect(classifyGraphError(failed(403, graphBody('accessDenied', 'The caller does not have permission')))?.message).toBe('The caller does not have permission');
    expect(classifyGraphError(failed(410, '<html>gone</html>'))).toMatchObject({ kind: 'expired-cursor', code: 'resyncRequired' });
    expect(classifyGraphError(failed(429, ''))).toMatchObject({ kind: 'throttle', code: 'tooManyRequests' });
  });
});

describe('classifyTokenError', () => {
  const oauth = (error: string, code = 70000) => ({ error, error_description: 'AADSTS…: refresh token secret-looking-value', error_codes: [code] });

  it('asks to reconnect on invalid_grant, naming the AADSTS code but not the description', () => {
    const verdict = classifyTokenError(failed(400, oauth('invalid_grant', 700082)));
    expect(verdict).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'invalidGrant' });
    expect(verdict?.message).toMatch(/reconnect the Microsoft account.*AADSTS700082/);
    expect(verdict?.message).not.toContain('secret-looking-value');
  });

  it('points at the app settings on invalid_client', () => {
    expect(classifyTokenError(failed(401, oauth('invalid_client', 7000215)))).toMatchObject({
      kind: 'permanent',
      scope: 'sync',
      message: expect.stringContaining('MS_GRAPH_CLIENT_SECRET'),
    });
  });

  it('stops on other refusals, retries what Microsoft says is temporary, leaves throttling to the defaults', () => {
    expect(classifyTokenError(failed(400, oauth('invalid_scope')))).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'invalidScope' });
    expect(classifyTokenError(failed(400, '{}'))).toMatchObject({ kind: 'permanent', scope: 'sync', code: 'http400' });
    expect(classifyTokenError(failed(503, oauth('temporarily_unavailable')))).toEqual({ kind: 'retry', code: 'temporarilyUnavailable' });
    expect(classifyTokenError(failed(429, ''))).toBeUndefined();
    expect(classifyTokenError(failed(500, 'oops'))).toBeUndefined();
  });
});
