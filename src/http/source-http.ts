import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PermanentSourceError,
  SourceProtocolError,
  SourceUnreachableError,
  ThrottledError,
} from '../errors.js';
import type { RateBucket, RequestRateLimiter } from './rate-limit.js';
import { backoffDelay, parseRetryAfter } from './retry-after.js';
import type { TenantPauses } from './tenant-pauses.js';

/**
 * The one HTTP layer every source goes through: retries with jittered backoff,
 * `Retry-After` (seconds or HTTP-date), one token refresh on 401, and a pause of
 * every request to a tenant while that tenant is throttled. Sources describe
 * their errors through `classify`; they never loop on failures themselves.
 */

export interface AccessTokenSource {
  /** A valid bearer token; `forceRefresh` after the source rejected the last one. */
  getAccessToken(forceRefresh: boolean): Promise<string>;
}

/** What a source says about a failed response. Unset fields fall back to the HTTP defaults for the same kind. */
export interface ErrorVerdict {
  kind: 'retry' | 'throttle' | 'unauthorized' | 'permanent' | 'expired-cursor' | 'not-found';
  /** Short machine code, e.g. `accessDenied`, `dailyLimitExceeded`. */
  code?: string;
  message?: string;
  /** Permanent failures: does it stop the item or the whole sync? */
  scope?: 'item' | 'sync';
  retryAfterMs?: number;
  /** Unauthorized: what to tell the user when a fresh token is refused too (default: reconnect the account). */
  advice?: string;
}

export interface FailedResponse {
  status: number;
  headers: Headers;
  /** The body as text, at most 64 KiB. */
  bodyText: string;
  url: string;
  /** The answer came from where a redirect led (a pre-authenticated download URL), not from the URL we asked. */
  redirected?: boolean;
}

export type Classifier = (response: FailedResponse) => ErrorVerdict | undefined;

export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly response: FailedResponse,
  ) {
    super(message);
  }
}

/** The source answered 404 (or what its classifier calls not-found): the caller decides what absence means there. */
export const isNotFound = (e: unknown): e is HttpStatusError => e instanceof HttpStatusError && e.status === 404;

export interface SourceHttpOptions {
  /** Requests to one tenant share a throttling pause. */
  tenantKey: string;
  /** The worker's pauses, shared by every SourceHttp it builds. */
  pauses: TenantPauses;
  auth?: AccessTokenSource;
  classify?: Classifier;
  /** Attempts per request, first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A wait longer than this is handed to Temporal (ThrottledError) instead of sleeping in the activity. */
  maxInlineWaitMs?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  random?: () => number;
  /** Called on each retry, for logs and heartbeats. */
  onRetry?: (info: { url: string; status?: number; attempt: number; delayMs: number; reason: string }) => void;
  /** Where requests naming `rate` buckets wait their turn: the worker's, shared by every SourceHttp it builds. */
  rateLimiter: RequestRateLimiter;
  /** Called when the source throttles this tenant (for metrics): waited in place, or handed over to Temporal's retry. */
  onThrottle?: (info: { tenantKey: string; delayMs: number; handedOver: boolean }) => void;
  /** Sent as `User-Agent` on every request, redirects included (some sources prioritise decorated traffic). */
  userAgent?: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: string | URLSearchParams;
  /** Send the bearer token (default true when the client has auth). */
  authenticate?: boolean;
  signal?: AbortSignal;
  /** Per-second budgets this request counts against; every attempt waits for a slot in each. */
  rate?: readonly RateBucket[];
}

async function readCapped(response: Response, limit = 64 * 1024): Promise<string> {
  try {
    const text = await response.text();
    return text.length > limit ? text.slice(0, limit) : text;
  } catch {
    return '';
  }
}

function defaultVerdict(status: number): ErrorVerdict {
  if (status === 401) return { kind: 'unauthorized' };
  if (status === 404) return { kind: 'not-found', code: 'notFound', scope: 'item' };
  if (status === 410) return { kind: 'expired-cursor', code: 'resyncRequired' };
  if (status === 429 || status === 503) return { kind: 'throttle' };
  if (status === 408 || status === 423 || status === 500 || status === 502 || status === 504) return { kind: 'retry' };
  if (status === 403) return { kind: 'permanent', code: 'accessDenied', scope: 'item' };
  if (status === 507) return { kind: 'permanent', code: 'insufficientStorage', scope: 'sync' };
  if (status >= 500) return { kind: 'retry' };
  return { kind: 'permanent', code: `http${status}`, scope: 'item' };
}

function isNetworkError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError' && !(e instanceof DOMException)) return false;
  const cause = (e as { cause?: { code?: string } }).cause;
  return (
    // undici reports a failed connection as TypeError('fetch failed'); other TypeErrors are bugs.
    (e.name === 'TypeError' && (e.message === 'fetch failed' || e.message === 'terminated')) ||
    e.name === 'TimeoutError' ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'].includes(
      cause?.code ?? '',
    )
  );
}

