// The seam between the engine and its kernels: tensors are handles owned by a backend.
//
// The engine never indexes raw memory. A backend allocates tensors, runs kernels on them and
// hands data back only through the async `download` (so a GPU that reads back asynchronously
// fits). Every tensor is a row-major 2-D matrix [rows, cols]; a vector is [1, n].
//
// Letters used in shapes across the engine: B batch, T steps, E embedding, H hidden, V vocab.

import { CELL_SPECS, CellName, cellSpec } from '../cells';

export type { CellName } from '../cells';

/** The backends `--backend` names; 'auto' takes the fastest that works here (src/kernels/index.ts). */
export type BackendName = 'auto' | 'reference' | 'wasm' | 'gpujs';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'reference', 'wasm', 'gpujs'];

/** A matrix owned by a backend. Only the backend that made it may read or write its memory. */
export interface Tensor {
  readonly rows: number;
  readonly cols: number;
  /** rows * cols */
  readonly size: number;
  /** Backend-private identity; never interpreted by the engine. */
  readonly id: number;
}

/**
 * A weight matrix [N, K] held as int8 with one float32 scale per row (quantizeRows), owned by a
 * backend: what quantised sampling multiplies by. Only matmulQuant reads it.
 */
export interface QuantTensor {
  readonly rows: number;
  readonly cols: number;
  readonly id: number;
}

/** Token ids (vocabulary indices) for one window, owned by a backend. */
export interface IndexTensor {
  readonly length: number;
  readonly id: number;
}

export type FloatArray = Float32Array | Float64Array;

export interface MatmulOptions {
  /** Use Aᵀ: a is stored [K, M]. */
  transposeA?: boolean;
  /** Use Bᵀ: b is stored [N, K]. */
  transposeB?: boolean;
  /** out += A·B instead of out = A·B. */
  accumulate?: boolean;
}

/**
 * Hyper-parameters of one Adam step: PyTorch's torch.optim.AdamW, which is torch.optim.Adam when
 * weightDecay is 0.
 */
export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** Decoupled weight decay λ: the param is first scaled by 1 − lr·λ (0: plain Adam). */
  weightDecay: number;
}

/**
 * One time step of a cell, forward. Shapes: B rows, H hidden, G gate blocks (4 LSTMs, 3 GRU, 1 RNN).
 * - gates [B, G·H]: pre-activations in (input projection + biases, plus the recurrent projection
 *   for every cell but the GRU); overwritten with what backward needs (the gate activations).
 * - rec [B, 3H], GRU only: W_hh·h_{t-1} + b_hh, kept apart because n = tanh(x_n + r ⊙ rec_n).
 * - hPrev, h [B, H]; cPrev, c [B, H] for the LSTMs; peep [1, 3H] (w_ci, w_cf, w_co) for the peephole.
 */
export interface CellStep {
  gates: Tensor;
  hPrev: Tensor;
  h: Tensor;
  cPrev?: Tensor;
  c?: Tensor;
  rec?: Tensor;
  peep?: Tensor;
}

/**
 * One time step of a cell, backward (the tensors of CellStep after its forward, plus):
 * - dh [B, H]: dL/dh_t from above; dhRec [B, H]: dL/dh_t from step t+1, added to dh. On return the
 *   GRU leaves in dhRec the part of dL/dh_{t-1} that bypasses W_hh (z ⊙ dh); other cells leave it.
 * - dc [B, H] (LSTMs): in dL/dc_t from step t+1, out dL/dc_{t-1} through the cell.
 * - dGates [B, G·H] out: dL/d(input pre-activations); dRec [B, 3H] out (GRU): dL/d rec.
 * - dPeep [B, 3H] out (peephole): per-row terms whose column sums are the peephole gradients.
 */
export interface CellStepGrad extends CellStep {
  dh: Tensor;
  dhRec: Tensor;
  dGates: Tensor;
  dc?: Tensor;
  dRec?: Tensor;
  dPeep?: Tensor;
}

/** A backend's fused kernels for one cell (src/kernels/<backend>/cells/<cell>). */
export interface CellKernels {
  forward(step: CellStep): void;
  backward(step: CellStepGrad): void;
}

/**
 * A backend's kernels, one entry per cell of src/cells.ts: what each backend's cells/index.ts
 * exports. The type makes a cell without kernels a compile error; cellKernelsOf makes it a clear
 * one at run time too (test/cells.test.ts checks every backend's registry against the spec).
 */
export type CellRegistry<K> = Readonly<Record<CellName, K>>;

