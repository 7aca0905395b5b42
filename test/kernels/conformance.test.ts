// One suite for every backend: each kernel against the float64 reference on awkward shapes.
//
// A backend joins by adding itself to BACKENDS (test/kernels/backends.ts). A case a backend
// cannot pass yet is skipped by name, with its reason, in SKIPS there — never silently.

import { Backend, CELL_GATES, CellName, FloatArray, MatmulOptions, Tensor } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { BACKENDS, SKIPS } from './backends';
import { Rng } from '../../src/engine/rng';

const reference = new ReferenceBackend('float64');
const CELL_NAMES = Object.keys(CELL_GATES) as CellName[];

// Odd sizes, 1, sizes off the SIMD widths (4, 8, 16), tall-and-skinny.
const MATMUL_SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 3, 1], [3, 1, 5], [2, 3, 4], [5, 7, 3], [13, 17, 19], [65, 3, 127],
  [4, 8, 16], [33, 65, 31], [127, 65, 1], [1, 127, 65], [50, 128, 512], [200, 5, 9],
  // Past common blocking sizes (K > 256, M > 128, N > 2048) and big enough to be split across
  // threads, with odd edges on every side.
  [129, 300, 67], [9, 40, 2100],
  // One axis longer than a GPU's maximum texture side (16384 on most, llvmpipe included), so a
  // backend that maps a matrix's shape onto a texture's must tile or reshape it.
  [2, 3, 16411], [16411, 2, 1],
];

// (M, K, N) of matmulQuant: out [M, N] = a [M, K] · W [N, K]ᵀ.
const QUANT_SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 5, 3], [3, 17, 5], [2, 16, 8], [1, 127, 65], [5, 300, 67], [70, 33, 9], [1, 515, 2051], [65, 200, 130],
];

function randomArray(rng: Rng, n: number, scale = 1): Float64Array {
  // Values representable in float32, so copies compare exactly on every backend.
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround((rng.uniform() * 2 - 1) * scale);
  return out;
}

function randomIds(rng: Rng, n: number, vocab: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = Math.floor(rng.uniform() * vocab);
  return ids;
}

/** Uploads the same data to the backend under test and to the reference. */
function pair(backend: Backend, rows: number, cols: number, data: Float64Array): [Tensor, Tensor] {
  const t = backend.alloc(rows, cols);
  backend.upload(t, data);
  const r = reference.alloc(rows, cols);
  reference.upload(r, data);
  return [t, r];
}

async function expectClose(backend: Backend, t: Tensor, r: Tensor, tol: number): Promise<void> {
  const got = await backend.download(t);
  const want = await reference.download(r);
  expect(got.length).toBe(want.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(err <= worst)) { worst = err; worstAt = i; }
  }
  if (!(worst <= tol)) {
    throw new Error(`max relative error ${worst} at ${worstAt} (got ${got[worstAt]}, want ${want[worstAt]}) > ${tol}`);
  }
}

function lengthOf(x: FloatArray): number { return x.length; }

