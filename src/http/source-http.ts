import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import {
  CursorExpiredError,
  DownloadRefusedError,
  ItemWithheldError,
  NotFoundError,
  PermanentSourceError,
  SourceError,
  SourceProtocolError,
  SourceUnreachableError,
  ThrottledError,
  UnauthorizedError,
  type SourceErrorOptions,
} from '../errors.js';
import type { Charge, GrantPriority, RequestBudget } from '../budget/quotas.js';
import type { RateBucket, RequestRateLimiter } from './rate-limit.js';
import { backoffDelay, parseRetryAfter } from './retry-after.js';
import type { PauseKind, TenantPauses } from './tenant-pauses.js';
import { ACCEPTED_ENCODINGS, BodyTooLargeError, exchange, NetworkFailure, type Answer, type AnswerHeaders } from './transport.js';

export type { Answer, AnswerHeaders } from './transport.js';

/**
 * The one HTTP layer every source goes through: retries with jittered backoff,
 * `Retry-After` (seconds or HTTP-date), one token refresh on 401, and a pause of
 * every request to a tenant while that tenant is throttled. Sources describe
 * their errors through `classify`; they never loop on failures themselves.
 * A failure leaves here as the class of its verdict (src/errors.ts), so no
 * caller reads an HTTP status again.
 */

export interface AccessTokenSource {
  /** A valid bearer token; `forceRefresh` after the source rejected the last one. */
  getAccessToken(forceRefresh: boolean): Promise<string>;
}

/**
 * What a source says about a failed response. Unset fields fall back to the HTTP
 * defaults for the same kind. Each kind leaves the HTTP layer as one class
 * (`verdictError`): unauthorized → UnauthorizedError (after the one refresh),
 * permanent → PermanentSourceError, withheld → ItemWithheldError (an item refused for good: its
 * `message` is the skip reason), not-found → NotFoundError, expired-cursor →
 * CursorExpiredError, throttle and retry → ThrottledError once waiting in place is over.
 */
export interface ErrorVerdict {
  kind: 'retry' | 'throttle' | 'unauthorized' | 'permanent' | 'withheld' | 'expired-cursor' | 'not-found';
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
  headers: AnswerHeaders;
  /** The body as text, at most 64 KiB. */
  bodyText: string;
  url: string;
  /** The answer came from where a redirect led (a pre-authenticated download URL), not from the URL we asked. */
  redirected?: boolean;
}

export type Classifier = (response: FailedResponse) => ErrorVerdict | undefined;

