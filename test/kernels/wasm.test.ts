// The wasm backend's own contract beyond the kernels: memory, views, threads, errors, destroy.

import { Backend } from '../../src/kernels/backend';
import { createWasmBackend } from '../../src/kernels/wasm';

describe('wasm backend', () => {
  let one: Backend;
  let two: Backend;
  beforeAll(async () => {
    one = await createWasmBackend({ threads: 1 });
    two = await createWasmBackend({ threads: 2 });
  });
  afterAll(() => {
    one?.destroy();
    two?.destroy();
  });

  it('says how many threads it runs', () => {
    expect(one.name).toBe('wasm');
    expect(one.description).toBe('wasm simd128, 1 thread');
    expect(two.description).toBe('wasm simd128, 2 threads');
  });

  it('hands out zeros, also for a block reused after dispose', async () => {
    const a = one.alloc(3, 5);
    one.fill(a, 7);
    one.dispose(a);
    const b = one.alloc(3, 5);
    expect(Array.from(await one.download(b))).toEqual(new Array(15).fill(0));
  });

  it('writes through a row view into its parent', async () => {
    const t = one.alloc(4, 3);
    one.fill(one.rowsOf(t, 1, 2), 2);
    one.dispose(one.rowsOf(t, 0, 1)); // a view is never freed on its own
    expect(Array.from(await one.download(t))).toEqual([0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0]);
  });

  it('keeps tensors intact when the memory grows', async () => {
    const small = one.alloc(1, 4);
    one.upload(small, [1, 2, 3, 4]);
    const big = one.alloc(2048, 4096); // 32 MiB, past the initial 16 MiB
    one.fill(big, 1);
    expect(Array.from(await one.download(small))).toEqual([1, 2, 3, 4]);
    const back = await one.download(big);
    expect(back[back.length - 1]).toBe(1);
    one.dispose(big);
  });

  it('refuses an id outside the vocabulary, naming it', () => {
    const w = one.alloc(5, 3);
    const ids = one.allocIndices(2);
    one.uploadIndices(ids, new Int32Array([1, 5]));
    expect(() => one.embeddingForward(w, ids, one.alloc(2, 3))).toThrow(/id 5 at position 1.*\[0, 5\)/);
  });

  it('refuses tensors of another backend and tensors used after dispose', () => {
    const t = one.alloc(1, 1);
    expect(() => two.fill(t, 1)).toThrow(/another backend/);
    one.dispose(t);
    expect(() => one.fill(t, 1)).toThrow(/after dispose/);
  });

  it('rejects a bad thread count', async () => {
    await expect(createWasmBackend({ threads: 0 })).rejects.toThrow(/threads/);
  });

  it('is unusable after destroy', async () => {
    const b = await createWasmBackend({ threads: 2 });
    const x = b.alloc(256, 256);
    b.destroy();
    expect(() => b.alloc(1, 1)).toThrow(/destroy/);
    expect(() => b.matmul(x, x, x)).toThrow(/destroy/);
  });
});
