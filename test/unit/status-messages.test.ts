import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/failures.js';
import { SourceHttp, type Classifier } from '../../src/http/source-http.js';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';
import { TenantPauses } from '../../src/http/tenant-pauses.js';
import { cannedAnswers } from '../support/canned-answers.js';
import { requestToken } from '../../src/providers/oauth.js';
import { classifyTokenError, RECONNECT_MESSAGE } from '../../src/providers/microsoft-graph/auth.js';
import { notIngestibleReason } from '../../workflows/skip-reasons.js';
import { summarize, emptyTotals } from '../../workflows/definitions.js';
import { SyncFailure, syncFailureMessage } from '../../workflows/failure-messages.js';

/**
 * The words an operator reads in `connectors.status_message`: the sentence to
 * act on first, then which sync failed where, then the technical detail with
 * one HTTP status and no query string; skipped files grouped by reason.
 */

/** A token endpoint that answers every POST with `status` and `body`, through the real HTTP layer. */
async function tokenFailure(url: string, status: number, body: unknown, classify: Classifier): Promise<unknown> {
  const http = new SourceHttp({
    tenantKey: 'login:tenant',
    pauses: new TenantPauses(),
    rateLimiter: new RequestRateLimiter(),
    classify,
    dispatcher: cannedAnswers(new URL(url).origin, { status, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const failure = await requestToken(http, url, { grant_type: 'refresh_token', refresh_token: 'r' }, 'the Microsoft token endpoint').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure, 'the token request fails').toBeInstanceOf(Error);
  // What the activity hands Temporal, and the workflow reads back.
  return toActivityFailure(failure);
}

const statuses = (message: string): string[] => message.match(/\b[1-5]\d\d\b/g) ?? [];

describe('status message of a failed sync', () => {
  it("starts a revoked Microsoft sign-in with what to do, then the request's detail", async () => {
    const failure = await tokenFailure(
      'https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token?client-request-id=abc123',
      400,
      { error: 'invalid_grant', error_description: 'AADSTS70008: The refresh token has expired. Trace ID: 1234', error_codes: [70008] },
      classifyTokenError,
    );
    const message = syncFailureMessage('onedrive', new SyncFailure('while listing changes', failure));
    expect(message).toBe(
      `${RECONNECT_MESSAGE.charAt(0).toUpperCase()}${RECONNECT_MESSAGE.slice(1)} (AADSTS70008). ` +
        'OneDrive sync failed while listing changes: POST https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token answered 400 (invalidGrant).',
    );
    expect(message).not.toContain('client-request-id');
    expect(statuses(message)).toEqual(['400']);
  });

  it('names one HTTP status, not the status again as a code, and no query string', async () => {
    const failure = await tokenFailure('https://login.example.test/t/token?sig=s3cr3t', 418, {}, () => ({ kind: 'permanent', scope: 'sync' }));
    const message = syncFailureMessage('teams', new SyncFailure('while listing changes', failure));
    expect(message).toBe('Teams sync failed while listing changes: POST https://login.example.test/t/token answered 418.');
    expect(statuses(message)).toEqual(['418']);
  });

  it('puts a refusal written for a person (a bad config key) first', () => {
    const failure = ApplicationFailure.create({ type: 'SourcePermanentError', message: 'connector config "team_id" is required', nonRetryable: true });
    expect(syncFailureMessage('teams', failure)).toBe('Connector config "team_id" is required. Teams sync failed.');
  });

  it('keeps an outage\'s message, without the query strings of the URLs it quotes', () => {
    const failure = ApplicationFailure.create({
      type: 'DependencyUnavailable',
      message: 'the object store is unavailable (PUT http://127.0.0.1:9000/bucket/a.pdf?X-Amz-Signature=abc: ECONNREFUSED)',
    });
    expect(syncFailureMessage('onedrive', new SyncFailure('while storing "a.pdf"', failure))).toBe(
      'OneDrive sync stopped while storing "a.pdf": the object store is unavailable (PUT http://127.0.0.1:9000/bucket/a.pdf: ECONNREFUSED). ' +
        'Nothing was lost; the next sync resumes from the last saved page once it is back.',
    );
  });
});

describe('skipped files in the summary', () => {
  const totals = (skipped: number) => ({ ...emptyTotals(), new: 2, skipped });

  it('groups files the ingestor refuses into one reason that names their kinds', () => {
    const reasons = {
      [notIngestibleReason('application/msonenote')]: 1,
      [notIngestibleReason('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')]: 1,
      [notIngestibleReason('application/vnd.ms-excel')]: 1,
    };
    expect(summarize(totals(3), reasons)).toBe('2 new, 0 updated, 0 deleted, 3 skipped: the ingestor does not accept OneNote or Excel files, 0 failed');
  });

  it('gives each reason its count when there are several, most frequent first', () => {
    const reasons = {
      'dangling shortcut': 1,
      [notIngestibleReason('application/zip')]: 2,
      [notIngestibleReason('application/x-unknown')]: 1,
    };
    expect(summarize(totals(4), reasons)).toBe(
      '2 new, 0 updated, 0 deleted, 4 skipped: the ingestor does not accept ZIP or application/x-unknown files (3); dangling shortcut (1), 0 failed',
    );
  });
});
