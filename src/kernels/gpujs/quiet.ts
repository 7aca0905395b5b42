// Runs gpu.js calls with console.warn/log/error captured: nothing below cli/ may print, and
// gpu.js announces some failures only on the console ("Falling back to CPU").

const METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

/** Calls fn with console output captured into `sink`; restores the console however fn ends. */
export function quietly<T>(sink: string[], fn: () => T): T {
  const saved = METHODS.map((name) => console[name]);
  const capture = (...args: unknown[]): void => {
    sink.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  };
  for (const name of METHODS) console[name] = capture;
  try {
    return fn();
  } finally {
    METHODS.forEach((name, i) => { console[name] = saved[i]; });
  }
}
