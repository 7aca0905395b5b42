// Option-value parsers for commander: each throws InvalidArgumentError with what to type instead.

import { InvalidArgumentError } from 'commander';

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`expected a whole number ${range}, got '${value}'`);
    }
    return n;
  };
}

/** A finite number; `exclusiveMin` makes the lower bound strict (e.g. --temp > 0). */
export function numberOption(min: number, max = Infinity, exclusiveMin = false) {
  return (value: string): number => {
    const n = Number(value);
    const tooLow = exclusiveMin ? n <= min : n < min;
    if (value.trim() === '' || !Number.isFinite(n) || tooLow || n > max) {
      const low = exclusiveMin ? `above ${min}` : `at least ${min}`;
      const high = max === Infinity ? '' : ` and at most ${max}`;
      throw new InvalidArgumentError(`expected a number ${low}${high}, got '${value}'`);
    }
    return n;
  };
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000 };

/** '90s', '10m', '1.5h', '500ms', or a bare number of seconds → milliseconds. */
export function parseDuration(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected a duration such as 90s, 10m or 1h, got '${value}'`);
  const ms = Number(match[1]) * UNITS_MS[match[2] ?? 's'];
  if (!(ms > 0)) throw new InvalidArgumentError(`expected a duration above zero, got '${value}'`);
  return Math.round(ms);
}
