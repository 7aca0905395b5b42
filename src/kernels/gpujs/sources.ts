// The gpu.js kernel sources, as strings of the JavaScript subset gpu.js translates to GLSL.
//
// Strings, not functions: gpu.js parses Function.prototype.toString(), and whatever compiles
// our TypeScript (tsc, ts-jest, a coverage instrumenter) may rewrite a function's body into
// something gpu.js cannot translate. A string is exactly what gpu.js sees.
//
// Every tensor is stored flat (row-major) in a 1-D gpu.js output of rows*cols values, so a
// texture is about √n × √n texels whatever the matrix shape: a [1, 20000] row vector never
// hits the GPU's maximum texture width. A kernel thread is one flat output element i; a row
// view is an element offset (`xOff`) into its parent's storage.
//
// Shapes are compile-time constants (one kernel per shape, cached by the backend), so every
// loop has a constant bound: GLSL ES 1.0 wants that, and gpu.js's loopMaxIterations cap never
// silently truncates a loop.
//
// One source serves every mode: gpu.js translates it to GLSL (headlessgl) or WGSL (webgpu), or
// runs it as JavaScript (cpu). An op with several outputs (LSTM forward, cells/lstm.ts: h and
// c; Adam: p, m and v; the softmax row pass: log-sum-exp and loss) calls a sub-kernel function
// per extra output, listed in its *_OUTPUTS record (a cell pass's subOutputs, cells/cell.ts),
// and returns its main result unless the constant OUTPUT names another. In GL and cpu modes the
// op is one createKernelMap (OUTPUT 0; the sub-kernels record their values); gpu.js's webgpu
// mode has no kernel maps, so there the backend builds the same source once per output
// (OUTPUT 0, 1, …) with each sub-kernel an identity function (SUBKERNEL_HELPERS and the cells'):
// more passes, the same arithmetic.
//
// The recurrent cells' kernels live in cells/, one file per cell, in this same subset, calling
// these same functions.

/** Functions every kernel may call; gpu.js infers their types from the call sites. */
export const HELPERS: string[] = [
  // Row of flat index i in a matrix with `cols` columns. GLSL divides in float32, where
  // 6.0 / 3.0 may come out 1.9999999; the two corrections make the answer exact for every
  // i < 2^24 (all integers below that are exact in float32).
  `function rowOf(i, cols) {
    let r = Math.floor(i / cols);
    if (i - r * cols < 0) { r = r - 1; }
    if (i - r * cols >= cols) { r = r + 1; }
    return r;
  }`,
  `function sigmoid(x) {
    return 1 / (1 + Math.exp(-x));
  }`,
  // gpu.js's GLSL tanh is (e^2x - 1) / (e^2x + 1), which is inf/inf = NaN for x > 44.
  `function tanhStable(x) {
    const t = Math.exp(-2 * Math.abs(x));
    const y = (1 - t) / (1 + t);
    if (x < 0) { return -y; }
    return y;
  }`,
];

/** data: the Float32Array being uploaded; the output is its device copy. */
export const UPLOAD = `function upload(data) {
  return data[this.thread.x];
}`;

export const FILL = `function fill(value) {
  return value;
}`;

/** out[i] = src[srcOff + i]: copies, and materialises a row view. */
export const COPY = `function copy(src, srcOff) {
  return src[srcOff + this.thread.x];
}`;

/** Writes a compact result into rows [lo, hi) of a parent's storage; the rest passes through. */
export const SPLICE = `function splice(parent, part, lo, hi) {
  const i = this.thread.x;
  if (i >= lo && i < hi) { return part[i - lo]; }
  return parent[i];
}`;

/**
 * A root with pending blocks (see backend.ts) merged back into one texture: element i is in
 * block rowOf(i, BS), taken from the slot whose index k<s> names that block, else from
 * parent. Slot s is arguments (b<s>, k<s>); an unused slot has k<s> = -1. Constants: BS.
 */
export function mergeBlocks(slots: number): string {
  const params = Array.from({ length: slots }, (_, s) => `b${s}, k${s}`).join(', ');
  const picks = Array.from({ length: slots }, (_, s) =>
    `  if (Math.abs(block - k${s}) < 0.5) { return b${s}[i - block * this.constants.BS]; }`).join('\n');
  return `function mergeBlocks(parent, ${params}) {
  const i = this.thread.x;
  const block = rowOf(i, this.constants.BS);
${picks}
  return parent[i];
}`;
}

