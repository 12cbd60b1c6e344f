import type { IncomingHttpHeaders } from 'node:http';

/**
 * Failures a test asks for, consumed in order by matching requests:
 * `emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '1' })`.
 */

export interface EmulatedRequest {
  method: string;
  /** The path, percent-decoded, e.g. `/v1.0/drives/b!x/root/delta` or `/download/…`. */
  path: string;
  url: URL;
  headers: IncomingHttpHeaders;
}

export type FaultMatch = RegExp | ((request: EmulatedRequest) => boolean);

interface FaultBase {
  /** A regex tested against the decoded path, or a predicate. */
  match: FaultMatch;
  /** How many matching requests it spoils (default 1). */
  times?: number;
  /** How many it has spoiled so far (the emulator counts). */
  hits?: number;
}

/** An error answer with Graph's error body. */
export interface StatusFault extends FaultBase {
  status: number;
  /** Graph's `error.code` (defaults by status: accessDenied, resyncRequired…). */
  code?: string;
  message?: string;
  /** `Retry-After`: delay-seconds or an HTTP-date. */
  retryAfter?: string;
  headers?: Record<string, string>;
}

/** The real answer with a Content-Length larger than what is sent before the connection is cut. */
export interface TruncateFault extends FaultBase {
  truncate: true;
}

/** The connection is destroyed before any answer. */
export interface ResetFault extends FaultBase {
  reset: true;
}

/** 200 with a body that is not JSON (a proxy's error page). */
export interface GarbageFault extends FaultBase {
  garbage: true;
}

export type Fault = StatusFault | TruncateFault | ResetFault | GarbageFault;

const DEFAULT_CODES: Record<number, string> = {
  401: 'InvalidAuthenticationToken',
  403: 'accessDenied',
  404: 'itemNotFound',
  410: 'resyncRequired',
  423: 'resourceLocked',
  429: 'activityLimitReached',
  503: 'serviceNotAvailable',
  507: 'insufficientStorage',
};

export function defaultCode(status: number): string {
  return DEFAULT_CODES[status] ?? 'generalException';
}

/** The first fault with uses left that matches, counted as used. */
export function takeFault(faults: Fault[], request: EmulatedRequest): Fault | undefined {
  const fault = faults.find((f) => (f.hits ?? 0) < (f.times ?? 1) && (f.match instanceof RegExp ? f.match.test(request.path) : f.match(request)));
  if (fault) fault.hits = (fault.hits ?? 0) + 1;
  return fault;
}
