import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, parseRetryAfterInMessage } from '../../src/http/retry-after.js';

const now = Date.parse('2026-03-10T12:00:00.000Z');

describe('parseRetryAfter', () => {
  it.each([
    ['1', 1000],
    ['0', 0],
    ['120', 120_000],
    [' 30 ', 30_000],
    ['1.5', 1500],
    ['0.25', 250],
  ])('reads %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it('reads an HTTP-date in the future as the time left until then', () => {
    expect(parseRetryAfter('Tue, 10 Mar 2026 12:00:42 GMT', now)).toBe(42_000);
  });

  it('reads the obsolete RFC 850 date form too', () => {
    expect(parseRetryAfter('Tuesday, 10-Mar-26 12:00:05 GMT', now)).toBe(5_000);
  });

  it('reads an HTTP-date in the past as no wait at all', () => {
    expect(parseRetryAfter('Tue, 10 Mar 2026 11:59:00 GMT', now)).toBe(0);
  });

  it.each([null, undefined, '', '   '])('has no answer for an absent value (%j)', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  // V8's Date.parse reads several of these as a date in 2001, which would mean "retry right now".
  it.each(['soon', '-5', '1,5', '1e3', '5 seconds', 'abc 1', 'Infinity', '0x10', 'Tue', 'later, at 10:30'])('has no answer for garbage %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('parseRetryAfterInMessage', () => {
  it("finds the timestamp in Google's rate-limit message", () => {
    const message = 'User rate limit exceeded. Retry after 2026-03-10T12:00:30.000Z';
    expect(parseRetryAfterInMessage(message, now)).toBe(30_000);
  });

  it('finds a timestamp followed by more text, with or without milliseconds and zone offset', () => {
    expect(parseRetryAfterInMessage('Quota exceeded; retry after 2026-03-10T12:01:00Z. See the docs.', now)).toBe(60_000);
    expect(parseRetryAfterInMessage('Retry after 2026-03-10T13:00:10+01:00', now)).toBe(10_000);
  });

  it('reads a timestamp in the past as no wait', () => {
    expect(parseRetryAfterInMessage('Retry after 2026-03-10T11:00:00.000Z', now)).toBe(0);
  });

  it.each([undefined, '', 'Rate limit exceeded', 'Retry after 30 seconds', 'Retry after tomorrow', 'Retry after 2026-13-45T10:00:00Z'])(
    'has no answer for a message without a timestamp (%j)',
    (message) => {
      expect(parseRetryAfterInMessage(message, now)).toBeUndefined();
    },
  );
});

describe('backoffDelay', () => {
  it('waits the base delay when the random draw is 0, whatever the attempt', () => {
    for (const attempt of [0, 1, 5, 20]) expect(backoffDelay(attempt, 500, 30_000, () => 0)).toBe(500);
  });

  it('doubles the ceiling with each attempt when the random draw is 1', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 500, 30_000, () => 1))).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it('never exceeds the cap', () => {
    expect(backoffDelay(6, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(60, 500, 30_000, () => 1)).toBe(30_000);
  });

  it('draws between the base and the ceiling', () => {
    expect(backoffDelay(2, 100, 10_000, () => 0.5)).toBe(250);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3, 100, 10_000);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });
});
