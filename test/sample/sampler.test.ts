import { drawFromLogits } from '../../src/sample/sampler';
import { Rng } from '../../src/engine/rng';

function histogram(logits: number[], opts: { temperature: number; topK: number; topP: number }, n = 20000): number[] {
  const rng = new Rng(3);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[drawFromLogits(logits, opts, rng)]++;
  return counts.map((c) => c / n);
}

describe('drawFromLogits', () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)];

  it('samples softmax(logits) at temperature 1', () => {
    const p = histogram(logits, { temperature: 1, topK: 0, topP: 1 });
    expect(p[0]).toBeCloseTo(0.5, 1);
    expect(p[1]).toBeCloseTo(0.3, 1);
    expect(p[3]).toBeCloseTo(0.05, 1);
  });

  it('sharpens at low temperature', () => {
    const p = histogram(logits, { temperature: 0.1, topK: 0, topP: 1 });
    expect(p[0]).toBeGreaterThan(0.99);
  });

  it('keeps only the k likeliest with top-k', () => {
    const p = histogram(logits, { temperature: 1, topK: 2, topP: 1 });
    expect(p[2] + p[3]).toBe(0);
    expect(p[0]).toBeCloseTo(0.5 / 0.8, 1);
  });

  it('keeps the nucleus reaching p with top-p', () => {
    const p = histogram(logits, { temperature: 1, topK: 0, topP: 0.7 });
    expect(p[2] + p[3]).toBe(0); // 0.5 + 0.3 reaches 0.7
    expect(p[1]).toBeGreaterThan(0.3);
  });

  it('is reproducible for a seed', () => {
    const a = new Rng(9), b = new Rng(9);
    const opts = { temperature: 0.8, topK: 0, topP: 1 };
    for (let i = 0; i < 50; i++) expect(drawFromLogits(logits, opts, a)).toBe(drawFromLogits(logits, opts, b));
  });

  it('draws the same with a reused scratch buffer as without, with and without top-k/top-p', () => {
    const scratch = new Float64Array(8).fill(123); // longer than V and dirty: only [0, V) is used
    for (const opts of [{ temperature: 0.7, topK: 0, topP: 1 }, { temperature: 1.3, topK: 3, topP: 0.9 }]) {
      const a = new Rng(4), b = new Rng(4);
      for (let i = 0; i < 200; i++) expect(drawFromLogits(logits, opts, a, scratch)).toBe(drawFromLogits(logits, opts, b));
    }
  });
});
