// Options several commands declare, declared once: --backend and --threads, and the set of flags given.

import { Command, Option } from 'commander';
import { BACKEND_NAMES, DEFAULTS, LIMITS } from '../config';
import { intOption } from './parse';

/** --backend: which kernels run; `description` says what for, where a command runs them for one thing. */
export function backendOption(description = 'kernels to run on'): Option {
  return new Option('--backend <name>', description).choices(BACKEND_NAMES as string[]).default(DEFAULTS.backend);
}

/** --threads: the wasm backend's worker threads. */
export function threadsOption(description = 'worker threads for the wasm backend (0: one per core)'): Option {
  return new Option('--threads <n>', description).argParser(intOption(0, LIMITS.threads)).default(DEFAULTS.threads);
}

/** The options the user typed (commander's source 'cli'), by their attribute names; read once per command. */
export function givenFlags(cmd: Command): ReadonlySet<string> {
  return new Set(cmd.options.map((o) => o.attributeName()).filter((key) => cmd.getOptionValueSource(key) === 'cli'));
}
