// Writes the product to stdout, flushed as it goes; a closed pipe (`| head`) ends the run quietly.

import { ExitSignal } from './exit';

/** What a TextOut writes to: process.stdout, or a stream in a test. */
export interface Sink {
  write(text: string, done: (err?: Error | null) => void): boolean;
}

/**
 * A character stream with batched writes. One write(2) per sampled character cost half the
 * sampling time, so text is held until `flushIntervalMs` has passed since the last flush (a
 * reader still sees it stream, 50 times a second) or `maxPendingChars` are waiting. The first
 * write goes out at once, so the time to the first character does not grow.
 */
export class TextOut {
  private pending = '';
  private lastFlushMs = -Infinity;
  private closed = false;

  constructor(
    private readonly sink: Sink,
    readonly flushIntervalMs = 20,
    readonly maxPendingChars = 16384,
  ) {}

  /** The sink reported EPIPE: the reader is gone (`| head`), and what follows is thrown away. */
  markClosed(): void {
    this.closed = true;
  }

  /**
   * Queues text. Returns null when the text was only queued, else (it was flushed) a promise
   * that resolves once the sink has taken it (backpressure: a fast sampler cannot queue
   * unbounded output behind a slow reader) and rejects with ExitSignal(0) once the reader is gone.
   */
  write(text: string): Promise<void> | null {
    if (this.closed) return Promise.reject(new ExitSignal(0));
    this.pending += text;
    const now = Date.now();
    if (now - this.lastFlushMs < this.flushIntervalMs && this.pending.length < this.maxPendingChars) return null;
    this.lastFlushMs = now;
    return this.flush();
  }

  /** Writes whatever is pending (call it at the end); the promise is as for write(). */
  flush(): Promise<void> | null {
    if (this.closed) return Promise.reject(new ExitSignal(0));
    if (this.pending === '') return null;
    const text = this.pending;
    this.pending = '';
    return new Promise<void>((resolve, reject) => {
      const taken = this.sink.write(text, (err) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') return reject(err);
        this.closed = true;
        reject(new ExitSignal(0));
      });
      // Taken without pushback: go on at once (a later EPIPE surfaces through `closed`).
      if (taken) resolve();
    });
  }
}

/** The process's stdout. */
const stdout = new TextOut(process.stdout);

// Listening also keeps an EPIPE (from us, or from commander printing --help into `| head`)
// from crashing the process as an unhandled 'error' event; main.ts imports this file for that.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') stdout.markClosed();
});

/** The process's stdout as a TextOut. */
export function stdoutText(): TextOut {
  return stdout;
}

/**
 * Writes text now (a whole product: a table, a JSON line); when stdout pushes back, waits until
 * it drains.
 */
export async function writeOut(text: string): Promise<void> {
  const out = stdoutText();
  await out.write(text);
  await out.flush();
}