export interface SourceHttpOptions {
  /**
   * Requests to one tenant share a throttling pause. A function when the tenant is learnt while
   * signing in (a Microsoft delegated sign-in through `organizations`): read at each use.
   */
  tenantKey: string | (() => string);
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
  /** How long to wait for an answer's headers; a body may stream for as long as it keeps moving. */
  timeoutMs?: number;
  /** Where requests go: the worker's connections to sources (SourceMemory.connections); tests may hand in undici's MockAgent. */
  dispatcher: Dispatcher;
  random?: () => number;
  /** Called on each retry, for logs and heartbeats. */
  onRetry?: (info: { url: string; status?: number; attempt: number; delayMs: number; reason: string }) => void;
  /** Where requests naming `rate` buckets wait their turn: the worker's, shared by every SourceHttp it builds. */
  rateLimiter: RequestRateLimiter;
  /**
   * The budget every replica shares (SharedRequestBudget): when set, each attempt
   * first takes its `costs` and its `rate` buckets from it, instead of the
   * worker's own `rateLimiter`.
   */
  budget?: RequestBudget | undefined;
  /** What one call costs the source's quotas (e.g. SharePoint resource units), from its method and URL. */
  costs?: ((method: string, url: URL) => Charge[]) | undefined;
  /** Whose turn first when the budget is short: a backfill waits behind incremental and operator syncs. */
  priority?: GrantPriority | undefined;
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

/** What a classifier reads of a failed answer's body. */
const FAILED_BODY_CHARS = 64 * 1024;

/** The most of a JSON answer read: far over any listing page (Graph's and Drive's are a few MB at most), far under the worker's memory. */
const JSON_BODY_MAX_BYTES = 64 * 1024 * 1024;

function defaultVerdict(status: number): ErrorVerdict {
  if (status === 401) return { kind: 'unauthorized' };
  if (status === 404) return { kind: 'not-found', code: 'notFound' };
  if (status === 410) return { kind: 'expired-cursor', code: 'resyncRequired' };
  if (status === 429 || status === 503) return { kind: 'throttle' };
  if (status === 408 || status === 423 || status === 500 || status === 502 || status === 504) return { kind: 'retry' };
  if (status === 403) return { kind: 'permanent', code: 'accessDenied', scope: 'item' };
  if (status === 507) return { kind: 'permanent', code: 'insufficientStorage', scope: 'sync' };
  if (status >= 500) return { kind: 'retry' };
  return { kind: 'permanent', code: `http${status}`, scope: 'item' };
}

/** A verdict merged from the source's classifier over the HTTP defaults. */
function verdictFor(failed: FailedResponse, classify: Classifier | undefined): ErrorVerdict {
  const fallback = defaultVerdict(failed.status);
  const custom = classify?.(failed);
  // A verdict of another kind keeps none of the default's fields: a 403 a source calls throttling is not "accessDenied".
  return custom === undefined ? fallback : custom.kind === fallback.kind ? { ...fallback, ...custom } : custom;
}

/** What a person reads first: the request, the status, the source's code. */
function describeFailure(method: string, failed: FailedResponse, verdict: ErrorVerdict): string {
  return `${method} ${failed.url} answered ${failed.status}${verdict.code ? ` (${verdict.code})` : ''}`;
}

/**
 * The one table from a final verdict to the error callers branch on (by type).
 * `throttle` and `retry` reach here only once waiting in place is over.
 */
function verdictError(verdict: ErrorVerdict, failed: FailedResponse, what: string, retryAfterMs: number): SourceError {
  const detail: SourceErrorOptions = { status: failed.status, url: failed.url };
  const told = verdict.message ? `${what}: ${verdict.message}` : what;
  switch (verdict.kind) {
    case 'unauthorized':
      return new UnauthorizedError(
        `${what}: the source rejected our credentials even after a token refresh; ${verdict.advice ?? 'reconnect the account'}`,
        verdict.code ?? 'unauthorized',
        detail,
      );
    case 'permanent':
      return new PermanentSourceError(told, verdict.code ?? `http${failed.status}`, verdict.scope ?? 'item', detail);
    case 'withheld':
      return new ItemWithheldError(told, verdict.code ?? `http${failed.status}`, verdict.message ?? `the source refuses this item (HTTP ${failed.status})`, detail);
    case 'not-found':
      return new NotFoundError(told, verdict.code ?? 'notFound', detail);
    case 'expired-cursor':
      return new CursorExpiredError(told, verdict.code ?? 'resyncRequired', detail);
    case 'throttle':
    case 'retry':
      return new ThrottledError(`${what}; retry in ${Math.ceil(retryAfterMs / 1000)} s`, verdict.code ?? `http${failed.status}`, retryAfterMs, detail);
  }
}

/** One request's way through its attempts. */
interface Attempts {
  readonly url: string;
  readonly options: RequestOptions;
  readonly followRedirects: boolean;
  /** Attempts used so far; a token refresh does not count. */
  attempt: number;
  /** The one token refresh after a 401 is spent. */
  refreshed: boolean;
  /** Only the request right after a 401 forces a new token; later retries reuse it. */
  forceRefresh: boolean;
  lastFailure: string;
  lastNetworkError?: Error | undefined;
}

type OptionalParts = 'auth' | 'classify' | 'onRetry' | 'onThrottle' | 'budget' | 'costs' | 'priority' | 'userAgent';

/** A per-second bucket a source names (Teams) as a charge on the shared budget. */
function rateCharge(rate: RateBucket): Charge {
  return { bucket: { key: rate.key, limit: rate.perSecond, windowMs: 1000 }, units: 1 };
}

/** Below this share of the minute's units left, the tenant waits for SharePoint's reset. */
const NEAR_LIMIT_SHARE = 0.1;

export class SourceHttp {
  private readonly opts: Required<Omit<SourceHttpOptions, OptionalParts>> & Pick<SourceHttpOptions, OptionalParts>;

