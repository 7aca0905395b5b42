// Elementwise and row kernels: fill, copy, bias add, column sums, clamp, Σx², embeddings.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// Pointers are byte offsets into the shared memory; n, rows and cols count floats. Each loop
// runs four lanes at a time and finishes the remainder one float at a time.

/** p[0:n] = value. */
export function fill(p: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(p + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(p + (<usize>i << 2), value);
}

/** dst[0:n] = src[0:n]. */
export function copy(src: usize, dst: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

// dst[0:n] += src[0:n].
@inline function addInto(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** out[r, :] += bias[0, :]. out: [rows, cols], bias: [1, cols]. */
export function addRowVector(out: usize, bias: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) addInto(out + (<usize>r * cols << 2), bias, cols);
}

/** out[0, :] (+)= Σ_r a[r, :]. a: [rows, cols], out: [1, cols]. */
export function sumRows(a: usize, out: usize, rows: i32, cols: i32, accumulate: i32): void {
  if (!accumulate) memory.fill(out, 0, <usize>cols << 2);
  for (let r = 0; r < rows; r++) addInto(out, a + (<usize>r * cols << 2), cols);
}

/** p = clamp(p, -limit, limit). */
export function clampInPlace(p: usize, n: i32, limit: f32): void {
  const hi = f32x4.splat(limit), lo = f32x4.splat(-limit);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = p + (<usize>i << 2);
    v128.store(o, f32x4.min(hi, f32x4.max(lo, v128.load(o))));
  }
  for (; i < n; i++) {
    const o = p + (<usize>i << 2);
    store<f32>(o, min(limit, max(-limit, load<f32>(o))));
  }
}

/** out[0] (+)= Σ p[i]², summed in float64: the global norm spans millions of values. */
export function sumSquares(p: usize, n: i32, out: usize, accumulate: i32): void {
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    const vlo = f64x2.promote_low_f32x4(v);
    const vhi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    lo = f64x2.add(lo, f64x2.mul(vlo, vlo));
    hi = f64x2.add(hi, f64x2.mul(vhi, vhi));
  }
  const s = f64x2.add(lo, hi);
  let sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const x = <f64>load<f32>(p + (<usize>i << 2));
    sum += x * x;
  }
  store<f32>(out, <f32>(accumulate ? <f64>load<f32>(out) + sum : sum));
}

/**
 * out[n, :] = weight[tokens[n], :]. weight: [V, E], tokens: [count] i32, out: [count, E].
 * Returns -1, or the position of the first id outside [0, V) (nothing past it is written).
 */
export function embeddingForward(weight: usize, V: i32, E: i32, tokens: usize, count: i32, out: usize): i32 {
  const rowBytes = <usize>E << 2;
  for (let n = 0; n < count; n++) {
    const id = load<i32>(tokens + (<usize>n << 2));
    if (<u32>id >= <u32>V) return n;
    memory.copy(out + <usize>n * rowBytes, weight + <usize>id * rowBytes, rowBytes);
  }
  return -1;
}

/** dWeight[tokens[n], :] += dOut[n, :]. Returns -1, or the position of the first bad id. */
export function embeddingBackward(dOut: usize, tokens: usize, count: i32, dWeight: usize, V: i32, E: i32): i32 {
  const rowBytes = <usize>E << 2;
  for (let n = 0; n < count; n++) {
    const id = load<i32>(tokens + (<usize>n << 2));
    if (<u32>id >= <u32>V) return n;
    addInto(dWeight + <usize>id * rowBytes, dOut + <usize>n * rowBytes, E);
  }
  return -1;
}