/**
 * out[m, n] (+)= Σ_k A[m, k] B[k, n]: thread i is out element (m, n) = (i / N, i % N).
 * A is read through strides (aStrideM, aStrideK), so Aᵀ is the same kernel with the strides
 * swapped; likewise B. Constants: N, K, aStrideM, aStrideK, bStrideK, bStrideN.
 */
export function matmul(accumulate: boolean): string {
  return `function matmul(a, aOff, b, bOff${accumulate ? ', prev, prevOff' : ''}) {
  const i = this.thread.x;
  const m = rowOf(i, this.constants.N);
  const n = i - m * this.constants.N;
  const aRow = aOff + m * this.constants.aStrideM;
  const bCol = bOff + n * this.constants.bStrideN;
  let sum = 0;
  for (let k = 0; k < this.constants.K; k++) {
    sum += a[aRow + k * this.constants.aStrideK] * b[bCol + k * this.constants.bStrideK];
  }
  ${accumulate ? 'sum += prev[prevOff + i];' : ''}
  return sum;
}`;
}

/** out[r, c] = x[r, c] + bias[0, c]. Constants: C. */
export const ADD_ROW_VECTOR = `function addRowVector(x, xOff, bias, biasOff) {
  const i = this.thread.x;
  const c = i - rowOf(i, this.constants.C) * this.constants.C;
  return x[xOff + i] + bias[biasOff + c];
}`;

/** out[0, c] (+)= Σ_r a[r, c]. Constants: R, C. */
export function sumRows(accumulate: boolean): string {
  return `function sumRows(a, aOff${accumulate ? ', prev, prevOff' : ''}) {
  const c = this.thread.x;
  let sum = 0;
  for (let r = 0; r < this.constants.R; r++) {
    sum += a[aOff + r * this.constants.C + c];
  }
  ${accumulate ? 'sum += prev[prevOff + c];' : ''}
  return sum;
}`;
}

export const CLAMP = `function clampValues(x, xOff, limit) {
  return Math.min(limit, Math.max(-limit, x[xOff + this.thread.x]));
}`;

/**
 * First pass of a sum over n values: thread p sums x[p*CHUNK .. p*CHUNK+CHUNK) (squared when
 * SQUARE is 1). A chunk of about √n keeps each thread's loop short and float32 error ~√n ε.
 * Constants: n, CHUNK, SQUARE.
 */
export const PARTIAL_SUM = `function partialSum(x, xOff) {
  const start = this.thread.x * this.constants.CHUNK;
  let sum = 0;
  for (let j = 0; j < this.constants.CHUNK; j++) {
    if (start + j < this.constants.n) {
      const v = x[xOff + start + j];
      if (this.constants.SQUARE > 0) {
        sum += v * v;
      } else {
        sum += v;
      }
    }
  }
  return sum;
}`;

/** Second pass: out[0] (+)= Σ partials. Constants: P. */
export function finalSum(accumulate: boolean): string {
  return `function finalSum(partials${accumulate ? ', prev, prevOff' : ''}) {
  let sum = 0;
  for (let p = 0; p < this.constants.P; p++) {
    sum += partials[p];
  }
  ${accumulate ? 'sum += prev[prevOff];' : ''}
  return sum;
}`;
}

/** out[n, e] = weight[tokens[n], e]. Constants: E. */
export const EMBEDDING_FORWARD = `function embeddingForward(weight, wOff, tokens) {
  const i = this.thread.x;
  const n = rowOf(i, this.constants.E);
  const e = i - n * this.constants.E;
  return weight[wOff + tokens[n] * this.constants.E + e];
}`;

/**
 * dWeight[v, e] += Σ_{n : tokens[n] = v} dOut[n, e]. A scatter-add cannot be written as one
 * output per thread, so thread (v, e) gathers over all N tokens: V·E·N work, small at char
 * vocabularies. Constants: E, N.
 */
export const EMBEDDING_BACKWARD = `function embeddingBackward(dWeight, dwOff, dOut, dOff, tokens) {
  const i = this.thread.x;
  const v = rowOf(i, this.constants.E);
  const e = i - v * this.constants.E;
  let sum = dWeight[dwOff + i];
  for (let n = 0; n < this.constants.N; n++) {
    if (Math.abs(tokens[n] - v) < 0.5) {
      sum += dOut[dOff + n * this.constants.E + e];
    }
  }
  return sum;
}`;

/**
 * Softmax cross-entropy, pass 1, a kernel map over the N rows: the result (OUTPUT 0) is the
 * row's log-sum-exp (kept for the gradient pass), sub-kernel `rowLoss` (OUTPUT 1) its
 * -log p[target]. Constants: V, OUTPUT.
 */
