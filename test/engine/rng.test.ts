// The seeded generator: fillBernoulli draws exactly what a loop over uniform() would, so a
// dropout or zoneout mask keeps its bits (and a resumed run its masks) whichever path drew it.

import fc from 'fast-check';
import { Rng } from '../../src/engine/rng';

describe('Rng.fillBernoulli', () => {
  it('matches uniform() < p element for element, and leaves the same state', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 3000 }),
      fc.oneof(fc.constantFrom(0, 1, 0.5, 0.05, 1 / 3), fc.double({ min: 0, max: 1, noNaN: true })),
      (seed, n, p) => {
        const loop = new Rng(seed), fast = new Rng(seed);
        const expected = Float32Array.from({ length: n }, () => (loop.uniform() < p ? 2.5 : -1));
        const got = new Float32Array(n);
        fast.fillBernoulli(got, p, 2.5, -1);
        expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        expect(fast.save()).toBe(loop.save());
        expect(fast.nextUint32()).toBe(loop.nextUint32());
      },
    ), { numRuns: 200 });
  });

  it('draws about p of hits', () => {
    const out = new Float32Array(200000);
    new Rng(3).fillBernoulli(out, 0.05, 1, 0);
    const hits = out.reduce((a, x) => a + x, 0);
    expect(Math.abs(hits / out.length - 0.05)).toBeLessThan(0.003);
  });
});
