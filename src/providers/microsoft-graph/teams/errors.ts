import type { ErrorVerdict, FailedResponse } from '../../../http/source-http.js';
import { classifyGraphError, readGraphError } from '../errors.js';

/**
 * Graph's error rules (../errors.ts), plus what Teams answers differently:
 *
 * - a refused channel-messages delta link: Graph documents 410 or "a 40X-series
 *   error with error codes such as `syncStateNotFound`"
 *   (https://learn.microsoft.com/en-us/graph/delta-query-overview), and real
 *   tenants answer other 400s too (`Parameter 'DeltaToken' not supported`,
 *   `Parameter 'Filter' not supported`, intermittent ones: microsoft-graph-docs#17270,
 *   #20728, #8864, msgraph-beta-sdk-dotnet#243). Any 4xx but 401, 403 and 429 on
 *   `…/messages/delta` means "this channel's link is dead": list it again;
 * - a refusal: Teams answers 403 with its own codes (`Forbidden`,
 *   `UnknownError`, the protected-API refusal; microsoft-graph-docs#6318, #10792,
 *   https://learn.microsoft.com/en-us/graph/teams-protected-apis), never
 *   SharePoint's `accessDenied`. Every 403 of a Teams URL reads `accessDenied`,
 *   Graph's own code kept in the message.
 */
export function classifyTeamsError(failed: FailedResponse, signIn?: Parameters<typeof classifyGraphError>[1]): ErrorVerdict | undefined {
  const { code, message } = readGraphError(failed.bodyText);
  const { status, url } = failed;
  if (/\/messages\/delta$/.test(url) && status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 429) {
    return { kind: 'expired-cursor', code: code ?? 'syncStateNotFound', message };
  }
  if (status === 403 && /\/teams\//.test(url)) {
    return { kind: 'permanent', code: 'accessDenied', scope: 'sync', message: `${code ?? 'Forbidden'}${message ? `: ${message}` : ''}` };
  }
  return classifyGraphError(failed, signIn);
}
