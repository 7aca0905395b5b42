// The validation split: tail or blocks, disjoint, covering the text, deterministic, the fraction asked;
// and the share of validation characters the training part lacks.

import {
  MAX_BLOCK_CHARS, VAL_SPLITS, blockChars, formatShare, splitIds, splitText, trainingRanges, unseenShare, unseenWarning, validationRanges,
} from '../../src/data/split';
import { encodeCorpus, splitCorpus } from '../../src/data/corpus';
import { Rng } from '../../src/engine/rng';

const LENGTHS = [0, 1, 7, 99, 100, 101, 1000, 4095, 40960, 409600, 409601, 1234567];
const FRACTIONS = [0, 0.05, 0.1, 0.15, 1 / 3, 0.5, 0.75, 0.9];

/** Positions claimed by both parts, and by neither, of a text of n. */
function overlapAndGaps(n: number, val: ReadonlyArray<readonly [number, number]>, train: ReadonlyArray<readonly [number, number]>): [number, number] {
  const claims = new Uint8Array(n);
  let empty = 0;
  for (const [start, end] of [...val, ...train]) {
    if (!(start < end)) empty++;
    for (let i = start; i < end; i++) claims[i]++;
  }
  let overlap = empty, gaps = 0;
  for (let i = 0; i < n; i++) {
    if (claims[i] > 1) overlap++;
    if (claims[i] === 0) gaps++;
  }
  return [overlap, gaps];
}

describe('validationRanges', () => {
  it('tail: the last floor(N·f) positions, as before the split had a choice', () => {
    for (const n of LENGTHS) {
      for (const f of FRACTIONS) {
        const count = Math.floor(n * f);
        expect(validationRanges(n, f, 'tail')).toEqual(count > 0 ? [[n - count, n]] : []);
      }
    }
  });

  it.each(VAL_SPLITS)('%s: train and validation are disjoint, in order, and cover the text', (split) => {
    for (const n of LENGTHS) {
      for (const f of FRACTIONS) {
        const val = validationRanges(n, f, split);
        const train = trainingRanges(n, val);
        expect(overlapAndGaps(n, val, train)).toEqual([0, 0]);
        for (const ranges of [val, train]) {
          for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][1]); // sorted, not touching
        }
      }
    }
  });

  it('blocks: holds out the fraction asked, to within one block, spread over the whole text', () => {
    for (const n of LENGTHS.filter((x) => x >= 1000)) {
      for (const f of FRACTIONS) {
        const size = blockChars(n);
        const held = validationRanges(n, f, 'blocks').reduce((s, [a, b]) => s + b - a, 0);
        expect(Math.abs(held - n * f)).toBeLessThanOrEqual(size);
        if (f > 0 && f <= 0.5) {
          // Held-out text in every tenth of the text: a tail that differs is sampled too.
          const val = validationRanges(n, f, 'blocks');
          for (let tenth = 0; tenth < 10; tenth++) {
            const lo = (tenth * n) / 10, hi = ((tenth + 1) * n) / 10;
            if (hi - lo < size / f) continue; // a tenth shorter than one group of blocks
            expect(val.some(([a, b]) => a < hi && b > lo)).toBe(true);
          }
        }
      }
    }
  });

  it('blocks: every 10th block of up to MAX_BLOCK_CHARS at f = 0.1, and the same ranges every time', () => {
    expect(blockChars(10_000_000)).toBe(MAX_BLOCK_CHARS);
    expect(blockChars(164_000)).toBe(1640);
    expect(blockChars(50)).toBe(1);
    const n = 1_000_000, size = blockChars(n);
    const val = validationRanges(n, 0.1, 'blocks');
    expect(val.length).toBe(Math.floor(Math.ceil(n / size) / 10));
    val.forEach(([a, b], i) => expect([a, b]).toEqual([(10 * i + 9) * size, Math.min(n, (10 * i + 10) * size)]));
    expect(validationRanges(n, 0.1, 'blocks')).toEqual(val);
  });
});

