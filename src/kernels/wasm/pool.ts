// Worker threads that share kernel work with this thread, through a shared control block.
//
// A step's recurrent GEMM takes ~100-300 µs, so handing out work must cost a few µs, not a
// postMessage round trip. One job runs at a time; it is cut into chunks, and every thread
// (this one included) claims the next chunk with a compare-and-swap until none are left, so a
// worker that wakes late (a busy machine, a sleeping core) only means this thread does more of
// the chunks itself: a job is never slower than running it alone plus a few atomics.
// Control block, int32:
//   SEQ    job number, bumped (and notified) to post a job
//   CLAIM  (SEQ & 0x1fffff) << 10 | next unclaimed chunk. The tag stops a worker that read an
//          older job's arguments from claiming a chunk of a newer job; and before a job's
//          arguments are written, CLAIM is closed (the old tag, chunk 1023: more than any job
//          has), so a worker that woke for the old job and read some of the new job's
//          arguments (its chunk count, say) finds nothing to claim. Without the close, such a
//          worker claimed the old job's next index under the new count: a chunk run twice (an
//          accumulating product added twice) or with mixed arguments, or a DONE count past
//          CHUNKS that no job could reach (a 60 s stall).
//   DONE   chunks finished; the job is over when DONE = CHUNKS
//   FAILED 1 if a chunk threw on a worker
//   OP, CHUNKS, ARGC, ARGS…  the kernel (index into the name table) and its int32 arguments;
//          a chunked kernel is called as kernel(...ARGS, chunk, scratch). Written and read with
//          Atomics, so the order above holds in the memory model and not only on x86.
// Idle threads spin briefly on Atomics.load before sleeping in Atomics.wait, so back-to-back
// kernels skip the futex wake-up and an idle worker does not burn a core.

import { Worker } from 'node:worker_threads';
import { WasmMemory, WasmModule } from './wasm-api';

const SEQ = 0, CLAIM = 16, DONE = 32, FAILED = 33, OP = 48, CHUNKS = 49, ARGC = 50, ARGS = 51;
const CONTROL_INTS = 128; // SEQ, CLAIM and DONE sit on separate 64-byte lines.
const MAX_ARGS = CONTROL_INTS - ARGS;
const CHUNK_BITS = 10;
const MAX_CHUNKS = (1 << CHUNK_BITS) - 1;
const CHUNK_MASK = MAX_CHUNKS;
const TAG_MASK = 0x1fffff;
const QUIT = -1;
/** Atomics.load polls before sleeping: tens of µs, longer than the pointwise gaps between GEMMs. */
const SPIN = 20000;