/** A registry's entry for a cell, or cellMissing's error naming the backend. */
export function cellKernelsOf<K>(backend: string, registry: CellRegistry<K>, cell: CellName): K {
  const entry = Object.prototype.hasOwnProperty.call(registry, cell) ? registry[cell] : undefined;
  if (!entry) throw cellMissing(backend, cell);
  return entry;
}

export interface Backend {
  /** 'reference', 'wasm', 'gpujs', … */
  readonly name: string;
  /** Human-readable detail for stderr, e.g. 'gpu.js cpu mode' or 'wasm simd, 2 threads'. */
  readonly description: string;

  // ---- memory ---------------------------------------------------------------------------
  /** A new [rows, cols] tensor filled with zeros. */
  alloc(rows: number, cols: number): Tensor;
  /** A view of rows [start, start+count) of t; shares t's memory, never disposed on its own. */
  rowsOf(t: Tensor, start: number, count: number): Tensor;
  upload(t: Tensor, data: ArrayLike<number>): void;
  /** The only way data leaves a backend. Float64Array on a float64 reference backend. */
  download(t: Tensor): Promise<FloatArray>;
  allocIndices(length: number): IndexTensor;
  uploadIndices(t: IndexTensor, data: Int32Array): void;
  dispose(t: Tensor | IndexTensor | QuantTensor): void;
  /** Frees everything (worker threads, GPU contexts). The backend is unusable afterwards. */
  destroy(): void;

  // ---- dense ----------------------------------------------------------------------------
  /**
   * out[M, N] (+)= op(a) · op(b), op(x) = x or xᵀ per opts.
   * a: [M, K] (or [K, M] with transposeA), b: [K, N] (or [N, K] with transposeB).
   */
  matmul(a: Tensor, b: Tensor, out: Tensor, opts?: MatmulOptions): void;
  /**
   * weight [N, K] as int8 with per-row scales (quantizeRows): a snapshot, later writes to
   * weight are not seen. Async because a GPU backend reads the weights back to quantise them.
   */
  quantize(weight: Tensor): Promise<QuantTensor>;
  /**
   * out[M, N] (+)= a[M, K] · Wᵀ, W[n, k] = scale[n] · q[n, k] the dequantised weight of q [N, K].
   * A backend may round each row of a to 16 bits (scale max|a[m, :]| / 32767) to multiply in
   * integers: an error of at most K · max|a[m, :]| · max|W| / 65534 per element beside the exact W.
   */
  matmulQuant(a: Tensor, q: QuantTensor, out: Tensor, opts?: { accumulate?: boolean }): void;
  /** out[r, :] += bias[0, :] for every row r. bias: [1, cols]. */
  addRowVector(out: Tensor, bias: Tensor): void;
  /** out[0, :] (+)= Σ_r a[r, :]. out: [1, cols]. */
  sumRows(a: Tensor, out: Tensor, accumulate: boolean): void;
  fill(t: Tensor, value: number): void;
  copy(src: Tensor, dst: Tensor): void;

  // ---- embedding ------------------------------------------------------------------------
  /** out[n, :] = weight[tokens[n], :]. weight: [V, E], out: [N, E]. */
  embeddingForward(weight: Tensor, tokens: IndexTensor, out: Tensor): void;
  /** dWeight[tokens[n], :] += dOut[n, :]. */
  embeddingBackward(dOut: Tensor, tokens: IndexTensor, dWeight: Tensor): void;

  // ---- recurrent cells ----------------------------------------------------------------
  /** The fused kernels of a cell; throws, naming the backend, where a cell is not built yet. */
  cell(name: CellName): CellKernels;

  // ---- elementwise (dropout, zoneout) --------------------------------------------------
  // Same shapes throughout; out may be one of the inputs.
  /** out = a ⊙ b. */
  mul(a: Tensor, b: Tensor, out: Tensor): void;
  /** out = a + b. */
  add(a: Tensor, b: Tensor, out: Tensor): void;
  /** Zoneout (Krueger et al. 2016): out = cand + mask ⊙ (prev − cand); mask 0/1 in training, p at evaluation. */
  zoneoutForward(prev: Tensor, cand: Tensor, mask: Tensor, out: Tensor): void;
  /** Its backward: dCand = (1 − mask) ⊙ dOut, dPrev = mask ⊙ dOut. dCand and dPrev are distinct from dOut. */
  zoneoutBackward(dOut: Tensor, mask: Tensor, dCand: Tensor, dPrev: Tensor): void;

  // ---- loss -----------------------------------------------------------------------------
  /**
   * Softmax cross-entropy over rows. logits: [N, V], targets: N ids.
   * loss[0, 0] = Σ_n -log softmax(logits[n])[targets[n]]  (a sum, not a mean);
   * dLogits (may be null for evaluation) = (softmax - onehot) * gradScale.
   */
  softmaxCrossEntropy(
    logits: Tensor, targets: IndexTensor, loss: Tensor,
    dLogits: Tensor | null, gradScale: number,
  ): void;

