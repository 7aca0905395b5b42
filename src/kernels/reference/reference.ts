// The reference backend: plain loops, readable next to the formulas, float32 or float64.
//
// Every other backend is checked against this one (test/kernels/conformance.test.ts), and the
// finite-difference gradient checks run it in float64. Speed is not a goal here.

import {
  AdamParams, Backend, FloatArray, IndexTensor, MatmulOptions, Tensor, clipScale, lstmCellDims, matmulDims,
} from '../backend';

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

class RefIndices implements IndexTensor {
  constructor(readonly id: number, readonly length: number, readonly data: Int32Array) {}
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

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

  lstmCellForward(gatesx: Tensor, cPrevx: Tensor, cx: Tensor, hx: Tensor): void {
    const gates = this.t(gatesx), cPrev = this.t(cPrevx), c = this.t(cx), h = this.t(hx);
    const { B, H } = lstmCellDims('lstmCellForward', c, [gates], [cPrev, h]);
    for (let b = 0; b < B; b++) {
      const g0 = b * 4 * H;
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gates.data[g0 + j]);
        const f = sigmoid(gates.data[g0 + H + j]);
        const g = Math.tanh(gates.data[g0 + 2 * H + j]);
        const o = sigmoid(gates.data[g0 + 3 * H + j]);
        gates.data[g0 + j] = i;
        gates.data[g0 + H + j] = f;
        gates.data[g0 + 2 * H + j] = g;
        gates.data[g0 + 3 * H + j] = o;
        const cv = f * cPrev.data[b * H + j] + i * g;
        c.data[b * H + j] = cv;
        h.data[b * H + j] = o * Math.tanh(cv);
      }
    }
  }

  lstmCellBackward(
    gatesx: Tensor, cPrevx: Tensor, cx: Tensor,
    dhx: Tensor, dhRecx: Tensor, dcx: Tensor, dGatesx: Tensor,
  ): void {
    const gates = this.t(gatesx), cPrev = this.t(cPrevx), c = this.t(cx);
    const dhT = this.t(dhx), dhRec = this.t(dhRecx), dc = this.t(dcx), dGates = this.t(dGatesx);
    const { B, H } = lstmCellDims('lstmCellBackward', c, [gates, dGates], [cPrev, dhT, dhRec, dc]);
    for (let b = 0; b < B; b++) {
      const g0 = b * 4 * H;
      for (let j = 0; j < H; j++) {
        const k = b * H + j;
        const i = gates.data[g0 + j], f = gates.data[g0 + H + j];
        const g = gates.data[g0 + 2 * H + j], o = gates.data[g0 + 3 * H + j];
        const tc = Math.tanh(c.data[k]);
        const dh = dhT.data[k] + dhRec.data[k];
        // h = o·tanh(c): dc gets dh·o·(1 - tanh²c) on top of what flows back from step t+1.
        const dcv = dc.data[k] + dh * o * (1 - tc * tc);
        dGates.data[g0 + j] = dcv * g * i * (1 - i);                 // di · σ'
        dGates.data[g0 + H + j] = dcv * cPrev.data[k] * f * (1 - f); // df · σ'
        dGates.data[g0 + 2 * H + j] = dcv * i * (1 - g * g);          // dg · tanh'
        dGates.data[g0 + 3 * H + j] = dh * tc * o * (1 - o);          // do · σ'
        dc.data[k] = dcv * f;                                          // to cPrev
      }
    }
  }

  softmaxCrossEntropy(
    logitsx: Tensor, targetsx: IndexTensor, lossx: Tensor,
    dLogitsx: Tensor | null, gradScale: number,
  ): void {
    const logits = this.t(logitsx), targets = this.idx(targetsx), loss = this.t(lossx);
    const dLogits = dLogitsx ? this.t(dLogitsx) : null;
    const N = logits.rows, V = logits.cols;
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

  // torch.optim.Adam (https://pytorch.org/docs/stable/generated/torch.optim.Adam.html):
  //   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
  //   p -= lr · (m / (1-β1ᵗ)) / (sqrt(v / (1-β2ᵗ)) + ε)
  adamStep(
    paramx: Tensor, gradx: Tensor, mx: Tensor, vx: Tensor,
    hyper: AdamParams, normSqx: Tensor | null, clipNorm: number,
  ): void {
    const p = this.t(paramx), grad = this.t(gradx), m = this.t(mx), v = this.t(vx);
    const scale = normSqx ? clipScale(this.t(normSqx).data[0], clipNorm) : 1;
    const { lr, beta1, beta2, eps, step } = hyper;
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2 = 1 - Math.pow(beta2, step);
    for (let i = 0; i < p.size; i++) {
      const g = grad.data[i] * scale;
      m.data[i] = beta1 * m.data[i] + (1 - beta1) * g;
      v.data[i] = beta2 * v.data[i] + (1 - beta2) * g * g;
      p.data[i] -= lr * (m.data[i] / bc1) / (Math.sqrt(v.data[i] / bc2) + eps);
    }
  }
}
