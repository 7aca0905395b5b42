// The seam between the engine and its kernels: tensors are handles owned by a backend.
//
// The engine never indexes raw memory. A backend allocates tensors, runs kernels on them and
// hands data back only through the async `download` (so a GPU that reads back asynchronously
// fits). Every tensor is a row-major 2-D matrix [rows, cols]; a vector is [1, n].
//
// Letters used in shapes across the engine: B batch, T steps, E embedding, H hidden, V vocab.

/** A matrix owned by a backend. Only the backend that made it may read or write its memory. */
export interface Tensor {
  readonly rows: number;
  readonly cols: number;
  /** rows * cols */
  readonly size: number;
  /** Backend-private identity; never interpreted by the engine. */
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

/** Hyper-parameters of one Adam step (PyTorch's torch.optim.Adam, no weight decay). */
export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count, for bias correction. */
  step: number;
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
  dispose(t: Tensor | IndexTensor): void;
  /** Frees everything (worker threads, GPU contexts). The backend is unusable afterwards. */
  destroy(): void;

  // ---- dense ----------------------------------------------------------------------------
  /**
   * out[M, N] (+)= op(a) · op(b), op(x) = x or xᵀ per opts.
   * a: [M, K] (or [K, M] with transposeA), b: [K, N] (or [N, K] with transposeB).
   */
  matmul(a: Tensor, b: Tensor, out: Tensor, opts?: MatmulOptions): void;
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

  // ---- LSTM cell (gate order i, f, g, o, as PyTorch) -------------------------------------
  /**
   * gates: [B, 4H] pre-activations in, overwritten by activations (σ(i), σ(f), tanh(g), σ(o)).
   * c = f⊙cPrev + i⊙g; h = o⊙tanh(c). cPrev, c, h: [B, H].
   */
  lstmCellForward(gates: Tensor, cPrev: Tensor, c: Tensor, h: Tensor): void;
  /**
   * Backward of lstmCellForward for one step.
   * gates: activations from forward; dh: [B, H] from above; dhRec: [B, H] from the next step
   * (added to dh); dc: [B, H] in: gradient from the next step, out: gradient w.r.t. cPrev.
   * dGates: [B, 4H] out: gradient w.r.t. the pre-activations.
   */
  lstmCellBackward(
    gates: Tensor, cPrev: Tensor, c: Tensor,
    dh: Tensor, dhRec: Tensor, dc: Tensor, dGates: Tensor,
  ): void;

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
   * m, v: first and second moments, same shape as param.
   */
  adamStep(
    param: Tensor, grad: Tensor, m: Tensor, v: Tensor,
    hyper: AdamParams, normSq: Tensor | null, clipNorm: number,
  ): void;
}

/** Global-norm clip factor, shared by every backend so they agree bit for bit on the rule. */
export function clipScale(normSq: number, clipNorm: number): number {
  if (!(clipNorm > 0)) return 1;
  const norm = Math.sqrt(normSq);
  // PyTorch clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.
  const coef = clipNorm / (norm + 1e-6);
  return coef < 1 ? coef : 1;
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
 * The shapes of an LSTM cell call, checked once for every backend: c is [B, H]; each gate
 * tensor (gates, dGates) is [B, 4H]; each state tensor (cPrev, h, dh, …) is [B, H].
 */
export function lstmCellDims(kernel: string, c: Tensor, gateTensors: Tensor[], states: Tensor[]): { B: number; H: number } {
  const B = c.rows, H = c.cols;
  for (const g of gateTensors) {
    if (g.rows !== B || g.cols !== 4 * H) {
      throw new Error(`${kernel}: gates [${g.rows}, ${g.cols}] for state [${B}, ${H}]; want [${B}, ${4 * H}]`);
    }
  }
  for (const s of states) {
    if (s.rows !== B || s.cols !== H) throw new Error(`${kernel}: state [${s.rows}, ${s.cols}]; want [${B}, ${H}]`);
  }
  return { B, H };
}