  constructor(options: SourceHttpOptions) {
    this.opts = {
      maxAttempts: 6,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      maxInlineWaitMs: 20_000,
      timeoutMs: 60_000,
      random: Math.random,
      ...options,
    };
  }

  get tenantKey(): string {
    const { tenantKey } = this.opts;
    return typeof tenantKey === 'string' ? tenantKey : tenantKey();
  }

  /** GET/POST expecting JSON. Throws SourceProtocolError when the body is not JSON. */
  async json<T = unknown>(url: string, options: RequestOptions = {}): Promise<{ data: T; headers: AnswerHeaders; status: number }> {
    const response = await this.send(url, options);
    const method = options.method ?? 'GET';
    let text: string;
    try {
      text = await response.text(JSON_BODY_MAX_BYTES);
    } catch (cause) {
      const what = `${method} ${redactUrl(url)} answered ${response.status}`;
      if (cause instanceof BodyTooLargeError) throw new SourceProtocolError(`${what} with a body over ${JSON_BODY_MAX_BYTES / 1024 / 1024} MiB, more than any page of a listing`, { cause });
      // A listing cut short is not half a listing: the caller's retry asks again.
      throw new SourceProtocolError(`${what} but its body was cut short (${(cause as Error).message})`, { cause });
    }
    let data: T;
    try {
      data = JSON.parse(text) as T;
    } catch (cause) {
      throw new SourceProtocolError(
        `${method} ${redactUrl(url)} answered ${response.status} with a body that is not JSON (${text.slice(0, 80).replace(/\s+/g, ' ')}…)`,
        { cause },
      );
    }
    return { data, headers: response.headers, status: response.status };
  }

  /**
   * Opens a response body as a stream. Redirects are followed by hand and the
   * bearer token is not sent to the redirect target (a pre-authenticated URL).
   */
  async stream(url: string, options: RequestOptions = {}): Promise<{ body: Readable; headers: AnswerHeaders; status: number }> {
    const { body, headers, status } = await this.send(url, options, { followRedirects: true });
    return { body, headers, status };
  }

  /** Sends one request with the retry policy; resolves with a 2xx (or 3xx when not following) answer. */
  async send(url: string, options: RequestOptions = {}, behaviour: { followRedirects?: boolean } = {}): Promise<Answer> {
    const run: Attempts = { url, options, followRedirects: behaviour.followRedirects ?? false, attempt: 0, refreshed: false, forceRefresh: false, lastFailure: 'no attempt made' };
    for (; run.attempt < this.opts.maxAttempts; run.attempt++) {
      const response = await this.attemptOnce(run);
      if (response) return response;
    }
    throw this.gaveUp(run);
  }

  /** One attempt: the tenant's pause and the request budget first, then the request. Undefined means "try again". */
  private async attemptOnce(run: Attempts): Promise<Answer | undefined> {
    const { options } = run;
    await this.waitForTenant(options.signal);
    await this.spendBudget(run);
    const force = run.forceRefresh;
    run.forceRefresh = false;
    let answer: { response: Answer; redirected: boolean };
    try {
      answer = await this.sendOnce(run.url, options, force, run.followRedirects);
    } catch (e) {
      await this.afterNetworkError(run, e);
      return undefined;
    }
    const { response, redirected } = answer;
    this.slowDownNearLimit(response.headers, run);
    // A 3xx is an answer only to a caller that does not follow redirects.
    if (response.status >= 200 && response.status < (run.followRedirects ? 300 : 400)) return response;
    await this.afterFailedAnswer(run, response, redirected);
    return undefined;
  }

