import type { ErrorVerdict, FailedResponse } from '../../../http/source-http.js';
import { classifyGraphError, readGraphError } from '../errors.js';

/**
 * Graph's error rules (../errors.ts), plus the one Teams adds: an expired
 * channel-messages delta token may answer 400 `syncStateNotFound` instead of 410.
 */
export function classifyTeamsError(failed: FailedResponse): ErrorVerdict | undefined {
  if (failed.status === 400 && readGraphError(failed.bodyText).code === 'syncStateNotFound') {
    return { kind: 'expired-cursor', code: 'syncStateNotFound' };
  }
  return classifyGraphError(failed);
}
