// Softmax cross-entropy over rows of logits, with its gradient.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.

import { exp4 } from './simdmath';

/**
 * loss[0] = Σ_n -log softmax(logits[n])[targets[n]] (summed in float64);
 * dLogits (0 = none) = (softmax - onehot) · gradScale. logits, dLogits: [N, V]; targets: N i32.
 * Returns -1, or the row of the first target outside [0, V) (loss is then not written).
 */
export function softmaxCrossEntropy(
  logits: usize, targets: usize, N: i32, V: i32, loss: usize, dLogits: usize, gradScale: f32,
): i32 {
  let total: f64 = 0;
  const rowBytes = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const row = logits + <usize>n * rowBytes;
    const target = load<i32>(targets + (<usize>n << 2));
    if (<u32>target >= <u32>V) return n;
    // Subtracting the row max keeps every exp ≤ 1.
    let mx = f32x4.splat(-Infinity);
    let v = 0;
    for (; v + 4 <= V; v += 4) mx = f32x4.max(mx, v128.load(row + (<usize>v << 2)));
    let rowMax = max(max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)),
      max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
    for (; v < V; v++) rowMax = max(rowMax, load<f32>(row + (<usize>v << 2)));
    const m4 = f32x4.splat(rowMax);
    // Σ exp(x - max); the exps are parked in dLogits for the gradient pass.
    const drow = dLogits + <usize>n * rowBytes;
    let s4 = f32x4.splat(0);
    v = 0;
    for (; v + 4 <= V; v += 4) {
      const e = exp4(f32x4.sub(v128.load(row + (<usize>v << 2)), m4));
      s4 = f32x4.add(s4, e);
      if (dLogits) v128.store(drow + (<usize>v << 2), e);
    }
    let sum = <f64>f32x4.extract_lane(s4, 0) + <f64>f32x4.extract_lane(s4, 1) +
      <f64>f32x4.extract_lane(s4, 2) + <f64>f32x4.extract_lane(s4, 3);
    for (; v < V; v++) {
      const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(row + (<usize>v << 2)) - rowMax)), 0);
      sum += <f64>e;
      if (dLogits) store<f32>(drow + (<usize>v << 2), e);
    }
    total += Math.log(sum) - <f64>(load<f32>(row + (<usize>target << 2)) - rowMax);
    if (dLogits) {
      const scale = <f32>(1 / sum);
      const t = drow + (<usize>target << 2);
      const eTarget = load<f32>(t);
      const k4 = f32x4.splat(scale * gradScale);
      v = 0;
      for (; v + 4 <= V; v += 4) {
        const o = drow + (<usize>v << 2);
        v128.store(o, f32x4.mul(v128.load(o), k4));
      }
      for (; v < V; v++) {
        const o = drow + (<usize>v << 2);
        store<f32>(o, load<f32>(o) * scale * gradScale);
      }
      store<f32>(t, (eTarget * scale - 1) * gradScale);
    }
  }
  store<f32>(loss, <f32>total);
  return -1;
}
