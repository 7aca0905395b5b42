// The reference backend: plain loops, readable next to the formulas, float32 or float64.
//
// Every other backend is checked against this one (test/kernels/conformance.test.ts), and the
// finite-difference gradient checks run it in float64. Speed is not a goal here.

import {
  AdamParams, Backend, CellKernels, CellName, FloatArray, cellKernelsOf, IndexTensor, MatmulOptions, QuantTensor, Tensor, adamScalars, clipScale,
  matmulDims, matmulQuantDims, quantizeRows, sameShape, softmaxCrossEntropyDims,
} from '../backend';
import { REFERENCE_CELLS } from './cells';

export type Precision = 'float32' | 'float64';

class RefTensor implements Tensor {
  readonly size: number;
  constructor(
    readonly id: number,
    readonly rows: number,
    readonly cols: number,
    /** Exactly rows*cols elements; a view's data is a subarray of its parent's. */
    readonly data: FloatArray,
  ) {
    this.size = rows * cols;
  }
}

class RefQuant implements QuantTensor {
  constructor(
    readonly id: number, readonly rows: number, readonly cols: number,
    readonly values: Int8Array,   // [rows, cols]
    readonly scales: Float32Array, // [rows]
  ) {}
}

class RefIndices implements IndexTensor {
  constructor(readonly id: number, readonly length: number, readonly data: Int32Array) {}
}

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly description: string;
  private nextId = 1;

  constructor(readonly precision: Precision = 'float32') {
    this.description = `plain TypeScript loops, ${precision}`;
  }

  private array(n: number): FloatArray {
    return this.precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
  }

  private t(x: Tensor): RefTensor {
    if (!(x instanceof RefTensor)) throw new Error('reference backend: tensor from another backend');
    return x;
  }

  private idx(x: IndexTensor): RefIndices {
    if (!(x instanceof RefIndices)) throw new Error('reference backend: indices from another backend');
    return x;
  }

  alloc(rows: number, cols: number): Tensor {
    return new RefTensor(this.nextId++, rows, cols, this.array(rows * cols));
  }

  rowsOf(x: Tensor, start: number, count: number): Tensor {
    const t = this.t(x);
    if (start < 0 || count < 0 || start + count > t.rows) {
      throw new Error(`rowsOf: rows [${start}, ${start + count}) outside [0, ${t.rows})`);
    }
    const data = t.data.subarray(start * t.cols, (start + count) * t.cols);
    return new RefTensor(this.nextId++, count, t.cols, data);
  }

  upload(x: Tensor, data: ArrayLike<number>): void {
    const t = this.t(x);
    if (data.length !== t.size) throw new Error(`upload: ${data.length} values for a tensor of ${t.size}`);
    for (let i = 0; i < t.size; i++) t.data[i] = data[i];
  }

  async download(x: Tensor): Promise<FloatArray> {
    return this.t(x).data.slice();
  }

  allocIndices(length: number): IndexTensor {
    return new RefIndices(this.nextId++, length, new Int32Array(length));
  }

  uploadIndices(x: IndexTensor, data: Int32Array): void {
    const t = this.idx(x);
    if (data.length !== t.length) throw new Error(`uploadIndices: ${data.length} ids for ${t.length}`);
    t.data.set(data);
  }

  dispose(): void {
    // Garbage collected.
  }

  destroy(): void {
    // Nothing held outside the JS heap.
  }

  // matmul_forward_naive: out[m, n] (+)= Σ_k A[m, k] B[k, n], with A, B read through
  // transposes as requested. Accumulates in float64 whatever the storage precision.
  matmul(ax: Tensor, bx: Tensor, outx: Tensor, opts: MatmulOptions = {}): void {
    const a = this.t(ax), b = this.t(bx), out = this.t(outx);
    const { M, K, N } = matmulDims(a, b, out, opts);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const av = opts.transposeA ? a.data[k * a.cols + m] : a.data[m * a.cols + k];
          const bv = opts.transposeB ? b.data[n * b.cols + k] : b.data[k * b.cols + n];
          sum += av * bv;
        }
        out.data[m * N + n] = opts.accumulate ? out.data[m * N + n] + sum : sum;
      }
    }
  }

  async quantize(weightx: Tensor): Promise<QuantTensor> {
    const w = this.t(weightx);
    const { values, scales } = quantizeRows(w.data, w.rows, w.cols);
    return new RefQuant(this.nextId++, w.rows, w.cols, values, scales);
  }

  // out[m, n] (+)= Σ_k a[m, k] · scale[n] · q[n, k]: the exact product with the dequantised
  // weights, summed in float64 (no rounding of a).
  matmulQuant(ax: Tensor, qx: QuantTensor, outx: Tensor, opts: { accumulate?: boolean } = {}): void {
    const a = this.t(ax), out = this.t(outx);
    if (!(qx instanceof RefQuant)) throw new Error('reference backend: int8 weights from another backend');
    const q = qx;
    const { M, K, N } = matmulQuantDims(a, q, out);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += a.data[m * K + k] * (q.scales[n] * q.values[n * K + k]);
        out.data[m * N + n] = opts.accumulate ? out.data[m * N + n] + sum : sum;
      }
    }
  }

  addRowVector(outx: Tensor, biasx: Tensor): void {
    const out = this.t(outx), bias = this.t(biasx);
    if (bias.size !== out.cols) throw new Error(`addRowVector: bias of ${bias.size} for ${out.cols} columns`);
    for (let r = 0; r < out.rows; r++) {
      for (let c = 0; c < out.cols; c++) out.data[r * out.cols + c] += bias.data[c];
    }
  }

  sumRows(ax: Tensor, outx: Tensor, accumulate: boolean): void {
    const a = this.t(ax), out = this.t(outx);
    if (out.size !== a.cols) throw new Error(`sumRows: out of ${out.size} for ${a.cols} columns`);
    for (let c = 0; c < a.cols; c++) {
      let sum = 0;
      for (let r = 0; r < a.rows; r++) sum += a.data[r * a.cols + c];
      out.data[c] = accumulate ? out.data[c] + sum : sum;
    }
  }

  fill(x: Tensor, value: number): void {
    this.t(x).data.fill(value);
  }

  copy(srcx: Tensor, dstx: Tensor): void {
    const src = this.t(srcx), dst = this.t(dstx);
    if (src.size !== dst.size) throw new Error(`copy: ${src.size} values into ${dst.size}`);
    dst.data.set(src.data);
  }

  embeddingForward(weightx: Tensor, tokensx: IndexTensor, outx: Tensor): void {
    const w = this.t(weightx), tokens = this.idx(tokensx), out = this.t(outx);
    const E = w.cols;
    for (let n = 0; n < tokens.length; n++) {
      const id = tokens.data[n];
      for (let e = 0; e < E; e++) out.data[n * E + e] = w.data[id * E + e];
    }
  }

  embeddingBackward(dOutx: Tensor, tokensx: IndexTensor, dWeightx: Tensor): void {
    const dOut = this.t(dOutx), tokens = this.idx(tokensx), dw = this.t(dWeightx);
    const E = dw.cols;
    for (let n = 0; n < tokens.length; n++) {
      const id = tokens.data[n];
      for (let e = 0; e < E; e++) dw.data[id * E + e] += dOut.data[n * E + e];
    }
  }

  private readonly cells = new Map<CellName, CellKernels>();

  cell(name: CellName): CellKernels {
    let kernels = this.cells.get(name);
    if (!kernels) {
      kernels = cellKernelsOf(this.name, REFERENCE_CELLS, name)((x) => this.t(x).data);
      this.cells.set(name, kernels);
    }
    return kernels;
  }

  mul(ax: Tensor, bx: Tensor, outx: Tensor): void {
    const n = sameShape('mul', ax, bx, outx);
    const a = this.t(ax).data, b = this.t(bx).data, out = this.t(outx).data;
    for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  }

  add(ax: Tensor, bx: Tensor, outx: Tensor): void {
    const n = sameShape('add', ax, bx, outx);
    const a = this.t(ax).data, b = this.t(bx).data, out = this.t(outx).data;
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  }

  zoneoutForward(prevx: Tensor, candx: Tensor, maskx: Tensor, outx: Tensor): void {
    const n = sameShape('zoneoutForward', prevx, candx, maskx, outx);
    const prev = this.t(prevx).data, cand = this.t(candx).data, mask = this.t(maskx).data, out = this.t(outx).data;
    for (let i = 0; i < n; i++) out[i] = cand[i] + mask[i] * (prev[i] - cand[i]);
  }

  zoneoutBackward(dOutx: Tensor, maskx: Tensor, dCandx: Tensor, dPrevx: Tensor): void {
    const n = sameShape('zoneoutBackward', dOutx, maskx, dCandx, dPrevx);
    const dOut = this.t(dOutx).data, mask = this.t(maskx).data, dCand = this.t(dCandx).data, dPrev = this.t(dPrevx).data;
    for (let i = 0; i < n; i++) {
      const d = dOut[i];
      dCand[i] = (1 - mask[i]) * d;
      dPrev[i] = mask[i] * d;
    }
  }

  softmaxCrossEntropy(
    logitsx: Tensor, targetsx: IndexTensor, lossx: Tensor,
    dLogitsx: Tensor | null, gradScale: number,
  ): void {
    const logits = this.t(logitsx), targets = this.idx(targetsx), loss = this.t(lossx);
    const dLogits = dLogitsx ? this.t(dLogitsx) : null;
    const { N, V } = softmaxCrossEntropyDims(logitsx, targetsx, lossx, dLogitsx);
    let total = 0;
    for (let n = 0; n < N; n++) {
      const row = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits.data[row + v]);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits.data[row + v] - max);
      const target = targets.data[n];
      total += Math.log(sum) - (logits.data[row + target] - max);
      if (dLogits) {
        for (let v = 0; v < V; v++) {
          const p = Math.exp(logits.data[row + v] - max) / sum;
          dLogits.data[row + v] = (p - (v === target ? 1 : 0)) * gradScale;
        }
      }
    }
    loss.data[0] = total;
  }

  clampInPlace(x: Tensor, limit: number): void {
    const t = this.t(x);
    for (let i = 0; i < t.size; i++) t.data[i] = Math.min(limit, Math.max(-limit, t.data[i]));
  }

  sumSquares(x: Tensor, outx: Tensor, accumulate: boolean): void {
    const t = this.t(x), out = this.t(outx);
    let sum = 0;
    for (let i = 0; i < t.size; i++) sum += t.data[i] * t.data[i];
    out.data[0] = accumulate ? out.data[0] + sum : sum;
  }

  // torch.optim.AdamW (https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html), which
  // with λ = 0 is torch.optim.Adam:
  //   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
  //   p = p · (1 - lr·λ) - lr · (m / (1-β1ᵗ)) / (sqrt(v / (1-β2ᵗ)) + ε)
  adamStep(
    paramx: Tensor, gradx: Tensor, mx: Tensor, vx: Tensor,
    hyper: AdamParams, normSqx: Tensor | null, clipNorm: number,
  ): void {
    const p = this.t(paramx), grad = this.t(gradx), m = this.t(mx), v = this.t(vx);
    const scale = normSqx ? clipScale(this.t(normSqx).data[0], clipNorm) : 1;
    const { lr, beta1, beta2, eps } = hyper;
    const { bc1, bc2, decay } = adamScalars(hyper);
    for (let i = 0; i < p.size; i++) {
      const g = grad.data[i] * scale;
      m.data[i] = beta1 * m.data[i] + (1 - beta1) * g;
      v.data[i] = beta2 * v.data[i] + (1 - beta2) * g * g;
      p.data[i] = p.data[i] * decay - lr * (m.data[i] / bc1) / (Math.sqrt(v.data[i] / bc2) + eps);
    }
  }
}