export class SourceHttp {
  private readonly opts: Required<Omit<SourceHttpOptions, 'auth' | 'classify' | 'onRetry' | 'onThrottle' | 'userAgent'>> &
    Pick<SourceHttpOptions, 'auth' | 'classify' | 'onRetry' | 'onThrottle' | 'userAgent'>;

  constructor(options: SourceHttpOptions) {
    this.opts = {
      maxAttempts: 6,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      maxInlineWaitMs: 20_000,
      timeoutMs: 60_000,
      fetchImpl: globalThis.fetch.bind(globalThis),
      random: Math.random,
      ...options,
    };
  }

  get tenantKey(): string {
    return this.opts.tenantKey;
  }

  /** GET/POST expecting JSON. Throws SourceProtocolError when the body is not JSON. */
  async json<T = unknown>(url: string, options: RequestOptions = {}): Promise<{ data: T; headers: Headers; status: number }> {
    const response = await this.send(url, options);
    const text = await response.text();
    let data: T;
    try {
      data = JSON.parse(text) as T;
    } catch (cause) {
      throw new SourceProtocolError(
        `${options.method ?? 'GET'} ${redactUrl(response.url || url)} answered ${response.status} with a body that is not JSON (${text.slice(0, 80).replace(/\s+/g, ' ')}…)`,
        { cause },
      );
    }
    return { data, headers: response.headers, status: response.status };
  }

  /**
   * Opens a response body as a stream. Redirects are followed by hand and the
   * bearer token is not sent to the redirect target (a pre-authenticated URL).
   */
  async stream(url: string, options: RequestOptions = {}): Promise<{ body: Readable; headers: Headers; status: number }> {
    const response = await this.send(url, options, { followRedirects: true });
    if (!response.body) throw new SourceProtocolError(`GET ${redactUrl(url)} answered with no body`);
    // fetch decodes a compressed body, so its Content-Length no longer counts the bytes we read: drop it.
    const encoding = response.headers.get('content-encoding');
    const headers = encoding && encoding.trim().toLowerCase() !== 'identity' ? withoutLength(response.headers) : response.headers;
    return {
      body: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      headers,
      status: response.status,
    };
  }