// Plain JS, run with `eval: true` so it loads the same way from ts-jest and from dist/.
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, names, scratch } = workerData;
const ctl = new Int32Array(control);
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const kernels = names.map((name) => exports[name]);
const args = [];
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, ${SEQ}) === seen) {
    if (++spins > ${SPIN}) { Atomics.wait(ctl, ${SEQ}, seen); spins = 0; }
  }
  seen = Atomics.load(ctl, ${SEQ});
  const op = Atomics.load(ctl, ${OP});
  if (op === ${QUIT}) break;
  const tag = (seen & ${TAG_MASK}) << ${CHUNK_BITS};
  const chunks = Atomics.load(ctl, ${CHUNKS});
  const argc = Atomics.load(ctl, ${ARGC});
  args.length = argc + 2;
  for (let i = 0; i < argc; i++) args[i] = Atomics.load(ctl, ${ARGS} + i);
  args[argc + 1] = scratch;
  for (;;) {
    const claim = Atomics.load(ctl, ${CLAIM});
    if ((claim & ~${CHUNK_MASK}) !== tag || (claim & ${CHUNK_MASK}) >= chunks) break;
    if (Atomics.compareExchange(ctl, ${CLAIM}, claim, claim + 1) !== claim) continue;
    args[argc] = claim & ${CHUNK_MASK};
    try {
      kernels[op](...args);
    } catch (err) {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.add(ctl, ${DONE}, 1) + 1 === chunks) Atomics.notify(ctl, ${DONE});
  }
}
`;

/**
 * How long a job may make no progress before its workers are given up on: a worker that died
 * mid-chunk (terminated, out of memory) never reports its chunk done, and run() is synchronous,
 * so the 'exit' event that says so cannot be seen until run() returns. Ample beside any chunk
 * (chunks take µs to ms); run() also allows 100× the longest chunk this thread ran.
 */
const DEFAULT_STALL_MS = 60000;
/** Atomics.wait slice while waiting for workers, so the stall clock is read. */
const WAIT_SLICE_MS = 100;

export class ThreadPool {
  private readonly ctl: Int32Array;
  private seq = 0;
  private destroyed = false;
  /** Why the pool can no longer run jobs (a worker exited or stalled), or null. */
  private broken: string | null = null;
  /** See DEFAULT_STALL_MS; tests shorten it. */
  stallMs = DEFAULT_STALL_MS;

  private constructor(private readonly workers: Worker[], control: SharedArrayBuffer, private readonly names: string[]) {
    this.ctl = new Int32Array(control);
    workers.forEach((worker, w) => {
      // Seen between jobs (the event loop runs then): the next run() refuses at once.
      worker.on('exit', (code) => {
        if (!this.destroyed) this.broken ??= `worker thread ${w} exited (code ${code})`;
      });
      worker.on('error', (err) => {
        if (!this.destroyed) this.broken ??= `worker thread ${w} failed (${err.message.split('\n')[0]})`;
      });
    });
  }

  /**
   * Starts one worker per entry of `scratch` (its GEMM packing buffer), each instantiating
   * `module` on `memory`; resolves once all are ready. names: the kernels run() may call.
   */
  static async start(
    scratch: number[], module: WasmModule, memory: WasmMemory, names: string[],
  ): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (const [w, ownScratch] of scratch.entries()) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true, workerData: { module, memory, control, names, scratch: ownScratch },
      });
      // A forgotten destroy() must not keep the CLI alive.
      worker.unref();
      workers.push(worker);
      ready.push(new Promise((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`wasm backend: worker ${w} exited (${code}) while starting`)));
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

  /** Worker threads (this thread not counted). */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs kernel(...args, chunk, scratch) for every chunk in [0, chunks), spread over this
   * thread (with `scratch`) and the workers; returns when all chunks are done.
   */
  run(name: string, args: number[], chunks: number, scratch: number, kernel: (...a: number[]) => void): void {
    if (this.destroyed) throw new Error('wasm backend: used after destroy()');
    if (this.broken) throw this.failure();
    const op = this.names.indexOf(name);
    if (op < 0) throw new Error(`wasm backend: kernel ${name} is not in the worker table`);
    if (args.length > MAX_ARGS) throw new Error(`wasm backend: ${args.length} arguments for ${name}; at most ${MAX_ARGS}`);
    if (!(chunks >= 1 && chunks <= MAX_CHUNKS)) throw new Error(`wasm backend: ${chunks} chunks; at most ${MAX_CHUNKS}`);
    const ctl = this.ctl;
    // Closed first: no worker may claim under the last job's tag once its arguments change.
    this.closeClaims();
    const seq = ++this.seq;
    const tag = (seq & TAG_MASK) << CHUNK_BITS;
    Atomics.store(ctl, OP, op);
    Atomics.store(ctl, CHUNKS, chunks);
    Atomics.store(ctl, ARGC, args.length);
    for (let i = 0; i < args.length; i++) Atomics.store(ctl, ARGS + i, args[i]);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, CLAIM, tag);
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);

    const own = [...args, 0, scratch];
    let ownError: unknown = null;
    let ownDone = 0;
    let longestChunkMs = 0;
    for (;;) {
      const claim = Atomics.load(ctl, CLAIM);
      if ((claim & CHUNK_MASK) >= chunks) break;
      if (Atomics.compareExchange(ctl, CLAIM, claim, claim + 1) !== claim) continue;
      own[args.length] = claim & CHUNK_MASK;
      const started = performance.now();
      try {
        kernel(...own);
      } catch (err) {
        ownError = err;
      }
      longestChunkMs = Math.max(longestChunkMs, performance.now() - started);
      ownDone++;
    }
    // Chunks this thread ran count at once; wait only for those a worker is still running.
    let done = Atomics.add(ctl, DONE, ownDone) + ownDone;
    let spins = 0;
    let lastProgress = performance.now();
    const stallMs = Math.max(this.stallMs, 100 * longestChunkMs);
    while (done !== chunks) {
      if (++spins > SPIN) {
        Atomics.wait(ctl, DONE, done, WAIT_SLICE_MS);
        const now = performance.now();
        if (now - lastProgress > stallMs) {
          this.broken = `${chunks - done} of ${chunks} chunks of ${name} got no answer from the worker threads for ${Math.round((now - lastProgress) / 1000)} s (a worker died or hangs)`;
          throw this.failure();
        }
      }
      const now = Atomics.load(ctl, DONE);
      if (now !== done) lastProgress = performance.now();
      done = now;
    }
    if (ownError) throw ownError;
    if (ctl[FAILED]) {
      ctl[FAILED] = 0;
      throw new Error(`wasm backend: kernel ${name} failed on a worker thread`);
    }
  }

  /** The error for a broken pool: what happened and what the user can do. */
  private failure(): Error {
    return new Error(`wasm backend: ${this.broken}; stopping (saved checkpoints are intact): run again, or with --threads 1 or --backend reference`);
  }

  /** CLAIM = the last job's tag with chunk 1023, past any job's count: nothing left to claim. */
  private closeClaims(): void {
    Atomics.store(this.ctl, CLAIM, ((this.seq & TAG_MASK) << CHUNK_BITS) | CHUNK_MASK);
  }

  /** Stops and terminates every worker. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closeClaims();
    Atomics.store(this.ctl, OP, QUIT);
    Atomics.store(this.ctl, SEQ, ++this.seq);
    Atomics.notify(this.ctl, SEQ);
    for (const worker of this.workers) void worker.terminate();
  }
}
