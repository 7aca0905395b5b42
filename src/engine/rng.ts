// A small seeded PRNG (xoshiro128**), whose whole state fits in a checkpoint's metadata.
//
// Math.random cannot be seeded, and training must be reproducible on a given backend and
// resumable step for step, so every random draw in the engine goes through one of these.

export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    // splitmix32 spreads any seed (even 0) over the 128-bit state.
    this.s = new Uint32Array(4);
    let x = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * out[i] = uniform() < p ? hit : miss for every i, drawing exactly what that loop would (so
   * masks keep their bits), with the state in locals: twice the loop's speed, which mattered
   * at a dropout mask of 1M units per layer per step (8 ms of a 390 ms step at 2x512).
   */
  fillBernoulli(out: Float32Array, p: number, hit: number, miss: number): void {
    // uniform() < p ⇔ u / 2³² < p ⇔ u < p·2³²: the division by a power of two is exact.
    const threshold = p * 4294967296;
    let s0 = this.s[0] | 0, s1 = this.s[1] | 0, s2 = this.s[2] | 0, s3 = this.s[3] | 0;
    for (let i = 0; i < out.length; i++) {
      const x = Math.imul(s1, 5);
      const u = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = u < threshold ? hit : miss;
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * A generator for one training step's dropout and zoneout masks: a function of the run's seed
   * and the step alone, so a resumed run draws exactly the masks an uninterrupted one would.
   */
  static forStep(seed: number, step: number): Rng {
    // Mix the step into the seed with an odd multiplier (the golden ratio's), then splitmix.
    return new Rng(((seed >>> 0) ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0);
  }

  /** The state as a string, for checkpoints. */
  save(): string {
    return Array.from(this.s).join(',');
  }

  static restore(state: string): Rng {
    const parts = state.split(',').map((p) => Number(p));
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 0xffffffff)) {
      throw new Error(`invalid RNG state '${state}'`);
    }
    const rng = new Rng(0);
    rng.s.set(parts);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