export const SOFTMAX_ROW_LOSS = `function rowLoss(loss) {
  return loss;
}`;

export const SOFTMAX_ROW_STATS_OUTPUTS = { rowLoss: SOFTMAX_ROW_LOSS };

export const SOFTMAX_ROW_STATS = `function softmaxRowStats(logits, lOff, targets) {
  const n = this.thread.x;
  const row = lOff + n * this.constants.V;
  let max = logits[row];
  for (let v = 1; v < this.constants.V; v++) {
    max = Math.max(max, logits[row + v]);
  }
  let sum = 0;
  for (let v = 0; v < this.constants.V; v++) {
    sum += Math.exp(logits[row + v] - max);
  }
  const lse = max + Math.log(sum);
  const loss = rowLoss(lse - logits[row + targets[n]]);
  if (this.constants.OUTPUT > 0.5) { return loss; }
  return lse;
}`;

/** Pass 2: dLogits[n, v] = (softmax - onehot) * scale, from the row's log-sum-exp. Constants: V. */
export const SOFTMAX_GRADIENT = `function softmaxGradient(logits, lOff, targets, lse, scale) {
  const i = this.thread.x;
  const n = rowOf(i, this.constants.V);
  const v = i - n * this.constants.V;
  const p = Math.exp(logits[lOff + i] - lse[n]);
  if (Math.abs(targets[n] - v) < 0.5) {
    return (p - 1) * scale;
  }
  return p * scale;
}`;

/**
 * Adam (torch.optim.AdamW: decay = 1 − lr·λ scales the param first; 1 is torch.optim.Adam) as one
 * kernel map: the result (OUTPUT 0) is the new
 * param, sub-kernels `newMoment1`, `newMoment2` (OUTPUT 1, 2) the new m and v. The clip factor is
 * computed on the device from normSq[0] (same formula as clipScale in ../backend), so a
 * training step never reads back. With CLIP 0 there is no normSq argument and scale is 1.
 */
export const ADAM_MOMENT1 = `function newMoment1(m) {
  return m;
}`;

export const ADAM_MOMENT2 = `function newMoment2(v) {
  return v;
}`;

export const ADAM_OUTPUTS = { m: ADAM_MOMENT1, v: ADAM_MOMENT2 };

/** The sub-kernel functions as plain functions, for webgpu mode (no kernel maps; see the top). */
export const SUBKERNEL_HELPERS: string[] = [SOFTMAX_ROW_LOSS, ADAM_MOMENT1, ADAM_MOMENT2];

export function adam(clip: boolean): string {
  return `function adam(p, pOff, g, gOff, m, mOff, v, vOff, lr, beta1, beta2, eps, bc1, bc2, decay${clip ? ', normSq, nsOff, clipNorm' : ''}) {
  const i = this.thread.x;
  let scale = 1;
  ${clip ? `const coef = clipNorm / (Math.sqrt(normSq[nsOff]) + 0.000001);
  if (coef < 1) { scale = coef; }` : ''}
  const grad = g[gOff + i] * scale;
  const m1 = newMoment1(beta1 * m[mOff + i] + (1 - beta1) * grad);
  const m2 = newMoment2(beta2 * v[vOff + i] + (1 - beta2) * grad * grad);
  if (this.constants.OUTPUT > 1.5) { return m2; }
  if (this.constants.OUTPUT > 0.5) { return m1; }
  return p[pOff + i] * decay - lr * (m1 / bc1) / (Math.sqrt(m2 / bc2) + eps);
}`;
}

// ---- elementwise (dropout, zoneout): one output element per thread ------------------------

export const MUL = `function mul(a, aOff, b, bOff) {
  const i = this.thread.x;
  return a[aOff + i] * b[bOff + i];
}`;

export const ADD = `function add(a, aOff, b, bOff) {
  const i = this.thread.x;
  return a[aOff + i] + b[bOff + i];
}`;

/** out = cand + mask ⊙ (prev − cand). */
export const ZONEOUT_FORWARD = `function zoneoutForward(prev, prevOff, cand, candOff, mask, maskOff) {
  const i = this.thread.x;
  const c = cand[candOff + i];
  return c + mask[maskOff + i] * (prev[prevOff + i] - c);
}`;

/** dCand = (1 − mask) ⊙ dOut (dPrev = mask ⊙ dOut is MUL). */
export const ZONEOUT_BACKWARD_CAND = `function zoneoutBackwardCand(dOut, dOutOff, mask, maskOff) {
  const i = this.thread.x;
  return (1 - mask[maskOff + i]) * dOut[dOutOff + i];
}`;