  /** Sends one request with the retry policy; resolves with a 2xx (or 3xx when not following) response. */
  async send(url: string, options: RequestOptions = {}, behaviour: { followRedirects?: boolean } = {}): Promise<Response> {
    const { maxAttempts, baseDelayMs, maxDelayMs, maxInlineWaitMs, random } = this.opts;
    let refreshedAfter401 = false;
    // Only the request right after a 401 forces a new token; later retries reuse it.
    let forceRefresh = false;
    let lastFailure = 'no attempt made';
    let lastNetworkError: Error | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      await this.waitForTenant(options.signal);
      if (options.rate) await this.opts.rateLimiter.acquire(options.rate, options.signal);
      let response: Response;
      let redirected: boolean;
      const force = forceRefresh;
      forceRefresh = false;
      try {
        ({ response, redirected } = await this.fetchOnce(url, options, force, behaviour.followRedirects ?? false));
      } catch (e) {
        if (e instanceof PermanentSourceError || e instanceof ThrottledError) throw e;
        if (!isNetworkError(e) || options.signal?.aborted) throw e;
        lastNetworkError = e as Error;
        lastFailure = `network error: ${networkFailure(e as Error)}`;
        if (attempt === maxAttempts - 1) break;
        const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
        this.opts.onRetry?.({ url: redactUrl(url), attempt, delayMs, reason: lastFailure });
        await sleep(delayMs, undefined, { signal: options.signal });
        continue;
      }
      if (response.ok || (response.status >= 300 && response.status < 400 && !behaviour.followRedirects)) return response;

      lastNetworkError = undefined;
      const failed: FailedResponse = {
        status: response.status,
        headers: response.headers,
        bodyText: await readCapped(response),
        url: redactUrl(url),
        ...(redirected ? { redirected } : {}),
      };
      const fallback = defaultVerdict(response.status);
      const custom = this.opts.classify?.(failed);
      // A verdict of another kind keeps none of the default's fields: a 403 a source calls throttling is not "accessDenied".
      const verdict: ErrorVerdict = custom === undefined ? fallback : custom.kind === fallback.kind ? { ...fallback, ...custom } : custom;
      const what = `${options.method ?? 'GET'} ${failed.url} answered ${response.status}${verdict.code ? ` (${verdict.code})` : ''}`;
      lastFailure = what;
      switch (verdict.kind) {
        case 'unauthorized':
          if (this.opts.auth && !refreshedAfter401) {
            refreshedAfter401 = true;
            forceRefresh = true;
            attempt--; // a token refresh is not a failed attempt
            continue;
          }
          throw new PermanentSourceError(
            `${what}: the source rejected our credentials even after a token refresh; ${verdict.advice ?? 'reconnect the account'}`,
            verdict.code ?? 'unauthorized',
            'sync',
          );
        case 'permanent':
          throw new PermanentSourceError(verdict.message ? `${what}: ${verdict.message}` : what, verdict.code ?? `http${response.status}`, verdict.scope ?? 'item');
        case 'not-found':
          throw new HttpStatusError(verdict.message ? `${what}: ${verdict.message}` : what, response.status, verdict.code, failed);
        case 'expired-cursor':
          throw new HttpStatusError(what, response.status, verdict.code ?? 'resyncRequired', failed);
        case 'throttle':
        case 'retry': {
          const hinted = verdict.retryAfterMs ?? parseRetryAfter(response.headers.get('retry-after'));
          const delayMs = hinted ?? backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
          const handedOver = delayMs > maxInlineWaitMs || attempt === maxAttempts - 1;
          if (verdict.kind === 'throttle' || hinted !== undefined) {
            this.opts.pauses.pause(this.opts.tenantKey, delayMs);
            this.opts.onThrottle?.({ tenantKey: this.opts.tenantKey, delayMs, handedOver });
          }
          if (handedOver) {
            const gaveUp = attempt === maxAttempts - 1 ? `gave up after ${maxAttempts} attempts: ` : '';
            throw new ThrottledError(`${gaveUp}${what}; retry in ${Math.ceil(delayMs / 1000)} s`, delayMs);
          }
          this.opts.onRetry?.({ url: failed.url, status: response.status, attempt, delayMs, reason: what });
          await sleep(delayMs, undefined, { signal: options.signal });
          continue;
        }
      }
    }
    const retryAfterMs = backoffDelay(maxAttempts, baseDelayMs, maxDelayMs, random);
    if (lastNetworkError) {
      // Nothing answered: say which host and what failed, and do not call it throttling.
      throw new SourceUnreachableError(
        `gave up after ${maxAttempts} attempts: ${options.method ?? 'GET'} ${redactUrl(url)}: could not reach ${hostOf(url)} (${networkFailure(lastNetworkError)})`,
        retryAfterMs,
        { cause: lastNetworkError },
      );
    }
    throw new ThrottledError(`gave up after ${maxAttempts} attempts: ${lastFailure}`, retryAfterMs);
  }

  private async waitForTenant(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.opts.pauses.pausedFor(this.opts.tenantKey);
      if (wait <= 0) return;
      if (wait > this.opts.maxInlineWaitMs) {
        throw new ThrottledError(`requests to ${this.opts.tenantKey} are paused by throttling for ${Math.ceil(wait / 1000)} s`, wait);
      }
      await sleep(wait, undefined, { signal });
    }
  }

  private async fetchOnce(
    url: string,
    options: RequestOptions,
    forceRefresh: boolean,
    followRedirects: boolean,
  ): Promise<{ response: Response; redirected: boolean }> {
    const target = new URL(url);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) target.searchParams.set(key, String(value));
    }
    const decoration: Record<string, string> = this.opts.userAgent ? { 'user-agent': this.opts.userAgent } : {};
    const headers: Record<string, string> = { ...decoration, ...options.headers };
    if (this.opts.auth && options.authenticate !== false) {
      headers.authorization = `Bearer ${await this.opts.auth.getAccessToken(forceRefresh)}`;
    }
    // The timeout covers waiting for an answer's headers, not reading its body: a large
    // download may stream for as long as it keeps moving (the activity heartbeat watches that).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`no answer within ${this.opts.timeoutMs} ms`, 'TimeoutError')),
      this.opts.timeoutMs,
    );
    const signal = options.signal ? AbortSignal.any([deadline.signal, options.signal]) : deadline.signal;
    const init: RequestInit = {
      method: options.method ?? 'GET',
      headers,
      body: options.body,
      redirect: 'manual',
      signal,
    };
    try {
      let response = await this.opts.fetchImpl(target, init);
      let hops = 0;
      while (followRedirects && response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        if (++hops > 5) throw new SourceProtocolError(`${redactUrl(url)} redirected more than 5 times`);
        const next = new URL(response.headers.get('location') ?? '', target);
        await response.body?.cancel();
        // A pre-authenticated download URL: no bearer token goes with it.
        response = await this.opts.fetchImpl(next, { method: 'GET', headers: decoration, redirect: 'manual', signal });
      }
      return { response, redirected: hops > 0 };
    } finally {
      clearTimeout(timer);
    }
  }
}

function withoutLength(headers: Headers): Headers {
  const copy = new Headers(headers);
  copy.delete('content-length');
  return copy;
}

/** What a failed connection says: undici's `fetch failed` carries the real reason (e.g. `connect ECONNREFUSED 10.0.0.1:443`) in its cause. */
function networkFailure(e: Error): string {
  const cause = (e as { cause?: { message?: string; code?: string } }).cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return e.message;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '[unparseable url]';
  }
}

/** A URL without its query string, for logs and messages (tokens travel in queries). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[unparseable url]';
  }
}
