// Adam (AdamW with --weight-decay) with gradient clipping by value and by global norm, run by the
// backend on its own tensors.

import { DEFAULTS } from '../config';
import { Backend, Tensor } from '../kernels/backend';
import { Param } from './model';

export interface ClipConfig {
  /** Global-norm threshold (torch.nn.utils.clip_grad_norm_); 0 is off. */
  clipNorm: number;
  /** Elementwise threshold (clip_grad_value_), applied before the norm; 0 is off. */
  clipValue: number;
}

/**
 * Which parameters weight decay shrinks: the matrices (embedding, input and recurrent weights,
 * decoder), not the biases or the peephole vectors — nanoGPT's rule (decay what is 2-D).
 */
export function decays(p: Param): boolean {
  return p.shape.length >= 2;
}

/** Adam's hyperparameters besides the learning rate; what is left out takes DEFAULTS' value. */
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay λ (torch.optim.AdamW) of the matrices; 0 is plain Adam. */
  weightDecay?: number;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay λ (torch.optim.AdamW) of the matrices; 0 is plain Adam. */
  readonly weightDecay: number;
  /** First and second moments, one pair per parameter, same shapes. */
  readonly moments: Array<{ m: Tensor; v: Tensor }>;
  /** Steps taken; Adam's bias correction needs it, and resume restores it. */
  step = 0;
  /** ‖g‖² over every parameter, [1, 1], left on the backend. */
  readonly normSq: Tensor;

  constructor(
    readonly backend: Backend,
    readonly params: readonly Param[],
    public learningRate: number,
    options: AdamOptions = {},
  ) {
    this.beta1 = options.beta1 ?? DEFAULTS.beta1;
    this.beta2 = options.beta2 ?? DEFAULTS.beta2;
    this.eps = options.eps ?? DEFAULTS.eps;
    this.weightDecay = options.weightDecay ?? DEFAULTS.weightDecay;
    this.moments = params.map((p) => ({ m: backend.alloc(p.value.rows, p.value.cols), v: backend.alloc(p.value.rows, p.value.cols) }));
    this.normSq = backend.alloc(1, 1);
  }

  /**
   * Clips the gradients as configured and takes one step. The squared global norm before
   * norm clipping stays in this.normSq (after value clipping), for logging.
   */
  update(clip: ClipConfig): void {
    const be = this.backend;
    if (clip.clipValue > 0) for (const p of this.params) be.clampInPlace(p.grad, clip.clipValue);
    this.params.forEach((p, i) => be.sumSquares(p.grad, this.normSq, i > 0));
    this.step += 1;
    const hyper = { lr: this.learningRate, beta1: this.beta1, beta2: this.beta2, eps: this.eps, step: this.step, weightDecay: 0 };
    const decayed = { ...hyper, weightDecay: this.weightDecay };
    this.params.forEach((p, i) => {
      const h = decays(p) ? decayed : hyper;
      be.adamStep(p.value, p.grad, this.moments[i].m, this.moments[i].v, h, this.normSq, clip.clipNorm);
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments) {
      this.backend.dispose(m);
      this.backend.dispose(v);
    }
    this.backend.dispose(this.normSq);
  }
}
