// The two kinds of failure the CLI tells apart: a command line to fix (exit 2) or a runtime error (exit 1).

/** The command line can be fixed: bad option values, missing files named on it. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Training was stopped by a signal after saving; exit code 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}