  // ---- optimisation ---------------------------------------------------------------------
  /** t = clamp(t, -limit, limit), elementwise. */
  clampInPlace(t: Tensor, limit: number): void;
  /** out[0, 0] (+)= Σ t². */
  sumSquares(t: Tensor, out: Tensor, accumulate: boolean): void;
  /**
   * One Adam step on param with grad * scale, where scale = min(1, clipNorm / ‖g‖) and
   * ‖g‖² = normSq[0, 0] (global-norm clipping); normSq null or clipNorm ≤ 0 means scale 1.
   * m, v: first and second moments, same shape as param. With hyper.weightDecay λ > 0 the param
   * is scaled by 1 − lr·λ before the update, as torch.optim.AdamW does.
   */
  adamStep(
    param: Tensor, grad: Tensor, m: Tensor, v: Tensor,
    hyper: AdamParams, normSq: Tensor | null, clipNorm: number,
  ): void;
}

/**
 * The per-step scalars of an Adam step, computed once in float64 on the host by every backend:
 * the bias corrections bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ, and AdamW's decay = 1 − lr·λ (1 with no decay).
 */
export function adamScalars(hyper: AdamParams): { bc1: number; bc2: number; decay: number } {
  return {
    bc1: 1 - Math.pow(hyper.beta1, hyper.step),
    bc2: 1 - Math.pow(hyper.beta2, hyper.step),
    decay: 1 - hyper.lr * hyper.weightDecay,
  };
}

/** Global-norm clip factor, shared by every backend so they agree bit for bit on the rule. */
export function clipScale(normSq: number, clipNorm: number): number {
  if (!(clipNorm > 0)) return 1;
  const norm = Math.sqrt(normSq);
  // PyTorch clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.
  const coef = clipNorm / (norm + 1e-6);
  return coef < 1 ? coef : 1;
}

/** int8 weights of a [rows, cols] matrix: values row-major, one scale per row. */
export interface QuantizedRows {
  values: Int8Array;   // [rows, cols]
  scales: Float32Array; // [rows]
}

/**
 * Symmetric per-row int8 (the LLM.int8 / ggml Q8 "absmax" rule): scale_n = max_k |w[n, k]| / 127
 * and q[n, k] = w[n, k] / scale_n, both in float32, the quotient rounded half to even (wasm's
 * f32x4.nearest) into [-127, 127]; a zero row gets scale 0. Every backend quantises by this rule
 * (the wasm kernel quantizeQ8 in SIMD, bit for bit), so their int8 weights agree exactly.
 */
export function quantizeRows(data: ArrayLike<number>, rows: number, cols: number): QuantizedRows {
  const values = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let n = 0; n < rows; n++) {
    const start = n * cols, end = start + cols;
    let max = 0, finite = true;
    for (let i = start; i < end; i++) {
      const v = data[i];
      const a = v < 0 ? -v : v;
      if (a > max) max = a;
      else if (!(a <= max)) finite = false; // NaN
    }
    if (!finite || max === Infinity) throw new Error(`quantize: row ${n} holds a value that is not finite`);
    // fround of a float64 quotient of float32 values is the correctly rounded float32 quotient.
    const scale = Math.fround(max / 127);
    scales[n] = scale;
    if (scale === 0) continue;
    for (let i = start; i < end; i++) {
      const x = Math.fround(data[i] / scale);
      let r = Math.round(x); // half up; a half that went up to an odd number goes back down
      if (r - x === 0.5 && r % 2 !== 0) r -= 1;
      values[i] = r > 127 ? 127 : r < -127 ? -127 : r;
    }
  }
  return { values, scales };
}

/** The shapes of out = a · dequant(q)ᵀ: a [M, K], q [N, K], out [M, N]. */
export function matmulQuantDims(a: Tensor, q: QuantTensor, out: Tensor): { M: number; K: number; N: number } {
  if (a.cols !== q.cols || out.rows !== a.rows || out.cols !== q.rows) {
    throw new Error(`matmulQuant: shapes [${a.rows},${a.cols}] · int8 [${q.rows},${q.cols}]ᵀ → [${out.rows},${out.cols}] do not agree`);
  }
  return { M: a.rows, K: a.cols, N: q.rows };
}

/**
 * The dimensions of out = op(a)·op(b), checked once for every backend:
 * M×K times K×N into M×N, where op(x) is x or xᵀ as opts say.
 */
