// Option-value parsers for commander: each throws InvalidArgumentError with what to type instead.
// Also the checks no single parser can make: an option given twice, options that contradict.

import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../errors';

/**
 * A number written in decimal: `1000`, `1e3`, `0.5`, `.5`, `-3`. Number() alone also takes
 * '0x10', '0b1', 'Infinity' and '' (as 0); a typo must not become a surprising value.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

function decimal(value: string): number {
  return DECIMAL.test(value.trim()) ? Number(value) : NaN;
}

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = decimal(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`expected a whole number ${range}, got '${value}'`);
    }
    return n;
  };
}

/** A finite number; `exclusiveMin` makes the lower bound strict (e.g. --temp > 0). */
export function numberOption(min: number, max = Infinity, exclusiveMin = false) {
  return (value: string): number => {
    const n = decimal(value);
    const tooLow = exclusiveMin ? n <= min : n < min;
    if (!Number.isFinite(n) || tooLow || n > max) {
      const low = exclusiveMin ? `above ${min}` : `at least ${min}`;
      const high = max === Infinity ? '' : ` and at most ${max}`;
      throw new InvalidArgumentError(`expected a number ${low}${high}, got '${value}'`);
    }
    return n;
  };
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000 };
/** A year: a longer budget is a typo (99999h), and Date arithmetic stays exact far below it. */
export const MAX_DURATION_MS = 8760 * 3600000;

/** '90s', '10m', '1.5h', '500ms', or a bare number of seconds → milliseconds. */
export function parseDuration(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected a duration such as 90s, 10m or 1h, got '${value}'`);
  const ms = Number(match[1]) * UNITS_MS[match[2] ?? 's'];
  if (!(ms >= 1)) throw new InvalidArgumentError(`expected a duration of at least 1ms, got '${value}'`);
  if (ms > MAX_DURATION_MS) throw new InvalidArgumentError(`expected a duration of at most 8760h (a year), got '${value}'`);
  return Math.round(ms);
}

/**
 * Refuses a value option given twice (`--hidden 64 … --hidden 128`): commander keeps the last
 * silently, and the user meant one of them. args: the command's own arguments.
 */
export function refuseRepeatedOptions(cmd: Command, args: string[]): void {
  // Options meant to be given more than once (each adds a value).
  const repeatable = new Set(['--stop']);
  const byFlag = new Map<string, { name: string; takesValue: boolean }>();
  for (const option of cmd.options) {
    const entry = { name: option.long ?? option.short ?? option.flags, takesValue: option.required || option.optional };
    if (option.long) byFlag.set(option.long, entry);
    if (option.short) byFlag.set(option.short, entry);
  }
  const seen = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') continue;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg.startsWith('--') ? arg : arg.slice(0, 2);
    const option = byFlag.get(flag);
    if (!option) continue;
    let value = '';
    if (option.takesValue) {
      if (arg.startsWith('--') && eq > 0) value = arg.slice(eq + 1);
      else if (!arg.startsWith('--') && arg.length > 2) value = arg.slice(2);
      else value = args[++i] ?? '';
    }
    const values = seen.get(option.name) ?? [];
    values.push(value);
    seen.set(option.name, values);
    if (option.takesValue && values.length > 1 && !repeatable.has(option.name)) {
      throw new UsageError(`${option.name} is given ${values.length} times (${values.map((v) => `'${v}'`).join(', ')}); give it once`);
    }
  }
}

/** Whether the user typed this option (commander's source 'cli'), not a default. */
export function givenOnCommandLine(cmd: Command, key: string): boolean {
  return cmd.getOptionValueSource(key) === 'cli';
}

/**
 * Options that only mean something with a given backend, refused with another one named:
 * `--backend reference --threads 4` would otherwise ignore --threads without a word.
 */
export function refuseConflictingOptions(cmd: Command): void {
  const given = (key: string): boolean => givenOnCommandLine(cmd, key);
  if (!given('backend')) return;
  const backend = cmd.getOptionValue('backend') as string;
  if (given('threads') && backend !== 'wasm' && backend !== 'auto') {
    throw new UsageError(`--threads sets the wasm backend's worker threads; it does nothing with --backend ${backend}: drop one of them`);
  }
  if (given('gpuMode') && backend !== 'gpujs' && backend !== 'auto') {
    throw new UsageError(`--gpu-mode picks how --backend gpujs runs; it does nothing with --backend ${backend}: drop one of them`);
  }
}