  /** Every attempt costs its units (SharePoint counts throttled requests too): from the shared budget, or the worker's own per-second one. */
  private async spendBudget(run: Attempts): Promise<void> {
    const { budget, priority, rateLimiter } = this.opts;
    const rate = run.options.rate ?? [];
    if (!budget) {
      if (rate.length > 0) await rateLimiter.acquire(rate, run.options.signal);
      return;
    }
    const charges = this.chargesOf(run);
    if (charges.length > 0) await budget.take(charges, priority ?? 'interactive', run.options.signal);
  }

  private chargesOf(run: Attempts): Charge[] {
    const method = run.options.method ?? 'GET';
    return [...(this.opts.costs?.(method, targetUrl(run.url, run.options)) ?? []), ...(run.options.rate ?? []).map(rateCharge)];
  }

  /**
   * SharePoint sends `RateLimit-Limit`/`-Remaining`/`-Reset` once an app has spent
   * 80 % of a tenant's minute ("Avoid getting throttled or blocked in SharePoint
   * Online", RateLimit headers). With under a tenth left, requests to the tenant
   * wait for the reset it names (at most `maxInlineWaitMs`), before any 429:
   * unless the shared budget accounts for every unit the source counted.
   */
  private slowDownNearLimit(headers: AnswerHeaders, run: Attempts): void {
    const limit = Number(headers.get('ratelimit-limit') ?? Number.NaN);
    const remaining = Number(headers.get('ratelimit-remaining') ?? Number.NaN);
    const resetS = Number(headers.get('ratelimit-reset') ?? Number.NaN);
    if (!(limit > 0) || !Number.isFinite(remaining) || !(resetS > 0)) return;
    if (remaining > limit * NEAR_LIMIT_SHARE) return;
    if (this.budgetExplains(limit, limit - remaining, resetS, run)) return;
    this.opts.pauses.pause(this.tenantKey, Math.min(resetS * 1000, this.opts.maxInlineWaitMs), Date.now(), 'nearLimit');
  }

  /**
   * Whether the shared budget alone accounts for what the source says was spent
   * in its window: the source's limit is not below the budget's, and the units
   * spent are no more than every replica can have spent since the window began
   * (the reset is in whole seconds, so the window may have begun up to a second
   * earlier than it says). Then the budget already keeps the window within its
   * limit, and pausing would only leave its units unspent. Otherwise someone
   * else spends from the tenant, or the budget is set above the tenant's: pause.
   */
  private budgetExplains(limit: number, spent: number, resetS: number, run: Attempts): boolean {
    const { budget, costs } = this.opts;
    if (!budget?.mostSpent || !costs) return false;
    const [charge] = costs(run.options.method ?? 'GET', targetUrl(run.url, run.options));
    if (!charge || limit < charge.bucket.limit) return false;
    const elapsedMs = charge.bucket.windowMs - (resetS - 1) * 1000;
    return spent <= budget.mostSpent(charge.bucket, elapsedMs);
  }

  /** Nothing answered: back off and try again (the last attempt leaves it to `gaveUp`); anything else is rethrown. */
  private async afterNetworkError(run: Attempts, e: unknown): Promise<void> {
    // A verdict already made (by the token endpoint's own SourceHttp) travels as it is.
    if (e instanceof SourceError) throw e;
    if (!(e instanceof NetworkFailure) || run.options.signal?.aborted) throw e;
    run.lastNetworkError = e;
    run.lastFailure = `network error: ${e.message}`;
    if (run.attempt === this.opts.maxAttempts - 1) return;
    const delayMs = backoffDelay(run.attempt, this.opts.baseDelayMs, this.opts.maxDelayMs, this.opts.random);
    this.opts.onRetry?.({ url: redactUrl(run.url), attempt: run.attempt, delayMs, reason: run.lastFailure });
    await sleep(delayMs, undefined, { signal: run.options.signal });
  }

