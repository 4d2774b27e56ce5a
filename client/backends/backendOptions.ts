import { InvalidArgumentError } from '../errors';

/**
 * Checks of numeric constructor options, shared by the backends so they agree: counts and sizes
 * are whole numbers, durations may be fractional milliseconds, and a wrong value names the
 * backend, the option and what it got.
 */
export type OptionKind = 'integer' | 'duration';

export function positiveOption(owner: string, field: string, value: number | undefined, fallback: number, kind: OptionKind = 'integer'): number {
  const v = value ?? fallback;
  const ok = kind === 'integer' ? Number.isSafeInteger(v) && v > 0 : Number.isFinite(v) && v > 0;
  if (!ok) throw new InvalidArgumentError(`${owner} option ${field} must be ${kind === 'integer' ? 'a positive integer' : 'a positive number of milliseconds'}, got ${v}.`);
  return v;
}

export function nonNegativeOption(owner: string, field: string, value: number | undefined, fallback: number, kind: OptionKind = 'integer'): number {
  const v = value ?? fallback;
  const ok = kind === 'integer' ? Number.isSafeInteger(v) && v >= 0 : Number.isFinite(v) && v >= 0;
  if (!ok) throw new InvalidArgumentError(`${owner} option ${field} must be ${kind === 'integer' ? 'zero or a positive integer' : 'zero or a positive number of milliseconds'}, got ${v}.`);
  return v;
}
