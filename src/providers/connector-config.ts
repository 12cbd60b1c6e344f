import { z } from 'zod';
import { PermanentSourceError } from '../errors.js';

/**
 * Reading `connectors.config`, which EchoMind's UI and API write and we trust
 * only as far as a source's zod schema checks it. Every refusal has one form,
 * `connector config "<key>" <problem>`, and never echoes the value (some keys
 * are secrets). Keys a schema does not name are left alone: the UI keeps its
 * own there.
 */

export function invalidConfig(key: string, problem: string): PermanentSourceError {
  return new PermanentSourceError(`connector config "${key}" ${problem}`, 'invalidConfig', 'sync');
}

/** `null` and blank text count as absent, as a form left empty does. */
const absentWhenBlank = (value: unknown): unknown => (value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value);

/** An optional text key, trimmed. */
export const optionalText = z.preprocess(absentWhenBlank, z.string({ error: 'must be a string' }).trim().optional());

/** An optional yes/no key: a JSON boolean, or the strings "true"/"false" a form may send. */
export const optionalFlag = z.preprocess(
  absentWhenBlank,
  z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
    .transform((value) => value === true || value === 'true')
    .optional(),
);

/** An optional whole number in [min, max], given as a number or as digits. */
export function optionalWholeNumber(min: number, max: number) {
  const problem = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    absentWhenBlank,
    z
      .union([z.number(), z.string().regex(/^\s*\d+\s*$/, { error: problem })], { error: problem })
      .transform(Number)
      .pipe(z.number().int({ error: problem }).min(min, { error: problem }).max(max, { error: problem }))
      .optional(),
  );
}

/** Parses a connector's config with its source's schema; throws PermanentSourceError naming the first bad key. */
export function parseConnectorConfig<T>(schema: z.ZodType<T>, config: Record<string, unknown>): T {
  const parsed = schema.safeParse(config);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw invalidConfig(String(issue?.path[0] ?? 'config'), issue?.message ?? 'is not valid');
}
