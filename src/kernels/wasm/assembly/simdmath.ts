// exp, σ and tanh on four float32 lanes at once, for the LSTM cell and the softmax.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// exp is Cephes' expf (range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial in r, then
// scaling by 2ⁿ built in the exponent bits): within 2 ulp on float32. The input is clamped to
// [-87, 88] so 2ⁿ stays a normal float; outside that range exp is 0 or ∞ to float32 anyway and
// σ and tanh saturate to the same values the reference stores.

@inline export function exp4(x0: v128): v128 {
  // pmin/pmax are one minps/maxps each; V8 lowers f32x4.min/max to ~8 instructions for their
  // NaN and ±0 rules. A NaN x0 stays NaN either way (pmax(a, b) = a < b ? b : a).
  const x1 = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.0)), f32x4.splat(88.0));
  // n = round(x / ln2), by the magic-number trick: adding 1.5·2²³ leaves n in the low
  // mantissa bits of t (|n| ≤ 127 ≪ 2²²), so 2ⁿ needs an integer add and a shift, not V8's
  // long i32x4.trunc_sat sequence.
  const magic = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(x1, f32x4.splat(1.44269504088896341)), magic);
  const n = f32x4.sub(t, magic);
  // r = x - n·ln2, with ln2 split in two so the product is exact.
  let r = f32x4.sub(x1, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4B400000)), 23);
  return f32x4.mul(p, pow2n);
}

/** σ(x) = 1 / (1 + e^-x). */
@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh(x) = 1 - 2 / (e^2x + 1); saturates to ±1 where e^2x is 0 or ∞. */
@inline export function tanh4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const e2x = exp4(f32x4.add(x, x));
  return f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e2x, one)));
}