  /** A failed answer: its verdict asks for a token refresh, a wait and another try, or leaves as its error. */
  private async afterFailedAnswer(run: Attempts, response: Answer, redirected: boolean): Promise<void> {
    run.lastNetworkError = undefined;
    const failed: FailedResponse = {
      status: response.status,
      headers: response.headers,
      bodyText: await response.textUpTo(FAILED_BODY_CHARS),
      url: redactUrl(run.url),
      ...(redirected ? { redirected } : {}),
    };
    const verdict = verdictFor(failed, this.opts.classify);
    const what = describeFailure(run.options.method ?? 'GET', failed, verdict);
    run.lastFailure = what;
    // The pre-authenticated URL a redirect led to refused (SharePoint's download.aspx does, for single
    // files). Our token never went there: no refresh can help, and the sign-in is not at fault.
    if (redirected && (failed.status === 401 || failed.status === 403)) {
      throw new DownloadRefusedError(`${what}: the download link refused it`, { status: failed.status, url: failed.url });
    }
    switch (verdict.kind) {
      case 'unauthorized':
        if (!this.opts.auth || run.refreshed) throw verdictError(verdict, failed, what, 0);
        run.refreshed = true;
        run.forceRefresh = true;
        run.attempt--; // a token refresh is not a failed attempt
        return;
      case 'throttle':
      case 'retry':
        return this.waitBeforeRetry(run, verdict, failed, what);
      default:
        throw verdictError(verdict, failed, what, 0);
    }
  }

  /**
   * Waits in place before another try, pausing the whole tenant when the source
   * throttled (or named a wait). A wait longer than `maxInlineWaitMs`, or one
   * after the last attempt, is handed to Temporal as a ThrottledError instead.
   */
  private async waitBeforeRetry(run: Attempts, verdict: ErrorVerdict, failed: FailedResponse, what: string): Promise<void> {
    const { maxAttempts, maxInlineWaitMs } = this.opts;
    const tenantKey = this.tenantKey;
    const hinted = verdict.retryAfterMs ?? parseRetryAfter(failed.headers.get('retry-after'));
    const delayMs = hinted ?? backoffDelay(run.attempt, this.opts.baseDelayMs, this.opts.maxDelayMs, this.opts.random);
    const lastAttempt = run.attempt === maxAttempts - 1;
    const handedOver = delayMs > maxInlineWaitMs || lastAttempt;
    if (verdict.kind === 'throttle' || hinted !== undefined) {
      this.opts.pauses.pause(tenantKey, delayMs, Date.now(), 'throttled');
      this.opts.onThrottle?.({ tenantKey, delayMs, handedOver });
      // The other replicas hold off too: the budget they share owes the wait.
      // Best effort: when PostgreSQL cannot be told, this worker's own pause still holds.
      if (verdict.kind === 'throttle') await this.opts.budget?.holdOff?.(this.chargesOf(run), delayMs).catch(() => undefined);
    }
    if (handedOver) throw verdictError(verdict, failed, `${lastAttempt ? `gave up after ${maxAttempts} attempts: ` : ''}${what}`, delayMs);
    this.opts.onRetry?.({ url: failed.url, status: failed.status, attempt: run.attempt, delayMs, reason: what });
    await sleep(delayMs, undefined, { signal: run.options.signal });
  }

