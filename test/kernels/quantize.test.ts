// quantizeRows, the int8 rule every backend shares: per-row absmax scales, round to nearest.

import { quantizeRows } from '../../src/kernels/backend';
import { Rng } from '../../src/engine/rng';

describe('quantizeRows', () => {
  it('maps each row onto [-127, 127] by its own max|w| / 127, within half a step', () => {
    const rng = new Rng(3);
    const rows = 5, cols = 37;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => (rng.uniform() * 2 - 1) * (1 + Math.floor(i / cols)));
    const { values, scales } = quantizeRows(data, rows, cols);
    for (let n = 0; n < rows; n++) {
      const row = data.subarray(n * cols, (n + 1) * cols);
      const max = Math.max(...Array.from(row, Math.abs));
      expect(scales[n]).toBe(Math.fround(max / 127));
      let extreme = 0;
      for (let k = 0; k < cols; k++) {
        const q = values[n * cols + k];
        expect(Math.abs(q)).toBeLessThanOrEqual(127);
        expect(Math.abs(row[k] - scales[n] * q)).toBeLessThanOrEqual(scales[n] / 2 * (1 + 1e-6));
        extreme = Math.max(extreme, Math.abs(q));
      }
      expect(extreme).toBe(127); // the largest weight uses the whole range
    }
  });

  it('rounds halves to even (as wasm f32x4.nearest), symmetrically, and gives a zero row scale 0', () => {
    const { values, scales } = quantizeRows([127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0, 0, 0, 0, 0, 0, 0], 2, 7);
    expect(Array.from(values)).toEqual([127, 0, 0, 2, -2, 2, -2, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(scales)).toEqual([1, 0]);
  });

  it('refuses a row that is not finite', () => {
    expect(() => quantizeRows([1, NaN], 1, 2)).toThrow(/row 0 .*not finite/);
    expect(() => quantizeRows([1, 2, Infinity, 0], 2, 2)).toThrow(/row 1/);
  });
});
