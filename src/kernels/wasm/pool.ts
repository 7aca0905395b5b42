// Worker threads that run kernels on the shared memory, woken through a shared control block.
//
// A step's recurrent GEMM takes ~100-200 µs, so dispatch must cost a few µs, not a
// postMessage round trip (~50 µs+). Each worker owns a slot in a SharedArrayBuffer of int32:
//   [SEQ] bumped by the main thread to post a job; [DONE] set to SEQ by the worker when
//   finished; [FAILED] 1 if the kernel threw; [OP] kernel index; [ARGC], [ARGS…] int32 args.
// Both sides spin briefly on Atomics.load before falling back to Atomics.wait, so back-to-back
// kernels never pay a futex wake-up, and an idle worker sleeps instead of burning a core.

import { Worker } from 'node:worker_threads';
import { WasmMemory, WasmModule } from './wasm-api';

const SLOT_INTS = 32; // 128 bytes: two cache lines, so slots never false-share.
const SEQ = 0, DONE = 1, FAILED = 2, OP = 3, ARGC = 4, ARGS = 5;
const MAX_ARGS = SLOT_INTS - ARGS;
const QUIT = -1;
/** Atomics.load polls before sleeping: ~50-100 µs, longer than the pointwise gaps between GEMMs. */
const SPIN = 50000;

// Plain JS, run with `eval: true` so it loads the same way from ts-jest and from dist/.
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, slot, names } = workerData;
const ctl = new Int32Array(control);
const base = slot * ${SLOT_INTS};
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const kernels = names.map((name) => exports[name]);
const args = [];
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, base + ${SEQ}) === seen) {
    if (++spins > ${SPIN}) { Atomics.wait(ctl, base + ${SEQ}, seen); spins = 0; }
  }
  seen = Atomics.load(ctl, base + ${SEQ});
  const op = ctl[base + ${OP}];
  if (op === ${QUIT}) break;
  args.length = ctl[base + ${ARGC}];
  for (let i = 0; i < args.length; i++) args[i] = ctl[base + ${ARGS} + i];
  try {
    kernels[op](...args);
  } catch (err) {
    Atomics.store(ctl, base + ${FAILED}, 1);
  }
  Atomics.store(ctl, base + ${DONE}, seen);
  Atomics.notify(ctl, base + ${DONE});
}
`;

export class ThreadPool {
  private readonly ctl: Int32Array;
  private seq = 0;
  private destroyed = false;

  private constructor(private readonly workers: Worker[], control: SharedArrayBuffer, private readonly names: string[]) {
    this.ctl = new Int32Array(control);
  }

  /** Starts `count` workers, each instantiating `module` on `memory`; resolves once all are ready. */
  static async start(
    count: number, module: WasmModule, memory: WasmMemory, names: string[],
  ): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(Math.max(1, count) * SLOT_INTS * 4);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let slot = 0; slot < count; slot++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, slot, names } });
      // A forgotten destroy() must not keep the CLI alive.
      worker.unref();
      workers.push(worker);
      ready.push(new Promise((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`wasm backend: worker ${slot} exited (${code}) while starting`)));
      }));
    }
    const pool = new ThreadPool(workers, control, names);
    try {
      await Promise.all(ready);
    } catch (err) {
      pool.destroy();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs kernel `name` on worker w with jobs[w] as its int32 arguments (null: no job), runs
   * `own` on this thread meanwhile, and returns when every posted job has finished.
   */
  run(name: string, jobs: Array<number[] | null>, own: () => void): void {
    if (this.destroyed) throw new Error('wasm backend: used after destroy()');
    const op = this.names.indexOf(name);
    if (op < 0) throw new Error(`wasm backend: kernel ${name} is not in the worker table`);
    const seq = ++this.seq;
    const posted: number[] = [];
    for (let w = 0; w < jobs.length; w++) {
      const args = jobs[w];
      if (!args) continue;
      if (args.length > MAX_ARGS) throw new Error(`wasm backend: ${args.length} arguments for ${name}; at most ${MAX_ARGS}`);
      const base = w * SLOT_INTS;
      this.ctl[base + OP] = op;
      this.ctl[base + ARGC] = args.length;
      for (let i = 0; i < args.length; i++) this.ctl[base + ARGS + i] = args[i];
      Atomics.store(this.ctl, base + SEQ, seq);
      Atomics.notify(this.ctl, base + SEQ);
      posted.push(base);
    }
    let ownError: unknown = null;
    try {
      own();
    } catch (err) {
      ownError = err;
    }
    let failed = false;
    for (const base of posted) {
      let spins = 0;
      for (;;) {
        const done = Atomics.load(this.ctl, base + DONE);
        if (done === seq) break;
        if (++spins > SPIN) Atomics.wait(this.ctl, base + DONE, done);
      }
      if (this.ctl[base + FAILED]) {
        failed = true;
        this.ctl[base + FAILED] = 0;
      }
    }
    if (ownError) throw ownError;
    if (failed) throw new Error(`wasm backend: kernel ${name} failed on a worker thread`);
  }

  /** Stops and terminates every worker. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (let w = 0; w < this.workers.length; w++) {
      const base = w * SLOT_INTS;
      this.ctl[base + OP] = QUIT;
      Atomics.store(this.ctl, base + SEQ, ++this.seq);
      Atomics.notify(this.ctl, base + SEQ);
      void this.workers[w].terminate();
    }
  }
}
