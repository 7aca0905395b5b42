// A wasm worker thread that dies or hangs ends the job with a clear error, never a wait forever.

import { ThreadPool } from '../../src/kernels/wasm/pool';
import { WasmMemory, WasmModule, wasmApi } from '../../src/kernels/wasm/wasm-api';

// A hand-assembled module: `spin(a, b, c)` loops forever, standing in for a worker stuck or
// killed in the middle of a chunk (its chunk is never reported done).
const SPIN_BYTES = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32, i32, i32) -> ()
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x07, 0x08, 0x01, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x00, // export "spin"
  0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
]);

function memory(): WasmMemory {
  return new wasmApi.Memory({ initial: 1, maximum: 1, shared: true });
}

/** This thread's part of a chunk: sleeps, so that the worker is sure to claim the other one. */
function slowChunk(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
}

let SPIN_MODULE: WasmModule;
beforeAll(async () => {
  SPIN_MODULE = await wasmApi.compile(SPIN_BYTES);
});

describe('wasm worker threads that fail', () => {
  it('a worker stuck in a chunk ends the job with an error after the stall limit', async () => {
    const pool = await ThreadPool.start([0], SPIN_MODULE, memory() as WasmMemory, ['spin']);
    pool.stallMs = 500;
    try {
      expect(() => pool.run('spin', [], 2, 0, slowChunk)).toThrow(/wasm backend: 1 of 2 chunks of spin got no answer from the worker threads for \d+ s \(a worker died or hangs\); stopping \(saved checkpoints are intact\)/);
      // And the pool stays refused: a stuck worker may still write into memory.
      expect(() => pool.run('spin', [], 1, 0, () => undefined)).toThrow(/got no answer/);
    } finally {
      pool.destroy();
    }
  });

  it('a worker that exited is named by the next job, at once', async () => {
    const pool = await ThreadPool.start([0, 0], SPIN_MODULE, memory() as WasmMemory, ['spin']);
    try {
      const workers = (pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers;
      await workers[1].terminate();
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the 'exit' event arrive
      expect(() => pool.run('spin', [], 1, 0, () => undefined)).toThrow(/wasm backend: worker thread 1 exited \(code 1\); stopping .*--threads 1 or --backend reference/);
    } finally {
      pool.destroy();
    }
  });
});
