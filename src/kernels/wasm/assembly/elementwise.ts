// Elementwise kernels of dropout and zoneout: products, sums, and zoneout's blend and its backward.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// Pointers are byte offsets; n counts floats. Four lanes at a time, then the remainder. An output
// may be one of the inputs: every element is read before it is written.

/** out = a ⊙ b. */
export function mul(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** out = a + b. */
export function add(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = cand + mask ⊙ (prev − cand). */
export function zoneoutForward(prev: usize, cand: usize, mask: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const c = v128.load(cand + o);
    v128.store(out + o, f32x4.add(c, f32x4.mul(v128.load(mask + o), f32x4.sub(v128.load(prev + o), c))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const c = load<f32>(cand + o);
    store<f32>(out + o, c + load<f32>(mask + o) * (load<f32>(prev + o) - c));
  }
}

/** dCand = (1 − mask) ⊙ dOut; dPrev = mask ⊙ dOut. */
export function zoneoutBackward(dOut: usize, mask: usize, dCand: usize, dPrev: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const d = v128.load(dOut + o), m = v128.load(mask + o);
    v128.store(dCand + o, f32x4.mul(f32x4.sub(one, m), d));
    v128.store(dPrev + o, f32x4.mul(m, d));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(dOut + o), m = load<f32>(mask + o);
    store<f32>(dCand + o, (1 - m) * d);
    store<f32>(dPrev + o, m * d);
  }
}
