// One Adam step (torch.optim.AdamW; torch.optim.Adam when decay is 1) on float32 parameters.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html, with g = grad · scale:
//   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p = p · decay - lr · (m / bc1) / (sqrt(v / bc2) + ε)
// bc1 = 1-β1ᵗ, bc2 = 1-β2ᵗ and decay = 1 - lr·λ are computed by the caller in float64, as is the
// clip scale.

export function adamStep(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, scale: f32, decay: f32,
): void {
  const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2);
  const c1 = f32x4.splat(1 - beta1), c2 = f32x4.splat(1 - beta2);
  const lr4 = f32x4.splat(lr), eps4 = f32x4.splat(eps), bc14 = f32x4.splat(bc1), bc24 = f32x4.splat(bc2);
  const s4 = f32x4.splat(scale), d4 = f32x4.splat(decay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const gv = f32x4.mul(v128.load(g + o), s4);
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gv));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gv, gv)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const denom = f32x4.add(f32x4.sqrt(f32x4.div(vv, bc24)), eps4);
    v128.store(p + o, f32x4.sub(f32x4.mul(v128.load(p + o), d4), f32x4.div(f32x4.mul(lr4, f32x4.div(mv, bc14)), denom)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o) * scale;
    const mv = beta1 * load<f32>(m + o) + (1 - beta1) * gv;
    const vv = beta2 * load<f32>(v + o) + (1 - beta2) * gv * gv;
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    store<f32>(p + o, load<f32>(p + o) * decay - lr * (mv / bc1) / (Mathf.sqrt(vv / bc2) + eps));
  }
}
