// The wasm backend's own contract beyond the kernels: memory, views, threads, errors, destroy.

import { Backend, CELL_GATES, CellName, MatmulOptions, Tensor, quantizeRows } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { chooseSimd, createWasmBackend } from '../../src/kernels/wasm';
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

  it('says how many threads it runs, and which kernel module', async () => {
    expect(one.name).toBe('wasm');
    // Node 20 accepts relaxed SIMD once the backend has switched V8's flag on.
    expect(one.description).toBe('wasm simd128 + relaxed fma, 1 thread');
    expect(two.description).toBe('wasm simd128 + relaxed fma, 2 threads');
    const plain = await createWasmBackend({ threads: 1, simd: 'plain' });
    expect(plain.description).toBe('wasm simd128, 1 thread');
    plain.destroy();
  });

  it('takes the relaxed module only where the engine accepts it', () => {
    let asked = 0;
    const accepts = (answer: boolean) => (): boolean => { asked++; return answer; };
    expect(chooseSimd('auto', accepts(true))).toBe('relaxed');
    expect(chooseSimd('auto', accepts(false))).toBe('plain');
    expect(chooseSimd('relaxed', accepts(true))).toBe('relaxed');
    expect(() => chooseSimd('relaxed', accepts(false))).toThrow(/refuses relaxed SIMD/);
    expect(asked).toBe(4);
    expect(chooseSimd('plain', accepts(true))).toBe('plain');
    expect(asked).toBe(4); // plain never switches the engine's flag on
  });

  // Each module sums every element of C the same way however C is cut between threads: the
  // packed path cuts by rows on micro-tile edges (and, with few row tiles, a per-step product,
  // by columns on panel edges too), the few-row path by columns. Row counts off the tile
  // height run the narrower edge kernels.
  for (const simd of ['plain', 'relaxed'] as const) {
    it(`products give the same bits on one thread and two (${simd} module)`, async () => {
      const [a1, a2] = [await createWasmBackend({ threads: 1, simd }), await createWasmBackend({ threads: 2, simd })];
      try {
        const rng = new Rng(simd.length);
        for (const [M, K, N, opts] of [
          [50, 256, 1024, { transposeB: true }], [130, 300, 67, {}], [1030, 64, 40, { transposeA: true, accumulate: true }],
          [3, 203, 1001, { transposeB: true }], [2, 517, 1030, {}], [5, 300, 1001, { transposeA: true }],
          [32, 512, 1536, { transposeB: true }], [26, 333, 517, { accumulate: true }], [9, 250, 1003, { transposeA: true }],
        ] as Array<[number, number, number, MatmulOptions]>) {
          const data = [opts.transposeA ? K * M : M * K, N * K, M * N].map((n) => Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1));
          const product = async (be: Backend): Promise<Buffer> => {
            const a = opts.transposeA ? be.alloc(K, M) : be.alloc(M, K);
            const b = opts.transposeB ? be.alloc(N, K) : be.alloc(K, N);
            const out = be.alloc(M, N);
            [a, b, out].forEach((t, i) => be.upload(t, data[i]));
            be.matmul(a, b, out, opts);
            const bytes = Buffer.from(((await be.download(out)) as Float32Array).buffer);
            [a, b, out].forEach((t) => be.dispose(t));
            return bytes;
          };
          expect((await product(a2)).equals(await product(a1))).toBe(true);
        }
      } finally {
        a1.destroy();
        a2.destroy();
      }
    });
  }

  // The int8 product sums in integers, so no cut between threads (by 4-column units) can change
  // a bit; and its integer sums make the scalar column tail agree with the SIMD columns.
  it('int8 products give the same bits on one thread and two', async () => {
    const rng = new Rng(5);
    for (const [M, K, N] of [[1, 512, 2048], [1, 515, 2051], [65, 300, 130]]) {
      const data = [M * K, N * K, M * N].map((n) => Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1));
      const product = async (be: Backend): Promise<Buffer> => {
        const [a, w, out] = [be.alloc(M, K), be.alloc(N, K), be.alloc(M, N)];
        [a, w, out].forEach((t, i) => be.upload(t, data[i]));
        const q = await be.quantize(w);
        be.matmulQuant(a, q, out, { accumulate: true });
        const bytes = Buffer.from(((await be.download(out)) as Float32Array).buffer);
        [a, w, out, q].forEach((t) => be.dispose(t));
        return bytes;
      };
      expect((await product(two)).equals(await product(one))).toBe(true);
    }
  });

  // The kernel quantizeQ8 must give quantizeRows's int8 values exactly, halves included: read
  // back through one-hot rows of A, whose product is known to the bit.
  it('quantises exactly as quantizeRows does, rounding halves to even', async () => {
    const rng = new Rng(8);
    const N = 6, K = 37;
    const w = new Float32Array(N * K);
    for (let k = 0; k < K; k++) {
      w[k] = k === 0 ? 127 : k - 18.5;             // scale 1: exact halves
      w[K + k] = k === 0 ? -127 / 8 : (k - 18.5) / 8; // scale 1/8: halves again
      for (let n = 2; n < N - 1; n++) w[n * K + k] = (rng.uniform() * 2 - 1) * n;
      w[(N - 1) * K + k] = 0;                        // a zero row
    }
    const { values, scales } = quantizeRows(w, N, K);
    const wt = one.alloc(N, K), eye = one.alloc(K, K), out = one.alloc(K, N);
    one.upload(wt, w);
    one.upload(eye, Float64Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0)));
    const q = await one.quantize(wt);
    one.matmulQuant(eye, q, out);
    const got = await one.download(out); // out[k, n] = scale[n] · q[n, k], through A's int16 rounding
    const aScale = Math.fround(1 / 32767);
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        const want = Math.fround(Math.fround(32767 * values[n * K + k]) * Math.fround(scales[n] * aScale));
        expect(got[k * N + n]).toBe(want);
      }
    }
    expect([values[1], values[2], values[3]]).toEqual([-18, -16, -16]); // -17.5 → -18, -16.5 → -16, -15.5 → -16
    [wt, eye, out, q].forEach((t) => one.dispose(t));
    const bad = one.alloc(2, 3);
    one.upload(bad, [1, 2, 3, 4, NaN, 6]);
    await expect(one.quantize(bad)).rejects.toThrow(/row 1 holds a value that is not finite/);
  });

  it('refuses int8 weights after dispose and from another backend', async () => {
    const w = one.alloc(4, 3);
    const q = await one.quantize(w);
    const a = one.alloc(1, 3), out = one.alloc(1, 4);
    expect(() => two.matmulQuant(two.alloc(1, 3), q, two.alloc(1, 4))).toThrow(/another backend/);
    expect(() => one.matmulQuant(a, q, one.alloc(1, 5))).toThrow(/do not agree/);
    one.dispose(q);
    expect(() => one.matmulQuant(a, q, out)).toThrow(/after dispose/);
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

  // matmul keeps op(B) packed between calls (weights change once per step); every kind of write
  // to B's bytes must make the next product repack it, or it would multiply by stale weights.
  for (const threads of [1, 2]) {
    it(`a product sees every write to its B operand since the last one (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const be = threads === 1 ? one : two;
      const reference = new ReferenceBackend('float64');
      const rng = new Rng(threads);
      const M = 50, K = 37, N = 70;
      const random = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.fround(rng.uniform() * 2 - 1));
      const a = be.alloc(M, K); be.upload(a, random(M * K));
      let b = be.alloc(N, K); be.upload(b, random(N * K));
      const out = be.alloc(M, N);
      const other = be.alloc(N, K); be.upload(other, random(N * K));
      const check = async (what: string): Promise<void> => {
        // Twice: the second product takes op(B) from the cache.
        for (const opts of [{ transposeB: true }, { transposeB: true }]) {
          be.matmul(a, b, out, opts);
          const ar = reference.alloc(M, K), br = reference.alloc(N, K), outr = reference.alloc(M, N);
          reference.upload(ar, await be.download(a)); reference.upload(br, await be.download(b));
          reference.matmul(ar, br, outr, opts);
          const got = await be.download(out), want = await reference.download(outr);
          let worst = 0;
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
          if (!(worst < 2e-6 * Math.sqrt(K))) throw new Error(`stale B after ${what}: error ${worst}`);
        }
      };
      await check('the first product');
      be.upload(b, random(N * K)); await check('upload');
      be.fill(be.rowsOf(b, 3, 2), 0.5); await check('fill of a row view');
      be.copy(other, b); await check('copy');
      be.clampInPlace(b, 0.25); await check('clampInPlace');
      const m = be.alloc(N, K), v = be.alloc(N, K);
      be.adamStep(b, other, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1, weightDecay: 0 }, null, 0);
      await check('adamStep');
      const row = be.alloc(1, K); be.upload(row, random(K));
      be.addRowVector(b, row); await check('addRowVector');
      const x = be.alloc(N, 5), y = be.alloc(5, K); be.upload(x, random(N * 5)); be.upload(y, random(5 * K));
      be.matmul(x, y, b); await check('matmul into B');
      be.dispose(b);
      b = be.alloc(N, K); // may reuse the freed block: zeros, not the old weights
      await check('dispose and alloc at the same address');
      [a, b, out, other, m, v, row, x, y].forEach((t) => be.dispose(t));
    });
  }

  // Products with fewer rows than a micro-tile (4 rows, 6 in the relaxed module) skip packing
  // (sampling runs batch 1); big ones are split across threads by columns. The shared suite's
  // few-row shapes are too small to split.
  for (const [M, K, N] of [[1, 512, 1030], [3, 203, 1001], [5, 203, 1001]]) {
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

  // A cell big enough to be cut by rows across threads (B·G·H ≥ 8192 for every cell, H off the
  // SIMD width) must give the same bits as one thread: training may not depend on the machine.
  for (const cell of Object.keys(CELL_GATES) as CellName[]) {
    it(`the ${cell} cell gives the same bits on one thread and two`, async () => {
      const B = 64, H = 131, G = CELL_GATES[cell];
      const run = async (be: Backend): Promise<Float32Array[]> => {
        const rng = new Rng(G * 7 + cell.length);
        const make = (rows: number, cols: number, scale: number): Tensor => {
          const t = be.alloc(rows, cols);
          be.upload(t, Float64Array.from({ length: rows * cols }, () => (rng.uniform() * 2 - 1) * scale));
          return t;
        };
        const state = (): Tensor => make(B, H, 1);
        const step = {
          gates: make(B, G * H, 3), hPrev: state(), h: state(), cPrev: state(), c: state(),
          rec: make(B, 3 * H, 2), peep: make(1, 3 * H, 0.5),
        };
        const grad = {
          ...step, dh: state(), dhRec: state(), dc: state(), dGates: make(B, G * H, 1),
          dRec: make(B, 3 * H, 1), dPeep: make(B, 3 * H, 1),
        };
        be.cell(cell).forward(step);
        be.cell(cell).backward(grad);
        const written = [step.gates, step.h, step.c, grad.dhRec, grad.dc, grad.dGates, grad.dRec, grad.dPeep];
        const out = await Promise.all(written.map(async (t) => (await be.download(t)) as Float32Array));
        Object.values(grad).forEach((t) => be.dispose(t));
        return out;
      };
      const [a, b] = [await run(one), await run(two)];
      a.forEach((x, i) => expect(Buffer.from(b[i].buffer).equals(Buffer.from(x.buffer))).toBe(true));
    });
  }

  // Bias add, column sums, products and Adam are cut across threads above 64k floats (sums by
  // columns, so each column still adds its rows in order): the same bits as one thread.
  it('memory-bound kernels give the same bits on one thread and two', async () => {
    const rows = 517, cols = 131, n = 70001;
    const run = async (be: Backend): Promise<Float32Array[]> => {
      const rng = new Rng(11);
      const make = (r: number, c: number): Tensor => {
        const t = be.alloc(r, c);
        be.upload(t, Float64Array.from({ length: r * c }, () => rng.uniform() * 2 - 1));
        return t;
      };
      const a = make(rows, cols), bias = make(1, cols), sums = make(1, cols), acc = make(1, cols);
      be.addRowVector(a, bias);
      be.sumRows(a, sums, false);
      be.sumRows(a, acc, true);
      const x = make(1, n), y = make(1, n), prod = make(1, n);
      be.mul(x, y, prod);
      const p = make(1, n), g = make(1, n), m = make(1, n), v = make(1, n);
      be.mul(v, v, v); // Adam's second moment is not negative
      const norm = be.alloc(1, 1);
      be.sumSquares(g, norm, false);
      be.adamStep(p, g, m, v, { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, weightDecay: 0.01 }, norm, 5);
      const out = await Promise.all([a, sums, acc, prod, p, m, v].map(async (t) => (await be.download(t)) as Float32Array));
      [a, bias, sums, acc, x, y, prod, p, g, m, v, norm].forEach((t) => be.dispose(t));
      return out;
    };
    const [a, b] = [await run(one), await run(two)];
    a.forEach((x, i) => expect(Buffer.from(b[i].buffer).equals(Buffer.from(x.buffer))).toBe(true));
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