for (const entry of BACKENDS) {
  const maybe = (caseName: string): jest.It => (SKIPS[`${entry.name}:${caseName}`] ? it.skip : it);

  describe(`backend ${entry.name}`, () => {
    let backend: Backend;
    beforeAll(async () => { backend = await entry.create(); });
    afterAll(() => backend?.destroy());
    const tol = (): number => entry.tolerance;

    for (const [M, K, N] of MATMUL_SHAPES) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          for (const accumulate of [false, true]) {
            const label = `matmul ${M}x${K}x${N} tA=${transposeA} tB=${transposeB} acc=${accumulate}`;
            maybe('matmul')(label, async () => {
              const rng = new Rng(M * 1000003 + K * 1009 + N);
              const opts: MatmulOptions = { transposeA, transposeB, accumulate };
              const [a, ar] = transposeA ? pair(backend, K, M, randomArray(rng, K * M)) : pair(backend, M, K, randomArray(rng, M * K));
              const [b, br] = transposeB ? pair(backend, N, K, randomArray(rng, N * K)) : pair(backend, K, N, randomArray(rng, K * N));
              const [out, outr] = pair(backend, M, N, randomArray(rng, M * N));
              backend.matmul(a, b, out, opts);
              reference.matmul(ar, br, outr, opts);
              await expectClose(backend, out, outr, tol() * Math.sqrt(K));
            });
          }
        }
      }
    }

    // int8 weights (quantised sampling): against the reference's exact product with the same
    // dequantised weights (quantizeRows is shared, so both hold the same int8 values). A backend
    // may round A's rows to 16 bits (Backend.matmulQuant), which bounds its extra error by
    // K · max|a| · max|W| / 65534. Sizes: 1, off 4 and 16, K past the wasm kernel's 256-k integer
    // blocks, M past its 64-row blocks, and big enough to be cut across threads.
    for (const [M, K, N] of QUANT_SHAPES) {
      for (const accumulate of [false, true]) {
        maybe('matmulQuant')(`matmulQuant ${M}x${K}x${N} acc=${accumulate}`, async () => {
          const rng = new Rng(M * 7919 + K * 31 + N + (accumulate ? 1 : 0));
          const [a, ar] = pair(backend, M, K, randomArray(rng, M * K));
          const [w, wr] = pair(backend, N, K, randomArray(rng, N * K, 0.5));
          const [out, outr] = pair(backend, M, N, randomArray(rng, M * N));
          const q = await backend.quantize(w), qr = await reference.quantize(wr);
          expect([q.rows, q.cols]).toEqual([N, K]);
          backend.matmulQuant(a, q, out, { accumulate });
          reference.matmulQuant(ar, qr, outr, { accumulate });
          // max|a| ≤ 1, max|W| ≤ 0.5
          await expectClose(backend, out, outr, tol() * Math.sqrt(K) + K * 0.5 / 65534);
          backend.dispose(q);
        });
      }
    }

    maybe('matmulQuant')('matmulQuant on row views, as a sampling step uses it', async () => {
      const rng = new Rng(12);
      const [a, ar] = pair(backend, 9, 21, randomArray(rng, 9 * 21));
      const [w, wr] = pair(backend, 13, 21, randomArray(rng, 13 * 21));
      const [out, outr] = pair(backend, 11, 13, randomArray(rng, 11 * 13));
      const q = await backend.quantize(w), qr = await reference.quantize(wr);
      backend.matmulQuant(backend.rowsOf(a, 2, 3), q, backend.rowsOf(out, 5, 3), { accumulate: true });
      reference.matmulQuant(reference.rowsOf(ar, 2, 3), qr, reference.rowsOf(outr, 5, 3), { accumulate: true });
      await expectClose(backend, out, outr, tol() * Math.sqrt(21) + 21 / 65534);
      // A snapshot: writing the weights afterwards changes nothing.
      backend.fill(w, 0);
      backend.matmulQuant(backend.rowsOf(a, 0, 1), q, backend.rowsOf(out, 0, 1));
      reference.matmulQuant(reference.rowsOf(ar, 0, 1), qr, reference.rowsOf(outr, 0, 1));
      await expectClose(backend, out, outr, tol() * Math.sqrt(21) + 21 / 65534);
      backend.dispose(q);
    });

    maybe('matmul-views')('matmul on row views reads and writes only the viewed rows', async () => {
      const rng = new Rng(7);
      const [a, ar] = pair(backend, 9, 5, randomArray(rng, 45));
      const [b, br] = pair(backend, 6, 5, randomArray(rng, 30));
      const [out, outr] = pair(backend, 11, 6, randomArray(rng, 66));
      backend.matmul(backend.rowsOf(a, 2, 4), b, backend.rowsOf(out, 5, 4), { transposeB: true, accumulate: true });
      reference.matmul(reference.rowsOf(ar, 2, 4), br, reference.rowsOf(outr, 5, 4), { transposeB: true, accumulate: true });
      await expectClose(backend, out, outr, tol());
    });

    // The engine's pattern: [T·B, ·] written one [B, ·] step view at a time, each step reading
    // the last. Then views that straddle two steps or cover part of one, and a kernel reading a
    // just-written step and the whole tensor at once (gpujs keeps GL roots in step-sized blocks;
    // 11 steps is more than one of its 8-block merge passes).
    maybe('row-view-writes')('row views written step by step, across steps and inside one, then read whole', async () => {
      const rng = new Rng(11);
      const steps = 11, rowsPerStep = 3, cols = 5, rows = steps * rowsPerStep;
      const [x, xr] = pair(backend, rows, cols, randomArray(rng, rows * cols));
      const [w, wr] = pair(backend, cols, cols, randomArray(rng, cols * cols, 0.5));
      const stepsOf = (be: Backend, t: Tensor): Tensor[] =>
        Array.from({ length: steps }, (_, s) => be.rowsOf(t, s * rowsPerStep, rowsPerStep));
      const views = stepsOf(backend, x), viewsr = stepsOf(reference, xr);
      for (let s = 0; s + 1 < steps; s++) {
        backend.matmul(views[s], w, views[s + 1], { accumulate: true });
        reference.matmul(viewsr[s], wr, viewsr[s + 1], { accumulate: true });
      }
      const tolerance = tol() * Math.sqrt(cols) * steps;
      await expectClose(backend, views[4], viewsr[4], tolerance);
      await expectClose(backend, x, xr, tolerance);
      // Straddling steps 1 and 2; part of step 5; part of step 6.
      backend.copy(views[0], backend.rowsOf(x, 4, 3));
      reference.copy(viewsr[0], reference.rowsOf(xr, 4, 3));
      backend.fill(backend.rowsOf(x, 16, 1), 0.5);
      reference.fill(reference.rowsOf(xr, 16, 1), 0.5);
      backend.clampInPlace(backend.rowsOf(x, 19, 2), 0.1);
      reference.clampInPlace(reference.rowsOf(xr, 19, 2), 0.1);
      // One kernel reading step 6 (just written) and all of x: [3, 5] × [5, 33].
      const [out, outr] = pair(backend, rowsPerStep, rows, randomArray(rng, rowsPerStep * rows));
      backend.matmul(views[6], x, out, { transposeB: true });
      reference.matmul(viewsr[6], xr, outr, { transposeB: true });
      await expectClose(backend, out, outr, tolerance * Math.sqrt(cols));
      await expectClose(backend, views[6], viewsr[6], tolerance);
      await expectClose(backend, x, xr, tolerance);
    });

    for (const [rows, cols] of [[1, 1], [3, 65], [127, 13], [64, 512], [1, 16411], [16411, 2]]) {
      maybe('pointwise')(`addRowVector, sumRows, fill, copy, clamp, sumSquares ${rows}x${cols}`, async () => {
        const rng = new Rng(rows * 31 + cols);
        const [x, xr] = pair(backend, rows, cols, randomArray(rng, rows * cols, 3));
        const [bias, biasr] = pair(backend, 1, cols, randomArray(rng, cols));
        backend.addRowVector(x, bias);
        reference.addRowVector(xr, biasr);
        await expectClose(backend, x, xr, tol());

        const [s, sr] = pair(backend, 1, cols, randomArray(rng, cols));
        backend.sumRows(x, s, true);
        reference.sumRows(xr, sr, true);
        await expectClose(backend, s, sr, tol() * Math.sqrt(rows));
        backend.sumRows(x, s, false);
        reference.sumRows(xr, sr, false);
        await expectClose(backend, s, sr, tol() * Math.sqrt(rows));

        const [y, yr] = pair(backend, rows, cols, randomArray(rng, rows * cols));
        backend.copy(x, y);
        reference.copy(xr, yr);
        await expectClose(backend, y, yr, tol());
        backend.clampInPlace(y, 1.5);
        reference.clampInPlace(yr, 1.5);
        await expectClose(backend, y, yr, tol());

        const [sq, sqr] = pair(backend, 1, 1, new Float64Array([2.5]));
        backend.sumSquares(x, sq, true);
        reference.sumSquares(xr, sqr, true);
        await expectClose(backend, sq, sqr, tol() * Math.sqrt(rows * cols));
        backend.sumSquares(y, sq, false);
        reference.sumSquares(yr, sqr, false);
        await expectClose(backend, sq, sqr, tol() * Math.sqrt(rows * cols));

        backend.fill(y, 0.25);
        const filled = await backend.download(y);
        expect(lengthOf(filled)).toBe(rows * cols);
        expect(Array.from(filled).every((v) => v === 0.25)).toBe(true);
      });
    }

    for (const [n, V, E] of [[1, 1, 1], [7, 5, 3], [130, 65, 17], [64, 200, 64]]) {
      maybe('embedding')(`embedding forward/backward n=${n} V=${V} E=${E}`, async () => {
        const rng = new Rng(n + V * 7 + E * 13);
        const ids = randomIds(rng, n, V);
        const tok = backend.allocIndices(n); backend.uploadIndices(tok, ids);
        const tokr = reference.allocIndices(n); reference.uploadIndices(tokr, ids);
        const [w, wr] = pair(backend, V, E, randomArray(rng, V * E));
        const [out, outr] = pair(backend, n, E, randomArray(rng, n * E));
        backend.embeddingForward(w, tok, out);
        reference.embeddingForward(wr, tokr, outr);
        await expectClose(backend, out, outr, 0);
        const [dw, dwr] = pair(backend, V, E, randomArray(rng, V * E));
        backend.embeddingBackward(out, tok, dw);
        reference.embeddingBackward(outr, tokr, dwr);
        await expectClose(backend, dw, dwr, tol() * 4);
      });
    }

    // [16, 128] sits on the wasm backend's threading threshold (2048 units).
    for (const cell of CELL_NAMES) {
      for (const [B, H] of [[1, 1], [3, 5], [2, 65], [16, 128], [50, 128], [7, 127], [33, 257]]) {
        maybe(`cell ${cell}`)(`${cell} cell forward/backward B=${B} H=${H}`, async () => {
          const rng = new Rng(B * 97 + H + cell.length * 7919);
          const G = CELL_GATES[cell];
          const lstmLike = cell === 'lstm' || cell === 'peephole';
          const state = (scale = 1): [Tensor, Tensor] => pair(backend, B, H, randomArray(rng, B * H, scale));
          const [gates, gatesr] = pair(backend, B, G * H, randomArray(rng, B * G * H, 3));
          const [hPrev, hPrevr] = state(1);
          const [h, hr] = state();
          const [cPrev, cPrevr] = state(2);
          const [c, cr] = state();
          const [rec, recr] = pair(backend, B, 3 * H, randomArray(rng, B * 3 * H, 2));
          const [peep, peepr] = pair(backend, 1, 3 * H, randomArray(rng, 3 * H, 0.5));
          const step = {
            gates, hPrev, h, ...(lstmLike ? { cPrev, c } : {}), ...(cell === 'gru' ? { rec } : {}),
            ...(cell === 'peephole' ? { peep } : {}),
          };
          const stepr = {
            gates: gatesr, hPrev: hPrevr, h: hr, ...(lstmLike ? { cPrev: cPrevr, c: cr } : {}),
            ...(cell === 'gru' ? { rec: recr } : {}), ...(cell === 'peephole' ? { peep: peepr } : {}),
          };
          backend.cell(cell).forward(step);
          reference.cell(cell).forward(stepr);
          await expectClose(backend, gates, gatesr, tol());
          await expectClose(backend, h, hr, tol());
          if (lstmLike) await expectClose(backend, c, cr, tol());

          const [dh, dhr] = state();
          const [dhRec, dhRecr] = state();
          const [dc, dcr] = state();
          const [dGates, dGatesr] = pair(backend, B, G * H, randomArray(rng, B * G * H));
          const [dRec, dRecr] = pair(backend, B, 3 * H, randomArray(rng, B * 3 * H));
          const [dPeep, dPeepr] = pair(backend, B, 3 * H, randomArray(rng, B * 3 * H));
          backend.cell(cell).backward({
            ...step, dh, dhRec, dGates, ...(lstmLike ? { dc } : {}), ...(cell === 'gru' ? { dRec } : {}),
            ...(cell === 'peephole' ? { dPeep } : {}),
          });
          reference.cell(cell).backward({
            ...stepr, dh: dhr, dhRec: dhRecr, dGates: dGatesr, ...(lstmLike ? { dc: dcr } : {}),
            ...(cell === 'gru' ? { dRec: dRecr } : {}), ...(cell === 'peephole' ? { dPeep: dPeepr } : {}),
          });
          await expectClose(backend, dGates, dGatesr, tol());
          await expectClose(backend, dhRec, dhRecr, tol());
          if (lstmLike) await expectClose(backend, dc, dcr, tol());
          if (cell === 'gru') await expectClose(backend, dRec, dRecr, tol());
          if (cell === 'peephole') await expectClose(backend, dPeep, dPeepr, tol());
        });
      }
    }

    for (const [R, C] of [[1, 1], [1, 3], [3, 5], [7, 129], [64, 128], [2, 16411]]) {
      maybe('elementwise')(`mul, add, zoneout forward/backward ${R}x${C}`, async () => {
        const rng = new Rng(R * 31 + C);
        const [a, ar] = pair(backend, R, C, randomArray(rng, R * C, 2));
        const [b, br] = pair(backend, R, C, randomArray(rng, R * C, 2));
        const mask01 = new Float64Array(R * C).map(() => (rng.uniform() < 0.3 ? 1 : 0));
        const [mask, maskr] = pair(backend, R, C, mask01);
        const [out, outr] = pair(backend, R, C, randomArray(rng, R * C));
        const [out2, out2r] = pair(backend, R, C, randomArray(rng, R * C));
        backend.mul(a, b, out); reference.mul(ar, br, outr);
        await expectClose(backend, out, outr, tol());
        backend.add(a, b, out); reference.add(ar, br, outr);
        await expectClose(backend, out, outr, tol());
        // An output that is also an input.
        backend.add(out, b, out); reference.add(outr, br, outr);
        await expectClose(backend, out, outr, tol());
        backend.zoneoutForward(a, b, mask, out); reference.zoneoutForward(ar, br, maskr, outr);
        await expectClose(backend, out, outr, tol());
        backend.zoneoutBackward(a, mask, out, out2); reference.zoneoutBackward(ar, maskr, outr, out2r);
        await expectClose(backend, out, outr, tol());
        await expectClose(backend, out2, out2r, tol());
      });
    }

    for (const [N, V] of [[1, 1], [1, 2], [5, 3], [65, 65], [3200, 65], [17, 1000]]) {
      maybe('softmax')(`softmax cross-entropy N=${N} V=${V}`, async () => {
        const rng = new Rng(N * 5 + V);
        const ids = randomIds(rng, N, V);
        const tok = backend.allocIndices(N); backend.uploadIndices(tok, ids);
        const tokr = reference.allocIndices(N); reference.uploadIndices(tokr, ids);
        const [logits, logitsr] = pair(backend, N, V, randomArray(rng, N * V, 8));
        const [loss, lossr] = pair(backend, 1, 1, new Float64Array([123]));
        const [dl, dlr] = pair(backend, N, V, randomArray(rng, N * V));
        backend.softmaxCrossEntropy(logits, tok, loss, dl, 1 / N);
        reference.softmaxCrossEntropy(logitsr, tokr, lossr, dlr, 1 / N);
        await expectClose(backend, loss, lossr, tol() * Math.sqrt(N) * 4);
        await expectClose(backend, dl, dlr, tol());
        // Evaluation mode: loss only, no gradient buffer.
        backend.softmaxCrossEntropy(logits, tok, loss, null, 1);
        await expectClose(backend, loss, lossr, tol() * Math.sqrt(N) * 4);
      });
    }

    // (clipNorm, weightDecay): clipping off, active and inactive; AdamW's decay with each.
    const adamCases: Array<[number, number]> = [[0, 0], [0.5, 0], [1000, 0], [0, 0.1], [0.5, 3]];
    for (const [rows, cols] of [[1, 1], [3, 7], [65, 129]]) {
      for (const [clipNorm, weightDecay] of adamCases) {
        maybe('adam')(`adam ${rows}x${cols} clipNorm=${clipNorm}${weightDecay ? ` weightDecay=${weightDecay}` : ''}`, async () => {
          const rng = new Rng(rows + cols * 3 + clipNorm);
          const n = rows * cols;
          const [p, pr] = pair(backend, rows, cols, randomArray(rng, n));
          const [g, gr] = pair(backend, rows, cols, randomArray(rng, n));
          const [m, mr] = pair(backend, rows, cols, randomArray(rng, n, 0.1));
          const [v, vr] = pair(backend, rows, cols, randomArray(rng, n, 0.1).map(Math.abs));
          const [ns, nsr] = pair(backend, 1, 1, new Float64Array([0]));
          backend.sumSquares(g, ns, false);
          reference.sumSquares(gr, nsr, false);
          for (let step = 1; step <= 3; step++) {
            const hyper = { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step, weightDecay };
            backend.adamStep(p, g, m, v, hyper, ns, clipNorm);
            reference.adamStep(pr, gr, mr, vr, hyper, nsr, clipNorm);
          }
          await expectClose(backend, p, pr, tol());
          await expectClose(backend, m, mr, tol());
          await expectClose(backend, v, vr, tol());
        });
      }
    }
  });
}
