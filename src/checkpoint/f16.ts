// IEEE 754 half precision (safetensors dtype "F16") to and from float32, bit for bit.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The F16 bits of x, rounded to nearest, ties to even (as numpy's astype(float16) and torch.half). */
export function f16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1, rounding to even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let out = mant >>> shift;
    if (rest > half || (rest === half && (out & 1))) out += 1;
    return sign | out;
  }
  const rest = mant & 0x1fff;
  let out = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1))) out += 1; // a carry into the exponent is right
  return sign | out;
}

/** The float value of F16 bits h (exact: every half is a float32). */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let halves: Float32Array | null = null;

/**
 * Little-endian F16 bytes widened into `out` (exact). Through a table of all 65,536 halves, built
 * once: decoding each value with f16Value took 350 ms for the 3.3M weights of the first bundled
 * model (a 2x512 LSTM) at start-up (most of `rnn sample`'s time to first character), a lookup
 * takes a few.
 */
export function widenF16(bytes: Uint8Array, out: Float32Array): void {
  if (bytes.length < 2 * out.length) throw new Error(`widenF16: ${bytes.length} bytes for ${out.length} values`);
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = f16Value(h);
  }
  const table = halves;
  for (let i = 0; i < out.length; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
}

/** values rounded to the nearest F16, as float32 (what an F16 checkpoint gives back). */
export function roundToF16(values: Float32Array): Float32Array {
  return values.map((v) => f16Value(f16Bits(v)));
}