describe('splitIds and splitText', () => {
  const rng = new Rng(7);
  const text = Array.from({ length: 30011 }, () => String.fromCodePoint([0x61, 0x62, 0x3b1, 0x1f600][rng.nextUint32() % 4])).join('');
  const encoded = encodeCorpus('mixed', () => [Buffer.from(text, 'utf8')]);

  it.each(VAL_SPLITS)('%s: the ids of the train and val parts are the code points of splitText, and together the text', (split) => {
    const { train, val } = splitIds(encoded.ids, 0.1, split);
    const decode = (ids: ArrayLike<number>): string => Array.from(ids, (id) => encoded.vocab.chars[id]).join('');
    expect(decode(val)).toBe(splitText(text, 'val', 0.1, split));
    expect(decode(train)).toBe(splitText(text, 'train', 0.1, split));
    expect(train.length + val.length).toBe(encoded.characters);
    expect(val.length).toBe(validationRanges(encoded.characters, 0.1, split).reduce((s, [a, b]) => s + b - a, 0));
  });

  it('tail: views of the ids, as before; splitCorpus defaults to it', () => {
    const { train, val } = splitIds(encoded.ids, 0.1, 'tail');
    expect(train.buffer).toBe(encoded.ids.buffer);
    expect(val.buffer).toBe(encoded.ids.buffer);
    const corpus = splitCorpus(encoded, 0.1, 2);
    expect(Array.from(corpus.val)).toEqual(Array.from(val));
    expect(Array.from(splitCorpus(encoded, 0.1, 2, 'blocks').val)).toEqual(Array.from(splitIds(encoded.ids, 0.1, 'blocks').val));
  });

  it('refuses a text too short to train after the hold-out, with the counts', () => {
    expect(() => splitCorpus(encoded, 0.9, 10000, 'blocks')).toThrow(/has 30011 characters \(\d+ after holding out \d+ for validation\); training needs at least 10000/);
  });
});

describe('unseenShare', () => {
  it('counts the validation characters whose character is absent from training, with their ids', () => {
    const train = Uint16Array.from([0, 1, 2, 1, 0]);
    const val = Uint16Array.from([1, 3, 3, 4, 2, 3, 0, 5]);
    const u = unseenShare(train, val, 6);
    expect(u).toEqual({ unseen: 5, valChars: 8, share: 5 / 8, ids: [3, 4, 5] });
    expect(unseenShare(train, Uint16Array.from([0, 1]), 6).share).toBe(0);
    expect(unseenShare(train, new Uint16Array(0), 6)).toEqual({ unseen: 0, valChars: 0, share: 0, ids: [] });
  });

  it('finds the tail that switches script, which blocks then sample', () => {
    // 90% Latin, then a Greek tail: the tail split's validation is all unseen; blocks see both scripts.
    const text = 'the cat sat on the mat. '.repeat(1500) + 'αβγδε ζηθ '.repeat(400);
    const encoded = encodeCorpus('switch', () => [Buffer.from(text, 'utf8')]);
    const tail = splitIds(encoded.ids, 0.1, 'tail');
    const tailShare = unseenShare(tail.train, tail.val, encoded.vocab.size);
    expect(tailShare.share).toBeGreaterThan(0.5);
    const blocks = splitIds(encoded.ids, 0.1, 'blocks');
    expect(unseenShare(blocks.train, blocks.val, encoded.vocab.size).unseen).toBe(0);
    const line = unseenWarning(tailShare, encoded.vocab.chars, 'tail')!;
    expect(line).toMatch(/^\d+\.\d% of the validation characters \([\d,]+ of [\d,]+; \d+ distinct: "[^"]+"( "[^"]+")*( …)?\) never occur in the training part, so validation loss will read high: .*--val-split blocks/);
    expect(unseenWarning(unseenShare(blocks.train, blocks.val, encoded.vocab.size), encoded.vocab.chars, 'blocks')).toBeNull();
  });

  it('writes small shares with two significant digits', () => {
    expect(formatShare(0.712)).toBe('71.2%');
    expect(formatShare(0.000123)).toBe('0.012%');
    expect(formatShare(0)).toBe('0.0%');
  });
});
