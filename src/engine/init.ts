// Weight initialisers: Glorot-uniform, orthogonal, and the identity (IRNN).

import { Rng } from './rng';

/**
 * Glorot & Bengio (2010) uniform: U(-a, a), a = sqrt(6 / (fanIn + fanOut)).
 * out: [fanOut, fanIn], row-major (PyTorch's weight layout).
 */
export function glorotUniform(rng: Rng, fanOut: number, fanIn: number): Float64Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float64Array(fanOut * fanIn);
  for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
  return out;
}

/**
 * A random n×n orthogonal matrix (Saxe et al. 2014): modified Gram–Schmidt on the rows of a
 * standard normal matrix. Rows come out orthonormal, so Q·Qᵀ = I.
 */
export function orthogonal(rng: Rng, n: number): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  for (let r = 0; r < n; r++) {
    const row = r * n;
    for (let p = 0; p < r; p++) {
      const prev = p * n;
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[row + k] * q[prev + k];
      for (let k = 0; k < n; k++) q[row + k] -= dot * q[prev + k];
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[row + k] * q[row + k];
    norm = Math.sqrt(norm);
    for (let k = 0; k < n; k++) q[row + k] /= norm;
  }
  return q;
}

export function normal(rng: Rng, n: number, std: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

/** The n×n identity, row-major: IRNN's recurrent weights (Le, Jaitly & Hinton 2015). */
export function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}
