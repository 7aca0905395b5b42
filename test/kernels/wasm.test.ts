// The wasm backend's own contract beyond the kernels: memory, views, threads, errors, destroy.

import { Backend, MatmulOptions } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createWasmBackend } from '../../src/kernels/wasm';
import { Rng } from '../../src/engine/rng';

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

  // Products with fewer rows than a micro-tile skip packing (sampling runs batch 1); big ones
  // are split across threads by columns. The shared suite's few-row shapes are too small to split.
  for (const [M, K, N] of [[1, 512, 1030], [3, 203, 1001]]) {
    it(`few-row product ${M}x${K}x${N} on two threads agrees with the reference in every layout`, async () => {
      const reference = new ReferenceBackend('float64');
      const rng = new Rng(M + K + N);
      const random = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.fround(rng.uniform() * 2 - 1));
      for (let layout = 0; layout < 8; layout++) {
        const opts: MatmulOptions = { transposeA: !!(layout & 1), transposeB: !!(layout & 2), accumulate: !!(layout & 4) };
        const shapes: Array<[number, number]> = [opts.transposeA ? [K, M] : [M, K], opts.transposeB ? [N, K] : [K, N], [M, N]];
        const [a, b, out] = shapes.map(([r, c]) => {
          const data = random(r * c);
          const t = two.alloc(r, c); two.upload(t, data);
          const u = reference.alloc(r, c); reference.upload(u, data);
          return [t, u];
        });
        two.matmul(a[0], b[0], out[0], opts);
        reference.matmul(a[1], b[1], out[1], opts);
        const got = await two.download(out[0]), want = await reference.download(out[1]);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
        expect(worst).toBeLessThan(2e-6 * Math.sqrt(K));
        [a, b, out].forEach(([t]) => two.dispose(t));
      }
    });
  }

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
