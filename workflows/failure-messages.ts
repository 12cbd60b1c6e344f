import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FAILURE, sourceLabel } from './definitions.js';

/**
 * What a person reads in `status_message` when a sync ends in error: which
 * source, what failed and what to do first, the technical detail last.
 */

/** A failure that ends the whole sync, with where it happened ("while storing "a.pdf"", "while listing changes"). */
export class SyncFailure extends Error {
  override readonly name = 'SyncFailure';
  constructor(
    readonly where: string,
    readonly failure: unknown,
  ) {
    super(`${where}: ${reasonOf(failure)}`);
  }
}

/** The innermost cause's message. */
export function reasonOf(e: unknown): string {
  let current: unknown = e;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  if (current instanceof TimeoutFailure) return `no progress reported in time (${current.timeoutType})`;
  if (current instanceof Error) return current.message;
  return String(current);
}

function typeOf(e: unknown): string | undefined {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  return cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined;
}

const RESUMES = 'the next sync resumes from the last saved page';

/**
 * The HTTP layer's wording of a failed answer (src/http/source-http.ts):
 * "[gave up after N attempts: ]<METHOD> <url> answered <status>[ (<code>)][: <advice> | ; retry in N s]".
 */
const HTTP_ANSWER = /^((?:gave up after \d+ attempts: )?)([A-Z]+) (\S+) answered (\d{3})(?: \(([^)]*)\))?(?:: ([\s\S]*)|(; [\s\S]*))?$/;

/** A URL without its query string or fragment (tokens and signatures travel there). */
function withoutQueries(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>()]+)[?#][^\s"'<>()]*?(?=[.,;:]?(?:[\s"'<>()]|$))/gi, '$1');
}

/**
 * A failure's text split into what a person can act on (the source's advice,
 * when it gave one) and the technical detail: the request, one HTTP status and
 * the source's code, URLs without their query strings.
 */
function operatorReason(reason: string): { advice?: string; detail: string } {
  const text = withoutQueries(reason);
  const m = HTTP_ANSWER.exec(text);
  if (!m) return { detail: text };
  const [, gaveUp, method, url, status, code, advice, tail] = m;
  // `http403` says the status again: one HTTP status is enough.
  const named = code && code !== `http${status}` ? ` (${code})` : '';
  const detail = `${gaveUp}${method} ${url} answered ${status}${named}${tail ?? ''}`;
  return advice ? { advice: advice.trim(), detail } : { detail };
}

const sentence = (s: string): string => capitalize(s.replace(/[.\s]+$/, ''));

/**
 * What `status_message` says when a sync ends in error: the sentence a person
 * acts on first (the source's advice: "reconnect the Microsoft account in
 * EchoMind"), then which sync failed and where, then the technical detail.
 * Never a doubled prefix.
 */
export function syncFailureMessage(connectorType: string | undefined, e: unknown): string {
  const where = e instanceof SyncFailure ? ` ${e.where}` : '';
  const failure = e instanceof SyncFailure ? e.failure : e;
  const { advice, detail } = operatorReason(reasonOf(failure));
  const reason = advice ? `${detail}: ${advice}` : detail;
  const source = sourceLabel(connectorType);
  switch (typeOf(failure)) {
    case FAILURE.dependencyUnavailable:
      return `${source} sync stopped${where}: ${reason}. Nothing was lost; ${RESUMES} once it is back.`;
    case FAILURE.sourcePermanent:
      // A permanent refusal's message is written for a person (advice, or a config key and what is wrong with it).
      if (advice) return `${sentence(advice)}. ${source} sync failed${where}: ${detail}.`;
      if (!HTTP_ANSWER.test(detail)) return `${sentence(detail)}. ${source} sync failed${where}.`;
      return `${source} sync failed${where}: ${detail}.`;
    case FAILURE.throttled:
      return `${source} sync gave up waiting${where}: ${source} kept throttling (${reason}); ${RESUMES}.`;
    default:
      return `${source} sync failed${where}: ${reason}. ${capitalize(RESUMES)}.`;
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
