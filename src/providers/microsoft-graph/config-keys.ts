import { PermanentSourceError } from '../../errors.js';

/**
 * Reading `connectors.config`, which EchoMind's UI and API write and we only
 * trust as far as we check it. Errors name the key, never echo its value (some
 * keys are secrets).
 */

export function invalidConfig(key: string, problem: string): PermanentSourceError {
  return new PermanentSourceError(`connector config "${key}" ${problem}`, 'invalid_config', 'sync');
}

/** An optional text key; blank counts as absent, any other type is an error naming the key. */
export function optionalConfigString(config: Record<string, unknown>, key: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidConfig(key, `must be a string (got ${typeof value})`);
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