export function matmulDims(a: Tensor, b: Tensor, out: Tensor, opts: MatmulOptions): { M: number; K: number; N: number } {
  const M = opts.transposeA ? a.cols : a.rows;
  const K = opts.transposeA ? a.rows : a.cols;
  const Kb = opts.transposeB ? b.cols : b.rows;
  const N = opts.transposeB ? b.rows : b.cols;
  if (K !== Kb || out.rows !== M || out.cols !== N) {
    throw new Error(`matmul: shapes [${a.rows},${a.cols}]${opts.transposeA ? 'ᵀ' : ''} · ` +
      `[${b.rows},${b.cols}]${opts.transposeB ? 'ᵀ' : ''} → [${out.rows},${out.cols}] do not agree`);
  }
  return { M, K, N };
}

/**
 * The shapes of softmaxCrossEntropy, checked once for every backend: logits [N, V], N targets,
 * loss [1, 1], dLogits (when given) [N, V].
 */
export function softmaxCrossEntropyDims(
  logits: Tensor, targets: IndexTensor, loss: Tensor, dLogits: Tensor | null,
): { N: number; V: number } {
  const N = logits.rows, V = logits.cols;
  if (targets.length !== N || loss.size !== 1 || (dLogits && (dLogits.rows !== N || dLogits.cols !== V))) {
    throw new Error(`softmaxCrossEntropy: logits [${N}, ${V}], ${targets.length} targets, loss of ${loss.size}` +
      (dLogits ? `, dLogits [${dLogits.rows}, ${dLogits.cols}]` : '') + `; want ${N} targets, loss [1, 1], dLogits [${N}, ${V}]`);
  }
  return { N, V };
}

/** Checks that every tensor of an elementwise kernel has the same shape. */
export function sameShape(kernel: string, ...tensors: Tensor[]): number {
  const [first] = tensors;
  for (const t of tensors) {
    if (t.rows !== first.rows || t.cols !== first.cols) {
      throw new Error(`${kernel}: shapes [${first.rows}, ${first.cols}] and [${t.rows}, ${t.cols}] differ`);
    }
  }
  return first.size;
}

/** Gate blocks of H in a cell's projections: src/cells.ts's `gates`, by name. */
export const CELL_GATES: Readonly<Record<CellName, number>> = Object.fromEntries(
  Object.values(CELL_SPECS).map((spec) => [spec.name, spec.gates]),
) as Record<CellName, number>;

/**
 * The shapes of a cell step, checked once for every backend from the cell's spec: gates (and
 * dGates) [B, G·H], rec and dRec [B, G·H] where the recurrent projection is kept apart, states
 * [B, H], peep [1, 3H], dPeep [B, 3H]; the tensors a cell needs are present.
 */
export function cellDims(cell: CellName, step: CellStep | CellStepGrad): { B: number; H: number } {
  const { B, H } = { B: step.h.rows, H: step.h.cols };
  const spec = cellSpec(cell);
  const G = spec.gates;
  const need = (t: Tensor | undefined, what: string): Tensor => {
    if (!t) throw new Error(`${cell} cell: ${what} is missing`);
    return t;
  };
  const check = (t: Tensor | undefined, rows: number, cols: number, what: string): void => {
    const x = need(t, what);
    if (x.rows !== rows || x.cols !== cols) throw new Error(`${cell} cell: ${what} [${x.rows}, ${x.cols}]; want [${rows}, ${cols}]`);
  };
  const grad = 'dGates' in step;
  check(step.gates, B, G * H, 'gates');
  check(step.hPrev, B, H, 'hPrev');
  if (spec.carriesCell) {
    check(step.cPrev, B, H, 'cPrev');
    check(step.c, B, H, 'c');
  }
  if (spec.peepholes) check(step.peep, 1, 3 * H, 'peep');
  if (spec.separateRecurrent) check(step.rec, B, G * H, 'rec');
  if (grad) {
    const g = step as CellStepGrad;
    check(g.dh, B, H, 'dh');
    check(g.dhRec, B, H, 'dhRec');
    check(g.dGates, B, G * H, 'dGates');
    if (spec.carriesCell) check(g.dc, B, H, 'dc');
    if (spec.separateRecurrent) check(g.dRec, B, G * H, 'dRec');
    if (spec.peepholes) check(g.dPeep, B, 3 * H, 'dPeep');
  }
  return { B, H };
}

/** The error a backend throws for a cell it has no kernels for yet. */
export function cellMissing(backend: string, cell: CellName): Error {
  return new Error(`the ${cell} cell is not available on the ${backend} backend yet; use --backend reference or --cell lstm`);
}
