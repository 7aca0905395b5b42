import { Batcher } from '../../src/data/batcher';

describe('Batcher', () => {
  const tokens = Int32Array.from({ length: 23 }, (_, i) => i);

  it('cuts B contiguous streams and walks them window by window, time-major', () => {
    const b = new Batcher(tokens, 2, 3); // S = 11 per stream, (11-1)/3 = 3 windows
    expect(b.streamLength).toBe(11);
    expect(b.windowsPerEpoch).toBe(3);
    const w0 = b.window(0);
    // row t·B + s: stream 0 starts at 0, stream 1 at 11
    expect(Array.from(w0.inputs)).toEqual([0, 11, 1, 12, 2, 13]);
    expect(Array.from(w0.targets)).toEqual([1, 12, 2, 13, 3, 14]);
    // The next window continues exactly where the previous one stopped.
    expect(Array.from(b.window(1).inputs)).toEqual([3, 14, 4, 15, 5, 16]);
    expect(b.remainderSteps).toBe(1);
    expect(Array.from(b.window(3, 1).targets)).toEqual([10, 21]);
  });

  it('fits the batch to a short text', () => {
    expect(Batcher.fitBatchSize(23, 32, 3)).toBe(5);
    expect(Batcher.fitBatchSize(3, 32, 3)).toBe(0);
    expect(() => new Batcher(tokens, 8, 3)).toThrow();
  });
});