  /** Every attempt used: a host that never answered is named as unreachable, not as throttling. */
  private gaveUp(run: Attempts): Error {
    const { maxAttempts, baseDelayMs, maxDelayMs, random } = this.opts;
    const retryAfterMs = backoffDelay(maxAttempts, baseDelayMs, maxDelayMs, random);
    const url = redactUrl(run.url);
    if (run.lastNetworkError) {
      return new SourceUnreachableError(
        `gave up after ${maxAttempts} attempts: ${run.options.method ?? 'GET'} ${url}: could not reach ${hostOf(run.url)} (${run.lastNetworkError.message})`,
        'unreachable',
        retryAfterMs,
        { cause: run.lastNetworkError, url },
      );
    }
    return new ThrottledError(`gave up after ${maxAttempts} attempts: ${run.lastFailure}`, 'gaveUp', retryAfterMs, { url });
  }

  /**
   * Waits out the tenant's pause. An interactive request drawing from the shared
   * budget goes through a near-limit pause (the budget keeps it within the
   * window, and a small sync should not wait behind a backfill's minute); a
   * throttled pause holds every request.
   */
  private async waitForTenant(signal?: AbortSignal): Promise<void> {
    const kinds: readonly PauseKind[] = this.opts.budget && (this.opts.priority ?? 'interactive') === 'interactive' ? ['throttled'] : ['throttled', 'nearLimit'];
    for (;;) {
      const tenantKey = this.tenantKey;
      const wait = this.opts.pauses.pausedFor(tenantKey, Date.now(), kinds);
      if (wait <= 0) return;
      if (wait > this.opts.maxInlineWaitMs) {
        throw new ThrottledError(`requests to ${tenantKey} are paused by throttling for ${Math.ceil(wait / 1000)} s`, 'tenantPaused', wait);
      }
      await sleep(wait, undefined, { signal });
    }
  }

  private async sendOnce(
    url: string,
    options: RequestOptions,
    forceRefresh: boolean,
    followRedirects: boolean,
  ): Promise<{ response: Answer; redirected: boolean }> {
    const target = targetUrl(url, options);
    // Sent on redirects too, unlike the caller's own headers and the token.
    const decoration: Record<string, string> = { 'accept-encoding': ACCEPTED_ENCODINGS, ...(this.opts.userAgent ? { 'user-agent': this.opts.userAgent } : {}) };
    const headers: Record<string, string> = { ...decoration, ...options.headers };
    if (this.opts.auth && options.authenticate !== false) {
      headers.authorization = `Bearer ${await this.opts.auth.getAccessToken(forceRefresh)}`;
    }
    const body = requestBody(options.body, headers);
    // The timeout covers waiting for an answer's headers, not reading its body: a large
    // download may stream for as long as it keeps moving (the activity heartbeat watches that).
    const exchangeOf = (method: string, sent: Record<string, string>, payload: string | undefined) => ({
      method,
      headers: sent,
      body: payload,
      signal: options.signal,
      headersTimeoutMs: this.opts.timeoutMs,
      dispatcher: this.opts.dispatcher,
    });
    let response = await exchange(target, exchangeOf(options.method ?? 'GET', headers, body));
    let hops = 0;
    let at = target;
    while (followRedirects && response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      if (++hops > 5) {
        await response.discard();
        throw new SourceProtocolError(`${redactUrl(url)} redirected more than 5 times`);
      }
      at = new URL(response.headers.get('location') ?? '', at);
      await response.discard();
      // A pre-authenticated download URL: no bearer token goes with it.
      response = await exchange(at, exchangeOf('GET', decoration, undefined));
    }
    return { response, redirected: hops > 0 };
  }
}

/** The body as sent, with the content type `fetch` would have given it when the caller named none. */
function requestBody(body: RequestOptions['body'], headers: Record<string, string>): string | undefined {
  if (body === undefined) return undefined;
  const named = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  if (!named) headers['content-type'] = typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/x-www-form-urlencoded;charset=UTF-8';
  return body.toString();
}

function targetUrl(url: string, options: RequestOptions): URL {
  const target = new URL(url);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) target.searchParams.set(key, String(value));
  }
  return target;
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
