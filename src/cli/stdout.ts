// Writes the product to stdout, flushed as it goes; a closed pipe (`| head`) ends the run quietly.

import { ExitSignal } from './exit';

let closed = false;

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') closed = true;
});

/**
 * Writes text; when stdout pushes back, waits until it drains, so a fast sampler cannot queue
 * unbounded output behind a slow reader.
 */
export function writeOut(text: string): Promise<void> {
  if (closed) return Promise.reject(new ExitSignal(0));
  return new Promise((resolve, reject) => {
    const taken = process.stdout.write(text, (err) => {
      if (!err) resolve();
      else if ((err as NodeJS.ErrnoException).code === 'EPIPE') reject(new ExitSignal(0));
      else reject(err);
    });
    if (taken) resolve();
  });
}
